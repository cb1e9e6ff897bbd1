"""Strictness over real sockets: smuggling probes, limits, response safety, slow clients.

Request smuggling needs two parties that frame the same bytes differently:
a front end sees one request where the server sees two.  Each probe here is
a request with doubtful framing followed, on the same connection, by a good
"canary" request.  greenhorn serves one request per connection, so whatever
it makes of the first, the canary must never be answered: everything read
until the server closes holds exactly one response, and the application
never sees /canary.

Most expectations follow Gunicorn 26 (tests/conformance holds its corpus);
where greenhorn is stricter than Gunicorn 26 the reason says so.  Then:
request limits (413, 414, 431), "Expect: 100-continue", hop-by-hop headers
an application must not set, a clean close after an unread upload, and
slow clients against --header-timeout and --body-timeout.
"""

import base64
import os
import select
import socket
import threading
import time
import warnings

import pytest

import differences
import harness
from conftest import Spawner

CANARY = b"GET /canary HTTP/1.1\r\nHost: x\r\n\r\n"
POST = b"POST /echo HTTP/1.1\r\nHost: x\r\n"
TE_CHUNKED = b"Transfer-Encoding: chunked\r\n"
HELLO_CHUNKED = b"5\r\nhello\r\n0\r\n\r\n"


SERVERS = {
    "probes": ["-w", "2"],
    "limit": ["-w", "1", "--limit-request-body", "100"],
    "slow": ["-w", "2", "--header-timeout", "2", "--body-timeout", "2"],
}


class Servers:
    """The servers of this file, each with its application log and the
    worker pids it started with.  ensure() starts those not running: at
    the first test, and again after one died, so a server that fails fails
    the tests of that moment, not every later one."""

    def __init__(self, greenhorn, logdir):
        self.spawner = Spawner(greenhorn, logdir)
        self.logdir = logdir
        self.ports, self.servers, self.logs, self.pids = {}, {}, {}, {}

    def ensure(self):
        for name, args in SERVERS.items():
            server = self.servers.get(name)
            if server is not None and server.alive():
                continue
            if server is not None:
                warnings.warn("the %r server died between tests; starting it again:\n%s"
                              % (name, server.describe()[-3000:]))
                server.stop()
                del self.servers[name]
            self.start(name, args)

    def start(self, name, args):
        log = os.path.join(self.logdir, name + ".calls")
        open(log, "w").close()
        server, port = self.spawner.tcp(
            args, app="echoapp:probes", env={"ECHOAPP_LOG": log},
            name="%s%d" % (name, len(self.spawner.servers))
        )
        try:
            workers = int(args[args.index("-w") + 1])
            deadline = time.monotonic() + 10
            while len(harness.worker_pids(server)) < workers and time.monotonic() < deadline:
                time.sleep(0.05)
            for _ in range(workers):  # every worker has imported the app
                assert harness.get(port, "/warm-up").status == 200, server.describe()
        except BaseException:
            server.stop()
            raise
        self.servers[name], self.ports[name], self.logs[name] = server, port, log
        self.pids[name] = harness.worker_pids(server)

    def calls(self, name):
        """The requests the application saw so far, as "METHOD PATH" lines."""
        with open(self.logs[name], encoding="utf-8") as f:
            return f.read().splitlines()

    def same_workers(self, name):
        """No worker died (a crash would show as a new pid).  The pids seen
        now are the next test's reference, so one crash fails one test."""
        before, self.pids[name] = self.pids[name], harness.worker_pids(self.servers[name])
        assert self.pids[name] == before, self.servers[name].describe()


@pytest.fixture(scope="module")
def strict_servers(greenhorn, tmp_path_factory):
    s = Servers(greenhorn, str(tmp_path_factory.mktemp("strict")))
    yield s
    s.spawner.stop_all()


@pytest.fixture
def servers(strict_servers):
    if differences.reference_mode():
        pytest.skip("greenhorn's own contract: Gunicorn 20.1 lacks --limit-request-body, "
                    "--header-timeout and --body-timeout")
    strict_servers.ensure()
    return strict_servers


def one_response(reply):
    """Problems, if the bytes read hold anything but one complete response."""
    if reply.status == 0:
        return ["no response at all: %r" % reply.raw[:200]]
    if reply.framing != "length" or not reply.complete or reply.raw_body != reply.body:
        return ["not exactly one response (framing %s): %r" % (reply.framing, reply.raw[-300:])]
    return []


# ---------------------------------------------------------------- smuggling probes

# (name, request, status, why).  Each is sent followed by the canary.
REFUSED = [
    ("cl-and-te", POST + b"Content-Length: 5\r\n" + TE_CHUNKED + b"\r\n" + HELLO_CHUNKED, 400,
     "RFC 9112 section 6.1: framing a front end may read the other way"),
    ("te-chunked-chunked-list", POST + b"Transfer-Encoding: chunked, chunked\r\n\r\n"
     + HELLO_CHUNKED, 400, "RFC 9112 section 6.1: chunked at most once"),
    ("te-chunked-two-lines", POST + TE_CHUNKED + TE_CHUNKED + b"\r\n" + HELLO_CHUNKED, 400,
     "RFC 9112 section 6.1: two lines are one list (RFC 9110 section 5.3)"),
    ("te-chunked-not-last", POST + b"Transfer-Encoding: chunked, gzip\r\n\r\n" + HELLO_CHUNKED,
     400, "RFC 9112 section 6.3: chunked must be the final coding"),
    ("te-unknown-coding", POST + b"Transfer-Encoding: xchunked\r\n\r\n" + HELLO_CHUNKED, 501,
     "RFC 9112 section 6.1: a coding the server does not know"),
    ("te-chunked-vt", POST + b"Transfer-Encoding: chunked\x0b\r\n\r\n" + HELLO_CHUNKED, 400,
     "RFC 9110 section 5.5: a control character in a field value (Gunicorn 26's str.strip() "
     "would remove it and read chunked)"),
    ("te-vt-chunked", POST + b"Transfer-Encoding: \x0bchunked\r\n\r\n" + HELLO_CHUNKED, 400,
     "RFC 9110 section 5.5, as above"),
    ("te-chunked-nbsp", POST + b"Transfer-Encoding: chunked\xa0\r\n\r\n" + HELLO_CHUNKED, 501,
     "0xA0 is obs-text, allowed in a value: 'chunked\\xa0' is an unknown coding (Gunicorn 26's "
     "str.strip() would read chunked)"),
    ("te-on-http10", b"POST /echo HTTP/1.0\r\nHost: x\r\n" + TE_CHUNKED + b"\r\n" + HELLO_CHUNKED,
     400, "RFC 9112 section 6.1: chunked in HTTP/1.0 is faulty framing"),
    ("cl-two-values", POST + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400,
     "RFC 9112 section 6.3: differing Content-Length values"),
    ("cl-repeated", POST + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400,
     "RFC 9112 section 6.3 lets a server refuse a repeated Content-Length; Gunicorn 26 does"),
    ("cl-plus", POST + b"Content-Length: +5\r\n\r\nhello", 400, "RFC 9110 section 8.6: 1*DIGIT"),
    ("cl-two-numbers", POST + b"Content-Length: 5 5\r\n\r\nhello", 400, "RFC 9110 section 8.6"),
    ("cl-list", POST + b"Content-Length: 5,5\r\n\r\nhello", 400, "RFC 9110 section 8.6"),
    ("cl-hex", POST + b"Content-Length: 0x5\r\n\r\nhello", 400, "RFC 9110 section 8.6"),
    ("cl-negative", POST + b"Content-Length: -1\r\n\r\nhello", 400, "RFC 9110 section 8.6"),
    ("cl-20-digits", POST + b"Content-Length: 99999999999999999999\r\n\r\nhello", 400,
     "does not fit in 64 bits"),
    ("obs-fold", b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400,
     "RFC 9112 section 5.2: obsolete line folding, refused by default"),
    ("space-before-colon", b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n", 400,
     "RFC 9112 section 5.1: MUST be rejected"),
    ("nul-in-name", b"GET /echo HTTP/1.1\r\nHost: x\r\nX-\x00A: a\r\n\r\n", 400,
     "RFC 9110 section 5.1: a field name is a token"),
    ("bare-cr-in-value", b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400,
     "RFC 9112 section 2.2: a bare CR MUST be rejected or replaced"),
    ("bare-lf-request-line", b"GET /echo HTTP/1.1\nHost: x\r\n\r\n", 400,
     "RFC 9112 section 2.2 allows a bare LF; greenhorn, as Gunicorn 26, wants CRLF everywhere"),
    ("bare-lf-everywhere", b"GET /echo HTTP/1.1\nHost: x\n\n", 400, "as above"),
    ("bare-lf-header", b"GET /echo HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", 400, "as above"),
    ("chunk-size-17-digits", POST + TE_CHUNKED + b"\r\n00000000000000001\r\na\r\n0\r\n\r\n", 400,
     "greenhorn reads at most 16 hex digits (64 bits), leading zeros too; Gunicorn 26 has no "
     "limit"),
    ("chunk-size-overflow", POST + TE_CHUNKED + b"\r\n10000000000000000\r\na\r\n0\r\n\r\n", 400,
     "2**64 does not fit in 64 bits"),
    ("chunk-ext-bare-cr", POST + TE_CHUNKED + b"\r\n1;a=\rb\r\na\r\n0\r\n\r\n", 400,
     "RFC 9112 section 2.2: bare CR"),
    ("chunk-data-too-long", POST + TE_CHUNKED + b"\r\n1\r\nab\r\n0\r\n\r\n", 400,
     "RFC 9112 section 7.1: chunk data is followed by CRLF"),
    ("chunk-data-bare-lf", POST + TE_CHUNKED + b"\r\n1\r\na\n0\r\n\r\n", 400,
     "RFC 9112 section 7.1: CRLF, not LF"),
    ("method-lower-case", b"get /echo HTTP/1.1\r\nHost: x\r\n\r\n", 400,
     "Gunicorn 26 refuses lower-case methods unless --casefold-http-method"),
    ("double-space", b"GET  /echo HTTP/1.1\r\nHost: x\r\n\r\n", 400,
     "RFC 9112 section 3: single spaces"),
    ("two-hosts", b"GET /echo HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400,
     "RFC 9112 section 3.2: MUST respond 400"),
    ("http-2.0", b"GET /echo HTTP/2.0\r\nHost: x\r\n\r\n", 400,
     "only HTTP/1.0 and 1.1 (Gunicorn 26: InvalidHTTPVersion)"),
    ("expect-unknown", b"GET /echo HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n", 417,
     "RFC 9110 section 10.1.1"),
    ("request-line-too-long", b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414,
     "over --limit-request-line 4094: RFC 9112 section 3 (Gunicorn 26 answers 400)"),
    ("too-many-headers", b"GET /echo HTTP/1.1\r\nHost: x\r\n"
     + b"".join(b"X-%d: a\r\n" % i for i in range(120)) + b"\r\n", 431,
     "over --limit-request-fields 100: RFC 6585 section 5"),
    ("header-too-large", b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 9000 + b"\r\n\r\n",
     431, "over --limit-request-field_size 8190: RFC 6585 section 5"),
]


@pytest.mark.parametrize("name,raw,status,why", REFUSED, ids=[p[0] for p in REFUSED])
def test_refused_and_canary_ignored(servers, name, raw, status, why):
    port = servers.ports["probes"]
    before = len(servers.calls("probes"))
    reply = harness.request(port, raw + CANARY)
    assert reply.status == status, "%s (%s): %r" % (name, why, reply.raw[:300])
    assert not one_response(reply), one_response(reply)
    assert reply.header("Connection") == "close"
    # Refused while parsing the head or the buffered body: the app never ran.
    assert servers.calls("probes")[before:] == []
    servers.same_workers("probes")


def test_content_length_beyond_63_bits(servers):
    """9999999999999999999 fits in 64 bits but is larger than any body a
    Python bytes object can hold: it must be refused like 20 digits (400),
    or as too large (413), never reach the app as a read that fails."""
    port = servers.ports["probes"]
    raw = POST + b"Content-Length: 9999999999999999999\r\n\r\nhello"
    reply = harness.request(port, raw + CANARY)
    assert reply.status in (400, 413), reply.raw[:300]
    assert not one_response(reply)
    servers.same_workers("probes")


# Framing that is odd but well defined: served, and still the only response.
# (name, request, what the app must see)
SERVED = [
    ("te-gzip-chunked", POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + HELLO_CHUNKED,
     {"body": b"hello", "HTTP_TRANSFER_ENCODING": "gzip, chunked"}),
    ("te-chunked-trailing-space", POST + b"Transfer-Encoding: chunked \r\n\r\n" + HELLO_CHUNKED,
     {"body": b"hello", "HTTP_TRANSFER_ENCODING": "chunked"}),
    ("cl-extra-whitespace", POST + b"Content-Length:  5 \r\n\r\nhello",
     {"body": b"hello", "CONTENT_LENGTH": "5"}),
    ("absolute-form-other-host", b"GET http://other.test/echo?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
     {"raw_uri": "http://other.test/echo?q=1", "path_info": "/echo", "query_string": "q=1",
      "HTTP_HOST": "x"}),
    ("http11-without-host", b"GET /echo HTTP/1.1\r\n\r\n",
     {"path_info": "/echo", "protocol": "HTTP/1.1"}),
]


@pytest.mark.parametrize("name,raw,want", SERVED, ids=[p[0] for p in SERVED])
def test_served_once_and_canary_ignored(servers, name, raw, want):
    """gzip before chunked: the body is framed by chunked, the coding is the
    app's business (as Gunicorn 26).  Whitespace around a value is not part
    of it (RFC 9110 section 5.5).  An absolute-form target wins over Host
    (RFC 9112 section 3.2.2); Host is passed on as sent.  HTTP/1.1 without
    Host: RFC 9112 section 3.2 says 400, but Gunicorn 26 serves it and its
    corpus holds such requests as valid (valid/018), so greenhorn serves it."""
    port = servers.ports["probes"]
    before = len(servers.calls("probes"))
    reply = harness.request(port, raw + CANARY)
    assert reply.status == 200, reply.raw[:300]
    assert not one_response(reply), one_response(reply)
    seen = reply.json()
    for key, value in want.items():
        if key == "body":
            assert base64.b64decode(seen["body_b64"]) == value, seen
        elif key.isupper():
            assert seen["headers"].get(key) == value, seen
        else:
            assert seen[key] == value, seen
    assert [c.split(" ", 1)[1] for c in servers.calls("probes")[before:]] == [seen["path_info"]]
    servers.same_workers("probes")


# ---------------------------------------------------------------- body limits


def test_body_over_limit_refused_before_the_app(servers):
    """--limit-request-body 100: Content-Length 101 is 413 from the head
    alone (RFC 9110 section 15.5.14); the app never runs, the canary is not
    answered.  100 bytes exactly are served."""
    port = servers.ports["limit"]
    before = len(servers.calls("limit"))
    reply = harness.request(port, POST + b"Content-Length: 101\r\n\r\n" + b"x" * 101 + CANARY)
    assert reply.status == 413, reply.raw[:300]
    assert not one_response(reply)
    assert servers.calls("limit")[before:] == []
    reply = harness.request(port, POST + b"Content-Length: 100\r\n\r\n" + b"x" * 100)
    assert reply.status == 200 and base64.b64decode(reply.json()["body_b64"]) == b"x" * 100
    servers.same_workers("limit")


def test_body_over_limit_with_expect_gets_no_continue(servers):
    """RFC 9110 section 10.1.1: a final status instead of 100 Continue."""
    port = servers.ports["limit"]
    head = POST + b"Content-Length: 101\r\nExpect: 100-continue\r\n\r\n"
    reply = harness.request(port, head, b"x" * 101, expect_continue=True)
    assert reply.status == 413 and reply.interim == [], reply.raw[:300]


def test_chunked_body_growing_past_limit(servers):
    """Chunks of 60 and 60 bytes: the second passes the limit.  In one
    piece, it is refused before the app; declared in one chunk-size line,
    as soon as that line is read."""
    port = servers.ports["limit"]
    before = len(servers.calls("limit"))
    chunks = b"3c\r\n" + b"a" * 60 + b"\r\n3c\r\n" + b"b" * 60 + b"\r\n0\r\n\r\n"
    reply = harness.request(port, POST + TE_CHUNKED + b"\r\n" + chunks + CANARY)
    assert reply.status == 413, reply.raw[:300]
    assert not one_response(reply)
    huge = b"ffffffffffffffff\r\n" + b"a" * 10
    reply = harness.request(port, POST + TE_CHUNKED + b"\r\n" + huge)
    assert reply.status == 413, reply.raw[:300]
    assert servers.calls("limit")[before:] == []
    servers.same_workers("limit")


def test_chunked_body_growing_past_limit_while_the_app_reads(servers):
    """The second chunk arrives while the app reads: its read fails, and
    greenhorn answers 413 since the app had sent nothing yet."""
    port = servers.ports["limit"]
    with harness.connect(port) as sock:
        sock.sendall(POST + TE_CHUNKED + b"\r\n3c\r\n" + b"a" * 60 + b"\r\n")
        time.sleep(0.3)
        try:
            sock.sendall(b"3c\r\n" + b"b" * 60 + b"\r\n0\r\n\r\n" + CANARY)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = harness.parse_reply(harness.read_all(sock))
    assert reply.status == 413, reply.raw[:300]
    assert not one_response(reply)
    assert servers.calls("limit")[-1] == "POST /echo"
    servers.same_workers("limit")


# ---------------------------------------------------------------- Expect: 100-continue


def wait_readable(sock, seconds):
    return bool(select.select([sock], [], [], seconds)[0])


def test_continue_sent_when_the_app_reads(servers):
    """RFC 9110 section 10.1.1: the client holds the body back until
    "100 Continue"; greenhorn sends it when the app first reads."""
    port = servers.ports["probes"]
    with harness.connect(port) as sock:
        sock.sendall(POST + b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        assert wait_readable(sock, 5.0), "no 100 Continue within 5 s"
        interim = sock.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        reply = harness.parse_reply(interim + harness.read_all(sock))
    assert reply.interim == ["HTTP/1.1 100 Continue"]
    assert reply.status == 200 and base64.b64decode(reply.json()["body_b64"]) == b"hello"
    assert not one_response(reply)


def test_no_continue_when_the_app_does_not_read(servers):
    """/noread never touches wsgi.input: the final response comes, with no
    100 Continue before it, and the body is never asked for."""
    port = servers.ports["probes"]
    with harness.connect(port) as sock:
        sock.sendall(b"POST /noread HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        reply = harness.parse_reply(harness.read_all(sock))
    assert reply.interim == [] and reply.status == 200 and reply.body == b"ok", reply.raw
    servers.same_workers("probes")


# ---------------------------------------------------------------- response safety


@pytest.mark.parametrize("which", ["te", "conn", "ka", "all"])
def test_hop_by_hop_headers_from_the_app_are_dropped(servers, which):
    """RFC 9110 section 7.6.1: Connection, Keep-Alive and Transfer-Encoding
    belong to one connection and to the server; an app's values are
    dropped, and the framing stays the server's (Content-Length here)."""
    reply = harness.request(servers.ports["probes"],
                            b"GET /hop?set=%s HTTP/1.1\r\nHost: x\r\n\r\n" % which.encode())
    assert reply.status == 200 and reply.body == b"hop"
    assert reply.header_values("Transfer-Encoding") == []
    assert reply.header_values("Keep-Alive") == []
    assert reply.header_values("Connection") == ["close"]
    assert reply.framing == "length" and reply.raw_body == b"hop"


def upload_unread(port, size):
    """POST size bytes to /big, which answers 100 KiB without reading them;
    send on a thread while reading, as a browser does.  Returns the reply."""
    head = b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
    with harness.connect(port) as sock:
        def send():
            try:
                sock.sendall(head + b"u" * size)
            except OSError:
                pass  # the server stopped reading: expected

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        data = harness.read_all(sock)
        sender.join(5.0)
    return harness.parse_reply(data)


def test_unread_upload_does_not_truncate_the_response(servers):
    """RFC 9112 section 9.6: closing with unread request bytes can send RST
    and destroy a response the client has not read yet.  20 times: a
    200 KiB upload the app ignores, a 100 KiB answer that must arrive whole."""
    port = servers.ports["probes"]
    for attempt in range(20):
        reply = upload_unread(port, 200 * 1024)
        assert reply.status == 200, "attempt %d: %r" % (attempt, reply.raw[:200])
        assert reply.complete and len(reply.body) == 100 * 1024, (
            "attempt %d: %d of %d bytes" % (attempt, len(reply.body), 100 * 1024)
        )
    servers.same_workers("probes")


# ---------------------------------------------------------------- slow clients


def read_reply(sock, seconds):
    """Read until close, at most `seconds`; the reply and when it ended."""
    sock.settimeout(seconds)
    try:
        data = harness.read_all(sock)
    except socket.timeout:
        data = b"<timed out>"
    return harness.parse_reply(data), time.monotonic()


def test_silent_client_is_cut_off_and_others_are_served(servers):
    """-w 2 --header-timeout 2: a client that sends nothing holds one worker
    for 2 s, then gets 408; meanwhile the other worker serves others."""
    port = servers.ports["slow"]
    with harness.connect(port) as silent:
        start = time.monotonic()
        for _ in range(5):
            t0 = time.monotonic()
            assert harness.get(port, "/echo").status == 200
            assert time.monotonic() - t0 < 1.0
        reply, end = read_reply(silent, 6.0)
    assert reply.status == 408, reply.raw[:200]
    assert 1.5 <= end - start <= 3.5, end - start
    servers.same_workers("slow")


def test_dribbling_head_is_cut_off_at_the_header_timeout(servers):
    """One byte every 0.5 s: the timeout is for the whole head, not per
    read, so the client is cut off about 2 s after connecting."""
    port = servers.ports["slow"]
    head = b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"z" * 40
    with harness.connect(port) as sock:
        start = time.monotonic()
        for byte in head:
            if wait_readable(sock, 0.5):
                break
            try:
                sock.send(bytes([byte]))
            except OSError:
                break
        reply, end = read_reply(sock, 5.0)
    assert reply.status == 408, reply.raw[:200]
    assert 1.5 <= end - start <= 3.5, end - start
    servers.same_workers("slow")


def test_silent_body_fails_the_read_with_408(servers):
    """A whole head, Content-Length: 100, then nothing: the app's read
    times out after --body-timeout 2, the app had sent nothing, so the
    client gets 408; the worker goes on serving."""
    port = servers.ports["slow"]
    with harness.connect(port) as sock:
        start = time.monotonic()
        sock.sendall(POST + b"Content-Length: 100\r\n\r\n" + b"p" * 10)
        reply, end = read_reply(sock, 6.0)
    assert reply.status == 408, reply.raw[:200]
    assert 1.5 <= end - start <= 3.5, end - start
    for _ in range(3):
        assert harness.get(port, "/echo").status == 200
    servers.same_workers("slow")


def test_declared_length_is_not_allocated_up_front(servers):
    """Content-Length: 10**12, then 10 bytes and silence: the app's read()
    waits for the rest as for any body, and the client gets 408 at
    --body-timeout 2.  Memory follows the bytes that arrive, not the size a
    client merely declares (else a read() fails at once with MemoryError)."""
    port = servers.ports["slow"]
    with harness.connect(port) as sock:
        start = time.monotonic()
        sock.sendall(POST + b"Content-Length: 1000000000000\r\n\r\n" + b"p" * 10)
        reply, end = read_reply(sock, 6.0)
    assert reply.status == 408, reply.raw[:200]
    assert 1.5 <= end - start <= 3.5, end - start
    servers.same_workers("slow")
