/*
 * Benchmark of putting objects into the PostgreSQL store one call per
 * object against store_put_many, in the same run on the same server: N
 * indicators (default 20,000) in transactions of 1,000 (a TAXII POST),
 * given to the store in batches of STORE_PUT_BATCH, either as a
 * store_put per object or as one store_put_many per batch; and the same
 * with the owner look-up ingest does before it (store_object_owner per
 * object against store_object_owners per batch). Only the store's calls
 * are timed (begin to commit), not the parsing of the objects. Prints
 * objects per second for each and the ratio. bench/bench_pg_put.sh starts
 * a throw-away PostgreSQL that flushes its commits (KZ_PG_FSYNC=on) and
 * runs it.
 *
 *   bench_pg_put DSN [N]
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

#define GREEN_MARK "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
#define PER_TX     1000

struct batch {
    struct kzj_doc doc[STORE_PUT_BATCH];
    struct stix_obj o[STORE_PUT_BATCH];
    struct store_put_item it[STORE_PUT_BATCH];
    const char *ids[STORE_PUT_BATCH];
    int64_t versions[STORE_PUT_BATCH];
    struct store_owner owners[STORE_PUT_BATCH];
    char json[STORE_PUT_BATCH][768];
    unsigned n;
};

static const struct store_put_meta meta = {.producer = 2, .submitter = 2};

/* Parses objects from..from+n of a mode's series into b. */
static int fill(struct batch *b, int mode, long from, unsigned n, struct kz_error *err)
{
    b->n = n;
    for (unsigned k = 0; k < n; k++) {
        long i = from + k;
        int len =
                snprintf(b->json[k], sizeof(b->json[k]),
                         "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--"
                         "%08lx-000%d-4000-8000-%012lx\",\"created\":\"2020-01-01T00:00:00.000Z\","
                         "\"modified\":\"2020-01-01T00:00:00.000Z\",\"name\":\"bench %ld\","
                         "\"object_marking_refs\":[\"" GREEN_MARK "\"],\"pattern\":"
                         "\"[ipv4-addr:value = '10.%ld.%ld.%ld']\",\"pattern_type\":\"stix\","
                         "\"valid_from\":\"2020-01-01T00:00:00Z\"}",
                         i, mode, i, i, (i >> 16) & 255, (i >> 8) & 255, i & 255);

        if (kzj_parse(&b->doc[k], b->json[k], (size_t)len, err) < 0 ||
            stix_obj_read(&b->doc[k], 0, &b->o[k], err) < 0)
            return -1;
        b->it[k] = (struct store_put_item){
                .o = &b->o[k], .raw = b->json[k], .rawlen = (size_t)len, .meta = &meta};
        b->ids[k] = b->o[k].id;
        b->versions[k] = b->o[k].version_us;
    }
    return 0;
}

/* Hands b to the store: one call per object, or one per batch; with the
 * owners looked up first when owners is set. */
static int put_batch(struct store *s, int64_t coll, struct batch *b, int many, int owners,
                     struct kz_error *err)
{
    enum store_put_result res;
    int64_t added;

    if (owners && many &&
        store_object_owners(s, coll, b->n, b->ids, b->versions, b->owners, err) < 0)
        return -1;
    if (many) {
        if (store_put_many(s, coll, b->it, b->n, err) < 0)
            return -1;
        for (unsigned k = 0; k < b->n; k++)
            if (b->it[k].result != STORE_ADDED)
                return kz_error_set(err, KZ_EINTERNAL, "object %u not added", k);
        return 0;
    }
    for (unsigned k = 0; k < b->n; k++) {
        if (owners &&
            store_object_owner(s, coll, b->ids[k], b->versions[k], &b->owners[k], err) < 0)
            return -1;
        if (store_put(s, coll, b->it[k].o, b->it[k].raw, b->it[k].rawlen, &meta, &res, &added,
                      err) < 0)
            return -1;
        if (res != STORE_ADDED)
            return kz_error_set(err, KZ_EINTERNAL, "object %u not added", k);
    }
    return 0;
}

/* Puts n objects into a new collection; returns the µs the store took,
 * *committing those its commits took. */
static int64_t run(struct store *s, struct batch *b, int mode, long n, int many, int owners,
                   int64_t *committing, struct kz_error *err)
{
    struct store_collection c = {.api_root = "bench"};
    int64_t spent = 0, t0;

    snprintf(c.alias, sizeof(c.alias), "mode%d", mode);
    if (store_collection_add(s, &c, err) < 0)
        return -1;
    for (long i = 0; i < n; i += PER_TX) {
        long end = i + PER_TX < n ? i + PER_TX : n;

        t0 = kz_now_micros();
        if (store_begin(s, err) < 0)
            return -1;
        spent += kz_now_micros() - t0;
        for (long j = i; j < end; j += STORE_PUT_BATCH) {
            unsigned k = (unsigned)(end - j < STORE_PUT_BATCH ? end - j : STORE_PUT_BATCH);

            if (fill(b, mode, j, k, err) < 0)
                return -1;
            t0 = kz_now_micros();
            if (put_batch(s, c.key, b, many, owners, err) < 0)
                return -1;
            spent += kz_now_micros() - t0;
        }
        t0 = kz_now_micros();
        if (store_commit(s, err) < 0)
            return -1;
        spent += kz_now_micros() - t0;
        *committing += kz_now_micros() - t0;
    }
    return spent;
}

int main(int argc, char **argv)
{
    struct store_api_root root = {.name = "bench", .max_content_length = 1 << 20};
    static const char *const names[] = {"store_put", "store_put_many",
                                        "store_object_owner + store_put",
                                        "store_object_owners + store_put_many"};
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 20000;
    double rate[4];
    struct kz_error err;
    struct batch *b;
    struct store *s;

    if (argc < 2 || sodium_init() < 0 || n < 1) {
        fprintf(stderr, "usage: bench_pg_put DSN [N]\n");
        return 2;
    }
    kz_error_clear(&err);
    b = calloc(1, sizeof(*b));
    s = store_open("postgresql", argv[1], 1, &err);
    if (!b || !s || store_api_root_add(s, &root, &err) < 0) {
        fprintf(stderr, "bench_pg_put: %s\n", err.text);
        return 1;
    }
    for (unsigned k = 0; k < STORE_PUT_BATCH; k++)
        kzj_doc_init(&b->doc[k]);
    printf("%ld indicators, %d per transaction, batches of %d\n", n, PER_TX, STORE_PUT_BATCH);
    for (int mode = 0; mode < 4; mode++) {
        int64_t committing = 0, us = run(s, b, mode, n, mode & 1, mode >> 1, &committing, &err);

        if (us < 0) {
            fprintf(stderr, "bench_pg_put: %s: %s\n", names[mode], err.text);
            return 1;
        }
        rate[mode] = (double)n * 1e6 / (double)(us ? us : 1);
        printf("%-38s %10.0f objects/s (commits: %2.0f%% of the time)\n", names[mode], rate[mode],
               100.0 * (double)committing / (double)(us ? us : 1));
        fflush(stdout);
    }
    printf("ratio, put: %.2f; owner and put: %.2f\n", rate[1] / rate[0], rate[3] / rate[2]);
    for (unsigned k = 0; k < STORE_PUT_BATCH; k++)
        kzj_doc_free(&b->doc[k]);
    free(b);
    store_close(s);
    return 0;
}
