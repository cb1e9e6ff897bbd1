/*
 * http_fields.c - header and trailer field sections, byte by byte.
 *
 * Stage 5, parse (Gunicorn counterpart: the header loop of
 * gunicorn/http/message.py, Message.parse_headers).
 * Owns: the field-section scanner (struct http_field_scan), which reads
 * "name: value" lines one byte at a time and hands each finished field to a
 * callback, and reading field values through obsolete line folds.
 * Does not own: what a field means (http.c decides framing from the request
 * head; http_chunked.c refuses forbidden trailers), or the buffer.
 *
 * One scanner serves two sections: the request head (http.c) and the
 * trailer section after a chunked body (http_chunked.c), so both obey the
 * same rules and limits.  Every byte is checked as it is met: the first bad
 * byte decides the status, and a valid prefix is never an error.
 */
#include "http_internal.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- folded values ------------------------------------------------------ */

/*
 * Reads a field value as if its obs-folds were joined (RFC 9112 section 5.2):
 * a run of SP/HTAB/CR/LF holding a line break reads as one SP.  Values never
 * start or end with such a run, and hold CR or LF only inside one.
 */
struct unfold {
    const char *p, *end;
    const char *plain_end; /* a whitespace run without a line break ends here */
};

static int unfold_next(struct unfold *u)
{
    if (u->p == u->end)
        return -1;
    if (u->p >= u->plain_end && (ascii_is_ws((unsigned char)*u->p) || *u->p == '\r')) {
        const char *q = u->p;
        bool fold = false;
        while (q < u->end && (ascii_is_ws((unsigned char)*q) || *q == '\r' || *q == '\n'))
            fold |= *q++ == '\r';
        if (fold) {
            u->p = q;
            return ' ';
        }
        u->plain_end = q;
    }
    return (unsigned char)*u->p++;
}

/* Does the value v[0..n) read as `want` (exactly, or ignoring ASCII case)? */
bool http_value_is(const char *v, size_t n, const char *want, bool nocase)
{
    struct unfold u = {v, v + n, v};
    const unsigned char *w = (const unsigned char *)want;
    int c;
    while ((c = unfold_next(&u)) >= 0) {
        if (*w == '\0' || (nocase ? ascii_upper((unsigned char)c) != ascii_upper(*w) : c != *w))
            return false;
        w++;
    }
    return *w == '\0';
}

/* Join the obs-folds of v[0..n) in place; returns the new length.  Safe
 * because the write position never passes the read position. */
size_t http_unfold_in_place(char *v, size_t n)
{
    struct unfold u = {v, v + n, v};
    size_t w = 0;
    int c;
    while ((c = unfold_next(&u)) >= 0)
        v[w++] = (char)c;
    return w;
}

/* ---- the field scanner (RFC 9112 section 5, RFC 9110 section 5.5) ------ */

enum field_state { FS_LINE_START, FS_BLANK_LF, FS_NAME, FS_NAME_WS, FS_VALUE, FS_LF, FS_DONE };

int http_fs_fail(const struct http_field_rules *fr, int code, const char *why)
{
    return http_fail(fr->status, fr->error, code, why);
}

/* Count one byte of the field against limit_request_field_size. */
static int fs_count(struct http_field_scan *s, const struct http_field_rules *fr)
{
    if (++s->field_bytes > fr->lim.field_size)
        return http_fs_fail(fr, 431, "header field too long");
    return 0;
}

static int fs_name(struct http_field_scan *s, unsigned char c, size_t at,
                   const struct http_field_rules *fr)
{
    if (c == ':') {
        if (s->name_len == 0)
            return http_fs_fail(fr, 400, "empty header name");
        s->state = FS_VALUE;
        s->value_off = s->value_end = at + 1;
        return fs_count(s, fr);
    }
    /* "Name :" is how CVE-2019-16869-style smuggling starts; only the
     * strip_header_spaces compatibility switch lets it through. */
    if (ascii_is_ws(c) && (fr->opt->flags & HTTP_STRIP_HEADER_SPACES)) {
        s->state = FS_NAME_WS;
        return fs_count(s, fr);
    }
    if (!ascii_is_tchar(c))
        return http_fs_fail(fr, 400, "invalid header name");
    if (s->name_len < sizeof(s->name_head))
        s->name_head[s->name_len] = (char)ascii_upper(c);
    s->name_len++;
    s->underscore |= c == '_';
    return fs_count(s, fr);
}

/* A value byte: field-vchar, obs-text, SP or HTAB.  NUL, CR, LF and the other
 * controls are refused (RFC 9110 section 5.5): they split headers downstream. */
static int fs_value(struct http_field_scan *s, unsigned char c, size_t at,
                    const struct http_field_rules *fr)
{
    if (c == '\r') {
        s->state = FS_LF;
        return 0;
    }
    if (!ascii_is_field_byte(c))
        return http_fs_fail(fr, 400, "invalid header value");
    if (!ascii_is_ws(c)) {
        if (!s->value_seen)
            s->value_off = at;
        s->value_seen = true;
        s->value_end = at + 1;
    }
    return fs_count(s, fr);
}

static int fs_line_start(struct http_field_scan *s, unsigned char c, size_t at,
                         const struct http_field_rules *fr)
{
    int rc;
    if (ascii_is_ws(c)) {
        /* obs-fold (RFC 9112 section 5.2): refused unless permitted. */
        if (s->fields == 0)
            return http_fs_fail(fr, 400, "whitespace before the first header field");
        if (!(fr->opt->flags & HTTP_PERMIT_OBS_FOLD))
            return http_fs_fail(fr, 400, "obsolete line folding");
        s->field_bytes += 2; /* Gunicorn counts each line with its CRLF */
        s->state = FS_VALUE;
        return fs_count(s, fr);
    }
    if (s->fields > 0 && (rc = fr->done(fr, s)) < 0)
        return rc;
    if (c == '\r') {
        s->state = FS_BLANK_LF;
        return 0;
    }
    if (s->fields >= fr->lim.fields)
        return http_fs_fail(fr, 431, "too many header fields");
    s->fields++;
    s->field_bytes = 2;
    s->name_off = at;
    s->name_len = 0;
    s->value_seen = false;
    s->underscore = false;
    s->state = FS_NAME;
    return fs_name(s, c, at, fr);
}

/*
 * http_fs_feed - one more byte of a field section.
 * Returns 0 (go on), 1 (the empty line ended the section) or HTTP_ERROR.
 */
int http_fs_feed(struct http_field_scan *s, unsigned char c, const struct http_field_rules *fr)
{
    size_t at = s->offset++;
    switch ((enum field_state)s->state) {
    case FS_LINE_START:
        return fs_line_start(s, c, at, fr);
    case FS_BLANK_LF:
        if (c != '\n')
            return http_fs_fail(fr, 400, "bare CR in header section");
        s->state = FS_DONE;
        return 1;
    case FS_NAME:
        return fs_name(s, c, at, fr);
    case FS_NAME_WS:
        if (c == ':')
            return fs_name(s, c, at, fr);
        if (!ascii_is_ws(c))
            return http_fs_fail(fr, 400, "invalid header name");
        return fs_count(s, fr);
    case FS_VALUE:
        return fs_value(s, c, at, fr);
    case FS_LF:
        if (c != '\n')
            return http_fs_fail(fr, 400, "bare CR in header value");
        s->state = FS_LINE_START;
        return 0;
    case FS_DONE:
        break;
    }
    return http_fs_fail(fr, 400, "data after the header section");
}
