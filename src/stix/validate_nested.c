/*
 * The nested shapes every STIX object may carry (sections 2 and 3.2):
 * dictionaries, hashes, the extensions dictionary with its three kinds of
 * keys (extension-definition ids, predefined extension names, deprecated
 * custom extensions), granular markings and their selectors, external
 * references and kill chain phases. The driver is validate.c.
 */
#include "stix/stix_int.h"

#include <stdio.h>
#include <string.h>

/* --- dictionaries and hashes ------------------------------------------------- */

/* Checks the dictionary shape (2.3) and each key; elem (may be NULL) checks
 * each value with the path at the key. */
static void dict(struct vctx *c, uint32_t v, void (*elem)(struct vctx *, uint32_t))
{
    if (kzj_type(c->d, v) != KZJ_OBJECT) {
        verr(c, "must be a dictionary (a JSON object), not %s", vjson_kind(c->d, v));
        return;
    }
    if (c->d->nodes[v].next == v + 1) {
        verr(c, "must not be an empty dictionary");
        return;
    }
    KZJ_FOREACH_MEMBER(c->d, v, k)
    {
        char tmp[KZ_MAX_PROPERTY_NAME + 2];
        const char *p;
        size_t n, mark;

        if (vstr(c, k, tmp, sizeof(tmp), &p, &n) < 0) {
            p = kzj_raw(c->d, k) + 1;
            n = c->d->nodes[k].len - 2;
        }
        mark = vpush_key(c, p, n);
        if (!vsyn_dict_key(p, n))
            verr(c, "dictionary keys must be 1 to 250 characters of a-z, A-Z, 0-9, '-' and '_'");
        if (kzj_type(c->d, k + 1) == KZJ_NULL)
            verr(c, "must not be null");
        else if (elem)
            elem(c, k + 1);
        vpop(c, mark);
    }
}

static void elem_string(struct vctx *c, uint32_t v)
{
    if (kzj_type(c->d, v) != KZJ_STRING)
        verr(c, "must be a string, not %s", vjson_kind(c->d, v));
}

static void elem_strings(struct vctx *c, uint32_t v)
{
    uint32_t i = 0;

    if (kzj_type(c->d, v) != KZJ_ARRAY) {
        verr(c, "must be a list of strings, not %s", vjson_kind(c->d, v));
        return;
    }
    if (c->d->nodes[v].next == v + 1) {
        verr(c, "must not be an empty list");
        return;
    }
    KZJ_FOREACH_ELEM(c->d, v, e)
    {
        size_t mark = vpush_index(c, i++);
        elem_string(c, e);
        vpop(c, mark);
    }
}

static void elem_int(struct vctx *c, uint32_t v)
{
    int64_t x;

    if (!vis_int(c->d, v, &x))
        verr(c, "must be an integer, not %s", vjson_kind(c->d, v));
}

static void elem_intstr(struct vctx *c, uint32_t v)
{
    int64_t x;

    if (kzj_type(c->d, v) != KZJ_STRING && !vis_int(c->d, v, &x))
        verr(c, "must be an integer or a string, not %s", vjson_kind(c->d, v));
}

void vcheck_dict(struct vctx *c, uint32_t v, int kind)
{
    switch (kind) {
    case VK_DICT_STR: dict(c, v, elem_string); break;
    case VK_DICT_STRS: dict(c, v, elem_strings); break;
    case VK_DICT_INT: dict(c, v, elem_int); break;
    case VK_DICT_INTSTR: dict(c, v, elem_intstr); break;
    default: dict(c, v, NULL); break;
    }
}

void vcheck_hashes(struct vctx *c, uint32_t v)
{
    if (kzj_type(c->d, v) != KZJ_OBJECT) {
        verr(c, "must be a hashes dictionary (a JSON object), not %s", vjson_kind(c->d, v));
        return;
    }
    if (c->d->nodes[v].next == v + 1) {
        verr(c, "must not be an empty dictionary");
        return;
    }
    KZJ_FOREACH_MEMBER(c->d, v, k)
    {
        char ktmp[KZ_MAX_PROPERTY_NAME + 2], vtmp[256];
        const char *kp, *vp, *canon;
        size_t kn, vn, mark;

        if (vstr(c, k, ktmp, sizeof(ktmp), &kp, &kn) < 0) {
            kp = kzj_raw(c->d, k) + 1;
            kn = c->d->nodes[k].len - 2;
        }
        mark = vpush_key(c, kp, kn);
        if (!vsyn_hash_key(kp, kn))
            verr(c, "hash algorithm names must be 3 to 250 characters of a-z, A-Z, 0-9, '-' "
                    "and '_'");
        if (kzj_type(c->d, k + 1) != KZJ_STRING) {
            verr(c, "must be a string, not %s", vjson_kind(c->d, k + 1));
        } else if (vstr(c, k + 1, vtmp, sizeof(vtmp), &vp, &vn) < 0) {
            /* too long to be any digest the vocabulary names */
            if (vsyn_hash_value(kp, kn, "", 0) <= 0)
                verr(c, "must be a valid %.*s digest", (int)kn, kp);
        } else if (vsyn_hash_value(kp, kn, vp, vn) < 0) {
            verr(c, "must be a valid %.*s digest", (int)kn, kp);
        }
        canon = vsyn_hash_canonical(kp, kn);
        if (canon)
            vwarn(c, "hash algorithm names SHOULD come from hash-algorithm-ov: \"%s\"", canon);
        vpop(c, mark);
    }
}

/* --- extensions ------------------------------------------------------------- */

static const char *const extension_types[] = {
        "new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension", NULL};

/* Property names inside an extension instance (7.3.2, 11.3.1). */
static void check_ext_member_names(struct vctx *c, uint32_t v, int skip_ext_type)
{
    KZJ_FOREACH_MEMBER(c->d, v, k)
    {
        char tmp[KZ_MAX_PROPERTY_NAME + 2];
        const char *p;
        size_t n, mark;

        if (vstr(c, k, tmp, sizeof(tmp), &p, &n) < 0) {
            p = kzj_raw(c->d, k) + 1;
            n = c->d->nodes[k].len - 2;
        }
        if (skip_ext_type && n == 14 && memcmp(p, "extension_type", 14) == 0)
            continue;
        mark = vpush_key(c, p, n);
        if (!vsyn_property_name(p, n))
            verr(c, "extension property names must be 3 to 250 characters of a-z, 0-9 and _, "
                    "starting with a letter");
        vpop(c, mark);
    }
}

static void check_ext_definition_instance(struct vctx *c, const char *key, size_t kn, uint32_t v)
{
    char type[KZ_MAX_STIX_TYPE + 1], tmp[64];
    const char *p;
    size_t n;
    uint32_t et;
    int ok = 0;

    if (vsyn_identifier(key, kn, type) < 0 || strcmp(type, "extension-definition") != 0)
        verr(c, "must be an extension-definition identifier");
    et = KZJ_GET(c->d, v, "extension_type");
    if (!et) {
        verr_at(c, "extension_type", "required property is missing");
    } else if (vstr(c, et, tmp, sizeof(tmp), &p, &n) < 0) {
        verr_at(c, "extension_type", "must be a string from extension-type-enum");
    } else {
        for (const char *const *e = extension_types; *e; e++)
            if (strlen(*e) == n && memcmp(*e, p, n) == 0)
                ok = 1;
        if (!ok)
            verr_at(c, "extension_type",
                    "must be one of new-sdo, new-sco, new-sro, "
                    "property-extension, toplevel-property-extension");
        else if (vhas_prefix(p, n, "new-") && c->vt)
            verr_at(c, "extension_type",
                    "must not be %.*s: the extension facility must not redefine the "
                    "specification's %s",
                    (int)n, p, c->vt->type);
        else if (vhas_prefix(p, n, "new-"))
            c->new_type_ext = 1;
        else if (vhas_prefix(p, n, "toplevel-"))
            c->toplevel_ext = 1;
    }
    check_ext_member_names(c, v, 1);
}

/* A deprecated custom SCO extension (11.3). */
static void check_custom_extension(struct vctx *c, const char *key, size_t kn, uint32_t v)
{
    int ok = kn >= 3 && kn <= KZ_MAX_PROPERTY_NAME && vhas_prefix(key + kn - 4, 4, "-ext");

    for (size_t i = 0; ok && i < kn; i++)
        if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= '0' && key[i] <= '9') ||
              key[i] == '-'))
            ok = 0;
    if (!ok)
        verr(c, "custom extension names must be 3 to 250 characters of a-z, 0-9 and '-' "
                "ending in \"-ext\"");
    if (c->d->nodes[v].next == v + 1)
        verr(c, "a custom extension must have at least one property");
    vwarn(c, "custom extensions are deprecated: extensions SHOULD be defined by an "
             "extension-definition (7.3)");
    check_ext_member_names(c, v, 0);
}

void vcheck_extensions(struct vctx *c, uint32_t v)
{
    const char *type = c->o->type;

    if (kzj_type(c->d, v) != KZJ_OBJECT) {
        verr(c, "must be a dictionary (a JSON object), not %s", vjson_kind(c->d, v));
        return;
    }
    if (c->d->nodes[v].next == v + 1) {
        verr(c, "must not be an empty dictionary");
        return;
    }
    KZJ_FOREACH_MEMBER(c->d, v, k)
    {
        char tmp[KZ_MAX_STIX_ID + 2];
        const char *p;
        size_t n, mark;
        uint32_t val = k + 1;
        const struct vext *ext;

        if (vstr(c, k, tmp, sizeof(tmp), &p, &n) < 0) {
            p = kzj_raw(c->d, k) + 1;
            n = c->d->nodes[k].len - 2;
        }
        mark = vpush_key(c, p, n);
        if (!vsyn_dict_key(p, n))
            verr(c, "dictionary keys must be 1 to 250 characters of a-z, A-Z, 0-9, '-' and '_'");
        if (kzj_type(c->d, val) != KZJ_OBJECT) {
            verr(c, "must be an object holding the extension's properties, not %s",
                 vjson_kind(c->d, val));
        } else if (vhas_prefix(p, n, "extension-definition--")) {
            check_ext_definition_instance(c, p, n, val);
        } else if ((ext = vext_find(p, n)) != NULL) {
            if (strcmp(ext->owner, type) != 0)
                verr(c, "is an extension of %s objects, not of %s objects", ext->owner,
                     type[0] ? type : "these");
            else
                vcheck_object(c, val, ext->t);
        } else if (c->classbit == VC_SCO) {
            check_custom_extension(c, p, n, val);
        } else {
            vwarn(c, "extension keys SHOULD be an extension-definition id or the name of a "
                     "predefined extension");
        }
        vpop(c, mark);
    }
}

/* --- granular markings --------------------------------------------------------- */

/* Whether selector s[0..n) reaches content present in the object (7.2.3). */
static int selector_resolves(const struct kzj_doc *d, uint32_t cur, const char *s, size_t n)
{
    size_t i = 0;

    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != '.')
            j++;
        if (s[i] == '[') {
            uint32_t idx = 0, at = 0, found = 0;
            for (size_t k = i + 1; k < j - 1; k++)
                idx = idx * 10 + (uint32_t)(s[k] - '0');
            if (kzj_type(d, cur) != KZJ_ARRAY)
                return 0;
            KZJ_FOREACH_ELEM(d, cur, e)
            {
                if (at++ == idx) {
                    found = e;
                    break;
                }
            }
            if (!found)
                return 0;
            cur = found;
        } else {
            if (kzj_type(d, cur) != KZJ_OBJECT)
                return 0;
            cur = kzj_get(d, cur, s + i, j - i);
            if (!cur)
                return 0;
        }
        i = j + 1;
    }
    return 1;
}

static void check_granular(struct vctx *c, const struct vobj *o)
{
    uint32_t lang = vget(o, "lang"), ref = vget(o, "marking_ref"), sel = vget(o, "selectors");
    uint32_t i = 0;

    if (lang && ref)
        verr(c, "must have exactly one of lang and marking_ref, not both");
    else if (!lang && !ref)
        verr(c, "must have one of lang or marking_ref");
    if (!sel || kzj_type(c->d, sel) != KZJ_ARRAY)
        return;
    KZJ_FOREACH_ELEM(c->d, sel, e)
    {
        char tmp[KZ_MAX_DECODED_STRING];
        const char *p;
        size_t n, m1, m2;

        m1 = vpush_key(c, "selectors", 9);
        m2 = vpush_index(c, i++);
        if (vstr(c, e, tmp, sizeof(tmp), &p, &n) == 0) {
            if (!vsyn_selector(p, n))
                verr(c, "must be a selector: property names, dictionary keys and [index] "
                        "joined by '.'");
            else if (!selector_resolves(c->d, c->o->node, p, n))
                verr(c, "must select content present in the object");
        }
        vpop(c, m2);
        vpop(c, m1);
    }
}

static const struct vprop granular_props[] = {
        P("lang", VK_LANG, 0, NULL),
        P("marking_ref", VK_REF, 0, &vtg_marking),
        P("selectors", VK_STRING, VF_REQ | VF_LIST, NULL),
};
const struct vtable vt_granular_marking = {"granular-marking", granular_props, 3, 0,
                                           check_granular};

/* --- external references and kill chain phases ----------------------------------- */

static void check_external_reference(struct vctx *c, const struct vobj *o)
{
    if (!vget(o, "description") && !vget(o, "url") && !vget(o, "external_id"))
        verr(c, "must have at least one of description, url or external_id");
}

static const struct vprop extref_props[] = {
        P("source_name", VK_STRING, VF_REQ, NULL),
        P("description", VK_STRING, 0, NULL),
        P("url", VK_STRING, 0, NULL),
        P("hashes", VK_HASHES, 0, NULL),
        P("external_id", VK_STRING, 0, NULL),
};
const struct vtable vt_external_reference = {"external-reference", extref_props, 5, 0,
                                             check_external_reference};

/* 2.11: names SHOULD be lowercase with hyphens as word separators. */
static void check_kill_chain_phase(struct vctx *c, const struct vobj *o)
{
    static const char *const names[] = {"kill_chain_name", "phase_name"};

    for (int i = 0; i < 2; i++) {
        char tmp[256];
        const char *p;
        size_t n;
        uint32_t v = vget(o, names[i]);

        if (!v || vstr(c, v, tmp, sizeof(tmp), &p, &n) < 0)
            continue;
        for (size_t j = 0; j < n; j++) {
            if ((p[j] >= 'A' && p[j] <= 'Z') || p[j] == ' ' || p[j] == '_') {
                vwarn_at(c, names[i], "SHOULD be lowercase with '-' between words");
                break;
            }
        }
    }
}

static const struct vprop kill_chain_props[] = {
        P("kill_chain_name", VK_STRING, VF_REQ, NULL),
        P("phase_name", VK_STRING, VF_REQ, NULL),
};
const struct vtable vt_kill_chain_phase = {"kill-chain-phase", kill_chain_props, 2, 0,
                                           check_kill_chain_phase};
