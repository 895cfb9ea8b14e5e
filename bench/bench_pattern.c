/*
 * Benchmark of the pattern module: throughput of kzp_check and kzp_parse on
 * the indicator patterns of a bundle made by bench/gen_bundle.py, against a
 * PCRE2 (JIT) regular-expression syntax check of the same patterns as the
 * obvious alternative available here, and the evaluator's cost per
 * observation over synthetic observed-data.
 *
 *   python3 bench/gen_bundle.py -n 100000 --compact -o /tmp/b.json
 *   bench_pattern /tmp/b.json [ROUNDS] [OBSERVATIONS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "json/json.h"
#include "pattern/pattern.h"
#include "util/buf.h"
#include "util/kztime.h"

struct pat {
    const char *s;
    size_t n;
};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
        exit(2);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* A regex for the shapes gen_bundle.py writes: one or more comparisons of
 * a path with a quoted string, joined by AND/OR, in brackets. It checks
 * much less than the grammar (no semantic checks, no other operators). */
static const char regex[] =
        "^\\[\\s*[a-z0-9-]+:[a-z0-9_]+(\\.('([^'\\\\]|\\\\.)*'|[A-Za-z0-9_]+))*\\s*"
        "(=|!=|ISSUBSET|ISSUPERSET)\\s*'([^'\\\\]|\\\\.)*'"
        "(\\s+(AND|OR)\\s+[a-z0-9-]+:[a-z0-9_]+(\\.('([^'\\\\]|\\\\.)*'|[A-Za-z0-9_]+))*\\s*"
        "(=|!=|ISSUBSET|ISSUPERSET)\\s*'([^'\\\\]|\\\\.)*')*\\s*\\]$";

int main(int argc, char **argv)
{
    size_t len, n = 0, cap = 0, bytes = 0;
    char *buf;
    struct kzj_doc d;
    struct kz_error err;
    struct pat *pats = NULL;
    uint32_t objs;
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 5;
    int nobs = argc > 3 ? (int)strtol(argv[3], NULL, 10) : 100000;
    int64_t t0, t1;
    size_t bad = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: bench_pattern BUNDLE.json [ROUNDS] [OBSERVATIONS]\n");
        return 2;
    }
    buf = slurp(argv[1], &len);
    kzj_doc_init(&d);
    if (kzj_parse(&d, buf, len, &err) < 0) {
        fprintf(stderr, "%s: %s\n", argv[1], err.text);
        return 2;
    }
    objs = KZJ_GET(&d, 0, "objects");
    KZJ_FOREACH_ELEM(&d, objs, e)
    {
        uint32_t p = KZJ_GET(&d, e, "pattern");
        char tmp[4096];
        const char *s;
        size_t sn;

        if (!p || kzj_str(&d, p, tmp, sizeof(tmp), &s, &sn) < 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            pats = realloc(pats, cap * sizeof(*pats));
        }
        pats[n].s = strndup(s, sn);
        pats[n].n = sn;
        bytes += sn;
        n++;
    }
    printf("patterns: %zu (mean %.1f bytes), rounds: %d\n", n, (double)bytes / (double)n, rounds);

    /* 1. kzp_check */
    t0 = kz_mono_micros();
    for (int r = 0; r < rounds; r++)
        for (size_t i = 0; i < n; i++)
            bad += kzp_check(pats[i].s, pats[i].n, &err) != 0;
    t1 = kz_mono_micros();
    printf("kzp_check (parse + semantic checks): %.0f patterns/s, %.0f ns/pattern, %zu invalid\n",
           (double)n * rounds / ((double)(t1 - t0) / 1e6),
           (double)(t1 - t0) * 1e3 / ((double)n * rounds), bad / (size_t)rounds);

    /* 2. kzp_parse + kzp_free (a retained tree) */
    t0 = kz_mono_micros();
    for (int r = 0; r < rounds; r++)
        for (size_t i = 0; i < n; i++) {
            struct kzp_pattern *p;

            if (kzp_parse(pats[i].s, pats[i].n, &p, &err) == 0)
                kzp_free(p);
        }
    t1 = kz_mono_micros();
    printf("kzp_parse + kzp_free:                %.0f patterns/s\n",
           (double)n * rounds / ((double)(t1 - t0) / 1e6));

    /* 3. the alternative: a PCRE2 JIT regex syntax check */
    {
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
        pcre2_match_data *md = pcre2_match_data_create(1, NULL);
        size_t ok = 0;

        if (!re)
            return 2;
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
        t0 = kz_mono_micros();
        for (int r = 0; r < rounds; r++)
            for (size_t i = 0; i < n; i++)
                ok += pcre2_match(re, (PCRE2_SPTR)pats[i].s, pats[i].n, 0, 0, md, NULL) >= 0;
        t1 = kz_mono_micros();
        printf("PCRE2 JIT regex shape check:         %.0f patterns/s (%zu of %zu match the "
               "regex)\n",
               (double)n * rounds / ((double)(t1 - t0) / 1e6), ok / (size_t)rounds, n);
        pcre2_match_data_free(md);
        pcre2_code_free(re);
    }

    /* 4. evaluation: nobs observed-data, each with one ipv4-addr and one
     * domain-name SCO (STIX 2.1 object_refs) */
    {
        struct kz_buf b;
        struct kzp_obs *o = kzp_obs_new();
        static const char *tests[] = {
                "[ipv4-addr:value = '10.255.255.254']",
                "[ipv4-addr:value ISSUBSET '192.0.2.0/24']",
                "[domain-name:value = 'no-such.example' OR domain-name:value LIKE '%.invalid']",
                "[file:hashes.'SHA-256' = "
                "'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
                "([ipv4-addr:value = '10.0.0.1'] AND [domain-name:value = 'd1.example']) WITHIN "
                "60 SECONDS",
        };

        kz_buf_init(&b, (size_t)1 << 31);
        kz_buf_addstr(&b, "{\"type\":\"bundle\",\"id\":\"bundle--1\",\"objects\":[");
        for (int i = 0; i < nobs; i++)
            kz_buf_printf(&b,
                          "%s{\"type\":\"observed-data\",\"spec_version\":\"2.1\",\"id\":"
                          "\"observed-data--%08d\",\"first_observed\":\"2024-01-01T00:%02d:%02dZ\","
                          "\"last_observed\":\"2024-01-01T00:%02d:%02dZ\",\"number_observed\":1,"
                          "\"object_refs\":[\"ipv4-addr--%08d\",\"domain-name--%08d\"]},"
                          "{\"type\":\"ipv4-addr\",\"id\":\"ipv4-addr--%08d\",\"value\":"
                          "\"10.%d.%d.%d\"},"
                          "{\"type\":\"domain-name\",\"id\":\"domain-name--%08d\",\"value\":"
                          "\"d%d.example\"}",
                          i ? "," : "", i, i / 60 % 60, i % 60, i / 60 % 60, i % 60, i, i, i,
                          i >> 16 & 255, i >> 8 & 255, i & 255, i, i);
        kz_buf_addstr(&b, "]}");
        t0 = kz_mono_micros();
        if (kzp_obs_add(o, b.data, b.len, &err) < 0) {
            fprintf(stderr, "observations: %s\n", err.text);
            return 2;
        }
        t1 = kz_mono_micros();
        printf("loading %d observations (%.1f MB JSON): %.0f ms\n", nobs, (double)b.len / 1e6,
               (double)(t1 - t0) / 1e3);
        for (size_t k = 0; k < sizeof(tests) / sizeof(tests[0]); k++) {
            struct kzp_pattern *p;
            struct kzp_result res;

            if (kzp_parse(tests[k], strlen(tests[k]), &p, &err) < 0)
                return 2;
            kzp_match(p, o, &res, &err); /* first run builds the index */
            kzp_result_free(&res);
            t0 = kz_mono_micros();
            for (int r = 0; r < rounds; r++) {
                if (kzp_match(p, o, &res, &err) < 0)
                    fprintf(stderr, "match: %s\n", err.text);
                kzp_result_free(&res);
            }
            t1 = kz_mono_micros();
            printf("eval %-80.80s %6.1f ns/observation\n", tests[k],
                   (double)(t1 - t0) * 1e3 / ((double)nobs * rounds));
            kzp_free(p);
        }
        kzp_obs_free(o);
        kz_buf_free(&b);
    }
    for (size_t i = 0; i < n; i++)
        free((void *)pats[i].s);
    free(pats);
    kzj_doc_free(&d);
    free(buf);
    return 0;
}
