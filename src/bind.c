/*
 * bind.c - stage 2: from "-b" strings to listening sockets.
 *
 * Gunicorn counterpart: gunicorn/sock.py (the sockets) and
 * gunicorn/util.py parse_address (the address grammar).
 * Owns: the grammar of a bind address, creating and configuring the
 * listening socket, and the text forms of a bound address (the URL for logs,
 * SERVER_NAME and SERVER_PORT for requests that carry no Host header).
 * Does not own: accepting connections (worker.c), deciding when to close
 * (arbiter.c), or printing anything: every failure comes back as -1 with a
 * one-line reason in the caller's buffer.
 *
 * The address forms, as Gunicorn spells them:
 *   HOST            port 8000          127.0.0.1, localhost
 *   HOST:PORT                          127.0.0.1:8000
 *   :PORT           all IPv4 addresses
 *   [IPv6]:PORT     brackets required  [::1]:8000, [::]:8000
 *   unix:PATH       unix:/run/app.sock, also unix://PATH
 *   fd://N          a socket already listening, inherited from the parent
 */
#include "bind.h"

#include "ascii.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* The port Gunicorn uses when an address names none. */
#define BIND_DEFAULT_PORT 8000

static int explain(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* explain - write a one-line reason into err and return -1, for `return explain(...)`. */
static int explain(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* parse_port - digits only (no sign, no blanks), 1..65535.  Returns 0 or -1. */
static int parse_port(const char *text, size_t len, uint16_t *port)
{
    unsigned long value = 0;

    if (len == 0 || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!ascii_is_digit((unsigned char)text[i]))
            return -1;
        value = value * 10 + (unsigned long)(text[i] - '0');
    }
    if (value < 1 || value > 65535)
        return -1;
    *port = (uint16_t)value;
    return 0;
}

/*
 * copy_host - copy a host name or IPv4 literal, lower-cased as Gunicorn does.
 * Letters, digits, '-', '.' and '_' only (RFC 1123 names, plus the '_' that
 * container service names use); anything else is a typo, not a host.
 */
static int copy_host(const char *text, size_t len, char *out, size_t outlen)
{
    if (len == 0 || len >= outlen)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (!ascii_is_alpha(c) && !ascii_is_digit(c) && c != '-' && c != '.' && c != '_')
            return -1;
        out[i] = (char)ascii_lower(c);
    }
    out[len] = '\0';
    return 0;
}

/* parse_unix - "unix:PATH" or "unix://PATH"; the path must fit in sun_path with its NUL. */
static int parse_unix(const char *spec, struct bind_addr *out, char *err, size_t errlen)
{
    const char *path = spec + strlen("unix:");

    if (strncmp(path, "//", 2) == 0)
        path += 2;
    if (path[0] == '\0')
        return explain(err, errlen, "no socket path in '%s'", spec);
    if (strlen(path) >= sizeof out->path)
        return explain(err, errlen, "socket path longer than %zu bytes in '%s'",
                       sizeof out->path - 1, spec);
    out->kind = BIND_UNIX;
    strcpy(out->path, path);
    return 0;
}

/* parse_fd - "fd://N" with N a non-negative decimal number. */
static int parse_fd(const char *spec, struct bind_addr *out, char *err, size_t errlen)
{
    const char *digits = spec + strlen("fd://");
    char *end = NULL;
    long value;

    if (!ascii_is_digit((unsigned char)digits[0]))
        return explain(err, errlen, "bad file descriptor '%s' in '%s'", digits, spec);
    errno = 0;
    value = strtol(digits, &end, 10);
    if (*end != '\0' || errno == ERANGE || value > 65535)
        return explain(err, errlen, "bad file descriptor '%s' in '%s'", digits, spec);
    out->kind = BIND_FD;
    out->fd = (int)value;
    return 0;
}

/* parse_ipv6 - "[ADDR]" or "[ADDR]:PORT"; ADDR must be an IPv6 literal. */
static int parse_ipv6(const char *spec, struct bind_addr *out, char *err, size_t errlen)
{
    const char *close = strchr(spec, ']');
    struct in6_addr probe;
    size_t len;

    if (close == NULL)
        return explain(err, errlen, "missing ']' in '%s'", spec);
    len = (size_t)(close - spec - 1);
    if (len == 0 || len >= sizeof out->host)
        return explain(err, errlen, "bad IPv6 address in '%s'", spec);
    memcpy(out->host, spec + 1, len);
    out->host[len] = '\0';
    if (inet_pton(AF_INET6, out->host, &probe) != 1)
        return explain(err, errlen, "bad IPv6 address '%s' in '%s'", out->host, spec);
    if (close[1] == '\0')
        return 0;
    if (close[1] != ':' || parse_port(close + 2, strlen(close + 2), &out->port) < 0)
        return explain(err, errlen, "bad port '%s' in '%s'",
                       close[1] == ':' ? close + 2 : close + 1, spec);
    return 0;
}

/* parse_tcp - "HOST", "HOST:PORT", ":PORT" or a bracketed IPv6 form. */
static int parse_tcp(const char *spec, struct bind_addr *out, char *err, size_t errlen)
{
    const char *colon = strchr(spec, ':');
    size_t host_len = colon != NULL ? (size_t)(colon - spec) : strlen(spec);

    out->kind = BIND_TCP;
    out->port = BIND_DEFAULT_PORT;
    if (spec[0] == '[')
        return parse_ipv6(spec, out, err, errlen);
    /* "::1:8000" is itself a valid IPv6 address: refuse to guess where the port is. */
    if (colon != NULL && strchr(colon + 1, ':') != NULL)
        return explain(err, errlen, "an IPv6 address needs brackets, as in '[::1]:8000', in '%s'",
                       spec);
    if (host_len > 0 && copy_host(spec, host_len, out->host, sizeof out->host) < 0)
        return explain(err, errlen, "bad host '%.*s' in '%s'", (int)host_len, spec, spec);
    if (colon != NULL && parse_port(colon + 1, strlen(colon + 1), &out->port) < 0)
        return explain(err, errlen, "bad port '%s' in '%s'", colon + 1, spec);
    return 0;
}

/*
 * bind_parse - parse one -b value into *out (no system calls, no DNS).
 * Returns 0, or -1 with a one-line reason in err that quotes the spec.
 */
int bind_parse(const char *spec, struct bind_addr *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    if (spec == NULL || spec[0] == '\0')
        return explain(err, errlen, "empty address");
    if (strncmp(spec, "unix:", 5) == 0)
        return parse_unix(spec, out, err, errlen);
    if (strncmp(spec, "fd://", 5) == 0)
        return parse_fd(spec, out, err, errlen);
    /* Gunicorn accepts an explicit tcp:// prefix too. */
    if (strncmp(spec, "tcp://", 6) == 0)
        spec += 6;
    return parse_tcp(spec, out, err, errlen);
}

/* addr_text - the address as a user would write it, for error messages. */
static void addr_text(const struct bind_addr *addr, char *buf, size_t len)
{
    switch (addr->kind) {
    case BIND_TCP:
        if (strchr(addr->host, ':') != NULL)
            snprintf(buf, len, "[%s]:%u", addr->host, (unsigned)addr->port);
        else
            snprintf(buf, len, "%s:%u", addr->host, (unsigned)addr->port);
        return;
    case BIND_UNIX:
        snprintf(buf, len, "unix:%s", addr->path);
        return;
    case BIND_FD:
        snprintf(buf, len, "fd://%d", addr->fd);
        return;
    }
    snprintf(buf, len, "?");
}

/*
 * resolve - the socket address for a TCP bind_addr.  "" is INADDR_ANY.  As in
 * Gunicorn (sock.py _sock_type), a host with ':' is IPv6 and anything else is
 * looked up as IPv4, so "localhost" means 127.0.0.1 whatever order
 * /etc/hosts lists it in.
 */
static int resolve(const struct bind_addr *addr, struct sockaddr_storage *ss, socklen_t *sslen,
                   const char *shown, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    char port[8];
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = strchr(addr->host, ':') != NULL ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof port, "%u", (unsigned)addr->port);
    rc = getaddrinfo(addr->host[0] != '\0' ? addr->host : NULL, port, &hints, &res);
    if (rc != 0)
        return explain(err, errlen, "%s: cannot resolve '%s': %s", shown, addr->host,
                       rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/*
 * describe - fill family, url, server_name and server_port from the socket
 * itself (getsockname), as Gunicorn does: SERVER_NAME is the numeric address
 * the socket is bound to, and an ephemeral port shows as the real one.
 */
static int describe(struct listener *l, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)&ss;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
    const struct sockaddr_un *un = (const struct sockaddr_un *)&ss;
    char host[INET6_ADDRSTRLEN] = "";
    unsigned port = 0;

    memset(&ss, 0, sizeof ss);
    if (getsockname(l->fd, (struct sockaddr *)&ss, &len) < 0)
        return explain(err, errlen, "getsockname: %s", strerror(errno));
    l->family = ss.ss_family;
    switch (ss.ss_family) {
    case AF_INET:
        inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
        port = ntohs(in4->sin_port);
        snprintf(l->url, sizeof l->url, "http://%s:%u", host, port);
        break;
    case AF_INET6:
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(l->url, sizeof l->url, "http://[%s]:%u", host, port);
        break;
    case AF_UNIX:
        /* WSGI has no words for a unix socket; Gunicorn puts the path in SERVER_NAME. */
        /* A path that fills sun_path has no NUL, hence the bound. */
        snprintf(l->url, sizeof l->url, "unix:%.*s", (int)sizeof un->sun_path, un->sun_path);
        snprintf(l->server_name, sizeof l->server_name, "%.*s", (int)sizeof un->sun_path,
                 un->sun_path);
        return 0;
    default:
        return explain(err, errlen, "unsupported address family %d", (int)ss.ss_family);
    }
    snprintf(l->server_name, sizeof l->server_name, "%s", host);
    snprintf(l->server_port, sizeof l->server_port, "%u", port);
    return 0;
}

/* listen_tcp - socket, options, bind, listen for a TCP address. */
static int listen_tcp(const struct bind_addr *addr, int backlog, struct listener *out, char *err,
                      size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    char shown[300];
    int one = 1;
    int fd = -1;

    addr_text(addr, shown, sizeof shown);
    if (resolve(addr, &ss, &sslen, shown, err, errlen) < 0)
        goto fail;
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        explain(err, errlen, "%s: socket: %s", shown, strerror(errno));
        goto fail;
    }
    /*
     * SO_REUSEADDR: a restarted server can bind while old connections sit in
     * TIME_WAIT.  TCP_NODELAY: responses go out at once instead of waiting
     * for an ACK (Nagle); accepted sockets inherit it on Linux.  IPV6_V6ONLY
     * is left at the system default, as Gunicorn leaves it, so on Linux
     * "[::]:8000" also accepts IPv4 clients.
     */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
        explain(err, errlen, "%s: setsockopt: %s", shown, strerror(errno));
        goto fail;
    }
    /* --reuse-port, as Gunicorn's sock.py: other processes (another
     * greenhorn, during a blue-green switch) may bind the same port, and
     * the kernel shares the connections out between their sockets. */
    if (addr->reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        explain(err, errlen, "%s: SO_REUSEPORT: %s", shown, strerror(errno));
        goto fail;
    }
    if (bind(fd, (struct sockaddr *)&ss, sslen) < 0 || listen(fd, backlog) < 0) {
        explain(err, errlen, "%s: %s", shown, strerror(errno));
        goto fail;
    }
    out->fd = fd;
    if (describe(out, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    out->fd = -1;
    return -1;
}

/*
 * unix_path_in_use - is a server accepting on this socket path?  Gunicorn
 * removes any socket file it finds; connecting first means a second server
 * started on the same path fails ("Address already in use") instead of
 * silently stealing the path from the first.  A refused connection is a
 * stale file left by a server that died.
 */
static int unix_path_in_use(const struct sockaddr_un *sun)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int in_use;

    if (fd < 0)
        return 0;
    in_use = connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0 || errno == EAGAIN;
    close(fd);
    return in_use;
}

/* remove_stale - unlink path if it is a socket nobody listens on; refuse other files. */
static int remove_stale(const struct sockaddr_un *sun, const char *shown, char *err, size_t errlen)
{
    struct stat st;

    if (lstat(sun->sun_path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return explain(err, errlen, "%s: %s", shown, strerror(errno));
    }
    if (!S_ISSOCK(st.st_mode))
        return explain(err, errlen, "%s: exists and is not a socket", shown);
    if (unix_path_in_use(sun))
        return explain(err, errlen, "%s: %s", shown, strerror(EADDRINUSE));
    if (unlink(sun->sun_path) < 0)
        return explain(err, errlen, "%s: cannot remove stale socket: %s", shown, strerror(errno));
    return 0;
}

/* listen_unix - remove a stale socket file, then socket, bind, listen. */
static int listen_unix(const struct bind_addr *addr, int backlog, struct listener *out, char *err,
                       size_t errlen)
{
    struct sockaddr_un sun;
    char shown[sizeof addr->path + 8];
    mode_t old_mask;
    int fd = -1;
    int rc = -1;

    addr_text(addr, shown, sizeof shown);
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, addr->path, sizeof sun.sun_path);
    if (remove_stale(&sun, shown, err, errlen) < 0)
        goto fail;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        explain(err, errlen, "%s: socket: %s", shown, strerror(errno));
        goto fail;
    }
    /*
     * Bind under --umask, as Gunicorn does.  Its default, 0, makes the socket
     * file mode 0777, so a front proxy running as another user can connect;
     * --umask 007 keeps it to the owner and group.
     */
    old_mask = umask((mode_t)(addr->umask & 0777));
    rc = bind(fd, (const struct sockaddr *)&sun, sizeof sun);
    umask(old_mask);
    if (rc < 0 || listen(fd, backlog) < 0) {
        explain(err, errlen, "%s: %s", shown, strerror(errno));
        goto fail;
    }
    out->fd = fd;
    if (describe(out, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    if (fd >= 0) {
        close(fd);
        if (rc == 0)
            unlink(addr->path);
    }
    out->fd = -1;
    return -1;
}

/*
 * adopt_fd - take over a socket a parent process (systemd, a supervisor, a
 * test) already bound and set listening.  It must be a listening stream
 * socket: accepting on anything else would fail much later, per request.
 * On failure the fd stays open: it still belongs to whoever passed it.
 */
static int adopt_fd(const struct bind_addr *addr, int backlog, struct listener *out, char *err,
                    size_t errlen)
{
    int fd = addr->fd;
    int accepting = 0, type = 0, one = 1;
    socklen_t len = sizeof accepting;
    char shown[32];

    addr_text(addr, shown, sizeof shown);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) < 0)
        return explain(err, errlen, "%s: %s", shown, strerror(errno));
    len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM || !accepting)
        return explain(err, errlen, "%s: not a listening stream socket", shown);
    /* Listening again only updates the backlog; Gunicorn does the same. */
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 || listen(fd, backlog) < 0)
        return explain(err, errlen, "%s: %s", shown, strerror(errno));
    out->fd = fd;
    if (describe(out, err, errlen) < 0) {
        out->fd = -1;
        return -1;
    }
    /* The same options as a socket of our own (Gunicorn's set_options does this too). */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (out->family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

/*
 * bind_listen - create (or, for fd://, adopt) the listening socket for addr
 * and fill *out.  Returns 0 with out->fd open (the caller owns it; close it
 * with bind_close), or -1 with err such as
 * "127.0.0.1:8000: Address already in use" and out->fd == -1.
 */
int bind_listen(const struct bind_addr *addr, int backlog, struct listener *out, char *err,
                size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    out->addr = *addr;
    switch (addr->kind) {
    case BIND_TCP:
        return listen_tcp(addr, backlog, out, err, errlen);
    case BIND_UNIX:
        return listen_unix(addr, backlog, out, err, errlen);
    case BIND_FD:
        return adopt_fd(addr, backlog, out, err, errlen);
    }
    return explain(err, errlen, "unknown address kind %d", (int)addr->kind);
}

/*
 * bind_close - close l->fd and remove the socket file of a unix address that
 * bind_listen created (an adopted fd:// socket's file is not ours to remove).
 * Call it only in the process that bound: a worker that unlinked the path
 * would take it away from its siblings.  Does nothing when l->fd is -1 (a
 * listener that failed, or one already closed), so it is safe to call twice.
 */
void bind_close(struct listener *l)
{
    if (l->fd < 0)
        return;
    close(l->fd);
    l->fd = -1;
    if (l->addr.kind == BIND_UNIX)
        unlink(l->addr.path);
}

/*
 * bind_release - close l->fd but leave a unix socket's file: another
 * process (the other master of a binary upgrade) still accepts on the same
 * socket.  Safe to call twice, as bind_close.
 */
void bind_release(struct listener *l)
{
    if (l->fd < 0)
        return;
    close(l->fd);
    l->fd = -1;
}

/*
 * bind_close_door - stop new TCP connections from entering l's accept
 * queue, keep the ones already in it.  Only the last close(2) of a
 * listening socket ends it, and that resets every connection still queued
 * (Gunicorn issue #3397: the queued requests of a stopping server get 502
 * from nginx).  The kernel has no call that refuses new SYNs while keeping
 * the queue, so a socket filter drops them: a SYN without ACK never reaches
 * the listener, the client retries it (RFC 6298: after 1 s, then 3, 7 ...)
 * and, once the last descriptor is closed, gets a RST: refused at connect,
 * before it sent anything.  Handshakes already answered (their ACK) and
 * every packet of an accepted connection pass (accepted sockets inherit
 * the filter).  At the filter, skb->data is the TCP header, so byte 13 is
 * the flags.  unix sockets: bind_close removes the path, which does the
 * same for connect(2) by path.  Returns 0, or -1 (errno) if the filter
 * could not be attached: the queue then ends with the last close.
 */
int bind_close_door(const struct listener *l)
{
    if (l->fd < 0 || (l->family != AF_INET && l->family != AF_INET6))
        return 0;
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),          /* the TCP flags */
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),       /* SYN | ACK */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1), /* SYN alone? */
        BPF_STMT(BPF_RET | BPF_K, 0),                    /* drop it */
        BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),          /* keep the rest */
    };
    struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
    return setsockopt(l->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

/* bind_open_door - see bind.h. */
void bind_open_door(const struct listener *l)
{
    int unused = 0;
    if (l->fd >= 0 && (l->family == AF_INET || l->family == AF_INET6))
        setsockopt(l->fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused);
}
