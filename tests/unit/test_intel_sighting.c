/*
 * What `match --report` counts on to report each hit once: sighting ids
 * derived from indicator, value and reporter (the same every run, different
 * when any part differs); occurrences pending until their file is read
 * whole, dropped or kept per indicator; the ledger's text round trip, its
 * refusal of damaged text, and its cap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "intel/sighting.h"
#include "util/limits.h"

static void test_ids(void **state)
{
    char a[INTEL_SIGHTING_ID_LEN], b[INTEL_SIGHTING_ID_LEN];
    const char *ind = "indicator--6a2e1a57-6a4e-4c6e-9d8f-1b2c3d4e5f61";
    const char *org = "identity--0b5bbd5c-3a2e-4f0e-8a6b-4f2c1d3e5a60";

    (void)state;
    assert_int_equal(intel_sighting_id(ind, "10.0.0.1", 8, org, a), 0);
    assert_int_equal(intel_sighting_id(ind, "10.0.0.1", 8, org, b), 0);
    assert_string_equal(a, b);
    assert_memory_equal(a, "sighting--", 10);
    assert_int_equal(strlen(a), 46);
    assert_int_equal(a[10 + 14], '5'); /* a version 5 UUID */
    assert_int_equal(intel_sighting_id(ind, "10.0.0.2", 8, org, b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(intel_sighting_id(ind, "10.0.0.1", 8, "", b), 0);
    assert_string_not_equal(a, b);
    /* no part can pass for two others: the separator is escaped in values */
    assert_int_equal(intel_sighting_id(ind, "x\nidentity--y", 13, "", a), 0);
    assert_int_equal(intel_sighting_id(ind, "x", 1, "identity--y", b), 0);
    assert_string_not_equal(a, b);
}

struct seen {
    size_t n;
    uint64_t count[8];
    int64_t first[8], last[8];
    uint32_t owner[8];
};

static int collect(void *ctx, const struct intel_sighting_obs *o, struct kz_error *err)
{
    struct seen *s = ctx;

    (void)err;
    s->owner[s->n] = o->owner;
    s->count[s->n] = o->count;
    s->first[s->n] = o->first_us;
    s->last[s->n++] = o->last_us;
    return 0;
}

static int keep_odd(void *ctx, uint32_t owner)
{
    (void)ctx;
    return owner % 2 == 1;
}

static void test_accumulator(void **state)
{
    struct intel_sighting_acc *a = intel_sighting_acc_new();
    struct kz_error e = {0};
    struct seen s = {0};

    (void)state;
    assert_non_null(a);
    assert_int_equal(intel_sighting_acc_add(a, 0, "v", 1, 200, &e), 0);
    assert_int_equal(intel_sighting_acc_add(a, 0, "v", 1, INTEL_NO_TIME, &e), 0);
    assert_int_equal(intel_sighting_acc_add(a, 0, "v", 1, 100, &e), 0);
    intel_sighting_acc_commit(a);
    /* a file that failed: its occurrences go */
    assert_int_equal(intel_sighting_acc_add(a, 0, "v", 1, 50, &e), 0);
    assert_int_equal(intel_sighting_acc_add(a, 2, "w", 1, 50, &e), 0);
    intel_sighting_acc_discard(a);
    /* content read before: only the indicators keep() names count */
    assert_int_equal(intel_sighting_acc_add(a, 0, "v", 1, 300, &e), 0);
    assert_int_equal(intel_sighting_acc_add(a, 1, "v", 1, INTEL_NO_TIME, &e), 0);
    intel_sighting_acc_commit_if(a, keep_odd, NULL);
    assert_int_equal(intel_sighting_acc_each(a, collect, &s, &e), 0);
    assert_int_equal(s.n, 2); /* "w" never committed: not listed */
    assert_int_equal(s.owner[0], 0);
    assert_int_equal(s.count[0], 3);
    assert_int_equal(s.first[0], 100);
    assert_int_equal(s.last[0], 200);
    assert_int_equal(s.owner[1], 1);
    assert_int_equal(s.count[1], 1);
    assert_true(s.first[1] == INTEL_NO_TIME && s.last[1] == INTEL_NO_TIME);
    intel_sighting_acc_free(a);
}

static void test_ledger(void **state)
{
    struct kz_error e = {0};
    struct intel_ledger *l = intel_ledger_parse(NULL, 0, &e);
    struct intel_ledger_entry en;
    char *text;
    size_t n;
    static const char *const bad[] = {
            "00 11 1 1 1\n",
            "0000000000000000000000000000000000000000 0000000000000000000000000000000000000000 1 "
            "1\n",
            "000000000000000000000000000000000000000g 0000000000000000000000000000000000000000 1 1 "
            "1\n",
            "0000000000000000000000000000000000000000 0000000000000000000000000000000000000000 -1 "
            "1 "
            "1\n",
            "0000000000000000000000000000000000000000 0000000000000000000000000000000000000000 1 1 "
            "1 1\n",
            "0000000000000000000000000000000000000000 0000000000000000000000000000000000000000 "
            "99999999999999999999 1 1\n",
    };

    (void)state;
    assert_non_null(l);
    assert_int_equal(intel_ledger_count(l), 0);
    memset(&en, 0xab, sizeof(en));
    en.len = 4097;
    en.lines = 12;
    en.read_us = 1796674320074588;
    assert_int_equal(intel_ledger_put(l, &en, -1, &e), 0);
    en.len = 5000;
    assert_int_equal(intel_ledger_put(l, &en, 0, &e), 0); /* replaces */
    assert_int_equal(intel_ledger_count(l), 1);
    text = intel_ledger_text(l, &n, &e);
    assert_non_null(text);
    intel_ledger_free(l);
    l = intel_ledger_parse(text, n, &e);
    free(text);
    assert_non_null(l);
    assert_int_equal(intel_ledger_count(l), 1);
    assert_memory_equal(intel_ledger_at(l, 0), &en, sizeof(en));
    intel_ledger_free(l);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kz_error_clear(&e);
        assert_null(intel_ledger_parse(bad[i], strlen(bad[i]), &e));
        assert_int_equal(e.code, KZ_EINVALID);
    }
}

/* Past the cap, the entry read longest ago makes room. */
static void test_ledger_cap(void **state)
{
    struct kz_error e = {0};
    struct intel_ledger *l = intel_ledger_parse(NULL, 0, &e);
    struct intel_ledger_entry en;

    (void)state;
    memset(&en, 0, sizeof(en));
    for (int i = 0; i < MATCH_MAX_LEDGER_ENTRIES; i++) {
        en.len = (uint64_t)i;
        en.read_us = 1000 + i;
        assert_int_equal(intel_ledger_put(l, &en, -1, &e), 0);
    }
    en.len = 777777;
    en.read_us = 5;
    ((struct intel_ledger_entry *)(uintptr_t)intel_ledger_at(l, 3))->read_us = 1; /* oldest */
    en.read_us = 99999;
    assert_int_equal(intel_ledger_put(l, &en, -1, &e), 0);
    assert_int_equal(intel_ledger_count(l), MATCH_MAX_LEDGER_ENTRIES);
    assert_int_equal(intel_ledger_at(l, 3)->len, 777777);
    intel_ledger_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ids),
            cmocka_unit_test(test_accumulator),
            cmocka_unit_test(test_ledger),
            cmocka_unit_test(test_ledger_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
