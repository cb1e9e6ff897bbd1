/*
 * proctitle.c - process titles: "greenhorn: master [NAME]" in ps.
 *
 * An extra: plugs into the set_title slot of plugins.h, which the master
 * (arbiter.c), each worker (worker.c) and the hook process
 * (master_hooks.c) call once they know what they are.  Gunicorn
 * counterpart: util._setproctitle with the setproctitle module, called as
 * "master [%s]" and "worker [%s]" % proc_name in arbiter.py, which shows
 * "gunicorn: master [app:app]".  Owns: the argv area, the saved argv, the
 * title's NAME.  Does not own: when a title changes (the drivers).
 *
 * How (nginx's ngx_setproctitle.c, PostgreSQL's ps_status.c): Linux has no
 * call that sets what ps prints; ps reads /proc/PID/cmdline, which is the
 * memory where the kernel put argv's strings, and environ's strings follow
 * them in the same block.  So at start the environment strings are copied
 * to the heap (environ points to the copies; getenv and setenv go on
 * working), and from then on argv[0] up to the end of the last environ
 * string is ours: a title is written there and the rest filled with NULs.
 * The kernel shows the block as the command line (if its last argv byte is
 * not a NUL any more, it reads on into the old environ area: a title
 * longer than the original command line shows whole).  /proc/PID/environ
 * then shows the title and NULs, as under nginx or Python's setproctitle.
 *
 * The process name (/proc/PID/comm: top, pgrep, the kernel's OOM-killer
 * lines) is set too, with prctl(PR_SET_NAME), to the title cut to 15 bytes
 * ("greenhorn: mast", "greenhorn: work", "greenhorn: hook"), as setproctitle
 * does for Gunicorn ("gunicorn: maste"): it keeps "greenhorn" for pgrep and
 * still tells the master from a worker.  Threads a worker starts inherit it.
 */
#include "proctitle.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

extern char **environ;

#define TITLE_MAX 4096 /* a longer title is cut */

/* The process's title state: set once by proctitle_init (and the name by
 * proctitle_name), inherited by every child through fork. */
static struct {
    char *area;  /* argv[0]: where the title is written; NULL = titles off */
    size_t size; /* bytes from argv[0] to the end of the last string we own */
    char **argv; /* the original argv, copied */
    char *name;  /* NAME, copied; NULL = none */
    /* The moved environment, kept here too: setenv may put a copy of the
     * array in environ and forget this one. */
    char **env;
} title;

/* A NULL-terminated copy of n strings, or NULL (nothing leaks). */
static char **copy_strings(char *const *strings, size_t n)
{
    char **copy = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; copy != NULL && i < n; i++) {
        if ((copy[i] = strdup(strings[i])) == NULL) {
            while (i-- > 0)
                free(copy[i]);
            free(copy);
            copy = NULL;
        }
    }
    return copy;
}

/* Where the kernel put this process's argv strings (start) and where its
 * environ strings end (end): fields 48 and 51 of /proc/self/stat (Linux
 * 3.5 on; proc(5)).  0, or -1 when they cannot be read. */
static int kernel_block(char **start, char **end)
{
    char buf[2048];
    unsigned long long arg_start = 0, env_end = 0;
    FILE *f = fopen("/proc/self/stat", "re");
    size_t n = f != NULL ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f != NULL)
        fclose(f);
    buf[n] = '\0';
    /* after the name, which is in parentheses and may hold anything */
    char *p = strrchr(buf, ')');
    int field = 2;
    for (; p != NULL && *p != '\0'; p++) {
        if (*p != ' ')
            continue;
        field++;
        if (field == 48)
            arg_start = strtoull(p + 1, NULL, 10);
        else if (field == 51)
            env_end = strtoull(p + 1, NULL, 10);
    }
    if (arg_start == 0 || env_end <= arg_start)
        return -1;
    *start = (char *)(uintptr_t)arg_start;
    *end = (char *)(uintptr_t)env_end;
    return 0;
}

/* proctitle_init - see proctitle.h. */
char **proctitle_init(int argc, char **argv)
{
    size_t nenv = 0;
    char *start = argv[0], *block_end = NULL;

    if (argc < 1 || argv[0] == NULL || (title.argv = copy_strings(argv, (size_t)argc)) == NULL)
        return argv;
    /* When python3 runs greenhorn (pyhost.c), argv is a copy of the words
     * after "python3 -c BOOT MODULE", and the kernel's block holds all of
     * them: /proc tells where it is, and it is ours (CPython keeps copies
     * of its arguments, and the environment is moved below). */
    if (kernel_block(&start, &block_end) == 0 && start == argv[0])
        block_end = NULL; /* argv is the kernel's own: found as below */
    /* The area: argv's strings while they lie end to end, then environ's. */
    char *end = argv[0];
    int i = 0;
    while (i < argc && argv[i] == end)
        end += strlen(argv[i++]) + 1;
    if (i == argc || block_end != NULL) {
        while (environ != NULL && environ[nenv] != NULL)
            nenv++;
        char **env = copy_strings(environ, nenv);
        if (env != NULL) {
            for (size_t k = 0; k < nenv && environ[k] == end; k++)
                end += strlen(environ[k]) + 1;
            environ = title.env = env; /* the originals are ours to overwrite now */
        } else {
            block_end = NULL; /* environ still points into the block */
        }
    }
    if (block_end != NULL) {
        title.area = start;
        title.size = (size_t)(block_end - start);
    } else {
        title.area = argv[0];
        title.size = (size_t)(end - argv[0]);
    }
    return title.argv;
}

/* proctitle_argv - see proctitle.h. */
char *const *proctitle_argv(void)
{
    return title.argv;
}

/* proctitle_name - see proctitle.h. */
void proctitle_name(const char *name, const char *suffix)
{
    free(title.name);
    title.name = NULL;
    if (name != NULL && name[0] != '\0' && asprintf(&title.name, "%s%s", name, suffix) < 0)
        title.name = NULL;
}

/* proctitle_promoted - see proctitle.h. */
void proctitle_promoted(void)
{
    size_t len = title.name != NULL ? strlen(title.name) : 0;

    if (len > 2 && strcmp(title.name + len - 2, ".2") == 0)
        title.name[len - 2] = '\0';
    proctitle_set("master");
}

/* proctitle_set - see proctitle.h. */
void proctitle_set(const char *role)
{
    char text[TITLE_MAX];

    if (title.name != NULL)
        snprintf(text, sizeof text, "greenhorn: %s [%s]", role, title.name);
    else
        snprintf(text, sizeof text, "greenhorn: %s", role);
    prctl(PR_SET_NAME, text, 0, 0, 0); /* the kernel keeps the first 15 bytes */
    if (title.area == NULL || title.size < 2)
        return;
    size_t len = strlen(text);
    if (len > title.size - 1)
        len = title.size - 1; /* the area is what the kernel gave: the title is cut */
    memcpy(title.area, text, len);
    memset(title.area + len, '\0', title.size - len);
}
