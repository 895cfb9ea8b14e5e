/*
 * The pattern evaluator, driven by $KZ_TEST_DATA/pattern/eval/ (JSON files): each
 * file holds observations (a bundle or a list) and cases {pattern, match,
 * ids?, error?}; ids are the observations of the first binding found, in
 * input order. C cases cover what data cannot: the binding bound (an error
 * result, not a hang), number_observed in the millions, bad observed-data,
 * several documents in one set.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json/json.h"
#include "pattern/pattern.h"
#include "util/buf.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

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

static int run_case(struct kzp_obs *o, const struct kzj_doc *d, uint32_t c, const char *file)
{
    uint32_t pn = KZJ_GET(d, c, "pattern"), mn = KZJ_GET(d, c, "match");
    uint32_t in = KZJ_GET(d, c, "ids"), en = KZJ_GET(d, c, "error");
    struct kz_buf pat;
    struct kzp_pattern *p = NULL;
    struct kzp_result res;
    struct kz_error err;
    const struct kzj_node *nd;

    assert_true(pn != 0);
    nd = kzj_at(d, pn);
    kz_buf_init(&pat, 1 << 20);
    assert_int_equal(kzj_unescape(d->buf + nd->off + 1, nd->len - 2, &pat), 0);
    kz_error_clear(&err);
    if (kzp_parse(pat.data, pat.len, &p, &err) != 0)
        fail_msg("%s: pattern does not parse: %s\n  %s", file, pat.data, err.text);
    if (kzp_match(p, o, &res, &err) != 0) {
        char want[512];

        if (!en)
            fail_msg("%s: %s\n  evaluation failed: %s", file, pat.data, err.text);
        assert_int_equal(kzj_strcpy(d, en, want, sizeof(want)), 0);
        if (!strstr(err.text, want))
            fail_msg("%s: %s\n  wanted error %s, got %s", file, pat.data, want, err.text);
        goto done;
    }
    if (en)
        fail_msg("%s: %s\n  expected an error", file, pat.data);
    if (res.matched != (kzj_type(d, mn) == KZJ_TRUE))
        fail_msg("%s: %s\n  expected %s", file, pat.data, res.matched ? "no match" : "a match");
    if (in) {
        size_t i = 0;

        assert_int_equal(kzj_count(d, in), res.n);
        KZJ_FOREACH_ELEM(d, in, e)
        {
            char id[300];

            assert_int_equal(kzj_strcpy(d, e, id, sizeof(id)), 0);
            if (strcmp(id, kzp_obs_id(o, res.obs[i])) != 0)
                fail_msg("%s: %s\n  observation %zu is %s, expected %s", file, pat.data, i,
                         kzp_obs_id(o, res.obs[i]), id);
            i++;
        }
    }
    kzp_result_free(&res);
done:
    kzp_free(p);
    kz_buf_free(&pat);
    return 1;
}

static void test_data_files(void **state)
{
    const char *base = getenv("KZ_TEST_DATA");
    char dir[1024];
    DIR *dh;
    struct dirent *de;
    int files = 0, cases = 0;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/pattern/eval", base ? base : "tests/data");
    dh = opendir(dir);
    assert_non_null(dh);
    while ((de = readdir(dh)) != NULL) {
        char path[2048];
        size_t len;
        char *buf;
        struct kzj_doc d;
        struct kz_error err;
        struct kzp_obs *o;
        uint32_t obs, cs;
        const struct kzj_node *on;

        if (!strstr(de->d_name, ".json"))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        buf = slurp(path, &len);
        kzj_doc_init(&d);
        kz_error_clear(&err);
        if (kzj_parse(&d, buf, len, &err) != 0)
            fail_msg("%s: %s", path, err.text);
        obs = KZJ_GET(&d, 0, "observations");
        cs = KZJ_GET(&d, 0, "cases");
        assert_true(obs && cs);
        on = kzj_at(&d, obs);
        o = kzp_obs_new();
        assert_non_null(o);
        if (kzp_obs_add(o, buf + on->off, on->len, &err) != 0)
            fail_msg("%s: observations: %s", path, err.text);
        KZJ_FOREACH_ELEM(&d, cs, c)
        {
            cases += run_case(o, &d, c, de->d_name);
        }
        kzp_obs_free(o);
        kzj_doc_free(&d);
        free(buf);
        files++;
    }
    closedir(dh);
    assert_true(files >= 3);
    assert_true(cases >= 150);
}

/* n observed-data objects each holding one person named name. */
static struct kzp_obs *people(int n, const char *name, unsigned number)
{
    struct kz_buf b;
    struct kz_error err;
    struct kzp_obs *o = kzp_obs_new();

    kz_buf_init(&b, 1 << 26);
    kz_buf_addc(&b, '[');
    for (int i = 0; i < n; i++)
        kz_buf_printf(&b,
                      "%s{\"type\":\"observed-data\",\"id\":\"observed-data--%d\","
                      "\"first_observed\":\"2024-01-01T00:00:%02dZ\","
                      "\"last_observed\":\"2024-01-01T00:00:%02dZ\",\"number_observed\":%u,"
                      "\"objects\":{\"0\":{\"type\":\"person\",\"name\":\"%s\"}}}",
                      i ? "," : "", i, i % 60, i % 60, number, name);
    kz_buf_addc(&b, ']');
    kz_error_clear(&err);
    assert_int_equal(kzp_obs_add(o, b.data, b.len, &err), 0);
    kz_buf_free(&b);
    return o;
}

static int eval(const char *pattern, struct kzp_obs *o, struct kzp_result *res,
                struct kz_error *err)
{
    struct kzp_pattern *p = NULL;
    int rc;

    kz_error_clear(err);
    assert_int_equal(kzp_parse(pattern, strlen(pattern), &p, err), 0);
    rc = kzp_match(p, o, res, err);
    kzp_free(p);
    return rc;
}

static void test_binding_bound(void **state)
{
    struct kzp_obs *o = people(200, "x", 1);
    struct kzp_result res;
    struct kz_error err;

    (void)state;
    /* top level: the first binding is enough, found at once */
    assert_int_equal(eval("[person:name = 'x'] AND [person:name = 'x'] AND [person:name = 'x']", o,
                          &res, &err),
                     0);
    assert_true(res.matched);
    assert_int_equal(res.n, 3);
    kzp_result_free(&res);
    /* REPEATS at the top stops at the first combination */
    assert_int_equal(eval("[person:name = 'x'] REPEATS 50 TIMES", o, &res, &err), 0);
    assert_true(res.matched);
    assert_int_equal(res.n, 50);
    kzp_result_free(&res);
    /* under a qualifier every binding is needed: 200^4 exceeds the bound */
    assert_int_equal(eval("([person:name = 'x'] AND [person:name = 'x'] AND [person:name = 'x'] "
                          "AND [person:name = 'x']) WITHIN 1 SECONDS",
                          o, &res, &err),
                     -1);
    assert_int_equal(err.code, KZ_ELIMIT);
    assert_non_null(strstr(err.text, "KZP_MAX_BINDING"));
    assert_int_equal(eval("([person:name = 'x'] REPEATS 30 TIMES) WITHIN 1 SECONDS", o, &res, &err),
                     -1);
    assert_int_equal(err.code, KZ_ELIMIT);
    kzp_obs_free(o);
}

static void test_number_observed(void **state)
{
    struct kzp_obs *o = people(1, "x", 999999999);
    struct kzp_result res;
    struct kz_error err;

    (void)state;
    assert_int_equal(
            eval("([person:name = 'x'] REPEATS 1000 TIMES) WITHIN 1 SECONDS", o, &res, &err), 0);
    assert_true(res.matched);
    assert_int_equal(res.n, 1);
    assert_int_equal(res.uses[0], 1000);
    kzp_result_free(&res);
    kzp_obs_free(o);
}

static void test_bad_observed_data(void **state)
{
    static const struct {
        const char *json, *want;
    } cases[] = {
            {"{\"type\":\"observed-data\",\"id\":\"observed-data--1\","
             "\"last_observed\":\"2024-01-01T00:00:00Z\",\"number_observed\":1}",
             "needs first_observed"},
            {"{\"type\":\"observed-data\",\"id\":\"observed-data--1\",\"first_observed\":\"x\","
             "\"last_observed\":\"2024-01-01T00:00:00Z\",\"number_observed\":1}",
             "not a valid timestamp"},
            {"{\"type\":\"observed-data\",\"first_observed\":\"2024-01-02T00:00:00Z\","
             "\"last_observed\":\"2024-01-01T00:00:00Z\",\"number_observed\":1}",
             "earlier than first_observed"},
            {"{\"type\":\"observed-data\",\"first_observed\":\"2024-01-01T00:00:00Z\","
             "\"last_observed\":\"2024-01-01T00:00:00Z\",\"number_observed\":0}",
             "number_observed must be"},
            {"{\"type\":\"bundle\",\"objects\":{}}", "not a list"},
            {"[1, 2", "line 1"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kzp_obs *o = kzp_obs_new();
        struct kz_error err;

        kz_error_clear(&err);
        assert_int_equal(kzp_obs_add(o, cases[i].json, strlen(cases[i].json), &err), -1);
        if (!strstr(err.text, cases[i].want))
            fail_msg("wanted %s, got %s", cases[i].want, err.text);
        assert_int_equal(kzp_obs_count(o), 0);
        kzp_obs_free(o);
    }
}

static void test_many_documents(void **state)
{
    static const char a[] = "{\"type\":\"observed-data\",\"id\":\"observed-data--1\","
                            "\"first_observed\":\"2024-01-01T00:00:00Z\",\"last_observed\":"
                            "\"2024-01-01T00:00:00Z\",\"number_observed\":1,"
                            "\"object_refs\":[\"domain-name--1\"]}";
    static const char b[] =
            "{\"type\":\"domain-name\",\"id\":\"domain-name--1\",\"value\":\"x.jp\"}";
    struct kzp_obs *o = kzp_obs_new();
    struct kzp_result res;
    struct kz_error err;

    (void)state;
    kz_error_clear(&err);
    assert_int_equal(kzp_obs_add(o, a, strlen(a), &err), 0);
    assert_int_equal(eval("[domain-name:value = 'x.jp']", o, &res, &err), 0);
    assert_false(res.matched);
    kzp_result_free(&res);
    /* the SCO arrives in a later document: the index is rebuilt */
    assert_int_equal(kzp_obs_add(o, b, strlen(b), &err), 0);
    assert_int_equal(eval("[domain-name:value = 'x.jp']", o, &res, &err), 0);
    assert_true(res.matched);
    assert_string_equal(kzp_obs_id(o, res.obs[0]), "observed-data--1");
    assert_string_equal(kzp_obs_id(o, 99), "");
    kzp_result_free(&res);
    assert_int_equal(kzp_obs_count(o), 1);
    kzp_obs_free(o);
    kzp_obs_free(NULL);
}

static void test_regex_limit(void **state)
{
    struct kz_buf b;
    struct kz_error err;
    struct kzp_obs *o = kzp_obs_new();
    struct kzp_result res;

    (void)state;
    kz_buf_init(&b, 1 << 20);
    kz_buf_addstr(&b, "{\"type\":\"observed-data\",\"first_observed\":\"2024-01-01T00:00:00Z\","
                      "\"last_observed\":\"2024-01-01T00:00:00Z\",\"number_observed\":1,"
                      "\"objects\":{\"0\":{\"type\":\"file\",\"name\":\"");
    for (int i = 0; i < 5000; i++)
        kz_buf_addc(&b, 'a');
    kz_buf_addstr(&b, "!\"}}}");
    kz_error_clear(&err);
    assert_int_equal(kzp_obs_add(o, b.data, b.len, &err), 0);
    /* catastrophic backtracking ends in an error result, not a hang */
    assert_int_equal(eval("[file:name MATCHES '^(a|aa)+$']", o, &res, &err), -1);
    assert_int_equal(err.code, KZ_ELIMIT);
    kz_buf_free(&b);
    kzp_obs_free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_data_files),      cmocka_unit_test(test_binding_bound),
            cmocka_unit_test(test_number_observed), cmocka_unit_test(test_bad_observed_data),
            cmocka_unit_test(test_many_documents),  cmocka_unit_test(test_regex_limit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
