/*
 * The store's grants: who may read or write a collection, given to a user,
 * an organisation, a community or a role, and the check that works out one
 * user's access. policy/ decides with what this returns.
 */
#ifndef KZ_STORE_GRANTS_H
#define KZ_STORE_GRANTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/limits.h"

enum store_grant_kind {
    STORE_GRANT_USER = 1,
    STORE_GRANT_ORG,
    STORE_GRANT_COMMUNITY,
    STORE_GRANT_ROLE,
};

struct store_grant {
    int64_t collection;
    enum store_grant_kind kind;
    int64_t subject;                    /* user, org or community key; 0 for roles */
    char role[32];                      /* for STORE_GRANT_ROLE */
    char subject_name[KZ_MAX_NAME + 1]; /* filled when listing */
    int can_read;
    int can_write;
};

/* Creates or replaces the grant of (collection, kind, subject). */
int store_grant_set(struct store *s, const struct store_grant *g, struct kz_error *err);

/* A user's access to a collection, by the kind of grant that gives it. */
struct store_access {
    int can_read, can_write; /* through any grant */
    int read_as_user;        /* a grant to the user */
    int read_as_org;         /* a grant to its organisation */
    int read_as_community;   /* a grant to a community of its organisation */
    int read_as_role;        /* a grant to its role */
};

/* Works out a user's (with its org and role) access to a collection. */
int store_grant_check(struct store *s, int64_t collection, int64_t user, int64_t org,
                      const char *role, struct store_access *out, struct kz_error *err);

typedef int (*store_grant_fn)(void *ctx, const struct store_grant *g);
int store_grant_each(struct store *s, int64_t collection, store_grant_fn fn, void *ctx,
                     struct kz_error *err);

#endif
