/* str_case.c - ASCII case conversion and comparison (locale-independent on purpose). */
#include "demo/strutil.h"

static char lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

static char upper(char ch)
{
    return ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
}

static int is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

char *str_lower(char *s)
{
    for (char *p = s; *p; p++)
        *p = lower(*p);
    return s;
}

char *str_upper(char *s)
{
    for (char *p = s; *p; p++)
        *p = upper(*p);
    return s;
}

int str_casecmp_ascii(const char *a, const char *b)
{
    for (;; a++, b++) {
        int d = (unsigned char)lower(*a) - (unsigned char)lower(*b);
        if (d || !*a)
            return d;
    }
}

char *str_title(char *s)
{
    int start = 1;
    for (char *p = s; *p; p++) {
        *p = start ? upper(*p) : lower(*p);
        start = !is_alpha(*p);
    }
    return s;
}

void selftest_str_case(demo_check *c)
{
    char a[] = "MiXeD 123 Case";
    CHECK_STR(c, str_lower(a), "mixed 123 case");
    CHECK_STR(c, str_upper(a), "MIXED 123 CASE");
    CHECK_STR(c, str_title(a), "Mixed 123 Case");
    char b[] = "the QUICK brown-fox";
    CHECK_STR(c, str_title(b), "The Quick Brown-Fox");
    CHECK_EQ(c, str_casecmp_ascii("Hello", "hELLO"), 0);
    CHECK(c, str_casecmp_ascii("apple", "Banana") < 0);
    CHECK(c, str_casecmp_ascii("abc", "ab") > 0);
}
