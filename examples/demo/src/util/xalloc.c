/* xalloc.c - allocation wrappers that abort instead of returning NULL, so the
 * modules don't each carry out-of-memory paths the demo can't exercise. */
#include "demo/base.h"
#include "demo/containers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t n)
{
    fprintf(stderr, "demo: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        out_of_memory(count * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory(n);
    return q;
}

char *xstrndup(const char *s, size_t n)
{
    size_t len = 0;
    while (len < n && s[len])
        len++;
    char *d = xmalloc(len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

void selftest_xalloc(demo_check *c)
{
    char *a = xstrdup("spray");
    CHECK_STR(c, a, "spray");
    char *b = xstrndup("compile", 4);
    CHECK_STR(c, b, "comp");
    int *z = xcalloc(16, sizeof *z);
    int sum = 0;
    for (int i = 0; i < 16; i++)
        sum += z[i];
    CHECK_EQ(c, sum, 0);
    z = xrealloc(z, 1024 * sizeof *z);
    z[1023] = 7;
    CHECK_EQ(c, z[1023] + z[15], 7);
    free(a);
    free(b);
    free(z);
}
