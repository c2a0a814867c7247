/* text_words.c - word counting; a word is a maximal run of letters, digits,
 * apostrophes or non-ASCII bytes (so UTF-8 words stay whole). */
#include "demo/textstats.h"

#include <string.h>

static int word_byte(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '\'' || ch >= 0x80;
}

size_t text_word_count(const char *s)
{
    size_t count = 0;
    int in_word = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int w = word_byte(*p);
        count += w && !in_word;
        in_word = w;
    }
    return count;
}

size_t text_longest_word(const char *s, char *out, size_t cap)
{
    size_t best = 0, best_at = 0, i = 0;
    while (s[i]) {
        while (s[i] && !word_byte((unsigned char)s[i]))
            i++;
        size_t start = i;
        while (s[i] && word_byte((unsigned char)s[i]))
            i++;
        /* strictly longer: the first of equally long words wins */
        if (i - start > best) {
            best = i - start;
            best_at = start;
        }
    }
    if (cap) {
        size_t n = best < cap - 1 ? best : cap - 1;
        memcpy(out, s + best_at, n);
        out[n] = '\0';
    }
    return best;
}

void selftest_text_words(demo_check *c)
{
    char w[32];
    CHECK_EQ(c, text_word_count(""), 0);
    CHECK_EQ(c, text_word_count("   "), 0);
    CHECK_EQ(c, text_word_count("one"), 1);
    CHECK_EQ(c, text_word_count("It's a dog-eat-dog world, isn't it?"), 8);
    CHECK_EQ(c, text_word_count("caf\xc3\xa9 au lait"), 3);
    CHECK_EQ(c, text_longest_word("a bb ccc dd eee", w, sizeof w), 3);
    CHECK_STR(c, w, "ccc");
    CHECK_EQ(c, text_longest_word("distributed compilation", w, 8), 11);
    CHECK_STR(c, w, "distrib"); /* first of the two 11-letter words, truncated */
}
