"""make memcheck: greenhorn under valgrind.

1. Every unit-test binary given on the command line runs under
   valgrind --leak-check=full (CK_FORK=no, so each test runs in the
   process valgrind watches).
2. greenhorn itself (master and one worker, --trace-children=yes) serves
   1,000 requests of a mixed raw-WSGI workload, then stops on TERM.
3. The same with the gthread worker (-k gthread --threads 4), 400 requests
   sent by 4 clients at once, so that the pool threads run side by side.
4. The gthread worker under valgrind --tool=helgrind (data races, lock
   order), 200 requests from 4 clients at once, each on a connection of
   its own; then 200 more on 4 keep-alive connections, where a pool thread
   arms a kept connection in epoll again and the loop takes it back.  Helgrind's default
   suppressions stay on: they hide races it reports inside glibc's own
   mutex and condition variable code (helgrind-glibc2X-005), which it
   cannot see through.  tests/helgrind-python.supp hides two things of
   CPython's GIL, each explained there: its relaxed atomics (7 race reports
   in one run, all with their top frame in libpython) and glibc's own
   signal inside a timed wait of the GIL's condition variable (6 reports).

Pass: no valgrind errors, and 0 bytes "definitely lost" in any stack
that passes through greenhorn's own code (src/).  CPython keeps some
allocations for the life of the process by design; those are listed in
tests/valgrind-python.supp, each with the reason.

Run with Debian's python: /usr/bin/python3 tests/memcheck.py build/tests/test_*
"""
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUPP = os.path.join(ROOT, "tests", "valgrind-python.supp")
VALGRIND = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite",
            "--errors-for-leak-kinds=none", "--num-callers=30",
            "--suppressions=" + SUPP]


def our_file_names():
    """Every C file of ours, by the name valgrind prints in a stack frame:
    the core, the extras and the unit tests, listed from the tree so that a
    new file is never missed."""
    names = []
    for folder in ("src", os.path.join("src", "extras"), os.path.join("tests", "unit")):
        names += [n[:-2] for n in os.listdir(os.path.join(ROOT, folder)) if n.endswith(".c")]
    return names


OUR_FILES = re.compile(r"\((%s)\.c:\d+\)" % "|".join(sorted(map(re.escape, our_file_names()))))


def definitely_lost_in_our_code(log_text):
    """The 'definitely lost' records whose stack passes through greenhorn's code."""
    blocks = re.split(r"\n==\d+== \n", log_text)
    return [b.strip() for b in blocks if "definitely lost in loss record" in b
            and OUR_FILES.search(b)]


def check_log(path, what):
    text = open(path, encoding="utf-8", errors="replace").read()
    errors = [int(m) for m in re.findall(r"ERROR SUMMARY: (\d+) errors", text)]
    ours = definitely_lost_in_our_code(text)
    lost = re.findall(r"definitely lost: ([\d,]+) bytes", text)
    print(f"  {what}: valgrind errors {sum(errors)}, definitely lost (all stacks) "
          f"{'/'.join(lost) or '0'} bytes, in greenhorn's code: {len(ours)} records")
    for b in ours[:5]:
        print(b)
    return sum(errors) == 0 and not ours


def run_unit(binary, logdir):
    log = os.path.join(logdir, os.path.basename(binary) + ".vg")
    env = dict(os.environ, CK_FORK="no", PYTHONMALLOC="malloc")
    r = subprocess.run(VALGRIND + ["--error-exitcode=99", "--log-file=" + log, binary],
                       env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=600)
    ok = check_log(log, os.path.basename(binary))
    if r.returncode not in (0,):
        print(r.stdout.decode(errors="replace")[-2000:])
        print(f"  {binary} exited {r.returncode}")
        ok = False
    return ok


def listening_socket():
    """A socket on a port the kernel picks, already listening: (socket, port).
    The server gets it as -b fd://N, so no other process can take the port
    between our choice and its bind."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    return s, s.getsockname()[1]


def request(port, raw):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(raw)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


HELGRIND = ["valgrind", "--tool=helgrind", "--num-callers=30",
            "--suppressions=" + os.path.join(ROOT, "tests", "helgrind-python.supp")]


def keep_alive_client(port, first, count, clients, tally):
    """Requests first, first + clients, ... below count on one HTTP/1.1
    connection, kept open by the server (http.client opens a new one if
    it closes: the /error answer may)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    kinds = [("GET", "/hello?x=1", None), ("POST", "/echo", b"x" * 3000), ("GET", "/gen", None),
             ("GET", "/error", None), ("GET", "/file", None)]
    try:
        for i in range(first, count, clients):
            method, path, body = kinds[i % len(kinds)]
            conn.request(method, path, body=body)
            reply = conn.getresponse()
            reply.read()
            tally(str(reply.status))
    finally:
        conn.close()


def run_server(logdir, label="server", tool=None, extra=(), count=1000, clients=1, keep_alive=False):
    """greenhorn under valgrind (tool: VALGRIND, or HELGRIND) serving count
    requests from `clients` client threads at once, each request on its own
    connection, or with keep_alive each client's on one; True when clean."""
    binary = os.environ.get("GREENHORN", os.path.join(ROOT, "greenhorn"))
    sock, port = listening_socket()
    log = os.path.join(logdir, label + ".vg.%p")
    env = dict(os.environ, PYTHONMALLOC="malloc")
    cmd = (tool or VALGRIND) + ["--trace-children=yes", "--log-file=" + log, binary, "-w", "1",
                                "-b", f"fd://{sock.fileno()}", "--timeout", "120",
                                "--chdir", os.path.join(ROOT, "tests", "apps")] + list(extra) + [
                                    "memapp:app"]
    with sock:  # the server has its own copy once started
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                pass_fds=(sock.fileno(),))
    try:
        deadline = time.time() + 120
        while True:
            try:
                request(port, b"GET / HTTP/1.0\r\n\r\n")
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    print(proc.stderr.read().decode(errors="replace")[-3000:])
                    return False
                time.sleep(0.5)
        body = b"x" * 3000
        kinds = [
            b"GET /hello?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: memcheck\r\n\r\n",
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3000\r\n\r\n" + body,
            b"POST /lines HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nab\ncd\r\n3\r\nef\n\r\n0\r\n\r\n",
            b"GET /gen HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /error HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /file HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /bad\x01 HTTP/1.1\r\n\r\n",
            b"HEAD /hello HTTP/1.0\r\n\r\n",
        ]
        # Each request ends its connection (HTTP/1.0, or Connection: close),
        # so that a keep-alive worker answers and closes as the sync one does.
        kinds = [k if b" HTTP/1.0" in k.split(b"\r\n")[0] or b"\x01" in k
                 else k.replace(b"\r\n", b"\r\nConnection: close\r\n", 1) for k in kinds]
        statuses = {}
        lock = threading.Lock()

        def tally(status):
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

        def client(first):
            for i in range(first, count, clients):
                reply = request(port, kinds[i % len(kinds)])
                tally(reply[9:12].decode(errors="replace"))

        def kept_client(first):
            keep_alive_client(port, first, count, clients, tally)

        threads = [threading.Thread(target=kept_client if keep_alive else client, args=(n,))
                   for n in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"  {count:,} requests served: statuses {sorted(statuses.items())}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    ok = proc.returncode == 0
    if not ok:
        print(f"  greenhorn exited {proc.returncode}")
    prefix = label + ".vg."
    for name in sorted(os.listdir(logdir)):
        if name.startswith(prefix):
            ok = check_log(os.path.join(logdir, name), "greenhorn pid " + name[len(prefix):]) and ok
    return ok


def main():
    logdir = tempfile.mkdtemp(prefix="greenhorn-memcheck-")
    ok = True
    print("memcheck: unit tests under valgrind")
    for binary in sys.argv[1:]:
        ok = run_unit(binary, logdir) and ok
    print("memcheck: greenhorn serving 1,000 requests under valgrind")
    ok = run_server(logdir) and ok
    gthread = ["-k", "gthread", "--threads", "4"]
    print("memcheck: the gthread worker serving 400 requests from 4 clients under valgrind")
    ok = run_server(logdir, "gthread", extra=gthread, count=400, clients=4) and ok
    print("memcheck: the gthread worker serving 200 requests from 4 clients under helgrind")
    ok = run_server(logdir, "helgrind", tool=HELGRIND, extra=gthread, count=200, clients=4) and ok
    print("memcheck: the gthread worker serving 200 requests on 4 keep-alive connections under helgrind")
    ok = run_server(logdir, "helgrind-kept", tool=HELGRIND, extra=gthread, count=200, clients=4,
                    keep_alive=True) and ok
    print("memcheck: " + ("PASS" if ok else f"FAIL (logs in {logdir})"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
