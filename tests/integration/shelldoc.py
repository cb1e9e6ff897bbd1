"""shelldoc - run a tutorial chapter's console blocks and check what they print.

A chapter is Markdown.  Two kinds of fenced block in it are code:

```console                  commands as a reader types them:
$ curl -s 127.0.0.1:8000/    `$ ` starts a command, `> ` continues it;
                             (a bare `>` is an empty continuation line)
Hello, World!                the lines after it are what it prints.
```

```diff                     a change to the source (a unified diff, applied
--- a/src/http.c            as a reader applies it: `patch -p1 < break.diff`
+++ b/src/http.c            from the repository root): the "Break it" step.
@@ ...                      The blocks after it run in the changed tree.
```

Every other block (```c, ```text, ...) is there to be read, not run.

How a console block is checked:
- All the commands of one chapter run, in order, in one bash process, so a
  variable, a `cd` or a server started with `&` carries over from one
  block to the next, as in the reader's own terminal.
- The chapter runs in a copy of the repository (with the built binary and
  object files), never in the work tree, so a chapter may create files
  and apply its diff freely.
- A command must exit 0, unless its output ends with a line `[N]`: then
  it must exit with N (the convention of the cram tool).
- Printed output (stdout and stderr together) must match the lines shown
  under the command.  `...` inside a line matches any text; a line that is
  only `...` matches any number of lines, none included.  Trailing spaces
  are ignored.  A command with no lines under it may print anything.
- Ports 8000 to 8009 in a chapter stand for free loopback ports: the
  runner swaps each for a port nobody listens on, in commands and in the
  expected output alike, so a chapter never collides with a server already
  running.  The reader types 8000.  A port is only free when it is chosen:
  on a busy machine another process may bind it before the chapter's server
  does.  When a chapter fails and a log or the failure names one of its
  ports as in use, it runs again from the start on new ports (up to
  CHAPTER_ATTEMPTS times).
- A server started in the background must send its output to a file
  (`2>server.log &`): otherwise its log lines would land in the middle of
  the next command's output.
- Every process the chapter started is killed when it ends, pass or fail.

How a diff block is checked: it must apply exactly, every hunk at the line
its header names and with all its context.  `patch` still applies a hunk
that moved (it says "Hunk #1 succeeded at 120 (offset 4 lines)") or whose
context only partly matches ("with fuzz 1"), but a reader following by hand
then sees those warnings and a stray FILE.orig, and may be left wondering
whether the change landed where the chapter says.  So any output from
`patch` other than its "patching file" lines fails the chapter: regenerate
the diff (apply it, then `git diff`) when the source has moved.
"""

import os
import re
import select
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field

COMMAND_TIMEOUT = 90.0  # a `make` in a chapter may compile a few files
PORTS = range(8000, 8010)
CHAPTER_ATTEMPTS = 3  # runs of a chapter whose port another process took
# How a server says its port is taken: greenhorn ("127.0.0.1:8000: Address
# already in use") and Gunicorn ("Connection in use: ('127.0.0.1', 8000)").
IN_USE = re.compile(r"^.*(?:Address already in use|Connection in use).*$", re.M)


@dataclass
class Command:
    text: str  # the command as typed, continuation lines joined with "\n"
    expected: list = field(default_factory=list)  # output lines, patterns
    status: int = 0
    line: int = 0  # where it is in the chapter, for the failure message


@dataclass
class Step:
    kind: str  # "console" or "diff"
    line: int
    commands: list = field(default_factory=list)  # console
    patch: str = ""  # diff


# ------------------------------------------------------------------ reading


def read_steps(path):
    """The console and diff blocks of a Markdown file, in order."""
    steps, block, kind, start = [], None, None, 0
    for no, raw in enumerate(open(path, encoding="utf-8"), 1):
        line = raw.rstrip("\n")
        if block is None:
            m = re.match(r"^```(\w+)\s*$", line)
            if m and m.group(1) in ("console", "diff"):
                block, kind, start = [], m.group(1), no
            elif line.startswith("```") and line.strip() != "```":
                block, kind, start = [], "skip", no
            continue
        if line.startswith("```"):
            if kind == "console":
                steps.append(Step("console", start, commands=parse_console(block, start)))
            elif kind == "diff":
                steps.append(Step("diff", start, patch="\n".join(block) + "\n"))
            block = None
            continue
        block.append(line)
    if block is not None:
        raise ValueError(f"{path}:{start}: the block opened here is never closed")
    return steps


def parse_console(lines, start):
    commands = []
    for i, line in enumerate(lines, start + 1):
        if line.startswith("$ "):
            commands.append(Command(line[2:], line=i))
        elif (line.startswith("> ") or line == ">") and commands and not commands[-1].expected:
            commands[-1].text += "\n" + line[2:]  # a bare ">" is an empty line
        elif not commands:
            raise ValueError(f"line {i}: output before any command: {line!r}")
        else:
            commands[-1].expected.append(line.rstrip())
    for c in commands:
        if c.expected and re.fullmatch(r"\[\d+\]", c.expected[-1]):
            c.status = int(c.expected.pop()[1:-1])
    return commands


# ------------------------------------------------------------------ matching


def _line_regex(pattern):
    return re.compile(".*".join(re.escape(p) for p in pattern.split("...")) + r"\Z")


def output_matches(expected, actual):
    """True when the actual lines match the expected patterns (see above)."""
    pats = [None if p == "..." else _line_regex(p) for p in expected]

    def match(i, j):
        while i < len(pats):
            if pats[i] is None:  # any number of lines
                return any(match(i + 1, k) for k in range(j, len(actual) + 1))
            if j >= len(actual) or not pats[i].match(actual[j]):
                return False
            i, j = i + 1, j + 1
        return j == len(actual)

    return match(0, 0)


# ------------------------------------------------------------------ running


def free_ports(n):
    """n different TCP ports on 127.0.0.1 that nobody listens on right now
    (all held open until all are chosen, so no two are the same)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def ports_in_use(text, ports):
    """The ports of ports that a line of text says are in use."""
    return {p for line in IN_USE.findall(text) for p in ports
            if re.search(r"(?<!\d)%s(?!\d)" % p, line)}


def log_texts(tree):
    """Everything the *.log files of the chapter's copy hold."""
    out = []
    for folder, _, names in os.walk(tree):
        for name in sorted(n for n in names if n.endswith(".log")):
            with open(os.path.join(folder, name), errors="replace") as f:
                out.append(f.read())
    return "\n".join(out)


def log_tails(tree, lines=15):
    """The last lines of every *.log file in the chapter's copy: what the
    servers said, for a failure message."""
    out = []
    for folder, _, names in os.walk(tree):
        for name in sorted(n for n in names if n.endswith(".log")):
            path = os.path.join(folder, name)
            with open(path, errors="replace") as f:
                tail = f.read().splitlines()[-lines:]
            out.append(f"--- {os.path.relpath(path, tree)} (last {len(tail)} lines)")
            out.extend(tail)
    return "\n".join(out)


def copy_repository(root, dest, binary):
    """A copy of the repository to run a chapter in: sources, tests, the
    built objects (so a `make` only rebuilds what the chapter changes) and
    the binary under test as ./greenhorn."""

    def ignore(directory, names):
        skip = {".git", "asan", "cov", "fuzz-corpus", "fuzz-artifacts",
                "__pycache__"}
        return [n for n in names if n in skip]

    shutil.copytree(root, dest, ignore=ignore, symlinks=True)
    shutil.copy2(binary, os.path.join(dest, "greenhorn"))


class Shell:
    """One bash process that commands are fed to, one at a time."""

    def __init__(self, cwd, env):
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"], cwd=cwd, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.count = 0

    def run(self, text, timeout=None):
        """Run one command; returns (output lines, exit status)."""
        timeout = COMMAND_TIMEOUT if timeout is None else timeout
        self.count += 1
        marker = f"@@shelldoc-{self.count}@@"
        # The command's own stdin is /dev/null: it must not eat the script.
        script = f"{{\n{text}\n}} </dev/null\nprintf '\\n{marker} %d\\n' $?\n"
        self.proc.stdin.write(script.encode())
        self.proc.stdin.flush()
        out, deadline = b"", time.monotonic() + timeout
        pattern = re.compile(rb"\n" + re.escape(marker.encode()) + rb" (\d+)\n")
        while True:
            m = pattern.search(out)
            if m:
                text_out = out[: m.start()].decode("utf-8", "replace")
                if text_out.endswith("\n"):  # the last line's end, not a blank line
                    text_out = text_out[:-1]
                lines = [ln.rstrip() for ln in text_out.split("\n")] if text_out else []
                return lines, int(m.group(1))
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise TimeoutError(f"no end after {timeout:.0f} s; printed so far:\n"
                                   + out.decode("utf-8", "replace"))
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk and self.proc.poll() is not None:
                    continue
                out += chunk

    def close(self):
        """Stop the shell and everything it started (one process group):
        TERM first, so servers shut down as they would for the reader, then
        KILL for whatever is still there after five seconds."""
        pgid = self.proc.pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and _group_alive(pgid):
                self.proc.poll()  # reap the shell itself
                time.sleep(0.05)
            if not _group_alive(pgid):
                break
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


# Variables of the environment that runs the tests, not of a reader's
# terminal.  make's own (MAKEFLAGS carries `make coverage`'s BUILD=...) would
# reach the chapter's `make` and make it say "Entering directory"; CI and
# BUILD_NUMBER make pytest print whole failure messages in its summary, as it
# does on a CI service; the rest change what pytest prints or how.
NOT_A_READERS = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "CI", "BUILD_NUMBER",
                 "PYTEST_ADDOPTS", "PY_COLORS", "FORCE_COLOR", "NO_COLOR")


def reader_environment(environ, home):
    """The environment a chapter's commands run in: a reader's terminal,
    80 columns wide, whatever terminal or CI service runs the tests."""
    env = {k: v for k, v in environ.items() if k not in NOT_A_READERS}
    env.update(HOME=home, LC_ALL="C.UTF-8", TERM="dumb", COLUMNS="80", LINES="24")
    return env


def apply_diff(tree, patch):
    """Apply one diff block in tree as the reader does (`patch -p1 <
    break.diff` from the repository root).  None when it applied exactly;
    otherwise what went wrong, with patch's own words."""
    # --forward: a diff that looks already applied is refused, not reversed.
    r = subprocess.run(["patch", "-p1", "--forward"], cwd=tree, input=patch,
                       text=True, capture_output=True)
    said = (r.stdout + r.stderr).rstrip("\n")
    if r.returncode != 0:
        return f"the diff does not apply:\n{said}"
    extra = [ln for ln in said.split("\n") if ln and not ln.startswith("patching file ")]
    if extra:
        return ("the diff does not apply exactly: regenerate it against the source "
                "(apply it, then `git diff`), so that patch says nothing but which "
                f"files it patches:\n{said}")
    return None


class PortTaken(AssertionError):
    """A chapter failed because another process had one of its ports."""


def run_chapter(path, root, binary, workdir):
    """Run every step of one chapter in a copy of the repository under
    workdir.  Raises AssertionError naming the first command that failed.
    A run that failed because another process took one of its ports is
    done again on new ports, in a new copy (workdir/attempt-N)."""
    for attempt in range(1, CHAPTER_ATTEMPTS + 1):
        where = workdir if attempt == 1 else os.path.join(workdir, "attempt-%d" % attempt)
        try:
            return run_chapter_once(path, root, binary, where)
        except PortTaken as e:
            if attempt == CHAPTER_ATTEMPTS:
                raise AssertionError(f"{e}\n(another process took a port in each of "
                                     f"{CHAPTER_ATTEMPTS} runs)") from None


def run_chapter_once(path, root, binary, workdir):
    """One run of run_chapter; raises PortTaken when the failure came with a
    port of the chapter in use (in the failure message or a *.log file)."""
    steps = read_steps(path)
    tree = os.path.join(workdir, "repo")
    copy_repository(root, tree, binary)
    ports = {str(p): str(q) for p, q in zip(PORTS, free_ports(len(PORTS)))}
    try:
        run_steps(steps, tree, ports, os.path.basename(path), workdir)
    except AssertionError as e:
        if ports_in_use(str(e) + "\n" + log_texts(tree), ports.values()):
            raise PortTaken(str(e)) from None
        raise
    return steps


def run_steps(steps, tree, ports, name, workdir):
    """Run the steps in tree with ports swapped; AssertionError at the first failure."""
    swap = re.compile(r"\b(%s)\b" % "|".join(ports))

    def local(s):
        return swap.sub(lambda m: ports[m.group(1)], s)

    env = reader_environment(os.environ, workdir)
    shell = Shell(tree, env)
    try:
        for step in steps:
            if step.kind == "diff":
                problem = apply_diff(tree, step.patch)
                assert problem is None, f"{name}:{step.line}: {problem}"
                continue
            for c in step.commands:
                where = f"{name}:{c.line}: $ {c.text}"
                try:
                    lines, status = shell.run(local(c.text))
                except TimeoutError as e:
                    raise AssertionError(f"{where}\n{e}\n{log_tails(tree)}") from None
                assert status == c.status, (
                    f"{where}\nexit status {status}, expected {c.status}; it printed:\n"
                    + "\n".join(lines))
                if c.expected:
                    want = [local(e) for e in c.expected]
                    assert output_matches(want, lines), (
                        f"{where}\nexpected:\n" + "\n".join(want)
                        + "\nprinted:\n" + "\n".join(lines))
    finally:
        shell.close()
