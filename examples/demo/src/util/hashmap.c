/* hashmap.c - string -> long map with open addressing and linear probing.
 * Iteration goes through hmap_sorted() so output never depends on hash order. */
#include "demo/base.h"
#include "demo/containers.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void hmap_init(hmap *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->len = 0;
}

void hmap_free(hmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    hmap_init(m);
}

static hmap_entry *find_slot(hmap_entry *slots, size_t cap, const char *key)
{
    size_t i = (size_t)hash_str(key) & (cap - 1);
    while (slots[i].key && strcmp(slots[i].key, key) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static void grow(hmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    hmap_entry *slots = xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key)
            *find_slot(slots, cap, m->slots[i].key) = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
}

long *hmap_get(const hmap *m, const char *key)
{
    if (!m->cap)
        return NULL;
    hmap_entry *e = find_slot(m->slots, m->cap, key);
    return e->key ? &e->value : NULL;
}

long *hmap_upsert(hmap *m, const char *key)
{
    /* keep the load factor under 3/4 so probes stay short */
    if ((m->len + 1) * 4 > m->cap * 3)
        grow(m);
    hmap_entry *e = find_slot(m->slots, m->cap, key);
    if (!e->key) {
        e->key = xstrdup(key);
        e->value = 0;
        m->len++;
    }
    return &e->value;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const hmap_entry *)a)->key, ((const hmap_entry *)b)->key);
}

size_t hmap_sorted(const hmap *m, const hmap_entry **out)
{
    hmap_entry *list = xmalloc(m->len * sizeof *list);
    size_t n = 0;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].key)
            list[n++] = m->slots[i];
    }
    qsort(list, n, sizeof *list, by_key);
    *out = list;
    return n;
}

void selftest_hashmap(demo_check *c)
{
    hmap m;
    hmap_init(&m);
    CHECK(c, hmap_get(&m, "missing") == NULL);
    char key[16];
    for (int i = 0; i < 500; i++) {
        key[0] = (char)('a' + i % 26);
        key[1] = (char)('a' + i / 26 % 26);
        key[2] = '\0';
        *hmap_upsert(&m, key) += i;
    }
    CHECK_EQ(c, m.len, 500 < 26 * 26 ? 500 : 26 * 26);
    CHECK_EQ(c, *hmap_get(&m, "aa"), 0);
    CHECK_EQ(c, *hmap_get(&m, "ba"), 1);
    CHECK_EQ(c, *hmap_get(&m, "ab"), 26);
    CHECK(c, hmap_get(&m, "zz") == NULL);
    const hmap_entry *sorted;
    size_t n = hmap_sorted(&m, &sorted);
    CHECK_EQ(c, n, m.len);
    int ordered = 1;
    for (size_t i = 1; i < n; i++)
        ordered &= strcmp(sorted[i - 1].key, sorted[i].key) < 0;
    CHECK(c, ordered);
    CHECK_STR(c, sorted[0].key, "aa");
    free((void *)sorted);
    hmap_free(&m);
}
