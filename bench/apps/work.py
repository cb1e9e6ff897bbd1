"""The apps of the worker-count study (`make bench-workers`), and make bench's io50.

Serve them as `work:cpu`, `work:io`, `work:mixed` and `work:io50` with bench/apps as the
working directory:

- cpu:   ~2 ms of pure Python work per request; it holds the GIL, so one worker
         can use at most one core.
- io:    time.sleep(0.020), standing in for a database or HTTP call; the
         worker is blocked but the CPU is free.
- mixed: ~1 ms of CPU, then a 10 ms sleep.
- io50:  time.sleep(0.050): the I/O-bound app of `make bench`'s gthread rows,
         where threads, not workers, are what lets a server wait for many
         requests at once.

The amount of CPU work is a loop count, BENCH_CPU_LOOPS_PER_MS (loops of
`burn` per millisecond).  The harness measures it once on this machine and
passes the same number to every server it starts, so every point of the
study does exactly the same work; without it, a rough default is used.
"""

import os
import time

LOOPS_PER_MS = int(os.environ.get("BENCH_CPU_LOOPS_PER_MS", "27000"))
BODY = b"done"
HEADERS = [
    ("Content-Type", "text/plain"),
    ("Content-Length", str(len(BODY))),
]


def burn(loops):
    """Pure Python arithmetic: no C call releases the GIL while it runs."""
    acc = 0
    for i in range(loops):
        acc += i * i % 7
    return acc


def _reply(start_response):
    start_response("200 OK", HEADERS)
    return [BODY]


def cpu(environ, start_response):
    """CPU-bound: ~2 ms of Python work."""
    burn(2 * LOOPS_PER_MS)
    return _reply(start_response)


def io(environ, start_response):
    """I/O-bound: 20 ms blocked, no CPU used."""
    time.sleep(0.020)
    return _reply(start_response)


def io50(environ, start_response):
    """I/O-bound, longer: 50 ms blocked, no CPU used (make bench's gthread rows)."""
    time.sleep(0.050)
    return _reply(start_response)


def mixed(environ, start_response):
    """Mixed: ~1 ms of CPU, then 10 ms blocked."""
    burn(LOOPS_PER_MS)
    time.sleep(0.010)
    return _reply(start_response)
