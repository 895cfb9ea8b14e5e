/*
 * The TAXII 2.1 endpoints. Each handler starts from what prepare() checked
 * (an authenticated user, an existing API root, a collection the user may
 * use in this way) and answers with the resource the specification defines.
 * Objects are never re-serialised: a page is the stored JSON texts joined
 * into an envelope. Every listing goes through the reader's policy view, so
 * objects the reader may not see are absent from pages, counts, cursors,
 * manifests, version lists and date headers alike.
 */
#include "taxii/taxii_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingest/ingest.h"
#include "ingest/tombstone.h"
#include "sign/sign.h"
#include "store/store_objects.h"
#include "store/store_peers.h"
#include "store/store_status.h"
#include "util/kztime.h"
#include "util/uuid.h"

static struct taxii_req *state(struct http_request *req)
{
    return http_request_data(req);
}

static void add_str(struct kz_buf *b, const char *key, const char *value, int *first)
{
    if (!*first)
        kz_buf_addc(b, ',');
    *first = 0;
    kz_buf_printf(b, "\"%s\":\"", key);
    kz_buf_add_json_escaped(b, value, strlen(value));
    kz_buf_addc(b, '"');
}

/* The base URL to advertise: the node's public URL, set when serving
 * started (node_public_url). A request's Host header is never used: it is
 * the client's to choose, and discovery would hand it back to everyone
 * whose cache or proxy kept the answer. */
static int base_url(struct taxii_server *t, char *out, size_t cap)
{
    pthread_mutex_lock(&t->url_lock);
    snprintf(out, cap, "%s", t->public_url);
    pthread_mutex_unlock(&t->url_lock);
    return out[0] ? 0 : -1;
}

struct roots_ctx {
    struct kz_buf *b;
    const char *base;
    int n;
};

static int add_root_url(void *ctx, const struct store_api_root *r)
{
    struct roots_ctx *c = ctx;

    kz_buf_addstr(c->b, c->n++ ? ",\"" : "\"");
    kz_buf_add_json_escaped(c->b, c->base, strlen(c->base));
    kz_buf_addc(c->b, '/');
    kz_buf_add_json_escaped(c->b, r->name, strlen(r->name));
    kz_buf_addstr(c->b, "/\"");
    return 0;
}

void taxii_get_discovery(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_server *t = app;
    struct kz_buf *b = &res->body;
    char base[NODE_URL_MAX];
    struct kz_error err;
    struct store *s = taxii_req_store(req);
    struct roots_ctx rc = {.b = b, .base = base};
    int first = 1;

    if (base_url(t, base, sizeof(base)) < 0) {
        taxii_error(res, 503, "Busy", "the server is starting; try again");
        return;
    }
    taxii_ok(res, 200);
    kz_buf_addc(b, '{');
    add_str(b, "title", t->cfg->name, &first);
    add_str(b, "description", "kizuna: a federated exchange of STIX 2.1 threat intelligence",
            &first);
    kz_buf_addstr(b, ",\"default\":\"");
    kz_buf_add_json_escaped(b, base, strlen(base));
    kz_buf_addstr(b, "/default/\",\"api_roots\":[");
    if (store_api_root_each(s, add_root_url, &rc, &err) < 0) {
        taxii_error_from(res, &err);
        return;
    }
    kz_buf_addstr(b, "]}");
}

void taxii_get_api_root(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_req *q = state(req);
    struct kz_buf *b = &res->body;
    int first = 1;

    (void)app;
    taxii_ok(res, 200);
    kz_buf_addc(b, '{');
    add_str(b, "title", q->root.title[0] ? q->root.title : q->root.name, &first);
    if (q->root.description[0])
        add_str(b, "description", q->root.description, &first);
    kz_buf_printf(b, ",\"versions\":[\"%s\"],\"max_content_length\":%llu}", TAXII_MEDIA_TYPE,
                  (unsigned long long)q->root.max_content_length);
}

static void collection_json(struct kz_buf *b, const struct store_collection *c, int can_read,
                            int can_write)
{
    int first = 1;

    kz_buf_addc(b, '{');
    add_str(b, "id", c->id, &first);
    add_str(b, "title", c->title[0] ? c->title : c->alias, &first);
    if (c->description[0])
        add_str(b, "description", c->description, &first);
    add_str(b, "alias", c->alias, &first);
    kz_buf_printf(b, ",\"can_read\":%s,\"can_write\":%s,\"media_types\":[\"%s\"]}",
                  can_read ? "true" : "false", can_write ? "true" : "false", STIX_MEDIA_TYPE);
}

struct colls_ctx {
    struct taxii_server *t;
    struct taxii_req *q;
    struct store *s;
    struct kz_buf *b;
    int n;
    int failed;
    struct kz_error err;
};

static int add_collection(void *ctx, const struct store_collection *c)
{
    struct colls_ctx *x = ctx;
    struct policy_reader r;
    struct policy_view v;

    taxii_reader(x->t, x->q, &r);
    if (policy_view_open(x->s, &r, c, &v, &x->err) < 0) {
        x->failed = 1;
        return -1;
    }
    if (!v.knows)
        return 0;
    kz_buf_addstr(x->b, x->n++ ? "," : "{\"collections\":[");
    collection_json(x->b, c, v.can_read, v.can_write);
    return 0;
}

void taxii_get_collections(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_server *t = app;
    struct colls_ctx x = {.t = t, .q = state(req), .b = &res->body};

    x.s = taxii_req_store(req);
    taxii_ok(res, 200);
    if (store_collection_each(x.s, x.q->root.name, add_collection, &x, &x.err) < 0 || x.failed) {
        taxii_error_from(res, &x.err);
        return;
    }
    /* empty lists are omitted, never sent as [] */
    kz_buf_addstr(&res->body, x.n ? "]}" : "{}");
}

void taxii_get_collection(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_req *q = state(req);

    (void)app;
    taxii_ok(res, 200);
    collection_json(&res->body, &q->coll, q->view.can_read, q->view.can_write);
}

/* --- listings ------------------------------------------------------------ */

enum listing {
    LIST_OBJECTS,
    LIST_MANIFEST,
    LIST_VERSIONS,
};

struct page_ctx {
    struct kz_buf *b;
    enum listing kind;
    uint64_t n;
    uint64_t markings[STIX_TLP_RED + 1];
};

static int on_row(void *ctx, const struct store_row *r, struct kz_error *err)
{
    struct page_ctx *p = ctx;
    char added[KZ_TS_MICROS_LEN];

    if (p->n++)
        kz_buf_addc(p->b, ',');
    if (r->tlp >= 0 && r->tlp <= STIX_TLP_RED)
        p->markings[r->tlp]++;
    switch (p->kind) {
    case LIST_OBJECTS: kz_buf_add(p->b, r->raw, r->rawlen); break;
    case LIST_VERSIONS:
        kz_buf_addc(p->b, '"');
        kz_buf_add_json_escaped(p->b, r->version, strlen(r->version));
        kz_buf_addc(p->b, '"');
        break;
    case LIST_MANIFEST:
        kz_ts_format_micros(r->added, added);
        kz_buf_addstr(p->b, "{\"id\":\"");
        kz_buf_add_json_escaped(p->b, r->id, strlen(r->id));
        kz_buf_printf(p->b, "\",\"date_added\":\"%s\",\"version\":\"", added);
        kz_buf_add_json_escaped(p->b, r->version, strlen(r->version));
        kz_buf_printf(p->b, "\",\"media_type\":\"%s\"}", STIX_MEDIA_TYPE);
        break;
    }
    return p->b->failed ? kz_error_set(err, KZ_ELIMIT, "response too large") : 0;
}

/* Signs a page for a peer (docs/FEDERATION.md) and adds the header. -1
 * when the signer failed: the caller answers 503 (taxii_sign_failed), never
 * the page unsigned. */
int taxii_sign_page_v1(struct taxii_server *t, struct http_request *req, struct http_response *res,
                       char signature[SIGN_TEXT_MAX + 8])
{
    struct kz_buf msg;
    struct kz_error err;
    const char *target = http_request_target(req);
    int rc = 0;

    if (sign_page_text(&msg, target, res->body.data, res->body.len) == 0) {
        memcpy(signature, "v1 ", 3);
        rc = sign_signer_sign_text(t->signer, msg.data, msg.len, signature + 3, &err);
        if (rc == 0)
            http_response_header(res, TAXII_SIGNATURE_HEADER, signature);
        else
            signature[0] = '\0';
    }
    kz_buf_free(&msg);
    return rc;
}

/* The signature a listing request asks for: 0 none, 1 (v1), 2 (v2, bound
 * to the request's nonce and the time); -1 for v2 without a good nonce. */
int taxii_signature_wanted(struct http_request *req, const char **nonce)
{
    const char *v = http_request_header(req, TAXII_WANT_SIGNATURE_HEADER);
    const char *n = http_request_header(req, TAXII_NONCE_HEADER);
    size_t len;

    *nonce = NULL;
    if (!v)
        return 0;
    if (strcmp(v, "v1") == 0)
        return 1;
    if (strcmp(v, "v2") != 0)
        return 0;
    len = n ? strlen(n) : 0;
    if (len < TAXII_NONCE_MIN || len > TAXII_NONCE_MAX ||
        strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != len)
        return -1;
    *nonce = n;
    return 2;
}

/* Signs a page for the request that asked with a nonce (kizuna-sig-v2,
 * taxii.h). Each request has its own nonce, so this signature is made per
 * answer, cached or not: the body may be the cache's shared one. */
int taxii_sign_page_v2(struct taxii_server *t, struct http_request *req, struct http_response *res,
                       const char *nonce)
{
    const char *target = http_request_target(req), *last = "", *body = res->body.data;
    size_t len = res->body.len;
    char signature[SIGN_TEXT_MAX + 32];
    struct kz_buf msg;
    struct kz_error err;
    long long now;
    int n, rc = 0;

    if (res->shared) {
        body = res->shared;
        len = res->shared_len;
    }
    for (int i = 0; i < res->nheaders; i++)
        if (strcasecmp(res->headers[i].name, "X-TAXII-Date-Added-Last") == 0)
            last = res->headers[i].value;
    now = kz_now_micros() / 1000000;
    n = snprintf(signature, sizeof(signature), "v2 %lld ", now);
    if (sign_page_text_v2(&msg, nonce, now, target, last, body, len) == 0 && n > 0 &&
        (size_t)n + SIGN_TEXT_MAX <= sizeof(signature)) {
        rc = sign_signer_sign_text(t->signer, msg.data, msg.len, signature + n, &err);
        if (rc == 0)
            http_response_header(res, TAXII_SIGNATURE_HEADER, signature);
    }
    kz_buf_free(&msg);
    return rc;
}

/* Whether a listing names tombstones: by type (match[type]) or by id (the
 * object endpoints, match[id]). Tombstones are kizuna's own custom type,
 * which strict STIX clients refuse (python-stix2 without allow_custom fails
 * on the whole page): only peers, which apply them, get them unasked. */
static int asks_for_tombstones(const struct store_filter *f)
{
    static const char prefix[] = TOMBSTONE_TYPE "--";

    for (unsigned i = 0; i < f->ntypes; i++)
        if (strcmp(f->types[i], TOMBSTONE_TYPE) == 0)
            return 1;
    for (unsigned i = 0; i < f->nids; i++)
        if (strncmp(f->ids[i], prefix, sizeof(prefix) - 1) == 0)
            return 1;
    return 0;
}

/* Runs a listing and writes its envelope (objects, manifest or versions
 * resource) with the date headers. A 404 when object_id is set and nothing
 * is visible. */
static void list(struct taxii_server *t, struct http_request *req, struct http_response *res,
                 enum listing kind, unsigned allowed, unsigned default_versions,
                 const char *object_id)
{
    struct taxii_req *q = state(req);
    struct taxii_query tq;
    struct store_page page;
    struct kz_error err;
    struct store *s;
    const struct http_param *params;
    struct page_ctx pc = {.b = &res->body, .kind = kind};
    char cursor[TAXII_CURSOR_MAX], first[KZ_TS_MICROS_LEN], last[KZ_TS_MICROS_LEN];
    struct kz_buf key;
    uint64_t count;
    const char *nonce;
    char signature[SIGN_TEXT_MAX + 8] = "";
    int n, want_sig, sig_v;

    sig_v = taxii_signature_wanted(req, &nonce);
    if (sig_v < 0) {
        taxii_error(res, 400, "Bad request",
                    "X-Kizuna-Want-Signature: v2 needs an X-Kizuna-Nonce of 16 to 128 "
                    "characters A-Z, a-z, 0-9, '_' or '-'");
        return;
    }
    want_sig = sig_v == 1; /* v1, made once and cached with the page */
    /* a polling client asks the same again and again: answer from the
     * cache while nothing was written since */
    kz_buf_init(&key, atomic_load(&t->cache) ? 4 * HTTP_MAX_TARGET : 0);
    taxii_rcache_key(&key, http_request_target(req), &q->view);
    kz_buf_addstr(&key, want_sig ? "|signed" : "|");
    if (!key.failed && taxii_rcache_get(t->rcache, &key, taxii_thread_epoch(q->thread), res, &count,
                                        pc.markings)) {
        taxii_ok(res, 200);
        if (taxii_audit(t, req, "read", count, pc.markings) < 0)
            taxii_audit_failed(req, res);
        else if (sig_v == 2 && taxii_sign_page_v2(t, req, res, nonce) < 0)
            taxii_sign_failed(res);
        kz_buf_free(&key);
        return;
    }
    kz_error_clear(&err);
    params = http_request_params(req, &n);
    if (taxii_query_parse(params, n, allowed, default_versions, t->cursor_key, &tq, &err) < 0) {
        taxii_error_from(res, &err);
        kz_buf_free(&key);
        return;
    }
    s = taxii_req_store(req);
    tq.filter.collection = q->coll.key;
    if (object_id) {
        tq.filter.ids[0] = object_id;
        tq.filter.nids = 1;
    }
    policy_filter(&q->view, &tq.filter);
    if (q->user.role != AUTH_ROLE_PEER && !asks_for_tombstones(&tq.filter))
        tq.filter.exclude_type = TOMBSTONE_TYPE;
    taxii_ok(res, 200);
    kz_buf_addstr(&res->body, kind == LIST_VERSIONS ? "{\"versions\":[" : "{\"objects\":[");
    if (store_list(s, &tq.filter, kind == LIST_OBJECTS, on_row, &pc, &page, &err) < 0) {
        taxii_error_from(res, &err);
        goto out;
    }
    if (taxii_audit(t, req, "read", page.count, pc.markings) < 0) {
        taxii_audit_failed(req, res);
        goto out;
    }
    if (object_id && page.count == 0 && !tq.has_next) {
        taxii_error(res, 404, "Not found", "no such object in this collection");
        goto out;
    }
    if (page.count == 0) {
        kz_buf_reset(&res->body);
        kz_buf_addstr(&res->body, "{\"more\":false}");
        if (want_sig && taxii_sign_page_v1(t, req, res, signature) < 0) {
            taxii_sign_failed(res);
            goto out;
        }
        if (!key.failed)
            taxii_rcache_put(t->rcache, &key, taxii_thread_epoch(q->thread), res, NULL, NULL,
                             signature, 0, pc.markings);
        if (sig_v == 2 && taxii_sign_page_v2(t, req, res, nonce) < 0)
            taxii_sign_failed(res);
        goto out;
    }
    kz_buf_addstr(&res->body, "],\"more\":");
    if (page.more) {
        taxii_cursor_make(&tq, page.last_added, t->cursor_key, cursor);
        kz_buf_printf(&res->body, "true,\"next\":\"%s\"}", cursor);
    } else {
        kz_buf_addstr(&res->body, "false}");
    }
    kz_ts_format_micros(page.first_added, first);
    kz_ts_format_micros(page.last_added, last);
    http_response_header(res, "X-TAXII-Date-Added-First", first);
    http_response_header(res, "X-TAXII-Date-Added-Last", last);
    if (res->body.failed) {
        taxii_error(res, 500, "Internal error", "the response could not be built");
        goto out;
    }
    if (want_sig && taxii_sign_page_v1(t, req, res, signature) < 0) {
        taxii_sign_failed(res);
        goto out;
    }
    if (!key.failed)
        taxii_rcache_put(t->rcache, &key, taxii_thread_epoch(q->thread), res, first, last,
                         signature, page.count, pc.markings);
    if (sig_v == 2 && taxii_sign_page_v2(t, req, res, nonce) < 0)
        taxii_sign_failed(res);
out:
    taxii_query_free(&tq);
    kz_buf_free(&key);
}

#define FILTERS_ALL                                                                                \
    (TAXII_P_ADDED_AFTER | TAXII_P_LIMIT | TAXII_P_NEXT | TAXII_P_MATCH_ID | TAXII_P_MATCH_TYPE |  \
     TAXII_P_MATCH_VERSION | TAXII_P_MATCH_SPEC_VERSION)

void taxii_get_objects(void *app, struct http_request *req, struct http_response *res)
{
    list(app, req, res, LIST_OBJECTS, FILTERS_ALL, STORE_V_LAST, NULL);
}

void taxii_get_manifest(void *app, struct http_request *req, struct http_response *res)
{
    list(app, req, res, LIST_MANIFEST, FILTERS_ALL, STORE_V_LAST, NULL);
}

void taxii_get_object(void *app, struct http_request *req, struct http_response *res)
{
    list(app, req, res, LIST_OBJECTS,
         TAXII_P_ADDED_AFTER | TAXII_P_LIMIT | TAXII_P_NEXT | TAXII_P_MATCH_VERSION |
                 TAXII_P_MATCH_SPEC_VERSION,
         STORE_V_LAST, http_request_capture(req, 2));
}

void taxii_get_versions(void *app, struct http_request *req, struct http_response *res)
{
    list(app, req, res, LIST_VERSIONS,
         TAXII_P_ADDED_AFTER | TAXII_P_LIMIT | TAXII_P_NEXT | TAXII_P_MATCH_SPEC_VERSION,
         STORE_V_ALL, http_request_capture(req, 2));
}

/* What a DELETE may remove: the versions the reader can see. */
struct doomed {
    int64_t times[STORE_MAX_FILTER_VALUES];
    char texts[STORE_MAX_FILTER_VALUES][64];
    const char *ptrs[STORE_MAX_FILTER_VALUES];
    unsigned n;
    int too_many;
    struct kz_buf last_raw;
};

static int on_doomed(void *ctx, const struct store_row *r, struct kz_error *err)
{
    struct doomed *d = ctx;

    (void)err;
    if (d->n >= STORE_MAX_FILTER_VALUES) {
        d->too_many = 1;
        return 0;
    }
    d->times[d->n] = r->version_us;
    snprintf(d->texts[d->n], sizeof(d->texts[0]), "%s", r->version);
    d->ptrs[d->n] = d->texts[d->n];
    d->n++;
    kz_buf_reset(&d->last_raw);
    kz_buf_add(&d->last_raw, r->raw, r->rawlen);
    return 0;
}

/* Stores the tombstone of a deletion in the same transaction, so that the
 * deletion reaches peers (docs/FEDERATION.md). */
static int store_tombstone(struct taxii_server *t, struct taxii_req *q, struct store *s,
                           const struct doomed *d, struct kz_error *err)
{
    struct kz_buf json;
    struct kzj_doc doc;
    struct stix_obj o;
    struct store_put_meta meta;
    struct policy_resolved resolved;
    enum store_put_result res;
    int64_t added;
    int rc = -1;

    kz_buf_init(&json, KZ_MAX_OBJECT_BYTES);
    kzj_doc_init(&doc);
    if (tombstone_build(d->last_raw.data, d->last_raw.len, d->ptrs, d->n, &json, err) < 0 ||
        kzj_parse(&doc, json.data, json.len, err) < 0 || stix_obj_read(&doc, 0, &o, err) < 0)
        goto out;
    memset(&meta, 0, sizeof(meta));
    memset(&resolved, 0, sizeof(resolved));
    if (policy_submitted(s, t->cfg->name, &o, q->user.org, &resolved, &meta, err) < 0)
        goto out;
    rc = store_put(s, q->coll.key, &o, json.data, json.len, &meta, &res, &added, err);
out:
    kzj_doc_free(&doc);
    kz_buf_free(&json);
    return rc;
}

void taxii_delete_object(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_server *t = app;
    struct taxii_req *q = state(req);
    const char *id = http_request_capture(req, 2);
    struct taxii_query tq;
    struct store_filter visible;
    struct store_page page;
    struct kz_error err;
    struct store *s;
    const struct http_param *params;
    struct doomed d;
    uint64_t deleted = 0;
    int n;

    memset(&d, 0, sizeof(d));
    kz_buf_init(&d.last_raw, KZ_MAX_OBJECT_BYTES);
    kz_error_clear(&err);
    params = http_request_params(req, &n);
    if (taxii_query_parse(params, n, TAXII_P_MATCH_VERSION | TAXII_P_MATCH_SPEC_VERSION,
                          STORE_V_ALL, t->cursor_key, &tq, &err) < 0) {
        taxii_error_from(res, &err);
        kz_buf_free(&d.last_raw);
        return;
    }
    s = taxii_writer_lock(t);
    /* one deletes only the versions one may see; seeing none is a 404, as
     * for an object that does not exist */
    visible = tq.filter;
    visible.collection = q->coll.key;
    visible.ids[0] = id;
    visible.nids = 1;
    visible.limit = 0;
    policy_filter(&q->view, &visible);
    if (store_begin(s, &err) < 0)
        goto fail;
    if (store_list(s, &visible, 1, on_doomed, &d, &page, &err) < 0)
        goto fail;
    if (d.too_many) {
        store_rollback(s);
        taxii_error(res, 413, "Too many versions",
                    "delete at most 64 versions at a time (use match[version])");
        goto out;
    }
    if (page.count == 0) {
        store_rollback(s);
        taxii_error(res, 404, "Not found", "no such object in this collection");
        goto out;
    }
    /* the reader sees it, so a refusal (403) tells nothing */
    if (policy_check_change(s, &q->view, q->user.role, id, NULL, &err) < 0)
        goto fail;
    store_filter_init(&visible, q->coll.key);
    memcpy(visible.version_times, d.times, d.n * sizeof(d.times[0]));
    visible.nversion_times = d.n;
    /* the tombstone names the versions deleted, never "all": whether
     * others remain that the reader may not see is not its to tell */
    if (store_delete(s, q->coll.key, id, &visible, &deleted, &err) < 0 ||
        store_tombstone(t, q, s, &d, &err) < 0 || store_commit(s, &err) < 0)
        goto fail;
    taxii_epoch_bump(t);
    if (taxii_audit(t, req, "delete", deleted, NULL) < 0)
        taxii_audit_failed(req, res);
    else
        taxii_ok(res, 200);
    goto out;
fail:
    store_rollback(s);
    taxii_error_from(res, &err);
out:
    taxii_writer_unlock(t);
    taxii_query_free(&tq);
    kz_buf_free(&d.last_raw);
}

/* --- adding objects and the status resource ------------------------------ */

struct post_ctx {
    struct taxii_server *t;
    struct taxii_req *q;
    struct http_response *res; /* its body becomes the status resource */
    struct store *s;
    struct kz_buf successes, failures;
    size_t nsucc, nfail;
    struct policy_resolved resolved;
    struct policy_owners owners; /* of the batch ingest is deciding */
    uint64_t markings[STIX_TLP_RED + 1];
    int64_t origin; /* the peer whose account posts, 0 for a local user */
};

static void status_item(struct kz_buf *b, size_t *n, const char *id, const char *version,
                        const char *message)
{
    kz_buf_addstr(b, (*n)++ ? ",{" : "{");
    kz_buf_addstr(b, "\"id\":\"");
    kz_buf_add_json_escaped(b, id, strlen(id));
    kz_buf_addc(b, '"');
    if (version && version[0]) {
        kz_buf_addstr(b, ",\"version\":\"");
        kz_buf_add_json_escaped(b, version, strlen(version));
        kz_buf_addc(b, '"');
    }
    if (message && message[0]) {
        kz_buf_addstr(b, ",\"message\":\"");
        kz_buf_add_json_escaped(b, message, strlen(message));
        kz_buf_addc(b, '"');
    }
    kz_buf_addc(b, '}');
}

static void on_report(void *ctx, const struct ingest_report *r)
{
    struct post_ctx *p = ctx;
    char msg[1400], id[64];

    if (r->outcome == INGEST_REJECTED) {
        /* an object without an id still gets a failure entry */
        snprintf(id, sizeof(id), "objects[%zu]", r->index);
        kz_error_format(r->why, msg, sizeof(msg));
        status_item(&p->failures, &p->nfail, r->id[0] ? r->id : id, r->version, msg);
    } else {
        /* a duplicate is a success like any other: saying "already stored"
         * would tell of an object the poster may not be allowed to see */
        status_item(&p->successes, &p->nsucc, r->id, r->version, NULL);
    }
}

static int prefetch(void *ctx, const struct stix_obj *const *objs, unsigned n, struct kz_error *err)
{
    struct post_ctx *p = ctx;

    return policy_owners_fetch(p->s, &p->q->view, objs, n, &p->owners, err);
}

static int allow(void *ctx, const struct stix_obj *o, struct kz_error *why)
{
    struct post_ctx *p = ctx;

    if (policy_check_write(&p->q->view, &p->q->user, o, why) < 0)
        return -1;
    return policy_check_change_fetched(p->s, &p->owners, &p->q->view, p->q->user.role, o, why);
}

static int meta(void *ctx, const struct stix_obj *o, struct store_put_meta *m, struct kz_error *why)
{
    struct post_ctx *p = ctx;

    if (policy_submitted(p->s, p->t->cfg->name, o, p->q->user.org, &p->resolved, m, why) < 0)
        return -1;
    p->markings[o->tlp]++;
    m->origin = p->origin;
    return 0;
}

/* The status resource of a request whose objects ingest has just stored. */
static int status_body(struct post_ctx *p, struct kz_buf *b, const char *id, const char *when)
{
    kz_buf_printf(b,
                  "{\"id\":\"%s\",\"status\":\"complete\",\"request_timestamp\":\"%s\","
                  "\"total_count\":%zu,\"success_count\":%zu",
                  id, when, p->nsucc + p->nfail, p->nsucc);
    if (p->nsucc) {
        kz_buf_addstr(b, ",\"successes\":[");
        kz_buf_add(b, p->successes.data, p->successes.len);
        kz_buf_addc(b, ']');
    }
    kz_buf_printf(b, ",\"failure_count\":%zu", p->nfail);
    if (p->nfail) {
        kz_buf_addstr(b, ",\"failures\":[");
        kz_buf_add(b, p->failures.data, p->failures.len);
        kz_buf_addc(b, ']');
    }
    kz_buf_addstr(b, ",\"pending_count\":0}");
    return b->failed || p->successes.failed || p->failures.failed ? -1 : 0;
}

/* Called by ingest before its commit: the status resource lands with the
 * objects it tells of, in the same transaction. */
static int post_status(void *ctx, const struct stix_container *info, struct kz_error *err)
{
    struct post_ctx *p = ctx;
    struct kz_buf *b = &p->res->body;
    char id[KZ_UUID_LEN], when[KZ_TS_MICROS_LEN];
    int64_t now = kz_now_micros();

    (void)info;
    kz_uuid_v4(id);
    kz_ts_format_micros(now, when);
    if (status_body(p, b, id, when) < 0)
        return kz_error_set(err, KZ_ENOMEM, "the status resource could not be built");
    return store_status_put(p->s, id, p->q->root.name, p->q->user.key, now, b->data, b->len, err);
}

void taxii_post_objects(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_server *t = app;
    struct post_ctx p = {.t = t, .q = state(req), .res = res};
    struct ingest_opts opts = {.name = "request",
                               .report = on_report,
                               .report_ctx = &p,
                               .allow = allow,
                               .allow_ctx = &p,
                               .prefetch = prefetch,
                               .prefetch_ctx = &p,
                               .meta = meta,
                               .meta_ctx = &p,
                               .before_commit = post_status,
                               .commit_ctx = &p};
    struct ingest_counts counts;
    struct store_filter scope;
    struct store_peer peer;
    struct kz_error err;
    const char *body;
    size_t len;
    int rc;

    kz_error_clear(&err);
    body = http_request_body(req, &len);
    if (!body || len == 0) {
        taxii_error(res, 400, "Bad request", "the request has no body");
        return;
    }
    kz_buf_init(&p.successes, (size_t)1 << 30);
    kz_buf_init(&p.failures, (size_t)1 << 30);
    p.s = taxii_writer_lock(t);
    /* a tombstone deletes what its poster may see, and a peer's also what
     * came from that peer (its account is named after its node, and what it
     * posts is recorded as coming from it) */
    store_filter_init(&scope, p.q->coll.key);
    policy_filter(&p.q->view, &scope);
    opts.delete_vis = &scope.vis;
    if (p.q->user.role == AUTH_ROLE_PEER && store_peer_find(p.s, p.q->user.name, &peer, &err) == 0)
        opts.delete_origin = p.origin = peer.key;
    kz_error_clear(&err);
    rc = ingest_buffer(p.s, p.q->coll.key, body, len, &opts, &counts, &err);
    taxii_writer_unlock(t);
    if (rc < 0) {
        taxii_error_from(res, &err);
    } else {
        taxii_epoch_bump(t);
        if (taxii_audit(t, req, "write", counts.added, p.markings) < 0)
            taxii_audit_failed(req, res);
        else
            taxii_ok(res, 202);
    }
    kz_buf_free(&p.successes);
    kz_buf_free(&p.failures);
}

void taxii_get_status(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_req *q = state(req);
    const char *id = http_request_capture(req, 1);
    char root[KZ_MAX_NAME + 1];
    struct kz_error err;
    struct store *s;
    int64_t user;
    char *json = NULL;
    size_t len;

    (void)app;
    kz_error_clear(&err);
    s = taxii_req_store(req);
    if (!kz_uuid_valid(id, strlen(id)) ||
        store_status_get(s, id, root, sizeof(root), &user, &json, &len, &err) < 0 ||
        strcmp(root, q->root.name) != 0 ||
        (user != q->user.key && q->user.role != AUTH_ROLE_NODE_ADMIN)) {
        /* someone else's status is as absent as one that never existed */
        if (err.code && err.code != KZ_ENOTFOUND)
            taxii_error_from(res, &err);
        else
            taxii_error(res, 404, "Not found", "no such status resource");
        free(json);
        return;
    }
    taxii_ok(res, 200);
    kz_buf_add(&res->body, json, len);
    free(json);
}
