/*
 * proxy_protocol.c - the PROXY protocol header, versions 1 and 2 (an extra).
 *
 * Plugs into stage 4, where the worker reads a request's head, through
 * plugins.h (Gunicorn counterpart: Request.proxy_protocol and
 * parse_proxy_protocol in gunicorn/http/message.py).
 * Owns: recognising and reading the header a load balancer puts before the
 * request (haproxy's proxy-protocol.txt): the text line of v1 and the binary
 * block of v2, into struct http_proxy.
 * Does not own: deciding whether a peer may send one (proxy_allow_ips, in
 * the worker) or what the addresses are used for (REMOTE_ADDR, in environ.c).
 */
#include "proxy_protocol.h"

#include "ascii.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

/* ---- PROXY protocol (haproxy proxy-protocol.txt) ----------------------- */

/* A malformed header: every PROXY error is a 400 (the error reason a short
 * static string), as Gunicorn answers its InvalidProxyLine. */
static int refuse(int *status, const char **error, const char *why)
{
    *status = 400;
    *error = why;
    return HTTP_ERROR;
}

static const char proxy_v2_signature[12] = "\r\n\r\n\0\r\nQUIT\n";

/* 1: buf starts with the n bytes of sig; 0: buf is a shorter prefix of them;
 * -1: it differs. */
static int starts_with(const char *buf, size_t len, const char *sig, size_t n)
{
    size_t k = len < n ? len : n;
    if (memcmp(buf, sig, k) != 0)
        return -1;
    return len >= n ? 1 : 0;
}

/* A decimal port, 0 to 65535, as Gunicorn reads it. */
static bool parse_port(const char *s, size_t n, uint16_t *out)
{
    unsigned v = 0;
    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!ascii_is_digit((unsigned char)s[i]))
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = (uint16_t)v;
    return v <= 65535;
}

/* A textual address of family af, copied into out (64 bytes) if valid. */
static bool parse_addr(int af, const char *s, size_t n, char *out)
{
    unsigned char bin[16];
    if (n == 0 || n >= 64)
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return inet_pton(af, out, bin) == 1;
}

/* "PROXY" SP proto SP src SP dst SP sport SP dport, split on single spaces as
 * Gunicorn does.  "PROXY UNKNOWN ..." is valid in the spec (section 2.1):
 * the proxy could not tell, and the rest of the line is to be ignored. */
static bool proxy_v1_fields(const char *line, size_t n, struct http_proxy *out)
{
    const char *f[5];
    size_t fl[5], k = 0, start = 0;
    for (size_t i = 0; i <= n && k < 5; i++) {
        if (i == n || line[i] == ' ') {
            f[k] = line + start;
            fl[k++] = i - start;
            start = i + 1;
        }
    }
    if (k >= 1 && fl[0] == 7 && memcmp(f[0], "UNKNOWN", 7) == 0) {
        out->present = false;
        return true;
    }
    if (k != 5 || start != n + 1 || fl[0] != 4 || memcmp(f[0], "TCP", 3) != 0 ||
        (f[0][3] != '4' && f[0][3] != '6'))
        return false;
    int af = f[0][3] == '4' ? AF_INET : AF_INET6;
    out->present = true;
    return parse_addr(af, f[1], fl[1], out->src_addr) &&
           parse_addr(af, f[2], fl[2], out->dst_addr) && parse_port(f[3], fl[3], &out->src_port) &&
           parse_port(f[4], fl[4], &out->dst_port);
}

/* The v1 line is at most 107 bytes with its CRLF (spec section 2.1);
 * Gunicorn reads without a bound, which lets a peer stream forever. */
static int proxy_v1(const char *buf, size_t len, struct http_proxy *out, int *status,
                    const char **error)
{
    struct http_proxy pp = {0};
    for (size_t i = 6; i + 2 <= 107; i++) {
        if (i >= len)
            return HTTP_NEED_MORE;
        if (buf[i] != '\r' && !ascii_is_ctl((unsigned char)buf[i]))
            continue;
        if (buf[i] != '\r' || (i + 1 < len && buf[i + 1] != '\n'))
            return refuse(status, error, "invalid PROXY line");
        if (i + 1 >= len)
            return HTTP_NEED_MORE;
        if (!proxy_v1_fields(buf + 6, i - 6, &pp))
            return refuse(status, error, "invalid PROXY line");
        *out = pp;
        return (int)i + 2;
    }
    return refuse(status, error, "PROXY line too long");
}

/* An address block of the v2 header: family 1 is IPv4, 2 is IPv6. */
static bool proxy_v2_addresses(const unsigned char *a, size_t n, int family, struct http_proxy *out)
{
    int af = family == 1 ? AF_INET : AF_INET6;
    size_t w = family == 1 ? 4 : 16; /* bytes of one address */
    if ((family != 1 && family != 2) || n < 2 * w + 4)
        return false;
    if (inet_ntop(af, a, out->src_addr, sizeof(out->src_addr)) == NULL ||
        inet_ntop(af, a + w, out->dst_addr, sizeof(out->dst_addr)) == NULL)
        return false;
    out->src_port = (uint16_t)(a[2 * w] << 8 | a[2 * w + 1]);
    out->dst_port = (uint16_t)(a[2 * w + 2] << 8 | a[2 * w + 3]);
    out->present = true;
    return true;
}

/* v2: signature, version/command, family/protocol, length (spec section 2.2). */
static int proxy_v2(const char *buf, size_t len, struct http_proxy *out, int *status,
                    const char **error)
{
    const unsigned char *b = (const unsigned char *)buf;
    struct http_proxy pp = {0};
    if (len < 16)
        return HTTP_NEED_MORE;
    if (b[12] >> 4 != 2)
        return refuse(status, error, "unsupported PROXY version");
    if ((b[12] & 0x0f) > 1)
        return refuse(status, error, "unsupported PROXY command");
    size_t total = 16 + ((size_t)b[14] << 8 | b[15]);
    if (len < total)
        return HTTP_NEED_MORE;
    bool local = (b[12] & 0x0f) == 0, unspec = b[13] >> 4 == 0;
    if (!local && (b[13] & 0x0f) != 1)
        return refuse(status, error, "PROXY protocol other than TCP");
    if (!local && !unspec && !proxy_v2_addresses(b + 16, total - 16, b[13] >> 4, &pp))
        return refuse(status, error, "invalid PROXY addresses");
    *out = pp;
    return (int)total;
}

int http_parse_proxy(const char *buf, size_t len, int mode, struct http_proxy *out, int *status,
                     const char **error)
{
    int v1 = mode & 1 ? starts_with(buf, len, "PROXY ", 6) : -1;
    int v2 = mode & 2 ? starts_with(buf, len, proxy_v2_signature, 12) : -1;
    if (v2 == 1)
        return proxy_v2(buf, len, out, status, error);
    if (v1 == 1)
        return proxy_v1(buf, len, out, status, error);
    if (v1 == 0 || v2 == 0)
        return HTTP_NEED_MORE;
    if (mode == 3)
        return 0;
    return refuse(status, error, "PROXY header missing");
}
