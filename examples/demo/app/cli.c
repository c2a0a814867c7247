/* cli.c - command-line parsing for the demo program. */
#include <string.h>

#include "app.h"

void demo_usage(FILE *out)
{
    fputs("usage: demo [-q] [-l] [-m NAME]\n"
          "  -q       print only the final line\n"
          "  -l       list the selftests and exit\n"
          "  -m NAME  run only the selftests with this name or area\n",
          out);
}

int demo_parse_args(int argc, char **argv, demo_options *opt, FILE *err)
{
    memset(opt, 0, sizeof *opt);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-q") == 0) {
            opt->quiet = 1;
        } else if (strcmp(a, "-l") == 0) {
            opt->list = 1;
        } else if (strcmp(a, "-m") == 0 && i + 1 < argc) {
            opt->only = argv[++i];
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            demo_usage(err);
            return 2;
        } else {
            fprintf(err, "demo: unknown argument '%s'\n", a);
            demo_usage(err);
            return 2;
        }
    }
    return 0;
}
