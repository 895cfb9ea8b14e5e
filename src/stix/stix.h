/*
 * The STIX 2.1 core: reading bundles and TAXII envelopes, reading an
 * object's common properties (what the store indexes), validating objects
 * against the MUSTs of the specification, deterministic SCO ids, versions
 * and TLP markings.
 *
 * Objects are never converted into C structs property by property: an
 * object is a node on a JSON tape (json.h) whose original text is kept and
 * stored verbatim, so custom properties and custom types survive untouched.
 * struct stix_obj holds only the handful of properties kizuna acts on.
 */
#ifndef KZ_STIX_H
#define KZ_STIX_H

#include <stddef.h>
#include <stdint.h>

#include "json/json.h"
#include "util/error.h"
#include "util/limits.h"

/* The namespace of deterministic SCO ids (STIX 2.1, section 2.9). */
#define STIX_SCO_NAMESPACE "00abedb4-aa42-466c-9c01-fed23315a9b7"

enum stix_class {
    STIX_CLASS_CUSTOM = 0, /* a type the specification does not define */
    STIX_SDO,
    STIX_SRO,
    STIX_SCO,
    STIX_META, /* language-content, marking-definition, extension-definition */
};

/* TLP levels, ordered from least to most restrictive. TLP 1.0 markings map
 * to their 2.0 equivalents (WHITE to CLEAR). */
enum stix_tlp {
    STIX_TLP_NONE = 0, /* no TLP marking: the node's default applies */
    STIX_TLP_CLEAR,
    STIX_TLP_GREEN,
    STIX_TLP_AMBER,
    STIX_TLP_AMBER_STRICT,
    STIX_TLP_RED,
};

/* The common properties of one object, read from a tape. String fields are
 * NUL-terminated copies, "" when absent or unreadable; reading never fails
 * on bad content (validation reports that), only on a non-object node. */
struct stix_obj {
    const struct kzj_doc *doc;
    uint32_t node;
    char type[KZ_MAX_STIX_TYPE + 1];
    char id[KZ_MAX_STIX_ID + 1];
    char spec_version[16];
    char created_by_ref[KZ_MAX_STIX_ID + 1];
    char version[64];    /* the text of modified, else created, else "" */
    int64_t version_us;  /* that instant in microseconds; 0 when version is "" */
    int64_t created_us;  /* 0 when absent */
    int64_t modified_us; /* 0 when absent */
    unsigned has_created : 1;
    unsigned has_modified : 1;
    unsigned revoked : 1;
    enum stix_class cls;
    enum stix_tlp tlp;     /* most restrictive TLP in object_marking_refs and in
                              granular_markings (the whole object takes it) */
    uint32_t marking_refs; /* node of object_marking_refs, 0 when absent */
};

/* Reads the common properties of the object at node. Returns -1 (KZ_EINVALID)
 * only when the node is not a JSON object. */
int stix_obj_read(const struct kzj_doc *doc, uint32_t node, struct stix_obj *o,
                  struct kz_error *err);

/* The raw JSON text of the object. */
static inline const char *stix_obj_raw(const struct stix_obj *o, size_t *len)
{
    *len = o->doc->nodes[o->node].len;
    return o->doc->buf + o->doc->nodes[o->node].off;
}

/* Calls fn for each reference that decides whether a relationship, a
 * sighting or a container may be seen (source_ref, target_ref,
 * sighting_of_ref, observed_data_refs, where_sighted_refs; object_refs of
 * report, grouping, note, opinion and observed-data): a reader who may not
 * see what it points to may not see it either. Returns 1 when o's type is
 * gated, 0 when it is not (fn is not called), -1 when fn failed. */
typedef int (*stix_ref_fn)(void *ctx, const char *id, size_t n);
int stix_gating_refs(const struct stix_obj *o, stix_ref_fn fn, void *ctx);

/* The i-th gated type name (from 0), NULL past the last: for a store that
 * must name them in a query. */
const char *stix_gated_type(size_t i);

/* The class of a type name, by the specification's lists. */
enum stix_class stix_type_class(const char *type);

/* The TLP level a marking-definition id stands for, STIX_TLP_NONE when it is
 * not one of the nine TLP 1.0/2.0 markings. */
enum stix_tlp stix_tlp_of_marking(const char *id, size_t n);

/* "TLP:AMBER+STRICT" and the like; "" for STIX_TLP_NONE. */
const char *stix_tlp_name(enum stix_tlp t);

/* The TLP 2.0 marking-definition id of a level (never a TLP 1.0 id). */
const char *stix_tlp_marking_id(enum stix_tlp t);

/* Parses "clear", "green", "amber", "amber+strict", "red" (any case, with
 * or without "TLP:"); -1 when unknown. */
int stix_tlp_parse(const char *s, enum stix_tlp *out);

/* --- validation --------------------------------------------------------- */

struct stix_finding {
    char property[KZ_MAX_PROPERTY_NAME + 64]; /* path, e.g. "external_references[2].url" */
    char rule[320];                           /* what is wrong, in words */
    int warning;                              /* 1: a SHOULD, not a MUST */
};

struct stix_findings {
    struct stix_finding items[KZ_MAX_FINDINGS_PER_OBJECT];
    unsigned n;        /* items filled */
    unsigned errors;   /* all errors found, stored or not */
    unsigned warnings; /* all warnings found, stored or not */
};

void stix_findings_clear(struct stix_findings *f);

/* Adds a finding (printf-style rule); counts it even when items is full. */
void stix_finding_add(struct stix_findings *f, int warning, const char *property, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

/* Validates one object against STIX 2.1. Returns the number of errors
 * (0: valid; warnings do not count). */
unsigned stix_validate(const struct stix_obj *o, struct stix_findings *f);

/* --- deterministic SCO ids ---------------------------------------------- */

/* Computes the UUIDv5 id of the SCO at node from its ID Contributing
 * Properties. Returns 1 with out filled, 0 when the type has none or none is
 * present (a UUIDv4 is then correct), -1 on an internal error. */
int stix_sco_id(const struct kzj_doc *doc, uint32_t node, const char *type,
                char out[KZ_MAX_STIX_ID + 1]);

/* --- bundles and envelopes ---------------------------------------------- */

struct stix_container {
    int kind;                    /* STIX_BUNDLE, STIX_ENVELOPE or STIX_SINGLE */
    char id[KZ_MAX_STIX_ID + 1]; /* the bundle's id, "" otherwise */
    int more;                    /* envelope's "more" */
    char next[256];              /* envelope's "next" */
    size_t count;                /* objects seen */
    int has_objects;             /* an "objects" member was there */
    int has_paging;              /* a "more" or "next" member was there */
    char spec_version[16];       /* a bundle's own spec_version (STIX 2.0 has one), or "" */
    char keys[160];              /* the first top-level keys, comma-separated, for messages */
};
#define STIX_BUNDLE   1
#define STIX_ENVELOPE 2
#define STIX_SINGLE   3 /* a file holding one bare STIX object */

/* Called once per object; index counts from 0 in the objects list. The tape
 * is reused after the call returns. Return -1 (with err) to stop. */
typedef int (*stix_object_fn)(void *ctx, size_t index, const struct kzj_doc *doc, uint32_t node,
                              struct kz_error *err);

/* Reads a bundle, a TAXII envelope or a single object from buf[0..len) and
 * calls fn for each object in order, in one pass and with one object's tape
 * in memory at a time. JSON errors and container errors (wrong "type", bad
 * bundle id, "objects" not a list) stop the read with -1 and err set;
 * problems inside an object are fn's to judge. */
int stix_read(const char *buf, size_t len, stix_object_fn fn, void *ctx,
              struct stix_container *info, struct kz_error *err);

/* Whether a file read by stix_read is STIX 2.1 content at all, for the
 * commands that read files (import, validate): a JSON object with neither
 * "type" nor "objects" (a MISP event, say) or a STIX 2.0 bundle is an error
 * that says what it is, never an empty success. A TAXII envelope from a
 * server may leave "objects" out when it has none; one with "more" or
 * "next" is accepted. */
int stix_container_check(const struct stix_container *info, struct kz_error *err);

#endif
