/*
 * log.h - the error log and the access log's file.
 *
 * Stage: shared by every stage (Gunicorn counterpart: gunicorn/glogging.py).
 * Owns: the two log file descriptors, the level filter, and the line formats.
 * Does not own: deciding what is an error; callers decide, this file only writes.
 *
 * Every line is formatted into one buffer and written with a single write(2),
 * so lines from the master and from several workers never interleave
 * (O_APPEND makes each write land whole at the end of the file).
 */
#ifndef GREENHORN_LOG_H
#define GREENHORN_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Severity, lowest first.  Names as Gunicorn prints them: [DEBUG], [INFO], ... */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR, LOG_CRITICAL };

/* The longest line either log writes (a longer one is cut). */
#define LOG_LINE_MAX 4096

/*
 * log_open - set the level and open the logs.
 * error_path: NULL or "-" means stderr.  access_path: NULL means no access
 * log; "-" means stdout.  Files are opened O_APPEND|O_CREAT|O_CLOEXEC.
 * Returns 0, or -1 with a message in err (errlen bytes).
 */
int log_open(enum log_level level, const char *error_path, const char *access_path, char *err,
             size_t errlen);

/*
 * log_capture_output - --capture-output: from now on (and after every
 * log_reopen) stdout and stderr are the error log file, so what the app
 * prints lands in the log.  Nothing changes when the error log is stderr.
 * Returns 0 or -1.
 */
int log_capture_output(void);

/* log_reopen - reopen both files by name (SIGUSR1).  Returns 0 or -1. */
int log_reopen(void);

/* log_close - close any files log_open opened.  Safe to call twice. */
void log_close(void);

/* log_msg - one error-log line: "[2026-11-21 05:48:08 +0000] [PID] [INFO] text". */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* log_traceback - log_msg for a line that carries a Python traceback
 * (Gunicorn's log.exception()); the observer is told so. */
void log_traceback(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * log_observe - call fn(level, exception) for every error-log line, written
 * or below --log-level (Gunicorn's StatsD logger counts its warning, error,
 * critical and exception calls whatever the level): how an extra (the
 * StatsD metrics) learns of lines without log.c knowing it.  Set by the
 * master before it forks the processes it concerns (at start, and again
 * on HUP; NULL for none); fn must be callable from any thread.
 */
void log_observe(void (*fn)(enum log_level level, bool exception));

/* log_enabled - would a line at this level be written? (skip costly formatting) */
int log_enabled(enum log_level level);

/* log_access_enabled - is an access log open? */
int log_access_enabled(void);

/* log_error_fd - the error log's file descriptor (wsgi.errors writes there). */
int log_error_fd(void);

/* log_write_raw - write bytes to the error log as they are (wsgi.errors). */
void log_write_raw(const char *data, size_t len);

/* log_access_write - write one whole access-log line (its newline
 * included) with a single write(2); nothing when no access log is open. */
void log_access_write(const char *line, size_t len);

/*
 * log_second_changed - has the second changed since *when?  If so, set
 * *when and fill *tm with the local time, and return 1; else 0.  Callers
 * keep their formatted time in a buffer and reformat it only then: a busy
 * worker logs thousands of lines a second, and the time changes once.
 */
int log_second_changed(time_t *when, struct tm *tm);

#endif
