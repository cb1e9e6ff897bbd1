/*
 * proxy_protocol.h - the PROXY protocol header, versions 1 and 2 (an extra).
 *
 * Plugs into stage 4 (the worker reads the head) through plugins.h
 * (Gunicorn counterpart: Request.proxy_protocol and parse_proxy_protocol in
 * gunicorn/http/message.py).
 */
#ifndef GREENHORN_PROXY_PROTOCOL_H
#define GREENHORN_PROXY_PROTOCOL_H

#include "config.h"
#include "http.h"

struct request;

/*
 * http_parse_proxy - read a PROXY protocol v1 or v2 header at buf[0..len).
 * mode: 1 = v1 only, 2 = v2 only (the header is then required), 3 = either
 * or none (auto).
 * Returns bytes consumed (> 0), 0 when mode is auto and no PROXY header is
 * there, HTTP_NEED_MORE, or HTTP_ERROR (*status set to 400, *error to a
 * short static reason).  *out is written when the result is > 0.
 */
int http_parse_proxy(const char *buf, size_t len, int mode, struct http_proxy *out, int *status,
                     const char **error);

/*
 * proxy_take_header - the plugins.h proxy_header slot: read a PROXY header
 * at the start of r's head (cfg->proxy_protocol says which versions) into
 * r->proxy and remove it from the head, which is not parsed yet.  Returns 1
 * when taken, 0 when more bytes are needed, or the HTTP status to refuse
 * with (400).
 */
int proxy_take_header(struct request *r, const struct config *cfg);

#endif
