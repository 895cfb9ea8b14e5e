/*
 * auth_check against a real store: Authorization header values, good and
 * bad, in a table. HTTP Basic must name the token's own user (never an empty
 * name, which once matched anyone); a Bearer token is its exact text, with
 * nothing after it; schemes and encodings that are not kizuna's are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/token.h"
#include "store/store.h"
#include "store/store_accounts.h"
#include "store_files.h"

struct fixture {
    char dir[64];
    char path[128];
    struct store *s;
    struct auth_cache *cache;
    char token[AUTH_TOKEN_MAX];
    char other[AUTH_TOKEN_MAX]; /* bob's */
};

static int add_user(struct store *s, const char *name, int64_t org, char *token)
{
    struct store_user u;
    struct store_token t;
    struct kz_error err;

    memset(&u, 0, sizeof(u));
    snprintf(u.name, sizeof(u.name), "%s", name);
    snprintf(u.role, sizeof(u.role), "reader");
    u.org = org;
    if (store_user_add(s, &u, &err) < 0)
        return -1;
    auth_token_generate(u.key, token, &t);
    return store_token_add(s, &t, &err);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct store_org o;
    struct kz_error err;

    if (!f || sodium_init() < 0)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/kz-auth-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/kizuna.db", f->dir);
    f->s = store_open("sqlite", f->path, 1, &err);
    f->cache = auth_cache_new();
    if (!f->s || !f->cache)
        return -1;
    memset(&o, 0, sizeof(o));
    snprintf(o.name, sizeof(o.name), "local");
    if (store_org_add(f->s, &o, &err) < 0 || add_user(f->s, "alice", o.key, f->token) < 0 ||
        add_user(f->s, "bob", o.key, f->other) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    auth_cache_free(f->cache);
    store_close(f->s);
    remove_store_files(f->path);
    rmdir(f->dir);
    sodium_memzero(f, sizeof(*f));
    free(f);
    return 0;
}

static void basic(char *out, size_t cap, const char *user, const char *password)
{
    char raw[256];
    size_t n = (size_t)snprintf(raw, sizeof(raw), "%s:%s", user, password);
    size_t len = (size_t)snprintf(out, cap, "Basic ");

    sodium_bin2base64(out + len, cap - len, (const unsigned char *)raw, n,
                      sodium_base64_VARIANT_ORIGINAL);
}

static int check(struct fixture *f, const char *header, struct auth_user *u)
{
    struct kz_error err;

    kz_error_clear(&err);
    memset(u, 0, sizeof(*u));
    if (auth_check(f->cache, f->s, header, u, &err) == 0)
        return 0;
    assert_int_equal(err.code, KZ_EDENIED);
    return -1;
}

static void test_good(void **state)
{
    struct fixture *f = *state;
    struct auth_user u;
    char h[512];

    snprintf(h, sizeof(h), "Bearer %s", f->token);
    assert_int_equal(check(f, h, &u), 0);
    assert_string_equal(u.name, "alice");
    snprintf(h, sizeof(h), "bearer   %s", f->token);
    assert_int_equal(check(f, h, &u), 0);
    basic(h, sizeof(h), "alice", f->token);
    assert_int_equal(check(f, h, &u), 0);
    assert_string_equal(u.name, "alice");
    basic(h, sizeof(h), "bob", f->other);
    assert_int_equal(check(f, h, &u), 0);
    assert_string_equal(u.name, "bob");
}

static void test_basic_names_the_token_user(void **state)
{
    struct fixture *f = *state;
    static const char *const users[] = {"", "bob", "Alice", "alice ", " alice", "alice@node"};
    struct auth_user u;
    char h[512];

    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        basic(h, sizeof(h), users[i], f->token);
        if (check(f, h, &u) == 0)
            fail_msg("Basic user \"%s\" with alice's token was accepted", users[i]);
        assert_string_equal(u.name, "");
    }
}

static void test_bad_headers(void **state)
{
    struct fixture *f = *state;
    struct auth_user u;
    char h[512], raw[256];
    /* what goes before and after the token */
    static const char *const around[][2] = {
            {"Bearer ", " junk"},
            {"Bearer ", "\t"},
            {"Bearer ", ",x"},
            {"Bearer ", "x"},
            {"Bearer \"", "\""},
            {"Token ", ""},
            {"", ""},
            {"Bearer  ", "%00"},
            {"Bearer ", "\x01"},
            {"Basic ", ""},
            {"Bearer ", "\x7f"},
            {"Bearer ", "\xc3\xa9"},
    };

    for (size_t i = 0; i < sizeof(around) / sizeof(around[0]); i++) {
        snprintf(h, sizeof(h), "%s%s%s", around[i][0], f->token, around[i][1]);
        if (check(f, h, &u) == 0)
            fail_msg("\"%s TOKEN %s\" was accepted", around[i][0], around[i][1]);
    }
    assert_int_equal(check(f, NULL, &u), -1);
    assert_int_equal(check(f, "", &u), -1);
    assert_int_equal(check(f, "Bearer ", &u), -1);
    assert_int_equal(check(f, "Basic ", &u), -1);
    assert_int_equal(check(f, "Basic !!!!", &u), -1);
    /* Basic with no colon, a NUL inside, junk after the token */
    snprintf(raw, sizeof(raw), "alice%s", f->token);
    sodium_bin2base64(h + 6, sizeof(h) - 6, (const unsigned char *)raw, strlen(raw),
                      sodium_base64_VARIANT_ORIGINAL);
    memcpy(h, "Basic ", 6);
    assert_int_equal(check(f, h, &u), -1);
    {
        size_t n = (size_t)snprintf(raw, sizeof(raw), "alice:%s", f->token);
        raw[n] = '\0';
        raw[n + 1] = 'x';
        sodium_bin2base64(h + 6, sizeof(h) - 6, (const unsigned char *)raw, n + 2,
                          sodium_base64_VARIANT_ORIGINAL);
        assert_int_equal(check(f, h, &u), -1);
    }
    snprintf(raw, sizeof(raw), "%s junk", f->token);
    basic(h, sizeof(h), "alice", raw);
    assert_int_equal(check(f, h, &u), -1);
}

/* A revocation committed through another connection (another process or
 * server) holds from the check after the reader's data version moved,
 * not a cache lifetime later: the server invalidates on that signal. A
 * check loaded before the invalidation is never trusted after it. */
static void test_revoked_elsewhere(void **state)
{
    struct fixture *f = *state;
    struct kz_error err;
    struct store *other;
    struct auth_user u;
    char h[AUTH_TOKEN_MAX + 16], id[STORE_TOKEN_ID_LEN + 1];
    uint64_t before, after;

    snprintf(h, sizeof(h), "Bearer %s", f->token);
    assert_int_equal(check(f, h, &u), 0); /* cached now */
    assert_int_equal(store_data_version(f->s, &before, &err), 0);
    other = store_open("sqlite", f->path, 0, &err);
    assert_non_null(other);
    assert_int_equal(auth_token_id(f->token, strlen(f->token), id), 0);
    assert_int_equal(store_token_revoke(other, id, &err), 0);
    store_close(other);
    /* still cached: what the signal is for */
    assert_int_equal(check(f, h, &u), 0);
    assert_int_equal(store_data_version(f->s, &after, &err), 0);
    assert_true(after != before);
    auth_cache_invalidate(f->cache);
    assert_int_equal(check(f, h, &u), -1);
    /* bob's check, cached before, is loaded again and still good */
    snprintf(h, sizeof(h), "Bearer %s", f->other);
    assert_int_equal(check(f, h, &u), 0);
    assert_string_equal(u.name, "bob");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_good, setup, teardown),
            cmocka_unit_test_setup_teardown(test_basic_names_the_token_user, setup, teardown),
            cmocka_unit_test_setup_teardown(test_bad_headers, setup, teardown),
            cmocka_unit_test_setup_teardown(test_revoked_elsewhere, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
