/*
 * access_log.h - the access log's line for a request (an extra; see
 * access_log.c).
 */
#ifndef GREENHORN_ACCESS_LOG_H
#define GREENHORN_ACCESS_LOG_H

#include "request.h"

/*
 * access_log_request - the plugins.h access_log slot: one access-log line
 * for r, after its connection closed, in the --access-logformat given.
 * Reads only memory r owns (its frozen head, its response's head buffer).
 */
void access_log_request(const struct request *r);

#endif
