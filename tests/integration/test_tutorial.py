"""The tutorial is code too: what tutorial/README.md names must exist.

The chapter plan names a stage file (or files) and a Gunicorn counterpart
per chapter, and the make targets a reader is told to run.  If a file is
renamed or a target removed, the plan is wrong, and this test says where.
"""
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAN = os.path.join(ROOT, "tutorial", "README.md")


def plan_rows():
    rows = []
    for line in open(PLAN, encoding="utf-8"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].isdigit():
            rows.append(cells)
    return rows


def test_plan_has_one_chapter_per_stage_and_more():
    rows = plan_rows()
    assert [int(r[0]) for r in rows] == list(range(len(rows)))
    stage_files = {f for r in rows for f in re.findall(r"`(src/[\w.]+)`", r[2])}
    # every stage of the design has its chapter
    for name in ("config", "bind", "arbiter", "worker", "http", "environ", "wsgi",
                 "response", "signals"):
        assert f"src/{name}.c" in stage_files, f"no chapter reads src/{name}.c"


def test_every_file_the_plan_names_exists():
    for row in plan_rows():
        for path in re.findall(r"`((?:src|bench|examples)/[\w./]*|Makefile)`", row[2]):
            assert os.path.exists(os.path.join(ROOT, path)), f"chapter {row[0]}: {path} missing"


def test_every_make_target_the_tutorial_mentions_exists():
    text = open(PLAN, encoding="utf-8").read()
    targets = set(re.findall(r"`make (\w[\w-]*)`", text))
    assert {"run", "test"} <= targets
    for t in sorted(targets):
        # -n: print what would run, run nothing; a missing target fails
        r = subprocess.run(["make", "-n", "-C", ROOT, t], capture_output=True, text=True)
        assert r.returncode == 0, f"make {t}: {r.stderr.strip()}"
