"""sdnotify - the listening side of sd_notify(3), as systemd holds it, for the tests.

systemd gives a Type=notify service $NOTIFY_SOCKET, an AF_UNIX datagram
socket it reads; the service sends "KEY=VALUE" lines there, one datagram
per state change ("READY=1\\nSTATUS=...", "RELOADING=1", "STOPPING=1").
NotifySocket binds such a socket under a file path or, for a name starting
with '@', in Linux's abstract namespace (the '@' stands for a NUL byte, as
systemd spells it), and collects what arrives.  Datagrams queue in the
kernel until read, so once the sender has exited, `pending()` has all it
sent.
"""

import os
import secrets
import shutil
import socket
import tempfile
import time


def parse(data):
    """One datagram as a dict: {"READY": "1", "STATUS": "..."} (lines in order)."""
    fields = {}
    for line in data.decode("utf-8", "replace").split("\n"):
        key, sep, value = line.partition("=")
        if sep:
            fields[key] = value
    return fields


class NotifySocket:
    """A test-held notify socket; kind is "path" or "abstract"."""

    def __init__(self, kind="path"):
        self.dir = None
        if kind == "abstract":
            self.name = "@greenhorn-test-%d-%s" % (os.getpid(), secrets.token_hex(6))
            address = "\0" + self.name[1:]
        else:
            # sun_path holds 108 bytes: a short directory of our own, not pytest's.
            self.dir = tempfile.mkdtemp(prefix="sdn")
            self.name = address = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind(address)
        self.messages = []  # every datagram received so far, parsed, in order

    @property
    def env(self):
        return {"NOTIFY_SOCKET": self.name}

    def receive(self, timeout):
        """The next datagram (parsed) within timeout seconds, or None."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, BlockingIOError):
            return None
        message = parse(data)
        self.messages.append(message)
        return message

    def wait(self, key, timeout=30.0):
        """Read until a datagram holding key arrives; that datagram.  Fails
        with every datagram seen if none does within timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.receive(deadline - time.monotonic())
            if message is not None and key in message:
                return message
            if message is None:
                raise AssertionError("no %s= within %.0f s; received: %r"
                                     % (key, timeout, self.messages))

    def pending(self):
        """Every datagram already queued, without waiting."""
        out = []
        while True:
            self.sock.setblocking(False)
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return out
            out.append(parse(data))
            self.messages.append(out[-1])

    def close(self):
        self.sock.close()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
