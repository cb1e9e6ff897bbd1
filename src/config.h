/*
 * config.h - every setting greenhorn has, in one table.
 *
 * Stage 1, config (Gunicorn counterpart: gunicorn/config.py).
 * Owns: the settings table (name, flags, default, parser, help), struct config,
 * and reading the three sources in order of strength: built-in defaults and
 * $WEB_CONCURRENCY / $PORT / $FORWARDED_ALLOW_IPS, then $GUNICORN_CMD_ARGS,
 * then the command line.
 * Does not own: acting on a setting (bind.c binds, arbiter.c forks, ...).
 *
 * Spellings follow Gunicorn's, so `greenhorn -w 4 -b :8000 app:app` and an
 * existing GUNICORN_CMD_ARGS work unchanged.
 */
#ifndef GREENHORN_CONFIG_H
#define GREENHORN_CONFIG_H

#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_VERSION   "0.1.0" /* printed by --version as "greenhorn 0.1.0" */
#define CONFIG_MAX_BINDS 16
#define CONFIG_MAX_ENV   64
#define CONFIG_MAX_LIST  32

/* What to do with a request header whose name contains '_' (Gunicorn 22+ `header_map`). */
enum config_header_map {
    CONFIG_HEADER_MAP_DROP,      /* silently drop it (default) */
    CONFIG_HEADER_MAP_REFUSE,    /* answer 400 */
    CONFIG_HEADER_MAP_DANGEROUS, /* keep it; HTTP_X_Y then collides with X-Y */
};

/* -k: the worker class (Gunicorn's names are mapped in config.c). */
enum config_worker_class {
    CONFIG_WORKER_SYNC,    /* one connection at a time, Connection: close (the default) */
    CONFIG_WORKER_GTHREAD, /* an event loop and a thread pool (src/extras/gthread.c) */
};

/* PROXY protocol (HAProxy) on accepted connections. */
enum config_proxy_protocol {
    CONFIG_PROXY_OFF,
    CONFIG_PROXY_V1,   /* text "PROXY TCP4 ..." line required */
    CONFIG_PROXY_V2,   /* binary header required */
    CONFIG_PROXY_AUTO, /* either, or none */
};

/* A comma-separated list, split: "a, b,c" -> {"a","b","c"}.  Strings owned by struct config. */
struct config_list {
    char *items[CONFIG_MAX_LIST];
    size_t count;
};

struct config {
    /* the application */
    char *app_uri;                 /* MODULE[:VARIABLE] or MODULE:factory(args); NULL until given */
    char *config_file;             /* -c: a Gunicorn config file (Python); NULL = none given */
    char *config_read;             /* the config file read, as an absolute path (the workers
                                      run its hooks); NULL = none; not a setting */
    unsigned master_hooks;         /* the master's hooks that file defines, as bits
                                      (master_hooks.h); not a setting */
    char *chdir;                   /* --chdir; NULL = stay */
    struct config_list pythonpath; /* --pythonpath a,b: prepended to sys.path */
    char *virtualenv;              /* --virtualenv; NULL = use $VIRTUAL_ENV if set */
    bool preload;                  /* --preload: import the app in the master, then fork */
    bool check_config;             /* --check-config: import the app, then exit 0 or 1 */

    /* the server */
    char *binds[CONFIG_MAX_BINDS]; /* -b, repeatable; default 127.0.0.1:8000 or 0.0.0.0:$PORT */
    size_t num_binds;
    int workers;                           /* -w; default $WEB_CONCURRENCY or 1 */
    int timeout;                           /* -t: heartbeat timeout, seconds (30); 0 = never */
    int graceful_timeout;                  /* seconds to drain on TERM (30) */
    int backlog;                           /* listen(2) backlog (2048) */
    enum config_worker_class worker_class; /* -k (sync); see config_gthread */
    int threads;                           /* --threads: the gthread worker's pool threads (1) */
    int worker_connections;                /* gthread: open connections per worker (1000) */
    int keepalive;             /* --keep-alive: gthread's idle seconds (2); sync closes anyway */
    int umask;                 /* -m: unix sockets are created under it (0) */
    int max_requests;          /* a worker restarts after this many requests (0 = never) */
    int max_requests_jitter;   /* plus a random 0..this, chosen by each worker (0) */
    int header_timeout;        /* seconds to receive a whole request head (10) */
    int body_timeout;          /* seconds of silence allowed while reading a body (10) */
    char *env[CONFIG_MAX_ENV]; /* -e KEY=VALUE, repeatable */
    size_t num_env;
    char *pidfile;        /* -p/--pid; NULL = none */
    char *user;           /* -u: workers run as this user (name or number); NULL = unchanged */
    char *group;          /* -g: and this group; NULL = the user's own group, or unchanged */
    bool initgroups;      /* --initgroups: the workers also get the user's other groups */
    bool reuse_port;      /* --reuse-port: SO_REUSEPORT on the listeners */
    char *worker_tmp_dir; /* --worker-tmp-dir: accepted; the heartbeat needs no file */

    /* operating it */
    char *proc_name; /* -n/--name: the name in process titles; NULL = the app's */
    bool daemon;     /* -D/--daemon: detach from the terminal */
    bool reload;     /* --reload: restart workers when a source file changes */
    char *reload_extra_files[CONFIG_MAX_LIST]; /* --reload-extra-file, repeatable */
    size_t num_reload_extra_files;
    char *statsd_host;    /* --statsd-host HOST:PORT; NULL = no metrics */
    char *statsd_prefix;  /* --statsd-prefix: put before every metric name ("") */
    char *dogstatsd_tags; /* --dogstatsd-tags: "|#TAGS" after every datagram (NULL: none) */
    bool print_config;    /* --print-config: print the settings and exit */

    /* logging */
    int log_level;           /* enum log_level (info) */
    char *error_logfile;     /* --error-logfile/--log-file; "-" = stderr */
    char *access_logfile;    /* --access-logfile; "-" = stdout; NULL = off */
    bool capture_output;     /* --capture-output: stdout and stderr into the error log file */
    char *access_log_format; /* --access-logformat; NULL = Gunicorn's default */

    /* request limits (Gunicorn's names and defaults), kept as the parser
     * applies them (config_http_options) once the sources are read */
    unsigned limit_request_line;       /* 4094; 0 or more than 8190 becomes 8190 */
    unsigned limit_request_fields;     /* 100; 0 or more than 32768 becomes 32768 */
    unsigned limit_request_field_size; /* 8190; 0 becomes 8190 */
    uint64_t limit_request_body;       /* 0 = off; else 413 above it (greenhorn's own) */

    /* parser strictness (Gunicorn 22+ settings) */
    enum config_header_map header_map;
    struct config_list forwarder_headers; /* default SCRIPT_NAME,PATH_INFO */
    bool permit_obsolete_folding;
    bool permit_unconventional_http_method;
    bool permit_unconventional_http_version;
    bool casefold_http_method;
    bool strip_header_spaces;

    /* proxies */
    /* trust lists: addresses, networks ("10.0.0.0/8") or "*"; compiled by config_trust_compile */
    struct config_list forwarded_allow_ips; /* default 127.0.0.1,::1 or $FORWARDED_ALLOW_IPS */
    /* secure_scheme_headers: header name (upper case, '-') -> value meaning https */
    struct config_list
        secure_scheme_names; /* default X-FORWARDED-PROTOCOL,X-FORWARDED-PROTO,X-FORWARDED-SSL */
    struct config_list secure_scheme_values; /* default ssl,https,on (same order) */
    enum config_proxy_protocol proxy_protocol;
    struct config_list proxy_allow_ips; /* default 127.0.0.1,::1; "*" = all */

    /* Not a setting: the config file's bytes, as read with the settings
     * (config_read).  Hooks run from them, not from the file, so a file
     * broken since (before a HUP) cannot stop a new worker. */
    char *config_text;
    size_t config_text_len;
};

/* How config_load ended. */
enum config_result {
    CONFIG_RUN,   /* settings are ready: run the server */
    CONFIG_EXIT,  /* --help or --version was printed: exit 0 */
    CONFIG_ERROR, /* a usage error; the one-line message is in err: exit 2 */
};

/* The stronger of a config file's problems: a setting of Gunicorn's that
 * greenhorn does not have (TLS, the gevent worker...) is a usage error on
 * the command line but only a warning in a config file, as Gunicorn's
 * unknown config-file names are ignored. */
#define CONFIG_ABSENT (-2) /* config_set_value's answer for such a setting */

/*
 * config_init - fill cfg with the built-in defaults, then $WEB_CONCURRENCY
 * (workers), $PORT (bind 0.0.0.0:$PORT) and $FORWARDED_ALLOW_IPS; an empty
 * variable counts as unset.  No allocation can fail silently: returns 0, or
 * -1 with a message in err such as "$PORT: --bind: bad port 'x' in
 * '0.0.0.0:x'".  Either way cfg is safe to pass to config_free.
 */
int config_init(struct config *cfg, char *err, size_t errlen);

/*
 * config_load - the whole of stage 1: config_init, then $GUNICORN_CMD_ARGS
 * (split like a shell: quotes and backslashes), then argv.  The command line
 * wins over the environment variable, setting by setting, as in Gunicorn:
 * a repeatable option (-b, -e) given on the command line replaces every value
 * the variable gave it (and the first -b from either replaces the default).
 * The application (one positional MODULE[:VARIABLE]) may come from either;
 * the command line's wins.  Values the command line overrides are still
 * checked.  argv[0] is the program name and is skipped.
 * Returns CONFIG_RUN, CONFIG_EXIT after printing --help / --version to `out`,
 * or CONFIG_ERROR with a one-line message in err naming the problem, e.g.
 * "unknown option '--wrokers'" or "--workers: 'x' is not a whole number";
 * a problem inside $GUNICORN_CMD_ARGS is prefixed "$GUNICORN_CMD_ARGS: ".
 * Prints nothing else.  cfg is always left safe to pass to config_free.
 */
enum config_result config_load(struct config *cfg, int argc, char **argv, FILE *out, char *err,
                               size_t errlen);

/*
 * config_load_file - config_load with a config file's settings as a third,
 * weakest source (Gunicorn: the config file, then $GUNICORN_CMD_ARGS, then
 * the command line, each winning over the one before).  file_words are the
 * file's settings as command-line words ("--workers", "4", ..., and the
 * application as a positional word); errors in them are prefixed with
 * file_label, e.g. "gunicorn.conf.py: ".  file_label NULL: no file.  With
 * need_app false, a missing application is not an error yet (a config file
 * read next may name it).
 */
enum config_result config_load_file(struct config *cfg, int argc, char **argv, char **file_words,
                                    int file_count, const char *file_label, bool need_app,
                                    FILE *out, char *err, size_t errlen);

/*
 * config_user_ids - what --user and --group name, as ids: *uid and *gid are
 * the current ones when not given, and a --user without --group takes that
 * user's own group.  *name is the user's name when known ("" if not), for
 * initgroups.  Returns 0, or -1 with err such as "--user: no such user 'x'".
 */
int config_user_ids(const struct config *cfg, uid_t *uid, gid_t *gid, char *name, size_t namelen,
                    char *err, size_t errlen);

/*
 * config_gthread - does this configuration run the gthread worker?  True for
 * -k gthread, and, as in Gunicorn 20.1, for --threads above 1 with the sync
 * worker class.  The one place that decides it (main.c plugs the worker in,
 * environ.c sets wsgi.multithread from it).
 */
bool config_gthread(const struct config *cfg);

/* config_free - free every string cfg owns and zero it; cfg may be reused after config_init. */
void config_free(struct config *cfg);

/* One entry of a trust list, parsed: an address or a network. */
struct config_net {
    unsigned char bytes[16]; /* the address, in network order (IPv4: the first 4) */
    int family;              /* AF_INET or AF_INET6 */
    long long bits;          /* prefix length: 32 or 128 for one address */
};

/*
 * A trust list (forwarded_allow_ips, proxy_allow_ips) parsed once, so that a
 * request compares bytes instead of parsing every entry again: the text
 * form cost about 1,400 instructions per request, 8% of a hello request.
 */
struct config_trust {
    bool any;     /* the list holds "*" */
    size_t count; /* entries in nets */
    struct config_net nets[CONFIG_MAX_LIST];
};

/* config_trust_compile - parse list (already validated by config_load) into t. */
void config_trust_compile(const struct config_list *list, struct config_trust *t);

/*
 * config_trust_allows - may a peer at addr (text as inet_ntop writes it) use
 * the trust list t?  True when the list holds "*", the same address, or a
 * network containing it ("10.0.0.0/8", "fd00::/8").  Addresses are compared
 * as bytes, not text, and an IPv4-mapped peer (::ffff:10.1.2.3) counts as its
 * IPv4 address.  A NULL or unparsable addr (a unix socket peer) matches only "*".
 */
bool config_trust_allows(const struct config_trust *t, const char *addr);

/*
 * config_check_access_format - the check of --access-logformat's value, as
 * (0, or -1 with the reason in why).  The format belongs to the access-log
 * extra, so main.c plugs its check in here before any setting is read;
 * NULL takes the value as given.
 */
extern int (*config_check_access_format)(const char *value, char *why, size_t whylen);

/* config_check_statsd_tags - the same for --dogstatsd-tags, whose place in
 * a datagram the StatsD extra knows. */
extern int (*config_check_statsd_tags)(const char *value, char *why, size_t whylen);

struct http_options;

/*
 * config_http_options - the request parser's options from the settings, in
 * one place: Gunicorn's defaults (http_options_init), then the limits,
 * limit_request_body, the strictness switches, header_map,
 * forwarder_headers and secure_scheme_headers of cfg, with the limits
 * settled as the parser applies them (http_options_settle: 0 and too-large
 * values read as Gunicorn's maxima).  HTTP_TRUSTED_PEER is left clear: it
 * belongs to each connection.  The lists in *o point into cfg, which must
 * outlive *o.  *max_head (when max_head is not NULL) is the largest request
 * head to buffer: the settled line and field limits together, so that no
 * head the parser accepts is refused for want of room.
 */
void config_http_options(const struct config *cfg, struct http_options *o, size_t *max_head);

/*
 * config_print - --print-config: every setting as "name = value", one per
 * line in the order of --help, then the application (Gunicorn prints its
 * Config object the same way, then checks the application).
 */
void config_print(const struct config *cfg, FILE *out);

/* config_print_help - the --help text: usage line, then one line per setting. */
void config_print_help(FILE *out);

/*
 * config_print_man - the settings table as greenhorn(1)'s roff (man(7)),
 * so the manual cannot drift from --help: part "options" is the OPTIONS
 * section's body, one tagged paragraph per setting of --help with its help
 * and default (and a sentence naming Gunicorn's options greenhorn refuses);
 * part "environment" is one paragraph per variable that replaces a
 * default.  Returns 0, or -1 for an unknown part.
 */
int config_print_man(FILE *out, const char *part);

#endif
