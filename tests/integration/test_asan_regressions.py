"""Regressions for memory bugs: each test drives the exact code path of one
bug, and asserts the right answer.

Under `make asan` (greenhorn built with AddressSanitizer, Python on plain
malloc) a use-after-free on these paths is a report, which fails the test
(conftest.py); under the plain build the freed memory is often still
readable, so the assertions on the answer and the log are what is left.

1. src/environ.c kept a borrowed reference to the HTTP_SCRIPT_NAME value of
   the environ while it went on adding headers: a later `Script-Name` header
   (the same environ key) replaced and freed that value, and SCRIPT_NAME was
   then read from freed memory.
2. The access log read the request line and headers through the request
   view, which points into the connection's read buffer; an app that read a
   body larger than that buffer made it grow (realloc), and the log line
   was then written from the old, freed buffer.
"""

import base64
import hashlib
import re

import pytest

import harness

STAMP = r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]"


def test_script_name_header_then_script_name_with_a_dash(spawn):
    """A trusted peer (127.0.0.1 is in the default --forwarded-allow-ips)
    sends SCRIPT_NAME, then Script-Name: both are the environ key
    HTTP_SCRIPT_NAME, so the second replaces the first's value."""
    server, port = spawn.tcp(["-w", "1", "--log-level", "debug"])
    assert harness.get(port, "/head").status == 200  # the worker is up
    pids = harness.worker_pids(server)
    raw = (b"GET /abc/environ HTTP/1.1\r\nHost: t\r\n"
           b"SCRIPT_NAME: /abc\r\nScript-Name: /zzz\r\n\r\n")
    reply = harness.request(port, raw)
    # As in Gunicorn 20.1 (checked by hand): SCRIPT_NAME comes from the
    # SCRIPT_NAME header only (Gunicorn compares the upper-cased name, and
    # SCRIPT-NAME is another name), the last such header if several, and
    # HTTP_SCRIPT_NAME joins both values.  The bug read SCRIPT_NAME from
    # freed memory (it answered 400 "... does not start with SCRIPT_NAME
    # 'GET'"); under AddressSanitizer, a heap-use-after-free report.
    assert reply.status == 200, reply.raw[:300]
    environ = reply.json()["environ"]
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == ("/abc", "/environ"), environ
    assert environ["HTTP_SCRIPT_NAME"] == "/abc,/zzz", environ
    # The worker lived through it and still answers.
    assert harness.get(port, "/head").status == 200
    assert harness.worker_pids(server) == pids, server.describe()


def chunked(body, size):
    """body as a chunked request body, in chunks of size bytes."""
    out = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
                   for i in range(0, len(body), size))
    return out + b"0\r\n\r\n"


@pytest.mark.parametrize("fmt, line", [
    # Gunicorn's default: %(u)s looks for the Authorization header.
    (None, r'^127\.0\.0\.1 - alice %s "POST /upload\?big=1 HTTP/1\.1" 200 {length} '
           r'"http://ref\.example/form" "regression-agent/1\.0"$' % STAMP),
    # The atoms taken from the parsed request: method, path, query, a header.
    ("%(m)s %(U)s %(q)s %({x-trace}i)s %(H)s %(s)s",
     r"^POST /upload big=1 trace-7 HTTP/1\.1 200$"),
], ids=["default-format", "request-atoms"])
def test_access_log_after_the_app_read_a_large_chunked_body(spawn, fmt, line):
    """150 KB in chunks, read by the app: far more than the connection's
    first buffer (16 KiB), so the buffer grows while the app reads.  The
    access log line is written afterwards, from the request line and the
    headers."""
    args = ["-w", "1", "--access-logfile", "-"] + (["--access-logformat", fmt] if fmt else [])
    server, port = spawn.tcp(args)
    body = bytes(range(256)) * 600  # 153,600 bytes
    head = (b"POST /upload?big=1 HTTP/1.1\r\nHost: t\r\nReferer: http://ref.example/form\r\n"
            b"User-Agent: regression-agent/1.0\r\nX-Trace: trace-7\r\n"
            b"Authorization: Basic " + base64.b64encode(b"alice:secret") + b"\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    reply = harness.request(port, head, chunked(body, 4096))
    assert reply.status == 200, reply.raw[:300]
    assert reply.json() == {"md5": hashlib.md5(body).hexdigest(), "length": len(body)}
    assert harness.wait_for(lambda: server.stdout().endswith("\n"), 5.0), server.describe()
    assert re.search(line.replace("{length}", str(len(reply.body))), server.stdout(), re.M), \
        server.stdout()
