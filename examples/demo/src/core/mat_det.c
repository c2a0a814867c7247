/* mat_det.c - determinant via LU-style elimination, and numerical rank. */
#include "demo/matrix.h"

#include <math.h>

double mat_det(const matrix *m)
{
    if (m->rows != m->cols)
        return NAN;
    size_t n = m->rows;
    matrix *u = mat_copy(m);
    double det = 1.0;
    for (size_t col = 0; col < n; col++) {
        size_t pivot = col;
        for (size_t r = col + 1; r < n; r++) {
            if (fabs(MAT(u, r, col)) > fabs(MAT(u, pivot, col)))
                pivot = r;
        }
        if (MAT(u, pivot, col) == 0.0) {
            det = 0.0;
            break;
        }
        if (pivot != col) {
            for (size_t j = 0; j < n; j++) {
                double t = MAT(u, col, j);
                MAT(u, col, j) = MAT(u, pivot, j);
                MAT(u, pivot, j) = t;
            }
            det = -det; /* a row swap flips the sign */
        }
        det *= MAT(u, col, col);
        for (size_t r = col + 1; r < n; r++) {
            double f = MAT(u, r, col) / MAT(u, col, col);
            for (size_t j = col; j < n; j++)
                MAT(u, r, j) -= f * MAT(u, col, j);
        }
    }
    mat_free(u);
    return det;
}

size_t mat_rank(const matrix *m, double tol)
{
    matrix *u = mat_copy(m);
    size_t rank = 0;
    for (size_t col = 0; col < u->cols && rank < u->rows; col++) {
        size_t pivot = rank;
        for (size_t r = rank + 1; r < u->rows; r++) {
            if (fabs(MAT(u, r, col)) > fabs(MAT(u, pivot, col)))
                pivot = r;
        }
        if (fabs(MAT(u, pivot, col)) <= tol)
            continue;
        for (size_t j = 0; j < u->cols; j++) {
            double t = MAT(u, rank, j);
            MAT(u, rank, j) = MAT(u, pivot, j);
            MAT(u, pivot, j) = t;
        }
        for (size_t r = rank + 1; r < u->rows; r++) {
            double f = MAT(u, r, col) / MAT(u, rank, col);
            for (size_t j = col; j < u->cols; j++)
                MAT(u, r, j) -= f * MAT(u, rank, j);
        }
        rank++;
    }
    mat_free(u);
    return rank;
}

void selftest_mat_det(demo_check *c)
{
    static const double a2[] = {3, 8, 4, 6};
    static const double a3[] = {6, 1, 1, 4, -2, 5, 2, 8, 7};
    static const double sing[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    static const double wide[] = {1, 2, 3, 4, 2, 4, 6, 8};
    matrix *m2 = mat_from(2, 2, a2), *m3 = mat_from(3, 3, a3), *s = mat_from(3, 3, sing);
    matrix *w = mat_from(2, 4, wide), *id = mat_identity(5);
    CHECK_NEAR(c, mat_det(m2), -14.0, 1e-12);
    CHECK_NEAR(c, mat_det(m3), -306.0, 1e-9);
    CHECK_NEAR(c, mat_det(s), 0.0, 1e-9);
    CHECK_NEAR(c, mat_det(id), 1.0, 0.0);
    CHECK(c, isnan(mat_det(w)));
    CHECK_EQ(c, mat_rank(s, 1e-9), 2);
    CHECK_EQ(c, mat_rank(w, 1e-9), 1);
    CHECK_EQ(c, mat_rank(id, 1e-9), 5);
    mat_free(m2);
    mat_free(m3);
    mat_free(s);
    mat_free(w);
    mat_free(id);
}
