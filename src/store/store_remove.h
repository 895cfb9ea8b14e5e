/*
 * Removing what the operator made (an organisation, a user, a community, a
 * collection) with what exists only for it, and counting first what a
 * removal would take with it. It crosses every other concern's rows, so it
 * is a concern of its own.
 */
#ifndef KZ_STORE_REMOVE_H
#define KZ_STORE_REMOVE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

enum store_entity {
    STORE_ENTITY_ORG = 1,
    STORE_ENTITY_USER,
    STORE_ENTITY_COMMUNITY,
    STORE_ENTITY_COLLECTION,
};

/* What refers to an organisation, user, community or collection: what a
 * removal would take with it, or leave behind. */
struct store_refs {
    uint64_t users;   /* org: its accounts */
    uint64_t peers;   /* org: peers standing for it; community: peers listing it */
    uint64_t objects; /* org: versions it produced, submitted or is a recipient of;
                         collection: the versions it holds */
    uint64_t grants;  /* grants to it; collection: grants on it */
    uint64_t members; /* org: communities it is in; community: its members */
    uint64_t tokens;  /* user: its tokens, revoked or not */
    uint64_t links;   /* collection: peer links to it */
};
int store_refs_count(struct store *s, enum store_entity kind, int64_t key, struct store_refs *out,
                     struct kz_error *err);

/* Removes an entity inside an open transaction, with what exists only
 * for it: a user's tokens and the grants to it; an organisation's grants
 * and community memberships (KZ_ECONFLICT while users or peers still name
 * it: remove those first); a community's grants and memberships, its
 * members' and peers'; a collection's objects (with their id index,
 * recipient and reference rows), grants and peer links. The key is never
 * given to anything made later, so rows that keep it (an object's
 * producer, a recipient, a status resource's submitter) can never come to
 * name someone else. KZ_ENOTFOUND when there is no such key. */
int store_remove(struct store *s, enum store_entity kind, int64_t key, struct kz_error *err);

#endif
