/*
 * daemon.c - -D/--daemon: detach from the terminal and run in the background.
 *
 * An extra, called by main.c's wiring once the settings are read and
 * checked, before the log files are opened and anything is bound, where
 * Gunicorn calls util.daemonize (gunicorn/app/base.py, Application.run).
 * Owns: the double fork, and the pipe on which the daemon tells the
 * command that started it how its start went.  Does not own: the pid file
 * (main.c writes it, from the daemon, so it holds the daemon's pid).
 *
 * Gunicorn's daemonize (the Unix programming FAQ, 1.7): fork and let the
 * parent exit, so the shell gets its prompt back and the child is not a
 * process-group leader; setsid(), so the child leads a new session with
 * no controlling terminal (a hang-up of the terminal no longer reaches
 * it); fork again and let the session leader exit, so the daemon can
 * never acquire a controlling terminal by opening one; umask 022; stdin,
 * stdout and stderr onto /dev/null.  Like Gunicorn 20.1, greenhorn does
 * not chdir("/"): a relative app path, --pythonpath or log path keeps its
 * meaning (--chdir has already been applied).
 *
 * One thing more than Gunicorn: its first parent exits 0 at once, so a
 * start that then fails (a port in use, an app that cannot be imported
 * with --preload) is only in the error log, and the pid file may not exist
 * yet when the command returns.  Here the first parent waits on a pipe
 * until the daemon says it listens and has written its pid file (what
 * systemd's Type=forking and any init script expect of a daemon's start
 * command), or why it could not start: the parent prints that line and
 * exits with the daemon's status, as a foreground start would.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* What the daemon sends up the pipe, once: one write, under PIPE_BUF, so
 * it arrives whole. */
struct start_report {
    int code;       /* 0 = running; else the exit status */
    char line[508]; /* why not, one line */
};

/* The daemon's end of the pipe until it has reported; -1 otherwise. */
static int report_fd = -1;

/* In the command that was started: wait for the daemon's report, then exit
 * with its status. */
static _Noreturn void wait_for_daemon(int fd, pid_t child)
{
    struct start_report rep;
    size_t got = 0;

    memset(&rep, 0, sizeof rep);
    while (got < sizeof rep) {
        ssize_t n = read(fd, (char *)&rep + got, sizeof rep - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
        ; /* the session leader, which exits at once */
    if (got < sizeof rep) {
        fprintf(stderr, "greenhorn: error: --daemon: the daemon exited before it started\n");
        _exit(1);
    }
    rep.line[sizeof rep.line - 1] = '\0';
    if (rep.code != 0)
        fprintf(stderr, "greenhorn: error: %s\n", rep.line);
    _exit(rep.code);
}

/* daemon_detach - see daemon.h. */
int daemon_detach(char *err, size_t errlen)
{
    int pfd[2];

    if (pipe2(pfd, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "--daemon: %s", strerror(errno));
        return -1;
    }
    fflush(NULL); /* nothing buffered is written twice */
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "--daemon: cannot fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid > 0) {
        close(pfd[1]);
        wait_for_daemon(pfd[0], pid);
    }
    close(pfd[0]);
    if (setsid() < 0) { /* cannot fail: the child of a fork leads no group */
        fprintf(stderr, "greenhorn: error: --daemon: setsid: %s\n", strerror(errno));
        _exit(1);
    }
    pid = fork();
    if (pid != 0) {
        if (pid < 0)
            fprintf(stderr, "greenhorn: error: --daemon: cannot fork: %s\n", strerror(errno));
        _exit(pid < 0 ? 1 : 0);
    }
    umask(022);
    int null = open("/dev/null", O_RDWR);
    if (null < 0) {
        snprintf(err, errlen, "--daemon: /dev/null: %s", strerror(errno));
        report_fd = pfd[1];
        return -1;
    }
    /* From here on the error log's '-' (stderr) writes nowhere, as
     * Gunicorn's does: a daemon needs --error-logfile. */
    for (int fd = 0; fd < 3; fd++)
        if (null != fd)
            dup2(null, fd);
    if (null > 2)
        close(null);
    report_fd = pfd[1];
    return 0;
}

/* daemon_started - see daemon.h. */
void daemon_started(int code, const char *line)
{
    struct start_report rep;

    if (report_fd < 0)
        return;
    memset(&rep, 0, sizeof rep);
    rep.code = code;
    snprintf(rep.line, sizeof rep.line, "%s", line ? line : "");
    while (write(report_fd, &rep, sizeof rep) < 0 && errno == EINTR)
        ;
    close(report_fd);
    report_fd = -1;
}
