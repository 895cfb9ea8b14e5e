/*
 * The TAXII 2.1 API: discovery, API roots, collections, objects, manifests,
 * versions and status resources, served over http/ from a node's store.
 * taxii_server_new builds the route table and the hooks http/ calls;
 * authentication goes through auth/, every decision about who may see or
 * change what through policy/.
 */
#ifndef KZ_TAXII_H
#define KZ_TAXII_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "node/node.h"
#include "store/store_objects.h"
#include "util/limits.h"

#define TAXII_MEDIA_TYPE "application/taxii+json;version=2.1"
#define STIX_MEDIA_TYPE  "application/stix+json;version=2.1"

/* Signed pages (docs/FEDERATION.md): a request carrying
 * "X-Kizuna-Want-Signature: v1" gets "X-Kizuna-Signature: v1 BASE64", an
 * Ed25519 signature over SIGN_PAGE_PREFIX (sign/sign.h), the request target, "\n"
 * and the body. */
#define TAXII_WANT_SIGNATURE_HEADER "X-Kizuna-Want-Signature"
#define TAXII_SIGNATURE_HEADER      "X-Kizuna-Signature"

/* v1 pages can be replayed: the same request verifies the same old page.
 * A request carrying "X-Kizuna-Want-Signature: v2" and a nonce of its own
 * ("X-Kizuna-Nonce", TAXII_NONCE_MIN to TAXII_NONCE_MAX characters of
 * [A-Za-z0-9_-]) gets "X-Kizuna-Signature: v2 TIME BASE64", TIME the
 * server's clock in Unix seconds, over the text sign_page_text_v2 builds
 * (sign.h: the nonce, TIME, the request target, the response's
 * X-TAXII-Date-Added-Last and the body). */
#define TAXII_NONCE_HEADER "X-Kizuna-Nonce"
/* TAXII_NONCE_MIN, TAXII_NONCE_MAX and the page sizes TAXII_DEFAULT_LIMIT
 * and TAXII_MAX_LIMIT are in util/limits.h. */
/* Status resources are kept this long (the spec asks for 24 hours). */
#define TAXII_STATUS_KEEP_US ((int64_t)7 * 24 * 3600 * 1000000)

/* --- request parameters (params.c) ---------------------------------------- */

/* Which query parameters an endpoint takes. */
#define TAXII_P_ADDED_AFTER        0x01
#define TAXII_P_LIMIT              0x02
#define TAXII_P_NEXT               0x04
#define TAXII_P_MATCH_ID           0x08
#define TAXII_P_MATCH_TYPE         0x10
#define TAXII_P_MATCH_VERSION      0x20
#define TAXII_P_MATCH_SPEC_VERSION 0x40

#define TAXII_CURSOR_KEY_BYTES 32

/* A parsed query: a store filter whose strings live in `strings`. */
struct taxii_query {
    struct store_filter filter;
    char *strings[3 * STORE_MAX_FILTER_VALUES];
    unsigned nstrings;
    uint64_t shape;      /* a hash of the filters, bound into cursors */
    int64_t added_after; /* the query's own added_after (before a cursor moves it) */
    int has_added_after; /* the query named one */
    int has_next;
};

/* Parses params for an endpoint taking `allowed`, into q (free with
 * taxii_query_free after a success; a failure frees it). default_versions
 * applies when match[version] is absent.
 * A bad value fails with KZ_EINVALID and a message naming the parameter;
 * unknown parameters are ignored. key signs and checks `next` cursors. */
int taxii_query_parse(const struct http_param *params, int n, unsigned allowed,
                      unsigned default_versions, const unsigned char key[TAXII_CURSOR_KEY_BYTES],
                      struct taxii_query *q, struct kz_error *err);
void taxii_query_free(struct taxii_query *q);

/* The `next` cursor for continuing q after date added `last`. */
#define TAXII_CURSOR_MAX 64
void taxii_cursor_make(const struct taxii_query *q, int64_t last,
                       const unsigned char key[TAXII_CURSOR_KEY_BYTES], char out[TAXII_CURSOR_MAX]);

/* Whether an Accept header admits TAXII 2.1 (NULL: no header, admitted). */
int taxii_accept_ok(const char *accept);

/* Whether a Content-Type is one kizuna takes for POSTed objects. */
int taxii_content_type_ok(const char *content_type);

/* --- the server ----------------------------------------------------------- */

struct taxii_server;

/* Makes the TAXII application for a node's home (each worker thread opens
 * its own store connection). Pages are signed by signer, the process that
 * holds the node key (sign/), which also gives the cursor and audit keys;
 * it stays the caller's and must outlive the server. */
struct sign_signer;
struct taxii_server *taxii_server_new(struct node *node, struct sign_signer *signer,
                                      struct kz_error *err);
void taxii_server_free(struct taxii_server *t);

/* The http/ application to serve. */
const struct http_app *taxii_http_app(struct taxii_server *t);

/* Sets the base URL discovery advertises (node_public_url); until it is
 * set, discovery answers 503. Never taken from a request's Host header. */
void taxii_set_public_url(struct taxii_server *t, const char *url);

/* What a configuration reload changes live ([server] max_content_length
 * and cache): safe while requests run. */
void taxii_set_limits(struct taxii_server *t, uint64_t max_content_length, int cache);

/* Housekeeping run by `kizuna serve` now and then: drops expired status
 * resources. */
void taxii_housekeeping(struct taxii_server *t);

/* Folds the write-ahead log into the database (the request threads leave
 * it to this; kizuna serve's main thread calls it every second). */
void taxii_checkpoint(struct taxii_server *t);

#endif
