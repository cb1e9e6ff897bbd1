/*
 * master_hooks.h - the master's hooks of a Gunicorn config file, run in a
 * hook process that lives as long as the master (see master_hooks.c).
 *
 * An extra: plugs into stage 3, fork, through plugins.h (Gunicorn
 * counterpart: the cfg.on_starting, when_ready, pre_fork, child_exit,
 * nworkers_changed, on_reload and on_exit calls in gunicorn/arbiter.py).
 */
#ifndef GREENHORN_MASTER_HOOKS_H
#define GREENHORN_MASTER_HOOKS_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "plugins.h"

/*
 * master_hooks_start - when cfg->master_hooks is not 0, fork the hook
 * process: it starts Python, runs cfg->config_read once and waits for calls.
 * Returns 0 (also when there is nothing to start), or -1 with err such as
 * "gunicorn.conf.py: ImportError: ..." (the process is gone again).
 */
int master_hooks_start(const struct config *cfg, char *err, size_t errlen);

/*
 * master_hooks_call - run one hook in the hook process and wait for it to
 * return, as Gunicorn's master waits for its hook.  Returns 0 (also when
 * the file does not define that hook), or -1 with err, a line such as "The
 * when_ready hook failed: RuntimeError: no database": the hook raised (the
 * hook process logged its traceback) or the hook process is gone.
 */
int master_hooks_call(const struct master_call *call, char *err, size_t errlen);

/*
 * master_hooks_reaped - the master's reaper found pid dead; if it was the
 * hook process, say so in the log (unless master_hooks_stop asked it to
 * go) and run no more hooks.  Returns 1 if pid was the hook process, else 0.
 */
int master_hooks_reaped(pid_t pid, int status);

/* master_hooks_forget - in a freshly forked worker: close the master's end
 * of the hook process's socket, so that only the master holds it. */
void master_hooks_forget(void);

/* master_hooks_stop - close the socket (the hook process then exits) and
 * wait for the process; SIGKILL if it has not left after 5 s. */
void master_hooks_stop(void);

#endif
