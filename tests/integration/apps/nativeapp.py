"""Status and header strings at the edges of PEP 3333's "native strings"."""


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/bare-status":
        start_response("200", [("Content-Type", "text/plain")])
    elif path == "/latin1-header":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Name", "caf\xe9")])
    elif path == "/beyond-latin1":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Name", "\u20ac")])
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"body"]
