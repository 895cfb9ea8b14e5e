/*
 * URL normalisation (RFC 3986 sections 6.2.2 and 6.2.3) as a table of
 * inputs and canonical forms, e-mail case rules (the domain folds, the local
 * part does not), hex digests, and lookups of each through the index.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "match/match.h"

static void test_url_table(void **state)
{
    static const struct {
        const char *in, *out; /* out NULL: rejected */
    } cases[] = {
            {"http://evil.com/x", "http://evil.com/x"},
            {"HTTP://EVIL.COM/x", "http://evil.com/x"},
            {"http://Evil.Com/Path/X", "http://evil.com/Path/X"},
            {"http://evil.com", "http://evil.com/"},
            {"http://evil.com:80/", "http://evil.com/"},
            {"http://evil.com:/", "http://evil.com/"},
            {"http://evil.com:0080/a", "http://evil.com/a"},
            {"https://evil.com:443/a", "https://evil.com/a"},
            {"https://evil.com:80/a", "https://evil.com:80/a"},
            {"http://evil.com:8080/a", "http://evil.com:8080/a"},
            {"ftp://evil.com:21/f", "ftp://evil.com/f"},
            {"wss://evil.com:443/s", "wss://evil.com/s"},
            {"http://evil.com/%7Euser/%61b", "http://evil.com/~user/ab"},
            {"http://evil.com/a%2fb", "http://evil.com/a%2Fb"},
            {"http://evil.com/a%2Fb", "http://evil.com/a%2Fb"},
            {"http://evil.com/%zz", "http://evil.com/%25zz"},
            {"http://evil.com/a b", "http://evil.com/a%20b"},
            {"http://evil.com/caf\xc3\xa9", "http://evil.com/caf%C3%A9"},
            {"http://evil.com/a/./b/../c", "http://evil.com/a/c"},
            {"http://evil.com/a/b/..", "http://evil.com/a/"},
            {"http://evil.com/../../a", "http://evil.com/a"},
            {"http://evil.com/a//b", "http://evil.com/a//b"},
            {"http://evil.com/.", "http://evil.com/"},
            {"http://evil.com/%2E%2E/a", "http://evil.com/a"},
            {"http://evil.com/p?q=A%7e&b=%2f#frag", "http://evil.com/p?q=A~&b=%2F"},
            {"http://evil.com?x=1", "http://evil.com/?x=1"},
            {"http://evil.com/#top", "http://evil.com/"},
            {"http://User:Pw@Evil.com/", "http://User:Pw@evil.com/"},
            {"http://evil.com./a", "http://evil.com/a"},
            {"http://[2001:DB8:0::1]:80/", "http://[2001:db8::1]/"},
            {"http://[2001:db8::1]:8443/", "http://[2001:db8::1]:8443/"},
            {"http://192.0.2.1:80/", "http://192.0.2.1/"},
            {"http://%65vil.com/", "http://evil.com/"},
            {"mailto:Bad@Evil.com", "mailto:Bad@Evil.com"},
            {"  http://evil.com/a  ", "http://evil.com/a"},
            {"evil.com/path", NULL},
            {"/relative/path", NULL},
            {"http://evil.com:abc/", NULL},
            {"http://evil.com:123456/", NULL},
            {"http://[::1/", NULL},
            {"1http://x/", NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[512];
        size_t n = 0;
        struct kz_error e = {0};
        int rc = match_url_normalise(cases[i].in, strlen(cases[i].in), out, sizeof(out), &n, &e);
        if (!cases[i].out) {
            if (rc == 0)
                fail_msg("'%s' should be rejected, got '%s'", cases[i].in, out);
            assert_int_equal(e.code, KZ_EINVALID);
            continue;
        }
        if (rc != 0)
            fail_msg("'%s': %s", cases[i].in, e.text);
        if (strcmp(out, cases[i].out) != 0)
            fail_msg("'%s' -> '%s', expected '%s'", cases[i].in, out, cases[i].out);
        assert_int_equal(n, strlen(out));
        /* idempotent */
        {
            char again[512];
            size_t m;
            assert_int_equal(match_url_normalise(out, n, again, sizeof(again), &m, &e), 0);
            assert_string_equal(again, out);
        }
    }
}

static void test_url_limits(void **state)
{
    char out[16], big[MATCH_MAX_VALUE_BYTES + 10];
    size_t n;
    struct kz_error e = {0};
    struct match_index *idx = match_index_new(&e);

    (void)state;
    assert_int_equal(match_url_normalise("http://evil.com/long/path", 25, out, sizeof(out), &n, &e),
                     -1);
    assert_int_equal(e.code, KZ_ELIMIT);
    memset(big, 'a', sizeof(big));
    memcpy(big, "http://x.com/", 13);
    assert_int_equal(match_index_add(idx, MATCH_URL, big, sizeof(big), 1, &e), -1);
    assert_int_equal(e.code, KZ_ELIMIT);
    match_index_free(idx);
}

static void test_email(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
            {"Bad.Guy@EVIL.COM", "Bad.Guy@evil.com"},
            {"bad@evil.com.", "bad@evil.com"},
            {"\"quoted@local\"@evil.com", "\"quoted@local\"@evil.com"},
            {"x+tag@Mail.Evil.com", "x+tag@mail.evil.com"},
            {"nodomain@", NULL},
            {"@evil.com", NULL},
            {"noat.evil.com", NULL},
            {"sp ace@evil.com", NULL},
            {"bad@evil", NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[512];
        size_t n;
        struct kz_error e = {0};
        int rc = match_email_normalise(cases[i].in, strlen(cases[i].in), out, sizeof(out), &n, &e);
        if (!cases[i].out) {
            if (rc == 0)
                fail_msg("'%s' should be rejected", cases[i].in);
            continue;
        }
        if (rc != 0)
            fail_msg("'%s': %s", cases[i].in, e.text);
        assert_string_equal(out, cases[i].out);
    }
}

static void test_hashes(void **state)
{
    uint8_t bin[64];
    enum match_kind k;
    char out[200];
    size_t n;
    struct kz_error e = {0};

    (void)state;
    assert_int_equal(match_hash_parse("D41D8CD98F00B204E9800998ECF8427E", 32, &k, bin), 0);
    assert_int_equal(k, MATCH_MD5);
    assert_int_equal(bin[0], 0xd4);
    assert_int_equal(match_hash_parse("da39a3ee5e6b4b0d3255bfef95601890afd80709", 40, &k, bin), 0);
    assert_int_equal(k, MATCH_SHA1);
    assert_int_equal(match_hash_parse("da39a3ee5e6b4b0d3255bfef95601890afd8070g", 40, &k, bin), -1);
    assert_int_equal(match_hash_parse("abc", 3, &k, bin), -1);
    assert_int_equal(
            match_normalise(MATCH_SHA256,
                            "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", 64,
                            out, sizeof(out), &n, &e),
            0);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(match_normalise(MATCH_MD5, "da39a3ee5e6b4b0d3255bfef95601890afd80709", 40, out,
                                     sizeof(out), &n, &e),
                     -1);
    assert_int_equal(e.code, KZ_EINVALID);
}

static void test_kind_names(void **state)
{
    (void)state;
    for (int k = 0; k < MATCH_KIND_COUNT; k++) {
        enum match_kind got;
        const char *name = match_kind_name((enum match_kind)k);
        assert_int_equal(match_kind_parse(name, strlen(name), &got), 0);
        assert_int_equal(got, k);
    }
    assert_string_equal(match_kind_name(MATCH_KIND_COUNT), "?");
    {
        enum match_kind got;
        assert_int_equal(match_kind_parse("ipv5", 4, &got), -1);
    }
}

/* Every kind through the index, with spellings that normalise alike. */
static void test_index_lookups(void **state)
{
    static const struct {
        enum match_kind k;
        const char *add, *look;
        int hit;
    } cases[] = {
            {MATCH_URL, "http://evil.com/a/b?x=1", "HTTP://EVIL.COM:80/a/./b?x=1", 1},
            {MATCH_URL, "http://evil.com/a/b?x=1", "http://evil.com/a/b?x=2", 0},
            {MATCH_URL, "https://evil.com/~u", "https://evil.com:443/%7Eu#f", 1},
            {MATCH_EMAIL, "Alice@Example.org", "Alice@EXAMPLE.ORG", 1},
            {MATCH_EMAIL, "Alice@Example.org", "alice@example.org", 0},
            {MATCH_MD5, "d41d8cd98f00b204e9800998ecf8427e", "D41D8CD98F00B204E9800998ECF8427E", 1},
            {MATCH_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709",
             "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", 1},
            {MATCH_SHA512,
             "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff831"
             "8d2877eec2f63b931bd47417a81a538327af927da3e",
             "CF83E1357EEFB8BDF1542850D66D8007D620E4050B5715DC83F4A921D36CE9CE47D0D13C5D85F2B0FF831"
             "8D2877EEC2F63B931BD47417A81A538327AF927DA3E",
             1},
            {MATCH_IPV6, "2001:db8::1", "2001:0DB8:0:0::1", 1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kz_error e = {0};
        struct match_index *idx = match_index_new(&e);
        struct match_refs r;
        int n;
        assert_int_equal(
                match_index_add(idx, cases[i].k, cases[i].add, strlen(cases[i].add), 42, &e), 0);
        assert_int_equal(match_index_finish(idx, &e), 0);
        n = match_index_lookup(idx, cases[i].k, cases[i].look, strlen(cases[i].look), 0, &r, &e);
        if (n != cases[i].hit)
            fail_msg("%s '%s' vs '%s': %d", match_kind_name(cases[i].k), cases[i].add,
                     cases[i].look, n);
        if (n)
            assert_int_equal(r.span[0].refs[0], 42);
        assert_true(match_index_memory(idx) > 0);
        match_index_free(idx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_url_table),  cmocka_unit_test(test_url_limits),
            cmocka_unit_test(test_email),      cmocka_unit_test(test_hashes),
            cmocka_unit_test(test_kind_names), cmocka_unit_test(test_index_lookups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
