/*
 * The SQLite backend's removals: what refers to an organisation, user,
 * community or collection, and removing one with what exists only for it.
 * A collection's objects go through sqlite_objects_drop, which knows the
 * id index.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

/* One count of store_refs: the SQL (?1 the key) and where it goes. */
struct refs_query {
    enum store_entity kind;
    size_t field; /* offsetof(struct store_refs, ...) */
    const char *sql;
};

static const struct refs_query refs_queries[] = {
        {STORE_ENTITY_ORG, offsetof(struct store_refs, users),
         "SELECT count(*) FROM users WHERE org = ?1"},
        {STORE_ENTITY_ORG, offsetof(struct store_refs, peers),
         "SELECT count(*) FROM peers WHERE org = ?1"},
        {STORE_ENTITY_ORG, offsetof(struct store_refs, objects),
         "SELECT (SELECT count(*) FROM objects WHERE producer = ?1)"
         " + (SELECT count(*) FROM recipients WHERE kind IN (2, 4) AND subject = ?1)"},
        {STORE_ENTITY_ORG, offsetof(struct store_refs, grants),
         "SELECT count(*) FROM grants WHERE kind = 2 AND subject = ?1"},
        {STORE_ENTITY_ORG, offsetof(struct store_refs, members),
         "SELECT count(*) FROM community_members WHERE org = ?1"},
        {STORE_ENTITY_USER, offsetof(struct store_refs, tokens),
         "SELECT count(*) FROM tokens WHERE user = ?1"},
        {STORE_ENTITY_USER, offsetof(struct store_refs, grants),
         "SELECT count(*) FROM grants WHERE kind = 1 AND subject = ?1"},
        {STORE_ENTITY_USER, offsetof(struct store_refs, objects),
         "SELECT count(*) FROM recipients WHERE kind = 1 AND subject = ?1"},
        {STORE_ENTITY_COMMUNITY, offsetof(struct store_refs, grants),
         "SELECT count(*) FROM grants WHERE kind = 3 AND subject = ?1"},
        {STORE_ENTITY_COMMUNITY, offsetof(struct store_refs, members),
         "SELECT count(*) FROM community_members WHERE community = ?1"},
        {STORE_ENTITY_COMMUNITY, offsetof(struct store_refs, peers),
         "SELECT count(*) FROM peer_communities WHERE community = ?1"},
        {STORE_ENTITY_COLLECTION, offsetof(struct store_refs, objects),
         "SELECT count(*) FROM objects WHERE collection = ?1"},
        {STORE_ENTITY_COLLECTION, offsetof(struct store_refs, grants),
         "SELECT count(*) FROM grants WHERE collection = ?1"},
        {STORE_ENTITY_COLLECTION, offsetof(struct store_refs, links),
         "SELECT count(*) FROM peer_links WHERE local = ?1"},
};

static int sqlite_refs_count(void *b, enum store_entity kind, int64_t key, struct store_refs *out,
                             struct kz_error *err)
{
    struct sqlite_store *s = b;

    for (size_t i = 0; i < sizeof(refs_queries) / sizeof(refs_queries[0]); i++) {
        const struct refs_query *r = &refs_queries[i];
        sqlite3_stmt *q;
        int rc;

        if (r->kind != kind)
            continue;
        q = sq_prepare(s, r->sql, err, "store: counting references");
        if (!q)
            return -1;
        sqlite3_bind_int64(q, 1, key);
        rc = sqlite3_step(q);
        if (rc == SQLITE_ROW)
            *(uint64_t *)((char *)out + r->field) = (uint64_t)sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        if (rc != SQLITE_ROW)
            return sq_fail(s, rc, err, "store: counting references");
    }
    return 0;
}

/* What store_remove runs for each kind, in order, ?1 the key (after
 * sqlite_objects_drop for a collection); the last statement removes the
 * row itself and must change one. */
static const char *const remove_user[] = {
        "DELETE FROM tokens WHERE user = ?1",
        "DELETE FROM grants WHERE kind = 1 AND subject = ?1",
        "UPDATE counters SET value = max(value, ?1) WHERE name = 'key_users'",
        "DELETE FROM users WHERE key = ?1",
        NULL,
};
static const char *const remove_org[] = {
        "DELETE FROM grants WHERE kind = 2 AND subject = ?1",
        "DELETE FROM community_members WHERE org = ?1",
        "UPDATE counters SET value = max(value, ?1) WHERE name = 'key_orgs'",
        "DELETE FROM orgs WHERE key = ?1",
        NULL,
};
static const char *const remove_community[] = {
        "DELETE FROM grants WHERE kind = 3 AND subject = ?1",
        "DELETE FROM community_members WHERE community = ?1",
        "DELETE FROM peer_communities WHERE community = ?1",
        "UPDATE counters SET value = max(value, ?1) WHERE name = 'key_communities'",
        "DELETE FROM communities WHERE key = ?1",
        NULL,
};
static const char *const remove_collection[] = {
        "DELETE FROM grants WHERE collection = ?1",
        "DELETE FROM peer_links WHERE local = ?1",
        "UPDATE counters SET value = max(value, ?1) WHERE name = 'key_collections'",
        "DELETE FROM collections WHERE key = ?1",
        NULL,
};

static int sqlite_remove(void *b, enum store_entity kind, int64_t key, struct kz_error *err)
{
    struct sqlite_store *s = b;
    const char *const *sql = kind == STORE_ENTITY_USER        ? remove_user
                             : kind == STORE_ENTITY_ORG       ? remove_org
                             : kind == STORE_ENTITY_COMMUNITY ? remove_community
                                                              : remove_collection;
    uint64_t n = 0;

    if (!s->in_tx)
        return kz_error_set(err, KZ_EINTERNAL, "store: a removal outside a transaction");
    if (kind == STORE_ENTITY_ORG) {
        struct store_refs r;
        memset(&r, 0, sizeof(r));
        if (sqlite_refs_count(b, kind, key, &r, err) < 0)
            return -1;
        if (r.users || r.peers)
            return kz_error_set(err, KZ_ECONFLICT,
                                "the organisation still has %llu user(s) and %llu peer(s)",
                                (unsigned long long)r.users, (unsigned long long)r.peers);
    }
    /* a collection's objects first, as objects.c knows them (with their
     * id index) */
    if (kind == STORE_ENTITY_COLLECTION && sqlite_objects_drop(s, key, err) < 0)
        return -1;
    for (; *sql; sql++)
        if (sq_run_keyed(s, *sql, key, 0, &n, err, "store: removing") < 0)
            return -1;
    return n ? 0
             : kz_error_set(err, KZ_ENOTFOUND, "nothing with key %lld to remove", (long long)key);
}

const struct store_remove_ops sqlite_remove_ops = {
        .refs_count = sqlite_refs_count,
        .remove = sqlite_remove,
};
