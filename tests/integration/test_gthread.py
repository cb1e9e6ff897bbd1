"""The gthread worker (-k gthread, --threads N): keep-alive, pipelining,
slow clients and graceful stops, over real sockets.

The rules checked are RFC 9112 section 9.3 (persistence: HTTP/1.1 is
persistent unless "Connection: close"; HTTP/1.0 only with "Connection:
keep-alive"; a response whose body only the close can end closes) and
section 9.3.2 (pipelined requests are answered in the order they came),
and Gunicorn's gthread settings (--threads, --worker-connections,
--keep-alive).  No test measures time: each waits for an event, bounded.
"""

import base64
import hashlib
import json
import os
import signal
import socket
import threading
import time

import harness
from test_conformance_socket import CASES, check_valid, cli_options, read_case

GTHREAD = ["-k", "gthread", "--threads", "4"]
IO = 20.0  # the bound of every wait on a socket


def chunked_length(data):
    """The length of the complete chunked body (RFC 9112 section 7.1: the
    chunks, the last chunk and the trailer section) at the start of data,
    or None while it is incomplete; bytes after it are not looked at."""
    pos = 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(data[pos:eol].split(b";", 1)[0].strip(), 16)
        if size == 0:
            line = eol + 2
            while True:  # trailer fields, then the empty line
                nxt = data.find(b"\r\n", line)
                if nxt < 0:
                    return None
                if nxt == line:
                    return nxt + 2
                line = nxt + 2
        if len(data) < eol + 4 + size:
            return None
        pos = eol + 4 + size


class Conn:
    """One client connection that reads responses one at a time, each framed
    by its Content-Length or chunked coding (RFC 9112 section 6.3)."""

    def __init__(self, port):
        self.sock = harness.connect(port, timeout=IO)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("closed by the server; unread: %r" % self.buf[:200])
        self.buf += chunk

    def response(self, head_request=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        end = self.buf.index(b"\r\n\r\n") + 4
        reply = harness.parse_reply(self.buf[:end], head_request=True)
        rest = self.buf[end:]
        length = reply.header("Content-Length")
        if head_request or reply.status in (204, 304):
            size = 0
        elif length is not None:
            size = int(length)
        else:
            assert reply.header("Transfer-Encoding") == "chunked", reply.raw
            # Where the chunked body ends, not where the buffer does: the
            # next (pipelined) answer may have arrived in the same read.
            while (size := chunked_length(rest)) is None:
                self._fill()
                rest = self.buf[end:]
        while len(self.buf) < end + size:
            self._fill()
        whole, self.buf = self.buf[: end + size], self.buf[end + size:]
        return harness.parse_reply(whole, head_request)

    def closed(self):
        """True once the server closed: EOF (or a reset) within IO seconds."""
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def get(target, version="HTTP/1.1", headers=()):
    lines = ["GET %s %s" % (target, version), "Host: t"] + ["%s: %s" % h for h in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def post(target, body, headers=()):
    lines = ["POST %s HTTP/1.1" % target, "Host: t", "Content-Length: %d" % len(body)]
    lines += ["%s: %s" % h for h in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def start(spawn, args=(), app="rawapp:application"):
    return spawn.tcp(GTHREAD + list(args), app=app)


# ---------------------------------------------------------------- keep-alive rules


def test_one_connection_carries_a_thousand_requests(spawn):
    _, port = start(spawn, ["-w", "1"])
    conn = Conn(port)
    for i in range(1000):
        conn.send(get("/environ?i=%d" % i))
        reply = conn.response()
        assert reply.status == 200 and reply.header("Connection") == "keep-alive"
        assert reply.json()["environ"]["QUERY_STRING"] == "i=%d" % i
    conn.close()


def test_environ_says_multithread(spawn):
    _, port = start(spawn)
    environ = harness.get(port, "/environ").json()["environ"]
    assert environ["wsgi.multithread"] is True


def test_connection_close_ends_the_connection(spawn):
    _, port = start(spawn)
    conn = Conn(port)
    conn.send(get("/head", headers=[("Connection", "close")]))
    reply = conn.response()
    assert reply.status == 200 and reply.header("Connection") == "close"
    assert conn.closed()


def test_http10_closes_unless_it_asks_for_keep_alive(spawn):
    _, port = start(spawn)
    conn = Conn(port)
    conn.send(get("/head", version="HTTP/1.0"))
    assert conn.response().header("Connection") == "close"
    assert conn.closed()
    conn = Conn(port)
    for _ in range(3):
        conn.send(get("/head", version="HTTP/1.0", headers=[("Connection", "keep-alive")]))
        reply = conn.response()
        assert reply.status == 200 and reply.header("Connection") == "keep-alive"
    # Without Content-Length only the close can end an HTTP/1.0 body.
    conn.send(get("/generator", version="HTTP/1.0", headers=[("Connection", "keep-alive")]))
    reply = harness.parse_reply(conn.buf + harness.read_all(conn.sock))
    assert reply.status == 200 and reply.header("Connection") == "close"
    assert reply.framing == "close"


def test_chunked_response_keeps_the_connection(spawn):
    _, port = start(spawn)
    conn = Conn(port)
    for _ in range(3):
        conn.send(get("/generator"))
        reply = conn.response()
        assert reply.status == 200 and reply.framing == "chunked" and reply.complete
        assert reply.header("Connection") == "keep-alive"


def test_idle_connection_closes_after_keep_alive(spawn):
    _, port = start(spawn, ["--keep-alive", "1"])
    conn = Conn(port)
    conn.send(get("/head"))
    assert conn.response().status == 200
    assert conn.closed()


def test_next_head_on_a_kept_connection_has_the_header_timeout(spawn):
    """The head of a kept connection's next request gets --header-timeout
    from its first byte (then 408, as from the sync worker), not what is
    left of --keep-alive: the pool thread that answered the first request
    handed the connection back ready for the next one."""
    _, port = start(spawn, ["-w", "1", "--keep-alive", "60", "--header-timeout", "1"])
    conn = Conn(port)
    conn.send(get("/head"))
    assert conn.response().status == 200
    conn.send(b"GET /head HTTP/1.1\r\nHo")
    assert conn.response().status == 408
    assert conn.closed()


def test_keep_alive_zero_closes_after_each_response(spawn):
    _, port = start(spawn, ["--keep-alive", "0"])
    conn = Conn(port)
    conn.send(get("/head"))
    assert conn.response().header("Connection") == "close"
    assert conn.closed()


def test_error_page_closes(spawn):
    _, port = start(spawn)
    conn = Conn(port)
    conn.send(b"GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n")
    reply = conn.response()
    assert reply.status == 400 and reply.header("Connection") == "close"
    assert conn.closed()


# ---------------------------------------------------------------- pipelining and bodies


def pipelined_cases():
    return [c for c in CASES if len(c.get("expect", ())) > 1]


def test_every_pipelined_case_of_the_corpus_is_answered_in_order(spawn):
    cases = pipelined_cases()
    assert len(cases) >= 4, [c["name"] for c in cases]
    servers = {}
    for case in cases:
        args = tuple(cli_options(case["settings"]))
        if args not in servers:
            servers[args] = start(spawn, list(args), app="echoapp:application")[1]
        conn = Conn(servers[args])
        conn.send(read_case(case["name"]))
        for i, want in enumerate(case["expect"]):
            reply = conn.response()
            problems = check_valid(reply.raw, want)
            assert not problems, (case["name"], i, problems)
        conn.close()


def test_proxy_header_holds_for_every_request_of_the_connection(spawn):
    """A PROXY header opens the connection once; every request on it is the
    proxied client's, and none may send another."""
    _, port = start(spawn, ["--proxy-protocol", "v1", "--proxy-allow-from", "127.0.0.1"])
    conn = Conn(port)
    conn.send(b"PROXY TCP4 192.0.2.7 198.51.100.1 4321 80\r\n" + get("/environ"))
    for i in range(3):
        if i:
            conn.send(get("/environ"))
        reply = conn.response()
        assert reply.status == 200 and reply.json()["environ"]["REMOTE_ADDR"] == "192.0.2.7"


def test_pipelined_requests_in_one_packet_are_answered_in_order(spawn):
    _, port = start(spawn)
    conn = Conn(port)
    conn.send(b"".join(get("/environ?n=%d" % i) for i in range(20)) + get("/head"))
    for i in range(20):
        assert conn.response().json()["environ"]["QUERY_STRING"] == "n=%d" % i
    assert conn.response().status == 200


def test_unread_body_then_another_request(spawn):
    """The app ignores a body; the next request on the connection is read
    from where that body ends (RFC 9112 section 9.3)."""
    _, port = start(spawn, app="echoapp:probes")
    conn = Conn(port)
    for size in (10, 5000, 60000):
        conn.send(post("/noread", b"x" * size) + get("/noread?after=%d" % size))
        first = conn.response()
        assert first.status == 200 and first.body == b"ok"
        assert first.header("Connection") == "keep-alive"
        second = conn.response()
        assert second.status == 200 and second.body == b"ok"


def test_large_unread_body_closes(spawn):
    """More unread body than is worth skipping: the answer says close."""
    _, port = start(spawn, app="echoapp:probes")
    conn = Conn(port)
    body = b"y" * (1024 * 1024)
    conn.send(post("/noread", body)[: -len(body)])  # the head; the body never comes
    reply = conn.response()
    assert reply.status == 200 and reply.header("Connection") == "close"
    conn.close()


def test_expect_continue_unread_body_closes(spawn):
    """A client waiting for 100 Continue whose body the app never asked for:
    no go-ahead after the final answer; the connection closes."""
    _, port = start(spawn, app="echoapp:probes")
    conn = Conn(port)
    conn.send(post("/noread", b"z" * 100, headers=[("Expect", "100-continue")])[:-100])
    reply = conn.response()
    assert reply.status == 200 and not reply.interim and reply.header("Connection") == "close"
    assert conn.closed() and conn.buf == b""


def test_big_body_is_read_by_the_thread(spawn):
    _, port = start(spawn)
    body = os.urandom(3 * 1024 * 1024 + 7)
    conn = Conn(port)
    for _ in range(2):
        conn.send(post("/upload", body))
        reply = conn.response()
        assert reply.status == 200, reply.raw[:300]
        seen = reply.json()
        assert seen["md5"] == hashlib.md5(body).hexdigest() and seen["length"] == len(body)
    conn.close()


def test_concurrent_requests_each_get_their_own_body(spawn):
    """Thread safety: many clients, each posting its own body on its own
    keep-alive connection, each answer built from its own request."""
    _, port = start(spawn, ["-w", "2", "--threads", "8"], app="echoapp:application")
    errors = []

    def client(n):
        try:
            conn = Conn(port)
            for i in range(30):
                body = ("client %d request %d " % (n, i)).encode() * (1 + (n * 7 + i) % 900)
                conn.send(post("/c%d/%d" % (n, i), body, headers=[("X-Who", "%d-%d" % (n, i))]))
                seen = conn.response().json()
                assert seen["path_info"] == "/c%d/%d" % (n, i), seen["path_info"]
                assert seen["headers"]["HTTP_X_WHO"] == "%d-%d" % (n, i)
                assert base64.b64decode(seen["body_b64"]) == body
            conn.close()
        except Exception as exc:  # reported below
            errors.append("client %d: %r" % (n, exc))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]


# ---------------------------------------------------------------- limits and slow clients


def worker_of(conn):
    conn.send(get("/pid"))
    return conn.response().json()["pid"]


def test_connections_opened_together_are_shared_by_the_workers(spawn):
    """Keep-alive connections last, and a worker serves every request of the
    ones it accepted: connections opened one after another while earlier
    ones stay open must not all go to the first worker to wake while the
    other's threads idle.  A worker leaves a connection to another live
    worker that holds fewer (my_turn in gthread.c)."""
    _, port = start(spawn, ["-w", "2"])
    # Until both workers' loops run (a booting worker takes no part), one
    # worker takes everything: ask, on short-lived connections, until both
    # have answered (bounded: a worker that never boots fails the test).
    seen, deadline = set(), time.monotonic() + IO * 3
    while len(seen) < 2:
        assert time.monotonic() < deadline, "only %s answered" % seen
        conn = Conn(port)
        seen.add(worker_of(conn))
        conn.close()
    # Now connections that stay open: each new one goes to the worker that
    # holds fewer (a race between the two may cost one either way).
    held, counts = [], {pid: 0 for pid in seen}
    for _ in range(12):
        held.append(Conn(port))
        counts[worker_of(held[-1])] += 1
    for conn in held:
        conn.close()
    assert min(counts.values()) >= 5, counts


def test_worker_connections_limit_leaves_the_rest_in_the_backlog(spawn):
    _, port = start(spawn, ["-w", "1", "--worker-connections", "2", "--keep-alive", "30"])
    held = [Conn(port) for _ in range(2)]
    for conn in held:
        conn.send(get("/head"))
        assert conn.response().status == 200
    waiting = Conn(port)  # accepted by the kernel, not by the worker
    waiting.send(get("/head"))
    waiting.sock.settimeout(0.5)
    try:
        early = waiting.sock.recv(1)
    except socket.timeout:
        early = None
    assert early is None, "served beyond --worker-connections"
    waiting.sock.settimeout(IO)
    for conn in held:
        conn.close()
    assert waiting.response().status == 200


def test_slow_header_client_holds_no_thread(spawn):
    """One thread, and a client sending its head a byte at a time: other
    clients are still served meanwhile."""
    _, port = start(spawn, ["-w", "1", "--threads", "1", "--header-timeout", "30"])
    slow = Conn(port)
    slow.send(b"GET /head HTTP/1.1\r\nHo")
    for _ in range(5):
        assert harness.get(port, "/head").status == 200
    slow.send(b"st: t\r\n\r\n")
    assert slow.response().status == 200


# ---------------------------------------------------------------- graceful stops


def busy_and_idle(port):
    """An idle keep-alive connection, and one whose request is in the app
    (it sleeps 2 s there; the signal follows after 0.5 s, an ordering wait)."""
    idle = Conn(port)
    idle.send(get("/head"))
    assert idle.response().status == 200
    busy = Conn(port)
    busy.send(get("/sleep?s=2"))
    threading.Event().wait(0.5)
    return idle, busy


def check_graceful(server, idle, busy):
    assert idle.closed(), "the idle keep-alive connection was not closed"
    reply = busy.response()
    assert reply.status == 200 and reply.header("Connection") == "close"
    assert busy.closed()


def test_term_finishes_busy_connections_and_closes_idle_ones(spawn):
    server, port = start(spawn, ["-w", "1"])
    idle, busy = busy_and_idle(port)
    server.signal(signal.SIGTERM)
    check_graceful(server, idle, busy)


def test_hup_finishes_busy_connections_and_closes_idle_ones(spawn):
    server, port = start(spawn, ["-w", "1"])
    old = harness.worker_pids(server)
    idle, busy = busy_and_idle(port)
    server.signal(signal.SIGHUP)
    check_graceful(server, idle, busy)
    assert harness.wait_for(lambda: harness.worker_pids(server) not in ([], old), 10)
    assert harness.get(port, "/head").status == 200


def test_max_requests_with_keep_alive_clients_loses_nothing(spawn):
    """Workers recycle every few requests under keep-alive clients; a client
    whose idle connection was closed before it got any byte of an answer
    sends again on a new one, as HTTP clients do (RFC 9112 section 9.3.1):
    every request is answered."""
    _, port = start(spawn, ["-w", "2", "--max-requests", "7"])
    answered, errors = [], []

    def client(n):
        conn = None
        for i in range(40):
            for _attempt in range(5):
                try:
                    if conn is None:
                        conn = Conn(port)
                    conn.send(get("/environ?c=%d&i=%d" % (n, i)))
                    reply = conn.response()
                    if reply.header("Connection") == "close":
                        conn.close()
                        conn = None
                    break
                except (EOFError, ConnectionError) as exc:
                    conn.close()
                    conn = None
                    last = exc
            else:
                errors.append("c%d i%d: %r" % (n, i, last))
                continue
            if reply.status == 200 and reply.json()["environ"]["QUERY_STRING"] == "c=%d&i=%d" % (n, i):
                answered.append((n, i))
            else:
                errors.append("c%d i%d: %r" % (n, i, reply.raw[:200]))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(answered) == 160, (errors[:3], len(answered))


# ---------------------------------------------------------------- settings


def test_threads_above_one_selects_gthread(spawn):
    server, port = spawn.tcp(["--threads", "2"])
    conn = Conn(port)
    conn.send(get("/head"))
    assert conn.response().header("Connection") == "keep-alive"
    # The master names the worker class as Gunicorn does ("Using worker: gthread").
    assert server.wait_log(r"\[INFO\] Using worker: gthread$"), server.log()


def test_config_file_selects_gthread(spawn, tmp_path):
    conf = tmp_path / "gthread.conf.py"
    conf.write_text("worker_class = 'gthread'\nthreads = 3\nworker_connections = 10\nkeepalive = 5\n")
    server, port = spawn.tcp(["-c", str(conf)])
    conn = Conn(port)
    conn.send(get("/environ"))
    reply = conn.response()
    assert reply.header("Connection") == "keep-alive"
    assert reply.json()["environ"]["wsgi.multithread"] is True
    assert "not supported" not in server.log()


# ---------------------------------------------------------------- close() on a kept connection

CLOSE_APP = '''
import os

LOG = os.path.join(os.environ["CLOSE_DIR"], "order.log")

def note(word):
    with open(LOG, "a") as f:
        f.write(word + "\\n")

class Body:
    def __init__(self, n):
        self.n = n
    def __iter__(self):
        yield b"answer " + self.n.encode()
    def close(self):
        note("close " + self.n)

def application(environ, start_response):
    n = environ["PATH_INFO"].strip("/")
    note("call " + n)
    start_response("200 OK", [("Content-Length", str(len("answer " + n)))])
    return Body(n)
'''

CLOSE_CONF = '''
import os

def post_request(worker, req, environ, resp):
    with open(os.path.join(os.environ["CLOSE_DIR"], "order.log"), "a") as f:
        f.write("post " + environ["PATH_INFO"].strip("/") + "\\n")
'''


def test_kept_connection_closes_each_result_once_before_the_next_request(spawn, tmp_path):
    """PEP 3333: the result's close() once per request, then (Gunicorn's
    order) post_request, all before the next request on the same
    connection runs; with and without an access log, which decides whether
    the pool thread lets go of the GIL between the answer and close()."""
    folder = str(tmp_path)
    (tmp_path / "closeapp.py").write_text(CLOSE_APP)
    (tmp_path / "close.conf.py").write_text(CLOSE_CONF)
    for extra in ([], ["--access-logfile", os.path.join(folder, "access.log")]):
        log = tmp_path / "order.log"
        if log.exists():
            log.unlink()
        server, port = spawn.tcp(GTHREAD + ["-w", "1", "--chdir", folder, "-c", "close.conf.py"] + extra,
                                 app="closeapp:application", cwd=folder, env={"CLOSE_DIR": folder})
        conn = Conn(port)
        for n in range(1, 4):
            conn.send(get("/%d" % n))
            reply = conn.response()
            assert reply.status == 200 and reply.body == b"answer %d" % n, server.log()
            assert reply.header("Connection") == "keep-alive"
        conn.close()
        want = []
        for n in range(1, 4):
            want += ["call %d" % n, "close %d" % n, "post %d" % n]
        # The third request's close() and post_request run after its answer:
        # wait for them, bounded, then compare the whole order.
        for _ in range(200):
            if log.exists() and len(log.read_text().split("\n")) > len(want):
                break
            time.sleep(0.05)
        assert log.read_text().split("\n")[:-1] == want, (extra, server.log())
        if extra:
            lines = open(extra[1]).read().splitlines()
            assert [line.split('"')[1] for line in lines] == ["GET /%d HTTP/1.1" % n for n in range(1, 4)]
        server.stop()
