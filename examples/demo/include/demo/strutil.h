/* strutil.h - string helpers: growable buffers, splitting, trimming, case,
 * number parsing/formatting, UTF-8 and hex. */
#ifndef DEMO_STRUTIL_H
#define DEMO_STRUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "demo/check.h"

#ifdef __cplusplus
extern "C" {
#endif

/* str_buf.c */
typedef struct str_buf {
    char *data; /* always NUL-terminated once anything was added */
    size_t len;
    size_t cap;
} str_buf;

void sb_init(str_buf *b);
void sb_free(str_buf *b);
void sb_clear(str_buf *b);
void sb_putc(str_buf *b, char ch);
void sb_putn(str_buf *b, const char *s, size_t n);
void sb_puts(str_buf *b, const char *s);
void sb_printf(str_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *sb_str(const str_buf *b);
char *sb_detach(str_buf *b);

/* str_split.c */
size_t str_split(const char *s, char sep, char ***out);
void str_free_list(char **list, size_t n);
char *str_join(char *const *list, size_t n, const char *sep);

/* str_trim.c */
char *str_trim(char *s);
int str_starts_with(const char *s, const char *prefix);
int str_ends_with(const char *s, const char *suffix);
size_t str_count(const char *hay, const char *needle);
char *str_replace(const char *s, const char *from, const char *to);

/* str_case.c */
char *str_lower(char *s);
char *str_upper(char *s);
int str_casecmp_ascii(const char *a, const char *b);
char *str_title(char *s);

/* str_num.c */
int str_to_long(const char *s, long *out);
int str_to_double(const char *s, double *out);
char *str_from_u64(uint64_t v, unsigned base, char *buf, size_t cap);
char *str_group_thousands(long v, char *buf, size_t cap);

/* str_utf8.c */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);
size_t utf8_encode(uint32_t cp, char out[4]);
long utf8_length(const char *s);

/* str_hex.c */
void hex_encode(const void *data, size_t n, char *out);
long hex_decode(const char *hex, void *out, size_t cap);
void hex_dump(str_buf *b, const void *data, size_t n);

void selftest_str_buf(demo_check *c);
void selftest_str_split(demo_check *c);
void selftest_str_trim(demo_check *c);
void selftest_str_case(demo_check *c);
void selftest_str_num(demo_check *c);
void selftest_str_utf8(demo_check *c);
void selftest_str_hex(demo_check *c);

#ifdef __cplusplus
}
#endif

#endif
