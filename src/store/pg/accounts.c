/*
 * The PostgreSQL backend's accounts: organisations, users, tokens (their
 * hashes) and communities with their members.
 */
#include "store/pg/pg_int.h"

#include <stdio.h>
#include <string.h>

#include "util/kztime.h"

#define ORG_COLUMNS "key, name, country, sector, kind, identity, created"
#define USER_SELECT                                                                                \
    "SELECT u.key, u.name, u.org, o.name, u.role, u.created, u.disabled FROM users u"              \
    " JOIN orgs o ON o.key = u.org"

static const struct pg_stmt org_add_q = {
        "INSERT INTO orgs (name, country, sector, kind, identity, created)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING key"};
static const struct pg_stmt org_by_name_q = {"SELECT " ORG_COLUMNS " FROM orgs WHERE name = $1"};
static const struct pg_stmt org_by_identity_q = {"SELECT " ORG_COLUMNS
                                                 " FROM orgs WHERE identity = $1"};
static const struct pg_stmt org_by_key_q = {"SELECT " ORG_COLUMNS " FROM orgs WHERE key = $1"};
static const struct pg_stmt org_each_q = {"SELECT " ORG_COLUMNS " FROM orgs ORDER BY name"};
static const struct pg_stmt org_update_q = {
        "UPDATE orgs SET country = $2, sector = $3, kind = $4 WHERE key = $1"};
static const struct pg_stmt user_add_q = {
        "INSERT INTO users (name, org, role, created) VALUES ($1, $2, $3, $4) RETURNING key"};
static const struct pg_stmt user_by_name_q = {USER_SELECT " WHERE u.name = $1"};
static const struct pg_stmt user_by_key_q = {USER_SELECT " WHERE u.key = $1"};
static const struct pg_stmt user_each_q = {USER_SELECT " ORDER BY u.name"};
static const struct pg_stmt user_update_q = {
        "UPDATE users SET role = coalesce($2::text, role),"
        " disabled = CASE WHEN $3::integer < 0 THEN disabled ELSE $3::integer END"
        " WHERE key = $1"};
static const struct pg_stmt token_add_q = {
        "INSERT INTO tokens (token_id, user_key, hash, created, revoked)"
        " VALUES ($1, $2, $3, $4, 0) RETURNING key"};
static const struct pg_stmt token_find_q = {
        "SELECT key, token_id, user_key, hash, created, revoked FROM tokens WHERE token_id = $1"};
static const struct pg_stmt token_each_q = {
        "SELECT key, token_id, user_key, created, revoked FROM tokens"
        " WHERE $1::bigint = 0 OR user_key = $1::bigint ORDER BY key"};
static const struct pg_stmt token_revoke_q = {
        "UPDATE tokens SET revoked = $2 WHERE token_id = $1 AND revoked = 0"};
static const struct pg_stmt community_add_q = {
        "INSERT INTO communities (name, created) VALUES ($1, $2) RETURNING key"};
static const struct pg_stmt community_find_q = {
        "SELECT key, name, created FROM communities WHERE name = $1"};
static const struct pg_stmt community_each_q = {
        "SELECT c.key, c.name, c.created, coalesce(string_agg(o.name, ',' ORDER BY o.key), '')"
        " FROM communities c LEFT JOIN community_members m ON m.community = c.key"
        " LEFT JOIN orgs o ON o.key = m.org GROUP BY c.key ORDER BY c.name"};
static const struct pg_stmt community_join_q = {
        "INSERT INTO community_members (community, org) VALUES ($1, $2) ON CONFLICT DO NOTHING"};
static const struct pg_stmt community_leave_q = {
        "DELETE FROM community_members WHERE community = $1 AND org = $2"};

/* Runs an INSERT ... RETURNING key and reads the key. */
static int insert_key(struct pg_store *s, const struct pg_stmt *st, const struct pg_params *p,
                      const char *exists_msg, int64_t *key, struct kz_error *err, const char *what)
{
    PGresult *r = pg_run(s, st, p, exists_msg, err, what);

    if (!r)
        return -1;
    *key = pg_col_int(r, 0, 0);
    PQclear(r);
    return 0;
}

static int pg_org_add(void *b, struct store_org *o, struct kz_error *err)
{
    struct pg_params p;
    char msg[KZ_MAX_NAME + KZ_MAX_STIX_ID + 64];

    pg_params_init(&p);
    pg_param_text(&p, o->name);
    pg_param_text(&p, o->country);
    pg_param_text(&p, o->sector);
    pg_param_text(&p, o->kind);
    pg_param_text(&p, o->identity);
    pg_param_int(&p, o->created_us);
    snprintf(msg, sizeof(msg), "an organisation named \"%s\" or with identity %s already exists",
             o->name, o->identity);
    return insert_key(b, &org_add_q, &p, msg, &o->key, err, "store: adding an organisation");
}

static void read_org(const PGresult *r, int row, struct store_org *o)
{
    memset(o, 0, sizeof(*o));
    o->key = pg_col_int(r, row, 0);
    pg_col_text(r, row, 1, o->name, sizeof(o->name));
    pg_col_text(r, row, 2, o->country, sizeof(o->country));
    pg_col_text(r, row, 3, o->sector, sizeof(o->sector));
    pg_col_text(r, row, 4, o->kind, sizeof(o->kind));
    pg_col_text(r, row, 5, o->identity, sizeof(o->identity));
    o->created_us = pg_col_int(r, row, 6);
}

static int pg_org_find(void *b, const char *name, const char *identity, int64_t key,
                       struct store_org *out, struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;
    int found;

    pg_params_init(&p);
    if (name || identity)
        pg_param_text(&p, name ? name : identity);
    else
        pg_param_int(&p, key);
    r = pg_run(b,
               name       ? &org_by_name_q
               : identity ? &org_by_identity_q
                          : &org_by_key_q,
               &p, NULL, err, "store: finding an organisation");
    if (!r)
        return -1;
    found = PQntuples(r) > 0;
    if (found)
        read_org(r, 0, out);
    PQclear(r);
    if (found)
        return 0;
    if (name || identity)
        return kz_error_set(err, KZ_ENOTFOUND, "no organisation \"%s\"", name ? name : identity);
    return kz_error_set(err, KZ_ENOTFOUND, "no organisation with key %lld", (long long)key);
}

static int org_row(const PGresult *r, int row, void *fn, void *ctx)
{
    struct store_org o;

    read_org(r, row, &o);
    return (*(store_org_fn *)fn)(ctx, &o);
}

static int pg_org_each(void *b, store_org_fn fn, void *ctx, struct kz_error *err)
{
    PGresult *r = pg_run(b, &org_each_q, NULL, NULL, err, "store: listing organisations");

    return r ? pg_walk_rows(r, org_row, &fn, ctx) : -1;
}

static int pg_org_update(void *b, const struct store_org *o, struct kz_error *err)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_int(&p, o->key);
    pg_param_text(&p, o->country);
    pg_param_text(&p, o->sector);
    pg_param_text(&p, o->kind);
    return pg_change(b, &org_update_q, &p, NULL, NULL, err, "store: changing an organisation");
}

static int pg_user_add(void *b, struct store_user *u, struct kz_error *err)
{
    struct pg_params p;
    char msg[KZ_MAX_NAME + 64];

    pg_params_init(&p);
    pg_param_text(&p, u->name);
    pg_param_int(&p, u->org);
    pg_param_text(&p, u->role);
    pg_param_int(&p, u->created_us);
    snprintf(msg, sizeof(msg), "a user named \"%s\" already exists", u->name);
    return insert_key(b, &user_add_q, &p, msg, &u->key, err, "store: adding a user");
}

static void read_user(const PGresult *r, int row, struct store_user *u)
{
    memset(u, 0, sizeof(*u));
    u->key = pg_col_int(r, row, 0);
    pg_col_text(r, row, 1, u->name, sizeof(u->name));
    u->org = pg_col_int(r, row, 2);
    pg_col_text(r, row, 3, u->org_name, sizeof(u->org_name));
    pg_col_text(r, row, 4, u->role, sizeof(u->role));
    u->created_us = pg_col_int(r, row, 5);
    u->disabled = pg_col_int(r, row, 6) != 0;
}

static int pg_user_find(void *b, const char *name, int64_t key, struct store_user *out,
                        struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;
    int found;

    pg_params_init(&p);
    if (name)
        pg_param_text(&p, name);
    else
        pg_param_int(&p, key);
    r = pg_run(b, name ? &user_by_name_q : &user_by_key_q, &p, NULL, err, "store: finding a user");
    if (!r)
        return -1;
    found = PQntuples(r) > 0;
    if (found)
        read_user(r, 0, out);
    PQclear(r);
    if (found)
        return 0;
    if (name)
        return kz_error_set(err, KZ_ENOTFOUND, "no user \"%s\"", name);
    return kz_error_set(err, KZ_ENOTFOUND, "no user with key %lld", (long long)key);
}

static int user_row(const PGresult *r, int row, void *fn, void *ctx)
{
    struct store_user u;

    read_user(r, row, &u);
    return (*(store_user_fn *)fn)(ctx, &u);
}

static int pg_user_each(void *b, store_user_fn fn, void *ctx, struct kz_error *err)
{
    PGresult *r = pg_run(b, &user_each_q, NULL, NULL, err, "store: listing users");

    return r ? pg_walk_rows(r, user_row, &fn, ctx) : -1;
}

static int pg_user_update(void *b, int64_t key, const char *role, int disabled,
                          struct kz_error *err)
{
    struct pg_params p;
    uint64_t n = 0;

    pg_params_init(&p);
    pg_param_int(&p, key);
    pg_param_text(&p, role);
    pg_param_int(&p, disabled < 0 ? -1 : disabled != 0);
    if (pg_change(b, &user_update_q, &p, NULL, &n, err, "store: changing a user") < 0)
        return -1;
    if (n == 0)
        return kz_error_set(err, KZ_ENOTFOUND, "no user with key %lld", (long long)key);
    return 0;
}

static int pg_token_add(void *b, struct store_token *t, struct kz_error *err)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_text(&p, t->token_id);
    pg_param_int(&p, t->user);
    pg_param_bytea(&p, t->hash, STORE_TOKEN_HASH_LEN);
    pg_param_int(&p, t->created_us);
    return insert_key(b, &token_add_q, &p, "token id collision; try again", &t->key, err,
                      "store: adding a token");
}

static int pg_token_find(void *b, const char *token_id, struct store_token *out,
                         struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;
    int found;

    pg_params_init(&p);
    pg_param_text(&p, token_id);
    r = pg_run(b, &token_find_q, &p, NULL, err, "store: finding a token");
    if (!r)
        return -1;
    found = PQntuples(r) > 0;
    if (found) {
        memset(out, 0, sizeof(*out));
        out->key = pg_col_int(r, 0, 0);
        pg_col_text(r, 0, 1, out->token_id, sizeof(out->token_id));
        out->user = pg_col_int(r, 0, 2);
        pg_col_bytea(r, 0, 3, out->hash, STORE_TOKEN_HASH_LEN);
        out->created_us = pg_col_int(r, 0, 4);
        out->revoked_us = pg_col_int(r, 0, 5);
    }
    PQclear(r);
    return found ? 0 : kz_error_set(err, KZ_ENOTFOUND, "no token \"%s\"", token_id);
}

static int token_row(const PGresult *r, int row, void *fn, void *ctx)
{
    struct store_token t;

    memset(&t, 0, sizeof(t));
    t.key = pg_col_int(r, row, 0);
    pg_col_text(r, row, 1, t.token_id, sizeof(t.token_id));
    t.user = pg_col_int(r, row, 2);
    t.created_us = pg_col_int(r, row, 3);
    t.revoked_us = pg_col_int(r, row, 4);
    return (*(store_token_fn *)fn)(ctx, &t);
}

static int pg_token_each(void *b, int64_t user, store_token_fn fn, void *ctx, struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;

    pg_params_init(&p);
    pg_param_int(&p, user);
    r = pg_run(b, &token_each_q, &p, NULL, err, "store: listing tokens");
    return r ? pg_walk_rows(r, token_row, &fn, ctx) : -1;
}

static int pg_token_revoke(void *b, const char *token_id, struct kz_error *err)
{
    struct pg_params p;
    uint64_t n = 0;

    pg_params_init(&p);
    pg_param_text(&p, token_id);
    pg_param_int(&p, kz_now_micros());
    if (pg_change(b, &token_revoke_q, &p, NULL, &n, err, "store: revoking a token") < 0)
        return -1;
    if (n == 0)
        return kz_error_set(err, KZ_ENOTFOUND, "no valid token with id \"%s\"", token_id);
    return 0;
}

static int pg_community_add(void *b, struct store_community *c, struct kz_error *err)
{
    struct pg_params p;
    char msg[KZ_MAX_NAME + 64];

    pg_params_init(&p);
    pg_param_text(&p, c->name);
    pg_param_int(&p, c->created_us);
    snprintf(msg, sizeof(msg), "a community named \"%s\" already exists", c->name);
    return insert_key(b, &community_add_q, &p, msg, &c->key, err, "store: adding a community");
}

static int pg_community_find(void *b, const char *name, struct store_community *out,
                             struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;
    int found;

    pg_params_init(&p);
    pg_param_text(&p, name);
    r = pg_run(b, &community_find_q, &p, NULL, err, "store: finding a community");
    if (!r)
        return -1;
    found = PQntuples(r) > 0;
    if (found) {
        memset(out, 0, sizeof(*out));
        out->key = pg_col_int(r, 0, 0);
        pg_col_text(r, 0, 1, out->name, sizeof(out->name));
        out->created_us = pg_col_int(r, 0, 2);
    }
    PQclear(r);
    return found ? 0 : kz_error_set(err, KZ_ENOTFOUND, "no community \"%s\"", name);
}

static int community_row(const PGresult *r, int row, void *fn, void *ctx)
{
    struct store_community c;

    memset(&c, 0, sizeof(c));
    c.key = pg_col_int(r, row, 0);
    pg_col_text(r, row, 1, c.name, sizeof(c.name));
    c.created_us = pg_col_int(r, row, 2);
    return (*(store_community_fn *)fn)(ctx, &c, PQgetvalue(r, row, 3));
}

static int pg_community_each(void *b, store_community_fn fn, void *ctx, struct kz_error *err)
{
    PGresult *r = pg_run(b, &community_each_q, NULL, NULL, err, "store: listing communities");

    return r ? pg_walk_rows(r, community_row, &fn, ctx) : -1;
}

static int pg_community_join(void *b, int64_t community, int64_t org, struct kz_error *err)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_int(&p, community);
    pg_param_int(&p, org);
    return pg_change(b, &community_join_q, &p, NULL, NULL, err, "store: joining a community");
}

static int pg_community_leave(void *b, int64_t community, int64_t org, struct kz_error *err)
{
    struct pg_params p;
    uint64_t n = 0;

    pg_params_init(&p);
    pg_param_int(&p, community);
    pg_param_int(&p, org);
    if (pg_change(b, &community_leave_q, &p, NULL, &n, err, "store: leaving a community") < 0)
        return -1;
    return n ? 0 : kz_error_set(err, KZ_ENOTFOUND, "the organisation is not a member");
}

const struct store_accounts_ops pg_accounts_ops = {
        .org_add = pg_org_add,
        .org_find = pg_org_find,
        .org_each = pg_org_each,
        .org_update = pg_org_update,
        .user_add = pg_user_add,
        .user_find = pg_user_find,
        .user_each = pg_user_each,
        .user_update = pg_user_update,
        .token_add = pg_token_add,
        .token_find = pg_token_find,
        .token_each = pg_token_each,
        .token_revoke = pg_token_revoke,
        .community_add = pg_community_add,
        .community_find = pg_community_find,
        .community_each = pg_community_each,
        .community_join = pg_community_join,
        .community_leave = pg_community_leave,
};
