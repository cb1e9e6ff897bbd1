/*
 * config_file.c - a Gunicorn config file (gunicorn.conf.py), read for stage 1.
 *
 * An extra, used by main.c before stage 1 reads the command line again
 * (Gunicorn counterpart: load_config_from_file in
 * gunicorn/app/base.py).  Owns: running the file and turning its settings
 * into command-line words, which config_load_file then reads as the weakest
 * source.  Does not own: what a setting means or how it is checked
 * (config.c), nor starting the interpreter (pyembed.c).
 *
 * The file is Python, so reading it starts Python, in a child process that
 * exits right after: the master itself never starts Python.
 */
#include "config_file.h"
#include "pyembed.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Runs in a short-lived child process (config_child), so the master
 * never starts Python.  The file is Python, executed as Gunicorn executes
 * it; its settings go back as command-line words through fd, after a first
 * word that names the master's hooks it defines (as bits), for the hook
 * process (master_hooks.c).  Gunicorn's setting names map onto greenhorn's
 * options.  The worker's hooks are left for the workers (hooks.c); the hooks
 * greenhorn does not run and the Gunicorn settings it lacks get a warning;
 * other names are the file's own variables and are skipped, as Gunicorn
 * skips them.
 */
/* config_exec_source - see config_file.h. */
const char config_exec_source[] = "def run_config(path, source=None):\n"
                                  "    ns = {'__file__': path, '__name__': '__config__'}\n"
                                  "    if source is None:\n"
                                  "        with open(path, 'rb') as f:\n"
                                  "            source = f.read()\n"
                                  "    exec(compile(source, path, 'exec'), ns)\n"
                                  "    return ns\n";

static const char config_reader_source[] =
    "import os, sys, types\n"
    "OPTIONS = {'bind': 'bind', 'workers': 'workers', 'worker_class': 'worker-class',\n"
    "  'timeout': 'timeout', 'graceful_timeout': 'graceful-timeout', 'keepalive': 'keep-alive',\n"
    "  'threads': 'threads', 'worker_connections': 'worker-connections',\n"
    "  'backlog': 'backlog', 'max_requests': 'max-requests',\n"
    "  'max_requests_jitter': 'max-requests-jitter', 'umask': 'umask', 'chdir': 'chdir',\n"
    "  'pythonpath': 'pythonpath', 'preload_app': 'preload', 'raw_env': 'env', 'pidfile': 'pid',\n"
    "  'loglevel': 'log-level', 'errorlog': 'error-logfile', 'accesslog': 'access-logfile',\n"
    "  'access_log_format': 'access-logformat', 'limit_request_line': 'limit-request-line',\n"
    "  'limit_request_fields': 'limit-request-fields',\n"
    "  'limit_request_field_size': 'limit-request-field_size', 'header_map': 'header-map',\n"
    "  'forwarder_headers': 'forwarder-headers',\n"
    "  'permit_obsolete_folding': 'permit-obsolete-folding',\n"
    "  'permit_unconventional_http_method': 'permit-unconventional-http-method',\n"
    "  'permit_unconventional_http_version': 'permit-unconventional-http-version',\n"
    "  'casefold_http_method': 'casefold-http-method',\n"
    "  'strip_header_spaces': 'strip-header-spaces',\n"
    "  'forwarded_allow_ips': 'forwarded-allow-ips', 'proxy_protocol': 'proxy-protocol',\n"
    "  'proxy_allow_ips': 'proxy-allow-from', 'header_timeout': 'header-timeout',\n"
    "  'body_timeout': 'body-timeout', 'user': 'user', 'group': 'group',\n"
    "  'capture_output': 'capture-output', 'check_config': 'check-config',\n"
    "  'print_config': 'print-config', 'proc_name': 'name', 'daemon': 'daemon',\n"
    "  'reload': 'reload', 'reload_extra_files': 'reload-extra-file',\n"
    "  'statsd_host': 'statsd-host', 'statsd_prefix': 'statsd-prefix',\n"
    "  'dogstatsd_tags': 'dogstatsd-tags',\n"
    "  'reuse_port': 'reuse-port', 'initgroups': 'initgroups',\n"
    "  'worker_tmp_dir': 'worker-tmp-dir',\n"
    "  # Gunicorn's TLS: greenhorn's table knows them, to say what to use instead\n"
    "  'certfile': 'certfile', 'keyfile': 'keyfile', 'ca_certs': 'ca-certs',\n"
    "  'ssl_version': 'ssl-version', 'cert_reqs': 'cert-reqs', 'ciphers': 'ciphers',\n"
    "  'do_handshake_on_connect': 'do-handshake-on-connect',\n"
    "  'suppress_ragged_eofs': 'suppress-ragged-eofs'}\n"
    "REPEATED = ('bind', 'raw_env', 'reload_extra_files')\n"
    "LISTS = ('pythonpath', 'forwarded_allow_ips', 'proxy_allow_ips', 'forwarder_headers')\n"
    "LACKING = ('logconfig', 'logconfig_dict', 'secure_scheme_headers', 'sendfile',\n"
    "  'tmp_upload_dir', 'spew', 'syslog', 'paste')\n"
    "# The master's hooks, in the order of enum master_hook (master_hooks.h): the\n"
    "# ones the file defines go back as bits, for the hook process.\n"
    "MASTER_HOOKS = ('nworkers_changed', 'on_starting', 'when_ready', 'pre_fork',\n"
    "  'child_exit', 'on_reload', 'on_exit', 'pre_exec')\n"
    "# Gunicorn's hooks that greenhorn does not run.  The worker's (hooks.c) and\n"
    "# the master's run; other functions are the file's own, and skipped.\n"
    "OTHER_HOOKS = ('ssl_context',)\n"
    "def read(path, fd, run_config):\n"
    "    ns = run_config(path)\n"
    "    mask = sum(1 << i for i, name in enumerate(MASTER_HOOKS) if callable(ns.get(name)))\n"
    "    words, app = ['%d' % mask], None\n"
    "    for name, value in ns.items():\n"
    "        if name.startswith('_') or isinstance(value, types.ModuleType):\n"
    "            continue\n"
    "        option = OPTIONS.get(name)\n"
    "        if name == 'wsgi_app':\n"
    "            app = str(value)\n"
    "        elif option is None:\n"
    "            if callable(value) and name in OTHER_HOOKS:\n"
    "                sys.stderr.write('greenhorn: warning: %s: the hook %r is not supported;'\n"
    "                                 ' ignored\\n' % (path, name))\n"
    "            elif name in LACKING:\n"
    "                sys.stderr.write('greenhorn: warning: %s: the setting %r is not supported;'\n"
    "                                 ' ignored\\n' % (path, name))\n"
    "        elif isinstance(value, bool):\n"
    "            if name == 'proxy_protocol':\n"
    "                words.append('--proxy-protocol=' + ('auto' if value else 'off'))\n"
    "            elif value:\n"
    "                words.append('--' + option)\n"
    "        elif name in REPEATED and isinstance(value, (list, tuple)):\n"
    "            for item in value:\n"
    "                words += ['--' + option, str(item)]\n"
    "        elif name in LISTS and isinstance(value, (list, tuple)):\n"
    "            words += ['--' + option, ','.join(str(item) for item in value)]\n"
    "        else:\n"
    "            words += ['--' + option, str(value)]\n"
    "    if app is not None:\n"
    "        words += ['--', app]\n"
    "    data = b'\\0'.join(w.encode('utf-8', 'surrogateescape') for w in words)\n"
    "    while data:\n"
    "        data = data[os.write(fd, data):]\n";

/* The child's side: start Python, read the file, write words or an error. */
static int config_child(const struct config *cfg, const char *path, int fd)
{
    char why[512] = "";
    PyObject *read = NULL, *run_config = NULL, *done = NULL;

    if (pyembed_start(cfg, why, sizeof why) == 0) {
        read = pyembed_source_function(config_reader_source, "read");
        run_config = read ? pyembed_source_function(config_exec_source, "run_config") : NULL;
        done = run_config ? PyObject_CallFunction(read, "siO", path, fd, run_config) : NULL;
        if (done == NULL)
            pyembed_exception_line(why, sizeof why);
    }
    /* No clean-up: this process exits right after. */
    if (done != NULL)
        return 0;
    ssize_t said = write(fd, why, strlen(why)); /* the parent reads this line as the reason */
    (void)said;
    return 2;
}

/* Read fd to its end: a NUL-terminated buffer (free it) and its length in
 * *len, or NULL when memory runs out (the rest is then read and dropped, so
 * the writer never blocks). */
static char *read_to_end(int fd, size_t *len)
{
    size_t cap = 4096;
    char *data = malloc(cap + 1), sink[4096];
    ssize_t n;

    *len = 0;
    for (;;) {
        if (data != NULL && *len == cap) {
            char *bigger = realloc(data, 2 * cap + 1);
            if (bigger == NULL) {
                free(data);
                data = NULL;
            } else {
                data = bigger;
                cap *= 2;
            }
        }
        n = data != NULL ? read(fd, data + *len, cap - *len) : read(fd, sink, sizeof sink);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (data != NULL)
            *len += (size_t)n;
    }
    if (data != NULL)
        data[*len] = '\0';
    return data;
}

/* config_file_words - see config_file.h. */
int config_file_words(const struct config *cfg, const char *path, char **buf, char ***words,
                      int *count, unsigned *master_hooks, char *err, size_t errlen)
{
    int fds[2], status = 0;
    size_t len = 0;
    char *data = NULL;
    pid_t pid;

    *buf = NULL;
    *words = NULL;
    *count = 0;
    *master_hooks = 0;
    if (pipe2(fds, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        _exit(config_child(cfg, path, fds[1]));
    }
    close(fds[1]);
    if (pid > 0)
        data = read_to_end(fds[0], &len);
    close(fds[0]);
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
        data == NULL) {
        snprintf(err, errlen, "%s: %s", path,
                 data != NULL && len > 0 ? data
                 : pid < 0               ? strerror(errno)
                                         : "could not be read");
        free(data);
        return -1;
    }
    /* NUL-separated words, after the first: the master's hooks, as bits. */
    *master_hooks = (unsigned)strtoul(data, NULL, 10);
    size_t first = strlen(data) + (len > strlen(data) ? 1 : 0);
    int n = len > first ? 1 : 0;
    for (size_t i = first; i < len; i++)
        n += data[i] == '\0';
    char **list = calloc((size_t)n + 1, sizeof *list);
    if (list == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        free(data);
        return -1;
    }
    for (size_t i = first, k = 0; k < (size_t)n; k++) {
        list[k] = data + i;
        i += strlen(data + i) + 1;
    }
    *buf = data;
    *words = list;
    *count = n;
    return 0;
}
