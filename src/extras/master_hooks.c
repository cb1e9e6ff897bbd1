/*
 * master_hooks.c - the master's hooks of a Gunicorn config file, run in a
 * hook process that lives as long as the master.
 *
 * An extra: plugs into stage 3, fork, through plugins.h (Gunicorn
 * counterpart: the cfg.on_starting, when_ready, pre_fork, child_exit,
 * nworkers_changed, on_reload and on_exit calls in gunicorn/arbiter.py).  Owns: the hook process,
 * and the calls the master sends it.  Does not own: when a hook runs (main.c and arbiter.c), the
 * stand-ins a hook is given (hooks.c), the worker's hooks (hooks.c).
 *
 * Gunicorn calls these hooks in its master.  greenhorn's master never
 * starts Python: it stays small, and no bug of Python code can take it down.
 * So when the config file defines one of them, the master forks one hook
 * process before it binds: the process starts Python, runs the file once,
 * then waits on a socket for calls.  The master sends one and waits for the
 * answer, as Gunicorn's master waits for its hook to return.  The process
 * lives as long as the master, so what a hook keeps lasts from one call to
 * the next, as in Gunicorn: a module-level variable, or a thread that
 * when_ready started (a metrics server, say).
 *
 * The protocol is two fixed-size records on a unix stream socket: struct
 * master_call from the master, struct answer back.  Each is sent whole
 * (conn_send_all, the server's one send loop) and received whole
 * (receive(), through short reads and signals), so the two ends never lose
 * their place.
 */
#include "master_hooks.h"
#include "conn.h"
#include "hooks.h"
#include "log.h"
#include "proctitle.h"
#include "pyembed.h"
#include "signals.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The hook process's answer: ok, or the exception's last line. */
struct answer {
    int ok;
    char line[252];
};

static const char *const names[MASTER_HOOK_COUNT] = {
    "nworkers_changed", "on_starting", "when_ready", "pre_fork",
    "child_exit",       "on_reload",   "on_exit",    "pre_exec"};

static struct {
    pid_t pid;        /* the hook process; 0 = none */
    int fd;           /* the master's end of the socket; -1 = none */
    unsigned defined; /* cfg->master_hooks */
} host = {0, -1, 0};

/* Read a whole record, through EINTR.  0, or -1 (EOF counts). */
static int receive(int fd, void *rec, size_t len)
{
    char *p = rec;
    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void answer(int fd, int ok, const char *line)
{
    struct answer a = {.ok = ok};
    snprintf(a.line, sizeof a.line, "%s", line);
    (void)conn_send_all(fd, &a, sizeof a, 0);
}

/* ---- the hook process ------------------------------------------------- */

/*
 * The hook process's life: start Python, load the file, say ready (or why
 * not), then answer calls until the master closes its end.  The master's
 * signals are ignored: a Ctrl-C or a TERM to the whole process group must
 * not end it before the master has run on_exit.  The socket is read with
 * the GIL released, so that threads a hook started run between calls.
 */
static int host_main(const struct config *cfg, pid_t master, int fd)
{
    char err[256] = "";
    struct master_call call;

    proctitle_set("hook process"); /* ps tells it from the master it was forked from */
    for (size_t i = 0; i < signals_master_count; i++)
        /* Not CHLD: ignoring it makes the kernel reap the children a hook
         * starts, and subprocess.run() would lose their exit status. */
        if (signals_master[i] != SIGCHLD)
            signal(signals_master[i], SIG_IGN);
    if (pyembed_start(cfg, err, sizeof err) < 0 ||
        hooks_master_load(cfg, master, err, sizeof err) < 0) {
        answer(fd, 0, err);
        return 1;
    }
    answer(fd, 1, "");
    for (;;) {
        int got;
        Py_BEGIN_ALLOW_THREADS
            got = receive(fd, &call, sizeof call);
        Py_END_ALLOW_THREADS
        if (got < 0)
            return 0; /* the master closed its end, or is gone */
        int rc = call.which >= 0 && call.which < MASTER_HOOK_COUNT
                     ? hooks_master_call(&call, names[call.which], err, sizeof err)
                     : -1;
        answer(fd, rc == 0, rc == 0 ? "" : err);
    }
}

/* ---- the master's side ---------------------------------------------- */

/* master_hooks_start - see master_hooks.h. */
int master_hooks_start(const struct config *cfg, char *err, size_t errlen)
{
    int sv[2];
    struct answer a = {0, ""};

    if (cfg->master_hooks == 0 || cfg->config_read == NULL)
        return 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        snprintf(err, errlen, "cannot start the hook process: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        _exit(host_main(cfg, getppid(), sv[1])); /* _exit: threads may still run */
    }
    close(sv[1]);
    if (pid < 0) {
        snprintf(err, errlen, "cannot start the hook process: %s", strerror(errno));
        close(sv[0]);
        return -1;
    }
    host.pid = pid;
    host.fd = sv[0];
    host.defined = cfg->master_hooks;
    if (receive(host.fd, &a, sizeof a) < 0 || !a.ok) {
        snprintf(err, errlen, "%s: %s", cfg->config_read,
                 a.line[0] ? a.line : "the hook process failed to start");
        master_hooks_stop();
        return -1;
    }
    log_msg(LOG_DEBUG, "The config file's master hooks run in pid: %d", (int)pid);
    return 0;
}

/* master_hooks_call - see master_hooks.h. */
int master_hooks_call(const struct master_call *call, char *err, size_t errlen)
{
    struct answer a = {0, ""};
    unsigned which = (unsigned)call->which;

    if (which >= MASTER_HOOK_COUNT || !(host.defined & (1u << which)))
        return 0;
    struct master_call out = *call;
    if (host.fd < 0 || conn_send_all(host.fd, &out, sizeof out, 0) < 0 ||
        receive(host.fd, &a, sizeof a) < 0) {
        snprintf(err, errlen, "The %s hook did not run: the hook process is gone", names[which]);
        if (host.fd >= 0)
            close(host.fd);
        host.fd = -1;
        return -1;
    }
    if (a.ok)
        return 0;
    snprintf(err, errlen, "The %s hook failed: %s", names[which], a.line);
    return -1;
}

/* master_hooks_reaped - see master_hooks.h. */
int master_hooks_reaped(pid_t pid, int status)
{
    if (host.pid == 0 || pid != host.pid)
        return 0;
    host.pid = 0;
    if (host.fd >= 0) { /* not asked to stop: it died */
        log_msg(LOG_ERROR,
                "The hook process (pid:%d) %s %d; the config file's master hooks "
                "no longer run",
                (int)pid, WIFSIGNALED(status) ? "was killed by signal" : "exited with code",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        close(host.fd);
        host.fd = -1;
    }
    return 1;
}

/* master_hooks_forget - see master_hooks.h. */
void master_hooks_forget(void)
{
    if (host.fd >= 0)
        close(host.fd);
    host.fd = -1;
    host.pid = 0;
    host.defined = 0;
}

/* master_hooks_stop - see master_hooks.h. */
void master_hooks_stop(void)
{
    if (host.fd >= 0)
        close(host.fd);
    host.fd = -1;
    for (int waited = 0; host.pid > 0 && waited < 500; waited++) {
        pid_t done = waitpid(host.pid, NULL, WNOHANG);
        if (done == host.pid || (done < 0 && errno != EINTR))
            host.pid = 0;
        else
            nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    if (host.pid > 0) { /* 5 s: a thread a hook started holds it up */
        kill(host.pid, SIGKILL);
        while (waitpid(host.pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    host.pid = 0;
    host.defined = 0;
}
