/* cks_adler32.c - Adler-32 as used by zlib, with deferred modulo reduction. */
#include "demo/checksum.h"

#define ADLER_MOD 65521u
/* largest n with 255n(n+1)/2 + (n+1)(MOD-1) < 2^32: the sums can't overflow */
#define ADLER_NMAX 5552

uint32_t cks_adler32(uint32_t adler, const void *data, size_t n)
{
    const unsigned char *p = data;
    uint32_t a = adler & 0xFFFF, b = adler >> 16;
    while (n) {
        size_t chunk = n < ADLER_NMAX ? n : ADLER_NMAX;
        n -= chunk;
        while (chunk--) {
            a += *p++;
            b += a;
        }
        a %= ADLER_MOD;
        b %= ADLER_MOD;
    }
    return (b << 16) | a;
}

void selftest_adler32(demo_check *c)
{
    CHECK_U64(c, cks_adler32(1, "", 0), 1);
    CHECK_U64(c, cks_adler32(1, "Wikipedia", 9), 0x11E60398u);
    CHECK_U64(c, cks_adler32(1, "abc", 3), 0x024D0127u);
    /* long input exercises the deferred reduction */
    static unsigned char big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = 0xFF;
    uint32_t whole = cks_adler32(1, big, sizeof big);
    uint32_t split = cks_adler32(cks_adler32(1, big, 12345), big + 12345, sizeof big - 12345);
    CHECK_U64(c, whole, split);
    CHECK_U64(c, whole, 0x149A302Cu);
}
