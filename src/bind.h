/*
 * bind.h - turning bind addresses into listening sockets.
 *
 * Stage 2, bind (Gunicorn counterpart: gunicorn/sock.py, gunicorn/systemd.py).
 * Owns: parsing "HOST", "HOST:PORT", "[IPv6]:PORT", ":PORT", "unix:PATH",
 * "fd://N"; creating, binding and listening; the text form used in logs.
 * Does not own: accepting (worker.c) or closing at exit (arbiter.c).
 */
#ifndef GREENHORN_BIND_H
#define GREENHORN_BIND_H

#include <stddef.h>
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
};

/* A bound, listening socket, as the workers use it. */
struct listener {
    int fd;                /* non-blocking, close-on-exec, listening */
    struct bind_addr addr; /* what it was bound from */
    int family;            /* AF_INET, AF_INET6 or AF_UNIX */
    char server_name[256]; /* SERVER_NAME when the request has no Host */
    char server_port[8];   /* SERVER_PORT likewise ("" for unix sockets) */
    char url[300];         /* "http://127.0.0.1:8000" or "unix:/tmp/x.sock", for logs */
};

/*
 * bind_parse - parse one -b value.  Returns 0, or -1 with a one-line reason in
 * err such as "bad port '99999' in '127.0.0.1:99999'".
 */
int bind_parse(const char *spec, struct bind_addr *out, char *err, size_t errlen);

/*
 * bind_listen - create the socket for addr (resolving a host name with
 * getaddrinfo), set SO_REUSEADDR and TCP_NODELAY (inherited by accepted
 * sockets on Linux), bind, listen(backlog), make it non-blocking and
 * close-on-exec, and fill *out.  A unix path that exists as a stale socket is
 * unlinked first.  No retries: an address in use fails at once.
 * Returns 0, or -1 with err such as "127.0.0.1:8000: Address already in use".
 */
int bind_listen(const struct bind_addr *addr, int backlog, struct listener *out, char *err,
                size_t errlen);

/* bind_close - close the socket and unlink a unix socket path we created. */
void bind_close(struct listener *l);

#endif
