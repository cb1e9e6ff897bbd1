/*
 * test_bind.c - unit tests for stage 2, bind (src/bind.c).
 *
 * Owns: the table of good and bad -b spellings, and real binds on loopback:
 * TCP on 127.0.0.1 and ::1 (ephemeral ports), a unix socket in a private
 * temporary directory, an address already in use, and an inherited fd://.
 * Does not own: accepting or serving (worker tests).
 * Gunicorn counterpart: tests/test_util.py (parse_address) and tests/test_sock.py.
 */
#include "bind.h"
#include "systemd.h"
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- parsing ---------------------------------------------------------- */

static const struct good_spec {
    const char *spec;
    enum bind_kind kind;
    const char *host; /* BIND_TCP */
    unsigned port;    /* BIND_TCP */
    const char *path; /* BIND_UNIX */
    int fd;           /* BIND_FD */
} good_specs[] = {
    {"127.0.0.1:8000", BIND_TCP, "127.0.0.1", 8000, NULL, -1},
    {"127.0.0.1", BIND_TCP, "127.0.0.1", 8000, NULL, -1},
    {"localhost:1", BIND_TCP, "localhost", 1, NULL, -1},
    {"Example.COM:65535", BIND_TCP, "example.com", 65535, NULL, -1},
    {"my_service:8080", BIND_TCP, "my_service", 8080, NULL, -1},
    {":9000", BIND_TCP, "", 9000, NULL, -1},
    {"0.0.0.0:080", BIND_TCP, "0.0.0.0", 80, NULL, -1},
    {"tcp://10.1.2.3:81", BIND_TCP, "10.1.2.3", 81, NULL, -1},
    {"[::1]:8000", BIND_TCP, "::1", 8000, NULL, -1},
    {"[::]:443", BIND_TCP, "::", 443, NULL, -1},
    {"[fe80::1]", BIND_TCP, "fe80::1", 8000, NULL, -1},
    {"unix:/run/app.sock", BIND_UNIX, NULL, 0, "/run/app.sock", -1},
    {"unix://run/app.sock", BIND_UNIX, NULL, 0, "run/app.sock", -1},
    {"unix:relative.sock", BIND_UNIX, NULL, 0, "relative.sock", -1},
    {"fd://3", BIND_FD, NULL, 0, NULL, 3},
    {"fd://0", BIND_FD, NULL, 0, NULL, 0},
};

START_TEST(test_parse_good)
{
    const struct good_spec *g = &good_specs[_i];
    struct bind_addr a;
    char err[256] = "";

    ck_assert_msg(bind_parse(g->spec, &a, err, sizeof err) == 0, "%s: %s", g->spec, err);
    ck_assert_int_eq(a.kind, g->kind);
    if (g->kind == BIND_TCP) {
        ck_assert_str_eq(a.host, g->host);
        ck_assert_uint_eq(a.port, g->port);
    }
    if (g->kind == BIND_UNIX)
        ck_assert_str_eq(a.path, g->path);
    ck_assert_int_eq(a.fd, g->fd);
}
END_TEST

static const struct bad_spec {
    const char *spec;
    const char *err; /* the whole message */
} bad_specs[] = {
    {"", "empty address"},
    {"127.0.0.1:99999", "bad port '99999' in '127.0.0.1:99999'"},
    {"127.0.0.1:0", "bad port '0' in '127.0.0.1:0'"},
    {"127.0.0.1:", "bad port '' in '127.0.0.1:'"},
    {"127.0.0.1:+80", "bad port '+80' in '127.0.0.1:+80'"},
    {"127.0.0.1: 80", "bad port ' 80' in '127.0.0.1: 80'"},
    {"127.0.0.1:80x", "bad port '80x' in '127.0.0.1:80x'"},
    {"127.0.0.1:123456", "bad port '123456' in '127.0.0.1:123456'"},
    {"bad host:80", "bad host 'bad host' in 'bad host:80'"},
    {"a/b:80", "bad host 'a/b' in 'a/b:80'"},
    {"::1", "an IPv6 address needs brackets, as in '[::1]:8000', in '::1'"},
    {"::1:8000", "an IPv6 address needs brackets, as in '[::1]:8000', in '::1:8000'"},
    {"[::1", "missing ']' in '[::1'"},
    {"[]:80", "bad IPv6 address in '[]:80'"},
    {"[localhost]:80", "bad IPv6 address 'localhost' in '[localhost]:80'"},
    {"[::1]8000", "bad port '8000' in '[::1]8000'"},
    {"[::1]:", "bad port '' in '[::1]:'"},
    {"[::1]:70000", "bad port '70000' in '[::1]:70000'"},
    {"unix:", "no socket path in 'unix:'"},
    {"unix://", "no socket path in 'unix://'"},
    {"fd://", "bad file descriptor '' in 'fd://'"},
    {"fd://x", "bad file descriptor 'x' in 'fd://x'"},
    {"fd://-1", "bad file descriptor '-1' in 'fd://-1'"},
    {"fd://3x", "bad file descriptor '3x' in 'fd://3x'"},
};

START_TEST(test_parse_bad)
{
    const struct bad_spec *b = &bad_specs[_i];
    struct bind_addr a;
    char err[256] = "";

    ck_assert_int_eq(bind_parse(b->spec, &a, err, sizeof err), -1);
    ck_assert_str_eq(err, b->err);
}
END_TEST

START_TEST(test_parse_long_unix_path)
{
    struct bind_addr a;
    char spec[300], err[256] = "";
    size_t max = sizeof a.path - 1; /* room for the NUL */

    snprintf(spec, sizeof spec, "unix:/%0*d", (int)max - 1, 0);
    ck_assert_int_eq(bind_parse(spec, &a, err, sizeof err), 0);
    ck_assert_uint_eq(strlen(a.path), max);
    snprintf(spec, sizeof spec, "unix:/%0*d", (int)max, 0);
    ck_assert_int_eq(bind_parse(spec, &a, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "socket path longer than 107 bytes") != NULL, "%s", err);
}
END_TEST

/* ---- real sockets ----------------------------------------------------- */

/* The socket's flags and options a worker relies on. */
static void assert_listening_socket(int fd, bool tcp)
{
    int value = 0;
    socklen_t len = sizeof value;

    ck_assert_int_ne(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &len), 0);
    ck_assert_int_eq(value, 1);
    if (!tcp)
        return;
    ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &value, &len), 0);
    ck_assert_int_ne(value, 0);
    ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &len), 0);
    ck_assert_int_ne(value, 0);
}

/* connect_ok - does a client get through to addr (len bytes)? */
static bool connect_ok(int family, const void *addr, socklen_t len)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok = fd >= 0 && connect(fd, (const struct sockaddr *)addr, len) == 0;

    if (fd >= 0)
        close(fd);
    return ok;
}

/* tcp_addr - a TCP bind_addr for host with port 0 (the kernel picks a free one). */
static struct bind_addr tcp_addr(const char *host)
{
    struct bind_addr a;

    memset(&a, 0, sizeof a);
    a.kind = BIND_TCP;
    a.fd = -1;
    snprintf(a.host, sizeof a.host, "%s", host);
    return a;
}

START_TEST(test_listen_ipv4_ephemeral)
{
    struct bind_addr a = tcp_addr("127.0.0.1");
    struct listener l;
    struct sockaddr_in sin;
    char err[256] = "", url[64];
    socklen_t len = sizeof sin;

    ck_assert_msg(bind_listen(&a, 16, &l, err, sizeof err) == 0, "%s", err);
    assert_listening_socket(l.fd, true);
    ck_assert_int_eq(l.family, AF_INET);
    ck_assert_int_eq(getsockname(l.fd, (struct sockaddr *)&sin, &len), 0);
    ck_assert_uint_ne(ntohs(sin.sin_port), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    ck_assert_str_eq(l.url, url);
    ck_assert_str_eq(l.server_name, "127.0.0.1");
    ck_assert_int_eq(atoi(l.server_port), ntohs(sin.sin_port));
    ck_assert(connect_ok(AF_INET, &sin, sizeof sin));
    bind_close(&l);
    ck_assert_int_eq(l.fd, -1);
    bind_close(&l); /* twice is harmless */
    ck_assert(!connect_ok(AF_INET, &sin, sizeof sin));
}
END_TEST

START_TEST(test_listen_hostname_and_any)
{
    struct bind_addr named = tcp_addr("localhost");
    struct bind_addr any = tcp_addr("");
    struct listener l;
    char err[256] = "";

    /* A name is looked up as IPv4, as Gunicorn does, and shown as the number. */
    ck_assert_msg(bind_listen(&named, 16, &l, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(l.family, AF_INET);
    ck_assert_str_eq(l.server_name, "127.0.0.1");
    bind_close(&l);
    ck_assert_msg(bind_listen(&any, 16, &l, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(l.server_name, "0.0.0.0");
    ck_assert(strncmp(l.url, "http://0.0.0.0:", 15) == 0);
    bind_close(&l);
}
END_TEST

START_TEST(test_listen_ipv6)
{
    struct bind_addr a = tcp_addr("::1");
    struct listener l;
    struct sockaddr_in6 sin6;
    socklen_t len = sizeof sin6;
    char err[256] = "", url[64];
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 loop = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};

    if (probe < 0 || bind(probe, (struct sockaddr *)&loop, sizeof loop) < 0) {
        printf("test_listen_ipv6: skipped, no IPv6 loopback here (%s)\n", strerror(errno));
        if (probe >= 0)
            close(probe);
        return;
    }
    close(probe);
    ck_assert_msg(bind_listen(&a, 16, &l, err, sizeof err) == 0, "%s", err);
    assert_listening_socket(l.fd, true);
    ck_assert_int_eq(l.family, AF_INET6);
    ck_assert_int_eq(getsockname(l.fd, (struct sockaddr *)&sin6, &len), 0);
    snprintf(url, sizeof url, "http://[::1]:%u", (unsigned)ntohs(sin6.sin6_port));
    ck_assert_str_eq(l.url, url);
    ck_assert_str_eq(l.server_name, "::1");
    ck_assert(connect_ok(AF_INET6, &sin6, sizeof sin6));
    bind_close(&l);
}
END_TEST

START_TEST(test_address_in_use)
{
    struct bind_addr a = tcp_addr("127.0.0.1");
    struct bind_addr again;
    struct listener first, second;
    char err[256] = "", spec[64], expect[96];

    ck_assert_msg(bind_listen(&a, 16, &first, err, sizeof err) == 0, "%s", err);
    snprintf(spec, sizeof spec, "127.0.0.1:%s", first.server_port);
    ck_assert_int_eq(bind_parse(spec, &again, err, sizeof err), 0);
    ck_assert_int_eq(bind_listen(&again, 16, &second, err, sizeof err), -1);
    snprintf(expect, sizeof expect, "%s: Address already in use", spec);
    ck_assert_str_eq(err, expect);
    ck_assert_int_eq(second.fd, -1);
    bind_close(&second); /* a failed listener closes nothing */
    bind_close(&first);
}
END_TEST

/* A private directory for unix socket tests; removed (with its socket) at the end. */
static char tmpdir[64];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");

    snprintf(tmpdir, sizeof tmpdir, "%s/greenhorn-bind-XXXXXX", base != NULL ? base : P_tmpdir);
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

START_TEST(test_listen_unix)
{
    struct bind_addr a;
    struct listener l, again;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct stat st;
    char spec[128], path[96], err[256] = "", expect[160];

    make_tmpdir();
    snprintf(path, sizeof path, "%s/app.sock", tmpdir);
    snprintf(spec, sizeof spec, "unix:%s", path);
    ck_assert_int_eq(bind_parse(spec, &a, err, sizeof err), 0);
    ck_assert_msg(bind_listen(&a, 16, &l, err, sizeof err) == 0, "%s", err);
    assert_listening_socket(l.fd, false);
    ck_assert_int_eq(l.family, AF_UNIX);
    ck_assert_str_eq(l.url, spec);
    ck_assert_str_eq(l.server_name, path);
    ck_assert_str_eq(l.server_port, "");
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    ck_assert_int_eq(st.st_mode & 0777, 0777); /* bound under umask 0, as Gunicorn */
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    ck_assert(connect_ok(AF_UNIX, &sun, sizeof sun));

    /* A second server on a live path fails instead of stealing it. */
    ck_assert_int_eq(bind_listen(&a, 16, &again, err, sizeof err), -1);
    snprintf(expect, sizeof expect, "%s: Address already in use", spec);
    ck_assert_str_eq(err, expect);
    ck_assert(connect_ok(AF_UNIX, &sun, sizeof sun));

    /* Closed without unlinking, as after a crash: the stale file is replaced. */
    close(l.fd);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert_msg(bind_listen(&a, 16, &l, err, sizeof err) == 0, "%s", err);
    ck_assert(connect_ok(AF_UNIX, &sun, sizeof sun));
    bind_close(&l);
    ck_assert_int_eq(lstat(path, &st), -1); /* bind_close removed the file */

    /* --umask 027: owner and group only; the process's own umask is restored. */
    mode_t before = umask(022);
    a.umask = 027;
    ck_assert_msg(bind_listen(&a, 16, &l, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0750);
    ck_assert_int_eq(umask(before), 022);
    bind_close(&l);
    ck_assert_int_eq(rmdir(tmpdir), 0);
}
END_TEST

START_TEST(test_listen_unix_refuses_regular_file)
{
    struct bind_addr a;
    struct listener l;
    struct stat st;
    char spec[128], path[96], err[256] = "", expect[160];
    FILE *f;

    make_tmpdir();
    snprintf(path, sizeof path, "%s/not-a-socket", tmpdir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(spec, sizeof spec, "unix:%s", path);
    ck_assert_int_eq(bind_parse(spec, &a, err, sizeof err), 0);
    ck_assert_int_eq(bind_listen(&a, 16, &l, err, sizeof err), -1);
    snprintf(expect, sizeof expect, "%s: exists and is not a socket", spec);
    ck_assert_str_eq(err, expect);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode)); /* untouched */
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(tmpdir), 0);
}
END_TEST

START_TEST(test_listen_inherited_fd)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* blocking, inheritable: as a parent leaves it */
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    struct bind_addr a;
    struct listener l;
    char spec[32], err[256] = "", url[64];

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    snprintf(spec, sizeof spec, "fd://%d", fd);
    ck_assert_int_eq(bind_parse(spec, &a, err, sizeof err), 0);
    ck_assert_msg(bind_listen(&a, 16, &l, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(l.fd, fd);
    assert_listening_socket(fd, true);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)ntohs(sin.sin_port));
    ck_assert_str_eq(l.url, url);
    ck_assert(connect_ok(AF_INET, &sin, sizeof sin));
    bind_close(&l);
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1); /* closed */
}
END_TEST

START_TEST(test_inherited_fd_must_listen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* never listen()ed */
    struct bind_addr a;
    struct listener l;
    char spec[32], err[256] = "", expect[96];

    ck_assert_int_ge(fd, 0);
    snprintf(spec, sizeof spec, "fd://%d", fd);
    ck_assert_int_eq(bind_parse(spec, &a, err, sizeof err), 0);
    ck_assert_int_eq(bind_listen(&a, 16, &l, err, sizeof err), -1);
    snprintf(expect, sizeof expect, "%s: not a listening stream socket", spec);
    ck_assert_str_eq(err, expect);
    ck_assert_int_ne(fcntl(fd, F_GETFD), -1); /* still the caller's, still open */
    close(fd);

    ck_assert_int_eq(bind_parse("fd://900", &a, err, sizeof err), 0);
    ck_assert_int_eq(bind_listen(&a, 16, &l, err, sizeof err), -1);
    ck_assert_str_eq(err, "fd://900: Bad file descriptor");
}
END_TEST

/* Socket activation: the variables count only when LISTEN_PID is us. */
START_TEST(test_activated_variables)
{
    char pid[24], err[256] = "";

    snprintf(pid, sizeof pid, "%d", (int)getpid());
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    ck_assert_int_eq(systemd_listen_fds(8, err, sizeof err), 0); /* not activated */

    setenv("LISTEN_PID", "1", 1); /* another process's */
    setenv("LISTEN_FDS", "2", 1);
    ck_assert_int_eq(systemd_listen_fds(8, err, sizeof err), 0);
    ck_assert_str_eq(getenv("LISTEN_FDS"), "2"); /* left alone */

    setenv("LISTEN_PID", pid, 1);
    ck_assert_int_eq(systemd_listen_fds(8, err, sizeof err), 2);
    ck_assert_ptr_null(getenv("LISTEN_PID")); /* removed once taken */
    ck_assert_ptr_null(getenv("LISTEN_FDS"));

    setenv("LISTEN_PID", pid, 1);
    setenv("LISTEN_FDS", "9", 1);
    ck_assert_int_eq(systemd_listen_fds(8, err, sizeof err), -1);
    ck_assert_str_eq(err, "LISTEN_FDS: '9' is not a number of sockets from 1 to 8");
    setenv("LISTEN_FDS", "2x", 1);
    ck_assert_int_eq(systemd_listen_fds(8, err, sizeof err), -1);
    ck_assert_str_eq(err, "LISTEN_FDS: '2x' is not a number of sockets from 1 to 8");
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
}
END_TEST

static Suite *bind_suite(void)
{
    Suite *s = suite_create("bind");
    TCase *parse = tcase_create("parse");
    TCase *sockets = tcase_create("sockets");

    tcase_add_loop_test(parse, test_parse_good, 0, (int)(sizeof good_specs / sizeof good_specs[0]));
    tcase_add_loop_test(parse, test_parse_bad, 0, (int)(sizeof bad_specs / sizeof bad_specs[0]));
    tcase_add_test(parse, test_parse_long_unix_path);
    tcase_add_test(sockets, test_listen_ipv4_ephemeral);
    tcase_add_test(sockets, test_listen_hostname_and_any);
    tcase_add_test(sockets, test_listen_ipv6);
    tcase_add_test(sockets, test_address_in_use);
    tcase_add_test(sockets, test_listen_unix);
    tcase_add_test(sockets, test_listen_unix_refuses_regular_file);
    tcase_add_test(sockets, test_listen_inherited_fd);
    tcase_add_test(sockets, test_inherited_fd_must_listen);
    tcase_add_test(sockets, test_activated_variables);
    suite_add_tcase(s, parse);
    suite_add_tcase(s, sockets);
    return s;
}

int main(void)
{
    return unit_run(bind_suite());
}
