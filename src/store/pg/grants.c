/*
 * The PostgreSQL backend's grants on collections, and the access check that
 * reads them for one user.
 */
#include "store/pg/pg_int.h"

#include <string.h>

static const struct pg_stmt grant_set_q = {
        "INSERT INTO grants (collection, kind, subject, role, can_read, can_write)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (collection, kind, subject, role)"
        " DO UPDATE SET can_read = EXCLUDED.can_read, can_write = EXCLUDED.can_write"};
static const struct pg_stmt grant_check_q = {
        "SELECT kind, max(can_read), max(can_write) FROM grants"
        " WHERE collection = $1 AND ((kind = 1 AND subject = $2) OR (kind = 2 AND subject = $3)"
        " OR (kind = 3 AND subject IN (SELECT community FROM community_members WHERE org = $3))"
        " OR (kind = 4 AND role = $4)) GROUP BY kind"};
static const struct pg_stmt grant_each_q = {
        "SELECT g.collection, g.kind, g.subject, g.role, g.can_read, g.can_write,"
        " CASE g.kind WHEN 1 THEN (SELECT name FROM users WHERE key = g.subject)"
        " WHEN 2 THEN (SELECT name FROM orgs WHERE key = g.subject)"
        " WHEN 3 THEN (SELECT name FROM communities WHERE key = g.subject)"
        " ELSE g.role END FROM grants g WHERE g.collection = $1 ORDER BY g.kind, 7"};

static int pg_grant_set(void *b, const struct store_grant *g, struct kz_error *err)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_int(&p, g->collection);
    pg_param_int(&p, (int64_t)g->kind);
    pg_param_int(&p, g->kind == STORE_GRANT_ROLE ? 0 : g->subject);
    pg_param_text(&p, g->kind == STORE_GRANT_ROLE ? g->role : "");
    pg_param_int(&p, g->can_read);
    pg_param_int(&p, g->can_write);
    return pg_change(b, &grant_set_q, &p, NULL, NULL, err, "store: granting access");
}

static int pg_grant_check(void *b, int64_t collection, int64_t user, int64_t org, const char *role,
                          struct store_access *out, struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;

    pg_params_init(&p);
    pg_param_int(&p, collection);
    pg_param_int(&p, user);
    pg_param_int(&p, org);
    pg_param_text(&p, role);
    r = pg_run(b, &grant_check_q, &p, NULL, err, "store: checking access");
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int kind = (int)pg_col_int(r, i, 0), rd = pg_col_int(r, i, 1) != 0;
        out->can_read |= rd;
        out->can_write |= pg_col_int(r, i, 2) != 0;
        if (kind == STORE_GRANT_USER)
            out->read_as_user |= rd;
        else if (kind == STORE_GRANT_ORG)
            out->read_as_org |= rd;
        else if (kind == STORE_GRANT_COMMUNITY)
            out->read_as_community |= rd;
        else if (kind == STORE_GRANT_ROLE)
            out->read_as_role |= rd;
    }
    PQclear(r);
    return 0;
}

static int grant_row(const PGresult *r, int row, void *fn, void *ctx)
{
    struct store_grant g;

    memset(&g, 0, sizeof(g));
    g.collection = pg_col_int(r, row, 0);
    g.kind = (enum store_grant_kind)pg_col_int(r, row, 1);
    g.subject = pg_col_int(r, row, 2);
    pg_col_text(r, row, 3, g.role, sizeof(g.role));
    g.can_read = (int)pg_col_int(r, row, 4);
    g.can_write = (int)pg_col_int(r, row, 5);
    pg_col_text(r, row, 6, g.subject_name, sizeof(g.subject_name));
    return (*(store_grant_fn *)fn)(ctx, &g);
}

static int pg_grant_each(void *b, int64_t collection, store_grant_fn fn, void *ctx,
                         struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;

    pg_params_init(&p);
    pg_param_int(&p, collection);
    r = pg_run(b, &grant_each_q, &p, NULL, err, "store: listing grants");
    return r ? pg_walk_rows(r, grant_row, &fn, ctx) : -1;
}

const struct store_grants_ops pg_grants_ops = {
        .grant_set = pg_grant_set,
        .grant_check = pg_grant_check,
        .grant_each = pg_grant_each,
};
