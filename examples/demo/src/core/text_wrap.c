/* text_wrap.c - greedy word wrapping; words longer than the width get a line
 * of their own rather than being split. */
#include "demo/textstats.h"

#include <string.h>

void text_wrap(str_buf *out, const char *s, size_t width)
{
    size_t col = 0;
    while (*s) {
        while (*s == ' ' || *s == '\n' || *s == '\t')
            s++;
        size_t n = 0;
        while (s[n] && s[n] != ' ' && s[n] != '\n' && s[n] != '\t')
            n++;
        if (!n)
            break;
        if (col && col + 1 + n > width) {
            sb_putc(out, '\n');
            col = 0;
        } else if (col) {
            sb_putc(out, ' ');
            col++;
        }
        sb_putn(out, s, n);
        col += n;
        s += n;
    }
}

void selftest_text_wrap(demo_check *c)
{
    str_buf b;
    sb_init(&b);
    text_wrap(&b, "the quick brown fox jumps over the lazy dog", 15);
    CHECK_STR(c, sb_str(&b), "the quick brown\nfox jumps over\nthe lazy dog");
    sb_clear(&b);
    text_wrap(&b, "  a\n\nsupercalifragilistic b  ", 5);
    CHECK_STR(c, sb_str(&b), "a\nsupercalifragilistic\nb");
    sb_clear(&b);
    text_wrap(&b, "", 10);
    CHECK_STR(c, sb_str(&b), "");
    sb_free(&b);
}
