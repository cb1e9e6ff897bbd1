/*
 * http_chunked.c - chunked request bodies and their trailer fields.
 *
 * Stage 5, parse (Gunicorn counterpart: ChunkedReader in
 * gunicorn/http/body.py, parse_chunk_size and parse_trailers).
 * Owns: decoding a chunked body in place (struct http_chunked, RFC 9112
 * section 7.1), and checking the trailer section as it streams past.
 * Does not own: reading the socket or deciding that a body is chunked (the
 * request head, http.c, decides the framing), or the field scanner itself
 * (http_fields.c).
 *
 * The decoder is a state machine fed whatever bytes have arrived: it never
 * needs the whole body, and it compacts the data in the caller's buffer.
 */
#include "http_internal.h"

#include <stdint.h>
#include <string.h>

/* ---- trailer fields (RFC 9110 section 6.5) ----------------------------- */

/* Gunicorn refuses these in trailers: framing, routing and authentication
 * decided on the header section must not change afterwards. */
static bool forbidden_trailer(const struct http_field_scan *s)
{
    static const char *const names[] = {"HOST",    "CONTENT-LENGTH", "TRANSFER-ENCODING",
                                        "TRAILER", "AUTHORIZATION",  "TE"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (s->name_len == strlen(names[i]) && memcmp(s->name_head, names[i], s->name_len) == 0)
            return true;
    return false;
}

/* One finished trailer field.  The scanner has applied the header rules;
 * left are Gunicorn's forbidden names and header_map's "refuse".  Either
 * way the field is then forgotten.  Returns 0 or HTTP_ERROR. */
static int trailer_done(const struct http_field_rules *fr, const struct http_field_scan *s)
{
    if (forbidden_trailer(s))
        return http_fs_fail(fr, 400, "forbidden trailer field");
    if (s->underscore && fr->opt->header_map == HTTP_HEADER_MAP_REFUSE)
        return http_fs_fail(fr, 400, "underscore in header name");
    return 0;
}

/* ---- chunked bodies (RFC 9112 section 7.1) ----------------------------- */

enum chunk_state {
    CH_SIZE,     /* chunk-size: 1 to 16 hex digits */
    CH_SIZE_BWS, /* whitespace after the size: only before ';' */
    CH_EXT,      /* chunk-ext, not interpreted */
    CH_SIZE_LF,  /* CR seen; LF ends the size line */
    CH_DATA,
    CH_DATA_CR, /* chunk data must be followed by exactly CRLF */
    CH_DATA_LF,
    CH_TRAILER, /* after the last chunk: the trailer section */
    CH_DONE,
    CH_FAILED /* an error was reported; it stays reported */
};

struct chunk_decoder {
    struct http_chunked *d;
    struct http_field_rules fr; /* for the trailer section */
};

static int chunk_fail(struct http_chunked *d, int code, const char *why)
{
    return http_fail(&d->status, &d->error, code, why);
}

/* The size line is known: start the chunk's data, or the trailer section. */
static int chunk_size_done(struct http_chunked *d)
{
    if (d->size == 0) {
        d->state = CH_TRAILER;
        return 0;
    }
    /* Refuse as soon as the declared size proves the body too large. */
    if (d->limit && d->size > d->limit - d->total)
        return chunk_fail(d, 413, "request body too large");
    if (d->size > UINT64_MAX - d->total)
        return chunk_fail(d, 400, "chunked body size overflows");
    d->total += d->size;
    d->remaining = d->size;
    d->state = CH_DATA;
    return 0;
}

/* chunk-size [ BWS chunk-ext ] CRLF.  Gunicorn's limit on the line is the
 * field size limit; whitespace is allowed only before an extension. */
static int chunk_size_byte(struct chunk_decoder *cd, unsigned char c)
{
    struct http_chunked *d = cd->d;
    int v = ascii_hex_value(c);
    if (++d->line_bytes > cd->fr.lim.field_size)
        return chunk_fail(d, 400, "chunk size line too long");
    if (d->state == CH_SIZE && v >= 0) {
        if (++d->digits > 16)
            return chunk_fail(d, 400, "chunk size over 16 hex digits");
        d->size = d->size << 4 | (uint64_t)v;
        return 0;
    }
    if (d->state == CH_SIZE && d->digits > 0 && (c == ';' || c == '\r' || ascii_is_ws(c))) {
        d->state = c == ';' ? CH_EXT : c == '\r' ? CH_SIZE_LF : CH_SIZE_BWS;
        return 0;
    }
    if (d->state == CH_SIZE_BWS && (c == ';' || ascii_is_ws(c))) {
        d->state = c == ';' ? CH_EXT : CH_SIZE_BWS;
        return 0;
    }
    if (d->state != CH_EXT)
        return chunk_fail(d, 400, "invalid chunk size");
    if (c == '\r')
        d->state = CH_SIZE_LF;
    else if (c == '\n')
        return chunk_fail(d, 400, "bare LF in chunk extension");
    else if (!ascii_is_field_byte(c))
        return chunk_fail(d, 400, "invalid chunk extension");
    return 0;
}

/* One byte of the trailer section: bounded (Gunicorn's max_buffer_headers), checked. */
static int chunk_trailer_byte(struct chunk_decoder *cd, unsigned char c)
{
    struct http_chunked *d = cd->d;
    if (d->trailer_bytes >= cd->fr.lim.section)
        return chunk_fail(d, 431, "trailer section too large");
    d->trailer_bytes++;
    int rc = http_fs_feed(&d->trailer, c, &cd->fr);
    if (rc == 1)
        d->state = CH_DONE;
    return rc < 0 ? rc : 0;
}

static int chunk_byte(struct chunk_decoder *cd, unsigned char c)
{
    struct http_chunked *d = cd->d;
    switch ((enum chunk_state)d->state) {
    case CH_SIZE:
    case CH_SIZE_BWS:
    case CH_EXT:
        return chunk_size_byte(cd, c);
    case CH_SIZE_LF:
        if (c != '\n')
            return chunk_fail(d, 400, "chunk size line not ended by CRLF");
        return chunk_size_done(d);
    case CH_DATA_CR:
    case CH_DATA_LF:
        if (c != (d->state == CH_DATA_CR ? '\r' : '\n'))
            return chunk_fail(d, 400, "missing CRLF after chunk data");
        if (d->state == CH_DATA_LF) {
            d->size = 0;
            d->digits = 0;
            d->line_bytes = 0;
        }
        d->state = d->state == CH_DATA_CR ? CH_DATA_LF : CH_SIZE;
        return 0;
    case CH_TRAILER:
        return chunk_trailer_byte(cd, c);
    case CH_DATA:
    case CH_DONE:
    case CH_FAILED:
        break;
    }
    return chunk_fail(d, 400, "chunked decoder misused");
}

long http_decode_chunked(struct http_chunked *d, char *buf, size_t *len)
{
    const struct http_options *o = d->opt ? d->opt : &http_default_options;
    struct chunk_decoder cd = {d,
                               {http_limits_of(o), o, trailer_done, NULL, &d->status, &d->error}};
    size_t src = 0, dst = 0, n = *len;
    int rc = d->state == CH_FAILED ? HTTP_ERROR : 0;
    while (rc == 0 && src < n && d->state != CH_DONE) {
        if (d->state == CH_DATA) {
            size_t k = n - src < d->remaining ? n - src : (size_t)d->remaining;
            memmove(buf + dst, buf + src, k);
            dst += k;
            src += k;
            d->remaining -= k;
            if (d->remaining == 0)
                d->state = CH_DATA_CR;
            continue;
        }
        rc = chunk_byte(&cd, (unsigned char)buf[src++]);
    }
    *len = dst;
    if (rc < 0) {
        d->state = CH_FAILED;
        return HTTP_ERROR;
    }
    if (d->state != CH_DONE)
        return HTTP_NEED_MORE;
    memmove(buf + dst, buf + src, n - src);
    return (long)(n - src);
}
