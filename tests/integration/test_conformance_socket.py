"""Gunicorn 26's request corpus, sent to greenhorn over real sockets.

tests/unit/test_conformance.c feeds the 137 requests of
tests/conformance/gunicorn-requests/ to the parser in memory.  Here the very
same bytes go through the whole server: a TCP connection, a worker's reads,
the environ, wsgi.input, and apps/echoapp.py, which answers with what it
was given.  Each case is sent in the five ways Gunicorn's own test suite
feeds its parser (all at once, line by line, byte by byte, random splits,
one byte then the rest), with TCP_NODELAY and a short pause between pieces
so that the worker really receives them apart.  After the last piece the
client half-closes (shutdown SHUT_WR): that is "the end of the input" of the
corpus (a head cut short is closed with no response).

greenhorn serves one request per connection and answers it with
"Connection: close", so for a file of several pipelined requests only the
first is answered; the bytes from the start of each following request are
then sent again on a new connection, the same way, and checked against that
request's expectation.

A valid request passes when the application saw the expected method, target
(RAW_URI), path (PATH_INFO, percent-decoded), query, version, headers (as
environ keys) and body.  Fragments are part of RAW_URI; trailers never reach
a WSGI application and are not compared.  An invalid request passes when the
answer is the expected status and nothing else (no second response), and the
server closes; a null status passes when the server closes without sending
a byte.  After every exchange the server's workers must be the same
processes as at the start: a crash would show as a new pid.

One server runs per distinct set of settings, all started at once; the cases
of one server run on as many client threads as it has workers, so that no
connection waits in the listen queue (where its pieces would merge).  A
server that fails to start is started once more; if it fails again, only
its own cases fail (test_servers_started shows why), not the whole file.
"""

import functools
import json
import os
import queue
import random
import re
import select
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

import pytest

import differences
import harness
from conftest import REPO, Spawner

CORPUS = os.path.join(REPO, "tests", "conformance", "gunicorn-requests")
with open(os.path.join(CORPUS, "cases.json"), encoding="utf-8") as _f:
    CASES = json.load(_f)["cases"]

WAYS = ("whole", "lines", "bytes", "random", "first-byte")
PAUSE = 0.001  # between two pieces of one request
CONNECT_PAUSE = 0.005  # after connect, so the first piece arrives alone too
READ_TIMEOUT = 15.0
WORKERS_DEFAULT = 6  # the server with no special setting serves most cases
WORKERS_OTHER = 2
# Byte by byte, a 16 KiB head takes about 18 s at one byte a millisecond:
# more than the default --header-timeout of 10 s, which is not what this
# file tests (test_strict.py does).
HEADER_TIMEOUT = 60

# Where greenhorn means to answer differently from Gunicorn 26 on this
# corpus, with the reason: the one table (tests/unit/test_conformance.c
# holds the same for the parser alone).
DIFFERENCES = {
    "invalid/006": (
        414,
        "request line over limit_request_line: RFC 9112 section 3 answers 414 (URI Too Long); "
        "Gunicorn 26 answers 400",
    ),
    "valid/099": (
        400,
        "the file holds 8,599 bytes of a 17,914-byte Content-Length body, then the client's FIN "
        "follows: RFC 9112 section 8 calls that an incomplete message, so wsgi.input.read() "
        "raises and greenhorn answers 400; Gunicorn's LengthReader hands the application the "
        "short body (in memory, without a socket, the parser test follows Gunicorn)",
    ),
}

# Gunicorn setting -> greenhorn command-line options.  A setting missing
# here skips its case with the reason: a case must never pass because one
# of its settings was silently left out.
FLAGS = {
    "permit_obsolete_folding": "--permit-obsolete-folding",
    "permit_unconventional_http_method": "--permit-unconventional-http-method",
    "permit_unconventional_http_version": "--permit-unconventional-http-version",
    "casefold_http_method": "--casefold-http-method",
    "strip_header_spaces": "--strip-header-spaces",
}
LIMITS = {
    "limit_request_line": "--limit-request-line",
    "limit_request_fields": "--limit-request-fields",
    "limit_request_field_size": "--limit-request-field_size",
}


def cli_options(settings):
    """The greenhorn options for a case's settings, or None if one has no mapping."""
    args = []
    for key, value in sorted(settings.items()):
        if key in FLAGS and value is True:
            args.append(FLAGS[key])
        elif key in LIMITS and isinstance(value, int):
            args += [LIMITS[key], str(value)]
        elif key == "header_map" and value in ("drop", "refuse", "dangerous"):
            args += ["--header-map", value]
        elif key == "forwarded_allow_ips" and value == ["*"]:
            args += ["--forwarded-allow-ips", "*"]
        elif key == "proxy_protocol" and value == "auto":
            args += ["--proxy-protocol", "auto", "--proxy-allow-from", "127.0.0.1"]
        else:
            return None
    return args


@functools.lru_cache(maxsize=None)
def read_case(name):
    with open(os.path.join(CORPUS, name + ".http"), "rb") as f:
        return f.read()


# ---------------------------------------------------------------- splitting


def pieces(data, way):
    """data cut into the pieces of one way of sending it."""
    if way == "whole":
        return [data]
    if way == "lines":
        return re.findall(rb"[^\n]*\n|[^\n]+", data, re.S)
    if way == "bytes":
        return [data[i : i + 1] for i in range(len(data))]
    if way == "first-byte":
        return [data[:1], data[1:]] if len(data) > 1 else [data]
    rng = random.Random(1234)  # the same cuts on every run
    out, pos = [], 0
    while pos < len(data):
        step = rng.randint(1, 32)
        out.append(data[pos : pos + step])
        pos += step
    return out


def skip_proxy_header(data):
    """The offset after a PROXY protocol v1 or v2 header, 0 if none."""
    if data.startswith(b"PROXY "):
        return data.index(b"\r\n") + 2
    if data.startswith(b"\r\n\r\n\x00\r\nQUIT\n"):
        return 16 + int.from_bytes(data[14:16], "big")
    return 0


def chunked_end(data, pos):
    """The offset after a chunked body starting at pos (RFC 9112 section 7.1)."""
    while True:
        eol = data.index(b"\r\n", pos)
        size = int(data[pos:eol].split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            return data.index(b"\r\n\r\n", pos - 2) + 4
        pos += size + 2


def request_starts(data, case):
    """Where each expected request begins in a valid case's file: the
    framing comes from the expectation itself (Content-Length, chunked)."""
    pos = skip_proxy_header(data) if case["settings"].get("proxy_protocol") else 0
    starts = []
    for want in case["expect"]:
        starts.append(pos)
        pos = data.index(b"\r\n\r\n", pos) + 4
        headers = {name: value for name, value in want["headers"]}
        if "chunked" in headers.get("TRANSFER-ENCODING", "").lower():
            pos = chunked_end(data, pos)
        elif "CONTENT-LENGTH" in headers:
            pos += int(headers["CONTENT-LENGTH"])
    return starts


# ---------------------------------------------------------------- one exchange


def exchange(port, parts):
    """Send the pieces on a new connection, pausing between them, and read
    until the server closes.  Sending stops early when the server has
    answered or closed (it refused the request, or served the first of
    several).  Returns the bytes received, or None if the read timed out."""
    with socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        time.sleep(CONNECT_PAUSE)
        for i, part in enumerate(parts):
            try:
                sock.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
            if i + 1 < len(parts):
                time.sleep(PAUSE)
                if select.select([sock], [], [], 0)[0]:
                    break
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        try:
            return harness.read_all(sock)
        except socket.timeout:
            return None


def expected_headers(want):
    """The expectation's headers as the environ keys a WSGI app gets."""
    out = {}
    for name, value in want["headers"]:
        # PEP 3333: these two have no HTTP_ prefix.  "CONTENT_LENGTH" as
        # a name (with --header-map dangerous) is another header.
        if name in ("CONTENT-TYPE", "CONTENT-LENGTH"):
            key = name.replace("-", "_")
        else:
            key = "HTTP_" + name.replace("-", "_")
        out[key] = out[key] + "," + value if key in out else value
    return out


def check_valid(raw, want):
    """Problems with the answer to a valid request (an empty list: none)."""
    reply = harness.parse_reply(raw)
    if reply.status != 200:
        return ["status %d, expected 200: %r" % (reply.status, raw[:200])]
    seen = reply.json()
    # The corpus holds bytes as latin-1 text; PATH_INFO is decoded once.
    path = urllib.parse.unquote_to_bytes(want["path"].encode("latin-1")).decode("latin-1")
    pairs = (
        ("method", seen["method"], want["method"]),
        ("target", seen["raw_uri"], want["target"]),
        ("path", seen["path_info"], path),
        ("query", seen["query_string"], want["query"]),
        ("version", seen["protocol"], want["version"]),
        ("headers", seen["headers"], expected_headers(want)),
        ("body", seen["body_b64"], want["body_b64"]),
    )
    return ["%s is %r, expected %r" % (what, got, exp) for what, got, exp in pairs if got != exp]


def check_invalid(raw, status):
    """Problems with the answer to an invalid request."""
    if status is None:
        return [] if raw == b"" else ["expected no response, got %r" % raw[:200]]
    reply = harness.parse_reply(raw)
    problems = []
    if reply.status != status:
        problems.append("status %d, expected %d: %r" % (reply.status, status, raw[:200]))
    if reply.interim:
        problems.append("interim responses before the error: %r" % reply.interim)
    if reply.framing != "length" or not reply.complete or reply.raw_body != reply.body:
        problems.append("not exactly one response (framing %s): %r" % (reply.framing, raw[:300]))
    return problems


# ---------------------------------------------------------------- servers


@dataclass
class Target:
    """One greenhorn for one set of settings, and the jobs sent to it."""

    args: tuple
    workers: int
    server: object = None
    port: int = 0
    pids: list = field(default_factory=list)
    jobs: list = field(default_factory=list)
    failed: str = ""  # why the server never got ready, after START_ATTEMPTS tries


START_ATTEMPTS = 2  # a server that fails to start is started once more


def booted(target):
    return target.server.log().count("Booting worker with pid")


def all_booted(target):
    return (booted(target) >= target.workers
            and len(harness.worker_pids(target.server)) >= target.workers)


def start_target(spawner, target, n):
    argv = ["-w", str(target.workers), "--header-timeout", str(HEADER_TIMEOUT)]
    argv += list(target.args)
    target.server, target.port = spawner.tcp(
        argv, app="echoapp:application", name="greenhorn%s" % n, wait=False
    )


def ready(target, deadline):
    """Wait until target's workers are all up and have imported the app."""
    target.server.wait_ready()
    while not all_booted(target) and time.monotonic() < deadline:
        time.sleep(0.05)
    target.pids = harness.worker_pids(target.server)
    assert len(target.pids) == target.workers, target.server.describe()
    # A first request through each worker (no header: every limit of
    # the corpus lets it through) shows the application is imported.
    for _ in range(target.workers):
        reply = harness.request(target.port, b"GET /warm-up HTTP/1.0\r\n\r\n")
        assert reply.status == 200, target.server.describe()


def start_targets(spawner, targets):
    """Start every server at once, then wait until each has all its workers.
    A server that does not get there is started again; one that fails
    START_ATTEMPTS times is marked failed (its cases fail, saying so, and
    test_servers_started shows its log) and the others still run."""
    for n, target in enumerate(targets):
        start_target(spawner, target, n)
    deadline = time.monotonic() + 20
    for n, target in enumerate(targets):
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                ready(target, deadline)
                target.failed = ""
                break
            except (AssertionError, OSError) as exc:
                target.failed = "attempt %d: %s: %s" % (attempt, type(exc).__name__, exc)
                target.server.stop()
                if attempt < START_ATTEMPTS:
                    start_target(spawner, target, "%d-%d" % (n, attempt + 1))
                    deadline = time.monotonic() + 20


def run_job(target, case, way):
    """Send one case one way (and its pipelined followers); the problems found."""
    data = read_case(case["name"])
    problems = []
    if "expect" in case and case["name"] not in DIFFERENCES:
        starts = request_starts(data, case)
        for i, want in enumerate(case["expect"]):
            # The first request is sent with everything after it; each
            # following one from where it begins (after any PROXY header).
            raw = exchange(target.port, pieces(data[starts[i] if i else 0 :], way))
            if raw is None:
                problems.append("request %d: no close within %.0f s" % (i, READ_TIMEOUT))
                break
            problems += ["request %d: %s" % (i, p) for p in check_valid(raw, want)]
    else:
        status = DIFFERENCES[case["name"]][0] if case["name"] in DIFFERENCES else case["status"]
        raw = exchange(target.port, pieces(data, way))
        if raw is None:
            problems.append("no close within %.0f s" % READ_TIMEOUT)
        else:
            problems += check_invalid(raw, status)
    pids = harness.worker_pids(target.server)
    if pids != target.pids:
        problems.append("workers changed: %s, then %s" % (target.pids, pids))
    return problems


def client_threads(target, results):
    """As many client threads as the target has workers, sharing its jobs;
    each job's problems go to results[(case name, way)]."""
    # The longest files first, so no thread is left with one at the end.
    jobs = queue.Queue()
    for job in sorted(target.jobs, key=lambda job: -len(read_case(job[0]["name"]))):
        jobs.put(job)

    def work():
        while True:
            try:
                case, way = jobs.get_nowait()
            except queue.Empty:
                return
            if target.failed:
                results[(case["name"], way)] = [
                    "not sent: the server for %s did not start (test_servers_started has "
                    "its log)" % (" ".join(target.args) or "the default settings")]
                continue
            try:
                results[(case["name"], way)] = run_job(target, case, way)
            except Exception as exc:  # reported as the case's failure
                results[(case["name"], way)] = ["%s: %s" % (type(exc).__name__, exc)]

    return [threading.Thread(target=work) for _ in range(target.workers)]


@pytest.fixture(scope="module")
def corpus_results(greenhorn, tmp_path_factory):
    """Every case sent every way.  Returns results {(case name, way):
    [problems]}, skipped {name: reason}, reboots {server: extra boots} and
    the seconds it all took."""
    if differences.reference_mode():
        pytest.skip("greenhorn's own contract: Gunicorn 20.1 predates the corpus and lacks "
                    "--header-timeout")
    spawner = Spawner(greenhorn, str(tmp_path_factory.mktemp("conformance")))
    targets, skipped = {}, {}
    for case in CASES:
        args = cli_options(case["settings"])
        if args is None:
            skipped[case["name"]] = "setting without a greenhorn option: %r" % case["settings"]
            continue
        workers = WORKERS_DEFAULT if not args else WORKERS_OTHER
        target = targets.setdefault(tuple(args), Target(tuple(args), workers))
        target.jobs += [(case, way) for way in WAYS]
    results = {}
    started = time.monotonic()
    try:
        start_targets(spawner, list(targets.values()))
        threads = [t for target in targets.values() for t in client_threads(target, results)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        reboots = {
            " ".join(t.args) or "(defaults)": booted(t) - t.workers
            for t in targets.values()
            if not t.failed and booted(t) != t.workers
        }
        failed = {" ".join(t.args) or "(defaults)": t.failed for t in targets.values()
                  if t.failed}
        yield {"results": results, "skipped": skipped, "reboots": reboots, "failed": failed,
               "seconds": time.monotonic() - started}
    finally:
        spawner.stop_all()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(corpus_results, case):
    reason = corpus_results["skipped"].get(case["name"])
    if reason:
        pytest.skip(reason)
    failures = {
        way: corpus_results["results"].get((case["name"], way), ["never run"]) for way in WAYS
    }
    failures = {way: problems for way, problems in failures.items() if problems}
    assert not failures, "\n".join(
        "%s, %s: %s" % (case["name"], way, "; ".join(problems))
        for way, problems in failures.items()
    )


def test_servers_started(corpus_results):
    assert not corpus_results["failed"], "\n\n".join(
        "server for %s:\n%s" % item for item in corpus_results["failed"].items())


def test_no_worker_restarted(corpus_results):
    assert not corpus_results["reboots"], "workers booted again: %r" % corpus_results["reboots"]


def test_summary(corpus_results, capsys):
    results = corpus_results["results"]
    passed = sum(1 for problems in results.values() if not problems)
    cases_ok = sum(
        1 for case in CASES if all(not results.get((case["name"], w), ["-"]) for w in WAYS)
    )
    with capsys.disabled():
        print(
            "\nconformance over sockets: %d/%d cases in all %d ways, %d/%d exchanges as expected "
            "(%d intended difference, %d skipped) in %.1f s"
            % (cases_ok, len(CASES), len(WAYS), passed, len(CASES) * len(WAYS),
               len(DIFFERENCES), len(corpus_results["skipped"]), corpus_results["seconds"])
        )
    assert len(CASES) == 137
    assert passed == len(CASES) * len(WAYS)
