/*
 * http.c - the strict HTTP/1.x request parser: the request head.
 *
 * Stage 5, parse (Gunicorn counterpart: gunicorn/http/message.py).
 * Owns: the parser options and limits, reading a request head into views
 * (struct http_request): the request line, the meaning of its header fields
 * (Expect, secure scheme headers, header_map), deciding the body framing;
 * (The reason phrases for statuses live in response_text.c: one table.)
 * Does not own: sockets, buffers, Python, or answering errors: every function
 * here reports a status and a short reason, and the caller acts on them.
 * The rest of stage 5 lives beside it: the field-section scanner in
 * http_fields.c, chunked bodies and trailers in http_chunked.c, the PROXY
 * protocol header in http_proxy.c; http_internal.h is what they share, and
 * http.h stays the one public header.
 *
 * Reading order.  The request line is read byte by byte; header and trailer
 * fields go through one byte-at-a-time scanner (struct http_field_scan) that
 * hands each finished field to a small callback.  Every byte is checked as it
 * is met, so the first offending byte decides the answer and a prefix of a
 * valid request is always "need more", never an error.
 *
 * The rules are Gunicorn 26's (its smuggling fixes for CVE-2024-1135 and
 * CVE-2024-6827 included), which follow RFC 9110 and RFC 9112.  Where this
 * file differs, the comment says so; README lists every difference.
 */
#include "http_internal.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

/* ---- options ----------------------------------------------------------- */

static const char *const default_forwarders[] = {"SCRIPT_NAME", "PATH_INFO"};
static const char *const default_scheme_names[] = {"X-FORWARDED-PROTOCOL", "X-FORWARDED-PROTO",
                                                   "X-FORWARDED-SSL"};
static const char *const default_scheme_values[] = {"ssl", "https", "on"};

const struct http_options http_default_options = {
    .limit_request_line = HTTP_DEFAULT_LIMIT_REQUEST_LINE,
    .limit_request_fields = HTTP_DEFAULT_LIMIT_REQUEST_FIELDS,
    .limit_request_field_size = HTTP_DEFAULT_LIMIT_REQUEST_FIELD_SIZE,
    .header_map = HTTP_HEADER_MAP_DROP,
    .forwarder_headers = default_forwarders,
    .num_forwarder_headers = 2,
    .secure_scheme_names = default_scheme_names,
    .secure_scheme_values = default_scheme_values,
    .num_secure_scheme_headers = 3,
};

void http_options_init(struct http_options *opt)
{
    *opt = http_default_options;
}

/* http_limits_of - see http_internal.h. */
struct http_limits http_limits_of(const struct http_options *o)
{
    struct http_limits l;
    l.line = o->limit_request_line;
    if (l.line == 0 || l.line > HTTP_MAX_REQUEST_LINE)
        l.line = HTTP_MAX_REQUEST_LINE;
    l.fields = o->limit_request_fields;
    if (l.fields == 0 || l.fields > HTTP_MAX_HEADERS)
        l.fields = HTTP_MAX_HEADERS;
    l.field_size = o->limit_request_field_size ? o->limit_request_field_size : HTTP_MAX_FIELD_SIZE;
    if (l.field_size > (SIZE_MAX - 4) / l.fields - 2)
        l.section = SIZE_MAX;
    else
        l.section = l.fields * (l.field_size + 2) + 4;
    return l;
}

size_t http_options_settle(struct http_options *opt)
{
    struct http_limits l = http_limits_of(opt);
    opt->limit_request_line = l.line;
    opt->limit_request_fields = l.fields;
    opt->limit_request_field_size = l.field_size;
    /* l.section is fields * (field_size + 2) + 4: the head's CRLFs included. */
    return l.section > SIZE_MAX - l.line ? SIZE_MAX : l.line + l.section;
}

/* ---- the request line (RFC 9112 section 3) ----------------------------- */

struct request_parser {
    char *buf;
    size_t len;
    size_t pos;
    size_t head_start; /* where the field section begins */
    const struct http_options *opt;
    struct http_limits lim;
    struct http_request *req;
    bool scheme_seen;
};

static int req_fail(struct request_parser *p, int code, const char *why)
{
    return http_fail(&p->req->status, &p->req->error, code, why);
}

/* The line may be limit_request_line bytes long without its CRLF.  414, not
 * Gunicorn's 400: RFC 9112 section 3 answers a request-target longer than
 * the server wants with 414 (URI Too Long), and the target is what grows. */
static int line_too_long(struct request_parser *p)
{
    return req_fail(p, 414, "request line too long");
}

/* method = token (RFC 9110 section 9.1).  Unless permitted, Gunicorn also
 * wants 3 to 20 bytes and no lower case or '#' (every registered method). */
static int scan_method(struct request_parser *p)
{
    bool strict = !(p->opt->flags & HTTP_PERMIT_UNCONVENTIONAL_METHOD);
    for (; p->pos < p->len; p->pos++) {
        unsigned char c = (unsigned char)p->buf[p->pos];
        if (p->pos >= p->lim.line)
            return line_too_long(p);
        if (c == ' ') {
            if (p->pos == 0 || (strict && p->pos < 3))
                return req_fail(p, 400, "invalid method");
            p->req->method = p->buf;
            p->req->method_len = p->pos++;
            return 0;
        }
        if (!ascii_is_tchar(c) || (strict && ((c >= 'a' && c <= 'z') || c == '#' || p->pos >= 20)))
            return req_fail(p, 400, "invalid method");
    }
    return HTTP_NEED_MORE;
}

static bool method_is(const struct request_parser *p, const char *name)
{
    const struct http_request *r = p->req;
    if (p->opt->flags & HTTP_CASEFOLD_METHOD)
        return ascii_caseeq(r->method, r->method_len, name);
    return r->method_len == strlen(name) && memcmp(r->method, name, r->method_len) == 0;
}

/* path ["?" query] ["#" fragment], split where Python's urlsplit splits. */
static void split_target(struct http_request *r, const char *s, size_t n)
{
    const char *hash = memchr(s, '#', n);
    size_t end = hash ? (size_t)(hash - s) : n;
    const char *q = memchr(s, '?', end);
    r->path = s;
    r->path_len = q ? (size_t)(q - s) : end;
    r->query = q ? q + 1 : s + end;
    r->query_len = q ? end - r->path_len - 1 : 0;
    r->fragment = hash ? hash + 1 : s + n;
    r->fragment_len = hash ? n - end - 1 : 0;
}

/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 section 3.1) */
static size_t scheme_length(const char *t, size_t n)
{
    size_t i = 0;
    if (n == 0 || !ascii_is_alpha((unsigned char)t[0]))
        return 0;
    while (i < n && (ascii_is_alpha((unsigned char)t[i]) || ascii_is_digit((unsigned char)t[i]) ||
                     t[i] == '+' || t[i] == '-' || t[i] == '.'))
        i++;
    return i;
}

/* RFC 3986 reg-name bytes: unreserved, pct-encoded, sub-delims. */
static bool is_host_char(unsigned char c)
{
    if (c == '#' || c == '^' || c == '`' || c == '|')
        return false;
    return ascii_is_tchar(c) || c == '(' || c == ')' || c == ',' || c == ';' || c == '=';
}

/* authority-form = uri-host ":" port (RFC 9112 section 3.2.3).  The port
 * must be a number: "A server MUST reject a CONNECT request that targets an
 * empty or invalid port number". */
static bool is_authority_form(const char *t, size_t n)
{
    size_t colon = n, port = 0;
    while (colon > 0 && t[colon - 1] != ':')
        colon--;
    if (colon < 2 || colon == n || n - colon > 5)
        return false;
    for (size_t i = colon; i < n; i++) {
        if (!ascii_is_digit((unsigned char)t[i]))
            return false;
        port = port * 10 + (size_t)(t[i] - '0');
    }
    if (port == 0 || port > 65535)
        return false;
    if (t[0] == '[') { /* IP-literal: hex digits, ':' and '.' */
        if (t[colon - 2] != ']' || colon < 4)
            return false;
        for (size_t i = 1; i + 2 < colon; i++)
            if (ascii_hex_value((unsigned char)t[i]) < 0 && t[i] != ':' && t[i] != '.')
                return false;
        return true;
    }
    for (size_t i = 0; i + 1 < colon; i++)
        if (!is_host_char((unsigned char)t[i]))
            return false;
    return true;
}

/* Python's urlsplit reads "example.com:443" as scheme "example.com" and path
 * "443".  Gunicorn hands that path to the application as PATH_INFO, and so
 * do we, to stay comparable; RAW_URI has the real target. */
static void set_connect_path(struct http_request *r)
{
    const char *t = r->target;
    size_t i = scheme_length(t, r->target_len);
    if (i > 0 && i < r->target_len && t[i] == ':')
        split_target(r, t + i + 1, r->target_len - i - 1);
    else
        split_target(r, t, r->target_len);
}

/* absolute-form: scheme "://" authority [path] (RFC 9112 section 3.2.2).
 * Returns where the path begins, or 0 if t is not in that form.  Brackets in
 * the authority must pair up, as Python's urlsplit demands. */
static size_t absolute_form_path(const char *t, size_t n)
{
    size_t i = scheme_length(t, n), opened = 0, closed = 0;
    if (i == 0 || n - i < 3 || memcmp(t + i, "://", 3) != 0)
        return 0;
    for (i += 3; i < n && t[i] != '/' && t[i] != '?' && t[i] != '#'; i++) {
        if (t[i] == '[' && (opened++ > 0 || closed > 0))
            return 0;
        if (t[i] == ']' && (closed++ > 0 || opened == 0))
            return 0;
    }
    return opened == closed ? i : 0;
}

/* The four request-target forms (RFC 9112 section 3.2), none of them empty:
 * origin-form "/...", absolute-form, authority-form only for CONNECT,
 * asterisk-form only for OPTIONS.  Anything else is refused. */
static int check_target(struct request_parser *p)
{
    struct http_request *r = p->req;
    const char *t = r->target;
    size_t n = r->target_len, path;
    if (method_is(p, "CONNECT")) {
        if (!is_authority_form(t, n))
            return req_fail(p, 400, "CONNECT needs a host:port target");
        set_connect_path(r);
    } else if (n == 1 && t[0] == '*') {
        if (!method_is(p, "OPTIONS"))
            return req_fail(p, 400, "'*' target is only for OPTIONS");
        split_target(r, t, n);
    } else if (t[0] == '/') {
        split_target(r, t, n);
    } else if ((path = absolute_form_path(t, n)) > 0) {
        split_target(r, t + path, n - path);
    } else {
        return req_fail(p, 400, "invalid request target");
    }
    return 0;
}

static int scan_target(struct request_parser *p)
{
    size_t start = p->pos;
    for (; p->pos < p->len; p->pos++) {
        unsigned char c = (unsigned char)p->buf[p->pos];
        if (p->pos >= p->lim.line)
            return line_too_long(p);
        if (c == ' ') {
            if (p->pos == start)
                return req_fail(p, 400, "empty request target");
            p->req->target = p->buf + start;
            p->req->target_len = p->pos++ - start;
            return check_target(p);
        }
        if (ascii_is_ctl(c))
            return req_fail(p, 400, "invalid request target");
    }
    return HTTP_NEED_MORE;
}

/* Why byte c at offset k of "HTTP/#.#\r\n" is wrong, for the debug log. */
static const char *version_error(size_t k, unsigned char c)
{
    if (k == 8 && c == '\n')
        return "bare LF ending the request line";
    return k < 9 ? "invalid HTTP version" : "request line not ended by CRLF";
}

/* HTTP-version = "HTTP/" DIGIT "." DIGIT, then CRLF (RFC 9112 section 2.3).
 * Gunicorn 26 takes any HTTP/1.x; other majors only when permitted. */
static int scan_version(struct request_parser *p)
{
    static const char shape[] = "HTTP/#.#\r\n"; /* '#' is any digit */
    size_t start = p->pos;
    for (; p->pos < p->len; p->pos++) {
        size_t k = p->pos - start;
        unsigned char c = (unsigned char)p->buf[p->pos];
        if (k < 8 && p->pos >= p->lim.line)
            return line_too_long(p);
        if (shape[k] == '#' ? !ascii_is_digit(c) : c != (unsigned char)shape[k])
            return req_fail(p, 400, version_error(k, c));
        if (k == 5 && c != '1' && !(p->opt->flags & HTTP_PERMIT_UNCONVENTIONAL_VERSION))
            return req_fail(p, 400, "unsupported HTTP version");
        if (k == 9) {
            p->req->version_major = p->buf[start + 5] - '0';
            p->req->version_minor = p->buf[start + 7] - '0';
            p->pos++;
            return 0;
        }
    }
    return HTTP_NEED_MORE;
}

static bool at_least_http11(const struct http_request *r)
{
    return r->version_major > 1 || (r->version_major == 1 && r->version_minor >= 1);
}

/* ---- header fields ----------------------------------------------------- */

/* Expect (RFC 9110 section 10.1.1): only 100-continue exists; anything else
 * gets 417.  HTTP/1.0 clients cannot be sent a 100, so there it is ignored. */
static int check_expect(struct request_parser *p, const struct http_header *h)
{
    if (!http_value_is(h->value, h->value_len, "100-continue", true))
        return req_fail(p, 417, "unsupported Expect");
    if (at_least_http11(p->req))
        p->req->expect_continue = true;
    return 0;
}

/* secure_scheme_headers from a trusted proxy: each one present must agree
 * (Gunicorn's InvalidSchemeHeaders). */
static int check_scheme(struct request_parser *p, const struct http_header *h)
{
    const struct http_options *o = p->opt;
    for (size_t i = 0; i < o->num_secure_scheme_headers; i++) {
        if (!ascii_caseeq(h->name, h->name_len, o->secure_scheme_names[i]))
            continue;
        bool https = http_value_is(h->value, h->value_len, o->secure_scheme_values[i], false);
        if (p->scheme_seen && https != p->req->scheme_https)
            return req_fail(p, 400, "contradictory scheme headers");
        p->scheme_seen = true;
        p->req->scheme_https = https;
        return 0;
    }
    return 0;
}

/* Gunicorn's header_map.  In the WSGI environ "X_Y" and "X-Y" both become
 * HTTP_X_Y, so a client could shadow a field its proxy set; such names are
 * dropped (default), refused, or kept when named in forwarder_headers. */
static bool keep_underscore(struct request_parser *p, const struct http_header *h)
{
    const struct http_options *o = p->opt;
    for (size_t i = 0; (o->flags & HTTP_TRUSTED_PEER) && i < o->num_forwarder_headers; i++)
        if (strcmp(o->forwarder_headers[i], "*") == 0 ||
            ascii_caseeq(h->name, h->name_len, o->forwarder_headers[i]))
            return true;
    return o->header_map == HTTP_HEADER_MAP_DANGEROUS;
}

static int header_done(const struct http_field_rules *fr, const struct http_field_scan *s)
{
    struct request_parser *p = fr->ctx;
    const char *base = p->buf + p->head_start;
    struct http_header h = {base + s->name_off, s->name_len, base + s->value_off,
                            s->value_end - s->value_off};
    int rc;
    if (ascii_caseeq(h.name, h.name_len, "Expect") && (rc = check_expect(p, &h)) < 0)
        return rc;
    if ((p->opt->flags & HTTP_TRUSTED_PEER) && (rc = check_scheme(p, &h)) < 0)
        return rc;
    if (s->underscore && !keep_underscore(p, &h)) {
        if (p->opt->header_map == HTTP_HEADER_MAP_REFUSE)
            return req_fail(p, 400, "underscore in header name");
        return 0;
    }
    if (p->req->num_headers >= p->req->max_headers)
        return req_fail(p, 431, "too many header fields");
    p->req->headers[p->req->num_headers++] = h;
    return 0;
}

static int scan_fields(struct request_parser *p)
{
    struct http_field_scan s = {0};
    struct http_field_rules fr = {p->lim, p->opt, header_done, p, &p->req->status, &p->req->error};
    p->head_start = p->pos;
    while (p->pos < p->len) {
        int rc = http_fs_feed(&s, (unsigned char)p->buf[p->pos++], &fr);
        if (rc != 0)
            return rc == 1 ? 0 : rc;
    }
    return HTTP_NEED_MORE;
}

/* ---- framing (RFC 9112 section 6) -------------------------------------- */

struct framing {
    const struct http_header *length; /* Content-Length */
    bool coded;                       /* Transfer-Encoding was sent */
    bool chunked;
    bool compressed; /* gzip, deflate or compress: Gunicorn then closes after */
    bool host, type, connection;
};

/* Transfer-Encoding is a list, possibly spread over several fields
 * (RFC 9112 section 6.1).  chunked must come once, and last: a second
 * chunked or anything after it is the desync behind Gunicorn's
 * CVE-2024-1135 and CVE-2024-6827. */
static int read_codings(struct request_parser *p, const struct http_header *h, struct framing *f)
{
    const char *s = h->value, *end = s + h->value_len;
    f->coded = true;
    for (;;) {
        const char *comma = memchr(s, ',', (size_t)(end - s)), *e = comma ? comma : end;
        while (s < e && (ascii_is_ws((unsigned char)*s) || *s == '\r' || *s == '\n'))
            s++;
        while (e > s && (ascii_is_ws((unsigned char)e[-1]) || e[-1] == '\r' || e[-1] == '\n'))
            e--;
        size_t n = (size_t)(e - s);
        bool chunked = ascii_caseeq(s, n, "chunked"), identity = ascii_caseeq(s, n, "identity");
        bool compressed = ascii_caseeq(s, n, "gzip") || ascii_caseeq(s, n, "deflate") ||
                          ascii_caseeq(s, n, "compress");
        if (!chunked && !identity && !compressed)
            return req_fail(p, 501, "unsupported transfer coding");
        if (f->chunked) /* anything after chunked, a second chunked too */
            return req_fail(p, 400, "chunked is not the last transfer coding");
        f->chunked = chunked;
        f->compressed |= compressed;
        if (comma == NULL)
            return 0;
        s = comma + 1;
    }
}

/* http_parse_content_length - see http.h.  The overflow test comes before
 * each step, so a 21-digit value is refused, never wrapped. */
bool http_parse_content_length(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!ascii_is_digit(c) || v > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(c - '0');
    }
    *out = v;
    return true;
}

/* One field seen by the framing pass; refuses the duplicates Gunicorn refuses. */
static int frame_field(struct request_parser *p, const struct http_header *h, struct framing *f)
{
    struct http_request *r = p->req;
    if (ascii_caseeq(h->name, h->name_len, "Content-Length")) {
        if (f->length)
            return req_fail(p, 400, "duplicate Content-Length");
        f->length = h;
    } else if (ascii_caseeq(h->name, h->name_len, "Transfer-Encoding")) {
        return read_codings(p, h, f);
    } else if (ascii_caseeq(h->name, h->name_len, "Host")) {
        if (f->host)
            return req_fail(p, 400, "duplicate Host");
        f->host = true;
    } else if (ascii_caseeq(h->name, h->name_len, "Content-Type")) {
        if (f->type)
            return req_fail(p, 400, "duplicate Content-Type");
        f->type = true;
    } else if (ascii_caseeq(h->name, h->name_len, "Connection") && !f->connection) {
        /* Gunicorn's should_close() looks at the first Connection field only. */
        f->connection = true;
        if (http_value_is(h->value, h->value_len, "close", true))
            r->keep_alive = false;
        else if (http_value_is(h->value, h->value_len, "keep-alive", true))
            r->keep_alive = true;
    }
    return 0;
}

static int decide_framing(struct request_parser *p)
{
    struct http_request *r = p->req;
    struct framing f = {0};
    int rc;
    r->keep_alive = at_least_http11(r);
    for (size_t i = 0; i < r->num_headers; i++)
        if ((rc = frame_field(p, &r->headers[i], &f)) < 0)
            return rc;
    /* RFC 9112 section 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing. */
    if (f.coded && !at_least_http11(r))
        return req_fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
    /* Section 6.3: a request coded without a final chunked has no knowable length. */
    if (f.compressed && !f.chunked)
        return req_fail(p, 400, "chunked is not the last transfer coding");
    /* Section 6.3: both framings at once is a smuggling attempt until proven
     * otherwise; refusing is allowed, and safer than choosing one. */
    if (f.chunked && f.length)
        return req_fail(p, 400, "Content-Length with Transfer-Encoding");
    r->keep_alive &= !f.compressed;
    if (f.chunked) {
        r->body = HTTP_BODY_CHUNKED;
    } else if (f.length) {
        if (!http_parse_content_length(f.length->value, f.length->value_len, &r->content_length))
            return req_fail(p, 400, "invalid Content-Length");
        if (p->opt->limit_request_body && r->content_length > p->opt->limit_request_body)
            return req_fail(p, 413, "request body too large");
        r->body = HTTP_BODY_LENGTH;
    }
    return 0;
}

/* ---- the request head -------------------------------------------------- */

/* The only writes to the caller's buffer, done once the head is known good. */
static void rewrite_head(struct request_parser *p)
{
    struct http_request *r = p->req;
    if (p->opt->flags & HTTP_CASEFOLD_METHOD)
        for (size_t i = 0; i < r->method_len; i++)
            p->buf[i] = (char)ascii_upper((unsigned char)p->buf[i]);
    for (size_t i = 0; i < r->num_headers; i++) {
        struct http_header *h = &r->headers[i];
        if (memchr(h->value, '\r', h->value_len))
            h->value_len = http_unfold_in_place(p->buf + (h->value - p->buf), h->value_len);
    }
}

static void reset_request(struct http_request *r)
{
    r->method = r->target = r->path = r->query = r->fragment = NULL;
    r->method_len = r->target_len = r->path_len = r->query_len = r->fragment_len = 0;
    r->version_major = r->version_minor = 0;
    r->num_headers = 0;
    r->body = HTTP_BODY_NONE;
    r->content_length = 0;
    r->expect_continue = r->keep_alive = r->scheme_https = false;
    r->status = 0;
    r->error = NULL;
}

const struct http_header *http_find_header(const struct http_header *fields, size_t n,
                                           const char *name, size_t len)
{
    const struct http_header *found = NULL;
    for (size_t i = 0; i < n; i++)
        if (fields[i].name_len == len && ascii_casecmp(fields[i].name, name, len) == 0)
            found = &fields[i];
    return found;
}

int http_parse_request(char *buf, size_t len, const struct http_options *opt,
                       struct http_request *req)
{
    struct request_parser p = {
        .buf = buf, .len = len, .opt = opt ? opt : &http_default_options, .req = req};
    int rc;
    p.lim = http_limits_of(p.opt);
    reset_request(req);
    if ((rc = scan_method(&p)) != 0 || (rc = scan_target(&p)) != 0 ||
        (rc = scan_version(&p)) != 0 || (rc = scan_fields(&p)) != 0 ||
        (rc = decide_framing(&p)) != 0)
        return rc;
    if (p.pos > INT_MAX)
        return req_fail(&p, 431, "request head too large");
    rewrite_head(&p);
    return (int)p.pos;
}
