"""Side by side: the same bytes to greenhorn and to Gunicorn 20.1, serving apps/rawapp.py.

Each test names a case; harness.compare checks status line, headers (Date
and Server aside), framing and body, and lets through only the differences
listed for that case in differences.py.  Some tests also assert the
behaviour itself (the md5 of an upload, no body after HEAD), so a case where
both servers are wrong the same way still fails.
"""

import hashlib
import os
import random
import re
import socket
import struct
import time
import uuid

import pytest

import harness
from conftest import APPS

RAWAPP = os.path.join(APPS, "rawapp.py")


@pytest.fixture(scope="module")
def close_log(tmp_path_factory):
    return str(tmp_path_factory.mktemp("close") / "close.log")


@pytest.fixture
def raw(pair, close_log):
    # Per test, but the servers are the module's: pair() starts them once and
    # again only if one died, so a failed start fails one test, not the file.
    return pair(
        "rawapp:application",
        extra=["-w", "2", "--access-logfile", "-"],
        env={"CLOSE_LOG": close_log},
    )


def req(target, method="GET", version="HTTP/1.1", headers=(), body=b"", host=True):
    """The bytes of one request."""
    lines = ["%s %s %s" % (method, target, version)]
    if host:
        lines.append("Host: example.test")
    lines += ["%s: %s" % h for h in headers]
    if body:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# ---------------------------------------------------------------- the environ


def test_environ_get(raw):
    ours, _ = raw.check("environ-get", req("/environ"), environ=True)
    # Date and Server are left out of comparisons, but they must be there.
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", ours.header("Date"))
    assert ours.header("Server")
    env = ours.json()["environ"]
    assert env["REQUEST_METHOD"] == "GET" and env["PATH_INFO"] == "/environ"
    assert env["wsgi.url_scheme"] == "http" and env["SERVER_PROTOCOL"] == "HTTP/1.1"


def test_environ_post_form(raw):
    body = b"name=ada&lang=c"
    raw_req = req(
        "/environ", "POST", headers=[("Content-Type", "application/x-www-form-urlencoded")],
        body=body,
    )
    ours, _ = raw.check("environ-post", raw_req, environ=True)
    env = ours.json()["environ"]
    assert env["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert env["CONTENT_LENGTH"] == str(len(body))
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env


def test_environ_query_string(raw):
    ours, _ = raw.check("query-string", req("/environ?a=1&b=%20x&c&d=%C3%A9"), environ=True)
    assert ours.json()["environ"]["QUERY_STRING"] == "a=1&b=%20x&c&d=%C3%A9"


def test_environ_percent_encoded_path(raw):
    target = "/environ/a%20b/caf%C3%A9/x%2Fy/%2541"
    ours, _ = raw.check("percent-path", req(target), environ=True)
    env = ours.json()["environ"]
    # PEP 3333: PATH_INFO is decoded once, its bytes carried as latin-1.
    assert env["PATH_INFO"] == "/environ/a b/caf\u00c3\u00a9/x/y/%41"
    assert env["RAW_URI"] == target


def test_environ_absolute_form_target(raw):
    ours, _ = raw.check("absolute-form", req("http://example.test/environ?q=1"), environ=True)
    env = ours.json()["environ"]
    assert env["PATH_INFO"] == "/environ" and env["QUERY_STRING"] == "q=1"


def test_environ_repeated_headers_joined(raw):
    headers = [("X-Multi", "a"), ("X-Other", "o"), ("X-Multi", "b c")]
    ours, _ = raw.check("repeated-headers", req("/environ", headers=headers), environ=True)
    # RFC 9110 section 5.3: repeated fields combine with commas, in order.
    assert ours.json()["environ"]["HTTP_X_MULTI"] == "a,b c"


def test_environ_underscore_header(raw):
    headers = [("X-Dash", "dash"), ("X_Dash", "underscore"), ("X_Only", "1")]
    ours, _ = raw.check("underscore-header", req("/environ", headers=headers), environ=True)
    env = ours.json()["environ"]
    # A name with '_' would collide with its '-' twin in the CGI mapping: dropped.
    assert env["HTTP_X_DASH"] == "dash" and "HTTP_X_ONLY" not in env


def test_environ_latin1_header_value(raw):
    raw_req = b"GET /environ HTTP/1.1\r\nHost: example.test\r\nX-Latin: caf\xe9\r\n\r\n"
    ours, _ = raw.check("latin1-header", raw_req, environ=True)
    assert ours.json()["environ"]["HTTP_X_LATIN"] == "caf\u00e9"


def test_environ_http10_without_host(raw):
    ours, _ = raw.check("http10-environ", req("/environ", version="HTTP/1.0", host=False),
                        environ=True)
    env = ours.json()["environ"]
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0" and env["SERVER_NAME"] == "127.0.0.1"


def test_environ_script_name_header_from_loopback(raw):
    headers = [("SCRIPT_NAME", "/app")]
    ours, _ = raw.check("script-name-header", req("/app/environ", headers=headers),
                        environ=True)
    env = ours.json()["environ"]
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/app", "/environ")


def test_environ_script_name_from_env(pair):
    # Gunicorn reads SCRIPT_NAME from its process environment; -e sets it there.
    both = pair("rawapp:application", extra=["-e", "SCRIPT_NAME=/app"])
    ours, _ = both.check("script-name-env", req("/app/environ"), environ=True)
    env = ours.json()["environ"]
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/app", "/environ")


def test_path_outside_script_name_is_refused(pair):
    both = pair("rawapp:application", extra=["-e", "SCRIPT_NAME=/app"])
    ours, _ = both.check("script-name-env-outside", req("/environ"))
    # Gunicorn 22+: "Request path ... does not start with SCRIPT_NAME" is refused,
    # rather than served with a SCRIPT_NAME that is not a prefix of the path.
    assert ours.status in (400, 500)


# ---------------------------------------------------------------- response framing


def test_http11_generator_is_chunked(raw):
    ours, _ = raw.check("generator-http11", req("/generator"))
    assert ours.framing == "chunked" and ours.complete
    assert ours.body == b"".join(b"chunk %d\n" % i for i in range(5))


def test_http10_generator_is_not_chunked(raw):
    ours, _ = raw.check("generator-http10", req("/generator", version="HTTP/1.0"))
    assert ours.framing == "close" and ours.header("Transfer-Encoding") is None
    assert ours.body == b"".join(b"chunk %d\n" % i for i in range(5))


def test_write_callable(raw):
    ours, _ = raw.check("write-callable", req("/write"))
    assert ours.body == b"written one\nwritten two\nreturned three\n"


def test_file_wrapper(raw):
    ours, _ = raw.check("file-wrapper", req("/file"))
    with open(RAWAPP, "rb") as f:
        assert ours.body == f.read() and ours.complete


def test_file_wrapper_with_length(raw):
    ours, _ = raw.check("file-wrapper-length", req("/file?cl=1"))
    with open(RAWAPP, "rb") as f:
        assert ours.framing == "length" and ours.body == f.read()


def test_length_exact(raw):
    ours, _ = raw.check("length-exact", req("/length?declared=10&actual=10"))
    assert ours.framing == "length" and ours.raw_body == b"x" * 10


def test_length_app_sends_more(raw):
    ours, _ = raw.check("length-longer", req("/length?declared=4&actual=10"))
    # Bytes beyond the declared length would be read as the next response.
    assert ours.raw_body == b"xxxx"


def test_length_app_sends_less(raw):
    ours, _ = raw.check("length-shorter", req("/length?declared=10&actual=4"))
    assert ours.raw_body == b"xxxx" and not ours.complete


def test_head_has_no_body(raw):
    get, _ = raw.check("head-get", req("/head"))
    head, _ = raw.check("head", req("/head", method="HEAD"))
    # RFC 9110 section 9.3.2: the same header fields as GET, and no content.
    assert head.raw_body == b""
    assert head.header("Content-Length") == get.header("Content-Length") == str(len(get.body))


def test_head_of_generator_has_no_body(raw):
    head, _ = raw.check("head-generator", req("/generator", method="HEAD"))
    assert head.raw_body == b"" and head.header("Transfer-Encoding") is None


@pytest.mark.parametrize("code", ["204", "304"])
def test_no_body_status(raw, code):
    ours, _ = raw.check("status-" + code, req("/" + code))
    assert ours.status == int(code) and ours.raw_body == b""
    assert ours.header("Transfer-Encoding") is None


@pytest.mark.parametrize("code", ["204", "304"])
def test_no_body_status_app_sends_one(raw, code):
    ours, _ = raw.check("status-%s-with-body" % code, req("/%s?body=1" % code))
    # RFC 9110 sections 15.3.5 and 15.4.5: these responses end after the head.
    assert ours.raw_body == b""


def test_not_found(raw):
    ours, _ = raw.check("not-found", req("/nowhere"))
    assert ours.status == 404


def test_pipelined_second_request_ignored(raw):
    ours, _ = raw.check("pipelined", req("/head") + req("/generator"))
    # One request per connection: the second is never answered.
    assert ours.raw_body == b"the same body for GET and HEAD\n"
    assert ours.header("Connection") == "close"


# ---------------------------------------------------------------- request bodies


def test_upload_one_mebibyte(raw):
    body = random.Random(1).randbytes(1 << 20)
    ours, _ = raw.check("upload-1mib", req("/upload", "POST", body=body))
    assert ours.json() == {"md5": hashlib.md5(body).hexdigest(), "length": len(body)}


def chunked(pieces, extension=True):
    out = b""
    for i, piece in enumerate(pieces):
        ext = b";name=value" if extension and i == 1 else b""
        out += b"%x%s\r\n%s\r\n" % (len(piece), ext, piece)
    return out + b"0\r\n\r\n"


def test_upload_chunked(raw):
    pieces = [b"a" * 100, b"b" * 5000, b"c", random.Random(2).randbytes(70000)]
    head = req("/upload", "POST", headers=[("Transfer-Encoding", "chunked")])
    ours, _ = raw.check("upload-chunked", head + chunked(pieces))
    whole = b"".join(pieces)
    assert ours.json() == {"md5": hashlib.md5(whole).hexdigest(), "length": len(whole)}


def test_upload_expect_continue(raw):
    body = b"e" * 3000
    head = req("/upload", "POST", headers=[("Expect", "100-continue"),
                                           ("Content-Length", str(len(body)))])
    ours, _ = raw.check("expect-continue", head, body=body, expect_continue=True)
    assert ours.interim == ["HTTP/1.1 100 Continue"]
    assert ours.json()["length"] == len(body)


LINES = b"alpha\nbravo charlie delta\n\nfoxtrot\nlast line without newline"


def test_readline_sized_and_iteration(raw):
    ours, _ = raw.check("readline", req("/readline?n=5", "POST", body=LINES))
    assert ours.json() == {
        "readline": ["alpha", "\n", "bravo"],
        "iterated": [" charlie delta\n", "\n", "foxtrot\n", "last line without newline"],
    }


def test_readline_chunked_body(raw):
    head = req("/readline?n=4", "POST", headers=[("Transfer-Encoding", "chunked")])
    ours, _ = raw.check("readline-chunked", head + chunked([LINES[:9], LINES[9:20], LINES[20:]]))
    assert ours.json()["readline"] == ["alph", "a\n", "brav"]


def test_readlines(raw):
    ours, _ = raw.check("readlines", req("/readlines", "POST", body=LINES))
    assert "".join(ours.json()["lines"]) == LINES.decode()


def test_read_in_small_pieces(raw):
    body = bytes(range(256)) * 4
    ours, _ = raw.check("read-n", req("/read-n?n=7", "POST", body=body))
    assert ours.json() == {"sizes": [7] * 146 + [2], "md5": hashlib.md5(body).hexdigest()}


# ---------------------------------------------------------------- errors


def test_error_before_start_response(raw):
    ours, _ = raw.check("error-before", req("/error-before"))
    assert ours.status == 500


def test_error_after_first_chunk(raw):
    ours, _ = raw.check("error-after", req("/error-after"))
    # The head is out: the only honest signal left is an incomplete body.
    assert ours.status == 200 and ours.body == b"first chunk\n" and not ours.complete


def test_exc_info_before_anything_sent(raw):
    ours, _ = raw.check("exc-info", req("/exc-info"))
    assert ours.status == 500 and ours.body == b"replaced by the error page of the app\n"


def test_exc_info_after_head_sent(raw):
    ours, _ = raw.check("exc-info-late", req("/exc-info-late"))
    assert ours.status == 200 and ours.body == b"first chunk\n" and not ours.complete


def test_bad_header_value(raw):
    ours, _ = raw.check("bad-header", req("/bad-header"))
    # A line feed in a value would split the response (CWE-113): never sent.
    assert ours.status == 500 and ours.header("Set-Cookie") is None
    assert b"\r\nSet-Cookie:" not in ours.raw and b"must not be sent" not in ours.raw


# ---------------------------------------------------------------- close()


def lines_of(path, ident):
    try:
        with open(path) as f:
            return [line for line in f.read().splitlines() if line.split()[0] == ident]
    except FileNotFoundError:
        return []


def close_lines(path, ident, settle=0.3, timeout=3.0):
    """The lines close() wrote for ident, once a first one came and a moment passed
    (a second close() would add another)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lines_of(path, ident):
            time.sleep(settle)
            break
        time.sleep(0.05)
    return lines_of(path, ident)


@pytest.mark.parametrize(
    "mode,method", [("ok", "GET"), ("ok", "HEAD"), ("lazy", "GET"), ("raise-first", "GET"),
                    ("raise-iter", "GET"), ("bad-header-lazy", "GET")]
)
def test_close_called_exactly_once(raw, close_log, mode, method):
    replies = []
    for port in raw.ports:
        ident = uuid.uuid4().hex
        replies.append(harness.request(port, req("/close-count?mode=%s&id=%s" % (mode, ident),
                                                 method)))
        assert close_lines(close_log, ident) == ["%s %s" % (ident, mode)], (port, replies[-1].raw)
    harness.compare("close-%s-%s" % (mode, method.lower()), *replies)


def test_close_called_when_client_goes_away(raw, close_log):
    for port in raw.ports:
        ident = uuid.uuid4().hex
        with harness.connect(port) as sock:
            sock.sendall(req("/close-count?mode=big&id=%s" % ident))
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
            # SO_LINGER 0: close sends a reset, so the server's next write fails.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assert close_lines(close_log, ident, timeout=10.0) == ["%s big" % ident], port


# ---------------------------------------------------------------- logs


def test_access_log_line_as_gunicorn(raw):
    ident = uuid.uuid4().hex
    headers = [("Referer", "http://ref.test/"), ("User-Agent", "side-by-side/1.0")]
    raw.request(req("/head?id=" + ident, headers=headers))
    lines = []
    for server in (raw.ours, raw.ref):
        line = wait_stdout(server, ident)
        assert line, server.describe()
        assert re.fullmatch(
            r'127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
            r'"GET /head\?id=\w+ HTTP/1\.1" 200 31 "http://ref\.test/" "side-by-side/1\.0"',
            line,
        ), line
        lines.append(re.sub(r"\[[^]]*\]", "[TIME]", line, count=1))
    assert lines[0] == lines[1]


# Every atom whose value does not depend on the clock or the process.
NOT_FOUND_TYPE = "text/plain"  # the Content-Type of rawapp's 404
CUSTOM_FORMAT = ('%(h)s|%(l)s|%(u)s|%(r)s|%(s)s|%(b)s|%(B)s|%(f)s|%(a)s|%(m)s|%(U)s|%(q)s|'
                 '%(H)s|%({x-trace}i)s|%({X-Missing}i)s|%({content-TYPE}o)s|%({x-none}o)s|100%%')


def test_custom_access_log_format_as_gunicorn(pair):
    """--access-logformat: the same line from both servers, atom by atom,
    including the Basic-auth user, a decoded path and request headers."""
    both = pair("rawapp:application",
                extra=["-w", "1", "--access-logfile", "-", "--access-logformat", CUSTOM_FORMAT])
    ident = uuid.uuid4().hex
    headers = [("Authorization", "Basic YWxpY2U6c2VjcmV0"),  # alice:secret
               ("X-Trace", "t-" + ident), ("User-Agent", "fmt/1.0")]
    both.request(req("/head/a%20b?id=" + ident + "&x=%41", headers=headers))
    lines = [wait_stdout(server, ident) for server in (both.ours, both.ref)]
    assert lines[0] is not None and lines[1] is not None, (both.ours.describe(), both.ref.describe())
    assert lines[0] == lines[1]
    assert lines[0] == ("127.0.0.1|-|alice|GET /head/a%%20b?id=%s&x=%%41 HTTP/1.1|404|23|23|-|"
                        "fmt/1.0|GET|/head/a b|id=%s&x=%%41|HTTP/1.1|t-%s|-|%s|-|100%%"
                        % (ident, ident, ident, NOT_FOUND_TYPE))


def wait_stdout(server, ident, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in server.stdout().splitlines():
            if ident in line:
                return line
        time.sleep(0.05)
    return None


def test_app_errors_are_logged_without_killing_the_worker(raw):
    raw.request(req("/error-before"))
    for server in (raw.ours, raw.ref):
        assert server.wait_log("raised before start_response, on purpose"), server.describe()
    ours, ref = raw.request(req("/head"))
    assert ours.status == ref.status == 200


# ---------------------------------------------------------------- PEP 3333's validator


def test_wsgiref_validator_passes(pair):
    both = pair("validated:application")
    sent = [
        ("validator-environ", req("/environ?x=1"), True),
        ("validator-generator", req("/generator"), False),
        ("validator-write", req("/write"), False),
        ("validator-file", req("/file"), False),
        ("validator-head", req("/head", method="HEAD"), False),
        ("validator-upload", req("/upload", "POST", body=b"u" * 100000), False),
        ("validator-readline", req("/readline", "POST", body=LINES), False),
        ("validator-readlines", req("/readlines", "POST", body=LINES), False),
        ("validator-204", req("/204"), False),
    ]
    for case, raw_req, environ in sent:
        ours, _ = both.check(case, raw_req, environ=environ)
        assert ours.status in (200, 204), (case, ours.raw[:300])
    time.sleep(0.2)
    for server in (both.ours, both.ref):
        log = server.log()
        assert "AssertionError" not in log and "Traceback" not in log, server.describe()


# ---------------------------------------------------------------- limits and bad requests


@pytest.fixture
def limited(pair):
    return pair(
        "rawapp:application",
        extra=["--limit-request-line", "100", "--limit-request-fields", "5",
               "--limit-request-field_size", "60"],
    )


def test_limits_not_reached(limited):
    headers = [("X-%d" % i, "v" * 40) for i in range(4)]
    ours, _ = limited.check("limits-within", req("/environ?" + "q" * 60, headers=headers),
                            environ=True)
    assert ours.status == 200


def test_limit_request_line(limited):
    ours, _ = limited.check("limit-request-line", req("/environ?" + "q" * 100))
    assert ours.status in (400, 414)


def test_limit_request_fields(limited):
    headers = [("X-%d" % i, "v") for i in range(6)]
    ours, _ = limited.check("limit-request-fields", req("/environ", headers=headers))
    assert ours.status in (400, 431)


def test_limit_request_field_size(limited):
    ours, _ = limited.check("limit-request-field-size",
                            req("/environ", headers=[("X-Big", "v" * 80)]))
    assert ours.status in (400, 431)


@pytest.mark.parametrize(
    "case,raw_req",
    [
        ("bad-request-line", b"GARBAGE\r\n\r\n"),
        ("bad-version", b"GET /head HTTP/9.9\r\nHost: t\r\n\r\n"),
        ("bad-header-name", b"GET /environ HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n"),
        ("length-and-chunked", b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
        ("two-lengths", b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                        b"Content-Length: 4\r\n\r\nabcd"),
        ("bad-chunk-size", b"POST /upload HTTP/1.1\r\nHost: t\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
    ],
)
def test_bad_request(raw, case, raw_req):
    ours, _ = raw.check(case, raw_req)
    # RFC 9112 sections 6.1 and 6.3: refuse, never guess the framing.
    assert 400 <= ours.status < 600 and ours.header("Connection") == "close"
