/*
 * RFC 8785 JSON Canonicalization Scheme over a parsed tape. STIX computes
 * deterministic SCO ids as UUIDv5 over the canonical form of the
 * id-contributing properties, so this must agree byte for byte with every
 * other implementation: object members sorted by the UTF-16 code units of
 * their names, strings with only the mandatory escapes, numbers in the
 * ECMAScript Number.prototype.toString form.
 */
#include "json/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Next code point of valid UTF-8 at *p, advancing *p. */
static unsigned next_cp(const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned c = s[0];

    if (c < 0x80) {
        *p += 1;
        return c;
    }
    if (c < 0xe0) {
        *p += 2;
        return (c & 0x1f) << 6 | (s[1] & 0x3f);
    }
    if (c < 0xf0) {
        *p += 3;
        return (c & 0x0f) << 12 | (s[1] & 0x3f) << 6 | (s[2] & 0x3f);
    }
    *p += 4;
    return (c & 0x07) << 18 | (s[1] & 0x3f) << 12 | (s[2] & 0x3f) << 6 | (s[3] & 0x3f);
}

/* The first UTF-16 code unit of a code point: what decides the order. */
static unsigned utf16_lead(unsigned cp)
{
    return cp < 0x10000 ? cp : 0xd800 + ((cp - 0x10000) >> 10);
}

static unsigned utf16_trail(unsigned cp)
{
    return 0xdc00 + ((cp - 0x10000) & 0x3ff);
}

static int utf16_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    const unsigned char *pa = (const unsigned char *)a, *ea = pa + an;
    const unsigned char *pb = (const unsigned char *)b, *eb = pb + bn;

    while (pa < ea && pb < eb) {
        unsigned ca = next_cp(&pa), cb = next_cp(&pb);
        unsigned la = utf16_lead(ca), lb = utf16_lead(cb);
        if (la != lb)
            return la < lb ? -1 : 1;
        if (ca >= 0x10000 && cb >= 0x10000 && utf16_trail(ca) != utf16_trail(cb))
            return utf16_trail(ca) < utf16_trail(cb) ? -1 : 1;
    }
    if (pa < ea)
        return 1;
    if (pb < eb)
        return -1;
    return 0;
}

struct member {
    uint32_t key;
    char *name; /* decoded, owned */
    size_t n;
};

static int member_cmp(const void *x, const void *y)
{
    const struct member *a = x, *b = y;

    return utf16_cmp(a->name, a->n, b->name, b->n);
}

/* ECMAScript's Number::toString for a finite double. */
static int number_es6(double v, struct kz_buf *out)
{
    char e[40], digits[20];
    int nd = 0, exp10, prec;
    char *mant, *ep;

    if (v == 0)
        return kz_buf_addc(out, '0');
    if (v < 0) {
        if (kz_buf_addc(out, '-') < 0)
            return -1;
        v = -v;
    }
    /* the shortest digit string that reads back as the same double */
    for (prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    mant = e;
    ep = strchr(e, 'e');
    exp10 = (int)strtol(ep + 1, NULL, 10) + 1; /* position of the decimal point: value = 0.digits x 10^exp10 */
    for (char *c = mant; c < ep; c++)
        if (*c >= '0' && *c <= '9')
            digits[nd++] = *c;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    if (nd <= exp10 && exp10 <= 21) {
        if (kz_buf_add(out, digits, (size_t)nd) < 0)
            return -1;
        for (int i = nd; i < exp10; i++)
            if (kz_buf_addc(out, '0') < 0)
                return -1;
        return 0;
    }
    if (0 < exp10 && exp10 <= 21)
        return kz_buf_printf(out, "%.*s.%s", exp10, digits, digits + exp10);
    if (-6 < exp10 && exp10 <= 0) {
        if (kz_buf_addstr(out, "0.") < 0)
            return -1;
        for (int i = exp10; i < 0; i++)
            if (kz_buf_addc(out, '0') < 0)
                return -1;
        return kz_buf_addstr(out, digits);
    }
    if (nd == 1)
        return kz_buf_printf(out, "%ce%c%d", digits[0], exp10 - 1 >= 0 ? '+' : '-',
                             abs(exp10 - 1));
    return kz_buf_printf(out, "%c.%se%c%d", digits[0], digits + 1, exp10 - 1 >= 0 ? '+' : '-',
                         abs(exp10 - 1));
}

static int canonical_string(const struct kzj_doc *d, uint32_t i, struct kz_buf *out)
{
    const struct kzj_node *nd = kzj_at(d, i);
    struct kz_buf tmp;
    int rc;

    if (kz_buf_addc(out, '"') < 0)
        return -1;
    if (!(nd->flags & KZJ_F_ESCAPED)) {
        rc = kz_buf_add_json_escaped(out, d->buf + nd->off + 1, nd->len - 2);
    } else {
        kz_buf_init(&tmp, out->max);
        rc = kzj_unescape(d->buf + nd->off + 1, nd->len - 2, &tmp);
        if (rc == 0)
            rc = kz_buf_add_json_escaped(out, tmp.data ? tmp.data : "", tmp.len);
        kz_buf_free(&tmp);
    }
    if (rc < 0)
        return -1;
    return kz_buf_addc(out, '"');
}

static int canonical_object(const struct kzj_doc *d, uint32_t i, struct kz_buf *out)
{
    uint32_t n = kzj_count(d, i), j = 0;
    struct member *m;
    int rc = -1;

    m = calloc(n ? n : 1, sizeof(*m));
    if (!m)
        return -1;
    KZJ_FOREACH_MEMBER(d, i, k)
    {
        struct kz_buf b;
        kz_buf_init(&b, out->max);
        if (kzj_unescape(kzj_raw(d, k) + 1, kzj_at(d, k)->len - 2, &b) < 0) {
            kz_buf_free(&b);
            goto out;
        }
        m[j].key = k;
        m[j].name = kz_buf_steal(&b, &m[j].n);
        j++;
    }
    qsort(m, n, sizeof(*m), member_cmp);
    if (kz_buf_addc(out, '{') < 0)
        goto out;
    for (j = 0; j < n; j++) {
        if (j && kz_buf_addc(out, ',') < 0)
            goto out;
        if (canonical_string(d, m[j].key, out) < 0 || kz_buf_addc(out, ':') < 0 ||
            kzj_canonical(d, m[j].key + 1, out) < 0)
            goto out;
    }
    rc = kz_buf_addc(out, '}');
out:
    for (j = 0; j < n; j++)
        free(m[j].name);
    free(m);
    return rc;
}

int kzj_canonical(const struct kzj_doc *d, uint32_t i, struct kz_buf *out)
{
    double v;
    int first = 1;

    switch (kzj_type(d, i)) {
    case KZJ_NULL: return kz_buf_addstr(out, "null");
    case KZJ_TRUE: return kz_buf_addstr(out, "true");
    case KZJ_FALSE: return kz_buf_addstr(out, "false");
    case KZJ_NUMBER:
        if (kzj_double(d, i, &v) < 0)
            return -1;
        return number_es6(v, out);
    case KZJ_STRING: return canonical_string(d, i, out);
    case KZJ_ARRAY:
        if (kz_buf_addc(out, '[') < 0)
            return -1;
        KZJ_FOREACH_ELEM(d, i, e)
        {
            if (!first && kz_buf_addc(out, ',') < 0)
                return -1;
            first = 0;
            if (kzj_canonical(d, e, out) < 0)
                return -1;
        }
        return kz_buf_addc(out, ']');
    case KZJ_OBJECT: return canonical_object(d, i, out);
    }
    return -1;
}
