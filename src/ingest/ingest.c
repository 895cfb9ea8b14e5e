/*
 * The ingest loop over stix_read: validate, minify, store, report. The whole
 * input is one transaction, so a reader of the store sees all of it or none
 * of it, and a crash half-way leaves the store as it was.
 */
#include "ingest/ingest.h"
#include "ingest/tombstone.h"

#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/kztime.h"

struct run {
    struct store *s;
    int64_t collection;
    const struct ingest_opts *opts;
    struct ingest_counts *counts;
    struct stix_findings findings;
    struct kz_buf raw;
    int failed; /* a store error, not a rejection */
};

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

static void report(struct run *r, size_t index, const struct stix_obj *o,
                   enum ingest_outcome outcome, int64_t added, const struct kz_error *why)
{
    struct ingest_report rep = {.index = index,
                                .id = o->id,
                                .version = o->version,
                                .outcome = outcome,
                                .added = added,
                                .why = why};
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

static void reject(struct run *r, size_t index, const struct stix_obj *o, struct kz_error *why)
{
    kz_error_file(why, r->opts->name);
    if (!why->object[0]) {
        if (o->id[0])
            kz_error_object(why, "objects[%zu] %s", index, o->id);
        else
            kz_error_object(why, "objects[%zu]", index);
    }
    report(r, index, o, INGEST_REJECTED, 0, why);
}

static int on_object(void *ctx, size_t index, const struct kzj_doc *doc, uint32_t node,
                     struct kz_error *err)
{
    struct run *r = ctx;
    struct stix_obj o;
    struct kz_error why;
    enum store_put_result res;
    struct store_put_meta meta;
    int64_t added;

    kz_error_clear(&why);
    if (stix_obj_read(doc, node, &o, &why) < 0) {
        /* not even an object: the container is broken, as with bad JSON */
        kz_error_file(err, r->opts->name);
        kz_error_object(err, "objects[%zu]", index);
        return kz_error_set(err, KZ_EINVALID, "an element of \"objects\" must be a JSON object");
    }
    if (stix_validate(&o, &r->findings) > 0) {
        for (unsigned i = 0; i < r->findings.n; i++) {
            if (!r->findings.items[i].warning) {
                ingest_finding_error(&o, r->opts->name, index, &r->findings.items[i], &why);
                break;
            }
        }
        reject(r, index, &o, &why);
        return 0;
    }
    if (r->opts->allow && r->opts->allow(r->opts->allow_ctx, &o, &why) < 0) {
        reject(r, index, &o, &why);
        return 0;
    }
    if (strcmp(o.type, TOMBSTONE_TYPE) == 0 && tombstone_check(&o, &why) < 0) {
        reject(r, index, &o, &why);
        return 0;
    }
    if (r->opts->strict && r->counts->rejected)
        return 0; /* nothing will land: skip the store work */
    kz_buf_reset(&r->raw);
    if (kzj_minify(doc->buf + doc->nodes[node].off, doc->nodes[node].len, &r->raw) < 0)
        return kz_error_set(err, KZ_ENOMEM, "out of memory copying an object");
    memset(&meta, 0, sizeof(meta));
    if (r->opts->meta && r->opts->meta(r->opts->meta_ctx, &o, &meta, &why) < 0) {
        *err = why;
        return -1;
    }
    if (store_put(r->s, r->collection, &o, r->raw.data, r->raw.len, &meta, &res, &added, &why) <
        0) {
        if (why.code == KZ_ECONFLICT || why.code == KZ_EINVALID) {
            reject(r, index, &o, &why);
            return 0;
        }
        *err = why;
        r->failed = 1;
        return -1;
    }
    if (res == STORE_ADDED && strcmp(o.type, TOMBSTONE_TYPE) == 0) {
        uint64_t deleted;
        if (tombstone_apply(r->s, r->collection, &o, &deleted, &why) < 0) {
            *err = why;
            return -1;
        }
    }
    report(r, index, &o, res == STORE_ADDED ? INGEST_ADDED : INGEST_DUPLICATE, added, NULL);
    return 0;
}

int ingest_buffer(struct store *s, int64_t collection, const char *buf, size_t len,
                  const struct ingest_opts *opts, struct ingest_counts *counts,
                  struct kz_error *err)
{
    struct run r = {.s = s, .collection = collection, .opts = opts, .counts = counts};
    struct stix_container info;
    int rc = -1;

    memset(counts, 0, sizeof(*counts));
    kz_buf_init(&r.raw, KZ_MAX_OBJECT_BYTES);
    if (store_begin(s, err) < 0)
        goto out;
    if (stix_read(buf, len, on_object, &r, &info, err) < 0) {
        if (!err->file[0])
            kz_error_file(err, opts->name);
        store_rollback(s);
        counts->added = counts->duplicates = 0;
        goto out;
    }
    if (opts->strict && counts->rejected) {
        store_rollback(s);
        counts->rolled_back = 1;
        counts->added = counts->duplicates = 0;
        rc = 0;
        goto out;
    }
    if (opts->before_commit && opts->before_commit(opts->commit_ctx, &info, err) < 0) {
        store_rollback(s);
        counts->added = counts->duplicates = 0;
        goto out;
    }
    if (store_commit(s, err) < 0) {
        store_rollback(s);
        counts->added = counts->duplicates = 0;
        goto out;
    }
    rc = 0;
out:
    kz_buf_free(&r.raw);
    return rc;
}
