/*
 * response.h - writing an HTTP/1.x response to a socket.
 *
 * Stage 8, respond (Gunicorn counterpart: Response in gunicorn/http/wsgi.py).
 * Owns: the status line, the default headers (Server, Date, Connection:
 * close), validating the application's status and headers, framing the body
 * (Content-Length exactly, chunked, or close-delimited), sendfile, and the
 * canned error pages (400, 404, 500, ...).
 * Does not own: Python.  The WSGI layer (wsgi.c) turns Python objects into
 * bytes and calls these functions, so this file is testable on its own.
 *
 * Sockets are blocking; every write loops until all bytes are out or an
 * error occurs (EINTR is retried).
 */
#ifndef GREENHORN_RESPONSE_H
#define GREENHORN_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct response {
    int fd;
    int version_minor; /* the request's: 0 means HTTP/1.0, never chunked */
    bool head_request; /* HEAD: headers only, never a body */

    int status; /* 100..999, after response_set_status */
    char *head; /* status line + headers, built up; owned */
    size_t head_len;
    size_t head_cap;

    bool has_content_length; /* the app sent Content-Length */
    uint64_t content_length;
    bool chunked;       /* decided when the head goes out */
    bool headers_sent;  /* the head is on the wire: too late for a 500 */
    bool upgrade;       /* Connection: upgrade + Upgrade: websocket */
    uint64_t body_sent; /* body bytes written, framing excluded */
};

/* response_init - start an empty response for a request on fd. No allocation. */
void response_init(struct response *r, int fd, int version_minor, bool head_request);

/*
 * response_set_status - set the status from the app's "200 OK".
 * Valid: three digits, a space, then a reason of printable bytes (no CTL).
 * May be called again (exc_info) while !headers_sent: it forgets the headers
 * added so far.  Returns 0, or -1 when invalid (nothing is kept).
 */
int response_set_status(struct response *r, const char *status, size_t len);

/*
 * response_add_header - add one app header.  Names must be RFC 9110 tokens;
 * values may hold no CR, LF, NUL or other CTL but HTAB.  Hop-by-hop headers
 * (Connection, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade)
 * are dropped as Gunicorn drops them, except a websocket Upgrade.
 * Content-Length must be digits only; it then frames the body.
 * Returns 0 (added or dropped), or -1 when invalid (nothing is added).
 */
int response_add_header(struct response *r, const char *name, size_t name_len, const char *value,
                        size_t value_len);

/*
 * response_write - send body bytes, sending the head first if it has not
 * gone yet (in the same writev).  Bytes beyond Content-Length are dropped;
 * bodies of HEAD, 1xx, 204 and 304 are dropped.  len == 0 sends nothing.
 * Returns 0, or -1 with errno when the socket failed.
 */
int response_write(struct response *r, const void *data, size_t len);

/*
 * response_sendfile - send count bytes of file_fd from offset as body, with
 * sendfile(2) when the body is not chunked, else read + write.
 * Returns 0, or -1 with errno.
 */
int response_sendfile(struct response *r, int file_fd, off_t offset, uint64_t count);

/*
 * response_finish - send the head if it never went (empty body), and the
 * last chunk "0\r\n\r\n" when chunked.  Returns 0, or -1 with errno.
 * Returns 1 when the body was shorter than Content-Length (the caller logs it;
 * the connection is closed anyway).
 */
int response_finish(struct response *r);

/* response_free - release the head buffer.  Safe on an initialised response. */
void response_free(struct response *r);

/*
 * response_send_error - a complete canned error response: status line,
 * Server, Date, Connection: close, Content-Type: text/html, Content-Length,
 * and a short HTML page naming the status and the reason text (escaped).
 * version_minor as for response_init.  Returns 0, or -1 with errno.
 */
int response_send_error(int fd, int version_minor, int status, const char *reason);

/* response_date - the current IMF-fixdate, formatted at most once a second. 29 chars + NUL. */
const char *response_date(void);

#endif
