"""greenhorn's gthread worker and Gunicorn 20.1's, side by side: framing
and keep-alive.

The same requests go to `-k gthread --threads 4 --keep-alive 30` on both
servers, one at a time on one connection (or pipelined, in one send).
Every answer is compared as the sync worker's side-by-side tests compare
theirs (harness.compare, differences.py lists what differs and why), and
then one more request asks whether the connection is still open: both
servers must agree on when a connection ends (RFC 9112 section 9.3).  The
keep-alive is long so that no idle timeout can close a connection between
two steps of a test; nothing here measures time.
"""

import socket

import pytest

import harness
from test_gthread import Conn

GTHREAD = ["-w", "1", "-k", "gthread", "--threads", "4", "--keep-alive", "30"]


def req(target, method="GET", version="HTTP/1.1", headers=(), body=b""):
    lines = ["%s %s %s" % (method, target, version), "Host: example.com"]
    lines += ["%s: %s" % h for h in headers]
    if body:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


KEEP_10 = (("Connection", "keep-alive"),)

# name: the requests, in order; each is (bytes, head_request)
CASES = {
    "ka-two-gets": [(req("/head"), False), (req("/length?declared=5&actual=5"), False)],
    "ka-http10-keep-alive": [(req("/head", version="HTTP/1.0", headers=KEEP_10), False)],
    "ka-http10": [(req("/head", version="HTTP/1.0"), False)],
    "ka-http10-generator-keep-alive": [(req("/generator", version="HTTP/1.0", headers=KEEP_10), False)],
    "ka-connection-close": [(req("/head", headers=(("Connection", "close"),)), False)],
    "ka-generator-chunked": [(req("/generator"), False), (req("/head"), False)],
    "ka-write": [(req("/write"), False), (req("/head"), False)],
    "ka-204": [(req("/204"), False), (req("/head"), False)],
    "ka-304": [(req("/304"), False), (req("/head"), False)],
    "ka-404": [(req("/nowhere"), False), (req("/head"), False)],
    "ka-unread-body": [(req("/head", "POST", body=b"x" * 1000), False), (req("/head"), False)],
    "ka-read-body": [(req("/upload", "POST", body=b"y" * 5000), False), (req("/head"), False)],
    "ka-file-wrapper": [(req("/file?cl=1"), False), (req("/head"), False)],
    "ka-error-before": [(req("/error-before"), False)],
    "ka-bad-request": [(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", False)],
}


def response(conn, head_request):
    """The next answer on conn: framed by Content-Length or chunked, or, for
    a body that only the close can end (RFC 9112 section 6.3, rule 8), all
    that comes before the end of the stream."""
    while b"\r\n\r\n" not in conn.buf:
        conn._fill()  # pylint: disable=protected-access
    head = harness.parse_reply(conn.buf[: conn.buf.index(b"\r\n\r\n") + 4], head_request=True)
    if (head_request or head.status in (204, 304) or head.header("Content-Length") is not None
            or head.header("Transfer-Encoding") is not None):
        return conn.response(head_request)
    try:
        while True:
            conn._fill()  # pylint: disable=protected-access
    except EOFError:
        pass
    whole, conn.buf = conn.buf, b""
    return harness.parse_reply(whole)


def run_case(port, steps, pipelined=False):
    """The answers to steps on one connection, then whether it still answers."""
    conn = Conn(port)
    replies = []
    try:
        if pipelined:
            conn.send(b"".join(raw for raw, _ in steps))
            replies = [response(conn, head) for _, head in steps]
        else:
            for raw, head in steps:
                conn.send(raw)
                replies.append(response(conn, head))
        try:
            conn.send(req("/head"))
            response(conn, False)
            still_open = True
        except (EOFError, ConnectionResetError, BrokenPipeError):
            still_open = False
    finally:
        conn.close()
    return replies, still_open


@pytest.mark.parametrize("case", sorted(CASES))
def test_gthread_answers_as_gunicorn_gthread(pair, case):
    both = pair(extra=GTHREAD)
    ours, ours_open = run_case(both.ports[0], CASES[case])
    ref, ref_open = run_case(both.ports[1], CASES[case])
    assert len(ours) == len(ref)
    for i, (mine, theirs) in enumerate(zip(ours, ref)):
        harness.compare("gthread:%s#%d" % (case, i), mine, theirs, ports=both.ports)
    assert ours_open == ref_open, "connection open afterwards: greenhorn %s, gunicorn %s" % (
        ours_open, ref_open)


# Where Gunicorn 20.1's gthread worker breaks HTTP/1.1 on a kept connection,
# greenhorn's is checked on its own, and Gunicorn's bug is checked to be still
# there, so that this list stays true (as differences.py does for the rest).


def raw_exchange(port, data, wait=3.0):
    """Send data on a new connection; everything that comes back within wait
    seconds of silence (a bounded wait: it only tells a stall from an answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        got = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            pass
    return got


PIPELINED = [(req("/head"), False), (req("/generator"), False), (req("/length?declared=3&actual=3"), False)]


def test_pipelined_requests_are_all_answered_where_gunicorn_gthread_stalls(pair):
    """RFC 9112 section 9.3.2: a server may process pipelined requests in
    parallel but must answer them in order.  greenhorn answers all three;
    Gunicorn 20.1's gthread worker answers the first and then waits for new
    bytes on the socket, though the next requests are already in its buffer."""
    both = pair(extra=GTHREAD)
    ours, ours_open = run_case(both.ports[0], PIPELINED, pipelined=True)
    assert [r.status for r in ours] == [200, 200, 200] and ours_open
    assert ours[0].body == b"the same body for GET and HEAD\n" and ours[2].body == b"xxx"
    theirs = raw_exchange(both.ports[1], b"".join(raw for raw, _ in PIPELINED))
    assert theirs.count(b"HTTP/1.1 200 OK") == 1, theirs


def test_head_on_a_kept_connection_where_gunicorn_gthread_sends_a_body(pair):
    """RFC 9110 section 9.3.2: the answer to HEAD has no content.  On a kept
    connection, Gunicorn 20.1's gthread worker sends the body anyway, and the
    client reads it as the start of the next response; greenhorn sends the
    head only, and the next request on the connection is answered cleanly."""
    both = pair(extra=GTHREAD)
    ours, ours_open = run_case(both.ports[0], [(req("/head", "HEAD"), True), (req("/head"), False)])
    assert ours[0].raw_body == b"" and ours[1].body == b"the same body for GET and HEAD\n" and ours_open
    theirs = raw_exchange(both.ports[1], req("/head", "HEAD"))
    assert theirs.endswith(b"\r\n\r\nthe same body for GET and HEAD\n"), theirs
