/* cks_huffman.c - canonical Huffman coding.  Code lengths come from the usual
 * two-smallest merge with ties broken by node creation order, then codes are
 * assigned canonically (as in DEFLATE), so a table depends only on the input. */
#include "demo/checksum.h"
#include "demo/strutil.h"

#include <string.h>

typedef struct hnode {
    size_t weight;
    int parent;
} hnode;

/* min-heap of node indices ordered by (weight, index) */
static int heap_less(const hnode *nodes, int a, int b)
{
    return nodes[a].weight < nodes[b].weight || (nodes[a].weight == nodes[b].weight && a < b);
}

static void heap_push(int *heap, size_t *n, const hnode *nodes, int v)
{
    size_t i = (*n)++;
    while (i && heap_less(nodes, v, heap[(i - 1) / 2])) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = v;
}

static int heap_pop(int *heap, size_t *n, const hnode *nodes)
{
    int top = heap[0], last = heap[--*n];
    size_t i = 0;
    for (;;) {
        size_t kid = 2 * i + 1;
        if (kid >= *n)
            break;
        if (kid + 1 < *n && heap_less(nodes, heap[kid + 1], heap[kid]))
            kid++;
        if (!heap_less(nodes, heap[kid], last))
            break;
        heap[i] = heap[kid];
        i = kid;
    }
    heap[i] = last;
    return top;
}

int huff_build(const void *data, size_t n, huff_table *t)
{
    const unsigned char *p = data;
    hnode nodes[511];
    int leaf_of[256], heap[256];
    size_t freq[256] = {0}, nheap = 0, nnodes = 0;
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < n; i++)
        freq[p[i]]++;
    for (int s = 0; s < 256; s++) {
        leaf_of[s] = -1;
        if (freq[s]) {
            leaf_of[s] = (int)nnodes;
            nodes[nnodes].weight = freq[s];
            nodes[nnodes].parent = -1;
            heap_push(heap, &nheap, nodes, (int)nnodes++);
        }
    }
    if (nnodes == 0)
        return 0;
    while (nheap > 1) {
        int a = heap_pop(heap, &nheap, nodes), b = heap_pop(heap, &nheap, nodes);
        nodes[nnodes].weight = nodes[a].weight + nodes[b].weight;
        nodes[nnodes].parent = -1;
        nodes[a].parent = nodes[b].parent = (int)nnodes;
        heap_push(heap, &nheap, nodes, (int)nnodes++);
    }
    for (int s = 0; s < 256; s++) {
        if (leaf_of[s] < 0)
            continue;
        unsigned len = 0;
        for (int v = leaf_of[s]; nodes[v].parent >= 0; v = nodes[v].parent)
            len++;
        t->len[s] = (unsigned char)(len ? len : 1); /* a lone symbol still needs a bit */
        if (len > 24)
            return 0; /* codes must fit the 32-bit code field with room to spare */
    }
    /* canonical assignment: by (length, symbol), consecutive codes */
    uint32_t code = 0;
    unsigned prev_len = 0;
    for (unsigned len = 1; len <= 24; len++) {
        for (int s = 0; s < 256; s++) {
            if (t->len[s] != len)
                continue;
            code <<= len - prev_len;
            prev_len = len;
            t->code[s] = code++;
        }
    }
    return 1;
}

size_t huff_encode(const huff_table *t, const void *data, size_t n, unsigned char *out,
                   size_t cap)
{
    const unsigned char *p = data;
    size_t bits = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned len = t->len[p[i]];
        if (!len || (bits + len + 7) / 8 > cap)
            return 0;
        for (unsigned b = len; b-- > 0;) {
            size_t byte = bits / 8;
            if (bits % 8 == 0)
                out[byte] = 0;
            if (t->code[p[i]] >> b & 1)
                out[byte] |= (unsigned char)(0x80 >> (bits % 8));
            bits++;
        }
    }
    return bits;
}

long huff_decode(const huff_table *t, const unsigned char *in, size_t nbits, void *out,
                 size_t cap)
{
    unsigned char *o = out;
    size_t n = 0;
    uint32_t code = 0;
    unsigned len = 0;
    for (size_t i = 0; i < nbits; i++) {
        code = code << 1 | (uint32_t)(in[i / 8] >> (7 - i % 8) & 1);
        len++;
        /* linear scan is fine for a demo; canonical codes allow table decoding */
        int found = -1;
        for (int s = 0; s < 256 && found < 0; s++)
            if (t->len[s] == len && t->code[s] == code)
                found = s;
        if (found >= 0) {
            if (n >= cap)
                return -1;
            o[n++] = (unsigned char)found;
            code = 0;
            len = 0;
        } else if (len > 24) {
            return -1;
        }
    }
    return len ? -1 : (long)n;
}

void selftest_huffman(demo_check *c)
{
    static const char text[] = "abracadabra alakazam";
    huff_table t;
    unsigned char packed[64], back[64];
    CHECK(c, huff_build(text, sizeof text - 1, &t));
    size_t bits = huff_encode(&t, text, sizeof text - 1, packed, sizeof packed);
    CHECK_EQ(c, bits, 55); /* the optimal total for these frequencies */
    CHECK_EQ(c, huff_decode(&t, packed, bits, back, sizeof back), 20);
    CHECK(c, memcmp(back, text, 20) == 0);
    CHECK_EQ(c, t.len['a'], 1);
    /* Kraft equality: a complete prefix code */
    uint32_t kraft = 0;
    for (int s = 0; s < 256; s++)
        if (t.len[s])
            kraft += 1u << (24 - t.len[s]);
    CHECK_U64(c, kraft, 1u << 24);
    str_buf b;
    sb_init(&b);
    for (int s = 0; s < 256; s++) {
        if (!t.len[s])
            continue;
        sb_printf(&b, "%s%c=", b.len ? " " : "", s);
        for (unsigned k = t.len[s]; k-- > 0;)
            sb_putc(&b, (char)('0' + (t.code[s] >> k & 1)));
    }
    CHECK_STR(c, sb_str(&b),
              " =11110 a=0 b=1000 c=11111 d=1001 k=1010 l=1011 m=1100 r=1101 z=1110");
    sb_free(&b);
    CHECK(c, huff_build("zzzz", 4, &t));
    CHECK_EQ(c, huff_encode(&t, "zzz", 3, packed, sizeof packed), 3);
    CHECK_EQ(c, huff_decode(&t, packed, 3, back, sizeof back), 3);
    CHECK(c, !huff_build("", 0, &t));
}
