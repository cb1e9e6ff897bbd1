/*
 * test_response.c - unit tests for stage 8, respond (src/response.c, src/response_text.c).
 *
 * Every test writes into one end of a socketpair(AF_UNIX, SOCK_STREAM) and
 * reads the other end back, so what is checked is the exact byte stream a
 * client would receive: the status line, the header order, the framing
 * (Content-Length, chunked, close-delimited) and what is dropped.  A reader
 * thread drains the socket while the test writes, so bodies larger than the
 * socket buffer cannot deadlock.  The Date value changes every second; it
 * is checked for shape and then replaced by "<date>" before comparing.
 */
#include "response.h"
#include "unit.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the wire: a socketpair and a thread reading it ------------------ */

struct wire {
    int fds[2]; /* fds[0]: the server side we write; fds[1]: the client */
    pthread_t reader;
    unsigned slow_us; /* pause between reads, to make the writer block */
    char *buf;        /* everything the client received, NUL-terminated */
    size_t len;
    size_t cap;
};

static void *wire_drain(void *arg)
{
    struct wire *w = arg;
    for (;;) {
        if (w->cap - w->len < 16384 + 1) {
            w->cap = w->cap * 2 + 16384 + 1;
            w->buf = realloc(w->buf, w->cap);
            if (w->buf == NULL)
                abort();
        }
        ssize_t n = read(w->fds[1], w->buf + w->len, 16384);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        w->len += (size_t)n;
        if (w->slow_us > 0)
            usleep(w->slow_us);
    }
    w->buf[w->len] = '\0';
    return NULL;
}

static void wire_open(struct wire *w, unsigned slow_us)
{
    sigset_t all;
    sigset_t saved;
    memset(w, 0, sizeof *w);
    w->slow_us = slow_us;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, w->fds), 0);
    /* The reader blocks every signal: the writer is the one to be interrupted. */
    sigfillset(&all);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &all, &saved), 0);
    ck_assert_int_eq(pthread_create(&w->reader, NULL, wire_drain, w), 0);
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &saved, NULL), 0);
}

/* Close the server side, wait for the reader to see EOF. */
static void wire_close(struct wire *w)
{
    close(w->fds[0]);
    ck_assert_int_eq(pthread_join(w->reader, NULL), 0);
    close(w->fds[1]);
}

static void wire_free(struct wire *w)
{
    free(w->buf);
    w->buf = NULL;
}

/* What the client got, cut at the blank line. */
struct reply {
    char *head; /* status line + fields, each ending CRLF, Date replaced; owned */
    const char *body;
    size_t body_len;
};

/* Split w's bytes; check the Date's shape and replace its value by "<date>". */
static void reply_parse(const struct wire *w, struct reply *rep)
{
    const char *end = strstr(w->buf, "\r\n\r\n");
    ck_assert_ptr_nonnull(end);
    size_t head_len = (size_t)(end - w->buf) + 2;
    rep->body = end + 4;
    rep->body_len = w->len - head_len - 2;
    rep->head = calloc(1, head_len + 1);
    ck_assert_ptr_nonnull(rep->head);
    memcpy(rep->head, w->buf, head_len);
    char *date = strstr(rep->head, "\r\nDate: ");
    ck_assert_ptr_nonnull(date);
    date += 8;
    ck_assert_int_eq(date[RESPONSE_DATE_LEN], '\r');
    ck_assert_int_eq(memcmp(date + RESPONSE_DATE_LEN - 4, " GMT", 4), 0);
    memcpy(date, "<date>", 6);
    memmove(date + 6, date + RESPONSE_DATE_LEN, strlen(date + RESPONSE_DATE_LEN) + 1);
}

/*
 * Decode a chunked body strictly (hex size, CRLF after each size and each
 * chunk, last chunk, no trailers, nothing after).  Returns the decoded
 * length (into out) or -1; sizes[] gets each chunk size (at most max).
 */
static long dechunk(const char *p, size_t len, char *out, size_t *sizes, size_t max, size_t *nsizes)
{
    size_t at = 0;
    size_t got = 0;
    *nsizes = 0;
    for (;;) {
        char *stop = NULL;
        if (at >= len || !isxdigit((unsigned char)p[at]) || *nsizes == max)
            return -1;
        unsigned long n = strtoul(p + at, &stop, 16);
        if (stop == p + at || (size_t)(stop - p) + 2 > len || memcmp(stop, "\r\n", 2) != 0)
            return -1;
        at = (size_t)(stop - p) + 2;
        if (n == 0)
            return at + 2 == len && memcmp(p + at, "\r\n", 2) == 0 ? (long)got : -1;
        if (at + n + 2 > len || memcmp(p + at + n, "\r\n", 2) != 0)
            return -1;
        memcpy(out + got, p + at, n);
        sizes[(*nsizes)++] = n;
        got += n;
        at += n + 2;
    }
}

/* ---- scenarios: status + headers + writes -> exact bytes on the wire -- */

#define FIELDS_MAX 16

struct scenario {
    const char *name;
    int minor;
    bool head_request;
    const char *status;
    const char *fields[FIELDS_MAX][2]; /* {name, value}, ends at a NULL name */
    const char *writes[4];             /* ends at NULL; "" is an empty write */
    const char *expect_head;           /* Date value as "<date>" */
    const char *expect_body;
    int expect_finish;
};

#define HEAD11  "HTTP/1.1 200 OK\r\nServer: greenhorn\r\nDate: <date>\r\nConnection: close\r\n"
#define HEAD10  "HTTP/1.0 200 OK\r\nServer: greenhorn\r\nDate: <date>\r\nConnection: close\r\n"
#define CHUNKED "Transfer-Encoding: chunked\r\n"

static const struct scenario scenarios[] = {
    {"default order, chunked, empty writes skipped",
     1,
     false,
     "200 OK",
     {{"Content-Type", "text/plain"}, {"X-A", "1"}},
     {"abc", "", "defgh", NULL},
     HEAD11 CHUNKED "Content-Type: text/plain\r\nX-A: 1\r\n",
     "3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n",
     0},
    {"HTTP/1.0 without length: close-delimited",
     0,
     false,
     "200 OK",
     {{"Content-Type", "text/plain"}},
     {"abc", "defgh", NULL},
     HEAD10 "Content-Type: text/plain\r\n",
     "abcdefgh",
     0},
    {"HTTP/1.0 with length",
     0,
     false,
     "200 OK",
     {{"Content-Length", "2"}},
     {"ok", NULL},
     HEAD10 "Content-Length: 2\r\n",
     "ok",
     0},
    {"Content-Length exact",
     1,
     false,
     "200 OK",
     {{"Content-Length", "5"}},
     {"hello", NULL},
     HEAD11 "Content-Length: 5\r\n",
     "hello",
     0},
    {"Content-Length truncates",
     1,
     false,
     "200 OK",
     {{"Content-Length", "3"}},
     {"hello", "world", NULL},
     HEAD11 "Content-Length: 3\r\n",
     "hel",
     0},
    {"Content-Length short body",
     1,
     false,
     "200 OK",
     {{"content-length", "10"}},
     {"hello", NULL},
     HEAD11 "content-length: 10\r\n",
     "hello",
     1},
    {"identical Content-Length sent once",
     1,
     false,
     "200 OK",
     {{"Content-Length", "2"}, {"Content-Length", " 2 "}},
     {"ok", NULL},
     HEAD11 "Content-Length: 2\r\n",
     "ok",
     0},
    {"chunked, no writes",
     1,
     false,
     "200 OK",
     {{NULL, NULL}},
     {NULL},
     HEAD11 CHUNKED,
     "0\r\n\r\n",
     0},
    {"chunked, only empty writes",
     1,
     false,
     "200 OK",
     {{NULL, NULL}},
     {"", "", NULL},
     HEAD11 CHUNKED,
     "0\r\n\r\n",
     0},
    {"chunk size in hex",
     1,
     false,
     "200 OK",
     {{NULL, NULL}},
     {"0123456789abcdef0123456789abcdef", NULL},
     HEAD11 CHUNKED,
     "20\r\n0123456789abcdef0123456789abcdef\r\n0\r\n\r\n",
     0},
    {"chunk size in uppercase hex, as Gunicorn",
     1,
     false,
     "200 OK",
     {{NULL, NULL}},
     {"abcdefghijklmnopqrstuvwxyz", NULL},
     HEAD11 CHUNKED,
     "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
     0},
    {"HEAD with length: headers only",
     1,
     true,
     "200 OK",
     {{"Content-Length", "5"}},
     {"hello", NULL},
     HEAD11 "Content-Length: 5\r\n",
     "",
     0},
    {"HEAD without length: not chunked",
     1,
     true,
     "200 OK",
     {{"X-Kept", "1"}},
     {"hello", NULL},
     HEAD11 "X-Kept: 1\r\n",
     "",
     0},
    {"204: no body, Content-Length never sent",
     1,
     false,
     "204 No Content",
     {{"X-Kept", "1"}, {"Content-Length", "0"}},
     {"junk", NULL},
     "HTTP/1.1 204 No Content\r\nServer: greenhorn\r\nDate: <date>\r\nConnection: "
     "close\r\nX-Kept: 1\r\n",
     "",
     0},
    {"304: no body, its headers kept",
     1,
     false,
     "304 Not Modified",
     {{"ETag", "\"v1\""}, {"Content-Length", "10"}},
     {"junk", NULL},
     "HTTP/1.1 304 Not Modified\r\nServer: greenhorn\r\nDate: <date>\r\nConnection: "
     "close\r\nETag: \"v1\"\r\nContent-Length: 10\r\n",
     "",
     0},
    {"1xx: no body",
     1,
     false,
     "103 Early Hints",
     {{"Link", "</a.css>; rel=preload"}},
     {"junk", NULL},
     "HTTP/1.1 103 Early Hints\r\nServer: greenhorn\r\nDate: <date>\r\nConnection: "
     "close\r\nLink: </a.css>; rel=preload\r\n",
     "",
     0},
    {"values trimmed, HTAB and obs-text kept",
     1,
     false,
     "200 OK",
     {{"X-Trim", " \t a\tb  \t"}, {"X-Latin", "caf\xe9"}, {"X-Empty", "   "}},
     {NULL},
     HEAD11 CHUNKED "X-Trim: a\tb\r\nX-Latin: caf\xe9\r\nX-Empty: \r\n",
     "0\r\n\r\n",
     0},
    {"hop-by-hop, Server and Date dropped",
     1,
     false,
     "200 OK",
     {{"Connection", "keep-alive"},
      {"KEEP-ALIVE", "timeout=5"},
      {"Proxy-Authenticate", "Basic"},
      {"proxy-authorization", "x"},
      {"TE", "trailers"},
      {"Trailer", "X-T"},
      {"Trailers", "X-T"},
      {"Transfer-Encoding", "chunked"},
      {"Upgrade", "h2c"},
      {"Server", "evil"},
      {"date", "yesterday"},
      {"X-Kept", "1"}},
     {"x", NULL},
     HEAD11 CHUNKED "X-Kept: 1\r\n",
     "1\r\nx\r\n0\r\n\r\n",
     0},
    {"websocket upgrade",
     1,
     false,
     "101 Switching Protocols",
     {{"Upgrade", "WebSocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Accept", "s3pPLM="}},
     {NULL},
     "HTTP/1.1 101 Switching Protocols\r\nServer: greenhorn\r\nDate: <date>\r\nConnection: "
     "upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLM=\r\n",
     "",
     0},
    {"Upgrade without Connection: upgrade is dropped",
     1,
     false,
     "101 Switching Protocols",
     {{"Upgrade", "websocket"}},
     {NULL},
     "HTTP/1.1 101 Switching Protocols\r\nServer: greenhorn\r\nDate: <date>\r\nConnection: "
     "close\r\n",
     "",
     0},
    {"Connection: upgrade without Upgrade is dropped",
     1,
     false,
     "200 OK",
     {{"Connection", "upgrade"}, {"Upgrade", "h2c"}},
     {NULL},
     HEAD11 CHUNKED,
     "0\r\n\r\n",
     0},
    {"minor above 1 answered as 1.1",
     2,
     false,
     "200 OK",
     {{"Content-Length", "0"}},
     {NULL},
     HEAD11 "Content-Length: 0\r\n",
     "",
     0},
};

static void scenario_run(const struct scenario *s, struct wire *w, struct response *r)
{
    wire_open(w, 0);
    response_init(r, w->fds[0], s->minor, s->head_request);
    ck_assert_int_eq(response_set_status(r, s->status, strlen(s->status)), 0);
    for (size_t i = 0; i < FIELDS_MAX && s->fields[i][0] != NULL; i++) {
        const char *name = s->fields[i][0];
        const char *value = s->fields[i][1];
        ck_assert_msg(response_add_header(r, name, strlen(name), value, strlen(value)) == 0,
                      "%s: header %s refused", s->name, name);
    }
    for (size_t i = 0; s->writes[i] != NULL; i++)
        ck_assert_int_eq(response_write(r, s->writes[i], strlen(s->writes[i])), 0);
    ck_assert_msg(response_finish(r) == s->expect_finish, "%s: finish", s->name);
    wire_close(w);
}

START_TEST(test_scenarios)
{
    const struct scenario *s = &scenarios[_i];
    struct wire w;
    struct response r;
    struct reply rep;
    scenario_run(s, &w, &r);
    reply_parse(&w, &rep);
    ck_assert_msg(strcmp(rep.head, s->expect_head) == 0, "%s: head\n%s", s->name, rep.head);
    ck_assert_msg(rep.body_len == strlen(s->expect_body) &&
                      memcmp(rep.body, s->expect_body, rep.body_len) == 0,
                  "%s: body [%s]", s->name, rep.body);
    /* An ordinary head never leaves the inline buffer. */
    ck_assert_ptr_null(r.head);
    free(rep.head);
    response_free(&r);
    wire_free(&w);
}
END_TEST

START_TEST(test_upgrade_flag)
{
    struct response r;
    response_init(&r, -1, 1, false);
    ck_assert_int_eq(response_set_status(&r, "101 Switching Protocols", 23), 0);
    ck_assert_int_eq(response_add_header(&r, "Connection", 10, "upgrade", 7), 0);
    ck_assert(!r.upgrade);
    ck_assert_int_eq(response_add_header(&r, "Upgrade", 7, "websocket", 9), 0);
    ck_assert(r.upgrade);
    /* A new status (exc_info) forgets it with the other headers. */
    ck_assert_int_eq(response_set_status(&r, "500 Internal Server Error", 25), 0);
    ck_assert(!r.upgrade);
    response_free(&r);
}
END_TEST

/* ---- validation ------------------------------------------------------- */

struct bytes {
    const char *s;
    size_t len;
};

#define B(lit)                                                                                     \
    {                                                                                              \
        lit, sizeof lit - 1                                                                        \
    }

static const struct bytes bad_statuses[] = {
    B(""),           B("099"),        B("20"),
    B("200OK"),      B("20 OK"),      B("2000 OK"),
    B("099 Low"),    B("abc OK"),     B(" 200 OK"),
    B("200\tOK"),    B("2x0 OK"),     B("200 O\rK"),
    B("200 O\nK"),   B("200 O\0K"),   B("200 O\x01K"),
    B("200 O\x7fK"), B("200 OK\r\n"), B("200 OK\r\nX-Evil: 1"),
};

static const struct bytes good_statuses[] = {
    B("200 OK"),         B("200 "),        B("999 Whatever"),
    B("404 Not\tFound"), B("200 caf\xe9"), B("100 Continue"),
};

START_TEST(test_status_invalid)
{
    const struct bytes *b = &bad_statuses[_i];
    struct response r;
    response_init(&r, -1, 1, false);
    ck_assert_int_eq(response_set_status(&r, "201 Created", 11), 0);
    ck_assert_int_eq(response_add_header(&r, "X-A", 3, "1", 1), 0);
    size_t head_len = r.head_len;
    errno = 0;
    ck_assert_msg(response_set_status(&r, b->s, b->len) == -1, "status row %d accepted", _i);
    ck_assert_int_eq(errno, EINVAL);
    /* Nothing kept: the earlier status and its header are untouched. */
    ck_assert_int_eq(r.status, 201);
    ck_assert_uint_eq(r.head_len, head_len);
    ck_assert_int_eq(memcmp(r.head_inline, "HTTP/1.1 201 Created\r\nX-A: 1\r\n", head_len), 0);
    response_free(&r);
}
END_TEST

/* A bare "200" (Gunicorn serves it) gets its standard reason phrase. */
START_TEST(test_status_bare_code_gets_reason)
{
    struct response r;
    response_init(&r, -1, 1, false);
    ck_assert_int_eq(response_set_status(&r, "200", 3), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(memcmp(r.head_inline, "HTTP/1.1 200 OK\r\n", 17), 0);
    ck_assert_int_eq(response_set_status(&r, "404", 3), 0);
    ck_assert_int_eq(memcmp(r.head_inline, "HTTP/1.1 404 Not Found\r\n", 24), 0);
    response_free(&r);
}
END_TEST

START_TEST(test_status_valid)
{
    const struct bytes *b = &good_statuses[_i];
    struct response r;
    char line[64];
    response_init(&r, -1, 0, false);
    ck_assert_int_eq(response_set_status(&r, b->s, b->len), 0);
    ck_assert_int_eq(r.status, (b->s[0] - '0') * 100 + (b->s[1] - '0') * 10 + (b->s[2] - '0'));
    int n = snprintf(line, sizeof line, "HTTP/1.0 %.*s\r\n", (int)b->len, b->s);
    ck_assert_uint_eq(r.status_len, (size_t)n);
    ck_assert_int_eq(memcmp(r.head_inline, line, (size_t)n), 0);
    response_free(&r);
}
END_TEST

struct bad_field {
    struct bytes name;
    struct bytes value;
    bool after_length; /* "Content-Length: 5" was added first */
};

static const struct bad_field bad_fields[] = {
    {B(""), B("x"), false},
    {B("X Y"), B("x"), false},
    {B("X:Y"), B("x"), false},
    {B("X\rY"), B("x"), false},
    {B("X\nY"), B("x"), false},
    {B("X\0Y"), B("x"), false},
    {B("X(Y)"), B("x"), false},
    {B("X\"Y"), B("x"), false},
    {B("Caf\xc3\xa9"), B("x"), false},
    {B("X-A "), B("x"), false},
    {B("X-A"), B("a\rb"), false},
    {B("X-A"), B("a\nb"), false},
    {B("X-A"), B("a\r\nX-Evil: 1"), false},
    {B("X-A"), B("a\0b"), false},
    {B("X-A"), B("a\x01b"), false},
    {B("X-A"), B("a\x1f"), false},
    {B("X-A"), B("a\x7f"), false},
    {B("Content-Length"), B(""), false},
    {B("Content-Length"), B("abc"), false},
    {B("Content-Length"), B("-1"), false},
    {B("Content-Length"), B("+5"), false},
    {B("Content-Length"), B("1 2"), false},
    {B("Content-Length"), B("0x10"), false},
    {B("Content-Length"), B("1.0"), false},
    {B("Content-Length"), B("5,5"), false},
    {B("Content-Length"), B("9223372036854775808"), false},
    {B("Content-Length"), B("99999999999999999999999"), false},
    {B("content-length"), B("6"), true}, /* differs from the 5 already there */
    {B("Content-Length"), B("x"), true},
};

START_TEST(test_field_invalid)
{
    const struct bad_field *f = &bad_fields[_i];
    struct response r;
    response_init(&r, -1, 1, false);
    ck_assert_int_eq(response_set_status(&r, "200 OK", 6), 0);
    if (f->after_length)
        ck_assert_int_eq(response_add_header(&r, "Content-Length", 14, "5", 1), 0);
    size_t head_len = r.head_len;
    errno = 0;
    ck_assert_msg(response_add_header(&r, f->name.s, f->name.len, f->value.s, f->value.len) == -1,
                  "field row %d accepted", _i);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_uint_eq(r.head_len, head_len);
    ck_assert(r.has_content_length == f->after_length);
    ck_assert_uint_eq(r.content_length, f->after_length ? 5 : 0);
    response_free(&r);
}
END_TEST

START_TEST(test_content_length_bounds)
{
    struct response r;
    response_init(&r, -1, 1, false);
    ck_assert_int_eq(response_set_status(&r, "200 OK", 6), 0);
    ck_assert_int_eq(response_add_header(&r, "Content-Length", 14, "9223372036854775807", 19), 0);
    ck_assert_uint_eq(r.content_length, INT64_MAX);
    ck_assert_int_eq(response_set_status(&r, "200 OK", 6), 0);
    ck_assert_int_eq(response_add_header(&r, "Content-Length", 14, "007", 3), 0);
    ck_assert_uint_eq(r.content_length, 7);
    response_free(&r);
}
END_TEST

START_TEST(test_call_order)
{
    struct response r;
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    response_init(&r, sv[0], 1, false);
    errno = 0;
    ck_assert_int_eq(response_add_header(&r, "X-A", 3, "1", 1), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(response_write(&r, "x", 1), -1);
    ck_assert_int_eq(response_finish(&r), -1);
    ck_assert_int_eq(response_set_status(&r, "200 OK", 6), 0);
    /* PEP 3333: an empty block does not push the head out; a later 500 is still possible. */
    ck_assert_int_eq(response_write(&r, "", 0), 0);
    ck_assert(!r.headers_sent);
    ck_assert_int_eq(response_sendfile(&r, -1, 0, 0), 0);
    ck_assert(!r.headers_sent);
    ck_assert_int_eq(response_write(&r, "x", 1), 0);
    ck_assert(r.headers_sent);
    errno = 0;
    ck_assert_int_eq(response_set_status(&r, "500 Oops", 8), -1);
    ck_assert_int_eq(errno, EALREADY);
    errno = 0;
    ck_assert_int_eq(response_add_header(&r, "X-A", 3, "1", 1), -1);
    ck_assert_int_eq(errno, EALREADY);
    ck_assert_int_eq(response_finish(&r), 0);
    errno = 0;
    ck_assert_int_eq(response_write(&r, "x", 1), -1);
    ck_assert_int_eq(errno, EALREADY);
    /* A second finish sends nothing more. */
    ck_assert_int_eq(response_finish(&r), 0);
    close(sv[0]);
    char buf[512];
    ssize_t n = read(sv[1], buf, sizeof buf - 1);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    const char *body = strstr(buf, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    ck_assert_str_eq(body + 4, "1\r\nx\r\n0\r\n\r\n");
    ck_assert_int_eq(read(sv[1], buf, sizeof buf), 0);
    close(sv[1]);
    response_free(&r);
    response_free(&r);
}
END_TEST

START_TEST(test_status_again_forgets_headers)
{
    struct wire w;
    struct response r;
    struct reply rep;
    wire_open(&w, 0);
    response_init(&r, w.fds[0], 1, false);
    ck_assert_int_eq(response_set_status(&r, "200 OK", 6), 0);
    ck_assert_int_eq(response_add_header(&r, "X-Old", 5, "1", 1), 0);
    ck_assert_int_eq(response_add_header(&r, "Content-Length", 14, "5", 1), 0);
    ck_assert_int_eq(response_set_status(&r, "500 Internal Server Error", 25), 0);
    ck_assert(!r.has_content_length);
    ck_assert_int_eq(response_add_header(&r, "X-New", 5, "2", 1), 0);
    ck_assert_int_eq(response_write(&r, "oops", 4), 0);
    ck_assert_int_eq(response_finish(&r), 0);
    wire_close(&w);
    reply_parse(&w, &rep);
    ck_assert_str_eq(rep.head, "HTTP/1.1 500 Internal Server Error\r\nServer: greenhorn\r\nDate: "
                               "<date>\r\nConnection: close\r\n" CHUNKED "X-New: 2\r\n");
    ck_assert_str_eq(rep.body, "4\r\noops\r\n0\r\n\r\n");
    free(rep.head);
    response_free(&r);
    wire_free(&w);
}
END_TEST

START_TEST(test_head_beyond_inline)
{
    struct wire w;
    struct response r;
    struct reply rep;
    char expect[8192] = HEAD11 CHUNKED;
    char name[32];
    char value[81];
    memset(value, 'v', 80);
    value[80] = '\0';
    wire_open(&w, 0);
    response_init(&r, w.fds[0], 1, false);
    ck_assert_int_eq(response_set_status(&r, "200 OK", 6), 0);
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "X-Long-%02d", i);
        ck_assert_int_eq(response_add_header(&r, name, strlen(name), value, 80), 0);
        size_t at = strlen(expect);
        snprintf(expect + at, sizeof expect - at, "%s: %s\r\n", name, value);
    }
    ck_assert_ptr_nonnull(r.head);
    ck_assert_uint_gt(r.head_len, RESPONSE_HEAD_INLINE);
    ck_assert_int_eq(response_write(&r, "x", 1), 0);
    ck_assert_int_eq(response_finish(&r), 0);
    wire_close(&w);
    reply_parse(&w, &rep);
    ck_assert_str_eq(rep.head, expect);
    ck_assert_str_eq(rep.body, "1\r\nx\r\n0\r\n\r\n");
    free(rep.head);
    response_free(&r);
    ck_assert_ptr_null(r.head);
    wire_free(&w);
}
END_TEST

/* ---- big bodies, signals, partial sends ------------------------------- */

static timer_t alarm_timer;
static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    static const struct itimerspec off = {{0, 0}, {0, 0}};
    (void)sig;
    /* Bounded, so a slow run (valgrind) cannot spend all its time in here. */
    if (++alarms >= 200)
        timer_settime(alarm_timer, 0, &off, NULL);
}

/*
 * A 4 MiB body against a slow reader while SIGALRM fires every millisecond
 * (up to 200 times) without SA_RESTART: sendmsg returns EINTR or a short
 * count again and again, and every byte must still arrive once, in order.
 */
START_TEST(test_write_survives_signals)
{
    enum { BIG = 4 * 1024 * 1024 };
    struct wire w;
    struct response r;
    struct reply rep;
    struct sigaction sa;
    struct sigaction saved;
    struct sigevent sev;
    struct itimerspec tick = {{0, 1000000}, {0, 1000000}};
    struct itimerspec off = {{0, 0}, {0, 0}};
    char *body = malloc(BIG);
    char *decoded = malloc(BIG);
    size_t sizes[4];
    size_t nsizes;
    ck_assert_ptr_nonnull(body);
    ck_assert_ptr_nonnull(decoded);
    for (size_t i = 0; i < BIG; i++)
        body[i] = (char)('a' + i % 23);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    ck_assert_int_eq(sigaction(SIGALRM, &sa, &saved), 0);
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGALRM;
    ck_assert_int_eq(timer_create(CLOCK_MONOTONIC, &sev, &alarm_timer), 0);
    alarms = 0;
    wire_open(&w, 200);
    response_init(&r, w.fds[0], 1, false);
    ck_assert_int_eq(response_set_status(&r, "200 OK", 6), 0);
    ck_assert_int_eq(timer_settime(alarm_timer, 0, &tick, NULL), 0);
    int written = response_write(&r, body, BIG);
    int finished = response_finish(&r);
    ck_assert_int_eq(timer_settime(alarm_timer, 0, &off, NULL), 0);
    ck_assert_int_eq(timer_delete(alarm_timer), 0);
    ck_assert_int_eq(sigaction(SIGALRM, &saved, NULL), 0);
    ck_assert_int_gt(alarms, 0);
    ck_assert_int_eq(written, 0);
    ck_assert_int_eq(finished, 0);
    wire_close(&w);
    reply_parse(&w, &rep);
    ck_assert_int_eq(dechunk(rep.body, rep.body_len, decoded, sizes, 4, &nsizes), BIG);
    ck_assert_uint_eq(nsizes, 1);
    ck_assert_int_eq(memcmp(decoded, body, BIG), 0);
    free(rep.head);
    response_free(&r);
    wire_free(&w);
    free(decoded);
    free(body);
}
END_TEST

/* The peer is gone and SIGPIPE is at its default action (terminate). */
START_TEST(test_write_to_closed_peer)
{
    struct response r;
    int sv[2];
    sigset_t pending;
    void (*saved)(int) = signal(SIGPIPE, SIG_DFL);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    response_init(&r, sv[0], 1, false);
    ck_assert_int_eq(response_set_status(&r, "200 OK", 6), 0);
    errno = 0;
    ck_assert_int_eq(response_write(&r, "hello", 5), -1);
    ck_assert_int_eq(errno, EPIPE);
    ck_assert(r.headers_sent);
    errno = 0;
    ck_assert_int_eq(response_send_error(sv[0], 1, 500, "x"), -1);
    ck_assert_int_eq(errno, EPIPE);
    ck_assert_int_eq(sigpending(&pending), 0);
    ck_assert(!sigismember(&pending, SIGPIPE));
    close(sv[0]);
    response_free(&r);
    signal(SIGPIPE, saved);
}
END_TEST

/* ---- files ------------------------------------------------------------ */

/* A temporary file holding len patterned bytes; the pattern is copied to *data. */
static FILE *temp_file(size_t len, char **data)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    *data = malloc(len + 1);
    ck_assert_ptr_nonnull(*data);
    for (size_t i = 0; i < len; i++)
        (*data)[i] = (char)(i * 7 % 251);
    ck_assert_uint_eq(fwrite(*data, 1, len, f), len);
    ck_assert_int_eq(fflush(f), 0);
    return f;
}

struct file_case {
    const char *name;
    int minor;
    bool head_request;
    const char *length; /* app Content-Length, or NULL */
    size_t file_len;
    off_t offset;
    uint64_t count;
    size_t expect_from; /* expected body: file bytes [from, from + len) */
    size_t expect_len;
    bool chunked;
    size_t chunk_sizes[4];
    int expect_finish;
};

static const struct file_case file_cases[] = {
    {"Content-Length framed", 1, false, "100000", 100000, 0, 100000, 0, 100000, false, {0}, 0},
    {"offset, truncated to Content-Length",
     1,
     false,
     "1000",
     100000,
     10,
     5000,
     10,
     1000,
     false,
     {0},
     0},
    {"file shorter than Content-Length",
     1,
     false,
     "200000",
     100000,
     0,
     200000,
     0,
     100000,
     false,
     {0},
     1},
    {"HTTP/1.0 close-delimited", 0, false, NULL, 70000, 0, 70000, 0, 70000, false, {0}, 0},
    {"HEAD: no body", 1, true, "100000", 100000, 0, 100000, 0, 0, false, {0}, 0},
    {"chunked in 64 KiB blocks",
     1,
     false,
     NULL,
     150000,
     0,
     150000,
     0,
     150000,
     true,
     {65536, 65536, 18928},
     0},
    {"chunked, file ends early", 1, false, NULL, 1000, 100, 5000, 100, 900, true, {900}, 0},
};

START_TEST(test_sendfile)
{
    const struct file_case *c = &file_cases[_i];
    struct wire w;
    struct response r;
    struct reply rep;
    char *data = NULL;
    FILE *f = temp_file(c->file_len, &data);
    off_t pos = lseek(fileno(f), 0, SEEK_CUR);
    wire_open(&w, 0);
    response_init(&r, w.fds[0], c->minor, c->head_request);
    ck_assert_int_eq(response_set_status(&r, "200 OK", 6), 0);
    if (c->length != NULL)
        ck_assert_int_eq(
            response_add_header(&r, "Content-Length", 14, c->length, strlen(c->length)), 0);
    ck_assert_int_eq(response_sendfile(&r, fileno(f), c->offset, c->count), 0);
    ck_assert_msg(response_finish(&r) == c->expect_finish, "%s: finish", c->name);
    wire_close(&w);
    ck_assert_int_eq(lseek(fileno(f), 0, SEEK_CUR), pos);
    reply_parse(&w, &rep);
    ck_assert(r.chunked == c->chunked);
    ck_assert((strstr(rep.head, CHUNKED) != NULL) == c->chunked);
    if (c->chunked) {
        char *decoded = malloc(c->file_len);
        size_t sizes[8];
        size_t nsizes = 0;
        ck_assert_ptr_nonnull(decoded);
        long n = dechunk(rep.body, rep.body_len, decoded, sizes, 8, &nsizes);
        ck_assert_int_eq(n, (long)c->expect_len);
        ck_assert_int_eq(memcmp(decoded, data + c->expect_from, c->expect_len), 0);
        for (size_t i = 0; i < nsizes; i++)
            ck_assert_uint_eq(sizes[i], c->chunk_sizes[i]);
        ck_assert_uint_eq(nsizes < 4 ? c->chunk_sizes[nsizes] : 0, 0);
        free(decoded);
    } else {
        ck_assert_uint_eq(rep.body_len, c->expect_len);
        ck_assert_int_eq(memcmp(rep.body, data + c->expect_from, c->expect_len), 0);
    }
    free(rep.head);
    response_free(&r);
    wire_free(&w);
    free(data);
    fclose(f);
}
END_TEST

/*
 * sendfile(2) has no MSG_NOSIGNAL: with SIGPIPE at its default action, a
 * peer that left after the head must give EPIPE, not end this process, and
 * leave neither a pending SIGPIPE nor a changed signal mask behind.
 */
START_TEST(test_sendfile_to_closed_peer)
{
    struct response r;
    int sv[2];
    char buf[4096];
    char *data = NULL;
    sigset_t pending;
    sigset_t mask;
    FILE *f = temp_file(1 << 20, &data);
    void (*saved)(int) = signal(SIGPIPE, SIG_DFL);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    response_init(&r, sv[0], 0, false);
    ck_assert_int_eq(response_set_status(&r, "200 OK", 6), 0);
    ck_assert_int_eq(response_write(&r, "x", 1), 0);
    ck_assert_int_gt(read(sv[1], buf, sizeof buf), 0);
    close(sv[1]);
    errno = 0;
    ck_assert_int_eq(response_sendfile(&r, fileno(f), 0, 1 << 20), -1);
    ck_assert_int_eq(errno, EPIPE);
    ck_assert_int_eq(sigpending(&pending), 0);
    ck_assert(!sigismember(&pending, SIGPIPE));
    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, NULL, &mask), 0);
    ck_assert(!sigismember(&mask, SIGPIPE));
    close(sv[0]);
    response_free(&r);
    signal(SIGPIPE, saved);
    free(data);
    fclose(f);
}
END_TEST

/* ---- canned errors, reasons, dates ------------------------------------ */

START_TEST(test_send_error_escapes)
{
    struct wire w;
    struct reply rep;
    static const char page[] =
        "<html><head><title>Bad Request</title></head><body><h1><p>Bad Request</p></h1>"
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;q&quot;</body></html>";
    char expect[512];
    wire_open(&w, 0);
    ck_assert_int_eq(response_send_error(w.fds[0], 0, 400, "<script>alert('x')</script> & \"q\""),
                     0);
    wire_close(&w);
    reply_parse(&w, &rep);
    snprintf(expect, sizeof expect,
             "HTTP/1.0 400 Bad Request\r\nServer: greenhorn\r\nDate: <date>\r\nConnection: "
             "close\r\nContent-Type: text/html\r\nContent-Length: %zu\r\n",
             sizeof page - 1);
    ck_assert_str_eq(rep.head, expect);
    ck_assert_str_eq(rep.body, page);
    free(rep.head);
    wire_free(&w);
}
END_TEST

START_TEST(test_send_error_long_reason)
{
    struct wire w;
    struct reply rep;
    char reason[2001];
    char expect[64];
    for (size_t i = 0; i < 2000; i++)
        reason[i] = i % 2 ? '<' : 'a';
    reason[2000] = '\0';
    wire_open(&w, 0);
    ck_assert_int_eq(response_send_error(w.fds[0], 1, 431, reason), 0);
    wire_close(&w);
    reply_parse(&w, &rep);
    ck_assert(strncmp(rep.head, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46) == 0);
    snprintf(expect, sizeof expect, "Content-Length: %zu\r\n", rep.body_len);
    ck_assert_ptr_nonnull(strstr(rep.head, expect));
    /* The fixed markup is 70 bytes, the title 31 twice, each '<' becomes "&lt;". */
    ck_assert_uint_eq(rep.body_len, 70 + 2 * 31 + 1000 * (1 + 4));
    ck_assert_ptr_null(strstr(rep.body, "a<"));
    ck_assert_ptr_nonnull(strstr(rep.body, "a&lt;a&lt;"));
    free(rep.head);
    wire_free(&w);
}
END_TEST

START_TEST(test_send_error_invalid)
{
    struct wire w;
    wire_open(&w, 0);
    errno = 0;
    ck_assert_int_eq(response_send_error(w.fds[0], 1, 42, "x"), -1);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(response_send_error(w.fds[0], 1, 404, NULL), 0);
    wire_close(&w);
    ck_assert(strncmp(w.buf, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    ck_assert_ptr_nonnull(strstr(w.buf, "<h1><p>Not Found</p></h1></body></html>"));
    wire_free(&w);
}
END_TEST

static const struct {
    int status;
    const char *reason;
} reason_rows[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {204, "No Content"},
    {304, "Not Modified"},
    {306, "Redirection"},
    {400, "Bad Request"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {417, "Expectation Failed"},
    {418, "Client Error"},
    {431, "Request Header Fields Too Large"},
    {432, "Client Error"},
    {499, "Client Error"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {505, "HTTP Version Not Supported"},
    {599, "Server Error"},
    {299, "Successful"},
    {199, "Informational"},
    {600, "Unknown"},
    {99, "Unknown"},
    {-1, "Unknown"},
};

START_TEST(test_reason)
{
    ck_assert_str_eq(response_reason(reason_rows[_i].status), reason_rows[_i].reason);
}
END_TEST

START_TEST(test_date)
{
    char out[RESPONSE_DATE_LEN + 1];
    const char *now = response_date();
    ck_assert_uint_eq(strlen(now), RESPONSE_DATE_LEN);
    ck_assert_str_eq(now + RESPONSE_DATE_LEN - 4, " GMT");
    ck_assert_int_eq(now[3], ',');
    ck_assert_int_eq(now[19], ':');
    /* A buffer this file owns: callers copy it, never free it. */
    ck_assert_ptr_eq(response_date(), now);
    ck_assert_int_eq(response_format_date(784111777, out), 0);
    ck_assert_str_eq(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    ck_assert_int_eq(response_format_date(0, out), 0);
    ck_assert_str_eq(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    ck_assert_int_eq(response_format_date(951782400, out), 0);
    ck_assert_str_eq(out, "Tue, 29 Feb 2000 00:00:00 GMT");
    errno = 0;
    ck_assert_int_eq(response_format_date((time_t)253402300800LL, out), -1);
    ck_assert_int_eq(errno, EOVERFLOW);
}
END_TEST

static Suite *response_suite(void)
{
    Suite *s = suite_create("response");
    TCase *wire = tcase_create("wire");
    TCase *valid = tcase_create("validation");
    TCase *files = tcase_create("files");
    TCase *misc = tcase_create("errors and dates");
    tcase_set_timeout(wire, 60);
    tcase_set_timeout(files, 60);
    tcase_add_loop_test(wire, test_scenarios, 0, sizeof scenarios / sizeof scenarios[0]);
    tcase_add_test(wire, test_upgrade_flag);
    tcase_add_test(wire, test_call_order);
    tcase_add_test(wire, test_status_again_forgets_headers);
    tcase_add_test(wire, test_head_beyond_inline);
    tcase_add_test(wire, test_write_survives_signals);
    tcase_add_test(wire, test_write_to_closed_peer);
    tcase_add_loop_test(valid, test_status_invalid, 0,
                        sizeof bad_statuses / sizeof bad_statuses[0]);
    tcase_add_loop_test(valid, test_status_valid, 0,
                        sizeof good_statuses / sizeof good_statuses[0]);
    tcase_add_test(valid, test_status_bare_code_gets_reason);
    tcase_add_loop_test(valid, test_field_invalid, 0, sizeof bad_fields / sizeof bad_fields[0]);
    tcase_add_test(valid, test_content_length_bounds);
    tcase_add_loop_test(files, test_sendfile, 0, sizeof file_cases / sizeof file_cases[0]);
    tcase_add_test(files, test_sendfile_to_closed_peer);
    tcase_add_test(misc, test_send_error_escapes);
    tcase_add_test(misc, test_send_error_long_reason);
    tcase_add_test(misc, test_send_error_invalid);
    tcase_add_loop_test(misc, test_reason, 0, sizeof reason_rows / sizeof reason_rows[0]);
    tcase_add_test(misc, test_date);
    suite_add_tcase(s, wire);
    suite_add_tcase(s, valid);
    suite_add_tcase(s, files);
    suite_add_tcase(s, misc);
    return s;
}

int main(void)
{
    return unit_run(response_suite());
}
