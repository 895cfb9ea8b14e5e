/*
 * Extraction of index-servable conditions, driven by
 * $KZ_TEST_DATA/pattern/extract.txt (pattern, whether the conditions cover
 * it, and each condition's kind, exactness and value in delivery order),
 * plus C checks of the parsed addresses and of stopping from the callback.
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

static int collect(void *ctx, const struct kzp_cond *c)
{
    struct kz_buf *b = ctx;

    kz_buf_printf(b, "cond: %s %s %.*s\n", kzp_cond_kind_name(c->kind),
                  c->exact ? "exact" : "candidate", (int)c->len, c->value);
    return 0;
}

static void check_block(const char *pattern, const char *expect)
{
    struct kzp_pattern *p = NULL;
    struct kz_error err;
    struct kz_buf got;
    int complete = -1;

    kz_error_clear(&err);
    if (kzp_parse(pattern, strlen(pattern), &p, &err) != 0)
        fail_msg("does not parse: %s: %s", pattern, err.text);
    kz_buf_init(&got, 1 << 20);
    assert_int_equal(kzp_extract(p, collect, &got, &complete), 0);
    {
        struct kz_buf all;

        kz_buf_init(&all, 1 << 20);
        kz_buf_printf(&all, "complete: %s\n%s", complete ? "yes" : "no", got.data ? got.data : "");
        if (strcmp(all.data, expect) != 0)
            fail_msg("pattern: %s\nwanted:\n%sgot:\n%s", pattern, expect, all.data);
        kz_buf_free(&all);
    }
    kz_buf_free(&got);
    kzp_free(p);
}

static void test_data(void **state)
{
    const char *dir = getenv("KZ_TEST_DATA");
    char path[1024], line[4096], pattern[4096] = "";
    struct kz_buf expect;
    FILE *f;
    int blocks = 0;

    (void)state;
    snprintf(path, sizeof(path), "%s/pattern/extract.txt", dir ? dir : "tests/data");
    f = fopen(path, "r");
    assert_non_null(f);
    kz_buf_init(&expect, 1 << 20);
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (strncmp(line, "pattern: ", 9) == 0) {
            snprintf(pattern, sizeof(pattern), "%s", line + 9);
            pattern[strcspn(pattern, "\n")] = '\0';
            kz_buf_reset(&expect);
        } else if (strcmp(line, "end\n") == 0) {
            check_block(pattern, expect.data ? expect.data : "");
            blocks++;
        } else {
            kz_buf_addstr(&expect, line);
        }
    }
    fclose(f);
    kz_buf_free(&expect);
    assert_true(blocks >= 25);
}

struct addr_ctx {
    int n;
    struct kzp_cond c[4];
};

static int keep(void *ctx, const struct kzp_cond *c)
{
    struct addr_ctx *a = ctx;

    if (a->n < 4)
        a->c[a->n] = *c;
    a->n++;
    return 0;
}

static void test_addresses(void **state)
{
    static const char pat[] = "[ipv4-addr:value ISSUBSET '198.51.100.77/24' OR "
                              "ipv6-addr:value = '2001:DB8::1' OR "
                              "file:hashes.'SHA-256' = "
                              "'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']";
    static const uint8_t v4[4] = {198, 51, 100, 0};
    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    struct kzp_pattern *p = NULL;
    struct kz_error err;
    struct addr_ctx a = {0};
    int complete;

    (void)state;
    kz_error_clear(&err);
    assert_int_equal(kzp_parse(pat, strlen(pat), &p, &err), 0);
    assert_int_equal(kzp_extract(p, keep, &a, &complete), 0);
    assert_int_equal(a.n, 3);
    assert_true(complete);
    assert_int_equal(a.c[0].kind, KZP_COND_CIDR4);
    assert_int_equal(a.c[0].prefix, 24);
    assert_memory_equal(a.c[0].addr, v4, 4);
    assert_int_equal(a.c[1].kind, KZP_COND_IPV6);
    assert_int_equal(a.c[1].prefix, 128);
    assert_memory_equal(a.c[1].addr, v6, 16);
    assert_int_equal(a.c[2].kind, KZP_COND_SHA256);
    assert_int_equal(a.c[2].algo_len, 7);
    assert_memory_equal(a.c[2].algo, "SHA-256", 7);
    assert_int_equal(a.c[2].type_len, 4);
    assert_memory_equal(a.c[2].type, "file", 4);
    assert_int_equal(a.c[2].obs, 0);
    kzp_free(p);
}

static int stop_at_first(void *ctx, const struct kzp_cond *c)
{
    (void)c;
    (*(int *)ctx)++;
    return -1;
}

static void test_stop(void **state)
{
    static const char pat[] = "[domain-name:value IN ('a.example', 'b.example')]";
    struct kzp_pattern *p = NULL;
    struct kz_error err;
    int n = 0, complete;

    (void)state;
    kz_error_clear(&err);
    assert_int_equal(kzp_parse(pat, strlen(pat), &p, &err), 0);
    assert_int_equal(kzp_extract(p, stop_at_first, &n, &complete), -1);
    assert_int_equal(n, 1);
    kzp_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_data),
            cmocka_unit_test(test_addresses),
            cmocka_unit_test(test_stop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
