/*
 * The lifecycle of what the operator made: disabling, enabling, re-roling
 * and removing users; removing organisations, communities and collections;
 * an organisation leaving a community. Every operation finds its target,
 * asks policy/ (an account the caller may not manage is answered as one
 * that does not exist, so that names cannot be probed over the API) and
 * changes the store in one transaction. Removals refuse to leave anything
 * behind that could widen access: keys are never reused (store_remove),
 * and what still depends on the removed thing either goes with it or makes
 * the removal fail unless the operator forces it.
 */
#include "admin/admin.h"

#include <stdio.h>
#include <string.h>

#include "policy/policy.h"
#include "store/store_accounts.h"
#include "store/store_objects.h"
#include "store/store_remove.h"

/* The account name, if caller may manage it; else KZ_ENOTFOUND. */
static int managed(struct store *s, const struct auth_user *caller, const char *name,
                   struct store_user *out, struct kz_error *err)
{
    if (store_user_find(s, name, out, err) < 0)
        return -1;
    if (!policy_may_manage_account(caller, out))
        return kz_error_set(err, KZ_ENOTFOUND, "no user \"%s\"", name);
    return 0;
}

static int node_admin(const struct auth_user *caller, const char *what, struct kz_error *err)
{
    if (policy_may_manage_node(caller))
        return 0;
    return kz_error_set(err, KZ_EDENIED, "only node admins may %s", what);
}

/* Ends the transaction: commits when rc is 0, rolls back otherwise. */
static int finish(struct store *s, int rc, struct kz_error *err)
{
    if (rc == 0 && store_commit(s, err) == 0)
        return 0;
    store_rollback(s);
    return -1;
}

int admin_user_update(struct store *s, const struct auth_user *caller, const char *name,
                      const char *role, int disabled, struct store_user *out, int *changed,
                      struct kz_error *err)
{
    enum auth_role r = role ? auth_role_parse(role) : AUTH_ROLE_NONE;
    int rc = -1, role_changed = 0;

    *changed = 0;
    if (role && r == AUTH_ROLE_NONE)
        return kz_error_set(err, KZ_EUSAGE,
                            "a role is reader, contributor, org-admin, node-admin or peer");
    if (store_begin(s, err) < 0)
        return -1;
    if (managed(s, caller, name, out, err) < 0)
        goto out;
    if (role && !policy_may_change_role(caller, out, r)) {
        kz_error_set(err, KZ_EDENIED, "you may not give \"%s\" the role %s", name, role);
        goto out;
    }
    role_changed = role && strcmp(out->role, auth_role_name(r)) != 0;
    *changed = role_changed || (disabled >= 0 && (disabled != 0) != out->disabled);
    if (*changed &&
        store_user_update(s, out->key, role_changed ? auth_role_name(r) : NULL, disabled, err) < 0)
        goto out;
    if (role)
        snprintf(out->role, sizeof(out->role), "%s", auth_role_name(r));
    if (disabled >= 0)
        out->disabled = disabled != 0;
    rc = 0;
out:
    return finish(s, rc, err);
}

int admin_user_remove(struct store *s, const struct auth_user *caller, const char *name,
                      struct store_user *out, struct store_refs *refs, struct kz_error *err)
{
    int rc = -1;

    if (store_begin(s, err) < 0)
        return -1;
    if (managed(s, caller, name, out, err) < 0 ||
        store_refs_count(s, STORE_ENTITY_USER, out->key, refs, err) < 0 ||
        store_remove(s, STORE_ENTITY_USER, out->key, err) < 0)
        goto out;
    rc = 0;
out:
    return finish(s, rc, err);
}

struct org_users {
    struct store *s;
    int64_t org;
    int64_t keys[256];
    size_t n;
    int more;
};

static int collect_user(void *ctx, const struct store_user *u)
{
    struct org_users *c = ctx;

    if (u->org != c->org)
        return 0;
    if (c->n == sizeof(c->keys) / sizeof(c->keys[0])) {
        c->more = 1;
        return STORE_STOP;
    }
    c->keys[c->n++] = u->key;
    return 0;
}

/* Removes every account of org (org --force), a batch at a time. */
static int remove_org_users(struct store *s, int64_t org, struct kz_error *err)
{
    struct org_users c = {.s = s, .org = org};

    do {
        c.n = 0;
        c.more = 0;
        if (store_user_each(s, collect_user, &c, err) < 0)
            return -1;
        for (size_t i = 0; i < c.n; i++)
            if (store_remove(s, STORE_ENTITY_USER, c.keys[i], err) < 0)
                return -1;
    } while (c.more);
    return 0;
}

int admin_org_remove(struct store *s, const struct auth_user *caller, const char *name, int force,
                     struct store_refs *refs, struct kz_error *err)
{
    struct store_org o;
    int rc = -1;

    if (node_admin(caller, "remove organisations", err) < 0)
        return -1;
    if (store_begin(s, err) < 0)
        return -1;
    if (store_org_find(s, name, &o, err) < 0 ||
        store_refs_count(s, STORE_ENTITY_ORG, o.key, refs, err) < 0)
        goto out;
    if (refs->peers) {
        kz_error_set(err, KZ_ECONFLICT,
                     "organisation \"%s\" stands for %llu peer(s): remove them first (kizuna "
                     "peer remove NAME)",
                     name, (unsigned long long)refs->peers);
        goto out;
    }
    if (!force && (refs->users || refs->objects)) {
        kz_error_set(err, KZ_ECONFLICT,
                     "organisation \"%s\" has %llu user(s) and %llu object version(s) or "
                     "recipient entries attributed to it; --force removes its users too",
                     name, (unsigned long long)refs->users, (unsigned long long)refs->objects);
        goto out;
    }
    if ((force && remove_org_users(s, o.key, err) < 0) ||
        store_remove(s, STORE_ENTITY_ORG, o.key, err) < 0)
        goto out;
    rc = 0;
out:
    return finish(s, rc, err);
}

int admin_collection_remove(struct store *s, const struct auth_user *caller,
                            const char *id_or_alias, int force, struct store_collection *out,
                            struct store_refs *refs, struct kz_error *err)
{
    int rc = -1;

    if (node_admin(caller, "remove collections", err) < 0)
        return -1;
    if (store_begin(s, err) < 0)
        return -1;
    if (store_collection_find(s, NULL, id_or_alias, out, err) < 0 ||
        store_refs_count(s, STORE_ENTITY_COLLECTION, out->key, refs, err) < 0)
        goto out;
    if (!force && (refs->objects || refs->links)) {
        kz_error_set(err, KZ_ECONFLICT,
                     "collection \"%s\" holds %llu object version(s) and %llu peer link(s); "
                     "--force deletes them with it",
                     out->alias, (unsigned long long)refs->objects,
                     (unsigned long long)refs->links);
        goto out;
    }
    if (store_remove(s, STORE_ENTITY_COLLECTION, out->key, err) < 0)
        goto out;
    rc = 0;
out:
    return finish(s, rc, err);
}

int admin_community_leave(struct store *s, const struct auth_user *caller, const char *community,
                          const char *org, struct kz_error *err)
{
    struct store_community c;
    struct store_org o;
    int rc = -1;

    if (node_admin(caller, "change communities", err) < 0)
        return -1;
    if (store_begin(s, err) < 0)
        return -1;
    if (store_community_find(s, community, &c, err) < 0 || store_org_find(s, org, &o, err) < 0)
        goto out;
    if (store_community_leave(s, c.key, o.key, err) < 0) {
        if (err->code == KZ_ENOTFOUND)
            kz_error_set(err, KZ_ENOTFOUND, "organisation \"%s\" is not a member of \"%s\"", org,
                         community);
        goto out;
    }
    rc = 0;
out:
    return finish(s, rc, err);
}

int admin_community_remove(struct store *s, const struct auth_user *caller, const char *name,
                           int force, struct store_refs *refs, struct kz_error *err)
{
    struct store_community c;
    int rc = -1;

    if (node_admin(caller, "remove communities", err) < 0)
        return -1;
    if (store_begin(s, err) < 0)
        return -1;
    if (store_community_find(s, name, &c, err) < 0 ||
        store_refs_count(s, STORE_ENTITY_COMMUNITY, c.key, refs, err) < 0)
        goto out;
    if (!force && refs->peers) {
        kz_error_set(err, KZ_ECONFLICT,
                     "community \"%s\" is listed by %llu peer(s); --force takes them out of it",
                     name, (unsigned long long)refs->peers);
        goto out;
    }
    if (store_remove(s, STORE_ENTITY_COMMUNITY, c.key, err) < 0)
        goto out;
    rc = 0;
out:
    return finish(s, rc, err);
}
