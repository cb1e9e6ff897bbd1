/*
 * hooks.c - the worker hooks of a Gunicorn config file, run in the worker.
 *
 * An extra: plugs into stage 4, accept, through plugins.h (Gunicorn
 * counterpart: the hooks of gunicorn/config.py, called from
 * gunicorn/arbiter.py spawn_worker, gunicorn/workers/base.py and, around
 * each request, gunicorn/workers/sync.py).
 * Owns: running the config file once more, inside the worker, to find its
 * post_fork, post_worker_init, worker_exit, pre_request, post_request,
 * worker_int and worker_abort functions (the last two as Python signal
 * handlers), and calling them with stand-ins for Gunicorn's server, worker,
 * request and response objects; and, for the hook process
 * (master_hooks.c), the stand-ins of the master's hooks.  Does not own:
 * reading the file's settings (config_file.c, in the master's short-lived
 * child) or deciding when a hook runs (the worker's serve() and boot, the
 * master's loop).  The per-request stand-in lives in the request
 * (r->hook_request), not here: several requests may be in flight.
 */
#include "hooks.h"
#include "config_file.h"
#include "log.h"
#include "pyembed.h"
#include "signals.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The stand-ins.  server has .pid (the master), .cfg and .log; worker has
 * .pid, .ppid, .cfg, .log and .alive.  cfg holds the file's own settings by
 * their Gunicorn names.  log has the methods of Gunicorn's logger (info,
 * warning, exception, ...) and writes to greenhorn's error log.
 */
static const char hooks_source[] =
    "import os, traceback, types\n"
    "class Log:\n"
    "    def __init__(self, emit):\n"
    "        self._emit = emit\n"
    "    def _say(self, level, msg, args):\n"
    "        self._emit(level, str(msg) % args if args else str(msg))\n"
    "    def debug(self, msg, *args, **kw): self._say(0, msg, args)\n"
    "    def info(self, msg, *args, **kw): self._say(1, msg, args)\n"
    "    def warning(self, msg, *args, **kw): self._say(2, msg, args)\n"
    "    warn = warning\n"
    "    def error(self, msg, *args, **kw): self._say(3, msg, args)\n"
    "    def critical(self, msg, *args, **kw): self._say(4, msg, args)\n"
    "    def exception(self, msg, *args, **kw):\n"
    "        text = str(msg) % args if args else str(msg)\n"
    "        self._emit(5, text + '\\n' + traceback.format_exc().rstrip())\n"
    "def stand_ins(path, emit, master, run_config):\n"
    "    ns = run_config(path)\n"
    "    cfg = types.SimpleNamespace(**{k: v for k, v in ns.items() if not k.startswith('_')\n"
    "        and not callable(v) and not isinstance(v, types.ModuleType)})\n"
    "    log = Log(emit)\n"
    "    return ns, cfg, log, types.SimpleNamespace(pid=master, cfg=cfg, log=log)\n"
    "def load(path, emit, master, run_config):\n"
    "    ns, cfg, log, server = stand_ins(path, emit, master, run_config)\n"
    "    worker = types.SimpleNamespace(pid=os.getpid(), ppid=master, cfg=cfg, log=log,\n"
    "                                   alive=True)\n"
    "    args = {'post_fork': (server, worker), 'post_worker_init': (worker,),\n"
    "            'worker_exit': (server, worker), 'pre_request': (worker,),\n"
    "            'post_request': (worker,), 'worker_int': (worker,),\n"
    "            'worker_abort': (worker,)}\n"
    "    calls = [(ns[name], args[name]) if callable(ns.get(name)) else None\n"
    "             for name in ('post_fork', 'post_worker_init', 'worker_exit',\n"
    "                          'pre_request', 'post_request', 'worker_int',\n"
    "                          'worker_abort')]\n"
    "    return calls, request, response\n"
    /* In the hook process (master_hooks.c): call(name, ...) runs one of the
     * master's hooks; server.num_workers is the count wanted at the time. */
    "def master_load(path, emit, master, run_config):\n"
    "    ns, cfg, log, server = stand_ins(path, emit, master, run_config)\n"
    "    def call(name, num_workers, pid, age, new, old):\n"
    "        hook = ns.get(name)\n"
    "        if not callable(hook):\n"
    "            return\n"
    "        server.num_workers = num_workers\n"
    "        if name == 'nworkers_changed':\n"
    "            return hook(server, new, None if old < 0 else old)\n"
    "        if name in ('pre_fork', 'child_exit'):\n"
    "            return hook(server, types.SimpleNamespace(pid=pid if pid > 0 else '[booting]',\n"
    "                ppid=master, age=age, cfg=cfg, log=log, alive=name == 'pre_fork'))\n"
    "        return hook(server)\n"
    "    return call\n"
    /* Gunicorn's Request, as its hooks see it: the parts of the target as
     * urlsplit cuts them, header names in capitals, in the order sent. */
    "def request(environ, headers):\n"
    "    from urllib.parse import urlsplit\n"
    "    uri = environ['RAW_URI']\n"
    "    parts = urlsplit(uri)\n"
    "    major, minor = environ['SERVER_PROTOCOL'][5:].split('.')\n"
    "    return types.SimpleNamespace(method=environ['REQUEST_METHOD'], uri=uri,\n"
    "        path=parts.path, query=parts.query, fragment=parts.fragment,\n"
    "        version=(int(major), int(minor)), scheme=environ['wsgi.url_scheme'],\n"
    "        headers=[(n.upper(), v) for n, v in headers],\n"
    "        remote_addr=environ.get('REMOTE_ADDR', ''))\n"
    /* ... and its Response: what the app set, and how much body went out. */
    "def response(status, headers, sent):\n"
    "    code = int(status.split(None, 1)[0]) if isinstance(status, str) else None\n"
    "    headers = [(n.strip(), v) for n, v in headers or ()]\n"
    "    length = [int(v) for n, v in headers if n.lower() == 'content-length']\n"
    "    return types.SimpleNamespace(status=status, status_code=code, headers=headers,\n"
    "        sent=sent, response_length=length[-1] if length else None)\n";

static const char *const hook_names[HOOK_COUNT] = {"post_fork",   "post_worker_init", "worker_exit",
                                                   "pre_request", "post_request",     "worker_int",
                                                   "worker_abort"};

static PyObject *calls;         /* list: (function, args) or None, by enum hook */
static PyObject *make_request;  /* request(environ, headers): the stand-in */
static PyObject *make_response; /* response(status, headers, sent) */
static PyObject *master_call;   /* in the hook process: call(name, ...), see master_load */

/* emit(level, text): a log line from a hook, at greenhorn's log level, or
 * EMIT_EXCEPTION for the stand-in's log.exception() (a traceback follows the
 * message; StatsD counts it as Gunicorn counts its logger's exception()). */
#define EMIT_EXCEPTION 5
static PyObject *emit_call(PyObject *self, PyObject *args)
{
    int level;
    const char *text;
    (void)self;
    if (!PyArg_ParseTuple(args, "is", &level, &text))
        return NULL;
    if (level == EMIT_EXCEPTION) { /* log.exception(): an error with its traceback */
        log_traceback(LOG_ERROR, "%s", text);
        Py_RETURN_NONE;
    }
    if (level < LOG_DEBUG || level > LOG_CRITICAL)
        level = LOG_INFO;
    log_msg((enum log_level)level, "%s", text);
    Py_RETURN_NONE;
}

static PyMethodDef emit_def = {"emit", emit_call, METH_VARARGS, "emit(level, text): log a line"};

/* run_config, given the file's bytes as the master read them with the
 * settings (functools.partial(run_config, source=...)), when it has them:
 * new, or NULL with the exception set. */
static PyObject *with_source(PyObject *run_config, const struct config *cfg)
{
    if (cfg->config_text == NULL)
        return Py_NewRef(run_config);
    PyObject *functools = PyImport_ImportModule("functools"), *result = NULL;
    PyObject *partial = functools ? PyObject_GetAttrString(functools, "partial") : NULL;
    PyObject *args = partial ? PyTuple_Pack(1, run_config) : NULL;
    PyObject *kw =
        args ? Py_BuildValue("{sy#}", "source", cfg->config_text, (Py_ssize_t)cfg->config_text_len)
             : NULL;
    if (kw != NULL)
        result = PyObject_Call(partial, args, kw);
    Py_XDECREF(kw);
    Py_XDECREF(args);
    Py_XDECREF(partial);
    Py_XDECREF(functools);
    return result;
}

/* Run loader (load or master_load of hooks_source) on the config file:
 * its result (new), or NULL with err, the traceback logged at debug. */
static PyObject *run_loader(const char *loader, const struct config *cfg, pid_t master, char *err,
                            size_t errlen)
{
    PyObject *load = NULL, *exec = NULL, *run_config = NULL, *emit = NULL, *result = NULL;

    if ((load = pyembed_source_function(hooks_source, loader)) != NULL &&
        (exec = pyembed_source_function(config_exec_source, "run_config")) != NULL &&
        (run_config = with_source(exec, cfg)) != NULL &&
        (emit = PyCFunction_New(&emit_def, NULL)) != NULL)
        result =
            PyObject_CallFunction(load, "sOiO", cfg->config_read, emit, (int)master, run_config);
    Py_XDECREF(emit);
    Py_XDECREF(run_config);
    Py_XDECREF(exec);
    Py_XDECREF(load);
    if (result != NULL)
        return result;
    pyembed_exception_line(err, errlen);
    pyembed_log_exception(LOG_DEBUG, "Traceback of the config file's failure:");
    return NULL;
}

/* hooks_load - see hooks.h. */
int hooks_load(const struct config *cfg, pid_t master, char *err, size_t errlen)
{
    hooks_free();
    if (cfg->config_read == NULL)
        return 0;
    /* (calls, request, response): one run of hooks_source gives all three. */
    PyObject *loaded = run_loader("load", cfg, master, err, errlen);
    if (loaded == NULL)
        return -1;
    calls = Py_NewRef(PyTuple_GET_ITEM(loaded, 0));
    make_request = Py_NewRef(PyTuple_GET_ITEM(loaded, 1));
    make_response = Py_NewRef(PyTuple_GET_ITEM(loaded, 2));
    Py_DECREF(loaded);
    return 0;
}

/* Log the current exception as a failure of hook name; its last line in err. */
static void hook_failed(const char *name, char *err, size_t errlen)
{
    char what[64];
    snprintf(what, sizeof what, "Exception in the %s hook:", name);
    pyembed_exception_line(err, errlen);
    pyembed_log_exception(LOG_ERROR, what);
}

/* The (function, args) pair of a hook the file defines, or NULL (borrowed). */
static PyObject *defined(enum hook which)
{
    if (calls == NULL || which < 0 || which >= HOOK_COUNT)
        return NULL;
    PyObject *call = PyList_GetItem(calls, which);
    return call == Py_None ? NULL : call;
}

/* Call a hook with its fixed arguments followed by more (a tuple, or NULL
 * for none).  Returns the hook's result (new), or NULL with the exception. */
static PyObject *call_hook(PyObject *call, PyObject *more)
{
    PyObject *args = PyTuple_GetItem(call, 1);
    PyObject *all = more ? PySequence_Concat(args, more) : Py_NewRef(args);
    PyObject *done = all ? PyObject_Call(PyTuple_GetItem(call, 0), all, NULL) : NULL;
    Py_XDECREF(all);
    return done;
}

/* Call a request hook with more arguments (a new tuple, NULL if making it
 * failed; released here).  0, or -1 with the exception set. */
static int call_request_hook(PyObject *call, PyObject *more)
{
    PyObject *done = more ? call_hook(call, more) : NULL;
    Py_XDECREF(more);
    Py_XDECREF(done);
    return done != NULL ? 0 : -1;
}

/* hooks_run - see hooks.h. */
int hooks_run(enum hook which, char *err, size_t errlen)
{
    bool per_request = which == HOOK_PRE_REQUEST || which == HOOK_POST_REQUEST;
    PyObject *call = per_request ? NULL : defined(which);
    if (call == NULL)
        return 0;
    PyObject *done = call_hook(call, NULL);
    if (done != NULL) {
        Py_DECREF(done);
        return 0;
    }
    hook_failed(hook_names[which], err, errlen);
    return -1;
}

/* The request's fields as Gunicorn's Request.headers: (name, value) str
 * pairs in the order sent (latin-1, as the environ decodes them). */
static PyObject *header_list(const struct http_request *req)
{
    PyObject *list = PyList_New((Py_ssize_t)req->num_headers);
    for (size_t i = 0; list != NULL && i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        PyObject *pair =
            Py_BuildValue("(NN)", PyUnicode_DecodeLatin1(h->name, (Py_ssize_t)h->name_len, NULL),
                          PyUnicode_DecodeLatin1(h->value, (Py_ssize_t)h->value_len, NULL));
        if (pair == NULL)
            Py_CLEAR(list);
        else
            PyList_SET_ITEM(list, (Py_ssize_t)i, pair);
    }
    return list;
}

/* ---- worker_int and worker_abort ---------------------------------------- */

/*
 * Gunicorn's worker runs these in its Python signal handlers (workers/base.py
 * handle_quit: worker_int, then exit 0; handle_abort: worker_abort, then
 * exit 1), so they run in the main thread between two bytecodes, even while
 * the app is stuck in a loop or a sleep: the master's timeout ABRT finds the
 * worker busy.  Here too: the hook runs from a Python signal handler.  Its
 * OS-level handler is ours (catch), which trips Python's flag for the signal
 * (so the main thread runs the handler as soon as it runs Python, or when a
 * sleep is interrupted) and wakes the worker's loop, which runs it when the
 * worker is idle (worker.c handle_signals).
 */
static void catch (int signo)
{
    PyErr_SetInterruptEx(signo); /* async-signal-safe, needs no thread state */
    signals_note(signo);
}

/* The Python handler: the hook, the stack on an abort (what faulthandler
 * would have written, after the hook as in the issue), worker_exit as
 * Gunicorn's spawn_worker runs it on the way out, then exit. */
static PyObject *on_signal(PyObject *self, PyObject *args)
{
    int signo;
    PyObject *frame;
    char err[512];
    (void)self;
    if (!PyArg_ParseTuple(args, "iO", &signo, &frame))
        return NULL;
    bool abort_ = signo == SIGABRT;
    hooks_run(abort_ ? HOOK_WORKER_ABORT : HOOK_WORKER_INT, err, sizeof err); /* logs a failure */
    if (abort_) {
        PyObject *fh = PyImport_ImportModule("faulthandler");
        PyObject *r =
            fh ? PyObject_CallMethod(fh, "dump_traceback", "ii", log_error_fd(), 1) : NULL;
        Py_XDECREF(r);
        Py_XDECREF(fh);
        PyErr_Clear();
    }
    hooks_run(HOOK_WORKER_EXIT, err, sizeof err);
    log_msg(LOG_INFO, "Worker exiting (pid: %d)", (int)getpid());
    exit(abort_ ? 1 : 0);
}

static PyMethodDef on_signal_def = {"on_signal", on_signal, METH_VARARGS,
                                    "run worker_int or worker_abort, then exit"};

/* Make signo run on_signal: Python's handler table first (signal.signal,
 * main thread only: the worker's boot), then our OS-level handler. */
static int catch_signal(int signo, char *err, size_t errlen)
{
    PyObject *mod = PyImport_ImportModule("signal");
    PyObject *fn = mod ? PyCFunction_New(&on_signal_def, NULL) : NULL;
    PyObject *r = fn ? PyObject_CallMethod(mod, "signal", "iO", signo, fn) : NULL;
    Py_XDECREF(r);
    Py_XDECREF(fn);
    Py_XDECREF(mod);
    if (r == NULL) {
        hook_failed("signal.signal", err, errlen);
        return -1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = catch;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a sleep or a wait in the app returns EINTR, and
     * Python runs the handler then. */
    return sigaction(signo, &sa, NULL);
}

/* The signals the file's hooks want: INT and QUIT for worker_int, ABRT for
 * worker_abort.  Without them they keep their meaning (worker.c). */
static int catch_signals(char *err, size_t errlen)
{
    if (defined(HOOK_WORKER_INT) != NULL &&
        (catch_signal(SIGINT, err, errlen) < 0 || catch_signal(SIGQUIT, err, errlen) < 0))
        return -1;
    if (defined(HOOK_WORKER_ABORT) != NULL && catch_signal(SIGABRT, err, errlen) < 0)
        return -1;
    return 0;
}

/* hooks_worker_event - see hooks.h. */
int hooks_worker_event(enum worker_event ev, const struct config *cfg, pid_t master, char *err,
                       size_t errlen)
{
    int rc = 0;
    switch (ev) {
    case WORKER_POST_FORK:
        rc = hooks_load(cfg, master, err, errlen);
        if (rc == 0)
            rc = catch_signals(err, errlen);
        return rc == 0 ? hooks_run(HOOK_POST_FORK, err, errlen) : rc;
    case WORKER_POST_INIT:
        return hooks_run(HOOK_POST_WORKER_INIT, err, errlen);
    case WORKER_EXIT:
        rc = hooks_run(HOOK_WORKER_EXIT, err, errlen);
        hooks_free();
        return rc;
    }
    return 0;
}

/* hooks_pre_request - see hooks.h. */
int hooks_pre_request(struct request *r)
{
    PyObject *pre = defined(HOOK_PRE_REQUEST);
    Py_CLEAR(r->hook_request);
    r->hook_failed = false;
    if (pre == NULL && defined(HOOK_POST_REQUEST) == NULL)
        return 0;
    PyObject *headers = header_list(&r->http);
    if (headers != NULL)
        r->hook_request = PyObject_CallFunctionObjArgs(make_request, r->environ, headers, NULL);
    Py_XDECREF(headers);
    if (r->hook_request != NULL &&
        (pre == NULL || call_request_hook(pre, PyTuple_Pack(1, r->hook_request)) == 0))
        return 0;
    r->hook_failed = true;
    return -1;
}

/* post_request's resp: None after a failed pre_request, as in Gunicorn;
 * else made from what the app passed to start_response (each may be NULL). */
static PyObject *response_object(const struct request *r)
{
    if (r->hook_failed)
        return Py_NewRef(Py_None);
    return PyObject_CallFunction(make_response, "OOL", r->status ? r->status : Py_None,
                                 r->headers ? r->headers : Py_None, (long long)r->resp.body_sent);
}

/* hooks_post_request - see hooks.h. */
void hooks_post_request(struct request *r)
{
    PyObject *post = defined(HOOK_POST_REQUEST);
    if (post != NULL && r->hook_request != NULL) {
        /* After a failed pre_request, post_request gets an empty environ. */
        PyObject *env = r->hook_failed || r->environ == NULL ? PyDict_New() : Py_NewRef(r->environ);
        PyObject *resp = response_object(r);
        PyObject *more = env && resp ? PyTuple_Pack(3, r->hook_request, env, resp) : NULL;
        if (call_request_hook(post, more) < 0)
            pyembed_log_exception(LOG_ERROR, "Exception in post_request hook");
        Py_XDECREF(resp);
        Py_XDECREF(env);
    }
    Py_CLEAR(r->hook_request);
}

/* hooks_master_load - see hooks.h. */
int hooks_master_load(const struct config *cfg, pid_t master, char *err, size_t errlen)
{
    Py_CLEAR(master_call);
    master_call = run_loader("master_load", cfg, master, err, errlen);
    return master_call != NULL ? 0 : -1;
}

/* hooks_master_call - see hooks.h. */
int hooks_master_call(const struct master_call *c, const char *name, char *err, size_t errlen)
{
    PyObject *done = NULL;
    if (master_call == NULL)
        PyErr_SetString(PyExc_RuntimeError, "the master's hooks were not loaded");
    else
        done = PyObject_CallFunction(master_call, "siiiii", name, c->num_workers, c->worker_pid,
                                     c->worker_age, c->new_value, c->old_value);
    if (done != NULL) {
        Py_DECREF(done);
        return 0;
    }
    hook_failed(name, err, errlen);
    return -1;
}

/* hooks_free - see hooks.h. */
void hooks_free(void)
{
    Py_CLEAR(master_call);
    Py_CLEAR(make_response);
    Py_CLEAR(make_request);
    Py_CLEAR(calls);
}
