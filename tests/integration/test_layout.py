"""The include rules `make lint` checks (scripts/check_layout.py): the core
never includes an extra, and src/ has no include cycle.  Run on the real
tree, and on small made-up trees that break each rule, so the check itself
is known to fail when it should."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "check_layout.py")


def run(src):
    return subprocess.run([sys.executable, SCRIPT, str(src)], capture_output=True, text=True)


def make_tree(tmp_path, files):
    for rel, text in files.items():
        path = tmp_path / "src" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "src"


def test_the_real_tree_keeps_the_rules():
    r = run(os.path.join(ROOT, "src"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no core file includes an extra" in r.stdout


def test_a_core_file_including_an_extra_is_refused(tmp_path):
    src = make_tree(tmp_path, {
        "worker.c": '#include "worker.h"\n#include "hooks.h"\n',
        "worker.h": "",
        "main.c": '#include "extras/hooks.h"\n',  # main.c, the wiring, may
        "extras/hooks.h": "",
        "extras/hooks.c": '#include "hooks.h"\n#include "log.h"\n',  # extras may use the core
        "log.h": "",
    })
    r = run(src)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        "worker.c: the core includes the extra extras/hooks.h (plug it in from main.c)"]


def test_an_include_cycle_is_refused(tmp_path):
    src = make_tree(tmp_path, {
        "input.c": '#include "input.h"\n#include "worker.h"\n',
        "input.h": "",
        "worker.c": '#include "worker.h"\n#include "http_internal.h"\n',
        "worker.h": "",
        "http.c": '#include "http_internal.h"\n#include "input.h"\n',
        "http_internal.h": "",
    })
    r = run(src)
    assert r.returncode == 1
    assert r.stdout.strip() == "include cycle: http -> input -> worker -> http"
