/*
 * Rule tables of the STIX 2.1 domain objects (section 4), relationship
 * objects (5) and meta objects (7), and the few checks per type that tie
 * one property to another. The common properties are in validate.c, the
 * cyber-observables in validate_sco.c. Open vocabularies are checked for
 * shape only: any non-empty word is a valid term (2.14); enumerations are
 * closed (2.4).
 */
#include "stix/stix_int.h"

#include <string.h>

#include "pattern/pattern.h"
#include "util/buf.h"

/* --- reference targets ---------------------------------------------------- */

static const struct vtargets t_software = {0, (const char *const[]){"software", NULL}, "software"};
static const struct vtargets t_file_artifact = {0, (const char *const[]){"file", "artifact", NULL},
                                                "file or artifact"};
static const struct vtargets t_sample = {
        0, (const char *const[]){"file", "network-traffic", "artifact", NULL},
        "file, network-traffic or artifact"};
static const struct vtargets t_sco = {VT_SCO | VT_CUSTOM, NULL, "SCO"};
static const struct vtargets t_sdo = {VT_SDO | VT_CUSTOM, NULL, "SDO"};
static const struct vtargets t_sdo_sco = {VT_SDO | VT_SCO | VT_CUSTOM, NULL, "SDO or SCO"};
static const struct vtargets t_sco_sro = {VT_SCO | VT_SRO | VT_CUSTOM, NULL, "SCO or SRO"};
static const struct vtargets t_observed_data = {0, (const char *const[]){"observed-data", NULL},
                                                "observed-data"};
static const struct vtargets t_identity_location = {
        0, (const char *const[]){"identity", "location", NULL}, "identity or location"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Rows shared by several SDOs. */
#define R_NAME        P("name", VK_STRING, VF_REQ, NULL)
#define R_DESC        P("description", VK_STRING, 0, NULL)
#define R_ALIASES     P("aliases", VK_STRING, VF_LIST, NULL)
#define R_KILL_CHAIN  P("kill_chain_phases", VK_OBJECT, VF_LIST, &vt_kill_chain_phase)
#define R_FIRST_SEEN  P("first_seen", VK_TS, 0, NULL)
#define R_LAST_SEEN   P("last_seen", VK_TS, 0, NULL)
#define R_OBJECT_REFS P("object_refs", VK_REF, VF_REQ | VF_LIST, &vtg_any)

/* first_seen <= last_seen, in the SDOs and the sighting that carry both */
static void check_seen(struct vctx *c, const struct vobj *o)
{
    vcheck_order(c, o, "first_seen", "last_seen", 0);
}

/* Walks external_references and checks the external_id of references
 * whose source_name is src (4.1 CAPEC, 4.19 CVE). */
static void check_external_ids(struct vctx *c, const struct vobj *o, const char *src,
                               int (*ok)(const char *, size_t), const char *rule)
{
    uint32_t refs = vget(o, "external_references"), i = 0;

    if (!refs || kzj_type(c->d, refs) != KZJ_ARRAY)
        return;
    KZJ_FOREACH_ELEM(c->d, refs, e)
    {
        char tmp[128];
        const char *p;
        size_t n, m1, m2;
        uint32_t sn, id;

        i++;
        if (kzj_type(c->d, e) != KZJ_OBJECT)
            continue;
        sn = KZJ_GET(c->d, e, "source_name");
        id = KZJ_GET(c->d, e, "external_id");
        if (!sn || !id || !kzj_str_eq(c->d, sn, src, strlen(src)))
            continue;
        if (vstr(c, id, tmp, sizeof(tmp), &p, &n) == 0 && ok(p, n))
            continue;
        m1 = vpush_key(c, "external_references", 19);
        m2 = vpush_index(c, i - 1);
        verr_at(c, "external_id", "%s", rule);
        vpop(c, m2);
        vpop(c, m1);
    }
}

static int digits_from(const char *p, size_t n, size_t from, size_t min)
{
    if (n < from + min)
        return 0;
    for (size_t i = from; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

static int capec_id(const char *p, size_t n)
{
    return n > 6 && memcmp(p, "CAPEC-", 6) == 0 && digits_from(p, n, 6, 1);
}

static int cve_id(const char *p, size_t n)
{
    return n >= 13 && memcmp(p, "CVE-", 4) == 0 && digits_from(p, 8, 4, 4) && p[8] == '-' &&
           digits_from(p, n, 9, 4);
}

/* --- SDOs (section 4) --------------------------------------------------------- */

static void check_attack_pattern(struct vctx *c, const struct vobj *o)
{
    check_external_ids(c, o, "capec", capec_id,
                       "must be formatted as CAPEC-[id] when source_name is capec");
}

static const struct vprop attack_pattern[] = {R_NAME, R_DESC, R_ALIASES, R_KILL_CHAIN};

static const struct vprop campaign[] = {
        R_NAME, R_DESC, R_ALIASES, R_FIRST_SEEN, R_LAST_SEEN, P("objective", VK_STRING, 0, NULL),
};

static const struct vprop course_of_action[] = {
        R_NAME,
        R_DESC,
        P("action", VK_RESERVED, 0, NULL),
};

static const struct vprop grouping[] = {
        P("name", VK_STRING, 0, NULL),
        R_DESC,
        P("context", VK_VOCAB, VF_REQ, NULL),
        R_OBJECT_REFS,
};

static const struct vprop identity[] = {
        R_NAME,
        R_DESC,
        P("roles", VK_STRING, VF_LIST, NULL),
        P("identity_class", VK_VOCAB, 0, NULL),
        P("sectors", VK_VOCAB, VF_LIST, NULL),
        P("contact_information", VK_STRING, 0, NULL),
};

static const struct vprop incident[] = {R_NAME, R_DESC};

/* 4.7: valid_until after valid_from; a STIX pattern must parse (9). */
static void check_indicator(struct vctx *c, const struct vobj *o)
{
    uint32_t type = vget(o, "pattern_type"), pat = vget(o, "pattern");
    char tmp[KZ_MAX_DECODED_STRING];
    const char *p;
    size_t n;
    struct kz_buf big;
    struct kz_error err;

    vcheck_order(c, o, "valid_from", "valid_until", 1);
    if (!type || !pat || !KZJ_STR_EQ(c->d, type, "stix") || kzj_type(c->d, pat) != KZJ_STRING)
        return;
    kz_buf_init(&big, KZ_MAX_OBJECT_BYTES);
    kz_error_clear(&err);
    if (vstr(c, pat, tmp, sizeof(tmp), &p, &n) < 0) {
        /* long and escaped: decode on the heap (rare) */
        if (kzj_unescape(kzj_raw(c->d, pat) + 1, c->d->nodes[pat].len - 2, &big) < 0 ||
            memchr(big.data ? big.data : "", '\0', big.len)) {
            verr_at(c, "pattern", "must be a STIX pattern without NUL characters");
            kz_buf_free(&big);
            return;
        }
        p = big.data ? big.data : "";
        n = big.len;
    }
    if (kzp_check(p, n, &err) < 0)
        verr_at(c, "pattern", "%s", err.text[0] ? err.text : "must be a valid STIX pattern");
    kz_buf_free(&big);
}

static const struct vprop indicator[] = {
        P("name", VK_STRING, 0, NULL),
        R_DESC,
        P("indicator_types", VK_VOCAB, VF_LIST, NULL),
        P("pattern", VK_STRING, VF_REQ, NULL),
        P("pattern_type", VK_VOCAB, VF_REQ, NULL),
        P("pattern_version", VK_STRING, 0, NULL),
        P("valid_from", VK_TS, VF_REQ, NULL),
        P("valid_until", VK_TS, 0, NULL),
        R_KILL_CHAIN,
};

static const struct vprop infrastructure[] = {
        R_NAME,      R_DESC,       P("infrastructure_types", VK_VOCAB, VF_LIST, NULL),
        R_ALIASES,   R_KILL_CHAIN, R_FIRST_SEEN,
        R_LAST_SEEN,
};

static const struct vprop intrusion_set[] = {
        R_NAME,
        R_DESC,
        R_ALIASES,
        R_FIRST_SEEN,
        R_LAST_SEEN,
        P("goals", VK_STRING, VF_LIST, NULL),
        P("resource_level", VK_VOCAB, 0, NULL),
        P("primary_motivation", VK_VOCAB, 0, NULL),
        P("secondary_motivations", VK_VOCAB, VF_LIST, NULL),
};

/* 4.10: region, country, or latitude and longitude; the coordinates go in
 * pairs and precision needs both. */
static void check_location(struct vctx *c, const struct vobj *o)
{
    uint32_t lat = vget(o, "latitude"), lon = vget(o, "longitude");

    if (lat && !lon)
        verr_at(c, "longitude", "required property is missing: latitude is present");
    if (lon && !lat)
        verr_at(c, "latitude", "required property is missing: longitude is present");
    if (vget(o, "precision") && !(lat && lon))
        verr_at(c, "precision", "must not be present without latitude and longitude");
    if (!vget(o, "region") && !vget(o, "country") && !(lat && lon))
        verr(c, "a location must have region, country, or latitude and longitude");
}

static const struct vprop location[] = {
        P("name", VK_STRING, 0, NULL),
        R_DESC,
        PR("latitude", VK_FLOAT, 0, NULL, -90.0, 90.0),
        PR("longitude", VK_FLOAT, 0, NULL, -180.0, 180.0),
        P("precision", VK_FLOAT, 0, NULL),
        P("region", VK_VOCAB, 0, NULL),
        P("country", VK_STRING, 0, NULL),
        P("administrative_area", VK_STRING, 0, NULL),
        P("city", VK_STRING, 0, NULL),
        P("street_address", VK_STRING, 0, NULL),
        P("postal_code", VK_STRING, 0, NULL),
};

/* 4.11: a malware family must be named. */
static void check_malware(struct vctx *c, const struct vobj *o)
{
    uint32_t fam = vget(o, "is_family");

    check_seen(c, o);
    if (fam && kzj_type(c->d, fam) == KZJ_TRUE && !vget(o, "name"))
        verr_at(c, "name", "required property is missing: is_family is true");
}

static const struct vprop malware[] = {
        P("name", VK_STRING, 0, NULL),
        R_DESC,
        P("malware_types", VK_VOCAB, VF_LIST, NULL),
        P("is_family", VK_BOOL, VF_REQ, NULL),
        R_ALIASES,
        R_KILL_CHAIN,
        R_FIRST_SEEN,
        R_LAST_SEEN,
        P("operating_system_refs", VK_REF, VF_LIST, &t_software),
        P("architecture_execution_envs", VK_VOCAB, VF_LIST, NULL),
        P("implementation_languages", VK_VOCAB, VF_LIST, NULL),
        P("capabilities", VK_VOCAB, VF_LIST, NULL),
        P("sample_refs", VK_REF, VF_LIST, &t_file_artifact),
};

static void check_malware_analysis(struct vctx *c, const struct vobj *o)
{
    if (!vget(o, "result") && !vget(o, "analysis_sco_refs"))
        verr(c, "a malware-analysis must have result or analysis_sco_refs");
}

static const struct vprop malware_analysis[] = {
        P("product", VK_STRING, VF_REQ, NULL),
        P("version", VK_STRING, 0, NULL),
        P("host_vm_ref", VK_REF, 0, &t_software),
        P("operating_system_ref", VK_REF, 0, &t_software),
        P("installed_software_refs", VK_REF, VF_LIST, &t_software),
        P("configuration_version", VK_STRING, 0, NULL),
        P("modules", VK_STRING, VF_LIST, NULL),
        P("analysis_engine_version", VK_STRING, 0, NULL),
        P("analysis_definition_version", VK_STRING, 0, NULL),
        P("submitted", VK_TS, 0, NULL),
        P("analysis_started", VK_TS, 0, NULL),
        P("analysis_ended", VK_TS, 0, NULL),
        P("result_name", VK_STRING, 0, NULL),
        P("result", VK_VOCAB, 0, NULL),
        P("analysis_sco_refs", VK_REF, VF_LIST, &t_sco),
        P("sample_ref", VK_REF, 0, &t_sample),
};

static const struct vprop note[] = {
        P("abstract", VK_STRING, 0, NULL),
        P("content", VK_STRING, VF_REQ, NULL),
        P("authors", VK_STRING, VF_LIST, NULL),
        R_OBJECT_REFS,
};

/* The deprecated observable container (2.13): a dictionary of objects that
 * each carry a type. Local references inside it are not followed. */
static void check_observable_container(struct vctx *c, uint32_t v)
{
    size_t mark = vpush_key(c, "objects", 7);

    vwarn(c, "the objects property is deprecated: use object_refs (4.14)");
    if (kzj_type(c->d, v) != KZJ_OBJECT) {
        verr(c, "must be a dictionary of cyber-observable objects");
    } else if (c->d->nodes[v].next == v + 1) {
        verr(c, "must contain at least one object");
    } else {
        KZJ_FOREACH_MEMBER(c->d, v, k)
        {
            char tmp[256];
            const char *p;
            size_t n, m;
            uint32_t t;

            if (vstr(c, k, tmp, sizeof(tmp), &p, &n) < 0) {
                p = "?";
                n = 1;
            }
            m = vpush_key(c, p, n);
            t = kzj_type(c->d, k + 1) == KZJ_OBJECT ? KZJ_GET(c->d, k + 1, "type") : 0;
            if (!t || kzj_type(c->d, t) != KZJ_STRING)
                verr(c, "must be a cyber-observable object with a type");
            vpop(c, m);
        }
    }
    vpop(c, mark);
}

/* 4.14: objects or object_refs (not both), and object_refs holds at least
 * one SCO. */
static void check_observed_data(struct vctx *c, const struct vobj *o)
{
    uint32_t objs = vget(o, "objects"), refs = vget(o, "object_refs");
    int sco = 0;

    vcheck_order(c, o, "first_observed", "last_observed", 0);
    if (objs && refs)
        verr_at(c, "objects", "must not be present together with object_refs");
    else if (!objs && !refs)
        verr_at(c, "object_refs", "required property is missing");
    if (objs)
        check_observable_container(c, objs);
    if (!refs || kzj_type(c->d, refs) != KZJ_ARRAY)
        return;
    KZJ_FOREACH_ELEM(c->d, refs, e)
    {
        char tmp[KZ_MAX_STIX_ID + 1], type[KZ_MAX_STIX_TYPE + 1];
        const char *p;
        size_t n;
        enum stix_class cls;

        if (vstr(c, e, tmp, sizeof(tmp), &p, &n) < 0 || vsyn_identifier(p, n, type) < 0)
            return; /* reported as a malformed reference */
        cls = stix_type_class(type);
        if (cls == STIX_SCO || (cls == STIX_CLASS_CUSTOM && strcmp(type, "bundle") != 0))
            sco = 1;
    }
    if (!sco)
        verr_at(c, "object_refs", "must contain at least one SCO reference");
}

static const struct vprop observed_data[] = {
        P("first_observed", VK_TS, VF_REQ, NULL),
        P("last_observed", VK_TS, VF_REQ, NULL),
        PR("number_observed", VK_INT, VF_REQ, NULL, 1, 999999999),
        P("objects", VK_OTHER, 0, NULL),
        P("object_refs", VK_REF, VF_LIST, &t_sco_sro),
};

static const char *const opinion_enum[] = {"strongly-disagree", "disagree", "neutral", "agree",
                                           "strongly-agree",    NULL};

static const struct vprop opinion[] = {
        P("explanation", VK_STRING, 0, NULL),
        P("authors", VK_STRING, VF_LIST, NULL),
        P("opinion", VK_ENUM, VF_REQ, opinion_enum),
        R_OBJECT_REFS,
};

static const struct vprop report[] = {
        R_NAME,
        R_DESC,
        P("report_types", VK_VOCAB, VF_LIST, NULL),
        P("published", VK_TS, VF_REQ, NULL),
        R_OBJECT_REFS,
};

static const struct vprop threat_actor[] = {
        R_NAME,
        R_DESC,
        P("threat_actor_types", VK_VOCAB, VF_LIST, NULL),
        R_ALIASES,
        R_FIRST_SEEN,
        R_LAST_SEEN,
        P("roles", VK_VOCAB, VF_LIST, NULL),
        P("goals", VK_STRING, VF_LIST, NULL),
        P("sophistication", VK_VOCAB, 0, NULL),
        P("resource_level", VK_VOCAB, 0, NULL),
        P("primary_motivation", VK_VOCAB, 0, NULL),
        P("secondary_motivations", VK_VOCAB, VF_LIST, NULL),
        P("personal_motivations", VK_VOCAB, VF_LIST, NULL),
};

static const struct vprop tool[] = {
        R_NAME,    R_DESC,       P("tool_types", VK_VOCAB, VF_LIST, NULL),
        R_ALIASES, R_KILL_CHAIN, P("tool_version", VK_STRING, 0, NULL),
};

static void check_vulnerability(struct vctx *c, const struct vobj *o)
{
    check_external_ids(c, o, "cve", cve_id,
                       "must be the exact CVE identifier, like CVE-2016-1234, when "
                       "source_name is cve");
}

static const struct vprop vulnerability[] = {R_NAME, R_DESC};

/* --- SROs (section 5) ----------------------------------------------------------- */

static void check_relationship(struct vctx *c, const struct vobj *o)
{
    char tmp[256];
    const char *p;
    size_t n;
    uint32_t rt = vget(o, "relationship_type");

    if (rt && vstr(c, rt, tmp, sizeof(tmp), &p, &n) == 0 && !vsyn_relationship_type(p, n))
        verr_at(c, "relationship_type", "must be ASCII a-z, 0-9 and '-'");
    vcheck_order(c, o, "start_time", "stop_time", 1);
}

static const struct vprop relationship[] = {
        P("relationship_type", VK_STRING, VF_REQ, NULL),
        R_DESC,
        P("source_ref", VK_REF, VF_REQ, &t_sdo_sco),
        P("target_ref", VK_REF, VF_REQ, &t_sdo_sco),
        P("start_time", VK_TS, 0, NULL),
        P("stop_time", VK_TS, 0, NULL),
};

static const struct vprop sighting[] = {
        R_DESC,
        R_FIRST_SEEN,
        R_LAST_SEEN,
        PR("count", VK_INT, 0, NULL, 0, 999999999),
        P("sighting_of_ref", VK_REF, VF_REQ, &t_sdo),
        P("observed_data_refs", VK_REF, VF_LIST, &t_observed_data),
        P("where_sighted_refs", VK_REF, VF_LIST, &t_identity_location),
        P("summary", VK_BOOL, 0, NULL), /* typed "string" in 5.2.1, described as a boolean */
};

/* --- meta objects (section 7) ------------------------------------------------------ */

/* 7.1: contents maps RFC 5646 tags to dictionaries mirroring the target. */
static void check_language_content(struct vctx *c, const struct vobj *o)
{
    uint32_t v = vget(o, "contents");
    size_t mark;

    if (!v)
        return;
    mark = vpush_key(c, "contents", 8);
    if (kzj_type(c->d, v) != KZJ_OBJECT) {
        verr(c, "must be a dictionary keyed by language tags");
    } else if (c->d->nodes[v].next == v + 1) {
        verr(c, "must not be an empty dictionary");
    } else {
        KZJ_FOREACH_MEMBER(c->d, v, k)
        {
            char tmp[256];
            const char *p;
            size_t n, m;

            if (vstr(c, k, tmp, sizeof(tmp), &p, &n) < 0) {
                p = kzj_raw(c->d, k) + 1;
                n = c->d->nodes[k].len - 2;
            }
            m = vpush_key(c, p, n);
            if (!vsyn_lang(p, n))
                verr(c, "keys must be RFC 5646 language tags, like de or ja-JP");
            if (kzj_type(c->d, k + 1) != KZJ_OBJECT)
                verr(c, "must be a dictionary mirroring the properties of the target object");
            else if (c->d->nodes[k + 1].next == k + 2)
                verr(c, "must not be an empty dictionary");
            vpop(c, m);
        }
    }
    vpop(c, mark);
}

static const struct vprop language_content[] = {
        P("object_ref", VK_REF, VF_REQ, &vtg_any),
        P("object_modified", VK_TS, 0, NULL),
        P("contents", VK_OTHER, VF_REQ, NULL),
};

static const struct vprop marking_definition[] = {
        P("name", VK_STRING, 0, NULL),
        P("definition_type", VK_VOCAB, 0, NULL),
        P("definition", VK_OTHER, 0, NULL),
};

static const char *const extension_type_enum[] = {
        "new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension", NULL};

/* 7.3.1: extension_properties only with toplevel-property-extension. */
static void check_extension_definition(struct vctx *c, const struct vobj *o)
{
    uint32_t types = vget(o, "extension_types"), props = vget(o, "extension_properties");
    int toplevel = 0;

    if (types && kzj_type(c->d, types) == KZJ_ARRAY) {
        KZJ_FOREACH_ELEM(c->d, types, e)
        {
            if (KZJ_STR_EQ(c->d, e, "toplevel-property-extension"))
                toplevel = 1;
        }
    }
    if (props && !toplevel)
        verr_at(c, "extension_properties",
                "must only be used when extension_types includes toplevel-property-extension");
    else if (!props && toplevel)
        vwarn_at(c, "extension_properties",
                 "SHOULD list the property names a toplevel-property-extension adds");
}

static const struct vprop extension_definition[] = {
        P("name", VK_STRING, VF_REQ, NULL),
        R_DESC,
        P("schema", VK_STRING, VF_REQ, NULL),
        P("version", VK_STRING, VF_REQ, NULL),
        P("extension_types", VK_ENUM, VF_REQ | VF_LIST, extension_type_enum),
        P("extension_properties", VK_STRING, VF_LIST, NULL),
};

/* --- TLP marking definitions (7.2.1.4 and the TLP 2.0 extension) -------------------- */

#define TLP2_EXTENSION "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

static const struct tlp_def {
    const char *id;
    int v2;
    const char *word; /* the value of definition.tlp or tlp_2_0 */
    const char *name;
} tlp_defs[] = {
        {"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", 0, "white", "TLP:WHITE"},
        {"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", 0, "green", "TLP:GREEN"},
        {"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", 0, "amber", "TLP:AMBER"},
        {"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", 0, "red", "TLP:RED"},
        {"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", 1, "clear", "TLP:CLEAR"},
        {"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", 1, "green", "TLP:GREEN"},
        {"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", 1, "amber", "TLP:AMBER"},
        {"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", 1, "amber+strict",
         "TLP:AMBER+STRICT"},
        {"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", 1, "red", "TLP:RED"},
};

#define TLP_FIXED "TLP marking definitions are fixed by the specification"

static int str_is(const struct kzj_doc *d, uint32_t v, const char *s)
{
    return v && kzj_type(d, v) == KZJ_STRING && kzj_str_eq(d, v, s, strlen(s));
}

/* Whether object v has exactly the two string members a=av, b=bv (b may be
 * NULL for a one-member object). */
static int exact_members(const struct kzj_doc *d, uint32_t v, const char *a, const char *av,
                         const char *b, const char *bv)
{
    if (!v || kzj_type(d, v) != KZJ_OBJECT || kzj_count(d, v) != (b ? 2u : 1u))
        return 0;
    if (!str_is(d, kzj_get(d, v, a, strlen(a)), av))
        return 0;
    return !b || str_is(d, kzj_get(d, v, b, strlen(b)), bv);
}

static int created_is(const struct vctx *c, uint32_t v, const char *when)
{
    struct kz_ts a, b;
    const char *why;

    return vts(c, v, &a) == 0 && kz_ts_parse(when, strlen(when), &b, &why) == 0 &&
           kz_ts_cmp(&a, &b) == 0;
}

static void check_tlp(struct vctx *c, const struct vobj *o, const struct tlp_def *t)
{
    const struct kzj_doc *d = c->d;
    uint32_t dt = vget(o, "definition_type"), def = vget(o, "definition");
    uint32_t name = vget(o, "name"), ext = vget(o, "extensions");

    if (!t->v2) {
        if (!str_is(d, dt, "tlp"))
            verr_at(c, "definition_type", "%s: must be \"tlp\"", TLP_FIXED);
        if (!exact_members(d, def, "tlp", t->word, NULL, NULL))
            verr_at(c, "definition", "%s: must be {\"tlp\": \"%s\"}", TLP_FIXED, t->word);
        if (!created_is(c, vget(o, "created"), "2017-01-20T00:00:00.000Z"))
            verr_at(c, "created", "%s: must be 2017-01-20T00:00:00.000Z", TLP_FIXED);
        if (name && !str_is(d, name, t->name))
            verr_at(c, "name", "%s: must be \"%s\"", TLP_FIXED, t->name);
        if (ext)
            verr_at(c, "extensions", "%s: a TLP 1.0 marking has no extensions", TLP_FIXED);
        return;
    }
    if (!str_is(d, name, t->name))
        verr_at(c, "name", "%s: must be \"%s\"", TLP_FIXED, t->name);
    if (!created_is(c, vget(o, "created"), "2022-10-01T00:00:00.000Z"))
        verr_at(c, "created", "%s: must be 2022-10-01T00:00:00.000Z", TLP_FIXED);
    if (dt)
        verr_at(c, "definition_type", "%s: a TLP 2.0 marking has no definition_type", TLP_FIXED);
    if (def)
        verr_at(c, "definition", "%s: a TLP 2.0 marking has no definition", TLP_FIXED);
    if (!ext || kzj_type(d, ext) != KZJ_OBJECT || kzj_count(d, ext) != 1 ||
        !exact_members(d, KZJ_GET(d, ext, TLP2_EXTENSION), "extension_type", "property-extension",
                       "tlp_2_0", t->word))
        verr_at(c, "extensions",
                "%s: must be {\"" TLP2_EXTENSION "\": {\"extension_type\": "
                "\"property-extension\", \"tlp_2_0\": \"%s\"}}",
                TLP_FIXED, t->word);
}

/* 3.2: a marking definition's markings must not reference itself. */
static void check_self_marking(struct vctx *c, const struct vobj *o, const char *id, size_t n)
{
    const struct kzj_doc *d = c->d;
    uint32_t refs = vget(o, "object_marking_refs"), gms = vget(o, "granular_markings"), i = 0;

    if (refs && kzj_type(d, refs) == KZJ_ARRAY) {
        KZJ_FOREACH_ELEM(d, refs, e)
        {
            size_t m1 = vpush_key(c, "object_marking_refs", 19), m2 = vpush_index(c, i++);
            if (kzj_str_eq(d, e, id, n))
                verr(c, "must not reference the marking definition itself");
            vpop(c, m2);
            vpop(c, m1);
        }
    }
    i = 0;
    if (gms && kzj_type(d, gms) == KZJ_ARRAY) {
        KZJ_FOREACH_ELEM(d, gms, e)
        {
            size_t m1 = vpush_key(c, "granular_markings", 17), m2 = vpush_index(c, i++);
            uint32_t ref = kzj_type(d, e) == KZJ_OBJECT ? KZJ_GET(d, e, "marking_ref") : 0;
            if (ref && kzj_str_eq(d, ref, id, n))
                verr_at(c, "marking_ref", "must not reference the marking definition itself");
            vpop(c, m2);
            vpop(c, m1);
        }
    }
}

void vcheck_marking_definition(struct vctx *c, const struct vobj *o)
{
    const struct kzj_doc *d = c->d;
    uint32_t id = vget(o, "id"), dt = vget(o, "definition_type"), def = vget(o, "definition");
    uint32_t ext = vget(o, "extensions");
    char tmp[KZ_MAX_STIX_ID + 1];
    const char *p;
    size_t n;

    if (id && vstr(c, id, tmp, sizeof(tmp), &p, &n) == 0) {
        check_self_marking(c, o, p, n);
        for (size_t i = 0; i < N(tlp_defs); i++) {
            if (strlen(tlp_defs[i].id) == n && memcmp(tlp_defs[i].id, p, n) == 0) {
                check_tlp(c, o, &tlp_defs[i]);
                return;
            }
        }
    }
    /* 7.2.1.4: only the specification's instances may be TLP markings */
    if (str_is(d, dt, "tlp"))
        verr_at(c, "definition_type",
                "%s: only its four TLP 1.0 markings may use definition_type \"tlp\"", TLP_FIXED);
    if (ext && kzj_type(d, ext) == KZJ_OBJECT && KZJ_GET(d, ext, TLP2_EXTENSION))
        verr_at(c, "extensions", "%s: only its five TLP 2.0 markings may use the TLP 2.0 extension",
                TLP_FIXED);
    if (!ext) {
        if (!dt)
            verr_at(c, "definition_type", "required property is missing: extensions is absent");
        if (!def)
            verr_at(c, "definition", "required property is missing: extensions is absent");
    }
    if (def && kzj_type(d, def) != KZJ_OBJECT) {
        verr_at(c, "definition", "must be a marking object, not a %s",
                kzj_type(d, def) == KZJ_STRING ? "string" : "non-object");
        return;
    }
    if (def && str_is(d, dt, "statement")) {
        uint32_t st = KZJ_GET(d, def, "statement");
        if (!st)
            verr_at(c, "definition.statement", "required property is missing");
        else if (kzj_type(d, st) != KZJ_STRING)
            verr_at(c, "definition.statement", "must be a string");
    }
}

/* --- the registry ---------------------------------------------------------------------- */

#define T(name, cls, props, flags, check)                                                          \
    {                                                                                              \
        name, cls,                                                                                 \
        {                                                                                          \
            name, props, N(props), flags, check                                                    \
        }                                                                                          \
    }

static const struct vtype vtypes[] = {
        T("attack-pattern", STIX_SDO, attack_pattern, 0, check_attack_pattern),
        T("campaign", STIX_SDO, campaign, 0, check_seen),
        T("course-of-action", STIX_SDO, course_of_action, 0, NULL),
        T("grouping", STIX_SDO, grouping, 0, NULL),
        T("identity", STIX_SDO, identity, 0, NULL),
        T("incident", STIX_SDO, incident, 0, NULL),
        T("indicator", STIX_SDO, indicator, 0, check_indicator),
        T("infrastructure", STIX_SDO, infrastructure, 0, check_seen),
        T("intrusion-set", STIX_SDO, intrusion_set, 0, check_seen),
        T("location", STIX_SDO, location, 0, check_location),
        T("malware", STIX_SDO, malware, 0, check_malware),
        T("malware-analysis", STIX_SDO, malware_analysis, 0, check_malware_analysis),
        T("note", STIX_SDO, note, 0, NULL),
        T("observed-data", STIX_SDO, observed_data, 0, check_observed_data),
        T("opinion", STIX_SDO, opinion, 0, NULL),
        T("report", STIX_SDO, report, 0, NULL),
        T("threat-actor", STIX_SDO, threat_actor, 0, check_seen),
        T("tool", STIX_SDO, tool, 0, NULL),
        T("vulnerability", STIX_SDO, vulnerability, 0, check_vulnerability),
        T("relationship", STIX_SRO, relationship, 0, check_relationship),
        T("sighting", STIX_SRO, sighting, 0, check_seen),
        T("language-content", STIX_META, language_content, 0, check_language_content),
        T("marking-definition", STIX_META, marking_definition, 0, vcheck_marking_definition),
        T("extension-definition", STIX_META, extension_definition, 0, check_extension_definition),
};

const struct vtype *vtype_find(const char *type)
{
    for (size_t i = 0; i < N(vtypes); i++)
        if (strcmp(vtypes[i].type, type) == 0)
            return &vtypes[i];
    for (size_t i = 0; i < nvtypes_sco; i++)
        if (strcmp(vtypes_sco[i].type, type) == 0)
            return &vtypes_sco[i];
    return NULL;
}

const struct vext *vext_find(const char *name, size_t n)
{
    for (size_t i = 0; i < nvexts; i++)
        if (strlen(vexts[i].name) == n && memcmp(vexts[i].name, name, n) == 0)
            return &vexts[i];
    return NULL;
}
