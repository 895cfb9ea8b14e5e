/*
 * The STIX 2.1 validator (stix_validate), driven by data: every file in
 * tests/data/stix/valid/ must validate without errors; every file in
 * tests/data/stix/invalid/ must report each finding its NAME.expect lists,
 * one per line as "PROPERTY<TAB>substring of the rule" (an optional third
 * column "warning" expects a warning instead of an error). A file holds one
 * object or a bundle. The MITRE ATT&CK bundles in the shared data must
 * validate without errors. Table-driven tests cover the value syntax
 * checkers, and a timing test the speed budget of bulk imports.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stix/stix.h"
#include "stix/stix_int.h"
#include "util/buf.h"
#include "util/kztime.h"

/* --- collecting the findings of a file ------------------------------------- */

struct found {
    struct stix_finding *items;
    size_t n, cap;
    unsigned errors, objects;
};

static int collect(void *ctx, size_t index, const struct kzj_doc *doc, uint32_t node,
                   struct kz_error *err)
{
    struct found *fo = ctx;
    struct stix_obj o;
    struct stix_findings f;

    (void)index;
    if (stix_obj_read(doc, node, &o, err) < 0)
        return -1;
    stix_validate(&o, &f);
    fo->objects++;
    fo->errors += f.errors;
    for (unsigned i = 0; i < f.n; i++) {
        if (fo->n == fo->cap) {
            size_t ncap = fo->cap ? fo->cap * 2 : 64;
            struct stix_finding *p = realloc(fo->items, ncap * sizeof(*p));
            if (!p)
                return kz_error_set(err, KZ_ENOMEM, "out of memory");
            fo->items = p;
            fo->cap = ncap;
        }
        fo->items[fo->n++] = f.items[i];
    }
    return 0;
}

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

/* Validates every object of the file at path; -1 when it cannot be read. */
static int validate_file(const char *path, struct found *fo)
{
    struct stix_container info;
    struct kz_error err;
    size_t len;
    char *buf = slurp(path, &len);
    int rc;

    memset(fo, 0, sizeof(*fo));
    if (!buf) {
        fprintf(stderr, "%s: cannot read\n", path);
        return -1;
    }
    kz_error_clear(&err);
    rc = stix_read(buf, len, collect, fo, &info, &err);
    if (rc < 0)
        fprintf(stderr, "%s: %s\n", path, err.text);
    free(buf);
    return rc;
}

static void print_findings(const char *path, const struct found *fo, int errors_only)
{
    for (size_t i = 0; i < fo->n; i++)
        if (!errors_only || !fo->items[i].warning)
            fprintf(stderr, "  %s: %s: %s: %s\n", path, fo->items[i].warning ? "warning" : "error",
                    fo->items[i].property, fo->items[i].rule);
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);

    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Calls fn for each *.json file in dir, in name order; returns the count. */
static size_t each_json(const char *dir, int (*fn)(const char *path, const char *name))
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    size_t count = 0, failed = 0;

    if (n < 0)
        return 0;
    for (int i = 0; i < n; i++) {
        char path[2048];
        if (has_suffix(list[i]->d_name, ".json")) {
            snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
            count++;
            if (fn(path, list[i]->d_name) != 0)
                failed++;
        }
        free(list[i]);
    }
    free(list);
    if (failed)
        fail_msg("%zu of %zu files in %s failed", failed, count, dir);
    return count;
}

/* --- data-driven cases ------------------------------------------------------------ */

static int check_valid(const char *path, const char *name)
{
    struct found fo;
    int rc = 0;

    (void)name;
    if (validate_file(path, &fo) < 0 || fo.errors > 0 || fo.objects == 0) {
        fprintf(stderr, "%s: expected no errors, got %u\n", path, fo.errors);
        print_findings(path, &fo, 1);
        rc = -1;
    }
    free(fo.items);
    return rc;
}

static int check_invalid(const char *path, const char *name)
{
    struct found fo;
    char expect[2048];
    char *buf, *line, *next;
    size_t len;
    int rc = 0, want_error = 0;

    (void)name;
    snprintf(expect, sizeof(expect), "%.*s.expect", (int)(strlen(path) - 5), path);
    buf = slurp(expect, &len);
    if (!buf) {
        fprintf(stderr, "%s: missing %s\n", path, expect);
        return -1;
    }
    if (validate_file(path, &fo) < 0) {
        free(buf);
        return -1;
    }
    for (line = buf; line && *line; line = next) {
        char *prop = line, *sub, *kind;
        int warning, found = 0;

        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        sub = strchr(prop, '\t');
        if (!sub) {
            fprintf(stderr, "%s: malformed line \"%s\"\n", expect, line);
            rc = -1;
            continue;
        }
        *sub++ = '\0';
        kind = strchr(sub, '\t');
        if (kind)
            *kind++ = '\0';
        warning = kind && strcmp(kind, "warning") == 0;
        want_error |= !warning;
        for (size_t i = 0; i < fo.n && !found; i++)
            found = fo.items[i].warning == warning && strcmp(fo.items[i].property, prop) == 0 &&
                    strstr(fo.items[i].rule, sub) != NULL;
        if (!found) {
            fprintf(stderr, "%s: expected %s on \"%s\" containing \"%s\"\n", path,
                    warning ? "a warning" : "an error", prop, sub);
            rc = -1;
        }
    }
    if (want_error && fo.errors == 0)
        rc = -1;
    if (rc < 0)
        print_findings(path, &fo, 0);
    free(fo.items);
    free(buf);
    return rc;
}

static void test_valid_cases(void **state)
{
    const char *data = getenv("KZ_TEST_DATA");
    char dir[1024];

    (void)state;
    if (!data)
        skip();
    snprintf(dir, sizeof(dir), "%s/stix/valid", data);
    assert_true(each_json(dir, check_valid) > 0);
}

static void test_invalid_cases(void **state)
{
    const char *data = getenv("KZ_TEST_DATA");
    char dir[1024];

    (void)state;
    if (!data)
        skip();
    snprintf(dir, sizeof(dir), "%s/stix/invalid", data);
    assert_true(each_json(dir, check_invalid) > 0);
}

/* MITRE ATT&CK, the most widely shared STIX 2.1 content, must be clean. */
static void test_attack_bundles(void **state)
{
    const char *data = getenv("KZ_SHARED_DATA");
    char dir[1024];
    DIR *d;

    (void)state;
    if (!data)
        skip();
    snprintf(dir, sizeof(dir), "%s/attack", data);
    d = opendir(dir);
    if (!d)
        skip();
    closedir(d);
    each_json(dir, check_valid);
}

/* --- single objects ------------------------------------------------------------------ */

/* Validates the object in json; returns the error count and fills f. */
static unsigned validate_text(const char *json, struct stix_findings *f)
{
    struct kzj_doc d;
    struct kz_error err;
    struct stix_obj o;
    unsigned errors;

    kzj_doc_init(&d);
    assert_int_equal(kzj_parse(&d, json, strlen(json), &err), 0);
    assert_int_equal(stix_obj_read(&d, 0, &o, &err), 0);
    errors = stix_validate(&o, f);
    kzj_doc_free(&d);
    return errors;
}

/* Whether f holds a finding on property whose rule contains sub. */
static int has_finding(const struct stix_findings *f, const char *property, const char *sub)
{
    for (unsigned i = 0; i < f->n; i++)
        if (strcmp(f->items[i].property, property) == 0 && strstr(f->items[i].rule, sub))
            return 1;
    return 0;
}

/* Objects a file cannot carry alone (stix_read takes them for containers). */
static void test_type_missing_or_bundle(void **state)
{
    struct stix_findings f;

    (void)state;
    assert_true(validate_text("{}", &f) >= 2);
    assert_true(has_finding(&f, "type", "required property is missing"));
    assert_true(has_finding(&f, "id", "required property is missing"));
    assert_true(validate_text("{\"type\":\"bundle\",\"id\":\"bundle--5d0092c5-5f74-4287-9642-"
                              "33f4c354e56d\",\"objects\":[]}",
                              &f) >= 1);
    assert_true(has_finding(&f, "type", "not a STIX object"));
}

/* Property names written with escapes are the same names. */
static void test_escaped_names(void **state)
{
    struct stix_findings f;

    (void)state;
    assert_int_equal(
            validate_text("{\"typ\\u0065\":\"mutex\",\"i\\u0064\":\"mutex--f93fe911-"
                          "e545-5239-b9b0-597840d0c871\",\"n\\u0061me\":\"__CLEANSWEEP__\"}",
                          &f),
            0);
    assert_int_equal(f.warnings, 0);
}

/* One object's common properties, read from json. */
static void read_common(const char *json, struct kzj_doc *d, struct stix_obj *o)
{
    struct kz_error err;

    kzj_doc_init(d);
    assert_int_equal(kzj_parse(d, json, strlen(json), &err), 0);
    assert_int_equal(stix_obj_read(d, 0, o, &err), 0);
}

static int collect_ref(void *ctx, const char *id, size_t n)
{
    struct kz_buf *b = ctx;

    kz_buf_printf(b, "%.*s;", (int)n, id);
    return 0;
}

/* Keys and values written with JSON escapes say what their plain spelling
 * says, to every reader: a TLP:RED marking spelled with escapes is TLP:RED
 * (issue 11: it was read as unmarked, i.e. the node's default, AMBER). */
static void test_escaped_common_properties(void **state)
{
    static const char *const plain =
            "{\"type\":\"relationship\",\"id\":\"relationship--4b1f6a9e-3f0d-4c2b-9d8e-"
            "1a2b3c4d5e6f\",\"created_by_ref\":\"identity--0f6b7c1a-3d2e-4b8f-9a6c-5e4d3c2b1a09\","
            "\"created\":\"2026-01-01T00:00:00Z\",\"modified\":\"2026-01-02T00:00:00Z\","
            "\"revoked\":true,\"object_marking_refs\":[\"marking-definition--e828b379-4e03-4974-"
            "9ac4-e53a884c97c1\"],\"target_ref\":\"ipv4-addr--ff26c055-6336-5bc5-b98d-"
            "13d6226742dd\"}";
    static const char *const escaped =
            "{\"typ\\u0065\":\"relationship\",\"\\u0069d\":\"relationship\\u002d\\u002d4b1f6a9e-"
            "3f0d-4c2b-9d8e-1a2b3c4d5e6f\",\"created\\u005fby_ref\":\"identity\\u002d\\u002d"
            "0f6b7c1a-3d2e-4b8f-9a6c-5e4d3c2b1a09\",\"cr\\u0065ated\":\"2026-01-01T00:00:00Z\","
            "\"modified\":\"2026\\u002d01-02T00:00:00Z\",\"r\\u0065voked\":true,"
            "\"object\\u005fmarking_refs\":[\"marking\\u002ddefinition\\u002d\\u002de828b379-"
            "4e03-4974-9ac4-e53a884c97c1\"],\"target\\u005fref\":\"ipv4-addr\\u002d\\u002d"
            "ff26c055-6336-5bc5-b98d-13d6226742dd\"}";
    static const char *const granular =
            "{\"type\":\"indicator\",\"granular\\u005fmarkings\":[{\"marking\\u005fref\":"
            "\"marking-definition\\u002d\\u002d939a9414-2ddd-4d32-a0cd-375ea402b003\","
            "\"selectors\":[\"name\"]}]}";
    struct kzj_doc dp, de, dg;
    struct stix_obj p, e, g;
    struct kz_buf rp, re;

    (void)state;
    read_common(plain, &dp, &p);
    read_common(escaped, &de, &e);
    assert_string_equal(e.type, "relationship");
    assert_string_equal(e.id, p.id);
    assert_string_equal(e.created_by_ref, p.created_by_ref);
    assert_string_equal(e.version, "2026-01-02T00:00:00Z");
    assert_true(e.version_us == p.version_us && e.created_us == p.created_us);
    assert_true(e.revoked);
    assert_int_equal(p.tlp, STIX_TLP_RED);
    assert_int_equal(e.tlp, STIX_TLP_RED);
    kz_buf_init(&rp, 1024);
    kz_buf_init(&re, 1024);
    assert_int_equal(stix_gating_refs(&p, collect_ref, &rp), 1);
    assert_int_equal(stix_gating_refs(&e, collect_ref, &re), 1);
    assert_true(rp.len > 0 && rp.len == re.len && memcmp(rp.data, re.data, rp.len) == 0);
    read_common(granular, &dg, &g);
    assert_int_equal(g.tlp, STIX_TLP_AMBER_STRICT);
    kz_buf_free(&rp);
    kz_buf_free(&re);
    kzj_doc_free(&dp);
    kzj_doc_free(&de);
    kzj_doc_free(&dg);
}

/* Oversized names and deep paths are reported, truncated, never overflowed. */
static void test_long_names(void **state)
{
    struct kz_buf b;
    struct stix_findings f;

    (void)state;
    kz_buf_init(&b, 1 << 20);
    kz_buf_addstr(&b, "{\"type\":\"mutex\",\"id\":\"mutex--f93fe911-e545-5239-b9b0-597840d0c871\","
                      "\"name\":\"__CLEANSWEEP__\",\"x_");
    for (int i = 0; i < 600; i++)
        kz_buf_addc(&b, 'a');
    kz_buf_addstr(&b,
                  "\":1,\"x_deep\":1,\"granular_markings\":[{\"lang\":\"en\",\"selectors\":[\"");
    for (int i = 0; i < 40; i++)
        kz_buf_addstr(&b, i ? ".x_deep_component" : "x_deep");
    kz_buf_addstr(&b, "\"]}]}");
    assert_true(validate_text(b.data, &f) >= 2);
    for (unsigned i = 0; i < f.n; i++)
        assert_true(strlen(f.items[i].property) < sizeof(f.items[i].property));
    assert_true(has_finding(&f, "granular_markings[0].selectors[0]", "content present"));
    kz_buf_free(&b);
}

/* More errors than the findings array holds are all counted. */
static void test_findings_cap(void **state)
{
    struct kz_buf b;
    struct stix_findings f;

    (void)state;
    kz_buf_init(&b, 1 << 20);
    kz_buf_addstr(&b, "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--"
                      "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\",\"created\":\"2016-04-06T20:03:48."
                      "000Z\",\"modified\":\"2016-04-06T20:03:48.000Z\",\"pattern\":\"[ipv4-addr:"
                      "value = '1.2.3.4']\",\"pattern_type\":\"stix\",\"valid_from\":\"2016-01-01"
                      "T00:00:00Z\",\"labels\":[");
    for (int i = 0; i < 100; i++)
        kz_buf_printf(&b, "%s%d", i ? "," : "", i);
    kz_buf_addstr(&b, "]}");
    assert_int_equal(validate_text(b.data, &f), 100);
    assert_int_equal(f.n, KZ_MAX_FINDINGS_PER_OBJECT);
    assert_string_equal(f.items[0].property, "labels[0]");
    kz_buf_free(&b);
}

/* --- value syntax, table-driven ---------------------------------------------------------- */

struct syn_case {
    int (*fn)(const char *, size_t);
    const char *s;
    int ok;
};

static void test_value_syntax(void **state)
{
    static const struct syn_case cases[] = {
            {vsyn_type_name, "indicator", 1},
            {vsyn_type_name, "x-acme-widget", 1},
            {vsyn_type_name, "ab", 0},
            {vsyn_type_name, "x--double", 0},
            {vsyn_type_name, "X-upper", 0},
            {vsyn_type_name, "1abc", 0},
            {vsyn_type_name, "x_underscore", 0},
            {vsyn_property_name, "x_acme_score", 1},
            {vsyn_property_name, "ab", 0},
            {vsyn_property_name, "X_upper", 0},
            {vsyn_property_name, "_leading", 0},
            {vsyn_property_name, "x-hyphen", 0},
            {vsyn_dict_key, "Reply-To", 1},
            {vsyn_dict_key, "a", 1},
            {vsyn_dict_key, "", 0},
            {vsyn_dict_key, "has space", 0},
            {vsyn_dict_key, "dot.ted", 0},
            {vsyn_hash_key, "SHA-256", 1},
            {vsyn_hash_key, "x_foo_hash", 1},
            {vsyn_hash_key, "md", 0},
            {vsyn_lang, "en", 1},
            {vsyn_lang, "ja-JP", 1},
            {vsyn_lang, "zh-Hant-TW", 1},
            {vsyn_lang, "sr-Latn-RS", 1},
            {vsyn_lang, "de-CH-1901", 1},
            {vsyn_lang, "es-419", 1},
            {vsyn_lang, "en-US-u-islamcal", 1},
            {vsyn_lang, "x-private", 1},
            {vsyn_lang, "i-klingon", 1},
            {vsyn_lang, "zh-min-nan", 1},
            {vsyn_lang, "", 0},
            {vsyn_lang, "e", 0},
            {vsyn_lang, "english language", 0},
            {vsyn_lang, "en_US", 0},
            {vsyn_lang, "en-", 0},
            {vsyn_lang, "en-a", 0},
            {vsyn_lang, "toolongtag", 0},
            {vsyn_lang, "1en", 0},
            {vsyn_hex, "00ff", 1},
            {vsyn_hex, "", 1},
            {vsyn_hex, "0", 0},
            {vsyn_hex, "00FF", 0},
            {vsyn_hex, "0g", 0},
            {vsyn_base64, "ABI=", 1},
            {vsyn_base64, "iVBORw0KGgo=", 1},
            {vsyn_base64, "", 1},
            {vsyn_base64, "ABI", 0},
            {vsyn_base64, "AB I", 0},
            {vsyn_base64, "A===", 0},
            {vsyn_ipv4, "198.51.100.3", 1},
            {vsyn_ipv4, "198.51.100.0/24", 1},
            {vsyn_ipv4, "0.0.0.0/0", 1},
            {vsyn_ipv4, "255.255.255.255/32", 1},
            {vsyn_ipv4, "256.1.1.1", 0},
            {vsyn_ipv4, "1.2.3", 0},
            {vsyn_ipv4, "1.2.3.4.5", 0},
            {vsyn_ipv4, "01.2.3.4", 0},
            {vsyn_ipv4, "1.2.3.4/33", 0},
            {vsyn_ipv4, "1.2.3.4/", 0},
            {vsyn_ipv4, "example.com", 0},
            {vsyn_ipv6, "2001:0db8:85a3:0000:0000:8a2e:0370:7334", 1},
            {vsyn_ipv6, "2001:0db8::/96", 1},
            {vsyn_ipv6, "::1", 1},
            {vsyn_ipv6, "::", 1},
            {vsyn_ipv6, "fe80::", 1},
            {vsyn_ipv6, "::ffff:198.51.100.3", 1},
            {vsyn_ipv6, "2001:db8::/129", 0},
            {vsyn_ipv6, "2001:db8:::1", 0},
            {vsyn_ipv6, "1::2::3", 0},
            {vsyn_ipv6, "1:2:3:4:5:6:7:8:9", 0},
            {vsyn_ipv6, "1:2:3:4:5:6:7", 0},
            {vsyn_ipv6, "12345::", 0},
            {vsyn_ipv6, "198.51.100.3", 0},
            {vsyn_mac, "00:00:ab:cd:ef:01", 1},
            {vsyn_mac, "00:00:AB:CD:EF:01", 0},
            {vsyn_mac, "0:0:ab:cd:ef:1", 0},
            {vsyn_mac, "00-00-ab-cd-ef-01", 0},
            {vsyn_url, "https://example.com/research/index.html", 1},
            {vsyn_url, "mailto:x@example.com", 1},
            {vsyn_url, "example.com/path", 0},
            {vsyn_url, "http://exa mple.com", 0},
            {vsyn_url, "://x", 0},
            {vsyn_domain, "example.com", 1},
            {vsyn_domain, "example.com.", 1},
            {vsyn_domain, "_dmarc.example.com", 1},
            {vsyn_domain, "xn--r8jz45g.jp", 1},
            {vsyn_domain, "\xe4\xbe\x8b\xe3\x81\x88.jp", 1},
            {vsyn_domain, "-bad.example.com", 0},
            {vsyn_domain, "a..b", 0},
            {vsyn_domain, "exa mple.com", 0},
            {vsyn_domain, "http://example.com", 0},
            {vsyn_email, "jane.smith@example.com", 1},
            {vsyn_email, "\"john doe\"@example.com", 1},
            {vsyn_email, "x@[198.51.100.3]", 1},
            {vsyn_email, "Jane <jane@example.com>", 0},
            {vsyn_email, "no-at-sign", 0},
            {vsyn_email, "@example.com", 0},
            {vsyn_cpe23, "cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*", 1},
            {vsyn_cpe23, "cpe:2.3:a:acme:a\\:b:1.0:*:*:*:*:*:*:*", 1},
            {vsyn_cpe23, "cpe:/a:microsoft:word:2000", 0},
            {vsyn_cpe23, "cpe:2.3:a:microsoft:word", 0},
            {vsyn_cpe23, "cpe:2.3:x:microsoft:word:2000:*:*:*:*:*:*:*", 0},
            {vsyn_relationship_type, "indicates", 1},
            {vsyn_relationship_type, "Indicates", 0},
            {vsyn_relationship_type, "in dicates", 0},
            {vsyn_selector, "description", 1},
            {vsyn_selector, "external_references.[0].source_name", 1},
            {vsyn_selector, "labels.[0]", 1},
            {vsyn_selector, "", 0},
            {vsyn_selector, "labels..x", 0},
            {vsyn_selector, "labels.[x]", 0},
            {vsyn_selector, "labels.", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = cases[i].fn(cases[i].s, strlen(cases[i].s)) ? 1 : 0;
        if (got != cases[i].ok)
            fail_msg("case %zu \"%s\": expected %s", i, cases[i].s,
                     cases[i].ok ? "valid" : "invalid");
    }
}

static void test_identifier_syntax(void **state)
{
    char type[KZ_MAX_STIX_TYPE + 1];
    static const char *const good[] = {
            "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "x-acme-widget--8E2E2D2B-17D4-4CBF-938F-98EE46B3CD3F",
            "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4",
            NULL,
    };
    static const char *const bad[] = {
            "indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-0cbf-938f-98ee46b3cd3f", /* version 0 */
            "indicator--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f", /* variant 110x */
            "indicator--8e2e2d2b17d44cbf938f98ee46b3cd3f",
            "Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "",
            NULL,
    };

    (void)state;
    for (const char *const *g = good; *g; g++)
        assert_int_equal(vsyn_identifier(*g, strlen(*g), type), 0);
    assert_int_equal(vsyn_identifier(good[0], strlen(good[0]), type), 0);
    assert_string_equal(type, "indicator");
    for (const char *const *b = bad; *b; b++)
        if (vsyn_identifier(*b, strlen(*b), type) == 0)
            fail_msg("accepted \"%s\"", *b);
}

static void test_hash_values(void **state)
{
    static const struct {
        const char *key, *value;
        int expect;
    } cases[] = {
            {"MD5", "3773a88f65a5e780c8dff9cdc3a056f3", 0},
            {"MD5", "3773A88F65A5E780C8DFF9CDC3A056F3", 0},
            {"MD5", "3773a88f65a5e780c8dff9cdc3a056f", -1},
            {"MD5", "3773a88f65a5e780c8dff9cdc3a056fz", -1},
            {"SHA-1", "5374e08903744ceeaedd8f5e1bfc06b2c4688e76", 0},
            {"SHA-1", "5374e08903744ceeaedd8f5e1bfc06b2c4688e7", -1},
            {"SHA-256", "fe90a7e910cb3a4739bed9180e807e93fa70c90f25a8915476f5e4bfbac681db", 0},
            {"SHA-256", "fe90a7e910cb3a4739bed9180e807e93", -1},
            {"SHA-512",
             "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
             "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
             0},
            {"SHA3-256", "fe90a7e910cb3a4739bed9180e807e93fa70c90f25a8915476f5e4bfbac681db", 0},
            {"SHA3-512", "fe90a7e910cb3a4739bed9180e807e93fa70c90f25a8915476f5e4bfbac681db", -1},
            {"SSDEEP", "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C", 0},
            {"SSDEEP", "96:s4Ud1Lj96tHHlZDrwciQmA+4uy1I0G4HYuL8N3TzS8QsO/wqWXLcMSx", -1},
            {"SSDEEP", "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C,\"a.exe\"", 0},
            {"SSDEEP", "abc", -1},
            {"TLSH", "T1A0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2", 0},
            {"TLSH", "A0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2", 0},
            {"TLSH", "A0A1", -1},
            {"x_custom_hash", "anything goes", 1},
            {"sha256", "anything goes", 1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = vsyn_hash_value(cases[i].key, strlen(cases[i].key), cases[i].value,
                                  strlen(cases[i].value));
        if (got != cases[i].expect)
            fail_msg("case %zu %s=%s: got %d", i, cases[i].key, cases[i].value, got);
    }
    assert_string_equal(vsyn_hash_canonical("sha256", 6), "SHA-256");
    assert_string_equal(vsyn_hash_canonical("Sha_1", 5), "SHA-1");
    assert_null(vsyn_hash_canonical("SHA-256", 7));
    assert_null(vsyn_hash_canonical("x_foo_hash", 10));
}

/* --- speed --------------------------------------------------------------------------------- */

struct timing {
    size_t objects;
    unsigned errors;
};

static int time_one(void *ctx, size_t index, const struct kzj_doc *doc, uint32_t node,
                    struct kz_error *err)
{
    struct timing *t = ctx;
    struct stix_obj o;
    struct stix_findings f;

    (void)index;
    if (stix_obj_read(doc, node, &o, err) < 0)
        return -1;
    t->errors += stix_validate(&o, &f);
    t->objects++;
    return 0;
}

/* The import path (read, parse, validate) of a 20,000-indicator bundle
 * must stay under 0.3 microseconds per byte, sanitizers included. */
static void test_speed(void **state)
{
    struct kz_buf b;
    struct stix_container info;
    struct kz_error err;
    struct timing t = {0, 0};
    int64_t start, us;
    double per_byte;
    const int n = 20000;

    (void)state;
    kz_buf_init(&b, 64u << 20);
    kz_buf_addstr(&b, "{\"type\":\"bundle\",\"id\":\"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d"
                      "\",\"objects\":[");
    for (int i = 0; i < n; i++)
        kz_buf_printf(&b,
                      "%s{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--"
                      "%08x-17d4-4cbf-938f-98ee46b3cd3f\",\"created_by_ref\":\"identity--f431f809-"
                      "377b-45e0-aa1c-6a4751cae5ff\",\"created\":\"2016-04-06T20:03:48.000Z\","
                      "\"modified\":\"2016-04-06T20:03:48.000Z\",\"indicator_types\":["
                      "\"malicious-activity\"],\"name\":\"Indicator %d\",\"description\":\"A "
                      "network indicator seen in the campaign\",\"pattern\":\"[ipv4-addr:value = "
                      "'198.51.%d.%d']\",\"pattern_type\":\"stix\",\"valid_from\":\"2016-01-01T00:"
                      "00:00Z\",\"labels\":[\"apt\",\"c2\"],\"confidence\":80,\"lang\":\"en\","
                      "\"object_marking_refs\":[\"marking-definition--34098fce-860f-48ae-8e50-"
                      "ebd3cc5e41da\"],\"external_references\":[{\"source_name\":\"cert-in\","
                      "\"external_id\":\"CIAD-2025-%d\",\"url\":\"https://example.org/a/%d\"}],"
                      "\"kill_chain_phases\":[{\"kill_chain_name\":\"mitre-attack\",\"phase_name\""
                      ":\"command-and-control\"}],\"x_kizuna_source\":\"test\"}",
                      i ? "," : "", (unsigned)i, i, (i >> 8) & 255, i & 255, i, i);
    kz_buf_addstr(&b, "]}");
    assert_false(b.failed);
    start = kz_mono_micros();
    assert_int_equal(stix_read(b.data, b.len, time_one, &t, &info, &err), 0);
    us = kz_mono_micros() - start;
    assert_int_equal(t.objects, (size_t)n);
    assert_int_equal(t.errors, 0);
    per_byte = (double)us / (double)b.len;
    print_message("validated %zu objects, %zu bytes in %lld us: %.4f us/byte\n", t.objects, b.len,
                  (long long)us, per_byte);
    assert_true(per_byte < 0.3);
    kz_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_value_syntax),   cmocka_unit_test(test_identifier_syntax),
            cmocka_unit_test(test_hash_values),    cmocka_unit_test(test_type_missing_or_bundle),
            cmocka_unit_test(test_escaped_names),  cmocka_unit_test(test_escaped_common_properties),
            cmocka_unit_test(test_long_names),     cmocka_unit_test(test_findings_cap),
            cmocka_unit_test(test_valid_cases),    cmocka_unit_test(test_invalid_cases),
            cmocka_unit_test(test_attack_bundles), cmocka_unit_test(test_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
