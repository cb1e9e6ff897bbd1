"""PEP 3333 "String Types": status and header values are str holding only
latin-1 code points, and go on the wire as ISO-8859-1 bytes.

Side by side with Gunicorn 20.1: a latin-1 value arrives as the same single
byte; a character beyond latin-1 is the app's error (500, nothing of it
sent); a bare "200" is served, with its reason phrase added here (see
differences.py).
"""
import harness


def raw_head(port, target):
    with harness.connect(port) as sock:
        sock.sendall(("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % target).encode())
        data = harness.read_all(sock)
    return data.split(b"\r\n\r\n", 1)[0]


def test_latin1_header_value_is_one_byte(pair):
    both = pair("nativeapp:application")
    ours, theirs = both.check("latin1-header", harness_req("/latin1-header"))
    assert ours.status == 200
    assert b"\r\nX-Name: caf\xe9" in raw_head(both.ports[0], "/latin1-header")
    assert b"\r\nX-Name: caf\xe9" in raw_head(both.ports[1], "/latin1-header")


def test_header_beyond_latin1_is_an_app_error(pair):
    both = pair("nativeapp:application")
    ours, _ = both.check("beyond-latin1", harness_req("/beyond-latin1"))
    assert ours.status == 500
    assert b"\xe2\x82\xac" not in raw_head(both.ports[0], "/beyond-latin1")


def test_bare_status_code_is_served(pair):
    both = pair("nativeapp:application")
    ours, _ = both.check("bare-status", harness_req("/bare-status"))
    assert ours.status == 200 and ours.body == b"body"
    assert raw_head(both.ports[0], "/bare-status").startswith(b"HTTP/1.1 200 OK\r\n")


def harness_req(target):
    return ("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % target).encode()
