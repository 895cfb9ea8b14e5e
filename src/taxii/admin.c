/*
 * The account API beside TAXII, under /kizuna/admin/ (application/json):
 * node admins manage every user and token; org admins manage the readers,
 * contributors and org admins of their own organisation and their tokens,
 * remotely, without the node's home folder. Nobody else may use it. Who may
 * act on which account is policy/'s decision (policy_may_manage_account,
 * policy_may_grant_role); these handlers only ask. Request bodies are read
 * once, at the edge, with the untrusted-input JSON reader (json/) into a
 * typed struct; answers are written with the same escaping as TAXII's.
 *
 *   GET    /kizuna/admin/users/                   the users one may manage
 *   POST   /kizuna/admin/users/                   {"name", "role"?, "org"?}
 *   GET    /kizuna/admin/users/{name}/tokens/     a user's token ids
 *   POST   /kizuna/admin/users/{name}/tokens/     a new token, shown once
 *   DELETE /kizuna/admin/tokens/{id}/             revoke a token
 *   PATCH  /kizuna/admin/users/{name}/            {"role"?, "disabled"?}
 *   DELETE /kizuna/admin/users/{name}/            remove a user, its tokens, its grants
 *
 * What a change does is admin/'s (admin_user_update, admin_user_remove).
 */
#include "taxii/taxii_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "admin/admin.h"
#include "auth/token.h"
#include "json/json.h"
#include "store/store_accounts.h"
#include "store/store_remove.h"
#include "util/kztime.h"
#include "util/limits.h"

#define JSON_TYPE "application/json"

/* --- answers ---------------------------------------------------------------- */

static void add_str(struct kz_buf *b, const char *s)
{
    kz_buf_addc(b, '"');
    kz_buf_add_json_escaped(b, s, strlen(s));
    kz_buf_addc(b, '"');
}

/* Appends ",\"key\":\"value\"" (without the comma for the first member). */
static void add_member(struct kz_buf *b, const char *key, const char *value, int first)
{
    if (!first)
        kz_buf_addc(b, ',');
    add_str(b, key);
    kz_buf_addc(b, ':');
    add_str(b, value);
}

static void json_error(struct http_response *res, int status, const char *msg)
{
    kz_buf_reset(&res->body);
    res->status = status;
    res->content_type = JSON_TYPE;
    kz_buf_addstr(&res->body, "{\"error\":");
    add_str(&res->body, msg);
    kz_buf_printf(&res->body, ",\"http_status\":%d}", status);
}

/* Starts an answer written into res->body by the caller. */
static struct kz_buf *json_start(struct http_response *res, int status)
{
    kz_buf_reset(&res->body);
    res->status = status;
    res->content_type = JSON_TYPE;
    return &res->body;
}

/* Ends it: a 500 instead when it could not be written whole. */
static void json_end(struct http_response *res)
{
    if (res->body.failed)
        json_error(res, 500, "the answer could not be built");
}

/* --- the request body --------------------------------------------------------- */

/* POST /kizuna/admin/users/, decoded. */
struct new_user {
    char name[KZ_MAX_NAME + 1];
    char role[32];
    char org[KZ_MAX_NAME + 1];
    int has_org; /* else the caller's organisation */
};

/* Reads {"name": S, "role"?: S, "org"?: S} from an untrusted body: one JSON
 * object of strings and no other member, keys and values decoded (escapes
 * included) before anyone looks at them. -1 with *why on anything else. */
static int read_new_user(const char *body, size_t len, struct new_user *out, const char **why)
{
    struct kzj_doc d;
    struct kz_error err;
    char key[8];
    int have_name = 0, rc = -1;

    memset(out, 0, sizeof(*out));
    snprintf(out->role, sizeof(out->role), "reader");
    kzj_doc_init(&d);
    d.max_nodes = KZ_MAX_ADMIN_JSON_NODES;
    d.depth_limit = 1;
    *why = "send one JSON object {\"name\": ..., \"role\": ..., \"org\": ... (node admins)}";
    if (!body || kzj_parse(&d, body, len, &err) < 0 || kzj_type(&d, 0) != KZJ_OBJECT)
        goto out;
    KZJ_FOREACH_MEMBER(&d, 0, k)
    {
        char *dst;
        size_t cap;

        if (kzj_strcpy(&d, k, key, sizeof(key)) < 0) {
            *why = "the body takes only \"name\", \"role\" and \"org\"";
            goto out;
        }
        if (strcmp(key, "name") == 0) {
            dst = out->name;
            cap = sizeof(out->name);
            have_name = 1;
        } else if (strcmp(key, "role") == 0) {
            dst = out->role;
            cap = sizeof(out->role);
        } else if (strcmp(key, "org") == 0) {
            dst = out->org;
            cap = sizeof(out->org);
            out->has_org = 1;
        } else {
            *why = "the body takes only \"name\", \"role\" and \"org\"";
            goto out;
        }
        if (kzj_type(&d, k + 1) != KZJ_STRING || kzj_strcpy(&d, k + 1, dst, cap) < 0) {
            *why = "\"name\", \"role\" and \"org\" are strings of at most 128 bytes, without "
                   "U+0000";
            goto out;
        }
    }
    if (!have_name)
        goto out;
    rc = 0;
out:
    kzj_doc_free(&d);
    return rc;
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && n <= KZ_MAX_NAME &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

/* --- handlers ----------------------------------------------------------------- */

/* The user named by capture i, if the caller may manage it (else an error
 * answer: 404 for accounts the caller may not manage, as if they did not
 * exist, so that names cannot be probed). */
static int managed_user(struct taxii_server *t, struct http_request *req, int i,
                        struct store_user *out, struct http_response *res)
{
    struct taxii_req *q = http_request_data(req);
    struct kz_error err;
    struct store *s = taxii_store(t, &err);

    if (!s) {
        json_error(res, 503, "the store is not available");
        return -1;
    }
    kz_error_clear(&err);
    if (store_user_find(s, http_request_capture(req, i), out, &err) < 0 ||
        !policy_may_manage_account(&q->user, out)) {
        if (err.code && err.code != KZ_ENOTFOUND)
            json_error(res, 503, "the store is not available");
        else
            json_error(res, 404, "no such user");
        return -1;
    }
    return 0;
}

struct users_ctx {
    const struct auth_user *caller;
    struct kz_buf *b;
    int n;
};

static int add_user(void *ctx, const struct store_user *u)
{
    struct users_ctx *c = ctx;

    if (!policy_may_manage_account(c->caller, u))
        return 0;
    kz_buf_addstr(c->b, c->n++ ? ",{" : "{");
    add_member(c->b, "name", u->name, 1);
    add_member(c->b, "org", u->org_name, 0);
    add_member(c->b, "role", u->role, 0);
    kz_buf_printf(c->b, ",\"disabled\":%s}", u->disabled ? "true" : "false");
    return 0;
}

void taxii_admin_users(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_server *t = app;
    struct taxii_req *q = http_request_data(req);
    struct users_ctx c = {.caller = &q->user};
    struct kz_error err;
    struct store *s = taxii_store(t, &err);

    if (!s) {
        json_error(res, 503, "the store is not available");
        return;
    }
    c.b = json_start(res, 200);
    kz_buf_addstr(c.b, "{\"users\":[");
    if (store_user_each(s, add_user, &c, &err) < 0) {
        json_error(res, 503, "the store is not available");
        return;
    }
    kz_buf_addstr(c.b, "]}");
    if (taxii_audit_change(t, req, "user-list", http_request_target(req)) < 0) {
        json_error(res, 503, "the request could not be recorded in the audit log");
        return;
    }
    json_end(res);
}

static int audit_user_add(struct taxii_server *t, struct http_request *req,
                          const struct store_user *u, const char *org)
{
    char what[512];

    snprintf(what, sizeof(what), "user=%s role=%s org=%s", u->name, u->role, org);
    return taxii_audit_change(t, req, "user-add", what);
}

void taxii_admin_add_user(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_server *t = app;
    struct taxii_req *q = http_request_data(req);
    struct new_user in;
    struct store_user u;
    struct store_org org;
    struct kz_error err;
    const char *body, *why;
    struct kz_buf *b;
    size_t len;
    enum auth_role role;
    struct store *s = taxii_store(t, &err);

    if (!s) {
        json_error(res, 503, "the store is not available");
        return;
    }
    body = http_request_body(req, &len);
    if (read_new_user(body, len, &in, &why) < 0) {
        json_error(res, 400, why);
        return;
    }
    if (!name_ok(in.name)) {
        json_error(res, 400, "a user name is 1-128 letters, digits, '-', '_' or '.'");
        return;
    }
    role = auth_role_parse(in.role);
    if (role == AUTH_ROLE_NONE) {
        json_error(res, 400, "role is reader, contributor, org-admin, node-admin or peer");
        return;
    }
    if (!policy_may_grant_role(&q->user, role)) {
        json_error(res, 403, "you may not give that role");
        return;
    }
    /* an organisation that does not exist has key 0: the policy refuses it
     * to org admins like any other's, so they cannot probe names */
    memset(&org, 0, sizeof(org));
    if (store_org_find(s, in.has_org ? in.org : q->user.org_name, &org, &err) < 0) {
        if (err.code != KZ_ENOTFOUND) {
            json_error(res, 503, "the store is not available");
            return;
        }
        memset(&org, 0, sizeof(org));
    }
    memset(&u, 0, sizeof(u));
    snprintf(u.name, sizeof(u.name), "%s", in.name);
    snprintf(u.role, sizeof(u.role), "%s", auth_role_name(role));
    u.org = org.key;
    if (!policy_may_manage_account(&q->user, &u)) {
        json_error(res, 403, "org admins add users to their own organisation only");
        return;
    }
    if (!org.key) {
        json_error(res, 404, "no such organisation");
        return;
    }
    if (store_user_add(s, &u, &err) < 0) {
        json_error(res, err.code == KZ_EEXISTS ? 409 : 503, err.text);
        return;
    }
    if (audit_user_add(t, req, &u, org.name) < 0) {
        json_error(res, 503, "the user was added but could not be recorded in the audit log");
        return;
    }
    b = json_start(res, 201);
    kz_buf_addc(b, '{');
    add_member(b, "name", u.name, 1);
    add_member(b, "org", org.name, 0);
    add_member(b, "role", u.role, 0);
    kz_buf_addc(b, '}');
    json_end(res);
}

struct tokens_ctx {
    struct kz_buf *b;
    int n;
};

static int add_token(void *ctx, const struct store_token *tk)
{
    struct tokens_ctx *c = ctx;
    char made[KZ_TS_MICROS_LEN], gone[KZ_TS_MICROS_LEN];

    kz_ts_format_micros(tk->created_us, made);
    kz_buf_addstr(c->b, c->n++ ? ",{" : "{");
    add_member(c->b, "id", tk->token_id, 1);
    add_member(c->b, "created", made, 0);
    if (tk->revoked_us) {
        kz_ts_format_micros(tk->revoked_us, gone);
        add_member(c->b, "revoked", gone, 0);
    } else {
        kz_buf_addstr(c->b, ",\"revoked\":null");
    }
    kz_buf_addc(c->b, '}');
    return 0;
}

void taxii_admin_tokens(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_server *t = app;
    struct tokens_ctx c = {0};
    struct store_user u;
    struct kz_error err;

    if (managed_user(t, req, 0, &u, res) < 0)
        return;
    c.b = json_start(res, 200);
    kz_buf_addc(c.b, '{');
    add_member(c.b, "user", u.name, 1);
    kz_buf_addstr(c.b, ",\"tokens\":[");
    if (store_token_each(taxii_store(t, &err), u.key, add_token, &c, &err) < 0) {
        json_error(res, 503, "the store is not available");
        return;
    }
    kz_buf_addstr(c.b, "]}");
    if (taxii_audit_change(t, req, "token-list", http_request_target(req)) < 0) {
        json_error(res, 503, "the request could not be recorded in the audit log");
        return;
    }
    json_end(res);
}

void taxii_admin_add_token(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_server *t = app;
    struct store_user u;
    struct store_token tk;
    struct kz_error err;
    char text[AUTH_TOKEN_MAX];
    struct kz_buf *b;

    if (managed_user(t, req, 0, &u, res) < 0)
        return;
    auth_token_generate(u.key, text, &tk);
    if (store_token_add(taxii_store(t, &err), &tk, &err) < 0) {
        json_error(res, 503, "the token could not be stored");
    } else {
        char what[256];
        snprintf(what, sizeof(what), "token=%s user=%s", tk.token_id, u.name);
        if (taxii_audit_change(t, req, "token-create", what) < 0) {
            json_error(res, 503,
                       "the token was made but could not be recorded in the audit log; revoke "
                       "it");
        } else {
            b = json_start(res, 201);
            kz_buf_addc(b, '{');
            add_member(b, "user", u.name, 1);
            add_member(b, "id", tk.token_id, 0);
            add_member(b, "token", text, 0);
            kz_buf_addc(b, '}');
            json_end(res);
        }
    }
    sodium_memzero(text, sizeof(text));
}

void taxii_admin_revoke(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_server *t = app;
    struct taxii_req *q = http_request_data(req);
    struct store_token tk;
    struct store_user u;
    struct kz_error err;
    struct store *s = taxii_store(t, &err);
    struct kz_buf *b;

    if (!s) {
        json_error(res, 503, "the store is not available");
        return;
    }
    kz_error_clear(&err);
    if (store_token_find(s, http_request_capture(req, 0), &tk, &err) < 0 ||
        store_user_get(s, tk.user, &u, &err) < 0 || !policy_may_manage_account(&q->user, &u)) {
        if (err.code && err.code != KZ_ENOTFOUND)
            json_error(res, 503, "the store is not available");
        else
            json_error(res, 404, "no such token");
        return;
    }
    if (store_token_revoke(s, tk.token_id, &err) < 0) {
        json_error(res, err.code == KZ_ENOTFOUND ? 409 : 503,
                   err.code == KZ_ENOTFOUND ? "already revoked" : "the store is not available");
        return;
    }
    taxii_epoch_bump(t);
    {
        char what[256];
        snprintf(what, sizeof(what), "token=%s user=%s", tk.token_id, u.name);
        if (taxii_audit_change(t, req, "token-revoke", what) < 0) {
            json_error(res, 503,
                       "the token was revoked but could not be recorded in the audit log");
            return;
        }
    }
    b = json_start(res, 200);
    kz_buf_addc(b, '{');
    add_member(b, "id", tk.token_id, 1);
    kz_buf_addstr(b, ",\"revoked\":true}");
    json_end(res);
}

int taxii_admin_allowed(const struct auth_user *u)
{
    return policy_is_account_admin(u);
}

/* PATCH /kizuna/admin/users/{name}/, decoded. */
struct user_change {
    char role[32];
    int has_role;
    int disabled; /* -1: not given */
};

/* Reads {"role"?: S, "disabled"?: true|false} from an untrusted body, at
 * least one of them, keys and values decoded before use. -1 with *why. */
static int read_user_change(const char *body, size_t len, struct user_change *out, const char **why)
{
    struct kzj_doc d;
    struct kz_error err;
    char key[16];
    int rc = -1;

    memset(out, 0, sizeof(*out));
    out->disabled = -1;
    kzj_doc_init(&d);
    d.max_nodes = KZ_MAX_ADMIN_JSON_NODES;
    d.depth_limit = 1;
    *why = "send one JSON object {\"role\": ..., \"disabled\": true|false}";
    if (!body || kzj_parse(&d, body, len, &err) < 0 || kzj_type(&d, 0) != KZJ_OBJECT)
        goto out;
    KZJ_FOREACH_MEMBER(&d, 0, k)
    {
        int vt = kzj_type(&d, k + 1);
        if (kzj_strcpy(&d, k, key, sizeof(key)) < 0) {
            *why = "the body takes only \"role\" and \"disabled\"";
            goto out;
        }
        if (strcmp(key, "role") == 0) {
            if (vt != KZJ_STRING || kzj_strcpy(&d, k + 1, out->role, sizeof(out->role)) < 0) {
                *why = "\"role\" is a string";
                goto out;
            }
            out->has_role = 1;
        } else if (strcmp(key, "disabled") == 0) {
            if (vt != KZJ_TRUE && vt != KZJ_FALSE) {
                *why = "\"disabled\" is true or false";
                goto out;
            }
            out->disabled = vt == KZJ_TRUE;
        } else {
            *why = "the body takes only \"role\" and \"disabled\"";
            goto out;
        }
    }
    if (!out->has_role && out->disabled < 0)
        goto out;
    rc = 0;
out:
    kzj_doc_free(&d);
    return rc;
}

/* The answer for an admin/ failure: 404 for what one may not manage (as
 * admin/ reports it), 403 for a role one may not give. */
static void admin_error(struct http_response *res, const struct kz_error *err)
{
    switch (err->code) {
    case KZ_ENOTFOUND: json_error(res, 404, "no such user"); return;
    case KZ_EDENIED: json_error(res, 403, "you may not give that role"); return;
    case KZ_EUSAGE:
        json_error(res, 400, "role is reader, contributor, org-admin, node-admin or peer");
        return;
    default: json_error(res, 503, "the store is not available"); return;
    }
}

void taxii_admin_change_user(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_server *t = app;
    struct taxii_req *q = http_request_data(req);
    struct user_change in;
    struct store_user u;
    struct kz_error err;
    const char *body, *why;
    struct kz_buf *b;
    char what[512];
    size_t len;
    int changed;
    struct store *s = taxii_store(t, &err);

    if (!s) {
        json_error(res, 503, "the store is not available");
        return;
    }
    body = http_request_body(req, &len);
    if (read_user_change(body, len, &in, &why) < 0) {
        json_error(res, 400, why);
        return;
    }
    kz_error_clear(&err);
    if (admin_user_update(s, &q->user, http_request_capture(req, 0), in.has_role ? in.role : NULL,
                          in.disabled, &u, &changed, &err) < 0) {
        admin_error(res, &err);
        return;
    }
    /* from the next request on, not after the cache's second */
    auth_cache_flush(t->auth);
    taxii_epoch_bump(t);
    snprintf(what, sizeof(what), "user=%s role=%s disabled=%d", u.name, u.role, u.disabled);
    if (taxii_audit_change(t, req, "user-change", what) < 0) {
        json_error(res, 503, "the user was changed but could not be recorded in the audit log");
        return;
    }
    b = json_start(res, 200);
    kz_buf_addc(b, '{');
    add_member(b, "name", u.name, 1);
    add_member(b, "org", u.org_name, 0);
    add_member(b, "role", u.role, 0);
    kz_buf_printf(b, ",\"disabled\":%s}", u.disabled ? "true" : "false");
    json_end(res);
}

void taxii_admin_remove_user(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_server *t = app;
    struct taxii_req *q = http_request_data(req);
    struct store_refs refs;
    struct store_user u;
    struct kz_error err;
    struct kz_buf *b;
    char what[512];
    struct store *s = taxii_store(t, &err);

    if (!s) {
        json_error(res, 503, "the store is not available");
        return;
    }
    kz_error_clear(&err);
    if (admin_user_remove(s, &q->user, http_request_capture(req, 0), &u, &refs, &err) < 0) {
        admin_error(res, &err);
        return;
    }
    auth_cache_flush(t->auth);
    taxii_epoch_bump(t);
    snprintf(what, sizeof(what), "user=%s org=%s tokens=%llu", u.name, u.org_name,
             (unsigned long long)refs.tokens);
    if (taxii_audit_change(t, req, "user-remove", what) < 0) {
        json_error(res, 503, "the user was removed but could not be recorded in the audit log");
        return;
    }
    b = json_start(res, 200);
    kz_buf_addc(b, '{');
    add_member(b, "name", u.name, 1);
    kz_buf_addstr(b, ",\"removed\":true}");
    json_end(res);
}
