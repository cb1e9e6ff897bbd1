"""workers.py - `make bench-workers`: how many workers does a sync server want?

Stage: benchmarks (bench/).  Gunicorn counterpart: the `workers` setting in
gunicorn/config.py and the docs' "(2 x $num_cores) + 1" rule of thumb,
which this study puts to the test.

Owns: the study's plan (three apps from bench/apps/work.py, each with its
worker counts and its number of wrk connections, Connection: close),
calibrating the CPU work once, the CSV and PNG per app in bench/results/,
the table and the plain-words reading of each curve, memory included.
Does not own: process handling, wrk and the /proc readers (harness.py), the
chart's look (workers.gp).

The worker counts go far enough for every curve to flatten: the cpu app's
at one worker per core, the mixed app's where the cores are busy (about
cores x (1 + 10 / 1) = 22 workers on 2 cores), the io app's where every
client has a worker.  Every count up to (2 x cores) + 1 is measured, then a
few more, evenly spaced: on 2 cores, 1-7 for cpu, 1-5, 9, 13, 16, 17, 21,
25 for io and 1-5, 10, 15, 20, 25, 30, 33 for mixed.  That is 29 points
per server, and the whole study takes about 7 minutes here.

Every point starts a fresh server with that many workers, waits for all of
them, warms it up for a second and measures for BENCH_WORKERS_SECONDS
(default 2), then reads the memory of the master and of every worker from
/proc: VmRSS, the private part (what one more worker adds) and PSS (the
server's whole memory, each shared page counted once).  The study walks
all points BENCH_WORKERS_PASSES times (default 2) and keeps each point's
best pass.  greenhorn and Gunicorn sync alternate at each point;
BENCH_WORKERS_GUNICORN=0 leaves Gunicorn out.  Connection: close makes
every request a new accept(), the shape a sync worker is built for, so the
curves show workers and nothing else.

`workers.py --threads` (make bench-threads) is the study's threads axis:
the io and mixed apps served by gthread workers, every combination of 1,
2, 4 and 8 workers (up to 4 per core) with 1, 2, 4 and 8 threads, 32
keep-alive clients per core, the same points method, best of the passes;
greenhorn -k gthread (skipped with the binary's reason while it refuses
the option) and Gunicorn gthread.  A CSV and a PNG per app
(results/threads-<app>.csv, .png; threads.gp draws them) and threads.json.
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

WARMUP_SECONDS = 1
KNEE_SHARE = 0.95  # a curve has flattened once it reaches 95% of its best
APPS = {
    "cpu": "~2 ms of pure Python per request",
    "io": "time.sleep(0.020) per request",
    "mixed": "~1 ms of Python, then time.sleep(0.010)",
}
# Per core: the most workers measured (that many per core, plus one) and
# the wrk connections (the clients).  cpu flattens at one worker per core,
# so a few past the formula's count show it.  mixed flattens where the
# cores are busy: cores x (1 + 10 / 1) = 22 on 2 cores by Little's law,
# but near that point the requests queue for the CPU and the curve bends
# slowly, so it is measured to 33 workers, with 48 clients so that only
# the CPU can stop it.  io uses almost no CPU, so nothing but the clients
# stops its curve: it rises until every client has a worker, and its 16
# clients put that point well inside the 25 workers measured.
MOST_PER_CORE = {"cpu": 3, "io": 12, "mixed": 16}  # on 2 cores: 7, 25 and 33 workers
CLIENTS_PER_CORE = {"cpu": 16, "io": 8, "mixed": 24}  # on 2 cores: 32, 16 and 48 clients
CSV_FIELDS = ["app", "server", "workers", "req_s", "p50_ms", "p99_ms", "errors", "active_conns", "rss_mib",
              "master_rss_mib", "worker_rss_mib", "worker_private_mib", "pss_mib"]
SPARSE_POINTS = 6  # at most this many counts past (2 x cores) + 1, evenly spaced up to the most


def worker_counts(cores, most, clients):
    """Every count from 1 to (2 x cores) + 1, then up to SPARSE_POINTS more, up to `most`.

    Dense at the low end, where the formula sits and the cpu curve turns;
    the straight part of the io and mixed curves needs fewer points.  The
    count with one worker per client is added when it is in range: the io
    curve turns there.  On 2 cores: 1-7 for cpu, 1-5, 9, 13, 16, 17, 21, 25
    for io, 1-5, 10, 15, 20, 25, 30, 33 for mixed.
    """
    formula = 2 * cores + 1
    counts = set(range(1, min(formula, most) + 1))
    step = max(1, -(-(most - formula) // SPARSE_POINTS))
    counts.update(range(formula + step, most + 1, step))
    counts.add(most)
    if clients <= most:
        counts.add(clients)
    return sorted(counts)


def study_plan(cores):
    """{app: {"workers": [...], "connections": n}} for a machine with `cores` cores."""
    plan = {}
    for app in APPS:
        clients = CLIENTS_PER_CORE[app] * cores
        plan[app] = {"workers": worker_counts(cores, MOST_PER_CORE[app] * cores + 1, clients),
                     "connections": clients}
    return plan


def loops_per_ms():
    """How many `burn` loops of apps/work.py run in one millisecond of CPU here.

    Five windows of 0.2 s of back-to-back calls, with the interpreter the
    servers use; the fastest window wins.  A window is long enough to give a
    sustained rate (like a worker under load, not the quicker first calls of
    a burst), and the fastest of five is the least disturbed.  The windows
    are timed in this process's own CPU time, not wall-clock time: on a
    machine shared with other programs, the time slices they take from our
    core would otherwise count as ours, and every request of the study would
    do less work than "~2 ms".  So the apps' "~2 ms" is 2 ms of one core's
    time on this machine.
    """
    sys.path.insert(0, h.APPS_DIR)
    import work  # pylint: disable=import-outside-toplevel

    best = 0
    for _ in range(5):
        calls = 0
        began = time.process_time()
        while time.process_time() - began < 0.2:
            work.burn(10000)
            calls += 1
        best = max(best, int(calls * 10000 / ((time.process_time() - began) * 1000)))
    return best


def _argv(server, workers, port, module, threads=None):
    bind = "127.0.0.1:%d" % port
    if server.startswith("greenhorn"):
        argv = [h.greenhorn_path(), "-w", str(workers), "-b", bind, "--chdir", h.APPS_DIR, module]
        gthread = list(h.GTHREAD_ARGS)
    else:
        argv = [h.PYTHON, "-m", "gunicorn", "-w", str(workers), "-b", bind, "--chdir", h.APPS_DIR, module]
        gthread = ["-k", "gthread"]
    if server.endswith("-gthread"):
        argv += gthread + ["--threads", str(threads or 1)]
    return argv


def _mib(kib):
    return round(kib / 1024.0, 1)


def wait_for_workers(proc, workers, timeout=60.0):
    """Wait until the master has all its workers.

    The first 200 comes from the first worker up.  Gunicorn starts its
    workers one at a time, up to 0.1 s apart, so 25 of them take a second
    or more; the warm-up run should find them all there.
    """
    deadline = time.monotonic() + timeout
    while len(h.children(proc.pid)) < workers:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise h.BenchError("%d of %d workers up:\n%s" % (len(h.children(proc.pid)), workers, h.log_tail(proc)))
        time.sleep(0.02)


def memory(proc, workers):
    """The server's memory after a run, from /proc, in MiB.

    rss_mib: VmRSS of the master and all workers, summed (pages they share
    are counted once per process); pss_mib: their PSS summed, each page
    counted once (the memory the server occupies); master_rss_mib; and the
    mean worker's VmRSS and private memory (worker_rss_mib,
    worker_private_mib).  Raises BenchError when the server does not have
    `workers` workers: the point would not measure what its row says.
    """
    pids = h.children(proc.pid)
    rss = [h.rss_kib(pid) for pid in pids]
    smaps = [h.smaps_kib(pid) for pid in pids]
    master_rss, master_smaps = h.rss_kib(proc.pid), h.smaps_kib(proc.pid)
    if len(pids) != workers or None in rss or None in smaps or master_rss is None or master_smaps is None:
        raise h.BenchError("expected a master and %d workers, /proc shows %d workers:\n%s"
                           % (workers, len(pids), h.log_tail(proc)))
    return {"rss_mib": _mib(master_rss + sum(rss)), "master_rss_mib": _mib(master_rss),
            "worker_rss_mib": _mib(sum(rss) / workers),
            "worker_private_mib": _mib(sum(m["private"] for m in smaps) / workers),
            "pss_mib": _mib(master_smaps["pss"] + sum(m["pss"] for m in smaps))}


def measure_point(server, app, workers, settings, tmp, threads=None):
    """Start `server` with `workers` workers on app, warm it, run wrk; one CSV row.

    With `threads` (the threads axis), the server runs gthread workers with
    that many threads and wrk keeps its connections alive; without, the
    sync study's Connection: close.
    """
    port = h.free_port()
    clients = settings["plan"][app]["connections"]
    close = threads is None
    log = os.path.join(tmp, "%s-%s-%d-%d.log" % (server, app, workers, threads or 0))
    began = time.monotonic()
    proc = h.spawn(_argv(server, workers, port, "work:" + app, threads), cwd=h.APPS_DIR, log_path=log,
                   env_extra={"BENCH_CPU_LOOPS_PER_MS": str(settings["loops_per_ms"])})
    try:
        h.wait_first_200(proc, port, began)
        wait_for_workers(proc, workers)
        h.run_wrk(port, WARMUP_SECONDS, clients, close=close)
        h.drain(proc, port)
        res = h.run_wrk(port, settings["seconds"], clients, close=close)
        mem = memory(proc, workers)
        if proc.poll() is not None:
            raise h.BenchError("%s died during the run:\n%s" % (server, h.log_tail(proc)))
    finally:
        # The point is measured: no grace period.  A graceful stop of 25
        # Gunicorn workers takes 3 s, which is not what the study measures.
        h.stop(proc, grace=0)
    row = {
        "app": app, "server": server, "workers": workers,
        **({} if threads is None else {"threads": threads, "slots": workers * threads}),
        "req_s": round(res["rps"], 1), "p50_ms": round(res["p50_ms"], 3), "p99_ms": round(res["p99_ms"], 3),
        "errors": h.error_total(res), "active_conns": round(res["active_conns"], 1),
    }
    row.update(mem)
    return row


def run_app(app, servers, settings, tmp):
    """Every worker count for one app; the best of the passes per point.

    Each pass walks all worker counts, servers alternating at each point, so
    a passing disturbance (another program taking a core) hits different
    points in different passes.  Such a disturbance can only lower req/s, so
    the pass with the most req/s is kept, as timeit keeps its fastest run.
    Every other pass walks the counts downwards: when the machine slows
    down or speeds up over a minute (other guests of a shared host do
    that), one pass alone tilts the curve, and the two directions do not
    tilt it the same way.  Returns the rows grouped by server, then by
    worker count.
    """
    best = {}
    for npass in range(settings["passes"]):
        counts = settings["plan"][app]["workers"]
        for workers in (counts if npass % 2 == 0 else counts[::-1]):
            for server in servers:
                row = measure_point(server, app, workers, settings, tmp)
                h.say("%-5s pass %d  %-13s w=%-2d  %6.0f req/s  p99 %7.1f ms  errors %d  "
                      "PSS %3.0f MiB, a worker %.1f MiB RSS, %.1f private"
                      % (app, npass + 1, server, workers, row["req_s"], row["p99_ms"], row["errors"],
                         row["pss_mib"], row["worker_rss_mib"], row["worker_private_mib"]))
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
    plan = settings["plan"][app]
    heading = "%s app (%s): wrk -c%d, Connection: close, %d cores" % (
        app, APPS[app], plan["connections"], settings["cores"])
    most = plan["workers"][-1]
    assigns = ("csvfile='%s'; pngfile='%s'; servers='%s'; heading='%s'; formula=%d; maxw=%d; "
               "xstep=%d; clients=%d" % (csv_path, png_path, " ".join(servers), heading, settings["formula"],
                                         most, 1 if most <= 12 else settings["cores"], plan["connections"]))
    done = subprocess.run(["gnuplot", "-e", assigns, os.path.join(h.BENCH_DIR, "workers.gp")],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise h.BenchError("gnuplot failed for %s:\n%s" % (app, done.stderr))


def _workers(count):
    return "%d worker%s" % (count, "" if count == 1 else "s")


def reading(app, rows, settings):
    """Plain words for one server's curve: where it flattens, what the formula gets, what a worker costs.

    rows: that server's rows, by worker count.  Returns (sentence, summary dict).
    """
    formula, cores = settings["formula"], settings["cores"]
    clients = settings["plan"][app]["connections"]
    best = max(rows, key=lambda r: r["req_s"])
    knee = next(r for r in rows if r["req_s"] >= KNEE_SHARE * best["req_s"])
    pick = next(r for r in rows if r["workers"] == formula)
    last = rows[-1]
    if knee is last:
        slope = (last["req_s"] - rows[0]["req_s"]) / max(1, last["workers"] - 1)
        words = "%s: still rising at %d workers, the most tried (+%.0f req/s per worker);" % (
            app, last["workers"], slope)
        words += " it wants more than the formula's %d" % formula
    else:
        words = "%s: flattens at %s" % (app, _workers(knee["workers"]))
        if knee["workers"] == cores:
            words += " (= cores)"
        elif knee["workers"] == clients:
            words += " (= the %d clients)" % clients
        if knee["workers"] < formula:
            words += "; the formula's %d gives %+.0f%% req/s, p99 %.1f -> %.1f ms" % (
                formula, (pick["req_s"] / knee["req_s"] - 1) * 100, knee["p99_ms"], pick["p99_ms"])
        elif knee["workers"] > formula:
            words += "; the formula's %d gets only %.0f%% of the best" % (formula, 100 * pick["req_s"] / best["req_s"])
        else:
            words += ", exactly the formula's %d" % formula
    words += "\n       formula %d: %.0f req/s (%.0f%% of best), p99 %.1f ms;" % (
        formula, pick["req_s"], 100 * pick["req_s"] / best["req_s"], pick["p99_ms"])
    words += " measured best: %s, %.0f req/s, p99 %.1f ms" % (
        _workers(best["workers"]), best["req_s"], best["p99_ms"])
    # What a worker costs: the medians over the points (a worker's memory
    # hardly depends on how many there are), the server's whole memory (PSS)
    # at the most workers, and what the workers past the knee add to it for
    # the few req/s they bring.
    rss = h.median([r["worker_rss_mib"] for r in rows])
    private = h.median([r["worker_private_mib"] for r in rows])
    words += "\n       a worker: %.1f MiB RSS, %.1f MiB of it private; %s: %.0f MiB in all (PSS)" % (
        rss, private, _workers(last["workers"]), last["pss_mib"])
    if knee is not last:
        words += "; %d -> %d workers: %+.0f%% req/s for %+.0f MiB" % (
            knee["workers"], last["workers"], (last["req_s"] / knee["req_s"] - 1) * 100,
            last["pss_mib"] - knee["pss_mib"])
    summary = {"flattens_at": knee["workers"], "best_workers": best["workers"], "best_req_s": best["req_s"],
               "formula": formula, "formula_req_s": pick["req_s"],
               "formula_share_of_best": round(pick["req_s"] / best["req_s"], 3),
               "still_rising": knee is last, "most_workers": last["workers"], "clients": clients,
               "worker_rss_mib": rss, "worker_private_mib": private, "pss_mib_at_most": last["pss_mib"],
               "pss_mib_at_knee": knee["pss_mib"]}
    return words, summary


def print_table(rows, settings):
    """Print every point, the (2 x cores) + 1 rows marked."""
    cells = []
    for r in rows:
        mark = "<- (2 x cores) + 1" if r["workers"] == settings["formula"] else ""
        cells.append([r["app"], r["server"], str(r["workers"]), "%.0f" % r["req_s"], "%.2f" % r["p50_ms"],
                      "%.2f" % r["p99_ms"], str(r["errors"]), "%.0f" % r["rss_mib"], "%.0f" % r["pss_mib"],
                      "%.1f" % r["worker_rss_mib"], "%.1f" % r["worker_private_mib"], mark])
    h.say(h.table(["app", "server", "workers", "req/s", "p50 ms", "p99 ms", "errors", "RSS MiB", "PSS MiB",
                   "worker RSS", "private", ""], cells))


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


def report(all_rows, readings, servers, settings, info, took):
    """Print the table and the readings; write bench/results/workers.json."""
    h.say("")
    print_table(all_rows, settings)
    for server in servers:
        h.say("\n%s:" % server)
        for app in APPS:
            h.say("  " + readings[app][server][0])
    h.write_json(os.path.join(h.RESULTS_DIR, "workers.json"), {
        "timestamp": time.strftime("%Y%m%d-%H%M%S"), "machine": info, "settings": settings,
        "took_s": took,
        "readings": {app: {s: v[1] for s, v in per.items()} for app, per in readings.items()},
        "rows": all_rows})
    h.say("\nwrote bench/results/workers-{cpu,io,mixed}.csv and .png, workers.json")


def _begin():
    """What both studies do first: clean-up on exit, the tools they need, the
    machine, and a warning when it is already busy.  Returns (the monotonic
    start, the machine's description, the number of cores)."""
    h.install_cleanup()
    began = time.monotonic()
    for tool in ("wrk", "gnuplot"):
        if not shutil.which(tool):
            raise h.BenchError("%s not installed (apt-get install %s)" % (tool, tool))
    info = h.machine()
    warning = h.busy_warning()
    if warning:
        h.say(warning)
    return began, info, os.cpu_count() or 1


def main():
    """`make bench-workers`; raises BenchError when the study cannot run."""
    began, info, cores = _begin()
    settings = {"cores": cores, "formula": 2 * cores + 1, "plan": study_plan(cores),
                "seconds": h.env_number("BENCH_WORKERS_SECONDS", 2),
                "warmup_seconds": WARMUP_SECONDS,
                "passes": h.env_number("BENCH_WORKERS_PASSES", 2),
                "loops_per_ms": loops_per_ms()}
    servers = study_servers()
    tmp = h.make_tempdir("greenhorn-workers-")
    os.makedirs(h.RESULTS_DIR, exist_ok=True)
    h.say("workers study: %s, best of %d passes of %d s per point, wrk -t1, Connection: close, "
          "cpu work %d loops/ms" % (" and ".join(servers), settings["passes"], settings["seconds"],
                                    settings["loops_per_ms"]))
    for app, plan in settings["plan"].items():
        h.say("  %-5s workers %s, wrk -c%d" % (app, ",".join(str(w) for w in plan["workers"]), plan["connections"]))
    all_rows, readings, took = [], {}, {}
    for app in APPS:
        app_began = time.monotonic()
        rows = run_app(app, servers, settings, tmp)
        csv_path = os.path.join(h.RESULTS_DIR, "workers-%s.csv" % app)
        write_csv(csv_path, rows)
        chart(app, csv_path, os.path.join(h.RESULTS_DIR, "workers-%s.png" % app), servers, settings)
        all_rows += rows
        readings[app] = {s: reading(app, [r for r in rows if r["server"] == s], settings) for s in servers}
        took[app] = round(time.monotonic() - app_began)
    took["total"] = round(time.monotonic() - began)
    report(all_rows, readings, servers, settings, info, took)
    h.say("workers study took %d s (%s)" % (took["total"], ", ".join("%s %d s" % (a, took[a]) for a in APPS)))


# ---- the threads axis (make bench-threads) ------------------------------------------------

THREAD_APPS = ("io", "mixed")
THREAD_COUNTS = (1, 2, 4, 8)
THREAD_CLIENTS_PER_CORE = 32  # on 2 cores: 64 clients, the most slots measured (8 workers x 8 threads)
THREAD_CSV_FIELDS = ["app", "server", "workers", "threads", "slots", "req_s", "p50_ms", "p99_ms", "errors",
                     "active_conns", "rss_mib", "master_rss_mib", "worker_rss_mib", "worker_private_mib", "pss_mib"]


def threads_plan(cores):
    """{app: {"workers": [...], "threads": [...], "connections": n}} for the threads axis.

    Workers 1, 2, 4 ... up to 4 per core (1, 2, 4, 8 on 2 cores), each with
    1, 2, 4 and 8 threads; as many clients as the most slots (workers x
    threads), so that only the server can stop a curve.
    """
    most = 4 * cores
    workers = sorted({min(2 ** n, most) for n in range(most.bit_length() + 1)})
    clients = max(THREAD_CLIENTS_PER_CORE * cores, most * THREAD_COUNTS[-1])
    return {app: {"workers": workers, "threads": list(THREAD_COUNTS), "connections": clients}
            for app in THREAD_APPS}


def threads_servers():
    """greenhorn gthread if the binary accepts -k gthread, and Gunicorn gthread unless BENCH_WORKERS_GUNICORN=0.

    Returns (servers, {server: skip reason}).  Prints one line per skipped server.
    """
    servers, skipped = [], {}
    reason = h.gthread_refused(THREAD_COUNTS[-1])
    if reason:
        h.say("skip greenhorn-gthread: %s" % reason)
        skipped["greenhorn-gthread"] = reason
    else:
        servers.append("greenhorn-gthread")
    if os.environ.get("BENCH_WORKERS_GUNICORN", "1") != "0":
        servers.append("gunicorn-gthread")
    else:
        skipped["gunicorn-gthread"] = "BENCH_WORKERS_GUNICORN=0"
    if not servers:
        raise h.BenchError("nothing to measure: greenhorn refuses -k gthread and Gunicorn is off")
    return servers, skipped


def run_threads_app(app, servers, settings, tmp):
    """Every workers x threads point of one app, best of the passes (as run_app); rows by server, workers, threads."""
    plan = settings["plan"][app]
    points = [(w, t) for w in plan["workers"] for t in plan["threads"]]
    best = {}
    for npass in range(settings["passes"]):
        for workers, threads in (points if npass % 2 == 0 else points[::-1]):
            for server in servers:
                row = measure_point(server, app, workers, settings, tmp, threads=threads)
                h.say("%-5s pass %d  %-17s w=%d t=%d  %6.0f req/s  p99 %7.1f ms  errors %d  PSS %3.0f MiB"
                      % (app, npass + 1, server, workers, threads, row["req_s"], row["p99_ms"], row["errors"],
                         row["pss_mib"]))
                kept = best.get((server, workers, threads))
                if kept is None or row["req_s"] > kept["req_s"]:
                    best[(server, workers, threads)] = row
    return sorted(best.values(), key=lambda r: (servers.index(r["server"]), r["workers"], r["threads"]))


def threads_chart(app, csv_path, png_path, servers, settings):
    """Draw one app's workers x threads chart with gnuplot (threads.gp); raises BenchError if it fails."""
    plan = settings["plan"][app]
    heading = "%s app (%s): wrk -c%d, keep-alive, gthread workers, %d cores" % (
        app, APPS[app], plan["connections"], settings["cores"])
    assigns = ("csvfile='%s'; pngfile='%s'; servers='%s'; workers='%s'; heading='%s'; maxt=%d"
               % (csv_path, png_path, " ".join(servers), " ".join(str(w) for w in plan["workers"]), heading,
                  plan["threads"][-1]))
    done = subprocess.run(["gnuplot", "-e", assigns, os.path.join(h.BENCH_DIR, "threads.gp")],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise h.BenchError("gnuplot failed for %s:\n%s" % (app, done.stderr))


def threads_reading(app, rows):
    """Plain words for one server's grid: what threads add to each worker count, and equal slots compared.

    rows: that server's rows.  Returns (text, summary dict).
    """
    at = {(r["workers"], r["threads"]): r for r in rows}
    workers = sorted({r["workers"] for r in rows})
    threads = sorted({r["threads"] for r in rows})
    best = max(rows, key=lambda r: r["req_s"])
    lines = ["%s: best %d x %d (workers x threads), %.0f req/s, p99 %.1f ms, %.0f MiB (PSS)"
             % (app, best["workers"], best["threads"], best["req_s"], best["p99_ms"], best["pss_mib"])]
    gains = {}
    for w in workers:
        one, most = at.get((w, threads[0])), at.get((w, threads[-1]))
        if one and most and one["req_s"]:
            gains[w] = round(most["req_s"] / one["req_s"], 2)
    if gains:
        lines.append("threads %d -> %d: %s" % (threads[0], threads[-1], ", ".join(
            "%.1fx at %d worker%s" % (g, w, "" if w == 1 else "s") for w, g in gains.items())))
    # The same number of slots (requests a server can hold at once), as workers or as threads.
    # The slot count measured in the most ways (on 2 cores: 8 = 1 x 8, 2 x 4, 4 x 2, 8 x 1), the larger on a tie.
    ways = {}
    for r in rows:
        ways[r["slots"]] = ways.get(r["slots"], 0) + 1
    slots = max(ways, key=lambda n: (ways[n], n)) if rows and max(ways.values()) > 1 else None
    same = sorted((r for r in rows if r["slots"] == slots), key=lambda r: r["workers"])
    if slots:
        lines.append("%d slots: %s" % (slots, "; ".join(
            "%d x %d %.0f req/s, p99 %.1f ms, %.0f MiB" % (r["workers"], r["threads"], r["req_s"], r["p99_ms"],
                                                           r["pss_mib"]) for r in same)))
    summary = {"best": {k: best[k] for k in ("workers", "threads", "req_s", "p99_ms", "pss_mib")},
               "threads_gain_by_workers": gains, "same_slots": slots,
               "same_slots_rows": [{k: r[k] for k in ("workers", "threads", "req_s", "p99_ms", "pss_mib")}
                                   for r in same]}
    return "\n       ".join(lines), summary


def threads_main():
    """`make bench-threads`: the workers x threads grid for the io and mixed apps."""
    began, info, cores = _begin()
    servers, skipped = threads_servers()
    settings = {"cores": cores, "plan": threads_plan(cores), "keep_alive": True,
                "seconds": h.env_number("BENCH_WORKERS_SECONDS", 2), "warmup_seconds": WARMUP_SECONDS,
                "passes": h.env_number("BENCH_WORKERS_PASSES", 2), "loops_per_ms": loops_per_ms(),
                "skipped": skipped}
    tmp = h.make_tempdir("greenhorn-threads-")
    os.makedirs(h.RESULTS_DIR, exist_ok=True)
    h.say("threads axis: %s, best of %d passes of %d s per point, wrk -t1, keep-alive, cpu work %d loops/ms"
          % (" and ".join(servers), settings["passes"], settings["seconds"], settings["loops_per_ms"]))
    for app, plan in settings["plan"].items():
        h.say("  %-5s workers %s x threads %s, wrk -c%d" % (app, ",".join(map(str, plan["workers"])),
                                                          ",".join(map(str, plan["threads"])), plan["connections"]))
    all_rows, readings, took = [], {}, {}
    for app in THREAD_APPS:
        app_began = time.monotonic()
        rows = run_threads_app(app, servers, settings, tmp)
        csv_path = os.path.join(h.RESULTS_DIR, "threads-%s.csv" % app)
        tmp_csv = csv_path + ".tmp"
        with open(tmp_csv, "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=THREAD_CSV_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp_csv, csv_path)
        threads_chart(app, csv_path, os.path.join(h.RESULTS_DIR, "threads-%s.png" % app), servers, settings)
        all_rows += rows
        readings[app] = {s: threads_reading(app, [r for r in rows if r["server"] == s]) for s in servers}
        took[app] = round(time.monotonic() - app_began)
    took["total"] = round(time.monotonic() - began)
    h.say("")
    cells = [[r["app"], r["server"], str(r["workers"]), str(r["threads"]), "%.0f" % r["req_s"], "%.2f" % r["p50_ms"],
              "%.2f" % r["p99_ms"], str(r["errors"]), "%.0f" % r["pss_mib"], "%.1f" % r["worker_rss_mib"]]
             for r in all_rows]
    h.say(h.table(["app", "server", "workers", "threads", "req/s", "p50 ms", "p99 ms", "errors", "PSS MiB",
                   "worker RSS"], cells))
    for server in servers:
        h.say("\n%s:" % server)
        for app in THREAD_APPS:
            h.say("  " + readings[app][server][0])
    for server, reason in skipped.items():
        h.say("\n%s: skipped, %s" % (server, reason))
    h.write_json(os.path.join(h.RESULTS_DIR, "threads.json"), {
        "timestamp": time.strftime("%Y%m%d-%H%M%S"), "machine": info, "settings": settings, "took_s": took,
        "readings": {app: {s: v[1] for s, v in per.items()} for app, per in readings.items()},
        "rows": all_rows})
    h.say("\nwrote bench/results/threads-{io,mixed}.csv and .png, threads.json")
    h.say("threads axis took %d s (%s)" % (took["total"], ", ".join("%s %d s" % (a, took[a]) for a in THREAD_APPS)))


if __name__ == "__main__":
    if sys.argv[1:] == ["--threads"]:
        h.run_main(threads_main, "bench-threads")
    elif sys.argv[1:]:
        h.say("usage: workers.py [--threads]  (make bench-workers; with --threads, make bench-threads)")
        sys.exit(2)
    else:
        h.run_main(main, "bench-workers")
