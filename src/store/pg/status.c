/*
 * The PostgreSQL backend's TAXII status resources, kept as JSON text.
 */
#include "store/pg/pg_int.h"

#include <stdlib.h>
#include <string.h>

static const struct pg_stmt status_put_q = {
        "INSERT INTO statuses (id, api_root, user_key, created, body)"
        " VALUES ($1, $2, $3, $4, $5::text) ON CONFLICT (id) DO UPDATE SET"
        " api_root = EXCLUDED.api_root, user_key = EXCLUDED.user_key,"
        " created = EXCLUDED.created, body = EXCLUDED.body"};
static const struct pg_stmt status_get_q = {
        "SELECT api_root, user_key, body FROM statuses WHERE id = $1"};
static const struct pg_stmt status_purge_q = {"DELETE FROM statuses WHERE created < $1"};

static int pg_status_put(void *b, const char *id, const char *api_root, int64_t user,
                         int64_t created_us, const char *json, size_t len, struct kz_error *err)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_text(&p, id);
    pg_param_text(&p, api_root);
    pg_param_int(&p, user);
    pg_param_int(&p, created_us);
    pg_param_textn(&p, json, len);
    return pg_change(b, &status_put_q, &p, NULL, NULL, err, "store: saving a status");
}

static int pg_status_get(void *b, const char *id, char *api_root, size_t cap, int64_t *user,
                         char **json, size_t *len, struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;
    size_t n;
    int rc = 0;

    pg_params_init(&p);
    pg_param_text(&p, id);
    r = pg_run(b, &status_get_q, &p, NULL, err, "store: reading a status");
    if (!r)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return kz_error_set(err, KZ_ENOTFOUND, "no status \"%s\"", id);
    }
    pg_col_text(r, 0, 0, api_root, cap);
    *user = pg_col_int(r, 0, 1);
    n = (size_t)PQgetlength(r, 0, 2);
    *json = malloc(n + 1);
    if (*json) {
        memcpy(*json, PQgetvalue(r, 0, 2), n);
        (*json)[n] = '\0';
        *len = n;
    } else
        rc = kz_error_set(err, KZ_ENOMEM, "out of memory");
    PQclear(r);
    return rc;
}

static int pg_status_purge(void *b, int64_t before_us, struct kz_error *err)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_int(&p, before_us);
    return pg_change(b, &status_purge_q, &p, NULL, NULL, err, "store: purging statuses");
}

const struct store_status_ops pg_status_ops = {
        .status_put = pg_status_put,
        .status_get = pg_status_get,
        .status_purge = pg_status_purge,
};
