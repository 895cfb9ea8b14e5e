/*
 * The signer process (sign/signer.c): it signs exactly what the in-process
 * key signs (Ed25519 is deterministic, so the signatures are equal byte for
 * byte), including an empty text and ones of 8 and 20 MiB; it hands out the
 * same derived keys sign_key_derive makes; the calling process never reads
 * the key file; and a signer that died makes every later request fail instead of
 * being replaced by anything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sign/sign.h"

struct fixture {
    char dir[64];
    char key[128];
    struct sign_signer *s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct kz_error err;

    if (!f)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/kz-signer-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->key, sizeof(f->key), "%s/signing.key", f->dir);
    kz_error_clear(&err);
    if (sign_keygen(f->key, &err) < 0)
        return -1;
    f->s = sign_signer_start(f->key, &err);
    if (!f->s) {
        fprintf(stderr, "%s\n", err.text);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    sign_signer_stop(f->s);
    unlink(f->key);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* The signer's signature of msg equals the in-process one and verifies
 * with the public key the signer reported. */
static void check_sign(struct fixture *f, const void *msg, size_t n)
{
    char via[SIGN_TEXT_MAX], local[SIGN_TEXT_MAX], pub[SIGN_PUBLIC_TEXT_MAX],
            pub_local[SIGN_PUBLIC_TEXT_MAX];
    unsigned char pk[SIGN_PUBLIC_BYTES];
    struct sign_key *k;
    struct kz_error err;

    kz_error_clear(&err);
    assert_int_equal(sign_signer_sign_text(f->s, msg, n, via, &err), 0);
    sign_signer_public_text(f->s, pub);
    assert_int_equal(sign_public_parse(pub, pk), 0);
    assert_int_equal(sign_verify_text(pk, msg, n, via), 0);
    k = sign_key_open(f->key, &err);
    assert_non_null(k);
    sign_key_sign_text(k, msg, n, local);
    sign_key_public_text(k, pub_local);
    sign_key_close(k);
    assert_string_equal(via, local);
    assert_string_equal(pub, pub_local);
}

static void test_signs_like_the_key(void **state)
{
    struct fixture *f = *state;
    size_t big = (size_t)8 << 20, huge = (size_t)20 << 20;
    unsigned char *buf = malloc(big);
    char sig[SIGN_TEXT_MAX];
    struct kz_error err;

    assert_non_null(buf);
    randombytes_buf(buf, big);
    check_sign(f, "", 0);
    check_sign(f, "kizuna-sig-v1\n/taxii2/\n{}", 26);
    check_sign(f, buf, big);
    check_sign(f, buf, 1); /* the stream stays in step after a big frame */
    /* past the part of the window kept resident: given back after each
     * request, and filled again by the next */
    buf = realloc(buf, huge);
    assert_non_null(buf);
    randombytes_buf(buf, huge);
    check_sign(f, buf, huge);
    check_sign(f, buf + 1, huge - 1);
    /* a tampered text does not verify against the signer's signature */
    assert_int_equal(sign_signer_sign_text(f->s, buf, 4096, sig, &err), 0);
    buf[100] ^= 1;
    {
        char pub[SIGN_PUBLIC_TEXT_MAX];
        unsigned char pk[SIGN_PUBLIC_BYTES];
        sign_signer_public_text(f->s, pub);
        assert_int_equal(sign_public_parse(pub, pk), 0);
        assert_int_equal(sign_verify_text(pk, buf, 4096, sig), -1);
    }
    free(buf);
}

static void test_derived_keys(void **state)
{
    struct fixture *f = *state;
    static const char *const purposes[] = {SIGN_PURPOSE_CURSOR, SIGN_PURPOSE_AUDIT,
                                           SIGN_PURPOSE_PEER_TOKEN};
    unsigned char via[SIGN_DERIVED_BYTES], local[SIGN_DERIVED_BYTES];
    struct kz_error err;

    for (size_t i = 0; i < sizeof(purposes) / sizeof(purposes[0]); i++) {
        assert_int_equal(sign_signer_key(f->s, purposes[i], via), 0);
        assert_int_equal(sign_derive_key(f->key, purposes[i], local, sizeof(local), &err), 0);
        assert_memory_equal(via, local, sizeof(via));
    }
    /* only the three jobs' keys: no other purpose, nothing else, is given */
    assert_int_equal(sign_signer_key(f->s, "", via), -1);
    assert_int_equal(sign_signer_key(f->s, "seed", via), -1);
}

/* The process that starts the signer never opens the key file: only the
 * child does. */
static void test_parent_never_reads_the_key(void **state)
{
    struct fixture *f = *state;
    unsigned before = sign_key_loads();
    struct sign_signer *s;
    char sig[SIGN_TEXT_MAX];
    unsigned char k[SIGN_DERIVED_BYTES];
    struct kz_error err;

    kz_error_clear(&err);
    s = sign_signer_start(f->key, &err);
    assert_non_null(s);
    assert_int_equal(sign_signer_sign_text(s, "x", 1, sig, &err), 0);
    assert_int_equal(sign_signer_key(s, SIGN_PURPOSE_AUDIT, k), 0);
    sign_signer_stop(s);
    assert_int_equal(sign_key_loads(), before);
    /* while the in-process path does open it (the counter works) */
    assert_int_equal(sign_derive_key(f->key, SIGN_PURPOSE_AUDIT, k, sizeof(k), &err), 0);
    assert_int_equal(sign_key_loads(), before + 1);
}

/* A signer killed under the server: the next request fails, and so does
 * every one after it; stopping still reaps the child. */
static void test_dead_signer_fails_closed(void **state)
{
    struct fixture *f = *state;
    char sig[SIGN_TEXT_MAX];
    struct kz_error err;
    int pid = sign_signer_pid(f->s);

    kz_error_clear(&err);
    assert_true(pid > 0);
    assert_int_equal(sign_signer_sign_text(f->s, "a", 1, sig, &err), 0);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(sign_signer_sign_text(f->s, "a", 1, sig, &err), -1);
    assert_string_equal(sig, "");
    assert_non_null(strstr(err.text, "signer"));
    kz_error_clear(&err);
    assert_int_equal(sign_signer_sign_text(f->s, "", 0, sig, &err), -1);
    assert_non_null(strstr(err.text, "signer"));
}

/* A missing or damaged key: no signer, a message that says why, and no
 * child left behind. */
static void test_bad_key(void **state)
{
    struct fixture *f = *state;
    char path[192];
    struct kz_error err;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/none.key", f->dir);
    kz_error_clear(&err);
    assert_null(sign_signer_start(path, &err));
    assert_non_null(strstr(err.text, "cannot read the signing key"));
    snprintf(path, sizeof(path), "%s/bad.key", f->dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("kizuna-ed25519-secret-v1 AAAA\n", fp);
    fclose(fp);
    kz_error_clear(&err);
    assert_null(sign_signer_start(path, &err));
    assert_non_null(strstr(err.text, "not a kizuna signing key"));
    unlink(path);
    /* the fixture's signer is the only child */
    assert_int_equal(waitpid(-1, NULL, WNOHANG), 0);
}

static void test_frame_cap(void **state)
{
    struct fixture *f = *state;
    char sig[SIGN_TEXT_MAX];
    struct kz_error err;

    kz_error_clear(&err);
    /* refused before anything is sent: the stream stays usable */
    assert_int_equal(sign_signer_sign_text(f->s, "", SIGN_SIGNER_FRAME_MAX + 1, sig, &err), -1);
    assert_int_equal(err.code, KZ_ELIMIT);
    assert_int_equal(sign_signer_sign_text(f->s, "ok", 2, sig, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_signs_like_the_key, setup, teardown),
            cmocka_unit_test_setup_teardown(test_derived_keys, setup, teardown),
            cmocka_unit_test_setup_teardown(test_parent_never_reads_the_key, setup, teardown),
            cmocka_unit_test_setup_teardown(test_dead_signer_fails_closed, setup, teardown),
            cmocka_unit_test_setup_teardown(test_bad_key, setup, teardown),
            cmocka_unit_test_setup_teardown(test_frame_cap, setup, teardown),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
