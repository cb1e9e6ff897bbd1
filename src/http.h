/*
 * http.h - a pure HTTP/1.x request parser: bytes in, request view out.
 *
 * Stage 5, parse (Gunicorn counterpart: gunicorn/http/message.py, body.py).
 * Owns: the request line, header fields, framing decisions (Content-Length or
 * chunked), the chunked-body decoder, trailer fields, and every strictness
 * rule of RFC 9112 that Gunicorn 26.x enforces.  (The PROXY protocol header
 * that may come before a request is an extra: src/extras/proxy_protocol.c.)
 * Does not own: sockets, Python, or what to do with an error (the caller
 * sends the status this file chooses and closes).
 *
 * The shape is picohttpparser's: the caller owns the buffer, the parser
 * returns views into it (zero copy), and every call has three outcomes:
 *   > 0             the head is complete; that many bytes were the head
 *   HTTP_NEED_MORE  the bytes so far are a valid prefix; call again with more
 *   HTTP_ERROR      invalid; req->status and req->error say why
 * Calling again with a longer buffer that starts with the same bytes is
 * always safe.  The parser never reads past buf[len - 1] and never allocates.
 *
 * Errors are found in reading order: the first byte that breaks a rule (or
 * pushes a count past a limit) decides the status, so a request gets the same
 * answer whether it arrives in one piece or a byte at a time.
 */
#ifndef GREENHORN_HTTP_H
#define GREENHORN_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_ERROR     (-1)
#define HTTP_NEED_MORE (-2)

/* Option flags (struct http_options.flags). */
#define HTTP_PERMIT_OBS_FOLD               (1u << 0) /* permit_obsolete_folding */
#define HTTP_PERMIT_UNCONVENTIONAL_METHOD  (1u << 1) /* permit_unconventional_http_method */
#define HTTP_PERMIT_UNCONVENTIONAL_VERSION (1u << 2) /* permit_unconventional_http_version */
#define HTTP_CASEFOLD_METHOD               (1u << 3) /* casefold_http_method */
#define HTTP_STRIP_HEADER_SPACES           (1u << 4) /* strip_header_spaces */
#define HTTP_TRUSTED_PEER                  (1u << 5) /* peer is in forwarded_allow_ips */

/* Gunicorn's defaults and ceilings (gunicorn/config.py, http/message.py). */
#define HTTP_DEFAULT_LIMIT_REQUEST_LINE       4094
#define HTTP_DEFAULT_LIMIT_REQUEST_FIELDS     100
#define HTTP_DEFAULT_LIMIT_REQUEST_FIELD_SIZE 8190
#define HTTP_MAX_REQUEST_LINE                 8190  /* 0 or more reads as this */
#define HTTP_MAX_HEADERS                      32768 /* 0 or more reads as this */
#define HTTP_MAX_FIELD_SIZE                   8190  /* what a field size of 0 reads as */

enum http_header_map { HTTP_HEADER_MAP_DROP, HTTP_HEADER_MAP_REFUSE, HTTP_HEADER_MAP_DANGEROUS };

/* The limits and switches; a worker builds them once from its settings
 * (config_http_options, in config.c), a test or the fuzzer by hand. */
struct http_options {
    size_t limit_request_line;       /* 0 or above 8190 = 8190 (Gunicorn 26) */
    size_t limit_request_fields;     /* 0 or above 32768 = 32768; headers capacity should be >= */
    size_t limit_request_field_size; /* 0 = 8190 (Gunicorn 26); "Name: value" + CRLF */
    uint64_t limit_request_body;     /* 0 = off; else 413 */
    unsigned flags;
    enum http_header_map header_map;
    const char *const
        *forwarder_headers; /* names (as sent, e.g. "SCRIPT_NAME") kept from trusted peers */
    size_t num_forwarder_headers;
    /* secure_scheme_headers: names[i] (any case) carrying values[i] (exact) means https.
     * Honoured only with HTTP_TRUSTED_PEER.  NULL/0 = none. */
    const char *const *secure_scheme_names;
    const char *const *secure_scheme_values;
    size_t num_secure_scheme_headers;
};

/*
 * http_options_init - fill *opt with Gunicorn's defaults: limits 4094 / 100 /
 * 8190, no body limit, no flags, header_map DROP, forwarder_headers
 * SCRIPT_NAME and PATH_INFO, and the three default secure_scheme_headers
 * (X-FORWARDED-PROTOCOL: ssl, X-FORWARDED-PROTO: https, X-FORWARDED-SSL: on).
 * The lists point to static storage.
 */
void http_options_init(struct http_options *opt);

/*
 * http_options_settle - write into *opt the limits the parser applies
 * (struct http_options above: 0 and too-large values read as Gunicorn's
 * maxima), so that a caller can size its header array from
 * limit_request_fields.  Parsing with the settled options gives the same
 * answers as before.  Returns the largest request head those limits let
 * through, Gunicorn's max_buffer_headers plus the request line: the line
 * and its CRLF, limit_request_fields fields of limit_request_field_size
 * bytes each with 2 more for the CRLF, and the blank line (SIZE_MAX if that
 * overflows).  A caller that buffers that many bytes of head never refuses
 * one that the parser would accept.
 */
size_t http_options_settle(struct http_options *opt);

/* One header field: views into the request buffer. */
struct http_header {
    const char *name;
    size_t name_len;
    const char *value; /* SP/HTAB stripped; obs-folds joined by one SP */
    size_t value_len;
};

enum http_body { HTTP_BODY_NONE, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED };

/* A parsed request head.  Every pointer points into the caller's buffer. */
struct http_request {
    const char *method;
    size_t method_len;
    const char *target; /* the request-target as sent (RAW_URI) */
    size_t target_len;
    const char *path; /* still percent-encoded */
    size_t path_len;
    const char *query; /* after '?', without it; len 0 if none */
    size_t query_len;
    const char *fragment; /* after '#', without it; len 0 if none */
    size_t fragment_len;
    int version_major; /* 1; 0 or 2-9 only with HTTP_PERMIT_UNCONVENTIONAL_VERSION */
    int version_minor; /* HTTP/1.<minor>: 0 or 1 in practice, any digit accepted */

    struct http_header *headers; /* caller-provided array ... */
    size_t max_headers;          /* ... of this capacity (set by the caller) */
    size_t num_headers;          /* filled by the parser; dropped fields are absent */

    enum http_body body;
    uint64_t content_length; /* HTTP_BODY_LENGTH */
    bool expect_continue;    /* "Expect: 100-continue" on HTTP/1.1 */
    bool keep_alive; /* Gunicorn's should_close(), negated: first Connection field, else version */
    bool scheme_https; /* a trusted secure_scheme_header said https */

    int status;        /* on HTTP_ERROR: 400, 413, 414, 417, 431, 501 */
    const char *error; /* on HTTP_ERROR: a short static reason, e.g. "invalid header name" */
};

/*
 * http_parse_request - parse a request head from buf[0..len).
 * req->headers and req->max_headers must be set by the caller; every other
 * field of *req is written.  opt may be NULL (http_options_init defaults).
 * The parser may rewrite bytes of buf inside the head (casefolding the method,
 * joining obsolete folded lines) but only when it returns > 0.
 * Returns the head length (> 0), HTTP_NEED_MORE or HTTP_ERROR.
 */
int http_parse_request(char *buf, size_t len, const struct http_options *opt,
                       struct http_request *req);

/*
 * http_parse_content_length - read the Content-Length value s[0..n) (OWS
 * already stripped) as RFC 9110 section 8.6 defines it, 1*DIGIT and nothing
 * else: no sign, no whitespace, no hex, and no list ("5, 5", which the RFC
 * lets a recipient accept and Gunicorn refuses).  The one reading of the
 * field for requests (RFC 9112 section 6.3, where a bad value is an
 * unrecoverable framing error) and for the application's responses.
 * Returns true with *out set when the value is valid and fits in 64 bits;
 * false otherwise (*out untouched).  A tighter bound is the caller's.
 */
bool http_parse_content_length(const char *s, size_t n, uint64_t *out);

/*
 * http_find_header - the last of the n fields named name[0..len), compared
 * as ASCII without case (field names are case-insensitive, RFC 9110
 * section 5.1; never the C locale, which Python sets in the workers), or
 * NULL.  The last, as Gunicorn's environ and access log see a repeated
 * field.  The one header lookup of every stage.
 */
const struct http_header *http_find_header(const struct http_header *fields, size_t n,
                                           const char *name, size_t len);

/*
 * A field section (headers or trailers) read one byte at a time.  Private to
 * stage 5 (http*.c); declared here only so struct http_chunked can hold one.
 */
struct http_field_scan {
    int state;
    size_t offset;      /* bytes fed so far; the offsets below count from the first */
    size_t field_bytes; /* Gunicorn's header_length of the current field */
    size_t fields;      /* field lines started */
    size_t name_off, name_len;
    size_t value_off, value_end; /* without leading and trailing SP/HTAB */
    bool value_seen;
    bool underscore;    /* the name contains '_' */
    char name_head[20]; /* the first bytes of the name, upper-cased */
};

/*
 * Chunked body decoder state (RFC 9112 section 7.1).  Zero it to start; the
 * optional input below may then be set.
 *
 * Trailer fields: the decoder checks the trailer section with the header
 * rules and limits (plus Gunicorn's forbidden trailer names) as the bytes
 * stream past, then forgets them.  RFC 9110 section 6.5.1 lets a recipient
 * discard trailer fields, and a WSGI application has no way to read them:
 * Gunicorn keeps them on its request object, out of the environ.
 */
struct http_chunked {
    int state;
    uint64_t remaining;   /* bytes left in the current chunk */
    unsigned digits;      /* hex digits seen in the current size */
    uint64_t total;       /* decoded body bytes so far (for limit_request_body) */
    uint64_t limit;       /* 0 = off; else 413 when total would exceed it */
    size_t trailer_bytes; /* bytes of trailer section seen (bounded) */
    int status;           /* on HTTP_ERROR */
    const char *error;    /* on HTTP_ERROR */

    /* optional input */
    const struct http_options *opt; /* trailer limits and flags; NULL = defaults */

    /* private to stage 5 */
    uint64_t size;                  /* the chunk size being read */
    size_t line_bytes;              /* length of the chunk-size line so far */
    struct http_field_scan trailer; /* the trailer section */
};

/*
 * http_decode_chunked - decode chunked data in place.
 * On entry buf[0..*len) holds raw bytes that follow what earlier calls saw.
 * On return buf[0..*len) holds the decoded body bytes from this call.
 * Returns HTTP_NEED_MORE (feed more), HTTP_ERROR (d->status, d->error), or,
 * when the last chunk and the trailer section are complete, the number of
 * bytes after the body, which sit at buf[*len .. *len + returned).
 * Errors: 400 (size, extension, missing CRLF, bad trailer field), 413 (the
 * body would pass d->limit), 431 (trailer section over its limits).
 */
long http_decode_chunked(struct http_chunked *d, char *buf, size_t *len);

/* What a PROXY protocol header said (filled by src/extras/proxy_protocol.c;
 * the request carries it, environ.c and the access log read it). */
struct http_proxy {
    bool present; /* false for "PROXY UNKNOWN", v2 LOCAL and v2 UNSPEC */
    char src_addr[64];
    char dst_addr[64];
    uint16_t src_port;
    uint16_t dst_port;
};

#endif
