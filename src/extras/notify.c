/*
 * notify.c - telling systemd about state changes (an extra).
 *
 * The sd_notify(3) protocol without libsystemd: one AF_UNIX datagram of
 * "KEY=VALUE" lines to the socket named by $NOTIFY_SOCKET, which systemd
 * sets for a Type=notify service.  A name starting with '@' is a Linux
 * abstract socket: the '@' stands for a NUL byte, and the address is as
 * long as the name, with no terminating NUL (unix(7)).  systemd learns the
 * sender's pid from the kernel (SCM_CREDENTIALS), which is how
 * NotifyAccess=main tells the master's messages from a worker's.
 *
 * Gunicorn counterpart: gunicorn/systemd.py sd_notify.  Differences: the
 * variable is taken out of the environment at start, so workers and the
 * app never see it (Gunicorn 20.1 leaves it to them); and a send never
 * blocks (MSG_DONTWAIT), so a stuck reader cannot stall the master.
 * Owns: the saved address.  Does not own: when to say what (arbiter.c
 * says READY, RELOADING, STOPPING through the plugins.h slot `notify`).
 */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

/* Written once by notify_init, in the master before any fork or thread;
 * only read afterwards, so every process and thread may send. */
static struct {
    struct sockaddr_un addr;
    socklen_t len; /* 0: nobody to tell */
    char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
} target;

/* notify_init - see notify.h. */
int notify_init(void)
{
    const char *value = getenv("NOTIFY_SOCKET");
    size_t n;

    if (value == NULL)
        return 0;
    n = strlen(value);
    target.len = 0;
    /* As libsystemd's sd_notify: an absolute path or an abstract name; a
     * path must leave room for its NUL, an abstract name needs none. */
    if ((value[0] != '/' && value[0] != '@') || n < 2 ||
        n + (value[0] == '/') > sizeof(target.addr.sun_path)) {
        log_msg(LOG_WARNING,
                "NOTIFY_SOCKET: '%.200s' is not a socket path or '@' name; "
                "systemd will not be told",
                value);
    } else {
        target.addr.sun_family = AF_UNIX;
        memcpy(target.addr.sun_path, value, n);
        if (value[0] == '@')
            target.addr.sun_path[0] = '\0';
        target.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (value[0] == '/'));
        memcpy(target.name, value, n + 1);
    }
    unsetenv("NOTIFY_SOCKET");
    return target.len != 0;
}

/* notify_socket - see notify.h. */
const char *notify_socket(void)
{
    return target.len != 0 ? target.name : NULL;
}

/* notify_send - see notify.h. */
void notify_send(const char *state)
{
    if (target.len == 0 || state == NULL || state[0] == '\0')
        return;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || sendto(fd, state, strlen(state), MSG_DONTWAIT | MSG_NOSIGNAL,
                         (const struct sockaddr *)&target.addr, target.len) < 0)
        log_msg(LOG_DEBUG, "sd_notify to %s failed: %s", target.name, strerror(errno));
    if (fd >= 0)
        close(fd);
}
