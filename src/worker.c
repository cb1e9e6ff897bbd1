/*
 * worker.c - the sync worker: accept a connection, serve one request, close.
 *
 * Stage 4, accept (Gunicorn counterpart: gunicorn/workers/sync.py and
 * gunicorn/workers/base.py).
 * Owns: a worker's life after fork: its signals, starting Python, importing
 * the app, the accept loop, the heartbeat, reading the request head (with
 * the header timeout), and serve(), the one orchestrator of the request
 * path: each stage is called from there, in order, and none calls another.
 * Does not own: socket operations (conn.c), the request's memory
 * (request.c), parsing (http.c), the environ (environ.c), the app call
 * (wsgi.c), the response bytes (response.c), or the optional features,
 * which it reaches only through the slots of plugins.h.
 *
 * One request per connection, as Gunicorn's sync worker: it answers with
 * "Connection: close", so a slow client can hold a worker only for one
 * request, and the time it may take is bounded by --header-timeout and
 * --body-timeout.
 */
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
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
#include "input.h"
#include "log.h"
#include "pyembed.h"
#include "response.h"
#include "signals.h"
#include "wsgi.h"

/* ---- reading the request head ------------------------------------------ */

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
static bool peer_allowed(const struct conn *c, const struct config_trust *list)
{
    return c->family == AF_UNIX || config_trust_allows(list, c->peer_addr);
}

/* worker_request_begin - see worker.h. */
void worker_request_begin(const struct worker *w, struct request *r, struct conn *c)
{
    const struct plugins *p = w->ctx->plugins;
    bool trusted = peer_allowed(c, &w->forwarded_trust);
    /* The parser's options with or without HTTP_TRUSTED_PEER: both are made
     * once, so no request writes to what another thread may be reading. */
    request_reset(r, c, &w->opts[trusted], w->opts[0].limit_request_body,
                  w->cfg->body_timeout * 1000);
    r->trusted_peer = trusted;
    r->closing = &w->closing;
    r->started_us = p->access_log != NULL || p->request_done != NULL ? conn_now_us() : 0;
    r->proxy_pending = p->proxy_header != NULL && w->cfg->proxy_protocol != CONFIG_PROXY_OFF &&
                       peer_allowed(c, &w->proxy_trust);
}

/* worker_head_step - see worker.h. */
int worker_head_step(const struct worker *w, struct request *r)
{
    if (r->proxy_pending) {
        int taken = w->ctx->plugins->proxy_header(r, w->cfg);
        if (taken != 1)
            return taken;
        r->proxy_pending = false;
    }
    /* A full buffer is parsed too: its last bytes may hold the error
     * (400, 414) that a 431 would otherwise hide. */
    if (!worth_parsing(r, r->head_parsed) && r->head_read < r->max_head)
        return 0;
    r->head_parsed = r->head_read;
    int done = http_parse_request(r->head, r->head_read, &w->opts[r->trusted_peer], &r->http);
    if (done > 0) {
        r->head_len = (size_t)done; /* frozen from here on */
        return 1;
    }
    if (done == HTTP_ERROR)
        return r->http.status;
    return r->head_read >= r->max_head ? 431 : 0;
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
    int64_t deadline = conn_now_ms() + (int64_t)w->cfg->header_timeout * 1000;
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
        int done = worker_head_step(w, r);
        if (done != 0)
            return done;
    }
}

/* worker_refuse - see worker.h. */
void worker_refuse(const struct request *r, int status, int version_minor)
{
    const char *reason = response_reason(status), *why = reason;
    if (r->http.error != NULL)
        why = r->http.error; /* the head broke a rule */
    else if (r->chunked.error != NULL)
        why = r->chunked.error; /* the chunks that came with it did */
    response_send_error(r->conn->fd, version_minor, status, reason);
    log_msg(LOG_DEBUG, "Refused request from %s with %d: %s", r->conn->peer_addr, status, why);
}

/*
 * worker_run_app - see worker.h.  The second half of the request path:
 *   environ -> pre_request -> call the app (which writes the response) ->
 *   close, or skip the unread body to keep the connection -> access log ->
 *   the app's close() -> post_request -> drop the request's references.
 */
void worker_run_app(const struct worker *w, struct request *r, PyThreadState **ts, bool keep)
{
    const struct plugins *p = w->ctx->plugins;
    bool is_head = r->http.method_len == 4 && memcmp(r->http.method, "HEAD", 4) == 0;
    response_init(&r->resp, r->conn->fd, r->http.version_minor, is_head);
    r->resp.keep_alive = keep && r->http.keep_alive;

    PyEval_RestoreThread(*ts);
    /* A pre_request hook that raises is answered as an app error would be:
     * a 500 (Gunicorn's handle_request).  The callables bound to a request
     * object are made on its first request (an event loop makes request
     * objects without the GIL). */
    if (r->start_response == NULL && wsgi_request_init(r) < 0)
        wsgi_answer_error(r);
    else if ((r->environ = environ_build(r)) != NULL &&
             (p->pre_request == NULL || p->pre_request(r) == 0))
        wsgi_call_app(w->app, r);
    else
        wsgi_answer_error(r);
    if (r->resp.keep_alive && (r->failed || input_drain(r, INPUT_SMALL_BODY) < 0))
        r->resp.keep_alive = false;

    /* The client gets its answer (and EOF, unless the connection is kept)
     * first; then the log line and the app's close() (PEP 3333), which may
     * do slow clean-up work (Gunicorn's order: access log, close(),
     * post_request).  The first two need no GIL; it is let go for them,
     * and only for them: with the connection kept and no log line or
     * metric to send, there is nothing to do without it, and letting go
     * would cost a gthread worker a switch to another thread and back. */
    if (!r->resp.keep_alive || p->access_log != NULL || p->request_done != NULL) {
        *ts = PyEval_SaveThread();
        if (!r->resp.keep_alive)
            conn_close(r->conn, r->extra_bytes || r->body_state != BODY_NONE);
        if (p->access_log != NULL)
            p->access_log(r);
        if (p->request_done != NULL)
            p->request_done(r);
        PyEval_RestoreThread(*ts);
    }
    wsgi_close_result(r);
    if (p->post_request != NULL)
        p->post_request(r);
    wsgi_request_end(r);
    *ts = PyEval_SaveThread();
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
    worker_request_begin(w, r, c);
    int status = read_head(w, r);
    if (status != 1) {
        if (status != 0)
            worker_refuse(r, status, 1);
        conn_close(c, status != 0);
        return false;
    }
    if ((status = input_body_begin(r)) != 0) {
        worker_refuse(r, status, r->http.version_minor);
        conn_close(c, true);
        return false;
    }
    worker_run_app(w, r, &w->tstate, false); /* one request per connection */
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
void worker_count_request(struct worker *w)
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

/* worker_accept - see worker.h. */
int worker_accept(struct worker *w, const struct listener *l, struct sockaddr_storage *peer)
{
    socklen_t plen = sizeof(*peer);
    int fd = accept4(l->fd, (struct sockaddr *)peer, &plen, SOCK_CLOEXEC);
    if (fd >= 0) {
        w->fd_starved = false;
        return fd;
    }
    /* No descriptor left: the listener stays readable, so a loop that
     * tried again at once would burn a core until one is freed.  nginx
     * stops accepting for a while (ngx_event_accept); so do we, with one
     * line per burst, not one per attempt. */
    if (errno == EMFILE || errno == ENFILE) {
        if (!w->fd_starved)
            log_msg(LOG_WARNING, "accept() failed: %s; accepting again every %d ms",
                    strerror(errno), WORKER_STARVED_MS);
        w->fd_starved = true;
        return WORKER_ACCEPT_STARVED;
    }
    /* Nothing waiting, a signal, or a client that left while queued
     * (ECONNABORTED) are not errors; anything else is worth a line. */
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        log_msg(LOG_ERROR, "accept() failed: %s", strerror(errno));
    return -1;
}

/* Serve one connection taken from l: the sync worker's way. */
static void serve_accepted(struct worker *w, const struct listener *l, int fd,
                           struct sockaddr_storage *peer)
{
    struct conn c;
    conn_open(&c, fd, l, l->family, peer);
    if (serve(w, &c))
        worker_count_request(w);
}

/* Accept and serve connections until none is waiting.  Returns the number
 * served. */
static int accept_ready(struct worker *w)
{
    int served = 0;
    for (size_t i = 0; i < w->ctx->num_listeners && w->alive; i++) {
        const struct listener *l = &w->ctx->listeners[i];
        struct sockaddr_storage peer;
        int fd = worker_accept(w, l, &peer);
        if (fd == WORKER_ACCEPT_STARVED) {
            poll(NULL, 0, WORKER_STARVED_MS);
            break;
        }
        if (fd < 0)
            continue;
        serve_accepted(w, l, fd, &peer);
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
        case SIGINT:
        case SIGQUIT:
        case SIGABRT:
            /* Routed here only by an extra that made them Python signal
             * handlers (the worker_int and worker_abort hooks, run as
             * Gunicorn's worker runs them): an idle loop lets Python run
             * them now, as it would run nothing else. */
            PyEval_RestoreThread(w->tstate);
            if (PyErr_CheckSignals() < 0)
                PyErr_Clear();
            w->tstate = PyEval_SaveThread();
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

/* worker_tick - see worker.h. */
bool worker_tick(struct worker *w)
{
    bool second = beat(w);
    if (signals_pending())
        handle_signals(w);
    if (w->alive && second && getppid() != w->ctx->master_pid) {
        log_msg(LOG_INFO, "Parent changed, shutting down: %d", (int)getpid());
        w->alive = false;
    }
    return w->alive;
}

/*
 * How long after the door closed (bind_close_door) a worker keeps looking
 * for connections: a handshake the kernel answered just before still
 * completes into the queue when the client's ACK comes, one round trip
 * later.  A proxy on this host or the same network is well inside it.
 */
#define DOOR_SETTLE_MS 100

/* Accept every connection queued on the listeners now; how many. */
static int drain_once(struct worker *w, worker_take_fn take, void *arg)
{
    int taken = 0;
    for (size_t i = 0; i < w->ctx->num_listeners; i++) {
        const struct listener *l = &w->ctx->listeners[i];
        for (;;) {
            struct sockaddr_storage peer;
            int fd = worker_accept(w, l, &peer);
            if (fd == WORKER_ACCEPT_STARVED) {
                poll(NULL, 0, WORKER_STARVED_MS); /* still queued: wait for a descriptor */
                beat(w);
                continue;
            }
            if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
                continue;
            if (fd < 0)
                break; /* empty (EAGAIN), or an error already logged */
            take(arg, l, fd, &peer);
            beat(w);
            taken++;
        }
    }
    return taken;
}

/* worker_drain - see worker.h. */
void worker_drain(struct worker *w, worker_take_fn take, void *arg)
{
    int64_t closed = w->ctx->board->door_closed;
    size_t n = w->ctx->num_listeners;
    if (closed == 0)
        return; /* HUP, --max-requests: the master keeps the queue */
    struct pollfd pfd[CONFIG_MAX_BINDS];
    for (size_t i = 0; i < n && i < CONFIG_MAX_BINDS; i++)
        pfd[i] = (struct pollfd){.fd = w->ctx->listeners[i].fd, .events = POLLIN};
    int total = 0;
    for (;;) {
        int taken = drain_once(w, take, arg);
        total += taken;
        int64_t left = closed + DOOR_SETTLE_MS - conn_now_ms();
        if (taken > 0)
            continue;
        if (left <= 0)
            break;
        poll(pfd, (nfds_t)(n < CONFIG_MAX_BINDS ? n : CONFIG_MAX_BINDS),
             (int)left); /* a late handshake, or the settle time ends */
    }
    for (size_t i = 0; i < n; i++) {
        close(w->ctx->listeners[i].fd); /* ours only: the path stays (bind_close) */
        w->ctx->listeners[i].fd = -1;
    }
    log_msg(LOG_DEBUG, "Drained %d queued connection(s); listeners closed", total);
}

/* worker_idle_ms - see worker.h. */
int worker_idle_ms(const struct worker *w)
{
    int idle_ms = w->cfg->timeout > 0 ? w->cfg->timeout * 500 : 1000;
    return idle_ms > 1000 ? 1000 : idle_ms;
}

static void take_accepted(void *arg, const struct listener *l, int fd,
                          struct sockaddr_storage *peer)
{
    serve_accepted(arg, l, fd, peer);
}

static void run_loop(struct worker *w)
{
    struct epoll_event ev;
    int idle_ms = worker_idle_ms(w);
    while (worker_tick(w)) {
        if (accept_ready(w) > 0)
            continue;
        int n = epoll_wait(w->epfd, &ev, 1, idle_ms);
        if (n < 0 && errno != EINTR) {
            log_msg(LOG_ERROR, "epoll_wait failed: %s", strerror(errno));
            break;
        }
    }
    worker_drain(w, take_accepted, w); /* TERM: what is queued is served too */
}

/* ---- a worker's life ---------------------------------------------------- */

static const int worker_signals[] = {SIGTERM, SIGUSR1};

/*
 * Signals in a worker.  TERM (graceful) and USR1 (reopen logs) go through
 * the pipe.  INT and QUIT keep their default action, which ends the
 * process at once even inside a long app call: that is what "quick" means,
 * and the kernel does it without any code of ours in a handler.  ABRT (the
 * master's timeout kill) goes to faulthandler, which logs the Python stack.
 * A config file's worker_int or worker_abort hook changes that (hooks.c):
 * then the signal runs the hook, then the worker exits.
 */
static int setup_signals(void)
{
    signals_default(signals_master, signals_master_count);
    if (signals_init(worker_signals, sizeof(worker_signals) / sizeof(worker_signals[0])) < 0)
        return -1;
    signal(SIGWINCH, SIG_IGN);
    /* held since before the fork (spawn_worker): one sent meanwhile comes now */
    signals_unhold(signals_master, signals_master_count);
    struct rlimit no_core = {0, 0}; /* SIGQUIT/SIGABRT should not litter core files */
    setrlimit(RLIMIT_CORE, &no_core);
    return 0;
}

/* Run a worker event's slot (the config file's worker hooks), if an extra
 * fills it.  0, or -1 with err. */
static int worker_event(const struct worker *w, enum worker_event ev, char *err, size_t errlen)
{
    const struct plugins *p = w->ctx->plugins;
    if (p->worker_watch != NULL && ev != WORKER_EXIT)
        p->worker_watch(ev, w->cfg);
    if (p->worker_event == NULL)
        return 0;
    return p->worker_event(ev, w->cfg, w->ctx->master_pid, err, errlen);
}

/* Start Python and import the app.  Returns 0 or a WORKER_EXIT_* code. */
static int boot_python(struct worker *w)
{
    char err[512];
    const struct plugins *p = w->ctx->plugins;
    if (p->drop_privileges != NULL && p->drop_privileges(w->cfg, err, sizeof(err)) < 0) {
        log_msg(LOG_ERROR, "Worker failed to boot: %s", err);
        return WORKER_EXIT_BOOT_ERROR;
    }
    wsgi_fork_child(); /* the master's interpreter, if it has one, hears of the fork */
    if (w->ctx->preloaded) {
        w->app = w->ctx->app;
    } else if (wsgi_init(w->cfg, err, sizeof(err)) < 0) {
        log_msg(LOG_ERROR, "Worker failed to boot: %s", err);
        return WORKER_EXIT_BOOT_ERROR;
    }
    /* The config file's hooks, where Gunicorn calls them: post_fork before
     * the app is imported, post_worker_init after.  A hook that fails fails
     * the boot, as in Gunicorn. */
    if (worker_event(w, WORKER_POST_FORK, err, sizeof(err)) < 0)
        goto hook_failed;
    if (w->app == NULL && (w->app = wsgi_load_app(w->cfg->app_uri, err, sizeof(err))) == NULL) {
        if (p->app_failed != NULL) /* --reload: a syntax error is served until fixed */
            w->app = p->app_failed(w->cfg, err);
        PyErr_Clear();
        if (w->app == NULL) {
            log_msg(LOG_ERROR, "Failed to load application '%s': %s", w->cfg->app_uri, err);
            return WORKER_EXIT_APP_ERROR;
        }
    }
    if (worker_event(w, WORKER_POST_INIT, err, sizeof(err)) < 0)
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

    if (ctx->plugins->set_title != NULL) /* as Gunicorn's spawn_worker: "worker [NAME]" */
        ctx->plugins->set_title("worker");
    beat(&w);
    log_msg(LOG_INFO, "Booting worker with pid: %d", (int)getpid());
    config_http_options(w.cfg, &w.opts[0], &w.max_head); /* the parser's limits, built once */
    w.opts[1] = w.opts[0];
    w.opts[1].flags |= HTTP_TRUSTED_PEER;
    config_trust_compile(&w.cfg->forwarded_allow_ips, &w.forwarded_trust);
    config_trust_compile(&w.cfg->proxy_allow_ips, &w.proxy_trust);
    if (setup_signals() < 0 ||
        request_init(&w.req, w.opts[0].limit_request_fields, w.max_head) < 0 ||
        setup_epoll(&w) < 0) {
        log_msg(LOG_ERROR, "Worker failed to boot: %s", strerror(errno));
        goto done;
    }
    code = boot_python(&w);
    if (code != 0)
        goto done;
    ctx->board->booted[ctx->slot] = 1; /* the master tells systemd READY when all have */

    w.tstate = PyEval_SaveThread(); /* the loop runs without the GIL */
    if (ctx->plugins->worker_loop != NULL)
        ctx->plugins->worker_loop(&w); /* another worker class (gthread) */
    else
        run_loop(&w);
    PyEval_RestoreThread(w.tstate);
    log_msg(LOG_INFO, "Worker exiting (pid: %d)", (int)getpid());
    code = WORKER_EXIT_OK;

done:
    if (w.booted) { /* a failing worker_exit is logged; the worker leaves anyway */
        char err[512];
        worker_event(&w, WORKER_EXIT, err, sizeof(err));
    }
    if (Py_IsInitialized()) {
        wsgi_request_free(&w.req);
        wsgi_fini(w.app);
    }
    if (w.epfd >= 0)
        close(w.epfd);
    request_free(&w.req);
    return code;
}
