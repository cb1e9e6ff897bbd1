/*
 * request.c - one request, as one object that flows through the stages.
 *
 * The data of the request path (Gunicorn counterpart: Request in
 * gunicorn/http/message.py).  Owns: the life of a request's two buffers and
 * its header array (see request.h for who owns what).  Does not own: the
 * connection, parsing (http.c), or the Python parts (wsgi.c makes and drops
 * them, with the GIL).
 */
#include "request.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Buffers start small and double as needed: most request heads fit in
 * 2 KiB, and a worker reuses its request objects, so a grown buffer is
 * grown once.  Small, because the gthread worker holds one request object
 * per connection whose head is still arriving: a slow client costs about
 * 7 KiB (these two and the header array), not a thread. */
#define HEAD_INITIAL (2 * 1024)
#define BODY_INITIAL (2 * 1024)

int request_init(struct request *r, size_t max_headers, size_t max_head)
{
    memset(r, 0, sizeof(*r));
    r->max_head = max_head;
    r->http.max_headers = max_headers;
    r->http.headers = calloc(max_headers ? max_headers : 1, sizeof(*r->http.headers));
    r->head_cap = HEAD_INITIAL < max_head ? HEAD_INITIAL : max_head;
    r->head = malloc(r->head_cap);
    /* The body buffer exists from the start too, so that no reader ever
     * hands a NULL pointer to memcpy or memchr, even for 0 bytes. */
    r->body_cap = BODY_INITIAL;
    r->body = malloc(r->body_cap);
    if (r->http.headers == NULL || r->head == NULL || r->body == NULL) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

void request_reset(struct request *r, struct conn *c, const struct http_options *chunk_opt,
                   uint64_t body_limit, int body_timeout_ms)
{
    struct http_header *headers = r->http.headers;
    size_t max_headers = r->http.max_headers;

    r->conn = c;
    r->trusted_peer = false;
    r->started_us = 0;
    r->head_read = r->head_len = r->head_parsed = 0;
    r->proxy_pending = false;
    memset(&r->http, 0, sizeof(r->http));
    r->http.headers = headers;
    r->http.max_headers = max_headers;
    memset(&r->proxy, 0, sizeof(r->proxy));
    r->body_start = r->body_end = r->body_len = 0;
    r->body_state = BODY_NONE;
    r->body_remaining = 0;
    memset(&r->chunked, 0, sizeof(r->chunked));
    r->chunked.limit = body_limit;
    r->chunked.opt = chunk_opt;
    r->body_timeout_ms = body_timeout_ms;
    r->extra_bytes = r->expect_continue = false;
    r->tail_len = 0;
    r->error_status = 0;
    r->started = r->failed = false;
    r->hook_failed = false;
}

/* Grow *buf (capacity *cap, len bytes used) to hold room more, doubling,
 * but never beyond max (0 = no limit). */
static int grow(char **buf, size_t *cap, size_t len, size_t room, size_t max)
{
    if (*cap - len >= room)
        return 0;
    size_t want = *cap ? *cap : BODY_INITIAL;
    while (want - len < room)
        want *= 2;
    if (max > 0 && want > max)
        want = max;
    if (want - len < room) {
        errno = ENOMEM;
        return -1;
    }
    char *p = realloc(*buf, want);
    if (p == NULL) {
        errno = ENOMEM;
        return -1;
    }
    *buf = p;
    *cap = want;
    return 0;
}

int request_head_reserve(struct request *r, size_t room)
{
    if (r->head_read + room > r->max_head)
        room = r->max_head - r->head_read;
    return grow(&r->head, &r->head_cap, r->head_read, room, r->max_head);
}

int request_body_reserve(struct request *r, size_t room)
{
    return grow(&r->body, &r->body_cap, r->body_len, room, 0);
}

int request_carry(struct request *r, const char *tail, size_t len)
{
    if (len == 0)
        return 0;
    /* A tail in the head buffer moves down (memmove: the ranges may
     * overlap); one in the body buffer is copied, and growing the head
     * cannot move it. */
    if ((uintptr_t)tail - (uintptr_t)r->head >= r->head_cap) {
        if (request_head_reserve(r, len) < 0)
            return -1;
    }
    if (len > r->head_cap) {
        errno = ENOMEM;
        return -1;
    }
    memmove(r->head, tail, len);
    r->head_read = len;
    return 0;
}

const char *request_line(const struct request *r, size_t *len)
{
    const char *start = r->http.method;
    *len = 0;
    if (start == NULL || r->head_len == 0)
        return "";
    size_t off = (size_t)(start - r->head);
    const char *end = memchr(start, '\n', r->head_len - off);
    size_t n = end ? (size_t)(end - start) : 0;
    if (n > 0 && start[n - 1] == '\r')
        n--;
    *len = n;
    return start;
}

void request_free(struct request *r)
{
    free(r->head);
    free(r->body);
    free(r->http.headers);
    r->head = r->body = NULL;
    r->http.headers = NULL;
    r->head_cap = r->body_cap = 0;
}
