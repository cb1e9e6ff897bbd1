"""sd_notify: what greenhorn tells systemd, side by side with Gunicorn 20.1.

A Type=notify service tells systemd its state through $NOTIFY_SOCKET
(sd_notify(3)).  greenhorn's master says READY=1 (with MAINPID= and a
STATUS= line) once every worker has loaded the app, RELOADING=1 and then
READY=1 again around a HUP, STOPPING=1 when it stops; and it takes the
variable out of the environment before anything forks, so an app calling
sd_notify itself cannot speak for the service.  Each test holds the socket
systemd would hold (sdnotify.NotifySocket, a file path or an '@' abstract
name) and reads what arrives.  The app is gateapp: its workers cannot load
it until the test creates the gate file, which shows when READY is sent.
"""

import json
import os
import re
import signal
import time

import pytest

import harness
from sdnotify import NotifySocket

BOOTING = "Booting worker with pid"


@pytest.fixture
def notify_socket():
    made = []

    def make(kind="path"):
        made.append(NotifySocket(kind))
        return made[-1]

    yield make
    for note in made:
        note.close()


def osenv(port, name):
    return json.loads(harness.get(port, "/osenv?name=" + name).body)[name]


def wait_booting(server, count, after=0):
    """Wait until the log (from offset after) says count workers are booting."""
    assert harness.wait_for(lambda: server.log()[after:].count(BOOTING) >= count, 30), \
        server.describe()


def gated(spawn, tmp_path, note, args, name=None, command=None):
    """A server of gateapp with the gate shut, on a socket this test holds:
    (server, port, gate)."""
    gate = tmp_path / ("%s-gate" % (name or "server"))
    env = dict(note.env, GATE=str(gate))
    server, port = spawn.tcp(args, app="gateapp:application", env=env, name=name,
                             command=command)
    return server, port, gate


@pytest.mark.parametrize("kind", ["path", "abstract"])
def test_ready_once_the_workers_loaded_the_app(spawn, tmp_path, notify_socket, kind):
    note = notify_socket(kind)
    server, port, gate = gated(spawn, tmp_path, note, ["-w", "2"])
    wait_booting(server, 2)
    # Both workers are importing the app and cannot finish: nothing is ready.
    assert note.receive(2.0) is None, note.messages
    gate.touch()
    ready = note.wait("READY")
    assert ready["READY"] == "1"
    assert ready["MAINPID"] == str(server.pid)
    assert re.fullmatch(r"greenhorn \S+: 2 sync workers, listening at http://127\.0\.0\.1:%d"
                        % port, ready["STATUS"]), ready
    assert harness.get(port, "/head").status == 200
    # The workers' environment has no NOTIFY_SOCKET: the app cannot notify.
    assert osenv(port, "NOTIFY_SOCKET") is None
    server.signal(signal.SIGTERM)
    assert server.wait_exit(30) == 0, server.describe()
    rest = note.pending()
    assert len(rest) == 1 and rest[0].get("STOPPING") == "1", note.messages


def test_preload_hides_notify_socket_from_the_app(spawn, notify_socket):
    # --preload starts Python in the master: the variable must be gone before.
    note = notify_socket()
    server, port = spawn.tcp(["-w", "1", "--preload"], env=note.env)
    ready = note.wait("READY")
    assert ready["MAINPID"] == str(server.pid), ready
    assert osenv(port, "NOTIFY_SOCKET") is None


def test_hup_reloading_then_ready_once_the_new_workers_loaded(spawn, tmp_path, notify_socket):
    note = notify_socket("abstract")
    server, port, gate = gated(spawn, tmp_path, note, ["-w", "2"])
    gate.touch()
    first = note.wait("READY")
    gate.unlink()  # the new workers will wait at the gate
    offset = len(server.log())
    before_us = time.monotonic_ns() // 1000
    server.signal(signal.SIGHUP)
    reloading = note.wait("RELOADING")
    assert reloading["RELOADING"] == "1", reloading
    # sd_notify(3): MONOTONIC_USEC is CLOCK_MONOTONIC, the clock this test reads too.
    assert int(reloading["MONOTONIC_USEC"]) >= before_us, reloading
    wait_booting(server, 2, offset)
    assert note.receive(2.0) is None, note.messages  # new workers not loaded yet
    gate.touch()
    again = note.wait("READY")
    assert again["MAINPID"] == first["MAINPID"] == str(server.pid)
    assert again["STATUS"] == first["STATUS"]
    assert harness.get(port, "/head").status == 200
    server.signal(signal.SIGQUIT)
    assert server.wait_exit(30) == 0, server.describe()
    assert [m.get("STOPPING") for m in note.pending()] == ["1"], note.messages


def test_int_says_stopping_gthread(spawn, notify_socket):
    note = notify_socket()
    server, port = spawn.tcp(["-w", "1", "--threads", "2"], env=note.env)
    ready = note.wait("READY")
    assert re.fullmatch(r"greenhorn \S+: 1 gthread worker, listening at http://127\.0\.0\.1:%d"
                        % port, ready["STATUS"]), ready
    server.signal(signal.SIGINT)
    assert server.wait_exit(30) == 0, server.describe()
    assert [m.get("STOPPING") for m in note.pending()] == ["1"], note.messages


@pytest.mark.parametrize("value, warned", [("relative/notify", True),
                                           ("/nonexistent-dir/notify", False)])
def test_an_unusable_notify_socket_does_not_stop_the_server(spawn, value, warned):
    # libsystemd accepts only an absolute path or an '@' name; a socket
    # nobody listens on is systemd's absence, which is no reason to stop.
    server, port = spawn.tcp(["-w", "1"], env={"NOTIFY_SOCKET": value})
    assert harness.get(port, "/head").status == 200
    assert osenv(port, "NOTIFY_SOCKET") is None
    lines = [line for line in server.log().splitlines() if "NOTIFY_SOCKET" in line]
    if warned:
        assert len(lines) == 1 and "[WARNING]" in lines[0] and value in lines[0], server.log()
    else:
        assert lines == [], server.log()
    server.signal(signal.SIGTERM)
    assert server.wait_exit(30) == 0, server.describe()


def told_systemd(spawn, tmp_path, note, name, command):
    """Start, HUP and TERM one server under a notify socket; the facts of
    what it told systemd, for harness.compare_facts."""
    server, port, gate = gated(spawn, tmp_path, note, ["-w", "2"], name=name, command=command)
    wait_booting(server, 2)
    early = note.receive(2.0)  # before any worker could load the app
    gate.touch()
    ready = early if early is not None and "READY" in early else note.wait("READY")
    facts = {
        "ready while no worker had loaded the app": early is not None and "READY" in early,
        "ready:MAINPID": ("the master's pid" if ready.get("MAINPID") == str(server.pid)
                          else ready.get("MAINPID", harness._MISSING)),
        "ready:STATUS": ready.get("STATUS", harness._MISSING),
    }
    socket_seen = osenv(port, "NOTIFY_SOCKET")
    facts["environ:NOTIFY_SOCKET"] = "the notify socket" if socket_seen == note.name \
        else socket_seen
    offset = len(server.log())
    server.signal(signal.SIGHUP)
    # Both masters fork the new workers after whatever they say about the HUP.
    wait_booting(server, 2, offset)
    # A worker TERMed before it set up its signal handlers would not stop
    # (Gunicorn's): let the new ones load the app first.
    new = re.findall(BOOTING + r": (\d+)", server.log()[offset:])
    assert harness.wait_for(lambda: all(os.path.exists("%s.loaded.%s" % (gate, pid))
                                        for pid in new), 30), server.describe()
    after_hup = note.pending()
    facts["hup: first datagram"] = ("RELOADING=%s" % after_hup[0]["RELOADING"]
                                    if after_hup and "RELOADING" in after_hup[0]
                                    else (after_hup[0] if after_hup else harness._MISSING))
    server.signal(signal.SIGTERM)
    facts["exit"] = server.wait_exit(30)
    after_hup += note.pending()
    last = after_hup[-1] if after_hup else None
    facts["term: last datagram"] = ("STOPPING=%s" % last["STOPPING"]
                                    if last and "STOPPING" in last
                                    else (last if last else harness._MISSING))
    return facts


def test_side_by_side_with_gunicorn(spawn, tmp_path, notify_socket):
    ours = told_systemd(spawn, tmp_path, notify_socket(), "greenhorn", None)
    ref = told_systemd(spawn, tmp_path, notify_socket(), "gunicorn", harness.GUNICORN)
    assert ref["exit"] == 0, ref
    harness.compare_facts("sd-notify", ours, ref)
