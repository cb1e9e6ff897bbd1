/*
 * http.h - a pure HTTP/1.x request parser: bytes in, request view out.
 *
 * Stage 5, parse (Gunicorn counterpart: gunicorn/http/message.py, body.py).
 * Owns: the request line, header fields, framing decisions (Content-Length or
 * chunked), the chunked-body decoder, the PROXY protocol header, and every
 * strictness rule of RFC 9112 that Gunicorn 26.x enforces.
 * Does not own: sockets, Python, or what to do with an error (the caller
 * sends the status this file chooses and closes).
 *
 * The shape is picohttpparser's: the caller owns the buffer, the parser
 * returns views into it (zero copy), and every call has three outcomes:
 *   > 0             the head is complete; that many bytes were the head
 *   HTTP_NEED_MORE  the bytes so far are a valid prefix; call again with more
 *   HTTP_ERROR      invalid; req->status and req->error say why
 * Calling again with a longer buffer that starts with the same bytes is
 * always safe.  The parser never reads past buf[len - 1].
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

enum http_header_map { HTTP_HEADER_MAP_DROP, HTTP_HEADER_MAP_REFUSE, HTTP_HEADER_MAP_DANGEROUS };

/* The limits and switches; built once per worker from struct config. */
struct http_options {
    size_t limit_request_line;       /* 0 = unlimited */
    size_t limit_request_fields;     /* headers array capacity must be >= this */
    size_t limit_request_field_size; /* 0 = unlimited */
    uint64_t limit_request_body;     /* 0 = off; else 413 */
    unsigned flags;
    enum http_header_map header_map;
    const char *const
        *forwarder_headers; /* names (as sent, e.g. "SCRIPT_NAME") kept from trusted peers */
    size_t num_forwarder_headers;
};

/* One header field: views into the request buffer. */
struct http_header {
    const char *name;
    size_t name_len;
    const char *value;
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
    const char *fragment;
    size_t fragment_len;
    int version_minor; /* HTTP/1.<minor>: 0 or 1 */

    struct http_header *headers; /* caller-provided array ... */
    size_t max_headers;          /* ... of this capacity (set by the caller) */
    size_t num_headers;          /* filled by the parser */

    enum http_body body;
    uint64_t content_length; /* HTTP_BODY_LENGTH */
    bool expect_continue;    /* "Expect: 100-continue" on HTTP/1.1 */

    int status;        /* on HTTP_ERROR: 400, 413, 414, 417, 431, 501 */
    const char *error; /* on HTTP_ERROR: a short static reason, e.g. "invalid header name" */
};

/*
 * http_parse_request - parse a request head from buf[0..len).
 * req->headers and req->max_headers must be set by the caller.
 * The parser may rewrite bytes of buf inside the head (casefolding the method,
 * joining obsolete folded lines) but only when it returns > 0.
 */
int http_parse_request(char *buf, size_t len, const struct http_options *opt,
                       struct http_request *req);

/* Chunked body decoder state (RFC 9112 section 7.1).  Zero it to start. */
struct http_chunked {
    int state;
    uint64_t remaining;   /* bytes left in the current chunk */
    unsigned digits;      /* hex digits seen in the current size */
    uint64_t total;       /* decoded body bytes so far (for limit_request_body) */
    uint64_t limit;       /* 0 = off; else 413 when total would exceed it */
    size_t trailer_bytes; /* bytes of trailer section seen (bounded) */
    int status;           /* on HTTP_ERROR */
    const char *error;    /* on HTTP_ERROR */
};

/*
 * http_decode_chunked - decode chunked data in place.
 * On entry buf[0..*len) holds raw bytes that follow what earlier calls saw.
 * On return buf[0..*len) holds the decoded body bytes from this call.
 * Returns HTTP_NEED_MORE (feed more), HTTP_ERROR (d->status, d->error), or,
 * when the last chunk and the trailer section are complete, the number of
 * bytes after the body, which sit at buf[*len .. *len + returned).
 */
long http_decode_chunked(struct http_chunked *d, char *buf, size_t *len);

/* PROXY protocol result. */
struct http_proxy {
    bool present; /* false for "PROXY UNKNOWN" or v2 LOCAL */
    char src_addr[64];
    char dst_addr[64];
    uint16_t src_port;
    uint16_t dst_port;
};

/*
 * http_parse_proxy - read a PROXY protocol v1 or v2 header at buf[0..len).
 * mode: 1 = v1 only, 2 = v2 only, 3 = either or none (auto).
 * Returns bytes consumed (> 0), 0 when mode is auto and no PROXY header is
 * there, HTTP_NEED_MORE, or HTTP_ERROR (*status set to 400).
 */
int http_parse_proxy(const char *buf, size_t len, int mode, struct http_proxy *out, int *status,
                     const char **error);

/* http_status_reason - "OK", "Bad Request", ... for a status code ("Unknown" otherwise). */
const char *http_status_reason(int status);

#endif
