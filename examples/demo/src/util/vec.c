/* vec.c - a vector of fixed-size elements (type-erased, like qsort). */
#include "demo/base.h"
#include "demo/containers.h"

#include <stdlib.h>
#include <string.h>

void vec_init(vec *v, size_t elem)
{
    v->data = NULL;
    v->len = 0;
    v->cap = 0;
    v->elem = elem;
}

void vec_free(vec *v)
{
    free(v->data);
    vec_init(v, v->elem);
}

void *vec_push(vec *v, const void *elem)
{
    if (v->len == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 8;
        v->data = xrealloc(v->data, v->cap * v->elem);
    }
    void *slot = v->data + v->len * v->elem;
    memcpy(slot, elem, v->elem);
    v->len++;
    return slot;
}

void *vec_at(const vec *v, size_t i)
{
    return i < v->len ? v->data + i * v->elem : NULL;
}

int vec_pop(vec *v, void *out)
{
    if (!v->len)
        return 0;
    v->len--;
    if (out)
        memcpy(out, v->data + v->len * v->elem, v->elem);
    return 1;
}

void vec_reverse(vec *v)
{
    unsigned char tmp[256];
    if (v->elem > sizeof tmp)
        abort(); /* the demo never stores elements this large */
    for (size_t i = 0, j = v->len; i + 1 < j; i++, j--) {
        memcpy(tmp, v->data + i * v->elem, v->elem);
        memcpy(v->data + i * v->elem, v->data + (j - 1) * v->elem, v->elem);
        memcpy(v->data + (j - 1) * v->elem, tmp, v->elem);
    }
}

void selftest_vec(demo_check *c)
{
    vec v;
    vec_init(&v, sizeof(long));
    for (long i = 0; i < 100; i++) {
        long sq = i * i;
        vec_push(&v, &sq);
    }
    CHECK_EQ(c, v.len, 100);
    CHECK_EQ(c, *(long *)vec_at(&v, 9), 81);
    CHECK(c, vec_at(&v, 100) == NULL);
    vec_reverse(&v);
    CHECK_EQ(c, *(long *)vec_at(&v, 0), 99 * 99);
    long last = -1;
    CHECK(c, vec_pop(&v, &last));
    CHECK_EQ(c, last, 0);
    long sum = 0;
    while (vec_pop(&v, &last))
        sum += last;
    CHECK_EQ(c, sum, 328350); /* sum of squares 1..99 */
    CHECK(c, !vec_pop(&v, NULL));
    vec_free(&v);
}
