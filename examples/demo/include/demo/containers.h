/* containers.h - generic containers and algorithms for the C modules:
 * vectors, a string->long hash map, an arena, bitsets, a stable sort, a PRNG
 * and an LRU cache. */
#ifndef DEMO_CONTAINERS_H
#define DEMO_CONTAINERS_H

#include <stddef.h>
#include <stdint.h>

#include "demo/check.h"

#ifdef __cplusplus
extern "C" {
#endif

/* vec.c: a vector of fixed-size elements */
typedef struct vec {
    unsigned char *data;
    size_t len;
    size_t cap;
    size_t elem;
} vec;

void vec_init(vec *v, size_t elem);
void vec_free(vec *v);
void *vec_push(vec *v, const void *elem);
void *vec_at(const vec *v, size_t i);
int vec_pop(vec *v, void *out);
void vec_reverse(vec *v);

/* hashmap.c: open addressing, string keys owned by the map */
typedef struct hmap_entry {
    char *key;
    long value;
} hmap_entry;

typedef struct hmap {
    hmap_entry *slots;
    size_t cap;
    size_t len;
} hmap;

void hmap_init(hmap *m);
void hmap_free(hmap *m);
long *hmap_get(const hmap *m, const char *key);
long *hmap_upsert(hmap *m, const char *key); /* new keys start at 0 */
size_t hmap_sorted(const hmap *m, const hmap_entry **out); /* caller frees *out */

/* arena.c: bump allocator released all at once */
typedef struct arena_chunk arena_chunk;
typedef struct arena {
    arena_chunk *head;
    size_t used;
    size_t total;
} arena;

void arena_init(arena *a);
void *arena_alloc(arena *a, size_t n);
char *arena_strdup(arena *a, const char *s);
void arena_release(arena *a);

/* bitset.c */
typedef struct bitset {
    uint64_t *words;
    size_t nbits;
} bitset;

void bs_init(bitset *b, size_t nbits);
void bs_free(bitset *b);
void bs_set(bitset *b, size_t i);
void bs_clear(bitset *b, size_t i);
int bs_test(const bitset *b, size_t i);
size_t bs_count(const bitset *b);
long bs_next(const bitset *b, size_t from);

/* msort.c: stable merge sort and binary search */
typedef int demo_cmp_fn(const void *a, const void *b, void *ctx);
void msort(void *base, size_t n, size_t size, demo_cmp_fn *cmp, void *ctx);
size_t lower_bound(const void *base, size_t n, size_t size, const void *key, demo_cmp_fn *cmp,
                   void *ctx);

/* rng.c: xorshift64* with a fixed seed, so every run is identical */
typedef struct rng {
    uint64_t state;
} rng;

void rng_seed(rng *r, uint64_t seed);
uint64_t rng_next(rng *r);
uint32_t rng_below(rng *r, uint32_t bound);
void rng_shuffle(rng *r, void *base, size_t n, size_t size);

/* lru.c: fixed-capacity LRU cache, uint64 keys -> long values */
typedef struct lru_node {
    uint64_t key;
    long value;
    int prev;
    int next;
} lru_node;

typedef struct lru {
    lru_node *nodes;
    int *index; /* open addressing over node numbers, -1 = empty */
    size_t cap;
    size_t icap;
    size_t len;
    int head; /* most recently used */
    int tail; /* least recently used */
    size_t hits;
    size_t misses;
    size_t evictions;
} lru;

void lru_init(lru *c, size_t capacity);
void lru_free(lru *c);
int lru_get(lru *c, uint64_t key, long *value);
void lru_put(lru *c, uint64_t key, long value);
size_t lru_keys(const lru *c, uint64_t *out, size_t cap); /* most recent first */

void selftest_xalloc(demo_check *c);
void selftest_vec(demo_check *c);
void selftest_hashmap(demo_check *c);
void selftest_arena(demo_check *c);
void selftest_bitset(demo_check *c);
void selftest_msort(demo_check *c);
void selftest_rng(demo_check *c);
void selftest_lru(demo_check *c);

#ifdef __cplusplus
}
#endif

#endif
