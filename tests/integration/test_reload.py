"""--reload, --reload-extra-file, and HUP reading the settings again.

--reload (for development): a worker restarts when a source file the app
imported, or a --reload-extra-file, changes; the next worker imports the
new code.  Refused with --preload.  HUP reads the config file,
$GUNICORN_CMD_ARGS and the command line again, as Gunicorn 20.1's
Arbiter.reload does: the worker count goes back to the configured one, and
a file that no longer reads is logged while the old settings stay.
"""

import os
import re
import signal
import subprocess
import time

import pytest

import differences
import harness

WAIT = 30  # generous: a worker restart on a busy machine

APP = '''
import os
import version

EXTRA = open("settings.txt").read().strip() if os.path.exists("settings.txt") else ""

def application(environ, start_response):
    if environ["PATH_INFO"] == "/env":
        body = os.environ.get("GREETING", "-").encode()
    elif environ["PATH_INFO"] == "/extra":
        body = EXTRA.encode()
    else:
        body = version.VERSION.encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
'''


def make_folder(tmp_path, version="v1", config=None):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "reloadapp.py").write_text(APP)
    (folder / "version.py").write_text("VERSION = %r\n" % version)
    if config is not None:
        (folder / "gunicorn.conf.py").write_text(config)
    return folder


def start(spawn, folder, args, side="greenhorn", env=None):
    command = harness.GUNICORN if side == "gunicorn" else None
    server, port = spawn.tcp(list(args), app="reloadapp:application", cwd=str(folder), env=env,
                             name=side, command=command)
    # The socket was bound here, so it accepts before the master runs: wait
    # for a worker, by then the master's signals are set up (an early TTIN
    # would stop it, as its default action does).
    assert server.wait_log(r"Booting worker", WAIT), server.log()
    return server, port


def greenhorn_only(why):
    """Skip a check of greenhorn's own contract when $GREENHORN is Gunicorn itself."""
    if differences.reference_mode():
        pytest.skip("Gunicorn 20.1 differs (README, differences from 20.1): " + why)


def body(port, target="/"):
    return harness.get(port, target).body


def workers(server, count):
    """Wait until the master has count children; the list it has then."""
    return harness.wait_for_value(lambda: harness.worker_pids(server), lambda w: len(w) == count,
                                  WAIT)


# ---- --reload -------------------------------------------------------------


@pytest.mark.parametrize("side,cls,save", [
    ("greenhorn", ["-k", "sync"], "in place"),
    ("greenhorn", ["-k", "gthread", "--threads", "2"], "rename"),
    ("gunicorn", ["-k", "sync"], "in place"),  # 20.1 polls the files' mtimes without inotify
])
def test_reload_restarts_the_worker_with_the_edited_module(spawn, tmp_path, side, cls, save):
    folder = make_folder(tmp_path)
    server, port = start(spawn, folder, ["--reload", "-w", "1"] + cls, side=side)
    assert body(port) == b"v1"
    first = workers(server, 1)
    source = folder / "version.py"
    if save == "in place":
        source.write_text("VERSION = 'v2'\n")  # same size: only the content tells
    else:  # as an editor that writes a new file and renames it over the old one
        (folder / ".version.py.swp").write_text("VERSION = 'v2'\n")
        os.replace(folder / ".version.py.swp", source)
    if side == "gunicorn":
        # 20.1's polling reloader takes its first mtimes a moment after the
        # worker serves; an edit before that goes unseen.  Touch it each second.
        touched = [time.monotonic()]

        def seen():
            if time.monotonic() - touched[0] >= 1:
                os.utime(source)
                touched[0] = time.monotonic()
            return body(port) == b"v2"

        assert harness.wait_for(seen, WAIT), server.log()
    assert harness.wait_for(lambda: body(port) == b"v2", WAIT), server.log()
    assert re.search(r"\[INFO\] Worker reloading: .*/site/version\.py modified", server.log())
    # the worker that saw the change left, a new one serves
    after = workers(server, 1)
    assert len(after) == 1 and after != first, (first, after)


def test_reload_extra_file_restarts_the_worker_and_other_files_do_not(spawn, tmp_path):
    greenhorn_only("its reloader names the extra file as given, not its absolute path")
    folder = make_folder(tmp_path)
    (folder / "settings.txt").write_text("one\n")
    server, port = start(spawn, folder,
                         ["--reload", "--reload-extra-file", "settings.txt", "--chdir",
                          str(folder)])
    assert body(port, "/extra") == b"one"
    # A file nobody watches changes first: if it counted, the line below
    # would name it, since the first change that counts is the one logged.
    (folder / "notes.txt").write_text("not watched\n")
    (folder / ".#version.py").write_text("an editor's lock file\n")
    (folder / "settings.txt").write_text("two\n")
    assert harness.wait_for(lambda: body(port, "/extra") == b"two", WAIT), server.log()
    reloading = re.findall(r"Worker reloading: (.*) modified", server.log())
    assert reloading and reloading[0].endswith("/site/settings.txt"), reloading


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
def test_reload_serves_a_syntax_error_until_the_file_is_fixed(spawn, tmp_path, side):
    """An edit saved half done does not stop the server under --reload: the
    worker answers 500 with the traceback, and the fix brings the new code
    (Gunicorn's load_wsgi, for SyntaxError only)."""
    folder = make_folder(tmp_path)
    source = folder / "version.py"
    source.write_text("VERSION = 'v2'\nif VERSION\n")  # a module the app imports
    server, port = start(spawn, folder, ["--reload", "-w", "1"], side=side)
    broken = harness.get(port, "/")
    assert broken.status == 500, (broken.raw, server.log())
    if side == "greenhorn":
        # the whole traceback: the file, the line, the message (Gunicorn's
        # page has only the frames of the import)
        assert b"version.py" in broken.body and b"if VERSION" in broken.body, broken.body
        assert b"SyntaxError" in broken.body, broken.body
        assert broken.header("Content-Type") == "text/plain; charset=utf-8"
        assert re.search(r"\[ERROR\] Failed to load application 'reloadapp:application': "
                         r"SyntaxError: .*--reload", server.log()), server.log()
    source.write_text("VERSION = 'v3'\n")
    touched = [time.monotonic()]

    def fixed():
        # 20.1 polls mtimes each second, from a moment after the worker
        # serves: touch the file again each second until it sees it.
        if side == "gunicorn" and time.monotonic() - touched[0] >= 1:
            os.utime(source)
            touched[0] = time.monotonic()
        return body(port) == b"v3"

    assert harness.wait_for(fixed, WAIT), server.log()
    assert server.proc.poll() is None, server.log()  # the master never stopped


def test_reload_does_not_serve_other_import_errors(greenhorn, tmp_path):
    """Only a SyntaxError is served: an app that raises while importing
    stops the start with exit 4, as without --reload."""
    greenhorn_only("20.1 exits 3 (its worker's boot error), with a traceback")
    folder = make_folder(tmp_path)
    (folder / "version.py").write_text("raise RuntimeError('no database')\n")
    sock, _ = harness.listener()
    with sock:
        done = subprocess.run([greenhorn, "--reload", "-b", "fd://%d" % sock.fileno(),
                               "reloadapp:application"], cwd=str(folder), env=harness.clean_env(),
                              pass_fds=(sock.fileno(),), capture_output=True, text=True,
                              timeout=WAIT)
    assert done.returncode == 4, done
    assert "Failed to load application 'reloadapp:application': RuntimeError: no database" \
        in done.stderr, done.stderr


def test_reload_with_preload_is_refused(greenhorn, tmp_path):
    greenhorn_only("it serves with --reload --preload, and reloads nothing")
    folder = make_folder(tmp_path)
    sock, _ = harness.listener()  # held here: were it not refused, it would serve on it
    with sock:
        done = subprocess.run([greenhorn, "--reload", "--preload", "-b", "fd://%d" % sock.fileno(),
                               "reloadapp:application"], cwd=str(folder), env=harness.clean_env(),
                              pass_fds=(sock.fileno(),), capture_output=True, text=True,
                              timeout=WAIT)
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--reload" in lines[0] and "--preload" in lines[0], done.stderr


# ---- HUP reads the settings again ----------------------------------------

CONFIG = '''
workers = %d
raw_env = ["GREETING=%s"]
accesslog = "access.log"
access_log_format = %r
'''


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
def test_hup_reads_the_config_file_again(spawn, tmp_path, side):
    folder = make_folder(tmp_path, config=CONFIG % (2, "one", "%(r)s %(s)s"))
    server, port = start(spawn, folder, [], side=side)
    assert len(workers(server, 2)) == 2
    assert body(port, "/env") == b"one"
    (folder / "gunicorn.conf.py").write_text(CONFIG % (3, "two", "custom %(U)s"))
    server.signal(signal.SIGHUP)
    assert len(workers(server, 3)) == 3, server.log()
    assert harness.wait_for(lambda: body(port, "/env") == b"two", WAIT), server.log()
    access = folder / "access.log"
    assert body(port, "/after") == b"v1"
    assert harness.wait_for(lambda: "/after" in access.read_text(), WAIT), access.read_text()
    lines = access.read_text().splitlines()
    assert lines[0] == "GET /env HTTP/1.1 200", lines  # the first format, before HUP
    if side == "greenhorn":
        greenhorn_only("its access log format stays the first one")
        assert lines[-1] == "custom /after", lines
    else:
        # Gunicorn 20.1's logger keeps the Config it was made with (Arbiter.setup
        # makes it once), so its access log format never changes on HUP.
        assert lines[-1] == "GET /after HTTP/1.1 200", lines


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
def test_hup_after_ttin_goes_back_to_the_configured_count_and_the_command_line_wins(
        spawn, tmp_path, side):
    folder = make_folder(tmp_path, config=CONFIG % (3, "one", "%(r)s"))
    env = {"GUNICORN_CMD_ARGS": "--workers 1"}  # stronger than the file
    server, port = start(spawn, folder, ["-e", "GREETING=cli"], side=side, env=env)
    assert len(workers(server, 1)) == 1
    server.signal(signal.SIGTTIN)
    assert len(workers(server, 2)) == 2
    (folder / "gunicorn.conf.py").write_text(CONFIG % (4, "two", "%(r)s"))
    server.signal(signal.SIGHUP)
    assert harness.wait_for(lambda: len(harness.worker_pids(server)) == 1, WAIT), server.log()
    assert body(port, "/env") == b"cli"  # -e on the command line beats raw_env in the file
    assert server.alive()


@pytest.mark.parametrize("side", ["greenhorn", "gunicorn"])
def test_hup_with_a_broken_config_file_keeps_the_old_settings(spawn, tmp_path, side):
    folder = make_folder(tmp_path, config=CONFIG % (2, "one", "%(r)s"))
    server, port = start(spawn, folder, [], side=side)
    assert len(workers(server, 2)) == 2
    config = folder / "gunicorn.conf.py"
    config.write_text("workers = = 3\n")
    server.signal(signal.SIGHUP)
    if side == "gunicorn":  # Gunicorn 20.1's master exits (app.reload() -> sys.exit(1))
        assert server.wait_exit(WAIT) == 1, server.log()
        assert "SyntaxError" in server.log()
        return
    greenhorn_only("its master exits when the file does not read on HUP")
    assert server.wait_log(r"\[ERROR\] Cannot read the settings again: .*the old settings stay",
                           WAIT), server.log()
    # the workers were replaced with the old settings, and serve
    assert harness.wait_for(lambda: server.log().count("Booting worker") == 4, WAIT), server.log()
    assert len(workers(server, 2)) == 2
    assert body(port, "/env") == b"one"
    # fixed, the next HUP takes it
    config.write_text(CONFIG % (3, "three", "%(r)s"))
    server.signal(signal.SIGHUP)
    assert harness.wait_for(lambda: body(port, "/env") == b"three", WAIT), server.log()
    assert len(workers(server, 3)) == 3


def test_hup_keeps_the_listeners_and_says_a_changed_bind_needs_a_restart(spawn, tmp_path):
    greenhorn_only("its HUP closes the listeners and binds the new address")
    folder = make_folder(tmp_path)
    config = folder / "gunicorn.conf.py"

    def build(port):
        config.write_text('bind = "127.0.0.1:%d"\nworkers = 1\n' % port)
        return {"args": ["reloadapp:application"], "cwd": str(folder)}

    server, (port,) = spawn.on_free_port(build)
    assert server.wait_log(r"Booting worker", WAIT), server.log()
    config.write_text('bind = "127.0.0.1:%d"\nworkers = 2\n' % harness.free_ports(1)[0])
    server.signal(signal.SIGHUP)
    assert server.wait_log(r"\[WARNING\] HUP does not change: bind \(restart", WAIT), server.log()
    assert len(workers(server, 2)) == 2  # the rest of the file took effect
    assert body(port) == b"v1"
    assert server.log().count("Listening at:") == 1
