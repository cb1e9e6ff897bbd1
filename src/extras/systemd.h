/*
 * systemd.h - systemd socket activation (an extra; see systemd.c).
 */
#ifndef GREENHORN_SYSTEMD_H
#define GREENHORN_SYSTEMD_H

#include <stddef.h>

/* The first socket systemd passes (SD_LISTEN_FDS_START in sd-daemon.h). */
#define SYSTEMD_FIRST_FD 3

/*
 * systemd_listen_fds - systemd socket activation (sd_listen_fds(3);
 * Gunicorn's systemd.listen_fds).  When $LISTEN_PID is this process and
 * $LISTEN_FDS is N, systemd has passed N listening sockets as fds 3 ..
 * 3+N-1, and they replace every --bind.  Both variables are then removed,
 * so the workers and the app never see them.  Returns N; 0 when this
 * process was not socket-activated (no variables, or they name another
 * process); -1 with err when $LISTEN_FDS is not a number from 1 to max.
 */
int systemd_listen_fds(int max, char *err, size_t errlen);

#endif
