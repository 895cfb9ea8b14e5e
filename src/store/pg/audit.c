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

#include "util/buf.h"
#include "util/limits.h"

#define AUDIT_COLUMNS                                                                              \
    "seq, ts, user_name, remote, action, collection, count, markings, detail, prev, hash"

/* Rows read per statement by audit_each: the log of a busy node holds
 * millions, which are never read into one result. */
#define AUDIT_PAGE_ROWS 1000

static const struct pg_stmt head_lock_q = {
        "SELECT seq, hash, mac FROM audit_head WHERE one = 1 FOR UPDATE"};
static const struct pg_stmt head_q = {"SELECT seq, hash, mac FROM audit_head WHERE one = 1"};
/* Every row of one append and the head moved to the last of them, in one
 * statement: the rows travel as one array per column (in order, so unnest
 * keeps them together), and the head lock is held for one round trip
 * between reading the head and committing, not one per row. */
static const struct pg_stmt append_q = {
        "WITH i AS (INSERT INTO audit (" AUDIT_COLUMNS ")"
        " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[],"
        " $6::text[], $7::bigint[], $8::text[], $9::text[], $10::bytea[], $11::bytea[]))"
        " UPDATE audit_head SET seq = $1[array_upper($1, 1)], hash = $11[array_upper($11, 1)],"
        " mac = $12 WHERE one = 1"};
/* Run as one simple query right after BEGIN: the transaction's setting and
 * the locked head in one round trip. */
static const char head_lock_async_sql[] =
        "SET LOCAL synchronous_commit = off; SELECT seq, hash, mac FROM audit_head WHERE one = 1"
        " FOR UPDATE";
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

/* The columns of an append's rows as PostgreSQL array literals: one
 * buffer per column of AUDIT_COLUMNS. */
#define AUDIT_NCOLS 11

static void array_open(struct kz_buf *b)
{
    kz_buf_addc(b, b->len ? ',' : '{');
}

static void array_int(struct kz_buf *b, int64_t v)
{
    array_open(b);
    kz_buf_printf(b, "%lld", (long long)v);
}

/* Quoted, with quotes and backslashes escaped: any text is one element. */
static void array_text(struct kz_buf *b, const char *v)
{
    array_open(b);
    kz_buf_addc(b, '"');
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            kz_buf_addc(b, '\\');
        kz_buf_addc(b, *v);
    }
    kz_buf_addc(b, '"');
}

/* bytea in hex input form (\x...), its backslash escaped for the array */
static void array_bytea(struct kz_buf *b, const unsigned char *v, size_t n)
{
    array_open(b);
    kz_buf_addstr(b, "\"\\\\x");
    for (size_t i = 0; i < n; i++)
        kz_buf_printf(b, "%02x", v[i]);
    kz_buf_addc(b, '"');
}

static int append_rows(struct pg_store *s, const struct store_audit *rows, size_t n,
                       const unsigned char *mac, struct kz_error *err, const char *what)
{
    struct kz_buf col[AUDIT_NCOLS];
    struct pg_params p;
    int rc = 0;

    for (int c = 0; c < AUDIT_NCOLS; c++)
        kz_buf_init(&col[c], AUDIT_MAX_APPEND_COLUMN_BYTES);
    for (size_t i = 0; i < n; i++) {
        const struct store_audit *a = &rows[i];
        array_int(&col[0], a->seq);
        array_int(&col[1], a->ts_us);
        array_text(&col[2], a->user);
        array_text(&col[3], a->remote);
        array_text(&col[4], a->action);
        array_text(&col[5], a->collection);
        array_int(&col[6], (int64_t)a->count);
        array_text(&col[7], a->markings);
        array_text(&col[8], a->detail);
        array_bytea(&col[9], a->prev, STORE_AUDIT_HASH_LEN);
        array_bytea(&col[10], a->hash, STORE_AUDIT_HASH_LEN);
    }
    pg_params_init(&p);
    for (int c = 0; c < AUDIT_NCOLS; c++) {
        kz_buf_addc(&col[c], '}');
        if (col[c].failed)
            rc = kz_error_set(err, KZ_ELIMIT, "%s: too many rows at once", what);
        pg_param_text(&p, col[c].data);
    }
    pg_param_bytea(&p, mac, STORE_AUDIT_HASH_LEN);
    if (rc == 0)
        rc = pg_change(s, &append_q, &p, NULL, NULL, err, what);
    for (int c = 0; c < AUDIT_NCOLS; c++)
        kz_buf_free(&col[c]);
    return rc;
}

/* The head, locked until the transaction ends; outside the caller's
 * transaction a non-durable append sets its commit's mode in the same
 * round trip. */
static PGresult *lock_head(struct pg_store *s, int durable, struct kz_error *err, const char *what)
{
    PGresult *r;

    if (durable || !s->tx_own) {
        /* without durable the commit returns once PostgreSQL has it,
         * before its disk does: it survives kizuna's crash, not the
         * database's */
        if (!durable && pg_exec(s, "SET LOCAL synchronous_commit = off", err, what) < 0)
            return NULL;
        return pg_run(s, &head_lock_q, NULL, NULL, err, what);
    }
    r = PQexec(s->conn, head_lock_async_sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_fail(s, r, err, what);
        PQclear(r);
        return NULL;
    }
    return r;
}

static int pg_audit_append(void *b, struct store_audit *rows, size_t n, store_audit_chain_fn fn,
                           void *ctx, int durable, struct kz_error *err)
{
    static const char what[] = "store: writing the audit log";
    struct pg_store *s = b;
    unsigned char head_hash[STORE_AUDIT_HASH_LEN], head_mac[STORE_AUDIT_HASH_LEN];
    int64_t head_seq;
    PGresult *r;

    if (n == 0)
        return 0;
    if (pg_tx_open(s, 0, err, what) < 0)
        goto fail;
    /* the head as it is once every other appender has committed */
    r = lock_head(s, durable, err, what);
    if (!r)
        goto fail;
    read_head(r, &head_seq, head_hash, head_mac);
    PQclear(r);
    fn(ctx, head_seq, head_hash, rows, n, head_mac);
    if (append_rows(s, rows, n, head_mac, err, what) < 0 || pg_tx_close(s, err, what) < 0)
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
