"""What a worker's Python looks like: the facts that must not depend on
whether python3 runs greenhorn (greenhorn.so) or greenhorn embeds Python."""
import json
import os
import signal
import sys


def application(environ, start_response):
    facts = {
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "argv": sys.argv,
        "path": sys.path,
        "flags": list(sys.flags),
        "signals": {name: str(signal.getsignal(getattr(signal, name)))
                    for name in ("SIGINT", "SIGPIPE", "SIGXFSZ")},
        "main_names": sorted(n for n in vars(sys.modules["__main__"]) if not n.startswith("__")),
        "env": os.environ.get("FROM_E"),
        "cwd": os.getcwd(),
    }
    body = json.dumps(facts).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
