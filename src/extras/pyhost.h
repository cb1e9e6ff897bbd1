/*
 * pyhost.h - greenhorn run by python3 itself, as an extension module (an
 * extra; see pyhost.c for why).
 */
#ifndef GREENHORN_PYHOST_H
#define GREENHORN_PYHOST_H

#include "config.h"

/*
 * pyhost_exec - once the settings are read, and before anything is bound,
 * forked or taken out of the environment: replace this process (same pid)
 * with python3 running greenhorn.so, the same server built as an extension
 * module, with the same command line.  Returns (and greenhorn goes on with
 * its own, embedded interpreter) when this process already runs inside
 * python3, when $GREENHORN_EMBED is set, when no greenhorn.so or no python
 * for it is found, or when exec fails.
 */
void pyhost_exec(const struct config *cfg, int argc, char *const *argv);

/* pyhost_hosted - 1 when this process is python3 running greenhorn.so. */
int pyhost_hosted(void);

#endif
