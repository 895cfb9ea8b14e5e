/*
 * The SQLite backend's accounts: organisations, users, tokens (their hashes)
 * and communities with their members.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "util/kztime.h"

static int sqlite_org_add(void *b, struct store_org *o, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            sq_prepare(s,
                       "INSERT INTO orgs (key, name, country, sector, kind, identity, created)"
                       " VALUES (" NEXT_KEY("orgs") ", ?1, ?2, ?3, ?4, ?5, ?6)",
                       err, "store: adding an organisation");
    char msg[KZ_MAX_NAME + KZ_MAX_STIX_ID + 64];

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, o->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, o->country, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, o->sector, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, o->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, o->identity, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, o->created_us);
    snprintf(msg, sizeof(msg), "an organisation named \"%s\" or with identity %s already exists",
             o->name, o->identity);
    if (sq_finish_change(s, q, msg, err, "store: adding an organisation") < 0)
        return -1;
    o->key = sqlite3_last_insert_rowid(s->db);
    return 0;
}

#define ORG_COLUMNS "key, name, country, sector, kind, identity, created"

static void read_org(sqlite3_stmt *q, struct store_org *o)
{
    memset(o, 0, sizeof(*o));
    o->key = sqlite3_column_int64(q, 0);
    sq_col_text(q, 1, o->name, sizeof(o->name));
    sq_col_text(q, 2, o->country, sizeof(o->country));
    sq_col_text(q, 3, o->sector, sizeof(o->sector));
    sq_col_text(q, 4, o->kind, sizeof(o->kind));
    sq_col_text(q, 5, o->identity, sizeof(o->identity));
    o->created_us = sqlite3_column_int64(q, 6);
}

static int sqlite_org_find(void *b, const char *name, const char *identity, int64_t key,
                           struct store_org *out, struct kz_error *err)
{
    struct sqlite_store *s = b;
    const char *sql = name       ? "SELECT " ORG_COLUMNS " FROM orgs WHERE name = ?1"
                      : identity ? "SELECT " ORG_COLUMNS " FROM orgs WHERE identity = ?1"
                                 : "SELECT " ORG_COLUMNS " FROM orgs WHERE key = ?1";
    /* asked for every object an import stores: kept prepared */
    sqlite3_stmt *q = sq_cached_query(s, sql, strlen(sql), err);
    int rc;

    if (!q)
        return -1;
    if (name || identity)
        sqlite3_bind_text(q, 1, name ? name : identity, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(q, 1, key);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        read_org(q, out);
    sqlite3_reset(q);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, err, "store: finding an organisation");
    if (name || identity)
        return kz_error_set(err, KZ_ENOTFOUND, "no organisation \"%s\"", name ? name : identity);
    return kz_error_set(err, KZ_ENOTFOUND, "no organisation with key %lld", (long long)key);
}

static int sqlite_org_each_row(sqlite3_stmt *q, const struct walk *w)
{
    struct store_org o;

    read_org(q, &o);
    return ((store_org_fn)w->fn)(w->ctx, &o);
}

static int sqlite_org_each(void *b, store_org_fn fn, void *ctx, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s, "SELECT " ORG_COLUMNS " FROM orgs ORDER BY name", err,
                                 "store: listing organisations");

    if (!q)
        return -1;
    {
        struct walk w = {(void (*)(void))fn, ctx};
        return sq_walk_rows(s, q, sqlite_org_each_row, &w, err, "store: listing organisations");
    }
}

static int sqlite_user_add(void *b, struct store_user *u, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s,
                                 "INSERT INTO users (key, name, org, role, created)"
                                 " VALUES (" NEXT_KEY("users") ", ?1, ?2, ?3, ?4)",
                                 err, "store: adding a user");
    char msg[KZ_MAX_NAME + 64];

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, u->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, u->org);
    sqlite3_bind_text(q, 3, u->role, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, u->created_us);
    snprintf(msg, sizeof(msg), "a user named \"%s\" already exists", u->name);
    if (sq_finish_change(s, q, msg, err, "store: adding a user") < 0)
        return -1;
    u->key = sqlite3_last_insert_rowid(s->db);
    return 0;
}

#define USER_SELECT                                                                                \
    "SELECT u.key, u.name, u.org, o.name, u.role, u.created, u.disabled FROM users u"              \
    " JOIN orgs o ON o.key = u.org"

static void read_user(sqlite3_stmt *q, struct store_user *u)
{
    memset(u, 0, sizeof(*u));
    u->key = sqlite3_column_int64(q, 0);
    sq_col_text(q, 1, u->name, sizeof(u->name));
    u->org = sqlite3_column_int64(q, 2);
    sq_col_text(q, 3, u->org_name, sizeof(u->org_name));
    sq_col_text(q, 4, u->role, sizeof(u->role));
    u->created_us = sqlite3_column_int64(q, 5);
    u->disabled = sqlite3_column_int(q, 6) != 0;
}

static int sqlite_user_find(void *b, const char *name, int64_t key, struct store_user *out,
                            struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            sq_prepare(s, name ? USER_SELECT " WHERE u.name = ?1" : USER_SELECT " WHERE u.key = ?1",
                       err, "store: finding a user");
    int rc;

    if (!q)
        return -1;
    if (name)
        sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(q, 1, key);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        read_user(q, out);
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, err, "store: finding a user");
    if (name)
        return kz_error_set(err, KZ_ENOTFOUND, "no user \"%s\"", name);
    return kz_error_set(err, KZ_ENOTFOUND, "no user with key %lld", (long long)key);
}

static int sqlite_user_each_row(sqlite3_stmt *q, const struct walk *w)
{
    struct store_user u;

    read_user(q, &u);
    return ((store_user_fn)w->fn)(w->ctx, &u);
}

static int sqlite_user_each(void *b, store_user_fn fn, void *ctx, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s, USER_SELECT " ORDER BY u.name", err, "store: listing users");

    if (!q)
        return -1;
    {
        struct walk w = {(void (*)(void))fn, ctx};
        return sq_walk_rows(s, q, sqlite_user_each_row, &w, err, "store: listing users");
    }
}

static int sqlite_token_add(void *b, struct store_token *t, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s,
                                 "INSERT INTO tokens (token_id, user, hash, created, revoked)"
                                 " VALUES (?1, ?2, ?3, ?4, 0)",
                                 err, "store: adding a token");

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, t->token_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, t->user);
    sqlite3_bind_blob(q, 3, t->hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, t->created_us);
    if (sq_finish_change(s, q, "token id collision; try again", err, "store: adding a token") < 0)
        return -1;
    t->key = sqlite3_last_insert_rowid(s->db);
    return 0;
}

static int sqlite_token_find(void *b, const char *token_id, struct store_token *out,
                             struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s,
                                 "SELECT key, token_id, user, hash, created, revoked FROM tokens"
                                 " WHERE token_id = ?1",
                                 err, "store: finding a token");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, token_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        out->key = sqlite3_column_int64(q, 0);
        sq_col_text(q, 1, out->token_id, sizeof(out->token_id));
        out->user = sqlite3_column_int64(q, 2);
        if (sqlite3_column_bytes(q, 3) == STORE_TOKEN_HASH_LEN)
            memcpy(out->hash, sqlite3_column_blob(q, 3), STORE_TOKEN_HASH_LEN);
        out->created_us = sqlite3_column_int64(q, 4);
        out->revoked_us = sqlite3_column_int64(q, 5);
    }
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, err, "store: finding a token");
    return kz_error_set(err, KZ_ENOTFOUND, "no token \"%s\"", token_id);
}

static int sqlite_token_each_row(sqlite3_stmt *q, const struct walk *w)
{
    struct store_token t;

    memset(&t, 0, sizeof(t));
    t.key = sqlite3_column_int64(q, 0);
    sq_col_text(q, 1, t.token_id, sizeof(t.token_id));
    t.user = sqlite3_column_int64(q, 2);
    t.created_us = sqlite3_column_int64(q, 3);
    t.revoked_us = sqlite3_column_int64(q, 4);
    return ((store_token_fn)w->fn)(w->ctx, &t);
}

static int sqlite_token_each(void *b, int64_t user, store_token_fn fn, void *ctx,
                             struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s,
                                 "SELECT key, token_id, user, created, revoked FROM tokens"
                                 " WHERE ?1 = 0 OR user = ?1 ORDER BY key",
                                 err, "store: listing tokens");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, user);
    {
        struct walk w = {(void (*)(void))fn, ctx};
        return sq_walk_rows(s, q, sqlite_token_each_row, &w, err, "store: listing tokens");
    }
}

static int sqlite_community_each_row(sqlite3_stmt *q, const struct walk *w)
{
    struct store_community c;

    memset(&c, 0, sizeof(c));
    c.key = sqlite3_column_int64(q, 0);
    sq_col_text(q, 1, c.name, sizeof(c.name));
    c.created_us = sqlite3_column_int64(q, 2);
    return ((store_community_fn)w->fn)(w->ctx, &c, (const char *)sqlite3_column_text(q, 3));
}

static int sqlite_community_each(void *b, store_community_fn fn, void *ctx, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            sq_prepare(s,
                       "SELECT c.key, c.name, c.created, coalesce(group_concat(o.name, ','),"
                       " '') FROM communities c LEFT JOIN community_members m ON"
                       " m.community = c.key LEFT JOIN orgs o ON o.key = m.org"
                       " GROUP BY c.key ORDER BY c.name",
                       err, "store: listing communities");

    if (!q)
        return -1;
    {
        struct walk w = {(void (*)(void))fn, ctx};
        return sq_walk_rows(s, q, sqlite_community_each_row, &w, err, "store: listing communities");
    }
}

static int sqlite_token_revoke(void *b, const char *token_id, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s,
                                 "UPDATE tokens SET revoked = ?2 WHERE token_id = ?1"
                                 " AND revoked = 0",
                                 err, "store: revoking a token");

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, token_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, kz_now_micros());
    if (sq_finish_change(s, q, NULL, err, "store: revoking a token") < 0)
        return -1;
    if (sqlite3_changes(s->db) == 0)
        return kz_error_set(err, KZ_ENOTFOUND, "no valid token with id \"%s\"", token_id);
    return 0;
}

static int sqlite_community_add(void *b, struct store_community *c, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s,
                                 "INSERT INTO communities (key, name, created)"
                                 " VALUES (" NEXT_KEY("communities") ", ?1, ?2)",
                                 err, "store: adding a community");
    char msg[KZ_MAX_NAME + 64];

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, c->created_us);
    snprintf(msg, sizeof(msg), "a community named \"%s\" already exists", c->name);
    if (sq_finish_change(s, q, msg, err, "store: adding a community") < 0)
        return -1;
    c->key = sqlite3_last_insert_rowid(s->db);
    return 0;
}

static int sqlite_community_find(void *b, const char *name, struct store_community *out,
                                 struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s, "SELECT key, name, created FROM communities WHERE name = ?1",
                                 err, "store: finding a community");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        out->key = sqlite3_column_int64(q, 0);
        sq_col_text(q, 1, out->name, sizeof(out->name));
        out->created_us = sqlite3_column_int64(q, 2);
    }
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, err, "store: finding a community");
    return kz_error_set(err, KZ_ENOTFOUND, "no community \"%s\"", name);
}

static int sqlite_community_join(void *b, int64_t community, int64_t org, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s,
                                 "INSERT OR IGNORE INTO community_members (community, org)"
                                 " VALUES (?1, ?2)",
                                 err, "store: joining a community");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, community);
    sqlite3_bind_int64(q, 2, org);
    return sq_finish_change(s, q, NULL, err, "store: joining a community");
}

static int sqlite_user_update(void *b, int64_t key, const char *role, int disabled,
                              struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s,
                                 "UPDATE users SET role = coalesce(?2, role),"
                                 " disabled = CASE WHEN ?3 < 0 THEN disabled ELSE ?3 END"
                                 " WHERE key = ?1",
                                 err, "store: changing a user");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, key);
    if (role)
        sqlite3_bind_text(q, 2, role, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, disabled < 0 ? -1 : disabled != 0);
    if (sq_finish_change(s, q, NULL, err, "store: changing a user") < 0)
        return -1;
    if (sqlite3_changes(s->db) == 0)
        return kz_error_set(err, KZ_ENOTFOUND, "no user with key %lld", (long long)key);
    return 0;
}

static int sqlite_community_leave(void *b, int64_t community, int64_t org, struct kz_error *err)
{
    uint64_t n = 0;

    if (sq_run_keyed(b, "DELETE FROM community_members WHERE community = ?1 AND org = ?2",
                     community, org, &n, err, "store: leaving a community") < 0)
        return -1;
    return n ? 0 : kz_error_set(err, KZ_ENOTFOUND, "the organisation is not a member");
}

static int sqlite_org_update(void *b, const struct store_org *o, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            sq_prepare(s, "UPDATE orgs SET country = ?2, sector = ?3, kind = ?4 WHERE key = ?1",
                       err, "store: changing an organisation");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, o->key);
    sqlite3_bind_text(q, 2, o->country, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, o->sector, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, o->kind, -1, SQLITE_STATIC);
    return sq_finish_change(s, q, NULL, err, "store: changing an organisation");
}

const struct store_accounts_ops sqlite_accounts_ops = {
        .org_add = sqlite_org_add,
        .org_find = sqlite_org_find,
        .org_each = sqlite_org_each,
        .org_update = sqlite_org_update,
        .user_add = sqlite_user_add,
        .user_find = sqlite_user_find,
        .user_each = sqlite_user_each,
        .user_update = sqlite_user_update,
        .token_add = sqlite_token_add,
        .token_find = sqlite_token_find,
        .token_each = sqlite_token_each,
        .token_revoke = sqlite_token_revoke,
        .community_add = sqlite_community_add,
        .community_find = sqlite_community_find,
        .community_each = sqlite_community_each,
        .community_join = sqlite_community_join,
        .community_leave = sqlite_community_leave,
};
