/* expr_lex.c - tokenizer for the expression language. */
#include "demo/base.h"
#include "demo/expr.h"

#include <stdlib.h>
#include <string.h>

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static int is_ident(char ch, int first)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
           (!first && is_digit(ch));
}

long expr_lex(const char *src, expr_token **out, size_t *errpos)
{
    size_t cap = 16, n = 0, i = 0;
    expr_token *toks = xmalloc(cap * sizeof *toks);
    for (;;) {
        while (src[i] == ' ' || src[i] == '\t')
            i++;
        if (n == cap) {
            cap *= 2;
            toks = xrealloc(toks, cap * sizeof *toks);
        }
        expr_token *t = &toks[n];
        memset(t, 0, sizeof *t);
        t->pos = i;
        char ch = src[i];
        if (ch == '\0') {
            t->kind = TOK_END;
            n++;
            break;
        }
        if (is_digit(ch) || (ch == '.' && is_digit(src[i + 1]))) {
            char *end;
            t->kind = TOK_NUM;
            t->num = strtod(src + i, &end);
            i = (size_t)(end - src);
        } else if (is_ident(ch, 1)) {
            size_t len = 0;
            t->kind = TOK_IDENT;
            while (is_ident(src[i], 0)) {
                if (len + 1 >= sizeof t->text)
                    goto error;
                t->text[len++] = src[i++];
            }
        } else if (strchr("+-*/%^", ch)) {
            t->kind = TOK_OP;
            t->text[0] = ch;
            i++;
        } else if (ch == '(' || ch == ')' || ch == ',') {
            t->kind = ch == '(' ? TOK_LPAREN : ch == ')' ? TOK_RPAREN : TOK_COMMA;
            t->text[0] = ch;
            i++;
        } else {
            goto error;
        }
        n++;
    }
    *out = toks;
    return (long)n;
error:
    free(toks);
    *errpos = i;
    return -1;
}

void selftest_expr_lex(demo_check *c)
{
    expr_token *t;
    size_t errpos = 0;
    long n = expr_lex("x1 + 2.5e1*(y-.5)", &t, &errpos);
    CHECK_EQ(c, n, 10);
    CHECK(c, t[0].kind == TOK_IDENT);
    CHECK_STR(c, t[0].text, "x1");
    CHECK_NEAR(c, t[2].num, 25.0, 0.0);
    CHECK(c, t[4].kind == TOK_LPAREN);
    CHECK_NEAR(c, t[7].num, 0.5, 0.0);
    CHECK(c, t[9].kind == TOK_END);
    CHECK_EQ(c, t[9].pos, 17);
    free(t);
    CHECK_EQ(c, expr_lex("1 + $", &t, &errpos), -1);
    CHECK_EQ(c, errpos, 4);
    CHECK_EQ(c, expr_lex("a_very_long_identifier", &t, &errpos), -1);
}
