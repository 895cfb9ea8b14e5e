/*
 * GET /{root}/kizuna/audit-head/?seen=SEQ&nonce=N: the node's audit log head,
 * signed with the node's key, for partner nodes to keep (docs/FEDERATION.md,
 * "Audit heads"). The answer names the last row and its hash, and the hash
 * of row SEQ (the head the asking partner saw last), so the partner can tell
 * whether the log still extends what it saw; the signature covers the
 * request target, nonce included, so an old answer cannot be replayed.
 */
#include "taxii/taxii_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/limits.h"

static int nonce_ok(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && n <= TAXII_AUDIT_NONCE_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

/* The query: seen (a row number, default 0) and nonce (optional). */
static int parse(struct http_request *req, int64_t *seen)
{
    const struct http_param *p;
    int n;

    *seen = 0;
    p = http_request_params(req, &n);
    for (int i = 0; i < n; i++) {
        if (strcmp(p[i].key, "seen") == 0) {
            char *end;
            long long v = strtoll(p[i].value, &end, 10);
            if (!p[i].value[0] || *end || v < 0)
                return -1;
            *seen = v;
        } else if (strcmp(p[i].key, "nonce") != 0 || !nonce_ok(p[i].value)) {
            return -1;
        }
    }
    return 0;
}

void taxii_get_audit_head(void *app, struct http_request *req, struct http_response *res)
{
    struct taxii_server *t = app;
    struct taxii_req *q = http_request_data(req);
    char hash[2 * STORE_AUDIT_HASH_LEN + 1], seen_hash[2 * STORE_AUDIT_HASH_LEN + 1];
    char signature[SIGN_TEXT_MAX + 8];
    struct audit_head h;
    struct kz_error err;
    const char *nonce;
    int64_t seen;

    if (!policy_may_read_audit_head(&q->user)) {
        taxii_error(res, 403, "Forbidden", "only partner nodes and node admins read this");
        return;
    }
    if (parse(req, &seen) < 0) {
        taxii_error(res, 400, "Bad request",
                    "the parameters are seen (a row number) and nonce (1-64 letters, digits, "
                    "'-' or '_')");
        return;
    }
    kz_error_clear(&err);
    if (audit_head(t->audit, seen, &h, &err) < 0) {
        taxii_error_from(res, &err);
        return;
    }
    sodium_bin2hex(hash, sizeof(hash), h.hash, sizeof(h.hash));
    sodium_bin2hex(seen_hash, sizeof(seen_hash), h.seen_hash, sizeof(h.seen_hash));
    taxii_ok(res, 200);
    kz_buf_addstr(&res->body, "{\"node\":\"");
    kz_buf_add_json_escaped(&res->body, t->cfg->name, strlen(t->cfg->name));
    kz_buf_printf(&res->body, "\",\"seq\":%lld,\"hash\":\"%s\",\"seen\":{\"seq\":%lld,\"hash\":",
                  (long long)h.seq, hash, (long long)h.seen_seq);
    if (h.seen_found)
        kz_buf_printf(&res->body, "\"%s\"}}", seen_hash);
    else
        kz_buf_addstr(&res->body, "null}}");
    /* always signed: an unsigned head proves nothing. A partner that sends
     * a nonce of its own gets the v2 signature its sync verifies; otherwise
     * v1, which the nonce in the query keeps fresh */
    if (taxii_signature_wanted(req, &nonce) == 2) {
        if (taxii_sign_page_v2(t, req, res, nonce) < 0)
            taxii_sign_failed(res);
        return;
    }
    if (taxii_sign_page_v1(t, req, res, signature) < 0)
        taxii_sign_failed(res);
}
