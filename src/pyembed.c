/*
 * pyembed.c - the embedded interpreter's few shared helpers.
 *
 * Used by stage 7 (wsgi.c: the worker's interpreter) and by the extras that
 * also run Python: the config-file reader's short-lived child, the worker
 * hooks and the hook process.  Gunicorn counterpart: none; Gunicorn *is* a
 * Python program.  CPython's Doc/extending/embedding.rst and
 * Programs/_testembed.c show the PyConfig shape used here.
 * Owns: starting the interpreter (PyConfig: no signal handlers, the
 * virtualenv honoured, sys.executable); which virtualenv that is (the
 * option, the executable's own, $VIRTUAL_ENV) and whether its Python is
 * ours; bringing an interpreter that came with a fork up to date
 * (PyOS_AfterFork_Child and os.environ); turning the current exception into
 * one line or a logged traceback, and running a snippet of Python source.
 * Does not own: sys.path, the app import or anything per request (wsgi.c).
 */
#include "pyembed.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* ---- errors ------------------------------------------------------------ */

/*
 * pyembed_take_exception - see pyembed.h.  The one place that knows how a
 * given Python hands the exception over: PyErr_GetRaisedException from 3.12
 * on, where PyErr_Fetch is deprecated; 3.11, which greenhorn is built
 * against on Debian 12, has only PyErr_Fetch and PyErr_NormalizeException.
 */
void *pyembed_take_exception(void)
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
    PyObject *exc = pyembed_take_exception();
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
    PyObject *exc = pyembed_take_exception();
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

/* ---- the virtualenv ---------------------------------------------------- */

/* The virtualenv greenhorn's own executable sits in, found once by
 * pyembed_note_program: process-wide, like the executable itself. */
static char own_venv[PATH_MAX];

/* Append the path component part (len bytes) to the normalised absolute
 * path out, lexically: "." is dropped and ".." removes the last component,
 * as os.path.abspath does, and no symbolic link is followed. */
static void push_component(char *out, size_t outlen, const char *part, size_t len)
{
    size_t n = strlen(out);
    if (len == 0 || (len == 1 && part[0] == '.'))
        return;
    if (len == 2 && part[0] == '.' && part[1] == '.') {
        char *slash = strrchr(out, '/');
        if (slash != NULL)
            *(slash == out ? slash + 1 : slash) = '\0';
        return;
    }
    if (n + 1 + len < outlen)
        snprintf(out + n, outlen - n, "%s%.*s", n > 1 ? "/" : "", (int)len, part);
}

/* abspath - path made absolute against base (the current directory), then
 * normalised lexically into out.  0, or -1 when it does not fit. */
static int abspath(const char *base, const char *path, char *out, size_t outlen)
{
    if (strlen(base) + strlen(path) + 2 > outlen)
        return -1;
    snprintf(out, outlen, "/");
    for (int round = path[0] == '/'; round < 2; round++) {
        const char *p = round == 0 ? base : path;
        while (*p != '\0') {
            const char *end = strchrnul(p, '/');
            push_component(out, outlen, p, (size_t)(end - p));
            p = *end == '/' ? end + 1 : end;
        }
    }
    return 0;
}

/* The executable as it was run: argv[0] made absolute when it has a slash,
 * else the first file of that name in $PATH that we may execute -- what
 * CPython's getpath computes as sys.executable before it looks for a
 * pyvenv.cfg, without resolving symbolic links.  0, or -1 when unknown. */
static int program_path(const char *argv0, char *out, size_t outlen)
{
    char cwd[PATH_MAX], candidate[2 * PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL)
        return -1;
    if (strchr(argv0, '/') != NULL)
        return abspath(cwd, argv0, out, outlen);
    const char *path = getenv("PATH");
    while (path != NULL && *path != '\0') {
        const char *end = strchrnul(path, ':');
        struct stat st;
        /* an empty entry of $PATH is the current directory, as execvp has it */
        if (end == path)
            snprintf(candidate, sizeof candidate, "./%s", argv0);
        else
            snprintf(candidate, sizeof candidate, "%.*s/%s", (int)(end - path), path, argv0);
        if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode) && access(candidate, X_OK) == 0)
            return abspath(cwd, candidate, out, outlen);
        path = *end == ':' ? end + 1 : end;
    }
    return -1;
}

/* pyembed_note_program - see pyembed.h. */
void pyembed_note_program(const char *argv0)
{
    char exe[PATH_MAX], cfg[PATH_MAX + 16];
    own_venv[0] = '\0';
    if (argv0 == NULL || program_path(argv0, exe, sizeof exe) < 0)
        return;
    /* CPython's getpath.py: pyvenv.cfg one level above the executable's
     * folder (venv/bin/python), else in that folder itself. */
    for (int up = 1; up >= 0; up--) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", exe);
        for (int i = 0; i <= up; i++) {
            char *slash = strrchr(dir, '/');
            if (slash == NULL)
                return;
            *(slash == dir ? slash + 1 : slash) = '\0';
        }
        snprintf(cfg, sizeof cfg, "%s%spyvenv.cfg", dir, strcmp(dir, "/") == 0 ? "" : "/");
        if (access(cfg, R_OK) == 0) {
            snprintf(own_venv, sizeof own_venv, "%s", dir);
            return;
        }
    }
}

/*
 * The Python version a virtualenv was made with, from its pyvenv.cfg: the
 * `version = 3.11.2` line of `python -m venv` (PEP 405's file), or the
 * `version_info = 3.12.1.final.0` of virtualenv and uv.  1 with *major and
 * *minor, 0 when the file names none, -1 when it cannot be read.
 */
static int venv_version(const char *cfgpath, int *major, int *minor)
{
    char line[1024];
    int found = 0;
    FILE *f = fopen(cfgpath, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        char *eq = strchr(line, '='), *key = line, *end;
        if (eq == NULL)
            continue;
        for (end = eq; end > key && (end[-1] == ' ' || end[-1] == '\t'); end--)
            ;
        while (*key == ' ' || *key == '\t')
            key++;
        size_t klen = (size_t)(end - key);
        bool plain = klen == 7 && strncasecmp(key, "version", 7) == 0;
        bool info = klen == 12 && strncasecmp(key, "version_info", 12) == 0;
        /* `version` wins: it is the standard library's own key */
        if ((plain || (info && !found)) && sscanf(eq + 1, " %d.%d", major, minor) == 2) {
            found = 1;
            if (plain)
                break;
        }
    }
    fclose(f);
    return found;
}

/* pyembed_virtualenv - see pyembed.h. */
int pyembed_virtualenv(const struct config *cfg, char *dir, size_t dirlen, char *err, size_t errlen)
{
    const char *venv = cfg->virtualenv;
    const char *env = getenv("VIRTUAL_ENV");
    char cfgpath[PATH_MAX + 16];
    int major, minor;

    /* As `venv/bin/python` does, the executable's own virtualenv beats
     * $VIRTUAL_ENV, which only an activated shell sets; --virtualenv,
     * asked for by name, beats both. */
    if (venv == NULL && own_venv[0] != '\0')
        venv = own_venv;
    if (venv == NULL && env != NULL && env[0] != '\0')
        venv = env;
    if (venv == NULL)
        return 0;
    /* A virtual environment is a folder with pyvenv.cfg (PEP 405). */
    snprintf(cfgpath, sizeof cfgpath, "%s/pyvenv.cfg", venv);
    int known = venv_version(cfgpath, &major, &minor);
    if (known < 0) {
        snprintf(err, errlen, "virtualenv '%s' is not a virtual environment (no pyvenv.cfg)", venv);
        return -1;
    }
    /* Its site-packages is lib/pythonX.Y, and its C extensions are built
     * for X.Y's ABI: another minor version cannot be used (PEP 384 aside). */
    if (known == 1 && (major != PY_MAJOR_VERSION || minor != PY_MINOR_VERSION)) {
        snprintf(
            err, errlen,
            "the virtualenv %s is Python %d.%d (pyvenv.cfg), greenhorn embeds Python %d.%d: make "
            "the virtualenv with python%d.%d (or rebuild greenhorn against %d.%d)",
            venv, major, minor, PY_MAJOR_VERSION, PY_MINOR_VERSION, PY_MAJOR_VERSION,
            PY_MINOR_VERSION, major, minor);
        return -1;
    }
    snprintf(dir, dirlen, "%s", venv);
    return 1;
}

/* ---- starting Python --------------------------------------------------- */

/* pyembed_executable - see pyembed.h.  sys.executable: the venv's python,
 * as when it starts itself (getpath then finds pyvenv.cfg beside it), else
 * the python that goes with the libpython we were built against
 * (GREENHORN_PYTHON, from the Makefile), so that an app can start Python
 * subprocesses. */
void pyembed_executable(const char *venv, char *exe, size_t exelen)
{
    if (venv != NULL)
        snprintf(exe, exelen, "%s/bin/python", venv);
    else
        snprintf(exe, exelen, "%s", GREENHORN_PYTHON);
}

/* os.environ is read from the environment once, when Python starts.  A
 * child whose interpreter came with the fork (--preload, or a master that
 * python3 runs) would see the environment of that moment, not the master's
 * now: -e KEY=VALUE, the variables greenhorn takes out ($NOTIFY_SOCKET,
 * $LISTEN_FDS ...), a HUP's new -e.  So it is made the same again, through
 * os.environ itself (putenv and unsetenv of values already there).  With a
 * Python exception set on -1. */
static int sync_environ(void)
{
    PyObject *os = PyImport_ImportModule("os");
    PyObject *env = os ? PyObject_GetAttrString(os, "environ") : NULL;
    PyObject *fresh = env ? PyDict_New() : NULL, *keys = NULL;
    int rc = -1;
    if (fresh == NULL)
        goto out;
    for (char **e = environ; *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        if (eq == NULL || eq == *e)
            continue;
        PyObject *k = PyUnicode_DecodeFSDefaultAndSize(*e, eq - *e);
        PyObject *v = k ? PyUnicode_DecodeFSDefault(eq + 1) : NULL;
        int bad = v == NULL || PyDict_SetItem(fresh, k, v) < 0;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (bad)
            goto out;
    }
    if ((keys = PySequence_List(env)) == NULL)
        goto out;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys); i++) {
        PyObject *k = PyList_GET_ITEM(keys, i);
        if (PyDict_GetItemWithError(fresh, k) == NULL &&
            (PyErr_Occurred() || PyObject_DelItem(env, k) < 0))
            goto out;
    }
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(fresh, &pos, &k, &v)) {
        PyObject *now = PyObject_GetItem(env, k);
        int same = now != NULL ? PyObject_RichCompareBool(now, v, Py_EQ) : 0;
        Py_XDECREF(now);
        PyErr_Clear(); /* KeyError: a new variable */
        if (same != 1 && PyObject_SetItem(env, k, v) < 0)
            goto out;
    }
    rc = 0;
out:
    Py_XDECREF(keys);
    Py_XDECREF(fresh);
    Py_XDECREF(env);
    Py_XDECREF(os);
    return rc;
}

/* pyembed_after_fork - see pyembed.h. */
int pyembed_after_fork(void)
{
    PyOS_AfterFork_Child();
    if (sync_environ() == 0)
        return 0;
    pyembed_log_exception(LOG_ERROR, "Cannot bring os.environ up to date after fork:");
    return -1;
}

/* pyembed_start - see pyembed.h. */
int pyembed_start(const struct config *cfg, char *err, size_t errlen)
{
    char venv[PATH_MAX];
    /* Already running: this is a child a master run by python3 forked
     * (pyhost.c), the config file's reader or the hook process.  Its
     * interpreter came with it; CPython's own os.fork() says so to it. */
    if (Py_IsInitialized()) {
        pyembed_after_fork();
        return 0;
    }
    int has_venv = pyembed_virtualenv(cfg, venv, sizeof venv, err, errlen);
    if (has_venv < 0)
        return -1;

    PyConfig pc;
    PyConfig_InitPythonConfig(&pc);
    pc.install_signal_handlers = 0; /* the worker's loop owns signals */
    pc.parse_argv = 0;
    char *argv[] = {"greenhorn", NULL};
    PyStatus st = PyConfig_SetBytesArgv(&pc, 1, argv);
    /* absolute, as python3 would make it: a relative --virtualenv is
     * relative to --chdir, and the app may change directory */
    char exe[PATH_MAX + 16], abs[PATH_MAX];
    pyembed_executable(has_venv ? (realpath(venv, abs) ? abs : venv) : NULL, exe, sizeof exe);
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
