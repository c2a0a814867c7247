/* check.h - the tiny self-check API every module's selftest reports through.
 *
 * A selftest is a function `void selftest_NAME(demo_check *c)`; it records each
 * check with one of the CHECK macros below.  Failures are printed to stderr with
 * the module name and line (never __FILE__, so objects stay path-independent).
 */
#ifndef DEMO_CHECK_H
#define DEMO_CHECK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct demo_check {
    const char *module; /* name of the selftest being run */
    unsigned run;       /* checks recorded so far */
    unsigned failed;    /* of which failed */
} demo_check;

typedef void demo_selftest_fn(demo_check *c);

int demo_check_true(demo_check *c, int ok, const char *what, int line);
int demo_check_long(demo_check *c, long got, long want, const char *what, int line);
int demo_check_u64(demo_check *c, uint64_t got, uint64_t want, const char *what, int line);
int demo_check_str(demo_check *c, const char *got, const char *want, const char *what,
                   int line);
int demo_check_near(demo_check *c, double got, double want, double tol, const char *what,
                    int line);

#define CHECK(c, cond) demo_check_true((c), (cond) ? 1 : 0, #cond, __LINE__)
#define CHECK_EQ(c, got, want) demo_check_long((c), (long)(got), (long)(want), #got, __LINE__)
#define CHECK_U64(c, got, want) \
    demo_check_u64((c), (uint64_t)(got), (uint64_t)(want), #got, __LINE__)
#define CHECK_STR(c, got, want) demo_check_str((c), (got), (want), #got, __LINE__)
#define CHECK_NEAR(c, got, want, tol) \
    demo_check_near((c), (double)(got), (double)(want), (double)(tol), #got, __LINE__)

#ifdef __cplusplus
}
#endif

#endif
