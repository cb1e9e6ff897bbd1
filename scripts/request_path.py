#!/usr/bin/env python3
"""request_path.py - how many lines of the core a reader follows for one request.

Tools (scripts/).  Gunicorn counterpart: none.

Measures, from the code itself, the request path: the functions of the core
(src/*.c; src/extras/ plugs in through plugins.h and is skipped on a first
reading) that serving one request runs, and how many lines they are.  The
design document states that number, and this keeps it true as the code
changes.

How: greenhorn is built with gcov counters into build/path (as `make
coverage` builds, in a folder of its own) and started twice with one worker,
on a listening socket this script holds (-b fd://N):
  run A  boots, answers nothing, stops;
  run B  boots, answers one request, stops.
Everything both runs do (start-up, the app import, shutdown) cancels out; the
functions called more often in B than in A are the ones the request ran;
with them go the frames it passed through without a new call (the worker's
loop), shown with 0 calls: a line of theirs that calls one of those functions
ran more often in B.  The lines of a function are its span in gcov's JSON
(`gcov --json-format`), from its signature to its closing brace; the comments
above it are counted apart.

The socket holds each connection back until its first bytes are in
(TCP_DEFER_ACCEPT), so the whole request is there when the worker accepts,
the common case conn_recv expects; otherwise whether the worker also waited
for it (conn_wait) would depend on timing.

Only the worker's counters are read.  Before each stop the master is paused
(SIGSTOP), the worker is stopped with SIGTERM and leaves through exit(),
which writes its counters, and gcov reads them before the master is resumed
and stopped in turn.  The master does no per-request work (the heartbeat is
shared memory), but its loop wakes once a second, so its counters would say
how long a run lasted, not what a request does.  The worker's own loop wakes
once a second too; a wake-up in either run adds one call to loop functions
the request runs twice anyway, so it may move their calls column by one but
not the list or the lines (nor does a log line's "has the second changed?",
see path_of).

Scenarios: GET / of bench/apps/hello.py (the raw hello app of `make bench`),
and a POST with an 11-byte body that tests/integration/apps/echoapp.py reads,
for what the body path adds.

Usage: request_path.py   (from anywhere; `make request-path`).  Prints the
tables; exits 1 with a one-line reason when something fails.
"""
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = "build/path"
SERVER = os.path.join(BUILD, "greenhorn")
BOOT_SECONDS = 120  # Python starts slowly in an -O0 --coverage build on a busy machine

GET = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
POST = (b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 11\r\n\r\nhello world")
SCENARIOS = [  # (name, app folder, app, request)
    ("GET /, raw hello app", "bench/apps", "hello:app", GET),
    ("POST, 11-byte body read by the echo app", "tests/integration/apps", "echoapp:application", POST),
]


class Failed(Exception):
    """One line saying what went wrong."""


def command(argv, what):
    """Run argv in the repository; its output, or Failed with the last line it printed."""
    try:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    except OSError as e:
        raise Failed("%s: %s" % (what, e))
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["exit status %d" % done.returncode]
        raise Failed("%s: %s" % (what, lines[-1]))
    return done.stdout


def build():
    """The instrumented server, built or brought up to date by make."""
    command(["make", "-s", SERVER, "BUILD=" + BUILD, "BIN=" + SERVER, "OPT=-O0",
             "EXTRA_CFLAGS=--coverage", "EXTRA_LDFLAGS=--coverage"], "cannot build " + SERVER)


def core_sources():
    return sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "src", "*.c")))


def read_counts(sources):
    """{file: ({function: (calls, start, end)}, {line: count})} from the .gcda files on disk."""
    out = command(["gcov", "--json-format", "--stdout", "--object-directory", BUILD] + sources, "gcov")
    counts = {}
    for line in out.splitlines():  # one JSON document per source file
        for entry in json.loads(line)["files"] if line.strip() else []:
            if entry["file"] in sources:
                functions = {f["name"]: (f["execution_count"], f["start_line"], f["end_line"])
                             for f in entry["functions"]}
                lines = {ln["line_number"]: ln["count"] for ln in entry["lines"]}
                counts[entry["file"]] = (functions, lines)
    if not any(calls for functions, _ in counts.values() for calls, _, _ in functions.values()):
        raise Failed("gcov found no counters in %s (did the worker exit cleanly?)" % BUILD)
    return counts


def proc_stat(pid):
    """(state, parent pid) of a process, or None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return fields[0], int(fields[1])


def children(pid):
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = proc_stat(int(name))
            if stat and stat[1] == pid:
                found.append(int(name))
    return found


def idle(pid):
    """True while the worker waits in its loop's epoll_wait (never during boot or a request)."""
    try:
        with open("/proc/%d/wchan" % pid) as f:
            return "epoll" in f.read()
    except OSError:
        return False


def wait_for(what, test, server, log):
    deadline = time.monotonic() + BOOT_SECONDS
    while time.monotonic() < deadline:
        found = test()
        if found:
            return found
        if server.poll() is not None:
            raise Failed("greenhorn exited (%d) before %s; see %s" % (server.returncode, what, log))
        time.sleep(0.02)
    raise Failed("greenhorn: no %s after %d s; see %s" % (what, BOOT_SECONDS, log))


def ask(port, request):
    """Send one request and read the answer to its end (the worker closes); its status line."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=BOOT_SECONDS) as s:
            s.sendall(request)
            with s.makefile("rb") as answer:
                status = answer.readline()
                answer.read()
    except OSError as e:
        raise Failed("the request failed: %s" % e)
    return status.decode("latin-1").strip()


def run(label, app_dir, app, request, sources):
    """Boot one worker, answer `request` (None: nothing), stop; the worker's counts."""
    for stale in glob.glob(os.path.join(ROOT, BUILD, "**", "*.gcda"), recursive=True):
        os.remove(stale)
    log = os.path.join(BUILD, "%s.log" % label)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)  # see the top
    listener.listen(16)
    env = {k: v for k, v in os.environ.items() if k not in ("GUNICORN_CMD_ARGS", "ECHOAPP_LOG")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ in the app folders
    argv = [os.path.join(ROOT, SERVER), "-w", "1", "-b", "fd://%d" % listener.fileno(), app]
    with open(os.path.join(ROOT, log), "w") as out:
        server = subprocess.Popen(argv, cwd=os.path.join(ROOT, app_dir), env=env, stdin=subprocess.DEVNULL,
                                  stdout=out, stderr=out, pass_fds=[listener.fileno()])
    try:
        worker = wait_for("worker", lambda: (children(server.pid) or [None])[0], server, log)
        wait_for("booted worker", lambda: idle(worker), server, log)
        if request is not None:
            status = ask(listener.getsockname()[1], request)
            if not status.startswith("HTTP/1.1 200"):
                raise Failed("%s: the request was answered %r; see %s" % (label, status, log))
            wait_for("idle worker after the request", lambda: idle(worker), server, log)
        server.send_signal(signal.SIGSTOP)  # the master's counters stay out (see the top)
        os.kill(worker, signal.SIGTERM)
        wait_for("worker exit", lambda: (proc_stat(worker) or ("Z",))[0] == "Z", server, log)
        return read_counts(sources)
    finally:
        server.send_signal(signal.SIGTERM)
        server.send_signal(signal.SIGCONT)
        try:
            server.wait(timeout=BOOT_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        listener.close()


def comment_lines(lines, start):
    """The comment block that ends just above line `start` (1-based), in lines."""
    n = start - 1
    if n < 1 or not lines[n - 1].rstrip().endswith("*/"):
        return 0
    top = n
    while top > 1 and "/*" not in lines[top - 1]:
        top -= 1
    return n - top + 1


def path_of(base, one, texts):
    """{file: [(function, extra calls, start, end)]}: the functions called more often in
    `one`, and the frames it passed through: no extra call, but a line of theirs that
    calls one of those functions ran more often (a line that merely ran more, such as
    a log line's "has the second changed?", says how long the run took)."""
    path, grown = {}, []
    for name, (functions, lines) in one.items():
        base_functions, base_lines = base.get(name, ({}, {}))
        for function, (calls, start, end) in functions.items():
            more = calls - base_functions.get(function, (0,))[0]
            ran = [n for n, count in lines.items() if start <= n <= end and count > base_lines.get(n, 0)]
            if more > 0:
                path.setdefault(name, []).append((function, more, start, end))
            elif ran:
                grown.append((name, function, start, end, ran))
    if path:
        calls = re.compile(r"\b(%s)\s*\(" % "|".join(f[0] for ran in path.values() for f in ran))
        for name, function, start, end, ran in grown:
            if any(calls.search(texts[name][n - 1]) for n in ran):
                path[name].append((function, 0, start, end))
    return {name: sorted(ran, key=lambda f: f[2]) for name, ran in path.items()}


def report(title, path, texts, known=None):
    """Print one scenario's table; `known` marks the functions not in it (+)."""
    print("\n%s: the functions of the core it ran" % title)
    print("  %-22s %-32s %6s %12s %6s" % ("file", "function", "calls", "span", "lines"))
    total = comments = full = 0
    for name, lines in texts.items():
        if name not in path:
            continue
        spans = 0
        for function, calls, start, end in path[name]:
            mark = "+" if known is not None and function not in known.get(name, ()) else " "
            print("  %-22s %s%-31s %6d %5d..%-5d %6d" % (name, mark, function, calls, start, end,
                                                         end - start + 1))
            spans += end - start + 1
            comments += comment_lines(lines, start)
        print("  %-22s %-32s %6s %12s %6d of %d" % ("", "", "", "", spans, len(lines)))
        total += spans
        full += len(lines)
    functions = sum(len(ran) for ran in path.values())
    print("  total: %d functions, %d lines (%d with the comments above them), in %d files of %d lines"
          % (functions, total, total + comments, len(path), full))
    return total


def main():
    began = time.monotonic()
    build()
    sources = core_sources()
    texts = {}
    for name in sources:
        with open(os.path.join(ROOT, name)) as f:
            texts[name] = f.read().splitlines()
    paths = []
    for title, app_dir, app, request in SCENARIOS:
        label = app.split(":")[0]
        base = run(label + "-none", app_dir, app, None, sources)
        path = path_of(base, run(label + "-one", app_dir, app, request, sources), texts)
        if not path:
            raise Failed("%s: no function of the core ran more with the request than without" % title)
        paths.append((title, path))
    print("calls: how many more times than in the run without the request (0: a frame it passed")
    print("through); lines: the function's span, from its signature to its closing brace")
    first = {name: {f[0] for f in ran} for name, ran in paths[0][1].items()}
    totals = [report(title, path, texts, first if n else None) for n, (title, path) in enumerate(paths)]
    print("\nthe core: %d lines in %d files (src/*.c)" % (sum(map(len, texts.values())), len(texts)))
    print("the body path adds %+d lines (the functions marked +)" % (totals[1] - totals[0]))
    print("measured in %.0f s" % (time.monotonic() - began))


if __name__ == "__main__":
    try:
        main()
    except Failed as e:
        print("request_path: %s" % e, file=sys.stderr)
        sys.exit(1)
