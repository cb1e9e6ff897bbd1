"""ab.py - `make bench-ab`: greenhorn and Gunicorn sync loaded at the same time.

Stage: benchmarks (bench/).  Gunicorn counterpart: none; the other side is
the real Gunicorn 20.1.

Why a second method.  `make bench` runs one server at a time, round after
round.  On this kind of virtual machine the speed of the CPU drifts by up
to 40% within minutes, so when an app's own Python dominates a request
(a template, an ORM, pure-Python work), which server drew the slow seconds
decides the ratio: two full runs gave the CPU-bound app 1.32x and 0.84x.
Here both servers run *at once*, one worker each, each with its own
`wrk -t1 -c4 -H 'Connection: close'`, and both servers are pinned to the
same core (the wrks to the other): both workers are always runnable, the
kernel gives each half of that one core, moment by moment, so the ratio
of their req/s is the inverse ratio of what each needs per request,
whatever the machine does meanwhile.  Without the pinning each worker
drifts between the two virtual cores, which are not equally fast at a
given moment (a neighbour on the host, steal time): passes of one app
then disagreed by up to 0.7x.  The CPU each server's processes used (from
/proc) is reported next to it, as the check that the shares were even.

Owns: the paired runs and their table, bench/results/ab-latest.json (and a
stamped copy), and the issue's targets for the Python-heavy apps.  Does not
own: the apps and how each server is started (bench.py), wrk and /proc
(harness.py).

Settings: BENCH_AB_APPS (default cpu,jinja,django,flask,hello),
BENCH_AB_SECONDS (per pass, 10), BENCH_AB_PASSES (3; the servers swap which
wrk starts first on every pass).  Exit status 0 when the runs happened, 1
when the bench could not run.
"""

import os
import shutil
import sys
import threading
import time

sys.dont_write_bytecode = True
import bench  # noqa: E402  (after the line above, on purpose)
import harness as h  # noqa: E402
import workers as study  # noqa: E402

SIDES = ("greenhorn", bench.BASELINE)
CONNECTIONS = 4  # per server: enough to keep its one worker busy, few enough to queue little
DEFAULT_APPS = ("cpu", "jinja", "django", "flask", "hello")
# The targets of the Python-heavy rows (greenhorn / Gunicorn sync req/s).
TARGETS = {"cpu": 1.0, "jinja": 1.1, "django": 1.1, "flask": 2.0}
ONE_WORKER = bench.RowSet("ab", 1, CONNECTIONS, {}, "1 worker each, both loaded at once", bench.BASELINE)


SERVER_CORE = 0  # both servers (every process of each) run here
CLIENT_CORES = None  # the wrks: every other core (set in main)


def _pinned(cores, action):
    """Run action() with this thread bound to cores, so that what it starts
    inherits them; the thread's own binding is put back after."""
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        return action()
    finally:
        os.sched_setaffinity(0, saved)


def _start(side, app, tmp, env):
    inst = bench.Instance(bench.SERVERS[bench.SERVER_ORDER[side]], app, ONE_WORKER)
    _pinned({SERVER_CORE}, lambda: bench.start(inst, tmp, env))
    h.wait_first_200(inst.proc, inst.port, inst.started, path=bench.APPS[app].path)
    return inst


def paired_run(instances, seconds, first):
    """Both wrks at once (the one of side `first` started first); {side: result}."""
    results, errors = {}, []

    def one(inst):
        app = bench.APPS[inst.app]
        before = h.server_cpu_seconds(inst.proc)
        try:
            res = _pinned(CLIENT_CORES, lambda: h.run_wrk(inst.port, seconds, CONNECTIONS, close=True,
                                                         path=app.path, post_bytes=app.post_bytes))
        except h.BenchError as err:
            errors.append(err)
            return
        used = h.server_cpu_seconds(inst.proc) - before
        res["server_cpu_s"] = used
        res["server_us_per_req"] = used / max(1, res["requests"]) * 1e6
        res["server_cpu_share"] = used / max(1e-3, res["wall_s"])
        results[inst.server.name] = res

    order = sorted(instances, key=lambda i: i.server.name != first)
    threads = [threading.Thread(target=one, args=(inst,)) for inst in order]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    for inst in instances:
        if inst.proc.poll() is not None:
            raise h.BenchError("%s died during the run:\n%s" % (inst.server.name, h.log_tail(inst.proc)))
        h.drain(inst.proc, inst.port, path=bench.APPS[inst.app].path)
    return results


def measure_app(app, tmp, env, seconds, passes):
    """Start both servers for app, warm them together, run the passes; a row."""
    instances = []
    try:
        for side in SIDES:
            instances.append(_start(side, app, tmp, env))
        paired_run(instances, bench.WARMUP_SECONDS + 1, SIDES[0])  # warm-up, not kept
        runs = []
        for n in range(passes):
            first = SIDES[n % 2]
            got = paired_run(instances, seconds, first)
            ratio = got["greenhorn"]["rps"] / max(1e-9, got[bench.BASELINE]["rps"])
            runs.append({"first": first, "ratio": ratio, **{side: got[side] for side in SIDES}})
            h.say("%-7s pass %d/%d  greenhorn %7.0f req/s (%4.0f%% CPU, %6.0f us/req)   gunicorn-sync %7.0f req/s"
                  " (%4.0f%% CPU, %6.0f us/req)   ratio %.2fx"
                  % (app, n + 1, passes, got["greenhorn"]["rps"], 100 * got["greenhorn"]["server_cpu_share"],
                     got["greenhorn"]["server_us_per_req"], got[bench.BASELINE]["rps"],
                     100 * got[bench.BASELINE]["server_cpu_share"], got[bench.BASELINE]["server_us_per_req"],
                     ratio))
        memory = {i.server.name: h.memory_of(i.proc) for i in instances}
    finally:
        h.stop([i.proc for i in instances])
    return {
        "app": app,
        "ratio": h.median([r["ratio"] for r in runs]),
        "ratios": [r["ratio"] for r in runs],
        "us_per_req": {side: h.median([r[side]["server_us_per_req"] for r in runs]) for side in SIDES},
        "cpu_share": {side: h.median([r[side]["server_cpu_share"] for r in runs]) for side in SIDES},
        "rps": {side: h.median([r[side]["rps"] for r in runs]) for side in SIDES},
        "errors": {side: sum(h.error_total(r[side]) for r in runs) for side in SIDES},
        "memory": memory,
        "runs": runs,
    }


def checks(rows):
    """The issue's targets for the apps measured: PASS/FAIL lines."""
    out = []
    for row in rows:
        want = TARGETS.get(row["app"])
        if want is None:
            continue
        ok = row["ratio"] >= want and not any(row["errors"].values())
        out.append({"target": "%s: greenhorn >= %.1fx Gunicorn sync, both loaded at once" % (row["app"], want),
                    "result": "PASS" if ok else "FAIL",
                    "detail": "median %.2fx (passes %s); CPU per request %.0f vs %.0f us"
                              % (row["ratio"], ", ".join("%.2f" % r for r in row["ratios"]),
                                 row["us_per_req"]["greenhorn"], row["us_per_req"][bench.BASELINE])})
    return out


def main(argv=None):
    """`make bench-ab`."""
    del argv
    h.install_cleanup()
    began = time.monotonic()
    if not shutil.which("wrk"):
        raise h.BenchError("wrk not installed (apt-get install wrk)")
    reason = h.greenhorn_missing() or bench._why_missing(bench.BASELINE)
    if reason:
        raise h.BenchError("cannot compare: %s" % reason)
    wanted = [a.strip() for a in os.environ.get("BENCH_AB_APPS", ",".join(DEFAULT_APPS)).split(",") if a.strip()]
    unknown = [a for a in wanted if a not in bench.APPS or a not in bench.PY_APPS]
    if unknown:
        raise h.BenchError("BENCH_AB_APPS: unknown app %s (known: %s)" % (", ".join(unknown), ", ".join(bench.PY_APPS)))
    global CLIENT_CORES
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise h.BenchError("needs two cores: one for both servers, one for the load")
    CLIENT_CORES = set(cores) - {SERVER_CORE} if SERVER_CORE in cores else set(cores[1:])
    seconds = h.env_number("BENCH_AB_SECONDS", 10)
    passes = h.env_number("BENCH_AB_PASSES", 3)
    warning = h.busy_warning()
    if warning:
        h.say(warning)
    tmp = h.make_tempdir("greenhorn-ab-")
    loops = study.loops_per_ms() if "cpu" in wanted else None
    env = {"BENCH_CPU_LOOPS_PER_MS": str(loops)} if loops else {}
    h.say("bench-ab: greenhorn and gunicorn-sync at the same time, 1 worker each, both on core %d; wrk -t1 -c%d"
          " -H 'Connection: close' against each, on core(s) %s; %d s x %d passes per app"
          % (SERVER_CORE, CONNECTIONS, ",".join(map(str, sorted(CLIENT_CORES))), seconds, passes))
    h.say("greenhorn's Python: %s" % {"python3": "python3 runs greenhorn.so",
                                      "embedded": "the interpreter linked in"}[h.greenhorn_interpreter()])
    rows = []
    for app in wanted:
        reason = bench._why_app_missing(app)
        if reason:
            h.say("skip %s: %s" % (app, reason))
            continue
        rows.append(measure_app(app, tmp, env, seconds, passes))
    h.say("")
    h.say(h.table(["app", "greenhorn / gunicorn-sync", "passes", "CPU per request (us)", "CPU share", "errors"],
                  [[r["app"], "%.2fx" % r["ratio"], " ".join("%.2f" % x for x in r["ratios"]),
                    "%.0f vs %.0f" % (r["us_per_req"]["greenhorn"], r["us_per_req"][bench.BASELINE]),
                    "%.0f%% vs %.0f%%" % (100 * r["cpu_share"]["greenhorn"], 100 * r["cpu_share"][bench.BASELINE]),
                    "%d / %d" % (r["errors"]["greenhorn"], r["errors"][bench.BASELINE])] for r in rows]))
    found = checks(rows)
    h.say("")
    for c in found:
        h.say("%-4s  %-58s %s" % (c["result"], c["target"], c["detail"]))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    data = {"timestamp": stamp, "machine": h.machine(), "greenhorn_version": bench.greenhorn_version(),
            "greenhorn_interpreter": h.greenhorn_interpreter(),
            "settings": {"seconds": seconds, "passes": passes, "connections": CONNECTIONS, "workers": 1,
                         "server_core": SERVER_CORE, "client_cores": sorted(CLIENT_CORES),
                         "cpu_loops_per_ms": loops},
            "rows": rows, "targets": found}
    os.makedirs(h.RESULTS_DIR, exist_ok=True)
    h.write_json(os.path.join(h.RESULTS_DIR, "ab-%s.json" % stamp), data)
    h.write_json(os.path.join(h.RESULTS_DIR, "ab-latest.json"), data)
    h.say("\nwrote bench/results/ab-%s.json and ab-latest.json; bench-ab took %.0f s"
          % (stamp, time.monotonic() - began))


if __name__ == "__main__":
    h.run_main(main, "bench-ab")
