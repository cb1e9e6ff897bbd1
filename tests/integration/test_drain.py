"""A graceful stop that loses nothing (issue 12): TERM, HUP and --max-requests
with connections in flight and queued in the kernel's accept queue, directly
and through nginx; and accept() out of file descriptors (EMFILE).

Gunicorn 20.1 loses the queued connections on TERM (its issue #3397): its
master closes the listeners and its workers leave after their request, so
the last close of the listening socket resets every connection still queued.
greenhorn's master first closes the door (a SYN filter on TCP listeners, the
path of a unix socket), and each worker accepts and serves what is queued
before it closes its copy (DESIGN.md, "A stop that loses nothing").

Every wait is bounded and generous; nothing asserts how long anything took.
"""

import os
import socket
import subprocess
import threading
import time

import pytest

import harness

APP = "drainapp:application"
SLOW_S = 1.5  # the requests in flight when the signal comes
QUEUED = 50  # connections queued behind them, each with its request sent
WAIT = 30.0  # every bounded wait


def raw_get(path):
    return ("GET %s HTTP/1.1\r\nHost: drain.test\r\nConnection: close\r\n\r\n" % path).encode()


def send(addr, path):
    """A connection to addr with the request for path sent; the socket."""
    sock = harness.connect(addr, timeout=WAIT * 2)
    sock.sendall(raw_get(path))
    return sock


def answer(sock):
    """The status the server gave on sock (0: reset or closed without an answer)."""
    with sock:
        return harness.parse_reply(harness.read_all(sock)).status


def listen_queue(addr):
    """How many connections wait in the accept queue of addr (a port or a unix
    path), as ss(8) reports it (Recv-Q of a listening socket), or -1."""
    if isinstance(addr, int):
        argv = ["ss", "-ltnH", "sport = :%d" % addr]
    else:
        argv = ["ss", "-xlH", "src", addr]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    counts = []
    for line in out.splitlines():
        fields = line.split()
        # tcp: State Recv-Q Send-Q ...; unix (-x): Netid State Recv-Q ...
        for f in fields[1:3]:
            if f.isdigit():
                counts.append(int(f))
                break
    return max(counts) if counts else -1


def started(tmp_path, tags):
    return all((tmp_path / ("started-%s" % t)).exists() for t in tags)


def worker_args(kind, workers):
    """Arguments for `workers` workers of kind, each taking one request at a
    time, so that connections beyond that wait in the kernel's queue."""
    args = ["-w", str(workers), "--graceful-timeout", str(int(WAIT))]
    if kind == "gthread":
        args += ["-k", "gthread", "--threads", "1", "--worker-connections", "1"]
    return args


def start(spawn, tmp_path, kind, family, workers=2, extra=(), name=None):
    """greenhorn serving drainapp on a TCP socket the test bound, or on a
    unix socket path in tmp_path: (server, addr)."""
    env = {"DRAIN_DIR": str(tmp_path)}
    args = worker_args(kind, workers) + list(extra)
    if family == "tcp":
        return spawn.tcp(args, app=APP, env=env, name=name)
    path = str(tmp_path / ("%s.sock" % (name or "gh")))
    server = spawn.server(args + ["-b", "unix:" + path, APP], env=env, addr=path, name=name)
    return server, path


def fill(addr, tmp_path, in_flight, queued=QUEUED):
    """in_flight slow requests that reach the app, then `queued` connections
    with their requests sent, waiting in the accept queue: their sockets."""
    tags = ["f%d" % i for i in range(in_flight)]
    slow = [send(addr, "/slow?s=%s&tag=%s" % (SLOW_S, t)) for t in tags]
    assert harness.wait_for(lambda: started(tmp_path, tags), WAIT), "slow requests never began"
    rest = [send(addr, "/?n=%d" % i) for i in range(queued)]
    seen = harness.wait_for_value(lambda: listen_queue(addr), lambda n: n >= queued, WAIT)
    assert seen >= queued, "only %d connections queued" % seen
    return slow + rest


@pytest.mark.parametrize("family", ["tcp", "unix"])
@pytest.mark.parametrize("kind", ["sync", "gthread"])
def test_term_serves_every_queued_connection(spawn, tmp_path, kind, family):
    server, addr = start(spawn, tmp_path, kind, family)
    socks = fill(addr, tmp_path, in_flight=2)
    server.signal(15)
    # A client that comes once the stop has begun is refused at connect (TCP:
    # its SYN is dropped until the listener is gone, then refused; unix: the
    # path is gone), never accepted and then reset.
    late = {}

    def late_connect():
        try:
            harness.connect(addr, timeout=WAIT * 2).close()
            late["result"] = "connected"
        except OSError as e:
            late["result"] = type(e).__name__

    time.sleep(0.2)  # not a measurement: lets the master close the door first
    t = threading.Thread(target=late_connect)
    t.start()
    statuses = [answer(s) for s in socks]
    assert statuses.count(200) == len(socks), "statuses: %s\n%s" % (statuses, server.log())
    assert server.wait_exit(WAIT) == 0, server.log()
    t.join(WAIT * 2)
    assert late.get("result") in ("ConnectionRefusedError", "FileNotFoundError"), late
    # And after the exit: refused at connect.
    with pytest.raises((ConnectionRefusedError, FileNotFoundError)):
        harness.connect(addr, timeout=5).close()
