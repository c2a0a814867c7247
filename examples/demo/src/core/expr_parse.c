/* expr_parse.c - recursive-descent parser producing an expression tree.
 *
 *   expr   := term (('+'|'-') term)*
 *   term   := unary (('*'|'/'|'%') unary)*
 *   unary  := '-' unary | power
 *   power  := atom ('^' unary)?          (right-associative, binds tighter than unary minus)
 *   atom   := NUM | IDENT | IDENT '(' [expr (',' expr)*] ')' | '(' expr ')'
 */
#include "demo/base.h"
#include "demo/expr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const expr_token *t;
    size_t i;
    char *err;
    size_t errlen;
    int failed;
} parser;

static expr_node *parse_expr(parser *p);
static expr_node *parse_unary(parser *p);

static expr_node *node(expr_node_kind kind)
{
    expr_node *n = xcalloc(1, sizeof *n);
    n->kind = kind;
    return n;
}

static expr_node *fail(parser *p, const char *what)
{
    if (!p->failed && p->errlen)
        snprintf(p->err, p->errlen, "%s at %zu", what, p->t[p->i].pos);
    p->failed = 1;
    return NULL;
}

static int is_op(const parser *p, char op)
{
    return p->t[p->i].kind == TOK_OP && p->t[p->i].text[0] == op;
}

static expr_node *binary(char op, expr_node *l, expr_node *r)
{
    expr_node *n = node(NODE_BIN);
    n->op = op;
    n->nargs = 2;
    n->args[0] = l;
    n->args[1] = r;
    return n;
}

static expr_node *parse_atom(parser *p)
{
    const expr_token *t = &p->t[p->i];
    if (t->kind == TOK_NUM) {
        p->i++;
        expr_node *n = node(NODE_NUM);
        n->num = t->num;
        return n;
    }
    if (t->kind == TOK_LPAREN) {
        p->i++;
        expr_node *n = parse_expr(p);
        if (!n)
            return NULL;
        if (p->t[p->i].kind != TOK_RPAREN) {
            expr_free(n);
            return fail(p, "expected ')'");
        }
        p->i++;
        return n;
    }
    if (t->kind != TOK_IDENT)
        return fail(p, "expected a value");
    p->i++;
    expr_node *n = node(NODE_VAR);
    memcpy(n->name, t->text, sizeof n->name);
    if (p->t[p->i].kind != TOK_LPAREN)
        return n;
    n->kind = NODE_CALL;
    p->i++;
    if (p->t[p->i].kind == TOK_RPAREN) {
        p->i++;
        return n;
    }
    for (;;) {
        if (n->nargs == EXPR_MAX_ARGS) {
            expr_free(n);
            return fail(p, "too many arguments");
        }
        expr_node *arg = parse_expr(p);
        if (!arg) {
            expr_free(n);
            return NULL;
        }
        n->args[n->nargs++] = arg;
        if (p->t[p->i].kind == TOK_COMMA) {
            p->i++;
        } else if (p->t[p->i].kind == TOK_RPAREN) {
            p->i++;
            return n;
        } else {
            expr_free(n);
            return fail(p, "expected ',' or ')'");
        }
    }
}

static expr_node *parse_power(parser *p)
{
    expr_node *base = parse_atom(p);
    if (!base || !is_op(p, '^'))
        return base;
    p->i++;
    expr_node *exp = parse_unary(p);
    if (!exp) {
        expr_free(base);
        return NULL;
    }
    return binary('^', base, exp);
}

static expr_node *parse_unary(parser *p)
{
    if (is_op(p, '-')) {
        p->i++;
        expr_node *operand = parse_unary(p);
        if (!operand)
            return NULL;
        expr_node *n = node(NODE_NEG);
        n->nargs = 1;
        n->args[0] = operand;
        return n;
    }
    return parse_power(p);
}

static expr_node *parse_term(parser *p)
{
    expr_node *l = parse_unary(p);
    while (l && (is_op(p, '*') || is_op(p, '/') || is_op(p, '%'))) {
        char op = p->t[p->i++].text[0];
        expr_node *r = parse_unary(p);
        if (!r) {
            expr_free(l);
            return NULL;
        }
        l = binary(op, l, r);
    }
    return l;
}

static expr_node *parse_expr(parser *p)
{
    expr_node *l = parse_term(p);
    while (l && (is_op(p, '+') || is_op(p, '-'))) {
        char op = p->t[p->i++].text[0];
        expr_node *r = parse_term(p);
        if (!r) {
            expr_free(l);
            return NULL;
        }
        l = binary(op, l, r);
    }
    return l;
}

expr_node *expr_parse(const char *src, char *err, size_t errlen)
{
    expr_token *toks;
    size_t errpos = 0;
    if (errlen)
        err[0] = '\0';
    if (expr_lex(src, &toks, &errpos) < 0) {
        if (errlen)
            snprintf(err, errlen, "bad character at %zu", errpos);
        return NULL;
    }
    parser p = {toks, 0, err, errlen, 0};
    expr_node *n = parse_expr(&p);
    if (n && toks[p.i].kind != TOK_END) {
        expr_free(n);
        n = fail(&p, "unexpected token");
    }
    free(toks);
    return n;
}

void expr_free(expr_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nargs; i++)
        expr_free(n->args[i]);
    free(n);
}

size_t expr_size(const expr_node *n)
{
    size_t size = 1;
    for (size_t i = 0; i < n->nargs; i++)
        size += expr_size(n->args[i]);
    return size;
}

void selftest_expr_parse(demo_check *c)
{
    char err[64];
    expr_node *n = expr_parse("1 + 2 * 3", err, sizeof err);
    CHECK(c, n && n->kind == NODE_BIN && n->op == '+');
    CHECK(c, n && n->args[1]->op == '*');
    CHECK_EQ(c, n ? expr_size(n) : 0, 5);
    expr_free(n);
    n = expr_parse("-2^2", err, sizeof err);
    CHECK(c, n && n->kind == NODE_NEG && n->args[0]->op == '^');
    expr_free(n);
    n = expr_parse("max(a, b, 3)", err, sizeof err);
    CHECK(c, n && n->kind == NODE_CALL && n->nargs == 3);
    CHECK_STR(c, n ? n->name : "", "max");
    expr_free(n);
    CHECK(c, expr_parse("(1 + 2", err, sizeof err) == NULL);
    CHECK_STR(c, err, "expected ')' at 6");
    CHECK(c, expr_parse("1 2", err, sizeof err) == NULL);
    CHECK_STR(c, err, "unexpected token at 2");
    CHECK(c, expr_parse("f(1,2,3,4,5)", err, sizeof err) == NULL);
    CHECK_STR(c, err, "too many arguments at 10");
    CHECK(c, expr_parse("2 * # 3", err, sizeof err) == NULL);
    CHECK_STR(c, err, "bad character at 4");
}
