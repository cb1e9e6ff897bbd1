"""The master's other signals, --preload, and the embedded Python's view of itself.

HUP reloads (new workers first, then the old ones drain: no request is
refused), TTIN/TTOU change the worker count, USR1 reopens the log files.
--preload imports the app once, in the master.  A worker's Python honours
$VIRTUAL_ENV and --virtualenv as `python` would, and its sys.executable is a
real Python that can run subprocesses.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import harness

BOOTING = r"Booting worker with pid: (\d+)"

VERSIONED_APP = '''
import os
VERSION = %r
with open(os.environ["IMPORT_LOG"], "a") as f:
    f.write("%%d\\n" %% os.getpid())

def application(environ, start_response):
    if environ["PATH_INFO"] == "/python":
        import subprocess, sys
        out = subprocess.run([sys.executable, "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=20).stdout.strip()
        body = repr((out, str(tuple(sys.version_info[:2])), sys.prefix)).encode()
    else:
        body = VERSION.encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
'''


def write_app(folder, version):
    path = os.path.join(folder, "versioned.py")
    with open(path, "w") as f:
        f.write(VERSIONED_APP % version)
    # A new mtime and no stale bytecode: the next import sees the new source.
    for cache in (os.path.join(folder, "__pycache__"),):
        if os.path.isdir(cache):
            for name in os.listdir(cache):
                os.unlink(os.path.join(cache, name))


def body(port, target="/"):
    return harness.get(port, target).body


def start(spawn, tmp_path, args, env=None):
    folder = str(tmp_path)
    env = dict(env or {}, IMPORT_LOG=os.path.join(folder, "imports.log"))
    return spawn.tcp(list(args) + ["--chdir", folder], app="versioned:application", cwd=folder,
                     env=env)


def imports(tmp_path):
    path = os.path.join(str(tmp_path), "imports.log")
    if not os.path.exists(path):  # the socket accepts before any worker imported
        return []
    with open(path) as f:
        return [int(line) for line in f.read().split()]


def test_hup_reloads_the_app_and_refuses_no_request(spawn, tmp_path):
    write_app(str(tmp_path), "v1")
    server, port = start(spawn, tmp_path, ["-w", "2"])
    assert body(port) == b"v1"
    replies, stop = [], threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                replies.append(harness.get(port, "/").status)
            except OSError as exc:
                replies.append(repr(exc))

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    write_app(str(tmp_path), "v2")
    server.signal(signal.SIGHUP)
    assert server.wait_log(r"Hang up: Master")
    assert harness.wait_for(lambda: body(port) == b"v2")
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join(10)
    assert len(replies) > 50
    assert set(replies) == {200}, [r for r in replies if r != 200][:5]
    # the old workers left, two new ones serve
    workers = harness.wait_for_value(lambda: harness.worker_pids(server), lambda w: len(w) == 2)
    assert len(workers) == 2, f"the master's children after the reload: {workers}"
    assert len(re.findall(BOOTING, server.log())) == 4


def test_ttin_and_ttou_change_the_worker_count(spawn, tmp_path):
    write_app(str(tmp_path), "v1")
    server, port = start(spawn, tmp_path, ["-w", "1"])
    assert harness.wait_for(lambda: len(harness.worker_pids(server)) == 1)
    # One at a time: two of the same signal sent at once may arrive as one
    # (standard signals do not queue; signal(7)).
    server.signal(signal.SIGTTIN)
    assert harness.wait_for(lambda: len(harness.worker_pids(server)) == 2)
    server.signal(signal.SIGTTIN)
    assert harness.wait_for(lambda: len(harness.worker_pids(server)) == 3)
    server.signal(signal.SIGTTOU)
    assert harness.wait_for(lambda: len(harness.worker_pids(server)) == 2)
    assert body(port) == b"v1"


def test_usr1_reopens_the_log_files(spawn, tmp_path):
    write_app(str(tmp_path), "v1")
    access = os.path.join(str(tmp_path), "access.log")
    server, port = start(spawn, tmp_path, ["-w", "1", "--access-logfile", access])
    body(port, "/before")
    assert harness.wait_for(lambda: "/before" in open(access).read())
    os.rename(access, access + ".1")  # what logrotate does
    server.signal(signal.SIGUSR1)
    assert server.wait_log(r"Handling signal: usr1")
    time.sleep(0.3)  # the worker handles USR1 before its next request
    body(port, "/after")

    def new_log():  # None while there is no new access.log
        return open(access).read() if os.path.exists(access) else None

    logged = harness.wait_for_value(new_log, lambda text: text is not None and "/after" in text)
    assert logged is not None, "USR1 made no new access.log"
    assert "/after" in logged, "the request is not in the new access.log"
    assert "/after" not in open(access + ".1").read()


def test_preload_imports_once_in_the_master(spawn, tmp_path):
    write_app(str(tmp_path), "v1")
    server, port = start(spawn, tmp_path, ["-w", "3", "--preload"])
    assert body(port) == b"v1"
    assert imports(tmp_path) == [server.pid]


def test_without_preload_each_worker_imports(spawn, tmp_path):
    write_app(str(tmp_path), "v1")
    server, port = start(spawn, tmp_path, ["-w", "3"])
    assert harness.wait_for(lambda: len(imports(tmp_path)) == 3)
    assert sorted(imports(tmp_path)) == harness.worker_pids(server)
    assert server.pid not in imports(tmp_path)


def test_sys_executable_is_the_matching_python(spawn, tmp_path):
    write_app(str(tmp_path), "v1")
    server, port = start(spawn, tmp_path, ["-w", "1"])
    sub, worker, prefix = eval(body(port, "/python").decode())  # a repr of three strings
    assert sub == worker, "sys.executable runs a different Python than the worker's"


def make_venv(tmp_path):
    venv = os.path.join(str(tmp_path), "venv")
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", venv], check=True,
                   timeout=60)
    site = os.path.join(venv, "lib", "python%d.%d" % sys.version_info[:2], "site-packages")
    with open(os.path.join(site, "only_in_venv.py"), "w") as f:
        f.write("import sys\n"
                "def app(environ, start_response):\n"
                "    start_response('200 OK', [])\n"
                "    return [sys.prefix.encode()]\n")
    return venv


def test_virtual_env_variable_is_honoured(spawn, tmp_path):
    venv = make_venv(tmp_path)
    server, port = spawn.tcp(["-w", "1"], app="only_in_venv:app", env={"VIRTUAL_ENV": venv})
    assert body(port) == venv.encode()


def test_virtualenv_option_is_honoured(spawn, tmp_path):
    venv = make_venv(tmp_path)
    server, port = spawn.tcp(["-w", "1", "--virtualenv", venv], app="only_in_venv:app")
    assert body(port) == venv.encode()


def test_error_logfile_gets_the_log(spawn, tmp_path):
    write_app(str(tmp_path), "v1")
    errlog = os.path.join(str(tmp_path), "error.log")
    server, port = start(spawn, tmp_path, ["-w", "1", "--error-logfile", errlog])
    assert body(port) == b"v1"
    text = open(errlog).read()
    assert "Starting greenhorn" in text and "Booting worker with pid" in text
    assert "Starting greenhorn" not in server.log()


def test_a_folder_that_is_no_virtualenv_stops_the_start(spawn, tmp_path):
    # exit 3 (a worker's boot error) in one line, before any worker starts
    server, _ = spawn.tcp(["-w", "2", "--virtualenv", str(tmp_path)], wait=False)
    assert server.wait_exit(10) == 3
    assert server.log().splitlines() == [
        "greenhorn: error: virtualenv '%s' is not a virtual environment (no pyvenv.cfg)"
        % tmp_path]


def test_a_term_as_the_workers_are_forked_is_not_lost(spawn):
    """TERM the moment the master listens, while it forks its workers: the
    master holds its signals over each fork and a worker lets them through
    once it has its own handlers.  Before, a TERM that reached a worker in
    between ran the master's handler in the worker and was lost, and the
    master waited out --graceful-timeout (120 s here) for that worker."""
    for _ in range(5):
        server, _port = spawn.tcp(["-w", "4", "--graceful-timeout", "120"], wait=False)
        assert server.wait_log(r"Listening at", timeout=30), server.describe()
        server.signal(signal.SIGTERM)
        assert server.wait_exit(60) == 0, server.describe()
