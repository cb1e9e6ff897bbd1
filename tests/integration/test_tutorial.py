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


# ------------------------------------------------------------------ the chapters
#
# Each chapter's console blocks run for real (see shelldoc.py for the
# rules): the commands a reader types, checked against what the chapter says
# they print, and the "Break it" diff applied to a copy of the tree, with the
# test that should catch it run and expected to fail.

import glob  # noqa: E402

import pytest  # noqa: E402

import shelldoc  # noqa: E402

CHAPTERS = sorted(glob.glob(os.path.join(ROOT, "tutorial", "[0-9][0-9]-*.md")))


def test_every_written_chapter_is_in_the_plan_and_linked():
    text = open(PLAN, encoding="utf-8").read()
    numbers = {int(r[0]) for r in plan_rows()}
    assert CHAPTERS, "no chapter written yet"
    for path in CHAPTERS:
        name = os.path.basename(path)
        assert int(name[:2]) in numbers, f"{name}: no row in the plan"
        assert f"({name})" in text, f"{name}: the plan does not link to it"


@pytest.mark.parametrize("path", CHAPTERS, ids=[os.path.basename(p)[:-3] for p in CHAPTERS])
def test_chapter_runs_as_written(path, greenhorn, tmp_path):
    steps = shelldoc.run_chapter(path, ROOT, greenhorn, str(tmp_path))
    blocks = [s for s in steps if s.kind == "console"]
    assert blocks, "a chapter has commands to try"
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for section in ("## Try it", "## Read it", "## Break it"):
        assert section in text, f"{os.path.basename(path)}: no '{section}' section"
    # "Break it": a diff, and after it a command that fails because of it
    diffs = [i for i, s in enumerate(steps) if s.kind == "diff"]
    assert diffs, "the Break it section has a diff to apply"
    after = [c for s in steps[diffs[-1]:] if s.kind == "console" for c in s.commands]
    assert any(c.status != 0 for c in after), "nothing after the diff is shown failing"


def test_the_readers_way_to_save_a_diff_gives_the_diff_the_runner_applies():
    # tutorial/README.md shows a reader how to save a chapter's diff for
    # `patch -p1`: the sed line must give exactly the diff the runner applies.
    sed = next(line.strip() for line in open(PLAN, encoding="utf-8")
               if line.startswith("sed ") and line.rstrip().endswith("> break.diff"))
    for path in CHAPTERS:
        name = os.path.basename(path)
        command = sed.replace("tutorial/00-journey.md", "tutorial/" + name)[: -len("> break.diff")]
        r = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, f"{name}: {r.stderr}"
        diffs = [s.patch for s in shelldoc.read_steps(path) if s.kind == "diff"]
        assert [r.stdout] == diffs, f"{name}: the saved diff is not the one the runner applies"


# ------------------------------------------------------------------ the runner itself


def test_output_patterns():
    m = shelldoc.output_matches
    assert m(["a", "b"], ["a", "b"])
    assert not m(["a", "b"], ["a", "b", "c"])  # all of the output is accounted for
    assert m(["a", "..."], ["a", "b", "c"])
    assert m(["...", "c"], ["c"])
    assert m(["x ... y"], ["x 1 2 y"])
    assert not m(["x ... y"], ["x 1 2 z"])
    assert not m(["a.c"], ["abc"])  # only ... is special
    assert m([], [])


def test_a_wrong_expectation_fails_the_chapter(greenhorn, tmp_path):
    chapter = tmp_path / "99-wrong.md"
    chapter.write_text("```console\n$ echo hello\ngoodbye\n```\n")
    with pytest.raises(AssertionError, match="expected:\ngoodbye\nprinted:\nhello"):
        shelldoc.run_chapter(str(chapter), ROOT, greenhorn, str(tmp_path / "w"))


def test_exit_status_state_and_ports_carry_over(greenhorn, tmp_path):
    chapter = tmp_path / "99-state.md"
    chapter.write_text(
        "```console\n$ X=1; cd src\n$ false\n[1]\n```\n"
        "text\n\n```console\n$ echo $X $(basename $PWD) 8000\n1 src 8000\n$ test 8000 != 8001\n```\n")
    shelldoc.run_chapter(str(chapter), ROOT, greenhorn, str(tmp_path / "w"))
    chapter.write_text("```console\n$ false\n```\n")
    with pytest.raises(AssertionError, match="exit status 1, expected 0"):
        shelldoc.run_chapter(str(chapter), ROOT, greenhorn, str(tmp_path / "w2"))


def test_a_chapter_runs_as_in_a_readers_terminal(greenhorn, tmp_path, monkeypatch):
    # A CI service sets CI, and pytest then prints whole failure messages in
    # its summary: the chapters' expected output must not depend on that.
    for name, value in (("CI", "true"), ("BUILD_NUMBER", "7"), ("MAKEFLAGS", "-s"),
                        ("PYTEST_ADDOPTS", "-v"), ("COLUMNS", "200")):
        monkeypatch.setenv(name, value)
    chapter = tmp_path / "99-env.md"
    chapter.write_text("```console\n$ echo ${CI-none} ${BUILD_NUMBER-none} ${MAKEFLAGS-none}"
                       " ${PYTEST_ADDOPTS-none} $COLUMNS\nnone none none none 80\n```\n")
    shelldoc.run_chapter(str(chapter), ROOT, greenhorn, str(tmp_path / "w"))


# A file of five lines, then a diff that changes its third line.  The
# header says where the hunk starts and its first context line; both must
# be right, or the reader's `patch` warns.
FIVE_LINES = "```console\n$ printf 'one\\ntwo\\nthree\\nfour\\nfive\\n' > f.txt\n```\n"
EXACT = "@@ -2,3 +2,3 @@\n two\n-three\n+THREE\n four\n"
OFFSET = "@@ -1,3 +1,3 @@\n two\n-three\n+THREE\n four\n"  # the hunk is one line lower
FUZZ = "@@ -2,3 +2,3 @@\n TWO\n-three\n+THREE\n four\n"  # a context line does not match


def break_it_chapter(tmp_path, hunk):
    chapter = tmp_path / "99-patch.md"
    chapter.write_text(FIVE_LINES + "```diff\n--- a/f.txt\n+++ b/f.txt\n" + hunk + "```\n"
                       "```console\n$ sed -n 3p f.txt\nTHREE\n```\n")
    return str(chapter)


def test_a_diff_must_apply_exactly(greenhorn, tmp_path):
    shelldoc.run_chapter(break_it_chapter(tmp_path, EXACT), ROOT, greenhorn, str(tmp_path / "w"))
    for hunk, said in ((OFFSET, r"succeeded at 2 \(offset 1 line\)"), (FUZZ, "with fuzz 1")):
        with pytest.raises(AssertionError, match=r"(?s)99-patch.md:\d+: the diff does not apply "
                           r"exactly.*" + said):
            shelldoc.run_chapter(break_it_chapter(tmp_path, hunk), ROOT, greenhorn,
                                 str(tmp_path / ("w-" + said[:4])))


def test_every_chapter_the_plan_links_is_written():
    text = open(PLAN, encoding="utf-8").read()
    links = re.findall(r"\]\((\d\d-[\w-]+\.md)\)", text)
    assert len(links) == len(plan_rows()), "one link per chapter row"
    for name in links:
        assert os.path.exists(os.path.join(ROOT, "tutorial", name)), f"{name} is linked but missing"


def test_a_command_that_never_ends_fails_with_the_logs(greenhorn, tmp_path, monkeypatch):
    monkeypatch.setattr(shelldoc, "COMMAND_TIMEOUT", 1.0)
    chapter = tmp_path / "99-hang.md"
    chapter.write_text("```console\n$ echo the server said this > server.log\n$ sleep 30\n```\n")
    with pytest.raises(AssertionError, match=r"(?s)sleep 30.*no end after 1 s.*server.log.*said this"):
        shelldoc.run_chapter(str(chapter), ROOT, greenhorn, str(tmp_path / "w"))


def test_a_chapter_whose_port_was_taken_runs_again(greenhorn, tmp_path):
    # The first run fails the way a server whose port another process took
    # fails (its log names the port as in use); the second run passes.
    marker = tmp_path / "first-run-done"
    chapter = tmp_path / "99-taken.md"
    chapter.write_text(
        "```console\n"
        f"$ test -e {marker} || {{ touch {marker};"
        " echo '127.0.0.1:8000: Address already in use' > server.log; }\n"
        "$ cat server.log 2>/dev/null | grep -c 'in use'\n"
        "0\n"
        "[1]\n"
        "```\n")
    shelldoc.run_chapter(str(chapter), ROOT, greenhorn, str(tmp_path / "w"))
    assert marker.exists() and (tmp_path / "w" / "attempt-2").is_dir()


def test_a_failure_without_a_taken_port_is_not_run_again(greenhorn, tmp_path):
    chapter = tmp_path / "99-busy.md"
    # "in use" for a port that is not one of the chapter's is no reason to run again.
    chapter.write_text("```console\n$ echo '127.0.0.1:1: Address already in use' > x.log\n"
                       "$ false\n```\n")
    with pytest.raises(AssertionError, match="exit status 1, expected 0"):
        shelldoc.run_chapter(str(chapter), ROOT, greenhorn, str(tmp_path / "w"))
    assert not (tmp_path / "w" / "attempt-2").exists()
