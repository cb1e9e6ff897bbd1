/*
 * fuzz_http.c - libFuzzer entry for the request parser.
 *
 * Stage 5, parse (no Gunicorn counterpart).
 * Owns: the fuzz entry point and the parser promises it checks.
 * Does not own: the seed corpus (tests/fuzz/seed.sh copies the conformance
 * requests) or the dictionary (tests/fuzz/http.dict).
 *
 * Feeds arbitrary bytes to everything src/http.c reads from a peer: the
 * PROXY header, the request head (with Gunicorn's default options and with
 * every compatibility switch on), the chunked body that follows a chunked
 * head, and its trailer section.  Each input is copied into a heap block of
 * exactly its size, so AddressSanitizer reports a read of even one byte past
 * the end.
 *
 * Besides "no crash", it checks the parser's promises and aborts on a broken
 * one: views stay inside the head, errors carry a status and a reason, and
 * the input cut by one byte gives "need more" or the same answer.
 *
 * Build (see the Makefile's fuzz target):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *         tests/fuzz/fuzz_http.c src/http*.c -o build/fuzz_http
 */
#include "http.h"
#include "proxy_protocol.h"

#include <stdlib.h>
#include <string.h>

/* at least limit_request_fields (Gunicorn's default 100), as http.h asks */
#define MAX_FIELDS 128

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void require(bool ok)
{
    if (!ok)
        abort();
}

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p != NULL && p >= buf && n <= len && (size_t)(p - buf) <= len - n;
}

/* Every view of a complete head lies inside it. */
static void check_views(const struct http_request *r, const char *buf, int head)
{
    size_t len = (size_t)head;
    require(inside(r->method, r->method_len, buf, len) &&
            inside(r->target, r->target_len, buf, len) && inside(r->path, r->path_len, buf, len) &&
            inside(r->query, r->query_len, buf, len) &&
            inside(r->fragment, r->fragment_len, buf, len));
    require(r->num_headers <= r->max_headers);
    for (size_t i = 0; i < r->num_headers; i++)
        require(inside(r->headers[i].name, r->headers[i].name_len, buf, len) &&
                inside(r->headers[i].value, r->headers[i].value_len, buf, len));
}

/* A copy of data[0..n) in a heap block of exactly n bytes (1 if n is 0). */
static char *exact_copy(const uint8_t *data, size_t n)
{
    char *buf = malloc(n ? n : 1);
    require(buf != NULL);
    memcpy(buf, data, n);
    return buf;
}

/* The chunked body after a complete head, with its trailer section. */
static void decode_body(char *rest, size_t n, const struct http_options *opt)
{
    struct http_chunked d = {0};
    size_t body = n;
    d.opt = opt;
    d.limit = 1u << 20;
    long after = http_decode_chunked(&d, rest, &body);
    require(body <= n);
    if (after == HTTP_ERROR)
        require(d.status >= 400 && d.error != NULL);
    if (after < 0)
        return;
    /* the body, the trailer section and what follows are distinct bytes */
    require((size_t)after <= n - body && d.trailer_bytes <= n - body - (size_t)after);
}

static void parse_head(const uint8_t *data, size_t size, const struct http_options *opt)
{
    static struct http_header headers[MAX_FIELDS];
    struct http_request req = {.headers = headers, .max_headers = MAX_FIELDS};
    char *buf = exact_copy(data, size);
    int rc = http_parse_request(buf, size, opt, &req);
    int status = req.status;
    require(rc == HTTP_NEED_MORE || rc == HTTP_ERROR || (rc > 0 && (size_t)rc <= size));
    if (rc == HTTP_ERROR)
        require(req.status >= 400 && req.error != NULL);
    if (rc > 0)
        check_views(&req, buf, rc);
    if (rc > 0 && req.body == HTTP_BODY_CHUNKED)
        decode_body(buf + rc, size - (size_t)rc, opt);
    free(buf);

    /* One byte less: need more, or the same answer. */
    if (size > 0) {
        char *cut = exact_copy(data, size - 1);
        int rc2 = http_parse_request(cut, size - 1, opt, &req);
        require(rc2 == HTTP_NEED_MORE || (rc2 == rc && req.status == status));
        free(cut);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_options opt;
    struct http_proxy pp;
    int status = 0;
    const char *why = NULL;

    char *buf = exact_copy(data, size);
    int rc = http_parse_proxy(buf, size, 3, &pp, &status, &why);
    require(rc >= HTTP_NEED_MORE && rc <= (int)size);
    if (rc == HTTP_ERROR)
        require(status == 400 && why != NULL);
    free(buf);

    http_options_init(&opt);
    parse_head(data, size, &opt);

    /* every switch on, from a trusted peer, with small limits */
    opt.flags = HTTP_PERMIT_OBS_FOLD | HTTP_PERMIT_UNCONVENTIONAL_METHOD |
                HTTP_PERMIT_UNCONVENTIONAL_VERSION | HTTP_CASEFOLD_METHOD |
                HTTP_STRIP_HEADER_SPACES | HTTP_TRUSTED_PEER;
    opt.header_map = HTTP_HEADER_MAP_DANGEROUS;
    opt.limit_request_fields = 16;
    opt.limit_request_field_size = 256;
    opt.limit_request_body = 4096;
    parse_head(data, size, &opt);
    return 0;
}
