"""Extension modules import and work inside a greenhorn worker as under python3.

greenhorn links Debian's static libpython3.11.a into its own (non-PIE)
binary and exports the interpreter's symbols, the way /usr/bin/python3 is
linked, so that C extensions resolve them in the program (Makefile,
PY_LINK).  A mistake there shows only when an app imports an extension:
"undefined symbol: PyExc_ValueError" from _ctypes, say.  The app
apps/extmods.py imports every module of lib-dynload and the installed
third-party extensions, and uses the ones apps depend on; the same report
under /usr/bin/python3 says what must work.
"""
import json
import os
import subprocess

import harness

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps")


def python3_report():
    done = subprocess.run([harness.PYTHON, os.path.join(APPS, "extmods.py")], capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def test_every_extension_module_works_in_a_worker(spawn):
    _server, port = spawn.tcp(["-w", "1", "-t", "120"], app="extmods:application")
    reply = harness.get(port, "/")
    assert reply.status == 200, reply.raw[:500]
    ours = json.loads(reply.body)
    theirs = python3_report()
    assert ours["python"] == theirs["python"]
    assert ours["failed"] == {}, "failed inside greenhorn: %s" % ours["failed"]
    # Everything that works under python3 works here too, and the other way.
    assert sorted(ours["ok"]) == sorted(theirs["ok"])
    assert sorted(ours["absent"]) == sorted(theirs["absent"])
    # The ones the issue names: TLS, ctypes, sqlite3 (always in lib-dynload).
    for name in ("_ssl", "_ctypes", "_sqlite3", "_decimal", "zlib", "pyexpat"):
        assert name in ours["ok"]
