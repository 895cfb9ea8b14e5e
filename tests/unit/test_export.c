/*
 * Sensor exports (src/export/): the pieces as tables (A-labels, the
 * escapers of each format, URL splitting, one value per condition and
 * format), then whole exports of $KZ_TEST_DATA/export/bundle.json from a
 * real store: what must never appear (TLP:RED, revoked,
 * expired, not yet valid, one side of an AND), what must (every kind), and
 * that the same store gives the same bytes twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/export.h"
#include "export/export_int.h"
#include "ingest/ingest.h"
#include "match/match.h"
#include "pattern/pattern.h"
#include "store/store.h"
#include "store/store_objects.h"
#include "util/buf.h"
#include "util/file.h"
#include "util/kztime.h"
#include "util/uuid.h"
#include "store_files.h"

/* --- A-labels --------------------------------------------------------------------- */

/* The conversion itself is tested on tests/data/idn/alabels.tsv by
 * test_match_idn.c; here: what sensors are given, and the length caps. */
static void test_alabel(void **state)
{
    char out[300], in[300];
    size_t n;
    struct kz_error e = {0};
    (void)state;

    assert_int_equal(match_domain_alabel("bücher.example", 15, out, sizeof(out), &n, &e), 0);
    assert_string_equal(out, "xn--bcher-kva.example");
    assert_int_equal(
            match_domain_alabel("例え.テスト", strlen("例え.テスト"), out, sizeof(out), &n, &e), 0);
    assert_string_equal(out, "xn--r8jz45g.xn--zckzah");
    assert_int_equal(match_domain_alabel("a..b", 4, out, sizeof(out), &n, &e), -1);
    assert_int_equal(e.code, KZ_EINVALID);
    /* 254 bytes once encoded */
    memset(in, 'a', 254);
    for (int i = 63; i < 254; i += 64)
        in[i] = '.';
    in[254] = '\0';
    assert_int_equal(match_domain_alabel(in, 254, out, sizeof(out), &n, &e), -1);
    assert_int_equal(match_domain_alabel(in, 253, out, sizeof(out), &n, &e), 0);
    /* a Unicode label longer than 63 bytes once encoded: libidn2 refuses */
    {
        char big[30 * 3 + 8];
        size_t o = 0;
        for (unsigned i = 0; i < 30; i++) { /* U+4E00 + 37i: 72 bytes as punycode */
            unsigned c = 0x4e00 + 37 * i;
            big[o++] = (char)(0xe0 | c >> 12);
            big[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
            big[o++] = (char)(0x80 | (c & 0x3f));
        }
        memcpy(big + o, ".jp", 4);
        assert_int_equal(match_domain_alabel(big, o + 3, out, sizeof(out), &n, &e), -1);
        assert_non_null(strstr(e.text, "IDNA2008"));
        assert_int_equal(match_domain_alabel(big, 36, out, 8, &n, &e), -1); /* cap too small */
    }
}

/* --- escapers -------------------------------------------------------------------------- */

typedef int (*add_fn)(struct kz_buf *b, const char *s, size_t n);

static int zeek_first(struct kz_buf *b, const char *s, size_t n)
{
    return ex_add_zeek_field(b, s, n, 1);
}

static int zeek_other(struct kz_buf *b, const char *s, size_t n)
{
    return ex_add_zeek_field(b, s, n, 0);
}

static int base64(struct kz_buf *b, const char *s, size_t n)
{
    return ex_add_base64(b, (const unsigned char *)s, n);
}

static int clean20(struct kz_buf *b, const char *s, size_t n)
{
    return ex_add_clean(b, s, n, 20);
}

static void test_escapers(void **state)
{
    static const struct {
        add_fn fn;
        const char *in, *out;
    } cases[] = {
            {zeek_first, "-", "\\x2d"},
            {zeek_first, "(empty)", "\\x28empty)"},
            {zeek_first, "#x@a.example", "\\x23x@a.example"},
            {zeek_other, "#x", "#x"},
            {zeek_other, "a\\b", "a\\x5cb"},
            {zeek_other, "", "(empty)"},
            {zeek_other, "name \"q\", ok", "name \"q\", ok"},
            {ex_add_rule_msg, "a;b\"c\\d", "a\\;b\\\"c\\\\d"},
            {ex_add_rule_content, "a\"b;c\\d|e", "a|22|b|3B|c|5C|d|7C|e"},
            {ex_add_rule_content,
             "/stra\xc3\x9f"
             "e",
             "/stra|C3 9F|e"},
            {ex_add_csv_field, "plain", "plain"},
            {ex_add_csv_field, "a,b", "\"a,b\""},
            {ex_add_csv_field, "say \"hi\"", "\"say \"\"hi\"\"\""},
            {ex_add_csv_field, "two\nlines", "\"two\nlines\""},
            {ex_add_csv_field, "tab\there", "\"tab\there\""},
            {ex_add_csv_field, " lead", "\" lead\""},
            {base64, "", ""},
            {base64, "f", "Zg=="},
            {base64, "fo", "Zm8="},
            {base64, "foo", "Zm9v"},
            {base64, "foob", "Zm9vYg=="},
            {base64, "fooba", "Zm9vYmE="},
            {base64, "foobar", "Zm9vYmFy"},
            {clean20, "tab\there\nnl", "tab here nl"},
            {clean20, "bad \xff byte", "bad ? byte"},
            {clean20, "c1 \xc2\x85 ls \xe2\x80\xa8", "c1   ls  "},
            {clean20, "exactly twenty bytes", "exactly twenty bytes"},
            {clean20, "twenty-one bytes long", "twenty-one bytes ..."},
            {clean20, "日本語の名前がとても長い", "日本語の名..."}, /* 15 bytes + "..." */
    };
    struct kz_buf b;
    (void)state;

    kz_buf_init(&b, 4096);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        kz_buf_reset(&b);
        assert_int_equal(cases[i].fn(&b, cases[i].in, strlen(cases[i].in)), 0);
        if (strcmp(b.data ? b.data : "", cases[i].out) != 0)
            fail_msg("case %zu: \"%s\" gave \"%s\", wanted \"%s\"", i, cases[i].in,
                     b.data ? b.data : "", cases[i].out);
    }
    kz_buf_free(&b);
}

static void test_url_split(void **state)
{
    struct ex_url p;
    const char *u = "http://user@evil.example:8080/a?b";
    (void)state;

    assert_int_equal(ex_url_split(u, strlen(u), &p), 0);
    assert_int_equal(p.scheme_len, 4);
    assert_memory_equal(u + p.host, "evil.example", p.host_len);
    assert_memory_equal(u + p.port, "8080", p.port_len);
    assert_string_equal(u + p.rest, "/a?b");
    u = "https://[2001:db8::1]:8443/x";
    assert_int_equal(ex_url_split(u, strlen(u), &p), 0);
    assert_memory_equal(u + p.host, "[2001:db8::1]", p.host_len);
    assert_memory_equal(u + p.port, "8443", p.port_len);
    assert_int_equal(ex_url_split("mailto:a@b.example", 18, &p), -1);
    assert_int_equal(ex_url_split("http://h:8x/", 12, &p), -1);
    assert_int_equal(ex_url_split("http:///x", 9, &p), -1);
}

/* --- one condition, each format ----------------------------------------------------- */

struct one {
    enum export_format f;
    const char *pattern;
    enum ex_verdict want;
    const char *value;
};

struct got {
    enum ex_verdict v;
    char value[EX_MAX_VALUE + 1];
    int exact, n;
};

struct vctx {
    const struct export_opts *o;
    struct got *g;
};

static int on_cond(void *ctx, const struct kzp_cond *c)
{
    struct vctx *x = ctx;
    size_t n;
    unsigned flags;
    int kind = ex_kind_of(c);

    x->g->n++;
    x->g->exact = c->exact;
    if (kind < 0) {
        x->g->v = EX_UNSUPPORTED;
        return 0;
    }
    x->g->v =
            ex_value(x->o, c, (enum match_kind)kind, x->g->value, sizeof(x->g->value), &n, &flags);
    return 0;
}

static void test_values(void **state)
{
    static const struct one cases[] = {
            {EXPORT_ZEEK_INTEL, "[ipv4-addr:value = '198.51.100.7/32']", EX_OK, "198.51.100.7"},
            {EXPORT_ZEEK_INTEL, "[ipv6-addr:value = '2001:DB8:0:0::1']", EX_OK, "2001:db8::1"},
            {EXPORT_ZEEK_INTEL, "[ipv4-addr:value ISSUBSET '10.1.2.3/8']", EX_OK, "10.0.0.0/8"},
            {EXPORT_SURICATA_DATASET, "[ipv4-addr:value ISSUBSET '10.0.0.0/8']", EX_UNSUPPORTED,
             NULL},
            {EXPORT_ZEEK_INTEL, "[domain-name:value = 'WWW.Bücher.Example.']", EX_OK,
             "www.xn--bcher-kva.example"},
            {EXPORT_ZEEK_INTEL, "[domain-name:value = 'bad domain.example']", EX_INVALID, NULL},
            /* UTS #46: an ideographic full stop separates labels */
            {EXPORT_ZEEK_INTEL, "[domain-name:value = '例。テスト']", EX_OK, "xn--fsq.xn--zckzah"},
            {EXPORT_ZEEK_INTEL, "[domain-name:value = 'ＥＸＡＭＰＬＥ.jp']", EX_OK, "example.jp"},
            {EXPORT_ZEEK_INTEL, "[domain-name:value = 'İstanbul.tr']", EX_OK,
             "xn--istanbul-o0e.tr"},
            {EXPORT_ZEEK_INTEL, "[domain-name:value = 'ab--ü.example']", EX_INVALID, NULL},
            {EXPORT_SURICATA_RULES, "[url:value = 'http://ελληνικά.gr/a']", EX_OK,
             "xn--hxargifdar.gr/a"},
            {EXPORT_TXT, "[email-addr:value = 'info@ｔｏｋｙｏ.jp']", EX_OK, "info@tokyo.jp"},
            {EXPORT_ZEEK_INTEL, "[url:value = 'HTTP://Evil.Example:80/a/../b?q']", EX_OK,
             "evil.example/b?q"},
            {EXPORT_ZEEK_INTEL, "[url:value = 'https://evil.example:8443/']", EX_OK,
             "evil.example:8443/"},
            {EXPORT_ZEEK_INTEL, "[url:value = 'ftp://evil.example/x']", EX_UNSUPPORTED, NULL},
            {EXPORT_TXT, "[url:value = 'ftp://evil.example/x']", EX_OK, "ftp://evil.example/x"},
            {EXPORT_TXT, "[url:value = 'http://u:p@bücher.example/ä']", EX_OK,
             "http://u:p@xn--bcher-kva.example/%C3%A4"},
            {EXPORT_SURICATA_RULES, "[url:value = 'http://[2001:db8::1]/x']", EX_UNSUPPORTED, NULL},
            {EXPORT_ZEEK_INTEL, "[url:value = 'http://[2001:db8::1]/x']", EX_OK, "[2001:db8::1]/x"},
            {EXPORT_ZEEK_INTEL, "[email-addr:value = 'A.B+c@Bücher.example']", EX_OK,
             "A.B+c@xn--bcher-kva.example"},
            {EXPORT_ZEEK_INTEL, "[email-addr:value = 'a\\\\b@c.example']", EX_INVALID, NULL},
            {EXPORT_SURICATA_RULES, "[email-addr:value = 'a@c.example']", EX_UNSUPPORTED, NULL},
            {EXPORT_ZEEK_INTEL, "[file:hashes.MD5 = 'D41D8CD98F00B204E9800998ECF8427E']", EX_OK,
             "d41d8cd98f00b204e9800998ecf8427e"},
            {EXPORT_SURICATA_RULES,
             "[file:hashes.'SHA-512' = 'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d3"
             "6ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e']",
             EX_UNSUPPORTED, NULL},
            {EXPORT_ZEEK_INTEL, "[file:hashes.SSDEEP = '3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C']",
             EX_UNSUPPORTED, NULL},
            /* a tab or a line break inside a value never reaches a file raw:
             * names refuse it, URLs percent-encode it */
            {EXPORT_ZEEK_INTEL, "[domain-name:value = 'a\tb.example']", EX_INVALID, NULL},
            {EXPORT_TXT, "[domain-name:value = 'a\nb.example']", EX_INVALID, NULL},
            {EXPORT_ZEEK_INTEL, "[email-addr:value = 'a\tb@c.example']", EX_INVALID, NULL},
            {EXPORT_ZEEK_INTEL, "[url:value = 'http://a.example/x\ty\nz']", EX_OK,
             "a.example/x%09y%0Az"},
            {EXPORT_CSV, "[url:value = 'http://a.example/x\r\n']", EX_OK,
             "http://a.example/x"}, /* trailing controls trimmed, as match/ does */
            {EXPORT_SURICATA_DATASET, "[domain-name:value = 'Xn--Bcher-Kva.Example']", EX_OK,
             "xn--bcher-kva.example"},
            {EXPORT_SURICATA_DATASET,
             "[file:hashes.'SHA-256' = "
             "'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7"
             "852B855']",
             EX_OK, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct export_opts o = {.format = cases[i].f};
        struct got g = {0};
        struct vctx x = {.o = &o, .g = &g};
        struct kzp_pattern *p;
        struct kz_error err;
        int complete;

        kz_error_clear(&err);
        if (kzp_parse(cases[i].pattern, strlen(cases[i].pattern), &p, &err) < 0)
            fail_msg("case %zu: %s: %s", i, cases[i].pattern, err.text);
        kzp_extract(p, on_cond, &x, &complete);
        kzp_free(p);
        assert_int_equal(g.n, 1);
        if (g.v != cases[i].want)
            fail_msg("case %zu: %s: verdict %d, wanted %d (%s)", i, cases[i].pattern, g.v,
                     cases[i].want, g.v == EX_OK ? g.value : "");
        if (cases[i].value)
            assert_string_equal(g.value, cases[i].value);
    }
}

static void test_names(void **state)
{
    enum export_format f;
    enum export_type t;
    struct kz_error err;
    (void)state;

    assert_int_equal(export_format_parse("zeek-intel", &f), 0);
    assert_int_equal(f, EXPORT_ZEEK_INTEL);
    assert_string_equal(export_format_name(EXPORT_SURICATA_RULES), "suricata-rules");
    assert_int_equal(export_format_parse("zeek", &f), -1);
    assert_int_equal(export_type_parse("sha256", &t), 0);
    assert_string_equal(export_dataset_file(t), "kizuna-sha256.lst");
    assert_string_equal(export_dataset_file(EXPORT_T_DOMAIN), "kizuna-domains.lst");
    assert_null(export_dataset_file(EXPORT_T_URL));
    assert_int_equal(export_type_parse("ipv4", &t), -1);
    kz_error_clear(&err);
    assert_int_equal(export_check(EXPORT_SURICATA_DATASET, EXPORT_T_ALL, &err), -1);
    assert_int_equal(err.code, KZ_EUSAGE);
    assert_int_equal(export_check(EXPORT_SURICATA_DATASET, EXPORT_T_URL, &err), -1);
    assert_int_equal(export_check(EXPORT_SURICATA_DATASET, EXPORT_T_HASH, &err), -1);
    assert_int_equal(export_check(EXPORT_SURICATA_DATASET, EXPORT_T_SHA1, &err), 0);
    assert_int_equal(export_check(EXPORT_ZEEK_INTEL, EXPORT_T_ALL, &err), 0);
}

/* --- whole exports from a store ---------------------------------------------------------- */

struct fixture {
    char dir[64];
    char db[128];
    char out[128];
    struct store *s;
    struct match_psl *psl;
    char coll[2][KZ_UUID_LEN]; /* the collections' TAXII ids */
    size_t ncoll;
};

/* Adds a collection called alias and imports the bundle into it. */
static int add_collection(struct fixture *f, const char *alias, struct kz_error *err)
{
    struct store_collection c = {.api_root = "default"};
    struct ingest_opts io = {.name = "bundle.json"};
    struct ingest_counts counts;
    const char *data = getenv("KZ_TEST_DATA");
    char path[512], *buf = NULL;
    size_t len;
    int rc = -1;

    snprintf(c.alias, sizeof(c.alias), "%s", alias);
    snprintf(path, sizeof(path), "%s/export/bundle.json", data ? data : ".");
    if (store_collection_add(f->s, &c, err) < 0 ||
        kz_read_file(path, KZ_MAX_FILE_BYTES, &buf, &len, err) < 0 ||
        ingest_buffer(f->s, c.key, buf, len, &io, &counts, err) < 0 || counts.rejected)
        goto out;
    memcpy(f->coll[f->ncoll++], c.id, KZ_UUID_LEN);
    rc = 0;
out:
    free(buf);
    return rc;
}

static int teardown(void **state);

/* A store with the bundle in each of ncoll collections ("intel", "other"). */
static int open_fixture(void **state, size_t ncoll)
{
    static const char *const aliases[] = {"intel", "other"};
    struct fixture *f = calloc(1, sizeof(*f));
    struct store_api_root root = {.name = "default", .max_content_length = 1 << 20};
    static const char psl[] = "com\norg\nnet\nio\nexample\ngithub.io\n";
    struct kz_error err;

    if (!f)
        return -1;
    *state = f;
    snprintf(f->dir, sizeof(f->dir), "/tmp/kz-export-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->db, sizeof(f->db), "%s/kizuna.db", f->dir);
    snprintf(f->out, sizeof(f->out), "%s/out", f->dir);
    kz_error_clear(&err);
    f->s = store_open("sqlite", f->db, 1, &err);
    if (!f->s || store_api_root_add(f->s, &root, &err) < 0)
        goto fail;
    for (size_t i = 0; i < ncoll; i++)
        if (add_collection(f, aliases[i], &err) < 0)
            goto fail;
    f->psl = match_psl_parse(psl, sizeof(psl) - 1, &err);
    if (!f->psl)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "setup: %s\n", err.text);
    teardown(state);
    return -1;
}

static int setup(void **state)
{
    return open_fixture(state, 1);
}

static int setup_two(void **state)
{
    return open_fixture(state, 2);
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    if (f->s)
        store_close(f->s);
    match_psl_free(f->psl);
    remove_store_files(f->db);
    unlink(f->out);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Runs the export o into a new string (freed by the caller). */
static char *run_opts(struct fixture *f, const struct export_opts *o, struct export_stats *st)
{
    struct kz_error err;
    struct kz_out *out;
    char *text = NULL;
    size_t len;

    kz_error_clear(&err);
    out = kz_out_open(f->out, &err);
    assert_non_null(out);
    if (export_write(f->s, o, out, st, &err) < 0) {
        kz_out_abort(out);
        fail_msg("export %s: %s", export_format_name(o->format), err.text);
    }
    assert_int_equal(kz_out_commit(out, &err), 0);
    assert_int_equal(kz_read_file(f->out, 1 << 24, &text, &len, &err), 0);
    return text;
}

static struct export_opts opts(struct fixture *f, enum export_format fmt, enum export_type type)
{
    struct export_opts o = {.format = fmt,
                            .type = type,
                            .node_name = "test-node",
                            .default_tlp = STIX_TLP_AMBER,
                            .now_us = kz_now_micros(),
                            .psl = f->psl};
    return o;
}

/* One export of every collection. */
static char *run(struct fixture *f, enum export_format fmt, enum export_type type,
                 struct export_stats *st)
{
    struct export_opts o = opts(f, fmt, type);

    return run_opts(f, &o, st);
}

/* Values and names that must never leave in an export. */
static void assert_nothing_hidden(const char *text)
{
    static const char *const never[] = {
            "red-secret.example", "192.0.2.66",   "revoked.example", "expired.example",
            "future.example",     "000000000016", "000000000013",    "000000000014",
            "000000000015",       "has space",    "SSDEEP",          "AXGBicFlgVNhBGcL6wCrFQEv",
            "dst_port",           "4444\t",
    };
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        if (strstr(text, never[i]))
            fail_msg("the export holds \"%s\"", never[i]);
}

static void test_zeek(void **state)
{
    struct fixture *f = *state;
    struct export_stats st;
    char *text = run(f, EXPORT_ZEEK_INTEL, EXPORT_T_ALL, &st), *again;
    const char *line;
    size_t lines = 0;

    assert_nothing_hidden(text);
    {
        static const char hdr[] =
                "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n";
        assert_memory_equal(text, hdr, sizeof(hdr) - 1);
    }
    assert_null(strstr(text, "\t\"")); /* no quoted field */
    assert_non_null(strstr(text, "\n198.51.100.7\tIntel::ADDR\tkizuna:test-node\tC2 \"server\""));
    assert_non_null(strstr(text, "\n203.0.113.0/24\tIntel::SUBNET\t"));
    assert_non_null(strstr(text, "\nxn--bcher-kva.example\tIntel::DOMAIN\t"));
    assert_non_null(strstr(text, "\nevil.example.com:8080/a;b/gate.php?id=1&x=~\tIntel::URL\t"));
    assert_non_null(strstr(text, "\nd41d8cd98f00b204e9800998ecf8427e\tIntel::FILE_HASH\t"));
    assert_non_null(strstr(text, "\n\\x23hash@example.org\tIntel::EMAIL\t"));
    assert_non_null(strstr(text, "URLs \\x5c with backslash"));
    /* one line per value: the two reports of 198.51.100.7 share one */
    assert_null(strstr(strstr(text, "\n198.51.100.7\t") + 1, "\n198.51.100.7\t"));
    assert_non_null(strstr(text, "| Second report of the C2 [TLP:GREEN"));
    assert_non_null(strstr(text, "[TLP:GREEN indicator--00000000-0000-4000-8000-000000000002]\t"
                                 "indicator--00000000-0000-4000-8000-000000000001\n"));
    /* partial values: one side of an AND, an address with a port, "=" with a
     * CIDR block, a hash ANDed with a file name; the URL beside it in an OR
     * is exact */
    assert_non_null(strstr(text, "\n192.0.2.99\tIntel::ADDR\t"));
    assert_non_null(strstr(text, "AND pattern [TLP:CLEAR indicator--00000000-0000-4000-8000-"
                                 "000000000012, partial]"));
    assert_non_null(strstr(text, "\n203.0.113.77\tIntel::ADDR\tkizuna:test-node\tC2 on port "
                                 "4444 [TLP:CLEAR indicator--00000000-0000-4000-8000-"
                                 "000000000023, partial]\t"));
    assert_non_null(strstr(text, "\n198.51.100.0/25\tIntel::SUBNET\t"));
    assert_non_null(strstr(text, "\n0123456789abcdef0123456789abcdef\tIntel::FILE_HASH\t"));
    assert_non_null(strstr(text, "\nevil.example.com/dropper.exe\tIntel::URL\tkizuna:test-node"
                                 "\tDropper [TLP:CLEAR indicator--00000000-0000-4000-8000-"
                                 "000000000025]\t"));
    for (line = text; (line = strchr(line, '\n')) && line[1]; line++) {
        int tabs = 0;
        for (const char *c = line + 1; *c && *c != '\n'; c++)
            tabs += *c == '\t';
        assert_int_equal(tabs, 4);
        lines++;
    }
    assert_int_equal(lines, st.lines);
    assert_int_equal(st.partial, 5);
    assert_int_equal(st.indicators, 21); /* 25, less 3 inactive and 1 TLP:RED */
    assert_int_equal(st.used, 20);       /* all but the SSDEEP one */
    assert_int_equal(st.invalid, 1);
    assert_int_equal(st.inactive, 3);
    assert_true(st.merged >= 2);
    assert_int_equal(st.markings[STIX_TLP_RED], 0);
    again = run(f, EXPORT_ZEEK_INTEL, EXPORT_T_ALL, &st);
    assert_string_equal(text, again); /* deterministic */
    free(again);
    free(text);
}

static void test_suricata(void **state)
{
    struct fixture *f = *state;
    struct export_stats st;
    char *rules = run(f, EXPORT_SURICATA_RULES, EXPORT_T_ALL, &st), *ds;

    assert_nothing_hidden(rules);
    assert_int_equal(st.needs, (1u << EXPORT_T_IP) | (1u << EXPORT_T_DOMAIN) |
                                       (1u << EXPORT_T_MD5) | (1u << EXPORT_T_SHA1) |
                                       (1u << EXPORT_T_SHA256));
    /* the deepest indicator has 9 labels: rules for 2..9 on each buffer */
    assert_non_null(strstr(rules, "dns.query; dotprefix; to_lowercase; "
                                  "pcrexform:\"[.]((?:[^.]+[.]){8}[^.]+)$\"; "
                                  "dataset:isset,kizuna-domains,type string,load "
                                  "kizuna-domains.lst;"));
    assert_null(strstr(rules, "{9}"));
    assert_non_null(strstr(rules, "dns.query; content:\"github.io\"; nocase; bsize:9;"));
    assert_non_null(strstr(rules, "http.host; content:\"github.io\"; bsize:9;"));
    assert_non_null(strstr(rules, "-> any 8080 (msg:\"KIZUNA URL URLs \\\\ with backslash\";"));
    assert_non_null(strstr(rules, "http.uri; content:\"/a|3B|b/gate.php?id=1&x=~\"; bsize:22;"));
    assert_non_null(strstr(rules,
                           "alert ip [198.51.100.0/25,203.0.113.0/24,2001:db8:1::/48] any -> any "
                           "any (msg:\"KIZUNA indicator CIDR block as source, group 1\";"));
    assert_non_null(strstr(rules, "(msg:\"KIZUNA URL Dropper\"; flow:established,to_server; "
                                  "http.host; content:\"evil.example.com\"; bsize:16; http.uri; "
                                  "content:\"/dropper.exe\"; bsize:12;"));
    assert_non_null(strstr(rules, "filesha256:kizuna-sha256.lst;"));
    assert_non_null(strstr(rules, "ip.dst; dataset:isset,kizuna-ip,type ip,load kizuna-ip.lst;"));
    assert_null(strstr(rules, "ftp://"));
    free(rules);

    ds = run(f, EXPORT_SURICATA_DATASET, EXPORT_T_DOMAIN, &st);
    assert_string_equal(ds, "YS5iLmMuZC5lLmYuZy5kZWVwLmV4YW1wbGU=\n" /* a.b.c...deep.example */
                            "YW1iZXItb25seS5leGFtcGxl\n"             /* amber-only.example */
                            "YW5kLW9ubHkuZXhhbXBsZQ==\n"             /* and-only.example */
                            "ZXZpbC5leGFtcGxlLmNvbQ==\n"             /* evil.example.com */
                            "b2suZXhhbXBsZQ==\n"                     /* ok.example */
                            "eG4tLWJjaGVyLWt2YS5leGFtcGxl\n");       /* xn--bcher-kva.example */
    assert_int_equal(st.unsupported, 1); /* github.io, a public suffix: in the rules */
    free(ds);
    ds = run(f, EXPORT_SURICATA_DATASET, EXPORT_T_IP, &st);
    assert_string_equal(ds, "192.0.2.1\n192.0.2.99\n198.51.100.7\n203.0.113.77\n"
                            "2001:db8::dead:beef\n");
    assert_int_equal(st.unsupported, 3); /* the CIDR blocks */
    assert_int_equal(st.partial, 2);
    free(ds);
    ds = run(f, EXPORT_SURICATA_DATASET, EXPORT_T_MD5, &st);
    assert_string_equal(ds, "0123456789abcdef0123456789abcdef\n"
                            "d41d8cd98f00b204e9800998ecf8427e\n");
    free(ds);
}

static void test_csv_txt(void **state)
{
    struct fixture *f = *state;
    struct export_stats st;
    char *csv = run(f, EXPORT_CSV, EXPORT_T_ALL, &st), *txt;

    assert_nothing_hidden(csv);
    {
        static const char hdr[] = "indicator_id,type,value,name,tlp,valid_from,valid_until,"
                                  "collection,partial\r\n";
        assert_memory_equal(csv, hdr, sizeof(hdr) - 1);
    }
    assert_non_null(strstr(csv, "\r\nindicator--00000000-0000-4000-8000-000000000001,ipv4,"
                                "198.51.100.7,\"C2 \"\"server\"\", with\ttab\",TLP:CLEAR,"
                                "2025-01-01T00:00:00.000000Z,,"));
    assert_non_null(strstr(csv, ",url,ftp://files.example.org/x,"));
    assert_non_null(strstr(csv, "\"Scanner ranges\nline two\r\nline three\""));
    assert_non_null(strstr(csv, "000000000025,md5,0123456789abcdef0123456789abcdef,Dropper,"
                                "TLP:CLEAR,"));
    assert_non_null(strstr(csv, "000000000025,url,http://evil.example.com/dropper.exe,Dropper,"
                                "TLP:CLEAR,"));
    assert_non_null(strstr(csv, ",partial\r\n"));
    {
        /* the md5 row ends in true, the URL row (an OR branch) in false */
        const char *md5 = strstr(csv, "000000000025,md5,");
        const char *url = strstr(csv, "000000000025,url,");
        assert_non_null(strstr(md5, ",true\r\n"));
        assert_true(strstr(md5, ",true\r\n") < strstr(md5, "\r\n") + 2);
        assert_true(strstr(url, ",false\r\n") < strstr(url, "\r\n") + 2);
    }
    free(csv);
    txt = run(f, EXPORT_TXT, EXPORT_T_HASH, &st);
    assert_string_equal(txt, "0123456789abcdef0123456789abcdef\n"
                             "d41d8cd98f00b204e9800998ecf8427e\n"
                             "da39a3ee5e6b4b0d3255bfef95601890afd80709\n"
                             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
                             "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47"
                             "d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e\n");
    assert_int_equal(st.unsupported, 1); /* the SSDEEP digest */
    free(txt);
    txt = run(f, EXPORT_TXT, EXPORT_T_EMAIL, &st);
    assert_string_equal(txt, "#hash@example.org\nPhish@example.org\n");
    free(txt);
}

/* The same indicators in two collections: each value and each indicator
 * once, the same bytes as one collection; each collection credited. */
static void test_two_collections(void **state)
{
    struct fixture *f = *state;
    const char *both[2] = {f->coll[0], f->coll[1]}, *many[EXPORT_MAX_COLLECTIONS + 1];
    struct export_coll_stats cs[2];
    struct export_opts o = opts(f, EXPORT_ZEEK_INTEL, EXPORT_T_ALL);
    struct export_stats st;
    struct kz_error err;
    char *one, *two;

    o.collections = both;
    o.ncollections = 1;
    one = run_opts(f, &o, &st);
    assert_int_equal(st.indicators, 21);
    o.ncollections = 2;
    o.coll_stats = cs;
    two = run_opts(f, &o, &st);
    assert_string_equal(one, two);
    assert_int_equal(st.indicators, 21);
    assert_int_equal(st.used, 20);
    assert_int_equal(cs[0].used, 20);
    assert_int_equal(cs[1].used, 20);
    assert_int_equal(cs[1].markings[STIX_TLP_RED], 0);
    assert_int_equal(cs[1].markings[STIX_TLP_AMBER], 3);
    free(one);
    free(two);
    /* no collection named (all of them): one CSV row per indicator value,
     * every row naming the same collection, the lower id */
    two = run(f, EXPORT_CSV, EXPORT_T_ALL, &st);
    assert_int_equal(st.lines, 29);
    assert_int_equal(st.indicators, 21);
    assert_non_null(strstr(two, strcmp(f->coll[0], f->coll[1]) < 0 ? f->coll[0] : f->coll[1]));
    assert_null(strstr(two, strcmp(f->coll[0], f->coll[1]) < 0 ? f->coll[1] : f->coll[0]));
    free(two);

    for (size_t i = 0; i <= EXPORT_MAX_COLLECTIONS; i++)
        many[i] = f->coll[0];
    o.collections = many;
    o.ncollections = EXPORT_MAX_COLLECTIONS + 1;
    o.coll_stats = NULL;
    kz_error_clear(&err);
    {
        struct kz_out *out = kz_out_open(f->out, &err);
        assert_int_equal(export_write(f->s, &o, out, &st, &err), -1);
        assert_int_equal(err.code, KZ_EUSAGE);
        kz_out_abort(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_alabel),
            cmocka_unit_test(test_escapers),
            cmocka_unit_test(test_url_split),
            cmocka_unit_test(test_values),
            cmocka_unit_test(test_names),
            cmocka_unit_test_setup_teardown(test_zeek, setup, teardown),
            cmocka_unit_test_setup_teardown(test_suricata, setup, teardown),
            cmocka_unit_test_setup_teardown(test_csv_txt, setup, teardown),
            cmocka_unit_test_setup_teardown(test_two_collections, setup_two, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
