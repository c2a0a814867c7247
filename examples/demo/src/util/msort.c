/* msort.c - stable merge sort with a context pointer, and lower_bound. */
#include "demo/base.h"
#include "demo/containers.h"

#include <stdlib.h>
#include <string.h>

static void merge_pass(unsigned char *a, unsigned char *tmp, size_t n, size_t size,
                       demo_cmp_fn *cmp, void *ctx)
{
    if (n < 2)
        return;
    size_t mid = n / 2;
    merge_pass(a, tmp, mid, size, cmp, ctx);
    merge_pass(a + mid * size, tmp, n - mid, size, cmp, ctx);
    size_t i = 0, j = mid, k = 0;
    while (i < mid && j < n) {
        /* take from the left on ties: that is what makes the sort stable */
        if (cmp(a + j * size, a + i * size, ctx) < 0)
            memcpy(tmp + k++ * size, a + j++ * size, size);
        else
            memcpy(tmp + k++ * size, a + i++ * size, size);
    }
    memcpy(tmp + k * size, a + i * size, (mid - i) * size);
    k += mid - i;
    memcpy(tmp + k * size, a + j * size, (n - j) * size);
    memcpy(a, tmp, n * size);
}

void msort(void *base, size_t n, size_t size, demo_cmp_fn *cmp, void *ctx)
{
    unsigned char *tmp = xmalloc(n * size);
    merge_pass(base, tmp, n, size, cmp, ctx);
    free(tmp);
}

size_t lower_bound(const void *base, size_t n, size_t size, const void *key, demo_cmp_fn *cmp,
                   void *ctx)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp((const unsigned char *)base + mid * size, key, ctx) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

typedef struct pair {
    int key;
    int seq;
} pair;

static int by_key_mod(const void *a, const void *b, void *ctx)
{
    int mod = *(const int *)ctx;
    return ((const pair *)a)->key % mod - ((const pair *)b)->key % mod;
}

static int by_int(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

void selftest_msort(demo_check *c)
{
    pair p[200];
    for (int i = 0; i < 200; i++) {
        p[i].key = (i * 7919) % 200;
        p[i].seq = i;
    }
    int mod = 10;
    msort(p, 200, sizeof p[0], by_key_mod, &mod);
    int sorted = 1, stable = 1;
    for (int i = 1; i < 200; i++) {
        int a = p[i - 1].key % mod, b = p[i].key % mod;
        sorted &= a <= b;
        stable &= a < b || p[i - 1].seq < p[i].seq;
    }
    CHECK(c, sorted);
    CHECK(c, stable);

    int v[] = {9, 1, 8, 2, 7, 3, 6, 4, 5, 5};
    msort(v, 10, sizeof v[0], by_int, NULL);
    CHECK_EQ(c, v[0], 1);
    CHECK_EQ(c, v[9], 9);
    int key = 5;
    CHECK_EQ(c, lower_bound(v, 10, sizeof v[0], &key, by_int, NULL), 4);
    key = 10;
    CHECK_EQ(c, lower_bound(v, 10, sizeof v[0], &key, by_int, NULL), 10);
    key = 0;
    CHECK_EQ(c, lower_bound(v, 10, sizeof v[0], &key, by_int, NULL), 0);
}
