/*
 * Internals shared by the TAXII server's files: the server, the state of
 * one request once prepare() has authenticated it and found its API root and
 * collection, and the helpers handlers answer with.
 */
#ifndef KZ_TAXII_INT_H
#define KZ_TAXII_INT_H

#include <pthread.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "policy/policy.h"
#include "taxii/taxii.h"

struct taxii_server {
    struct node *node;
    const struct node_config *cfg;
    pthread_key_t store_key; /* each worker thread's own store connection */
    struct auth_cache *auth;
    unsigned char cursor_key[TAXII_CURSOR_KEY_BYTES];
    struct audit_log *audit;
    struct http_app app;
};

/* What prepare() learnt about a request; handlers read it. */
struct taxii_req {
    struct auth_user user;
    int has_root;
    struct store_api_root root;
    int has_coll;
    struct store_collection coll;
    struct policy_view view;
};

/* The calling thread's store (opened on first use); NULL with err set. */
struct store *taxii_store(struct taxii_server *t, struct kz_error *err);

/* Fills res with a TAXII error resource. */
void taxii_error(struct http_response *res, int status, const char *title, const char *description);

/* Fills res from err: 400 for invalid input, 403 denied, 404 not found,
 * 413 limits, 503 busy, 507 full, 500 otherwise. */
void taxii_error_from(struct http_response *res, const struct kz_error *err);

/* Starts a 200 TAXII JSON response. */
void taxii_ok(struct http_response *res, int status);

/* The reader description for policy/ of this request. */
void taxii_reader(const struct taxii_server *t, const struct taxii_req *q, struct policy_reader *r);

/* Records a read or write of objects in the audit log. */
void taxii_audit(struct taxii_server *t, struct http_request *req, const char *action,
                 uint64_t count, const uint64_t *markings);

/* Handlers (handlers.c). */
void taxii_get_discovery(void *app, struct http_request *req, struct http_response *res);
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

#endif
