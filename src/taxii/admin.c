/*
 * The account API beside TAXII, under /kizuna/admin/ (application/json):
 * node admins manage every user and token; org admins manage the readers,
 * contributors and org admins of their own organisation and their tokens,
 * remotely, without the node's home folder. Nobody else may use it. Who may
 * act on which account is policy/'s decision (policy_may_manage_account,
 * policy_may_grant_role); these handlers only ask. Bodies are small JSON
 * documents read with jansson.
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
    if (store_user_find(s, http_request_capture(req, i), out, &err) < 0 ||
        !policy_may_manage_account(&q->user, out)) {
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

    if (policy_may_manage_account(c->caller, u))
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
    json_reply(res, 200, j);
    json_decref(j);
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
    if (auth_role_parse(role) == AUTH_ROLE_NONE) {
        json_error(res, 400, "role is reader, contributor, org-admin, node-admin or peer");
        goto out;
    }
    if (!policy_may_grant_role(&q->user, auth_role_parse(role))) {
        json_error(res, 403, "you may not give that role");
        goto out;
    }
    /* an organisation that does not exist has key 0: the policy refuses it
     * to org admins like any other's, so they cannot probe names */
    memset(&org, 0, sizeof(org));
    if (store_org_find(s, org_name ? org_name : q->user.org_name, &org, &err) < 0) {
        if (err.code != KZ_ENOTFOUND) {
            json_error(res, 503, "the store is not available");
            goto out;
        }
        memset(&org, 0, sizeof(org));
    }
    snprintf(u.name, sizeof(u.name), "%s", name);
    snprintf(u.role, sizeof(u.role), "%s", role);
    u.org = org.key;
    if (!policy_may_manage_account(&q->user, &u)) {
        json_error(res, 403, "org admins add users to their own organisation only");
        goto out;
    }
    if (!org.key) {
        json_error(res, 404, "no such organisation");
        goto out;
    }
    if (store_user_add(s, &u, &err) < 0) {
        json_error(res, err.code == KZ_EEXISTS ? 409 : 503, err.text);
        goto out;
    }
    out = json_pack("{s:s, s:s, s:s}", "name", u.name, "org", org.name, "role", u.role);
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
        j = json_pack("{s:s, s:s, s:s}", "user", u.name, "id", tk.token_id, "token", text);
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
        store_user_get(s, tk.user, &u, &err) < 0 || !policy_may_manage_account(&q->user, &u)) {
        json_error(res, 404, "no such token");
        return;
    }
    if (store_token_revoke(s, tk.token_id, &err) < 0) {
        json_error(res, err.code == KZ_ENOTFOUND ? 409 : 503,
                   err.code == KZ_ENOTFOUND ? "already revoked" : "the store is not available");
        return;
    }
    taxii_epoch_bump(t);
    j = json_pack("{s:s, s:b}", "id", tk.token_id, "revoked", 1);
    json_reply(res, 200, j);
    json_decref(j);
}

int taxii_admin_allowed(const struct auth_user *u)
{
    return policy_is_account_admin(u);
}
