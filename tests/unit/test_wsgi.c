/*
 * test_wsgi.c - stages 6 and 7: environ, wsgi.input and the app call.
 *
 * The interpreter starts once (wsgi_init, as a worker does).  Each test
 * builds a struct conn and a struct request by hand, with a socketpair
 * standing in for the client: the test writes request bytes into one end
 * and reads the response from it, while the code under test uses the
 * other end.
 */
#include "unit.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bind.h"
#include "config.h"
#include "conn.h"
#include "environ.h"
#include "hooks.h"
#include "http.h"
#include "input.h"
#include "access_log.h"
#include "log.h"
#include "request.h"
#include "response.h"
#include "wsgi.h"

static struct config cfg;
static struct listener listener;
static struct http_options opts;

/* A client end, a conn, and a request whose head is parsed from `raw`
 * (already "read"), ready for environ_build. */
struct fixture {
    int client;
    struct conn c;
    struct request r;
};

static void fixture_open(struct fixture *f, const char *raw, size_t len)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    memset(f, 0, sizeof(*f));
    f->client = sv[0];
    struct conn *c = &f->c;
    c->fd = sv[1];
    c->listener = &listener;
    c->family = AF_INET;
    strcpy(c->peer_addr, "127.0.0.1");
    strcpy(c->peer_port, "50000");
    struct request *r = &f->r;
    ck_assert_int_eq(request_init(r, 100, 65536), 0);
    request_reset(r, c, &opts, 0, 2000);
    ck_assert_int_eq(request_head_reserve(r, len), 0);
    memcpy(r->head, raw, len);
    r->head_read = len;
    int n = http_parse_request(r->head, r->head_read, &opts, &r->http);
    ck_assert_int_gt(n, 0);
    r->head_len = (size_t)n;
    ck_assert_int_eq(input_body_begin(r), 0);
    bool is_head = strncmp(raw, "HEAD ", 5) == 0;
    response_init(&r->resp, c->fd, r->http.version_minor, is_head);
    ck_assert_int_eq(wsgi_request_init(r), 0);
}

static void fixture_close(struct fixture *f)
{
    wsgi_request_free(&f->r);
    request_free(&f->r);
    close(f->client);
    if (f->c.fd >= 0)
        close(f->c.fd);
}

/* environ[key] as a C string (borrowed from the dict); NULL if absent. */
static const char *env_str(PyObject *env, const char *key)
{
    PyObject *v = PyDict_GetItemString(env, key);
    return v && PyUnicode_Check(v) ? PyUnicode_AsUTF8(v) : NULL;
}

/* Call a method of wsgi.input and return the result (new reference). */
static PyObject *call_input(PyObject *env, const char *method, const char *fmt, long arg)
{
    PyObject *in = PyDict_GetItemString(env, "wsgi.input");
    ck_assert_ptr_nonnull(in);
    return fmt ? PyObject_CallMethod(in, method, fmt, arg) : PyObject_CallMethod(in, method, NULL);
}

static void assert_bytes(PyObject *b, const char *want)
{
    ck_assert_ptr_nonnull(b);
    ck_assert(PyBytes_Check(b));
    ck_assert_uint_eq((size_t)PyBytes_GET_SIZE(b), strlen(want));
    ck_assert(memcmp(PyBytes_AS_STRING(b), want, strlen(want)) == 0);
    Py_DECREF(b);
}

START_TEST(environ_keys)
{
    static const char raw[] = "GET /a%20b/%41?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\n"
                              "Accept: a\r\nAccept: b\r\nContent-Type: text/plain\r\n"
                              "X-Custom-Thing: yes\r\n\r\n";
    struct fixture f;
    fixture_open(&f, raw, sizeof(raw) - 1);
    PyObject *env = environ_build(&f.r);
    ck_assert_ptr_nonnull(env);
    ck_assert_str_eq(env_str(env, "REQUEST_METHOD"), "GET");
    ck_assert_str_eq(env_str(env, "PATH_INFO"), "/a b/A");
    ck_assert_str_eq(env_str(env, "QUERY_STRING"), "x=1&y=%20");
    ck_assert_str_eq(env_str(env, "RAW_URI"), "/a%20b/%41?x=1&y=%20");
    ck_assert_str_eq(env_str(env, "SERVER_PROTOCOL"), "HTTP/1.1");
    ck_assert_str_eq(env_str(env, "HTTP_HOST"), "example.com");
    ck_assert_str_eq(env_str(env, "HTTP_ACCEPT"), "a,b");
    ck_assert_str_eq(env_str(env, "CONTENT_TYPE"), "text/plain");
    ck_assert_ptr_null(PyDict_GetItemString(env, "HTTP_CONTENT_TYPE"));
    ck_assert_str_eq(env_str(env, "HTTP_X_CUSTOM_THING"), "yes");
    ck_assert_str_eq(env_str(env, "REMOTE_ADDR"), "127.0.0.1");
    ck_assert_str_eq(env_str(env, "REMOTE_PORT"), "50000");
    ck_assert_str_eq(env_str(env, "SERVER_NAME"), "127.0.0.1");
    ck_assert_str_eq(env_str(env, "SERVER_PORT"), "8000");
    ck_assert_str_eq(env_str(env, "SCRIPT_NAME"), "");
    ck_assert_str_eq(env_str(env, "wsgi.url_scheme"), "http");
    ck_assert_str_eq(env_str(env, "SERVER_SOFTWARE"), "greenhorn/" CONFIG_VERSION);
    ck_assert(PyDict_GetItemString(env, "wsgi.input_terminated") == Py_True);
    ck_assert(PyDict_GetItemString(env, "wsgi.multithread") == Py_False);
    ck_assert_ptr_nonnull(PyDict_GetItemString(env, "wsgi.file_wrapper"));
    ck_assert_ptr_nonnull(PyDict_GetItemString(env, "wsgi.errors"));
    Py_DECREF(env);
    fixture_close(&f);
}
END_TEST

START_TEST(path_info_latin1_and_bad_escapes)
{
    static const char raw[] = "GET /caf%C3%A9/%zz/%4 HTTP/1.0\r\n\r\n";
    struct fixture f;
    fixture_open(&f, raw, sizeof(raw) - 1);
    PyObject *env = environ_build(&f.r);
    ck_assert_ptr_nonnull(env);
    /* decoded once, as latin-1: the two UTF-8 bytes become two characters */
    ck_assert_str_eq(env_str(env, "PATH_INFO"), "/caf\xc3\x83\xc2\xa9/%zz/%4");
    ck_assert_str_eq(env_str(env, "SERVER_PROTOCOL"), "HTTP/1.0");
    Py_DECREF(env);
    fixture_close(&f);
}
END_TEST

START_TEST(input_reads_buffered_then_socket)
{
    static const char raw[] = "POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\nline1\nli";
    struct fixture f;
    fixture_open(&f, raw, sizeof(raw) - 1);
    ck_assert_int_eq(write(f.client, "ne2\nrest!", 9), 9);
    PyObject *env = environ_build(&f.r);
    assert_bytes(call_input(env, "readline", NULL, 0), "line1\n");
    assert_bytes(call_input(env, "readline", "l", 3), "lin");
    assert_bytes(call_input(env, "readline", NULL, 0), "e2\n");
    assert_bytes(call_input(env, "read", "l", 2), "re");
    assert_bytes(call_input(env, "read", NULL, 0), "st!");
    assert_bytes(call_input(env, "read", NULL, 0), "");
    ck_assert_int_eq(f.r.body_state, BODY_NONE);
    Py_DECREF(env);
    fixture_close(&f);
}
END_TEST

START_TEST(input_never_reads_past_the_body)
{
    static const char raw[] = "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcdGET /next";
    struct fixture f;
    fixture_open(&f, raw, sizeof(raw) - 1);
    ck_assert(f.r.extra_bytes);
    PyObject *env = environ_build(&f.r);
    assert_bytes(call_input(env, "read", "l", 100), "abcd");
    assert_bytes(call_input(env, "read", NULL, 0), "");
    Py_DECREF(env);
    fixture_close(&f);
}
END_TEST

START_TEST(input_chunked_lines_and_iteration)
{
    static const char raw[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab\nc\r\n";
    struct fixture f;
    fixture_open(&f, raw, sizeof(raw) - 1);
    static const char more[] = "3\r\nd\nx\r\n0\r\n\r\n";
    ck_assert_int_eq(write(f.client, more, sizeof(more) - 1), (ssize_t)sizeof(more) - 1);
    PyObject *env = environ_build(&f.r);
    PyObject *lines = call_input(env, "readlines", NULL, 0);
    ck_assert_ptr_nonnull(lines);
    ck_assert_int_eq(PyList_GET_SIZE(lines), 3);
    ck_assert_str_eq(PyBytes_AS_STRING(PyList_GET_ITEM(lines, 0)), "ab\n");
    ck_assert_str_eq(PyBytes_AS_STRING(PyList_GET_ITEM(lines, 1)), "cd\n");
    ck_assert_str_eq(PyBytes_AS_STRING(PyList_GET_ITEM(lines, 2)), "x");
    Py_DECREF(lines);
    Py_DECREF(env);
    fixture_close(&f);
}
END_TEST

START_TEST(input_timeout_and_early_close)
{
    static const char raw[] = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc";
    struct fixture f;
    fixture_open(&f, raw, sizeof(raw) - 1);
    f.r.body_timeout_ms = 50;
    PyObject *env = environ_build(&f.r);
    PyObject *r = call_input(env, "read", NULL, 0);
    ck_assert_ptr_null(r);
    ck_assert(PyErr_ExceptionMatches(PyExc_OSError));
    PyErr_Clear();
    ck_assert_int_eq(f.r.error_status, 408);
    Py_DECREF(env);
    fixture_close(&f);

    fixture_open(&f, raw, sizeof(raw) - 1);
    shutdown(f.client, SHUT_WR);
    env = environ_build(&f.r);
    ck_assert_ptr_null(call_input(env, "read", "l", 10));
    PyErr_Clear();
    ck_assert_int_eq(f.r.error_status, 400);
    Py_DECREF(env);
    fixture_close(&f);
}
END_TEST

START_TEST(input_sends_100_continue_on_first_read)
{
    static const char raw[] =
        "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    struct fixture f;
    fixture_open(&f, raw, sizeof(raw) - 1);
    ck_assert(f.r.expect_continue);
    ck_assert_int_eq(write(f.client, "hi", 2), 2);
    PyObject *env = environ_build(&f.r);
    assert_bytes(call_input(env, "read", NULL, 0), "hi");
    char got[64] = {0};
    ck_assert_int_gt(read(f.client, got, sizeof(got) - 1), 0);
    ck_assert_str_eq(got, "HTTP/1.1 100 Continue\r\n\r\n");
    Py_DECREF(env);
    fixture_close(&f);
}
END_TEST

START_TEST(input_detached_after_request)
{
    static const char raw[] = "GET / HTTP/1.1\r\n\r\n";
    struct fixture f;
    fixture_open(&f, raw, sizeof(raw) - 1);
    PyObject *env = environ_build(&f.r);
    input_detach(&f.r);
    ck_assert_ptr_null(call_input(env, "read", NULL, 0));
    ck_assert(PyErr_ExceptionMatches(PyExc_ValueError));
    PyErr_Clear();
    Py_DECREF(env);
    fixture_close(&f);
}
END_TEST

/* Call a Python callable with one argument built from fmt; the result (new). */
static PyObject *call1(PyObject *fn, const char *fmt, const char *arg)
{
    PyObject *r = PyObject_CallFunction(fn, fmt, arg);
    ck_assert_msg(r != NULL, "call failed");
    return r;
}

/* Everything the client end of f received, after the server end closed. */
static const char *received(struct fixture *f, char *out, size_t cap)
{
    ssize_t n, total = 0;
    conn_close(&f->c, false);
    while ((n = read(f->client, out + total, cap - 1 - (size_t)total)) > 0)
        total += n;
    out[total] = '\0';
    return out;
}

/* Two requests in flight in one process, as in a threaded worker: their
 * start_response, write() and wsgi.input calls interleave, and each
 * response and each body stays with its own request. */
START_TEST(two_requests_in_flight)
{
    static const char raw_a[] = "POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nAAA";
    static const char raw_b[] = "POST /b HTTP/1.0\r\nContent-Length: 4\r\n\r\nBBBB";
    char out_a[4096], out_b[4096];
    struct fixture a, b;
    fixture_open(&a, raw_a, sizeof(raw_a) - 1);
    fixture_open(&b, raw_b, sizeof(raw_b) - 1);
    ck_assert_ptr_ne(a.r.start_response, b.r.start_response);
    ck_assert_ptr_nonnull(a.r.environ = environ_build(&a.r));
    ck_assert_ptr_nonnull(b.r.environ = environ_build(&b.r));

    PyObject *wa = PyObject_CallFunction(a.r.start_response, "s[(ss)]", "200 OK", "X-Who", "a");
    PyObject *wb =
        PyObject_CallFunction(b.r.start_response, "s[(ss)]", "201 Created", "X-Who", "b");
    ck_assert_ptr_nonnull(wa);
    ck_assert_ptr_nonnull(wb);
    ck_assert_ptr_ne(wa, wb);
    assert_bytes(call_input(b.r.environ, "read", NULL, 0), "BBBB");
    Py_DECREF(call1(wb, "y", "b1"));
    Py_DECREF(call1(wa, "y", "a1"));
    assert_bytes(call_input(a.r.environ, "read", NULL, 0), "AAA");
    /* A second start_response is an error for a alone; b goes on. */
    ck_assert_ptr_null(PyObject_CallFunction(a.r.start_response, "s[]", "500 Oops"));
    ck_assert(PyErr_ExceptionMatches(PyExc_AssertionError));
    PyErr_Clear();
    Py_DECREF(call1(wb, "y", "b2"));
    Py_DECREF(call1(wa, "y", "a2"));
    ck_assert_int_eq(response_finish(&a.r.resp), 0);
    ck_assert_int_eq(response_finish(&b.r.resp), 0);
    ck_assert_int_eq(a.r.resp.status, 200);
    ck_assert_int_eq(b.r.resp.status, 201);
    ck_assert_int_eq((int)a.r.resp.body_sent, 4);
    ck_assert_int_eq((int)b.r.resp.body_sent, 4);

    received(&a, out_a, sizeof(out_a));
    received(&b, out_b, sizeof(out_b));
    ck_assert_msg(strncmp(out_a, "HTTP/1.1 200 OK\r\n", 17) == 0, "a got: %s", out_a);
    ck_assert_msg(strstr(out_a, "X-Who: a\r\n") && !strstr(out_a, "X-Who: b"), "a got: %s", out_a);
    ck_assert_msg(strstr(out_a, "\r\n\r\n2\r\na1\r\n2\r\na2\r\n0\r\n\r\n"), "a got: %s", out_a);
    ck_assert_msg(strncmp(out_b, "HTTP/1.0 201 Created\r\n", 22) == 0, "b got: %s", out_b);
    ck_assert_msg(strstr(out_b, "X-Who: b\r\n") && !strstr(out_b, "X-Who: a"), "b got: %s", out_b);
    ck_assert_msg(strstr(out_b, "\r\n\r\nb1b2") != NULL, "b got: %s", out_b);
    Py_DECREF(wa);
    Py_DECREF(wb);
    wsgi_request_end(&a.r);
    wsgi_request_end(&b.r);
    fixture_close(&a);
    fixture_close(&b);
}
END_TEST

/* A trusted forwarder's SCRIPT_NAME header, then a header that maps to the
 * same environ key: the first one's value was borrowed from the dict and
 * freed by the second (a use-after-free under ASan).  As in Gunicorn's
 * create(), SCRIPT_NAME is the last SCRIPT_NAME header's value, and
 * HTTP_SCRIPT_NAME joins both. */
START_TEST(script_name_header_then_colliding_header)
{
    static const char raw[] = "GET /abc/x HTTP/1.1\r\nSCRIPT_NAME: /abc\r\n"
                              "Script-Name: /zzz\r\n\r\n";
    struct http_options trusting = opts;
    static const char *const fwd[] = {"SCRIPT_NAME", "PATH_INFO"};
    trusting.flags |= HTTP_TRUSTED_PEER;
    trusting.forwarder_headers = fwd;
    trusting.num_forwarder_headers = 2;
    struct fixture f;
    struct http_options saved = opts;
    opts = trusting;
    fixture_open(&f, raw, sizeof(raw) - 1);
    opts = saved;
    PyObject *env = environ_build(&f.r);
    ck_assert_msg(env != NULL, "environ_build failed");
    ck_assert_str_eq(env_str(env, "SCRIPT_NAME"), "/abc");
    ck_assert_str_eq(env_str(env, "PATH_INFO"), "/x");
    ck_assert_ptr_nonnull(strstr(env_str(env, "HTTP_SCRIPT_NAME"), "/abc"));
    Py_DECREF(env);
    fixture_close(&f);
}
END_TEST

START_TEST(errors_stream_writes_to_the_error_log)
{
    char path[] = "/tmp/greenhorn-test-errors-XXXXXX", err[256], got[256] = {0};
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(log_open(LOG_INFO, path, NULL, err, sizeof(err)), 0);
    static const char raw[] = "GET / HTTP/1.1\r\n\r\n";
    struct fixture f;
    fixture_open(&f, raw, sizeof(raw) - 1);
    PyObject *env = environ_build(&f.r);
    PyObject *errors = PyDict_GetItemString(env, "wsgi.errors");
    PyObject *r = PyObject_CallMethod(errors, "write", "s", "one\n");
    ck_assert_int_eq(PyLong_AsLong(r), 4);
    Py_DECREF(r);
    r = PyObject_CallMethod(errors, "writelines", "((ss))", "two\n", "three\n");
    ck_assert_ptr_eq(r, Py_None);
    Py_DECREF(r);
    r = PyObject_CallMethod(errors, "flush", NULL);
    ck_assert_ptr_eq(r, Py_None);
    Py_DECREF(r);
    ck_assert_ptr_null(PyObject_CallMethod(errors, "write", "y", "bytes"));
    ck_assert(PyErr_ExceptionMatches(PyExc_TypeError)); /* PEP 3333: a text stream */
    PyErr_Clear();
    Py_DECREF(env);
    fixture_close(&f);
    ck_assert_int_eq(read(fd, got, sizeof(got) - 1), 14);
    ck_assert_str_eq(got, "one\ntwo\nthree\n");
    close(fd);
    unlink(path);
    log_open(LOG_CRITICAL, NULL, NULL, err, sizeof(err));
}
END_TEST

/* One access-log line for entry e in format fmt (NULL: Gunicorn's default). */
static void access_line(const struct access_log_entry *e, const char *fmt, char *got, size_t len)
{
    char path[] = "/tmp/greenhorn-test-access-XXXXXX", err[256];
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(log_open(LOG_CRITICAL, NULL, path, err, sizeof(err)), 0);
    ck_assert_msg(access_log_format(fmt, 1, err, sizeof(err)) == 0, "%s", err);
    access_log_line(e);
    memset(got, 0, len);
    ck_assert_int_gt(read(fd, got, len - 1), 0);
    close(fd);
    unlink(path);
    log_open(LOG_CRITICAL, NULL, NULL, err, sizeof(err));
    access_log_format(NULL, 1, err, sizeof(err));
}

/* The access log's atoms on crafted entries: Basic-auth users in their odd
 * forms, control bytes, a decoded path, request headers, the default. */
START_TEST(access_log_atoms)
{
    static const char line[] = "GET /a%20b%0a?q=%41 HTTP/1.1";
    struct http_header fields[] = {
        {"X-Id", 4, "one", 3},
        {"Authorization", 13, "Basic YWxpY2U6c2VjcmV0", 22}, /* alice:secret */
        {"x-id", 4, "two", 3},                               /* the last one counts */
    };
    struct access_log_entry e = {
        .remote_addr = "10.0.0.7",
        .request_line = line,
        .request_line_len = sizeof line - 1,
        .status = 404,
        .body_bytes = 0,
        .method = "GET",
        .method_len = 3,
        .path = line + 4,
        .path_len = 9,
        .query = line + 14,
        .query_len = 5,
        .version_major = 1,
        .version_minor = 1,
        .duration_us = 2003004,
        .headers = fields,
        .num_headers = 3,
    };
    char got[512];

    access_line(&e, NULL, got, sizeof got);
    ck_assert_msg(strncmp(got, "10.0.0.7 - alice [", 18) == 0, "%s", got);
    ck_assert_msg(strstr(got, "] \"GET /a%20b%0a?q=%41 HTTP/1.1\" 404 0 \"-\" \"-\"\n") != NULL,
                  "%s", got);
    access_line(&e, "%(m)s|%(U)s|%(q)s|%(H)s|%({X-ID}i)s|%({nope}i)s|%(T)s|%(M)s|%(D)s|%(L)s|%%",
                got, sizeof got);
    ck_assert_str_eq(got, "GET|/a b\\x0a|q=%41|HTTP/1.1|two|-|2|2003|2003004|2.003004|%\n");

    /* response headers: any case, the last one, no space after ':', absent */
    static const char head[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                               "X-Tag: a\r\nx-tag:b\r\n";
    e.response_head = head;
    e.response_head_len = sizeof head - 1;
    access_line(&e, "%({content-type}o)s|%({X-TAG}o)s|%({x-ta}o)s|%({http/1.1 404}o)s", got,
                sizeof got);
    ck_assert_str_eq(got, "text/plain|b|-|-\n");

    /* user names: no colon, empty, padding, not base64, another scheme, control bytes */
    static const struct {
        const char *value, *user;
    } users[] = {
        {"Basic YWxpY2U=", "alice"},   {"basic Ym9i", "bob"},        {"Basic OnB3", "-"},
        {"Basic !!!!", "-"},           {"Bearer YWxpY2U6eA==", "-"}, {"Basic", "-"},
        {"Basic YQp4OnB3", "a\\x0ax"}, /* "a\nx:pw" */
    };
    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++) {
        fields[1].value = users[i].value;
        fields[1].value_len = strlen(users[i].value);
        access_line(&e, "%(u)s", got, sizeof got);
        got[strcspn(got, "\n")] = '\0';
        ck_assert_msg(strcmp(got, users[i].user) == 0, "%s: got '%s'", users[i].value, got);
    }
}
END_TEST

/* Define a module of test apps once. */
static PyObject *apps;

static PyObject *app(const char *name)
{
    PyObject *a = PyObject_GetAttrString(apps, name);
    ck_assert_ptr_nonnull(a);
    return a;
}

/* What the access log would say of a request served. */
struct outcome {
    int status;         /* status sent (0 if none) */
    int64_t body_bytes; /* body bytes sent */
};

/* Serve raw with app `name` the way the worker's serve() does (environ,
 * pre_request, the app, close, close(), post_request); return the whole
 * response text (static buffer). */
static const char *serve(const char *name, const char *raw, struct outcome *res)
{
    static char out[65536];
    struct fixture f;
    fixture_open(&f, raw, strlen(raw));
    PyObject *a = app(name);
    struct request *r = &f.r;
    if ((r->environ = environ_build(r)) != NULL && hooks_pre_request(r) == 0)
        wsgi_call_app(a, r);
    else
        wsgi_answer_error(r);
    Py_DECREF(a);
    conn_close(&f.c, false); /* as the worker does: close first, then the app's close() */
    res->status = r->resp.status;
    res->body_bytes = (int64_t)r->resp.body_sent;
    wsgi_close_result(r);
    hooks_post_request(r);
    wsgi_request_end(r);
    ssize_t n, total = 0;
    while ((n = read(f.client, out + total, sizeof(out) - 1 - (size_t)total)) > 0)
        total += n;
    out[total] = '\0';
    fixture_close(&f);
    return out;
}

START_TEST(handle_list_result)
{
    struct outcome res;
    const char *out = serve("hello", "GET / HTTP/1.1\r\n\r\n", &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_int_eq(res.body_bytes, 5);
    ck_assert(strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0);
    ck_assert_ptr_nonnull(strstr(out, "Content-Length: 5\r\n"));
    ck_assert_ptr_nonnull(strstr(out, "\r\n\r\nhello"));
}
END_TEST

START_TEST(handle_generator_is_chunked_and_closed_once)
{
    struct outcome res;
    const char *out = serve("gen", "GET / HTTP/1.1\r\n\r\n", &res);
    ck_assert_ptr_nonnull(strstr(out, "Transfer-Encoding: chunked\r\n"));
    ck_assert_ptr_nonnull(strstr(out, "\r\n\r\n1\r\na\r\n1\r\nb\r\n0\r\n\r\n"));
    PyObject *n = PyObject_GetAttrString(apps, "closed");
    ck_assert_int_eq(PyLong_AsLong(n), 1);
    Py_DECREF(n);
}
END_TEST

START_TEST(handle_exception_before_headers_is_500)
{
    struct outcome res;
    const char *out = serve("boom", "GET / HTTP/1.1\r\n\r\n", &res);
    ck_assert_int_eq(res.status, 500);
    ck_assert(strncmp(out, "HTTP/1.1 500 Internal Server Error\r\n", 36) == 0);
}
END_TEST

START_TEST(handle_exception_after_headers_keeps_partial_body)
{
    struct outcome res;
    const char *out = serve("boom_late", "GET / HTTP/1.1\r\n\r\n", &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_ptr_nonnull(strstr(out, "first"));
    ck_assert_ptr_null(strstr(out, "0\r\n\r\n")); /* no clean end: the client sees it broke */
}
END_TEST

START_TEST(handle_bad_header_is_500_and_never_written)
{
    struct outcome res;
    const char *out = serve("bad_header", "GET / HTTP/1.1\r\n\r\n", &res);
    ck_assert_int_eq(res.status, 500);
    ck_assert_ptr_null(strstr(out, "Evil"));
}
END_TEST

START_TEST(handle_write_callable_and_head)
{
    struct outcome res;
    const char *out = serve("writer", "GET / HTTP/1.1\r\n\r\n", &res);
    ck_assert_ptr_nonnull(strstr(out, "written"));
    ck_assert_ptr_nonnull(strstr(out, "yielded"));
    out = serve("hello", "HEAD / HTTP/1.1\r\n\r\n", &res);
    ck_assert_ptr_nonnull(strstr(out, "Content-Length: 5\r\n"));
    ck_assert_ptr_null(strstr(out, "hello"));
}
END_TEST

START_TEST(handle_exc_info_replaces_status)
{
    struct outcome res;
    const char *out = serve("exc_info", "GET / HTTP/1.1\r\n\r\n", &res);
    ck_assert_int_eq(res.status, 503);
    ck_assert(strncmp(out, "HTTP/1.1 503 Oops\r\n", 19) == 0);
    ck_assert_ptr_null(strstr(out, "X-First"));
}
END_TEST

START_TEST(handle_file_wrapper_sendfile)
{
    struct outcome res;
    const char *out = serve("file", "GET / HTTP/1.0\r\n\r\n", &res);
    ck_assert_int_eq(res.body_bytes, 12);
    ck_assert_ptr_nonnull(strstr(out, "\r\n\r\nfile content"));
}
END_TEST

/* What the loader says for each kind of bad app path. */
START_TEST(load_app_errors)
{
    static const struct {
        const char *uri;
        const char *says;
    } rows[] = {
        {"no_such_module_xyz", "no module named 'no_such_module_xyz'"},
        {"testapps:nothing", "failed to find attribute 'nothing' in 'testapps'"},
        {"testapps:not_callable", "must be callable"},
        {"testapps:factory(__import__('os'))", "literal values"},
        {"testapps:1+", "failed to parse"},
        {"testapps:none_factory()", "failed to find application object"},
    };
    char err[512];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        err[0] = '\0';
        ck_assert_ptr_null(wsgi_load_app(rows[i].uri, err, sizeof(err)));
        ck_assert_msg(strstr(err, rows[i].says) != NULL, "%s: got '%s'", rows[i].uri, err);
        ck_assert_ptr_null(strchr(err, '\n'));
        /* The exception stays for the caller (--reload looks at it), who clears it. */
        ck_assert_msg(PyErr_Occurred() != NULL, "%s: no exception left set", rows[i].uri);
        PyErr_Clear();
    }
    PyObject *a = wsgi_load_app("testapps:factory('x', 2)", err, sizeof(err));
    ck_assert_ptr_nonnull(a);
    PyObject *got = PyObject_GetAttrString(a, "args");
    PyObject *repr = PyObject_Repr(got);
    ck_assert_str_eq(PyUnicode_AsUTF8(repr), "('x', 2)");
    Py_DECREF(repr);
    Py_DECREF(got);
    Py_DECREF(a);
    a = wsgi_load_app("testapps", err, sizeof(err));
    ck_assert_ptr_nonnull(a); /* VARIABLE defaults to "application" */
    Py_DECREF(a);
}
END_TEST

/* Write text to a new temporary file; path is its mkstemp template. */
static void write_temp(char *path, const char *text)
{
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ssize_t n = (ssize_t)strlen(text);
    ck_assert_int_eq(write(fd, text, (size_t)n), n);
    close(fd);
}

/* Remove the config file a hooks test wrote, and forget it. */
static void drop_config_file(const char *path)
{
    unlink(path);
    free(cfg.config_read);
    cfg.config_read = NULL;
}

/* A config file's worker hooks: found, called with server and worker, and a
 * hook that raises is reported with its exception's line. */
START_TEST(config_hooks)
{
    char err[512] = "", path[] = "/tmp/greenhorn-hooks-XXXXXX";
    static const char text[] =
        "import testapps\n"
        "workers = 3\n"
        "def post_fork(server, worker):\n"
        "    testapps.hooked = (server.pid, worker.ppid, worker.cfg.workers)\n"
        "def post_worker_init(worker):\n"
        "    worker.log.info('ready %s', 1)\n"
        "def worker_exit(server, worker):\n"
        "    raise ValueError('bye')\n"
        "def helper():\n"
        "    pass\n";
    write_temp(path, text);

    ck_assert_int_eq(hooks_load(&cfg, 4242, err, sizeof(err)), 0); /* no file read: none */
    ck_assert_int_eq(hooks_run(HOOK_POST_FORK, err, sizeof(err)), 0);

    cfg.config_read = strdup(path);
    ck_assert_msg(hooks_load(&cfg, 4242, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(hooks_run(HOOK_POST_FORK, err, sizeof(err)), 0);
    PyObject *hooked = PyObject_GetAttrString(apps, "hooked");
    PyObject *repr = hooked ? PyObject_Repr(hooked) : NULL;
    ck_assert_str_eq(repr ? PyUnicode_AsUTF8(repr) : "?", "(4242, 4242, 3)");
    Py_XDECREF(repr);
    Py_XDECREF(hooked);
    ck_assert_int_eq(hooks_run(HOOK_POST_WORKER_INIT, err, sizeof(err)), 0);
    ck_assert_int_eq(hooks_run(HOOK_WORKER_EXIT, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "ValueError: bye");
    ck_assert_ptr_null(PyErr_Occurred());
    hooks_free();

    int fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_eq(write(fd, "workers = \n", 10), 10);
    close(fd);
    ck_assert_int_eq(hooks_load(&cfg, 4242, err, sizeof(err)), -1);
    ck_assert_msg(strncmp(err, "SyntaxError", 11) == 0, "%s", err);
    ck_assert_ptr_null(PyErr_Occurred());
    drop_config_file(path);
}
END_TEST

/* pre_request and post_request around a request served: the stand-ins'
 * fields, a pre_request that raises answered with 500 (and post_request
 * given {} and None), a post_request that raises logged, not raised. */
START_TEST(request_hooks)
{
    char err[512] = "", path[] = "/tmp/greenhorn-hooks-XXXXXX";
    static const char text[] =
        "import testapps\n"
        "testapps.seen = []\n"
        "def pre_request(worker, req):\n"
        "    testapps.seen.append((req.method, req.path, req.query, req.version, req.headers))\n"
        "    if req.path == '/no':\n"
        "        raise RuntimeError('refused')\n"
        "def post_request(worker, req, environ, resp):\n"
        "    testapps.seen.append(resp and (environ['PATH_INFO'], resp.status_code, resp.sent))\n"
        "    testapps.seen.append(resp or environ)\n"
        "    raise ValueError('after')\n";
    write_temp(path, text);
    cfg.config_read = strdup(path);
    ck_assert_msg(hooks_load(&cfg, 4242, err, sizeof(err)) == 0, "%s", err);

    struct outcome res;
    serve("hello", "GET /a?b=1 HTTP/1.0\r\nX-Y: z\r\n\r\n", &res);
    ck_assert_int_eq(res.status, 200);
    const char *out = serve("hello", "GET /no HTTP/1.1\r\n\r\n", &res);
    ck_assert_int_eq(res.status, 500);
    ck_assert(strncmp(out, "HTTP/1.1 500 ", 13) == 0);
    ck_assert_ptr_null(PyErr_Occurred());

    PyObject *seen = PyObject_GetAttrString(apps, "seen");
    PyObject *repr = seen ? PyObject_Repr(seen) : NULL;
    ck_assert_str_eq(repr ? PyUnicode_AsUTF8(repr) : "?",
                     "[('GET', '/a', 'b=1', (1, 0), [('X-Y', 'z')]), ('/a', 200, 5), "
                     "namespace(status='200 OK', status_code=200, headers=[('Content-Length', "
                     "'5')], sent=5, response_length=5), ('GET', '/no', '', (1, 1), []), None, "
                     "{}]");
    Py_XDECREF(repr);
    Py_XDECREF(seen);
    hooks_free();
    serve("hello", "GET / HTTP/1.1\r\n\r\n", &res); /* no hooks: nothing kept, nothing run */
    ck_assert_int_eq(res.status, 200);
    drop_config_file(path);
}
END_TEST

/* The master's hooks, as the hook process calls them: the stand-ins'
 * fields, None for an old count at start-up and for a pid before the fork,
 * state kept between calls, and a hook that raises reported by name. */
START_TEST(master_hooks)
{
    char err[512] = "", path[] = "/tmp/greenhorn-hooks-XXXXXX";
    static const char text[] =
        "import testapps\n"
        "workers = 2\n"
        "testapps.master = []\n"
        "def nworkers_changed(server, new, old):\n"
        "    testapps.master.append((new, old, server.pid, server.num_workers))\n"
        "def pre_fork(server, worker):\n"
        "    testapps.master.append((worker.pid, worker.age, worker.ppid, worker.cfg.workers))\n"
        "def child_exit(server, worker):\n"
        "    testapps.master.append((worker.pid, worker.age, len(testapps.master)))\n"
        "def when_ready(server):\n"
        "    raise KeyError('ready')\n";
    write_temp(path, text);
    cfg.config_read = strdup(path);
    ck_assert_msg(hooks_master_load(&cfg, 4242, err, sizeof(err)) == 0, "%s", err);

    struct master_call set_up = {MASTER_NWORKERS_CHANGED, 2, 0, 0, 2, -1};
    struct master_call fork_one = {MASTER_PRE_FORK, 2, -1, 1, 0, 0};
    struct master_call gone = {MASTER_CHILD_EXIT, 3, 77, 1, 0, 0};
    struct master_call ready = {MASTER_WHEN_READY, 2, 0, 0, 0, 0};
    struct master_call exiting = {MASTER_ON_EXIT, 2, 0, 0, 0, 0};
    ck_assert_int_eq(hooks_master_call(&set_up, "nworkers_changed", err, sizeof(err)), 0);
    ck_assert_int_eq(hooks_master_call(&fork_one, "pre_fork", err, sizeof(err)), 0);
    ck_assert_int_eq(hooks_master_call(&gone, "child_exit", err, sizeof(err)), 0);
    ck_assert_int_eq(hooks_master_call(&exiting, "on_exit", err, sizeof(err)), 0); /* none */
    ck_assert_int_eq(hooks_master_call(&ready, "when_ready", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "KeyError: 'ready'");
    ck_assert_ptr_null(PyErr_Occurred());

    PyObject *seen = PyObject_GetAttrString(apps, "master");
    PyObject *repr = seen ? PyObject_Repr(seen) : NULL;
    ck_assert_str_eq(repr ? PyUnicode_AsUTF8(repr) : "?",
                     "[(2, None, 4242, 2), ('[booting]', 1, 4242, 2), (77, 1, 2)]");
    Py_XDECREF(repr);
    Py_XDECREF(seen);
    hooks_free();
    ck_assert_int_eq(hooks_master_call(&ready, "when_ready", err, sizeof(err)), -1);
    ck_assert_str_eq(err, "RuntimeError: the master's hooks were not loaded");
    drop_config_file(path);
}
END_TEST

static const char test_apps_source[] =
    "import sys, types, os, tempfile\n"
    "m = types.ModuleType('testapps')\n"
    "sys.modules['testapps'] = m\n"
    "closed = 0\n"
    "def hello(env, sr):\n"
    "    sr('200 OK', [('Content-Length', '5')])\n"
    "    return [b'hello']\n"
    "class Gen:\n"
    "    def __iter__(self):\n"
    "        yield b'a'\n"
    "        yield b''\n"
    "        yield b'b'\n"
    "    def close(self):\n"
    "        m.closed += 1\n"
    "def gen(env, sr):\n"
    "    m.closed = 0\n"
    "    sr('200 OK', [])\n"
    "    return Gen()\n"
    "def boom(env, sr):\n"
    "    raise RuntimeError('expected by the test')\n"
    "def boom_late(env, sr):\n"
    "    sr('200 OK', [])\n"
    "    yield b'first'\n"
    "    raise RuntimeError('expected by the test')\n"
    "def bad_header(env, sr):\n"
    "    sr('200 OK', [('X-Bad', 'a\\r\\nEvil: 1')])\n"
    "    return [b'never']\n"
    "def writer(env, sr):\n"
    "    w = sr('200 OK', [])\n"
    "    w(b'written ')\n"
    "    return [b'yielded']\n"
    "def exc_info(env, sr):\n"
    "    sr('200 OK', [('X-First', '1')])\n"
    "    try:\n"
    "        raise ValueError('x')\n"
    "    except ValueError:\n"
    "        sr('503 Oops', [('Content-Length', '0')], sys.exc_info())\n"
    "    return [b'']\n"
    "path = os.path.join(tempfile.gettempdir(), 'greenhorn-test-wsgi.txt')\n"
    "open(path, 'wb').write(b'file content')\n"
    "def file(env, sr):\n"
    "    sr('200 OK', [])\n"
    "    return env['wsgi.file_wrapper'](open(path, 'rb'))\n"
    "class App:\n"
    "    def __init__(self, *args):\n"
    "        self.args = args\n"
    "    def __call__(self, env, sr):\n"
    "        return hello(env, sr)\n"
    "def factory(*args):\n"
    "    return App(*args)\n"
    "def none_factory():\n"
    "    return None\n"
    "not_callable = 'a string'\n"
    "application = hello\n"
    "for k, v in list(globals().items()):\n"
    "    if not k.startswith('__') and k not in ('m', 'sys', 'types'):\n"
    "        setattr(m, k, v)\n";

static void setup(void)
{
    char err[256];
    ck_assert_int_eq(config_init(&cfg, err, sizeof(err)), 0);
    memset(&listener, 0, sizeof(listener));
    listener.family = AF_INET;
    strcpy(listener.server_name, "127.0.0.1");
    strcpy(listener.server_port, "8000");
    opts.limit_request_line = 4094;
    opts.limit_request_fields = 100;
    opts.limit_request_field_size = 8190;
    log_open(LOG_CRITICAL, NULL, NULL, err, sizeof(err)); /* keep expected tracebacks quiet */
    if (!Py_IsInitialized()) {
        ck_assert_msg(wsgi_init(&cfg, err, sizeof(err)) == 0, "%s", err);
        PyObject *g = PyDict_New();
        PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins());
        PyObject *r = PyRun_String(test_apps_source, Py_file_input, g, g);
        if (r == NULL)
            PyErr_Print();
        ck_assert_ptr_nonnull(r);
        Py_DECREF(r);
        apps = PyImport_ImportModule("testapps");
        ck_assert_ptr_nonnull(apps);
        Py_DECREF(g);
    }
}

static void teardown(void)
{
    Py_CLEAR(apps);
    wsgi_fini(NULL);
    config_free(&cfg);
    log_close();
}

static Suite *wsgi_suite(void)
{
    Suite *s = suite_create("environ, input and wsgi");
    TCase *tc = tcase_create("core");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, environ_keys);
    tcase_add_test(tc, path_info_latin1_and_bad_escapes);
    tcase_add_test(tc, input_reads_buffered_then_socket);
    tcase_add_test(tc, input_never_reads_past_the_body);
    tcase_add_test(tc, input_chunked_lines_and_iteration);
    tcase_add_test(tc, input_timeout_and_early_close);
    tcase_add_test(tc, input_sends_100_continue_on_first_read);
    tcase_add_test(tc, input_detached_after_request);
    tcase_add_test(tc, two_requests_in_flight);
    tcase_add_test(tc, script_name_header_then_colliding_header);
    tcase_add_test(tc, errors_stream_writes_to_the_error_log);
    tcase_add_test(tc, access_log_atoms);
    tcase_add_test(tc, handle_list_result);
    tcase_add_test(tc, handle_generator_is_chunked_and_closed_once);
    tcase_add_test(tc, handle_exception_before_headers_is_500);
    tcase_add_test(tc, handle_exception_after_headers_keeps_partial_body);
    tcase_add_test(tc, handle_bad_header_is_500_and_never_written);
    tcase_add_test(tc, handle_write_callable_and_head);
    tcase_add_test(tc, handle_exc_info_replaces_status);
    tcase_add_test(tc, handle_file_wrapper_sendfile);
    tcase_add_test(tc, load_app_errors);
    tcase_add_test(tc, config_hooks);
    tcase_add_test(tc, request_hooks);
    tcase_add_test(tc, master_hooks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(wsgi_suite());
}
