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
#include "worker.h"

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
 * err (the traceback, when the module itself raised, is logged at debug).
 */
void *wsgi_load_app(const char *uri, char *err, size_t errlen);

/* The outcome of one request, for the access log. */
struct wsgi_result {
    int status;         /* status sent (0 if none) */
    int64_t body_bytes; /* body bytes sent */
    char *head;         /* a copy of the status line and the app's headers when the access
                           log names a response header, else NULL; the caller frees it */
    size_t head_len;
};

/*
 * wsgi_handle - call app for the request on c and write the whole response.
 * Needs the GIL.  Errors in the app become a 500 (before the headers went)
 * or a logged, closed connection (after).  Never raises.  The caller closes
 * the connection next, then calls wsgi_end_request.
 */
void wsgi_handle(void *app, struct conn *c, struct wsgi_result *out);

/*
 * wsgi_end_request - call the result's close() (PEP 3333: exactly once, on
 * every path) and drop it.  Called after the connection is closed, so the
 * client has its answer while the app cleans up (Flask's teardown runs
 * here).  Needs the GIL.  Safe to call when nothing is pending.
 */
void wsgi_end_request(void);

/* wsgi_fini - drop the app and stop the interpreter (needs the GIL). */
void wsgi_fini(void *app);

/* wsgi_fork_prepare / wsgi_fork_parent / wsgi_fork_child - the CPython fork
 * protocol (PyOS_BeforeFork and friends) for --preload.  Need the GIL. */
void wsgi_fork_prepare(void);
void wsgi_fork_parent(void);
void wsgi_fork_child(void);

#endif
