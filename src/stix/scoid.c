/*
 * Deterministic identifiers of cyber-observable objects (STIX 2.1 sections
 * 2.9 and 3.4): the UUIDv5, under namespace 00abedb4-aa42-466c-9c01-
 * fed23315a9b7, of the RFC 8785 canonical JSON of an object holding the
 * type's ID Contributing Properties that are present, each with its value as
 * it appears in the SCO (references are id strings, extensions whole
 * dictionaries). From a hashes dictionary only one hash contributes: MD5,
 * else SHA-1, else SHA-256, else SHA-512, else the first in the object.
 *
 * The contributing object is written as JSON text from the values' raw
 * spans, parsed back and canonicalised by the JSON module, so that the
 * canonical form has one implementation in the code base.
 */
#include "stix/stix.h"

#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/uuid.h"

/* ID Contributing Properties per type (section 6); process has none. */
static const struct {
    const char *type;
    const char *const props[9];
} idc[] = {
        {"artifact", {"hashes", "payload_bin"}},
        {"autonomous-system", {"number"}},
        {"directory", {"path"}},
        {"domain-name", {"value"}},
        {"email-addr", {"value"}},
        {"email-message", {"from_ref", "subject", "body"}},
        {"file", {"hashes", "name", "extensions", "parent_directory_ref"}},
        {"ipv4-addr", {"value"}},
        {"ipv6-addr", {"value"}},
        {"mac-addr", {"value"}},
        {"mutex", {"name"}},
        {"network-traffic",
         {"start", "end", "src_ref", "dst_ref", "src_port", "dst_port", "protocols", "extensions"}},
        {"software", {"name", "cpe", "swid", "vendor", "version"}},
        {"url", {"value"}},
        {"user-account", {"account_type", "user_id", "account_login"}},
        {"windows-registry-key", {"key", "values"}},
        {"x509-certificate", {"hashes", "serial_number"}},
};

static const char *const hash_preference[] = {"MD5", "SHA-1", "SHA-256", "SHA-512", NULL};

static int add_raw(struct kz_buf *b, const struct kzj_doc *d, uint32_t v)
{
    return kz_buf_add(b, kzj_raw(d, v), d->nodes[v].len);
}

/* The key node of the one hash that contributes, 0 when there is none. */
static uint32_t pick_hash(const struct kzj_doc *d, uint32_t hashes)
{
    uint32_t first = 0;

    if (kzj_type(d, hashes) != KZJ_OBJECT)
        return 0;
    for (const char *const *h = hash_preference; *h; h++) {
        KZJ_FOREACH_MEMBER(d, hashes, k)
        {
            if (kzj_str_eq(d, k, *h, strlen(*h)))
                return k;
        }
    }
    KZJ_FOREACH_MEMBER(d, hashes, k)
    {
        first = k;
        break;
    }
    return first;
}

int stix_sco_id(const struct kzj_doc *doc, uint32_t node, const char *type,
                char out[KZ_MAX_STIX_ID + 1])
{
    struct kz_buf text, canon;
    struct kzj_doc tmp;
    struct kz_error err;
    char uuid[KZ_UUID_LEN];
    size_t t, present = 0;
    int rc = -1;

    out[0] = '\0';
    for (t = 0; t < sizeof(idc) / sizeof(idc[0]); t++)
        if (strcmp(idc[t].type, type) == 0)
            break;
    if (t == sizeof(idc) / sizeof(idc[0]) || kzj_type(doc, node) != KZJ_OBJECT)
        return 0;
    kz_buf_init(&text, KZ_MAX_OBJECT_BYTES);
    kz_buf_init(&canon, KZ_MAX_OBJECT_BYTES);
    kzj_doc_init(&tmp);
    if (kz_buf_addc(&text, '{') < 0)
        goto out;
    for (const char *const *p = idc[t].props; *p; p++) {
        uint32_t v = kzj_get(doc, node, *p, strlen(*p)), hk = 0;

        if (!v)
            continue;
        if (strcmp(*p, "hashes") == 0 && (hk = pick_hash(doc, v)) == 0)
            continue;
        if ((present++ && kz_buf_addc(&text, ',') < 0) || kz_buf_printf(&text, "\"%s\":", *p) < 0)
            goto out;
        if (hk) {
            if (kz_buf_addc(&text, '{') < 0 || add_raw(&text, doc, hk) < 0 ||
                kz_buf_addc(&text, ':') < 0 || add_raw(&text, doc, hk + 1) < 0 ||
                kz_buf_addc(&text, '}') < 0)
                goto out;
        } else if (add_raw(&text, doc, v) < 0) {
            goto out;
        }
    }
    if (!present) {
        rc = 0;
        goto out;
    }
    if (kz_buf_addc(&text, '}') < 0 || kzj_parse(&tmp, text.data, text.len, &err) < 0 ||
        kzj_canonical(&tmp, 0, &canon) < 0 ||
        kz_uuid_v5(STIX_SCO_NAMESPACE, canon.data, canon.len, uuid) < 0)
        goto out;
    snprintf(out, KZ_MAX_STIX_ID + 1, "%s--%s", type, uuid);
    rc = 1;
out:
    kzj_doc_free(&tmp);
    kz_buf_free(&text);
    kz_buf_free(&canon);
    return rc;
}
