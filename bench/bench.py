"""bench.py - `make bench`: greenhorn side by side with Gunicorn and its peers.

Stage: benchmarks (bench/).  Gunicorn counterpart: none (Gunicorn ships no
benchmark); the Gunicorn rows run the real gunicorn 20.1 as the baseline.

Owns: the list of servers and how each is started, the round-robin wrk runs
(every row gets one run per round, rounds alternate the rows, the median of
the rounds is reported), the RSS and start-to-first-200 measurements, the
table, greenhorn's targets (PASS/FAIL, informational), and the JSON/CSV in
bench/results/.  Does not own: process handling, wrk and /proc reading
(harness.py), the worker-count study (workers.py), callgrind (callgrind.py).

Settings: BENCH_SECONDS (per run, default 5), BENCH_ROUNDS (default 3).
Exit status: 0 when the runs happened (targets never fail the command),
1 when the bench itself could not run (no wrk, a server broke mid-run).
"""

import csv
import os
import shutil
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import harness as h  # noqa: E402  (after the line above, on purpose)

WORKERS = 2
CONNECTIONS = 50
WARMUP_SECONDS = 1
STARTUP_REPEATS = 5
MODES = ("keep-alive", "close")
APPS = {
    "hello": (h.APPS_DIR, "hello:app"),
    "flask": (h.FLASK_DIR, "wsgi:app"),
}
BASELINE = "gunicorn-sync"
# A row is marked starved when a new client arriving during the run had to
# wait longer than this (harness.NewClientProbe): the server was answering
# some connections and leaving the others queued, so wrk's latencies only
# describe the lucky ones.  Healthy servers answer it within tens of ms.
STARVED_MS = 1000.0


# ---- the servers ---------------------------------------------------------------


def _greenhorn_argv(port, app_dir, module, _tmp):
    return [h.greenhorn_path(), "-w", str(WORKERS), "-b", "127.0.0.1:%d" % port, "--chdir", app_dir, module]


def _gunicorn_argv(port, app_dir, module, _tmp):
    return [h.PYTHON, "-m", "gunicorn", "-w", str(WORKERS), "-b", "127.0.0.1:%d" % port,
            "--chdir", app_dir, module]


def _gthread_argv(port, app_dir, module, tmp):
    return _gunicorn_argv(port, app_dir, module, tmp) + ["-k", "gthread", "--threads", "4"]


def _uwsgi_argv(port, app_dir, module, _tmp):
    # --die-on-term: uWSGI 2.0 reloads on TERM unless told otherwise.
    return ["uwsgi", "--plugin", "python3", "--http11-socket", "127.0.0.1:%d" % port,
            "--master", "--processes", str(WORKERS), "--chdir", app_dir, "--module", module,
            "--need-app", "--disable-logging", "--die-on-term"]


def _waitress_argv(port, _app_dir, module, _tmp):
    # waitress is one process with a thread pool; it has no worker processes.
    return [h.PYTHON, "-m", "waitress", "--listen=127.0.0.1:%d" % port, "--threads=4", module]


def _nginx_argv(port, _app_dir, _module, tmp):
    prefix = os.path.join(tmp, "nginx-%d" % port)
    os.makedirs(prefix)
    with open(os.path.join(h.BENCH_DIR, "nginx.conf.in")) as src:
        conf = src.read().replace("@PREFIX@", prefix).replace("@PORT@", str(port))
    with open(os.path.join(prefix, "nginx.conf"), "w") as dst:
        dst.write(conf)
    return ["nginx", "-p", prefix, "-c", os.path.join(prefix, "nginx.conf"), "-e", "stderr"]


def _python_has(module):
    done = subprocess.run([h.PYTHON, "-c", "import " + module], capture_output=True)
    return done.returncode == 0


def _why_missing(name):
    """None when the server can run here; else the reason it is skipped."""
    if name == "greenhorn":
        return h.greenhorn_missing()
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


# name, what its processes are, argv builder, apps it serves
SERVERS = [
    ("greenhorn", "2 workers", _greenhorn_argv, ("hello", "flask")),
    ("gunicorn-sync", "2 workers", _gunicorn_argv, ("hello", "flask")),
    ("gunicorn-gthread", "2 workers x 4 threads", _gthread_argv, ("hello", "flask")),
    ("uwsgi", "2 processes, --http11-socket", _uwsgi_argv, ("hello", "flask")),
    ("waitress", "1 process x 4 threads", _waitress_argv, ("hello", "flask")),
    ("nginx", "return 200, 2 workers", _nginx_argv, ("hello",)),
]


# ---- one instance per server and app -------------------------------------------


class Instance:
    """One running server serving one app on its own port."""

    def __init__(self, server, app, argv_of):
        self.server = server
        self.app = app
        self.argv_of = argv_of
        self.port = None
        self.proc = None
        self.started = None
        self.kept_open = False  # answered `Connection: close` but kept the connection


def start(instance, tmp):
    """Spawn an instance on a fresh port; its Popen (not yet known to answer)."""
    app_dir, module = APPS[instance.app]
    instance.port = h.free_port()
    argv = instance.argv_of(instance.port, app_dir, module, tmp)
    log = os.path.join(tmp, "%s-%s-%d.log" % (instance.server, instance.app, instance.port))
    instance.started = time.monotonic()
    instance.proc = h.spawn(argv, cwd=app_dir, log_path=log)
    return instance.proc


def start_all(servers, tmp):
    """Start every available server with every app it serves; the ones that answered."""
    pending = []
    for name, _kind, argv_of, apps in servers:
        for app in apps:
            inst = Instance(name, app, argv_of)
            start(inst, tmp)
            pending.append(inst)
    ready = []
    for inst in pending:
        try:
            h.wait_first_200(inst.proc, inst.port, inst.started)
        except h.BenchError as err:
            h.say("skip %s %s: %s" % (inst.server, inst.app, err))
            h.stop(inst.proc)
            continue
        if h.closes_after_answer(inst.port) is False:
            inst.kept_open = True
            h.say("note %s %s: answered `Connection: close` but kept the connection open, so its"
                  " close rows measure keep-alive (marked close*)" % (inst.server, inst.app))
        ready.append(inst)
    return ready


# ---- measuring ------------------------------------------------------------------


def run_rounds(instances, seconds, rounds):
    """Warm each instance up, then run every (instance, mode) once per round.

    Rounds rotate the order so no row is always first or always last.
    Returns {(server, app, mode): [wrk result, ...]}.
    """
    for inst in instances:
        h.say("warm-up %-17s %-5s (%d s)" % (inst.server, inst.app, WARMUP_SECONDS))
        h.run_wrk(inst.port, WARMUP_SECONDS, CONNECTIONS, close=False)
        h.drain(inst.proc, inst.port)
    rows = [(inst, mode) for inst in instances for mode in MODES]
    samples = {(i.server, i.app, m): [] for i, m in rows}
    for rnd in range(rounds):
        shift = (rnd * len(rows)) // rounds
        order = rows[shift:] + rows[:shift]
        for n, (inst, mode) in enumerate(order, 1):
            cpu_before = h.server_cpu_seconds(inst.proc)
            res = h.run_wrk(inst.port, seconds, CONNECTIONS, close=(mode == "close"), probe=True)
            used = h.server_cpu_seconds(inst.proc) - cpu_before
            res["server_us_per_req"] = used / max(1, res["requests"]) * 1e6
            if inst.proc.poll() is not None:
                raise h.BenchError("%s %s died during the run:\n%s" % (inst.server, inst.app, h.log_tail(inst.proc)))
            h.drain(inst.proc, inst.port)
            samples[(inst.server, inst.app, mode)].append(res)
            h.say("round %d/%d  %2d/%d  %-17s %-5s %-10s %9.0f req/s  p99 %7.2f ms  new client %s  errors %d"
                  % (rnd + 1, rounds, n, len(order), inst.server, inst.app, mode,
                     res["rps"], res["p99_ms"], _ms(res.get("probe_max_ms")), h.error_total(res)))
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


def summarize(samples, kept_open=()):
    """Median of the rounds per row, errors summed, ratio to Gunicorn sync.

    kept_open: the (server, app) pairs that ignore `Connection: close`.
    """
    rows = []
    for (server, app, mode), runs in samples.items():
        errors = {k: sum(r[k] for r in runs) for k in h.ERROR_KINDS}
        rows.append({
            "server": server, "app": app, "mode": mode,
            "rps": h.median([r["rps"] for r in runs]),
            "p50_ms": h.median([r["p50_ms"] for r in runs]),
            "p99_ms": h.median([r["p99_ms"] for r in runs]),
            "active_conns": h.median([r["active_conns"] for r in runs]),
            "new_client_max_ms": _worst([r.get("probe_max_ms") for r in runs]),
            "server_us_per_req": h.median([r["server_us_per_req"] for r in runs]),
            "wrk_cpu_share": h.median([r["wrk_cpu_share"] for r in runs]),
            "errors": errors, "rounds": runs,
            "kept_open": mode == "close" and (server, app) in kept_open,
        })
    base = {(r["app"], r["mode"]): r["rps"] for r in rows if r["server"] == BASELINE}
    for row in rows:
        ref = base.get((row["app"], row["mode"]))
        row["vs_gunicorn_sync"] = row["rps"] / ref if ref else None
        row["starved"] = starved(row)
    return rows


def startup_times(servers, tmp):
    """Median seconds from spawn to the first 200, greenhorn and Gunicorn sync.

    The two servers alternate, STARTUP_REPEATS times per app, each started
    cold and stopped before the next.  Returns {server: {app: seconds}}; a
    server that fails to start is reported and left out.
    """
    wanted = [s for s in servers if s[0] in ("greenhorn", BASELINE)]
    times = {s[0]: {app: [] for app in APPS} for s in wanted}
    for _ in range(STARTUP_REPEATS):
        for app in APPS:
            for name, _kind, argv_of, _apps in wanted:
                inst = Instance(name, app, argv_of)
                start(inst, tmp)
                try:
                    times[name][app].append(h.wait_first_200(inst.proc, inst.port, inst.started))
                except h.BenchError as err:
                    h.say("start-up of %s %s failed: %s" % (name, app, err))
                finally:
                    h.stop(inst.proc)
    return {name: {app: h.median(v) for app, v in apps.items() if v} for name, apps in times.items()}


def flask_call_costs(tmp):
    """Flask's own cost per call with no server: {"embedded": us, "python3": us}.

    apps/flask_call.py runs under /usr/bin/python3, then inside one greenhorn
    worker (libpython3.11.so).  A side that fails is reported and left out.
    """
    out = {}
    try:
        done = subprocess.run([h.PYTHON, os.path.join(h.APPS_DIR, "flask_call.py")],
                              capture_output=True, text=True, timeout=120)
        out["python3"] = float(done.stdout.strip())
    except (OSError, subprocess.TimeoutExpired, ValueError) as err:
        h.say("flask call under %s not measured: %s" % (h.PYTHON, err))
    if h.greenhorn_missing():
        return out
    port = h.free_port()
    argv = [h.greenhorn_path(), "-w", "1", "-t", "120", "-b", "127.0.0.1:%d" % port,
            "flask_call:app"]
    proc = h.spawn(argv, cwd=h.APPS_DIR, log_path=os.path.join(tmp, "flask-call.log"))
    try:
        h.wait_first_200(proc, port, time.monotonic())  # the first answer is a measurement too
        with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=120) as answer:
            out["embedded"] = float(answer.read().decode().strip())
    except (h.BenchError, OSError, ValueError) as err:
        h.say("flask call inside greenhorn not measured: %s" % err)
    finally:
        h.stop(proc)
    return out


# ---- reporting ------------------------------------------------------------------


def _errors_cell(errors):
    total = sum(errors.values())
    if not total:
        return "0"
    return "%d (%s)" % (total, " ".join("%s %d" % (k, v) for k, v in errors.items() if v))


def print_table(rows):
    """Print the main table, sorted by app, mode, then server, with its legend."""
    order = {name: n for n, (name, *_rest) in enumerate(SERVERS)}
    rows.sort(key=lambda r: (list(APPS).index(r["app"]), MODES.index(r["mode"]), order[r["server"]]))
    cells = []
    for r in rows:
        ratio = "%.2fx" % r["vs_gunicorn_sync"] if r["vs_gunicorn_sync"] else "-"
        worst = "-" if r["new_client_max_ms"] is None else "%.0f" % r["new_client_max_ms"]
        mode = r["mode"] + ("*" if r.get("kept_open") else "")
        cells.append([r["server"], r["app"], mode, "%.0f" % r["rps"], "%.2f" % r["p50_ms"],
                      "%.2f" % r["p99_ms"], _errors_cell(r["errors"]), worst + (" starved" if r["starved"] else ""),
                      "%.0f" % r["server_us_per_req"], "%.0f%%" % (100 * r["wrk_cpu_share"]), ratio])
    h.say(h.table(["server", "app", "mode", "req/s", "p50 ms", "p99 ms", "errors", "new client ms",
                   "CPU us/req", "wrk CPU", "vs gunicorn-sync"], cells))
    h.say("new client ms: the longest a client arriving during the run waited (one request every 100 ms).")
    h.say("CPU us/req: the server's own CPU time (master + workers) per request.  wrk CPU: the share of a")
    h.say("  core wrk used; near 100%, wrk was the bottleneck and req/s is a floor for that server.")
    if any(r.get("kept_open") for r in rows):
        h.say("close*: the server answered `Connection: close` and kept the connection open anyway (RFC 9112")
        h.say("  section 9.6 says it must close), so wrk reused it: the row measures keep-alive, not close.")
    if any(r["starved"] for r in rows):
        h.say("starved: that client waited over %.0f s: the server answered some connections and left the"
              % (STARVED_MS / 1000))
        h.say("  others queued (a sync worker holding its keep-alive connection), so the latencies above")
        h.say("  describe only the connections that were answered.")


def print_memory(memory):
    """Print master and worker RSS per server and app."""
    cells = []
    for (server, app), mem in sorted(memory.items()):
        workers = mem["workers_kib"]
        cells.append([server, app, "%.1f" % (mem["master_kib"] / 1024.0) if mem["master_kib"] else "-",
                      " ".join("%.1f" % (w / 1024.0) for w in workers) or "-"])
    h.say(h.table(["server", "app", "master RSS MiB", "worker RSS MiB"], cells))


def print_startup(startup):
    """Print the start-to-first-200 medians."""
    cells = [[server, app, "%.0f" % (sec * 1000)] for server, apps in startup.items() for app, sec in apps.items()]
    h.say(h.table(["server", "app", "start to first 200 (ms, median of %d)" % STARTUP_REPEATS], cells))


def write_csv(path, rows):
    """Write the table as CSV through a .tmp file (one line per row)."""
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["server", "app", "mode", "req_s", "p50_ms", "p99_ms", "errors", "vs_gunicorn_sync",
                         "kept_open"])
        for r in rows:
            ratio = "%.3f" % r["vs_gunicorn_sync"] if r["vs_gunicorn_sync"] else ""
            writer.writerow([r["server"], r["app"], r["mode"], "%.1f" % r["rps"], "%.3f" % r["p50_ms"],
                             "%.3f" % r["p99_ms"], sum(r["errors"].values()), ratio,
                             int(bool(r.get("kept_open")))])
    os.replace(tmp, path)


# ---- greenhorn's targets (informational) ---------------------------------------


def _row(rows, server, app, mode):
    for r in rows:
        if (r["server"], r["app"], r["mode"]) == (server, app, mode):
            return r
    return None


def _ratio_target(rows, app, mode, other, minimum):
    gh, ref = _row(rows, "greenhorn", app, mode), _row(rows, other, app, mode)
    label = "%s %s >= %.1fx %s" % (app, mode, minimum, other)
    if not gh or not ref:
        return label, None, "no %s row" % ("greenhorn" if not gh else other)
    ratio = gh["rps"] / ref["rps"]
    return label, ratio >= minimum, "%.2fx (%.0f vs %.0f req/s)" % (ratio, gh["rps"], ref["rps"])


def _p99_target(rows):
    label = "p99 <= gunicorn-sync's in every row"
    worse = []
    pairs = 0
    for gh in (r for r in rows if r["server"] == "greenhorn"):
        ref = _row(rows, BASELINE, gh["app"], gh["mode"])
        if ref:
            pairs += 1
            if gh["starved"]:
                worse.append("%s %s: connections starved" % (gh["app"], gh["mode"]))
            elif gh["p99_ms"] > ref["p99_ms"]:
                worse.append("%s %s %.2f > %.2f ms" % (gh["app"], gh["mode"], gh["p99_ms"], ref["p99_ms"]))
    if not pairs:
        return label, None, "no greenhorn rows"
    return label, not worse, "; ".join(worse) or "%d rows compared" % pairs


def _memory_targets(memory):
    out = []
    for app in APPS:
        gh, gu = memory.get(("greenhorn", app)), memory.get((BASELINE, app))
        label = "%s worker RSS <= gunicorn-sync worker" % app
        if not gh or not gu or not gh["workers_kib"] or not gu["workers_kib"]:
            out.append((label, None, "not measured"))
            continue
        a, b = max(gh["workers_kib"]), max(gu["workers_kib"])
        out.append((label, a <= b, "%.1f vs %.1f MiB (largest worker)" % (a / 1024.0, b / 1024.0)))
    masters = [m["master_kib"] for (s, _a), m in memory.items() if s == "greenhorn" and m["master_kib"]]
    label = "master RSS < 5 MiB"
    if masters:
        out.append((label, max(masters) < 5 * 1024, "%.1f MiB" % (max(masters) / 1024.0)))
    else:
        out.append((label, None, "not measured"))
    return out


def _startup_targets(startup):
    out = []
    for app in APPS:
        label = "%s start to first 200 <= half of gunicorn-sync's" % app
        gh, gu = startup.get("greenhorn", {}).get(app), startup.get(BASELINE, {}).get(app)
        if gh is None or gu is None:
            out.append((label, None, "not measured"))
        else:
            out.append((label, gh <= gu / 2, "%.0f vs %.0f ms" % (gh * 1000, gu * 1000)))
    return out


def _cpu_note(rows):
    # Not a target: when wrk saturates its core, req/s stops measuring the
    # server; CPU per request still does.  Reported with ok=None (INFO).
    gh, ref = _row(rows, "greenhorn", "hello", "close"), _row(rows, BASELINE, "hello", "close")
    label = "hello close server CPU per request"
    if not gh or not ref or not gh["server_us_per_req"]:
        return label, None, "not measured"
    return label, None, "%.1f vs %.1f us (%.1fx less than gunicorn-sync; wrk at %.0f%% of a core)" % (
        gh["server_us_per_req"], ref["server_us_per_req"], ref["server_us_per_req"] / gh["server_us_per_req"],
        100 * gh["wrk_cpu_share"])


def _two_thread_note(two):
    label = "hello close, wrk -t2 (client on both cores)"
    if len(two) < 2:
        return label, None, "not measured"
    return label, None, "%.2fx gunicorn-sync (%.0f vs %.0f req/s)" % (
        two["greenhorn"] / two[BASELINE], two["greenhorn"], two[BASELINE])


def _flask_share_note(rows, calls):
    """INFO: Flask's own call against each server's CPU per Flask request."""
    label = "flask close: the server's own share"
    gh, ref = _row(rows, "greenhorn", "flask", "close"), _row(rows, BASELINE, "flask", "close")
    if "embedded" not in calls or "python3" not in calls or not gh or not ref:
        return label, None, "not measured"
    return label, None, (
        "Flask's call alone takes %.0f us embedded, %.0f us under %s; per request greenhorn"
        " used %.0f us of CPU (%.0f beyond the call), gunicorn-sync %.0f (%.0f beyond)"
        % (calls["embedded"], calls["python3"], h.PYTHON, gh["server_us_per_req"],
           gh["server_us_per_req"] - calls["embedded"], ref["server_us_per_req"],
           ref["server_us_per_req"] - calls["python3"]))


def targets(rows, memory, startup, skip_reason, two=None, calls=None):
    """Every target as {"target", "result": PASS/FAIL/SKIP, "detail"}."""
    checks = [
        _ratio_target(rows, "hello", "close", BASELINE, 3.0),
        _ratio_target(rows, "hello", "close", "nginx", 0.9),
        _ratio_target(rows, "flask", "close", BASELINE, 2.5),
        _ratio_target(rows, "flask", "keep-alive", BASELINE, 2.5),
        _p99_target(rows),
    ] + _memory_targets(memory) + _startup_targets(startup)
    checks.append(_cpu_note(rows))
    checks.append(_two_thread_note(two or {}))
    checks.append(_flask_share_note(rows, calls or {}))
    informational = ("CPU per request", "wrk -t2", "own share")
    out = []
    for label, ok, detail in checks:
        if skip_reason:
            ok, detail = None, skip_reason
        if any(word in label for word in informational) and not skip_reason:
            result = "INFO"
        else:
            result = "SKIP" if ok is None else ("PASS" if ok else "FAIL")
        out.append({"target": label, "result": result, "detail": detail})
    return out


# ---- main -----------------------------------------------------------------------


def available_servers():
    """The servers this machine has; prints one line per skipped server."""
    found = []
    for server in SERVERS:
        reason = _why_missing(server[0])
        if reason:
            h.say("skip %s: %s" % (server[0], reason))
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
    pick = {i.server: i for i in instances if i.app == "hello"
            and i.server in ("greenhorn", BASELINE)}
    if len(pick) < 2:
        return {}
    runs = {name: [] for name in pick}
    for rnd in range(rounds):
        for name in sorted(pick, reverse=rnd % 2 == 1):
            res = h.run_wrk(pick[name].port, seconds, CONNECTIONS, close=True, threads=2)
            h.drain(pick[name].proc, pick[name].port)
            runs[name].append(res["rps"])
            h.say("wrk -t2 round %d/%d  %-13s hello close %9.0f req/s" % (rnd + 1, rounds, name,
                                                                          res["rps"]))
    return {name: sorted(v)[len(v) // 2] for name, v in runs.items()}


def measure(servers, tmp, seconds, rounds):
    """Start, warm, run the rounds, read RSS, stop; (rows, memory, wrk -t2 req/s)."""
    instances = start_all(servers, tmp)
    try:
        samples = run_rounds(instances, seconds, rounds)
        two = two_client_threads(instances, seconds, rounds)
        memory = {(i.server, i.app): h.memory_of(i.proc) for i in instances}
    finally:
        h.stop([i.proc for i in instances])
    kept_open = {(i.server, i.app) for i in instances if i.kept_open}
    return summarize(samples, kept_open), memory, two


def report(rows, memory, startup, servers, settings, info, two=None, calls=None):
    """Print every table and the targets; write bench-<timestamp>.json, latest.json, latest.csv."""
    skip_reason = h.greenhorn_missing()
    h.say("")
    print_table(rows)
    h.say("")
    print_memory(memory)
    h.say("")
    print_startup(startup)
    h.say("")
    checks = targets(rows, memory, startup, skip_reason, two, calls)
    for c in checks:
        h.say("%-4s  %-50s %s" % (c["result"], c["target"], c["detail"]))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    data = {
        "timestamp": stamp, "machine": info, "settings": settings,
        "servers": {name: kind for name, kind, _a, _b in servers},
        "rows": rows,
        "memory": [{"server": s, "app": a, **m} for (s, a), m in sorted(memory.items())],
        "startup_s": startup, "targets": checks, "hello_close_wrk_t2": two or {},
        "flask_call_us": calls or {},
    }
    os.makedirs(h.RESULTS_DIR, exist_ok=True)
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


def main():
    """`make bench`; raises BenchError when the bench itself cannot run."""
    h.install_cleanup()
    began = time.monotonic()
    seconds = h.env_number("BENCH_SECONDS", 5)
    rounds = h.env_number("BENCH_ROUNDS", 3)
    if not shutil.which("wrk"):
        raise h.BenchError("wrk not installed (apt-get install wrk)")
    info = h.machine()
    warning = h.busy_warning()
    if warning:
        h.say(warning)
    tmp = h.make_tempdir("greenhorn-bench-")
    servers = available_servers()
    settings = {"seconds": seconds, "rounds": rounds, "warmup_seconds": WARMUP_SECONDS,
                "wrk": "-t1 -c%d" % CONNECTIONS, "workers": WORKERS,
                "greenhorn_version": greenhorn_version()}
    h.say("bench: %d servers, %d s x %d rounds per row, wrk -t1 -c%d, %d cores"
          % (len(servers), seconds, rounds, CONNECTIONS, os.cpu_count()))
    rows, memory, two = measure(servers, tmp, seconds, rounds)
    h.say("measuring start to first 200 ...")
    startup = startup_times(servers, tmp)
    h.say("measuring Flask's own call, with no server ...")
    calls = flask_call_costs(tmp)
    report(rows, memory, startup, servers, settings, info, two, calls)
    h.say("bench took %.0f s" % (time.monotonic() - began))


if __name__ == "__main__":
    h.run_main(main, "bench")
