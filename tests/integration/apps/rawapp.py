"""rawapp - a plain WSGI application (PEP 3333, no framework) for the integration suite.

Every route exercises one corner of the contract between a server and an
application, so the suite can send the same request to greenhorn and to
Gunicorn and compare what comes back.  Routes are chosen by PATH_INFO:

    /environ...     the environ as JSON (any path below /environ echoes too)
    /generator      a generator body of several chunks, no Content-Length
    /write          the write() callable returned by start_response, then a yield
    /file           wsgi.file_wrapper over this very file (?cl=1 adds Content-Length)
    /error-before   raises before start_response                      -> 500
    /error-after    yields one chunk, then raises                     -> cut short
    /head           the same body for GET and HEAD, with Content-Length
    /204, /304      no body (?body=1: the app wrongly returns one anyway)
    /upload         reads wsgi.input with read(n), returns its md5 and length
    /readline       readline(n) loops, then iteration; echoes the lines
    /readlines      readlines(); echoes the lines
    /read-n         read(n) in small pieces (?n=7); echoes the pieces' sizes
    /length         an explicit Content-Length (?declared=N&actual=M)
    /bad-header     a header value holding a line feed (response splitting)
    /exc-info       start_response twice, the second time with exc_info
    /exc-info-late  start_response with exc_info after the head went out
    /close-count    a result whose close() appends a line to $CLOSE_LOG
    /sleep?s=N      sleeps N seconds (fractions allowed), then answers
    /osenv?name=K   the worker process's os.environ[K] (how -e and $VARS arrive)

Nothing here is greenhorn-specific: run it under any WSGI server.
"""

import hashlib
import json
import os
import sys
import time
from urllib.parse import parse_qs

TEXT = [("Content-Type", "text/plain")]
JSON = [("Content-Type", "application/json")]


def query(environ):
    """The query string as a dict of first values."""
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def as_json(start_response, data, status="200 OK"):
    body = json.dumps(data, sort_keys=True).encode("ascii")
    start_response(status, JSON + [("Content-Length", str(len(body)))])
    return [body]


def methods_of(obj, names):
    return sorted(name for name in names if callable(getattr(obj, name, None)))


def environ_view(environ):
    """The environ as plain JSON data: values of simple types as they are,
    objects only by their type name (reprs hold addresses and differ)."""
    plain, objects = {}, {}
    for key, value in environ.items():
        if isinstance(value, (str, int, bool)):
            plain[key] = value
        elif isinstance(value, tuple):
            plain[key] = list(value)
        else:
            objects[key] = type(value).__name__
    return {
        "environ": plain,
        "objects": objects,
        "wsgi_keys": sorted(k for k in environ if k.startswith("wsgi.")),
        "input_methods": methods_of(
            environ["wsgi.input"], ("read", "readline", "readlines", "__iter__")
        ),
        "errors_methods": methods_of(environ["wsgi.errors"], ("write", "writelines", "flush")),
    }


def route_environ(environ, start_response):
    return as_json(start_response, environ_view(environ))


def route_generator(environ, start_response):
    start_response("200 OK", TEXT)
    for i in range(5):
        yield b"chunk %d\n" % i


def route_write(environ, start_response):
    write = start_response("200 OK", TEXT)
    write(b"written one\n")
    write(b"written two\n")
    return [b"returned three\n"]


def route_file(environ, start_response):
    headers = list(TEXT)
    if query(environ).get("cl"):
        headers.append(("Content-Length", str(os.path.getsize(__file__))))
    start_response("200 OK", headers)
    return environ["wsgi.file_wrapper"](open(__file__, "rb"), 4096)


def route_error_before(environ, start_response):
    raise RuntimeError("raised before start_response, on purpose")


def route_error_after(environ, start_response):
    start_response("200 OK", TEXT)
    yield b"first chunk\n"
    raise RuntimeError("raised after the first chunk, on purpose")


def route_head(environ, start_response):
    body = b"the same body for GET and HEAD\n"
    start_response("200 OK", TEXT + [("Content-Length", str(len(body)))])
    return [body]


def route_no_body(status):
    def route(environ, start_response):
        start_response(status, [])
        return [b"a body that must not be sent"] if query(environ).get("body") else []

    return route


def route_upload(environ, start_response):
    digest, length = hashlib.md5(), 0
    stream = environ["wsgi.input"]
    while True:
        piece = stream.read(65536)
        if not piece:
            break
        digest.update(piece)
        length += len(piece)
    return as_json(start_response, {"md5": digest.hexdigest(), "length": length})


def route_readline(environ, start_response):
    stream = environ["wsgi.input"]
    size = int(query(environ).get("n", "5"))
    first = []
    for _ in range(3):
        first.append(stream.readline(size).decode("latin-1"))
    rest = [line.decode("latin-1") for line in stream]
    return as_json(start_response, {"readline": first, "iterated": rest})


def route_readlines(environ, start_response):
    lines = environ["wsgi.input"].readlines()
    return as_json(start_response, {"lines": [line.decode("latin-1") for line in lines]})


def route_read_n(environ, start_response):
    stream = environ["wsgi.input"]
    size = int(query(environ).get("n", "7"))
    sizes, digest = [], hashlib.md5()
    while True:
        piece = stream.read(size)
        if not piece:
            break
        sizes.append(len(piece))
        digest.update(piece)
    return as_json(start_response, {"sizes": sizes, "md5": digest.hexdigest()})


def route_length(environ, start_response):
    q = query(environ)
    declared, actual = int(q.get("declared", "10")), int(q.get("actual", "10"))
    start_response("200 OK", TEXT + [("Content-Length", str(declared))])
    return [b"x" * actual]


def route_bad_header(environ, start_response):
    start_response("200 OK", TEXT + [("X-Split", "a\nSet-Cookie: injected=1")])
    return [b"must not be sent\n"]


def route_exc_info(environ, start_response):
    start_response("200 OK", TEXT)
    try:
        raise ValueError("the application changed its mind")
    except ValueError:
        body = b"replaced by the error page of the app\n"
        start_response(
            "500 Internal Server Error",
            TEXT + [("Content-Length", str(len(body)))],
            sys.exc_info(),
        )
        return [body]


def route_exc_info_late(environ, start_response):
    start_response("200 OK", TEXT)
    yield b"first chunk\n"
    try:
        raise ValueError("too late to change the status")
    except ValueError:
        # PEP 3333: with the head already sent, start_response re-raises.
        start_response("500 Internal Server Error", TEXT, sys.exc_info())
    yield b"never sent\n"


class CloseCounted:
    """A result iterable whose close() appends "ID MODE" to $CLOSE_LOG.

    Modes: ok (two chunks), raise-first (raises before any byte is sent),
    raise-iter (one chunk, then raises), lazy (start_response is called on
    the first next()), bad-header-lazy (the lazy start_response has a header
    value with a line feed), big (64 MiB, for a client that goes away).
    """

    def __init__(self, environ, start_response, ident, mode):
        self.environ, self.start_response = environ, start_response
        self.ident, self.mode = ident, mode
        if mode not in ("lazy", "bad-header-lazy"):
            start_response("200 OK", TEXT)

    def __iter__(self):
        if self.mode == "lazy":
            self.start_response("200 OK", TEXT)
        elif self.mode == "bad-header-lazy":
            self.start_response("200 OK", TEXT + [("X-Bad", "a\r\nb")])
        elif self.mode == "raise-first":
            raise RuntimeError("raised before the first chunk, on purpose")
        elif self.mode == "big":
            block = b"z" * 65536
            for _ in range(1024):
                yield block
            return
        yield b"close-count one\n"
        if self.mode == "raise-iter":
            raise RuntimeError("raised after the first chunk, on purpose")
        yield b"close-count two\n"

    def close(self):
        with open(os.environ["CLOSE_LOG"], "a") as log:
            log.write("%s %s\n" % (self.ident, self.mode))


def route_close_count(environ, start_response):
    q = query(environ)
    return CloseCounted(environ, start_response, q.get("id", "-"), q.get("mode", "ok"))


def route_sleep(environ, start_response):
    seconds = float(query(environ).get("s", "1"))
    time.sleep(seconds)
    body = b"slept %g\n" % seconds
    start_response("200 OK", TEXT + [("Content-Length", str(len(body)))])
    return [body]


def route_pid(environ, start_response):
    return as_json(start_response, {"pid": os.getpid()})


def route_osenv(environ, start_response):
    name = query(environ).get("name", "")
    return as_json(start_response, {name: os.environ.get(name)})


ROUTES = {
    "/generator": route_generator,
    "/write": route_write,
    "/file": route_file,
    "/error-before": route_error_before,
    "/error-after": route_error_after,
    "/head": route_head,
    "/204": route_no_body("204 No Content"),
    "/304": route_no_body("304 Not Modified"),
    "/upload": route_upload,
    "/readline": route_readline,
    "/readlines": route_readlines,
    "/read-n": route_read_n,
    "/length": route_length,
    "/bad-header": route_bad_header,
    "/exc-info": route_exc_info,
    "/exc-info-late": route_exc_info_late,
    "/close-count": route_close_count,
    "/sleep": route_sleep,
    "/osenv": route_osenv,
    "/pid": route_pid,
}


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/environ"):
        return route_environ(environ, start_response)
    route = ROUTES.get(path)
    if route is None:
        body = b"no route for this path\n"
        start_response("404 Not Found", TEXT + [("Content-Length", str(len(body)))])
        return [body]
    return route(environ, start_response)


app = application
SOME_STRING = "not a callable"


def create_app(name="rawapp", count=1):
    """A factory, as `rawapp:create_app('x', 2)` calls it: literal arguments only."""

    def factory_app(environ, start_response):
        if environ.get("PATH_INFO") == "/factory":
            return as_json(start_response, {"name": name, "count": count})
        return application(environ, start_response)

    return factory_app
