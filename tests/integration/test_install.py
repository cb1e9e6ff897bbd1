"""Installing like a server: make install and uninstall, greenhorn(1), and virtualenvs.

`make install` (PREFIX, DESTDIR) copies the built binary and the manual
page, which is generated from the settings table and must list every
option of --help and render without a groff warning.  Installed into a
virtualenv (PREFIX=venv), greenhorn uses that virtualenv without
activation, as venv/bin/python does.  A virtualenv of another Python X.Y
than the one greenhorn embeds stops the start in one line, exit 3.

make runs with the build that is there: the binary under test is named
with BIN= and never remade (-o), so no test compiles greenhorn.
"""

import os
import re
import shutil
import stat
import subprocess
import sys

import pytest

import harness
from conftest import REPO

PY_XY = "%d.%d" % sys.version_info[:2]  # /usr/bin/python3's, the one greenhorn embeds
# What a make started by a make (make test, make coverage) would inherit:
# its variables (BUILD=build/cov ...) must not reach this one.
MAKE_VARS = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")

PREFIX_APP = '''import sys

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [sys.prefix.encode(), b"\\n", sys.executable.encode()]
'''


def make(greenhorn, *args):
    env = {k: v for k, v in os.environ.items() if k not in MAKE_VARS}
    done = subprocess.run(["make", "--no-print-directory", "BIN=" + greenhorn, "-o", greenhorn]
                          + list(args), cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, "make %s failed:\n%s%s" % (" ".join(args), done.stdout,
                                                              done.stderr)
    return done


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def make_venv(where, python="/usr/bin/python3"):
    """A virtualenv made by python, with a module only it has: prefix_app."""
    subprocess.run([python, "-m", "venv", "--without-pip", where], check=True, timeout=120,
                   capture_output=True)
    xy = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                        check=True, capture_output=True, text=True).stdout.strip()
    site = os.path.join(where, "lib", "python" + xy, "site-packages")
    with open(os.path.join(site, "prefix_app.py"), "w") as f:
        f.write(PREFIX_APP)
    return where


def fake_venv(where, cfg_lines):
    """What another Python's `-m venv` leaves, as far as greenhorn looks."""
    os.makedirs(os.path.join(where, "lib", "python3.12", "site-packages"))
    os.makedirs(os.path.join(where, "bin"))
    with open(os.path.join(where, "pyvenv.cfg"), "w") as f:
        f.write("home = /usr/local/bin\ninclude-system-site-packages = false\n"
                + "".join(line + "\n" for line in cfg_lines))
    return where


def served_prefix(spawn, argv, env=None):
    """Start argv (an installed greenhorn and its options) serving
    prefix_app; return its reply: sys.prefix, then sys.executable."""
    server, port = spawn.tcp(["-w", "1"], app="prefix_app:app", command=argv, env=env)
    reply = harness.get(port, "/")
    assert reply.status == 200, server.describe()
    return reply.body.decode().split("\n")


def refused(greenhorn, args, env=None, cwd=None):
    """Run greenhorn expecting a refusal: (exit status, stderr lines)."""
    done = subprocess.run([greenhorn] + args, env=harness.clean_env(env), cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    return done.returncode, done.stderr.splitlines()


# ---------------------------------------------------------------- make install


def test_install_lays_out_the_binary_and_the_page_and_uninstall_removes_them(greenhorn,
                                                                             tmp_path):
    dest = str(tmp_path / "stage")
    make(greenhorn, "install", "DESTDIR=" + dest, "PREFIX=/usr/local")
    binary = os.path.join(dest, "usr/local/bin/greenhorn")
    page = os.path.join(dest, "usr/local/share/man/man1/greenhorn.1")
    assert mode(binary) == 0o755 and mode(page) == 0o644
    with open(binary, "rb") as a, open(greenhorn, "rb") as b:
        assert a.read() == b.read(), "the installed binary is not the one built"
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    assert version.stdout.startswith("greenhorn ")
    make(greenhorn, "uninstall", "DESTDIR=" + dest, "PREFIX=/usr/local")
    assert not os.path.exists(binary) and not os.path.exists(page)


def built_page(greenhorn):
    make(greenhorn, "man")
    with open(os.path.join(REPO, "build", "greenhorn.1")) as f:
        return f.read()


def test_the_page_lists_every_option_of_help(greenhorn):
    page = built_page(greenhorn)
    help_text = subprocess.run([greenhorn, "--help"], capture_output=True, text=True,
                               timeout=30).stdout
    in_help = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*|-[a-zA-Z])\b", help_text))
    # In roff a '-' an option is typed with is \-: "\fB\-w\fR, \fB\-\-workers\fR"
    in_page = set("--" + name.replace("\\-", "-")
                  for name in re.findall(r"\\-\\-([a-z](?:\w|\\-)*)", page))
    in_page |= set("-" + c for c in re.findall(r"\\fB\\-([a-zA-Z])\\fR", page))
    assert len(in_help) > 40
    assert in_help - in_page == set(), "options of --help missing from greenhorn(1)"
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SIGNALS", "ENVIRONMENT",
                    "EXIT STATUS", "SEE ALSO"):
        assert re.search(r"^\.SH \"?%s\"?$" % section, page, re.M), section
    for variable in ("GUNICORN_CMD_ARGS", "WEB_CONCURRENCY", "PORT", "FORWARDED_ALLOW_IPS",
                     "VIRTUAL_ENV", "NOTIFY_SOCKET", "LISTEN_FDS", "GUNICORN_FD"):
        assert re.search(r"^\.B[R]? %s\b" % variable, page, re.M), variable
    # a default from the table: --workers' 1, or $WEB_CONCURRENCY
    assert re.search(r"\\-\\-workers.*\n.*\nDefault: \\fB1\\fR, or \\fB\$WEB_CONCURRENCY", page)


def test_the_page_renders_without_warnings(greenhorn, tmp_path):
    built_page(greenhorn)
    path = os.path.join(REPO, "build", "greenhorn.1")
    # -ww: every warning; -z: no output, only the diagnostics
    groff = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", path], capture_output=True,
                           text=True, timeout=60)
    assert groff.returncode == 0 and groff.stderr == "", groff.stderr
    shown = subprocess.run(["man", "-l", path], capture_output=True, text=True, timeout=60,
                           env=dict(harness.clean_env(), MANWIDTH="80", MAN_KEEP_FORMATTING="0"))
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    text = re.sub(".\b", "", shown.stdout)  # the overstrikes of bold and underline
    assert "--virtualenv DIR" in text.replace("\u2010", "-").replace("\u2212", "-")


# ---------------------------------------------------------------- virtualenvs


def test_installed_into_a_virtualenv_it_uses_it_without_activation(greenhorn, spawn, tmp_path,
                                                                   monkeypatch):
    venv = make_venv(str(tmp_path / "venv"))
    make(greenhorn, "install", "PREFIX=" + venv)
    assert mode(os.path.join(venv, "bin", "greenhorn")) == 0o755
    assert os.path.isfile(os.path.join(venv, "share", "man", "man1", "greenhorn.1"))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)  # no activation
    prefix, executable = served_prefix(spawn, [os.path.join(venv, "bin", "greenhorn")])
    assert prefix == venv and executable == os.path.join(venv, "bin", "python")
    # run by name, found in $PATH (a unit's Environment=PATH=..., a shell)
    path = os.path.join(venv, "bin") + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin")
    prefix, _ = served_prefix(spawn, ["greenhorn"], env={"PATH": path})
    assert prefix == venv


def test_the_executables_virtualenv_beats_virtual_env_as_in_python(greenhorn, spawn, tmp_path):
    venv = make_venv(str(tmp_path / "venv"))
    other = make_venv(str(tmp_path / "other"))
    make(greenhorn, "install", "PREFIX=" + venv)
    installed = os.path.join(venv, "bin", "greenhorn")
    # venv/bin/python ignores an activated shell's $VIRTUAL_ENV: so does greenhorn
    python = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                             "import sys; print(sys.prefix)"], capture_output=True, text=True,
                            env=harness.clean_env({"VIRTUAL_ENV": other}), timeout=60)
    assert python.stdout.strip() == venv
    prefix, _ = served_prefix(spawn, [installed], env={"VIRTUAL_ENV": other})
    assert prefix == venv
    # --virtualenv, asked for by name, wins
    prefix, _ = served_prefix(spawn, [installed, "--virtualenv", other])
    assert prefix == other


def test_a_virtualenv_of_the_same_python_is_accepted(spawn, tmp_path, greenhorn):
    venv = make_venv(str(tmp_path / "venv"))
    with open(os.path.join(venv, "pyvenv.cfg")) as f:
        assert re.search(r"^version = %s\.\d+$" % re.escape(PY_XY), f.read(), re.M)
    prefix, _ = served_prefix(spawn, [greenhorn, "--virtualenv", venv])
    assert prefix == venv


def test_a_virtualenv_of_the_pyenv_python_of_the_same_minor_is_accepted(spawn, tmp_path,
                                                                        greenhorn):
    python = shutil.which("python3")
    if python is None or os.path.realpath(python) == os.path.realpath("/usr/bin/python3"):
        pytest.skip("no other python3 first on PATH than /usr/bin/python3")
    xy = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                        capture_output=True, text=True, timeout=60).stdout.strip()
    if xy != PY_XY:
        pytest.skip("the python3 first on PATH is %s, not %s" % (xy, PY_XY))
    venv = make_venv(str(tmp_path / "venv"), python)
    prefix, _ = served_prefix(spawn, [greenhorn, "--virtualenv", venv])
    assert prefix == venv


MISMATCH = ("greenhorn: error: the virtualenv %s is Python 3.12 (pyvenv.cfg), greenhorn embeds "
            "Python {xy}: make the virtualenv with python{xy} (or rebuild greenhorn against "
            "3.12)").format(xy=PY_XY)


@pytest.mark.parametrize("cfg_line", ["version = 3.12.1", "version_info = 3.12.1.final.0"])
def test_a_virtualenv_of_another_python_stops_the_start_in_one_line(greenhorn, tmp_path,
                                                                    cfg_line):
    venv = fake_venv(str(tmp_path / "venv312"), [cfg_line])
    assert refused(greenhorn, ["--virtualenv", venv, "app:app"]) == (3, [MISMATCH % venv])
    assert refused(greenhorn, ["app:app"], env={"VIRTUAL_ENV": venv}) == (3, [MISMATCH % venv])
    # installed into it: its own virtualenv
    shutil.copy(greenhorn, os.path.join(venv, "bin", "greenhorn"))
    assert refused(os.path.join(venv, "bin", "greenhorn"), ["app:app"]) == (3, [MISMATCH % venv])
    # relative to --chdir, as the workers see it
    assert refused(greenhorn, ["--chdir", str(tmp_path), "--virtualenv", "venv312",
                               "app:app"]) == (3, [MISMATCH % "venv312"])


def other_pythons():
    """Pythons of another X.Y than ours: python3.N on PATH, and pyenv's own
    (its shims on PATH answer only for the versions it has selected)."""
    found = [shutil.which("python3.%d" % n) for n in range(8, 20)]
    pyenv = os.path.expanduser("~/.pyenv/versions")
    if os.path.isdir(pyenv):
        found += [os.path.join(pyenv, v, "bin", "python3") for v in sorted(os.listdir(pyenv))]
    for python in found:
        if python is None or not os.access(python, os.X_OK):
            continue
        ask = subprocess.run([python, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=60)
        xy = ask.stdout.strip()
        if ask.returncode == 0 and xy != PY_XY and tuple(map(int, xy.split("."))) >= (3, 8):
            yield python, xy


def test_a_real_virtualenv_of_another_python_is_refused(greenhorn, tmp_path):
    python, xy = next(other_pythons(), (None, None))
    if python is None:
        pytest.skip("no Python 3.8 or newer of another X.Y than %s here to make a virtualenv"
                    % PY_XY)
    venv = str(tmp_path / "venv")
    subprocess.run([python, "-m", "venv", "--without-pip", venv], check=True, timeout=120,
                   capture_output=True)
    code, lines = refused(greenhorn, ["--virtualenv", venv, "app:app"])
    assert code == 3 and len(lines) == 1, lines
    assert lines[0].startswith("greenhorn: error: the virtualenv %s is Python %s (pyvenv.cfg), "
                               "greenhorn embeds Python %s" % (venv, xy, PY_XY)), lines
