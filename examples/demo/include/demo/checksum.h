/* checksum.h - checksums, hashes and byte encodings (base64, RLE, Huffman). */
#ifndef DEMO_CHECKSUM_H
#define DEMO_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#include "demo/check.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Both continue a running value: start crc32 at 0 and adler32 at 1. */
uint32_t cks_crc32(uint32_t crc, const void *data, size_t n);
uint32_t cks_adler32(uint32_t adler, const void *data, size_t n);

uint32_t cks_fnv1a32(const void *data, size_t n);
uint64_t cks_fnv1a64(const void *data, size_t n);

typedef struct cks_sha1_ctx {
    uint32_t h[5];
    uint64_t total;
    unsigned char block[64];
    size_t fill;
} cks_sha1_ctx;

void cks_sha1_init(cks_sha1_ctx *ctx);
void cks_sha1_update(cks_sha1_ctx *ctx, const void *data, size_t n);
void cks_sha1_final(cks_sha1_ctx *ctx, unsigned char out[20]);
void cks_sha1_hex(const void *data, size_t n, char out[41]);

size_t b64_encoded_len(size_t n);
size_t b64_encode(const void *data, size_t n, char *out);
long b64_decode(const char *s, void *out, size_t cap);

/* Run-length encoding as (count, byte) pairs with count in 1..255. */
size_t rle_encode(const void *data, size_t n, unsigned char *out, size_t cap);
long rle_decode(const unsigned char *data, size_t n, void *out, size_t cap);

/* Canonical Huffman codes for byte data; codes are at most 24 bits. */
typedef struct huff_table {
    uint32_t code[256];
    unsigned char len[256]; /* 0 = symbol absent */
} huff_table;

int huff_build(const void *data, size_t n, huff_table *t); /* 0 for empty input */
size_t huff_encode(const huff_table *t, const void *data, size_t n, unsigned char *out,
                   size_t cap); /* returns the number of bits, 0 on error */
long huff_decode(const huff_table *t, const unsigned char *in, size_t nbits, void *out,
                 size_t cap);

void selftest_crc32(demo_check *c);
void selftest_adler32(demo_check *c);
void selftest_fnv(demo_check *c);
void selftest_sha1(demo_check *c);
void selftest_base64(demo_check *c);
void selftest_rle(demo_check *c);
void selftest_huffman(demo_check *c);

#ifdef __cplusplus
}
#endif

#endif
