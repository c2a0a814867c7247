/* cks_sha1.c - SHA-1 (FIPS 180-4).  Here as a checksum, not for security. */
#include "demo/checksum.h"
#include "demo/strutil.h"

#include <string.h>

static uint32_t rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void compress(uint32_t h[5], const unsigned char *block)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
               (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20)
            f = (b & c) | (~b & d), k = 0x5A827999u;
        else if (i < 40)
            f = b ^ c ^ d, k = 0x6ED9EBA1u;
        else if (i < 60)
            f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDCu;
        else
            f = b ^ c ^ d, k = 0xCA62C1D6u;
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void cks_sha1_init(cks_sha1_ctx *ctx)
{
    static const uint32_t iv[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u,
                                   0xC3D2E1F0u};
    memcpy(ctx->h, iv, sizeof iv);
    ctx->total = 0;
    ctx->fill = 0;
}

void cks_sha1_update(cks_sha1_ctx *ctx, const void *data, size_t n)
{
    const unsigned char *p = data;
    ctx->total += n;
    while (n) {
        size_t take = 64 - ctx->fill < n ? 64 - ctx->fill : n;
        memcpy(ctx->block + ctx->fill, p, take);
        ctx->fill += take;
        p += take;
        n -= take;
        if (ctx->fill == 64) {
            compress(ctx->h, ctx->block);
            ctx->fill = 0;
        }
    }
}

void cks_sha1_final(cks_sha1_ctx *ctx, unsigned char out[20])
{
    uint64_t bits = ctx->total * 8;
    unsigned char pad = 0x80;
    cks_sha1_update(ctx, &pad, 1);
    pad = 0;
    while (ctx->fill != 56)
        cks_sha1_update(ctx, &pad, 1);
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(bits >> (56 - 8 * i));
    cks_sha1_update(ctx, len, 8);
    for (int i = 0; i < 20; i++)
        out[i] = (unsigned char)(ctx->h[i / 4] >> (24 - 8 * (i % 4)));
}

void cks_sha1_hex(const void *data, size_t n, char out[41])
{
    cks_sha1_ctx ctx;
    unsigned char digest[20];
    cks_sha1_init(&ctx);
    cks_sha1_update(&ctx, data, n);
    cks_sha1_final(&ctx, digest);
    hex_encode(digest, sizeof digest, out);
}

void selftest_sha1(demo_check *c)
{
    char hex[41];
    cks_sha1_hex("", 0, hex);
    CHECK_STR(c, hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    cks_sha1_hex("abc", 3, hex);
    CHECK_STR(c, hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    cks_sha1_hex(two, strlen(two), hex);
    CHECK_STR(c, hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");

    cks_sha1_ctx ctx;
    unsigned char chunk[1000], digest[20];
    memset(chunk, 'a', sizeof chunk);
    cks_sha1_init(&ctx);
    for (int i = 0; i < 1000; i++)
        cks_sha1_update(&ctx, chunk, sizeof chunk);
    cks_sha1_final(&ctx, digest);
    hex_encode(digest, sizeof digest, hex);
    CHECK_STR(c, hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}
