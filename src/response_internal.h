/*
 * response_internal.h - what the two files of stage 8 share.
 *
 * Stage 8, respond (Gunicorn counterpart: Response in gunicorn/http/wsgi.py).
 * Private to stage 8: only response.c and response_text.c include it.
 * Everyone else uses response.h, the one public header.
 * Owns: the status-line version digit.  Both files send through conn.c.
 * Does not own: any response state; that is struct response, in response.h.
 */
#ifndef GREENHORN_RESPONSE_INTERNAL_H
#define GREENHORN_RESPONSE_INTERNAL_H

#include "response.h"

/* RFC 9110 section 6.2: answer 1.1 to 1.1 (or a later 1.x), 1.0 to 1.0, as Gunicorn does. */
static inline char response_minor_digit(int version_minor)
{
    return version_minor >= 1 ? '1' : '0';
}

#endif
