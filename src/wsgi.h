/*
 * wsgi.h - the embedded interpreter and the application call.
 *
 * Stage 7, call app (Gunicorn counterpart: gunicorn/app/wsgiapp.py,
 * import_app() in gunicorn/util.py, handle_request() in workers/sync.py).
 * Owns: starting and stopping Python (PyConfig), importing the app,
 * start_response and write() (PEP 3333), iterating the result, calling its
 * close() exactly once, wsgi.file_wrapper, and turning app errors into 500s.
 * Does not own: the environ (environ.c) or the bytes on the wire (response.c).
 */
#ifndef GREENHORN_WSGI_H
#define GREENHORN_WSGI_H

#include <stdint.h>

#include "config.h"
#include "request.h"

/*
 * wsgi_init - start the interpreter: PyConfig with Python's own signal
 * handlers off (greenhorn owns signals), the virtualenv honoured, sys.path
 * given the working directory and --pythonpath, faulthandler on the error
 * log, then environ_init.  Returns with the GIL held: 0, or -1 with a
 * one-line reason in err.
 */
int wsgi_init(const struct config *cfg, char *err, size_t errlen);

/*
 * wsgi_load_app - import MODULE[:VARIABLE] the way Gunicorn does: VARIABLE
 * defaults to "application"; "factory(args)" calls factory with literal
 * arguments only (ast.literal_eval, never eval); the result must be callable.
 * Needs the GIL.  Returns a new reference, or NULL with a one-line reason in
 * err (the traceback, when the module itself raised, is logged at debug) and
 * the Python exception still set: the caller may look at it (--reload
 * serves a syntax error's traceback), and clears it.
 */
void *wsgi_load_app(const char *uri, char *err, size_t errlen);

/*
 * wsgi_request_init - make r's start_response and write() callables, bound
 * to r (needs the GIL; after wsgi_init).  Returns 0, or -1 with a Python
 * exception set.  wsgi_request_free drops them.
 */
int wsgi_request_init(struct request *r);

/*
 * wsgi_call_app - call app(r->environ, r->start_response) and write the
 * whole response through r->resp (response_init'ed by the caller), the
 * GIL released around every write.  Errors in the app become a 500 (before
 * the head went out) or a logged, cut-short response (after).  Never
 * raises.  The result stays in r->result for wsgi_close_result, which the
 * caller runs after closing the connection.  Needs the GIL.
 */
void wsgi_call_app(void *app, struct request *r);

/*
 * wsgi_answer_error - the request failed before or inside the app, with
 * the Python exception set (the environ could not be built, a pre_request
 * hook raised, the app raised): log it, and answer r->error_status (or 500)
 * if no byte of a response went out yet.  Clears the exception.  Needs the
 * GIL.
 */
void wsgi_answer_error(struct request *r);

/*
 * wsgi_close_result - call the result's close() (PEP 3333: exactly once,
 * on every path) and drop it.  Called after the connection is closed, so
 * the client has its answer while the app cleans up (Flask's teardown runs
 * here).  Needs the GIL.  Safe when there is no result.
 */
void wsgi_close_result(struct request *r);

/*
 * wsgi_request_end - drop every Python reference r holds for this request
 * (closing the result first if that has not happened) and free the
 * response's buffer.  Needs the GIL.  r is then ready for request_reset.
 */
void wsgi_request_end(struct request *r);

/* wsgi_request_free - wsgi_request_end, then drop r's bound callables. */
void wsgi_request_free(struct request *r);

/* wsgi_fini - drop the app and stop the interpreter (needs the GIL). */
void wsgi_fini(void *app);

/* wsgi_fork_prepare / wsgi_fork_parent / wsgi_fork_child - the CPython fork
 * protocol (PyOS_BeforeFork and friends) around a worker's fork, when the
 * master has an interpreter (--preload, or python3 runs it: pyhost.c);
 * nothing when it has none.  Need the GIL when it has one. */
void wsgi_fork_prepare(void);
void wsgi_fork_parent(void);
void wsgi_fork_child(void);

#endif
