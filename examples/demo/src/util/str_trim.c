/* str_trim.c - trimming, prefix/suffix tests, counting and replacing. */
#include "demo/base.h"
#include "demo/strutil.h"

#include <stdlib.h>
#include <string.h>

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

char *str_trim(char *s)
{
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_space(s[n - 1]))
        s[--n] = '\0';
    return s;
}

int str_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int str_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return m <= n && memcmp(s + n - m, suffix, m) == 0;
}

size_t str_count(const char *hay, const char *needle)
{
    size_t m = strlen(needle), count = 0;
    if (m == 0)
        return 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + m, needle))
        count++;
    return count;
}

char *str_replace(const char *s, const char *from, const char *to)
{
    size_t m = strlen(from);
    if (m == 0)
        return xstrdup(s);
    str_buf b;
    sb_init(&b);
    const char *p;
    while ((p = strstr(s, from)) != NULL) {
        sb_putn(&b, s, (size_t)(p - s));
        sb_puts(&b, to);
        s = p + m;
    }
    sb_puts(&b, s);
    return sb_detach(&b);
}

void selftest_str_trim(demo_check *c)
{
    char buf[] = "  \t hello world \n";
    CHECK_STR(c, str_trim(buf), "hello world");
    char empty[] = "   ";
    CHECK_STR(c, str_trim(empty), "");
    CHECK(c, str_starts_with("spraycc run", "spray"));
    CHECK(c, !str_starts_with("spr", "spray"));
    CHECK(c, str_ends_with("main.cpp", ".cpp"));
    CHECK(c, !str_ends_with("main.c", ".cpp"));
    CHECK_EQ(c, str_count("abababa", "aba"), 2);
    CHECK_EQ(c, str_count("aaaa", "a"), 4);
    char *r = str_replace("gcc -c x.c -o x.o", "x.", "y.");
    CHECK_STR(c, r, "gcc -c y.c -o y.o");
    free(r);
    r = str_replace("aaa", "a", "bb");
    CHECK_STR(c, r, "bbbbbb");
    free(r);
}
