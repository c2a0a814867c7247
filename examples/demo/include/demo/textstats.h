/* textstats.h - statistics over plain text: words, lines, character classes,
 * entropy, word frequencies, wrapping and string matching. */
#ifndef DEMO_TEXTSTATS_H
#define DEMO_TEXTSTATS_H

#include <stddef.h>

#include "demo/check.h"
#include "demo/strutil.h"

#ifdef __cplusplus
extern "C" {
#endif

size_t text_word_count(const char *s);
size_t text_longest_word(const char *s, char *out, size_t cap);

typedef struct text_line_stats {
    size_t lines;
    size_t blank;
    size_t longest;
    double mean_length;
} text_line_stats;

void text_lines(const char *s, text_line_stats *st);

typedef struct text_char_stats {
    size_t letters;
    size_t digits;
    size_t spaces;
    size_t punct;
    size_t other;
    size_t upper;
} text_char_stats;

void text_chars(const char *s, text_char_stats *st);

double text_entropy(const void *data, size_t n);

typedef struct text_freq_item {
    char word[32];
    long count;
} text_freq_item;

/* The k most frequent lower-cased words, ties broken alphabetically. */
size_t text_top_words(const char *s, text_freq_item *out, size_t k);

/* Greedy wrap at `width` columns; lines are joined with '\n'. */
void text_wrap(str_buf *out, const char *s, size_t width);

/* text_match.c */
size_t text_find_all(const char *text, const char *pat, size_t *out, size_t cap);
void text_z_function(const char *s, size_t *z); /* z has strlen(s) entries */
size_t text_levenshtein(const char *a, const char *b);
char *text_lcs(const char *a, const char *b); /* malloc'd */
size_t text_longest_palindrome(const char *s, size_t *start);

void selftest_text_words(demo_check *c);
void selftest_text_lines(demo_check *c);
void selftest_text_chars(demo_check *c);
void selftest_text_entropy(demo_check *c);
void selftest_text_freq(demo_check *c);
void selftest_text_wrap(demo_check *c);
void selftest_text_match(demo_check *c);

#ifdef __cplusplus
}
#endif

#endif
