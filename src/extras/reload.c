/*
 * reload.c - --reload and --reload-extra-file: a worker restarts when a
 * source file of its app changes (an extra, for development).
 *
 * Plugs into stage 4, the worker, through the plugins.h worker_watch slot.
 * Gunicorn counterpart: gunicorn/reloader.py (InotifyReloader) and the
 * changed() callback of Worker.init_process in gunicorn/workers/base.py.
 * Owns: the list of watched files, the inotify descriptor and the one
 * thread that reads it.  Does not own: stopping the worker (it sends the
 * worker the TERM the master would send, and the worker's own loop, sync or
 * gthread, finishes its requests and exits; the master starts a new worker,
 * which imports the new code).
 *
 * What is watched: once the app is imported (before post_worker_init, as
 * in Gunicorn), the file of every module in sys.modules, and every
 * --reload-extra-file.
 * inotify watches directories, as Gunicorn's reloader does, so that an
 * editor that saves by writing a new file and renaming it over the old one
 * (IN_MOVED_TO) is seen.  A change counts when it is to one of those files,
 * or to any *.py file in the directory of a module: a module the app
 * imports later, lazily, sits beside the ones already imported (Gunicorn
 * restarts on any file of those directories; editor swap and lock files,
 * logs and __pycache__ do not restart here).  The list is made once per worker: the
 * next worker makes it again, with whatever it imported.
 *
 * An app that does not compile (a SyntaxError: an edit half done) does not
 * stop the server, as it would without --reload: the worker serves its
 * traceback as a 500 and watches the file that failed, and the fix brings
 * the next worker, with the new code (Gunicorn's load_wsgi does the same).
 *
 * Process state only (the list, the descriptor): one watcher per worker
 * process, nothing of a request.
 */
#include "reload.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "conn.h"
#include "log.h"
#include "pyembed.h"

/* What a write, a rename over the file, a new file or a removal look like. */
#define WATCH_MASK                                                                                 \
    (IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)

/* After the first change, events are read until none came for QUIET_MS (at
 * most SETTLE_MS in all): a file written in several pieces, or saved as a
 * write and a rename, is whole before the new worker imports it. */
#define QUIET_MS  100
#define SETTLE_MS 1000

struct watched_dir {
    char *path;      /* absolute, no trailing '/' */
    bool module_dir; /* a module's directory: any *.py in it counts */
};

static struct {
    bool started; /* the watcher runs (WORKER_POST_INIT) */
    int fd;       /* the inotify descriptor, opened on first use */
    char **files; /* absolute paths of the watched files */
    size_t num_files, cap_files;
    struct watched_dir *dirs; /* indexed by watch descriptor */
    size_t cap_dirs;
} watch = {.fd = -1};

/* path made absolute with its directory resolved (symbolic links, "..")
 * into out; the file itself need not exist (an extra file may come later).
 * false when its directory does not exist. */
static bool absolute(const char *path, char *out, size_t outlen)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (*base == '\0' || realpath(dir, real) == NULL)
        return false;
    return (size_t)snprintf(out, outlen, "%s/%s", strcmp(real, "/") == 0 ? "" : real, base) <
           outlen;
}

static bool known_file(const char *path)
{
    for (size_t i = 0; i < watch.num_files; i++)
        if (strcmp(watch.files[i], path) == 0)
            return true;
    return false;
}

/* Watch path's directory, and path in it.  false when it cannot be. */
static bool add_file(const char *path, bool module)
{
    char abs[PATH_MAX];
    if (!absolute(path, abs, sizeof abs))
        return false;
    if (known_file(abs))
        return true;
    char *slash = strrchr(abs, '/');
    *slash = '\0';
    int wd = inotify_add_watch(watch.fd, abs[0] != '\0' ? abs : "/", WATCH_MASK);
    if (wd < 0) {
        log_msg(LOG_WARNING, "--reload: cannot watch '%s': %s", abs, strerror(errno));
        return false;
    }
    if ((size_t)wd >= watch.cap_dirs) {
        size_t cap = (size_t)wd * 2 + 16;
        struct watched_dir *d = realloc(watch.dirs, cap * sizeof *d);
        if (d == NULL)
            return false;
        memset(d + watch.cap_dirs, 0, (cap - watch.cap_dirs) * sizeof *d);
        watch.dirs = d;
        watch.cap_dirs = cap;
    }
    if (watch.dirs[wd].path == NULL && (watch.dirs[wd].path = strdup(abs)) == NULL)
        return false;
    watch.dirs[wd].module_dir |= module;
    *slash = '/';
    if (watch.num_files == watch.cap_files) {
        size_t cap = watch.cap_files * 2 + 64;
        char **f = realloc(watch.files, cap * sizeof *f);
        if (f == NULL)
            return false;
        watch.files = f;
        watch.cap_files = cap;
    }
    if ((watch.files[watch.num_files] = strdup(abs)) == NULL)
        return false;
    watch.num_files++;
    return true;
}

/* The source of every module imported so far (Gunicorn's get_dirs: a
 * compiled "x.pyc" stands for "x.py"); built-in modules have no file. */
static void add_modules(void)
{
    PyObject *mods = PyDict_Values(PyImport_GetModuleDict()); /* a copy: imports may go on */
    if (mods == NULL) {
        PyErr_Clear();
        return;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(mods); i++) {
        PyObject *file = PyObject_GetAttrString(PyList_GET_ITEM(mods, i), "__file__");
        const char *s = file != NULL && PyUnicode_Check(file) ? PyUnicode_AsUTF8(file) : NULL;
        PyErr_Clear();
        if (s != NULL) {
            char src[PATH_MAX];
            size_t n = strlen(s);
            if (n < sizeof src) {
                memcpy(src, s, n + 1);
                if (n > 4 && strcmp(src + n - 4, ".pyc") == 0)
                    src[n - 1] = '\0';
                add_file(src, true);
            }
        }
        Py_XDECREF(file);
    }
    Py_DECREF(mods);
}

/* Does this event touch what we watch?  The changed path goes into out. */
static bool counts(const struct inotify_event *ev, char *out, size_t outlen)
{
    if (ev->wd < 0 || (size_t)ev->wd >= watch.cap_dirs || watch.dirs[ev->wd].path == NULL ||
        ev->len == 0)
        return false;
    const struct watched_dir *d = &watch.dirs[ev->wd];
    if ((size_t)snprintf(out, outlen, "%s/%s", d->path, ev->name) >= outlen)
        return false;
    /* A hidden name is an editor's (Emacs' lock ".#views.py"), not a module. */
    size_t n = strlen(ev->name);
    return known_file(out) ||
           (d->module_dir && ev->name[0] != '.' && n > 3 && strcmp(ev->name + n - 3, ".py") == 0);
}

/* Read what inotify has (waiting up to ms); the first path that counts goes
 * into changed unless one is there.  Returns the events read, -1 on error. */
static int read_events(int ms, char *changed, size_t changedlen)
{
    struct pollfd p = {.fd = watch.fd, .events = POLLIN};
    int ready = poll(&p, 1, ms);
    if (ready <= 0)
        return ready < 0 && errno != EINTR ? -1 : 0;
    _Alignas(struct inotify_event) char buf[8192];
    ssize_t len = read(watch.fd, buf, sizeof buf);
    if (len < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    int seen = 0;
    char path[PATH_MAX + NAME_MAX + 2];
    for (char *at = buf; at < buf + len;) {
        const struct inotify_event *ev = (const struct inotify_event *)(void *)at;
        if (changed[0] == '\0' && counts(ev, path, sizeof path))
            snprintf(changed, changedlen, "%s", path);
        seen++;
        at += sizeof *ev + ev->len;
    }
    return seen;
}

/* The watcher thread: wait for a change, let it settle, then stop the
 * worker as the master's TERM would (Gunicorn's changed() sets
 * self.alive = False and wakes the loop: the same graceful stop). */
static void *watcher(void *arg)
{
    char changed[PATH_MAX + NAME_MAX + 2] = "";
    (void)arg;
    while (changed[0] == '\0')
        if (read_events(-1, changed, sizeof changed) < 0) {
            log_msg(LOG_ERROR, "--reload: reading inotify: %s", strerror(errno));
            return NULL;
        }
    int64_t until = conn_now_ms() + SETTLE_MS;
    while (conn_now_ms() < until && read_events(QUIET_MS, changed, sizeof changed) > 0)
        ;
    log_msg(LOG_INFO, "Worker reloading: %s modified", changed);
    kill(getpid(), SIGTERM);
    return NULL;
}

/* Start the watcher with every signal blocked: the worker's loop thread
 * handles them. */
static int start_thread(void)
{
    pthread_t t;
    pthread_attr_t attr;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, watcher, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* The inotify descriptor, opened on first use: by reload_app_failed (the
 * file that did not compile) or at WORKER_POST_INIT.  false without it. */
static bool open_watch(void)
{
    if (watch.fd < 0 && (watch.fd = inotify_init1(IN_CLOEXEC)) < 0) {
        log_msg(LOG_ERROR, "--reload: inotify: %s; workers will not reload", strerror(errno));
        return false;
    }
    return true;
}

/* The app served while the code does not compile (Gunicorn's
 * util.make_fail_app), and the files to watch for the fix: the one the
 * SyntaxError names, and those of the frames that imported it (none of
 * them is in sys.modules: a failed import takes its module out). */
static const char stand_in_source[] =
    "import os, traceback\n"
    "def stand_in(exc):\n"
    "    body = ''.join(traceback.format_exception(exc)).encode('utf-8', 'replace')\n"
    "    headers = [('Content-Type', 'text/plain; charset=utf-8'),\n"
    "               ('Content-Length', str(len(body)))]\n"
    "    def app(environ, start_response):\n"
    "        start_response('500 Internal Server Error', headers)\n"
    "        return [body]\n"
    "    files = [exc.filename] if isinstance(exc.filename, str) else []\n"
    "    files += [frame.filename for frame in traceback.extract_tb(exc.__traceback__)]\n"
    "    return app, [f for f in files if os.path.isfile(f)]\n";

/* reload_app_failed - see reload.h. */
void *reload_app_failed(const struct config *cfg, const char *why)
{
    if (!PyErr_ExceptionMatches(PyExc_SyntaxError))
        return NULL; /* the worker fails to boot, as without --reload */
    PyObject *exc = pyembed_take_exception();
    if (exc == NULL)
        return NULL;
    PyObject *make = pyembed_source_function(stand_in_source, "stand_in");
    PyObject *made = make ? PyObject_CallOneArg(make, exc) : NULL;
    Py_XDECREF(make);
    PyObject *app = NULL, *files = NULL;
    size_t watched = 0;
    if (made != NULL && PyArg_ParseTuple(made, "OO!", &app, &PyList_Type, &files) && open_watch()) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(files); i++) {
            const char *path = PyUnicode_AsUTF8(PyList_GET_ITEM(files, i));
            if (path == NULL)
                PyErr_Clear();
            else if (add_file(path, true))
                watched++;
        }
    }
    if (watched == 0) {
        /* Nothing would bring the fix: fail the boot, as without --reload. */
        if (PyErr_Occurred())
            pyembed_log_exception(LOG_ERROR, "--reload: cannot serve the error:");
        else
            log_msg(LOG_ERROR, "--reload: cannot watch the file that failed to compile");
        Py_XDECREF(made);
        Py_DECREF(exc);
        return NULL;
    }
    Py_INCREF(app);
    Py_DECREF(made);
    char what[1024];
    snprintf(what, sizeof what,
             "Failed to load application '%s': %s; --reload: every request gets its "
             "traceback (500) until a watched file changes",
             cfg->app_uri, why);
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc); /* logging takes it */
    pyembed_log_exception(LOG_ERROR, what);
    Py_DECREF(exc);
    return app;
}

/* reload_worker_watch - see reload.h. */
void reload_worker_watch(enum worker_event ev, const struct config *cfg)
{
    if (ev == WORKER_POST_FORK) {
        /* A .pyc records its source's mtime in whole seconds (and its size):
         * an edit in the second the cache was written, to a file of the same
         * size, would import the old code.  No cache is written while
         * reloading, so none can be stale (PEP 3147, PEP 552). */
        if (PySys_SetObject("dont_write_bytecode", Py_True) < 0)
            PyErr_Clear();
        return;
    }
    if (ev != WORKER_POST_INIT || watch.started || !open_watch())
        return;
    watch.started = true;
    add_modules();
    for (size_t i = 0; i < cfg->num_reload_extra_files; i++)
        if (!add_file(cfg->reload_extra_files[i], false))
            log_msg(LOG_WARNING, "--reload-extra-file: cannot watch '%s'",
                    cfg->reload_extra_files[i]);
    log_msg(LOG_DEBUG, "--reload: watching %zu files", watch.num_files);
    int rc = start_thread();
    if (rc != 0)
        log_msg(LOG_ERROR, "--reload: cannot start the watcher: %s", strerror(rc));
}
