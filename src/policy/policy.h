/*
 * Policy: the one place that decides who may see and change what. Every
 * read path (TAXII objects, object, versions, manifest, status; export;
 * match; sync) asks policy_view_open for the reader's view of a collection
 * and lists objects through it; every write asks policy_check_write. The
 * rules are TLP 2.0 enforced by the server (docs/SHARING.md has the table):
 *
 *   CLEAR        every reader of the collection
 *   GREEN        readers whose organisation is in a community the collection
 *                is shared with (a community grant)
 *   AMBER, AMBER+STRICT
 *                readers in the organisations the collection is shared with
 *                (an organisation grant), individually granted users, and
 *                organisations or users the object names as recipients
 *   RED          only the users the object names as recipients
 *   any level    the producer: the organisation whose identity is the
 *                object's created_by_ref
 *
 * Unmarked objects take the node's default marking (TLP:AMBER unless
 * configured); TLP 1.0 markings count as their 2.0 equivalents; several
 * markings, granular ones included, mean the most restrictive. Bulk paths
 * (export, feeds, other users' match indexes) never carry TLP:RED. A
 * relationship, sighting or container (report, grouping, note, opinion,
 * observed-data) is visible only when what it points to is.
 */
#ifndef KZ_POLICY_H
#define KZ_POLICY_H

#include <stdint.h>

#include "auth/auth.h"
#include "stix/stix.h"
#include "store/store_accounts.h"
#include "store/store_objects.h"
#include "store/store_peers.h"
#include "util/limits.h"

/* kizuna's STIX extension naming an object's recipients:
 *   "extensions": {"<POLICY_EXTENSION_ID>": {"extension_type":
 *      "property-extension", "recipients": {"users": ["name@node"],
 *      "organizations": ["identity--..."]}}}                              */
#define POLICY_EXTENSION_ID "extension-definition--bc477fd6-2822-4e86-a16f-e438280733f6"

/* Who reads, and how. */
struct policy_reader {
    const struct auth_user *user;
    const char *node_name; /* users named "name@node" are local when node matches */
    enum stix_tlp default_tlp;
    int bulk; /* export, feeds: never TLP:RED */
};

/* A reader's view of one collection. */
struct policy_view {
    int64_t collection;
    int can_read;
    int can_write;
    int knows; /* the collection may be shown to this reader at all */
    struct store_visibility vis;
    char org_identity[KZ_MAX_STIX_ID + 1];
};

/* The key recipients "user@NODE" are stored under for a node that is not
 * this one: a hash of the node's name, so that the rule holds for partner
 * nodes added after the object arrived. A peer's pushes and the account a
 * partner pulls with (role peer, named after its node) both read by it. */
int64_t policy_node_key(const char *node_name);

/* Works out the reader's rights on collection c and the object filter.
 * Node admins read and write every collection; others through grants. */
int policy_view_open(struct store *s, const struct policy_reader *r,
                     const struct store_collection *c, struct policy_view *v, struct kz_error *err);

/* The view of the node operator, who holds the home folder (the CLI without
 * a user): every object, but TLP:RED never on bulk paths. */
void policy_operator_view(const struct store_collection *c, enum stix_tlp default_tlp, int bulk,
                          struct policy_view *v);

/* A peer's view of a local collection, for pushing to it (FEDERATION.md):
 * CLEAR always; GREEN when the collection is shared with one of the peer's
 * communities; AMBER when the peer's organisation holds an organisation
 * grant or is named as a recipient; AMBER+STRICT only when the object names
 * the peer's organisation (or it produced the object); RED only when the
 * object names a user on that peer. A peer's pull account (role peer) is
 * capped the same way by policy_view_open. */
int policy_peer_view(struct store *s, const struct store_peer *p, const struct store_collection *c,
                     enum stix_tlp default_tlp, struct policy_view *v, struct kz_error *err);

/* Whether u may fetch the node's signed audit head (docs/FEDERATION.md):
 * partner nodes' accounts (role peer) and node admins. It tells how much
 * the node was used, which is nobody else's business. */
int policy_may_read_audit_head(const struct auth_user *u);

/* Puts the view's object filter on a listing. */
void policy_filter(const struct policy_view *v, struct store_filter *f);

/* The same object rule in C, for one row whose recipients are given (used by
 * tests to check the SQL, and by paths that hold an object in memory). */
int policy_may_see(const struct policy_view *v, const struct store_row *r, int names_user,
                   int names_org);

/* Whether the reader may publish o in the view's collection: write access,
 * and contributors publish only as their own organisation (created_by_ref
 * must be absent or the organisation's identity; kizuna does not rewrite
 * objects, so an absent one is accepted as the organisation's). */
int policy_check_write(const struct policy_view *v, const struct auth_user *u,
                       const struct stix_obj *o, struct kz_error *why);

/* Whether one of role, in the view's collection, may add o as a version of
 * an object the collection holds, or (o NULL) delete the object id. STIX
 * 2.1: only the creator versions an object, so a new version keeps the
 * created_by_ref of the stored ones (every role); contributors and org
 * admins change only their organisation's objects (created_by_ref its
 * identity, or none and submitted by it); node admins and peers any. An id
 * the collection does not hold, a version it holds already (a duplicate or
 * a conflict, which the store answers) and an unversioned SCO pass. */
int policy_check_change(struct store *s, const struct policy_view *v, enum auth_role role,
                        const char *id, const struct stix_obj *o, struct kz_error *why);

/* The owners of a batch of objects, fetched in one store call before the
 * batch's policy_check_change calls (ingest's prefetch hook). */
struct policy_owners {
    unsigned n, next;
    char ids[STORE_PUT_BATCH][KZ_MAX_STIX_ID + 1];
    int64_t versions[STORE_PUT_BATCH];
    struct store_owner owners[STORE_PUT_BATCH];
};

/* Looks up the owners of objs[0..n) in the view's collection into out. */
int policy_owners_fetch(struct store *s, const struct policy_view *v,
                        const struct stix_obj *const *objs, unsigned n, struct policy_owners *out,
                        struct kz_error *err);

/* policy_check_change for o, with its owner taken from owners when its id
 * and version were fetched there (else looked up as policy_check_change
 * does). */
int policy_check_change_fetched(struct store *s, struct policy_owners *owners,
                                const struct policy_view *v, enum auth_role role,
                                const struct stix_obj *o, struct kz_error *why);

/* Resolves the recipients an object names into local accounts. The arrays
 * in out point into rs and stay valid until the next call. */
struct policy_resolved {
    int64_t users[POLICY_MAX_RECIPIENTS];
    int64_t orgs[POLICY_MAX_RECIPIENTS];
    int64_t peers[POLICY_MAX_RECIPIENTS];
    /* the last created_by_ref looked up and its organisation (0: none);
     * a bundle is mostly one producer's. Zero the struct before first use. */
    char last_creator[KZ_MAX_STIX_ID + 1];
    int64_t last_producer;
};
int policy_recipients(struct store *s, const char *node_name, const struct stix_obj *o,
                      struct policy_resolved *rs, struct store_put_meta *out, struct kz_error *err);

/* What a POST by an account of organisation submitter stores with o: its
 * recipients (policy_recipients), its producer (the organisation of its
 * created_by_ref, else the submitter: no known creator makes the submitter
 * the producer) and the submitter itself (which exempts the submitter's own
 * relationships and containers from gating, SHARING.md). */
int policy_submitted(struct store *s, const char *node_name, const struct stix_obj *o,
                     int64_t submitter, struct policy_resolved *rs, struct store_put_meta *out,
                     struct kz_error *err);

/* The extension-definition object kizuna publishes for its recipients
 * extension, created by the given identity, as JSON text into out. */
int policy_extension_definition(const char *creator_identity, struct kz_buf *out);

/* --- accounts (policy_admin.c) ---------------------------------------------
 * Who may manage which account, asked by the account API and the operator's
 * commands alike. Node admins manage every account and give every role; org
 * admins manage the readers, contributors and org admins of their own
 * organisation and nothing else (never a node admin or a peer account, so
 * that holding an org admin's token never leads to a node admin's); nobody
 * else manages anything. Unknown roles are refused. */

/* Fills *out with the node operator: whoever holds the home folder and runs
 * the CLI without a user. It manages accounts as a node admin does. */
void policy_operator_caller(struct auth_user *out);

/* Whether caller manages any accounts at all (may use the account API). */
int policy_is_account_admin(const struct auth_user *caller);

/* Whether caller may give role r to an account (when making it, or later). */
int policy_may_grant_role(const struct auth_user *caller, enum auth_role r);

/* Whether caller may act on account target: list, mint and revoke its
 * tokens, remove it, change its role (with policy_may_grant_role for the
 * new one), or make it (target then describes the account to be made; an
 * organisation that does not exist has key 0). */
int policy_may_manage_account(const struct auth_user *caller, const struct store_user *target);

/* Whether caller may give or take away grants on collections. */
int policy_may_manage_grants(const struct auth_user *caller);

/* Whether caller may move account target to role r: it manages the account
 * as it is and as it would be, and may give r (so an org admin never raises
 * anyone above its own role, nor takes an account out of its reach). */
int policy_may_change_role(const struct auth_user *caller, const struct store_user *target,
                           enum auth_role r);

/* Whether caller may make, change or remove organisations, communities
 * (and their members) and collections: node admins only. */
int policy_may_manage_node(const struct auth_user *caller);

#endif
