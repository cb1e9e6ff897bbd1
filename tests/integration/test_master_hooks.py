"""A config file's master hooks, side by side with Gunicorn.

Gunicorn calls nworkers_changed, on_starting, when_ready, pre_fork,
child_exit, on_reload and on_exit in its master.  greenhorn's master never
starts Python, so it runs them in a hook process that lives as long as the
master (src/master_hooks.c): the same calls, in the same order, with state
kept between them.  Each test runs the same file under both servers.
"""
import os
import re
import shutil
import signal
import socket
import subprocess

import pytest

import harness
from conftest import APPS

HOOKS = """
import os, threading
bind = "127.0.0.1:%(port)d"
workers = 2
wsgi_app = "rawapp:application"
calls = 0              # kept from one hook to the next, as in Gunicorn's master
def note(text):
    with open("hooks.txt", "a") as f:
        f.write(text + "\\n")
def nworkers_changed(server, new_value, old_value):
    note("nworkers_changed %%s %%s" %% (new_value, old_value))
def on_starting(server):
    global calls
    calls += 1
    note("on_starting")
def when_ready(server):
    global calls
    calls += 1
    note("when_ready calls=%%d log=%%s" %% (calls, callable(server.log.info)))
def pre_fork(server, worker):
    note("pre_fork %%s %%s" %% (worker.pid, worker.age))
def child_exit(server, worker):
    note("child_exit %%s %%s" %% (worker.age, isinstance(worker.pid, int)))
def on_reload(server):
    note("on_reload")
def on_exit(server):
    note("on_exit %%s" %% server.cfg.workers)
"""


def folder_with(tmp_path, text):
    folder = tmp_path / "app"
    folder.mkdir()
    shutil.copy(os.path.join(APPS, "rawapp.py"), folder)
    (folder / "gunicorn.conf.py").write_text(text)
    return folder


def lines(folder):
    path = folder / "hooks.txt"
    return path.read_text().splitlines() if path.exists() else []


def start(spawn, tmp_path, side, text):
    port = harness.free_port()
    folder = folder_with(tmp_path, text % {"port": port})
    command = harness.GUNICORN if side == "gunicorn" else None
    return spawn.server([], cwd=str(folder), addr=port, command=command), port, folder


def wait_line(folder, text):
    assert harness.wait_for(lambda: text in lines(folder), 10.0), (text, lines(folder))


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
def test_master_hooks_run_as_in_gunicorn(spawn, tmp_path, side):
    server, port, folder = start(spawn, tmp_path, side, HOOKS)
    wait_line(folder, "pre_fork [booting] 2")
    server.signal(signal.SIGTTIN)
    wait_line(folder, "pre_fork [booting] 3")
    server.signal(signal.SIGTTOU)
    wait_line(folder, "child_exit 1 True")
    server.signal(signal.SIGHUP)
    wait_line(folder, "pre_fork [booting] 5")
    assert harness.wait_for(lambda: sum("child_exit" in x for x in lines(folder)) == 3, 10.0)
    assert harness.get(port, "/head").status == 200
    server.signal(signal.SIGTERM)
    assert server.wait_exit(10.0) == 0
    seen = lines(folder)
    expected = [
        "nworkers_changed 2 None",
        "on_starting",
        "when_ready calls=2 log=True",
        "pre_fork [booting] 1",
        "pre_fork [booting] 2",
        "nworkers_changed 3 2",
        "pre_fork [booting] 3",
        "nworkers_changed 2 3",
        "child_exit 1 True",
        "on_reload",
        "pre_fork [booting] 4",
        "pre_fork [booting] 5",
    ]
    if side == "gunicorn":
        # Gunicorn's HUP reads the config file again and sets the worker
        # count back to its `workers`, which calls nworkers_changed even when
        # the count stays; greenhorn keeps the count, so nothing changed.
        expected.insert(expected.index("on_reload"), "nworkers_changed 2 2")
    assert seen[:len(expected)] == expected, seen
    # The old workers leave in any order after the reload, the new ones at the end.
    rest = seen[len(expected):]
    assert sorted(rest[:2]) == ["child_exit 2 True", "child_exit 3 True"], seen
    assert sorted(rest[2:4]) == ["child_exit 4 True", "child_exit 5 True"], seen
    assert rest[4:] == ["on_exit 2"], seen
    assert "not supported" not in server.log()


METRICS = """
import socket, threading
bind = "127.0.0.1:%(port)d"
workers = 1
wsgi_app = "rawapp:application"
def serve(listener):
    while True:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"metrics from the master's side\\n")
def when_ready(server):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", %(metrics)d))
    listener.listen(8)
    threading.Thread(target=serve, args=(listener,), daemon=True).start()
"""


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
def test_a_thread_when_ready_starts_keeps_running(spawn, tmp_path, side):
    """The usual way to serve metrics beside the app (prometheus_client's
    start_http_server in when_ready): the thread must outlive the hook."""
    metrics = harness.free_port()
    text = METRICS.replace("%(metrics)d", str(metrics))
    server, port, _ = start(spawn, tmp_path, side, text)
    assert harness.get(port, "/head").status == 200
    for _ in range(2):  # still there after the workers' first requests
        with socket.create_connection(("127.0.0.1", metrics), timeout=5) as s:
            assert s.makefile("rb").read() == b"metrics from the master's side\n"
    server.signal(signal.SIGTERM)
    assert server.wait_exit(10.0) == 0
    with pytest.raises(OSError):  # and gone with the master
        socket.create_connection(("127.0.0.1", metrics), timeout=2).close()


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
def test_a_failing_on_starting_stops_the_start(tmp_path, side):
    port = harness.free_port()
    folder = folder_with(tmp_path, "bind = '127.0.0.1:%d'\n" % port
                         + "def on_starting(server):\n    raise RuntimeError('no database here')\n")
    command = harness.GUNICORN if side == "gunicorn" else [os.environ["GREENHORN"]]
    done = subprocess.run(command + ["rawapp:application"], cwd=str(folder), timeout=20,
                          env=harness.clean_env(None), capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "no database here" in done.stderr
    if side == "greenhorn":
        last = done.stderr.strip().splitlines()[-1]
        assert last.endswith("[ERROR] The on_starting hook failed: RuntimeError: no database here")
    with pytest.raises(OSError):  # nothing was left listening
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


FAILING_CHILD_EXIT = """
bind = "127.0.0.1:%(port)d"
workers = 1
wsgi_app = "rawapp:application"
def child_exit(server, worker):
    raise ValueError("child_exit fails for %%s" %% worker.pid)
"""


def test_a_failing_hook_is_logged_and_the_master_goes_on(spawn, tmp_path):
    """Better than Gunicorn 20.1, whose master stops on an exception in
    child_exit ("Unhandled exception in main loop"): greenhorn logs it,
    replaces the worker and goes on serving."""
    server, port, _ = start(spawn, tmp_path, "greenhorn", FAILING_CHILD_EXIT)
    assert server.wait_log(r"Booting worker with pid: \d+")
    booted = re.findall(r"Booting worker with pid: (\d+)", server.log())
    os.kill(int(booted[0]), signal.SIGKILL)
    assert server.wait_log(r"The child_exit hook failed: ValueError: child_exit fails for %s"
                           % booted[0])
    assert re.search(r"Exception in the child_exit hook:\nTraceback", server.log())
    assert server.wait_log(r"Booting worker with pid: (?!%s)\d+" % booted[0])
    assert harness.get(port, "/head").status == 200


def test_a_lost_hook_process_is_logged_and_the_master_goes_on(spawn, tmp_path):
    server, port, _ = start(spawn, tmp_path, "greenhorn", HOOKS)

    def booted():
        return set(int(p) for p in re.findall(r"Booting worker with pid: (\d+)", server.log()))

    assert harness.wait_for(lambda: len(booted()) == 2)
    workers = booted()
    hook_process = [p for p in harness.worker_pids(server) if p not in workers]
    assert len(hook_process) == 1, (harness.worker_pids(server), workers)
    os.kill(hook_process[0], signal.SIGKILL)
    assert server.wait_log(r"The hook process \(pid:%d\) was killed by signal 9; the config "
                           r"file's master hooks no longer run" % hook_process[0])
    server.signal(signal.SIGTTIN)
    assert server.wait_log(r"The nworkers_changed hook did not run: the hook process is gone")
    assert harness.wait_for(lambda: len(re.findall("Booting worker", server.log())) == 3)
    assert harness.get(port, "/head").status == 200
    server.signal(signal.SIGTERM)
    assert server.wait_exit(10.0) == 0
