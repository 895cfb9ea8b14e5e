/*
 * MISP warninglists: each list type's semantics on small inline lists,
 * matching_attributes filtering, first-list-wins order, load errors naming
 * the entry at fault, the serialized blob round trip, suppression in a scan,
 * and the real lists of the shared data (loaded whole, then checked on
 * values they must and must not cover).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "match/logread.h"
#include "match/match.h"
#include "match/warninglist.h"

static const char *const inline_lists[] = {
        "{\"name\":\"resolvers\",\"version\":3,\"description\":\"public DNS\",\"type\":\"cidr\","
        "\"matching_attributes\":[\"ip-src\",\"ip-dst\"],"
        "\"list\":[\"8.8.8.8\",\"1.1.1.0/24\",\"2001:4860:4860::/48\"]}",
        "{\"name\":\"hosts\",\"type\":\"hostname\",\"matching_attributes\":[\"hostname\","
        "\"domain\",\"url\"],\"list\":[\"Example.COM.\",\".cdn.net\"]}",
        "{\"name\":\"strings\",\"type\":\"string\",\"matching_attributes\":[\"md5\",\"domain\","
        "\"url\"],\"list\":[\"d41d8cd98f00b204e9800998ecf8427e\",\"exact.org\","
        "\"http://exact.org/Path\"]}",
        "{\"name\":\"subs\",\"type\":\"substring\",\"matching_attributes\":[\"email-src\","
        "\"domain\"],\"list\":[\"mailinator\",\"tmp\"]}",
        "{\"name\":\"contacts\",\"type\":\"regex\",\"matching_attributes\":[\"email-dst\"],"
        "\"list\":[\"/^(abuse|noc)\\\\@.*$/i\",\"/x{2}y/g\"]}",
        "{\"name\":\"all-types\",\"list\":{\"everything.io\":\"a comment\"}}",
        "{\"name\":\"hosts-late\",\"type\":[\"hostname\"],\"list\":[\"example.com\"]}",
};

static struct warninglist_set *inline_set(void)
{
    struct kz_error e = {0};
    struct warninglist_set *s = warninglist_set_new(&e);

    assert_non_null(s);
    for (size_t i = 0; i < sizeof(inline_lists) / sizeof(inline_lists[0]); i++)
        if (warninglist_set_add_json(s, inline_lists[i], strlen(inline_lists[i]), &e) < 0)
            fail_msg("list %zu: %s: %s", i, e.property, e.text);
    assert_int_equal(warninglist_set_finish(s, &e), 0);
    return s;
}

/* The name of the list covering (kind, value), or "-". */
static const char *check(const struct warninglist_set *s, enum match_kind k, const char *v)
{
    char norm[1024];
    size_t n = strlen(v);
    struct kz_error e = {0};
    const struct warninglist_info *wl;

    if (match_normalise(k, v, strlen(v), norm, sizeof(norm), &n, &e) < 0)
        fail_msg("normalise '%s': %s", v, e.text);
    wl = warninglist_check(s, k, v, strlen(v), norm, n);
    return wl ? wl->name : "-";
}

static void test_semantics(void **state)
{
    static const struct {
        enum match_kind k;
        const char *v, *want;
    } cases[] = {
            {MATCH_IPV4, "8.8.8.8", "resolvers"},
            {MATCH_IPV4, "8.8.8.9", "-"},
            {MATCH_IPV4, "1.1.1.77", "resolvers"},
            {MATCH_IPV6, "2001:4860:4860::8888", "resolvers"},
            {MATCH_IPV6, "2001:4860:4861::1", "-"},
            {MATCH_DOMAIN, "example.com", "hosts"},
            {MATCH_DOMAIN, "WWW.Example.com", "hosts"},
            {MATCH_DOMAIN, "notexample.com", "-"},
            {MATCH_DOMAIN, "a.cdn.net", "hosts"},
            {MATCH_URL, "http://www.example.com:8080/x", "hosts"},
            {MATCH_URL, "http://exact.org/Path", "strings"},
            {MATCH_URL, "http://exact.org/path", "-"},
            {MATCH_DOMAIN, "exact.org", "strings"},
            {MATCH_DOMAIN, "sub.exact.org", "-"},
            {MATCH_MD5, "D41D8CD98F00B204E9800998ECF8427E", "strings"},
            {MATCH_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", "-"},
            {MATCH_EMAIL, "x@mailinator.com", "subs"},
            {MATCH_DOMAIN, "tmp-mail.org", "subs"},
            {MATCH_IPV4, "10.0.0.1", "-"},
            {MATCH_EMAIL, "Abuse@Example.org", "contacts"},
            {MATCH_EMAIL, "xxy@b.org", "contacts"},
            {MATCH_EMAIL, "admin@b.org", "-"},
            {MATCH_DOMAIN, "everything.io", "all-types"},
            {MATCH_MD5, "0123456789abcdef0123456789abcdef", "-"},
    };
    struct warninglist_set *s = inline_set();

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = check(s, cases[i].k, cases[i].v);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%s '%s': covered by '%s', expected '%s'", match_kind_name(cases[i].k),
                     cases[i].v, got, cases[i].want);
    }
    {
        struct warninglist_info info;
        assert_int_equal(warninglist_count(s), 7);
        assert_int_equal(warninglist_get(s, 0, &info), 0);
        assert_string_equal(info.name, "resolvers");
        assert_string_equal(info.type, "cidr");
        assert_string_equal(info.description, "public DNS");
        assert_int_equal(info.version, 3);
        assert_int_equal(info.entries, 3);
        assert_int_equal(info.nattributes, 2);
        assert_string_equal(info.matching_attributes[1], "ip-dst");
        assert_int_equal(warninglist_get(s, 5, &info), 0);
        assert_string_equal(info.type, "string"); /* MISP's default */
        assert_int_equal(warninglist_get(s, 7, &info), -1);
        assert_string_equal(warninglist_entry(s, 0, 1), "1.1.1.0/24");
        assert_string_equal(warninglist_entry(s, 5, 0), "everything.io");
        assert_null(warninglist_entry(s, 0, 3));
        assert_null(warninglist_entry(s, 9, 0));
    }
    warninglist_set_free(s);
}

static void test_errors(void **state)
{
    static const struct {
        const char *json, *property;
        enum kz_ecode code;
    } cases[] = {
            {"{\"list\":[]}", "name", KZ_EINVALID},
            {"{\"name\":\"x\",\"type\":\"fuzzy\",\"list\":[]}", "type", KZ_EINVALID},
            {"{\"name\":\"x\",\"type\":\"cidr\",\"list\":[\"1.2.3.0/24\",\"1.2.3.0/40\"]}",
             "list[1]", KZ_EINVALID},
            {"{\"name\":\"x\",\"type\":\"regex\",\"list\":[\"/(unclosed/\"]}", "list[0]",
             KZ_EINVALID},
            {"{\"name\":\"x\",\"type\":\"regex\",\"list\":[\"/a/q\"]}", "list[0]", KZ_EINVALID},
            {"{\"name\":\"x\",\"type\":\"regex\",\"list\":[\"noslashes\"]}", "list[0]",
             KZ_EINVALID},
            {"{\"name\":\"x\",\"list\":[1]}", "list[0]", KZ_EINVALID},
            {"{\"name\":\"x\"}", "list", KZ_EINVALID},
            {"[1,2]", "", KZ_EINVALID},
            {"{\"name\":\"x\",\"list\":[\"a\"],}", "", KZ_EINVALID},
    };
    struct kz_error e = {0};
    struct warninglist_set *s = warninglist_set_new(&e);

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kz_error_clear(&e);
        if (warninglist_set_add_json(s, cases[i].json, strlen(cases[i].json), &e) == 0)
            fail_msg("'%s' should be rejected", cases[i].json);
        assert_int_equal(e.code, cases[i].code);
        if (cases[i].property[0])
            assert_string_equal(e.property, cases[i].property);
    }
    assert_int_equal(warninglist_set_add_json(s, inline_lists[0], strlen(inline_lists[0]), &e), 0);
    assert_int_equal(warninglist_set_add_json(s, inline_lists[0], strlen(inline_lists[0]), &e), -1);
    assert_int_equal(e.code, KZ_EEXISTS);
    assert_int_equal(warninglist_set_load_path(s, "/nonexistent/lists", &e), -1);
    assert_int_equal(e.code, KZ_ENOTFOUND);
    assert_int_equal(warninglist_set_finish(s, &e), 0);
    assert_int_equal(warninglist_set_add_json(s, inline_lists[1], strlen(inline_lists[1]), &e), -1);
    assert_int_equal(e.code, KZ_EUSAGE);
    warninglist_set_free(s);
}

/* Serialize, load the blob into a new set: same lists, same answers. */
static void test_blob_roundtrip(void **state)
{
    struct warninglist_set *a = inline_set(), *b;
    struct kz_buf blob, again;
    struct kz_error e = {0};

    (void)state;
    kz_buf_init(&blob, 1 << 20);
    kz_buf_init(&again, 1 << 20);
    assert_int_equal(warninglist_set_serialize(a, &blob, &e), 0);
    b = warninglist_set_new(&e);
    assert_int_equal(warninglist_set_load_blob(b, blob.data, blob.len, &e), 0);
    assert_int_equal(warninglist_set_finish(b, &e), 0);
    assert_int_equal(warninglist_count(b), warninglist_count(a));
    assert_int_equal(warninglist_set_serialize(b, &again, &e), 0);
    assert_string_equal(blob.data, again.data);
    assert_string_equal(check(b, MATCH_EMAIL, "noc@x.org"), "contacts");
    assert_string_equal(check(b, MATCH_IPV4, "1.1.1.1"), "resolvers");
    kz_buf_free(&blob);
    kz_buf_free(&again);
    warninglist_set_free(a);
    warninglist_set_free(b);
}

struct seen {
    int hits, suppressed;
};

static int on_hit(void *ctx, const struct match_hit *h, struct kz_error *err)
{
    struct seen *s = ctx;

    (void)err;
    s->hits++;
    if (h->suppressed_by) {
        s->suppressed++;
        assert_string_equal(h->suppressed_by, "resolvers");
    }
    return 0;
}

/* A CIDR indicator covering a resolver: the resolver's hits are
 * suppressed unless shown. */
static void test_scan_suppression(void **state)
{
    const char *log = "query to 8.8.8.8\nquery to 8.8.4.4\nquery to 1.1.1.9\n";
    struct kz_error e = {0};
    struct match_index *idx = match_index_new(&e);
    struct warninglist_set *wl = inline_set();

    (void)state;
    assert_int_equal(match_index_add(idx, MATCH_CIDR4, "0.0.0.0/0", 9, 1, &e), 0);
    assert_int_equal(match_index_finish(idx, &e), 0);
    for (int show = 0; show < 2; show++) {
        struct match_scan_opts o = {0};
        struct match_stats st = {0};
        struct seen s = {0, 0};
        struct logread *r = logread_open_mem("m", log, strlen(log), LOGREAD_AUTO, &e);
        o.warninglists = wl;
        o.show_suppressed = show;
        assert_int_equal(match_scan(idx, r, &o, on_hit, &s, &st, &e), 0);
        assert_int_equal(st.suppressed, 2);
        assert_int_equal(s.hits, show ? 3 : 1);
        assert_int_equal(s.suppressed, show ? 2 : 0);
        logread_close(r);
    }
    match_index_free(idx);
    warninglist_set_free(wl);
}

static void test_real_lists(void **state)
{
    static const struct {
        enum match_kind k;
        const char *v;
        int covered;
    } cases[] = {
            {MATCH_IPV4, "8.8.8.8", 1},
            {MATCH_IPV4, "10.20.30.40", 1},
            {MATCH_IPV4, "192.168.1.1", 1},
            {MATCH_IPV6, "fe80::1", 1},
            {MATCH_MD5, "d41d8cd98f00b204e9800998ecf8427e", 1},
            {MATCH_SHA256, "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", 1},
            {MATCH_DOMAIN, "www.google.com", 1},
            {MATCH_DOMAIN, "mail.google.com", 1},
            {MATCH_EMAIL, "abuse@some-company.example", 1},
            {MATCH_DOMAIN, "kz-unlikely-7f3a9c.example", 0},
            {MATCH_SHA1, "0123456789abcdef0123456789abcdef01234567", 0},
            {MATCH_URL, "http://kz-unlikely-7f3a9c.example/x", 0},
    };
    const char *shared = getenv("KZ_SHARED_DATA");
    char path[4096];
    struct kz_error e = {0};
    struct warninglist_set *s;
    struct timespec t0, t1;

    (void)state;
    if (!shared)
        skip();
    snprintf(path, sizeof(path), "%s/warninglists/lists", shared);
    s = warninglist_set_new(&e);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (warninglist_set_load_path(s, path, &e) < 0) {
        if (e.code == KZ_ENOTFOUND) {
            warninglist_set_free(s);
            skip();
        }
        fail_msg("%s: %s: %s: %s", e.file, e.object, e.property, e.text);
    }
    assert_int_equal(warninglist_set_finish(s, &e), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("loaded %zu warninglists in %.2f s\n", warninglist_count(s),
                  (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    assert_true(warninglist_count(s) >= 100);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = check(s, cases[i].k, cases[i].v);
        if ((strcmp(got, "-") != 0) != cases[i].covered)
            fail_msg("%s '%s': covered by '%s'", match_kind_name(cases[i].k), cases[i].v, got);
    }
    warninglist_set_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_semantics),      cmocka_unit_test(test_errors),
            cmocka_unit_test(test_blob_roundtrip), cmocka_unit_test(test_scan_suppression),
            cmocka_unit_test(test_real_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
