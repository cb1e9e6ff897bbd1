/*
 * wsgi_internal.h - what wsgi.c shares with config_file.c, which also
 * starts an interpreter (in a child process) to run a config file, and with
 * hooks.c, which reports a failing hook as wsgi.c reports a failing app.
 */
#ifndef GREENHORN_WSGI_INTERNAL_H
#define GREENHORN_WSGI_INTERNAL_H

#include <stddef.h>

#include "config.h"
#include "log.h"

/* Start the interpreter as a worker does: sys.executable, the virtualenv
 * (--virtualenv or $VIRTUAL_ENV), no signal handlers.  0, or -1 with err. */
int wsgi_start_interpreter(const struct config *cfg, char *err, size_t errlen);

/* The current Python exception as one line, "TypeError: message", into err.
 * The exception stays set. */
void wsgi_exception_line(char *err, size_t errlen);

/* Run a Python module's source in a fresh namespace and return a new
 * reference to its function name (a PyObject *), or NULL with the Python
 * exception set.  The C files that embed a bit of Python all use it. */
void *wsgi_source_function(const char *source, const char *name);

/* Log the current Python exception with its traceback at level, after the
 * line what, then clear it. */
void wsgi_log_exception(enum log_level level, const char *what);

#endif
