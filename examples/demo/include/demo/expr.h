/* expr.h - a tiny arithmetic expression evaluator: lexer, recursive-descent
 * parser, tree evaluator with variables and builtin functions, and a printer. */
#ifndef DEMO_EXPR_H
#define DEMO_EXPR_H

#include <stddef.h>

#include "demo/check.h"
#include "demo/strutil.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum expr_tok_kind {
    TOK_NUM,
    TOK_IDENT,
    TOK_OP, /* one of + - * / % ^ */
    TOK_LPAREN,
    TOK_RPAREN,
    TOK_COMMA,
    TOK_END
} expr_tok_kind;

typedef struct expr_token {
    expr_tok_kind kind;
    double num;
    char text[16];
    size_t pos;
} expr_token;

/* expr_lex.c: returns token count (last is TOK_END) or -1 with *errpos set */
long expr_lex(const char *src, expr_token **out, size_t *errpos);

typedef enum expr_node_kind { NODE_NUM, NODE_VAR, NODE_NEG, NODE_BIN, NODE_CALL } expr_node_kind;

#define EXPR_MAX_ARGS 4

typedef struct expr_node {
    expr_node_kind kind;
    double num;
    char name[16];
    char op;
    size_t nargs;
    struct expr_node *args[EXPR_MAX_ARGS];
} expr_node;

/* expr_parse.c */
expr_node *expr_parse(const char *src, char *err, size_t errlen);
void expr_free(expr_node *n);
size_t expr_size(const expr_node *n);

/* expr_eval.c */
typedef struct expr_var {
    const char *name;
    double value;
} expr_var;

typedef enum expr_status {
    EXPR_OK = 0,
    EXPR_UNKNOWN_VAR,
    EXPR_UNKNOWN_FUNC,
    EXPR_BAD_ARITY,
    EXPR_DIV_ZERO,
    EXPR_DOMAIN
} expr_status;

expr_status expr_eval(const expr_node *n, const expr_var *vars, size_t nvars, double *out);
expr_status expr_eval_str(const char *src, const expr_var *vars, size_t nvars, double *out);
const char *expr_status_name(expr_status s);

/* expr_funcs.c */
expr_status expr_call_builtin(const char *name, const double *args, size_t n, double *out);
size_t expr_builtin_names(const char **out, size_t cap);

/* expr_print.c */
void expr_print(str_buf *out, const expr_node *n);
void expr_print_rpn(str_buf *out, const expr_node *n);

void selftest_expr_lex(demo_check *c);
void selftest_expr_parse(demo_check *c);
void selftest_expr_eval(demo_check *c);
void selftest_expr_funcs(demo_check *c);
void selftest_expr_print(demo_check *c);

#ifdef __cplusplus
}
#endif

#endif
