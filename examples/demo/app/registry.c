/* registry.c - the table of every module's selftest, in run order. */
#include "app.h"
#include "demo/checksum.h"
#include "demo/containers.h"
#include "demo/cxxapi.h"
#include "demo/expr.h"
#include "demo/matrix.h"
#include "demo/strutil.h"
#include "demo/textstats.h"

static const demo_selftest tests[] = {
    {"xalloc", "util", selftest_xalloc},
    {"str_buf", "util", selftest_str_buf},
    {"str_split", "util", selftest_str_split},
    {"str_trim", "util", selftest_str_trim},
    {"str_case", "util", selftest_str_case},
    {"str_num", "util", selftest_str_num},
    {"str_utf8", "util", selftest_str_utf8},
    {"str_hex", "util", selftest_str_hex},
    {"vec", "util", selftest_vec},
    {"hashmap", "util", selftest_hashmap},
    {"arena", "util", selftest_arena},
    {"bitset", "util", selftest_bitset},
    {"msort", "util", selftest_msort},
    {"rng", "util", selftest_rng},
    {"lru", "util", selftest_lru},
    {"crc32", "checksum", selftest_crc32},
    {"adler32", "checksum", selftest_adler32},
    {"fnv", "checksum", selftest_fnv},
    {"sha1", "checksum", selftest_sha1},
    {"base64", "checksum", selftest_base64},
    {"rle", "checksum", selftest_rle},
    {"huffman", "checksum", selftest_huffman},
    {"text_words", "text", selftest_text_words},
    {"text_lines", "text", selftest_text_lines},
    {"text_chars", "text", selftest_text_chars},
    {"text_entropy", "text", selftest_text_entropy},
    {"text_freq", "text", selftest_text_freq},
    {"text_wrap", "text", selftest_text_wrap},
    {"text_match", "text", selftest_text_match},
    {"mat_basic", "matrix", selftest_mat_basic},
    {"mat_mul", "matrix", selftest_mat_mul},
    {"mat_solve", "matrix", selftest_mat_solve},
    {"mat_det", "matrix", selftest_mat_det},
    {"mat_format", "matrix", selftest_mat_format},
    {"mat_sparse", "matrix", selftest_mat_sparse},
    {"expr_lex", "expr", selftest_expr_lex},
    {"expr_parse", "expr", selftest_expr_parse},
    {"expr_eval", "expr", selftest_expr_eval},
    {"expr_funcs", "expr", selftest_expr_funcs},
    {"expr_print", "expr", selftest_expr_print},
    {"bigint", "c++", selftest_bigint},
    {"rational", "c++", selftest_rational},
    {"polynomial", "c++", selftest_polynomial},
    {"graph", "c++", selftest_graph},
    {"wordindex", "c++", selftest_wordindex},
    {"typelist", "c++", selftest_typelist},
    {"json", "c++", selftest_json},
};

size_t demo_registry(const demo_selftest **out)
{
    *out = tests;
    return sizeof tests / sizeof tests[0];
}
