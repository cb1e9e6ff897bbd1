/*
 * upgrade.c - the binary upgrade on USR2, as Gunicorn documents it
 * ("Upgrading to a new binary on the fly", docs/source/signals.rst).
 *
 * An extra: plugs into stage 3, fork, through plugins.h, and into main.c's
 * binding and pid file (Gunicorn counterpart: Arbiter.reexec,
 * maybe_promote_master and start in gunicorn/arbiter.py, create_sockets
 * in gunicorn/sock.py).
 * Owns: what a new master is started with (argv, directory, environment,
 * as at start), starting it with the listeners inherited, GUNICORN_FD and
 * GUNICORN_PID, and the pid file's name during an upgrade.  Does not own:
 * when it happens, WINCH, or who waits for whom (arbiter.c); the
 * pre_exec hook (the hook process, master_hooks.c, runs it before the
 * fork).
 *
 * The procedure: USR2 to the master starts a new master from the same
 * path, which may now hold a new binary; it adopts the listening sockets
 * (no connection is refused: they never close) and writes PIDFILE.2.
 * Both serve.  WINCH to the old master retires its workers; TERM or QUIT
 * ends it, and the new master, reparented, sees getppid() change and takes
 * PIDFILE.  To roll back instead: HUP to the old master brings its workers
 * back, then TERM the new one.
 */
#include "upgrade.h"

#include "proctitle.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern char **environ;

/* One per process: what this master was started with. */
static struct {
    char **argv;          /* as main() got it */
    char *cwd;            /* the directory it was started in */
    char **env;           /* the environment at start (copied strings) */
    pid_t old_master;     /* $GUNICORN_PID: the old master, until it exits */
    const char *pidfile;  /* --pid */
    char *pidfile_during; /* "PIDFILE.2" while old_master lives */
} start;

/* A positive decimal number that fits a pid, or 0. */
static long positive(const char *text)
{
    char *end = NULL;
    if (text == NULL || *text < '0' || *text > '9')
        return 0;
    errno = 0;
    long v = strtol(text, &end, 10);
    return errno == 0 && *end == '\0' && v > 0 && v <= 4194304 ? v : 0;
}

/* upgrade_remember - see upgrade.h. */
int upgrade_remember(int argc, char **argv)
{
    size_t n = 0;
    (void)argc;
    start.argv = argv;
    /* NULL when the directory greenhorn was started in is gone or
     * unreadable: that is no reason not to serve; a USR2 then says why it
     * cannot start a new master. */
    start.cwd = getcwd(NULL, 0);
    while (environ[n] != NULL)
        n++;
    start.env = calloc(n + 1, sizeof *start.env);
    if (start.env == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((start.env[i] = strdup(environ[i])) == NULL)
            return -1;
    start.old_master = (pid_t)positive(getenv("GUNICORN_PID"));
    return 0;
}

/* upgrade_inherited_fds - see upgrade.h. */
int upgrade_inherited_fds(int *fds, int max, char *err, size_t errlen)
{
    const char *list = getenv("GUNICORN_FD");
    int n = 0;

    if (list == NULL)
        return 0;
    for (const char *p = list;; p++) {
        char *end = NULL;
        errno = 0;
        long fd = *p >= '0' && *p <= '9' ? strtol(p, &end, 10) : -1;
        if (fd < 0 || errno != 0 || fd > 65535 || (*end != ',' && *end != '\0') || n == max) {
            snprintf(err, errlen,
                     "GUNICORN_FD: '%s' is not a list of 1 to %d file descriptors, such as '3,4'",
                     list, max);
            return -1;
        }
        fds[n++] = (int)fd;
        p = end;
        if (*p == '\0')
            break;
    }
    unsetenv("GUNICORN_FD"); /* Gunicorn pops it too */
    return n;
}

/* upgrade_own_sockets - see upgrade.h.  Only in an upgrade: a socket a
 * supervisor passed is the supervisor's, and its file must outlive us. */
void upgrade_own_sockets(struct listener *listeners, int n)
{
    if (start.old_master == 0)
        return;
    for (int i = 0; i < n; i++) {
        struct listener *l = &listeners[i];
        size_t len = strlen(l->server_name);
        if (l->family == AF_UNIX && len < sizeof l->addr.path) {
            l->addr.kind = BIND_UNIX;
            memcpy(l->addr.path, l->server_name, len + 1); /* fits: checked */
        }
    }
}

/* upgrade_pidfile - see upgrade.h. */
const char *upgrade_pidfile(const char *path)
{
    start.pidfile = path;
    if (start.old_master == 0)
        return path;
    free(start.pidfile_during);
    size_t len = strlen(path) + 3;
    if ((start.pidfile_during = malloc(len)) == NULL)
        return path; /* out of memory at start: main's own check then refuses */
    snprintf(start.pidfile_during, len, "%s.2", path);
    return start.pidfile_during;
}

/* upgrade_old_master - see upgrade.h. */
pid_t upgrade_old_master(void)
{
    return start.old_master;
}

/* upgrade_promoted - see upgrade.h.  rename(2) rather than Gunicorn's
 * write-then-unlink: a reader sees the old master's file or ours. */
void upgrade_promoted(void)
{
    start.old_master = 0;
    unsetenv("GUNICORN_PID");
    proctitle_promoted();
    if (start.pidfile_during != NULL && rename(start.pidfile_during, start.pidfile) < 0)
        log_msg(LOG_ERROR, "--pid: cannot rename '%s' to '%s': %s", start.pidfile_during,
                start.pidfile, strerror(errno));
}

/* Is entry "NAME=..." one of the variables a new master must get fresh? */
static int replaced(const char *entry)
{
    static const char *const names[] = {
        "GUNICORN_FD=", "GUNICORN_PID=", "LISTEN_PID=", "LISTEN_FDS=", "LISTEN_FDNAMES="};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strncmp(entry, names[i], strlen(names[i])) == 0)
            return 1;
    return 0;
}

/* upgrade_exec - see upgrade.h. */
pid_t upgrade_exec(const struct listener *listeners, size_t n)
{
    char fd_var[32 + 8 * 64] = "GUNICORN_FD=", pid_var[32];
    size_t count = 0, k = 0;

    if (start.argv == NULL || start.env == NULL || n == 0 || n > 64)
        return -1;
    /* Everything the child needs is made here: the master may run Python
     * threads (--preload), and after fork only the calling thread exists. */
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(fd_var);
        snprintf(fd_var + used, sizeof fd_var - used, "%s%d", i ? "," : "", listeners[i].fd);
    }
    snprintf(pid_var, sizeof pid_var, "GUNICORN_PID=%d", (int)getpid());
    while (start.env[count] != NULL)
        count++;
    char **env = calloc(count + 3, sizeof *env);
    if (env == NULL) {
        log_msg(LOG_ERROR, "Cannot start a new master: %s", strerror(ENOMEM));
        return -1;
    }
    for (size_t i = 0; i < count; i++)
        if (!replaced(start.env[i]))
            env[k++] = start.env[i];
    env[k++] = fd_var;
    env[k++] = pid_var;

    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL); /* as a shell would start it */
        for (size_t i = 0; i < n; i++)
            fcntl(listeners[i].fd, F_SETFD, 0); /* the one thing it inherits */
        /* The path as given, looked up again (PATH for a bare name), from
         * the directory it was given in: Gunicorn's execvpe of START_CTX. */
        if (start.cwd == NULL)
            errno = ENOENT; /* the start directory was gone at start */
        else if (chdir(start.cwd) == 0)
            execvpe(start.argv[0], start.argv, env);
        log_msg(LOG_ERROR, "Cannot start a new master from '%s': %s", start.argv[0],
                strerror(errno));
        _exit(127);
    }
    free(env);
    if (pid < 0)
        log_msg(LOG_ERROR, "Cannot start a new master: fork: %s", strerror(errno));
    return pid;
}
