/*
 * signals.h - signals as bytes in a pipe (the self-pipe trick).
 *
 * Stage 9, signals (Gunicorn counterpart: the SIG_QUEUE and PIPE of
 * gunicorn/arbiter.py).
 * Owns: the pipe and the C signal handlers.  Does not own: what a signal
 * means; the master loop (arbiter.c) and the worker loop (worker.c) decide.
 *
 * Why: a signal handler may run between any two instructions, so it must do
 * almost nothing (see "Async-signal-safe functions", signal-safety(7)).  Ours
 * writes the signal number as one byte into a pipe and returns.  The loops
 * poll the pipe's read end beside their sockets and act on the byte in
 * ordinary code, where anything is safe.
 */
#ifndef GREENHORN_SIGNALS_H
#define GREENHORN_SIGNALS_H

#include <stddef.h>

/*
 * signals_master - the signals the master catches (arbiter.h says what each
 * means), in one list: the arbiter routes them to its pipe, and a worker
 * sets them back to their default action right after fork.
 */
extern const int signals_master[];
extern const size_t signals_master_count;

/*
 * signals_init - create a fresh pipe (both ends non-blocking, close-on-exec),
 * closing the one this process had (a forked worker must not share the
 * master's pipe), and route each signal in sigs[0..n) to it.  SIGPIPE is set
 * to ignored: a client that goes away shows up as EPIPE, never a dead worker.
 * Returns the read end, or -1 with errno.
 */
int signals_init(const int *sigs, size_t n);

/*
 * signals_hold / signals_unhold - block or unblock the signals in sigs[0..n)
 * in this thread.  The master holds its own signals around a worker's fork,
 * and the worker lets them through once it has its own handlers: a TERM
 * sent to a worker forked a moment earlier would otherwise run the
 * master's handler in the worker, and be lost (the master would then wait
 * out --graceful-timeout for a worker that never heard it).  A signal that
 * arrives while held waits, and is delivered when let through.
 */
void signals_hold(const int *sigs, size_t n);
void signals_unhold(const int *sigs, size_t n);

/* signals_fd - the read end to poll, or -1 before signals_init. */
int signals_fd(void);

/* signals_note - record signo as the pipe's own handler does: for another
 * signal handler (an extra's) that also wants the loop woken.
 * Async-signal-safe. */
void signals_note(int signo);

/* signals_pending - non-zero when a signal may be waiting (no system call). */
int signals_pending(void);

/* signals_next - the next recorded signal number, or 0 when none is waiting. */
int signals_next(void);

/*
 * signals_default - restore the default action for sigs[0..n) and close the
 * pipe.  Used by a worker right after fork, before it sets up its own.
 */
void signals_default(const int *sigs, size_t n);

/* signals_name - "term", "hup", ... as Gunicorn logs them ("unknown" for others). */
const char *signals_name(int signo);

#endif
