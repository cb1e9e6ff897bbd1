"""The command line, greenhorn alone: options, environment variables, logs and refusals.

Spellings and exit codes are Gunicorn's (gunicorn/config.py, arbiter.py):
2 for a usage error, 3 when a worker cannot boot, 4 when the application
cannot be loaded; the master halts instead of respawning forever.  Every
refusal must be quick and say in one line what is wrong, with no Python
traceback for the user to dig through.
"""

import base64
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time

import pytest

import differences
import harness
from conftest import APPS

STAMP = r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\]"
BOOT_TWICE = r"Booting worker with pid: \d+[\s\S]*Booting worker with pid: \d+"


def run(greenhorn, args, cwd=APPS, env=None, timeout=5.0, sockets=()):
    """Run greenhorn to completion; a hang past timeout kills its process group and fails.
    sockets are inherited (for `-b fd://N`); this process's copies are closed."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            [greenhorn] + list(args),
            cwd=cwd,
            env=harness.clean_env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            pass_fds=[sock.fileno() for sock in sockets],
        )
    finally:
        for sock in sockets:
            sock.close()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail("greenhorn %s still running after %.0f s:\n%s" % (" ".join(args), timeout, err))
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done, time.monotonic() - started


def assert_refused(done, code, *names):
    """Exit code as expected, one stderr line naming every one of names, no traceback."""
    err = done.stderr
    assert done.returncode == code, (done.returncode, err)
    assert "Traceback" not in err and not re.search(r'^\s+File "', err, re.M), err
    assert any(all(n in line for n in names) for line in err.splitlines()), (names, err)


def bound_socket():
    """(["-b", "fd://N"], [socket]): a listening socket of this test's own, for run()."""
    sock, _port = harness.listener()
    return ["-b", "fd://%d" % sock.fileno()], [sock]


def fetch(addr, target):
    return harness.request(addr, ("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % target).encode())


# ---------------------------------------------------------------- refusals


def test_unknown_option(greenhorn):
    done, _ = run(greenhorn, ["--wrokers", "2", "rawapp:application"])
    assert_refused(done, 2, "--wrokers")


def test_bad_bind_address(greenhorn):
    done, _ = run(greenhorn, ["-b", "1.2.3:x", "rawapp:application"])
    assert_refused(done, 2, "1.2.3:x")


def test_bad_worker_count(greenhorn):
    done, _ = run(greenhorn, ["-w", "many", "rawapp:application"])
    assert_refused(done, 2, "many")


def test_port_in_use(greenhorn):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done, elapsed = run(greenhorn, ["-b", "127.0.0.1:%d" % port, "rawapp:application"])
    # No retry loop: Gunicorn 20.1 retries five times, a second apart.
    assert done.returncode != 0 and elapsed < 3.0, (elapsed, done.stderr)
    assert_refused(done, done.returncode, str(port))


@pytest.mark.parametrize(
    "app,names",
    [
        ("nosuchmodule:application", ["nosuchmodule"]),
        ("rawapp:nosuch", ["nosuch"]),
        ("rawapp:SOME_STRING", ["SOME_STRING"]),
        ("rawapp:create_app(__import__('os'))", ["create_app"]),
    ],
)
def test_app_cannot_load(greenhorn, app, names):
    bind, sockets = bound_socket()
    done, _ = run(greenhorn, bind + [app], sockets=sockets)
    assert_refused(done, 4, *names)


def test_syntax_error_in_module(greenhorn, tmp_path):
    (tmp_path / "broken.py").write_text("def application(environ, start_response)\n    pass\n")
    bind, sockets = bound_socket()
    done, _ = run(greenhorn, bind + ["broken:application"], cwd=str(tmp_path), sockets=sockets)
    assert_refused(done, 4, "broken")


def test_app_raising_on_import(greenhorn, tmp_path):
    (tmp_path / "raising.py").write_text("raise RuntimeError('no database configured')\n")
    bind, sockets = bound_socket()
    done, _ = run(greenhorn, bind + ["raising:app"], cwd=str(tmp_path), sockets=sockets)
    assert done.returncode == 4, done.stderr
    assert "no database configured" in done.stderr


# ---------------------------------------------------------------- loading the app


def test_factory_with_literal_arguments(spawn):
    _, port = spawn.tcp([], app="rawapp:create_app('x', 2)")
    assert fetch(port, "/factory").json() == {"name": "x", "count": 2}


def test_variable_defaults_to_application(spawn):
    _, port = spawn.tcp([], app="rawapp")
    assert fetch(port, "/head").status == 200


def test_chdir(spawn, tmp_path):
    _, port = spawn.tcp(["--chdir", APPS], cwd=str(tmp_path))
    assert fetch(port, "/head").status == 200


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
def test_relative_paths_are_inside_chdir(spawn, tmp_path, side):
    """--chdir comes first, as in Gunicorn: relative log, pid and unix
    socket paths all land in DIR, and a USR1 reopen finds the same log."""
    start, inside = tmp_path / "start", tmp_path / "inside"
    start.mkdir()
    inside.mkdir()
    shutil.copy(os.path.join(APPS, "rawapp.py"), inside)
    command = harness.GUNICORN if side == "gunicorn" else None
    args = ["--chdir", str(inside), "--access-logfile", "access.log", "-p", "master.pid",
            "-b", "unix:app.sock", "rawapp:application"]
    server = spawn.server(args, cwd=str(start), addr=str(inside / "app.sock"), command=command)
    assert fetch(str(inside / "app.sock"), "/head").status == 200
    harness.wait_for(lambda: (inside / "access.log").exists()
                     and "GET /head" in (inside / "access.log").read_text(), 3.0)
    assert (inside / "master.pid").read_text().strip() == str(server.pid)
    assert sorted(os.listdir(start)) == []
    if side == "greenhorn":  # and a log rotation reopens the file inside DIR
        os.rename(inside / "access.log", inside / "access.log.1")
        server.signal(signal.SIGUSR1)
        harness.wait_for(lambda: (inside / "access.log").exists(), 5.0)
        time.sleep(0.3)  # the workers reopen too
        assert fetch(str(inside / "app.sock"), "/head?again").status == 200
        harness.wait_for(lambda: "GET /head?again" in (inside / "access.log").read_text(), 3.0)
        assert sorted(os.listdir(start)) == []


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
@pytest.mark.parametrize("allow", [None, "10.9.8.7"])
def test_which_peers_may_set_the_scheme(spawn, tmp_path, side, allow):
    """X-Forwarded-Proto is believed from a TCP peer in --forwarded-allow-ips
    (default 127.0.0.1,::1), and always from a unix socket peer, which has
    no address and is on this machine (nginx in front, usually): as in
    Gunicorn, so a Flask app behind nginx on a unix socket builds https links."""
    command = harness.GUNICORN if side == "gunicorn" else None
    sock = str(tmp_path / "app.sock")
    # Two -b of a port this test names: Gunicorn 20.1 takes fd:// sockets
    # only alone (with one it ignores every other -b).
    args = ["-b", "unix:" + sock, "-b", "127.0.0.1:%d", "echoapp:application"]
    if allow:
        args = ["--forwarded-allow-ips", allow] + args
    _, (port,) = spawn.on_free_port(lambda p: [a.replace("%d", str(p)) for a in args],
                                    addr=sock, command=command)
    raw = b"GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-Proto: https\r\n\r\n"
    schemes = {where: json.loads(harness.request(addr, raw).body)["url_scheme"]
               for where, addr in (("unix", sock), ("tcp", port))}
    assert schemes == {"unix": "https", "tcp": "http" if allow else "https"}


def test_a_unix_socket_peer_may_send_a_proxy_header(spawn, tmp_path):
    """The same rule for --proxy-allow-from: a unix socket peer may send a
    PROXY header (Gunicorn 20.1 checks only TCP peers too)."""
    sock = str(tmp_path / "app.sock")
    spawn.server(["--proxy-protocol", "v1", "--proxy-allow-from", "10.9.8.7", "-b", "unix:" + sock,
                  "echoapp:application"], addr=sock)
    raw = b"PROXY TCP4 192.0.2.1 192.0.2.2 4321 80\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n"
    reply = harness.request(sock, raw)
    assert reply.status == 200 and json.loads(reply.body)["remote_addr"] == "192.0.2.1", reply.raw


def test_pythonpath(spawn, tmp_path):
    _, port = spawn.tcp(["--pythonpath", APPS], cwd=str(tmp_path))
    assert fetch(port, "/head").status == 200


# ---------------------------------------------------------------- logs


def test_debug_log_says_why_a_request_was_refused(spawn):
    """--log-level debug names the rule a refused request broke: in the head,
    at the end of the request line, or in the chunked body's first bytes."""
    server, port = spawn.tcp(["--log-level", "debug"], app="echoapp:application")
    sent = {
        b"GET / HTTP/1.1\r\nHost : t\r\n\r\n": "400: ",
        b"GET / HTTP/1.1\nHost: t\r\n\r\n": "400: bare LF ending the request line",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n": "400: invalid chunk size",
    }
    for raw, why in sent.items():
        assert harness.request(port, raw).status == 400
    harness.wait_for(lambda: server.log().count("Refused request from 127.0.0.1") == 3, 3.0)
    for why in sent.values():
        assert why in server.log(), (why, server.log())
    assert "400: Bad Request" not in server.log()  # never the bare status instead of a reason


def test_startup_log_lines(greenhorn, spawn):
    version = subprocess.run([greenhorn, "-v"], capture_output=True, text=True, timeout=5)
    assert version.returncode == 0
    number = re.search(r"\b(\d+\.\d+\.\d+)\b", version.stdout)
    assert number, version.stdout
    number = number.group(1)
    name = "gunicorn" if differences.reference_mode() else "greenhorn"
    server, port = spawn.tcp(["-w", "2"])
    master = server.pid
    log = server.wait_log(BOOT_TWICE, timeout=5.0) and server.log()
    assert log, server.describe()
    for line in (
        r"%s \[%d\] \[INFO\] Starting %s %s" % (STAMP, master, name, re.escape(number)),
        r"%s \[%d\] \[INFO\] Listening at: http://127\.0\.0\.1:%d \(%d\)"
        % (STAMP, master, port, master),
        r"%s \[%d\] \[INFO\] Using worker: sync" % (STAMP, master),
    ):
        assert re.search("^" + line + "$", log, re.M), (line, log)
    booted = re.findall(r"^%s \[(\d+)\] \[INFO\] Booting worker with pid: (\d+)$" % STAMP, log,
                        re.M)
    assert len(booted) == 2 and all(a == b for a, b in booted), log
    assert sorted(int(pid) for pid, _ in booted) == harness.worker_pids(server)


@pytest.mark.parametrize("option", ["--error-logfile", "--log-file"])
def test_error_logfile(spawn, tmp_path, option):
    path = tmp_path / "error.log"
    server, _ = spawn.tcp([option, str(path)])
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and "Booting worker" not in read(path):
        time.sleep(0.05)
    assert "Listening at: http://127.0.0.1" in read(path)
    assert "Booting worker" in read(path)
    assert "Booting worker" not in server.log()


def read(path):
    return path.read_text() if path.exists() else ""


def test_log_level_warning_hides_info(spawn):
    server, port = spawn.tcp(["--log-level", "warning", "--backlog", "64"])
    assert fetch(port, "/head").status == 200
    assert "[INFO]" not in server.log()


def test_access_log_format(spawn):
    server, port = spawn.tcp(["--access-logfile", "-"])
    raw = b"POST /upload HTTP/1.0\r\nUser-Agent: ua/2\r\nContent-Length: 3\r\n\r\nabc"
    harness.request(port, raw)
    harness.wait_for(lambda: "/upload" in server.stdout(), 3.0)
    body_len = len(json.dumps({"length": 3, "md5": "900150983cd24fb0d6963f7d28e17f72"}))
    assert re.search(
        r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
        r'"POST /upload HTTP/1\.0" 200 %d "-" "ua/2"$' % body_len,
        server.stdout(),
        re.M,
    ), server.stdout()


def test_access_log_format_escapes_control_bytes(spawn):
    """A decoded path may hold a line feed (%0A); the log writes it as \\x0a, so
    a client cannot forge a second log line (Gunicorn writes it as it is)."""
    server, port = spawn.tcp(["--access-logfile", "-", "--access-logformat", "%(U)s|%(D)s"])
    assert fetch(port, "/head%0A127.0.0.1%20-%20-%20forged").status == 404
    harness.wait_for(lambda: "forged" in server.stdout(), 3.0)
    assert re.search(r"^/head\\x0a127\.0\.0\.1 - - forged\|\d+$", server.stdout(), re.M), \
        server.stdout()


EVERY_ATOM = "|".join(["h=%(h)s", "l=%(l)s", "u=%(u)s", "t=%(t)s", "r=%(r)s", "s=%(s)s",
                       "m=%(m)s", "U=%(U)s", "q=%(q)s", "H=%(H)s", "b=%(b)s", "B=%(B)s",
                       "f=%(f)s", "a=%(a)s", "T=%(T)s", "M=%(M)s", "D=%(D)s", "L=%(L)s",
                       "p=%(p)s", "i=%({X-Trace}i)s", "o=%({content-type}o)s", "%%"])


def test_access_log_with_every_atom(spawn):
    """Every atom greenhorn knows, in one line (test_side_by_side.py compares
    with Gunicorn the atoms that do not depend on time or pid)."""
    server, port = spawn.tcp(["-w", "1", "--access-logfile", "-",
                              "--access-logformat", EVERY_ATOM])
    raw = (b"POST /up%6Coad?x=1&y=%20 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
           b"Authorization: Basic " + base64.b64encode(b"alice:pw") + b"\r\n"
           b"X-Trace: t-1\r\nReferer: http://r/\r\nUser-Agent: ua/1\r\n\r\nabc")
    reply = harness.request(port, raw)
    assert reply.status == 200, reply.raw[:300]
    assert harness.wait_for(lambda: "/up" in server.stdout(), 3.0), server.describe()
    fields = dict(f.split("=", 1) for f in server.stdout().strip().split("|")[:-1])
    assert server.stdout().strip().endswith("|%"), server.stdout()
    assert fields == {
        "h": "127.0.0.1", "l": "-", "u": "alice", "t": fields["t"],
        "r": "POST /up%6Coad?x=1&y=%20 HTTP/1.1", "s": "200", "m": "POST", "U": "/upload",
        "q": "x=1&y=%20", "H": "HTTP/1.1", "b": str(len(reply.body)), "B": str(len(reply.body)),
        "f": "http://r/", "a": "ua/1", "T": fields["T"], "M": fields["M"], "D": fields["D"],
        "L": fields["L"], "p": "<%d>" % harness.worker_pids(server)[0], "i": "t-1",
        "o": "application/json",
    }, server.stdout()
    assert re.fullmatch(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]", fields["t"]), fields
    # One request time in four units: seconds, ms, us, and decimal seconds.
    micro = int(fields["D"])
    assert (int(fields["T"]), int(fields["M"]), fields["L"]) == (
        micro // 10**6, micro // 1000, "%d.%06d" % divmod(micro, 10**6)), fields


@pytest.mark.parametrize("fmt, why", [
    ("%(x)s", "unknown atom %(x)s"),
    ("%({path_info}e)s", "environ variables are not logged by greenhorn"),
    ("100% done", "'% done' is not %(NAME)s"),
    ("%(h)", "'%(h)' is not %(NAME)s"),
])
def test_a_bad_access_log_format_is_a_usage_error(greenhorn, fmt, why):
    done, _ = run(greenhorn, ["--access-logformat", fmt, "rawapp:application"])
    assert_refused(done, 2, "--access-logformat", why)


CONF = """
import multiprocessing
bind = ["127.0.0.1:%(port)d"]
workers = 2
wsgi_app = "rawapp:application"
accesslog = "-"
access_log_format = "conf %%(s)s %%(U)s"
max_requests = 1000
raw_env = ["FROM_CONF=yes"]
helper = multiprocessing.cpu_count()   # the file's own variable: skipped, as Gunicorn skips it
sendfile = False                       # a Gunicorn setting greenhorn lacks: a warning
certfile = "server.pem"                # TLS, not in greenhorn yet: a warning saying what instead
worker_class = "gevent"                # nor this class: a warning, and the sync worker runs
def ssl_context(config, factory):       # a hook greenhorn does not run: a warning
    pass
"""


def conf_dir(tmp_path, port, name="gunicorn.conf.py"):
    """tmp_path/app: the test apps and a config file binding port (written again on a retry)."""
    folder = tmp_path / "app"
    shutil.copytree(APPS, str(folder), dirs_exist_ok=True)
    (folder / name).write_text(CONF % {"port": port})
    return str(folder)


def test_gunicorn_conf_py_is_read(spawn, tmp_path):
    """./gunicorn.conf.py, as Gunicorn 20+ reads it: binds, workers, the app,
    the access log, -e; hooks and missing settings are named in warnings."""
    def build(port):
        conf_dir(tmp_path, port)
        return []

    server, (port,) = spawn.on_free_port(build, cwd=str(tmp_path / "app"))
    assert count_workers(server, 2) == 2, server.describe()
    assert fetch(port, "/osenv?name=FROM_CONF").json() == {"FROM_CONF": "yes"}
    assert harness.wait_for(lambda: "conf 200 /osenv" in server.stdout(), 3.0)
    log = server.log()
    assert "the setting 'sendfile' is not supported" in log
    assert "--certfile: greenhorn does not have this setting yet; terminate TLS in nginx" in log
    assert "--worker-class: 'gevent' is not in greenhorn yet; use -k gthread" in log
    assert "the hook 'ssl_context' is not supported" in log
    assert "helper" not in log


def test_the_command_line_and_gunicorn_cmd_args_win_over_the_file(spawn, tmp_path):
    # The file's port is held by this test, bound and not listening: had the
    # file's bind been used, the start would fail ("Address already in use").
    held, file_port = harness.reserved_port()
    with held:
        folder = conf_dir(tmp_path, file_port, name="settings.py")
        server, port = spawn.tcp(["-c", "settings.py"], app=None, cwd=folder,
                                 env={"GUNICORN_CMD_ARGS": "--workers 3"})
        assert count_workers(server, 3) == 3, server.describe()
        assert fetch(port, "/head").status == 200
        assert "in use" not in server.log(), server.describe()


@pytest.mark.parametrize("text, why", [
    ("workers = \n", "settings.py: SyntaxError: invalid syntax"),
    ("workers = 'x'\n", "settings.py: --workers: 'x' is not a whole number"),
    ("import nope_not_a_module\n", "settings.py: ModuleNotFoundError"),
])
def test_a_bad_config_file_is_one_line_and_exit_2(greenhorn, tmp_path, text, why):
    (tmp_path / "settings.py").write_text(text)
    done, _ = run(greenhorn, ["-c", "settings.py", "rawapp:application"], cwd=str(tmp_path))
    assert_refused(done, 2, why)


def test_a_missing_config_file_is_named(greenhorn, tmp_path):
    done, _ = run(greenhorn, ["-c", "nothere.py", "rawapp:application"], cwd=str(tmp_path))
    assert_refused(done, 2, "nothere.py: FileNotFoundError")


@pytest.mark.parametrize("app, code", [("rawapp:application", 0), ("rawapp:nope", 1),
                                       ("no_such_module:app", 1)])
def test_check_config_as_gunicorn(greenhorn, app, code):
    """--check-config imports the app and exits 0 or 1, binding nothing, as Gunicorn does."""
    # The port is held by this test, bound and not listening: a server that
    # tried to bind it would fail with "Address already in use" (Gunicorn
    # would retry for 5 s and say "Connection in use").
    held, port = harness.reserved_port()
    with held:
        args = ["--check-config", "-b", "127.0.0.1:%d" % port, app]
        done, _ = run(greenhorn, args)
        ref = subprocess.run([harness.PYTHON, "-m", "gunicorn"] + args, cwd=APPS,
                             capture_output=True, text=True, timeout=30,
                             env=harness.clean_env(None))
    assert done.returncode == ref.returncode == code, (done.stderr, ref.stderr)
    if code:
        assert_refused(done, 1, "Failed to load application '%s'" % app)
    for err in (done.stderr, ref.stderr):
        assert not harness.IN_USE.search(err), err


PRINT_APP = """
import sys

def application(environ, start_response):
    word = environ["PATH_INFO"].strip("/")
    print("printed " + word, flush=True)
    sys.stderr.write("warned " + word + "\\n")
    sys.stderr.flush()
    start_response("200 OK", [("Content-Length", "0")])
    return [b""]
"""


def read_text(path):
    with open(path) as f:
        return f.read()


@pytest.mark.parametrize("capture", [True, False])
def test_capture_output_sends_prints_to_the_error_log(spawn, tmp_path, capture):
    (tmp_path / "printapp.py").write_text(PRINT_APP)
    log = str(tmp_path / "error.log")
    args = ["--error-logfile", log, "--chdir", str(tmp_path)] + (["--capture-output"] if capture else [])
    server, port = spawn.tcp(args, app="printapp:application", cwd=str(tmp_path))
    assert fetch(port, "/one").status == 200
    if capture:
        harness.wait_for(lambda: "warned one" in read_text(log), 3.0)
    text = read_text(log)
    assert ("printed one" in text and "warned one" in text) == capture, text
    if capture:  # after log rotation (USR1) the prints follow the log to its new file
        os.rename(log, log + ".1")
        server.signal(signal.SIGUSR1)
        harness.wait_for(lambda: os.path.exists(log), 5.0)
        time.sleep(0.3)  # the workers reopen too
        assert fetch(port, "/two").status == 200
        harness.wait_for(lambda: "warned two" in read_text(log), 3.0)
        assert "printed two" in read_text(log), read_text(log)
    else:
        assert "printed one" in server.stdout() and "warned one" in server.log()


# ---------------------------------------------------------------- environment variables


def count_workers(server, expected):
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if len(re.findall("Booting worker with pid", server.log())) >= expected:
            break
        time.sleep(0.05)
    time.sleep(0.3)
    return len(re.findall("Booting worker with pid", server.log()))


def test_gunicorn_cmd_args_honoured(spawn):
    server, _ = spawn.tcp([], env={"GUNICORN_CMD_ARGS": "--workers 2"})
    assert count_workers(server, 2) == 2


def test_command_line_wins_over_gunicorn_cmd_args(spawn):
    server, _ = spawn.tcp(["-w", "3"], env={"GUNICORN_CMD_ARGS": "--workers 2"})
    assert count_workers(server, 3) == 3
    assert len(harness.worker_pids(server)) == 3


def test_web_concurrency(spawn):
    server, _ = spawn.tcp([], env={"WEB_CONCURRENCY": "2"})
    assert count_workers(server, 2) == 2


def test_port_variable(spawn):
    server, (port,) = spawn.on_free_port(
        lambda p: {"args": ["rawapp:application"], "env": {"PORT": str(p)}})
    assert server.wait_log(r"Listening at: http://0\.0\.0\.0:%d " % port)
    assert fetch(port, "/head").status == 200


def test_env_option(spawn):
    _, port = spawn.tcp(["-e", "GREETING=hello there", "--env", "OTHER=2"])
    assert fetch(port, "/osenv?name=GREETING").json() == {"GREETING": "hello there"}
    assert fetch(port, "/osenv?name=OTHER").json() == {"OTHER": "2"}


# ---------------------------------------------------------------- binds


def test_unix_socket(spawn, tmp_path):
    path = str(tmp_path / "gh.sock")
    server = spawn.server(["-b", "unix:" + path, "rawapp:application"], addr=path)
    reply = fetch(path, "/environ")
    assert reply.status == 200
    assert reply.json()["environ"]["SERVER_NAME"] == "t"
    server.signal(signal.SIGTERM)
    assert server.wait_exit(5.0) == 0
    assert not os.path.exists(path)


@pytest.mark.parametrize("args, mode", [([], 0o777), (["--umask", "007"], 0o770),
                                        (["-m", "0o22"], 0o755)])
def test_umask_sets_the_unix_socket_mode(spawn, tmp_path, args, mode):
    """Gunicorn's --umask: 0 by default (anyone may connect), 007 for owner and group."""
    path = str(tmp_path / "gh.sock")
    spawn.server(args + ["-b", "unix:" + path, "rawapp:application"], addr=path)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert fetch(path, "/head").status == 200


def test_a_gunicorn_sync_command_line_runs(spawn):
    """-k sync and --keep-alive, common in Gunicorn command lines, are accepted;
    as in Gunicorn's sync worker, the connection still closes after the answer."""
    _, port = spawn.tcp(["-k", "sync", "--worker-class", "gunicorn.workers.sync.SyncWorker",
                         "--keep-alive", "5", "--grace", "5"])
    reply = fetch(port, "/head")
    assert reply.status == 200 and reply.header("Connection") == "close"


def test_another_worker_class_is_refused(greenhorn):
    done, _ = run(greenhorn, ["-k", "eventlet", "rawapp:application"])
    assert_refused(done, 2, "--worker-class: 'eventlet' is not in greenhorn yet; use -k gthread")
    done, _ = run(greenhorn, ["-k", "nope", "rawapp:application"])
    assert_refused(done, 2, "--worker-class: 'nope' is not one of sync, gthread")


@pytest.mark.parametrize("words, names", [
    (["--certfile", "c.pem", "--keyfile", "k.pem"], ["--certfile:", "terminate TLS in nginx"]),
    (["--do-handshake-on-connect"], ["--do-handshake-on-connect:", "terminate TLS in nginx"]),
    (["-k", "tornado"], ["'tornado' is not in greenhorn yet", "use -k gthread"]),
])
def test_gunicorn_features_greenhorn_lacks_get_one_line(greenhorn, words, names):
    """A Gunicorn command line naming TLS or another worker class: one line
    that says what greenhorn offers instead, exit 2 (a usage error)."""
    done, _ = run(greenhorn, words + ["rawapp:application"])
    assert_refused(done, 2, *names)


def test_remote_addr_and_port_are_the_clients(spawn):
    """REMOTE_ADDR and REMOTE_PORT name the client's end of the connection
    (every 127.x.y.z is this machine, so the octets can have 1 to 3 digits)."""
    _, port = spawn.tcp(["-w", "1"])
    for source in ("127.0.0.1", "127.10.200.255", "127.0.9.99"):
        with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as sock:
            client_port = sock.getsockname()[1]
            sock.sendall(b"GET /environ HTTP/1.1\r\nHost: t\r\n\r\n")
            environ = json.loads(harness.parse_reply(harness.read_all(sock)).body)["environ"]
        assert environ["REMOTE_ADDR"] == source
        assert environ["REMOTE_PORT"] == str(client_port)


def test_two_binds(spawn):
    _, ports = spawn.on_free_port(lambda a, b: ["-b", "127.0.0.1:%d" % a,
                                                "--bind", "127.0.0.1:%d" % b,
                                                "rawapp:application"], count=2)
    assert [fetch(p, "/head").status for p in ports] == [200, 200]


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="this host has no IPv6 loopback (::1)")
def test_ipv6_bind(spawn):
    _, (port,) = spawn.on_free_port(lambda p: ["-b", "[::1]:%d" % p, "rawapp:application"],
                                    host="::1")
    assert fetch(("::1", port), "/head").status == 200


# ---------------------------------------------------------------- version and help


@pytest.mark.parametrize("option", ["-v", "--version"])
def test_version(greenhorn, option):
    done, _ = run(greenhorn, [option])
    assert done.returncode == 0 and re.search(r"\d+\.\d+\.\d+", done.stdout), done


@pytest.mark.parametrize("option", ["-h", "--help"])
def test_help_lists_the_options(greenhorn, option):
    done, _ = run(greenhorn, [option])
    assert done.returncode == 0
    for option in ("--workers", "--bind", "--timeout", "--graceful-timeout", "--chdir",
                   "--pythonpath", "--env", "--access-logfile", "--error-logfile",
                   "--log-level", "--backlog", "--limit-request-line",
                   "--limit-request-fields", "--limit-request-field_size", "--version"):
        assert option in done.stdout, option
