/* mat_solve.c - linear systems and inverses by Gaussian elimination with
 * partial pivoting (pivoting keeps small pivots from blowing up the error). */
#include "demo/base.h"
#include "demo/matrix.h"

#include <math.h>
#include <stdlib.h>

#define SINGULAR_EPS 1e-12

/* Reduces the augmented [A | B] in place; returns 0 if A is singular. */
static int eliminate(matrix *aug, size_t n)
{
    for (size_t col = 0; col < n; col++) {
        size_t pivot = col;
        for (size_t r = col + 1; r < n; r++) {
            if (fabs(MAT(aug, r, col)) > fabs(MAT(aug, pivot, col)))
                pivot = r;
        }
        if (fabs(MAT(aug, pivot, col)) < SINGULAR_EPS)
            return 0;
        if (pivot != col) {
            for (size_t j = 0; j < aug->cols; j++) {
                double t = MAT(aug, col, j);
                MAT(aug, col, j) = MAT(aug, pivot, j);
                MAT(aug, pivot, j) = t;
            }
        }
        double inv = 1.0 / MAT(aug, col, col);
        for (size_t j = 0; j < aug->cols; j++)
            MAT(aug, col, j) *= inv;
        for (size_t r = 0; r < n; r++) {
            double f = MAT(aug, r, col);
            if (r == col || f == 0.0)
                continue;
            for (size_t j = 0; j < aug->cols; j++)
                MAT(aug, r, j) -= f * MAT(aug, col, j);
        }
    }
    return 1;
}

int mat_solve(const matrix *a, const double *b, double *x)
{
    size_t n = a->rows;
    if (a->cols != n)
        return 0;
    matrix *aug = mat_new(n, n + 1);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++)
            MAT(aug, i, j) = MAT(a, i, j);
        MAT(aug, i, n) = b[i];
    }
    int ok = eliminate(aug, n);
    for (size_t i = 0; ok && i < n; i++)
        x[i] = MAT(aug, i, n);
    mat_free(aug);
    return ok;
}

matrix *mat_inverse(const matrix *m)
{
    size_t n = m->rows;
    if (m->cols != n)
        return NULL;
    matrix *aug = mat_new(n, 2 * n);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++)
            MAT(aug, i, j) = MAT(m, i, j);
        MAT(aug, i, n + i) = 1.0;
    }
    matrix *inv = NULL;
    if (eliminate(aug, n)) {
        inv = mat_new(n, n);
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < n; j++)
                MAT(inv, i, j) = MAT(aug, i, n + j);
        }
    }
    mat_free(aug);
    return inv;
}

void selftest_mat_solve(demo_check *c)
{
    static const double av[] = {2, 1, -1, -3, -1, 2, -2, 1, 2};
    static const double b[] = {8, -11, -3};
    double x[3];
    matrix *a = mat_from(3, 3, av);
    CHECK(c, mat_solve(a, b, x));
    CHECK_NEAR(c, x[0], 2.0, 1e-12);
    CHECK_NEAR(c, x[1], 3.0, 1e-12);
    CHECK_NEAR(c, x[2], -1.0, 1e-12);

    matrix *inv = mat_inverse(a);
    matrix *prod = mat_mul(a, inv);
    matrix *id = mat_identity(3);
    CHECK(c, mat_equal(prod, id, 1e-12));

    static const double sv[] = {1, 2, 2, 4};
    matrix *sing = mat_from(2, 2, sv);
    CHECK(c, mat_inverse(sing) == NULL);
    CHECK(c, !mat_solve(sing, b, x));
    mat_free(a);
    mat_free(inv);
    mat_free(prod);
    mat_free(id);
    mat_free(sing);
}
