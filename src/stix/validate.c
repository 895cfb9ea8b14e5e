/*
 * The STIX 2.1 object validator: the driver, the common properties (3.2)
 * and the value checks every table shares. stix_validate walks an object's
 * members once; each member is looked up in the object type's table
 * (validate_types.c, validate_sco.c), then in the common properties, and
 * what is in neither is a custom property (11.1). The value is checked by
 * the row's kind; rules that tie properties together run afterwards in the
 * table's check function over the nodes the walk recorded.
 *
 * Findings name the property path ("external_references[0].url") and the
 * rule broken; MUSTs are errors, SHOULDs warnings. Nothing is allocated on
 * the common path: the path is a fixed buffer, strings are viewed in place
 * and only escaped strings are decoded, into stack buffers.
 */
#include "stix/stix_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/uuid.h"

const struct vtargets vtg_identity = {0, (const char *const[]){"identity", NULL}, "identity"};
const struct vtargets vtg_marking = {0, (const char *const[]){"marking-definition", NULL},
                                     "marking-definition"};
const struct vtargets vtg_any = {VT_ANY, NULL, "STIX object"};

struct vcommon {
    struct vprop p;
    uint8_t req;     /* classes that require it */
    uint8_t na_warn; /* classes that do not use it (a warning) */
    uint8_t na_err;  /* classes that must not carry it */
};

static const struct vcommon common[] = {
        {P("type", VK_TYPE, 0, NULL), VC_ALL, 0, 0},
        {P("spec_version", VK_SPEC_VERSION, 0, NULL), VC_CORE | VC_MD | VC_LC | VC_ED, 0, 0},
        {P("id", VK_ID, 0, NULL), VC_ALL, 0, 0},
        {P("created_by_ref", VK_REF, 0, &vtg_identity), VC_ED, 0, 0},
        {P("created", VK_TS_MS, 0, NULL), VC_CORE | VC_MD | VC_LC | VC_ED, 0, 0},
        {P("modified", VK_TS_MS, 0, NULL), VC_CORE | VC_LC | VC_ED, VC_MD, 0},
        {P("revoked", VK_BOOL, 0, NULL), 0, VC_MD, 0},
        {P("labels", VK_STRING, VF_LIST, NULL), 0, VC_SCO | VC_MD, 0},
        {PR("confidence", VK_INT, 0, NULL, 0, 100), 0, VC_SCO | VC_MD | VC_ED, 0},
        {P("lang", VK_LANG, 0, NULL), 0, VC_SCO | VC_MD | VC_LC | VC_ED, 0},
        {P("external_references", VK_OBJECT, VF_LIST, &vt_external_reference), 0, VC_SCO, 0},
        {P("object_marking_refs", VK_REF, VF_LIST, &vtg_marking), 0, 0, 0},
        {P("granular_markings", VK_OBJECT, VF_LIST, &vt_granular_marking), 0, 0, 0},
        {P("defanged", VK_BOOL, 0, NULL), 0, 0, VC_CORE | VC_MD | VC_LC | VC_ED},
        {P("extensions", VK_EXTENSIONS, 0, NULL), 0, VC_ED, 0},
};
#define NCOMMON (sizeof(common) / sizeof(common[0]))

/* Reserved across all objects (3.8). */
static const char *const reserved[] = {"severity", "username", "phone_number", "action", NULL};

/* --- findings and paths -------------------------------------------------- */

/* Appends s[0..n) to buf (holding *len bytes of cap), truncating. */
static void append(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    if (n > cap - 1 - *len)
        n = cap - 1 - *len;
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
}

static void vfind(struct vctx *c, int warning, const char *sub, const char *fmt, va_list ap)
        __attribute__((format(printf, 4, 0)));

static void vfind(struct vctx *c, int warning, const char *sub, const char *fmt, va_list ap)
{
    char rule[320];
    char path[VPATH_MAX];
    size_t len = 0;

    vsnprintf(rule, sizeof(rule), fmt, ap);
    path[0] = '\0';
    append(path, sizeof(path), &len, c->path, c->plen);
    if (sub) {
        if (len)
            append(path, sizeof(path), &len, ".", 1);
        append(path, sizeof(path), &len, sub, strlen(sub));
    }
    stix_finding_add(c->f, warning, path, "%s", rule);
}

void verr(struct vctx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfind(c, 0, NULL, fmt, ap);
    va_end(ap);
}

void vwarn(struct vctx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfind(c, 1, NULL, fmt, ap);
    va_end(ap);
}

void verr_at(struct vctx *c, const char *sub, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfind(c, 0, sub, fmt, ap);
    va_end(ap);
}

void vwarn_at(struct vctx *c, const char *sub, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfind(c, 1, sub, fmt, ap);
    va_end(ap);
}

/* Paths are truncated, never overflowed: a push that does not fit leaves
 * what fits, and vpop restores the mark either way. */
size_t vpush_key(struct vctx *c, const char *name, size_t n)
{
    size_t mark = c->plen, room;

    if (c->plen && c->plen + 1 < sizeof(c->path))
        c->path[c->plen++] = '.';
    room = sizeof(c->path) - 1 - c->plen;
    if (n > room)
        n = room;
    memcpy(c->path + c->plen, name, n);
    c->plen += n;
    c->path[c->plen] = '\0';
    return mark;
}

size_t vpush_index(struct vctx *c, uint32_t i)
{
    size_t mark = c->plen;
    int w = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "[%u]", (unsigned)i);

    if (w > 0)
        c->plen +=
                (size_t)w < sizeof(c->path) - c->plen ? (size_t)w : sizeof(c->path) - 1 - c->plen;
    return mark;
}

void vpop(struct vctx *c, size_t mark)
{
    c->plen = mark;
    c->path[mark] = '\0';
}

/* --- small readers --------------------------------------------------------- */

int vstr(const struct vctx *c, uint32_t v, char *tmp, size_t cap, const char **p, size_t *n)
{
    if (kzj_type(c->d, v) != KZJ_STRING)
        return -1;
    return kzj_str(c->d, v, tmp, cap, p, n);
}

int vts(const struct vctx *c, uint32_t v, struct kz_ts *ts)
{
    char tmp[64];
    const char *p, *why;
    size_t n;

    if (!v || vstr(c, v, tmp, sizeof(tmp), &p, &n) < 0)
        return -1;
    return kz_ts_parse(p, n, ts, &why);
}

uint32_t vget(const struct vobj *o, const char *name)
{
    size_t n = strlen(name);

    for (unsigned i = 0; i < o->t->nprops; i++)
        if (o->t->props[i].len == n && memcmp(o->t->props[i].name, name, n) == 0)
            return o->v[i];
    for (unsigned i = 0; i < NCOMMON; i++)
        if (common[i].p.len == n && memcmp(common[i].p.name, name, n) == 0)
            return o->cv[i];
    return 0;
}

void vcheck_order(struct vctx *c, const struct vobj *o, const char *a, const char *b, int strict)
{
    struct kz_ts ta, tb;
    int cmp;

    if (vts(c, vget(o, a), &ta) < 0 || vts(c, vget(o, b), &tb) < 0)
        return;
    cmp = kz_ts_cmp(&tb, &ta);
    if (strict && cmp <= 0)
        verr_at(c, b, "must be later than %s", a);
    else if (!strict && cmp < 0)
        verr_at(c, b, "must be later than or equal to %s", a);
}

const char *vjson_kind(const struct kzj_doc *d, uint32_t v)
{
    switch (kzj_type(d, v)) {
    case KZJ_NULL: return "null";
    case KZJ_TRUE:
    case KZJ_FALSE: return "a boolean";
    case KZJ_NUMBER: return "a number";
    case KZJ_STRING: return "a string";
    case KZJ_ARRAY: return "a list";
    default: return "an object";
    }
}

int vis_int(const struct kzj_doc *d, uint32_t v, int64_t *x)
{
    return kzj_type(d, v) == KZJ_NUMBER && kzj_int64(d, v, x) == 0 && *x >= -VINT_MAX &&
           *x <= VINT_MAX;
}

int vhas_prefix(const char *p, size_t n, const char *lit)
{
    size_t ln = strlen(lit);

    return n >= ln && memcmp(p, lit, ln) == 0;
}

/* --- references -------------------------------------------------------------- */

static unsigned class_bit(enum stix_class cls)
{
    switch (cls) {
    case STIX_SDO: return VT_SDO;
    case STIX_SRO: return VT_SRO;
    case STIX_SCO: return VT_SCO;
    case STIX_META: return VT_META;
    default: return VT_CUSTOM;
    }
}

static void check_ref(struct vctx *c, const struct vtargets *t, uint32_t v)
{
    char tmp[KZ_MAX_STIX_ID + 1], type[KZ_MAX_STIX_TYPE + 1];
    const char *p;
    size_t n;

    if (kzj_type(c->d, v) != KZJ_STRING) {
        verr(c, "must be an identifier (type--UUID), not %s", vjson_kind(c->d, v));
        return;
    }
    if (vstr(c, v, tmp, sizeof(tmp), &p, &n) < 0 || vsyn_identifier(p, n, type) < 0) {
        verr(c, "must be an identifier: a type, \"--\" and an RFC 4122 UUID");
        return;
    }
    if (strcmp(type, "bundle") != 0) {
        if (t->classes & class_bit(stix_type_class(type)))
            return;
        for (const char *const *a = t->types; a && *a; a++)
            if (strcmp(*a, type) == 0)
                return;
    }
    verr(c, "must reference a %s, not a %s", t->what, type);
}

/* --- values by kind ------------------------------------------------------------------ */

static void check_enum(struct vctx *c, const char *const *list, uint32_t v)
{
    char tmp[128], all[256];
    const char *p;
    size_t n, used = 0;

    if (vstr(c, v, tmp, sizeof(tmp), &p, &n) == 0)
        for (const char *const *e = list; *e; e++)
            if (strlen(*e) == n && memcmp(*e, p, n) == 0)
                return;
    all[0] = '\0';
    for (const char *const *e = list; *e && used < sizeof(all); e++) {
        int w = snprintf(all + used, sizeof(all) - used, "%s%s", e == list ? "" : ", ", *e);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    verr(c, "must be one of: %s", all);
}

/* Syntax checks of SCO values, skipped for defanged objects. */
static void check_syntax(struct vctx *c, uint32_t v, int (*ok)(const char *, size_t),
                         const char *what, int defangable)
{
    char tmp[KZ_MAX_DECODED_STRING];
    const char *p;
    size_t n;

    if (kzj_type(c->d, v) != KZJ_STRING) {
        verr(c, "must be a string, not %s", vjson_kind(c->d, v));
        return;
    }
    if (defangable && c->defanged)
        return;
    if (vstr(c, v, tmp, sizeof(tmp), &p, &n) < 0 || !ok(p, n))
        verr(c, "must be %s", what);
}

static void check_timestamp(struct vctx *c, const struct vprop *pr, uint32_t v)
{
    char tmp[64];
    const char *p, *why;
    size_t n;
    struct kz_ts ts;

    if (kzj_type(c->d, v) != KZJ_STRING) {
        verr(c, "must be a timestamp string, not %s", vjson_kind(c->d, v));
        return;
    }
    if (vstr(c, v, tmp, sizeof(tmp), &p, &n) < 0 || kz_ts_parse(p, n, &ts, &why) < 0) {
        verr(c, "%s", "must be an RFC 3339 timestamp in UTC like 2025-01-31T23:59:59.000Z");
        return;
    }
    if (pr->kind == VK_TS_MS && ts.frac_digits < 3)
        verr(c, "must have at least millisecond precision (three digits after the second)");
    else if (pr->kind == VK_TS_SEC && ts.nsec != 0)
        verr(c, "must be precise to the second");
}

static void check_number(struct vctx *c, const struct vprop *pr, uint32_t v)
{
    int64_t x;
    double d;

    if (pr->kind == VK_INT) {
        if (!vis_int(c->d, v, &x)) {
            if (kzj_type(c->d, v) == KZJ_NUMBER)
                verr(c, "must be an integer within -(2**53)+1 .. (2**53)-1");
            else
                verr(c, "must be an integer, not %s", vjson_kind(c->d, v));
            return;
        }
        if ((pr->flags & VF_RANGE) && ((double)x < pr->min || (double)x > pr->max)) {
            if (pr->max >= (double)VINT_MAX)
                verr(c, "must be %.0f or more", pr->min);
            else
                verr(c, "must be an integer from %.0f to %.0f", pr->min, pr->max);
        }
        return;
    }
    if (kzj_type(c->d, v) != KZJ_NUMBER || kzj_double(c->d, v, &d) < 0) {
        verr(c, "must be a number, not %s", vjson_kind(c->d, v));
        return;
    }
    if ((pr->flags & VF_RANGE) && (d < pr->min || d > pr->max))
        verr(c, "must be between %.1f and %.1f", pr->min, pr->max);
}

static void check_id(struct vctx *c, uint32_t v)
{
    char tmp[KZ_MAX_STIX_ID + 1], type[KZ_MAX_STIX_TYPE + 1];
    const char *p;
    size_t n;

    if (vstr(c, v, tmp, sizeof(tmp), &p, &n) < 0 || vsyn_identifier(p, n, type) < 0) {
        verr(c, "must be \"%s--\" and an RFC 4122 UUID", c->o->type[0] ? c->o->type : "type");
        return;
    }
    if (strcmp(type, c->o->type) != 0 && c->o->type[0])
        verr(c, "must start with \"%s--\", the object's type", c->o->type);
}

static void check_type(struct vctx *c, uint32_t v)
{
    char tmp[KZ_MAX_STIX_TYPE + 1];
    const char *p;
    size_t n;

    if (kzj_type(c->d, v) != KZJ_STRING) {
        verr(c, "must be a string, not %s", vjson_kind(c->d, v));
        return;
    }
    if (vstr(c, v, tmp, sizeof(tmp), &p, &n) < 0 || !vsyn_type_name(p, n)) {
        verr(c, "must be 3 to 250 characters of a-z, 0-9 and '-', start with a letter and "
                "have no \"--\"");
        return;
    }
    if (n == 6 && memcmp(p, "bundle", 6) == 0)
        verr(c, "a bundle is a container, not a STIX object");
}

void vcheck_value(struct vctx *c, const struct vprop *pr, uint32_t v)
{
    const struct kzj_doc *d = c->d;

    switch (pr->kind) {
    case VK_STRING:
    case VK_OTHER:
        if (pr->kind == VK_STRING && kzj_type(d, v) != KZJ_STRING)
            verr(c, "must be a string, not %s", vjson_kind(d, v));
        break;
    case VK_VOCAB:
        if (kzj_type(d, v) != KZJ_STRING)
            verr(c, "must be a string, not %s", vjson_kind(d, v));
        else if (d->nodes[v].len == 2)
            verr(c, "must not be an empty string");
        break;
    case VK_ENUM:
        if (kzj_type(d, v) != KZJ_STRING)
            verr(c, "must be a string, not %s", vjson_kind(d, v));
        else
            check_enum(c, pr->arg, v);
        break;
    case VK_BOOL:
        if (kzj_type(d, v) != KZJ_TRUE && kzj_type(d, v) != KZJ_FALSE)
            verr(c, "must be true or false, not %s", vjson_kind(d, v));
        break;
    case VK_INT:
    case VK_FLOAT: check_number(c, pr, v); break;
    case VK_TS:
    case VK_TS_MS:
    case VK_TS_SEC: check_timestamp(c, pr, v); break;
    case VK_REF: check_ref(c, pr->arg, v); break;
    case VK_HASHES: vcheck_hashes(c, v); break;
    case VK_HEX: check_syntax(c, v, vsyn_hex, "an even number of lowercase hex digits", 0); break;
    case VK_BINARY: check_syntax(c, v, vsyn_base64, "base64 (RFC 4648)", 0); break;
    case VK_DICT:
    case VK_DICT_STR:
    case VK_DICT_STRS:
    case VK_DICT_INT:
    case VK_DICT_INTSTR: vcheck_dict(c, v, pr->kind); break;
    case VK_LANG:
        check_syntax(c, v, vsyn_lang, "an RFC 5646 language tag, like en or ja-JP", 0);
        break;
    case VK_OBJECT: vcheck_object(c, v, pr->arg); break;
    case VK_EXTENSIONS: vcheck_extensions(c, v); break;
    case VK_SPEC_VERSION:
        if (!KZJ_STR_EQ(d, v, "2.1"))
            verr(c, "must be \"2.1\"");
        break;
    case VK_TYPE: check_type(c, v); break;
    case VK_ID: check_id(c, v); break;
    case VK_URL: check_syntax(c, v, vsyn_url, "a URL with a scheme (RFC 3986)", 1); break;
    case VK_DOMAIN: check_syntax(c, v, vsyn_domain, "a domain name (RFC 1034, RFC 5890)", 1); break;
    case VK_EMAIL:
        check_syntax(c, v, vsyn_email, "an e-mail address (addr-spec) without a display name", 1);
        break;
    case VK_IPV4:
        check_syntax(c, v, vsyn_ipv4, "an IPv4 address or CIDR block, like 198.51.100.0/24", 1);
        break;
    case VK_IPV6:
        check_syntax(c, v, vsyn_ipv6, "an IPv6 address or CIDR block, like 2001:db8::/32", 1);
        break;
    case VK_MAC:
        check_syntax(c, v, vsyn_mac,
                     "a lowercase MAC-48 address with leading zeros, like 00:00:ab:cd:ef:01", 1);
        break;
    case VK_CPE:
        check_syntax(c, v, vsyn_cpe23, "a CPE 2.3 formatted string (cpe:2.3:...)", 1);
        break;
    case VK_RESERVED: verr(c, "is reserved by the specification and must not be used"); break;
    default: break;
    }
}

static void check_prop(struct vctx *c, const struct vprop *pr, uint32_t v)
{
    uint32_t i = 0;

    if (!(pr->flags & VF_LIST)) {
        vcheck_value(c, pr, v);
        return;
    }
    if (kzj_type(c->d, v) != KZJ_ARRAY) {
        verr(c, "must be a list, not %s", vjson_kind(c->d, v));
        return;
    }
    if (c->d->nodes[v].next == v + 1) {
        verr(c, "must not be an empty list");
        return;
    }
    KZJ_FOREACH_ELEM(c->d, v, e)
    {
        size_t mark = vpush_index(c, i++);
        vcheck_value(c, pr, e);
        vpop(c, mark);
    }
}

/* --- custom properties ---------------------------------------------------------------- */

static int ends_with(const char *p, size_t n, const char *lit)
{
    size_t ln = strlen(lit);

    return n > ln && memcmp(p + n - ln, lit, ln) == 0;
}

/* A member no table names (11.1): the name's syntax, reserved names, and
 * the value shapes the name's suffix promises (3.1). */
static void check_custom(struct vctx *c, const char *p, size_t n, uint32_t k, int top)
{
    const struct kzj_doc *d = c->d;
    uint32_t v = k + 1;
    char tmp[KZ_MAX_STIX_ID + 1], type[KZ_MAX_STIX_TYPE + 1];
    const char *s;
    size_t sn;

    for (const char *const *r = reserved; *r; r++) {
        if (strlen(*r) == n && memcmp(*r, p, n) == 0) {
            verr(c, "is reserved by the specification and must not be used");
            return;
        }
    }
    if (!vsyn_property_name(p, n)) {
        verr(c, "custom property names must be 3 to 250 characters of a-z, 0-9 and _, "
                "starting with a letter");
        return;
    }
    if (kzj_type(d, v) == KZJ_NULL) {
        verr(c, "must not be null");
        return;
    }
    if (top && c->vt && !vhas_prefix(p, n, "x_") && c->ndeferred < VMAX_DEFERRED)
        c->deferred[c->ndeferred++] = k;
    if (ends_with(p, n, "_ref")) {
        if (vstr(c, v, tmp, sizeof(tmp), &s, &sn) < 0 || vsyn_identifier(s, sn, type) < 0)
            vwarn(c, "a property named *_ref SHOULD hold an identifier");
    } else if (ends_with(p, n, "_refs")) {
        int ok = kzj_type(d, v) == KZJ_ARRAY;
        if (ok) {
            KZJ_FOREACH_ELEM(d, v, e)
            {
                if (vstr(c, e, tmp, sizeof(tmp), &s, &sn) < 0 || vsyn_identifier(s, sn, type) < 0)
                    ok = 0;
            }
        }
        if (!ok)
            vwarn(c, "a property named *_refs SHOULD hold a list of identifiers");
    } else if (ends_with(p, n, "_hex") || ends_with(p, n, "_bin")) {
        char big[KZ_MAX_DECODED_STRING];
        int hex = p[n - 1] == 'x';
        if (vstr(c, v, big, sizeof(big), &s, &sn) == 0 &&
            !(hex ? vsyn_hex(s, sn) : vsyn_base64(s, sn)))
            vwarn(c, "a property named *_%s SHOULD hold %s", hex ? "hex" : "bin",
                  hex ? "lowercase hex" : "base64");
    }
}

/* --- the walk ----------------------------------------------------------------------------- */

/* Looks up a member in t; -1 when absent. */
static int find_prop(const struct vtable *t, const char *p, size_t n)
{
    for (unsigned i = 0; i < t->nprops; i++)
        if (t->props[i].len == n && memcmp(t->props[i].name, p, n) == 0)
            return (int)i;
    return -1;
}

static int find_common(const char *p, size_t n)
{
    for (unsigned i = 0; i < NCOMMON; i++)
        if (common[i].p.len == n && memcmp(common[i].p.name, p, n) == 0)
            return (int)i;
    return -1;
}

static const char *class_name(unsigned classbit)
{
    switch (classbit) {
    case VC_SCO: return "SCOs";
    case VC_MD: return "marking-definition objects";
    case VC_LC: return "language-content objects";
    case VC_ED: return "extension-definition objects";
    case VC_CORE: return "SDOs and SROs";
    default: return "custom objects";
    }
}

static void walk(struct vctx *c, struct vobj *o, int top)
{
    const struct kzj_doc *d = c->d;

    KZJ_FOREACH_MEMBER(d, o->node, k)
    {
        char tmp[KZ_MAX_PROPERTY_NAME + 2];
        const char *p;
        size_t n, mark;
        int i;

        if (vstr(c, k, tmp, sizeof(tmp), &p, &n) < 0) {
            p = kzj_raw(d, k) + 1; /* too long to be a valid name: reported as it is */
            n = d->nodes[k].len - 2;
        }
        mark = vpush_key(c, p, n);
        i = find_prop(o->t, p, n);
        if (i >= 0) {
            o->v[i] = k + 1;
            o->nown++;
            check_prop(c, &o->t->props[i], k + 1);
        } else if (top && (i = find_common(p, n)) >= 0) {
            o->cv[i] = k + 1;
            if (common[i].na_err & c->classbit)
                verr(c, "must not be used on %s", class_name(c->classbit));
            else if (common[i].na_warn & c->classbit)
                vwarn(c, "is not a property of %s", class_name(c->classbit));
            check_prop(c, &common[i].p, k + 1);
        } else {
            check_custom(c, p, n, k, top);
        }
        /* 3.1: an encoding property (*_enc) needs the property it describes */
        if (ends_with(p, n, "_enc") && !kzj_get(d, o->node, p, n - 4))
            verr(c, "must not be present without %.*s", (int)(n - 4), p);
        vpop(c, mark);
    }
}

static void required(struct vctx *c, const struct vobj *o)
{
    for (unsigned i = 0; i < o->t->nprops; i++)
        if ((o->t->props[i].flags & VF_REQ) && !o->v[i])
            verr_at(c, o->t->props[i].name, "required property is missing");
    if ((o->t->flags & VT_ONE_OF_OWN) && o->nown == 0)
        verr(c, "%s must have at least one of its own properties", o->t->name);
}

void vcheck_object(struct vctx *c, uint32_t node, const struct vtable *t)
{
    struct vobj o;

    if (kzj_type(c->d, node) != KZJ_OBJECT) {
        verr(c, "must be an object (%s), not %s", t->name, vjson_kind(c->d, node));
        return;
    }
    memset(&o, 0, sizeof(o));
    o.t = t;
    o.node = node;
    walk(c, &o, 0);
    required(c, &o);
    if (t->check)
        t->check(c, &o);
}

/* --- identifiers of the object itself ------------------------------------------------------ */

static void check_own_id(struct vctx *c, const struct vobj *o)
{
    char tmp[KZ_MAX_STIX_ID + 1], type[KZ_MAX_STIX_TYPE + 1], expect[KZ_MAX_STIX_ID + 1];
    const char *p;
    size_t n;
    int version, r;
    uint32_t v = vget(o, "id");

    if (!v || vstr(c, v, tmp, sizeof(tmp), &p, &n) < 0 || vsyn_identifier(p, n, type) < 0)
        return; /* already reported */
    version = kz_uuid_version(p + n - 36);
    if (c->classbit != VC_SCO) {
        if (c->vt && version != 4)
            vwarn_at(c, "id", "SHOULD use a UUIDv4, not a version %d UUID", version);
        return;
    }
    r = stix_sco_id(c->d, o->node, c->o->type, expect);
    if (r < 0)
        return;
    if (r == 0) {
        if (version == 5)
            verr_at(c, "id", "must use a UUIDv4: no ID Contributing Property is present");
        return;
    }
    if (strlen(expect) == n && memcmp(expect, p, n) == 0) {
        if (vget(o, "created") || vget(o, "modified") || vget(o, "created_by_ref") ||
            vget(o, "revoked"))
            verr_at(c, "id",
                    "a versioned SCO must not use the deterministic id namespace "
                    "00abedb4-aa42-466c-9c01-fed23315a9b7");
        return;
    }
    vwarn_at(c, "id", "SHOULD be %s, the UUIDv5 of its ID Contributing Properties", expect);
}

/* --- the entry point ------------------------------------------------------------------------- */

static unsigned classbit_of(const struct vtype *vt)
{
    if (!vt)
        return VC_CUSTOM;
    switch (vt->cls) {
    case STIX_SDO:
    case STIX_SRO: return VC_CORE;
    case STIX_SCO: return VC_SCO;
    default: break;
    }
    if (strcmp(vt->type, "marking-definition") == 0)
        return VC_MD;
    if (strcmp(vt->type, "language-content") == 0)
        return VC_LC;
    return VC_ED;
}

static const struct vtable custom_table = {"custom object", NULL, 0, 0, NULL};

/* The common properties the object's class requires. A custom object type
 * that no extension-definition defines is an SDO of the old kind (STIX 2.1
 * section 11.2) and needs spec_version, created and modified like one. */
static void required_common(struct vctx *c, const struct vobj *o)
{
    int old_custom = c->classbit == VC_CUSTOM && !c->new_type_ext && c->o->type[0] &&
                     strcmp(c->o->type, "bundle") != 0;

    for (unsigned i = 0; i < NCOMMON; i++) {
        const char *name = common[i].p.name;
        if (o->cv[i])
            continue;
        if (common[i].req & c->classbit) {
            verr_at(c, name,
                    strcmp(name, "spec_version") == 0
                            ? "required property is missing (STIX 2.0 objects have none: "
                              "kizuna reads STIX 2.1)"
                            : "required property is missing");
        } else if (old_custom && (common[i].req & VC_CORE) &&
                   (strcmp(name, "spec_version") == 0 || strcmp(name, "created") == 0 ||
                    strcmp(name, "modified") == 0)) {
            verr_at(c, name,
                    "required property is missing: a custom object without an "
                    "extension-definition carries the common properties of an SDO (section 11.2)");
        }
    }
}

unsigned stix_validate(const struct stix_obj *so, struct stix_findings *f)
{
    struct vctx c;
    struct vobj o;

    stix_findings_clear(f);
    memset(&c, 0, sizeof(c));
    c.d = so->doc;
    c.f = f;
    c.o = so;
    if (kzj_type(c.d, so->node) != KZJ_OBJECT) {
        verr(&c, "a STIX object must be a JSON object");
        return f->errors;
    }
    c.vt = vtype_find(so->type);
    c.classbit = classbit_of(c.vt);
    if (c.classbit == VC_SCO || c.classbit == VC_CUSTOM)
        c.defanged = kzj_type(c.d, KZJ_GET(c.d, so->node, "defanged")) == KZJ_TRUE;

    memset(&o, 0, sizeof(o));
    o.t = c.vt ? &c.vt->t : &custom_table;
    o.node = so->node;
    walk(&c, &o, 1);

    required_common(&c, &o);
    required(&c, &o);
    vcheck_order(&c, &o, "created", "modified", 0);
    check_own_id(&c, &o);
    if (o.t->check)
        o.t->check(&c, &o);

    /* 11.1: custom property names SHOULD start with x_, unless an extension
     * declares top-level properties */
    for (unsigned i = 0; i < c.ndeferred && !c.toplevel_ext; i++) {
        char tmp[KZ_MAX_PROPERTY_NAME + 2];
        const char *p;
        size_t n;
        if (vstr(&c, c.deferred[i], tmp, sizeof(tmp), &p, &n) == 0) {
            size_t mark = vpush_key(&c, p, n);
            vwarn(&c, "custom property names SHOULD start with \"x_\"");
            vpop(&c, mark);
        }
    }
    /* 11.2: custom object types SHOULD start with x- unless an extension
     * defines them */
    if (!c.vt && so->type[0] && strncmp(so->type, "x-", 2) != 0 && !c.new_type_ext &&
        strcmp(so->type, "bundle") != 0)
        vwarn_at(&c, "type",
                 "custom object types SHOULD start with \"x-\" or be defined by "
                 "an extension-definition");
    return f->errors;
}
