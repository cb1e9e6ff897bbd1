"""systemd socket activation: the sockets in $LISTEN_FDS replace every --bind.

sd_listen_fds(3): systemd binds the sockets itself, starts the service with
them as file descriptors 3, 4, ..., and sets LISTEN_PID (the service's pid)
and LISTEN_FDS (how many).  Gunicorn honours this (gunicorn/systemd.py), and
so does greenhorn, which then removes the variables so that neither the
workers nor the app see them.  Most tests start greenhorn through a few
lines of Python that move the socket to fd 3 and set LISTEN_PID to their own
pid before exec (exec keeps the pid); the last one uses systemd's own
systemd-socket-activate.
"""

import json
import shutil
import socket

import pytest

import harness

# A tiny launcher: argv = fd, LISTEN_PID ("self" = this very process), LISTEN_FDS, command...
ACTIVATE = """
import os, sys
fd, pid, count, command = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
if fd != 3:
    os.dup2(fd, 3)  # the first socket of socket activation is fd 3
    os.close(fd)
os.environ["LISTEN_PID"] = str(os.getpid()) if pid == "self" else pid
os.environ["LISTEN_FDS"] = count
os.execv(command[0], command)  # exec keeps the pid
"""


def listening_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock, sock.getsockname()[1]


def activated(spawn, sock, listen_pid, listen_fds, args, **kw):
    """greenhorn started with sock as fd 3 and the two variables set."""
    command = [harness.PYTHON, "-c", ACTIVATE, str(sock.fileno()), listen_pid, listen_fds,
               spawn.greenhorn]
    return spawn.server(args, command=command, pass_fds=(sock.fileno(),), **kw)


def osenv(port, name):
    return json.loads(harness.get(port, "/osenv?name=" + name).body)[name]


def test_the_activated_socket_replaces_bind(spawn):
    sock, port = listening_socket()
    # -b names the very port systemd holds: were it bound, it would be "in use".
    server = activated(spawn, sock, "self", "1", ["-w", "2", "-b", "127.0.0.1:%d" % port,
                                                  "rawapp:application"], addr=port)
    sock.close()  # greenhorn has its own copy now
    assert harness.get(port, "/head").status == 200
    assert server.wait_log(r"Listening at: http://127\.0\.0\.1:%d " % port), server.describe()
    assert "in use" not in server.log()
    # The variables are gone before any worker or the app could see them.
    for name in ("LISTEN_PID", "LISTEN_FDS"):
        assert osenv(port, name) is None, server.describe()


def test_listen_pid_of_another_process_is_ignored(spawn):
    sock, held_port = listening_socket()
    # Greenhorn binds -b itself here (what the test checks), so its port is named.
    server, (port,) = spawn.on_free_port(
        lambda p: {"args": [str(sock.fileno()), "1", "1", spawn.greenhorn, "-w", "1",
                            "-b", "127.0.0.1:%d" % p, "rawapp:application"],
                   "command": [harness.PYTHON, "-c", ACTIVATE],
                   "pass_fds": (sock.fileno(),)})
    assert harness.get(port, "/head").status == 200
    assert "127.0.0.1:%d " % held_port not in server.log()
    # Meant for another process: left in the environment, as sd_listen_fds leaves it.
    assert osenv(port, "LISTEN_PID") == "1"
    sock.close()


@pytest.mark.parametrize("value", ["x", "0", "-1", "65"])
def test_a_bad_listen_fds_is_one_line_and_exit_1(spawn, value):
    sock, _port = listening_socket()
    server = activated(spawn, sock, "self", value, ["rawapp:application"], wait=False)
    code = server.wait_exit(10)
    sock.close()
    assert code == 1, server.describe()
    errors = [line for line in server.log().splitlines() if "LISTEN_FDS" in line]
    assert len(errors) == 1 and "'%s' is not a number of sockets" % value in errors[0], \
        server.describe()
    assert "Traceback" not in server.log()


def test_systemd_socket_activate(spawn):
    tool = shutil.which("systemd-socket-activate")
    if tool is None:
        pytest.skip("systemd-socket-activate is not installed (Debian package systemd); "
                    "the tests above run the same protocol through their own launcher")
    # The tool binds, waits for the first connection, then execs greenhorn
    # with the socket; it logs "Listening on 127.0.0.1:N as 3." first.
    server, (port,) = spawn.on_free_port(
        lambda p: ["-l", "127.0.0.1:%d" % p, "-E", "PATH", spawn.greenhorn, "-w", "1",
                   "rawapp:application"], command=[tool])
    assert harness.get(port, "/head").status == 200
    assert server.wait_log(r"Listening at: http://127\.0\.0\.1:%d " % port), server.describe()
