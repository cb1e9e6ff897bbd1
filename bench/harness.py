"""harness.py - what every benchmark script of bench/ shares.

Stage: benchmarks (bench/).  Gunicorn counterpart: none; Gunicorn ships no
benchmark harness.  The process handling mirrors the spirit of
gunicorn/arbiter.py's stop(): TERM first, then KILL whoever is left.

Owns: starting servers in their own process group and always stopping them
(TERM, then KILL), even when a script fails or is interrupted; picking free
loopback ports; waiting for the first 200; running wrk and reading its exact
percentiles; reading VmRSS, private memory and PSS from /proc; the machine
description; text tables.
Does not own: which servers or apps are measured (bench.py, workers.py), the
callgrind runs (callgrind.py), or any judgement on the numbers.

Every helper raises BenchError with a message a reader can act on; none of
them print, except `say`, which is the one place output goes.
"""

import atexit
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
APPS_DIR = os.path.join(BENCH_DIR, "apps")
FLASK_DIR = os.path.join(REPO_ROOT, "examples", "flask_hello")
RESULTS_DIR = os.path.join(BENCH_DIR, "results")
WRK_LUA = os.path.join(BENCH_DIR, "wrk_report.lua")
PYTHON = "/usr/bin/python3"

# The marker wrk_report.lua prints in front of its one JSON line.
WRK_MARKER = "BENCH_JSON "

# Every process started through spawn(), by pid, until stop() has reaped it.
_LIVE = {}
# Every port free_port() handed out, so two servers never share one.
_GIVEN_PORTS = set()


class BenchError(Exception):
    """A benchmark step failed; the message says which and why."""


def say(*parts):
    """Print one line and flush it, so progress shows through `make` and pipes."""
    print(*parts, flush=True)


def run_main(main, name):
    """Run a bench script's main(): a BenchError is one line and exit status
    1; Ctrl-C stops the servers (the atexit clean-up) with exit status 130."""
    try:
        main()
    except BenchError as err:
        say("%s: %s" % (name, err))
        sys.exit(1)
    except KeyboardInterrupt:
        say("%s: interrupted, stopping the servers" % name)
        sys.exit(130)


def greenhorn_path():
    """The greenhorn binary to measure: $GREENHORN, else ./greenhorn at the repo root."""
    return os.environ.get("GREENHORN") or os.path.join(REPO_ROOT, "greenhorn")


def greenhorn_interpreter():
    """Which Python runs the app: "python3" when greenhorn hands over to
    python3 with greenhorn.so (src/extras/pyhost.c), else "embedded"."""
    path = greenhorn_path()
    module = [path + ".so", os.path.join(os.path.dirname(path), "..", "lib", "greenhorn",
                                         "greenhorn.so")]
    if os.environ.get("GREENHORN_EMBED") or not any(os.path.exists(m) for m in module):
        return "embedded"
    return "python3"


def greenhorn_missing():
    """None when the greenhorn binary is there; else the reason to print for skipping it."""
    path = greenhorn_path()
    if os.access(path, os.X_OK):
        return None
    if "GREENHORN" in os.environ:
        return "%s is not an executable file" % path
    return "./greenhorn not built"


# What greenhorn's gthread rows, points and runs pass: the worker class, by
# the name Gunicorn gives it.  The thread count follows as --threads N.
GTHREAD_ARGS = ("-k", "gthread")
_GTHREAD_REFUSED = {}


def _greenhorn_name():
    path = greenhorn_path()
    if "GREENHORN" not in os.environ and path == os.path.join(REPO_ROOT, "greenhorn"):
        return "./greenhorn"
    return path


def gthread_refused(threads=4):
    """None when greenhorn accepts `-k gthread --threads N`; else the reason to print for skipping it.

    Asks the binary itself: `greenhorn -k gthread --threads N --check-config
    --chdir bench/apps hello:app` checks the settings, imports the app and
    exits 0, or prints a usage error and exits non-zero (a binary without
    the gthread worker refuses the worker class or the option).  The reason
    is the binary's own last line of complaint.  Asked once per thread
    count and process.
    """
    missing = greenhorn_missing()
    if missing:
        return missing
    if threads in _GTHREAD_REFUSED:
        return _GTHREAD_REFUSED[threads]
    argv = [greenhorn_path()] + list(GTHREAD_ARGS) + ["--threads", str(threads), "--check-config",
                                                      "--chdir", APPS_DIR, "hello:app"]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as err:
        reason = "%s -k gthread --check-config did not run: %s" % (_greenhorn_name(), err)
    else:
        if done.returncode == 0:
            reason = None
        else:
            said = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
            last = said[-1] if said else "no message"
            # "greenhorn: error: WHAT (see greenhorn --help)": WHAT is the reason.
            last = re.sub(r"^\S*greenhorn: (error: )?|\s*\(see \S*greenhorn --help\)$", "", last)
            reason = "%s refuses -k gthread --threads %d (exit %d: %s)" % (
                _greenhorn_name(), threads, done.returncode, last)
    _GTHREAD_REFUSED[threads] = reason
    return reason


def env_number(name, default, kind=int):
    """Read a positive number from the environment; `default` when unset.

    Raises BenchError naming the variable when the value is not a positive number.
    """
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise BenchError("%s=%r is not a number" % (name, raw)) from None
    if value <= 0:
        raise BenchError("%s=%r must be positive" % (name, raw))
    return value


# ---- processes ---------------------------------------------------------------


def _raise_exit(signum, _frame):
    # SystemExit unwinds through every try/finally, then atexit runs stop_all().
    raise SystemExit(128 + signum)


def install_cleanup():
    """Make sure every spawned process is stopped however this script ends.

    Normal exit and exceptions reach the atexit hook; TERM and HUP are turned
    into SystemExit so the finally blocks run first; Ctrl-C (INT) raises
    KeyboardInterrupt.  Call once, before the first spawn().
    """
    atexit.register(stop_all)
    # A shell starts background jobs with SIGINT ignored; INT should still stop us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGHUP, _raise_exit)


def make_tempdir(prefix):
    """A fresh private directory for logs and configs; removed at exit."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(_remove_tree, path)
    return path


def _remove_tree(path):
    # atexit runs hooks last-in first-out, so this one runs before the
    # stop_all() hook: stop the servers first, they may still write logs here.
    stop_all()
    shutil.rmtree(path, ignore_errors=True)


def spawn(argv, cwd, log_path, env_extra=None):
    """Start argv in its own session (so its workers share its process group).

    stdout and stderr go to log_path.  Returns the Popen; the process is
    registered and stop_all() will stop it if the caller does not.
    Raises BenchError when the program cannot be started at all.
    """
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # keep __pycache__ out of the tree
    env.update(env_extra or {})
    with open(log_path, "ab") as log:
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as err:
            raise BenchError("cannot start %s: %s" % (argv[0], err)) from None
    proc.log_path = log_path
    _LIVE[proc.pid] = proc
    return proc


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def stop(procs, grace=15.0):
    """Stop servers: TERM to each master (graceful), then KILL each group.

    Accepts one Popen or a list; all get TERM at once, so a dozen servers stop
    in the time of the slowest.  Whatever is left of a process group after
    `grace` seconds, including orphaned workers, gets KILL.  Never raises.
    """
    if not isinstance(procs, (list, tuple)):
        procs = [procs]
    for proc in procs:
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        # The master is gone; give its workers a moment, then KILL the rest.
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _group_alive(proc.pid):
            _signal_group(proc.pid, signal.SIGKILL)
        _LIVE.pop(proc.pid, None)


def stop_all():
    """Stop every process spawn() started and nobody stopped yet."""
    stop(list(_LIVE.values()), grace=5.0)


def log_tail(proc, lines=8):
    """The last lines of a spawned process's log, for error messages."""
    try:
        with open(proc.log_path, "r", errors="replace") as log:
            return "".join(log.readlines()[-lines:]).rstrip()
    except OSError:
        return "(no log)"


# ---- the network ---------------------------------------------------------------


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            low, high = (int(p) for p in ports.read().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return low, high


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on, never given out twice.

    Taken below the kernel's ephemeral range: ports from bind(port 0) come
    from that range, which wrk's many short connections also use, so a
    server could find its port held by a client socket a moment later.
    Raises BenchError if no port is free.
    """
    low = 20000
    high = min(_ephemeral_range()[0], 32768) - 1
    start = random.randint(low, high)
    for offset in range(high - low + 1):
        port = low + (start - low + offset) % (high - low + 1)
        if port in _GIVEN_PORTS:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN_PORTS.add(port)
        return port
    raise BenchError("no free TCP port between %d and %d" % (low, high))


def _listening_inodes(port):
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                next(rows)
                for row in rows:
                    fields = row.split()
                    # local address is HEXIP:HEXPORT; state 0A is LISTEN
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
        except OSError:
            continue
    return inodes


def owns_port(pid, port):
    """True if pid or one of its children holds the socket listening on port.

    A 200 on our port proves nothing by itself: if another program got the
    port first, our server fails to bind while the other one answers.
    """
    wanted = {"socket:[%s]" % inode for inode in _listening_inodes(port)}
    for owner in [pid] + children(pid):
        fd_dir = "/proc/%d/fd" % owner
        try:
            for fd in os.listdir(fd_dir):
                if os.readlink(os.path.join(fd_dir, fd)) in wanted:
                    return True
        except OSError:
            continue
    return False


def http_status(port, path="/", timeout=10.0):
    """One tiny GET with Connection: close; the status code, or None if refused.

    Any other socket failure (reset, timeout, garbage) also gives None: the
    caller is polling and simply tries again.
    """
    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path).encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(request)
            head = b""
            while b"\r\n" not in head and len(head) < 4096:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
    except OSError:
        return None
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return None
    return int(parts[1])


def closes_after_answer(port, path="/", patience=2.0):
    """Does the server close the connection after answering `Connection: close`?

    RFC 9112 section 9.6: a server that receives "close" must close the
    connection after its response.  A server that keeps it open lets wrk
    reuse the connection, so its "close" row would measure keep-alive.
    Sends one GET with Connection: close and waits up to `patience` seconds
    after the answer for the end of the stream.  Returns True (closed),
    False (still open), or None (no answer at all).
    """
    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path).encode()
    received = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=patience) as sock:
            sock.sendall(request)
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return received.startswith(b"HTTP/") or None
                received += chunk
    except socket.timeout:
        return False if received.startswith(b"HTTP/") else None
    except OSError:
        return None


def wait_first_200(proc, port, started, timeout=60.0, path="/", check_owner=True):
    """Poll every 5 ms until the server answers 200; seconds since `started`.

    `started` is the time.monotonic() taken just before spawn().  With
    check_owner, the answer must come from proc's own listening socket.
    Raises BenchError with the server's last log lines if it exits or never
    answers, or when another program holds the port.
    """
    deadline = started + timeout
    while True:
        status = http_status(port, path, timeout=max(0.1, deadline - time.monotonic()))
        if status == 200:
            took = time.monotonic() - started
            if check_owner and not owns_port(proc.pid, port):
                raise BenchError("port %d answered, but another program holds it" % port)
            return took
        if proc.poll() is not None:
            raise BenchError("exited with status %s before answering:\n%s" % (proc.returncode, log_tail(proc)))
        if time.monotonic() > deadline:
            raise BenchError("no 200 within %.0f s (last status %s):\n%s" % (timeout, status, log_tail(proc)))
        time.sleep(0.005)


def drain(proc, port, timeout=60.0, path="/"):
    """Wait until the server has worked through what an ended wrk run left queued.

    When wrk stops, the requests on connections still in the listen backlog
    are not cancelled: a sync worker accepts and serves each of them for a
    client that is gone.  One more request queues behind them; its answer
    means the backlog is empty and the next run starts on an idle server.
    `path` is a URL of the app that answers 200 to a GET.
    """
    started = time.monotonic()
    wait_first_200(proc, port, started, timeout=timeout, path=path, check_owner=False)


# ---- wrk -------------------------------------------------------------------------


class NewClientProbe(threading.Thread):
    """A client that arrives during a wrk run: one request on a new connection every 100 ms.

    wrk's numbers describe its own connections.  The probe asks what a
    visitor arriving in the middle of the load sees: a server that gives
    each sync worker one keep-alive connection to hold serves wrk's lucky
    connections quickly and makes everybody else wait until they close.
    """

    def __init__(self, port, path, patience):
        super().__init__(daemon=True)
        self.port, self.path, self.patience = port, path, patience
        self.waits = []
        self.failed = 0
        self.done = threading.Event()

    def run(self):
        """Thread body: probe until finish() is called."""
        while not self.done.is_set():
            began = time.monotonic()
            status = http_status(self.port, self.path, timeout=self.patience)
            if status == 200:
                self.waits.append(time.monotonic() - began)
            else:
                self.failed += 1
            self.done.wait(0.1)

    def finish(self):
        """Stop after the request in flight; (worst wait in ms, requests, failures)."""
        self.done.set()
        self.join(self.patience + 5)
        worst = max(self.waits) * 1000 if self.waits else None
        return worst, len(self.waits), self.failed


def run_wrk(port, seconds, connections, close, path="/", threads=1, timeout_s=5, probe=False,
            post_bytes=None):
    """One wrk run against 127.0.0.1:port; the numbers wrk_report.lua printed.

    close=True adds `Connection: close`, so every request opens a connection.
    post_bytes=N sends every request as a POST with an N-byte body.
    Returns a dict: requests, rps, p50_ms, p90_ms, p99_ms, max_ms, the
    error counts connect/read/write/timeout/status (status = 4xx and 5xx
    answers, wrk's "Non-2xx or 3xx"), and active_conns: by Little's law,
    req/s x mean latency, how many connections were being served on average.
    wrk_cpu_s is the CPU time (user + system) wrk itself used, read from
    /proc/PID/stat once it has exited and before it is reaped;
    wall_s the time from its start to its end, and wrk_cpu_share their
    ratio, the share of one core wrk used: near 1.0 per wrk thread, wrk was
    the bottleneck and req/s is a floor for the server, not its limit.
    With probe=True, a NewClientProbe runs alongside and adds probe_max_ms
    (None if no probe request was answered), probe_requests, probe_failed.
    Raises BenchError if wrk fails.
    """
    argv = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds,
            "--timeout", "%ds" % timeout_s, "--latency", "-s", WRK_LUA]
    if close:
        argv += ["-H", "Connection: close"]
    argv.append("http://127.0.0.1:%d%s" % (port, path))
    env = dict(os.environ)
    env.pop("WRK_POST_BYTES", None)
    if post_bytes:
        env["WRK_POST_BYTES"] = str(post_bytes)
    watcher = NewClientProbe(port, path, patience=seconds + 10.0) if probe else None
    began = time.monotonic()
    try:
        wrk = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    except OSError as err:
        raise BenchError("cannot run wrk: %s" % err) from None
    used = None
    try:
        if watcher:
            time.sleep(0.2)  # let wrk open its connections first
            watcher.start()
        # wrk prints a few hundred bytes, well below a pipe's buffer, so it
        # can exit before anybody reads its output.  Wait for that without
        # reaping it: its /proc entry then still holds its CPU times.
        deadline = began + seconds + 60
        while _exited_unreaped(wrk.pid) is False:
            if time.monotonic() > deadline:
                raise BenchError("wrk did not finish within %d s" % (seconds + 60))
            time.sleep(0.005)
        ended = time.monotonic()
        used = process_cpu_seconds(wrk.pid)
        out, err = wrk.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        raise BenchError("wrk did not finish within %d s" % (seconds + 60)) from None
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait()
        found = watcher.finish() if watcher and watcher.is_alive() else None
    for line in out.splitlines():
        if line.startswith(WRK_MARKER):
            numbers = _wrk_numbers(json.loads(line[len(WRK_MARKER):]))
            numbers["wrk_cpu_s"] = used
            numbers["wall_s"] = ended - began
            numbers["wrk_cpu_share"] = used / max(1e-3, ended - began)
            if found:
                numbers["probe_max_ms"], numbers["probe_requests"], numbers["probe_failed"] = found
            return numbers
    raise BenchError("wrk exited %d without a report:\n%s%s" % (wrk.returncode, out, err))


def _exited_unreaped(pid):
    """True once child pid has exited (left as a zombie, not reaped); False while it runs.

    None when it is gone already (someone reaped it).
    """
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None
    except ChildProcessError:
        return None


def _wrk_numbers(raw):
    seconds = raw["duration_us"] / 1e6
    out = {
        "requests": raw["requests"],
        "rps": raw["requests"] / seconds if seconds > 0 else 0.0,
    }
    for key in ("p50", "p90", "p99", "max"):
        out[key + "_ms"] = raw[key + "_us"] / 1000.0
    for key in ("connect", "read", "write", "timeout", "status"):
        out[key] = raw[key]
    out["active_conns"] = out["rps"] * raw["mean_us"] / 1e6
    return out


ERROR_KINDS = ("connect", "read", "write", "timeout", "status")


def error_total(numbers):
    """All errors of a wrk result (or of a row's summed errors)."""
    return sum(numbers[k] for k in ERROR_KINDS)


def median(values):
    """The median of a non-empty list of numbers."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2.0


# ---- /proc -----------------------------------------------------------------------


def rss_kib(pid):
    """VmRSS of a process in KiB, or None if it is gone."""
    try:
        with open("/proc/%d/status" % pid) as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def smaps_kib(pid):
    """A process's memory by how it is shared, in KiB: {"private", "pss"}, or None if gone.

    VmRSS also counts the pages a process shares with others: the program's
    and the libraries' code, and what a forked worker still shares with its
    master.  Those are paid once, however many workers there are.
    "private" (Private_Clean + Private_Dirty) is what only this process
    holds: what one more worker adds.  "pss" shares each page out among the
    processes that map it, so the PSS of all of a server's processes adds
    up to the memory the server occupies.  From /proc/PID/smaps_rollup
    (Linux 4.14 and later).
    """
    out = {"private": 0, "pss": 0}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as rollup:
            for line in rollup:
                name, _, rest = line.partition(":")
                if name in ("Private_Clean", "Private_Dirty"):
                    out["private"] += int(rest.split()[0])
                elif name == "Pss":
                    out["pss"] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return out


def children(pid):
    """The pids whose parent is pid (the master's workers), sorted."""
    found = []
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as kids:
            found = [int(p) for p in kids.read().split()]
    except OSError:
        found = _children_by_scan(pid)
    return sorted(found)


def _children_by_scan(pid):
    # Kernels without CONFIG_PROC_CHILDREN: read every /proc/N/stat's ppid.
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(name))
    return found


def _stat_fields(pid):
    # The fields after "(comm)", which may itself hold spaces and parentheses.
    with open("/proc/%d/stat" % pid) as stat:
        return stat.read().rsplit(")", 1)[1].split()


def cpu_seconds(pid):
    """User + system CPU seconds a process (all its threads) has used, or 0.0 if gone."""
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid):
    """cpu_seconds plus what the children it waited for used (cutime, cstime).

    For a program that has exited but is not reaped yet, /proc still holds
    its final times: this is how run_wrk reads wrk's own CPU.
    """
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds():
    """CPU seconds the whole machine has been busy so far, all cores together (/proc/stat).

    Busy is all but idle and iowait: user, nice, system, irq, softirq, and
    steal (time a virtual machine was ready to run but the host ran another
    guest).  Minus what the server and wrk used over a run, it is what
    everything else took: other programs, the host, and interrupt work
    charged to no process.
    """
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(proc):
    """CPU seconds used so far by a server: its master plus the workers alive now."""
    return cpu_seconds(proc.pid) + sum(cpu_seconds(pid) for pid in children(proc.pid))


def memory_of(proc):
    """RSS of a server after a run: {"master_kib", "workers_kib": [...]}."""
    workers = [rss_kib(pid) for pid in children(proc.pid)]
    return {
        "master_kib": rss_kib(proc.pid),
        "workers_kib": [kib for kib in workers if kib is not None],
    }


# ---- the machine -----------------------------------------------------------------


def _first_line(argv):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def busy_warning():
    """A warning line when other programs already load the CPU, else None.

    Every number of bench/ assumes the machine is otherwise idle: on 2 cores,
    one busy compiler halves what a server can do.
    """
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    if load < 0.5:
        return None
    return ("warning: load average %.2f on %d cores before starting: other programs are using "
            "the CPU, so these numbers will be low and noisy" % (load, cores))


def machine():
    """What the numbers were measured on: cores, CPU, kernel, tool versions, load."""
    return {
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "wrk": _first_line(["wrk", "--version"]),
    }


def write_json(path, data):
    """Write data as indented JSON through a .tmp file, so readers never see half a file."""
    tmp = path + ".tmp"
    with open(tmp, "w") as out:
        json.dump(data, out, indent=2, sort_keys=False)
        out.write("\n")
    os.replace(tmp, path)


def table(headers, rows):
    """Rows of strings as an aligned text table (numbers right-aligned)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = []
        for cell, width in zip(row, widths):
            numeric = cell[:1].isdigit() or cell[:1] == "-" and cell[1:2].isdigit()
            cells.append(cell.rjust(width) if numeric else cell.ljust(width))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def nginx_argv(port, tmp):
    """nginx's `return 200` server (bench/nginx.conf.in, 2 worker processes, no
    access log) on port, with its prefix in a new folder under tmp: its argv."""
    prefix = os.path.join(tmp, "nginx-%d" % port)
    os.makedirs(prefix)
    with open(os.path.join(BENCH_DIR, "nginx.conf.in")) as src:
        conf = src.read().replace("@PREFIX@", prefix).replace("@PORT@", str(port))
    with open(os.path.join(prefix, "nginx.conf"), "w") as dst:
        dst.write(conf)
    return ["nginx", "-p", prefix, "-c", os.path.join(prefix, "nginx.conf"), "-e", "stderr"]
