"""Side by side with Flask: examples/flask_hello served by greenhorn and by Gunicorn 20.1.

A real framework reads the environ the way most users' apps do (werkzeug
decodes PATH_INFO, parses cookies and forms from wsgi.input), so these cases
catch environ mistakes that a raw app would forgive.
"""

import pytest

from conftest import FLASK_DIR


@pytest.fixture
def flask(pair):
    return pair("wsgi:app", FLASK_DIR, extra=["-w", "2"])


def req(target, method="GET", headers=(), body=b""):
    lines = ["%s %s HTTP/1.1" % (method, target), "Host: example.test"]
    lines += ["%s: %s" % h for h in headers]
    if body:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def test_index(flask):
    ours, _ = flask.check("flask-index", req("/"))
    assert ours.status == 200 and ours.body == b"Hello from Flask App"


def test_hello_name(flask):
    ours, _ = flask.check("flask-hello", req("/hello/x"))
    assert ours.body == b"Hello, x!"


def test_hello_utf8_name(flask):
    ours, _ = flask.check("flask-hello-utf8", req("/hello/J%C3%BCrgen"))
    assert ours.body == "Hello, J\u00fcrgen!".encode()


def test_json(flask):
    ours, _ = flask.check("flask-json", req("/json"))
    assert ours.header("Content-Type") == "application/json"
    assert ours.json() == {"items": [1, 2, 3], "message": "Hello from Flask App"}


def test_not_found_page(flask):
    ours, _ = flask.check("flask-404", req("/no/such/page"))
    assert ours.status == 404 and b"Not Found" in ours.body


def test_method_not_allowed(flask):
    ours, _ = flask.check("flask-405", req("/", "POST", body=b"x=1"))
    assert ours.status == 405 and ours.header("Allow") is not None


def test_redirect(flask):
    ours, _ = flask.check("flask-redirect", req("/old"))
    assert ours.status == 302 and ours.header("Location") == "/"


def test_cookie_round_trip(flask):
    ours, _ = flask.check("flask-cookie", req("/cookie"))
    cookie = ours.header("Set-Cookie")
    assert cookie.startswith("flavour=oatmeal")
    cookie_header = [("Cookie", cookie.split(";")[0])]
    ours, _ = flask.check("flask-whoami", req("/whoami", headers=cookie_header))
    assert ours.body == b"flavour=oatmeal"


def test_whoami_without_cookie(flask):
    ours, _ = flask.check("flask-whoami-none", req("/whoami"))
    assert ours.body == b"flavour=none"


def test_form_get(flask):
    ours, _ = flask.check("flask-form-get", req("/form"))
    assert b"<form" in ours.body


def test_form_post_urlencoded(flask):
    body = b"name=Ada+Lovelace&other=%26"
    headers = [("Content-Type", "application/x-www-form-urlencoded")]
    ours, _ = flask.check("flask-form-post", req("/form", "POST", headers, body))
    assert ours.body == b"Thanks, Ada Lovelace!"


def test_head_index(flask):
    ours, _ = flask.check("flask-head", req("/", "HEAD"))
    assert ours.status == 200 and ours.raw_body == b""
    assert ours.header("Content-Length") == str(len(b"Hello from Flask App"))
