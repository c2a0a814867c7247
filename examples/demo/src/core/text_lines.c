/* text_lines.c - line statistics.  A trailing newline doesn't start a new line. */
#include "demo/textstats.h"

void text_lines(const char *s, text_line_stats *st)
{
    size_t total = 0, len = 0;
    st->lines = st->blank = st->longest = 0;
    st->mean_length = 0.0;
    if (!*s)
        return;
    for (const char *p = s;; p++) {
        if (*p == '\n' || *p == '\0') {
            st->lines++;
            st->blank += len == 0;
            if (len > st->longest)
                st->longest = len;
            total += len;
            len = 0;
            if (*p == '\0' || p[1] == '\0')
                break;
        } else if (*p != '\r') {
            len++;
        }
    }
    st->mean_length = (double)total / (double)st->lines;
}

void selftest_text_lines(demo_check *c)
{
    text_line_stats st;
    text_lines("", &st);
    CHECK_EQ(c, st.lines, 0);
    text_lines("one line", &st);
    CHECK_EQ(c, st.lines, 1);
    CHECK_EQ(c, st.longest, 8);
    text_lines("a\n\nbcd\r\n\nef\n", &st);
    CHECK_EQ(c, st.lines, 5);
    CHECK_EQ(c, st.blank, 2);
    CHECK_EQ(c, st.longest, 3);
    CHECK_NEAR(c, st.mean_length, 6.0 / 5.0, 1e-12);
}
