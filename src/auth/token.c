/*
 * Making, naming and hashing API tokens (see token.h for the format).
 */
#include "auth/token.h"
#include "store/store_accounts.h"

#include <sodium.h>
#include <string.h>

#define SECRET_BYTES 32
#define PREFIX       "kz_"

void auth_token_hash(const char *token, size_t n, unsigned char out[STORE_TOKEN_HASH_LEN])
{
    crypto_generichash(out, STORE_TOKEN_HASH_LEN, (const unsigned char *)token, n, NULL, 0);
}

void auth_token_generate(int64_t user, char out[AUTH_TOKEN_MAX], struct store_token *t)
{
    unsigned char idbytes[STORE_TOKEN_ID_LEN / 2], secret[SECRET_BYTES];
    size_t n;

    memset(t, 0, sizeof(*t));
    randombytes_buf(idbytes, sizeof(idbytes));
    randombytes_buf(secret, sizeof(secret));
    sodium_bin2hex(t->token_id, sizeof(t->token_id), idbytes, sizeof(idbytes));
    memcpy(out, PREFIX, sizeof(PREFIX) - 1);
    n = sizeof(PREFIX) - 1;
    memcpy(out + n, t->token_id, STORE_TOKEN_ID_LEN);
    n += STORE_TOKEN_ID_LEN;
    out[n++] = '_';
    sodium_bin2base64(out + n, AUTH_TOKEN_MAX - n, secret, sizeof(secret),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    t->user = user;
    auth_token_hash(out, strlen(out), t->hash);
    sodium_memzero(secret, sizeof(secret));
}

int auth_token_id(const char *token, size_t n, char id[STORE_TOKEN_ID_LEN + 1])
{
    const size_t idend = sizeof(PREFIX) - 1 + STORE_TOKEN_ID_LEN;

    if (n <= idend + 1 || n >= AUTH_TOKEN_MAX || memcmp(token, PREFIX, sizeof(PREFIX) - 1) != 0 ||
        token[idend] != '_')
        return -1;
    for (size_t i = sizeof(PREFIX) - 1; i < idend; i++) {
        char c = token[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return -1;
    }
    memcpy(id, token + sizeof(PREFIX) - 1, STORE_TOKEN_ID_LEN);
    id[STORE_TOKEN_ID_LEN] = '\0';
    return 0;
}
