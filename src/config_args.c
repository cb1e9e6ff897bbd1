/*
 * config_args.c - stage 1: the command line, $GUNICORN_CMD_ARGS and --help.
 *
 * Gunicorn counterpart: gunicorn/config.py (Config.parser, the argparse
 * options) and gunicorn/app/base.py load_config (the order of the sources).
 * Owns: config_load (defaults, then a config file's settings, then
 * $GUNICORN_CMD_ARGS, then the command line, each winning over the ones
 * before setting by setting), the option grammar, splitting
 * $GUNICORN_CMD_ARGS like a shell, and config_print_help.  The config file
 * itself is Python, run by wsgi.c in a child process, which hands its
 * settings over as command-line words.
 * Does not own: the settings themselves, their defaults or how a value is
 * parsed and checked (config.c; this file reaches them through
 * config_internal.h).
 *
 * Command-line grammar, as Gunicorn's argparse reads it: --name=value,
 * --name value, -w 4, -w4, -w=4; a long name may be shortened while only one
 * option starts that way (--grace 5); flags take no value; "--" ends the options;
 * exactly one positional, the application MODULE[:VARIABLE].  A value is
 * always the next word, even one starting with '-' (so "-t -1" reports that
 * -1 is below 0 rather than an unknown option "-1").
 */
#include "config_internal.h"

#include "http.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where a setting's current value came from; a stronger source replaces a weaker one. */
enum origin { FROM_DEFAULT, FROM_FILE, FROM_ENV_ARGS, FROM_ARGV };

/* What config_load carries while reading one source of words. */
struct loader {
    struct config *cfg;
    struct config scratch;                   /* sink for $GUNICORN_CMD_ARGS values argv overrides */
    enum origin origin[CONFIG_MAX_SETTINGS]; /* who set each setting */
    enum origin source;                      /* the source being read */
    const char *label;                       /* "" or "$GUNICORN_CMD_ARGS: ", put before errors */
    const char *first_app;                   /* the first positional of this source, or NULL */
    enum origin app_origin;                  /* the source the application came from */
    FILE *out;
    char *err;
    size_t errlen;
};

/* find - the setting spelled --name (len bytes, without "--"), or -c when name is NULL. */
static const struct config_setting *find(const char *name, size_t len, char c)
{
    for (size_t i = 0; i < config_num_settings; i++) {
        for (size_t k = 0; k < 3 && name != NULL && config_settings[i].names[k] != NULL; k++) {
            if (strlen(config_settings[i].names[k]) == len &&
                strncmp(config_settings[i].names[k], name, len) == 0)
                return &config_settings[i];
        }
        if (name == NULL && c != 0 && config_settings[i].short_name == c)
            return &config_settings[i];
    }
    return NULL;
}

/*
 * find_prefix - argparse's abbreviations: "--grace" is --graceful-timeout
 * because no other long option starts with "grace".  Returns that setting, or NULL with
 * *matches the number of settings whose names start with name (0: unknown;
 * 2 or more: ambiguous, and their names, comma-separated, are in alts).
 */
static const struct config_setting *find_prefix(const char *name, size_t len, int *matches,
                                                char *alts, size_t altslen)
{
    const struct config_setting *found = NULL;
    size_t used = 0;

    *matches = 0;
    alts[0] = '\0';
    for (size_t i = 0; i < config_num_settings && len > 0; i++) {
        const struct config_setting *s = &config_settings[i];
        for (size_t k = 0; k < 3 && s->names[k] != NULL; k++) {
            if (strncmp(s->names[k], name, len) != 0)
                continue;
            int n =
                snprintf(alts + used, altslen - used, "%s--%s", *matches ? ", " : "", s->names[k]);
            if (n > 0 && (size_t)n < altslen - used)
                used += (size_t)n;
            found = s;
            ++*matches;
            break; /* a setting's other spelling is not another choice */
        }
    }
    return *matches == 1 ? found : NULL;
}

static enum config_result loader_fail(struct loader *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* loader_fail - a usage error, labelled with the source being read. */
static enum config_result loader_fail(struct loader *ld, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(ld->err, ld->errlen, "%s%s", ld->label, msg);
    return CONFIG_ERROR;
}

/*
 * apply - one option with its value (NULL for flags).  A value from a
 * weaker source ($GUNICORN_CMD_ARGS, a config file) for a setting a stronger
 * one already set is still checked, into scratch, then forgotten.
 */
static enum config_result apply(struct loader *ld, const struct config_setting *s,
                                const char *value)
{
    size_t idx = (size_t)(s - config_settings);
    struct config *dst = ld->cfg;

    if (s->kind == OPT_HELP) {
        config_print_help(ld->out);
        return CONFIG_EXIT;
    }
    if (s->kind == OPT_VERSION) {
        if (ld->out != NULL)
            fprintf(ld->out, "greenhorn %s\n", CONFIG_VERSION);
        return CONFIG_EXIT;
    }
    if (ld->origin[idx] > ld->source) {
        dst = &ld->scratch;
    } else {
        /* The first -b from a stronger source replaces the weaker one's list. */
        if (s->kind == OPT_APPEND && ld->origin[idx] != ld->source)
            config_append_clear(dst, s);
        ld->origin[idx] = ld->source;
    }
    int rc = config_set_value(dst, s, value, ld->label, ld->err, ld->errlen);
    if (rc == CONFIG_ABSENT && ld->source == FROM_FILE) {
        /* A config file written for Gunicorn still starts: warn, go on. */
        fprintf(stderr, "greenhorn: warning: %s\n", ld->err);
        ld->err[0] = '\0';
        return CONFIG_RUN;
    }
    if (rc < 0)
        return CONFIG_ERROR;
    return CONFIG_RUN;
}

/* is_choice - could word be the optional value of s ("--proxy-protocol v1")? */
static bool is_choice(const struct config_setting *s, const char *word)
{
    int value;
    char why[128];

    return word != NULL && s->kind == OPT_CHOICE &&
           config_parse_choice(s, word, &value, why, sizeof why) == 0;
}

/*
 * take_option - find the value of option s and apply it.  glued is the value
 * written in the same word ("--x=v", "-wv"), or NULL; next is the following
 * word, or NULL.  *used is set to 1 when next was the value.
 */
static enum config_result take_option(struct loader *ld, const struct config_setting *s,
                                      const char *spelled, const char *glued, const char *next,
                                      int *used)
{
    bool no_value = s->kind == OPT_FLAG || s->kind == OPT_HELP || s->kind == OPT_VERSION ||
                    (s->kind == OPT_ABSENT && s->bare != NULL);

    *used = 0;
    if (no_value) {
        if (glued != NULL)
            return loader_fail(ld, "option '%s' takes no value", spelled);
        return apply(ld, s, NULL);
    }
    if (glued != NULL)
        return apply(ld, s, glued);
    if (s->bare != NULL && !is_choice(s, next))
        return apply(ld, s, s->bare);
    if (next == NULL)
        return loader_fail(ld, "option '%s' needs a value", spelled);
    *used = 1;
    return apply(ld, s, next);
}

/* take_long - "--name", "--name=value" or "--name value". */
static enum config_result take_long(struct loader *ld, const char *word, const char *next,
                                    int *used)
{
    const char *name = word + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    const struct config_setting *s = find(name, len, 0);
    char spelled[128], alts[256];
    int matches = 1;

    snprintf(spelled, sizeof spelled, "--%.*s", (int)len, name);
    if (s == NULL)
        s = find_prefix(name, len, &matches, alts, sizeof alts);
    if (s == NULL) {
        *used = 0;
        if (matches > 1)
            return loader_fail(ld, "ambiguous option '%s': it could be %s", spelled, alts);
        return loader_fail(ld, "unknown option '%s'", spelled);
    }
    return take_option(ld, s, spelled, eq != NULL ? eq + 1 : NULL, next, used);
}

/* take_short - "-w 4", "-w4" or "-w=4" (argparse accepts all three). */
static enum config_result take_short(struct loader *ld, const char *word, const char *next,
                                     int *used)
{
    const struct config_setting *s = find(NULL, 0, word[1]);
    const char *glued = word[2] != '\0' ? word + 2 : NULL;
    char spelled[3] = {'-', word[1], '\0'};

    if (s == NULL) {
        *used = 0;
        return loader_fail(ld, "unknown option '%s'", spelled);
    }
    if (glued != NULL && glued[0] == '=' && s->kind != OPT_FLAG)
        glued++;
    return take_option(ld, s, spelled, glued, next, used);
}

/* take_app - the one positional argument, MODULE[:VARIABLE]. */
static enum config_result take_app(struct loader *ld, const char *word)
{
    struct config *cfg = ld->cfg;

    if (ld->first_app != NULL)
        return loader_fail(ld, "more than one application given: '%s' and '%s'", ld->first_app,
                           word);
    ld->first_app = word;
    if (word[0] == '\0' || word[0] == ':')
        return loader_fail(ld, "bad application '%s': expected MODULE[:VARIABLE]", word);
    if (ld->app_origin > ld->source)
        return CONFIG_RUN; /* a stronger source named the application */
    free(cfg->app_uri);
    cfg->app_uri = strdup(word);
    if (cfg->app_uri == NULL)
        return loader_fail(ld, "out of memory");
    ld->app_origin = ld->source;
    return CONFIG_RUN;
}

/* read_words - every word of one source, in order. */
static enum config_result read_words(struct loader *ld, int count, char **words)
{
    bool options_done = false;

    ld->first_app = NULL;
    for (int i = 0; i < count; i++) {
        const char *word = words[i];
        const char *next = i + 1 < count ? words[i + 1] : NULL;
        enum config_result res;
        int used = 0;

        if (!options_done && strcmp(word, "--") == 0) {
            options_done = true;
            continue;
        }
        if (options_done || word[0] != '-' || word[1] == '\0')
            res = take_app(ld, word);
        else if (word[1] == '-')
            res = take_long(ld, word, next, &used);
        else
            res = take_short(ld, word, next, &used);
        if (res != CONFIG_RUN)
            return res;
        i += used;
    }
    return CONFIG_RUN;
}

/* The states of split_words: between words, in a bare word, in '...', in "...". */
enum split_state { SPLIT_BLANK, SPLIT_WORD, SPLIT_SINGLE, SPLIT_DOUBLE };

/*
 * split_words - split text as a POSIX shell (and Gunicorn's shlex.split)
 * would: blanks separate words; '...' keeps everything as it is; "..." keeps
 * everything but lets a backslash escape '"' and '\'; elsewhere a backslash
 * escapes any character.  No variables, globs or comments.  On success
 * *words is one allocation (the array, then the strings): free(*words).
 */
static int split_words(const char *text, char ***words, int *count, char *why, size_t whylen)
{
    size_t len = strlen(text), max_words = len / 2 + 1;
    char **list = malloc((max_words + 1) * sizeof *list + len + max_words + 1);
    enum split_state state = SPLIT_BLANK;
    const char *problem = NULL;
    char *q;
    int n = 0;

    if (list == NULL)
        return config_explain(why, whylen, "out of memory");
    q = (char *)(list + max_words + 1);
    for (const char *p = text; *p != '\0' && problem == NULL; p++) {
        switch (state) {
        case SPLIT_BLANK:
        case SPLIT_WORD:
            if (config_is_blank(*p)) {
                if (state == SPLIT_WORD)
                    *q++ = '\0';
                state = SPLIT_BLANK;
                break;
            }
            if (state == SPLIT_BLANK)
                list[n++] = q;
            state = SPLIT_WORD;
            if (*p == '\'')
                state = SPLIT_SINGLE;
            else if (*p == '"')
                state = SPLIT_DOUBLE;
            else if (*p != '\\')
                *q++ = *p;
            else if (p[1] != '\0')
                *q++ = *++p;
            else
                problem = "nothing after the last backslash";
            break;
        case SPLIT_SINGLE:
            if (*p == '\'')
                state = SPLIT_WORD;
            else
                *q++ = *p;
            break;
        case SPLIT_DOUBLE:
            if (*p == '"')
                state = SPLIT_WORD;
            else if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                *q++ = *++p;
            else
                *q++ = *p;
            break;
        }
    }
    if (problem == NULL && (state == SPLIT_SINGLE || state == SPLIT_DOUBLE))
        problem = "missing closing quote";
    if (problem != NULL) {
        free(list);
        return config_explain(why, whylen, "%s", problem);
    }
    *q = '\0';
    list[n] = NULL;
    *words = list;
    *count = n;
    return 0;
}

/*
 * settle - keep in cfg the request limits the parser will apply: Gunicorn's
 * parser (http/message.py) lowers a limit rather than refuse it, and whoever
 * reads cfg should see the real one.  The rule itself is the parser's
 * (config_http_options, http_options_settle); this only stores its result.
 */
static void settle(struct config *cfg)
{
    struct http_options o;

    config_http_options(cfg, &o, NULL);
    cfg->limit_request_line = (unsigned)o.limit_request_line;
    cfg->limit_request_fields = (unsigned)o.limit_request_fields;
    cfg->limit_request_field_size = (unsigned)o.limit_request_field_size;
}

/* read_env_args - $GUNICORN_CMD_ARGS, if set, as a second, weaker command line. */
static enum config_result read_env_args(struct loader *ld)
{
    const char *text = getenv("GUNICORN_CMD_ARGS");
    char **words = NULL;
    int count = 0;
    enum config_result res;
    char why[128];

    if (text == NULL)
        return CONFIG_RUN;
    ld->source = FROM_ENV_ARGS;
    ld->label = "$GUNICORN_CMD_ARGS: ";
    if (split_words(text, &words, &count, why, sizeof why) < 0)
        return loader_fail(ld, "%s", why);
    res = read_words(ld, count, words);
    free(words);
    return res;
}

/*
 * config_load - see config.h.  The command line is read first, as Gunicorn
 * parses it first: --help and mistakes there are answered before the
 * environment variable is looked at.  Precedence does not depend on this
 * order; the origin of each setting decides it.
 */
enum config_result config_load(struct config *cfg, int argc, char **argv, FILE *out, char *err,
                               size_t errlen)
{
    return config_load_file(cfg, argc, argv, NULL, 0, NULL, true, out, err, errlen);
}

/* config_load_file - see config.h. */
enum config_result config_load_file(struct config *cfg, int argc, char **argv, char **file_words,
                                    int file_count, const char *file_label, bool need_app,
                                    FILE *out, char *err, size_t errlen)
{
    struct loader *ld = calloc(1, sizeof *ld);
    enum config_result res = CONFIG_ERROR;

    if (config_init(cfg, err, errlen) < 0)
        goto done;
    if (ld == NULL) {
        config_explain(err, errlen, "out of memory");
        goto done;
    }
    *ld = (struct loader){
        .cfg = cfg, .source = FROM_ARGV, .label = "", .out = out, .err = err, .errlen = errlen};
    res = read_words(ld, argc > 1 ? argc - 1 : 0, argc > 1 ? argv + 1 : NULL);
    if (res == CONFIG_RUN)
        res = read_env_args(ld);
    if (res == CONFIG_RUN && file_label != NULL) {
        ld->source = FROM_FILE; /* the weakest source: anything above wins */
        ld->label = file_label;
        res = read_words(ld, file_count, file_words);
    }
    if (res == CONFIG_RUN && need_app && cfg->app_uri == NULL) {
        config_explain(err, errlen, "no application module given");
        res = CONFIG_ERROR;
    }
    if (res == CONFIG_RUN)
        settle(cfg);
done:
    if (ld != NULL)
        config_free(&ld->scratch);
    free(ld);
    return res;
}

/* help_left - the left column of a --help line: "  -w, --workers INT". */
static void help_left(const struct config_setting *s, char *buf, size_t len)
{
    size_t n = s->short_name != 0 ? (size_t)snprintf(buf, len, "  -%c, ", s->short_name)
                                  : (size_t)snprintf(buf, len, "      ");

    for (size_t k = 0; k < 3 && s->names[k] != NULL && n < len; k++)
        n += (size_t)snprintf(buf + n, len - n, "%s--%s", k > 0 ? ", " : "", s->names[k]);
    if (s->meta != NULL && n < len)
        snprintf(buf + n, len - n, " %s", s->meta);
}

/* The width of --help's left column, the options; their help starts after it. */
#define HELP_COLUMN 44

/* config_print_help - see config.h.  Defaults are shown as the table has them. */
void config_print_help(FILE *out)
{
    char left[128];

    if (out == NULL)
        return;
    fprintf(out, "usage: greenhorn [OPTIONS] MODULE[:VARIABLE]\n\n"
                 "Serve the WSGI application VARIABLE (default: application) of MODULE.\n"
                 "Options may also be given in $GUNICORN_CMD_ARGS; the command line wins.\n\n");
    for (size_t i = 0; i < config_num_settings; i++) {
        const struct config_setting *s = &config_settings[i];

        if (s->names[0] == NULL || s->kind == OPT_ABSENT) /* not ours: see the README */
            continue;
        help_left(s, left, sizeof left);
        if (strlen(left) > HELP_COLUMN) /* as argparse: the help on a line of its own */
            fprintf(out, "%s\n%-*s %s", left, HELP_COLUMN, "", s->help);
        else
            fprintf(out, "%-*s %s", HELP_COLUMN, left, s->help);
        if (s->def != NULL && s->env != NULL)
            fprintf(out, " [%s, or %s$%s]", s->def, s->env_prefix != NULL ? s->env_prefix : "",
                    s->env);
        else if (s->def != NULL)
            fprintf(out, " [%s]", s->def);
        fputc('\n', out);
    }
}

/* print_value - one setting's value as --print-config shows it. */
static void print_value(FILE *out, const struct config *cfg, const struct config_setting *s)
{
    const char *field = (const char *)cfg + s->offset;

    switch (s->kind) {
    case OPT_FLAG:
        fputs(*(const bool *)field ? "True" : "False", out);
        break;
    case OPT_INT:
    case OPT_MODE:
        fprintf(out, "%d", *(const int *)field);
        break;
    case OPT_UINT:
        fprintf(out, "%u", *(const unsigned *)field);
        break;
    case OPT_BYTES:
        fprintf(out, "%llu", (unsigned long long)*(const uint64_t *)field);
        break;
    case OPT_STRING:
        fputs(*(char *const *)field != NULL ? *(char *const *)field : "None", out);
        break;
    case OPT_LIST:
    case OPT_ADDRS:
    case OPT_APPEND: {
        const struct config_list *l = (const struct config_list *)field;
        char *const *items = s->kind == OPT_APPEND ? (char *const *)field : l->items;
        size_t n = s->kind == OPT_APPEND ? *(const size_t *)((const char *)cfg + s->count_offset)
                                         : l->count;
        fputc('[', out);
        for (size_t i = 0; i < n; i++)
            fprintf(out, "%s'%s'", i > 0 ? ", " : "", items[i]);
        fputc(']', out);
        break;
    }
    case OPT_CHOICE:
    case OPT_HELP:
    case OPT_VERSION:
    case OPT_ABSENT:
        break;
    }
}

/* config_print - see config.h. */
void config_print(const struct config *cfg, FILE *out)
{
    for (size_t i = 0; i < config_num_settings; i++) {
        const struct config_setting *s = &config_settings[i];
        if (s->names[0] == NULL || s->kind == OPT_HELP || s->kind == OPT_VERSION ||
            s->kind == OPT_ABSENT)
            continue;
        fprintf(out, "%-32s = ", s->names[0]);
        if (s->kind == OPT_CHOICE) { /* the word of the value the field holds */
            int value = *(const int *)((const char *)cfg + s->offset); /* enums are ints */
            for (const struct config_choice *c = s->choices; c->name != NULL; c++) {
                if (c->value == value) {
                    fputs(c->name, out);
                    break;
                }
            }
        } else {
            print_value(out, cfg, s);
        }
        fputc('\n', out);
    }
    fprintf(out, "%-32s = %s\n", "app", cfg->app_uri != NULL ? cfg->app_uri : "None");
}

/* ---- greenhorn(1) ------------------------------------------------------- */

/* man_text - text as roff (groff_man(7)): a backslash is \e, a '-' is \- so
 * that an option can be copied from the page, and a line never starts with
 * a control character. */
static void man_text(FILE *out, const char *text)
{
    if (text[0] == '.' || text[0] == '\'')
        fputs("\\&", out);
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '\\')
            fputs("\\e", out);
        else if (*p == '-')
            fputs("\\-", out);
        else
            fputc(*p, out);
    }
}

/* man_default - "Default: 1, or $WEB_CONCURRENCY.", as --help's "[1, or $WEB_CONCURRENCY]",
 * on a line of its own: a new sentence starts a new line in roff. */
static void man_default(FILE *out, const struct config_setting *s)
{
    if (s->def == NULL)
        return;
    fputs("\nDefault: \\fB", out);
    man_text(out, s->def[0] != '\0' ? s->def : "''");
    fputs("\\fR", out);
    if (s->env != NULL) {
        fputs(", or \\fB", out);
        man_text(out, s->env_prefix != NULL ? s->env_prefix : "");
        fputs("$", out);
        man_text(out, s->env);
        fputs("\\fR", out);
    }
    fputs(".", out);
}

/* man_options - the OPTIONS section's paragraphs, in --help's order. */
static void man_options(FILE *out)
{
    bool first = true;

    for (size_t i = 0; i < config_num_settings; i++) {
        const struct config_setting *s = &config_settings[i];
        if (s->names[0] == NULL || s->kind == OPT_ABSENT) /* as --help */
            continue;
        fputs(".TP\n", out);
        if (s->short_name != 0)
            fprintf(out, "\\fB\\-%c\\fR, ", s->short_name);
        for (size_t k = 0; k < 3 && s->names[k] != NULL; k++) {
            fputs(k > 0 ? ", \\fB\\-\\-" : "\\fB\\-\\-", out);
            man_text(out, s->names[k]);
            fputs("\\fR", out);
        }
        if (s->meta != NULL) {
            fputs(" \\fI", out);
            man_text(out, s->meta);
            fputs("\\fR", out);
        }
        fputc('\n', out);
        man_text(out, s->help);
        fputc('.', out);
        man_default(out, s);
        fputc('\n', out);
    }
    /* Gunicorn's options greenhorn refuses: each says what to use instead. */
    for (size_t i = 0; i < config_num_settings; i++) {
        const struct config_setting *s = &config_settings[i];
        if (s->kind != OPT_ABSENT)
            continue;
        if (first)
            fputs(".PP\nGunicorn's options\n", out);
        fputs(first ? "\\fB\\-\\-" : ",\n\\fB\\-\\-", out);
        man_text(out, s->names[0]);
        fputs("\\fR", out);
        first = false;
    }
    if (!first)
        fputs("\nare refused in one line that says what to use instead (exit status 2;\n"
              "a warning in a config file).\n",
              out);
}

/* man_environment - the variables that replace a default, from the table. */
static void man_environment(FILE *out)
{
    for (size_t i = 0; i < config_num_settings; i++) {
        const struct config_setting *s = &config_settings[i];
        if (s->env == NULL || s->names[0] == NULL)
            continue;
        fputs(".TP\n.B ", out);
        man_text(out, s->env);
        fputs("\nThe default of \\fB\\-\\-", out);
        man_text(out, s->names[0]);
        fputs("\\fR", out);
        if (s->env_prefix != NULL) {
            fputs(", as \\fB", out);
            man_text(out, s->env_prefix);
            fputs("$", out);
            man_text(out, s->env);
            fputs("\\fR", out);
        }
        fputs(" (the option wins).\n", out);
    }
}

/* config_print_man - see config.h. */
int config_print_man(FILE *out, const char *part)
{
    if (strcmp(part, "options") == 0)
        man_options(out);
    else if (strcmp(part, "environment") == 0)
        man_environment(out);
    else
        return -1;
    return 0;
}
