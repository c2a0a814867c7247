/* text_chars.c - character-class histogram (ASCII classes, the rest is "other"). */
#include "demo/textstats.h"

#include <string.h>

void text_chars(const char *s, text_char_stats *st)
{
    memset(st, 0, sizeof *st);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
            st->letters++;
            st->upper += ch <= 'Z';
        } else if (ch >= '0' && ch <= '9') {
            st->digits++;
        } else if (ch == ' ' || (ch >= '\t' && ch <= '\r')) {
            st->spaces++;
        } else if (ch > ' ' && ch < 0x7f) {
            st->punct++;
        } else {
            st->other++;
        }
    }
}

void selftest_text_chars(demo_check *c)
{
    text_char_stats st;
    text_chars("Hello, World! 123\n\t\xc3\xa9", &st);
    CHECK_EQ(c, st.letters, 10);
    CHECK_EQ(c, st.upper, 2);
    CHECK_EQ(c, st.digits, 3);
    CHECK_EQ(c, st.spaces, 4);
    CHECK_EQ(c, st.punct, 2);
    CHECK_EQ(c, st.other, 2);
    text_chars("", &st);
    CHECK_EQ(c, st.letters + st.digits + st.spaces + st.punct + st.other, 0);
}
