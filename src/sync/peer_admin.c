/*
 * Registering federation peers (docs/FEDERATION.md): validating what an
 * operator gives for a peer (its URL, its credentials, its links),
 * resolving the local names, sealing the token, storing the peer, replacing
 * its credentials, and checking a peer once before any sync (`peer add
 * --check`, `peer check`): the connection and its TLS, the API root, the
 * credentials and every linked collection. Front ends (the CLI, a
 * declarative file) parse their own syntax into a struct sync_peer_spec and
 * audit the change; nothing here reads argv or prints.
 */
#include "sync/sync_int.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sign/sign.h"
#include "store/store_accounts.h"
#include "store/store_objects.h"
#include "store/store_peers.h"

/* A token goes into an HTTP header: printable ASCII without spaces, so it
 * can neither end the header nor add one. */
static int token_ok(const char *t, struct kz_error *err)
{
    size_t n = strlen(t);

    if (n == 0)
        return kz_error_set(err, KZ_EUSAGE, "the peer's token is empty");
    if (n >= STORE_PEER_TOKEN_MAX - 40)
        return kz_error_set(err, KZ_EUSAGE, "the peer's token is longer than %d characters",
                            STORE_PEER_TOKEN_MAX - 41);
    for (; *t; t++)
        if (*t <= 0x20 || *t >= 0x7f)
            return kz_error_set(err, KZ_EUSAGE,
                                "the peer's token holds a space, a control character or a "
                                "character outside ASCII");
    return 0;
}

/* A Basic user name: printable ASCII, no colon (RFC 7617: the colon ends
 * the user-id). */
static int user_ok(const char *u, struct kz_error *err)
{
    size_t n = strlen(u);

    if (n == 0 || n >= STORE_PEER_USER_MAX)
        return kz_error_set(err, KZ_EUSAGE, "the peer's user name must have 1 to %d characters",
                            STORE_PEER_USER_MAX - 1);
    for (; *u; u++)
        if (*u < 0x20 || *u >= 0x7f || *u == ':')
            return kz_error_set(err, KZ_EUSAGE,
                                "the peer's user name holds a colon, a control character or a "
                                "character outside ASCII");
    return 0;
}

int sync_token_read(const char *path, char *out, size_t cap, struct kz_error *err)
{
    int from_stdin = strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "r");
    size_t n = 0;
    int c, rc = -1;

    if (!f)
        return kz_error_set(err, KZ_EIO, "cannot read the token file %s: %s", path,
                            strerror(errno));
    /* one line; standard input is not read past it (a terminal's user
     * presses Enter, not Ctrl-D) */
    while ((c = getc(f)) != EOF && c != '\n') {
        if (n + 1 >= cap) {
            kz_error_set(err, KZ_EUSAGE, "the token in %s is longer than %zu characters",
                         from_stdin ? "standard input" : path, cap - 1);
            goto out;
        }
        out[n++] = (char)c;
    }
    if (n && out[n - 1] == '\r')
        n--;
    out[n] = '\0';
    if (!from_stdin)
        while ((c = getc(f)) != EOF)
            if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
                kz_error_set(err, KZ_EUSAGE,
                             "the token file %s holds more than one line: give a file with the "
                             "token alone",
                             path);
                goto out;
            }
    if (ferror(f)) {
        kz_error_set(err, KZ_EIO, "cannot read the token file %s", path);
        goto out;
    }
    if (n == 0) {
        kz_error_set(err, KZ_EUSAGE, "the token in %s is empty",
                     from_stdin ? "standard input" : path);
        goto out;
    }
    rc = token_ok(out, err);
out:
    if (!from_stdin)
        fclose(f);
    if (rc < 0)
        sodium_memzero(out, cap);
    return rc;
}

/* --- checking a peer ---------------------------------------------------------- */

struct checker {
    struct peer_client c;
    const char *root; /* the API root URL */
    sync_check_fn fn;
    void *ctx;
    int failed;
};

static void report(struct checker *k, const char *what, int ok, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void report(struct checker *k, const char *what, int ok, const char *fmt, ...)
{
    char detail[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (!ok)
        k->failed++;
    if (k->fn)
        k->fn(k->ctx, what, ok, detail);
}

/* root + rest, with the slash between them once. */
static int root_url(const char *root, const char *rest, char *out, size_t cap)
{
    size_t n = strlen(root);
    int w = snprintf(out, cap, "%s%s%s", root, n && root[n - 1] == '/' ? "" : "/", rest);

    return w < 0 || (size_t)w >= cap ? -1 : 0;
}

/* One GET; 0 with p filled for any answer, -1 (reported as `what`) when
 * the peer could not be reached. */
static int check_get(struct checker *k, const char *what, const char *url, struct peer_response *p)
{
    struct kz_error e;
    const char *hint;

    kz_error_clear(&e);
    if (peer_request(&k->c, "GET", url, NULL, 0, 0, p, &e) == 0)
        return 0;
    hint = p->status >= 500 ? NULL : peer_transport_hint(p->transport);
    report(k, what, 0, "%s%s%s", hint ? hint : "", hint ? ": " : "", e.text);
    return -1;
}

static const char *auth_words(const struct peer_client *c, char *buf, size_t cap)
{
    if (c->user[0])
        snprintf(buf, cap, "HTTP Basic as user %s", c->user);
    else
        snprintf(buf, cap, "Bearer token");
    return buf;
}

/* The connection, the API root and the credentials; -1 when there is no
 * point in going on to the collections. */
static int check_root(struct checker *k)
{
    struct peer_response p;
    struct kz_error e;
    char how[STORE_PEER_USER_MAX + 40];
    json_error_t jerr;
    json_t *j = NULL;
    int https = strncmp(k->root, "https://", 8) == 0, rc = -1;

    kz_buf_init(&p.body, SYNC_MAX_ERROR_BODY);
    if (check_get(k, "connection", k->root, &p) < 0)
        goto out;
    report(k, "connection", 1, "%s",
           https ? "https, the peer's certificate verified" : "plain http to a loopback address");
    kz_error_clear(&e);
    if (p.status == 401 || p.status == 403) {
        peer_status_error(&k->c, "GET", k->root, &p, &e);
        report(k, "authentication", 0, "%s", e.text);
        goto out;
    }
    if (p.status != 200) {
        peer_status_error(&k->c, "GET", k->root, &p, &e);
        report(k, "api root", 0, "%s: the URL must be the peer's API root", e.text);
        goto out;
    }
    j = json_loadb(p.body.data ? p.body.data : "", p.body.len, 0, &jerr);
    if (json_is_object(j) && json_object_get(j, "api_roots") && !json_object_get(j, "versions")) {
        report(k, "api root", 0,
               "the URL is the peer's discovery endpoint: give one of its api_roots instead");
        goto out;
    }
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "title"))) {
        report(k, "api root", 0, "the answer to GET %s is not a TAXII 2.1 API root", k->root);
        goto out;
    }
    report(k, "api root", 1, "\"%.80s\"", json_string_value(json_object_get(j, "title")));
    report(k, "authentication", 1, "accepted (%s)", auth_words(&k->c, how, sizeof(how)));
    rc = 0;
out:
    json_decref(j);
    kz_buf_free(&p.body);
    return rc;
}

/* A linked collection: there, and open to what the link does. */
static void check_link(struct checker *k, int direction, const char *remote)
{
    const char *dir = direction == STORE_LINK_PULL ? "pull" : "push";
    const char *flag = direction == STORE_LINK_PULL ? "can_read" : "can_write";
    struct peer_response p;
    struct kz_error e;
    char what[KZ_MAX_NAME + 80], rest[KZ_MAX_NAME * 3 + 256], url[2048];
    char *esc = peer_escape(remote);
    json_error_t jerr;
    json_t *j = NULL;

    kz_buf_init(&p.body, SYNC_MAX_ERROR_BODY);
    snprintf(what, sizeof(what), "%s %s", dir, remote);
    if (!esc || snprintf(rest, sizeof(rest), "collections/%s/", esc) >= (int)sizeof(rest) ||
        root_url(k->root, rest, url, sizeof(url)) < 0) {
        report(k, what, 0, "the collection's URL is too long");
        goto out;
    }
    if (check_get(k, what, url, &p) < 0)
        goto out;
    kz_error_clear(&e);
    if (p.status == 404) {
        peer_status_error(&k->c, "GET", url, &p, &e);
        report(k, what, 0, "the peer has no collection \"%s\" that this account can see (%s)",
               remote, e.text);
        goto out;
    }
    if (p.status != 200) {
        peer_status_error(&k->c, "GET", url, &p, &e);
        report(k, what, 0, "%s", e.text);
        goto out;
    }
    j = json_loadb(p.body.data ? p.body.data : "", p.body.len, 0, &jerr);
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "id"))) {
        report(k, what, 0, "the answer to GET %s is not a TAXII 2.1 collection", url);
        goto out;
    }
    if (!json_is_true(json_object_get(j, flag))) {
        report(k, what, 0, "the collection exists, but the peer says %s is false for this account",
               flag);
        goto out;
    }
    report(k, what, 1, "collection %.80s \"%.80s\", %s",
           json_string_value(json_object_get(j, "id")),
           json_is_string(json_object_get(j, "title"))
                   ? json_string_value(json_object_get(j, "title"))
                   : "",
           flag);
out:
    json_decref(j);
    free(esc);
    kz_buf_free(&p.body);
}

struct check_link {
    int direction;
    char remote[KZ_MAX_NAME + 64];
};

/* Runs every check; 0 when all passed, -1 (KZ_EINVALID) when one failed. */
static int check_peer(struct checker *k, const struct check_link *links, size_t n,
                      struct kz_error *err)
{
    k->c.once = 1;
    if (check_root(k) == 0)
        for (size_t i = 0; i < n; i++)
            check_link(k, links[i].direction, links[i].remote);
    if (k->failed)
        return kz_error_set(err, KZ_EINVALID, "%d check%s of peer %s failed", k->failed,
                            k->failed == 1 ? "" : "s", k->c.name);
    return 0;
}

/* --- adding a peer ------------------------------------------------------------ */

static int resolve_link(struct store *s, const struct sync_link_spec *ls,
                        struct store_peer_link *out, struct kz_error *err)
{
    struct store_collection c;

    if (ls->direction != STORE_LINK_PULL && ls->direction != STORE_LINK_PUSH)
        return kz_error_set(err, KZ_EUSAGE, "a link is a pull or a push");
    if (!ls->local || !ls->local[0] || !ls->remote || !ls->remote[0] ||
        strlen(ls->remote) >= sizeof(out->remote))
        return kz_error_set(err, KZ_EUSAGE, "a link names a local and a remote collection");
    if (store_collection_find(s, NULL, ls->local, &c, err) < 0)
        return -1;
    memset(out, 0, sizeof(*out));
    out->direction = ls->direction;
    out->local = c.key;
    snprintf(out->remote, sizeof(out->remote), "%s", ls->remote);
    return 0;
}

static int spec_ok(const struct sync_peer_spec *sp, struct store_peer *p, struct kz_error *err)
{
    unsigned char pk[SIGN_PUBLIC_BYTES];

    if (!sp->name || !sp->name[0] || strlen(sp->name) > KZ_MAX_NAME)
        return kz_error_set(err, KZ_EUSAGE, "a peer's name has 1 to %d characters", KZ_MAX_NAME);
    if (!sp->url || strlen(sp->url) >= sizeof(p->url))
        return kz_error_set(err, KZ_EUSAGE, "a peer needs a URL of at most %zu characters",
                            sizeof(p->url) - 1);
    if (sp->ca && strlen(sp->ca) >= sizeof(p->ca))
        return kz_error_set(err, KZ_EUSAGE, "the CA file's path is too long");
    if (sp->key && (strlen(sp->key) >= sizeof(p->public_key) || sign_public_parse(sp->key, pk) < 0))
        return kz_error_set(err, KZ_EUSAGE,
                            "the peer's key must be ed25519:BASE64 (kizuna node key)");
    if (sp->nlinks > SYNC_MAX_LINKS)
        return kz_error_set(err, KZ_EUSAGE, "at most %d links", SYNC_MAX_LINKS);
    if (sp->ncommunities > SYNC_MAX_PEER_COMMUNITIES)
        return kz_error_set(err, KZ_EUSAGE, "at most %d communities", SYNC_MAX_PEER_COMMUNITIES);
    if (!sp->token || token_ok(sp->token, err) < 0)
        return sp->token ? -1 : kz_error_set(err, KZ_EUSAGE, "a peer needs a token");
    if (sp->user && sp->user[0] && user_ok(sp->user, err) < 0)
        return -1;
    if (sync_url_ok(sp->url, err) < 0)
        return -1;
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", sp->name);
    snprintf(p->url, sizeof(p->url), "%s", sp->url);
    snprintf(p->ca, sizeof(p->ca), "%s", sp->ca ? sp->ca : "");
    snprintf(p->public_key, sizeof(p->public_key), "%s", sp->key ? sp->key : "");
    snprintf(p->user, sizeof(p->user), "%s", sp->user ? sp->user : "");
    return 0;
}

static void checker_init(struct checker *k, const struct store_peer *p, const char *token,
                         sync_check_fn fn, void *ctx)
{
    memset(k, 0, sizeof(*k));
    snprintf(k->c.name, sizeof(k->c.name), "%s", p->name);
    snprintf(k->c.token, sizeof(k->c.token), "%s", token);
    snprintf(k->c.user, sizeof(k->c.user), "%s", p->user);
    snprintf(k->c.ca, sizeof(k->c.ca), "%s", p->ca);
    k->root = p->url;
    k->fn = fn;
    k->ctx = ctx;
}

int sync_peer_resolve(struct store *s, const char *signing_key, const struct sync_peer_spec *sp,
                      struct sync_peer_resolved *out, struct kz_error *err)
{
    memset(out, 0, sizeof(*out));
    if (spec_ok(sp, &out->peer, err) < 0)
        goto fail;
    if (sp->org) {
        struct store_org o;
        if (store_org_find(s, sp->org, &o, err) < 0)
            goto fail;
        out->peer.org = o.key;
    }
    for (size_t i = 0; i < sp->ncommunities; i++) {
        struct store_community cm;
        if (store_community_find(s, sp->communities[i], &cm, err) < 0)
            goto fail;
        out->communities[out->ncommunities++] = cm.key;
    }
    for (size_t i = 0; i < sp->nlinks; i++)
        if (resolve_link(s, &sp->links[i], &out->links[out->nlinks++], err) < 0)
            goto fail;
    if (sync_token_seal(signing_key, sp->token, out->peer.token, sizeof(out->peer.token),
                        &out->peer.token_len, err) < 0)
        goto fail;
    return 0;
fail:
    sodium_memzero(out, sizeof(*out));
    return -1;
}

int sync_peer_add(struct node *n, const struct sync_peer_spec *sp, struct kz_error *err)
{
    struct sync_peer_resolved *r = malloc(sizeof(*r));
    struct check_link clinks[SYNC_MAX_LINKS];
    struct checker *k = NULL;
    int rc = -1;

    if (!r)
        return kz_error_set(err, KZ_ENOMEM, "out of memory");
    if (sync_peer_resolve(node_store(n), node_config(n)->signing_key, sp, r, err) < 0)
        goto out;
    for (size_t i = 0; i < r->nlinks; i++) {
        clinks[i].direction = r->links[i].direction;
        snprintf(clinks[i].remote, sizeof(clinks[i].remote), "%s", r->links[i].remote);
    }
    if (sp->check) {
        if (!(k = malloc(sizeof(*k)))) {
            kz_error_set(err, KZ_ENOMEM, "out of memory");
            goto out;
        }
        checker_init(k, &r->peer, sp->token, sp->check, sp->check_ctx);
        if (check_peer(k, clinks, r->nlinks, err) < 0) {
            kz_error_set(err, KZ_EINVALID, "peer %s failed %d check%s: it was not added",
                         r->peer.name, k->failed, k->failed == 1 ? "" : "s");
            goto out;
        }
    }
    if (store_peer_add(node_store(n), &r->peer, r->communities, r->ncommunities, r->links,
                       r->nlinks, err) < 0)
        goto out;
    rc = 0;
out:
    if (k) {
        sodium_memzero(k, sizeof(*k));
        free(k);
    }
    sodium_memzero(r, sizeof(*r));
    free(r);
    return rc;
}

int sync_peer_credentials(struct node *n, const char *name, const char *token, const char *user,
                          struct kz_error *err)
{
    unsigned char sealed[STORE_PEER_TOKEN_MAX];
    size_t len = 0;
    int rc;

    if (!token || token_ok(token, err) < 0)
        return token ? -1 : kz_error_set(err, KZ_EUSAGE, "give the new token");
    if (user && user[0] && user_ok(user, err) < 0)
        return -1;
    if (sync_token_seal(node_config(n)->signing_key, token, sealed, sizeof(sealed), &len, err) < 0)
        return -1;
    rc = store_peer_credentials(node_store(n), name, sealed, len, user, err);
    sodium_memzero(sealed, sizeof(sealed));
    return rc;
}

struct link_collect {
    struct check_link items[SYNC_MAX_LINKS];
    size_t n;
};

static int collect_check_link(void *ctx, const struct store_peer_link *l)
{
    struct link_collect *lc = ctx;

    if (lc->n >= SYNC_MAX_LINKS)
        return STORE_STOP;
    lc->items[lc->n].direction = l->direction;
    snprintf(lc->items[lc->n].remote, sizeof(lc->items[0].remote), "%s", l->remote);
    lc->n++;
    return 0;
}

int sync_peer_check(struct node *n, const char *name, sync_check_fn fn, void *ctx,
                    struct kz_error *err)
{
    struct store_peer *p = calloc(1, sizeof(*p));
    struct link_collect *lc = calloc(1, sizeof(*lc));
    struct checker *k = calloc(1, sizeof(*k));
    char token[STORE_PEER_TOKEN_MAX];
    int rc = -1;

    if (!p || !lc || !k) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        goto out;
    }
    if (store_peer_find(node_store(n), name, p, err) < 0 ||
        store_peer_links(node_store(n), p->key, collect_check_link, lc, err) < 0 ||
        sync_token_open(node_config(n)->signing_key, p->token, p->token_len, token, sizeof(token),
                        err) < 0)
        goto out;
    checker_init(k, p, token, fn, ctx);
    sodium_memzero(token, sizeof(token));
    if (sync_url_ok(p->url, err) < 0) {
        report(k, "connection", 0, "%s", err->text);
        kz_error_set(err, KZ_EINVALID, "1 check of peer %s failed", p->name);
        goto out;
    }
    rc = check_peer(k, lc->items, lc->n, err);
out:
    if (k)
        sodium_memzero(k, sizeof(*k));
    free(k);
    free(lc);
    free(p);
    return rc;
}
