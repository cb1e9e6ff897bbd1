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
#include "pyembed.h"
#include "response.h"
#include "signals.h"
#include "wsgi.h"

/* Everything one worker keeps between requests. */
struct worker {
    const struct worker_ctx *ctx;
    const struct config *cfg;
    void *app;                /* the WSGI callable (a PyObject *) */
    PyThreadState *tstate;    /* saved while the loop runs without the GIL */
    struct request req;       /* reused for every request: its buffers stay */
    struct http_options opts; /* parser limits, built once */
    size_t max_head;          /* the largest request head we will buffer */
    int epfd;
    bool alive;
    bool booted;           /* the app is loaded and post_worker_init ran */
    int64_t last_check;    /* when the master was last looked for */
    long long served;      /* requests handed to the app so far */
    long long serve_limit; /* --max-requests plus this worker's jitter; 0 = no limit */
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- reading the request head ------------------------------------------ */

/* Parse a PROXY protocol header at the start of buf, if configured; remove
 * it from the buffer.  Returns 1 done, 0 need more, or an HTTP status. */
static int take_proxy_header(struct worker *w, struct request *r)
{
    int status = 400;
    const char *why = NULL;
    int mode = (int)w->cfg->proxy_protocol; /* V1 = 1, V2 = 2, AUTO = 3 */
    int n = http_parse_proxy(r->head, r->head_read, mode, &r->proxy, &status, &why);
    if (n == HTTP_NEED_MORE)
        return 0;
    if (n == HTTP_ERROR) {
        log_msg(LOG_DEBUG, "Invalid PROXY header from %s: %s", r->conn->peer_addr, why ? why : "");
        return status;
    }
    memmove(r->head, r->head + n, r->head_read - (size_t)n); /* nothing is parsed yet */
    r->head_read -= (size_t)n;
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
static bool worth_parsing(const struct request *r, size_t parsed_len)
{
    size_t len = r->head_read;
    if (len <= 4096 || parsed_len > len || len >= parsed_len + parsed_len / 8)
        return true;
    size_t from = parsed_len >= 3 ? parsed_len - 3 : 0;
    const char *p = r->head + from, *end = r->head + len;
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
    return c->family == AF_UNIX || config_addr_allowed(list, c->peer_addr);
}

/*
 * Read until the request head is complete, into the request's own head
 * buffer, which may grow (up to max_head) only until the parse succeeds.
 * Returns 1 when r->http is parsed, 0 when the client left without a
 * request (close quietly), or the HTTP status to answer with (400, 408,
 * 414, 431, ...).
 */
static int read_head(struct worker *w, struct request *r)
{
    size_t parsed_len = 0; /* head_read when the parser last ran */
    int64_t deadline = conn_now_ms() + (int64_t)w->cfg->header_timeout * 1000;
    bool want_proxy = w->cfg->proxy_protocol != CONFIG_PROXY_OFF &&
                      peer_allowed(r->conn, &w->cfg->proxy_allow_ips);
    for (;;) {
        if (r->head_read >= r->max_head)
            return 431;
        if (request_head_reserve(r, 4096) < 0)
            return 500;
        int64_t left = deadline - conn_now_ms();
        ssize_t n = left > 0 ? conn_recv(r->conn, r->head + r->head_read,
                                         r->head_cap - r->head_read, (int)left)
                             : -1;
        if (left <= 0)
            errno = ETIMEDOUT;
        if (n == 0)
            return 0; /* closed: before a request, or mid-head (Gunicorn: NoMoreData) */
        if (n < 0)
            return errno == ETIMEDOUT ? 408 : 0;
        r->head_read += (size_t)n;

        if (want_proxy) {
            int p = take_proxy_header(w, r);
            if (p == 0)
                continue;
            if (p != 1)
                return p;
            want_proxy = false;
        }
        if (!worth_parsing(r, parsed_len))
            continue;
        parsed_len = r->head_read;
        int done = http_parse_request(r->head, r->head_read, &w->opts, &r->http);
        if (done > 0) {
            r->head_len = (size_t)done; /* frozen from here on */
            return 1;
        }
        if (done == HTTP_ERROR)
            return r->http.status;
    }
}

/* A header's value by name (ASCII case-insensitive), or NULL. */
static const struct http_header *find_header(const struct http_request *h, const char *name,
                                             size_t len)
{
    for (size_t i = 0; i < h->num_headers; i++)
        if (h->headers[i].name_len == len && strncasecmp(h->headers[i].name, name, len) == 0)
            return &h->headers[i];
    return NULL;
}

/* One access-log line.  Every view points into memory the request owns
 * and that has not moved since the head was parsed: the head buffer (frozen)
 * and the response's own head buffer (freed by wsgi_request_end, later). */
static void log_request(const struct request *r)
{
    if (!log_access_enabled())
        return;
    const struct http_request *h = &r->http;
    const struct http_header *referer = find_header(h, "Referer", 7);
    const struct http_header *agent = find_header(h, "User-Agent", 10);
    size_t line_len;
    const char *line = request_line(r, &line_len);
    bool want_head = log_access_wants_response_headers() && r->resp.head_len > 0;
    struct log_access_entry e = {
        .remote_addr = r->proxy.present ? r->proxy.src_addr : r->conn->peer_addr,
        .request_line = line,
        .request_line_len = line_len,
        .status = r->resp.status,
        .body_bytes = (int64_t)r->resp.body_sent,
        .referer = referer ? referer->value : NULL,
        .referer_len = referer ? referer->value_len : 0,
        .user_agent = agent ? agent->value : NULL,
        .user_agent_len = agent ? agent->value_len : 0,
        .method = h->method,
        .method_len = h->method_len,
        .path = h->path,
        .path_len = h->path_len,
        .query = h->query,
        .query_len = h->query_len,
        .version_major = h->version_major,
        .version_minor = h->version_minor,
        .duration_us = now_us() - r->started_us,
        .headers = h->headers,
        .num_headers = h->num_headers,
        .response_head = want_head ? (r->resp.head ? r->resp.head : r->resp.head_inline) : NULL,
        .response_head_len = want_head ? r->resp.head_len : 0,
    };
    log_access(&e);
}

/* Answer an error before the app ran, and close. */
static void refuse(struct request *r, int status, int version_minor)
{
    const char *reason = response_reason(status), *why = reason;
    if (r->http.error != NULL)
        why = r->http.error; /* the head broke a rule */
    else if (r->chunked.error != NULL)
        why = r->chunked.error; /* the chunks that came with it did */
    response_send_error(r->conn->fd, version_minor, status, reason);
    log_msg(LOG_DEBUG, "Refused request from %s with %d: %s", r->conn->peer_addr, status, why);
    conn_close(r->conn, true);
}

/*
 * Serve one connection: the one orchestrator of the request path, each
 * stage in turn, the data flowing one way:
 *   read the head -> parse -> body framing -> environ -> pre_request ->
 *   call the app (which writes the response) -> close -> access log ->
 *   the app's close() -> post_request -> drop the request's references.
 * Returns true when the request reached the app (only those count towards
 * --max-requests, as in Gunicorn: a flood of bad requests must not make
 * workers restart).
 */
static bool serve(struct worker *w, struct conn *c)
{
    struct request *r = &w->req;
    request_reset(r, c, &w->opts, w->cfg->limit_request_body, w->cfg->body_timeout * 1000);
    r->started_us = log_access_enabled() ? now_us() : 0;
    r->trusted_peer = peer_allowed(c, &w->cfg->forwarded_allow_ips);
    w->opts.flags =
        (w->opts.flags & ~HTTP_TRUSTED_PEER) | (r->trusted_peer ? HTTP_TRUSTED_PEER : 0);

    int status = read_head(w, r);
    if (status != 1) {
        if (status == 0)
            conn_close(c, false);
        else
            refuse(r, status, 1);
        return false;
    }
    if ((status = input_body_begin(r)) != 0) {
        refuse(r, status, r->http.version_minor);
        return false;
    }
    bool is_head = r->http.method_len == 4 && memcmp(r->http.method, "HEAD", 4) == 0;
    response_init(&r->resp, c->fd, r->http.version_minor, is_head);

    PyEval_RestoreThread(w->tstate);
    /* A pre_request hook that raises is answered as an app error would be:
     * a 500 (Gunicorn's handle_request). */
    if ((r->environ = environ_build(r)) != NULL && hooks_pre_request(r) == 0)
        wsgi_call_app(w->app, r);
    else
        wsgi_answer_error(r);
    w->tstate = PyEval_SaveThread();

    /* The client gets its answer and EOF first; then the log line and the
     * app's close() (PEP 3333), which may do slow clean-up work. */
    conn_close(c, r->extra_bytes || r->body_state != BODY_NONE);
    log_request(r);
    PyEval_RestoreThread(w->tstate);
    wsgi_close_result(r);
    hooks_post_request(r);
    wsgi_request_end(r);
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
        struct conn c;
        conn_open(&c, fd, l, l->family, &peer);
        if (serve(w, &c))
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
    int64_t now = conn_now_ms();
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
    if (wsgi_request_init(&w->req) < 0) {
        pyembed_exception_line(err, sizeof(err));
        log_msg(LOG_ERROR, "Worker failed to boot: %s", err);
        return WORKER_EXIT_BOOT_ERROR;
    }
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
    w.alive = true;
    w.serve_limit = serve_limit(ctx->cfg);
    int code = WORKER_EXIT_BOOT_ERROR;

    beat(&w);
    log_msg(LOG_INFO, "Booting worker with pid: %d", (int)getpid());
    options_from_config(&w);
    if (setup_signals() < 0 || request_init(&w.req, w.opts.limit_request_fields, w.max_head) < 0 ||
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
        wsgi_request_free(&w.req);
        hooks_free();
        wsgi_fini(w.app);
    }
    if (w.epfd >= 0)
        close(w.epfd);
    request_free(&w.req);
    return code;
}
