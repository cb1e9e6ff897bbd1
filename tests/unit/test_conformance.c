/*
 * test_conformance.c - Gunicorn 26's own request corpus, run against src/http.c.
 *
 * Stage 5, parse (Gunicorn counterpart: tests/treq.py, which drives
 * tests/test_valid_requests.py and tests/test_invalid_requests.py).
 * Owns: replaying the corpus through the parser, and the one table of
 * answers greenhorn means to give differently.
 * Does not own: the corpus (data, copied unchanged), the rule-by-rule tests
 * (test_http.c), or the socket-level side-by-side suite (tests/integration).
 *
 * 137 raw requests from Gunicorn's tests/requests (copied unchanged into
 * tests/conformance/gunicorn-requests/), with the outcome Gunicorn's parser
 * gives for each.  The expectations are compiled in from cases.json by
 * tests/conformance/gen_cases.py (conformance_cases.inc); the request bytes
 * are read at run time, so run this from the repository root.
 *
 * Each file is a stream of pipelined requests and is read the way a worker
 * would: the PROXY header first when the case enables it, then head, body,
 * head, body ... until an error, a request that closes the connection
 * (Gunicorn's should_close), or the end of the input.  Where the input ends:
 *   - inside a request head: the connection closes with no response
 *     (Gunicorn's NoMoreData, status null in cases.json);
 *   - inside a Content-Length body: the application gets the bytes that came
 *     (Gunicorn's LengthReader stops at end of input; valid/099 relies on it);
 *   - inside a chunked body: 400 (Gunicorn's ChunkMissingTerminator).
 * A served request is compared with Gunicorn's field by field, body
 * included; its trailer fields only have to be accepted, as greenhorn
 * checks them and forgets them (no WSGI application can read them).
 *
 * A second pass replays every request cut at every byte, each prefix placed
 * right before a PROT_NONE page so that reading one byte too far crashes: a
 * prefix must give "need more" or the very result of the whole, never a
 * different one.  Chunked bodies are split in two at every byte the same way.
 */
#include "http.h"
#include "proxy_protocol.h"
#include "unit.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CORPUS_DIR   "tests/conformance/gunicorn-requests/"
#define MAX_HEADERS  256
#define MAX_REQUESTS 8

struct conf_field {
    const char *name; /* upper case, as the corpus writes it */
    const char *value;
};

struct conf_request {
    const char *method, *target, *path, *query, *fragment, *version;
    const struct conf_field *headers;
    size_t num_headers;
    const char *body;
    size_t body_len;
};

/* Gunicorn settings that differ from its defaults; -1 = the default. */
struct conf_settings {
    long limit_request_line;
    long limit_request_fields;
    long limit_request_field_size;
    unsigned flags; /* forwarded_allow_ips ["*"] is HTTP_TRUSTED_PEER */
    int header_map;
    bool proxy_protocol; /* "auto": http_parse_proxy(mode 3) first */
};

struct conf_case {
    const char *name;
    struct conf_settings settings;
    const struct conf_request *requests; /* valid cases */
    size_t num_requests;
    const char *error; /* invalid cases: Gunicorn's exception ... */
    int status;        /* ... and its answer; 0 = closed with no response */
};

#include "conformance_cases.inc"

#define NUM_CASES (sizeof(conf_cases) / sizeof(conf_cases[0]))

/*
 * Where greenhorn means to answer differently from Gunicorn 26 on this
 * corpus: the one place, each with its reason.
 */
static const struct {
    const char *name;
    int status;
    const char *why;
} differences[] = {
    {"invalid/006", 414,
     "request line over limit_request_line: RFC 9112 section 3 answers 414 (URI Too Long); "
     "Gunicorn 26 answers 400"},
};

static int expected_status(const struct conf_case *c)
{
    for (size_t i = 0; i < sizeof(differences) / sizeof(differences[0]); i++)
        if (strcmp(differences[i].name, c->name) == 0)
            return differences[i].status;
    return c->status;
}

/* ---- reading a case ---------------------------------------------------- */

static char *read_case(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), CORPUS_DIR "%s.http", name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (run from the repository root)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *data = malloc(n > 0 ? (size_t)n : 1);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return data;
}

static void options_for(const struct conf_settings *s, struct http_options *opt)
{
    http_options_init(opt);
    if (s->limit_request_line >= 0)
        opt->limit_request_line = (size_t)s->limit_request_line;
    if (s->limit_request_fields >= 0)
        opt->limit_request_fields = (size_t)s->limit_request_fields;
    if (s->limit_request_field_size >= 0)
        opt->limit_request_field_size = (size_t)s->limit_request_field_size;
    if (s->header_map >= 0)
        opt->header_map = (enum http_header_map)s->header_map;
    opt->flags = s->flags;
}

/* ---- one stream of requests -------------------------------------------- */

/* Where each request of the stream sat in the file (for the second pass). */
struct stream_request {
    size_t head_off, head_len;
    size_t body_off, body_raw; /* body_raw: raw bytes of a chunked body */
    bool chunked;
};

struct outcome {
    int status;       /* an error's status, 0 if none */
    const char *why;  /* our reason for it */
    bool cut_short;   /* the input ended inside a request head */
    size_t proxy_len; /* bytes of PROXY header */
    size_t served;    /* complete requests */
    struct stream_request at[MAX_REQUESTS];
    bool mismatch; /* a served request differed from the expectation */
    char msg[512];
};

static bool same_text(const char *got, size_t got_len, const char *want)
{
    return got_len == strlen(want) && memcmp(got, want, got_len) == 0;
}

/* Compare fields, names upper-cased as the corpus writes them. */
static bool same_fields(const struct http_header *got, size_t n, const struct conf_field *want,
                        size_t want_n, char *msg, size_t msgsize)
{
    if (n != want_n) {
        snprintf(msg, msgsize, "%zu fields, expected %zu", n, want_n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char name[128] = "";
        for (size_t k = 0; k < got[i].name_len && k + 1 < sizeof(name); k++) {
            char ch = got[i].name[k];
            name[k] = ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch;
        }
        if (strcmp(name, want[i].name) != 0 ||
            !same_text(got[i].value, got[i].value_len, want[i].value)) {
            snprintf(msg, msgsize, "field %zu is %s: \"%.*s\", expected %s: \"%.60s\"", i, name,
                     (int)(got[i].value_len > 60 ? 60 : got[i].value_len), got[i].value,
                     want[i].name, want[i].value);
            return false;
        }
    }
    return true;
}

static bool same_request(const struct http_request *r, const struct conf_request *w,
                         const char *body, size_t body_len, char *msg, size_t msgsize)
{
    char version[16];
    snprintf(version, sizeof(version), "HTTP/%d.%d", r->version_major, r->version_minor);
    const char *what = !same_text(r->method, r->method_len, w->method)         ? "method"
                       : !same_text(r->target, r->target_len, w->target)       ? "target"
                       : !same_text(r->path, r->path_len, w->path)             ? "path"
                       : !same_text(r->query, r->query_len, w->query)          ? "query"
                       : !same_text(r->fragment, r->fragment_len, w->fragment) ? "fragment"
                       : strcmp(version, w->version) != 0                      ? "version"
                       : body_len != w->body_len || memcmp(body, w->body, body_len) != 0 ? "body"
                                                                                         : NULL;
    if (what) {
        snprintf(msg, msgsize, "%s differs (path \"%.*s\", body %zu bytes)", what, (int)r->path_len,
                 r->path, body_len);
        return false;
    }
    return same_fields(r->headers, r->num_headers, w->headers, w->num_headers, msg, msgsize);
}

/* The body of request rq, decoded from a copy of orig[body_off..len).
 * Returns the offset of the next request, or 0 with out->status set. */
static size_t read_body(const char *orig, size_t len, const struct http_options *opt,
                        const struct http_request *req, struct stream_request *rq,
                        struct outcome *out, char *scratch, size_t *body_len)
{
    size_t rest = len - rq->body_off;
    memcpy(scratch, orig + rq->body_off, rest);
    *body_len = 0;
    if (req->body == HTTP_BODY_LENGTH) {
        *body_len = req->content_length < rest ? (size_t)req->content_length : rest;
        return rq->body_off + *body_len;
    }
    if (req->body == HTTP_BODY_NONE)
        return rq->body_off;
    struct http_chunked d = {0};
    d.opt = opt;
    size_t n = rest;
    long after = http_decode_chunked(&d, scratch, &n);
    if (after < 0) {
        out->status = after == HTTP_ERROR ? d.status : 400;
        out->why = after == HTTP_ERROR ? d.error : "input ended inside a chunked body";
        return 0;
    }
    rq->chunked = true;
    rq->body_raw = rest - (size_t)after;
    *body_len = n;
    return len - (size_t)after;
}

/* Read the whole file as a connection would, comparing each served request. */
static void run_stream(const struct conf_case *c, const char *orig, size_t len, struct outcome *out)
{
    static struct http_header headers[MAX_HEADERS];
    struct http_options opt;
    size_t pos = 0;
    options_for(&c->settings, &opt);
    char *work = malloc(len + 1), *scratch = malloc(len + 1);
    ck_assert(work != NULL && scratch != NULL);
    if (c->settings.proxy_protocol) {
        struct http_proxy pp;
        int rc = http_parse_proxy(orig, len, 3, &pp, &out->status, &out->why);
        out->cut_short = rc == HTTP_NEED_MORE;
        pos = out->proxy_len = rc > 0 ? (size_t)rc : 0;
    }
    while (pos < len && out->status == 0 && !out->cut_short && !out->mismatch) {
        struct http_request req = {.headers = headers, .max_headers = MAX_HEADERS};
        struct stream_request *rq = &out->at[out->served];
        memcpy(work, orig + pos, len - pos);
        int rc = http_parse_request(work, len - pos, &opt, &req);
        if (rc == HTTP_ERROR) {
            out->status = req.status;
            out->why = req.error;
            break;
        }
        out->cut_short = rc == HTTP_NEED_MORE;
        if (out->cut_short)
            break;
        *rq = (struct stream_request){pos, (size_t)rc, pos + (size_t)rc, 0, false};
        size_t body_len;
        size_t next = read_body(orig, len, &opt, &req, rq, out, scratch, &body_len);
        if (out->status != 0)
            break;
        const char *body = rq->chunked ? scratch : orig + rq->body_off;
        if (c->requests != NULL) {
            if (out->served >= c->num_requests) {
                snprintf(out->msg, sizeof(out->msg), "more requests than the %zu expected",
                         c->num_requests);
                out->mismatch = true;
            } else if (!same_request(&req, &c->requests[out->served], body, body_len, out->msg,
                                     sizeof(out->msg))) {
                out->mismatch = true;
            }
        }
        out->served++;
        pos = next;
        if (!req.keep_alive || out->served == MAX_REQUESTS)
            break;
    }
    free(work);
    free(scratch);
}

/* Does the outcome match the case?  On a mismatch, say why in out->msg. */
static bool judge(const struct conf_case *c, struct outcome *out)
{
    if (out->mismatch)
        return false;
    if (c->requests != NULL) {
        if (out->status != 0 || out->cut_short || out->served != c->num_requests)
            snprintf(out->msg, sizeof(out->msg), "status %d (%s), %s, %zu of %zu requests",
                     out->status, out->why ? out->why : "-",
                     out->cut_short ? "cut short" : "complete", out->served, c->num_requests);
        return out->status == 0 && !out->cut_short && out->served == c->num_requests;
    }
    int want = expected_status(c);
    bool ok = want == 0 ? out->cut_short && out->status == 0 : out->status == want;
    if (!ok)
        snprintf(out->msg, sizeof(out->msg), "got status %d (%s)%s, expected %d (%s)", out->status,
                 out->why ? out->why : "-", out->cut_short ? ", cut short" : "", want, c->error);
    return ok;
}

static bool run_case(const struct conf_case *c, struct outcome *out)
{
    size_t len;
    char *orig = read_case(c->name, &len);
    memset(out, 0, sizeof(*out));
    run_stream(c, orig, len, out);
    free(orig);
    return judge(c, out);
}

START_TEST(test_case)
{
    const struct conf_case *c = &conf_cases[_i];
    struct outcome out;
    bool ok = run_case(c, &out);
    ck_assert_msg(ok, "%s: %s", c->name, out.msg);
}
END_TEST

START_TEST(test_count)
{
    size_t passed = 0;
    struct outcome out;
    for (size_t i = 0; i < NUM_CASES; i++)
        passed += run_case(&conf_cases[i], &out);
    printf("conformance: %zu/%zu cases as expected (%zu intended difference)\n", passed, NUM_CASES,
           sizeof(differences) / sizeof(differences[0]));
    ck_assert_uint_eq(passed, NUM_CASES);
    ck_assert_uint_eq(NUM_CASES, 137);
}
END_TEST

/* ---- every cut, against a guard page ----------------------------------- */

static char *guard_end; /* the first byte of a PROT_NONE page */

static void guard_setup(void)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t room = 64 * 1024;
    char *base =
        mmap(NULL, room + (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(base != MAP_FAILED);
    guard_end = base + room;
    ck_assert_int_eq(mprotect(guard_end, (size_t)page, PROT_NONE), 0);
}

static void guard_teardown(void)
{
    long page = sysconf(_SC_PAGESIZE);
    munmap(guard_end - 64 * 1024, 64 * 1024 + (size_t)page);
}

/* Copy data[0..n) so that it ends right where the guard page begins. */
static char *at_guard(const char *data, size_t n)
{
    ck_assert_uint_le(n, 64 * 1024);
    memcpy(guard_end - n, data, n);
    return guard_end - n;
}

/* Every prefix of the head at orig[off..len): "need more", or the result of
 * the whole (same status on an error).  Returns the result of the whole. */
static int cut_head(const char *name, const struct http_options *opt, const char *orig, size_t off,
                    size_t len)
{
    static struct http_header headers[MAX_HEADERS];
    struct http_request req = {.headers = headers, .max_headers = MAX_HEADERS};
    int whole = http_parse_request(at_guard(orig + off, len - off), len - off, opt, &req);
    int whole_status = req.status;
    for (size_t k = 0; k < len - off; k++) {
        int rc = http_parse_request(at_guard(orig + off, k), k, opt, &req);
        ck_assert_msg(rc == HTTP_NEED_MORE || (rc == whole && req.status == whole_status),
                      "%s: cut at %zu gives %d (status %d), whole gives %d (status %d)", name, k,
                      rc, req.status, whole, whole_status);
    }
    return whole;
}

/* The same for the PROXY header in auto mode. */
static int cut_proxy(const char *name, const char *orig, size_t len)
{
    struct http_proxy pp;
    int whole_status = 0, status = 0;
    const char *why;
    int whole = http_parse_proxy(at_guard(orig, len), len, 3, &pp, &whole_status, &why);
    for (size_t k = 0; k < len; k++) {
        int rc = http_parse_proxy(at_guard(orig, k), k, 3, &pp, &status, &why);
        ck_assert_msg(rc == HTTP_NEED_MORE || (rc == whole && status == whole_status),
                      "%s: PROXY cut at %zu gives %d, whole gives %d", name, k, rc, whole);
    }
    return whole;
}

/* A chunked body split in two at every byte decodes to the same bytes. */
static void cut_chunked(const char *name, const struct http_options *opt, const char *raw, size_t n,
                        const char *want, size_t want_len)
{
    static char body[65536];
    for (size_t s = 0; s <= n; s++) {
        struct http_chunked d = {0};
        d.opt = opt;
        size_t first = s, second = n - s;
        long r1 = http_decode_chunked(&d, at_guard(raw, s), &first);
        ck_assert_msg(r1 == HTTP_NEED_MORE || (s == n && r1 == 0), "%s: split %zu: %ld", name, s,
                      r1);
        memcpy(body, guard_end - s, first);
        long r2 = http_decode_chunked(&d, at_guard(raw + s, n - s), &second);
        ck_assert_msg(r2 == 0, "%s: split %zu: second part gives %ld", name, s, r2);
        memcpy(body + first, guard_end - (n - s), second);
        ck_assert_msg(first + second == want_len && memcmp(body, want, want_len) == 0,
                      "%s: split %zu decodes differently", name, s);
    }
}

START_TEST(test_cuts)
{
    const struct conf_case *c = &conf_cases[_i];
    struct http_options opt;
    struct outcome out;
    size_t len;
    char *orig = read_case(c->name, &len);
    options_for(&c->settings, &opt);
    memset(&out, 0, sizeof(out));
    run_stream(c, orig, len, &out);
    if (!c->settings.proxy_protocol || cut_proxy(c->name, orig, len) >= 0)
        cut_head(c->name, &opt, orig, out.proxy_len, len);
    for (size_t i = 0; i < out.served; i++) {
        const struct stream_request *rq = &out.at[i];
        ck_assert_int_eq(cut_head(c->name, &opt, orig, rq->head_off, len), (int)rq->head_len);
        if (rq->chunked && c->requests != NULL)
            cut_chunked(c->name, &opt, orig + rq->body_off, rq->body_raw, c->requests[i].body,
                        c->requests[i].body_len);
    }
    free(orig);
}
END_TEST

static Suite *conformance_suite(void)
{
    Suite *s = suite_create("conformance");
    TCase *corpus = tcase_create("corpus");
    tcase_set_timeout(corpus, 60);
    tcase_add_loop_test(corpus, test_case, 0, (int)NUM_CASES);
    tcase_add_test(corpus, test_count);
    suite_add_tcase(s, corpus);

    TCase *cuts = tcase_create("cuts");
    tcase_set_timeout(cuts, 600);
    tcase_add_unchecked_fixture(cuts, guard_setup, guard_teardown);
    tcase_add_loop_test(cuts, test_cuts, 0, (int)NUM_CASES);
    suite_add_tcase(s, cuts);
    return s;
}

int main(void)
{
    return unit_run(conformance_suite());
}
