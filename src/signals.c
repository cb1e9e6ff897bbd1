/*
 * signals.c - signals as bytes in a pipe (the self-pipe trick).
 *
 * Stage 9, signals (Gunicorn counterpart: SIG_QUEUE and PIPE in
 * gunicorn/arbiter.py).  See signals.h for why handlers only record.
 */
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

const int signals_master[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGTERM, SIGCHLD,
                              SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGWINCH};
const size_t signals_master_count = sizeof(signals_master) / sizeof(signals_master[0]);

static int pipe_fds[2] = {-1, -1};

/* Also recorded: "something arrived".  A busy worker reads this flag
 * between requests (free) instead of reading the pipe (a system call). */
static volatile sig_atomic_t pending;

/* The whole handler: one write(2), which is async-signal-safe.  errno is
 * saved because the interrupted code may be about to read it. */
static void record_signal(int signo)
{
    int saved = errno;
    pending = 1;
    unsigned char byte = (unsigned char)signo;
    if (pipe_fds[1] >= 0) {
        /* A full pipe means the loop already has plenty to wake up for. */
        ssize_t ignored = write(pipe_fds[1], &byte, 1);
        (void)ignored;
    }
    errno = saved;
}

void signals_note(int signo)
{
    record_signal(signo);
}

static void close_pipe(void)
{
    for (int i = 0; i < 2; i++) {
        if (pipe_fds[i] >= 0)
            close(pipe_fds[i]);
        pipe_fds[i] = -1;
    }
}

int signals_init(const int *sigs, size_t n)
{
    close_pipe();
    if (pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) < 0)
        return -1;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = record_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocking call in the loop should return EINTR and let
     * the loop look at the pipe.  SA_NOCLDSTOP: a stopped child is not news. */
    sa.sa_flags = SA_NOCLDSTOP;
    for (size_t i = 0; i < n; i++)
        if (sigaction(sigs[i], &sa, NULL) < 0)
            return -1;

    signal(SIGPIPE, SIG_IGN);
    return pipe_fds[0];
}

/* The set of sigs[0..n) blocked (how = SIG_BLOCK) or unblocked. */
static void mask(int how, const int *sigs, size_t n)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < n; i++)
        sigaddset(&set, sigs[i]);
    pthread_sigmask(how, &set, NULL);
}

void signals_hold(const int *sigs, size_t n)
{
    mask(SIG_BLOCK, sigs, n);
}

void signals_unhold(const int *sigs, size_t n)
{
    mask(SIG_UNBLOCK, sigs, n);
}

int signals_fd(void)
{
    return pipe_fds[0];
}

int signals_pending(void)
{
    return pending;
}

int signals_next(void)
{
    unsigned char byte;
    pending = 0; /* cleared before reading, so a signal arriving now is not lost */
    if (pipe_fds[0] < 0)
        return 0;
    for (;;) {
        ssize_t n = read(pipe_fds[0], &byte, 1);
        if (n == 1)
            return byte;
        if (n < 0 && errno == EINTR)
            continue;
        return 0; /* EAGAIN: nothing waiting */
    }
}

void signals_default(const int *sigs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        signal(sigs[i], SIG_DFL);
    close_pipe();
}

const char *signals_name(int signo)
{
    switch (signo) {
    case SIGHUP:
        return "hup";
    case SIGINT:
        return "int";
    case SIGQUIT:
        return "quit";
    case SIGTERM:
        return "term";
    case SIGCHLD:
        return "chld";
    case SIGTTIN:
        return "ttin";
    case SIGTTOU:
        return "ttou";
    case SIGUSR1:
        return "usr1";
    case SIGUSR2:
        return "usr2";
    case SIGWINCH:
        return "winch";
    case SIGABRT:
        return "abrt";
    default:
        return "unknown";
    }
}
