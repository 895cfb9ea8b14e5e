/*
 * Ed25519 keys and signatures with libsodium. Key files are text, one line:
 * "kizuna-ed25519-secret-v1 BASE64", so an operator can tell what a file is
 * and a later format can be told apart by its tag.
 */
#include "sign/sign.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/buf.h"

#define KEY_TAG "kizuna-ed25519-secret-v1 "
#define PUB_TAG "ed25519:"
#define B64     sodium_base64_VARIANT_ORIGINAL

int sign_keygen(const char *path, struct kz_error *err)
{
    unsigned char pk[SIGN_PUBLIC_BYTES], sk[SIGN_SECRET_BYTES];
    char line[sizeof(KEY_TAG) + 100];
    size_t n;
    int fd, rc = -1;

    crypto_sign_keypair(pk, sk);
    memcpy(line, KEY_TAG, sizeof(KEY_TAG) - 1);
    sodium_bin2base64(line + sizeof(KEY_TAG) - 1, sizeof(line) - sizeof(KEY_TAG), sk, sizeof(sk),
                      B64);
    n = strlen(line);
    line[n++] = '\n';
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        kz_error_file(err, path);
        kz_error_set(err, errno == EEXIST ? KZ_EEXISTS : KZ_EIO,
                     "cannot create the signing key: %s", strerror(errno));
        goto out;
    }
    if (write(fd, line, n) != (ssize_t)n || fsync(fd) < 0) {
        kz_error_file(err, path);
        kz_error_set(err, KZ_EIO, "cannot write the signing key: %s", strerror(errno));
        close(fd);
        unlink(path);
        goto out;
    }
    close(fd);
    rc = 0;
out:
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(line, sizeof(line));
    return rc;
}

struct sign_key {
    unsigned char sk[SIGN_SECRET_BYTES];
};

static atomic_uint key_loads; /* key files this process read (sign_key_loads) */

unsigned sign_key_loads(void)
{
    return atomic_load(&key_loads);
}

static int sign_load(const char *path, unsigned char sk[SIGN_SECRET_BYTES], struct kz_error *err)
{
    char line[sizeof(KEY_TAG) + 128];
    size_t len = 0, binlen = 0;
    ssize_t r;
    int fd, rc = -1;

    kz_error_file(err, path);
    atomic_fetch_add(&key_loads, 1);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kz_error_set(err, KZ_EIO, "cannot read the signing key: %s", strerror(errno));
    while (len < sizeof(line) - 1 && (r = read(fd, line + len, sizeof(line) - 1 - len)) > 0)
        len += (size_t)r;
    close(fd);
    line[len] = '\0';
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    if (strncmp(line, KEY_TAG, sizeof(KEY_TAG) - 1) != 0 ||
        sodium_base642bin(sk, SIGN_SECRET_BYTES, line + sizeof(KEY_TAG) - 1,
                          len - (sizeof(KEY_TAG) - 1), NULL, &binlen, NULL, B64) != 0 ||
        binlen != SIGN_SECRET_BYTES) {
        kz_error_set(err, KZ_EINVALID, "not a kizuna signing key");
        goto out;
    }
    kz_error_file(err, "");
    rc = 0;
out:
    sodium_memzero(line, sizeof(line));
    return rc;
}

struct sign_key *sign_key_open(const char *path, struct kz_error *err)
{
    struct sign_key *k = sodium_malloc(sizeof(*k));

    if (!k) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    if (sign_load(path, k->sk, err) < 0) {
        sign_key_close(k);
        return NULL;
    }
    return k;
}

void sign_key_close(struct sign_key *k)
{
    /* sodium_free wipes the memory before it lets it go */
    if (k)
        sodium_free(k);
}

void sign_key_public_text(const struct sign_key *k, char out[SIGN_PUBLIC_TEXT_MAX])
{
    unsigned char pk[SIGN_PUBLIC_BYTES];

    crypto_sign_ed25519_sk_to_pk(pk, k->sk);
    memcpy(out, PUB_TAG, sizeof(PUB_TAG) - 1);
    sodium_bin2base64(out + sizeof(PUB_TAG) - 1, SIGN_PUBLIC_TEXT_MAX - (sizeof(PUB_TAG) - 1), pk,
                      sizeof(pk), B64);
}

void sign_key_sign_text(const struct sign_key *k, const void *msg, size_t n,
                        char out[SIGN_TEXT_MAX])
{
    unsigned char sig[SIGN_BYTES];

    crypto_sign_detached(sig, NULL, msg, n, k->sk);
    sodium_bin2base64(out, SIGN_TEXT_MAX, sig, sizeof(sig), B64);
}

void sign_key_derive(const struct sign_key *k, const char *purpose, unsigned char *out, size_t n)
{
    /* keyed with the seed (the first half of libsodium's secret key) */
    crypto_generichash(out, n, (const unsigned char *)purpose, strlen(purpose), k->sk, 32);
}

int sign_derive_key(const char *path, const char *purpose, unsigned char *out, size_t n,
                    struct kz_error *err)
{
    struct sign_key *k = sign_key_open(path, err);

    if (!k)
        return -1;
    sign_key_derive(k, purpose, out, n);
    sign_key_close(k);
    return 0;
}

int sign_page_text(struct kz_buf *msg, const char *target, const void *body, size_t len)
{
    kz_buf_init(msg, len + strlen(target) + sizeof(SIGN_PAGE_PREFIX) + 2);
    kz_buf_addstr(msg, SIGN_PAGE_PREFIX);
    kz_buf_addstr(msg, target);
    kz_buf_addc(msg, '\n');
    kz_buf_add(msg, body ? body : "", len);
    return msg->failed ? -1 : 0;
}

int sign_page_text_v2(struct kz_buf *msg, const char *nonce, long long when, const char *target,
                      const char *added_last, const void *body, size_t len)
{
    kz_buf_init(msg, len + strlen(nonce) + strlen(target) + strlen(added_last) + 64);
    kz_buf_printf(msg, "%s%s\n%lld\n%s\n%s\n", SIGN_PAGE_V2_PREFIX, nonce, when, target,
                  added_last);
    kz_buf_add(msg, body ? body : "", len);
    return msg->failed ? -1 : 0;
}

int sign_public_parse(const char *text, unsigned char pk[SIGN_PUBLIC_BYTES])
{
    size_t binlen = 0;
    const char *b64 = text;

    if (strncmp(text, PUB_TAG, sizeof(PUB_TAG) - 1) == 0)
        b64 = text + sizeof(PUB_TAG) - 1;
    if (sodium_base642bin(pk, SIGN_PUBLIC_BYTES, b64, strlen(b64), NULL, &binlen, NULL, B64) != 0 ||
        binlen != SIGN_PUBLIC_BYTES)
        return -1;
    return 0;
}

int sign_verify_text(const unsigned char pk[SIGN_PUBLIC_BYTES], const void *msg, size_t n,
                     const char *sig)
{
    unsigned char raw[SIGN_BYTES];
    size_t binlen = 0;

    if (sodium_base642bin(raw, sizeof(raw), sig, strlen(sig), NULL, &binlen, NULL, B64) != 0 ||
        binlen != SIGN_BYTES)
        return -1;
    return crypto_sign_verify_detached(raw, msg, n, pk) == 0 ? 0 : -1;
}
