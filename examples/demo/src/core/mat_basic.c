/* mat_basic.c - construction, comparison and element-wise matrix operations. */
#include "demo/base.h"
#include "demo/matrix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

matrix *mat_new(size_t rows, size_t cols)
{
    matrix *m = xmalloc(sizeof *m);
    m->rows = rows;
    m->cols = cols;
    m->a = xcalloc(rows * cols, sizeof *m->a);
    return m;
}

matrix *mat_identity(size_t n)
{
    matrix *m = mat_new(n, n);
    for (size_t i = 0; i < n; i++)
        MAT(m, i, i) = 1.0;
    return m;
}

matrix *mat_from(size_t rows, size_t cols, const double *values)
{
    matrix *m = mat_new(rows, cols);
    memcpy(m->a, values, rows * cols * sizeof *values);
    return m;
}

matrix *mat_copy(const matrix *m)
{
    return mat_from(m->rows, m->cols, m->a);
}

void mat_free(matrix *m)
{
    if (m) {
        free(m->a);
        free(m);
    }
}

int mat_equal(const matrix *a, const matrix *b, double tol)
{
    if (a->rows != b->rows || a->cols != b->cols)
        return 0;
    for (size_t i = 0; i < a->rows * a->cols; i++) {
        if (!(fabs(a->a[i] - b->a[i]) <= tol))
            return 0;
    }
    return 1;
}

matrix *mat_add(const matrix *a, const matrix *b)
{
    if (a->rows != b->rows || a->cols != b->cols)
        return NULL;
    matrix *m = mat_new(a->rows, a->cols);
    for (size_t i = 0; i < a->rows * a->cols; i++)
        m->a[i] = a->a[i] + b->a[i];
    return m;
}

void mat_scale(matrix *m, double k)
{
    for (size_t i = 0; i < m->rows * m->cols; i++)
        m->a[i] *= k;
}

matrix *mat_transpose(const matrix *m)
{
    matrix *t = mat_new(m->cols, m->rows);
    for (size_t i = 0; i < m->rows; i++) {
        for (size_t j = 0; j < m->cols; j++)
            MAT(t, j, i) = MAT(m, i, j);
    }
    return t;
}

void selftest_mat_basic(demo_check *c)
{
    static const double v[] = {1, 2, 3, 4, 5, 6};
    matrix *a = mat_from(2, 3, v);
    matrix *t = mat_transpose(a);
    CHECK_EQ(c, t->rows, 3);
    CHECK_NEAR(c, MAT(t, 2, 1), 6.0, 0.0);
    matrix *tt = mat_transpose(t);
    CHECK(c, mat_equal(a, tt, 0.0));
    matrix *s = mat_add(a, tt);
    mat_scale(s, 0.5);
    CHECK(c, mat_equal(s, a, 1e-15));
    CHECK(c, mat_add(a, t) == NULL);
    matrix *id = mat_identity(3);
    double trace = 0;
    for (size_t i = 0; i < 3; i++)
        trace += MAT(id, i, i);
    CHECK_NEAR(c, trace, 3.0, 0.0);
    matrix *cp = mat_copy(id);
    MAT(cp, 0, 1) = 1e-9;
    CHECK(c, !mat_equal(id, cp, 0.0));
    CHECK(c, mat_equal(id, cp, 1e-8));
    mat_free(a);
    mat_free(t);
    mat_free(tt);
    mat_free(s);
    mat_free(id);
    mat_free(cp);
}
