/*
 * The SQLite backend's grants on collections, and the access check that
 * reads them for one user.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

static int sqlite_grant_set(void *b, const struct store_grant *g, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s,
                                 "INSERT OR REPLACE INTO grants (collection, kind, subject, role,"
                                 " can_read, can_write) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                 err, "store: granting access");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, g->collection);
    sqlite3_bind_int(q, 2, (int)g->kind);
    sqlite3_bind_int64(q, 3, g->kind == STORE_GRANT_ROLE ? 0 : g->subject);
    sqlite3_bind_text(q, 4, g->kind == STORE_GRANT_ROLE ? g->role : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 5, g->can_read);
    sqlite3_bind_int(q, 6, g->can_write);
    return sq_finish_change(s, q, NULL, err, "store: granting access");
}

static int sqlite_grant_check(void *b, int64_t collection, int64_t user, int64_t org,
                              const char *role, struct store_access *out, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(
            s,
            "SELECT kind, max(can_read), max(can_write) FROM grants"
            " WHERE collection = ?1 AND ((kind = 1 AND subject = ?2) OR (kind = 2 AND subject = ?3)"
            " OR (kind = 3 AND subject IN (SELECT community FROM community_members WHERE org = ?3))"
            " OR (kind = 4 AND role = ?4)) GROUP BY kind",
            err, "store: checking access");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, collection);
    sqlite3_bind_int64(q, 2, user);
    sqlite3_bind_int64(q, 3, org);
    sqlite3_bind_text(q, 4, role, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int kind = sqlite3_column_int(q, 0), r = sqlite3_column_int(q, 1);
        out->can_read |= r;
        out->can_write |= sqlite3_column_int(q, 2);
        if (kind == STORE_GRANT_USER)
            out->read_as_user |= r;
        else if (kind == STORE_GRANT_ORG)
            out->read_as_org |= r;
        else if (kind == STORE_GRANT_COMMUNITY)
            out->read_as_community |= r;
        else if (kind == STORE_GRANT_ROLE)
            out->read_as_role |= r;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, err, "store: checking access");
    return 0;
}

static int sqlite_grant_each_row(sqlite3_stmt *q, const struct walk *w)
{
    struct store_grant g;

    memset(&g, 0, sizeof(g));
    g.collection = sqlite3_column_int64(q, 0);
    g.kind = (enum store_grant_kind)sqlite3_column_int(q, 1);
    g.subject = sqlite3_column_int64(q, 2);
    sq_col_text(q, 3, g.role, sizeof(g.role));
    g.can_read = sqlite3_column_int(q, 4);
    g.can_write = sqlite3_column_int(q, 5);
    sq_col_text(q, 6, g.subject_name, sizeof(g.subject_name));
    return ((store_grant_fn)w->fn)(w->ctx, &g);
}

static int sqlite_grant_each(void *b, int64_t collection, store_grant_fn fn, void *ctx,
                             struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            sq_prepare(s,
                       "SELECT g.collection, g.kind, g.subject, g.role, g.can_read, g.can_write,"
                       " CASE g.kind WHEN 1 THEN (SELECT name FROM users WHERE key = g.subject)"
                       " WHEN 2 THEN (SELECT name FROM orgs WHERE key = g.subject)"
                       " WHEN 3 THEN (SELECT name FROM communities WHERE key = g.subject)"
                       " ELSE g.role END FROM grants g WHERE g.collection = ?1 ORDER BY g.kind, 7",
                       err, "store: listing grants");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, collection);
    {
        struct walk w = {(void (*)(void))fn, ctx};
        return sq_walk_rows(s, q, sqlite_grant_each_row, &w, err, "store: listing grants");
    }
}

const struct store_grants_ops sqlite_grants_ops = {
        .grant_set = sqlite_grant_set,
        .grant_check = sqlite_grant_check,
        .grant_each = sqlite_grant_each,
};
