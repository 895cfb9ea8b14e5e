/*
 * The refs gate of a listing on the SQLite store, and the memo that keeps
 * its answers from one listing to the next (a page's relationships point
 * to a few targets again and again): a relationship is listed only when
 * every object it points to that the collection holds has a version the
 * reader may see. Each step changes the target (it arrives after the
 * relationship, gets a visible version, a revoked one, loses versions, is
 * removed) and lists through the connection that wrote and through a
 * second one that only reads, twice each and for two readers in turn, so
 * that an answer remembered before the change would show. Every case runs
 * with the ids written plainly and with JSON escapes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json/json.h"
#include "stix/stix.h"
#include "store/store.h"
#include "store/store_objects.h"
#include "store_files.h"

#define GREEN  "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
#define AMBER  "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
#define IND_ID "indicator--0a9f1c3e-7d41-4b8e-9c2a-5e6f7a8b9c0d"
#define TGT_ID "malware--1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b"
#define REL_ID "relationship--2c3d4e5f-6071-4829-9bac-1d2e3f4a5b6c"
/* the same ids with their hyphens written as JSON escapes */
#define TGT_ID_ESC "malware\\u002d\\u002d1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b"

struct fixture {
    char dir[64];
    char path[128];
    struct store *w; /* writes, and lists */
    struct store *r; /* only lists: learns of changes from the other's commits */
    int64_t coll;
    struct kzj_doc doc;
    int escaped; /* write the target's id with JSON escapes */
};

static int setup_with(void **state, int escaped)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct kz_error err;
    struct store_api_root root = {.name = "default", .max_content_length = 1 << 20};
    struct store_collection c = {.alias = "intel", .api_root = "default"};

    if (!f)
        return -1;
    kzj_doc_init(&f->doc);
    f->escaped = escaped;
    *state = f;
    snprintf(f->dir, sizeof(f->dir), "/tmp/kz-gate-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/kizuna.db", f->dir);
    f->w = store_open("sqlite", f->path, 1, &err);
    if (!f->w || store_api_root_add(f->w, &root, &err) < 0 ||
        store_collection_add(f->w, &c, &err) < 0)
        return -1;
    f->coll = c.key;
    f->r = store_open("sqlite", f->path, 0, &err);
    return f->r ? 0 : -1;
}

static int setup(void **state)
{
    return setup_with(state, 0);
}

static int setup_escaped(void **state)
{
    return setup_with(state, 1);
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    store_close(f->r);
    store_close(f->w);
    kzj_doc_free(&f->doc);
    remove_store_files(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void put(struct fixture *f, const char *json)
{
    enum store_put_result res;
    struct stix_obj o;
    struct kz_error err;
    int64_t added;

    assert_int_equal(kzj_parse(&f->doc, json, strlen(json), &err), 0);
    assert_int_equal(stix_obj_read(&f->doc, 0, &o, &err), 0);
    assert_int_equal(store_begin(f->w, &err), 0);
    assert_int_equal(store_put(f->w, f->coll, &o, json, strlen(json), NULL, &res, &added, &err), 0);
    assert_int_equal(store_commit(f->w, &err), 0);
}

/* The target, version `modified`, with one marking; revoked or not. */
static void put_target(struct fixture *f, const char *modified, const char *marking, int revoked)
{
    char json[1024];

    snprintf(json, sizeof(json),
             "{\"type\":\"malware\",\"spec_version\":\"2.1\",\"id\":\"%s\","
             "\"created\":\"2024-01-01T00:00:00.000Z\",\"modified\":\"%s\",\"name\":\"x\","
             "\"is_family\":false%s,\"object_marking_refs\":[\"%s\"]}",
             f->escaped ? TGT_ID_ESC : TGT_ID, modified, revoked ? ",\"revoked\":true" : "",
             marking);
    put(f, json);
}

struct seen {
    int indicator, relationship, target;
};

static int on_row(void *ctx, const struct store_row *r, struct kz_error *err)
{
    struct seen *s = ctx;

    (void)err;
    s->indicator += strcmp(r->id, IND_ID) == 0;
    s->relationship += strcmp(r->id, REL_ID) == 0;
    s->target += strcmp(r->id, TGT_ID) == 0;
    return 0;
}

/* What a reader who sees up to max_level lists through store s. */
static struct seen list(struct fixture *f, struct store *s, int max_level)
{
    struct store_filter flt;
    struct store_page page;
    struct kz_error err;
    struct seen seen = {0, 0, 0};

    store_filter_init(&flt, f->coll);
    flt.vis = (struct store_visibility){.active = 1,
                                        .max_level = max_level,
                                        .default_tlp = STIX_TLP_AMBER,
                                        .user = -1,
                                        .org = -1,
                                        .check_refs = 1};
    flt.limit = 10;
    if (store_list(s, &flt, 1, on_row, &seen, &page, &err) < 0)
        fail_msg("list: %s", err.text);
    return seen;
}

/* Lists through both connections, twice each, for a GREEN reader and an
 * AMBER one in turn: each must see the relationship as expected. */
static void expect(struct fixture *f, int green_sees_rel, int green_sees_target)
{
    struct store *conns[2] = {f->r, f->w};

    for (int round = 0; round < 2; round++)
        for (int c = 0; c < 2; c++) {
            struct seen g = list(f, conns[c], STIX_TLP_GREEN);
            struct seen a = list(f, conns[c], STIX_TLP_AMBER);

            assert_int_equal(g.indicator, 1);
            assert_int_equal(g.relationship, green_sees_rel);
            assert_int_equal(g.target, green_sees_target);
            /* AMBER sees every version here, so every relationship */
            assert_int_equal(a.relationship, 1);
        }
}

static void test_gate_follows_the_target(void **state)
{
    struct fixture *f = *state;
    struct store_filter flt;
    struct kz_error err;
    uint64_t deleted;

    put(f, "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"" IND_ID
           "\",\"created\":\"2024-01-01T00:00:00.000Z\",\"modified\":\"2024-01-01T00:00:00.000Z\","
           "\"pattern\":\"[ipv4-addr:value = '192.0.2.1']\",\"pattern_type\":\"stix\","
           "\"valid_from\":\"2024-01-01T00:00:00Z\",\"object_marking_refs\":[\"" GREEN "\"]}");
    put(f, "{\"type\":\"relationship\",\"spec_version\":\"2.1\",\"id\":\"" REL_ID
           "\",\"created\":\"2024-01-01T00:00:00.000Z\",\"modified\":\"2024-01-01T00:00:00.000Z\","
           "\"relationship_type\":\"indicates\",\"source_ref\":\"" IND_ID
           "\",\"target_ref\":\"" TGT_ID "\",\"object_marking_refs\":[\"" GREEN "\"]}");
    /* the target is not held: nothing to hide */
    expect(f, 1, 0);
    /* it arrives later, AMBER: the GREEN reader loses the relationship */
    put_target(f, "2024-02-01T00:00:00.000Z", AMBER, 0);
    expect(f, 0, 0);
    /* a new version it may see: the relationship is back */
    put_target(f, "2024-03-01T00:00:00.000Z", GREEN, 0);
    expect(f, 1, 1);
    /* revoked in a newer AMBER version: the GREEN version still counts */
    put_target(f, "2024-04-01T00:00:00.000Z", AMBER, 1);
    expect(f, 1, 1);
    /* the GREEN version removed: only AMBER versions are left */
    store_filter_init(&flt, f->coll);
    store_filter_everything(&flt);
    flt.version_times[0] = 1709251200000000LL; /* 2024-03-01 */
    flt.nversion_times = 1;
    assert_int_equal(store_begin(f->w, &err), 0);
    assert_int_equal(store_delete(f->w, f->coll, TGT_ID, &flt, &deleted, &err), 0);
    assert_int_equal(store_commit(f->w, &err), 0);
    assert_int_equal(deleted, 1);
    expect(f, 0, 0);
    /* the target removed altogether: not held, nothing to hide */
    store_filter_init(&flt, f->coll);
    store_filter_everything(&flt);
    flt.versions = STORE_V_ALL;
    assert_int_equal(store_begin(f->w, &err), 0);
    assert_int_equal(store_delete(f->w, f->coll, TGT_ID, &flt, &deleted, &err), 0);
    assert_int_equal(store_commit(f->w, &err), 0);
    assert_int_equal(deleted, 2);
    expect(f, 1, 0);
}

/* Inside a write transaction the writer's listing sees its own changes. */
static void test_gate_inside_a_transaction(void **state)
{
    struct fixture *f = *state;
    char json[1024];
    enum store_put_result res;
    struct stix_obj o;
    struct kz_error err;
    int64_t added;

    put(f, "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"" IND_ID
           "\",\"created\":\"2024-01-01T00:00:00.000Z\",\"modified\":\"2024-01-01T00:00:00.000Z\","
           "\"pattern\":\"[ipv4-addr:value = '192.0.2.1']\",\"pattern_type\":\"stix\","
           "\"valid_from\":\"2024-01-01T00:00:00Z\",\"object_marking_refs\":[\"" GREEN "\"]}");
    put(f, "{\"type\":\"relationship\",\"spec_version\":\"2.1\",\"id\":\"" REL_ID
           "\",\"created\":\"2024-01-01T00:00:00.000Z\",\"modified\":\"2024-01-01T00:00:00.000Z\","
           "\"relationship_type\":\"indicates\",\"source_ref\":\"" IND_ID
           "\",\"target_ref\":\"" TGT_ID "\",\"object_marking_refs\":[\"" GREEN "\"]}");
    assert_int_equal(list(f, f->w, STIX_TLP_GREEN).relationship, 1);
    snprintf(json, sizeof(json),
             "{\"type\":\"malware\",\"spec_version\":\"2.1\",\"id\":\"%s\","
             "\"created\":\"2024-01-01T00:00:00.000Z\",\"modified\":\"2024-01-01T00:00:00.000Z\","
             "\"name\":\"x\",\"is_family\":false,\"object_marking_refs\":[\"" AMBER "\"]}",
             f->escaped ? TGT_ID_ESC : TGT_ID);
    assert_int_equal(kzj_parse(&f->doc, json, strlen(json), &err), 0);
    assert_int_equal(stix_obj_read(&f->doc, 0, &o, &err), 0);
    assert_int_equal(store_begin(f->w, &err), 0);
    assert_int_equal(list(f, f->w, STIX_TLP_GREEN).relationship, 1);
    assert_int_equal(store_put(f->w, f->coll, &o, json, strlen(json), NULL, &res, &added, &err), 0);
    assert_int_equal(list(f, f->w, STIX_TLP_GREEN).relationship, 0);
    store_rollback(f->w);
    assert_int_equal(list(f, f->w, STIX_TLP_GREEN).relationship, 1);
    assert_int_equal(list(f, f->r, STIX_TLP_GREEN).relationship, 1);
}

struct nested {
    struct fixture *f;
    int rows, inner_rel;
};

/* The outer listing's callback: on its first row, a GREEN reader's listing
 * on the same connection. */
static int on_outer_row(void *ctx, const struct store_row *r, struct kz_error *err)
{
    struct nested *n = ctx;

    (void)r;
    (void)err;
    if (n->rows++ == 0)
        n->inner_rel = list(n->f, n->f->w, STIX_TLP_GREEN).relationship;
    return 0;
}

/* A listing nested in another's callback (another view on the same
 * connection) must not leave the outer one's answers under its view: the
 * AMBER reader sees the AMBER target, the GREEN reader never does. */
static void test_gate_nested_listing(void **state)
{
    struct fixture *f = *state;
    struct nested n = {.f = f};
    struct store_filter flt;
    struct store_page page;
    struct kz_error err;

    put(f, "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"" IND_ID
           "\",\"created\":\"2024-01-01T00:00:00.000Z\",\"modified\":\"2024-01-01T00:00:00.000Z\","
           "\"pattern\":\"[ipv4-addr:value = '192.0.2.1']\",\"pattern_type\":\"stix\","
           "\"valid_from\":\"2024-01-01T00:00:00Z\",\"object_marking_refs\":[\"" GREEN "\"]}");
    put(f, "{\"type\":\"relationship\",\"spec_version\":\"2.1\",\"id\":\"" REL_ID
           "\",\"created\":\"2024-01-01T00:00:00.000Z\",\"modified\":\"2024-01-01T00:00:00.000Z\","
           "\"relationship_type\":\"indicates\",\"source_ref\":\"" IND_ID
           "\",\"target_ref\":\"" TGT_ID "\",\"object_marking_refs\":[\"" GREEN "\"]}");
    put_target(f, "2024-02-01T00:00:00.000Z", AMBER, 0);
    store_filter_init(&flt, f->coll);
    flt.vis = (struct store_visibility){.active = 1,
                                        .max_level = STIX_TLP_AMBER,
                                        .default_tlp = STIX_TLP_AMBER,
                                        .user = -1,
                                        .org = -1,
                                        .check_refs = 1};
    /* no limit: a listing of the same shape would share the prepared
     * statement, which the SQLite store does not support nested */
    flt.limit = 0;
    if (store_list(f->w, &flt, 1, on_outer_row, &n, &page, &err) < 0)
        fail_msg("list: %s", err.text);
    assert_int_equal(n.rows, 3);
    assert_int_equal(n.inner_rel, 0);
    assert_int_equal(list(f, f->w, STIX_TLP_GREEN).relationship, 0);
    assert_int_equal(list(f, f->w, STIX_TLP_AMBER).relationship, 1);
}

/* store_delete with a reader's visibility removes only a relationship the
 * reader may see, the gate included (its plain SQL, without the memo). */
static void test_gate_on_delete(void **state)
{
    struct fixture *f = *state;
    struct store_filter flt;
    struct kz_error err;
    uint64_t deleted;

    put(f, "{\"type\":\"relationship\",\"spec_version\":\"2.1\",\"id\":\"" REL_ID
           "\",\"created\":\"2024-01-01T00:00:00.000Z\",\"modified\":\"2024-01-01T00:00:00.000Z\","
           "\"relationship_type\":\"indicates\",\"source_ref\":\"" IND_ID
           "\",\"target_ref\":\"" TGT_ID "\",\"object_marking_refs\":[\"" GREEN "\"]}");
    put_target(f, "2024-02-01T00:00:00.000Z", AMBER, 0);
    for (int round = 0; round < 2; round++) {
        store_filter_init(&flt, f->coll);
        flt.versions = STORE_V_ALL;
        flt.vis = (struct store_visibility){.active = 1,
                                            .max_level = STIX_TLP_GREEN,
                                            .default_tlp = STIX_TLP_AMBER,
                                            .user = -1,
                                            .org = -1,
                                            .check_refs = 1};
        assert_int_equal(store_begin(f->w, &err), 0);
        assert_int_equal(store_delete(f->w, f->coll, REL_ID, &flt, &deleted, &err), 0);
        assert_int_equal(store_commit(f->w, &err), 0);
        /* first the target is AMBER only: the GREEN reader cannot see the
         * relationship, so cannot delete it; then it has a GREEN version */
        assert_int_equal(deleted, round == 0 ? 0 : 1);
        if (round == 0)
            put_target(f, "2024-03-01T00:00:00.000Z", GREEN, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_gate_follows_the_target, setup, teardown),
            cmocka_unit_test_setup_teardown(test_gate_follows_the_target, setup_escaped, teardown),
            cmocka_unit_test_setup_teardown(test_gate_inside_a_transaction, setup, teardown),
            cmocka_unit_test_setup_teardown(test_gate_inside_a_transaction, setup_escaped,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_gate_nested_listing, setup, teardown),
            cmocka_unit_test_setup_teardown(test_gate_nested_listing, setup_escaped, teardown),
            cmocka_unit_test_setup_teardown(test_gate_on_delete, setup, teardown),
            cmocka_unit_test_setup_teardown(test_gate_on_delete, setup_escaped, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
