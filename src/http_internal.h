/*
 * http_internal.h - what the files of the request parser share.
 *
 * Stage 5, parse (Gunicorn counterpart: gunicorn/http/message.py, body.py).
 * Private to stage 5: only http.c, http_fields.c, http_chunked.c and
 * http_proxy.c include it.  Everyone else uses http.h, the one public header.
 * Owns: the limits as Gunicorn reads them, the default options, and the
 * interface of the field-section scanner that both the request head (http.c)
 * and trailer sections (http_chunked.c) use.
 * Does not own: any parsing state (that lives in the structs of http.h), or
 * the byte classes of RFC 9110 (ascii.h, which every stage shares).
 */
#ifndef GREENHORN_HTTP_INTERNAL_H
#define GREENHORN_HTTP_INTERNAL_H

#include "ascii.h"
#include "http.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- options (http.c) --------------------------------------------------- */

/* Gunicorn's defaults, what a NULL struct http_options means (http.c). */
extern const struct http_options http_default_options;

/* The limits as Gunicorn 26 reads its settings (0 means its maximum). */
struct http_limits {
    size_t line;       /* request line, without its CRLF */
    size_t fields;     /* field lines in one section */
    size_t field_size; /* one field: every line of it plus 2 for each CRLF */
    size_t section;    /* a trailer section: Gunicorn's max_buffer_headers */
};

/*
 * http_limits_of - the effective limits of *o: zero and too-large values
 * replaced by Gunicorn's maxima, and the trailer section bound derived from
 * the field limits (SIZE_MAX when that product would overflow).
 */
struct http_limits http_limits_of(const struct http_options *o);

/* Record an error (a status and a short static reason) and return HTTP_ERROR. */
static inline int http_fail(int *status, const char **error, int code, const char *why)
{
    *status = code;
    *error = why;
    return HTTP_ERROR;
}

/* ---- field values and field sections (http_fields.c) -------------------- */

/*
 * http_value_is - does the field value v[0..n) read as `want` once its
 * obs-folds are joined (RFC 9112 section 5.2)?  Exactly, or ignoring ASCII
 * case when nocase.  Reads only; v is not changed.
 */
bool http_value_is(const char *v, size_t n, const char *want, bool nocase);

/*
 * http_unfold_in_place - join the obs-folds of the value v[0..n) in place,
 * each fold read as one SP.  Returns the new length (<= n).
 */
size_t http_unfold_in_place(char *v, size_t n);

/* What a field section is read with, and who is told about each field. */
struct http_field_rules {
    struct http_limits lim;
    const struct http_options *opt;
    /* Called once per finished field, with its offsets in *s; returns 0 or
     * HTTP_ERROR (after setting *status and *error). */
    int (*done)(const struct http_field_rules *fr, const struct http_field_scan *s);
    void *ctx; /* for done */
    int *status;
    const char **error;
};

/* http_fs_fail - set *fr->status and *fr->error; returns HTTP_ERROR. */
int http_fs_fail(const struct http_field_rules *fr, int code, const char *why);

/*
 * http_fs_feed - one more byte of a field section (header or trailer fields,
 * RFC 9112 section 5).  *s starts zeroed; byte offsets in it count from the
 * first byte fed.  fr->done sees each field when the next line starts.
 * Returns 0 (go on), 1 (the empty line ended the section) or HTTP_ERROR.
 */
int http_fs_feed(struct http_field_scan *s, unsigned char c, const struct http_field_rules *fr);

#endif
