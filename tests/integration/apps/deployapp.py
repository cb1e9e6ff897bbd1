"""deployapp - the application behind the deployment examples' tests (test_deploy.py).

Routes, by PATH_INFO:
    /environ        what a proxy in front changes, as JSON: the forwarded
                    headers, Host, REMOTE_ADDR and wsgi.url_scheme
    /upload         the request body's length and SHA-256, read from
                    wsgi.input in 64 KiB pieces
    /stream         ?chunks=N&size=BYTES: N pieces yielded one by one, no
                    Content-Length; piece i is BYTES of the letter i % 26
    /slow           ?s=SECONDS (default 2)&mark=FILE: makes FILE (so a test
                    knows the app has the request), sleeps, then answers
    anything else   "ok" (the logrotate test numbers its paths: /n/123)

Nothing here is greenhorn-specific: run it under any WSGI server.
"""

import hashlib
import json
import time
from urllib.parse import parse_qs

TEXT = [("Content-Type", "text/plain")]


def answer(start_response, body, content_type="text/plain"):
    start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def stream(chunks, size):
    for i in range(chunks):
        yield bytes([ord("a") + i % 26]) * size


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    if path == "/environ":
        keys = ("HTTP_HOST", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "REMOTE_ADDR",
                "SERVER_NAME", "wsgi.url_scheme")
        body = json.dumps({k: environ.get(k) for k in keys}).encode()
        return answer(start_response, body, "application/json")
    if path == "/upload":
        digest, length, stream_in = hashlib.sha256(), 0, environ["wsgi.input"]
        while True:
            piece = stream_in.read(65536)
            if not piece:
                break
            digest.update(piece)
            length += len(piece)
        body = json.dumps({"length": length, "sha256": digest.hexdigest()}).encode()
        return answer(start_response, body, "application/json")
    if path == "/stream":
        start_response("200 OK", TEXT)
        return stream(int(query.get("chunks", "10")), int(query.get("size", "1000")))
    if path == "/slow":
        if "mark" in query:
            open(query["mark"], "w").close()
        time.sleep(float(query.get("s", "2")))
        return answer(start_response, b"slow done")
    return answer(start_response, b"ok")
