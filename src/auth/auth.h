/*
 * Who is asking: checking the credentials of an HTTP request. kizuna takes
 * "Authorization: Bearer TOKEN" and HTTP Basic with the user name and the
 * token as password (what TAXII clients speak); the Basic user name must be
 * the token's own, never empty, and a token is its exact text. A token is checked by its
 * public id against a small cache of (id, hash, user) entries, refreshed
 * from the store at most once a second per token: a request costs one hash
 * and one constant-time comparison, and a revocation takes effect within a
 * second.
 */
#ifndef KZ_AUTH_H
#define KZ_AUTH_H

#include <stdint.h>

#include "store/store.h"

enum auth_role {
    AUTH_ROLE_NONE = 0,
    AUTH_ROLE_READER,
    AUTH_ROLE_CONTRIBUTOR,
    AUTH_ROLE_ORG_ADMIN,
    AUTH_ROLE_NODE_ADMIN,
    AUTH_ROLE_PEER, /* another node's sync account: relays others' objects */
};

/* The authenticated user. */
struct auth_user {
    int64_t key;
    char name[KZ_MAX_NAME + 1];
    int64_t org;
    char org_name[KZ_MAX_NAME + 1];
    enum auth_role role;
};

/* How long a cached check stands before the store is asked again. */
#define AUTH_CACHE_TTL_US 1000000
/* Cache slots (direct-mapped by token id). */
#define AUTH_CACHE_SLOTS 4096

struct auth_cache;

struct auth_cache *auth_cache_new(void);
void auth_cache_free(struct auth_cache *c);

/* Forgets every cached check, so that an account change made through this
 * process (a user disabled or removed) holds from the next request on,
 * not a second later. */
void auth_cache_flush(struct auth_cache *c);

/* Makes every check cached so far stale, at the cost of a counter: called
 * when the store's data version moves (another connection, process or
 * server committed: perhaps a revocation), so that such a change holds from
 * the next request on. */
void auth_cache_invalidate(struct auth_cache *c);

/* Checks an Authorization header value (NULL when absent). On success fills
 * *user and returns 0; otherwise -1 with err (KZ_EDENIED, a reason safe to
 * show: it never says whether the user or the token was wrong). */
int auth_check(struct auth_cache *c, struct store *s, const char *authorization,
               struct auth_user *user, struct kz_error *err);

/* Loads a user by name as an auth_user (for the CLI acting as a user);
 * a disabled user is refused (KZ_EDENIED). */
int auth_user_load(struct store *s, const char *name, struct auth_user *out, struct kz_error *err);

/* "reader" ... "node-admin" and back; AUTH_ROLE_NONE when unknown. */
enum auth_role auth_role_parse(const char *s);
const char *auth_role_name(enum auth_role r);

#endif
