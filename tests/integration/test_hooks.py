"""A config file's hooks, side by side with Gunicorn.

The worker's hooks (post_fork, post_worker_init, worker_exit, and around
each request pre_request and post_request) run in the worker, as in
Gunicorn.  Gunicorn calls the master's hooks (nworkers_changed,
on_starting, when_ready, pre_fork, child_exit, on_reload, on_exit) in its
master; greenhorn's master never starts Python, so it runs them in a hook
process that lives as long as the master (src/master_hooks.c): the same
calls, in the same order, with state kept between them.  Each test runs
the same file under both servers, unless it is about where greenhorn
differs.
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

# Every file below starts with this: the server's address (a socket the test
# bound and passes on, see harness.listener), and note(), which appends a
# line to hooks.txt, where the test reads what ran in what order.
PREAMBLE = """
import os, sys
bind = "fd://%(fd)d"
wsgi_app = "rawapp:application"
def note(text):
    with open("hooks.txt", "a") as f:
        f.write(text + "\\n")
"""


def folder_with(tmp_path, text):
    """A folder with rawapp.py and text as its gunicorn.conf.py."""
    folder = tmp_path / "app"
    folder.mkdir()
    shutil.copy(os.path.join(APPS, "rawapp.py"), folder)
    (folder / "gunicorn.conf.py").write_text(text)
    return folder


def lines(folder):
    path = folder / "hooks.txt"
    return path.read_text().splitlines() if path.exists() else []


def start(spawn, tmp_path, side, text):
    """Run the PREAMBLE and text as gunicorn.conf.py under one side: (server, port, folder)."""
    sock, port = harness.listener()
    folder = folder_with(tmp_path, (PREAMBLE + text) % {"fd": sock.fileno()})
    command = harness.GUNICORN if side == "gunicorn" else None
    server = spawn.server([], cwd=str(folder), addr=port, command=command, sockets=[sock])
    return server, port, folder


def run_to_end(tmp_path, side, text, bind):
    """Run text as gunicorn.conf.py under one side, binding bind, until it exits (a failed start)."""
    folder = folder_with(tmp_path, "bind = '%s'\n" % bind + text)
    command = harness.GUNICORN if side == "gunicorn" else [os.environ["GREENHORN"]]
    fd = [int(bind[len("fd://"):])] if bind.startswith("fd://") else []
    return subprocess.run(command + ["rawapp:application"], cwd=str(folder), timeout=20,
                          env=harness.clean_env(None), capture_output=True, text=True,
                          pass_fds=fd)


def fetch(port, target):
    return harness.request(port, ("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % target).encode())


# The bound of every wait for a hook's line: generous, as a busy machine can
# slow a reload (Gunicorn's old workers once took over 10 s to go on HUP);
# each wait ends as soon as its line is there.
WAIT = 30.0


def wait_line(folder, text):
    assert harness.wait_for(lambda: text in lines(folder), WAIT), (text, lines(folder))


# ---------------------------------------------------------------- the worker's hooks

WORKER_HOOKS = """
workers = 1
def post_fork(server, worker):
    server.log.info("post_fork says hello")
    note("post_fork %%s %%s app-imported=%%s" %% (worker.pid == os.getpid(),
                                              server.pid == os.getppid(), "rawapp" in sys.modules))
def post_worker_init(worker):
    note("post_worker_init app-imported=%%s" %% ("rawapp" in sys.modules))
def worker_exit(server, worker):
    note("worker_exit workers=%%s" %% worker.cfg.workers)
"""


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
def test_worker_hooks_run_as_in_gunicorn(spawn, tmp_path, side):
    """post_fork before the app is imported, post_worker_init after,
    worker_exit when the worker leaves; server.log writes to the error log."""
    server, port, folder = start(spawn, tmp_path, side, WORKER_HOOKS)
    assert fetch(port, "/head").status == 200
    server.signal(signal.SIGTERM)
    assert server.wait_exit(WAIT) == 0
    assert lines(folder) == [
        "post_fork True True app-imported=False",
        "post_worker_init app-imported=True",
        "worker_exit workers=1",
    ]
    assert re.search(r"\[INFO\] post_fork says hello", server.log()), server.log()
    assert "not supported" not in server.log()


REQUEST_HOOKS = """
workers = 1
def pre_request(worker, req):
    mine = [h for h in req.headers if h[0].startswith("X-")]
    note("pre %%s %%s %%r %%r %%r %%s %%r" %% (req.method, req.path, req.query, req.uri,
                                         req.version, req.scheme, mine))
    if req.path == "/no-pre":
        raise RuntimeError("pre_request says no")
def post_request(worker, req, environ, resp):
    answer = resp and (resp.status, resp.status_code, resp.sent, resp.response_length,
                       sorted(resp.headers))
    note("post %%s %%r %%r" %% (req.path, environ.get("PATH_INFO"), answer))
    if req.path == "/generator":
        raise ValueError("post_request fails")
"""


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
def test_request_hooks_run_as_in_gunicorn(spawn, tmp_path, side):
    """pre_request(worker, req) before the app, post_request(worker, req,
    environ, resp) after it: the same stand-ins' fields on both servers.  A
    pre_request that raises is a 500 (and post_request gets {} and None); a
    post_request that raises is logged, the answer already went out."""
    server, port, folder = start(spawn, tmp_path, side, REQUEST_HOOKS)
    reply = harness.request(port, b"GET /head?x=1 HTTP/1.0\r\nX-Trace: a b\r\nHost: t\r\n\r\n")
    assert reply.status == 200
    assert fetch(port, "/no-pre").status == 500
    assert fetch(port, "/generator").status == 200
    assert harness.wait_for(lambda: "post_request fails" in server.log()), server.log()
    server.signal(signal.SIGTERM)
    assert server.wait_exit(WAIT) == 0
    assert lines(folder) == [
        "pre GET /head 'x=1' '/head?x=1' (1, 0) http [('X-TRACE', 'a b')]",
        "post /head '/head' ('200 OK', 200, 31, 31, [('Content-Length', '31'),"
        " ('Content-Type', 'text/plain')])",
        "pre GET /no-pre '' '/no-pre' (1, 1) http []",
        "post /no-pre None None",
        "pre GET /generator '' '/generator' (1, 1) http []",
        "post /generator '/generator' ('200 OK', 200, 40, None, [('Content-Type', 'text/plain')])",
    ]
    log = server.log()
    assert re.search(r"\[ERROR\] Error handling request .*/no-pre", log), log
    assert "RuntimeError: pre_request says no" in log
    assert re.search(r"\[ERROR\] Exception in post_request hook\n(.+\n)*ValueError: post_request"
                     r" fails", log), log
    assert "not supported" not in log


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
def test_a_failing_post_fork_fails_the_boot(tmp_path, side):
    """A hook that raises fails the worker's boot: exit status 3 from the
    master, the exception in the log, as in Gunicorn."""
    sock, _ = harness.listener()
    with sock:
        done = run_to_end(tmp_path, side, "def post_fork(server, worker):\n"
                                          "    raise RuntimeError('no database here')\n",
                          bind="fd://%d" % sock.fileno())
    assert done.returncode == 3, done.stderr
    assert "RuntimeError: no database here" in done.stderr


# ---------------------------------------------------------------- the master's hooks

MASTER_HOOKS = """
workers = 2
calls = 0              # kept from one hook to the next, as in Gunicorn's master
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



# Each worker notes when it is up, in a file of its own (hooks.txt holds the
# master's hooks only).  A Gunicorn 20.1 worker keeps the master's signal
# handlers from the fork until its own are set, and a TERM in between is
# lost: the master then waits out the graceful timeout.  On a busy machine
# that window is wide, so a test stops workers only once they are up.
WORKERS_UP = """
def post_worker_init(worker):
    with open("up.txt", "a") as f:
        f.write("%%d\\n" %% worker.pid)
"""


def wait_workers_up(folder, count):
    path = folder / "up.txt"
    assert harness.wait_for(
        lambda: path.exists() and len(path.read_text().split()) >= count, WAIT), lines(folder)


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
def test_master_hooks_run_as_in_gunicorn(spawn, tmp_path, side):
    server, port, folder = start(spawn, tmp_path, side, MASTER_HOOKS + WORKERS_UP)
    wait_line(folder, "pre_fork [booting] 2")
    server.signal(signal.SIGTTIN)
    wait_line(folder, "pre_fork [booting] 3")
    wait_workers_up(folder, 3)
    server.signal(signal.SIGTTOU)
    wait_line(folder, "child_exit 1 True")
    server.signal(signal.SIGHUP)
    wait_line(folder, "pre_fork [booting] 5")
    assert harness.wait_for(lambda: sum("child_exit" in x for x in lines(folder)) == 3, WAIT), lines(
        folder)
    assert harness.get(port, "/head").status == 200
    wait_workers_up(folder, 5)
    server.signal(signal.SIGTERM)
    assert server.wait_exit(WAIT) == 0
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
        # HUP reads the config file again and sets the worker count back to
        # its `workers`, which calls nworkers_changed even when the count
        # stays (Gunicorn's num_workers setter).
        "nworkers_changed 2 2",
        "on_reload",
        "pre_fork [booting] 4",
        "pre_fork [booting] 5",
    ]
    assert seen[:len(expected)] == expected, seen
    # The old workers leave in any order after the reload, the new ones at the end.
    rest = seen[len(expected):]
    assert sorted(rest[:2]) == ["child_exit 2 True", "child_exit 3 True"], seen
    assert sorted(rest[2:4]) == ["child_exit 4 True", "child_exit 5 True"], seen
    assert rest[4:] == ["on_exit 2"], seen
    assert "not supported" not in server.log()


METRICS = """
import socket, threading
workers = 1
def serve(listener):
    while True:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"metrics from the master's side\\n")
def when_ready(server):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    threading.Thread(target=serve, args=(listener,), daemon=True).start()
    note("metrics %%d" %% listener.getsockname()[1])
"""


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
def test_a_thread_when_ready_starts_keeps_running(spawn, tmp_path, side):
    """The usual way to serve metrics beside the app (prometheus_client's
    start_http_server in when_ready): the thread must outlive the hook."""
    server, port, folder = start(spawn, tmp_path, side, METRICS)
    assert harness.get(port, "/head").status == 200
    assert harness.wait_for(lambda: any(x.startswith("metrics ") for x in lines(folder)), WAIT)
    metrics = int([x for x in lines(folder) if x.startswith("metrics ")][0].split()[1])
    for _ in range(2):  # still there after the workers' first requests
        with socket.create_connection(("127.0.0.1", metrics), timeout=5) as s:
            assert s.makefile("rb").read() == b"metrics from the master's side\n"
    server.signal(signal.SIGTERM)
    assert server.wait_exit(WAIT) == 0
    with pytest.raises(OSError):  # and gone with the master
        socket.create_connection(("127.0.0.1", metrics), timeout=2).close()


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
def test_a_failing_on_starting_stops_the_start(tmp_path, side):
    # The file's port is held by this test, bound and not listening: a server
    # that bound its sockets before on_starting would fail on it ("in use").
    held, port = harness.reserved_port()
    with held:
        done = run_to_end(tmp_path, side, "def on_starting(server):\n"
                                          "    raise RuntimeError('no database here')\n",
                          bind="127.0.0.1:%d" % port)
    assert done.returncode == 1, done.stderr
    assert "no database here" in done.stderr
    assert not harness.IN_USE.search(done.stderr), done.stderr
    if side == "greenhorn":
        last = done.stderr.strip().splitlines()[-1]
        assert last.endswith("[ERROR] The on_starting hook failed: RuntimeError: no database here")


FAILING_CHILD_EXIT = """
workers = 1
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
    server, port, _ = start(spawn, tmp_path, "greenhorn", MASTER_HOOKS)

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
    assert server.wait_exit(WAIT) == 0
