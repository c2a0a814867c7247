/* bitset.c - fixed-size bitsets; the selftest runs a sieve of Eratosthenes. */
#include "demo/base.h"
#include "demo/containers.h"

#include <stdlib.h>

static size_t nwords(size_t nbits)
{
    return (nbits + 63) / 64;
}

void bs_init(bitset *b, size_t nbits)
{
    b->words = xcalloc(nwords(nbits), sizeof *b->words);
    b->nbits = nbits;
}

void bs_free(bitset *b)
{
    free(b->words);
    b->words = NULL;
    b->nbits = 0;
}

void bs_set(bitset *b, size_t i)
{
    b->words[i / 64] |= (uint64_t)1 << (i % 64);
}

void bs_clear(bitset *b, size_t i)
{
    b->words[i / 64] &= ~((uint64_t)1 << (i % 64));
}

int bs_test(const bitset *b, size_t i)
{
    return (int)((b->words[i / 64] >> (i % 64)) & 1);
}

size_t bs_count(const bitset *b)
{
    size_t n = 0;
    for (size_t w = 0; w < nwords(b->nbits); w++)
        n += (size_t)__builtin_popcountll(b->words[w]);
    return n;
}

long bs_next(const bitset *b, size_t from)
{
    for (size_t w = from / 64; w < nwords(b->nbits); w++) {
        uint64_t bits = b->words[w];
        if (w == from / 64)
            bits &= ~(uint64_t)0 << (from % 64);
        if (bits)
            return (long)(w * 64 + (size_t)__builtin_ctzll(bits));
    }
    return -1;
}

void selftest_bitset(demo_check *c)
{
    enum { N = 1000 };
    bitset composite;
    bs_init(&composite, N);
    bs_set(&composite, 0);
    bs_set(&composite, 1);
    for (size_t i = 2; i * i < N; i++) {
        if (!bs_test(&composite, i)) {
            for (size_t j = i * i; j < N; j += i)
                bs_set(&composite, j);
        }
    }
    CHECK_EQ(c, N - bs_count(&composite), 168); /* primes below 1000 */
    CHECK(c, !bs_test(&composite, 997));
    CHECK(c, bs_test(&composite, 999));

    bitset b;
    bs_init(&b, 200);
    CHECK_EQ(c, bs_next(&b, 0), -1);
    bs_set(&b, 5);
    bs_set(&b, 64);
    bs_set(&b, 199);
    CHECK_EQ(c, bs_next(&b, 0), 5);
    CHECK_EQ(c, bs_next(&b, 6), 64);
    CHECK_EQ(c, bs_next(&b, 65), 199);
    bs_clear(&b, 64);
    CHECK_EQ(c, bs_count(&b), 2);
    bs_free(&b);
    bs_free(&composite);
}
