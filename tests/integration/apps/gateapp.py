"""gateapp - rawapp, loaded only once the file named by $GATE exists.

A worker importing this module has not loaded its app until the test
creates that file ("opens the gate"), so a test can tell what a server
does before its workers are ready from what it does after (when it tells
systemd READY=1, for one).  Each worker that has loaded it leaves a file
GATE.loaded.PID.  Without $GATE it is rawapp at once.

Nothing here is greenhorn-specific: run it under any WSGI server.
"""

import os
import time

GATE = os.environ.get("GATE")
while GATE and not os.path.exists(GATE):
    time.sleep(0.02)

from rawapp import application  # noqa: E402,F401  (re-exported: gateapp:application)

if GATE:
    open("%s.loaded.%d" % (GATE, os.getpid()), "w").close()
