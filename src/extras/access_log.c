/*
 * access_log.c - the access log's line for a request (an extra).
 *
 * Plugs into stage 4 (after the connection is closed) through plugins.h
 * (Gunicorn counterpart: Logger.access and atoms() in gunicorn/glogging.py).
 * Owns: gathering what the access log's atoms need from a finished request.
 * Does not own: the format or the file (log.c).
 */
#include "access_log.h"

#include <string.h>
#include <time.h>

#include "log.h"

/* access_log_request - see access_log.h.  Every view points into memory the request owns
 * and that has not moved since the head was parsed: the head buffer (frozen)
 * and the response's own head buffer (freed by wsgi_request_end, later). */
void access_log_request(const struct request *r)
{
    if (!log_access_enabled())
        return;
    const struct http_request *h = &r->http;
    const struct http_header *referer = http_find_header(h->headers, h->num_headers, "Referer", 7);
    const struct http_header *agent =
        http_find_header(h->headers, h->num_headers, "User-Agent", 10);
    size_t line_len;
    const char *line = request_line(r, &line_len);
    bool want_head = log_access_wants_response_headers() && r->resp.head_len > 0;
    struct log_access_entry e = {
        .remote_addr = r->proxy.present ? r->proxy.src_addr : r->conn->peer_addr,
        .request_line = line,
        .request_line_len = line_len,
        .status = r->resp.status,
        .body_bytes = (int64_t)r->resp.body_sent,
        .referer = referer ? referer->value : NULL,
        .referer_len = referer ? referer->value_len : 0,
        .user_agent = agent ? agent->value : NULL,
        .user_agent_len = agent ? agent->value_len : 0,
        .method = h->method,
        .method_len = h->method_len,
        .path = h->path,
        .path_len = h->path_len,
        .query = h->query,
        .query_len = h->query_len,
        .version_major = h->version_major,
        .version_minor = h->version_minor,
        .duration_us = conn_now_us() - r->started_us,
        .headers = h->headers,
        .num_headers = h->num_headers,
        .response_head = want_head ? (r->resp.head ? r->resp.head : r->resp.head_inline) : NULL,
        .response_head_len = want_head ? r->resp.head_len : 0,
    };
    log_access(&e);
}
