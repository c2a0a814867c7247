/* mat_sparse.c - sparse matrices in compressed sparse row (CSR) form: conversion
 * from/to dense, sparse x dense products and power iteration. */
#include "demo/base.h"
#include "demo/matrix.h"

#include <math.h>
#include <stdlib.h>

sparse *sparse_from_dense(const matrix *m, double tol)
{
    sparse *s = xmalloc(sizeof *s);
    size_t nnz = 0;
    for (size_t i = 0; i < m->rows * m->cols; i++)
        nnz += fabs(m->a[i]) > tol;
    s->rows = m->rows;
    s->cols = m->cols;
    s->nnz = nnz;
    s->row_start = xmalloc((m->rows + 1) * sizeof *s->row_start);
    s->col = xmalloc(nnz * sizeof *s->col);
    s->val = xmalloc(nnz * sizeof *s->val);
    size_t k = 0;
    for (size_t i = 0; i < m->rows; i++) {
        s->row_start[i] = k;
        for (size_t j = 0; j < m->cols; j++) {
            if (fabs(MAT(m, i, j)) > tol) {
                s->col[k] = j;
                s->val[k++] = MAT(m, i, j);
            }
        }
    }
    s->row_start[m->rows] = k;
    return s;
}

void sparse_free(sparse *s)
{
    if (s) {
        free(s->row_start);
        free(s->col);
        free(s->val);
        free(s);
    }
}

matrix *sparse_to_dense(const sparse *s)
{
    matrix *m = mat_new(s->rows, s->cols);
    for (size_t i = 0; i < s->rows; i++)
        for (size_t k = s->row_start[i]; k < s->row_start[i + 1]; k++)
            MAT(m, i, s->col[k]) = s->val[k];
    return m;
}

void sparse_apply(const sparse *s, const double *x, double *y)
{
    for (size_t i = 0; i < s->rows; i++) {
        double acc = 0.0;
        for (size_t k = s->row_start[i]; k < s->row_start[i + 1]; k++)
            acc += s->val[k] * x[s->col[k]];
        y[i] = acc;
    }
}

matrix *sparse_mul_dense(const sparse *a, const matrix *b)
{
    if (a->cols != b->rows)
        return NULL;
    matrix *m = mat_new(a->rows, b->cols);
    for (size_t i = 0; i < a->rows; i++)
        for (size_t k = a->row_start[i]; k < a->row_start[i + 1]; k++)
            for (size_t j = 0; j < b->cols; j++)
                MAT(m, i, j) += a->val[k] * MAT(b, a->col[k], j);
    return m;
}

double sparse_dominant_eigenvalue(const sparse *s, int iterations)
{
    size_t n = s->rows;
    double *x = xmalloc(n * sizeof *x), *y = xmalloc(n * sizeof *y), lambda = 0.0;
    /* not all ones: for symmetric tridiagonal matrices that vector can be
     * orthogonal to the dominant eigenvector */
    for (size_t i = 0; i < n; i++)
        x[i] = 1.0 + (double)i;
    for (int it = 0; it < iterations; it++) {
        sparse_apply(s, x, y);
        double xy = 0.0, xx = 0.0, yy = 0.0;
        for (size_t i = 0; i < n; i++) {
            xy += x[i] * y[i];
            xx += x[i] * x[i];
            yy += y[i] * y[i];
        }
        lambda = xy / xx; /* Rayleigh quotient */
        double norm = sqrt(yy);
        for (size_t i = 0; i < n; i++)
            x[i] = y[i] / norm;
    }
    free(x);
    free(y);
    return lambda;
}

void selftest_mat_sparse(demo_check *c)
{
    enum { N = 8 };
    matrix *lap = mat_new(N, N); /* 1-D Laplacian: tridiagonal 2, -1 */
    for (size_t i = 0; i < N; i++) {
        MAT(lap, i, i) = 2.0;
        if (i + 1 < N)
            MAT(lap, i, i + 1) = MAT(lap, i + 1, i) = -1.0;
    }
    sparse *s = sparse_from_dense(lap, 0.0);
    CHECK_EQ(c, s->nnz, 3 * N - 2);
    CHECK_EQ(c, s->row_start[1], 2);
    matrix *back = sparse_to_dense(s);
    CHECK(c, mat_equal(back, lap, 0.0));
    matrix *sq_dense = mat_mul(lap, lap), *sq_sparse = sparse_mul_dense(s, lap);
    CHECK(c, mat_equal(sq_dense, sq_sparse, 0.0));
    CHECK_NEAR(c, MAT(sq_sparse, 0, 0), 5.0, 0.0);
    /* eigenvalues are 2 - 2cos(k pi / (N+1)); the largest is k = N */
    double want = 2.0 - 2.0 * cos(N * acos(-1.0) / (N + 1));
    CHECK_NEAR(c, sparse_dominant_eigenvalue(s, 500), want, 1e-9);
    matrix *wide = mat_new(3, 2);
    CHECK(c, sparse_mul_dense(s, wide) == NULL);
    mat_free(lap);
    mat_free(back);
    mat_free(sq_dense);
    mat_free(sq_sparse);
    mat_free(wide);
    sparse_free(s);
}
