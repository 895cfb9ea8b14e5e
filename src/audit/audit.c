/*
 * The audit log's queue, its flusher thread (group commit), the keyed hash
 * chain, the main store's witness of the head, and verification. The hash
 * of a row is BLAKE2b-256 keyed with the node's audit key over the previous
 * hash and the row's fields, each length-prefixed so that no two different
 * rows serialise alike.
 *
 * Tickets: every recorded row gets the next ticket; the queue always holds
 * the tickets durable+1 .. queued in order (a failed commit puts its rows
 * back in front), so "my row is committed" is "durable >= my ticket".
 */
#include "audit/audit.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "util/buf.h"
#include "util/kztime.h"

struct audit_log {
    struct store *store;
    unsigned char key[AUDIT_KEY_BYTES];
    int syslog;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the flusher: rows are queued, or stop */
    pthread_cond_t done; /* the recorders: a commit attempt ended */
    struct store_audit *pending;
    size_t n, cap;
    int pending_durable; /* a queued row wants to be synced */
    uint64_t queued;     /* the last ticket handed out */
    uint64_t durable;    /* every ticket up to here is committed */
    uint64_t tried;      /* every ticket up to here was in an attempt that ended */
    pthread_t thread;
    int running;
    int stopping;
    pthread_mutex_t write_lock; /* one commit at a time; also guards what follows */
    /* the head as last committed, and the main store's witness of it */
    int64_t head_seq;
    unsigned char head_hash[STORE_AUDIT_HASH_LEN], head_mac[STORE_AUDIT_HASH_LEN];
    unsigned char next_mac[STORE_AUDIT_HASH_LEN]; /* the MAC chain() made, until committed */
    char backend[32];
    char witness_path[1024];
    struct store *witness;
    int64_t witnessed_seq;
    int64_t witnessed_at_us;
    int witness_broken; /* audit.db lost what the witness saw: keep that evidence */
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
    struct audit_log *l = ctx;
    const unsigned char *key = l->key;
    const unsigned char *prev = hash;

    for (size_t i = 0; i < n; i++) {
        rows[i].seq = seq + 1 + (int64_t)i;
        memcpy(rows[i].prev, prev, STORE_AUDIT_HASH_LEN);
        row_hash(key, &rows[i], rows[i].hash);
        prev = rows[i].hash;
    }
    head_mac(key, rows[n - 1].seq, rows[n - 1].hash, mac);
    memcpy(l->next_mac, mac, STORE_AUDIT_HASH_LEN);
}

/* A field of a syslog line: quoted and escaped, since users, addresses
 * and paths come from outside. */
static void syslog_field(struct kz_buf *b, const char *name, const char *v)
{
    kz_buf_printf(b, " %s=\"", name);
    kz_buf_add_json_escaped(b, v, strlen(v));
    kz_buf_addc(b, '"');
}

static void to_syslog(const struct store_audit *rows, size_t n)
{
    struct kz_buf b;

    for (size_t i = 0; i < n; i++) {
        const struct store_audit *a = &rows[i];
        kz_buf_init(&b, 4096);
        kz_buf_printf(&b, "audit seq=%lld", (long long)a->seq);
        syslog_field(&b, "user", a->user);
        syslog_field(&b, "remote", a->remote);
        syslog_field(&b, "action", a->action);
        syslog_field(&b, "collection", a->collection);
        kz_buf_printf(&b, " count=%llu", (unsigned long long)a->count);
        syslog_field(&b, "markings", a->markings);
        syslog_field(&b, "detail", a->detail);
        if (!b.failed)
            syslog(LOG_AUTHPRIV | LOG_INFO, "%s", b.data);
        kz_buf_free(&b);
    }
}

/* Moves the main store's witness to the head (write_lock held). Never
 * when audit.db lost rows the witness saw: that evidence stays. */
static void witness_move(struct audit_log *l)
{
    struct kz_error err;

    if (!l->witness_path[0] || l->witness_broken || l->head_seq <= l->witnessed_seq)
        return;
    if (!l->witness)
        l->witness = store_open(l->backend, l->witness_path, 0, &err);
    if (l->witness &&
        store_audit_witness(l->witness, l->head_seq, l->head_hash, l->head_mac, &err) == 0) {
        l->witnessed_seq = l->head_seq;
        l->witnessed_at_us = kz_mono_micros();
    }
}

/* Commits what is queued. Returns -1 when the commit failed (the rows go
 * back to the front of the queue). */
static int flush(struct audit_log *l, struct kz_error *err)
{
    struct store_audit *rows;
    size_t n;
    int durable, rc;
    uint64_t last;

    pthread_mutex_lock(&l->write_lock);
    pthread_mutex_lock(&l->lock);
    rows = l->pending;
    n = l->n;
    durable = l->pending_durable;
    last = l->durable + n;
    l->pending = NULL;
    l->n = l->cap = 0;
    l->pending_durable = 0;
    pthread_mutex_unlock(&l->lock);
    rc = n ? store_audit_append(l->store, rows, n, chain, l, durable, err) : 0;
    pthread_mutex_lock(&l->lock);
    if (rc == 0) {
        l->durable = last;
    } else {
        /* keep the rows, in front of any queued since, for the next attempt */
        struct store_audit *all = malloc((n + l->n) * sizeof(*all));
        if (all) {
            memcpy(all, rows, n * sizeof(*rows));
            if (l->n)
                memcpy(all + n, l->pending, l->n * sizeof(*all));
            free(l->pending);
            l->pending = all;
            l->n += n;
            l->cap = l->n;
            l->pending_durable |= durable;
        } else {
            /* out of memory: these rows are lost, and their recorders told */
            l->durable = last;
        }
    }
    if (l->tried < last)
        l->tried = last;
    pthread_cond_broadcast(&l->done);
    pthread_mutex_unlock(&l->lock);
    if (rc == 0 && n) {
        l->head_seq = rows[n - 1].seq;
        memcpy(l->head_hash, rows[n - 1].hash, STORE_AUDIT_HASH_LEN);
        memcpy(l->head_mac, l->next_mac, STORE_AUDIT_HASH_LEN);
        if (l->syslog)
            to_syslog(rows, n);
        if (!l->running || kz_mono_micros() - l->witnessed_at_us >= AUDIT_WITNESS_MS * 1000)
            witness_move(l);
    }
    free(rows);
    pthread_mutex_unlock(&l->write_lock);
    return rc;
}

static void *flusher(void *arg)
{
    struct audit_log *l = arg;
    struct kz_error err;
    int failed = 0;

    pthread_mutex_lock(&l->lock);
    while (!l->stopping) {
        if (!l->n || failed) {
            struct timespec ts;
            /* idle: wake for rows, for a retry, or to move the witness */
            kz_deadline_ms(&ts, failed ? AUDIT_RETRY_MS : AUDIT_WITNESS_MS);
            pthread_cond_timedwait(&l->wake, &l->lock, &ts);
            failed = 0;
            if (!l->n) {
                pthread_mutex_unlock(&l->lock);
                pthread_mutex_lock(&l->write_lock);
                witness_move(l);
                pthread_mutex_unlock(&l->write_lock);
                pthread_mutex_lock(&l->lock);
                continue;
            }
        }
        pthread_mutex_unlock(&l->lock);
        failed = flush(l, &err) < 0;
        pthread_mutex_lock(&l->lock);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

/* Reads the witness and checks audit.db still holds what it saw. */
static int witness_check(struct audit_log *l, struct kz_error *err)
{
    unsigned char hash[STORE_AUDIT_HASH_LEN], mac[STORE_AUDIT_HASH_LEN];
    struct store_audit row;
    struct kz_error e2;
    int64_t seq;

    l->witness = store_open(l->backend, l->witness_path, 0, err);
    if (!l->witness || store_audit_head(l->witness, &seq, hash, mac, err) < 0)
        return -1;
    l->witnessed_seq = seq;
    if (seq > 0 && (store_audit_get(l->store, seq, &row, &e2) < 0 ||
                    sodium_memcmp(row.hash, hash, sizeof(hash)) != 0))
        l->witness_broken = 1;
    return 0;
}

struct audit_log *audit_log_open(const struct audit_opts *o,
                                 const unsigned char key[AUDIT_KEY_BYTES], struct kz_error *err)
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
    pthread_cond_init(&l->done, NULL);
    snprintf(l->backend, sizeof(l->backend), "%s", o->backend);
    if (o->witness_path)
        snprintf(l->witness_path, sizeof(l->witness_path), "%s", o->witness_path);
    l->syslog = o->syslog;
    if (l->syslog)
        openlog("kizuna", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
    l->store = store_open(o->backend, o->path, 1, err);
    if (!l->store || store_audit_head(l->store, &l->head_seq, l->head_hash, l->head_mac, err) < 0 ||
        (l->witness_path[0] && witness_check(l, err) < 0)) {
        audit_log_close(l);
        return NULL;
    }
    if (o->background && pthread_create(&l->thread, NULL, flusher, l) == 0)
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
        l->running = 0;
    }
    if (l->store) {
        flush(l, &err);
        pthread_mutex_lock(&l->write_lock);
        witness_move(l);
        pthread_mutex_unlock(&l->write_lock);
    }
    store_close(l->witness);
    store_close(l->store);
    free(l->pending);
    pthread_cond_destroy(&l->wake);
    pthread_cond_destroy(&l->done);
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

int audit_record(struct audit_log *l, const struct audit_event *e, struct kz_error *err)
{
    uint64_t ticket;
    int ok;

    if (!l)
        return 0;
    pthread_mutex_lock(&l->lock);
    while (l->running && l->n >= AUDIT_MAX_PENDING)
        pthread_cond_wait(&l->done, &l->lock);
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct store_audit *p = realloc(l->pending, cap * sizeof(*p));
        if (!p) {
            pthread_mutex_unlock(&l->lock);
            return kz_error_set(err, KZ_ENOMEM, "out of memory for the audit log");
        }
        l->pending = p;
        l->cap = cap;
    }
    fill(&l->pending[l->n++], e);
    l->pending_durable |= e->durable;
    ticket = ++l->queued;
    if (!l->running) {
        pthread_mutex_unlock(&l->lock);
        return flush(l, err);
    }
    pthread_cond_signal(&l->wake);
    while (l->tried < ticket && l->durable < ticket)
        pthread_cond_wait(&l->done, &l->lock);
    ok = l->durable >= ticket;
    pthread_mutex_unlock(&l->lock);
    return ok ? 0 : kz_error_set(err, KZ_EIO, "the audit log could not be written");
}

int audit_head(struct audit_log *l, int64_t seen, struct audit_head *out, struct kz_error *err)
{
    struct store_audit row;
    int rc = 0;

    unsigned char mac[STORE_AUDIT_HASH_LEN];

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&l->write_lock);
    /* from the database, not from memory: the CLI appends too */
    rc = store_audit_head(l->store, &out->seq, out->hash, mac, err);
    out->seen_seq = seen;
    if (rc == 0 && seen > 0 && seen <= out->seq) {
        rc = store_audit_get(l->store, seen, &row, err);
        if (rc == 0) {
            out->seen_found = 1;
            memcpy(out->seen_hash, row.hash, sizeof(out->seen_hash));
        } else if (err->code == KZ_ENOTFOUND) {
            rc = 0;
        }
    }
    pthread_mutex_unlock(&l->write_lock);
    return rc;
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

/* Whether the log still holds the head the main store witnessed. */
static int verify_witness(struct store *s, struct store *witness,
                          const unsigned char key[AUDIT_KEY_BYTES], int64_t rows,
                          struct kz_error *err)
{
    unsigned char hash[STORE_AUDIT_HASH_LEN], mac[STORE_AUDIT_HASH_LEN], want[STORE_AUDIT_HASH_LEN];
    struct store_audit row;
    int64_t seq;

    if (store_audit_head(witness, &seq, hash, mac, err) < 0)
        return -1;
    if (seq == 0)
        return 0;
    head_mac(key, seq, hash, want);
    if (sodium_memcmp(want, mac, sizeof(want)) != 0)
        return kz_error_set(err, KZ_EINVALID,
                            "the head of the audit log recorded in the main store was altered");
    if (rows < seq)
        return kz_error_set(err, KZ_EINVALID,
                            "the audit log ends at row %lld but the node recorded row %lld: "
                            "audit.db was removed, emptied, truncated or rolled back",
                            (long long)rows, (long long)seq);
    if (store_audit_get(s, seq, &row, err) < 0 || sodium_memcmp(row.hash, hash, sizeof(hash)) != 0)
        return kz_error_set(err, KZ_EINVALID,
                            "audit row %lld is not the one the node recorded: the log was "
                            "replaced",
                            (long long)seq);
    return 0;
}

int audit_verify(struct store *s, struct store *witness, const unsigned char key[AUDIT_KEY_BYTES],
                 int64_t *rows, struct kz_error *err)
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
        return witness ? verify_witness(s, witness, key, 0, err) : 0;
    head_mac(key, head_seq, head_hash, want);
    if (sodium_memcmp(want, mac, sizeof(want)) != 0)
        return kz_error_set(err, KZ_EINVALID, "the audit log's head was altered");
    if (head_seq != *rows || sodium_memcmp(head_hash, v.prev, sizeof(v.prev)) != 0)
        return kz_error_set(err, KZ_EINVALID,
                            "the audit log ends at row %lld but its head says %lld: rows were "
                            "removed from the end",
                            (long long)*rows, (long long)head_seq);
    return witness ? verify_witness(s, witness, key, *rows, err) : 0;
}
