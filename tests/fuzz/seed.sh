#!/bin/sh
# seed.sh - build the seed corpus for build/fuzz_http.
#
# Stage 5, parse.  The seeds are Gunicorn's conformance requests
# (tests/conformance/gunicorn-requests), one file per request, so the fuzzer
# starts from real requests, valid and invalid.  Run from the repository root:
#
#   sh tests/fuzz/seed.sh [DIR]        # default DIR: build/fuzz-corpus
#   build/fuzz_http -dict=tests/fuzz/http.dict -max_total_time=60 build/fuzz-corpus
#
# libFuzzer adds the inputs it finds interesting to DIR, so a second run
# starts where the first one stopped.
set -eu

out=${1:-build/fuzz-corpus}
src=tests/conformance/gunicorn-requests
mkdir -p "$out"
for kind in valid invalid; do
    for f in "$src/$kind"/*.http; do
        cp "$f" "$out/${kind}_$(basename "$f")"
    done
done
echo "seed.sh: $(ls "$out" | wc -l) files in $out"
