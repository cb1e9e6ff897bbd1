/*
 * environ.c - a parsed request becomes a PEP 3333 environ dict.
 *
 * Stage 6, environ (Gunicorn counterpart: create() and base_environ() in
 * gunicorn/http/wsgi.py; wsgi.input mirrors gunicorn/http/body.py).
 * Owns: the interned environ keys, the base environ, and wsgi.errors.
 * Does not own: wsgi.input (input.c), the request (request.h: this file
 * only reads it) or the app call (wsgi.c).
 *
 * Why a base environ: most keys (wsgi.version, wsgi.errors, SERVER_SOFTWARE,
 * ...) are the same for every request, so they are built once and each
 * request starts from a copy of that dict (PyDict_Copy is one C loop) and
 * adds the twenty or so keys that change.  Keys are interned strings made
 * once, so setting them costs no allocation and lookups compare pointers.
 */
#include "environ.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ascii.h"
#include "bind.h"
#include "input.h"
#include "log.h"

/* ---- keys -------------------------------------------------------------- */

enum key {
    K_REQUEST_METHOD,
    K_SCRIPT_NAME,
    K_PATH_INFO,
    K_QUERY_STRING,
    K_RAW_URI,
    K_SERVER_PROTOCOL,
    K_SERVER_NAME,
    K_SERVER_PORT,
    K_REMOTE_ADDR,
    K_REMOTE_PORT,
    K_CONTENT_TYPE,
    K_CONTENT_LENGTH,
    K_URL_SCHEME,
    K_INPUT,
    K_PROXY_PROTOCOL,
    K_PROXY_ADDR,
    K_PROXY_PORT,
    K_COUNT
};

static const char *const key_names[K_COUNT] = {
    "REQUEST_METHOD",  "SCRIPT_NAME",    "PATH_INFO",       "QUERY_STRING", "RAW_URI",
    "SERVER_PROTOCOL", "SERVER_NAME",    "SERVER_PORT",     "REMOTE_ADDR",  "REMOTE_PORT",
    "CONTENT_TYPE",    "CONTENT_LENGTH", "wsgi.url_scheme", "wsgi.input",   "PROXY_PROTOCOL",
    "PROXY_ADDR",      "PROXY_PORT",
};

/* Headers most requests carry, with their environ key made once. */
static const char *const common_headers[] = {
    "Host",
    "User-Agent",
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Cookie",
    "Connection",
    "Referer",
    "Cache-Control",
    "Origin",
    "Upgrade-Insecure-Requests",
    "X-Forwarded-For",
    "X-Forwarded-Proto",
    "Authorization",
};
#define NUM_COMMON (sizeof(common_headers) / sizeof(common_headers[0]))

/* What every request's environ shares, made once per worker by environ_init
 * and never changed after: per process, read-only while requests run, so
 * several requests in flight may read it at once. */
static struct {
    PyObject *keys[K_COUNT];
    PyObject *common_keys[NUM_COMMON];
    PyObject *base; /* the base environ */
    PyObject *http10, *http11, *http, *https, *empty;
    PyObject *script_name; /* from $SCRIPT_NAME, as Gunicorn reads it */
    const struct config *cfg;
} env;

/* ---- wsgi.errors ------------------------------------------------------- */

/* wsgi.errors: a text stream that writes to the error log (PEP 3333, "Error Streams"). */
typedef struct {
    PyObject_HEAD
} ErrorsObject;

static PyObject *errors_write(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(arg, &len);
    if (s == NULL)
        return NULL;
    log_write_raw(s, (size_t)len);
    return PyLong_FromSsize_t(len);
}

static PyObject *errors_writelines(PyObject *self, PyObject *seq)
{
    PyObject *it = PyObject_GetIter(seq);
    if (it == NULL)
        return NULL;
    PyObject *line;
    while ((line = PyIter_Next(it)) != NULL) {
        PyObject *r = errors_write(self, line);
        Py_DECREF(line);
        if (r == NULL) {
            Py_DECREF(it);
            return NULL;
        }
        Py_DECREF(r);
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *errors_flush(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    Py_RETURN_NONE; /* every write already went out with write(2) */
}

static PyMethodDef errors_methods[] = {
    {"write", errors_write, METH_O, "Write a string to the error log."},
    {"writelines", errors_writelines, METH_O, "Write each string of an iterable."},
    {"flush", errors_flush, METH_NOARGS, "Nothing to flush: writes are unbuffered."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ErrorsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "greenhorn.Errors",
    .tp_basicsize = sizeof(ErrorsObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "wsgi.errors: writes to greenhorn's error log.",
    .tp_methods = errors_methods,
};

/* ---- building the environ ---------------------------------------------- */

/* d[key] = latin-1 text of s[0..n).  Returns 0 or -1. */
static int set_text(PyObject *d, PyObject *key, const char *s, size_t n)
{
    PyObject *v = PyUnicode_DecodeLatin1(s, (Py_ssize_t)n, NULL);
    if (v == NULL)
        return -1;
    int rc = PyDict_SetItem(d, key, v);
    Py_DECREF(v);
    return rc;
}

/* Percent-decode s into out (at least n bytes); a '%' not followed by two
 * hex digits stays as it is, like urllib.parse.unquote_to_bytes.  Returns
 * the decoded length. */
static size_t percent_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = ascii_hex_value((unsigned char)s[i + 1])) >= 0 &&
            (lo = ascii_hex_value((unsigned char)s[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

/* PATH_INFO: the path without SCRIPT_NAME, percent-decoded once, as latin-1
 * text (PEP 3333 "Unicode Issues").  A path outside SCRIPT_NAME cannot be
 * split into the two, so it is refused with 400, as Gunicorn 22+ does
 * ("Request path ... does not start with SCRIPT_NAME"). */
static int set_path_info(PyObject *d, struct request *r, PyObject *script_name)
{
    const char *path = r->http.path;
    size_t len = r->http.path_len;
    Py_ssize_t sn_len;
    const char *sn = PyUnicode_AsUTF8AndSize(script_name, &sn_len);
    if (sn == NULL)
        return -1;
    /* The prefix must end at a path segment: SCRIPT_NAME=/app does not
     * own /application (PEP 3333: PATH_INFO is empty or starts with '/'). */
    if (sn_len > 0) {
        if (len < (size_t)sn_len || memcmp(path, sn, (size_t)sn_len) != 0 ||
            (len > (size_t)sn_len && path[sn_len] != '/')) {
            PyObject *p = PyUnicode_DecodeLatin1(path, (Py_ssize_t)len, NULL);
            r->error_status = 400;
            if (p != NULL)
                PyErr_Format(PyExc_ValueError, "request path %R does not start with SCRIPT_NAME %R",
                             p, script_name);
            Py_XDECREF(p);
            return -1;
        }
        path += sn_len;
        len -= (size_t)sn_len;
    }
    char small[1024];
    char *out = len <= sizeof(small) ? small : malloc(len);
    if (out == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    size_t n = percent_decode(path, len, out);
    int rc = set_text(d, env.keys[K_PATH_INFO], out, n);
    if (out != small)
        free(out);
    return rc;
}

/* "HTTP_" + the name upper-cased, '-' as '_' (CGI, RFC 3875 section 4.1.18).
 * Returns a new reference. */
static PyObject *make_header_key(const char *name, size_t len)
{
    char small[256];
    size_t n = len + 5;
    char *key = n <= sizeof(small) ? small : malloc(n);
    if (key == NULL)
        return PyErr_NoMemory();
    memcpy(key, "HTTP_", 5);
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        key[5 + i] = ch == '-' ? '_' : (ch >= 'a' && ch <= 'z' ? (char)(ch - 32) : ch);
    }
    PyObject *k = PyUnicode_DecodeLatin1(key, (Py_ssize_t)n, NULL);
    if (key != small)
        free(key);
    return k;
}

/* The environ key for a header: CONTENT_TYPE and CONTENT_LENGTH have no
 * HTTP_ prefix (PEP 3333); common names use a key made once.  New reference. */
static PyObject *header_key(const struct http_header *h)
{
    if (ascii_caseeq(h->name, h->name_len, "Content-Type"))
        return Py_NewRef(env.keys[K_CONTENT_TYPE]);
    if (ascii_caseeq(h->name, h->name_len, "Content-Length"))
        return Py_NewRef(env.keys[K_CONTENT_LENGTH]);
    for (size_t i = 0; i < NUM_COMMON; i++)
        if (ascii_caseeq(h->name, h->name_len, common_headers[i]))
            return Py_NewRef(env.common_keys[i]);
    return make_header_key(h->name, h->name_len);
}

/* Add one header; a repeated header is joined with "," as Gunicorn does
 * (RFC 9110 section 5.3 lets a list-valued field be combined that way). */
static int add_header(PyObject *d, const struct http_header *h)
{
    PyObject *key = header_key(h);
    if (key == NULL)
        return -1;
    PyObject *value = PyUnicode_DecodeLatin1(h->value, (Py_ssize_t)h->value_len, NULL);
    PyObject *old = value ? PyDict_GetItemWithError(d, key) : NULL; /* borrowed */
    if (old != NULL) {
        PyObject *joined = PyUnicode_FromFormat("%U,%U", old, value);
        Py_SETREF(value, joined);
    }
    int rc = value != NULL && !PyErr_Occurred() ? PyDict_SetItem(d, key, value) : -1;
    Py_XDECREF(value);
    Py_DECREF(key);
    return rc;
}

/* SERVER_NAME and SERVER_PORT: the listening address, as Gunicorn takes them
 * from getsockname(); for a unix socket, from the Host header. */
static int set_server(PyObject *d, const struct request *r)
{
    const struct listener *l = r->conn->listener;
    const char *name = l->server_name, *port = l->server_port;
    size_t name_len = strlen(name), port_len = strlen(port);
    const struct http_header *host =
        http_find_header(r->http.headers, r->http.num_headers, "Host", 4);
    if (l->family == AF_UNIX) {
        name = port = "";
        name_len = port_len = 0;
        if (host != NULL) {
            const char *colon = memchr(host->value, ':', host->value_len);
            name = host->value;
            name_len = colon ? (size_t)(colon - host->value) : host->value_len;
            port = colon ? colon + 1 : "80";
            port_len = colon ? host->value_len - name_len - 1 : 2;
        }
    }
    if (set_text(d, env.keys[K_SERVER_NAME], name, name_len) < 0)
        return -1;
    return set_text(d, env.keys[K_SERVER_PORT], port, port_len);
}

/* REMOTE_ADDR and REMOTE_PORT, or the PROXY protocol's view of them. */
static int set_remote(PyObject *d, const struct request *r)
{
    if (r->proxy.present) {
        /* Gunicorn's proxy_environ(): the client as the proxy saw it, and
         * the address the client connected to on the proxy. */
        const struct http_proxy *p = &r->proxy;
        char sport[8], dport[8];
        int sn = snprintf(sport, sizeof(sport), "%u", (unsigned)p->src_port);
        int dn = snprintf(dport, sizeof(dport), "%u", (unsigned)p->dst_port);
        if (set_text(d, env.keys[K_REMOTE_ADDR], p->src_addr, strlen(p->src_addr)) < 0 ||
            set_text(d, env.keys[K_REMOTE_PORT], sport, (size_t)sn) < 0 ||
            set_text(d, env.keys[K_PROXY_ADDR], p->dst_addr, strlen(p->dst_addr)) < 0 ||
            set_text(d, env.keys[K_PROXY_PORT], dport, (size_t)dn) < 0)
            return -1;
        return 0;
    }
    if (set_text(d, env.keys[K_REMOTE_ADDR], r->conn->peer_addr, strlen(r->conn->peer_addr)) < 0)
        return -1;
    if (r->conn->family == AF_UNIX)
        return 0;
    return set_text(d, env.keys[K_REMOTE_PORT], r->conn->peer_port, strlen(r->conn->peer_port));
}

/* The request line, the scheme and the input stream. */
static int set_request(PyObject *d, struct request *r)
{
    const struct http_request *h = &r->http;
    PyObject *scheme = h->scheme_https ? env.https : env.http;
    if (set_text(d, env.keys[K_REQUEST_METHOD], h->method, h->method_len) < 0 ||
        set_text(d, env.keys[K_QUERY_STRING], h->query, h->query_len) < 0 ||
        set_text(d, env.keys[K_RAW_URI], h->target, h->target_len) < 0 ||
        PyDict_SetItem(d, env.keys[K_SERVER_PROTOCOL],
                       h->version_minor == 0 ? env.http10 : env.http11) < 0 ||
        PyDict_SetItem(d, env.keys[K_URL_SCHEME], scheme) < 0)
        return -1;

    PyObject *in = input_new(r);
    if (in == NULL)
        return -1;
    int rc = PyDict_SetItem(d, env.keys[K_INPUT], in);
    Py_DECREF(in);
    return rc;
}

/*
 * SCRIPT_NAME: from $SCRIPT_NAME, or from a SCRIPT_NAME header, which the
 * parser keeps only from a trusted forwarder (Gunicorn's forwarder_headers).
 * As in Gunicorn's create(), the last such header wins.  The value is made
 * from the header's own bytes, a reference this function owns: the
 * HTTP_SCRIPT_NAME item in the dict may be replaced (and freed) by a later
 * header that maps to the same key ("Script-Name"), so a borrowed reference
 * to it would dangle.  Returns a new reference, or NULL with an exception.
 */
static PyObject *script_name(const struct request *r)
{
    const struct http_header *found =
        http_find_header(r->http.headers, r->http.num_headers, "SCRIPT_NAME", 11);
    if (found == NULL)
        return Py_NewRef(env.script_name);
    return PyUnicode_DecodeLatin1(found->value, (Py_ssize_t)found->value_len, NULL);
}

PyObject *environ_build(struct request *r)
{
    PyObject *d = PyDict_Copy(env.base), *sn = NULL;
    if (d == NULL)
        return NULL;
    for (size_t i = 0; i < r->http.num_headers; i++)
        if (add_header(d, &r->http.headers[i]) < 0)
            goto fail;
    if ((sn = script_name(r)) == NULL || set_request(d, r) < 0 || set_remote(d, r) < 0 ||
        set_server(d, r) < 0 || PyDict_SetItem(d, env.keys[K_SCRIPT_NAME], sn) < 0 ||
        set_path_info(d, r, sn) < 0)
        goto fail;
    Py_DECREF(sn);
    return d;

fail:
    Py_XDECREF(sn);
    Py_DECREF(d);
    return NULL;
}

/* ---- set-up and tear-down ---------------------------------------------- */

/* base[name] = value, stealing value.  Returns 0 or -1. */
static int base_set(const char *name, PyObject *value)
{
    if (value == NULL)
        return -1;
    int rc = PyDict_SetItemString(env.base, name, value);
    Py_DECREF(value);
    return rc;
}

/* How many keys a typical environ has: the base, the request keys, headers. */
#define ENVIRON_KEYS_HINT 40

static int build_base(const struct config *cfg, PyObject *file_wrapper)
{
    /* Presized for a whole environ: PyDict_Copy clones the table at this
     * size, so the twenty-odd keys each request adds never make its copy
     * grow and rehash (CPython's dict_resize) one request after another.
     * Python 3.11 has no public call that presizes a dict (a dict filled
     * and emptied again is copied at its used size), and plain PyDict_New
     * here costs 10% more instructions per hello request (19,722 against
     * 17,902, make bench-callgrind), so this one private call stays. */
    env.base = _PyDict_NewPresized(ENVIRON_KEYS_HINT);
    if (env.base == NULL)
        return -1;
    PyObject *errors = (PyObject *)PyObject_New(ErrorsObject, &ErrorsType);
    if (base_set("wsgi.errors", errors) < 0 ||
        base_set("wsgi.version", Py_BuildValue("(ii)", 1, 0)) < 0 ||
        base_set("wsgi.multithread", PyBool_FromLong(config_gthread(cfg))) < 0 ||
        base_set("wsgi.multiprocess", PyBool_FromLong(cfg->workers > 1)) < 0 ||
        base_set("wsgi.run_once", Py_NewRef(Py_False)) < 0 ||
        base_set("wsgi.file_wrapper", Py_NewRef(file_wrapper)) < 0 ||
        base_set("wsgi.input_terminated", Py_NewRef(Py_True)) < 0 ||
        base_set("SERVER_SOFTWARE", PyUnicode_FromString("greenhorn/" CONFIG_VERSION)) < 0)
        return -1;
    return 0;
}

int environ_init(const struct config *cfg, PyObject *file_wrapper)
{
    env.cfg = cfg;
    if (PyType_Ready(&ErrorsType) < 0)
        return -1;
    for (int i = 0; i < K_COUNT; i++)
        if ((env.keys[i] = PyUnicode_InternFromString(key_names[i])) == NULL)
            return -1;
    for (size_t i = 0; i < NUM_COMMON; i++) {
        PyObject *k = make_header_key(common_headers[i], strlen(common_headers[i]));
        if (k == NULL)
            return -1;
        PyUnicode_InternInPlace(&k);
        env.common_keys[i] = k;
    }
    const char *sn = getenv("SCRIPT_NAME");
    env.script_name = PyUnicode_DecodeLatin1(sn ? sn : "", sn ? (Py_ssize_t)strlen(sn) : 0, NULL);
    env.http10 = PyUnicode_InternFromString("HTTP/1.0");
    env.http11 = PyUnicode_InternFromString("HTTP/1.1");
    env.http = PyUnicode_InternFromString("http");
    env.https = PyUnicode_InternFromString("https");
    if (!env.script_name || !env.http10 || !env.http11 || !env.http || !env.https)
        return -1;
    return build_base(cfg, file_wrapper);
}

void environ_fini(void)
{
    for (int i = 0; i < K_COUNT; i++)
        Py_CLEAR(env.keys[i]);
    for (size_t i = 0; i < NUM_COMMON; i++)
        Py_CLEAR(env.common_keys[i]);
    Py_CLEAR(env.base);
    Py_CLEAR(env.script_name);
    Py_CLEAR(env.http10);
    Py_CLEAR(env.http11);
    Py_CLEAR(env.http);
    Py_CLEAR(env.https);
}
