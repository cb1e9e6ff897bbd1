/*
 * input.c - wsgi.input: the request body, as the application reads it.
 *
 * Stage 6, environ (Gunicorn counterpart: gunicorn/http/body.py, the
 * LengthReader, ChunkedReader and Body classes).
 * Owns: the body's framing state in struct conn, reading more body bytes
 * from the socket (with the body idle timeout, and "100 Continue" when the
 * client asked for it), chunked decoding through http.c, and the Python type
 * behind wsgi.input: read, readline, readlines, iteration.
 * Does not own: the connection (worker.c) or the environ dict (environ.c).
 *
 * The body is never read past its end: a Content-Length body stops at its
 * length, a chunked body at its last chunk, and anything after that is
 * left alone (and drained before close, see worker.c).
 */
#include "input.h"

#include <errno.h>
#include <string.h>

/* ---- the request body -------------------------------------------------- */

/* Size of one read from the socket into the connection buffer. */
#define BODY_READ_CHUNK (64 * 1024)

static size_t buffered(const struct conn *c)
{
    return c->body_end - c->body_start;
}

int input_body_begin(struct conn *c)
{
    size_t extra = c->len - c->head_len;
    c->body_start = c->body_end = c->head_len;
    c->error_status = 0;
    switch (c->req.body) {
    case HTTP_BODY_NONE:
        c->body = BODY_NONE;
        c->extra_bytes = extra > 0;
        c->len = c->head_len;
        return 0;
    case HTTP_BODY_LENGTH: {
        if (c->req.content_length > (uint64_t)PY_SSIZE_T_MAX)
            return 413; /* larger than any Python bytes object can be */
        uint64_t have = extra < c->req.content_length ? extra : c->req.content_length;
        c->body_end += (size_t)have;
        c->body_remaining = c->req.content_length - have;
        c->body = c->body_remaining > 0 ? BODY_LENGTH : BODY_NONE;
        c->extra_bytes = extra > have;
        c->len = c->body_end;
        return 0;
    }
    case HTTP_BODY_CHUNKED: {
        c->body = BODY_CHUNKED;
        size_t n = extra;
        long r = http_decode_chunked(&c->chunked, c->buf + c->head_len, &n);
        c->body_end = c->head_len + n;
        c->len = c->body_end;
        if (r == HTTP_ERROR) {
            c->body = BODY_FAILED;
            return c->chunked.status;
        }
        if (r >= 0) {
            c->body = BODY_NONE;
            c->extra_bytes = r > 0;
        }
        return 0;
    }
    }
    return 400;
}

/* Owed a "100 Continue"?  Send it before the first read that waits for the
 * client (RFC 9110 section 10.1.1: the client may be holding the body back). */
static int send_continue(struct conn *c)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (!c->expect_continue)
        return 0;
    c->expect_continue = false;
    if (c->response_started)
        return 0;
    return conn_send_all(c->fd, line, sizeof(line) - 1);
}

/* Record why the body could not be read; the app sees an OSError and the
 * worker answers this status if nothing was sent yet. */
static ssize_t body_failed(struct conn *c, int status, const char *why)
{
    c->body = BODY_FAILED;
    c->error_status = status;
    PyErr_Format(PyExc_OSError, "request body: %s", why);
    return -1;
}

/* Move buffered body bytes down to head_len, so the buffer does not creep. */
static void body_compact(struct conn *c)
{
    size_t keep = c->len - c->body_start;
    if (c->body_start == c->head_len)
        return;
    memmove(c->buf + c->head_len, c->buf + c->body_start, keep);
    c->body_end -= c->body_start - c->head_len;
    c->len = c->head_len + keep;
    c->body_start = c->head_len;
}

/* Receive raw bytes at buf + len (GIL released around the wait). */
static ssize_t body_recv(struct conn *c, size_t want)
{
    if (send_continue(c) < 0)
        return body_failed(c, 0, strerror(errno));
    body_compact(c);
    if (conn_reserve(c, want) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    ssize_t n;
    Py_BEGIN_ALLOW_THREADS
        n = conn_recv(c, c->buf + c->len, want, c->body_timeout_ms);
    Py_END_ALLOW_THREADS
    if (n < 0 && errno == ETIMEDOUT)
        return body_failed(c, 408, "read timed out");
    if (n < 0)
        return body_failed(c, 0, strerror(errno));
    if (n == 0)
        return body_failed(c, 400, "client closed the connection before the body ended");
    c->len += (size_t)n;
    return n;
}

/*
 * body_fill - get more body bytes into buf[body_start..body_end).
 * Returns the number of body bytes added (> 0), 0 at the end of the body,
 * or -1 with a Python exception set.
 */
static ssize_t body_fill(struct conn *c)
{
    switch (c->body) {
    case BODY_NONE:
        return 0;
    case BODY_FAILED:
        PyErr_SetString(PyExc_OSError, "request body: an earlier read failed");
        return -1;
    case BODY_LENGTH: {
        size_t want =
            c->body_remaining < BODY_READ_CHUNK ? (size_t)c->body_remaining : BODY_READ_CHUNK;
        ssize_t n = body_recv(c, want);
        if (n < 0)
            return -1;
        c->body_end = c->len;
        c->body_remaining -= (uint64_t)n;
        if (c->body_remaining == 0)
            c->body = BODY_NONE;
        return n;
    }
    case BODY_CHUNKED:
        for (;;) {
            if (body_recv(c, BODY_READ_CHUNK) < 0)
                return -1;
            size_t n = c->len - c->body_end;
            long r = http_decode_chunked(&c->chunked, c->buf + c->body_end, &n);
            c->body_end += n;
            c->len = c->body_end;
            if (r == HTTP_ERROR)
                return body_failed(c, c->chunked.status, c->chunked.error);
            if (r >= 0) {
                c->body = BODY_NONE;
                c->extra_bytes = c->extra_bytes || r > 0;
            }
            if (n > 0 || r >= 0)
                return (ssize_t)n;
        }
    }
    return 0;
}

/* Take n buffered bytes as a new bytes object. */
static PyObject *take(struct conn *c, size_t n)
{
    PyObject *b = PyBytes_FromStringAndSize(c->buf + c->body_start, (Py_ssize_t)n);
    if (b != NULL)
        c->body_start += n;
    return b;
}

/* Grow the result of a direct read from here, doubling. */
#define DIRECT_INITIAL (64 * 1024)

/* Read `want` bytes (fewer at the end of the body) into a new bytes object.
 * A Content-Length body is received straight into the result: a 1 MiB
 * upload is copied once, not through the connection buffer.  The result
 * starts small and doubles as bytes arrive, so a client that declares a
 * huge Content-Length and then sends nothing cannot make us allocate it. */
static PyObject *read_sized(struct conn *c, size_t want)
{
    while (buffered(c) < want && c->body == BODY_CHUNKED)
        if (body_fill(c) < 0)
            return NULL;
    if (buffered(c) >= want || c->body != BODY_LENGTH)
        return take(c, buffered(c) < want ? buffered(c) : want);

    uint64_t avail = buffered(c) + c->body_remaining;
    size_t total = avail < want ? (size_t)avail : want;
    size_t got = buffered(c);
    size_t cap = total < DIRECT_INITIAL ? total : (got > DIRECT_INITIAL ? got : DIRECT_INITIAL);
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
    if (out == NULL)
        return NULL;
    ssize_t n = -1;
    memcpy(PyBytes_AS_STRING(out), c->buf + c->body_start, got);
    c->body_start = c->body_end = c->len = c->head_len;
    if (send_continue(c) < 0)
        goto fail_errno;
    while (got < total) {
        if (got == cap) {
            cap = cap > total / 2 ? total : cap * 2;
            if (_PyBytes_Resize(&out, (Py_ssize_t)cap) < 0)
                return NULL; /* out was freed */
        }
        char *dst = PyBytes_AS_STRING(out);
        Py_BEGIN_ALLOW_THREADS
            n = conn_recv(c, dst + got, cap - got, c->body_timeout_ms);
        Py_END_ALLOW_THREADS
        if (n <= 0)
            goto fail_errno;
        got += (size_t)n;
        c->body_remaining -= (uint64_t)n;
    }
    if (c->body_remaining == 0)
        c->body = BODY_NONE;
    return out;

fail_errno:
    Py_DECREF(out);
    if (n < 0 && errno == ETIMEDOUT)
        body_failed(c, 408, "read timed out");
    else
        body_failed(c, 400, "client closed the connection before the body ended");
    return NULL;
}

/* Read everything that is left. */
static PyObject *read_all(struct conn *c)
{
    if (c->body == BODY_LENGTH)
        return read_sized(c, buffered(c) + (size_t)c->body_remaining);
    for (;;) {
        ssize_t n = body_fill(c);
        if (n < 0)
            return NULL;
        if (n == 0)
            return take(c, buffered(c));
    }
}

/* One line, at most limit bytes (limit < 0: no limit). */
static PyObject *read_line(struct conn *c, Py_ssize_t limit)
{
    size_t scanned = 0;
    for (;;) {
        size_t avail = buffered(c);
        size_t cap = limit >= 0 && (size_t)limit < avail ? (size_t)limit : avail;
        const char *start = c->buf + c->body_start;
        const char *nl = memchr(start + scanned, '\n', cap - scanned);
        if (nl != NULL)
            return take(c, (size_t)(nl - start) + 1);
        if (limit >= 0 && avail >= (size_t)limit)
            return take(c, (size_t)limit);
        scanned = cap;
        ssize_t n = body_fill(c);
        if (n < 0)
            return NULL;
        if (n == 0)
            return take(c, buffered(c));
    }
}

/* ---- wsgi.input -------------------------------------------------------- */

/* wsgi.input (PEP 3333 "Input and Error Streams"): read, readline,
 * readlines, iteration.  It holds a plain pointer to the connection, cleared
 * by environ_end_request when the request is over. */
typedef struct {
    PyObject_HEAD struct conn *conn;
} InputObject;

static InputObject *current_input; /* a strong reference, dropped at the end of the request */

static struct conn *input_conn(InputObject *self)
{
    if (self->conn == NULL)
        PyErr_SetString(PyExc_ValueError, "wsgi.input used after its request ended");
    return self->conn;
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
    struct conn *c = input_conn(self);
    if (c == NULL || size_arg(args, &size) < 0)
        return NULL;
    return size < 0 ? read_all(c) : read_sized(c, (size_t)size);
}

static PyObject *input_readline(InputObject *self, PyObject *args)
{
    Py_ssize_t size;
    struct conn *c = input_conn(self);
    if (c == NULL || size_arg(args, &size) < 0)
        return NULL;
    return read_line(c, size);
}

static PyObject *input_readlines(InputObject *self, PyObject *args)
{
    Py_ssize_t hint;
    struct conn *c = input_conn(self);
    if (c == NULL || size_arg(args, &hint) < 0)
        return NULL;
    PyObject *lines = PyList_New(0);
    Py_ssize_t total = 0;
    while (lines != NULL) {
        PyObject *line = read_line(c, -1);
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
    struct conn *c = input_conn(self);
    if (c == NULL)
        return NULL;
    PyObject *line = read_line(c, -1);
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

void input_end_request(void)
{
    if (current_input != NULL)
        current_input->conn = NULL;
    Py_CLEAR(current_input);
}

PyObject *input_new(struct conn *c)
{
    if (!(InputType.tp_flags & Py_TPFLAGS_READY) && PyType_Ready(&InputType) < 0)
        return NULL;
    InputObject *in = PyObject_New(InputObject, &InputType);
    if (in == NULL)
        return NULL;
    input_end_request();
    in->conn = c;
    current_input = (InputObject *)Py_NewRef(in);
    return (PyObject *)in;
}
