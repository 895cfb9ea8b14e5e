/*
 * The concern the PostgreSQL backend does not carry yet: removing
 * entities. Every call fails closed with "not implemented on postgresql
 * yet", so a node on PostgreSQL can never believe it removed something it
 * did not. The table moves to its own file when the concern is
 * implemented.
 */
#include "store/pg/pg_int.h"

/* --- removing (store_remove.h) --------------------------------------------- */

static int pg_refs_count(void *b, enum store_entity kind, int64_t key, struct store_refs *out,
                         struct kz_error *err)
{
    (void)b, (void)kind, (void)key, (void)out;
    return pg_not_yet(err, "counting references");
}

static int pg_remove(void *b, enum store_entity kind, int64_t key, struct kz_error *err)
{
    (void)b, (void)kind, (void)key;
    return pg_not_yet(err, "removing");
}

const struct store_remove_ops pg_remove_ops = {
        .refs_count = pg_refs_count,
        .remove = pg_remove,
};
