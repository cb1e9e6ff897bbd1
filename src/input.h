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

#endif
