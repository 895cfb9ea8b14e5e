/*
 * Extraction of index-servable conditions (kzp_extract). A log matcher
 * holding millions of indicators looks each observed value up in an index
 * of these conditions and runs the evaluator only on hits.
 *
 * The rules (docs/internals/pattern.md has the reasoning):
 *  - servable tests are <type>:value = / IN on domain-name, url, email-addr,
 *    ipv4-addr and ipv6-addr (addresses and CIDR blocks), ISSUBSET on the
 *    address types, <type>:hashes.ALGO = / IN, and *_ref(s).value = / IN
 *    with an address literal (a candidate only);
 *  - a comparison tree is covered when it is a servable test, an OR whose
 *    operands are all covered, or an AND one of whose operands is covered
 *    (every covered operand's conditions are delivered: any one of them is
 *    a necessary trigger);
 *  - observation operators combine the same way: OR needs every operand
 *    covered, AND and FOLLOWEDBY need one;
 *  - conditions under an OR are delivered even when the OR is not covered
 *    (an exact one still proves a match on its own); under AND and
 *    FOLLOWEDBY only covered operands deliver, as candidates;
 *  - a condition is exact only when nothing but ORs (boolean or
 *    observation) and WITHIN lie between it and the root, and the test
 *    itself is an exact form: = or IN on a single address, a domain, URL,
 *    e-mail address or hash, or ISSUBSET on an address type.
 */
#include "pattern/pattern_int.h"

#include <string.h>

struct xctx {
    kzp_cond_fn cb;
    void *ctx;
    int failed;
};

static int key_is(const struct kzp_step *s, const char *k)
{
    size_t n = strlen(k);

    return s->kind == KZP_S_KEY && s->keylen == n && memcmp(s->key, k, n) == 0;
}

static int type_is(const struct kzp_test *t, const char *k)
{
    size_t n = strlen(k);

    return t->typelen == n && memcmp(t->type, k, n) == 0;
}

static int hash_kind(const char *k, size_t n)
{
    char up[16];
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (k[i] == '-')
            continue;
        if (o + 1 >= sizeof(up))
            return KZP_COND_HASH;
        up[o++] = (char)(k[i] >= 'a' && k[i] <= 'z' ? k[i] - 32 : k[i]);
    }
    up[o] = '\0';
    if (strcmp(up, "MD5") == 0)
        return KZP_COND_MD5;
    if (strcmp(up, "SHA1") == 0)
        return KZP_COND_SHA1;
    if (strcmp(up, "SHA256") == 0)
        return KZP_COND_SHA256;
    if (strcmp(up, "SHA512") == 0)
        return KZP_COND_SHA512;
    return KZP_COND_HASH;
}

/* Fills c for literal l of test t; returns 0 when l is not servable. */
static int cond_of(const struct kzp_test *t, const struct kzp_lit *l, struct kzp_cond *c)
{
    int eq = t->op == KZP_OP_EQ || t->op == KZP_OP_IN;

    memset(c, 0, sizeof(*c));
    if (t->negated || l->type != KZP_L_STRING)
        return 0;
    c->type = t->type;
    c->type_len = t->typelen;
    c->value = l->s;
    c->len = l->n;
    c->exact = 1;
    if (t->nsteps == 1 && t->value_key) {
        int addr_type = type_is(t, "ipv4-addr") || type_is(t, "ipv6-addr");

        if (addr_type && l->has_ip && (eq || t->op == KZP_OP_ISSUBSET)) {
            int single = l->ip.prefix == (l->ip.family == 4 ? 32 : 128);

            memcpy(c->addr, l->ip.addr, 16);
            c->prefix = l->ip.prefix;
            if (single)
                c->kind = l->ip.family == 4 ? KZP_COND_IPV4 : KZP_COND_IPV6;
            else
                c->kind = l->ip.family == 4 ? KZP_COND_CIDR4 : KZP_COND_CIDR6;
            /* "= 'net/24'" matches only the network itself: a candidate */
            if (!single && eq)
                c->exact = 0;
            return 1;
        }
        if (!eq)
            return 0;
        if (type_is(t, "domain-name"))
            c->kind = KZP_COND_DOMAIN;
        else if (type_is(t, "url"))
            c->kind = KZP_COND_URL;
        else if (type_is(t, "email-addr"))
            c->kind = KZP_COND_EMAIL;
        else
            return 0;
        return 1;
    }
    if (!eq)
        return 0;
    if (t->nsteps == 2 && key_is(&t->steps[0], "hashes") && t->steps[1].kind == KZP_S_KEY) {
        c->kind = hash_kind(t->steps[1].key, t->steps[1].keylen);
        c->algo = t->steps[1].key;
        c->algo_len = t->steps[1].keylen;
        return 1;
    }
    if (t->nsteps >= 2 && t->value_key && l->has_ip) {
        const struct kzp_step *ref = &t->steps[t->nsteps - 2];

        if (ref->kind != KZP_S_KEY && t->nsteps >= 3)
            ref = &t->steps[t->nsteps - 3];
        if (ref->kind == KZP_S_KEY && ref->ref) {
            int single = l->ip.prefix == (l->ip.family == 4 ? 32 : 128);

            memcpy(c->addr, l->ip.addr, 16);
            c->prefix = l->ip.prefix;
            c->kind = l->ip.family == 4 ? (single ? KZP_COND_IPV4 : KZP_COND_CIDR4)
                                        : (single ? KZP_COND_IPV6 : KZP_COND_CIDR6);
            c->exact = 0;
            return 1;
        }
    }
    return 0;
}

/* Whether every literal of t is servable (one servable literal of an IN
 * is not enough: the others could match without it). */
static int test_covered(const struct kzp_test *t)
{
    struct kzp_cond c;

    if (t->nlits == 0)
        return 0;
    for (uint32_t i = 0; i < t->nlits; i++)
        if (!cond_of(t, &t->lits[i], &c))
            return 0;
    return 1;
}

static int cmp_covered(const struct kzp_node *nd)
{
    if (nd->kind == KZP_N_TEST)
        return test_covered(nd->test);
    for (const struct kzp_node *k = nd->kids; k; k = k->next) {
        int c = cmp_covered(k);

        if (nd->kind == KZP_N_OR && !c)
            return 0;
        if (nd->kind == KZP_N_AND && c)
            return 1;
    }
    return nd->kind == KZP_N_OR;
}

static void emit_cmp(struct xctx *x, const struct kzp_node *nd, int exact, unsigned obs)
{
    if (x->failed)
        return;
    if (nd->kind == KZP_N_TEST) {
        const struct kzp_test *t = nd->test;

        for (uint32_t i = 0; i < t->nlits && !x->failed; i++) {
            struct kzp_cond c;

            if (!cond_of(t, &t->lits[i], &c))
                continue;
            c.exact = c.exact && exact;
            c.obs = obs;
            if (x->cb(x->ctx, &c) < 0)
                x->failed = 1;
        }
        return;
    }
    for (const struct kzp_node *k = nd->kids; k; k = k->next)
        if (nd->kind == KZP_N_OR)
            emit_cmp(x, k, exact, obs);
        else if (cmp_covered(k))
            emit_cmp(x, k, 0, obs);
}

static int obs_covered(const struct kzp_node *nd)
{
    switch (nd->kind) {
    case KZP_N_OBS: return cmp_covered(nd->kids);
    case KZP_N_WITHIN:
    case KZP_N_REPEATS:
    case KZP_N_STARTSTOP: return obs_covered(nd->kids);
    default: break;
    }
    for (const struct kzp_node *k = nd->kids; k; k = k->next) {
        int c = obs_covered(k);

        if (nd->kind == KZP_N_OBS_OR && !c)
            return 0;
        if (nd->kind != KZP_N_OBS_OR && c)
            return 1;
    }
    return nd->kind == KZP_N_OBS_OR;
}

static void emit_obs(struct xctx *x, const struct kzp_node *nd, int exact)
{
    if (x->failed)
        return;
    switch (nd->kind) {
    case KZP_N_OBS: emit_cmp(x, nd->kids, exact, nd->obs_index); return;
    case KZP_N_WITHIN: emit_obs(x, nd->kids, exact); return;
    case KZP_N_REPEATS: emit_obs(x, nd->kids, exact && nd->repeats == 1); return;
    case KZP_N_STARTSTOP: emit_obs(x, nd->kids, 0); return;
    default: break;
    }
    for (const struct kzp_node *k = nd->kids; k; k = k->next)
        if (nd->kind == KZP_N_OBS_OR)
            emit_obs(x, k, exact);
        else if (obs_covered(k))
            emit_obs(x, k, 0);
}

int kzp_extract(const struct kzp_pattern *p, kzp_cond_fn cb, void *ctx, int *complete)
{
    struct xctx x = {cb, ctx, 0};

    *complete = obs_covered(p->root);
    emit_obs(&x, p->root, 1);
    return x.failed ? -1 : 0;
}

const char *kzp_cond_kind_name(enum kzp_cond_kind k)
{
    switch (k) {
    case KZP_COND_IPV4: return "ipv4";
    case KZP_COND_IPV6: return "ipv6";
    case KZP_COND_CIDR4: return "cidr4";
    case KZP_COND_CIDR6: return "cidr6";
    case KZP_COND_DOMAIN: return "domain";
    case KZP_COND_URL: return "url";
    case KZP_COND_EMAIL: return "email";
    case KZP_COND_MD5: return "md5";
    case KZP_COND_SHA1: return "sha1";
    case KZP_COND_SHA256: return "sha256";
    case KZP_COND_SHA512: return "sha512";
    case KZP_COND_HASH: return "hash";
    }
    return "?";
}
