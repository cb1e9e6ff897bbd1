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
 * pyembed_note_program - remember the virtualenv greenhorn's executable
 * sits in, if any: argv0 as the program was run (resolved through $PATH
 * when it has no slash, symbolic links left alone), with a pyvenv.cfg in
 * its folder's parent or in its folder, as CPython's getpath looks for one
 * next to venv/bin/python.  Call it first in main, before any chdir.
 */
void pyembed_note_program(const char *argv0);

/*
 * pyembed_virtualenv - the virtualenv Python will use: --virtualenv, else
 * the executable's own (pyembed_note_program), else $VIRTUAL_ENV.  Returns
 * 1 with its folder in dir, 0 when there is none, or -1 with one line in
 * err when it has no pyvenv.cfg or was made by another Python X.Y than the
 * one greenhorn embeds.  Needs no interpreter.
 */
int pyembed_virtualenv(const struct config *cfg, char *dir, size_t dirlen, char *err,
                       size_t errlen);

/*
 * pyembed_executable - the python sys.executable is: venv's bin/python when
 * venv is not NULL, else the one that goes with the libpython greenhorn is
 * built against.  Needs no interpreter.
 */
void pyembed_executable(const char *venv, char *exe, size_t exelen);

/*
 * pyembed_start - start the interpreter as a worker does: PyConfig with
 * Python's own signal handlers off (greenhorn owns signals), sys.executable
 * set to the virtualenv's python (pyembed_virtualenv, PEP 405) or
 * to the python that goes with the libpython we link.  Returns with the GIL
 * held: 0, or -1 with a one-line reason in err (no Python exception).  In a
 * child forked from a master that python3 runs (pyhost.c), where the
 * interpreter is already there, it only tells that interpreter of the fork.
 */
int pyembed_start(const struct config *cfg, char *err, size_t errlen);

/*
 * pyembed_after_fork - in a child whose interpreter came with the fork:
 * CPython's PyOS_AfterFork_Child, and os.environ made the environment as
 * it is now (Python reads it only when it starts).  Needs the GIL.
 * 0, or -1 when os.environ could not be updated (logged).
 */
int pyembed_after_fork(void);

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
 * pyembed_take_exception - the pending exception, normalised, its traceback
 * attached (a new PyObject reference), taken out of the error indicator;
 * NULL when none is set.  PyErr_SetObject(type, exc) sets it again, with
 * that traceback.  Needs the GIL.
 */
void *pyembed_take_exception(void);

/*
 * pyembed_source_function - run a Python module's source in a fresh
 * namespace and return its function name: a new reference (a PyObject *),
 * or NULL with the Python exception set.
 */
void *pyembed_source_function(const char *source, const char *name);

#endif
