/* str_hex.c - hex encoding/decoding and a classic 16-bytes-per-line hex dump. */
#include "demo/strutil.h"

static const char hexdigits[] = "0123456789abcdef";

void hex_encode(const void *data, size_t n, char *out)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdigits[p[i] >> 4];
        out[2 * i + 1] = hexdigits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

static int nibble(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

long hex_decode(const char *hex, void *out, size_t cap)
{
    unsigned char *o = out;
    size_t n = 0;
    while (hex[0]) {
        int hi = nibble(hex[0]), lo = hex[1] ? nibble(hex[1]) : -1;
        if (hi < 0 || lo < 0 || n >= cap)
            return -1;
        o[n++] = (unsigned char)(hi << 4 | lo);
        hex += 2;
    }
    return (long)n;
}

void hex_dump(str_buf *b, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t off = 0; off < n; off += 16) {
        sb_printf(b, "%08zx ", off);
        for (size_t i = 0; i < 16; i++) {
            if (off + i < n)
                sb_printf(b, " %02x", p[off + i]);
            else
                sb_puts(b, "   ");
        }
        sb_puts(b, "  |");
        for (size_t i = 0; i < 16 && off + i < n; i++) {
            unsigned char ch = p[off + i];
            sb_putc(b, ch >= 0x20 && ch < 0x7f ? (char)ch : '.');
        }
        sb_puts(b, "|\n");
    }
}

void selftest_str_hex(demo_check *c)
{
    char out[64];
    unsigned char bytes[16];
    hex_encode("\x00\x7f\xff", 3, out);
    CHECK_STR(c, out, "007fff");
    CHECK_EQ(c, hex_decode("DEADbeef", bytes, sizeof bytes), 4);
    CHECK_EQ(c, bytes[0], 0xde);
    CHECK_EQ(c, bytes[3], 0xef);
    CHECK_EQ(c, hex_decode("abc", bytes, sizeof bytes), -1);
    CHECK_EQ(c, hex_decode("zz", bytes, sizeof bytes), -1);
    CHECK_EQ(c, hex_decode("0011", bytes, 1), -1);
    str_buf b;
    sb_init(&b);
    hex_dump(&b, "spraycc: compile\x01", 17);
    CHECK_STR(c, sb_str(&b),
              "00000000  73 70 72 61 79 63 63 3a 20 63 6f 6d 70 69 6c 65  |spraycc: compile|\n"
              "00000010  01                                               |.|\n");
    sb_free(&b);
}
