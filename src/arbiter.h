/*
 * arbiter.h - the master process: keep the right number of workers alive.
 *
 * Stage 3, fork (Gunicorn counterpart: gunicorn/arbiter.py; the model is
 * Unicorn's, see its DESIGN and SIGNALS files).
 * Owns: forking workers, reaping them, replacing the dead, killing the
 * stuck (heartbeat timeout), and the master's signals:
 *   HUP   reload: read the settings again, start new workers, then gracefully
 *         stop the old ones
 *   TERM  graceful stop: workers finish in-flight requests (--graceful-timeout)
 *   INT, QUIT  quick stop
 *   TTIN, TTOU  one worker more, one less
 *   USR1  reopen log files (and tell the workers)
 *   USR2  binary upgrade: a new master from the same path, sharing the sockets
 *   WINCH  retire every worker, keep the master (roll-back: HUP)
 *   CHLD  a worker exited: reap it
 * Does not own: what a worker does (worker.c) or the sockets' creation (bind.c).
 */
#ifndef GREENHORN_ARBITER_H
#define GREENHORN_ARBITER_H

#include <stddef.h>

#include "bind.h"
#include "config.h"
#include "plugins.h"

/*
 * arbiter_run - run the master loop until it is told to stop or must halt.
 * app is the preloaded app (--preload) or NULL; plugins the extras' slots
 * (every worker gets them too).  Returns the process exit
 * code: 0 after TERM/INT/QUIT, 3 when a worker failed to boot, 4 when the
 * app failed to load (a worker exited with that code: respawning would only
 * fail again, so the master halts, as Gunicorn's does).
 */
int arbiter_run(const struct config *cfg, struct listener *listeners, size_t num_listeners,
                void *app, const struct plugins *plugins);

#endif
