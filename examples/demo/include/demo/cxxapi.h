/* cxxapi.h - the C-callable face of the C++ modules: their selftests, plus a
 * couple of functions the C side uses. */
#ifndef DEMO_CXXAPI_H
#define DEMO_CXXAPI_H

#include <stddef.h>

#include "demo/check.h"

#ifdef __cplusplus
extern "C" {
#endif

/* bigint.cpp: writes n! in decimal; returns the digit count (0 if it didn't fit) */
size_t demo_factorial_digits(unsigned n, char *out, size_t cap);

/* wordindex.cpp: number of distinct lower-cased words in the text */
size_t demo_distinct_words(const char *text);

void selftest_bigint(demo_check *c);
void selftest_rational(demo_check *c);
void selftest_polynomial(demo_check *c);
void selftest_graph(demo_check *c);
void selftest_wordindex(demo_check *c);
void selftest_typelist(demo_check *c);
void selftest_json(demo_check *c);

#ifdef __cplusplus
}
#endif

#endif
