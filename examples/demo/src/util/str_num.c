/* str_num.c - strict number parsing and integer formatting. */
#include "demo/strutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int str_to_long(const char *s, long *out)
{
    char *end;
    if (!*s)
        return 0;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end)
        return 0;
    *out = v;
    return 1;
}

int str_to_double(const char *s, double *out)
{
    char *end;
    if (!*s)
        return 0;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end)
        return 0;
    *out = v;
    return 1;
}

char *str_from_u64(uint64_t v, unsigned base, char *buf, size_t cap)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    char tmp[65];
    size_t n = 0;
    if (base < 2 || base > 36)
        return NULL;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    if (n + 1 > cap)
        return NULL;
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return buf;
}

char *str_group_thousands(long v, char *buf, size_t cap)
{
    char digits[32];
    /* negate in unsigned arithmetic so LONG_MIN works */
    unsigned long mag = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    if (!str_from_u64(mag, 10, digits, sizeof digits))
        return NULL;
    size_t nd = strlen(digits), need = nd + (nd - 1) / 3 + (v < 0) + 1;
    if (need > cap)
        return NULL;
    size_t o = 0;
    if (v < 0)
        buf[o++] = '-';
    for (size_t i = 0; i < nd; i++) {
        if (i && (nd - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

void selftest_str_num(demo_check *c)
{
    long l = 0;
    double d = 0;
    char buf[80];
    CHECK(c, str_to_long("-1234", &l) && l == -1234);
    CHECK(c, !str_to_long("12x", &l));
    CHECK(c, !str_to_long("", &l));
    CHECK(c, !str_to_long("99999999999999999999999", &l));
    CHECK(c, str_to_double("2.5e3", &d));
    CHECK_NEAR(c, d, 2500.0, 0.0);
    CHECK(c, !str_to_double("1.5.", &d));
    CHECK_STR(c, str_from_u64(255, 16, buf, sizeof buf), "ff");
    CHECK_STR(c, str_from_u64(10, 2, buf, sizeof buf), "1010");
    CHECK_STR(c, str_from_u64(UINT64_MAX, 36, buf, sizeof buf), "3w5e11264sgsf");
    CHECK(c, str_from_u64(1000, 10, buf, 3) == NULL);
    CHECK_STR(c, str_group_thousands(1234567, buf, sizeof buf), "1,234,567");
    CHECK_STR(c, str_group_thousands(-999, buf, sizeof buf), "-999");
    CHECK_STR(c, str_group_thousands(-1000, buf, sizeof buf), "-1,000");
    CHECK_STR(c, str_group_thousands(0, buf, sizeof buf), "0");
}
