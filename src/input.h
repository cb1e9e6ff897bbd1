/*
 * input.h - wsgi.input: the request body, as the application reads it.
 *
 * Stage 6, environ (Gunicorn counterpart: gunicorn/http/body.py).
 * Owns: the body part of struct request and the wsgi.input Python type.
 * Does not own: the connection (the worker's) or the environ (environ.c).
 */
#ifndef GREENHORN_INPUT_H
#define GREENHORN_INPUT_H

#include "request.h"

/*
 * input_body_begin - set up r's body state from the parsed head
 * (Content-Length, chunked or none), moving the bytes read after the head
 * into the body's own buffer.  Needs no Python.  Returns 0, or an HTTP
 * status (400, 413, 500 ...) when the request must be refused.
 */
int input_body_begin(struct request *r);

/*
 * input_new - a wsgi.input object reading r's body (needs the GIL).
 * Returns a new reference, or NULL with an exception set.  r keeps a
 * reference of its own (r->input) until input_detach.
 */
PyObject *input_new(struct request *r);

/*
 * input_detach - cut r's wsgi.input off from r and drop r's reference: an
 * app that kept the object gets ValueError, not a read of a closed socket
 * or of another request.  Needs the GIL.  Safe when there is none.
 */
void input_detach(struct request *r);

/*
 * A body this small is cheap to hold and cheap to skip: the gthread worker
 * reads one of up to this many bytes whole before the app runs, and after
 * the response skips up to this many unread bytes to keep the connection.
 */
#define INPUT_SMALL_BODY (64 * 1024)

/*
 * input_drainable - could what is left of r's body be skipped cheaply
 * (input_drain with INPUT_SMALL_BODY)?  True when it is all read, or when a
 * Content-Length body has at most that many bytes left; false for an
 * unfinished chunked body (its end is unknown), a failed read, or a client
 * still waiting for "100 Continue".
 */
bool input_drainable(const struct request *r);

/*
 * input_body_buffer - read what has already arrived of r's Content-Length
 * body into r->body, without waiting and without Python (an event loop's
 * call, when the socket is readable).  Returns 1 when the whole body is
 * buffered (body_state BODY_NONE: wsgi.input then never touches the
 * socket), 0 when more is to come, -1 when the client closed or failed
 * (errno).  Only for BODY_LENGTH; the body must fit in memory.
 */
int input_body_buffer(struct request *r);

/*
 * input_drain - read and discard what is left of r's body, at most limit
 * bytes of it, so that the connection can carry another request (RFC 9112
 * section 9.3: the next request starts after this one's body).  Needs the
 * GIL (it reads through wsgi.input's own reader, which releases it around
 * each wait, with the body timeout).  Returns 0 when the body is all read
 * (bytes after it stay in place: input_tail), -1 when it is larger than
 * limit or reading failed: the connection must close.
 */
int input_drain(struct request *r, uint64_t limit);

/*
 * input_tail - the bytes that arrived after r's end (a pipelined request),
 * once its body is all read: a view into r's head or body buffer, valid
 * until r is reset or read again; *len is 0 when there are none, or when
 * the body is not all read (the end is then unknown).
 */
const char *input_tail(const struct request *r, size_t *len);

#endif
