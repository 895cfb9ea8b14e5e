/*
 * Internals shared by the TAXII server's files: the server, the state of
 * one request once prepare() has authenticated it and found its API root and
 * collection, and the helpers handlers answer with.
 */
#ifndef KZ_TAXII_INT_H
#define KZ_TAXII_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "policy/policy.h"
#include "sign/sign.h"
#include "store/store_objects.h"
#include "taxii/taxii.h"

/* The response cache: slots (direct-mapped), the most it holds, and the
 * largest response it keeps. */
#define TAXII_RCACHE_SLOTS     1024
#define TAXII_RCACHE_MAX_BYTES ((size_t)64 << 20)
#define TAXII_RCACHE_MAX_ENTRY ((size_t)4 << 20)

struct taxii_rcache;
struct taxii_thread;

struct taxii_server {
    struct node *node;
    const struct node_config *cfg;
    pthread_key_t store_key; /* each worker thread's struct taxii_thread */
    _Atomic uint64_t epoch;  /* bumped by every write seen (cache.c) */
    struct taxii_rcache *rcache;
    struct auth_cache *auth;
    unsigned char cursor_key[TAXII_CURSOR_KEY_BYTES];
    struct sign_signer *signer; /* signs with the node's key in its own process (sign/) */
    struct audit_log *audit;
    struct http_app app;
    pthread_mutex_t write_lock;    /* held while using writer */
    struct store *writer;          /* the connection every object write uses */
    _Atomic int64_t last_write_us; /* when the writer was last released */
    pthread_mutex_t url_lock;      /* guards public_url */
    char public_url[NODE_URL_MAX]; /* what discovery advertises; "" until set */
    /* [server] settings a reload changes while requests run (taxii_set_limits);
     * the rest of cfg never changes in a running server */
    _Atomic uint64_t max_content_length;
    atomic_int cache;
};

/* The main thread checkpoints once no write has come for this long. */
#define TAXII_CHECKPOINT_QUIET_US 500000

/* What prepare() learnt about a request; handlers read it. */
struct taxii_req {
    struct taxii_thread *thread;
    struct auth_user user;
    int has_root;
    struct store_api_root root;
    int has_coll;
    struct store_collection coll;
    struct policy_view view;
    char audit_error[256]; /* why taxii_audit failed, for the access log */
};

/* The calling thread's store (opened on first use); NULL with err set. */
struct store *taxii_store(struct taxii_server *t, struct kz_error *err);

/* The store of a request that prepare() let through: the one whose data
 * version prepare() checked when the request arrived, so that a handler
 * need not ask the database again (a round trip on PostgreSQL). Prepare
 * and handler run on the connection's thread. */
struct store *taxii_req_store(struct http_request *req);

/* Writes of objects (POST, DELETE) take turns on one connection: its page
 * cache stays warm from one request to the next (a commit by any other
 * connection empties it), and a waiting writer starts the moment the lock
 * is free rather than sleeping in SQLite's busy handler. Every
 * taxii_writer_lock is paired with a taxii_writer_unlock. */
struct store *taxii_writer_lock(struct taxii_server *t);
void taxii_writer_unlock(struct taxii_server *t);

/* --- caches (cache.c) ------------------------------------------------------- */

int taxii_thread_key_init(struct taxii_server *t);
/* Frees the calling thread's state now (worker threads' go when they end). */
void taxii_thread_release(struct taxii_server *t);
/* The calling thread's state, after checking whether the store changed. */
struct taxii_thread *taxii_thread(struct taxii_server *t, struct kz_error *err);
struct store *taxii_thread_store(struct taxii_thread *th);
uint64_t taxii_thread_epoch(const struct taxii_thread *th);
/* Called after this process commits a write. */
void taxii_epoch_bump(struct taxii_server *t);
int taxii_cached_root(struct taxii_thread *th, const char *name, struct store_api_root *out,
                      struct kz_error *err);
int taxii_cached_collection(struct taxii_thread *th, const char *root, const char *name,
                            struct store_collection *out, struct kz_error *err);
int taxii_cached_view(struct taxii_thread *th, const struct policy_reader *r,
                      const struct store_collection *c, struct policy_view *out,
                      struct kz_error *err);

struct taxii_rcache *taxii_rcache_new(void);
void taxii_rcache_free(struct taxii_rcache *c);
/* The cache key of a listing: the reader's view and the request target. */
void taxii_rcache_key(struct kz_buf *key, const char *target, const struct policy_view *v);
/* A hit fills res (body shared, date headers) and the audit figures. */
int taxii_rcache_get(struct taxii_rcache *c, const struct kz_buf *key, uint64_t epoch,
                     struct http_response *res, uint64_t *count, uint64_t *markings);
void taxii_rcache_put(struct taxii_rcache *c, const struct kz_buf *key, uint64_t epoch,
                      const struct http_response *res, const char *first, const char *last,
                      const char *signature, uint64_t count, const uint64_t *markings);

/* Fills res with a TAXII error resource. */
void taxii_error(struct http_response *res, int status, const char *title, const char *description);

/* Fills res from err: 400 for invalid input, 403 denied, 404 not found,
 * 413 limits, 503 busy, 507 full, 500 otherwise. */
void taxii_error_from(struct http_response *res, const struct kz_error *err);

/* Starts a 200 TAXII JSON response. */
void taxii_ok(struct http_response *res, int status);

/* The reader description for policy/ of this request. */
void taxii_reader(const struct taxii_server *t, const struct taxii_req *q, struct policy_reader *r);

/* Records a request in the audit log and returns once the row is committed
 * (durably unless action is "read"); -1 when it could not be, and the
 * request must then not be answered as a success (taxii_audit_failed). */
int taxii_audit(struct taxii_server *t, struct http_request *req, const char *action,
                uint64_t count, const uint64_t *markings);
void taxii_audit_failed(struct http_request *req, struct http_response *res);

/* Answers 503 in place of a page that asked for a signature the signer did
 * not give (fail closed: never the page unsigned). */
void taxii_sign_failed(struct http_response *res);
/* Records an account change or an admin API call by the request's user,
 * durably; what says what changed. -1 when it could not be recorded. */
int taxii_audit_change(struct taxii_server *t, struct http_request *req, const char *action,
                       const char *what);

/* The account API (admin.c). */
int taxii_admin_allowed(const struct auth_user *u);
void taxii_admin_users(void *app, struct http_request *req, struct http_response *res);
void taxii_admin_add_user(void *app, struct http_request *req, struct http_response *res);
void taxii_admin_tokens(void *app, struct http_request *req, struct http_response *res);
void taxii_admin_add_token(void *app, struct http_request *req, struct http_response *res);
void taxii_admin_revoke(void *app, struct http_request *req, struct http_response *res);
void taxii_admin_change_user(void *app, struct http_request *req, struct http_response *res);
void taxii_admin_remove_user(void *app, struct http_request *req, struct http_response *res);

/* Handlers (handlers.c). */
void taxii_get_discovery(void *app, struct http_request *req, struct http_response *res);
/* The signature a request asks for: 0 none, 1 (v1), 2 (v2, with *nonce),
 * -1 for v2 without a good nonce (handlers.c). */
int taxii_signature_wanted(struct http_request *req, const char **nonce);
/* Adds a v1 signature (the target and the body) for the answer in res, kept
 * in signature too (a cached page keeps it); -1 when the signer failed. */
int taxii_sign_page_v1(struct taxii_server *t, struct http_request *req, struct http_response *res,
                       char signature[SIGN_TEXT_MAX + 8]);
/* Adds a v2 signature, bound to nonce and now, for the answer in res. -1
 * when the signer failed: the caller answers taxii_sign_failed. */
int taxii_sign_page_v2(struct taxii_server *t, struct http_request *req, struct http_response *res,
                       const char *nonce);
/* GET /healthz, without authentication (health.c). */
void taxii_get_health(void *app, struct http_request *req, struct http_response *res);
void taxii_get_api_root(void *app, struct http_request *req, struct http_response *res);
void taxii_get_collections(void *app, struct http_request *req, struct http_response *res);
void taxii_get_collection(void *app, struct http_request *req, struct http_response *res);
void taxii_get_objects(void *app, struct http_request *req, struct http_response *res);
void taxii_post_objects(void *app, struct http_request *req, struct http_response *res);
void taxii_get_object(void *app, struct http_request *req, struct http_response *res);
void taxii_delete_object(void *app, struct http_request *req, struct http_response *res);
void taxii_get_versions(void *app, struct http_request *req, struct http_response *res);
void taxii_get_manifest(void *app, struct http_request *req, struct http_response *res);
void taxii_get_status(void *app, struct http_request *req, struct http_response *res);
void taxii_get_audit_head(void *app, struct http_request *req, struct http_response *res);

#endif
