/* check.c - records selftest results; prints one stderr line per failure. */
#include "demo/check.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int demo_check_true(demo_check *c, int ok, const char *what, int line)
{
    c->run++;
    if (!ok) {
        c->failed++;
        fprintf(stderr, "demo: FAIL %s:%d: %s\n", c->module, line, what);
    }
    return ok;
}

int demo_check_long(demo_check *c, long got, long want, const char *what, int line)
{
    int ok = got == want;
    c->run++;
    if (!ok) {
        c->failed++;
        fprintf(stderr, "demo: FAIL %s:%d: %s is %ld, want %ld\n", c->module, line, what, got,
                want);
    }
    return ok;
}

int demo_check_u64(demo_check *c, uint64_t got, uint64_t want, const char *what, int line)
{
    int ok = got == want;
    c->run++;
    if (!ok) {
        c->failed++;
        fprintf(stderr, "demo: FAIL %s:%d: %s is 0x%" PRIx64 ", want 0x%" PRIx64 "\n", c->module,
                line, what, got, want);
    }
    return ok;
}

int demo_check_str(demo_check *c, const char *got, const char *want, const char *what, int line)
{
    int ok = got != NULL && want != NULL && strcmp(got, want) == 0;
    c->run++;
    if (!ok) {
        c->failed++;
        fprintf(stderr, "demo: FAIL %s:%d: %s is \"%s\", want \"%s\"\n", c->module, line, what,
                got ? got : "(null)", want ? want : "(null)");
    }
    return ok;
}

int demo_check_near(demo_check *c, double got, double want, double tol, const char *what,
                    int line)
{
    /* NaN compares false, so a NaN result fails as it should */
    int ok = fabs(got - want) <= tol;
    c->run++;
    if (!ok) {
        c->failed++;
        fprintf(stderr, "demo: FAIL %s:%d: %s is %.17g, want %.17g (tol %g)\n", c->module, line,
                what, got, want, tol);
    }
    return ok;
}
