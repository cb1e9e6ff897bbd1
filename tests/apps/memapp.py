"""A raw WSGI app for `make memcheck`: every code path of the server once."""
import os
import tempfile

_FILE = os.path.join(tempfile.gettempdir(), "greenhorn-memcheck-file.txt")
with open(_FILE, "wb") as f:
    f.write(b"file body\n" * 100)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/echo":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/lines":
        lines = list(environ["wsgi.input"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"%d lines" % len(lines)]
    if path == "/gen":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"chunk %d\n" % i for i in range(5))
    if path == "/error":
        raise RuntimeError("expected error for memcheck")
    if path == "/file":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](open(_FILE, "rb"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, World!"]
