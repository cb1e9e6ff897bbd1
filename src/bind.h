/*
 * bind.h - turning bind addresses into listening sockets.
 *
 * Stage 2, bind (Gunicorn counterpart: gunicorn/sock.py, gunicorn/systemd.py).
 * Owns: parsing "HOST", "HOST:PORT", "[IPv6]:PORT", ":PORT", "unix:PATH",
 * "unix://PATH", "fd://N" (and Gunicorn's "tcp://" prefix); creating,
 * binding and listening; the text form used in logs.
 * Does not own: accepting (worker.c) or closing at exit (arbiter.c).
 */
#ifndef GREENHORN_BIND_H
#define GREENHORN_BIND_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

enum bind_kind { BIND_TCP, BIND_UNIX, BIND_FD };

/* A parsed address; no socket yet. */
struct bind_addr {
    enum bind_kind kind;
    char host[256]; /* BIND_TCP: a name or a literal, without brackets; "" = all (0.0.0.0) */
    uint16_t port;  /* BIND_TCP: 1..65535 (8000 when the spec names none) */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* BIND_UNIX */
    int fd;                                                 /* BIND_FD */
    unsigned umask;  /* BIND_UNIX: the umask the socket file is created under (--umask; 0) */
    bool reuse_port; /* BIND_TCP: SO_REUSEPORT (--reuse-port; false) */
};

/* A bound, listening socket, as the workers use it. */
struct listener {
    int fd;                /* non-blocking, close-on-exec, listening */
    struct bind_addr addr; /* what it was bound from */
    int family;            /* AF_INET, AF_INET6 or AF_UNIX */
    char server_name[256]; /* SERVER_NAME when the request has no Host */
    char server_port[8];   /* SERVER_PORT likewise ("" for unix sockets) */
    char url[300];         /* "http://127.0.0.1:8000" or "unix:/run/app.sock", for logs */
};

/*
 * bind_parse - parse one -b value into *out: no system calls, no DNS, so
 * config can check every address before anything starts.  A host name is
 * kept lower-cased, as Gunicorn does; an IPv6 address needs brackets.
 * Returns 0, or -1 with a one-line reason in err such as
 * "bad port '99999' in '127.0.0.1:99999'".
 */
int bind_parse(const char *spec, struct bind_addr *out, char *err, size_t errlen);

/*
 * bind_listen - create the socket for addr (resolving a host name with
 * getaddrinfo, IPv4 as Gunicorn does), set SO_REUSEADDR and TCP_NODELAY
 * (inherited by accepted sockets on Linux), bind, listen(backlog), make it
 * non-blocking and close-on-exec, and fill *out; url, server_name and
 * server_port come from getsockname, so port 0 shows the port chosen.
 * unix: a socket file nobody accepts on is removed first (a live one is "in
 * use"; any other file is refused); the socket is bound under addr->umask
 * (Gunicorn's --umask, 0 by default).  fd://N: N must already be a listening stream
 * socket; it is adopted (left open on failure).  No retries: an address in
 * use fails at once.  Returns 0 (the caller owns out->fd), or -1 with
 * out->fd == -1 and err such as "127.0.0.1:8000: Address already in use".
 */
int bind_listen(const struct bind_addr *addr, int backlog, struct listener *out, char *err,
                size_t errlen);

/*
 * bind_close - close the socket and unlink a unix socket path bind_listen
 * created.  Only in the process that bound it (a worker must not remove the
 * path); does nothing once closed or if bind_listen failed.
 */
void bind_close(struct listener *l);

/*
 * bind_release - close l->fd without removing a unix socket's file: for a
 * master whose sockets another master (a binary upgrade's) still serves.
 */
void bind_release(struct listener *l);

/*
 * bind_close_door - on a graceful stop (TERM), before the listeners close:
 * new TCP connections are no longer let into l's accept queue (their SYN
 * is dropped, so they are refused once the socket is gone), while the ones
 * already queued stay for the workers to accept and serve.  A unix socket's
 * door is its path, which bind_close removes.  Returns 0, or -1 (errno).
 */
int bind_close_door(const struct listener *l);

/*
 * bind_open_door - undo bind_close_door, once the workers are gone and
 * before the master closes its copy: a socket others hold too (systemd's,
 * an inherited fd://) must take connections again for them.
 */
void bind_open_door(const struct listener *l);

#endif
