/* mat_format.c - text form of a matrix, "[1 2; 3 4]", and its parser. */
#include "demo/base.h"
#include "demo/containers.h"
#include "demo/matrix.h"

#include <stdlib.h>

void mat_format(str_buf *out, const matrix *m)
{
    sb_putc(out, '[');
    for (size_t i = 0; i < m->rows; i++) {
        if (i)
            sb_puts(out, "; ");
        for (size_t j = 0; j < m->cols; j++)
            sb_printf(out, j ? " %.10g" : "%.10g", MAT(m, i, j));
    }
    sb_putc(out, ']');
}

matrix *mat_parse(const char *s)
{
    vec values;
    size_t rows = 0, cols = 0, in_row = 0;
    vec_init(&values, sizeof(double));
    while (*s == ' ')
        s++;
    if (*s++ != '[')
        goto fail;
    for (;;) {
        while (*s == ' ')
            s++;
        if (*s == ';' || *s == ']') {
            if (in_row == 0 || (rows && in_row != cols))
                goto fail;
            cols = in_row;
            rows++;
            in_row = 0;
            if (*s++ == ']')
                break;
            continue;
        }
        char *end;
        double v = strtod(s, &end);
        if (end == s)
            goto fail;
        vec_push(&values, &v);
        in_row++;
        s = end;
    }
    while (*s == ' ')
        s++;
    if (*s)
        goto fail;
    matrix *m = mat_from(rows, cols, (const double *)values.data);
    vec_free(&values);
    return m;
fail:
    vec_free(&values);
    return NULL;
}

void selftest_mat_format(demo_check *c)
{
    static const double v[] = {1, -2.5, 1e-3, 4, 5, 6e10};
    matrix *m = mat_from(2, 3, v);
    str_buf b;
    sb_init(&b);
    mat_format(&b, m);
    CHECK_STR(c, sb_str(&b), "[1 -2.5 0.001; 4 5 6e+10]");
    matrix *back = mat_parse(sb_str(&b));
    CHECK(c, back != NULL && mat_equal(m, back, 0.0));
    CHECK(c, mat_parse("[1 2; 3]") == NULL);
    CHECK(c, mat_parse("[1 2; 3 4") == NULL);
    CHECK(c, mat_parse("[]") == NULL);
    matrix *col = mat_parse(" [1;2;3] ");
    CHECK(c, col != NULL && col->rows == 3 && col->cols == 1);
    sb_free(&b);
    mat_free(m);
    mat_free(back);
    mat_free(col);
}
