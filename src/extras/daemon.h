/*
 * daemon.h - -D/--daemon: run in the background (an extra; see daemon.c).
 */
#ifndef GREENHORN_DAEMON_H
#define GREENHORN_DAEMON_H

#include <stddef.h>

/*
 * daemon_detach - become a daemon, as Gunicorn's util.daemonize does: fork,
 * setsid, fork again, umask 022, standard streams onto /dev/null.  Returns
 * 0 in the daemon; -1 with err when it could not (nothing forked then).
 * The process that called it does not return: it waits until the daemon
 * calls daemon_started, prints the daemon's error line if there is one,
 * and exits with the daemon's status.
 */
int daemon_detach(char *err, size_t errlen);

/*
 * daemon_started - in the daemon: tell the waiting command how the start
 * went, once.  code 0: listening, the pid file written; else the exit
 * status, with line (the error, one line) for the command to print.  Does
 * nothing in a process that did not detach, or once said.
 */
void daemon_started(int code, const char *line);

#endif
