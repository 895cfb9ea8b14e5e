/*
 * Building and applying tombstones. A tombstone copies from the deleted
 * object exactly the properties policy/ decides visibility by
 * (created_by_ref, object_marking_refs, granular_markings, extensions), so
 * it is shown and forwarded to the same readers and peers, and nothing else.
 */
#include "ingest/tombstone.h"

#include <string.h>

#include "json/json.h"
#include "store/store_objects.h"
#include "util/kztime.h"
#include "util/uuid.h"

static const char *const copied[] = {"created_by_ref", "object_marking_refs", "granular_markings",
                                     "extensions", NULL};

int tombstone_build(const char *deleted, size_t len, const char *const *versions, size_t nversions,
                    struct kz_buf *out, struct kz_error *err)
{
    struct kzj_doc d;
    char uuid[KZ_UUID_LEN], now[KZ_TS_MILLIS_LEN], id[KZ_MAX_STIX_ID + 1];
    uint32_t v;
    int rc = -1;

    kzj_doc_init(&d);
    if (kzj_parse(&d, deleted, len, err) < 0)
        goto out;
    v = KZJ_GET(&d, 0, "id");
    if (!v || kzj_strcpy(&d, v, id, sizeof(id)) < 0) {
        kz_error_set(err, KZ_EINVALID, "the deleted object has no id");
        goto out;
    }
    kz_uuid_v4(uuid);
    kz_ts_format_millis(kz_now_micros(), now);
    kz_buf_printf(out,
                  "{\"type\":\"" TOMBSTONE_TYPE
                  "\",\"spec_version\":\"2.1\",\"id\":\"" TOMBSTONE_TYPE
                  "--%s\",\"created\":\"%s\",\"modified\":\"%s\",\"object_ref\":\"",
                  uuid, now, now);
    kz_buf_add_json_escaped(out, id, strlen(id));
    kz_buf_addc(out, '"');
    if (nversions) {
        kz_buf_addstr(out, ",\"object_versions\":[");
        for (size_t i = 0; i < nversions; i++) {
            kz_buf_addstr(out, i ? ",\"" : "\"");
            kz_buf_add_json_escaped(out, versions[i], strlen(versions[i]));
            kz_buf_addc(out, '"');
        }
        kz_buf_addc(out, ']');
    }
    for (int i = 0; copied[i]; i++) {
        v = kzj_get(&d, 0, copied[i], strlen(copied[i]));
        if (!v)
            continue;
        kz_buf_printf(out, ",\"%s\":", copied[i]);
        kz_buf_add(out, kzj_raw(&d, v), kzj_at(&d, v)->len);
    }
    kz_buf_addc(out, '}');
    if (out->failed) {
        kz_error_set(err, KZ_ELIMIT, "the tombstone is too large");
        goto out;
    }
    rc = 0;
out:
    kzj_doc_free(&d);
    return rc;
}

/* Reads what a tombstone deletes into id and f; -1 when it is malformed. */
static int read_tombstone(const struct stix_obj *o, int64_t collection, char *id, size_t cap,
                          struct store_filter *f, struct kz_error *err)
{
    const struct kzj_doc *d = o->doc;
    uint32_t ref = KZJ_GET(d, o->node, "object_ref");
    uint32_t vers = KZJ_GET(d, o->node, "object_versions");

    if (!ref || kzj_strcpy(d, ref, id, cap) < 0 || !strstr(id, "--")) {
        kz_error_property(err, "object_ref");
        return kz_error_set(err, KZ_EINVALID, "a tombstone needs the id of what it deletes");
    }
    if (strncmp(id, TOMBSTONE_TYPE "--", sizeof(TOMBSTONE_TYPE) + 1) == 0) {
        kz_error_property(err, "object_ref");
        return kz_error_set(err, KZ_EINVALID, "a tombstone cannot delete a tombstone");
    }
    store_filter_init(f, collection);
    if (!vers) {
        f->versions = STORE_V_ALL;
    } else {
        if (kzj_type(d, vers) != KZJ_ARRAY) {
            kz_error_property(err, "object_versions");
            return kz_error_set(err, KZ_EINVALID, "must be a list of timestamps");
        }
        KZJ_FOREACH_ELEM(d, vers, e)
        {
            char text[64];
            struct kz_ts t;
            const char *why;
            if (f->nversion_times >= STORE_MAX_FILTER_VALUES ||
                kzj_strcpy(d, e, text, sizeof(text)) < 0 ||
                kz_ts_parse(text, strlen(text), &t, &why) < 0) {
                kz_error_property(err, "object_versions");
                return kz_error_set(err, KZ_EINVALID, "must be a list of at most %d timestamps",
                                    STORE_MAX_FILTER_VALUES);
            }
            f->version_times[f->nversion_times++] = kz_ts_micros(&t);
        }
    }
    return 0;
}

int tombstone_check(const struct stix_obj *o, struct kz_error *err)
{
    char id[KZ_MAX_STIX_ID + 1];
    struct store_filter f;

    return read_tombstone(o, 0, id, sizeof(id), &f, err);
}

int tombstone_apply(struct store *s, int64_t collection, const struct stix_obj *o,
                    const struct store_visibility *vis, int64_t origin, uint64_t *deleted,
                    struct kz_error *err)
{
    char id[KZ_MAX_STIX_ID + 1];
    struct store_filter f;

    *deleted = 0;
    if (read_tombstone(o, collection, id, sizeof(id), &f, err) < 0)
        return -1;
    if (vis) {
        /* a sender deletes what it could see, or sent: never what it could
         * not have known of */
        f.vis = *vis;
        f.vis.active = 1;
        f.own_origin = origin;
    }
    return store_delete(s, collection, id, &f, deleted, err);
}
