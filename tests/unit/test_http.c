/*
 * test_http.c - the request parser, rule by rule.
 *
 * Stage 5, parse (Gunicorn counterpart: tests/test_http.py).
 * Owns: the unit tests of stage 5 (src/http*.c): request heads, chunked bodies, trailer
 * fields, the PROXY header; and of the byte classes they use (src/ascii.h).
 * Does not own: Gunicorn's request corpus (test_conformance.c) or real
 * sockets (tests/integration).
 *
 * It tests the parser the way picohttpparser's test.c tests picohttpparser:
 * tables of requests, each one fed whole and then cut at every byte, every
 * piece placed right before a PROT_NONE page so a read past the end crashes
 * the test.  A cut must give "need more" or the very answer of the whole
 * request, never another one.
 *
 * Rows come in pairs: one request that keeps a rule and one that breaks it,
 * with the status the rule demands (RFC 9112 / Gunicorn 26).  Limits are
 * tested at the boundary: exactly at the limit passes, one over fails.
 */
#include "ascii.h"
#include "http.h"
#include "proxy_protocol.h"
#include "unit.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_HEADERS 128
#define ROOM        (64 * 1024)

static struct http_header headers[MAX_HEADERS];

/* ---- a guard page ------------------------------------------------------ */

static char *guard_end; /* the first byte of a PROT_NONE page */

static void guard_setup(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *base =
        mmap(NULL, ROOM + (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(base != MAP_FAILED);
    guard_end = base + ROOM;
    ck_assert_int_eq(mprotect(guard_end, (size_t)page, PROT_NONE), 0);
}

static void guard_teardown(void)
{
    munmap(guard_end - ROOM, ROOM + (size_t)sysconf(_SC_PAGESIZE));
}

/* Copy data[0..n) so that it ends right where the guard page begins. */
static char *at_guard(const char *data, size_t n)
{
    ck_assert_uint_le(n, ROOM);
    memcpy(guard_end - n, data, n);
    return guard_end - n;
}

/* ---- request heads, rule by rule --------------------------------------- */

#define FOLD   HTTP_PERMIT_OBS_FOLD
#define METHOD HTTP_PERMIT_UNCONVENTIONAL_METHOD
#define VERS   HTTP_PERMIT_UNCONVENTIONAL_VERSION
#define STRIP  HTTP_STRIP_HEADER_SPACES
#define TRUST  HTTP_TRUSTED_PEER
#define EOH    "\r\n\r\n"

struct row {
    const char *what;
    const char *in; /* a whole request head */
    int status;     /* 0: it parses; else the error status */
    unsigned flags;
    size_t line, fields, field_size; /* 0: Gunicorn's default */
    uint64_t body_limit;
    int map;    /* header_map + 1; 0: the default (DROP) */
    size_t len; /* 0: strlen(in); set for inputs holding NUL */
};

static const struct row rows[] = {
    /* request line: method SP target SP version CRLF (RFC 9112 section 3) */
    {"simple GET", "GET / HTTP/1.1" EOH, .status = 0},
    {"two spaces before target", "GET  / HTTP/1.1" EOH, .status = 400},
    {"tab as separator", "GET\t/ HTTP/1.1" EOH, .status = 400},
    {"space after version", "GET / HTTP/1.1 " EOH, .status = 400},
    {"bare LF ends request line", "GET / HTTP/1.1\n\r\n", .status = 400},
    {"CR not followed by LF", "GET / HTTP/1.1\rX\r\n\r\n", .status = 400},
    {"empty request line", "\r\nGET / HTTP/1.1" EOH, .status = 400},
    /* method = token; Gunicorn: upper case, 3 to 20 bytes, unless permitted */
    {"token method", "-BLARGH /foo HTTP/1.1" EOH, .status = 0},
    {"non-token method", "G@T / HTTP/1.1" EOH, .status = 400},
    {"NUL in method", "GET\0 / HTTP/1.1" EOH, .status = 400, .len = 19},
    {"lower-case method", "get / HTTP/1.1" EOH, .status = 400},
    {"lower-case method, permitted", "get / HTTP/1.1" EOH, .status = 0, .flags = METHOD},
    {"'#' in method", "M#SEARCH / HTTP/1.1" EOH, .status = 400},
    {"'#' in method, permitted", "M#SEARCH / HTTP/1.1" EOH, .status = 0, .flags = METHOD},
    {"3-byte method", "PUT / HTTP/1.1" EOH, .status = 0},
    {"2-byte method", "GE / HTTP/1.1" EOH, .status = 400},
    {"2-byte method, permitted", "GE / HTTP/1.1" EOH, .status = 0, .flags = METHOD},
    {"20-byte method", "ABCDEFGHIJKLMNOPQRST / HTTP/1.1" EOH, .status = 0},
    {"21-byte method", "ABCDEFGHIJKLMNOPQRSTU / HTTP/1.1" EOH, .status = 400},
    {"21-byte method, permitted", "ABCDEFGHIJKLMNOPQRSTU / HTTP/1.1" EOH, .status = 0,
     .flags = METHOD},
    {"non-ASCII in method", "GET\xc3\x9f / HTTP/1.1" EOH, .status = 400},
    /* request-target: four forms, none empty (RFC 9112 section 3.2) */
    {"empty target", "GET  HTTP/1.1" EOH, .status = 400},
    {"asterisk for OPTIONS", "OPTIONS * HTTP/1.1" EOH, .status = 0},
    {"asterisk for GET", "GET * HTTP/1.1" EOH, .status = 400},
    {"authority for CONNECT", "CONNECT example.com:443 HTTP/1.1" EOH, .status = 0},
    {"IPv6 authority for CONNECT", "CONNECT [::1]:443 HTTP/1.1" EOH, .status = 0},
    {"authority for GET", "GET example.com:443 HTTP/1.1" EOH, .status = 400},
    {"origin-form for CONNECT", "CONNECT / HTTP/1.1" EOH, .status = 400},
    {"CONNECT without port", "CONNECT example.com HTTP/1.1" EOH, .status = 400},
    {"CONNECT to port 0", "CONNECT example.com:0 HTTP/1.1" EOH, .status = 400},
    {"CONNECT to port 65536", "CONNECT example.com:65536 HTTP/1.1" EOH, .status = 400},
    {"CONNECT with userinfo", "CONNECT u@example.com:443 HTTP/1.1" EOH, .status = 400},
    {"CONNECT with '#' in host", "CONNECT exa#mple.com:443 HTTP/1.1" EOH, .status = 400},
    {"CONNECT to port 44a3", "CONNECT example.com:44a3 HTTP/1.1" EOH, .status = 400},
    {"CONNECT to unclosed IPv6", "CONNECT [::1:443 HTTP/1.1" EOH, .status = 400},
    {"CONNECT to bad IPv6", "CONNECT [::g]:443 HTTP/1.1" EOH, .status = 400},
    {"absolute-form", "GET http://example.com/p?q HTTP/1.1" EOH, .status = 0},
    {"absolute-form, IPv6", "GET http://[::1]:80/p HTTP/1.1" EOH, .status = 0},
    {"absolute-form, lone bracket", "PUT s://]ufd/: HTTP/1.1" EOH, .status = 400},
    {"absolute-form, two brackets", "GET http://[[::1]/ HTTP/1.1" EOH, .status = 400},
    {"relative target", "GET foo/bar HTTP/1.1" EOH, .status = 400},
    {"control byte in target", "GET /a\x01z HTTP/1.1" EOH, .status = 400},
    {"DEL in target", "GET /a\x7fz HTTP/1.1" EOH, .status = 400},
    {"obs-text in target", "GET /\xc3\xa0%20k HTTP/1.0" EOH, .status = 0},
    /* HTTP-version (RFC 9112 section 2.3); Gunicorn 26 takes any 1.x */
    {"HTTP/1.0", "GET / HTTP/1.0" EOH, .status = 0},
    {"HTTP/1.2", "GET / HTTP/1.2" EOH, .status = 0},
    {"HTTP/2.0", "GET / HTTP/2.0" EOH, .status = 400},
    {"HTTP/2.0, permitted", "GET / HTTP/2.0" EOH, .status = 0, .flags = VERS},
    {"HTTP/0.9", "GET / HTTP/0.9" EOH, .status = 400},
    {"HTTP/0.9, permitted", "GET / HTTP/0.9" EOH, .status = 0, .flags = VERS},
    {"two-digit minor", "GET / HTTP/1.10" EOH, .status = 400},
    {"no dot", "GET / HTTP/11" EOH, .status = 400},
    {"lower-case http", "GET / http/1.1" EOH, .status = 400},
    {"FTP", "GET / FTP/1.1" EOH, .status = 400},
    /* field names are tokens (RFC 9110 section 5.1) */
    {"token name", "GET / HTTP/1.1\r\nX.Custom|Pipe: ok" EOH, .status = 0},
    {"space in name", "GET / HTTP/1.1\r\nNa me: v" EOH, .status = 400},
    {"NUL in name", "GET / HTTP/1.1\r\nNa\0me: v" EOH, .status = 400, .len = 28},
    {"non-ASCII name", "GET / HTTP/1.1\r\nN\xc3\xa4me: v" EOH, .status = 400},
    {"empty name", "GET / HTTP/1.1\r\n: v" EOH, .status = 400},
    {"no colon", "GET / HTTP/1.1\r\nName" EOH, .status = 400},
    {"space before colon", "GET / HTTP/1.1\r\nName : v" EOH, .status = 400},
    {"space before colon, stripped", "GET / HTTP/1.1\r\nName : v" EOH, .status = 0, .flags = STRIP},
    {"tab before colon, stripped", "GET / HTTP/1.1\r\nName\t \t: v" EOH, .status = 0,
     .flags = STRIP},
    {"space inside name, stripped", "GET / HTTP/1.1\r\nNa me: v" EOH, .status = 400,
     .flags = STRIP},
    {"whitespace before first field", "GET / HTTP/1.1\r\n Name: v" EOH, .status = 400,
     .flags = FOLD},
    /* field values: no NUL, CR, LF or other CTL (RFC 9110 section 5.5) */
    {"tab inside value", "GET / HTTP/1.1\r\nName: a\tb" EOH, .status = 0},
    {"obs-text in value", "GET / HTTP/1.1\r\nName: caf\xc3\xa9" EOH, .status = 0},
    {"NBSP and NEL in value", "GET / HTTP/1.1\r\nName: \xa0x\x85" EOH, .status = 0},
    {"NUL in value", "GET / HTTP/1.1\r\nName: a\0b" EOH, .status = 400, .len = 29},
    {"BEL in value", "GET / HTTP/1.1\r\nName: a\x07z" EOH, .status = 400},
    {"VT in value", "GET / HTTP/1.1\r\nName: a\x0bz" EOH, .status = 400},
    {"FF in value", "GET / HTTP/1.1\r\nName: a\x0cz" EOH, .status = 400},
    {"DEL in value", "GET / HTTP/1.1\r\nName: a\x7fz" EOH, .status = 400},
    {"bare CR in value", "GET / HTTP/1.1\r\nName: a\rb" EOH, .status = 400},
    {"bare LF in value", "GET / HTTP/1.1\r\nName: a\nb" EOH, .status = 400},
    {"bare CR ends section", "GET / HTTP/1.1\r\nName: a\r\n\rX", .status = 400},
    /* obs-fold (RFC 9112 section 5.2) */
    {"folded line", "GET / HTTP/1.1\r\nLong: one\r\n two" EOH, .status = 400},
    {"folded line, permitted", "GET / HTTP/1.1\r\nLong: one\r\n two" EOH, .status = 0,
     .flags = FOLD},
    {"folded tab line, permitted", "GET / HTTP/1.1\r\nLong: one\r\n\ttwo" EOH, .status = 0,
     .flags = FOLD},
    /* '_' in names (Gunicorn's header_map) */
    {"underscore, dropped", "GET / HTTP/1.1\r\nX_Y: 1" EOH, .status = 0},
    {"underscore, refused", "GET / HTTP/1.1\r\nX_Y: 1" EOH, .status = 400, .map = 2},
    {"underscore, dangerous", "GET / HTTP/1.1\r\nX_Y: 1" EOH, .status = 0, .map = 3},
    {"forwarder header, refused", "GET / HTTP/1.1\r\nSCRIPT_NAME: /a" EOH, .status = 400, .map = 2},
    {"forwarder header, trusted", "GET / HTTP/1.1\r\nSCRIPT_NAME: /a" EOH, .status = 0,
     .flags = TRUST, .map = 2},
    /* fields that must not repeat */
    {"two If-Match", "GET / HTTP/1.1\r\nIf-Match: a\r\nIf-Match: b" EOH, .status = 0},
    {"two Content-Length", "GET / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3" EOH,
     .status = 400},
    {"two Host", "GET / HTTP/1.1\r\nHost: a\r\nhost: b" EOH, .status = 400},
    {"two Content-Type", "GET / HTTP/1.1\r\nContent-Type: a\r\nContent-Type: a" EOH, .status = 400},
    /* Content-Length = 1*DIGIT (RFC 9110 section 8.6) */
    {"Content-Length", "POST / HTTP/1.1\r\nContent-Length: 007" EOH, .status = 0},
    {"Content-Length 2^64-1", "POST / HTTP/1.1\r\nContent-Length: 18446744073709551615" EOH,
     .status = 0},
    {"Content-Length 2^64", "POST / HTTP/1.1\r\nContent-Length: 18446744073709551616" EOH,
     .status = 400},
    {"Content-Length +1", "POST / HTTP/1.1\r\nContent-Length: +1" EOH, .status = 400},
    {"Content-Length -1", "POST / HTTP/1.1\r\nContent-Length: -1" EOH, .status = 400},
    {"Content-Length empty", "POST / HTTP/1.1\r\nContent-Length:" EOH, .status = 400},
    {"Content-Length 1 2", "POST / HTTP/1.1\r\nContent-Length: 1 2" EOH, .status = 400},
    {"Content-Length list", "POST / HTTP/1.1\r\nContent-Length: 5, 5" EOH, .status = 400},
    {"Content-Length hex", "POST / HTTP/1.1\r\nContent-Length: 0x10" EOH, .status = 400},
    /* Transfer-Encoding (RFC 9112 section 6.1 and 6.3) */
    {"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked" EOH, .status = 0},
    {"gzip, chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked" EOH, .status = 0},
    {"gzip\t, chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\t ,chunked" EOH, .status = 0},
    {"gzip then chunked fields",
     "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked" EOH, .status = 0},
    {"chunked, gzip", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip" EOH, .status = 400},
    {"chunked twice", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked" EOH, .status = 400},
    {"chunked then identity fields",
     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity" EOH,
     .status = 400},
    {"unknown coding", "POST / HTTP/1.1\r\nTransfer-Encoding: foo, chunked" EOH, .status = 501},
    {"empty list element", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip,,chunked" EOH,
     .status = 501},
    {"NBSP after chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\xa0" EOH, .status = 501},
    {"gzip alone", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip" EOH, .status = 400},
    {"identity and length",
     "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\nContent-Length: 5" EOH, .status = 0},
    {"chunked and length", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5" EOH,
     .status = 400},
    {"chunked in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked" EOH, .status = 400},
    {"identity in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: identity" EOH, .status = 400},
    /* secure_scheme_headers from a trusted peer must agree */
    {"one scheme header", "GET / HTTP/1.1\r\nX-Forwarded-Proto: https" EOH, .status = 0,
     .flags = TRUST},
    {"agreeing scheme headers",
     "GET / HTTP/1.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Ssl: on" EOH, .status = 0,
     .flags = TRUST},
    {"contradicting scheme headers",
     "GET / HTTP/1.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off" EOH, .status = 400,
     .flags = TRUST},
    {"contradicting, untrusted",
     "GET / HTTP/1.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off" EOH, .status = 0},
    /* Expect (RFC 9110 section 10.1.1) */
    {"Expect 100-continue", "PUT / HTTP/1.1\r\nExpect: 100-Continue" EOH, .status = 0},
    {"Expect other", "PUT / HTTP/1.1\r\nExpect: 100-continue, x" EOH, .status = 417},
    {"Expect other, HTTP/1.0", "PUT / HTTP/1.0\r\nExpect: fast" EOH, .status = 417},
    /* limits: exactly at the limit passes, one over fails */
    {"line at limit", "GET /56789 HTTP/1.1" EOH, .status = 0, .line = 19},
    {"line over limit", "GET /567890 HTTP/1.1" EOH, .status = 414, .line = 19},
    {"line over limit in method", "GETGETGET / HTTP/1.1" EOH, .status = 414, .line = 5},
    {"fields at limit", "GET / HTTP/1.1\r\nA: 1\r\nB: 2" EOH, .status = 0, .fields = 2},
    {"fields over limit", "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3" EOH, .status = 431, .fields = 2},
    {"dropped fields count", "GET / HTTP/1.1\r\nA_: 1\r\nB_: 2\r\nC: 3" EOH, .status = 431,
     .fields = 2},
    {"field at size limit", "GET / HTTP/1.1\r\nAccept: */*" EOH, .status = 0, .field_size = 13},
    {"field over size limit", "GET / HTTP/1.1\r\nAccept: */*" EOH, .status = 431, .field_size = 12},
    {"folded field at size limit", "GET / HTTP/1.1\r\nAccept:\r\n */*" EOH, .status = 0,
     .flags = FOLD, .field_size = 15},
    {"folded field over size limit", "GET / HTTP/1.1\r\nAccept:\r\n */*" EOH, .status = 431,
     .flags = FOLD, .field_size = 14},
    {"body at limit", "POST / HTTP/1.1\r\nContent-Length: 10" EOH, .status = 0, .body_limit = 10},
    {"body over limit", "POST / HTTP/1.1\r\nContent-Length: 11" EOH, .status = 413,
     .body_limit = 10},
};

static void options_for_row(const struct row *r, struct http_options *opt)
{
    http_options_init(opt);
    opt->flags = r->flags;
    if (r->line)
        opt->limit_request_line = r->line;
    if (r->fields)
        opt->limit_request_fields = r->fields;
    if (r->field_size)
        opt->limit_request_field_size = r->field_size;
    opt->limit_request_body = r->body_limit;
    if (r->map)
        opt->header_map = (enum http_header_map)(r->map - 1);
}

static int parse(char *buf, size_t len, const struct http_options *opt, struct http_request *req)
{
    *req = (struct http_request){.headers = headers, .max_headers = MAX_HEADERS};
    return http_parse_request(buf, len, opt, req);
}

START_TEST(test_row)
{
    const struct row *r = &rows[_i];
    size_t len = r->len ? r->len : strlen(r->in);
    struct http_options opt;
    struct http_request req;
    options_for_row(r, &opt);
    int whole = parse(at_guard(r->in, len), len, &opt, &req);
    if (r->status == 0)
        ck_assert_msg(whole == (int)len, "%s: %d (%d %s)", r->what, whole, req.status,
                      req.error ? req.error : "");
    else
        ck_assert_msg(whole == HTTP_ERROR && req.status == r->status && req.error != NULL,
                      "%s: %d, status %d, expected %d", r->what, whole, req.status, r->status);
    for (size_t k = 0; k < len; k++) {
        int rc = parse(at_guard(r->in, k), k, &opt, &req);
        ck_assert_msg(rc == HTTP_NEED_MORE || (rc == whole && req.status == r->status),
                      "%s: cut at %zu gives %d (status %d)", r->what, k, rc, req.status);
    }
}
END_TEST

/* An incomplete line already past the limit is refused without waiting. */
START_TEST(test_limit_before_line_ends)
{
    struct http_options opt;
    struct http_request req;
    char line[9000];
    http_options_init(&opt);
    memset(line, 'a', sizeof(line));
    memcpy(line, "GET /", 5);
    ck_assert_int_eq(parse(line, 4094, &opt, &req), HTTP_NEED_MORE);
    ck_assert_int_eq(parse(line, 4095, &opt, &req), HTTP_ERROR);
    ck_assert_int_eq(req.status, 414);
    /* 0 reads as Gunicorn 26's ceiling, 8190, for the line and for a field */
    opt.limit_request_line = 0;
    ck_assert_int_eq(parse(line, 8190, &opt, &req), HTTP_NEED_MORE);
    ck_assert_int_eq(parse(line, 8191, &opt, &req), HTTP_ERROR);
    opt.limit_request_line = 100000;
    ck_assert_int_eq(parse(line, 8191, &opt, &req), HTTP_ERROR);
    memcpy(line, "GET / HTTP/1.1\r\nX: ", 19);
    opt.limit_request_field_size = 0;
    ck_assert_int_eq(parse(line, 16 + 8188, &opt, &req), HTTP_NEED_MORE);
    ck_assert_int_eq(parse(line, 16 + 8189, &opt, &req), HTTP_ERROR);
    ck_assert_int_eq(req.status, 431);
}
END_TEST

/* The views: method, target, path, query, fragment, version, fields. */
START_TEST(test_views)
{
    char in[] = "GET http://u:p@example.com:8080/a/b?x=1&y#frag HTTP/1.1\r\n"
                "Host:   example.com \t\r\nX-Empty:\r\nX_Drop: 1\r\n\r\nBODY";
    struct http_request req;
    ck_assert_int_eq(parse(in, strlen(in), NULL, &req), (int)strlen(in) - 4);
    ck_assert(req.method == in && req.method_len == 3);
    ck_assert_int_eq(req.target_len, strlen("http://u:p@example.com:8080/a/b?x=1&y#frag"));
    ck_assert(req.path_len == 4 && memcmp(req.path, "/a/b", 4) == 0);
    ck_assert(req.query_len == 5 && memcmp(req.query, "x=1&y", 5) == 0);
    ck_assert(req.fragment_len == 4 && memcmp(req.fragment, "frag", 4) == 0);
    ck_assert(req.version_major == 1 && req.version_minor == 1 && req.keep_alive);
    ck_assert_uint_eq(req.num_headers, 2); /* X_Drop is dropped */
    ck_assert(req.headers[0].value_len == 11 &&
              memcmp(req.headers[0].value, "example.com", 11) == 0);
    ck_assert(req.headers[1].name_len == 7 && req.headers[1].value_len == 0);
    ck_assert_int_eq(req.body, HTTP_BODY_NONE);

    char q[] = "GET /p#a?b HTTP/1.0\r\n\r\n"; /* '#' comes first: no query */
    ck_assert_int_gt(parse(q, strlen(q), NULL, &req), 0);
    ck_assert(req.path_len == 2 && req.query_len == 0 && req.fragment_len == 3);
    char q2[] = "GET /p?a#b?c HTTP/1.0\r\n\r\n";
    ck_assert_int_gt(parse(q2, strlen(q2), NULL, &req), 0);
    ck_assert(req.path_len == 2 && req.query_len == 1 && req.fragment_len == 3);
    ck_assert(!req.keep_alive);

    char c[] = "CONNECT example.com:443 HTTP/1.1\r\n\r\n"; /* PATH_INFO as Gunicorn's */
    ck_assert_int_gt(parse(c, strlen(c), NULL, &req), 0);
    ck_assert(req.path_len == 3 && memcmp(req.path, "443", 3) == 0);
}
END_TEST

START_TEST(test_framing_fields)
{
    struct http_options opt;
    struct http_request req;
    char cl[] = "POST / HTTP/1.1\r\nContent-Length: 007\r\nConnection: close\r\n\r\n";
    ck_assert_int_gt(parse(cl, strlen(cl), NULL, &req), 0);
    ck_assert(req.body == HTTP_BODY_LENGTH && req.content_length == 7 && !req.keep_alive);
    char te[] = "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n";
    ck_assert_int_gt(parse(te, strlen(te), NULL, &req), 0);
    ck_assert(req.body == HTTP_BODY_CHUNKED && !req.keep_alive); /* Gunicorn closes after gzip */
    char ka[] = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nConnection: close\r\n\r\n";
    ck_assert_int_gt(parse(ka, strlen(ka), NULL, &req), 0);
    ck_assert(req.keep_alive); /* only the first Connection field counts */
    char ex[] = "PUT / HTTP/1.1\r\nExpect: 100-CONTINUE\r\n\r\n";
    ck_assert_int_gt(parse(ex, strlen(ex), NULL, &req), 0);
    ck_assert(req.expect_continue);
    char ex10[] = "PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n";
    ck_assert_int_gt(parse(ex10, strlen(ex10), NULL, &req), 0);
    ck_assert(!req.expect_continue);

    char https[] = "GET / HTTP/1.1\r\nX-Forwarded-Proto: https\r\n\r\n";
    http_options_init(&opt);
    ck_assert_int_gt(parse(https, strlen(https), &opt, &req), 0);
    ck_assert(!req.scheme_https); /* untrusted peer */
    opt.flags = HTTP_TRUSTED_PEER;
    ck_assert_int_gt(parse(https, strlen(https), &opt, &req), 0);
    ck_assert(req.scheme_https);
    char ssl[] = "GET / HTTP/1.1\r\nx-forwarded-ssl: ON\r\n\r\n"; /* values are exact */
    ck_assert_int_gt(parse(ssl, strlen(ssl), &opt, &req), 0);
    ck_assert(!req.scheme_https);
}
END_TEST

/* The reason for the debug log names what is wrong, not a neighbour of it. */
START_TEST(test_error_reasons)
{
    static const struct {
        const char *in, *reason;
    } cases[] = {
        {"GET / HTTP/1.1\nHost: x\r\n\r\n", "bare LF ending the request line"},
        {"GET / HTTP/1.10\r\n\r\n", "invalid HTTP version"},
        {"GET / HTTX/1.1\r\n\r\n", "invalid HTTP version"},
        {"GET / HTTP/1.1\rX\r\n\r\n", "request line not ended by CRLF"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[64];
        struct http_request req;
        size_t len = strlen(cases[i].in);
        memcpy(buf, cases[i].in, len);
        ck_assert_int_eq(parse(buf, len, NULL, &req), HTTP_ERROR);
        ck_assert_int_eq(req.status, 400);
        ck_assert_str_eq(req.error, cases[i].reason);
    }
}
END_TEST

/* Rewrites happen only in a complete head: casefolding and obs-fold joining. */
START_TEST(test_rewrites)
{
    struct http_options opt;
    struct http_request req;
    char in[] = "post / HTTP/1.1\r\nLong:  one \r\n  two\t\r\n\t\r\n three\r\nB:\r\n x\r\n\r\n";
    char copy[sizeof(in)];
    http_options_init(&opt);
    opt.flags = HTTP_PERMIT_UNCONVENTIONAL_METHOD | HTTP_CASEFOLD_METHOD | HTTP_PERMIT_OBS_FOLD;
    memcpy(copy, in, sizeof(in));
    for (size_t k = 0; k < sizeof(in) - 1; k++) {
        ck_assert_int_eq(parse(in, k, &opt, &req), HTTP_NEED_MORE);
        ck_assert(memcmp(in, copy, sizeof(in)) == 0);
    }
    ck_assert_int_eq(parse(in, sizeof(in) - 1, &opt, &req), (int)sizeof(in) - 1);
    ck_assert(req.method_len == 4 && memcmp(req.method, "POST", 4) == 0);
    ck_assert_uint_eq(req.num_headers, 2);
    ck_assert(req.headers[0].value_len == 13 &&
              memcmp(req.headers[0].value, "one two three", 13) == 0);
    ck_assert(req.headers[1].value_len == 1 && req.headers[1].value[0] == 'x');

    char bad[] = "post / HTTP/1.1\r\nLong: one\r\n two\r\nX: \x01\r\n\r\n";
    memcpy(copy, bad, sizeof(bad));
    ck_assert_int_eq(parse(bad, sizeof(bad) - 1, &opt, &req), HTTP_ERROR);
    ck_assert(memcmp(bad, copy, sizeof(bad)) == 0);
}
END_TEST

START_TEST(test_capacity_and_defaults)
{
    struct http_request req = {.headers = headers, .max_headers = 1};
    char in[] = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n";
    ck_assert_int_eq(http_parse_request(in, strlen(in), NULL, &req), HTTP_ERROR);
    ck_assert_int_eq(req.status, 431);
    ck_assert_int_eq(http_parse_request(in, 0, NULL, &req), HTTP_NEED_MORE);
}
END_TEST

/* The limits the parser applies, written back; and the head they allow. */
START_TEST(test_options_settle)
{
    struct http_options o;
    http_options_init(&o);
    ck_assert_uint_eq(http_options_settle(&o), 4094 + 2 + 100 * (8190 + 2) + 2);
    ck_assert(o.limit_request_line == 4094 && o.limit_request_fields == 100 &&
              o.limit_request_field_size == 8190);

    o.limit_request_line = o.limit_request_fields = o.limit_request_field_size = 0;
    size_t head = http_options_settle(&o);
    ck_assert(o.limit_request_line == HTTP_MAX_REQUEST_LINE &&
              o.limit_request_fields == HTTP_MAX_HEADERS &&
              o.limit_request_field_size == HTTP_MAX_FIELD_SIZE);
    ck_assert_uint_eq(http_options_settle(&o), head); /* settled options stay as they are */

    o.limit_request_line = 8191;
    o.limit_request_fields = 32769;
    http_options_settle(&o);
    ck_assert(o.limit_request_line == 8190 && o.limit_request_fields == 32768);

    o.limit_request_field_size = SIZE_MAX; /* the product overflows: no bound */
    ck_assert_uint_eq(http_options_settle(&o), SIZE_MAX);

    /* A head at every limit fits in what settle returns, and parses. */
    static char big[4 * 1024];
    struct http_request req = {.headers = headers, .max_headers = MAX_HEADERS};
    http_options_init(&o);
    o.limit_request_line = 32;
    o.limit_request_fields = 2;
    o.limit_request_field_size = 20;
    size_t max = http_options_settle(&o);
    int n = snprintf(big, sizeof(big), "GET /%s HTTP/1.1\r\n%s\r\n%s\r\n\r\n", "012345678901234567",
                     "A: 345678901234567", "B: 345678901234567");
    ck_assert_uint_eq((size_t)n, 32 + 2 + 2 * 20 + 2);
    ck_assert_uint_le((size_t)n, max);
    ck_assert_int_eq(http_parse_request(big, (size_t)n, &o, &req), n);
}
END_TEST

/* ---- chunked bodies ---------------------------------------------------- */

struct chunk_row {
    const char *what;
    const char *in;
    const char *body; /* decoded; NULL when status is set */
    int status;
    uint64_t limit;
};

static const struct chunk_row chunk_rows[] = {
    {"one chunk", "5\r\nhello\r\n0\r\n\r\n", .body = "hello"},
    {"two chunks, 000 end", "5\r\nhello\r\n6\r\n world\r\n000\r\n\r\n", .body = "hello world"},
    {"upper-case hex", "A\r\n0123456789\r\n0\r\n\r\n", .body = "0123456789"},
    {"leading zeros", "0005\r\nhello\r\n0\r\n\r\n", .body = "hello"},
    {"16 digits", "0000000000000005\r\nhello\r\n0\r\n\r\n", .body = "hello"},
    {"extensions", "5; a=b; c\r\nhello\r\n0;x=\"y z\"\r\n\r\n", .body = "hello"},
    {"space before extension", "5 \t;a\r\nhello\r\n0\r\n\r\n", .body = "hello"},
    {"trailers", "5\r\nhello\r\n0\r\nVary: *\r\nX-Sum: 1\r\n\r\n", .body = "hello"},
    {"empty body", "0\r\n\r\n", .body = ""},
    {"bad hex", "5g\r\nhello\r\n0\r\n\r\n", .status = 400},
    {"17 digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", .status = 400},
    {"overflow", "1\r\na\r\nFFFFFFFFFFFFFFFF\r\n", .status = 400},
    {"no size", "\r\nhello\r\n0\r\n\r\n", .status = 400},
    {"minus sign", "-5\r\nhello\r\n0\r\n\r\n", .status = 400},
    {"space before size", " 5\r\nhello\r\n0\r\n\r\n", .status = 400},
    {"space without extension", "0 \r\n\r\n", .status = 400},
    {"underscore in size", "6_0\r\n", .status = 400},
    {"missing CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n", .status = 400},
    {"LF only after data", "5\r\nhello\n0\r\n\r\n", .status = 400},
    {"LF only after size", "5\nhello\r\n0\r\n\r\n", .status = 400},
    {"CR in extension", "5;a\rb\r\nhello\r\n0\r\n\r\n", .status = 400},
    {"LF in extension", "5;a\nb\r\nhello\r\n0\r\n\r\n", .status = 400},
    {"control in extension", "5;a\x01\r\nhello\r\n0\r\n\r\n", .status = 400},
    {"body at limit", "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", .body = "helloworld", .limit = 10},
    {"body over limit", "5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n", .status = 413, .limit = 10},
    {"forbidden trailer Host", "0\r\nHost: evil\r\n\r\n", .status = 400},
    {"forbidden trailer TE", "0\r\nte: chunked\r\n\r\n", .status = 400},
    {"forbidden trailer length", "0\r\nContent-Length: 9\r\n\r\n", .status = 400},
    {"bad trailer value", "0\r\nX: a\x01\r\n\r\n", .status = 400},
    {"folded trailer", "0\r\nX: a\r\n b\r\n\r\n", .status = 400},
    {"bare CR ends trailers", "0\r\n\rX", .status = 400},
};

/* Decode in two pieces split at s; returns the result of the second call. */
static long decode_split(const struct chunk_row *r, size_t s, char *out, size_t *out_len,
                         struct http_chunked *d)
{
    size_t n = strlen(r->in), first = s, second = n - s;
    *d = (struct http_chunked){.limit = r->limit};
    long r1 = http_decode_chunked(d, at_guard(r->in, s), &first);
    memcpy(out, guard_end - s, first);
    if (r1 != HTTP_NEED_MORE && !(s == n && r1 == 0)) {
        *out_len = first;
        return r1;
    }
    long r2 = http_decode_chunked(d, at_guard(r->in + s, second), &second);
    memcpy(out + first, guard_end - (n - s), second);
    *out_len = first + second;
    return r2;
}

START_TEST(test_chunked_row)
{
    const struct chunk_row *r = &chunk_rows[_i];
    char out[256];
    size_t n = strlen(r->in), out_len;
    struct http_chunked d;
    for (size_t s = 0; s <= n; s++) {
        long rc = decode_split(r, s, out, &out_len, &d);
        if (r->body != NULL) {
            ck_assert_msg(rc == 0, "%s: split %zu: %ld (%s)", r->what, s, rc,
                          d.error ? d.error : "");
            ck_assert_msg(out_len == strlen(r->body) && memcmp(out, r->body, out_len) == 0,
                          "%s: split %zu decodes to \"%.*s\"", r->what, s, (int)out_len, out);
        } else {
            ck_assert_msg(rc == HTTP_ERROR && d.status == r->status && d.error != NULL,
                          "%s: split %zu: %ld status %d", r->what, s, rc, d.status);
        }
    }
}
END_TEST

START_TEST(test_chunked_after_and_trailers)
{
    char in[] = "3\r\nabc\r\n0\r\nVary: *\r\nX-A:\r\n  b \r\n\r\nNEXT";
    struct http_options opt;
    struct http_chunked d = {0};
    size_t n = strlen(in);
    http_options_init(&opt);
    opt.flags = HTTP_PERMIT_OBS_FOLD;
    d.opt = &opt;
    ck_assert_int_eq(http_decode_chunked(&d, in, &n), 4);
    ck_assert(n == 3 && memcmp(in, "abcNEXT", 7) == 0);
    ck_assert_uint_eq(d.trailer_bytes, strlen("Vary: *\r\nX-A:\r\n  b \r\n\r\n"));
    /* done stays done: what follows is handed back untouched */
    n = 4;
    ck_assert_int_eq(http_decode_chunked(&d, in + 3, &n), 4);
    ck_assert_uint_eq(n, 0);

    /* trailer fields have the header limits: a field over the size is 431 */
    char big[] = "0\r\nX-Long: 0123456789\r\n\r\n";
    struct http_options small_opt;
    http_options_init(&small_opt);
    small_opt.limit_request_field_size = 16;
    struct http_chunked small = {0};
    small.opt = &small_opt;
    n = strlen(big);
    ck_assert_int_eq(http_decode_chunked(&small, big, &n), HTTP_ERROR);
    ck_assert_int_eq(small.status, 431);
    /* errors stay reported */
    n = 5;
    ck_assert_int_eq(http_decode_chunked(&small, big, &n), HTTP_ERROR);
    /* the chunk-size line is bounded by limit_request_field_size */
    char ext[] = "5;aaaaaaaaaa\r\nhello\r\n0\r\n\r\n";
    struct http_chunked bounded = {0};
    bounded.opt = &opt;
    opt.limit_request_field_size = 12;
    n = strlen(ext);
    ck_assert_int_eq(http_decode_chunked(&bounded, ext, &n), HTTP_ERROR);
    ck_assert_int_eq(bounded.status, 400);
    opt.limit_request_field_size = 0;

    /* header_map applies to trailer names too: dropped by default, refused on request */
    char under[] = "0\r\nX_Y: 1\r\n\r\n", under2[] = "0\r\nX_Y: 1\r\n\r\n";
    struct http_chunked dropped = {0};
    n = strlen(under);
    ck_assert_int_eq(http_decode_chunked(&dropped, under, &n), 0);
    struct http_chunked refused = {0};
    opt.header_map = HTTP_HEADER_MAP_REFUSE;
    refused.opt = &opt;
    n = strlen(under2);
    ck_assert_int_eq(http_decode_chunked(&refused, under2, &n), HTTP_ERROR);
    ck_assert_int_eq(refused.status, 400);
}
END_TEST

/* ---- PROXY protocol ---------------------------------------------------- */

struct proxy_row {
    const char *what;
    const char *in;
    size_t len; /* 0: strlen */
    int mode;
    int result; /* bytes consumed, 0, or HTTP_ERROR */
    const char *src;
    unsigned src_port;
};

#define V2SIG "\r\n\r\n\0\r\nQUIT\n"

static const struct proxy_row proxy_rows[] = {
    {"v1 TCP4", "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET", 0, 3, 47, "192.168.0.1",
     56324},
    {"v1 TCP6", "PROXY TCP6 2001:db8::1 ::1 1 65535\r\n", 0, 1, 36, "2001:db8::1", 1},
    {"v1 UNKNOWN", "PROXY UNKNOWN\r\n", 0, 3, 15, NULL, 0},
    {"v1 UNKNOWN with addresses", "PROXY UNKNOWN ::1 ::1 1 2\r\n", 0, 3, 27, NULL, 0},
    {"v1 bad address", "PROXY TCP4 not-an-ip 192.168.0.11 56324 443\r\n", 0, 3, HTTP_ERROR, NULL,
     0},
    {"v1 TCP4 with IPv6", "PROXY TCP4 ::1 ::1 1 2\r\n", 0, 3, HTTP_ERROR, NULL, 0},
    {"v1 bad port", "PROXY TCP4 1.2.3.4 1.2.3.5 65iii 1\r\n", 0, 3, HTTP_ERROR, NULL, 0},
    {"v1 port 65536", "PROXY TCP4 1.2.3.4 1.2.3.5 65536 1\r\n", 0, 3, HTTP_ERROR, NULL, 0},
    {"v1 five fields", "PROXY TCP4 1.2.3.4 1.2.3.5 1\r\n", 0, 3, HTTP_ERROR, NULL, 0},
    {"v1 seven fields", "PROXY TCP4 1.2.3.4 1.2.3.5 1 2 3\r\n", 0, 3, HTTP_ERROR, NULL, 0},
    {"v1 double space", "PROXY TCP4  1.2.3.4 1.2.3.5 1 2\r\n", 0, 3, HTTP_ERROR, NULL, 0},
    {"v1 UDP", "PROXY UDP4 1.2.3.4 1.2.3.5 1 2\r\n", 0, 3, HTTP_ERROR, NULL, 0},
    {"v1 six-digit port", "PROXY TCP4 1.2.3.4 1.2.3.5 123456 1\r\n", 0, 3, HTTP_ERROR, NULL, 0},
    {"v1 64-byte address",
     "PROXY TCP6 0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000 ::1 1 2\r\n", 0,
     3, HTTP_ERROR, NULL, 0},
    {"v1 NUL", "PROXY TCP4 1.2.3.4\0 1.2.3.5 1 2\r\n", 33, 3, HTTP_ERROR, NULL, 0},
    {"v1 bare LF", "PROXY TCP4 1.2.3.4 1.2.3.5 1 2\n", 0, 3, HTTP_ERROR, NULL, 0},
    {"v1 over 107 bytes",
     "PROXY UNKNOWN 0123456789012345678901234567890123456789012345678901234567890123456789"
     "0123456789012345678901\r\n",
     0, 3, HTTP_ERROR, NULL, 0},
    {"v1 at 107 bytes",
     "PROXY UNKNOWN 0123456789012345678901234567890123456789012345678901234567890123456789"
     "012345678901234567890\r\n",
     0, 3, 107, NULL, 0},
    {"no header, auto", "GET / HTTP/1.1\r\n\r\n", 0, 3, 0, NULL, 0},
    {"no header, v1 required", "GET / HTTP/1.1\r\n\r\n", 0, 1, HTTP_ERROR, NULL, 0},
    {"v1 when v2 required", "PROXY UNKNOWN\r\n", 0, 2, HTTP_ERROR, NULL, 0},
    {"v2 TCP4", V2SIG "\x21\x11\x00\x0c\xc0\xa8\x01\x0a\xc0\xa8\x01\x01\x30\x39\x01\xbbGET", 31, 3,
     28, "192.168.1.10", 12345},
    {"v2 TCP6",
     V2SIG "\x21\x21\x00\x24 \x01\r\xb8\0\0\0\0\0\0\0\0\0\0\0\x01 \x01\r\xb8\0\0\0\0\0\0\0\0\0\0\0"
           "\x02\xd4\x31\x00\x50",
     52, 2, 52, "2001:db8::1", 54321},
    {"v2 LOCAL", V2SIG "\x20\x00\x00\x00", 16, 3, 16, NULL, 0},
    {"v2 UNSPEC", V2SIG "\x21\x01\x00\x00", 16, 3, 16, NULL, 0},
    {"v2 version 1", V2SIG "\x11\x11\x00\x0c", 16, 3, HTTP_ERROR, NULL, 0},
    {"v2 command 2", V2SIG "\x22\x11\x00\x0c", 16, 3, HTTP_ERROR, NULL, 0},
    {"v2 UDP", V2SIG "\x21\x12\x00\x0c\x01\x02\x03\x04\x01\x02\x03\x05\0\1\0\2", 28, 3, HTTP_ERROR,
     NULL, 0},
    {"v2 short IPv4 block", V2SIG "\x21\x11\x00\x08\x01\x02\x03\x04\x01\x02\x03\x05", 24, 3,
     HTTP_ERROR, NULL, 0},
    {"v2 unix family", V2SIG "\x21\x31\x00\x00", 16, 3, HTTP_ERROR, NULL, 0},
    {"v2 when v1 required", V2SIG "\x20\x00\x00\x00", 16, 1, HTTP_ERROR, NULL, 0},
};

START_TEST(test_proxy_row)
{
    const struct proxy_row *r = &proxy_rows[_i];
    size_t len = r->len ? r->len : strlen(r->in);
    struct http_proxy pp;
    int status = 0;
    const char *why = NULL;
    int rc = http_parse_proxy(at_guard(r->in, len), len, r->mode, &pp, &status, &why);
    ck_assert_msg(rc == r->result, "%s: %d, expected %d", r->what, rc, r->result);
    if (rc == HTTP_ERROR)
        ck_assert(status == 400 && why != NULL);
    if (rc > 0) {
        ck_assert_int_eq(pp.present, r->src != NULL);
        if (r->src) {
            ck_assert_str_eq(pp.src_addr, r->src);
            ck_assert_uint_eq(pp.src_port, r->src_port);
        }
    }
    /* a prefix is "need more" or the answer of the whole */
    for (size_t k = 0; k < len; k++) {
        int cut = http_parse_proxy(at_guard(r->in, k), k, r->mode, &pp, &status, &why);
        ck_assert_msg(cut == HTTP_NEED_MORE || cut == rc, "%s: cut at %zu: %d", r->what, k, cut);
    }
}
END_TEST

START_TEST(test_proxy_addresses)
{
    struct http_proxy pp;
    int status;
    const char *why;
    const char *v1 = "PROXY TCP4 10.0.0.1 10.0.0.2 0 80\r\n";
    ck_assert_int_gt(http_parse_proxy(v1, strlen(v1), 3, &pp, &status, &why), 0);
    ck_assert_str_eq(pp.dst_addr, "10.0.0.2");
    ck_assert(pp.src_port == 0 && pp.dst_port == 80);
}
END_TEST

/* Content-Length alone (RFC 9110 section 8.6): the one reader requests and
 * responses share.  The request rows above test it inside a head. */
START_TEST(test_content_length_value)
{
    static const struct {
        const char *in;
        size_t len; /* 0: strlen */
        bool ok;
        uint64_t value;
    } cases[] = {
        {"0", 0, true, 0},
        {"007", 0, true, 7},
        {"18446744073709551615", 0, true, UINT64_MAX},
        {"18446744073709551616", 0, false, 0},
        {"99999999999999999999", 0, false, 0},
        {"", 0, false, 0},
        {"+1", 0, false, 0},
        {"-0", 0, false, 0},
        {" 1", 0, false, 0},
        {"1 ", 0, false, 0},
        {"5, 5", 0, false, 0},
        {"0x10", 0, false, 0},
        {"1\0", 2, false, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 42;
        size_t n = cases[i].len ? cases[i].len : strlen(cases[i].in);
        bool ok = http_parse_content_length(cases[i].in, n, &v);
        ck_assert_msg(ok == cases[i].ok, "\"%s\": %d", cases[i].in, ok);
        ck_assert_msg(v == (ok ? cases[i].value : 42), "\"%s\": value %llu", cases[i].in,
                      (unsigned long long)v);
    }
}
END_TEST

/* ---- the byte classes (ascii.h) ---------------------------------------- */

START_TEST(test_byte_classes)
{
    /* tchar (RFC 9110 section 5.6.2): every one of them, and the separators */
    for (const char *t = "!#$%&'*+-.^_`|~09azAZ"; *t != '\0'; t++)
        ck_assert_msg(ascii_is_tchar((unsigned char)*t), "'%c' is a tchar", *t);
    for (const char *t = "\"(),/:;<=>?@[\\]{} \t"; *t != '\0'; t++)
        ck_assert_msg(!ascii_is_tchar((unsigned char)*t), "'%c' is not a tchar", *t);
    ck_assert(!ascii_is_tchar(0) && !ascii_is_tchar(0x7f) && !ascii_is_tchar(0x80));
    /* field bytes (RFC 9110 section 5.5): HTAB, SP, VCHAR, obs-text; no other CTL */
    ck_assert(ascii_is_field_byte('\t') && ascii_is_field_byte(' ') && ascii_is_field_byte('~'));
    ck_assert(ascii_is_field_byte(0x80) && ascii_is_field_byte(0xff));
    ck_assert(!ascii_is_field_byte(0) && !ascii_is_field_byte('\r') && !ascii_is_field_byte('\n') &&
              !ascii_is_field_byte(0x1f) && !ascii_is_field_byte(0x7f));
    ck_assert(!ascii_is_vchar(' ') && ascii_is_vchar('!') && !ascii_is_vchar(0x80));
    ck_assert(ascii_is_obs_text(0x80) && !ascii_is_obs_text(0x7f));
    /* whitespace is SP and HTAB only: never NBSP, NEL, VT or FF */
    ck_assert(ascii_is_ws(' ') && ascii_is_ws('\t'));
    ck_assert(!ascii_is_ws(0xa0) && !ascii_is_ws(0x85) && !ascii_is_ws('\v') && !ascii_is_ws('\f'));
    ck_assert(ascii_is_ctl(0) && ascii_is_ctl(0x1f) && ascii_is_ctl(0x7f) && !ascii_is_ctl(' '));
    ck_assert(ascii_is_digit('0') && ascii_is_digit('9') && !ascii_is_digit('a'));
    ck_assert(ascii_is_alpha('a') && ascii_is_alpha('Z') && !ascii_is_alpha('@') &&
              !ascii_is_alpha('[') && !ascii_is_alpha(0xe0));
    ck_assert(ascii_hex_value('0') == 0 && ascii_hex_value('f') == 15 &&
              ascii_hex_value('F') == 15 && ascii_hex_value('g') == -1 &&
              ascii_hex_value(0xc6) == -1);
}
END_TEST

START_TEST(test_ascii_case)
{
    /* only A-Z and a-z fold: a Latin-1 locale would pair 0xC0 with 0xE0 */
    ck_assert(ascii_lower('A') == 'a' && ascii_upper('z') == 'Z' && ascii_lower(0xc0) == 0xc0);
    ck_assert(ascii_caseeq("CONTENT-length", 14, "Content-Length"));
    ck_assert(!ascii_caseeq("Content-Lengt", 13, "Content-Length"));
    ck_assert(!ascii_caseeq("Content-Lengths", 15, "Content-Length"));
    ck_assert(!ascii_caseeq("\xc0", 1, "\xe0"));
    ck_assert(ascii_caseeq("", 0, ""));
    ck_assert_int_eq(ascii_casecmp("Host: x", "HOST", 4), 0);
    ck_assert_int_lt(ascii_casecmp("abc", "ABD", 3), 0);
    ck_assert_int_gt(ascii_casecmp("b", "A", 1), 0);
    ck_assert_int_eq(ascii_casecmp("ab", "AB", 10), 0); /* stops after the NUL */
    ck_assert_int_lt(ascii_casecmp("a", "AB", 10), 0);
}
END_TEST

static Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *head = tcase_create("head");
    tcase_add_unchecked_fixture(head, guard_setup, guard_teardown);
    tcase_add_loop_test(head, test_row, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(head, test_limit_before_line_ends);
    tcase_add_test(head, test_views);
    tcase_add_test(head, test_framing_fields);
    tcase_add_test(head, test_rewrites);
    tcase_add_test(head, test_error_reasons);
    tcase_add_test(head, test_capacity_and_defaults);
    tcase_add_test(head, test_content_length_value);
    tcase_add_test(head, test_options_settle);
    suite_add_tcase(s, head);

    TCase *body = tcase_create("chunked");
    tcase_add_unchecked_fixture(body, guard_setup, guard_teardown);
    tcase_add_loop_test(body, test_chunked_row, 0,
                        (int)(sizeof(chunk_rows) / sizeof(chunk_rows[0])));
    tcase_add_test(body, test_chunked_after_and_trailers);
    suite_add_tcase(s, body);

    TCase *proxy = tcase_create("proxy");
    tcase_add_unchecked_fixture(proxy, guard_setup, guard_teardown);
    tcase_add_loop_test(proxy, test_proxy_row, 0,
                        (int)(sizeof(proxy_rows) / sizeof(proxy_rows[0])));
    tcase_add_test(proxy, test_proxy_addresses);
    suite_add_tcase(s, proxy);

    TCase *bytes = tcase_create("bytes");
    tcase_add_test(bytes, test_byte_classes);
    tcase_add_test(bytes, test_ascii_case);
    suite_add_tcase(s, bytes);
    return s;
}

int main(void)
{
    return unit_run(http_suite());
}
