/*
 * config_internal.h - the settings table, as the files of stage 1 share it.
 *
 * Stage 1, config (Gunicorn counterpart: gunicorn/config.py).
 * Private to stage 1: only config.c and config_args.c include it.  Everyone
 * else uses config.h, the one public header.
 * Owns: the shape of a row of the settings table (struct config_setting) and
 * the few functions of config.c that config_args.c calls to set values.
 * Does not own: the rows (config.c) or the command-line grammar
 * (config_args.c).
 */
#ifndef GREENHORN_CONFIG_INTERNAL_H
#define GREENHORN_CONFIG_INTERNAL_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>

/* The kind of value a setting takes; each kind has one parser in config_set_value(). */
enum config_opt_kind {
    OPT_FLAG,    /* bool; present = true; takes no value */
    OPT_INT,     /* int within [min, max] */
    OPT_UINT,    /* unsigned within [min, max] */
    OPT_BYTES,   /* uint64_t: a size, "1048576", "64k", "10m", "1g" */
    OPT_MODE,    /* int: a file mode such as 0o22, 022, 0x12 or 18, up to max */
    OPT_STRING,  /* char *; "" leaves it unset (NULL) */
    OPT_LIST,    /* struct config_list from "a,b,c" */
    OPT_ADDRS,   /* a list of IP addresses or networks, or "*" */
    OPT_APPEND,  /* char *[] plus a count: one value per use (-b, -e) */
    OPT_CHOICE,  /* one word of choices[] (any case) */
    OPT_HELP,    /* print --help, stop */
    OPT_VERSION, /* print the version, stop */
    OPT_ABSENT,  /* Gunicorn has it, greenhorn does not yet: help says what to use instead */
};

struct config_choice {
    const char *name;
    int value;
};

struct config_setting {
    const char *names[3]; /* long spellings without "--"; names[0] is the one errors use */
    char short_name;      /* 'w' for -w; 0 = none */
    enum config_opt_kind kind;
    size_t offset;                       /* where the value lives in struct config */
    size_t count_offset;                 /* OPT_APPEND: where its count lives */
    long long min, max;                  /* numbers: bounds; OPT_APPEND: max is the capacity */
    const struct config_choice *choices; /* OPT_CHOICE: ends with a NULL name */
    void (*store)(struct config *, int); /* OPT_CHOICE: enum fields differ in type */
    int (*check)(const char *, char *, size_t); /* OPT_APPEND, OPT_STRING: validates a value */
    const char *bare;       /* value when given without one; NULL = a value is required */
    const char *def;        /* default, as text, read by the same parser; NULL = none */
    const char *env;        /* environment variable that replaces the default */
    const char *env_prefix; /* put before the variable's value ("0.0.0.0:" for $PORT) */
    const char *meta;       /* what --help shows as the value */
    const char *help;       /* one line for --help; Gunicorn's wording where it has one */
    const char *instead;    /* OPT_ABSENT, and OPT_CHOICE words valued CONFIG_ABSENT: what
                               greenhorn offers in its place, ending the one-line error */
};

/* A bound on the rows, so config_args.c can keep one slot per setting in
 * its loader; config.c checks it when it compiles. */
#define CONFIG_MAX_SETTINGS 96

/* The table (config.c).  Order is the order of --help.  Rows without
 * names[0] have no command-line form. */
extern const struct config_setting config_settings[];
extern const size_t config_num_settings;

/*
 * config_explain - vsnprintf a reason into why (whylen bytes) and return -1,
 * for `return config_explain(...)`.
 */
int config_explain(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* config_is_blank - SP, HTAB, CR or LF: what Gunicorn strips and the shell splits on. */
bool config_is_blank(char c);

/*
 * config_set_value - trim value (NULL for flags, read as "") and store it in
 * cfg as setting s says.  Returns 0, or -1 with "LABEL--name: reason" in err,
 * or CONFIG_ABSENT with the same kind of line for a setting (or a worker
 * class) greenhorn does not have.
 * A string or list value replaces the old one (freed); an OPT_APPEND value
 * is added to the array.
 */
int config_set_value(struct config *cfg, const struct config_setting *s, const char *value,
                     const char *label, char *err, size_t errlen);

/*
 * config_parse_choice - the value of the OPT_CHOICE word text (any case) in
 * *value.  Returns 0, or -1 with "'x' is not one of a, b, c" in why.
 */
int config_parse_choice(const struct config_setting *s, const char *text, int *value, char *why,
                        size_t whylen);

/*
 * config_parse_number - text as a decimal whole number within [min, max]
 * into *out.  Returns 0, or -1 with the reason ("'x' is not a whole
 * number", "9 is above 8") in why.
 */
int config_parse_number(const char *text, long long min, long long max, long long *out, char *why,
                        size_t whylen);

/* config_is_address - "*", an address or a network ("10.0.0.0/8") a trust list
 * may hold (config_trust.c). */
bool config_is_address(const char *item);

/* config_append_clear - free every value of the OPT_APPEND setting s in cfg; count 0. */
void config_append_clear(struct config *cfg, const struct config_setting *s);

#endif
