/*
 * pyembed.c - the embedded interpreter's few shared helpers.
 *
 * Used by stage 7 (wsgi.c: the worker's interpreter) and by the extras that
 * also run Python: the config-file reader's short-lived child, the worker
 * hooks and the hook process.  Gunicorn counterpart: none; Gunicorn *is* a
 * Python program.  CPython's Doc/extending/embedding.rst and
 * Programs/_testembed.c show the PyConfig shape used here.
 * Owns: starting the interpreter (PyConfig: no signal handlers, the
 * virtualenv honoured, sys.executable), turning the current exception into
 * one line or a logged traceback, and running a snippet of Python source.
 * Does not own: sys.path, the app import or anything per request (wsgi.c).
 */
#include "pyembed.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>
#include <unistd.h>

/* ---- errors ------------------------------------------------------------ */

/*
 * The pending exception as one normalised object, with its traceback
 * attached, taken out of the error indicator (a new reference, or NULL when
 * none is set).  The one place that knows how a given Python hands the
 * exception over: PyErr_GetRaisedException from 3.12 on, where PyErr_Fetch
 * is deprecated; 3.11, which greenhorn is built against on Debian 12, has
 * only PyErr_Fetch and PyErr_NormalizeException.
 */
static PyObject *take_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *exc, *tb;
    PyErr_Fetch(&type, &exc, &tb);
    PyErr_NormalizeException(&type, &exc, &tb);
    if (exc != NULL && tb != NULL)
        PyException_SetTraceback(exc, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return exc;
#endif
}

/* pyembed_exception_line - see pyembed.h. */
void pyembed_exception_line(char *err, size_t errlen)
{
    PyObject *exc = take_exception();
    PyObject *s = exc ? PyObject_Str(exc) : NULL;
    const char *msg = s ? PyUnicode_AsUTF8(s) : NULL;
    const char *name = exc ? Py_TYPE(exc)->tp_name : "error";
    if (msg != NULL && msg[0] != '\0')
        snprintf(err, errlen, "%s: %s", name, msg);
    else
        snprintf(err, errlen, "%s", name);
    PyErr_Clear(); /* from str(), if it failed */
    Py_XDECREF(s);
    if (exc != NULL) /* the exception stays set, as the contract says */
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_XDECREF(exc);
}

/* pyembed_log_exception - see pyembed.h. */
void pyembed_log_exception(enum log_level level, const char *what)
{
    PyObject *exc = take_exception();
    PyObject *tb_mod = PyImport_ImportModule("traceback");
    PyObject *lines =
        tb_mod && exc ? PyObject_CallMethod(tb_mod, "format_exception", "O", exc) : NULL;
    PyObject *empty = PyUnicode_FromString("");
    PyObject *text = lines && empty ? PyUnicode_Join(empty, lines) : NULL;
    Py_ssize_t n = 0;
    const char *s = text ? PyUnicode_AsUTF8AndSize(text, &n) : NULL;
    if (s == NULL) {
        s = "(no traceback available)";
        n = (Py_ssize_t)strlen(s);
    }
    while (n > 0 && s[n - 1] == '\n') /* the log line ends it, not a blank line */
        n--;
    log_traceback(level, "%s\n%.*s", what, (int)n, s);
    PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(empty);
    Py_XDECREF(lines);
    Py_XDECREF(tb_mod);
    Py_XDECREF(exc);
}

/* pyembed_source_function - see pyembed.h. */
void *pyembed_source_function(const char *source, const char *name)
{
    PyObject *globals = PyDict_New(), *r = NULL, *fn = NULL;
    if (globals != NULL && PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) == 0)
        r = PyRun_String(source, Py_file_input, globals, globals);
    if (r != NULL) {
        fn = PyDict_GetItemString(globals, name); /* borrowed */
        if (fn == NULL)
            PyErr_Format(PyExc_NameError, "no function %s in the embedded source", name);
        Py_XINCREF(fn);
    }
    Py_XDECREF(r);
    Py_XDECREF(globals);
    return fn;
}

/* ---- starting Python --------------------------------------------------- */

/* The virtualenv to use: --virtualenv, else $VIRTUAL_ENV, as `python` would. */
static const char *virtualenv_dir(const struct config *cfg)
{
    if (cfg->virtualenv != NULL)
        return cfg->virtualenv;
    const char *v = getenv("VIRTUAL_ENV");
    return v != NULL && v[0] != '\0' ? v : NULL;
}

/* pyembed_start - see pyembed.h. */
int pyembed_start(const struct config *cfg, char *err, size_t errlen)
{
    PyConfig pc;
    PyConfig_InitPythonConfig(&pc);
    pc.install_signal_handlers = 0; /* the worker's loop owns signals */
    pc.parse_argv = 0;
    char *argv[] = {"greenhorn", NULL};
    PyStatus st = PyConfig_SetBytesArgv(&pc, 1, argv);
    /* sys.executable: the venv's python, as when it starts itself (getpath
     * then finds pyvenv.cfg beside it), else the python that goes with the
     * libpython we were built against (GREENHORN_PYTHON, from the Makefile),
     * so that an app can start Python subprocesses. */
    const char *venv = virtualenv_dir(cfg);
    char exe[4096];
    if (venv != NULL) {
        /* A virtual environment is a folder with pyvenv.cfg (PEP 405). */
        snprintf(exe, sizeof(exe), "%s/pyvenv.cfg", venv);
        if (access(exe, R_OK) != 0) {
            snprintf(err, errlen, "virtualenv '%s' is not a virtual environment (no pyvenv.cfg)",
                     venv);
            PyConfig_Clear(&pc);
            return -1;
        }
        snprintf(exe, sizeof(exe), "%s/bin/python", venv);
    } else
        snprintf(exe, sizeof(exe), "%s", GREENHORN_PYTHON);
    if (!PyStatus_Exception(st))
        st = PyConfig_SetBytesString(&pc, &pc.executable, exe);
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&pc);
    PyConfig_Clear(&pc);
    if (PyStatus_Exception(st)) {
        snprintf(err, errlen, "cannot start Python: %s", st.err_msg ? st.err_msg : "unknown");
        return -1;
    }
    return 0;
}
