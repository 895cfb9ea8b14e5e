/*
 * Storing prepared objects in batches. A database server answers a
 * statement of 128 objects in far less time than 128 statements, so
 * the storing side holds up to STORE_PUT_BATCH prepared objects and then
 * decides them together: the caller's prefetch hook (the owners policy
 * needs), the write policy and the recipients per object, one
 * store_put_many, then the reports, in input order. A batch never holds
 * two objects with the same id (a version's flags depend on the versions
 * stored before it, and policy's owner of an id on what the batch stores),
 * and a tombstone goes alone: what it deletes must be gone before the next
 * object is decided, and nothing before it may be decided after it.
 */
#include "ingest/ingest_int.h"
#include "ingest/tombstone.h"

#include <stdlib.h>
#include <string.h>

/* What a held object comes to once its batch is decided. */
enum held_fate {
    HELD_REJECT, /* reported rejected with its why */
    HELD_SKIP,   /* strict mode has already failed: neither stored nor reported */
    HELD_PUT,    /* stored by the batch's store_put_many: items[item] */
};

struct ingest_batch {
    unsigned n;
    struct prepared *held[STORE_PUT_BATCH];
    enum held_fate fate[STORE_PUT_BATCH];
    unsigned item[STORE_PUT_BATCH];
    const struct stix_obj *objs[STORE_PUT_BATCH];
    struct store_put_item items[STORE_PUT_BATCH];
    struct store_put_meta metas[STORE_PUT_BATCH];
    struct kz_buf rcpt; /* the metas' recipient arrays, copied: a meta hook's
                           arrays live only until its next call */
};

struct ingest_batch *ingest_batch_new(void)
{
    struct ingest_batch *b = calloc(1, sizeof(*b));

    if (b)
        kz_buf_init(&b->rcpt,
                    (size_t)STORE_PUT_BATCH * 3 * POLICY_MAX_RECIPIENTS * sizeof(int64_t));
    return b;
}

void ingest_batch_free(struct ingest_batch *b)
{
    if (!b)
        return;
    kz_buf_free(&b->rcpt);
    free(b);
}

static int is_tombstone(const struct prepared *p)
{
    return !p->rejected && strcmp(p->o.type, TOMBSTONE_TYPE) == 0;
}

static int holds_id(const struct ingest_batch *b, const char *id)
{
    for (unsigned i = 0; i < b->n; i++)
        if (!b->held[i]->rejected && strcmp(b->held[i]->o.id, id) == 0)
            return 1;
    return 0;
}

/* Copies one of a meta's arrays into the batch, as an offset (the buffer
 * may move while the batch fills; pointers are set once it is full). */
static int keep_array(struct kz_buf *rcpt, const int64_t *v, unsigned n, size_t *off)
{
    *off = rcpt->len;
    if (n)
        kz_buf_add(rcpt, v, n * sizeof(*v));
    return rcpt->failed ? -1 : 0;
}

struct meta_offsets {
    size_t users, orgs, peers;
};

static int decide_meta(struct ingest_run *r, struct prepared *p, struct store_put_meta *m,
                       struct meta_offsets *off, struct kz_error *err)
{
    memset(m, 0, sizeof(*m));
    if (r->opts->meta && r->opts->meta(r->opts->meta_ctx, &p->o, m, &p->why) < 0) {
        *err = p->why;
        return -1;
    }
    if (keep_array(&r->batch->rcpt, m->users, m->nusers, &off->users) < 0 ||
        keep_array(&r->batch->rcpt, m->orgs, m->norgs, &off->orgs) < 0 ||
        keep_array(&r->batch->rcpt, m->peers, m->npeers, &off->peers) < 0)
        return kz_error_set(err, KZ_ENOMEM, "out of memory keeping an object's recipients");
    return 0;
}

/* The write policy of each held object, in order, and what the store is
 * to record beside those it allows. */
static int decide(struct ingest_run *r, unsigned *nput, struct kz_error *err)
{
    struct ingest_batch *b = r->batch;
    struct meta_offsets off[STORE_PUT_BATCH];
    unsigned i, k = 0;

    kz_buf_reset(&b->rcpt);
    for (i = 0; i < b->n; i++) {
        struct prepared *p = b->held[i];
        if (p->rejected ||
            (r->opts->allow && r->opts->allow(r->opts->allow_ctx, &p->o, &p->why) < 0) ||
            (is_tombstone(p) && tombstone_check(&p->o, &p->why) < 0)) {
            b->fate[i] = HELD_REJECT;
            r->failed_strict = r->opts->strict;
            continue;
        }
        if (r->failed_strict) {
            b->fate[i] = HELD_SKIP; /* nothing will land: skip the store's work */
            continue;
        }
        if (decide_meta(r, p, &b->metas[k], &off[k], err) < 0)
            return -1;
        b->fate[i] = HELD_PUT;
        b->item[i] = k;
        b->items[k].o = &p->o;
        b->items[k].raw = p->raw.data;
        b->items[k].rawlen = p->raw.len;
        b->items[k].meta = &b->metas[k];
        k++;
    }
    for (i = 0; i < k; i++) {
        const int64_t *base = (const int64_t *)b->rcpt.data;
        b->metas[i].users = base ? base + off[i].users / sizeof(int64_t) : NULL;
        b->metas[i].orgs = base ? base + off[i].orgs / sizeof(int64_t) : NULL;
        b->metas[i].peers = base ? base + off[i].peers / sizeof(int64_t) : NULL;
    }
    *nput = k;
    return 0;
}

/* What a stored object leads to: a tombstone's deletions, and its report. */
static int stored(struct ingest_run *r, struct prepared *p, const struct store_put_item *it,
                  struct kz_error *err)
{
    if (it->result == STORE_ADDED && is_tombstone(p) &&
        (r->opts->delete_any || r->opts->delete_vis)) {
        uint64_t deleted;
        if (tombstone_apply(r->s, r->collection, &p->o,
                            r->opts->delete_any ? NULL : r->opts->delete_vis,
                            r->opts->delete_origin, &deleted, &p->why) < 0) {
            *err = p->why;
            return -1;
        }
    }
    if (r->opts->strict && r->counts->rejected)
        return 0; /* all of it rolls back: as if it had not been stored */
    ingest_report_stored(r, p, it->result, it->added);
    return 0;
}

static int prefetch(struct ingest_run *r, struct kz_error *err)
{
    struct ingest_batch *b = r->batch;
    unsigned i, n = 0;

    if (!r->opts->prefetch)
        return 0;
    for (i = 0; i < b->n; i++)
        if (!b->held[i]->rejected)
            b->objs[n++] = &b->held[i]->o;
    return n ? r->opts->prefetch(r->opts->prefetch_ctx, b->objs, n, err) : 0;
}

int ingest_flush(struct ingest_run *r, struct kz_error *err)
{
    struct ingest_batch *b = r->batch;
    unsigned i, n = b->n, nput = 0;

    if (n == 0)
        return 0;
    if (prefetch(r, err) < 0 || decide(r, &nput, err) < 0 ||
        (nput && store_put_many(r->s, r->collection, b->items, nput, err) < 0))
        return -1;
    for (i = 0; i < n; i++) {
        struct prepared *p = b->held[i];
        struct store_put_item *it = &b->items[b->item[i]];
        if (b->fate[i] == HELD_REJECT) {
            ingest_reject(r, p, &p->why,
                          p->rejected && p->more_errors.len ? p->more_errors.data : NULL);
        } else if (b->fate[i] == HELD_PUT && it->refused) {
            r->failed_strict = r->opts->strict;
            ingest_reject(r, p, &it->why, NULL);
        } else if (b->fate[i] == HELD_PUT && stored(r, p, it, err) < 0) {
            return -1;
        }
    }
    b->n = 0;
    return (int)n;
}

int ingest_add(struct ingest_run *r, struct prepared *p, struct kz_error *err)
{
    struct ingest_batch *b = r->batch;
    int released = 0;

    if (b->n == STORE_PUT_BATCH || is_tombstone(p) ||
        (b->n && !p->rejected && holds_id(b, p->o.id))) {
        released = ingest_flush(r, err);
        if (released < 0)
            return -1;
    }
    b->held[b->n++] = p;
    if (is_tombstone(p)) {
        int alone = ingest_flush(r, err);
        if (alone < 0)
            return -1;
        released += alone;
    }
    return released;
}

void ingest_discard(struct ingest_run *r)
{
    r->batch->n = 0;
}
