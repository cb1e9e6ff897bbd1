"""The process model, greenhorn alone: workers that die, hang, and a master that stops.

Gunicorn's arbiter contract (docs/content/signals.md, arbiter.py), which
greenhorn keeps: a worker killed by anyone is replaced; a worker silent for
longer than --timeout is killed and replaced; TERM lets in-flight requests
finish (up to --graceful-timeout) and exits 0; INT and QUIT stop at once.
"""

import os
import re
import signal
import threading
import time

import harness
from harness import alive

BOOTING = r"Booting worker with pid: (\d+)"


def booted(server):
    return [int(pid) for pid in re.findall(BOOTING, server.log())]


def wait_booted(server, count, timeout=5.0):
    deadline = time.monotonic() + timeout
    while len(booted(server)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return booted(server)


def head(port, timeout=harness.IO_TIMEOUT):
    with harness.connect(port, timeout) as sock:
        sock.sendall(b"GET /head HTTP/1.1\r\nHost: t\r\n\r\n")
        return harness.parse_reply(harness.read_all(sock))


class Background:
    """One request on its own thread; .reply once it finished."""

    def __init__(self, port, target):
        self.reply, self.error = None, None
        raw = ("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % target).encode()
        self.thread = threading.Thread(target=self.run, args=(port, raw), daemon=True)
        self.thread.start()

    def run(self, port, raw):
        try:
            self.reply = harness.request(port, raw)
        except OSError as exc:
            self.error = exc

    def join(self, timeout):
        self.thread.join(timeout)
        return self.reply


def test_killed_worker_is_replaced(spawn):
    server, port = spawn.tcp(["-w", "1"])
    [old] = wait_booted(server, 1)
    assert harness.worker_pids(server) == [old]
    mark = len(server.log())
    started = time.monotonic()
    os.kill(old, signal.SIGKILL)
    reply = head(port, timeout=5.0)
    elapsed = time.monotonic() - started
    assert reply.status == 200 and elapsed < 2.0, (elapsed, server.describe())
    new = wait_booted(server, 2)[-1]
    assert new != old and harness.worker_pids(server) == [new]
    # The master says what happened to the old worker.
    assert server.wait_log(r"\[(WARNING|ERROR|CRITICAL)\] .*\b%d\b" % old, after=mark), \
        server.describe()


def test_term_lets_the_request_in_flight_finish(spawn):
    server, port = spawn.tcp(["-w", "1"])
    wait_booted(server, 1)
    slow = Background(port, "/sleep?s=1")
    time.sleep(0.3)
    server.signal(signal.SIGTERM)
    reply = slow.join(5.0)
    assert reply is not None and reply.status == 200, (slow.error, server.describe())
    assert reply.body == b"slept 1\n"
    assert server.wait_exit(5.0) == 0, server.describe()


def test_graceful_timeout_bounds_the_drain(spawn):
    server, port = spawn.tcp(["-w", "1", "--graceful-timeout", "1"])
    wait_booted(server, 1)
    Background(port, "/sleep?s=10")
    time.sleep(0.3)
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.wait_exit(5.0) is not None, server.describe()
    assert time.monotonic() - started < 4.0


def test_timeout_kills_a_stuck_worker(spawn):
    server, port = spawn.tcp(["-w", "1", "-t", "2"])
    [old] = wait_booted(server, 1)
    started = time.monotonic()
    stuck = harness.request(port, b"GET /sleep?s=10 HTTP/1.1\r\nHost: t\r\n\r\n")
    # The worker is killed mid-request: the connection closes without a 200.
    assert stuck.status != 200 and time.monotonic() - started < 8.0, server.describe()
    assert server.wait_log(r"WORKER TIMEOUT \(pid:%d\)" % old), server.describe()
    new = wait_booted(server, 2)[-1]
    assert new != old
    assert head(port).status == 200


def quick_stop(spawn, signum):
    server, port = spawn.tcp(["-w", "2"])
    workers = wait_booted(server, 2)
    Background(port, "/sleep?s=10")
    time.sleep(0.3)
    started = time.monotonic()
    server.signal(signum)
    status = server.wait_exit(3.0)
    assert status == 0, (status, server.describe())
    assert time.monotonic() - started < 3.0
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and any(alive(pid) for pid in workers):
        time.sleep(0.05)
    assert not any(alive(pid) for pid in workers), workers


def test_int_stops_at_once(spawn):
    quick_stop(spawn, signal.SIGINT)


def test_quit_stops_at_once(spawn):
    quick_stop(spawn, signal.SIGQUIT)


def test_term_when_idle_exits_zero_and_closes_the_port(spawn):
    server, port = spawn.tcp(["-w", "2"])
    wait_booted(server, 2)
    server.signal(signal.SIGTERM)
    assert server.wait_exit(5.0) == 0, server.describe()
    try:
        harness.connect(port, timeout=1.0).close()
        refused = False
    except OSError:
        refused = True
    assert refused
