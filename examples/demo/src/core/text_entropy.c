/* text_entropy.c - Shannon entropy in bits per byte. */
#include "demo/textstats.h"

#include <math.h>
#include <string.h>

double text_entropy(const void *data, size_t n)
{
    const unsigned char *p = data;
    size_t hist[256] = {0};
    double h = 0.0;
    if (n == 0)
        return 0.0;
    for (size_t i = 0; i < n; i++)
        hist[p[i]]++;
    /* iterate in byte order so the floating-point sum is the same every time */
    for (int b = 0; b < 256; b++) {
        if (hist[b]) {
            double q = (double)hist[b] / (double)n;
            h -= q * log2(q);
        }
    }
    return h;
}

void selftest_text_entropy(demo_check *c)
{
    CHECK_NEAR(c, text_entropy("", 0), 0.0, 0.0);
    CHECK_NEAR(c, text_entropy("aaaa", 4), 0.0, 1e-12);
    CHECK_NEAR(c, text_entropy("ab", 2), 1.0, 1e-12);
    CHECK_NEAR(c, text_entropy("abcdabcd", 8), 2.0, 1e-12);
    CHECK_NEAR(c, text_entropy("aab", 3), 0.9182958340544896, 1e-12);
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    CHECK_NEAR(c, text_entropy(all, sizeof all), 8.0, 1e-12);
}
