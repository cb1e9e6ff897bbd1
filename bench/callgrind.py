"""callgrind.py - instructions per request of a greenhorn worker, under callgrind.

Stage: benchmarks (bench/).  Gunicorn counterpart: none.

Owns: for each of two request paths, the raw hello app (bench/apps/hello.py)
and Flask hello (examples/flask_hello, the route /), two runs of
`greenhorn -w 1` under `valgrind --tool=callgrind --trace-children=yes`: a
baseline that answers only the readiness request, and a measured run that
answers N more requests (CALLGRIND_REQUESTS, default 2000), each on its own
connection (Connection: close).  Each process writes its own profile
(callgrind.out.PID); the worker is the profile whose pid is not the
master's.  Instructions per request = (worker Ir of the measured run -
worker Ir of the baseline) / N, so interpreter start-up, the app import and
shutdown cancel out.  The top five functions come from the same
subtraction, function by function, by self Ir and by inclusive Ir.  Which
libpython the binary links (static or shared) is recorded with the counts:
the interpreter's share of them depends on it.  Writes
bench/results/callgrind.json.
Does not own: process handling (harness.py).

The wall-clock numbers of bench.py say how fast; this says how much work, and
it does not move when the machine is busy.
"""

import os
import re
import shutil
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import harness as h  # noqa: E402  (after the line above, on purpose)

TOTALS = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)
ANNOTATE_LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.+?)\s*$")
START_TIMEOUT = 300.0  # interpreter start under callgrind is slow
# The request paths measured: (what it is, the app's folder, the app).
PATHS = {
    "hello": ("the raw WSGI hello app, bench/apps/hello.py", h.APPS_DIR, "hello:app"),
    "flask": ("Flask hello, examples/flask_hello, route /", h.FLASK_DIR, "wsgi:app"),
}


def profile_totals(outdir, master_pid):
    """{"master": (Ir, path), "workers": [(Ir, path), ...]} from one run's profiles."""
    out = {"master": None, "workers": []}
    for name in sorted(os.listdir(outdir)):
        if not name.startswith("callgrind.out."):
            continue
        path = os.path.join(outdir, name)
        with open(path, errors="replace") as prof:
            found = TOTALS.search(prof.read())
        if not found:
            continue
        entry = (int(found.group(1)), path)
        if name == "callgrind.out.%d" % master_pid:
            out["master"] = entry
        else:
            out["workers"].append(entry)
    return out


def run_once(tmp, label, requests, chdir, module):
    """Start greenhorn under callgrind, send `requests` requests, stop it; its profiles.

    Raises BenchError when the server does not answer 200 or leaves no
    worker profile behind.
    """
    outdir = os.path.join(tmp, label)
    os.makedirs(outdir)
    port = h.free_port()
    argv = ["valgrind", "--tool=callgrind", "--trace-children=yes",
            "--callgrind-out-file=%s/callgrind.out.%%p" % outdir,
            h.greenhorn_path(), "-w", "1", "-b", "127.0.0.1:%d" % port, "--chdir", chdir,
            "-t", "300", module]
    began = time.monotonic()
    proc = h.spawn(argv, cwd=chdir, log_path=os.path.join(tmp, label + ".log"))
    try:
        h.wait_first_200(proc, port, began, timeout=START_TIMEOUT)
        for n in range(requests):
            status = h.http_status(port, timeout=60.0)
            if status != 200:
                raise h.BenchError("request %d of %d answered %s:\n%s" % (n + 1, requests, status, h.log_tail(proc)))
    finally:
        h.stop(proc, grace=START_TIMEOUT)  # a worker writes its profile as it exits
    totals = profile_totals(outdir, proc.pid)
    if not totals["workers"]:
        raise h.BenchError("%s run left no worker profile (did the worker exit cleanly?):\n%s"
                           % (label, h.log_tail(proc)))
    if len(totals["workers"]) > 1:
        h.say("note: %s run has %d worker profiles (a worker was restarted); using the largest"
              % (label, len(totals["workers"])))
    totals["worker"] = max(totals["workers"])
    return totals


def python_link(path):
    """How the binary at `path` has the interpreter: "static" or "shared", and whether it is PIE.

    A shared libpython is a NEEDED entry of the binary's dynamic section
    (readelf -d); PIE is the ELF type, ET_DYN (3) rather than ET_EXEC (2).
    """
    with open(path, "rb") as elf:
        head = elf.read(18)
    pie = len(head) == 18 and struct.unpack("<H", head[16:18])[0] == 3
    try:
        done = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, timeout=60)
        shared = "libpython" in done.stdout
    except (OSError, subprocess.TimeoutExpired):
        shared = None
    return {"libpython": {True: "shared", False: "static", None: "unknown"}[shared], "pie": pie}


def annotate(path, inclusive):
    """{function: Ir} for every function of a profile (callgrind_annotate, no threshold)."""
    argv = ["callgrind_annotate", "--threshold=100", "--auto=no",
            "--inclusive=%s" % ("yes" if inclusive else "no"), path]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise h.BenchError("callgrind_annotate failed: %s" % done.stderr.strip())
    # callgrind_annotate splits a function by the source file of its
    # instructions: code inlined from a header ("object.h:wsgi_handle") is
    # listed apart from the function's own file, without an object.  Self
    # costs split that way add up, so the parts are summed under the name
    # that carries the object ("src/wsgi.c:wsgi_handle [greenhorn]").
    # Inclusive costs of such parts overlap the function's own entry, so
    # there only the entries with an object count.  A function that calls
    # itself, even through others (the interpreter's eval loop runs Python
    # code that calls Python code), is listed once per depth:
    # "_PyEval_EvalFrameDefault", then "_PyEval_EvalFrameDefault'2" for the
    # deeper calls.  Their self costs add up too; the outermost entry's
    # inclusive cost already holds the deeper ones'.
    totals, shown = {}, {}
    for line in done.stdout.splitlines():
        match = ANNOTATE_LINE.match(line)
        if match and "PROGRAM TOTALS" not in match.group(2):
            name = short_name(match.group(2))
            deeper = re.search(r"'\d+( \[|$)", name)
            if inclusive and (" [" not in name or deeper):
                continue
            name = re.sub(r"'\d+( \[|$)", r"\1", name)
            function = re.sub(r" \[.*\]$", "", name).rsplit(":", 1)[-1]
            totals[function] = totals.get(function, 0) + int(match.group(1).replace(",", ""))
            if function not in shown or (" [" in name and " [" not in shown[function]):
                shown[function] = name
    return {shown[function]: ir for function, ir in totals.items()}


def short_name(entry):
    """"src/http.c:http_parse [greenhorn]" from callgrind's "FILE:FUNCTION [OBJECT]".

    Paths inside the repository become relative and objects keep only their
    file name, so the names read the same on every machine.
    """
    entry = entry.replace(h.REPO_ROOT + os.sep, "")
    match = re.match(r"^(.*) \[(.+)\]$", entry)
    if match:
        entry = "%s [%s]" % (match.group(1), os.path.basename(match.group(2)))
    return entry


def top_functions(base_path, run_path, requests, inclusive, per_request, count=5):
    """The `count` functions with the most Ir per request, baseline subtracted.

    By inclusive Ir, the chain from _start down to the worker's loop holds
    every request's instructions; those entries (99% or more of
    per_request) are left out so the list shows where the work goes.
    """
    base, run = annotate(base_path, inclusive), annotate(run_path, inclusive)
    delta = {name: (ir - base.get(name, 0)) / requests for name, ir in run.items()}
    if inclusive:
        delta = {name: ir for name, ir in delta.items() if ir < 0.99 * per_request}
    ranked = sorted(delta.items(), key=lambda item: item[1], reverse=True)[:count]
    return [{"function": name, "ir_per_request": round(ir, 1)} for name, ir in ranked]


def measure_path(tmp, name, requests):
    """Both runs of one request path; its numbers, printed as they come.

    Returns the dict callgrind.json keeps for the path.
    """
    what, chdir, module = PATHS[name]
    h.say("\n%s: %s (%s)" % (name, what, module))
    h.say("%s: baseline run (readiness request only) ..." % name)
    base = run_once(tmp, name + "-baseline", 0, chdir, module)
    h.say("%s: measured run (%d requests, Connection: close) ..." % (name, requests))
    run = run_once(tmp, name + "-measured", requests, chdir, module)
    worker_ir = (run["worker"][0] - base["worker"][0]) / requests
    master_ir = None
    if base["master"] and run["master"]:
        master_ir = (run["master"][0] - base["master"][0]) / requests
    h.say("worker: %d Ir measured, %d Ir baseline, %d requests" % (run["worker"][0], base["worker"][0], requests))
    h.say("instructions per request (worker): %.0f" % worker_ir)
    if master_ir is not None:
        h.say("instructions per request (master): %.0f  (the master should do no per-request work)" % master_ir)
    tops = {}
    for inclusive in (False, True):
        kind = "inclusive" if inclusive else "self"
        tops[kind] = top_functions(base["worker"][1], run["worker"][1], requests, inclusive, worker_ir)
        h.say("\ntop 5 functions by %s Ir per request%s:" % (
            kind, " (below the worker loop)" if inclusive else ""))
        for entry in tops[kind]:
            h.say("  %10.0f  %5.1f%%  %s" % (entry["ir_per_request"], 100 * entry["ir_per_request"] / worker_ir,
                                          entry["function"]))
    return {"app": what, "module": module, "worker_ir_per_request": round(worker_ir, 1),
            "master_ir_per_request": None if master_ir is None else round(master_ir, 1),
            "top_self": tops["self"], "top_inclusive": tops["inclusive"]}


def main():
    """`make bench-callgrind`; prints SKIP and returns when greenhorn is not built."""
    h.install_cleanup()
    reason = h.greenhorn_missing()
    if reason:
        h.say("SKIP callgrind: %s" % reason)
        return
    for tool in ("valgrind", "callgrind_annotate"):
        if not shutil.which(tool):
            raise h.BenchError("%s not installed (apt-get install valgrind)" % tool)
    requests = h.env_number("CALLGRIND_REQUESTS", 2000)
    tmp = h.make_tempdir("greenhorn-callgrind-")
    build = python_link(h.greenhorn_path())
    build["interpreter"] = h.greenhorn_interpreter()
    if build["interpreter"] == "python3":
        h.say("callgrind: python3 runs greenhorn.so (the binary, for GREENHORN_EMBED=1: %s libpython, %s)"
              % (build["libpython"], "PIE" if build["pie"] else "non-PIE"))
    else:
        h.say("callgrind: greenhorn with the %s libpython (%s)"
              % (build["libpython"], "PIE" if build["pie"] else "non-PIE"))
    paths = {name: measure_path(tmp, name, requests) for name in PATHS}
    h.say("\ninstructions per request: %s" % ", ".join(
        "%s %.0f" % (name, paths[name]["worker_ir_per_request"]) for name in PATHS))
    os.makedirs(h.RESULTS_DIR, exist_ok=True)
    h.write_json(os.path.join(h.RESULTS_DIR, "callgrind.json"), {
        "timestamp": time.strftime("%Y%m%d-%H%M%S"), "requests": requests, "build": build, "paths": paths})
    h.say("wrote bench/results/callgrind.json")


if __name__ == "__main__":
    h.run_main(main, "callgrind")
