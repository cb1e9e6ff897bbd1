"""Every C extension module this Python has, imported and used inside a worker.

greenhorn links the static libpython into its own binary (Makefile: PY_LINK),
so an extension module finds the interpreter's symbols in the program itself,
as it does in /usr/bin/python3, and not in libpython3.11.so.  This app imports
each module of the standard library's lib-dynload directory, exercises the
ones people depend on (TLS, ctypes, sqlite3, compression, decimal, XML), and
the third-party extensions that are installed (lxml, PyYAML's C loader,
MarkupSafe, cffi, cryptography, psycopg2, numpy), and answers a JSON report:
{"ok": [...], "failed": {name: error}, "absent": [...]}.

`python3 extmods.py` prints the same report for /usr/bin/python3 itself, so a
test can ask for the same modules to work in both.
"""
import importlib
import json
import os
import sys
import sysconfig

# Optional packages: absent is fine, present must work.
THIRD_PARTY = ("lxml.etree", "yaml._yaml", "markupsafe._speedups", "_cffi_backend",
               "cryptography.hazmat.bindings._rust", "psycopg2", "numpy")
# Modules that cannot be used in a server process for reasons of their own.
NOT_HERE = {"_tkinter": "needs a display (python3-tk)", "readline": "needs a terminal"}


def dynload_modules():
    """The module names of lib-dynload's shared objects (zlib, _ssl, _ctypes...)."""
    where = sysconfig.get_config_var("DESTSHARED") or ""
    names = set()
    if os.path.isdir(where):
        for entry in os.listdir(where):
            if entry.endswith(".so"):
                names.add(entry.split(".", 1)[0])
    return sorted(n for n in names if n not in NOT_HERE)


def exercise(name, module):
    """Use the module a little, where importing it says too little."""
    if name == "_ssl":
        import ssl  # pylint: disable=import-outside-toplevel
        ctx = ssl.create_default_context()
        assert ctx.verify_mode == ssl.CERT_REQUIRED
    elif name == "_ctypes":
        import ctypes  # pylint: disable=import-outside-toplevel
        # CDLL(None): the program's own symbols; libc's strlen through ctypes.
        assert ctypes.CDLL(None).strlen(b"greenhorn") == 9
    elif name == "_sqlite3":
        import sqlite3  # pylint: disable=import-outside-toplevel
        con = sqlite3.connect(":memory:")
        assert con.execute("select 6 * 7").fetchone() == (42,)
        con.close()
    elif name == "zlib":
        assert module.decompress(module.compress(b"x" * 1000)) == b"x" * 1000
    elif name == "_hashlib":
        import hashlib  # pylint: disable=import-outside-toplevel
        assert hashlib.sha256(b"").hexdigest().startswith("e3b0c442")
    elif name == "_decimal":
        import decimal  # pylint: disable=import-outside-toplevel
        assert str(decimal.Decimal("1.10") + decimal.Decimal("2.20")) == "3.30"
    elif name == "pyexpat":
        import xml.etree.ElementTree as ET  # pylint: disable=import-outside-toplevel
        assert ET.fromstring("<a><b>1</b></a>").find("b").text == "1"
    elif name == "lxml.etree":
        assert module.fromstring(b"<a><b>2</b></a>").findtext("b") == "2"
    elif name == "yaml._yaml":
        import yaml  # pylint: disable=import-outside-toplevel
        assert yaml.load("a: [1, 2]", Loader=yaml.CLoader) == {"a": [1, 2]}
    elif name == "markupsafe._speedups":
        assert str(module.escape("<b>")) == "&lt;b&gt;"
    elif name == "numpy":
        assert int(module.arange(10).sum()) == 45


def report():
    """Import and exercise every module; the JSON report as a dict."""
    out = {"python": sys.version.split()[0], "ok": [], "failed": {}, "absent": []}
    dynload = dynload_modules()
    # Debian builds these into the interpreter itself; exercised all the same.
    builtin = [n for n in ("zlib", "pyexpat", "_hashlib") if n not in dynload]
    for name in dynload + builtin + list(THIRD_PARTY):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if name in THIRD_PARTY and err.name and name.startswith(err.name):
                out["absent"].append(name)
            else:
                out["failed"][name] = "%s: %s" % (type(err).__name__, err)
            continue
        except Exception as err:  # pylint: disable=broad-except
            out["failed"][name] = "%s: %s" % (type(err).__name__, err)
            continue
        try:
            exercise(name, module)
            out["ok"].append(name)
        except Exception as err:  # pylint: disable=broad-except
            out["failed"][name] = "%s: %s" % (type(err).__name__, err)
    return out


def application(environ, start_response):
    """WSGI: the report of this worker's interpreter, as JSON."""
    body = json.dumps(report(), sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


if __name__ == "__main__":
    print(json.dumps(report(), sort_keys=True))
