"""slow_clients.py - `make bench-slow`: can slow clients starve a server?

Stage: benchmarks (bench/).  Gunicorn counterpart: none.  Gunicorn's docs
warn that its sync worker must sit behind a buffering proxy because slow
clients tie up its workers, and since Gunicorn 24 its gthread worker hands
a connection to a thread right after accept(), so slow clients fill the
pool (Gunicorn issue #3518).  This tool measures that, on loopback only.

Two kinds of clients at once, in one asyncio loop (standard library only):

- SLOW clients (--slow, default 500) each open a connection and send one
  byte of a request head every --interval seconds (default 2): a
  slowloris.  The head never ends.  When the server closes such a
  connection, the client counts it and opens another, so the pressure
  stays the same for the whole run.
- NORMAL clients (--normal, default 50) each keep one keep-alive
  connection and send `GET PATH` on it in a loop, the next request as soon
  as the answer is in, for --seconds (default 20).  A connection the
  server closes (`Connection: close`, as a sync worker answers) is opened
  again for the next request, and that connect counts in the request's
  latency.  A request fails on a connect error, a reset, an answer that is
  not 200, or no whole answer within --timeout seconds (default 5).  A
  request that finds its reused keep-alive connection closed before any
  byte of an answer is tried again once on a new connection, as HTTP
  clients do.  After a failure that took less than 0.1 s, the client waits
  the rest of 0.1 s, so a server that refuses connections is not hammered.

The slow connections are all opened first (up to --interval seconds),
then the normal clients run.  Requests still in flight when --seconds is
over get up to --timeout more to finish; then every connection is closed.

Reported: the normal clients' success rate (answered / started), req/s
(answered / --seconds), p50, p99 and the slowest latency of the answered
requests, the failures by kind, and how many slow connections were open
at the start, how many the server closed, and after how long (median).
Pass mark: success >= 99% and p99 < 100 ms.

Two ways to run it:

  /usr/bin/python3 bench/slow_clients.py 127.0.0.1:8000 [--slow N --normal N --seconds S --json FILE]
      against a server that is already running (loopback addresses only);
  /usr/bin/python3 bench/slow_clients.py          (make bench-slow)
      starts each server in turn on a free loopback port (greenhorn's sync
      worker, -w 2; Gunicorn gthread, -w 2 --threads 4; greenhorn gthread,
      -w 2 --threads 4, skipped with the binary's reason while it refuses
      -k gthread), all serving bench/apps/hello.py, and nginx's `return 200`
      (bench/nginx.conf.in) as the reference: it shows what this client
      measures when the server is not the problem.  Each server is started,
      tested and stopped in turn; one line each, and
      bench/results/slow-clients.json.

The soft limit on open files is raised to the hard limit first (the
servers started here inherit it).  Exit status: 0 when the runs happened
(the pass mark never fails the command), 1 when the test could not run, 2
for a bad command line.
"""

import argparse
import asyncio
import ipaddress
import json
import os
import resource
import shutil
import socket
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

PASS_SUCCESS = 0.99
PASS_P99_MS = 100.0
# Bounds on what one run may ask for: it is a test, not a flood.
MOST_SLOW, MOST_NORMAL, MOST_SECONDS = 5000, 500, 300
FAILURE_KINDS = ("connect", "timeout", "reset", "status", "error")
FAILURE_PAUSE = 0.1  # the least time a failed request takes before the client tries again
SLOW_HEAD = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow-client\r\nX-Slow: "
# The servers of `make bench-slow`: name, how it runs, whether it is greenhorn's gthread worker.
WORKERS, THREADS = 2, 4
SUITE = (
    ("greenhorn-sync", "greenhorn -w %d (sync worker)" % WORKERS),
    ("gunicorn-gthread", "gunicorn -k gthread -w %d --threads %d" % (WORKERS, THREADS)),
    ("greenhorn-gthread", "greenhorn -k gthread -w %d --threads %d" % (WORKERS, THREADS)),
    ("nginx", "nginx return 200, %d workers: the reference, an event loop in C" % WORKERS),
)


class UsageError(Exception):
    """A bad command line: the message says what is wrong."""


class ProtocolError(Exception):
    """The server's answer was not HTTP/1.x as this client reads it."""


class ClosedEarly(Exception):
    """The connection ended before any byte of an answer."""


# ---- accounting ----------------------------------------------------------------


class Stats:
    """What every client of one run saw."""

    def __init__(self):
        self.latencies = []  # seconds, answered requests only
        self.failed = {kind: 0 for kind in FAILURE_KINDS}
        self.retried = 0  # reused connection found closed, request sent again
        self.normal_connects = 0
        self.slow_opened = 0
        self.slow_connect_failed = 0
        self.slow_closed = 0  # by the server: end of stream, reset, or a failed send
        self.slow_answered = 0  # the server sent something (408, 400) on a slow connection
        self.slow_held = []  # seconds from connect to the server's close
        self.slow_open = 0  # open right now


def percentile(values, share):
    """The nearest-rank percentile of a list of numbers (share 0.99 = p99); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(round(share * len(ordered) * 1000)) // 1000))  # ceil(share x n), float-safe
    return ordered[min(rank, len(ordered)) - 1]


def passes(success_rate, p99_ms):
    """The pass mark: success rate >= 99% and p99 under 100 ms (no answered request: fail)."""
    return success_rate >= PASS_SUCCESS and p99_ms is not None and p99_ms < PASS_P99_MS


def summary(stats, settings, ramp):
    """One run's numbers as a dict (what the JSON holds and result_line prints)."""
    failed = sum(stats.failed.values())
    answered = len(stats.latencies)
    started = answered + failed
    rate = answered / started if started else 0.0
    ms = [s * 1000.0 for s in stats.latencies]
    p99 = percentile(ms, 0.99)
    held = percentile(stats.slow_held, 0.5)
    return {
        "slow": settings["slow"], "normal": settings["normal"], "seconds": settings["seconds"],
        "interval_s": settings["interval"], "timeout_s": settings["timeout"], "path": settings["path"],
        "requests": started, "answered": answered, "failed": failed, "failures": dict(stats.failed),
        "retried": stats.retried, "normal_connects": stats.normal_connects,
        "success_rate": rate, "req_s": answered / settings["seconds"],
        "p50_ms": percentile(ms, 0.50), "p99_ms": p99, "max_ms": max(ms) if ms else None,
        "slow_open_at_start": ramp["open"], "ramp_s": ramp["seconds"],
        "slow_opened": stats.slow_opened, "slow_connect_failed": stats.slow_connect_failed,
        "slow_closed_by_server": stats.slow_closed, "slow_answered": stats.slow_answered,
        "slow_held_median_s": held, "slow_open_at_end": stats.slow_open,
        "pass": passes(rate, p99),
    }


def _num(value, fmt):
    return "-" if value is None else fmt % value


def result_line(name, res):
    """One line: PASS/FAIL, the normal clients' numbers, what became of the slow connections."""
    fails = ", ".join("%s %d" % (k, v) for k, v in res["failures"].items() if v)
    line = "%s  %-17s normal: %5.1f%% of %d answered (%.0f req/s), p50 %s ms, p99 %s ms%s" % (
        "PASS" if res["pass"] else "FAIL", name, 100.0 * res["success_rate"], res["requests"], res["req_s"],
        _num(res["p50_ms"], "%.1f"), _num(res["p99_ms"], "%.1f"), "; failed: " + fails if fails else "")
    line += "; slow: %d of %d open at the start, %d closed by the server" % (
        res["slow_open_at_start"], res["slow"], res["slow_closed_by_server"])
    if res["slow_held_median_s"] is not None:
        line += " (after %.1f s, median)" % res["slow_held_median_s"]
    return line


# ---- the clients ------------------------------------------------------------------


def _timeout(seconds):
    """An async context manager that raises TimeoutError after `seconds` (Python 3.11's asyncio.timeout)."""
    return asyncio.timeout(seconds)


async def _connect(loop, host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await loop.sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def slow_client(loop, host, port, interval, stats, opened):
    """Keep one slowloris connection open: one head byte every `interval` s, a new connection when closed.

    `opened` is set once the first connection is up (or failed).  Runs until cancelled.
    """
    first = True
    while True:
        try:
            async with _timeout(max(interval, 1.0)):
                sock = await _connect(loop, host, port)
        except (OSError, TimeoutError):
            stats.slow_connect_failed += 1
            if first:
                opened.set()
                first = False
            await asyncio.sleep(interval)
            continue
        stats.slow_opened += 1
        stats.slow_open += 1
        if first:
            opened.set()
            first = False
        began = time.monotonic()
        sent = 0
        try:
            while True:
                byte = SLOW_HEAD[sent:sent + 1] or b"a"
                await loop.sock_sendall(sock, byte)
                sent += 1
                deadline = time.monotonic() + interval
                while True:  # wait out the interval, watching for the server's close
                    try:
                        async with _timeout(max(0.0, deadline - time.monotonic())):
                            data = await loop.sock_recv(sock, 4096)
                    except TimeoutError:
                        break
                    if not data:
                        raise ClosedEarly()
                    stats.slow_answered += 1
        except (ClosedEarly, OSError):
            stats.slow_closed += 1
            stats.slow_held.append(time.monotonic() - began)
        finally:
            stats.slow_open -= 1
            sock.close()


async def _recv_more(loop, sock, buf):
    data = await loop.sock_recv(sock, 65536)
    if not data:
        raise ClosedEarly() if not buf else ProtocolError("connection closed mid-answer")
    buf += data


async def read_answer(loop, sock, buf):
    """Read one HTTP/1.x answer from sock (buf holds bytes already read); (status, keep-alive).

    Reads the body by Content-Length, chunked, or to the end of the stream.
    Leaves any bytes past the answer in buf.  Raises ClosedEarly when the
    stream ends before the first byte, ProtocolError on anything else odd.
    """
    while True:
        while b"\r\n\r\n" not in buf:
            if len(buf) > 65536:
                raise ProtocolError("answer head over 64 KiB")
            await _recv_more(loop, sock, buf)
        end = buf.index(b"\r\n\r\n")
        lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
        del buf[:end + 4]
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError("not an HTTP/1.x status line: %r" % lines[0][:80])
        status = int(parts[1])
        if 100 <= status < 200:
            continue  # an interim answer; the real one follows
        break
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields.setdefault(name.strip().lower(), []).append(value.strip())
    tokens = {t.strip().lower() for v in fields.get("connection", []) for t in v.split(",")}
    keep = "keep-alive" in tokens if parts[0] == "HTTP/1.0" else "close" not in tokens
    if "chunked" in ",".join(fields.get("transfer-encoding", [])).lower():
        await _read_chunked(loop, sock, buf)
    elif "content-length" in fields:
        length = int(fields["content-length"][0])
        while len(buf) < length:
            await _recv_more(loop, sock, buf)
        del buf[:length]
    elif status in (204, 304):
        pass
    else:  # the body runs to the end of the stream
        while True:
            data = await loop.sock_recv(sock, 65536)
            if not data:
                break
        buf.clear()
        keep = False
    return status, keep


async def _read_chunked(loop, sock, buf):
    while True:
        while b"\r\n" not in buf:
            await _recv_more(loop, sock, buf)
        end = buf.index(b"\r\n")
        size = int(bytes(buf[:end]).split(b";")[0].strip() or b"0", 16)
        del buf[:end + 2]
        if size == 0:
            while True:  # trailer fields, then an empty line
                while b"\r\n" not in buf:
                    await _recv_more(loop, sock, buf)
                end = buf.index(b"\r\n")
                del buf[:end + 2]
                if end == 0:
                    return
        while len(buf) < size + 2:
            await _recv_more(loop, sock, buf)
        del buf[:size + 2]


def _failure_kind(err):
    if isinstance(err, TimeoutError):
        return "timeout"
    if isinstance(err, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, ClosedEarly)):
        return "reset"
    return "error"


async def normal_client(loop, host, port, request, timeout, stats, end):
    """GET in a loop on a keep-alive connection until `end` (monotonic); counts into stats."""
    sock, buf = None, bytearray()
    try:
        while time.monotonic() < end:
            # Let the other clients run first: when the answer is already in
            # when it reads, a coroutine never waits, and one client would
            # otherwise go round its loop while the others' answers sit unread.
            await asyncio.sleep(0)
            began = time.monotonic()
            kind = None
            try:
                async with _timeout(timeout):
                    for attempt in (1, 2):
                        reused = sock is not None
                        if sock is None:
                            try:
                                sock = await _connect(loop, host, port)
                            except OSError:
                                kind = "connect"
                                raise
                            stats.normal_connects += 1
                            buf.clear()
                        try:
                            await loop.sock_sendall(sock, request)
                            status, keep = await read_answer(loop, sock, buf)
                            break
                        except (ClosedEarly, BrokenPipeError, ConnectionResetError):
                            # A reused connection the server had already closed: once more, on a new one.
                            sock.close()
                            sock = None
                            if not reused or attempt == 2:
                                raise
                            stats.retried += 1
            except (OSError, TimeoutError, ProtocolError, ClosedEarly, ValueError) as err:
                stats.failed[kind or _failure_kind(err)] += 1
                if sock is not None:
                    sock.close()
                    sock = None
                pause = FAILURE_PAUSE - (time.monotonic() - began)
                if pause > 0:
                    await asyncio.sleep(pause)
                continue
            if status == 200:
                stats.latencies.append(time.monotonic() - began)
            else:
                stats.failed["status"] += 1
            if not keep:
                sock.close()
                sock = None
    finally:
        if sock is not None:
            sock.close()


async def run_load(host, port, slow=500, normal=50, seconds=20.0, interval=2.0, timeout=5.0, path="/",
                   progress=None):
    """The whole test against host:port; the summary dict (see summary())."""
    loop = asyncio.get_running_loop()
    stats = Stats()
    settings = {"slow": slow, "normal": normal, "seconds": seconds, "interval": interval, "timeout": timeout,
                "path": path}
    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: normal-client\r\n\r\n" % path).encode()
    ramp_began = time.monotonic()
    flags = [asyncio.Event() for _ in range(slow)]
    slow_tasks = [loop.create_task(slow_client(loop, host, port, interval, stats, flag)) for flag in flags]
    try:
        if flags:
            try:
                async with _timeout(interval):
                    await asyncio.gather(*(flag.wait() for flag in flags))
            except TimeoutError:
                pass
        ramp = {"open": stats.slow_open, "seconds": time.monotonic() - ramp_began}
        if progress:
            progress("%d of %d slow connections open after %.1f s; %d normal clients for %g s"
                     % (ramp["open"], slow, ramp["seconds"], normal, seconds))
        end = time.monotonic() + seconds
        await asyncio.gather(*(normal_client(loop, host, port, request, timeout, stats, end)
                               for _ in range(normal)))
    finally:
        for task in slow_tasks:
            task.cancel()
        await asyncio.gather(*slow_tasks, return_exceptions=True)
    return summary(stats, settings, ramp)


# ---- limits and addresses ------------------------------------------------------------


def raise_fd_limit(needed):
    """Raise the soft limit on open files to the hard one; UsageError when that is still below `needed`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise UsageError("%d connections need about %d open files; the limit is %d (ulimit -Hn)"
                         % (needed - 64, needed, soft))
    return soft


def parse_address(text):
    """'PORT', 'HOST:PORT' or '[V6]:PORT' -> (host, port); loopback addresses only."""
    host, port = "127.0.0.1", text
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
    elif ":" in text:
        host, _, port = text.rpartition(":")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
        port = int(port)
    except ValueError:
        raise UsageError("%r is not HOST:PORT with a numeric address" % text) from None
    if not address.is_loopback:
        raise UsageError("%s is not a loopback address: this tool only loads 127.0.0.1 or ::1" % host)
    if not 0 < port < 65536:
        raise UsageError("port %d out of range" % port)
    return str(address), port


def parse_args(argv):
    """The command line; raises UsageError (exit status 2) on a value out of bounds."""
    parser = argparse.ArgumentParser(prog="slow_clients.py", description=(
        "slow clients (one head byte every --interval s) against normal keep-alive clients; "
        "without ADDRESS, make bench-slow's three servers"))
    parser.add_argument("address", nargs="?", help="HOST:PORT of a running server (loopback only)")
    parser.add_argument("--slow", type=int, default=500, help="slow connections (default 500)")
    parser.add_argument("--normal", type=int, default=50, help="normal keep-alive clients (default 50)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the normal clients run (default 20)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between two slow bytes (default 2)")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="a request with no whole answer after this many seconds fails (default 5)")
    parser.add_argument("--path", default="/", help="the normal clients' path (default /)")
    parser.add_argument("--json", metavar="FILE", help="also write the result here (with ADDRESS)")
    parser.add_argument("--servers", metavar="NAME[,NAME]",
                        help="without ADDRESS: only these (%s)" % ", ".join(name for name, _ in SUITE))
    args = parser.parse_args(argv)
    if not 0 <= args.slow <= MOST_SLOW:
        raise UsageError("--slow must be 0 to %d" % MOST_SLOW)
    if not 1 <= args.normal <= MOST_NORMAL:
        raise UsageError("--normal must be 1 to %d" % MOST_NORMAL)
    if not 0 < args.seconds <= MOST_SECONDS:
        raise UsageError("--seconds must be above 0 and at most %d" % MOST_SECONDS)
    if not 0.05 <= args.interval <= 60 or not 0.05 <= args.timeout <= 60:
        raise UsageError("--interval and --timeout must be 0.05 to 60 seconds")
    if not args.path.startswith("/") or any(c in args.path for c in " \r\n"):
        raise UsageError("--path must start with / and hold no spaces")
    names = [name for name, _ in SUITE]
    if args.servers:
        args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
        unknown = [s for s in args.servers if s not in names]
        if unknown:
            raise UsageError("unknown server %s (known: %s)" % (", ".join(unknown), ", ".join(names)))
    else:
        args.servers = names
    return args


def _say(*parts):
    print(*parts, flush=True)


# ---- make bench-slow: the three servers ------------------------------------------------


def suite_plan(names, h, tmp):
    """[(name, argv_of(port), skip reason or None)] for the servers asked for.

    h is bench/harness.py; tmp a directory for nginx's prefix.  greenhorn's
    rows need the binary; its gthread row also needs the binary to accept
    -k gthread (harness.gthread_refused).  Gunicorn needs to be importable
    by /usr/bin/python3; nginx to be installed.
    """
    def greenhorn(extra):
        return lambda port: [h.greenhorn_path(), "-w", str(WORKERS), "-b", "127.0.0.1:%d" % port,
                             "--chdir", h.APPS_DIR] + extra + ["hello:app"]

    def gunicorn(port):
        return [h.PYTHON, "-m", "gunicorn", "-k", "gthread", "--threads", str(THREADS), "-w", str(WORKERS),
                "-b", "127.0.0.1:%d" % port, "--chdir", h.APPS_DIR, "hello:app"]

    def nginx(port):
        return h.nginx_argv(port, tmp)

    plan = []
    for name in names:
        if name == "greenhorn-sync":
            plan.append((name, greenhorn([]), h.greenhorn_missing()))
        elif name == "greenhorn-gthread":
            plan.append((name, greenhorn(list(h.GTHREAD_ARGS) + ["--threads", str(THREADS)]),
                         h.gthread_refused(THREADS)))
        elif name == "nginx":
            plan.append((name, nginx, None if shutil.which("nginx") else "nginx not installed"))
        else:
            import subprocess  # pylint: disable=import-outside-toplevel

            found = subprocess.run([h.PYTHON, "-c", "import gunicorn"], capture_output=True).returncode == 0
            plan.append((name, gunicorn, None if found else "gunicorn not importable by %s" % h.PYTHON))
    return plan


def run_suite(args):
    """Each server in turn: start it, run the test, stop it; print a line each; write the JSON."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import harness as h  # pylint: disable=import-outside-toplevel

    h.install_cleanup()
    began = time.monotonic()
    warning = h.busy_warning()
    if warning:
        h.say(warning)
    tmp = h.make_tempdir("greenhorn-slow-")
    kinds = dict(SUITE)
    h.say("bench-slow: %d slow connections (a head byte every %g s) and %d normal keep-alive clients for %g s,"
          " hello app; pass: >= %.0f%% answered, p99 < %.0f ms"
          % (args.slow, args.interval, args.normal, args.seconds, 100 * PASS_SUCCESS, PASS_P99_MS))
    results = []
    for name, argv_of, reason in suite_plan(args.servers, h, tmp):
        if reason:
            h.say("skip %s: %s" % (name, reason))
            results.append({"server": name, "how": kinds[name], "skipped": reason})
            continue
        port = h.free_port()
        started = time.monotonic()
        proc = h.spawn(argv_of(port), cwd=h.APPS_DIR, log_path=os.path.join(tmp, "%s.log" % name))
        try:
            h.wait_first_200(proc, port, started)
            res = asyncio.run(run_load("127.0.0.1", port, args.slow, args.normal, args.seconds, args.interval,
                                       args.timeout, args.path, progress=lambda text: h.say("  %s: %s" % (name, text))))
            if proc.poll() is not None:
                raise h.BenchError("%s died during the run:\n%s" % (name, h.log_tail(proc)))
        finally:
            h.stop(proc, grace=5.0)
        res.update({"server": name, "how": kinds[name]})
        results.append(res)
        h.say(result_line(name, res))
    os.makedirs(h.RESULTS_DIR, exist_ok=True)
    h.write_json(os.path.join(h.RESULTS_DIR, "slow-clients.json"), {
        "timestamp": time.strftime("%Y%m%d-%H%M%S"), "machine": h.machine(),
        "pass_mark": {"success_rate": PASS_SUCCESS, "p99_ms_below": PASS_P99_MS},
        "app": "bench/apps/hello.py (hello:app)", "results": results,
        "took_s": round(time.monotonic() - began)})
    h.say("wrote bench/results/slow-clients.json; bench-slow took %.0f s" % (time.monotonic() - began))


def main(argv=None):
    """Entry point; returns the exit status."""
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        target = parse_address(args.address) if args.address else None
        raise_fd_limit(args.slow + args.normal + 64)
    except UsageError as err:
        _say("slow_clients.py: %s" % err)
        return 2
    if target is None:
        try:
            run_suite(args)
        except KeyboardInterrupt:
            _say("bench-slow: interrupted, stopping the servers")
            return 130
        except Exception as err:  # pylint: disable=broad-except
            if type(err).__name__ != "BenchError":
                raise
            _say("bench-slow: %s" % err)
            return 1
        return 0
    host, port = target
    res = asyncio.run(run_load(host, port, args.slow, args.normal, args.seconds, args.interval, args.timeout,
                               args.path, progress=lambda text: _say("  " + text)))
    res["server"] = "%s:%d" % (host, port)
    _say(result_line(res["server"], res))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(res, out, indent=2)
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
