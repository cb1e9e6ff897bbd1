/*
 * config_trust.c - stage 1: trust lists (--forwarded-allow-ips,
 * --proxy-allow-from), parsed once and matched per connection.
 *
 * Gunicorn counterpart: gunicorn/config.py (validate of forwarded_allow_ips)
 * and gunicorn/http/message.py (the peer check), which compares text; here
 * entries are parsed once per worker (config_trust_compile) and a peer is
 * compared as bytes, with networks ("10.0.0.0/8") as Gunicorn 22+ allows.
 * Owns: struct config_net parsing, config_trust_compile, config_trust_allows,
 * and the check config.c runs on each list item (config_is_address).
 * Does not own: the lists themselves (struct config, config.c).
 */
#include "config_internal.h"

#include "ascii.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * struct config_net (config.h) - an address, or a network "10.0.0.0/8": the
 * address bytes (IPv4 in the first 4), the family, and how many leading bits
 * must match.  Its bytes hold an IPv6 address whole.
 */
_Static_assert(sizeof(((struct config_net *)0)->bytes) == sizeof(struct in6_addr),
               "config_net holds an IPv6 address");

/* parse_net - "ADDR" or "ADDR/BITS" (BITS at most 32 or 128).  Returns 0 or -1. */
static int parse_net(const char *text, struct config_net *net)
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
    if (!ascii_is_digit((unsigned char)slash[1]))
        return -1;
    return config_parse_number(slash + 1, 0, net->bits, &net->bits, why, sizeof why);
}

/* config_is_address - see config_internal.h: "*", or an address or network parse_net accepts. */
bool config_is_address(const char *item)
{
    struct config_net net;

    return strcmp(item, "*") == 0 || parse_net(item, &net) == 0;
}

/* net_contains - do the first net->bits bits of addr equal the network's? */
static bool net_contains(const struct config_net *net, const struct config_net *addr)
{
    size_t whole = (size_t)net->bits / 8;
    unsigned rest = (unsigned)net->bits % 8;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));

    if (net->family != addr->family || memcmp(net->bytes, addr->bytes, whole) != 0)
        return false;
    return rest == 0 || ((net->bytes[whole] ^ addr->bytes[whole]) & mask) == 0;
}

/* config_trust_compile - see config.h. */
void config_trust_compile(const struct config_list *list, struct config_trust *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < list->count; i++) {
        if (strcmp(list->items[i], "*") == 0)
            t->any = true;
        else if (parse_net(list->items[i], &t->nets[t->count]) == 0)
            t->count++;
    }
}

/* config_trust_allows - see config.h. */
bool config_trust_allows(const struct config_trust *t, const char *addr)
{
    struct config_net peer;

    if (t->any)
        return true;
    if (addr == NULL || strchr(addr, '/') != NULL || parse_net(addr, &peer) != 0)
        return false;
    for (size_t i = 0; i < t->count; i++)
        if (net_contains(&t->nets[i], &peer))
            return true;
    return false;
}
