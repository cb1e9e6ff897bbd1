/*
 * access_log.c - the access log's line: --access-logformat (an extra).
 *
 * Plugs into stage 4 (after the connection is closed) through plugins.h,
 * and into stage 1 (the format is checked when read) through config.h
 * (Gunicorn counterpart: Logger.access and atoms() in gunicorn/glogging.py).
 * Owns: the compiled format, Gunicorn's atoms, and gathering what they need
 * from a finished request.  Does not own: the file (log.c opens, reopens
 * and writes it).
 *
 * Why one write(2) per line: the master and every worker share the file.
 * A line built in a buffer and written at once (O_APPEND) lands whole.
 */
#include "access_log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ascii.h"

#include "log.h"

/* ---- the access log's format -------------------------------------------- */

#define DEFAULT_ACCESS_FORMAT "%(h)s %(l)s %(u)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\""
#define MAX_PIECES            64

/* A compiled --access-logformat is a list of pieces: literal text, or an atom. */
struct piece {
    char atom; /* 0 = literal text; 'i' / 'o' = the request / response header named by text */
    const char *text; /* the literal text, or the header name */
    size_t len;
};

static struct {
    char *source; /* the owned copy the pieces point into */
    struct piece pieces[MAX_PIECES];
    size_t count;
    bool response_headers; /* some piece is a {name}o: the worker keeps a copy of the head */
} format;

/* Gunicorn's one-letter atoms (gunicorn/glogging.py, Logger.atoms). */
static const char known_atoms[] = "hlutrsmUqHbBfaTDMLp";

/* compile - split src into pieces; 0, or -1 with why. */
static int compile(const char *src, struct piece *out, size_t *count, char *why, size_t whylen)
{
    size_t n = 0;
    for (const char *p = src; *p != '\0'; n++) {
        if (n == MAX_PIECES) {
            snprintf(why, whylen, "more than %d pieces", MAX_PIECES);
            return -1;
        }
        if (p[0] != '%' || p[1] == '%') { /* literal text; "%%" is one '%' */
            size_t len = p[0] == '%' ? 1 : strcspn(p, "%");
            out[n] = (struct piece){0, p, len};
            p += p[0] == '%' ? 2 : len;
            continue;
        }
        const char *name = p + 2, *close = p[1] == '(' ? strchr(name, ')') : NULL;
        if (close == NULL || (close[1] != 's' && close[1] != 'd')) {
            snprintf(why, whylen, "'%.12s' is not %%(NAME)s (write %%%% for a %%)", p);
            return -1;
        }
        size_t len = (size_t)(close - name);
        if (len == 1 && strchr(known_atoms, name[0]) != NULL) {
            out[n] = (struct piece){name[0], NULL, 0};
        } else if (len > 3 && name[0] == '{' && name[len - 2] == '}' &&
                   (name[len - 1] == 'i' || name[len - 1] == 'o')) {
            out[n] = (struct piece){name[len - 1], name + 1, len - 3};
        } else if (len > 3 && name[0] == '{' && name[len - 2] == '}' && name[len - 1] == 'e') {
            snprintf(why, whylen, "%%(%.*s)s: environ variables are not logged by greenhorn",
                     (int)len, name);
            return -1;
        } else {
            snprintf(why, whylen, "unknown atom %%(%.*s)s", (int)len, name);
            return -1;
        }
        p = close + 2;
    }
    *count = n;
    return 0;
}

/* access_log_format - see access_log.h. */
int access_log_format(const char *fmt, int use, char *why, size_t whylen)
{
    struct piece pieces[MAX_PIECES];
    size_t count = 0;
    char *source = strdup(fmt != NULL ? fmt : DEFAULT_ACCESS_FORMAT);

    if (source == NULL) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    if (compile(source, pieces, &count, why, whylen) < 0) {
        free(source);
        return -1;
    }
    if (!use) { /* only checking */
        free(source);
        return 0;
    }
    free(format.source);
    format.source = source;
    memcpy(format.pieces, pieces, count * sizeof pieces[0]);
    format.count = count;
    format.response_headers = false;
    for (size_t i = 0; i < count; i++)
        format.response_headers |= pieces[i].atom == 'o';
    return 0;
}

/* access_log_check - see access_log.h. */
int access_log_check(const char *value, char *why, size_t whylen)
{
    return access_log_format(value, 0, why, whylen);
}

/* access_log_wants_response_headers - see access_log.h. */
int access_log_wants_response_headers(void)
{
    return format.response_headers; /* worked out once, with the format */
}

/* ---- writing an access-log line ------------------------------------------ */

/* Append len bytes of s, as they are; stops at the end of the buffer. */
static size_t put_text(char *out, size_t pos, size_t cap, const char *s, size_t len)
{
    if (len > cap - pos)
        len = cap - pos;
    memcpy(out + pos, s, len);
    return pos + len;
}

/* Append a view, or "-" when it is empty. */
static size_t put_view(char *out, size_t pos, size_t cap, const char *s, size_t len)
{
    if (s == NULL || len == 0)
        return put_text(out, pos, cap, "-", 1);
    return put_text(out, pos, cap, s, len);
}

static size_t put_number(char *out, size_t pos, size_t cap, long long n)
{
    char digits[24];
    int len = snprintf(digits, sizeof digits, "%lld", n);
    return put_text(out, pos, cap, digits, (size_t)len);
}

/* Append bytes, with control bytes as \xHH so that no value can start a
 * new line of the log; with decode, %HH escapes are decoded first. */
static size_t put_safe(char *out, size_t pos, size_t cap, const char *s, size_t len, int decode)
{
    for (size_t i = 0; i < len && pos < cap; i++) {
        unsigned char b = (unsigned char)s[i];
        int hi = decode && b == '%' && i + 2 < len ? ascii_hex_value((unsigned char)s[i + 1]) : -1;
        int lo = hi >= 0 ? ascii_hex_value((unsigned char)s[i + 2]) : -1;
        if (lo >= 0) {
            b = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (ascii_is_ctl(b)) {
            char esc[5];
            snprintf(esc, sizeof esc, "\\x%02x", b);
            pos = put_text(out, pos, cap, esc, 4);
        } else {
            out[pos++] = (char)b;
        }
    }
    return pos;
}

/* %({name}o)s: the value of the last "Name: value" line of the response
 * head (the app's headers; the status line has no ':' before its end). */
static size_t put_response_header(char *out, size_t pos, size_t cap,
                                  const struct access_log_entry *e, const char *name, size_t len)
{
    const char *p = e->response_head, *end = p ? p + e->response_head_len : NULL;
    const char *value = NULL;
    size_t value_len = 0;

    while (p != NULL && p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = eol ? eol : end;
        if ((size_t)(line_end - p) > len + 1 && p[len] == ':' && ascii_casecmp(p, name, len) == 0) {
            value = p + len + 1;
            while (value < line_end && *value == ' ')
                value++;
            value_len = (size_t)(line_end - value);
            if (value_len > 0 && value[value_len - 1] == '\r')
                value_len--;
        }
        p = eol ? eol + 1 : end;
    }
    return put_view(out, pos, cap, value, value_len);
}

/* %(u)s: the user name of "Authorization: Basic <base64 of user:password>", or "-". */
static size_t put_user(char *out, size_t pos, size_t cap, const struct access_log_entry *e)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const struct http_header *h = http_find_header(e->headers, e->num_headers, "Authorization", 13);
    char user[256];
    size_t n = 0;
    unsigned bits = 0, acc = 0;

    if (h == NULL || h->value_len < 6 || !ascii_caseeq(h->value, 6, "basic "))
        return put_text(out, pos, cap, "-", 1);
    for (size_t i = 6; i < h->value_len && h->value[i] != '='; i++) {
        const char *at = h->value[i] != '\0' ? strchr(alphabet, h->value[i]) : NULL;
        if (at == NULL) {
            if (h->value[i] == ' ')
                continue;
            return put_text(out, pos, cap, "-", 1); /* not base64 */
        }
        acc = (acc << 6) | (unsigned)(at - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char c = (char)((acc >> bits) & 0xff);
            if (c == ':')
                break;
            if (n < sizeof user)
                user[n++] = c;
        }
    }
    return n > 0 ? put_safe(out, pos, cap, user, n, 0) : put_text(out, pos, cap, "-", 1);
}

/* One atom of the format. */
static size_t put_atom(char *out, size_t pos, size_t cap, const struct piece *p,
                       const struct access_log_entry *e, const char *stamp)
{
    int64_t us = e->duration_us;
    char text[48];
    const struct http_header *h;

    switch (p->atom) {
    case 'h':
        return put_view(out, pos, cap, e->remote_addr, e->remote_addr ? strlen(e->remote_addr) : 0);
    case 'l':
        return put_text(out, pos, cap, "-", 1);
    case 'u':
        return put_user(out, pos, cap, e);
    case 't':
        return put_text(out, pos, cap, stamp, strlen(stamp));
    case 'r':
        return put_view(out, pos, cap, e->request_line, e->request_line_len);
    case 's':
        return put_number(out, pos, cap, e->status);
    case 'm':
        return put_view(out, pos, cap, e->method, e->method_len);
    case 'U':
        return put_safe(out, pos, cap, e->path, e->path_len, 1);
    case 'q':
        return put_safe(out, pos, cap, e->query, e->query_len, 0);
    case 'H':
        snprintf(text, sizeof text, "HTTP/%d.%d", e->version_major, e->version_minor);
        return put_text(out, pos, cap, text, strlen(text));
    case 'b':
    case 'B':
        if (e->body_bytes < 0)
            return put_text(out, pos, cap, "-", 1);
        return put_number(out, pos, cap, e->body_bytes);
    case 'f':
        return put_view(out, pos, cap, e->referer, e->referer_len);
    case 'a':
        return put_view(out, pos, cap, e->user_agent, e->user_agent_len);
    case 'T':
        return put_number(out, pos, cap, us / 1000000);
    case 'D':
        return put_number(out, pos, cap, us);
    case 'M':
        return put_number(out, pos, cap, us / 1000);
    case 'L':
        snprintf(text, sizeof text, "%lld.%06lld", (long long)(us / 1000000),
                 (long long)(us % 1000000));
        return put_text(out, pos, cap, text, strlen(text));
    case 'p':
        snprintf(text, sizeof text, "<%d>", (int)getpid());
        return put_text(out, pos, cap, text, strlen(text));
    case 'o':
        return put_response_header(out, pos, cap, e, p->text, p->len);
    case 'i':
        h = http_find_header(e->headers, e->num_headers, p->text, p->len);
        return h != NULL ? put_view(out, pos, cap, h->value, h->value_len)
                         : put_text(out, pos, cap, "-", 1);
    default:
        return pos;
    }
}

/* access_log_line - see access_log.h. */
void access_log_line(const struct access_log_entry *e)
{
    static _Thread_local char stamp[40]; /* per thread: pool threads log too */
    static _Thread_local time_t stamp_time = -1;
    char why[128];
    if (!log_access_enabled())
        return;
    if (format.source == NULL && access_log_format(NULL, 1, why, sizeof why) < 0)
        return;

    char line[LOG_LINE_MAX];
    const size_t cap = sizeof(line) - 1; /* room for the newline */
    struct tm tm;
    if (log_second_changed(&stamp_time, &tm))
        strftime(stamp, sizeof(stamp), "[%d/%b/%Y:%H:%M:%S %z]", &tm);
    size_t pos = 0;
    for (size_t i = 0; i < format.count; i++) {
        const struct piece *p = &format.pieces[i];
        pos = p->atom == 0 ? put_text(line, pos, cap, p->text, p->len)
                           : put_atom(line, pos, cap, p, e, stamp);
    }
    line[pos++] = '\n';
    log_access_write(line, pos);
}

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
    bool want_head = access_log_wants_response_headers() && r->resp.head_len > 0;
    struct access_log_entry e = {
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
    access_log_line(&e);
}
