/*
 * The store's federation partners: each peer with its credentials (sealed
 * by sync/), communities and pull/push links with their checkpoints, the
 * outcome of its last sync round, and the last head of its audit log this
 * node saw.
 */
#ifndef KZ_STORE_PEERS_H
#define KZ_STORE_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/limits.h"

#define STORE_PEER_TOKEN_MAX 256 /* the token, encrypted by sync/ */
#define STORE_PEER_USER_MAX  128 /* the user name of HTTP Basic, with the NUL */
#define STORE_LINK_PULL      1
#define STORE_LINK_PUSH      2

struct store_peer {
    int64_t key;
    char name[KZ_MAX_NAME + 1]; /* the peer's node name */
    char url[1024];             /* its API root */
    unsigned char token[STORE_PEER_TOKEN_MAX];
    size_t token_len;
    int64_t org;         /* the local organisation standing for it, 0 none */
    char public_key[80]; /* "ed25519:...", "" when signatures are not checked */
    char ca[1024];       /* a CA file for its TLS certificate, "" for the system's */
    int64_t created_us;
    int64_t last_success_us;
    char last_error[512];
    int64_t last_error_us;
    char user[STORE_PEER_USER_MAX]; /* HTTP Basic with this user and the token; "" Bearer */
};

struct store_peer_link {
    int64_t peer;
    int direction;                 /* STORE_LINK_PULL or STORE_LINK_PUSH */
    int64_t local;                 /* the local collection's key */
    char remote[KZ_MAX_NAME + 64]; /* the remote collection's id or alias */
    int64_t checkpoint;            /* µs: the last date added done (remote's for pulls) */
    char checkpoint_text[64];      /* pulls: that date as the peer wrote it */
};

/* Adds a peer with its communities and links, in one transaction; inside
 * the caller's open transaction (store_begin) it is a savepoint of it, so
 * a failure undoes the peer alone and the caller's commit or rollback
 * decides about it. */
int store_peer_add(struct store *s, struct store_peer *p, const int64_t *communities,
                   size_t ncommunities, const struct store_peer_link *links, size_t nlinks,
                   struct kz_error *err);
int store_peer_find(struct store *s, const char *name, struct store_peer *out,
                    struct kz_error *err);
/* Replaces a peer's sealed token and, when user is not NULL, its Basic user
 * name ("" for Bearer). KZ_ENOTFOUND when there is no such peer. */
int store_peer_credentials(struct store *s, const char *name, const unsigned char *token,
                           size_t token_len, const char *user, struct kz_error *err);
/* Changes peer p->key's url, org, public_key and ca to p's; with
 * set_communities its own communities become communities[0..ncommunities),
 * and with set_links (STORE_LINK_PULL, STORE_LINK_PUSH or both, OR'd) its
 * links of that direction become those of links[0..nlinks): links kept keep
 * their checkpoints, links not listed are removed. Token and user stay
 * (store_peer_credentials). Atomic like store_peer_add, also inside an open
 * transaction. KZ_ENOTFOUND when there is no such peer. */
int store_peer_update(struct store *s, const struct store_peer *p, const int64_t *communities,
                      size_t ncommunities, int set_communities, const struct store_peer_link *links,
                      size_t nlinks, int set_links, struct kz_error *err);
/* The communities the peer itself lists (not its organisation's), by key. */
int store_peer_own_communities(struct store *s, int64_t peer, int64_t *out, size_t cap, size_t *n,
                               struct kz_error *err);
typedef int (*store_peer_fn)(void *ctx, const struct store_peer *p);
int store_peer_each(struct store *s, store_peer_fn fn, void *ctx, struct kz_error *err);
int store_peer_remove(struct store *s, const char *name, struct kz_error *err);
typedef int (*store_link_fn)(void *ctx, const struct store_peer_link *l);
int store_peer_links(struct store *s, int64_t peer, store_link_fn fn, void *ctx,
                     struct kz_error *err);
/* The communities a peer belongs to: its own list and its organisation's. */
int store_peer_communities(struct store *s, int64_t peer, int64_t *out, size_t cap, size_t *n,
                           struct kz_error *err);
/* Records the outcome of a sync round: success (error NULL) or an error. */
int store_peer_outcome(struct store *s, int64_t peer, const char *error, struct kz_error *err);
/* Moves a link's checkpoint; usable inside an open transaction (a pulled
 * page and its checkpoint commit together). */
int store_link_checkpoint(struct store *s, const struct store_peer_link *l, int64_t checkpoint,
                          const char *text, struct kz_error *err);

/* What this node last saw of a partner's audit log: the head it fetched
 * last, signed by the partner (docs/FEDERATION.md, "Audit heads"), and what
 * went wrong when the partner's log stopped extending it. */
struct store_peer_head {
    int64_t peer;
    int64_t seq; /* the partner's last audit row */
    unsigned char hash[STORE_AUDIT_HASH_LEN];
    int64_t seen_us;     /* when it was fetched */
    char evidence[2048]; /* the signed answer: target, signature and body, one a line */
    char problem[256];   /* "" while the partner's log only grew */
    int64_t problem_us;
};

/* KZ_ENOTFOUND when nothing was seen yet. */
int store_peer_head_get(struct store *s, int64_t peer, struct store_peer_head *out,
                        struct kz_error *err);
/* Replaces what was recorded for h->peer. */
int store_peer_head_put(struct store *s, const struct store_peer_head *h, struct kz_error *err);

#endif
