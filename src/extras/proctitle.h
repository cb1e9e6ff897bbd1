/*
 * proctitle.h - process titles, as ps shows them (an extra; see proctitle.c).
 */
#ifndef GREENHORN_PROCTITLE_H
#define GREENHORN_PROCTITLE_H

/*
 * proctitle_init - first thing in main, before anything keeps a pointer
 * into argv or environ.  Moves the environment strings to the heap, so
 * that the memory the kernel gave argv and environ (one contiguous area)
 * may be overwritten by proctitle_set.  Returns a copy of argv (argc
 * strings and a NULL, on the heap, never overwritten): main reads its
 * options from it, and a re-exec of greenhorn (USR2) runs it.  If memory
 * runs out, returns argv itself and titles stay as they are.
 */
char **proctitle_init(int argc, char **argv);

/* The copy proctitle_init returned (NULL before it ran): the original
 * command line, for anything that must run greenhorn again. */
char *const *proctitle_argv(void);

/* The NAME of "greenhorn: ROLE [NAME]": -n/--name, or the app, then suffix
 * ("" or ".2"), copied. */
void proctitle_name(const char *name, const char *suffix);

/* proctitle_promoted - the new master of a binary upgrade, once the old one
 * has exited: its NAME loses the ".2" it had meanwhile, as Gunicorn's. */
void proctitle_promoted(void);

/*
 * proctitle_set - this process's title becomes "greenhorn: ROLE [NAME]"
 * (ps, /proc/PID/cmdline), and its name (/proc/PID/comm, top, pgrep) the
 * same title cut to the kernel's 15 bytes.  The plugins.h set_title slot.
 */
void proctitle_set(const char *role);

#endif
