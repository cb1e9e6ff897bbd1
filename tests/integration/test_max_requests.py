"""--max-requests and --max-requests-jitter: worker recycling that loses no request.

Gunicorn's contract (docs/content/settings.md, "max_requests"): a worker
restarts after handling that many requests, plus a random 0..jitter of its
own, so workers started together do not restart together.  Only requests
that reach the app count.  greenhorn's promise on top: while a worker
restarts, new connections wait in the listen backlog and are all answered.
"""

import collections
import os
import re
import threading

import harness

PID_APP = '''
import os

def application(environ, start_response):
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''

AUTORESTART = "Autorestarting worker after current request."


def pid_server(spawn, tmp_path, args):
    folder = str(tmp_path)
    with open(os.path.join(folder, "pidapp.py"), "w") as f:
        f.write(PID_APP)
    return spawn.tcp(list(args) + ["--chdir", folder], app="pidapp:application", cwd=folder)


def served_by(port):
    reply = harness.get(port, "/")
    assert reply.status == 200, reply.raw[:200]
    return int(reply.body)


def test_worker_restarts_after_max_requests(spawn, tmp_path):
    server, port = pid_server(spawn, tmp_path, ["-w", "1", "--max-requests", "3"])
    pids = [served_by(port) for _ in range(10)]
    # Three requests per worker, each worker a new process, none refused.
    runs = [pids[i:i + 3] for i in range(0, 10, 3)]
    assert all(len(set(run)) == 1 for run in runs), pids
    assert len({run[0] for run in runs}) == 4, pids
    assert server.wait_log(re.escape(AUTORESTART)), server.describe()
    assert server.log().count(AUTORESTART) == 3, server.describe()


def test_refused_requests_do_not_count(spawn, tmp_path):
    _server, port = pid_server(spawn, tmp_path, ["-w", "1", "--max-requests", "3"])
    first = served_by(port)
    for _ in range(5):
        reply = harness.request(port, b"GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n")
        assert reply.status == 400, reply.raw[:200]
    assert [served_by(port) for _ in range(2)] == [first, first]
    assert served_by(port) != first


def test_jitter_keeps_each_quota_in_range_under_load(spawn, tmp_path):
    """-w 2 --max-requests 5 --max-requests-jitter 5, 6 clients x 20 requests:
    every request answered; every worker that retired served 5 to 10."""
    server, port = pid_server(spawn, tmp_path,
                              ["-w", "2", "--max-requests", "5", "--max-requests-jitter", "5"])
    results, errors = [], []

    def client():
        for _ in range(20):
            try:
                results.append(served_by(port))
            except (OSError, AssertionError) as exc:
                errors.append(repr(exc))

    threads = [threading.Thread(target=client) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 120, (errors[:3], len(results), server.describe())
    counts = collections.Counter(results)
    alive = set(harness.worker_pids(server))
    retired = {pid: n for pid, n in counts.items() if pid not in alive}
    assert len(retired) >= 120 // 10 - 2, counts
    assert all(5 <= n <= 10 for n in retired.values()), counts
    # Jitter is drawn per worker: ten or more quotas all equal would mean
    # none was drawn (odds (1/6)^9 if they were).
    assert len(set(retired.values())) > 1, counts
    assert all(n <= 10 for n in counts.values()), counts
