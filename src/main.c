/*
 * main.c - wiring only: config, then bind, then the master loop.
 *
 * Gunicorn counterpart: gunicorn/app/base.py (Application.run) and
 * gunicorn/app/wsgiapp.py.
 * Owns: the order of the stages and the process exit code.  Every decision
 * lives in a stage; this file only connects them and reports their errors,
 * each as one line:
 *   usage errors (bad option, bad address)       exit 2
 *   cannot bind, cannot open a log, bad --chdir  exit 1
 *   the pid file names a live process            exit 1 (before anything is bound)
 *   a virtualenv of another Python X.Y           exit 3 (before anything starts)
 *   a worker failed to boot                      exit 3 (from the arbiter)
 *   the app failed to load                       exit 4 (from the arbiter, or --preload)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arbiter.h"
#include "bind.h"
#include "config.h"
#include "log.h"
#include "plugins.h"
#include "pyembed.h"
#include "signals.h"
#include "worker.h"
#include "wsgi.h"

/* The extras: main.c is the only file of src/ that includes them. */
#include "extras/access_log.h"
#include "extras/config_file.h"
#include "extras/daemon.h"
#include "extras/gthread.h"
#include "extras/hooks.h"
#include "extras/master_hooks.h"
#include "extras/proctitle.h"
#include "extras/notify.h"
#include "extras/proxy_protocol.h"
#include "extras/pyhost.h"
#include "extras/statsd.h"
#include "extras/reload.h"
#include "extras/systemd.h"
#include "extras/upgrade.h"
#include "extras/user.h"

#define EXIT_USAGE 2

/* -e KEY=VALUE: set in the master, so every worker's os.environ has it. */
static int apply_env(const struct config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->num_env; i++) {
        const char *eq = strchr(cfg->env[i], '=');
        char key[256];
        size_t klen = eq ? (size_t)(eq - cfg->env[i]) : 0;
        if (klen == 0 || klen >= sizeof(key)) {
            snprintf(err, errlen, "--env: '%s' is not KEY=VALUE", cfg->env[i]);
            return -1;
        }
        memcpy(key, cfg->env[i], klen);
        key[klen] = '\0';
        setenv(key, eq + 1, 1);
    }
    return 0;
}

/* Bind every -b address, or adopt the sockets of systemd socket activation
 * or of an old master / a Gunicorn-aware supervisor ($GUNICORN_FD), which
 * replace them, as in Gunicorn.  Returns the number bound, or -1 with err. */
static int bind_all(const struct config *cfg, struct listener *out, char *err, size_t errlen)
{
    char fds[CONFIG_MAX_BINDS][16];
    const char *specs[CONFIG_MAX_BINDS];
    int inherited[CONFIG_MAX_BINDS];
    int n = systemd_listen_fds(CONFIG_MAX_BINDS, err, errlen);

    for (int i = 0; i < n; i++)
        inherited[i] = SYSTEMD_FIRST_FD + i;
    bool upgrading = false;
    if (n == 0)
        upgrading = (n = upgrade_inherited_fds(inherited, CONFIG_MAX_BINDS, err, errlen)) > 0;
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        snprintf(fds[i], sizeof fds[i], "fd://%d", inherited[i]);
        specs[i] = fds[i];
    }
    if (n == 0) {
        n = (int)cfg->num_binds;
        for (int i = 0; i < n; i++)
            specs[i] = cfg->binds[i];
    }
    for (int i = 0; i < n; i++) {
        struct bind_addr addr;
        int parsed = bind_parse(specs[i], &addr, err, errlen);
        addr.umask = (unsigned)cfg->umask; /* how a unix socket file is created */
        addr.reuse_port = cfg->reuse_port;
        if (parsed < 0 || bind_listen(&addr, cfg->backlog, &out[i], err, errlen) < 0) {
            while (i-- > 0)
                bind_close(&out[i]);
            return -1;
        }
    }
    if (upgrading)
        upgrade_own_sockets(out, n);
    return n;
}

/* The whole of the file at path (malloc'd, *len bytes), or NULL with errno. */
static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t cap = 0;
    *len = 0;
    if (f == NULL)
        return NULL;
    for (;;) {
        if (*len == cap) {
            char *more = realloc(text, cap = cap * 2 + 4096);
            if (more == NULL)
                break;
            text = more;
        }
        size_t n = fread(text + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0) {
            if (ferror(f) == 0) {
                fclose(f);
                return text;
            }
            errno = EIO;
            break;
        }
    }
    int saved = errno;
    fclose(f);
    free(text);
    errno = saved;
    return NULL;
}

/*
 * -c FILE, or ./gunicorn.conf.py when it exists (Gunicorn 20+ reads it on its
 * own): its settings become the weakest source, and the whole configuration
 * is loaded again with them under $GUNICORN_CMD_ARGS and the command line.
 */
static enum config_result read_config_file(struct config *cfg, int argc, char **argv, char *err,
                                           size_t errlen)
{
    char path[4096], label[4200];
    char *buf = NULL, **words = NULL;
    int count = 0;
    unsigned master_hooks = 0;

    if (cfg->config_file == NULL && access("gunicorn.conf.py", F_OK) != 0) {
        if (cfg->app_uri != NULL)
            return CONFIG_RUN;
        snprintf(err, errlen, "no application module given (see greenhorn --help)");
        return CONFIG_ERROR;
    }
    snprintf(path, sizeof path, "%s", cfg->config_file ? cfg->config_file : "gunicorn.conf.py");
    if (config_file_words(cfg, path, &buf, &words, &count, &master_hooks, err, errlen) < 0)
        return CONFIG_ERROR;
    /* The bytes the hooks will run from (struct config's config_text). */
    size_t text_len = 0;
    char *text = read_whole(path, &text_len);
    snprintf(label, sizeof label, "%s: ", path);
    config_free(cfg);
    enum config_result res =
        config_load_file(cfg, argc, argv, words, count, label, true, stdout, err, errlen);
    free(words);
    free(buf);
    /* Absolute, so that a worker finds the file's hooks after --chdir. */
    if (res == CONFIG_RUN && (text == NULL || (cfg->config_read = realpath(path, NULL)) == NULL)) {
        snprintf(err, errlen, "%.512s: %s", path, strerror(errno));
        free(text);
        return CONFIG_ERROR;
    }
    if (res != CONFIG_RUN) {
        free(text);
        return res;
    }
    cfg->config_text = text;
    cfg->config_text_len = text_len;
    cfg->master_hooks = master_hooks;
    return res;
}

static int reread_config(char *err, size_t errlen);

/*
 * The extras this configuration uses, plugged into the stage drivers'
 * slots (plugins.h).  A feature that is off leaves its slot NULL, which
 * costs the core one comparison.  HUP calls it again with the settings read
 * anew, so every slot is filled here and nowhere else.
 */
static void plug_extras(const struct config *cfg, struct plugins *p)
{
    memset(p, 0, sizeof(*p));
    p->set_title = proctitle_set;
    if (cfg->master_hooks != 0) { /* the config file defines a master hook */
        p->master_hook = master_hooks_call;
        p->master_reaped = master_hooks_reaped;
        p->master_forget = master_hooks_forget;
    }
    p->upgrade_exec = upgrade_exec; /* USR2 */
    p->upgrade_old_master = upgrade_old_master;
    p->upgrade_promoted = upgrade_promoted;
    if (cfg->config_read != NULL) { /* its worker hooks, if it defines any */
        p->worker_event = hooks_worker_event;
        p->pre_request = hooks_pre_request;
        p->post_request = hooks_post_request;
    }
    if (cfg->user != NULL || cfg->group != NULL)
        p->drop_privileges = user_drop_privileges;
    if (cfg->proxy_protocol != CONFIG_PROXY_OFF)
        p->proxy_header = proxy_take_header;
    if (cfg->access_logfile != NULL)
        p->access_log = access_log_request;
    if (config_gthread(cfg))
        p->worker_loop = gthread_loop;
    if (cfg->statsd_host != NULL) {
        p->request_done = statsd_request;
        p->workers_changed = statsd_workers;
    }
    if (notify_socket() != NULL) /* started by systemd as Type=notify */
        p->notify = notify_send;
    if (cfg->reload) {
        p->worker_watch = reload_worker_watch;
        p->app_failed = reload_app_failed;
    }
    p->reread_config = reread_config;
}

/* What a stage-1 result means for main: -1 to go on, else the exit status
 * (0 after --help or --version; 2 for a usage error, said in one line). */
static int settled(enum config_result res, struct config *cfg, const char *err, const char *hint)
{
    if (res == CONFIG_RUN)
        return -1;
    if (res == CONFIG_ERROR)
        fprintf(stderr, "greenhorn: error: %s%s\n", err, hint);
    config_free(cfg);
    return res == CONFIG_ERROR ? EXIT_USAGE : 0;
}

/* A virtualenv no worker could use (no pyvenv.cfg, another Python X.Y):
 * one line and exit 3, a worker's boot error, before any Python starts.
 * -1 to go on. */
static int venv_refused(struct config *cfg)
{
    char dir[PATH_MAX], err[1024];
    if (pyembed_virtualenv(cfg, dir, sizeof dir, err, sizeof err) >= 0)
        return -1;
    fprintf(stderr, "greenhorn: error: %s\n", err);
    config_free(cfg);
    return WORKER_EXIT_BOOT_ERROR;
}

/* ---- the pid file, kept as Gunicorn's pidfile.py keeps it ---------------- */

/* The pid written in path: > 0, or 0 when there is none (no file, or no pid
 * in it).  -1 with errno when the file is there but cannot be read. */
static long pidfile_read(const char *path)
{
    char buf[32], *end;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return errno == ENOENT ? 0 : -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        errno = EIO;
        return -1;
    }
    buf[n] = '\0';
    errno = 0;
    long pid = strtol(buf, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
        end++;
    /* Garbage, an empty file, or a pid kill(2) would read as a group: stale. */
    if (errno != 0 || end == buf || *end != '\0' || pid <= 0 || pid > INT_MAX)
        return 0;
    return pid;
}

/*
 * Is another greenhorn (or anything) running on the pid in path?  Returns
 * that pid, 0 when the file is absent or stale (no pid in it, a dead one,
 * or our own: a container's pid 1 may find its last life's file), or -1
 * with err.  EPERM from kill(pid, 0) means alive, as in Gunicorn.
 */
static long pidfile_running(const char *path, char *err, size_t errlen)
{
    long pid = pidfile_read(path);
    if (pid < 0) {
        snprintf(err, errlen, "--pid: cannot read '%s': %s", path, strerror(errno));
        return -1;
    }
    if (pid == 0 || pid == (long)getpid() || (kill((pid_t)pid, 0) < 0 && errno != EPERM))
        return 0;
    snprintf(err, errlen, "--pid: '%s': already running on PID %ld (or the pid file is stale)",
             path, pid);
    return pid;
}

/* Write our pid to path: a temp file beside it, renamed over it, so that a
 * reader sees the old file or the whole new one, never an empty one. */
static int write_pidfile(const char *path, char *err, size_t errlen)
{
    char tmp[4200], line[32];
    if (pidfile_running(path, err, errlen) != 0) /* one may have started since we looked */
        return -1;
    int len = snprintf(line, sizeof line, "%d\n", (int)getpid());
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp) {
        errno = ENAMETOOLONG;
    } else {
        int fd = mkstemp(tmp);
        if (fd >= 0) {
            errno = ENOSPC; /* what a short write means */
            bool ok = fchmod(fd, 0644) == 0 && write(fd, line, (size_t)len) == len;
            ok = close(fd) == 0 && ok && rename(tmp, path) == 0;
            if (ok)
                return 0;
            int saved = errno;
            unlink(tmp);
            errno = saved;
        }
    }
    snprintf(err, errlen, "--pid: cannot write '%s': %s", path, strerror(errno));
    return -1;
}

/* On exit: remove the pid file only if it still names us (someone may have
 * replaced it, or a newer greenhorn taken it over). */
static void remove_pidfile(const char *path)
{
    if (pidfile_read(path) == (long)getpid())
        unlink(path);
}

/* --preload: start Python and import the app in the master, before fork. */
static void *preload_app(const struct config *cfg, char *err, size_t errlen)
{
    char why[512];
    if (wsgi_init(cfg, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "cannot start Python: %s", why);
        return NULL;
    }
    void *app = wsgi_load_app(cfg->app_uri, why, sizeof(why));
    if (app == NULL) {
        PyErr_Clear();
        snprintf(err, errlen, "Failed to load application '%s': %s", cfg->app_uri, why);
    }
    return app;
}

/*
 * The config file's master hooks: the hook process starts before the
 * sockets are bound (it holds none of them), and runs what Gunicorn's
 * master runs first: nworkers_changed(server, workers, None) as the
 * arbiter is set up, then on_starting(server).  A failing on_starting stops
 * the start, as in Gunicorn.
 */
static int start_master_hooks(const struct config *cfg, char *err, size_t errlen)
{
    char why[512];
    struct master_call set_up = {.which = MASTER_NWORKERS_CHANGED,
                                 .num_workers = cfg->workers,
                                 .new_value = cfg->workers,
                                 .old_value = -1};
    struct master_call starting = {.which = MASTER_ON_STARTING, .num_workers = cfg->workers};

    if (master_hooks_start(cfg, err, errlen) < 0)
        return -1;
    if (master_hooks_call(&set_up, why, sizeof why) < 0)
        log_msg(LOG_ERROR, "%s", why);
    return master_hooks_call(&starting, err, errlen);
}

/* on_exit(server): the master's last hook, once the workers are gone. */
static void on_exit_hook(const struct config *cfg)
{
    char why[512];
    struct master_call on_exit = {.which = MASTER_ON_EXIT, .num_workers = cfg->workers};
    if (master_hooks_call(&on_exit, why, sizeof why) < 0)
        log_msg(LOG_ERROR, "%s", why);
}

/* --reload watches the files a worker imported; with --preload the master
 * imported them, and every new worker would fork the old code again.
 * Gunicorn's documentation calls the two incompatible; greenhorn refuses. */
static int check_reload(const struct config *cfg, char *err, size_t errlen)
{
    if (!cfg->reload || !cfg->preload)
        return 0;
    snprintf(err, errlen,
             "--reload cannot be used with --preload (the master would keep the "
             "old code)");
    return -1;
}

/* What HUP needs to read the settings again: the master's own, for its
 * whole life (process state, not a request's). */
static struct {
    int argc;
    char **argv;
    char *start_dir; /* where greenhorn started: -c and gunicorn.conf.py are found from it
                        (a path, not a descriptor: the listeners' numbers stay as they were) */
    struct config *cfg;
    struct plugins *plugins;
} running;

/* Settings HUP cannot change: they shaped the sockets, the pid file, the
 * identity or the preloaded app, which stay.  The old values are kept (the
 * pointers swap, so each config frees its own) and a warning names them. */
static void keep_fixed(struct config *fresh, struct config *old)
{
    char names[160] = "";
    bool binds = fresh->num_binds != old->num_binds;
    for (size_t i = 0; !binds && i < old->num_binds; i++)
        binds = strcmp(fresh->binds[i], old->binds[i]) != 0;
    if (binds) {
        struct config t = *fresh;
        memcpy(fresh->binds, old->binds, sizeof old->binds);
        fresh->num_binds = old->num_binds;
        memcpy(old->binds, t.binds, sizeof t.binds);
        old->num_binds = t.num_binds;
        strcat(names, " bind");
    }
#define KEEP_STRING(field, name)                                                                   \
    if ((fresh->field == NULL) != (old->field == NULL) ||                                          \
        (fresh->field != NULL && strcmp(fresh->field, old->field) != 0)) {                         \
        char *t = fresh->field;                                                                    \
        fresh->field = old->field;                                                                 \
        old->field = t;                                                                            \
        strcat(names, " " name);                                                                   \
    }
#define KEEP_VALUE(field, name)                                                                    \
    if (fresh->field != old->field) {                                                              \
        fresh->field = old->field;                                                                 \
        strcat(names, " " name);                                                                   \
    }
    KEEP_STRING(chdir, "chdir")
    KEEP_STRING(pidfile, "pidfile")
    KEEP_STRING(user, "user")
    KEEP_STRING(group, "group")
    KEEP_VALUE(preload, "preload_app")
    KEEP_VALUE(daemon, "daemon")
#undef KEEP_STRING
#undef KEEP_VALUE
    if (names[0] != '\0')
        log_msg(LOG_WARNING, "HUP does not change:%s (restart greenhorn for that)", names);
}

/* The environment of -e KEY=VALUE: keys the old settings set and the new
 * ones do not are removed, then the new ones set (Gunicorn's reload resets
 * raw_env the same way before it reads the settings). */
static void swap_env(const struct config *old, const struct config *fresh)
{
    for (size_t i = 0; i < old->num_env; i++) {
        const char *eq = strchr(old->env[i], '=');
        size_t klen = eq ? (size_t)(eq - old->env[i]) : 0;
        bool kept = false;
        for (size_t j = 0; j < fresh->num_env && !kept; j++)
            kept = strncmp(fresh->env[j], old->env[i], klen + 1) == 0;
        if (klen > 0 && klen < 256 && !kept) {
            char key[256];
            memcpy(key, old->env[i], klen);
            key[klen] = '\0';
            unsetenv(key);
        }
    }
}

/*
 * HUP (the plugins.h reread_config slot): the settings are read again as at
 * start, from the directory greenhorn started in, into a new config;
 * nothing changes unless all of it reads.  Then the master's part is
 * applied (the log files, the access log's format, -e, the hook process,
 * the extras' slots) and the new settings replace the old in place, so the
 * arbiter's pointer stays good.  Gunicorn 20.1 (Arbiter.reload) does the
 * same, but exits when the file does not read; here the old settings stay.
 */
static int reread_config(char *err, size_t errlen)
{
    struct config fresh, *cfg = running.cfg;
    int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char why[1024];

    if (here < 0 || running.start_dir == NULL || chdir(running.start_dir) < 0) {
        snprintf(err, errlen, "Cannot read the settings again: %s", strerror(errno));
        if (here >= 0)
            close(here);
        return -1;
    }
    enum config_result res = config_load_file(&fresh, running.argc, running.argv, NULL, 0, NULL,
                                              false, stdout, why, sizeof why);
    if (res == CONFIG_RUN)
        res = read_config_file(&fresh, running.argc, running.argv, why, sizeof why);
    if (fchdir(here) < 0 && res == CONFIG_RUN) {
        snprintf(why, sizeof why, "cannot go back to the working directory: %s", strerror(errno));
        res = CONFIG_ERROR;
    }
    close(here);
    if (res == CONFIG_RUN && check_reload(&fresh, why, sizeof why) < 0)
        res = CONFIG_ERROR;
    if (res == CONFIG_RUN && (log_open(fresh.log_level, fresh.error_logfile, fresh.access_logfile,
                                       why, sizeof why) < 0 ||
                              access_log_format(fresh.access_log_format, 1, why, sizeof why) < 0))
        res = CONFIG_ERROR;
    if (res != CONFIG_RUN) {
        snprintf(err, errlen, "Cannot read the settings again: %s", res == CONFIG_ERROR ? why : "");
        config_free(&fresh);
        return -1;
    }
    keep_fixed(&fresh, cfg); /* nothing fails from here on */
    if (fresh.capture_output && log_capture_output() < 0)
        log_msg(LOG_ERROR, "--capture-output: %s", strerror(errno));
    if (user_give_files(&fresh, NULL, 0, why, sizeof why) < 0) /* new log files */
        log_msg(LOG_ERROR, "%s", why);
    swap_env(cfg, &fresh);
    if (apply_env(&fresh, why, sizeof why) < 0)
        log_msg(LOG_ERROR, "%s", why);
    /* The hook process ran the old file: a new one runs the new file's hooks. */
    master_hooks_stop();
    config_free(cfg);
    *cfg = fresh;
    /* A new --statsd-host, prefix or tags hold for the processes forked
     * from here on, as every other setting HUP reads (Gunicorn 20.1 keeps
     * sending with its first ones: README, differences). */
    if (statsd_open(cfg, why, sizeof why) < 0) {
        log_msg(LOG_ERROR, "%s: no metrics are sent", why);
        statsd_close();
    }
    log_observe(cfg->statsd_host != NULL ? statsd_log_line : NULL);
    if (master_hooks_start(cfg, why, sizeof why) < 0)
        log_msg(LOG_ERROR, "%s", why);
    plug_extras(cfg, running.plugins);
    return 0;
}

int main(int argc, char **argv)
{
    struct config cfg;
    struct listener listeners[CONFIG_MAX_BINDS];
    struct plugins plugins;
    char err[1024];
    int code = 1, nbound = 0;
    bool ran = false;           /* the master loop ran */
    bool wrote_pid = false;     /* the pid file is ours to remove */
    const char *pidpath = NULL; /* --pid, or PIDFILE.2 in the new master of an upgrade */
    void *app = NULL;

    /* Before anything keeps a pointer into argv or environ: process titles
     * are written over them.  From here on argv is an untouched copy. */
    argv = proctitle_init(argc, argv);
    /* Before anything changes the environment: what USR2 starts anew. */
    if (upgrade_remember(argc, argv) < 0) {
        fprintf(stderr, "greenhorn: error: out of memory\n");
        return 1;
    }
    /* The executable as run, before any chdir: is it in a virtualenv? */
    pyembed_note_program(argv[0]);
    /* Checks of settings that belong to an extra, before any is read. */
    config_check_access_format = access_log_check;
    config_check_statsd_tags = statsd_check_tags;
    /* The application may be named by a config file, read next. */
    int status =
        settled(config_load_file(&cfg, argc, argv, NULL, 0, NULL, false, stdout, err, sizeof(err)),
                &cfg, err, " (see greenhorn --help)");
    /* The config file's reader starts Python (with the virtualenv, as a
     * worker): refuse a bad one first, unless --chdir is there to change
     * what a relative --virtualenv means (checked again once in DIR). */
    if (status < 0 && cfg.chdir == NULL)
        status = venv_refused(&cfg);
    if (status < 0)
        status = settled(read_config_file(&cfg, argc, argv, err, sizeof(err)), &cfg, err, "");
    if (status < 0 && check_reload(&cfg, err, sizeof err) < 0)
        status = settled(CONFIG_ERROR, &cfg, err, "");
    if (status >= 0)
        return status;
    /* The settings are known (a virtualenv among them) and nothing is bound,
     * forked or taken out of the environment yet: from here on python3
     * itself may run the rest, at its own speed (pyhost.h).  Returns when
     * it does not, or when this already is python3. */
    pyhost_exec(&cfg, argc, argv);
    if (cfg.pidfile != NULL)
        pidpath = upgrade_pidfile(cfg.pidfile);
    running.argc = argc;
    running.argv = argv;
    running.cfg = &cfg;
    running.plugins = &plugins;
    running.start_dir = getcwd(NULL, 0);
    /* --chdir first, as in Gunicorn (which changes directory while it reads
     * its settings): relative log, pid and unix socket paths are all inside
     * DIR, and a USR1 reopen finds the same files. */
    if (cfg.chdir != NULL && chdir(cfg.chdir) < 0) {
        snprintf(err, sizeof(err), "--chdir: cannot enter '%s': %s", cfg.chdir, strerror(errno));
        goto fail;
    }
    if ((status = venv_refused(&cfg)) >= 0) /* as the workers will see it, in --chdir */
        return status;
    /* A live pid in the pid file: refuse before binding anything or starting
     * the hooks, in one line on stderr as Gunicorn does (and leave it be). */
    if (pidpath != NULL && !cfg.check_config && !cfg.print_config &&
        pidfile_running(pidpath, err, sizeof err)) {
        fprintf(stderr, "greenhorn: error: %s\n", err);
        config_free(&cfg);
        return 1;
    }
    /* -D: where Gunicorn daemonizes, once the settings are checked and
     * before the logs are opened or anything bound; --check-config and
     * --print-config check in the foreground, as in Gunicorn.  A master
     * started by USR2 is already detached as its parent was, and must stay
     * its parent's child: it notices the old master's exit by getppid(),
     * as Gunicorn's (whose daemonize() is skipped for GUNICORN_FD too). */
    if (cfg.daemon && !cfg.check_config && !cfg.print_config && upgrade_old_master() == 0 &&
        daemon_detach(err, sizeof(err)) < 0)
        goto fail;
    /* A master started by USR2 is "NAME.2" until the old one exits, as in
     * Gunicorn (arbiter.py setup()); upgrade_promoted drops the ".2". */
    proctitle_name(cfg.proc_name != NULL ? cfg.proc_name : cfg.app_uri,
                   upgrade_old_master() != 0 ? ".2" : "");
    if (log_open(cfg.log_level, cfg.error_logfile, cfg.access_logfile, err, sizeof(err)) < 0)
        goto fail;
    log_msg(LOG_DEBUG, "Python: %s", pyhost_hosted() ? "python3 runs greenhorn.so" : "embedded");
    if (access_log_format(cfg.access_log_format, 1, err, sizeof(err)) < 0)
        goto fail; /* checked when read, so only out of memory gets here */
    if (user_give_files(&cfg, NULL, 0, err, sizeof(err)) < 0) /* the log files */
        goto fail;
    if (cfg.capture_output && log_capture_output() < 0) {
        snprintf(err, sizeof(err), "--capture-output: %s", strerror(errno));
        goto fail;
    }
    if (apply_env(&cfg, err, sizeof(err)) < 0)
        goto fail;
    /* $NOTIFY_SOCKET is the master's alone: out of the environment before
     * anything forks or starts Python (notify.h). */
    notify_init();
    if (cfg.print_config) /* Gunicorn 20.1: print, then check the app as --check-config */
        config_print(&cfg, stdout);
    if (cfg.check_config || cfg.print_config) {
        /* Gunicorn's --check-config: the settings are read; now import the
         * app once, bind nothing, and say 0 or 1. */
        app = preload_app(&cfg, err, sizeof(err));
        if (app == NULL)
            goto fail;
        log_msg(LOG_INFO, "The configuration and the application '%s' are fine.", cfg.app_uri);
        code = 0;
        goto done;
    }
    /* Before the hook process and the workers are forked: they inherit
     * the socket, and their warnings and errors count too. */
    if (statsd_open(&cfg, err, sizeof(err)) < 0)
        goto fail;
    if (cfg.statsd_host != NULL)
        log_observe(statsd_log_line);
    if (start_master_hooks(&cfg, err, sizeof(err)) < 0)
        goto fail;
    /* From here a supervisor may see us (the address listens, then the pid
     * file names us) and send TERM: held until the master's handlers are in
     * (arbiter_run), so that it stops us gracefully, pid file and all,
     * instead of killing us (Gunicorn's Arbiter.start sets its handlers
     * before it writes the pid file). */
    signals_hold(signals_master, signals_master_count);
    if ((nbound = bind_all(&cfg, listeners, err, sizeof(err))) < 0) {
        nbound = 0;
        goto fail;
    }
    if (user_give_files(&cfg, listeners, nbound, err, sizeof(err)) < 0) /* the unix sockets */
        goto fail;
    if (pidpath != NULL) { /* now that we listen */
        if (write_pidfile(pidpath, err, sizeof(err)) < 0)
            goto fail;
        wrote_pid = true;
    }
    if (cfg.preload && (app = preload_app(&cfg, err, sizeof(err))) == NULL) {
        code = WORKER_EXIT_APP_ERROR;
        goto fail;
    }

    daemon_started(0, NULL); /* listening, the pid file written: -D's command exits 0 */
    plug_extras(&cfg, &plugins);
    code = arbiter_run(&cfg, listeners, (size_t)nbound, app, &plugins);
    ran = true;
    goto done;

fail:
    log_msg(LOG_ERROR, "%s", err);
    daemon_started(code, err); /* -D: its command says it too, and exits with code */
done:
    for (int i = 0; i < nbound; i++)
        bind_close(&listeners[i]);
    if (wrote_pid) { /* PIDFILE.2, or PIDFILE once the old master is gone */
        remove_pidfile(pidpath);
        remove_pidfile(cfg.pidfile);
    }
    if (ran) /* after the pid file is gone, as in Gunicorn's halt() */
        on_exit_hook(&cfg);
    master_hooks_stop();
    statsd_close();
    if (app != NULL)
        wsgi_fini(app);
    log_close();
    config_free(&cfg);
    free(running.start_dir);
    return code;
}
