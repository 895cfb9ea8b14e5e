/*
 * Reading the common properties of one STIX object off its tape, and the
 * fixed facts of the specification that go with them: which types are SDOs,
 * SROs, SCOs and meta objects, and which marking-definition ids are TLP.
 * This runs for every object of every import, so it makes one pass over the
 * object's members and copies only what the store indexes.
 */
#include "stix/stix.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/kztime.h"

static const char *const sdo_types[] = {
        "attack-pattern", "campaign",      "course-of-action", "grouping",
        "identity",       "incident",      "indicator",        "infrastructure",
        "intrusion-set",  "location",      "malware",          "malware-analysis",
        "note",           "observed-data", "opinion",          "report",
        "threat-actor",   "tool",          "vulnerability",    NULL,
};
static const char *const sro_types[] = {"relationship", "sighting", NULL};
static const char *const sco_types[] = {
        "artifact",
        "autonomous-system",
        "directory",
        "domain-name",
        "email-addr",
        "email-message",
        "file",
        "ipv4-addr",
        "ipv6-addr",
        "mac-addr",
        "mutex",
        "network-traffic",
        "process",
        "software",
        "url",
        "user-account",
        "windows-registry-key",
        "x509-certificate",
        NULL,
};
static const char *const meta_types[] = {"language-content", "marking-definition",
                                         "extension-definition", NULL};

static int in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

enum stix_class stix_type_class(const char *type)
{
    if (in_list(sdo_types, type))
        return STIX_SDO;
    if (in_list(sro_types, type))
        return STIX_SRO;
    if (in_list(sco_types, type))
        return STIX_SCO;
    if (in_list(meta_types, type))
        return STIX_META;
    return STIX_CLASS_CUSTOM;
}

static const struct {
    const char *id;
    enum stix_tlp level;
} tlp_ids[] = {
        {"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", STIX_TLP_CLEAR},
        {"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", STIX_TLP_GREEN},
        {"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", STIX_TLP_AMBER},
        {"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", STIX_TLP_AMBER_STRICT},
        {"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", STIX_TLP_RED},
        /* TLP 1.0, still common on the wire */
        {"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", STIX_TLP_CLEAR},
        {"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", STIX_TLP_GREEN},
        {"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", STIX_TLP_AMBER},
        {"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", STIX_TLP_RED},
};

enum stix_tlp stix_tlp_of_marking(const char *id, size_t n)
{
    /* all nine ids share the same length: reject others without comparing */
    if (n != 56)
        return STIX_TLP_NONE;
    for (size_t i = 0; i < sizeof(tlp_ids) / sizeof(tlp_ids[0]); i++)
        if (memcmp(tlp_ids[i].id, id, n) == 0)
            return tlp_ids[i].level;
    return STIX_TLP_NONE;
}

const char *stix_tlp_name(enum stix_tlp t)
{
    switch (t) {
    case STIX_TLP_CLEAR: return "TLP:CLEAR";
    case STIX_TLP_GREEN: return "TLP:GREEN";
    case STIX_TLP_AMBER: return "TLP:AMBER";
    case STIX_TLP_AMBER_STRICT: return "TLP:AMBER+STRICT";
    case STIX_TLP_RED: return "TLP:RED";
    default: return "";
    }
}

const char *stix_tlp_marking_id(enum stix_tlp t)
{
    if (t < STIX_TLP_CLEAR || t > STIX_TLP_RED)
        return "";
    return tlp_ids[t - STIX_TLP_CLEAR].id;
}

int stix_tlp_parse(const char *s, enum stix_tlp *out)
{
    static const char *const names[] = {"clear", "green", "amber", "amber+strict", "red"};

    if (strncasecmp(s, "tlp:", 4) == 0)
        s += 4;
    for (int i = 0; i < 5; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (enum stix_tlp)(STIX_TLP_CLEAR + i);
            return 0;
        }
    }
    if (strcasecmp(s, "white") == 0) {
        *out = STIX_TLP_CLEAR;
        return 0;
    }
    return -1;
}

/* Whether a decoded key p[0..n) is the literal. Keys are compared decoded,
 * so "object\u005fmarking_refs" is object_marking_refs: a reader that
 * skipped escaped keys would let the validator and the policy disagree on
 * what an object says (a TLP:RED object served as the default level). */
#define KEY_IS(p, n, lit) ((n) == sizeof(lit) - 1 && memcmp((p), lit, sizeof(lit) - 1) == 0)

static void copy_str(const struct kzj_doc *d, uint32_t v, char *out, size_t cap)
{
    if (kzj_type(d, v) != KZJ_STRING || kzj_strcpy(d, v, out, cap) < 0)
        out[0] = '\0';
}

static int read_time(const struct kzj_doc *d, uint32_t v, int64_t *us)
{
    const char *p, *why;
    size_t n;
    char tmp[64];
    struct kz_ts ts;

    if (kzj_type(d, v) != KZJ_STRING || kzj_str(d, v, tmp, sizeof(tmp), &p, &n) < 0 ||
        kz_ts_parse(p, n, &ts, &why) < 0)
        return -1;
    *us = kz_ts_micros(&ts);
    return 0;
}

/* The TLP level of marking id string node v, decoded: an escaped id names
 * the same marking as its plain spelling. */
static enum stix_tlp tlp_of_node(const struct kzj_doc *d, uint32_t v)
{
    char tmp[KZ_MAX_STIX_ID + 1];
    const char *p;
    size_t n;

    if (kzj_type(d, v) != KZJ_STRING || kzj_str(d, v, tmp, sizeof(tmp), &p, &n) < 0)
        return STIX_TLP_NONE;
    return stix_tlp_of_marking(p, n);
}

static enum stix_tlp marking_level(const struct kzj_doc *d, uint32_t arr)
{
    enum stix_tlp worst = STIX_TLP_NONE;

    if (kzj_type(d, arr) != KZJ_ARRAY)
        return STIX_TLP_NONE;
    KZJ_FOREACH_ELEM(d, arr, e)
    {
        enum stix_tlp t = tlp_of_node(d, e);
        if (t > worst)
            worst = t;
    }
    return worst;
}

/* Granular markings mark parts of an object; kizuna does not serve parts,
 * so the most restrictive TLP among them applies to the whole object. */
static enum stix_tlp granular_level(const struct kzj_doc *d, uint32_t arr, enum stix_tlp worst)
{
    if (kzj_type(d, arr) != KZJ_ARRAY)
        return worst;
    KZJ_FOREACH_ELEM(d, arr, e)
    {
        uint32_t ref = KZJ_GET(d, e, "marking_ref");
        enum stix_tlp t = ref ? tlp_of_node(d, ref) : STIX_TLP_NONE;
        if (t > worst)
            worst = t;
    }
    return worst;
}

int stix_obj_read(const struct kzj_doc *d, uint32_t node, struct stix_obj *o, struct kz_error *err)
{
    uint32_t created = 0, modified = 0, granular = 0;

    memset(o, 0, sizeof(*o));
    o->doc = d;
    o->node = node;
    if (kzj_type(d, node) != KZJ_OBJECT)
        return kz_error_set(err, KZ_EINVALID, "a STIX object must be a JSON object");
    KZJ_FOREACH_MEMBER(d, node, k)
    {
        uint32_t v = k + 1;
        char tmp[KZ_MAX_PROPERTY_NAME + 1];
        const char *p;
        size_t n;
        if (kzj_str(d, k, tmp, sizeof(tmp), &p, &n) < 0)
            continue; /* too long or with U+0000: no common property's name */
        if (KEY_IS(p, n, "type"))
            copy_str(d, v, o->type, sizeof(o->type));
        else if (KEY_IS(p, n, "id"))
            copy_str(d, v, o->id, sizeof(o->id));
        else if (KEY_IS(p, n, "spec_version"))
            copy_str(d, v, o->spec_version, sizeof(o->spec_version));
        else if (KEY_IS(p, n, "created_by_ref"))
            copy_str(d, v, o->created_by_ref, sizeof(o->created_by_ref));
        else if (KEY_IS(p, n, "created"))
            created = v;
        else if (KEY_IS(p, n, "modified"))
            modified = v;
        else if (KEY_IS(p, n, "revoked"))
            o->revoked = kzj_type(d, v) == KZJ_TRUE;
        else if (KEY_IS(p, n, "object_marking_refs"))
            o->marking_refs = v;
        else if (KEY_IS(p, n, "granular_markings"))
            granular = v;
    }
    if (created && read_time(d, created, &o->created_us) == 0)
        o->has_created = 1;
    if (modified && read_time(d, modified, &o->modified_us) == 0)
        o->has_modified = 1;
    if (o->has_modified) {
        copy_str(d, modified, o->version, sizeof(o->version));
        o->version_us = o->modified_us;
    } else if (o->has_created) {
        copy_str(d, created, o->version, sizeof(o->version));
        o->version_us = o->created_us;
    }
    o->cls = stix_type_class(o->type);
    if (o->marking_refs)
        o->tlp = marking_level(d, o->marking_refs);
    if (granular)
        o->tlp = granular_level(d, granular, o->tlp);
    return 0;
}

/* Passes one reference to fn, decoded (an escaped id points at the same
 * object as its plain spelling). A string that cannot be an id is not
 * passed: the validator has refused it already. */
static int ref_value(const struct kzj_doc *d, uint32_t v, stix_ref_fn fn, void *ctx)
{
    char tmp[KZ_MAX_STIX_ID + 1];
    const char *p;
    size_t n;

    if (kzj_str(d, v, tmp, sizeof(tmp), &p, &n) < 0)
        return 0;
    return fn(ctx, p, n);
}

static int each_ref_value(const struct kzj_doc *d, uint32_t v, stix_ref_fn fn, void *ctx)
{
    if (kzj_type(d, v) == KZJ_STRING)
        return ref_value(d, v, fn, ctx);
    if (kzj_type(d, v) != KZJ_ARRAY)
        return 0;
    KZJ_FOREACH_ELEM(d, v, e)
    {
        if (kzj_type(d, e) == KZJ_STRING && ref_value(d, e, fn, ctx) < 0)
            return -1;
    }
    return 0;
}

/* Each gated type and the properties whose targets gate it, NULL-ended. */
static const struct {
    const char *type;
    const char *const keys[4];
} gated[] = {
        {"relationship", {"source_ref", "target_ref", NULL}},
        {"sighting", {"sighting_of_ref", "observed_data_refs", "where_sighted_refs", NULL}},
        /* containers: a report that names an object tells of it as much as a
         * relationship does (SHARING.md) */
        {"report", {"object_refs", NULL}},
        {"grouping", {"object_refs", NULL}},
        {"note", {"object_refs", NULL}},
        {"opinion", {"object_refs", NULL}},
        {"observed-data", {"object_refs", NULL}},
};
#define NGATED (sizeof(gated) / sizeof(gated[0]))

const char *stix_gated_type(size_t i)
{
    return i < NGATED ? gated[i].type : NULL;
}

int stix_gating_refs(const struct stix_obj *o, stix_ref_fn fn, void *ctx)
{
    for (size_t i = 0; i < NGATED; i++) {
        if (strcmp(o->type, gated[i].type) != 0)
            continue;
        for (const char *const *k = gated[i].keys; *k; k++) {
            uint32_t v = kzj_get(o->doc, o->node, *k, strlen(*k));
            if (v && each_ref_value(o->doc, v, fn, ctx) < 0)
                return -1;
        }
        return 1;
    }
    return 0;
}

void stix_findings_clear(struct stix_findings *f)
{
    f->n = f->errors = f->warnings = 0;
}

void stix_finding_add(struct stix_findings *f, int warning, const char *property, const char *fmt,
                      ...)
{
    va_list ap;

    if (warning)
        f->warnings++;
    else
        f->errors++;
    if (f->n >= KZ_MAX_FINDINGS_PER_OBJECT)
        return;
    struct stix_finding *it = &f->items[f->n++];
    it->warning = warning;
    snprintf(it->property, sizeof(it->property), "%s", property ? property : "");
    va_start(ap, fmt);
    vsnprintf(it->rule, sizeof(it->rule), fmt, ap);
    va_end(ap);
}
