/*
 * `kizuna apply FILE`: a node's organisations, communities, users,
 * collections, grants and peers, declared in one JSON file people review,
 * made real idempotently. The file is read in two passes: the first checks
 * its whole shape against the section table below (an unknown key or a
 * bad value fails naming its property path, e.g. users[2].role) before the
 * store is touched; the second, inside one store transaction, finds each
 * entry, creates it or changes what differs, and records what it did. Any
 * failure (a name the store does not know, a policy refusal) rolls the
 * whole transaction back. Things the file does not list are left alone:
 * apply never removes (but a peer's communities and links, when given, are
 * its whole list). It never makes tokens, so the file holds no secret.
 * A section is a row of `sections`: its fields and one function that
 * applies an entry. Peers are one: their tokens stay in files of their own
 * that the file names (token_file), so it still holds no secret.
 */
#include "admin/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "json/json.h"
#include "policy/policy.h"
#include "sign/sign.h"
#include "store/store_accounts.h"
#include "store/store_grants.h"
#include "store/store_objects.h"
#include "store/store_peers.h"
#include "sync/sync.h"
#include "util/uuid.h"

/* F_LIST: names; F_LINKS: "LOCAL=REMOTE" strings */
enum ftype { F_STR = 1, F_BOOL, F_LIST, F_LINKS };

#define MAX_FIELDS 12

struct field {
    const char *name;
    enum ftype type;
    int required;
    size_t max; /* bytes of a string, or of each string of a list */
};

/* One entry of a section, as read from the file. */
struct entry {
    unsigned index;          /* its place in the section's array */
    char *s[MAX_FIELDS];     /* F_STR values, decoded; NULL when absent */
    int b[MAX_FIELDS];       /* F_BOOL values; -1 when absent */
    char **list[MAX_FIELDS]; /* F_LIST and F_LINKS values' strings */
    size_t nlist[MAX_FIELDS];
    int has_list[MAX_FIELDS]; /* whether the file gave that list */
};

struct run {
    struct store *s;
    const struct auth_user *caller;
    const char *dir;         /* the file's folder: peers' token_file is relative to it */
    const char *signing_key; /* peers' tokens are sealed with a key derived from it */
    struct admin_apply_result *res;
};

struct section {
    const char *key;
    struct field fields[MAX_FIELDS];
    /* checks what the shape alone cannot (names, roles, one-of) */
    int (*check)(const struct entry *e, struct kz_error *err);
    int (*apply)(struct run *r, const struct entry *e, struct kz_error *err);
};

/* --- recording what was done ------------------------------------------------ */

static int note(struct run *r, const char *action, const char *kind, const char *name,
                const char *detail, struct kz_error *err)
{
    struct admin_apply_result *res = r->res;
    struct admin_change *c;

    if (res->n == res->cap) {
        size_t cap = res->cap ? res->cap * 2 : 32;
        struct admin_change *nc = realloc(res->changes, cap * sizeof(*nc));
        if (!nc)
            return kz_error_set(err, KZ_ENOMEM, "out of memory");
        res->changes = nc;
        res->cap = cap;
    }
    c = &res->changes[res->n++];
    memset(c, 0, sizeof(*c));
    snprintf(c->action, sizeof(c->action), "%s", action);
    snprintf(c->kind, sizeof(c->kind), "%s", kind);
    snprintf(c->name, sizeof(c->name), "%s", name);
    snprintf(c->detail, sizeof(c->detail), "%s", detail ? detail : "");
    if (strcmp(action, "create") == 0)
        res->created++;
    else if (strcmp(action, "change") == 0)
        res->changed++;
    else
        res->unchanged++;
    return 0;
}

/* Appends "what a -> b" to a change's description. */
static void describe(char *out, size_t cap, const char *what, const char *from, const char *to)
{
    size_t n = strlen(out);

    if (n < cap)
        snprintf(out + n, cap - n, "%s%s %s -> %s", n ? ", " : "", what, from[0] ? from : "\"\"",
                 to[0] ? to : "\"\"");
}

/* Names the entry's property in err (already set): "users[2].role". */
static int at(struct kz_error *err, const char *section, const struct entry *e, const char *field)
{
    kz_error_property(err, "%s[%u]%s%s", section, e->index, field ? "." : "", field ? field : "");
    return -1;
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && n <= KZ_MAX_NAME &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

/* --- organisations ------------------------------------------------------------ */

enum { ORG_NAME, ORG_COUNTRY, ORG_SECTOR, ORG_KIND, ORG_IDENTITY };

static int check_org(const struct entry *e, struct kz_error *err)
{
    static const char *const kinds[] = {"government", "cert", "cii-operator", "business", NULL};
    const char *c = e->s[ORG_COUNTRY], *k = e->s[ORG_KIND], *id = e->s[ORG_IDENTITY];
    int ok = 0;

    if (!name_ok(e->s[ORG_NAME])) {
        kz_error_set(err, KZ_EINVALID, "a name is letters, digits, '-', '_' or '.'");
        return at(err, "orgs", e, "name");
    }
    if (c && (strlen(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z')) {
        kz_error_set(err, KZ_EINVALID, "a two-letter code like IN");
        return at(err, "orgs", e, "country");
    }
    for (int i = 0; k && kinds[i]; i++)
        ok |= strcmp(kinds[i], k) == 0;
    if (k && !ok) {
        kz_error_set(err, KZ_EINVALID, "government, cert, cii-operator or business");
        return at(err, "orgs", e, "kind");
    }
    if (id && (strncmp(id, "identity--", 10) != 0 || !kz_uuid_valid(id + 10, strlen(id + 10)))) {
        kz_error_set(err, KZ_EINVALID, "identity--UUID");
        return at(err, "orgs", e, "identity");
    }
    return 0;
}

static int apply_org(struct run *r, const struct entry *e, struct kz_error *err)
{
    struct store_org o, want;
    char detail[256] = "";

    if (!policy_may_manage_node(r->caller)) {
        kz_error_set(err, KZ_EDENIED, "only node admins make organisations");
        return at(err, "orgs", e, NULL);
    }
    if (store_org_find(r->s, e->s[ORG_NAME], &o, err) < 0) {
        if (err->code != KZ_ENOTFOUND)
            return -1;
        memset(&o, 0, sizeof(o));
        snprintf(o.name, sizeof(o.name), "%s", e->s[ORG_NAME]);
        snprintf(o.country, sizeof(o.country), "%s", e->s[ORG_COUNTRY] ? e->s[ORG_COUNTRY] : "");
        snprintf(o.sector, sizeof(o.sector), "%s", e->s[ORG_SECTOR] ? e->s[ORG_SECTOR] : "");
        snprintf(o.kind, sizeof(o.kind), "%s", e->s[ORG_KIND] ? e->s[ORG_KIND] : "");
        snprintf(o.identity, sizeof(o.identity), "%s",
                 e->s[ORG_IDENTITY] ? e->s[ORG_IDENTITY] : "");
        if (store_org_add(r->s, &o, err) < 0)
            return at(err, "orgs", e, NULL);
        return note(r, "create", "org", o.name, o.identity, err);
    }
    if (e->s[ORG_IDENTITY] && strcmp(e->s[ORG_IDENTITY], o.identity) != 0) {
        kz_error_set(err, KZ_ECONFLICT,
                     "organisation \"%s\" stands for %s; apply never changes an identity (the "
                     "objects it produced name it)",
                     o.name, o.identity);
        return at(err, "orgs", e, "identity");
    }
    want = o;
    if (e->s[ORG_COUNTRY] && strcmp(o.country, e->s[ORG_COUNTRY]) != 0) {
        describe(detail, sizeof(detail), "country", o.country, e->s[ORG_COUNTRY]);
        snprintf(want.country, sizeof(want.country), "%s", e->s[ORG_COUNTRY]);
    }
    if (e->s[ORG_SECTOR] && strcmp(o.sector, e->s[ORG_SECTOR]) != 0) {
        describe(detail, sizeof(detail), "sector", o.sector, e->s[ORG_SECTOR]);
        snprintf(want.sector, sizeof(want.sector), "%s", e->s[ORG_SECTOR]);
    }
    if (e->s[ORG_KIND] && strcmp(o.kind, e->s[ORG_KIND]) != 0) {
        describe(detail, sizeof(detail), "kind", o.kind, e->s[ORG_KIND]);
        snprintf(want.kind, sizeof(want.kind), "%s", e->s[ORG_KIND]);
    }
    if (!detail[0])
        return note(r, "unchanged", "org", o.name, NULL, err);
    if (store_org_update(r->s, &want, err) < 0)
        return -1;
    return note(r, "change", "org", o.name, detail, err);
}

/* --- communities ---------------------------------------------------------------- */

enum { COMM_NAME, COMM_MEMBERS };

static int check_community(const struct entry *e, struct kz_error *err)
{
    if (!name_ok(e->s[COMM_NAME])) {
        kz_error_set(err, KZ_EINVALID, "a name is letters, digits, '-', '_' or '.'");
        return at(err, "communities", e, "name");
    }
    return 0;
}

struct members_ctx {
    const char *name;
    char *members; /* malloc'd copy of the community's members, comma-separated */
};

static int find_members(void *ctx, const struct store_community *c, const char *members)
{
    struct members_ctx *m = ctx;

    if (strcmp(c->name, m->name) != 0)
        return 0;
    m->members = strdup(members ? members : "");
    return STORE_STOP;
}

static int is_member(const char *members, const char *org)
{
    size_t n = strlen(org);

    for (const char *p = members; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, org, n) == 0)
            return 1;
        p += len + (comma ? 1 : 0);
    }
    return 0;
}

static int apply_community(struct run *r, const struct entry *e, struct kz_error *err)
{
    struct store_community c;
    struct members_ctx m = {.name = e->s[COMM_NAME]};
    char detail[256] = "";
    int created = 0, rc = -1;

    if (!policy_may_manage_node(r->caller)) {
        kz_error_set(err, KZ_EDENIED, "only node admins make communities");
        return at(err, "communities", e, NULL);
    }
    if (store_community_find(r->s, e->s[COMM_NAME], &c, err) < 0) {
        if (err->code != KZ_ENOTFOUND)
            return -1;
        memset(&c, 0, sizeof(c));
        snprintf(c.name, sizeof(c.name), "%s", e->s[COMM_NAME]);
        if (store_community_add(r->s, &c, err) < 0)
            return at(err, "communities", e, NULL);
        created = 1;
    }
    if (store_community_each(r->s, find_members, &m, err) < 0)
        goto out;
    for (size_t i = 0; i < e->nlist[COMM_MEMBERS]; i++) {
        struct store_org o;
        size_t n;
        if (is_member(m.members, e->list[COMM_MEMBERS][i]))
            continue;
        if (store_org_find(r->s, e->list[COMM_MEMBERS][i], &o, err) < 0) {
            kz_error_property(err, "communities[%u].members[%zu]", e->index, i);
            goto out;
        }
        if (store_community_join(r->s, c.key, o.key, err) < 0)
            goto out;
        n = strlen(detail);
        if (n < sizeof(detail))
            snprintf(detail + n, sizeof(detail) - n, "%s%s", n ? ", " : "joined: ", o.name);
    }
    if (created)
        rc = note(r, "create", "community", c.name, detail, err);
    else
        rc = note(r, detail[0] ? "change" : "unchanged", "community", c.name, detail, err);
out:
    free(m.members);
    return rc;
}

/* --- users ---------------------------------------------------------------------- */

enum { USER_NAME, USER_ORG, USER_ROLE, USER_DISABLED };

static int check_user(const struct entry *e, struct kz_error *err)
{
    if (!name_ok(e->s[USER_NAME])) {
        kz_error_set(err, KZ_EINVALID, "a name is letters, digits, '-', '_' or '.'");
        return at(err, "users", e, "name");
    }
    if (e->s[USER_ROLE] && auth_role_parse(e->s[USER_ROLE]) == AUTH_ROLE_NONE) {
        kz_error_set(err, KZ_EINVALID, "reader, contributor, org-admin, node-admin or peer");
        return at(err, "users", e, "role");
    }
    return 0;
}

static int apply_user(struct run *r, const struct entry *e, struct kz_error *err)
{
    const char *role = e->s[USER_ROLE] ? e->s[USER_ROLE] : "reader";
    enum auth_role want = auth_role_parse(role);
    struct store_user u;
    struct store_org o;
    char detail[256] = "";
    int disabled = e->b[USER_DISABLED];

    if (store_org_find(r->s, e->s[USER_ORG], &o, err) < 0)
        return at(err, "users", e, "org");
    if (store_user_find(r->s, e->s[USER_NAME], &u, err) < 0) {
        if (err->code != KZ_ENOTFOUND)
            return -1;
        memset(&u, 0, sizeof(u));
        snprintf(u.name, sizeof(u.name), "%s", e->s[USER_NAME]);
        snprintf(u.role, sizeof(u.role), "%s", role);
        u.org = o.key;
        if (!policy_may_grant_role(r->caller, want) || !policy_may_manage_account(r->caller, &u)) {
            kz_error_set(err, KZ_EDENIED, "you may not add that account");
            return at(err, "users", e, NULL);
        }
        if (store_user_add(r->s, &u, err) < 0 ||
            (disabled == 1 && store_user_update(r->s, u.key, NULL, 1, err) < 0))
            return at(err, "users", e, NULL);
        snprintf(detail, sizeof(detail), "org %s, role %s%s", o.name, u.role,
                 disabled == 1 ? ", disabled" : "");
        return note(r, "create", "user", u.name, detail, err);
    }
    if (u.org != o.key) {
        kz_error_set(err, KZ_ECONFLICT,
                     "user \"%s\" belongs to \"%s\"; apply never moves a user to another "
                     "organisation (remove it and add it again)",
                     u.name, u.org_name);
        return at(err, "users", e, "org");
    }
    if (!policy_may_manage_account(r->caller, &u)) {
        kz_error_set(err, KZ_EDENIED, "you may not manage that account");
        return at(err, "users", e, NULL);
    }
    /* the role is compared only when the file gives one: a user listed
     * without it is not demoted to reader */
    if (e->s[USER_ROLE] && strcmp(u.role, auth_role_name(want)) != 0) {
        if (!policy_may_change_role(r->caller, &u, want)) {
            kz_error_set(err, KZ_EDENIED, "you may not give that role");
            return at(err, "users", e, "role");
        }
        describe(detail, sizeof(detail), "role", u.role, auth_role_name(want));
    } else {
        role = NULL;
    }
    if (disabled >= 0 && disabled != u.disabled)
        describe(detail, sizeof(detail), "disabled", u.disabled ? "true" : "false",
                 disabled ? "true" : "false");
    else
        disabled = -1;
    if (!detail[0])
        return note(r, "unchanged", "user", u.name, NULL, err);
    if (store_user_update(r->s, u.key, role ? auth_role_name(want) : NULL, disabled, err) < 0)
        return -1;
    return note(r, "change", "user", u.name, detail, err);
}

/* --- collections -------------------------------------------------------------- */

enum { COLL_ALIAS, COLL_TITLE, COLL_DESCRIPTION, COLL_API_ROOT, COLL_ID };

static int check_collection(const struct entry *e, struct kz_error *err)
{
    const char *id = e->s[COLL_ID];

    if (!name_ok(e->s[COLL_ALIAS])) {
        kz_error_set(err, KZ_EINVALID, "an alias is letters, digits, '-', '_' or '.'");
        return at(err, "collections", e, "alias");
    }
    if (id && !kz_uuid_valid(id, strlen(id))) {
        kz_error_set(err, KZ_EINVALID, "a UUID");
        return at(err, "collections", e, "id");
    }
    return 0;
}

static int apply_collection(struct run *r, const struct entry *e, struct kz_error *err)
{
    const char *root = e->s[COLL_API_ROOT] ? e->s[COLL_API_ROOT] : "default";
    struct store_collection c, want;
    struct store_api_root ar;
    char detail[256] = "";

    if (!policy_may_manage_node(r->caller)) {
        kz_error_set(err, KZ_EDENIED, "only node admins make collections");
        return at(err, "collections", e, NULL);
    }
    if (store_api_root_find(r->s, root, &ar, err) < 0)
        return at(err, "collections", e, "api_root");
    if (store_collection_find(r->s, root, e->s[COLL_ALIAS], &c, err) < 0) {
        if (err->code != KZ_ENOTFOUND)
            return -1;
        memset(&c, 0, sizeof(c));
        snprintf(c.alias, sizeof(c.alias), "%s", e->s[COLL_ALIAS]);
        snprintf(c.api_root, sizeof(c.api_root), "%s", root);
        snprintf(c.title, sizeof(c.title), "%s",
                 e->s[COLL_TITLE] ? e->s[COLL_TITLE] : e->s[COLL_ALIAS]);
        snprintf(c.description, sizeof(c.description), "%s",
                 e->s[COLL_DESCRIPTION] ? e->s[COLL_DESCRIPTION] : "");
        snprintf(c.id, sizeof(c.id), "%s", e->s[COLL_ID] ? e->s[COLL_ID] : "");
        if (store_collection_add(r->s, &c, err) < 0)
            return at(err, "collections", e, NULL);
        return note(r, "create", "collection", c.alias, c.id, err);
    }
    if (strcmp(c.alias, e->s[COLL_ALIAS]) != 0) {
        /* found by id: the file's alias names another collection's id */
        kz_error_set(err, KZ_ECONFLICT, "\"%s\" is the id of collection \"%s\"", e->s[COLL_ALIAS],
                     c.alias);
        return at(err, "collections", e, "alias");
    }
    if (e->s[COLL_ID] && strcmp(e->s[COLL_ID], c.id) != 0) {
        kz_error_set(err, KZ_ECONFLICT, "collection \"%s\" has id %s; apply never changes an id",
                     c.alias, c.id);
        return at(err, "collections", e, "id");
    }
    want = c;
    if (e->s[COLL_TITLE] && strcmp(c.title, e->s[COLL_TITLE]) != 0) {
        describe(detail, sizeof(detail), "title", c.title, e->s[COLL_TITLE]);
        snprintf(want.title, sizeof(want.title), "%s", e->s[COLL_TITLE]);
    }
    if (e->s[COLL_DESCRIPTION] && strcmp(c.description, e->s[COLL_DESCRIPTION]) != 0) {
        describe(detail, sizeof(detail), "description", c.description, e->s[COLL_DESCRIPTION]);
        snprintf(want.description, sizeof(want.description), "%s", e->s[COLL_DESCRIPTION]);
    }
    if (!detail[0])
        return note(r, "unchanged", "collection", c.alias, NULL, err);
    if (store_collection_update(r->s, &want, err) < 0)
        return -1;
    return note(r, "change", "collection", c.alias, detail, err);
}

/* --- grants ------------------------------------------------------------------------ */

enum {
    GRANT_COLLECTION,
    GRANT_USER,
    GRANT_ORG,
    GRANT_COMMUNITY,
    GRANT_ROLE,
    GRANT_READ,
    GRANT_WRITE
};

static const char *const grant_kinds[] = {"", "user", "org", "community", "role"};

static int check_grant(const struct entry *e, struct kz_error *err)
{
    int subjects = 0;

    for (int i = GRANT_USER; i <= GRANT_ROLE; i++)
        subjects += e->s[i] != NULL;
    if (subjects != 1) {
        kz_error_set(err, KZ_EINVALID, "a grant names exactly one of user, org, community, role");
        return at(err, "grants", e, NULL);
    }
    if (e->s[GRANT_ROLE] && auth_role_parse(e->s[GRANT_ROLE]) == AUTH_ROLE_NONE) {
        kz_error_set(err, KZ_EINVALID, "reader, contributor, org-admin, node-admin or peer");
        return at(err, "grants", e, "role");
    }
    return 0;
}

struct grant_find {
    const struct store_grant *want;
    const struct store_grant *found;
    struct store_grant copy;
};

static int find_grant(void *ctx, const struct store_grant *g)
{
    struct grant_find *f = ctx;

    if (g->kind != f->want->kind)
        return 0;
    if (g->kind == STORE_GRANT_ROLE ? strcmp(g->role, f->want->role) != 0
                                    : g->subject != f->want->subject)
        return 0;
    f->copy = *g;
    f->found = &f->copy;
    return STORE_STOP;
}

static int apply_grant(struct run *r, const struct entry *e, struct kz_error *err)
{
    struct store_collection c;
    struct store_grant g;
    struct grant_find f = {.want = &g};
    char name[2 * KZ_MAX_NAME + 16], detail[256] = "";
    int kind = 0;
    const char *subject = NULL;

    if (!policy_may_manage_grants(r->caller)) {
        kz_error_set(err, KZ_EDENIED, "only node admins change grants");
        return at(err, "grants", e, NULL);
    }
    if (store_collection_find(r->s, NULL, e->s[GRANT_COLLECTION], &c, err) < 0)
        return at(err, "grants", e, "collection");
    memset(&g, 0, sizeof(g));
    g.collection = c.key;
    for (int i = GRANT_USER; i <= GRANT_ROLE; i++)
        if (e->s[i]) {
            kind = i - GRANT_USER + STORE_GRANT_USER;
            subject = e->s[i];
        }
    g.kind = (enum store_grant_kind)kind;
    if (kind == STORE_GRANT_USER) {
        struct store_user u;
        if (store_user_find(r->s, subject, &u, err) < 0)
            return at(err, "grants", e, "user");
        g.subject = u.key;
    } else if (kind == STORE_GRANT_ORG) {
        struct store_org o;
        if (store_org_find(r->s, subject, &o, err) < 0)
            return at(err, "grants", e, "org");
        g.subject = o.key;
    } else if (kind == STORE_GRANT_COMMUNITY) {
        struct store_community cm;
        if (store_community_find(r->s, subject, &cm, err) < 0)
            return at(err, "grants", e, "community");
        g.subject = cm.key;
    } else {
        snprintf(g.role, sizeof(g.role), "%s", subject);
    }
    g.can_read = e->b[GRANT_READ] < 0 ? 1 : e->b[GRANT_READ];
    g.can_write = e->b[GRANT_WRITE] < 0 ? 0 : e->b[GRANT_WRITE];
    snprintf(name, sizeof(name), "%s %s=%s", c.alias, grant_kinds[kind], subject);
    if (store_grant_each(r->s, c.key, find_grant, &f, err) < 0)
        return -1;
    if (f.found && f.found->can_read == g.can_read && f.found->can_write == g.can_write)
        return note(r, "unchanged", "grant", name, NULL, err);
    if (!f.found && !g.can_read && !g.can_write)
        return note(r, "unchanged", "grant", name, NULL, err);
    snprintf(detail, sizeof(detail), "read=%s write=%s", g.can_read ? "true" : "false",
             g.can_write ? "true" : "false");
    if (store_grant_set(r->s, &g, err) < 0)
        return -1;
    return note(r, f.found ? "change" : "create", "grant", name, detail, err);
}

/* --- peers ------------------------------------------------------------------------ */

enum {
    PEER_NAME,
    PEER_URL,
    PEER_TOKEN_FILE,
    PEER_USER,
    PEER_ORG,
    PEER_KEY,
    PEER_CA,
    PEER_COMMUNITIES,
    PEER_PULL,
    PEER_PUSH
};

/* The file names where the token is, never the token: a reviewed file
 * holds no secret, and the token file keeps its own permissions. */
static int check_peer(const struct entry *e, struct kz_error *err)
{
    unsigned char pk[SIGN_PUBLIC_BYTES];
    const char *org = e->s[PEER_ORG], *key = e->s[PEER_KEY];

    if (!name_ok(e->s[PEER_NAME])) {
        kz_error_set(err, KZ_EINVALID, "a name is letters, digits, '-', '_' or '.'");
        return at(err, "peers", e, "name");
    }
    if (sync_url_ok(e->s[PEER_URL], err) < 0)
        return at(err, "peers", e, "url");
    if (!e->s[PEER_TOKEN_FILE][0] || strcmp(e->s[PEER_TOKEN_FILE], "-") == 0) {
        kz_error_set(err, KZ_EINVALID,
                     "the path of a file holding the peer's token (relative to this file's "
                     "folder); not \"-\"");
        return at(err, "peers", e, "token_file");
    }
    if (org && org[0] && !name_ok(org)) {
        kz_error_set(err, KZ_EINVALID, "an organisation's name, or \"\" for none");
        return at(err, "peers", e, "org");
    }
    for (const char *u = e->s[PEER_USER]; u && *u; u++)
        if (*u < 0x20 || *u >= 0x7f || *u == ':') {
            kz_error_set(err, KZ_EINVALID,
                         "an HTTP Basic user name: printable ASCII without a colon");
            return at(err, "peers", e, "user");
        }
    /* the syncer opens it, from whatever folder it runs in */
    if (e->s[PEER_CA] && e->s[PEER_CA][0] && e->s[PEER_CA][0] != '/') {
        kz_error_set(err, KZ_EINVALID, "an absolute path, or \"\" for the system's CAs");
        return at(err, "peers", e, "ca");
    }
    if (key && key[0] && sign_public_parse(key, pk) < 0) {
        kz_error_set(err, KZ_EINVALID, "ed25519:BASE64 (`kizuna node key` on the peer), or \"\"");
        return at(err, "peers", e, "key");
    }
    if (e->nlist[PEER_COMMUNITIES] > SYNC_MAX_PEER_COMMUNITIES) {
        kz_error_set(err, KZ_EINVALID, "at most %d communities", SYNC_MAX_PEER_COMMUNITIES);
        return at(err, "peers", e, "communities");
    }
    if (e->nlist[PEER_PULL] + e->nlist[PEER_PUSH] > SYNC_MAX_LINKS) {
        kz_error_set(err, KZ_EINVALID, "at most %d links, pulls and pushes together",
                     SYNC_MAX_LINKS);
        return at(err, "peers", e, e->nlist[PEER_PUSH] ? "push" : "pull");
    }
    return 0;
}

/* What apply_peer works with, on the heap: the resolved peer is large and
 * the token is wiped when done. */
struct peer_work {
    char token[STORE_PEER_TOKEN_MAX];
    char stored[STORE_PEER_TOKEN_MAX];
    char path[8192];
    char link_text[SYNC_MAX_LINKS][2 * KZ_MAX_NAME + 66];
    struct sync_link_spec links[SYNC_MAX_LINKS];
    const char *comms[SYNC_MAX_PEER_COMMUNITIES];
    struct sync_peer_resolved want;
    struct store_peer have;
    int64_t have_comms[SYNC_MAX_PEER_COMMUNITIES * 2];
    size_t nhave_comms;
    struct store_peer_link have_links[SYNC_MAX_LINKS * 2];
    size_t nhave_links;
    char detail[256];
};

static int collect_links(void *ctx, const struct store_peer_link *l)
{
    struct peer_work *w = ctx;

    if (w->nhave_links >= sizeof(w->have_links) / sizeof(w->have_links[0]))
        return STORE_STOP;
    w->have_links[w->nhave_links++] = *l;
    return 0;
}

/* Whether the peer's links of direction dir are those the file wants. */
static int links_same(const struct peer_work *w, int dir)
{
    size_t have = 0, want = 0;

    for (size_t i = 0; i < w->nhave_links; i++) {
        const struct store_peer_link *h = &w->have_links[i];
        int found = 0;
        if (h->direction != dir)
            continue;
        have++;
        for (size_t j = 0; j < w->want.nlinks && !found; j++)
            found = w->want.links[j].direction == dir && w->want.links[j].local == h->local &&
                    strcmp(w->want.links[j].remote, h->remote) == 0;
        if (!found)
            return 0;
    }
    /* the file may list a link twice: count the distinct ones */
    for (size_t j = 0; j < w->want.nlinks; j++) {
        int dup = 0;
        if (w->want.links[j].direction != dir)
            continue;
        for (size_t k = 0; k < j && !dup; k++)
            dup = w->want.links[k].direction == dir &&
                  w->want.links[k].local == w->want.links[j].local &&
                  strcmp(w->want.links[k].remote, w->want.links[j].remote) == 0;
        want += !dup;
    }
    return have == want;
}

static int comms_same(const struct peer_work *w)
{
    size_t want = 0;

    for (size_t i = 0; i < w->nhave_comms; i++) {
        int found = 0;
        for (size_t j = 0; j < w->want.ncommunities && !found; j++)
            found = w->want.communities[j] == w->have_comms[i];
        if (!found)
            return 0;
    }
    for (size_t j = 0; j < w->want.ncommunities; j++) {
        int dup = 0;
        for (size_t k = 0; k < j && !dup; k++)
            dup = w->want.communities[k] == w->want.communities[j];
        want += !dup;
    }
    return w->nhave_comms == want;
}

static void add_words(char *out, size_t cap, const char *words)
{
    size_t n = strlen(out);

    if (n < cap)
        snprintf(out + n, cap - n, "%s%s", n ? ", " : "", words);
}

static void list_words(char *out, size_t cap, const char *what, char *const *list, size_t n)
{
    char words[192];
    size_t w = 0;

    w += (size_t)snprintf(words, sizeof(words), "%s [", what);
    for (size_t i = 0; i < n && w < sizeof(words); i++)
        w += (size_t)snprintf(words + w, sizeof(words) - w, "%s%s", i ? " " : "", list[i]);
    if (w < sizeof(words))
        snprintf(words + w, sizeof(words) - w, "]");
    add_words(out, cap, words);
}

/* The file's names, found here so that a name the store lacks fails
 * naming its place in the file (peers[0].pull[1]). */
static int peer_names(struct run *r, const struct entry *e, struct kz_error *err)
{
    const char *org = e->s[PEER_ORG];

    if (org && org[0]) {
        struct store_org o;
        if (store_org_find(r->s, org, &o, err) < 0)
            return at(err, "peers", e, "org");
    }
    for (size_t i = 0; i < e->nlist[PEER_COMMUNITIES]; i++) {
        struct store_community c;
        if (store_community_find(r->s, e->list[PEER_COMMUNITIES][i], &c, err) < 0) {
            kz_error_property(err, "peers[%u].communities[%zu]", e->index, i);
            return -1;
        }
    }
    for (int f = PEER_PULL; f <= PEER_PUSH; f++)
        for (size_t i = 0; i < e->nlist[f]; i++) {
            struct store_collection c;
            char local[KZ_MAX_NAME + 1];
            const char *l = e->list[f][i];
            snprintf(local, sizeof(local), "%.*s", (int)(strchr(l, '=') - l), l);
            if (store_collection_find(r->s, NULL, local, &c, err) < 0) {
                kz_error_property(err, "peers[%u].%s[%zu]", e->index,
                                  f == PEER_PULL ? "pull" : "push", i);
                return -1;
            }
        }
    return 0;
}

/* Creates the peer, or changes what differs from the file: url, org, key,
 * ca, communities and links with store_peer_update (links kept keep their
 * checkpoints), the token and how it is sent with store_peer_credentials.
 * The stored token is opened and compared in constant time; neither it nor
 * the file's is ever written anywhere but sealed. */
static int apply_peer(struct run *r, const struct entry *e, struct kz_error *err)
{
    struct peer_work *w = calloc(1, sizeof(*w));
    struct sync_peer_spec sp;
    const char *tf = e->s[PEER_TOKEN_FILE], *user = e->s[PEER_USER] ? e->s[PEER_USER] : "";
    int rc = -1, same_token, set_links = 0, update = 0, creds;

    if (!w)
        return kz_error_set(err, KZ_ENOMEM, "out of memory");
    if (!policy_may_manage_node(r->caller)) {
        kz_error_set(err, KZ_EDENIED, "only node admins add peers");
        at(err, "peers", e, NULL);
        goto out;
    }
    if (!r->signing_key) {
        kz_error_set(err, KZ_EINTERNAL, "apply: no signing key to seal peers' tokens with");
        goto out;
    }
    snprintf(w->path, sizeof(w->path), "%s%s%s", tf[0] == '/' ? "" : r->dir,
             tf[0] == '/' ? "" : "/", tf);
    if (sync_token_read(w->path, w->token, sizeof(w->token), err) < 0) {
        at(err, "peers", e, "token_file");
        goto out;
    }
    if (peer_names(r, e, err) < 0)
        goto out;
    memset(&sp, 0, sizeof(sp));
    sp.name = e->s[PEER_NAME];
    sp.url = e->s[PEER_URL];
    sp.token = w->token;
    sp.user = user;
    sp.org = e->s[PEER_ORG] && e->s[PEER_ORG][0] ? e->s[PEER_ORG] : NULL;
    sp.key = e->s[PEER_KEY] && e->s[PEER_KEY][0] ? e->s[PEER_KEY] : NULL;
    sp.ca = e->s[PEER_CA];
    for (size_t i = 0; i < e->nlist[PEER_COMMUNITIES]; i++)
        w->comms[sp.ncommunities++] = e->list[PEER_COMMUNITIES][i];
    sp.communities = w->comms;
    for (int f = PEER_PULL; f <= PEER_PUSH; f++)
        for (size_t i = 0; i < e->nlist[f]; i++) {
            struct sync_link_spec *l = &w->links[sp.nlinks];
            char *t = w->link_text[sp.nlinks++], *eq;
            snprintf(t, sizeof(w->link_text[0]), "%s", e->list[f][i]);
            eq = strchr(t, '=');
            *eq = '\0';
            l->direction = f == PEER_PULL ? STORE_LINK_PULL : STORE_LINK_PUSH;
            l->local = t;
            l->remote = eq + 1;
        }
    sp.links = w->links;
    if (sync_peer_resolve(r->s, r->signing_key, &sp, &w->want, err) < 0) {
        at(err, "peers", e, NULL);
        goto out;
    }
    if (store_peer_find(r->s, sp.name, &w->have, err) < 0) {
        if (err->code != KZ_ENOTFOUND)
            goto out;
        if (store_peer_add(r->s, &w->want.peer, w->want.communities, w->want.ncommunities,
                           w->want.links, w->want.nlinks, err) < 0) {
            at(err, "peers", e, NULL);
            goto out;
        }
        snprintf(w->detail, sizeof(w->detail), "url=%s auth=%s%s%s key=%s, %zu link%s", sp.url,
                 user[0] ? "basic" : "bearer", user[0] ? " user=" : "", user,
                 sp.key ? sp.key : "none", sp.nlinks, sp.nlinks == 1 ? "" : "s");
        rc = note(r, "create", "peer", sp.name, w->detail, err);
        goto out;
    }

    /* there: compare each property the file gives */
    w->want.peer.key = w->have.key;
    if (strcmp(w->have.url, w->want.peer.url) != 0) {
        describe(w->detail, sizeof(w->detail), "url", w->have.url, w->want.peer.url);
        update = 1;
    }
    if (e->s[PEER_ORG] && w->have.org != w->want.peer.org) {
        add_words(w->detail, sizeof(w->detail), sp.org ? "org" : "org removed");
        if (sp.org) {
            size_t n = strlen(w->detail);
            snprintf(w->detail + n, sizeof(w->detail) - n, " -> %s", sp.org);
        }
        update = 1;
    } else {
        w->want.peer.org = w->have.org;
    }
    if (e->s[PEER_KEY] && strcmp(w->have.public_key, w->want.peer.public_key) != 0) {
        describe(w->detail, sizeof(w->detail), "key", w->have.public_key, w->want.peer.public_key);
        update = 1;
    } else {
        snprintf(w->want.peer.public_key, sizeof(w->want.peer.public_key), "%s",
                 w->have.public_key);
    }
    if (e->s[PEER_CA] && strcmp(w->have.ca, w->want.peer.ca) != 0) {
        describe(w->detail, sizeof(w->detail), "ca", w->have.ca, w->want.peer.ca);
        update = 1;
    } else {
        snprintf(w->want.peer.ca, sizeof(w->want.peer.ca), "%s", w->have.ca);
    }
    if (e->has_list[PEER_COMMUNITIES]) {
        if (store_peer_own_communities(r->s, w->have.key, w->have_comms,
                                       sizeof(w->have_comms) / sizeof(w->have_comms[0]),
                                       &w->nhave_comms, err) < 0)
            goto out;
        if (!comms_same(w)) {
            list_words(w->detail, sizeof(w->detail), "communities", e->list[PEER_COMMUNITIES],
                       e->nlist[PEER_COMMUNITIES]);
            update = 1;
        }
    }
    if (store_peer_links(r->s, w->have.key, collect_links, w, err) < 0)
        goto out;
    for (int f = PEER_PULL; f <= PEER_PUSH; f++) {
        int dir = f == PEER_PULL ? STORE_LINK_PULL : STORE_LINK_PUSH;
        if (e->has_list[f] && !links_same(w, dir)) {
            list_words(w->detail, sizeof(w->detail), f == PEER_PULL ? "pull" : "push", e->list[f],
                       e->nlist[f]);
            set_links |= dir;
            update = 1;
        }
    }
    /* the token: a stored one that no longer opens (the signing key was
     * replaced) is replaced too */
    same_token = sync_token_open(r->signing_key, w->have.token, w->have.token_len, w->stored,
                                 sizeof(w->stored), err) == 0 &&
                 strlen(w->stored) == strlen(w->token) &&
                 sodium_memcmp(w->stored, w->token, strlen(w->token)) == 0;
    kz_error_clear(err);
    creds = !same_token || strcmp(w->have.user, user) != 0;
    if (!same_token)
        add_words(w->detail, sizeof(w->detail), "token replaced");
    if (strcmp(w->have.user, user) != 0) {
        char from[STORE_PEER_USER_MAX + 16], to[STORE_PEER_USER_MAX + 16];
        snprintf(from, sizeof(from), "%s%s", w->have.user[0] ? "basic user=" : "bearer",
                 w->have.user);
        snprintf(to, sizeof(to), "%s%s", user[0] ? "basic user=" : "bearer", user);
        describe(w->detail, sizeof(w->detail), "auth", from, to);
    }
    if (!update && !creds) {
        rc = note(r, "unchanged", "peer", sp.name, NULL, err);
        goto out;
    }
    if ((update && store_peer_update(r->s, &w->want.peer, w->want.communities, w->want.ncommunities,
                                     e->has_list[PEER_COMMUNITIES], w->want.links, w->want.nlinks,
                                     set_links, err) < 0) ||
        (creds && store_peer_credentials(r->s, sp.name, w->want.peer.token, w->want.peer.token_len,
                                         user, err) < 0)) {
        at(err, "peers", e, NULL);
        goto out;
    }
    rc = note(r, "change", "peer", sp.name, w->detail, err);
out:
    sodium_memzero(w, sizeof(*w));
    free(w);
    return rc;
}

/* --- the file ------------------------------------------------------------------ */

static const struct section sections[] = {
        {"orgs",
         {{"name", F_STR, 1, KZ_MAX_NAME},
          {"country", F_STR, 0, 2},
          {"sector", F_STR, 0, 63},
          {"kind", F_STR, 0, 31},
          {"identity", F_STR, 0, KZ_MAX_STIX_ID}},
         check_org,
         apply_org},
        {"communities",
         {{"name", F_STR, 1, KZ_MAX_NAME}, {"members", F_LIST, 0, KZ_MAX_NAME}},
         check_community,
         apply_community},
        {"users",
         {{"name", F_STR, 1, KZ_MAX_NAME},
          {"org", F_STR, 1, KZ_MAX_NAME},
          {"role", F_STR, 0, 31},
          {"disabled", F_BOOL, 0, 0}},
         check_user,
         apply_user},
        {"collections",
         {{"alias", F_STR, 1, KZ_MAX_NAME},
          {"title", F_STR, 0, KZ_MAX_TEXT},
          {"description", F_STR, 0, KZ_MAX_TEXT},
          {"api_root", F_STR, 0, KZ_MAX_NAME},
          {"id", F_STR, 0, KZ_UUID_LEN - 1}},
         check_collection,
         apply_collection},
        {"grants",
         {{"collection", F_STR, 1, KZ_MAX_NAME},
          {"user", F_STR, 0, KZ_MAX_NAME},
          {"org", F_STR, 0, KZ_MAX_NAME},
          {"community", F_STR, 0, KZ_MAX_NAME},
          {"role", F_STR, 0, 31},
          {"read", F_BOOL, 0, 0},
          {"write", F_BOOL, 0, 0}},
         check_grant,
         apply_grant},
        {"peers",
         {{"name", F_STR, 1, KZ_MAX_NAME},
          {"url", F_STR, 1, 1023},
          {"token_file", F_STR, 1, 4095},
          {"user", F_STR, 0, STORE_PEER_USER_MAX - 1},
          {"org", F_STR, 0, KZ_MAX_NAME},
          {"key", F_STR, 0, 79},
          {"ca", F_STR, 0, 1023},
          {"communities", F_LIST, 0, KZ_MAX_NAME},
          {"pull", F_LINKS, 0, 2 * KZ_MAX_NAME + 65},
          {"push", F_LINKS, 0, 2 * KZ_MAX_NAME + 65}},
         check_peer,
         apply_peer},
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

struct parsed {
    struct entry *entries[NSECTIONS];
    size_t n[NSECTIONS];
};

static void entry_free(struct entry *e)
{
    for (int i = 0; i < MAX_FIELDS; i++)
        free(e->s[i]);
    for (int f = 0; f < MAX_FIELDS; f++) {
        for (size_t i = 0; i < e->nlist[f]; i++)
            free(e->list[f][i]);
        free(e->list[f]);
    }
}

static void parsed_free(struct parsed *p)
{
    for (size_t s = 0; s < NSECTIONS; s++) {
        for (size_t i = 0; i < p->n[s]; i++)
            entry_free(&p->entries[s][i]);
        free(p->entries[s]);
    }
}

/* A decoded string of at most max bytes, malloc'd; NULL (err set) when it
 * is not a string, too long, or holds U+0000. */
static char *read_string(const struct kzj_doc *d, uint32_t i, size_t max, struct kz_error *err)
{
    char *out;

    if (kzj_type(d, i) != KZJ_STRING) {
        kz_error_set(err, KZ_EINVALID, "must be a string");
        return NULL;
    }
    out = malloc(max + 1);
    if (!out) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    if (kzj_strcpy(d, i, out, max + 1) < 0) {
        free(out);
        kz_error_set(err, KZ_EINVALID, "must be a string of at most %zu bytes, without U+0000",
                     max);
        return NULL;
    }
    return out;
}

/* A link "LOCAL=REMOTE": a local collection's alias or id, and the peer's
 * collection as it serves it (printable ASCII, it goes into a URL). */
static int link_ok(const char *s, struct kz_error *err)
{
    const char *eq = strchr(s, '=');
    char local[KZ_MAX_NAME + 1];

    if (!eq || eq == s || !eq[1] || (size_t)(eq - s) > KZ_MAX_NAME)
        return kz_error_set(err, KZ_EINVALID, "a link is \"LOCAL=REMOTE\", got \"%s\"", s);
    snprintf(local, sizeof(local), "%.*s", (int)(eq - s), s);
    if (!name_ok(local))
        return kz_error_set(err, KZ_EINVALID, "\"%s\" is not a local collection's alias or id",
                            local);
    if (strlen(eq + 1) >= KZ_MAX_NAME + 64)
        return kz_error_set(err, KZ_EINVALID, "the remote collection's name is too long");
    for (const char *p = eq + 1; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return kz_error_set(err, KZ_EINVALID,
                                "the remote collection \"%s\" holds a space, a control character "
                                "or a character outside ASCII",
                                eq + 1);
    return 0;
}

static int read_list(const struct kzj_doc *d, uint32_t v, int fi, const struct field *f,
                     struct entry *e, struct kz_error *err)
{
    uint32_t n;

    if (kzj_type(d, v) != KZJ_ARRAY)
        return kz_error_set(err, KZ_EINVALID, "must be an array of %s",
                            f->type == F_LINKS ? "\"LOCAL=REMOTE\" links" : "names");
    n = kzj_count(d, v);
    e->has_list[fi] = 1;
    e->list[fi] = calloc(n ? n : 1, sizeof(*e->list[fi]));
    if (!e->list[fi])
        return kz_error_set(err, KZ_ENOMEM, "out of memory");
    KZJ_FOREACH_ELEM(d, v, x)
    {
        char *s = read_string(d, x, f->max, err);
        if (!s)
            return -1;
        e->list[fi][e->nlist[fi]++] = s;
        if (f->type == F_LINKS ? link_ok(s, err) < 0 : !name_ok(s))
            return f->type == F_LINKS ? -1
                                      : kz_error_set(err, KZ_EINVALID, "\"%s\" is not a name", s);
    }
    return 0;
}

/* Reads one entry (a JSON object) of section sec into e. */
static int read_entry(const struct kzj_doc *d, uint32_t obj, const struct section *sec,
                      struct entry *e, struct kz_error *err)
{
    char key[64];

    for (int i = 0; i < MAX_FIELDS; i++)
        e->b[i] = -1;
    if (kzj_type(d, obj) != KZJ_OBJECT) {
        kz_error_set(err, KZ_EINVALID, "must be an object");
        return at(err, sec->key, e, NULL);
    }
    KZJ_FOREACH_MEMBER(d, obj, k)
    {
        int fi = -1;
        if (kzj_strcpy(d, k, key, sizeof(key)) == 0)
            for (int i = 0; i < MAX_FIELDS && sec->fields[i].name; i++)
                if (strcmp(sec->fields[i].name, key) == 0)
                    fi = i;
        if (fi < 0) {
            kz_error_set(err, KZ_EINVALID, "unknown property");
            return at(err, sec->key, e, kzj_strcpy(d, k, key, sizeof(key)) == 0 ? key : "?");
        }
        switch (sec->fields[fi].type) {
        case F_STR:
            free(e->s[fi]); /* a key given twice: the last one counts */
            e->s[fi] = read_string(d, k + 1, sec->fields[fi].max, err);
            if (!e->s[fi])
                return at(err, sec->key, e, key);
            break;
        case F_BOOL:
            if (kzj_type(d, k + 1) != KZJ_TRUE && kzj_type(d, k + 1) != KZJ_FALSE) {
                kz_error_set(err, KZ_EINVALID, "must be true or false");
                return at(err, sec->key, e, key);
            }
            e->b[fi] = kzj_type(d, k + 1) == KZJ_TRUE;
            break;
        case F_LIST:
        case F_LINKS:
            if (e->has_list[fi]) {
                kz_error_set(err, KZ_EINVALID, "given twice");
                return at(err, sec->key, e, key);
            }
            if (read_list(d, k + 1, fi, &sec->fields[fi], e, err) < 0)
                return at(err, sec->key, e, key);
            break;
        }
    }
    for (int i = 0; i < MAX_FIELDS && sec->fields[i].name; i++)
        if (sec->fields[i].required && !e->s[i]) {
            kz_error_set(err, KZ_EINVALID, "missing");
            return at(err, sec->key, e, sec->fields[i].name);
        }
    return sec->check(e, err);
}

/* The first pass: the whole file's shape, before the store is touched. */
static int parse_file(const struct kzj_doc *d, struct parsed *p, struct kz_error *err)
{
    size_t total = 0;
    char key[64];

    if (kzj_type(d, 0) != KZJ_OBJECT)
        return kz_error_set(err, KZ_EINVALID,
                            "the file is one JSON object with the sections orgs, communities, "
                            "users, collections, grants, peers");
    KZJ_FOREACH_MEMBER(d, 0, k)
    {
        size_t si = NSECTIONS;
        uint32_t arr = k + 1, n;
        if (kzj_strcpy(d, k, key, sizeof(key)) == 0)
            for (size_t i = 0; i < NSECTIONS; i++)
                if (strcmp(sections[i].key, key) == 0)
                    si = i;
        if (si == NSECTIONS) {
            kz_error_set(err, KZ_EINVALID,
                         "unknown section (orgs, communities, users, collections, grants, "
                         "peers)");
            kz_error_property(err, "%s", kzj_strcpy(d, k, key, sizeof(key)) == 0 ? key : "?");
            return -1;
        }
        if (kzj_type(d, arr) != KZJ_ARRAY) {
            kz_error_set(err, KZ_EINVALID, "must be an array");
            kz_error_property(err, "%s", key);
            return -1;
        }
        n = kzj_count(d, arr);
        total += n;
        if (total > KZ_MAX_APPLY_ENTRIES) {
            kz_error_set(err, KZ_ELIMIT, "more than %u entries", (unsigned)KZ_MAX_APPLY_ENTRIES);
            kz_error_property(err, "%s", key);
            return -1;
        }
        p->entries[si] = calloc(n ? n : 1, sizeof(struct entry));
        if (!p->entries[si])
            return kz_error_set(err, KZ_ENOMEM, "out of memory");
        KZJ_FOREACH_ELEM(d, arr, x)
        {
            struct entry *e = &p->entries[si][p->n[si]];
            e->index = (unsigned)p->n[si]++;
            if (read_entry(d, x, &sections[si], e, err) < 0)
                return -1;
        }
    }
    return 0;
}

int admin_apply(struct store *s, const struct auth_user *caller, const char *text, size_t len,
                const struct admin_apply_env *env, int dry_run, struct admin_apply_result *res,
                struct kz_error *err)
{
    struct parsed p;
    struct kzj_doc d;
    struct run r = {.s = s,
                    .caller = caller,
                    .dir = env && env->dir ? env->dir : ".",
                    .signing_key = env ? env->signing_key : NULL,
                    .res = res};
    int rc = -1, in_tx = 0;

    memset(res, 0, sizeof(*res));
    memset(&p, 0, sizeof(p));
    kzj_doc_init(&d);
    if (len > KZ_MAX_APPLY_FILE) {
        kz_error_set(err, KZ_ELIMIT, "the file is larger than %u bytes",
                     (unsigned)KZ_MAX_APPLY_FILE);
        goto out;
    }
    if (kzj_parse(&d, text, len, err) < 0 || parse_file(&d, &p, err) < 0)
        goto out;
    if (store_begin(s, err) < 0)
        goto out;
    in_tx = 1;
    /* in the table's order, so that what an entry names (a user's org, a
     * grant's collection) is made before it */
    for (size_t si = 0; si < NSECTIONS; si++)
        for (size_t i = 0; i < p.n[si]; i++)
            if (sections[si].apply(&r, &p.entries[si][i], err) < 0)
                goto out;
    if (dry_run) {
        store_rollback(s);
        in_tx = 0;
    } else if (store_commit(s, err) < 0) {
        goto out;
    }
    in_tx = 0;
    rc = 0;
out:
    if (in_tx)
        store_rollback(s);
    if (rc < 0) {
        free(res->changes);
        memset(res, 0, sizeof(*res));
    }
    parsed_free(&p);
    kzj_doc_free(&d);
    return rc;
}

void admin_apply_free(struct admin_apply_result *res)
{
    if (!res)
        return;
    free(res->changes);
    memset(res, 0, sizeof(*res));
}
