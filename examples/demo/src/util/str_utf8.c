/* str_utf8.c - strict UTF-8 decoding/encoding (rejects overlongs and surrogates). */
#include "demo/strutil.h"

#include <string.h>

size_t utf8_decode(const char *s, size_t len, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (len == 0)
        return 0;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    }
    size_t n;
    uint32_t v, min;
    if ((u[0] & 0xE0) == 0xC0) {
        n = 2, v = u[0] & 0x1F, min = 0x80;
    } else if ((u[0] & 0xF0) == 0xE0) {
        n = 3, v = u[0] & 0x0F, min = 0x800;
    } else if ((u[0] & 0xF8) == 0xF0) {
        n = 4, v = u[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (u[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

size_t utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0;
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp <= 0x10FFFF) {
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
    }
    return 0;
}

long utf8_length(const char *s)
{
    size_t len = strlen(s);
    long count = 0;
    while (len) {
        uint32_t cp;
        size_t n = utf8_decode(s, len, &cp);
        if (!n)
            return -1;
        s += n;
        len -= n;
        count++;
    }
    return count;
}

void selftest_str_utf8(demo_check *c)
{
    uint32_t cp = 0;
    CHECK_EQ(c, utf8_length("h\xc3\xa9llo w\xc3\xb6rld"), 11);
    CHECK_EQ(c, utf8_length("\xe2\x82\xac\xf0\x9f\x98\x80"), 2);
    CHECK_EQ(c, utf8_length("\xc0\xaf"), -1); /* overlong '/' */
    CHECK_EQ(c, utf8_length("\xed\xa0\x80"), -1); /* surrogate */
    CHECK_EQ(c, utf8_decode("\xe2\x82\xac", 3, &cp), 3);
    CHECK_EQ(c, cp, 0x20AC);
    CHECK_EQ(c, utf8_decode("\xe2\x82", 2, &cp), 0);
    char out[4];
    uint32_t samples[] = {0x41, 0xE9, 0x20AC, 0x1F600, 0x10FFFF};
    int roundtrip = 1;
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        size_t n = utf8_encode(samples[i], out);
        roundtrip &= n > 0 && utf8_decode(out, n, &cp) == n && cp == samples[i];
    }
    CHECK(c, roundtrip);
    CHECK_EQ(c, utf8_encode(0xD800, out), 0);
    CHECK_EQ(c, utf8_encode(0x110000, out), 0);
}
