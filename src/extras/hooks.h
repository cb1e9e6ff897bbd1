/*
 * hooks.h - the worker hooks of a Gunicorn config file, run in the worker.
 *
 * Stage 4, accept (Gunicorn counterpart: the hooks in gunicorn/config.py,
 * called from gunicorn/arbiter.py, gunicorn/workers/base.py and, around
 * each request, gunicorn/workers/sync.py).
 * Every function here needs the GIL.
 */
#ifndef GREENHORN_HOOKS_H
#define GREENHORN_HOOKS_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "request.h"
#include "plugins.h"

/* The hooks a worker runs: at its start and end (hooks_run), and around
 * each request (hooks_request_begin and hooks_request_end). */
enum hook {
    HOOK_POST_FORK,
    HOOK_POST_WORKER_INIT,
    HOOK_WORKER_EXIT,
    HOOK_PRE_REQUEST,
    HOOK_POST_REQUEST,
    HOOK_WORKER_INT,   /* worker_int(worker): on INT or QUIT, then the worker exits */
    HOOK_WORKER_ABORT, /* worker_abort(worker): on the master's timeout ABRT */
    HOOK_COUNT
};

/*
 * hooks_load - run cfg->config_read (the config file, if one was read) in
 * this worker and keep the functions it defines for enum hook.  master is
 * the master's pid (server.pid).  Returns 0 (also when there is no file, or
 * no hook in it), or -1 with err: the file failed to run here.
 */
int hooks_load(const struct config *cfg, pid_t master, char *err, size_t errlen);

/*
 * hooks_run - call one hook if the file defines it: post_fork(server,
 * worker), post_worker_init(worker), worker_exit(server, worker),
 * worker_int(worker) or worker_abort(worker), as Gunicorn calls them.  Returns 0, or -1 with err
 * (the exception's last line; the whole traceback is logged).
 */
int hooks_run(enum hook which, char *err, size_t errlen);

/*
 * hooks_worker_event - the plugins.h worker_event slot: at WORKER_POST_FORK
 * load the file's hooks (hooks_load), make INT and QUIT run worker_int and
 * ABRT worker_abort if the file defines them, and run post_fork, at
 * WORKER_POST_INIT run post_worker_init, at WORKER_EXIT run worker_exit and
 * drop the hooks (hooks_free).  Returns 0, or -1 with err.
 */
int hooks_worker_event(enum worker_event ev, const struct config *cfg, pid_t master, char *err,
                       size_t errlen);

/*
 * hooks_pre_request - before the app is called, with r->environ built: if
 * the file defines pre_request or post_request, make the request's
 * stand-in (Gunicorn's Request: method, uri, path, query, fragment,
 * version, scheme, headers, remote_addr) into r->hook_request, and call
 * pre_request(worker, req).  Returns 0, or -1 with the Python exception set
 * (r->hook_failed): the caller answers 500, as Gunicorn does.
 */
int hooks_pre_request(struct request *r);

/*
 * hooks_post_request - after the response and the app's close(): call
 * post_request(worker, req, environ, resp) if the file defines it.  resp is
 * made from what the app passed to start_response (r->status, r->headers)
 * and the body bytes sent.  After a failed pre_request, environ is {} and
 * resp None, as in Gunicorn.  An exception is logged, not raised.  Drops
 * r->hook_request.
 */
void hooks_post_request(struct request *r);

/*
 * hooks_master_load - in the hook process (master_hooks.c): run the config
 * file and keep what the master's hooks need.  master is the master's pid.
 * Returns 0, or -1 with err (the traceback is logged at debug).
 */
int hooks_master_load(const struct config *cfg, pid_t master, char *err, size_t errlen);

/*
 * hooks_master_call - in the hook process: call the master's hook name with
 * stand-ins made from c (server with .pid, .cfg, .log and .num_workers; for
 * pre_fork and child_exit a worker with .pid, .ppid, .age, .cfg and .log),
 * if the file defines it.  Returns 0, or -1 with err (the exception's last
 * line; the traceback is logged).
 */
int hooks_master_call(const struct master_call *c, const char *name, char *err, size_t errlen);

/* hooks_free - drop the hooks and their objects. */
void hooks_free(void);

#endif
