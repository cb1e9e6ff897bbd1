"""differences - every known way greenhorn answers differently from Gunicorn 20.1.

The side-by-side tests send the same bytes to greenhorn and to Debian's
Gunicorn 20.1.0 and compare the replies (see harness.compare).  A fact that
differs fails the test unless it is listed here, for that case, with what
each server does and why greenhorn does it its way.  A listed difference
that stops showing up fails too, so this list stays true.

Where Gunicorn's versions disagree greenhorn follows Gunicorn 26.x, the
newest and strictest; most entries below are such a case, or an RFC.

Each entry:
    case      the test case name(s) passed to harness.compare
    field     the fact that differs: "status", "version", "body", "framing",
              "complete", "interim", "header:NAME" (lower case),
              "environ:KEY", "environ-object:KEY", ...; or "*" when the
              whole reply differs (then greenhorn and gunicorn describe
              the status facts, e.g. "0 " for no response at all)
    greenhorn what greenhorn sends (an exact value, or a compiled regex
              that must match the whole text of the value)
    gunicorn  what Gunicorn 20.1 sends (likewise)
    reason    the RFC section or the Gunicorn 26.x behaviour followed
"""

import os
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache

ABSENT = "<absent>"


@dataclass(frozen=True)
class Difference:
    case: tuple
    field: str
    greenhorn: object
    gunicorn: object
    reason: str

    @staticmethod
    def _matches(pattern, value):
        if isinstance(pattern, re.Pattern):
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            return pattern.fullmatch(text) is not None
        return pattern == value

    def matches_greenhorn(self, value):
        return self._matches(self.greenhorn, value)

    def matches_gunicorn(self, value):
        return self._matches(self.gunicorn, value)


# The canned error page.  greenhorn's names the status only; Gunicorn 20.1's
# adds a detail line that quotes the offending request bytes back.
GREENHORN_PAGE = re.compile(r"<html>.*<title>[^<]+</title>.*</html>\s*", re.S)
GUNICORN_PAGE = re.compile(r"<html>\n  <head>\n    <title>[^<]+</title>.*</html>\n", re.S)
LENGTH = re.compile(r"\['\d+'\]")
ERROR_PAGE_CASES = (
    "error-before",
    "close-raise-first-get",
    "bad-header",
    "close-bad-header-lazy-get",
    "limit-request-line",
    "limit-request-fields",
    "limit-request-field-size",
    "bad-request-line",
    "bad-header-name",
    "length-and-chunked",
    "two-lengths",
    "script-name-env-outside",
    "gthread:ka-error-before#0",
    "gthread:ka-bad-request#0",
)
BAD_APP_HEADER = ("bad-header", "close-bad-header-lazy-get")
HEAD_CASES = ("head", "head-generator", "close-ok-head", "validator-head")

DIFFERENCES = [
    Difference(
        ERROR_PAGE_CASES, "body", GREENHORN_PAGE, GUNICORN_PAGE,
        "Any error page is allowed (RFC 9110 section 15); greenhorn's names the status and "
        "never echoes request bytes or exception text back to the client.",
    ),
    Difference(
        ERROR_PAGE_CASES, "header:content-length", LENGTH, LENGTH,
        "Follows from the different error page above.",
    ),
    Difference(
        HEAD_CASES, "body", b"", re.compile(r".+", re.S),
        "RFC 9110 section 9.3.2: a response to HEAD has no content; Gunicorn 20.1 sends "
        "whatever the application yields (the client then reads it as the next response).",
    ),
    Difference(
        ("status-204-with-body", "status-304-with-body"), "body", b"",
        b"a body that must not be sent",
        "RFC 9110 sections 15.3.5 and 15.4.5, RFC 9112 section 6.3: 204 and 304 responses end "
        "after the header section; Gunicorn 20.1 writes the application's bytes anyway.",
    ),
    Difference(
        BAD_APP_HEADER, "status", "500 Internal Server Error", "400 Bad Request",
        "A header value with CR or LF from the application is the server side's fault "
        "(RFC 9110 section 15.6.1: 500); Gunicorn 20.1 raises its request-parsing "
        "InvalidHeader and so blames the client with a 400.",
    ),
    Difference(
        ("exc-info",), "header:content-type", ["text/plain"], ["text/plain", "text/plain"],
        "PEP 3333, the start_response() callable: called again with exc_info before anything "
        "was sent, the new status and headers replace the old ones; Gunicorn 20.1 appends "
        "the second list to the first.",
    ),
    Difference(
        ("underscore-header",), "environ:HTTP_X_DASH", "dash", "dash,underscore",
        "Gunicorn 22+ (header_map = drop): a field name with '_' is dropped, because the CGI "
        "mapping (RFC 3875 section 4.1.18) turns X_Dash and X-Dash into the same key and a "
        "proxy that checks one spelling can be bypassed with the other.",
    ),
    Difference(
        ("underscore-header",), "environ:HTTP_X_ONLY", ABSENT, "1",
        "Gunicorn 22+ (header_map = drop), as above.",
    ),
    Difference(
        ("limit-request-line",), "status", "414 URI Too Long", "400 Bad Request",
        "RFC 9112 section 3: a request line longer than the server accepts gets 414 "
        "(RFC 9110 section 15.5.15), as Gunicorn 26.x answers.",
    ),
    Difference(
        ("limit-request-fields", "limit-request-field-size"), "status",
        "431 Request Header Fields Too Large", "400 Bad Request",
        "RFC 6585 section 5: too many or too large header fields get 431, as Gunicorn 26.x "
        "answers.",
    ),
    Difference(
        ("bad-version",), "*", "400 Bad Request", "200 OK",
        "RFC 9112 section 2.3: only HTTP/1.0 and HTTP/1.1 are spoken here; Gunicorn 26.x "
        "refuses other versions (permit_unconventional_http_version off), Gunicorn 20.1 "
        "serves HTTP/9.9 and echoes that version in its status line.",
    ),
    Difference(
        ("bad-chunk-size",), "*", "400 Bad Request", "0 ",
        "RFC 9112 section 7.1: a chunk size that is not hex is a bad request; Gunicorn 26.x "
        "answers 400 (InvalidChunkSize), Gunicorn 20.1 closes without a response.",
    ),
    Difference(
        ("script-name-env-outside",), "status", "400 Bad Request", "500 Internal Server Error",
        "PEP 3333: SCRIPT_NAME + PATH_INFO must rebuild the path, impossible when the path "
        "lies outside SCRIPT_NAME; Gunicorn 22+ refuses it with 400 ('Request path ... does "
        "not start with SCRIPT_NAME'), Gunicorn 20.1 fails with an IndexError (500).",
    ),
    Difference(
        ("beyond-latin1",), "*", "500 Internal Server Error", "0 ",
        "PEP 3333 'String Types': header values must be latin-1; a value that is not is the "
        "app's error, answered 500 before any byte goes out. Gunicorn 20.1 fails while "
        "writing the head and closes with no response at all.",
    ),
    Difference(
        ("bare-status",), "status", "200 OK", "200 ",
        "RFC 9112 section 4: greenhorn completes a bare '200' from the app with its standard "
        "reason phrase; Gunicorn 20.1 sends the status line with no reason.",
    ),
    # What each tells systemd through $NOTIFY_SOCKET (sd_notify(3); test_notify.py).
    Difference(
        ("sd-notify",), "ready while no worker had loaded the app", False, True,
        "READY=1 means the service can answer (sd_notify(3)), so greenhorn sends it once "
        "every worker has loaded the app; Gunicorn 20.1 sends it as soon as it listens, "
        "before it forks a worker.",
    ),
    Difference(
        ("sd-notify",), "ready:MAINPID", "the master's pid", ABSENT,
        "sd_notify(3) MAINPID: the master says it is the service's main process, so systemd "
        "follows it when a binary upgrade hands over to a new master.",
    ),
    Difference(
        ("sd-notify",), "ready:STATUS",
        re.compile(r"greenhorn \S+: 2 sync workers, listening at http://127\.0\.0\.1:\d+"),
        "Gunicorn arbiter booted",
        "A STATUS line `systemctl status` shows: what runs, and where.",
    ),
    Difference(
        ("sd-notify",), "environ:NOTIFY_SOCKET", None, "the notify socket",
        "The socket is the master's: greenhorn removes it from the environment before any "
        "worker starts, so an app's own sd_notify cannot say READY or STOPPING for the whole "
        "service; Gunicorn 20.1 leaves it to the workers.",
    ),
    Difference(
        ("sd-notify",), "hup: first datagram", "RELOADING=1", ABSENT,
        "sd_notify(3): RELOADING=1 on a reload, then READY=1 once the new workers loaded the "
        "app; Gunicorn 20.1 says nothing on HUP.",
    ),
    Difference(
        ("sd-notify",), "term: last datagram", "STOPPING=1", ABSENT,
        "sd_notify(3): STOPPING=1 when the master begins to stop; Gunicorn 20.1 says nothing.",
    ),
]


def for_case(case):
    """The listed differences of one case, by field."""
    found = {}
    for entry in DIFFERENCES:
        if case in entry.case:
            assert entry.field not in found, "two entries for %s %s" % (case, entry.field)
            found[entry.field] = entry
    return found


@lru_cache(maxsize=None)
def reference_mode():
    """True when $GREENHORN is Gunicorn itself: its `-v` prints Gunicorn's
    version and not greenhorn's name.  The suite then checks its own harness:
    every comparison must agree exactly, and this list does not apply."""
    import gunicorn

    out = subprocess.run(
        [os.environ["GREENHORN"], "-v"], capture_output=True, text=True, timeout=10
    )
    text = out.stdout + out.stderr
    return "greenhorn" not in text.lower() and "(version %s)" % gunicorn.__version__ in text
