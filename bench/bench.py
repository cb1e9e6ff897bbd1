"""bench.py - `make bench`: greenhorn side by side with Gunicorn and its peers.

Stage: benchmarks (bench/).  Gunicorn counterpart: none (Gunicorn ships no
benchmark); the Gunicorn rows run the real gunicorn 20.1 as the baseline.

Owns: the apps and the servers and how each is started, the three row sets
(the main rows: 2 workers, wrk -c50; the gthread rows: 2 workers x 4
threads, 50 keep-alive connections, greenhorn's gthread worker against
Gunicorn's and nginx, and against greenhorn's sync worker on an app that
sleeps; the granian rows: Granian's published method, 1 worker, 64
keep-alive connections), the round-robin wrk runs (every
row gets one run per round, rounds alternate the rows, the median of the
rounds is reported), what limited each row (wrk, the workers, the cores),
the RSS, start-to-first-200 and app-call measurements, the tables,
greenhorn's targets (PASS/FAIL, informational), and the JSON/CSV in
bench/results/.  Does not own: process handling, wrk and /proc reading
(harness.py), the worker-count study (workers.py, whose CPU calibration
the cpu app borrows), callgrind (callgrind.py).

Settings: BENCH_SECONDS (per run, default 5), BENCH_ROUNDS (default 3);
--quick: one round of 2 s per row, results to bench/results/quick.json only;
--only APP[,APP]: just those apps' rows (also to quick.json);
--sets SET[,SET]: just those row sets (main, gthread, granian; also to
quick.json; start-up and the apps' own call are measured with the main set).
Exit status: 0 when the runs happened (targets never fail the command),
1 when the bench itself could not run (no wrk, a server broke mid-run).
"""

import argparse
import collections
import csv
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import harness as h  # noqa: E402  (after the line above, on purpose)
import workers as study  # noqa: E402  (the study's calibration of the cpu app)

WARMUP_SECONDS = 1
STARTUP_REPEATS = 5
MODES = ("keep-alive", "close")
BASELINE = "gunicorn-sync"
# A row is marked starved when a new client arriving during the run had to
# wait longer than this (harness.NewClientProbe): the server was answering
# some connections and leaving the others queued, so wrk's latencies only
# describe the lucky ones.  Healthy servers answer it within tens of ms.
STARVED_MS = 1000.0
# A resource counts as the limit of a row once it was this busy (see limits()).
BUSY_SHARE = 0.9
# Other programs disturbed a row once they took this many cores over its run.
OTHERS_CORES = 0.25
QUICK_SECONDS, QUICK_ROUNDS = 2, 1


# ---- the apps and the row sets ------------------------------------------------

App = collections.namedtuple("App", "dir module path post_bytes what")
APPS = {
    "hello": App(h.APPS_DIR, "hello:app", "/", None, "raw WSGI, 13 bytes (apps/hello.py)"),
    "flask": App(h.FLASK_DIR, "wsgi:app", "/", None, "Flask hello (examples/flask_hello)"),
    "cpu": App(h.APPS_DIR, "work:cpu", "/", None, "~2 ms of pure Python (apps/work.py, the study's cpu)"),
    "jinja": App(h.APPS_DIR, "flask_table:app", "/", None, "Flask + Jinja2, a 100-row table (apps/flask_table.py)"),
    "json": App(h.APPS_DIR, "flask_table:app", "/json", None, "the same Flask app's JSON route, 100 rows"),
    "django": App(h.APPS_DIR, "django_site.wsgi:application", "/", None,
                  "Django 3.2, one view, the same table (apps/django_site)"),
    "io50": App(h.APPS_DIR, "work:io50", "/", None, "time.sleep(0.05) per request, no CPU (apps/work.py)"),
    "get10k": App(h.APPS_DIR, "granian_method:app", "/b10k", None, "GET, 10 KiB answer (apps/granian_method.py)"),
    "echo10k": App(h.APPS_DIR, "granian_method:app", "/echoi", 10 * 1024,
                   "POST 10 KiB, echoed in 4 KiB pieces (apps/granian_method.py)"),
}

# apps: {app: the modes its rows run in}.  greenhorn and Gunicorn sync answer
# every request with Connection: close whatever the client asks (a sync
# worker holding a connection serves nobody else), so for the apps that only
# they serve one mode says it all.
# baseline: the server every row of the set is compared with (the "vs" column).
RowSet = collections.namedtuple("RowSet", "name workers connections apps what baseline")
ONE = ("close",)
KEEP = ("keep-alive",)
GTHREAD = "gthread"  # the row set of the threaded workers
THREADS = 4  # threads per worker in the gthread rows (and Gunicorn gthread's main rows)
ROW_SETS = (
    RowSet("main", 2, 50, {"hello": MODES, "flask": MODES, "cpu": ONE, "jinja": ONE, "json": ONE, "django": ONE},
           "2 workers each, wrk -t1 -c50", BASELINE),
    RowSet(GTHREAD, 2, 50, {"hello": KEEP, "flask": KEEP, "io50": KEEP},
           "2 workers x %d threads (greenhorn sync: 2 workers; nginx: 2 processes), wrk -t1 -c50, keep-alive"
           % THREADS, "gunicorn-gthread"),
    RowSet("granian", 1, 64, {"get10k": KEEP, "echo10k": KEEP},
           "Granian's method: 1 worker process, 64 keep-alive connections (wrk -t1 -c64)", BASELINE),
)
ROW_SET = {s.name: s for s in ROW_SETS}
# The apps whose start-up time and own call cost are measured.
STARTUP_APPS = ("hello", "flask")
CALL_APPS = ("flask", "cpu", "jinja", "json", "django")
CALL_REPEATS = 3  # each side of an app's call is measured this many times, alternating


# ---- the servers ---------------------------------------------------------------


def _greenhorn_argv(port, app, rowset, _tmp):
    return [h.greenhorn_path(), "-w", str(rowset.workers), "-b", "127.0.0.1:%d" % port,
            "--chdir", APPS[app].dir, APPS[app].module]


def _greenhorn_gthread_argv(port, app, rowset, tmp):
    return _greenhorn_argv(port, app, rowset, tmp) + list(h.GTHREAD_ARGS) + ["--threads", str(THREADS)]


def _gunicorn_argv(port, app, rowset, _tmp):
    return [h.PYTHON, "-m", "gunicorn", "-w", str(rowset.workers), "-b", "127.0.0.1:%d" % port,
            "--chdir", APPS[app].dir, APPS[app].module]


def _gthread_argv(port, app, rowset, tmp):
    # Granian's table runs `gunicorn -k gthread` with its default of 1 thread.
    threads = 1 if rowset.name == "granian" else THREADS
    return _gunicorn_argv(port, app, rowset, tmp) + ["-k", "gthread", "--threads", str(threads)]


def _uwsgi_argv(port, app, rowset, _tmp):
    # --die-on-term: uWSGI 2.0 reloads on TERM unless told otherwise.  The
    # granian rows use Granian's own uWSGI command line: an HTTP router
    # process (--http) in front of the workers.
    if rowset.name == "granian":
        front = ["--plugin", "http", "--http", "127.0.0.1:%d" % port, "--enable-threads", "--single-interpreter",
                 "--lazy-apps"]
    else:
        front = ["--http11-socket", "127.0.0.1:%d" % port]
    return ["uwsgi", "--plugin", "python3"] + front + [
        "--master", "--processes", str(rowset.workers), "--chdir", APPS[app].dir, "--module", APPS[app].module,
        "--need-app", "--disable-logging", "--die-on-term"]


def _waitress_argv(port, app, _rowset, _tmp):
    # waitress is one process with a thread pool; it has no worker processes.
    return [h.PYTHON, "-m", "waitress", "--listen=127.0.0.1:%d" % port, "--threads=4", APPS[app].module]


def _nginx_argv(port, _app, _rowset, tmp):
    return h.nginx_argv(port, tmp)


def _python_has(module):
    done = subprocess.run([h.PYTHON, "-c", "import " + module], capture_output=True)
    return done.returncode == 0


def _why_missing(name):
    """None when the server can run here; else the reason it is skipped."""
    if name == "greenhorn":
        return h.greenhorn_missing()
    if name == "greenhorn-gthread":
        return h.gthread_refused(THREADS)
    if name.startswith("gunicorn"):
        return None if _python_has("gunicorn") else "gunicorn not importable by %s" % h.PYTHON
    if name == "uwsgi":
        if not shutil.which("uwsgi"):
            return "uwsgi not installed (apt-get install uwsgi uwsgi-plugin-python3)"
        if not os.path.exists("/usr/lib/uwsgi/plugins/python3_plugin.so"):
            return "uwsgi-plugin-python3 not installed"
        return None
    if name == "waitress":
        return None if _python_has("waitress") else "waitress not installed (apt-get install python3-waitress)"
    if name == "nginx":
        return None if shutil.which("nginx") else "nginx not installed (apt-get install nginx-light)"
    return "unknown server"


def _why_app_missing(app):
    """None when the app's framework imports here; else why its rows are skipped."""
    needs = {"flask": "flask", "jinja": "flask", "json": "flask", "django": "django"}.get(app)
    if needs and not _python_has(needs):
        return "%s not importable by %s (make bench-deps)" % (needs, h.PYTHON)
    return None


PY_APPS = ("hello", "flask", "cpu", "jinja", "json", "django")
Server = collections.namedtuple("Server", "name kind argv_of serves")
# serves: {row set: the apps this server runs in it}
SERVERS = [
    Server("greenhorn", "sync workers", _greenhorn_argv,
           {"main": PY_APPS, GTHREAD: ("io50",), "granian": ("get10k", "echo10k")}),
    Server("greenhorn-gthread", "workers x 4 threads, -k gthread", _greenhorn_gthread_argv,
           {GTHREAD: ("hello", "flask", "io50")}),
    Server("gunicorn-sync", "sync workers", _gunicorn_argv, {"main": PY_APPS, "granian": ("get10k", "echo10k")}),
    Server("gunicorn-gthread", "workers x 4 threads (granian rows: x 1, Granian's)", _gthread_argv,
           {"main": ("hello", "flask"), GTHREAD: ("hello", "flask", "io50"), "granian": ("get10k", "echo10k")}),
    Server("uwsgi", "processes, --http11-socket (granian rows: --http, Granian's)", _uwsgi_argv,
           {"main": ("hello", "flask"), "granian": ("get10k", "echo10k")}),
    Server("waitress", "1 process x 4 threads", _waitress_argv, {"main": ("hello", "flask")}),
    Server("nginx", "return 200, 2 workers", _nginx_argv, {"main": ("hello",), GTHREAD: ("hello",)}),
]
SERVER_ORDER = {s.name: n for n, s in enumerate(SERVERS)}


# ---- one instance per server, app and row set -------------------------------------


class Instance:
    """One running server serving one app on its own port."""

    def __init__(self, server, app, rowset):
        self.server = server
        self.app = app
        self.rowset = rowset
        self.port = None
        self.proc = None
        self.started = None
        self.kept_open = False  # answered `Connection: close` but kept the connection


def start(inst, tmp, env):
    """Spawn an instance on a fresh port; its Popen (not yet known to answer)."""
    inst.port = h.free_port()
    argv = inst.server.argv_of(inst.port, inst.app, inst.rowset, tmp)
    log = os.path.join(tmp, "%s-%s-%s-%d.log" % (inst.rowset.name, inst.server.name, inst.app, inst.port))
    inst.started = time.monotonic()
    inst.proc = h.spawn(argv, cwd=APPS[inst.app].dir, log_path=log, env_extra=env)
    return inst.proc


def start_all(rowset, servers, apps, tmp, env):
    """Start every server of the set with every app it serves there; the ones that answered."""
    pending = []
    for server in servers:
        for app in server.serves.get(rowset.name, ()):
            if app in apps:
                inst = Instance(server, app, rowset)
                start(inst, tmp, env)
                pending.append(inst)
    ready = []
    for inst in pending:
        path = APPS[inst.app].path
        try:
            h.wait_first_200(inst.proc, inst.port, inst.started, path=path)
        except h.BenchError as err:
            h.say("skip %s %s: %s" % (inst.server.name, inst.app, err))
            h.stop(inst.proc)
            continue
        if h.closes_after_answer(inst.port, path=path) is False:
            inst.kept_open = True
            h.say("note %s %s: answered `Connection: close` but kept the connection open, so its"
                  " close rows measure keep-alive (marked close*)" % (inst.server.name, inst.app))
        ready.append(inst)
    return ready


# ---- measuring ------------------------------------------------------------------


def measured_run(inst, mode, seconds, probe=True, threads=1):
    """One wrk run of a row, with the server's CPU over it: the wrk result, extended.

    Adds server_cpu_s (master and workers, from /proc), server_us_per_req,
    server_cpu_share (cores the server used over wrk's run) and
    other_cpu_share (cores the rest of the machine used meanwhile).
    """
    app = APPS[inst.app]
    machine_before = h.machine_cpu_seconds()
    before = h.server_cpu_seconds(inst.proc)
    res = h.run_wrk(inst.port, seconds, inst.rowset.connections, close=(mode == "close"), path=app.path,
                    probe=probe, threads=threads, post_bytes=app.post_bytes)
    used = h.server_cpu_seconds(inst.proc) - before
    machine_used = h.machine_cpu_seconds() - machine_before
    if inst.proc.poll() is not None:
        raise h.BenchError("%s %s died during the run:\n%s" % (inst.server.name, inst.app, h.log_tail(inst.proc)))
    h.drain(inst.proc, inst.port, path=app.path)
    res["wrk_threads"] = threads
    res["server_cpu_s"] = used
    res["server_us_per_req"] = used / max(1, res["requests"]) * 1e6
    res["server_cpu_share"] = used / max(1e-3, res["wall_s"])
    res["other_cpu_share"] = max(0.0, machine_used - used - res["wrk_cpu_s"]) / max(1e-3, res["wall_s"])
    return res


def run_rounds(instances, seconds, rounds):
    """Warm each instance up, then run every (instance, mode) once per round.

    Rounds rotate the order so no row is always first or always last.
    Returns {(set, server, app, mode): [wrk result, ...]}.
    """
    for inst in instances:
        h.say("warm-up %-7s %-17s %-7s (%d s)" % (inst.rowset.name, inst.server.name, inst.app, WARMUP_SECONDS))
        app = APPS[inst.app]
        h.run_wrk(inst.port, WARMUP_SECONDS, inst.rowset.connections, close=False, path=app.path,
                  post_bytes=app.post_bytes)
        h.drain(inst.proc, inst.port, path=app.path)
    rows = [(inst, mode) for inst in instances for mode in inst.rowset.apps[inst.app]]
    samples = {(i.rowset.name, i.server.name, i.app, m): [] for i, m in rows}
    for rnd in range(rounds):
        shift = (rnd * len(rows)) // rounds
        order = rows[shift:] + rows[:shift]
        for n, (inst, mode) in enumerate(order, 1):
            res = measured_run(inst, mode, seconds)
            samples[(inst.rowset.name, inst.server.name, inst.app, mode)].append(res)
            h.say("round %d/%d  %2d/%d  %-17s %-7s %-10s %9.0f req/s  p99 %7.2f ms  CPU %5.0f us/req"
                  "  wrk %3.0f%%  others %3.0f%%  new client %s  errors %d"
                  % (rnd + 1, rounds, n, len(order), inst.server.name, inst.app, mode, res["rps"], res["p99_ms"],
                     res["server_us_per_req"], 100 * res["wrk_cpu_share"], 100 * res["other_cpu_share"],
                     _ms(res.get("probe_max_ms")), h.error_total(res)))
    return samples


def _ms(value):
    return "-" if value is None else "%.0f ms" % value


def starved(row):
    """True when a client arriving mid-run waited over STARVED_MS, or never got in."""
    return row["new_client_max_ms"] is None or row["new_client_max_ms"] > STARVED_MS


def _worst(values):
    # None (no probe request answered in a round) is the worst of all.
    if any(v is None for v in values):
        return None
    return max(values)


def limits(wrk_share, wrk_threads, server_share, workers, cores, other_share=0.0, busy=BUSY_SHARE,
           others=OTHERS_CORES):
    """What held a row's req/s down, read from where the CPU went.

    Shares are in cores (1.0 = one core busy for the whole run).
    - "wrk": the load generator used >= `busy` of a core per wrk thread.
      It could not send faster, so req/s is a floor for that server.
    - "workers": the server used >= `busy` of a core per worker: every
      worker was running all the time (a sync worker, or a GIL-bound
      threaded one, uses one core at most).
    - "cores": server, wrk and the rest together used >= `busy` of all the
      cores.
    - "others": the rest of the machine (other programs, the host) took
      >= `others` cores: the row was disturbed, and its req/s is low by up
      to that much; its CPU per request is still the server's own.
    Returns the list of those that apply; empty when nothing was saturated
    (the server was waiting, as an app that sleeps does).
    """
    found = []
    if wrk_share >= busy * wrk_threads:
        found.append("wrk")
    if server_share >= busy * workers:
        found.append("workers")
    if server_share + wrk_share + other_share >= busy * cores:
        found.append("cores")
    if other_share >= others:
        found.append("others")
    return found


def summarize(samples, kept_open=(), cores=None):
    """Median of the rounds per row, errors summed, the limits, ratio to Gunicorn sync.

    kept_open: the (set, server, app) triples that ignore `Connection: close`.
    """
    cores = cores or os.cpu_count() or 1
    rows = []
    for (rowset, server, app, mode), runs in samples.items():
        errors = {k: sum(r[k] for r in runs) for k in h.ERROR_KINDS}
        row = {
            "set": rowset, "server": server, "app": app, "mode": mode,
            "workers": ROW_SET[rowset].workers, "connections": ROW_SET[rowset].connections,
            "rps": h.median([r["rps"] for r in runs]),
            "p50_ms": h.median([r["p50_ms"] for r in runs]),
            "p99_ms": h.median([r["p99_ms"] for r in runs]),
            "active_conns": h.median([r["active_conns"] for r in runs]),
            "new_client_max_ms": _worst([r.get("probe_max_ms") for r in runs]),
            "server_us_per_req": h.median([r["server_us_per_req"] for r in runs]),
            "server_cpu_share": h.median([r["server_cpu_share"] for r in runs]),
            "wrk_cpu_share": h.median([r["wrk_cpu_share"] for r in runs]),
            "other_cpu_share": h.median([r.get("other_cpu_share", 0.0) for r in runs]),
            "wrk_threads": runs[0].get("wrk_threads", 1),
            "errors": errors, "rounds": runs,
            "kept_open": mode == "close" and (rowset, server, app) in kept_open,
        }
        row["limit"] = limits(row["wrk_cpu_share"], row["wrk_threads"], row["server_cpu_share"],
                              row["workers"], cores, row["other_cpu_share"])
        rows.append(row)
    for row in rows:
        row["baseline"] = ROW_SET[row["set"]].baseline
        row["vs_baseline"], row["cpu_vs_baseline"] = _against(rows, row, row["baseline"])
        # CPU per request against Gunicorn sync's: below 1, the server does the same work for less.
        row["vs_gunicorn_sync"], row["cpu_vs_gunicorn_sync"] = _against(rows, row, BASELINE)
        row["starved"] = starved(row)
    return rows


def _against(rows, row, server):
    """(req/s, CPU per request) of a row over `server`'s in the same set, app and mode; None where missing."""
    for ref in rows:
        if (ref["set"], ref["server"], ref["app"], ref["mode"]) == (row["set"], server, row["app"], row["mode"]):
            rps = row["rps"] / ref["rps"] if ref["rps"] else None
            cpu = row["server_us_per_req"] / ref["server_us_per_req"] if ref["server_us_per_req"] else None
            return rps, cpu
    return None, None


def startup_times(servers, apps, tmp, env, repeats):
    """Median seconds from spawn to the first 200, greenhorn and Gunicorn sync.

    The two servers alternate, `repeats` times per app, each started cold
    and stopped before the next.  Returns {server: {app: seconds}}; a server
    that fails to start is reported and left out.
    """
    wanted = [s for s in servers if s.name in ("greenhorn", BASELINE)]
    apps = [a for a in STARTUP_APPS if a in apps]
    times = {s.name: {app: [] for app in apps} for s in wanted}
    for _ in range(repeats):
        for app in apps:
            for server in wanted:
                inst = Instance(server, app, ROW_SET["main"])
                start(inst, tmp, env)
                try:
                    times[server.name][app].append(h.wait_first_200(inst.proc, inst.port, inst.started))
                except h.BenchError as err:
                    h.say("start-up of %s %s failed: %s" % (server.name, app, err))
                finally:
                    h.stop(inst.proc)
    return {name: {app: h.median(v) for app, v in per.items() if v} for name, per in times.items()}


def app_call_costs(apps, tmp, env, repeats=CALL_REPEATS):
    """Each app's own cost per call with no server: {app: {"python3": us, "embedded": us}}.

    apps/app_call.py runs under /usr/bin/python3 and inside one greenhorn
    worker (the interpreter linked into greenhorn), alternating, `repeats`
    times per app; each side keeps its fastest figure, since other programs
    can only slow a measurement down.  A side that fails is reported and
    left out.
    """
    apps = [a for a in CALL_APPS if a in apps]
    out = {app: {} for app in apps}
    if not apps:
        return out
    script = os.path.join(h.APPS_DIR, "app_call.py")
    run_env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **env)

    def keep(app, side, value):
        out[app][side] = min(value, out[app].get(side, value))

    def under_python3(app):
        spec = APPS[app]
        try:
            done = subprocess.run([h.PYTHON, script, spec.dir, spec.module, spec.path], capture_output=True,
                                  text=True, timeout=120, cwd=spec.dir, env=run_env)
            keep(app, "python3", float(done.stdout.strip()))
        except (OSError, subprocess.TimeoutExpired, ValueError) as err:
            h.say("%s call under %s not measured: %s" % (app, h.PYTHON, err))

    def embedded(app, port):
        spec = APPS[app]
        query = urllib.parse.urlencode({"dir": spec.dir, "app": spec.module, "path": spec.path})
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/?%s" % (port, query), timeout=120) as answer:
                keep(app, "embedded", float(answer.read().decode().strip()))
        except (OSError, ValueError) as err:
            h.say("%s call inside greenhorn not measured: %s" % (app, err))

    proc = port = None
    if not h.greenhorn_missing():
        port = h.free_port()
        argv = [h.greenhorn_path(), "-w", "1", "-t", "120", "-b", "127.0.0.1:%d" % port, "app_call:app"]
        proc = h.spawn(argv, cwd=h.APPS_DIR, log_path=os.path.join(tmp, "app-call.log"), env_extra=env)
        try:
            h.wait_first_200(proc, port, time.monotonic())
        except h.BenchError as err:
            h.say("app calls inside greenhorn not measured: %s" % err)
            h.stop(proc)
            proc = None
    try:
        for _ in range(repeats):
            for app in apps:
                under_python3(app)
                if proc is not None:
                    embedded(app, port)
    finally:
        if proc is not None:
            h.stop(proc)
    return out


# ---- reporting ------------------------------------------------------------------


def _errors_cell(errors):
    total = sum(errors.values())
    if not total:
        return "0"
    return "%d (%s)" % (total, " ".join("%s %d" % (k, v) for k, v in errors.items() if v))


def sort_rows(rows):
    """Rows in table order: set, app, mode, then server."""
    apps = list(APPS)
    sets = [rs.name for rs in ROW_SETS]
    rows.sort(key=lambda r: (sets.index(r["set"]), apps.index(r["app"]), MODES.index(r["mode"]),
                             SERVER_ORDER[r["server"]]))


def print_table(rows):
    """Print one table per row set, with its legend."""
    sort_rows(rows)
    for rowset in ROW_SETS:
        mine = [r for r in rows if r["set"] == rowset.name]
        if not mine:
            continue
        cells = []
        for r in mine:
            ratio = "%.2fx" % r["vs_baseline"] if r["vs_baseline"] else "-"
            cpu_ratio = "%.2fx" % r["cpu_vs_baseline"] if r["cpu_vs_baseline"] else "-"
            worst = "-" if r["new_client_max_ms"] is None else "%.0f" % r["new_client_max_ms"]
            mode = r["mode"] + ("*" if r.get("kept_open") else "")
            cells.append([r["server"], r["app"], mode, "%.0f" % r["rps"], "%.2f" % r["p50_ms"],
                          "%.2f" % r["p99_ms"], _errors_cell(r["errors"]),
                          worst + (" starved" if r["starved"] else ""), "%.0f" % r["server_us_per_req"],
                          "%.0f%%" % (100 * r["server_cpu_share"]), "%.0f%%" % (100 * r["wrk_cpu_share"]),
                          "%.0f%%" % (100 * r["other_cpu_share"]), "+".join(r["limit"]) or "-", ratio, cpu_ratio])
        h.say("%s rows: %s" % (rowset.name, rowset.what))
        short = rowset.baseline.replace("gunicorn-", "g-")
        h.say(h.table(["server", "app", "mode", "req/s", "p50 ms", "p99 ms", "errors", "new client ms",
                       "CPU us/req", "server CPU", "wrk CPU", "other CPU", "limit", "vs " + rowset.baseline,
                       "CPU/req vs " + short], cells))
        h.say("")
    h.say("vs gunicorn-sync (gthread rows: vs gunicorn-gthread): req/s over that server's, same app and mode;")
    h.say("  CPU/req vs g-sync (g-gthread): CPU per request over its (lower is less).")
    h.say("new client ms: the longest a client arriving during the run waited (one request every 100 ms).")
    h.say("CPU us/req: the server's own CPU time (master + workers, /proc) per request.  server CPU, wrk CPU:")
    h.say("  the share of one core each used over the run (wrk's own, from /proc, when it exited); other CPU:")
    h.say("  what the rest of the machine used meanwhile (/proc/stat minus the two).")
    h.say("limit: wrk = wrk used >= %.0f%% of a core (req/s is a floor for that server); workers = the server"
          % (100 * BUSY_SHARE))
    h.say("  used >= %.0f%% of a core per worker; cores = all together used >= %.0f%% of all %d cores;"
          % (100 * BUSY_SHARE, 100 * BUSY_SHARE, os.cpu_count() or 1))
    h.say("  others = the rest took >= %.0f%% of a core: a disturbed row (low req/s; CPU us/req still holds)."
          % (100 * OTHERS_CORES))
    if any(r.get("kept_open") for r in rows):
        h.say("close*: the server answered `Connection: close` and kept the connection open anyway (RFC 9112")
        h.say("  section 9.6 says it must close), so wrk reused it: the row measures keep-alive, not close.")
    if any(r["starved"] for r in rows):
        h.say("starved: that client waited over %.0f s: the server answered some connections and left the"
              % (STARVED_MS / 1000))
        h.say("  others queued (a sync worker holding its keep-alive connection), so the latencies above")
        h.say("  describe only the connections that were answered.")


def print_memory(memory):
    """Print master and worker RSS per row set, server and app."""
    cells = []
    for (rowset, server, app), mem in sorted(memory.items(), key=lambda kv: (
            [rs.name for rs in ROW_SETS].index(kv[0][0]), SERVER_ORDER[kv[0][1]], list(APPS).index(kv[0][2]))):
        workers_kib = mem["workers_kib"]
        cells.append([rowset, server, app, "%.1f" % (mem["master_kib"] / 1024.0) if mem["master_kib"] else "-",
                      " ".join("%.1f" % (w / 1024.0) for w in workers_kib) or "-"])
    h.say(h.table(["set", "server", "app", "master RSS MiB", "worker RSS MiB"], cells))


def print_startup(startup, repeats):
    """Print the start-to-first-200 medians."""
    cells = [[server, app, "%.0f" % (sec * 1000)] for server, apps in startup.items() for app, sec in apps.items()]
    h.say(h.table(["server", "app", "start to first 200 (ms, median of %d)" % repeats], cells))


CSV_FIELDS = ["server", "app", "mode", "req_s", "p50_ms", "p99_ms", "errors", "vs_gunicorn_sync", "kept_open",
              "set", "workers", "connections", "server_us_per_req", "server_cpu_share", "wrk_cpu_share",
              "other_cpu_share", "limit", "cpu_vs_gunicorn_sync", "baseline", "vs_baseline", "cpu_vs_baseline"]


def write_csv(path, rows):
    """Write the table as CSV through a .tmp file (one line per row)."""
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_FIELDS)
        for r in rows:
            ratio = "%.3f" % r["vs_gunicorn_sync"] if r["vs_gunicorn_sync"] else ""
            writer.writerow([r["server"], r["app"], r["mode"], "%.1f" % r["rps"], "%.3f" % r["p50_ms"],
                             "%.3f" % r["p99_ms"], sum(r["errors"].values()), ratio,
                             int(bool(r.get("kept_open"))), r["set"], r["workers"], r["connections"],
                             "%.1f" % r["server_us_per_req"], "%.3f" % r["server_cpu_share"],
                             "%.3f" % r["wrk_cpu_share"], "%.3f" % r["other_cpu_share"], "+".join(r["limit"]),
                             "%.3f" % r["cpu_vs_gunicorn_sync"] if r["cpu_vs_gunicorn_sync"] else "",
                             r["baseline"], "%.3f" % r["vs_baseline"] if r["vs_baseline"] else "",
                             "%.3f" % r["cpu_vs_baseline"] if r["cpu_vs_baseline"] else ""])
    os.replace(tmp, path)


# ---- greenhorn's targets (informational) ---------------------------------------


def _row(rows, server, app, mode, rowset="main"):
    for r in rows:
        if (r["set"], r["server"], r["app"], r["mode"]) == (rowset, server, app, mode):
            return r
    return None


def _limit_words(row):
    return " (limit: %s)" % "+".join(row["limit"]) if row["limit"] else ""


def _ratio_target(rows, app, mode, other, minimum, subject="greenhorn", rowset="main", other_name=None):
    """subject's req/s at least `minimum` times other's, same set, app and mode."""
    gh, ref = _row(rows, subject, app, mode, rowset), _row(rows, other, app, mode, rowset)
    label = "%s %s >= %.1fx %s" % (app, mode, minimum, other_name or other)
    if rowset != "main":
        label = "%s: %s" % (rowset, label)
    if not gh or not ref:
        return label, None, "no %s row" % (subject if not gh else other)
    if not ref["rps"]:
        return label, None, "%s answered nothing" % other
    ratio = gh["rps"] / ref["rps"]
    return label, ratio >= minimum, "%.2fx (%.0f vs %.0f req/s)%s" % (ratio, gh["rps"], ref["rps"], _limit_words(gh))


def _cpu_target(rows, app, mode, most):
    """greenhorn's CPU per request at most `most` times Gunicorn sync's."""
    gh, ref = _row(rows, "greenhorn", app, mode), _row(rows, BASELINE, app, mode)
    label = "%s %s CPU/req <= %.2fx gunicorn-sync's" % (app, mode, most)
    if not gh or not ref or not ref["server_us_per_req"]:
        return label, None, "not measured"
    share = gh["server_us_per_req"] / ref["server_us_per_req"]
    return label, share <= most, "%.0f vs %.0f us (%.2fx)" % (gh["server_us_per_req"], ref["server_us_per_req"],
                                                              share)


def _p99_target(rows, subject="greenhorn", other=BASELINE, rowset=None):
    """subject's p99 no worse than other's in every row both have (in `rowset`, or in any set)."""
    label = "p99 <= %s's in every row" % other
    if rowset:
        label = "%s: %s" % (rowset, label)
    worse = []
    pairs = 0
    for gh in (r for r in rows if r["server"] == subject and rowset in (None, r["set"])):
        ref = _row(rows, other, gh["app"], gh["mode"], gh["set"])
        if ref:
            pairs += 1
            if gh["starved"]:
                worse.append("%s %s: connections starved" % (gh["app"], gh["mode"]))
            elif gh["p99_ms"] > ref["p99_ms"]:
                worse.append("%s %s %.2f > %.2f ms" % (gh["app"], gh["mode"], gh["p99_ms"], ref["p99_ms"]))
    if not pairs:
        return label, None, "no %s rows" % subject
    return label, not worse, "; ".join(worse) or "%d rows compared" % pairs


GH_GTHREAD, GU_GTHREAD = "greenhorn-gthread", "gunicorn-gthread"


def gthread_checks(rows):
    """The gthread worker's targets, each (label, ok or None, detail), all within the gthread rows.

    Raw hello keep-alive at least 6x Gunicorn gthread and 0.7x nginx; Flask
    hello keep-alive at least 2.5x Gunicorn gthread; the app that sleeps
    50 ms at least 3.5x greenhorn's sync worker with the same 2 workers (4
    threads a worker can wait for 4 requests at once); p99 no worse than
    Gunicorn gthread's in any row.
    """
    return [
        _ratio_target(rows, "hello", "keep-alive", GU_GTHREAD, 6.0, GH_GTHREAD, GTHREAD),
        _ratio_target(rows, "hello", "keep-alive", "nginx", 0.7, GH_GTHREAD, GTHREAD),
        _ratio_target(rows, "flask", "keep-alive", GU_GTHREAD, 2.5, GH_GTHREAD, GTHREAD),
        _ratio_target(rows, "io50", "keep-alive", "greenhorn", 3.5, GH_GTHREAD, GTHREAD,
                      other_name="greenhorn sync (same workers)"),
        _p99_target(rows, GH_GTHREAD, GU_GTHREAD, GTHREAD),
    ]


def _gthread_cpu_notes(rows):
    """INFO per gthread app: CPU per request of greenhorn gthread against Gunicorn gthread's."""
    out = []
    for app in ROW_SET[GTHREAD].apps:
        gh, ref = _row(rows, GH_GTHREAD, app, "keep-alive", GTHREAD), _row(rows, GU_GTHREAD, app, "keep-alive",
                                                                            GTHREAD)
        if gh and ref and ref["server_us_per_req"]:
            out.append(("%s: %s keep-alive server CPU per request" % (GTHREAD, app), None,
                        "%.1f vs %.1f us (%s vs %s, %.2fx)" % (gh["server_us_per_req"], ref["server_us_per_req"],
                                                             GH_GTHREAD, GU_GTHREAD,
                                                             gh["server_us_per_req"] / ref["server_us_per_req"])))
    return out


def _memory_targets(memory):
    out = []
    for app in PY_APPS:
        gh, gu = memory.get(("main", "greenhorn", app)), memory.get(("main", BASELINE, app))
        label = "%s worker RSS < gunicorn-sync worker" % app
        if not gh or not gu or not gh["workers_kib"] or not gu["workers_kib"]:
            out.append((label, None, "not measured"))
            continue
        a, b = max(gh["workers_kib"]), max(gu["workers_kib"])
        out.append((label, a < b, "%.1f vs %.1f MiB (largest worker)" % (a / 1024.0, b / 1024.0)))
    masters = [m["master_kib"] for (_r, s, _a), m in memory.items() if s == "greenhorn" and m["master_kib"]]
    label = "master RSS < 5 MiB"
    if masters:
        out.append((label, max(masters) < 5 * 1024, "%.1f MiB" % (max(masters) / 1024.0)))
    else:
        out.append((label, None, "not measured"))
    return out


def _startup_targets(startup):
    out = []
    for app in STARTUP_APPS:
        label = "%s start to first 200 <= half of gunicorn-sync's" % app
        gh, gu = startup.get("greenhorn", {}).get(app), startup.get(BASELINE, {}).get(app)
        if gh is None or gu is None:
            out.append((label, None, "not measured"))
        else:
            out.append((label, gh <= gu / 2, "%.0f vs %.0f ms" % (gh * 1000, gu * 1000)))
    return out


def _two_thread_note(two):
    label = "hello close, wrk -t2 (client on both cores)"
    if len(two) < 2:
        return label, None, "not measured"
    return label, None, "%.2fx gunicorn-sync (%.0f vs %.0f req/s)" % (
        two["greenhorn"] / two[BASELINE], two["greenhorn"], two[BASELINE])


def _own_share_notes(rows, calls):
    """INFO per app: its call alone, under both interpreters, against each server's CPU per request."""
    out = []
    for app in CALL_APPS:
        mode = "close"
        label = "%s: the server's own share" % app
        cost = calls.get(app, {})
        gh, ref = _row(rows, "greenhorn", app, mode), _row(rows, BASELINE, app, mode)
        if "embedded" not in cost or "python3" not in cost or not gh or not ref:
            continue
        out.append((label, None, (
            "the call alone takes %.0f us in greenhorn, %.0f under python3 (%+.0f%%); per request greenhorn"
            " used %.0f us of CPU (%.0f beyond the call), gunicorn-sync %.0f (%.0f beyond)"
            % (cost["embedded"], cost["python3"], 100 * (cost["embedded"] / cost["python3"] - 1),
               gh["server_us_per_req"], gh["server_us_per_req"] - cost["embedded"], ref["server_us_per_req"],
               ref["server_us_per_req"] - cost["python3"]))))
    return out


def _granian_notes(rows):
    """INFO per granian row: greenhorn against the peers Granian's table has (1 worker each)."""
    out = []
    for app in ROW_SET["granian"].apps:
        gh = _row(rows, "greenhorn", app, "keep-alive", "granian")
        if not gh:
            continue
        peers = ["%s %.2fx" % (r["server"], gh["rps"] / r["rps"]) for r in rows
                 if r["set"] == "granian" and r["app"] == app and r["server"] != "greenhorn" and r["rps"]]
        out.append(("granian %s: greenhorn vs the others" % app, None,
                    "%.0f req/s; %s%s" % (gh["rps"], ", ".join(peers) or "no peers measured", _limit_words(gh))))
    return out


def targets(rows, memory, startup, skip_reason, two=None, calls=None, gthread_skip=None):
    """Every target as {"target", "result": PASS/FAIL/SKIP/INFO, "detail"}.

    skip_reason (greenhorn is not built) makes every target SKIP with it;
    gthread_skip (greenhorn refuses -k gthread) makes the gthread targets
    SKIP with it.
    """
    checks = [
        _ratio_target(rows, "hello", "close", BASELINE, 3.0),
        _ratio_target(rows, "hello", "close", "nginx", 0.9),
        _cpu_target(rows, "hello", "close", 0.25),
        _ratio_target(rows, "flask", "close", BASELINE, 2.0),
        _ratio_target(rows, "flask", "keep-alive", BASELINE, 2.0),
        _ratio_target(rows, "cpu", "close", BASELINE, 1.0),
        _cpu_target(rows, "cpu", "close", 1.0),
        _ratio_target(rows, "jinja", "close", BASELINE, 1.1),
        _ratio_target(rows, "django", "close", BASELINE, 1.1),
        _p99_target(rows),
    ] + _memory_targets(memory) + _startup_targets(startup)
    info = [_two_thread_note(two or {})] + _own_share_notes(rows, calls or {}) + _granian_notes(rows)
    gthread_skip = skip_reason or gthread_skip
    out = []
    for group, why in ((checks, skip_reason), (gthread_checks(rows), gthread_skip)):
        for label, ok, detail in group:
            if why:
                ok, detail = None, why
            out.append({"target": label, "result": "SKIP" if ok is None else ("PASS" if ok else "FAIL"),
                        "detail": detail})
    for group, why in ((info, skip_reason), (_gthread_cpu_notes(rows), gthread_skip)):
        for label, _ok, detail in group:
            if not why and detail != "not measured":
                out.append({"target": label, "result": "INFO", "detail": detail})
    return out


# ---- main -----------------------------------------------------------------------


def available_servers():
    """The servers this machine has; prints one line per skipped server."""
    found = []
    for server in SERVERS:
        reason = _why_missing(server.name)
        if reason:
            h.say("skip %s: %s" % (server.name, reason))
        else:
            found.append(server)
    return found


def two_client_threads(instances, seconds, rounds):
    """hello with Connection: close once more, driven by `wrk -t2`.

    With one wrk thread, wrk itself is the bottleneck for the fastest
    servers (its core at ~100%, mostly kernel time setting up a TCP
    connection per request).  Two threads let the client use both cores, so
    the ratio reflects the servers more than the client.  Alternating, the
    median of `rounds`.  Returns {server: req/s} for greenhorn and
    gunicorn-sync, or {} when either is missing.
    """
    pick = {i.server.name: i for i in instances if i.app == "hello" and i.server.name in ("greenhorn", BASELINE)}
    if len(pick) < 2:
        return {}
    runs = {name: [] for name in pick}
    for rnd in range(rounds):
        for name in sorted(pick, reverse=rnd % 2 == 1):
            res = measured_run(pick[name], "close", seconds, probe=False, threads=2)
            runs[name].append(res["rps"])
            h.say("wrk -t2 round %d/%d  %-13s hello close %9.0f req/s  CPU %5.0f us/req  wrk %3.0f%%"
                  % (rnd + 1, rounds, name, res["rps"], res["server_us_per_req"], 100 * res["wrk_cpu_share"]))
    return {name: h.median(v) for name, v in runs.items()}


def measure(rowset, servers, apps, tmp, env, seconds, rounds):
    """One row set: start, warm, run the rounds, read RSS, stop; (samples, memory, kept_open, wrk -t2 req/s)."""
    instances = start_all(rowset, servers, apps, tmp, env)
    try:
        samples = run_rounds(instances, seconds, rounds)
        two = two_client_threads(instances, seconds, rounds) if rowset.name == "main" else {}
        memory = {(rowset.name, i.server.name, i.app): h.memory_of(i.proc) for i in instances}
    finally:
        h.stop([i.proc for i in instances])
    kept_open = {(rowset.name, i.server.name, i.app) for i in instances if i.kept_open}
    return samples, memory, kept_open, two


def report(results, servers, settings, info, full):
    """Print every table and the targets; write the JSON (and for a full run, latest.json and latest.csv)."""
    rows, memory, startup = results["rows"], results["memory"], results["startup"]
    skip_reason = h.greenhorn_missing()
    gthread_skip = h.gthread_refused(THREADS)
    h.say("")
    print_table(rows)
    h.say("")
    print_memory(memory)
    h.say("")
    if startup:
        print_startup(startup, settings["startup_repeats"])
        h.say("")
    checks = targets(rows, memory, startup, skip_reason, results["two"], results["calls"], gthread_skip)
    for c in checks:
        h.say("%-4s  %-58s %s" % (c["result"], c["target"], c["detail"]))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    data = {
        "timestamp": stamp, "machine": info, "settings": settings,
        "servers": {s.name: s.kind for s in servers},
        "apps": {name: app.what for name, app in APPS.items()},
        "row_sets": {s.name: s.what for s in ROW_SETS},
        "rows": rows,
        "memory": [{"set": r, "server": s, "app": a, **m} for (r, s, a), m in sorted(memory.items())],
        "startup_s": startup, "targets": checks, "hello_close_wrk_t2": results["two"],
        "greenhorn_gthread_skipped": gthread_skip,
        "app_call_us": results["calls"],
    }
    os.makedirs(h.RESULTS_DIR, exist_ok=True)
    if not full:
        h.write_json(os.path.join(h.RESULTS_DIR, "quick.json"), data)
        h.say("\nwrote bench/results/quick.json (a quick or partial run: latest.json is left alone)")
        return
    h.write_json(os.path.join(h.RESULTS_DIR, "bench-%s.json" % stamp), data)
    h.write_json(os.path.join(h.RESULTS_DIR, "latest.json"), data)
    write_csv(os.path.join(h.RESULTS_DIR, "latest.csv"), rows)
    h.say("\nwrote bench/results/bench-%s.json, latest.json, latest.csv" % stamp)


def greenhorn_version():
    """`greenhorn --version`, or None when it is not built or does not say."""
    if h.greenhorn_missing():
        return None
    try:
        done = subprocess.run([h.greenhorn_path(), "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout or done.stderr).strip() or None


def parse_args(argv):
    """The command line: --quick, --only APP[,APP], --sets SET[,SET]."""
    parser = argparse.ArgumentParser(prog="bench.py", description="make bench: greenhorn side by side with its peers")
    parser.add_argument("--quick", action="store_true",
                        help="one round of %d s per row, for use while developing (results to quick.json)"
                        % QUICK_SECONDS)
    parser.add_argument("--only", metavar="APP[,APP]",
                        help="only these apps' rows (%s); results to quick.json" % ", ".join(APPS))
    parser.add_argument("--sets", metavar="SET[,SET]",
                        help="only these row sets (%s); results to quick.json" % ", ".join(ROW_SET))
    args = parser.parse_args(argv)
    if args.sets:
        wanted = [a.strip() for a in args.sets.split(",") if a.strip()]
        unknown = [a for a in wanted if a not in ROW_SET]
        if unknown:
            parser.error("unknown row set %s (known: %s)" % (", ".join(unknown), ", ".join(ROW_SET)))
        args.sets = wanted
    if args.only:
        wanted = [a.strip() for a in args.only.split(",") if a.strip()]
        unknown = [a for a in wanted if a not in APPS]
        if unknown:
            parser.error("unknown app %s (known: %s)" % (", ".join(unknown), ", ".join(APPS)))
        args.only = wanted
    return args


def main(argv=None):
    """`make bench`; raises BenchError when the bench itself cannot run."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    h.install_cleanup()
    began = time.monotonic()
    if args.quick:
        seconds, rounds, repeats = QUICK_SECONDS, QUICK_ROUNDS, 1
    else:
        seconds, rounds = h.env_number("BENCH_SECONDS", 5), h.env_number("BENCH_ROUNDS", 3)
        repeats = STARTUP_REPEATS
    if not shutil.which("wrk"):
        raise h.BenchError("wrk not installed (apt-get install wrk)")
    info = h.machine()
    warning = h.busy_warning()
    if warning:
        h.say(warning)
    apps = []
    for app in args.only or list(APPS):
        reason = _why_app_missing(app)
        if reason:
            h.say("skip the %s rows: %s" % (app, reason))
        else:
            apps.append(app)
    tmp = h.make_tempdir("greenhorn-bench-")
    servers = available_servers()
    loops = study.loops_per_ms() if "cpu" in apps else None
    env = {"BENCH_CPU_LOOPS_PER_MS": str(loops)} if loops else {}
    settings = {"seconds": seconds, "rounds": rounds, "warmup_seconds": WARMUP_SECONDS, "quick": args.quick,
                "only": args.only, "sets": args.sets, "startup_repeats": repeats, "busy_share": BUSY_SHARE,
                "others_cores": OTHERS_CORES,
                "row_sets": {s.name: {"workers": s.workers, "wrk": "-t1 -c%d" % s.connections,
                                      "baseline": s.baseline} for s in ROW_SETS},
                "gthread_threads": THREADS,
                "cpu_loops_per_ms": loops, "greenhorn_version": greenhorn_version(),
                "greenhorn_interpreter": h.greenhorn_interpreter()}
    h.say("bench: %d servers, %d s x %d round%s per row, %d cores; %s"
          % (len(servers), seconds, rounds, "" if rounds == 1 else "s", os.cpu_count(),
             "; ".join("%s rows: %s" % (s.name, s.what) for s in ROW_SETS)))
    samples, memory, kept_open, two = {}, {}, set(), {}
    for rowset in ROW_SETS:
        if not any(app in apps for app in rowset.apps) or (args.sets and rowset.name not in args.sets):
            continue
        got = measure(rowset, servers, apps, tmp, env, seconds, rounds)
        samples.update(got[0])
        memory.update(got[1])
        kept_open |= got[2]
        two = two or got[3]
    results = {"rows": summarize(samples, kept_open), "memory": memory, "two": two}
    results["startup"], results["calls"] = {}, {}
    if not args.sets or "main" in args.sets:
        h.say("measuring start to first 200 ...")
        results["startup"] = startup_times(servers, apps, tmp, env, repeats)
        h.say("measuring each app's own call, with no server ...")
        results["calls"] = app_call_costs(apps, tmp, env, 1 if args.quick else CALL_REPEATS)
    report(results, servers, settings, info, full=not args.quick and not args.only and not args.sets)
    h.say("bench took %.0f s" % (time.monotonic() - began))


if __name__ == "__main__":
    h.run_main(main, "bench")
