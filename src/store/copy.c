/*
 * store_copy: a whole store into another, table by table in the shape of
 * store_copy_tables.h, through each backend's copy operations; then a
 * verification that reads both ends through the ordinary store interface
 * (so a fault of the copy path cannot also hide itself). Resuming works
 * because every row is written "unless already there" and the objects of
 * each collection, the bulk of a store, start after the last date added
 * the destination holds.
 */
#include "store/store_copy.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_backend.h"

/* Rows written per destination transaction: large enough that commits do
 * not dominate, small enough that an interruption loses little. */
#define COPY_BATCH 2000

/* The blob in the destination naming the store being copied into it. */
#define COPY_MARKER "kizuna.copy-of"

#define I(n)                                                                                       \
    {                                                                                              \
        n, COPY_INT                                                                                \
    }
#define T(n)                                                                                       \
    {                                                                                              \
        n, COPY_TEXT                                                                               \
    }
#define B(n)                                                                                       \
    {                                                                                              \
        n, COPY_BLOB                                                                               \
    }

/* SQLite's schema is this list as written (store_copy_tables.h). */
const struct copy_table copy_tables[] = {
        {"api_roots",
         COPY_MAIN,
         "name",
         4,
         {T("name"), T("title"), T("description"), I("max_content_length")}},
        {"orgs",
         COPY_MAIN,
         "key",
         7,
         {I("key"), T("name"), T("country"), T("sector"), T("kind"), T("identity"), I("created")}},
        {"users",
         COPY_MAIN,
         "key",
         6,
         {I("key"), T("name"), I("org"), T("role"), I("created"), I("disabled")}},
        {"tokens",
         COPY_MAIN,
         "key",
         6,
         {I("key"), T("token_id"), I("user"), B("hash"), I("created"), I("revoked")}},
        {"communities", COPY_MAIN, "key", 3, {I("key"), T("name"), I("created")}},
        {"community_members", COPY_MAIN, "community, org", 2, {I("community"), I("org")}},
        {"collections",
         COPY_MAIN,
         "key",
         7,
         {I("key"), T("id"), T("api_root"), T("alias"), T("title"), T("description"),
          I("created")}},
        {"grants",
         COPY_MAIN,
         "collection, kind, subject, role",
         6,
         {I("collection"), I("kind"), I("subject"), T("role"), I("can_read"), I("can_write")}},
        {"peers",
         COPY_MAIN,
         "key",
         12,
         {I("key"), T("name"), T("url"), B("token"), I("org"), T("public_key"), T("ca"),
          I("created"), I("last_success"), T("last_error"), I("last_error_at"), T("auth_user")}},
        {"peer_communities", COPY_MAIN, "peer, community", 2, {I("peer"), I("community")}},
        {"peer_links",
         COPY_MAIN,
         "peer, direction, local, remote",
         6,
         {I("peer"), I("direction"), I("local"), T("remote"), I("checkpoint"),
          T("checkpoint_text")}},
        {"peer_heads",
         COPY_MAIN,
         "peer",
         7,
         {I("peer"), I("seq"), B("hash"), I("seen"), T("evidence"), T("problem"), I("problem_at")}},
        {"statuses",
         COPY_MAIN,
         "id",
         5,
         {T("id"), T("api_root"), I("user"), I("created"), T("body")}},
        {"blobs", COPY_MAIN, "name", 2, {T("name"), B("data")}},
        {"counters", COPY_MAIN, "name", 2, {T("name"), I("value")}},
        {"recipients", COPY_MAIN, "added, kind, subject", 3, {I("added"), I("kind"), I("subject")}},
        {"refs", COPY_MAIN, "added, ref", 2, {I("added"), T("ref")}},
        {"objects",
         COPY_MAIN,
         "collection, added",
         15,
         {I("added"), I("collection"), T("stix_id"), T("type"), I("version"), T("version_text"),
          T("spec_version"), T("created_by"), I("tlp"), I("producer"), I("origin"), I("revoked"),
          I("latest"), I("first"), T("raw")}},
        {"audit",
         COPY_AUDIT,
         "seq",
         11,
         {I("seq"), I("ts"), T("user"), T("remote"), T("action"), T("collection"), I("count"),
          T("markings"), T("detail"), B("prev"), B("hash")}},
        /* the log's own head, and the main store's witness of it */
        {"audit_head", COPY_AUDIT, "one", 4, {I("one"), I("seq"), B("hash"), B("mac")}},
        {"audit_head", COPY_MAIN, "one", 4, {I("one"), I("seq"), B("hash"), B("mac")}},
};
const size_t copy_ntables = sizeof(copy_tables) / sizeof(copy_tables[0]);

/* The table of copy_tables called name (the list has one of each name but
 * audit_head: its first). */
static const struct copy_table *table_named(const char *name)
{
    for (size_t i = 0; i < copy_ntables; i++)
        if (strcmp(copy_tables[i].name, name) == 0)
            return &copy_tables[i];
    return NULL;
}

/* One end's backend and handles. */
struct end {
    const struct store_backend *be, *abe;
    void *b, *ab;
    struct store *s, *as;
};

struct copier {
    struct end src, dst;
    const struct copy_table *t;
    uint64_t batch, rows;
    store_copy_note_fn note;
    void *ctx;
    int in_tx; /* a destination transaction is open on tx_b */
    const struct store_backend *tx_be;
    void *tx_b;
};

static void note(const struct copier *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void note(const struct copier *c, const char *fmt, ...)
{
    char line[256];
    va_list ap;

    if (!c->note)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    c->note(c->ctx, line);
}

static void open_end(struct end *e, const struct store_copy_end *from)
{
    e->s = from->store;
    e->as = from->audit ? from->audit : from->store;
    e->be = store_backend_of(e->s, &e->b);
    e->abe = store_backend_of(e->as, &e->ab);
}

/* Where table t lives at end e. */
static const struct store_backend *where(const struct end *e, const struct copy_table *t, void **b,
                                         struct store **s)
{
    if (t->where == COPY_AUDIT) {
        *b = e->ab;
        *s = e->as;
        return e->abe;
    }
    *b = e->b;
    *s = e->s;
    return e->be;
}

static int put_row(void *ctx, const struct copy_value *row, struct kz_error *err)
{
    struct copier *c = ctx;
    struct store *s;
    void *b;
    const struct store_backend *be = where(&c->dst, c->t, &b, &s);

    (void)s;
    /* the backend's own transactions: the audit end may be a store opened
     * for its audit concern only */
    if (!c->in_tx) {
        if (be->copy->begin(b, err) < 0)
            return -1;
        c->in_tx = 1;
        c->tx_be = be;
        c->tx_b = b;
    }
    switch (be->copy->put(b, c->t, row, err)) {
    case -1: return -1;
    case 0: break;
    default: c->rows++;
    }
    if (++c->batch < COPY_BATCH)
        return 0;
    c->batch = 0;
    c->in_tx = 0;
    return be->copy->commit(b, err);
}

static int flush(struct copier *c, struct kz_error *err)
{
    c->batch = 0;
    if (!c->in_tx)
        return 0;
    c->in_tx = 0;
    return c->tx_be->copy->commit(c->tx_b, err);
}

static void abandon(struct copier *c)
{
    if (c->in_tx)
        c->tx_be->copy->rollback(c->tx_b);
    c->in_tx = 0;
}

/* Copies one table (for objects: one collection, after `after`). */
static int copy_table(struct copier *c, const struct copy_table *t, int64_t collection,
                      int64_t after, struct kz_error *err)
{
    struct store *s;
    void *b;
    const struct store_backend *be = where(&c->src, t, &b, &s);

    c->t = t;
    if (be->copy->rows(b, t, collection, after, put_row, c, err) < 0 || flush(c, err) < 0) {
        abandon(c);
        return -1;
    }
    return 0;
}

/* --- the marker: which store a destination holds a copy of ----------------- */

struct first_org {
    int64_t key;
    char identity[KZ_MAX_STIX_ID + 1];
};

static int on_org(void *ctx, const struct store_org *o)
{
    struct first_org *f = ctx;

    if (!f->key || o->key < f->key) {
        f->key = o->key;
        snprintf(f->identity, sizeof(f->identity), "%s", o->identity);
    }
    return 0;
}

/* The source's name for the marker: the identity of its first
 * organisation (the node's own, made by init, a random UUID). */
static int store_name(struct store *s, char *out, size_t cap, struct kz_error *err)
{
    struct first_org f = {0};

    if (store_org_each(s, on_org, &f, err) < 0)
        return -1;
    if (!f.key)
        return kz_error_set(err, KZ_EINVALID, "store migrate: the source store is empty");
    snprintf(out, cap, "%s", f.identity);
    return 0;
}

static int count_root(void *ctx, const struct store_api_root *r)
{
    (void)r;
    (*(unsigned *)ctx)++;
    return 0;
}

/* Rows in the destination's audit log (which SQLite keeps in a database
 * of its own, that may exist without the store beside it). */
static int audit_rows(struct copier *c, uint64_t *n, struct kz_error *err)
{
    return c->dst.abe->copy->count(c->dst.ab, table_named("audit"), n, err);
}

/* Checks that the destination is empty or a copy of `name` begun before;
 * marks it as such. */
static int claim(struct copier *c, const char *name, int *resumed, struct kz_error *err)
{
    char *mark = NULL;
    size_t len = 0;
    unsigned roots = 0;
    uint64_t rows = 0;
    struct kz_error e2;

    kz_error_clear(&e2);
    *resumed = 0;
    if (store_blob_get(c->dst.s, COPY_MARKER, &mark, &len, &e2) == 0) {
        int same = len == strlen(name) && memcmp(mark, name, len) == 0;
        free(mark);
        if (!same)
            return kz_error_set(err, KZ_EEXISTS,
                                "store migrate: the destination holds a copy of another store");
        *resumed = 1;
        return 0;
    }
    if (e2.code != KZ_ENOTFOUND) {
        *err = e2;
        return -1;
    }
    if (store_api_root_each(c->dst.s, count_root, &roots, err) < 0)
        return -1;
    if (roots || audit_rows(c, &rows, err) < 0 || rows)
        return roots || rows ? kz_error_set(err, KZ_EEXISTS,
                                            "store migrate: the destination already holds a "
                                            "store; it must be empty (or an interrupted copy "
                                            "of this one)")
                             : -1;
    if (store_begin(c->dst.s, err) < 0)
        return -1;
    if (store_blob_put(c->dst.s, COPY_MARKER, name, strlen(name), err) < 0 ||
        store_commit(c->dst.s, err) < 0) {
        store_rollback(c->dst.s);
        return -1;
    }
    return 0;
}

/* --- objects, per collection ------------------------------------------------ */

struct coll_list {
    struct store_collection *v;
    size_t n, cap;
};

static int on_collection(void *ctx, const struct store_collection *col)
{
    struct coll_list *l = ctx;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct store_collection *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *col;
    return 0;
}

static int copy_objects(struct copier *c, const struct coll_list *cols, struct kz_error *err)
{
    for (size_t i = 0; i < cols->n; i++) {
        int64_t after = 0;
        uint64_t before = c->rows;

        if (c->dst.be->copy->last_added(c->dst.b, cols->v[i].key, &after, err) < 0 ||
            copy_table(c, table_named("objects"), cols->v[i].key, after, err) < 0)
            return -1;
        note(c, "objects of %s: %llu versions copied%s", cols->v[i].alias,
             (unsigned long long)(c->rows - before), after ? " (resumed)" : "");
    }
    return 0;
}

/* --- verification --------------------------------------------------------- */

struct digest {
    crypto_hash_sha256_state h;
    uint64_t n;
};

static int on_version(void *ctx, const struct store_row *r, struct kz_error *err)
{
    struct digest *d = ctx;
    unsigned char head[16];
    uint64_t len = r->rawlen;

    (void)err;
    for (int i = 0; i < 8; i++) {
        head[i] = (unsigned char)((uint64_t)r->added >> (56 - 8 * i));
        head[8 + i] = (unsigned char)(len >> (56 - 8 * i));
    }
    crypto_hash_sha256_update(&d->h, head, sizeof(head));
    crypto_hash_sha256_update(&d->h, (const unsigned char *)r->raw, r->rawlen);
    d->n++;
    return 0;
}

/* Every version of a collection in date-added order: count and hash. */
static int digest_collection(struct store *s, const struct store_collection *col,
                             unsigned char out[crypto_hash_sha256_BYTES], uint64_t *n,
                             struct kz_error *err)
{
    struct store_collection found;
    struct store_filter f;
    struct store_page page;
    struct digest d = {.n = 0};

    if (store_collection_find(s, col->api_root, col->id, &found, err) < 0)
        return -1;
    crypto_hash_sha256_init(&d.h);
    store_filter_init(&f, found.key);
    store_filter_everything(&f); /* the operator's copy: every row */
    f.versions = STORE_V_ALL;
    if (store_list(s, &f, 1, on_version, &d, &page, err) < 0)
        return -1;
    crypto_hash_sha256_final(&d.h, out);
    *n = d.n;
    return 0;
}

static int verify_collections(struct copier *c, const struct coll_list *cols,
                              struct store_copy_report *r, struct kz_error *err)
{
    for (size_t i = 0; i < cols->n; i++) {
        unsigned char a[crypto_hash_sha256_BYTES], b[crypto_hash_sha256_BYTES];
        uint64_t na, nb;

        if (digest_collection(c->src.s, &cols->v[i], a, &na, err) < 0 ||
            digest_collection(c->dst.s, &cols->v[i], b, &nb, err) < 0)
            return -1;
        if (na != nb || memcmp(a, b, sizeof(a)) != 0)
            return kz_error_set(err, KZ_EINTERNAL,
                                "store migrate: collection %s differs after the copy (%llu "
                                "versions in the source, %llu in the destination)",
                                cols->v[i].alias, (unsigned long long)na, (unsigned long long)nb);
        r->objects += nb;
        r->collections++;
        snprintf(r->last_collection, sizeof(r->last_collection), "%s", cols->v[i].alias);
        note(c, "verified %s: %llu versions, same hash", cols->v[i].alias, (unsigned long long)nb);
    }
    return 0;
}

struct table_digest {
    const struct copy_table *t;
    crypto_hash_sha256_state h;
    uint64_t n;
};

static void hash_u64(crypto_hash_sha256_state *h, uint64_t x)
{
    unsigned char b[8];

    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(x >> (56 - 8 * i));
    crypto_hash_sha256_update(h, b, sizeof(b));
}

static int on_table_row(void *ctx, const struct copy_value *row, struct kz_error *err)
{
    struct table_digest *d = ctx;

    (void)err;
    /* the copy's own marker is not part of what was copied */
    if (strcmp(d->t->name, "blobs") == 0 && row[0].n == strlen(COPY_MARKER) &&
        memcmp(row[0].p, COPY_MARKER, row[0].n) == 0)
        return 0;
    for (unsigned i = 0; i < d->t->ncols; i++) {
        hash_u64(&d->h, row[i].null ? 1 : 0);
        if (d->t->cols[i].type == COPY_INT) {
            hash_u64(&d->h, (uint64_t)row[i].i);
        } else {
            hash_u64(&d->h, row[i].n);
            crypto_hash_sha256_update(&d->h, row[i].p ? row[i].p : (const void *)"", row[i].n);
        }
    }
    d->n++;
    return 0;
}

static int digest_table(const struct end *e, const struct copy_table *t,
                        unsigned char out[crypto_hash_sha256_BYTES], uint64_t *n,
                        struct kz_error *err)
{
    struct table_digest d = {.t = t};
    struct store *s;
    void *b;
    const struct store_backend *be = where(e, t, &b, &s);

    crypto_hash_sha256_init(&d.h);
    if (be->copy->rows(b, t, 0, 0, on_table_row, &d, err) < 0)
        return -1;
    crypto_hash_sha256_final(&d.h, out);
    *n = d.n;
    return 0;
}

/* Every table but the objects (verified per collection, through the
 * ordinary interface), the counters (the destination may hold larger
 * ones) and the audit heads (one table at both ends of a backend that
 * keeps the audit log in the main store): the same rows, column by
 * column, at both ends. */
static int verify_tables(struct copier *c, struct kz_error *err)
{
    for (size_t i = 0; i < copy_ntables; i++) {
        const struct copy_table *t = &copy_tables[i];
        unsigned char a[crypto_hash_sha256_BYTES], b[crypto_hash_sha256_BYTES];
        uint64_t na, nb;

        if (strcmp(t->name, "objects") == 0 || strcmp(t->name, "counters") == 0 ||
            strcmp(t->name, "audit_head") == 0)
            continue;
        if (digest_table(&c->src, t, a, &na, err) < 0 || digest_table(&c->dst, t, b, &nb, err) < 0)
            return -1;
        if (na != nb || memcmp(a, b, sizeof(a)) != 0)
            return kz_error_set(err, KZ_EINTERNAL,
                                "store migrate: table %s differs after the copy (%llu rows in "
                                "the source, %llu in the destination); if the source changed "
                                "since an interrupted copy, start again with an empty "
                                "destination",
                                t->name, (unsigned long long)na, (unsigned long long)nb);
    }
    note(c, "verified every table: the same rows at both ends");
    return 0;
}

/* --- the copy ----------------------------------------------------------------- */

static int snapshot(struct end *e, int on, struct kz_error *err)
{
    if (e->be->copy->snapshot(e->b, on, err) < 0)
        return -1;
    if (e->as != e->s && e->abe->copy->snapshot(e->ab, on, err) < 0) {
        if (on)
            e->be->copy->snapshot(e->b, 0, NULL);
        return -1;
    }
    return 0;
}

static int copy_all(struct copier *c, struct coll_list *cols, struct kz_error *err)
{
    if (store_collection_each(c->src.s, NULL, on_collection, cols, err) < 0)
        return -1;
    for (size_t i = 0; i < copy_ntables; i++) {
        const struct copy_table *t = &copy_tables[i];
        uint64_t before = c->rows;

        if (strcmp(t->name, "objects") == 0) /* per collection, below */
            continue;
        if (copy_table(c, t, 0, 0, err) < 0)
            return -1;
        note(c, "%s: %llu rows copied", t->name, (unsigned long long)(c->rows - before));
    }
    return copy_objects(c, cols, err);
}

int store_copy(const struct store_copy_end *from, const struct store_copy_end *to,
               store_copy_note_fn note_fn, void *ctx, struct store_copy_report *report,
               struct kz_error *err)
{
    struct copier c = {.note = note_fn, .ctx = ctx};
    struct coll_list cols = {0};
    char name[KZ_MAX_STIX_ID + 1];
    int rc = -1;

    memset(report, 0, sizeof(*report));
    open_end(&c.src, from);
    open_end(&c.dst, to);
    if (!c.src.be->copy || !c.dst.be->copy || !c.src.abe->copy || !c.dst.abe->copy)
        return kz_error_set(err, KZ_EUSAGE, "store migrate: the %s backend cannot copy yet",
                            c.src.be->copy ? c.dst.be->name : c.src.be->name);
    if (store_name(c.src.s, name, sizeof(name), err) < 0 ||
        claim(&c, name, &report->resumed, err) < 0)
        return -1;
    if (snapshot(&c.src, 1, err) < 0)
        return -1;
    rc = copy_all(&c, &cols, err);
    snapshot(&c.src, 0, NULL);
    if (rc == 0 && c.dst.be->copy->finish(c.dst.b, err) < 0)
        rc = -1;
    report->rows = c.rows;
    if (rc == 0)
        rc = verify_tables(&c, err) < 0 || verify_collections(&c, &cols, report, err) < 0 ? -1 : 0;
    free(cols.v);
    return rc;
}
