/*
 * The ingest loop over stix_read: validate, minify, store, report. The whole
 * input is one transaction, so a reader of the store sees all of it or none
 * of it, and a crash half-way leaves the store as it was.
 */
#include "ingest/ingest.h"
#include "ingest/ingest_int.h"
#include "ingest/tombstone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_objects.h"
#include "util/kztime.h"

void ingest_finding_error(const struct stix_obj *o, const char *file, size_t index,
                          const struct stix_finding *f, struct kz_error *err)
{
    kz_error_clear(err);
    kz_error_file(err, file);
    if (o->id[0])
        kz_error_object(err, "objects[%zu] %s", index, o->id);
    else
        kz_error_object(err, "objects[%zu]", index);
    kz_error_property(err, "%s", f->property);
    kz_error_set(err, KZ_EINVALID, "%s", f->rule);
}

void prepared_init(struct prepared *p)
{
    memset(p, 0, sizeof(*p));
    kzj_doc_init(&p->doc);
    kz_buf_init(&p->raw, KZ_MAX_OBJECT_BYTES);
    kz_buf_init(&p->more_errors, KZ_MAX_FINDINGS_PER_OBJECT * sizeof(struct stix_finding));
}

void prepared_free(struct prepared *p)
{
    kzj_doc_free(&p->doc);
    kz_buf_free(&p->raw);
    kz_buf_free(&p->more_errors);
}

/* The first error finding into p->why, the others into p->more_errors: a
 * user fixing a file wants every error of an object at once. */
static void keep_errors(const struct ingest_opts *opts, const struct stix_findings *findings,
                        size_t index, struct prepared *p)
{
    int first = 1;

    for (unsigned i = 0; i < findings->n; i++) {
        const struct stix_finding *f = &findings->items[i];
        if (f->warning)
            continue;
        if (first)
            ingest_finding_error(&p->o, opts->name, index, f, &p->why);
        else
            kz_buf_printf(&p->more_errors, "%s\t%s\n", f->property, f->rule);
        first = 0;
    }
    if (findings->errors > findings->n)
        kz_buf_printf(&p->more_errors, "\t(%u more errors not shown)\n",
                      findings->errors - findings->n);
}

int ingest_prepare(const struct ingest_opts *opts, struct stix_findings *findings, size_t index,
                   const struct kzj_doc *doc, uint32_t node, struct prepared *p,
                   struct kz_error *err)
{
    p->index = index;
    p->rejected = 0;
    kz_error_clear(&p->why);
    kz_buf_reset(&p->raw);
    kz_buf_reset(&p->more_errors);
    if (stix_obj_read(doc, node, &p->o, &p->why) < 0) {
        /* not even an object: the container is broken, as with bad JSON */
        kz_error_file(err, opts->name);
        kz_error_object(err, "objects[%zu]", index);
        return kz_error_set(err, KZ_EINVALID, "an element of \"objects\" must be a JSON object");
    }
    if (stix_validate(&p->o, findings) > 0) {
        keep_errors(opts, findings, index, p);
        p->rejected = 1;
        return 0;
    }
    if (kzj_minify(doc->buf + doc->nodes[node].off, doc->nodes[node].len, &p->raw) < 0)
        return kz_error_set(err, KZ_ENOMEM, "out of memory copying an object");
    return 0;
}

static void report(struct ingest_run *r, size_t index, const struct stix_obj *o,
                   enum ingest_outcome outcome, int64_t added, const struct kz_error *why,
                   const char *more_errors)
{
    struct ingest_report rep = {.index = index,
                                .id = o->id,
                                .version = o->version,
                                .outcome = outcome,
                                .added = added,
                                .why = why,
                                .more_errors = more_errors};
    char version[KZ_TS_MICROS_LEN];

    /* an object without created/modified has the version the store gave
     * it: the date its content was first added */
    if (!o->version[0] && outcome != INGEST_REJECTED) {
        kz_ts_format_micros(added, version);
        rep.version = version;
    }

    if (outcome == INGEST_ADDED)
        r->counts->added++;
    else if (outcome == INGEST_DUPLICATE)
        r->counts->duplicates++;
    else
        r->counts->rejected++;
    if (r->opts->report)
        r->opts->report(r->opts->report_ctx, &rep);
}

void ingest_reject(struct ingest_run *r, struct prepared *p, struct kz_error *why,
                   const char *more_errors)
{
    const struct stix_obj *o = &p->o;

    kz_error_file(why, r->opts->name);
    if (!why->object[0]) {
        if (o->id[0])
            kz_error_object(why, "objects[%zu] %s", p->index, o->id);
        else
            kz_error_object(why, "objects[%zu]", p->index);
    }
    report(r, p->index, o, INGEST_REJECTED, 0, why, more_errors);
}

void ingest_report_stored(struct ingest_run *r, struct prepared *p, enum store_put_result res,
                          int64_t added)
{
    report(r, p->index, &p->o, res == STORE_ADDED ? INGEST_ADDED : INGEST_DUPLICATE, added, NULL,
           NULL);
}

/* The sequential path: each object's tape is copied into the next slot of
 * the ring (stix_read keeps one object's tape at a time), which stays held
 * until its batch is stored. */
static int on_object(void *ctx, size_t index, const struct kzj_doc *doc, uint32_t node,
                     struct kz_error *err)
{
    struct ingest_run *r = ctx;
    struct prepared *p = &r->ring[r->taken++ % INGEST_RING];

    if (kzj_doc_copy(&p->doc, doc, err) < 0 ||
        ingest_prepare(r->opts, r->findings, index, &p->doc, node, p, err) < 0)
        return -1;
    return ingest_add(r, p, err) < 0 ? -1 : 0;
}

static int read_sequential(struct ingest_run *r, const char *buf, size_t len,
                           struct stix_container *info, struct kz_error *err)
{
    int rc = -1;
    size_t i;

    r->findings = malloc(sizeof(*r->findings));
    r->ring = calloc(INGEST_RING, sizeof(*r->ring));
    if (!r->findings || !r->ring) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < INGEST_RING; i++)
        prepared_init(&r->ring[i]);
    rc = stix_read(buf, len, on_object, r, info, err);
    if (rc == 0 && ingest_flush(r, err) < 0)
        rc = -1;
    for (i = 0; i < INGEST_RING; i++)
        prepared_free(&r->ring[i]);
out:
    ingest_discard(r);
    free(r->ring);
    free(r->findings);
    return rc;
}

static int read_all(struct ingest_run *r, const char *buf, size_t len, struct stix_container *info,
                    struct kz_error *err)
{
    int rc;

    r->batch = ingest_batch_new();
    if (!r->batch)
        return kz_error_set(err, KZ_ENOMEM, "out of memory");
    if (len >= INGEST_PIPELINE_MIN_BYTES)
        rc = ingest_pipeline(r, r->opts, buf, len, info, err);
    else
        rc = read_sequential(r, buf, len, info, err);
    ingest_batch_free(r->batch);
    r->batch = NULL;
    return rc;
}

static int tx_begin(struct store *s, const struct ingest_opts *opts, struct kz_error *err)
{
    return opts->step ? store_step_begin(s, err) : store_begin(s, err);
}

static int tx_commit(struct store *s, const struct ingest_opts *opts, struct kz_error *err)
{
    return opts->step ? store_step_release(s, err) : store_commit(s, err);
}

static void tx_rollback(struct store *s, const struct ingest_opts *opts)
{
    if (opts->step)
        store_step_rollback(s);
    else
        store_rollback(s);
}

int ingest_buffer(struct store *s, int64_t collection, const char *buf, size_t len,
                  const struct ingest_opts *opts, struct ingest_counts *counts,
                  struct kz_error *err)
{
    struct ingest_run r = {.s = s, .collection = collection, .opts = opts, .counts = counts};
    struct stix_container info;

    memset(counts, 0, sizeof(*counts));
    if (tx_begin(s, opts, err) < 0)
        return -1;
    if (read_all(&r, buf, len, &info, err) < 0 ||
        (opts->stix_file && stix_container_check(&info, err) < 0)) {
        if (!err->file[0])
            kz_error_file(err, opts->name);
        goto fail;
    }
    if (opts->strict && counts->rejected) {
        tx_rollback(s, opts);
        counts->rolled_back = 1;
        counts->added = counts->duplicates = 0;
        return 0;
    }
    if ((opts->before_commit && opts->before_commit(opts->commit_ctx, &info, err) < 0) ||
        tx_commit(s, opts, err) < 0)
        goto fail;
    return 0;
fail:
    tx_rollback(s, opts);
    counts->added = counts->duplicates = 0;
    return -1;
}
