/* text_freq.c - word frequencies via the hash map, most frequent first. */
#include "demo/base.h"
#include "demo/containers.h"
#include "demo/textstats.h"

#include <stdlib.h>
#include <string.h>

static int is_word(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '\'';
}

static int by_count_then_word(const void *a, const void *b, void *ctx)
{
    const hmap_entry *x = a, *y = b;
    (void)ctx;
    if (x->value != y->value)
        return x->value > y->value ? -1 : 1;
    return strcmp(x->key, y->key);
}

size_t text_top_words(const char *s, text_freq_item *out, size_t k)
{
    hmap counts;
    hmap_init(&counts);
    char word[32];
    size_t i = 0;
    while (s[i]) {
        while (s[i] && !is_word((unsigned char)s[i]))
            i++;
        size_t n = 0;
        while (s[i] && is_word((unsigned char)s[i])) {
            if (n < sizeof word - 1)
                word[n++] = s[i];
            i++;
        }
        if (n) {
            word[n] = '\0';
            ++*hmap_upsert(&counts, str_lower(word));
        }
    }
    const hmap_entry *sorted;
    size_t total = hmap_sorted(&counts, &sorted);
    /* sorted by key already; a stable sort by count keeps ties alphabetical */
    msort((void *)sorted, total, sizeof *sorted, by_count_then_word, NULL);
    size_t n = total < k ? total : k;
    for (size_t j = 0; j < n; j++) {
        strcpy(out[j].word, sorted[j].key);
        out[j].count = sorted[j].value;
    }
    free((void *)sorted);
    hmap_free(&counts);
    return n;
}

void selftest_text_freq(demo_check *c)
{
    static const char text[] =
        "The cat and the hat. The bat sat on the mat; a cat, a hat, a bat. And then?";
    text_freq_item top[4];
    size_t n = text_top_words(text, top, 4);
    CHECK_EQ(c, n, 4);
    CHECK_STR(c, top[0].word, "the");
    CHECK_EQ(c, top[0].count, 4);
    CHECK_STR(c, top[1].word, "a");
    CHECK_EQ(c, top[1].count, 3);
    CHECK_STR(c, top[2].word, "and");
    CHECK_STR(c, top[3].word, "bat");
    CHECK_EQ(c, text_top_words("", top, 4), 0);
}
