/*
 * worker.h - the sync worker: accept a connection, serve one request, close.
 *
 * Stage 4, accept (Gunicorn counterpart: gunicorn/workers/sync.py and
 * gunicorn/workers/base.py).
 * Owns: the worker's life after fork (Python start, app import, the accept
 * loop, the heartbeat, its own signals), and struct conn: one connection and
 * its read buffer, which the later stages borrow.
 * Does not own: parsing (http.c), the environ and wsgi.input (environ.c),
 * calling the app (wsgi.c), or writing the response (response.c).
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

/* Exit codes a worker hands to the master (Gunicorn's, from arbiter.py). */
#define WORKER_EXIT_OK         0
#define WORKER_EXIT_BOOT_ERROR 3 /* the worker could not start: Python, sockets */
#define WORKER_EXIT_APP_ERROR  4 /* the application could not be imported */

/* How the request body is framed, and how far reading it has got. */
enum conn_body_state {
    BODY_NONE,    /* no body, or all of it has been read */
    BODY_LENGTH,  /* Content-Length: body_remaining bytes still on the socket */
    BODY_CHUNKED, /* chunked: decoder in `chunked` */
    BODY_FAILED,  /* reading failed (timeout, bad framing, client gone) */
};

/*
 * One accepted connection and everything read from it.
 * buf[0..head_len) is the request head (req points into it);
 * buf[body_start..body_end) is body data read but not yet given to the app;
 * for chunked bodies buf[body_end..len) is raw data not yet decoded.
 */
struct conn {
    int fd;
    const struct listener *listener;
    char peer_addr[64]; /* REMOTE_ADDR ("" for unix sockets) */
    char peer_port[8];  /* REMOTE_PORT ("" for unix sockets) */
    int64_t started_us; /* when it was accepted, for the access log's request time */
    bool trusted_peer;  /* in forwarded_allow_ips */

    char *buf;
    size_t len;
    size_t cap;
    size_t head_len;
    size_t body_start;
    size_t body_end;

    struct http_request req;
    struct http_proxy proxy; /* PROXY protocol, when it was used */
    enum conn_body_state body;
    uint64_t body_remaining;     /* BODY_LENGTH */
    struct http_chunked chunked; /* BODY_CHUNKED */
    bool extra_bytes;            /* bytes beyond the request arrived: drain on close */

    bool expect_continue;  /* 100 Continue owed before the first body read */
    bool response_started; /* the final status is on its way: no 100 any more */
    int error_status;      /* set by body reading: 408, 413, 400 ... (0 = none) */
    int body_timeout_ms;

    /* Views kept as offsets into buf, because buf may move (realloc) while
     * the body is read; the access log reads them after the app ran. */
    size_t line_off, line_len; /* the request line */
    size_t referer_off, referer_len;
    size_t agent_off, agent_len;
};

/* What the master hands a new worker. */
struct worker_ctx {
    const struct config *cfg;
    struct listener *listeners;
    size_t num_listeners;
    volatile int64_t *heartbeat; /* shared with the master: last sign of life, monotonic ms */
    int age;                     /* 1, 2, 3 ... in spawn order (for logs) */
    pid_t master_pid;
    bool preloaded; /* Python and the app were started in the master */
    void *app;      /* then: the app (a PyObject *), else NULL */
};

/*
 * worker_main - the whole life of a worker process, called right after fork.
 * Returns the exit code for the child (WORKER_EXIT_*); never returns to the
 * master's code paths.
 */
int worker_main(const struct worker_ctx *ctx);

/*
 * conn_recv - receive up to n bytes into dst, waiting at most timeout_ms for
 * the socket to become readable (each wait; an idle timeout).  Call without
 * the GIL.  Returns bytes read, 0 when the peer closed, or -1 with errno
 * (ETIMEDOUT when the wait expired).
 */
ssize_t conn_recv(struct conn *c, void *dst, size_t n, int timeout_ms);

/*
 * conn_send_all - write all of data (MSG_NOSIGNAL), retrying short writes.
 * Returns 0, or -1 with errno.
 */
int conn_send_all(int fd, const void *data, size_t len);

/*
 * conn_reserve - make sure buf has room for `room` more bytes after len
 * (realloc; pointers into buf become stale, offsets stay valid).
 * Returns 0, or -1 (ENOMEM).
 */
int conn_reserve(struct conn *c, size_t room);

/* worker_now_ms - CLOCK_MONOTONIC in milliseconds (the heartbeat's clock). */
int64_t worker_now_ms(void);

#endif
