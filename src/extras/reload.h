/*
 * reload.h - --reload and --reload-extra-file: a worker restarts when a
 * source file of its app changes (an extra, for development; see reload.c).
 */
#ifndef GREENHORN_RELOAD_H
#define GREENHORN_RELOAD_H

#include "config.h"
#include "plugins.h"

/*
 * reload_worker_watch - the plugins.h worker_watch slot, with the GIL.
 * WORKER_POST_FORK (before the app is imported): no more bytecode caches
 * are written.  WORKER_POST_INIT (the app is imported): watch the files of
 * every module in sys.modules and cfg's extra files; when one changes, the
 * worker logs "Worker reloading: PATH modified" and stops gracefully (the
 * master starts a new one, which imports the new code).  A watch that cannot
 * be set up is logged, and the worker serves on without it.
 */
void reload_worker_watch(enum worker_event ev, const struct config *cfg);

/*
 * reload_app_failed - the plugins.h app_failed slot, with the GIL and the
 * import's exception set.  A SyntaxError (an edit half done: Gunicorn's
 * load_wsgi takes only those) is logged with its traceback at error level,
 * its file and the files of its traceback are watched, and the app returned
 * answers every request "500 Internal Server Error" with the traceback as
 * text/plain (Gunicorn's make_fail_app; Gunicorn's shows only the frames,
 * this one the error's line and message too).  Any other exception, or no
 * file that could be watched for the fix: NULL, the worker fails to boot as
 * without --reload.
 */
void *reload_app_failed(const struct config *cfg, const char *why);

#endif
