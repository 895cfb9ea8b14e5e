/*
 * API tokens. A token reads "kz_" + a 16-hex-digit public id + "_" + 43
 * base64url characters of secret (256 bits). The store keeps only the id and
 * a BLAKE2b-256 hash of the whole token; the secret is shown once, when the
 * token is made. The id lets a check find the one row to compare against,
 * and lets an operator revoke a token without ever seeing it again.
 */
#ifndef KZ_AUTH_TOKEN_H
#define KZ_AUTH_TOKEN_H

#include <stddef.h>

#include "store/store_accounts.h"

#define AUTH_TOKEN_MAX 80 /* a token's text with its NUL */

/* Makes a new token for user: writes its text to out and fills t (id,
 * user, hash) ready for store_token_add. */
void auth_token_generate(int64_t user, char out[AUTH_TOKEN_MAX], struct store_token *t);

/* Extracts the public id of a token's text; -1 when the text cannot be a
 * kizuna token. */
int auth_token_id(const char *token, size_t n, char id[STORE_TOKEN_ID_LEN + 1]);

/* The hash stored for a token's text. */
void auth_token_hash(const char *token, size_t n, unsigned char out[STORE_TOKEN_HASH_LEN]);

#endif
