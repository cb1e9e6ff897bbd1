/*
 * wsgi.c - the embedded interpreter and the application call.
 *
 * Stage 7, call app (Gunicorn counterpart: gunicorn/app/wsgiapp.py,
 * import_app() in gunicorn/util.py, handle_request() in workers/sync.py).
 * Owns: the interpreter's life, the app import, start_response and write()
 * (bound to their request object, never to a file-level "current request"),
 * iterating the app's result, calling result.close() exactly once, and
 * wsgi.file_wrapper.  Does not own: environ keys (environ.c), framing
 * (response.c), the interpreter start shared with the extras (pyembed.c),
 * or the hooks around a request (an extra; serve() calls them).
 *
 * The flow of one request (PEP 3333, "The Server/Gateway Side"):
 *   result = app(environ, start_response)
 *   for each chunk of result: write it (the headers go with the first
 *       non-empty chunk, so an app that fails before producing anything
 *       can still get a clean 500)
 *   result.close(), whatever happened
 */
#include "wsgi.h"
#include "pyembed.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "environ.h"
#include "input.h"
#include "log.h"
#include "response.h"

/* sys.path: --pythonpath entries first, then the working directory (which
 * --chdir already changed), as Gunicorn's app loader arranges it. */
static int setup_sys_path(const struct config *cfg)
{
    PyObject *path = PySys_GetObject("path"); /* borrowed */
    char cwd[4096];
    if (path == NULL || getcwd(cwd, sizeof(cwd)) == NULL)
        return -1;
    PyObject *dir = PyUnicode_DecodeFSDefault(cwd);
    int rc = dir ? PyList_Insert(path, 0, dir) : -1;
    Py_XDECREF(dir);
    for (size_t i = cfg->pythonpath.count; rc == 0 && i > 0; i--) {
        PyObject *p = PyUnicode_DecodeFSDefault(cfg->pythonpath.items[i - 1]);
        rc = p ? PyList_Insert(path, 0, p) : -1;
        Py_XDECREF(p);
    }
    return rc;
}

/* faulthandler writes every thread's Python stack to the error log when the
 * master's SIGABRT ends a stuck worker: a WORKER TIMEOUT then shows where
 * the app was stuck. */
static int enable_faulthandler(void)
{
    PyObject *fh = PyImport_ImportModule("faulthandler");
    PyObject *r = fh ? PyObject_CallMethod(fh, "enable", "i", log_error_fd()) : NULL;
    Py_XDECREF(r);
    Py_XDECREF(fh);
    return r ? 0 : -1;
}

static PyTypeObject FileWrapperType;
static PyMethodDef start_response_def;
static PyMethodDef write_def;

int wsgi_init(const struct config *cfg, char *err, size_t errlen)
{
    if (!Py_IsInitialized() && pyembed_start(cfg, err, errlen) < 0)
        return -1; /* err says why; no Python exception to fetch */
    if (setup_sys_path(cfg) < 0 || enable_faulthandler() < 0 ||
        PyType_Ready(&FileWrapperType) < 0 || environ_init(cfg, (PyObject *)&FileWrapperType) < 0)
        goto fail;
    return 0;

fail:
    pyembed_exception_line(err, errlen);
    PyErr_Clear();
    return -1;
}

/* ---- importing the app -------------------------------------------------- */

/*
 * Gunicorn's import_app(), in Python, because it is mostly Python's own
 * ast module at work.  The VARIABLE part is parsed as one expression: a name,
 * or a call of a name whose arguments are literals (ast.literal_eval).
 * Nothing the user typed is ever evaluated as code.
 */
static const char loader_source[] =
    "import ast, importlib, os\n"
    "class AppImportError(Exception):\n"
    "    pass\n"
    "def load(uri):\n"
    "    module, _, obj = uri.partition(':')\n"
    "    obj = obj or 'application'\n"
    "    try:\n"
    "        mod = importlib.import_module(module)\n"
    "    except ModuleNotFoundError as e:\n"
    "        if e.name != module.split('.')[0] and e.name != module:\n"
    "            raise\n"
    "        if module.endswith('.py') and os.path.exists(module):\n"
    "            raise AppImportError(\"no module named %r; did you mean '%s:%s'?\"\n"
    "                                 % (module, module[:-3], obj)) from None\n"
    "        raise AppImportError('no module named %r' % module) from None\n"
    "    try:\n"
    "        expr = ast.parse(obj, mode='eval').body\n"
    "    except SyntaxError:\n"
    "        raise AppImportError('failed to parse %r as an attribute name or function call'\n"
    "                             % obj) from None\n"
    "    args = kwargs = None\n"
    "    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):\n"
    "        name = expr.func.id\n"
    "        try:\n"
    "            args = [ast.literal_eval(a) for a in expr.args]\n"
    "            kwargs = {k.arg: ast.literal_eval(k.value) for k in expr.keywords}\n"
    "        except ValueError:\n"
    "            raise AppImportError('failed to parse arguments as literal values: %r'\n"
    "                                 % obj) from None\n"
    "    elif isinstance(expr, ast.Name):\n"
    "        name = expr.id\n"
    "    else:\n"
    "        raise AppImportError('failed to parse %r as an attribute name or function call'\n"
    "                             % obj)\n"
    "    try:\n"
    "        app = getattr(mod, name)\n"
    "    except AttributeError:\n"
    "        raise AppImportError('failed to find attribute %r in %r' % (name, module)) from None\n"
    "    if args is not None:\n"
    "        app = app(*args, **kwargs)\n"
    "    if app is None:\n"
    "        raise AppImportError('failed to find application object: %r' % obj)\n"
    "    if not callable(app):\n"
    "        raise AppImportError('application object %r in %r must be callable, not %s'\n"
    "                             % (obj, module, type(app).__name__))\n"
    "    return app\n";

/* Run the loader; on failure say why in one line.  AppImportError is the
 * user's typo (no traceback); anything else came from the app's own code,
 * so its traceback is logged at debug level. */
void *wsgi_load_app(const char *uri, char *err, size_t errlen)
{
    PyObject *load = pyembed_source_function(loader_source, "load");
    PyObject *app = load ? PyObject_CallFunction(load, "s", uri) : NULL;
    Py_XDECREF(load);
    if (app != NULL)
        return app;
    pyembed_exception_line(err, errlen);
    if (strncmp(err, "AppImportError: ", 16) == 0) {
        memmove(err, err + 16, strlen(err + 16) + 1);
        return NULL;
    }
    /* Logging takes the exception; it is set again for the caller. */
    PyObject *exc = pyembed_take_exception();
    if (exc == NULL)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    pyembed_log_exception(LOG_DEBUG, "Traceback of the failed import:");
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

/* ---- wsgi.file_wrapper ------------------------------------------------- */

/* wsgi.file_wrapper (PEP 3333 "Optional Platform-Specific File Handling"):
 * an iterable over a file; the server may send it with sendfile instead. */
typedef struct {
    PyObject_HEAD PyObject *filelike;
    Py_ssize_t blksize;
} FileWrapperObject;

static int filewrapper_init(FileWrapperObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"filelike", "blksize", NULL};
    PyObject *filelike;
    self->blksize = 8192;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|n", kwlist, &filelike, &self->blksize))
        return -1;
    Py_XSETREF(self->filelike, Py_NewRef(filelike));
    return 0;
}

static void filewrapper_dealloc(FileWrapperObject *self)
{
    Py_XDECREF(self->filelike);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *filewrapper_next(FileWrapperObject *self)
{
    PyObject *data = PyObject_CallMethod(self->filelike, "read", "n", self->blksize);
    if (data != NULL && PyObject_Length(data) == 0)
        Py_CLEAR(data); /* end of file: StopIteration */
    return data;
}

static PyObject *filewrapper_close(FileWrapperObject *self, PyObject *unused)
{
    (void)unused;
    if (!PyObject_HasAttrString(self->filelike, "close"))
        Py_RETURN_NONE;
    return PyObject_CallMethod(self->filelike, "close", NULL);
}

static PyMethodDef filewrapper_methods[] = {
    {"close", (PyCFunction)filewrapper_close, METH_NOARGS, "Close the file."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef filewrapper_members[] = {
    {"filelike", T_OBJECT, offsetof(FileWrapperObject, filelike), READONLY, "the file"},
    {"blksize", T_PYSSIZET, offsetof(FileWrapperObject, blksize), READONLY, "block size"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject FileWrapperType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "greenhorn.FileWrapper",
    .tp_basicsize = sizeof(FileWrapperObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "wsgi.file_wrapper(filelike, blksize=8192)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)filewrapper_init,
    .tp_dealloc = (destructor)filewrapper_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)filewrapper_next,
    .tp_methods = filewrapper_methods,
    .tp_members = filewrapper_members,
};

/* ---- start_response and write ------------------------------------------ */

/*
 * start_response and write() are bound to one request object: their `self`
 * is a capsule holding the struct request pointer, made once per request
 * object (wsgi_request_init), so a request costs no allocation for them and
 * two requests in flight in one process each have their own.
 */
static const char request_capsule[] = "greenhorn.request";

static struct request *bound_request(PyObject *self)
{
    return PyCapsule_GetPointer(self, request_capsule);
}

/*
 * Keep-alive, decided just before the head goes out (it says which): not
 * once the worker is stopping (a request in flight during a graceful stop
 * is answered with "Connection: close"); and the next request on the
 * connection starts after this one's body (RFC 9112 section 9.3), so a body
 * the app left unread must be skipped first, which is promised only when it
 * is small and its end is known.
 */
static void settle_keep_alive(struct request *r)
{
    if (!r->resp.keep_alive || r->resp.headers_sent)
        return;
    if ((r->closing != NULL && atomic_load(r->closing)) || !input_drainable(r))
        r->resp.keep_alive = false;
}

/* Send body bytes with the GIL released.  Returns 0 or -1 (logged once). */
static int send_body(struct request *r, const char *data, size_t len)
{
    int rc;
    if (r->failed)
        return -1;
    settle_keep_alive(r);
    Py_BEGIN_ALLOW_THREADS
        rc = response_write(&r->resp, data, len);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        r->failed = true;
        log_msg(LOG_DEBUG, "write to client failed: %s", strerror(errno));
    }
    return rc;
}

/*
 * The bytes of a native string (PEP 3333 "String Types": a str that holds
 * only code points below 256, sent as ISO-8859-1).  ASCII text is used in
 * place, with no copy; other text is encoded into *tmp, a new bytes object
 * the caller releases.  Returns NULL with an exception set when s is not a
 * str or holds a character beyond latin-1.
 */
static const char *native_bytes(PyObject *s, Py_ssize_t *len, PyObject **tmp)
{
    *tmp = NULL;
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "expected str, not %s", Py_TYPE(s)->tp_name);
        return NULL;
    }
    if (PyUnicode_IS_ASCII(s)) {
        *len = PyUnicode_GET_LENGTH(s);
        return (const char *)PyUnicode_DATA(s);
    }
    *tmp = PyUnicode_AsLatin1String(s);
    if (*tmp == NULL)
        return NULL;
    *len = PyBytes_GET_SIZE(*tmp);
    return PyBytes_AS_STRING(*tmp);
}

/* One (name, value) header tuple, checked and handed to response.c. */
static int add_header_item(struct request *r, PyObject *item)
{
    PyObject *name, *value, *ntmp = NULL, *vtmp = NULL;
    Py_ssize_t nlen = 0, vlen = 0;
    const char *n = NULL, *v = NULL;
    int rc = -1;
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
        PyErr_Format(PyExc_TypeError, "header %R is not a (name, value) tuple", item);
        return -1;
    }
    name = PyTuple_GET_ITEM(item, 0);
    value = PyTuple_GET_ITEM(item, 1);
    if ((n = native_bytes(name, &nlen, &ntmp)) == NULL ||
        (v = native_bytes(value, &vlen, &vtmp)) == NULL)
        goto done; /* TypeError, or UnicodeEncodeError beyond latin-1 */
    if (response_add_header(&r->resp, n, (size_t)nlen, v, (size_t)vlen) < 0) {
        PyErr_Format(PyExc_ValueError, "invalid header %R: %R", name, value);
        goto done;
    }
    rc = 0;
done:
    Py_XDECREF(vtmp);
    Py_XDECREF(ntmp);
    return rc;
}

/* The status and headers, checked and handed to response.c. */
static int set_status_and_headers(struct request *r, PyObject *status, PyObject *headers)
{
    Py_ssize_t slen;
    PyObject *tmp;
    const char *s = native_bytes(status, &slen, &tmp);
    int rc = s != NULL ? response_set_status(&r->resp, s, (size_t)slen) : -1;
    Py_XDECREF(tmp);
    if (rc < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "invalid status %R", status);
        return -1;
    }
    PyObject *seq = PySequence_Fast(headers, "headers must be a list of (name, value) tuples");
    if (seq == NULL)
        return -1;
    for (Py_ssize_t i = 0; rc == 0 && i < PySequence_Fast_GET_SIZE(seq); i++)
        rc = add_header_item(r, PySequence_Fast_GET_ITEM(seq, i));
    Py_DECREF(seq);
    return rc;
}

/* Fetch start_response's arguments from a vectorcall: (status, headers,
 * exc_info=None), by position or by name. */
static int start_response_args(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                               PyObject *out[3])
{
    static const char *const names[3] = {"status", "headers", "exc_info"};
    out[0] = out[1] = NULL;
    out[2] = Py_None;
    if (nargs > 3)
        goto usage;
    for (Py_ssize_t i = 0; i < nargs; i++)
        out[i] = args[i];
    for (Py_ssize_t k = 0; kwnames != NULL && k < PyTuple_GET_SIZE(kwnames); k++) {
        const char *name = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, k));
        int i = 0;
        while (i < 3 && (name == NULL || strcmp(name, names[i]) != 0))
            i++;
        if (i == 3 || i < nargs)
            goto usage;
        out[i] = args[nargs + k];
    }
    if (out[0] != NULL && out[1] != NULL)
        return 0;
usage:
    PyErr_SetString(PyExc_TypeError, "start_response(status, headers, exc_info=None)");
    return -1;
}

/* start_response(status, response_headers, exc_info=None) -> write
 * (PEP 3333 "The start_response() Callable"). */
static PyObject *start_response_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                     PyObject *kwnames)
{
    struct request *r = bound_request(self);
    PyObject *a[3];
    if (r == NULL || start_response_args(args, nargs, kwnames, a) < 0)
        return NULL;
    if (r->environ == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "start_response called outside its request");
        return NULL;
    }
    if (a[2] != Py_None) {
        /* PEP 3333: too late to change the status once headers are out;
         * re-raise the app's own error instead. */
        if (r->resp.headers_sent) {
            PyObject *type, *value, *tb;
            if (!PyArg_ParseTuple(a[2], "OOO", &type, &value, &tb))
                return NULL;
            PyErr_Restore(Py_NewRef(type), Py_NewRef(value), Py_NewRef(tb));
            return NULL;
        }
    } else if (r->started) {
        PyErr_SetString(PyExc_AssertionError,
                        "start_response called a second time without exc_info");
        return NULL;
    }
    if (set_status_and_headers(r, a[0], a[1]) < 0)
        return NULL;
    Py_XSETREF(r->status, Py_NewRef(a[0]));
    Py_XSETREF(r->headers, Py_NewRef(a[1]));
    r->started = true;
    return Py_NewRef(r->write);
}

/* write(data): the old imperative API (PEP 3333 "The write() Callable"). */
static PyObject *write_call(PyObject *self, PyObject *data)
{
    struct request *r = bound_request(self);
    if (r == NULL)
        return NULL;
    if (r->environ == NULL || !r->started) {
        PyErr_SetString(PyExc_RuntimeError, "write() called before start_response");
        return NULL;
    }
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "write() argument must be bytes, not %s",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
    Py_ssize_t len = PyBytes_GET_SIZE(data);
    if (len > 0 && send_body(r, PyBytes_AS_STRING(data), (size_t)len) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

/* Plain C functions, called with vectorcall: no argument tuple and no bound
 * method is made per request. */
static PyMethodDef start_response_def = {
    "start_response", (PyCFunction)(void (*)(void))start_response_call,
    METH_FASTCALL | METH_KEYWORDS, "start_response(status, headers, exc_info=None) -> write"};
static PyMethodDef write_def = {"write", write_call, METH_O, "write(data): send body bytes now"};

/* ---- iterating the result ---------------------------------------------- */

/* Send a file_wrapper over a real file with sendfile(2) (as Gunicorn's
 * Response.sendfile).  Returns 1 when sent, 0 when this is no real file
 * (iterate it instead), -1 on a socket error. */
static int send_file_wrapper(struct request *r, FileWrapperObject *fw)
{
    PyObject *no = PyObject_CallMethod(fw->filelike, "fileno", NULL);
    int fd = no ? (int)PyLong_AsLong(no) : -1;
    Py_XDECREF(no);
    struct stat st;
    off_t offset;
    if (fd < 0 || PyErr_Occurred() || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (offset = lseek(fd, 0, SEEK_CUR)) < 0) {
        PyErr_Clear();
        return 0;
    }
    uint64_t count = st.st_size > offset ? (uint64_t)(st.st_size - offset) : 0;
    int rc;
    settle_keep_alive(r);
    Py_BEGIN_ALLOW_THREADS
        rc = response_sendfile(&r->resp, fd, offset, count);
    Py_END_ALLOW_THREADS
    if (rc < 0)
        r->failed = true;
    return rc < 0 ? -1 : 1;
}

/* Write one item of the result; it must be bytes (PEP 3333). */
static int write_item(struct request *r, PyObject *item)
{
    if (!PyBytes_Check(item)) {
        PyErr_Format(PyExc_TypeError, "the app yielded %s, not bytes", Py_TYPE(item)->tp_name);
        return -1;
    }
    if (!r->started) {
        PyErr_SetString(PyExc_AssertionError, "the app returned data before start_response");
        return -1;
    }
    if (PyBytes_GET_SIZE(item) == 0)
        return 0; /* PEP 3333: empty chunks do not send headers */
    return send_body(r, PyBytes_AS_STRING(item), (size_t)PyBytes_GET_SIZE(item)) < 0 ? 1 : 0;
}

/* Send everything the app returned.  Returns 0, 1 when the client went away
 * (stop quietly), or -1 with a Python exception set. */
static int send_result(struct request *r, PyObject *result)
{
    if (PyObject_TypeCheck(result, &FileWrapperType) && r->started) {
        int rc = send_file_wrapper(r, (FileWrapperObject *)result);
        if (rc != 0)
            return rc < 0 ? 1 : 0;
    }
    /* A list or tuple (the common "return [body]") needs no iterator. */
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) {
        PyObject *seq = Py_NewRef(result);
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        int rc = 0;
        for (Py_ssize_t i = 0; rc == 0 && i < n; i++) {
            /* No app code runs after the last item of a list: its bytes
             * may wait for the FIN (see response.h, close_follows). */
            r->resp.close_follows = i == n - 1;
            rc = write_item(r, PySequence_Fast_GET_ITEM(seq, i));
        }
        r->resp.close_follows = false;
        Py_DECREF(seq);
        return rc;
    }
    PyObject *it = PyObject_GetIter(result);
    if (it == NULL)
        return -1;
    PyObject *item;
    int rc = 0;
    while (rc == 0 && (item = PyIter_Next(it)) != NULL) {
        rc = write_item(r, item);
        Py_DECREF(item);
    }
    Py_DECREF(it);
    return rc == 0 && PyErr_Occurred() ? -1 : rc;
}

/* result.close(), if it has one (PEP 3333: "must be called ... whether the
 * request was completed normally, or terminated early"). */
static void close_result(PyObject *result)
{
    /* A list or tuple (the usual "return [body]") has no close(); asking
     * would build and throw away an AttributeError on every request. */
    if (result == NULL || PyList_CheckExact(result) || PyTuple_CheckExact(result) ||
        !PyObject_HasAttrString(result, "close"))
        return;
    PyObject *r = PyObject_CallMethod(result, "close", NULL);
    if (r == NULL)
        pyembed_log_exception(LOG_ERROR, "Error in the response's close():");
    Py_XDECREF(r);
}

/* wsgi_answer_error - see wsgi.h.  Before any byte went out: answer 500
 * (or the status the body reader or the environ chose, e.g. 408, 400).
 * After: log it and let the close end the response. */
void wsgi_answer_error(struct request *r)
{
    int status = r->error_status ? r->error_status : 500;
    size_t len;
    const char *line = request_line(r, &len);
    char what[160];
    snprintf(what, sizeof(what), "Error handling request %.*s", (int)len, line);
    /* A client that went away or sent a bad body is not the app's bug. */
    pyembed_log_exception(status == 500 && !r->failed ? LOG_ERROR : LOG_DEBUG, what);
    r->resp.keep_alive = false; /* an error page ends the connection (Connection: close) */
    if (r->resp.headers_sent || r->failed)
        return;
    r->resp.status = status;
    Py_BEGIN_ALLOW_THREADS
        response_send_error(r->conn->fd, r->http.version_minor, status, response_reason(status));
    Py_END_ALLOW_THREADS
}

/* The app is done and said nothing wrong: end the response (an empty body
 * still needs its head, a chunked one its last chunk). */
static void finish(struct request *r)
{
    int fin;
    size_t len;
    r->resp.close_follows = true; /* the worker closes next, unless kept alive */
    settle_keep_alive(r);
    /* The GIL is let go around a write, not around nothing: after a body
     * with its Content-Length all sent, finishing makes no system call, and
     * letting go would hand the GIL to another thread of a gthread worker
     * only to wait for it back (a context switch each way). */
    if (!response_finish_sends(&r->resp))
        fin = response_finish(&r->resp);
    else {
        Py_BEGIN_ALLOW_THREADS
            fin = response_finish(&r->resp);
        Py_END_ALLOW_THREADS
    }
    if (fin == 1) {
        const char *line = request_line(r, &len);
        log_msg(LOG_WARNING, "response shorter than its Content-Length: %.*s", (int)len, line);
    }
}

/* wsgi_call_app - see wsgi.h. */
void wsgi_call_app(void *app, struct request *r)
{
    PyObject *args[2] = {r->environ, r->start_response};
    r->result = PyObject_Vectorcall(app, args, 2, NULL);
    int rc = r->result ? send_result(r, r->result) : -1;
    if (rc < 0)
        wsgi_answer_error(r);
    else if (rc == 0 && !r->failed && !r->started) {
        PyErr_SetString(PyExc_AssertionError, "the app never called start_response");
        wsgi_answer_error(r);
    } else if (rc == 0 && !r->failed)
        finish(r);
    input_detach(r);
}

/* wsgi_close_result - see wsgi.h. */
void wsgi_close_result(struct request *r)
{
    PyObject *result = r->result;
    r->result = NULL;
    close_result(result);
    Py_XDECREF(result);
}

/* wsgi_request_end - see wsgi.h. */
void wsgi_request_end(struct request *r)
{
    wsgi_close_result(r);
    input_detach(r);
    Py_CLEAR(r->environ);
    Py_CLEAR(r->status);
    Py_CLEAR(r->headers);
    Py_CLEAR(r->hook_request);
    response_free(&r->resp);
}

/* wsgi_request_init - see wsgi.h. */
int wsgi_request_init(struct request *r)
{
    PyObject *self = PyCapsule_New(r, request_capsule, NULL);
    if (self == NULL)
        return -1;
    r->start_response = PyCFunction_NewEx(&start_response_def, self, NULL);
    r->write = PyCFunction_NewEx(&write_def, self, NULL);
    Py_DECREF(self); /* the two callables hold it */
    return r->start_response != NULL && r->write != NULL ? 0 : -1;
}

/* wsgi_request_free - see wsgi.h. */
void wsgi_request_free(struct request *r)
{
    wsgi_request_end(r);
    Py_CLEAR(r->start_response);
    Py_CLEAR(r->write);
}

/* ---- the end, and fork ------------------------------------------------- */

void wsgi_fini(void *app)
{
    Py_XDECREF((PyObject *)app);
    environ_fini();
    Py_FinalizeEx();
}

/* Only where the master runs Python: --preload, or a master that python3
 * runs (pyhost.c); otherwise each worker starts its own interpreter. */
void wsgi_fork_prepare(void)
{
    if (Py_IsInitialized())
        PyOS_BeforeFork();
}

void wsgi_fork_parent(void)
{
    if (Py_IsInitialized())
        PyOS_AfterFork_Parent();
}

void wsgi_fork_child(void)
{
    if (Py_IsInitialized())
        pyembed_after_fork();
}
