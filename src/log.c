/*
 * log.c - the error log, and the access log's file.
 *
 * Stage: shared by every stage (Gunicorn counterpart: gunicorn/glogging.py).
 * Owns: the two log file descriptors (opened, reopened on USR1, closed),
 * the level filter, and the error log's line format.  Does not own:
 * deciding what to log, or the access log's line (--access-logformat is an
 * extra: src/extras/access_log.c builds each line, log_access_write writes
 * it).
 *
 * Why one write(2) per line: the master and every worker share these files.
 * A line built in a buffer and written at once (O_APPEND) lands whole, so the
 * log never shows two processes' lines interleaved mid-line.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The log files of this process (set by log_open, changed only by
 * log_reopen on USR1); nothing of a request is here. */
static struct {
    enum log_level level;
    int error_fd;      /* 2 unless --error-logfile names a file */
    int access_fd;     /* -1 = no access log; 1 = stdout */
    char *error_path;  /* owned copy, NULL for stderr */
    char *access_path; /* owned copy, NULL for none or stdout */
    bool capture;      /* --capture-output: stdout and stderr go to the error log file */
    void (*observer)(enum log_level level, bool exception); /* log_observe */
} logs = {LOG_INFO, 2, -1, NULL, NULL, false, NULL};

/* Point stdout and stderr at the error log file (--capture-output). */
static int capture_onto_error_log(void)
{
    if (!logs.capture || logs.error_path == NULL)
        return 0;
    fflush(stdout);
    fflush(stderr);
    return dup2(logs.error_fd, 1) < 0 || dup2(logs.error_fd, 2) < 0 ? -1 : 0;
}

int log_capture_output(void)
{
    logs.capture = true;
    return capture_onto_error_log();
}

/* The levels as log_msg prints them, as Gunicorn does; --log-level's names
 * are read by config.c with the other settings. */
static const char *const level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"};

/* Open a log file for appending; "-" maps to the given standard fd. */
static int open_log(const char *path, int std_fd)
{
    if (path == NULL || strcmp(path, "-") == 0)
        return std_fd;
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

static char *copy_path(const char *path)
{
    if (path == NULL || strcmp(path, "-") == 0)
        return NULL;
    return strdup(path);
}

int log_open(enum log_level level, const char *error_path, const char *access_path, char *err,
             size_t errlen)
{
    logs.level = level;
    int efd = open_log(error_path, 2);
    if (efd < 0) {
        snprintf(err, errlen, "--error-logfile: cannot open '%s': %s", error_path, strerror(errno));
        return -1;
    }
    int afd = access_path ? open_log(access_path, 1) : -1;
    if (access_path && afd < 0) {
        snprintf(err, errlen, "--access-logfile: cannot open '%s': %s", access_path,
                 strerror(errno));
        if (efd > 2)
            close(efd);
        return -1;
    }
    log_close();
    logs.error_fd = efd;
    logs.access_fd = afd;
    logs.error_path = copy_path(error_path);
    logs.access_path = copy_path(access_path);
    return 0;
}

/* Reopen path onto the same descriptor number, so every holder sees the new file. */
static int reopen_onto(const char *path, int target_fd)
{
    if (path == NULL)
        return 0;
    int fd = open_log(path, target_fd);
    if (fd < 0)
        return -1;
    int rc = dup2(fd, target_fd) < 0 ? -1 : 0;
    close(fd);
    return rc;
}

int log_reopen(void)
{
    int a = reopen_onto(logs.error_path, logs.error_fd);
    int b = reopen_onto(logs.access_path, logs.access_fd);
    int c = capture_onto_error_log(); /* onto the new file too */
    return a < 0 || b < 0 || c < 0 ? -1 : 0;
}

void log_close(void)
{
    if (logs.error_fd > 2)
        close(logs.error_fd);
    if (logs.access_fd > 2)
        close(logs.access_fd);
    logs.error_fd = 2;
    logs.access_fd = -1;
    free(logs.error_path);
    free(logs.access_path);
    logs.error_path = logs.access_path = NULL;
}

int log_enabled(enum log_level level)
{
    return level >= logs.level;
}

int log_access_enabled(void)
{
    return logs.access_fd >= 0;
}

int log_error_fd(void)
{
    return logs.error_fd;
}

/* Write all of buf, retrying short writes; a log that fails is dropped silently. */
static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

void log_write_raw(const char *data, size_t len)
{
    write_all(logs.error_fd, data, len);
}

void log_access_write(const char *line, size_t len)
{
    if (logs.access_fd >= 0)
        write_all(logs.access_fd, line, len);
}

/* log_second_changed - see log.h. */
int log_second_changed(time_t *when, struct tm *tm)
{
    time_t now = time(NULL);
    if (now == *when)
        return 0;
    *when = now;
    localtime_r(&now, tm);
    return 1;
}

void log_observe(void (*fn)(enum log_level level, bool exception))
{
    logs.observer = fn;
}

/* One error-log line: told to the observer, then written if its level is. */
static void log_line(enum log_level level, bool exception, const char *fmt, va_list ap)
{
    static _Thread_local char stamp[40]; /* per thread: pool threads log too */
    static _Thread_local time_t stamp_time = -1;
    if (logs.observer != NULL)
        logs.observer(level, exception);
    if (!log_enabled(level))
        return;

    char line[LOG_LINE_MAX];
    struct tm tm;
    if (log_second_changed(&stamp_time, &tm))
        strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S %z", &tm);
    int n =
        snprintf(line, sizeof(line), "[%s] [%d] [%s] ", stamp, (int)getpid(), level_names[level]);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    write_all(logs.error_fd, line, len);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(level, false, fmt, ap);
    va_end(ap);
}

void log_traceback(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(level, true, fmt, ap);
    va_end(ap);
}
