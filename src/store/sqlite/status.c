/*
 * The SQLite backend's TAXII status resources, kept as JSON text.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

static int sqlite_status_put(void *b, const char *id, const char *api_root, int64_t user,
                             int64_t created_us, const char *json, size_t len, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            sq_prepare(s,
                       "INSERT OR REPLACE INTO statuses (id, api_root, user, created, body)"
                       " VALUES (?1, ?2, ?3, ?4, ?5)",
                       err, "store: saving a status");

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, api_root, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, user);
    sqlite3_bind_int64(q, 4, created_us);
    sqlite3_bind_text(q, 5, json, (int)len, SQLITE_STATIC);
    return sq_finish_change(s, q, NULL, err, "store: saving a status");
}

static int sqlite_status_get(void *b, const char *id, char *api_root, size_t cap, int64_t *user,
                             char **json, size_t *len, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s, "SELECT api_root, user, body FROM statuses WHERE id = ?1", err,
                                 "store: reading a status");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(q, 2);
        sq_col_text(q, 0, api_root, cap);
        *user = sqlite3_column_int64(q, 1);
        *json = malloc(n + 1);
        if (*json) {
            memcpy(*json, sqlite3_column_text(q, 2), n);
            (*json)[n] = '\0';
            *len = n;
        }
    }
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return *json ? 0 : kz_error_set(err, KZ_ENOMEM, "out of memory");
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, err, "store: reading a status");
    return kz_error_set(err, KZ_ENOTFOUND, "no status \"%s\"", id);
}

static int sqlite_status_purge(void *b, int64_t before_us, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s, "DELETE FROM statuses WHERE created < ?1", err,
                                 "store: purging statuses");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, before_us);
    return sq_finish_change(s, q, NULL, err, "store: purging statuses");
}

const struct store_status_ops sqlite_status_ops = {
        .status_put = sqlite_status_put,
        .status_get = sqlite_status_get,
        .status_purge = sqlite_status_purge,
};
