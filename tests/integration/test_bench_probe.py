"""The bench's check that a server really closes after `Connection: close`.

`make bench` drives every server with `Connection: close` to measure one
TCP connection per request.  A server that answers but keeps the
connection open lets wrk reuse it, and its "close" row silently measures
keep-alive (uWSGI's --http11-socket does this).  bench/harness.py's
closes_after_answer() finds such servers so the table can mark them; here
it meets greenhorn, which closes, and two small servers of the test's own:
one that keeps the connection open and one that never answers.
"""
import importlib.util
import os
import socket
import threading

import harness

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def bench_harness():
    """bench/harness.py, loaded under its own name (this folder has a harness.py too)."""
    spec = importlib.util.spec_from_file_location("bench_harness", os.path.join(REPO, "bench", "harness.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TinyServer(threading.Thread):
    """Accepts one connection on a loopback port; answers it (or not), never closes it first."""

    def __init__(self, answer):
        super().__init__(daemon=True)
        self.answer = answer
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.done = threading.Event()

    def run(self):
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(4096)
            if self.answer:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            self.done.wait(10)  # hold the connection until the test ends

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.join(10)
        self.listener.close()


def test_greenhorn_closes_after_connection_close(spawn):
    _server, port = spawn.tcp(["-w", "1"])
    assert harness.get(port, "/head").status == 200
    assert bench_harness().closes_after_answer(port, path="/head") is True


def test_a_server_that_keeps_the_connection_is_found_out():
    with TinyServer(answer=True) as tiny:
        assert bench_harness().closes_after_answer(tiny.port, patience=0.5) is False


def test_a_server_that_never_answers_is_neither():
    with TinyServer(answer=False) as tiny:
        assert bench_harness().closes_after_answer(tiny.port, patience=0.5) is None
