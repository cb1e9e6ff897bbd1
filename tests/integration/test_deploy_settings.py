"""Gunicorn's last worker hooks and deployment settings.

worker_int runs when a worker gets INT or QUIT, worker_abort when the
master's timeout ABRT reaches a stuck worker (before greenhorn logs the
stack), each in the worker as Gunicorn's workers/base.py runs them, side by
side with Gunicorn 20.1.  --reuse-port sets SO_REUSEPORT on the listeners,
--initgroups gives the workers the user's supplementary groups, and
--worker-tmp-dir is accepted (greenhorn's heartbeat needs no file).
"""
import grp
import json
import os
import pwd
import signal
import subprocess

import pytest

import harness

WAIT = 30.0  # the bound of every wait; each ends as soon as its event is there

APP = '''
import time

def application(environ, start_response):
    if environ["PATH_INFO"] == "/sleep":
        time.sleep(30)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
'''

CONFIG = """
import os
bind = "fd://%(fd)d"
wsgi_app = "sigapp:application"
workers = 1
timeout = 2
def note(text):
    with open("marks.txt", "a") as f:
        f.write(text + "\\n")
def worker_int(worker):
    note("worker_int %%s" %% (worker.pid == os.getpid()))
def worker_abort(worker):
    worker.log.info("worker_abort ran")
    note("worker_abort %%s" %% (worker.pid == os.getpid()))
def worker_exit(server, worker):
    note("worker_exit")
"""


def start(spawn, tmp_path, side, args=()):
    sock, port = harness.listener()
    folder = tmp_path / side
    folder.mkdir()
    (folder / "sigapp.py").write_text(APP)
    (folder / "gunicorn.conf.py").write_text(CONFIG % {"fd": sock.fileno()})
    command = harness.GUNICORN if side == "gunicorn" else None
    server = spawn.server(list(args), cwd=str(folder), addr=port, command=command,
                          sockets=[sock])
    return server, port, folder


def marks(folder):
    path = folder / "marks.txt"
    return path.read_text().splitlines() if path.exists() else []


def wait_marks(folder, wanted):
    assert harness.wait_for(lambda: marks(folder) == wanted, WAIT), (wanted, marks(folder))


def one_worker(server):
    pids = harness.wait_for_value(lambda: harness.worker_pids(server), lambda p: len(p) == 1, WAIT)
    assert len(pids) == 1, (pids, server.log())
    return pids[0]


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGQUIT])
def test_worker_int_on_int_and_quit(spawn, tmp_path, side, signum):
    server, port, folder = start(spawn, tmp_path, side)
    assert harness.get(port, "/").status == 200  # booted: its handlers are in place
    pid = one_worker(server)
    os.kill(pid, signum)
    wait_marks(folder, ["worker_int True", "worker_exit"])
    # The master replaces the worker, which serves.
    assert harness.wait_for(lambda: harness.worker_pids(server) not in ([], [pid]), WAIT)
    assert harness.get(port, "/").status == 200


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
def test_worker_abort_on_a_timeout(spawn, tmp_path, side):
    server, port, folder = start(spawn, tmp_path, side)
    client = harness.connect(port)
    try:
        client.sendall(b"GET /sleep HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_marks(folder, ["worker_abort True", "worker_exit"])
    finally:
        client.close()
    assert harness.wait_for(lambda: harness.get(port, "/").status == 200, WAIT)
    if side == "greenhorn":
        # The hook ran before the stack of the stuck worker was written.
        log = server.log()
        assert "worker_abort ran" in log and "most recent call first" in log, log
        assert log.index("worker_abort ran") < log.index("most recent call first"), log


@pytest.mark.parametrize("worker_class", [[], ["-k", "gthread", "--threads", "2"]],
                         ids=["sync", "gthread"])
def test_an_idle_worker_runs_worker_int_too(spawn, tmp_path, worker_class):
    # A worker waits for connections outside Python (the gthread worker's
    # loop thread always runs outside it): the signal must wake it.
    server, port, folder = start(spawn, tmp_path, "greenhorn", worker_class)
    assert harness.get(port, "/").status == 200
    os.kill(one_worker(server), signal.SIGINT)
    wait_marks(folder, ["worker_int True", "worker_exit"])


def test_without_the_hooks_int_still_ends_a_worker_at_once(spawn, tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "sigapp.py").write_text(APP)
    server, port = spawn.tcp(["-w", "1"], app="sigapp:application", cwd=str(folder))
    assert harness.get(port, "/").status == 200
    pid = one_worker(server)
    client = harness.connect(port)
    try:
        client.sendall(b"GET /sleep HTTP/1.1\r\nHost: t\r\n\r\n")
        os.kill(pid, signal.SIGINT)
        assert harness.wait_for(lambda: pid not in harness.worker_pids(server), WAIT)
    finally:
        client.close()
    assert "worker_int" not in server.log()


# ---------------------------------------------------------------- --reuse-port


def test_reuse_port_lets_two_servers_share_a_port(spawn, tmp_path):
    def both(port):
        return ["--reuse-port", "-w", "1", "-b", "127.0.0.1:%d" % port, "rawapp:application"]

    first, (port,) = spawn.on_free_port(both)
    second = spawn.server(both(port), addr=port, wait=False)
    assert second.wait_log(r"Listening at: http://127\.0\.0\.1:%d" % port, WAIT), second.log()
    assert first.alive() and second.alive()
    assert harness.get(port, "/generator").status == 200


def test_without_reuse_port_the_second_server_fails(spawn, greenhorn):
    first, (port,) = spawn.on_free_port(
        lambda port: ["-w", "1", "-b", "127.0.0.1:%d" % port, "rawapp:application"])
    from conftest import APPS
    done = subprocess.run([greenhorn, "-w", "1", "-b", "127.0.0.1:%d" % port,
                           "rawapp:application"], cwd=APPS, capture_output=True, text=True,
                          timeout=WAIT, env=harness.clean_env(None))
    assert done.returncode != 0 and "in use" in done.stderr.lower(), done.stderr


# ---------------------------------------------------------------- --initgroups

def user_with_groups():
    """A user of this system in a group other than its own: (name, extra gids)."""
    for user in pwd.getpwall():
        extra = sorted(g.gr_gid for g in grp.getgrall()
                       if user.pw_name in g.gr_mem and g.gr_gid != user.pw_gid)
        if extra:
            return user, extra
    return None, []


@pytest.mark.parametrize("initgroups", [True, False])
def test_initgroups_gives_the_users_groups(spawn, open_dir, initgroups):
    user, extra = user_with_groups()
    if user is None:
        pytest.skip("no user of this system is in a supplementary group (see /etc/group)")
    args = ["--user", user.pw_name, "--chdir", open_dir] + (["--initgroups"] if initgroups else [])
    _, port = spawn.tcp(args, app="whoapp:application", cwd=open_dir)
    reply = harness.get(port, "/")
    assert reply.status == 200, reply.raw[:300]
    ids = json.loads(reply.body)
    assert ids["uid"] == user.pw_uid and 0 not in ids["groups"], ids
    if initgroups:  # as os.initgroups(name, gid) in Gunicorn's set_owner_process
        assert set(extra) <= set(ids["groups"]), (extra, ids)
    else:
        assert ids["groups"] == [user.pw_gid], ids


# ---------------------------------------------------------------- --worker-tmp-dir


def test_worker_tmp_dir_is_accepted(spawn, tmp_path):
    tmp_dir = tmp_path / "heartbeats"
    tmp_dir.mkdir()
    _, port = spawn.tcp(["--worker-tmp-dir", str(tmp_dir)])
    assert harness.get(port, "/generator").status == 200
    assert os.listdir(tmp_dir) == []  # no heartbeat file: the heartbeat is shared memory
