/*
 * The account API beside TAXII, under /kizuna/admin/ (application/json):
 * node admins manage every user and token; org admins manage the users of
 * their own organisation and their tokens, remotely, without the node's
 * home folder. Nobody else may use it. Bodies are small JSON documents
 * read with jansson.
 *
 *   GET    /kizuna/admin/users/                   the users one may manage
 *   POST   /kizuna/admin/users/                   {"name", "role", "org"?}
 *   GET    /kizuna/admin/users/{name}/tokens/     a user's token ids
 *   POST   /kizuna/admin/users/{name}/tokens/     a new token, shown once
 *   DELETE /kizuna/admin/tokens/{id}/             revoke a token
 */
#include "taxii/taxii_int.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/token.h"
#include "util/kztime.h"

#define JSON_TYPE "application/json"

static void json_error(struct http_response *res, int status, const char *msg)
{
    json_t *j = json_pack("{s:s, s:i}", "error", msg, "http_status", status);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

    kz_buf_reset(&res->body);
    res->status = status;
    res->content_type = JSON_TYPE;
    if (text)
        kz_buf_addstr(&res->body, text);
    free(text);
    json_decref(j);
}

static void json_reply(struct http_response *res, int status, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);

    res->status = status;
    res->content_type = JSON_TYPE;
    if (text)
        kz_buf_addstr(&res->body, text);
    else
        json_error(res, 500, "the answer could not be built");
    free(text);
}

/* Whether the caller may manage users of organisation org. */
static int may_manage(const struct auth_user *u, int64_t org)
{
    return u->role == AUTH_ROLE_NODE_ADMIN || (u->role == AUTH_ROLE_ORG_ADMIN && u->org == org);
}

static int is_admin(const struct auth_user *u)
{
    return u->role == AUTH_ROLE_NODE_ADMIN || u->role == AUTH_ROLE_ORG_ADMIN;
}

/* The user named by capture i, if the caller may manage it (else an error
 * answer: 404 for users of other organisations, as if they did not exist). */
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
    if (store_user_find(s, http_request_capture(req, i), out, &err) < 0 ||
        !may_manage(&q->user, out->org)) {
        json_error(res, 404, "no such user");
        return -1;
    }
    return 0;
}

struct users_ctx {
    const struct auth_user *caller;
    json_t *list;
};

static int add_user(void *ctx, const struct store_user *u)
{
    struct users_ctx *c = ctx;

    if (may_manage(c->caller, u->org))
        json_array_append_new(c->list, json_pack("{s:s, s:s, s:s}", "name", u->name, "org",
                                                 u->org_name, "role", u->role));
    return 0;
}

void taxii_admin_users(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_server *t = app;
    struct taxii_req *q = http_request_data(req);
    struct users_ctx c = {.caller = &q->user, .list = json_array()};
    struct kz_error err;
    struct store *s = taxii_store(t, &err);
    json_t *j;

    if (!s || store_user_each(s, add_user, &c, &err) < 0) {
        json_decref(c.list);
        json_error(res, 503, "the store is not available");
        return;
    }
    j = json_pack("{s:o}", "users", c.list);
    if (taxii_audit_change(t, req, "user-list", http_request_target(req)) < 0)
        json_error(res, 503, "the request could not be recorded in the audit log");
    else
        json_reply(res, 200, j);
    json_decref(j);
}

static int role_allowed(const struct auth_user *caller, enum auth_role r)
{
    if (r == AUTH_ROLE_NONE)
        return 0;
    if (caller->role == AUTH_ROLE_NODE_ADMIN)
        return 1;
    /* org admins make readers, contributors and fellow org admins */
    return r == AUTH_ROLE_READER || r == AUTH_ROLE_CONTRIBUTOR || r == AUTH_ROLE_ORG_ADMIN;
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
    struct store_user u;
    struct store_org org;
    struct kz_error err;
    const char *body, *name = NULL, *role = "reader", *org_name = NULL;
    size_t len;
    json_error_t jerr;
    json_t *in, *out;
    struct store *s = taxii_store(t, &err);

    body = http_request_body(req, &len);
    in = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!s) {
        json_error(res, 503, "the store is not available");
        goto out;
    }
    if (!in || json_unpack_ex(in, &jerr, 0, "{s:s, s?s, s?s}", "name", &name, "role", &role, "org",
                              &org_name) < 0) {
        json_error(res, 400, "send {\"name\": ..., \"role\": ..., \"org\": ... (node admins)}");
        goto out;
    }
    memset(&u, 0, sizeof(u));
    if (strlen(name) == 0 || strlen(name) > KZ_MAX_NAME ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
                strlen(name)) {
        json_error(res, 400, "a user name is 1-128 letters, digits, '-', '_' or '.'");
        goto out;
    }
    if (!role_allowed(&q->user, auth_role_parse(role))) {
        json_error(res, 403, "you may not give that role");
        goto out;
    }
    if (org_name && q->user.role != AUTH_ROLE_NODE_ADMIN && strcmp(org_name, q->user.org_name)) {
        json_error(res, 403, "org admins add users to their own organisation only");
        goto out;
    }
    if (store_org_find(s, org_name ? org_name : q->user.org_name, &org, &err) < 0) {
        json_error(res, 404, "no such organisation");
        goto out;
    }
    snprintf(u.name, sizeof(u.name), "%s", name);
    snprintf(u.role, sizeof(u.role), "%s", role);
    u.org = org.key;
    if (store_user_add(s, &u, &err) < 0) {
        json_error(res, err.code == KZ_EEXISTS ? 409 : 503, err.text);
        goto out;
    }
    out = json_pack("{s:s, s:s, s:s}", "name", u.name, "org", org.name, "role", u.role);
    if (audit_user_add(t, req, &u, org.name) < 0)
        json_error(res, 503, "the user was added but could not be recorded in the audit log");
    else
        json_reply(res, 201, out);
    json_decref(out);
out:
    json_decref(in);
}

struct tokens_ctx {
    json_t *list;
};

static int add_token(void *ctx, const struct store_token *tk)
{
    struct tokens_ctx *c = ctx;
    char made[KZ_TS_MICROS_LEN], gone[KZ_TS_MICROS_LEN] = "";

    kz_ts_format_micros(tk->created_us, made);
    if (tk->revoked_us)
        kz_ts_format_micros(tk->revoked_us, gone);
    json_array_append_new(c->list, json_pack("{s:s, s:s, s:s?}", "id", tk->token_id, "created",
                                             made, "revoked", tk->revoked_us ? gone : NULL));
    return 0;
}

void taxii_admin_tokens(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_server *t = app;
    struct tokens_ctx c = {.list = json_array()};
    struct store_user u;
    struct kz_error err;
    json_t *j;

    if (managed_user(t, req, 0, &u, res) < 0 ||
        store_token_each(taxii_store(t, &err), u.key, add_token, &c, &err) < 0) {
        if (!res->body.len)
            json_error(res, 503, "the store is not available");
        json_decref(c.list);
        return;
    }
    j = json_pack("{s:s, s:o}", "user", u.name, "tokens", c.list);
    if (taxii_audit_change(t, req, "token-list", http_request_target(req)) < 0)
        json_error(res, 503, "the request could not be recorded in the audit log");
    else
        json_reply(res, 200, j);
    json_decref(j);
}

void taxii_admin_add_token(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_server *t = app;
    struct store_user u;
    struct store_token tk;
    struct kz_error err;
    char text[AUTH_TOKEN_MAX];
    json_t *j;

    if (managed_user(t, req, 0, &u, res) < 0)
        return;
    auth_token_generate(u.key, text, &tk);
    if (store_token_add(taxii_store(t, &err), &tk, &err) < 0) {
        json_error(res, 503, "the token could not be stored");
    } else {
        char what[256];
        snprintf(what, sizeof(what), "token=%s user=%s", tk.token_id, u.name);
        j = json_pack("{s:s, s:s, s:s}", "user", u.name, "id", tk.token_id, "token", text);
        if (taxii_audit_change(t, req, "token-create", what) < 0)
            json_error(res, 503,
                       "the token was made but could not be recorded in the audit log; revoke "
                       "it");
        else
            json_reply(res, 201, j);
        json_decref(j);
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
    json_t *j;

    if (!s || store_token_find(s, http_request_capture(req, 0), &tk, &err) < 0 ||
        store_user_get(s, tk.user, &u, &err) < 0 || !may_manage(&q->user, u.org)) {
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
    j = json_pack("{s:s, s:b}", "id", tk.token_id, "revoked", 1);
    json_reply(res, 200, j);
    json_decref(j);
}

int taxii_admin_allowed(const struct auth_user *u)
{
    return is_admin(u);
}
