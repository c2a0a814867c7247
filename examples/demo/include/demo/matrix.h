/* matrix.h - small dense row-major matrices of doubles, and sparse ones. */
#ifndef DEMO_MATRIX_H
#define DEMO_MATRIX_H

#include <stddef.h>

#include "demo/check.h"
#include "demo/strutil.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct matrix {
    size_t rows;
    size_t cols;
    double *a;
} matrix;

#define MAT(m, i, j) ((m)->a[(i) * (m)->cols + (j)])

/* mat_basic.c */
matrix *mat_new(size_t rows, size_t cols);
matrix *mat_identity(size_t n);
matrix *mat_from(size_t rows, size_t cols, const double *values);
matrix *mat_copy(const matrix *m);
void mat_free(matrix *m);
int mat_equal(const matrix *a, const matrix *b, double tol);
matrix *mat_add(const matrix *a, const matrix *b);
void mat_scale(matrix *m, double k);
matrix *mat_transpose(const matrix *m);

/* mat_mul.c */
matrix *mat_mul(const matrix *a, const matrix *b);
matrix *mat_pow(const matrix *m, unsigned e);

/* mat_solve.c: Gaussian elimination with partial pivoting; 0 if singular */
int mat_solve(const matrix *a, const double *b, double *x);
matrix *mat_inverse(const matrix *m);

/* mat_det.c */
double mat_det(const matrix *m);
size_t mat_rank(const matrix *m, double tol);

/* mat_format.c: "[1 2; 3 4]" */
void mat_format(str_buf *out, const matrix *m);
matrix *mat_parse(const char *s);

/* mat_sparse.c: compressed sparse row form */
typedef struct sparse {
    size_t rows;
    size_t cols;
    size_t nnz;
    size_t *row_start; /* rows + 1 entries */
    size_t *col;
    double *val;
} sparse;

sparse *sparse_from_dense(const matrix *m, double tol);
matrix *sparse_to_dense(const sparse *s);
void sparse_free(sparse *s);
void sparse_apply(const sparse *s, const double *x, double *y);
matrix *sparse_mul_dense(const sparse *a, const matrix *b);
double sparse_dominant_eigenvalue(const sparse *s, int iterations);

void selftest_mat_basic(demo_check *c);
void selftest_mat_mul(demo_check *c);
void selftest_mat_solve(demo_check *c);
void selftest_mat_det(demo_check *c);
void selftest_mat_format(demo_check *c);
void selftest_mat_sparse(demo_check *c);

#ifdef __cplusplus
}
#endif

#endif
