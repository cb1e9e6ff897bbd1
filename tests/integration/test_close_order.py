"""The client has its whole answer before the app's close() runs.

PEP 3333 asks for result.close() exactly once when the request is done;
greenhorn calls it after closing the connection, so cleanup work in close()
(Flask's teardown handlers run there) never delays the client.  The proof
needs no clock: the app's close() waits for a file that the test creates
only after it has read the response to EOF.  Were close() called first, the
EOF could not come until close() gave up waiting, and it records that.
"""
import os
import time

import harness

APP = '''
import os, time

class Body:
    def __init__(self, folder):
        self.folder = folder
    def __iter__(self):
        yield b"part one, "
        yield b"part two"
    def close(self):
        marker = os.path.join(self.folder, "client-has-eof")
        for _ in range(200):            # up to 10 s
            if os.path.exists(marker):
                verdict = "after-eof"
                break
            time.sleep(0.05)
        else:
            verdict = "gave-up"
        with open(os.path.join(self.folder, "close.log"), "a") as f:
            f.write(verdict + "\\n")

def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Body(os.environ["CLOSE_DIR"])
'''


def test_close_runs_after_the_client_has_eof(spawn, tmp_path):
    folder = str(tmp_path)
    with open(os.path.join(folder, "slowclose.py"), "w") as f:
        f.write(APP)
    server, port = spawn.tcp(["-w", "1", "--chdir", folder], app="slowclose:application",
                             cwd=folder, env={"CLOSE_DIR": folder})
    log = os.path.join(folder, "close.log")
    for round_ in range(3):
        reply = harness.get(port, "/")  # reads until EOF
        assert reply.status == 200 and reply.body == b"part one, part two"
        open(os.path.join(folder, "client-has-eof"), "w").close()
        for _ in range(200):
            if os.path.exists(log) and len(open(log).read().split()) == round_ + 1:
                break
            time.sleep(0.05)
        assert open(log).read().split() == ["after-eof"] * (round_ + 1), server.log()
        os.unlink(os.path.join(folder, "client-has-eof"))
