/*
 * The STIX validator's internal header: the shape of the rule tables, the
 * validation context and the value checkers shared by validate.c (the
 * driver and the common properties), validate_types.c (SDOs, SROs and meta
 * objects), validate_sco.c (cyber-observables and their extensions) and
 * validate_values.c (syntax of single values). Nothing here is part of the
 * public API; tests include it to exercise the value checkers directly.
 *
 * Rules are data: each object type is a table of {property, kind, flags,
 * argument, range}; the driver walks an object's members once, finds each
 * member's row and checks the value by its kind. What a table cannot say
 * (one property constraining another) goes into a small check function
 * attached to the table, which reads the member nodes the walk recorded.
 */
#ifndef KZ_STIX_INT_H
#define KZ_STIX_INT_H

#include <stddef.h>
#include <stdint.h>

#include "stix/stix.h"
#include "util/kztime.h"

/* What a property's value must be. A row with VF_LIST holds a non-empty
 * list whose every element is of the kind. */
enum vkind {
    VK_STRING = 1, /* any string */
    VK_VOCAB,      /* open vocabulary term: a non-empty string, any word */
    VK_ENUM,       /* one of the strings in arg (const char *const *, NULL-ended) */
    VK_BOOL,
    VK_INT,         /* an integer literal within 54 bits (and min..max with VF_RANGE) */
    VK_FLOAT,       /* a number (within min..max with VF_RANGE) */
    VK_TS,          /* a timestamp */
    VK_TS_MS,       /* a timestamp with at least millisecond precision */
    VK_TS_SEC,      /* a timestamp precise to the second */
    VK_REF,         /* an identifier of a type allowed by arg (const struct vtargets *) */
    VK_HASHES,      /* a hashes dictionary */
    VK_HEX,         /* lowercase hex, even length */
    VK_BINARY,      /* base64 (RFC 4648) */
    VK_DICT,        /* a dictionary of any values */
    VK_DICT_STR,    /* a dictionary of strings */
    VK_DICT_STRS,   /* a dictionary of lists of strings */
    VK_DICT_INT,    /* a dictionary of integers */
    VK_DICT_INTSTR, /* a dictionary of integers or strings */
    VK_LANG,        /* an RFC 5646 language tag */
    VK_OBJECT,      /* an object checked against arg (const struct vtable *) */
    VK_EXTENSIONS,  /* the extensions dictionary */
    VK_SPEC_VERSION,
    VK_TYPE,
    VK_ID,
    VK_URL,      /* an absolute URL (RFC 3986) */
    VK_DOMAIN,   /* a domain name (RFC 1034/5890) */
    VK_EMAIL,    /* an addr-spec (RFC 5322 3.4) */
    VK_IPV4,     /* IPv4 address or CIDR block */
    VK_IPV6,     /* IPv6 address or CIDR block */
    VK_MAC,      /* lowercase colon-separated MAC-48 */
    VK_CPE,      /* a CPE 2.3 formatted string */
    VK_OTHER,    /* checked only by the table's check function */
    VK_RESERVED, /* a RESERVED property: must not be present */
    VK_NA_WARN,  /* a common property the object class does not use: warning */
    VK_NA_ERR,   /* a common property the object class must not carry */
};

#define VF_REQ   1u /* required property */
#define VF_LIST  2u /* a non-empty list of the kind */
#define VF_RANGE 4u /* numeric value within [min, max] */

struct vprop {
    const char *name;
    uint8_t len; /* strlen(name) */
    uint8_t kind;
    uint8_t flags;
    const void *arg;
    double min, max;
};

/* Row constructors: P(name, kind, flags, arg) and PR(... , min, max). */
#define P(n, k, f, a)                                                                              \
    {                                                                                              \
        n, sizeof(n) - 1, k, f, a, 0, 0                                                            \
    }
#define PR(n, k, f, a, lo, hi)                                                                     \
    {                                                                                              \
        n, sizeof(n) - 1, k, (f) | VF_RANGE, a, lo, hi                                             \
    }

/* Classes of objects a reference may point at. */
#define VT_SDO    1u
#define VT_SRO    2u
#define VT_SCO    4u
#define VT_META   8u
#define VT_CUSTOM 16u /* a type the specification does not define */
#define VT_ANY    (VT_SDO | VT_SRO | VT_SCO | VT_META | VT_CUSTOM)

/* What an identifier property may reference: any type of the classes, or
 * one of the listed types; what names them in messages. */
struct vtargets {
    unsigned classes;
    const char *const *types;
    const char *what;
};

struct vctx;
struct vobj;

/* A table of properties for an object or a nested object type. */
#define VT_ONE_OF_OWN 1u /* MUST carry at least one property of this table */
struct vtable {
    const char *name; /* e.g. "external-reference", "ntfs-ext" */
    const struct vprop *props;
    unsigned nprops;
    unsigned flags;
    void (*check)(struct vctx *c, const struct vobj *o);
};

/* A spec-defined object type. */
struct vtype {
    const char *type;
    enum stix_class cls;
    struct vtable t;
};

/* A predefined extension and the SCO type it belongs to. */
struct vext {
    const char *name;
    const char *owner;
    const struct vtable *t;
};

#define VMAX_PROPS    64
#define VMAX_COMMON   24
#define VMAX_DEFERRED 8

/* Object classes as the common-property table sees them (3.2). */
#define VC_CORE   1u /* SDOs and SROs */
#define VC_SCO    2u
#define VC_MD     4u  /* marking-definition */
#define VC_LC     8u  /* language-content */
#define VC_ED     16u /* extension-definition */
#define VC_CUSTOM 32u
#define VC_ALL    63u

/* The 54-bit integer range of 2.10. */
#define VINT_MAX 9007199254740991LL

/* One object being checked: the member nodes recorded by the walk. */
struct vobj {
    const struct vtable *t;
    uint32_t node;            /* the object */
    uint32_t v[VMAX_PROPS];   /* value node of t->props[i], 0 when absent */
    uint32_t cv[VMAX_COMMON]; /* value node of common property i (top level) */
    unsigned nown;            /* members found in t->props */
};

#define VPATH_MAX (KZ_MAX_PROPERTY_NAME + 64)

struct vctx {
    const struct kzj_doc *d;
    struct stix_findings *f;
    const struct stix_obj *o;
    const struct vtype *vt; /* NULL for a custom type */
    unsigned classbit;      /* VC_* of the object */
    char path[VPATH_MAX];
    size_t plen;
    unsigned defanged : 1;            /* syntax checks of SCO values are skipped */
    unsigned toplevel_ext : 1;        /* a toplevel-property-extension is in use */
    unsigned new_type_ext : 1;        /* a new-sdo/new-sco/new-sro extension is in use */
    uint32_t deferred[VMAX_DEFERRED]; /* keys of custom properties not starting "x_" */
    unsigned ndeferred;
};

/* --- findings and paths (validate.c) ------------------------------------ */

void verr(struct vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vwarn(struct vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* As verr/vwarn, for the member sub of the current path. */
void verr_at(struct vctx *c, const char *sub, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void vwarn_at(struct vctx *c, const char *sub, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
size_t vpush_key(struct vctx *c, const char *name, size_t n);
size_t vpush_index(struct vctx *c, uint32_t i);
void vpop(struct vctx *c, size_t mark);

/* Checks the members of object node against t and runs t->check. Unknown
 * members follow the custom property rules. */
void vcheck_object(struct vctx *c, uint32_t node, const struct vtable *t);

/* The recorded value node of property name of o (own table first, then the
 * common properties at the top level), 0 when absent. */
uint32_t vget(const struct vobj *o, const char *name);

/* Checks the value v of row p (path already at the property). */
void vcheck_value(struct vctx *c, const struct vprop *p, uint32_t v);

/* "a string", "a list"... for messages. */
const char *vjson_kind(const struct kzj_doc *d, uint32_t v);

/* An integer literal within the 54 bits of 2.10. */
int vis_int(const struct kzj_doc *d, uint32_t v, int64_t *x);

int vhas_prefix(const char *p, size_t n, const char *lit);

/* The nested shapes (validate_nested.c), path at the property. kind is one
 * of the VK_DICT* kinds. */
void vcheck_dict(struct vctx *c, uint32_t v, int kind);
void vcheck_hashes(struct vctx *c, uint32_t v);
void vcheck_extensions(struct vctx *c, uint32_t v);

/* Parses timestamp node v; 0 on success. */
int vts(const struct vctx *c, uint32_t v, struct kz_ts *ts);

/* Reports "must be later than" style ordering between two timestamp
 * properties of o: b compared with a must satisfy cmp (>0 strictly later,
 * >=0 later or equal). */
void vcheck_order(struct vctx *c, const struct vobj *o, const char *a, const char *b, int strict);

/* The decoded string of node v as a view (tmp holds escaped strings);
 * -1 when not a string or not decodable into tmp. */
int vstr(const struct vctx *c, uint32_t v, char *tmp, size_t cap, const char **p, size_t *n);

/* --- the tables (validate_types.c, validate_sco.c) ----------------------- */

const struct vtype *vtype_find(const char *type);
const struct vext *vext_find(const char *name, size_t n);
extern const struct vtype vtypes_sco[];
extern const unsigned nvtypes_sco;
extern const struct vext vexts[];
extern const unsigned nvexts;
extern const struct vtable vt_external_reference, vt_kill_chain_phase, vt_granular_marking;
extern const struct vtargets vtg_identity, vtg_marking, vtg_any;

/* marking-definition rules that depend on the TLP tables (validate_types.c) */
void vcheck_marking_definition(struct vctx *c, const struct vobj *o);

/* --- value syntax (validate_values.c); all take s[0..n) ------------------ */

int vsyn_type_name(const char *s, size_t n);     /* 3.1 / 11.2 */
int vsyn_property_name(const char *s, size_t n); /* 11.1: a-z0-9_, 3..250, letter first */
int vsyn_dict_key(const char *s, size_t n);      /* 2.3 */
int vsyn_hash_key(const char *s, size_t n);      /* 2.7 */
int vsyn_lang(const char *s, size_t n);          /* RFC 5646 */
int vsyn_hex(const char *s, size_t n);           /* 2.8 */
int vsyn_base64(const char *s, size_t n);        /* RFC 4648 */
int vsyn_ipv4(const char *s, size_t n);          /* with optional /0..32 */
int vsyn_ipv6(const char *s, size_t n);          /* with optional /0..128 */
int vsyn_mac(const char *s, size_t n);
int vsyn_url(const char *s, size_t n);
int vsyn_domain(const char *s, size_t n);
int vsyn_email(const char *s, size_t n);
int vsyn_cpe23(const char *s, size_t n);
int vsyn_relationship_type(const char *s, size_t n); /* a-z0-9- */
int vsyn_selector(const char *s, size_t n);          /* 7.2.3 selector syntax */

/* Splits identifier s[0..n) into its type (copied into type[0..251)) and
 * checks the UUID; 0 when well formed. */
int vsyn_identifier(const char *s, size_t n, char type[KZ_MAX_STIX_TYPE + 1]);

/* Hash values: returns 0 when value suits the algorithm key, -1 when not, 1
 * when the key is not an algorithm of hash-algorithm-ov (any value goes). */
int vsyn_hash_value(const char *key, size_t kn, const char *v, size_t vn);

/* The hash-algorithm-ov spelling of a key that differs only in case or
 * punctuation ("sha256" -> "SHA-256"), or NULL. */
const char *vsyn_hash_canonical(const char *key, size_t kn);

#endif
