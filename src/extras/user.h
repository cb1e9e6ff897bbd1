/*
 * user.h - --user and --group: the workers run as another user (an extra;
 * see user.c).
 */
#ifndef GREENHORN_USER_H
#define GREENHORN_USER_H

#include <stddef.h>

#include "bind.h"
#include "config.h"

/*
 * user_drop_privileges - the plugins.h drop_privileges slot: in a worker,
 * before Python starts, switch to cfg->user and cfg->group (the groups
 * first, supplementary groups replaced too).  Nothing to do without them.
 * Returns 0, or -1 with err.
 */
int user_drop_privileges(const struct config *cfg, char *err, size_t errlen);

/*
 * user_give_files - with --user or --group, chown the files the workers
 * must use to that user, as Gunicorn does: with ls == NULL the log files
 * (so a worker can reopen them on USR1), else the unix sockets among the n
 * listeners.  Called right after the files are made.  0, or -1 with err.
 */
int user_give_files(const struct config *cfg, const struct listener *ls, int n, char *err,
                    size_t errlen);

#endif
