"""The WSGI app of Granian's published comparison, for `make bench`'s granian rows.

Granian (github.com/emmett-framework/granian, benchmarks/) compares WSGI
servers with one worker process, 64 keep-alive connections, on two routes;
this module answers them the way its app does, so that our rows can be put
next to its table:

- GET  /b10k   10 KiB of b"x", Content-Type text/plain, no Content-Length;
- POST /echoi  the request body read from wsgi.input in 4 KiB pieces,
               each sent on as soon as it is read (a generator, so no
               Content-Length either).

Serve it as `granian_method:app` with bench/apps as the working directory.
Any other path is a 404.
"""

HEADERS = [("Content-Type", "text/plain; charset=utf-8")]
BODY_10K = b"x" * (10 * 1024)
PIECE = 4 * 1024


def get_10k(_environ, start_response):
    """GET /b10k: one fixed 10 KiB body."""
    start_response("200 OK", HEADERS)
    return [BODY_10K]


def echo_pieces(environ, start_response):
    """POST /echoi: the body back, 4 KiB at a time (start_response runs at the first next())."""
    start_response("200 OK", HEADERS)
    read = environ["wsgi.input"].read
    piece = read(PIECE)
    while piece:
        yield piece
        piece = read(PIECE)


def not_found(_environ, start_response):
    """Any other path."""
    start_response("404 Not Found", HEADERS)
    return [b"not found"]


ROUTES = {"/b10k": get_10k, "/echoi": echo_pieces}


def app(environ, start_response):
    """PEP 3333 entry point: dispatch on PATH_INFO."""
    return ROUTES.get(environ.get("PATH_INFO", ""), not_found)(environ, start_response)
