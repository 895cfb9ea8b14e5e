/*
 * The PostgreSQL backend's named blobs (warninglists), kept as bytea.
 */
#include "store/pg/pg_int.h"

#include <stdlib.h>

static const struct pg_stmt blob_put_q = {"INSERT INTO blobs (name, data) VALUES ($1, $2)"
                                          " ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data"};
static const struct pg_stmt blob_get_q = {"SELECT data FROM blobs WHERE name = $1"};

static int pg_blob_put(void *b, const char *name, const void *data, size_t len,
                       struct kz_error *err)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_text(&p, name);
    pg_param_bytea(&p, data, len);
    return pg_change(b, &blob_put_q, &p, NULL, NULL, err, "store: writing a blob");
}

static int pg_blob_get(void *b, const char *name, char **data, size_t *len, struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;
    int rc;

    pg_params_init(&p);
    pg_param_text(&p, name);
    r = pg_run(b, &blob_get_q, &p, NULL, err, "store: reading a blob");
    if (!r)
        return -1;
    if (PQntuples(r) == 0)
        rc = kz_error_set(err, KZ_ENOTFOUND, "no blob \"%s\"", name);
    else
        rc = pg_col_bytea_dup(r, 0, 0, data, len, err);
    PQclear(r);
    return rc;
}

const struct store_blobs_ops pg_blobs_ops = {
        .blob_put = pg_blob_put,
        .blob_get = pg_blob_get,
};
