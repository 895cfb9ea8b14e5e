/*
 * The PostgreSQL backend's removals: what refers to an organisation, user,
 * community or collection, and removing one with what exists only for it,
 * with the same answers as SQLite's remove.c. A collection's objects go
 * through pg_objects_drop, which takes the objects' clock as every object
 * write does. Keys are identity columns, never handed out twice, so unlike
 * SQLite nothing here needs to remember the largest key removed.
 */
#include "store/pg/pg_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The counts of one kind, in one statement ($1 the key), and the fields
 * of store_refs its columns go to, in order (SIZE_MAX ends the list). */
struct refs_query {
    enum store_entity kind;
    struct pg_stmt st;
    size_t fields[4];
};

#define END     SIZE_MAX
#define F(name) offsetof(struct store_refs, name)

static const struct refs_query refs_queries[] = {
        {STORE_ENTITY_ORG,
         {"SELECT (SELECT count(*) FROM users WHERE org = $1),"
          " (SELECT count(*) FROM objects WHERE producer = $1)"
          " + (SELECT count(*) FROM recipients WHERE kind IN (2, 4) AND subject = $1),"
          " (SELECT count(*) FROM grants WHERE kind = 2 AND subject = $1),"
          " (SELECT count(*) FROM community_members WHERE org = $1)"},
         {F(users), F(objects), F(grants), F(members)}},
        {STORE_ENTITY_USER,
         {"SELECT (SELECT count(*) FROM tokens WHERE user_key = $1),"
          " (SELECT count(*) FROM grants WHERE kind = 1 AND subject = $1),"
          " (SELECT count(*) FROM recipients WHERE kind = 1 AND subject = $1)"},
         {F(tokens), F(grants), F(objects), END}},
        {STORE_ENTITY_COMMUNITY,
         {"SELECT (SELECT count(*) FROM grants WHERE kind = 3 AND subject = $1),"
          " (SELECT count(*) FROM community_members WHERE community = $1)"},
         {F(grants), F(members), END}},
        {STORE_ENTITY_COLLECTION,
         {"SELECT (SELECT count(*) FROM objects WHERE collection = $1),"
          " (SELECT count(*) FROM grants WHERE collection = $1)"},
         {F(objects), F(grants), END}},
};

/* What the peers concern's tables add (peers.c): the peers standing for
 * an organisation or listing a community, the links to a collection. That
 * concern brings its tables in its own migration; a store without them
 * has no peers to count or unlink (peers_present). */
static const struct refs_query peer_refs_queries[] = {
        {STORE_ENTITY_ORG, {"SELECT count(*) FROM peers WHERE org = $1"}, {F(peers), END}},
        {STORE_ENTITY_COMMUNITY,
         {"SELECT count(*) FROM peer_communities WHERE community = $1"},
         {F(peers), END}},
        {STORE_ENTITY_COLLECTION,
         {"SELECT count(*) FROM peer_links WHERE local = $1"},
         {F(links), END}},
};

static const struct pg_stmt peers_present_q = {
        "SELECT to_regclass('peers') IS NOT NULL AND to_regclass('peer_communities') IS NOT NULL"
        " AND to_regclass('peer_links') IS NOT NULL"};

static int peers_present(struct pg_store *s, int *yes, struct kz_error *err)
{
    PGresult *r = pg_run(s, &peers_present_q, NULL, NULL, err, "store: counting references");

    if (!r)
        return -1;
    *yes = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return 0;
}

static int run_counts(struct pg_store *s, const struct refs_query *q, size_t n,
                      enum store_entity kind, int64_t key, struct store_refs *out,
                      struct kz_error *err)
{
    for (size_t i = 0; i < n; i++) {
        struct pg_params p;
        PGresult *r;

        if (q[i].kind != kind)
            continue;
        pg_params_init(&p);
        pg_param_int(&p, key);
        r = pg_run(s, &q[i].st, &p, NULL, err, "store: counting references");
        if (!r)
            return -1;
        for (int c = 0; c < 4 && q[i].fields[c] != END; c++)
            *(uint64_t *)((char *)out + q[i].fields[c]) = (uint64_t)pg_col_int(r, 0, c);
        PQclear(r);
    }
    return 0;
}

static int pg_refs_count(void *b, enum store_entity kind, int64_t key, struct store_refs *out,
                         struct kz_error *err)
{
    struct pg_store *s = b;
    int peers = 0;

    if (run_counts(s, refs_queries, sizeof(refs_queries) / sizeof(refs_queries[0]), kind, key, out,
                   err) < 0 ||
        peers_present(s, &peers, err) < 0)
        return -1;
    if (!peers)
        return 0;
    return run_counts(s, peer_refs_queries,
                      sizeof(peer_refs_queries) / sizeof(peer_refs_queries[0]), kind, key, out,
                      err);
}

/* What store_remove runs for each kind ($1 the key): the rows that exist
 * only for it, then the row itself, in one statement (the deletions in
 * the WITH run before the foreign keys are checked, at its end). The
 * statement answers how many rows of the entity went: 0 is "not found". */
static const struct pg_stmt remove_user_q = {
        "WITH t AS (DELETE FROM tokens WHERE user_key = $1),"
        " g AS (DELETE FROM grants WHERE kind = 1 AND subject = $1)"
        " DELETE FROM users WHERE key = $1"};
static const struct pg_stmt remove_org_q = {
        "WITH g AS (DELETE FROM grants WHERE kind = 2 AND subject = $1),"
        " m AS (DELETE FROM community_members WHERE org = $1)"
        " DELETE FROM orgs WHERE key = $1"};
static const struct pg_stmt remove_community_q = {
        "WITH g AS (DELETE FROM grants WHERE kind = 3 AND subject = $1),"
        " m AS (DELETE FROM community_members WHERE community = $1)"
        " DELETE FROM communities WHERE key = $1"};
static const struct pg_stmt remove_collection_q = {
        "WITH g AS (DELETE FROM grants WHERE collection = $1)"
        " DELETE FROM collections WHERE key = $1"};
/* and what the peers concern holds for a community or a collection */
static const struct pg_stmt unlink_community_q = {
        "DELETE FROM peer_communities WHERE community = $1"};
static const struct pg_stmt unlink_collection_q = {"DELETE FROM peer_links WHERE local = $1"};

static int pg_remove(void *b, enum store_entity kind, int64_t key, struct kz_error *err)
{
    struct pg_store *s = b;
    const struct pg_stmt *st = kind == STORE_ENTITY_USER        ? &remove_user_q
                               : kind == STORE_ENTITY_ORG       ? &remove_org_q
                               : kind == STORE_ENTITY_COMMUNITY ? &remove_community_q
                                                                : &remove_collection_q;
    const struct pg_stmt *unlink = kind == STORE_ENTITY_COMMUNITY    ? &unlink_community_q
                                   : kind == STORE_ENTITY_COLLECTION ? &unlink_collection_q
                                                                     : NULL;
    struct pg_params p;
    uint64_t n = 0;
    int peers = 0;

    if (!s->in_tx)
        return kz_error_set(err, KZ_EINTERNAL, "store: a removal outside a transaction");
    if (kind == STORE_ENTITY_ORG) {
        struct store_refs r;
        memset(&r, 0, sizeof(r));
        if (pg_refs_count(b, kind, key, &r, err) < 0)
            return -1;
        if (r.users || r.peers)
            return kz_error_set(err, KZ_ECONFLICT,
                                "the organisation still has %llu user(s) and %llu peer(s)",
                                (unsigned long long)r.users, (unsigned long long)r.peers);
    }
    if (kind == STORE_ENTITY_COLLECTION && pg_objects_drop(s, key, err) < 0)
        return -1;
    pg_params_init(&p);
    pg_param_int(&p, key);
    if (unlink && (peers_present(s, &peers, err) < 0 ||
                   (peers && pg_change(s, unlink, &p, NULL, NULL, err, "store: removing") < 0)))
        return -1;
    if (pg_change(s, st, &p, NULL, &n, err, "store: removing") < 0)
        return -1;
    return n ? 0
             : kz_error_set(err, KZ_ENOTFOUND, "nothing with key %lld to remove", (long long)key);
}

const struct store_remove_ops pg_remove_ops = {
        .refs_count = pg_refs_count,
        .remove = pg_remove,
};
