/*
 * conn.h - one client connection, and every socket operation on it.
 *
 * The bottom of the request path (Gunicorn counterpart: the socket calls
 * scattered through gunicorn/workers/sync.py and gunicorn/http/unreader.py).
 * Owns: struct conn (the socket, where it came from, the peer's address as
 * text), waiting for a socket with a deadline, receiving, sending
 * everything (sendmsg, sendfile), and the lingering close.
 * Does not own: any buffer (the request owns its head and body buffers,
 * request.h) or any HTTP rule.  Nothing here calls up into a stage.
 *
 * Waiting is one function, conn_wait: the sync worker polls one socket with
 * a deadline.  An event loop, a TLS session or a cooperative scheduler
 * replaces that one function, not the stages above it.
 */
#ifndef GREENHORN_CONN_H
#define GREENHORN_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct iovec;
struct listener; /* bind.h; a connection only points at the one it came from */

/* One accepted connection.  The worker owns it; requests borrow it. */
struct conn {
    int fd;                          /* the socket, -1 when closed */
    const struct listener *listener; /* where it was accepted (borrowed) */
    int family;                      /* AF_INET, AF_INET6 or AF_UNIX */
    char peer_addr[64];              /* REMOTE_ADDR ("" for unix sockets) */
    char peer_port[8];               /* REMOTE_PORT ("" for unix sockets) */
};

/* conn_now_us, conn_now_ms - CLOCK_MONOTONIC in microseconds or
 * milliseconds: the one clock of every deadline (timeouts), of the
 * heartbeat and of the access log's request time. */
int64_t conn_now_us(void);
int64_t conn_now_ms(void);

/*
 * conn_open - fill c for a socket accept(2) returned: fd, the listener it
 * came from, and the peer's address and port as text (from peer, which
 * accept filled; NULL or AF_UNIX for a unix socket).  No system call.
 */
void conn_open(struct conn *c, int fd, const struct listener *l, int family,
               const struct sockaddr_storage *peer);

/*
 * conn_wait - wait until fd is ready for events (POLLIN, POLLOUT) or
 * timeout_ms passed (< 0: no limit).  The only place that blocks waiting
 * for a socket.  Call without the GIL.  Returns 1 ready, or -1 with errno
 * (ETIMEDOUT when the time ran out).
 */
int conn_wait(int fd, short events, int timeout_ms);

/*
 * conn_recv - receive up to n bytes into dst, waiting at most timeout_ms for
 * the socket to become readable (each wait: an idle timeout).  Call without
 * the GIL.  Returns bytes read, 0 when the peer closed, or -1 with errno
 * (ETIMEDOUT when the wait expired).
 */
ssize_t conn_recv(const struct conn *c, void *dst, size_t n, int timeout_ms);

/*
 * conn_sendv - sendmsg(2) the n pieces of iov on fd with flags |
 * MSG_NOSIGNAL until every byte is out (EINTR and short sends are resumed):
 * the one send-everything loop.  iov is advanced in place; its contents are
 * garbage afterwards.  Returns 0, or -1 with errno (EPIPE: the peer left).
 */
int conn_sendv(int fd, struct iovec *iov, int n, int flags);

/* conn_send_all - conn_sendv of one buffer.  Returns 0, or -1 with errno. */
int conn_send_all(int fd, const void *data, size_t len, int flags);

/*
 * conn_sendfile - sendfile(2) up to n bytes of file_fd from *offset to the
 * socket fd, advancing *offset and adding to *sent as bytes go.  SIGPIPE is
 * held off around it (sendfile has no MSG_NOSIGNAL).  Returns 0 when all n
 * went or the file ended early, or -1 with errno; EINVAL or ENOSYS mean the
 * file cannot be sent this way (copy it instead, from *offset).
 */
int conn_sendfile(int fd, int file_fd, off_t *offset, uint64_t n, uint64_t *sent);

/* The lingering close's bounds (RFC 9112 section 9.6): how long, and how
 * many bytes, a closing connection's unread input is read and discarded. */
#define CONN_DRAIN_MS    2000
#define CONN_DRAIN_BYTES (64 * 1024)

/*
 * conn_discard - read and throw away what has already arrived on c, without
 * waiting, adding the count to *total.  Returns 1 when there is nothing more
 * to wait for (the peer closed, an error, or *total reached
 * CONN_DRAIN_BYTES), 0 when more may come.  An event loop's lingering close:
 * shutdown(SHUT_WR) first, then this on each readable event until 1 or
 * CONN_DRAIN_MS, then close(2).
 */
int conn_discard(const struct conn *c, size_t *total);

/*
 * conn_close - the lingering close (RFC 9112 section 9.6): shutdown(SHUT_WR)
 * first, so the last response bytes leave with our FIN, then, when drain is
 * set (request bytes may still be unread), read and discard what the client
 * still sends, bounded in time and bytes, so that close() does not answer
 * them with a reset that destroys the response.  Then close(2).  Safe on a
 * closed conn.
 */
void conn_close(struct conn *c, bool drain);

#endif
