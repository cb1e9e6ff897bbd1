#!/bin/sh
# Install the Debian packages greenhorn needs to build, test and benchmark.
# Quiet when everything is there.  As root it runs apt-get itself; with
# password-less sudo it uses sudo; otherwise it prints the exact command.
set -eu

PKGS="build-essential pkg-config libpython3-dev python3-flask python3-django gunicorn python3-pytest
python3-requests check gcovr valgrind cppcheck clang clang-format libclang-rt-14-dev wrk curl
netcat-openbsd procps iproute2 patch systemd nginx-light"

# `deps.sh bench`: the optional peers of make bench, and Django for its Django rows, instead.
if [ "${1:-}" = bench ]; then
    PKGS="nginx-light uwsgi uwsgi-plugin-python3 python3-waitress gnuplot-nox"
fi

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
echo "greenhorn needs these Debian packages:$missing"
if [ "$(id -u)" = 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
else
    echo "Run this as root, then try again:"
    echo "  apt-get update && $cmd"
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo $cmd
