/* expr_funcs.c - builtin functions callable from expressions. */
#include "demo/expr.h"

#include <math.h>
#include <string.h>

typedef struct builtin {
    const char *name;
    size_t min_args;
    size_t max_args;
    expr_status (*fn)(const double *a, size_t n, double *out);
} builtin;

static expr_status f_abs(const double *a, size_t n, double *out)
{
    (void)n;
    *out = fabs(a[0]);
    return EXPR_OK;
}

static expr_status f_sqrt(const double *a, size_t n, double *out)
{
    (void)n;
    if (a[0] < 0)
        return EXPR_DOMAIN;
    *out = sqrt(a[0]);
    return EXPR_OK;
}

static expr_status f_min(const double *a, size_t n, double *out)
{
    *out = a[0];
    for (size_t i = 1; i < n; i++)
        *out = a[i] < *out ? a[i] : *out;
    return EXPR_OK;
}

static expr_status f_max(const double *a, size_t n, double *out)
{
    *out = a[0];
    for (size_t i = 1; i < n; i++)
        *out = a[i] > *out ? a[i] : *out;
    return EXPR_OK;
}

static expr_status f_hypot(const double *a, size_t n, double *out)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * a[i];
    *out = sqrt(s);
    return EXPR_OK;
}

static expr_status f_floor(const double *a, size_t n, double *out)
{
    (void)n;
    *out = floor(a[0]);
    return EXPR_OK;
}

static expr_status f_log(const double *a, size_t n, double *out)
{
    if (a[0] <= 0 || (n == 2 && (a[1] <= 0 || a[1] == 1)))
        return EXPR_DOMAIN;
    *out = n == 2 ? log(a[0]) / log(a[1]) : log(a[0]);
    return EXPR_OK;
}

static expr_status f_pi(const double *a, size_t n, double *out)
{
    (void)a;
    (void)n;
    *out = 3.14159265358979323846;
    return EXPR_OK;
}

/* kept sorted by name: the lookup is a binary search */
static const builtin builtins[] = {
    {"abs", 1, 1, f_abs},  {"floor", 1, 1, f_floor}, {"hypot", 1, 4, f_hypot},
    {"log", 1, 2, f_log},  {"max", 1, 4, f_max},     {"min", 1, 4, f_min},
    {"pi", 0, 0, f_pi},    {"sqrt", 1, 1, f_sqrt},
};

#define NBUILTINS (sizeof builtins / sizeof builtins[0])

expr_status expr_call_builtin(const char *name, const double *args, size_t n, double *out)
{
    size_t lo = 0, hi = NBUILTINS;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int d = strcmp(builtins[mid].name, name);
        if (d == 0) {
            const builtin *b = &builtins[mid];
            if (n < b->min_args || n > b->max_args)
                return EXPR_BAD_ARITY;
            return b->fn(args, n, out);
        }
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return EXPR_UNKNOWN_FUNC;
}

size_t expr_builtin_names(const char **out, size_t cap)
{
    size_t n = NBUILTINS < cap ? NBUILTINS : cap;
    for (size_t i = 0; i < n; i++)
        out[i] = builtins[i].name;
    return NBUILTINS;
}

void selftest_expr_funcs(demo_check *c)
{
    const char *names[16];
    size_t n = expr_builtin_names(names, 16);
    CHECK_EQ(c, n, 8);
    int sorted = 1;
    for (size_t i = 1; i < n; i++)
        sorted &= strcmp(names[i - 1], names[i]) < 0;
    CHECK(c, sorted);
    double v = 0;
    CHECK(c, expr_eval_str("hypot(3, 4)", NULL, 0, &v) == EXPR_OK);
    CHECK_NEAR(c, v, 5.0, 1e-12);
    CHECK(c, expr_eval_str("max(1, -4, 9, 2) - min(7, 3)", NULL, 0, &v) == EXPR_OK);
    CHECK_NEAR(c, v, 6.0, 0.0);
    CHECK(c, expr_eval_str("log(1024, 2) + floor(-1.5)", NULL, 0, &v) == EXPR_OK);
    CHECK_NEAR(c, v, 8.0, 1e-12);
    CHECK(c, expr_eval_str("2 * pi()", NULL, 0, &v) == EXPR_OK);
    CHECK_NEAR(c, v, 6.283185307179586, 1e-15);
    CHECK(c, expr_eval_str("sqrt(-1)", NULL, 0, &v) == EXPR_DOMAIN);
    CHECK(c, expr_eval_str("sqrt(1, 2)", NULL, 0, &v) == EXPR_BAD_ARITY);
    CHECK(c, expr_eval_str("nope(1)", NULL, 0, &v) == EXPR_UNKNOWN_FUNC);
}
