"""The binary upgrade, as Gunicorn documents it ("Upgrading to a new binary
on the fly"): USR2 starts a new master from the path the server was started
as, with the listening sockets inherited ($GUNICORN_FD, $GUNICORN_PID); it
writes PIDFILE.2 and takes PIDFILE when the old master exits.  WINCH retires
the old master's workers, HUP brings them back (the roll-back), TERM ends
it.  Under load, no request fails.  The same procedure side by side with
Gunicorn 20.1; $GUNICORN_FD alone, as a Gunicorn-aware supervisor passes a
socket; pre_exec; a binary replaced on disk; MAINPID handed to systemd.
"""

import os
import shutil
import signal
import subprocess
import socket
import struct
import threading
import time
import types

import pytest

import harness
from conftest import APPS
from harness import alive, read_pid

WAIT = 30  # seconds: generous, for a busy machine


def ppid(pid):
    """The parent of pid, from /proc (0 when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return 0
    return int(stat[stat.rfind(")") + 2:].split()[1])


def served_by(port):
    """The master whose worker answered one request."""
    return ppid(harness.get(port, "/pid").json()["pid"])


def masters_serving(port, want, timeout=WAIT):
    """Requests until every master in want has answered one (or time runs
    out): the set of masters seen."""
    seen = set()
    deadline = time.monotonic() + timeout
    while not want <= seen and time.monotonic() < deadline:
        seen.add(served_by(port))
    return seen


class Load:
    """A few client threads making requests on loopback until stopped:
    the count of replies and the failures (anything but a 200)."""

    def __init__(self, port, threads=3):
        self.port, self.ok, self.failed = port, 0, []
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self):
        while not self.stop_event.is_set():
            try:
                status = harness.get(self.port, "/pid").status
            except OSError as exc:
                status = repr(exc)
            with self.lock:
                if status == 200:
                    self.ok += 1
                else:
                    self.failed.append(status)
            time.sleep(0.005)

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(WAIT)


def new_master_of(old, pidfile):
    """Wait for PIDFILE.2 to name a child of the old master: its pid."""
    new = harness.wait_for_value(lambda: read_pid(pidfile + ".2"),
                                 lambda pid: pid > 0 and ppid(pid) == old, WAIT)
    assert new > 0 and ppid(new) == old, "no PIDFILE.2 naming a child of %d" % old
    return new


def title(pid):
    """What ps shows as pid's command line."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")[0].decode()
    except OSError:
        return None


def children(pid):
    """The live children of pid."""
    return harness.worker_pids(types.SimpleNamespace(pid=pid))


def booted(pid):
    """Every child of pid has its own signal handlers: it no longer catches
    USR2 as the master it was forked from does.  (A TERM sent to the master
    before that would reach a new worker through the master's handler, and
    be lost: the master would then wait --graceful-timeout for it, in
    greenhorn as in Gunicorn.)"""
    for child in children(pid):
        try:
            with open("/proc/%d/status" % child) as f:
                caught = [line for line in f if line.startswith("SigCgt:")]
        except OSError:
            continue
        if caught and int(caught[0].split()[1], 16) & (1 << (signal.SIGUSR2 - 1)):
            return False
    return True


def stop_pid(pid):
    """TERM a master this test started (through USR2) and wait until it is gone."""
    harness.wait_for(lambda: booted(pid), WAIT)
    if alive(pid):
        os.kill(pid, signal.SIGTERM)
        harness.wait_for(lambda: not alive(pid), WAIT)


def start(spawn, tmp_path, args=(), command=None, name=None, address=False, **kw):
    """A server with 2 workers and a pid file, on a socket this test holds
    (address=True: on an address it binds itself, as Gunicorn must be for an
    upgrade: 20.1 closes an fd://N socket once it has a copy, and its new
    master then finds N closed)."""
    pidfile = str(tmp_path / ("%s.pid" % (name or "app")))
    args = ["-w", "2", "--pid", pidfile] + list(args)
    if address:
        server, (port,) = spawn.on_free_port(
            lambda p: args + ["-b", "127.0.0.1:%d" % p, "rawapp:application"],
            command=command, name=name, **kw)
    else:
        server, port = spawn.tcp(args, command=command, name=name, **kw)
    assert harness.wait_for(lambda: read_pid(pidfile) == server.pid, WAIT)
    return server, port, pidfile


# ---------------------------------------------------------------- the procedure


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
def test_usr2_then_term_old_hands_over_without_a_failed_request(spawn, tmp_path, side):
    """USR2: a new master with its own workers, PIDFILE.2; both serve.  TERM
    to the old one: the new one is left, PIDFILE names it, PIDFILE.2 is
    gone, and no request of the load failed.  The same with Gunicorn 20.1."""
    command = harness.GUNICORN if side == "gunicorn" else None
    server, port, pidfile = start(spawn, tmp_path, command=command, name=side, address=True)
    old = server.pid
    load = Load(port)
    try:
        server.signal(signal.SIGUSR2)
        new = new_master_of(old, pidfile)
        assert read_pid(pidfile) == old
        assert masters_serving(port, {old, new}) == {old, new}, "both masters serve"
        if side == "greenhorn":  # Gunicorn's ".2" until the old master is gone
            assert harness.wait_for(lambda: title(new) == "greenhorn: master [rawapp:application.2]", WAIT)
        server.signal(signal.SIGTERM)
        assert server.wait_exit(WAIT) == 0, server.describe()
        assert harness.wait_for(lambda: read_pid(pidfile) == new, WAIT), server.describe()
        if side == "greenhorn":
            assert harness.wait_for(lambda: title(new) == "greenhorn: master [rawapp:application]", WAIT)
        assert harness.wait_for(lambda: not os.path.exists(pidfile + ".2"), WAIT)
        assert masters_serving(port, {new}, 2) == {new}
        time.sleep(0.3)
    finally:
        load.stop()
    assert load.ok > 20
    assert load.failed == [], load.failed[:5]
    assert alive(new)
    if side == "greenhorn":
        log = server.log()
        assert "Master has been promoted." in log, log
        # the inherited sockets' variable is the master's, not the app's
        assert harness.get(port, "/osenv?name=GUNICORN_FD").json() == {"GUNICORN_FD": None}
    stop_pid(new)
    assert not os.path.exists(pidfile), "the last master removes its pid file"


def upgrade_and_retire(server, pidfile):
    """USR2 to server, then WINCH once the new master's 2 workers are up:
    the old master is left with no worker but the new master.  Its pid."""
    old = server.pid
    server.signal(signal.SIGUSR2)
    new = new_master_of(old, pidfile)
    assert harness.wait_for(lambda: len(children(new)) == 2, WAIT)
    server.signal(signal.SIGWINCH)
    assert harness.wait_for(lambda: children(old) == [new], WAIT), children(old)
    return new


def test_winch_retires_the_old_workers_and_the_new_master_serves_alone(spawn, tmp_path):
    """WINCH to the old master (in a session of its own, as under a
    supervisor): its workers finish and go, the master stays; every request
    is then served by the new master's workers, and none fails."""
    server, port, pidfile = start(spawn, tmp_path)
    old = server.pid
    load = Load(port)
    try:
        new = upgrade_and_retire(server, pidfile)
        assert {served_by(port) for _ in range(20)} == {new}
        assert server.alive() and read_pid(pidfile) == old
        server.signal(signal.SIGQUIT)
        assert server.wait_exit(WAIT) == 0
        assert harness.wait_for(lambda: read_pid(pidfile) == new, WAIT)
    finally:
        load.stop()
    assert load.failed == [], load.failed[:5]
    assert "graceful stop of workers" in server.log()
    stop_pid(new)


def test_rollback_hup_brings_the_old_workers_back(spawn, tmp_path):
    """USR2, WINCH, then HUP to the old master brings its workers back;
    TERM to the new one, and the old one goes on with PIDFILE its own."""
    server, port, pidfile = start(spawn, tmp_path)
    old = server.pid
    load = Load(port)
    try:
        new = upgrade_and_retire(server, pidfile)
        server.signal(signal.SIGHUP)
        assert harness.wait_for(lambda: len(children(old)) == 3, WAIT), children(old)
        os.kill(new, signal.SIGTERM)
        assert harness.wait_for(lambda: not alive(new), WAIT)
        assert harness.wait_for(lambda: not os.path.exists(pidfile + ".2"), WAIT)
        assert {served_by(port) for _ in range(20)} == {old}
        time.sleep(0.3)
    finally:
        load.stop()
    assert load.failed == [], load.failed[:5]
    assert server.alive() and read_pid(pidfile) == old
    assert server.wait_log(r"The new master \(pid:%d\) exited; this one goes on" % new, WAIT)
    # and a second upgrade works again
    server.signal(signal.SIGUSR2)
    stop_pid(new_master_of(old, pidfile))


def test_a_second_usr2_is_ignored_while_the_new_master_lives(spawn, tmp_path):
    server, port, pidfile = start(spawn, tmp_path)
    server.signal(signal.SIGUSR2)
    new = new_master_of(server.pid, pidfile)
    server.signal(signal.SIGUSR2)
    assert server.wait_log(r"USR2 signal ignored. Child exists.", WAIT)
    os.kill(new, signal.SIGUSR2)
    assert server.wait_log(r"\[%d\] \[WARNING\] USR2 signal ignored. Parent exists." % new, WAIT)
    assert [pid for pid in children(server.pid) if len(children(pid)) > 0] == [new]
    stop_pid(new)


def test_a_unix_socket_file_outlives_the_old_master(spawn, tmp_path):
    """Two masters share a unix socket during an upgrade: the old one leaves
    its file when it exits; the last master removes it, as in Gunicorn."""
    path = str(tmp_path / "app.sock")
    pidfile = str(tmp_path / "app.pid")
    server = spawn.server(["-w", "1", "--pid", pidfile, "-b", "unix:" + path,
                           "rawapp:application"], addr=path)
    server.signal(signal.SIGUSR2)
    new = new_master_of(server.pid, pidfile)
    server.signal(signal.SIGTERM)
    assert server.wait_exit(WAIT) == 0
    assert harness.wait_for(lambda: read_pid(pidfile) == new, WAIT)
    assert os.path.exists(path)
    assert ppid(harness.get(path, "/pid").json()["pid"]) == new
    stop_pid(new)
    assert not alive(new) and not os.path.exists(path)


# ---------------------------------------------------------------- what the new master is


PRE_EXEC = """
import os
def pre_exec(server):
    with open(os.environ["MARKER"], "a") as f:
        f.write("pre_exec %d\\n" % server.pid)
"""


def test_pre_exec_runs_before_the_new_master(spawn, tmp_path):
    conf = tmp_path / "conf.py"
    conf.write_text(PRE_EXEC)
    marker = tmp_path / "marker"
    server, port, pidfile = start(spawn, tmp_path, ["-c", str(conf)], env={"MARKER": str(marker)})
    assert not marker.exists()
    server.signal(signal.SIGUSR2)
    new = new_master_of(server.pid, pidfile)
    assert marker.read_text() == "pre_exec %d\n" % server.pid
    assert "not supported" not in server.log()
    stop_pid(new)


@pytest.mark.parametrize("started_as", ["path", "name"])
def test_the_new_master_runs_the_binary_now_at_the_path(spawn, tmp_path, started_as):
    """The binary at the path greenhorn was started as (a full path, or a
    bare name found in $PATH) is replaced (a new file renamed over it, as a
    package manager installs one): the new master runs the new file, the
    old master the old (now deleted) one."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    path = str(bindir / "greenhorn")
    shutil.copy2(spawn.greenhorn, path)
    env = {"PATH": "%s:%s" % (bindir, os.environ.get("PATH", "/usr/bin:/bin"))}
    command = [path] if started_as == "path" else ["greenhorn"]
    server, port, pidfile = start(spawn, tmp_path, command=command, env=env)
    shutil.copy2(spawn.greenhorn, path + ".new")
    os.replace(path + ".new", path)
    server.signal(signal.SIGUSR2)
    new = new_master_of(server.pid, pidfile)
    assert os.stat("/proc/%d/exe" % new).st_ino == os.stat(path).st_ino
    assert os.stat("/proc/%d/exe" % server.pid).st_ino != os.stat(path).st_ino
    assert os.readlink("/proc/%d/exe" % server.pid).endswith("(deleted)")
    assert masters_serving(port, {new}) >= {new}
    stop_pid(new)


def test_a_missing_binary_leaves_the_old_master_serving(spawn, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    path = str(bindir / "greenhorn")
    shutil.copy2(spawn.greenhorn, path)
    server, port, pidfile = start(spawn, tmp_path, command=[path])
    os.unlink(path)
    server.signal(signal.SIGUSR2)
    assert server.wait_log(r"Cannot start a new master from '.*greenhorn': No such file", WAIT)
    assert harness.wait_for(lambda: children(server.pid) and len(children(server.pid)) == 2, WAIT)
    assert masters_serving(port, {server.pid}) == {server.pid}
    assert not os.path.exists(pidfile + ".2")


# ---------------------------------------------------------------- GUNICORN_FD alone


def test_gunicorn_fd_from_a_supervisor(spawn):
    """A Gunicorn-aware supervisor binds the socket and passes it as
    $GUNICORN_FD: it replaces the --bind addresses, as in Gunicorn."""
    sock, port = harness.listener()
    server = spawn.server(["-b", "127.0.0.1:1", "rawapp:application"], addr=port, sockets=[sock],
                          env={"GUNICORN_FD": str(sock.fileno())})
    assert harness.get(port, "/pid").status == 200
    assert server.wait_log(r"Listening at: http://127.0.0.1:%d \(%d\)" % (port, server.pid), WAIT)
    assert "127.0.0.1:1 " not in server.log()
    assert harness.get(port, "/osenv?name=GUNICORN_FD").json() == {"GUNICORN_FD": None}


@pytest.mark.parametrize("value", ["", "x", "3,", "3,,4", "-1"])
def test_a_bad_gunicorn_fd_is_one_line(spawn, value):
    server = spawn.server(["rawapp:application"], env={"GUNICORN_FD": value}, wait=False)
    assert server.wait_exit(WAIT) == 1
    lines = [line for line in server.log().splitlines() if "GUNICORN_FD" in line]
    assert len(lines) == 1 and "is not a list of 1 to" in lines[0], server.log()


# ---------------------------------------------------------------- systemd


def receive_all(sock):
    """Every datagram waiting on sock: [(sender pid, text)]."""
    got = []
    while True:
        try:
            data, anc, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except BlockingIOError:
            return got
        pid = 0
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", cdata[:12])[0]
        got.append((pid, data.decode("utf-8", "replace")))


def test_the_old_master_hands_mainpid_to_the_new_one(spawn, tmp_path):
    """Under systemd (Type=notify) the service's main process is the old
    master; before it exits it says MAINPID=<new master>, from the main
    process itself, so NotifyAccess=main is enough and the service survives
    the switch (Gunicorn 20.1 says nothing, and systemd stops the service
    when the old master exits)."""
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.setblocking(False)
    with sock:
        server, port, pidfile = start(spawn, tmp_path, env={"NOTIFY_SOCKET": path})
        old = server.pid
        got = []
        assert harness.wait_for(lambda: got.extend(receive_all(sock)) or
                                any("READY=1" in text for _, text in got), WAIT), got
        server.signal(signal.SIGUSR2)
        new = new_master_of(old, pidfile)
        server.signal(signal.SIGTERM)
        assert server.wait_exit(WAIT) == 0

        def handed_over():
            got.extend(receive_all(sock))
            return any("MAINPID=%d" % new in text.split("\n") for pid, text in got if pid == old)
        assert harness.wait_for(handed_over, WAIT), got
        # and the old master did not tell systemd the service is stopping
        assert not any("STOPPING=1" in text for pid, text in got if pid == old), got
        stop_pid(new)



def test_a_rollback_hands_mainpid_back_to_the_old_master(spawn, tmp_path):
    """The new master says READY with its own MAINPID (systemd takes it
    under NotifyAccess=all); a roll-back (WINCH, then HUP to the old master)
    gives the service back: the old master says MAINPID=<itself> (at once,
    and again in the READY once its workers are back)."""
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.setblocking(False)
    with sock:
        server, _port, pidfile = start(spawn, tmp_path, env={"NOTIFY_SOCKET": path})
        old = server.pid
        got = []
        assert harness.wait_for(lambda: got.extend(receive_all(sock)) or
                                any("READY=1" in text for _, text in got), WAIT), got
        new = upgrade_and_retire(server, pidfile)
        del got[:]
        server.signal(signal.SIGHUP)

        def handed_back():
            got.extend(receive_all(sock))
            return any("MAINPID=%d" % old in text.split("\n") for pid, text in got if pid == old)
        assert harness.wait_for(handed_back, WAIT), got
        stop_pid(new)


def test_a_start_directory_that_is_gone_does_not_stop_the_start(greenhorn, tmp_path):
    """greenhorn started from a directory removed meanwhile (a release
    directory replaced by a deploy, say) still starts: the directory a USR2
    would start the new master in is unknown, which is no reason to refuse
    to serve (it once said "out of memory", exit 1)."""
    gone = tmp_path / "release-1"
    gone.mkdir()

    def enter_then_remove():
        os.chdir(str(gone))
        os.rmdir(str(gone))

    done = subprocess.run([greenhorn, "--check-config", "--chdir", APPS, "rawapp:application"],
                          capture_output=True, text=True, timeout=WAIT, preexec_fn=enter_then_remove,
                          env=harness.clean_env(None))
    assert done.returncode == 0, done.stderr
    assert "are fine" in done.stderr
