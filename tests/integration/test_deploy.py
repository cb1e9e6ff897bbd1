"""examples/deploy/: each file run by the real program it is written for.

Every test takes a shipped file, replaces its machine paths (and ports and
user names) with ones under a folder of its own, through a small table of
exact strings that must each occur in the file, so that the file under test
stays the file shipped, and then runs the real nginx, supervisord, runsv or
logrotate on it:

    nginx.conf        nginx on a free loopback port in front of greenhorn on
                      the unix socket: forwarded headers and Host reach the
                      app, static files never do, an unknown Host gets 444,
                      a 20 MiB upload and a streamed answer arrive intact,
                      and two HUPs under wrk's load cost no request
    supervisor.conf   supervisord starts greenhorn, starts it again after a
                      kill -9 of its master, and `supervisorctl stop` lets a
                      request in hand finish
    runit/run         runsv starts greenhorn, `sv hup` reloads it, and
                      `sv down` lets a request in hand finish
    logrotate         two `logrotate -f` runs while requests go on: every
                      request's access-log line is there exactly once

As root (CI), greenhorn's master runs as root and its workers as nobody in
group www-data, and nginx's workers as www-data: the socket's group is what
lets nginx in, as in a real deployment.  Otherwise every name is this user.
"""

import grp
import gzip
import hashlib
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

import harness
from harness import alive, read_pid

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples", "deploy")
DEPLOYAPP = os.path.join(HERE, "apps", "deployapp.py")
HOST = "example.com"  # a server_name of nginx.conf
WAIT = 30.0  # every bounded wait: generous, for a busy machine


# ---------------------------------------------------------------- the site


class Site:
    """A folder of its own standing in for the machine's paths: the app in
    srv/app, the socket and pid file in run/greenhorn, the logs in
    log/greenhorn.  Open to other users (pytest's tmp_path is root's alone),
    since greenhorn's workers and nginx's run as other users under root."""

    def __init__(self, root, greenhorn):
        self.root = root
        self.app = os.path.join(root, "srv", "app")
        self.run = os.path.join(root, "run", "greenhorn")
        self.logs = os.path.join(root, "log", "greenhorn")
        self.marks = os.path.join(root, "marks")  # the app notes a request's start here
        self.sock = os.path.join(self.run, "greenhorn.sock")
        self.pidfile = os.path.join(self.run, "greenhorn.pid")
        self.access_log = os.path.join(self.logs, "access.log")
        self.error_log = os.path.join(self.logs, "error.log")
        root_user = os.geteuid() == 0
        me = pwd.getpwuid(os.geteuid()).pw_name
        # Who is who: the master's owner, greenhorn's workers (user "app" in
        # the files), and the group nginx runs in (www-data).
        self.owner = "root" if root_user else me
        self.app_user = "nobody" if root_user else me
        self.group = "www-data" if root_user else grp.getgrgid(os.getegid()).gr_name
        # The substitutions every file may need; each file names the ones it uses.
        self.table = {
            "/usr/local/bin/greenhorn": greenhorn,
            "/srv/app": self.app,
            "/run/greenhorn": self.run,
            "/var/log/greenhorn": self.logs,
            "--user app": "--user " + self.app_user,
            "--group www-data": "--group " + self.group,
            "-o root -g www-data": "-o %s -g %s" % (self.owner, self.group),
            "create 0640 app www-data": "create 0640 %s %s" % (self.app_user, self.group),
        }

    def install(self, name, dest, keys, extra=None):
        """examples/deploy/NAME with the table's entries for keys (and extra)
        replaced, written to dest; its text.  Every replaced string must be
        in the shipped file: a file changed without this table fails here."""
        with open(os.path.join(EXAMPLES, name)) as f:
            text = f.read()
        pairs = [(key, self.table[key]) for key in keys] + list((extra or {}).items())
        for old, new in pairs:
            assert old in text, "examples/deploy/%s no longer says %r" % (name, old)
            text = text.replace(old, new)
        with open(dest, "w") as f:
            f.write(text)
        os.chmod(dest, os.stat(os.path.join(EXAMPLES, name)).st_mode & 0o777)
        return text

    def greenhorn_argv(self):
        """greenhorn's command line as supervisor.conf has it (runit/run has the same)."""
        text = self.install("supervisor.conf", os.path.join(self.root, "command.conf"), COMMAND)
        line = next(line for line in text.splitlines() if line.startswith("command="))
        return shlex.split(line[len("command="):])

    def error_log_text(self):
        with open(self.error_log, errors="replace") as f:
            return f.read()


# The entries of Site.table the greenhorn command line uses.
COMMAND = ("/usr/local/bin/greenhorn", "/srv/app", "/run/greenhorn", "/var/log/greenhorn",
           "--user app", "--group www-data")


@pytest.fixture
def site(greenhorn):
    root = tempfile.mkdtemp(prefix="greenhorn-deploy-")
    os.chmod(root, 0o755)
    s = Site(root, greenhorn)
    for folder in (os.path.join(s.app, "public"), s.run, s.logs, s.marks):
        os.makedirs(folder)
        os.chmod(folder, 0o755)
    os.chmod(s.marks, 0o777)
    # /run/greenhorn as supervisor.conf's tmpfiles line and runit/run make it.
    os.chmod(s.run, 0o750)
    shutil.chown(s.run, s.owner, s.group)
    shutil.copy(DEPLOYAPP, os.path.join(s.app, "app.py"))
    with open(os.path.join(s.app, "public", "robots.txt"), "w") as f:
        f.write("User-agent: *\nDisallow: /private/\n")
    for path in (os.path.join(s.app, "app.py"), os.path.join(s.app, "public", "robots.txt")):
        os.chmod(path, 0o644)
    yield s
    shutil.rmtree(root, ignore_errors=True)


def start_greenhorn(spawn, site):
    """greenhorn as the service managers start it, on the unix socket."""
    argv = site.greenhorn_argv()
    return spawn.server(argv[1:], command=argv[:1], cwd=site.app, addr=site.sock, name="greenhorn")


def http(addr, target, method="GET", host=HOST, body=b"", headers=()):
    """One request with Connection: close (nginx would keep the connection
    open otherwise) through harness.request, which reads until the close."""
    lines = ["%s %s HTTP/1.1" % (method, target), "Host: " + host, "Connection: close"]
    lines += ["%s: %s" % h for h in headers]
    if body or method == "POST":
        lines.append("Content-Length: %d" % len(body))
    return harness.request(addr, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), body)


class SlowRequest(threading.Thread):
    """GET /slow (2 s in the app) in a thread; started() returns once the
    app has it, so a stop that follows cannot find it still in the backlog."""

    def __init__(self, site, seconds=2):
        super().__init__(daemon=True)
        self.site, self.seconds, self.reply, self.error = site, seconds, None, None
        self.mark = os.path.join(site.marks, "slow-%d" % id(self))

    def run(self):
        try:
            self.reply = http(self.site.sock, "/slow?s=%s&mark=%s" % (self.seconds, self.mark))
        except OSError as e:
            self.error = e

    def started(self):
        self.start()
        assert harness.wait_for(lambda: os.path.exists(self.mark), WAIT), "/slow never ran"
        return self

    def result(self):
        self.join(WAIT)
        assert self.error is None and self.reply is not None, self.error
        return self.reply


def kill_group_of(pid):
    """Teardown for a master started by a service manager (it has a process
    group of its own): nothing of it may outlive the test."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# ---------------------------------------------------------------- nginx


NGINX_MAIN = """# What Debian's nginx.conf gives the site, kept to the test's prefix.
daemon off;
master_process on;
worker_processes 1;
%(user)s
pid %(prefix)s/nginx.pid;
error_log %(prefix)s/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %(prefix)s/client_body;
    proxy_temp_path %(prefix)s/proxy;
    fastcgi_temp_path %(prefix)s/fastcgi;
    uwsgi_temp_path %(prefix)s/uwsgi;
    scgi_temp_path %(prefix)s/scgi;
    include %(prefix)s/greenhorn-site.conf;
}
"""


def start_nginx(spawn, site):
    """nginx with nginx.conf as its one site, on a free loopback port; (server,
    port).  nginx binds the port itself, so a port taken in between means
    another try on another port."""
    for attempt in range(harness.PORT_ATTEMPTS):
        port = harness.free_ports(1)[0]
        prefix = os.path.join(site.root, "nginx-%d" % port)
        os.makedirs(prefix)
        os.chmod(prefix, 0o755)
        site.install("nginx.conf", os.path.join(prefix, "greenhorn-site.conf"),
                     ("/srv/app", "/run/greenhorn"),
                     {"listen 80": "listen 127.0.0.1:%d" % port})
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_MAIN % {"prefix": prefix,
                                  "user": "user www-data;" if os.geteuid() == 0 else ""})
        nginx = spawn.server(["-p", prefix, "-c", conf, "-e", "stderr"], command=["nginx"],
                             addr=port, name="nginx-%d" % port, wait=False)
        pidfile = os.path.join(prefix, "nginx.pid")
        # nginx writes its pid file once every listen socket is bound.
        harness.wait_for(lambda: os.path.exists(pidfile) or not nginx.alive(), WAIT)
        if os.path.exists(pidfile):
            return nginx, port
        nginx.stop()
        log = nginx.log()
        if not harness.IN_USE.search(log) or attempt == harness.PORT_ATTEMPTS - 1:
            raise AssertionError("nginx did not start\n" + nginx.describe())
    raise AssertionError("unreachable")


def test_nginx_in_front(spawn, site):
    greenhorn = start_greenhorn(spawn, site)
    nginx, port = start_nginx(spawn, site)
    addr = ("127.0.0.1", port)

    # --umask 007: the socket is its owner's and its group's (nginx's) alone.
    st = os.stat(site.sock)
    assert st.st_mode & 0o777 == 0o770, oct(st.st_mode)
    assert grp.getgrgid(st.st_gid).gr_name == site.group

    # X-Forwarded-For gets the client's address appended; the client's own
    # X-Forwarded-Proto is replaced by nginx's $scheme; Host is the client's.
    reply = http(addr, "/environ", host=HOST + ":%d" % port,
                 headers=[("X-Forwarded-For", "192.0.2.7"), ("X-Forwarded-Proto", "https")])
    assert reply.status == 200, reply.raw[:500]
    seen = reply.json()
    assert seen["HTTP_X_FORWARDED_FOR"] == "192.0.2.7, 127.0.0.1", seen
    assert seen["HTTP_X_FORWARDED_PROTO"] == "http", seen
    assert seen["wsgi.url_scheme"] == "http", seen
    assert seen["HTTP_HOST"] == "%s:%d" % (HOST, port), seen
    # A unix socket client has no address: REMOTE_ADDR is empty, as in
    # Gunicorn; the client's is the last X-Forwarded-For entry.
    assert seen["REMOTE_ADDR"] == "", seen
    # What nginx says on the socket is trusted: behind TLS ($scheme https),
    # the app's URLs say https.
    reply = http(site.sock, "/environ", headers=[("X-Forwarded-Proto", "https")])
    assert reply.json()["wsgi.url_scheme"] == "https", reply.raw[:500]

    # A static file: nginx answers from the root, the app never sees it.
    reply = http(addr, "/robots.txt")
    assert reply.status == 200 and reply.body.startswith(b"User-agent: *"), reply.raw[:300]
    assert reply.header("Content-Type") == "text/plain", reply.headers

    # An unknown Host: the connection closes without a byte (444).
    assert http(addr, "/", host="attacker.example").raw == b""
    assert http(addr, "/", host=HOST).body == b"ok"  # the same request with the site's Host

    # A 20 MiB upload reaches the app whole.
    body = os.urandom(20 << 20)
    reply = http(addr, "/upload", method="POST", body=body,
                 headers=[("Content-Type", "application/octet-stream")])
    assert reply.status == 200, reply.raw[:500]
    assert reply.json() == {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}

    # A streamed answer (no Content-Length; 300 pieces of 10,000 bytes).
    reply = http(addr, "/stream?chunks=300&size=10000")
    expected = b"".join(bytes([ord("a") + i % 26]) * 10000 for i in range(300))
    assert reply.status == 200 and reply.complete, reply.raw[:300]
    assert len(reply.body) == len(expected) and reply.body == expected

    # The static file and the 444 never reached greenhorn.
    assert harness.wait_for(lambda: "/stream" in open(site.access_log).read(), WAIT)
    logged = open(site.access_log).read()
    assert "robots.txt" not in logged and logged.count("GET / ") == 1, logged

    # Two reloads under load through nginx: no request may fail.
    # wrk's --timeout is long: a slow answer on a busy machine is no error.
    wrk = subprocess.Popen(["wrk", "-t1", "-c10", "-d6s", "--timeout", "30s",
                            "-H", "Host: " + HOST, "http://127.0.0.1:%d/hello" % port],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(2):
            time.sleep(2)
            greenhorn.signal(signal.SIGHUP)
        out, _ = wrk.communicate(timeout=WAIT)
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait()
    assert wrk.returncode == 0, out
    done = re.search(r"(\d+) requests in", out)
    assert done and int(done.group(1)) > 0, out
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    print("through nginx, two HUPs under wrk: %s requests, all 2xx" % done.group(1))
    assert site.error_log_text().count("Hang up: Master") == 2, site.error_log_text()
    assert greenhorn.alive() and nginx.alive()


# ---------------------------------------------------------------- supervisord


SUPERVISORD_MAIN = """; supervisord of the test's own, with its control socket in the test's folder.
[unix_http_server]
file=%(root)s/supervisor.sock

[supervisord]
logfile=%(root)s/supervisord.log
pidfile=%(root)s/supervisord.pid
childlogdir=%(root)s
nodaemon=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%(root)s/supervisor.sock

[include]
files = %(root)s/greenhorn.conf
"""


def test_supervisor(spawn, site):
    site.install("supervisor.conf", os.path.join(site.root, "greenhorn.conf"), COMMAND)
    conf = os.path.join(site.root, "supervisord.conf")
    with open(conf, "w") as f:
        f.write(SUPERVISORD_MAIN % {"root": site.root})

    def ctl(*args):
        return subprocess.run(["supervisorctl", "-c", conf] + list(args), capture_output=True,
                              text=True, timeout=WAIT + 10)

    def ctl_pid():
        """The pid supervisord knows for greenhorn; 0 while it has none."""
        out = ctl("pid", "greenhorn").stdout.strip()
        return int(out) if out.isdigit() else 0

    masters = []
    supervisord = spawn.server(["-n", "-c", conf], command=["supervisord"], cwd=site.root,
                               addr=site.sock, name="supervisord", wait=False)
    try:
        supervisord.wait_ready(WAIT)
        first = harness.wait_for_value(lambda: read_pid(site.pidfile), bool, WAIT)
        masters.append(first)
        assert ctl_pid() == first
        assert http(site.sock, "/").body == b"ok"
        workers = harness.child_pids(first)
        assert len(workers) == 3, workers

        # kill -9 of the master: its workers see that their parent is gone and
        # leave (until then the socket is theirs, and a new master's start
        # fails); supervisord starts the master again.
        os.kill(first, signal.SIGKILL)
        killed = time.monotonic()
        assert harness.wait_for(lambda: not any(alive(w) for w in workers), WAIT), workers
        orphans_for = time.monotonic() - killed
        second = harness.wait_for_value(
            ctl_pid, lambda pid: pid not in (0, first) and read_pid(site.pidfile) == pid, WAIT)
        masters.append(second)
        assert second != first and read_pid(site.pidfile) == second, (first, second)
        assert harness.wait_for(lambda: len(harness.child_pids(second)) == 3, WAIT), second
        assert http(site.sock, "/").body == b"ok"
        print("orphaned workers left %.2f s after kill -9 of their master" % orphans_for)

        # supervisorctl stop (TERM): the request in hand finishes, and the
        # master is gone after its workers, its pid file with it.
        workers = harness.child_pids(second)
        slow = SlowRequest(site).started()
        stopped = ctl("stop", "greenhorn")
        assert "stopped" in stopped.stdout, stopped
        reply = slow.result()
        assert reply.status == 200 and reply.body == b"slow done", reply.raw[:300]
        assert not any(alive(pid) for pid in [second] + workers)
        assert not os.path.exists(site.pidfile)
        assert "STOPPED" in ctl("status", "greenhorn").stdout
    finally:
        supervisord.stop()
        for pid in masters:
            kill_group_of(pid)


# ---------------------------------------------------------------- runit


def test_runit(spawn, site):
    service = os.path.join(site.root, "sv", "greenhorn")
    os.makedirs(service)
    site.install("runit/run", os.path.join(service, "run"),
                 COMMAND + ("-o root -g www-data",))

    def sv(*args):
        return subprocess.run(["sv"] + list(args) + [service], capture_output=True, text=True,
                              timeout=WAIT + 10)

    os.rmdir(site.run)  # as after a boot: the run script makes it

    runsv = spawn.server([service], command=["runsv"], cwd=site.root, addr=site.sock,
                         name="runsv", wait=False)
    master = 0
    try:
        runsv.wait_ready(WAIT)
        master = harness.wait_for_value(lambda: read_pid(site.pidfile), bool, WAIT)
        assert "run: " in sv("status").stdout and ("(pid %d)" % master) in sv("status").stdout
        st = os.stat(site.run)
        assert st.st_mode & 0o777 == 0o750 and grp.getgrgid(st.st_gid).gr_name == site.group
        assert http(site.sock, "/").body == b"ok"

        # sv hup: a reload; the master stays, its workers are new.
        workers = harness.child_pids(master)
        assert sv("hup").returncode == 0
        renewed = harness.wait_for_value(
            lambda: harness.child_pids(master),
            lambda now: len(now) == 3 and not set(now) & set(workers), WAIT)
        assert len(renewed) == 3 and not set(renewed) & set(workers), (workers, renewed)
        assert http(site.sock, "/").body == b"ok"

        # sv down (TERM, then CONT): the request in hand finishes.
        workers = harness.child_pids(master)
        slow = SlowRequest(site).started()
        down = sv("-w", "30", "down")
        assert down.returncode == 0 and down.stdout.startswith("ok: down"), down
        reply = slow.result()
        assert reply.status == 200 and reply.body == b"slow done", reply.raw[:300]
        assert not any(alive(pid) for pid in [master] + workers)
        assert sv("exit").returncode == 0
        assert runsv.wait_exit(WAIT) == 0, runsv.describe()
    finally:
        runsv.stop()
        if master:
            kill_group_of(master)


# ---------------------------------------------------------------- logrotate


def logged_paths(site):
    """Every /n/<i> in the access log and its rotated (and compressed) copies."""
    found = []
    for name in sorted(os.listdir(site.logs)):
        if not name.startswith("access.log"):
            continue
        path = os.path.join(site.logs, name)
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", errors="replace") as f:
            found.append((name, [int(n) for n in re.findall(r'"GET /n/(\d+) HTTP', f.read())]))
    return found


def test_logrotate(spawn, site):
    start_greenhorn(spawn, site)
    conf = os.path.join(site.root, "logrotate.conf")
    site.install("logrotate", conf, ("/var/log/greenhorn", "/run/greenhorn",
                                     "create 0640 app www-data"))
    state = os.path.join(site.root, "logrotate.state")
    total, rotate_at = 2000, (600, 1300)
    progress = {"sent": 0, "failed": []}
    reached = [threading.Event() for _ in rotate_at]

    def load():
        for i in range(total):
            try:
                reply = http(site.sock, "/n/%d" % i)
                if reply.status != 200:
                    progress["failed"].append((i, reply.status))
            except OSError as e:
                progress["failed"].append((i, str(e)))
            progress["sent"] = i + 1
            for at, event in zip(rotate_at, reached):
                if i + 1 == at:
                    event.set()

    client = threading.Thread(target=load, daemon=True)
    client.start()
    for event in reached:
        assert event.wait(WAIT), progress["sent"]
        rotated = subprocess.run(["logrotate", "-f", "-s", state, conf], capture_output=True,
                                 text=True, timeout=WAIT)
        assert rotated.returncode == 0, rotated.stderr
    client.join(WAIT * 2)
    assert not client.is_alive() and progress["failed"] == [], progress

    # Each line is written after its answer: wait until all are there.
    harness.wait_for(lambda: sum(len(n) for _, n in logged_paths(site)) >= total, WAIT)
    files = dict(logged_paths(site))
    everything = sorted(n for numbers in files.values() for n in numbers)
    assert everything == list(range(total)), "lost: %s, twice: %s" % (
        sorted(set(range(total)) - set(everything))[:20],
        sorted({n for n in everything if everything.count(n) > 1})[:20])
    # Two rotations, each file with its share: the newest rotation stays
    # uncompressed (delaycompress), the older one is compressed.
    assert set(files) == {"access.log", "access.log.1", "access.log.2.gz"}, sorted(files)
    assert all(files[name] for name in files), {k: len(v) for k, v in files.items()}
    assert os.path.exists(os.path.join(site.logs, "error.log.1"))
