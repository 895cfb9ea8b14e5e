/*
 * Benchmark driver of the matching engine, usable before `kizuna match`
 * exists: builds the index from an indicators.tsv (kind TAB value TAB ref,
 * as bench/gen_match_bench.py writes it), reports build time and memory,
 * then scans the given logs and reports the scan rate. bench/bench_match.sh
 * runs it beside grep, rg and wc on the same files.
 *
 *   bench_match [-t THREADS] [-s] [-r REPEAT] [-f FORMAT] [-o HITS.tsv] [-p PSL]
 *               INDICATORS.tsv LOG...
 *
 * Output is "key=value" lines (build_s, build_rss_mb, index_mb, scan_s,
 * scan_mb_s, bytes, lines, hits, ...). With -o, every hit is written as
 * "file TAB line TAB kind TAB literal" where literal is 1 when the value
 * as seen is an indicator exactly as written (what grep -F also sees).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "match/logread.h"
#include "match/match.h"

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double maxrss_mb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static double rss_mb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;

    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &res) != 2)
        res = 0;
    fclose(f);
    return (double)res * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

struct out {
    FILE *f;
    uint64_t hits, literal;
};

static int on_hit(void *ctx, const struct match_hit *h, struct kz_error *err)
{
    struct out *o = ctx;
    int literal = 0;

    (void)err;
    o->hits++;
    for (size_t i = 0; i < h->nkeys; i++)
        if (h->keys[i].len == h->value_len && memcmp(h->keys[i].text, h->value, h->value_len) == 0)
            literal = 1;
    if (strcmp(h->field, "host+uri") == 0)
        literal = 0; /* put together from two fields: not in the line as such */
    o->literal += (uint64_t)literal;
    if (o->f)
        fprintf(o->f, "%s\t%llu\t%s\t%d\n", h->file, (unsigned long long)h->line,
                match_kind_name(h->kind), literal);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_match [-t THREADS] [-s] [-r REPEAT] [-f FORMAT] [-o HITS.tsv] "
                    "[-p PSL] INDICATORS.tsv LOG...\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct kz_error e = {0};
    struct match_index *idx = NULL;
    struct match_psl *psl = NULL;
    struct match_scan_opts opts = {0};
    struct match_stats st = {0};
    struct out o = {NULL, 0, 0};
    enum logread_format fmt = LOGREAD_AUTO;
    const char *psl_path = MATCH_PSL_DEFAULT_PATH, *hits_path = NULL;
    char *line = NULL;
    size_t cap = 0;
    uint64_t added = 0, rejected = 0;
    double t0, t1, t2, rss0;
    FILE *f;
    int opt, rc = 2, repeat = 1;

    opts.threads = 1;
    while ((opt = getopt(argc, argv, "t:sr:f:o:p:")) != -1) {
        switch (opt) {
        case 'r':
            repeat = (int)strtol(optarg, NULL, 10);
            if (repeat < 1)
                repeat = 1;
            break;
        case 't': opts.threads = (unsigned)strtoul(optarg, NULL, 10); break;
        case 's': opts.subdomains = 1; break;
        case 'f':
            if (logread_format_parse(optarg, &fmt) < 0)
                return usage();
            break;
        case 'o': hits_path = optarg; break;
        case 'p': psl_path = optarg; break;
        default: return usage();
        }
    }
    if (argc - optind < 1)
        return usage();
    rss0 = rss_mb();
    t0 = now();
    psl = match_psl_load(psl_path, &e);
    idx = match_index_new(&e);
    f = fopen(argv[optind], "r");
    if (!idx || !f) {
        fprintf(stderr, "bench_match: cannot read %s\n", argv[optind]);
        goto out;
    }
    for (;;) {
        ssize_t n = getline(&line, &cap, f);
        char *t1p, *t2p;
        enum match_kind k;
        if (n < 0)
            break;
        t1p = memchr(line, '\t', (size_t)n);
        t2p = t1p ? memchr(t1p + 1, '\t', (size_t)(n - (t1p + 1 - line))) : NULL;
        if (!t2p || match_kind_parse(line, (size_t)(t1p - line), &k) < 0) {
            rejected++;
            continue;
        }
        if (match_index_add(idx, k, t1p + 1, (size_t)(t2p - t1p - 1),
                            (uint32_t)strtoul(t2p + 1, NULL, 10), &e) < 0)
            rejected++;
        else
            added++;
    }
    fclose(f);
    free(line);
    match_index_set_psl(idx, psl);
    if (match_index_finish(idx, &e) < 0) {
        fprintf(stderr, "bench_match: %s\n", e.text);
        goto out;
    }
    t1 = now();
    printf("indicators=%llu\nrejected=%llu\n", (unsigned long long)added,
           (unsigned long long)rejected);
    printf("build_s=%.3f\nbuild_peak_rss_mb=%.1f\nbuild_rss_delta_mb=%.1f\nindex_mb=%.1f\n",
           t1 - t0, maxrss_mb(), rss_mb() - rss0,
           (double)match_index_memory(idx) / (1024.0 * 1024.0));
    for (int k = 0; k < MATCH_KIND_COUNT; k++)
        printf("count_%s=%zu\n", match_kind_name((enum match_kind)k),
               match_index_count(idx, (enum match_kind)k));
    fflush(stdout);
    if (hits_path) {
        o.f = fopen(hits_path, "w");
        if (!o.f) {
            fprintf(stderr, "bench_match: cannot write %s\n", hits_path);
            goto out;
        }
    }
    t1 = now();
    for (int i = optind + 1; i < optind + 1 + (argc - optind - 1) * repeat; i++) {
        const char *path = argv[optind + 1 + (i - optind - 1) % (argc - optind - 1)];
        struct logread *r = logread_open(path, fmt, &e);
        if (!r) {
            fprintf(stderr, "bench_match: %s: %s\n", path, e.text);
            goto out;
        }
        if (match_scan(idx, r, &opts, on_hit, &o, &st, &e) < 0) {
            fprintf(stderr, "bench_match: %s: %s\n", path, e.text);
            logread_close(r);
            goto out;
        }
        logread_close(r);
    }
    t2 = now();
    printf("threads=%u\nscan_s=%.3f\nbytes=%llu\nscan_mb_s=%.1f\nlines=%llu\nfields=%llu\n"
           "candidates=%llu\nhits=%llu\nliteral_hits=%llu\nsuppressed=%llu\nmalformed=%llu\n"
           "long_lines=%llu\npeak_rss_mb=%.1f\n",
           opts.threads, t2 - t1, (unsigned long long)st.bytes,
           (double)st.bytes / (1024.0 * 1024.0) / (t2 - t1), (unsigned long long)st.lines,
           (unsigned long long)st.fields, (unsigned long long)st.candidates,
           (unsigned long long)o.hits, (unsigned long long)o.literal,
           (unsigned long long)st.suppressed, (unsigned long long)st.malformed_lines,
           (unsigned long long)st.long_lines, maxrss_mb());
    rc = 0;
out:
    if (o.f)
        fclose(o.f);
    match_index_free(idx);
    match_psl_free(psl);
    return rc;
}
