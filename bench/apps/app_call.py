"""An app's own cost per call, with no server at all: make bench's yardstick.

measure(app_dir, spec, path) imports spec ("module:callable") from app_dir,
calls it the way a WSGI server does (a fresh environ dict for GET path,
iterate the body, close it), and returns the best round's microseconds of
CPU time per call.  make bench runs it for every app of its main rows both ways,
alternating, three times each, and keeps each side's fastest:

    python3 bench/apps/app_call.py DIR MODULE:CALLABLE PATH
                                     Debian's /usr/bin/python3.11 executable
    greenhorn ... app_call:app       the interpreter linked into greenhorn;
                                     GET /?dir=DIR&app=MODULE:CALLABLE&path=PATH

Subtracting this from a server's CPU time per request leaves that server's
own share; comparing the two lines compares the two builds of the
interpreter on that app.  Both use werkzeug's test environ, so only the
interpreter differs.  The loop runs hot in the CPU's caches; a real request,
with the kernel's network work between two calls, costs a little more.
"""

import os
import sys
import time
from urllib.parse import parse_qs

WARMUP_S, ROUND_S, ROUNDS = 0.3, 0.2, 3


def _load(app_dir, spec):
    if app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    module, _, name = spec.partition(":")
    __import__(module)
    return getattr(sys.modules[module], name or "app")


def measure(app_dir, spec, path="/"):
    """Best of ROUNDS rounds of about ROUND_S seconds of CPU: microseconds per call."""
    from werkzeug.test import EnvironBuilder  # pylint: disable=import-outside-toplevel

    wsgi_app = _load(app_dir, spec)
    base = EnvironBuilder(path=path).get_environ()

    def start_response(_status, _headers, _exc_info=None):
        return None

    def calls(count):
        # CPU time, not wall time: a round that loses the core to another
        # program is not slower for it (a shared cache still can be).
        began = time.process_time()
        for _ in range(count):
            result = wsgi_app(dict(base), start_response)
            try:
                for _chunk in result:
                    pass
            finally:
                if hasattr(result, "close"):
                    result.close()
        return time.process_time() - began

    count, spent = 1, calls(1)
    while spent < WARMUP_S:  # warm up, and learn how many calls fill a round
        count *= 2
        spent = calls(count)
    per_round = max(1, int(count * ROUND_S / spent))
    return min(calls(per_round) / per_round for _ in range(ROUNDS)) * 1e6


def app(environ, start_response):
    """WSGI: measure the app the query names, in this process; answer the figure as text."""
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if "app" in query:
        body = ("%.2f\n" % measure(query.get("dir", os.getcwd()), query["app"], query.get("path", "/"))).encode()
    else:
        body = b"ready\n"  # the harness's first-200 poll
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


if __name__ == "__main__":
    print("%.2f" % measure(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "/"))
