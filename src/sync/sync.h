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
#include "store/store.h"
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

/* Makes every transfer in flight, and every retry, fail at once (on) so
 * that a shutdown does not wait for a hung peer's timeouts. */
void sync_cancel(int on);

/* The background syncer of `kizuna serve`: every cfg->sync_interval seconds
 * it starts a round with each peer whose previous round has ended, each in
 * its own thread, so a peer that hangs delays only itself. Stopping cancels
 * the transfers in flight. Peers' tokens open with token_key (the derived
 * SIGN_PURPOSE_PEER_TOKEN key, copied): the daemon never reads the key file. */
struct sync_daemon;
struct sync_daemon *sync_daemon_start(const struct node_config *cfg,
                                      const unsigned char token_key[SYNC_TOKEN_KEY_BYTES],
                                      struct kz_error *err);
void sync_daemon_stop(struct sync_daemon *d);

#endif
