/*
 * What a store backend provides (SQLite, PostgreSQL, ...): one small table
 * of functions per concern of the store (store_objects.h, store_accounts.h,
 * ...), and struct store_backend, which names the backend, opens and closes
 * its connection, runs its transactions and points at its tables. A second
 * backend fills these tables concern by concern, each in its own file (see
 * src/store/sqlite/), and is added to the list in store.c. Only store.c and
 * the backends include this header; everyone else uses store.h and the
 * headers of the concerns it uses.
 */
#ifndef KZ_STORE_BACKEND_H
#define KZ_STORE_BACKEND_H

#include "store/store.h"
#include "store/store_accounts.h"
#include "store/store_audit.h"
#include "store/store_blobs.h"
#include "store/store_copy_tables.h"
#include "store/store_grants.h"
#include "store/store_objects.h"
#include "store/store_peers.h"
#include "store/store_remove.h"
#include "store/store_status.h"

enum store_step { STORE_STEP_BEGIN, STORE_STEP_RELEASE, STORE_STEP_ROLLBACK };

/* API roots, collections and object versions (store_objects.h). */
struct store_objects_ops {
    int (*collection_add)(void *b, struct store_collection *c, struct kz_error *err);
    int (*collection_find)(void *b, const char *api_root, const char *id_or_alias,
                           struct store_collection *out, struct kz_error *err);
    int (*collection_each)(void *b, const char *api_root, store_collection_fn fn, void *ctx,
                           struct kz_error *err);
    int (*collection_update)(void *b, const struct store_collection *c, struct kz_error *err);
    int (*api_root_add)(void *b, const struct store_api_root *r, struct kz_error *err);
    int (*api_root_find)(void *b, const char *name, struct store_api_root *out,
                         struct kz_error *err);
    int (*api_root_each)(void *b, store_api_root_fn fn, void *ctx, struct kz_error *err);
    int (*put)(void *b, int64_t collection, const struct stix_obj *o, const char *raw,
               size_t rawlen, const struct store_put_meta *rcpt, enum store_put_result *result,
               int64_t *added, struct kz_error *err);
    int (*list)(void *b, const struct store_filter *f, int want_raw, store_row_fn fn, void *ctx,
                struct store_page *page, struct kz_error *err);
    int (*del)(void *b, int64_t collection, const char *id, const struct store_filter *f,
               uint64_t *deleted, struct kz_error *err);
    int (*owner)(void *b, int64_t collection, const char *id, int64_t version_us,
                 struct store_owner *out, struct kz_error *err);
    int (*count)(void *b, int64_t collection, uint64_t *count, struct kz_error *err);
    /* optional: NULL makes store.c call put / owner once per object, which
     * is as fast when the store is in the process */
    int (*put_many)(void *b, int64_t collection, struct store_put_item *items, unsigned n,
                    struct kz_error *err);
    int (*owners)(void *b, int64_t collection, unsigned n, const char *const *ids,
                  const int64_t *version_us, struct store_owner *out, struct kz_error *err);
};

/* Organisations, users, tokens and communities (store_accounts.h). */
struct store_accounts_ops {
    int (*org_add)(void *b, struct store_org *o, struct kz_error *err);
    /* by name when name is set, else by identity when identity is set, else by key */
    int (*org_find)(void *b, const char *name, const char *identity, int64_t key,
                    struct store_org *out, struct kz_error *err);
    int (*org_each)(void *b, store_org_fn fn, void *ctx, struct kz_error *err);
    int (*org_update)(void *b, const struct store_org *o, struct kz_error *err);
    int (*user_add)(void *b, struct store_user *u, struct kz_error *err);
    int (*user_find)(void *b, const char *name, int64_t key, struct store_user *out,
                     struct kz_error *err);
    int (*user_each)(void *b, store_user_fn fn, void *ctx, struct kz_error *err);
    int (*user_update)(void *b, int64_t key, const char *role, int disabled, struct kz_error *err);
    int (*token_add)(void *b, struct store_token *t, struct kz_error *err);
    int (*token_find)(void *b, const char *token_id, struct store_token *out, struct kz_error *err);
    int (*token_each)(void *b, int64_t user, store_token_fn fn, void *ctx, struct kz_error *err);
    int (*token_revoke)(void *b, const char *token_id, struct kz_error *err);
    int (*community_add)(void *b, struct store_community *c, struct kz_error *err);
    int (*community_find)(void *b, const char *name, struct store_community *out,
                          struct kz_error *err);
    int (*community_each)(void *b, store_community_fn fn, void *ctx, struct kz_error *err);
    int (*community_join)(void *b, int64_t community, int64_t org, struct kz_error *err);
    int (*community_leave)(void *b, int64_t community, int64_t org, struct kz_error *err);
};

/* Grants on collections (store_grants.h). */
struct store_grants_ops {
    int (*grant_set)(void *b, const struct store_grant *g, struct kz_error *err);
    int (*grant_check)(void *b, int64_t collection, int64_t user, int64_t org, const char *role,
                       struct store_access *out, struct kz_error *err);
    int (*grant_each)(void *b, int64_t collection, store_grant_fn fn, void *ctx,
                      struct kz_error *err);
};

/* Counting references and removing entities (store_remove.h); crosses
 * the other concerns' tables, so a backend implements it last. */
struct store_remove_ops {
    int (*refs_count)(void *b, enum store_entity kind, int64_t key, struct store_refs *out,
                      struct kz_error *err);
    int (*remove)(void *b, enum store_entity kind, int64_t key, struct kz_error *err);
};

/* TAXII status resources (store_status.h). */
struct store_status_ops {
    int (*status_put)(void *b, const char *id, const char *api_root, int64_t user,
                      int64_t created_us, const char *json, size_t len, struct kz_error *err);
    int (*status_get)(void *b, const char *id, char *api_root, size_t api_root_cap, int64_t *user,
                      char **json, size_t *len, struct kz_error *err);
    int (*status_purge)(void *b, int64_t before_us, struct kz_error *err);
};

/* Peers, their links and audit heads (store_peers.h). */
struct store_peers_ops {
    int (*peer_add)(void *b, struct store_peer *p, const int64_t *communities, size_t nc,
                    const struct store_peer_link *links, size_t nl, struct kz_error *err);
    int (*peer_find)(void *b, const char *name, struct store_peer *out, struct kz_error *err);
    int (*peer_credentials)(void *b, const char *name, const unsigned char *token, size_t token_len,
                            const char *user, struct kz_error *err);
    int (*peer_update)(void *b, const struct store_peer *p, const int64_t *communities, size_t nc,
                       int set_communities, const struct store_peer_link *links, size_t nl,
                       int set_links, struct kz_error *err);
    int (*peer_own_communities)(void *b, int64_t peer, int64_t *out, size_t cap, size_t *n,
                                struct kz_error *err);
    int (*peer_each)(void *b, store_peer_fn fn, void *ctx, struct kz_error *err);
    int (*peer_remove)(void *b, const char *name, struct kz_error *err);
    int (*peer_links)(void *b, int64_t peer, store_link_fn fn, void *ctx, struct kz_error *err);
    int (*peer_communities)(void *b, int64_t peer, int64_t *out, size_t cap, size_t *n,
                            struct kz_error *err);
    int (*peer_outcome)(void *b, int64_t peer, const char *error, struct kz_error *err);
    int (*link_checkpoint)(void *b, const struct store_peer_link *l, int64_t checkpoint,
                           const char *text, struct kz_error *err);
    int (*peer_head_get)(void *b, int64_t peer, struct store_peer_head *out, struct kz_error *err);
    int (*peer_head_put)(void *b, const struct store_peer_head *h, struct kz_error *err);
};

/* Named blobs (store_blobs.h). */
struct store_blobs_ops {
    int (*blob_put)(void *b, const char *name, const void *data, size_t len, struct kz_error *err);
    int (*blob_get)(void *b, const char *name, char **data, size_t *len, struct kz_error *err);
};

/* The audit log (store_audit.h); the only concern of a store opened
 * with store_open_audit. */
struct store_audit_ops {
    int (*audit_append)(void *b, struct store_audit *rows, size_t n, store_audit_chain_fn fn,
                        void *ctx, int durable, struct kz_error *err);
    int (*audit_get)(void *b, int64_t seq, struct store_audit *out, struct kz_error *err);
    int (*audit_witness)(void *b, int64_t seq, const unsigned char *hash, const unsigned char *mac,
                         struct kz_error *err);
    int (*audit_head)(void *b, int64_t *seq, unsigned char *hash, unsigned char *mac,
                      struct kz_error *err);
    int (*audit_each)(void *b, int64_t since_us, const char *user, store_audit_fn fn, void *ctx,
                      struct kz_error *err);
};

/* Copying whole tables between stores (store_copy.h), in the agreed shape
 * of store_copy_tables.h. rows calls fn for each row of t in t->order (for
 * the objects table: of one collection, dated after `after`); put writes
 * one row inside the caller's transaction, over a row with the same
 * primary key (counters and audit heads keep the larger value), and
 * returns 1 when it changed something, 0 when not; last_added is the newest date
 * added of a collection (0: none); finish rebuilds what the backend
 * derives from the copied tables. snapshot(on) opens (closes) one read
 * transaction that every rows call then reads from; begin, commit and
 * rollback are the destination's write transactions around puts (plain
 * ones: what a backend derives as objects are put, finish does once). */
typedef int (*store_copy_row_fn)(void *ctx, const struct copy_value *row, struct kz_error *err);
struct store_copy_ops {
    int (*snapshot)(void *b, int on, struct kz_error *err);
    int (*begin)(void *b, struct kz_error *err);
    int (*commit)(void *b, struct kz_error *err);
    void (*rollback)(void *b);
    int (*rows)(void *b, const struct copy_table *t, int64_t collection, int64_t after,
                store_copy_row_fn fn, void *ctx, struct kz_error *err);
    int (*put)(void *b, const struct copy_table *t, const struct copy_value *row,
               struct kz_error *err);
    int (*count)(void *b, const struct copy_table *t, uint64_t *n, struct kz_error *err);
    int (*last_added)(void *b, int64_t collection, int64_t *added, struct kz_error *err);
    int (*finish)(void *b, struct kz_error *err);
};

/* What every backend provides: its name, opening and closing a connection,
 * transactions and checkpoints, and one table per concern. b is the
 * backend's own handle, as returned by open. */
struct store_backend {
    const char *name;
    void *(*open)(const char *location, int create, struct kz_error *err);
    /* the same store, for its audit concern only: the connection and the
     * schema, nothing the other concerns need (store_open_audit) */
    void *(*open_audit)(const char *location, int create, struct kz_error *err);
    void (*close)(void *b);
    int (*data_version)(void *b, uint64_t *v, struct kz_error *err);
    /* the schema's version in the store, and the newest this build knows */
    int (*schema_version)(void *b, int *have, int *known, struct kz_error *err);
    void (*defer_checkpoints)(void *b, int on);
    void (*set_cache_kib)(void *b, int kib);
    int (*checkpoint)(void *b, int truncate, struct kz_error *err);
    int (*begin)(void *b, struct kz_error *err);
    int (*commit)(void *b, struct kz_error *err);
    void (*rollback)(void *b);
    int (*step)(void *b, enum store_step what, struct kz_error *err);
    /* store_leader_try, name checked */
    int (*leader_try)(void *b, const char *name, struct kz_error *err);
    const struct store_objects_ops *objects;
    const struct store_accounts_ops *accounts;
    const struct store_grants_ops *grants;
    const struct store_remove_ops *remove;
    const struct store_status_ops *status;
    const struct store_peers_ops *peers;
    const struct store_blobs_ops *blobs;
    const struct store_audit_ops *audit;
    const struct store_copy_ops *copy;
};

/* The backend and its handle behind a store (for store/'s own modules,
 * such as copy.c, that drive a backend's tables directly). */
const struct store_backend *store_backend_of(struct store *s, void **b);

extern const struct store_backend store_sqlite_backend;
#ifdef KZ_WITH_POSTGRESQL
extern const struct store_backend store_pg_backend;
#endif

#endif
