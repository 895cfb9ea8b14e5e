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

#define SIGN_PUBLIC_BYTES    32
#define SIGN_SECRET_BYTES    64
#define SIGN_BYTES           64
#define SIGN_PUBLIC_TEXT_MAX 64 /* "ed25519:" + 44 base64 characters + NUL */

/* Creates a new key pair and writes the secret key to path (mode 0600,
 * refusing to overwrite). */
int sign_keygen(const char *path, struct kz_error *err);

/* Loads the secret key at path into sk (the caller wipes it). */
int sign_load(const char *path, unsigned char sk[SIGN_SECRET_BYTES], struct kz_error *err);

/* The public half of a secret key, as text. */
void sign_public_text(const unsigned char sk[SIGN_SECRET_BYTES], char out[SIGN_PUBLIC_TEXT_MAX]);

/* Parses "ed25519:BASE64" into pk; -1 when malformed. */
int sign_public_parse(const char *text, unsigned char pk[SIGN_PUBLIC_BYTES]);

/* Detached signature of msg[0..n) in base64 (88 characters + NUL). */
#define SIGN_TEXT_MAX 96
void sign_detached_text(const unsigned char sk[SIGN_SECRET_BYTES], const void *msg, size_t n,
                        char out[SIGN_TEXT_MAX]);

/* Verifies a base64 detached signature; 0 when valid. */
int sign_verify_text(const unsigned char pk[SIGN_PUBLIC_BYTES], const void *msg, size_t n,
                     const char *sig);

#endif
