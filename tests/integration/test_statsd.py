"""--statsd-host and --statsd-prefix: Gunicorn's StatsD metrics over UDP.

Gunicorn 20.1's Statsd logger (gunicorn/instrument/statsd.py) sends, per
request, gunicorn.request.duration (ms), gunicorn.requests and
gunicorn.request.status.NNN; gunicorn.log.critical/error/warning/exception
for its logger's lines at those levels; and the master's gunicorn.workers
gauge when the number of workers changes.  Every test holds the UDP socket
the server sends to, and reads what came.
"""

import os
import re
import signal
import socket
import subprocess

import pytest

import differences
import harness

APP = '''
import time

def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise RuntimeError("the app broke")
    if path == "/sleep":
        time.sleep(30)
    status = "404 Not Found" if path == "/missing" else "200 OK"
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
'''

WAIT = 30.0  # the bound of every wait; each ends as soon as its datagrams are there


class Collector:
    """A UDP socket on loopback the test holds; what a server sends to it."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.lines = []

    def read(self):
        while True:
            try:
                self.lines.append(self.sock.recv(65536).decode("ascii"))
            except BlockingIOError:
                return self.lines

    def wait(self, wanted):
        """Wait until every line of wanted came (as many times as listed)."""
        def there():
            got = self.read()
            return all(got.count(w) >= wanted.count(w) for w in wanted)
        assert harness.wait_for(there, WAIT), (wanted, self.lines)
        return self.lines

    def close(self):
        self.sock.close()


@pytest.fixture
def collector():
    c = Collector()
    yield c
    c.close()


@pytest.fixture
def app_dir(tmp_path):
    (tmp_path / "statsapp.py").write_text(APP)
    return str(tmp_path)


def start(spawn, app_dir, collector, extra=(), command=None):
    server, port = spawn.tcp(["--statsd-host", "127.0.0.1:%d" % collector.port] + list(extra),
                             app="statsapp:application", cwd=app_dir, command=command)
    return server, port


def fetch(port, target):
    return harness.get(port, target)


def serve_three(port):
    assert fetch(port, "/").status == 200
    assert fetch(port, "/missing").status == 404
    assert fetch(port, "/boom").status == 500


COUNTERS = ["gunicorn.requests:1|c|@1.0"] * 3 + [
    "gunicorn.request.status.200:1|c|@1.0",
    "gunicorn.request.status.404:1|c|@1.0",
    "gunicorn.request.status.500:1|c|@1.0",
    "gunicorn.log.exception:1|c|@1.0",
    "gunicorn.workers:2|g",
]
DURATION = re.compile(r"^gunicorn\.request\.duration:\d+(\.\d+)?\|ms$")


@pytest.mark.parametrize("worker_class", [[], ["-k", "gthread", "--threads", "2"]],
                         ids=["sync", "gthread"])
def test_requests_statuses_workers_and_the_app_error(spawn, app_dir, collector, worker_class):
    server, port = start(spawn, app_dir, collector, ["-w", "2"] + worker_class)
    serve_three(port)
    lines = collector.wait(COUNTERS)
    durations = [line for line in lines if line.startswith("gunicorn.request.duration:")]
    assert len(durations) == 3 and all(DURATION.match(d) for d in durations), lines
    # The traceback counts as an exception (Gunicorn's log.exception), not also as an error.
    assert "gunicorn.log.error:1|c|@1.0" not in lines, lines


@pytest.mark.parametrize("prefix, sent", [("myapp", "myapp."), ("myapp...", "myapp."),
                                          ("a", "a")])
def test_prefix_as_gunicorn_writes_it(spawn, app_dir, collector, prefix, sent):
    server, port = start(spawn, app_dir, collector, ["--statsd-prefix", prefix])
    assert fetch(port, "/").status == 200
    lines = collector.wait([sent + "gunicorn.requests:1|c|@1.0",
                            sent + "gunicorn.request.status.200:1|c|@1.0",
                            sent + "gunicorn.workers:1|g"])
    assert all(line.startswith(sent + "gunicorn.") for line in lines), lines


def shapes(lines):
    """Each datagram with its numbers written N: the metric names and types."""
    return sorted({name + ":" + re.sub(r"\d+(\.\d+)?", "N", value)
                   for name, value in (line.split(":", 1) for line in lines)})


@pytest.mark.parametrize("tags", [None, "env:test,team:web"], ids=["plain", "dogstatsd-tags"])
def test_same_metrics_as_gunicorn(spawn, app_dir, tags):
    """The same datagrams as Gunicorn 20.1 sends; with --dogstatsd-tags each
    ends with DogStatsD's "|#TAGS", as Gunicorn 20's _sock_send appends it."""
    seen = {}
    extra = ["--dogstatsd-tags", tags] if tags else []
    tail = "|#" + tags if tags else ""
    for side, command in (("greenhorn", None), ("gunicorn", harness.GUNICORN)):
        c = Collector()
        try:
            server, port = start(spawn, app_dir, c, ["-w", "2", "--statsd-prefix", "side"] + extra,
                                 command=command)
            serve_three(port)
            # What serving sent, copied before the stop: Gunicorn 20.1 may
            # log (and count) "Worker ... was terminated due to signal 15"
            # as it stops, or not, depending on when its worker exits.
            seen[side] = list(c.wait(["side." + line + tail for line in COUNTERS]))
            server.stop()
        finally:
            c.close()
        assert all(line.endswith(tail) for line in seen[side]), (side, seen[side])
    assert shapes(seen["greenhorn"]) == shapes(seen["gunicorn"]), seen


def test_timeout_kill_counts_as_critical(spawn, app_dir, collector):
    server, port = start(spawn, app_dir, collector, ["--timeout", "2"])
    client = harness.connect(port)
    try:
        client.sendall(b"GET /sleep HTTP/1.1\r\nHost: t\r\n\r\n")
        # The master's "WORKER TIMEOUT" line (Gunicorn: log.critical).
        collector.wait(["gunicorn.log.critical:1|c|@1.0"])
    finally:
        client.close()
    assert server.wait_log(r"WORKER TIMEOUT", WAIT), server.log()


def test_a_dead_statsd_port_changes_nothing(spawn, app_dir):
    # A port nobody listens on: every datagram is refused (ICMP), and the
    # next send on the socket reports it; requests must not notice.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    dead = probe.getsockname()[1]
    probe.close()
    server, port = spawn.tcp(["--statsd-host", "127.0.0.1:%d" % dead],
                             app="statsapp:application", cwd=app_dir)
    for _ in range(30):
        assert fetch(port, "/").status == 200
        assert fetch(port, "/missing").status == 404
    assert server.alive()
    assert "statsd" not in server.log().lower(), server.log()


def test_an_unknown_statsd_host_is_one_line(greenhorn, app_dir):
    done = subprocess.run([greenhorn, "--statsd-host", "no-such-host.invalid:8125",
                           "-b", "unix:app.sock", "statsapp:application"], cwd=app_dir,
                          capture_output=True, text=True, timeout=30, env=harness.clean_env(None))
    assert done.returncode != 0
    assert "--statsd-host: cannot resolve 'no-such-host.invalid:8125'" in done.stderr, done.stderr


HOOK_LOGS = """
bind = "fd://%(fd)d"
wsgi_app = "statsapp:application"
statsd_host = "127.0.0.1:%(statsd)d"
def post_worker_init(worker):
    worker.log.warning("a warning from a hook")
    try:
        1 / 0
    except ZeroDivisionError:
        worker.log.exception("caught in a hook")
"""


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
def test_a_hooks_warning_and_exception_count(spawn, app_dir, collector, side, tmp_path):
    sock, port = harness.listener()
    folder = tmp_path / side
    folder.mkdir()
    (folder / "statsapp.py").write_text(APP)
    (folder / "gunicorn.conf.py").write_text(HOOK_LOGS % {"fd": sock.fileno(),
                                                          "statsd": collector.port})
    command = harness.GUNICORN if side == "gunicorn" else None
    server = spawn.server([], cwd=str(folder), addr=port, command=command, sockets=[sock])
    lines = collector.wait(["gunicorn.log.warning:1|c|@1.0", "gunicorn.log.exception:1|c|@1.0"])
    assert "gunicorn.log.error:1|c|@1.0" not in lines, lines
    assert "ZeroDivisionError" in server.log(), server.log()


STATS_CONF = "statsd_prefix = %r\ndogstatsd_tags = %r\n"


def test_hup_applies_a_new_prefix_and_tags(spawn, app_dir, collector):
    """HUP reads the settings again, and the workers forked after it send
    with the new prefix and tags (Gunicorn 20.1 keeps its first ones:
    README, differences).  Each wait ends as soon as the datagram came."""
    if differences.reference_mode():
        pytest.skip("Gunicorn 20.1 keeps its first StatsD prefix and tags after a HUP")
    conf = os.path.join(app_dir, "stats.conf.py")
    with open(conf, "w") as f:
        f.write(STATS_CONF % ("one", "v:1"))
    server, port = start(spawn, app_dir, collector, ["-c", conf, "-w", "1"])
    assert fetch(port, "/").status == 200
    collector.wait(["one.gunicorn.requests:1|c|@1.0|#v:1"])
    with open(conf, "w") as f:
        f.write(STATS_CONF % ("two", "v:2"))
    server.signal(signal.SIGHUP)
    wanted = "two.gunicorn.requests:1|c|@1.0|#v:2"

    def renamed():
        # until the new worker serves: the old one may answer a moment more
        assert fetch(port, "/").status == 200
        return wanted in collector.read()

    assert harness.wait_for(renamed, WAIT), (collector.lines, server.log())
