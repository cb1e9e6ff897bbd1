/*
 * master_hooks.h - the master's hooks of a Gunicorn config file, run in a
 * hook process that lives as long as the master (see master_hooks.c).
 *
 * Stage 3, fork (Gunicorn counterpart: the cfg.on_starting, when_ready,
 * pre_fork, child_exit, nworkers_changed, on_reload and on_exit calls in
 * gunicorn/arbiter.py).
 */
#ifndef GREENHORN_MASTER_HOOKS_H
#define GREENHORN_MASTER_HOOKS_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

/* The master's hooks.  The config reader (config_file.c) reports the ones a
 * file defines as bits of cfg->master_hooks, 1 << enum master_hook, so its
 * MASTER_HOOKS tuple lists the same names in the same order. */
enum master_hook {
    MASTER_NWORKERS_CHANGED, /* nworkers_changed(server, new_value, old_value) */
    MASTER_ON_STARTING,      /* on_starting(server) */
    MASTER_WHEN_READY,       /* when_ready(server) */
    MASTER_PRE_FORK,         /* pre_fork(server, worker) */
    MASTER_CHILD_EXIT,       /* child_exit(server, worker) */
    MASTER_ON_RELOAD,        /* on_reload(server) */
    MASTER_ON_EXIT,          /* on_exit(server) */
    MASTER_HOOK_COUNT
};

/* One call, as the master sends it to the hook process.  Fields a hook does
 * not take are ignored; -1 means None (old_value at start-up, worker_pid in
 * pre_fork, before the fork). */
struct master_call {
    int which;       /* enum master_hook */
    int num_workers; /* server.num_workers: the number of workers wanted now */
    int worker_pid;  /* pre_fork, child_exit: worker.pid */
    int worker_age;  /* pre_fork, child_exit: worker.age, the spawn order */
    int new_value;   /* nworkers_changed */
    int old_value;   /* nworkers_changed; -1 = None */
};

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
