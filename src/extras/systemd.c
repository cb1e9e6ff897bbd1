/*
 * systemd.c - systemd socket activation (an extra).
 *
 * Used by main.c's wiring before stage 2 binds (Gunicorn counterpart:
 * gunicorn/systemd.py listen_fds, and sd_listen_fds(3)).
 * Owns: reading $LISTEN_PID and $LISTEN_FDS, and removing them so that the
 * workers and the app never see them.  Does not own: the sockets, which
 * stage 2 adopts as fd://3 ... like any inherited socket (bind.c).
 */
#include "systemd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* systemd_listen_fds - see systemd.h. */
int systemd_listen_fds(int max, char *err, size_t errlen)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    char *end = NULL;
    long n;

    if (pid == NULL || fds == NULL)
        return 0;
    errno = 0;
    n = strtol(pid, &end, 10);
    if (errno != 0 || end == pid || *end != '\0' || n != (long)getpid())
        return 0; /* meant for another process: leave it alone, as sd_listen_fds does */
    errno = 0;
    n = strtol(fds, &end, 10);
    if (errno != 0 || end == fds || *end != '\0' || n < 1 || n > max) {
        snprintf(err, errlen, "LISTEN_FDS: '%s' is not a number of sockets from 1 to %d", fds, max);
        return -1;
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return (int)n;
}
