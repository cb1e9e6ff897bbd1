/*
 * pyembed.h - the embedded interpreter's few shared helpers.
 *
 * Used by stage 7 (wsgi.c) and by the extras that run Python (the config
 * file reader, the worker hooks, the hook process).  Every function but
 * pyembed_start needs the GIL.
 */
#ifndef GREENHORN_PYEMBED_H
#define GREENHORN_PYEMBED_H

#include <stddef.h>

#include "config.h"
#include "log.h"

/*
 * pyembed_start - start the interpreter as a worker does: PyConfig with
 * Python's own signal handlers off (greenhorn owns signals), sys.executable
 * set to the virtualenv's python (--virtualenv or $VIRTUAL_ENV, PEP 405) or
 * to the python that goes with the libpython we link.  Returns with the GIL
 * held: 0, or -1 with a one-line reason in err (no Python exception).
 */
int pyembed_start(const struct config *cfg, char *err, size_t errlen);

/*
 * pyembed_exception_line - the pending Python exception as one line,
 * "TypeError: message", into err.  The exception stays set.
 */
void pyembed_exception_line(char *err, size_t errlen);

/*
 * pyembed_log_exception - log the pending exception with its traceback at
 * level, after the line what, then clear it.
 */
void pyembed_log_exception(enum log_level level, const char *what);

/*
 * pyembed_source_function - run a Python module's source in a fresh
 * namespace and return its function name: a new reference (a PyObject *),
 * or NULL with the Python exception set.
 */
void *pyembed_source_function(const char *source, const char *name);

#endif
