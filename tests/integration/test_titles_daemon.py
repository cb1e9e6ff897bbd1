"""Process titles (-n/--name) and -D/--daemon.

Titles: Gunicorn with the setproctitle module shows "gunicorn: master [NAME]"
and "gunicorn: worker [NAME]" in ps, NAME being -n/--name or the app;
greenhorn shows "greenhorn: ..." the same way (src/extras/proctitle.c,
nginx's technique: the title is written over argv, the environment having
been moved first), plus the hook process of a config file's master hooks,
and sets /proc/PID/comm to the title's first 15 bytes.  Gunicorn 20.1 here
has no setproctitle, so there is nothing to compare side by side: these
tests check what ps, /proc/PID/cmdline and /proc/PID/comm say.

Daemon: -D detaches as Gunicorn's util.daemonize does (fork, setsid, fork,
umask 022, standard streams on /dev/null), and the command returns once the
daemon listens and has written its pid file, or fails with the daemon's
error line and status.  A daemon leaves the test's process group, so every
test that starts one kills what it started (found by the pid file, and by
the test's own unique -n name in the titles) in a finally.
"""
import os
import signal
import subprocess
import uuid

import harness
from conftest import APPS

WAIT = 30  # seconds: generous bounded waits, for a busy machine


def ps_args(pid):
    """What `ps -o args=` shows for pid ('' once it is gone)."""
    out = subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True)
    return out.stdout.strip()


def proc_read(pid, name):
    try:
        with open("/proc/%d/%s" % (pid, name), "rb") as f:
            return f.read()
    except OSError:
        return b""


def stat_fields(pid):
    """/proc/PID/stat after the command name: [state, ppid, pgrp, session, tty_nr, ...]."""
    stat = proc_read(pid, "stat").decode()
    return stat[stat.rfind(")") + 2 :].split()


def gone(pid):
    fields = stat_fields(pid)
    return not fields or fields[0] in ("Z", "X")


def wait_title(pid, title):
    """Wait until ps shows title for pid; what it shows last."""
    return harness.wait_for_value(lambda: ps_args(pid), lambda v: v == title, WAIT)


def check_titles(master, workers, name):
    assert wait_title(master, "greenhorn: master [%s]" % name) == "greenhorn: master [%s]" % name
    assert proc_read(master, "comm") == b"greenhorn: mast\n"
    for pid in workers:
        title = "greenhorn: worker [%s]" % name
        assert wait_title(pid, title) == title
        assert proc_read(pid, "comm") == b"greenhorn: work\n"
        # The kernel's view: the title, then only NULs (the old command line
        # and environment are gone from the area).
        cmdline = proc_read(pid, "cmdline")
        assert cmdline.startswith(title.encode())
        assert cmdline[len(title) :].strip(b"\0") == b""


def test_titles_name_the_app_by_default(spawn):
    server, port = spawn.tcp(["-w", "2"])
    workers = harness.wait_for_value(lambda: harness.worker_pids(server),
                                     lambda v: len(v) == 2, WAIT)
    assert len(workers) == 2, server.describe()
    check_titles(server.pid, workers, "rawapp:application")
    assert harness.get(port, "/").status == 404  # and it serves (rawapp: no route for /)


def test_name_option_and_a_title_longer_than_the_command_line(spawn):
    # 300 bytes of name, given in $GUNICORN_CMD_ARGS: the title is longer
    # than the command line's own area, so it runs on over where the
    # environment was.  The app's environment must be intact (it was moved
    # before the title was written).
    name = "shop-" + "x" * 295
    env = {"GUNICORN_CMD_ARGS": "-n " + name, "TITLE_CHECK": "still-here-42"}
    server, port = spawn.tcp([], env=env)
    assert len(" ".join(server.argv)) < len("greenhorn: worker [%s]" % name)
    workers = harness.wait_for_value(lambda: harness.worker_pids(server),
                                     lambda v: len(v) == 1, WAIT)
    check_titles(server.pid, workers, name)
    reply = harness.get(port, "/osenv?name=TITLE_CHECK")
    assert reply.status == 200 and reply.json() == {"TITLE_CHECK": "still-here-42"}


def test_the_hook_process_has_its_title(spawn, tmp_path):
    conf = tmp_path / "hooks.conf.py"
    conf.write_text("def on_starting(server):\n    pass\n")
    server, _ = spawn.tcp(["-c", str(conf), "-n", "hooked"])
    title = "greenhorn: hook process [hooked]"
    found = harness.wait_for_value(
        lambda: [p for p in harness.worker_pids(server) if ps_args(p) == title],
        lambda v: len(v) == 1, WAIT)
    assert len(found) == 1, [ps_args(p) for p in harness.worker_pids(server)]
    assert proc_read(found[0], "comm") == b"greenhorn: hook\n"
    assert wait_title(server.pid, "greenhorn: master [hooked]") == "greenhorn: master [hooked]"


# ---------------------------------------------------------------- -D/--daemon


def kill_marked(token):
    """SIGKILL every process whose command line (its title) holds token."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and token in proc_read(int(entry), "cmdline"):
            try:
                os.kill(int(entry), signal.SIGKILL)
            except ProcessLookupError:
                pass


def run_daemon(greenhorn, args, pass_fds=()):
    """Run greenhorn -D ... to its end (bounded): the completed process."""
    return subprocess.run([greenhorn, "-D"] + args, cwd=APPS, env=harness.clean_env(),
                          capture_output=True, text=True, timeout=60, pass_fds=pass_fds,
                          stdin=subprocess.DEVNULL)


def test_daemon_detaches_serves_and_stops_by_its_pid_file(greenhorn, tmp_path):
    token = "daemon-%s" % uuid.uuid4().hex[:12]
    pidfile, log = tmp_path / "gh.pid", tmp_path / "error.log"
    sock, port = harness.listener()
    pid = None
    try:
        done = run_daemon(greenhorn, ["-n", token, "-p", str(pidfile), "--error-logfile", str(log),
                                      "-b", "fd://%d" % sock.fileno(), "rawapp:application"],
                          pass_fds=(sock.fileno(),))
        sock.close()
        assert done.returncode == 0, done.stderr
        assert done.stdout == "" and done.stderr == ""
        # The command returned after the daemon wrote its pid file.
        pid = int(pidfile.read_text())
        fields = stat_fields(pid)
        assert fields and fields[0] not in ("Z", "X"), "the daemon is not running"
        ppid, pgrp, session, tty = int(fields[1]), int(fields[2]), int(fields[3]), int(fields[4])
        # Double fork: a session of its own that it does not lead (so it can
        # never get a controlling terminal), no terminal, not our group.
        assert session != pid and session != os.getsid(0) and pgrp != os.getpgid(0)
        assert tty == 0 and ppid != os.getpid()
        status = proc_read(pid, "status").decode()
        assert "\nUmask:\t0022\n" in status
        for fd in (0, 1, 2):
            assert os.readlink("/proc/%d/fd/%d" % (pid, fd)) == "/dev/null"
        assert harness.get(port, "/osenv?name=HOME").status == 200
        assert wait_title(pid, "greenhorn: master [%s]" % token) == \
            "greenhorn: master [%s]" % token
        assert "Listening at: http://127.0.0.1:%d (%d)" % (port, pid) in log.read_text()
        # Stopped as an init script stops it: TERM to the pid in the file.
        os.kill(pid, signal.SIGTERM)
        assert harness.wait_for(lambda: gone(pid), WAIT), "the daemon did not stop on TERM"
        assert harness.wait_for(lambda: not pidfile.exists(), WAIT)
        assert "Shutting down: Master" in log.read_text()
    finally:
        sock.close()
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass
        kill_marked(token.encode())


def test_daemon_and_name_from_a_config_file(greenhorn, tmp_path):
    # Gunicorn's settings `daemon` and `proc_name` in a config file.
    token = "daemon-%s" % uuid.uuid4().hex[:12]
    pidfile = tmp_path / "gh.pid"
    sock, port = harness.listener()
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text("daemon = True\nproc_name = %r\npidfile = %r\nerrorlog = %r\nbind = %r\n"
                    % (token, str(pidfile), str(tmp_path / "error.log"),
                       "fd://%d" % sock.fileno()))
    try:
        done = subprocess.run([greenhorn, "-c", str(conf), "rawapp:application"], cwd=APPS,
                              env=harness.clean_env(), capture_output=True, text=True,
                              timeout=60, pass_fds=(sock.fileno(),), stdin=subprocess.DEVNULL)
        sock.close()
        assert done.returncode == 0, done.stderr
        pid = int(pidfile.read_text())
        assert int(stat_fields(pid)[3]) not in (pid, os.getsid(0))  # detached
        assert wait_title(pid, "greenhorn: master [%s]" % token) == \
            "greenhorn: master [%s]" % token
        assert harness.get(port, "/osenv?name=HOME").status == 200
        os.kill(pid, signal.SIGTERM)
        assert harness.wait_for(lambda: gone(pid), WAIT), "the daemon did not stop on TERM"
    finally:
        sock.close()
        kill_marked(token.encode())


def test_daemon_that_cannot_start_says_why_and_fails(greenhorn, tmp_path):
    # The port is taken: the daemon's bind fails after it detached; the
    # command prints the daemon's line and exits with its status, and
    # nothing is left running.
    token = "daemon-%s" % uuid.uuid4().hex[:12]
    pidfile = tmp_path / "gh.pid"
    taken, port = harness.reserved_port()
    try:
        done = run_daemon(greenhorn, ["-n", token, "-p", str(pidfile),
                                      "-b", "127.0.0.1:%d" % port, "rawapp:application"])
        assert done.returncode == 1, done.stderr
        assert done.stderr == "greenhorn: error: 127.0.0.1:%d: Address already in use\n" % port
        assert not pidfile.exists()
        left = [e for e in os.listdir("/proc")
                if e.isdigit() and token.encode() in proc_read(int(e), "cmdline")]
        assert harness.wait_for(
            lambda: all(gone(int(e)) for e in left), WAIT), "a process was left running"
    finally:
        taken.close()
        kill_marked(token.encode())


def test_daemon_app_that_fails_to_load_exits_4(greenhorn, tmp_path):
    token = "daemon-%s" % uuid.uuid4().hex[:12]
    sock, _ = harness.listener()
    try:
        done = run_daemon(greenhorn, ["-n", token, "--preload", "-b", "fd://%d" % sock.fileno(),
                                      "rawapp:nope"], pass_fds=(sock.fileno(),))
        assert done.returncode == 4, done.stderr
        assert done.stderr.startswith("greenhorn: error: Failed to load application 'rawapp:nope'")
    finally:
        sock.close()
        kill_marked(token.encode())


def test_check_config_with_daemon_checks_in_the_foreground(greenhorn):
    # As in Gunicorn, --check-config runs before daemonizing: it reports on
    # the terminal and exits with its answer, leaving nothing behind.
    token = "daemon-%s" % uuid.uuid4().hex[:12]
    try:
        done = run_daemon(greenhorn, ["-n", token, "--check-config", "rawapp:application"])
        assert done.returncode == 0, done.stderr
        assert "The configuration and the application 'rawapp:application' are fine." \
            in done.stderr
        bad = run_daemon(greenhorn, ["-n", token, "--check-config", "rawapp:nope"])
        assert bad.returncode == 1 and "Failed to load application 'rawapp:nope'" in bad.stderr
    finally:
        kill_marked(token.encode())
