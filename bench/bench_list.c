/*
 * Benchmark of one uncached TAXII page, the store's side alone: the listing
 * (store_list with the raw JSON, under the policy's view for a named user)
 * that GET objects/ runs when the response cache does not hold the page,
 * without HTTP around it. Runs the same page ROUNDS times and prints the
 * median and fastest time per page, the rows and the bytes of JSON read,
 * so that a change to the query can be judged without the noise of the
 * network path (bench_taxii.sh measures the whole request).
 *
 *   bench_list HOME USER COLLECTION ADDED_AFTER_US [ROUNDS [LIMIT]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "policy/policy.h"
#include "store/store_accounts.h"
#include "store/store_objects.h"
#include "util/kztime.h"

struct tally {
    uint64_t rows, bytes;
};

static int on_row(void *ctx, const struct store_row *r, struct kz_error *err)
{
    struct tally *t = ctx;

    (void)err;
    t->rows++;
    t->bytes += r->rawlen;
    return 0;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static long number(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*end || v < 0) {
        fprintf(stderr, "bench_list: not a number: %s\n", s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    struct kz_error err;
    struct store *s;
    struct store_user su;
    struct auth_user u;
    struct store_collection c;
    struct policy_reader r;
    struct policy_view v;
    struct store_filter f;
    struct tally t = {0, 0};
    char path[4096];
    int rounds, i;
    int64_t *times;

    if (argc < 5) {
        fprintf(stderr, "usage: bench_list HOME USER COLLECTION ADDED_AFTER_US [ROUNDS [LIMIT]]\n");
        return 2;
    }
    rounds = argc > 5 ? (int)number(argv[5]) : 2000;
    if (rounds < 1)
        rounds = 1;
    times = calloc((size_t)rounds, sizeof(*times));
    snprintf(path, sizeof(path), "%s/kizuna.db", argv[1]);
    kz_error_clear(&err);
    s = store_open("sqlite", path, 0, &err);
    if (!s || !times || store_user_find(s, argv[2], &su, &err) < 0 ||
        store_collection_find(s, NULL, argv[3], &c, &err) < 0) {
        fprintf(stderr, "bench_list: %s\n", err.text);
        return 1;
    }
    memset(&u, 0, sizeof(u));
    u.key = su.key;
    u.org = su.org;
    u.role = auth_role_parse(su.role);
    snprintf(u.name, sizeof(u.name), "%s", su.name);
    r = (struct policy_reader){.user = &u, .node_name = "bench", .default_tlp = STIX_TLP_AMBER};
    if (policy_view_open(s, &r, &c, &v, &err) < 0) {
        fprintf(stderr, "bench_list: %s\n", err.text);
        return 1;
    }
    for (i = 0; i < rounds; i++) {
        struct store_page page;
        int64_t t0 = kz_mono_micros();

        store_filter_init(&f, c.key);
        policy_filter(&v, &f);
        f.added_after = number(argv[4]);
        f.limit = argc > 6 ? (uint64_t)number(argv[6]) : 100;
        memset(&page, 0, sizeof(page));
        t = (struct tally){0, 0};
        if (store_list(s, &f, 1, on_row, &t, &page, &err) < 0) {
            fprintf(stderr, "bench_list: %s\n", err.text);
            return 1;
        }
        times[i] = kz_mono_micros() - t0;
    }
    qsort(times, (size_t)rounds, sizeof(*times), cmp);
    printf("page of %llu rows, %llu bytes: median %lld us, fastest %lld us (%d rounds)\n",
           (unsigned long long)t.rows, (unsigned long long)t.bytes, (long long)times[rounds / 2],
           (long long)times[0], rounds);
    free(times);
    store_close(s);
    return 0;
}
