"""workers.py - `make bench-workers`: how many workers does a sync server want?

Stage: benchmarks (bench/).  Gunicorn counterpart: the `workers` setting in
gunicorn/config.py and the docs' "(2 x $num_cores) + 1" rule of thumb,
which this study puts to the test.

Owns: the study's plan (1 to (2 x cores) + 3 workers, three apps from
bench/apps/work.py, wrk -t1 -c32 with Connection: close), calibrating the
CPU work once, the CSV and PNG per app in bench/results/, the table and the
plain-words reading of each curve.  Does not own: process handling and wrk
(harness.py), the chart's look (workers.gp).

Every point starts a fresh server with that many workers, warms it up for a
second and measures for BENCH_WORKERS_SECONDS (default 3); the study walks
all points BENCH_WORKERS_PASSES times (default 2) and keeps each point's
best pass.  greenhorn and Gunicorn sync alternate at each point;
BENCH_WORKERS_GUNICORN=0 leaves Gunicorn out.  Connection: close makes every request a new accept(), the
shape a sync worker is built for, so the curves show workers and nothing else.
Exit status: 0 when the study ran, 1 when it could not.
"""

import csv
import os
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import harness as h  # noqa: E402  (after the line above, on purpose)

CONNECTIONS = 32
WARMUP_SECONDS = 1
KNEE_SHARE = 0.95  # a curve has flattened once it reaches 95% of its best
APPS = {
    "cpu": "~2 ms of pure Python per request",
    "io": "time.sleep(0.020) per request",
    "mixed": "~1 ms of Python, then time.sleep(0.010)",
}
CSV_FIELDS = ["app", "server", "workers", "req_s", "p50_ms", "p99_ms", "errors", "active_conns", "rss_mib"]


def loops_per_ms():
    """How many `burn` loops of apps/work.py run in one millisecond here.

    Five windows of 0.2 s of back-to-back calls, with the interpreter the
    servers use; the fastest window wins.  A window is long enough to give a
    sustained rate (like a worker under load, not the quicker first calls of
    a burst), and the fastest of five is the least disturbed by other
    programs.  So the apps' "~2 ms" holds for one worker alone on this machine.
    """
    sys.path.insert(0, h.APPS_DIR)
    import work  # pylint: disable=import-outside-toplevel

    best = 0
    for _ in range(5):
        calls = 0
        began = time.perf_counter()
        while time.perf_counter() - began < 0.2:
            work.burn(10000)
            calls += 1
        best = max(best, int(calls * 10000 / ((time.perf_counter() - began) * 1000)))
    return best


def _argv(server, workers, port, module):
    bind = "127.0.0.1:%d" % port
    if server == "greenhorn":
        return [h.greenhorn_path(), "-w", str(workers), "-b", bind, "--chdir", h.APPS_DIR, module]
    return [h.PYTHON, "-m", "gunicorn", "-w", str(workers), "-b", bind, "--chdir", h.APPS_DIR, module]


def measure_point(server, app, workers, settings, tmp):
    """Start `server` with `workers` workers on app, warm it, run wrk; one CSV row."""
    port = h.free_port()
    log = os.path.join(tmp, "%s-%s-%d.log" % (server, app, workers))
    began = time.monotonic()
    proc = h.spawn(_argv(server, workers, port, "work:" + app), cwd=h.APPS_DIR, log_path=log,
                   env_extra={"BENCH_CPU_LOOPS_PER_MS": str(settings["loops_per_ms"])})
    try:
        h.wait_first_200(proc, port, began)
        h.run_wrk(port, WARMUP_SECONDS, CONNECTIONS, close=True)
        h.drain(proc, port)
        res = h.run_wrk(port, settings["seconds"], CONNECTIONS, close=True)
        mem = h.memory_of(proc)
        if proc.poll() is not None:
            raise h.BenchError("%s died during the run:\n%s" % (server, h.log_tail(proc)))
    finally:
        h.stop(proc)
    rss = (mem["master_kib"] or 0) + sum(mem["workers_kib"])
    return {
        "app": app, "server": server, "workers": workers,
        "req_s": round(res["rps"], 1), "p50_ms": round(res["p50_ms"], 3), "p99_ms": round(res["p99_ms"], 3),
        "errors": h.error_total(res), "active_conns": round(res["active_conns"], 1),
        "rss_mib": round(rss / 1024.0, 1),
    }


def run_app(app, servers, settings, tmp):
    """Every worker count for one app; the best of the passes per point.

    Each pass walks all worker counts, servers alternating at each point, so
    a passing disturbance (another program taking a core) hits different
    points in different passes.  Such a disturbance can only lower req/s, so
    the pass with the most req/s is kept, as timeit keeps its fastest run.
    Returns the rows grouped by server, then by worker count.
    """
    best = {}
    for npass in range(settings["passes"]):
        for workers in range(1, settings["max_workers"] + 1):
            for server in servers:
                row = measure_point(server, app, workers, settings, tmp)
                h.say("%-5s pass %d  %-13s w=%d  %8.0f req/s  p99 %8.2f ms  errors %d  RSS %.0f MiB"
                      % (app, npass + 1, server, workers, row["req_s"], row["p99_ms"], row["errors"],
                         row["rss_mib"]))
                kept = best.get((server, workers))
                if kept is None or row["req_s"] > kept["req_s"]:
                    best[(server, workers)] = row
    return sorted(best.values(), key=lambda r: (servers.index(r["server"]), r["workers"]))


def write_csv(path, rows):
    """Write one app's rows (CSV_FIELDS) through a .tmp file."""
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def chart(app, csv_path, png_path, servers, settings):
    """Draw one app's chart with gnuplot; raises BenchError if gnuplot fails."""
    heading = "%s app (%s): wrk -c%d, Connection: close, %d cores" % (
        app, APPS[app], CONNECTIONS, settings["cores"])
    assigns = "csvfile='%s'; pngfile='%s'; servers='%s'; heading='%s'; formula=%d; maxw=%d" % (
        csv_path, png_path, " ".join(servers), heading, settings["formula"], settings["max_workers"])
    done = subprocess.run(["gnuplot", "-e", assigns, os.path.join(h.BENCH_DIR, "workers.gp")],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise h.BenchError("gnuplot failed for %s:\n%s" % (app, done.stderr))


def _workers(count):
    return "%d worker%s" % (count, "" if count == 1 else "s")


def reading(app, rows, settings):
    """Plain words for one server's curve: where it flattens, what the formula gets.

    rows: that server's rows, by worker count.  Returns (sentence, summary dict).
    """
    formula, cores, most = settings["formula"], settings["cores"], settings["max_workers"]
    best = max(rows, key=lambda r: r["req_s"])
    knee = next(r for r in rows if r["req_s"] >= KNEE_SHARE * best["req_s"])
    pick = next(r for r in rows if r["workers"] == formula)
    if knee["workers"] == most:
        slope = (rows[-1]["req_s"] - rows[0]["req_s"]) / max(1, most - 1)
        words = "%s: still rising at %d workers, the most tried (+%.0f req/s per worker);" % (app, most, slope)
        words += " it wants more than the formula's %d" % formula
    else:
        words = "%s: flattens at %s" % (app, _workers(knee["workers"]))
        if knee["workers"] == cores:
            words += " (= cores)"
        if knee["workers"] < formula:
            words += "; the formula's %d gives %+.0f%% req/s for %+.0f MiB, p99 %.1f -> %.1f ms" % (
                formula, (pick["req_s"] / knee["req_s"] - 1) * 100, pick["rss_mib"] - knee["rss_mib"],
                knee["p99_ms"], pick["p99_ms"])
        elif knee["workers"] > formula:
            words += "; the formula's %d gets only %.0f%% of the best" % (formula, 100 * pick["req_s"] / best["req_s"])
        else:
            words += ", exactly the formula's %d" % formula
    words += "\n       formula %d: %.0f req/s (%.0f%% of best), p99 %.1f ms;" % (
        formula, pick["req_s"], 100 * pick["req_s"] / best["req_s"], pick["p99_ms"])
    words += " measured best: %s, %.0f req/s, p99 %.1f ms" % (
        _workers(best["workers"]), best["req_s"], best["p99_ms"])
    summary = {"flattens_at": knee["workers"], "best_workers": best["workers"], "best_req_s": best["req_s"],
               "formula": formula, "formula_req_s": pick["req_s"],
               "formula_share_of_best": round(pick["req_s"] / best["req_s"], 3),
               "still_rising": knee["workers"] == most}
    return words, summary


def print_table(rows, settings):
    """Print every point, the (2 x cores) + 1 rows marked."""
    cells = []
    for r in rows:
        mark = "<- (2 x cores) + 1" if r["workers"] == settings["formula"] else ""
        cells.append([r["app"], r["server"], str(r["workers"]), "%.0f" % r["req_s"], "%.2f" % r["p50_ms"],
                      "%.2f" % r["p99_ms"], str(r["errors"]), "%.0f" % r["rss_mib"], mark])
    h.say(h.table(["app", "server", "workers", "req/s", "p50 ms", "p99 ms", "errors", "RSS MiB", ""], cells))


def study_servers():
    """greenhorn if built, and Gunicorn sync unless BENCH_WORKERS_GUNICORN=0."""
    servers = []
    reason = h.greenhorn_missing()
    if reason:
        h.say("skip greenhorn: %s" % reason)
    else:
        servers.append("greenhorn")
    if os.environ.get("BENCH_WORKERS_GUNICORN", "1") != "0":
        servers.append("gunicorn-sync")
    if not servers:
        raise h.BenchError("nothing to measure: greenhorn is not built and Gunicorn is off")
    return servers


def report(all_rows, readings, servers, settings, info):
    """Print the table and the readings; write bench/results/workers.json."""
    h.say("")
    print_table(all_rows, settings)
    for server in servers:
        h.say("\n%s:" % server)
        for app in APPS:
            h.say("  " + readings[app][server][0])
    h.write_json(os.path.join(h.RESULTS_DIR, "workers.json"), {
        "timestamp": time.strftime("%Y%m%d-%H%M%S"), "machine": info, "settings": settings,
        "readings": {app: {s: v[1] for s, v in per.items()} for app, per in readings.items()},
        "rows": all_rows})
    h.say("\nwrote bench/results/workers-{cpu,io,mixed}.csv and .png, workers.json")


def main():
    """`make bench-workers`; raises BenchError when the study cannot run."""
    h.install_cleanup()
    began = time.monotonic()
    for tool in ("wrk", "gnuplot"):
        if not shutil.which(tool):
            raise h.BenchError("%s not installed (apt-get install %s)" % (tool, tool))
    info = h.machine()
    warning = h.busy_warning()
    if warning:
        h.say(warning)
    cores = os.cpu_count() or 1
    settings = {"cores": cores, "formula": 2 * cores + 1, "max_workers": 2 * cores + 3,
                "seconds": h.env_number("BENCH_WORKERS_SECONDS", 3),
                "passes": h.env_number("BENCH_WORKERS_PASSES", 2), "connections": CONNECTIONS,
                "loops_per_ms": loops_per_ms()}
    servers = study_servers()
    tmp = h.make_tempdir("greenhorn-workers-")
    os.makedirs(h.RESULTS_DIR, exist_ok=True)
    h.say("workers study: 1..%d workers, %s, best of %d passes of %d s per point, wrk -t1 -c%d, "
          "cpu work %d loops/ms" % (settings["max_workers"], " and ".join(servers), settings["passes"],
                                    settings["seconds"], CONNECTIONS, settings["loops_per_ms"]))
    all_rows, readings = [], {}
    for app in APPS:
        rows = run_app(app, servers, settings, tmp)
        csv_path = os.path.join(h.RESULTS_DIR, "workers-%s.csv" % app)
        write_csv(csv_path, rows)
        chart(app, csv_path, os.path.join(h.RESULTS_DIR, "workers-%s.png" % app), servers, settings)
        all_rows += rows
        readings[app] = {s: reading(app, [r for r in rows if r["server"] == s], settings) for s in servers}
    report(all_rows, readings, servers, settings, info)
    h.say("workers study took %.0f s" % (time.monotonic() - began))


if __name__ == "__main__":
    h.run_main(main, "bench-workers")
