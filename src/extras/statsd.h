/*
 * statsd.h - --statsd-host: Gunicorn's StatsD metrics, over UDP (an extra).
 *
 * Stages 3 and 4 (Gunicorn counterpart: gunicorn/instrument/statsd.py).
 * Every function may be called from any thread; none blocks.
 */
#ifndef GREENHORN_STATSD_H
#define GREENHORN_STATSD_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "log.h"
#include "request.h"

/*
 * statsd_open - resolve cfg->statsd_host and connect one UDP socket to it,
 * in the master, before any fork: every worker inherits it, as Gunicorn's
 * workers inherit its logger's socket.  Without --statsd-host it closes the
 * socket, if any.  Called at start and again on HUP (where Gunicorn 20.1
 * keeps its first StatsD logger): workers forked from then on send to the
 * new address, with the new prefix and tags; those already running keep
 * what they inherited until they exit.
 * Returns 0, or -1 with err ("--statsd-host: cannot resolve ..."; the old
 * socket is left as it was).
 */
int statsd_open(const struct config *cfg, char *err, size_t errlen);

/*
 * statsd_check_tags - config.h's config_check_statsd_tags: --dogstatsd-tags
 * must be printable ASCII without '|', at most 200 bytes.  0, or -1 with
 * the reason in why.
 */
int statsd_check_tags(const char *value, char *why, size_t whylen);

/* statsd_close - close the socket (safe to call twice). */
void statsd_close(void);

/* statsd_request - the plugins.h request_done slot: gunicorn.requests,
 * gunicorn.request.duration (ms) and gunicorn.request.status.NNN for r. */
void statsd_request(const struct request *r);

/* statsd_log_line - log.c's observer: a line at level was logged (a
 * traceback with it when exception): gunicorn.log.critical, .error,
 * .warning or .exception, as Gunicorn's Statsd logger counts them. */
void statsd_log_line(enum log_level level, bool exception);

/* statsd_workers - the plugins.h workers_changed slot, in the master: the
 * gunicorn.workers gauge. */
void statsd_workers(int count);

#endif
