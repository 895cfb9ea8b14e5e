/*
 * Reading the containers STIX travels in: a bundle {"type": "bundle", "id",
 * "objects"}, a TAXII envelope {"more", "next", "objects"}, or one bare
 * object. The top level is read key by key and the "objects" list element
 * by element, so only one object's tape is in memory at a time however large
 * the file. Producers put "type" first; when "objects" comes before it, the
 * list is parsed once to find its end and streamed after the kind is known.
 */
#include "stix/stix.h"

#include <stdio.h>
#include <string.h>

#include "util/uuid.h"

struct reader {
    const char *buf;
    size_t len;
    size_t pos;
    struct kzj_doc obj;     /* one element of "objects" */
    struct kzj_doc scratch; /* keys and other top-level values */
    struct kz_error *err;
};

static int expect(struct reader *r, char c, const char *what)
{
    char where[64];

    r->pos = kzj_skip_ws(r->buf, r->len, r->pos);
    if (r->pos < r->len && r->buf[r->pos] == c) {
        r->pos++;
        return 0;
    }
    kzj_position(r->buf, r->len, r->pos, where, sizeof(where));
    return kz_error_set(r->err, KZ_EINVALID, "%s: expected %s", where, what);
}

static int peek(struct reader *r, char c)
{
    r->pos = kzj_skip_ws(r->buf, r->len, r->pos);
    return r->pos < r->len && r->buf[r->pos] == c;
}

/* Streams (fn != NULL) or only checks (fn == NULL) the list at r->pos. */
static int read_objects(struct reader *r, stix_object_fn fn, void *ctx, size_t *count)
{
    size_t i = 0;

    if (!peek(r, '['))
        return kz_error_set(r->err, KZ_EINVALID, "\"objects\" must be a list");
    r->pos++;
    if (peek(r, ']')) {
        r->pos++;
        *count = 0;
        return 0;
    }
    for (;;) {
        if (i >= KZ_MAX_BUNDLE_OBJECTS)
            return kz_error_set(r->err, KZ_ELIMIT, "more than %u objects in one file",
                                KZ_MAX_BUNDLE_OBJECTS);
        if (kzj_parse_at(&r->obj, r->buf, r->len, &r->pos, r->err) < 0) {
            kz_error_object(r->err, "objects[%zu]", i);
            return -1;
        }
        if (r->obj.nodes[0].len > KZ_MAX_OBJECT_BYTES) {
            kz_error_object(r->err, "objects[%zu]", i);
            return kz_error_set(r->err, KZ_ELIMIT, "object is larger than the %zu MiB limit",
                                KZ_MAX_OBJECT_BYTES >> 20);
        }
        if (fn && fn(ctx, i, &r->obj, 0, r->err) < 0)
            return -1;
        i++;
        if (peek(r, ',')) {
            r->pos++;
            continue;
        }
        if (expect(r, ']', "',' or ']' after an element of \"objects\"") < 0)
            return -1;
        break;
    }
    *count = i;
    return 0;
}

static int read_single(struct reader *r, stix_object_fn fn, void *ctx, struct stix_container *info)
{
    if (kzj_parse(&r->obj, r->buf, r->len, r->err) < 0)
        return -1;
    if (r->obj.nodes[0].len > KZ_MAX_OBJECT_BYTES)
        return kz_error_set(r->err, KZ_ELIMIT, "object is larger than the %zu MiB limit",
                            KZ_MAX_OBJECT_BYTES >> 20);
    info->kind = STIX_SINGLE;
    info->count = 1;
    return fn(ctx, 0, &r->obj, 0, r->err);
}

/* Handles one top-level member other than "objects" (already parsed into
 * r->scratch, value at node 0). Sets *single when the file is one object. */
static int top_member(struct reader *r, const char *key, struct stix_container *info,
                      int *seen_type, int *single)
{
    struct kzj_doc *d = &r->scratch;

    if (strlen(info->keys) + strlen(key) + 3 < sizeof(info->keys))
        snprintf(info->keys + strlen(info->keys), sizeof(info->keys) - strlen(info->keys), "%s%s",
                 info->keys[0] ? ", " : "", key);
    if (strcmp(key, "type") == 0) {
        *seen_type = 1;
        if (kzj_type(d, 0) == KZJ_STRING && KZJ_STR_EQ(d, 0, "bundle"))
            info->kind = STIX_BUNDLE;
        else
            *single = 1;
    } else if (strcmp(key, "id") == 0) {
        if (kzj_type(d, 0) != KZJ_STRING || kzj_strcpy(d, 0, info->id, sizeof(info->id)) < 0)
            info->id[0] = '\0';
    } else if (strcmp(key, "spec_version") == 0) {
        if (kzj_type(d, 0) != KZJ_STRING ||
            kzj_strcpy(d, 0, info->spec_version, sizeof(info->spec_version)) < 0)
            snprintf(info->spec_version, sizeof(info->spec_version), "?");
    } else if (strcmp(key, "more") == 0) {
        info->more = kzj_type(d, 0) == KZJ_TRUE;
        info->has_paging = 1;
    } else if (strcmp(key, "next") == 0) {
        info->has_paging = 1;
        if (kzj_type(d, 0) != KZJ_STRING || kzj_strcpy(d, 0, info->next, sizeof(info->next)) < 0)
            info->next[0] = '\0';
    }
    return 0;
}

static int check_bundle_id(struct reader *r, const struct stix_container *info)
{
    const char *id = info->id;

    if (strncmp(id, "bundle--", 8) != 0 || !kz_uuid_valid(id + 8, strlen(id + 8))) {
        kz_error_property(r->err, "id");
        return kz_error_set(r->err, KZ_EINVALID,
                            "a bundle's id must be \"bundle--\" and an RFC 4122 UUID");
    }
    return 0;
}

int stix_container_check(const struct stix_container *info, struct kz_error *err)
{
    if (info->kind == STIX_BUNDLE && info->spec_version[0]) {
        kz_error_property(err, "spec_version");
        return kz_error_set(err, KZ_EINVALID,
                            "STIX %s content (a bundle with a spec_version of its own): kizuna "
                            "reads STIX 2.1",
                            info->spec_version);
    }
    if (info->kind == STIX_ENVELOPE && !info->has_objects && !info->has_paging)
        return kz_error_set(err, KZ_EINVALID,
                            "not a STIX 2.1 bundle or envelope: no \"type\" and no \"objects\" "
                            "(top-level keys: %s)",
                            info->keys[0] ? info->keys : "none");
    return 0;
}

int stix_read(const char *buf, size_t len, stix_object_fn fn, void *ctx,
              struct stix_container *info, struct kz_error *err)
{
    struct reader r = {.buf = buf, .len = len, .err = err};
    size_t objects_at = 0, count = 0;
    int seen_type = 0, single = 0, seen_objects = 0, streamed = 0, rc = -1;
    char key[64];

    memset(info, 0, sizeof(*info));
    kzj_doc_init(&r.obj);
    kzj_doc_init(&r.scratch);
    if (expect(&r, '{', "a JSON object (a bundle, an envelope or a STIX object)") < 0)
        goto out;
    while (!peek(&r, '}')) {
        if (kzj_parse_at(&r.scratch, buf, len, &r.pos, err) < 0)
            goto out;
        if (kzj_type(&r.scratch, 0) != KZJ_STRING) {
            kz_error_set(err, KZ_EINVALID, "expected a string key at the top level");
            goto out;
        }
        if (kzj_strcpy(&r.scratch, 0, key, sizeof(key)) < 0)
            key[0] = '\0'; /* a long or odd key: not one we act on */
        if (expect(&r, ':', "':' after a key") < 0)
            goto out;
        if (strcmp(key, "objects") == 0 && !single) {
            if (seen_objects) {
                kz_error_set(err, KZ_EINVALID, "\"objects\" appears twice");
                goto out;
            }
            seen_objects = 1;
            info->has_objects = 1;
            objects_at = r.pos;
            streamed = seen_type;
            if (read_objects(&r, seen_type ? fn : NULL, ctx, &count) < 0)
                goto out;
        } else {
            if (kzj_parse_at(&r.scratch, buf, len, &r.pos, err) < 0)
                goto out;
            top_member(&r, key, info, &seen_type, &single);
        }
        if (!peek(&r, ','))
            break;
        r.pos++;
    }
    if (expect(&r, '}', "',' or '}' after a top-level member") < 0)
        goto out;
    r.pos = kzj_skip_ws(buf, len, r.pos);
    if (r.pos != len) {
        char where[64];
        kzj_position(buf, len, r.pos, where, sizeof(where));
        kz_error_set(err, KZ_EINVALID, "%s: unexpected text after the top-level object", where);
        goto out;
    }
    if (single) {
        rc = read_single(&r, fn, ctx, info);
        goto out;
    }
    if (!seen_type)
        info->kind = STIX_ENVELOPE;
    else if (check_bundle_id(&r, info) < 0)
        goto out;
    if (seen_objects && !streamed) {
        r.pos = objects_at;
        if (read_objects(&r, fn, ctx, &count) < 0)
            goto out;
    }
    info->count = count;
    rc = 0;
out:
    kzj_doc_free(&r.obj);
    kzj_doc_free(&r.scratch);
    return rc;
}
