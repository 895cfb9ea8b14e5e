/*
 * The audit log's buffer, its flusher thread, the keyed hash chain and its
 * verification. The hash of a row is BLAKE2b-256 keyed with the node's
 * audit key over the previous hash and the row's fields, each length-
 * prefixed so that no two different rows serialise alike.
 */
#include "audit/audit.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sign/sign.h"
#include "util/kztime.h"

struct audit_log {
    struct store *store;
    unsigned char key[AUDIT_KEY_BYTES];
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct store_audit *pending;
    size_t n;
    pthread_t thread;
    int running;
    int stopping;
    pthread_mutex_t write_lock; /* one flush at a time */
};

void audit_markings_text(const uint64_t *counts, char *out, size_t cap)
{
    static const char *const names[] = {"unmarked", "clear",        "green",
                                        "amber",    "amber+strict", "red"};
    size_t n = 0;

    out[0] = '\0';
    for (int i = 1; i <= STIX_TLP_RED + 1 && n < cap; i++) {
        int t = i % (STIX_TLP_RED + 1); /* unmarked last */
        if (!counts[t])
            continue;
        int w = snprintf(out + n, cap - n, "%s%s=%llu", n ? " " : "", names[t],
                         (unsigned long long)counts[t]);
        if (w > 0)
            n += (size_t)w;
    }
}

static void add_field(crypto_generichash_state *st, const void *p, size_t n)
{
    unsigned char len[8];

    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)n >> (8 * i));
    crypto_generichash_update(st, len, sizeof(len));
    crypto_generichash_update(st, p, n);
}

static void add_int(crypto_generichash_state *st, int64_t v)
{
    unsigned char b[8];

    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)v >> (8 * i));
    add_field(st, b, sizeof(b));
}

static void row_hash(const unsigned char key[AUDIT_KEY_BYTES], const struct store_audit *a,
                     unsigned char out[STORE_AUDIT_HASH_LEN])
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, key, AUDIT_KEY_BYTES, STORE_AUDIT_HASH_LEN);
    add_field(&st, a->prev, STORE_AUDIT_HASH_LEN);
    add_int(&st, a->seq);
    add_int(&st, a->ts_us);
    add_field(&st, a->user, strlen(a->user));
    add_field(&st, a->remote, strlen(a->remote));
    add_field(&st, a->action, strlen(a->action));
    add_field(&st, a->collection, strlen(a->collection));
    add_int(&st, (int64_t)a->count);
    add_field(&st, a->markings, strlen(a->markings));
    add_field(&st, a->detail, strlen(a->detail));
    crypto_generichash_final(&st, out, STORE_AUDIT_HASH_LEN);
}

static void head_mac(const unsigned char key[AUDIT_KEY_BYTES], int64_t seq,
                     const unsigned char hash[STORE_AUDIT_HASH_LEN],
                     unsigned char out[STORE_AUDIT_HASH_LEN])
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, key, AUDIT_KEY_BYTES, STORE_AUDIT_HASH_LEN);
    add_field(&st, "head", 4);
    add_int(&st, seq);
    add_field(&st, hash, STORE_AUDIT_HASH_LEN);
    crypto_generichash_final(&st, out, STORE_AUDIT_HASH_LEN);
}

static void chain(void *ctx, int64_t seq, const unsigned char hash[STORE_AUDIT_HASH_LEN],
                  struct store_audit *rows, size_t n, unsigned char mac[STORE_AUDIT_HASH_LEN])
{
    const unsigned char *key = ctx;
    const unsigned char *prev = hash;

    for (size_t i = 0; i < n; i++) {
        rows[i].seq = seq + 1 + (int64_t)i;
        memcpy(rows[i].prev, prev, STORE_AUDIT_HASH_LEN);
        row_hash(key, &rows[i], rows[i].hash);
        prev = rows[i].hash;
    }
    head_mac(key, rows[n - 1].seq, rows[n - 1].hash, mac);
}

int audit_flush(struct audit_log *l, struct kz_error *err)
{
    struct store_audit *rows;
    size_t n;
    int rc;

    pthread_mutex_lock(&l->write_lock);
    pthread_mutex_lock(&l->lock);
    rows = l->pending;
    n = l->n;
    l->pending = NULL;
    l->n = 0;
    pthread_mutex_unlock(&l->lock);
    rc = n ? store_audit_append(l->store, rows, n, chain, l->key, err) : 0;
    if (rc < 0) {
        /* keep the events for the next attempt rather than lose them */
        pthread_mutex_lock(&l->lock);
        if (!l->pending) {
            l->pending = rows;
            l->n = n;
            rows = NULL;
        }
        pthread_mutex_unlock(&l->lock);
    }
    free(rows);
    pthread_mutex_unlock(&l->write_lock);
    return rc;
}

static void *flusher(void *arg)
{
    struct audit_log *l = arg;
    struct kz_error err;

    pthread_mutex_lock(&l->lock);
    while (!l->stopping) {
        struct timespec ts;
        kz_deadline_ms(&ts, AUDIT_FLUSH_MS);
        pthread_cond_timedwait(&l->wake, &l->lock, &ts);
        if (!l->n)
            continue;
        pthread_mutex_unlock(&l->lock);
        audit_flush(l, &err);
        pthread_mutex_lock(&l->lock);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

struct audit_log *audit_log_open(const char *backend, const char *path,
                                 const unsigned char key[AUDIT_KEY_BYTES], int background,
                                 struct kz_error *err)
{
    struct audit_log *l = calloc(1, sizeof(*l));

    if (!l) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    memcpy(l->key, key, AUDIT_KEY_BYTES);
    pthread_mutex_init(&l->lock, NULL);
    pthread_mutex_init(&l->write_lock, NULL);
    pthread_cond_init(&l->wake, NULL);
    l->store = store_open(backend, path, 1, err);
    if (!l->store) {
        audit_log_close(l);
        return NULL;
    }
    if (background && pthread_create(&l->thread, NULL, flusher, l) == 0)
        l->running = 1;
    return l;
}

void audit_log_close(struct audit_log *l)
{
    struct kz_error err;

    if (!l)
        return;
    if (l->running) {
        pthread_mutex_lock(&l->lock);
        l->stopping = 1;
        pthread_cond_signal(&l->wake);
        pthread_mutex_unlock(&l->lock);
        pthread_join(l->thread, NULL);
    }
    if (l->store)
        audit_flush(l, &err);
    store_close(l->store);
    free(l->pending);
    pthread_cond_destroy(&l->wake);
    pthread_mutex_destroy(&l->lock);
    pthread_mutex_destroy(&l->write_lock);
    sodium_memzero(l->key, sizeof(l->key));
    free(l);
}

static void fill(struct store_audit *a, const struct audit_event *e)
{
    memset(a, 0, sizeof(*a));
    a->ts_us = kz_now_micros();
    snprintf(a->user, sizeof(a->user), "%s", e->user ? e->user : "");
    snprintf(a->remote, sizeof(a->remote), "%s", e->remote ? e->remote : "");
    snprintf(a->action, sizeof(a->action), "%s", e->action ? e->action : "");
    snprintf(a->collection, sizeof(a->collection), "%s", e->collection ? e->collection : "");
    a->count = e->count;
    audit_markings_text(e->markings, a->markings, sizeof(a->markings));
    snprintf(a->detail, sizeof(a->detail), "%s", e->detail ? e->detail : "");
}

void audit_record(struct audit_log *l, const struct audit_event *e)
{
    struct kz_error err;
    int full;

    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    full = l->n >= AUDIT_MAX_PENDING;
    pthread_mutex_unlock(&l->lock);
    if (full)
        audit_flush(l, &err);
    pthread_mutex_lock(&l->lock);
    if (l->n % 256 == 0) {
        struct store_audit *p = realloc(l->pending, (l->n + 256) * sizeof(*p));
        if (!p) {
            pthread_mutex_unlock(&l->lock);
            return;
        }
        l->pending = p;
    }
    fill(&l->pending[l->n++], e);
    pthread_mutex_unlock(&l->lock);
}

struct verify_ctx {
    const unsigned char *key;
    int64_t expect_seq;
    unsigned char prev[STORE_AUDIT_HASH_LEN];
    int broken;
    struct kz_error *err;
};

static int verify_row(void *ctx, const struct store_audit *a)
{
    struct verify_ctx *v = ctx;
    unsigned char h[STORE_AUDIT_HASH_LEN];

    if (a->seq != v->expect_seq) {
        v->broken = 1;
        kz_error_set(v->err, KZ_EINVALID, "audit row %lld is missing (found %lld next)",
                     (long long)v->expect_seq, (long long)a->seq);
        return -1;
    }
    if (sodium_memcmp(a->prev, v->prev, sizeof(v->prev)) != 0) {
        v->broken = 1;
        kz_error_set(v->err, KZ_EINVALID, "audit row %lld does not follow row %lld",
                     (long long)a->seq, (long long)a->seq - 1);
        return -1;
    }
    row_hash(v->key, a, h);
    if (sodium_memcmp(h, a->hash, sizeof(h)) != 0) {
        v->broken = 1;
        kz_error_set(v->err, KZ_EINVALID, "audit row %lld was altered", (long long)a->seq);
        return -1;
    }
    memcpy(v->prev, a->hash, sizeof(v->prev));
    v->expect_seq++;
    return 0;
}

int audit_verify(struct store *s, const unsigned char key[AUDIT_KEY_BYTES], int64_t *rows,
                 struct kz_error *err)
{
    struct verify_ctx v = {.key = key, .expect_seq = 1, .err = err};
    unsigned char head_hash[STORE_AUDIT_HASH_LEN], mac[STORE_AUDIT_HASH_LEN],
            want[STORE_AUDIT_HASH_LEN];
    int64_t head_seq;

    memset(v.prev, 0, sizeof(v.prev));
    *rows = 0;
    if (store_audit_each(s, INT64_MIN, NULL, verify_row, &v, err) < 0)
        return -1;
    *rows = v.expect_seq - 1;
    if (v.broken)
        return -1;
    if (store_audit_head(s, &head_seq, head_hash, mac, err) < 0)
        return -1;
    if (head_seq == 0 && *rows == 0)
        return 0;
    head_mac(key, head_seq, head_hash, want);
    if (sodium_memcmp(want, mac, sizeof(want)) != 0)
        return kz_error_set(err, KZ_EINVALID, "the audit log's head was altered");
    if (head_seq != *rows || sodium_memcmp(head_hash, v.prev, sizeof(v.prev)) != 0)
        return kz_error_set(err, KZ_EINVALID,
                            "the audit log ends at row %lld but its head says %lld: rows were "
                            "removed from the end",
                            (long long)*rows, (long long)head_seq);
    return 0;
}
