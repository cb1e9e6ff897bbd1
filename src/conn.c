/*
 * conn.c - one client connection, and every socket operation on it.
 *
 * The bottom of the request path (Gunicorn counterpart: the socket calls in
 * gunicorn/workers/sync.py, gunicorn/http/unreader.py and Response.sendfile
 * in gunicorn/http/wsgi.py).
 * Owns: waiting with a deadline (conn_wait, the one place that blocks on a
 * socket), receiving, the send-everything loops (sendmsg and sendfile), the
 * peer's address as text, and the lingering close.
 * Does not own: buffers, HTTP, Python, or any decision about what to send:
 * the stages above decide, this file moves bytes.  It includes no stage's
 * header.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Linux moves under 2 GiB per sendfile call anyway. */
#define SENDFILE_MAX (1024 * 1024 * 1024)

int64_t conn_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t conn_now_ms(void)
{
    return conn_now_us() / 1000;
}

/* ---- the peer, as text ------------------------------------------------- */

/* n in decimal at dst, no NUL; returns the digits written (at most 10). */
static size_t put_decimal(char *dst, unsigned n)
{
    char rev[10];
    size_t len = 0;
    do {
        rev[len++] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    for (size_t i = 0; i < len; i++)
        dst[i] = rev[len - 1 - i];
    return len;
}

/*
 * REMOTE_ADDR and REMOTE_PORT as text, once per connection.  An IPv4
 * address and a port are written digit by digit: glibc's inet_ntop and
 * snprintf("%u") go through its printf machinery, which cost about 2,400
 * instructions a request here, an eighth of the worker's whole per-request
 * work (make bench-callgrind).  IPv6 addresses, with their "::" rules, are
 * left to inet_ntop.
 */
void conn_open(struct conn *c, int fd, const struct listener *l, int family,
               const struct sockaddr_storage *peer)
{
    unsigned port = 0;
    c->fd = fd;
    c->listener = l;
    c->family = family;
    c->peer_addr[0] = c->peer_port[0] = '\0';
    if (family == AF_UNIX || peer == NULL) {
        c->family = AF_UNIX; /* an unnamed client socket may report no address */
        return;
    }
    if (peer->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)peer;
        const unsigned char *b = (const unsigned char *)&in->sin_addr; /* network order */
        size_t n = 0;
        for (int i = 0; i < 4; i++) {
            n += put_decimal(c->peer_addr + n, b[i]); /* at most 15 bytes: "255.255.255.255" */
            c->peer_addr[n++] = i < 3 ? '.' : '\0';
        }
        port = ntohs(in->sin_port);
    } else if (peer->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)peer;
        inet_ntop(AF_INET6, &in6->sin6_addr, c->peer_addr, sizeof(c->peer_addr));
        port = ntohs(in6->sin6_port);
    } else {
        return;
    }
    c->peer_port[put_decimal(c->peer_port, port)] = '\0'; /* at most 5 digits */
}

/* ---- waiting and receiving --------------------------------------------- */

int conn_wait(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    int64_t deadline = timeout_ms >= 0 ? conn_now_ms() + timeout_ms : -1;
    for (;;) {
        int left = -1;
        if (deadline >= 0) {
            int64_t l = deadline - conn_now_ms();
            left = l > 0 ? (int)l : 0;
        }
        int n = poll(&p, 1, left);
        if (n > 0)
            return 1; /* ready, or an error/hang-up the next call will report */
        if (n == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (errno != EINTR)
            return -1;
    }
}

ssize_t conn_recv(const struct conn *c, void *dst, size_t n, int timeout_ms)
{
    for (;;) {
        /* Try first: after accept the request is usually already here, so
         * the common case costs one system call, not a poll and a recv. */
        ssize_t r = recv(c->fd, dst, n, MSG_DONTWAIT);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        if (conn_wait(c->fd, POLLIN, timeout_ms) < 0)
            return -1;
    }
}

/* ---- sending ----------------------------------------------------------- */

/* Drop the first sent bytes of msg's iovecs, after a partial sendmsg. */
static void iov_advance(struct msghdr *msg, size_t sent)
{
    while (msg->msg_iovlen > 0 && sent >= msg->msg_iov->iov_len) {
        sent -= msg->msg_iov->iov_len;
        msg->msg_iov++;
        msg->msg_iovlen--;
    }
    if (sent > 0) {
        msg->msg_iov->iov_base = (char *)msg->msg_iov->iov_base + sent;
        msg->msg_iov->iov_len -= sent;
    }
}

/*
 * MSG_NOSIGNAL: a peer that went away gives EPIPE instead of a SIGPIPE whose
 * default action kills the worker.  A signal or a full socket buffer may
 * cut a send short; we resume where it stopped.
 */
int conn_sendv(int fd, struct iovec *iov, int n, int flags)
{
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = (size_t)n;
    while (msg.msg_iovlen > 0) {
        ssize_t sent = sendmsg(fd, &msg, flags | MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent < 0)
            return -1;
        iov_advance(&msg, (size_t)sent);
    }
    return 0;
}

int conn_send_all(int fd, const void *data, size_t len, int flags)
{
    struct iovec iov = {.iov_base = (void *)(uintptr_t)data, .iov_len = len};
    return conn_sendv(fd, &iov, 1, flags);
}

/*
 * sendfile(2) has no MSG_NOSIGNAL, so SIGPIPE is blocked around it and a
 * SIGPIPE it raised is taken off the pending set before the mask returns.
 * One already pending before we started belongs to someone else: left alone.
 */
struct sigpipe_guard {
    sigset_t saved;
    bool was_pending;
};

static void sigpipe_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGPIPE);
}

static int sigpipe_hold(struct sigpipe_guard *g)
{
    sigset_t pipe_set;
    sigset_t pending;
    sigpipe_set(&pipe_set);
    if (sigpending(&pending) < 0)
        return -1;
    g->was_pending = sigismember(&pending, SIGPIPE) == 1;
    int err = pthread_sigmask(SIG_BLOCK, &pipe_set, &g->saved);
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}

static void sigpipe_release(const struct sigpipe_guard *g, bool raised)
{
    int saved_errno = errno;
    sigset_t pipe_set;
    sigpipe_set(&pipe_set);
    if (raised && !g->was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            continue;
    }
    pthread_sigmask(SIG_SETMASK, &g->saved, NULL);
    errno = saved_errno;
}

/* The zero-copy path: the kernel moves file pages straight to the socket. */
int conn_sendfile(int fd, int file_fd, off_t *offset, uint64_t n, uint64_t *sent)
{
    struct sigpipe_guard guard;
    ssize_t got = 0;
    if (sigpipe_hold(&guard) < 0)
        return -1;
    while (n > 0) {
        size_t want = n < SENDFILE_MAX ? (size_t)n : SENDFILE_MAX;
        got = sendfile(fd, file_fd, offset, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break; /* 0: the file ended early; the caller reports a short body */
        *sent += (uint64_t)got;
        n -= (uint64_t)got;
    }
    sigpipe_release(&guard, got < 0 && errno == EPIPE);
    return got < 0 ? -1 : 0;
}

/* ---- closing ----------------------------------------------------------- */

int conn_discard(const struct conn *c, size_t *total)
{
    char sink[4096];
    while (*total < CONN_DRAIN_BYTES) {
        ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0)
            return 1;
        *total += (size_t)n;
    }
    return 1;
}

/*
 * Close in two steps.  shutdown(SHUT_WR) first: it sends whatever response
 * bytes the kernel still holds (the last ones were sent with MSG_MORE to
 * share this packet) together with our FIN.  Only then close(): if request
 * bytes are still unread at that moment, the kernel answers them with RST
 * and throws away anything not yet sent, which is why nothing may be left
 * unsent by then (RFC 9112 section 9.6, "Tear-down").  When bytes may be
 * unread (an unread body, pipelined requests), what the client still sends
 * is read and discarded first, bounded in time and bytes, so the RST never
 * races the answer.
 */
void conn_close(struct conn *c, bool drain)
{
    if (c->fd < 0)
        return;
    if (shutdown(c->fd, SHUT_WR) == 0 && drain) {
        char sink[4096];
        size_t total = 0;
        int64_t deadline = conn_now_ms() + CONN_DRAIN_MS;
        while (total < CONN_DRAIN_BYTES) {
            int64_t left = deadline - conn_now_ms();
            ssize_t n = left > 0 ? conn_recv(c, sink, sizeof(sink), (int)left) : -1;
            if (n <= 0)
                break;
            total += (size_t)n;
        }
    }
    close(c->fd);
    c->fd = -1;
}
