/*
 * The SQLite backend's audit log: rows appended under BEGIN IMMEDIATE so
 * that concurrent writers never fork the chain, the MACed head (audit_head,
 * which the main store also keeps as the witness of audit.db), and reads.
 * It needs only the connection: a store opened with store_open_audit has
 * no id index attached.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

static int sqlite_audit_head(void *b, int64_t *seq, unsigned char *hash, unsigned char *mac,
                             struct kz_error *err);

static int sqlite_audit_append(void *b, struct store_audit *rows, size_t n, store_audit_chain_fn fn,
                               void *ctx, int durable, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = NULL, *h = NULL;
    unsigned char head_hash[STORE_AUDIT_HASH_LEN], head_mac[STORE_AUDIT_HASH_LEN];
    int64_t head_seq = 0;
    int ret = -1;

    if (n == 0)
        return 0;
    /* WAL with synchronous=NORMAL: the commit is written, not yet synced */
    if (sq_exec(s, durable ? "PRAGMA main.synchronous = FULL" : "PRAGMA main.synchronous = NORMAL",
                err) < 0 ||
        sq_exec(s, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    memset(head_hash, 0, sizeof(head_hash));
    if (sqlite_audit_head(s, &head_seq, head_hash, head_mac, err) < 0)
        goto out;
    fn(ctx, head_seq, head_hash, rows, n, head_mac);
    q = sq_prepare(s,
                   "INSERT INTO audit (seq, ts, user, remote, action, collection, count, markings,"
                   " detail, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                   err, "store: writing the audit log");
    h = sq_prepare(s,
                   "INSERT OR REPLACE INTO audit_head (one, seq, hash, mac) VALUES (1, ?1, ?2, ?3)",
                   err, "store: writing the audit log");
    if (!q || !h)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const struct store_audit *a = &rows[i];
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, a->seq);
        sqlite3_bind_int64(q, 2, a->ts_us);
        sqlite3_bind_text(q, 3, a->user, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, a->remote, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 5, a->action, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 6, a->collection, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 7, (sqlite3_int64)a->count);
        sqlite3_bind_text(q, 8, a->markings, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 9, a->detail, -1, SQLITE_STATIC);
        sqlite3_bind_blob(q, 10, a->prev, STORE_AUDIT_HASH_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(q, 11, a->hash, STORE_AUDIT_HASH_LEN, SQLITE_STATIC);
        if (sqlite3_step(q) != SQLITE_DONE) {
            sq_fail(s, sqlite3_errcode(s->db), err, "store: writing the audit log");
            goto out;
        }
    }
    sqlite3_bind_int64(h, 1, rows[n - 1].seq);
    sqlite3_bind_blob(h, 2, rows[n - 1].hash, STORE_AUDIT_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(h, 3, head_mac, STORE_AUDIT_HASH_LEN, SQLITE_STATIC);
    if (sqlite3_step(h) != SQLITE_DONE) {
        sq_fail(s, sqlite3_errcode(s->db), err, "store: writing the audit log");
        goto out;
    }
    if (sq_exec(s, "COMMIT", err) < 0)
        goto out;
    ret = 0;
out:
    if (ret < 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(q);
    sqlite3_finalize(h);
    return ret;
}

static int sqlite_audit_head(void *b, int64_t *seq, unsigned char *hash, unsigned char *mac,
                             struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s, "SELECT seq, hash, mac FROM audit_head WHERE one = 1", err,
                                 "store: reading the audit log");
    int rc;

    if (!q)
        return -1;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(q, 0);
        sq_copy_blob(q, 1, hash);
        sq_copy_blob(q, 2, mac);
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_fail(s, rc, err, "store: reading the audit log");
    return 0;
}

static void read_audit(sqlite3_stmt *q, struct store_audit *a)
{
    memset(a, 0, sizeof(*a));
    a->seq = sqlite3_column_int64(q, 0);
    a->ts_us = sqlite3_column_int64(q, 1);
    sq_col_text(q, 2, a->user, sizeof(a->user));
    sq_col_text(q, 3, a->remote, sizeof(a->remote));
    sq_col_text(q, 4, a->action, sizeof(a->action));
    sq_col_text(q, 5, a->collection, sizeof(a->collection));
    a->count = (uint64_t)sqlite3_column_int64(q, 6);
    sq_col_text(q, 7, a->markings, sizeof(a->markings));
    sq_col_text(q, 8, a->detail, sizeof(a->detail));
    sq_copy_blob(q, 9, a->prev);
    sq_copy_blob(q, 10, a->hash);
}

static int sqlite_audit_get(void *b, int64_t seq, struct store_audit *out, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            sq_prepare(s,
                       "SELECT seq, ts, user, remote, action, collection, count, markings,"
                       " detail, prev, hash FROM audit WHERE seq = ?1",
                       err, "store: reading the audit log");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, seq);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        read_audit(q, out);
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, err, "store: reading the audit log");
    return kz_error_set(err, KZ_ENOTFOUND, "no audit row %lld", (long long)seq);
}

static int sqlite_audit_witness(void *b, int64_t seq, const unsigned char *hash,
                                const unsigned char *mac, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            sq_prepare(s,
                       "INSERT INTO audit_head (one, seq, hash, mac) VALUES (1, ?1, ?2, ?3)"
                       " ON CONFLICT (one) DO UPDATE SET seq = excluded.seq,"
                       " hash = excluded.hash, mac = excluded.mac"
                       " WHERE excluded.seq > audit_head.seq",
                       err, "store: recording the audit log's head");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, seq);
    sqlite3_bind_blob(q, 2, hash, STORE_AUDIT_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(q, 3, mac, STORE_AUDIT_HASH_LEN, SQLITE_STATIC);
    return sq_finish_change(s, q, NULL, err, "store: recording the audit log's head");
}

static int audit_row(sqlite3_stmt *q, const struct walk *w)
{
    struct store_audit a;

    read_audit(q, &a);
    return ((store_audit_fn)w->fn)(w->ctx, &a);
}

static int sqlite_audit_each(void *b, int64_t since_us, const char *user, store_audit_fn fn,
                             void *ctx, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            sq_prepare(s,
                       "SELECT seq, ts, user, remote, action, collection, count, markings,"
                       " detail, prev, hash FROM audit WHERE ts >= ?1 AND"
                       " (?2 IS NULL OR user = ?2) ORDER BY seq",
                       err, "store: reading the audit log");
    struct walk w = {(void (*)(void))fn, ctx};

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, since_us);
    if (user)
        sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
    return sq_walk_rows(s, q, audit_row, &w, err, "store: reading the audit log");
}

const struct store_audit_ops sqlite_audit_ops = {
        .audit_append = sqlite_audit_append,
        .audit_get = sqlite_audit_get,
        .audit_witness = sqlite_audit_witness,
        .audit_head = sqlite_audit_head,
        .audit_each = sqlite_audit_each,
};
