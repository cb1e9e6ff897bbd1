"""The raw hello-world WSGI app of `make bench`: no framework, one fixed body.

Serve it as `hello:app` with bench/apps as the working directory.  It measures
the server alone: parsing, the WSGI call, writing 13 bytes back.  Every server
of the bench (greenhorn, Gunicorn, uWSGI, waitress) runs this same file.
"""

BODY = b"Hello, World!"
HEADERS = [
    ("Content-Type", "text/plain"),
    ("Content-Length", str(len(BODY))),
]


def app(environ, start_response):
    """PEP 3333 entry point: 200 with a fixed body and an exact Content-Length."""
    start_response("200 OK", HEADERS)
    return [BODY]
