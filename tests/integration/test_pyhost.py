"""greenhorn run by python3 itself (src/extras/pyhost.c), and the embedded
interpreter it falls back to.

Once its settings are read, greenhorn execs python3 (same pid) to run the
rest of itself from greenhorn.so, the same code built as an extension
module, because Debian's python3 runs Python code about 10% faster than the
libpython made for embedding.  These tests check that nothing else changes:
the pid a supervisor started, the titles, what the app sees (sys.argv,
sys.path, sys.executable, signal dispositions, os.environ, a virtualenv),
and that $GREENHORN_EMBED or a binary without its module still serves, with
the interpreter linked in.  Speed is measured by `make bench-ab`, not here.
"""
import os
import shutil
import signal
import subprocess

import pytest

import harness

PYTHON_REAL = os.path.realpath(harness.PYTHON)


@pytest.fixture
def module(greenhorn):
    """The module beside the binary; the sanitizer, valgrind and coverage
    builds have none (PY_HOST=no), and then there is nothing to test here."""
    path = greenhorn + ".so"
    if not os.path.exists(path):
        pytest.skip("this build of greenhorn has no greenhorn.so (built with PY_HOST=no)")
    return path


def exe(pid):
    return os.path.realpath("/proc/%d/exe" % pid)


def cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read()


def facts(port):
    reply = harness.get(port, "/")
    assert reply.status == 200, reply.raw[:300]
    return reply.json()


def serve(spawn, env=None, args=(), command=None, cwd=None):
    kw = {"env": env, "command": command}
    if cwd is not None:
        kw["cwd"] = cwd
    return spawn.tcp(["-w", "1", "--log-level", "debug", "-e", "FROM_E=yes"] + list(args),
                     app="pyfacts:application", **kw)


def test_python3_runs_it_in_the_same_process_with_greenhorns_titles(spawn, module, greenhorn):
    server, port = serve(spawn)
    got = facts(port)
    # The pid the test started is the master: the exec kept it, so systemd's
    # MAINPID, a supervisor's pid and -D's pid file stay right.
    assert server.wait_log(r"\[%d\] \[DEBUG\] Python: python3 runs greenhorn.so" % server.pid,
                           timeout=30), server.describe()
    assert exe(server.pid) == PYTHON_REAL
    assert cmdline(server.pid).startswith(b"greenhorn: master [pyfacts:application]")
    (worker,) = harness.worker_pids(server)
    assert exe(worker) == PYTHON_REAL
    assert cmdline(worker).startswith(b"greenhorn: worker [pyfacts:application]")
    with open("/proc/%d/comm" % worker) as f:
        assert f.read().strip() == "greenhorn: work"
    # What the app sees is what an embedded interpreter shows it (compared
    # whole in the next test): no '' first on sys.path, greenhorn's argv,
    # default signal dispositions, and -e in os.environ.
    assert got["argv"] == ["greenhorn"]
    assert got["path"][0] == os.path.join(os.path.dirname(__file__), "apps")
    assert "" not in got["path"]
    # SIGINT is greenhorn's; SIGPIPE and SIGXFSZ ignored as python3 (and so
    # Gunicorn) has them.
    assert got["signals"] == {"SIGINT": str(int(signal.SIG_DFL)), "SIGPIPE": str(int(signal.SIG_IGN)),
                              "SIGXFSZ": str(int(signal.SIG_IGN))}
    assert got["env"] == "yes"


def test_the_app_sees_the_same_python_as_with_the_embedded_interpreter(spawn, module, greenhorn):
    hosted, port = serve(spawn)
    embedded, port2 = serve(spawn, env={"GREENHORN_EMBED": "1"})
    assert embedded.wait_log(r"Python: embedded", timeout=30), embedded.describe()
    assert exe(embedded.pid) == os.path.realpath(greenhorn)
    ours, theirs = facts(port), facts(port2)
    # Signal dispositions are the one difference: python3 ignores SIGXFSZ
    # (a write past RLIMIT_FSIZE fails with EFBIG instead of killing the
    # worker), as under Gunicorn; an embedded interpreter leaves it as it
    # found it, and makes SIGINT a KeyboardInterrupt when the app first
    # imports signal.
    ours.pop("signals"), theirs.pop("signals")
    assert ours == theirs


def test_a_binary_without_its_module_serves_with_the_embedded_interpreter(spawn, module,
                                                                            greenhorn, tmp_path):
    alone = str(tmp_path / "greenhorn")
    shutil.copy(greenhorn, alone)
    server, port = serve(spawn, command=[alone])
    assert server.wait_log(r"Python: embedded", timeout=30), server.describe()
    assert exe(server.pid) == os.path.realpath(alone)
    assert facts(port)["argv"] == ["greenhorn"]


def test_a_virtualenv_runs_on_its_own_python_as_when_embedded(spawn, module, tmp_path):
    """--virtualenv, relative to --chdir as the workers see it: python3 is
    started as the virtualenv's bin/python, so sys.prefix is the virtualenv."""
    app_dir = tmp_path / "site"
    app_dir.mkdir()
    subprocess.run([harness.PYTHON, "-m", "venv", "--without-pip", str(app_dir / "venv")],
                   check=True, timeout=120, capture_output=True)
    shutil.copy(os.path.join(os.path.dirname(__file__), "apps", "pyfacts.py"), str(app_dir))
    args = ["--chdir", str(app_dir), "--virtualenv", "venv"]
    hosted, port = serve(spawn, args=args)
    embedded, port2 = serve(spawn, args=args, env={"GREENHORN_EMBED": "1"})
    ours, theirs = facts(port), facts(port2)
    ours.pop("signals"), theirs.pop("signals")
    assert ours["prefix"] == str(app_dir / "venv")
    assert ours["executable"] == str(app_dir / "venv" / "bin" / "python")
    assert ours == theirs
    assert exe(hosted.pid) == PYTHON_REAL


def test_the_installed_binary_finds_its_module(greenhorn, module, tmp_path, spawn):
    """make install puts greenhorn.so in PREFIX/lib/greenhorn, where
    PREFIX/bin/greenhorn looks for it."""
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "lib" / "greenhorn").mkdir(parents=True)
    shutil.copy(greenhorn, str(prefix / "bin" / "greenhorn"))
    shutil.copy(module, str(prefix / "lib" / "greenhorn" / "greenhorn.so"))
    server, port = serve(spawn, command=[str(prefix / "bin" / "greenhorn")])
    assert server.wait_log(r"Python: python3 runs greenhorn.so", timeout=30), server.describe()
    assert facts(port)["env"] == "yes"
