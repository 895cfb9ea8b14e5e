/*
 * The store's accounts: organisations, their users, the users' API tokens
 * (only a hash of each is kept) and communities, the named groups of
 * organisations that grants and peers refer to.
 */
#ifndef KZ_STORE_ACCOUNTS_H
#define KZ_STORE_ACCOUNTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/limits.h"

/* --- organisations -------------------------------------------------------- */

struct store_org {
    int64_t key;
    char name[KZ_MAX_NAME + 1];
    char country[8]; /* ISO 3166-1 alpha-2, "" when unknown */
    char sector[64];
    char kind[32];                     /* government, cert, cii-operator, business */
    char identity[KZ_MAX_STIX_ID + 1]; /* the STIX identity standing for it */
    int64_t created_us;
};

int store_org_add(struct store *s, struct store_org *o, struct kz_error *err);
int store_org_find(struct store *s, const char *name, struct store_org *out, struct kz_error *err);
int store_org_find_key(struct store *s, int64_t key, struct store_org *out, struct kz_error *err);
int store_org_find_identity(struct store *s, const char *identity, struct store_org *out,
                            struct kz_error *err);
typedef int (*store_org_fn)(void *ctx, const struct store_org *o);
int store_org_each(struct store *s, store_org_fn fn, void *ctx, struct kz_error *err);

/* Changes an organisation's country, sector and kind (o->key names it; its
 * name and identity never change). */
int store_org_update(struct store *s, const struct store_org *o, struct kz_error *err);

/* --- users and their tokens ----------------------------------------------- */

struct store_user {
    int64_t key;
    char name[KZ_MAX_NAME + 1];
    int64_t org; /* store_org.key */
    char org_name[KZ_MAX_NAME + 1];
    char role[32]; /* reader, contributor, org-admin, node-admin */
    int64_t created_us;
    int disabled; /* 1: its tokens are refused until it is enabled again */
};

int store_user_add(struct store *s, struct store_user *u, struct kz_error *err);
int store_user_find(struct store *s, const char *name, struct store_user *out,
                    struct kz_error *err);
int store_user_get(struct store *s, int64_t key, struct store_user *out, struct kz_error *err);
typedef int (*store_user_fn)(void *ctx, const struct store_user *u);
int store_user_each(struct store *s, store_user_fn fn, void *ctx, struct kz_error *err);

/* Changes a user's role (NULL: kept) and disabled flag (-1: kept).
 * KZ_ENOTFOUND when there is no such user. */
int store_user_update(struct store *s, int64_t key, const char *role, int disabled,
                      struct kz_error *err);

#define STORE_TOKEN_ID_LEN   16 /* hex characters of a token's public id */
#define STORE_TOKEN_HASH_LEN 32 /* BLAKE2b-256 of the whole token */

struct store_token {
    int64_t key;
    char token_id[STORE_TOKEN_ID_LEN + 1];
    int64_t user; /* store_user.key */
    unsigned char hash[STORE_TOKEN_HASH_LEN];
    int64_t created_us;
    int64_t revoked_us; /* 0 while valid */
};

int store_token_add(struct store *s, struct store_token *t, struct kz_error *err);
int store_token_find(struct store *s, const char *token_id, struct store_token *out,
                     struct kz_error *err);
typedef int (*store_token_fn)(void *ctx, const struct store_token *t);
/* Calls fn for each token of user (0: all users), oldest first. */
int store_token_each(struct store *s, int64_t user, store_token_fn fn, void *ctx,
                     struct kz_error *err);

/* Marks a token revoked now; KZ_ENOTFOUND when there is no such token. */
int store_token_revoke(struct store *s, const char *token_id, struct kz_error *err);

/* --- communities (groups of organisations) --------------------------------- */

struct store_community {
    int64_t key;
    char name[KZ_MAX_NAME + 1];
    int64_t created_us;
};

int store_community_add(struct store *s, struct store_community *c, struct kz_error *err);
int store_community_find(struct store *s, const char *name, struct store_community *out,
                         struct kz_error *err);
typedef int (*store_community_fn)(void *ctx, const struct store_community *c, const char *members);
/* Calls fn for each community with its member organisations' names,
 * comma-separated. */
int store_community_each(struct store *s, store_community_fn fn, void *ctx, struct kz_error *err);

/* Adds org to community; adding twice is not an error. */
int store_community_join(struct store *s, int64_t community, int64_t org, struct kz_error *err);

/* Takes org out of community; KZ_ENOTFOUND when it was not a member. */
int store_community_leave(struct store *s, int64_t community, int64_t org, struct kz_error *err);

#endif
