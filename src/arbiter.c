/*
 * arbiter.c - the master process: keep the right number of workers alive.
 *
 * Stage 3, fork (Gunicorn counterpart: gunicorn/arbiter.py).
 * Owns: the worker table, fork/reap/respawn, the heartbeat check and the
 * master's signals (see arbiter.h for the table).
 * Does not own: serving requests (worker.c), running a config file's
 * hooks (master_hooks.c: the master only says when).  The master never
 * imports the app unless --preload asks it to: a bug in the app can never
 * take it down.  (When python3 runs greenhorn, pyhost.c, the master has an
 * interpreter, idle; otherwise it has none and stays small.)
 *
 * The heartbeat: each worker writes the time into its slot of a shared
 * memory page on every turn of its loop.  Gunicorn uses a temp file's mtime
 * for the same purpose (WorkerTmp); shared memory costs no system call.
 * A slot older than --timeout means the worker is stuck: the master sends
 * SIGABRT (faulthandler logs the Python stack), then SIGKILL on its next turn.
 */
#include "arbiter.h"
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "plugins.h"
#include "signals.h"
#include "worker.h"
#include "wsgi.h"

#define MAX_SLOTS WORKER_MAX_SLOTS
#define LOOP_MS   1000 /* the master wakes at least this often */

struct proc {
    pid_t pid;     /* 0 = free slot */
    int age;       /* spawn order: the oldest are retired first */
    bool aborted;  /* SIGABRT sent for a timeout; SIGKILL next */
    bool retiring; /* sent TERM (reload or fewer workers); not counted */
};

/* The master's state: one per process (the master is one process, and its
 * loop is single-threaded); nothing of a request is here. */
static struct {
    const struct config *cfg;
    struct listener *listeners;
    size_t num_listeners;
    void *app;
    const struct plugins *plugins; /* the extras' slots (plugins.h) */
    struct proc procs[MAX_SLOTS];
    volatile struct worker_board *board; /* shared with the workers (worker.h) */
    volatile int64_t *beats;             /* board->beats: MAX_SLOTS heartbeats */
    void *beats_map;                     /* the same memory, for munmap */
    int target;                          /* how many workers we want */
    int told;                            /* the count workers_changed last heard; -1 */
    int age;
    int halt_code;  /* > 0: a worker could not boot; stop with it */
    bool ready_due; /* READY=1 for the service manager once the new workers booted */
    const char *halt_reason;
    /* The binary upgrade (USR2), as in Gunicorn's arbiter: the new master
     * we started (reexec_pid), or, in a new master, the old one until it
     * exits (master_pid); and the name the log gives us meanwhile. */
    pid_t reexec_pid;
    pid_t master_pid;
    const char *name; /* "Master", or "Master.2" while the old one lives */
} arb;

/* ---- the config file's master hooks -------------------------------------- */

/* Run one of the master's hooks, when an extra runs them (the config
 * file's, in the hook process); a failure is logged.  Returns 0, or -1 if
 * it failed. */
static int run_hook(enum master_hook which, int pid, int age, int new_value, int old_value)
{
    char why[512];
    struct master_call call = {.which = which,
                               .num_workers = arb.target,
                               .worker_pid = pid,
                               .worker_age = age,
                               .new_value = new_value,
                               .old_value = old_value};
    if (arb.plugins->master_hook == NULL || arb.plugins->master_hook(&call, why, sizeof why) == 0)
        return 0;
    log_msg(LOG_ERROR, "%s", why);
    return -1;
}

/* Tell the service manager (systemd, through the notify extra) which
 * process is the service's main one: during an upgrade that changes. */
static void say_main_pid(pid_t pid)
{
    char state[32];
    if (arb.plugins->notify == NULL)
        return;
    snprintf(state, sizeof state, "MAINPID=%d", (int)pid);
    arb.plugins->notify(state);
}

/* ---- the worker table --------------------------------------------------- */

static int count_workers(bool include_retiring)
{
    int n = 0;
    for (int i = 0; i < MAX_SLOTS; i++)
        if (arb.procs[i].pid > 0 && (include_retiring || !arb.procs[i].retiring))
            n++;
    return n;
}

static int free_slot(void)
{
    for (int i = 0; i < MAX_SLOTS; i++)
        if (arb.procs[i].pid == 0)
            return i;
    return -1;
}

/* Fork one worker into slot i.  Returns 0, or -1 when fork failed. */
static int spawn_worker(int slot)
{
    struct worker_ctx ctx = {
        .cfg = arb.cfg,
        .listeners = arb.listeners,
        .num_listeners = arb.num_listeners,
        .heartbeat = &arb.beats[slot],
        .board = arb.board,
        .slot = slot,
        .age = ++arb.age,
        .master_pid = getpid(),
        .preloaded = arb.app != NULL,
        .app = arb.app,
        .plugins = arb.plugins,
    };
    arb.beats[slot] = conn_now_ms(); /* a fresh worker gets a full timeout to boot */
    arb.board->conns[slot] = -1;     /* not accepting until it says so */
    arb.board->booted[slot] = 0;     /* the worker says when its app is loaded */
    if (slot >= arb.board->high)
        arb.board->high = slot + 1;
    run_hook(MASTER_PRE_FORK, -1, ctx.age, 0, 0);
    wsgi_fork_prepare(); /* a master with Python in it: --preload, or run by python3 */
    signals_hold(signals_master, signals_master_count); /* until the worker has its own */
    pid_t pid = fork();
    if (pid == 0) {
        if (arb.plugins->master_forget != NULL)
            arb.plugins->master_forget();
        exit(worker_main(&ctx)); /* exit(), not _exit(): flush stdio and coverage data */
    }
    wsgi_fork_parent();
    signals_unhold(signals_master, signals_master_count);
    if (pid < 0) {
        log_msg(LOG_ERROR, "Unable to fork a worker: %s", strerror(errno));
        return -1;
    }
    arb.procs[slot] = (struct proc){.pid = pid, .age = ctx.age};
    return 0;
}

/* Send sig to every live worker. */
static void signal_all(int sig)
{
    for (int i = 0; i < MAX_SLOTS; i++)
        if (arb.procs[i].pid > 0)
            kill(arb.procs[i].pid, sig);
}

/* The live, non-retiring worker with the lowest age, or -1. */
static int oldest_worker(void)
{
    int best = -1;
    for (int i = 0; i < MAX_SLOTS; i++) {
        const struct proc *p = &arb.procs[i];
        if (p->pid > 0 && !p->retiring && (best < 0 || p->age < arb.procs[best].age))
            best = i;
    }
    return best;
}

/* Spawn or retire workers until the count matches the target. */
static void manage_workers(void)
{
    int n = count_workers(false);
    while (n > arb.target) {
        int i = oldest_worker();
        arb.procs[i].retiring = true;
        kill(arb.procs[i].pid, SIGTERM);
        n--;
    }
    while (n < arb.target && arb.halt_code == 0) {
        int slot = free_slot();
        if (slot < 0 || spawn_worker(slot) < 0)
            break;
        n++;
    }
    /* Gunicorn's manage_workers logs "N workers" (the gunicorn.workers
     * gauge) whenever the count differs from the last one it logged. */
    if (n != arb.told) {
        arb.told = n;
        log_msg(LOG_DEBUG, "%d workers", n);
        if (arb.plugins->workers_changed != NULL)
            arb.plugins->workers_changed(n);
    }
}

/* ---- reaping and the heartbeat ----------------------------------------- */

static void note_exit(struct proc *p, int status)
{
    if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        if (code == WORKER_EXIT_BOOT_ERROR || code == WORKER_EXIT_APP_ERROR) {
            arb.halt_code = code;
            arb.halt_reason =
                code == WORKER_EXIT_APP_ERROR ? "App failed to load." : "Worker failed to boot.";
        } else if (code != 0 && !p->aborted) { /* after worker_abort: 1, as in Gunicorn */
            log_msg(LOG_ERROR, "Worker (pid:%d) exited with code %d", (int)p->pid, code);
        }
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        if (sig == SIGKILL && !p->aborted)
            log_msg(LOG_WARNING, "Worker (pid:%d) was sent SIGKILL! Perhaps out of memory?",
                    (int)p->pid);
        else if (sig != SIGTERM && sig != SIGQUIT && sig != SIGINT)
            log_msg(LOG_WARNING, "Worker (pid:%d) was terminated by signal %d (%s)", (int)p->pid,
                    sig, strsignal(sig));
    }
}

/* A child is gone: free its slot, and run child_exit for a worker that did
 * not halt the master (Gunicorn stops before child_exit then). */
static void reaped(pid_t pid, int status)
{
    if (arb.plugins->master_reaped != NULL && arb.plugins->master_reaped(pid, status))
        return;
    if (pid == arb.reexec_pid) { /* the new master of an upgrade is gone: roll-back */
        log_msg(LOG_WARNING, "The new master (pid:%d) exited; this one goes on", (int)pid);
        arb.reexec_pid = 0;
        say_main_pid(getpid());
        return;
    }
    for (int i = 0; i < MAX_SLOTS; i++) {
        struct proc *p = &arb.procs[i];
        if (p->pid == pid) {
            note_exit(p, status);
            p->pid = 0;
            arb.board->conns[i] = -1; /* a killed worker cannot say so itself */
            if (arb.halt_code == 0)
                run_hook(MASTER_CHILD_EXIT, (int)pid, p->age, 0, 0);
            return;
        }
    }
}

/* Collect every exited worker (SIGCHLD). */
static void reap_workers(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        reaped(pid, status);
}

/* Kill workers whose heartbeat is older than --timeout (Gunicorn's
 * murder_workers): SIGABRT first, SIGKILL if that did not end it. */
static void murder_workers(void)
{
    if (arb.cfg->timeout <= 0)
        return;
    int64_t now = conn_now_ms();
    int64_t limit = (int64_t)arb.cfg->timeout * 1000;
    for (int i = 0; i < MAX_SLOTS; i++) {
        struct proc *p = &arb.procs[i];
        if (p->pid <= 0 || now - arb.beats[i] <= limit)
            continue;
        if (!p->aborted) {
            log_msg(LOG_CRITICAL, "WORKER TIMEOUT (pid:%d)", (int)p->pid);
            p->aborted = true;
            kill(p->pid, SIGABRT);
        } else {
            kill(p->pid, SIGKILL);
        }
    }
}

/* ---- telling the service manager (sd_notify, when an extra does it) ------ */

static void tell(const char *state)
{
    if (arb.plugins->notify != NULL)
        arb.plugins->notify(state);
}

/*
 * READY=1 once every worker we want has loaded the app: at start and after
 * a HUP (the new workers; the retiring ones do not count).  systemd then
 * starts the units ordered after us, and `systemctl start` returns, when
 * requests can really be answered.  Gunicorn 20.1 says READY=1 as soon as
 * it listens, before any worker is forked, and without MAINPID.
 */
static void tell_ready(void)
{
    char msg[1024];
    int booted = 0;

    if (!arb.ready_due || arb.plugins->notify == NULL)
        return;
    for (int i = 0; i < MAX_SLOTS; i++)
        if (arb.procs[i].pid > 0 && !arb.procs[i].retiring && arb.board->booted[i])
            booted++;
    if (booted < arb.target)
        return;
    int len = snprintf(msg, sizeof msg, "READY=1\nMAINPID=%d\nSTATUS=greenhorn %s: %d %s worker%s",
                       (int)getpid(), CONFIG_VERSION, booted,
                       config_gthread(arb.cfg) ? "gthread" : "sync", booted == 1 ? "" : "s");
    for (size_t i = 0; i < arb.num_listeners && len > 0 && (size_t)len < sizeof msg; i++)
        len += snprintf(msg + len, sizeof msg - (size_t)len, "%s%s", i ? ", " : ", listening at ",
                        arb.listeners[i].url);
    tell(msg);
    arb.ready_due = false;
}

/* ---- stopping ------------------------------------------------------------ */

/* Stop every worker: TERM (graceful) or QUIT (quick), wait up to the
 * graceful timeout while reaping, then SIGKILL what is left. */
static void stop_workers(bool graceful)
{
    /* A graceful stop loses no connection (Gunicorn loses the queued ones,
     * its issue #3397): the door closes first (no new connection enters the
     * accept queues), and the workers, seeing door_closed, serve what is
     * queued before they close their copies (worker_drain).  A unix
     * socket's door is its path, which bind_close removes now.  A TCP
     * socket's door is a filter on the socket itself, which outlives us
     * when someone else holds the socket too (systemd, the parent of an
     * fd://): we keep ours until the workers are gone, then take the filter
     * off before we close it, so the socket works again for its owner.
     * During an upgrade the other master serves the same sockets: the door
     * stays open and a unix socket's file stays (Gunicorn's stop() unlinks
     * only when reexec_pid == master_pid == 0); what is queued is the other
     * master's workers' to take. */
    bool shared = arb.reexec_pid != 0 || arb.master_pid != 0;
    if (graceful && !shared) {
        for (size_t i = 0; i < arb.num_listeners; i++)
            if (bind_close_door(&arb.listeners[i]) < 0)
                log_msg(LOG_WARNING, "Cannot close %s to new connections: %s", arb.listeners[i].url,
                        strerror(errno));
        arb.board->door_closed = conn_now_ms();
    }
    for (size_t i = 0; i < arb.num_listeners; i++) {
        if (shared)
            bind_release(&arb.listeners[i]);
        else if (!graceful || arb.listeners[i].family == AF_UNIX)
            bind_close(&arb.listeners[i]);
    }
    signal_all(graceful ? SIGTERM : SIGQUIT);
    int64_t deadline = conn_now_ms() + (int64_t)arb.cfg->graceful_timeout * 1000;
    while (count_workers(true) > 0 && conn_now_ms() < deadline) {
        struct pollfd p = {.fd = signals_fd(), .events = POLLIN};
        poll(&p, 1, 100);
        while (signals_next() != 0)
            ; /* CHLD wakes us; a second TERM changes nothing */
        reap_workers();
    }
    if (count_workers(true) > 0) {
        signal_all(SIGKILL);
        for (int i = 0; i < MAX_SLOTS; i++) {
            int status;
            pid_t pid = arb.procs[i].pid;
            if (pid > 0 && waitpid(pid, &status, 0) == pid)
                reaped(pid, status);
            arb.procs[i].pid = 0;
        }
    }
    for (size_t i = 0; i < arb.num_listeners; i++) {
        bind_open_door(&arb.listeners[i]);
        bind_close(&arb.listeners[i]);
    }
}

/* HUP reads the settings again first, as Gunicorn's reload (app.reload(),
 * then setup()): the worker count goes back to the configured one, undoing
 * TTIN and TTOU, and nworkers_changed runs as Gunicorn's num_workers setter
 * runs it.  Settings that do not read are logged; the old ones stay. */
static void reread_settings(void)
{
    char why[1024];
    int old = arb.target;
    if (arb.plugins->reread_config != NULL && arb.plugins->reread_config(why, sizeof why) < 0)
        log_msg(LOG_ERROR, "%s; the old settings stay", why);
    arb.target = arb.cfg->workers;
    run_hook(MASTER_NWORKERS_CHANGED, 0, 0, arb.target, old);
}

/* HUP: new workers first, then the old ones drain and go (no request is
 * refused while this happens: the listening sockets never close). */
static void reload(void)
{
    log_msg(LOG_INFO, "Hang up: %s", arb.name);
    /* sd_notify(3): RELOADING=1 with the monotonic clock, READY=1 when the
     * new workers are up (tell_ready). */
    struct timespec now;
    char msg[128];
    clock_gettime(CLOCK_MONOTONIC, &now);
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%lld\nSTATUS=reloading",
             (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000);
    tell(msg);
    arb.ready_due = true;
    bool rollback = arb.target == 0; /* after WINCH: the workers come back */
    reread_settings();               /* the configured count again */
    run_hook(MASTER_ON_RELOAD, 0, 0, 0, 0);
    if (rollback && arb.reexec_pid != 0)
        say_main_pid(getpid()); /* under systemd, the service is ours again */
    for (int i = 0; i < MAX_SLOTS; i++)
        if (arb.procs[i].pid > 0)
            arb.procs[i].retiring = true;
    for (int n = 0; n < arb.target; n++) {
        int slot = free_slot();
        if (slot < 0 || spawn_worker(slot) < 0)
            break;
    }
    for (int i = 0; i < MAX_SLOTS; i++)
        if (arb.procs[i].pid > 0 && arb.procs[i].retiring)
            kill(arb.procs[i].pid, SIGTERM);
}

/* ---- the binary upgrade (USR2, WINCH) ------------------------------------ */

/* USR2: start a new master from the binary greenhorn was started as, with
 * the listeners inherited (Gunicorn's reexec).  One upgrade at a time, and
 * not from a new master whose old one still lives, as in Gunicorn. */
static void upgrade(void)
{
    if (arb.plugins->upgrade_exec == NULL)
        return;
    if (arb.reexec_pid != 0) {
        log_msg(LOG_WARNING, "USR2 signal ignored. Child exists.");
        return;
    }
    if (arb.master_pid != 0) {
        log_msg(LOG_WARNING, "USR2 signal ignored. Parent exists.");
        return;
    }
    /* Gunicorn runs pre_exec in the forked child; here it runs in the hook
     * process, before the fork, and a failing one stops the upgrade as an
     * exception in Gunicorn's child does. */
    if (run_hook(MASTER_PRE_EXEC, 0, 0, 0, 0) < 0)
        return;
    pid_t pid = arb.plugins->upgrade_exec(arb.listeners, arb.num_listeners);
    if (pid > 0)
        arb.reexec_pid = pid;
}

/*
 * WINCH: retire every worker and keep the master (and the sockets), so
 * that after an upgrade the old master can come back with HUP.  Gunicorn
 * acts on it only when daemonized, because a terminal sends WINCH to its
 * foreground process group whenever its window is resized; greenhorn
 * ignores it in that one case (the master in the foreground of its
 * controlling terminal) and acts everywhere else: under a supervisor, in
 * a session of its own, or daemonized (no terminal at all).
 */
static void winch(void)
{
    int tty = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);
    bool foreground = tty >= 0 && tcgetpgrp(tty) == getpgrp();
    if (tty >= 0)
        close(tty);
    if (foreground) {
        log_msg(LOG_DEBUG, "SIGWINCH ignored. In the foreground of a terminal");
        return;
    }
    log_msg(LOG_INFO, "graceful stop of workers");
    if (arb.target != 0)
        run_hook(MASTER_NWORKERS_CHANGED, 0, 0, 0, arb.target);
    arb.target = 0;
    for (int i = 0; i < MAX_SLOTS; i++)
        if (arb.procs[i].pid > 0) {
            arb.procs[i].retiring = true;
            kill(arb.procs[i].pid, SIGTERM);
        }
}

/* A new master whose old one has exited (we were reparented) takes over:
 * the pid file, and USR2 works again (Gunicorn's maybe_promote_master). */
static void maybe_promote(void)
{
    if (arb.master_pid == 0 || getppid() == arb.master_pid)
        return;
    log_msg(LOG_INFO, "Master has been promoted.");
    arb.master_pid = 0;
    arb.name = "Master";
    if (arb.plugins->upgrade_promoted != NULL)
        arb.plugins->upgrade_promoted();
}

/* ---- the loop ------------------------------------------------------------ */

/* Act on one signal.  Returns true when the master should stop. */
static bool handle_signal(int sig, bool *graceful)
{
    if (sig != SIGCHLD)
        log_msg(LOG_INFO, "Handling signal: %s", signals_name(sig));
    switch (sig) {
    case SIGCHLD:
        reap_workers();
        return false;
    case SIGHUP:
        reload();
        return false;
    case SIGTERM:
        *graceful = true;
        return true;
    case SIGINT:
    case SIGQUIT:
        *graceful = false;
        return true;
    case SIGTTIN:
        arb.target++;
        run_hook(MASTER_NWORKERS_CHANGED, 0, 0, arb.target, arb.target - 1);
        return false;
    case SIGTTOU:
        if (arb.target > 1) {
            arb.target--;
            run_hook(MASTER_NWORKERS_CHANGED, 0, 0, arb.target, arb.target + 1);
        }
        return false;
    case SIGUSR1:
        log_reopen();
        signal_all(SIGUSR1);
        return false;
    case SIGUSR2:
        upgrade();
        return false;
    case SIGWINCH:
        winch();
        return false;
    default:
        return false;
    }
}

static void log_start(void)
{
    log_msg(LOG_INFO, "Starting greenhorn %s", CONFIG_VERSION);
    for (size_t i = 0; i < arb.num_listeners; i++)
        log_msg(LOG_INFO, "Listening at: %s (%d)", arb.listeners[i].url, (int)getpid());
    log_msg(LOG_INFO, "Using worker: %s", config_gthread(arb.cfg) ? "gthread" : "sync");
}

int arbiter_run(const struct config *cfg, struct listener *listeners, size_t num_listeners,
                void *app, const struct plugins *plugins)
{
    memset(&arb, 0, sizeof(arb));
    arb.cfg = cfg;
    arb.plugins = plugins;
    arb.listeners = listeners;
    arb.num_listeners = num_listeners;
    arb.app = app;
    arb.target = cfg->workers;
    arb.name = "Master";
    if (plugins->upgrade_old_master != NULL && (arb.master_pid = plugins->upgrade_old_master()) > 0)
        arb.name = "Master.2";
    arb.told = -1;
    arb.beats_map = mmap(NULL, sizeof(struct worker_board), PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (arb.beats_map == MAP_FAILED || signals_init(signals_master, signals_master_count) < 0) {
        log_msg(LOG_ERROR, "Cannot start the master: %s", strerror(errno));
        return 1;
    }
    signals_unhold(signals_master, signals_master_count); /* held since before bind (main) */
    arb.board = arb.beats_map;
    arb.beats = arb.board->beats;
    if (plugins->set_title != NULL) /* as Gunicorn's Arbiter.start: "master [NAME]" */
        plugins->set_title("master");
    log_start();
    if (run_hook(MASTER_WHEN_READY, 0, 0, 0, 0) < 0) { /* as in Gunicorn: no start */
        arb.halt_code = 1;
        arb.halt_reason = "The when_ready hook failed.";
    }

    bool graceful = true;
    arb.ready_due = true;
    manage_workers();
    for (;;) {
        struct pollfd p = {.fd = signals_fd(), .events = POLLIN};
        poll(&p, 1, arb.ready_due && arb.plugins->notify != NULL ? 100 : LOOP_MS);
        int sig;
        bool stop = false;
        while (!stop && (sig = signals_next()) != 0)
            stop = handle_signal(sig, &graceful);
        if (stop || arb.halt_code != 0)
            break;
        maybe_promote();
        murder_workers();
        manage_workers();
        tell_ready();
    }

    /* The new master of an upgrade goes on: under systemd it is the
     * service's main process from now on (Gunicorn does not say so, and
     * systemd would stop the service when this process exits). */
    if (arb.reexec_pid != 0)
        say_main_pid(arb.reexec_pid);
    else
        tell("STOPPING=1\nSTATUS=stopping"); /* TERM, INT, QUIT, or a worker that could not boot */
    stop_workers(arb.halt_code == 0 && graceful);
    log_msg(LOG_INFO, "Shutting down: %s", arb.name);
    if (arb.halt_code != 0)
        log_msg(LOG_INFO, "Reason: %s", arb.halt_reason);
    munmap(arb.beats_map, sizeof(struct worker_board));
    return arb.halt_code;
}
