/*
 * hooks.h - the worker hooks of a Gunicorn config file, run in the worker.
 *
 * Stage 4, accept (Gunicorn counterpart: the hooks in gunicorn/config.py,
 * called from gunicorn/arbiter.py and gunicorn/workers/base.py).
 * Every function here needs the GIL.
 */
#ifndef GREENHORN_HOOKS_H
#define GREENHORN_HOOKS_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

/* The hooks a worker runs, in the order of a worker's life. */
enum hook { HOOK_POST_FORK, HOOK_POST_WORKER_INIT, HOOK_WORKER_EXIT, HOOK_COUNT };

/*
 * hooks_load - run cfg->config_read (the config file, if one was read) in
 * this worker and keep the functions it defines for enum hook.  master is
 * the master's pid (server.pid).  Returns 0 (also when there is no file, or
 * no hook in it), or -1 with err: the file failed to run here.
 */
int hooks_load(const struct config *cfg, pid_t master, char *err, size_t errlen);

/*
 * hooks_run - call one hook if the file defines it: post_fork(server,
 * worker), post_worker_init(worker) or worker_exit(server, worker), as
 * Gunicorn calls them.  Returns 0, or -1 with err (the exception's last
 * line; the whole traceback is logged).
 */
int hooks_run(enum hook which, char *err, size_t errlen);

/* hooks_free - drop the hooks and their objects. */
void hooks_free(void);

#endif
