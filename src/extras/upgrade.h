/*
 * upgrade.h - the binary upgrade on USR2 (an extra; see upgrade.c).
 *
 * Plugs into stage 3, fork, through plugins.h (Gunicorn counterpart:
 * Arbiter.reexec, maybe_promote_master and the GUNICORN_FD / GUNICORN_PID
 * handling of gunicorn/arbiter.py, and create_sockets in gunicorn/sock.py).
 */
#ifndef GREENHORN_UPGRADE_H
#define GREENHORN_UPGRADE_H

#include <stddef.h>
#include <sys/types.h>

#include "bind.h"

/*
 * upgrade_remember - the first thing main() does: keep what a new master
 * is started with, as Gunicorn's START_CTX and env_orig keep it: argv as
 * given (argv[0] is looked up again at USR2, so a binary replaced at that
 * path is the one that runs), the working directory, and a copy of the
 * environment before anything (-e, socket activation, sd_notify) changes
 * it.  Also reads $GUNICORN_PID: this process is the new master of an
 * upgrade.  Returns 0, or -1 when memory runs out.
 */
int upgrade_remember(int argc, char **argv);

/*
 * upgrade_inherited_fds - Gunicorn's GUNICORN_FD: "3,4", the listening
 * sockets the old master (or a Gunicorn-aware supervisor) passed; they
 * replace every --bind, as in Gunicorn.  The variable is removed, so the
 * workers and the app never see it.  Fills fds; returns how many (0 when
 * the variable is not set), or -1 with err when it is not a comma-separated
 * list of 1 to max descriptor numbers.
 */
int upgrade_inherited_fds(int *fds, int max, char *err, size_t errlen);

/*
 * upgrade_own_sockets - in the new master of an upgrade: the unix sockets
 * it adopted from GUNICORN_FD become its own, as they were the old
 * master's, so that the last master to stop removes their files (Gunicorn's
 * stop() unlinks any unix listener once no other master shares it).
 */
void upgrade_own_sockets(struct listener *listeners, int n);

/*
 * upgrade_pidfile - the pid file this master writes: path, or "path.2"
 * while it is the new master of an upgrade and the old one lives (the
 * old one still holds path).  The string stays valid until exit.
 */
const char *upgrade_pidfile(const char *path);

/* upgrade_old_master - the old master's pid while this process is the new
 * master of an upgrade, else 0 (plugins.h). */
pid_t upgrade_old_master(void);

/*
 * upgrade_promoted - the old master is gone: this one is the master now.
 * Moves "PIDFILE.2" to PIDFILE and forgets $GUNICORN_PID, so a later USR2
 * can upgrade again (plugins.h).
 */
void upgrade_promoted(void);

/*
 * upgrade_exec - USR2: fork, and in the child clear close-on-exec on the
 * listeners, set GUNICORN_FD and GUNICORN_PID, go back to the directory
 * greenhorn was started in, and exec argv[0] with the original arguments
 * and environment.  Returns the child's pid, or -1 with a line logged
 * (plugins.h).
 */
pid_t upgrade_exec(const struct listener *listeners, size_t n);

#endif
