"""examples/deploy/greenhorn.service and greenhorn.socket, run as systemd would run them.

There is no systemd to start units here, so the test reads the two files
and does what systemd does with them, with its own programs:
systemd-socket-activate binds the socket unit's ListenStream (a path of
the test's own in place of /run) and starts greenhorn with the service's
ExecStart arguments on the first connection, as socket activation does
(LISTEN_FDS, fd 3); the test holds the $NOTIFY_SOCKET systemd would hold
for Type=notify; ExecReload runs as written, with $MAINPID the pid greenhorn
told; and the stop is KillMode=mixed's: TERM to the main process alone.
The app is the suite's rawapp instead of app:application, served from its
folder instead of WorkingDirectory, and the RuntimeDirectory is a folder
of the test's own.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading

import pytest

import harness
from sdnotify import NotifySocket

HERE = os.path.dirname(os.path.abspath(__file__))
DEPLOY = os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples", "deploy")
APP = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")  # MODULE:VARIABLE


def read_unit(name):
    """A unit file as {section: {key: value}} (systemd.syntax(7): '#' and ';'
    comments, a trailing backslash continues the line, the last value wins)."""
    sections, current, pending = {}, None, ""
    with open(os.path.join(DEPLOY, name)) as f:
        for raw in f:
            line = pending + raw.strip()
            pending = ""
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                current = sections.setdefault(line.strip("[]"), {})
                continue
            key, _, value = line.partition("=")
            current[key.strip()] = value.strip()
    return sections


def seconds(value):
    """A systemd time span of plain seconds ("5", "5s")."""
    return float(value[:-1] if value.endswith("s") else value)


def test_the_unit_pair_says_what_systemd_needs(greenhorn):
    sock, service = read_unit("greenhorn.socket"), read_unit("greenhorn.service")
    assert sock["Socket"]["ListenStream"].startswith("/run/")
    assert service["Unit"]["Requires"] == "greenhorn.socket"
    unit = service["Service"]
    assert (unit["Type"], unit["NotifyAccess"], unit["KillMode"]) == ("notify", "main", "mixed")
    assert shlex.split(unit["ExecReload"]) == ["/bin/kill", "-s", "HUP", "$MAINPID"]
    argv = shlex.split(unit["ExecStart"])
    assert os.path.basename(argv[0]) == "greenhorn"
    # The socket unit's socket replaces --bind: a bind here would be ignored.
    assert not any(a in ("-b", "--bind") or a.startswith("--bind=") for a in argv)
    # Workers must be done before TimeoutStopSec's KILL, or requests in flight are cut.
    if "--graceful-timeout" in argv:
        graceful = argv[argv.index("--graceful-timeout") + 1]
    else:
        usage = subprocess.run([greenhorn, "--help"], capture_output=True, text=True).stdout
        graceful = re.search(r"--graceful-timeout INT .*\[(\d+)\]", usage).group(1)
    assert int(graceful) < seconds(unit["TimeoutStopSec"])
    # The pid file, if any, is in the RuntimeDirectory systemd makes for the user.
    pids = [a for a in argv if a.startswith("/run/")]
    assert all(a.startswith("/run/%s/" % unit["RuntimeDirectory"]) for a in pids), pids


def test_socket_activated_notify_reload_and_stop(spawn):
    tool = shutil.which("systemd-socket-activate")
    if tool is None:
        pytest.skip("systemd-socket-activate is not installed (Debian package systemd)")
    listen = read_unit("greenhorn.socket")["Socket"]["ListenStream"]
    unit = read_unit("greenhorn.service")["Service"]
    args = shlex.split(unit["ExecStart"])[1:]
    apps = [i for i, a in enumerate(args) if APP.fullmatch(a)]
    assert len(apps) == 1, args
    args[apps[0]] = "rawapp:application"

    where = tempfile.mkdtemp(prefix="sdu")  # sun_path holds 108 bytes: a short path
    path = os.path.join(where, os.path.basename(listen))
    runtime = "/run/%s/" % unit["RuntimeDirectory"]
    os.mkdir(os.path.join(where, unit["RuntimeDirectory"]))
    args = [a.replace(runtime, os.path.join(where, unit["RuntimeDirectory"]) + "/")
            for a in args]
    note = NotifySocket()
    try:
        server = spawn.server(["-l", path, "-E", "PATH", "-E", "NOTIFY_SOCKET=" + note.name,
                               spawn.greenhorn] + args, command=[tool], wait=False)
        assert server.wait_log(r"Listening on .* as 3\.", 30), server.describe()
        # The first connection starts the service; it waits in the socket's queue.
        assert harness.get(path, "/head").status == 200, server.describe()
        ready = note.wait("READY")
        # systemd-socket-activate execs the service in its own process.
        assert ready["MAINPID"] == str(server.pid), (ready, server.describe())
        if "--pid" in args:
            with open(args[args.index("--pid") + 1]) as f:
                assert f.read().strip() == ready["MAINPID"]
        workers = args[args.index("--workers") + 1]
        assert re.fullmatch(r"greenhorn \S+: %s sync workers, listening at unix:%s"
                            % (workers, re.escape(path)), ready["STATUS"]), ready
        assert [harness.get(path, "/osenv?name=" + name).json()[name]
                for name in ("LISTEN_FDS", "LISTEN_PID", "NOTIFY_SOCKET")] == [None] * 3

        # systemctl reload, under a steady stream of requests.
        outcomes, stop = [], threading.Event()

        def load():
            while not stop.is_set() and len(outcomes) < 5000:
                try:
                    outcomes.append(harness.get(path, "/head").status)
                except OSError as e:
                    outcomes.append(repr(e))

        client = threading.Thread(target=load)
        client.start()
        try:
            assert harness.wait_for(lambda: len(outcomes) >= 20, 30), outcomes
            reload = shlex.split(unit["ExecReload"].replace("$MAINPID", ready["MAINPID"]))
            subprocess.run(reload, check=True, timeout=30)
            assert note.wait("RELOADING")["RELOADING"] == "1"
            again = note.wait("READY")
            after = len(outcomes)
            assert harness.wait_for(lambda: len(outcomes) >= after + 20, 30), outcomes
        finally:
            stop.set()
            client.join(60)
        assert again["MAINPID"] == ready["MAINPID"]
        failed = [o for o in outcomes if o != 200]
        assert not failed and server.log().count("Booting worker") == 2 * int(workers), \
            (failed[:5], len(outcomes), server.describe())

        # systemctl stop with KillMode=mixed: TERM to the main process only.
        os.kill(int(ready["MAINPID"]), signal.SIGTERM)
        assert server.wait_exit(30) == 0, server.describe()
        assert [m.get("STOPPING") for m in note.pending()] == ["1"], note.messages
    finally:
        note.close()
        shutil.rmtree(where, ignore_errors=True)
