/*
 * gthread.h - the gthread worker class: one event loop per worker for the
 * connections, a pool of threads for the app.
 *
 * An extra (Gunicorn counterpart: gunicorn/workers/gthread.py).  main.c
 * plugs gthread_loop into the worker_loop slot (plugins.h) when
 * config_gthread() says so; worker.c boots the worker as for the sync
 * worker, then hands over its loop.
 * Owns: the loop thread's epoll set, the connections of this worker and
 * their states, the request objects not in use, the ready queue and the
 * pool threads (each with its own PyThreadState).
 * Does not own: the request path itself (worker.c's worker_head_step and
 * worker_run_app, the stages they call) or any socket operation (conn.c).
 */
#ifndef GREENHORN_GTHREAD_H
#define GREENHORN_GTHREAD_H

struct worker;

/*
 * gthread_loop - serve until the worker should exit (TERM, --max-requests,
 * the master gone): accept and read request heads in this thread, without
 * the GIL; run each complete request on one of cfg->threads pool threads;
 * keep connections alive for cfg->keepalive seconds.  On the way out it
 * stops accepting, closes idle connections, answers the requests in flight
 * with "Connection: close", and joins the threads.  Called and returns
 * without the GIL (w->tstate holds the calling thread's state).
 */
void gthread_loop(struct worker *w);

#endif
