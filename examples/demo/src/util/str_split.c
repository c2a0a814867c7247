/* str_split.c - splitting on a separator and joining back. */
#include "demo/base.h"
#include "demo/strutil.h"

#include <stdlib.h>
#include <string.h>

size_t str_split(const char *s, char sep, char ***out)
{
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == sep;
    char **list = xmalloc(n * sizeof *list);
    size_t i = 0;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == sep || *p == '\0') {
            list[i++] = xstrndup(start, (size_t)(p - start));
            if (*p == '\0')
                break;
            start = p + 1;
        }
    }
    *out = list;
    return n;
}

void str_free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

char *str_join(char *const *list, size_t n, const char *sep)
{
    str_buf b;
    sb_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_puts(&b, sep);
        sb_puts(&b, list[i]);
    }
    return sb_detach(&b);
}

void selftest_str_split(demo_check *c)
{
    char **parts;
    size_t n = str_split("a,b,,cd", ',', &parts);
    CHECK_EQ(c, n, 4);
    CHECK_STR(c, parts[0], "a");
    CHECK_STR(c, parts[2], "");
    CHECK_STR(c, parts[3], "cd");
    char *joined = str_join(parts, n, " | ");
    CHECK_STR(c, joined, "a | b |  | cd");
    free(joined);
    str_free_list(parts, n);

    n = str_split("", ':', &parts);
    CHECK_EQ(c, n, 1);
    CHECK_STR(c, parts[0], "");
    str_free_list(parts, n);

    n = str_split("/usr/local/bin", '/', &parts);
    CHECK_EQ(c, n, 4);
    joined = str_join(parts, n, "/");
    CHECK_STR(c, joined, "/usr/local/bin");
    free(joined);
    str_free_list(parts, n);
}
