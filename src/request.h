/*
 * request.h - one request, as one object that flows through the stages.
 *
 * The data of the request path (Gunicorn counterpart: gunicorn/http/
 * message.py Request, plus what gunicorn/workers/sync.py keeps in local
 * variables while it handles one).
 * Owns: nothing but its own memory: the head and body buffers, the parsed
 * view, the body's framing state, the response in progress, and the Python
 * objects of this request.  Each stage fills its part and the next one reads
 * it: accept and parse (worker.c, http.c) fill the head, environ.c and
 * input.c the environ and the body, wsgi.c the app's result and the
 * response, and the access log reads what is left at the end.
 * Does not own: the connection (the worker owns struct conn; a request
 * borrows it) or the settings.
 *
 * Ownership, field by field:
 *  - head: a heap buffer this request owns.  While the head is read it may
 *    grow (realloc); once http_parse_request succeeds it is frozen: `http`
 *    and its headers point into it, and nothing may move it until
 *    request_free.  Bytes that came after the head are copied to `body`.
 *  - body: a second heap buffer this request owns, for body bytes read but
 *    not yet given to the app.  It may grow or be compacted at any time, so
 *    nothing keeps a pointer into it: only offsets (body_start, body_end).
 *  - headers: the array `http.headers` points to, owned, of capacity
 *    max_headers (--limit-request-fields).
 *  - the PyObject fields are strong references this request owns (NULL when
 *    none); they are dropped by wsgi_request_end, with the GIL.
 *    start_response and write are made once per request object (bound to
 *    it) and live until wsgi_request_free.
 *
 * Several requests may be in flight in one process: nothing of a request
 * lives in a file-level variable anywhere in src/.
 */
#ifndef GREENHORN_REQUEST_H
#define GREENHORN_REQUEST_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "http.h"
#include "response.h"

/* How the request body is framed, and how far reading it has got. */
enum request_body {
    BODY_NONE,    /* no body, or all of it has been read */
    BODY_LENGTH,  /* Content-Length: body_remaining bytes still on the socket */
    BODY_CHUNKED, /* chunked: decoder in `chunked` */
    BODY_FAILED,  /* reading failed (timeout, bad framing, client gone) */
};

struct request {
    struct conn *conn;          /* borrowed: the connection it arrived on */
    bool trusted_peer;          /* the peer may send X-Forwarded-* (forwarded_allow_ips) */
    int64_t started_us;         /* when it was accepted, for the access log's request time */
    const atomic_bool *closing; /* borrowed: the worker is stopping, so no keep-alive
                                   (read when the head goes out); NULL = never */

    /* The head: read, then parsed, then frozen (see above). */
    char *head;
    size_t head_cap;
    size_t head_read;         /* bytes in head */
    size_t head_len;          /* the head's length once parsed */
    size_t head_parsed;       /* head_read when the parser last ran (worth_parsing) */
    bool proxy_pending;       /* a PROXY protocol header may still come first */
    size_t max_head;          /* the largest head we will buffer */
    struct http_request http; /* views into head */
    struct http_proxy proxy;  /* a PROXY protocol header, when one came */

    /* The body, in its own buffer: body[body_start..body_end) is decoded
     * body data not yet given to the app; for chunked bodies
     * body[body_end..body_len) is raw data not yet decoded. */
    char *body;
    size_t body_cap, body_start, body_end, body_len;
    enum request_body body_state;
    uint64_t body_remaining;     /* BODY_LENGTH */
    struct http_chunked chunked; /* BODY_CHUNKED */
    int body_timeout_ms;
    bool extra_bytes;     /* bytes beyond the request arrived: drain on close */
    size_t tail_len;      /* how many of them sit after body_end (input_tail) */
    bool expect_continue; /* 100 Continue owed before the first body read */
    int error_status;     /* set by body reading: 408, 413, 400 ... (0 = none) */

    /* The response, in progress and then done: the access log reads it. */
    struct response resp;
    bool started; /* start_response was called */
    bool failed;  /* the socket failed: stop writing */

    /* Python: strong references (see above). */
    PyObject *environ;        /* the environ dict given to the app */
    PyObject *input;          /* its wsgi.input, detached at the end */
    PyObject *result;         /* what the app returned, until its close() */
    PyObject *status;         /* what the app passed to start_response ... */
    PyObject *headers;        /* ... for the post_request hook */
    PyObject *start_response; /* bound to this request, made once */
    PyObject *write;          /* the write() start_response returns, made once */
    PyObject *hook_request;   /* the hooks' stand-in for Gunicorn's Request */
    bool hook_failed;         /* pre_request raised */
};

/*
 * request_init - an empty request: allocates the head and body buffers and
 * a header array for max_headers fields.  The Python parts are made later, by
 * wsgi_request_init.  Returns 0, or -1 (ENOMEM; request_free cleans up).
 */
int request_init(struct request *r, size_t max_headers, size_t max_head);

/*
 * request_reset - make r ready for a new request on c: every view and
 * state cleared, the buffers kept (a worker reuses one request object, so a
 * request costs no allocation).  chunk_opt and body_limit configure the
 * chunked decoder (trailers follow the header rules; limit_request_body).
 */
void request_reset(struct request *r, struct conn *c, const struct http_options *chunk_opt,
                   uint64_t body_limit, int body_timeout_ms);

/*
 * request_head_reserve - room for `room` more bytes in the head buffer,
 * never beyond max_head.  Only while the head is unparsed (it moves).
 * Returns 0, or -1 (ENOMEM).
 */
int request_head_reserve(struct request *r, size_t room);

/*
 * request_body_reserve - room for `room` more bytes after body_len in the
 * body buffer.  The buffer may move; offsets stay valid.  0, or -1 (ENOMEM).
 */
int request_body_reserve(struct request *r, size_t room);

/*
 * request_carry - after request_reset: make the len bytes at tail (bytes
 * that arrived after the previous request on this connection: pipelined)
 * the start of the new head.  tail may point into this request's own head
 * or body buffer; the previous request's views must be dead.  Returns 0, or
 * -1 (ENOMEM) when they do not fit in max_head.
 */
int request_carry(struct request *r, const char *tail, size_t len);

/* request_line - the request line as received, without its CRLF, as a view
 * into the frozen head (for logs).  *len is 0 before the head is parsed. */
const char *request_line(const struct request *r, size_t *len);

/* request_free - release the buffers.  The Python parts must already be
 * gone (wsgi_request_free).  Safe on a zeroed request, and twice. */
void request_free(struct request *r);

#endif
