/*
 * notify.h - telling systemd about state changes, sd_notify(3) (an extra;
 * see notify.c).
 */
#ifndef GREENHORN_NOTIFY_H
#define GREENHORN_NOTIFY_H

/*
 * notify_init - take $NOTIFY_SOCKET out of the environment and keep it for
 * notify_send.  Call it in the master before anything starts Python or
 * forks (--preload, the hook process, the workers): none of them inherits
 * the variable, so an app that calls sd_notify itself cannot tell systemd
 * "READY=1" or "STOPPING=1" for the whole service.  Returns 1 when there
 * is a socket to tell, 0 when there is none (no variable, or a name that
 * is not an absolute path or '@' abstract name; the latter is logged).
 */
int notify_init(void);

/*
 * notify_send - send state, one or more "KEY=VALUE" lines ("READY=1\n
 * STATUS=..."), as one datagram to the socket notify_init kept.  Safe in
 * any process that inherited that (the master, a worker, a re-executed
 * master's parent) and from any thread: it only reads what notify_init
 * wrote, and opens and closes its own socket.  Never blocks; a failure is
 * logged at debug level (as Gunicorn does) and otherwise ignored, because
 * systemd's absence must not stop the server.  Fills the plugins.h slot
 * `notify`.
 */
void notify_send(const char *state);

/*
 * notify_socket - the $NOTIFY_SOCKET notify_init took, or NULL: for a
 * process that execs a new master (the binary upgrade), which must hand
 * the variable on so that the new master can tell systemd its pid.
 */
const char *notify_socket(void);

#endif
