/* mat_mul.c - matrix product (i-k-j loop order for cache friendliness) and powers. */
#include "demo/matrix.h"

matrix *mat_mul(const matrix *a, const matrix *b)
{
    if (a->cols != b->rows)
        return NULL;
    matrix *m = mat_new(a->rows, b->cols);
    for (size_t i = 0; i < a->rows; i++) {
        for (size_t k = 0; k < a->cols; k++) {
            double aik = MAT(a, i, k);
            for (size_t j = 0; j < b->cols; j++)
                MAT(m, i, j) += aik * MAT(b, k, j);
        }
    }
    return m;
}

matrix *mat_pow(const matrix *m, unsigned e)
{
    if (m->rows != m->cols)
        return NULL;
    matrix *result = mat_identity(m->rows), *base = mat_copy(m);
    while (e) {
        if (e & 1) {
            matrix *r = mat_mul(result, base);
            mat_free(result);
            result = r;
        }
        e >>= 1;
        if (e) {
            matrix *b = mat_mul(base, base);
            mat_free(base);
            base = b;
        }
    }
    mat_free(base);
    return result;
}

void selftest_mat_mul(demo_check *c)
{
    static const double av[] = {1, 2, 3, 4, 5, 6};
    static const double bv[] = {7, 8, 9, 10, 11, 12};
    static const double want[] = {58, 64, 139, 154};
    matrix *a = mat_from(2, 3, av), *b = mat_from(3, 2, bv), *w = mat_from(2, 2, want);
    matrix *p = mat_mul(a, b);
    CHECK(c, mat_equal(p, w, 0.0));
    CHECK(c, mat_mul(a, a) == NULL);

    /* [[1,1],[1,0]]^n holds Fibonacci numbers */
    static const double fv[] = {1, 1, 1, 0};
    matrix *f = mat_from(2, 2, fv);
    matrix *f50 = mat_pow(f, 50);
    CHECK_NEAR(c, MAT(f50, 0, 1), 12586269025.0, 0.0);
    matrix *f0 = mat_pow(f, 0);
    matrix *id = mat_identity(2);
    CHECK(c, mat_equal(f0, id, 0.0));
    mat_free(a);
    mat_free(b);
    mat_free(w);
    mat_free(p);
    mat_free(f);
    mat_free(f50);
    mat_free(f0);
    mat_free(id);
}
