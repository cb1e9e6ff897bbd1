"""conftest - the fixtures of the integration suite: servers started, and always stopped.

$GREENHORN names the binary under test (`make integration` sets it to the
freshly built ./greenhorn).  The reference is Debian's Gunicorn 20.1,
run as `/usr/bin/python3 -m gunicorn`.  Pointing $GREENHORN at a script
that runs Gunicorn makes both sides Gunicorn: every comparison must then
agree exactly, which checks the harness itself (the checks of greenhorn's
own contract, such as its exit codes and one-line errors, then fail where
Gunicorn 20.1 differs, or skip with the reason when differences.py lists it).

Fixtures:
    greenhorn   the absolute path of the binary under test
    spawn       start one greenhorn (or any command) for this test only
    pair        greenhorn and Gunicorn with the same app and options on two
                ports, shared by the tests of one module (started when a test
                first asks, and again if one died)
Every process started here is stopped at teardown (TERM, then KILL of its
whole process group), whether the test passed or not.  A server listens on
a socket the test bound and passed on (`-b fd://N`, Spawner.tcp), so no
other process can take its port first; see harness.py, "ports".

Under a sanitizer (`make asan` runs part of this suite against a greenhorn
built with -fsanitize=address,undefined), ASAN_OPTIONS and UBSAN_OPTIONS
name a log_path: a report goes to a file there (PATH.PID), not to a stderr
the tests may never read, and the process stops (halt_on_error).  Each
report fails the first test that ends after it appeared, with the report
in the message; one that appears after the last test (a server stopped at
the end of its module) fails the session.
"""

import glob
import os
import re
import shutil
import subprocess
import tempfile
import warnings

import pytest

import differences
import harness

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(HERE, "apps")
REPO = os.path.dirname(os.path.dirname(HERE))
FLASK_DIR = os.path.join(REPO, "examples", "flask_hello")


@pytest.fixture(scope="session")
def greenhorn():
    path = os.environ.get("GREENHORN") or os.path.join(REPO, "greenhorn")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("no greenhorn binary at %r: build it (make) or set GREENHORN" % path)
    os.environ["GREENHORN"] = os.path.abspath(path)
    return os.path.abspath(path)


@pytest.fixture(scope="session", autouse=True)
def reference_available():
    """The reference server and Flask must be there: a missing one fails, never skips."""
    check = subprocess.run(
        [harness.PYTHON, "-c", "import gunicorn, flask; print(gunicorn.__version__)"],
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        pytest.fail("Gunicorn and Flask are needed for %s:\n%s" % (harness.PYTHON, check.stderr))


class Spawner:
    """Starts servers and remembers them, so that teardown stops every one."""

    def __init__(self, greenhorn_path, logdir):
        self.greenhorn, self.logdir, self.servers = greenhorn_path, logdir, []

    def server(self, args, cwd=APPS, env=None, addr=None, name=None, wait=True, command=None,
               pass_fds=(), sockets=()):
        """Start `command + args` (command defaults to greenhorn) in cwd.
        addr is the port, (host, port) or unix path to wait for; wait=False
        returns at once; pass_fds are file descriptors the process inherits;
        sockets are inherited too, and this process's copies are closed once
        the server has started (so a dead server leaves nothing listening)."""
        command = [self.greenhorn] if command is None else command
        name = name or "server%d" % len(self.servers)
        fds = tuple(pass_fds) + tuple(s.fileno() for s in sockets)
        server = harness.Server(command + list(args), cwd, self.logdir, name, env, addr, fds)
        self.servers.append(server)
        try:
            server.start()
        finally:
            for sock in sockets:
                sock.close()
        if wait:
            server.wait_ready()
        return server

    def tcp(self, args, app="rawapp:application", **kw):
        """A server (greenhorn unless command= says otherwise) serving app on
        a socket this process bound, passed as `-b fd://N`; returns (server, port).
        app=None leaves the app out of the command line (a config file names it)."""
        sock, port = harness.listener()
        argv = list(args) + ["-b", "fd://%d" % sock.fileno()] + ([app] if app else [])
        return self.server(argv, addr=port, sockets=[sock], **kw), port

    def on_free_port(self, build, count=1, host="127.0.0.1", **kw):
        """For a test that must name its ports itself (the address on the
        command line, in $PORT or in a config file is what it checks):
        build(*ports) returns the argv for count free ports, or a dict of
        server() keywords with the argv as "args" (and may write files that
        name the ports); the server is started and must log that it listens
        on each.  If another process took a port first, it is
        started again on new ports, up to harness.PORT_ATTEMPTS times.
        kw as for server(); addr defaults to the first port.
        Returns (server, ports)."""
        wait = kw.pop("wait", True)
        for attempt in range(1, harness.PORT_ATTEMPTS + 1):
            ports = harness.free_ports(count, host)
            addr = kw.get("addr", ports[0] if host == "127.0.0.1" else (host, ports[0]))
            built = build(*ports)
            built = dict(built) if isinstance(built, dict) else {"args": built}
            server = self.server(wait=False, **dict(kw, addr=addr, **built))
            try:
                server.wait_bound(ports)
            except harness.PortTaken:
                if attempt == harness.PORT_ATTEMPTS:
                    raise
                continue
            if wait:
                server.wait_ready()
            return server, ports

    def stop_all(self):
        for server in reversed(self.servers):
            server.stop()


@pytest.fixture
def spawn(greenhorn, tmp_path):
    spawner = Spawner(greenhorn, str(tmp_path))
    yield spawner
    spawner.stop_all()


class Pair:
    """greenhorn (ours) and Gunicorn (ref) serving the same app with the same options."""

    def __init__(self, ours, ref, ports):
        self.ours, self.ref, self.ports = ours, ref, ports

    def alive(self):
        return self.ours.alive() and self.ref.alive()

    def request(self, raw, body=b"", **kw):
        return tuple(harness.request(port, raw, body, **kw) for port in self.ports)

    def check(self, case, raw, body=b"", environ=False, **kw):
        """Send the same bytes to both, compare (differences.py applies), return both replies.
        A server that died meanwhile fails the test that was talking to it."""
        ours, ref = self.request(raw, body, **kw)
        for server in (self.ours, self.ref):
            assert server.alive(), "case %r: the server died\n%s" % (case, server.describe())
        harness.compare(case, ours, ref, environ=environ, ports=self.ports)
        if differences.reference_mode() and differences.for_case(case):
            pytest.skip(
                "both sides are Gunicorn, which differs from greenhorn in case %r "
                "(differences.py): the checks of greenhorn's own behaviour do not apply" % case
            )
        return ours, ref


@pytest.fixture(scope="module")
def pair(greenhorn, tmp_path_factory):
    """pair(app, app_dir, extra_args, env) -> Pair, kept for the module per arguments.

    Servers start when a test first asks for them, so a start that fails
    fails that test only (the next one tries again); a pair whose server
    died between tests is started afresh, with a warning.  Fixtures that
    call pair() should be function-scoped: pair() returns the same servers
    while they live."""
    logdir = str(tmp_path_factory.mktemp("pair"))
    spawner = Spawner(greenhorn, logdir)
    started = {}

    def make(app="rawapp:application", app_dir=APPS, extra=(), env=None):
        key = (app, app_dir, tuple(extra), tuple(sorted((env or {}).items())))
        both = started.get(key)
        if both is not None and not both.alive():
            dead = [s for s in (both.ours, both.ref) if not s.alive()]
            warnings.warn("a server of the pair died between tests; starting both again:\n"
                          + "\n".join(s.describe()[-3000:] for s in dead))
            both.ours.stop()
            both.ref.stop()
            del started[key]
        if key not in started:
            servers, ports = [], []
            try:
                for side, command in (("greenhorn", None), ("gunicorn", harness.GUNICORN)):
                    name = "%s%d" % (side, len(spawner.servers))
                    server, port = spawner.tcp(list(extra), app=app, cwd=app_dir, env=env,
                                               name=name, command=command)
                    servers.append(server)
                    ports.append(port)
            except BaseException:
                for server in servers:
                    server.stop()
                raise
            started[key] = Pair(servers[0], servers[1], tuple(ports))
        return started[key]

    yield make
    spawner.stop_all()


# ---------------------------------------------------------------- sanitizer reports


def sanitizer_log_paths():
    """The log_path prefixes that ASAN_OPTIONS and UBSAN_OPTIONS name (none outside make asan)."""
    paths = []
    for variable in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        for option in re.split(r"[:\s]+", os.environ.get(variable, "")):
            name, _, value = option.partition("=")
            if name == "log_path" and value:
                paths.append(value)
    return paths


def sanitizer_reports():
    return {path for prefix in sanitizer_log_paths() for path in glob.glob(prefix + ".*")}


def describe_reports(paths, limit=12000):
    out = []
    for path in sorted(paths):
        with open(path, errors="replace") as f:
            text = f.read()
        out.append("--- %s\n%s" % (path, text[:limit]))
    return "\n".join(out)


_reported = set()  # report files some test already failed with


@pytest.fixture(autouse=True)
def no_sanitizer_report():
    """Fail the test at teardown (after its servers stopped) if a sanitizer
    wrote a report since the last test that checked."""
    yield
    if not sanitizer_log_paths():
        return
    new = sanitizer_reports() - _reported
    _reported.update(new)
    if new:
        pytest.fail("sanitizer report(s) written during this test or just before it:\n"
                    + describe_reports(new), pytrace=False)


def pytest_sessionfinish(session):
    if not sanitizer_log_paths():
        return
    late = sanitizer_reports() - _reported
    if late:
        _reported.update(late)
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        text = describe_reports(late)
        if reporter is not None:
            reporter.write("\n")  # after the progress line
            reporter.write_sep("=", "sanitizer report(s) written after the last test", red=True)
            reporter.write_line(text)
        else:
            print("sanitizer report(s) written after the last test:\n" + text)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# An app that says which user and groups it runs as (--user, --group, --initgroups).
WHO_APP = '''
import json, os

def application(environ, start_response):
    body = json.dumps({"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''


@pytest.fixture
def open_dir():
    """A folder any user can read and enter (pytest's tmp_path is root's alone)."""
    if os.geteuid() != 0:
        pytest.skip("switching users needs root; this run is uid %d" % os.geteuid())
    folder = tempfile.mkdtemp(prefix="greenhorn-who-")
    os.chmod(folder, 0o755)
    with open(os.path.join(folder, "whoapp.py"), "w") as f:
        f.write(WHO_APP)
    os.chmod(os.path.join(folder, "whoapp.py"), 0o644)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
