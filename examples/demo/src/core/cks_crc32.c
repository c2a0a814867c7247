/* cks_crc32.c - CRC-32 (IEEE 802.3, reflected, as in zlib/PNG), table-driven. */
#include "demo/checksum.h"

#include <string.h>

static uint32_t table[256];
static int table_ready;

static void make_table(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[n] = c;
    }
    table_ready = 1;
}

uint32_t cks_crc32(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;
    if (!table_ready)
        make_table();
    crc = ~crc;
    while (n--)
        crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

void selftest_crc32(demo_check *c)
{
    CHECK_U64(c, cks_crc32(0, "", 0), 0);
    CHECK_U64(c, cks_crc32(0, "123456789", 9), 0xCBF43926u);
    CHECK_U64(c, cks_crc32(0, "The quick brown fox jumps over the lazy dog", 43), 0x414FA339u);
    /* feeding the input in pieces gives the same result */
    uint32_t crc = cks_crc32(0, "12345", 5);
    crc = cks_crc32(crc, "6789", 4);
    CHECK_U64(c, crc, 0xCBF43926u);
    unsigned char zeros[32];
    memset(zeros, 0, sizeof zeros);
    CHECK_U64(c, cks_crc32(0, zeros, sizeof zeros), 0x190A55ADu);
}
