"""harness - sockets, server processes and side-by-side comparison for the integration suite.

Three parts, each usable on its own:

- `request(addr, raw)`: a raw HTTP/1.x client.  It sends exactly the bytes
  given, reads until the server closes, and parses what came back into a
  `Reply` (status line, header list in order, body de-chunked, raw bytes
  kept).  No HTTP library sits in between, so framing mistakes are visible.
- `Server`: one server process (greenhorn or Gunicorn) with its stderr and
  stdout in files, a bounded wait until it accepts connections, and a stop
  that never leaves a process behind.
- `compare(case, ours, ref)`: reduce two replies to comparable facts and
  check that every fact that differs is listed in differences.py.
"""

import json
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field

import differences

PYTHON = "/usr/bin/python3"
GUNICORN = [PYTHON, "-m", "gunicorn"]
READY_TIMEOUT = 10.0
IO_TIMEOUT = 15.0

# ---------------------------------------------------------------- ports
#
# A port chosen by closing a socket and then handed to a server is a race:
# on a busy machine another process may bind it first.  So a server under
# test gets a socket the test already bound and set listening (`-b fd://N`,
# which greenhorn and Gunicorn both take): nobody can take the port in
# between.  A test that must name a port itself (an address on the command
# line or in a config file is what it checks) starts through
# conftest.Spawner.on_free_port, which tries again on another port when the
# chosen one was taken.

PORT_ATTEMPTS = 5  # starts on_free_port tries, each on a newly chosen port
# What a server's log says when its port was taken: greenhorn
# ("127.0.0.1:8000: Address already in use"), Python's OSError (a config
# file's hook that binds), Gunicorn ("Connection in use: ('127.0.0.1', 8000)").
IN_USE = re.compile(r"Address already in use|Connection in use")


def listener(host="127.0.0.1"):
    """A TCP socket bound to a port the kernel picks and listening: (socket, port).
    Pass it to a server as `-b fd://N` (N = socket.fileno(), inherited with
    pass_fds) and close this copy once the server has started."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock, sock.getsockname()[1]


def reserved_port():
    """A port nobody can take or connect to while the returned socket is open:
    (socket, port).  Bound but not listening, and without SO_REUSEADDR, so a
    server told to bind it fails with "Address already in use" and a client
    gets "connection refused".  For a port that must stay unused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


def free_ports(n=1, host="127.0.0.1"):
    """n different ports on host that nobody listens on right now.  Only for
    Spawner.on_free_port, which handles the race: anyone may take one before
    the server binds it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    socks = [socket.socket(family, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def connect(addr, timeout=IO_TIMEOUT):
    """A connected socket to addr: a port number (127.0.0.1), a (host, port)
    pair, or a unix socket path."""
    if isinstance(addr, int):
        return socket.create_connection(("127.0.0.1", addr), timeout=timeout)
    if isinstance(addr, tuple):
        return socket.create_connection(addr, timeout=timeout)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(addr)
    except OSError:
        s.close()
        raise
    return s


# ---------------------------------------------------------------- the raw client


@dataclass
class Reply:
    """One parsed response.  `body` is the payload after de-chunking or
    Content-Length; `raw_body` is every byte after the head, as received."""

    raw: bytes
    version: str = ""
    status: int = 0
    reason: str = ""
    headers: list = field(default_factory=list)  # [(name, value)] as sent
    raw_body: bytes = b""
    body: bytes = b""
    framing: str = ""  # "chunked", "length" or "close"
    complete: bool = True  # chunked: last chunk seen; length: all bytes came
    interim: list = field(default_factory=list)  # 1xx status lines before the final one

    def header(self, name):
        """The value of the first header called name (any case), or None."""
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)


def split_head(data):
    """Split off one response head; returns (status line, headers, rest) or None."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = data[:end].decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name, value.strip(" \t")))
    return lines[0], headers, data[end + 4 :]


def dechunk(data):
    """Decode a chunked body (RFC 9112 section 7.1); returns (body, complete)."""
    body, pos = b"", 0
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return body, False
        size_field = data[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            return body, False
        if size == 0:
            return body, data.find(b"\r\n", eol + 2) >= 0
        chunk = data[eol + 2 : eol + 2 + size]
        body += chunk
        if len(chunk) < size or data[eol + 2 + size : eol + 4 + size] != b"\r\n":
            return body, False
        pos = eol + 4 + size


def parse_reply(data, head_request=False):
    """Parse everything a server sent on one connection into a Reply."""
    reply = Reply(raw=data)
    rest = data
    while True:
        parts = split_head(rest)
        if parts is None:
            reply.raw_body = rest
            return reply
        status_line, headers, rest = parts
        version, _, tail = status_line.partition(" ")
        code, _, reason = tail.partition(" ")
        if code.isdigit() and 100 <= int(code) < 200 and int(code) != 101:
            reply.interim.append(status_line)
            continue
        reply.version, reply.status, reply.reason = version, int(code or 0), reason
        reply.headers, reply.raw_body = headers, rest
        break
    te = reply.header("Transfer-Encoding")
    cl = reply.header("Content-Length")
    if head_request or reply.status in (204, 304):
        reply.framing, reply.body = "none", rest
    elif te is not None and te.lower() == "chunked":
        reply.framing = "chunked"
        reply.body, reply.complete = dechunk(rest)
    elif cl is not None and cl.isdigit():
        reply.framing = "length"
        reply.body = rest[: int(cl)]
        reply.complete = len(rest) >= int(cl)
    else:
        reply.framing = "close"
        reply.body = rest
    return reply


def read_all(sock):
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def request(addr, raw, body=b"", expect_continue=False, head_request=None):
    """Send raw (then body) on a new connection, read until close, parse.

    With expect_continue the body waits until an interim response arrives
    (or 2 seconds pass), as a client sending `Expect: 100-continue` does.
    A server may close early (an error page before reading the body):
    send errors are ignored so the reply can still be read.
    """
    if head_request is None:
        head_request = raw.startswith(b"HEAD ")
    with connect(addr) as sock:
        early = b""
        try:
            sock.sendall(raw)
            if expect_continue:
                sock.settimeout(2.0)
                try:
                    early = sock.recv(65536)
                except socket.timeout:
                    early = b""
                sock.settimeout(IO_TIMEOUT)
            sock.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return parse_reply(early + read_all(sock), head_request)


def get(addr, target, headers=(), method="GET", version="HTTP/1.1", body=b""):
    """A well-formed request built from parts; Host is always sent on HTTP/1.1."""
    lines = ["%s %s %s" % (method, target, version), "Host: example.test"]
    lines += ["%s: %s" % h for h in headers]
    if body:
        lines.append("Content-Length: %d" % len(body))
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return request(addr, raw, body)


# ---------------------------------------------------------------- server processes


def clean_env(extra=None):
    """The process environment for a server: nothing from the caller's shell
    that would change its configuration, plus extra."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GUNICORN_CMD_ARGS", "WEB_CONCURRENCY", "PORT", "SCRIPT_NAME", "PYTHONPATH")
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def wait_for(predicate, timeout=5.0):
    """Poll predicate every 50 ms until it is true or timeout seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def wait_for_value(get, done, timeout=5.0):
    """Call get() every 50 ms until done(its value) is true or timeout seconds
    pass; the last value, so that an assertion on it can show what came."""
    deadline = time.monotonic() + timeout
    while True:
        value = get()
        if done(value) or time.monotonic() >= deadline:
            return value
        time.sleep(0.05)


class PortTaken(AssertionError):
    """A server could not bind a port it was told to: another process has it."""


class Server:
    """One server process: argv is run in cwd with env; logs go to files in logdir."""

    def __init__(self, argv, cwd, logdir, name, env=None, addr=None, pass_fds=()):
        self.argv, self.cwd, self.name, self.addr = list(argv), cwd, name, addr
        self.pass_fds = tuple(pass_fds)  # file descriptors the process inherits
        self.env = clean_env(env)
        self.err_path = os.path.join(logdir, name + ".stderr")
        self.out_path = os.path.join(logdir, name + ".stdout")
        self.proc = None

    def start(self):
        with open(self.err_path, "wb") as err, open(self.out_path, "wb") as out:
            # A session of its own: stop() can then reach every worker by the group id.
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                pass_fds=self.pass_fds,
            )
        return self

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def describe(self):
        return "%s: %s\n--- stderr ---\n%s" % (self.name, " ".join(self.argv), self.log())

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Poll until addr accepts a connection; raise with the log if the
        process exits or the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited with %s before accepting connections\n%s"
                                     % (self.proc.returncode, self.describe()))
            try:
                connect(self.addr, timeout=1.0).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("server not accepting after %.0f s\n%s" % (timeout, self.describe()))

    def wait_bound(self, ports, timeout=READY_TIMEOUT):
        """For a server told to bind ports itself: wait until its log names
        each of them on a line about listening ("Listening at: http://...:N"
        from greenhorn and Gunicorn, "Listening on ...:N" from
        systemd-socket-activate).  Raise PortTaken when the log says a port
        is in use (the process is stopped then), AssertionError when the
        process exits or the time runs out.  Until this returns, something
        answering on the port may be another process."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log()
            if IN_USE.search(log):
                self.stop()
                raise PortTaken("a port was taken before the server bound it\n%s"
                                % self.describe())
            listening = [line for line in log.splitlines() if "Listening " in line]
            if all(any(re.search(r":%d\b" % port, line) for line in listening)
                   for port in ports):
                return self
            if self.proc.poll() is not None:
                raise AssertionError("server exited with %s before listening\n%s"
                                     % (self.proc.returncode, self.describe()))
            if time.monotonic() >= deadline:
                raise AssertionError("server not listening on %s after %.0f s\n%s"
                                     % (ports, timeout, self.describe()))
            time.sleep(0.05)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout):
        """The exit status, or None if the process still runs after timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, signum):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signum)

    def wait_log(self, pattern, timeout=5.0, after=0):
        """Wait until the log (from offset after) matches the regex; the match or None."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.log()[after:], re.M)
            if match or time.monotonic() >= deadline:
                return match
            time.sleep(0.05)

    def stop(self):
        """TERM, wait, then KILL the whole process group: nothing survives."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.wait_exit(5.0)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait(5.0)


def worker_pids(server):
    """The pids of the master's live children, from /proc."""
    return child_pids(server.pid)


def child_pids(parent):
    """The pids of the live children of process parent, from /proc."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) == parent and fields[0] != "Z":
            pids.append(int(entry))
    return sorted(pids)


# ---------------------------------------------------------------- comparison

NATURAL_HEADERS = ("date", "server")
# Environ keys whose values differ between any two servers, by nature.
NATURAL_ENVIRON = ("REMOTE_PORT", "SERVER_PORT", "SERVER_SOFTWARE", "gunicorn.socket")


def facts(reply, environ=False, port=None):
    """The comparable facts of a reply, as a flat dict.

    Header names are compared case-insensitively; values of one name keep
    their order (Set-Cookie order can matter), names do not.  With environ,
    the JSON body of /environ is compared key by key instead of as bytes.
    """
    out = {
        "status": "%d %s" % (reply.status, reply.reason),
        "version": reply.version,
        "interim": reply.interim,
        "framing": reply.framing,
        "complete": reply.complete,
        "body": reply.body,
    }
    for name, value in reply.headers:
        if name.lower() in NATURAL_HEADERS:
            continue
        if name.lower() == "allow":
            # RFC 9110 section 10.2.1: a set of methods; Flask's order follows string hashing.
            value = ", ".join(sorted(m.strip() for m in value.split(",")))
        out.setdefault("header:" + name.lower(), []).append(value)
    if environ and reply.status == 200:
        data = reply.json()
        del out["body"]
        out.pop("header:content-length", None)
        if port is not None:
            assert data["environ"].get("SERVER_PORT") == str(port), data["environ"]
        for key, value in data["environ"].items():
            if key not in NATURAL_ENVIRON:
                out["environ:" + key] = value
        for key in data["objects"]:
            if key not in NATURAL_ENVIRON:
                out["environ-object:" + key] = True  # the key exists; its type is ours
        for key in ("wsgi_keys", "input_methods", "errors_methods"):
            out[key] = data[key]
    return out


_MISSING = differences.ABSENT


def compare(case, ours, ref, environ=False, ports=(None, None)):
    """Assert that two replies agree, except for the differences listed for
    this case in differences.py.  Every listed difference of the case must
    show up too (a stale entry fails), unless both servers are Gunicorn."""
    compare_facts(case, facts(ours, environ, ports[0]), facts(ref, environ, ports[1]))


def compare_facts(case, a, b):
    """compare() for facts gathered some other way (a dict per server, such
    as what each told systemd): what differs must be listed for case in
    differences.py, and what is listed must differ."""
    seen = {k: (a.get(k, _MISSING), b.get(k, _MISSING)) for k in sorted(set(a) | set(b))}
    seen = {k: v for k, v in seen.items() if v[0] != v[1]}
    expected = {} if differences.reference_mode() else differences.for_case(case)
    problems = []
    whole = expected.pop("*", None)
    if whole is not None:
        # The whole reply differs: the status facts must be the listed ones.
        mine, theirs = a["status"], b["status"]
        if not seen:
            problems.append("*: listed in differences.py but both servers agree")
        elif not (whole.matches_greenhorn(mine) and whole.matches_gunicorn(theirs)):
            problems.append("*: greenhorn %r, gunicorn %r (differences.py says %r / %r)"
                            % (mine, theirs, whole.greenhorn, whole.gunicorn))
        seen = {}
    for key, (mine, theirs) in seen.items():
        entry = expected.get(key)
        if entry is None:
            problems.append("%s: greenhorn %r, gunicorn %r (not in differences.py)"
                            % (key, mine, theirs))
        elif not (entry.matches_greenhorn(mine) and entry.matches_gunicorn(theirs)):
            problems.append("%s: greenhorn %r, gunicorn %r (differences.py says %r / %r)"
                            % (key, mine, theirs, entry.greenhorn, entry.gunicorn))
    for key in expected:
        if key not in seen:
            problems.append("%s: listed in differences.py but both servers agree (%r)"
                            % (key, a.get(key, _MISSING)))
    assert not problems, "case %r:\n  " % case + "\n  ".join(problems)


def alive(pid):
    """Is process pid running (not gone, and not a zombie waiting to be reaped)?"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_pid(path):
    """The pid a pid file holds; 0 when it is missing, empty or not a number."""
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0
