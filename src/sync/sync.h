/*
 * Federation (docs/FEDERATION.md): pulling from and pushing to peers over
 * TAXII 2.1 with libcurl. A pulled page and the link's new checkpoint are
 * stored in one transaction, so an interrupted pull resumes exactly where
 * it stopped; a push filters what it sends through policy/ with the peer
 * as the reader; pages from a peer with a known key must carry a valid
 * Ed25519 signature. Every network step has timeouts and retries, and the
 * outcome of each round is recorded on the peer for `kizuna peer list`.
 */
#ifndef KZ_SYNC_H
#define KZ_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "node/node.h"
#include "store/store_peers.h"
#include "util/limits.h"

#define SYNC_PAGE_LIMIT       1000    /* objects asked for per pull page */
#define SYNC_PUSH_BATCH       1000    /* objects per pushed envelope */
#define SYNC_PAGES_PER_COMMIT 8       /* pulled pages stored in one transaction */
#define SYNC_COMMIT_US        1000000 /* ... or as many as arrive in this long */
#define SYNC_RETRIES          3       /* after the first attempt */
#define SYNC_BACKOFF_MS       500     /* doubled per retry, +-50% jitter */
/* The caps on what a peer sends (page and head sizes, pages per round,
 * timeouts, clock skew) are in util/limits.h. */

/* Calls curl_global_init; once per process, before any thread starts. */
int sync_global_init(void);

/* What a round with one peer did. */
struct sync_report {
    uint64_t pulled;   /* objects stored from the peer */
    uint64_t pushed;   /* objects the peer accepted */
    uint64_t rejected; /* objects refused (either way) as invalid */
    char error[512];   /* "" when the round completed */
};

/* Runs one round with the peer named `name`: every pull link, then every
 * push link. Returns 0 when all completed, -1 when one failed (the report
 * and the peer's last_error say why). Uses its own connection to the store
 * at cfg's path, so rounds with different peers can run in parallel. */
int sync_peer(const struct node_config *cfg, const char *name, struct sync_report *rep,
              struct kz_error *err);

/* sync_peer, calling fn(ctx, rep) in the calling thread as objects are
 * pulled and pushed (the CLI's progress line). */
typedef void (*sync_progress_fn)(void *ctx, const struct sync_report *rep);
int sync_peer_progress(const struct node_config *cfg, const char *name, struct sync_report *rep,
                       sync_progress_fn fn, void *ctx, struct kz_error *err);

/* Seals a peer's token for storage with a key derived from the node's
 * signing key (XSalsa20-Poly1305), and opens it again. */
int sync_token_seal(const char *signing_key_path, const char *token, unsigned char *out, size_t cap,
                    size_t *len, struct kz_error *err);
int sync_token_open(const char *signing_key_path, const unsigned char *sealed, size_t len,
                    char *token, size_t cap, struct kz_error *err);

/* The same opening with the derived key itself (SIGN_PURPOSE_PEER_TOKEN),
 * as the signer hands it to `kizuna serve`. */
#define SYNC_TOKEN_KEY_BYTES 32
int sync_token_open_key(const unsigned char key[SYNC_TOKEN_KEY_BYTES], const unsigned char *sealed,
                        size_t len, char *token, size_t cap, struct kz_error *err);

/* Whether a peer URL may be used: https, or http to a loopback host. */
int sync_url_ok(const char *url, struct kz_error *err);

/* --- registering peers (peer_admin.c) ---------------------------------------
 * The business of `kizuna peer add|credentials|check`, usable by any front
 * end (the CLI, a declarative file): nothing here reads argv or prints. */

/* A link between a local collection and one of the peer's. */
struct sync_link_spec {
    int direction;      /* STORE_LINK_PULL or STORE_LINK_PUSH */
    const char *local;  /* the local collection's alias or id */
    const char *remote; /* the peer's collection, id or alias as it serves it */
};

/* How one check of a peer came out (sync_peer_check): what was checked
 * ("connection", "api root", "authentication", "pull COLL", "push COLL"),
 * whether it passed, and what was seen, in words. */
typedef void (*sync_check_fn)(void *ctx, const char *what, int ok, const char *detail);

/* A peer to register. Strings are the caller's; NULL for what is not set. */
struct sync_peer_spec {
    const char *name;  /* the peer's node name */
    const char *url;   /* its API root: https, or http on loopback; no credentials in it */
    const char *token; /* the token (Bearer) or password (Basic); stored sealed */
    const char *user;  /* HTTP Basic with this user name; NULL or "" for Bearer */
    const char *org;   /* the local organisation standing for it */
    const char *key;   /* "ed25519:...": its pages must be signed by this key */
    const char *ca;    /* a CA file for its TLS certificate (else the system's) */
    const char *const *communities;
    size_t ncommunities;
    const struct sync_link_spec *links;
    size_t nlinks;
    /* non-NULL: connect once and check everything (sync_peer_check) before
     * anything is stored; a failed check stores nothing */
    sync_check_fn check;
    void *check_ctx;
};

/* Validates spec, resolves its organisation, communities and collections,
 * optionally checks the peer, and stores the peer with its sealed token in
 * one transaction. On failure nothing is stored: KZ_EUSAGE for a bad spec,
 * KZ_EINVALID when a check failed (each was reported), else the store's
 * error. The caller audits the change. */
int sync_peer_add(struct node *n, const struct sync_peer_spec *spec, struct kz_error *err);

/* A spec resolved against the store: the peer row with its token sealed,
 * and its communities and links by key, ready for store_peer_add or
 * store_peer_update. */
struct sync_peer_resolved {
    struct store_peer peer;
    int64_t communities[SYNC_MAX_PEER_COMMUNITIES];
    size_t ncommunities;
    struct store_peer_link links[SYNC_MAX_LINKS];
    size_t nlinks;
};

/* What sync_peer_add does short of checking and storing: validates spec
 * (KZ_EUSAGE), finds its organisation, communities and collections (the
 * store's KZ_ENOTFOUND) and seals its token with a key derived from the
 * signing key at signing_key. Only reads the store, so it may run inside
 * the caller's transaction (`kizuna apply`). out is wiped on failure. */
int sync_peer_resolve(struct store *s, const char *signing_key, const struct sync_peer_spec *sp,
                      struct sync_peer_resolved *out, struct kz_error *err);

/* Replaces the token of peer `name` (sealed as by sync_peer_add) and, when
 * user is not NULL, how it is sent: HTTP Basic as `user`, or Bearer for "".
 * KZ_ENOTFOUND when there is no such peer. The caller audits the change. */
int sync_peer_credentials(struct node *n, const char *name, const char *token, const char *user,
                          struct kz_error *err);

/* Connects once to the stored peer `name` and reports each check through
 * fn: the connection (TLS), the API root, the credentials, and each linked
 * collection (exists; readable for pulls, writable for pushes, as the
 * collection resource's can_read/can_write say). Returns 0 when all passed,
 * -1 with KZ_EINVALID when one failed, or another error when the peer could
 * not be read. */
int sync_peer_check(struct node *n, const char *name, sync_check_fn fn, void *ctx,
                    struct kz_error *err);

/* Reads a token from the first line of a file ("-": standard input, one
 * line), the line end stripped. Refuses an empty token, one longer than
 * cap - 1, characters outside printable ASCII, and a file with more lines.
 * The caller wipes out after use. */
int sync_token_read(const char *path, char *out, size_t cap, struct kz_error *err);

/* Makes every transfer in flight, and every retry, fail at once (on) so
 * that a shutdown does not wait for a hung peer's timeouts. */
void sync_cancel(int on);

/* The background syncer of `kizuna serve`: every cfg->sync_interval seconds
 * it starts a round with each peer whose previous round has ended, each in
 * its own thread, so a peer that hangs delays only itself. Of several
 * servers over one store only the leader syncs (store_leader_try "sync");
 * the others ask for the lead every SYNC_LEADER_RETRY_MS and so take over
 * within seconds of the leader's end. A round in flight when its server
 * loses the lead runs to its end (rounds are idempotent: checkpoints and
 * duplicates). Stopping cancels
 * the transfers in flight. Peers' tokens open with token_key (the derived
 * SIGN_PURPOSE_PEER_TOKEN key, copied): the daemon never reads the key file. */
#define SYNC_LEADER_RETRY_MS 2000
struct sync_daemon;
struct sync_daemon *sync_daemon_start(const struct node_config *cfg,
                                      const unsigned char token_key[SYNC_TOKEN_KEY_BYTES],
                                      struct kz_error *err);
void sync_daemon_stop(struct sync_daemon *d);

#endif
