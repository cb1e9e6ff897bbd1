/*
 * response.c - writing an HTTP/1.x response to a socket.
 *
 * Stage 8, respond.  Mirrors Response in gunicorn/http/wsgi.py, but refuses
 * to put a bad byte on the wire where Gunicorn 20.1 would pass it through.
 * Owns: validating the app's status line and headers, the head buffer, the
 * default headers, choosing the body framing, and every write to the client
 * socket for a response, each sent through conn.c's one send loop.
 * Does not own: the fixed texts - canned error pages, reason phrases and
 * the cached Date live in response_text.c; Python objects (wsgi.c hands over
 * plain bytes); logging (functions return -1 with errno; the caller logs);
 * closing the socket.
 *
 * How the bytes leave.  The head buffer holds the status line and the app's
 * headers, serialised as they arrive.  The default headers (Server, Date,
 * Connection, Transfer-Encoding) depend on facts known only when the head
 * leaves - the second we are in and the framing - so they are formatted then,
 * on the stack, and the pieces go out together with the first body bytes in
 * ONE sendmsg(2): one system call and, on TCP, usually one packet for a small
 * response.  An ordinary head fits in head_inline, so a request costs no
 * malloc here.
 */
#include "response_internal.h"
#include "conn.h"

#include "ascii.h"
#include "http.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

enum {
    OUT_IOV_MAX = 8,        /* status, defaults, headers, CRLF, size, data, CRLF */
    DEFAULTS_MAX = 160,     /* the longest default headers are 125 bytes */
    CHUNK_LINE_MAX = 24,    /* 16 hex digits + CRLF */
    COPY_BLOCK = 64 * 1024, /* pread block for chunked files */
};

/* ---- validation ------------------------------------------------------ */

static bool name_valid(const char *name, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!ascii_is_tchar((unsigned char)name[i]))
            return false;
    }
    return true;
}

static bool value_valid(const char *value, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!ascii_is_field_byte((unsigned char)value[i]))
            return false;
    }
    return true;
}

/* RFC 9112 section 4: status-code SP [ reason-phrase ], code 100..999 here. */
static bool status_valid(const char *s, size_t len)
{
    if (len < 4 || s[0] < '1' || s[0] > '9' || !ascii_is_digit((unsigned char)s[1]) ||
        !ascii_is_digit((unsigned char)s[2]) || s[3] != ' ')
        return false;
    return value_valid(s + 4, len - 4);
}

/* RFC 9110 section 5.5: leading and trailing whitespace is not part of a field value. */
static void trim_ows(const char **value, size_t *len)
{
    while (*len > 0 && ascii_is_ws((unsigned char)**value)) {
        (*value)++;
        (*len)--;
    }
    while (*len > 0 && ascii_is_ws((unsigned char)(*value)[*len - 1]))
        (*len)--;
}

/* What add_header does with a field, by name. */
enum field_kind {
    FIELD_PLAIN,          /* passed through as the app wrote it */
    FIELD_CONTENT_LENGTH, /* checked, then frames the body */
    FIELD_CONNECTION,     /* hop-by-hop; "upgrade" is remembered */
    FIELD_UPGRADE,        /* hop-by-hop; "websocket" is remembered */
    FIELD_DROPPED,        /* hop-by-hop (RFC 9110 section 7.6.1), or one we send ourselves */
};

/* Gunicorn's util.hop_headers, plus "trailer", the name RFC 9110 section 6.6.2 uses. */
static const struct {
    const char *name;
    enum field_kind kind;
} special_fields[] = {
    {"content-length", FIELD_CONTENT_LENGTH},
    {"connection", FIELD_CONNECTION},
    {"upgrade", FIELD_UPGRADE},
    {"keep-alive", FIELD_DROPPED},
    {"proxy-authenticate", FIELD_DROPPED},
    {"proxy-authorization", FIELD_DROPPED},
    {"te", FIELD_DROPPED},
    {"trailer", FIELD_DROPPED},
    {"trailers", FIELD_DROPPED},
    {"transfer-encoding", FIELD_DROPPED},
    {"server", FIELD_DROPPED},
    {"date", FIELD_DROPPED},
};

/* Names compare in ASCII case (ascii.h): the app may have set any locale. */
static enum field_kind field_classify(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof special_fields / sizeof special_fields[0]; i++) {
        if (ascii_caseeq(name, len, special_fields[i].name))
            return special_fields[i].kind;
    }
    return FIELD_PLAIN;
}

/* RFC 9110 sections 15.2, 15.3.5, 15.4.5: these responses never have content. */
static bool status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

/* ---- the head buffer ------------------------------------------------- */

static char *head_buf(struct response *r)
{
    return r->head != NULL ? r->head : r->head_inline;
}

/* Make room for need bytes in all, keeping what is there.  -1/ENOMEM. */
static int head_reserve(struct response *r, size_t need)
{
    size_t cap = r->head_cap;
    if (need <= cap)
        return 0;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            errno = ENOMEM;
            return -1;
        }
        cap *= 2;
    }
    char *grown = realloc(r->head, cap);
    if (grown == NULL)
        return -1;
    if (r->head == NULL)
        memcpy(grown, r->head_inline, r->head_len);
    r->head = grown;
    r->head_cap = cap;
    return 0;
}

/* Append "name: value\r\n".  -1/ENOMEM with nothing appended. */
static int head_append_field(struct response *r, const char *name, size_t name_len,
                             const char *value, size_t value_len)
{
    size_t need = r->head_len;
    if (name_len > SIZE_MAX - need - 4 || value_len > SIZE_MAX - need - 4 - name_len) {
        errno = ENOMEM;
        return -1;
    }
    need += name_len + value_len + 4;
    if (head_reserve(r, need) < 0)
        return -1;
    char *p = head_buf(r) + r->head_len;
    memcpy(p, name, name_len);
    p += name_len;
    *p++ = ':';
    *p++ = ' ';
    if (value_len > 0)
        memcpy(p, value, value_len);
    p += value_len;
    *p++ = '\r';
    *p = '\n';
    r->head_len = need;
    return 0;
}

void response_init(struct response *r, int fd, int version_minor, bool head_request)
{
    /* head_inline is always written before it is read: 1 KiB less to clear per request. */
    memset(r, 0, offsetof(struct response, head_inline));
    r->fd = fd;
    r->version_minor = version_minor;
    r->head_request = head_request;
    r->head_cap = sizeof r->head_inline;
    r->framing = RESPONSE_BODY_NONE;
}

int response_set_status(struct response *r, const char *status, size_t len)
{
    static const size_t extra = sizeof "HTTP/1.x \r\n" - 1;
    char with_reason[64];
    /* PEP 3333 asks for "200 OK"; Gunicorn also serves a bare "200".  We do
     * too, and add the standard reason phrase, so the status line stays
     * complete (RFC 9112 section 4). */
    if (status != NULL && len == 3 && ascii_is_digit((unsigned char)status[0]) &&
        ascii_is_digit((unsigned char)status[1]) && ascii_is_digit((unsigned char)status[2])) {
        int code = (status[0] - '0') * 100 + (status[1] - '0') * 10 + (status[2] - '0');
        int n = snprintf(with_reason, sizeof with_reason, "%.3s %s", status, response_reason(code));
        status = with_reason;
        len = (size_t)n;
    }
    if (r->headers_sent) {
        errno = EALREADY;
        return -1;
    }
    if (status == NULL || !status_valid(status, len)) {
        errno = EINVAL;
        return -1;
    }
    if (len > SIZE_MAX - extra) {
        errno = ENOMEM;
        return -1;
    }
    /* Grow first: a failure then leaves the previous status and headers intact. */
    if (head_reserve(r, len + extra) < 0)
        return -1;
    char *p = head_buf(r);
    memcpy(p, "HTTP/1.", 7);
    p[7] = response_minor_digit(r->version_minor);
    p[8] = ' ';
    memcpy(p + 9, status, len);
    memcpy(p + 9 + len, "\r\n", 2);
    r->status = (status[0] - '0') * 100 + (status[1] - '0') * 10 + (status[2] - '0');
    r->status_len = len + extra;
    r->head_len = r->status_len;
    /* PEP 3333 exc_info: a new start_response replaces every earlier header. */
    r->has_content_length = false;
    r->content_length = 0;
    r->connection_upgrade = false;
    r->upgrade_websocket = false;
    r->upgrade = false;
    return 0;
}

/*
 * Content-Length: a second one with another value would let the client and
 * a proxy disagree on where the body ends (response splitting, RFC 9110
 * section 8.6), so it is refused; an identical repeat is sent once.  On 1xx
 * and 204 the field MUST NOT be sent at all (same section).
 */
static int add_content_length(struct response *r, const char *name, size_t name_len,
                              const char *value, size_t value_len)
{
    uint64_t n;
    /* The response's own bound: INT64_MAX, so that the length also fits an
     * off_t (response_sendfile) and body_sent can never wrap. */
    if (!http_parse_content_length(value, value_len, &n) || n > (uint64_t)INT64_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (r->has_content_length) {
        if (n != r->content_length) {
            errno = EINVAL;
            return -1;
        }
        return 0;
    }
    if (r->status >= 200 && r->status != 204) {
        if (head_append_field(r, name, name_len, value, value_len) < 0)
            return -1;
    }
    r->has_content_length = true;
    r->content_length = n;
    return 0;
}

int response_add_header(struct response *r, const char *name, size_t name_len, const char *value,
                        size_t value_len)
{
    if (r->status == 0 || r->headers_sent) {
        errno = r->headers_sent ? EALREADY : EINVAL;
        return -1;
    }
    if (name == NULL || value == NULL || !name_valid(name, name_len) ||
        !value_valid(value, value_len)) {
        errno = EINVAL;
        return -1;
    }
    trim_ows(&value, &value_len);
    switch (field_classify(name, name_len)) {
    case FIELD_PLAIN:
        return head_append_field(r, name, name_len, value, value_len);
    case FIELD_CONTENT_LENGTH:
        return add_content_length(r, name, name_len, value, value_len);
    case FIELD_CONNECTION:
        r->connection_upgrade |= ascii_caseeq(value, value_len, "upgrade");
        /* The app wants this connection closed after its answer. */
        if (ascii_caseeq(value, value_len, "close"))
            r->keep_alive = false;
        break;
    case FIELD_UPGRADE:
        r->upgrade_websocket |= ascii_caseeq(value, value_len, "websocket");
        break;
    case FIELD_DROPPED:
        break;
    }
    /*
     * RFC 9110 section 7.8: Upgrade is only meaningful with the "upgrade"
     * connection option, so both must be present; alone, either is dropped.
     */
    r->upgrade = r->connection_upgrade && r->upgrade_websocket;
    return 0;
}

/* ---- gathering one sendmsg ------------------------------------------- */

/* The pieces of one gather-write, and the small buffers some of them live in. */
struct out {
    struct iovec iov[OUT_IOV_MAX];
    int n;
    char defaults[DEFAULTS_MAX];
    char chunk_line[CHUNK_LINE_MAX];
};

static void out_init(struct out *o)
{
    o->n = 0;
}

/* Empty pieces are skipped, so a piece in the list always has bytes. */
static void out_add(struct out *o, const void *p, size_t len)
{
    if (len == 0)
        return;
    /* sendmsg only reads through iov_base; the cast keeps const data const. */
    o->iov[o->n].iov_base = (void *)(uintptr_t)p;
    o->iov[o->n].iov_len = len;
    o->n++;
}

static char *put(char *p, const char *s, size_t len)
{
    memcpy(p, s, len);
    return p + len;
}

static char *put_str(char *p, const char *s)
{
    return put(p, s, strlen(s));
}

/* RFC 9112 section 6.3, in the order a recipient would reason about it. */
static enum response_framing framing_decide(const struct response *r)
{
    if (r->head_request || !status_has_body(r->status))
        return RESPONSE_BODY_NONE;
    if (r->has_content_length)
        return RESPONSE_BODY_LENGTH;
    if (r->version_minor >= 1)
        return RESPONSE_BODY_CHUNKED;
    return RESPONSE_BODY_CLOSE;
}

/*
 * Queue the whole head and fix the framing.  Gunicorn's order: status line,
 * Server, Date, Connection, Transfer-Encoding, then the app's headers.  A
 * sync worker serves one request per connection, hence "close"; the
 * gthread worker asks for keep-alive, which a body that only the close can
 * delimit (HTTP/1.0 without Content-Length, RFC 9112 section 6.3) rules out.
 */
static void out_head(struct out *o, struct response *r)
{
    char *h = head_buf(r);
    char *p = o->defaults;
    r->framing = framing_decide(r);
    r->chunked = r->framing == RESPONSE_BODY_CHUNKED;
    r->keep_alive = r->keep_alive && !r->upgrade && r->framing != RESPONSE_BODY_CLOSE;
    p = put_str(p, "Server: greenhorn\r\nDate: ");
    p = put(p, response_date(), RESPONSE_DATE_LEN);
    if (r->upgrade)
        p = put_str(p, "\r\nConnection: upgrade\r\nUpgrade: websocket\r\n");
    else if (r->keep_alive)
        p = put_str(p, "\r\nConnection: keep-alive\r\n");
    else
        p = put_str(p, "\r\nConnection: close\r\n");
    if (r->chunked)
        p = put_str(p, "Transfer-Encoding: chunked\r\n");
    out_add(o, h, r->status_len);
    out_add(o, o->defaults, (size_t)(p - o->defaults));
    out_add(o, h + r->status_len, r->head_len - r->status_len);
    out_add(o, "\r\n", 2);
}

/* RFC 9112 section 7.1: chunk = chunk-size CRLF chunk-data CRLF, size in hex. */
static void out_body(struct out *o, const struct response *r, const void *data, size_t len)
{
    if (r->chunked) {
        char digits[16];
        size_t n = 0;
        uint64_t v = len;
        do {
            digits[n++] = "0123456789ABCDEF"[v & 15];
            v >>= 4;
        } while (v != 0);
        for (size_t i = 0; i < n; i++)
            o->chunk_line[i] = digits[n - 1 - i];
        memcpy(o->chunk_line + n, "\r\n", 2);
        out_add(o, o->chunk_line, n + 2);
    }
    out_add(o, data, len);
    if (r->chunked)
        out_add(o, "\r\n", 2);
}

/* Send what o holds.  From the first byte on, it is too late for a 500. */
static int out_flush(struct response *r, struct out *o, int flags)
{
    int n = o->n;
    if (n == 0)
        return 0;
    o->n = 0;
    r->headers_sent = true;
    return conn_sendv(r->fd, o->iov, n, flags);
}

/* How many of len offered body bytes may go on the wire (framing known). */
static uint64_t body_take(const struct response *r, uint64_t len)
{
    uint64_t left;
    switch (r->framing) {
    case RESPONSE_BODY_NONE:
        return 0;
    case RESPONSE_BODY_LENGTH:
        left = r->content_length - r->body_sent;
        return len < left ? len : left;
    case RESPONSE_BODY_CHUNKED:
    case RESPONSE_BODY_CLOSE:
        return len;
    }
    return 0;
}

static int body_check(const struct response *r)
{
    if (r->status == 0) {
        errno = EINVAL;
        return -1;
    }
    if (r->finished) {
        errno = EALREADY;
        return -1;
    }
    return 0;
}

/*
 * The flags for a send that may be the response's last: MSG_MORE when the
 * caller said the connection closes right after and these bytes complete a
 * Content-Length body.  Then the kernel holds them for the close, and the
 * answer and the FIN travel in one packet instead of two: less work for
 * both ends of a one-request connection.
 */
static int last_bytes_flags(const struct response *r, size_t n)
{
    bool complete = r->framing == RESPONSE_BODY_LENGTH && r->body_sent + n == r->content_length;
    return r->close_follows && !r->keep_alive && complete ? MSG_MORE : 0;
}

int response_write(struct response *r, const void *data, size_t len)
{
    struct out o;
    if (body_check(r) < 0)
        return -1;
    if (len == 0)
        return 0;
    out_init(&o);
    if (!r->headers_sent)
        out_head(&o, r);
    size_t n = (size_t)body_take(r, len);
    if (n > 0)
        out_body(&o, r, data, n);
    if (out_flush(r, &o, last_bytes_flags(r, n)) < 0)
        return -1;
    r->body_sent += n;
    return 0;
}

/* ---- files ------------------------------------------------------------ */

/*
 * pread + sendmsg, block by block: the chunked path (each block one chunk,
 * so a file shorter than promised still ends on a chunk boundary), and the
 * fallback when sendfile(2) refuses the file.  o may hold the head, which
 * then leaves with the first block.
 */
static int copy_blocks(struct response *r, struct out *o, int file_fd, off_t offset, uint64_t n)
{
    char *block = NULL;
    int ret = -1;
    block = malloc(COPY_BLOCK);
    if (block == NULL)
        goto fail;
    while (n > 0) {
        size_t want = n < COPY_BLOCK ? (size_t)n : COPY_BLOCK;
        ssize_t got = pread(file_fd, block, want, offset);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            goto fail;
        if (got == 0)
            break;
        out_body(o, r, block, (size_t)got);
        if (out_flush(r, o, 0) < 0)
            goto fail;
        r->body_sent += (uint64_t)got;
        offset += got;
        n -= (uint64_t)got;
    }
    if (out_flush(r, o, 0) < 0)
        goto fail;
    ret = 0;
fail:
    free(block);
    return ret;
}

/* The zero-copy path: the kernel moves file pages straight to the socket
 * (conn_sendfile); a file it cannot map is copied by hand from where it
 * stopped. */
static int sendfile_all(struct response *r, int file_fd, off_t offset, uint64_t n)
{
    uint64_t before = r->body_sent;
    struct out none;
    if (conn_sendfile(r->fd, file_fd, &offset, n, &r->body_sent) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    out_init(&none);
    return copy_blocks(r, &none, file_fd, offset, n - (r->body_sent - before));
}

int response_sendfile(struct response *r, int file_fd, off_t offset, uint64_t count)
{
    struct out o;
    if (body_check(r) < 0)
        return -1;
    if (offset < 0) {
        errno = EINVAL;
        return -1;
    }
    if (count == 0)
        return 0;
    out_init(&o);
    if (!r->headers_sent)
        out_head(&o, r);
    uint64_t n = body_take(r, count);
    switch (r->framing) {
    case RESPONSE_BODY_CHUNKED:
        return copy_blocks(r, &o, file_fd, offset, n);
    case RESPONSE_BODY_LENGTH:
    case RESPONSE_BODY_CLOSE:
        /* MSG_MORE: on TCP the head waits to share a packet with the file. */
        if (out_flush(r, &o, n > 0 ? MSG_MORE : 0) < 0)
            return -1;
        return sendfile_all(r, file_fd, offset, n);
    case RESPONSE_BODY_NONE:
        break;
    }
    return out_flush(r, &o, 0);
}

int response_finish(struct response *r)
{
    struct out o;
    if (r->status == 0) {
        errno = EINVAL;
        return -1;
    }
    out_init(&o);
    if (!r->finished) {
        if (!r->headers_sent)
            out_head(&o, r);
        /* RFC 9112 section 7.1: last-chunk, no trailer fields, the final CRLF. */
        if (r->chunked)
            out_add(&o, "0\r\n\r\n", 5);
        r->finished = true;
        if (out_flush(r, &o, r->close_follows && !r->keep_alive ? MSG_MORE : 0) < 0)
            return -1;
    }
    if (r->framing == RESPONSE_BODY_LENGTH && r->body_sent < r->content_length)
        return 1;
    return 0;
}

bool response_finish_sends(const struct response *r)
{
    return !r->finished && (!r->headers_sent || r->chunked);
}

void response_free(struct response *r)
{
    free(r->head);
    r->head = NULL;
    r->head_len = 0;
    r->status_len = 0;
    r->head_cap = sizeof r->head_inline;
}
