/* app.h - internals of the demo program (not part of libdemo). */
#ifndef DEMO_APP_H
#define DEMO_APP_H

#include <stddef.h>
#include <stdio.h>

#include "demo/check.h"

typedef struct demo_selftest {
    const char *name;
    const char *area; /* util, checksum, text, matrix, expr, c++ */
    demo_selftest_fn *fn;
} demo_selftest;

typedef struct demo_options {
    int quiet;           /* only the final line */
    int list;            /* list the selftests and exit */
    const char *only;    /* run just the selftests of this name or area */
} demo_options;

typedef struct demo_totals {
    size_t modules;
    unsigned run;
    unsigned failed;
    size_t failed_modules;
} demo_totals;

/* cli.c: 0 on success, 2 on a usage error (message already printed) */
int demo_parse_args(int argc, char **argv, demo_options *opt, FILE *err);
void demo_usage(FILE *out);

/* registry.c */
size_t demo_registry(const demo_selftest **out);

/* report.c */
int demo_matches(const demo_selftest *t, const char *only);
void demo_run_all(const demo_options *opt, FILE *out, demo_totals *totals);
void demo_print_summary(const demo_totals *totals, FILE *out);

#endif
