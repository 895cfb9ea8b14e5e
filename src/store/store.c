/*
 * The store dispatcher: picks a backend by name and forwards every call to
 * the table of its concern (store_backend.h), checking the arguments that
 * all backends would otherwise each have to check. A store opened with
 * store_open_audit reaches the audit table only.
 */
#include "store/store_backend.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/kztime.h"

static const struct store_backend *const backends[] = {
        &store_sqlite_backend,
#ifdef KZ_WITH_POSTGRESQL
        &store_pg_backend,
#endif
        NULL,
};

struct store {
    const struct store_backend *be;
    void *b;
    int audit_only; /* opened with store_open_audit */
};

/* The backend of a whole store. A store opened with store_open_audit has
 * only the audit concern: calling another is a bug of the caller's, not
 * something a client can cause, and it stops here rather than run SQL on
 * a connection that lacks what it needs. */
static const struct store_backend *whole(const struct store *s)
{
    if (s->audit_only)
        abort();
    return s->be;
}

/* Opens a whole store, or (audit_only) only its audit concern. */
static struct store *open_store(const char *backend, const char *location, int create,
                                int audit_only, struct kz_error *err)
{
    struct store *s;

    for (int i = 0; backends[i]; i++) {
        if (strcmp(backends[i]->name, backend) != 0)
            continue;
        s = calloc(1, sizeof(*s));
        if (!s) {
            kz_error_set(err, KZ_ENOMEM, "out of memory opening the store");
            return NULL;
        }
        s->be = backends[i];
        s->audit_only = audit_only;
        s->b = audit_only ? s->be->open_audit(location, create, err)
                          : s->be->open(location, create, err);
        if (!s->b) {
            free(s);
            return NULL;
        }
        return s;
    }
#ifndef KZ_WITH_POSTGRESQL
    if (strcmp(backend, "postgresql") == 0) {
        kz_error_set(err, KZ_EUSAGE,
                     "this kizuna was built without PostgreSQL (libpq's headers were not "
                     "found at build time: install libpq-dev and build again)");
        return NULL;
    }
#endif
    kz_error_set(err, KZ_EUSAGE, "unknown store backend \"%s\" (known: sqlite%s)", backend,
#ifdef KZ_WITH_POSTGRESQL
                 ", postgresql"
#else
                 ""
#endif
    );
    return NULL;
}

struct store *store_open(const char *backend, const char *location, int create,
                         struct kz_error *err)
{
    return open_store(backend, location, create, 0, err);
}

struct store *store_open_audit(const char *backend, const char *location, int create,
                               struct kz_error *err)
{
    return open_store(backend, location, create, 1, err);
}

void store_close(struct store *s)
{
    if (!s)
        return;
    s->be->close(s->b);
    free(s);
}

const char *store_backend_name(const struct store *s)
{
    return s->be->name;
}

int store_data_version(struct store *s, uint64_t *v, struct kz_error *err)
{
    return s->be->data_version(s->b, v, err);
}

const struct store_backend *store_backend_of(struct store *s, void **b)
{
    *b = s->b;
    return s->be;
}

int store_schema_version(struct store *s, int *have, int *known, struct kz_error *err)
{
    return s->be->schema_version(s->b, have, known, err);
}

void store_defer_checkpoints(struct store *s, int on)
{
    s->be->defer_checkpoints(s->b, on);
}

void store_set_bulk(struct store *s)
{
    store_defer_checkpoints(s, 1);
    whole(s)->set_cache_kib(s->b, STORE_BULK_CACHE_KIB);
}

int store_checkpoint(struct store *s, struct kz_error *err)
{
    return s->be->checkpoint(s->b, 0, err);
}

int store_checkpoint_truncate(struct store *s, struct kz_error *err)
{
    return s->be->checkpoint(s->b, 1, err);
}

struct store_checkpointer {
    struct store *s;
    int interval_ms;
    int stopping;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
};

static void *checkpointer_run(void *arg)
{
    struct store_checkpointer *c = arg;
    struct kz_error err;

    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        struct timespec ts;
        kz_deadline_ms(&ts, c->interval_ms);
        pthread_cond_timedwait(&c->wake, &c->lock, &ts);
        if (c->stopping)
            break;
        pthread_mutex_unlock(&c->lock);
        store_checkpoint(c->s, &err);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

struct store_checkpointer *store_checkpointer_start(const char *backend, const char *location,
                                                    int interval_ms, struct kz_error *err)
{
    struct store_checkpointer *c = calloc(1, sizeof(*c));

    if (!c) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    c->interval_ms = interval_ms;
    c->s = store_open(backend, location, 0, err);
    if (!c->s) {
        free(c);
        return NULL;
    }
    store_defer_checkpoints(c->s, 1);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (pthread_create(&c->thread, NULL, checkpointer_run, c) != 0) {
        kz_error_set(err, KZ_EINTERNAL, "cannot start a thread");
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        store_close(c->s);
        free(c);
        return NULL;
    }
    return c;
}

void store_checkpointer_stop(struct store_checkpointer *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    store_close(c->s);
    free(c);
}

int store_begin(struct store *s, struct kz_error *err)
{
    return whole(s)->begin(s->b, err);
}

int store_commit(struct store *s, struct kz_error *err)
{
    return whole(s)->commit(s->b, err);
}

void store_rollback(struct store *s)
{
    s->be->rollback(s->b);
}

int store_step_begin(struct store *s, struct kz_error *err)
{
    return whole(s)->step(s->b, STORE_STEP_BEGIN, err);
}

int store_step_release(struct store *s, struct kz_error *err)
{
    return whole(s)->step(s->b, STORE_STEP_RELEASE, err);
}

void store_step_rollback(struct store *s)
{
    struct kz_error err;

    whole(s)->step(s->b, STORE_STEP_ROLLBACK, &err);
}

int store_leader_try(struct store *s, const char *name, struct kz_error *err)
{
    size_t n = strlen(name);

    /* a word the backends may put in a file name or hash as they are */
    if (n == 0 || n >= STORE_LEADER_NAME_MAX ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
        return kz_error_set(err, KZ_EINVALID, "store: \"%s\" is not a leadership's name", name);
    return whole(s)->leader_try(s->b, name, err);
}

int store_collection_add(struct store *s, struct store_collection *c, struct kz_error *err)
{
    if (!c->alias[0])
        return kz_error_set(err, KZ_EUSAGE, "a collection needs a name");
    if (!c->id[0])
        kz_uuid_v4(c->id);
    else if (!kz_uuid_valid(c->id, strlen(c->id)))
        return kz_error_set(err, KZ_EUSAGE, "collection id \"%s\" is not a UUID", c->id);
    return whole(s)->objects->collection_add(s->b, c, err);
}

int store_collection_find(struct store *s, const char *api_root, const char *id_or_alias,
                          struct store_collection *out, struct kz_error *err)
{
    return whole(s)->objects->collection_find(s->b, api_root, id_or_alias, out, err);
}

int store_collection_each(struct store *s, const char *api_root, store_collection_fn fn, void *ctx,
                          struct kz_error *err)
{
    return whole(s)->objects->collection_each(s->b, api_root, fn, ctx, err);
}

int store_api_root_add(struct store *s, const struct store_api_root *r, struct kz_error *err)
{
    return whole(s)->objects->api_root_add(s->b, r, err);
}

int store_api_root_find(struct store *s, const char *name, struct store_api_root *out,
                        struct kz_error *err)
{
    return whole(s)->objects->api_root_find(s->b, name, out, err);
}

int store_api_root_each(struct store *s, store_api_root_fn fn, void *ctx, struct kz_error *err)
{
    return whole(s)->objects->api_root_each(s->b, fn, ctx, err);
}

int store_org_add(struct store *s, struct store_org *o, struct kz_error *err)
{
    if (!o->identity[0]) {
        char u[KZ_UUID_LEN];
        kz_uuid_v4(u);
        snprintf(o->identity, sizeof(o->identity), "identity--%s", u);
    }
    o->created_us = kz_now_micros();
    return whole(s)->accounts->org_add(s->b, o, err);
}

int store_org_find(struct store *s, const char *name, struct store_org *out, struct kz_error *err)
{
    return whole(s)->accounts->org_find(s->b, name, NULL, 0, out, err);
}

int store_org_find_key(struct store *s, int64_t key, struct store_org *out, struct kz_error *err)
{
    return whole(s)->accounts->org_find(s->b, NULL, NULL, key, out, err);
}

int store_org_find_identity(struct store *s, const char *identity, struct store_org *out,
                            struct kz_error *err)
{
    return whole(s)->accounts->org_find(s->b, NULL, identity, 0, out, err);
}

int store_org_each(struct store *s, store_org_fn fn, void *ctx, struct kz_error *err)
{
    return whole(s)->accounts->org_each(s->b, fn, ctx, err);
}

int store_user_add(struct store *s, struct store_user *u, struct kz_error *err)
{
    u->created_us = kz_now_micros();
    return whole(s)->accounts->user_add(s->b, u, err);
}

int store_user_find(struct store *s, const char *name, struct store_user *out, struct kz_error *err)
{
    return whole(s)->accounts->user_find(s->b, name, 0, out, err);
}

int store_user_get(struct store *s, int64_t key, struct store_user *out, struct kz_error *err)
{
    return whole(s)->accounts->user_find(s->b, NULL, key, out, err);
}

int store_user_each(struct store *s, store_user_fn fn, void *ctx, struct kz_error *err)
{
    return whole(s)->accounts->user_each(s->b, fn, ctx, err);
}

int store_token_add(struct store *s, struct store_token *t, struct kz_error *err)
{
    t->created_us = kz_now_micros();
    t->revoked_us = 0;
    return whole(s)->accounts->token_add(s->b, t, err);
}

int store_token_find(struct store *s, const char *token_id, struct store_token *out,
                     struct kz_error *err)
{
    return whole(s)->accounts->token_find(s->b, token_id, out, err);
}

int store_token_each(struct store *s, int64_t user, store_token_fn fn, void *ctx,
                     struct kz_error *err)
{
    return whole(s)->accounts->token_each(s->b, user, fn, ctx, err);
}

int store_community_each(struct store *s, store_community_fn fn, void *ctx, struct kz_error *err)
{
    return whole(s)->accounts->community_each(s->b, fn, ctx, err);
}

int store_token_revoke(struct store *s, const char *token_id, struct kz_error *err)
{
    return whole(s)->accounts->token_revoke(s->b, token_id, err);
}

int store_grant_set(struct store *s, const struct store_grant *g, struct kz_error *err)
{
    return whole(s)->grants->grant_set(s->b, g, err);
}

int store_grant_check(struct store *s, int64_t collection, int64_t user, int64_t org,
                      const char *role, struct store_access *out, struct kz_error *err)
{
    memset(out, 0, sizeof(*out));
    return whole(s)->grants->grant_check(s->b, collection, user, org, role, out, err);
}

int store_grant_each(struct store *s, int64_t collection, store_grant_fn fn, void *ctx,
                     struct kz_error *err)
{
    return whole(s)->grants->grant_each(s->b, collection, fn, ctx, err);
}

int store_community_add(struct store *s, struct store_community *c, struct kz_error *err)
{
    c->created_us = kz_now_micros();
    return whole(s)->accounts->community_add(s->b, c, err);
}

int store_community_find(struct store *s, const char *name, struct store_community *out,
                         struct kz_error *err)
{
    return whole(s)->accounts->community_find(s->b, name, out, err);
}

int store_community_join(struct store *s, int64_t community, int64_t org, struct kz_error *err)
{
    return whole(s)->accounts->community_join(s->b, community, org, err);
}

int store_put(struct store *s, int64_t collection, const struct stix_obj *o, const char *raw,
              size_t rawlen, const struct store_put_meta *rcpt, enum store_put_result *result,
              int64_t *added, struct kz_error *err)
{
    if (!o->id[0] || !o->type[0])
        return kz_error_set(err, KZ_EINVALID, "an object without type and id cannot be stored");
    return whole(s)->objects->put(s->b, collection, o, raw, rawlen, rcpt, result, added, err);
}

int store_put_many(struct store *s, int64_t collection, struct store_put_item *items, unsigned n,
                   struct kz_error *err)
{
    const struct store_objects_ops *ops = whole(s)->objects;
    unsigned i;

    if (n > STORE_PUT_BATCH)
        return kz_error_set(err, KZ_EINTERNAL, "store: %u objects in one put, more than %d", n,
                            STORE_PUT_BATCH);
    for (i = 0; i < n; i++) {
        items[i].result = 0;
        items[i].added = 0;
        items[i].refused = 0;
        kz_error_clear(&items[i].why);
        if (!items[i].o->id[0] || !items[i].o->type[0]) {
            items[i].refused = 1;
            kz_error_set(&items[i].why, KZ_EINVALID,
                         "an object without type and id cannot be stored");
        }
    }
    if (ops->put_many)
        return ops->put_many(s->b, collection, items, n, err);
    for (i = 0; i < n; i++) {
        struct store_put_item *it = &items[i];
        if (it->refused)
            continue;
        if (ops->put(s->b, collection, it->o, it->raw, it->rawlen, it->meta, &it->result,
                     &it->added, &it->why) == 0)
            continue;
        if (it->why.code != KZ_ECONFLICT && it->why.code != KZ_EINVALID) {
            *err = it->why;
            return -1;
        }
        it->refused = 1;
    }
    return 0;
}

void store_filter_init(struct store_filter *f, int64_t collection)
{
    memset(f, 0, sizeof(*f));
    f->collection = collection;
    f->added_after = -1;
}

void store_filter_everything(struct store_filter *f)
{
    f->vis.active = 0;
    f->vis.everything = 1;
}

int store_list(struct store *s, const struct store_filter *f, int want_raw, store_row_fn fn,
               void *ctx, struct store_page *page, struct kz_error *err)
{
    memset(page, 0, sizeof(*page));
    if (!f->vis.active && !f->vis.everything)
        return kz_error_set(err, KZ_EINTERNAL,
                            "store: a listing without a visibility (policy_filter, or "
                            "store_filter_everything for the operator)");
    return whole(s)->objects->list(s->b, f, want_raw, fn, ctx, page, err);
}

int store_delete(struct store *s, int64_t collection, const char *id, const struct store_filter *f,
                 uint64_t *deleted, struct kz_error *err)
{
    *deleted = 0;
    return whole(s)->objects->del(s->b, collection, id, f, deleted, err);
}

int store_object_owner(struct store *s, int64_t collection, const char *id, int64_t version_us,
                       struct store_owner *out, struct kz_error *err)
{
    memset(out, 0, sizeof(*out));
    return whole(s)->objects->owner(s->b, collection, id, version_us, out, err);
}

int store_object_owners(struct store *s, int64_t collection, unsigned n, const char *const *ids,
                        const int64_t *version_us, struct store_owner *out, struct kz_error *err)
{
    const struct store_objects_ops *ops = whole(s)->objects;
    unsigned i;

    if (n > STORE_PUT_BATCH)
        return kz_error_set(err, KZ_EINTERNAL, "store: %u owners asked at once, more than %d", n,
                            STORE_PUT_BATCH);
    memset(out, 0, n * sizeof(*out));
    if (ops->owners)
        return ops->owners(s->b, collection, n, ids, version_us, out, err);
    for (i = 0; i < n; i++)
        if (ops->owner(s->b, collection, ids[i], version_us[i], &out[i], err) < 0)
            return -1;
    return 0;
}

int store_status_put(struct store *s, const char *id, const char *api_root, int64_t user,
                     int64_t created_us, const char *json, size_t len, struct kz_error *err)
{
    return whole(s)->status->status_put(s->b, id, api_root, user, created_us, json, len, err);
}

int store_status_get(struct store *s, const char *id, char *api_root, size_t api_root_cap,
                     int64_t *user, char **json, size_t *len, struct kz_error *err)
{
    return whole(s)->status->status_get(s->b, id, api_root, api_root_cap, user, json, len, err);
}

int store_status_purge(struct store *s, int64_t before_us, struct kz_error *err)
{
    return whole(s)->status->status_purge(s->b, before_us, err);
}

int store_audit_append(struct store *s, struct store_audit *rows, size_t n, store_audit_chain_fn fn,
                       void *ctx, int durable, struct kz_error *err)
{
    return s->be->audit->audit_append(s->b, rows, n, fn, ctx, durable, err);
}

int store_audit_get(struct store *s, int64_t seq, struct store_audit *out, struct kz_error *err)
{
    return s->be->audit->audit_get(s->b, seq, out, err);
}

int store_audit_witness(struct store *s, int64_t seq,
                        const unsigned char hash[STORE_AUDIT_HASH_LEN],
                        const unsigned char mac[STORE_AUDIT_HASH_LEN], struct kz_error *err)
{
    return s->be->audit->audit_witness(s->b, seq, hash, mac, err);
}

int store_peer_head_get(struct store *s, int64_t peer, struct store_peer_head *out,
                        struct kz_error *err)
{
    memset(out, 0, sizeof(*out));
    return whole(s)->peers->peer_head_get(s->b, peer, out, err);
}

int store_peer_head_put(struct store *s, const struct store_peer_head *h, struct kz_error *err)
{
    return whole(s)->peers->peer_head_put(s->b, h, err);
}

int store_audit_head(struct store *s, int64_t *seq, unsigned char hash[STORE_AUDIT_HASH_LEN],
                     unsigned char mac[STORE_AUDIT_HASH_LEN], struct kz_error *err)
{
    *seq = 0;
    memset(hash, 0, STORE_AUDIT_HASH_LEN);
    memset(mac, 0, STORE_AUDIT_HASH_LEN);
    return s->be->audit->audit_head(s->b, seq, hash, mac, err);
}

int store_audit_each(struct store *s, int64_t since_us, const char *user, store_audit_fn fn,
                     void *ctx, struct kz_error *err)
{
    return s->be->audit->audit_each(s->b, since_us, user, fn, ctx, err);
}

int store_peer_add(struct store *s, struct store_peer *p, const int64_t *communities,
                   size_t ncommunities, const struct store_peer_link *links, size_t nlinks,
                   struct kz_error *err)
{
    p->created_us = kz_now_micros();
    return whole(s)->peers->peer_add(s->b, p, communities, ncommunities, links, nlinks, err);
}

int store_peer_find(struct store *s, const char *name, struct store_peer *out, struct kz_error *err)
{
    return whole(s)->peers->peer_find(s->b, name, out, err);
}

int store_peer_credentials(struct store *s, const char *name, const unsigned char *token,
                           size_t token_len, const char *user, struct kz_error *err)
{
    return whole(s)->peers->peer_credentials(s->b, name, token, token_len, user, err);
}

int store_peer_update(struct store *s, const struct store_peer *p, const int64_t *communities,
                      size_t ncommunities, int set_communities, const struct store_peer_link *links,
                      size_t nlinks, int set_links, struct kz_error *err)
{
    return whole(s)->peers->peer_update(s->b, p, communities, ncommunities, set_communities, links,
                                        nlinks, set_links, err);
}

int store_peer_own_communities(struct store *s, int64_t peer, int64_t *out, size_t cap, size_t *n,
                               struct kz_error *err)
{
    *n = 0;
    return whole(s)->peers->peer_own_communities(s->b, peer, out, cap, n, err);
}

int store_peer_each(struct store *s, store_peer_fn fn, void *ctx, struct kz_error *err)
{
    return whole(s)->peers->peer_each(s->b, fn, ctx, err);
}

int store_peer_remove(struct store *s, const char *name, struct kz_error *err)
{
    return whole(s)->peers->peer_remove(s->b, name, err);
}

int store_peer_links(struct store *s, int64_t peer, store_link_fn fn, void *ctx,
                     struct kz_error *err)
{
    return whole(s)->peers->peer_links(s->b, peer, fn, ctx, err);
}

int store_peer_communities(struct store *s, int64_t peer, int64_t *out, size_t cap, size_t *n,
                           struct kz_error *err)
{
    *n = 0;
    return whole(s)->peers->peer_communities(s->b, peer, out, cap, n, err);
}

int store_peer_outcome(struct store *s, int64_t peer, const char *error, struct kz_error *err)
{
    return whole(s)->peers->peer_outcome(s->b, peer, error, err);
}

int store_link_checkpoint(struct store *s, const struct store_peer_link *l, int64_t checkpoint,
                          const char *text, struct kz_error *err)
{
    return whole(s)->peers->link_checkpoint(s->b, l, checkpoint, text, err);
}

int store_blob_put(struct store *s, const char *name, const void *data, size_t len,
                   struct kz_error *err)
{
    return whole(s)->blobs->blob_put(s->b, name, data, len, err);
}

int store_blob_get(struct store *s, const char *name, char **data, size_t *len,
                   struct kz_error *err)
{
    *data = NULL;
    *len = 0;
    return whole(s)->blobs->blob_get(s->b, name, data, len, err);
}

int store_count(struct store *s, int64_t collection, uint64_t *count, struct kz_error *err)
{
    return whole(s)->objects->count(s->b, collection, count, err);
}

int store_user_update(struct store *s, int64_t key, const char *role, int disabled,
                      struct kz_error *err)
{
    return whole(s)->accounts->user_update(s->b, key, role, disabled, err);
}

int store_community_leave(struct store *s, int64_t community, int64_t org, struct kz_error *err)
{
    return whole(s)->accounts->community_leave(s->b, community, org, err);
}

int store_org_update(struct store *s, const struct store_org *o, struct kz_error *err)
{
    return whole(s)->accounts->org_update(s->b, o, err);
}

int store_collection_update(struct store *s, const struct store_collection *c, struct kz_error *err)
{
    return whole(s)->objects->collection_update(s->b, c, err);
}

int store_refs_count(struct store *s, enum store_entity kind, int64_t key, struct store_refs *out,
                     struct kz_error *err)
{
    memset(out, 0, sizeof(*out));
    return whole(s)->remove->refs_count(s->b, kind, key, out, err);
}

int store_remove(struct store *s, enum store_entity kind, int64_t key, struct kz_error *err)
{
    return whole(s)->remove->remove(s->b, kind, key, err);
}
