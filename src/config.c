/*
 * config.c - stage 1: every setting, driven from one table.
 *
 * Gunicorn counterpart: gunicorn/config.py (the Setting classes, their
 * validators and defaults).
 * Owns: the settings table below, the defaults (and the environment variables
 * that replace them), and the parser of every kind of value; the checks on
 * every value; freeing what a struct config holds.  Trust lists are in
 * config_trust.c.
 * Does not own: reading the command line, $GUNICORN_CMD_ARGS or printing
 * --help (config_args.c, which reads this table through config_internal.h);
 * acting on a setting.  Addresses are only parsed here (so a typo is a usage
 * error before anything starts); bind.c binds them later.
 *
 * One row of the table says everything about a setting: its spellings, the
 * kind of value (and so the parser), bounds, default, and help line.  Adding
 * a setting is adding a row and a field to struct config; nothing else here
 * names settings one by one.
 */
#include "config_internal.h"

#include "ascii.h"
#include "bind.h"
#include "http.h"
#include "log.h" /* log levels, and the access log format check */

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AT(field) offsetof(struct config, field)

/* config_explain - see config_internal.h. */
int config_explain(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -1;
}

bool config_is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* trimmed_copy - value without leading and trailing blanks, as Gunicorn strips strings. */
static char *trimmed_copy(const char *value)
{
    const char *end;

    while (config_is_blank(*value))
        value++;
    end = value + strlen(value);
    while (end > value && config_is_blank(end[-1]))
        end--;
    return strndup(value, (size_t)(end - value));
}

static const struct config_choice log_levels[] = {
    {"debug", LOG_DEBUG}, {"info", LOG_INFO},         {"warning", LOG_WARNING},
    {"error", LOG_ERROR}, {"critical", LOG_CRITICAL}, {NULL, 0},
};

static const struct config_choice header_maps[] = {
    {"drop", CONFIG_HEADER_MAP_DROP},
    {"refuse", CONFIG_HEADER_MAP_REFUSE},
    {"dangerous", CONFIG_HEADER_MAP_DANGEROUS},
    {NULL, 0},
};

/* -k: Gunicorn's sync and gthread workers, under each of Gunicorn's names
 * for them, so an existing command line runs.  Gunicorn's other classes are
 * known by name, so that a command line naming one is told what to use
 * instead (CONFIG_ABSENT); any other word is an error naming the two. */
static const struct config_choice worker_classes[] = {
    {"sync", CONFIG_WORKER_SYNC},
    {"gthread", CONFIG_WORKER_GTHREAD},
    {"gunicorn.workers.sync.SyncWorker", CONFIG_WORKER_SYNC},
    {"gunicorn.workers.gthread.ThreadWorker", CONFIG_WORKER_GTHREAD},
    {"egg:gunicorn#sync", CONFIG_WORKER_SYNC},
    {"egg:gunicorn#gthread", CONFIG_WORKER_GTHREAD},
    {"gevent", CONFIG_ABSENT},
    {"gevent_wsgi", CONFIG_ABSENT},
    {"gevent_pywsgi", CONFIG_ABSENT},
    {"eventlet", CONFIG_ABSENT},
    {"tornado", CONFIG_ABSENT},
    {"gunicorn.workers.ggevent.GeventWorker", CONFIG_ABSENT},
    {"gunicorn.workers.geventlet.EventletWorker", CONFIG_ABSENT},
    {"gunicorn.workers.gtornado.TornadoWorker", CONFIG_ABSENT},
    {"uvicorn.workers.UvicornWorker", CONFIG_ABSENT},
    {NULL, 0},
};

static const struct config_choice proxy_modes[] = {
    {"off", CONFIG_PROXY_OFF},
    {"v1", CONFIG_PROXY_V1},
    {"v2", CONFIG_PROXY_V2},
    {"auto", CONFIG_PROXY_AUTO},
    {"false", CONFIG_PROXY_OFF},
    {"true", CONFIG_PROXY_AUTO},
    {NULL, 0},
};

static void store_log_level(struct config *cfg, int value)
{
    cfg->log_level = value;
}

static void store_header_map(struct config *cfg, int value)
{
    cfg->header_map = (enum config_header_map)value;
}

static void store_worker_class(struct config *cfg, int value)
{
    cfg->worker_class = (enum config_worker_class)value;
}

/* config_gthread - see config.h.  Gunicorn 20.1's Config.worker_class_str:
 * a sync worker asked for more than one thread becomes gthread. */
bool config_gthread(const struct config *cfg)
{
    return cfg->worker_class == CONFIG_WORKER_GTHREAD || cfg->threads > 1;
}

static void store_proxy_protocol(struct config *cfg, int value)
{
    cfg->proxy_protocol = (enum config_proxy_protocol)value;
}

/* check_bind - an address must parse now, so a typo stops the server before it starts. */
static int check_bind(const char *value, char *why, size_t whylen)
{
    struct bind_addr addr;

    return bind_parse(value, &addr, why, whylen);
}

/* check_env - KEY=VALUE with a non-empty KEY (Gunicorn splits at the first '='). */
static int check_env(const char *value, char *why, size_t whylen)
{
    const char *eq = strchr(value, '=');

    if (eq == NULL || eq == value)
        return config_explain(why, whylen, "'%s' is not KEY=VALUE", value);
    return 0;
}

/* lookup_user / lookup_group - a name or a number; 0, or -1 when there is none. */
static int lookup_user(const char *text, uid_t *uid, gid_t *gid, char *name, size_t namelen)
{
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul(text, &end, 10);
    bool numeric = ascii_is_digit((unsigned char)text[0]) && *end == '\0' && errno == 0;
    struct passwd *pw = numeric ? getpwuid((uid_t)n) : getpwnam(text);

    if (pw == NULL && !numeric)
        return -1;
    *uid = pw != NULL ? pw->pw_uid : (uid_t)n;
    if (pw != NULL)
        *gid = pw->pw_gid;
    snprintf(name, namelen, "%s", pw != NULL ? pw->pw_name : "");
    return 0;
}

static int lookup_group(const char *text, gid_t *gid)
{
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul(text, &end, 10);
    if (ascii_is_digit((unsigned char)text[0]) && *end == '\0' && errno == 0) {
        *gid = (gid_t)n;
        return 0;
    }
    struct group *gr = getgrnam(text);
    if (gr == NULL)
        return -1;
    *gid = gr->gr_gid;
    return 0;
}

static int check_user(const char *value, char *why, size_t whylen)
{
    uid_t uid;
    gid_t gid;
    char name[64];
    return lookup_user(value, &uid, &gid, name, sizeof name) == 0
               ? 0
               : config_explain(why, whylen, "no such user '%s'", value);
}

static int check_group(const char *value, char *why, size_t whylen)
{
    gid_t gid;
    return lookup_group(value, &gid) == 0
               ? 0
               : config_explain(why, whylen, "no such group '%s'", value);
}

/* config_user_ids - see config.h. */
int config_user_ids(const struct config *cfg, uid_t *uid, gid_t *gid, char *name, size_t namelen,
                    char *err, size_t errlen)
{
    *uid = getuid();
    *gid = getgid();
    name[0] = '\0';
    if (cfg->user != NULL && lookup_user(cfg->user, uid, gid, name, namelen) < 0)
        return config_explain(err, errlen, "--user: no such user '%s'", cfg->user);
    if (cfg->group != NULL && lookup_group(cfg->group, gid) < 0)
        return config_explain(err, errlen, "--group: no such group '%s'", cfg->group);
    return 0;
}

/* config_check_access_format, config_check_statsd_tags - see config.h. */
int (*config_check_access_format)(const char *value, char *why, size_t whylen);
int (*config_check_statsd_tags)(const char *value, char *why, size_t whylen);

/* --access-logformat and --dogstatsd-tags: checked by the extra that will
 * use them, when one is plugged in; a typo then stops the start, not a log
 * line or a metric. */
static int check_access_format(const char *value, char *why, size_t whylen)
{
    return config_check_access_format ? config_check_access_format(value, why, whylen) : 0;
}

static int check_statsd_tags(const char *value, char *why, size_t whylen)
{
    return config_check_statsd_tags ? config_check_statsd_tags(value, why, whylen) : 0;
}

/* check_dir - the value names a directory that exists. */
static int check_dir(const char *value, char *why, size_t whylen)
{
    struct stat st;

    if (stat(value, &st) < 0 || !S_ISDIR(st.st_mode))
        return config_explain(why, whylen, "'%s' is not a directory", value);
    return 0;
}

/* check_any - any value will do (a file that may not exist yet). */
static int check_any(const char *value, char *why, size_t whylen)
{
    (void)value;
    (void)why;
    (void)whylen;
    return 0;
}

/* check_host_port - HOST:PORT with a port of 1-65535, as Gunicorn's validate_hostport. */
static int check_host_port(const char *value, char *why, size_t whylen)
{
    const char *colon = strrchr(value, ':');
    char *end = NULL;
    long port;

    if (colon == NULL || colon == value)
        return config_explain(why, whylen, "'%s' is not HOST:PORT", value);
    port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || port < 1 || port > 65535)
        return config_explain(why, whylen, "bad port in '%s'", value);
    return 0;
}

/* What a Gunicorn TLS option is told: terminate TLS in the proxy. */
#define TLS_INSTEAD                                                                                \
    "terminate TLS in nginx in front (examples/deploy/nginx.conf) and keep "                       \
    "--forwarded-allow-ips for its X-Forwarded-Proto"

/* The table.  Order is the order of --help.  Kept as one short paragraph per row. */
/* clang-format off */
const struct config_setting config_settings[] = {
    {.names = {"bind"}, .short_name = 'b', .kind = OPT_APPEND, .offset = AT(binds),
     .count_offset = AT(num_binds), .max = CONFIG_MAX_BINDS, .check = check_bind,
     .def = "127.0.0.1:8000", .env = "PORT", .env_prefix = "0.0.0.0:", .meta = "ADDRESS",
     .help = "the socket to bind: HOST, HOST:PORT, [IPv6]:PORT, unix:PATH, fd://N (repeatable)"},
    {.names = {"workers"}, .short_name = 'w', .kind = OPT_INT, .offset = AT(workers), .min = 1,
     .max = 1000, .def = "1", .env = "WEB_CONCURRENCY", .meta = "INT",
     .help = "the number of worker processes"},
    {.names = {"worker-class"}, .short_name = 'k', .kind = OPT_CHOICE, .choices = worker_classes,
     .offset = AT(worker_class), .store = store_worker_class, .def = "sync", .meta = "sync|gthread",
     .help = "the worker type: sync, or gthread (Gunicorn's names for them are accepted)",
     .instead = "use -k gthread (keep-alive and slow clients in an event loop, the app in "
                "--threads N), or sync behind nginx"},
    {.names = {"threads"}, .kind = OPT_INT, .offset = AT(threads), .min = 1, .max = 1024,
     .def = "1", .meta = "INT",
     .help = "gthread: threads running the app per worker (above 1 selects gthread)"},
    {.names = {"worker-connections"}, .kind = OPT_INT, .offset = AT(worker_connections),
     .min = 1, .max = 1000000, .def = "1000", .meta = "INT",
     .help = "gthread: open connections per worker; more wait in the backlog"},
    {.names = {"timeout"}, .short_name = 't', .kind = OPT_INT, .offset = AT(timeout), .min = 0,
     .max = 86400, .def = "30", .meta = "INT",
     .help = "workers silent for more than this many seconds are killed (0 = never)"},
    {.names = {"graceful-timeout"}, .kind = OPT_INT, .offset = AT(graceful_timeout), .min = 0,
     .max = 86400, .def = "30", .meta = "INT",
     .help = "seconds workers get to finish their requests on TERM or HUP"},
    {.names = {"keep-alive"}, .kind = OPT_INT, .offset = AT(keepalive), .min = 0, .max = 3600,
     .def = "2", .meta = "INT",
     .help = "gthread: seconds an idle connection is kept (0 = close after each response)"},
    {.names = {"backlog"}, .kind = OPT_INT, .offset = AT(backlog), .min = 0, .max = 65535,
     .def = "2048", .meta = "INT", .help = "the maximum number of pending connections"},
    {.names = {"umask"}, .short_name = 'm', .kind = OPT_MODE, .offset = AT(umask), .max = 0777,
     .def = "0", .meta = "INT",
     .help = "the umask unix sockets are created under (0o22, 022, 18; 0 = mode 0777)"},
    {.names = {"max-requests"}, .kind = OPT_INT, .offset = AT(max_requests), .min = 0,
     .max = INT_MAX, .def = "0", .meta = "INT",
     .help = "a worker restarts after this many requests (0 = never)"},
    {.names = {"max-requests-jitter"}, .kind = OPT_INT, .offset = AT(max_requests_jitter),
     .min = 0, .max = INT_MAX, .def = "0", .meta = "INT",
     .help = "each worker adds a random 0 to this many to --max-requests"},
    {.names = {"header-timeout"}, .kind = OPT_INT, .offset = AT(header_timeout), .min = 1,
     .max = 3600, .def = "10", .meta = "INT",
     .help = "seconds a client gets to send a whole request head (greenhorn)"},
    {.names = {"body-timeout"}, .kind = OPT_INT, .offset = AT(body_timeout), .min = 1, .max = 3600,
     .def = "10", .meta = "INT",
     .help = "seconds of silence allowed while reading a request body (greenhorn)"},
    {.names = {"config"}, .short_name = 'c', .kind = OPT_STRING, .offset = AT(config_file),
     .meta = "FILE",
     .help = "a Gunicorn config file to read settings from (./gunicorn.conf.py if there)"},
    {.names = {"chdir"}, .kind = OPT_STRING, .offset = AT(chdir), .meta = "DIR",
     .help = "change to this directory before loading the application"},
    {.names = {"pythonpath"}, .kind = OPT_LIST, .offset = AT(pythonpath), .meta = "DIRS",
     .help = "comma-separated directories to add to the Python path"},
    {.names = {"virtualenv"}, .kind = OPT_STRING, .offset = AT(virtualenv), .meta = "DIR",
     .help = "the virtual environment to use (default: $VIRTUAL_ENV)"},
    {.names = {"preload"}, .kind = OPT_FLAG, .offset = AT(preload),
     .help = "load the application before forking the workers"},
    {.names = {"env"}, .short_name = 'e', .kind = OPT_APPEND, .offset = AT(env),
     .count_offset = AT(num_env), .max = CONFIG_MAX_ENV, .check = check_env, .meta = "KEY=VALUE",
     .help = "set an environment variable in the workers (repeatable)"},
    {.names = {"user"}, .short_name = 'u', .kind = OPT_STRING, .offset = AT(user),
     .check = check_user, .meta = "USER",
     .help = "run the workers as this user (a name or a number)"},
    {.names = {"group"}, .short_name = 'g', .kind = OPT_STRING, .offset = AT(group),
     .check = check_group, .meta = "GROUP",
     .help = "run the workers in this group (default: the --user's own group)"},
    {.names = {"initgroups"}, .kind = OPT_FLAG, .offset = AT(initgroups),
     .help = "give the workers the --user's supplementary groups too"},
    {.names = {"reuse-port"}, .kind = OPT_FLAG, .offset = AT(reuse_port),
     .help = "set SO_REUSEPORT on the listening sockets"},
    {.names = {"worker-tmp-dir"}, .kind = OPT_STRING, .offset = AT(worker_tmp_dir),
     .check = check_dir, .meta = "DIR",
     .help = "accepted for Gunicorn's command lines; the heartbeat uses no file"},
    {.names = {"name"}, .short_name = 'n', .kind = OPT_STRING, .offset = AT(proc_name),
     .meta = "STRING", .help = "the name in process titles, as ps shows them (default: the app)"},
    {.names = {"daemon"}, .short_name = 'D', .kind = OPT_FLAG, .offset = AT(daemon),
     .help = "detach from the terminal (not under systemd, supervisor or runit)"},
    {.names = {"reload"}, .kind = OPT_FLAG, .offset = AT(reload),
     .help = "restart the workers when the app's code changes (development only)"},
    {.names = {"reload-extra-file"}, .kind = OPT_APPEND, .offset = AT(reload_extra_files),
     .count_offset = AT(num_reload_extra_files), .max = CONFIG_MAX_LIST, .check = check_any,
     .meta = "FILE", .help = "--reload also watches this file (repeatable)"},
    {.names = {"statsd-host"}, .kind = OPT_STRING, .offset = AT(statsd_host),
     .check = check_host_port, .meta = "HOST:PORT",
     .help = "send metrics to this StatsD server over UDP"},
    {.names = {"statsd-prefix"}, .kind = OPT_STRING, .offset = AT(statsd_prefix), .meta = "PREFIX",
     .help = "put this before every StatsD metric name"},
    {.names = {"dogstatsd-tags"}, .kind = OPT_STRING, .offset = AT(dogstatsd_tags),
     .check = check_statsd_tags, .meta = "TAGS",
     .help = "DogStatsD tags (env:prod,team:web) added to every StatsD metric"},
    {.names = {"pid"}, .short_name = 'p', .kind = OPT_STRING, .offset = AT(pidfile), .meta = "FILE",
     .help = "a file to write the master's PID to"},
    {.names = {"log-level"}, .kind = OPT_CHOICE, .offset = AT(log_level), .choices = log_levels,
     .store = store_log_level, .def = "info", .meta = "LEVEL",
     .help = "the error log's level: debug, info, warning, error, critical"},
    {.names = {"error-logfile", "log-file"}, .kind = OPT_STRING, .offset = AT(error_logfile),
     .def = "-", .meta = "FILE", .help = "the error log file ('-' = stderr)"},
    {.names = {"capture-output"}, .kind = OPT_FLAG, .offset = AT(capture_output),
     .help = "send what the app prints (stdout, stderr) to the --error-logfile"},
    {.names = {"access-logformat"}, .kind = OPT_STRING, .offset = AT(access_log_format),
     .check = check_access_format, .meta = "FORMAT",
     .help = "the access log's line: Gunicorn's atoms, %(h)s %(t)s \"%(r)s\" %(s)s ..."},
    {.names = {"access-logfile"}, .kind = OPT_STRING, .offset = AT(access_logfile), .meta = "FILE",
     .help = "the access log file ('-' = stdout; default: none)"},
    {.names = {"limit-request-line"}, .kind = OPT_UINT, .offset = AT(limit_request_line),
     .max = INT_MAX, .def = "4094", .meta = "INT",
     .help = "the longest request line in bytes, up to 8190 (0 means 8190); longer gets 414"},
    {.names = {"limit-request-fields"}, .kind = OPT_UINT, .offset = AT(limit_request_fields),
     .max = INT_MAX, .def = "100", .meta = "INT",
     .help = "the most header fields in a request, up to 32768"},
    {.names = {"limit-request-field_size", "limit-request-field-size"}, .kind = OPT_UINT,
     .offset = AT(limit_request_field_size), .max = INT_MAX, .def = "8190", .meta = "INT",
     .help = "the longest header field in bytes (0 means 8190); longer gets 431"},
    {.names = {"limit-request-body"}, .kind = OPT_BYTES, .offset = AT(limit_request_body),
     .max = 1LL << 40, .def = "0", .meta = "BYTES",
     .help = "the largest request body; larger gets 413 (0 = no limit; greenhorn)"},
    {.names = {"header-map"}, .kind = OPT_CHOICE, .offset = AT(header_map), .choices = header_maps,
     .store = store_header_map, .def = "drop", .meta = "drop|refuse|dangerous",
     .help = "what to do with header names containing '_'"},
    {.names = {"forwarder-headers"}, .kind = OPT_LIST, .offset = AT(forwarder_headers),
     .def = "SCRIPT_NAME,PATH_INFO", .meta = "LIST",
     .help = "environ keys a trusted proxy may set with headers"},
    {.names = {"permit-obsolete-folding"}, .kind = OPT_FLAG, .offset = AT(permit_obsolete_folding),
     .help = "accept header values folded over several lines (RFC 9112 5.2)"},
    {.names = {"permit-unconventional-http-method"}, .kind = OPT_FLAG,
     .offset = AT(permit_unconventional_http_method),
     .help = "accept methods that are not 3 to 20 upper-case letters"},
    {.names = {"permit-unconventional-http-version"}, .kind = OPT_FLAG,
     .offset = AT(permit_unconventional_http_version),
     .help = "accept HTTP versions other than 1.0 and 1.1"},
    {.names = {"casefold-http-method"}, .kind = OPT_FLAG, .offset = AT(casefold_http_method),
     .help = "upper-case the method instead of refusing a lower-case one"},
    {.names = {"strip-header-spaces"}, .kind = OPT_FLAG, .offset = AT(strip_header_spaces),
     .help = "strip spaces between a header name and ':' (dangerous)"},
    {.names = {"forwarded-allow-ips"}, .kind = OPT_ADDRS, .offset = AT(forwarded_allow_ips),
     .def = "127.0.0.1,::1", .env = "FORWARDED_ALLOW_IPS", .meta = "LIST",
     .help = "proxies trusted with X-Forwarded-* headers: IPs, networks, or '*'"},
    {.names = {"proxy-protocol"}, .kind = OPT_CHOICE, .offset = AT(proxy_protocol),
     .choices = proxy_modes, .store = store_proxy_protocol, .bare = "auto", .def = "off",
     .meta = "[off|v1|v2|auto]", .help = "expect a PROXY protocol header (bare flag = auto)"},
    {.names = {"proxy-allow-from"}, .kind = OPT_ADDRS, .offset = AT(proxy_allow_ips),
     .def = "127.0.0.1,::1", .meta = "LIST",
     .help = "front ends allowed to send a PROXY header: IPs, networks, or '*'"},
    /* secure_scheme_headers has no command-line form in Gunicorn either. */
    {.kind = OPT_LIST, .offset = AT(secure_scheme_names),
     .def = "X-FORWARDED-PROTOCOL,X-FORWARDED-PROTO,X-FORWARDED-SSL"},
    {.kind = OPT_LIST, .offset = AT(secure_scheme_values), .def = "ssl,https,on"},
    {.names = {"check-config"}, .kind = OPT_FLAG, .offset = AT(check_config),
     .help = "check the settings, import the application, and exit (0, or 1)"},
    {.names = {"print-config"}, .kind = OPT_FLAG, .offset = AT(print_config),
     .help = "print the settings, one per line, and exit"},
    /* Gunicorn's TLS: greenhorn leaves TLS to the proxy in front for now. */
    {.names = {"certfile"}, .kind = OPT_ABSENT, .meta = "FILE", .instead = TLS_INSTEAD},
    {.names = {"keyfile"}, .kind = OPT_ABSENT, .meta = "FILE", .instead = TLS_INSTEAD},
    {.names = {"ca-certs"}, .kind = OPT_ABSENT, .meta = "FILE", .instead = TLS_INSTEAD},
    {.names = {"ssl-version"}, .kind = OPT_ABSENT, .meta = "INT", .instead = TLS_INSTEAD},
    {.names = {"cert-reqs"}, .kind = OPT_ABSENT, .meta = "INT", .instead = TLS_INSTEAD},
    {.names = {"ciphers"}, .kind = OPT_ABSENT, .meta = "LIST", .instead = TLS_INSTEAD},
    {.names = {"do-handshake-on-connect"}, .kind = OPT_ABSENT, .bare = "", .instead = TLS_INSTEAD},
    {.names = {"suppress-ragged-eofs"}, .kind = OPT_ABSENT, .bare = "", .instead = TLS_INSTEAD},
    {.names = {"version"}, .short_name = 'v', .kind = OPT_VERSION,
     .help = "show the version and exit"},
    {.names = {"help"}, .short_name = 'h', .kind = OPT_HELP, .help = "show this help and exit"},
};
/* clang-format on */

#define NUM_SETTINGS (sizeof config_settings / sizeof config_settings[0])

/* config_args.c sizes its per-setting arrays with CONFIG_MAX_SETTINGS. */
_Static_assert(NUM_SETTINGS <= CONFIG_MAX_SETTINGS, "raise CONFIG_MAX_SETTINGS");

const size_t config_num_settings = NUM_SETTINGS;

/* config_parse_number - see config_internal.h. */
int config_parse_number(const char *text, long long min, long long max, long long *out, char *why,
                        size_t whylen)
{
    char *end = NULL;
    long long n;

    errno = 0;
    n = strtoll(text, &end, 10);
    /* strtoll would skip leading blanks (as the C locale's isspace has them)
     * and take a sign: only the sign is part of a number here. */
    if (end == text || *end != '\0' ||
        !(ascii_is_digit((unsigned char)text[0]) || text[0] == '-' || text[0] == '+'))
        return config_explain(why, whylen, "'%s' is not a whole number", text);
    if ((errno == ERANGE && n > 0) || n > max)
        return config_explain(why, whylen, "%s is above %lld", text, max);
    if (errno == ERANGE || n < min)
        return config_explain(why, whylen, "%s is below %lld", text, min);
    *out = n;
    return 0;
}

/* parse_bytes - digits with an optional k, m or g (powers of 1024), at most max. */
static int parse_bytes(const char *text, long long max, uint64_t *out, char *why, size_t whylen)
{
    static const char units[] = "kmg"; /* 2^10, 2^20, 2^30 */
    const char *p = text, *unit = NULL;
    uint64_t n = 0, scale = 1;

    for (; ascii_is_digit((unsigned char)*p); p++) {
        if (n <= (uint64_t)max) /* past max it is refused anyway; stopping here cannot overflow */
            n = n * 10 + (uint64_t)(*p - '0');
    }
    if (*p != '\0' && (unit = strchr(units, ascii_lower((unsigned char)*p))) != NULL) {
        scale = (uint64_t)1 << (10 * (unit - units + 1));
        p++;
    }
    if (p == text || !ascii_is_digit((unsigned char)text[0]) || *p != '\0')
        return config_explain(why, whylen,
                              "'%s' is not a size in bytes (such as 1048576, 64k, 10m, 1g)", text);
    if (n > (uint64_t)max / scale)
        return config_explain(why, whylen, "%s is above %lld bytes", text, max);
    *out = n * scale;
    return 0;
}

/*
 * parse_mode - a file mode the way Gunicorn reads --umask: 0o, 0x or 0b
 * prefixes, a leading 0 for octal ("022" is 0o22), else decimal.
 */
static int parse_mode(const char *text, long long max, int *out, char *why, size_t whylen)
{
    const char *digits = text, *valid = "0123456789";
    int base = 10;
    long long n;

    if (text[0] == '0' && text[1] != '\0') {
        int p = ascii_lower((unsigned char)text[1]);
        base = p == 'x' ? 16 : p == 'b' ? 2 : 8;
        valid = base == 16 ? "0123456789abcdefABCDEF" : base == 2 ? "01" : "01234567";
        digits = text + (p == 'x' || p == 'b' || p == 'o' ? 2 : 1);
    }
    if (digits[0] == '\0' || digits[strspn(digits, valid)] != '\0')
        return config_explain(why, whylen, "'%s' is not a file mode (such as 0o22, 022 or 18)",
                              text);
    errno = 0;
    n = strtoll(digits, NULL, base);
    if (errno == ERANGE || n > max)
        return config_explain(why, whylen, "%s is above 0o%llo", text, max);
    *out = (int)n;
    return 0;
}

/* The two enums spell the same three choices; mapped by name, not by number. */
static enum http_header_map http_header_map_of(enum config_header_map map)
{
    switch (map) {
    case CONFIG_HEADER_MAP_REFUSE:
        return HTTP_HEADER_MAP_REFUSE;
    case CONFIG_HEADER_MAP_DANGEROUS:
        return HTTP_HEADER_MAP_DANGEROUS;
    case CONFIG_HEADER_MAP_DROP:
        break;
    }
    return HTTP_HEADER_MAP_DROP;
}

/* config_http_options - see config.h. */
void config_http_options(const struct config *cfg, struct http_options *o, size_t *max_head)
{
    http_options_init(o);
    o->limit_request_line = cfg->limit_request_line;
    o->limit_request_fields = cfg->limit_request_fields;
    o->limit_request_field_size = cfg->limit_request_field_size;
    o->limit_request_body = cfg->limit_request_body;
    o->flags = (cfg->permit_obsolete_folding ? HTTP_PERMIT_OBS_FOLD : 0) |
               (cfg->permit_unconventional_http_method ? HTTP_PERMIT_UNCONVENTIONAL_METHOD : 0) |
               (cfg->permit_unconventional_http_version ? HTTP_PERMIT_UNCONVENTIONAL_VERSION : 0) |
               (cfg->casefold_http_method ? HTTP_CASEFOLD_METHOD : 0) |
               (cfg->strip_header_spaces ? HTTP_STRIP_HEADER_SPACES : 0);
    o->header_map = http_header_map_of(cfg->header_map);
    o->forwarder_headers = (const char *const *)cfg->forwarder_headers.items;
    o->num_forwarder_headers = cfg->forwarder_headers.count;
    o->secure_scheme_names = (const char *const *)cfg->secure_scheme_names.items;
    o->secure_scheme_values = (const char *const *)cfg->secure_scheme_values.items;
    /* The lists pair up item by item; the shorter bounds the pairs, so a
     * name is never read without its value. */
    o->num_secure_scheme_headers = cfg->secure_scheme_names.count < cfg->secure_scheme_values.count
                                       ? cfg->secure_scheme_names.count
                                       : cfg->secure_scheme_values.count;
    size_t head = http_options_settle(o);
    if (max_head != NULL)
        *max_head = head;
}

static void list_clear(struct config_list *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    list->count = 0;
}

/*
 * parse_list - "a, b,,c" -> {"a","b","c"}, replacing *list only when all of
 * it is good.  With addrs, every item must pass is_address.
 */
static int parse_list(struct config_list *list, const char *text, bool addrs, char *why,
                      size_t whylen)
{
    struct config_list fresh = {.count = 0};
    const char *p = text;

    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        char *piece = strndup(p, len);
        char *item = piece != NULL ? trimmed_copy(piece) : NULL;

        free(piece);
        p += len + (p[len] == ',');
        if (item != NULL && item[0] == '\0') {
            free(item);
            continue;
        }
        if (item == NULL)
            config_explain(why, whylen, "out of memory");
        else if (addrs && !config_is_address(item))
            config_explain(why, whylen,
                           "'%s' is not an IP address, a network such as 10.0.0.0/8, or '*'", item);
        else if (fresh.count == CONFIG_MAX_LIST)
            config_explain(why, whylen, "more than %d items", CONFIG_MAX_LIST);
        else {
            fresh.items[fresh.count++] = item;
            continue;
        }
        free(item);
        goto fail;
    }
    list_clear(list);
    *list = fresh;
    return 0;
fail:
    list_clear(&fresh);
    return -1;
}

/* config_parse_choice - the value of the choice named text (any case). */
int config_parse_choice(const struct config_setting *s, const char *text, int *value, char *why,
                        size_t whylen)
{
    size_t n = 0;

    for (const struct config_choice *c = s->choices; c->name != NULL; c++) {
        if (ascii_caseeq(text, strlen(text), c->name)) {
            *value = c->value;
            return 0;
        }
    }
    n = (size_t)snprintf(why, whylen, "'%s' is not one of", text);
    for (const struct config_choice *c = s->choices; c->name != NULL && n < whylen; c++) {
        if (c->value != CONFIG_ABSENT) /* named only to say what to use instead */
            n +=
                (size_t)snprintf(why + n, whylen - n, "%s %s", c == s->choices ? "" : ",", c->name);
    }
    return -1;
}

/* append_value - add one -b / -e value, checked, to its array. */
static int append_value(struct config *cfg, const struct config_setting *s, const char *value,
                        char *why, size_t whylen)
{
    char **items = (char **)((char *)cfg + s->offset);
    size_t *count = (size_t *)((char *)cfg + s->count_offset);

    if (s->check(value, why, whylen) < 0)
        return -1;
    if (*count >= (size_t)s->max)
        return config_explain(why, whylen, "more than %lld values", s->max);
    items[*count] = strdup(value);
    if (items[*count] == NULL)
        return config_explain(why, whylen, "out of memory");
    (*count)++;
    return 0;
}

void config_append_clear(struct config *cfg, const struct config_setting *s)
{
    char **items = (char **)((char *)cfg + s->offset);
    size_t *count = (size_t *)((char *)cfg + s->count_offset);

    for (size_t i = 0; i < *count; i++) {
        free(items[i]);
        items[i] = NULL;
    }
    *count = 0;
}

/* store_value - parse an already trimmed value for s and store it in cfg. */
static int store_value(struct config *cfg, const struct config_setting *s, const char *v, char *why,
                       size_t whylen)
{
    char *field = (char *)cfg + s->offset;
    long long n = 0;
    int choice = 0;

    switch (s->kind) {
    case OPT_FLAG:
        *(bool *)field = true;
        return 0;
    case OPT_INT:
    case OPT_UINT:
        if (config_parse_number(v, s->min, s->max, &n, why, whylen) < 0)
            return -1;
        if (s->kind == OPT_INT)
            *(int *)field = (int)n;
        else
            *(unsigned *)field = (unsigned)n;
        return 0;
    case OPT_BYTES:
        return parse_bytes(v, s->max, (uint64_t *)field, why, whylen);
    case OPT_MODE:
        return parse_mode(v, s->max, (int *)field, why, whylen);
    case OPT_STRING:
        if (s->check != NULL && v[0] != '\0' && s->check(v, why, whylen) < 0)
            return -1;
        free(*(char **)field);
        *(char **)field = NULL;
        if (v[0] == '\0')
            return 0;
        *(char **)field = strdup(v);
        return *(char **)field != NULL ? 0 : config_explain(why, whylen, "out of memory");
    case OPT_LIST:
    case OPT_ADDRS:
        return parse_list((struct config_list *)field, v, s->kind == OPT_ADDRS, why, whylen);
    case OPT_APPEND:
        return append_value(cfg, s, v, why, whylen);
    case OPT_CHOICE:
        if (config_parse_choice(s, v, &choice, why, whylen) < 0)
            return -1;
        if (choice == CONFIG_ABSENT) {
            config_explain(why, whylen, "'%s' is not in greenhorn yet; %s", v, s->instead);
            return CONFIG_ABSENT;
        }
        s->store(cfg, choice);
        return 0;
    case OPT_ABSENT:
        config_explain(why, whylen, "greenhorn does not have this setting yet; %s", s->instead);
        return CONFIG_ABSENT;
    case OPT_HELP:
    case OPT_VERSION:
        break;
    }
    return config_explain(why, whylen, "takes no value");
}

/*
 * config_set_value - trim value (flags pass NULL) and store it.  Returns 0, or -1
 * with "--name: reason" in err, after label.
 */
int config_set_value(struct config *cfg, const struct config_setting *s, const char *value,
                     const char *label, char *err, size_t errlen)
{
    char why[256] = "out of memory";
    char *v = trimmed_copy(value != NULL ? value : "");
    int rc = v != NULL ? store_value(cfg, s, v, why, sizeof why) : -1;

    if (rc < 0)
        snprintf(err, errlen, "%s--%s: %s", label, s->names[0] != NULL ? s->names[0] : "?", why);
    free(v);
    return rc;
}

/* apply_default - the setting's default, or its environment variable's value when set. */
static int apply_default(struct config *cfg, const struct config_setting *s, char *err,
                         size_t errlen)
{
    const char *env = s->env != NULL ? getenv(s->env) : NULL;
    char label[64], *text = NULL;
    int rc;

    if (env == NULL || env[0] == '\0')
        return s->def != NULL ? config_set_value(cfg, s, s->def, "", err, errlen) : 0;
    snprintf(label, sizeof label, "$%s: ", s->env);
    if (asprintf(&text, "%s%s", s->env_prefix != NULL ? s->env_prefix : "", env) < 0)
        return config_explain(err, errlen, "%sout of memory", label);
    rc = config_set_value(cfg, s, text, label, err, errlen);
    free(text);
    return rc;
}

/* config_init - see config.h. */
int config_init(struct config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NUM_SETTINGS; i++) {
        if (apply_default(cfg, &config_settings[i], err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* config_free - see config.h. */
void config_free(struct config *cfg)
{
    for (size_t i = 0; i < NUM_SETTINGS; i++) {
        const struct config_setting *s = &config_settings[i];
        char *field = (char *)cfg + s->offset;

        if (s->kind == OPT_STRING)
            free(*(char **)field);
        else if (s->kind == OPT_LIST || s->kind == OPT_ADDRS)
            list_clear((struct config_list *)field);
        else if (s->kind == OPT_APPEND)
            config_append_clear(cfg, s);
    }
    free(cfg->app_uri);
    free(cfg->config_read);
    free(cfg->config_text);
    memset(cfg, 0, sizeof *cfg);
}
