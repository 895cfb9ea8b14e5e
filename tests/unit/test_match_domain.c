/*
 * Domains: normalisation (case, trailing dot, label rules, Unicode names as
 * A-labels: the cases are in test_match_idn.c), the public suffix list
 * through libpsl (exact, wildcard and exception rules, Unicode rules for
 * either form of a name, the default list, bad files), and
 * the label-wise subdomain walk bounded by it: "co.jp" is never a parent,
 * "notevil.com" is no child of "evil.com".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "match/match.h"
#include "match/match_int.h"

static void test_domain_normalise(void **state)
{
    static const struct {
        const char *in, *out; /* out NULL: invalid */
    } cases[] = {
            {"Evil.COM", "evil.com"},
            {"evil.com.", "evil.com"},
            {" evil.com ", "evil.com"},
            {"_dmarc.evil.com", "_dmarc.evil.com"},
            {"xn--80ak6aa92e.com", "xn--80ak6aa92e.com"},
            {"bücher.de", "xn--bcher-kva.de"}, /* Unicode names as A-labels */
            {"ＥＸＡＭＰＬＥ.jp.", "example.jp"},
            {"ＥＸＡＭＰＬＥ。jp。", "example.jp"}, /* ideographic full stops */
            {"ab--ü.com", NULL},                    /* libidn2 refuses it */
            {"ü.123", NULL},
            {"a-b.c-d.co.jp", "a-b.c-d.co.jp"},
            {"localhost", NULL},
            {"evil..com", NULL},
            {".evil.com", NULL},
            {"evil.com..", NULL},
            {"1.2.3.4", NULL},
            {"evil.123", NULL},
            {"ev il.com", NULL},
            {"evil.com/x", NULL},
            {"", NULL},
            {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[300];
        size_t n;
        struct kz_error e = {0};
        int rc = match_domain_normalise(cases[i].in, strlen(cases[i].in), out, sizeof(out), &n, &e);
        if (!cases[i].out) {
            if (rc == 0)
                fail_msg("'%s' should be rejected", cases[i].in);
            assert_int_equal(e.code, KZ_EINVALID);
            continue;
        }
        if (rc != 0)
            fail_msg("'%s': %s", cases[i].in, e.text);
        assert_string_equal(out, cases[i].out);
    }
}

static const char mini_psl[] = "// a small list in the real format\n"
                               "com\n"
                               "jp\n"
                               "co.jp\n"
                               "*.kawasaki.jp\n"
                               "!city.kawasaki.jp\n"
                               "// ===BEGIN PRIVATE DOMAINS===\n"
                               "github.io\n"
                               "公司.cn\n"
                               "cn\n";

static void test_psl_rules(void **state)
{
    struct kz_error e = {0};
    struct match_psl *psl = match_psl_parse(mini_psl, sizeof(mini_psl) - 1, &e);
    static const struct {
        const char *d;
        int ps;
    } cases[] = {
            {"com", 1},
            {"evil.com", 0},
            {"co.jp", 1},
            {"evil.co.jp", 0},
            {"jp", 1},
            {"foo.kawasaki.jp", 1},
            {"a.foo.kawasaki.jp", 0},
            {"city.kawasaki.jp", 0},
            {"kawasaki.jp", 1}, /* libpsl: a wildcard rule makes its base a suffix too */
            {"github.io", 1},
            {"evil.github.io", 0},
            {"公司.cn", 1},
            {"xn--55qx5d.cn", 1},
            {"a.xn--55qx5d.cn", 0},
            {"unknowntld", 1},
            {"evil.unknowntld", 0},
    };

    (void)state;
    assert_non_null(psl);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (match_psl_is_public_suffix(psl, cases[i].d, strlen(cases[i].d)) != cases[i].ps)
            fail_msg("%s: expected %s public suffix", cases[i].d, cases[i].ps ? "a" : "not a");
    match_psl_free(psl);
    assert_null(match_psl_parse("// only comments\n\n", 18, &e));
    assert_int_equal(e.code, KZ_EINVALID);
    assert_null(match_psl_parse("", 0, &e));
    assert_int_equal(e.code, KZ_EINVALID);
    assert_null(match_psl_parse(mini_psl, MATCH_MAX_PSL_BYTES + 1, &e)); /* before reading */
    assert_int_equal(e.code, KZ_ELIMIT);
    assert_null(match_psl_load("/nonexistent/psl.dat", &e));
    assert_int_equal(e.code, KZ_EIO);
    assert_string_equal(e.file, "/nonexistent/psl.dat");
    assert_null(match_psl_load("/", &e)); /* a folder */
    assert_int_equal(e.code, KZ_EIO);
}

/* The same list from a file, then the public suffix rules for names in
 * Japanese, Turkish, German and Greek in both forms. */
static void test_psl_file(void **state)
{
    char path[] = "/tmp/kz-psl-XXXXXX";
    static const char list[] = "jp\n東京.jp\n*.kawasaki.jp\ntr\ncom.tr\nde\ngr\n"
                               "ελ\nέδρα.gr\n";
    struct kz_error e = {0};
    struct match_psl *psl;
    int fd = mkstemp(path);
    static const struct {
        const char *d;
        int ps;
    } cases[] = {
            {"東京.jp", 1},
            {"xn--1lqs71d.jp", 1},
            {"例え.東京.jp", 0},
            {"com.tr", 1},
            {"xn--istanbul-o0e.com.tr", 0},
            {"έδρα.gr", 1},
            {"xn--ixaii6c.gr", 1},
            {"ελ", 1},
            {"xn--qxam", 1},
            {"xn--strae-oqa.de", 0},
            {"x.y.kawasaki.jp", 0},
            {"y.kawasaki.jp", 1},
    };

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, list, sizeof(list) - 1), (ssize_t)(sizeof(list) - 1));
    close(fd);
    psl = match_psl_load(path, &e);
    unlink(path);
    assert_non_null(psl);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (match_psl_is_public_suffix(psl, cases[i].d, strlen(cases[i].d)) != cases[i].ps)
            fail_msg("%s: expected %s public suffix", cases[i].d, cases[i].ps ? "a" : "not a");
    match_psl_free(psl);
}

/* The default list (psl_latest: Debian's or libpsl's own) is always there. */
static void test_psl_default(void **state)
{
    struct kz_error e = {0};
    struct match_psl *psl = match_psl_default(&e);

    (void)state;
    assert_non_null(psl);
    assert_true(match_psl_is_public_suffix(psl, "co.jp", 5));
    assert_true(match_psl_is_public_suffix(psl, "com.tr", 6));
    assert_true(match_psl_is_public_suffix(psl, "github.io", 9));
    assert_false(match_psl_is_public_suffix(psl, "example.co.jp", 13));
    assert_false(match_psl_is_public_suffix(psl, "xn--istanbul-o0e.tr", 19));
    assert_true(match_psl_is_public_suffix(psl, "xn--55qx5d.cn", 13)); /* 公司.cn */
    assert_true(match_psl_is_public_suffix(psl, "公司.cn", strlen("公司.cn")));
    match_psl_free(psl);
}

static void test_psl_real(void **state)
{
    struct kz_error e = {0};
    struct match_psl *psl;

    (void)state;
    if (access(MATCH_PSL_DEFAULT_PATH, R_OK) != 0)
        skip();
    psl = match_psl_load(MATCH_PSL_DEFAULT_PATH, &e);
    assert_non_null(psl);
    assert_true(match_psl_is_public_suffix(psl, "co.jp", 5));
    assert_true(match_psl_is_public_suffix(psl, "co.uk", 5));
    assert_true(match_psl_is_public_suffix(psl, "com.au", 6));
    assert_true(match_psl_is_public_suffix(psl, "github.io", 9));
    assert_false(match_psl_is_public_suffix(psl, "example.co.jp", 13));
    assert_false(match_psl_is_public_suffix(psl, "www.ck", 6));
    assert_true(match_psl_is_public_suffix(psl, "foo.ck", 6));
    assert_true(match_psl_is_public_suffix(psl, "xn--55qx5d.cn", 13)); /* 公司.cn */
    match_psl_free(psl);
}

/* refs of a domain lookup as "off:ref,..." */
static void look(const struct match_index *idx, const char *d, int sub, char *out, size_t cap)
{
    struct match_refs r;
    struct kz_error e = {0};
    int n = match_index_lookup(idx, MATCH_DOMAIN, d, strlen(d), sub, &r, &e);
    size_t o = 0;

    out[0] = '\0';
    assert_true(n >= 0);
    for (int i = 0; i < n; i++)
        for (uint32_t k = 0; k < r.span[i].nrefs; k++)
            o += (size_t)snprintf(out + o, cap - o, "%s%u:%u", o ? "," : "", r.span[i].off,
                                  r.span[i].refs[k]);
}

static void test_subdomain_walk(void **state)
{
    static const char *const doms[] = {"evil.com",   "co.jp",           "bad.co.jp", "github.io",
                                       "x.evil.com", "foo.kawasaki.jp", "EVIL.com."};
    static const struct {
        const char *d;
        const char *exact, *sub;
    } cases[] = {
            {"evil.com", "0:1,0:7", "0:1,0:7"},
            {"EVIL.COM", "0:1,0:7", "0:1,0:7"},
            {"evil.com.", "0:1,0:7", "0:1,0:7"},
            {"a.evil.com", "", "2:1,2:7"},
            {"a.x.evil.com", "", "2:5,4:1,4:7"},
            {"x.evil.com", "0:5", "0:5,2:1,2:7"},
            {"notevil.com", "", ""},
            {"evil.com.au", "", ""},
            {"evil.community", "", ""},
            {"co.jp", "0:2", "0:2"},
            {"shop.co.jp", "", ""},
            {"www.bad.co.jp", "", "4:3"},
            {"github.io", "0:4", "0:4"},
            {"evil.github.io", "", ""},
            {"a.foo.kawasaki.jp", "", ""},
            {"foo.kawasaki.jp", "0:6", "0:6"},
    };
    struct kz_error e = {0};
    struct match_psl *psl = match_psl_parse(mini_psl, sizeof(mini_psl) - 1, &e);
    struct match_index *idx = match_index_new(&e);

    (void)state;
    for (size_t i = 0; i < sizeof(doms) / sizeof(doms[0]); i++)
        assert_int_equal(
                match_index_add(idx, MATCH_DOMAIN, doms[i], strlen(doms[i]), (uint32_t)(i + 1), &e),
                0);
    match_index_set_psl(idx, psl);
    assert_int_equal(match_index_finish(idx, &e), 0);
    match_psl_free(psl); /* only needed until finish */
    assert_int_equal(match_index_count(idx, MATCH_DOMAIN), 6);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char got[256];
        look(idx, cases[i].d, 0, got, sizeof(got));
        if (strcmp(got, cases[i].exact) != 0)
            fail_msg("%s exact: got '%s', want '%s'", cases[i].d, got, cases[i].exact);
        look(idx, cases[i].d, 1, got, sizeof(got));
        if (strcmp(got, cases[i].sub) != 0)
            fail_msg("%s subdomains: got '%s', want '%s'", cases[i].d, got, cases[i].sub);
    }
    {
        struct match_refs r;
        assert_int_equal(match_index_lookup(idx, MATCH_DOMAIN, "bad domain", 10, 1, &r, &e), -1);
        assert_int_equal(e.code, KZ_EINVALID);
    }
    match_index_free(idx);
}

/* Without a PSL only single labels are public suffixes. */
static void test_no_psl(void **state)
{
    struct kz_error e = {0};
    struct match_index *idx = match_index_new(&e);
    struct match_refs r;

    (void)state;
    assert_int_equal(match_index_add(idx, MATCH_DOMAIN, "co.jp", 5, 1, &e), 0);
    assert_int_equal(match_index_add(idx, MATCH_DOMAIN, "com", 3, 2, &e), -1);
    assert_int_equal(e.code, KZ_EINVALID);
    assert_int_equal(match_index_finish(idx, &e), 0);
    assert_int_equal(match_index_lookup(idx, MATCH_DOMAIN, "a.co.jp", 7, 1, &r, &e), 1);
    match_index_free(idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_domain_normalise), cmocka_unit_test(test_psl_file),
            cmocka_unit_test(test_psl_default),      cmocka_unit_test(test_psl_rules),
            cmocka_unit_test(test_psl_real),         cmocka_unit_test(test_subdomain_walk),
            cmocka_unit_test(test_no_psl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
