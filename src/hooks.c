/*
 * hooks.c - the worker hooks of a Gunicorn config file, run in the worker.
 *
 * Stage 4, accept (Gunicorn counterpart: the hooks of gunicorn/config.py,
 * called from gunicorn/arbiter.py spawn_worker and gunicorn/workers/base.py).
 * Owns: running the config file once more, inside the worker, to find its
 * post_fork, post_worker_init and worker_exit functions, and calling them
 * with stand-ins for Gunicorn's server and worker objects.  Does not own:
 * reading the file's settings (config_file.c, in the master's short-lived
 * child) or deciding when a hook runs (worker.c).
 *
 * Why only these three: they run in the worker in Gunicorn too, where
 * greenhorn has Python.  The master's hooks (on_starting, when_ready,
 * child_exit, ...) would need Python in the master, which greenhorn never
 * starts; config_file.c names them in a warning.
 */
#include "hooks.h"
#include "config_file.h"
#include "log.h"
#include "wsgi_internal.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdio.h>

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
    "        self._say(3, msg, args)\n"
    "        self._emit(3, traceback.format_exc().rstrip())\n"
    "def load(path, emit, master, run_config):\n"
    "    ns = run_config(path)\n"
    "    cfg = types.SimpleNamespace(**{k: v for k, v in ns.items() if not k.startswith('_')\n"
    "        and not callable(v) and not isinstance(v, types.ModuleType)})\n"
    "    log = Log(emit)\n"
    "    server = types.SimpleNamespace(pid=master, cfg=cfg, log=log)\n"
    "    worker = types.SimpleNamespace(pid=os.getpid(), ppid=master, cfg=cfg, log=log,\n"
    "                                   alive=True)\n"
    "    args = {'post_fork': (server, worker), 'post_worker_init': (worker,),\n"
    "            'worker_exit': (server, worker)}\n"
    "    return [(ns[name], args[name]) if callable(ns.get(name)) else None\n"
    "            for name in ('post_fork', 'post_worker_init', 'worker_exit')]\n";

static const char *const hook_names[HOOK_COUNT] = {"post_fork", "post_worker_init", "worker_exit"};

static PyObject *calls; /* list: (function, args) or None, by enum hook */

/* emit(level, text): a log line from a hook, at greenhorn's log level. */
static PyObject *emit_call(PyObject *self, PyObject *args)
{
    int level;
    const char *text;
    (void)self;
    if (!PyArg_ParseTuple(args, "is", &level, &text))
        return NULL;
    if (level < LOG_DEBUG || level > LOG_CRITICAL)
        level = LOG_INFO;
    log_msg((enum log_level)level, "%s", text);
    Py_RETURN_NONE;
}

static PyMethodDef emit_def = {"emit", emit_call, METH_VARARGS, "emit(level, text): log a line"};

/* hooks_load - see hooks.h. */
int hooks_load(const struct config *cfg, pid_t master, char *err, size_t errlen)
{
    PyObject *load = NULL, *run_config = NULL, *emit = NULL;

    Py_CLEAR(calls);
    if (cfg->config_read == NULL)
        return 0;
    if ((load = wsgi_source_function(hooks_source, "load")) != NULL &&
        (run_config = wsgi_source_function(config_exec_source, "run_config")) != NULL &&
        (emit = PyCFunction_New(&emit_def, NULL)) != NULL)
        calls =
            PyObject_CallFunction(load, "sOiO", cfg->config_read, emit, (int)master, run_config);
    Py_XDECREF(emit);
    Py_XDECREF(run_config);
    Py_XDECREF(load);
    if (calls != NULL)
        return 0;
    wsgi_exception_line(err, errlen);
    wsgi_log_exception(LOG_DEBUG, "Traceback of the config file's failure in the worker:");
    return -1;
}

/* hooks_run - see hooks.h. */
int hooks_run(enum hook which, char *err, size_t errlen)
{
    if (calls == NULL || which < 0 || which >= HOOK_COUNT)
        return 0;
    PyObject *call = PyList_GetItem(calls, which); /* borrowed */
    if (call == NULL || call == Py_None)
        return 0;
    PyObject *done = PyObject_Call(PyTuple_GetItem(call, 0), PyTuple_GetItem(call, 1), NULL);
    if (done != NULL) {
        Py_DECREF(done);
        return 0;
    }
    char what[64];
    snprintf(what, sizeof what, "Exception in the %s hook:", hook_names[which]);
    wsgi_exception_line(err, errlen);
    wsgi_log_exception(LOG_ERROR, what);
    return -1;
}

/* hooks_free - see hooks.h. */
void hooks_free(void)
{
    Py_CLEAR(calls);
}
