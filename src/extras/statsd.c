/*
 * statsd.c - --statsd-host: Gunicorn's StatsD metrics, over UDP (an extra).
 *
 * An extra: plugs into stage 3 (the master's worker count) and stage 4
 * (each finished request) through plugins.h, and into log.c's observer
 * (Gunicorn counterpart: gunicorn/instrument/statsd.py, 20.1).
 * Owns: the UDP socket, the prefix, and the datagrams, byte for byte as
 * Gunicorn's Statsd logger writes them:
 *   counter  PREFIXname:1|c|@1.0
 *   timer    PREFIXgunicorn.request.duration:12.345|ms   (milliseconds)
 *   gauge    PREFIXgunicorn.workers:2|g
 * each followed by "|#TAGS" with --dogstatsd-tags (DogStatsD's datagram
 * format; Gunicorn 20's _sock_send appends it the same way).
 * Does not own: when a request ends or a line is logged (worker.c, log.c).
 *
 * Never blocks a worker: the socket is connected once, in the master (so
 * the name is resolved once), and every datagram goes out with one
 * send(MSG_DONTWAIT); a full buffer or a refused port (an earlier datagram's
 * ICMP error, reported on this send) loses the metric, as a UDP metric may
 * be lost anyway.  Each datagram is built in the caller's stack: any
 * thread may send (a gthread pool thread), and the kernel keeps datagrams
 * whole.
 */
#include "statsd.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"

/* --dogstatsd-tags, in bytes: every datagram carries them all. */
#define MAX_TAGS 200

/* The process's connection to the StatsD server: set once in the master
 * before any fork, read-only afterwards; nothing of a request is here. */
static struct {
    int fd; /* -1: no --statsd-host */
    char prefix[256];
    char tags[MAX_TAGS + 3]; /* "|#" and --dogstatsd-tags, or "" */
} sd = {-1, "", ""};

/*
 * Gunicorn's prefix rule, re.sub(r"^(.+[^.]+)\.*$", r"\g<1>.", prefix):
 * trailing dots become one dot, but only when what is left is at least two
 * characters long; "" (the default) and a one-character prefix stay as
 * they are.
 */
static void set_prefix(const char *prefix)
{
    size_t len = prefix ? strlen(prefix) : 0, kept = len;
    while (kept > 0 && prefix[kept - 1] == '.')
        kept--;
    if (kept >= 2 && kept + 2 <= sizeof sd.prefix)
        snprintf(sd.prefix, sizeof sd.prefix, "%.*s.", (int)kept, prefix);
    else
        snprintf(sd.prefix, sizeof sd.prefix, "%s", len ? prefix : "");
}

/* statsd_check_tags - see statsd.h.  DogStatsD tags ("env:prod,team:web")
 * go into every datagram after "|#": printable ASCII only (a space too,
 * which Gunicorn configs may hold: "env:prod, team:web"), and no '|', which
 * would end the field.  Gunicorn encodes them as ASCII on every send, and
 * loses every metric to an exception when they are not. */
int statsd_check_tags(const char *value, char *why, size_t whylen)
{
    if (strlen(value) > MAX_TAGS) {
        snprintf(why, whylen, "longer than %d bytes", MAX_TAGS);
        return -1;
    }
    for (const char *c = value; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e || *c == '|') {
            snprintf(why, whylen,
                     "'%s' may hold only printable ASCII without '|' (tags like "
                     "env:prod,team:web)",
                     value);
            return -1;
        }
    return 0;
}

/* statsd_open - see statsd.h. */
int statsd_open(const struct config *cfg, char *err, size_t errlen)
{
    char host[256];
    if (cfg->statsd_host == NULL) {
        statsd_close(); /* a HUP that took --statsd-host away */
        return 0;
    }
    /* HOST:PORT, checked when read; [v6]:PORT too. */
    const char *colon = strrchr(cfg->statsd_host, ':');
    const char *h = cfg->statsd_host;
    size_t hlen = (size_t)(colon - h);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    snprintf(host, sizeof host, "%.*s", (int)hlen, h);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "--statsd-host: cannot resolve '%s': %s", cfg->statsd_host,
                 gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
        snprintf(err, errlen, "--statsd-host: cannot connect to '%s': %s", cfg->statsd_host,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    statsd_close();
    sd.fd = fd;
    set_prefix(cfg->statsd_prefix);
    /* Gunicorn sends no "|#" for an empty setting (its default is "");
     * the length was checked when the setting was read. */
    sd.tags[0] = '\0';
    if (cfg->dogstatsd_tags != NULL && cfg->dogstatsd_tags[0] != '\0')
        snprintf(sd.tags, sizeof sd.tags, "|#%s", cfg->dogstatsd_tags);
    return 0;
}

/* statsd_close - see statsd.h. */
void statsd_close(void)
{
    if (sd.fd >= 0)
        close(sd.fd);
    sd.fd = -1;
}

/* Send one datagram: "PREFIX" name ":" value, then the tags if any; errors
 * are dropped. */
static void send_metric(const char *name, const char *value)
{
    char msg[768];
    if (sd.fd < 0)
        return;
    int n = snprintf(msg, sizeof msg, "%s%s:%s%s", sd.prefix, name, value, sd.tags);
    if (n <= 0 || (size_t)n >= sizeof msg)
        return;
    int saved = errno; /* log.c's callers may still look at errno */
    ssize_t sent = send(sd.fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)sent;
    errno = saved;
}

/* Gunicorn's increment(name, 1): the sample rate is always written. */
static void increment(const char *name)
{
    send_metric(name, "1|c|@1.0");
}

/* statsd_request - see statsd.h.  Gunicorn's Statsd.access: the duration
 * first, as a float of milliseconds, then the two counters. */
void statsd_request(const struct request *r)
{
    char value[64], name[64];
    int64_t us = r->started_us > 0 ? conn_now_us() - r->started_us : 0;
    snprintf(value, sizeof value, "%lld.%03lld|ms", (long long)(us / 1000), (long long)(us % 1000));
    send_metric("gunicorn.request.duration", value);
    increment("gunicorn.requests");
    snprintf(name, sizeof name, "gunicorn.request.status.%d", r->resp.status);
    increment(name);
}

/* statsd_log_line - see statsd.h.  Gunicorn counts its logger's
 * critical(), error(), warning() and exception() calls; a traceback
 * (exception()) counts only as an exception, not as an error too. */
void statsd_log_line(enum log_level level, bool exception)
{
    if (exception && level == LOG_ERROR)
        increment("gunicorn.log.exception");
    else if (level == LOG_CRITICAL)
        increment("gunicorn.log.critical");
    else if (level == LOG_ERROR)
        increment("gunicorn.log.error");
    else if (level == LOG_WARNING)
        increment("gunicorn.log.warning");
}

/* statsd_workers - see statsd.h.  Gunicorn sends no gauge of 0 (its
 * "if metric and value and typ"). */
void statsd_workers(int count)
{
    char value[32];
    if (count <= 0)
        return;
    snprintf(value, sizeof value, "%d|g", count);
    send_metric("gunicorn.workers", value);
}
