/*
 * Deterministic SCO ids (stix_sco_id) against tests/data/stix/sco_ids.tsv:
 * expected ids computed by an independent implementation in Python
 * (tests/tools/sco_ids.py), covering the specification's SCO examples,
 * python-stix2's published vectors, escapes, non-BMP characters, the
 * RFC 8785 key order and number forms. Plus the properties that must not
 * matter: member order, escaping and non-contributing properties.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "stix/stix.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        if (buf) {
            buf[n] = '\0';
            *len = (size_t)n;
        }
    }
    fclose(f);
    return buf;
}

/* The id of the JSON text s[0..n): 1/0/-1 as stix_sco_id. */
static int id_of(const char *s, size_t n, char out[KZ_MAX_STIX_ID + 1])
{
    struct kzj_doc d;
    struct kz_error err;
    char type[KZ_MAX_STIX_TYPE + 1];
    uint32_t t;
    int rc;

    kzj_doc_init(&d);
    assert_int_equal(kzj_parse(&d, s, n, &err), 0);
    t = KZJ_GET(&d, 0, "type");
    assert_true(t != 0);
    assert_int_equal(kzj_strcpy(&d, t, type, sizeof(type)), 0);
    rc = stix_sco_id(&d, 0, type, out);
    kzj_doc_free(&d);
    return rc;
}

static void test_expected_ids(void **state)
{
    const char *dir = getenv("KZ_TEST_DATA");
    char path[1024], out[KZ_MAX_STIX_ID + 1];
    char *buf, *line, *next;
    size_t len, cases = 0, bad = 0;

    (void)state;
    if (!dir)
        skip();
    snprintf(path, sizeof(path), "%s/stix/sco_ids.tsv", dir);
    buf = slurp(path, &len);
    assert_non_null(buf);
    for (line = buf; line && *line; line = next) {
        char *tab, *expect;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        tab = strrchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        expect = tab + 1;
        cases++;
        if (strcmp(expect, "-") == 0) {
            if (id_of(line, strlen(line), out) != 0) {
                fprintf(stderr, "expected no deterministic id, got %s for %s\n", out, line);
                bad++;
            }
        } else if (id_of(line, strlen(line), out) != 1 || strcmp(out, expect) != 0) {
            fprintf(stderr, "expected %s, got %s for %s\n", expect, out, line);
            bad++;
        }
    }
    free(buf);
    assert_true(cases >= 90);
    assert_int_equal(bad, 0);
}

static void same_id(const char *a, const char *b)
{
    char ia[KZ_MAX_STIX_ID + 1], ib[KZ_MAX_STIX_ID + 1];

    assert_int_equal(id_of(a, strlen(a), ia), 1);
    assert_int_equal(id_of(b, strlen(b), ib), 1);
    assert_string_equal(ia, ib);
}

static void test_order_and_escapes_do_not_matter(void **state)
{
    (void)state;
    same_id("{\"type\":\"file\",\"name\":\"a\",\"hashes\":{\"MD5\":"
            "\"3773a88f65a5e780c8dff9cdc3a056f3\"}}",
            "{\"hashes\":{\"MD5\":\"3773a88f65a5e780c8dff9cdc3a056f3\"},\"name\":\"a\","
            "\"type\":\"file\"}");
    same_id("{\"type\":\"url\",\"value\":\"https://example.com/\"}",
            "{\"type\":\"url\",\"value\":\"https:\\/\\/ex\\u0061mple.com\\/\"}");
    same_id("{\"type\":\"file\",\"name\":\"x\",\"extensions\":{\"b-ext\":{\"z\":1,\"a\":2}}}",
            "{\"type\":\"file\",\"extensions\":{\"b-ext\":{\"a\":2, \"z\":1}}, \"name\":\"x\"}");
}

static void test_other_properties_do_not_matter(void **state)
{
    (void)state;
    same_id("{\"type\":\"ipv4-addr\",\"value\":\"198.51.100.3\"}",
            "{\"type\":\"ipv4-addr\",\"spec_version\":\"2.1\",\"value\":\"198.51.100.3\","
            "\"id\":\"ipv4-addr--00000000-0000-4000-8000-000000000000\","
            "\"object_marking_refs\":[\"marking-definition--34098fce-860f-48ae-8e50-"
            "ebd3cc5e41da\"],\"x_note\":\"kept out\"}");
    /* only one hash contributes: MD5 first, whatever else is there */
    same_id("{\"type\":\"file\",\"hashes\":{\"MD5\":\"3773a88f65a5e780c8dff9cdc3a056f3\"}}",
            "{\"type\":\"file\",\"hashes\":{\"SHA-256\":\""
            "fe90a7e910cb3a4739bed9180e807e93fa70c90f25a8915476f5e4bfbac681db\","
            "\"MD5\":\"3773a88f65a5e780c8dff9cdc3a056f3\"}}");
}

static void test_no_deterministic_id(void **state)
{
    char out[KZ_MAX_STIX_ID + 1];
    static const char *const cases[] = {
            "{\"type\":\"process\",\"pid\":4}",
            "{\"type\":\"x-custom-sco\",\"value\":\"a\"}",
            "{\"type\":\"indicator\",\"name\":\"a\"}",
            "{\"type\":\"user-account\",\"display_name\":\"x\"}",
            "{\"type\":\"file\",\"hashes\":{},\"size\":1}",
            NULL,
    };

    (void)state;
    for (const char *const *c = cases; *c; c++) {
        assert_int_equal(id_of(*c, strlen(*c), out), 0);
        assert_string_equal(out, "");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_expected_ids),
            cmocka_unit_test(test_order_and_escapes_do_not_matter),
            cmocka_unit_test(test_other_properties_do_not_matter),
            cmocka_unit_test(test_no_deterministic_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
