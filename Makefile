# greenhorn - a pre-fork WSGI server in C.
#
# Read this file top to bottom: each target is one thing a student or a
# teacher wants to do.  `make help` lists them.
#
#   make            build ./greenhorn
#   make run        serve examples/flask_hello on 0.0.0.0:5000, (2 x cores) + 1 workers
#   make test       everything below, in order: the one command for CI
#   make unit       the Check unit tests, one binary per stage
#   make asan       unit tests and the server under AddressSanitizer + UBSan
#   make integration  the pytest suite: real sockets, side by side with Gunicorn
#   make tutorial   run every tutorial chapter's commands and check what they print
#   make memcheck   valgrind: unit tests, 1,000 sync and 400 gthread requests; helgrind on gthread
#   make coverage   gcovr line coverage of src/ from unit + integration tests
#   make fuzz       libFuzzer over the request parser (FUZZ_SECONDS, default 60)
#   make bench      wrk, greenhorn side by side with Gunicorn and friends
#   make bench-workers  the worker-count study: req/s, p99, worker memory, to 33 workers on 2 cores
#   make bench-threads  the study's threads axis: workers x threads for gthread workers
#   make bench-ab   greenhorn and Gunicorn sync loaded at the same time: the Python-heavy apps
#   make bench-slow  500 slow clients against 50 normal ones: who still gets answers?
#   make bench-callgrind  instructions per request of one worker, under callgrind
#   make request-path  the core functions one request runs, and their lines
#   make install    ./greenhorn and greenhorn(1) into PREFIX (/usr/local), under DESTDIR
#   make uninstall  remove them again (same PREFIX and DESTDIR)
#   make lint       the include rules, cppcheck and clang-format --dry-run
#   make deps       install missing Debian packages (apt-get): what make run needs

# Debian's own Python, never the first python3 on PATH (it may be a pyenv one).
PYTHON  := /usr/bin/python3
PY_CFLAGS := $(shell pkg-config --cflags python3-embed 2>/dev/null)

# How the interpreter is linked, for when greenhorn runs it itself: when
# there is no greenhorn.so (below) to hand over to python3 with, and in the
# sanitizer, valgrind and coverage builds.  Debian's /usr/bin/python3 is one static,
# non-PIE executable; the shared libpython3.11.so is position-independent
# code, and Python code runs 10-30% slower in a program linked with it.
# So greenhorn links the static libpython3.11.a (libpython3.11-dev ships
# it) the way python3 itself is linked: non-PIE, with the interpreter's
# symbols exported (LINKFORSHARED: -export-dynamic), so that extension
# modules (lib-dynload's _ssl, _ctypes, _sqlite3 ..., numpy, psycopg2)
# find them in the executable; plus the libraries of the modules built
# into the archive (MODLIBS: zlib, expat).  Where no static library exists
# (another distribution, another Python), it links the shared one and says
# so.  PY_LINK=shared asks for the shared one: the sanitizer and coverage
# builds use it, as they measure our code, not the interpreter's speed.
PY_LINK   ?= static
PY_VAR     = $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("$(1)") or "")')
PY_STATIC := $(wildcard $(call PY_VAR,LIBPL)/$(call PY_VAR,LIBRARY))
ifeq ($(PY_LINK)$(if $(PY_STATIC),,none),static)
PY_LIBS   := $(PY_STATIC) $(call PY_VAR,MODLIBS) $(call PY_VAR,LIBS) $(call PY_VAR,SYSLIBS)
PY_LDFLAGS := -no-pie $(call PY_VAR,LINKFORSHARED)
PY_LINKED := the static libpython ($(PY_STATIC)), as python3 is linked
else
PY_LIBS   := $(shell pkg-config --libs python3-embed 2>/dev/null)
PY_LDFLAGS :=
PY_LINKED := the shared libpython$(if $(PY_STATIC),, (no static libpython here: Python code runs 10-30% slower than under python3))
endif
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)
# The python executable that goes with the libpython we link: the workers'
# sys.executable, so an app can start Python subprocesses (multiprocessing).
PY_EXE := $(shell pkg-config --variable=exec_prefix python3-embed 2>/dev/null)/bin/python$(shell pkg-config --modversion python3-embed 2>/dev/null)

CC      ?= cc
OPT     ?= -O2
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wpointer-arith -Wcast-qual -Wvla
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -Isrc $(PY_CFLAGS) \
           -DGREENHORN_PYTHON='"$(PY_EXE)"' $(EXTRA_CFLAGS)
LDFLAGS := $(PY_LDFLAGS) $(EXTRA_LDFLAGS)
LDLIBS  := $(PY_LIBS) -lm

# Variant builds (asan, coverage) go to their own folder: BUILD=build/asan.
BUILD   ?= build
BIN     ?= greenhorn

# The core (src/*.c: the nine stages, conn, request, log, pyembed, main)
# and the optional features that plug into it (src/extras/, see plugins.h).
SRC      := $(wildcard src/*.c src/extras/*.c)
OBJ      := $(SRC:src/%.c=$(BUILD)/%.o)
LIB_OBJ  := $(filter-out $(BUILD)/main.o,$(OBJ))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

NPROC   := $(shell nproc 2>/dev/null || echo 1)
WORKERS := $(shell echo $$(( 2 * $(NPROC) + 1 )))

.PHONY: all man install uninstall test-deps run test unit asan integration tutorial memcheck coverage fuzz bench \
        bench-workers bench-threads bench-ab bench-slow bench-callgrind request-path lint format deps bench-deps clean help

# PY_HOST: build greenhorn.so too (below); yes where the python it needs is.
PY_HOST ?= $(if $(wildcard $(PY_EXE)),yes,no)
ifeq ($(PY_HOST),yes)
HOST_MODULE := $(BIN).so
endif

all: $(BIN)

$(BIN): $(OBJ) $(HOST_MODULE)
	@echo "linking $@ with $(PY_LINKED)"
	@echo "$(if $(HOST_MODULE),$@ hands over to $(PY_EXE) with $(HOST_MODULE): Python at python3's speed,no $@.so (PY_HOST=no): the interpreter linked in runs Python)"
	$(CC) $(LDFLAGS) -o $@ $(OBJ) $(LDLIBS)

$(BUILD)/%.o: src/%.c $(wildcard src/*.h src/extras/*.h) | $(BUILD)/extras
	$(CC) $(CFLAGS) -MMD -c -o $@ $<

$(BUILD) $(BUILD)/tests $(BUILD)/extras $(BUILD)/pic/extras:
	mkdir -p $@

# greenhorn.so: the same server as a CPython extension module, which the
# greenhorn binary hands over to once its settings are read, by exec'ing
# python3 (src/extras/pyhost.c says why: Debian's python3 is built with
# LTO and PGO, the libpython it ships for embedding is not, and Python code
# runs about 10% faster under python3).  Position-independent objects of
# their own; no libpython (python3 has the interpreter's symbols), and every
# symbol hidden but PyInit__greenhorn, so that python3's main and ours
# cannot meet.  PY_HOST=no builds none: the sanitizer, valgrind and
# coverage builds measure the embedded form, which needs no python3.
PIC_OBJ := $(SRC:src/%.c=$(BUILD)/pic/%.o)

$(BIN).so: $(PIC_OBJ)
	$(CC) -shared -Wl,-Bsymbolic $(EXTRA_LDFLAGS) -o $@ $^ -lm

$(BUILD)/pic/%.o: src/%.c $(wildcard src/*.h src/extras/*.h) | $(BUILD)/pic/extras
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -MMD -c -o $@ $<

# One test binary per stage: tests/unit/test_http.c -> build/tests/test_http.
$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ) tests/unit/unit.h | $(BUILD)/tests
	$(CC) $(CFLAGS) -Isrc/extras $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(CHECK_LIBS) $(LDLIBS)

# ---- greenhorn(1), and installing ----------------------------------------

# The manual page: its options come from the settings table, as --help's
# do (man/man_page.c prints them through config_print_man), so the two
# cannot drift; its prose is man/greenhorn.1.in.
man: $(BUILD)/greenhorn.1

$(BUILD)/man_page: man/man_page.c $(LIB_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

$(BUILD)/greenhorn.1: man/greenhorn.1.in $(BUILD)/man_page
	$(BUILD)/man_page $< > $@.tmp && mv $@.tmp $@

# The GNU conventions: PREFIX (/usr/local; a virtualenv's folder puts the
# binary in its bin/, beside its python, and then greenhorn uses that
# virtualenv without activation), DESTDIR for staging a package.  Copies
# what is built; it builds only what is missing or out of date.
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  := $(PREFIX)/bin
LIBDIR  := $(PREFIX)/lib/greenhorn
MAN1DIR := $(PREFIX)/share/man/man1

# greenhorn.so goes to lib/greenhorn/, where bin/greenhorn looks for it.
install: $(BIN) $(BUILD)/greenhorn.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MAN1DIR)
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/greenhorn
	$(if $(HOST_MODULE),install -d $(DESTDIR)$(LIBDIR))
	$(if $(HOST_MODULE),install -m 644 $(HOST_MODULE) $(DESTDIR)$(LIBDIR)/greenhorn.so)
	install -m 644 $(BUILD)/greenhorn.1 $(DESTDIR)$(MAN1DIR)/greenhorn.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/greenhorn $(DESTDIR)$(LIBDIR)/greenhorn.so $(DESTDIR)$(MAN1DIR)/greenhorn.1
	-rmdir $(DESTDIR)$(LIBDIR) 2>/dev/null

# ---- the two commands of the README -------------------------------------

# make run needs only a compiler, libpython and Flask (deps.sh's run level);
# make test installs the test tools too (its test level).
run: deps all
	cd examples/flask_hello && exec ../../greenhorn -w $(WORKERS) -b 0.0.0.0:5000 wsgi:app

test: test-deps
	$(MAKE) lint
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) asan
	$(MAKE) integration
	$(MAKE) memcheck
	$(MAKE) coverage
	$(MAKE) fuzz FUZZ_SECONDS=60

# ---- tests --------------------------------------------------------------

# CK_FORK=no keeps each test in one process, so valgrind and ASan see it all.
unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; CK_VERBOSITY=normal $$t; done

# AddressSanitizer + UBSan: the unit tests, then build/asan/greenhorn itself
# serving the integration tests of the request path (ASAN_TESTS), with Python
# on plain malloc so that ASan sees its objects too.
# A report goes to a file in build/asan/reports and fails the test it came
# from (tests/integration/conftest.py).  Leaks are memcheck's job: Python
# leaves memory behind at exit by design.
ASAN_VARS := BUILD=build/asan BIN=build/asan/greenhorn OPT=-O1 PY_LINK=shared PY_HOST=no \
  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
  EXTRA_LDFLAGS="-fsanitize=address,undefined"
ASAN_REPORTS := $(CURDIR)/build/asan/reports
ASAN_TESTS := $(addprefix tests/integration/,test_conformance_socket.py test_strict.py \
  test_side_by_side.py test_hooks.py test_max_requests.py test_master.py \
  test_asan_regressions.py test_gthread.py test_gthread_side_by_side.py test_statsd.py) tests/integration/test_cli.py::test_access_log_with_every_atom

asan:
	PYTHONMALLOC=malloc LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan-python.supp:print_suppressions=0 \
	$(MAKE) unit $(ASAN_VARS)
	$(MAKE) build/asan/greenhorn $(ASAN_VARS)
	rm -rf $(ASAN_REPORTS) && mkdir -p $(ASAN_REPORTS)
	GREENHORN=$(CURDIR)/build/asan/greenhorn PYTHONMALLOC=malloc \
	ASAN_OPTIONS=log_path=$(ASAN_REPORTS)/asan:detect_leaks=0:halt_on_error=1 \
	UBSAN_OPTIONS=log_path=$(ASAN_REPORTS)/ubsan:print_stacktrace=1:halt_on_error=1 \
	$(PYTHON) -m pytest -q -p no:cacheprovider $(ASAN_TESTS)

integration: all
	GREENHORN=$(CURDIR)/greenhorn $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# The tutorial's chapters are part of the integration suite; this runs them
# alone (each in a copy of the tree, so a chapter's Break-it diff is safe).
tutorial: all
	GREENHORN=$(CURDIR)/greenhorn $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration/test_tutorial.py

# valgrind runs a build linked with the shared libpython (build/vg): our code
# is the same, and tests/valgrind-python.supp can then tell CPython's own
# frames (inside libpython3.11.so) from ours, which a static link would mix
# into one executable.
VG_VARS := BUILD=build/vg BIN=build/vg/greenhorn PY_LINK=shared PY_HOST=no
memcheck:
	$(MAKE) build/vg/greenhorn $(VG_VARS)
	$(MAKE) $(UNIT_BIN:$(BUILD)/%=build/vg/%) $(VG_VARS)
	GREENHORN=$(CURDIR)/build/vg/greenhorn $(PYTHON) tests/memcheck.py $(UNIT_BIN:$(BUILD)/%=build/vg/%)

# The integration files coverage does not run again: make integration has
# run them on the real binary, and they spend their minutes on processes
# around greenhorn (the tutorial's shell sessions, nginx, supervisord,
# runit, logrotate, make install) or on a 20 s reload schedule, on paths
# the other files cover; without them make test stays within 20 minutes.
COVERAGE_SKIP := test_tutorial.py test_deploy.py test_install.py test_drain.py

coverage:
	rm -rf build/cov
	$(MAKE) build/cov/greenhorn BUILD=build/cov BIN=build/cov/greenhorn OPT=-O0 PY_LINK=shared PY_HOST=no \
	  EXTRA_CFLAGS="--coverage" EXTRA_LDFLAGS="--coverage"
	$(MAKE) unit BUILD=build/cov BIN=build/cov/greenhorn OPT=-O0 PY_LINK=shared PY_HOST=no \
	  EXTRA_CFLAGS="--coverage" EXTRA_LDFLAGS="--coverage"
	GREENHORN=$(CURDIR)/build/cov/greenhorn $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration \
	  $(addprefix --ignore=tests/integration/,$(COVERAGE_SKIP))
	gcovr --root . --filter src/ --object-directory build/cov --fail-under-line 80 --print-summary build/cov

# ---- tools --------------------------------------------------------------

# The lines a reader follows for one request: gcov, one request minus none.
request-path:
	$(PYTHON) scripts/request_path.py

# ---- benchmarks (bench/README.md says what each number means) -----------

# wrk, greenhorn side by side with Gunicorn (sync, gthread), uWSGI, waitress
# and nginx, on raw WSGI, Flask, Jinja2, Django and CPU-bound apps, plus
# Granian's method; about NN minutes (BENCH_SECONDS=5 per run, BENCH_ROUNDS=3).
# BENCH_ARGS=--quick: one round of 2 s per row, for use while developing;
# BENCH_ARGS="--only cpu,jinja": just those apps; BENCH_ARGS="--sets gthread":
# just the gthread rows (bench/bench.py --help).
bench: bench-deps all
	$(PYTHON) bench/bench.py$(if $(BENCH_ARGS), $(BENCH_ARGS))

# A CPU-bound, an I/O-bound and a mixed app, from 1 worker to where every
# curve is flat (on 2 cores: 7, 25 and 33 workers), req/s, p99 and
# memory (RSS, private, PSS), a CSV and a PNG per app in
# bench/results/ (BENCH_WORKERS_SECONDS=2 per point, best of
# BENCH_WORKERS_PASSES=2; about 7 minutes).
bench-workers: bench-deps all
	$(PYTHON) bench/workers.py

# The threads axis of the study: the I/O-bound and mixed apps served by
# gthread workers, workers x threads (1, 2, 4, 8 each), greenhorn -k gthread
# (skipped with the reason while ./greenhorn refuses it) and Gunicorn
# gthread; a CSV and a PNG per app in bench/results/ (threads-*.csv, .png).
bench-threads: bench-deps all
	$(PYTHON) bench/workers.py --threads

# greenhorn and Gunicorn sync at the same time, 1 worker each, each with its
# own wrk -t1 -c4 (Connection: close): the ratio of their req/s is the
# inverse ratio of their CPU per request, however fast the machine is at
# the moment (bench/README.md, "Both servers loaded at once").
# BENCH_AB_APPS=cpu,jinja,django,flask,hello, BENCH_AB_SECONDS=10,
# BENCH_AB_PASSES=3; bench/results/ab-latest.json.  About 3 minutes.
bench-ab: bench-deps all
	$(PYTHON) bench/ab.py

# 500 connections sending a request head one byte every 2 s, while 50
# normal keep-alive clients run GET / for 20 s, against greenhorn's sync
# worker, Gunicorn gthread, greenhorn gthread and nginx (the reference), one
# after another: success rate, req/s, p50/p99; bench/results/slow-clients.json.
# SLOW_ARGS="--slow 100 --seconds 5" for a shorter run (bench/slow_clients.py --help).
bench-slow: bench-deps all
	$(PYTHON) bench/slow_clients.py$(if $(SLOW_ARGS), $(SLOW_ARGS))

# One worker under valgrind --tool=callgrind: instructions per request
# (CALLGRIND_REQUESTS=2000) and the five functions that cost the most, for
# the raw hello app and for Flask hello.
bench-callgrind: all
	$(PYTHON) bench/callgrind.py

# libFuzzer over the parser, the chunk decoder and the PROXY header (a pure
# parser too, though an extra), ASan + UBSan, seeded
# from the conformance corpus.  Crashes land in build/fuzz-artifacts/.
FUZZ_SECONDS ?= 60
HTTP_SRC := $(wildcard src/http*.c) src/extras/proxy_protocol.c

fuzz: | $(BUILD)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -Isrc -Isrc/extras tests/fuzz/fuzz_http.c $(HTTP_SRC) -o $(BUILD)/fuzz_http
	sh tests/fuzz/seed.sh $(BUILD)/fuzz-corpus
	mkdir -p $(BUILD)/fuzz-artifacts
	@echo "fuzzing for $(FUZZ_SECONDS) s; progress in $(BUILD)/fuzz.log"
	@$(BUILD)/fuzz_http -dict=tests/fuzz/http.dict -max_total_time=$(FUZZ_SECONDS) \
	  -artifact_prefix=$(BUILD)/fuzz-artifacts/ -print_final_stats=1 $(BUILD)/fuzz-corpus \
	  > $(BUILD)/fuzz.log 2>&1; rc=$$?; grep -E '^(#[0-9]+.*DONE|stat::|==[0-9]+==|SUMMARY|artifact)' \
	  $(BUILD)/fuzz.log; exit $$rc

# The layout rules too: the core never includes an extra, and no include cycle.
lint:
	$(PYTHON) scripts/check_layout.py src
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --std=c11 --inline-suppr -D_GNU_SOURCE --suppress=missingIncludeSystem \
	  --library=python src
	clang-format --dry-run --Werror src/*.c src/*.h src/extras/*.c src/extras/*.h tests/unit/*.c tests/unit/*.h tests/fuzz/*.c man/*.c

format:
	clang-format -i src/*.c src/*.h src/extras/*.c src/extras/*.h tests/unit/*.c tests/unit/*.h tests/fuzz/*.c man/*.c

deps:
	@sh scripts/deps.sh run

test-deps:
	@sh scripts/deps.sh test

# The peers make bench compares with, and gnuplot for the study's charts.
bench-deps: test-deps
	@sh scripts/deps.sh bench

clean:
	rm -rf build greenhorn greenhorn.so

help:
	@sed -n '3,/make deps/p' Makefile

-include $(OBJ:.o=.d) $(PIC_OBJ:.o=.d)
