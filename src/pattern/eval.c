/*
 * The pattern evaluator (STIX 2.1 sections 9.4 to 9.7) and the observation
 * set it runs over.
 *
 * Observations. Each observed-data object is number_observed observations
 * spread over [first_observed, last_observed]. Its root objects are the
 * objects its object_refs name (STIX 2.1; resolved against every object
 * with an id added to the set) plus the values of its deprecated "objects"
 * dictionary (STIX 2.0). A *_ref inside a root resolves to another object
 * of the same observation only: by id among the object_refs, or by key in
 * the "objects" dictionary (section 9.7.4).
 *
 * Comparison expressions are evaluated per root object: AND needs both
 * sides true for the same root (section 9.5); a path that fans out through
 * [*] or *_refs yields several values and a test holds when one of them
 * satisfies it; a path that reaches nothing makes the test false whatever
 * the operator or NOT (section 9.6).
 *
 * Observation expressions produce bindings: sets of observations, kept as
 * multisets over observed-data objects (observation index and how many of
 * its number_observed are used), with the latest first_observed and the
 * earliest last_observed of the set cached. Every qualifier and operator
 * needs only those: AND unions disjoint sets, FOLLOWEDBY also asks that the
 * left side can be observed no later than the right side, WITHIN that the
 * set fits a window, START/STOP that every member can fall in [start,
 * stop), REPEATS n that n bindings are pairwise disjoint. Equal multisets
 * are deduplicated, so number_observed = 1,000,000 costs nothing extra.
 * KZP_MAX_BINDINGS and KZP_MAX_BINDING_WORK bound the search.
 */
#define _GNU_SOURCE 1 /* qsort_r */
#include "pattern/pattern_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "util/buf.h"
#include "util/limits.h"

/* --- the observation set ------------------------------------------------ */

struct obs_doc {
    char *buf;
    size_t len;
    struct kzj_doc doc;
};

/* A string kept in kzp_obs.strs: offset and length. */
struct sref {
    uint32_t off, len;
};

struct root {
    const struct kzj_doc *doc;
    uint32_t node;
    struct sref id;     /* 2.1 roots: the id, for reference resolution */
    uint32_t type_node; /* the object's "type" value, 0 when absent */
};

struct observation {
    const struct kzj_doc *doc;
    uint32_t node;
    uint32_t objects; /* the 2.0 "objects" dictionary, 0 when absent */
    uint32_t refs;    /* object_refs, 0 when absent */
    struct sref id;
    int64_t first_us, last_us;
    uint32_t number;
    size_t root_off; /* first root in kzp_obs.roots */
    size_t n21, n20; /* 2.1 roots (sorted by id) then 2.0 roots */
};

struct id_entry {
    struct sref id;
    const struct kzj_doc *doc;
    uint32_t node;
};

struct kzp_obs {
    struct obs_doc **docs;
    size_t ndocs, capdocs;
    struct observation *obs;
    size_t nobs, capobs;
    struct id_entry *ids;
    size_t nids, capids;
    struct root *roots;
    size_t nroots, caproots;
    struct kz_buf strs; /* ids and types, NUL-separated */
    int dirty;          /* ids/roots need (re)building */
};

static const char *sstr(const struct kzp_obs *o, struct sref r)
{
    return o->strs.data + r.off;
}

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
    void *nv;
    size_t ncap;

    if (need <= *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    nv = realloc(*v, ncap * size);
    if (!nv)
        return -1;
    *v = nv;
    *cap = ncap;
    return 0;
}

struct kzp_obs *kzp_obs_new(void)
{
    struct kzp_obs *o = calloc(1, sizeof(*o));

    if (o)
        kz_buf_init(&o->strs, (size_t)UINT32_MAX - 1);
    return o;
}

void kzp_obs_free(struct kzp_obs *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->ndocs; i++) {
        kzj_doc_free(&o->docs[i]->doc);
        free(o->docs[i]->buf);
        free(o->docs[i]);
    }
    free(o->docs);
    free(o->obs);
    free(o->ids);
    free(o->roots);
    kz_buf_free(&o->strs);
    free(o);
}

size_t kzp_obs_count(const struct kzp_obs *o)
{
    return o->nobs;
}

const char *kzp_obs_id(const struct kzp_obs *o, size_t i)
{
    if (i >= o->nobs || !o->strs.data)
        return "";
    return sstr(o, o->obs[i].id);
}

/* Copies the decoded string node i into strs; "" when not a string. */
static int keep_str(struct kzp_obs *o, const struct kzj_doc *d, uint32_t i, struct sref *r)
{
    size_t at = o->strs.len;

    if (i && kzj_type(d, i) == KZJ_STRING) {
        const struct kzj_node *nd = kzj_at(d, i);

        if (kzj_unescape(d->buf + nd->off + 1, nd->len - 2, &o->strs) < 0)
            return -1;
    }
    if (kz_buf_addc(&o->strs, '\0') < 0)
        return -1;
    r->off = (uint32_t)at;
    r->len = (uint32_t)(o->strs.len - at - 1);
    return 0;
}

static int ts_member(const struct kzj_doc *d, uint32_t obj, const char *key, int64_t *us,
                     struct kz_error *err)
{
    uint32_t v = kzj_get(d, obj, key, strlen(key));
    char tmp[64];
    const char *p, *why;
    size_t n;
    struct kz_ts ts;

    if (!v || kzj_type(d, v) != KZJ_STRING)
        return kz_error_set(err, KZ_EINVALID, "observed-data needs %s (a timestamp)", key);
    if (kzj_str(d, v, tmp, sizeof(tmp), &p, &n) < 0 || kz_ts_parse(p, n, &ts, &why) < 0) {
        kz_error_property(err, "%s", key);
        return kz_error_set(err, KZ_EINVALID, "not a valid timestamp");
    }
    *us = kz_ts_micros(&ts);
    return 0;
}

static int add_object(struct kzp_obs *o, const struct kzj_doc *d, uint32_t node, size_t index,
                      struct kz_error *err)
{
    uint32_t id = kzj_get(d, node, "id", 2), type = kzj_get(d, node, "type", 4);
    struct observation *ob;
    int64_t num;

    if (kzj_type(d, node) != KZJ_OBJECT)
        return 0;
    if (id && kzj_type(d, id) == KZJ_STRING) {
        if (grow((void **)&o->ids, &o->capids, o->nids + 1, sizeof(*o->ids)) < 0)
            return kz_error_set(err, KZ_ENOMEM, "out of memory");
        if (keep_str(o, d, id, &o->ids[o->nids].id) < 0)
            return kz_error_set(err, KZ_ENOMEM, "out of memory");
        o->ids[o->nids].doc = d;
        o->ids[o->nids].node = node;
        o->nids++;
    }
    if (!type || !KZJ_STR_EQ(d, type, "observed-data"))
        return 0;
    if (o->nobs >= KZP_MAX_OBSERVATIONS)
        return kz_error_set(err, KZ_ELIMIT, "more than %u observed-data objects",
                            KZP_MAX_OBSERVATIONS);
    if (grow((void **)&o->obs, &o->capobs, o->nobs + 1, sizeof(*o->obs)) < 0)
        return kz_error_set(err, KZ_ENOMEM, "out of memory");
    ob = &o->obs[o->nobs];
    memset(ob, 0, sizeof(*ob));
    ob->doc = d;
    ob->node = node;
    if (keep_str(o, d, id, &ob->id) < 0)
        return kz_error_set(err, KZ_ENOMEM, "out of memory");
    kz_error_object(err, "objects[%zu] %s", index, sstr(o, ob->id));
    if (ts_member(d, node, "first_observed", &ob->first_us, err) < 0 ||
        ts_member(d, node, "last_observed", &ob->last_us, err) < 0)
        return -1;
    if (ob->last_us < ob->first_us) {
        kz_error_property(err, "last_observed");
        return kz_error_set(err, KZ_EINVALID, "last_observed is earlier than first_observed");
    }
    {
        uint32_t nv = kzj_get(d, node, "number_observed", 15);

        if (!nv || kzj_int64(d, nv, &num) < 0 || num < 1 || num > KZP_MAX_NUMBER_OBSERVED) {
            kz_error_property(err, "number_observed");
            return kz_error_set(err, KZ_EINVALID,
                                "number_observed must be an integer from 1 "
                                "to 999999999");
        }
    }
    ob->number = (uint32_t)num;
    ob->objects = kzj_get(d, node, "objects", 7);
    if (ob->objects && kzj_type(d, ob->objects) != KZJ_OBJECT)
        ob->objects = 0;
    ob->refs = kzj_get(d, node, "object_refs", 11);
    if (ob->refs && kzj_type(d, ob->refs) != KZJ_ARRAY)
        ob->refs = 0;
    kz_error_object(err, "%s", "");
    o->nobs++;
    return 0;
}

static int is_bundle(const struct kzj_doc *d, uint32_t node)
{
    uint32_t t = kzj_get(d, node, "type", 4);

    return t && KZJ_STR_EQ(d, t, "bundle");
}

static int add_container(struct kzp_obs *o, const struct kzj_doc *d, uint32_t node, size_t *index,
                         struct kz_error *err)
{
    if (kzj_type(d, node) == KZJ_OBJECT && is_bundle(d, node)) {
        uint32_t objs = kzj_get(d, node, "objects", 7);

        if (!objs)
            return 0;
        if (kzj_type(d, objs) != KZJ_ARRAY)
            return kz_error_set(err, KZ_EINVALID, "the bundle's \"objects\" is not a list");
        KZJ_FOREACH_ELEM(d, objs, e)
        {
            if (add_object(o, d, e, (*index)++, err) < 0)
                return -1;
        }
        return 0;
    }
    return add_object(o, d, node, (*index)++, err);
}

int kzp_obs_add(struct kzp_obs *o, const char *json, size_t len, struct kz_error *err)
{
    struct obs_doc *od = NULL;
    size_t nobs = o->nobs, nids = o->nids, strs = o->strs.len, index = 0;
    int rc = -1;

    if (len > KZ_MAX_FILE_BYTES) {
        kz_error_set(err, KZ_ELIMIT, "input is larger than %zu bytes", KZ_MAX_FILE_BYTES);
        goto out;
    }
    if (grow((void **)&o->docs, &o->capdocs, o->ndocs + 1, sizeof(*o->docs)) < 0)
        goto nomem;
    od = calloc(1, sizeof(*od));
    if (!od)
        goto nomem;
    od->buf = malloc(len ? len : 1);
    if (!od->buf)
        goto nomem;
    if (len)
        memcpy(od->buf, json, len);
    od->len = len;
    kzj_doc_init(&od->doc);
    if (kzj_parse(&od->doc, od->buf, len, err) < 0)
        goto out;
    if (kzj_type(&od->doc, 0) == KZJ_ARRAY) {
        KZJ_FOREACH_ELEM(&od->doc, 0, e)
        {
            if (add_container(o, &od->doc, e, &index, err) < 0)
                goto out;
        }
    } else if (add_container(o, &od->doc, 0, &index, err) < 0) {
        goto out;
    }
    o->docs[o->ndocs++] = od;
    od = NULL;
    o->dirty = 1;
    rc = 0;
    goto out;
nomem:
    kz_error_set(err, KZ_ENOMEM, "out of memory");
out:
    if (rc < 0) {
        o->nobs = nobs;
        o->nids = nids;
        o->strs.len = strs;
        if (o->strs.data)
            o->strs.data[strs] = '\0';
        o->strs.failed = 0;
    }
    if (od) {
        kzj_doc_free(&od->doc);
        free(od->buf);
        free(od);
    }
    return rc;
}

static int cmp_sref(const struct kzp_obs *o, struct sref a, const char *b, size_t bn)
{
    size_t n = a.len < bn ? a.len : bn;
    int c = memcmp(sstr(o, a), b, n);

    if (c)
        return c;
    return a.len < bn ? -1 : a.len > bn;
}

static int id_entry_cmp(const void *x, const void *y, void *ctx)
{
    const struct id_entry *a = x, *b = y;
    const struct kzp_obs *o = ctx;
    int c = cmp_sref(o, a->id, sstr(o, b->id), b->id.len);

    if (c)
        return c;
    return a < b ? -1 : a > b; /* stable: the first object with an id wins */
}

static int root_cmp(const void *x, const void *y, void *ctx)
{
    const struct root *a = x, *b = y;
    const struct kzp_obs *o = ctx;

    return cmp_sref(o, a->id, sstr(o, b->id), b->id.len);
}

static const struct id_entry *find_id(const struct kzp_obs *o, const char *id, size_t n)
{
    size_t lo = 0, hi = o->nids;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = cmp_sref(o, o->ids[mid].id, id, n);

        if (c == 0) {
            while (mid > 0 && cmp_sref(o, o->ids[mid - 1].id, id, n) == 0)
                mid--;
            return &o->ids[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int add_root(struct kzp_obs *o, const struct kzj_doc *d, uint32_t node, struct sref id)
{
    struct root *r;

    if (grow((void **)&o->roots, &o->caproots, o->nroots + 1, sizeof(*o->roots)) < 0)
        return -1;
    r = &o->roots[o->nroots];
    r->doc = d;
    r->node = node;
    r->id = id;
    r->type_node = kzj_get(d, node, "type", 4);
    o->nroots++;
    return 0;
}

/* Sorts the id index and resolves every observation's roots. */
static int build_index(struct kzp_obs *o, struct kz_error *err)
{
    o->nroots = 0;
    if (o->nids > 1)
        qsort_r(o->ids, o->nids, sizeof(*o->ids), id_entry_cmp, o);
    for (size_t i = 0; i < o->nobs; i++) {
        struct observation *ob = &o->obs[i];
        const struct kzj_doc *d = ob->doc;

        ob->root_off = o->nroots;
        ob->n21 = ob->n20 = 0;
        if (ob->refs) {
            KZJ_FOREACH_ELEM(d, ob->refs, e)
            {
                char tmp[KZ_MAX_STIX_ID + 1];
                const char *p;
                size_t n;
                const struct id_entry *ie;

                if (kzj_str(d, e, tmp, sizeof(tmp), &p, &n) < 0)
                    continue;
                ie = find_id(o, p, n);
                if (!ie)
                    continue; /* a reference to nothing we hold: not found */
                if (add_root(o, ie->doc, ie->node, ie->id) < 0)
                    goto nomem;
                ob->n21++;
            }
            if (ob->n21 > 1)
                qsort_r(o->roots + ob->root_off, ob->n21, sizeof(*o->roots), root_cmp, o);
        }
        if (ob->objects) {
            KZJ_FOREACH_MEMBER(d, ob->objects, k)
            {
                if (kzj_type(d, k + 1) != KZJ_OBJECT)
                    continue;
                if (add_root(o, d, k + 1, (struct sref){0, 0}) < 0)
                    goto nomem;
                ob->n20++;
            }
        }
    }
    o->dirty = 0;
    return 0;
nomem:
    return kz_error_set(err, KZ_ENOMEM, "out of memory");
}

/* --- evaluation context ----------------------------------------------------- */

/* A binding: pairs (observation, uses) at pool[off .. off + 2n), sorted by
 * observation. */
struct bind {
    uint32_t off, n;
    int64_t max_first, min_last;
    uint64_t hash;
};

struct blist {
    struct bind *v;
    size_t n, cap;
    uint32_t *slots; /* open-addressing set of v indexes + 1 */
    size_t nslots;
};

struct ev {
    const struct kzp_pattern *p;
    struct kzp_obs *o;
    const struct observation *ob; /* the observation being tested */
    struct kz_buf val;            /* the decoded value under test */
    struct kz_buf nfc;            /* its NFC form */
    struct kz_buf bin;            /* its octets */
    pcre2_match_data *md;
    pcre2_match_context *mc;
    uint32_t *pool;
    size_t npool, cappool;
    uint64_t work;
    struct kz_error *err;
};

/* --- values --------------------------------------------------------------------- */

enum vkind { V_NONE, V_STR, V_INT, V_FLOAT, V_BOOL, V_BIN };

struct value {
    int kind;
    const char *s; /* V_STR, V_BIN */
    size_t n;
    int64_t i;
    double f;
};

/* Reads the JSON value at (d, v) for test t into val. */
static int read_value(struct ev *e, const struct kzp_test *t, const struct kzj_doc *d, uint32_t v,
                      struct value *val)
{
    const struct kzj_node *nd = kzj_at(d, v);

    memset(val, 0, sizeof(*val));
    switch (nd->type) {
    case KZJ_STRING:
        if (!(nd->flags & KZJ_F_ESCAPED)) {
            val->s = d->buf + nd->off + 1;
            val->n = nd->len - 2;
        } else {
            kz_buf_reset(&e->val);
            if (kzj_unescape(d->buf + nd->off + 1, nd->len - 2, &e->val) < 0)
                return kz_error_set(e->err, KZ_ENOMEM, "out of memory");
            val->s = e->val.data ? e->val.data : "";
            val->n = e->val.len;
        }
        val->kind = V_STR;
        if (t->bin_prop) {
            const struct kzp_step *last = &t->steps[t->nsteps - 1];
            int hex = memcmp(last->key + last->keylen - 4, "_hex", 4) == 0;
            char *out;
            size_t outn;

            kz_buf_reset(&e->bin);
            out = kz_buf_reserve(&e->bin, val->n + 1);
            if (!out)
                return kz_error_set(e->err, KZ_ENOMEM, "out of memory");
            if ((hex ? kzp_hex_decode(val->s, val->n, (uint8_t *)out, &outn)
                     : kzp_b64_decode(val->s, val->n, (uint8_t *)out, &outn)) < 0) {
                val->kind = V_NONE; /* not binary: incomparable */
                return 0;
            }
            val->kind = V_BIN;
            val->s = out;
            val->n = outn;
        }
        return 0;
    case KZJ_NUMBER:
        if ((nd->flags & KZJ_F_INTEGER) && kzj_int64(d, v, &val->i) == 0) {
            val->kind = V_INT;
            val->f = (double)val->i;
        } else if (kzj_double(d, v, &val->f) == 0) {
            val->kind = V_FLOAT;
        }
        return 0;
    case KZJ_TRUE:
    case KZJ_FALSE:
        val->kind = V_BOOL;
        val->i = nd->type == KZJ_TRUE;
        return 0;
    default: return 0; /* null, lists, objects compare with nothing */
    }
}

/* Compares an int64 with a double exactly. */
static int cmp_i_f(int64_t i, double f)
{
    double t;

    if (f >= 9223372036854775808.0)
        return -1;
    if (f < -9223372036854775808.0)
        return 1;
    t = trunc(f);
    if ((int64_t)t != i)
        return i < (int64_t)t ? -1 : 1;
    return f > t ? -1 : f < t ? 1 : 0;
}

static int cmp_bytes(const void *a, size_t an, const void *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);

    if (c)
        return c < 0 ? -1 : 1;
    return an < bn ? -1 : an > bn;
}

#define INCOMPARABLE 2

/* Orders value v against literal l: -1, 0, 1, or INCOMPARABLE. */
static int compare(struct ev *e, const struct kzp_test *t, const struct value *v,
                   const struct kzp_lit *l, const struct kzj_doc *pd, uint32_t pobj)
{
    switch (l->type) {
    case KZP_L_INT:
    case KZP_L_FLOAT:
        if (v->kind == V_INT && l->type == KZP_L_INT)
            return v->i < l->i ? -1 : v->i > l->i;
        if (v->kind == V_INT)
            return cmp_i_f(v->i, l->f);
        if (v->kind == V_FLOAT && l->type == KZP_L_INT)
            return -cmp_i_f(l->i, v->f);
        if (v->kind == V_FLOAT)
            return v->f < l->f ? -1 : v->f > l->f ? 1 : 0;
        return INCOMPARABLE;
    case KZP_L_STRING:
        if (v->kind == V_BIN)
            return l->has_latin ? cmp_bytes(v->s, v->n, l->latin, l->latin_n) : INCOMPARABLE;
        if (v->kind != V_STR)
            return INCOMPARABLE;
        if (l->has_ip && t->value_key && pobj &&
            (t->op == KZP_OP_EQ || t->op == KZP_OP_NEQ || t->op == KZP_OP_IN)) {
            uint32_t ty = kzj_get(pd, pobj, "type", 4);
            struct kzp_ip ip;

            if (ty && (KZJ_STR_EQ(pd, ty, "ipv4-addr") || KZJ_STR_EQ(pd, ty, "ipv6-addr")) &&
                kzp_ip_parse(v->s, v->n, &ip) == 0) {
                if (ip.family != l->ip.family)
                    return ip.family < l->ip.family ? -1 : 1;
                if (ip.prefix != l->ip.prefix)
                    return ip.prefix < l->ip.prefix ? -1 : 1;
                return cmp_bytes(ip.addr, 16, l->ip.addr, 16);
            }
        }
        return cmp_bytes(v->s, v->n, l->s, l->n);
    case KZP_L_BINARY:
    case KZP_L_HEX:
        if (v->kind == V_BIN)
            return cmp_bytes(v->s, v->n, l->s, l->n);
        if (v->kind == V_STR) {
            char *out;
            size_t outn;

            kz_buf_reset(&e->bin);
            out = kz_buf_reserve(&e->bin, v->n + 1);
            if (!out || kzp_utf8_to_latin1(v->s, v->n, (uint8_t *)out, &outn) < 0)
                return INCOMPARABLE;
            return cmp_bytes(out, outn, l->s, l->n);
        }
        return INCOMPARABLE;
    case KZP_L_BOOL:
        return v->kind == V_BOOL ? (v->i == l->i ? 0 : v->i < l->i ? -1 : 1) : INCOMPARABLE;
    case KZP_L_TIMESTAMP:
        if (v->kind == V_STR) {
            struct kz_ts ts;
            const char *why;

            if (kz_ts_parse(v->s, v->n, &ts, &why) == 0)
                return kz_ts_cmp(&ts, &l->ts);
        }
        return INCOMPARABLE;
    default: return INCOMPARABLE;
    }
}

/* SQL LIKE over code points: '%' any run, '_' one code point. */
static size_t cplen(const char *s, size_t i, size_t n)
{
    unsigned char c = (unsigned char)s[i];
    size_t l = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;

    return i + l > n ? n - i : l;
}

static int like_match(const char *p, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;

    while (si < sn) {
        if (pi < pn && p[pi] == '_') {
            pi++;
            si += cplen(s, si, sn);
        } else if (pi < pn && p[pi] == '%') {
            star_p = ++pi;
            star_s = si;
        } else if (pi < pn && cplen(p, pi, pn) == cplen(s, si, sn) &&
                   memcmp(p + pi, s + si, cplen(p, pi, pn)) == 0) {
            size_t l = cplen(p, pi, pn);

            pi += l;
            si += l;
        } else if (star_p != (size_t)-1) {
            pi = star_p;
            star_s += cplen(s, star_s, sn);
            si = star_s;
        } else {
            return 0;
        }
    }
    while (pi < pn && p[pi] == '%')
        pi++;
    return pi == pn;
}

static int regex_search(struct ev *e, pcre2_code *re, const char *s, size_t n)
{
    int rc = pcre2_match(re, (PCRE2_SPTR)s, n, 0, 0, e->md, e->mc);

    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT)
        return kz_error_set(e->err, KZ_ELIMIT,
                            "a MATCHES regular expression passed its backtracking limit");
    return 0; /* no match, or a subject the regex cannot apply to */
}

/* Whether value (d, v) passes test t; pd/pobj is the object holding it. */
static int test_value(struct ev *e, const struct kzp_test *t, const struct kzj_doc *d, uint32_t v,
                      const struct kzj_doc *pd, uint32_t pobj)
{
    struct value val;
    int r = 0, c;

    if (t->op == KZP_OP_EXISTS)
        return 1;
    if (read_value(e, t, d, v, &val) < 0)
        return -1;
    switch (t->op) {
    case KZP_OP_EQ:
    case KZP_OP_NEQ:
        c = compare(e, t, &val, &t->lits[0], pd, pobj);
        r = t->op == KZP_OP_EQ ? c == 0 : c != 0;
        break;
    case KZP_OP_LT:
        c = compare(e, t, &val, &t->lits[0], pd, pobj);
        r = c == -1;
        break;
    case KZP_OP_LE:
        c = compare(e, t, &val, &t->lits[0], pd, pobj);
        r = c == -1 || c == 0;
        break;
    case KZP_OP_GT:
        c = compare(e, t, &val, &t->lits[0], pd, pobj);
        r = c == 1;
        break;
    case KZP_OP_GE:
        c = compare(e, t, &val, &t->lits[0], pd, pobj);
        r = c == 1 || c == 0;
        break;
    case KZP_OP_IN:
        for (uint32_t i = 0; i < t->nlits && !r; i++)
            r = compare(e, t, &val, &t->lits[i], pd, pobj) == 0;
        break;
    case KZP_OP_LIKE:
    case KZP_OP_MATCHES:
        if (val.kind == V_STR) {
            const char *s = val.s;
            size_t n = val.n;

            if (!kzp_nfc_quick(s, n)) {
                kz_buf_reset(&e->nfc);
                if (kzp_nfc(s, n, &e->nfc) < 0)
                    return kz_error_set(e->err, KZ_ENOMEM, "out of memory");
                s = e->nfc.data ? e->nfc.data : "";
                n = e->nfc.len;
            }
            if (t->op == KZP_OP_LIKE)
                r = like_match(t->like, t->like_n, s, n);
            else
                r = regex_search(e, t->re, s, n);
        } else if (val.kind == V_BIN && t->op == KZP_OP_MATCHES && t->re_bin) {
            r = regex_search(e, t->re_bin, val.s, val.n);
        }
        if (r < 0)
            return -1;
        break;
    case KZP_OP_ISSUBSET:
    case KZP_OP_ISSUPERSET:
        if (val.kind == V_STR) {
            struct kzp_ip ip;

            if (kzp_ip_parse(val.s, val.n, &ip) == 0)
                r = t->op == KZP_OP_ISSUBSET ? kzp_ip_within(&ip, &t->lits[0].ip)
                                             : kzp_ip_within(&t->lits[0].ip, &ip);
        }
        break;
    default: break;
    }
    return t->negated ? !r : r;
}

/* Resolves the reference string at (d, v) within the current observation:
 * by id among its object_refs (2.1 roots) or by key in its "objects"
 * dictionary (2.0). Sets *rd and *rn; returns 0 when it does not resolve. */
static int resolve(struct ev *e, int v21, const struct kzj_doc *d, uint32_t v,
                   const struct kzj_doc **rd, uint32_t *rn)
{
    const struct observation *ob = e->ob;
    char tmp[KZ_MAX_STIX_ID + 1];
    const char *p;
    size_t n;

    if (kzj_type(d, v) != KZJ_STRING || kzj_str(d, v, tmp, sizeof(tmp), &p, &n) < 0)
        return 0;
    if (v21) {
        const struct root *r;
        size_t lo = 0, hi = ob->n21;

        if (!hi)
            return 0;
        r = e->o->roots + ob->root_off;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            int c = cmp_sref(e->o, r[mid].id, p, n);

            if (c == 0) {
                *rd = r[mid].doc;
                *rn = r[mid].node;
                return 1;
            }
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        return 0;
    }
    if (!ob->objects)
        return 0;
    *rn = kzj_get(ob->doc, ob->objects, p, n);
    *rd = ob->doc;
    return *rn != 0 && kzj_type(ob->doc, *rn) == KZJ_OBJECT;
}

/* Walks t's path from step k at value (d, v). pending: v is a *_refs list
 * whose elements are references. Returns 1 when some value reached passes
 * the test, 0 when none does, -1 on error. */
static int walk(struct ev *e, const struct kzp_test *t, uint32_t k, const struct kzj_doc *d,
                uint32_t v, int v21, int pending, const struct kzj_doc *pd, uint32_t pobj)
{
    const struct kzp_step *st;

    if (k == t->nsteps)
        return test_value(e, t, d, v, pd, pobj);
    st = &t->steps[k];
    if (st->kind == KZP_S_KEY) {
        uint32_t c;

        if (kzj_type(d, v) != KZJ_OBJECT)
            return 0;
        c = kzj_get(d, v, st->key, st->keylen);
        if (!c)
            return 0;
        if (st->ref == 1) {
            const struct kzj_doc *rd;
            uint32_t rn;

            if (!resolve(e, v21, d, c, &rd, &rn))
                return 0;
            return walk(e, t, k + 1, rd, rn, v21, 0, d, v);
        }
        if (st->ref == 2 && kzj_type(d, c) == KZJ_ARRAY)
            return walk(e, t, k + 1, d, c, v21, 1, d, v);
        return walk(e, t, k + 1, d, c, v21, 0, d, v);
    }
    if (kzj_type(d, v) != KZJ_ARRAY)
        return 0;
    {
        int64_t i = 0;

        KZJ_FOREACH_ELEM(d, v, el)
        {
            int r;

            if (st->kind == KZP_S_INDEX && i++ != st->index)
                continue;
            if (pending) {
                const struct kzj_doc *rd;
                uint32_t rn;

                if (!resolve(e, v21, d, el, &rd, &rn))
                    r = 0;
                else
                    r = walk(e, t, k + 1, rd, rn, v21, 0, pd, pobj);
            } else {
                r = walk(e, t, k + 1, d, el, v21, 0, pd, pobj);
            }
            if (r != 0 || st->kind == KZP_S_INDEX)
                return r;
        }
    }
    return 0;
}

static int eq_type(const struct kzp_obs *o, const struct root *r, const struct kzp_test *t)
{
    (void)o;
    return r->type_node && kzj_str_eq(r->doc, r->type_node, t->type, t->typelen);
}

/* Evaluates a comparison tree against one root object. */
static int eval_cmp(struct ev *e, const struct kzp_node *nd, const struct root *r, int v21)
{
    if (nd->kind == KZP_N_TEST) {
        const struct kzp_test *t = nd->test;

        if (!eq_type(e->o, r, t))
            return 0;
        return walk(e, t, 0, r->doc, r->node, v21, 0, NULL, 0);
    }
    for (const struct kzp_node *k = nd->kids; k; k = k->next) {
        int x = eval_cmp(e, k, r, v21);

        if (x < 0)
            return -1;
        if (nd->kind == KZP_N_OR && x)
            return 1;
        if (nd->kind == KZP_N_AND && !x)
            return 0;
    }
    return nd->kind == KZP_N_AND;
}

/* --- bindings ---------------------------------------------------------------------- */

static int spend(struct ev *e, uint64_t w)
{
    e->work += w;
    if (e->work > KZP_MAX_BINDING_WORK)
        return kz_error_set(e->err, KZ_ELIMIT,
                            "pattern evaluation examined more than %u candidate combinations "
                            "of observations (KZP_MAX_BINDING_WORK)",
                            KZP_MAX_BINDING_WORK);
    return 0;
}

static uint32_t *pool_reserve(struct ev *e, size_t n)
{
    if (grow((void **)&e->pool, &e->cappool, e->npool + n, sizeof(*e->pool)) < 0) {
        kz_error_set(e->err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    return e->pool + e->npool;
}

static void blist_free(struct blist *l)
{
    free(l->v);
    free(l->slots);
    memset(l, 0, sizeof(*l));
}

static int bind_eq(const struct ev *e, const struct bind *a, const struct bind *b)
{
    return a->n == b->n && memcmp(e->pool + a->off, e->pool + b->off, 2 * a->n * 4) == 0;
}

/* Adds the binding whose pairs were just written at the pool's end
 * (n pairs) to l unless an equal one is there. Returns 1 if added, 0 if a
 * duplicate (the pool space is given back), -1 on error. */
static int blist_add(struct ev *e, struct blist *l, uint32_t n, int64_t max_first, int64_t min_last)
{
    struct bind b = {(uint32_t)e->npool, n, max_first, min_last, 1469598103934665603ull};
    size_t mask;

    for (uint32_t i = 0; i < 2 * n; i++)
        b.hash = (b.hash ^ e->pool[e->npool + i]) * 1099511628211ull;
    if (l->n + 1 > l->nslots / 2) {
        size_t ns = l->nslots ? l->nslots * 2 : 64;
        uint32_t *s = calloc(ns, sizeof(*s));

        if (!s)
            return kz_error_set(e->err, KZ_ENOMEM, "out of memory");
        for (size_t i = 0; i < l->n; i++) {
            size_t h = l->v[i].hash & (ns - 1);

            while (s[h])
                h = (h + 1) & (ns - 1);
            s[h] = (uint32_t)i + 1;
        }
        free(l->slots);
        l->slots = s;
        l->nslots = ns;
    }
    mask = l->nslots - 1;
    for (size_t h = b.hash & mask;; h = (h + 1) & mask) {
        if (!l->slots[h]) {
            if (l->n >= KZP_MAX_BINDINGS)
                return kz_error_set(e->err, KZ_ELIMIT,
                                    "pattern evaluation needs more than %u bindings of "
                                    "observations for one expression (KZP_MAX_BINDINGS)",
                                    KZP_MAX_BINDINGS);
            if (grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v)) < 0)
                return kz_error_set(e->err, KZ_ENOMEM, "out of memory");
            l->v[l->n++] = b;
            l->slots[h] = (uint32_t)l->n;
            e->npool += 2 * n;
            return 1;
        }
        if (bind_eq(e, &l->v[l->slots[h] - 1], &b))
            return 0;
    }
}

/* Writes the union of a and b at the pool's end if no observation is used
 * more than its number_observed times; returns the pair count, 0 when the
 * union is not allowed, -1 on error. */
static long bind_union(struct ev *e, const struct bind *a, const struct bind *b)
{
    uint32_t *out, i = 0, j = 0, o = 0;
    const uint32_t *pa, *pb;

    if (spend(e, a->n + b->n + 1) < 0)
        return -1;
    out = pool_reserve(e, 2 * (a->n + b->n));
    if (!out)
        return -1;
    pa = e->pool + a->off;
    pb = e->pool + b->off;
    while (i < a->n || j < b->n) {
        uint32_t ob, cnt;

        if (j >= b->n || (i < a->n && pa[2 * i] < pb[2 * j])) {
            ob = pa[2 * i];
            cnt = pa[2 * i + 1];
            i++;
        } else if (i >= a->n || pb[2 * j] < pa[2 * i]) {
            ob = pb[2 * j];
            cnt = pb[2 * j + 1];
            j++;
        } else {
            ob = pa[2 * i];
            cnt = pa[2 * i + 1] + pb[2 * j + 1];
            if (cnt > e->o->obs[ob].number)
                return 0;
            i++;
            j++;
        }
        out[2 * o] = ob;
        out[2 * o + 1] = cnt;
        o++;
    }
    return o;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int eval_obs(struct ev *e, const struct kzp_node *nd, size_t want, struct blist *out);

/* [ comparison ]: one binding per observation with a matching root. */
static int eval_simple(struct ev *e, const struct kzp_node *nd, size_t want, struct blist *out)
{
    for (size_t i = 0; i < e->o->nobs; i++) {
        const struct observation *ob = &e->o->obs[i];
        const struct root *r;
        int hit = 0;

        if (ob->n21 + ob->n20 == 0)
            continue;
        r = e->o->roots + ob->root_off;
        e->ob = ob;
        for (size_t k = 0; k < ob->n21 + ob->n20 && !hit; k++) {
            hit = eval_cmp(e, nd->kids, &r[k], k < ob->n21);
            if (hit < 0)
                return -1;
        }
        if (hit) {
            uint32_t *p = pool_reserve(e, 2);

            if (!p)
                return -1;
            p[0] = (uint32_t)i;
            p[1] = 1;
            if (blist_add(e, out, 1, ob->first_us, ob->last_us) < 0)
                return -1;
            if (want && out->n >= want)
                break;
        }
    }
    return 0;
}

/* Joins a with b into out: every allowed union, for FOLLOWEDBY only when a
 * can be observed no later than b. */
static int join(struct ev *e, const struct blist *a, const struct blist *b, int ordered,
                size_t want, struct blist *out)
{
    for (size_t i = 0; i < a->n; i++) {
        for (size_t j = 0; j < b->n; j++) {
            const struct bind *x = &a->v[i], *y = &b->v[j];
            long n;

            if (ordered && x->max_first > y->min_last) {
                if (spend(e, 1) < 0)
                    return -1;
                continue;
            }
            n = bind_union(e, x, y);
            if (n < 0)
                return -1;
            if (n == 0)
                continue;
            if (blist_add(e, out, (uint32_t)n, max64(x->max_first, y->max_first),
                          min64(x->min_last, y->min_last)) < 0)
                return -1;
            if (want && out->n >= want)
                return 0;
        }
    }
    return 0;
}

/* REPEATS: depth-first over non-decreasing choices of bindings from l. */
static int repeat_dfs(struct ev *e, const struct blist *l, int64_t left, size_t from,
                      const struct bind *acc, size_t want, struct blist *out)
{
    for (size_t j = from; j < l->n; j++) {
        const struct bind *y = &l->v[j];
        struct bind nb;
        long n;
        size_t mark = e->npool;

        if (!acc) {
            nb = *y;
        } else {
            n = bind_union(e, acc, y);
            if (n < 0)
                return -1;
            if (n == 0)
                continue;
            nb.off = (uint32_t)e->npool;
            nb.n = (uint32_t)n;
            nb.max_first = max64(acc->max_first, y->max_first);
            nb.min_last = min64(acc->min_last, y->min_last);
            e->npool += 2 * (size_t)n; /* keep it while we go deeper */
        }
        if (left == 1) {
            uint32_t *p = pool_reserve(e, 2 * nb.n);
            int r;

            if (!p)
                return -1;
            memmove(p, e->pool + nb.off, 2 * nb.n * sizeof(*p));
            r = blist_add(e, out, nb.n, nb.max_first, nb.min_last);
            if (r < 0)
                return -1;
            if (want && out->n >= want)
                return 1;
        } else {
            int r = repeat_dfs(e, l, left - 1, j, &nb, want, out);

            if (r)
                return r;
        }
        if (acc && e->npool == mark + 2 * nb.n) /* nothing kept above it */
            e->npool = mark;
    }
    return 0;
}

static int eval_obs(struct ev *e, const struct kzp_node *nd, size_t want, struct blist *out)
{
    struct blist acc = {0}, kid = {0}, tmp = {0};
    int rc = -1;

    switch (nd->kind) {
    case KZP_N_OBS: rc = eval_simple(e, nd, want, out); break;
    case KZP_N_OBS_OR:
        for (const struct kzp_node *k = nd->kids; k; k = k->next) {
            blist_free(&kid);
            if (eval_obs(e, k, want, &kid) < 0)
                goto out;
            for (size_t i = 0; i < kid.n; i++) {
                uint32_t *p = pool_reserve(e, 2 * kid.v[i].n);

                if (!p)
                    goto out;
                memcpy(p, e->pool + kid.v[i].off, 2 * kid.v[i].n * sizeof(*p));
                if (blist_add(e, out, kid.v[i].n, kid.v[i].max_first, kid.v[i].min_last) < 0)
                    goto out;
                if (want && out->n >= want)
                    break;
            }
            if (want && out->n >= want)
                break;
        }
        rc = 0;
        break;
    case KZP_N_OBS_AND:
    case KZP_N_FOLLOWEDBY:
        if (eval_obs(e, nd->kids, 0, &acc) < 0)
            goto out;
        for (const struct kzp_node *k = nd->kids->next; k; k = k->next) {
            blist_free(&kid);
            if (acc.n == 0)
                break;
            if (eval_obs(e, k, 0, &kid) < 0)
                goto out;
            if (join(e, &acc, &kid, nd->kind == KZP_N_FOLLOWEDBY, k->next ? 0 : want, &tmp) < 0)
                goto out;
            blist_free(&acc);
            acc = tmp;
            memset(&tmp, 0, sizeof(tmp));
        }
        *out = acc;
        memset(&acc, 0, sizeof(acc));
        rc = 0;
        break;
    case KZP_N_WITHIN:
    case KZP_N_STARTSTOP:
        if (eval_obs(e, nd->kids, 0, &kid) < 0)
            goto out;
        for (size_t i = 0; i < kid.n; i++) {
            const struct bind *b = &kid.v[i];
            int keep;

            if (nd->kind == KZP_N_WITHIN)
                keep = b->max_first <= b->min_last ||
                       (double)(b->max_first - b->min_last) < nd->within_us;
            else
                keep = b->max_first < nd->stop_us && b->min_last >= nd->start_us;
            if (!keep)
                continue;
            {
                uint32_t *p = pool_reserve(e, 2 * b->n);

                if (!p)
                    goto out;
                memcpy(p, e->pool + b->off, 2 * b->n * sizeof(*p));
                if (blist_add(e, out, b->n, b->max_first, b->min_last) < 0)
                    goto out;
            }
            if (want && out->n >= want)
                break;
        }
        rc = 0;
        break;
    case KZP_N_REPEATS:
        if (eval_obs(e, nd->kids, nd->repeats == 1 ? want : 0, &kid) < 0)
            goto out;
        if (nd->repeats == 1) {
            *out = kid;
            memset(&kid, 0, sizeof(kid));
            rc = 0;
            break;
        }
        rc = repeat_dfs(e, &kid, nd->repeats, 0, NULL, want, out) < 0 ? -1 : 0;
        break;
    default:
        kz_error_set(e->err, KZ_EINTERNAL, "internal: unexpected node in observation tree");
        break;
    }
out:
    blist_free(&acc);
    blist_free(&kid);
    blist_free(&tmp);
    return rc;
}

void kzp_result_free(struct kzp_result *r)
{
    free(r->obs);
    free(r->uses);
    memset(r, 0, sizeof(*r));
}

int kzp_match(const struct kzp_pattern *p, struct kzp_obs *o, struct kzp_result *res,
              struct kz_error *err)
{
    struct ev e;
    struct blist out = {0};
    int rc = -1;

    memset(res, 0, sizeof(*res));
    memset(&e, 0, sizeof(e));
    e.p = p;
    e.o = o;
    e.err = err;
    kz_buf_init(&e.val, KZ_MAX_OBJECT_BYTES);
    kz_buf_init(&e.nfc, 4 * KZ_MAX_OBJECT_BYTES);
    kz_buf_init(&e.bin, KZ_MAX_OBJECT_BYTES + 1);
    if (o->dirty && build_index(o, err) < 0)
        goto out;
    e.md = pcre2_match_data_create(1, NULL);
    e.mc = pcre2_match_context_create(NULL);
    if (!e.md || !e.mc) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        goto out;
    }
    pcre2_set_match_limit(e.mc, KZP_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(e.mc, KZP_REGEX_DEPTH_LIMIT);
    if (eval_obs(&e, p->root, 1, &out) < 0)
        goto out;
    if (out.n) {
        const struct bind *b = &out.v[0];

        res->obs = malloc(b->n * sizeof(*res->obs));
        res->uses = malloc(b->n * sizeof(*res->uses));
        if (!res->obs || !res->uses) {
            kzp_result_free(res);
            kz_error_set(err, KZ_ENOMEM, "out of memory");
            goto out;
        }
        for (uint32_t i = 0; i < b->n; i++) {
            res->obs[i] = e.pool[b->off + 2 * i];
            res->uses[i] = e.pool[b->off + 2 * i + 1];
        }
        res->n = b->n;
        res->matched = 1;
    }
    rc = 0;
out:
    blist_free(&out);
    free(e.pool);
    pcre2_match_data_free(e.md);
    pcre2_match_context_free(e.mc);
    kz_buf_free(&e.val);
    kz_buf_free(&e.nfc);
    kz_buf_free(&e.bin);
    return rc;
}
