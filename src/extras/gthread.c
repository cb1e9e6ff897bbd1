/*
 * gthread.c - the gthread worker class: one event loop per worker for the
 * connections, a pool of threads for the app.  This file is the loop
 * thread; gthread_pool.c is the pool threads and the hand-offs between
 * the two; gthread_internal.h the structures they share.
 *
 * An extra (Gunicorn counterpart: gunicorn/workers/gthread.py), plugged in
 * through the worker_loop slot of plugins.h.
 * Owns: the loop thread (accept, read and parse request heads, read small
 * bodies, timeouts, the lingering close of refused connections, shutdown),
 * the table of this worker's connections and the request objects not in
 * use.
 * Does not own: the pool threads (gthread_pool.c), the request path
 * (worker.c: worker_head_step parses a head, worker_run_app runs the app
 * and writes the response), the body's framing (input.c), or any socket
 * call but accept and epoll (conn.c).
 *
 * The division of work, and why (DESIGN.md has the picture):
 *  - The loop thread never holds the GIL.  It reads each connection's head
 *    into a request object as bytes arrive, and only a complete request
 *    (and its body, when that is small: INPUT_SMALL_BODY) goes to a
 *    thread.  A slow client costs a buffer, not a thread: Gunicorn 24+
 *    hands a connection to a thread right after accept, so slow clients
 *    fill its pool (Gunicorn issue #3518).
 *  - A pool thread takes the GIL to build the environ and run the app, and
 *    releases it around every socket write (wsgi.c) and body read (input.c).
 *    It then arms a kept connection's socket in epoll again itself and lets
 *    go of it (rearm), or closes it and hands it back to the loop.
 *  - A connection belongs to one thread at a time: the loop, or the pool
 *    thread serving it (state GC_APP, its socket disarmed).  The queue and
 *    the done list are the only things both sides touch, under one mutex;
 *    besides them, a connection's state is atomic, and a pool thread's
 *    release of it (rearm) is what gives the connection back.
 */
#include "gthread.h"
#include "gthread_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "input.h"
#include "log.h"
#include "request.h"
#include "signals.h"
#include "worker.h"
#include "wsgi.h"

/* How often the loop looks for connections whose time is up. */
#define SWEEP_MS   100
#define MAX_EVENTS 64
/* Balancing (my_turn): how long a worker that let a connection go to a less
 * loaded one stays away from the listeners, and how recent another worker's
 * heartbeat must be for its count to matter (workers beat every second). */
#define YIELD_MS 2
#define FRESH_MS 2500

/* ---- request objects and connections ------------------------------------ */

/* A request object for gc: a spare one, or a new one. */
static struct spare *take_spare(struct gthread *g)
{
    struct spare *q = g->spares;
    if (q != NULL) {
        g->spares = q->next;
        return q;
    }
    q = calloc(1, sizeof(*q));
    if (q != NULL && request_init(&q->r, g->w->opts[0].limit_request_fields, g->w->max_head) < 0) {
        request_free(&q->r);
        free(q);
        q = NULL;
    }
    return q;
}

/* gc's request object goes back to the spares: an idle connection holds none. */
static void give_back(struct gthread *g, struct gconn *gc)
{
    if (gc->q == NULL)
        return;
    gc->q->next = g->spares;
    g->spares = gc->q;
    gc->q = NULL;
}

/*
 * Watch gc's socket for one event (EPOLLONESHOT): the first time it is
 * added, later it is armed again.  One-shot, so that handing a complete
 * request to the pool costs no system call (the event that completed it
 * already disarmed the socket), and a keep-alive request costs one
 * epoll_ctl when it comes back instead of a delete and an add.  handle()
 * arms it again after every event that leaves it with the loop.
 */
static int watch(struct gthread *g, struct gconn *gc)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = gc};
    if (epoll_ctl(g->epfd, gc->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, gc->c.fd, &ev) < 0)
        return -1;
    gc->watched = true;
    return 0;
}

static void unwatch(struct gthread *g, struct gconn *gc)
{
    if (gc->watched && gc->c.fd >= 0)
        epoll_ctl(g->epfd, EPOLL_CTL_DEL, gc->c.fd, NULL);
    gc->watched = false;
}

/* The end of a connection: closed (unless a pool thread closed it), out of
 * the table, freed. */
static void drop(struct gthread *g, struct gconn *gc)
{
    if (gc == g->current)
        g->current = NULL; /* handle() must not touch it again */
    unwatch(g, gc);
    conn_close(&gc->c, false);
    give_back(g, gc);
    g->conns[gc->slot] = g->conns[--g->nconns];
    g->conns[gc->slot]->slot = gc->slot;
    PLAIN_FIELD(gc->state); /* for whatever takes this memory next */
    free(gc);
}

/* Start a connection's state, with the timeout that goes with it. */
static void enter(struct gconn *gc, enum gconn_state state, int64_t timeout_ms)
{
    gc->deadline = conn_now_ms() + timeout_ms;
    set_state(gc, state);
}

/* ---- the loop's side of a request --------------------------------------- */

/* Refuse the request with status: the error page, then a lingering close
 * run by the loop (the client may still be sending; reading what it sends
 * keeps our RST from destroying the page). */
static void refuse(struct gthread *g, struct gconn *gc, int status, int version_minor)
{
    worker_refuse(&gc->q->r, status, version_minor);
    give_back(g, gc);
    if (shutdown(gc->c.fd, SHUT_WR) < 0) {
        drop(g, gc);
        return;
    }
    enter(gc, GC_LINGER, CONN_DRAIN_MS);
    gc->lingered = 0;
}

static void adopt_queued(void *arg, const struct listener *l, int fd,
                         struct sockaddr_storage *peer);

/* Has the client sent bytes we have not read yet (a request on its way)? */
static bool bytes_waiting(const struct gconn *gc)
{
    char byte;
    return recv(gc->c.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* Close the idle keep-alive connections (no request is lost by closing
 * them) while shutting down: when shutdown begins, and at every sweep after
 * it for those a pool thread gave back meanwhile (rearm: it read `closing`
 * just before the loop set it). */
static void close_idle(struct gthread *g)
{
    for (size_t i = g->nconns; i-- > 0;) {
        struct gconn *gc = g->conns[i];
        if (state_of(gc) == GC_IDLE && gc->requests > 0 && !bytes_waiting(gc))
            drop(g, gc);
    }
}

/*
 * Shutdown begins: take no more connections, close the idle keep-alive
 * ones, and answer every request still to come with Connection: close.
 * A kept connection whose next request has already arrived stays (closing
 * it would lose that request: only a client's retry would save it, RFC 9112
 * section 9.3.1), and so does a connection not yet past its first request:
 * it was accepted to be served.  On TERM, the connections still queued on
 * the listeners are accepted too (worker_drain), the pool serves them all.
 */
static void begin_shutdown(struct gthread *g)
{
    if (g->shutting)
        return;
    g->shutting = true;
    atomic_store(&g->w->closing, true);
    for (size_t i = 0; i < g->w->ctx->num_listeners; i++)
        epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->w->ctx->listeners[i].fd, NULL);
    g->listening = false;
    close_idle(g);
    worker_drain(g->w, adopt_queued, g);
}

/* A complete request goes to the pool; the loop lets go of gc (its socket
 * is disarmed: see watch). */
static void dispatch(struct gthread *g, struct gconn *gc)
{
    if (gc == g->current)
        g->current = NULL; /* the pool's now: handle() must not arm it (nor read its
                            * state: a thread may have served it and armed it already) */
    set_state(gc, GC_APP);
    worker_count_request(g->w); /* --max-requests: may end the worker's life */
    if (!g->w->alive)           /* say so before a thread decides on keep-alive; the
                                 * loop closes the idle connections next time round */
        atomic_store(&g->w->closing, true);
    gthread_pool_submit(g, gc);
}

/* Read what has arrived of a small body; dispatch once it is all here. */
static void body_progress(struct gthread *g, struct gconn *gc)
{
    int rc = input_body_buffer(&gc->q->r);
    if (rc < 0)
        drop(g, gc); /* the client left mid-body: nobody to answer */
    else if (rc > 0)
        dispatch(g, gc);
    else
        enter(gc, GC_BODY, ms(g->w->cfg->body_timeout)); /* an idle timeout */
}

/*
 * The head may be complete: parse (worker_head_step decides whether it is
 * worth it), then set up the body.  A request goes to the pool only when
 * its head is complete, and its body too when it is small: a thread then
 * never waits for a slow client (unless the app reads a large body).  A
 * client that sent "Expect: 100-continue" waits for our go-ahead, which
 * wsgi.input gives on its first read, so its body is the thread's to read.
 */
static void head_progress(struct gthread *g, struct gconn *gc)
{
    struct request *r = &gc->q->r;
    int done = worker_head_step(g->w, r);
    if (done == 0)
        return;
    if (done != 1) {
        refuse(g, gc, done, 1);
        return;
    }
    int status = input_body_begin(r);
    if (status != 0) {
        refuse(g, gc, status, r->http.version_minor);
        return;
    }
    if (r->body_state == BODY_LENGTH && r->http.content_length <= INPUT_SMALL_BODY &&
        !r->expect_continue)
        body_progress(g, gc);
    else
        dispatch(g, gc);
}

/* The first bytes of a request: it gets a request object and the header
 * timeout.  Returns -1 when no memory is left (gc was dropped). */
static int start_request(struct gthread *g, struct gconn *gc)
{
    if ((gc->q = take_spare(g)) == NULL) {
        log_msg(LOG_ERROR, "gthread: no memory for a request from %s", gc->c.peer_addr);
        drop(g, gc);
        return -1;
    }
    worker_request_begin(g->w, &gc->q->r, &gc->c);
    /* The first request's head has --header-timeout from the accept, as
     * in the sync worker; a later one from its first byte.  A PROXY header
     * opens the connection, so only its first request may carry one; the
     * later ones keep what it said. */
    set_state(gc, GC_HEAD);
    if (gc->requests > 0) {
        gc->deadline = conn_now_ms() + ms(g->w->cfg->header_timeout);
        gc->q->r.proxy = gc->proxy;
        gc->q->r.proxy_pending = false;
    }
    return 0;
}

/* One read of a head, as the socket is readable (one per event: fair to
 * every connection).  The client leaving mid-head is closed quietly, as
 * the sync worker does (Gunicorn: NoMoreData). */
static void head_readable(struct gthread *g, struct gconn *gc)
{
    if (gc->q == NULL) {
        if (start_request(g, gc) < 0)
            return;
    } else if (gc->state == GC_IDLE) {
        /* A kept connection whose request object the pool thread made
         * ready (serve_one): the next head's time runs from its first byte. */
        enter(gc, GC_HEAD, ms(g->w->cfg->header_timeout));
    }
    struct request *r = &gc->q->r;
    if (r->head_read >= r->max_head) {
        refuse(g, gc, 431, 1);
        return;
    }
    if (request_head_reserve(r, 4096) < 0) {
        refuse(g, gc, 500, 1);
        return;
    }
    ssize_t n = conn_recv(&gc->c, r->head + r->head_read, r->head_cap - r->head_read, 0);
    if (n < 0 && errno == ETIMEDOUT)
        return; /* nothing after all */
    if (n <= 0) {
        drop(g, gc);
        return;
    }
    r->head_read += (size_t)n;
    head_progress(g, gc);
}

static void conn_event(struct gthread *g, struct gconn *gc)
{
    switch (gc->state) {
    case GC_IDLE:
    case GC_HEAD:
        head_readable(g, gc);
        break;
    case GC_BODY:
        body_progress(g, gc);
        break;
    case GC_LINGER:
        if (conn_discard(&gc->c, &gc->lingered))
            drop(g, gc);
        break;
    case GC_APP:
    case GC_EARLY:
        break;
    }
}

/* A connection back from the pool: closed, idle (keep-alive), or holding
 * the start of the next request (pipelined), which is parsed at once: its
 * bytes are already read, so no event would come for them. */
static void returned(struct gthread *g, struct gconn *gc)
{
    gc->requests++;
    gc->proxy = gc->q->r.proxy;
    if (gc->c.fd < 0 || g->shutting) {
        drop(g, gc);
        return;
    }
    if (gc->q->r.head_read == 0) {
        give_back(g, gc);
        enter(gc, GC_IDLE, ms(g->w->cfg->keepalive));
    } else {
        enter(gc, GC_HEAD, ms(g->w->cfg->header_timeout));
    }
    if (watch(g, gc) < 0) {
        drop(g, gc);
        return;
    }
    if (gc->state == GC_HEAD)
        head_progress(g, gc);
}

static void take_returned(struct gthread *g)
{
    struct gconn *list = gthread_pool_take_done(g);
    while (list != NULL) {
        struct gconn *next = list->next;
        returned(g, list);
        list = next;
    }
}

/*
 * Time is up: an idle keep-alive connection closes quietly (RFC 9112
 * section 9.5: either side may close an idle connection); one that never
 * sent a whole request head, or a small body, in time gets 408, as from the
 * sync worker; a lingering close ends.
 */
static void expire(struct gthread *g, struct gconn *gc)
{
    switch (gc->state) {
    case GC_IDLE:
        if (gc->requests > 0 || g->shutting)
            drop(g, gc);
        else if (start_request(g, gc) == 0)
            refuse(g, gc, 408, 1);
        break;
    case GC_HEAD:
    case GC_BODY:
        refuse(g, gc, 408, gc->state == GC_BODY ? gc->q->r.http.version_minor : 1);
        break;
    case GC_LINGER:
        drop(g, gc);
        break;
    case GC_APP:
    case GC_EARLY:
        break;
    }
}

/* The connections whose time is up expire; an idle one gives back the
 * request object a pool thread left it (rearm), so that idle keep-alive
 * connections cost no request object for longer than SWEEP_MS. */
static void sweep(struct gthread *g)
{
    if (g->shutting)
        close_idle(g);
    int64_t now = conn_now_ms();
    for (size_t i = g->nconns; i-- > 0;) {
        struct gconn *gc = g->conns[i];
        enum gconn_state state = state_of(gc);
        if (state == GC_APP || state == GC_EARLY)
            continue;
        if (now >= gc->deadline)
            expire(g, gc);
        else if (state == GC_IDLE && gc->q != NULL && gc->requests > 0)
            give_back(g, gc);
    }
}

/* ---- accepting ---------------------------------------------------------- */

/* Watch the listeners again, or stop watching them: at --worker-connections
 * open connections new ones wait in the kernel's backlog, not here. */
static void set_listening(struct gthread *g, bool on)
{
    if (on == g->listening)
        return;
    for (size_t i = 0; i < g->w->ctx->num_listeners; i++) {
        /* Not EPOLLEXCLUSIVE: it wakes the same (first registered) worker
         * for every connection while that one waits, and a worker that then
         * lets a connection go (my_turn) would leave it queued with nobody
         * told.  Waking every worker costs one accept4() that fails with
         * EAGAIN per worker and connection; worker counts are small. */
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &g->listener_src[i]};
        if (on)
            epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->w->ctx->listeners[i].fd, &ev);
        else
            epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->w->ctx->listeners[i].fd, NULL);
    }
    g->listening = on;
}

/* Room for one more connection in the table; -1 when there is none. */
static int table_room(struct gthread *g)
{
    if (g->nconns < g->cap)
        return 0;
    size_t cap = g->cap ? g->cap * 2 : 64;
    struct gconn **grown = realloc(g->conns, cap * sizeof(*grown));
    if (grown == NULL)
        return -1;
    g->conns = grown;
    g->cap = cap;
    return 0;
}

/* Tell the other workers how many connections this one holds, or -1 when
 * it takes no more (shutting down): see my_turn. */
static void publish(const struct gthread *g)
{
    g->w->ctx->board->conns[g->w->ctx->slot] = g->shutting ? -1 : (int64_t)g->nconns;
}

/*
 * Should this worker take the next connection, or leave it to another?
 * Keep-alive connections last: whoever accepts one serves every request it
 * brings.  When clients open many at once (a pool of 50 at start-up), the
 * first worker to wake would accept them all and the others would idle with
 * their threads free; with an app that waits, half the workers then do all
 * the work (measured: 78 req/s for 2 x 4 threads sleeping 50 ms, against
 * the 160 possible).  So a worker lets a connection go when another live,
 * accepting worker holds fewer connections than it does: it stays away from
 * the listeners for YIELD_MS, and that worker, woken too, takes it.  The
 * worker with the fewest never yields, so a connection always finds one.
 */
static bool my_turn(const struct gthread *g)
{
    const volatile struct worker_board *b = g->w->ctx->board;
    int64_t now = conn_now_ms(), mine = (int64_t)g->nconns;
    int64_t high = b->high < WORKER_MAX_SLOTS ? b->high : WORKER_MAX_SLOTS;
    for (int64_t i = 0; i < high; i++) {
        int64_t theirs = b->conns[i];
        if (i != g->w->ctx->slot && theirs >= 0 && theirs < mine && now - b->beats[i] < FRESH_MS)
            return false;
    }
    return true;
}

/* A connection accepted from l joins the table, watched for its first
 * request, with --header-timeout from now.  Returns -1 when there is no
 * memory for it (it was closed). */
static int adopt(struct gthread *g, const struct listener *l, int fd, struct sockaddr_storage *peer)
{
    struct gconn *gc = table_room(g) == 0 ? calloc(1, sizeof(*gc)) : NULL;
    if (gc == NULL) {
        close(fd);
        return -1;
    }
    gc->src.kind = SRC_CONN;
    ATOMIC_FIELD(gc->state);
    conn_open(&gc->c, fd, l, l->family, peer);
    enter(gc, GC_IDLE, ms(g->w->cfg->header_timeout));
    gc->slot = g->nconns;
    g->conns[g->nconns++] = gc;
    if (watch(g, gc) < 0)
        drop(g, gc);
    publish(g);
    return 0;
}

/* worker_drain's way in: what was queued when the server stops is served
 * like any connection (with Connection: close), whatever
 * --worker-connections says: the backlog bounds it. */
static void adopt_queued(void *arg, const struct listener *l, int fd, struct sockaddr_storage *peer)
{
    adopt(arg, l, fd, peer);
}

static void accept_ready(struct gthread *g, size_t index)
{
    const struct listener *l = &g->w->ctx->listeners[index];
    while (g->nconns < (size_t)g->w->cfg->worker_connections && g->w->alive) {
        if (!my_turn(g)) {
            g->yield_until = conn_now_ms() + YIELD_MS;
            set_listening(g, false);
            return;
        }
        struct sockaddr_storage peer;
        int fd = worker_accept(g->w, l, &peer);
        if (fd == WORKER_ACCEPT_STARVED) { /* away from the listeners for a while */
            g->yield_until = conn_now_ms() + WORKER_STARVED_MS;
            set_listening(g, false);
            return;
        }
        if (fd < 0 || adopt(g, l, fd, &peer) < 0)
            return;
    }
}

/* ---- the loop ----------------------------------------------------------- */

static int setup(struct gthread *g)
{
    g->epfd = epoll_create1(EPOLL_CLOEXEC);
    g->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (g->epfd < 0 || g->wakefd < 0)
        return -1;
    g->signals_src.kind = SRC_SIGNALS;
    g->wake_src.kind = SRC_WAKE;
    for (size_t i = 0; i < g->w->ctx->num_listeners; i++)
        g->listener_src[i] = (struct source){SRC_LISTENER, i};
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &g->signals_src};
    struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &g->wake_src};
    if (epoll_ctl(g->epfd, EPOLL_CTL_ADD, signals_fd(), &sev) < 0 ||
        epoll_ctl(g->epfd, EPOLL_CTL_ADD, g->wakefd, &wev) < 0)
        return -1;
    set_listening(g, true);
    return gthread_pool_start(g);
}

/* Free what the loop kept: the spare request objects (their Python parts
 * with the GIL, taken through the loop thread's state). */
static void teardown(struct gthread *g)
{
    PyEval_RestoreThread(g->w->tstate);
    for (struct spare *q = g->spares; q != NULL; q = q->next)
        wsgi_request_free(&q->r);
    g->w->tstate = PyEval_SaveThread();
    while (g->spares != NULL) {
        struct spare *q = g->spares;
        g->spares = q->next;
        request_free(&q->r);
        free(q);
    }
    free(g->conns);
    if (g->wakefd >= 0)
        close(g->wakefd);
    if (g->epfd >= 0)
        close(g->epfd);
    pthread_cond_destroy(&g->more);
    pthread_mutex_destroy(&g->lock);
}

static void handle(struct gthread *g, const struct epoll_event *ev)
{
    const struct source *src = ev->data.ptr;
    switch (src->kind) {
    case SRC_LISTENER:
        accept_ready(g, src->index);
        break;
    case SRC_SIGNALS: /* worker_tick reads them */
        break;
    case SRC_WAKE:
        take_returned(g);
        break;
    case SRC_CONN:
        if (!gthread_claim(ev->data.ptr))
            break;
        g->current = ev->data.ptr;
        conn_event(g, g->current);
        /* Still the loop's (not dropped, not in the pool): arm it again. */
        if (g->current != NULL && watch(g, g->current) < 0)
            drop(g, g->current);
        g->current = NULL;
        break;
    }
}

void gthread_loop(struct worker *w)
{
    struct gthread g;
    struct epoll_event evs[MAX_EVENTS];
    memset(&g, 0, sizeof(g));
    g.w = w;
    g.epfd = g.wakefd = -1;
    pthread_mutex_init(&g.lock, NULL);
    pthread_cond_init(&g.more, NULL);
    if (setup(&g) < 0) {
        log_msg(LOG_ERROR, "gthread: cannot start: %s", strerror(errno));
        goto done;
    }
    int64_t next_sweep = conn_now_ms() + SWEEP_MS;
    for (;;) {
        if (!worker_tick(w))
            begin_shutdown(&g);
        if (g.shutting && g.nconns == 0)
            break;
        publish(&g);
        int64_t now = conn_now_ms();
        if (!g.shutting)
            set_listening(&g,
                          g.nconns < (size_t)w->cfg->worker_connections && now >= g.yield_until);
        int wait_ms = g.nconns > 0 ? SWEEP_MS : worker_idle_ms(w);
        if (!g.shutting && now < g.yield_until)
            wait_ms = (int)(g.yield_until - now);
        int n = epoll_wait(g.epfd, evs, MAX_EVENTS, wait_ms);
        if (n < 0 && errno != EINTR) {
            log_msg(LOG_ERROR, "epoll_wait failed: %s", strerror(errno));
            break;
        }
        /* Handling one event drops no other connection (only the loop's
         * top, the sweep and shutdown do), so every pointer in the batch
         * is still alive. */
        for (int i = 0; i < n; i++)
            handle(&g, &evs[i]);
        if (conn_now_ms() >= next_sweep) {
            sweep(&g);
            next_sweep = conn_now_ms() + SWEEP_MS;
        }
    }
done:
    w->ctx->board->conns[w->ctx->slot] = -1; /* no longer takes connections */
    gthread_pool_stop(&g);
    teardown(&g);
}
