/* cks_fnv.c - FNV-1a hashes, 32 and 64 bit. */
#include "demo/checksum.h"

uint32_t cks_fnv1a32(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint32_t h = 0x811C9DC5u;
    while (n--) {
        h ^= *p++;
        h *= 0x01000193u;
    }
    return h;
}

uint64_t cks_fnv1a64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xCBF29CE484222325ULL;
    while (n--) {
        h ^= *p++;
        h *= 0x100000001B3ULL;
    }
    return h;
}

void selftest_fnv(demo_check *c)
{
    CHECK_U64(c, cks_fnv1a32("", 0), 0x811C9DC5u);
    CHECK_U64(c, cks_fnv1a32("a", 1), 0xE40C292Cu);
    CHECK_U64(c, cks_fnv1a32("foobar", 6), 0xBF9CF968u);
    CHECK_U64(c, cks_fnv1a64("", 0), 0xCBF29CE484222325ULL);
    CHECK_U64(c, cks_fnv1a64("a", 1), 0xAF63DC4C8601EC8CULL);
    CHECK_U64(c, cks_fnv1a64("foobar", 6), 0x85944171F73967E8ULL);
}
