/*
 * The SQLite backend's copy operations (store_copy.h): its schema is the
 * agreed shape of store_copy_tables.h as written, so a table is read with
 * one SELECT of its columns in order and written with one INSERT that
 * leaves rows already there alone. The id index is not copied: finish
 * makes the next write transaction build it again from the objects.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdio.h>
#include <string.h>

#include "util/buf.h"

static int copy_snapshot(void *b, int on, struct kz_error *err)
{
    return sq_exec(b, on ? "BEGIN" : "COMMIT", err);
}

static int copy_begin(void *b, struct kz_error *err)
{
    return sq_exec(b, "BEGIN IMMEDIATE", err);
}

static int copy_commit(void *b, struct kz_error *err)
{
    return sq_exec(b, "COMMIT", err);
}

static void copy_rollback(void *b)
{
    struct sqlite_store *s = b;

    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int column_list(struct kz_buf *sql, const struct copy_table *t, const char *prefix)
{
    for (unsigned i = 0; i < t->ncols; i++)
        if (kz_buf_printf(sql, "%s%s%s", i ? ", " : "", prefix, t->cols[i].name) < 0)
            return -1;
    return 0;
}

static void read_row(sqlite3_stmt *q, const struct copy_table *t, struct copy_value *v)
{
    for (unsigned i = 0; i < t->ncols; i++) {
        memset(&v[i], 0, sizeof(v[i]));
        if (sqlite3_column_type(q, (int)i) == SQLITE_NULL) {
            v[i].null = 1;
            continue;
        }
        switch (t->cols[i].type) {
        case COPY_INT: v[i].i = sqlite3_column_int64(q, (int)i); break;
        case COPY_TEXT:
            v[i].p = sqlite3_column_text(q, (int)i);
            v[i].n = (size_t)sqlite3_column_bytes(q, (int)i);
            break;
        case COPY_BLOB:
            v[i].p = sqlite3_column_blob(q, (int)i);
            v[i].n = (size_t)sqlite3_column_bytes(q, (int)i);
            break;
        }
    }
}

static int copy_rows(void *b, const struct copy_table *t, int64_t collection, int64_t after,
                     store_copy_row_fn fn, void *ctx, struct kz_error *err)
{
    struct sqlite_store *s = b;
    struct copy_value v[COPY_MAX_COLUMNS];
    struct kz_buf sql;
    sqlite3_stmt *q;
    int rc, answer = 0;

    kz_buf_init(&sql, 4096);
    if (kz_buf_printf(&sql, "SELECT ") < 0 || column_list(&sql, t, "") < 0 ||
        kz_buf_printf(&sql, " FROM %s%s ORDER BY %s", t->name,
                      collection ? " WHERE collection = ?1 AND added > ?2" : "", t->order) < 0) {
        kz_buf_free(&sql);
        return kz_error_set(err, KZ_ENOMEM, "out of memory");
    }
    q = sq_prepare(s, sql.data, err, "store: reading a table to copy");
    kz_buf_free(&sql);
    if (!q)
        return -1;
    if (collection) {
        sqlite3_bind_int64(q, 1, collection);
        sqlite3_bind_int64(q, 2, after);
    }
    while (answer == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        read_row(q, t, v);
        answer = fn(ctx, v, err);
    }
    sqlite3_finalize(q);
    if (answer < 0)
        return -1;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return sq_fail(s, rc, err, "store: reading a table to copy");
    return 0;
}

/* INSERT of t's columns; a row already there (same primary key, t->order)
 * takes the source's values, as the source is the truth when a copy is
 * resumed after it changed (a token revoked, a version no longer the
 * latest), except that counters and audit heads keep the larger value.
 * The objects' idh column (the id index's hash) is computed, not copied. */
static int insert_sql(struct kz_buf *sql, const struct copy_table *t)
{
    int objects = strcmp(t->name, "objects") == 0;

    if (kz_buf_printf(sql, "INSERT INTO %s (", t->name) < 0 || column_list(sql, t, "") < 0 ||
        kz_buf_printf(sql, "%s) VALUES (", objects ? ", idh" : "") < 0)
        return -1;
    for (unsigned i = 0; i < t->ncols; i++)
        if (kz_buf_printf(sql, "%s?%u", i ? ", " : "", i + 1) < 0)
            return -1;
    if (objects && kz_buf_printf(sql, ", kz_idh(?3)") < 0)
        return -1;
    if (strcmp(t->name, "counters") == 0)
        return kz_buf_printf(sql, ") ON CONFLICT (name) DO UPDATE SET value ="
                                  " max(value, excluded.value)");
    if (strcmp(t->name, "audit_head") == 0)
        return kz_buf_printf(sql, ") ON CONFLICT (one) DO UPDATE SET seq = excluded.seq,"
                                  " hash = excluded.hash, mac = excluded.mac"
                                  " WHERE excluded.seq > audit_head.seq");
    if (kz_buf_printf(sql, ") ON CONFLICT (%s) DO UPDATE SET ", t->order) < 0)
        return -1;
    for (unsigned i = 0; i < t->ncols; i++)
        if (kz_buf_printf(sql, "%s%s = excluded.%s", i ? ", " : "", t->cols[i].name,
                          t->cols[i].name) < 0)
            return -1;
    /* only when something differs, so that a resumed copy counts what it
     * changed */
    if (kz_buf_printf(sql, " WHERE ") < 0)
        return -1;
    for (unsigned i = 0; i < t->ncols; i++)
        if (kz_buf_printf(sql, "%s%s IS NOT excluded.%s", i ? " OR " : "", t->cols[i].name,
                          t->cols[i].name) < 0)
            return -1;
    return 0;
}

static void bind_row(sqlite3_stmt *q, const struct copy_table *t, const struct copy_value *v)
{
    for (unsigned i = 0; i < t->ncols; i++) {
        int at = (int)i + 1;
        if (v[i].null)
            sqlite3_bind_null(q, at);
        else if (t->cols[i].type == COPY_INT)
            sqlite3_bind_int64(q, at, v[i].i);
        else if (t->cols[i].type == COPY_TEXT)
            sqlite3_bind_text(q, at, v[i].p ? v[i].p : "", (int)v[i].n, SQLITE_STATIC);
        else
            sqlite3_bind_blob(q, at, v[i].p ? v[i].p : "", (int)v[i].n, SQLITE_STATIC);
    }
}

static int copy_put(void *b, const struct copy_table *t, const struct copy_value *row,
                    struct kz_error *err)
{
    struct sqlite_store *s = b;
    struct kz_buf sql;
    sqlite3_stmt *q;

    kz_buf_init(&sql, 4096);
    if (insert_sql(&sql, t) < 0) {
        kz_buf_free(&sql);
        return kz_error_set(err, KZ_ENOMEM, "out of memory");
    }
    q = sq_cached_query(s, sql.data, sql.len, err);
    kz_buf_free(&sql);
    if (!q)
        return -1;
    bind_row(q, t, row);
    if (sq_step_done(s, q, err, "store: writing a copied row") < 0)
        return -1;
    return sqlite3_changes(s->db) > 0;
}

static int copy_count(void *b, const struct copy_table *t, uint64_t *n, struct kz_error *err)
{
    struct sqlite_store *s = b;
    char sql[128];
    sqlite3_stmt *q;
    int rc;

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", t->name);
    if (!(q = sq_prepare(s, sql, err, "store: counting a copied table")))
        return -1;
    rc = sqlite3_step(q);
    *n = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(q, 0) : 0;
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? 0 : sq_fail(s, rc, err, "store: counting a copied table");
}

static int copy_last_added(void *b, int64_t collection, int64_t *added, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s,
                                 "SELECT coalesce(max(added), 0) FROM objects"
                                 " WHERE collection = ?1",
                                 err, "store: finding where a copy stopped");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, collection);
    rc = sqlite3_step(q);
    *added = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? 0 : sq_fail(s, rc, err, "store: finding where a copy stopped");
}

/* A deletion the id index has not followed makes the next write
 * transaction build the index again from the objects (ids_level): one
 * such transaction, now. */
static int copy_finish(void *b, struct kz_error *err)
{
    const struct store_backend *be = &store_sqlite_backend;

    if (copy_begin(b, err) < 0)
        return -1;
    if (sq_exec(b, "UPDATE counters SET value = value + 1 WHERE name = 'deletes'", err) < 0 ||
        copy_commit(b, err) < 0) {
        copy_rollback(b);
        return -1;
    }
    if (be->begin(b, err) < 0)
        return -1;
    if (be->commit(b, err) < 0) {
        be->rollback(b);
        return -1;
    }
    return 0;
}

const struct store_copy_ops sqlite_copy_ops = {
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
