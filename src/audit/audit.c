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

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "store/store_audit.h"
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
    int urgent;          /* a recorder waits for the next commit */
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
    /* the journal (see journal_write): jfd -1 when there is none */
    int jfd[2];
    unsigned char *jmap[2]; /* each file mapped whole, AUDIT_JOURNAL_BYTES */
    size_t joff[2];         /* where the next record goes */
    int jactive;            /* the file appends go to */
    int jswitched;          /* the flush in progress switched files: empty the other after */
    int jdirty;             /* a commit failed: both files may hold uncommitted rows */
    char jpath[2][1100];
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
        l->witness = store_open_audit(l->backend, l->witness_path, 0, &err);
    if (l->witness &&
        store_audit_witness(l->witness, l->head_seq, l->head_hash, l->head_mac, &err) == 0) {
        l->witnessed_seq = l->head_seq;
        l->witnessed_at_us = kz_mono_micros();
    }
}

/* --- the journal ---------------------------------------------------------------
 *
 * A read is answered without waiting for a commit: its row is first copied
 * into the journal, a file mapped shared (the operating system's page cache
 * keeps it through a crash of the process; no system call per row), and
 * queued; the flusher commits it within AUDIT_FLUSH_MS. There are two
 * files: a flush takes the queue and switches appends to the other file in
 * the same critical section, so once its commit is done the file it left
 * holds only committed rows and is emptied, by moving its generation on
 * (records of an older generation are not read back). After a crash, the
 * next open of the log appends the journal's rows audit.db lacks (compared
 * by content) and empties both. The server holds a lock on the first file,
 * so no other process recovers a journal that is still in use. A file that
 * is full makes the next reads wait for their commit instead. */

#define JOURNAL_MAGIC   0x4b5a4131u /* "KZA1" */
#define JOURNAL_REC_MAX 1024
#define JOURNAL_HEADER  16 /* magic, then the file's generation */

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint64_t fnv64(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* A record: magic, length, ts, count, six length-prefixed strings, and a
 * checksum of all that (a torn record at the end is dropped). */
static size_t journal_encode(const struct store_audit *a, uint64_t gen,
                             unsigned char out[JOURNAL_REC_MAX])
{
    const char *f[] = {a->user, a->remote, a->action, a->collection, a->markings, a->detail};
    size_t n = 8;

    put_u64(out + n, gen);
    put_u64(out + n + 8, (uint64_t)a->ts_us);
    put_u64(out + n + 16, a->count);
    n += 24;
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        size_t k = strlen(f[i]);
        out[n] = (unsigned char)(k & 0xff);
        out[n + 1] = (unsigned char)(k >> 8);
        memcpy(out + n + 2, f[i], k);
        n += 2 + k;
    }
    for (int i = 0; i < 4; i++) {
        out[i] = (unsigned char)(JOURNAL_MAGIC >> (8 * i));
        out[4 + i] = (unsigned char)((n + 8) >> (8 * i));
    }
    put_u64(out + n, fnv64(out, n));
    return n + 8;
}

/* One record of generation gen at p[0..avail); its length, or 0 when it is
 * not a whole one. */
static size_t journal_decode(const unsigned char *p, size_t avail, uint64_t gen,
                             struct store_audit *a)
{
    struct {
        char *out;
        size_t cap;
    } f[] = {{a->user, sizeof(a->user)},         {a->remote, sizeof(a->remote)},
             {a->action, sizeof(a->action)},     {a->collection, sizeof(a->collection)},
             {a->markings, sizeof(a->markings)}, {a->detail, sizeof(a->detail)}};
    uint32_t magic = 0, len = 0;
    size_t n = 32;

    if (avail < 40)
        return 0;
    for (int i = 0; i < 4; i++) {
        magic |= (uint32_t)p[i] << (8 * i);
        len |= (uint32_t)p[4 + i] << (8 * i);
    }
    if (magic != JOURNAL_MAGIC || len < 40 || len > JOURNAL_REC_MAX || len > avail ||
        get_u64(p + len - 8) != fnv64(p, len - 8) || get_u64(p + 8) != gen)
        return 0;
    memset(a, 0, sizeof(*a));
    a->ts_us = (int64_t)get_u64(p + 16);
    a->count = get_u64(p + 24);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        size_t k;
        if (n + 2 > len - 8)
            return 0;
        k = (size_t)p[n] | (size_t)p[n + 1] << 8;
        if (n + 2 + k > len - 8 || k >= f[i].cap)
            return 0;
        memcpy(f[i].out, p + n + 2, k);
        n += 2 + k;
    }
    return len;
}

/* Appends a row to the active file (l->lock held); -1 when there is no
 * journal or no room left in the file. */
static int journal_write(struct audit_log *l, const struct store_audit *a)
{
    unsigned char rec[JOURNAL_REC_MAX];
    int f = l->jactive;
    size_t n;

    if (!l->jmap[0])
        return -1;
    n = journal_encode(a, get_u64(l->jmap[f] + 8), rec);
    if (l->joff[f] + n > AUDIT_JOURNAL_BYTES)
        return -1;
    memcpy(l->jmap[f] + l->joff[f], rec, n);
    l->joff[f] += n;
    return 0;
}

/* Empties file f: a new generation, whose records start at the header.
 * A log kept in a database server (PostgreSQL) has no journal: nothing to
 * empty, also after a failed commit marked it dirty. */
static void journal_empty(struct audit_log *l, int f)
{
    if (!l->jmap[f])
        return;
    put_u64(l->jmap[f] + 8, get_u64(l->jmap[f] + 8) + 1);
    l->joff[f] = JOURNAL_HEADER;
}

static int row_cmp(const void *x, const void *y)
{
    const struct store_audit *a = x, *b = y;

    if (a->ts_us != b->ts_us)
        return a->ts_us < b->ts_us ? -1 : 1;
    if (a->count != b->count)
        return a->count < b->count ? -1 : 1;
    return strcmp(a->user, b->user)               ? strcmp(a->user, b->user)
           : strcmp(a->remote, b->remote)         ? strcmp(a->remote, b->remote)
           : strcmp(a->action, b->action)         ? strcmp(a->action, b->action)
           : strcmp(a->collection, b->collection) ? strcmp(a->collection, b->collection)
           : strcmp(a->markings, b->markings)     ? strcmp(a->markings, b->markings)
                                                  : strcmp(a->detail, b->detail);
}

struct rows {
    struct store_audit *v;
    size_t n, cap;
};

static int rows_add(struct rows *r, const struct store_audit *a)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        struct store_audit *p = realloc(r->v, cap * sizeof(*p));
        if (!p)
            return -1;
        r->v = p;
        r->cap = cap;
    }
    r->v[r->n++] = *a;
    return 0;
}

static int collect_row(void *ctx, const struct store_audit *a)
{
    return rows_add(ctx, a);
}

/* Reads the records of each file's generation. */
static int journal_read(struct audit_log *l, struct rows *out)
{
    struct store_audit a;

    for (int f = 0; f < 2; f++) {
        const unsigned char *m = l->jmap[f];
        uint64_t gen = get_u64(m + 8);
        size_t off = JOURNAL_HEADER, k;
        if (get_u64(m) != JOURNAL_MAGIC)
            continue; /* a new file */
        while (off < AUDIT_JOURNAL_BYTES &&
               (k = journal_decode(m + off, AUDIT_JOURNAL_BYTES - off, gen, &a)) > 0) {
            if (rows_add(out, &a) < 0)
                return -1;
            off += k;
        }
    }
    return 0;
}

/* After a crash: appends the journal's rows that audit.db does not hold
 * (write_lock held, or no flusher yet) and empties the journal. */
static int journal_recover(struct audit_log *l, struct kz_error *err)
{
    struct rows j = {0}, db = {0}, missing = {0};
    size_t i = 0, k = 0;
    int rc = -1;

    if (journal_read(l, &j) < 0) {
        kz_error_set(err, KZ_ENOMEM, "out of memory reading the audit journal");
        goto out;
    }
    if (j.n == 0) {
        rc = 0;
        goto empty;
    }
    qsort(j.v, j.n, sizeof(*j.v), row_cmp);
    if (store_audit_each(l->store, j.v[0].ts_us, NULL, collect_row, &db, err) < 0)
        goto out;
    if (db.n)
        qsort(db.v, db.n, sizeof(*db.v), row_cmp);
    for (i = 0; i < j.n; i++) {
        while (k < db.n && row_cmp(&db.v[k], &j.v[i]) < 0)
            k++;
        if (k < db.n && row_cmp(&db.v[k], &j.v[i]) == 0) {
            k++;
            continue;
        }
        if (rows_add(&missing, &j.v[i]) < 0) {
            kz_error_set(err, KZ_ENOMEM, "out of memory reading the audit journal");
            goto out;
        }
    }
    if (missing.n && store_audit_append(l->store, missing.v, missing.n, chain, l, 1, err) < 0)
        goto out;
    if (missing.n) {
        l->head_seq = missing.v[missing.n - 1].seq;
        memcpy(l->head_hash, missing.v[missing.n - 1].hash, STORE_AUDIT_HASH_LEN);
        memcpy(l->head_mac, l->next_mac, STORE_AUDIT_HASH_LEN);
    }
    rc = 0;
empty:
    for (int f = 0; f < 2; f++) {
        put_u64(l->jmap[f], JOURNAL_MAGIC);
        journal_empty(l, f);
    }
out:
    free(j.v);
    free(db.v);
    free(missing.v);
    return rc;
}

static void journal_close(struct audit_log *l)
{
    for (int f = 0; f < 2; f++) {
        if (l->jmap[f])
            munmap(l->jmap[f], AUDIT_JOURNAL_BYTES);
        l->jmap[f] = NULL;
        if (l->jfd[f] >= 0)
            close(l->jfd[f]);
        l->jfd[f] = -1;
    }
}

/* Opens the journal beside path and recovers what a crash left. With keep
 * unset (the command line) it is closed again: only the server appends. A
 * journal locked by a running server is left alone. */
static int journal_open(struct audit_log *l, const char *path, int keep, struct kz_error *err)
{
    for (int f = 0; f < 2; f++) {
        snprintf(l->jpath[f], sizeof(l->jpath[f]), "%s-pending-%d", path, f);
        /* only a server makes the files; elsewhere there is nothing to
         * recover without them */
        l->jfd[f] = open(l->jpath[f], O_RDWR | O_CLOEXEC | (keep ? O_CREAT : 0), 0600);
        if (l->jfd[f] < 0 && !keep && errno == ENOENT) {
            journal_close(l);
            return 0;
        }
        if (l->jfd[f] < 0)
            goto fail;
    }
    if (flock(l->jfd[0], LOCK_EX | LOCK_NB) < 0) {
        journal_close(l); /* a server is running: its journal, its rows */
        return 0;
    }
    for (int f = 0; f < 2; f++) {
        struct stat st;
        void *m;
        /* the whole size at once, so that a full disk shows now, not as
         * SIGBUS on a write into the mapping later */
        if (fstat(l->jfd[f], &st) < 0)
            goto fail;
        if ((size_t)st.st_size < AUDIT_JOURNAL_BYTES && !keep) {
            journal_close(l); /* not a whole journal: no server wrote in it */
            return 0;
        }
        if ((size_t)st.st_size < AUDIT_JOURNAL_BYTES) {
            int rc = posix_fallocate(l->jfd[f], 0, (off_t)AUDIT_JOURNAL_BYTES);
            if (rc != 0) {
                errno = rc; /* it returns the error rather than set errno */
                goto fail;
            }
        }
        m = mmap(NULL, AUDIT_JOURNAL_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, l->jfd[f], 0);
        if (m == MAP_FAILED)
            goto fail;
        l->jmap[f] = m;
    }
    if (journal_recover(l, err) < 0) {
        journal_close(l);
        return -1;
    }
    if (!keep)
        journal_close(l);
    return 0;
fail:
    kz_error_file(err, l->jpath[0]);
    kz_error_set(err, KZ_EIO, "cannot open the audit journal: %s", strerror(errno));
    journal_close(l);
    return -1;
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
    l->urgent = 0;
    l->jswitched = 0;
    if (l->jmap[0] && !l->jdirty && n) {
        l->jactive ^= 1; /* the file left holds exactly this batch */
        l->jswitched = 1;
    }
    pthread_mutex_unlock(&l->lock);
    rc = n ? store_audit_append(l->store, rows, n, chain, l, durable, err) : 0;
    pthread_mutex_lock(&l->lock);
    if (rc == 0) {
        l->durable = last;
        if (l->jswitched)
            journal_empty(l, !l->jactive);
        if (l->jdirty && l->durable == l->queued) {
            /* everything journaled is committed */
            journal_empty(l, 0);
            journal_empty(l, 1);
            l->jdirty = 0;
        }
    } else {
        l->jdirty = 1;
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

/* Commits as soon as a recorder waits (a write, an account change), else
 * every AUDIT_FLUSH_MS: journaled reads need no hurry. */
static void *flusher(void *arg)
{
    struct audit_log *l = arg;
    struct kz_error err;
    int failed = 0;

    pthread_mutex_lock(&l->lock);
    while (!l->stopping) {
        if (!l->urgent || failed) {
            struct timespec ts;
            kz_deadline_ms(&ts, failed ? AUDIT_RETRY_MS : l->n ? AUDIT_FLUSH_MS : AUDIT_WITNESS_MS);
            pthread_cond_timedwait(&l->wake, &l->lock, &ts);
            failed = 0;
            if (l->stopping)
                break;
        }
        if (!l->n) {
            /* idle: the witness catches up with the last commits */
            l->urgent = 0;
            pthread_mutex_unlock(&l->lock);
            pthread_mutex_lock(&l->write_lock);
            witness_move(l);
            pthread_mutex_unlock(&l->write_lock);
            pthread_mutex_lock(&l->lock);
            continue;
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

    l->witness = store_open_audit(l->backend, l->witness_path, 0, err);
    if (!l->witness || store_audit_head(l->witness, &seq, hash, mac, err) < 0)
        return -1;
    l->witnessed_seq = seq;
    if (seq > 0 && (store_audit_get(l->store, seq, &row, &e2) < 0 ||
                    sodium_memcmp(row.hash, hash, sizeof(hash)) != 0))
        l->witness_broken = 1;
    return 0;
}

/* Whether the log's location is a file, beside which the journal goes.
 * A log in PostgreSQL (a DSN, shared by several servers) has none: each
 * read waits for its commit, shared with the reads around it. */
static int log_is_file(const char *backend)
{
    return strcmp(backend, "sqlite") == 0;
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
    l->jfd[0] = l->jfd[1] = -1;
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
    l->store = store_open_audit(o->backend, o->path, 1, err);
    if (!l->store || store_audit_head(l->store, &l->head_seq, l->head_hash, l->head_mac, err) < 0 ||
        (l->witness_path[0] && witness_check(l, err) < 0) ||
        (log_is_file(o->backend) && journal_open(l, o->path, o->background, err) < 0)) {
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
        if (l->jmap[0] && l->durable == l->queued) {
            journal_empty(l, 0);
            journal_empty(l, 1);
        }
    }
    journal_close(l);
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
    int ok, journaled;

    if (!l)
        return 0;
    pthread_mutex_lock(&l->lock);
    while (l->running && l->n >= AUDIT_MAX_PENDING) {
        l->urgent = 1;
        pthread_cond_signal(&l->wake);
        pthread_cond_wait(&l->done, &l->lock);
    }
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
    fill(&l->pending[l->n], e);
    /* a read journaled is safe from a crash of the process: no need to wait */
    journaled = l->running && !e->durable && journal_write(l, &l->pending[l->n]) == 0;
    l->n++;
    l->pending_durable |= e->durable;
    ticket = ++l->queued;
    if (!l->running) {
        pthread_mutex_unlock(&l->lock);
        return flush(l, err);
    }
    if (journaled) {
        pthread_mutex_unlock(&l->lock);
        return 0;
    }
    l->urgent = 1;
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
    struct kz_error e2;

    /* the head partners keep covers every request answered so far, the
     * journaled reads included */
    flush(l, &e2);
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
    int64_t head_seq; /* the head read before the rows */
    unsigned char at_head[STORE_AUDIT_HASH_LEN];
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
    if (a->seq == v->head_seq)
        memcpy(v->at_head, a->hash, sizeof(v->at_head));
    v->expect_seq++;
    return 0;
}

/* Whether the log still holds the head the main store witnessed (seq,
 * hash, mac as read before the log). */
static int verify_witness(struct store *s, const unsigned char key[AUDIT_KEY_BYTES], int64_t seq,
                          const unsigned char hash[STORE_AUDIT_HASH_LEN],
                          const unsigned char mac[STORE_AUDIT_HASH_LEN], int64_t rows,
                          struct kz_error *err)
{
    unsigned char want[STORE_AUDIT_HASH_LEN];
    struct store_audit row;

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
    if (store_audit_get(s, seq, &row, err) < 0 ||
        sodium_memcmp(row.hash, hash, STORE_AUDIT_HASH_LEN) != 0)
        return kz_error_set(err, KZ_EINVALID,
                            "audit row %lld is not the one the node recorded: the log was "
                            "replaced",
                            (long long)seq);
    return 0;
}

/* Reads the witness, then the head, then the rows: each is committed after
 * the one before, so a server appending meanwhile adds rows past the head
 * (checked like the others) and never makes the log look short. */
int audit_verify(struct store *s, struct store *witness, const unsigned char key[AUDIT_KEY_BYTES],
                 int64_t *rows, struct kz_error *err)
{
    struct verify_ctx v = {.key = key, .expect_seq = 1, .err = err};
    unsigned char head_hash[STORE_AUDIT_HASH_LEN], mac[STORE_AUDIT_HASH_LEN],
            want[STORE_AUDIT_HASH_LEN], w_hash[STORE_AUDIT_HASH_LEN], w_mac[STORE_AUDIT_HASH_LEN];
    int64_t w_seq = 0;

    memset(v.prev, 0, sizeof(v.prev));
    *rows = 0;
    if (witness && store_audit_head(witness, &w_seq, w_hash, w_mac, err) < 0)
        return -1;
    if (store_audit_head(s, &v.head_seq, head_hash, mac, err) < 0)
        return -1;
    if (store_audit_each(s, INT64_MIN, NULL, verify_row, &v, err) < 0)
        return -1;
    *rows = v.expect_seq - 1;
    if (v.broken)
        return -1;
    if (v.head_seq != 0 || *rows != 0) {
        head_mac(key, v.head_seq, head_hash, want);
        if (sodium_memcmp(want, mac, sizeof(want)) != 0)
            return kz_error_set(err, KZ_EINVALID, "the audit log's head was altered");
        if (*rows < v.head_seq || sodium_memcmp(head_hash, v.at_head, sizeof(v.at_head)) != 0)
            return kz_error_set(err, KZ_EINVALID,
                                "the audit log ends at row %lld but its head says %lld: rows "
                                "were removed from the end",
                                (long long)*rows, (long long)v.head_seq);
    }
    return witness ? verify_witness(s, key, w_seq, w_hash, w_mac, *rows, err) : 0;
}
