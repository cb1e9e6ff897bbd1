"""echoapp - a WSGI application that tells the client what the server gave it.

Two callables, for the socket-level tests (test_conformance_socket.py and
test_strict.py):

    application   the echo, for every path: the request as the application
                  saw it, as JSON (see `seen`).  The body is read in full
                  from wsgi.input, so a body the server cannot deliver (a
                  bad chunk, a client that went silent) fails the read, and
                  the server answers the status it chose.
    probes        routes by PATH_INFO for the strictness probes; any other
                  path is the echo:
        /noread     answers "ok" without touching wsgi.input
        /big        answers 100 KiB (?n=BYTES) without touching wsgi.input
        /hop        sets hop-by-hop headers the server must drop (RFC 9110
                    section 7.6.1): ?set=te, conn, ka or all

When $ECHOAPP_LOG names a file, every call appends "METHOD PATH_INFO" to it
before anything else, so a test can tell whether the application ran at all.

Nothing here is greenhorn-specific: run it under any WSGI server.
"""

import base64
import json
import os

JSON = [("Content-Type", "application/json")]
TEXT = [("Content-Type", "text/plain")]


def note_call(environ):
    path = os.environ.get("ECHOAPP_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write("%s %s\n" % (environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")))


def seen(environ):
    """What the application was given: the request line's parts, every
    header key (HTTP_*, CONTENT_TYPE, CONTENT_LENGTH), the whole body as
    base64, and where the request came from."""
    headers = {
        key: value
        for key, value in environ.items()
        if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")
    }
    body = environ["wsgi.input"].read()
    return {
        "method": environ["REQUEST_METHOD"],
        "raw_uri": environ.get("RAW_URI"),
        "path_info": environ.get("PATH_INFO"),
        "query_string": environ.get("QUERY_STRING"),
        "protocol": environ.get("SERVER_PROTOCOL"),
        "headers": headers,
        "body_b64": base64.b64encode(body).decode("ascii"),
        "url_scheme": environ.get("wsgi.url_scheme"),
        "remote_addr": environ.get("REMOTE_ADDR"),
    }


def answer(start_response, body, headers=TEXT, status="200 OK"):
    start_response(status, list(headers) + [("Content-Length", str(len(body)))])
    return [body]


def application(environ, start_response):
    note_call(environ)
    body = json.dumps(seen(environ), sort_keys=True).encode("ascii")
    return answer(start_response, body, JSON)


HOP_HEADERS = {
    "te": [("Transfer-Encoding", "chunked")],
    "conn": [("Connection", "keep-alive")],
    "ka": [("Keep-Alive", "timeout=5, max=100")],
}
HOP_HEADERS["all"] = HOP_HEADERS["te"] + HOP_HEADERS["conn"] + HOP_HEADERS["ka"]


def query(environ):
    pairs = (p.partition("=") for p in environ.get("QUERY_STRING", "").split("&") if p)
    return {k: v for k, _, v in pairs}


def probes(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/noread":
        note_call(environ)
        return answer(start_response, b"ok")
    if path == "/big":
        note_call(environ)
        size = int(query(environ).get("n", 100 * 1024))
        return answer(start_response, (b"0123456789abcdef" * (size // 16 + 1))[:size])
    if path == "/hop":
        note_call(environ)
        extra = HOP_HEADERS[query(environ).get("set", "all")]
        return answer(start_response, b"hop", TEXT + extra)
    return application(environ, start_response)
