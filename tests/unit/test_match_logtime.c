/*
 * A log line's own time: every reader finds it where its format keeps it
 * and the scanner stamps it on the line's hits (cases in
 * $KZ_TEST_DATA/match/times.tsv, scanned for real); and the time parsers on
 * their own, for what depends on a reference or on the local zone: the year
 * of an RFC 3164 time, zoneless ISO times, and bounds.
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
#include "match/logread_int.h"
#include "match/match.h"
#include "util/kztime.h"

static int64_t at(const char *iso)
{
    struct kz_ts t;
    const char *why;

    assert_int_equal(kz_ts_parse(iso, strlen(iso), &t, &why), 0);
    return kz_ts_micros(&t);
}

static void set_tz(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

/* --- the readers, through a real scan ------------------------------------- */

struct first_hit {
    int seen;
    int64_t time;
};

static int on_hit(void *ctx, const struct match_hit *h, struct kz_error *err)
{
    struct first_hit *f = ctx;

    (void)err;
    if (!f->seen) {
        f->seen = 1;
        f->time = h->time_us;
    }
    return 0;
}

/* \t and \n escapes of a times.tsv log into real bytes. */
static size_t unescape(const char *s, char *out)
{
    size_t o = 0;

    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '\\' && (s[i + 1] == 't' || s[i + 1] == 'n')) {
            out[o++] = s[i + 1] == 't' ? '\t' : '\n';
            i++;
        } else {
            out[o++] = s[i];
        }
    }
    out[o++] = '\n';
    out[o] = '\0';
    return o;
}

static void test_readers(void **state)
{
    const char *dir = getenv("KZ_TEST_DATA");
    char path[1024], line[4096], log[4096];
    struct kz_error e = {0};
    struct match_index *idx = match_index_new(&e);
    FILE *f;
    unsigned cases = 0;

    (void)state;
    set_tz("UTC");
    assert_non_null(dir);
    assert_non_null(idx);
    assert_int_equal(match_index_add(idx, MATCH_CIDR4, "10.0.0.0/8", 10, 0, &e), 0);
    assert_int_equal(match_index_finish(idx, &e), 0);
    snprintf(path, sizeof(path), "%s/match/times.tsv", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        char *fmt = line, *want, *text;
        enum logread_format lf;
        struct first_hit h = {0, 0};
        struct logread *r;
        size_t n;
        char got[KZ_TS_MICROS_LEN];
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\n")] = '\0';
        want = strchr(fmt, '\t');
        assert_non_null(want);
        *want++ = '\0';
        text = strchr(want, '\t');
        assert_non_null(text);
        *text++ = '\0';
        assert_int_equal(logread_format_parse(fmt, &lf), 0);
        n = unescape(text, log);
        r = logread_open_mem("times", log, n, lf, &e);
        assert_non_null(r);
        assert_int_equal(match_scan(idx, r, NULL, on_hit, &h, NULL, &e), 0);
        logread_close(r);
        if (!h.seen)
            fail_msg("no hit in: %s", text);
        if (h.time == MATCH_NO_TIME)
            snprintf(got, sizeof(got), "-");
        else
            kz_ts_format_micros(h.time, got);
        if (strcmp(got, want) != 0)
            fail_msg("%s line: %s\ngot  %s\nwant %s", fmt, text, got, want);
        cases++;
    }
    fclose(f);
    match_index_free(idx);
    assert_true(cases >= 30);
}

/* --- the parsers alone ---------------------------------------------------- */

struct tcase {
    enum lr_tkind kind;
    const char *text;
    const char *tz;
    const char *ref;  /* the reference (file's mtime) */
    const char *want; /* NULL: no time */
};

static const struct tcase cases[] = {
        /* RFC 3164: the year that keeps the line at or before its file */
        {LR_T_BSD, "Dec  7 19:58:32", "UTC", "2026-12-08T00:00:00Z", "2026-12-07T19:58:32Z"},
        {LR_T_BSD, "Dec 07 19:58:32", "UTC", "2026-12-08T00:00:00Z", "2026-12-07T19:58:32Z"},
        {LR_T_BSD, "dec  7 19:58:32 host", "UTC", "2026-12-08T00:00:00Z", "2026-12-07T19:58:32Z"},
        {LR_T_BSD, "Dec 31 23:59:59", "UTC", "2027-01-01T00:00:10Z", "2026-12-31T23:59:59Z"},
        {LR_T_BSD, "Dec 20 10:00:00", "UTC", "2027-01-02T00:00:00Z", "2026-12-20T10:00:00Z"},
        {LR_T_BSD, "Jan  1 00:00:05", "UTC", "2026-12-31T23:00:00Z", "2026-01-01T00:00:05Z"},
        {LR_T_BSD, "Feb 29 12:00:00", "UTC", "2025-03-01T00:00:00Z", "2024-02-29T12:00:00Z"},
        {LR_T_BSD, "Feb 29 12:00:00", "UTC", "2026-03-01T00:00:00Z", NULL},
        {LR_T_BSD, "Dec  7 19:58:32", "JST-9", "2026-12-08T00:00:00Z", "2026-12-07T10:58:32Z"},
        {LR_T_BSD, "Foo  7 19:58:32", "UTC", "2026-12-08T00:00:00Z", NULL},
        {LR_T_BSD, "Dec 32 19:58:32", "UTC", "2026-12-08T00:00:00Z", NULL},
        {LR_T_BSD, "Dec  7 25:58:32", "UTC", "2026-12-08T00:00:00Z", NULL},
        {LR_T_BSD, "Dec  7 19:58", "UTC", "2026-12-08T00:00:00Z", NULL},
        {LR_T_BSD, "Dec  7 19:58:321", "UTC", "2026-12-08T00:00:00Z", NULL},
        /* ISO 8601: zones, fractions, local time without a zone, bounds */
        {LR_T_ISO, "2024-05-01T00:00:00Z", "UTC", "2026-12-08T00:00:00Z", "2024-05-01T00:00:00Z"},
        {LR_T_ISO, "2024-05-01t00:00:00.123456789z", "UTC", "2026-12-08T00:00:00Z",
         "2024-05-01T00:00:00.123456Z"},
        {LR_T_ISO, "2024-05-01T09:00:00+0900", "UTC", "2026-12-08T00:00:00Z",
         "2024-05-01T00:00:00Z"},
        {LR_T_ISO, "2024-05-01T09:00", "JST-9", "2026-12-08T00:00:00Z", "2024-05-01T00:00:00Z"},
        {LR_T_ISO, "2024-05-01T00:00:60Z", "UTC", "2026-12-08T00:00:00Z", "2024-05-01T00:00:59Z"},
        {LR_T_ISO, "2024-02-30T00:00:00Z", "UTC", "2026-12-08T00:00:00Z", NULL},
        {LR_T_ISO, "1969-12-31T23:59:59Z", "UTC", "2026-12-08T00:00:00Z", NULL},
        {LR_T_ISO, "2024-05-01T00:00:00+24:00", "UTC", "2026-12-08T00:00:00Z", NULL},
        {LR_T_ISO, "2024-05-01T00:00:00.Z", "UTC", "2026-12-08T00:00:00Z", NULL},
        {LR_T_ISO, "2026-12-08T23:00:00Z", "UTC", "2026-12-08T00:00:00Z", "2026-12-08T23:00:00Z"},
        {LR_T_ISO, "2026-12-09T01:00:00Z", "UTC", "2026-12-08T00:00:00Z", NULL}, /* future */
        {LR_T_ISO, "+2024-05-01T00:00:00Z", "UTC", "2026-12-08T00:00:00Z", NULL},
        {LR_T_ISO, "2024-05-01", "UTC", "2026-12-08T00:00:00Z", NULL},
        /* epoch */
        {LR_T_EPOCH, "0", "UTC", "2026-12-08T00:00:00Z", "1970-01-01T00:00:00Z"},
        {LR_T_EPOCH, "1700000000123456", "UTC", "2026-12-08T00:00:00Z",
         "2023-11-14T22:13:20.123456Z"},
        {LR_T_EPOCH, "1700000000123456789", "UTC", "2026-12-08T00:00:00Z",
         "2023-11-14T22:13:20.123456Z"},
        {LR_T_EPOCH, "1700000000.", "UTC", "2026-12-08T00:00:00Z", NULL},
        {LR_T_EPOCH, "99999999999", "UTC", "2026-12-08T00:00:00Z", NULL},
        {LR_T_EPOCH, "9999999999999999999", "UTC", "2026-12-08T00:00:00Z", NULL}, /* no overflow */
        {LR_T_EPOCH, "99999999999999999999", "UTC", "2026-12-08T00:00:00Z", NULL},
        {LR_T_EPOCH, "-1", "UTC", "2026-12-08T00:00:00Z", NULL},
        {LR_T_EPOCH, "", "UTC", "2026-12-08T00:00:00Z", NULL},
        /* CLF */
        {LR_T_CLF, "10/Oct/2000:13:55:36 -0700", "UTC", "2026-12-08T00:00:00Z",
         "2000-10-10T20:55:36Z"},
        {LR_T_CLF, "10/Oct/2000:13:55:36 -07", "UTC", "2026-12-08T00:00:00Z", NULL},
        {LR_T_CLF, "10/Oct/2000:13:55:36 -0700x", "UTC", "2026-12-08T00:00:00Z", NULL},
        {LR_T_NONE, "2024-05-01T00:00:00Z", "UTC", "2026-12-08T00:00:00Z", NULL},
};

static void test_parsers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct tcase *c = &cases[i];
        int64_t t = 0;
        int rc;
        set_tz(c->tz);
        rc = lr_time_parse(c->kind, c->text, strlen(c->text), at(c->ref), &t);
        if (!c->want && rc == 0)
            fail_msg("case %zu \"%s\": a time where none is", i, c->text);
        if (c->want && (rc != 0 || t != at(c->want))) {
            char got[KZ_TS_MICROS_LEN];
            kz_ts_format_micros(t, got);
            fail_msg("case %zu \"%s\": got %s (rc %d), want %s", i, c->text, got, rc, c->want);
        }
    }
    set_tz("UTC");
}

/* Untrusted text never reads past its length: a time cut at every length. */
static void test_cut_everywhere(void **state)
{
    static const char *const texts[] = {"Dec  7 19:58:32", "2024-05-01T00:00:00.123+09:00",
                                        "10/Oct/2000:13:55:36 -0700", "1300475167.096535"};
    (void)state;
    for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
        size_t n = strlen(texts[k]);
        for (size_t cut = 0; cut <= n; cut++) {
            char *p = malloc(cut ? cut : 1); /* exact size: ASan sees an overread */
            int64_t t;
            assert_non_null(p);
            memcpy(p, texts[k], cut);
            for (int kind = LR_T_NONE; kind <= LR_T_BSD; kind++)
                lr_time_parse((enum lr_tkind)kind, p, cut, at("2026-12-08T00:00:00Z"), &t);
            free(p);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_readers),
            cmocka_unit_test(test_parsers),
            cmocka_unit_test(test_cut_everywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
