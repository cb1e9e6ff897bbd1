/*
 * gthread_pool.c - the gthread worker's pool threads, and the hand-offs of
 * a connection between them and the loop thread (gthread.c).
 *
 * An extra, the second half of the gthread worker (gthread.h).  Everything
 * here but gthread_pool_submit, gthread_pool_take_done and gthread_claim
 * (called by the loop) runs on a pool thread.
 * Owns: the pool threads (each with its own PyThreadState), the ready queue
 * and the done list (under the lock of struct gthread), and, while a
 * connection is GC_APP, that connection and its request object.
 * Does not own: the request path (worker.c's worker_run_app: environ, the
 * app, the response), or any socket call but epoll_ctl (conn.c).
 *
 * A pool thread takes the GIL only while Python runs (worker_run_app), and
 * lets go of it around every socket write (wsgi.c) and body read
 * (input.c).  A request comes to it complete (the loop read the head, and
 * a small body), so it never waits for a slow client unless the app reads
 * a large body.
 */
#include "gthread_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "conn.h"
#include "input.h"
#include "request.h"
#include "worker.h"

/* gthread_pool_submit - see gthread_internal.h. */
void gthread_pool_submit(struct gthread *g, struct gconn *gc)
{
    gc->next = NULL;
    pthread_mutex_lock(&g->lock);
    if (g->ready_tail != NULL)
        g->ready_tail->next = gc;
    else
        g->ready_head = gc;
    g->ready_tail = gc;
    pthread_cond_signal(&g->more);
    pthread_mutex_unlock(&g->lock);
}

/* gthread_pool_take_done - see gthread_internal.h. */
struct gconn *gthread_pool_take_done(struct gthread *g)
{
    uint64_t count;
    while (read(g->wakefd, &count, sizeof(count)) < 0 && errno == EINTR)
        continue;
    pthread_mutex_lock(&g->lock);
    struct gconn *list = g->done;
    g->done = NULL;
    pthread_mutex_unlock(&g->lock);
    return list;
}

/*
 * One request, in a pool thread: worker_run_app takes the GIL through ts
 * only while Python runs.  Keep-alive only while the worker is not shutting
 * down and --keep-alive is not 0.  A kept connection gets its request
 * object ready for the next request, starting with any bytes that came
 * after this one (pipelined).
 */
static void serve_one(struct gthread *g, struct gconn *gc, PyThreadState **ts)
{
    struct request *r = &gc->q->r;
    bool keep = g->w->cfg->keepalive > 0 && !atomic_load(&g->w->closing);
    worker_run_app(g->w, r, ts, keep);
    if (!r->resp.keep_alive)
        return; /* closed */
    size_t len;
    const char *tail = input_tail(r, &len);
    struct http_proxy proxy = r->proxy; /* the connection's, from its first request */
    worker_request_begin(g->w, r, &gc->c);
    r->proxy = proxy;
    r->proxy_pending = false;
    if (request_carry(r, tail, len) < 0)
        conn_close(&gc->c, true); /* a next head larger than any we take */
}

/*
 * A kept connection with nothing of its next request read yet goes back to
 * the loop from here: the pool thread arms its socket again (epoll_ctl is
 * safe from any thread) and lets go of it, idle, with its request object
 * (the sweep takes that back).  Through the done list it cost the loop an
 * eventfd wake-up, a read and the epoll_ctl, and the pool thread the write.
 * The order is what makes it safe: what the loop reads of gc (the count,
 * the PROXY result, the deadline) is written first; the socket is armed
 * while gc is still GC_APP, so the loop's sweep and shutdown keep off it;
 * then one compare-and-swap, GC_APP to GC_IDLE, is the thread's last touch
 * of gc: from then on the loop may serve or drop it.  The client's next
 * request may beat that swap: the loop, handed an event for a connection
 * in GC_APP, swaps in GC_EARLY instead and leaves it be (claim), and the
 * thread, its swap failed, still owns gc and sends it through the done
 * list, where arming it again brings the event back.  Neither side waits
 * for the other.  Returns false when gc must go through the done list:
 * closed, holding pipelined bytes (the loop parses heads), the worker
 * shutting down (the loop closes it), the socket not armed, or GC_EARLY.
 */
static bool rearm(struct gthread *g, struct gconn *gc)
{
    const struct request *r = &gc->q->r;
    if (gc->c.fd < 0 || r->head_read > 0 || atomic_load(&g->w->closing))
        return false;
    gc->requests++;
    gc->proxy = r->proxy;
    gc->deadline = conn_now_ms() + ms(g->w->cfg->keepalive);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = gc};
    enum gconn_state serving = GC_APP;
    int fd = gc->c.fd;
    TO_LOOP(gc);
    if (epoll_ctl(g->epfd, EPOLL_CTL_MOD, fd, &ev) == 0 &&
        atomic_compare_exchange_strong_explicit(&gc->state, &serving, GC_IDLE, memory_order_release,
                                                memory_order_acquire))
        return true;
    FROM_LOOP(gc);
    gc->requests--; /* returned() counts it */
    return false;
}

/* The signals the loop thread handles stay off the pool threads. */
static void block_worker_signals(sigset_t *old)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGABRT);
    pthread_sigmask(SIG_BLOCK, &set, old);
}

static void *pool_main(void *arg)
{
    struct gthread *g = arg;
    PyGILState_STATE gil = PyGILState_Ensure(); /* this thread's own PyThreadState */
    PyThreadState *ts = PyEval_SaveThread();
    uint64_t one = 1;
    for (;;) {
        pthread_mutex_lock(&g->lock);
        while (g->ready_head == NULL && !g->stop)
            pthread_cond_wait(&g->more, &g->lock);
        struct gconn *gc = g->ready_head;
        if (gc == NULL) {
            pthread_mutex_unlock(&g->lock);
            break;
        }
        g->ready_head = gc->next;
        if (g->ready_head == NULL)
            g->ready_tail = NULL;
        pthread_mutex_unlock(&g->lock);

        serve_one(g, gc, &ts);
        if (rearm(g, gc))
            continue;

        pthread_mutex_lock(&g->lock);
        bool told = g->done != NULL; /* the loop has a wake-up coming already */
        gc->next = g->done;
        g->done = gc;
        pthread_mutex_unlock(&g->lock);
        while (!told && write(g->wakefd, &one, sizeof(one)) < 0 && errno == EINTR)
            continue;
    }
    PyEval_RestoreThread(ts);
    PyGILState_Release(gil);
    return NULL;
}

/* gthread_pool_start - see gthread_internal.h. */
int gthread_pool_start(struct gthread *g)
{
    sigset_t old;
    g->threads = calloc((size_t)g->w->cfg->threads, sizeof(*g->threads));
    if (g->threads == NULL)
        return -1;
    block_worker_signals(&old); /* inherited by the threads made now */
    int rc = 0;
    for (int i = 0; i < g->w->cfg->threads && rc == 0; i++) {
        rc = pthread_create(&g->threads[i], NULL, pool_main, g);
        if (rc == 0)
            g->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        errno = rc;
    return rc == 0 ? 0 : -1;
}

/* gthread_pool_stop - see gthread_internal.h. */
void gthread_pool_stop(struct gthread *g)
{
    pthread_mutex_lock(&g->lock);
    g->stop = true;
    pthread_cond_broadcast(&g->more);
    pthread_mutex_unlock(&g->lock);
    for (int i = 0; i < g->nthreads; i++)
        pthread_join(g->threads[i], NULL);
    free(g->threads);
}

/*
 * gthread_claim - see gthread_internal.h.  The loop's half of rearm's
 * hand-off: a connection still in GC_APP has had its socket armed by its
 * pool thread, and the client's next request came before the thread's
 * swap that lets go of it.  GC_EARLY tells the thread (see rearm); from
 * here on gc is the thread's alone, and the event is not the loop's.
 */
bool gthread_claim(struct gconn *gc)
{
    enum gconn_state serving = GC_APP;
    TO_POOL(gc);
    return state_of(gc) != GC_APP ||
           !atomic_compare_exchange_strong_explicit(&gc->state, &serving, GC_EARLY,
                                                    memory_order_acq_rel, memory_order_acquire);
}
