/*
 * The account rules of policy/ (policy_admin.c) as a table: for each caller
 * (node admin, org admin, the node operator, and roles that manage nothing)
 * and each target account (every role, in the caller's organisation and in
 * another, and accounts whose role or organisation is not a real one),
 * whether the caller may manage it and give its role. Bad inputs sit beside
 * good ones: a NULL caller or target, an unknown role, organisation 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"
#include "store/store_accounts.h"

#define ORG_MINE  7
#define ORG_OTHER 9

static struct auth_user caller(enum auth_role r, int64_t org)
{
    struct auth_user u;

    memset(&u, 0, sizeof(u));
    snprintf(u.name, sizeof(u.name), "caller");
    u.role = r;
    u.org = org;
    return u;
}

static struct store_user target(const char *role, int64_t org)
{
    struct store_user u;

    memset(&u, 0, sizeof(u));
    snprintf(u.name, sizeof(u.name), "target");
    snprintf(u.role, sizeof(u.role), "%s", role);
    u.org = org;
    return u;
}

struct account_case {
    enum auth_role caller;
    const char *target_role;
    int64_t target_org;
    int may;
};

static void test_manage_account(void **state)
{
    static const struct account_case cases[] = {
            /* node admins: every valid account, anywhere */
            {AUTH_ROLE_NODE_ADMIN, "reader", ORG_OTHER, 1},
            {AUTH_ROLE_NODE_ADMIN, "node-admin", ORG_MINE, 1},
            {AUTH_ROLE_NODE_ADMIN, "peer", ORG_OTHER, 1},
            {AUTH_ROLE_NODE_ADMIN, "org-admin", 0, 1},
            {AUTH_ROLE_NODE_ADMIN, "", ORG_MINE, 0},
            {AUTH_ROLE_NODE_ADMIN, "root", ORG_MINE, 0},
            /* org admins: readers, contributors, org admins of their own */
            {AUTH_ROLE_ORG_ADMIN, "reader", ORG_MINE, 1},
            {AUTH_ROLE_ORG_ADMIN, "contributor", ORG_MINE, 1},
            {AUTH_ROLE_ORG_ADMIN, "org-admin", ORG_MINE, 1},
            {AUTH_ROLE_ORG_ADMIN, "node-admin", ORG_MINE, 0},
            {AUTH_ROLE_ORG_ADMIN, "peer", ORG_MINE, 0},
            {AUTH_ROLE_ORG_ADMIN, "reader", ORG_OTHER, 0},
            {AUTH_ROLE_ORG_ADMIN, "org-admin", ORG_OTHER, 0},
            {AUTH_ROLE_ORG_ADMIN, "reader", 0, 0},
            {AUTH_ROLE_ORG_ADMIN, "Node-Admin", ORG_MINE, 0},
            {AUTH_ROLE_ORG_ADMIN, "node\\u002dadmin", ORG_MINE, 0},
            {AUTH_ROLE_ORG_ADMIN, "", ORG_MINE, 0},
            /* everyone else: nothing, not even themselves */
            {AUTH_ROLE_CONTRIBUTOR, "reader", ORG_MINE, 0},
            {AUTH_ROLE_READER, "reader", ORG_MINE, 0},
            {AUTH_ROLE_PEER, "reader", ORG_MINE, 0},
            {AUTH_ROLE_NONE, "reader", ORG_MINE, 0},
    };
    char what[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct auth_user c = caller(cases[i].caller, ORG_MINE);
        struct store_user t = target(cases[i].target_role, cases[i].target_org);
        int got = policy_may_manage_account(&c, &t);

        snprintf(what, sizeof(what), "case %zu: %s on %s in org %lld: wanted %d, got %d", i,
                 auth_role_name(cases[i].caller), cases[i].target_role,
                 (long long)cases[i].target_org, cases[i].may, got);
        if (got != cases[i].may)
            fail_msg("%s", what);
    }
}

static void test_org_admin_without_org(void **state)
{
    /* an org admin whose organisation key is 0 matches no target, even one
     * whose organisation is 0 too (the key of one that does not exist) */
    struct auth_user c = caller(AUTH_ROLE_ORG_ADMIN, 0);
    struct store_user t = target("reader", 0);

    (void)state;
    assert_false(policy_may_manage_account(&c, &t));
}

static void test_grant_role(void **state)
{
    static const struct {
        enum auth_role caller, role;
        int may;
    } cases[] = {
            {AUTH_ROLE_NODE_ADMIN, AUTH_ROLE_READER, 1},
            {AUTH_ROLE_NODE_ADMIN, AUTH_ROLE_NODE_ADMIN, 1},
            {AUTH_ROLE_NODE_ADMIN, AUTH_ROLE_PEER, 1},
            {AUTH_ROLE_NODE_ADMIN, AUTH_ROLE_NONE, 0},
            {AUTH_ROLE_NODE_ADMIN, (enum auth_role)99, 0},
            {AUTH_ROLE_ORG_ADMIN, AUTH_ROLE_READER, 1},
            {AUTH_ROLE_ORG_ADMIN, AUTH_ROLE_CONTRIBUTOR, 1},
            {AUTH_ROLE_ORG_ADMIN, AUTH_ROLE_ORG_ADMIN, 1},
            {AUTH_ROLE_ORG_ADMIN, AUTH_ROLE_NODE_ADMIN, 0},
            {AUTH_ROLE_ORG_ADMIN, AUTH_ROLE_PEER, 0},
            {AUTH_ROLE_ORG_ADMIN, AUTH_ROLE_NONE, 0},
            {AUTH_ROLE_CONTRIBUTOR, AUTH_ROLE_READER, 0},
            {AUTH_ROLE_READER, AUTH_ROLE_READER, 0},
            {AUTH_ROLE_PEER, AUTH_ROLE_READER, 0},
            {AUTH_ROLE_NONE, AUTH_ROLE_READER, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct auth_user c = caller(cases[i].caller, ORG_MINE);
        int got = policy_may_grant_role(&c, cases[i].role);

        if (got != cases[i].may)
            fail_msg("case %zu: %s giving role %d: wanted %d, got %d", i,
                     auth_role_name(cases[i].caller), (int)cases[i].role, cases[i].may, got);
    }
}

static void test_admins_and_grants(void **state)
{
    static const struct {
        enum auth_role role;
        int admin, grants;
    } cases[] = {
            {AUTH_ROLE_NODE_ADMIN, 1, 1},  {AUTH_ROLE_ORG_ADMIN, 1, 0},
            {AUTH_ROLE_CONTRIBUTOR, 0, 0}, {AUTH_ROLE_READER, 0, 0},
            {AUTH_ROLE_PEER, 0, 0},        {AUTH_ROLE_NONE, 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct auth_user c = caller(cases[i].role, ORG_MINE);

        assert_int_equal(policy_is_account_admin(&c), cases[i].admin);
        assert_int_equal(policy_may_manage_grants(&c), cases[i].grants);
    }
}

static void test_null_fails_closed(void **state)
{
    struct store_user t = target("reader", ORG_MINE);
    struct auth_user c = caller(AUTH_ROLE_NODE_ADMIN, ORG_MINE);

    (void)state;
    assert_false(policy_may_manage_account(NULL, &t));
    assert_false(policy_may_manage_account(&c, NULL));
    assert_false(policy_may_grant_role(NULL, AUTH_ROLE_READER));
    assert_false(policy_is_account_admin(NULL));
    assert_false(policy_may_manage_grants(NULL));
}

static void test_operator(void **state)
{
    struct auth_user op;
    struct store_user t = target("node-admin", ORG_OTHER);

    (void)state;
    policy_operator_caller(&op);
    assert_true(policy_may_manage_account(&op, &t));
    assert_true(policy_may_grant_role(&op, AUTH_ROLE_PEER));
    assert_true(policy_may_manage_grants(&op));
    /* the operator is no stored user: its key matches no account's */
    assert_int_equal(op.key, 0);
}

/* Changing a role: the caller must manage the account as it is and as it
 * would be, and may give the new role; an org admin never raises anyone
 * above org-admin nor reaches another organisation's account. */
static void test_change_role(void **state)
{
    static const struct {
        enum auth_role caller;
        const char *from;
        int64_t org;
        enum auth_role to;
        int ok;
    } cases[] = {
            {AUTH_ROLE_ORG_ADMIN, "contributor", ORG_MINE, AUTH_ROLE_READER, 1},
            {AUTH_ROLE_ORG_ADMIN, "reader", ORG_MINE, AUTH_ROLE_ORG_ADMIN, 1},
            {AUTH_ROLE_ORG_ADMIN, "reader", ORG_MINE, AUTH_ROLE_NODE_ADMIN, 0},
            {AUTH_ROLE_ORG_ADMIN, "reader", ORG_MINE, AUTH_ROLE_PEER, 0},
            {AUTH_ROLE_ORG_ADMIN, "node-admin", ORG_MINE, AUTH_ROLE_READER, 0},
            {AUTH_ROLE_ORG_ADMIN, "peer", ORG_MINE, AUTH_ROLE_READER, 0},
            {AUTH_ROLE_ORG_ADMIN, "reader", ORG_OTHER, AUTH_ROLE_CONTRIBUTOR, 0},
            {AUTH_ROLE_ORG_ADMIN, "reader", ORG_MINE, AUTH_ROLE_NONE, 0},
            {AUTH_ROLE_NODE_ADMIN, "reader", ORG_OTHER, AUTH_ROLE_NODE_ADMIN, 1},
            {AUTH_ROLE_NODE_ADMIN, "peer", ORG_OTHER, AUTH_ROLE_READER, 1},
            {AUTH_ROLE_CONTRIBUTOR, "reader", ORG_MINE, AUTH_ROLE_READER, 0},
            {AUTH_ROLE_READER, "reader", ORG_MINE, AUTH_ROLE_READER, 0},
            {AUTH_ROLE_PEER, "reader", ORG_MINE, AUTH_ROLE_READER, 0},
    };
    struct store_user t;
    struct auth_user c;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        c = caller(cases[i].caller, ORG_MINE);
        t = target(cases[i].from, cases[i].org);
        if (policy_may_change_role(&c, &t, cases[i].to) != cases[i].ok)
            fail_msg("case %zu: %s -> %s", i, cases[i].from, auth_role_name(cases[i].to));
    }
    c = caller(AUTH_ROLE_NODE_ADMIN, ORG_MINE);
    assert_false(policy_may_change_role(&c, NULL, AUTH_ROLE_READER));
    assert_false(policy_may_change_role(NULL, &t, AUTH_ROLE_READER));
    assert_true(policy_may_manage_node(&c));
    c = caller(AUTH_ROLE_ORG_ADMIN, ORG_MINE);
    assert_false(policy_may_manage_node(&c));
    assert_false(policy_may_manage_node(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_manage_account),    cmocka_unit_test(test_org_admin_without_org),
            cmocka_unit_test(test_grant_role),        cmocka_unit_test(test_admins_and_grants),
            cmocka_unit_test(test_null_fails_closed), cmocka_unit_test(test_operator),
            cmocka_unit_test(test_change_role),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
