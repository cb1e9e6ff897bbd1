"""The apps `make bench` measures answer the same under greenhorn and Gunicorn.

bench/apps holds the apps of the bench's rows: a Flask app rendering a
Jinja2 table with a JSON route, a minimal Django project, the worker study's
CPU-bound app and the app of Granian's method (a 10 KiB GET and a 10 KiB
POST echoed in 4 KiB pieces).  A bench row only compares servers if both
serve the app correctly; here each app is served by greenhorn and by
Gunicorn 20.1, and both must answer 200 with the same body.
"""
import os

import pytest

import harness

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH_APPS = os.path.join(REPO, "bench", "apps")
POST_10K = b"x" * (10 * 1024)


def raw_request(method, path, body=b""):
    # Host 127.0.0.1: Django answers 400 to a host it was not told about.
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" % (method, path)
    if body:
        head += "Content-Length: %d\r\n" % len(body)
    return (head + "\r\n").encode("latin-1")


CASES = [
    # app, method, path, request body, what the answer must hold
    ("flask_table:app", "GET", "/", b"", b"<td>Customer 100</td>"),
    ("flask_table:app", "GET", "/json", b"", b'"count":100'),
    ("django_site.wsgi:application", "GET", "/", b"", b"<td>Customer 100</td>"),
    ("work:cpu", "GET", "/", b"", b"done"),
    ("granian_method:app", "GET", "/b10k", b"", b"x" * 10240),
    ("granian_method:app", "POST", "/echoi", POST_10K, POST_10K),
]


@pytest.mark.parametrize("app,method,path,body,expected", CASES,
                         ids=["%s %s" % (c[0].split(":")[0], c[2]) for c in CASES])
def test_bench_app_answers_alike(pair, app, method, path, body, expected):
    both = pair(app, BENCH_APPS, env={"BENCH_CPU_LOOPS_PER_MS": "100"})
    ours, ref = both.request(raw_request(method, path, body), body)
    for side, reply in (("greenhorn", ours), ("gunicorn", ref)):
        assert reply.status == 200, "%s: %s\n%r" % (side, reply.status, reply.raw[:500])
        assert expected in reply.body, side
    assert ours.body == ref.body


def test_the_two_template_apps_render_the_same_page(pair):
    flask = pair("flask_table:app", BENCH_APPS).request(raw_request("GET", "/"))[0]
    django = pair("django_site.wsgi:application", BENCH_APPS).request(raw_request("GET", "/"))[0]
    assert flask.body.split() == django.body.split()
