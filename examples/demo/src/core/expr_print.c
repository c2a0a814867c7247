/* expr_print.c - prints a tree fully parenthesised (infix) or in RPN. */
#include "demo/expr.h"

static void print_num(str_buf *out, double v)
{
    sb_printf(out, "%.12g", v);
}

void expr_print(str_buf *out, const expr_node *n)
{
    switch (n->kind) {
    case NODE_NUM:
        print_num(out, n->num);
        return;
    case NODE_VAR:
        sb_puts(out, n->name);
        return;
    case NODE_NEG:
        sb_puts(out, "(-");
        expr_print(out, n->args[0]);
        sb_putc(out, ')');
        return;
    case NODE_CALL:
        sb_puts(out, n->name);
        sb_putc(out, '(');
        for (size_t i = 0; i < n->nargs; i++) {
            if (i)
                sb_puts(out, ", ");
            expr_print(out, n->args[i]);
        }
        sb_putc(out, ')');
        return;
    case NODE_BIN:
        sb_putc(out, '(');
        expr_print(out, n->args[0]);
        sb_printf(out, " %c ", n->op);
        expr_print(out, n->args[1]);
        sb_putc(out, ')');
        return;
    }
}

void expr_print_rpn(str_buf *out, const expr_node *n)
{
    for (size_t i = 0; i < n->nargs; i++) {
        expr_print_rpn(out, n->args[i]);
        sb_putc(out, ' ');
    }
    switch (n->kind) {
    case NODE_NUM:
        print_num(out, n->num);
        break;
    case NODE_VAR:
        sb_puts(out, n->name);
        break;
    case NODE_NEG:
        sb_puts(out, "neg");
        break;
    case NODE_CALL:
        sb_printf(out, "%s/%zu", n->name, n->nargs);
        break;
    case NODE_BIN:
        sb_putc(out, n->op);
        break;
    }
}

static void roundtrip(demo_check *c, const char *src, const char *infix, const char *rpn)
{
    char err[64];
    str_buf b;
    sb_init(&b);
    expr_node *n = expr_parse(src, err, sizeof err);
    if (!CHECK(c, n != NULL))
        return;
    expr_print(&b, n);
    CHECK_STR(c, sb_str(&b), infix);
    sb_clear(&b);
    expr_print_rpn(&b, n);
    CHECK_STR(c, sb_str(&b), rpn);
    /* printing then re-parsing gives the same tree */
    expr_node *again = expr_parse(infix, err, sizeof err);
    sb_clear(&b);
    if (again)
        expr_print(&b, again);
    CHECK_STR(c, sb_str(&b), infix);
    expr_free(again);
    expr_free(n);
    sb_free(&b);
}

void selftest_expr_print(demo_check *c)
{
    roundtrip(c, "1+2*3", "(1 + (2 * 3))", "1 2 3 * +");
    roundtrip(c, "-x^2 - 0.5", "((-(x ^ 2)) - 0.5)", "x 2 ^ neg 0.5 -");
    roundtrip(c, "max(a, b*2) / 4", "(max(a, (b * 2)) / 4)", "a b 2 * max/2 4 /");
}
