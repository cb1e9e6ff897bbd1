"""--user and --group: workers give up the master's identity before any app code runs.

Gunicorn's set_owner_process, made stricter: the supplementary groups are
replaced too (Gunicorn keeps root's unless --initgroups), and a --user
without --group takes that user's own group.  The unix socket and the log
files are given to the user, as Gunicorn does.  Switching users needs root,
which CI has; elsewhere these tests skip and say why.
"""

import grp
import json
import os
import pwd
import stat
import subprocess

import pytest

import harness

# open_dir (conftest.py): a folder any user can read, with whoapp.py in it

def who(addr):
    reply = harness.get(addr, "/")
    assert reply.status == 200, reply.raw[:300]
    return json.loads(reply.body)


def test_workers_run_as_the_user_and_its_group(spawn, open_dir):
    nobody = pwd.getpwnam("nobody")
    sock = os.path.join(open_dir, "app.sock")
    log = os.path.join(open_dir, "access.log")
    server = spawn.server(["-w", "2", "--user", "nobody", "-b", "unix:" + sock,
                           "--access-logfile", log, "--chdir", open_dir, "whoapp:application"],
                          cwd=open_dir, addr=sock)
    ids = who(sock)
    assert ids["uid"] == nobody.pw_uid and ids["gid"] == nobody.pw_gid, (ids, server.describe())
    assert 0 not in ids["groups"], ids  # root's groups are gone
    assert os.stat(sock).st_uid == nobody.pw_uid and stat.S_ISSOCK(os.stat(sock).st_mode)
    assert os.stat(log).st_uid == nobody.pw_uid
    assert os.getuid() == 0  # the master, like this test, is still root


def test_group_by_name_and_user_by_number(spawn, open_dir):
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrnam("nogroup") if _has_group("nogroup") else grp.getgrgid(nobody.pw_gid)
    _, port = spawn.tcp(["-u", str(nobody.pw_uid), "-g", group.gr_name, "--chdir", open_dir],
                        app="whoapp:application", cwd=open_dir)
    ids = who(port)
    assert (ids["uid"], ids["gid"]) == (nobody.pw_uid, group.gr_gid), ids
    assert group.gr_gid in ids["groups"] and 0 not in ids["groups"], ids


@pytest.mark.parametrize("args, why", [
    (["--user", "no-such-user-here"], "--user: no such user 'no-such-user-here'"),
    (["-g", "no-such-group-here"], "--group: no such group 'no-such-group-here'"),
])
def test_an_unknown_user_or_group_is_a_usage_error(greenhorn, args, why):
    done = subprocess.run([greenhorn] + args + ["rawapp:application"], capture_output=True,
                          text=True, timeout=10, env=harness.clean_env(None))
    assert done.returncode == 2, done.stderr
    assert [line for line in done.stderr.splitlines() if why in line], done.stderr


def _has_group(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False
