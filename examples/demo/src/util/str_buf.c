/* str_buf.c - a growable NUL-terminated string buffer. */
#include "demo/base.h"
#include "demo/strutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_init(str_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void sb_free(str_buf *b)
{
    free(b->data);
    sb_init(b);
}

void sb_clear(str_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static void sb_grow(str_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 32;
    while (cap < need)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void sb_putn(str_buf *b, const char *s, size_t n)
{
    sb_grow(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sb_putc(str_buf *b, char ch)
{
    sb_putn(b, &ch, 1);
}

void sb_puts(str_buf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

void sb_printf(str_buf *b, const char *fmt, ...)
{
    /* most output is short: format on the stack, and only size exactly on overflow */
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    if ((size_t)n < sizeof small) {
        sb_putn(b, small, (size_t)n);
        return;
    }
    sb_grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *sb_str(const str_buf *b)
{
    return b->data ? b->data : "";
}

char *sb_detach(str_buf *b)
{
    char *s = b->data ? b->data : xstrdup("");
    sb_init(b);
    return s;
}

void selftest_str_buf(demo_check *c)
{
    str_buf b;
    sb_init(&b);
    CHECK_STR(c, sb_str(&b), "");
    sb_puts(&b, "abc");
    sb_putc(&b, '-');
    sb_printf(&b, "%d/%s", 42, "x");
    CHECK_STR(c, sb_str(&b), "abc-42/x");
    CHECK_EQ(c, b.len, 8);
    for (int i = 0; i < 1000; i++)
        sb_putc(&b, (char)('a' + i % 26));
    CHECK_EQ(c, b.len, 1008);
    CHECK_EQ(c, b.data[1007], 'a' + 999 % 26);
    sb_printf(&b, "%0300d|", 7); /* longer than sb_printf's stack buffer */
    CHECK_EQ(c, b.len, 1309);
    CHECK_STR(c, b.data + 1306, "07|");
    sb_clear(&b);
    CHECK_EQ(c, b.len, 0);
    sb_puts(&b, "kept");
    char *s = sb_detach(&b);
    CHECK_STR(c, s, "kept");
    CHECK(c, b.data == NULL);
    free(s);
}
