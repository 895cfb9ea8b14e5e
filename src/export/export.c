/*
 * The export driver: walks the active indicators (intel_each, bulk: never
 * TLP:RED), turns each exact condition into the value the format writes
 * (value.c), keeps them in one sorted set so every file comes out the same
 * for the same store, and hands the set to the format's writer.
 */
#include "export/export_int.h"

#include <stdlib.h>
#include <string.h>

#include "intel/intel.h"
#include "util/file.h"
#include "util/hash.h"

static const struct {
    const char *name;
    enum export_format f;
} formats[] = {
        {"zeek-intel", EXPORT_ZEEK_INTEL},
        {"suricata-dataset", EXPORT_SURICATA_DATASET},
        {"suricata-rules", EXPORT_SURICATA_RULES},
        {"csv", EXPORT_CSV},
        {"txt", EXPORT_TXT},
};

static const struct {
    const char *name;
    enum export_type t;
    const char *file; /* Suricata dataset or hash list */
} types[] = {
        {"all", EXPORT_T_ALL, NULL},
        {"ip", EXPORT_T_IP, "kizuna-ip.lst"},
        {"domain", EXPORT_T_DOMAIN, "kizuna-domains.lst"},
        {"url", EXPORT_T_URL, NULL},
        {"email", EXPORT_T_EMAIL, NULL},
        {"hash", EXPORT_T_HASH, NULL},
        {"md5", EXPORT_T_MD5, "kizuna-md5.lst"},
        {"sha1", EXPORT_T_SHA1, "kizuna-sha1.lst"},
        {"sha256", EXPORT_T_SHA256, "kizuna-sha256.lst"},
        {"sha512", EXPORT_T_SHA512, NULL},
};

#define NFORMATS (sizeof(formats) / sizeof(formats[0]))
#define NTYPES   (sizeof(types) / sizeof(types[0]))

int export_format_parse(const char *s, enum export_format *out)
{
    for (size_t i = 0; i < NFORMATS; i++) {
        if (strcmp(s, formats[i].name) == 0) {
            *out = formats[i].f;
            return 0;
        }
    }
    return -1;
}

const char *export_format_name(enum export_format f)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (formats[i].f == f)
            return formats[i].name;
    return "?";
}

int export_type_parse(const char *s, enum export_type *out)
{
    for (size_t i = 0; i < NTYPES; i++) {
        if (strcmp(s, types[i].name) == 0) {
            *out = types[i].t;
            return 0;
        }
    }
    return -1;
}

const char *export_type_name(enum export_type t)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (types[i].t == t)
            return types[i].name;
    return "?";
}

const char *export_dataset_file(enum export_type t)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (types[i].t == t)
            return types[i].file;
    return NULL;
}

int export_check(enum export_format f, enum export_type t, struct kz_error *err)
{
    if (f != EXPORT_SURICATA_DATASET)
        return 0;
    switch (t) {
    case EXPORT_T_IP:
    case EXPORT_T_DOMAIN:
    case EXPORT_T_MD5:
    case EXPORT_T_SHA1:
    case EXPORT_T_SHA256: return 0;
    case EXPORT_T_ALL:
        return kz_error_set(err, KZ_EUSAGE,
                            "suricata-dataset writes one dataset: give --type ip, domain, md5, "
                            "sha1 or sha256");
    case EXPORT_T_HASH:
        return kz_error_set(err, KZ_EUSAGE,
                            "a dataset holds one hash algorithm: give --type md5, sha1 or sha256");
    case EXPORT_T_URL:
        return kz_error_set(err, KZ_EUSAGE,
                            "Suricata has no buffer holding a whole URL, so no URL dataset; "
                            "URLs are in --format suricata-rules (http.host + http.uri)");
    case EXPORT_T_EMAIL:
        return kz_error_set(err, KZ_EUSAGE,
                            "Suricata has no e-mail address dataset; use "
                            "--format zeek-intel for e-mail addresses");
    case EXPORT_T_SHA512:
        return kz_error_set(err, KZ_EUSAGE,
                            "Suricata has no SHA-512 datasets or lists; use --format zeek-intel");
    }
    return kz_error_set(err, KZ_EUSAGE, "unknown --type");
}

/* --- gathering ------------------------------------------------------------------- */

struct gather {
    struct ex_set *x;
    const struct intel_indicator *ind;
    int64_t ind_index; /* -1 until the indicator gives a value */
    struct kz_error *err;
    int failed;
    uint64_t read; /* indicators seen, for o->progress */
    /* several (or all) collections: a hash of each active indicator's id, so that one
     * held in two collections counts once in the summary */
    uint64_t *idh;
    size_t nidh, capidh;
};

static int remember_id(struct gather *g, const char *id, struct kz_error *err)
{
    if (g->nidh == g->capidh) {
        size_t cap = g->capidh ? 2 * g->capidh : 1024;
        uint64_t *p = realloc(g->idh, cap * sizeof(*p));
        if (!p)
            return kz_error_set(err, KZ_ENOMEM, "out of memory");
        g->idh = p;
        g->capidh = cap;
    }
    /* a collision only makes two indicators count as one in the summary
     * line (1 in 10^7 for a million ids), never changes the file */
    g->idh[g->nidh++] = kz_fnv1a(KZ_FNV1A_INIT, id, strlen(id));
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* How many of the n hashes repeat one before them. */
static uint64_t repeats(uint64_t *h, size_t n)
{
    uint64_t r = 0;

    if (n < 2)
        return 0;
    qsort(h, n, sizeof(*h), cmp_u64);
    for (size_t i = 1; i < n; i++)
        r += h[i] == h[i - 1];
    return r;
}

static int pool_add(struct ex_set *x, const char *s, size_t n, size_t *off, struct kz_error *err)
{
    *off = x->pool.len;
    if (kz_buf_add(&x->pool, s, n) < 0 || kz_buf_addc(&x->pool, '\0') < 0)
        return kz_error_set(err, KZ_ELIMIT, "the export passes %zu bytes of values",
                            (size_t)EXPORT_MAX_POOL_BYTES);
    return 0;
}

static int add_indicator(struct gather *g, struct kz_error *err)
{
    struct ex_set *x = g->x;
    struct ex_ind *in;

    if (x->ninds == x->capinds) {
        size_t cap = x->capinds ? x->capinds * 2 : 256;
        struct ex_ind *p = realloc(x->inds, cap * sizeof(*p));
        if (!p)
            return kz_error_set(err, KZ_ENOMEM, "out of memory");
        x->inds = p;
        x->capinds = cap;
    }
    in = &x->inds[x->ninds];
    memset(in, 0, sizeof(*in));
    if (pool_add(x, g->ind->id, strlen(g->ind->id), &in->id_off, err) < 0 ||
        pool_add(x, g->ind->name, strlen(g->ind->name), &in->name_off, err) < 0 ||
        pool_add(x, g->ind->collection_id, strlen(g->ind->collection_id), &in->coll_off, err) < 0)
        return -1;
    in->tlp = g->ind->tlp;
    in->valid_from_us = g->ind->valid_from_us;
    in->valid_until_us = g->ind->valid_until_us;
    g->ind_index = (int64_t)x->ninds++;
    return 0;
}

static int add_value(struct gather *g, enum match_kind kind, const char *v, size_t n,
                     unsigned flags, struct kz_error *err)
{
    struct ex_set *x = g->x;
    struct ex_val *e;

    if (g->ind_index < 0 && add_indicator(g, err) < 0)
        return -1;
    if (x->nvals == x->capvals) {
        size_t cap = x->capvals ? x->capvals * 2 : 1024;
        struct ex_val *p;
        if (x->nvals >= EXPORT_MAX_VALUES)
            return kz_error_set(err, KZ_ELIMIT, "the export passes %u values", EXPORT_MAX_VALUES);
        if (cap > EXPORT_MAX_VALUES)
            cap = EXPORT_MAX_VALUES;
        p = realloc(x->vals, cap * sizeof(*p));
        if (!p)
            return kz_error_set(err, KZ_ENOMEM, "out of memory");
        x->vals = p;
        x->capvals = cap;
    }
    e = &x->vals[x->nvals];
    memset(e, 0, sizeof(*e));
    if (pool_add(x, v, n, &e->off, err) < 0)
        return -1;
    e->len = (uint32_t)n;
    e->ind = (uint32_t)g->ind_index;
    e->kind = (uint8_t)kind;
    e->flags = (uint8_t)flags;
    x->nvals++;
    return 0;
}

static int on_cond(void *ctx, const struct kzp_cond *c)
{
    struct gather *g = ctx;
    struct export_stats *st = g->x->st;
    char v[EX_MAX_VALUE + 1];
    size_t n;
    unsigned flags;
    int kind = ex_kind_of(c);

    if (kind >= 0 && !ex_type_has(g->x->o->type, (enum match_kind)kind)) {
        st->filtered++;
        return 0;
    }
    if (kind < 0) {
        if (g->x->o->type == EXPORT_T_ALL || g->x->o->type == EXPORT_T_HASH)
            st->unsupported++; /* a digest no sensor computes */
        else
            st->filtered++;
        return 0;
    }
    switch (ex_value(g->x->o, c, (enum match_kind)kind, v, sizeof(v), &n, &flags)) {
    case EX_OK: break;
    case EX_INVALID: st->invalid++; return 0;
    case EX_UNSUPPORTED: st->unsupported++; return 0;
    }
    /* one value of an AND, a network-traffic reference or a qualified
     * pattern: exported all the same (a sensor hit is a lead worth a look),
     * but marked, so the operator can tell it from a value that proves the
     * whole pattern */
    if (!c->exact) {
        flags |= EX_PARTIAL;
        st->partial++;
    }
    if (add_value(g, (enum match_kind)kind, v, n, flags, g->err) < 0) {
        g->failed = 1;
        return -1;
    }
    return 0;
}

static int on_indicator(void *ctx, const struct intel_indicator *ind, struct kz_error *err)
{
    struct gather *g = ctx;
    int complete;

    g->ind = ind;
    g->ind_index = -1;
    g->err = err;
    if (g->x->o->ncollections != 1 && remember_id(g, ind->id, err) < 0)
        return -1;
    if (kzp_extract(ind->pattern, on_cond, g, &complete) < 0 || g->failed)
        return -1;
    if (g->x->o->progress)
        g->x->o->progress(g->x->o->progress_ctx, ++g->read);
    return 0;
}

/* --- sorting --------------------------------------------------------------------- */

/* id, then collection: an indicator in two collections sorts the same way
 * every time, so its first copy (the one files name) is always the same */
static int cmp_ind(const void *a, const void *b)
{
    const struct ex_ind *x = a, *y = b;
    int c = strcmp(x->id, y->id);

    return c ? c : strcmp(x->coll, y->coll);
}

static int cmp_bytes(const struct ex_val *x, const struct ex_val *y)
{
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->v, y->v, n);

    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* (kind, value, indicator): the order of the per-value formats */
static int cmp_value(const void *a, const void *b)
{
    const struct ex_val *x = a, *y = b;
    int c;

    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    c = cmp_bytes(x, y);
    if (c)
        return c;
    return x->ind < y->ind ? -1 : x->ind > y->ind;
}

/* (indicator, kind, value): CSV, one row per indicator value */
static int cmp_row(const void *a, const void *b)
{
    const struct ex_val *x = a, *y = b;

    if (x->ind != y->ind)
        return x->ind < y->ind ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return cmp_bytes(x, y);
}

/* Pointers into the (now final) pool, and each value's indicator index
 * turned into the indicator's rank in id order. An indicator read from two
 * collections appears twice in inds; both copies map to the first, so it
 * is one indicator in every file. Returns the rank map (caller frees). */
static uint32_t *rank_indicators(struct ex_set *x, struct kz_error *err)
{
    uint32_t *rank = malloc((x->ninds ? x->ninds : 1) * sizeof(*rank));
    size_t i, first = 0;

    if (!rank) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    for (i = 0; i < x->ninds; i++) {
        x->inds[i].id = x->pool.data + x->inds[i].id_off;
        x->inds[i].name = x->pool.data + x->inds[i].name_off;
        x->inds[i].coll = x->pool.data + x->inds[i].coll_off;
        /* the offsets are done with: id_off keeps the gathering order, to
         * map values to ranks once the indicators are sorted */
        x->inds[i].id_off = i;
    }
    if (x->ninds)
        qsort(x->inds, x->ninds, sizeof(*x->inds), cmp_ind);
    for (i = 0; i < x->ninds; i++) {
        if (i == 0 || strcmp(x->inds[i].id, x->inds[first].id) != 0)
            first = i;
        rank[x->inds[i].id_off] = (uint32_t)first;
    }
    return rank;
}

/* Indicators in id order, values in the writer's order with exact repeats
 * of (indicator, kind, value) gone; a repeat that is exact makes the value
 * it repeats exact. */
static int ex_sort(struct ex_set *x, struct kz_error *err)
{
    uint32_t *rank = rank_indicators(x, err);
    size_t i, o;

    if (!rank)
        return -1;
    for (i = 0; i < x->nvals; i++) {
        x->vals[i].v = x->pool.data + x->vals[i].off;
        x->vals[i].ind = rank[x->vals[i].ind];
    }
    free(rank);
    if (x->nvals)
        qsort(x->vals, x->nvals, sizeof(*x->vals),
              x->o->format == EXPORT_CSV ? cmp_row : cmp_value);
    for (i = 0, o = 0; i < x->nvals; i++) {
        struct ex_val *p = o ? &x->vals[o - 1] : NULL;
        if (p && p->ind == x->vals[i].ind && p->kind == x->vals[i].kind &&
            cmp_bytes(p, &x->vals[i]) == 0) {
            x->st->merged++; /* the same value twice in one pattern */
            if (!(x->vals[i].flags & EX_PARTIAL))
                p->flags &= (uint8_t)~EX_PARTIAL;
            continue;
        }
        x->vals[o++] = x->vals[i];
    }
    x->nvals = o;
    return 0;
}

size_t ex_group_end(const struct ex_set *x, size_t i)
{
    size_t j = i + 1;

    while (j < x->nvals && x->vals[j].kind == x->vals[i].kind &&
           cmp_bytes(&x->vals[j], &x->vals[i]) == 0)
        j++;
    return j;
}

int ex_line_done(struct ex_set *x, struct ex_writer *w, size_t i, size_t j, struct kz_error *err)
{
    for (size_t k = i; k < j; k++)
        x->inds[x->vals[k].ind].used = 1;
    x->st->lines++;
    x->st->merged += j - i - 1;
    return ex_flush(w, 0, err);
}

int ex_flush(struct ex_writer *w, int force, struct kz_error *err)
{
    if (w->buf.failed)
        return kz_error_set(err, KZ_ELIMIT, "a line of the export is too long");
    if (!force && w->buf.len < EX_FLUSH_BYTES)
        return 0;
    if (w->buf.len && kz_out_write(w->out, w->buf.data, w->buf.len, err) < 0)
        return -1;
    kz_buf_reset(&w->buf);
    return 0;
}

/* st->used and markings, once per indicator id; o->coll_stats for every
 * collection a used indicator was read from. The writers mark the first
 * copy of an id (ex_sort maps every value there). */
static void count_used(struct ex_set *x)
{
    const struct export_opts *o = x->o;
    size_t first = 0;

    for (size_t i = 0; i < x->ninds; i++) {
        const struct ex_ind *in = &x->inds[i];
        if (i == 0 || strcmp(in->id, x->inds[first].id) != 0)
            first = i;
        if (!x->inds[first].used || in->tlp > STIX_TLP_RED)
            continue;
        if (first == i) {
            x->st->used++;
            x->st->markings[in->tlp]++;
        }
        for (size_t c = 0; o->coll_stats && c < o->ncollections; c++) {
            if (strcmp(o->collections[c], in->coll) == 0) {
                o->coll_stats[c].used++;
                o->coll_stats[c].markings[in->tlp]++;
                break;
            }
        }
    }
}

/* --- the export ------------------------------------------------------------------- */

int export_write(struct store *s, const struct export_opts *o, struct kz_out *out,
                 struct export_stats *st, struct kz_error *err)
{
    struct ex_set x = {.o = o, .st = st};
    struct ex_writer w = {.out = out};
    struct intel_opts io = {0};
    struct intel_counts ic;
    struct gather g = {.x = &x};
    int rc = -1;

    memset(st, 0, sizeof(*st));
    kz_buf_init(&x.pool, EXPORT_MAX_POOL_BYTES);
    /* one flush's worth and the longest line any writer adds before flushing */
    kz_buf_init(&w.buf, EX_FLUSH_BYTES + (size_t)4 * EXPORT_MAX_RULE_BYTES + EX_MAX_VALUE +
                                (size_t)2 * EXPORT_MAX_DESC_BYTES);
    if (export_check(o->format, o->type, err) < 0)
        goto out;
    if (o->ncollections > EXPORT_MAX_COLLECTIONS) {
        kz_error_set(err, KZ_EUSAGE, "at most %d collections in one export",
                     EXPORT_MAX_COLLECTIONS);
        goto out;
    }
    if (o->coll_stats)
        memset(o->coll_stats, 0, o->ncollections * sizeof(*o->coll_stats));
    io.collections = o->collections;
    io.ncollections = o->ncollections;
    io.as = o->as;
    io.bulk = 1; /* an export is a bulk path: never TLP:RED */
    io.now_us = o->now_us;
    io.default_tlp = o->default_tlp;
    io.node_name = o->node_name;
    if (intel_each(s, &io, on_indicator, &g, &ic, err) < 0)
        goto out;
    st->indicators = ic.indicators - repeats(g.idh, g.nidh);
    st->inactive = ic.inactive;
    st->other = ic.other + ic.broken;
    if (!x.pool.data && kz_buf_addc(&x.pool, '\0') < 0) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        goto out;
    }
    if (ex_sort(&x, err) < 0)
        goto out;
    switch (o->format) {
    case EXPORT_ZEEK_INTEL: rc = ex_write_zeek(&x, &w, err); break;
    case EXPORT_SURICATA_DATASET: rc = ex_write_dataset(&x, &w, err); break;
    case EXPORT_SURICATA_RULES: rc = ex_write_rules(&x, &w, err); break;
    case EXPORT_CSV: rc = ex_write_csv(&x, &w, err); break;
    case EXPORT_TXT: rc = ex_write_txt(&x, &w, err); break;
    }
    if (rc == 0)
        rc = ex_flush(&w, 1, err);
    if (rc < 0)
        goto out;
    count_used(&x);
    rc = 0;
out:
    kz_buf_free(&x.pool);
    kz_buf_free(&w.buf);
    free(g.idh);
    free(x.inds);
    free(x.vals);
    return rc;
}
