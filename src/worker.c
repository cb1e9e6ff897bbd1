/*
 * worker.c - the sync worker: accept a connection, serve one request, close.
 *
 * Stage 4, accept (Gunicorn counterpart: gunicorn/workers/sync.py and
 * gunicorn/workers/base.py).
 * Owns: a worker's life after fork: its signals, starting Python, importing
 * the app, the accept loop, the heartbeat, reading the request head (with
 * the header timeout), and closing connections cleanly.
 * Does not own: parsing (http.c), the environ (environ.c), the app call
 * (wsgi.c), or the response bytes (response.c).
 *
 * One request per connection, as Gunicorn's sync worker: it answers with
 * "Connection: close", so a slow client can hold a worker only for one
 * request, and the time it may take is bounded by --header-timeout and
 * --body-timeout.
 */
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "environ.h"
#include "hooks.h"
#include "input.h"
#include "log.h"
#include "response.h"
#include "signals.h"
#include "wsgi.h"

/* Cleanly closing after an error: how long and how much to drain. */
#define DRAIN_MS    2000
#define DRAIN_BYTES (64 * 1024)
#define BUF_INITIAL (16 * 1024)

/* Everything one worker keeps between requests. */
struct worker {
    const struct worker_ctx *ctx;
    const struct config *cfg;
    void *app;                   /* the WSGI callable (a PyObject *) */
    PyThreadState *tstate;       /* saved while the loop runs without the GIL */
    struct conn conn;            /* reused for every connection */
    struct http_options opts;    /* parser limits, built once */
    struct http_header *headers; /* capacity opts.limit_request_fields */
    size_t max_head;             /* the largest request head we will buffer */
    int epfd;
    bool alive;
    bool booted;           /* the app is loaded and post_worker_init ran */
    int64_t last_check;    /* when the master was last looked for */
    long long served;      /* requests handed to the app so far */
    long long serve_limit; /* --max-requests plus this worker's jitter; 0 = no limit */
};

int64_t worker_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- connection I/O ---------------------------------------------------- */

ssize_t conn_recv(struct conn *c, void *dst, size_t n, int timeout_ms)
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
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int pr = poll(&p, 1, timeout_ms);
        if (pr == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (pr < 0 && errno != EINTR)
            return -1;
    }
}

int conn_send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int conn_reserve(struct conn *c, size_t room)
{
    if (c->cap - c->len >= room)
        return 0;
    size_t cap = c->cap ? c->cap : BUF_INITIAL;
    while (cap - c->len < room)
        cap *= 2;
    char *buf = realloc(c->buf, cap);
    if (buf == NULL) {
        errno = ENOMEM;
        return -1;
    }
    c->buf = buf;
    c->cap = cap;
    return 0;
}

/*
 * Close the connection, in two steps.  shutdown(SHUT_WR) first: it sends
 * whatever response bytes the kernel still holds (the last ones were sent
 * with MSG_MORE to share this packet) together with our FIN.  Only then
 * close(): if request bytes are still unread at that moment, the kernel
 * answers them with RST and throws away anything not yet sent, which is
 * why nothing may be left unsent by then (RFC 9112 section 9.6,
 * "Tear-down").  When we know bytes are unread (an unread body, pipelined
 * requests), we also read and discard what the client still sends, bounded
 * in time and bytes, so the RST never races the answer.
 */
static void conn_close(struct conn *c, bool drain)
{
    if (shutdown(c->fd, SHUT_WR) == 0 && drain) {
        char sink[4096];
        size_t total = 0;
        int64_t deadline = worker_now_ms() + DRAIN_MS;
        while (total < DRAIN_BYTES) {
            int64_t left = deadline - worker_now_ms();
            ssize_t n = left > 0 ? conn_recv(c, sink, sizeof(sink), (int)left) : -1;
            if (n <= 0)
                break;
            total += (size_t)n;
        }
    }
    close(c->fd);
    c->fd = -1;
}

/* ---- reading the request head ------------------------------------------ */

/* Parse a PROXY protocol header at the start of buf, if configured; remove
 * it from the buffer.  Returns 1 done, 0 need more, or an HTTP status. */
static int take_proxy_header(struct worker *w, struct conn *c)
{
    int status = 400;
    const char *why = NULL;
    int mode = (int)w->cfg->proxy_protocol; /* V1 = 1, V2 = 2, AUTO = 3 */
    int r = http_parse_proxy(c->buf, c->len, mode, &c->proxy, &status, &why);
    if (r == HTTP_NEED_MORE)
        return 0;
    if (r == HTTP_ERROR) {
        log_msg(LOG_DEBUG, "Invalid PROXY header from %s: %s", c->peer_addr, why ? why : "");
        return status;
    }
    memmove(c->buf, c->buf + r, c->len - (size_t)r);
    c->len -= (size_t)r;
    return 1;
}

/*
 * Should the parser run again?  It parses the whole head from the start, so
 * running it after every read would let a client that sends a large head a
 * few bytes at a time make us do work quadratic in its size.  Small heads
 * are parsed every time (cheap, and a bad request line is refused at once);
 * larger ones when the new bytes could end the head (a blank line) or the
 * buffer grew by an eighth since the last parse, which keeps the total
 * parsing work linear while limits are still caught early.
 */
static bool worth_parsing(const struct conn *c, size_t parsed_len)
{
    if (c->len <= 4096 || parsed_len > c->len || c->len >= parsed_len + parsed_len / 8)
        return true;
    size_t from = parsed_len >= 3 ? parsed_len - 3 : 0;
    const char *p = c->buf + from, *end = c->buf + c->len;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL && ++p < end)
        if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
            return true;
    return false;
}

/*
 * May this client send proxy headers (X-Forwarded-*, or a PROXY header)?
 * A TCP client if its address is in list; a client on a unix socket always,
 * as in Gunicorn: it has no address to check, it is on this machine, and
 * the socket file's permissions already decide who may connect (a proxy
 * such as nginx in front, usually).
 */
static bool peer_allowed(const struct conn *c, const struct config_list *list)
{
    return c->listener->family == AF_UNIX || config_addr_allowed(list, c->peer_addr);
}

/*
 * Read until the request head is complete.  Returns 1 when c->req is
 * parsed, 0 when the client left without a request (close quietly), or the
 * HTTP status to answer with (400, 408, 414, 431, ...).
 */
static int read_head(struct worker *w, struct conn *c)
{
    size_t parsed_len = 0; /* c->len when the parser last ran */
    int64_t deadline = worker_now_ms() + (int64_t)w->cfg->header_timeout * 1000;
    bool want_proxy =
        w->cfg->proxy_protocol != CONFIG_PROXY_OFF && peer_allowed(c, &w->cfg->proxy_allow_ips);
    for (;;) {
        if (c->len >= w->max_head)
            return 431;
        if (conn_reserve(c, 4096) < 0)
            return 500;
        size_t room = c->cap - c->len;
        if (room > w->max_head - c->len)
            room = w->max_head - c->len;
        int64_t left = deadline - worker_now_ms();
        ssize_t n = left > 0 ? conn_recv(c, c->buf + c->len, room, (int)left) : -1;
        if (left <= 0)
            errno = ETIMEDOUT;
        if (n == 0)
            return 0; /* closed: before a request, or mid-head (Gunicorn: NoMoreData) */
        if (n < 0)
            return errno == ETIMEDOUT ? 408 : 0;
        c->len += (size_t)n;

        if (want_proxy) {
            int p = take_proxy_header(w, c);
            if (p == 0)
                continue;
            if (p != 1)
                return p;
            want_proxy = false;
        }
        if (!worth_parsing(c, parsed_len))
            continue;
        parsed_len = c->len;
        int r = http_parse_request(c->buf, c->len, &w->opts, &c->req);
        if (r > 0) {
            c->head_len = (size_t)r;
            return 1;
        }
        if (r == HTTP_ERROR)
            return c->req.status;
    }
}

/* Remember where the request line, Referer and User-Agent are, as offsets
 * (the buffer may move while the body is read). */
static void note_log_fields(struct conn *c)
{
    const struct http_request *r = &c->req;
    c->line_off = (size_t)(r->method - c->buf);
    const char *end = memchr(r->method, '\n', c->head_len - c->line_off);
    c->line_len = end ? (size_t)(end - r->method) : 0;
    if (c->line_len > 0 && r->method[c->line_len - 1] == '\r')
        c->line_len--;
    c->referer_len = c->agent_len = 0;
    for (size_t i = 0; i < r->num_headers; i++) {
        const struct http_header *h = &r->headers[i];
        if (h->name_len == 7 && strncasecmp(h->name, "Referer", 7) == 0) {
            c->referer_off = (size_t)(h->value - c->buf);
            c->referer_len = h->value_len;
        } else if (h->name_len == 10 && strncasecmp(h->name, "User-Agent", 10) == 0) {
            c->agent_off = (size_t)(h->value - c->buf);
            c->agent_len = h->value_len;
        }
    }
}

static void log_request(const struct conn *c, const struct wsgi_result *res)
{
    if (!log_access_enabled())
        return;
    struct log_access_entry e = {
        .remote_addr = c->proxy.present ? c->proxy.src_addr : c->peer_addr,
        .request_line = c->buf + c->line_off,
        .request_line_len = c->line_len,
        .status = res->status,
        .body_bytes = res->body_bytes,
        .referer = c->referer_len ? c->buf + c->referer_off : NULL,
        .referer_len = c->referer_len,
        .user_agent = c->agent_len ? c->buf + c->agent_off : NULL,
        .user_agent_len = c->agent_len,
        .method = c->req.method,
        .method_len = c->req.method_len,
        .path = c->req.path,
        .path_len = c->req.path_len,
        .query = c->req.query,
        .query_len = c->req.query_len,
        .version_major = c->req.version_major,
        .version_minor = c->req.version_minor,
        .duration_us = now_us() - c->started_us,
        .headers = c->req.headers,
        .num_headers = c->req.num_headers,
        .response_head = res->head,
        .response_head_len = res->head_len,
    };
    log_access(&e);
}

/* ---- serving one connection -------------------------------------------- */

/* Write n in decimal at dst (no NUL); returns the number of digits. */
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
static void peer_text(struct conn *c, const struct sockaddr_storage *ss)
{
    unsigned port = 0;
    c->peer_addr[0] = c->peer_port[0] = '\0';
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        const unsigned char *b = (const unsigned char *)&in->sin_addr; /* network order */
        size_t n = 0;
        for (int i = 0; i < 4; i++) {
            n += put_decimal(c->peer_addr + n, b[i]); /* at most 15 bytes: "255.255.255.255" */
            c->peer_addr[n++] = i < 3 ? '.' : '\0';
        }
        port = ntohs(in->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, c->peer_addr, sizeof(c->peer_addr));
        port = ntohs(in6->sin6_port);
    } else {
        return; /* a unix socket: no address, no port */
    }
    c->peer_port[put_decimal(c->peer_port, port)] = '\0'; /* at most 5 digits */
}

/* Answer an error before the app ran, and close. */
static void refuse(struct conn *c, int status, int version_minor)
{
    const char *reason = response_reason(status), *why = reason;
    if (c->req.error != NULL)
        why = c->req.error; /* the head broke a rule */
    else if (c->chunked.error != NULL)
        why = c->chunked.error; /* the chunks that came with it did */
    response_send_error(c->fd, version_minor, status, reason);
    log_msg(LOG_DEBUG, "Refused request from %s with %d: %s", c->peer_addr, status, why);
    conn_close(c, true);
}

static void reset_conn(struct worker *w, struct conn *c, int fd, const struct listener *l)
{
    c->fd = fd;
    c->listener = l;
    c->len = c->head_len = c->body_start = c->body_end = 0;
    memset(&c->req, 0, sizeof(c->req));
    c->req.headers = w->headers;
    c->req.max_headers = w->opts.limit_request_fields;
    memset(&c->proxy, 0, sizeof(c->proxy));
    memset(&c->chunked, 0, sizeof(c->chunked));
    c->chunked.limit = w->cfg->limit_request_body;
    c->chunked.opt = &w->opts; /* trailers follow the header rules and limits */
    c->body = BODY_NONE;
    c->extra_bytes = c->expect_continue = c->response_started = false;
    c->error_status = 0;
    c->body_timeout_ms = w->cfg->body_timeout * 1000;
}

/* Serve one connection.  Returns true when the request reached the app
 * (only those count towards --max-requests, as in Gunicorn: a flood of bad
 * requests must not make workers restart). */
static bool serve(struct worker *w, int fd, const struct sockaddr_storage *peer,
                  const struct listener *l)
{
    struct conn *c = &w->conn;
    reset_conn(w, c, fd, l);
    c->started_us = log_access_enabled() ? now_us() : 0;
    peer_text(c, peer);
    c->trusted_peer = peer_allowed(c, &w->cfg->forwarded_allow_ips);
    w->opts.flags =
        (w->opts.flags & ~HTTP_TRUSTED_PEER) | (c->trusted_peer ? HTTP_TRUSTED_PEER : 0);

    int r = read_head(w, c);
    if (r != 1) {
        if (r == 0)
            conn_close(c, false);
        else
            refuse(c, r, 1);
        return false;
    }
    int status = input_body_begin(c);
    if (status != 0) {
        refuse(c, status, c->req.version_minor);
        return false;
    }
    c->expect_continue = c->req.expect_continue;
    note_log_fields(c);

    struct wsgi_result res = {0, 0, NULL, 0};
    PyEval_RestoreThread(w->tstate);
    wsgi_handle(w->app, c, &res);
    w->tstate = PyEval_SaveThread();

    /* The client gets its answer and EOF first; then the log line and the
     * app's close() (PEP 3333), which may do slow clean-up work. */
    conn_close(c, c->extra_bytes || c->body != BODY_NONE);
    log_request(c, &res);
    free(res.head);
    PyEval_RestoreThread(w->tstate);
    wsgi_end_request();
    w->tstate = PyEval_SaveThread();
    return true;
}

/*
 * --max-requests: once a worker has handed its quota of requests to the
 * app, it takes no more connections and leaves the loop; worker_main then
 * exits 0 and the master starts a fresh worker in its place (a cure for
 * apps that leak memory).  Connections arriving meanwhile wait in the
 * listening socket's backlog, which the master keeps open, so none is
 * refused.  Gunicorn logs the same line.
 */
static void count_request(struct worker *w)
{
    w->served++;
    if (w->serve_limit > 0 && w->served >= w->serve_limit && w->alive) {
        log_msg(LOG_INFO, "Autorestarting worker after current request.");
        w->alive = false;
    }
}

/* This worker's quota: --max-requests plus a random 0..--max-requests-jitter,
 * so that workers started together do not all restart together. */
static long long serve_limit(const struct config *cfg)
{
    if (cfg->max_requests <= 0)
        return 0;
    long long jitter = 0;
    if (cfg->max_requests_jitter > 0)
        jitter = arc4random_uniform((uint32_t)cfg->max_requests_jitter + 1);
    return (long long)cfg->max_requests + jitter;
}

/* ---- the accept loop ---------------------------------------------------- */

/* Accept and serve connections until none is waiting.  Returns the number
 * served. */
static int accept_ready(struct worker *w)
{
    int served = 0;
    for (size_t i = 0; i < w->ctx->num_listeners && w->alive; i++) {
        const struct listener *l = &w->ctx->listeners[i];
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int fd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                log_msg(LOG_ERROR, "accept() failed: %s", strerror(errno));
            continue;
        }
        if (l->family == AF_UNIX)
            peer.ss_family = AF_UNIX; /* an unnamed client socket may report no address */
        if (serve(w, fd, &peer, l))
            count_request(w);
        served++;
    }
    return served;
}

static void handle_signals(struct worker *w)
{
    int sig;
    while ((sig = signals_next()) != 0) {
        switch (sig) {
        case SIGTERM:
            w->alive = false; /* graceful: finish this request, take no more */
            break;
        case SIGUSR1:
            log_reopen();
            break;
        default:
            break;
        }
    }
}

/* Tell the master we are alive.  Returns true about once a second, when
 * the slower checks (is the master still there?) are due. */
static bool beat(struct worker *w)
{
    int64_t now = worker_now_ms();
    bool second = now - w->last_check >= 1000;
    *w->ctx->heartbeat = now;
    if (second)
        w->last_check = now;
    return second;
}

static void run_loop(struct worker *w)
{
    struct epoll_event ev;
    int idle_ms = w->cfg->timeout > 0 ? w->cfg->timeout * 500 : 1000;
    if (idle_ms > 1000)
        idle_ms = 1000;
    while (w->alive) {
        bool second = beat(w);
        if (signals_pending())
            handle_signals(w);
        if (!w->alive)
            break;
        if (second && getppid() != w->ctx->master_pid) {
            log_msg(LOG_INFO, "Parent changed, shutting down: %d", (int)getpid());
            break;
        }
        if (accept_ready(w) > 0)
            continue;
        int n = epoll_wait(w->epfd, &ev, 1, idle_ms);
        if (n < 0 && errno != EINTR) {
            log_msg(LOG_ERROR, "epoll_wait failed: %s", strerror(errno));
            break;
        }
    }
}

/* ---- a worker's life ---------------------------------------------------- */

static const int worker_signals[] = {SIGTERM, SIGUSR1};

/*
 * Signals in a worker.  TERM (graceful) and USR1 (reopen logs) go through
 * the pipe.  INT and QUIT keep their default action, which ends the
 * process at once even inside a long app call: that is what "quick" means,
 * and the kernel does it without any code of ours in a handler.  ABRT (the
 * master's timeout kill) goes to faulthandler, which logs the Python stack.
 */
static int setup_signals(void)
{
    signals_default(signals_master, signals_master_count);
    if (signals_init(worker_signals, sizeof(worker_signals) / sizeof(worker_signals[0])) < 0)
        return -1;
    signal(SIGWINCH, SIG_IGN);
    struct rlimit no_core = {0, 0}; /* SIGQUIT/SIGABRT should not litter core files */
    setrlimit(RLIMIT_CORE, &no_core);
    return 0;
}

static void options_from_config(struct worker *w)
{
    const struct config *cfg = w->cfg;
    struct http_options *o = &w->opts;
    http_options_init(o); /* Gunicorn's defaults, then our settings on top */
    o->limit_request_line = cfg->limit_request_line;
    o->limit_request_fields = cfg->limit_request_fields;
    o->limit_request_field_size = cfg->limit_request_field_size;
    o->limit_request_body = cfg->limit_request_body;
    o->flags = (cfg->permit_obsolete_folding ? HTTP_PERMIT_OBS_FOLD : 0) |
               (cfg->permit_unconventional_http_method ? HTTP_PERMIT_UNCONVENTIONAL_METHOD : 0) |
               (cfg->permit_unconventional_http_version ? HTTP_PERMIT_UNCONVENTIONAL_VERSION : 0) |
               (cfg->casefold_http_method ? HTTP_CASEFOLD_METHOD : 0) |
               (cfg->strip_header_spaces ? HTTP_STRIP_HEADER_SPACES : 0);
    o->header_map = (enum http_header_map)cfg->header_map;
    o->forwarder_headers = (const char *const *)cfg->forwarder_headers.items;
    o->num_forwarder_headers = cfg->forwarder_headers.count;
    o->secure_scheme_names = (const char *const *)cfg->secure_scheme_names.items;
    o->secure_scheme_values = (const char *const *)cfg->secure_scheme_values.items;
    o->num_secure_scheme_headers = cfg->secure_scheme_names.count;
    /* The largest head: the request line plus every field at its limit. */
    size_t line = cfg->limit_request_line ? cfg->limit_request_line : 65536;
    size_t field = cfg->limit_request_field_size ? cfg->limit_request_field_size : 65536;
    w->max_head = line + 2 + (size_t)cfg->limit_request_fields * (field + 2) + 2;
}

/*
 * --user / --group: the worker gives up the master's identity before it
 * starts Python or imports the app, as Gunicorn's set_owner_process does.
 * The groups first: once the user has changed, they cannot be.  The
 * supplementary groups are replaced as well, by the user's own (initgroups)
 * or by the one group; Gunicorn keeps the master's unless --initgroups, so a
 * worker started by root would keep root's groups.
 */
static int drop_privileges(const struct config *cfg, char *err, size_t errlen)
{
    uid_t uid;
    gid_t gid;
    char name[256];

    if (cfg->user == NULL && cfg->group == NULL)
        return 0;
    if (config_user_ids(cfg, &uid, &gid, name, sizeof name, err, errlen) < 0)
        return -1;
    if (geteuid() == 0 && (name[0] != '\0' ? initgroups(name, gid) : setgroups(1, &gid)) < 0) {
        snprintf(err, errlen, "cannot set the groups of group %u: %s", (unsigned)gid,
                 strerror(errno));
        return -1;
    }
    if (setgid(gid) < 0 || setuid(uid) < 0) {
        snprintf(err, errlen, "cannot run as user %u, group %u: %s", (unsigned)uid, (unsigned)gid,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* Start Python and import the app.  Returns 0 or a WORKER_EXIT_* code. */
static int boot_python(struct worker *w)
{
    char err[512];
    if (drop_privileges(w->cfg, err, sizeof(err)) < 0) {
        log_msg(LOG_ERROR, "Worker failed to boot: %s", err);
        return WORKER_EXIT_BOOT_ERROR;
    }
    if (w->ctx->preloaded) {
        wsgi_fork_child();
        w->app = w->ctx->app;
    } else if (wsgi_init(w->cfg, err, sizeof(err)) < 0) {
        log_msg(LOG_ERROR, "Worker failed to boot: %s", err);
        return WORKER_EXIT_BOOT_ERROR;
    }
    /* The config file's hooks, where Gunicorn calls them: post_fork before
     * the app is imported, post_worker_init after.  A hook that fails fails
     * the boot, as in Gunicorn. */
    if (hooks_load(w->cfg, w->ctx->master_pid, err, sizeof(err)) < 0 ||
        hooks_run(HOOK_POST_FORK, err, sizeof(err)) < 0)
        goto hook_failed;
    if (w->app == NULL && (w->app = wsgi_load_app(w->cfg->app_uri, err, sizeof(err))) == NULL) {
        log_msg(LOG_ERROR, "Failed to load application '%s': %s", w->cfg->app_uri, err);
        return WORKER_EXIT_APP_ERROR;
    }
    if (hooks_run(HOOK_POST_WORKER_INIT, err, sizeof(err)) < 0)
        goto hook_failed;
    w->booted = true;
    return 0;

hook_failed:
    log_msg(LOG_ERROR, "Worker failed to boot: %s: %s", w->cfg->config_read, err);
    return WORKER_EXIT_BOOT_ERROR;
}

static int setup_epoll(struct worker *w)
{
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0)
        return -1;
    /* EPOLLEXCLUSIVE: one new connection wakes one idle worker, not all of
     * them (the "thundering herd"). */
    for (size_t i = 0; i < w->ctx->num_listeners; i++) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE};
        ev.data.fd = w->ctx->listeners[i].fd;
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0)
            return -1;
    }
    struct epoll_event sev = {.events = EPOLLIN};
    sev.data.fd = signals_fd();
    return epoll_ctl(w->epfd, EPOLL_CTL_ADD, sev.data.fd, &sev);
}

int worker_main(const struct worker_ctx *ctx)
{
    struct worker w;
    memset(&w, 0, sizeof(w));
    w.ctx = ctx;
    w.cfg = ctx->cfg;
    w.epfd = -1;
    w.conn.fd = -1;
    w.alive = true;
    w.serve_limit = serve_limit(ctx->cfg);
    int code = WORKER_EXIT_BOOT_ERROR;

    beat(&w);
    log_msg(LOG_INFO, "Booting worker with pid: %d", (int)getpid());
    options_from_config(&w);
    w.headers =
        calloc(w.opts.limit_request_fields ? w.opts.limit_request_fields : 1, sizeof(*w.headers));
    if (setup_signals() < 0 || w.headers == NULL || conn_reserve(&w.conn, BUF_INITIAL) < 0 ||
        setup_epoll(&w) < 0) {
        log_msg(LOG_ERROR, "Worker failed to boot: %s", strerror(errno));
        goto done;
    }
    code = boot_python(&w);
    if (code != 0)
        goto done;

    w.tstate = PyEval_SaveThread(); /* the loop runs without the GIL */
    run_loop(&w);
    PyEval_RestoreThread(w.tstate);
    log_msg(LOG_INFO, "Worker exiting (pid: %d)", (int)getpid());
    code = WORKER_EXIT_OK;

done:
    if (w.booted) { /* a failing worker_exit is logged; the worker leaves anyway */
        char err[512];
        hooks_run(HOOK_WORKER_EXIT, err, sizeof(err));
    }
    if (Py_IsInitialized()) {
        hooks_free();
        wsgi_fini(w.app);
    }
    if (w.epfd >= 0)
        close(w.epfd);
    free(w.conn.buf);
    free(w.headers);
    return code;
}
