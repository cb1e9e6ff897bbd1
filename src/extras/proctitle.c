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

#include <errno.h>
#include <stdbool.h>
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

/* How many words come before ours in the process's own argv, which starts
 * at first: 0 when greenhorn was started directly, 4 ("python3.11 -c BOOT
 * MODULE") when python3 runs it (pyhost.c).  The words must lie end to
 * end, as the kernel (or valgrind, for its program) lays them out.  -1
 * when argv is not found there. */
static int words_before(const char *first, int argc, char *const *argv)
{
    for (int skip = 0; skip <= 4; skip += 4) {
        const char *p = first;
        int i = 0;
        for (; i < skip; i++)
            p += strlen(p) + 1;
        for (i = 0; i < argc && strcmp(p, argv[i]) == 0; i++)
            p += strlen(p) + 1;
        if (i == argc)
            return skip;
    }
    return -1;
}

/* proctitle_init - see proctitle.h. */
char **proctitle_init(int argc, char **argv)
{
    size_t nenv = 0;

    if (argc < 1 || argv[0] == NULL || (title.argv = copy_strings(argv, (size_t)argc)) == NULL)
        return argv;
    /* The process's argv[0], as its main got it (glibc keeps it): ours,
     * or, when python3 runs greenhorn, python3's, whose last words are a
     * copy of ours.  CPython keeps copies of its arguments, so that block
     * is ours to overwrite as well.  Under valgrind it is the copy valgrind
     * made for its program, never valgrind's own (its options live there). */
    char *first = program_invocation_name;
    if (first == NULL || words_before(first, argc, argv) < 0)
        first = argv[0];
    /* The area: argv's strings while they lie end to end, then environ's. */
    char *end = first;
    bool whole = true;
    if (first != argv[0]) { /* python3's: checked to be end to end above */
        for (int k = words_before(first, argc, argv) + argc; k > 0; k--)
            end += strlen(end) + 1;
    } else {
        int i = 0;
        while (i < argc && argv[i] == end)
            end += strlen(argv[i++]) + 1;
        whole = i == argc;
    }
    if (whole) {
        while (environ != NULL && environ[nenv] != NULL)
            nenv++;
        char **env = copy_strings(environ, nenv);
        if (env != NULL) {
            for (size_t k = 0; k < nenv && environ[k] == end; k++)
                end += strlen(environ[k]) + 1;
            environ = title.env = env; /* the originals are ours to overwrite now */
        }
    }
    title.area = first;
    title.size = (size_t)(end - first);
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
