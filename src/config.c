/*
 * config.c - stage 1: every setting, driven from one table.
 *
 * Gunicorn counterpart: gunicorn/config.py (the Setting classes) and
 * gunicorn/app/base.py load_config (the order of the sources).
 * Owns: the settings table below, and everything that reads it: defaults,
 * the command line, $GUNICORN_CMD_ARGS, the checks on every value, --help.
 * Does not own: acting on a setting.  Addresses are only parsed here (so a
 * typo is a usage error before anything starts); bind.c binds them later.
 *
 * One row of the table says everything about a setting: its spellings, the
 * kind of value (and so the parser), bounds, default, and help line.  Adding
 * a setting is adding a row and a field to struct config; nothing else here
 * names settings one by one.
 *
 * Command-line grammar, as Gunicorn's argparse reads it: --name=value,
 * --name value, -w 4, -w4, -w=4; flags take no value; "--" ends the options;
 * exactly one positional, the application MODULE[:VARIABLE].  A value is
 * always the next word, even one starting with '-' (so "-t -1" reports that
 * -1 is below 0 rather than an unknown option "-1").
 */
#include "config.h"

#include "bind.h"
#include "log.h" /* enum log_level values only */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AT(field) offsetof(struct config, field)

/* Gunicorn's parser (gunicorn/http/message.py) lowers larger limits to these. */
#define MAX_REQUEST_LINE 8190u
#define MAX_HEADERS      32768u

/* The kind of value a setting takes; each kind has one parser in set_value(). */
enum opt_kind {
    OPT_FLAG,    /* bool; present = true; takes no value */
    OPT_INT,     /* int within [min, max] */
    OPT_UINT,    /* unsigned within [min, max] */
    OPT_BYTES,   /* uint64_t: a size, "1048576", "64k", "10m", "1g" */
    OPT_STRING,  /* char *; "" leaves it unset (NULL) */
    OPT_LIST,    /* struct config_list from "a,b,c" */
    OPT_ADDRS,   /* a list of IP addresses or networks, or "*" */
    OPT_APPEND,  /* char *[] plus a count: one value per use (-b, -e) */
    OPT_CHOICE,  /* one word of choices[] (any case) */
    OPT_HELP,    /* print --help, stop */
    OPT_VERSION, /* print the version, stop */
};

struct choice {
    const char *name;
    int value;
};

struct setting {
    const char *names[3]; /* long spellings without "--"; names[0] is the one errors use */
    char short_name;      /* 'w' for -w; 0 = none */
    enum opt_kind kind;
    size_t offset;                       /* where the value lives in struct config */
    size_t count_offset;                 /* OPT_APPEND: where its count lives */
    long long min, max;                  /* numbers: bounds; OPT_APPEND: max is the capacity */
    const struct choice *choices;        /* OPT_CHOICE: ends with a NULL name */
    void (*store)(struct config *, int); /* OPT_CHOICE: enum fields differ in type */
    int (*check)(const char *, char *, size_t); /* OPT_APPEND: validates one value */
    const char *bare;       /* value when given without one; NULL = a value is required */
    const char *def;        /* default, as text, read by the same parser; NULL = none */
    const char *env;        /* environment variable that replaces the default */
    const char *env_prefix; /* put before the variable's value ("0.0.0.0:" for $PORT) */
    const char *meta;       /* what --help shows as the value */
    const char *help;       /* one line for --help; Gunicorn's wording where it has one */
};

static int explain(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* explain - write a reason into why and return -1, for `return explain(...)`. */
static int explain(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -1;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* trimmed_copy - value without leading and trailing blanks, as Gunicorn strips strings. */
static char *trimmed_copy(const char *value)
{
    const char *end;

    while (is_blank(*value))
        value++;
    end = value + strlen(value);
    while (end > value && is_blank(end[-1]))
        end--;
    return strndup(value, (size_t)(end - value));
}

static const struct choice log_levels[] = {
    {"debug", LOG_DEBUG}, {"info", LOG_INFO},         {"warning", LOG_WARNING},
    {"error", LOG_ERROR}, {"critical", LOG_CRITICAL}, {NULL, 0},
};

static const struct choice header_maps[] = {
    {"drop", CONFIG_HEADER_MAP_DROP},
    {"refuse", CONFIG_HEADER_MAP_REFUSE},
    {"dangerous", CONFIG_HEADER_MAP_DANGEROUS},
    {NULL, 0},
};

/* Gunicorn 24.1 turned the old bare flag into a mode; true/false stay as aliases. */
static const struct choice proxy_modes[] = {
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
        return explain(why, whylen, "'%s' is not KEY=VALUE", value);
    return 0;
}

/* The table.  Order is the order of --help.  Kept as one short paragraph per row. */
/* clang-format off */
static const struct setting settings[] = {
    {.names = {"bind"}, .short_name = 'b', .kind = OPT_APPEND, .offset = AT(binds),
     .count_offset = AT(num_binds), .max = CONFIG_MAX_BINDS, .check = check_bind,
     .def = "127.0.0.1:8000", .env = "PORT", .env_prefix = "0.0.0.0:", .meta = "ADDRESS",
     .help = "the socket to bind: HOST, HOST:PORT, [IPv6]:PORT, unix:PATH, fd://N (repeatable)"},
    {.names = {"workers"}, .short_name = 'w', .kind = OPT_INT, .offset = AT(workers), .min = 1,
     .max = 1000, .def = "1", .env = "WEB_CONCURRENCY", .meta = "INT",
     .help = "the number of worker processes"},
    {.names = {"timeout"}, .short_name = 't', .kind = OPT_INT, .offset = AT(timeout), .min = 0,
     .max = 86400, .def = "30", .meta = "INT",
     .help = "workers silent for more than this many seconds are killed (0 = never)"},
    {.names = {"graceful-timeout"}, .kind = OPT_INT, .offset = AT(graceful_timeout), .min = 0,
     .max = 86400, .def = "30", .meta = "INT",
     .help = "seconds workers get to finish their requests on TERM or HUP"},
    {.names = {"backlog"}, .kind = OPT_INT, .offset = AT(backlog), .min = 0, .max = 65535,
     .def = "2048", .meta = "INT", .help = "the maximum number of pending connections"},
    {.names = {"header-timeout"}, .kind = OPT_INT, .offset = AT(header_timeout), .min = 1,
     .max = 3600, .def = "10", .meta = "INT",
     .help = "seconds a client gets to send a whole request head (greenhorn)"},
    {.names = {"body-timeout"}, .kind = OPT_INT, .offset = AT(body_timeout), .min = 1, .max = 3600,
     .def = "10", .meta = "INT",
     .help = "seconds of silence allowed while reading a request body (greenhorn)"},
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
    {.names = {"pid"}, .short_name = 'p', .kind = OPT_STRING, .offset = AT(pidfile), .meta = "FILE",
     .help = "a file to write the master's PID to"},
    {.names = {"log-level"}, .kind = OPT_CHOICE, .offset = AT(log_level), .choices = log_levels,
     .store = store_log_level, .def = "info", .meta = "LEVEL",
     .help = "the error log's level: debug, info, warning, error, critical"},
    {.names = {"error-logfile", "log-file"}, .kind = OPT_STRING, .offset = AT(error_logfile),
     .def = "-", .meta = "FILE", .help = "the error log file ('-' = stderr)"},
    {.names = {"access-logfile"}, .kind = OPT_STRING, .offset = AT(access_logfile), .meta = "FILE",
     .help = "the access log file ('-' = stdout; default: none)"},
    {.names = {"limit-request-line"}, .kind = OPT_UINT, .offset = AT(limit_request_line),
     .max = INT_MAX, .def = "4094", .meta = "INT",
     .help = "the longest request line in bytes, up to 8190 (0 = unlimited)"},
    {.names = {"limit-request-fields"}, .kind = OPT_UINT, .offset = AT(limit_request_fields),
     .max = INT_MAX, .def = "100", .meta = "INT",
     .help = "the most header fields in a request, up to 32768"},
    {.names = {"limit-request-field_size", "limit-request-field-size"}, .kind = OPT_UINT,
     .offset = AT(limit_request_field_size), .max = INT_MAX, .def = "8190", .meta = "INT",
     .help = "the longest header field in bytes (0 = unlimited)"},
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
    {.names = {"version"}, .short_name = 'v', .kind = OPT_VERSION,
     .help = "show the version and exit"},
    {.names = {"help"}, .short_name = 'h', .kind = OPT_HELP, .help = "show this help and exit"},
};
/* clang-format on */

#define NUM_SETTINGS (sizeof settings / sizeof settings[0])

/* Where a setting's current value came from; a stronger source replaces a weaker one. */
enum origin { FROM_DEFAULT, FROM_ENV_ARGS, FROM_ARGV };

/* What config_load carries while reading one source of words. */
struct loader {
    struct config *cfg;
    struct config scratch;            /* sink for $GUNICORN_CMD_ARGS values argv overrides */
    enum origin origin[NUM_SETTINGS]; /* who set each setting */
    enum origin source;               /* the source being read */
    const char *label;                /* "" or "$GUNICORN_CMD_ARGS: ", put before errors */
    const char *first_app;            /* the first positional of this source, or NULL */
    bool app_from_argv;
    FILE *out;
    char *err;
    size_t errlen;
};

/* parse_number - a decimal whole number within [min, max]. */
static int parse_number(const char *text, long long min, long long max, long long *out, char *why,
                        size_t whylen)
{
    char *end = NULL;
    long long n;

    errno = 0;
    n = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || isspace((unsigned char)text[0]))
        return explain(why, whylen, "'%s' is not a whole number", text);
    if ((errno == ERANGE && n > 0) || n > max)
        return explain(why, whylen, "%s is above %lld", text, max);
    if (errno == ERANGE || n < min)
        return explain(why, whylen, "%s is below %lld", text, min);
    *out = n;
    return 0;
}

/* parse_bytes - digits with an optional k, m or g (powers of 1024), at most max. */
static int parse_bytes(const char *text, long long max, uint64_t *out, char *why, size_t whylen)
{
    static const char units[] = "kmg"; /* 2^10, 2^20, 2^30 */
    const char *p = text, *unit = NULL;
    uint64_t n = 0, scale = 1;

    for (; isdigit((unsigned char)*p); p++) {
        if (n <= (uint64_t)max) /* past max it is refused anyway; stopping here cannot overflow */
            n = n * 10 + (uint64_t)(*p - '0');
    }
    if (*p != '\0' && (unit = strchr(units, tolower((unsigned char)*p))) != NULL) {
        scale = (uint64_t)1 << (10 * (unit - units + 1));
        p++;
    }
    if (p == text || !isdigit((unsigned char)text[0]) || *p != '\0')
        return explain(why, whylen, "'%s' is not a size in bytes (such as 1048576, 64k, 10m, 1g)",
                       text);
    if (n > (uint64_t)max / scale)
        return explain(why, whylen, "%s is above %lld bytes", text, max);
    *out = n * scale;
    return 0;
}

/*
 * struct net - an address, or a network "10.0.0.0/8": the address bytes
 * (IPv4 in the first 4), the family, and how many leading bits must match.
 */
struct net {
    unsigned char bytes[sizeof(struct in6_addr)];
    int family;
    long long bits;
};

/* parse_net - "ADDR" or "ADDR/BITS" (BITS at most 32 or 128).  Returns 0 or -1. */
static int parse_net(const char *text, struct net *net)
{
    static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const char *slash = strchr(text, '/');
    size_t len = slash != NULL ? (size_t)(slash - text) : strlen(text);
    char host[INET6_ADDRSTRLEN], why[8];

    if (len == 0 || len >= sizeof host)
        return -1;
    memcpy(host, text, len);
    host[len] = '\0';
    if (inet_pton(AF_INET, host, net->bytes) == 1)
        net->family = AF_INET;
    else if (inet_pton(AF_INET6, host, net->bytes) == 1)
        net->family = AF_INET6;
    else
        return -1;
    net->bits = net->family == AF_INET ? 32 : 128;
    /* A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d: compare them as IPv4. */
    if (net->family == AF_INET6 && slash == NULL && memcmp(net->bytes, v4_mapped, 12) == 0) {
        memmove(net->bytes, net->bytes + 12, 4);
        net->family = AF_INET;
        net->bits = 32;
    }
    if (slash == NULL)
        return 0;
    if (!isdigit((unsigned char)slash[1]))
        return -1;
    return parse_number(slash + 1, 0, net->bits, &net->bits, why, sizeof why);
}

/* is_address - "*", or an address or network parse_net accepts. */
static bool is_address(const char *item)
{
    struct net net;

    return strcmp(item, "*") == 0 || parse_net(item, &net) == 0;
}

/* net_contains - do the first net->bits bits of addr equal the network's? */
static bool net_contains(const struct net *net, const struct net *addr)
{
    size_t whole = (size_t)net->bits / 8;
    unsigned rest = (unsigned)net->bits % 8;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));

    if (net->family != addr->family || memcmp(net->bytes, addr->bytes, whole) != 0)
        return false;
    return rest == 0 || ((net->bytes[whole] ^ addr->bytes[whole]) & mask) == 0;
}

/* config_addr_allowed - see config.h. */
bool config_addr_allowed(const struct config_list *list, const char *addr)
{
    struct net peer, net;
    bool have_peer = addr != NULL && strchr(addr, '/') == NULL && parse_net(addr, &peer) == 0;

    for (size_t i = 0; i < list->count; i++) {
        if (strcmp(list->items[i], "*") == 0)
            return true;
        if (have_peer && parse_net(list->items[i], &net) == 0 && net_contains(&net, &peer))
            return true;
    }
    return false;
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
            explain(why, whylen, "out of memory");
        else if (addrs && !is_address(item))
            explain(why, whylen, "'%s' is not an IP address, a network such as 10.0.0.0/8, or '*'",
                    item);
        else if (fresh.count == CONFIG_MAX_LIST)
            explain(why, whylen, "more than %d items", CONFIG_MAX_LIST);
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

/* parse_choice - the value of the choice named text (any case). */
static int parse_choice(const struct setting *s, const char *text, int *value, char *why,
                        size_t whylen)
{
    size_t n = 0;

    for (const struct choice *c = s->choices; c->name != NULL; c++) {
        if (strcasecmp(c->name, text) == 0) {
            *value = c->value;
            return 0;
        }
    }
    n = (size_t)snprintf(why, whylen, "'%s' is not one of", text);
    for (const struct choice *c = s->choices; c->name != NULL && n < whylen; c++)
        n += (size_t)snprintf(why + n, whylen - n, "%s %s", c == s->choices ? "" : ",", c->name);
    return -1;
}

/* append_value - add one -b / -e value, checked, to its array. */
static int append_value(struct config *cfg, const struct setting *s, const char *value, char *why,
                        size_t whylen)
{
    char **items = (char **)((char *)cfg + s->offset);
    size_t *count = (size_t *)((char *)cfg + s->count_offset);

    if (s->check(value, why, whylen) < 0)
        return -1;
    if (*count >= (size_t)s->max)
        return explain(why, whylen, "more than %lld values", s->max);
    items[*count] = strdup(value);
    if (items[*count] == NULL)
        return explain(why, whylen, "out of memory");
    (*count)++;
    return 0;
}

static void append_clear(struct config *cfg, const struct setting *s)
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
static int store_value(struct config *cfg, const struct setting *s, const char *v, char *why,
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
        if (parse_number(v, s->min, s->max, &n, why, whylen) < 0)
            return -1;
        if (s->kind == OPT_INT)
            *(int *)field = (int)n;
        else
            *(unsigned *)field = (unsigned)n;
        return 0;
    case OPT_BYTES:
        return parse_bytes(v, s->max, (uint64_t *)field, why, whylen);
    case OPT_STRING:
        free(*(char **)field);
        *(char **)field = NULL;
        if (v[0] == '\0')
            return 0;
        *(char **)field = strdup(v);
        return *(char **)field != NULL ? 0 : explain(why, whylen, "out of memory");
    case OPT_LIST:
    case OPT_ADDRS:
        return parse_list((struct config_list *)field, v, s->kind == OPT_ADDRS, why, whylen);
    case OPT_APPEND:
        return append_value(cfg, s, v, why, whylen);
    case OPT_CHOICE:
        if (parse_choice(s, v, &choice, why, whylen) < 0)
            return -1;
        s->store(cfg, choice);
        return 0;
    case OPT_HELP:
    case OPT_VERSION:
        break;
    }
    return explain(why, whylen, "takes no value");
}

/*
 * set_value - trim value (flags pass NULL) and store it.  Returns 0, or -1
 * with "--name: reason" in err, after label.
 */
static int set_value(struct config *cfg, const struct setting *s, const char *value,
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
static int apply_default(struct config *cfg, const struct setting *s, char *err, size_t errlen)
{
    const char *env = s->env != NULL ? getenv(s->env) : NULL;
    char label[64], *text = NULL;
    int rc;

    if (env == NULL || env[0] == '\0')
        return s->def != NULL ? set_value(cfg, s, s->def, "", err, errlen) : 0;
    snprintf(label, sizeof label, "$%s: ", s->env);
    if (asprintf(&text, "%s%s", s->env_prefix != NULL ? s->env_prefix : "", env) < 0)
        return explain(err, errlen, "%sout of memory", label);
    rc = set_value(cfg, s, text, label, err, errlen);
    free(text);
    return rc;
}

/* config_init - see config.h. */
int config_init(struct config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NUM_SETTINGS; i++) {
        if (apply_default(cfg, &settings[i], err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* config_free - see config.h. */
void config_free(struct config *cfg)
{
    for (size_t i = 0; i < NUM_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        char *field = (char *)cfg + s->offset;

        if (s->kind == OPT_STRING)
            free(*(char **)field);
        else if (s->kind == OPT_LIST || s->kind == OPT_ADDRS)
            list_clear((struct config_list *)field);
        else if (s->kind == OPT_APPEND)
            append_clear(cfg, s);
    }
    free(cfg->app_uri);
    memset(cfg, 0, sizeof *cfg);
}

/* find - the setting spelled --name (len bytes, without "--"), or -c when name is NULL. */
static const struct setting *find(const char *name, size_t len, char c)
{
    for (size_t i = 0; i < NUM_SETTINGS; i++) {
        for (size_t k = 0; k < 3 && name != NULL && settings[i].names[k] != NULL; k++) {
            if (strlen(settings[i].names[k]) == len &&
                strncmp(settings[i].names[k], name, len) == 0)
                return &settings[i];
        }
        if (name == NULL && c != 0 && settings[i].short_name == c)
            return &settings[i];
    }
    return NULL;
}

static enum config_result loader_fail(struct loader *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* loader_fail - a usage error, labelled with the source being read. */
static enum config_result loader_fail(struct loader *ld, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(ld->err, ld->errlen, "%s%s", ld->label, msg);
    return CONFIG_ERROR;
}

/*
 * apply - one option with its value (NULL for flags).  A value from
 * $GUNICORN_CMD_ARGS for a setting the command line already set is still
 * checked, into scratch, then forgotten: the command line wins.
 */
static enum config_result apply(struct loader *ld, const struct setting *s, const char *value)
{
    size_t idx = (size_t)(s - settings);
    struct config *dst = ld->cfg;

    if (s->kind == OPT_HELP) {
        config_print_help(ld->out);
        return CONFIG_EXIT;
    }
    if (s->kind == OPT_VERSION) {
        if (ld->out != NULL)
            fprintf(ld->out, "greenhorn %s\n", CONFIG_VERSION);
        return CONFIG_EXIT;
    }
    if (ld->source == FROM_ENV_ARGS && ld->origin[idx] == FROM_ARGV) {
        dst = &ld->scratch;
    } else {
        /* The first -b from a stronger source replaces the weaker one's list. */
        if (s->kind == OPT_APPEND && ld->origin[idx] != ld->source)
            append_clear(dst, s);
        ld->origin[idx] = ld->source;
    }
    if (set_value(dst, s, value, ld->label, ld->err, ld->errlen) < 0)
        return CONFIG_ERROR;
    return CONFIG_RUN;
}

/* is_choice - could word be the optional value of s ("--proxy-protocol v1")? */
static bool is_choice(const struct setting *s, const char *word)
{
    int value;
    char why[128];

    return word != NULL && s->kind == OPT_CHOICE &&
           parse_choice(s, word, &value, why, sizeof why) == 0;
}

/*
 * take_option - find the value of option s and apply it.  glued is the value
 * written in the same word ("--x=v", "-wv"), or NULL; next is the following
 * word, or NULL.  *used is set to 1 when next was the value.
 */
static enum config_result take_option(struct loader *ld, const struct setting *s,
                                      const char *spelled, const char *glued, const char *next,
                                      int *used)
{
    bool no_value = s->kind == OPT_FLAG || s->kind == OPT_HELP || s->kind == OPT_VERSION;

    *used = 0;
    if (no_value) {
        if (glued != NULL)
            return loader_fail(ld, "option '%s' takes no value", spelled);
        return apply(ld, s, NULL);
    }
    if (glued != NULL)
        return apply(ld, s, glued);
    if (s->bare != NULL && !is_choice(s, next))
        return apply(ld, s, s->bare);
    if (next == NULL)
        return loader_fail(ld, "option '%s' needs a value", spelled);
    *used = 1;
    return apply(ld, s, next);
}

/* take_long - "--name", "--name=value" or "--name value". */
static enum config_result take_long(struct loader *ld, const char *word, const char *next,
                                    int *used)
{
    const char *name = word + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    const struct setting *s = find(name, len, 0);
    char spelled[128];

    snprintf(spelled, sizeof spelled, "--%.*s", (int)len, name);
    if (s == NULL) {
        *used = 0;
        return loader_fail(ld, "unknown option '%s'", spelled);
    }
    return take_option(ld, s, spelled, eq != NULL ? eq + 1 : NULL, next, used);
}

/* take_short - "-w 4", "-w4" or "-w=4" (argparse accepts all three). */
static enum config_result take_short(struct loader *ld, const char *word, const char *next,
                                     int *used)
{
    const struct setting *s = find(NULL, 0, word[1]);
    const char *glued = word[2] != '\0' ? word + 2 : NULL;
    char spelled[3] = {'-', word[1], '\0'};

    if (s == NULL) {
        *used = 0;
        return loader_fail(ld, "unknown option '%s'", spelled);
    }
    if (glued != NULL && glued[0] == '=' && s->kind != OPT_FLAG)
        glued++;
    return take_option(ld, s, spelled, glued, next, used);
}

/* take_app - the one positional argument, MODULE[:VARIABLE]. */
static enum config_result take_app(struct loader *ld, const char *word)
{
    struct config *cfg = ld->cfg;

    if (ld->first_app != NULL)
        return loader_fail(ld, "more than one application given: '%s' and '%s'", ld->first_app,
                           word);
    ld->first_app = word;
    if (word[0] == '\0' || word[0] == ':')
        return loader_fail(ld, "bad application '%s': expected MODULE[:VARIABLE]", word);
    if (ld->source == FROM_ENV_ARGS && ld->app_from_argv)
        return CONFIG_RUN;
    free(cfg->app_uri);
    cfg->app_uri = strdup(word);
    if (cfg->app_uri == NULL)
        return loader_fail(ld, "out of memory");
    ld->app_from_argv = ld->source == FROM_ARGV;
    return CONFIG_RUN;
}

/* read_words - every word of one source, in order. */
static enum config_result read_words(struct loader *ld, int count, char **words)
{
    bool options_done = false;

    ld->first_app = NULL;
    for (int i = 0; i < count; i++) {
        const char *word = words[i];
        const char *next = i + 1 < count ? words[i + 1] : NULL;
        enum config_result res;
        int used = 0;

        if (!options_done && strcmp(word, "--") == 0) {
            options_done = true;
            continue;
        }
        if (options_done || word[0] != '-' || word[1] == '\0')
            res = take_app(ld, word);
        else if (word[1] == '-')
            res = take_long(ld, word, next, &used);
        else
            res = take_short(ld, word, next, &used);
        if (res != CONFIG_RUN)
            return res;
        i += used;
    }
    return CONFIG_RUN;
}

/* The states of split_words: between words, in a bare word, in '...', in "...". */
enum split_state { SPLIT_BLANK, SPLIT_WORD, SPLIT_SINGLE, SPLIT_DOUBLE };

/*
 * split_words - split text as a POSIX shell (and Gunicorn's shlex.split)
 * would: blanks separate words; '...' keeps everything as it is; "..." keeps
 * everything but lets a backslash escape '"' and '\'; elsewhere a backslash
 * escapes any character.  No variables, globs or comments.  On success
 * *words is one allocation (the array, then the strings): free(*words).
 */
static int split_words(const char *text, char ***words, int *count, char *why, size_t whylen)
{
    size_t len = strlen(text), max_words = len / 2 + 1;
    char **list = malloc((max_words + 1) * sizeof *list + len + max_words + 1);
    enum split_state state = SPLIT_BLANK;
    const char *problem = NULL;
    char *q;
    int n = 0;

    if (list == NULL)
        return explain(why, whylen, "out of memory");
    q = (char *)(list + max_words + 1);
    for (const char *p = text; *p != '\0' && problem == NULL; p++) {
        switch (state) {
        case SPLIT_BLANK:
        case SPLIT_WORD:
            if (is_blank(*p)) {
                if (state == SPLIT_WORD)
                    *q++ = '\0';
                state = SPLIT_BLANK;
                break;
            }
            if (state == SPLIT_BLANK)
                list[n++] = q;
            state = SPLIT_WORD;
            if (*p == '\'')
                state = SPLIT_SINGLE;
            else if (*p == '"')
                state = SPLIT_DOUBLE;
            else if (*p != '\\')
                *q++ = *p;
            else if (p[1] != '\0')
                *q++ = *++p;
            else
                problem = "nothing after the last backslash";
            break;
        case SPLIT_SINGLE:
            if (*p == '\'')
                state = SPLIT_WORD;
            else
                *q++ = *p;
            break;
        case SPLIT_DOUBLE:
            if (*p == '"')
                state = SPLIT_WORD;
            else if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                *q++ = *++p;
            else
                *q++ = *p;
            break;
        }
    }
    if (problem == NULL && (state == SPLIT_SINGLE || state == SPLIT_DOUBLE))
        problem = "missing closing quote";
    if (problem != NULL) {
        free(list);
        return explain(why, whylen, "%s", problem);
    }
    *q = '\0';
    list[n] = NULL;
    *words = list;
    *count = n;
    return 0;
}

/* settle - the limits Gunicorn's parser lowers rather than refuses (http/message.py). */
static void settle(struct config *cfg)
{
    if (cfg->limit_request_line > MAX_REQUEST_LINE)
        cfg->limit_request_line = MAX_REQUEST_LINE;
    if (cfg->limit_request_fields == 0 || cfg->limit_request_fields > MAX_HEADERS)
        cfg->limit_request_fields = MAX_HEADERS;
}

/* read_env_args - $GUNICORN_CMD_ARGS, if set, as a second, weaker command line. */
static enum config_result read_env_args(struct loader *ld)
{
    const char *text = getenv("GUNICORN_CMD_ARGS");
    char **words = NULL;
    int count = 0;
    enum config_result res;
    char why[128];

    if (text == NULL)
        return CONFIG_RUN;
    ld->source = FROM_ENV_ARGS;
    ld->label = "$GUNICORN_CMD_ARGS: ";
    if (split_words(text, &words, &count, why, sizeof why) < 0)
        return loader_fail(ld, "%s", why);
    res = read_words(ld, count, words);
    free(words);
    return res;
}

/*
 * config_load - see config.h.  The command line is read first, as Gunicorn
 * parses it first: --help and mistakes there are answered before the
 * environment variable is looked at.  Precedence does not depend on this
 * order; the origin of each setting decides it.
 */
enum config_result config_load(struct config *cfg, int argc, char **argv, FILE *out, char *err,
                               size_t errlen)
{
    struct loader *ld = calloc(1, sizeof *ld);
    enum config_result res = CONFIG_ERROR;

    if (config_init(cfg, err, errlen) < 0)
        goto done;
    if (ld == NULL) {
        explain(err, errlen, "out of memory");
        goto done;
    }
    *ld = (struct loader){
        .cfg = cfg, .source = FROM_ARGV, .label = "", .out = out, .err = err, .errlen = errlen};
    res = read_words(ld, argc > 1 ? argc - 1 : 0, argc > 1 ? argv + 1 : NULL);
    if (res == CONFIG_RUN)
        res = read_env_args(ld);
    if (res == CONFIG_RUN && cfg->app_uri == NULL) {
        explain(err, errlen, "no application module given");
        res = CONFIG_ERROR;
    }
    if (res == CONFIG_RUN)
        settle(cfg);
done:
    if (ld != NULL)
        config_free(&ld->scratch);
    free(ld);
    return res;
}

/* help_left - the left column of a --help line: "  -w, --workers INT". */
static void help_left(const struct setting *s, char *buf, size_t len)
{
    size_t n = s->short_name != 0 ? (size_t)snprintf(buf, len, "  -%c, ", s->short_name)
                                  : (size_t)snprintf(buf, len, "      ");

    for (size_t k = 0; k < 3 && s->names[k] != NULL && n < len; k++)
        n += (size_t)snprintf(buf + n, len - n, "%s--%s", k > 0 ? ", " : "", s->names[k]);
    if (s->meta != NULL && n < len)
        snprintf(buf + n, len - n, " %s", s->meta);
}

/* config_print_help - see config.h.  Defaults are shown as the table has them. */
void config_print_help(FILE *out)
{
    char left[128];

    if (out == NULL)
        return;
    fprintf(out, "usage: greenhorn [OPTIONS] MODULE[:VARIABLE]\n\n"
                 "Serve the WSGI application VARIABLE (default: application) of MODULE.\n"
                 "Options may also be given in $GUNICORN_CMD_ARGS; the command line wins.\n\n");
    for (size_t i = 0; i < NUM_SETTINGS; i++) {
        const struct setting *s = &settings[i];

        if (s->names[0] == NULL)
            continue;
        help_left(s, left, sizeof left);
        fprintf(out, "%-44s %s", left, s->help);
        if (s->def != NULL && s->env != NULL)
            fprintf(out, " [%s, or %s$%s]", s->def, s->env_prefix != NULL ? s->env_prefix : "",
                    s->env);
        else if (s->def != NULL)
            fprintf(out, " [%s]", s->def);
        fputc('\n', out);
    }
}
