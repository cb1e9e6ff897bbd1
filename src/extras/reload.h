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

#endif
