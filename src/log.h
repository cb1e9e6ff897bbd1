/*
 * log.h - the error log and the access log.
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

#include <stddef.h>
#include <stdint.h>

/* Severity, lowest first.  Names as Gunicorn prints them: [DEBUG], [INFO], ... */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR, LOG_CRITICAL };

struct http_header;

/* One served request, as the access log needs it.  All strings are views
 * (pointer + length) and may be NULL, which prints as "-". */
struct log_access_entry {
    const char *remote_addr;  /* NUL-terminated */
    const char *request_line; /* "GET /x HTTP/1.1" as received */
    size_t request_line_len;
    int status;         /* 3-digit status code */
    int64_t body_bytes; /* body bytes sent; < 0 prints "-" */
    const char *referer;
    size_t referer_len;
    const char *user_agent;
    size_t user_agent_len;
    /* for --access-logformat's other atoms */
    const char *method, *path, *query; /* path and query still percent-encoded */
    size_t method_len, path_len, query_len;
    int version_major, version_minor;  /* HTTP/<major>.<minor> */
    int64_t duration_us;               /* from accept to the last byte sent */
    const struct http_header *headers; /* the request's fields ({name}i, u) */
    size_t num_headers;
    const char *response_head; /* the app's "Name: value\r\n" lines ({name}o), or NULL */
    size_t response_head_len;
};

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

/* log_enabled - would a line at this level be written? (skip costly formatting) */
int log_enabled(enum log_level level);

/*
 * log_access_format - check an --access-logformat: Gunicorn's Python
 * %-format, '%(NAME)s' pieces between literal text, '%%' for '%'.  NAME is
 * one of Gunicorn's atoms h l u t r s m U q H b B f a T D M L p, {Header}i
 * for a request header or {Header}o for a response header.  Returns 0, or -1 with the reason in
 * why, such as "unknown atom %(x)s" (Gunicorn prints '-' for it; a typo here stops the start
 * instead).  With use != 0 the format also becomes the access log's.
 */
int log_access_format(const char *format, int use, char *why, size_t whylen);

/* log_access_wants_response_headers - does the access log's format name one? */
int log_access_wants_response_headers(void);

/* log_access - one access-log line, in the --access-logformat given or in
 * Gunicorn's default: %(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s".
 * Does nothing when there is no access log. */
void log_access(const struct log_access_entry *e);

/* log_access_enabled - is an access log open? */
int log_access_enabled(void);

/* log_error_fd - the error log's file descriptor (wsgi.errors writes there). */
int log_error_fd(void);

/* log_write_raw - write bytes to the error log as they are (wsgi.errors). */
void log_write_raw(const char *data, size_t len);

#endif
