/*
 * kizuna.conf's [server] public_url and the base URL a node advertises
 * (node_public_url), as tables: values that are accepted (and how they are
 * stored) beside values that must stop the node with the key named, and the
 * URL derived from a listen address, a bound port and TLS when no
 * public_url is set; and [store]: where a PostgreSQL store's DSN comes
 * from (store.dsn, KIZUNA_DSN) and the mistakes that stop a node.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/node.h"

static int parse_url(const char *value, struct node_config *cfg, struct kz_error *err)
{
    char text[1024];

    snprintf(text, sizeof(text), "[server]\npublic_url = %s\n", value);
    kz_error_clear(err);
    return node_config_parse(text, "/tmp/home", cfg, err);
}

static void test_public_url_accepted(void **state)
{
    static const char *const cases[][2] = {
            {"https://kizuna.example.org:8470", "https://kizuna.example.org:8470"},
            {"https://kizuna.example.org:8470/", "https://kizuna.example.org:8470"},
            {"http://127.0.0.1:8470", "http://127.0.0.1:8470"},
            {"https://[2001:db8::1]:8470", "https://[2001:db8::1]:8470"},
            {"https://cti.example.org/taxii-proxy/", "https://cti.example.org/taxii-proxy"},
            {"https://cti.example.org", "https://cti.example.org"},
            {"", ""},
    };
    struct node_config cfg;
    struct kz_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (parse_url(cases[i][0], &cfg, &err) != 0)
            fail_msg("\"%s\" was refused: %s", cases[i][0], err.text);
        assert_string_equal(cfg.public_url, cases[i][1]);
    }
    /* absent: derived */
    assert_int_equal(node_config_parse("[server]\nlisten = 127.0.0.1:9\n", "/h", &cfg, &err), 0);
    assert_string_equal(cfg.public_url, "");
}

static void test_public_url_refused(void **state)
{
    static const char *const cases[] = {
            "kizuna.example.org:8470",
            "ftp://kizuna.example.org",
            "https://",
            "https:///path",
            "https://:8470",
            "https://user@kizuna.example.org",
            "https://kizuna.example.org/?q=1",
            "https://kizuna.example.org/#x",
            "https://kizuna.example.org/a b",
            "https://kizuna.example.org/\"><script>",
            "https://kizuna.example.org\\@evil",
            "HTTPS://kizuna.example.org",
    };
    struct node_config cfg;
    struct kz_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (parse_url(cases[i], &cfg, &err) == 0)
            fail_msg("\"%s\" was accepted as \"%s\"", cases[i], cfg.public_url);
        assert_int_equal(err.code, KZ_EINVALID);
        assert_non_null(strstr(err.text, "server.public_url"));
    }
    /* longer than any URL kept (inih refuses the line first) */
    {
        char v[400];
        memset(v, 'x', sizeof(v) - 1);
        v[sizeof(v) - 1] = '\0';
        memcpy(v, "https://k.example/", 18);
        assert_int_equal(parse_url(v, &cfg, &err), -1);
    }
}

static void test_derived(void **state)
{
    static const struct {
        const char *listen;
        unsigned port;
        int tls;
        const char *want;
    } cases[] = {
            {"127.0.0.1:8470", 0, 0, "http://127.0.0.1:8470"},
            {"127.0.0.1:8470", 0, 1, "https://127.0.0.1:8470"},
            {"127.0.0.1:0", 41234, 0, "http://127.0.0.1:41234"},
            {"127.0.0.1:8470", 9000, 0, "http://127.0.0.1:9000"},
            {"[::1]:8470", 0, 1, "https://[::1]:8470"},
            {"192.0.2.10:443", 0, 1, "https://192.0.2.10:443"},
            {"localhost:8470", 0, 0, "http://localhost:8470"},
    };
    struct node_config cfg;
    char out[NODE_URL_MAX];

    (void)state;
    node_config_defaults(&cfg, "/tmp/home");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(node_public_url(&cfg, cases[i].listen, cases[i].port, cases[i].tls, out,
                                         sizeof(out)),
                         0);
        assert_string_equal(out, cases[i].want);
    }
    assert_int_equal(node_public_url(&cfg, "no-port", 0, 0, out, sizeof(out)), -1);
    assert_int_equal(node_public_url(&cfg, "[::1]8470", 0, 0, out, sizeof(out)), -1);
    assert_int_equal(node_public_url(&cfg, "127.0.0.1:x", 0, 0, out, sizeof(out)), -1);
    assert_int_equal(node_public_url(&cfg, "127.0.0.1:8470", 0, 0, out, 8), -1);
}

static void test_wildcard_is_the_host_name(void **state)
{
    struct node_config cfg;
    char out[NODE_URL_MAX], host[256], want[NODE_URL_MAX + 300];

    (void)state;
    node_config_defaults(&cfg, "/tmp/home");
    if (gethostname(host, sizeof(host)) != 0 || !host[0] ||
        strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
                strlen(host))
        snprintf(host, sizeof(host), "localhost");
    snprintf(want, sizeof(want), "https://%s:8470", host);
    assert_int_equal(node_public_url(&cfg, "0.0.0.0:8470", 0, 1, out, sizeof(out)), 0);
    assert_string_equal(out, want);
    assert_int_equal(node_public_url(&cfg, "[::]:8470", 0, 1, out, sizeof(out)), 0);
    assert_string_equal(out, want);
    assert_int_equal(node_public_url(&cfg, ":8470", 0, 1, out, sizeof(out)), 0);
    assert_string_equal(out, want);
}

static void test_configured_wins(void **state)
{
    struct node_config cfg;
    struct kz_error err;
    char out[NODE_URL_MAX];

    (void)state;
    assert_int_equal(parse_url("https://kizuna.example.org:8470/", &cfg, &err), 0);
    assert_int_equal(node_public_url(&cfg, "0.0.0.0:9999", 9999, 0, out, sizeof(out)), 0);
    assert_string_equal(out, "https://kizuna.example.org:8470");
}

/* A reload tells live settings from those that need a restart, and an
 * unchanged file from a changed one (strings compared up to their NUL). */
static void test_diff(void **state)
{
    struct node_config a, b;
    struct kz_error err;
    char live[512], restart[512];

    (void)state;
    assert_int_equal(node_config_parse("[server]\nlisten = 127.0.0.1:9000\n", "/h", &a, &err), 0);
    assert_int_equal(node_config_parse("[server]\nlisten = 127.0.0.1:9000\n", "/h", &b, &err), 0);
    node_config_diff(&a, &b, live, sizeof(live), restart, sizeof(restart));
    assert_string_equal(live, "");
    assert_string_equal(restart, "");
    assert_int_equal(node_config_parse("[server]\nlisten = 127.0.0.1:9\nmax_content_length = "
                                       "2048\ncache = off\n[sync]\ninterval = 60\n",
                                       "/h", &b, &err),
                     0);
    node_config_diff(&a, &b, live, sizeof(live), restart, sizeof(restart));
    assert_string_equal(live, "server.cache, server.max_content_length");
    assert_string_equal(restart, "server.listen, sync.interval");
    /* a shorter string written over a longer one is still equal to itself */
    snprintf(b.listen, sizeof(b.listen), "%s", "127.0.0.1:9000-and-more");
    snprintf(b.listen, sizeof(b.listen), "%s", "127.0.0.1:9000");
    b.sync_interval = a.sync_interval;
    node_config_diff(&a, &b, live, sizeof(live), restart, sizeof(restart));
    assert_string_equal(restart, "");
}

/* The store's location: a file in the home for SQLite; for PostgreSQL the
 * DSN, from the file or KIZUNA_DSN, for the store and the audit log. */
static void test_store_location(void **state)
{
    struct node_config cfg;
    struct kz_error err;

    (void)state;
    unsetenv("KIZUNA_DSN");
    assert_int_equal(node_config_parse("", "/h", &cfg, &err), 0);
    assert_string_equal(cfg.store_backend, "sqlite");
    assert_string_equal(cfg.store_path, "/h/kizuna.db");
    assert_string_equal(cfg.audit_path, "/h/audit.db");
    assert_int_equal(node_config_parse("[store]\nbackend = postgresql\ndsn = host=db dbname=k\n",
                                       "/h", &cfg, &err),
                     0);
    assert_string_equal(cfg.store_path, "host=db dbname=k");
    assert_string_equal(cfg.audit_path, "host=db dbname=k");
    /* from the environment, so that the password need not sit in the file */
    setenv("KIZUNA_DSN", "host=db dbname=k password=p", 1);
    assert_int_equal(node_config_parse("[store]\nbackend = postgresql\n", "/h", &cfg, &err), 0);
    assert_string_equal(cfg.store_path, "host=db dbname=k password=p");
    assert_string_equal(cfg.store_dsn, "");
    /* KIZUNA_DSN means nothing to a SQLite node */
    assert_int_equal(node_config_parse("", "/h", &cfg, &err), 0);
    assert_string_equal(cfg.store_path, "/h/kizuna.db");
    unsetenv("KIZUNA_DSN");
}

static void test_store_refused(void **state)
{
    static const struct {
        const char *text, *env, *message;
    } cases[] = {
            {"[store]\nbackend = postgresql\n", NULL, "needs store.dsn or KIZUNA_DSN"},
            {"[store]\nbackend = postgresql\n", "", "needs store.dsn or KIZUNA_DSN"},
            {"[store]\ndsn = host=db\n", NULL, "store.dsn: only for backend = postgresql"},
            {"[store]\nbackend = postgres\n", NULL, "\"postgres\" is not sqlite or postgresql"},
            {"[store]\nbackend = postgresql\ndsn = host=a\n", "host=b",
             "store.dsn and KIZUNA_DSN are both set and differ"},
    };
    struct node_config cfg;
    struct kz_error err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].env)
            setenv("KIZUNA_DSN", cases[i].env, 1);
        else
            unsetenv("KIZUNA_DSN");
        kz_error_clear(&err);
        if (node_config_parse(cases[i].text, "/h", &cfg, &err) == 0)
            fail_msg("case %zu was accepted", i);
        if (!strstr(err.text, cases[i].message))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.text, cases[i].message);
    }
    unsetenv("KIZUNA_DSN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_public_url_accepted),
            cmocka_unit_test(test_public_url_refused),
            cmocka_unit_test(test_derived),
            cmocka_unit_test(test_wildcard_is_the_host_name),
            cmocka_unit_test(test_configured_wins),
            cmocka_unit_test(test_diff),
            cmocka_unit_test(test_store_location),
            cmocka_unit_test(test_store_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
