/*
 * Addresses and CIDR blocks in the match index: strict parsing, RFC 5952
 * formatting, and lookups that return every covering prefix (a /24 and a
 * /16 indicator both hit), including the edge prefixes /0, /32 and /128,
 * nested and adjacent blocks, and a cross-check against brute force.
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

static void test_ipv4_parse(void **state)
{
    static const struct {
        const char *s;
        int ok;
        uint32_t v;
    } cases[] = {
            {"1.2.3.4", 1, 0x01020304},
            {"0.0.0.0", 1, 0},
            {"255.255.255.255", 1, 0xffffffff},
            {"10.0.0.1", 1, 0x0a000001},
            {"1.2.3", 0, 0},
            {"1.2.3.4.5", 0, 0},
            {"1.2.3.256", 0, 0},
            {"01.2.3.4", 0, 0},
            {"1.2.3.04", 0, 0},
            {"1..3.4", 0, 0},
            {"1.2.3.4 ", 0, 0},
            {"a.b.c.d", 0, 0},
            {"1.2.3.-4", 0, 0},
            {"1234.1.1.1", 0, 0},
            {"", 0, 0},
            {"1.2.3.4/24", 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint32_t v = 0;
        int rc = match_ipv4_parse(cases[i].s, strlen(cases[i].s), &v);
        if ((rc == 0) != cases[i].ok)
            fail_msg("'%s': expected %s", cases[i].s, cases[i].ok ? "valid" : "invalid");
        if (cases[i].ok)
            assert_int_equal(v, cases[i].v);
    }
}

static void test_ipv6_parse_format(void **state)
{
    static const struct {
        const char *in, *out; /* out NULL: invalid */
    } cases[] = {
            {"::", "::"},
            {"::1", "::1"},
            {"1::", "1::"},
            {"2001:DB8::1", "2001:db8::1"},
            {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
            {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"}, /* one zero group stays */
            {"2001:db8::1:0:0:1", "2001:db8::1:0:0:1"},       /* leftmost longest run */
            {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},
            {"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
            {"::ffff:102:304", "::ffff:1.2.3.4"},
            {"64:ff9b::192.0.2.33", "64:ff9b::c000:221"},
            {"fe80::1:2:3:4:5:6", "fe80:0:1:2:3:4:5:6"},
            {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
            {"1:2:3:4:5:6:7:8:9", NULL},
            {"1:2:3:4:5:6:7", NULL},
            {"1::2::3", NULL},
            {":1::2", NULL},
            {"1::2:", NULL},
            {"12345::1", NULL},
            {"g::1", NULL},
            {"::1.2.3", NULL},
            {"fe80::1%eth0", NULL},
            {"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
            {"1:2:3:4:5:6:7:1.2.3.4", NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t a[16];
        char out[64];
        int rc = match_ipv6_parse(cases[i].in, strlen(cases[i].in), a);
        if (!cases[i].out) {
            if (rc == 0)
                fail_msg("'%s' should be invalid", cases[i].in);
            continue;
        }
        if (rc != 0)
            fail_msg("'%s' should be valid", cases[i].in);
        assert_true(match_ip_format(6, a, out, sizeof(out)) > 0);
        if (strcmp(out, cases[i].out) != 0)
            fail_msg("'%s' formats as '%s', expected '%s'", cases[i].in, out, cases[i].out);
    }
}

static void test_normalise_cidr(void **state)
{
    static const struct {
        enum match_kind k;
        const char *in, *out;
    } cases[] = {
            {MATCH_CIDR4, "10.1.2.3/8", "10.0.0.0/8"},
            {MATCH_CIDR4, "10.0.0.0/32", "10.0.0.0"},
            {MATCH_CIDR4, "0.0.0.0/0", "0.0.0.0/0"},
            {MATCH_CIDR4, "192.0.2.77", "192.0.2.77"},
            {MATCH_IPV4, "192.0.2.0/24", "192.0.2.0/24"},
            {MATCH_CIDR6, "2001:DB8:1::/48", "2001:db8:1::/48"},
            {MATCH_CIDR6, "2001:db8::ff/120", "2001:db8::/120"},
            {MATCH_CIDR6, "::/0", "::/0"},
            {MATCH_IPV6, "2001:db8::1/128", "2001:db8::1"},
            {MATCH_CIDR4, "10.0.0.0/33", NULL},
            {MATCH_CIDR4, "10.0.0.0/08", NULL},
            {MATCH_CIDR4, "10.0.0.0/", NULL},
            {MATCH_CIDR6, "::/129", NULL},
            {MATCH_IPV4, "2001:db8::1", NULL},
            {MATCH_IPV6, "10.0.0.1", NULL},
            {MATCH_IPV4, "example.com", NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[128];
        size_t n = 0;
        struct kz_error e = {0};
        int rc = match_normalise(cases[i].k, cases[i].in, strlen(cases[i].in), out, sizeof(out), &n,
                                 &e);
        if (!cases[i].out) {
            if (rc == 0)
                fail_msg("'%s' should be rejected", cases[i].in);
            assert_int_equal(e.code, KZ_EINVALID);
            assert_true(e.text[0] != '\0');
            continue;
        }
        if (rc != 0)
            fail_msg("'%s': %s", cases[i].in, e.text);
        assert_string_equal(out, cases[i].out);
        assert_int_equal(n, strlen(out));
    }
}

static struct match_index *build(const char *const *vals, size_t n)
{
    struct kz_error e = {0};
    struct match_index *idx = match_index_new(&e);

    assert_non_null(idx);
    for (size_t i = 0; i < n; i++) {
        const char *v = vals[i];
        enum match_kind k = strchr(v, ':') ? MATCH_CIDR6 : MATCH_CIDR4;
        if (match_index_add(idx, k, v, strlen(v), (uint32_t)(i + 1), &e) < 0)
            fail_msg("add '%s': %s", v, e.text);
    }
    assert_int_equal(match_index_finish(idx, &e), 0);
    return idx;
}

/* The refs a lookup returns, as "plen:ref,plen:ref" (most specific first). */
static void lookup(const struct match_index *idx, const char *addr, char *out, size_t cap)
{
    struct match_refs r;
    struct kz_error e = {0};
    size_t o = 0;
    int n = match_index_lookup(idx, strchr(addr, ':') ? MATCH_IPV6 : MATCH_IPV4, addr, strlen(addr),
                               0, &r, &e);

    assert_true(n >= 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++)
        for (uint32_t k = 0; k < r.span[i].nrefs; k++)
            o += (size_t)snprintf(out + o, cap - o, "%s%u:%u", o ? "," : "", r.span[i].plen,
                                  r.span[i].refs[k]);
}

static void test_covering_prefixes(void **state)
{
    static const char *const vals[] = {
            "10.0.0.0/8",    "10.1.0.0/16",     "10.1.2.0/24",
            "10.1.2.3",      "0.0.0.0/0",       "255.255.255.255",
            "192.0.2.0/25",  "192.0.2.128/25",  "10.1.2.3/32",
            "2001:db8::/32", "2001:db8:1::/48", "2001:db8:1::5",
            "::/0",          "ffff::/16",       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    };
    static const struct {
        const char *addr, *want;
    } cases[] = {
            {"10.1.2.3", "32:4,32:9,24:3,16:2,8:1,0:5"},
            {"10.1.2.4", "24:3,16:2,8:1,0:5"},
            {"10.1.3.0", "16:2,8:1,0:5"},
            {"10.255.255.255", "8:1,0:5"},
            {"11.0.0.0", "0:5"},
            {"9.255.255.255", "0:5"},
            {"0.0.0.0", "0:5"},
            {"255.255.255.255", "32:6,0:5"},
            {"192.0.2.127", "25:7,0:5"},
            {"192.0.2.128", "25:8,0:5"},
            {"192.0.3.0", "0:5"},
            {"2001:db8:1::5", "128:12,48:11,32:10,0:13"},
            {"2001:db8:1:ffff::", "48:11,32:10,0:13"},
            {"2001:db8:2::", "32:10,0:13"},
            {"2001:db9::", "0:13"},
            {"::", "0:13"},
            {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "128:15,16:14,0:13"},
            {"fffe::1", "0:13"},
    };

    (void)state;
    struct match_index *idx = build(vals, sizeof(vals) / sizeof(vals[0]));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char got[512];
        lookup(idx, cases[i].addr, got, sizeof(got));
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%s: got '%s', want '%s'", cases[i].addr, got, cases[i].want);
    }
    assert_int_equal(match_index_count(idx, MATCH_IPV4), 2); /* 10.1.2.3 and 255.255.255.255 */
    assert_int_equal(match_index_count(idx, MATCH_CIDR4), 6);
    assert_int_equal(match_index_count(idx, MATCH_IPV6), 2);
    assert_int_equal(match_index_count(idx, MATCH_CIDR6), 4);
    match_index_free(idx);
}

static void test_empty_and_refs(void **state)
{
    struct kz_error e = {0};
    struct match_index *idx = match_index_new(&e);
    struct match_refs r;

    (void)state;
    assert_int_equal(match_index_finish(idx, &e), 0);
    assert_int_equal(match_index_lookup_ipv4(idx, 0x01020304, &r), 0);
    assert_int_equal(match_index_add(idx, MATCH_IPV4, "1.2.3.4", 7, 1, &e), -1);
    assert_int_equal(e.code, KZ_EUSAGE);
    match_index_free(idx);

    /* one value, many refs; duplicates stored once; refs come out sorted */
    idx = match_index_new(&e);
    assert_int_equal(match_index_add(idx, MATCH_IPV4, "1.2.3.4", 7, 30, &e), 0);
    assert_int_equal(match_index_add(idx, MATCH_IPV4, "1.2.3.4", 7, 10, &e), 0);
    assert_int_equal(match_index_add(idx, MATCH_IPV4, "1.2.3.4", 7, 30, &e), 0);
    assert_int_equal(match_index_add(idx, MATCH_CIDR4, "1.2.3.4/32", 10, 20, &e), 0);
    assert_int_equal(match_index_add(idx, MATCH_IPV4, "1.2.3.4", 7, MATCH_MAX_REF + 1, &e), -1);
    assert_int_equal(match_index_finish(idx, &e), 0);
    assert_int_equal(match_index_lookup_ipv4(idx, 0x01020304, &r), 1);
    assert_int_equal(r.span[0].nrefs, 3);
    assert_int_equal(r.span[0].refs[0], 10);
    assert_int_equal(r.span[0].refs[1], 20);
    assert_int_equal(r.span[0].refs[2], 30);
    assert_int_equal(match_index_lookup_ipv4(idx, 0x01020305, &r), 0);
    match_index_free(idx);

    /* parsed addresses, as the pattern extractor delivers them */
    idx = match_index_new(&e);
    {
        const uint8_t v4[4] = {192, 0, 2, 99},
                      v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        assert_int_equal(match_index_add_addr(idx, 4, v4, 24, 5, &e), 0);
        assert_int_equal(match_index_add_addr(idx, 6, v6, 128, 6, &e), 0);
        assert_int_equal(match_index_add_addr(idx, 4, v4, 33, 7, &e), -1);
        assert_int_equal(match_index_add_addr(idx, 5, v4, 8, 7, &e), -1);
        assert_int_equal(match_index_finish(idx, &e), 0);
        assert_int_equal(match_index_lookup_ipv4(idx, 0xc0000201, &r), 1);
        assert_int_equal(r.span[0].plen, 24);
        assert_int_equal(r.span[0].refs[0], 5);
        assert_int_equal(match_index_lookup_ipv6(idx, v6, &r), 1);
    }
    match_index_free(idx);
}

/* Random prefixes against brute force. */
static void test_random_vs_bruteforce(void **state)
{
    enum { NP = 3000, NQ = 20000 };
    uint32_t *net = malloc(NP * sizeof(uint32_t));
    unsigned *len = malloc(NP * sizeof(unsigned));
    struct kz_error e = {0};
    struct match_index *idx = match_index_new(&e);
    uint64_t seed = 0x9e3779b97f4a7c15ULL;

    (void)state;
    assert_non_null(net);
    assert_non_null(len);
    for (int i = 0; i < NP; i++) {
        char s[32];
        uint32_t a;
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        a = (uint32_t)(seed >> 32) & 0xff0fffffu; /* cluster to force nesting */
        len[i] = 8 + (unsigned)((seed >> 20) % 25);
        net[i] = len[i] == 0 ? 0 : a & (0xffffffffu << (32 - len[i]));
        snprintf(s, sizeof(s), "%u.%u.%u.%u/%u", net[i] >> 24, (net[i] >> 16) & 255,
                 (net[i] >> 8) & 255, net[i] & 255, len[i]);
        assert_int_equal(match_index_add(idx, MATCH_CIDR4, s, strlen(s), (uint32_t)i, &e), 0);
    }
    assert_int_equal(match_index_finish(idx, &e), 0);
    for (int q = 0; q < NQ; q++) {
        struct match_refs r;
        uint32_t a;
        size_t want = 0, got = 0;
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        a = q % 2 ? net[(seed >> 33) % NP] + (uint32_t)(seed & 0xff) : (uint32_t)(seed >> 32);
        for (int i = 0; i < NP; i++)
            if ((a & (0xffffffffu << (32 - len[i]))) == net[i])
                want++;
        match_index_lookup_ipv4(idx, a, &r);
        for (unsigned i = 0; i < r.n; i++) {
            got += r.span[i].nrefs;
            for (uint32_t k = 0; k < r.span[i].nrefs; k++) {
                uint32_t ref = r.span[i].refs[k];
                assert_int_equal(len[ref], r.span[i].plen);
                assert_int_equal(a & (0xffffffffu << (32 - len[ref])), net[ref]);
            }
            if (i > 0)
                assert_true(r.span[i].plen < r.span[i - 1].plen);
        }
        assert_int_equal(got, want);
    }
    match_index_free(idx);
    free(net);
    free(len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ipv4_parse),     cmocka_unit_test(test_ipv6_parse_format),
            cmocka_unit_test(test_normalise_cidr), cmocka_unit_test(test_covering_prefixes),
            cmocka_unit_test(test_empty_and_refs), cmocka_unit_test(test_random_vs_bruteforce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
