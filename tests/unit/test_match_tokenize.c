/*
 * The text tokenizer as a table: an input and the candidates it must yield
 * ("kind:text" in order), with near misses that must yield nothing, values
 * at the edges of the input and next to punctuation, and a check that the
 * output buffer may be small.
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

struct collect {
    const char *s;
    size_t n;
    char *out;
    size_t o, cap;
    size_t count;
};

static void on_token(void *ctx, const struct match_token *t)
{
    struct collect *c = ctx;

    assert_true((size_t)t->off + t->len <= c->n);
    c->count++;
    if (c->out)
        c->o += (size_t)snprintf(c->out + c->o, c->cap - c->o, "%s%s:%.*s", c->o ? " " : "",
                                 match_kind_name(t->kind), (int)t->len, c->s + t->off);
}

static void tokens(const char *s, char *out, size_t outcap)
{
    struct collect c = {s, strlen(s), out, 0, outcap, 0};

    out[0] = '\0';
    match_tokenize(s, c.n, on_token, &c);
}

static void test_table(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
            {"1.2.3.4", "ipv4:1.2.3.4"},
            {"ip=1.2.3.4,", "ipv4:1.2.3.4"},
            {"1.2.3.45 11.2.3.4 1.2.3.4.5 1.2.3 01.2.3.4", "ipv4:1.2.3.45 ipv4:11.2.3.4"},
            {"(1.2.3.4) [1.2.3.4]: <1.2.3.4>.", "ipv4:1.2.3.4 ipv4:1.2.3.4 ipv4:1.2.3.4"},
            {"1.2.3.4:8080 ip:10.0.0.1", "ipv4:1.2.3.4 ipv4:10.0.0.1"},
            {"x1.2.3.4 1.2.3.4x", ""},
            {"addr 2001:db8::1 and [fe80::1]:443", "ipv6:2001:db8::1 ipv6:fe80::1"},
            {"::ffff:1.2.3.4", "ipv6:::ffff:1.2.3.4"},
            {"12:34:56 00:1a:2b:3c:4d:5e std::string", ""},
            {"evil.com", "domain:evil.com"},
            {"Visit EVIL.COM. Then", "domain:EVIL.COM"},
            {"notevil.com not-evil.com evil.com.au",
             "domain:notevil.com domain:not-evil.com domain:evil.com.au"},
            {"*.evil.com -evil.com", "domain:evil.com domain:evil.com"},
            {"_dmarc.evil.com", "domain:_dmarc.evil.com"},
            {"index.html version 1.2 v2.0.1", "domain:index.html"},
            {"a.123", ""},
            {"mail bad@evil.com.", "email:bad@evil.com"},
            {"x.y+tag@mail.evil.org", "email:x.y+tag@mail.evil.org"},
            {"mailto:Bad@Evil.COM", "email:Bad@Evil.COM"},
            {"@evil.com user@ a@b", "domain:evil.com"},
            {"a..b@evil.com", "domain:evil.com"},
            {"http://evil.com/x?q=1.2.3.4&d=bad.org",
             "url:http://evil.com/x?q=1.2.3.4&d=bad.org ipv4:1.2.3.4 domain:bad.org"},
            {"(https://evil.com/a).", "url:https://evil.com/a"},
            {"see https://en.wikipedia.org/wiki/Foo_(bar), ok",
             "url:https://en.wikipedia.org/wiki/Foo_(bar)"},
            {"\"http://user:pw@evil.com:8080/p\"", "url:http://user:pw@evil.com:8080/p"},
            {"u=http://a.com/r?to=https://b.org/x",
             "url:http://a.com/r?to=https://b.org/x url:https://b.org/x"},
            {"HTTP://[2001:db8::1]/x", "url:HTTP://[2001:db8::1]/x"},
            {"http:// nothing", ""},
            {"d41d8cd98f00b204e9800998ecf8427e", "md5:d41d8cd98f00b204e9800998ecf8427e"},
            {"md5=D41D8CD98F00B204E9800998ECF8427E;", "md5:D41D8CD98F00B204E9800998ECF8427E"},
            {"da39a3ee5e6b4b0d3255bfef95601890afd80709",
             "sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709"},
            {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
             "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
            {"d41d8cd98f00b204e9800998ecf8427e0 xd41d8cd98f00b204e9800998ecf8427e", ""},
            {"8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", ""},
            {"", ""},
            {"\xc3\xa9vil.com evil.com\xc3\xa9", "domain:\xc3\xa9vil.com domain:evil.com\xc3\xa9"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char got[2048];
        tokens(cases[i].in, got, sizeof(got));
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("'%s':\n  got  '%s'\n  want '%s'", cases[i].in, got, cases[i].want);
    }
}

/* Bytes of every value never crash or read out of bounds. */
static void test_all_bytes(void **state)
{
    char buf[4096];
    uint32_t x = 12345;

    (void)state;
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(round % 200) + 1;
        struct collect c = {buf, n, NULL, 0, 0, 0};
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (char)"0123456789abcdef.:@/-_+%[]()xyz \x80\xff"[(x >> 16) % 35];
        }
        match_tokenize(buf, n, on_token, &c);
    }
}

/* One atom holding thousands of values: every one is reported. */
static void test_many_in_one_atom(void **state)
{
    static char buf[8 * 5000 + 1];
    struct collect c = {buf, 0, NULL, 0, 0, 0};

    (void)state;
    for (int i = 0; i < 5000; i++)
        memcpy(buf + 8 * i, i % 2 ? "1.2.3.4:" : "1.2.3.4+", 8);
    c.n = sizeof(buf) - 1;
    match_tokenize(buf, c.n, on_token, &c);
    assert_int_equal(c.count, 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_table),
            cmocka_unit_test(test_all_bytes),
            cmocka_unit_test(test_many_in_one_atom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
