/* cks_base64.c - RFC 4648 base64 with '=' padding. */
#include "demo/checksum.h"

#include <string.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

size_t b64_encode(const void *data, size_t n, char *out)
{
    const unsigned char *p = data;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static int value_of(char ch)
{
    const char *p = ch ? strchr(alphabet, ch) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

long b64_decode(const char *s, void *out, size_t cap)
{
    unsigned char *o = out;
    size_t len = strlen(s), n = 0;
    if (len % 4)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        int pad = (s[i + 3] == '=') + (s[i + 2] == '=');
        if (pad && i + 4 != len)
            return -1;
        if (pad == 1 && s[i + 2] == '=')
            return -1;
        uint32_t v = 0;
        for (int k = 0; k < 4 - pad; k++) {
            int d = value_of(s[i + (size_t)k]);
            if (d < 0)
                return -1;
            v |= (uint32_t)d << (18 - 6 * k);
        }
        size_t bytes = 3 - (size_t)pad;
        if (n + bytes > cap)
            return -1;
        for (size_t k = 0; k < bytes; k++)
            o[n++] = (unsigned char)(v >> (16 - 8 * k));
    }
    return (long)n;
}

void selftest_base64(demo_check *c)
{
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char buf[64];
    unsigned char back[64];
    int all_encode = 1, all_decode = 1;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        size_t n = strlen(plain[i]);
        all_encode &= b64_encode(plain[i], n, buf) == b64_encoded_len(n);
        all_encode &= strcmp(buf, coded[i]) == 0;
        long m = b64_decode(coded[i], back, sizeof back);
        all_decode &= m == (long)n && memcmp(back, plain[i], n) == 0;
    }
    CHECK(c, all_encode);
    CHECK(c, all_decode);
    CHECK_EQ(c, b64_decode("Zm9", back, sizeof back), -1);
    CHECK_EQ(c, b64_decode("Zm=v", back, sizeof back), -1);
    CHECK_EQ(c, b64_decode("Zm9v!A==", back, sizeof back), -1);
    unsigned char bin[256];
    for (int i = 0; i < 256; i++)
        bin[i] = (unsigned char)(255 - i);
    char wide[400];
    b64_encode(bin, sizeof bin, wide);
    unsigned char round[256];
    CHECK_EQ(c, b64_decode(wide, round, sizeof round), 256);
    CHECK(c, memcmp(bin, round, sizeof bin) == 0);
}
