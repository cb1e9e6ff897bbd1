/*
 * input.h - wsgi.input: the request body, as the application reads it.
 *
 * Stage 6, environ (Gunicorn counterpart: gunicorn/http/body.py).
 * Owns: the body state of struct conn and the wsgi.input Python type.
 * Does not own: the connection (worker.c) or the environ (environ.c).
 */
#ifndef GREENHORN_INPUT_H
#define GREENHORN_INPUT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "worker.h"

/*
 * input_body_begin - set up c's body state from the parsed head
 * (Content-Length, chunked or none) and the bytes already read after it.
 * Needs no Python.  Returns 0, or an HTTP status (400, 413, ...) when the
 * body bytes already read are malformed: the request must then be refused.
 */
int input_body_begin(struct conn *c);

/*
 * input_new - a wsgi.input object reading c's body (needs the GIL).
 * Returns a new reference, or NULL with an exception set.  Only one input
 * is live at a time: making one detaches the previous one.
 */
PyObject *input_new(struct conn *c);

/*
 * input_end_request - detach the live wsgi.input from its connection: an
 * app that kept a reference gets ValueError, not a read of a closed socket.
 */
void input_end_request(void);

#endif
