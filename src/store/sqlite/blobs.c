/*
 * The SQLite backend's named blobs.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

static int sqlite_blob_put(void *b, const char *name, const void *data, size_t len,
                           struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s, "INSERT OR REPLACE INTO blobs (name, data) VALUES (?1, ?2)",
                                 err, "store: writing a blob");

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(q, 2, data, (sqlite3_uint64)len, SQLITE_STATIC);
    return sq_finish_change(s, q, NULL, err, "store: writing a blob");
}

static int sqlite_blob_get(void *b, const char *name, char **data, size_t *len,
                           struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            sq_prepare(s, "SELECT data FROM blobs WHERE name = ?1", err, "store: reading a blob");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(q, 0);
        *data = malloc(n + 1);
        if (*data) {
            if (n)
                memcpy(*data, sqlite3_column_blob(q, 0), n);
            (*data)[n] = '\0';
            *len = n;
        }
    }
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return *data ? 0 : kz_error_set(err, KZ_ENOMEM, "out of memory");
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, err, "store: reading a blob");
    return kz_error_set(err, KZ_ENOTFOUND, "no blob \"%s\"", name);
}

const struct store_blobs_ops sqlite_blobs_ops = {
        .blob_put = sqlite_blob_put,
        .blob_get = sqlite_blob_get,
};
