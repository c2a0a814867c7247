/* cks_rle.c - run-length encoding as (count, byte) pairs. */
#include "demo/checksum.h"

#include <string.h>

size_t rle_encode(const void *data, size_t n, unsigned char *out, size_t cap)
{
    const unsigned char *p = data;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t run = 1;
        while (i + run < n && run < 255 && p[i + run] == p[i])
            run++;
        if (o + 2 > cap)
            return 0;
        out[o++] = (unsigned char)run;
        out[o++] = p[i];
        i += run;
    }
    return o;
}

long rle_decode(const unsigned char *data, size_t n, void *out, size_t cap)
{
    unsigned char *o = out;
    size_t len = 0;
    if (n % 2)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        if (data[i] == 0 || len + data[i] > cap)
            return -1;
        memset(o + len, data[i + 1], data[i]);
        len += data[i];
    }
    return (long)len;
}

void selftest_rle(demo_check *c)
{
    unsigned char enc[1024], dec[1024];
    size_t n = rle_encode("aaabccdddd", 10, enc, sizeof enc);
    CHECK_EQ(c, n, 8);
    CHECK(c, memcmp(enc, "\3a\1b\2c\4d", 8) == 0);
    CHECK_EQ(c, rle_decode(enc, n, dec, sizeof dec), 10);
    CHECK(c, memcmp(dec, "aaabccdddd", 10) == 0);

    unsigned char runs[600];
    memset(runs, 'x', 300);
    memset(runs + 300, 'y', 300);
    n = rle_encode(runs, sizeof runs, enc, sizeof enc);
    CHECK_EQ(c, n, 8); /* 255+45 x, 255+45 y */
    CHECK_EQ(c, rle_decode(enc, n, dec, sizeof dec), 600);
    CHECK(c, memcmp(dec, runs, sizeof runs) == 0);
    CHECK_EQ(c, rle_encode(runs, sizeof runs, enc, 4), 0);
    CHECK_EQ(c, rle_decode((const unsigned char *)"\0a", 2, dec, sizeof dec), -1);
}
