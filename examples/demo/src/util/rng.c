/* rng.c - xorshift64* PRNG.  Seeds are fixed by callers so the demo's output
 * is the same on every run and every machine. */
#include "demo/containers.h"

#include <string.h>

void rng_seed(rng *r, uint64_t seed)
{
    /* xorshift has an all-zero fixed point; splitmix the seed away from it */
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    r->state = z ? z : 1;
}

uint64_t rng_next(rng *r)
{
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

uint32_t rng_below(rng *r, uint32_t bound)
{
    /* Lemire's multiply-shift with rejection: unbiased */
    uint64_t m = (uint64_t)(uint32_t)(rng_next(r) >> 32) * bound;
    uint32_t low = (uint32_t)m;
    if (low < bound) {
        uint32_t threshold = (uint32_t)(-bound) % bound;
        while (low < threshold) {
            m = (uint64_t)(uint32_t)(rng_next(r) >> 32) * bound;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

void rng_shuffle(rng *r, void *base, size_t n, size_t size)
{
    unsigned char *a = base, tmp[64];
    if (size > sizeof tmp)
        return;
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(r, (uint32_t)i);
        memcpy(tmp, a + (i - 1) * size, size);
        memcpy(a + (i - 1) * size, a + j * size, size);
        memcpy(a + j * size, tmp, size);
    }
}

void selftest_rng(demo_check *c)
{
    rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 100; i++)
        same &= rng_next(&a) == rng_next(&b);
    CHECK(c, same);
    rng_seed(&b, 43);
    CHECK(c, rng_next(&a) != rng_next(&b));

    unsigned hist[10] = {0};
    int in_range = 1;
    for (int i = 0; i < 10000; i++) {
        uint32_t v = rng_below(&a, 10);
        in_range &= v < 10;
        hist[v < 10 ? v : 0]++;
    }
    CHECK(c, in_range);
    int balanced = 1;
    for (int i = 0; i < 10; i++)
        balanced &= hist[i] > 800 && hist[i] < 1200;
    CHECK(c, balanced);

    int perm[50], seen[50] = {0};
    for (int i = 0; i < 50; i++)
        perm[i] = i;
    rng_shuffle(&a, perm, 50, sizeof perm[0]);
    int is_perm = 1, moved = 0;
    for (int i = 0; i < 50; i++) {
        is_perm &= !seen[perm[i]]++;
        moved += perm[i] != i;
    }
    CHECK(c, is_perm);
    CHECK(c, moved > 25);
}
