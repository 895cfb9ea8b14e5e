/*
 * The JSON tape reader: what it accepts, what it refuses and with which
 * message, the tape's shape, string decoding, minifying and RFC 8785
 * canonical form. Bad inputs sit beside good ones in tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "util/limits.h"

struct reject_case {
    const char *text;
    const char *message; /* a substring of the error */
};

static void test_accepts(void **state)
{
    static const char *const good[] = {
            "{}",
            "[]",
            "0",
            "-0",
            "1.5e-7",
            "-12.0E+3",
            "true",
            "false",
            "null",
            "\"\"",
            "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
            "\"\\u00e9\\ud83d\\ude00\"",
            "\"\xc3\xa9\xe3\x81\x82\xf0\x9f\x98\x80\"",
            " {\"a\" : [1, 2, {\"b\": null}]} ",
            "[[[[[[[[[[]]]]]]]]]]",
            "{\"a\":1,\"b\":2,\"A\":3}",
    };
    struct kzj_doc d;
    struct kz_error err;

    (void)state;
    kzj_doc_init(&d);
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        kz_error_clear(&err);
        if (kzj_parse(&d, good[i], strlen(good[i]), &err) < 0)
            fail_msg("refused %s: %s", good[i], err.text);
    }
    kzj_doc_free(&d);
}

static void test_rejects(void **state)
{
    static const struct reject_case bad[] = {
            {"", "expected a JSON value"},
            {"{", "expected a string key"},
            {"{\"a\"}", "expected ':'"},
            {"{\"a\":1,}", "expected a string key"},
            {"[1,]", "expected a JSON value"},
            {"[1 2]", "expected ',' or ']'"},
            {"{\"a\":1 \"b\":2}", "expected ',' or '}'"},
            {"01", "leading zeros"},
            {"1.", "digit after '.'"},
            {"1e", "digit in exponent"},
            {"-", "expected a digit"},
            {"tru", "expected a JSON value"},
            {"nul", "expected a JSON value"},
            {"\"abc", "unterminated string"},
            {"\"a\\x\"", "valid escape"},
            {"\"\\u12\"", "four hex digits"},
            {"\"\\udc00\"", "lone low surrogate"},
            {"\"\\ud800\"", "high surrogate"},
            {"\"\\ud800\\u0041\"", "high surrogate"},
            {"\"a\tb\"", "control characters"},
            {"\"\xff\"", "invalid UTF-8"},
            {"\"\xc0\xaf\"", "invalid UTF-8"},         /* overlong '/' */
            {"\"\xed\xa0\x80\"", "invalid UTF-8"},     /* encoded surrogate */
            {"\"\xf4\x90\x80\x80\"", "invalid UTF-8"}, /* past U+10FFFF */
            {"\"\xe3\x81\"", "invalid UTF-8"},         /* truncated sequence */
            {"{\"a\":1,\"a\":2}", "duplicate key"},
            {"{\"a\":1,\"\\u0061\":2}", "duplicate key"}, /* same key, escaped */
            {"[1] x", "end of input"},
            {"{} {}", "end of input"},
            {"NaN", "expected a JSON value"},
            {"'a'", "expected a JSON value"},
    };
    struct kzj_doc d;
    struct kz_error err;

    (void)state;
    kzj_doc_init(&d);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kz_error_clear(&err);
        if (kzj_parse(&d, bad[i].text, strlen(bad[i].text), &err) == 0)
            fail_msg("accepted %s", bad[i].text);
        if (!strstr(err.text, bad[i].message))
            fail_msg("for %s: wanted \"%s\" in \"%s\"", bad[i].text, bad[i].message, err.text);
        assert_non_null(strstr(err.text, "line 1, column"));
    }
    kzj_doc_free(&d);
}

static void test_error_position(void **state)
{
    const char *text = "{\n  \"a\": 1,\n  \"b\" 2\n}";
    struct kzj_doc d;
    struct kz_error err;

    (void)state;
    kzj_doc_init(&d);
    assert_int_equal(kzj_parse(&d, text, strlen(text), &err), -1);
    assert_non_null(strstr(err.text, "line 3, column 7: expected ':' after object key"));
    kzj_doc_free(&d);
}

static void test_many_duplicate_keys(void **state)
{
    /* past KZ_JSON_SMALL_OBJECT the check sorts; the duplicate is last */
    char text[4096];
    size_t n = 0;
    struct kzj_doc d;
    struct kz_error err;

    (void)state;
    n += (size_t)snprintf(text + n, sizeof(text) - n, "{");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "\"k%d\":%d,", i, i);
    n += (size_t)snprintf(text + n, sizeof(text) - n, "\"k7\":0}");
    kzj_doc_init(&d);
    assert_int_equal(kzj_parse(&d, text, n, &err), -1);
    assert_non_null(strstr(err.text, "duplicate key \"k7\""));
    memcpy(text + n - 7, "\"x9\":0}", 7);
    assert_int_equal(kzj_parse(&d, text, n, &err), 0);
    kzj_doc_free(&d);
}

static void test_depth_limit(void **state)
{
    size_t depth = 10000, n = 2 * depth;
    char *text = malloc(n);
    struct kzj_doc d;
    struct kz_error err;

    (void)state;
    memset(text, '[', depth);
    memset(text + depth, ']', depth);
    kzj_doc_init(&d);
    assert_int_equal(kzj_parse(&d, text, n, &err), -1);
    assert_int_equal(err.code, KZ_ELIMIT);
    assert_non_null(strstr(err.text, "nested deeper"));
    /* exactly at the limit is fine */
    assert_int_equal(kzj_parse(&d, text + depth - KZ_MAX_JSON_DEPTH, 2 * KZ_MAX_JSON_DEPTH, &err),
                     0);
    kzj_doc_free(&d);
    free(text);
}

static void test_node_limit(void **state)
{
    const char *text = "[1,2,3,4,5,6,7,8,9,10]";
    struct kzj_doc d;
    struct kz_error err;

    (void)state;
    kzj_doc_init(&d);
    d.max_nodes = 5;
    assert_int_equal(kzj_parse(&d, text, strlen(text), &err), -1);
    assert_int_equal(err.code, KZ_ELIMIT);
    kzj_doc_free(&d);
}

static void test_tape_and_access(void **state)
{
    const char *text = "{\"type\":\"x\",\"n\":-42,\"f\":2.5,\"list\":[1,[2,3],{}],"
                       "\"s\":\"a\\u00e9\\n\",\"t\":true}";
    struct kzj_doc d;
    struct kz_error err;
    uint32_t v;
    int64_t i64;
    double dv;
    char buf[64];
    const char *p;
    size_t n;

    (void)state;
    kzj_doc_init(&d);
    assert_int_equal(kzj_parse(&d, text, strlen(text), &err), 0);
    assert_int_equal(kzj_type(&d, 0), KZJ_OBJECT);
    assert_int_equal(kzj_count(&d, 0), 6);
    assert_int_equal(kzj_at(&d, 0)->len, strlen(text));
    v = KZJ_GET(&d, 0, "n");
    assert_int_equal(kzj_int64(&d, v, &i64), 0);
    assert_int_equal(i64, -42);
    v = KZJ_GET(&d, 0, "f");
    assert_int_equal(kzj_int64(&d, v, &i64), -1);
    assert_int_equal(kzj_double(&d, v, &dv), 0);
    assert_true(dv == 2.5);
    v = KZJ_GET(&d, 0, "list");
    assert_int_equal(kzj_count(&d, v), 3);
    assert_int_equal(KZJ_GET(&d, 0, "missing"), 0);
    v = KZJ_GET(&d, 0, "s");
    assert_true(KZJ_STR_EQ(&d, v, "a\xc3\xa9\n"));
    assert_false(KZJ_STR_EQ(&d, v, "a\xc3\xa9"));
    assert_int_equal(kzj_strlen(&d, v), 4);
    assert_int_equal(kzj_str(&d, v, buf, sizeof(buf), &p, &n), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(p, "a\xc3\xa9\n", 4);
    assert_int_equal(kzj_str(&d, v, buf, 3, &p, &n), -1); /* does not fit */
    v = KZJ_GET(&d, 0, "type");
    assert_int_equal(kzj_strcpy(&d, v, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "x");
    kzj_doc_free(&d);
}

static void test_nul_in_string(void **state)
{
    const char *text = "\"a\\u0000b\"";
    struct kzj_doc d;
    struct kz_error err;
    char buf[16];

    (void)state;
    kzj_doc_init(&d);
    assert_int_equal(kzj_parse(&d, text, strlen(text), &err), 0); /* valid JSON */
    assert_int_equal(kzj_strcpy(&d, 0, buf, sizeof(buf)), -1);    /* but no C string */
    kzj_doc_free(&d);
}

static void test_parse_at_sequence(void **state)
{
    const char *text = " {\"a\":1}  [2] \"x\"";
    struct kzj_doc d;
    struct kz_error err;
    size_t pos = 0;

    (void)state;
    kzj_doc_init(&d);
    assert_int_equal(kzj_parse_at(&d, text, strlen(text), &pos, &err), 0);
    assert_int_equal(kzj_type(&d, 0), KZJ_OBJECT);
    assert_int_equal(kzj_parse_at(&d, text, strlen(text), &pos, &err), 0);
    assert_int_equal(kzj_type(&d, 0), KZJ_ARRAY);
    assert_int_equal(kzj_parse_at(&d, text, strlen(text), &pos, &err), 0);
    assert_int_equal(kzj_type(&d, 0), KZJ_STRING);
    assert_int_equal(pos, strlen(text));
    kzj_doc_free(&d);
}

static void check_minify(const char *in, const char *want)
{
    struct kz_buf b;

    kz_buf_init(&b, 1 << 20);
    assert_int_equal(kzj_minify(in, strlen(in), &b), 0);
    assert_string_equal(b.data, want);
    kz_buf_free(&b);
}

static void test_minify(void **state)
{
    (void)state;
    check_minify("{ \"a\" : [ 1 , 2 ] ,\n\t\"b c\" : \"x  y\\\" \\\\\" }",
                 "{\"a\":[1,2],\"b c\":\"x  y\\\" \\\\\"}");
    check_minify("[]", "[]");
    check_minify("  \"lots of    spaces inside a string, longer than sixteen\"  ",
                 "\"lots of    spaces inside a string, longer than sixteen\"");
    check_minify("{\"k\":\"\\\\\\\"\"}", "{\"k\":\"\\\\\\\"\"}");
}

struct jcs_case {
    const char *in;
    const char *want;
};

static void test_canonical(void **state)
{
    /* RFC 8785 sections 3.2.2 and 3.2.3 and Appendix B (number forms). */
    static const struct jcs_case cases[] = {
            {"{\"b\":2,\"a\":1}", "{\"a\":1,\"b\":2}"},
            {"[1.0, 1e0, -0, 0.000001, 1e-7, 1e21, 1e20, 123456789012345680000]",
             "[1,1,0,0.000001,1e-7,1e+21,100000000000000000000,123456789012345680000]"},
            {"[4.50, 2e-3, 0.000000000000000000000000001, 333333333.33333329]",
             "[4.5,0.002,1e-27,333333333.3333333]"},
            {"[1E30, 9007199254740992, -1.5e300]", "[1e+30,9007199254740992,-1.5e+300]"},
            {"\"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\"",
             "\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\""},
            /* members sorted by UTF-16 code units: U+1F600 (D83D..) sorts
             * before U+FB33 even though its code point is larger */
            {"{\"\\ufb33\":1,\"\\ud83d\\ude00\":2,\"\\u00e9\":3,\"1\":4,\"\":5}",
             "{\"\":5,\"1\":4,\"\xc3\xa9\":3,\"\xf0\x9f\x98\x80\":2,\"\xef\xac\xb3\":1}"},
            {"{\"a\":{\"z\":[true,false,null],\"y\":{}}}",
             "{\"a\":{\"y\":{},\"z\":[true,false,null]}}"},
    };
    struct kzj_doc d;
    struct kz_error err;
    struct kz_buf b;

    (void)state;
    kzj_doc_init(&d);
    kz_buf_init(&b, 1 << 20);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kz_buf_reset(&b);
        assert_int_equal(kzj_parse(&d, cases[i].in, strlen(cases[i].in), &err), 0);
        assert_int_equal(kzj_canonical(&d, 0, &b), 0);
        if (strcmp(b.data, cases[i].want) != 0)
            fail_msg("canonical of %s:\n got  %s\n want %s", cases[i].in, b.data, cases[i].want);
    }
    kz_buf_free(&b);
    kzj_doc_free(&d);
}

static void test_pretty(void **state)
{
    const char *in = "{\"a\":[1,{\"b\":\"c\"}],\"e\":{},\"f\":[]}";
    const char *want = "{\n  \"a\": [\n    1,\n    {\n      \"b\": \"c\"\n    }\n  ],\n"
                       "  \"e\": {},\n  \"f\": []\n}";
    struct kzj_doc d;
    struct kz_error err;
    struct kz_buf b;

    (void)state;
    kzj_doc_init(&d);
    kz_buf_init(&b, 1 << 20);
    assert_int_equal(kzj_parse(&d, in, strlen(in), &err), 0);
    assert_int_equal(kzj_pretty(&d, 0, &b), 0);
    assert_string_equal(b.data, want);
    kz_buf_free(&b);
    kzj_doc_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_accepts),           cmocka_unit_test(test_rejects),
            cmocka_unit_test(test_error_position),    cmocka_unit_test(test_many_duplicate_keys),
            cmocka_unit_test(test_depth_limit),       cmocka_unit_test(test_node_limit),
            cmocka_unit_test(test_tape_and_access),   cmocka_unit_test(test_nul_in_string),
            cmocka_unit_test(test_parse_at_sequence), cmocka_unit_test(test_minify),
            cmocka_unit_test(test_canonical),         cmocka_unit_test(test_pretty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
