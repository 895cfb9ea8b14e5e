/*
 * The rules of policy.h. Collection rights come from grants; the object
 * rule becomes a store_visibility that the store evaluates inside its query;
 * policy_may_see states the same rule in C so that tests can hold the two
 * against each other.
 */
#include "policy/policy.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "json/json.h"
#include "store/store_accounts.h"
#include "store/store_grants.h"
#include "store/store_objects.h"
#include "store/store_peers.h"

/* The highest TLP a reader sees through the kind of grant it holds. */
static enum stix_tlp level_of(const struct store_access *a)
{
    if (a->read_as_org || a->read_as_user)
        return STIX_TLP_AMBER_STRICT;
    if (a->read_as_community)
        return STIX_TLP_GREEN;
    if (a->can_read)
        return STIX_TLP_CLEAR;
    return STIX_TLP_NONE;
}

/* A peer is another node: what it receives, every user there may come to
 * see. AMBER+STRICT stays in its organisation, so no grant (user,
 * organisation) lets it leave this node; a peer sees it only when the
 * object itself names the peer's organisation as a recipient, or that
 * organisation produced it (store_visibility's recipient and producer
 * rules; a name@PEER user recipient opens only RED and below-STRICT
 * levels, see the store). */
static void cap_peer_view(struct policy_view *v)
{
    if (v->vis.max_level > (int)STIX_TLP_AMBER)
        v->vis.max_level = (int)STIX_TLP_AMBER;
}

int policy_view_open(struct store *s, const struct policy_reader *r,
                     const struct store_collection *c, struct policy_view *v, struct kz_error *err)
{
    const struct auth_user *u = r->user;
    struct store_access a;
    struct store_org org;

    memset(v, 0, sizeof(*v));
    v->collection = c->key;
    if (store_grant_check(s, c->key, u->key, u->org, auth_role_name(u->role), &a, err) < 0)
        return -1;
    v->can_read = a.can_read;
    v->can_write = a.can_write;
    if (u->role == AUTH_ROLE_NODE_ADMIN) {
        /* node admins manage every collection; what they may read inside
         * one still follows the TLP rules below */
        v->can_read = v->can_write = 1;
    }
    if (u->role == AUTH_ROLE_READER)
        v->can_write = 0;
    v->knows = v->can_read || v->can_write;
    if (store_org_find_key(s, u->org, &org, err) == 0)
        snprintf(v->org_identity, sizeof(v->org_identity), "%s", org.identity);
    v->vis.active = 1;
    v->vis.max_level = v->can_read ? (int)level_of(&a) : (int)STIX_TLP_NONE;
    if (v->can_read && v->vis.max_level < STIX_TLP_CLEAR)
        v->vis.max_level = STIX_TLP_CLEAR; /* a node admin with no grant */
    v->vis.default_tlp = r->default_tlp ? (int)r->default_tlp : (int)STIX_TLP_AMBER;
    v->vis.exclude_red = r->bulk;
    v->vis.org_identity = v->org_identity;
    v->vis.user = u->key;
    v->vis.org = u->org ? u->org : -1;
    v->vis.check_refs = 1;
    if (u->role == AUTH_ROLE_PEER) { /* the account a partner node pulls with */
        v->vis.peer = policy_node_key(u->name);
        cap_peer_view(v);
    }
    if (!v->can_read) {
        /* writers without read see only what they produced */
        v->vis.max_level = STIX_TLP_NONE;
    }
    return 0;
}

int64_t policy_node_key(const char *node_name)
{
    unsigned char h[8];
    uint64_t k = 0;

    crypto_generichash(h, sizeof(h), (const unsigned char *)node_name, strlen(node_name), NULL, 0);
    for (size_t i = 0; i < sizeof(h); i++)
        k = k << 8 | h[i];
    /* positive and never 0 or -1, the values that mean "nobody" */
    k &= INT64_MAX;
    return k < 2 ? (int64_t)k + 2 : (int64_t)k;
}

void policy_operator_view(const struct store_collection *c, enum stix_tlp default_tlp, int bulk,
                          struct policy_view *v)
{
    memset(v, 0, sizeof(*v));
    v->collection = c->key;
    v->can_read = v->can_write = v->knows = 1;
    v->vis.active = 1;
    v->vis.max_level = bulk ? STIX_TLP_AMBER_STRICT : STIX_TLP_RED;
    v->vis.default_tlp = default_tlp ? (int)default_tlp : (int)STIX_TLP_AMBER;
    v->vis.exclude_red = bulk;
    v->vis.user = -1;
    v->vis.org = -1;
    v->vis.check_refs = 1;
}

struct peer_grants {
    const struct store_peer *p;
    const int64_t *communities;
    size_t ncommunities;
    enum stix_tlp level;
};

static int peer_grant(void *ctx, const struct store_grant *g)
{
    struct peer_grants *x = ctx;

    if (!g->can_read)
        return 0;
    if (g->kind == STORE_GRANT_ORG && g->subject == x->p->org)
        x->level = STIX_TLP_AMBER_STRICT;
    if (g->kind == STORE_GRANT_COMMUNITY && x->level < STIX_TLP_GREEN)
        for (size_t i = 0; i < x->ncommunities; i++)
            if (x->communities[i] == g->subject)
                x->level = STIX_TLP_GREEN;
    return 0;
}

int policy_peer_view(struct store *s, const struct store_peer *p, const struct store_collection *c,
                     enum stix_tlp default_tlp, struct policy_view *v, struct kz_error *err)
{
    int64_t communities[256];
    struct peer_grants x = {.p = p, .communities = communities, .level = STIX_TLP_CLEAR};
    struct store_org org;

    memset(v, 0, sizeof(*v));
    if (store_peer_communities(s, p->key, communities, 256, &x.ncommunities, err) < 0 ||
        store_grant_each(s, c->key, peer_grant, &x, err) < 0)
        return -1;
    v->collection = c->key;
    v->can_read = v->knows = 1;
    if (p->org && store_org_find_key(s, p->org, &org, err) == 0)
        snprintf(v->org_identity, sizeof(v->org_identity), "%s", org.identity);
    v->vis.active = 1;
    v->vis.max_level = (int)x.level;
    v->vis.default_tlp = default_tlp ? (int)default_tlp : (int)STIX_TLP_AMBER;
    v->vis.org_identity = v->org_identity;
    v->vis.user = -1;
    v->vis.org = p->org ? p->org : -1;
    v->vis.peer = policy_node_key(p->name);
    v->vis.check_refs = 1;
    cap_peer_view(v);
    return 0;
}

void policy_filter(const struct policy_view *v, struct store_filter *f)
{
    f->vis = v->vis;
    f->vis.org_identity = v->org_identity;
}

int policy_may_see(const struct policy_view *v, const struct store_row *r, int names_user,
                   int names_org)
{
    int eff = r->tlp ? r->tlp : v->vis.default_tlp;

    if (v->vis.exclude_red && eff >= STIX_TLP_RED)
        return 0;
    if (eff <= v->vis.max_level)
        return 1;
    if (v->org_identity[0] && r->created_by && strcmp(r->created_by, v->org_identity) == 0)
        return 1;
    if (names_user)
        return 1;
    return names_org && eff < STIX_TLP_RED;
}

int policy_check_write(const struct policy_view *v, const struct auth_user *u,
                       const struct stix_obj *o, struct kz_error *why)
{
    if (!v->can_write)
        return kz_error_set(why, KZ_EDENIED, "you may not write to this collection");
    /* a tombstone deletes: only who may delete other people's objects
     * publishes one (others use DELETE, which checks what they may see) */
    if (strcmp(o->type, "x-kizuna-tombstone") == 0 && u->role != AUTH_ROLE_NODE_ADMIN &&
        u->role != AUTH_ROLE_PEER)
        return kz_error_set(why, KZ_EDENIED,
                            "only node admins and peers publish tombstones; use DELETE");
    /* admins manage, and a peer relays objects others produced */
    if (u->role == AUTH_ROLE_NODE_ADMIN || u->role == AUTH_ROLE_ORG_ADMIN ||
        u->role == AUTH_ROLE_PEER)
        return 0;
    if (o->created_by_ref[0] && strcmp(o->created_by_ref, v->org_identity) != 0) {
        kz_error_property(why, "created_by_ref");
        return kz_error_set(why, KZ_EDENIED, "contributors publish only as their organisation (%s)",
                            v->org_identity);
    }
    return 0;
}

/* The rule of policy_check_change, given the stored owner w of the id. */
static int check_change(const struct policy_view *v, enum auth_role role, const struct stix_obj *o,
                        const struct store_owner *w, struct kz_error *why)
{
    int own;

    if (!w->exists || w->has_version)
        return 0;
    /* the messages never name the stored creator: the writer may not see it */
    if (o && strcmp(o->created_by_ref, w->created_by) != 0) {
        kz_error_property(why, "created_by_ref");
        return kz_error_set(why, KZ_EDENIED,
                            "a new version keeps the created_by_ref of the object's versions: "
                            "only its creator versions an object");
    }
    if (role == AUTH_ROLE_NODE_ADMIN || role == AUTH_ROLE_PEER)
        return 0;
    own = w->created_by[0] ? v->org_identity[0] && strcmp(w->created_by, v->org_identity) == 0
                           : w->producer && w->producer == v->vis.org;
    if (!own)
        return kz_error_set(why, KZ_EDENIED, "you may %s only your organisation's objects",
                            o ? "version" : "delete");
    return 0;
}

int policy_check_change(struct store *s, const struct policy_view *v, enum auth_role role,
                        const char *id, const struct stix_obj *o, struct kz_error *why)
{
    struct store_owner w;

    if (o && !o->version[0])
        return 0; /* an SCO without created/modified: anyone's observation */
    if (store_object_owner(s, v->collection, id, o ? o->version_us : 0, &w, why) < 0)
        return -1;
    return check_change(v, role, o, &w, why);
}

int policy_owners_fetch(struct store *s, const struct policy_view *v,
                        const struct stix_obj *const *objs, unsigned n, struct policy_owners *out,
                        struct kz_error *err)
{
    const char *ids[STORE_PUT_BATCH];
    unsigned i;

    out->n = out->next = 0;
    if (n > STORE_PUT_BATCH)
        return kz_error_set(err, KZ_EINTERNAL, "policy: %u owners asked at once", n);
    for (i = 0; i < n; i++) {
        snprintf(out->ids[i], sizeof(out->ids[i]), "%s", objs[i]->id);
        out->versions[i] = objs[i]->version_us;
        ids[i] = out->ids[i];
    }
    if (store_object_owners(s, v->collection, n, ids, out->versions, out->owners, err) < 0)
        return -1;
    out->n = n;
    return 0;
}

/* The fetched owner of o's id and version: the objects come in the order
 * they were fetched, so the next one is nearly always it. NULL when they
 * were not fetched. */
static const struct store_owner *fetched_owner(struct policy_owners *f, const struct stix_obj *o)
{
    for (unsigned k = 0; k < f->n; k++) {
        unsigned i = (f->next + k) % f->n;
        if (f->versions[i] == o->version_us && strcmp(o->id, f->ids[i]) == 0) {
            f->next = i + 1;
            return &f->owners[i];
        }
    }
    return NULL;
}

int policy_check_change_fetched(struct store *s, struct policy_owners *owners,
                                const struct policy_view *v, enum auth_role role,
                                const struct stix_obj *o, struct kz_error *why)
{
    const struct store_owner *w;

    if (!o->version[0])
        return 0; /* an SCO without created/modified: anyone's observation */
    w = owners ? fetched_owner(owners, o) : NULL;
    if (!w)
        return policy_check_change(s, v, role, o->id, o, why);
    return check_change(v, role, o, w, why);
}

/* Collects the accounts named in kizuna's recipients extension. */
struct collect {
    struct store *s;
    const char *node;
    struct policy_resolved *rs;
    struct store_put_meta *out;
};

static void add_user(struct collect *c, const char *name, size_t n)
{
    char user[KZ_MAX_NAME + 1];
    const char *at = memchr(name, '@', n);
    struct store_user u;
    struct kz_error err;

    /* "name@node": a user of this node when node is ours; one of a peer's
     * when node names a peer (pushes route it there); else kept in the
     * object only */
    if (!at || (size_t)(at - name) > KZ_MAX_NAME || n - (size_t)(at - name) - 1 > KZ_MAX_NAME)
        return;
    if (strlen(c->node) != n - (size_t)(at - name) - 1 ||
        memcmp(at + 1, c->node, strlen(c->node)) != 0) {
        char peer[KZ_MAX_NAME + 1];
        int64_t key;
        snprintf(peer, sizeof(peer), "%.*s", (int)(n - (size_t)(at - name) - 1), at + 1);
        key = policy_node_key(peer);
        if (c->out->npeers < POLICY_MAX_RECIPIENTS)
            c->rs->peers[c->out->npeers++] = key;
        return;
    }
    snprintf(user, sizeof(user), "%.*s", (int)(at - name), name);
    if (c->out->nusers < POLICY_MAX_RECIPIENTS && store_user_find(c->s, user, &u, &err) == 0)
        c->rs->users[c->out->nusers++] = u.key;
}

static void add_org(struct collect *c, const char *identity, size_t n)
{
    char id[KZ_MAX_STIX_ID + 1];
    struct store_org o;
    struct kz_error err;

    if (n > KZ_MAX_STIX_ID)
        return;
    snprintf(id, sizeof(id), "%.*s", (int)n, identity);
    if (c->out->norgs < POLICY_MAX_RECIPIENTS && store_org_find_identity(c->s, id, &o, &err) == 0)
        c->rs->orgs[c->out->norgs++] = o.key;
}

int policy_recipients(struct store *s, const char *node_name, const struct stix_obj *o,
                      struct policy_resolved *rs, struct store_put_meta *out, struct kz_error *err)
{
    const struct kzj_doc *d = o->doc;
    struct collect c = {.s = s, .node = node_name, .rs = rs, .out = out};
    uint32_t ext, mine, rcpt, list;
    struct store_org org;

    (void)err;
    out->users = rs->users;
    out->orgs = rs->orgs;
    out->peers = rs->peers;
    out->nusers = out->norgs = out->npeers = 0;
    if (o->created_by_ref[0] && strcmp(o->created_by_ref, rs->last_creator) == 0) {
        out->producer = rs->last_producer;
    } else if (o->created_by_ref[0]) {
        if (store_org_find_identity(s, o->created_by_ref, &org, err) == 0)
            out->producer = org.key;
        snprintf(rs->last_creator, sizeof(rs->last_creator), "%s", o->created_by_ref);
        rs->last_producer = out->producer;
    }
    ext = KZJ_GET(d, o->node, "extensions");
    if (!ext || kzj_type(d, ext) != KZJ_OBJECT)
        return 0;
    mine = KZJ_GET(d, ext, POLICY_EXTENSION_ID);
    if (!mine || kzj_type(d, mine) != KZJ_OBJECT)
        return 0;
    rcpt = KZJ_GET(d, mine, "recipients");
    if (!rcpt || kzj_type(d, rcpt) != KZJ_OBJECT)
        return 0;
    list = KZJ_GET(d, rcpt, "users");
    if (list && kzj_type(d, list) == KZJ_ARRAY) {
        KZJ_FOREACH_ELEM(d, list, e)
        {
            char tmp[KZ_MAX_NAME * 2 + 2];
            const char *p;
            size_t n;
            if (kzj_str(d, e, tmp, sizeof(tmp), &p, &n) == 0)
                add_user(&c, p, n);
        }
    }
    list = KZJ_GET(d, rcpt, "organizations");
    if (list && kzj_type(d, list) == KZJ_ARRAY) {
        KZJ_FOREACH_ELEM(d, list, e)
        {
            char tmp[KZ_MAX_STIX_ID + 1];
            const char *p;
            size_t n;
            if (kzj_str(d, e, tmp, sizeof(tmp), &p, &n) == 0)
                add_org(&c, p, n);
        }
    }
    return 0;
}

int policy_submitted(struct store *s, const char *node_name, const struct stix_obj *o,
                     int64_t submitter, struct policy_resolved *rs, struct store_put_meta *out,
                     struct kz_error *err)
{
    if (policy_recipients(s, node_name, o, rs, out, err) < 0)
        return -1;
    if (!out->producer)
        out->producer = submitter;
    out->submitter = submitter;
    return 0;
}

int policy_extension_definition(const char *creator_identity, struct kz_buf *out)
{
    kz_buf_printf(out,
                  "{\"type\":\"extension-definition\",\"spec_version\":\"2.1\",\"id\":\"%s\","
                  "\"created_by_ref\":\"%s\",\"created\":\"2026-11-26T00:00:00.000Z\","
                  "\"modified\":\"2026-11-26T00:00:00.000Z\",\"name\":\"kizuna recipients\","
                  "\"description\":\"Names the recipients of an object shared under TLP:AMBER "
                  "(organisations, by identity) or TLP:RED (users, as name@node). A kizuna node "
                  "shows and forwards the object only to them and to its producer.\","
                  "\"schema\":\"https://kizuna.invalid/schemas/recipients-v1.json\","
                  "\"version\":\"1.0.0\",\"extension_types\":[\"property-extension\"],"
                  "\"object_marking_refs\":[\"%s\"]}",
                  POLICY_EXTENSION_ID, creator_identity, stix_tlp_marking_id(STIX_TLP_CLEAR));
    return out->failed ? -1 : 0;
}

int policy_may_read_audit_head(const struct auth_user *u)
{
    return u->role == AUTH_ROLE_PEER || u->role == AUTH_ROLE_NODE_ADMIN;
}
