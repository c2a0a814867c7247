/* arena.c - a bump allocator: many small allocations, one release. */
#include "demo/base.h"
#include "demo/containers.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK 4096
#define ARENA_ALIGN 16

struct arena_chunk {
    arena_chunk *next;
    size_t size;
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char mem[];
};

void arena_init(arena *a)
{
    a->head = NULL;
    a->used = 0;
    a->total = 0;
}

void *arena_alloc(arena *a, size_t n)
{
    n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    arena_chunk *ch = a->head;
    if (!ch || ch->size - ch->used < n) {
        size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        ch = xmalloc(sizeof *ch + size);
        ch->next = a->head;
        ch->size = size;
        ch->used = 0;
        a->head = ch;
        a->total += size;
    }
    void *p = ch->mem + ch->used;
    ch->used += n;
    a->used += n;
    return p;
}

char *arena_strdup(arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(arena_alloc(a, n), s, n);
}

void arena_release(arena *a)
{
    while (a->head) {
        arena_chunk *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    arena_init(a);
}

void selftest_arena(demo_check *c)
{
    arena a;
    arena_init(&a);
    char *first = arena_strdup(&a, "first");
    int aligned = 1;
    for (int i = 0; i < 1000; i++) {
        void *p = arena_alloc(&a, (size_t)(i % 37) + 1);
        aligned &= ((uintptr_t)p % ARENA_ALIGN) == 0;
    }
    CHECK(c, aligned);
    CHECK_STR(c, first, "first");
    void *big = arena_alloc(&a, 3 * ARENA_CHUNK);
    memset(big, 0xab, 3 * ARENA_CHUNK);
    CHECK(c, a.total >= a.used);
    CHECK(c, a.used >= 3 * ARENA_CHUNK + 1000);
    arena_release(&a);
    CHECK(c, a.head == NULL && a.used == 0);
}
