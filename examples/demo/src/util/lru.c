/* lru.c - a fixed-capacity least-recently-used cache from uint64 keys to longs:
 * nodes in a doubly linked recency list, found through a linear-probing index
 * that uses backward-shift deletion (no tombstones to clog it under churn). */
#include "demo/base.h"
#include "demo/containers.h"

#include <stdlib.h>

#define LRU_EMPTY (-1)

static size_t lru_hash(uint64_t key)
{
    key ^= key >> 33;
    key *= 0xFF51AFD7ED558CCDULL;
    key ^= key >> 33;
    return (size_t)key;
}

void lru_init(lru *c, size_t capacity)
{
    c->cap = capacity ? capacity : 1;
    c->icap = 4;
    while (c->icap < 2 * c->cap)
        c->icap *= 2;
    c->nodes = xmalloc(c->cap * sizeof *c->nodes);
    c->index = xmalloc(c->icap * sizeof *c->index);
    for (size_t i = 0; i < c->icap; i++)
        c->index[i] = LRU_EMPTY;
    c->len = 0;
    c->head = c->tail = LRU_EMPTY;
    c->hits = c->misses = c->evictions = 0;
}

void lru_free(lru *c)
{
    free(c->nodes);
    free(c->index);
    c->nodes = NULL;
    c->index = NULL;
}

static size_t find_slot(const lru *c, uint64_t key)
{
    size_t mask = c->icap - 1, i = lru_hash(key) & mask;
    while (c->index[i] != LRU_EMPTY && c->nodes[c->index[i]].key != key)
        i = (i + 1) & mask;
    return i;
}

static void index_delete(lru *c, size_t i)
{
    size_t mask = c->icap - 1;
    for (size_t j = (i + 1) & mask; c->index[j] != LRU_EMPTY; j = (j + 1) & mask) {
        size_t home = lru_hash(c->nodes[c->index[j]].key) & mask;
        /* move j back into the hole unless its home lies cyclically in (i, j] */
        int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            c->index[i] = c->index[j];
            i = j;
        }
    }
    c->index[i] = LRU_EMPTY;
}

static void unlink_node(lru *c, int n)
{
    lru_node *node = &c->nodes[n];
    if (node->prev != LRU_EMPTY)
        c->nodes[node->prev].next = node->next;
    else
        c->head = node->next;
    if (node->next != LRU_EMPTY)
        c->nodes[node->next].prev = node->prev;
    else
        c->tail = node->prev;
}

static void push_front(lru *c, int n)
{
    c->nodes[n].prev = LRU_EMPTY;
    c->nodes[n].next = c->head;
    if (c->head != LRU_EMPTY)
        c->nodes[c->head].prev = n;
    c->head = n;
    if (c->tail == LRU_EMPTY)
        c->tail = n;
}

int lru_get(lru *c, uint64_t key, long *value)
{
    size_t slot = find_slot(c, key);
    int n = c->index[slot];
    if (n == LRU_EMPTY) {
        c->misses++;
        return 0;
    }
    c->hits++;
    unlink_node(c, n);
    push_front(c, n);
    *value = c->nodes[n].value;
    return 1;
}

void lru_put(lru *c, uint64_t key, long value)
{
    size_t slot = find_slot(c, key);
    int n = c->index[slot];
    if (n != LRU_EMPTY) {
        c->nodes[n].value = value;
        unlink_node(c, n);
        push_front(c, n);
        return;
    }
    if (c->len == c->cap) {
        /* reuse the least recently used node */
        n = c->tail;
        unlink_node(c, n);
        index_delete(c, find_slot(c, c->nodes[n].key));
        c->evictions++;
        slot = find_slot(c, key); /* the deletion may have moved entries */
    } else {
        n = (int)c->len++;
    }
    c->nodes[n].key = key;
    c->nodes[n].value = value;
    c->index[slot] = n;
    push_front(c, n);
}

size_t lru_keys(const lru *c, uint64_t *out, size_t cap)
{
    size_t k = 0;
    for (int n = c->head; n != LRU_EMPTY && k < cap; n = c->nodes[n].next)
        out[k++] = c->nodes[n].key;
    return k;
}

/* Collatz chain length memoised through a small cache, to exercise eviction. */
static long collatz_len(uint64_t n, lru *memo)
{
    long len;
    if (n == 1)
        return 1;
    if (lru_get(memo, n, &len))
        return len;
    len = 1 + collatz_len(n % 2 ? 3 * n + 1 : n / 2, memo);
    lru_put(memo, n, len);
    return len;
}

void selftest_lru(demo_check *c)
{
    lru cache;
    long v = 0;
    uint64_t keys[8];
    lru_init(&cache, 3);
    lru_put(&cache, 1, 10);
    lru_put(&cache, 2, 20);
    lru_put(&cache, 3, 30);
    CHECK(c, lru_get(&cache, 1, &v) && v == 10);
    lru_put(&cache, 4, 40); /* evicts 2, the least recently used */
    CHECK(c, !lru_get(&cache, 2, &v));
    CHECK(c, lru_get(&cache, 3, &v) && v == 30);
    lru_put(&cache, 1, 11);
    CHECK_EQ(c, lru_keys(&cache, keys, 8), 3);
    CHECK(c, keys[0] == 1 && keys[1] == 3 && keys[2] == 4);
    CHECK_EQ(c, cache.hits, 2);
    CHECK_EQ(c, cache.misses, 1);
    CHECK_EQ(c, cache.evictions, 1);
    lru_free(&cache);

    lru memo;
    lru_init(&memo, 64);
    long best = 0, best_n = 0;
    for (uint64_t n = 1; n < 10000; n++) {
        long len = collatz_len(n, &memo);
        if (len > best) {
            best = len;
            best_n = (long)n;
        }
    }
    CHECK_EQ(c, best_n, 6171);
    CHECK_EQ(c, best, 262);
    CHECK(c, memo.evictions > 0 && memo.hits > 0);
    /* after heavy churn every cached key is still findable */
    size_t n = lru_keys(&memo, keys, 8);
    int findable = n == 8;
    for (size_t i = 0; i < n; i++)
        findable &= lru_get(&memo, keys[i], &v);
    CHECK(c, findable);
    lru_free(&memo);
}
