/*
 * input.c - wsgi.input: the request body, as the application reads it.
 *
 * Stage 6, environ (Gunicorn counterpart: gunicorn/http/body.py, the
 * LengthReader, ChunkedReader and Body classes).
 * Owns: the body part of struct request (its framing state and its own
 * buffer), reading more body bytes through conn.c (with the body idle
 * timeout, and "100 Continue" when the client asked for it), chunked
 * decoding through http.c, and the Python type behind wsgi.input: read,
 * readline, readlines, iteration.
 * Does not own: the connection (the worker's), the head buffer (frozen
 * once parsed: body bytes never go there) or the environ dict (environ.c).
 *
 * The body is never read past its end: a Content-Length body stops at its
 * length, a chunked body at its last chunk, and anything after that is
 * left alone (and drained by the lingering close, conn.c).
 */
#include "input.h"

#include <errno.h>
#include <string.h>

/* ---- the request body -------------------------------------------------- */

/* Size of one read from the socket into the body buffer. */
#define BODY_READ_CHUNK (64 * 1024)

static size_t buffered(const struct request *r)
{
    return r->body_end - r->body_start;
}

int input_body_begin(struct request *r)
{
    size_t extra = r->head_read - r->head_len;
    r->body_start = r->body_end = r->body_len = 0;
    r->error_status = 0;
    r->expect_continue = r->http.expect_continue;
    if (r->http.body == HTTP_BODY_NONE) {
        r->body_state = BODY_NONE;
        r->extra_bytes = extra > 0; /* pipelined bytes: never read, drained on close */
        r->tail_len = extra;        /* in the head, after head_len (input_tail) */
        return 0;
    }
    /* Bytes that came with the head move to the body's own buffer, so the
     * head, which the parsed views point into, never moves again. */
    if (extra > 0) {
        if (request_body_reserve(r, extra) < 0)
            return 500;
        memcpy(r->body, r->head + r->head_len, extra);
        r->body_len = extra;
    }
    switch (r->http.body) {
    case HTTP_BODY_LENGTH: {
        if (r->http.content_length > (uint64_t)PY_SSIZE_T_MAX)
            return 413; /* larger than any Python bytes object can be */
        uint64_t have = extra < r->http.content_length ? extra : r->http.content_length;
        r->body_end = (size_t)have;
        r->body_remaining = r->http.content_length - have;
        r->body_state = r->body_remaining > 0 ? BODY_LENGTH : BODY_NONE;
        r->extra_bytes = extra > have;
        r->tail_len = extra - (size_t)have; /* copied to body[body_end..] with the rest */
        r->body_len = r->body_end;
        return 0;
    }
    case HTTP_BODY_CHUNKED: {
        r->body_state = BODY_CHUNKED;
        size_t n = extra;
        long done = http_decode_chunked(&r->chunked, r->body, &n);
        r->body_end = r->body_len = n;
        if (done == HTTP_ERROR) {
            r->body_state = BODY_FAILED;
            return r->chunked.status;
        }
        if (done >= 0) {
            r->body_state = BODY_NONE;
            r->extra_bytes = done > 0;
            r->tail_len = (size_t)done; /* left at body[body_end..] by the decoder */
        }
        return 0;
    }
    case HTTP_BODY_NONE:
        break;
    }
    return 400;
}

/* Owed a "100 Continue"?  Send it before the first read that waits for the
 * client (RFC 9110 section 10.1.1: the client may be holding the body back). */
static int send_continue(struct request *r)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (!r->expect_continue)
        return 0;
    r->expect_continue = false;
    if (r->resp.headers_sent)
        return 0;
    return conn_send_all(r->conn->fd, line, sizeof(line) - 1, 0);
}

/* Record why the body could not be read; the app sees an OSError and the
 * worker answers this status if nothing was sent yet. */
static ssize_t body_failed(struct request *r, int status, const char *why)
{
    r->body_state = BODY_FAILED;
    r->error_status = status;
    PyErr_Format(PyExc_OSError, "request body: %s", why);
    return -1;
}

/* Move buffered body bytes down to the start, so the buffer does not creep. */
static void body_compact(struct request *r)
{
    size_t keep = r->body_len - r->body_start;
    if (r->body_start == 0)
        return;
    memmove(r->body, r->body + r->body_start, keep);
    r->body_end -= r->body_start;
    r->body_len = keep;
    r->body_start = 0;
}

/* Receive raw bytes at buf + len (GIL released around the wait). */
static ssize_t body_recv(struct request *r, size_t want)
{
    if (send_continue(r) < 0)
        return body_failed(r, 0, strerror(errno));
    body_compact(r);
    if (request_body_reserve(r, want) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    ssize_t n;
    Py_BEGIN_ALLOW_THREADS
        n = conn_recv(r->conn, r->body + r->body_len, want, r->body_timeout_ms);
    Py_END_ALLOW_THREADS
    if (n < 0 && errno == ETIMEDOUT)
        return body_failed(r, 408, "read timed out");
    if (n < 0)
        return body_failed(r, 0, strerror(errno));
    if (n == 0)
        return body_failed(r, 400, "client closed the connection before the body ended");
    r->body_len += (size_t)n;
    return n;
}

/*
 * body_fill - get more body bytes into buf[body_start..body_end).
 * Returns the number of body bytes added (> 0), 0 at the end of the body,
 * or -1 with a Python exception set.
 */
static ssize_t body_fill(struct request *r)
{
    switch (r->body_state) {
    case BODY_NONE:
        return 0;
    case BODY_FAILED:
        PyErr_SetString(PyExc_OSError, "request body: an earlier read failed");
        return -1;
    case BODY_LENGTH: {
        size_t want =
            r->body_remaining < BODY_READ_CHUNK ? (size_t)r->body_remaining : BODY_READ_CHUNK;
        ssize_t n = body_recv(r, want);
        if (n < 0)
            return -1;
        r->body_end = r->body_len;
        r->body_remaining -= (uint64_t)n;
        if (r->body_remaining == 0)
            r->body_state = BODY_NONE;
        return n;
    }
    case BODY_CHUNKED:
        for (;;) {
            if (body_recv(r, BODY_READ_CHUNK) < 0)
                return -1;
            size_t n = r->body_len - r->body_end;
            long done = http_decode_chunked(&r->chunked, r->body + r->body_end, &n);
            r->body_end += n;
            r->body_len = r->body_end;
            if (done == HTTP_ERROR)
                return body_failed(r, r->chunked.status, r->chunked.error);
            if (done >= 0) {
                r->body_state = BODY_NONE;
                r->extra_bytes = r->extra_bytes || done > 0;
                r->tail_len = (size_t)done;
            }
            if (n > 0 || done >= 0)
                return (ssize_t)n;
        }
    }
    return 0;
}

/* Take n buffered bytes as a new bytes object. */
static PyObject *take(struct request *r, size_t n)
{
    PyObject *b = PyBytes_FromStringAndSize(r->body + r->body_start, (Py_ssize_t)n);
    if (b != NULL)
        r->body_start += n;
    return b;
}

/* Grow the result of a direct read from here, doubling. */
#define DIRECT_INITIAL (64 * 1024)

/* Read `want` bytes (fewer at the end of the body) into a new bytes object.
 * A Content-Length body is received straight into the result: a 1 MiB
 * upload is copied once, not through the connection buffer.  The result
 * starts small and doubles as bytes arrive, so a client that declares a
 * huge Content-Length and then sends nothing cannot make us allocate it. */
static PyObject *read_sized(struct request *r, size_t want)
{
    while (buffered(r) < want && r->body_state == BODY_CHUNKED)
        if (body_fill(r) < 0)
            return NULL;
    if (buffered(r) >= want || r->body_state != BODY_LENGTH)
        return take(r, buffered(r) < want ? buffered(r) : want);

    uint64_t avail = buffered(r) + r->body_remaining;
    size_t total = avail < want ? (size_t)avail : want;
    size_t got = buffered(r);
    size_t cap = total < DIRECT_INITIAL ? total : (got > DIRECT_INITIAL ? got : DIRECT_INITIAL);
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
    if (out == NULL)
        return NULL;
    ssize_t n = -1;
    memcpy(PyBytes_AS_STRING(out), r->body + r->body_start, got);
    r->body_start = r->body_end = r->body_len = 0;
    if (send_continue(r) < 0)
        goto fail_errno;
    while (got < total) {
        if (got == cap) {
            cap = cap > total / 2 ? total : cap * 2;
            if (_PyBytes_Resize(&out, (Py_ssize_t)cap) < 0)
                return NULL; /* out was freed */
        }
        char *dst = PyBytes_AS_STRING(out);
        Py_BEGIN_ALLOW_THREADS
            n = conn_recv(r->conn, dst + got, cap - got, r->body_timeout_ms);
        Py_END_ALLOW_THREADS
        if (n <= 0)
            goto fail_errno;
        got += (size_t)n;
        r->body_remaining -= (uint64_t)n;
    }
    if (r->body_remaining == 0)
        r->body_state = BODY_NONE;
    return out;

fail_errno:
    Py_DECREF(out);
    if (n < 0 && errno == ETIMEDOUT)
        body_failed(r, 408, "read timed out");
    else
        body_failed(r, 400, "client closed the connection before the body ended");
    return NULL;
}

/* Read everything that is left. */
static PyObject *read_all(struct request *r)
{
    if (r->body_state == BODY_LENGTH)
        return read_sized(r, buffered(r) + (size_t)r->body_remaining);
    for (;;) {
        ssize_t n = body_fill(r);
        if (n < 0)
            return NULL;
        if (n == 0)
            return take(r, buffered(r));
    }
}

/* One line, at most limit bytes (limit < 0: no limit). */
static PyObject *read_line(struct request *r, Py_ssize_t limit)
{
    size_t scanned = 0;
    for (;;) {
        size_t avail = buffered(r);
        size_t cap = limit >= 0 && (size_t)limit < avail ? (size_t)limit : avail;
        const char *start = r->body + r->body_start;
        const char *nl = memchr(start + scanned, '\n', cap - scanned);
        if (nl != NULL)
            return take(r, (size_t)(nl - start) + 1);
        if (limit >= 0 && avail >= (size_t)limit)
            return take(r, (size_t)limit);
        scanned = cap;
        ssize_t n = body_fill(r);
        if (n < 0)
            return NULL;
        if (n == 0)
            return take(r, buffered(r));
    }
}

/* ---- between requests on one connection (the gthread worker) ------------ */

/*
 * input_body_buffer - see input.h.  The same accounting as body_fill's
 * Content-Length case, without Python and without waiting: an event loop
 * calls it when the socket is readable.
 */
int input_body_buffer(struct request *r)
{
    while (r->body_state == BODY_LENGTH) {
        size_t want = (size_t)r->body_remaining;
        if (request_body_reserve(r, want) < 0)
            return -1;
        ssize_t n = conn_recv(r->conn, r->body + r->body_len, want, 0);
        if (n < 0 && errno == ETIMEDOUT)
            return 0; /* nothing more has arrived yet */
        if (n <= 0) {
            r->body_state = BODY_FAILED;
            if (n == 0)
                errno = ECONNRESET;
            return -1;
        }
        r->body_len += (size_t)n;
        r->body_end = r->body_len;
        r->body_remaining -= (uint64_t)n;
        if (r->body_remaining == 0)
            r->body_state = BODY_NONE;
    }
    return r->body_state == BODY_NONE ? 1 : -1;
}

/* input_drainable - see input.h. */
bool input_drainable(const struct request *r)
{
    /* A client still waiting for "100 Continue" may never send its body,
     * and the go-ahead must not follow a final response (RFC 9110 section
     * 10.1.1): such a connection closes. */
    if (r->expect_continue)
        return false;
    return r->body_state == BODY_NONE ||
           (r->body_state == BODY_LENGTH && r->body_remaining <= INPUT_SMALL_BODY);
}

/*
 * input_drain - see input.h.  body_fill does the reading (and the chunked
 * decoding, which finds where the body ends); the bytes are dropped as they
 * come.  A failure's Python exception is nobody's business: cleared.
 */
int input_drain(struct request *r, uint64_t limit)
{
    uint64_t dropped = 0;
    while (r->body_state != BODY_NONE) {
        if (r->body_state == BODY_LENGTH && dropped + r->body_remaining > limit)
            return -1; /* known in advance to be too much: close instead */
        ssize_t n = body_fill(r);
        if (n < 0) {
            PyErr_Clear();
            return -1;
        }
        dropped += (uint64_t)n;
        r->body_start = r->body_end; /* consumed, unread */
        if (dropped > limit)
            return -1;
    }
    return 0;
}

/* input_tail - see input.h. */
const char *input_tail(const struct request *r, size_t *len)
{
    *len = r->body_state == BODY_NONE ? r->tail_len : 0;
    if (r->http.body == HTTP_BODY_NONE)
        return r->head + r->head_len;
    return r->body + r->body_end;
}

/* ---- wsgi.input -------------------------------------------------------- */

/* wsgi.input (PEP 3333 "Input and Error Streams"): read, readline,
 * readlines, iteration.  It holds a plain pointer to its request, which
 * input_detach clears when the request is over: an app that kept the
 * object gets ValueError, never a read of another request's body. */
typedef struct {
    PyObject_HEAD struct request *req;
} InputObject;

static struct request *input_request(InputObject *self)
{
    if (self->req == NULL)
        PyErr_SetString(PyExc_ValueError, "wsgi.input used after its request ended");
    return self->req;
}

/* Parse an optional size argument: absent or None mean -1. */
static int size_arg(PyObject *args, Py_ssize_t *size)
{
    PyObject *o = Py_None;
    *size = -1;
    if (!PyArg_ParseTuple(args, "|O", &o))
        return -1;
    if (o == Py_None)
        return 0;
    *size = PyNumber_AsSsize_t(o, PyExc_OverflowError);
    return *size == -1 && PyErr_Occurred() ? -1 : 0;
}

static PyObject *input_read(InputObject *self, PyObject *args)
{
    Py_ssize_t size;
    struct request *r = input_request(self);
    if (r == NULL || size_arg(args, &size) < 0)
        return NULL;
    return size < 0 ? read_all(r) : read_sized(r, (size_t)size);
}

static PyObject *input_readline(InputObject *self, PyObject *args)
{
    Py_ssize_t size;
    struct request *r = input_request(self);
    if (r == NULL || size_arg(args, &size) < 0)
        return NULL;
    return read_line(r, size);
}

static PyObject *input_readlines(InputObject *self, PyObject *args)
{
    Py_ssize_t hint;
    struct request *r = input_request(self);
    if (r == NULL || size_arg(args, &hint) < 0)
        return NULL;
    PyObject *lines = PyList_New(0);
    Py_ssize_t total = 0;
    while (lines != NULL) {
        PyObject *line = read_line(r, -1);
        if (line == NULL || PyBytes_GET_SIZE(line) == 0) {
            if (line == NULL)
                Py_CLEAR(lines);
            Py_XDECREF(line);
            break;
        }
        total += PyBytes_GET_SIZE(line);
        int rc = PyList_Append(lines, line);
        Py_DECREF(line);
        if (rc < 0)
            Py_CLEAR(lines);
        else if (hint > 0 && total >= hint)
            break;
    }
    return lines;
}

static PyObject *input_iternext(InputObject *self)
{
    struct request *r = input_request(self);
    if (r == NULL)
        return NULL;
    PyObject *line = read_line(r, -1);
    if (line != NULL && PyBytes_GET_SIZE(line) == 0)
        Py_CLEAR(line); /* NULL without an exception: StopIteration */
    return line;
}

static PyMethodDef input_methods[] = {
    {"read", (PyCFunction)input_read, METH_VARARGS, "read([size]) -> bytes"},
    {"readline", (PyCFunction)input_readline, METH_VARARGS, "readline([size]) -> bytes"},
    {"readlines", (PyCFunction)input_readlines, METH_VARARGS, "readlines([hint]) -> list"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject InputType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "greenhorn.Input",
    .tp_basicsize = sizeof(InputObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "wsgi.input: the request body, read from the connection.",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)input_iternext,
    .tp_methods = input_methods,
};

void input_detach(struct request *r)
{
    if (r->input != NULL)
        ((InputObject *)r->input)->req = NULL;
    Py_CLEAR(r->input);
}

PyObject *input_new(struct request *r)
{
    if (!(InputType.tp_flags & Py_TPFLAGS_READY) && PyType_Ready(&InputType) < 0)
        return NULL;
    InputObject *in = PyObject_New(InputObject, &InputType);
    if (in == NULL)
        return NULL;
    input_detach(r);
    in->req = r;
    r->input = Py_NewRef(in);
    return (PyObject *)in;
}
