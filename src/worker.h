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

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "bind.h"
#include "config.h"
#include "http.h"
#include "plugins.h"
#include "request.h"

/* Exit codes a worker hands to the master (Gunicorn's, from arbiter.py). */
#define WORKER_EXIT_OK         0
#define WORKER_EXIT_BOOT_ERROR 3 /* the worker could not start: Python, sockets */
#define WORKER_EXIT_APP_ERROR  4 /* the application could not be imported */

/* Workers alive at once, old and new during a reload. */
#define WORKER_MAX_SLOTS 2048

/*
 * The page the master maps (MAP_SHARED) before any fork, one slot per
 * worker.  Each worker writes only its own slot; the master and, for
 * balancing, other workers read them.  Aligned 64-bit stores and loads are
 * single instructions on the platforms we build for, so a reader sees an old
 * or a new value, never half of one; nothing here needs to be exact.
 */
struct worker_board {
    int64_t beats[WORKER_MAX_SLOTS]; /* last sign of life, monotonic ms (the heartbeat) */
    int64_t conns[WORKER_MAX_SLOTS]; /* gthread: connections held while it accepts; -1 not */
    int64_t high;                    /* slots [0, high) have held a worker */
    int64_t door_closed;             /* TERM: when the master closed the listeners' door
                                        (monotonic ms; 0 = open): workers drain the queue */

    /* 1 once the worker's app is loaded (worker_main), 0 before: the master
     * tells systemd READY=1 when every worker it wants has it (arbiter.c). */
    int64_t booted[WORKER_MAX_SLOTS];
};

/* What the master hands a new worker. */
struct worker_ctx {
    const struct config *cfg;
    struct listener *listeners;
    size_t num_listeners;
    volatile int64_t *heartbeat; /* shared with the master: last sign of life, monotonic ms */
    volatile struct worker_board *board; /* the whole shared page (heartbeat is in it) */
    int slot;                            /* this worker's index in board */
    int age;                             /* 1, 2, 3 ... in spawn order (for logs) */
    pid_t master_pid;
    bool preloaded;                /* Python and the app were started in the master */
    void *app;                     /* then: the app (a PyObject *), else NULL */
    const struct plugins *plugins; /* the extras' slots (plugins.h) */
};

/*
 * Everything one worker keeps between requests.  Defined here so that
 * another worker class (src/extras/gthread.c) can run its own loop over the
 * same booted worker; the fields marked read-only are never written once
 * the loop runs, so any thread may read them.
 */
struct worker {
    const struct worker_ctx *ctx; /* read-only */
    const struct config *cfg;     /* read-only */
    void *app;                    /* the WSGI callable (a PyObject *); read-only */
    PyThreadState *tstate;        /* the loop thread's, saved while it runs without the GIL */
    struct request req;           /* the sync worker's: reused for every request */
    struct http_options opts[2];  /* parser limits, built once; [1] adds
                                     HTTP_TRUSTED_PEER; read-only */
    size_t max_head;              /* the largest request head we will buffer; read-only */
    struct config_trust forwarded_trust; /* forwarded_allow_ips, parsed once; read-only */
    struct config_trust proxy_trust;     /* proxy_allow_ips, parsed once; read-only */
    int epfd;
    bool alive;            /* false: finish what is in flight, take no more (loop thread) */
    atomic_bool closing;   /* set on the way out by a loop with keep-alive (gthread):
                              any thread's next response head says close */
    bool booted;           /* the app is loaded and post_worker_init ran */
    int64_t last_check;    /* when the master was last looked for */
    long long served;      /* requests handed to the app so far (loop thread) */
    long long serve_limit; /* --max-requests plus this worker's jitter; 0 = no limit */
    bool fd_starved;       /* accept failed for want of a descriptor (logged once) */
};

/*
 * The pieces of the request path a worker class's loop calls, shared by
 * the sync worker's serve() and the gthread worker.  None takes a lock: a
 * request belongs to one thread at a time, and what they read of w is
 * read-only.
 */

/* worker_request_begin - make r ready for a new request on c
 * (request_reset with this worker's options, the peer's trust, the access
 * log's clock, whether a PROXY header may come first).  No system call. */
void worker_request_begin(const struct worker *w, struct request *r, struct conn *c);

/*
 * worker_head_step - after bytes were added to r->head: take a PROXY header
 * if one is due, then run the parser if worth_parsing says so.  Needs no
 * GIL and does no I/O.  Returns 1 when r->http is parsed (the head is then
 * frozen), 0 when more bytes are needed, or the HTTP status to refuse with
 * (400, 414, 431, ...).
 */
int worker_head_step(const struct worker *w, struct request *r);

/*
 * worker_refuse - answer status with a canned error page (Connection:
 * close) and log why at debug level.  The caller closes the connection
 * (lingering: the client may still be sending).  No GIL needed.
 */
void worker_refuse(const struct request *r, int status, int version_minor);

/*
 * worker_run_app - serve a request whose head is parsed and whose body
 * framing is set up (input_body_begin): environ, pre_request, the app and
 * its response, access log, the app's close(), post_request.  Called and
 * returns without the GIL, which it takes through *ts (the calling
 * thread's state) only while Python runs.  keep: the connection may carry
 * another request if the client wants it (RFC 9112 section 9.3).  Returns
 * with r->resp.keep_alive telling: true, the connection is open and any
 * unread body was skipped (input_tail has the bytes after the request);
 * false, it was closed.
 */
void worker_run_app(const struct worker *w, struct request *r, PyThreadState **ts, bool keep);

/* worker_accept's answer when the process (EMFILE) or the system (ENFILE)
 * has no descriptor left: the connection stays queued, and the caller stops
 * accepting for WORKER_STARVED_MS instead of spinning on a listener that
 * stays readable. */
#define WORKER_ACCEPT_STARVED (-2)
#define WORKER_STARVED_MS     100

/*
 * worker_accept - accept(2) one connection waiting on l (close-on-exec;
 * peer gets its address).  Returns the socket, -1 when none is waiting, or
 * WORKER_ACCEPT_STARVED (logged once per burst, at warning); other errors
 * are logged.  Both worker classes take their connections through it.
 */
int worker_accept(struct worker *w, const struct listener *l, struct sockaddr_storage *peer);

/* What worker_drain hands each connection it accepts to (the worker
 * class's way of serving it). */
typedef void (*worker_take_fn)(void *arg, const struct listener *l, int fd,
                               struct sockaddr_storage *peer);

/*
 * worker_drain - a worker told to stop, on its way out of the listeners.
 * After TERM to the master (board->door_closed set) no new connection
 * enters the accept queue, and the last close of a listener would reset
 * every connection still in it: so accept (without blocking) and hand to
 * take every one queued, until every listener is empty and the handshakes
 * the kernel had already answered when the door closed have had time to
 * arrive, then close this worker's listeners.  On HUP or --max-requests
 * (door open) it returns at once: the master keeps the listeners, and the
 * queue waits for the new workers.
 */
void worker_drain(struct worker *w, worker_take_fn take, void *arg);

/* worker_count_request - one more request reached the app: at
 * --max-requests the worker stops taking more (w->alive false). */
void worker_count_request(struct worker *w);

/* worker_tick - the heartbeat, the signals (TERM: w->alive false; USR1:
 * reopen logs) and, once a second, whether the master is still there.
 * Returns w->alive. */
bool worker_tick(struct worker *w);

/* worker_idle_ms - how long a loop may wait for events at most, so that
 * the heartbeat stays well inside --timeout. */
int worker_idle_ms(const struct worker *w);

/*
 * worker_main - the whole life of a worker process, called right after fork.
 * Returns the exit code for the child (WORKER_EXIT_*); never returns to the
 * master's code paths.
 */
int worker_main(const struct worker_ctx *ctx);

#endif
