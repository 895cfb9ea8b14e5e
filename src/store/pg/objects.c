/*
 * The PostgreSQL backend's objects concern. API roots and collections are
 * here; the object versions themselves (put, list, delete, owner, count)
 * are not carried over yet and fail closed: they need the id lookup and the
 * pages spliced from the JSON as sent (docs/internals/postgresql.md).
 */
#include "store/pg/pg_int.h"

#include <string.h>

#include "util/kztime.h"

#define COLLECTION_COLUMNS "key, id, api_root, alias, title, description, created"
#define API_ROOT_COLUMNS   "name, title, description, max_content_length"

static const struct pg_stmt collection_add_q = {
        "INSERT INTO collections (id, api_root, alias, title, description, created)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING key"};
/* by id or alias, the id first, within an API root ($2 NULL: any) */
static const struct pg_stmt collection_find_q = {
        "SELECT " COLLECTION_COLUMNS " FROM collections WHERE (id = $1 OR alias = $1)"
        " AND ($2::text IS NULL OR api_root = $2::text) ORDER BY id = $1 DESC LIMIT 1"};
static const struct pg_stmt collection_each_q = {"SELECT " COLLECTION_COLUMNS
                                                 " FROM collections WHERE $1::text IS NULL"
                                                 " OR api_root = $1::text ORDER BY alias"};
static const struct pg_stmt collection_update_q = {
        "UPDATE collections SET title = $2, description = $3 WHERE key = $1"};
static const struct pg_stmt api_root_add_q = {"INSERT INTO api_roots (" API_ROOT_COLUMNS
                                              ") VALUES ($1, $2, $3, $4)"};
static const struct pg_stmt api_root_find_q = {"SELECT " API_ROOT_COLUMNS
                                               " FROM api_roots WHERE name = $1"};
static const struct pg_stmt api_root_each_q = {"SELECT " API_ROOT_COLUMNS
                                               " FROM api_roots ORDER BY name"};

static void read_collection(const PGresult *r, int row, struct store_collection *c)
{
    memset(c, 0, sizeof(*c));
    c->key = pg_col_int(r, row, 0);
    pg_col_text(r, row, 1, c->id, sizeof(c->id));
    pg_col_text(r, row, 2, c->api_root, sizeof(c->api_root));
    pg_col_text(r, row, 3, c->alias, sizeof(c->alias));
    pg_col_text(r, row, 4, c->title, sizeof(c->title));
    pg_col_text(r, row, 5, c->description, sizeof(c->description));
    c->created_us = pg_col_int(r, row, 6);
}

static int pg_collection_add(void *b, struct store_collection *c, struct kz_error *err)
{
    struct pg_params p;
    char msg[2 * KZ_MAX_NAME + 64];
    PGresult *r;

    c->created_us = kz_now_micros();
    pg_params_init(&p);
    pg_param_text(&p, c->id);
    pg_param_text(&p, c->api_root);
    pg_param_text(&p, c->alias);
    pg_param_text(&p, c->title);
    pg_param_text(&p, c->description);
    pg_param_int(&p, c->created_us);
    snprintf(msg, sizeof(msg), "a collection named \"%s\" already exists in API root \"%s\"",
             c->alias, c->api_root);
    r = pg_run(b, &collection_add_q, &p, msg, err, "store: adding a collection");
    if (!r)
        return -1;
    c->key = pg_col_int(r, 0, 0);
    PQclear(r);
    return 0;
}

static int pg_collection_find(void *b, const char *api_root, const char *id_or_alias,
                              struct store_collection *out, struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;
    int found;

    pg_params_init(&p);
    pg_param_text(&p, id_or_alias);
    pg_param_text(&p, api_root);
    r = pg_run(b, &collection_find_q, &p, NULL, err, "store: finding a collection");
    if (!r)
        return -1;
    found = PQntuples(r) > 0;
    if (found)
        read_collection(r, 0, out);
    PQclear(r);
    return found ? 0 : kz_error_set(err, KZ_ENOTFOUND, "no collection \"%s\"", id_or_alias);
}

static int collection_row(const PGresult *r, int row, void *fn, void *ctx)
{
    struct store_collection c;

    read_collection(r, row, &c);
    return (*(store_collection_fn *)fn)(ctx, &c);
}

static int pg_collection_each(void *b, const char *api_root, store_collection_fn fn, void *ctx,
                              struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;

    pg_params_init(&p);
    pg_param_text(&p, api_root);
    r = pg_run(b, &collection_each_q, &p, NULL, err, "store: listing collections");
    return r ? pg_walk_rows(r, collection_row, &fn, ctx) : -1;
}

static int pg_collection_update(void *b, const struct store_collection *c, struct kz_error *err)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_int(&p, c->key);
    pg_param_text(&p, c->title);
    pg_param_text(&p, c->description);
    return pg_change(b, &collection_update_q, &p, NULL, NULL, err, "store: changing a collection");
}

static int pg_api_root_add(void *b, const struct store_api_root *ar, struct kz_error *err)
{
    struct pg_params p;
    char msg[KZ_MAX_NAME + 64];

    pg_params_init(&p);
    pg_param_text(&p, ar->name);
    pg_param_text(&p, ar->title);
    pg_param_text(&p, ar->description);
    pg_param_int(&p, (int64_t)ar->max_content_length);
    snprintf(msg, sizeof(msg), "API root \"%s\" already exists", ar->name);
    return pg_change(b, &api_root_add_q, &p, msg, NULL, err, "store: adding an API root");
}

static void read_api_root(const PGresult *r, int row, struct store_api_root *ar)
{
    memset(ar, 0, sizeof(*ar));
    pg_col_text(r, row, 0, ar->name, sizeof(ar->name));
    pg_col_text(r, row, 1, ar->title, sizeof(ar->title));
    pg_col_text(r, row, 2, ar->description, sizeof(ar->description));
    ar->max_content_length = (uint64_t)pg_col_int(r, row, 3);
}

static int pg_api_root_find(void *b, const char *name, struct store_api_root *out,
                            struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;
    int found;

    pg_params_init(&p);
    pg_param_text(&p, name);
    r = pg_run(b, &api_root_find_q, &p, NULL, err, "store: finding an API root");
    if (!r)
        return -1;
    found = PQntuples(r) > 0;
    if (found)
        read_api_root(r, 0, out);
    PQclear(r);
    return found ? 0 : kz_error_set(err, KZ_ENOTFOUND, "no API root \"%s\"", name);
}

static int api_root_row(const PGresult *r, int row, void *fn, void *ctx)
{
    struct store_api_root ar;

    read_api_root(r, row, &ar);
    return (*(store_api_root_fn *)fn)(ctx, &ar);
}

static int pg_api_root_each(void *b, store_api_root_fn fn, void *ctx, struct kz_error *err)
{
    PGresult *r = pg_run(b, &api_root_each_q, NULL, NULL, err, "store: listing API roots");

    return r ? pg_walk_rows(r, api_root_row, &fn, ctx) : -1;
}

/* --- not yet: the object versions ------------------------------------------ */

static int pg_put(void *b, int64_t collection, const struct stix_obj *o, const char *raw,
                  size_t rawlen, const struct store_put_meta *rcpt, enum store_put_result *result,
                  int64_t *added, struct kz_error *err)
{
    (void)b, (void)collection, (void)o, (void)raw, (void)rawlen, (void)rcpt, (void)result,
            (void)added;
    return pg_not_yet(err, "storing objects");
}

static int pg_list(void *b, const struct store_filter *f, int want_raw, store_row_fn fn, void *ctx,
                   struct store_page *page, struct kz_error *err)
{
    (void)b, (void)f, (void)want_raw, (void)fn, (void)ctx, (void)page;
    return pg_not_yet(err, "listing objects");
}

static int pg_del(void *b, int64_t collection, const char *id, const struct store_filter *f,
                  uint64_t *deleted, struct kz_error *err)
{
    (void)b, (void)collection, (void)id, (void)f, (void)deleted;
    return pg_not_yet(err, "deleting objects");
}

static int pg_owner(void *b, int64_t collection, const char *id, int64_t version_us,
                    struct store_owner *out, struct kz_error *err)
{
    (void)b, (void)collection, (void)id, (void)version_us, (void)out;
    return pg_not_yet(err, "finding an object's owner");
}

static int pg_count(void *b, int64_t collection, uint64_t *count, struct kz_error *err)
{
    (void)b, (void)collection, (void)count;
    return pg_not_yet(err, "counting objects");
}

const struct store_objects_ops pg_objects_ops = {
        .collection_add = pg_collection_add,
        .collection_find = pg_collection_find,
        .collection_each = pg_collection_each,
        .collection_update = pg_collection_update,
        .api_root_add = pg_api_root_add,
        .api_root_find = pg_api_root_find,
        .api_root_each = pg_api_root_each,
        .put = pg_put,
        .list = pg_list,
        .del = pg_del,
        .owner = pg_owner,
        .count = pg_count,
};
