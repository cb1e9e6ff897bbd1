"""The measurement side of the gthread worker: bench's gthread rows, bench-slow, the threads axis.

- bench/slow_clients.py (`make bench-slow`) holds slow connections open and
  counts what normal keep-alive clients get meanwhile.  Its accounting is
  checked here against small servers of the test's own, on loopback: one
  that answers at once (every request succeeds; it closes heads that take
  too long, and the tool counts those closes), one that never answers
  (every request fails, by timeout) and one that answers 503 (failures by
  status).  Small counts and a few seconds each; no assertion on time.
- Until greenhorn has a gthread worker, its gthread rows, points and runs
  are skipped with the binary's own reason, never silently: a stand-in
  binary that refuses `-k gthread` (and one that accepts it) checks that.
- The targets of the gthread rows are ratios of medians; their arithmetic
  is checked on rows of known numbers.
"""
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(REPO, "bench")
SLOW = os.path.join(BENCH, "slow_clients.py")
PYTHON = "/usr/bin/python3"
REFUSAL = "greenhorn: error: --worker-class: 'gthread' is not one of sync (see greenhorn --help)"


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench_modules():
    """Fresh bench/harness.py, workers.py, bench.py and slow_clients.py (no cached gthread answer).

    bench.py and workers.py import `harness`; this folder has a harness.py
    too, which is put back afterwards.
    """
    saved = {name: sys.modules.get(name) for name in ("harness", "workers")}
    mods = {"harness": load("bench_harness", os.path.join(BENCH, "harness.py"))}
    sys.modules["harness"] = mods["harness"]
    try:
        mods["workers"] = load("bench_workers", os.path.join(BENCH, "workers.py"))
        sys.modules["workers"] = mods["workers"]
        mods["bench"] = load("bench_main", os.path.join(BENCH, "bench.py"))
        mods["slow"] = load("bench_slow_clients", SLOW)
        yield mods
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


# ---- small servers of the test's own ----------------------------------------------------


class TinyHTTP(threading.Thread):
    """A thread-per-connection HTTP/1.1 server on a loopback port, stopped by the test.

    answer=None: never answers.  Otherwise answers every complete head with
    that status, keeping the connection; a head not complete within
    head_timeout seconds of its first byte's turn has its connection closed
    (counted in `closed`).
    """

    def __init__(self, answer=200, head_timeout=0.5):
        super().__init__(daemon=True)
        self.answer, self.head_timeout = answer, head_timeout
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.closed = 0
        self.answered = 0
        self.lock = threading.Lock()
        self.conns = []

    def run(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        conn.settimeout(0.05)
        buf = b""
        deadline = time.monotonic() + self.head_timeout
        try:
            while not self.stopping.is_set():
                if self.answer is not None and b"\r\n\r\n" not in buf and time.monotonic() > deadline:
                    with self.lock:
                        self.closed += 1
                    return
                try:
                    data = conn.recv(4096)
                except socket.timeout:
                    continue
                if not data:
                    return
                buf += data
                while self.answer is not None and b"\r\n\r\n" in buf:
                    buf = buf.split(b"\r\n\r\n", 1)[1]
                    conn.sendall(b"HTTP/1.1 %d X\r\nContent-Length: 2\r\n\r\nok" % self.answer)
                    with self.lock:
                        self.answered += 1
                    deadline = time.monotonic() + self.head_timeout
        except OSError:
            pass
        finally:
            conn.close()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.join(5)
        self.listener.close()
        for conn in self.conns:
            conn.close()


def slow_clients(port, tmp_path, *extra):
    """Run bench/slow_clients.py against 127.0.0.1:port; (its JSON result, what it printed)."""
    out = tmp_path / "result.json"
    done = subprocess.run([PYTHON, SLOW, "127.0.0.1:%d" % port, "--json", str(out)] + list(extra),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(out.read_text()), done.stdout


def test_a_prompt_server_answers_every_normal_request(tmp_path):
    with TinyHTTP(answer=200, head_timeout=0.5) as server:
        res, printed = slow_clients(server.port, tmp_path, "--slow", "20", "--normal", "4", "--seconds", "2",
                                    "--interval", "0.2")
        closed = server.closed
    assert res["failed"] == 0, res["failures"]
    assert res["answered"] > 0 and res["requests"] == res["answered"]
    assert res["success_rate"] == 1.0
    assert res["p50_ms"] is not None and res["p99_ms"] >= res["p50_ms"]
    assert res["req_s"] == pytest.approx(res["answered"] / 2.0)
    # The server closed every slow head after 0.5 s; the tool saw each close and opened another.
    assert res["slow_open_at_start"] == 20
    assert res["slow_closed_by_server"] >= 20
    assert res["slow_closed_by_server"] <= closed
    assert res["slow_opened"] >= res["slow_closed_by_server"]
    assert res["pass"] == (res["p99_ms"] < 100.0)
    assert ("PASS" if res["pass"] else "FAIL") + "  127.0.0.1:%d" % server.port in printed


def test_a_stalled_server_fails_every_request_by_timeout(tmp_path):
    with TinyHTTP(answer=None) as server:
        res, printed = slow_clients(server.port, tmp_path, "--slow", "20", "--normal", "4", "--seconds", "2",
                                    "--timeout", "1")
    assert res["answered"] == 0
    assert res["failed"] >= 4  # every client's first request, at least
    assert res["failures"]["timeout"] == res["failed"]
    assert res["success_rate"] == 0.0 and res["p99_ms"] is None
    assert res["pass"] is False
    assert res["slow_closed_by_server"] == 0 and res["slow_open_at_start"] == 20
    assert printed.splitlines()[-1].startswith("FAIL")


def test_an_error_status_is_a_failed_request(tmp_path):
    with TinyHTTP(answer=503) as server:
        res, _printed = slow_clients(server.port, tmp_path, "--slow", "0", "--normal", "2", "--seconds", "1")
    assert res["answered"] == 0 and res["failed"] > 0
    assert res["failures"]["status"] == res["failed"]
    assert res["pass"] is False


def test_the_tool_loads_loopback_only_and_within_bounds(bench_modules):
    slow = bench_modules["slow"]
    assert slow.parse_address("8000") == ("127.0.0.1", 8000)
    assert slow.parse_address("localhost:8000") == ("127.0.0.1", 8000)
    assert slow.parse_address("[::1]:8000") == ("::1", 8000)
    for bad in ("10.0.0.1:80", "example.com:80", "127.0.0.1:0"):
        with pytest.raises(slow.UsageError):
            slow.parse_address(bad)
    with pytest.raises(slow.UsageError):
        slow.parse_args(["--slow", "100000"])
    assert slow.parse_args(["--servers", "gunicorn-gthread"]).servers == ["gunicorn-gthread"]


def test_percentiles_and_the_pass_mark(bench_modules):
    slow = bench_modules["slow"]
    values = list(range(1, 101))  # 1 .. 100
    assert slow.percentile(values, 0.5) == 50
    assert slow.percentile(values, 0.99) == 99
    assert slow.percentile([7.0], 0.99) == 7.0
    assert slow.percentile([], 0.99) is None
    assert slow.passes(0.99, 99.9) is True
    assert slow.passes(0.989, 10.0) is False
    assert slow.passes(1.0, 100.0) is False
    assert slow.passes(1.0, None) is False


# ---- greenhorn refuses -k gthread: skipped, with its reason -------------------------------


def fake_greenhorn(tmp_path, refuses):
    """A stand-in binary: refuses `-k gthread` as today's greenhorn does, or accepts it; logs its argv."""
    path = tmp_path / "greenhorn"
    said = tmp_path / "argv"
    body = "echo \"$@\" > %s\n" % said
    body += ("echo \"%s\" >&2\nexit 2\n" % REFUSAL) if refuses else "exit 0\n"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path), said


def test_a_refusal_is_the_reason_and_an_acceptance_is_none(bench_modules, tmp_path, monkeypatch):
    h = bench_modules["harness"]
    path, said = fake_greenhorn(tmp_path, refuses=True)
    monkeypatch.setenv("GREENHORN", path)
    reason = h.gthread_refused(4)
    assert "refuses -k gthread --threads 4" in reason
    assert "'gthread' is not one of sync" in reason and "--help" not in reason
    assert said.read_text().split()[:5] == ["-k", "gthread", "--threads", "4", "--check-config"]
    accepting = tmp_path / "ok"
    accepting.mkdir()
    path, _said = fake_greenhorn(accepting, refuses=False)
    monkeypatch.setenv("GREENHORN", path)
    assert h.gthread_refused(8) is None
    monkeypatch.setenv("GREENHORN", str(tmp_path / "missing"))
    h._GTHREAD_REFUSED.clear()
    assert "not an executable file" in h.gthread_refused(4)


def test_every_gthread_consumer_skips_with_the_reason(bench_modules, tmp_path, monkeypatch, capsys):
    h, bench, workers, slow = (bench_modules[k] for k in ("harness", "bench", "workers", "slow"))
    path, _said = fake_greenhorn(tmp_path, refuses=True)
    monkeypatch.setenv("GREENHORN", path)
    reason = h.gthread_refused(bench.THREADS)
    # make bench: the server is left out with one printed line ...
    names = [s.name for s in bench.available_servers()]
    assert "greenhorn-gthread" not in names and "greenhorn" in names
    assert "skip greenhorn-gthread: %s" % reason in capsys.readouterr().out
    # ... and its targets are SKIP with that reason, the others unaffected.
    checks = bench.targets([], {}, {}, None, gthread_skip=reason)
    gthread = [c for c in checks if c["target"].startswith("gthread: ")]
    assert len(gthread) == 5
    assert all(c["result"] == "SKIP" and c["detail"] == reason for c in gthread)
    assert not any(c["detail"] == reason for c in checks if c not in gthread)
    # make bench-slow: a skipped entry with the reason.
    plan = {name: why for name, _argv, why in slow.suite_plan(["greenhorn-sync", "greenhorn-gthread"], h, str(tmp_path))}
    assert plan == {"greenhorn-sync": None, "greenhorn-gthread": reason}
    # make bench-threads: Gunicorn alone, the reason printed; nothing at all is an error.
    servers, skipped = workers.threads_servers()
    assert servers == ["gunicorn-gthread"]
    assert skipped["greenhorn-gthread"] == h.gthread_refused(8)
    assert "skip greenhorn-gthread: " in capsys.readouterr().out
    monkeypatch.setenv("BENCH_WORKERS_GUNICORN", "0")
    with pytest.raises(h.BenchError):
        workers.threads_servers()


def test_an_accepting_binary_gets_its_gthread_rows(bench_modules, tmp_path, monkeypatch):
    bench, workers = bench_modules["bench"], bench_modules["workers"]
    path, _said = fake_greenhorn(tmp_path, refuses=False)
    monkeypatch.setenv("GREENHORN", path)
    server = next(s for s in bench.available_servers() if s.name == "greenhorn-gthread")
    argv = server.argv_of(8000, "hello", bench.ROW_SET["gthread"], str(tmp_path))
    assert argv[:3] == [path, "-w", "2"] and argv[-4:] == ["-k", "gthread", "--threads", "4"]
    assert workers._argv("greenhorn-gthread", 2, 8000, "work:io", 8)[-4:] == ["-k", "gthread", "--threads", "8"]
    assert workers.threads_servers()[0] == ["greenhorn-gthread", "gunicorn-gthread"]


# ---- the gthread targets' arithmetic -------------------------------------------------------


def run(rps, p99=2.0, server_us=10.0, requests=10000):
    seconds = requests / rps
    return {"requests": requests, "rps": rps, "p50_ms": 1.0, "p99_ms": p99, "active_conns": 1.0,
            "probe_max_ms": 5.0, "server_us_per_req": server_us, "wall_s": seconds,
            "server_cpu_share": server_us * requests / 1e6 / seconds, "wrk_cpu_share": 0.5,
            "wrk_threads": 1, "connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}


def gthread_rows(bench, flask_rps=17000, io_p99=60.0):
    samples = {
        ("gthread", "greenhorn-gthread", "hello", "keep-alive"): [run(48000, 1.5, 8), run(46000, 1.4, 9),
                                                                  run(47000, 1.6, 8)],
        ("gthread", "gunicorn-gthread", "hello", "keep-alive"): [run(7500, 14.0, 130)],
        ("gthread", "nginx", "hello", "keep-alive"): [run(66000, 2.5, 5)],
        ("gthread", "greenhorn-gthread", "flask", "keep-alive"): [run(flask_rps, 5.0, 80)],
        ("gthread", "gunicorn-gthread", "flask", "keep-alive"): [run(7000, 19.0, 220)],
        ("gthread", "greenhorn-gthread", "io50", "keep-alive"): [run(150, io_p99, 100)],
        ("gthread", "greenhorn", "io50", "keep-alive"): [run(40, 1300.0, 60)],
        ("gthread", "gunicorn-gthread", "io50", "keep-alive"): [run(152, 444.0, 400)],
    }
    return bench.summarize(samples, cores=2)


def test_the_gthread_targets(bench_modules):
    bench = bench_modules["bench"]
    rows = gthread_rows(bench)
    got = {label: (ok, detail) for label, ok, detail in bench.gthread_checks(rows)}
    assert got["gthread: hello keep-alive >= 6.0x gunicorn-gthread"][0] is True  # 47000 / 7500 = 6.27
    assert "6.27x (47000 vs 7500 req/s)" in got["gthread: hello keep-alive >= 6.0x gunicorn-gthread"][1]
    assert got["gthread: hello keep-alive >= 0.7x nginx"][0] is True  # 0.71
    assert got["gthread: flask keep-alive >= 2.5x gunicorn-gthread"][0] is False  # 17000 / 7000 = 2.43
    io = got["gthread: io50 keep-alive >= 3.5x greenhorn sync (same workers)"]
    assert io[0] is True and "3.75x (150 vs 40 req/s)" in io[1]
    assert got["gthread: p99 <= gunicorn-gthread's in every row"] == (True, "3 rows compared")
    # The gthread rows are compared with Gunicorn gthread, not with Gunicorn sync (absent here).
    hello = next(r for r in rows if r["server"] == "greenhorn-gthread" and r["app"] == "hello")
    assert hello["baseline"] == "gunicorn-gthread" and hello["vs_baseline"] == pytest.approx(47000 / 7500)
    assert hello["cpu_vs_baseline"] == pytest.approx(8 / 130) and hello["vs_gunicorn_sync"] is None


def test_a_worse_p99_fails_and_names_the_row(bench_modules):
    bench = bench_modules["bench"]
    rows = gthread_rows(bench, flask_rps=18000, io_p99=500.0)
    got = {label: (ok, detail) for label, ok, detail in bench.gthread_checks(rows)}
    assert got["gthread: flask keep-alive >= 2.5x gunicorn-gthread"][0] is True  # 2.57
    ok, detail = got["gthread: p99 <= gunicorn-gthread's in every row"]
    assert ok is False and detail == "io50 keep-alive 500.00 > 444.00 ms"
    notes = {c["target"]: c for c in bench.targets(rows, {}, {}, None) if c["result"] == "INFO"}
    assert notes["gthread: hello keep-alive server CPU per request"]["detail"].startswith("8.0 vs 130.0 us")


def test_missing_rows_are_skipped_not_failed(bench_modules):
    bench = bench_modules["bench"]
    rows = [r for r in gthread_rows(bench) if r["server"] != "greenhorn-gthread"]
    for _label, ok, detail in bench.gthread_checks(rows):
        assert ok is None and detail.startswith("no greenhorn-gthread row")


def test_the_threads_reading(bench_modules):
    workers = bench_modules["workers"]
    rows = [{"workers": w, "threads": t, "slots": w * t, "req_s": 50.0 * w * t, "p99_ms": 1000.0 / (w * t),
             "pss_mib": 20.0 + 4 * w} for w in (1, 2, 4) for t in (1, 2, 4)]
    text, summary = workers.threads_reading("io", rows)
    assert summary["best"]["workers"] == 4 and summary["best"]["threads"] == 4
    assert summary["threads_gain_by_workers"] == {1: 4.0, 2: 4.0, 4: 4.0}
    assert summary["same_slots"] == 4  # 1 x 4, 2 x 2, 4 x 1: the most slots measured three ways
    assert [(r["workers"], r["threads"]) for r in summary["same_slots_rows"]] == [(1, 4), (2, 2), (4, 1)]
    assert "threads 1 -> 4: 4.0x at 1 worker" in text
