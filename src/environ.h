/*
 * environ.h - a parsed request becomes a PEP 3333 environ dict.
 *
 * Stage 6, environ (Gunicorn counterpart: create() and base_environ() in
 * gunicorn/http/wsgi.py, and gunicorn/http/body.py for wsgi.input).
 * Owns: the interned environ keys, the base environ (built once per worker,
 * copied per request), and the wsgi.errors type.  wsgi.input is input.c's.
 * Does not own: calling the app (wsgi.c) or parsing (http.c).
 *
 * Every function here needs the GIL, and releases it around socket reads.
 */
#ifndef GREENHORN_ENVIRON_H
#define GREENHORN_ENVIRON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "config.h"
#include "request.h"

/*
 * environ_init - build the interned keys and the base environ for this
 * worker.  file_wrapper is the wsgi.file_wrapper type (borrowed; kept alive by
 * a new reference).  Returns 0, or -1 with a Python exception set.
 */
int environ_init(const struct config *cfg, PyObject *file_wrapper);

/* environ_fini - drop every object environ_init made. */
void environ_fini(void);

/*
 * environ_build - the environ for the request r (its head parsed, the body
 * state set up).  Returns a new reference, or NULL with an exception set.
 * The wsgi.input inside reads r's body until input_detach(r).
 */
PyObject *environ_build(struct request *r);

#endif
