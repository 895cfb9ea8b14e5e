/*
 * The pattern parser and checker, driven by data files in
 * $KZ_TEST_DATA/pattern/: every example pattern of the STIX 2.1
 * specification and a valid case per grammar rule must pass and survive a
 * format/parse round trip; every invalid case must fail with its expected
 * message. Table-driven C cases cover what a line-based file cannot hold
 * (newlines, NUL, invalid UTF-8, the caps).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pattern/pattern.h"
#include "util/buf.h"

static char *slurp(const char *name, size_t *len)
{
    const char *dir = getenv("KZ_TEST_DATA");
    char path[1024];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%s/pattern/%s", dir ? dir : "tests/data", name);
    f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Calls fn for each line that is not empty and not a comment. */
static void each_line(const char *file, void (*fn)(const char *line, size_t n, void *ctx),
                      void *ctx)
{
    size_t len;
    char *buf = slurp(file, &len);
    char *p = buf;

    while (*p) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);

        if (n && p[0] != '#')
            fn(p, n, ctx);
        p += n + (nl ? 1 : 0);
    }
    free(buf);
}

static void must_pass(const char *line, size_t n, void *ctx)
{
    struct kz_error err;
    struct kzp_pattern *p = NULL, *q = NULL;
    struct kz_buf a, b;
    int *count = ctx;

    kz_error_clear(&err);
    if (kzp_check(line, n, &err) != 0)
        fail_msg("valid pattern rejected: %.*s\n  %s", (int)n, line, err.text);
    assert_int_equal(kzp_parse(line, n, &p, &err), 0);
    kz_buf_init(&a, 1 << 20);
    kz_buf_init(&b, 1 << 20);
    assert_int_equal(kzp_format(p, &a), 0);
    if (kzp_parse(a.data, a.len, &q, &err) != 0)
        fail_msg("canonical form does not parse: %s\n  %s", a.data, err.text);
    assert_int_equal(kzp_format(q, &b), 0);
    if (strcmp(a.data, b.data) != 0)
        fail_msg("round trip differs:\n  %s\n  %s", a.data, b.data);
    kz_buf_reset(&b);
    assert_int_equal(kzp_dump(p, &b), 0);
    assert_true(b.len > 0);
    kz_buf_free(&a);
    kz_buf_free(&b);
    kzp_free(p);
    kzp_free(q);
    (*count)++;
}

static void test_spec_examples(void **state)
{
    int count = 0;

    (void)state;
    each_line("spec_examples.txt", must_pass, &count);
    assert_true(count >= 60);
}

static void test_valid(void **state)
{
    int count = 0;

    (void)state;
    each_line("valid.txt", must_pass, &count);
    assert_true(count >= 90);
}

struct inv {
    char pattern[4096];
    int have;
    int count;
};

static void must_fail(const char *line, size_t n, void *ctx)
{
    struct inv *iv = ctx;
    struct kz_error err;
    struct kzp_pattern *p = (struct kzp_pattern *)1;
    char want[1024];

    if (n >= 9 && memcmp(line, "pattern: ", 9) == 0) {
        assert_true(n - 9 < sizeof(iv->pattern));
        memcpy(iv->pattern, line + 9, n - 9);
        iv->pattern[n - 9] = '\0';
        iv->have = 1;
        return;
    }
    if (n == 8 && memcmp(line, "pattern:", 8) == 0) {
        iv->pattern[0] = '\0';
        iv->have = 1;
        return;
    }
    assert_true(iv->have);
    assert_true(n > 7 && memcmp(line, "error: ", 7) == 0);
    snprintf(want, sizeof(want), "%.*s", (int)(n - 7), line + 7);
    kz_error_clear(&err);
    if (kzp_check(iv->pattern, strlen(iv->pattern), &err) == 0)
        fail_msg("invalid pattern accepted: %s", iv->pattern);
    assert_int_equal(err.code == KZ_EINVALID || err.code == KZ_ELIMIT, 1);
    if (!strstr(err.text, want))
        fail_msg("pattern: %s\n  wanted: %s\n  got:    %s", iv->pattern, want, err.text);
    kz_error_clear(&err);
    assert_int_equal(kzp_parse(iv->pattern, strlen(iv->pattern), &p, &err), -1);
    assert_null(p);
    assert_non_null(strstr(err.text, want));
    iv->have = 0;
    iv->count++;
}

static void test_invalid(void **state)
{
    struct inv iv = {{0}, 0, 0};

    (void)state;
    each_line("invalid.txt", must_fail, &iv);
    assert_true(iv.count >= 80);
}

static void expect_error(const char *s, size_t n, const char *want)
{
    struct kz_error err;

    kz_error_clear(&err);
    assert_int_equal(kzp_check(s, n, &err), -1);
    if (!strstr(err.text, want))
        fail_msg("wanted '%s', got '%s'", want, err.text);
}

static void expect_ok(const char *s)
{
    struct kz_error err;

    kz_error_clear(&err);
    if (kzp_check(s, strlen(s), &err) != 0)
        fail_msg("rejected: %s: %s", s, err.text);
}

static void test_whitespace_and_positions(void **state)
{
    (void)state;
    expect_ok("[file:size = 1]\nAND\r\n[file:size = 2]");
    expect_ok("[file:size\t=\v1]\f");
    expect_ok("[file:size\xc2\xa0=\xe3\x80\x80"
              "1]\xe2\x80\xa8"); /* NBSP, ideographic space */
    expect_ok("[file:size = 1] // comment\nAND [file:size = 2]");
    /* lines and columns count code points */
    expect_error("[file:size = 1]\n  AND ]", 22, "pattern:2:7: expected '[' or '('");
    expect_error("[file:name = '\xe7\xb5\x86' AND]", 26, "pattern:1:22:");
    expect_error("[file:size = 1] \xe2\x80\x8b", 19, "unexpected character"); /* ZWSP is not WS */
}

static void test_bytes(void **state)
{
    (void)state;
    expect_error("[file:name = 'a\0b']", 20, "NUL character in pattern");
    expect_error("[file:name = '\xff']", 17, "invalid UTF-8");
    expect_error("[file:name = '\xed\xa0\x80']", 19, "invalid UTF-8"); /* a surrogate */
    expect_error("[file:name = '\xc0\xaf']", 18, "invalid UTF-8");     /* overlong */
    expect_error(NULL, 0, "empty pattern");
}

static void test_caps(void **state)
{
    char *s;
    size_t n;
    struct kz_error err;

    (void)state;
    /* nesting: KZP_MAX_DEPTH is fine, one more is an error */
    s = malloc(4 * KZP_MAX_DEPTH + 64);
    n = 0;
    for (int i = 0; i < KZP_MAX_DEPTH - 1; i++)
        s[n++] = '(';
    memcpy(s + n, "[file:size = 1]", 15);
    n += 15;
    for (int i = 0; i < KZP_MAX_DEPTH - 1; i++)
        s[n++] = ')';
    s[n] = '\0';
    expect_ok(s);
    n = 0;
    for (int i = 0; i < KZP_MAX_DEPTH + 1; i++)
        s[n++] = '(';
    memcpy(s + n, "[file:size = 1]", 16);
    expect_error(s, strlen(s), "nesting deeper than");
    free(s);
    /* length */
    n = KZP_MAX_PATTERN_BYTES + 1;
    s = malloc(n + 1);
    memset(s, ' ', n);
    memcpy(s, "[file:size = 1]", 15);
    kz_error_clear(&err);
    assert_int_equal(kzp_check(s, n, &err), -1);
    assert_int_equal(err.code, KZ_ELIMIT);
    /* a long IN list and a long OR chain at the limit are fine (no recursion) */
    {
        struct kz_buf b;

        kz_buf_init(&b, KZP_MAX_PATTERN_BYTES);
        kz_buf_addstr(&b, "[file:size IN (0");
        for (int i = 1; b.len < KZP_MAX_PATTERN_BYTES - 64; i++)
            kz_buf_printf(&b, ",%d", i);
        kz_buf_addstr(&b, ")]");
        expect_ok(b.data);
        kz_buf_reset(&b);
        kz_buf_addstr(&b, "[file:size = 0");
        while (b.len < KZP_MAX_PATTERN_BYTES - 64)
            kz_buf_addstr(&b, " OR file:size = 1");
        kz_buf_addstr(&b, "]");
        expect_ok(b.data);
        kz_buf_free(&b);
    }
    free(s);
    /* path steps */
    {
        struct kz_buf b;

        kz_buf_init(&b, 1 << 16);
        kz_buf_addstr(&b, "[file:name");
        for (int i = 0; i < KZP_MAX_DEPTH; i++)
            kz_buf_addstr(&b, "[0]");
        kz_buf_addstr(&b, " = 1]");
        expect_error(b.data, b.len, "object path has more than");
        kz_buf_free(&b);
    }
}

static void test_format(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
            {"[file:size==1]", "[file:size = 1]"},
            {"[a-b:cde<>1]and", NULL},
            {"([file:size = 1] AND [file:size = 2]) WITHIN 5 SECONDS",
             "([file:size = 1] AND [file:size = 2]) WITHIN 5 SECONDS"},
            {"([file:size = 1]) WITHIN 5 SECONDS", "[file:size = 1] WITHIN 5 SECONDS"},
            {"[file:size = 1 OR (file:size = 2 AND file:size = 3)]",
             "[file:size = 1 OR file:size = 2 AND file:size = 3]"},
            {"[(file:size = 1 OR file:size = 2) AND file:size = 3]",
             "[(file:size = 1 OR file:size = 2) AND file:size = 3]"},
            {"[file:hashes.'MD5' = 'cead3f77f6cda6ec00f57d76c9a6879f']",
             "[file:hashes.'MD5' = 'cead3f77f6cda6ec00f57d76c9a6879f']"},
            {"[file:size NOT IN (1,2)] REPEATS 2 TIMES",
             "[file:size NOT IN (1, 2)] REPEATS 2 TIMES"},
            {"[EXISTS file:name]", "[EXISTS file:name]"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kzp_pattern *p = NULL;
        struct kz_error err;
        struct kz_buf b;
        int rc;

        kz_error_clear(&err);
        rc = kzp_parse(cases[i].in, strlen(cases[i].in), &p, &err);
        if (!cases[i].out) {
            assert_int_equal(rc, -1);
            continue;
        }
        assert_int_equal(rc, 0);
        kz_buf_init(&b, 4096);
        kzp_format(p, &b);
        assert_string_equal(b.data, cases[i].out);
        {
            size_t n;
            const char *src = kzp_source(p, &n);

            assert_int_equal(n, strlen(cases[i].in));
            assert_memory_equal(src, cases[i].in, n);
        }
        kz_buf_free(&b);
        kzp_free(p);
    }
    kzp_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_spec_examples), cmocka_unit_test(test_valid),
            cmocka_unit_test(test_invalid),       cmocka_unit_test(test_whitespace_and_positions),
            cmocka_unit_test(test_bytes),         cmocka_unit_test(test_caps),
            cmocka_unit_test(test_format),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
