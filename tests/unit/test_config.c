/*
 * test_config.c - unit tests for stage 1, config (src/config.c).
 *
 * Owns: the defaults, every option in every spelling (--name value,
 * --name=value, -n value, -nvalue, -n=value), bounds, every usage error
 * message, the environment ($WEB_CONCURRENCY, $PORT, $FORWARDED_ALLOW_IPS,
 * $GUNICORN_CMD_ARGS with its quoting), precedence, --help and --version,
 * and the request parser's options made from the settings
 * (config_http_options).
 * Does not own: binding (test_bind.c).
 * Gunicorn counterpart: tests/test_config.py.
 */
#include "access_log.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "statsd.h"
#include "unit.h"

#include <stdio.h>
#include <string.h>

/* The environment variables config reads; every test starts without them. */
static const char *const env_vars[] = {"WEB_CONCURRENCY", "PORT", "FORWARDED_ALLOW_IPS",
                                       "GUNICORN_CMD_ARGS"};

static struct config cfg;
static char err[512];
static char *out_text;
static size_t out_len;

static void setup(void)
{
    for (size_t i = 0; i < sizeof env_vars / sizeof env_vars[0]; i++)
        unsetenv(env_vars[i]);
    memset(&cfg, 0, sizeof cfg);
    err[0] = '\0';
    out_text = NULL;
}

static void teardown(void)
{
    config_free(&cfg);
    free(out_text);
}

/*
 * load_argv - config_load on "greenhorn" followed by the NULL-terminated
 * words; --help / --version text is kept in out_text.
 */
static enum config_result load_argv(const char *const *words)
{
    char *argv[64] = {"greenhorn"};
    int argc = 1;
    FILE *out;
    enum config_result res;

    while (words[argc - 1] != NULL && argc < 63) {
        argv[argc] = (char *)(uintptr_t)words[argc - 1]; /* config_load does not write */
        argc++;
    }
    argv[argc] = NULL;
    free(out_text);
    out_text = NULL;
    out = open_memstream(&out_text, &out_len);
    ck_assert_ptr_nonnull(out);
    config_free(&cfg);
    res = config_load(&cfg, argc, argv, out, err, sizeof err);
    fclose(out);
    return res;
}

/* load - like load_argv, with the words given as one line split at spaces. */
static enum config_result load(const char *line)
{
    char copy[512];
    const char *words[64];
    int n = 0;

    snprintf(copy, sizeof copy, "%s", line);
    for (char *w = strtok(copy, " "); w != NULL && n < 63; w = strtok(NULL, " "))
        words[n++] = w;
    words[n] = NULL;
    return load_argv(words);
}

/* expect_error - line is a usage error whose message is exactly message. */
static void expect_error(const char *line, const char *message)
{
    ck_assert_msg(load(line) == CONFIG_ERROR, "'%s' was accepted", line);
    ck_assert_str_eq(err, message);
}

/* ---- defaults --------------------------------------------------------- */

START_TEST(test_defaults)
{
    ck_assert_int_eq(load("app:application"), CONFIG_RUN);
    ck_assert_str_eq(cfg.app_uri, "app:application");
    ck_assert_uint_eq(cfg.num_binds, 1);
    ck_assert_str_eq(cfg.binds[0], "127.0.0.1:8000");
    ck_assert_int_eq(cfg.workers, 1);
    ck_assert_int_eq(cfg.timeout, 30);
    ck_assert_int_eq(cfg.graceful_timeout, 30);
    ck_assert_int_eq(cfg.backlog, 2048);
    ck_assert_int_eq(cfg.umask, 0);
    ck_assert_int_eq(cfg.max_requests, 0);
    ck_assert_int_eq(cfg.max_requests_jitter, 0);
    ck_assert_int_eq(cfg.header_timeout, 10);
    ck_assert_int_eq(cfg.body_timeout, 10);
    ck_assert_ptr_null(cfg.chdir);
    ck_assert_uint_eq(cfg.pythonpath.count, 0);
    ck_assert_ptr_null(cfg.virtualenv);
    ck_assert(!cfg.preload);
    ck_assert_uint_eq(cfg.num_env, 0);
    ck_assert_ptr_null(cfg.pidfile);
    ck_assert_int_eq(cfg.log_level, LOG_INFO);
    ck_assert_str_eq(cfg.error_logfile, "-");
    ck_assert_ptr_null(cfg.access_logfile);
    ck_assert_uint_eq(cfg.limit_request_line, 4094);
    ck_assert_uint_eq(cfg.limit_request_fields, 100);
    ck_assert_uint_eq(cfg.limit_request_field_size, 8190);
    ck_assert_uint_eq(cfg.limit_request_body, 0);
    ck_assert_int_eq(cfg.header_map, CONFIG_HEADER_MAP_DROP);
    ck_assert_uint_eq(cfg.forwarder_headers.count, 2);
    ck_assert_str_eq(cfg.forwarder_headers.items[0], "SCRIPT_NAME");
    ck_assert_str_eq(cfg.forwarder_headers.items[1], "PATH_INFO");
    ck_assert(!cfg.permit_obsolete_folding && !cfg.permit_unconventional_http_method &&
              !cfg.permit_unconventional_http_version && !cfg.casefold_http_method &&
              !cfg.strip_header_spaces);
    ck_assert_uint_eq(cfg.forwarded_allow_ips.count, 2);
    ck_assert_str_eq(cfg.forwarded_allow_ips.items[0], "127.0.0.1");
    ck_assert_str_eq(cfg.forwarded_allow_ips.items[1], "::1");
    ck_assert_uint_eq(cfg.secure_scheme_names.count, 3);
    ck_assert_str_eq(cfg.secure_scheme_names.items[0], "X-FORWARDED-PROTOCOL");
    ck_assert_str_eq(cfg.secure_scheme_names.items[1], "X-FORWARDED-PROTO");
    ck_assert_str_eq(cfg.secure_scheme_names.items[2], "X-FORWARDED-SSL");
    ck_assert_uint_eq(cfg.secure_scheme_values.count, 3);
    ck_assert_str_eq(cfg.secure_scheme_values.items[0], "ssl");
    ck_assert_str_eq(cfg.secure_scheme_values.items[1], "https");
    ck_assert_str_eq(cfg.secure_scheme_values.items[2], "on");
    ck_assert_int_eq(cfg.proxy_protocol, CONFIG_PROXY_OFF);
    ck_assert_uint_eq(cfg.proxy_allow_ips.count, 2);
    ck_assert_str_eq(cfg.proxy_allow_ips.items[1], "::1");
}
END_TEST

START_TEST(test_init_free_reuse)
{
    ck_assert_int_eq(config_init(&cfg, err, sizeof err), 0);
    ck_assert_int_eq(cfg.workers, 1);
    config_free(&cfg);
    ck_assert_ptr_null(cfg.binds[0]);
    ck_assert_uint_eq(cfg.num_binds, 0);
    ck_assert_int_eq(config_init(&cfg, err, sizeof err), 0);
    ck_assert_str_eq(cfg.binds[0], "127.0.0.1:8000");
}
END_TEST

/* ---- every numeric option in every spelling ---------------------------- */

static long long get_workers(void)
{
    return cfg.workers;
}
static long long get_timeout(void)
{
    return cfg.timeout;
}
static long long get_graceful(void)
{
    return cfg.graceful_timeout;
}
static long long get_backlog(void)
{
    return cfg.backlog;
}
static long long get_umask(void)
{
    return cfg.umask;
}
static long long get_max_requests(void)
{
    return cfg.max_requests;
}
static long long get_jitter(void)
{
    return cfg.max_requests_jitter;
}
static long long get_header_timeout(void)
{
    return cfg.header_timeout;
}
static long long get_body_timeout(void)
{
    return cfg.body_timeout;
}
static long long get_line(void)
{
    return cfg.limit_request_line;
}
static long long get_fields(void)
{
    return cfg.limit_request_fields;
}
static long long get_field_size(void)
{
    return cfg.limit_request_field_size;
}
static long long get_body(void)
{
    return (long long)cfg.limit_request_body;
}

static const struct number_case {
    const char *name; /* long spelling */
    char short_name;  /* 0 = none */
    const char *value;
    long long expect;
    long long (*get)(void);
} number_cases[] = {
    {"workers", 'w', "4", 4, get_workers},
    {"workers", 'w', "1000", 1000, get_workers},
    {"timeout", 't', "0", 0, get_timeout},
    {"timeout", 't', "120", 120, get_timeout},
    {"graceful-timeout", 0, "5", 5, get_graceful},
    {"backlog", 0, "64", 64, get_backlog},
    {"umask", 'm', "0", 0, get_umask},
    {"umask", 'm', "18", 18, get_umask},
    {"umask", 'm', "022", 18, get_umask}, /* a leading 0 is octal, as in Gunicorn */
    {"umask", 'm', "0o22", 18, get_umask},
    {"umask", 'm', "0x12", 18, get_umask},
    {"umask", 'm', "0b10010", 18, get_umask},
    {"umask", 'm', "0777", 511, get_umask},
    {"max-requests", 0, "1000", 1000, get_max_requests},
    {"max-requests", 0, "2147483647", 2147483647, get_max_requests},
    {"max-requests-jitter", 0, "50", 50, get_jitter},
    {"header-timeout", 0, "3600", 3600, get_header_timeout},
    {"body-timeout", 0, "1", 1, get_body_timeout},
    {"limit-request-line", 0, "0", 8190, get_line}, /* as the parser reads 0 */
    {"limit-request-line", 0, "8190", 8190, get_line},
    {"limit-request-line", 0, "8200", 8190, get_line}, /* lowered, as Gunicorn's parser does */
    {"limit-request-fields", 0, "32768", 32768, get_fields},
    {"limit-request-fields", 0, "40000", 32768, get_fields},
    {"limit-request-fields", 0, "0", 32768, get_fields},
    {"limit-request-field_size", 0, "0", 8190, get_field_size},
    {"limit-request-field-size", 0, "8210", 8210, get_field_size},
    {"limit-request-body", 0, "1048576", 1048576, get_body},
    {"limit-request-body", 0, "64k", 65536, get_body},
    {"limit-request-body", 0, "10M", 10485760, get_body},
    {"limit-request-body", 0, "1g", 1073741824, get_body},
    {"limit-request-body", 0, "0", 0, get_body},
};

START_TEST(test_number_spellings)
{
    const struct number_case *c = &number_cases[_i];
    char line[5][128];
    int forms = 0;

    snprintf(line[forms++], sizeof line[0], "--%s %s app:app", c->name, c->value);
    snprintf(line[forms++], sizeof line[0], "--%s=%s app:app", c->name, c->value);
    snprintf(line[forms++], sizeof line[0], "app:app --%s=%s", c->name, c->value);
    if (c->short_name != 0) {
        snprintf(line[forms++], sizeof line[0], "-%c %s app:app", c->short_name, c->value);
        snprintf(line[forms++], sizeof line[0], "-%c%s app:app", c->short_name, c->value);
    }
    for (int i = 0; i < forms; i++) {
        ck_assert_msg(load(line[i]) == CONFIG_RUN, "%s: %s", line[i], err);
        ck_assert_msg(c->get() == c->expect, "%s gave %lld", line[i], c->get());
    }
    if (c->short_name != 0) {
        snprintf(line[0], sizeof line[0], "-%c=%s app:app", c->short_name, c->value);
        ck_assert_msg(load(line[0]) == CONFIG_RUN, "%s: %s", line[0], err);
        ck_assert(c->get() == c->expect);
    }
}
END_TEST

static const struct error_case {
    const char *line;
    const char *err;
} error_cases[] = {
    {"-w x app:app", "--workers: 'x' is not a whole number"},
    {"--workers=4x app:app", "--workers: '4x' is not a whole number"},
    {"--workers= app:app", "--workers: '' is not a whole number"},
    {"--workers=1.5 app:app", "--workers: '1.5' is not a whole number"},
    {"-w 0 app:app", "--workers: 0 is below 1"},
    {"-w 1001 app:app", "--workers: 1001 is above 1000"},
    {"-w 99999999999999999999 app:app", "--workers: 99999999999999999999 is above 1000"},
    {"-t -1 app:app", "--timeout: -1 is below 0"},
    {"--timeout 86401 app:app", "--timeout: 86401 is above 86400"},
    {"--graceful-timeout -5 app:app", "--graceful-timeout: -5 is below 0"},
    {"--backlog 65536 app:app", "--backlog: 65536 is above 65535"},
    {"--umask 08 app:app", "--umask: '08' is not a file mode (such as 0o22, 022 or 18)"},
    {"--umask 0x app:app", "--umask: '0x' is not a file mode (such as 0o22, 022 or 18)"},
    {"-m -1 app:app", "--umask: '-1' is not a file mode (such as 0o22, 022 or 18)"},
    {"--umask 01000 app:app", "--umask: 01000 is above 0o777"},
    {"-u no-such-user-here app:app", "--user: no such user 'no-such-user-here'"},
    {"--group=no-such-group-here app:app", "--group: no such group 'no-such-group-here'"},
    {"--max-requests -1 app:app", "--max-requests: -1 is below 0"},
    {"--max-requests 2147483648 app:app", "--max-requests: 2147483648 is above 2147483647"},
    {"--max-requests-jitter x app:app", "--max-requests-jitter: 'x' is not a whole number"},
    {"--header-timeout 0 app:app", "--header-timeout: 0 is below 1"},
    {"--header-timeout 3601 app:app", "--header-timeout: 3601 is above 3600"},
    {"--body-timeout 0 app:app", "--body-timeout: 0 is below 1"},
    {"--limit-request-line -1 app:app", "--limit-request-line: -1 is below 0"},
    {"--limit-request-fields x app:app", "--limit-request-fields: 'x' is not a whole number"},
    {"--limit-request-field-size -1 app:app", "--limit-request-field_size: -1 is below 0"},
    {"--limit-request-body 12x app:app",
     "--limit-request-body: '12x' is not a size in bytes (such as 1048576, 64k, 10m, 1g)"},
    {"--limit-request-body -1 app:app",
     "--limit-request-body: '-1' is not a size in bytes (such as 1048576, 64k, 10m, 1g)"},
    {"--limit-request-body k app:app",
     "--limit-request-body: 'k' is not a size in bytes (such as 1048576, 64k, 10m, 1g)"},
    {"--limit-request-body 99999999999999999999 app:app",
     "--limit-request-body: 99999999999999999999 is above 1099511627776 bytes"},
    {"--limit-request-body 1025g app:app",
     "--limit-request-body: 1025g is above 1099511627776 bytes"},
    {"--wrokers 4 app:app", "unknown option '--wrokers'"},
    {"--wrokers=4 app:app", "unknown option '--wrokers'"},
    {"-x app:app", "unknown option '-x'"},
    {"app:app --workers", "option '--workers' needs a value"},
    {"app:app -b", "option '-b' needs a value"},
    {"--preload=yes app:app", "option '--preload' takes no value"},
    {"-hv", "option '-h' takes no value"},
    {"-b 127.0.0.1:99999 app:app", "--bind: bad port '99999' in '127.0.0.1:99999'"},
    {"--bind=nohost: app:app", "--bind: bad port '' in 'nohost:'"},
    {"-e FOO app:app", "--env: 'FOO' is not KEY=VALUE"},
    {"--env==x app:app", "--env: '=x' is not KEY=VALUE"},
    {"--log-level loud app:app",
     "--log-level: 'loud' is not one of debug, info, warning, error, critical"},
    {"--header-map keep app:app", "--header-map: 'keep' is not one of drop, refuse, dangerous"},
    {"--proxy-protocol=v3 app:app",
     "--proxy-protocol: 'v3' is not one of off, v1, v2, auto, false, true"},
    {"--forwarded-allow-ips 10.0.0.300 app:app",
     "--forwarded-allow-ips: '10.0.0.300' is not an IP address, a network such as 10.0.0.0/8, "
     "or '*'"},
    {"--proxy-allow-from 10.0.0.0/33 app:app",
     "--proxy-allow-from: '10.0.0.0/33' is not an IP address, a network such as 10.0.0.0/8, "
     "or '*'"},
    {"--forwarded-allow-ips ::1/-1 app:app",
     "--forwarded-allow-ips: '::1/-1' is not an IP address, a network such as 10.0.0.0/8, "
     "or '*'"},
    {"", "no application module given"},
    {"-w 2", "no application module given"},
    {"a:app b:app", "more than one application given: 'a:app' and 'b:app'"},
    {":app", "bad application ':app': expected MODULE[:VARIABLE]"},
};

START_TEST(test_errors)
{
    expect_error(error_cases[_i].line, error_cases[_i].err);
}
END_TEST

/* ---- strings, flags, lists, choices ------------------------------------ */

START_TEST(test_strings)
{
    ck_assert_int_eq(load("--chdir /srv/app --virtualenv=venv -p app.pid app:app"), CONFIG_RUN);
    ck_assert_str_eq(cfg.chdir, "/srv/app");
    ck_assert_str_eq(cfg.virtualenv, "venv");
    ck_assert_str_eq(cfg.pidfile, "app.pid");
    ck_assert_int_eq(load("--pid=x.pid --error-logfile err.log --access-logfile - app:app"),
                     CONFIG_RUN);
    ck_assert_str_eq(cfg.pidfile, "x.pid");
    ck_assert_str_eq(cfg.error_logfile, "err.log");
    ck_assert_str_eq(cfg.access_logfile, "-");
    ck_assert_int_eq(load("-px.pid --log-file=other.log app:app"), CONFIG_RUN);
    ck_assert_str_eq(cfg.pidfile, "x.pid");
    ck_assert_str_eq(cfg.error_logfile, "other.log");
    /* the last one wins; an empty value unsets (Gunicorn strips, then treats "" as none) */
    ck_assert_int_eq(load("--chdir a --chdir b --error-logfile= app:app"), CONFIG_RUN);
    ck_assert_str_eq(cfg.chdir, "b");
    ck_assert_ptr_null(cfg.error_logfile);
}
END_TEST

START_TEST(test_flags)
{
    ck_assert_int_eq(load("--preload --permit-obsolete-folding --permit-unconventional-http-method "
                          "--permit-unconventional-http-version --casefold-http-method "
                          "--strip-header-spaces app:app"),
                     CONFIG_RUN);
    ck_assert(cfg.preload && cfg.permit_obsolete_folding && cfg.permit_unconventional_http_method &&
              cfg.permit_unconventional_http_version && cfg.casefold_http_method &&
              cfg.strip_header_spaces);
    ck_assert_int_eq(load("--preload app:app"), CONFIG_RUN);
    ck_assert(cfg.preload && !cfg.casefold_http_method);
}
END_TEST

/* A config file's words are the weakest source: env args and argv win. */
START_TEST(test_config_file_words)
{
    char *file[] = {"--workers",   "4",         "--bind", "127.0.0.1:1", "--bind",
                    "127.0.0.1:2", "--timeout", "7",      "--",          "file:app"};
    char *argv[] = {"greenhorn", "-w", "2", NULL};
    char why[256] = "";

    setenv("GUNICORN_CMD_ARGS", "--timeout 9", 1);
    config_free(&cfg);
    ck_assert_int_eq(
        config_load_file(&cfg, 3, argv, file, 10, "conf.py: ", true, NULL, why, sizeof why),
        CONFIG_RUN);
    ck_assert_int_eq(cfg.workers, 2);    /* argv */
    ck_assert_int_eq(cfg.timeout, 9);    /* $GUNICORN_CMD_ARGS */
    ck_assert_uint_eq(cfg.num_binds, 2); /* the file's two replace the default */
    ck_assert_str_eq(cfg.binds[1], "127.0.0.1:2");
    ck_assert_str_eq(cfg.app_uri, "file:app");
    unsetenv("GUNICORN_CMD_ARGS");

    /* the command line's application wins; the file's values are still checked */
    char *argv2[] = {"greenhorn", "cli:app", NULL};
    char *bad[] = {"--workers", "x", "--", "file:app"};
    config_free(&cfg);
    ck_assert_int_eq(
        config_load_file(&cfg, 2, argv2, file, 10, "conf.py: ", true, NULL, why, sizeof why),
        CONFIG_RUN);
    ck_assert_str_eq(cfg.app_uri, "cli:app");
    config_free(&cfg);
    ck_assert_int_eq(
        config_load_file(&cfg, 2, argv2, bad, 4, "conf.py: ", true, NULL, why, sizeof why),
        CONFIG_ERROR);
    ck_assert_str_eq(why, "conf.py: --workers: 'x' is not a whole number");

    /* without the need for an application yet, none is not an error */
    char *argv3[] = {"greenhorn", NULL};
    config_free(&cfg);
    ck_assert_int_eq(config_load_file(&cfg, 1, argv3, NULL, 0, NULL, false, NULL, why, sizeof why),
                     CONFIG_RUN);
    ck_assert_ptr_null(cfg.app_uri);
}
END_TEST

/* --access-logformat is checked when read, by the logger's own compiler. */
START_TEST(test_access_log_format)
{
    /* The format belongs to the access-log extra: without its check
     * plugged in, the value is taken as given; main.c plugs it in. */
    config_check_access_format = NULL;
    ck_assert_int_eq(load("--access-logformat %(x)s app:app"), CONFIG_RUN);
    config_check_access_format = access_log_check;
    ck_assert_int_eq(load("--access-logformat=%(h)s|%({X-Id}i)s|%%|%(D)d app:app"), CONFIG_RUN);
    ck_assert_str_eq(cfg.access_log_format, "%(h)s|%({X-Id}i)s|%%|%(D)d");
    ck_assert_int_eq(load("app:app"), CONFIG_RUN);
    ck_assert_ptr_null(cfg.access_log_format); /* Gunicorn's default */
    expect_error("--access-logformat %(x)s app:app", "--access-logformat: unknown atom %(x)s");
    expect_error("--access-logformat %({path_info}e)s app:app",
                 "--access-logformat: %({path_info}e)s: environ variables are not logged by "
                 "greenhorn");
    expect_error("--access-logformat 5% app:app",
                 "--access-logformat: '%' is not %(NAME)s (write %% for a %)");
}
END_TEST

START_TEST(test_lists)
{
    ck_assert_int_eq(load("--pythonpath a,,b,c, app:app"), CONFIG_RUN);
    ck_assert_uint_eq(cfg.pythonpath.count, 3);
    ck_assert_str_eq(cfg.pythonpath.items[0], "a");
    ck_assert_str_eq(cfg.pythonpath.items[2], "c");
    ck_assert_int_eq(load("--forwarder-headers=SCRIPT_NAME --forwarded-allow-ips * "
                          "--proxy-allow-from=10.0.0.0/8,::1,fe80::/10,192.168.1.1/32 app:app"),
                     CONFIG_RUN);
    ck_assert_uint_eq(cfg.forwarder_headers.count, 1);
    ck_assert_uint_eq(cfg.forwarded_allow_ips.count, 1);
    ck_assert_str_eq(cfg.forwarded_allow_ips.items[0], "*");
    ck_assert_uint_eq(cfg.proxy_allow_ips.count, 4);
    ck_assert_str_eq(cfg.proxy_allow_ips.items[2], "fe80::/10");
    /* a list given twice is replaced, not extended */
    ck_assert_int_eq(load("--pythonpath a,b --pythonpath c app:app"), CONFIG_RUN);
    ck_assert_uint_eq(cfg.pythonpath.count, 1);
    ck_assert_str_eq(cfg.pythonpath.items[0], "c");
    ck_assert_int_eq(load("--forwarder-headers= app:app"), CONFIG_RUN);
    ck_assert_uint_eq(cfg.forwarder_headers.count, 0);
}
END_TEST

START_TEST(test_list_blanks_and_capacity)
{
    const char *spaced[] = {"--pythonpath", " a , b ", "app:app", NULL};
    char many[256] = "--pythonpath=";
    const char *too_many[] = {many, "app:app", NULL};

    ck_assert_int_eq(load_argv(spaced), CONFIG_RUN);
    ck_assert_str_eq(cfg.pythonpath.items[0], "a");
    ck_assert_str_eq(cfg.pythonpath.items[1], "b");
    for (int i = 0; i <= CONFIG_MAX_LIST; i++)
        strcat(many, "d,");
    ck_assert_int_eq(load_argv(too_many), CONFIG_ERROR);
    ck_assert_str_eq(err, "--pythonpath: more than 32 items");
}
END_TEST

START_TEST(test_repeatable)
{
    char line[1024] = "";

    ck_assert_int_eq(load("-b :9000 --bind=[::1]:9001 -bunix:/run/a.sock -e A=1 --env B= "
                          "-eC=x=y app:app"),
                     CONFIG_RUN);
    ck_assert_uint_eq(cfg.num_binds, 3);
    ck_assert_str_eq(cfg.binds[0], ":9000");
    ck_assert_str_eq(cfg.binds[1], "[::1]:9001");
    ck_assert_str_eq(cfg.binds[2], "unix:/run/a.sock");
    ck_assert_uint_eq(cfg.num_env, 3);
    ck_assert_str_eq(cfg.env[0], "A=1");
    ck_assert_str_eq(cfg.env[1], "B=");
    ck_assert_str_eq(cfg.env[2], "C=x=y");
    for (int i = 0; i <= CONFIG_MAX_BINDS; i++)
        strcat(line, "-b :1 ");
    strcat(line, "app:app");
    expect_error(line, "--bind: more than 16 values");
}
END_TEST

START_TEST(test_choices)
{
    ck_assert_int_eq(load("--log-level WARNING --header-map=refuse app:app"), CONFIG_RUN);
    ck_assert_int_eq(cfg.log_level, LOG_WARNING);
    ck_assert_int_eq(cfg.header_map, CONFIG_HEADER_MAP_REFUSE);
    ck_assert_int_eq(load("--log-level=debug --header-map Dangerous app:app"), CONFIG_RUN);
    ck_assert_int_eq(cfg.log_level, LOG_DEBUG);
    ck_assert_int_eq(cfg.header_map, CONFIG_HEADER_MAP_DANGEROUS);
    ck_assert_int_eq(load("--log-level critical app:app"), CONFIG_RUN);
    ck_assert_int_eq(cfg.log_level, LOG_CRITICAL);
}
END_TEST

START_TEST(test_proxy_protocol)
{
    /* bare flag (Gunicorn <= 24 spelling): auto, and the next word stays the application */
    ck_assert_int_eq(load("--proxy-protocol app:app"), CONFIG_RUN);
    ck_assert_int_eq(cfg.proxy_protocol, CONFIG_PROXY_AUTO);
    ck_assert_str_eq(cfg.app_uri, "app:app");
    ck_assert_int_eq(load("app:app --proxy-protocol"), CONFIG_RUN);
    ck_assert_int_eq(cfg.proxy_protocol, CONFIG_PROXY_AUTO);
    ck_assert_int_eq(load("--proxy-protocol v1 app:app"), CONFIG_RUN);
    ck_assert_int_eq(cfg.proxy_protocol, CONFIG_PROXY_V1);
    ck_assert_int_eq(load("--proxy-protocol=V2 app:app"), CONFIG_RUN);
    ck_assert_int_eq(cfg.proxy_protocol, CONFIG_PROXY_V2);
    ck_assert_int_eq(load("--proxy-protocol true app:app"), CONFIG_RUN);
    ck_assert_int_eq(cfg.proxy_protocol, CONFIG_PROXY_AUTO);
    ck_assert_int_eq(load("--proxy-protocol v1 --proxy-protocol off app:app"), CONFIG_RUN);
    ck_assert_int_eq(cfg.proxy_protocol, CONFIG_PROXY_OFF);
    ck_assert_int_eq(load("--proxy-protocol -w 2 app:app"), CONFIG_RUN);
    ck_assert_int_eq(cfg.proxy_protocol, CONFIG_PROXY_AUTO);
    ck_assert_int_eq(cfg.workers, 2);
}
END_TEST

START_TEST(test_double_dash)
{
    ck_assert_int_eq(load("-w 2 -- -odd:app"), CONFIG_RUN);
    ck_assert_str_eq(cfg.app_uri, "-odd:app");
    ck_assert_int_eq(cfg.workers, 2);
    expect_error("-- app:app -w", "more than one application given: 'app:app' and '-w'");
    ck_assert_int_eq(load("app:app -- --"), CONFIG_ERROR); /* the second "--" is positional */
}
END_TEST

/* argparse's abbreviations: a unique start of a long name is that option. */
START_TEST(test_abbreviations)
{
    ck_assert_int_eq(load("--grace 3 --max-requests-j=5 --pre --max-requests 7 app:app"),
                     CONFIG_RUN);
    ck_assert_int_eq(cfg.graceful_timeout, 3);
    ck_assert_int_eq(cfg.max_requests_jitter, 5);
    ck_assert(cfg.preload);
    ck_assert_int_eq(cfg.max_requests, 7); /* an exact name wins over longer ones */
    expect_error("--max 3 app:app",
                 "ambiguous option '--max': it could be --max-requests, --max-requests-jitter");
    expect_error("--work 2 app:app",
                 "ambiguous option '--work': it could be --workers, --worker-class, "
                 "--worker-connections, --worker-tmp-dir");
    expect_error("--b x app:app",
                 "ambiguous option '--b': it could be --bind, --backlog, --body-timeout");
    /* the underscore spelling Gunicorn has, shortened */
    ck_assert_int_eq(load("--limit-request-field_ 100 app:app"), CONFIG_RUN);
    ck_assert_uint_eq(cfg.limit_request_field_size, 100);
    expect_error("--workersx 3 app:app", "unknown option '--workersx'");
    setenv("GUNICORN_CMD_ARGS", "--grace=2", 1);
    ck_assert_int_eq(load("app:app"), CONFIG_RUN);
    ck_assert_int_eq(cfg.graceful_timeout, 2);
    unsetenv("GUNICORN_CMD_ARGS");
}
END_TEST

/* Gunicorn command lines name the sync worker and a keep-alive; both are accepted. */
START_TEST(test_gunicorn_sync_options)
{
    ck_assert_int_eq(load("-u root -g 0 app:app"), CONFIG_RUN); /* a name, a number */
    ck_assert_str_eq(cfg.user, "root");
    ck_assert_str_eq(cfg.group, "0");
    ck_assert_int_eq(load("-k sync --worker-class=gunicorn.workers.sync.SyncWorker app:app"),
                     CONFIG_RUN);
    ck_assert_int_eq(load("--keep-alive 5 app:app"), CONFIG_RUN);
    ck_assert_int_eq(cfg.keepalive, 5);
    ck_assert_int_eq(cfg.worker_class, CONFIG_WORKER_SYNC);
    ck_assert(!config_gthread(&cfg));
    /* Gunicorn's other classes: one line saying what to use instead */
    expect_error(
        "-k eventlet app:app",
        "--worker-class: 'eventlet' is not in greenhorn yet; use -k gthread (keep-alive "
        "and slow clients in an event loop, the app in --threads N), or sync behind nginx");
    ck_assert_int_eq(load("-k gunicorn.workers.ggevent.GeventWorker app:app"), CONFIG_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "is not in greenhorn yet; use -k gthread"));
    /* an unknown word lists only the classes greenhorn has */
    expect_error("-k nope app:app",
                 "--worker-class: 'nope' is not one of sync, gthread, "
                 "gunicorn.workers.sync.SyncWorker, gunicorn.workers.gthread.ThreadWorker, "
                 "egg:gunicorn#sync, egg:gunicorn#gthread");
    /* TLS: a value option and a flag, both refused with the way instead */
    ck_assert_int_eq(load("--certfile c.pem --keyfile k.pem app:app"), CONFIG_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "--certfile: greenhorn does not have this setting yet; "
                                      "terminate TLS in nginx"));
    ck_assert_int_eq(load("--suppress-ragged-eofs app:app"), CONFIG_ERROR);
    ck_assert_ptr_nonnull(strstr(err, "--suppress-ragged-eofs: greenhorn does not have"));
    expect_error("--keep-alive -1 app:app", "--keep-alive: -1 is below 0");
}
END_TEST

/* The gthread worker's settings, under Gunicorn's names and defaults. */
START_TEST(test_gthread_options)
{
    ck_assert_int_eq(load("app:app"), CONFIG_RUN);
    ck_assert_int_eq(cfg.threads, 1);
    ck_assert_int_eq(cfg.worker_connections, 1000);
    ck_assert_int_eq(cfg.keepalive, 2);
    ck_assert(!config_gthread(&cfg));
    const char *names[] = {"gthread", "gunicorn.workers.gthread.ThreadWorker",
                           "egg:gunicorn#gthread", "GThread"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "-k %s app:app", names[i]);
        ck_assert_int_eq(load(line), CONFIG_RUN);
        ck_assert_int_eq(cfg.worker_class, CONFIG_WORKER_GTHREAD);
        ck_assert(config_gthread(&cfg));
    }
    ck_assert_int_eq(load("--threads 4 --worker-connections 50 --keep-alive 0 app:app"),
                     CONFIG_RUN);
    ck_assert_int_eq(cfg.threads, 4);
    ck_assert_int_eq(cfg.worker_connections, 50);
    ck_assert_int_eq(cfg.keepalive, 0);
    /* Gunicorn 20.1: --threads above 1 with the sync worker class runs gthread. */
    ck_assert_int_eq(cfg.worker_class, CONFIG_WORKER_SYNC);
    ck_assert(config_gthread(&cfg));
    ck_assert_int_eq(load("-k sync --threads 2 app:app"), CONFIG_RUN);
    ck_assert(config_gthread(&cfg));
    setenv("GUNICORN_CMD_ARGS", "-k gthread --threads=3", 1);
    ck_assert_int_eq(load("app:app"), CONFIG_RUN);
    unsetenv("GUNICORN_CMD_ARGS");
    ck_assert_int_eq(cfg.threads, 3);
    ck_assert(config_gthread(&cfg));
    expect_error("--threads 0 app:app", "--threads: 0 is below 1");
    expect_error("--threads x app:app", "--threads: 'x' is not a whole number");
    expect_error("--worker-connections 0 app:app", "--worker-connections: 0 is below 1");
    expect_error("--keep-alive 3601 app:app", "--keep-alive: 3601 is above 3600");
}
END_TEST

#define HELP_INDENT "                                             " /* 44 + 1 */

START_TEST(test_help_and_version)
{
    ck_assert_int_eq(load("--help"), CONFIG_EXIT);
    ck_assert_ptr_nonnull(strstr(out_text, "usage: greenhorn [OPTIONS] MODULE[:VARIABLE]"));
    ck_assert_ptr_nonnull(strstr(out_text, "  -w, --workers INT"));
    ck_assert_ptr_nonnull(strstr(out_text, "--error-logfile, --log-file FILE"));
    ck_assert_ptr_nonnull(strstr(out_text, "[1, or $WEB_CONCURRENCY]"));
    ck_assert_ptr_nonnull(strstr(out_text, "[127.0.0.1:8000, or 0.0.0.0:$PORT]"));
    ck_assert_ptr_null(strstr(out_text, "X-FORWARDED-SSL")); /* no CLI, not shown */
    /* a left column too wide for its place puts the help on the next line */
    ck_assert_ptr_nonnull(strstr(out_text, "--limit-request-field-size INT\n" HELP_INDENT "the "));
    ck_assert_ptr_nonnull(strstr(out_text, "\n  -w, --workers INT                          the "));
    ck_assert_int_eq(load("-w 3 -h --wrokers"), CONFIG_EXIT); /* stops at -h, as argparse */
    ck_assert_ptr_nonnull(strstr(out_text, "usage:"));
    ck_assert_int_eq(load("-v"), CONFIG_EXIT);
    ck_assert_str_eq(out_text, "greenhorn 0.1.0\n");
    ck_assert_int_eq(load("--version app:app"), CONFIG_EXIT);
    ck_assert_str_eq(out_text, "greenhorn 0.1.0\n");
    ck_assert_int_eq(load("--version=1"), CONFIG_ERROR);
    ck_assert_str_eq(err, "option '--version' takes no value");
}
END_TEST

/* ---- the environment ---------------------------------------------------- */

START_TEST(test_web_concurrency)
{
    setenv("WEB_CONCURRENCY", "3", 1);
    ck_assert_int_eq(load("app:app"), CONFIG_RUN);
    ck_assert_int_eq(cfg.workers, 3);
    ck_assert_int_eq(load("-w 2 app:app"), CONFIG_RUN);
    ck_assert_int_eq(cfg.workers, 2);
    setenv("WEB_CONCURRENCY", "", 1); /* empty counts as unset */
    ck_assert_int_eq(load("app:app"), CONFIG_RUN);
    ck_assert_int_eq(cfg.workers, 1);
    setenv("WEB_CONCURRENCY", "many", 1);
    expect_error("app:app", "$WEB_CONCURRENCY: --workers: 'many' is not a whole number");
    config_free(&cfg); /* config_init starts from nothing: free what load left */
    ck_assert_int_eq(config_init(&cfg, err, sizeof err), -1);
    ck_assert_str_eq(err, "$WEB_CONCURRENCY: --workers: 'many' is not a whole number");
}
END_TEST

START_TEST(test_port_and_forwarded_allow_ips)
{
    setenv("PORT", "9000", 1);
    setenv("FORWARDED_ALLOW_IPS", "10.0.0.1, 10.0.0.2", 1);
    ck_assert_int_eq(load("app:app"), CONFIG_RUN);
    ck_assert_uint_eq(cfg.num_binds, 1);
    ck_assert_str_eq(cfg.binds[0], "0.0.0.0:9000");
    ck_assert_uint_eq(cfg.forwarded_allow_ips.count, 2);
    ck_assert_str_eq(cfg.forwarded_allow_ips.items[1], "10.0.0.2");
    ck_assert_int_eq(load("-b :1 -b :2 --forwarded-allow-ips=* app:app"), CONFIG_RUN);
    ck_assert_uint_eq(cfg.num_binds, 2); /* -b replaces the default, not adds to it */
    ck_assert_str_eq(cfg.binds[0], ":1");
    ck_assert_str_eq(cfg.forwarded_allow_ips.items[0], "*");
    setenv("PORT", "http", 1);
    expect_error("app:app", "$PORT: --bind: bad port 'http' in '0.0.0.0:http'");
}
END_TEST

START_TEST(test_cmd_args_quoting)
{
    setenv("GUNICORN_CMD_ARGS",
           "--workers=3  --bind '127.0.0.1:9001'\t-e \"GREETING=hello world\" "
           "-e 'QUOTE=it'\\''s' -e \"ESC=a\\\"b\\\\c\\d\" -e BARE=x\\ y --chdir=''",
           1);
    ck_assert_msg(load("app:app") == CONFIG_RUN, "%s", err);
    ck_assert_int_eq(cfg.workers, 3);
    ck_assert_uint_eq(cfg.num_binds, 1);
    ck_assert_str_eq(cfg.binds[0], "127.0.0.1:9001");
    ck_assert_uint_eq(cfg.num_env, 4);
    ck_assert_str_eq(cfg.env[0], "GREETING=hello world");
    ck_assert_str_eq(cfg.env[1], "QUOTE=it's");
    ck_assert_str_eq(cfg.env[2], "ESC=a\"b\\c\\d");
    ck_assert_str_eq(cfg.env[3], "BARE=x y");
    ck_assert_ptr_null(cfg.chdir);
}
END_TEST

START_TEST(test_cmd_args_precedence)
{
    setenv("GUNICORN_CMD_ARGS", "-w 3 -b :1 -b :2 -t 5 -e A=1 env:app", 1);
    ck_assert_int_eq(load("-w 5 -b :3"), CONFIG_RUN);
    ck_assert_int_eq(cfg.workers, 5);    /* argv wins */
    ck_assert_uint_eq(cfg.num_binds, 1); /* argv's -b replaces all of the variable's */
    ck_assert_str_eq(cfg.binds[0], ":3");
    ck_assert_int_eq(cfg.timeout, 5);  /* set only by the variable */
    ck_assert_uint_eq(cfg.num_env, 1); /* likewise */
    ck_assert_str_eq(cfg.app_uri, "env:app");
    ck_assert_int_eq(load("argv:app"), CONFIG_RUN);
    ck_assert_str_eq(cfg.app_uri, "argv:app");
    ck_assert_uint_eq(cfg.num_binds, 2); /* the variable's -b replaces the default */
    ck_assert_str_eq(cfg.binds[1], ":2");
}
END_TEST

START_TEST(test_cmd_args_errors)
{
    setenv("GUNICORN_CMD_ARGS", "-w x", 1);
    /* overridden, but still checked, as Gunicorn validates both */
    expect_error("-w 2 app:app", "$GUNICORN_CMD_ARGS: --workers: 'x' is not a whole number");
    setenv("GUNICORN_CMD_ARGS", "--nope", 1);
    expect_error("app:app", "$GUNICORN_CMD_ARGS: unknown option '--nope'");
    setenv("GUNICORN_CMD_ARGS", "--chdir 'unterminated", 1);
    expect_error("app:app", "$GUNICORN_CMD_ARGS: missing closing quote");
    setenv("GUNICORN_CMD_ARGS", "--chdir \"also", 1);
    expect_error("app:app", "$GUNICORN_CMD_ARGS: missing closing quote");
    setenv("GUNICORN_CMD_ARGS", "--chdir x\\", 1);
    expect_error("app:app", "$GUNICORN_CMD_ARGS: nothing after the last backslash");
    setenv("GUNICORN_CMD_ARGS", "a:app b:app", 1);
    expect_error("", "$GUNICORN_CMD_ARGS: more than one application given: 'a:app' and 'b:app'");
    /* a mistake on the command line is reported before the variable is read */
    setenv("GUNICORN_CMD_ARGS", "--nope", 1);
    expect_error("--wrokers 1 app:app", "unknown option '--wrokers'");
    setenv("GUNICORN_CMD_ARGS", "  ", 1);
    ck_assert_int_eq(load("app:app"), CONFIG_RUN);
}
END_TEST

/* ---- trust lists ------------------------------------------------------- */

/* Compile the list as a worker does, then ask about one peer. */
static bool allowed(const struct config_list *list, const char *addr)
{
    struct config_trust t;

    config_trust_compile(list, &t);
    return config_trust_allows(&t, addr);
}

START_TEST(test_addr_allowed)
{
    ck_assert_int_eq(load("--forwarded-allow-ips 10.0.0.0/8,192.168.1.7,fd00::/8,::1,"
                          "172.16.0.0/12,0.0.0.0/0 --proxy-allow-from 10.1.2.0/23 app:app"),
                     CONFIG_RUN);
    ck_assert(allowed(&cfg.proxy_allow_ips, "10.1.2.3"));
    ck_assert(allowed(&cfg.proxy_allow_ips, "10.1.3.255"));
    ck_assert(!allowed(&cfg.proxy_allow_ips, "10.1.4.0"));
    ck_assert(!allowed(&cfg.proxy_allow_ips, "10.1.1.255"));
    ck_assert(allowed(&cfg.proxy_allow_ips, "::ffff:10.1.2.3")); /* v4-mapped */
    ck_assert(!allowed(&cfg.proxy_allow_ips, "fd00::1"));
    ck_assert(!allowed(&cfg.proxy_allow_ips, NULL));
    ck_assert(!allowed(&cfg.proxy_allow_ips, ""));
    ck_assert(!allowed(&cfg.proxy_allow_ips, "10.1.2.3/8"));
    ck_assert(allowed(&cfg.forwarded_allow_ips, "fd12:3456::1"));
    ck_assert(allowed(&cfg.forwarded_allow_ips, "0:0::1")); /* bytes, not text */
    ck_assert(!allowed(&cfg.forwarded_allow_ips, "::2"));
    ck_assert(allowed(&cfg.forwarded_allow_ips, "8.8.8.8")); /* 0.0.0.0/0 */
    ck_assert_int_eq(load("app:app"), CONFIG_RUN);           /* the defaults */
    ck_assert(allowed(&cfg.forwarded_allow_ips, "127.0.0.1"));
    ck_assert(allowed(&cfg.forwarded_allow_ips, "::1"));
    ck_assert(!allowed(&cfg.forwarded_allow_ips, "127.0.0.2"));
    ck_assert_int_eq(load("--forwarded-allow-ips=* app:app"), CONFIG_RUN);
    ck_assert(allowed(&cfg.forwarded_allow_ips, NULL));
    ck_assert(allowed(&cfg.forwarded_allow_ips, "203.0.113.9"));
}
END_TEST

/* ---- the parser's options ---------------------------------------------- */

/*
 * options_of - load line, then make the parser's options from it, and check
 * their three limits and the head to buffer: the line and its CRLF, every
 * field at its size with 2 more for its CRLF, the blank line.
 */
static void options_of(const char *line, struct http_options *o, size_t lim_line, size_t fields,
                       size_t field_size)
{
    size_t max_head = 0;

    ck_assert_msg(load(line) == CONFIG_RUN, "'%s': %s", line, err);
    config_http_options(&cfg, o, &max_head);
    ck_assert_uint_eq(o->limit_request_line, lim_line);
    ck_assert_uint_eq(o->limit_request_fields, fields);
    ck_assert_uint_eq(o->limit_request_field_size, field_size);
    ck_assert_uint_eq(max_head, lim_line + 2 + fields * (field_size + 2) + 2);
}

START_TEST(test_http_options_defaults)
{
    struct http_options o;

    options_of("app:app", &o, 4094, 100, 8190);
    ck_assert_uint_eq(o.limit_request_body, 0);
    ck_assert_uint_eq(o.flags, 0);
    ck_assert_int_eq(o.header_map, HTTP_HEADER_MAP_DROP);
    ck_assert_uint_eq(o.num_forwarder_headers, 2);
    ck_assert_str_eq(o.forwarder_headers[0], "SCRIPT_NAME");
    ck_assert_str_eq(o.forwarder_headers[1], "PATH_INFO");
    ck_assert_uint_eq(o.num_secure_scheme_headers, 3);
    ck_assert_str_eq(o.secure_scheme_names[1], "X-FORWARDED-PROTO");
    ck_assert_str_eq(o.secure_scheme_values[1], "https");
    config_http_options(&cfg, &o, NULL); /* max_head is optional */
}
END_TEST

START_TEST(test_http_options_settings)
{
    struct http_options o;

    options_of("--limit-request-line 100 --limit-request-fields 5 --limit-request-field_size 60 "
               "--limit-request-body 1k --permit-obsolete-folding "
               "--permit-unconventional-http-method --permit-unconventional-http-version "
               "--casefold-http-method --strip-header-spaces --header-map refuse "
               "--forwarder-headers SCRIPT_NAME,X_USER app:app",
               &o, 100, 5, 60);
    ck_assert_uint_eq(o.limit_request_body, 1024);
    ck_assert_uint_eq(o.flags, HTTP_PERMIT_OBS_FOLD | HTTP_PERMIT_UNCONVENTIONAL_METHOD |
                                   HTTP_PERMIT_UNCONVENTIONAL_VERSION | HTTP_CASEFOLD_METHOD |
                                   HTTP_STRIP_HEADER_SPACES);
    ck_assert(!(o.flags & HTTP_TRUSTED_PEER)); /* per connection, never from the settings */
    ck_assert_int_eq(o.header_map, HTTP_HEADER_MAP_REFUSE);
    ck_assert_uint_eq(o.num_forwarder_headers, 2);
    ck_assert_str_eq(o.forwarder_headers[1], "X_USER");

    options_of("--header-map dangerous app:app", &o, 4094, 100, 8190);
    ck_assert_int_eq(o.header_map, HTTP_HEADER_MAP_DANGEROUS);
}
END_TEST

/* 0 and too-large limits: what Gunicorn's parser makes of them, in the
 * options, the buffer size and cfg alike. */
/* The operating settings of Gunicorn's deployments, under its spellings. */
START_TEST(test_operating_settings)
{
    ck_assert_int_eq(load("app:app"), CONFIG_RUN);
    ck_assert_ptr_null(cfg.proc_name);
    ck_assert(!cfg.daemon && !cfg.reload && !cfg.reuse_port && !cfg.initgroups);
    ck_assert_ptr_null(cfg.statsd_host);
    ck_assert_int_eq(load("-n shop -D --reload --reload-extra-file a.html --reload-extra-file "
                          "b.txt --statsd-host localhost:8125 --statsd-prefix web. --reuse-port "
                          "--initgroups --worker-tmp-dir /tmp --print-config app:app"),
                     CONFIG_RUN);
    ck_assert_str_eq(cfg.proc_name, "shop");
    ck_assert(cfg.daemon && cfg.reload && cfg.reuse_port && cfg.initgroups && cfg.print_config);
    ck_assert_uint_eq(cfg.num_reload_extra_files, 2);
    ck_assert_str_eq(cfg.reload_extra_files[1], "b.txt");
    ck_assert_str_eq(cfg.statsd_host, "localhost:8125");
    ck_assert_str_eq(cfg.statsd_prefix, "web.");
    ck_assert_ptr_null(cfg.dogstatsd_tags);
    /* The tags' check belongs to the StatsD extra, plugged in as main.c does. */
    config_check_statsd_tags = statsd_check_tags;
    ck_assert_int_eq(load("--dogstatsd-tags env:prod,team:web app:app"), CONFIG_RUN);
    ck_assert_str_eq(cfg.dogstatsd_tags, "env:prod,team:web");
    expect_error("--dogstatsd-tags env:a|b app:app", "--dogstatsd-tags: 'env:a|b' may hold only "
                                                     "printable ASCII without '|' (tags like "
                                                     "env:prod,team:web)");
    expect_error("--dogstatsd-tags env:caf\xc3\xa9 app:app",
                 "--dogstatsd-tags: 'env:caf\xc3\xa9' may hold only printable ASCII without '|' "
                 "(tags like env:prod,team:web)");
    expect_error("--statsd-host localhost app:app", "--statsd-host: 'localhost' is not HOST:PORT");
    expect_error("--statsd-host h:0 app:app", "--statsd-host: bad port in 'h:0'");
    expect_error("--worker-tmp-dir /no/such/dir app:app",
                 "--worker-tmp-dir: '/no/such/dir' is not a directory");
}
END_TEST

/* --print-config: every setting once, as name = value, then the application. */
START_TEST(test_print_config)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    ck_assert_int_eq(load("-w 3 -b :9 -b unix:/s -k gthread -n shop app:app"), CONFIG_RUN);
    config_print(&cfg, out);
    fclose(out);
    ck_assert_ptr_nonnull(strstr(text, "\nworkers                          = 3\n"));
    ck_assert_ptr_nonnull(strstr(text, "bind                             = [':9', 'unix:/s']\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nworker-class                     = gthread\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nname                             = shop\n"));
    ck_assert_ptr_nonnull(strstr(text, "\npreload                          = False\n"));
    ck_assert_ptr_nonnull(strstr(text, "\napp                              = app:app\n"));
    ck_assert_ptr_null(strstr(text, "certfile")); /* not greenhorn's */
    free(text);
}
END_TEST

/* greenhorn(1): a tagged paragraph per option of --help, with its default,
 * in roff (a '-' typed as \-, a backslash as \e); the refused ones named. */
START_TEST(test_print_man)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    ck_assert_int_eq(config_print_man(out, "options"), 0);
    ck_assert_int_eq(config_print_man(out, "environment"), 0);
    ck_assert_int_eq(config_print_man(out, "nothing"), -1);
    fclose(out);
    ck_assert_ptr_nonnull(strstr(text, ".TP\n\\fB\\-w\\fR, \\fB\\-\\-workers\\fR \\fIINT\\fR\n"
                                       "the number of worker processes.\n"
                                       "Default: \\fB1\\fR, or \\fB$WEB_CONCURRENCY\\fR.\n"));
    ck_assert_ptr_nonnull(strstr(text, "\\fB\\-\\-error\\-logfile\\fR, \\fB\\-\\-log\\-file\\fR"));
    ck_assert_ptr_nonnull(
        strstr(text, "Default: \\fB127.0.0.1:8000\\fR, or \\fB0.0.0.0:$PORT\\fR."));
    ck_assert_ptr_nonnull(strstr(text, "Gunicorn's options\n\\fB\\-\\-certfile\\fR,\n"));
    ck_assert_ptr_nonnull(
        strstr(text, ".TP\n.B WEB_CONCURRENCY\nThe default of \\fB\\-\\-workers\\fR"));
    ck_assert_ptr_null(strstr(text, "\n.TP\n\\fB\\-\\-certfile")); /* not an option of ours */
    free(text);
}
END_TEST

START_TEST(test_http_options_unlimited)
{
    struct http_options o;

    options_of("--limit-request-line 0 --limit-request-fields 0 --limit-request-field_size 0 "
               "app:app",
               &o, 8190, 32768, 8190);
    ck_assert(cfg.limit_request_line == 8190 && cfg.limit_request_fields == 32768 &&
              cfg.limit_request_field_size == 8190);
    /* a field size has no ceiling, as in Gunicorn */
    options_of("--limit-request-line 9000 --limit-request-fields 40000 "
               "--limit-request-field_size 100000 app:app",
               &o, 8190, 32768, 100000);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_init_free_reuse);
    tcase_add_loop_test(tc, test_number_spellings, 0,
                        (int)(sizeof number_cases / sizeof number_cases[0]));
    tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof error_cases / sizeof error_cases[0]));
    tcase_add_test(tc, test_strings);
    tcase_add_test(tc, test_flags);
    tcase_add_test(tc, test_lists);
    tcase_add_test(tc, test_list_blanks_and_capacity);
    tcase_add_test(tc, test_repeatable);
    tcase_add_test(tc, test_choices);
    tcase_add_test(tc, test_proxy_protocol);
    tcase_add_test(tc, test_double_dash);
    tcase_add_test(tc, test_abbreviations);
    tcase_add_test(tc, test_access_log_format);
    tcase_add_test(tc, test_config_file_words);
    tcase_add_test(tc, test_gunicorn_sync_options);
    tcase_add_test(tc, test_gthread_options);
    tcase_add_test(tc, test_help_and_version);
    tcase_add_test(tc, test_web_concurrency);
    tcase_add_test(tc, test_port_and_forwarded_allow_ips);
    tcase_add_test(tc, test_cmd_args_quoting);
    tcase_add_test(tc, test_cmd_args_precedence);
    tcase_add_test(tc, test_cmd_args_errors);
    tcase_add_test(tc, test_addr_allowed);
    tcase_add_test(tc, test_http_options_defaults);
    tcase_add_test(tc, test_http_options_settings);
    tcase_add_test(tc, test_http_options_unlimited);
    tcase_add_test(tc, test_operating_settings);
    tcase_add_test(tc, test_print_config);
    tcase_add_test(tc, test_print_man);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return unit_run(config_suite());
}
