/*
 * access_log.h - the access log's line: --access-logformat (an extra; see
 * access_log.c).
 */
#ifndef GREENHORN_ACCESS_LOG_H
#define GREENHORN_ACCESS_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "request.h"

struct http_header;

/* One served request, as the access log needs it.  All strings are views
 * (pointer + length) and may be NULL, which prints as "-". */
struct access_log_entry {
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
 * access_log_format - check an --access-logformat: Gunicorn's Python
 * %-format, '%(NAME)s' pieces between literal text, '%%' for '%'.  NAME is
 * one of Gunicorn's atoms h l u t r s m U q H b B f a T D M L p, {Header}i
 * for a request header or {Header}o for a response header.  Returns 0, or -1 with the reason in
 * why, such as "unknown atom %(x)s" (Gunicorn prints '-' for it; a typo here stops the start
 * instead).  With use != 0 the format also becomes the access log's.
 */
int access_log_format(const char *format, int use, char *why, size_t whylen);

/* access_log_check - access_log_format(format, 0, ...): the check
 * config.h's config_check_access_format runs when the setting is read. */
int access_log_check(const char *format, char *why, size_t whylen);

/* access_log_wants_response_headers - does the access log's format name one? */
int access_log_wants_response_headers(void);

/* access_log_line - one access-log line, in the --access-logformat given or in
 * Gunicorn's default: %(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s".
 * Does nothing when there is no access log. */
void access_log_line(const struct access_log_entry *e);

/*
 * access_log_request - the plugins.h access_log slot: one access-log line
 * for r, after its connection closed, in the --access-logformat given.
 * Reads only memory r owns (its frozen head, its response's head buffer).
 */
void access_log_request(const struct request *r);

#endif
