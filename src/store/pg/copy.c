/*
 * The PostgreSQL backend's copy operations (store_copy.h). Its tables are
 * the agreed shape of store_copy_tables.h with a few names of its own
 * (user_key, user_name, is_latest as a boolean), mapped here column by
 * column; SQLite's counters become the objects' clock and the identity
 * sequences. Tables are read in single-row mode inside one REPEATABLE
 * READ snapshot, so a million objects never sit in one PGresult. All SQL
 * is built from the constant table descriptions, never from input; the
 * values travel as parameters.
 */
#include "store/pg/pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

/* A column whose name or type differs from the agreed shape: how to read
 * it, and how to write a parameter into it. */
struct pg_column {
    const char *table, *name;
    const char *select; /* expression giving the agreed value */
    const char *column; /* the column written */
    const char *test;   /* "": the parameter as it is; else it is compared to 0 (a boolean) */
};

static const struct pg_column renamed[] = {
        {"tokens", "user", "user_key", "user_key", ""},
        {"statuses", "user", "user_key", "user_key", ""},
        {"audit", "user", "user_name", "user_name", ""},
        {"objects", "latest", "is_latest::int", "is_latest", "bool"},
        {"objects", "first", "is_first::int", "is_first", "bool"},
};

/* The tables whose keys come from an identity sequence: what SQLite's
 * counters named key_<table> stand for. */
static const char *const keyed[] = {"orgs",        "users",       "tokens",
                                    "communities", "collections", "peers"};

static const struct pg_column *find_renamed(const struct copy_table *t, const char *col)
{
    for (size_t i = 0; i < sizeof(renamed) / sizeof(renamed[0]); i++)
        if (strcmp(renamed[i].table, t->name) == 0 && strcmp(renamed[i].name, col) == 0)
            return &renamed[i];
    return NULL;
}

static int copy_snapshot(void *b, int on, struct kz_error *err)
{
    return pg_exec(b, on ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "COMMIT", err,
                   "store: a snapshot to copy");
}

static int copy_begin(void *b, struct kz_error *err)
{
    return pg_exec(b, "BEGIN", err, "store: writing a copy");
}

static int copy_commit(void *b, struct kz_error *err)
{
    return pg_exec(b, "COMMIT", err, "store: writing a copy");
}

static void copy_rollback(void *b)
{
    struct pg_store *s = b;

    PQclear(PQexec(s->conn, "ROLLBACK"));
}

/* --- reading ----------------------------------------------------------------- */

/* The SELECT of a table in the agreed shape. SQLite's counters are the
 * objects' clock and each keyed table's sequence. */
static int select_sql(struct kz_buf *sql, const struct copy_table *t, int by_collection)
{
    if (strcmp(t->name, "counters") == 0) {
        kz_buf_printf(sql, "SELECT 'last_added', last_added FROM objects_clock");
        for (size_t i = 0; i < sizeof(keyed) / sizeof(keyed[0]); i++)
            kz_buf_printf(sql,
                          " UNION ALL SELECT 'key_%s', coalesce(pg_sequence_last_value("
                          "pg_get_serial_sequence('%s', 'key')::regclass), 0)",
                          keyed[i], keyed[i]);
        return kz_buf_printf(sql, " ORDER BY 1");
    }
    kz_buf_printf(sql, "SELECT ");
    for (unsigned i = 0; i < t->ncols; i++) {
        const struct pg_column *r = find_renamed(t, t->cols[i].name);
        kz_buf_printf(sql, "%s%s", i ? ", " : "", r ? r->select : t->cols[i].name);
    }
    return kz_buf_printf(sql, " FROM %s%s ORDER BY %s", t->name,
                         by_collection ? " WHERE collection = $1 AND added > $2" : "", t->order);
}

/* Reads the row of r into v; bytea values are unescaped into bufs[] (the
 * caller frees them). */
static int read_row(const PGresult *r, const struct copy_table *t, struct copy_value *v,
                    unsigned char **bufs, struct kz_error *err)
{
    for (unsigned i = 0; i < t->ncols; i++) {
        const char *text = PQgetvalue(r, 0, (int)i);
        memset(&v[i], 0, sizeof(v[i]));
        bufs[i] = NULL;
        if (PQgetisnull(r, 0, (int)i)) {
            v[i].null = 1;
        } else if (t->cols[i].type == COPY_INT) {
            v[i].i = strtoll(text, NULL, 10);
        } else if (t->cols[i].type == COPY_TEXT) {
            v[i].p = text;
            v[i].n = (size_t)PQgetlength(r, 0, (int)i);
        } else {
            bufs[i] = PQunescapeBytea((const unsigned char *)text, &v[i].n);
            if (!bufs[i])
                return kz_error_set(err, KZ_ENOMEM, "out of memory reading a blob to copy");
            v[i].p = bufs[i];
        }
    }
    return 0;
}

static int copy_rows(void *b, const struct copy_table *t, int64_t collection, int64_t after,
                     store_copy_row_fn fn, void *ctx, struct kz_error *err)
{
    struct pg_store *s = b;
    struct copy_value v[COPY_MAX_COLUMNS];
    unsigned char *bufs[COPY_MAX_COLUMNS];
    char p1[24], p2[24];
    const char *params[2] = {p1, p2};
    struct kz_buf sql;
    PGresult *r;
    int rc = 0, sent;

    kz_buf_init(&sql, 8192);
    snprintf(p1, sizeof(p1), "%lld", (long long)collection);
    snprintf(p2, sizeof(p2), "%lld", (long long)after);
    if (select_sql(&sql, t, collection != 0) < 0) {
        kz_buf_free(&sql);
        return kz_error_set(err, KZ_ENOMEM, "out of memory");
    }
    sent = PQsendQueryParams(s->conn, sql.data, collection ? 2 : 0, NULL,
                             collection ? params : NULL, NULL, NULL, 0);
    kz_buf_free(&sql);
    if (!sent || !PQsetSingleRowMode(s->conn))
        return pg_fail(s, NULL, err, "store: reading a table to copy");
    /* every result is read, even after a failure, so that the connection
     * is ready for the next statement */
    while ((r = PQgetResult(s->conn))) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE && rc == 0) {
            if (strcmp(t->name, "counters") == 0) { /* two columns: name, value */
                memset(v, 0, 2 * sizeof(v[0]));
                v[0].p = PQgetvalue(r, 0, 0);
                v[0].n = (size_t)PQgetlength(r, 0, 0);
                v[1].i = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
                rc = fn(ctx, v, err) < 0 ? -1 : 0;
            } else if ((rc = read_row(r, t, v, bufs, err)) == 0) {
                rc = fn(ctx, v, err) < 0 ? -1 : 0;
                for (unsigned i = 0; i < t->ncols; i++)
                    PQfreemem(bufs[i]);
            }
        } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && rc == 0) {
            rc = pg_fail(s, r, err, "store: reading a table to copy");
        }
        PQclear(r);
    }
    return rc;
}

/* --- writing ----------------------------------------------------------------- */

/* The INSERT of a row over one with the same primary key, changing it
 * only where it differs (so that a resumed copy counts what it changed);
 * audit heads keep the later one. */
static int insert_sql(struct kz_buf *sql, const struct copy_table *t)
{
    kz_buf_printf(sql, "INSERT INTO %s (", t->name);
    for (unsigned i = 0; i < t->ncols; i++) {
        const struct pg_column *r = find_renamed(t, t->cols[i].name);
        kz_buf_printf(sql, "%s%s", i ? ", " : "", r ? r->column : t->cols[i].name);
    }
    kz_buf_printf(sql, ") VALUES (");
    for (unsigned i = 0; i < t->ncols; i++) {
        const struct pg_column *r = find_renamed(t, t->cols[i].name);
        kz_buf_printf(sql, "%s", i ? ", " : "");
        if (r && r->test[0])
            kz_buf_printf(sql, "($%d::int <> 0)", (int)i + 1);
        else
            kz_buf_printf(sql, "$%d", (int)i + 1);
    }
    kz_buf_printf(sql, ") ON CONFLICT (%s) DO UPDATE SET ", t->order);
    for (unsigned i = 0; i < t->ncols; i++) {
        const struct pg_column *r = find_renamed(t, t->cols[i].name);
        const char *c = r ? r->column : t->cols[i].name;
        kz_buf_printf(sql, "%s%s = excluded.%s", i ? ", " : "", c, c);
    }
    if (strcmp(t->name, "audit_head") == 0)
        return kz_buf_printf(sql, " WHERE excluded.seq > %s.seq", t->name);
    kz_buf_printf(sql, " WHERE (");
    for (unsigned i = 0; i < t->ncols; i++) {
        const struct pg_column *r = find_renamed(t, t->cols[i].name);
        kz_buf_printf(sql, "%s%s.%s", i ? ", " : "", t->name, r ? r->column : t->cols[i].name);
    }
    kz_buf_printf(sql, ") IS DISTINCT FROM (");
    for (unsigned i = 0; i < t->ncols; i++) {
        const struct pg_column *r = find_renamed(t, t->cols[i].name);
        kz_buf_printf(sql, "%sexcluded.%s", i ? ", " : "", r ? r->column : t->cols[i].name);
    }
    return kz_buf_printf(sql, ")");
}

/* SQLite's counters: the last date added moves the objects' clock, a
 * key_<table> the table's sequence (never backwards); others mean
 * nothing here. The name is only compared, never put into SQL. */
static int put_counter(struct pg_store *s, const struct copy_value *row, struct kz_error *err)
{
    char sql[512], value[24];
    const char *params[1] = {value};
    PGresult *r;
    int rc = 0;

    snprintf(value, sizeof(value), "%lld", (long long)row[1].i);
    sql[0] = '\0';
    if (row[0].n == 10 && memcmp(row[0].p, "last_added", 10) == 0)
        snprintf(sql, sizeof(sql),
                 "UPDATE objects_clock SET last_added = greatest(last_added, $1::bigint)");
    for (size_t i = 0; i < sizeof(keyed) / sizeof(keyed[0]) && !sql[0]; i++)
        if (row[0].n == strlen(keyed[i]) + 4 && memcmp(row[0].p, "key_", 4) == 0 &&
            memcmp((const char *)row[0].p + 4, keyed[i], strlen(keyed[i])) == 0 && row[1].i > 0)
            snprintf(sql, sizeof(sql),
                     "SELECT setval(pg_get_serial_sequence('%s', 'key'), greatest($1::bigint,"
                     " coalesce(pg_sequence_last_value(pg_get_serial_sequence('%s',"
                     " 'key')::regclass), 1)))",
                     keyed[i], keyed[i]);
    if (!sql[0])
        return 0;
    r = PQexecParams(s->conn, sql, 1, NULL, params, NULL, NULL, 0);
    if (!r || (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK))
        rc = pg_fail(s, r, err, "store: writing a copied counter");
    PQclear(r);
    return rc;
}

/* The INSERT of t, prepared once per connection (a million objects are
 * one statement parsed once). */
static int prepare_insert(struct pg_store *s, const struct copy_table *t, char *name, size_t cap,
                          struct kz_error *err)
{
    size_t i = (size_t)(t - copy_tables);
    struct kz_buf sql;
    PGresult *r;
    int rc = 0;

    snprintf(name, cap, "kzcopy%zu", i);
    if (i < 64 && (s->copy_prepared >> i & 1))
        return 0;
    kz_buf_init(&sql, 8192);
    if (insert_sql(&sql, t) < 0) {
        kz_buf_free(&sql);
        return kz_error_set(err, KZ_ENOMEM, "out of memory");
    }
    r = PQprepare(s->conn, name, sql.data, 0, NULL);
    kz_buf_free(&sql);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = pg_fail(s, r, err, "store: preparing a copy");
    else if (i < 64)
        s->copy_prepared |= (uint64_t)1 << i;
    PQclear(r);
    return rc;
}

static int copy_put(void *b, const struct copy_table *t, const struct copy_value *row,
                    struct kz_error *err)
{
    struct pg_store *s = b;
    const char *values[COPY_MAX_COLUMNS];
    int lengths[COPY_MAX_COLUMNS], formats[COPY_MAX_COLUMNS];
    char ints[COPY_MAX_COLUMNS][24], name[32];
    PGresult *r;
    int rc;

    if (strcmp(t->name, "counters") == 0)
        return put_counter(s, row, err);
    for (unsigned i = 0; i < t->ncols; i++) {
        lengths[i] = 0;
        formats[i] = 0;
        if (row[i].null) {
            values[i] = NULL;
        } else if (t->cols[i].type == COPY_INT) {
            snprintf(ints[i], sizeof(ints[i]), "%lld", (long long)row[i].i);
            values[i] = ints[i];
        } else { /* text and bytea in binary: the bytes as they are */
            values[i] = row[i].p ? row[i].p : "";
            lengths[i] = (int)row[i].n;
            formats[i] = 1;
        }
    }
    if (prepare_insert(s, t, name, sizeof(name), err) < 0)
        return -1;
    r = PQexecPrepared(s->conn, name, (int)t->ncols, values, lengths, formats, 0);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = pg_fail(s, r, err, "store: writing a copied row");
        PQclear(r);
        return rc;
    }
    rc = strcmp(PQcmdTuples(r), "0") != 0;
    PQclear(r);
    return rc;
}

static int copy_count(void *b, const struct copy_table *t, uint64_t *n, struct kz_error *err)
{
    struct pg_store *s = b;
    char sql[128];
    PGresult *r;

    *n = 0;
    if (strcmp(t->name, "counters") == 0)
        return 0;
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", t->name);
    r = PQexec(s->conn, sql);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        pg_fail(s, r, err, "store: counting a copied table");
        PQclear(r);
        return -1;
    }
    *n = (uint64_t)pg_col_int(r, 0, 0);
    PQclear(r);
    return 0;
}

static int copy_last_added(void *b, int64_t collection, int64_t *added, struct kz_error *err)
{
    struct pg_store *s = b;
    char key[24];
    const char *params[1] = {key};
    PGresult *r;

    snprintf(key, sizeof(key), "%lld", (long long)collection);
    r = PQexecParams(s->conn, "SELECT coalesce(max(added), 0) FROM objects WHERE collection = $1",
                     1, NULL, params, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        pg_fail(s, r, err, "store: finding where a copy stopped");
        PQclear(r);
        return -1;
    }
    *added = pg_col_int(r, 0, 0);
    PQclear(r);
    return 0;
}

/* Keys given explicitly leave the identity sequences behind: move each
 * past its table's largest key, and the objects' clock past the newest
 * date added, so that what comes next never collides. */
static int copy_finish(void *b, struct kz_error *err)
{
    struct pg_store *s = b;
    char sql[512];

    if (copy_begin(s, err) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(keyed) / sizeof(keyed[0]); i++) {
        snprintf(sql, sizeof(sql),
                 "SELECT setval(pg_get_serial_sequence('%s', 'key'), greatest((SELECT"
                 " coalesce(max(key), 0) FROM %s), coalesce(pg_sequence_last_value("
                 "pg_get_serial_sequence('%s', 'key')::regclass), 0), 1))",
                 keyed[i], keyed[i], keyed[i]);
        if (pg_exec(s, sql, err, "store: moving a key sequence past the copied keys") < 0)
            goto fail;
    }
    if (pg_exec(s,
                "UPDATE objects_clock SET last_added = greatest(last_added,"
                " (SELECT coalesce(max(added), 0) FROM objects))",
                err, "store: moving the objects' clock past the copied objects") < 0 ||
        copy_commit(s, err) < 0)
        goto fail;
    return 0;
fail:
    copy_rollback(s);
    return -1;
}

const struct store_copy_ops pg_copy_ops = {
        .snapshot = copy_snapshot,
        .begin = copy_begin,
        .commit = copy_commit,
        .rollback = copy_rollback,
        .rows = copy_rows,
        .put = copy_put,
        .count = copy_count,
        .last_added = copy_last_added,
        .finish = copy_finish,
};
