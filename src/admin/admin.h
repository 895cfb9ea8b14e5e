/*
 * Account and node management: what the operator's commands (cli/) and the
 * account API (taxii/admin.c) do to users, organisations, communities and
 * collections once they exist (disable, enable, change a role, remove,
 * leave), and `kizuna apply`, which makes a node match a declarative file.
 * Each operation asks policy/ whether the caller may do it, then changes
 * the store in one transaction: it either happens whole or not at all. The
 * callers stay thin: they parse their input, call one function here,
 * record the change in the audit log and print or answer.
 */
#ifndef KZ_ADMIN_H
#define KZ_ADMIN_H

#include <stdint.h>

#include "auth/auth.h"
#include "store/store_accounts.h"
#include "store/store_objects.h"
#include "store/store_remove.h"
#include "util/buf.h"
#include "util/error.h"

/* Changes user name: its role (NULL: kept; policy_may_change_role, so
 * KZ_EDENIED when the caller may not give it) and whether it is disabled
 * (1), enabled (0) or kept (-1), in one transaction. A disabled account's
 * tokens are refused from the next check on (auth/) and work again once
 * it is enabled. A user the caller may not manage is KZ_ENOTFOUND, as if
 * it did not exist. *out gets the account as it now is, *changed whether
 * anything differed. */
int admin_user_update(struct store *s, const struct auth_user *caller, const char *name,
                      const char *role, int disabled, struct store_user *out, int *changed,
                      struct kz_error *err);

/* Removes user name with its tokens and the grants to it. Rows that keep
 * its key (recipients of objects, status resources) stay, and the key is
 * never given again. *out gets the account removed, *refs what referred
 * to it. */
int admin_user_remove(struct store *s, const struct auth_user *caller, const char *name,
                      struct store_user *out, struct store_refs *refs, struct kz_error *err);

/* Removes organisation name with its grants and community memberships.
 * Refused (KZ_ECONFLICT) while users, objects or recipients name it, unless
 * force, which removes its users too (with their tokens and grants) and
 * leaves its objects, whose producer then names no organisation; refused
 * in any case while a peer stands for it (`kizuna peer remove` first).
 * Node admins only. *refs gets what referred to it. */
int admin_org_remove(struct store *s, const struct auth_user *caller, const char *name, int force,
                     struct store_refs *refs, struct kz_error *err);

/* Removes collection id_or_alias (any API root) with its grants. Refused
 * (KZ_ECONFLICT) while it holds objects or peer links, unless force, which
 * deletes them. Node admins only. *out gets the collection, *refs the
 * objects, grants and links that went with it. */
int admin_collection_remove(struct store *s, const struct auth_user *caller,
                            const char *id_or_alias, int force, struct store_collection *out,
                            struct store_refs *refs, struct kz_error *err);

/* Takes organisation org out of community (KZ_ENOTFOUND when it was not a
 * member). Node admins only. */
int admin_community_leave(struct store *s, const struct auth_user *caller, const char *community,
                          const char *org, struct kz_error *err);

/* Removes community name with its grants and memberships; refused while
 * peers list it, unless force, which takes them out of it. Node admins
 * only. */
int admin_community_remove(struct store *s, const struct auth_user *caller, const char *name,
                           int force, struct store_refs *refs, struct kz_error *err);

/* --- kizuna apply (apply.c) ------------------------------------------------ */

/* One thing apply did (or, in a dry run, would do). */
struct admin_change {
    char action[12]; /* "create", "change", "unchanged" */
    char kind[16];   /* "org", "community", "user", "collection", "grant", "peer" */
    char name[2 * KZ_MAX_NAME + 16];
    char detail[256]; /* what changed, "" for create and unchanged */
};

struct admin_apply_result {
    struct admin_change *changes; /* malloc'd; admin_apply_free */
    size_t n, cap;
    size_t created, changed, unchanged;
};

/* Where apply runs: dir is the file's folder (a peer's token_file is
 * relative to it; NULL: the working directory), signing_key the node's
 * key file, from which the key sealing peers' tokens is derived. */
struct admin_apply_env {
    const char *dir;
    const char *signing_key;
};

/* Validates the whole declarative file text[0..len) (docs/OPERATIONS.md;
 * an unknown key, a bad value or a dangling name is an error naming the
 * file's property path) and then, in one store transaction, creates what
 * it lists and changes what differs; things it does not list are left
 * alone. With dry_run the transaction is rolled back: *res says what would
 * change. On failure nothing is changed. Acts as caller, asking policy/ as
 * each command would. */
int admin_apply(struct store *s, const struct auth_user *caller, const char *text, size_t len,
                const struct admin_apply_env *env, int dry_run, struct admin_apply_result *res,
                struct kz_error *err);
void admin_apply_free(struct admin_apply_result *res);

#endif
