/*
 * plugins.h - where the optional features plug into the core.
 *
 * The core is the nine stages plus conn.c: what a reader follows to see
 * one request served.  Everything a minimal server could do without (the
 * config file's hooks and the hook process, the PROXY protocol, the
 * access-log formatter, --user/--group, systemd sockets) lives in
 * src/extras/ and reaches the core only through this table: main.c (the
 * wiring) fills it with the extras' functions, and the stage drivers
 * (arbiter.c, worker.c) call a slot when it is not NULL.  So the core never
 * includes an extra, and a reader can skip every slot on a first reading.
 *
 * Owns: the table's shape, and the master-hook call record the master and
 * the hook process share.  Does not own: any feature.
 */
#ifndef GREENHORN_PLUGINS_H
#define GREENHORN_PLUGINS_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

struct listener;
struct request;
struct worker;

/* The master's hooks of a Gunicorn config file.  The config reader reports
 * the ones a file defines as bits of cfg->master_hooks, 1 << enum
 * master_hook, so its MASTER_HOOKS tuple lists the same names in the same
 * order. */
enum master_hook {
    MASTER_NWORKERS_CHANGED, /* nworkers_changed(server, new_value, old_value) */
    MASTER_ON_STARTING,      /* on_starting(server) */
    MASTER_WHEN_READY,       /* when_ready(server) */
    MASTER_PRE_FORK,         /* pre_fork(server, worker) */
    MASTER_CHILD_EXIT,       /* child_exit(server, worker) */
    MASTER_ON_RELOAD,        /* on_reload(server) */
    MASTER_ON_EXIT,          /* on_exit(server) */
    MASTER_PRE_EXEC,         /* pre_exec(server): USR2, before the new master starts */
    MASTER_HOOK_COUNT
};

/* One call of a master hook.  Fields a hook does not take are ignored; -1
 * means None (old_value at start-up, worker_pid in pre_fork, before the
 * fork). */
struct master_call {
    int which;       /* enum master_hook */
    int num_workers; /* server.num_workers: the number of workers wanted now */
    int worker_pid;  /* pre_fork, child_exit: worker.pid */
    int worker_age;  /* pre_fork, child_exit: worker.age, the spawn order */
    int new_value;   /* nworkers_changed */
    int old_value;   /* nworkers_changed; -1 = None */
};

/* When a worker's own hooks run (Gunicorn's post_fork, post_worker_init,
 * worker_exit). */
enum worker_event { WORKER_POST_FORK, WORKER_POST_INIT, WORKER_EXIT };

struct plugins {
    /* ---- any process ---- */
    /* Tell the service manager a state change (sd_notify): state is one
     * or more "KEY=VALUE" lines, such as "READY=1\nSTATUS=...".  Does
     * nothing when greenhorn was not started with $NOTIFY_SOCKET. */
    void (*notify)(const char *state);
    /* Set this process's title, as ps shows it: role is "master",
     * "worker", "hook process"... (greenhorn: ROLE [NAME]). */
    void (*set_title)(const char *role);

    /* ---- stage 3, the master (arbiter.c) ---- */
    /* Run a master hook and wait for it; 0, or -1 with a line in err. */
    int (*master_hook)(const struct master_call *call, char *err, size_t errlen);
    /* A child the master reaped: 1 if it was the extra's own (not a worker). */
    int (*master_reaped)(pid_t pid, int status);
    /* In a freshly forked worker: drop what only the master may hold. */
    void (*master_forget)(void);
    /* USR2, the binary upgrade: start a new master that inherits these
     * listeners.  Its pid, or -1 (the reason logged). */
    pid_t (*upgrade_exec)(const struct listener *listeners, size_t n);
    /* The old master's pid while this process is the new master of an
     * upgrade (Gunicorn's $GUNICORN_PID), else 0. */
    pid_t (*upgrade_old_master)(void);
    /* The old master is gone: this one takes over its pid file. */
    void (*upgrade_promoted)(void);
    /* The number of workers the master keeps changed (at start too):
     * Gunicorn's gunicorn.workers gauge. */
    void (*workers_changed)(int count);
    /* HUP: read the settings again (config file, $GUNICORN_CMD_ARGS,
     * command line) into the config the master was given, and apply what
     * the master holds of them (log files, this table).  0; or -1 with a
     * line in err, and the settings are as they were. */
    int (*reread_config)(char *err, size_t errlen);

    /* ---- stage 4, the worker (worker.c) ---- */
    /* Before Python starts: give up the master's identity (--user, --group). */
    int (*drop_privileges)(const struct config *cfg, char *err, size_t errlen);
    /* The worker's own hooks, with the GIL: POST_FORK (before the app is
     * imported; loads them), POST_INIT (after), EXIT (on the way out; then
     * drops them).  0, or -1 with a line in err. */
    int (*worker_event)(enum worker_event ev, const struct config *cfg, pid_t master, char *err,
                        size_t errlen);
    /* A PROXY protocol header at the start of r's head: 1 when taken (and
     * removed from the head), 0 when more bytes are needed, else the HTTP
     * status to refuse with. */
    int (*proxy_header)(struct request *r, const struct config *cfg);
    /* Around each request, with the GIL: pre_request (0, or -1 with the
     * Python exception set: the request gets a 500) and post_request. */
    int (*pre_request)(struct request *r);
    void (*post_request)(struct request *r);
    /* --reload, with the GIL, just before each worker_event of POST_FORK
     * and POST_INIT: watch the app's source files and stop the worker
     * gracefully when one changes.  Failures are logged, never fatal. */
    void (*worker_watch)(enum worker_event ev, const struct config *cfg);
    /* --reload, with the GIL, in a worker whose app failed to import (the
     * Python exception still set, why the one line wsgi_load_app wrote):
     * an app to serve instead (a new reference), or NULL to fail the boot
     * as without it.  A syntax error's traceback is served until a
     * watched file changes, as Gunicorn's reloader does. */
    void *(*app_failed)(const struct config *cfg, const char *why);
    /* After the response: one access-log line for r (from any thread). */
    void (*access_log)(const struct request *r);
    /* After the response, beside the access log: r is done (StatsD
     * metrics; from any thread, must not block). */
    void (*request_done)(const struct request *r);
    /* Another worker class's loop, instead of the sync worker's accept
     * loop (gthread): runs after boot, without the GIL (the loop thread's
     * state saved in w->tstate), until the worker should exit. */
    void (*worker_loop)(struct worker *w);
};

#endif
