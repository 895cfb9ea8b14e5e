/*
 * What the TAXII server remembers between requests, and how it knows when
 * to forget. Polling clients ask for the same pages again and again; the
 * store answers the same way until someone writes. So:
 *
 * - the epoch: a counter bumped on every write this process commits, and
 *   whenever a worker's connection sees SQLite's data_version change (a
 *   commit by another connection or process, e.g. `kizuna import` or a
 *   `kizuna grant`). Every request checks its connection first, so nothing
 *   cached under an older epoch is ever used; the credential checks auth/
 *   caches are made stale at the same moments (a revocation by another
 *   process or server holds from the next request on);
 * - per worker thread: the API roots, collections and policy views that
 *   prepare() looked up, valid for one epoch;
 * - shared by all workers: whole listing responses (objects, object,
 *   versions, manifest), keyed by the request target and the reader's
 *   policy view, valid for one epoch, held in reference-counted blobs that
 *   libmicrohttpd sends without copying.
 */
#include "taxii/taxii_int.h"

#include "sign/sign.h"
#include "store/store_objects.h"
#include "util/kztime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREAD_ROOTS 8
#define THREAD_COLLS 32
#define THREAD_VIEWS 64

struct taxii_thread {
    struct store *store;
    uint64_t data_version;
    uint64_t epoch;
    struct store_api_root roots[THREAD_ROOTS];
    int nroots, next_root;
    struct {
        char root[KZ_MAX_NAME + 1];
        char name[KZ_MAX_NAME + 1];
        struct store_collection c;
    } colls[THREAD_COLLS];
    int ncolls, next_coll;
    struct {
        int64_t user;
        int64_t coll;
        struct policy_view v;
    } views[THREAD_VIEWS];
    int nviews, next_view;
};

static void thread_free(void *p)
{
    struct taxii_thread *th = p;

    if (!th)
        return;
    store_close(th->store);
    free(th);
}

int taxii_thread_key_init(struct taxii_server *t)
{
    return pthread_key_create(&t->store_key, thread_free) == 0 ? 0 : -1;
}

void taxii_thread_release(struct taxii_server *t)
{
    thread_free(pthread_getspecific(t->store_key));
    pthread_setspecific(t->store_key, NULL);
}

void taxii_epoch_bump(struct taxii_server *t)
{
    atomic_fetch_add(&t->epoch, 1);
}

struct taxii_thread *taxii_thread(struct taxii_server *t, struct kz_error *err)
{
    struct taxii_thread *th = pthread_getspecific(t->store_key);
    uint64_t dv, now;

    if (!th) {
        th = calloc(1, sizeof(*th));
        if (!th) {
            kz_error_set(err, KZ_ENOMEM, "out of memory");
            return NULL;
        }
        th->store = store_open(t->cfg->store_backend, t->cfg->store_path, 0, err);
        /* the server opened the same store when it started: failing now is
         * the store out of reach for a while (a database server
         * restarting), so the client is told to try again (503), not that
         * the node broke (500) */
        if (!th->store && err->code == KZ_EIO)
            err->code = KZ_EBUSY;
        /* the server's main thread checkpoints (taxii_checkpoint) */
        if (th->store)
            store_defer_checkpoints(th->store, 1);
        if (!th->store || store_data_version(th->store, &th->data_version, err) < 0) {
            thread_free(th);
            return NULL;
        }
        /* its connection's data version has nothing to compare with:
         * another process may have written since the cached pages were
         * made, so they are forgotten (once per worker thread) */
        taxii_epoch_bump(t);
        auth_cache_invalidate(t->auth);
        th->epoch = atomic_load(&t->epoch);
        pthread_setspecific(t->store_key, th);
    }
    if (store_data_version(th->store, &dv, err) < 0)
        return NULL;
    if (dv != th->data_version) {
        th->data_version = dv;
        taxii_epoch_bump(t);
        /* the commit may be a revocation made elsewhere (another process
         * or server): cached credential checks go too */
        auth_cache_invalidate(t->auth);
    }
    now = atomic_load(&t->epoch);
    if (now != th->epoch) {
        th->epoch = now;
        th->nroots = th->ncolls = th->nviews = 0;
    }
    return th;
}

struct store *taxii_thread_store(struct taxii_thread *th)
{
    return th->store;
}

uint64_t taxii_thread_epoch(const struct taxii_thread *th)
{
    return th->epoch;
}

int taxii_cached_root(struct taxii_thread *th, const char *name, struct store_api_root *out,
                      struct kz_error *err)
{
    int i;

    for (i = 0; i < th->nroots; i++) {
        if (strcmp(th->roots[i].name, name) == 0) {
            *out = th->roots[i];
            return 0;
        }
    }
    if (store_api_root_find(th->store, name, out, err) < 0)
        return -1;
    i = th->nroots < THREAD_ROOTS ? th->nroots++ : th->next_root++ % THREAD_ROOTS;
    th->roots[i] = *out;
    return 0;
}

int taxii_cached_collection(struct taxii_thread *th, const char *root, const char *name,
                            struct store_collection *out, struct kz_error *err)
{
    int i;

    for (i = 0; i < th->ncolls; i++) {
        if (strcmp(th->colls[i].root, root) == 0 && strcmp(th->colls[i].name, name) == 0) {
            *out = th->colls[i].c;
            return 0;
        }
    }
    if (store_collection_find(th->store, root, name, out, err) < 0)
        return -1;
    if (strlen(name) > KZ_MAX_NAME)
        return 0; /* an id or alias this long is never cached */
    i = th->ncolls < THREAD_COLLS ? th->ncolls++ : th->next_coll++ % THREAD_COLLS;
    snprintf(th->colls[i].root, sizeof(th->colls[i].root), "%s", root);
    snprintf(th->colls[i].name, sizeof(th->colls[i].name), "%s", name);
    th->colls[i].c = *out;
    return 0;
}

int taxii_cached_view(struct taxii_thread *th, const struct policy_reader *r,
                      const struct store_collection *c, struct policy_view *out,
                      struct kz_error *err)
{
    int i;

    for (i = 0; i < th->nviews; i++) {
        if (th->views[i].user == r->user->key && th->views[i].coll == c->key) {
            *out = th->views[i].v;
            return 0;
        }
    }
    if (policy_view_open(th->store, r, c, out, err) < 0)
        return -1;
    i = th->nviews < THREAD_VIEWS ? th->nviews++ : th->next_view++ % THREAD_VIEWS;
    th->views[i].user = r->user->key;
    th->views[i].coll = c->key;
    th->views[i].v = *out;
    return 0;
}

/* --- the response cache ---------------------------------------------------- */

struct taxii_blob {
    atomic_int refs;
    size_t len;
    char data[];
};

struct rentry {
    char *key;
    uint64_t epoch;
    struct taxii_blob *body;
    char first[KZ_TS_MICROS_LEN];
    char last[KZ_TS_MICROS_LEN];
    char signature[SIGN_TEXT_MAX + 8]; /* "v1 BASE64", "" when unsigned */
    uint64_t count;
    uint64_t markings[STIX_TLP_RED + 1];
};

struct taxii_rcache {
    pthread_mutex_t lock;
    struct rentry slots[TAXII_RCACHE_SLOTS];
    size_t bytes;
};

static void blob_unref(void *p)
{
    struct taxii_blob *b = p;

    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

struct taxii_rcache *taxii_rcache_new(void)
{
    struct taxii_rcache *c = calloc(1, sizeof(*c));

    if (c)
        pthread_mutex_init(&c->lock, NULL);
    return c;
}

void taxii_rcache_free(struct taxii_rcache *c)
{
    if (!c)
        return;
    for (int i = 0; i < TAXII_RCACHE_SLOTS; i++) {
        free(c->slots[i].key);
        blob_unref(c->slots[i].body);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static uint64_t hash_key(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ULL;
    return h;
}

void taxii_rcache_key(struct kz_buf *key, const char *target, const struct policy_view *v)
{
    kz_buf_printf(key, "%lld|%d|%d|%d|%d|%lld|%lld|%d|%s|%s", (long long)v->collection,
                  v->vis.active, v->vis.max_level, v->vis.default_tlp, v->vis.exclude_red,
                  (long long)v->vis.user, (long long)v->vis.org, v->vis.check_refs, v->org_identity,
                  target);
}

int taxii_rcache_get(struct taxii_rcache *c, const struct kz_buf *key, uint64_t epoch,
                     struct http_response *res, uint64_t *count, uint64_t *markings)
{
    struct rentry *e = &c->slots[hash_key(key->data, key->len) % TAXII_RCACHE_SLOTS];
    int hit = 0;

    pthread_mutex_lock(&c->lock);
    if (e->key && e->epoch == epoch && strcmp(e->key, key->data) == 0) {
        atomic_fetch_add(&e->body->refs, 1);
        res->shared = e->body->data;
        res->shared_len = e->body->len;
        res->shared_free = blob_unref;
        res->shared_cls = e->body;
        if (e->first[0]) {
            http_response_header(res, "X-TAXII-Date-Added-First", e->first);
            http_response_header(res, "X-TAXII-Date-Added-Last", e->last);
        }
        if (e->signature[0])
            http_response_header(res, TAXII_SIGNATURE_HEADER, e->signature);
        *count = e->count;
        memcpy(markings, e->markings, sizeof(e->markings));
        hit = 1;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void taxii_rcache_put(struct taxii_rcache *c, const struct kz_buf *key, uint64_t epoch,
                      const struct http_response *res, const char *first, const char *last,
                      const char *signature, uint64_t count, const uint64_t *markings)
{
    struct rentry *e = &c->slots[hash_key(key->data, key->len) % TAXII_RCACHE_SLOTS];
    struct taxii_blob *b;
    size_t after;
    char *k;

    if (res->body.len > TAXII_RCACHE_MAX_ENTRY)
        return;
    b = malloc(sizeof(*b) + res->body.len);
    k = strdup(key->data);
    if (!b || !k) {
        free(b);
        free(k);
        return;
    }
    atomic_init(&b->refs, 1);
    b->len = res->body.len;
    memcpy(b->data, res->body.data, res->body.len);
    pthread_mutex_lock(&c->lock);
    after = c->bytes - (e->body ? e->body->len : 0) + b->len;
    if (after > TAXII_RCACHE_MAX_BYTES) {
        pthread_mutex_unlock(&c->lock);
        free(k);
        blob_unref(b);
        return;
    }
    free(e->key);
    blob_unref(e->body);
    e->key = k;
    e->epoch = epoch;
    e->body = b;
    c->bytes = after;
    snprintf(e->first, sizeof(e->first), "%s", first ? first : "");
    snprintf(e->last, sizeof(e->last), "%s", last ? last : "");
    snprintf(e->signature, sizeof(e->signature), "%s", signature ? signature : "");
    e->count = count;
    memcpy(e->markings, markings, sizeof(e->markings));
    pthread_mutex_unlock(&c->lock);
}
