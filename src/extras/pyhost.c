/*
 * pyhost.c - greenhorn run by python3 itself: the interpreter at python3's
 * own speed.
 *
 * An extra, called from main.c once the settings are read.  Gunicorn
 * counterpart: none (Gunicorn is started by python3, so it always runs at
 * python3's speed).  Owns: finding greenhorn.so and the python to run it,
 * the exec, and the module's entry point.  Does not own: anything the
 * server does once it runs (every stage is the same code in both forms).
 *
 * Why: Debian builds /usr/bin/python3 with link-time and profile-guided
 * optimisation, but ships libpython3.11.a and libpython3.11.so built
 * without them, so an interpreter linked into a program of our own runs
 * Python code slower than python3: about 10% on a Flask app rendering a
 * Jinja2 template, measured with both loaded at once on one core (the same
 * code 3,053 against 3,388 times in 12 s).  Template and ORM code is what
 * real apps spend their time in, so that 10% is larger than all that
 * greenhorn's request handling in C saves over Gunicorn's in Python.
 *
 * How: the Makefile builds the same objects a second time, position-
 * independent, into greenhorn.so beside the greenhorn binary: a CPython
 * extension module (PEP 489 is not needed; the single-phase PyInit is
 * enough) whose one function, main, is greenhorn's main().  Once the
 * settings are read, the greenhorn binary execs
 *
 *     python3.11 -c BOOT  /path/greenhorn.so  greenhorn's own arguments...
 *
 * (the same pid, so systemd, supervisors and -D see nothing), BOOT loads
 * greenhorn.so and calls main with the arguments, and from there on all is
 * as before: the master forks workers, each imports the app.  The python
 * is the one greenhorn is built against, or a virtualenv's bin/python
 * (pyembed_executable), so a virtualenv is honoured as python3 honours it.
 * The module is built with hidden symbols (-fvisibility=hidden): python3
 * exports its own symbols, main among them, and ours must not resolve to
 * them or they to ours.
 *
 * It falls back to the embedded interpreter, silently as far as serving
 * goes, when greenhorn.so or the python is missing (a copied binary, the
 * sanitizer and coverage builds, which build no module), or when
 * $GREENHORN_EMBED is set; the master's first debug line says which runs.
 */
#include "pyhost.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pyembed.h"

/* set once, in the module's main: this process is python3's */
static int hosted;

/* pyhost_hosted - see pyhost.h. */
int pyhost_hosted(void)
{
    return hosted;
}

/* BOOT: load the module from its file (not from sys.path, where a folder of
 * ours would stay for the app to import from), drop the '' that -c put at
 * the front of sys.path (an embedded interpreter has none: the app is found
 * through --chdir and --pythonpath), and run greenhorn's main.  It does not
 * return: greenhorn exits from C, as it does embedded. */
static char boot[] = "import sys\n"
                     "from importlib.util import spec_from_file_location, module_from_spec\n"
                     "sys.flags.safe_path or sys.path.pop(0)\n"
                     "spec = spec_from_file_location('_greenhorn', sys.argv[1])\n"
                     "module = module_from_spec(spec)\n"
                     "spec.loader.exec_module(module)\n"
                     "module.main(list(map(__import__('os').fsencode, sys.argv[2:])))\n";

/* greenhorn.so: beside the binary (the build tree), else in the
 * lib/greenhorn of its prefix (make install).  0, or -1 when there is none. */
static int find_module(char *path, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    snprintf(path, len, "%s.so", exe);
    if (access(path, R_OK) == 0)
        return 0;
    char *slash = strrchr(exe, '/');
    if (slash == NULL)
        return -1;
    *slash = '\0';
    snprintf(path, len, "%s/../lib/greenhorn/greenhorn.so", exe);
    return access(path, R_OK) == 0 ? 0 : -1;
}

/* The python to run: the virtualenv's, where the settings name one (a
 * relative one is inside --chdir, where the workers will look), else ours.
 * 0, or -1 when the virtualenv is not one greenhorn could use: the embedded
 * start then refuses it with its own line. */
static int find_python(const struct config *cfg, char *exe, size_t len)
{
    char venv[PATH_MAX], abs[PATH_MAX], err[512];
    int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), found = -1;
    if (here < 0)
        return -1;
    if (cfg->chdir == NULL || chdir(cfg->chdir) == 0) {
        int has = pyembed_virtualenv(cfg, venv, sizeof venv, err, sizeof err);
        if (has == 0) {
            pyembed_executable(NULL, exe, len);
            found = 0;
        } else if (has == 1 && realpath(venv, abs) != NULL) {
            pyembed_executable(abs, exe, len);
            found = 0;
        }
    }
    if (fchdir(here) < 0)
        found = -1;
    close(here);
    return found == 0 && access(exe, X_OK) == 0 ? 0 : -1;
}

/* pyhost_exec - see pyhost.h. */
void pyhost_exec(const struct config *cfg, int argc, char *const *argv)
{
    char module[PATH_MAX + 32], python[PATH_MAX + 16];
    const char *off = getenv("GREENHORN_EMBED");

    if (hosted || (off != NULL && off[0] != '\0') || find_module(module, sizeof module) < 0 ||
        find_python(cfg, python, sizeof python) < 0)
        return;
    char **args = calloc((size_t)argc + 5, sizeof *args);
    if (args == NULL)
        return;
    /* argv[0] is the python as named (a virtualenv's bin/python, not
     * where its link points): CPython's getpath finds pyvenv.cfg from it. */
    args[0] = python;
    args[1] = "-c";
    args[2] = boot;
    args[3] = module;
    for (int i = 0; i < argc; i++)
        args[4 + i] = argv[i];
    fflush(NULL);
    execv(python, args);
    free(args); /* exec failed: serve with the embedded interpreter */
}

/* ---- the module -------------------------------------------------------- */

int main(int argc, char **argv); /* main.c's: greenhorn itself */

/* Take out of __main__ the names BOOT defined (not the dunder ones every
 * __main__ has).  0, or -1 with a Python exception. */
static int clear_main(PyObject *dict)
{
    PyObject *keys = dict ? PyDict_Keys(dict) : NULL;
    int rc = keys ? 0 : -1;
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(keys); i++) {
        const char *name = PyUnicode_AsUTF8(PyList_GET_ITEM(keys, i));
        if (name == NULL)
            rc = -1;
        else if (strncmp(name, "__", 2) != 0)
            rc = PyDict_DelItem(dict, PyList_GET_ITEM(keys, i));
    }
    Py_XDECREF(keys);
    return rc;
}

/* _greenhorn.main(args): args are greenhorn's arguments as bytes, argv[0]
 * first.  Never returns. */
static PyObject *module_main(PyObject *self, PyObject *list)
{
    (void)self;
    if (!PyList_Check(list))
        return PyErr_Format(PyExc_TypeError, "main() takes a list of bytes");
    Py_ssize_t n = PyList_GET_SIZE(list);
    char **argv = calloc((size_t)n + 1, sizeof *argv);
    if (argv == NULL)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *arg = PyBytes_AsString(PyList_GET_ITEM(list, i));
        if (arg == NULL || (argv[i] = strdup(arg)) == NULL)
            return arg == NULL ? NULL : PyErr_NoMemory();
    }
    hosted = 1;
    /* As the embedded interpreter has them: sys.argv is ['greenhorn'], and
     * __main__ holds none of BOOT's names. */
    PyObject *sys_argv = Py_BuildValue("[s]", "greenhorn");
    PyObject *main_dict = PyModule_GetDict(PyImport_AddModule("__main__")); /* borrowed */
    int failed = sys_argv == NULL || PySys_SetObject("argv", sys_argv) < 0;
    Py_XDECREF(sys_argv);
    if (failed || clear_main(main_dict) < 0)
        return NULL;
    /* SIGINT is greenhorn's (the master's signal, a worker's quick exit),
     * not python3's KeyboardInterrupt; signal.getsignal says so too.
     * SIGPIPE and SIGXFSZ stay ignored, as python3 (and so Gunicorn) has
     * them. */
    PyObject *signal = PyImport_ImportModule("signal");
    PyObject *dfl = signal ? PyObject_GetAttrString(signal, "SIG_DFL") : NULL;
    PyObject *done = dfl ? PyObject_CallMethod(signal, "signal", "iO", SIGINT, dfl) : NULL;
    Py_XDECREF(dfl);
    Py_XDECREF(signal);
    if (done == NULL)
        return NULL;
    Py_DECREF(done);
    exit(main((int)n, argv));
}

static PyMethodDef module_methods[] = {
    {"main", module_main, METH_O, "Run greenhorn with these arguments (bytes); never returns."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "_greenhorn",
    "greenhorn, run by python3 (see greenhorn(1)).",
    -1,
    module_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

/* The module's entry point: the one symbol greenhorn.so exports. */
PyMODINIT_FUNC PyInit__greenhorn(void);
PyMODINIT_FUNC PyInit__greenhorn(void)
{
    return PyModule_Create(&module_def);
}
