/*
 * config_file.h - reading a Gunicorn config file (see config_file.c).
 */
#ifndef GREENHORN_CONFIG_FILE_H
#define GREENHORN_CONFIG_FILE_H

#include "config.h"

/*
 * config_file_words - run a Gunicorn config file (Python) in a short-lived
 * child process, so that the caller (the master) never starts Python, and
 * return its settings as command-line words for config_load_file: *words
 * (free it) points into *buf (free it too), *count words.  *master_hooks
 * gets the master's hooks the file defines, as bits 1 << enum master_hook.
 * Returns 0, or -1 with err such as
 * "gunicorn.conf.py: NameError: name 'x' is not defined".
 */
int config_file_words(const struct config *cfg, const char *path, char **buf, char ***words,
                      int *count, unsigned *master_hooks, char *err, size_t errlen);

/*
 * config_exec_source - Python: run_config(path, source=None) executes a
 * config file (source: its bytes, else the file is read) as Gunicorn does
 * and returns its namespace (a dict).  Shared by the reader in
 * config_file.c and by the worker hooks in hooks.c, so both see the same file
 * the same way.
 */
extern const char config_exec_source[];

#endif
