/*
 * Credential checks and their cache. The cache is direct-mapped on the
 * token id and guarded by one mutex held only for copying a slot; the store
 * is read outside the lock. Negative answers (unknown id) are cached too,
 * so a client spraying random tokens costs one query per id per second.
 */
#include "auth/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/token.h"
#include "store/store_accounts.h"
#include "util/kztime.h"

struct slot {
    char token_id[STORE_TOKEN_ID_LEN + 1];
    unsigned char hash[STORE_TOKEN_HASH_LEN];
    int found; /* the id exists and is not revoked */
    int64_t checked_us;
    uint64_t generation; /* the cache's when the check was loaded */
    struct auth_user user;
};

struct auth_cache {
    pthread_mutex_t lock;
    uint64_t generation; /* auth_cache_invalidate moves it (under lock) */
    struct slot slots[AUTH_CACHE_SLOTS];
};

static const char *const role_names[] = {"",          "reader",     "contributor",
                                         "org-admin", "node-admin", "peer"};

enum auth_role auth_role_parse(const char *s)
{
    for (int i = 1; i <= AUTH_ROLE_PEER; i++)
        if (strcmp(s, role_names[i]) == 0)
            return (enum auth_role)i;
    return AUTH_ROLE_NONE;
}

const char *auth_role_name(enum auth_role r)
{
    return r <= AUTH_ROLE_PEER ? role_names[r] : "";
}

struct auth_cache *auth_cache_new(void)
{
    struct auth_cache *c = calloc(1, sizeof(*c));

    if (c)
        pthread_mutex_init(&c->lock, NULL);
    return c;
}

void auth_cache_flush(struct auth_cache *c)
{
    pthread_mutex_lock(&c->lock);
    sodium_memzero(c->slots, sizeof(c->slots));
    pthread_mutex_unlock(&c->lock);
}

void auth_cache_invalidate(struct auth_cache *c)
{
    pthread_mutex_lock(&c->lock);
    c->generation++;
    pthread_mutex_unlock(&c->lock);
}

void auth_cache_free(struct auth_cache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    sodium_memzero(c, sizeof(*c));
    free(c);
}

static unsigned slot_of(const char *id)
{
    unsigned h = 2166136261u;

    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % AUTH_CACHE_SLOTS;
}

static void user_from_store(const struct store_user *u, struct auth_user *out)
{
    memset(out, 0, sizeof(*out));
    out->key = u->key;
    out->org = u->org;
    snprintf(out->name, sizeof(out->name), "%s", u->name);
    snprintf(out->org_name, sizeof(out->org_name), "%s", u->org_name);
    out->role = auth_role_parse(u->role);
}

/* Fills e from the store: the token and its user. */
static int load(struct store *s, const char *id, struct slot *e, struct kz_error *err)
{
    struct store_token t;
    struct store_user u;
    struct kz_error e2;

    memset(e, 0, sizeof(*e));
    snprintf(e->token_id, sizeof(e->token_id), "%s", id);
    e->checked_us = kz_mono_micros();
    if (store_token_find(s, id, &t, &e2) < 0) {
        if (e2.code == KZ_ENOTFOUND)
            return 0;
        *err = e2;
        return -1;
    }
    if (t.revoked_us)
        return 0;
    if (store_user_get(s, t.user, &u, &e2) < 0) {
        if (e2.code == KZ_ENOTFOUND)
            return 0;
        *err = e2;
        return -1;
    }
    /* a disabled account's tokens are refused like revoked ones, and come
     * back when it is enabled (they were never revoked) */
    if (u.disabled)
        return 0;
    memcpy(e->hash, t.hash, sizeof(e->hash));
    e->found = 1;
    user_from_store(&u, &e->user);
    return 0;
}

int auth_user_load(struct store *s, const char *name, struct auth_user *out, struct kz_error *err)
{
    struct store_user u;

    if (store_user_find(s, name, &u, err) < 0)
        return -1;
    if (u.disabled)
        return kz_error_set(err, KZ_EDENIED, "user \"%s\" is disabled", name);
    user_from_store(&u, out);
    return 0;
}

static int denied(struct kz_error *err, const char *why)
{
    return kz_error_set(err, KZ_EDENIED, "%s", why);
}

/* The characters of a token's text (token.h): "kz_", hex, "_", base64url. */
#define TOKEN_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"

/* Splits the header into the token and, for HTTP Basic, the user name
 * (*basic set; the name is never empty: an empty one would match anyone).
 * Only a token's own characters pass as a token. */
static int credentials(const char *h, char *token, size_t tcap, char *user, size_t ucap, int *basic)
{
    unsigned char raw[512];
    size_t n = 0;
    const char *colon;

    user[0] = '\0';
    *basic = 0;
    if (strncasecmp(h, "Bearer ", 7) == 0) {
        h += 7;
        while (*h == ' ')
            h++;
        if (strlen(h) >= tcap || strspn(h, TOKEN_CHARS) != strlen(h))
            return -1;
        snprintf(token, tcap, "%s", h);
        return 0;
    }
    if (strncasecmp(h, "Basic ", 6) != 0)
        return -1;
    h += 6;
    while (*h == ' ')
        h++;
    if (sodium_base642bin(raw, sizeof(raw) - 1, h, strlen(h), NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return -1;
    raw[n] = '\0';
    colon = memchr(raw, ':', n);
    if (!colon || colon == (const char *)raw || memchr(raw, '\0', n) ||
        (size_t)(colon - (const char *)raw) >= ucap || strlen(colon + 1) >= tcap ||
        strspn(colon + 1, TOKEN_CHARS) != strlen(colon + 1)) {
        sodium_memzero(raw, sizeof(raw));
        return -1;
    }
    snprintf(user, ucap, "%.*s", (int)(colon - (const char *)raw), (const char *)raw);
    snprintf(token, tcap, "%s", colon + 1);
    sodium_memzero(raw, sizeof(raw));
    *basic = 1;
    return 0;
}

int auth_check(struct auth_cache *c, struct store *s, const char *authorization,
               struct auth_user *user, struct kz_error *err)
{
    char token[AUTH_TOKEN_MAX + 8], basic_user[KZ_MAX_NAME + 1], id[STORE_TOKEN_ID_LEN + 1];
    unsigned char hash[STORE_TOKEN_HASH_LEN];
    struct slot e;
    uint64_t generation;
    unsigned k;
    int rc = -1, basic = 0;

    if (!authorization || !authorization[0])
        return denied(err, "authentication required: send \"Authorization: Bearer TOKEN\" or "
                           "HTTP Basic with your user name and token");
    if (credentials(authorization, token, sizeof(token), basic_user, sizeof(basic_user), &basic) <
                0 ||
        auth_token_id(token, strlen(token), id) < 0) {
        sodium_memzero(token, sizeof(token));
        return denied(err, "the credentials are not a kizuna token");
    }
    auth_token_hash(token, strlen(token), hash);
    sodium_memzero(token, sizeof(token));
    k = slot_of(id);
    pthread_mutex_lock(&c->lock);
    e = c->slots[k];
    generation = c->generation;
    pthread_mutex_unlock(&c->lock);
    if (strcmp(e.token_id, id) != 0 || e.generation != generation ||
        kz_mono_micros() - e.checked_us > AUTH_CACHE_TTL_US) {
        if (load(s, id, &e, err) < 0)
            goto out;
        /* stamped with the generation read before loading: a check loaded
         * while an invalidation happened is not trusted after it */
        e.generation = generation;
        pthread_mutex_lock(&c->lock);
        c->slots[k] = e;
        pthread_mutex_unlock(&c->lock);
    }
    if (!e.found || sodium_memcmp(e.hash, hash, sizeof(hash)) != 0 ||
        (basic && strcmp(basic_user, e.user.name) != 0)) {
        denied(err, "invalid or revoked credentials");
        goto out;
    }
    *user = e.user;
    rc = 0;
out:
    sodium_memzero(&e, sizeof(e));
    sodium_memzero(hash, sizeof(hash));
    return rc;
}
