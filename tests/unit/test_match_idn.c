/*
 * Internationalised domain names in matching (src/match/idn.c over
 * libidn2), as data: $KZ_TEST_DATA/idn/alabels.tsv holds Japanese,
 * fullwidth, Turkish, German and Greek names with their A-label forms
 * (from Python's idna package, not from libidn2) and names that must be
 * refused; each goes through match_domain_alabel and
 * match_domain_normalise. $KZ_TEST_DATA/idn/match/ is a scan fixture in the
 * layout of tests/data/match/ (indicators.tsv, formats.tsv, logs/,
 * expected.tsv, expected_sub.tsv): indicators written as U-labels,
 * fullwidth or A-labels against a Zeek DNS log of A-labels (and one
 * \xNN-escaped UTF-8 query) and a text log of U-labels, so each form
 * matches the other, URLs and e-mail addresses included, and public
 * suffixes in either form never match as parents.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "match/logread.h"
#include "match/match.h"
#include "util/buf.h"

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct kz_buf b;
    char chunk[4096];
    size_t n;

    if (!f)
        return NULL;
    kz_buf_init(&b, 1 << 24);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(kz_buf_add(&b, chunk, n), 0);
    assert_int_equal(kz_buf_add(&b, "", 1), 0);
    fclose(f);
    return b.data;
}

static int data_path(char *buf, size_t cap, const char *rel)
{
    const char *d = getenv("KZ_TEST_DATA");

    if (!d)
        return 0;
    return snprintf(buf, cap, "%s/idn/%s", d, rel) < (int)cap;
}

/* "\xNN" escapes of the data file to bytes, in place; returns the length. */
static size_t unescape(char *s)
{
    size_t o = 0;

    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '\\' && s[i + 1] == 'x' && s[i + 2] && s[i + 3]) {
            char hex[3] = {s[i + 2], s[i + 3], 0};
            s[o++] = (char)strtoul(hex, NULL, 16);
            i += 3;
        } else {
            s[o++] = s[i];
        }
    }
    s[o] = '\0';
    return o;
}

static void test_alabels(void **state)
{
    char path[4096], *text, *line, *save;
    unsigned cases = 0, refused = 0;

    (void)state;
    if (!data_path(path, sizeof(path), "alabels.tsv"))
        skip();
    text = read_all(path);
    assert_non_null(text);
    for (line = text; line && *line; line = save) {
        char *nl = strchr(line, '\n'), *tab, out[300];
        size_t in_n, n;
        struct kz_error e = {0};
        int rc;
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        tab = strchr(line, '\t');
        if (!tab)
            fail_msg("no tab in '%s'", line);
        *tab = '\0';
        in_n = unescape(line);
        rc = match_domain_alabel(line, in_n, out, sizeof(out), &n, &e);
        if (strcmp(tab + 1, "-") == 0) {
            if (rc == 0)
                fail_msg("'%s' should be refused, got '%s'", line, out);
            assert_int_equal(e.code, KZ_EINVALID);
            /* the error names the value (up to a NUL byte in it) */
            if (!strstr(e.text, "domain '"))
                fail_msg("'%s': error does not name the value: %s", line, e.text);
            assert_int_equal(match_domain_normalise(line, in_n, out, sizeof(out), &n, &e), -1);
            refused++;
        } else {
            if (rc != 0)
                fail_msg("'%s': %s", line, e.text);
            if (strcmp(out, tab + 1) != 0 || n != strlen(out))
                fail_msg("'%s': got '%s', want '%s'", line, out, tab + 1);
            /* the normaliser gives the same, and is idempotent on it */
            if (match_domain_normalise(line, in_n, out, sizeof(out), &n, &e) != 0)
                fail_msg("normalise '%s': %s", line, e.text);
            assert_string_equal(out, tab + 1);
            assert_int_equal(
                    match_domain_normalise(tab + 1, strlen(tab + 1), out, sizeof(out), &n, &e), 0);
            assert_string_equal(out, tab + 1);
        }
        cases++;
    }
    free(text);
    assert_true(cases >= 30 && refused >= 5);
}

/* Bad input never crashes or overruns: every byte value in a label, long
 * and truncated sequences, a name at the size caps. */
static void test_alabel_bad_input(void **state)
{
    char in[MATCH_MAX_IDN_BYTES + 16], out[300];
    size_t n;
    struct kz_error e = {0};

    (void)state;
    for (int b = 0; b < 256; b++) {
        in[0] = 'x';
        in[1] = (char)b;
        in[2] = '\xc3';
        in[3] = '\xbc';
        memcpy(in + 4, ".de", 3);
        (void)match_domain_alabel(in, 7, out, sizeof(out), &n, &e);
        (void)match_domain_alabel(in, 3, out, sizeof(out), &n, &e); /* cut inside the ü */
    }
    for (size_t i = 0; i + 3 <= sizeof(in); i += 3)
        memcpy(in + i, "\xef\xbd\x81", 3); /* fullwidth a */
    assert_int_equal(match_domain_alabel(in, MATCH_MAX_IDN_BYTES + 3, out, sizeof(out), &n, &e),
                     -1);
    assert_int_equal(match_domain_alabel(in, 63 * 3, out, sizeof(out), &n, &e), 0); /* 63 a */
    assert_int_equal(n, 63);
    assert_int_equal(match_domain_alabel(in, 64 * 3, out, sizeof(out), &n, &e), -1);
    assert_int_equal(match_domain_alabel(in, 63 * 3, out, 63, &n, &e), -1); /* no room for NUL */
    assert_int_equal(match_domain_alabel("", 0, out, sizeof(out), &n, &e), -1);
}

/* --- the scan fixture ------------------------------------------------------ */

struct rows {
    char **v;
    size_t n;
};

static void rows_add(struct rows *r, const char *s)
{
    r->v = realloc(r->v, (r->n + 1) * sizeof(char *));
    assert_non_null(r->v);
    r->v[r->n] = strdup(s);
    assert_non_null(r->v[r->n]);
    r->n++;
}

static void rows_free(struct rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i]);
    free(r->v);
}

static int cmp_rows(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct collect {
    struct rows *rows;
    const char *name;
};

static int collect_hit(void *ctx, const struct match_hit *h, struct kz_error *err)
{
    struct collect *c = ctx;
    struct kz_buf b;

    (void)err;
    kz_buf_init(&b, 1 << 16);
    kz_buf_printf(&b, "%s\t%llu\t%s\t%s\t%.*s\t", c->name, (unsigned long long)h->line, h->field,
                  match_kind_name(h->kind), (int)h->norm_len, h->norm);
    for (size_t i = 0; i < h->nrefs; i++)
        kz_buf_printf(&b, "%s%u", i ? "," : "", h->refs[i]);
    rows_add(c->rows, b.data);
    kz_buf_free(&b);
    return 0;
}

static struct match_index *load_index(const char *dir, const struct match_psl *psl)
{
    char path[4096], *text, *line, *save;
    struct kz_error e = {0};
    struct match_index *idx = match_index_new(&e);

    assert_non_null(idx);
    assert_true(snprintf(path, sizeof(path), "%s/indicators.tsv", dir) < (int)sizeof(path));
    text = read_all(path);
    assert_non_null(text);
    for (line = text; line && *line; line = save) {
        char *nl = strchr(line, '\n'), *t1, *t2;
        enum match_kind k;
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        t1 = strchr(line, '\t');
        assert_non_null(t1);
        t2 = strchr(t1 + 1, '\t');
        assert_non_null(t2);
        assert_int_equal(match_kind_parse(line, (size_t)(t1 - line), &k), 0);
        if (match_index_add(idx, k, t1 + 1, (size_t)(t2 - t1 - 1),
                            (uint32_t)strtoul(t2 + 1, NULL, 10), &e) < 0)
            fail_msg("indicator '%s': %s", line, e.text);
    }
    free(text);
    match_index_set_psl(idx, psl);
    assert_int_equal(match_index_finish(idx, &e), 0);
    return idx;
}

static int compare(struct rows *got, struct rows *want, const char *label)
{
    size_t i = 0, j = 0;
    int bad = 0;

    qsort(got->v, got->n, sizeof(char *), cmp_rows);
    qsort(want->v, want->n, sizeof(char *), cmp_rows);
    while (i < got->n || j < want->n) {
        int c = i >= got->n ? 1 : j >= want->n ? -1 : strcmp(got->v[i], want->v[j]);
        if (c == 0) {
            i++;
            j++;
        } else if (c < 0) {
            print_message("%s: unexpected hit: %s\n", label, got->v[i++]);
            bad++;
        } else {
            print_message("%s: missed hit:     %s\n", label, want->v[j++]);
            bad++;
        }
    }
    return bad;
}

static void expected_for(const char *dir, const char *tsv, const char *file, struct rows *out)
{
    char path[4096], *text, *line, *save;
    size_t fl = strlen(file);

    assert_true(snprintf(path, sizeof(path), "%s/%s", dir, tsv) < (int)sizeof(path));
    text = read_all(path);
    assert_non_null(text);
    for (line = text; line && *line; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        if (strncmp(line, file, fl) == 0 && line[fl] == '\t')
            rows_add(out, line);
    }
    free(text);
}

static void test_scan_fixture(void **state)
{
    char dir[4096], path[4096], *formats, *line, *save;
    struct kz_error e = {0};
    struct match_psl *psl = match_psl_default(&e);
    struct match_index *idx;
    int bad = 0, files = 0;

    (void)state;
    if (!data_path(dir, sizeof(dir), "match"))
        skip();
    assert_non_null(psl);
    idx = load_index(dir, psl);
    match_psl_free(psl); /* only needed until finish */
    assert_true(snprintf(path, sizeof(path), "%s/formats.tsv", dir) < (int)sizeof(path));
    formats = read_all(path);
    assert_non_null(formats);
    for (line = formats; line && *line; line = save) {
        char *nl = strchr(line, '\n'), *tab = strchr(line, '\t');
        enum logread_format fmt;
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        assert_non_null(tab);
        *tab = '\0';
        assert_int_equal(logread_format_parse(tab + 1, &fmt), 0);
        assert_true(snprintf(path, sizeof(path), "%s/logs/%s", dir, line) < (int)sizeof(path));
        for (int sub = 0; sub < 2; sub++) {
            for (unsigned threads = 1; threads <= 2; threads++) {
                struct rows g = {0}, w = {0};
                struct collect c = {&g, line};
                struct match_scan_opts o = {0};
                struct logread *r = logread_open(path, fmt, &e);
                char label[512];
                if (!r)
                    fail_msg("open %s: %s", path, e.text);
                o.subdomains = sub;
                o.threads = threads;
                if (match_scan(idx, r, &o, collect_hit, &c, NULL, &e) < 0)
                    fail_msg("scan %s: %s", path, e.text);
                logread_close(r);
                expected_for(dir, sub ? "expected_sub.tsv" : "expected.tsv", line, &w);
                assert_true(snprintf(label, sizeof(label), "%s%s, %u thread(s)", line,
                                     sub ? " (--subdomains)" : "", threads) < (int)sizeof(label));
                bad += compare(&g, &w, label);
                rows_free(&g);
                rows_free(&w);
            }
        }
        files++;
    }
    free(formats);
    match_index_free(idx);
    assert_int_equal(files, 2);
    assert_int_equal(bad, 0);
}

/* Either form on either side, through match_index_lookup. */
static void test_lookup_both_ways(void **state)
{
    static const struct {
        const char *indicator, *looked_up;
    } cases[] = {
            {"İstanbul.tr", "xn--istanbul-o0e.tr"}, {"xn--istanbul-o0e.tr", "İSTANBUL.tr"},
            {"ＥＸＡＭＰＬＥ.jp", "example.jp"},    {"example.jp", "ＥＸＡＭＰＬＥ.jp"},
            {"straße.de", "xn--strae-oqa.de"},      {"xn--strae-oqa.de", "STRAßE.de"},
            {"ελληνικά.gr", "xn--hxargifdar.gr"},   {"xn--hxargifdar.gr", "ΕΛΛΗΝΙΚΆ.gr"},
            {"日本語.jp", "xn--wgv71a119e.jp"},     {"xn--wgv71a119e.jp", "日本語.jp"},
    };
    struct kz_error e = {0};
    struct match_refs r;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct match_index *idx = match_index_new(&e);
        assert_int_equal(match_index_add(idx, MATCH_DOMAIN, cases[i].indicator,
                                         strlen(cases[i].indicator), 1, &e),
                         0);
        assert_int_equal(match_index_finish(idx, &e), 0);
        if (match_index_lookup(idx, MATCH_DOMAIN, cases[i].looked_up, strlen(cases[i].looked_up), 0,
                               &r, &e) != 1)
            fail_msg("indicator '%s' does not match '%s'", cases[i].indicator, cases[i].looked_up);
        /* transitional IDNA's "strasse.de" is another name */
        assert_int_equal(match_index_lookup(idx, MATCH_DOMAIN, "strasse.de", 10, 0, &r, &e), 0);
        match_index_free(idx);
    }
    /* URL hosts and e-mail domains too */
    {
        struct match_index *idx = match_index_new(&e);
        static const char u[] = "http://bücher.example/download?id=1", m[] = "info@ｔｏｋｙｏ.jp";
        static const char *const urls[] = {"http://xn--bcher-kva.example/download?id=1",
                                           "http://BÜCHER.example/download?id=1",
                                           "http://b%C3%BCcher.example/download?id=1"};
        assert_int_equal(match_index_add(idx, MATCH_URL, u, strlen(u), 1, &e), 0);
        assert_int_equal(match_index_add(idx, MATCH_EMAIL, m, strlen(m), 2, &e), 0);
        assert_int_equal(match_index_finish(idx, &e), 0);
        for (size_t i = 0; i < 3; i++)
            if (match_index_lookup(idx, MATCH_URL, urls[i], strlen(urls[i]), 0, &r, &e) != 1)
                fail_msg("'%s' does not match '%s'", urls[i], u);
        assert_int_equal(match_index_lookup(idx, MATCH_EMAIL, "info@TOKYO.jp", 13, 0, &r, &e), 1);
        match_index_free(idx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_alabels),
            cmocka_unit_test(test_alabel_bad_input),
            cmocka_unit_test(test_lookup_both_ways),
            cmocka_unit_test(test_scan_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
