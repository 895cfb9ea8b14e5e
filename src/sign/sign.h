/*
 * The node's Ed25519 identity (libsodium): the key pair a node signs what it
 * serves to peers with, and the text form of a public key that partners
 * exchange ("ed25519:" and base64). The secret key file is created 0600 and
 * secrets are wiped from memory after use.
 */
#ifndef KZ_SIGN_H
#define KZ_SIGN_H

#include <stddef.h>

#include "util/error.h"
#include "util/limits.h"

#define SIGN_PUBLIC_BYTES    32
#define SIGN_SECRET_BYTES    64
#define SIGN_BYTES           64
#define SIGN_PUBLIC_TEXT_MAX 64 /* "ed25519:" + 44 base64 characters + NUL */

/* Creates a new key pair and writes the secret key to path (mode 0600,
 * refusing to overwrite). */
int sign_keygen(const char *path, struct kz_error *err);

/* The node's secret key, loaded once and wiped when closed. sign/ is the
 * only module that reads the key file: everything else derives what it
 * needs from a struct sign_key or asks sign_derive_key. */
struct sign_key;

/* Loads the secret key at path; NULL with err set. */
struct sign_key *sign_key_open(const char *path, struct kz_error *err);

/* How many times this process has opened a key file: a process that
 * leaves the key to the signer keeps it at 0 (tests check this). */
unsigned sign_key_loads(void);

/* Wipes and frees the key. Accepts NULL. */
void sign_key_close(struct sign_key *k);

/* The public half, as text ("ed25519:BASE64"). */
void sign_key_public_text(const struct sign_key *k, char out[SIGN_PUBLIC_TEXT_MAX]);

/* Detached signature of msg[0..n) in base64 (88 characters + NUL). */
#define SIGN_TEXT_MAX 96
void sign_key_sign_text(const struct sign_key *k, const void *msg, size_t n,
                        char out[SIGN_TEXT_MAX]);

/* Keys for other jobs, each derived from the node key and a purpose
 * (BLAKE2b keyed with the secret seed over the purpose's label), so one
 * key file stands for all of them and no two jobs share a key. n is at
 * most 64. The labels are fixed: changing one invalidates what was made
 * with it (cursors, the audit chain, sealed peer tokens). */
#define SIGN_PURPOSE_CURSOR     "cursor"             /* TAXII next cursors' MAC */
#define SIGN_PURPOSE_AUDIT      "kizuna audit chain" /* the audit log's keyed hash chain */
#define SIGN_PURPOSE_PEER_TOKEN "kizuna peer token"  /* sealing peers' tokens in the store */
void sign_key_derive(const struct sign_key *k, const char *purpose, unsigned char *out, size_t n);

/* The same from the key file at path, for callers that need nothing else
 * (the caller wipes out). */
int sign_derive_key(const char *path, const char *purpose, unsigned char *out, size_t n,
                    struct kz_error *err);

/* The text a signed response covers (docs/FEDERATION.md, "Signatures"):
 * SIGN_PAGE_PREFIX, the request target, "\n", the body. Both the signer and
 * the verifier build it here. Initialises msg (the caller frees it);
 * -1 when it could not be built. */
#define SIGN_PAGE_PREFIX "kizuna-sig-v1\n"
struct kz_buf;
int sign_page_text(struct kz_buf *msg, const char *target, const void *body, size_t len);

/* The text a v2 signature covers, bound to one request and one moment
 * (docs/FEDERATION.md): SIGN_PAGE_V2_PREFIX, then the client's nonce, the
 * signing time in Unix seconds, the request target and the page's
 * X-TAXII-Date-Added-Last ("" when none), each ended by "\n", then the body.
 * Initialises msg (the caller frees it); -1 when it could not be built. */
#define SIGN_PAGE_V2_PREFIX "kizuna-sig-v2\n"
int sign_page_text_v2(struct kz_buf *msg, const char *nonce, long long when, const char *target,
                      const char *added_last, const void *body, size_t len);

/* Parses "ed25519:BASE64" into pk; -1 when malformed. */
int sign_public_parse(const char *text, unsigned char pk[SIGN_PUBLIC_BYTES]);

/* Verifies a base64 detached signature; 0 when valid. */
int sign_verify_text(const unsigned char pk[SIGN_PUBLIC_BYTES], const void *msg, size_t n,
                     const char *sig);

/* The signer: a child process that alone holds the node key (the OpenSMTPD
 * "ca" shape). sign_signer_start forks it before the caller starts any
 * thread; the child loads the key, hands back the public key and the derived
 * keys the server needs (SIGN_PURPOSE_CURSOR, _AUDIT and _PEER_TOKEN, each
 * SIGN_DERIVED_BYTES), then only signs: the text is copied into a window of
 * memory the child may only read, its length goes over a socketpair and the
 * Ed25519 signature over the whole text comes back, so signatures are the
 * same as sign_key_sign_text's. The calling process never reads the key
 * file. The child exits when the socket closes. */
#define SIGN_DERIVED_BYTES 32
/* SIGN_SIGNER_FRAME_MAX, the largest text the signer takes, is in
 * util/limits.h. */
struct sign_signer;

/* Forks the signer on the key at path and waits for its keys; NULL with err
 * set when the key cannot be loaded or the child cannot be started. Call it
 * before any thread exists (fork copies only the calling thread). */
struct sign_signer *sign_signer_start(const char *key_path, struct kz_error *err);

/* Signs msg[0..n) in the signer: out is the base64 signature, as
 * sign_key_sign_text makes it. Safe from several threads (one request at a
 * time). -1 with err set when the signer is gone or n is over
 * SIGN_SIGNER_FRAME_MAX; once gone, every later call fails: nothing is
 * signed in this process instead. */
int sign_signer_sign_text(struct sign_signer *s, const void *msg, size_t n, char out[SIGN_TEXT_MAX],
                          struct kz_error *err);

/* The derived key for purpose (one of the three above) as the child sent it
 * at start; -1 for any other purpose. The caller wipes out. */
int sign_signer_key(const struct sign_signer *s, const char *purpose,
                    unsigned char out[SIGN_DERIVED_BYTES]);

/* The public half, as text ("ed25519:BASE64"). */
void sign_signer_public_text(const struct sign_signer *s, char out[SIGN_PUBLIC_TEXT_MAX]);

/* The child's process id (for tests and logs). */
int sign_signer_pid(const struct sign_signer *s);

/* Closes the socket, waits for the child to exit, wipes the derived keys
 * and frees s. Accepts NULL. */
void sign_signer_stop(struct sign_signer *s);

#endif
