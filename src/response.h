/*
 * response.h - writing an HTTP/1.x response to a socket.
 *
 * Stage 8, respond (Gunicorn counterpart: Response in gunicorn/http/wsgi.py).
 * Owns: the status line, the default headers (Server, Date, Connection), validating the
 * application's status and headers, framing the body (Content-Length exactly, chunked, or
 * close-delimited), sendfile, and the canned error pages (400, 404, 500, ...). Does not own:
 * Python.  The WSGI layer (wsgi.c) turns Python objects into bytes and calls these functions, so
 * this file is testable on its own.
 *
 * Sockets are blocking; every write loops until all bytes are out or an
 * error occurs (EINTR is retried).  fd must be a socket: writes use
 * sendmsg(2) with MSG_NOSIGNAL, and sendfile(2) runs with SIGPIPE blocked,
 * so a client that went away gives EPIPE, never a signal that kills the
 * worker.
 *
 * The life of a response:
 *   response_init -> response_set_status -> response_add_header ...
 *   -> response_write / response_sendfile ... -> response_finish
 *   -> response_free
 */
#ifndef GREENHORN_RESPONSE_H
#define GREENHORN_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Bytes of head kept inside struct response before the heap is used. */
#define RESPONSE_HEAD_INLINE 1024

/* An IMF-fixdate is always this long: "Sun, 06 Nov 1994 08:49:37 GMT". */
#define RESPONSE_DATE_LEN 29

/* How the body is delimited (RFC 9112 section 6.3); decided when the head goes out. */
enum response_framing {
    RESPONSE_BODY_NONE,    /* HEAD, 1xx, 204, 304: no body bytes at all */
    RESPONSE_BODY_LENGTH,  /* the app's Content-Length, exactly */
    RESPONSE_BODY_CHUNKED, /* HTTP/1.1 without Content-Length */
    RESPONSE_BODY_CLOSE,   /* HTTP/1.0 without Content-Length: closing ends it */
};

/*
 * One response in progress.  It may own a heap buffer (see head), so it is
 * passed by pointer, never copied by value.
 */
struct response {
    int fd;
    int version_minor; /* the request's: 0 means HTTP/1.0, never chunked */
    bool head_request; /* HEAD: headers only, never a body */

    int status; /* 100..999, after response_set_status; 0 before */
    /*
     * The status line, then the app's headers, serialised ("Name: value\r\n").
     * NULL while they fit in head_inline; a heap buffer (owned) beyond that.
     */
    char *head;
    size_t head_len;   /* bytes used, status line included */
    size_t head_cap;   /* capacity of the buffer in use (inline or heap) */
    size_t status_len; /* the status line is the first status_len bytes */

    bool has_content_length; /* the app sent Content-Length */
    uint64_t content_length;
    bool chunked;       /* decided when the head goes out */
    bool headers_sent;  /* the head is on the wire: too late for a 500 */
    bool upgrade;       /* Connection: upgrade + Upgrade: websocket */
    uint64_t body_sent; /* body bytes written, framing excluded */

    enum response_framing framing; /* decided when the head goes out */
    bool finished;                 /* response_finish ran: nothing more to send */
    /* The connection closes right after this response and no app code runs
     * in between: the last bytes may wait (MSG_MORE) and leave in the same
     * packet as the FIN.  Set by the caller before its final write. */
    bool close_follows;
    /* The connection may carry another request after this one (RFC 9112
     * section 9.3): the caller's wish, set before the head goes out.  The
     * head then says "Connection: keep-alive", unless only closing can end
     * the body (RESPONSE_BODY_CLOSE) or it is an upgrade: out_head clears it
     * then, so after the head went out it says what the client was told. */
    bool keep_alive;
    bool connection_upgrade; /* the app sent Connection: upgrade */
    bool upgrade_websocket;  /* the app sent Upgrade: websocket */
    char head_inline[RESPONSE_HEAD_INLINE];
};

/* response_init - start an empty response for a request on fd. No allocation. */
void response_init(struct response *r, int fd, int version_minor, bool head_request);

/*
 * response_set_status - set the status from the app's "200 OK".
 * Valid: three digits (100..999), a space, then a reason of HTAB, SP, visible
 * ASCII or obs-text (RFC 9112 section 4; it may be empty).
 * May be called again (exc_info) while !headers_sent: it forgets the headers
 * added so far.  Returns 0, or -1 when invalid (errno EINVAL; the response is
 * left as it was), after the head went out (EALREADY), or out of memory.
 */
int response_set_status(struct response *r, const char *status, size_t len);

/*
 * response_add_header - add one app header.  Names must be RFC 9110 tokens;
 * values may hold no CR, LF, NUL or other CTL but HTAB.  Leading and trailing
 * SP/HTAB are trimmed (RFC 9110 section 5.5).  Hop-by-hop headers
 * (Connection, Keep-Alive, Proxy-*, TE, Trailer(s), Transfer-Encoding,
 * Upgrade) are dropped as Gunicorn drops them, and so are Server and Date
 * (this file sends its own); Connection: upgrade together with Upgrade:
 * websocket turns the response into a websocket upgrade instead, and
 * Connection: close clears keep_alive.
 * Content-Length must be digits only, at most INT64_MAX; it then frames the
 * body.  A repeat with the same value is dropped, one with another value is
 * invalid; on 1xx and 204 it is never sent (RFC 9110 section 8.6).
 * Call after response_set_status and before the head goes out.
 * Returns 0 (added or dropped), or -1 with errno: EINVAL when invalid
 * (nothing is added), EALREADY after the head went out, ENOMEM.
 */
int response_add_header(struct response *r, const char *name, size_t name_len, const char *value,
                        size_t value_len);

/*
 * response_write - send body bytes, sending the head first if it has not
 * gone yet (in the same sendmsg).  Bytes beyond Content-Length are dropped;
 * bodies of HEAD, 1xx, 204 and 304 are dropped.  len == 0 sends nothing, not
 * even the head (PEP 3333: headers wait for the first non-empty block).
 * Returns 0, or -1 with errno when the socket failed (EPIPE: the peer left),
 * EINVAL before response_set_status, EALREADY after response_finish.
 */
int response_write(struct response *r, const void *data, size_t len);

/*
 * response_sendfile - send count bytes of file_fd from offset as body, with
 * sendfile(2) when the body is not chunked (the head goes first, with
 * MSG_MORE), else pread(2) in 64 KiB blocks sent as chunks.  The file
 * position of file_fd is not used or changed.  Content-Length truncation and
 * HEAD apply as for response_write.  A file that ends before count bytes
 * ends the body early (response_finish then reports a short body).
 * Returns 0, or -1 with errno (as response_write, or the file's read error).
 */
int response_sendfile(struct response *r, int file_fd, off_t offset, uint64_t count);

/*
 * response_finish - send the head if it never went (empty body), and the
 * last chunk "0\r\n\r\n" when chunked.  Returns 0, or -1 with errno.
 * Returns 1 when the body was shorter than Content-Length (the caller logs it;
 * the connection is closed anyway).  A second call sends nothing and returns
 * the same verdict.
 */
int response_finish(struct response *r);

/* response_finish_sends - will response_finish put bytes on the wire (a
 * head not sent yet, or a last chunk)?  When not, it makes no system call,
 * and the WSGI stage need not let go of the GIL around it. */
bool response_finish_sends(const struct response *r);

/* response_free - release the head buffer.  Safe on an initialised response, and twice. */
void response_free(struct response *r);

/*
 * response_send_error - a complete canned error response: status line,
 * Server, Date, Connection: close, Content-Type: text/html, Content-Length,
 * and a short HTML page naming the status and the reason text (escaped).
 * reason may be NULL (no text).  version_minor as for response_init.
 * The caller must close or shut down the connection right after: the bytes
 * are sent with MSG_MORE and leave with the FIN.
 * Returns 0, or -1 with errno (EINVAL for a status outside 100..999).
 */
int response_send_error(int fd, int version_minor, int status, const char *reason);

/*
 * response_reason - the reason phrase of RFC 9110 section 15 for status
 * ("OK", "Not Found", ...); for a code not in the table, the name of its
 * class ("Client Error", ...), or "Unknown" outside 100..599.
 * Never NULL; a static string.
 */
const char *response_reason(int status);

/*
 * response_date - the current IMF-fixdate (RFC 9110 section 5.6.7),
 * formatted at most once a second.  RESPONSE_DATE_LEN chars + NUL, in a
 * buffer owned by this file (one per thread), valid until the next call.
 */
const char *response_date(void);

/*
 * response_format_date - write the IMF-fixdate of t into out, which holds at
 * least RESPONSE_DATE_LEN + 1 bytes (NUL-terminated).  Day and month names
 * are fixed English, whatever the locale.  Returns 0, or -1 (EOVERFLOW) when
 * t is not a year 0..9999.
 */
int response_format_date(time_t t, char *out);

#endif
