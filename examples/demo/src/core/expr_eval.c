/* expr_eval.c - evaluates an expression tree against a list of variables. */
#include "demo/expr.h"

#include <math.h>
#include <string.h>

const char *expr_status_name(expr_status s)
{
    switch (s) {
    case EXPR_OK:
        return "ok";
    case EXPR_UNKNOWN_VAR:
        return "unknown variable";
    case EXPR_UNKNOWN_FUNC:
        return "unknown function";
    case EXPR_BAD_ARITY:
        return "wrong number of arguments";
    case EXPR_DIV_ZERO:
        return "division by zero";
    case EXPR_DOMAIN:
        return "domain error";
    }
    return "?";
}

expr_status expr_eval(const expr_node *n, const expr_var *vars, size_t nvars, double *out)
{
    double a[EXPR_MAX_ARGS];
    for (size_t i = 0; i < n->nargs; i++) {
        expr_status s = expr_eval(n->args[i], vars, nvars, &a[i]);
        if (s != EXPR_OK)
            return s;
    }
    switch (n->kind) {
    case NODE_NUM:
        *out = n->num;
        return EXPR_OK;
    case NODE_VAR:
        for (size_t i = 0; i < nvars; i++) {
            if (strcmp(vars[i].name, n->name) == 0) {
                *out = vars[i].value;
                return EXPR_OK;
            }
        }
        return EXPR_UNKNOWN_VAR;
    case NODE_NEG:
        *out = -a[0];
        return EXPR_OK;
    case NODE_CALL:
        return expr_call_builtin(n->name, a, n->nargs, out);
    case NODE_BIN:
        break;
    }
    switch (n->op) {
    case '+':
        *out = a[0] + a[1];
        break;
    case '-':
        *out = a[0] - a[1];
        break;
    case '*':
        *out = a[0] * a[1];
        break;
    case '/':
        if (a[1] == 0.0)
            return EXPR_DIV_ZERO;
        *out = a[0] / a[1];
        break;
    case '%':
        if (a[1] == 0.0)
            return EXPR_DIV_ZERO;
        *out = fmod(a[0], a[1]);
        break;
    case '^':
        *out = pow(a[0], a[1]);
        if (isnan(*out))
            return EXPR_DOMAIN;
        break;
    default:
        return EXPR_DOMAIN;
    }
    return EXPR_OK;
}

expr_status expr_eval_str(const char *src, const expr_var *vars, size_t nvars, double *out)
{
    char err[64];
    expr_node *n = expr_parse(src, err, sizeof err);
    if (!n)
        return EXPR_DOMAIN;
    expr_status s = expr_eval(n, vars, nvars, out);
    expr_free(n);
    return s;
}

void selftest_expr_eval(demo_check *c)
{
    static const expr_var vars[] = {{"x", 3.0}, {"y", -2.0}, {"rate", 0.25}};
    double v = 0;
    CHECK(c, expr_eval_str("1 + 2 * 3", NULL, 0, &v) == EXPR_OK);
    CHECK_NEAR(c, v, 7.0, 0.0);
    CHECK(c, expr_eval_str("(1 + 2) * 3", NULL, 0, &v) == EXPR_OK);
    CHECK_NEAR(c, v, 9.0, 0.0);
    CHECK(c, expr_eval_str("2 ^ 3 ^ 2", NULL, 0, &v) == EXPR_OK);
    CHECK_NEAR(c, v, 512.0, 0.0);
    CHECK(c, expr_eval_str("-2 ^ 2", NULL, 0, &v) == EXPR_OK);
    CHECK_NEAR(c, v, -4.0, 0.0);
    CHECK(c, expr_eval_str("x * y - rate * 8 + 17 % 5", vars, 3, &v) == EXPR_OK);
    CHECK_NEAR(c, v, -6.0, 1e-12);
    CHECK(c, expr_eval_str("1 / (x - 3)", vars, 3, &v) == EXPR_DIV_ZERO);
    CHECK(c, expr_eval_str("z + 1", vars, 3, &v) == EXPR_UNKNOWN_VAR);
    CHECK(c, expr_eval_str("y ^ 0.5", vars, 3, &v) == EXPR_DOMAIN);
    CHECK_STR(c, expr_status_name(EXPR_DIV_ZERO), "division by zero");
}
