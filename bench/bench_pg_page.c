/*
 * Benchmark of the PostgreSQL store's costs against the size of a
 * collection: fills one collection to each size given (objects put 1,000
 * per transaction) and times, at each size, one TAXII-like page (100
 * objects from the middle, by added_after, with their text, under a
 * reader's visibility with relationship gating), one lookup by id (all
 * versions), and one put in a transaction of its own. Prints the median
 * of ROUNDS runs of each, in microseconds: with the table keyed
 * (collection, added) and the id index, none of them should grow with
 * the collection. bench/bench_pg_page.sh starts a throw-away PostgreSQL
 * and runs it.
 *
 *   bench_pg_page DSN [N...]      (default N: 10000 100000; ROUNDS=51)
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "stix/stix.h"
#include "store/store.h"
#include "store/store_objects.h"
#include "util/kztime.h"

#define CLEAR_MARK "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
#define GREEN_MARK "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static int64_t median(int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    return v[n / 2];
}

static void object_id(long i, char *out, size_t cap)
{
    snprintf(out, cap, "indicator--%08lx-0000-4000-8000-%012lx", i, i);
}

/* Puts object i; fills *added. */
static int put_one(struct store *s, int64_t coll, struct kzj_doc *doc, long i, int64_t *added,
                   struct kz_error *err)
{
    char id[64], json[768];
    struct stix_obj o;
    enum store_put_result res;
    struct store_put_meta meta = {.producer = 1 + i % 3};
    int n;

    object_id(i, id, sizeof(id));
    n = snprintf(json, sizeof(json),
                 "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"%s\","
                 "\"created\":\"2020-01-01T00:00:00.000Z\",\"modified\":"
                 "\"2020-01-01T00:00:00.000Z\",\"name\":\"bench %ld\","
                 "\"object_marking_refs\":[\"%s\"],\"pattern\":\"[ipv4-addr:value = "
                 "'10.%ld.%ld.%ld']\",\"pattern_type\":\"stix\",\"valid_from\":"
                 "\"2020-01-01T00:00:00Z\"}",
                 id, i, i % 2 ? GREEN_MARK : CLEAR_MARK, (i >> 16) & 255, (i >> 8) & 255, i & 255);
    if (kzj_parse(doc, json, (size_t)n, err) < 0 || stix_obj_read(doc, 0, &o, err) < 0)
        return -1;
    return store_put(s, coll, &o, json, (size_t)n, &meta, &res, added, err);
}

static int fill(struct store *s, int64_t coll, struct kzj_doc *doc, long from, long to,
                int64_t *added, struct kz_error *err)
{
    for (long i = from; i < to; i += 1000) {
        if (store_begin(s, err) < 0)
            return -1;
        for (long j = i; j < to && j < i + 1000; j++) {
            if (put_one(s, coll, doc, j, &added[j], err) < 0) {
                store_rollback(s);
                return -1;
            }
        }
        if (store_commit(s, err) < 0)
            return -1;
    }
    return 0;
}

static int on_row(void *ctx, const struct store_row *r, struct kz_error *err)
{
    size_t *bytes = ctx;

    (void)err;
    *bytes += r->rawlen;
    return 0;
}

int main(int argc, char **argv)
{
    static const long def_sizes[] = {10000, 100000};
    const char *env = getenv("ROUNDS");
    int rounds = env ? (int)strtol(env, NULL, 10) : 51, nsizes = argc > 2 ? argc - 2 : 2;
    struct store_api_root root = {.name = "bench", .max_content_length = 1 << 20};
    struct store_collection c = {.alias = "bench", .api_root = "bench"};
    struct kz_error err;
    struct kzj_doc doc;
    struct store *s;
    int64_t *added = NULL, *page_us, *id_us, *put_us;
    long filled = 0, max = 0, sizes[16];

    if (argc < 2 || sodium_init() < 0 || rounds < 1 || nsizes > 16) {
        fprintf(stderr, "usage: bench_pg_page DSN [N...]\n");
        return 2;
    }
    for (int i = 0; i < nsizes; i++) {
        sizes[i] = argc > 2 ? strtol(argv[2 + i], NULL, 10) : def_sizes[i];
        if (sizes[i] < 2 || sizes[i] <= max) {
            fprintf(stderr, "sizes must grow, from 2\n");
            return 2;
        }
        max = sizes[i];
    }
    kz_error_clear(&err);
    kzj_doc_init(&doc);
    s = store_open("postgresql", argv[1], 1, &err);
    added = calloc((size_t)max + (size_t)rounds * (size_t)nsizes, sizeof(*added));
    page_us = calloc((size_t)rounds, sizeof(*page_us));
    id_us = calloc((size_t)rounds, sizeof(*id_us));
    put_us = calloc((size_t)rounds, sizeof(*put_us));
    if (!s || !added || !page_us || !id_us || !put_us || store_api_root_add(s, &root, &err) < 0 ||
        store_collection_add(s, &c, &err) < 0) {
        fprintf(stderr, "bench_pg_page: %s\n", err.text);
        return 1;
    }
    printf("%10s %10s %10s %10s %12s\n", "objects", "page us", "by id us", "put us", "page bytes");
    for (int k = 0; k < nsizes; k++) {
        size_t bytes = 0;

        if (fill(s, c.key, &doc, filled, sizes[k], added, &err) < 0) {
            fprintf(stderr, "bench_pg_page: filling: %s\n", err.text);
            return 1;
        }
        filled = sizes[k];
        for (int r = 0; r < rounds; r++) {
            struct store_filter f;
            struct store_page page;
            char id[64];
            int64_t t0, extra;

            /* a reader of organisation 2 at GREEN: half the objects */
            store_filter_init(&f, c.key);
            f.added_after = added[filled / 2 + r];
            f.limit = 100;
            f.vis = (struct store_visibility){.active = 1,
                                              .max_level = STIX_TLP_GREEN,
                                              .default_tlp = STIX_TLP_AMBER,
                                              .user = -1,
                                              .org = 2,
                                              .check_refs = 1};
            memset(&page, 0, sizeof(page));
            bytes = 0;
            t0 = kz_now_micros();
            if (store_list(s, &f, 1, on_row, &bytes, &page, &err) < 0 || page.count != 100)
                goto failed;
            page_us[r] = kz_now_micros() - t0;

            store_filter_init(&f, c.key);
            store_filter_everything(&f);
            object_id(filled / 3 + r, id, sizeof(id));
            f.ids[0] = id;
            f.nids = 1;
            f.versions = STORE_V_ALL;
            memset(&page, 0, sizeof(page));
            t0 = kz_now_micros();
            if (store_list(s, &f, 1, NULL, NULL, &page, &err) < 0 || page.count != 1)
                goto failed;
            id_us[r] = kz_now_micros() - t0;

            t0 = kz_now_micros();
            if (store_begin(s, &err) < 0 ||
                put_one(s, c.key, &doc, 100000000L + k * rounds + r, &extra, &err) < 0 ||
                store_commit(s, &err) < 0)
                goto failed;
            put_us[r] = kz_now_micros() - t0;
        }
        printf("%10ld %10lld %10lld %10lld %12zu\n", filled, (long long)median(page_us, rounds),
               (long long)median(id_us, rounds), (long long)median(put_us, rounds), bytes);
        fflush(stdout);
    }
    store_close(s);
    kzj_doc_free(&doc);
    free(added);
    free(page_us);
    free(id_us);
    free(put_us);
    return 0;
failed:
    fprintf(stderr, "bench_pg_page: %s\n", err.text[0] ? err.text : "a wrong count of rows");
    return 1;
}
