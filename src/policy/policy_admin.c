/*
 * Who may manage accounts: the rules behind every account operation, for the
 * account API (taxii/admin.c) and the operator's commands (cli/cmd_admin.c)
 * alike. The rules are a short whitelist by role; anything they do not name
 * (an unknown role, a caller who is no admin, an account in another
 * organisation, a node admin or peer account seen by an org admin) is
 * refused. An org admin may therefore only ever reach accounts that cannot
 * do more than it can, so no chain of its actions ends with node-admin
 * rights.
 */
#include "policy/policy.h"
#include "store/store_accounts.h"

#include <stdio.h>
#include <string.h>

void policy_operator_caller(struct auth_user *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", "(operator)");
    out->role = AUTH_ROLE_NODE_ADMIN;
}

/* The roles an org admin hands out and manages: none above its own. */
static int org_admin_role(enum auth_role r)
{
    return r == AUTH_ROLE_READER || r == AUTH_ROLE_CONTRIBUTOR || r == AUTH_ROLE_ORG_ADMIN;
}

static int valid_role(enum auth_role r)
{
    return r >= AUTH_ROLE_READER && r <= AUTH_ROLE_PEER;
}

int policy_is_account_admin(const struct auth_user *caller)
{
    return caller && (caller->role == AUTH_ROLE_NODE_ADMIN || caller->role == AUTH_ROLE_ORG_ADMIN);
}

int policy_may_grant_role(const struct auth_user *caller, enum auth_role r)
{
    if (!caller || !valid_role(r))
        return 0;
    switch (caller->role) {
    case AUTH_ROLE_NODE_ADMIN: return 1;
    case AUTH_ROLE_ORG_ADMIN: return org_admin_role(r);
    default: return 0;
    }
}

int policy_may_manage_account(const struct auth_user *caller, const struct store_user *target)
{
    enum auth_role r;

    if (!caller || !target)
        return 0;
    r = auth_role_parse(target->role);
    if (!valid_role(r))
        return 0;
    switch (caller->role) {
    case AUTH_ROLE_NODE_ADMIN: return 1;
    case AUTH_ROLE_ORG_ADMIN:
        /* org keys start at 1: 0 names no organisation and matches none */
        return caller->org > 0 && target->org == caller->org && org_admin_role(r);
    default: return 0;
    }
}

int policy_may_manage_grants(const struct auth_user *caller)
{
    return caller && caller->role == AUTH_ROLE_NODE_ADMIN;
}

int policy_may_change_role(const struct auth_user *caller, const struct store_user *target,
                           enum auth_role r)
{
    struct store_user after;

    if (!target || !policy_may_manage_account(caller, target) || !policy_may_grant_role(caller, r))
        return 0;
    after = *target;
    snprintf(after.role, sizeof(after.role), "%s", auth_role_name(r));
    return policy_may_manage_account(caller, &after);
}

int policy_may_manage_node(const struct auth_user *caller)
{
    return caller && caller->role == AUTH_ROLE_NODE_ADMIN;
}
