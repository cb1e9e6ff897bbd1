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
                ports, shared by the tests of one module
Every process started here is stopped at teardown (TERM, then KILL of its
whole process group), whether the test passed or not.
"""

import os
import subprocess

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
               pass_fds=()):
        """Start `command + args` (command defaults to greenhorn) in cwd.
        addr is the port or unix path to wait for; wait=False returns at once;
        pass_fds are file descriptors the process inherits."""
        command = [self.greenhorn] if command is None else command
        name = name or "server%d" % len(self.servers)
        server = harness.Server(command + list(args), cwd, self.logdir, name, env, addr, pass_fds)
        self.servers.append(server)
        server.start()
        if wait:
            server.wait_ready()
        return server

    def tcp(self, args, app="rawapp:application", **kw):
        """greenhorn on a fresh 127.0.0.1 port, serving app; returns (server, port)."""
        port = harness.free_port()
        argv = list(args) + ["-b", "127.0.0.1:%d" % port, app]
        return self.server(argv, addr=port, **kw), port

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

    def request(self, raw, body=b"", **kw):
        return tuple(harness.request(port, raw, body, **kw) for port in self.ports)

    def check(self, case, raw, body=b"", environ=False, **kw):
        """Send the same bytes to both, compare (differences.py applies), return both replies."""
        ours, ref = self.request(raw, body, **kw)
        harness.compare(case, ours, ref, environ=environ, ports=self.ports)
        if differences.reference_mode() and differences.for_case(case):
            pytest.skip(
                "both sides are Gunicorn, which differs from greenhorn in case %r "
                "(differences.py): the checks of greenhorn's own behaviour do not apply" % case
            )
        return ours, ref


@pytest.fixture(scope="module")
def pair(greenhorn, tmp_path_factory):
    """pair(app, app_dir, extra_args, env) -> Pair, started once per module and arguments."""
    logdir = str(tmp_path_factory.mktemp("pair"))
    spawner = Spawner(greenhorn, logdir)
    started = {}

    def make(app="rawapp:application", app_dir=APPS, extra=(), env=None):
        key = (app, app_dir, tuple(extra), tuple(sorted((env or {}).items())))
        if key not in started:
            ports = (harness.free_port(), harness.free_port())
            servers = []
            for side, command, port in (
                ("greenhorn", None, ports[0]),
                ("gunicorn", harness.GUNICORN, ports[1]),
            ):
                args = list(extra) + ["-b", "127.0.0.1:%d" % port, app]
                name = "%s%d" % (side, len(started))
                servers.append(
                    spawner.server(
                        args, cwd=app_dir, env=env, addr=port, name=name, command=command
                    )
                )
            started[key] = Pair(servers[0], servers[1], ports)
        return started[key]

    yield make
    spawner.stop_all()
