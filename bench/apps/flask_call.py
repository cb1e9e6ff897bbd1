"""Flask's own cost per request, with no server at all: make bench's yardstick.

measure() calls the Flask example app the way a WSGI server does (a fresh
environ dict, iterate the body, close it) CALLS times per round and returns
the best round's microseconds per call.  make bench runs it twice:

    python3 bench/apps/flask_call.py       Debian's /usr/bin/python3.11 executable
    greenhorn ... flask_call:app           libpython3.11.so, embedded in a worker

Subtracting this from a server's CPU time per Flask request leaves that
server's own share.  Both runs use werkzeug's test environ for GET /, so only
the interpreter differs.  The loop runs hot in the CPU's caches; a real
request, with the kernel's network work between two calls, costs a little
more.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FLASK_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples", "flask_hello")
WARMUP, CALLS, ROUNDS = 300, 2000, 5


def measure():
    """Best of ROUNDS: microseconds per call of the Flask example app."""
    if FLASK_DIR not in sys.path:
        sys.path.insert(0, FLASK_DIR)
    from werkzeug.test import EnvironBuilder  # pylint: disable=import-outside-toplevel
    from wsgi import app as flask_app  # pylint: disable=import-outside-toplevel

    base = EnvironBuilder(path="/").get_environ()

    def start_response(_status, _headers, _exc_info=None):
        return None

    def one():
        result = flask_app(dict(base), start_response)
        try:
            for _chunk in result:
                pass
        finally:
            if hasattr(result, "close"):
                result.close()

    for _ in range(WARMUP):
        one()
    best = None
    for _ in range(ROUNDS):
        began = time.perf_counter()
        for _ in range(CALLS):
            one()
        per_call = (time.perf_counter() - began) / CALLS * 1e6
        best = per_call if best is None else min(best, per_call)
    return best


def app(_environ, start_response):
    """WSGI: measure in this process and answer the figure as text."""
    body = ("%.2f\n" % measure()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


if __name__ == "__main__":
    print("%.2f" % measure())
