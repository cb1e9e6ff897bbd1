"""drainapp - the app of test_drain.py: slow requests that say when they began,
and a way to run a worker out of file descriptors.

    /                 200, "ok <pid>"
    /slow?s=N&tag=T   touches $DRAIN_DIR/started-T (so a test knows the request
                      reached the app), sleeps N seconds, answers 200
    /hog              answers 200 at once; a thread then waits until the
                      response is gone (0.3 s), opens /dev/null until the
                      process has no descriptor left (EMFILE), then makes
                      $DRAIN_DIR/hogging appear, holds them until $DRAIN_DIR/release
                      exists (checked with os.path.exists, which needs no
                      descriptor), closes them and writes $DRAIN_DIR/released

Runs under any WSGI server (Gunicorn too).
"""

import os
import threading
import time
from urllib.parse import parse_qs

TEXT = [("Content-Type", "text/plain")]


def _dir():
    return os.environ["DRAIN_DIR"]


def _touch(name):
    with open(os.path.join(_dir(), name), "w") as f:
        f.write(str(os.getpid()))


def _hog():
    time.sleep(0.3)
    _touch("hogging.tmp")
    held = []
    try:
        while True:
            held.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        pass
    # Said only once no descriptor is left (a rename needs none).
    os.rename(os.path.join(_dir(), "hogging.tmp"), os.path.join(_dir(), "hogging"))
    while not os.path.exists(os.path.join(_dir(), "release")):
        time.sleep(0.05)
    for fd in held:
        os.close(fd)
    _touch("released")


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if path == "/slow":
        _touch("started-" + query.get("tag", ["x"])[0])
        time.sleep(float(query.get("s", ["1"])[0]))
    elif path == "/hog":
        threading.Thread(target=_hog, daemon=True).start()
    body = ("ok %d\n" % os.getpid()).encode()
    start_response("200 OK", TEXT + [("Content-Length", str(len(body)))])
    return [body]
