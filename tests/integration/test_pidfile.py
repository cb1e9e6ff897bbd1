"""The pid file (-p/--pid), kept as Gunicorn's pidfile.py keeps it.

It is written once the master listens, with the master's pid, and removed
when the master exits, but only if it still holds that pid.  A start whose
pid file names a live process is refused in one line and exit 1, before
anything is bound or any hook runs, and the running server's file is left
alone.  A stale file (a dead pid, or no pid at all) is replaced.
"""

import os
import signal
import subprocess
import time

import pytest

import harness

ON_STARTING = """
def on_starting(server):
    open(%r, "w").close()
"""


def pid_in(path):
    """The text of the pid file, or None while there is none."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def start(spawn, pidfile, args=()):
    """greenhorn with -p pidfile; returns (server, port) once the file names the master."""
    server, port = spawn.tcp(["-p", str(pidfile)] + list(args))
    harness.wait_for(lambda: pid_in(pidfile) == "%d\n" % server.pid, 10.0)
    assert pid_in(pidfile) == "%d\n" % server.pid, server.describe()
    return server, port


def stop(server):
    server.signal(signal.SIGTERM)
    assert server.wait_exit(20.0) == 0, server.describe()


def dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_the_pid_file_names_the_master_and_goes_with_it(spawn, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    pidfile = run / "master.pid"
    server, port = start(spawn, pidfile)
    assert harness.get(port, "/head").status == 200
    assert os.listdir(run) == ["master.pid"]  # no temp file left beside it
    stop(server)
    assert os.listdir(run) == []


def test_a_second_start_is_refused_and_binds_nothing(spawn, tmp_path):
    pidfile, marker = tmp_path / "master.pid", tmp_path / "on_starting.ran"
    first, port = start(spawn, pidfile)
    conf = tmp_path / "hooks.conf.py"
    conf.write_text(ON_STARTING % str(marker))
    # The same address: had it tried to bind, it would say the port is in use.
    second = spawn.server(["-c", str(conf), "-p", str(pidfile), "-b", "127.0.0.1:%d" % port,
                           "rawapp:application"], wait=False)
    assert second.wait_exit(20.0) == 1, second.describe()
    lines = second.log().splitlines()
    assert len(lines) == 1, second.describe()
    assert lines[0].startswith("greenhorn: error: "), lines
    assert "already running on PID %d (or the pid file is stale)" % first.pid in lines[0], lines
    assert str(pidfile) in lines[0], lines
    assert not marker.exists()  # no hook ran
    assert pid_in(pidfile) == "%d\n" % first.pid
    assert harness.get(port, "/head").status == 200
    stop(first)
    assert pid_in(pidfile) is None


@pytest.mark.parametrize("content", ["dead", "", "not a pid\n", "0\n", "-1\n"])
def test_a_stale_pid_file_is_replaced(spawn, tmp_path, content):
    pidfile = tmp_path / "master.pid"
    pidfile.write_text("%d\n" % dead_pid() if content == "dead" else content)
    server, _ = start(spawn, pidfile)
    stop(server)
    assert pid_in(pidfile) is None


def test_a_pid_file_someone_else_changed_is_left_alone(spawn, tmp_path):
    pidfile = tmp_path / "master.pid"
    server, _ = start(spawn, pidfile)
    pidfile.write_text("%d\n" % os.getpid())
    stop(server)
    assert pid_in(pidfile) == "%d\n" % os.getpid()


def test_a_term_as_soon_as_the_pid_file_names_the_master_stops_it_gracefully(spawn, tmp_path):
    """A supervisor that waits for the pid file, then sends TERM: the master
    holds its signals from before it binds until its handlers are in, so the
    TERM stops it gracefully (exit 0, the pid file removed) instead of killing
    it outright with the pid file left behind, as it could before."""
    for i in range(5):
        pidfile = tmp_path / ("master%d.pid" % i)
        server, _port = spawn.tcp(["-p", str(pidfile)])
        # As close to the moment the file appears as a poll can be (no sleep).
        deadline = time.monotonic() + 30.0
        while pid_in(pidfile) != "%d\n" % server.pid and time.monotonic() < deadline:
            pass
        assert pid_in(pidfile) == "%d\n" % server.pid, server.describe()
        server.signal(signal.SIGTERM)
        assert server.wait_exit(60.0) == 0, server.describe()
        assert pid_in(pidfile) is None
