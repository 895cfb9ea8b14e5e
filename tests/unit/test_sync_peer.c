/*
 * What sync/ makes of what a peer or an operator gives it, without a
 * network: the TAXII error resource of a failed answer (escaped strings,
 * control characters, bodies that are not one, caps), the error and 401
 * hint built from it, peer URLs with credentials in them, and token files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_peers.h"
#include "sync/sync_int.h"

struct error_case {
    const char *body;
    const char *want; /* peer_taxii_error's text */
};

static void taxii_error_table(void **state)
{
    static const struct error_case cases[] = {
            {"{\"title\":\"Unauthorized\",\"description\":\"bad "
             "password\",\"http_status\":\"401\"}",
             "Unauthorized: bad password"},
            /* the same with JSON escapes: read decoded */
            {"{\"title\":\"\\u0055nauthorized\",\"description\":\"bad\\u0020password\"}",
             "Unauthorized: bad password"},
            {"{\"title\":\"Not found\"}", "Not found"},
            /* control characters and what is not ASCII become '?' */
            {"{\"title\":\"a\\u001b[31mb\",\"description\":\"line\\nbreak \\u00e9\"}",
             "a?[31mb: line?break ??"},
            /* not an error resource */
            {"{\"description\":\"no title\"}", ""},
            {"{\"title\":42}", ""},
            {"[\"title\"]", ""},
            {"<html>Unauthorized</html>", ""},
            {"", ""},
            {"{\"title\":\"x\",\"title\":\"y\"}", ""},
    };
    char out[400];

    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        peer_taxii_error(cases[i].body, strlen(cases[i].body), out, sizeof(out));
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, out, cases[i].want);
    }
}

static void taxii_error_caps(void **state)
{
    char title[SYNC_ERROR_TITLE_MAX + 50], body[SYNC_MAX_ERROR_BODY + 64], out[600];
    size_t n;

    (void)state;

    /* a long title is cut at its cap */
    memset(title, 'T', sizeof(title) - 1);
    title[sizeof(title) - 1] = '\0';
    snprintf(body, sizeof(body), "{\"title\":\"%s\"}", title);
    peer_taxii_error(body, strlen(body), out, sizeof(out));
    assert_int_equal(strlen(out), SYNC_ERROR_TITLE_MAX);
    /* a body over SYNC_MAX_ERROR_BODY is not read */
    n = (size_t)snprintf(body, sizeof(body), "{\"title\":\"big\",\"pad\":\"");
    memset(body + n, 'p', SYNC_MAX_ERROR_BODY);
    n += SYNC_MAX_ERROR_BODY;
    memcpy(body + n, "\"}", 3);
    peer_taxii_error(body, n + 2, out, sizeof(out));
    assert_string_equal(out, "");
    /* a small output buffer */
    peer_taxii_error("{\"title\":\"Unauthorized\"}", 24, out, 5);
    assert_string_equal(out, "Unau");
}

static void status_error_hint(void **state)
{
    struct peer_client c;
    struct peer_response r;
    struct kz_error err;
    const char *body = "{\"title\":\"\\u0055nauthorized\",\"description\":\"expired\"}";

    (void)state;

    memset(&c, 0, sizeof(c));
    memset(&r, 0, sizeof(r));
    snprintf(c.name, sizeof(c.name), "med");
    kz_buf_init(&r.body, 4096);
    kz_buf_add(&r.body, body, strlen(body));
    r.status = 401;
    kz_error_clear(&err);
    assert_int_equal(
            peer_status_error(&c, "GET", "https://h/api1/collections/x/objects/?limit=1", &r, &err),
            -1);
    assert_non_null(strstr(err.text, "GET https://h/api1/collections/x/objects/: HTTP 401: "
                                     "Unauthorized: expired; "));
    assert_null(strstr(err.text, "limit=1")); /* the query is left out */
    assert_non_null(strstr(err.text, "kizuna peer credentials med --token-file"));
    assert_non_null(strstr(err.text, "sent as Bearer"));
    snprintf(c.user, sizeof(c.user), "alice");
    assert_int_equal(peer_status_error(&c, "GET", "https://h/api1/", &r, &err), -1);
    assert_non_null(strstr(err.text, "sent as HTTP Basic"));
    /* not 401: no hint about credentials */
    r.status = 404;
    peer_status_error(&c, "GET", "https://h/api1/", &r, &err);
    assert_string_equal(err.text, "GET https://h/api1/: HTTP 404: Unauthorized: expired");
    kz_buf_free(&r.body);
}

static void url_credentials(void **state)
{
    static const char *const refused[] = {
            "https://alice:Secret-9@taxii.example/api1/", "http://alice:Secret-9@127.0.0.1:9/api1/",
            "https://alice@taxii.example/api1/",          "https://:Secret-9@taxii.example/api1/",
            "http://alice:Secret-9@evil.example/api1/",
    };
    struct kz_error err;

    (void)state;

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        kz_error_clear(&err);
        if (sync_url_ok(refused[i], &err) == 0)
            fail_msg("%s was accepted", refused[i]);
        assert_null(strstr(err.text, "Secret-9"));
    }
    kz_error_clear(&err);
    assert_int_equal(sync_url_ok("https://alice:Secret-9@taxii.example/api1/", &err), -1);
    assert_non_null(strstr(err.text, "--user"));
    assert_non_null(strstr(err.text, "--token-file"));
    assert_int_equal(sync_url_ok("https://taxii.example/api1/", &err), 0);
    assert_int_equal(sync_url_ok("http://127.0.0.1:9/api1/", &err), 0);
}

struct token_case {
    const char *content;
    const char *want; /* NULL: refused */
};

static void token_file(void **state)
{
    static const struct token_case cases[] = {
            {"kz_abc\n", "kz_abc"},
            {"kz_abc", "kz_abc"},
            {"kz_abc\r\n", "kz_abc"},
            {"kz_abc\n\n  \n", "kz_abc"},
            {"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc-_\n",
             "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc-_"},
            {"", NULL},
            {"\n", NULL},
            {"kz_abc\nsecond\n", NULL},
            {"kz abc\n", NULL},
            {"kz_\tabc\n", NULL},
            {"kz_\x01\n", NULL},
    };
    char path[] = "/tmp/kz-token-XXXXXX", out[STORE_PEER_TOKEN_MAX];
    struct kz_error err;

    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int fd = mkstemp(path);
        FILE *f;
        int rc;

        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        fputs(cases[i].content, f);
        fclose(f);
        kz_error_clear(&err);
        rc = sync_token_read(path, out, sizeof(out), &err);
        unlink(path);
        snprintf(path, sizeof(path), "/tmp/kz-token-XXXXXX");
        if (!cases[i].want) {
            if (rc == 0)
                fail_msg("case %zu was accepted as \"%s\"", i, out);
            continue;
        }
        if (rc != 0)
            fail_msg("case %zu: %s", i, err.text);
        assert_string_equal(out, cases[i].want);
    }
    /* longer than the buffer, and a file that is not there */
    assert_int_equal(sync_token_read("/nonexistent/kz-token", out, sizeof(out), &err), -1);
    {
        int fd = mkstemp(path);
        FILE *f = fdopen(fd, "w");
        for (int i = 0; i < STORE_PEER_TOKEN_MAX + 10; i++)
            fputc('a', f);
        fclose(f);
        assert_int_equal(sync_token_read(path, out, sizeof(out), &err), -1);
        unlink(path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(taxii_error_table), cmocka_unit_test(taxii_error_caps),
            cmocka_unit_test(status_error_hint), cmocka_unit_test(url_credentials),
            cmocka_unit_test(token_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
