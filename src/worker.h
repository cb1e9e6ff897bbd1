/*
 * worker.h - the sync worker: accept a connection, serve one request, close.
 *
 * Stage 4, accept (Gunicorn counterpart: gunicorn/workers/sync.py and
 * gunicorn/workers/base.py).
 * Owns: the worker's life after fork (Python start, app import, the accept
 * loop, the heartbeat, its own signals), reading a request's head, and
 * serve(), the one orchestrator of the request path (see worker.c).
 * Does not own: socket operations (conn.c), parsing (http.c), the environ
 * and wsgi.input (environ.c, input.c), calling the app (wsgi.c), or the
 * response bytes (response.c).
 */
#ifndef GREENHORN_WORKER_H
#define GREENHORN_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bind.h"
#include "config.h"
#include "http.h"
#include "plugins.h"

/* Exit codes a worker hands to the master (Gunicorn's, from arbiter.py). */
#define WORKER_EXIT_OK         0
#define WORKER_EXIT_BOOT_ERROR 3 /* the worker could not start: Python, sockets */
#define WORKER_EXIT_APP_ERROR  4 /* the application could not be imported */

/* What the master hands a new worker. */
struct worker_ctx {
    const struct config *cfg;
    struct listener *listeners;
    size_t num_listeners;
    volatile int64_t *heartbeat; /* shared with the master: last sign of life, monotonic ms */
    int age;                     /* 1, 2, 3 ... in spawn order (for logs) */
    pid_t master_pid;
    bool preloaded;                /* Python and the app were started in the master */
    void *app;                     /* then: the app (a PyObject *), else NULL */
    const struct plugins *plugins; /* the extras' slots (plugins.h) */
};

/*
 * worker_main - the whole life of a worker process, called right after fork.
 * Returns the exit code for the child (WORKER_EXIT_*); never returns to the
 * master's code paths.
 */
int worker_main(const struct worker_ctx *ctx);

#endif
