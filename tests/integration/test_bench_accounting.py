"""How `make bench` says where the CPU went, and what limited each row.

For every row, bench.py reports the server's CPU time per request (master
and workers, from /proc) and wrk's own CPU (read from /proc/PID/stat once
wrk has exited and before it is reaped), and flags what held req/s down:
the load generator ("wrk": its thread near 100% of a core, so req/s is a
floor for that server), the workers (each near a full core), the cores
(all of them busy) or other programs ("others": the rest of the machine,
from /proc/stat, took a good part of a core, so the row was disturbed).  These tests pin that
arithmetic, and the /proc reading on a child of known cost.
"""
import importlib.util
import os
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(REPO, "bench")


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    """bench/bench.py, with bench/harness.py as the `harness` it imports (this
    folder has a harness.py too, which is put back afterwards)."""
    saved = {name: sys.modules.get(name) for name in ("harness", "workers")}
    sys.modules["harness"] = load("bench_harness", os.path.join(BENCH, "harness.py"))
    sys.modules["workers"] = load("bench_workers", os.path.join(BENCH, "workers.py"))
    try:
        yield load("bench_main", os.path.join(BENCH, "bench.py"))
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def test_wrk_at_a_full_core_is_the_limit(bench):
    # greenhorn's raw hello: wrk's one thread at 98%, the server at 0.43 cores
    assert bench.limits(0.98, 1, 0.43, 2, 2) == ["wrk"]
    # two wrk threads are the limit only near two full cores
    assert bench.limits(0.98, 2, 0.43, 2, 2) == []
    assert bench.limits(1.85, 2, 0.1, 2, 2) == ["wrk", "cores"]


def test_busy_workers_and_busy_cores(bench):
    # Gunicorn's raw hello: wrk at 49%, the server at 1.39 cores: both cores busy
    assert bench.limits(0.49, 1, 1.39, 2, 2) == ["cores"]
    # a CPU-bound app: both workers running all the time
    assert bench.limits(0.05, 1, 1.9, 2, 2) == ["workers", "cores"]
    # one worker (Granian's method) on one core, wrk on the other
    assert bench.limits(0.7, 1, 0.97, 1, 2) == ["workers"]
    # an app that waits: nothing saturated
    assert bench.limits(0.05, 1, 0.1, 2, 2) == []


def test_other_programs_taking_the_cpu_are_named(bench):
    # a CPU-bound app that got only one core: another program had the other
    assert bench.limits(0.1, 1, 1.2, 2, 2, other_share=0.6) == ["cores", "others"]
    # a little background work is no disturbance
    assert bench.limits(0.1, 1, 1.2, 2, 2, other_share=0.1) == []


def run(rps, server_us, wrk_share, requests=10000):
    seconds = requests / rps
    return {"requests": requests, "rps": rps, "p50_ms": 1.0, "p99_ms": 2.0, "active_conns": 1.0,
            "probe_max_ms": 5.0, "server_us_per_req": server_us, "wall_s": seconds,
            "server_cpu_share": server_us * requests / 1e6 / seconds, "wrk_cpu_share": wrk_share,
            "wrk_threads": 1, "connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}


def test_a_row_is_the_median_of_its_rounds_against_gunicorn(bench):
    samples = {
        ("main", "greenhorn", "hello", "close"): [run(43000, 10, 0.98), run(42000, 11, 0.97),
                                                  run(44000, 9, 0.99)],
        ("main", "gunicorn-sync", "hello", "close"): [run(15000, 90, 0.5)] * 3,
    }
    rows = {r["server"]: r for r in bench.summarize(samples, cores=2)}
    gh, gu = rows["greenhorn"], rows["gunicorn-sync"]
    assert gh["rps"] == 43000 and gh["server_us_per_req"] == 10
    assert gh["vs_gunicorn_sync"] == pytest.approx(43000 / 15000)
    assert gh["limit"] == ["wrk"]
    # 15,000 req/s x 90 us = 1.35 cores of server, plus 0.5 of wrk: 92% of 2 cores
    assert gu["server_cpu_share"] == pytest.approx(1.35)
    assert gu["limit"] == ["cores"]
    assert gu["vs_gunicorn_sync"] == 1.0
    assert gh["cpu_vs_gunicorn_sync"] == pytest.approx(10 / 90)


def test_the_cpu_target_compares_cpu_per_request(bench):
    samples = {
        ("main", "greenhorn", "cpu", "close"): [run(900, 2100, 0.02)],
        ("main", "gunicorn-sync", "cpu", "close"): [run(880, 2150, 0.02)],
    }
    rows = bench.summarize(samples, cores=2)
    label, ok, detail = bench._cpu_target(rows, "cpu", "close", 1.0)
    assert ok is True and "2100 vs 2150 us" in detail
    label, ok, _detail = bench._ratio_target(rows, "cpu", "close", "gunicorn-sync", 1.0)
    assert ok is True and label == "cpu close >= 1.0x gunicorn-sync"


def test_cpu_of_a_child_that_exited_is_read_before_it_is_reaped():
    h = load("bench_harness", os.path.join(BENCH, "harness.py"))
    before = os.times()
    child = subprocess.Popen([sys.executable, "-c",
                              "import time\nend = time.process_time() + 0.3\n"
                              "while time.process_time() < end: pass\n"])
    while h._exited_unreaped(child.pid) is False:
        time.sleep(0.01)
    used = h.process_cpu_seconds(child.pid)  # still there: exited, not reaped
    child.wait()
    after = os.times()
    reaped = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    assert used >= 0.29
    assert used == pytest.approx(reaped, abs=0.03)
    assert h._exited_unreaped(child.pid) is None  # reaped: gone


@pytest.fixture(scope="module")
def ab(bench):
    """bench/ab.py, the paired runs, with the same modules as bench.py."""
    sys.modules["bench"] = bench
    try:
        yield load("bench_ab", os.path.join(BENCH, "ab.py"))
    finally:
        sys.modules.pop("bench", None)


def _ab_row(app, ratios, errors=(0, 0)):
    return {"app": app, "ratio": sorted(ratios)[len(ratios) // 2], "ratios": ratios,
            "us_per_req": {"greenhorn": 1.0, "gunicorn-sync": 2.0},
            "errors": {"greenhorn": errors[0], "gunicorn-sync": errors[1]}}


def test_paired_runs_judge_the_median_against_each_apps_target(ab):
    found = {c["target"].split(":")[0]: c["result"] for c in ab.checks([
        _ab_row("cpu", [0.97, 1.01, 1.04]),       # median 1.01 >= 1.0
        _ab_row("jinja", [1.12, 1.05, 1.09]),     # median 1.09 < 1.1
        _ab_row("django", [1.2, 1.3, 1.25], errors=(1, 0)),  # errors fail a row whatever its ratio
        _ab_row("hello", [3.0, 3.0, 3.0]),        # no target: informational only
    ])}
    assert found == {"cpu": "PASS", "jinja": "FAIL", "django": "FAIL"}
