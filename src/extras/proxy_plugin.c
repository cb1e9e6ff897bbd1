/*
 * proxy_plugin.c - the PROXY protocol's plug: takes a PROXY header off the
 * front of a request's head (an extra).
 *
 * Plugs into stage 4, where the worker reads a request's head, through the
 * proxy_header slot of plugins.h (Gunicorn counterpart: Request.__init__
 * calling proxy_protocol() in gunicorn/http/message.py).
 * Owns: the glue between the worker's request and the parser of the header
 * (proxy_protocol.c, which stays pure: bytes in, addresses out, so the
 * fuzzer builds it alone).  Does not own: who may send a header
 * (--proxy-allow-from, checked by the worker before it calls the slot).
 */
#include "proxy_protocol.h"

#include <string.h>

#include "log.h"
#include "request.h"

/* proxy_take_header - see proxy_protocol.h. */
int proxy_take_header(struct request *r, const struct config *cfg)
{
    int status = 400;
    const char *why = NULL;
    int mode = (int)cfg->proxy_protocol; /* V1 = 1, V2 = 2, AUTO = 3 */
    int n = http_parse_proxy(r->head, r->head_read, mode, &r->proxy, &status, &why);
    if (n == HTTP_NEED_MORE)
        return 0;
    if (n == HTTP_ERROR) {
        log_msg(LOG_DEBUG, "Invalid PROXY header from %s: %s", r->conn->peer_addr, why ? why : "");
        return status;
    }
    memmove(r->head, r->head + n, r->head_read - (size_t)n); /* nothing is parsed yet */
    r->head_read -= (size_t)n;
    return 1;
}
