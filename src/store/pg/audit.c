/*
 * The PostgreSQL backend's audit log, with the semantics of the SQLite
 * backend's audit.c: rows appended in one transaction, chained to the head
 * as it is under a lock, the MACed head (which the main store also keeps as
 * the witness of a log kept in a database of its own), and reads. Several
 * servers append to one log: each append locks the head row (SELECT ... FOR
 * UPDATE; the row exists from the schema's creation on), so a second
 * appender waits for the first to commit and then chains to its rows: one
 * chain, never a fork. The log's writes are not announced on PG_CHANNEL
 * (pg_data_version): nothing a server caches depends on them, and every
 * read request appends.
 */
#include "store/pg/pg_int.h"

#include <stdio.h>
#include <string.h>

#define AUDIT_COLUMNS                                                                              \
    "seq, ts, user_name, remote, action, collection, count, markings, detail, prev, hash"

/* Rows read per statement by audit_each: the log of a busy node holds
 * millions, which are never read into one result. */
#define AUDIT_PAGE_ROWS 1000

static const struct pg_stmt head_lock_q = {
        "SELECT seq, hash, mac FROM audit_head WHERE one = 1 FOR UPDATE"};
static const struct pg_stmt head_q = {"SELECT seq, hash, mac FROM audit_head WHERE one = 1"};
static const struct pg_stmt insert_q = {"INSERT INTO audit (" AUDIT_COLUMNS ")"
                                        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"};
static const struct pg_stmt head_set_q = {
        "UPDATE audit_head SET seq = $1, hash = $2, mac = $3 WHERE one = 1"};
static const struct pg_stmt witness_q = {
        "INSERT INTO audit_head (one, seq, hash, mac) VALUES (1, $1, $2, $3)"
        " ON CONFLICT (one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,"
        " mac = excluded.mac WHERE excluded.seq > audit_head.seq"};
static const struct pg_stmt get_q = {"SELECT " AUDIT_COLUMNS " FROM audit WHERE seq = $1"};
static const struct pg_stmt each_q = {"SELECT " AUDIT_COLUMNS
                                      " FROM audit WHERE ts >= $1 AND ($2::text IS NULL OR"
                                      " user_name = $2::text) AND seq > $3 ORDER BY seq LIMIT $4"};

/* The head from a result of head_q or head_lock_q (0 and zeros: empty). */
static void read_head(const PGresult *r, int64_t *seq, unsigned char *hash, unsigned char *mac)
{
    *seq = 0;
    memset(hash, 0, STORE_AUDIT_HASH_LEN);
    memset(mac, 0, STORE_AUDIT_HASH_LEN);
    if (PQntuples(r) != 1)
        return;
    *seq = pg_col_int(r, 0, 0);
    pg_col_bytea(r, 0, 1, hash, STORE_AUDIT_HASH_LEN);
    pg_col_bytea(r, 0, 2, mac, STORE_AUDIT_HASH_LEN);
}

static int insert_row(struct pg_store *s, const struct store_audit *a, struct kz_error *err)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_int(&p, a->seq);
    pg_param_int(&p, a->ts_us);
    pg_param_text(&p, a->user);
    pg_param_text(&p, a->remote);
    pg_param_text(&p, a->action);
    pg_param_text(&p, a->collection);
    pg_param_int(&p, (int64_t)a->count);
    pg_param_text(&p, a->markings);
    pg_param_text(&p, a->detail);
    pg_param_bytea(&p, a->prev, STORE_AUDIT_HASH_LEN);
    pg_param_bytea(&p, a->hash, STORE_AUDIT_HASH_LEN);
    return pg_change(s, &insert_q, &p, NULL, NULL, err, "store: writing the audit log");
}

static int pg_audit_append(void *b, struct store_audit *rows, size_t n, store_audit_chain_fn fn,
                           void *ctx, int durable, struct kz_error *err)
{
    static const char what[] = "store: writing the audit log";
    struct pg_store *s = b;
    unsigned char head_hash[STORE_AUDIT_HASH_LEN], head_mac[STORE_AUDIT_HASH_LEN];
    int64_t head_seq;
    struct pg_params p;
    PGresult *r;

    if (n == 0)
        return 0;
    if (pg_tx_open(s, 0, err, what) < 0)
        goto fail;
    /* without durable the commit returns once PostgreSQL has it, before
     * its disk does: it survives kizuna's crash, not the database's */
    if (!durable && pg_exec(s, "SET LOCAL synchronous_commit = off", err, what) < 0)
        goto fail;
    /* the head as it is once every other appender has committed */
    r = pg_run(s, &head_lock_q, NULL, NULL, err, what);
    if (!r)
        goto fail;
    read_head(r, &head_seq, head_hash, head_mac);
    PQclear(r);
    fn(ctx, head_seq, head_hash, rows, n, head_mac);
    for (size_t i = 0; i < n; i++)
        if (insert_row(s, &rows[i], err) < 0)
            goto fail;
    pg_params_init(&p);
    pg_param_int(&p, rows[n - 1].seq);
    pg_param_bytea(&p, rows[n - 1].hash, STORE_AUDIT_HASH_LEN);
    pg_param_bytea(&p, head_mac, STORE_AUDIT_HASH_LEN);
    if (pg_change(s, &head_set_q, &p, NULL, NULL, err, what) < 0 || pg_tx_close(s, err, what) < 0)
        goto fail;
    return 0;
fail:
    pg_tx_abort(s);
    return -1;
}

static int pg_audit_head(void *b, int64_t *seq, unsigned char *hash, unsigned char *mac,
                         struct kz_error *err)
{
    PGresult *r = pg_run(b, &head_q, NULL, NULL, err, "store: reading the audit log");

    if (!r)
        return -1;
    read_head(r, seq, hash, mac);
    PQclear(r);
    return 0;
}

static void read_audit(const PGresult *r, int row, struct store_audit *a)
{
    memset(a, 0, sizeof(*a));
    a->seq = pg_col_int(r, row, 0);
    a->ts_us = pg_col_int(r, row, 1);
    pg_col_text(r, row, 2, a->user, sizeof(a->user));
    pg_col_text(r, row, 3, a->remote, sizeof(a->remote));
    pg_col_text(r, row, 4, a->action, sizeof(a->action));
    pg_col_text(r, row, 5, a->collection, sizeof(a->collection));
    a->count = (uint64_t)pg_col_int(r, row, 6);
    pg_col_text(r, row, 7, a->markings, sizeof(a->markings));
    pg_col_text(r, row, 8, a->detail, sizeof(a->detail));
    pg_col_bytea(r, row, 9, a->prev, STORE_AUDIT_HASH_LEN);
    pg_col_bytea(r, row, 10, a->hash, STORE_AUDIT_HASH_LEN);
}

static int pg_audit_get(void *b, int64_t seq, struct store_audit *out, struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;
    int found;

    pg_params_init(&p);
    pg_param_int(&p, seq);
    r = pg_run(b, &get_q, &p, NULL, err, "store: reading the audit log");
    if (!r)
        return -1;
    found = PQntuples(r) == 1;
    if (found)
        read_audit(r, 0, out);
    PQclear(r);
    return found ? 0 : kz_error_set(err, KZ_ENOTFOUND, "no audit row %lld", (long long)seq);
}

/* The witness only moves forward; not announced, like the log. */
static int pg_audit_witness(void *b, int64_t seq, const unsigned char *hash,
                            const unsigned char *mac, struct kz_error *err)
{
    static const char what[] = "store: recording the audit log's head";
    struct pg_store *s = b;
    struct pg_params p;

    if (pg_tx_open(s, 0, err, what) < 0)
        goto fail;
    pg_params_init(&p);
    pg_param_int(&p, seq);
    pg_param_bytea(&p, hash, STORE_AUDIT_HASH_LEN);
    pg_param_bytea(&p, mac, STORE_AUDIT_HASH_LEN);
    if (pg_change(s, &witness_q, &p, NULL, NULL, err, what) < 0 || pg_tx_close(s, err, what) < 0)
        goto fail;
    return 0;
fail:
    pg_tx_abort(s);
    return -1;
}

/* Pages of AUDIT_PAGE_ROWS by seq, each handed to fn row by row. */
static int pg_audit_each(void *b, int64_t since_us, const char *user, store_audit_fn fn, void *ctx,
                         struct kz_error *err)
{
    struct pg_params p;
    struct store_audit a;
    int64_t after = INT64_MIN;
    int rows, answer = 0;

    do {
        PGresult *r;
        pg_params_init(&p);
        pg_param_int(&p, since_us);
        pg_param_text(&p, user);
        pg_param_int(&p, after);
        pg_param_int(&p, AUDIT_PAGE_ROWS);
        r = pg_run(b, &each_q, &p, NULL, err, "store: reading the audit log");
        if (!r)
            return -1;
        rows = PQntuples(r);
        for (int i = 0; i < rows && answer == 0; i++) {
            read_audit(r, i, &a);
            after = a.seq;
            answer = fn(ctx, &a);
        }
        PQclear(r);
    } while (answer == 0 && rows == AUDIT_PAGE_ROWS);
    return answer < 0 ? -1 : 0;
}

const struct store_audit_ops pg_audit_ops = {
        .audit_append = pg_audit_append,
        .audit_get = pg_audit_get,
        .audit_witness = pg_audit_witness,
        .audit_head = pg_audit_head,
        .audit_each = pg_audit_each,
};
