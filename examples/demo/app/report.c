/* report.c - runs the selected selftests and prints per-module and total results. */
#include <string.h>

#include "app.h"

int demo_matches(const demo_selftest *t, const char *only)
{
    return !only || strcmp(t->name, only) == 0 || strcmp(t->area, only) == 0;
}

void demo_run_all(const demo_options *opt, FILE *out, demo_totals *totals)
{
    const demo_selftest *tests;
    size_t n = demo_registry(&tests);
    memset(totals, 0, sizeof *totals);
    for (size_t i = 0; i < n; i++) {
        if (!demo_matches(&tests[i], opt->only))
            continue;
        demo_check c = {tests[i].name, 0, 0};
        /* flush first so a crash in a selftest shows which one was running */
        fflush(out);
        tests[i].fn(&c);
        totals->modules++;
        totals->run += c.run;
        totals->failed += c.failed;
        /* a selftest that checked nothing is a broken selftest */
        if (c.run == 0) {
            totals->failed++;
            fprintf(stderr, "demo: FAIL %s: ran no checks\n", c.module);
        }
        totals->failed_modules += c.failed || c.run == 0;
        if (!opt->quiet)
            fprintf(out, "demo: %-8s %-12s %3u checks %s\n", tests[i].area, tests[i].name,
                    c.run, c.failed || c.run == 0 ? "FAILED" : "ok");
    }
}

void demo_print_summary(const demo_totals *totals, FILE *out)
{
    if (totals->failed == 0)
        fprintf(out, "demo: all %u checks passed\n", totals->run);
    else
        fprintf(out, "demo: %u of %u checks failed in %zu of %zu modules\n", totals->failed,
                totals->run, totals->failed_modules, totals->modules);
}
