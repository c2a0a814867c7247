/* text_match.c - string matching and comparison: KMP search, the Z-function,
 * Levenshtein distance, longest common subsequence and Manacher's algorithm. */
#include "demo/base.h"
#include "demo/textstats.h"

#include <stdlib.h>
#include <string.h>

size_t text_find_all(const char *text, const char *pat, size_t *out, size_t cap)
{
    size_t m = strlen(pat), count = 0;
    if (m == 0)
        return 0;
    size_t *fail = xmalloc(m * sizeof *fail);
    fail[0] = 0;
    for (size_t i = 1, k = 0; i < m; i++) {
        while (k && pat[i] != pat[k])
            k = fail[k - 1];
        if (pat[i] == pat[k])
            k++;
        fail[i] = k;
    }
    for (size_t i = 0, k = 0; text[i]; i++) {
        while (k && text[i] != pat[k])
            k = fail[k - 1];
        if (text[i] == pat[k])
            k++;
        if (k == m) {
            if (count < cap)
                out[count] = i + 1 - m;
            count++;
            k = fail[k - 1];
        }
    }
    free(fail);
    return count;
}

void text_z_function(const char *s, size_t *z)
{
    size_t n = strlen(s);
    if (n == 0)
        return;
    z[0] = n;
    for (size_t i = 1, l = 0, r = 0; i < n; i++) {
        z[i] = 0;
        if (i < r)
            z[i] = DEMO_MIN(r - i, z[i - l]);
        while (i + z[i] < n && s[z[i]] == s[i + z[i]])
            z[i]++;
        if (i + z[i] > r) {
            l = i;
            r = i + z[i];
        }
    }
}

size_t text_levenshtein(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    size_t *prev = xmalloc((m + 1) * sizeof *prev), *cur = xmalloc((m + 1) * sizeof *cur);
    for (size_t j = 0; j <= m; j++)
        prev[j] = j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t best = DEMO_MIN(prev[j] + 1, cur[j - 1] + 1);
            cur[j] = DEMO_MIN(best, prev[j - 1] + (a[i - 1] != b[j - 1]));
        }
        size_t *t = prev;
        prev = cur;
        cur = t;
    }
    size_t d = prev[m];
    free(prev);
    free(cur);
    return d;
}

char *text_lcs(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b), w = m + 1;
    /* t[i][j] = LCS length of the suffixes a+i and b+j */
    size_t *t = xcalloc((n + 1) * w, sizeof *t);
    for (size_t i = n; i-- > 0;) {
        for (size_t j = m; j-- > 0;) {
            t[i * w + j] = a[i] == b[j] ? t[(i + 1) * w + j + 1] + 1
                                        : DEMO_MAX(t[(i + 1) * w + j], t[i * w + j + 1]);
        }
    }
    char *out = xmalloc(t[0] + 1);
    size_t o = 0;
    for (size_t i = 0, j = 0; i < n && j < m;) {
        if (a[i] == b[j]) {
            out[o++] = a[i];
            i++;
            j++;
        } else if (t[(i + 1) * w + j] >= t[i * w + j + 1]) {
            i++;
        } else {
            j++;
        }
    }
    out[o] = '\0';
    free(t);
    return out;
}

size_t text_longest_palindrome(const char *s, size_t *start)
{
    size_t n = strlen(s), tn = 2 * n + 3;
    /* interleave separators so even and odd lengths are handled alike: ^#a#b#$ */
    char *t = xmalloc(tn + 1);
    size_t *p = xcalloc(tn, sizeof *p);
    t[0] = '^';
    for (size_t i = 0; i < n; i++) {
        t[2 * i + 1] = '#';
        t[2 * i + 2] = s[i];
    }
    t[2 * n + 1] = '#';
    t[2 * n + 2] = '$';
    t[tn] = '\0';
    size_t center = 0, right = 0, best = 0, best_at = 0;
    for (size_t i = 1; i + 1 < tn; i++) {
        if (i < right)
            p[i] = DEMO_MIN(right - i, p[2 * center - i]);
        while (t[i + p[i] + 1] == t[i - p[i] - 1])
            p[i]++;
        if (i + p[i] > right) {
            center = i;
            right = i + p[i];
        }
        if (p[i] > best) {
            best = p[i];
            best_at = i;
        }
    }
    *start = best ? (best_at - best) / 2 : 0;
    free(t);
    free(p);
    return best;
}

void selftest_text_match(demo_check *c)
{
    size_t hits[8];
    CHECK_EQ(c, text_find_all("abababcabababcab", "ababc", hits, 8), 2);
    CHECK(c, hits[0] == 2 && hits[1] == 9);
    CHECK_EQ(c, text_find_all("aaaa", "aa", hits, 8), 3);
    CHECK_EQ(c, text_find_all("abc", "", hits, 8), 0);
    size_t z[7];
    static const size_t want_z[7] = {7, 1, 0, 0, 3, 1, 0};
    text_z_function("aabxaab", z);
    CHECK(c, memcmp(z, want_z, sizeof z) == 0);
    CHECK_EQ(c, text_levenshtein("kitten", "sitting"), 3);
    CHECK_EQ(c, text_levenshtein("", "abc"), 3);
    CHECK_EQ(c, text_levenshtein("flaw", "lawn"), 2);
    char *l = text_lcs("AGGTAB", "GXTXAYB");
    CHECK_STR(c, l, "GTAB");
    free(l);
    size_t at = 0;
    CHECK_EQ(c, text_longest_palindrome("forgeeksskeegfor", &at), 10);
    CHECK_EQ(c, at, 3);
    CHECK_EQ(c, text_longest_palindrome("babad", &at), 3);
    CHECK_EQ(c, at, 0); /* "bab" comes before "aba" */
    CHECK_EQ(c, text_longest_palindrome("", &at), 0);
}
