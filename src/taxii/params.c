/*
 * TAXII query parameters into a store filter: added_after, limit, next and
 * match[id|type|version|spec_version]. Values within one match field are
 * comma-separated and ORed; a field repeated in the query string is merged
 * (ORed) with itself; fields are ANDed. Every value is checked: a bad one is
 * a 400 naming the parameter, never a silent empty result.
 *
 * `next` is a cursor kizuna made: the date added of the last object served,
 * a hash of the filters it was made for, and a keyed BLAKE2b MAC over both,
 * so a cursor cannot be forged or reused with other filters, and it needs no
 * server-side state: pages keep working across restarts and under
 * concurrent writes (new objects always sort after it).
 */
#include "taxii/taxii.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/store_objects.h"
#include "util/kztime.h"

#define CURSOR_VERSION 3  /* 3: the query's added_after is in the cursor */
#define CURSOR_RAW     41 /* version, date added (8), shape (8), added_after (8), MAC (16) */
#define CURSOR_SIGNED  25 /* the bytes the MAC covers */

void taxii_query_free(struct taxii_query *q)
{
    for (unsigned i = 0; i < q->nstrings; i++)
        free(q->strings[i]);
    q->nstrings = 0;
}

static int bad(struct kz_error *err, const char *param, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int bad(struct kz_error *err, const char *param, const char *fmt, ...)
{
    va_list ap;
    char msg[sizeof(err->text)];

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kz_error_property(err, "%s", param);
    return kz_error_set(err, KZ_EINVALID, "%s", msg);
}

static char *keep(struct taxii_query *q, const char *p, size_t n)
{
    char *s;

    if (q->nstrings >= sizeof(q->strings) / sizeof(q->strings[0]))
        return NULL;
    s = malloc(n + 1);
    if (!s)
        return NULL;
    memcpy(s, p, n);
    s[n] = '\0';
    q->strings[q->nstrings++] = s;
    return s;
}

static int type_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < KZ_MIN_STIX_TYPE || n > KZ_MAX_STIX_TYPE)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

static int id_ok(const char *s)
{
    const char *dd = strstr(s, "--");
    size_t n = strlen(s);

    return dd && dd > s && n <= KZ_MAX_STIX_ID && strlen(dd + 2) == 36;
}

/* Splits a comma list and hands each value to add(); an empty list or an
 * empty value is an error. */
static int each_value(struct taxii_query *q, const char *param, const char *list,
                      int (*add)(struct taxii_query *, const char *, const char *,
                                 struct kz_error *),
                      struct kz_error *err)
{
    const char *p = list;

    if (!*p)
        return bad(err, param, "%s needs a value", param);
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char *v;
        if (n == 0)
            return bad(err, param, "%s has an empty value", param);
        v = keep(q, p, n);
        if (!v)
            return kz_error_set(err, KZ_ELIMIT, "too many filter values");
        if (add(q, param, v, err) < 0)
            return -1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static int add_id(struct taxii_query *q, const char *param, const char *v, struct kz_error *err)
{
    if (!id_ok(v))
        return bad(err, param, "\"%s\" is not a STIX id (type--UUID)", v);
    if (q->filter.nids >= STORE_MAX_FILTER_VALUES)
        return bad(err, param, "too many values in %s", param);
    q->filter.ids[q->filter.nids++] = v;
    return 0;
}

static int add_type(struct taxii_query *q, const char *param, const char *v, struct kz_error *err)
{
    if (!type_name_ok(v))
        return bad(err, param, "\"%s\" is not a STIX type name", v);
    if (q->filter.ntypes >= STORE_MAX_FILTER_VALUES)
        return bad(err, param, "too many values in %s", param);
    q->filter.types[q->filter.ntypes++] = v;
    return 0;
}

static int add_spec_version(struct taxii_query *q, const char *param, const char *v,
                            struct kz_error *err)
{
    if (strlen(v) > 8 || strspn(v, "0123456789.") != strlen(v))
        return bad(err, param, "\"%s\" is not a STIX specification version", v);
    if (q->filter.nspec_versions >= STORE_MAX_FILTER_VALUES)
        return bad(err, param, "too many values in %s", param);
    q->filter.spec_versions[q->filter.nspec_versions++] = v;
    return 0;
}

static int add_version(struct taxii_query *q, const char *param, const char *v,
                       struct kz_error *err)
{
    struct kz_ts t;
    const char *why;

    if (strcmp(v, "first") == 0)
        q->filter.versions |= STORE_V_FIRST;
    else if (strcmp(v, "last") == 0)
        q->filter.versions |= STORE_V_LAST;
    else if (strcmp(v, "all") == 0)
        q->filter.versions |= STORE_V_ALL;
    else if (kz_ts_parse(v, strlen(v), &t, &why) == 0) {
        if (q->filter.nversion_times >= STORE_MAX_FILTER_VALUES)
            return bad(err, param, "too many values in %s", param);
        q->filter.version_times[q->filter.nversion_times++] = kz_ts_micros(&t);
    } else {
        return bad(err, param, "\"%s\" is not first, last, all or a timestamp", v);
    }
    return 0;
}

static int parse_limit(const char *v, uint64_t *out, struct kz_error *err)
{
    char *end;
    unsigned long long x;

    if (!*v || strspn(v, "0123456789") != strlen(v))
        return bad(err, "limit", "limit \"%s\" is not a positive integer", v);
    x = strtoull(v, &end, 10);
    if (x == 0)
        return bad(err, "limit", "limit must be at least 1 (got \"%s\")", v);
    /* a very large limit is not an error: the server returns at most its cap */
    *out = strlen(v) > 18 || x > TAXII_MAX_LIMIT ? TAXII_MAX_LIMIT : x;
    return 0;
}

static uint64_t shape_of(const struct store_filter *f)
{
    crypto_generichash_state st;
    unsigned char h[8];
    uint64_t v = 0;

    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    for (unsigned i = 0; i < f->nids; i++)
        crypto_generichash_update(&st, (const unsigned char *)f->ids[i], strlen(f->ids[i]) + 1);
    crypto_generichash_update(&st, (const unsigned char *)"|", 1);
    for (unsigned i = 0; i < f->ntypes; i++)
        crypto_generichash_update(&st, (const unsigned char *)f->types[i], strlen(f->types[i]) + 1);
    crypto_generichash_update(&st, (const unsigned char *)"|", 1);
    for (unsigned i = 0; i < f->nspec_versions; i++)
        crypto_generichash_update(&st, (const unsigned char *)f->spec_versions[i],
                                  strlen(f->spec_versions[i]) + 1);
    crypto_generichash_update(&st, (const unsigned char *)&f->versions, sizeof(f->versions));
    crypto_generichash_update(&st, (const unsigned char *)f->version_times,
                              f->nversion_times * sizeof(f->version_times[0]));
    crypto_generichash_final(&st, h, sizeof(h));
    for (int i = 0; i < 8; i++)
        v = v << 8 | h[i];
    return v;
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void taxii_cursor_make(const struct taxii_query *q, int64_t last,
                       const unsigned char key[TAXII_CURSOR_KEY_BYTES], char out[TAXII_CURSOR_MAX])
{
    unsigned char raw[CURSOR_RAW];

    raw[0] = CURSOR_VERSION;
    put64(raw + 1, (uint64_t)last);
    put64(raw + 9, q->shape);
    put64(raw + 17, (uint64_t)q->added_after);
    crypto_generichash(raw + CURSOR_SIGNED, 16, raw, CURSOR_SIGNED, key, TAXII_CURSOR_KEY_BYTES);
    sodium_bin2base64(out, TAXII_CURSOR_MAX, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static int cursor_check(struct taxii_query *q, const char *v,
                        const unsigned char key[TAXII_CURSOR_KEY_BYTES], int64_t *last,
                        struct kz_error *err)
{
    unsigned char raw[CURSOR_RAW], mac[16];
    size_t n = 0;

    if (sodium_base642bin(raw, sizeof(raw), v, strlen(v), NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        n != sizeof(raw) || raw[0] != CURSOR_VERSION)
        return bad(err, "next", "next \"%.64s\" is not a cursor this server made", v);
    crypto_generichash(mac, sizeof(mac), raw, CURSOR_SIGNED, key, TAXII_CURSOR_KEY_BYTES);
    if (sodium_memcmp(mac, raw + CURSOR_SIGNED, sizeof(mac)) != 0)
        return bad(err, "next", "next \"%.64s\" is not a cursor this server made", v);
    if (get64(raw + 9) != q->shape)
        return bad(err, "next",
                   "next \"%.64s\" belongs to a query with other filters: send next with "
                   "the query it came from, unchanged",
                   v);
    /* TAXII 2.1 section 3.4: next goes with the same query. A client that
     * moves added_after beside next is told so; one that leaves it out
     * (OpenCTI's TAXII connector does) loses nothing, as the cursor says
     * where the walk stands, and is served. */
    if (q->has_added_after && (int64_t)get64(raw + 17) != q->added_after)
        return bad(err, "added_after",
                   "next \"%.64s\" belongs to a query with another added_after: send next "
                   "with the query it came from, unchanged",
                   v);
    q->added_after = (int64_t)get64(raw + 17); /* and the next cursor keeps it */
    *last = (int64_t)get64(raw + 1);
    return 0;
}

struct param_kind {
    const char *name;
    unsigned bit;
    int (*add)(struct taxii_query *, const char *, const char *, struct kz_error *);
};

static const struct param_kind match_params[] = {
        {"match[id]", TAXII_P_MATCH_ID, add_id},
        {"match[type]", TAXII_P_MATCH_TYPE, add_type},
        {"match[version]", TAXII_P_MATCH_VERSION, add_version},
        {"match[spec_version]", TAXII_P_MATCH_SPEC_VERSION, add_spec_version},
};

static int parse_params(const struct http_param *params, int n, unsigned allowed,
                        unsigned default_versions, const unsigned char key[TAXII_CURSOR_KEY_BYTES],
                        struct taxii_query *q, struct kz_error *err)
{
    const char *next = NULL;
    int64_t last = 0;

    memset(q, 0, sizeof(*q));
    store_filter_init(&q->filter, 0);
    q->filter.limit = TAXII_DEFAULT_LIMIT;
    for (int i = 0; i < n; i++) {
        const char *k = params[i].key, *v = params[i].value;
        int handled = 0;
        for (size_t j = 0; j < sizeof(match_params) / sizeof(match_params[0]); j++) {
            if (strcmp(k, match_params[j].name) != 0 || !(allowed & match_params[j].bit))
                continue;
            if (each_value(q, k, v, match_params[j].add, err) < 0)
                return -1;
            handled = 1;
        }
        if (handled)
            continue;
        if (strcmp(k, "added_after") == 0 && (allowed & TAXII_P_ADDED_AFTER)) {
            struct kz_ts t;
            const char *why;
            if (kz_ts_parse(v, strlen(v), &t, &why) < 0)
                return bad(err, "added_after", "added_after \"%.64s\" is not a timestamp", v);
            q->filter.added_after = kz_ts_micros(&t);
            q->has_added_after = 1;
        } else if (strcmp(k, "limit") == 0 && (allowed & TAXII_P_LIMIT)) {
            if (parse_limit(v, &q->filter.limit, err) < 0)
                return -1;
        } else if (strcmp(k, "next") == 0 && (allowed & TAXII_P_NEXT)) {
            if (next && strcmp(next, v) != 0)
                return bad(err, "next", "%s", "next is given twice");
            next = v;
        }
    }
    if (!q->filter.versions && !q->filter.nversion_times)
        q->filter.versions = default_versions;
    q->shape = shape_of(&q->filter);
    q->added_after = q->filter.added_after;
    if (next) {
        if (cursor_check(q, next, key, &last, err) < 0)
            return -1;
        /* the cursor wins over added_after: it is where the last page ended */
        q->filter.added_after = last;
        q->has_next = 1;
    }
    return 0;
}

int taxii_query_parse(const struct http_param *params, int n, unsigned allowed,
                      unsigned default_versions, const unsigned char key[TAXII_CURSOR_KEY_BYTES],
                      struct taxii_query *q, struct kz_error *err)
{
    if (parse_params(params, n, allowed, default_versions, key, q, err) < 0) {
        taxii_query_free(q);
        return -1;
    }
    return 0;
}

/* Splits a media range "type/sub; a=b; c=d" and says whether it is
 * TAXII 2.1 (or a wildcard that admits it). */
static int range_admits_taxii(const char *p, size_t n)
{
    char buf[256];
    char *semi, *t;
    size_t len;
    int version_ok = 1;

    if (n >= sizeof(buf))
        return 0;
    memcpy(buf, p, n);
    buf[n] = '\0';
    semi = strchr(buf, ';');
    if (semi)
        *semi = '\0';
    t = buf;
    while (*t == ' ' || *t == '\t')
        t++;
    len = strlen(t);
    while (len && (t[len - 1] == ' ' || t[len - 1] == '\t'))
        t[--len] = '\0';
    if (strcmp(t, "*/*") == 0 || strcasecmp(t, "application/*") == 0)
        return 1;
    if (strcasecmp(t, "application/taxii+json") != 0)
        return 0;
    for (char *param = semi ? semi + 1 : NULL; param;) {
        char *nextp = strchr(param, ';');
        if (nextp)
            *nextp++ = '\0';
        while (*param == ' ')
            param++;
        if (strncasecmp(param, "version", 7) == 0) {
            char *eq = strchr(param, '=');
            char *val = eq ? eq + 1 : "";
            size_t vl;
            while (*val == ' ' || *val == '"')
                val++;
            vl = strcspn(val, " \"");
            version_ok = vl == 3 && strncmp(val, "2.1", 3) == 0;
        }
        param = nextp;
    }
    return version_ok;
}

int taxii_accept_ok(const char *accept)
{
    const char *p = accept;

    if (!accept || !*accept)
        return 1;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (range_admits_taxii(p, n))
            return 1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

int taxii_content_type_ok(const char *ct)
{
    char buf[256];
    char *semi, *t;
    int version_ok = 1, is_taxii, is_stix;

    if (!ct || strlen(ct) >= sizeof(buf))
        return 0;
    snprintf(buf, sizeof(buf), "%s", ct);
    semi = strchr(buf, ';');
    if (semi)
        *semi = '\0';
    t = buf + strspn(buf, " \t");
    t[strcspn(t, " \t")] = '\0';
    is_taxii = strcasecmp(t, "application/taxii+json") == 0;
    is_stix = strcasecmp(t, "application/stix+json") == 0;
    if (!is_taxii && !is_stix)
        return 0;
    for (char *param = semi ? semi + 1 : NULL; param;) {
        char *nextp = strchr(param, ';');
        if (nextp)
            *nextp++ = '\0';
        param += strspn(param, " \t");
        if (strncasecmp(param, "version", 7) == 0) {
            char *val = strchr(param, '=');
            val = val ? val + 1 : param + 7;
            val += strspn(val, " \"");
            version_ok = strncmp(val, "2.1", 3) == 0 &&
                         (val[3] == '\0' || val[3] == '"' || val[3] == ' ');
        }
        param = nextp;
    }
    return version_ok;
}
