/*
 * gthread_internal.h - what the two halves of the gthread worker share:
 * gthread.c, the loop thread (accept, request heads, small bodies,
 * timeouts, shutdown), and gthread_pool.c, the pool threads (run the app,
 * write the response, give the connection back).
 *
 * An extra's private header: only those two files include it.
 * Who owns what: struct gthread lives in gthread_loop's frame and is the
 * loop thread's, except its "shared" part (the ready queue, the done list,
 * stop), which either side touches only under lock.  A struct gconn and
 * its request object are the loop's, lent to one pool thread while the
 * connection is GC_APP (or GC_EARLY); the pool thread gives it back with
 * rearm's compare-and-swap or through the done list.
 */
#ifndef GREENHORN_GTHREAD_INTERNAL_H
#define GREENHORN_GTHREAD_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "request.h"
#include "worker.h"

/* Helgrind (make memcheck) knows pthread's locks, not C11 atomics nor what
 * the kernel's epoll orders: the hand-overs of a connection that rest on
 * those (rearm, claim) are told to it, one tag per direction, and the
 * atomic state itself is left out of its checks, so that it reports only
 * real races.  A few no-op instructions outside valgrind; nothing at all
 * without valgrind's header. */
#if defined(__has_include)
#if __has_include(<valgrind/helgrind.h>)
#include <valgrind/helgrind.h>
#define TO_LOOP(gc)     ANNOTATE_HAPPENS_BEFORE(&(gc)->src)
#define FROM_POOL(gc)   ANNOTATE_HAPPENS_AFTER(&(gc)->src)
#define TO_POOL(gc)     ANNOTATE_HAPPENS_BEFORE(&(gc)->c)
#define FROM_LOOP(gc)   ANNOTATE_HAPPENS_AFTER(&(gc)->c)
#define ATOMIC_FIELD(f) VALGRIND_HG_DISABLE_CHECKING(&(f), sizeof(f))
#define PLAIN_FIELD(f)  VALGRIND_HG_ENABLE_CHECKING(&(f), sizeof(f))
#endif
#endif
#ifndef TO_LOOP
#define TO_LOOP(gc)     ((void)(gc))
#define FROM_POOL(gc)   ((void)(gc))
#define TO_POOL(gc)     ((void)(gc))
#define FROM_LOOP(gc)   ((void)(gc))
#define ATOMIC_FIELD(f) ((void)(f))
#define PLAIN_FIELD(f)  ((void)(f))
#endif

/* What an epoll event is about: the first member of everything registered. */
enum source_kind { SRC_LISTENER, SRC_SIGNALS, SRC_WAKE, SRC_CONN };

struct source {
    enum source_kind kind;
    size_t index; /* SRC_LISTENER: which one */
};

/* Where a connection is in its life; each state has its own timeout. */
enum gconn_state {
    GC_IDLE,   /* no request started: --keep-alive (or, before the first, --header-timeout) */
    GC_HEAD,   /* reading a request head: --header-timeout */
    GC_BODY,   /* reading a small body whole: --body-timeout of silence */
    GC_APP,    /* with a pool thread, its socket disarmed (watch): the loop keeps off */
    GC_EARLY,  /* still with it, but its next request came before rearm let go: the
                * pool thread sends it through the done list */
    GC_LINGER, /* refused: discarding what the client still sends (RFC 9112 section 9.6) */
};

/* A request object with its link in the list of those not in use. */
struct spare {
    struct request r;
    struct spare *next;
};

/* One connection.  Owned by the loop, lent to one pool thread in GC_APP;
 * state is atomic because the loop's sweep and shutdown read it while a
 * pool thread may hold the connection (see rearm). */
struct gconn {
    struct source src; /* SRC_CONN; first, so an event's pointer names it */
    struct conn c;
    struct spare *q; /* the request in progress; while idle, NULL or one made
                      * ready by the pool thread (rearm), until the sweep */
    _Atomic enum gconn_state state;
    bool watched;            /* in the epoll set (armed for one event, or not) */
    int64_t deadline;        /* ms: when this state's time is up */
    size_t lingered;         /* GC_LINGER: bytes discarded so far */
    unsigned long requests;  /* answered on this connection */
    struct http_proxy proxy; /* what its PROXY header said: it comes once, first */
    size_t slot;             /* index in struct gthread's conns */
    struct gconn *next;      /* in the ready queue or the done list */
};

struct gthread {
    struct worker *w;
    int epfd, wakefd;
    struct source listener_src[CONFIG_MAX_BINDS], signals_src, wake_src;
    bool listening;        /* the listeners are in the epoll set */
    struct gconn *current; /* the connection handle() is at; NULL once dropped or dispatched */
    int64_t yield_until;   /* away from the listeners until then (my_turn) */
    bool shutting;         /* shutdown has begun */
    struct gconn **conns;  /* every open connection (loop thread only) */
    size_t nconns, cap;
    struct spare *spares; /* request objects not in use (loop thread only) */

    /* Shared with the pool threads, under lock. */
    pthread_mutex_t lock;
    pthread_cond_t more;                   /* the ready queue is not empty, or stop */
    struct gconn *ready_head, *ready_tail; /* complete requests, first come first served */
    struct gconn *done;                    /* back from the pool, for the loop */
    bool stop;                             /* the pool threads leave */
    pthread_t *threads;
    int nthreads;
};

/* A connection's state as the loop's sweep and shutdown read it: acquire,
 * so that a state a pool thread released (rearm) comes with the deadline
 * and the counts it wrote before. */
static inline enum gconn_state state_of(struct gconn *gc)
{
    enum gconn_state state = atomic_load_explicit(&gc->state, memory_order_acquire);
    FROM_POOL(gc);
    return state;
}

static inline void set_state(struct gconn *gc, enum gconn_state state)
{
    atomic_store_explicit(&gc->state, state, memory_order_release);
}

/* A setting in seconds, as the milliseconds of a deadline. */
static inline int64_t ms(int seconds)
{
    return (int64_t)seconds * 1000;
}

/* ---- gthread_pool.c: the loop's ways into the pool ---------------------- */

/* gthread_pool_start - start cfg->threads pool threads (signals blocked in
 * them: the loop thread handles those).  Returns 0, or -1 with errno. */
int gthread_pool_start(struct gthread *g);

/* gthread_pool_stop - tell the pool threads to leave once the queue is
 * empty, and join them.  The loop calls it when it holds no connection,
 * so no request is waiting then. */
void gthread_pool_stop(struct gthread *g);

/* gthread_pool_submit - queue gc, its request complete and the connection
 * already GC_APP, for the next free pool thread (first come, first served). */
void gthread_pool_submit(struct gthread *g, struct gconn *gc);

/* gthread_pool_take_done - the connections the pool threads handed back
 * through the done list (after the eventfd woke the loop), as a list
 * linked by next; the eventfd is read empty. */
struct gconn *gthread_pool_take_done(struct gthread *g);

/* gthread_claim - is an event's connection the loop's to handle?  Not while
 * a pool thread still holds it (see rearm in gthread_pool.c). */
bool gthread_claim(struct gconn *gc);

#endif
