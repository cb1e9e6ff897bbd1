/*
 * user.c - --user and --group: the workers run as another user (an extra).
 *
 * Plugs into stage 4 (a worker gives up the master's identity before it
 * starts Python) through plugins.h, and into main.c's wiring (the files the
 * workers must use are given to that user).  Gunicorn counterpart:
 * set_owner_process and chown in gunicorn/util.py, and the chown of the log
 * files and unix sockets in gunicorn/glogging.py and gunicorn/sock.py.
 * Owns: switching identity and handing files over.  Does not own: reading
 * the names (config.c checks them and config_user_ids resolves them).
 */
#include "user.h"

#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * --user / --group: the worker gives up the master's identity before it
 * starts Python or imports the app, as Gunicorn's set_owner_process does.
 * The groups first: once the user has changed, they cannot be.  With
 * --initgroups the supplementary groups become the user's own (initgroups(3),
 * as Gunicorn's set_owner_process does with its initgroups flag; not for a
 * uid that has no name, as there).  Without it they are replaced by the one
 * group: Gunicorn keeps the master's then, so a worker started by root would
 * keep root's groups.
 */
/* user_drop_privileges - see user.h. */
int user_drop_privileges(const struct config *cfg, char *err, size_t errlen)
{
    uid_t uid;
    gid_t gid;
    char name[256];

    if (cfg->user == NULL && cfg->group == NULL)
        return 0;
    if (config_user_ids(cfg, &uid, &gid, name, sizeof name, err, errlen) < 0)
        return -1;
    bool own = cfg->initgroups && name[0] != '\0';
    if (geteuid() == 0 && (own ? initgroups(name, gid) : setgroups(1, &gid)) < 0) {
        snprintf(err, errlen, "cannot set the groups of group %u: %s", (unsigned)gid,
                 strerror(errno));
        return -1;
    }
    if (setgid(gid) < 0 || setuid(uid) < 0) {
        snprintf(err, errlen, "cannot run as user %u, group %u: %s", (unsigned)uid, (unsigned)gid,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * With --user / --group, the files the workers must use are given to that
 * user, as Gunicorn does: the log files (so a worker can reopen them on
 * USR1), right after they are opened, and then, with ls, the unix sockets.
 * Both are called right after the files are made, so relative paths mean
 * what they meant then.
 */
/* user_give_files - see user.h. */
int user_give_files(const struct config *cfg, const struct listener *ls, int n, char *err,
                    size_t errlen)
{
    uid_t uid;
    gid_t gid;
    char name[256];
    const char *logs[] = {cfg->error_logfile, cfg->access_logfile};

    if (cfg->user == NULL && cfg->group == NULL)
        return 0;
    if (config_user_ids(cfg, &uid, &gid, name, sizeof name, err, errlen) < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (ls[i].addr.kind == BIND_UNIX && chown(ls[i].addr.path, uid, gid) < 0) {
            snprintf(err, errlen, "--user: cannot give %s to user %u: %s", ls[i].addr.path,
                     (unsigned)uid, strerror(errno));
            return -1;
        }
    }
    for (size_t i = 0; ls == NULL && i < sizeof logs / sizeof logs[0]; i++) {
        if (logs[i] != NULL && strcmp(logs[i], "-") != 0 && chown(logs[i], uid, gid) < 0) {
            snprintf(err, errlen, "--user: cannot give %s to user %u: %s", logs[i], (unsigned)uid,
                     strerror(errno));
            return -1;
        }
    }
    return 0;
}
