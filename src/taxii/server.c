/*
 * The TAXII application: the route table, and prepare(), which runs for
 * every request as soon as its headers are in, before any body is read. It
 * authenticates, negotiates the media type, finds the API root and the
 * collection and works out the reader's rights through policy/, so that a
 * request is refused (401, 403, 404, 405, 406, 413, 415) before it costs
 * anything, and handlers start from a known-good state.
 *
 * A collection the user holds no grant on answers 404, exactly like one
 * that does not exist, so that names cannot be probed.
 */
#include "taxii/taxii_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sign/sign.h"
#include "store/store_status.h"
#include "util/kztime.h"

#define ROUTE_COLL   0x100  /* the route names a collection (capture 1) */
#define ROUTE_READ   0x200  /* needs read access to it */
#define ROUTE_WRITE  0x400  /* needs write access to it */
#define ROUTE_ADMIN  0x800  /* the account API: admins only, JSON */
#define ROUTE_PUBLIC 0x1000 /* answered without a token: /healthz */

static const struct http_route routes[] = {
        {"GET", "/taxii2/", taxii_get_discovery, 0, "discovery"},
        {"GET", "/healthz", taxii_get_health, ROUTE_PUBLIC, "healthz"},
        {"GET", "/{root}/", taxii_get_api_root, 0, "api-root"},
        {"GET", "/{root}/collections/", taxii_get_collections, 0, "collections"},
        {"GET", "/{root}/collections/{coll}/", taxii_get_collection, ROUTE_COLL, "collection"},
        {"GET", "/{root}/collections/{coll}/objects/", taxii_get_objects, ROUTE_COLL | ROUTE_READ,
         "objects"},
        {"POST", "/{root}/collections/{coll}/objects/", taxii_post_objects,
         ROUTE_COLL | ROUTE_WRITE | HTTP_ROUTE_BODY, "add-objects"},
        {"GET", "/{root}/collections/{coll}/objects/{id}/", taxii_get_object,
         ROUTE_COLL | ROUTE_READ, "object"},
        {"DELETE", "/{root}/collections/{coll}/objects/{id}/", taxii_delete_object,
         ROUTE_COLL | ROUTE_WRITE, "delete-object"},
        {"GET", "/{root}/collections/{coll}/objects/{id}/versions/", taxii_get_versions,
         ROUTE_COLL | ROUTE_READ, "versions"},
        {"GET", "/{root}/collections/{coll}/manifest/", taxii_get_manifest, ROUTE_COLL | ROUTE_READ,
         "manifest"},
        {"GET", "/{root}/status/{status}/", taxii_get_status, 0, "status"},
        {"GET", "/{root}/kizuna/audit-head/", taxii_get_audit_head, 0, "audit-head"},
        {"GET", "/kizuna/admin/users/", taxii_admin_users, ROUTE_ADMIN, "admin-users"},
        {"POST", "/kizuna/admin/users/", taxii_admin_add_user, ROUTE_ADMIN | HTTP_ROUTE_BODY,
         "admin-add-user"},
        {"GET", "/kizuna/admin/users/{user}/tokens/", taxii_admin_tokens, ROUTE_ADMIN,
         "admin-tokens"},
        {"POST", "/kizuna/admin/users/{user}/tokens/", taxii_admin_add_token, ROUTE_ADMIN,
         "admin-add-token"},
        {"DELETE", "/kizuna/admin/tokens/{token}/", taxii_admin_revoke, ROUTE_ADMIN,
         "admin-revoke"},
        {"PATCH", "/kizuna/admin/users/{user}/", taxii_admin_change_user,
         ROUTE_ADMIN | HTTP_ROUTE_BODY, "admin-change-user"},
        {"DELETE", "/kizuna/admin/users/{user}/", taxii_admin_remove_user, ROUTE_ADMIN,
         "admin-remove-user"},
        {NULL, NULL, NULL, 0, NULL},
};

void taxii_ok(struct http_response *res, int status)
{
    res->status = status;
    res->content_type = TAXII_MEDIA_TYPE;
}

void taxii_error(struct http_response *res, int status, const char *title, const char *description)
{
    kz_buf_reset(&res->body);
    taxii_ok(res, status);
    kz_buf_addstr(&res->body, "{\"title\":\"");
    kz_buf_add_json_escaped(&res->body, title, strlen(title));
    kz_buf_addc(&res->body, '"');
    if (description && description[0]) {
        kz_buf_addstr(&res->body, ",\"description\":\"");
        kz_buf_add_json_escaped(&res->body, description, strlen(description));
        kz_buf_addc(&res->body, '"');
    }
    kz_buf_printf(&res->body, ",\"http_status\":\"%d\"}", status);
}

void taxii_error_from(struct http_response *res, const struct kz_error *err)
{
    char msg[1400];

    kz_error_format(err, msg, sizeof(msg));
    switch (err->code) {
    case KZ_EINVALID:
    case KZ_EUSAGE:
    case KZ_ECONFLICT: taxii_error(res, 400, "Bad request", msg); break;
    case KZ_EDENIED: taxii_error(res, 403, "Forbidden", msg); break;
    case KZ_ENOTFOUND: taxii_error(res, 404, "Not found", msg); break;
    case KZ_ELIMIT: taxii_error(res, 413, "Too large", msg); break;
    case KZ_EBUSY: taxii_error(res, 503, "Busy", "the store is busy; try again"); break;
    case KZ_EFULL: taxii_error(res, 507, "Insufficient storage", "the node's disk is full"); break;
    default: taxii_error(res, 500, "Internal error", "the node could not complete the request");
    }
    /* the cause of a 5xx stays in the access log: it may name the store's
     * internals, which are no client's business */
    if (res->status >= 500)
        snprintf(res->error, sizeof(res->error), "%.*s", (int)sizeof(res->error) - 1, msg);
}

struct store *taxii_store(struct taxii_server *t, struct kz_error *err)
{
    struct taxii_thread *th = taxii_thread(t, err);

    return th ? taxii_thread_store(th) : NULL;
}

struct store *taxii_req_store(struct http_request *req)
{
    struct taxii_req *q = http_request_data(req);

    return taxii_thread_store(q->thread);
}

void taxii_reader(const struct taxii_server *t, const struct taxii_req *q, struct policy_reader *r)
{
    memset(r, 0, sizeof(*r));
    r->user = &q->user;
    r->node_name = t->cfg->name;
    r->default_tlp = t->cfg->default_tlp;
}

static void unauthorized(struct http_response *res, const struct kz_error *err)
{
    taxii_error(res, 401, "Unauthorized", err->text);
    http_response_header(res, "WWW-Authenticate",
                         "Basic realm=\"kizuna\", charset=\"UTF-8\", Bearer realm=\"kizuna\"");
}

static int find_collection(struct taxii_server *t, struct http_request *req, struct taxii_req *q,
                           const struct http_route *route, struct http_response *res)
{
    struct policy_reader r;
    struct kz_error err;

    kz_error_clear(&err);
    if (taxii_cached_collection(q->thread, q->root.name, http_request_capture(req, 1), &q->coll,
                                &err) < 0) {
        if (err.code == KZ_ENOTFOUND)
            taxii_error(res, 404, "Not found", "no such collection");
        else
            taxii_error_from(res, &err);
        return 1;
    }
    taxii_reader(t, q, &r);
    if (taxii_cached_view(q->thread, &r, &q->coll, &q->view, &err) < 0) {
        taxii_error_from(res, &err);
        return 1;
    }
    if (!q->view.knows) {
        taxii_error(res, 404, "Not found", "no such collection");
        return 1;
    }
    q->has_coll = 1;
    if ((route->flags & ROUTE_READ) && !q->view.can_read) {
        taxii_error(res, 403, "Forbidden", "you may not read this collection");
        return 1;
    }
    if ((route->flags & ROUTE_WRITE) && !q->view.can_write) {
        taxii_error(res, 403, "Forbidden", "you may not write to this collection");
        return 1;
    }
    return 0;
}

/* The account API speaks JSON and only to admins. */
static int prepare_admin(struct http_request *req, struct taxii_req *q,
                         const struct http_route *route, struct http_response *res,
                         uint64_t *max_body)
{
    const char *ct = http_request_header(req, "Content-Type");

    if (!taxii_admin_allowed(&q->user)) {
        res->status = 403;
        res->content_type = "application/json";
        kz_buf_addstr(&res->body, "{\"error\":\"only node and org admins manage accounts\","
                                  "\"http_status\":403}");
        return 1;
    }
    if (route->flags & HTTP_ROUTE_BODY) {
        if (!ct || strncasecmp(ct, "application/json", 16) != 0) {
            res->status = 415;
            res->content_type = "application/json";
            kz_buf_addstr(&res->body, "{\"error\":\"send application/json\",\"http_status\":415}");
            return 1;
        }
        *max_body = TAXII_ADMIN_MAX_BODY;
    }
    return 0;
}

static int prepare(void *ctx, struct http_request *req, const struct http_route *route,
                   struct http_response *res, uint64_t *max_body)
{
    struct taxii_server *t = ctx;
    struct taxii_req *q = calloc(1, sizeof(*q));
    struct kz_error err;
    struct store *s;

    if (!q) {
        taxii_error(res, 503, "Busy", "out of memory");
        return 1;
    }
    http_request_set_data(req, q, free);
    kz_error_clear(&err);
    q->thread = taxii_thread(t, &err);
    if (!q->thread) {
        taxii_error_from(res, &err);
        return 1;
    }
    s = taxii_thread_store(q->thread);
    if (route && (route->flags & ROUTE_PUBLIC))
        return 0; /* no token, no Accept rules: it says only whether the node is up */
    if (auth_check(t->auth, s, http_request_header(req, "Authorization"), &q->user, &err) < 0) {
        if (err.code == KZ_EDENIED)
            unauthorized(res, &err);
        else
            taxii_error_from(res, &err);
        return 1;
    }
    http_request_set_user(req, q->user.name);
    if (route && (route->flags & ROUTE_ADMIN))
        return prepare_admin(req, q, route, res, max_body);
    if (!route) {
        if (http_request_method_allowed(req)) {
            taxii_error(res, 405, "Method not allowed", "this resource does not take that method");
            http_response_header(res, "Allow", http_request_allow(req));
        } else
            taxii_error(res, 404, "Not found", "no such resource");
        return 1;
    }
    if (!taxii_accept_ok(http_request_header(req, "Accept"))) {
        taxii_error(res, 406, "Not acceptable",
                    "this server answers with " TAXII_MEDIA_TYPE
                    "; send an Accept header that admits it");
        return 1;
    }
    if (route->handler != taxii_get_discovery) {
        if (taxii_cached_root(q->thread, http_request_capture(req, 0), &q->root, &err) < 0) {
            /* a store that cannot answer is not an absent root: 503 lets the client retry */
            if (err.code == KZ_ENOTFOUND)
                taxii_error(res, 404, "Not found", "no such API root");
            else
                taxii_error_from(res, &err);
            return 1;
        }
        q->has_root = 1;
    }
    if ((route->flags & ROUTE_COLL) && find_collection(t, req, q, route, res))
        return 1;
    if (route->flags & HTTP_ROUTE_BODY) {
        if (!taxii_content_type_ok(http_request_header(req, "Content-Type"))) {
            taxii_error(res, 415, "Unsupported media type",
                        "POST a TAXII envelope as " TAXII_MEDIA_TYPE
                        " (a STIX bundle as " STIX_MEDIA_TYPE " is accepted too)");
            return 1;
        }
        *max_body = q->root.max_content_length;
        if (atomic_load(&t->max_content_length) < *max_body)
            *max_body = atomic_load(&t->max_content_length);
    }
    return 0;
}

static void too_large(void *ctx, struct http_request *req, struct http_response *res)
{
    struct taxii_req *q = http_request_data(req);
    char msg[128];

    (void)ctx;
    snprintf(msg, sizeof(msg), "the body is larger than this API root's max_content_length (%llu)",
             (unsigned long long)(q && q->has_root ? q->root.max_content_length : 0));
    taxii_error(res, 413, "Request too large", msg);
}

static void over_budget(void *ctx, struct http_request *req, struct http_response *res)
{
    (void)ctx;
    (void)req;
    taxii_error(res, 429, "Too many requests",
                "this account's uploads in flight would pass the server's upload_budget; "
                "send again when the others have finished");
    http_response_header(res, "Retry-After", "1");
}

static void bad_target(void *ctx, struct http_request *req, struct http_response *res,
                       const char *why)
{
    (void)ctx;
    (void)req;
    taxii_error(res, 400, "Bad request", why);
}

/* The audit log, written by its own thread through its own connection. */
static int open_audit(struct taxii_server *t, struct kz_error *err)
{
    unsigned char key[AUDIT_KEY_BYTES];

    struct audit_opts o = {.backend = t->cfg->store_backend,
                           .path = t->cfg->audit_path,
                           .witness_path = t->cfg->store_path,
                           .background = 1,
                           .syslog = t->cfg->audit_syslog};

    _Static_assert(AUDIT_KEY_BYTES == SIGN_DERIVED_BYTES, "the audit key is a derived key");
    if (sign_signer_key(t->signer, SIGN_PURPOSE_AUDIT, key) < 0)
        return kz_error_set(err, KZ_EINTERNAL, "the signer gave no audit key");
    t->audit = audit_log_open(&o, key, err);
    sodium_memzero(key, sizeof(key));
    return t->audit ? 0 : -1;
}

struct store *taxii_writer_lock(struct taxii_server *t)
{
    pthread_mutex_lock(&t->write_lock);
    return t->writer;
}

void taxii_writer_unlock(struct taxii_server *t)
{
    atomic_store(&t->last_write_us, kz_mono_micros());
    pthread_mutex_unlock(&t->write_lock);
}

static int open_writer(struct taxii_server *t, struct kz_error *err)
{
    t->writer = store_open(t->cfg->store_backend, t->cfg->store_path, 0, err);
    if (!t->writer)
        return -1;
    /* the main thread checkpoints */
    store_defer_checkpoints(t->writer, 1);
    return 0;
}

struct taxii_server *taxii_server_new(struct node *node, struct sign_signer *signer,
                                      struct kz_error *err)
{
    struct taxii_server *t = calloc(1, sizeof(*t));

    if (!t) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    t->node = node;
    t->cfg = node_config(node);
    t->signer = signer;
    atomic_init(&t->max_content_length, t->cfg->max_content_length);
    atomic_init(&t->cache, t->cfg->cache);
    atomic_init(&t->epoch, 1);
    pthread_mutex_init(&t->write_lock, NULL);
    pthread_mutex_init(&t->url_lock, NULL);
    t->rcache = taxii_rcache_new();
    if (!t->rcache || taxii_thread_key_init(t) < 0) {
        taxii_rcache_free(t->rcache);
        pthread_mutex_destroy(&t->write_lock);
        pthread_mutex_destroy(&t->url_lock);
        free(t);
        kz_error_set(err, KZ_EINTERNAL, "cannot create a thread key");
        return NULL;
    }
    t->auth = auth_cache_new();
    if (!t->auth) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        taxii_server_free(t);
        return NULL;
    }
    /* cursors are MACed with a key derived from the node's signing key (by
     * the signer), so they stay valid across restarts and cannot be forged */
    _Static_assert(TAXII_CURSOR_KEY_BYTES == SIGN_DERIVED_BYTES, "the cursor key is a derived key");
    if (sign_signer_key(signer, SIGN_PURPOSE_CURSOR, t->cursor_key) < 0) {
        kz_error_set(err, KZ_EINTERNAL, "the signer gave no cursor key");
        taxii_server_free(t);
        return NULL;
    }
    if (open_audit(t, err) < 0 || open_writer(t, err) < 0) {
        taxii_server_free(t);
        return NULL;
    }
    t->app.routes = routes;
    t->app.ctx = t;
    t->app.prepare = prepare;
    t->app.too_large = too_large;
    t->app.over_budget = over_budget;
    t->app.bad_target = bad_target;
    return t;
}

void taxii_server_free(struct taxii_server *t)
{
    if (!t)
        return;
    /* the workers' states went with their threads; this thread may hold
     * one too (housekeeping) */
    taxii_thread_release(t);
    pthread_key_delete(t->store_key);
    taxii_rcache_free(t->rcache);
    audit_log_close(t->audit);
    store_close(t->writer);
    pthread_mutex_destroy(&t->write_lock);
    pthread_mutex_destroy(&t->url_lock);
    auth_cache_free(t->auth);
    sodium_memzero(t->cursor_key, sizeof(t->cursor_key));
    /* the signer is the caller's (sign_signer_stop) */
    free(t);
}

const struct http_app *taxii_http_app(struct taxii_server *t)
{
    return &t->app;
}

void taxii_set_limits(struct taxii_server *t, uint64_t max_content_length, int cache)
{
    atomic_store(&t->max_content_length, max_content_length);
    atomic_store(&t->cache, cache);
}

void taxii_set_public_url(struct taxii_server *t, const char *url)
{
    pthread_mutex_lock(&t->url_lock);
    snprintf(t->public_url, sizeof(t->public_url), "%s", url);
    pthread_mutex_unlock(&t->url_lock);
}

int taxii_audit(struct taxii_server *t, struct http_request *req, const char *action,
                uint64_t count, const uint64_t *markings)
{
    struct taxii_req *q = http_request_data(req);
    struct audit_event e = {.user = q->user.name,
                            .remote = http_request_peer(req),
                            .action = action,
                            .collection = q->has_coll ? q->coll.id : "",
                            .count = count,
                            .detail = http_request_target(req),
                            .durable = strcmp(action, "read") != 0};
    struct kz_error err;

    if (markings)
        memcpy(e.markings, markings, sizeof(e.markings));
    kz_error_clear(&err);
    if (audit_record(t->audit, &e, &err) < 0) {
        kz_error_format(&err, q->audit_error, sizeof(q->audit_error));
        return -1;
    }
    return 0;
}

int taxii_audit_change(struct taxii_server *t, struct http_request *req, const char *action,
                       const char *what)
{
    struct taxii_req *q = http_request_data(req);
    struct audit_event e = {.user = q->user.name,
                            .remote = http_request_peer(req),
                            .action = action,
                            .detail = what,
                            .durable = 1};
    struct kz_error err;

    kz_error_clear(&err);
    return audit_record(t->audit, &e, &err);
}

/* Nothing of the answer prepared may go out: not a cached body, not its
 * headers. */
static void drop_answer(struct http_response *res)
{
    if (res->shared_free)
        res->shared_free(res->shared_cls);
    res->shared = NULL;
    res->shared_len = 0;
    res->shared_free = NULL;
    res->nheaders = 0;
}

void taxii_audit_failed(struct http_request *req, struct http_response *res)
{
    struct taxii_req *q = http_request_data(req);

    drop_answer(res);
    taxii_error(res, 503, "Busy",
                "the node could not record this request in its audit log; try again");
    snprintf(res->error, sizeof(res->error), "the audit log: %.*s", (int)sizeof(res->error) - 20,
             q->audit_error);
}

void taxii_sign_failed(struct http_response *res)
{
    drop_answer(res);
    taxii_error(res, 503, "Service unavailable",
                "the node's signer is not available, and a page asked for signed is never "
                "sent unsigned");
}

void taxii_housekeeping(struct taxii_server *t)
{
    struct kz_error err;
    struct store *s = taxii_store(t, &err);

    if (s)
        store_status_purge(s, kz_now_micros() - TAXII_STATUS_KEEP_US, &err);
}

void taxii_checkpoint(struct taxii_server *t)
{
    struct kz_error err;
    struct store *s;

    /* while writes keep coming, the writer folds the log itself once it is
     * STORE_DEFERRED_CHECKPOINT_PAGES long: a page that many commits
     * changed (the id index's, at random) is then written back once rather
     * than once a second, which halves what a stream of POSTs writes */
    if (kz_mono_micros() - atomic_load(&t->last_write_us) < TAXII_CHECKPOINT_QUIET_US)
        return;
    s = taxii_store(t, &err);
    if (s)
        store_checkpoint(s, &err);
}
