/*
 * The store contract, on SQLite and PostgreSQL: accounts and collections,
 * duplicates and conflicts, version flags (first/last), unique increasing
 * date_added, the TAXII filters, pagination and rollback; and that the id
 * index (a database of its own) is brought level after a crash between
 * its commit and the objects'; and that a store opened for its audit
 * concern only (store_open_audit) makes no id index and shares the file
 * format of a whole store.
 *
 * One suite for every backend: the cases of the concerns a backend
 * implements run against each (BOTH_BACKENDS below), with the same
 * answers expected; SQLite's own mechanisms (the id index, the file
 * format) and the peers and audit log, which the PostgreSQL backend does
 * not carry yet, run on SQLite only, PostgreSQL's own (migrations, dates
 * added across servers) on PostgreSQL only. The
 * PostgreSQL cases use the server named by KZ_TEST_PG_DSN (a DSN that may
 * create databases) or start a throw-away one with tests/pglib.sh, each
 * case in a database of its own; they are skipped when no PostgreSQL is
 * installed or kizuna was built without it (and fail instead when
 * KZ_TEST_PG_REQUIRED is set).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef KZ_WITH_POSTGRESQL
#include <libpq-fe.h>
#endif

#include "audit/audit.h"
#include "auth/auth.h"
#include "auth/token.h"
#include "json/json.h"
#include "stix/stix.h"
#include "store/store.h"
#include "store/store_accounts.h"
#include "store/store_audit.h"
#include "store/store_blobs.h"
#include "store/store_grants.h"
#include "store/store_objects.h"
#include "store/store_peers.h"
#include "store/store_remove.h"
#include "store/store_status.h"
#include "store_files.h"
#include "util/kztime.h"

struct fixture {
    char dir[64];
    char path[128];
    const char *backend;
    char location[600]; /* what store_open was given: a path or a DSN */
    char db[32];        /* PostgreSQL: the case's own database */
    struct store *s;    /* NULL: the backend is not available, skip */
    int64_t coll;
    struct kzj_doc doc;
};

/* --- PostgreSQL for the cases: a server, a database per case ------------- */

static char pg_admin[512]; /* DSN of a database on a server we may create in; "" none */

#ifdef KZ_WITH_POSTGRESQL
static char pg_dir[64]; /* the throw-away cluster's folder, when we started one */
static int pg_cases;

/* Runs sql on the admin connection (no parameters: names we made). */
static int pg_admin_exec(const char *sql)
{
    PGconn *c = PQconnectdb(pg_admin);
    PGresult *r = NULL;
    int ok = 0;

    if (PQstatus(c) == CONNECTION_OK) {
        r = PQexec(c, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            fprintf(stderr, "# %s: %s", sql, PQresultErrorMessage(r));
    }
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

/* Starts PostgreSQL for the suite, unless KZ_TEST_PG_DSN names one. */
static void pg_start(void)
{
    const char *env = getenv("KZ_TEST_PG_DSN"), *src = getenv("KZ_SOURCE_DIR");
    char cmd[512];
    FILE *p;

    if (env && *env) {
        snprintf(pg_admin, sizeof(pg_admin), "%s", env);
        return;
    }
    if (!src) {
        fprintf(stderr, "# KZ_SOURCE_DIR not set: the PostgreSQL cases are skipped\n");
        return;
    }
    snprintf(pg_dir, sizeof(pg_dir), "/tmp/kz-pg-XXXXXX");
    if (!mkdtemp(pg_dir)) {
        pg_dir[0] = '\0';
        return;
    }
    snprintf(cmd, sizeof(cmd), "sh '%s/tests/pglib.sh' start '%s'", src, pg_dir);
    p = popen(cmd, "r");
    if (p && fgets(pg_admin, sizeof(pg_admin), p))
        pg_admin[strcspn(pg_admin, "\n")] = '\0';
    if (!p || pclose(p) != 0) {
        fprintf(stderr, "# no PostgreSQL could be started: the PostgreSQL cases are skipped\n");
        pg_admin[0] = '\0';
    }
}

static void pg_stop(void)
{
    char cmd[512];

    if (!pg_dir[0])
        return;
    snprintf(cmd, sizeof(cmd), "sh '%s/tests/pglib.sh' stop '%s'", getenv("KZ_SOURCE_DIR"), pg_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "# stopping PostgreSQL in %s failed\n", pg_dir);
}

/* A new empty database; fills f->db and f->location. */
static int pg_new_database(struct fixture *f)
{
    char sql[96];

    snprintf(f->db, sizeof(f->db), "kz_case_%d_%d", (int)getpid(), ++pg_cases);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->db);
    if (pg_admin_exec(sql) < 0)
        return -1;
    snprintf(f->location, sizeof(f->location), "%s dbname=%s", pg_admin, f->db);
    return 0;
}

static void pg_drop_database(struct fixture *f)
{
    char sql[96];

    if (!f->db[0])
        return;
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->db);
    pg_admin_exec(sql);
}
#else
static void pg_start(void)
{
    fprintf(stderr, "# built without PostgreSQL: the PostgreSQL cases are skipped\n");
}
static void pg_stop(void)
{
}
static int pg_new_database(struct fixture *f)
{
    (void)f;
    return -1;
}
static void pg_drop_database(struct fixture *f)
{
    (void)f;
}
#endif

/* Opens a new store of the fixture's backend with one API root and one
 * collection. */
static int setup_on(void **state, const char *backend)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct kz_error err;
    struct store_api_root root = {.name = "default", .max_content_length = 1 << 20};
    struct store_collection c = {.alias = "intel", .api_root = "default"};

    if (!f)
        return -1;
    f->backend = backend;
    kzj_doc_init(&f->doc);
    *state = f;
    if (strcmp(backend, "sqlite") == 0) {
        snprintf(f->dir, sizeof(f->dir), "/tmp/kz-store-XXXXXX");
        if (!mkdtemp(f->dir))
            return -1;
        snprintf(f->path, sizeof(f->path), "%s/kizuna.db", f->dir);
        snprintf(f->location, sizeof(f->location), "%s", f->path);
    } else if (!pg_admin[0] || pg_new_database(f) < 0)
        return 0; /* not available: the case skips */
    f->s = store_open(backend, f->location, 1, &err);
    if (!f->s) {
        fprintf(stderr, "# store_open(%s): %s\n", backend, err.text);
        return -1;
    }
    if (store_api_root_add(f->s, &root, &err) < 0 || store_collection_add(f->s, &c, &err) < 0)
        return -1;
    f->coll = c.key;
    return 0;
}

static int setup(void **state)
{
    return setup_on(state, "sqlite");
}

static int setup_pg(void **state)
{
    return setup_on(state, "postgresql");
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    store_close(f->s);
    kzj_doc_free(&f->doc);
    if (f->dir[0]) {
        remove_store_files(f->path);
        rmdir(f->dir);
    }
    pg_drop_database(f);
    free(f);
    return 0;
}

/* The fixture of a case that runs on every backend; skips the case when
 * its backend is not available here. */
static struct fixture *fixture(void **state)
{
    struct fixture *f = *state;

    if (!f->s)
        skip();
    return f;
}

/* Stores one object given as JSON text; returns the put's status. */
static int put(struct fixture *f, const char *json, enum store_put_result *res, int64_t *added,
               struct kz_error *err)
{
    struct stix_obj o;
    int rc;

    assert_int_equal(kzj_parse(&f->doc, json, strlen(json), err), 0);
    assert_int_equal(stix_obj_read(&f->doc, 0, &o, err), 0);
    assert_int_equal(store_begin(f->s, err), 0);
    rc = store_put(f->s, f->coll, &o, json, strlen(json), NULL, res, added, err);
    if (rc == 0)
        assert_int_equal(store_commit(f->s, err), 0);
    else
        store_rollback(f->s);
    return rc;
}

#define IND_ID "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
#define IND(mod, name)                                                                             \
    "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"" IND_ID                            \
    "\",\"created\":\"2016-04-06T20:03:48.000Z\",\"modified\":\"" mod "\",\"name\":\"" name        \
    "\",\"pattern\":\"[ipv4-addr:value = '1.2.3.4']\",\"pattern_type\":"                           \
    "\"stix\",\"valid_from\":\"2016-01-01T00:00:00Z\"}"

struct collect {
    char ids[64][80];
    char versions[64][40];
    int64_t added[64];
    int n;
};

static int on_row(void *ctx, const struct store_row *r, struct kz_error *err)
{
    struct collect *c = ctx;

    (void)err;
    if (c->n < 64) {
        snprintf(c->ids[c->n], sizeof(c->ids[0]), "%s", r->id);
        snprintf(c->versions[c->n], sizeof(c->versions[0]), "%s", r->version);
        c->added[c->n] = r->added;
        c->n++;
    }
    return 0;
}

static void list(struct fixture *f, struct store_filter *flt, struct collect *c,
                 struct store_page *page)
{
    struct kz_error err;

    memset(c, 0, sizeof(*c));
    if (!flt->vis.active)
        store_filter_everything(flt); /* these tests read the store as its operator */
    if (store_list(f->s, flt, 1, on_row, c, page, &err) < 0)
        fail_msg("list: %s", err.text);
}

/* A listing nobody put a visibility on is refused: a path that forgets the
 * policy fails closed instead of listing every object (issue 11). */
static void test_list_needs_visibility(void **state)
{
    struct fixture *f = fixture(state);
    struct store_filter flt;
    struct store_page page;
    struct kz_error err;
    struct collect c;
    enum store_put_result res;
    int64_t a1;

    assert_int_equal(put(f, IND("2017-01-01T00:00:00.000Z", "v1"), &res, &a1, &err), 0);
    store_filter_init(&flt, f->coll);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_list(f->s, &flt, 1, on_row, &c, &page, &err), -1);
    assert_int_equal(err.code, KZ_EINTERNAL);
    assert_int_equal(c.n, 0);
    store_filter_everything(&flt);
    assert_int_equal(store_list(f->s, &flt, 1, on_row, &c, &page, &err), 0);
    assert_int_equal(c.n, 1);
}

/* A listing's callback: counts rows, and answers `answer` at row `at`. */
struct walk_probe {
    int seen;
    int at;
    int answer;
};

static int probe_org(void *ctx, const struct store_org *o)
{
    struct walk_probe *p = ctx;

    (void)o;
    return ++p->seen == p->at ? p->answer : 0;
}

/* A callback's failure is the listing's failure (it used to become a
 * success), and STORE_STOP ends a listing early as a success. */
static void test_listing_callbacks(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    struct walk_probe p;
    const char *names[] = {"a-org", "b-org", "c-org"};

    for (int i = 0; i < 3; i++) {
        struct store_org org = {.kind = "cert"};
        snprintf(org.name, sizeof(org.name), "%s", names[i]);
        assert_int_equal(store_org_add(f->s, &org, &err), 0);
    }
    p = (struct walk_probe){.at = 0};
    assert_int_equal(store_org_each(f->s, probe_org, &p, &err), 0);
    assert_true(p.seen >= 3);
    p = (struct walk_probe){.at = 2, .answer = STORE_STOP};
    assert_int_equal(store_org_each(f->s, probe_org, &p, &err), 0);
    assert_int_equal(p.seen, 2);
    p = (struct walk_probe){.at = 2, .answer = -1};
    assert_int_equal(store_org_each(f->s, probe_org, &p, &err), -1);
    assert_int_equal(p.seen, 2);
}

static void test_accounts(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    struct store_org org = {.name = "cert-in", .country = "IN", .kind = "cert"}, o2;
    struct store_user u = {.name = "asha", .role = "contributor"}, u2;
    struct store_token t = {.token_id = "0123456789abcdef"}, t2;

    assert_int_equal(store_org_add(f->s, &org, &err), 0);
    assert_non_null(strstr(org.identity, "identity--"));
    assert_int_equal(store_org_add(f->s, &org, &err), -1);
    assert_int_equal(err.code, KZ_EEXISTS);
    assert_int_equal(store_org_find(f->s, "cert-in", &o2, &err), 0);
    assert_string_equal(o2.country, "IN");
    assert_int_equal(store_org_find(f->s, "nisc", &o2, &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);
    u.org = org.key;
    assert_int_equal(store_user_add(f->s, &u, &err), 0);
    assert_int_equal(store_user_find(f->s, "asha", &u2, &err), 0);
    assert_string_equal(u2.org_name, "cert-in");
    assert_string_equal(u2.role, "contributor");
    assert_int_equal(store_user_get(f->s, u.key, &u2, &err), 0);
    t.user = u.key;
    memset(t.hash, 7, sizeof(t.hash));
    assert_int_equal(store_token_add(f->s, &t, &err), 0);
    assert_int_equal(store_token_find(f->s, "0123456789abcdef", &t2, &err), 0);
    assert_int_equal(t2.user, u.key);
    assert_int_equal(t2.revoked_us, 0);
    assert_memory_equal(t2.hash, t.hash, sizeof(t.hash));
    assert_int_equal(store_token_revoke(f->s, "0123456789abcdef", &err), 0);
    assert_int_equal(store_token_find(f->s, "0123456789abcdef", &t2, &err), 0);
    assert_true(t2.revoked_us > 0);
    assert_int_equal(store_token_revoke(f->s, "0123456789abcdef", &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);
}

/* Removing: what depends on the removed thing goes with it, an
 * organisation with users is refused, removals need a transaction, and the
 * key of the newest removed row is never given again (SQLite would hand out
 * max(key) + 1 once more, so an old grant or recipient row would name the
 * newcomer). */
static void test_remove_and_keys(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    struct store_org a = {.name = "a"}, b = {.name = "b"}, c = {.name = "c"};
    struct store_user u = {.name = "u", .role = "reader"}, v = {.name = "v", .role = "reader"}, got;
    struct store_token t = {.token_id = "00112233445566aa"};
    struct store_grant g = {.collection = f->coll, .kind = STORE_GRANT_USER, .can_read = 1};
    struct store_refs refs;

    assert_int_equal(store_org_add(f->s, &a, &err), 0);
    assert_int_equal(store_org_add(f->s, &b, &err), 0);
    u.org = b.key;
    assert_int_equal(store_user_add(f->s, &u, &err), 0);
    t.user = u.key;
    assert_int_equal(store_token_add(f->s, &t, &err), 0);
    g.subject = u.key;
    assert_int_equal(store_grant_set(f->s, &g, &err), 0);
    assert_int_equal(store_refs_count(f->s, STORE_ENTITY_USER, u.key, &refs, &err), 0);
    assert_int_equal(refs.tokens, 1);
    assert_int_equal(refs.grants, 1);
    /* disabled, and back */
    assert_int_equal(store_user_update(f->s, u.key, NULL, 1, &err), 0);
    assert_int_equal(store_user_get(f->s, u.key, &got, &err), 0);
    assert_true(got.disabled);
    assert_int_equal(store_user_update(f->s, u.key, "contributor", 0, &err), 0);
    assert_int_equal(store_user_get(f->s, u.key, &got, &err), 0);
    assert_false(got.disabled);
    assert_string_equal(got.role, "contributor");
    assert_int_equal(store_user_update(f->s, 999, NULL, 1, &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);
    /* outside a transaction: refused */
    assert_int_equal(store_remove(f->s, STORE_ENTITY_USER, u.key, &err), -1);
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_remove(f->s, STORE_ENTITY_ORG, b.key, &err), -1);
    assert_int_equal(err.code, KZ_ECONFLICT);
    assert_int_equal(store_remove(f->s, STORE_ENTITY_USER, u.key, &err), 0);
    assert_int_equal(store_remove(f->s, STORE_ENTITY_ORG, b.key, &err), 0);
    assert_int_equal(store_remove(f->s, STORE_ENTITY_ORG, b.key, &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);
    assert_int_equal(store_commit(f->s, &err), 0);
    assert_int_equal(store_token_find(f->s, "00112233445566aa", &t, &err), -1);
    assert_int_equal(store_refs_count(f->s, STORE_ENTITY_USER, u.key, &refs, &err), 0);
    assert_int_equal(refs.grants, 0);
    /* the newest keys removed are not handed out again */
    assert_int_equal(store_org_add(f->s, &c, &err), 0);
    assert_true(c.key > b.key);
    v.org = c.key;
    assert_int_equal(store_user_add(f->s, &v, &err), 0);
    assert_true(v.key > u.key);
}

static void test_collections(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    struct store_collection c = {.alias = "intel", .api_root = "default"}, found;

    assert_int_equal(store_collection_add(f->s, &c, &err), -1);
    assert_int_equal(err.code, KZ_EEXISTS);
    assert_int_equal(store_collection_find(f->s, "default", "intel", &found, &err), 0);
    assert_int_equal(found.key, f->coll);
    assert_int_equal(store_collection_find(f->s, NULL, found.id, &found, &err), 0);
    assert_int_equal(found.key, f->coll);
    assert_int_equal(store_collection_find(f->s, "other", "intel", &found, &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);
}

static void test_duplicates_and_conflicts(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    enum store_put_result res;
    int64_t a1, a2;
    /* the same object with its members in another order */
    const char *reordered =
            "{\"id\":\"" IND_ID "\",\"type\":\"indicator\","
            "\"spec_version\":\"2.1\",\"created\":\"2016-04-06T20:03:48.000Z\",\"modified\":"
            "\"2016-04-06T20:03:48.000Z\",\"name\":\"a\",\"pattern\":\"[ipv4-addr:value = "
            "'1.2.3.4']\",\"pattern_type\":\"stix\",\"valid_from\":\"2016-01-01T00:00:00Z\"}";

    assert_int_equal(put(f, IND("2016-04-06T20:03:48.000Z", "a"), &res, &a1, &err), 0);
    assert_int_equal(res, STORE_ADDED);
    assert_int_equal(put(f, IND("2016-04-06T20:03:48.000Z", "a"), &res, &a2, &err), 0);
    assert_int_equal(res, STORE_DUPLICATE);
    assert_true(a1 == a2);
    assert_int_equal(put(f, reordered, &res, &a2, &err), 0);
    assert_int_equal(res, STORE_DUPLICATE);
    assert_int_equal(put(f, IND("2016-04-06T20:03:48.000Z", "changed"), &res, &a2, &err), -1);
    assert_int_equal(err.code, KZ_ECONFLICT);
}

static void test_versions(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    enum store_put_result res;
    int64_t a1, a3, a2;
    struct store_filter flt;
    struct store_page page;
    struct collect c;

    assert_int_equal(put(f, IND("2017-01-01T00:00:00.000Z", "v1"), &res, &a1, &err), 0);
    assert_int_equal(put(f, IND("2019-01-01T00:00:00.000Z", "v3"), &res, &a3, &err), 0);
    assert_int_equal(put(f, IND("2018-01-01T00:00:00.000Z", "v2"), &res, &a2, &err), 0);
    assert_true(a1 < a3 && a3 < a2);

    store_filter_init(&flt, f->coll);
    list(f, &flt, &c, &page); /* default: last */
    assert_int_equal(c.n, 1);
    assert_string_equal(c.versions[0], "2019-01-01T00:00:00.000Z");

    flt.versions = STORE_V_FIRST;
    list(f, &flt, &c, &page);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.versions[0], "2017-01-01T00:00:00.000Z");

    flt.versions = STORE_V_FIRST | STORE_V_LAST;
    list(f, &flt, &c, &page);
    assert_int_equal(c.n, 2);

    flt.versions = STORE_V_ALL;
    list(f, &flt, &c, &page);
    assert_int_equal(c.n, 3);
    assert_true(c.added[0] < c.added[1] && c.added[1] < c.added[2]); /* date-added order */
    assert_string_equal(c.versions[2], "2018-01-01T00:00:00.000Z");
    assert_true(page.first_added == a1 && page.last_added == a2);

    flt.versions = 0;
    flt.version_times[0] = 1514764800000000LL; /* 2018-01-01 */
    flt.nversion_times = 1;
    list(f, &flt, &c, &page);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.versions[0], "2018-01-01T00:00:00.000Z");
}

static void test_filters_and_pages(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    enum store_put_result res;
    int64_t added[10];
    char json[512];
    struct store_filter flt;
    struct store_page page;
    struct collect c;
    uint64_t count;

    for (int i = 0; i < 10; i++) {
        const char *type = i % 2 ? "malware" : "campaign";
        snprintf(json, sizeof(json),
                 "{\"type\":\"%s\",\"spec_version\":\"2.1\",\"id\":\"%s--0000000%d-0000-4000-"
                 "8000-000000000000\",\"created\":\"2020-01-01T00:00:00.000Z\",\"modified\":"
                 "\"2020-01-01T00:00:00.000Z\",\"name\":\"n%d\",\"is_family\":false}",
                 type, type, i, i);
        assert_int_equal(put(f, json, &res, &added[i], &err), 0);
        if (i)
            assert_true(added[i] > added[i - 1]);
    }
    assert_int_equal(store_count(f->s, f->coll, &count, &err), 0);
    assert_int_equal(count, 10);

    store_filter_init(&flt, f->coll);
    flt.types[0] = "malware";
    flt.ntypes = 1;
    list(f, &flt, &c, &page);
    assert_int_equal(c.n, 5);

    store_filter_init(&flt, f->coll);
    flt.ids[0] = "campaign--00000004-0000-4000-8000-000000000000";
    flt.ids[1] = "malware--00000005-0000-4000-8000-000000000000";
    flt.nids = 2;
    list(f, &flt, &c, &page);
    assert_int_equal(c.n, 2);

    /* pages of 3 by added_after never skip or repeat */
    store_filter_init(&flt, f->coll);
    flt.limit = 3;
    int seen = 0;
    for (;;) {
        list(f, &flt, &c, &page);
        for (int i = 0; i < c.n; i++)
            assert_true(c.added[i] == added[seen + i]);
        seen += c.n;
        if (!page.more)
            break;
        assert_int_equal(c.n, 3);
        flt.added_after = page.last_added;
    }
    assert_int_equal(seen, 10);

    store_filter_init(&flt, f->coll);
    flt.spec_versions[0] = "2.0";
    flt.nspec_versions = 1;
    list(f, &flt, &c, &page);
    assert_int_equal(c.n, 0);
}

static void test_rollback(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    struct stix_obj o;
    enum store_put_result res;
    int64_t added;
    uint64_t count;
    const char *json = IND("2016-04-06T20:03:48.000Z", "a");

    assert_int_equal(kzj_parse(&f->doc, json, strlen(json), &err), 0);
    assert_int_equal(stix_obj_read(&f->doc, 0, &o, &err), 0);
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_put(f->s, f->coll, &o, json, strlen(json), NULL, &res, &added, &err), 0);
    store_rollback(f->s);
    assert_int_equal(store_count(f->s, f->coll, &count, &err), 0);
    assert_int_equal(count, 0);
    /* a put outside a transaction is a programming error, reported */
    assert_int_equal(store_put(f->s, f->coll, &o, json, strlen(json), NULL, &res, &added, &err),
                     -1);
    assert_int_equal(err.code, KZ_EINTERNAL);
}

static void test_unversioned_sco(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    enum store_put_result res;
    int64_t a1, a2;
    struct store_filter flt;
    struct store_page page;
    struct collect c;
    const char *v1 = "{\"type\":\"ipv4-addr\",\"id\":\"ipv4-addr--ff26c055-6336-5bc5-b98d-"
                     "13d6226742dd\",\"value\":\"198.51.100.3\"}";
    const char *v2 = "{\"type\":\"ipv4-addr\",\"id\":\"ipv4-addr--ff26c055-6336-5bc5-b98d-"
                     "13d6226742dd\",\"value\":\"198.51.100.3\",\"x_seen\":2}";

    assert_int_equal(put(f, v1, &res, &a1, &err), 0);
    assert_int_equal(res, STORE_ADDED);
    assert_int_equal(put(f, v1, &res, &a2, &err), 0);
    assert_int_equal(res, STORE_DUPLICATE);
    assert_int_equal(put(f, v2, &res, &a2, &err), 0);
    assert_int_equal(res, STORE_ADDED);
    store_filter_init(&flt, f->coll);
    flt.versions = STORE_V_ALL;
    list(f, &flt, &c, &page);
    assert_int_equal(c.n, 2);
    /* the server-assigned version is a TAXII timestamp of the date added */
    assert_int_equal(strlen(c.versions[0]), 27);
    assert_true(c.versions[0][26] == 'Z');
}

#define OWN_ID "indicator--3b7f0c52-0d55-4d7e-9d4e-6f0a8c1e2b10"
#define OWN(mod, marking)                                                                          \
    "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"" OWN_ID                            \
    "\",\"created\":\"2016-04-06T20:03:48.000Z\",\"modified\":\"" mod "\",\"name\":\"x\","         \
    "\"created_by_ref\":\"identity--5f0d3c1e-8a4b-4c2d-9e6f-7a8b9c0d1e2f\","                       \
    "\"object_marking_refs\":[\"marking-definition--" marking "\"],"                               \
    "\"pattern\":\"[ipv4-addr:value = '1.2.3.4']\",\"pattern_type\":\"stix\","                     \
    "\"valid_from\":\"2016-01-01T00:00:00Z\"}"
#define RED_MARK   "e828b379-4e03-4974-9ac4-e53a884c97c1"
#define CLEAR_MARK "94868c89-83c2-464b-929b-a1a8aa3c8487"

static void put_from(struct fixture *f, const char *json, int64_t producer, int64_t origin)
{
    struct store_put_meta meta = {.producer = producer, .origin = origin};
    enum store_put_result res;
    struct stix_obj o;
    struct kz_error err;
    int64_t added;

    assert_int_equal(kzj_parse(&f->doc, json, strlen(json), &err), 0);
    assert_int_equal(stix_obj_read(&f->doc, 0, &o, &err), 0);
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_put(f->s, f->coll, &o, json, strlen(json), &meta, &res, &added, &err),
                     0);
    assert_int_equal(store_commit(f->s, &err), 0);
}

/* store_object_owner reads the oldest version's creator and producer; a
 * store_delete with a visibility removes only what it shows, or what came
 * from own_origin (a peer's tombstone). */
static void test_owner_and_scoped_delete(void **state)
{
    struct fixture *f = fixture(state);
    struct store_owner w;
    struct store_filter flt;
    struct store_page page;
    struct collect c;
    struct kz_error err;
    uint64_t deleted;

    assert_int_equal(store_object_owner(f->s, f->coll, OWN_ID, 0, &w, &err), 0);
    assert_false(w.exists);
    put_from(f, OWN("2016-04-07T00:00:00.000Z", RED_MARK), 7, 0);
    put_from(f, OWN("2016-04-08T00:00:00.000Z", RED_MARK), 8, 5);
    put_from(f, OWN("2016-04-09T00:00:00.000Z", CLEAR_MARK), 9, 0);
    assert_int_equal(store_object_owner(f->s, f->coll, OWN_ID, 0, &w, &err), 0);
    assert_true(w.exists);
    assert_false(w.has_version);
    assert_string_equal(w.created_by, "identity--5f0d3c1e-8a4b-4c2d-9e6f-7a8b9c0d1e2f");
    assert_int_equal(w.producer, 7);
    assert_int_equal(store_object_owner(f->s, f->coll, OWN_ID, 1460073600000000LL, &w, &err), 0);
    assert_true(w.has_version);
    assert_int_equal(store_object_owner(f->s, f->coll, OWN_ID, 1460073600000001LL, &w, &err), 0);
    assert_false(w.has_version);

    /* a peer (5) that sees TLP:CLEAR only deletes "every version" */
    store_filter_init(&flt, f->coll);
    flt.versions = STORE_V_ALL;
    flt.vis = (struct store_visibility){.active = 1,
                                        .max_level = STIX_TLP_CLEAR,
                                        .default_tlp = STIX_TLP_AMBER,
                                        .user = -1,
                                        .org = -1,
                                        .peer = 12345,
                                        .check_refs = 1};
    flt.own_origin = 5;
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_delete(f->s, f->coll, OWN_ID, &flt, &deleted, &err), 0);
    assert_int_equal(store_commit(f->s, &err), 0);
    assert_int_equal(deleted, 2);
    store_filter_init(&flt, f->coll);
    flt.versions = STORE_V_ALL;
    list(f, &flt, &c, &page);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.versions[0], "2016-04-07T00:00:00.000Z");
}

static void test_reopen_and_missing(void **state)
{
    struct fixture *f = *state;
    struct kz_error err;
    struct store *s2;

    s2 = store_open("sqlite", "/tmp/kz-store-does-not-exist/x.db", 0, &err);
    assert_null(s2);
    assert_int_equal(err.code, KZ_ENOTFOUND);
    s2 = store_open("nosuch", f->path, 0, &err);
    assert_null(s2);
    assert_int_equal(err.code, KZ_EUSAGE);
    s2 = store_open("sqlite", f->path, 0, &err); /* a second handle on the same file */
    assert_non_null(s2);
    store_close(s2);
}

/* Runs sql on the ids database directly, as a crash would have left it. */
static void on_ids(struct fixture *f, const char *sql)
{
    char path[160];
    sqlite3 *db;

    snprintf(path, sizeof(path), "%s-ids", f->path);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
}

static int64_t ids_count(struct fixture *f)
{
    char path[160];
    sqlite3 *db;
    sqlite3_stmt *q;
    int64_t n = -1;

    snprintf(path, sizeof(path), "%s-ids", f->path);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM ids", -1, &q, NULL), SQLITE_OK);
    if (sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

static void reopen(struct fixture *f)
{
    struct kz_error err;

    store_close(f->s);
    f->s = store_open("sqlite", f->path, 0, &err);
    if (!f->s)
        fail_msg("reopen: %s", err.text);
}

/* Whether id can be found by id (the id index's job). */
static int found(struct fixture *f, const char *id)
{
    struct store_filter flt;
    struct store_page page;
    struct collect c;

    store_filter_init(&flt, f->coll);
    flt.ids[0] = id;
    flt.nids = 1;
    flt.versions = STORE_V_ALL;
    list(f, &flt, &c, &page);
    return c.n;
}

#define OTHER_ID "indicator--11111111-2222-4333-8444-555555555555"
#define OTHER                                                                                      \
    "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"" OTHER_ID "\","                    \
    "\"created\":\"2020-01-01T00:00:00.000Z\",\"modified\":\"2020-01-01T00:00:00.000Z\","          \
    "\"pattern\":\"[ipv4-addr:value = '1.2.3.5']\",\"pattern_type\":\"stix\","                     \
    "\"valid_from\":\"2016-01-01T00:00:00Z\"}"

static void test_id_index_levelled(void **state)
{
    struct fixture *f = *state;
    struct kz_error err;
    enum store_put_result res;
    int64_t a1, a2, a3;
    char sql[256];
    struct store_filter flt;
    uint64_t deleted = 0;

    assert_int_equal(put(f, IND("2017-01-01T00:00:00.000Z", "v1"), &res, &a1, &err), 0);
    assert_int_equal(put(f, IND("2018-01-01T00:00:00.000Z", "v2"), &res, &a2, &err), 0);
    assert_int_equal(put(f, OTHER, &res, &a3, &err), 0);
    assert_int_equal(ids_count(f), 3);

    /* the ids commit of the last transaction was lost */
    store_close(f->s);
    f->s = NULL;
    snprintf(sql, sizeof(sql), "DELETE FROM ids WHERE added = %lld; UPDATE state SET upto = %lld",
             (long long)a3, (long long)a2);
    on_ids(f, sql);
    reopen(f);
    assert_int_equal(ids_count(f), 3);
    assert_int_equal(found(f, OTHER_ID), 1);
    assert_int_equal(put(f, OTHER, &res, &a1, &err), 0);
    assert_int_equal(res, STORE_DUPLICATE);

    /* the ids commit landed, the objects' did not */
    store_close(f->s);
    f->s = NULL;
    snprintf(sql, sizeof(sql),
             "INSERT INTO ids VALUES (%lld, 42, 1, %lld); UPDATE state SET upto = %lld",
             (long long)f->coll, (long long)a3 + 1000, (long long)a3 + 1000);
    on_ids(f, sql);
    reopen(f);
    assert_int_equal(ids_count(f), 3);

    /* a deletion landed in one database only: built again */
    store_close(f->s);
    f->s = NULL;
    on_ids(f, "DELETE FROM ids; UPDATE state SET deletes = deletes + 1");
    reopen(f);
    assert_int_equal(ids_count(f), 3);
    assert_int_equal(found(f, IND_ID), 2);

    /* the ids file lost altogether */
    store_close(f->s);
    f->s = NULL;
    snprintf(sql, sizeof(sql), "%s-ids", f->path);
    assert_int_equal(unlink(sql), 0);
    reopen(f);
    assert_int_equal(ids_count(f), 3);
    assert_int_equal(found(f, OTHER_ID), 1);

    /* a deletion takes its entries along */
    store_filter_init(&flt, f->coll);
    flt.versions = STORE_V_ALL;
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_delete(f->s, f->coll, IND_ID, &flt, &deleted, &err), 0);
    assert_int_equal(store_commit(f->s, &err), 0);
    assert_int_equal(deleted, 2);
    assert_int_equal(ids_count(f), 1);
    assert_int_equal(found(f, IND_ID), 0);
    reopen(f); /* and the count of deletions agrees: nothing to rebuild */
    assert_int_equal(ids_count(f), 1);
}

struct link_rows {
    struct store_peer_link l[8];
    size_t n;
};

static int collect_link(void *ctx, const struct store_peer_link *l)
{
    struct link_rows *r = ctx;

    if (r->n < 8)
        r->l[r->n++] = *l;
    return 0;
}

struct peer_names {
    char v[8][KZ_MAX_NAME + 1];
    size_t n;
};

static int collect_peer_name(void *ctx, const struct store_peer *p)
{
    struct peer_names *ns = ctx;

    if (ns->n < 8)
        snprintf(ns->v[ns->n++], sizeof(ns->v[0]), "%s", p->name);
    return 0;
}

static struct store_peer_link link_to(int dir, int64_t local, const char *remote)
{
    struct store_peer_link l;

    memset(&l, 0, sizeof(l));
    l.direction = dir;
    l.local = local;
    snprintf(l.remote, sizeof(l.remote), "%s", remote);
    return l;
}

/* Peers are added and changed inside an open transaction too (kizuna
 * apply): each change is a savepoint, a failed one undoes that peer alone
 * and the outer rollback undoes everything; an update keeps the checkpoint
 * of each link it keeps and removes the links it does not list. */
static void test_peers_in_transaction(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    struct store_peer p, got;
    struct store_community c1 = {.name = "c1"}, c2 = {.name = "c2"};
    struct store_peer_link links[3];
    struct link_rows rows = {.n = 0};
    int64_t comms[2], have[4];
    size_t n = 0;

    assert_int_equal(store_community_add(f->s, &c1, &err), 0);
    assert_int_equal(store_community_add(f->s, &c2, &err), 0);
    memset(&p, 0, sizeof(p));
    snprintf(p.name, sizeof(p.name), "alpha");
    snprintf(p.url, sizeof(p.url), "https://alpha.example/api/");
    p.token_len = 4;
    memcpy(p.token, "seal", 4);
    links[0] = link_to(STORE_LINK_PULL, f->coll, "keep");
    links[1] = link_to(STORE_LINK_PULL, f->coll, "drop");
    links[2] = link_to(STORE_LINK_PUSH, f->coll, "out");
    comms[0] = c1.key;
    /* outside a transaction: its own */
    assert_int_equal(store_peer_add(f->s, &p, comms, 1, links, 3, &err), 0);

    /* inside one, rolled back: gone */
    assert_int_equal(store_begin(f->s, &err), 0);
    snprintf(p.name, sizeof(p.name), "beta");
    assert_int_equal(store_peer_add(f->s, &p, NULL, 0, NULL, 0, &err), 0);
    assert_int_equal(store_peer_find(f->s, "beta", &got, &err), 0);
    store_rollback(f->s);
    assert_int_equal(store_peer_find(f->s, "beta", &got, &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);

    /* a failed add inside leaves the transaction usable */
    assert_int_equal(store_begin(f->s, &err), 0);
    snprintf(p.name, sizeof(p.name), "alpha");
    assert_int_equal(store_peer_add(f->s, &p, NULL, 0, NULL, 0, &err), -1);
    assert_int_equal(err.code, KZ_EEXISTS);
    snprintf(p.name, sizeof(p.name), "gamma");
    assert_int_equal(store_peer_add(f->s, &p, NULL, 0, NULL, 0, &err), 0);
    assert_int_equal(store_commit(f->s, &err), 0);
    assert_int_equal(store_peer_find(f->s, "gamma", &got, &err), 0);

    /* update: the kept link keeps its checkpoint */
    assert_int_equal(store_peer_find(f->s, "alpha", &p, &err), 0);
    links[0].peer = p.key;
    assert_int_equal(store_link_checkpoint(f->s, &links[0], 42, "then", &err), 0);
    assert_int_equal(store_begin(f->s, &err), 0);
    snprintf(p.url, sizeof(p.url), "https://alpha.example/other/");
    snprintf(p.ca, sizeof(p.ca), "/etc/ca.pem");
    links[1] = link_to(STORE_LINK_PULL, f->coll, "new");
    comms[0] = c2.key;
    assert_int_equal(store_peer_update(f->s, &p, comms, 1, 1, links, 2, STORE_LINK_PULL, &err), 0);
    assert_int_equal(store_commit(f->s, &err), 0);
    assert_int_equal(store_peer_find(f->s, "alpha", &got, &err), 0);
    assert_string_equal(got.url, "https://alpha.example/other/");
    assert_string_equal(got.ca, "/etc/ca.pem");
    assert_int_equal(got.token_len, 4);
    assert_int_equal(store_peer_links(f->s, p.key, collect_link, &rows, &err), 0);
    assert_int_equal(rows.n, 3); /* pull keep, pull new, push out (pushes not set) */
    for (size_t i = 0; i < rows.n; i++) {
        if (strcmp(rows.l[i].remote, "keep") == 0)
            assert_int_equal(rows.l[i].checkpoint, 42);
        else if (strcmp(rows.l[i].remote, "new") == 0)
            assert_int_equal(rows.l[i].checkpoint, 0);
        else
            assert_string_equal(rows.l[i].remote, "out");
        assert_string_not_equal(rows.l[i].remote, "drop");
    }
    assert_int_equal(store_peer_own_communities(f->s, p.key, have, 4, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(have[0], c2.key);

    /* an update rolled back with its transaction */
    assert_int_equal(store_begin(f->s, &err), 0);
    snprintf(p.url, sizeof(p.url), "https://elsewhere.example/");
    assert_int_equal(store_peer_update(f->s, &p, NULL, 0, 1, NULL, 0,
                                       STORE_LINK_PULL | STORE_LINK_PUSH, &err),
                     0);
    store_rollback(f->s);
    assert_int_equal(store_peer_find(f->s, "alpha", &got, &err), 0);
    assert_string_equal(got.url, "https://alpha.example/other/");
    rows.n = 0;
    assert_int_equal(store_peer_links(f->s, p.key, collect_link, &rows, &err), 0);
    assert_int_equal(rows.n, 3);

    /* a peer that is not there */
    p.key = 999999;
    assert_int_equal(store_peer_update(f->s, &p, NULL, 0, 0, NULL, 0, 0, &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);
}

/* The chain of the audit tests: each row's seq follows the head, its hash
 * is its seq repeated, and the head's MAC is fixed. */
static void test_chain(void *ctx, int64_t head_seq,
                       const unsigned char head_hash[STORE_AUDIT_HASH_LEN],
                       struct store_audit *rows, size_t n, unsigned char mac[STORE_AUDIT_HASH_LEN])
{
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        rows[i].seq = head_seq + 1 + (int64_t)i;
        memcpy(rows[i].prev, i ? rows[i - 1].hash : head_hash, STORE_AUDIT_HASH_LEN);
        memset(rows[i].hash, (int)rows[i].seq, STORE_AUDIT_HASH_LEN);
    }
    memset(mac, 0xa5, STORE_AUDIT_HASH_LEN);
}

static void audit_row(struct store_audit *a, const char *action)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->user, sizeof(a->user), "alice");
    snprintf(a->action, sizeof(a->action), "%s", action);
    a->ts_us = 1;
}

/* The audit log opens only the audit concern of a store: nothing the
 * objects need (the id index beside the file) is made, while the file
 * stays that of a whole store, so each opens what the other made (an
 * audit.db of an older kizuna; the main store as the witness of the
 * head). Any other concern on such a store is a caller's bug and aborts. */
static void test_audit_open_narrow(void **state)
{
    struct fixture *f = *state;
    struct kz_error err;
    char path[160], ids[176];
    struct store *a, *w;
    struct store_audit rows[2], got;
    unsigned char hash[STORE_AUDIT_HASH_LEN], mac[STORE_AUDIT_HASH_LEN];
    int64_t seq;
    int status;
    pid_t pid;

    snprintf(path, sizeof(path), "%s/audit.db", f->dir);
    snprintf(ids, sizeof(ids), "%s-ids", path);
    assert_null(store_open_audit("sqlite", path, 0, &err));
    assert_int_equal(err.code, KZ_ENOTFOUND);

    a = store_open_audit("sqlite", path, 1, &err);
    assert_non_null(a);
    audit_row(&rows[0], "read");
    audit_row(&rows[1], "write");
    assert_int_equal(store_audit_append(a, rows, 2, test_chain, NULL, 1, &err), 0);
    assert_int_equal(store_audit_head(a, &seq, hash, mac, &err), 0);
    assert_int_equal(seq, 2);
    assert_int_equal(access(ids, F_OK), -1);
    /* a whole-store call on it aborts (in a child) */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGABRT, SIG_DFL);
        store_begin(a, &err);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    store_close(a);

    /* a whole store opens the same file and reads the rows */
    w = store_open("sqlite", path, 0, &err);
    assert_non_null(w);
    assert_int_equal(store_audit_get(w, 2, &got, &err), 0);
    assert_string_equal(got.action, "write");
    store_close(w);

    /* ... and the audit concern alone opens a file a whole store made */
    a = store_open_audit("sqlite", path, 0, &err);
    assert_non_null(a);
    audit_row(&rows[0], "export");
    assert_int_equal(store_audit_append(a, rows, 1, test_chain, NULL, 0, &err), 0);
    assert_int_equal(store_audit_get(a, 3, &got, &err), 0);
    assert_string_equal(got.action, "export");
    memset(hash, 2, sizeof(hash)); /* row 2's hash */
    assert_memory_equal(got.prev, hash, STORE_AUDIT_HASH_LEN);
    assert_int_equal(store_audit_head(a, &seq, hash, mac, &err), 0);
    store_close(a);

    /* the main store, open whole in the fixture, witnesses the head
     * through a handle on its audit concern */
    w = store_open_audit("sqlite", f->path, 0, &err);
    assert_non_null(w);
    assert_int_equal(store_audit_witness(w, seq, hash, mac, &err), 0);
    store_close(w);
    memset(hash, 0, sizeof(hash));
    assert_int_equal(store_audit_head(f->s, &seq, hash, mac, &err), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(hash[0], 3);
    remove_store_files(path);
}

/* --- cases for every backend, beyond the ones above ----------------------- */

/* Blobs keep their bytes (NULs included) and are replaced whole; statuses
 * are replaced by id and purged by age. */
static void test_blobs_and_status(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    static const char bin[] = {'a', '\0', 'b', '\xff', 'c'};
    char *data = NULL, root[64];
    size_t len = 0;
    int64_t user = 0;

    assert_int_equal(store_blob_get(f->s, "warninglist", &data, &len, &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);
    assert_int_equal(store_blob_put(f->s, "warninglist", bin, sizeof(bin), &err), 0);
    assert_int_equal(store_blob_get(f->s, "warninglist", &data, &len, &err), 0);
    assert_int_equal(len, sizeof(bin));
    assert_memory_equal(data, bin, sizeof(bin));
    assert_int_equal(data[len], '\0');
    free(data);
    assert_int_equal(store_blob_put(f->s, "warninglist", "", 0, &err), 0);
    assert_int_equal(store_blob_get(f->s, "warninglist", &data, &len, &err), 0);
    assert_int_equal(len, 0);
    free(data);

    assert_int_equal(store_status_put(f->s, "s1", "default", 7, 1000, "{\"a\":1}XX", 7, &err), 0);
    assert_int_equal(store_status_put(f->s, "s2", "default", 8, 3000, "{}", 2, &err), 0);
    assert_int_equal(store_status_get(f->s, "s1", root, sizeof(root), &user, &data, &len, &err), 0);
    assert_string_equal(root, "default");
    assert_int_equal(user, 7);
    assert_int_equal(len, 7);
    assert_string_equal(data, "{\"a\":1}");
    free(data);
    assert_int_equal(store_status_put(f->s, "s1", "other", 9, 1000, "{\"b\":2}", 7, &err), 0);
    assert_int_equal(store_status_get(f->s, "s1", root, sizeof(root), &user, &data, &len, &err), 0);
    assert_string_equal(root, "other");
    assert_int_equal(user, 9);
    assert_string_equal(data, "{\"b\":2}");
    free(data);
    assert_int_equal(store_status_purge(f->s, 2000, &err), 0);
    assert_int_equal(store_status_get(f->s, "s1", root, sizeof(root), &user, &data, &len, &err),
                     -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);
    assert_int_equal(store_status_get(f->s, "s2", root, sizeof(root), &user, &data, &len, &err), 0);
    free(data);
}

struct names {
    char text[256];
    int n;
};

static int on_community(void *ctx, const struct store_community *c, const char *members)
{
    struct names *nm = ctx;
    size_t used = strlen(nm->text);

    snprintf(nm->text + used, sizeof(nm->text) - used, "%s[%s];", c->name, members);
    nm->n++;
    return 0;
}

static int on_grant(void *ctx, const struct store_grant *g)
{
    struct names *nm = ctx;
    size_t used = strlen(nm->text);

    snprintf(nm->text + used, sizeof(nm->text) - used, "%d:%s:%d%d;", (int)g->kind, g->subject_name,
             g->can_read, g->can_write);
    nm->n++;
    return 0;
}

static int on_token(void *ctx, const struct store_token *t)
{
    struct names *nm = ctx;
    size_t used = strlen(nm->text);

    snprintf(nm->text + used, sizeof(nm->text) - used, "%s;", t->token_id);
    nm->n++;
    return 0;
}

/* Communities and their members, users' roles and flags, tokens by user,
 * and grants: set, replaced, checked for one user through each kind, and
 * listed with their subjects' names. */
static void test_communities_and_grants(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    struct store_org a = {.name = "org-a"}, b = {.name = "org-b"}, found;
    struct store_user u = {.name = "ana", .role = "reader"}, u2;
    struct store_community c = {.name = "isac"}, c2;
    struct store_token t1 = {.token_id = "1111111111111111"}, t2 = {.token_id = "2222222222222222"};
    struct store_access acc;
    struct names nm;

    assert_int_equal(store_org_add(f->s, &a, &err), 0);
    assert_int_equal(store_org_add(f->s, &b, &err), 0);
    assert_true(b.key > a.key);
    assert_int_equal(store_org_find_identity(f->s, b.identity, &found, &err), 0);
    assert_int_equal(found.key, b.key);
    assert_int_equal(store_org_find_key(f->s, a.key, &found, &err), 0);
    assert_string_equal(found.name, "org-a");
    snprintf(found.country, sizeof(found.country), "JP");
    assert_int_equal(store_org_update(f->s, &found, &err), 0);
    assert_int_equal(store_org_find(f->s, "org-a", &found, &err), 0);
    assert_string_equal(found.country, "JP");

    u.org = a.key;
    assert_int_equal(store_user_add(f->s, &u, &err), 0);
    assert_int_equal(store_user_update(f->s, u.key, "contributor", -1, &err), 0);
    assert_int_equal(store_user_update(f->s, u.key, NULL, 1, &err), 0);
    assert_int_equal(store_user_get(f->s, u.key, &u2, &err), 0);
    assert_string_equal(u2.role, "contributor");
    assert_int_equal(u2.disabled, 1);
    assert_int_equal(store_user_update(f->s, u.key + 1000, NULL, 0, &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);
    t1.user = t2.user = u.key;
    assert_int_equal(store_token_add(f->s, &t1, &err), 0);
    assert_int_equal(store_token_add(f->s, &t2, &err), 0);
    assert_int_equal(store_token_add(f->s, &t2, &err), -1);
    assert_int_equal(err.code, KZ_EEXISTS);
    memset(&nm, 0, sizeof(nm));
    assert_int_equal(store_token_each(f->s, u.key, on_token, &nm, &err), 0);
    assert_string_equal(nm.text, "1111111111111111;2222222222222222;");
    memset(&nm, 0, sizeof(nm));
    assert_int_equal(store_token_each(f->s, u.key + 1000, on_token, &nm, &err), 0);
    assert_int_equal(nm.n, 0);

    assert_int_equal(store_community_add(f->s, &c, &err), 0);
    assert_int_equal(store_community_add(f->s, &c, &err), -1);
    assert_int_equal(err.code, KZ_EEXISTS);
    assert_int_equal(store_community_find(f->s, "isac", &c2, &err), 0);
    assert_int_equal(c2.key, c.key);
    assert_int_equal(store_community_join(f->s, c.key, a.key, &err), 0);
    assert_int_equal(store_community_join(f->s, c.key, a.key, &err), 0); /* twice: no error */
    assert_int_equal(store_community_join(f->s, c.key, b.key, &err), 0);
    memset(&nm, 0, sizeof(nm));
    assert_int_equal(store_community_each(f->s, on_community, &nm, &err), 0);
    assert_string_equal(nm.text, "isac[org-a,org-b];");
    assert_int_equal(store_community_leave(f->s, c.key, b.key, &err), 0);
    assert_int_equal(store_community_leave(f->s, c.key, b.key, &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);

    /* nothing granted: nothing allowed */
    assert_int_equal(store_grant_check(f->s, f->coll, u.key, a.key, "contributor", &acc, &err), 0);
    assert_int_equal(acc.can_read | acc.can_write, 0);
    {
        struct store_grant g[] = {
                {.collection = f->coll,
                 .kind = STORE_GRANT_COMMUNITY,
                 .subject = c.key,
                 .can_read = 1},
                {.collection = f->coll,
                 .kind = STORE_GRANT_ROLE,
                 .role = "contributor",
                 .can_write = 1},
                {.collection = f->coll, .kind = STORE_GRANT_ORG, .subject = b.key, .can_read = 1},
        };
        for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++)
            assert_int_equal(store_grant_set(f->s, &g[i], &err), 0);
        g[2].can_write = 1; /* replaced, not added */
        assert_int_equal(store_grant_set(f->s, &g[2], &err), 0);
    }
    assert_int_equal(store_grant_check(f->s, f->coll, u.key, a.key, "contributor", &acc, &err), 0);
    assert_int_equal(acc.can_read, 1);
    assert_int_equal(acc.can_write, 1);
    assert_int_equal(acc.read_as_community, 1);
    assert_int_equal(acc.read_as_org, 0);
    assert_int_equal(acc.read_as_user, 0);
    assert_int_equal(acc.read_as_role, 0);
    memset(&nm, 0, sizeof(nm));
    assert_int_equal(store_grant_each(f->s, f->coll, on_grant, &nm, &err), 0);
    assert_string_equal(nm.text, "2:org-b:11;3:isac:10;4:contributor:01;");
}

/* A call that fails inside a transaction (a name taken) leaves the
 * transaction usable: what came before and after it is committed. */
static void test_failure_keeps_transaction(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    struct store_org a = {.name = "first"}, again = {.name = "first"}, b = {.name = "second"};

    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_org_add(f->s, &a, &err), 0);
    assert_int_equal(store_org_add(f->s, &again, &err), -1);
    assert_int_equal(err.code, KZ_EEXISTS);
    assert_non_null(strstr(err.text, "first"));
    assert_int_equal(store_org_add(f->s, &b, &err), 0);
    assert_int_equal(store_commit(f->s, &err), 0);
    assert_int_equal(store_org_find(f->s, "first", &a, &err), 0);
    assert_int_equal(store_org_find(f->s, "second", &b, &err), 0);
    /* and a rollback undoes all of it */
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_blob_put(f->s, "gone", "x", 1, &err), 0);
    store_rollback(f->s);
    {
        char *data = NULL;
        size_t len = 0;
        assert_int_equal(store_blob_get(f->s, "gone", &data, &len, &err), -1);
        assert_int_equal(err.code, KZ_ENOTFOUND);
    }
}

/* Steps inside a transaction: a rolled-back step's writes are gone, a
 * released step's are committed with the rest. */
static void test_steps(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    struct store_org kept = {.name = "kept"}, undone = {.name = "undone"},
                     after = {.name = "after"}, found;

    assert_int_equal(store_step_begin(f->s, &err), -1); /* outside a transaction */
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_step_begin(f->s, &err), 0);
    assert_int_equal(store_org_add(f->s, &undone, &err), 0);
    store_step_rollback(f->s);
    assert_int_equal(store_step_begin(f->s, &err), 0);
    assert_int_equal(store_org_add(f->s, &kept, &err), 0);
    assert_int_equal(store_step_release(f->s, &err), 0);
    assert_int_equal(store_org_add(f->s, &after, &err), 0);
    assert_int_equal(store_commit(f->s, &err), 0);
    assert_int_equal(store_org_find(f->s, "kept", &found, &err), 0);
    assert_int_equal(store_org_find(f->s, "after", &found, &err), 0);
    assert_int_equal(store_org_find(f->s, "undone", &found, &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);
}

/* --- visibility, on every backend --------------------------------------- */

#define GREEN_MARK "bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
#define AMBER_MARK "55d920b0-5e8b-4f79-9ee9-91f868d9b421"
#define VIS_ID(n)  "indicator--00000000-0000-4000-8000-0000000000" n
#define MARKED(n, mod, marking, creator)                                                           \
    "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"" VIS_ID(                           \
            n) "\","                                                                               \
               "\"created\":\"2020-01-01T00:00:00.000Z\",\"modified\":\"" mod "\",\"name\":\"" n   \
               "\"," creator marking                                                               \
               "\"pattern\":\"[ipv4-addr:value = '1.2.3.4']\",\"pattern_type\":\"stix\","          \
               "\"valid_from\":\"2016-01-01T00:00:00Z\"}"
#define MARK(m) "\"object_marking_refs\":[\"marking-definition--" m "\"],"
#define NO_MARK ""
#define CREATOR "\"created_by_ref\":\"identity--5f0d3c1e-8a4b-4c2d-9e6f-7a8b9c0d1e2f\","
#define NOBODY  ""
#define REL_ID  "relationship--00000000-0000-4000-8000-000000000099"
#define REL(a, b)                                                                                  \
    "{\"type\":\"relationship\",\"spec_version\":\"2.1\",\"id\":\"" REL_ID "\","                   \
    "\"created\":\"2020-01-01T00:00:00.000Z\",\"modified\":\"2020-01-01T00:00:00.000Z\"," MARK(    \
            CLEAR_MARK) "\"relationship_type\":\"indicates\",\"source_ref\":\"" a "\","            \
                        "\"target_ref\":\"" b "\"}"

/* Stores json with its producer and recipients, in a transaction. */
static void put_meta(struct fixture *f, const char *json, const struct store_put_meta *meta)
{
    enum store_put_result res;
    struct stix_obj o;
    struct kz_error err;
    int64_t added;

    assert_int_equal(kzj_parse(&f->doc, json, strlen(json), &err), 0);
    assert_int_equal(stix_obj_read(&f->doc, 0, &o, &err), 0);
    assert_int_equal(store_begin(f->s, &err), 0);
    if (store_put(f->s, f->coll, &o, json, strlen(json), meta, &res, &added, &err) < 0)
        fail_msg("put: %s", err.text);
    assert_int_equal(res, STORE_ADDED);
    assert_int_equal(store_commit(f->s, &err), 0);
}

/* Lists flt and checks the ids and versions (name) it returns, in order:
 * want is "id-suffix/version-month ..." */
static void expect_rows(struct fixture *f, struct store_filter *flt, const char *want)
{
    struct collect c;
    struct store_page page;
    char got[512] = "";
    size_t n = 0;

    list(f, flt, &c, &page);
    for (int i = 0; i < c.n; i++)
        n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s/%.7s", i ? " " : "",
                              c.ids[i] + strlen(c.ids[i]) - 2, c.versions[i]);
    if (strcmp(got, want) != 0)
        fail_msg("%s: listed \"%s\", expected \"%s\"", f->backend, got, want);
}

static struct store_filter reader(struct fixture *f, int64_t user, int64_t org, int max_level)
{
    struct store_filter flt;

    store_filter_init(&flt, f->coll);
    flt.vis = (struct store_visibility){.active = 1,
                                        .max_level = max_level,
                                        .default_tlp = STIX_TLP_AMBER,
                                        .user = user,
                                        .org = org,
                                        .check_refs = 1};
    return flt;
}

/* The visibility is applied in the store's query, the same on every
 * backend: TLP against the reader's level (an unmarked object at the
 * default), recipients (a user up to RED, an organisation below RED, a
 * node's user below AMBER+STRICT), the producer and the creator's
 * identity, bulk paths never RED, "last" among the versions one sees, and
 * a relationship hidden when it points at an object held but not seen. */
static void test_visibility(void **state)
{
    struct fixture *f = fixture(state);
    const int64_t user7[] = {7}, org3[] = {3}, peer5[] = {5};
    struct store_put_meta by1 = {.producer = 1}, by2 = {.producer = 2},
                          to_user7 = {.producer = 1, .users = user7, .nusers = 1},
                          to_org3 = {.producer = 1, .orgs = org3, .norgs = 1},
                          to_peer5 = {.producer = 1, .peers = peer5, .npeers = 1};
    struct store_filter flt;

    put_meta(f, MARKED("01", "2020-01-01T00:00:00.000Z", MARK(CLEAR_MARK), NOBODY), &by1);
    put_meta(f, MARKED("02", "2020-01-01T00:00:00.000Z", MARK(RED_MARK), NOBODY), &by2);
    put_meta(f, MARKED("03", "2020-01-01T00:00:00.000Z", MARK(AMBER_MARK), NOBODY), &to_user7);
    put_meta(f, MARKED("04", "2020-01-01T00:00:00.000Z", MARK(AMBER_MARK), NOBODY), &to_org3);
    put_meta(f, MARKED("05", "2020-01-01T00:00:00.000Z", MARK(RED_MARK), NOBODY), &to_org3);
    put_meta(f, MARKED("06", "2020-01-01T00:00:00.000Z", NO_MARK, NOBODY), &by1);
    put_meta(f, MARKED("07", "2020-01-01T00:00:00.000Z", MARK(RED_MARK), CREATOR), &by1);
    put_meta(f, MARKED("08", "2020-02-01T00:00:00.000Z", MARK(GREEN_MARK), NOBODY), &by1);
    put_meta(f, MARKED("08", "2020-03-01T00:00:00.000Z", MARK(RED_MARK), NOBODY), &by1);
    put_meta(f, MARKED("09", "2020-01-01T00:00:00.000Z", MARK(AMBER_MARK), NOBODY), &to_peer5);
    put_meta(f, REL(VIS_ID("01"), VIS_ID("02")), &by1);

    /* org 3 at GREEN: CLEAR, its AMBER recipient row, the visible version */
    flt = reader(f, 9, 3, STIX_TLP_GREEN);
    expect_rows(f, &flt, "01/2020-01 04/2020-01 08/2020-02");
    flt.versions = STORE_V_ALL;
    expect_rows(f, &flt, "01/2020-01 04/2020-01 08/2020-02");
    /* its user 7 is named on 03 */
    flt = reader(f, 7, 3, STIX_TLP_GREEN);
    expect_rows(f, &flt, "01/2020-01 03/2020-01 04/2020-01 08/2020-02");
    /* org 2 produced 02: the relationship's targets are both seen */
    flt = reader(f, 9, 2, STIX_TLP_GREEN);
    expect_rows(f, &flt, "01/2020-01 02/2020-01 08/2020-02 99/2020-01");
    /* bulk: never RED, not even one's own; the relationship then hides */
    flt.vis.exclude_red = 1;
    expect_rows(f, &flt, "01/2020-01 08/2020-02");
    /* the creator's identity */
    flt = reader(f, 9, 4, STIX_TLP_CLEAR);
    flt.vis.org_identity = "identity--5f0d3c1e-8a4b-4c2d-9e6f-7a8b9c0d1e2f";
    expect_rows(f, &flt, "01/2020-01 07/2020-01");
    /* AMBER reaches everything unmarked (the default) and first/last */
    flt = reader(f, 9, 4, STIX_TLP_AMBER);
    expect_rows(f, &flt, "01/2020-01 03/2020-01 04/2020-01 06/2020-01 08/2020-02 09/2020-01");
    flt.versions = STORE_V_FIRST;
    flt.ids[0] = VIS_ID("08");
    flt.nids = 1;
    expect_rows(f, &flt, "08/2020-02");
    /* a partner node whose user is named: AMBER, below AMBER+STRICT */
    flt = reader(f, -1, -1, STIX_TLP_CLEAR);
    flt.vis.peer = 5;
    expect_rows(f, &flt, "01/2020-01 09/2020-01");
    /* the producer (org 1) is exempt from gating its own relationship */
    flt = reader(f, 9, 1, STIX_TLP_CLEAR);
    expect_rows(f, &flt,
                "01/2020-01 03/2020-01 04/2020-01 05/2020-01 06/2020-01 07/2020-01 08/2020-03 "
                "09/2020-01 99/2020-01");
}

/* --- store_put_many and store_object_owners against one call per object ---- */

#define BATCH_ID(n) "indicator--00000000-0000-4000-8000-0000000001" n
#define BATCH_IND(n, mod, name, extra)                                                             \
    "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"" BATCH_ID(                         \
            n) "\","                                                                               \
               "\"created\":\"2016-01-01T00:00:00.000Z\",\"modified\":\"" mod                      \
               "\",\"name\":\"" name "\"," extra                                                   \
               "\"pattern\":\"[ipv4-addr:value = '1.2.3.4']\",\"pattern_type\":\"stix\","          \
               "\"valid_from\":\"2016-01-01T00:00:00Z\"}"
#define BATCH_SCO(n, extra)                                                                        \
    "{\"type\":\"ipv4-addr\",\"id\":\"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742" n "\","       \
    "\"value\":\"198.51.100." n "\"" extra "}"
#define BATCH_REL(a, b)                                                                            \
    "{\"type\":\"relationship\",\"spec_version\":\"2.1\",\"id\":\"relationship--00000000-0000-"    \
    "4000-8000-000000000199\",\"created\":\"2020-01-01T00:00:00.000Z\",\"modified\":"              \
    "\"2020-01-01T00:00:00.000Z\"," MARK(CLEAR_MARK) "\"relationship_type\":\"indicates\","        \
                                                     "\"source_ref\":\"" a                         \
                                                     "\",\"target_ref\":\"" b "\"}"

/* One batch's objects, parsed (each item points into its own document). */
struct batch {
    struct kzj_doc doc[STORE_PUT_BATCH];
    struct stix_obj o[STORE_PUT_BATCH];
    struct store_put_item it[STORE_PUT_BATCH];
    char json[STORE_PUT_BATCH][600];
    unsigned n;
};

static struct batch *batch_new(void)
{
    struct batch *b = calloc(1, sizeof(*b));

    assert_non_null(b);
    for (unsigned i = 0; i < STORE_PUT_BATCH; i++)
        kzj_doc_init(&b->doc[i]);
    return b;
}

static void batch_free(struct batch *b)
{
    for (unsigned i = 0; i < STORE_PUT_BATCH; i++)
        kzj_doc_free(&b->doc[i]);
    free(b);
}

static void batch_add(struct batch *b, const char *json, const struct store_put_meta *meta)
{
    unsigned i = b->n++;
    struct kz_error err;

    assert_true(i < STORE_PUT_BATCH);
    snprintf(b->json[i], sizeof(b->json[i]), "%s", json);
    assert_int_equal(kzj_parse(&b->doc[i], b->json[i], strlen(b->json[i]), &err), 0);
    assert_int_equal(stix_obj_read(&b->doc[i], 0, &b->o[i], &err), 0);
    b->it[i] = (struct store_put_item){
            .o = &b->o[i], .raw = b->json[i], .rawlen = strlen(b->json[i]), .meta = meta};
}

/* Puts the batch into f's collection one store_put at a time (the
 * reference, as[i]: 0 or the refusal in why) and into coll with one
 * store_put_many, each in a transaction of its own; checks that every item
 * got the same answer. */
static void put_both_ways(struct fixture *f, int64_t coll, struct batch *b,
                          struct store_put_item *one)
{
    struct kz_error err;

    assert_int_equal(store_begin(f->s, &err), 0);
    for (unsigned i = 0; i < b->n; i++) {
        one[i] = b->it[i];
        one[i].result = 0;
        one[i].added = 0;
        one[i].refused = 0;
        kz_error_clear(&one[i].why);
        if (!b->o[i].id[0]) {
            one[i].refused = 1; /* what store_put_many refuses before the backend */
            continue;
        }
        if (store_put(f->s, f->coll, one[i].o, one[i].raw, one[i].rawlen, one[i].meta,
                      &one[i].result, &one[i].added, &one[i].why) < 0) {
            assert_int_equal(one[i].why.code, KZ_ECONFLICT);
            one[i].refused = 1;
        }
    }
    assert_int_equal(store_commit(f->s, &err), 0);
    assert_int_equal(store_begin(f->s, &err), 0);
    if (store_put_many(f->s, coll, b->it, b->n, &err) < 0)
        fail_msg("%s: store_put_many: %s", f->backend, err.text);
    assert_int_equal(store_commit(f->s, &err), 0);
    for (unsigned i = 0; i < b->n; i++) {
        const struct store_put_item *x = &b->it[i], *y = &one[i];

        if (x->refused != y->refused || x->result != y->result)
            fail_msg("%s: item %u: refused %d result %d, one by one refused %d result %d",
                     f->backend, i, x->refused, x->result, y->refused, y->result);
        if (y->refused && y->why.code) {
            assert_int_equal(x->why.code, y->why.code);
            assert_string_equal(x->why.property, y->why.property);
            assert_string_equal(x->why.text, y->why.text);
        }
        if (!b->o[i].id[0]) {
            assert_true(x->refused);
            assert_int_equal(x->why.code, KZ_EINVALID);
        }
    }
}

struct listing {
    char text[256 * 1024];
    size_t len;
    int64_t added[512];
    char key[512][120]; /* "id version" of each row, by date added */
    int n;
};

static int on_listed(void *ctx, const struct store_row *r, struct kz_error *err)
{
    struct listing *l = ctx;
    /* an unversioned SCO's version is its date added, which differs */
    const char *version = r->version_us == r->added ? "(added)" : r->version;

    (void)err;
    l->len += (size_t)snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s %s %.*s\n", r->id,
                               version, r->raw ? (int)r->rawlen : 0, r->raw ? r->raw : "");
    assert_true(l->len < sizeof(l->text));
    assert_true(l->n < 512);
    l->added[l->n] = r->added;
    snprintf(l->key[l->n], sizeof(l->key[0]), "%s %s", r->id, version);
    l->n++;
    return 0;
}

/* flt listed on collection coll, as text (ids, versions and texts in
 * date-added order). */
static void listing(struct fixture *f, int64_t coll, const struct store_filter *flt,
                    struct listing *l)
{
    struct store_filter x = *flt;
    struct store_page page;
    struct kz_error err;

    memset(l, 0, sizeof(*l));
    x.collection = coll;
    if (!x.vis.active)
        store_filter_everything(&x);
    if (store_list(f->s, &x, 1, on_listed, l, &page, &err) < 0)
        fail_msg("list: %s", err.text);
}

static const char *row_at(const struct listing *l, int64_t added)
{
    for (int i = 0; i < l->n; i++)
        if (l->added[i] == added)
            return l->key[i];
    return "(none)";
}

/* The two collections hold the same: every version, the first and last
 * flags, what readers with recipients and relationship gating see; each
 * item's date added names the same version in both; dates added grow in
 * item order. */
static void same_state(struct fixture *f, int64_t coll, const struct batch *b,
                       const struct store_put_item *one)
{
    static const unsigned versions[] = {STORE_V_ALL, STORE_V_FIRST, STORE_V_LAST};
    struct listing *x = calloc(1, sizeof(*x)), *y = calloc(1, sizeof(*y));
    struct store_filter flt;
    int64_t last_x = 0, last_y = 0;

    assert_true(x && y);
    for (size_t v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
        store_filter_init(&flt, f->coll);
        flt.versions = versions[v];
        listing(f, coll, &flt, x);
        listing(f, f->coll, &flt, y);
        if (strcmp(x->text, y->text) != 0)
            fail_msg("%s: versions %u differ:\n%s--- one by one:\n%s", f->backend, versions[v],
                     x->text, y->text);
    }
    store_filter_init(&flt, f->coll);
    flt.versions = STORE_V_ALL;
    listing(f, coll, &flt, x);
    listing(f, f->coll, &flt, y);
    for (unsigned i = 0; i < b->n; i++) {
        const struct store_put_item *bi = &b->it[i], *oi = &one[i];

        if (!bi->result)
            continue;
        assert_string_equal(row_at(x, bi->added), row_at(y, oi->added));
        if (bi->result == STORE_ADDED) {
            assert_true(bi->added > last_x && oi->added > last_y);
            last_x = bi->added;
            last_y = oi->added;
        }
    }
    /* readers: a user named, an organisation named, a node named, and the
     * relationship's gate (its targets must be visible) */
    flt = reader(f, 7, 9, STIX_TLP_CLEAR);
    listing(f, coll, &flt, x);
    listing(f, f->coll, &flt, y);
    assert_string_equal(x->text, y->text);
    flt = reader(f, 9, 3, STIX_TLP_GREEN);
    listing(f, coll, &flt, x);
    listing(f, f->coll, &flt, y);
    assert_string_equal(x->text, y->text);
    flt = reader(f, -1, -1, STIX_TLP_CLEAR);
    flt.vis.peer = 5;
    listing(f, coll, &flt, x);
    listing(f, f->coll, &flt, y);
    assert_string_equal(x->text, y->text);
    free(x);
    free(y);
}

static int64_t add_collection(struct fixture *f, const char *alias)
{
    struct store_collection c = {.api_root = "default"};
    struct kz_error err;

    snprintf(c.alias, sizeof(c.alias), "%s", alias);
    assert_int_equal(store_collection_add(f->s, &c, &err), 0);
    return c.key;
}

/* Lists coll's rows a reader sees (ids' last two digits), for the checks
 * of what the batch itself did. */
static void expect_seen(struct fixture *f, int64_t coll, struct store_filter *flt, const char *want)
{
    flt->collection = coll;
    expect_rows(f, flt, want);
}

/* store_put_many does what a store_put per object does, on every backend
 * (SQLite through store.c's loop, PostgreSQL with a statement per batch):
 * new ids, newer and older versions of stored ids (the first and last
 * flags), duplicates (the same bytes, another order of members, escaped
 * characters), a conflict refused while the others are stored,
 * unversioned SCOs among versioned objects, an object without an id
 * refused before the store, recipients and references; then a full
 * batch. */
static void test_put_many(void **state)
{
    struct fixture *f = fixture(state);
    const int64_t user7[] = {7}, org3[] = {3}, peer5[] = {5};
    struct store_put_meta by1 = {.producer = 1},
                          named = {.producer = 1,
                                   .users = user7,
                                   .nusers = 1,
                                   .orgs = org3,
                                   .norgs = 1,
                                   .submitter = 4},
                          to_peer = {.producer = 2, .peers = peer5, .npeers = 1};
    struct store_put_item one[STORE_PUT_BATCH];
    struct store_filter flt;
    struct batch *pre, *b;
    int64_t coll;
    char json[600];

    coll = add_collection(f, "batch");
    /* what both collections hold before */
    pre = batch_new();
    batch_add(pre, BATCH_IND("01", "2018-01-01T00:00:00.000Z", "a", ""), &by1);
    batch_add(pre, BATCH_IND("02", "2018-01-01T00:00:00.000Z", "a", ""), &by1);
    batch_add(pre, BATCH_IND("03", "2018-01-01T00:00:00.000Z", "a", ""), &by1);
    batch_add(pre, BATCH_IND("04", "2018-01-01T00:00:00.000Z", "a", ""), &by1);
    batch_add(pre, BATCH_IND("05", "2018-01-01T00:00:00.000Z", "a", ""), &by1);
    batch_add(pre, BATCH_IND("06", "2017-01-01T00:00:00.000Z", "a", ""), &by1);
    batch_add(pre, BATCH_SCO("01", ""), &by1);
    batch_add(pre, BATCH_SCO("02", ""), &by1);
    batch_add(pre, BATCH_IND("07", "2018-01-01T00:00:00.000Z", "a", ""), &by1);
    put_both_ways(f, coll, pre, one);
    for (unsigned i = 0; i < pre->n; i++)
        assert_int_equal(pre->it[i].result, STORE_ADDED);
    batch_free(pre);
    pre = batch_new(); /* a third version of 06, after 2017 and 2019 */
    batch_add(pre, BATCH_IND("06", "2019-01-01T00:00:00.000Z", "a", ""), &by1);
    put_both_ways(f, coll, pre, one);
    batch_free(pre);

    b = batch_new();
    batch_add(b, BATCH_IND("10", "2020-01-01T00:00:00.000Z", "new", MARK(AMBER_MARK)), &named);
    batch_add(b, BATCH_IND("01", "2019-01-01T00:00:00.000Z", "newer", ""), &by1);
    batch_add(b, BATCH_SCO("01", ""), NULL); /* unversioned, the same: a duplicate */
    batch_add(b, BATCH_IND("02", "2017-01-01T00:00:00.000Z", "older", ""), &by1);
    batch_add(b, BATCH_IND("03", "2018-01-01T00:00:00.000Z", "a", ""), &by1);
    /* 04 with its members in another order */
    batch_add(b,
              "{\"id\":\"" BATCH_ID("04") "\",\"type\":\"indicator\",\"spec_version\":\"2.1\","
                                          "\"modified\":\"2018-01-01T00:00:00.000Z\",\"created\":"
                                          "\"2016-01-01T00:00:00.000Z\","
                                          "\"name\":\"a\",\"pattern\":\"[ipv4-addr:value = "
                                          "'1.2.3.4']\",\"pattern_type\":"
                                          "\"stix\",\"valid_from\":\"2016-01-01T00:00:00Z\"}",
              &by1);
    batch_add(b, "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"name\":\"no id\"}", &by1);
    batch_add(b, BATCH_IND("05", "2018-01-01T00:00:00.000Z", "changed", ""), &by1);
    batch_add(b, BATCH_REL(BATCH_ID("10"), BATCH_ID("02")), &to_peer);
    batch_add(b, BATCH_IND("06", "2018-01-01T00:00:00.000Z", "middle", ""), &by1);
    batch_add(b, BATCH_SCO("02", ",\"x_seen\":2"), &by1); /* unversioned, new content */
    batch_add(b, BATCH_SCO("03", ""), &named);            /* unversioned, new */
    batch_add(b, BATCH_IND("11", "2020-01-01T00:00:00.000Z", "red", MARK(RED_MARK)), &to_peer);
    /* 07 the same, with a character escaped (JSON-escaped strings) */
    batch_add(b, BATCH_IND("07", "2018-01-01T00:00:00.000Z", "\\u0061", ""), &by1);
    batch_add(b, BATCH_IND("12", "2020-01-01T00:00:00.000Z", "amber", MARK(AMBER_MARK)), &to_peer);
    put_both_ways(f, coll, b, one);
    {
        static const int want[] = {STORE_ADDED,
                                   STORE_ADDED,
                                   STORE_DUPLICATE,
                                   STORE_ADDED,
                                   STORE_DUPLICATE,
                                   STORE_DUPLICATE,
                                   0,
                                   0,
                                   STORE_ADDED,
                                   STORE_ADDED,
                                   STORE_ADDED,
                                   STORE_ADDED,
                                   STORE_ADDED,
                                   STORE_DUPLICATE,
                                   STORE_ADDED};
        for (unsigned i = 0; i < b->n; i++)
            assert_int_equal(b->it[i].result, want[i]);
    }
    assert_int_equal(b->it[7].why.code, KZ_ECONFLICT);
    assert_string_equal(b->it[7].why.property, "modified");
    same_state(f, coll, b, one);
    /* what the batch did, besides doing it as the loop did */
    store_filter_init(&flt, coll);
    flt.versions = STORE_V_LAST;
    flt.types[0] = "indicator";
    flt.ntypes = 1;
    expect_seen(f, coll, &flt,
                "02/2018-01 03/2018-01 04/2018-01 05/2018-01 07/2018-01 "
                "06/2019-01 10/2020-01 01/2019-01 11/2020-01 12/2020-01");
    flt.versions = STORE_V_FIRST;
    expect_seen(f, coll, &flt,
                "01/2018-01 03/2018-01 04/2018-01 05/2018-01 06/2017-01 "
                "07/2018-01 10/2020-01 02/2017-01 11/2020-01 12/2020-01");
    flt = reader(f, 7, 9, STIX_TLP_CLEAR); /* named user 7 sees 10 (AMBER) */
    flt.ids[0] = BATCH_ID("10");
    flt.nids = 1;
    expect_seen(f, coll, &flt, "10/2020-01");
    flt = reader(f, -1, -1, STIX_TLP_CLEAR); /* node 5's user is named on 11 and 12 */
    flt.vis.peer = 5;
    flt.types[0] = "indicator";
    flt.ntypes = 1;
    expect_seen(f, coll, &flt, "11/2020-01 12/2020-01");
    /* the relationship (CLEAR) points at 10, which org 8 may not see */
    flt = reader(f, 9, 8, STIX_TLP_GREEN);
    flt.types[0] = "relationship";
    flt.ntypes = 1;
    expect_seen(f, coll, &flt, "");
    flt = reader(f, 7, 3, STIX_TLP_AMBER);
    flt.types[0] = "relationship";
    flt.ntypes = 1;
    expect_seen(f, coll, &flt, "99/2020-01");
    batch_free(b);

    /* a full batch: new ids, every other one with new versions of them
     * stored just before */
    b = batch_new();
    for (unsigned i = 0; i < STORE_PUT_BATCH; i++) {
        snprintf(json, sizeof(json),
                 "{\"type\":\"malware\",\"spec_version\":\"2.1\",\"id\":\"malware--00000000-0000-"
                 "4000-8000-%012u\",\"created\":\"2020-01-01T00:00:00.000Z\",\"modified\":"
                 "\"2020-0%u-01T00:00:00.000Z\",\"name\":\"m%u\",\"is_family\":false}",
                 i, 2 + i % 2, i);
        batch_add(b, json, i % 3 ? &by1 : &named);
    }
    put_both_ways(f, coll, b, one);
    for (unsigned i = 0; i < b->n; i++)
        assert_int_equal(b->it[i].result, STORE_ADDED);
    same_state(f, coll, b, one);
    batch_free(b);
    b = batch_new();
    for (unsigned i = 0; i < STORE_PUT_BATCH; i++) {
        snprintf(json, sizeof(json),
                 "{\"type\":\"malware\",\"spec_version\":\"2.1\",\"id\":\"malware--00000000-0000-"
                 "4000-8000-%012u\",\"created\":\"2020-01-01T00:00:00.000Z\",\"modified\":"
                 "\"2020-0%u-01T00:00:00.000Z\",\"name\":\"%c%u\",\"is_family\":false}",
                 i, i % 4 == 0 ? 1 : 2 + (i % 3), i % 7 ? 'm' : 'n', i);
        batch_add(b, json, i % 2 ? &to_peer : &by1);
    }
    put_both_ways(f, coll, b, one);
    /* older, newer, the same (1), another with the same version (7, 42, 49) */
    assert_int_equal(b->it[0].result, STORE_ADDED);
    assert_int_equal(b->it[1].result, STORE_DUPLICATE);
    assert_int_equal(b->it[2].result, STORE_ADDED);
    assert_true(b->it[7].refused && b->it[42].refused && b->it[49].refused);
    assert_int_equal(b->it[7].why.code, KZ_ECONFLICT);
    same_state(f, coll, b, one);
    batch_free(b);
}

/* store_object_owners answers what store_object_owner does for each id:
 * one the collection does not hold, one held with and without the version
 * asked, repeated ids. */
static void test_object_owners(void **state)
{
    struct fixture *f = fixture(state);
    const char *ids[] = {OWN_ID,          "indicator--00000000-0000-4000-8000-00000000dead",
                         OWN_ID,          OWN_ID,
                         OTHER_ID,        OWN_ID,
                         "indicator--\"'"};
    const int64_t versions[] = {
            0, 0, 1460073600000000LL, 1460073600000001LL, 1577836800000000LL, 1460160000000000LL,
            5};
    const unsigned n = sizeof(ids) / sizeof(ids[0]);
    struct store_owner many[8], each;
    struct kz_error err;

    put_from(f, OWN("2016-04-08T00:00:00.000Z", RED_MARK), 8, 5);
    put_from(f, OWN("2016-04-07T00:00:00.000Z", RED_MARK), 7, 0);
    put_from(f, OWN("2016-04-09T00:00:00.000Z", CLEAR_MARK), 9, 0);
    put_from(f, OTHER, 3, 0);
    memset(many, 0xa5, sizeof(many));
    assert_int_equal(store_object_owners(f->s, f->coll, n, ids, versions, many, &err), 0);
    for (unsigned i = 0; i < n; i++) {
        memset(&each, 0, sizeof(each));
        assert_int_equal(store_object_owner(f->s, f->coll, ids[i], versions[i], &each, &err), 0);
        assert_int_equal(many[i].exists, each.exists);
        assert_int_equal(many[i].has_version, each.has_version);
        assert_string_equal(many[i].created_by, each.created_by);
        assert_int_equal(many[i].producer, each.producer);
    }
    /* and what that is */
    assert_true(many[0].exists && !many[0].has_version);
    assert_int_equal(many[0].producer, 7);
    assert_string_equal(many[0].created_by, "identity--5f0d3c1e-8a4b-4c2d-9e6f-7a8b9c0d1e2f");
    assert_false(many[1].exists);
    assert_int_equal(many[1].producer, 0);
    assert_string_equal(many[1].created_by, "");
    assert_true(many[2].has_version && !many[3].has_version && many[5].has_version);
    assert_true(many[4].exists && many[4].has_version);
    assert_int_equal(many[4].producer, 3);
    assert_string_equal(many[4].created_by, "");
    assert_false(many[6].exists);
    /* none at all */
    assert_int_equal(store_object_owners(f->s, f->coll, 0, ids, versions, many, &err), 0);
}

/* Deleting versions rewrites the first and last flags of those left, and
 * a listing by origin or type leaves out what it is told to. */
static void test_delete_versions_and_exclusions(void **state)
{
    struct fixture *f = fixture(state);
    struct store_filter flt;
    struct kz_error err;
    uint64_t deleted = 0;

    put_from(f, IND("2017-01-01T00:00:00.000Z", "v1"), 1, 0);
    put_from(f, IND("2018-01-01T00:00:00.000Z", "v2"), 1, 5);
    put_from(f, IND("2019-01-01T00:00:00.000Z", "v3"), 1, 0);
    put_from(f, OTHER, 1, 5);
    store_filter_init(&flt, f->coll);
    flt.exclude_origin = 5;
    flt.versions = STORE_V_ALL;
    expect_rows(f, &flt, "3f/2017-01 3f/2019-01");
    store_filter_init(&flt, f->coll);
    flt.exclude_type = "indicator";
    expect_rows(f, &flt, "");

    /* the newest goes: the one before it is "last" */
    store_filter_init(&flt, f->coll);
    flt.version_times[0] = 1546300800000000LL; /* 2019-01-01 */
    flt.nversion_times = 1;
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_delete(f->s, f->coll, IND_ID, &flt, &deleted, &err), 0);
    assert_int_equal(store_commit(f->s, &err), 0);
    assert_int_equal(deleted, 1);
    store_filter_init(&flt, f->coll);
    flt.ids[0] = IND_ID;
    flt.nids = 1;
    expect_rows(f, &flt, "3f/2018-01");
    /* the oldest goes: the one left is both */
    store_filter_init(&flt, f->coll);
    flt.version_times[0] = 1483228800000000LL; /* 2017-01-01 */
    flt.nversion_times = 1;
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_delete(f->s, f->coll, IND_ID, &flt, &deleted, &err), 0);
    assert_int_equal(store_commit(f->s, &err), 0);
    assert_int_equal(deleted, 1);
    store_filter_init(&flt, f->coll);
    flt.ids[0] = IND_ID;
    flt.nids = 1;
    flt.versions = STORE_V_FIRST;
    expect_rows(f, &flt, "3f/2018-01");
    flt.versions = STORE_V_LAST;
    expect_rows(f, &flt, "3f/2018-01");
    /* a version that is not there deletes nothing */
    store_filter_init(&flt, f->coll);
    flt.version_times[0] = 1483228800000000LL;
    flt.nversion_times = 1;
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_delete(f->s, f->coll, IND_ID, &flt, &deleted, &err), 0);
    assert_int_equal(store_commit(f->s, &err), 0);
    assert_int_equal(deleted, 0);
}

/* A duplicate and a conflict inside a transaction are answers, not
 * failures of the transaction: what came before and after is committed
 * (PostgreSQL aborts a transaction on any failed statement, so the
 * backend must never let one fail). */
static void test_conflict_keeps_transaction(void **state)
{
    struct fixture *f = fixture(state);
    const char *v1 = IND("2016-04-06T20:03:48.000Z", "a"),
               *changed = IND("2016-04-06T20:03:48.000Z", "changed"), *other = OTHER;
    const char *jsons[] = {v1, v1, changed, other};
    const int want[] = {0, 0, -1, 0};
    enum store_put_result res[4];
    struct kz_error err;
    uint64_t count;
    int64_t added;

    assert_int_equal(store_begin(f->s, &err), 0);
    for (int i = 0; i < 4; i++) {
        struct stix_obj o;
        assert_int_equal(kzj_parse(&f->doc, jsons[i], strlen(jsons[i]), &err), 0);
        assert_int_equal(stix_obj_read(&f->doc, 0, &o, &err), 0);
        assert_int_equal(store_put(f->s, f->coll, &o, jsons[i], strlen(jsons[i]), NULL, &res[i],
                                   &added, &err),
                         want[i]);
        if (want[i] < 0)
            assert_int_equal(err.code, KZ_ECONFLICT);
    }
    assert_int_equal(res[0], STORE_ADDED);
    assert_int_equal(res[1], STORE_DUPLICATE);
    assert_int_equal(res[3], STORE_ADDED);
    assert_int_equal(store_commit(f->s, &err), 0);
    assert_int_equal(store_count(f->s, f->coll, &count, &err), 0);
    assert_int_equal(count, 2);
}

static int fail_at_second(void *ctx, const struct store_row *r, struct kz_error *err)
{
    int *seen = ctx;

    (void)r;
    if (++*seen == 2)
        return kz_error_set(err, KZ_EIO, "the reader went away");
    return 0;
}

/* A listing whose callback fails ends with that failure and leaves the
 * store usable, outside and inside a transaction (PostgreSQL streams
 * rows: the rest must be dropped, not left on the connection). */
static void test_list_stops_early(void **state)
{
    struct fixture *f = fixture(state);
    struct store_filter flt;
    struct store_page page;
    struct kz_error err;
    uint64_t count = 0;
    int seen;

    put_meta(f, MARKED("01", "2020-01-01T00:00:00.000Z", NO_MARK, NOBODY), NULL);
    put_meta(f, MARKED("02", "2020-01-01T00:00:00.000Z", NO_MARK, NOBODY), NULL);
    put_meta(f, MARKED("03", "2020-01-01T00:00:00.000Z", NO_MARK, NOBODY), NULL);
    for (int in_tx = 0; in_tx < 2; in_tx++) {
        if (in_tx)
            assert_int_equal(store_begin(f->s, &err), 0);
        store_filter_init(&flt, f->coll);
        store_filter_everything(&flt);
        seen = 0;
        memset(&page, 0, sizeof(page));
        assert_int_equal(store_list(f->s, &flt, 1, fail_at_second, &seen, &page, &err), -1);
        assert_int_equal(err.code, KZ_EIO);
        assert_int_equal(seen, 2);
        assert_int_equal(store_count(f->s, f->coll, &count, &err), 0);
        assert_int_equal(count, 3);
        if (in_tx)
            assert_int_equal(store_commit(f->s, &err), 0);
    }
}

/* Removing a collection takes its objects (with their recipient and
 * reference rows) and grants; a community its memberships and grants. */
static void test_remove_collection_and_community(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    const int64_t org3[] = {3};
    struct store_put_meta to_org3 = {.producer = 1, .orgs = org3, .norgs = 1};
    struct store_collection other = {.alias = "other", .api_root = "default"}, found;
    struct store_community com = {.name = "cert-eu"};
    struct store_org org = {.name = "member"};
    struct store_grant g = {.kind = STORE_GRANT_ORG, .can_read = 1};
    struct store_refs refs;
    uint64_t count;
    int64_t kept = f->coll;

    assert_int_equal(store_collection_add(f->s, &other, &err), 0);
    assert_int_equal(store_org_add(f->s, &org, &err), 0);
    g.collection = other.key;
    g.subject = org.key;
    assert_int_equal(store_grant_set(f->s, &g, &err), 0);
    f->coll = other.key;
    put_meta(f, MARKED("01", "2020-01-01T00:00:00.000Z", NO_MARK, NOBODY), &to_org3);
    put_meta(f, REL(VIS_ID("01"), VIS_ID("02")), &to_org3);
    f->coll = kept;
    put_meta(f, MARKED("01", "2020-01-01T00:00:00.000Z", NO_MARK, NOBODY), &to_org3);
    memset(&refs, 0, sizeof(refs));
    assert_int_equal(store_refs_count(f->s, STORE_ENTITY_COLLECTION, other.key, &refs, &err), 0);
    assert_int_equal(refs.objects, 2);
    assert_int_equal(refs.grants, 1);
    memset(&refs, 0, sizeof(refs));
    assert_int_equal(store_refs_count(f->s, STORE_ENTITY_ORG, 3, &refs, &err), 0);
    assert_int_equal(refs.objects, 3);
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_remove(f->s, STORE_ENTITY_COLLECTION, other.key, &err), 0);
    assert_int_equal(store_commit(f->s, &err), 0);
    assert_int_equal(store_collection_find(f->s, NULL, "other", &found, &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);
    assert_int_equal(store_count(f->s, other.key, &count, &err), 0);
    assert_int_equal(count, 0);
    assert_int_equal(store_count(f->s, kept, &count, &err), 0);
    assert_int_equal(count, 1);
    /* the recipient rows went with their objects */
    memset(&refs, 0, sizeof(refs));
    assert_int_equal(store_refs_count(f->s, STORE_ENTITY_ORG, 3, &refs, &err), 0);
    assert_int_equal(refs.objects, 1);

    assert_int_equal(store_community_add(f->s, &com, &err), 0);
    assert_int_equal(store_community_join(f->s, com.key, org.key, &err), 0);
    memset(&refs, 0, sizeof(refs));
    assert_int_equal(store_refs_count(f->s, STORE_ENTITY_COMMUNITY, com.key, &refs, &err), 0);
    assert_int_equal(refs.members, 1);
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_remove(f->s, STORE_ENTITY_COMMUNITY, com.key, &err), 0);
    assert_int_equal(store_remove(f->s, STORE_ENTITY_COMMUNITY, com.key, &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);
    assert_int_equal(store_commit(f->s, &err), 0);
    memset(&refs, 0, sizeof(refs));
    assert_int_equal(store_refs_count(f->s, STORE_ENTITY_ORG, org.key, &refs, &err), 0);
    assert_int_equal(refs.members, 0);
}

/* A peer's life outside any transaction: its sealed token (any bytes) and
 * Basic user replaced, sync outcomes recorded, listed by name, its
 * communities with its organisation's, the partner's audit head replaced,
 * and removal taking its links and head along. */
static void test_peers_lifecycle(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    struct store_org org = {.name = "partner-org", .identity = "identity--1"};
    struct store_community mine = {.name = "mine"}, theirs = {.name = "theirs"};
    struct store_peer p, q, got;
    struct store_peer_head h, hgot;
    struct store_peer_link l = link_to(STORE_LINK_PULL, f->coll, "remote-intel");
    struct link_rows rows = {.n = 0};
    static const unsigned char sealed[] = {0x00, 0xff, 0x10, 0x00, 0x7f};
    int64_t comms[4];
    size_t n = 0;

    assert_int_equal(store_org_add(f->s, &org, &err), 0);
    assert_int_equal(store_community_add(f->s, &mine, &err), 0);
    assert_int_equal(store_community_add(f->s, &theirs, &err), 0);
    assert_int_equal(store_community_join(f->s, theirs.key, org.key, &err), 0);
    memset(&p, 0, sizeof(p));
    snprintf(p.name, sizeof(p.name), "zeta");
    snprintf(p.url, sizeof(p.url), "https://zeta.example/api/");
    memcpy(p.token, sealed, sizeof(sealed));
    p.token_len = sizeof(sealed);
    p.org = org.key;
    snprintf(p.public_key, sizeof(p.public_key), "ed25519:abc");
    assert_int_equal(store_peer_add(f->s, &p, &mine.key, 1, &l, 1, &err), 0);
    assert_true(p.key > 0);
    q = p;
    snprintf(q.name, sizeof(q.name), "eta");
    assert_int_equal(store_peer_add(f->s, &q, NULL, 0, NULL, 0, &err), 0);
    assert_int_equal(store_peer_add(f->s, &q, NULL, 0, NULL, 0, &err), -1);
    assert_int_equal(err.code, KZ_EEXISTS);

    assert_int_equal(store_peer_find(f->s, "zeta", &got, &err), 0);
    assert_int_equal(got.key, p.key);
    assert_int_equal(got.token_len, sizeof(sealed));
    assert_memory_equal(got.token, sealed, sizeof(sealed));
    assert_int_equal(got.org, org.key);
    assert_true(got.created_us > 0);
    assert_string_equal(got.public_key, "ed25519:abc");
    assert_string_equal(got.user, "");

    /* credentials: the token alone, then with a Basic user */
    assert_int_equal(
            store_peer_credentials(f->s, "zeta", (const unsigned char *)"new", 3, NULL, &err), 0);
    assert_int_equal(store_peer_credentials(f->s, "zeta", (const unsigned char *)"newer", 5,
                                            "kizuna-zeta", &err),
                     0);
    assert_int_equal(store_peer_find(f->s, "zeta", &got, &err), 0);
    assert_int_equal(got.token_len, 5);
    assert_memory_equal(got.token, "newer", 5);
    assert_string_equal(got.user, "kizuna-zeta");
    assert_int_equal(
            store_peer_credentials(f->s, "nobody", (const unsigned char *)"x", 1, NULL, &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);

    /* outcomes: an error, then a success that clears it */
    assert_int_equal(store_peer_outcome(f->s, p.key, "connection refused", &err), 0);
    assert_int_equal(store_peer_find(f->s, "zeta", &got, &err), 0);
    assert_string_equal(got.last_error, "connection refused");
    assert_true(got.last_error_us > 0);
    assert_int_equal(store_peer_outcome(f->s, p.key, NULL, &err), 0);
    assert_int_equal(store_peer_find(f->s, "zeta", &got, &err), 0);
    assert_string_equal(got.last_error, "");
    assert_true(got.last_success_us > 0);

    /* listed by name; communities: its own, and its organisation's */
    struct peer_names names = {.n = 0};
    assert_int_equal(store_peer_each(f->s, collect_peer_name, &names, &err), 0);
    assert_int_equal(names.n, 2);
    assert_string_equal(names.v[0], "eta");
    assert_string_equal(names.v[1], "zeta");
    assert_int_equal(store_peer_own_communities(f->s, p.key, comms, 4, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(comms[0], mine.key);
    n = 0;
    assert_int_equal(store_peer_communities(f->s, p.key, comms, 4, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_true((comms[0] == mine.key && comms[1] == theirs.key) ||
                (comms[0] == theirs.key && comms[1] == mine.key));

    /* a link's checkpoint, outside a transaction */
    l.peer = p.key;
    assert_int_equal(store_link_checkpoint(f->s, &l, 77, "2024-01-01T00:00:00.123456Z", &err), 0);
    assert_int_equal(store_peer_links(f->s, p.key, collect_link, &rows, &err), 0);
    assert_int_equal(rows.n, 1);
    assert_int_equal(rows.l[0].checkpoint, 77);
    assert_string_equal(rows.l[0].checkpoint_text, "2024-01-01T00:00:00.123456Z");
    assert_string_equal(rows.l[0].remote, "remote-intel");

    /* the partner's audit head: none, then replaced whole */
    assert_int_equal(store_peer_head_get(f->s, p.key, &hgot, &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);
    memset(&h, 0, sizeof(h));
    h.peer = p.key;
    h.seq = 10;
    memset(h.hash, 0xab, sizeof(h.hash));
    h.seen_us = 99;
    snprintf(h.evidence, sizeof(h.evidence), "target\nsignature\nbody");
    assert_int_equal(store_peer_head_put(f->s, &h, &err), 0);
    h.seq = 12;
    snprintf(h.problem, sizeof(h.problem), "the log went back");
    h.problem_us = 100;
    assert_int_equal(store_peer_head_put(f->s, &h, &err), 0);
    assert_int_equal(store_peer_head_get(f->s, p.key, &hgot, &err), 0);
    assert_int_equal(hgot.seq, 12);
    assert_memory_equal(hgot.hash, h.hash, sizeof(h.hash));
    assert_string_equal(hgot.evidence, "target\nsignature\nbody");
    assert_string_equal(hgot.problem, "the log went back");
    assert_int_equal(hgot.problem_us, 100);

    /* removal takes the links and the head along */
    assert_int_equal(store_peer_remove(f->s, "zeta", &err), 0);
    assert_int_equal(store_peer_remove(f->s, "zeta", &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);
    rows.n = 0;
    assert_int_equal(store_peer_links(f->s, p.key, collect_link, &rows, &err), 0);
    assert_int_equal(rows.n, 0);
    assert_int_equal(store_peer_head_get(f->s, p.key, &hgot, &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);
}

struct audit_rows {
    char actions[16][16];
    int64_t seqs[16];
    int n;
};

static int collect_audit(void *ctx, const struct store_audit *a)
{
    struct audit_rows *r = ctx;

    if (r->n < 16) {
        snprintf(r->actions[r->n], sizeof(r->actions[0]), "%s", a->action);
        r->seqs[r->n++] = a->seq;
    }
    return 0;
}

/* The audit concern of the store: rows chained to the head under the
 * append's lock, read back by seq and by time and user, the head with its
 * MAC, and a witness that never moves back. */
static void test_audit_rows(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    struct store *a;
    struct store_audit rows[3], got;
    struct audit_rows seen = {.n = 0};
    unsigned char hash[STORE_AUDIT_HASH_LEN], mac[STORE_AUDIT_HASH_LEN], zero[STORE_AUDIT_HASH_LEN];
    int64_t seq = -1;

    memset(zero, 0, sizeof(zero));
    a = store_open_audit(f->backend, f->location, 0, &err);
    assert_non_null(a);
    /* empty: 0 and zeros */
    assert_int_equal(store_audit_head(a, &seq, hash, mac, &err), 0);
    assert_int_equal(seq, 0);
    assert_memory_equal(hash, zero, sizeof(zero));
    assert_int_equal(store_audit_get(a, 1, &got, &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);

    audit_row(&rows[0], "read");
    audit_row(&rows[1], "write");
    snprintf(rows[1].user, sizeof(rows[1].user), "bob");
    rows[1].ts_us = 50;
    rows[1].count = 7;
    snprintf(rows[1].markings, sizeof(rows[1].markings), "clear=3 amber=1");
    snprintf(rows[1].detail, sizeof(rows[1].detail), "/taxii2/default/collections/x/objects/");
    assert_int_equal(store_audit_append(a, rows, 2, test_chain, NULL, 1, &err), 0);
    audit_row(&rows[2], "export");
    rows[2].ts_us = 100;
    assert_int_equal(store_audit_append(a, &rows[2], 1, test_chain, NULL, 0, &err), 0);
    assert_int_equal(store_audit_append(a, rows, 0, test_chain, NULL, 1, &err), 0);

    assert_int_equal(store_audit_head(a, &seq, hash, mac, &err), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(hash[0], 3);
    assert_int_equal(mac[0], 0xa5);
    assert_int_equal(store_audit_get(a, 2, &got, &err), 0);
    assert_string_equal(got.user, "bob");
    assert_string_equal(got.action, "write");
    assert_int_equal(got.count, 7);
    assert_int_equal(got.ts_us, 50);
    assert_string_equal(got.markings, "clear=3 amber=1");
    assert_string_equal(got.detail, "/taxii2/default/collections/x/objects/");
    assert_int_equal(got.prev[0], 1);
    assert_int_equal(got.hash[0], 2);

    /* by time and user, in seq order */
    assert_int_equal(store_audit_each(a, INT64_MIN, NULL, collect_audit, &seen, &err), 0);
    assert_int_equal(seen.n, 3);
    assert_int_equal(seen.seqs[0], 1);
    assert_int_equal(seen.seqs[2], 3);
    seen.n = 0;
    assert_int_equal(store_audit_each(a, 50, NULL, collect_audit, &seen, &err), 0);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.actions[0], "write");
    seen.n = 0;
    assert_int_equal(store_audit_each(a, 0, "alice", collect_audit, &seen, &err), 0);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.actions[1], "export");
    store_close(a);

    /* recording a head as a witness (here over the log's own head) never
     * moves it back */
    memset(hash, 2, sizeof(hash));
    memset(mac, 8, sizeof(mac));
    assert_int_equal(store_audit_witness(f->s, 2, hash, mac, &err), 0);
    assert_int_equal(store_audit_head(f->s, &seq, hash, mac, &err), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(mac[0], 0xa5);
    memset(hash, 9, sizeof(hash));
    memset(mac, 8, sizeof(mac));
    assert_int_equal(store_audit_witness(f->s, 9, hash, mac, &err), 0);
    memset(hash, 5, sizeof(hash));
    assert_int_equal(store_audit_witness(f->s, 5, hash, mac, &err), 0);
    assert_int_equal(store_audit_head(f->s, &seq, hash, mac, &err), 0);
    assert_int_equal(seq, 9);
    assert_int_equal(hash[0], 9);
    assert_int_equal(mac[0], 8);
}

/* Servers appending to one audit log at once: each through its own
 * connection and audit/'s real chain. Every append must land, chained to
 * the others' rows (the head is locked while appending), and the whole
 * log must verify as one chain. */
struct appender {
    const char *backend;
    const char *location;
    int rows;
    int failed;
    char text[256];
};

static void *append_events(void *arg)
{
    struct appender *ap = arg;
    unsigned char key[AUDIT_KEY_BYTES];
    struct audit_opts o = {.backend = ap->backend, .path = ap->location};
    struct audit_event e = {.user = "alice",
                            .remote = "127.0.0.1",
                            .action = "write",
                            .detail = "concurrent",
                            .durable = 1};
    struct kz_error err;
    struct audit_log *l;

    memset(key, 7, sizeof(key));
    l = audit_log_open(&o, key, &err);
    if (!l) {
        ap->failed = 1;
        snprintf(ap->text, sizeof(ap->text), "%.200s", err.text);
        return NULL;
    }
    for (int i = 0; i < ap->rows; i++) {
        e.count = (uint64_t)i;
        if (audit_record(l, &e, &err) < 0) {
            ap->failed = 1;
            snprintf(ap->text, sizeof(ap->text), "%.200s", err.text);
            break;
        }
    }
    audit_log_close(l);
    return NULL;
}

static void test_audit_concurrent(void **state)
{
    struct fixture *f = fixture(state);
    char path[160];
    struct appender ap[2];
    pthread_t t[2];
    unsigned char key[AUDIT_KEY_BYTES];
    struct kz_error err;
    struct store *a;
    int64_t rows = 0, seq;
    unsigned char hash[STORE_AUDIT_HASH_LEN], mac[STORE_AUDIT_HASH_LEN];

    /* SQLite keeps the log in a file of its own; PostgreSQL in the database */
    snprintf(path, sizeof(path), "%s/audit.db", f->dir);
    for (int i = 0; i < 2; i++)
        ap[i] = (struct appender){
                .backend = f->backend, .location = f->dir[0] ? path : f->location, .rows = 60};
    /* made before the servers start, as `kizuna init` does */
    a = store_open_audit(f->backend, ap[0].location, 1, &err);
    assert_non_null(a);
    store_close(a);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, append_events, &ap[i]), 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        if (ap[i].failed)
            fail_msg("appender %d: %s", i, ap[i].text);
    }
    memset(key, 7, sizeof(key));
    a = store_open_audit(f->backend, ap[0].location, 0, &err);
    assert_non_null(a);
    if (audit_verify(a, NULL, key, &rows, &err) < 0)
        fail_msg("verify: %s", err.text);
    assert_int_equal(rows, 120);
    assert_int_equal(store_audit_head(a, &seq, hash, mac, &err), 0);
    assert_int_equal(seq, 120);
    store_close(a);
    if (f->dir[0])
        remove_store_files(path);
}

/* One handle at a time leads a task: a second is refused while the first
 * holds it, and takes it once the first is closed, or once the process
 * holding it dies without closing anything (its session, or its file
 * descriptor, ends with it). Other names are led apart. */
static void test_leader(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    struct store *a, *b;
    int ready[2], rc = 0;
    char byte;
    pid_t pid;
    int64_t deadline;

    a = store_open(f->backend, f->location, 0, &err);
    b = store_open(f->backend, f->location, 0, &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(store_leader_try(a, "sync", &err), 1);
    assert_int_equal(store_leader_try(a, "sync", &err), 1); /* still */
    assert_int_equal(store_leader_try(b, "sync", &err), 0);
    assert_int_equal(store_leader_try(b, "other", &err), 1);
    assert_int_equal(store_leader_try(b, "sync", &err), 0);
    assert_int_equal(store_leader_try(b, "Sync!", &err), -1);
    assert_int_equal(err.code, KZ_EINVALID);
    store_close(a);
    assert_int_equal(store_leader_try(b, "sync", &err), 1);
    store_close(b);

    /* a leader that dies: killed, nothing closed */
    assert_int_equal(pipe(ready), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct store *c = store_open(f->backend, f->location, 0, &err);
        close(ready[0]);
        if (c && store_leader_try(c, "sync", &err) == 1 && write(ready[1], "y", 1) == 1)
            for (;;)
                pause();
        _exit(1);
    }
    close(ready[1]);
    assert_int_equal(read(ready[0], &byte, 1), 1);
    close(ready[0]);
    b = store_open(f->backend, f->location, 0, &err);
    assert_non_null(b);
    assert_int_equal(store_leader_try(b, "sync", &err), 0);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    /* the database notices the lost connection on its own time: a few
     * seconds at most, as for a server taking over */
    deadline = kz_mono_micros() + 5000000;
    while (kz_mono_micros() < deadline && (rc = store_leader_try(b, "sync", &err)) == 0) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(rc, 1);
    store_close(b);
}

/* A server's log in PostgreSQL: no journal (the location is a DSN, not a
 * file to put one beside), so a read's row is committed before
 * audit_record returns, and nothing is made in the working directory. */
static void test_pg_audit_server_log(void **state)
{
    struct fixture *f = fixture(state);
    char dir[64], cwd[512];
    unsigned char key[AUDIT_KEY_BYTES];
    struct audit_opts o = {.backend = "postgresql", .path = f->location, .background = 1};
    struct audit_event e = {.user = "alice",
                            .remote = "127.0.0.1",
                            .action = "read",
                            .detail = "a read, not durable"};
    struct kz_error err;
    struct audit_log *l;
    struct store_audit got;
    int64_t rows = 0;

    memset(key, 3, sizeof(key));
    snprintf(dir, sizeof(dir), "/tmp/kz-cwd-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(dir), 0);
    l = audit_log_open(&o, key, &err);
    if (!l) {
        assert_int_equal(chdir(cwd), 0);
        fail_msg("audit_log_open: %s", err.text);
    }
    assert_int_equal(audit_record(l, &e, &err), 0);
    assert_int_equal(store_audit_get(f->s, 1, &got, &err), 0);
    assert_string_equal(got.detail, "a read, not durable");
    audit_log_close(l);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rmdir(dir), 0); /* empty: no journal was made */
    assert_int_equal(audit_verify(f->s, NULL, key, &rows, &err), 0);
    assert_int_equal(rows, 1);
}

/* --- PostgreSQL's own cases ------------------------------------------------ */

struct opener {
    const char *location;
    int rc;
    char text[256];
};

static void *open_created(void *arg)
{
    struct opener *o = arg;
    struct kz_error err;
    struct store *s = store_open("postgresql", o->location, 1, &err);

    o->rc = s ? 0 : -1;
    if (!s)
        snprintf(o->text, sizeof(o->text), "%.200s", err.text);
    store_close(s);
    return NULL;
}

/* Servers that start together on an empty database migrate it once: the
 * others wait on the advisory lock and find the schema there. An empty
 * database without create is "no store", not a store made in passing. */
static void test_pg_migrations(void **state)
{
    struct fixture *f = fixture(state);
    struct fixture fresh;
    struct opener o[4];
    pthread_t t[4];
    struct kz_error err;
    struct store *s;
    struct store_org org;

    memset(&fresh, 0, sizeof(fresh));
    assert_int_equal(pg_new_database(&fresh), 0);
    s = store_open("postgresql", fresh.location, 0, &err);
    assert_null(s);
    assert_int_equal(err.code, KZ_ENOTFOUND);
    for (int i = 0; i < 4; i++) {
        o[i] = (struct opener){.location = fresh.location};
        assert_int_equal(pthread_create(&t[i], NULL, open_created, &o[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        if (o[i].rc != 0)
            fail_msg("opener %d: %s", i, o[i].text);
    }
    s = store_open("postgresql", fresh.location, 0, &err);
    assert_non_null(s);
    assert_int_equal(store_org_find(s, "none", &org, &err), -1);
    assert_int_equal(err.code, KZ_ENOTFOUND);
    store_close(s);
    pg_drop_database(&fresh);
    (void)f;
}

#ifdef KZ_WITH_POSTGRESQL
/* One integer from sql on the case's own database, as another server
 * (or an operator) would see it. */
static int64_t pg_case_int(struct fixture *f, const char *sql)
{
    PGconn *c = PQconnectdb(f->location);
    PGresult *r = PQexec(c, sql);
    int64_t v = -1;

    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
    return v;
}
#endif

#ifdef KZ_WITH_POSTGRESQL
/* An upgrade one server at a time: a store migrated by a newer kizuna is
 * still opened by an older one while the newer schema says it may be (an
 * additive migration), and refused, with the reason, once it says not. */
static void test_pg_newer_schema(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    struct store *s;
    int have = 0, known = 0;

    pg_case_int(f, "UPDATE kizuna_schema SET version = version + 1");
    s = store_open("postgresql", f->location, 0, &err);
    if (!s)
        fail_msg("an additive newer schema was refused: %s", err.text);
    assert_int_equal(store_schema_version(s, &have, &known, &err), 0);
    assert_int_equal(have, known + 1);
    store_close(s);
    pg_case_int(f, "UPDATE kizuna_schema SET compat = version");
    assert_null(store_open("postgresql", f->location, 0, &err));
    assert_non_null(strstr(err.text, "upgrade kizuna"));
}

/* An append writes its rows and moves the head in one statement (every
 * row of one append has the same command id in its transaction), so that
 * the head's lock, which every server's appenders queue on, is held for
 * one round trip and not one per row; text that the rows travel in
 * (quotes, backslashes, braces, commas, UTF-8) and hash bytes of every
 * value come back as they were, durable or not. */
static void test_pg_audit_one_statement(void **state)
{
    struct fixture *f = fixture(state);
    static const char *users[] = {"a\"b", "c\\d", "{e,f}", "NULL", "\xc3\xa9t\xc3\xa9"};
    struct kz_error err;
    struct store *a;
    struct store_audit rows[5], got;

    a = store_open_audit(f->backend, f->location, 0, &err);
    assert_non_null(a);
    for (int i = 0; i < 5; i++) {
        audit_row(&rows[i], i % 2 ? "write" : "read");
        snprintf(rows[i].user, sizeof(rows[i].user), "%s", users[i]);
        snprintf(rows[i].detail, sizeof(rows[i].detail), "/x/?q=%s\\\"", users[i]);
        rows[i].ts_us = 10 + i;
    }
    assert_int_equal(store_audit_append(a, rows, 3, test_chain, NULL, 1, &err), 0);
    assert_int_equal(store_audit_append(a, &rows[3], 2, test_chain, NULL, 0, &err), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(store_audit_get(a, i + 1, &got, &err), 0);
        assert_string_equal(got.user, users[i]);
        assert_string_equal(got.detail, rows[i].detail);
        assert_int_equal(got.ts_us, 10 + i);
        assert_memory_equal(got.hash, rows[i].hash, STORE_AUDIT_HASH_LEN);
        assert_memory_equal(got.prev, rows[i].prev, STORE_AUDIT_HASH_LEN);
    }
    store_close(a);
    assert_int_equal(pg_case_int(f, "SELECT count(DISTINCT xmin::text) FROM audit"), 2);
    assert_int_equal(pg_case_int(f, "SELECT count(*) FROM (SELECT xmin::text FROM audit"
                                    " GROUP BY 1 HAVING count(DISTINCT cmin::text) > 1) t"),
                     0);
    assert_int_equal(pg_case_int(f, "SELECT seq FROM audit_head"), 5);
}
#endif

#ifdef KZ_WITH_POSTGRESQL
/* A new object's row, its recipient rows and its reference rows are
 * written by one statement (one command id), so that a put is one round
 * trip; a duplicate adds none of them. */
static void test_pg_put_one_statement(void **state)
{
    struct fixture *f = fixture(state);
    int64_t orgs[] = {7}, added;
    struct store_put_meta meta = {.producer = 1, .orgs = orgs, .norgs = 1, .submitter = 3};
    enum store_put_result res;
    struct kz_error err;
    const char *rel = REL("indicator--00000000-0000-4000-8000-000000000001",
                          "malware--00000000-0000-4000-8000-000000000002");

    put_meta(f, rel, &meta);
    assert_int_equal(pg_case_int(f, "SELECT count(*) FROM recipients"), 2);
    assert_int_equal(pg_case_int(f, "SELECT count(*) FROM refs"), 2);
    assert_int_equal(pg_case_int(f, "SELECT count(DISTINCT c) FROM (SELECT cmin::text AS c FROM"
                                    " objects UNION ALL SELECT cmin::text FROM recipients UNION ALL"
                                    " SELECT cmin::text FROM refs) t"),
                     1);
    assert_int_equal(put(f, rel, &res, &added, &err), 0);
    assert_int_equal(res, STORE_DUPLICATE);
    assert_int_equal(pg_case_int(f, "SELECT count(*) FROM recipients"), 2);
    assert_int_equal(pg_case_int(f, "SELECT count(*) FROM refs"), 2);
}
#endif

#ifdef KZ_WITH_POSTGRESQL
/* A batch is one statement on PostgreSQL: its rows, their recipient and
 * reference rows and the flag taken from an older version all carry one
 * command id. A text PostgreSQL refuses fails the batch, and the
 * transaction with it, as a put would (test_pg_bad_text). */
static void test_pg_put_many_one_statement(void **state)
{
    struct fixture *f = fixture(state);
    const int64_t orgs[] = {7};
    struct store_put_meta meta = {.producer = 1, .orgs = orgs, .norgs = 1, .submitter = 3};
    struct batch *b = batch_new();
    struct kz_error err;
    uint64_t count;

    put_meta(f, BATCH_IND("01", "2018-01-01T00:00:00.000Z", "a", ""), &meta);
    batch_add(b, BATCH_IND("01", "2019-01-01T00:00:00.000Z", "b", ""), &meta);
    batch_add(b, BATCH_IND("10", "2019-01-01T00:00:00.000Z", "c", ""), &meta);
    batch_add(b, BATCH_REL(BATCH_ID("10"), BATCH_ID("01")), &meta);
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_put_many(f->s, f->coll, b->it, b->n, &err), 0);
    assert_int_equal(store_commit(f->s, &err), 0);
    assert_int_equal(pg_case_int(f, "SELECT count(*) FROM recipients"), 8);
    assert_int_equal(pg_case_int(f, "SELECT count(*) FROM refs"), 2);
    /* the three new rows and the old version that lost its latest flag */
    assert_int_equal(pg_case_int(f,
                                 "SELECT count(*) FROM objects WHERE xmin::text = (SELECT"
                                 " xmin::text FROM objects WHERE stix_id = '" BATCH_ID("10") "')"),
                     4);
    assert_int_equal(pg_case_int(f, "SELECT count(DISTINCT cmin::text) FROM (SELECT xmin, cmin"
                                    " FROM objects UNION ALL SELECT xmin, cmin FROM recipients"
                                    " UNION ALL SELECT xmin, cmin FROM refs) t WHERE xmin::text ="
                                    " (SELECT xmin::text FROM objects WHERE stix_id = '" BATCH_ID(
                                            "10") "')"),
                     1);
    batch_free(b);

    b = batch_new();
    batch_add(b, BATCH_IND("11", "2019-01-01T00:00:00.000Z", "d", ""), &meta);
    batch_add(b, BATCH_IND("12", "2019-01-01T00:00:00.000Z", "e", ""), &meta);
    b->it[1].raw = "{\"name\":\"\xff\"}";
    b->it[1].rawlen = strlen(b->it[1].raw);
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_put_many(f->s, f->coll, b->it, b->n, &err), -1);
    assert_int_equal(err.code, KZ_EINVALID);
    assert_int_equal(store_commit(f->s, &err), -1);
    assert_non_null(strstr(err.text, "rolled back"));
    assert_int_equal(store_count(f->s, f->coll, &count, &err), 0);
    assert_int_equal(count, 4);
    batch_free(b);
}
#endif

#ifdef KZ_WITH_POSTGRESQL
/* The numbers of whole-table scans of objects and of scans of its by-type
 * index (which a collection-wide look-up would use) that PostgreSQL has
 * counted, once every other connection to the case's database has ended
 * (a backend hands its counts over as it exits). */
static int64_t pg_conn_int(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int64_t v = -1;

    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    return v;
}

static void pg_objects_scans(struct fixture *f, int64_t *seq, int64_t *by_type)
{
    PGconn *c = PQconnectdb(f->location);
    int64_t deadline = kz_mono_micros() + 30 * 1000000LL;

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    /* the closed connections' backends are exiting: wait for them */
    while (pg_conn_int(c, "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                          " current_database() AND pid <> pg_backend_pid()") != 0) {
        assert_true(kz_mono_micros() < deadline);
        usleep(10000);
    }
    *seq = pg_conn_int(c, "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'objects'");
    *by_type = pg_conn_int(c, "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname ="
                              " 'objects_by_type'");
    PQfinish(c);
}

/* A batch's look-ups of stored versions probe objects_by_id or the primary
 * key per row, whatever the plan the connection made while the table was
 * empty: a plan that scanned the collection instead made each statement of
 * a large import read every row written before it (minutes where seconds
 * were due). The counts of scans taken before and after the batches,
 * both with the store closed, must be equal. */
static void test_pg_put_many_never_scans_the_collection(void **state)
{
    struct fixture *f = fixture(state);
    struct store_put_meta meta = {.producer = 1};
    struct store_owner owners[4];
    const char *ids[4] = {BATCH_ID("01"), BATCH_ID("02"), BATCH_ID("03"), BATCH_ID("09")};
    const int64_t versions[4] = {0, 0, 0, 0};
    int64_t seq0, type0, seq1, type1;
    struct batch *b;
    struct kz_error err;

    store_close(f->s);
    pg_objects_scans(f, &seq0, &type0);
    f->s = store_open("postgresql", f->location, 0, &err);
    assert_non_null(f->s);
    /* the first statements plan on an empty table */
    b = batch_new();
    batch_add(b, BATCH_IND("01", "2018-01-01T00:00:00.000Z", "a", ""), &meta);
    batch_add(b, BATCH_IND("02", "2018-01-01T00:00:00.000Z", "a", ""), &meta);
    batch_add(b, BATCH_IND("03", "2018-01-01T00:00:00.000Z", "a", ""), &meta);
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_object_owners(f->s, f->coll, 4, ids, versions, owners, &err), 0);
    assert_int_equal(store_put_many(f->s, f->coll, b->it, b->n, &err), 0);
    assert_int_equal(store_commit(f->s, &err), 0);
    batch_free(b);
    /* newer and older versions (flags taken from old rows), a duplicate
     * and a conflict (versions read back) */
    b = batch_new();
    batch_add(b, BATCH_IND("01", "2019-01-01T00:00:00.000Z", "b", ""), &meta);
    batch_add(b, BATCH_IND("02", "2017-01-01T00:00:00.000Z", "b", ""), &meta);
    batch_add(b, BATCH_IND("03", "2018-01-01T00:00:00.000Z", "a", ""), &meta);
    batch_add(b, BATCH_IND("09", "2018-01-01T00:00:00.000Z", "a", ""), &meta);
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_object_owners(f->s, f->coll, 4, ids, versions, owners, &err), 0);
    assert_true(owners[0].exists && owners[1].exists && owners[2].exists && !owners[3].exists);
    assert_int_equal(store_put_many(f->s, f->coll, b->it, b->n, &err), 0);
    assert_int_equal(b->it[0].result, STORE_ADDED);
    assert_int_equal(b->it[1].result, STORE_ADDED);
    assert_int_equal(b->it[2].result, STORE_DUPLICATE);
    assert_int_equal(store_commit(f->s, &err), 0);
    batch_free(b);
    store_close(f->s);
    pg_objects_scans(f, &seq1, &type1);
    f->s = store_open("postgresql", f->location, 0, &err);
    assert_non_null(f->s);
    assert_int_equal(seq1 - seq0, 0);
    assert_int_equal(type1 - type0, 0);
}
#endif

struct second_server {
    struct store *s;
    int64_t coll;
    const char *json;
    int rc;
    int64_t added;
    char text[256];
};

/* A second server's transaction that puts one object. */
static void *second_put(void *arg)
{
    struct second_server *w = arg;
    struct kzj_doc doc;
    struct stix_obj o;
    struct kz_error err;
    enum store_put_result res;

    kzj_doc_init(&doc);
    w->rc = -1;
    if (kzj_parse(&doc, w->json, strlen(w->json), &err) == 0 &&
        stix_obj_read(&doc, 0, &o, &err) == 0 && store_begin(w->s, &err) == 0) {
        if (store_put(w->s, w->coll, &o, w->json, strlen(w->json), NULL, &res, &w->added, &err) ==
                    0 &&
            store_commit(w->s, &err) == 0)
            w->rc = 0;
        else
            store_rollback(w->s);
    }
    if (w->rc < 0)
        snprintf(w->text, sizeof(w->text), "%.200s", err.text);
    kzj_doc_free(&doc);
    return NULL;
}

/* Dates added grow in commit order across servers on one database: a
 * second server that puts while the first's transaction is open waits
 * for its commit and dates its object after every one the first put,
 * even those put after it began waiting. A clock behind the last date
 * recorded (another server's, ahead of ours) never dates an object
 * earlier. */
static void test_pg_dates_in_commit_order(void **state)
{
    struct fixture *f = fixture(state);
#ifdef KZ_WITH_POSTGRESQL
    struct second_server w = {.json = OTHER};
    struct kz_error err;
    struct stix_obj o;
    enum store_put_result res;
    int64_t x1, x2, ahead, added;
    pthread_t t;
    char sql[256];
    const char *j1 = IND("2017-01-01T00:00:00.000Z", "v1"),
               *j2 = IND("2018-01-01T00:00:00.000Z", "v2");

    w.s = store_open("postgresql", f->location, 0, &err);
    assert_non_null(w.s);
    w.coll = f->coll;
    assert_int_equal(kzj_parse(&f->doc, j1, strlen(j1), &err), 0);
    assert_int_equal(stix_obj_read(&f->doc, 0, &o, &err), 0);
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_put(f->s, f->coll, &o, j1, strlen(j1), NULL, &res, &x1, &err), 0);
    assert_int_equal(pthread_create(&t, NULL, second_put, &w), 0);
    /* wait until the second server waits for the objects' clock */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s'"
             " AND wait_event_type = 'Lock'",
             f->db);
    for (int64_t until = kz_now_micros() + 30000000; pg_case_int(f, sql) < 1;)
        assert_true(kz_now_micros() < until);
    assert_int_equal(kzj_parse(&f->doc, j2, strlen(j2), &err), 0);
    assert_int_equal(stix_obj_read(&f->doc, 0, &o, &err), 0);
    assert_int_equal(store_put(f->s, f->coll, &o, j2, strlen(j2), NULL, &res, &x2, &err), 0);
    assert_int_equal(store_commit(f->s, &err), 0);
    pthread_join(t, NULL);
    if (w.rc != 0)
        fail_msg("second server: %s", w.text);
    assert_true(x1 < x2 && x2 < w.added);
    store_close(w.s);

    /* another server's clock ran ahead: the next date follows its last */
    ahead = kz_now_micros() + 3600000000LL;
    snprintf(sql, sizeof(sql), "UPDATE objects_clock SET last_added = %lld", (long long)ahead);
    pg_case_int(f, sql);
    assert_int_equal(put(f, IND("2019-01-01T00:00:00.000Z", "v3"), &res, &added, &err), 0);
    assert_true(added == ahead + 1);
    assert_true(pg_case_int(f, "SELECT last_added FROM objects_clock") == added);
#endif
    (void)f;
}

/* A DSN that cannot connect is a clear KZ_EIO at open, naming the reason
 * and never the password. */
static void test_pg_bad_dsn(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    char dsn[700];

    snprintf(dsn, sizeof(dsn), "%s user=nobody_here password=s3cret-pw", f->location);
    assert_null(store_open("postgresql", dsn, 1, &err));
    assert_int_equal(err.code, KZ_EIO);
    assert_non_null(strstr(err.text, "cannot connect to PostgreSQL"));
    assert_non_null(strstr(err.text, "nobody_here"));
    assert_null(strstr(err.text, "s3cret-pw"));
    snprintf(dsn, sizeof(dsn), "%s dbname=no_such_db", f->location);
    assert_null(store_open("postgresql", dsn, 1, &err));
    assert_int_equal(err.code, KZ_EIO);
    assert_non_null(strstr(err.text, "no_such_db"));
}

/* Text that is not UTF-8 is refused as bad input (PostgreSQL checks
 * every text value), not as a failure of the store. */
static void test_pg_bad_text(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    struct store_org o = {.name = "bad\xff\xfename"};
    const char *json = IND("2017-01-01T00:00:00.000Z", "v1"), *bad = "{\"name\":\"\xff\"}";
    struct stix_obj obj;
    enum store_put_result res;
    int64_t added;
    uint64_t count = 1;

    assert_int_equal(store_org_add(f->s, &o, &err), -1);
    assert_int_equal(err.code, KZ_EINVALID);
    /* an object's text too; the transaction it failed in then commits
     * nothing, says so, and leaves the store usable */
    assert_int_equal(kzj_parse(&f->doc, json, strlen(json), &err), 0);
    assert_int_equal(stix_obj_read(&f->doc, 0, &obj, &err), 0);
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_put(f->s, f->coll, &obj, json, strlen(json), NULL, &res, &added, &err),
                     0);
    assert_int_equal(store_put(f->s, f->coll, &obj, bad, strlen(bad), NULL, &res, &added, &err),
                     -1);
    assert_int_equal(err.code, KZ_EINVALID);
    assert_int_equal(store_commit(f->s, &err), -1);
    assert_non_null(strstr(err.text, "rolled back"));
    assert_int_equal(store_begin(f->s, &err), 0);
    store_rollback(f->s);
    assert_int_equal(store_count(f->s, f->coll, &count, &err), 0);
    assert_int_equal(count, 0);
}

/* s's data version, which must differ from `from` at once: the commit
 * that moved it has returned on the other connection, and the next request
 * of a server reads the version once, without waiting. */
static uint64_t version_moved(struct store *s, uint64_t from)
{
    struct kz_error err;
    uint64_t v = from;

    if (store_data_version(s, &v, &err) < 0)
        fail_msg("data version: %s", err.text);
    if (v == from)
        fail_msg("the data version did not move with the other connection's commit");
    return v;
}

/* Several servers over one database: a commit through one connection moves
 * every other connection's data version (LISTEN/NOTIFY) from the moment
 * the commit returns, so their caches go; a connection's own commits and
 * mere reads do not move its own. A token revoked through one is refused
 * through the other. Run several times over, as the race it rules out
 * (a notification still on its way) would show only now and then. */
static void test_pg_data_version(void **state)
{
    struct fixture *f = fixture(state);
    struct kz_error err;
    struct store *b;
    struct store_org o = {.name = "first"}, found;
    struct store_user u = {.name = "ana", .role = "reader"};
    struct store_token t;
    struct auth_cache *cache = auth_cache_new();
    struct auth_user who;
    char token[AUTH_TOKEN_MAX], header[AUTH_TOKEN_MAX + 16];
    uint64_t va, vb, v;

    b = store_open("postgresql", f->location, 0, &err);
    assert_non_null(b);
    for (int i = 0; i < 50; i++) {
        struct store_org x;
        memset(&x, 0, sizeof(x));
        snprintf(x.name, sizeof(x.name), "org-%d", i);
        snprintf(x.identity, sizeof(x.identity), "identity--x%d", i);
        assert_int_equal(store_data_version(b, &vb, &err), 0);
        assert_int_equal(store_org_add(f->s, &x, &err), 0);
        version_moved(b, vb);
    }
    assert_int_equal(store_data_version(f->s, &va, &err), 0);
    assert_int_equal(store_data_version(b, &vb, &err), 0);
    /* nobody writes, reads included: the version stands */
    assert_int_equal(store_org_find(b, "first", &found, &err), -1);
    assert_int_equal(store_data_version(b, &v, &err), 0);
    assert_int_equal(v, vb);

    /* a write outside a transaction, through the other connection */
    assert_int_equal(store_org_add(f->s, &o, &err), 0);
    vb = version_moved(b, vb);
    assert_int_equal(store_org_find(b, "first", &found, &err), 0);

    /* a transaction: announced at its commit */
    u.org = o.key;
    assert_int_equal(store_begin(f->s, &err), 0);
    assert_int_equal(store_user_add(f->s, &u, &err), 0);
    auth_token_generate(u.key, token, &t);
    assert_int_equal(store_token_add(f->s, &t, &err), 0);
    assert_int_equal(store_commit(f->s, &err), 0);
    vb = version_moved(b, vb);
    assert_int_equal(store_token_find(b, t.token_id, &t, &err), 0);
    assert_int_equal(t.revoked_us, 0);

    /* the other way: b's commit moves f's version, not b's own */
    assert_int_equal(store_data_version(f->s, &v, &err), 0);
    assert_int_equal(v, va); /* f's own commits did not move it */
    snprintf(o.name, sizeof(o.name), "second");
    snprintf(o.identity, sizeof(o.identity), "identity--2");
    assert_int_equal(store_org_add(b, &o, &err), 0);
    va = version_moved(f->s, va);
    assert_int_equal(store_data_version(b, &v, &err), 0);
    assert_int_equal(v, vb);

    /* a revocation through f (server A): b (server B) has the token's
     * check cached; its next request sees the version move, drops the
     * cached checks, as taxii/cache.c does, and refuses the token */
    snprintf(header, sizeof(header), "Bearer %s", token);
    assert_non_null(cache);
    assert_int_equal(auth_check(cache, b, header, &who, &err), 0);
    assert_string_equal(who.name, "ana");
    assert_int_equal(store_token_revoke(f->s, t.token_id, &err), 0);
    vb = version_moved(b, vb);
    auth_cache_invalidate(cache);
    assert_int_equal(auth_check(cache, b, header, &who, &err), -1);
    assert_int_equal(err.code, KZ_EDENIED);
    assert_int_equal(store_token_find(b, t.token_id, &t, &err), 0);
    assert_true(t.revoked_us > 0);
    auth_cache_free(cache);
    store_close(b);
}

/* The cases of the concerns every backend implements, on one backend. */
#define BOTH_BACKENDS(su, td)                                                                      \
    cmocka_unit_test_setup_teardown(test_accounts, su, td),                                        \
            cmocka_unit_test_setup_teardown(test_listing_callbacks, su, td),                       \
            cmocka_unit_test_setup_teardown(test_collections, su, td),                             \
            cmocka_unit_test_setup_teardown(test_blobs_and_status, su, td),                        \
            cmocka_unit_test_setup_teardown(test_communities_and_grants, su, td),                  \
            cmocka_unit_test_setup_teardown(test_failure_keeps_transaction, su, td),               \
            cmocka_unit_test_setup_teardown(test_steps, su, td),                                   \
            cmocka_unit_test_setup_teardown(test_list_needs_visibility, su, td),                   \
            cmocka_unit_test_setup_teardown(test_remove_and_keys, su, td),                         \
            cmocka_unit_test_setup_teardown(test_duplicates_and_conflicts, su, td),                \
            cmocka_unit_test_setup_teardown(test_versions, su, td),                                \
            cmocka_unit_test_setup_teardown(test_filters_and_pages, su, td),                       \
            cmocka_unit_test_setup_teardown(test_rollback, su, td),                                \
            cmocka_unit_test_setup_teardown(test_unversioned_sco, su, td),                         \
            cmocka_unit_test_setup_teardown(test_owner_and_scoped_delete, su, td),                 \
            cmocka_unit_test_setup_teardown(test_visibility, su, td),                              \
            cmocka_unit_test_setup_teardown(test_delete_versions_and_exclusions, su, td),          \
            cmocka_unit_test_setup_teardown(test_put_many, su, td),                                \
            cmocka_unit_test_setup_teardown(test_object_owners, su, td),                           \
            cmocka_unit_test_setup_teardown(test_conflict_keeps_transaction, su, td),              \
            cmocka_unit_test_setup_teardown(test_list_stops_early, su, td),                        \
            cmocka_unit_test_setup_teardown(test_remove_collection_and_community, su, td),         \
            cmocka_unit_test_setup_teardown(test_peers_in_transaction, su, td),                    \
            cmocka_unit_test_setup_teardown(test_peers_lifecycle, su, td),                         \
            cmocka_unit_test_setup_teardown(test_audit_rows, su, td),                              \
            cmocka_unit_test_setup_teardown(test_audit_concurrent, su, td),                        \
            cmocka_unit_test_setup_teardown(test_leader, su, td)

int main(void)
{
    const struct CMUnitTest sqlite[] = {
            BOTH_BACKENDS(setup, teardown),
            cmocka_unit_test_setup_teardown(test_reopen_and_missing, setup, teardown),
            cmocka_unit_test_setup_teardown(test_id_index_levelled, setup, teardown),
            cmocka_unit_test_setup_teardown(test_audit_open_narrow, setup, teardown),
    };
    const struct CMUnitTest postgresql[] = {
            BOTH_BACKENDS(setup_pg, teardown),
            cmocka_unit_test_setup_teardown(test_pg_migrations, setup_pg, teardown),
            cmocka_unit_test_setup_teardown(test_pg_newer_schema, setup_pg, teardown),
            cmocka_unit_test_setup_teardown(test_pg_dates_in_commit_order, setup_pg, teardown),
            cmocka_unit_test_setup_teardown(test_pg_bad_dsn, setup_pg, teardown),
            cmocka_unit_test_setup_teardown(test_pg_bad_text, setup_pg, teardown),
            cmocka_unit_test_setup_teardown(test_pg_data_version, setup_pg, teardown),
            cmocka_unit_test_setup_teardown(test_pg_audit_server_log, setup_pg, teardown),
            cmocka_unit_test_setup_teardown(test_pg_audit_one_statement, setup_pg, teardown),
            cmocka_unit_test_setup_teardown(test_pg_put_one_statement, setup_pg, teardown),
            cmocka_unit_test_setup_teardown(test_pg_put_many_one_statement, setup_pg, teardown),
            cmocka_unit_test_setup_teardown(test_pg_put_many_never_scans_the_collection, setup_pg,
                                            teardown),
    };
    int failed;

    if (sodium_init() < 0)
        return 1;
    failed = cmocka_run_group_tests_name("sqlite", sqlite, NULL, NULL);
    pg_start();
    if (!pg_admin[0] && getenv("KZ_TEST_PG_REQUIRED")) {
        /* a machine meant to test PostgreSQL must not pass by skipping */
        fprintf(stderr, "# KZ_TEST_PG_REQUIRED is set but no PostgreSQL is available\n");
        failed++;
    }
    failed += cmocka_run_group_tests_name("postgresql", postgresql, NULL, NULL);
    pg_stop();
    return failed;
}
