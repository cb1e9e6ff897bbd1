/*
 * man_page.c - writes greenhorn(1) from man/greenhorn.1.in and the settings
 * table, at build time: `make` runs it to make build/greenhorn.1.
 *
 * The page's prose (DESCRIPTION, SIGNALS, EXIT STATUS ...) is the template's;
 * its OPTIONS and the variables that replace defaults come from
 * config_settings[] through config_print_man, the table --help is printed
 * from, so the manual cannot drift from the program.  A template line that
 * is exactly @OPTIONS@ or @ENVIRONMENT@ is replaced by that part; @VERSION@
 * anywhere becomes CONFIG_VERSION.
 *
 * Usage: man_page TEMPLATE > greenhorn.1
 */
#include <stdio.h>
#include <string.h>

#include "config.h"

int main(int argc, char **argv)
{
    char line[4096];
    FILE *in = argc == 2 ? fopen(argv[1], "r") : NULL;

    if (in == NULL) {
        fprintf(stderr, "man_page: usage: man_page TEMPLATE (a readable file)\n");
        return 2;
    }
    while (fgets(line, sizeof line, in) != NULL) {
        if (line[0] == '@' && strcmp(line, "@VERSION@\n") != 0) {
            char part[64];
            if (sscanf(line, "@%63[A-Z]@", part) == 1) {
                for (char *p = part; *p != '\0'; p++)
                    *p = (char)(*p - 'A' + 'a');
                if (config_print_man(stdout, part) == 0)
                    continue;
            }
            fprintf(stderr, "man_page: %s: unknown part %s", argv[1], line);
            return 1;
        }
        const char *at = line, *v;
        while ((v = strstr(at, "@VERSION@")) != NULL) {
            fwrite(at, 1, (size_t)(v - at), stdout);
            fputs(CONFIG_VERSION, stdout);
            at = v + strlen("@VERSION@");
        }
        fputs(at, stdout);
    }
    fclose(in);
    return fflush(stdout) == 0 ? 0 : 1;
}
