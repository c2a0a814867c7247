/* main.c - the demo program: runs the selftest of every module and prints
 * "demo: all N checks passed" (exit 0) or a failure summary (exit 1). */
#include <stdio.h>

#include "app.h"

int main(int argc, char **argv)
{
    demo_options opt;
    int rc = demo_parse_args(argc, argv, &opt, stderr);
    if (rc)
        return rc;
    if (opt.list) {
        const demo_selftest *tests;
        size_t n = demo_registry(&tests);
        for (size_t i = 0; i < n; i++)
            printf("%-8s %s\n", tests[i].area, tests[i].name);
        return 0;
    }
    demo_totals totals;
    demo_run_all(&opt, stdout, &totals);
    if (totals.modules == 0) {
        fprintf(stderr, "demo: no selftest matches '%s'\n", opt.only ? opt.only : "");
        return 2;
    }
    demo_print_summary(&totals, stdout);
    return totals.failed ? 1 : 0;
}
