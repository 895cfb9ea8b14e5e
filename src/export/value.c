/*
 * From a pattern condition to the text a sensor file holds: the match/
 * normalisers first (the same canonical forms `kizuna match` indexes),
 * then what each format needs on top: IDNA A-labels for names (DNS and
 * HTTP carry host names as punycode, never as UTF-8), URLs without their
 * scheme for Zeek and Suricata, hashes in lowercase hex. A value that fails
 * is EX_INVALID; a valid one the format cannot say is EX_UNSUPPORTED.
 */
#include "export/export_int.h"

#include <stdio.h>
#include <string.h>

#include "util/text.h"

/* --- kinds and types ---------------------------------------------------------- */

int ex_kind_of(const struct kzp_cond *c)
{
    switch (c->kind) {
    case KZP_COND_IPV4:
    case KZP_COND_CIDR4: return c->prefix >= 32 ? MATCH_IPV4 : MATCH_CIDR4;
    case KZP_COND_IPV6:
    case KZP_COND_CIDR6: return c->prefix >= 128 ? MATCH_IPV6 : MATCH_CIDR6;
    case KZP_COND_DOMAIN: return MATCH_DOMAIN;
    case KZP_COND_URL: return MATCH_URL;
    case KZP_COND_EMAIL: return MATCH_EMAIL;
    case KZP_COND_MD5: return MATCH_MD5;
    case KZP_COND_SHA1: return MATCH_SHA1;
    case KZP_COND_SHA256: return MATCH_SHA256;
    case KZP_COND_SHA512: return MATCH_SHA512;
    case KZP_COND_HASH: return -1;
    }
    return -1;
}

int ex_type_has(enum export_type t, enum match_kind kind)
{
    switch (t) {
    case EXPORT_T_ALL: return 1;
    case EXPORT_T_IP:
        return kind == MATCH_IPV4 || kind == MATCH_IPV6 || kind == MATCH_CIDR4 ||
               kind == MATCH_CIDR6;
    case EXPORT_T_DOMAIN: return kind == MATCH_DOMAIN;
    case EXPORT_T_URL: return kind == MATCH_URL;
    case EXPORT_T_EMAIL: return kind == MATCH_EMAIL;
    case EXPORT_T_HASH:
        return kind == MATCH_MD5 || kind == MATCH_SHA1 || kind == MATCH_SHA256 ||
               kind == MATCH_SHA512;
    case EXPORT_T_MD5: return kind == MATCH_MD5;
    case EXPORT_T_SHA1: return kind == MATCH_SHA1;
    case EXPORT_T_SHA256: return kind == MATCH_SHA256;
    case EXPORT_T_SHA512: return kind == MATCH_SHA512;
    }
    return 0;
}

/* --- URLs ------------------------------------------------------------------------ */

int ex_url_split(const char *u, size_t n, struct ex_url *out)
{
    const char *p = memchr(u, ':', n);
    size_t a, e, at, h, he;

    memset(out, 0, sizeof(*out));
    if (!p || (size_t)(p - u) + 3 > n || p[1] != '/' || p[2] != '/')
        return -1;
    out->scheme_len = (size_t)(p - u);
    a = out->scheme_len + 3;
    for (e = a; e < n && u[e] != '/' && u[e] != '?' && u[e] != '#'; e++)
        ;
    at = a;
    for (size_t i = a; i < e; i++)
        if (u[i] == '@')
            at = i + 1;
    h = at;
    if (h < e && u[h] == '[') {
        const char *rb = memchr(u + h, ']', e - h);
        if (!rb)
            return -1;
        he = (size_t)(rb - u) + 1;
    } else {
        for (he = h; he < e && u[he] != ':'; he++)
            ;
    }
    if (he == h)
        return -1;
    out->host = h;
    out->host_len = he - h;
    if (he < e) {
        if (u[he] != ':' || he + 1 == e)
            return -1;
        out->port = he + 1;
        out->port_len = e - he - 1;
        for (size_t i = out->port; i < e; i++)
            if (u[i] < '0' || u[i] > '9')
                return -1;
    }
    out->rest = e;
    out->rest_len = n - e;
    return 0;
}

/* The host of a normalised URL as sensors see it in DNS, SNI and Host
 * headers: the normaliser writes Unicode names as A-labels already; a
 * percent-encoded one it kept (libidn2 refused it) is decoded and refused
 * here; ASCII names, IPv4 and [IPv6] stay. */
static int url_host(const char *h, size_t n, char *out, size_t cap, size_t *len)
{
    char dec[MATCH_MAX_DOMAIN * 4 + 1], norm[MATCH_MAX_DOMAIN * 4 + 1];
    size_t dn = 0, nn;
    struct kz_error e;

    if (!memchr(h, '%', n)) {
        if (n >= cap)
            return -1;
        memcpy(out, h, n);
        out[n] = '\0';
        *len = n;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)h[i];
        if (c == '%') {
            if (i + 2 >= n || !kz_is_hex((unsigned char)h[i + 1]) ||
                !kz_is_hex((unsigned char)h[i + 2]))
                return -1;
            c = (int)(kz_hexval((unsigned char)h[i + 1]) * 16 + kz_hexval((unsigned char)h[i + 2]));
            i += 2;
        }
        if (dn + 1 >= sizeof(dec))
            return -1;
        dec[dn++] = (char)c;
    }
    kz_error_clear(&e);
    if (match_domain_normalise(dec, dn, norm, sizeof(norm), &nn, &e) < 0 || nn >= cap)
        return -1; /* normalised names are in A-label form */
    memcpy(out, norm, nn + 1);
    *len = nn;
    return 0;
}

static int printable_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

static enum ex_verdict url_value(const struct export_opts *o, const struct kzp_cond *c, char *out,
                                 size_t cap, size_t *len)
{
    char norm[EX_MAX_VALUE + 1], host[MATCH_MAX_DOMAIN + 1];
    size_t nn, hl;
    struct ex_url p;
    struct kz_error e;
    int sensor = o->format == EXPORT_ZEEK_INTEL || o->format == EXPORT_SURICATA_RULES;
    int w;

    kz_error_clear(&e);
    if (match_url_normalise(c->value, c->len, norm, sizeof(norm), &nn, &e) < 0 ||
        !printable_ascii(norm, nn))
        return EX_INVALID;
    if (ex_url_split(norm, nn, &p) < 0) {
        if (sensor)
            return EX_UNSUPPORTED; /* no authority: nothing a sensor sees */
        if (nn >= cap)
            return EX_INVALID;
        memcpy(out, norm, nn + 1);
        *len = nn;
        return EX_OK;
    }
    if (url_host(norm + p.host, p.host_len, host, sizeof(host), &hl) < 0)
        return EX_INVALID;
    if (sensor) {
        /* Zeek's seen URLs and Suricata's HTTP buffers are HTTP's: the
         * host and the request target, without the scheme */
        if (!((p.scheme_len == 4 && memcmp(norm, "http", 4) == 0) ||
              (p.scheme_len == 5 && memcmp(norm, "https", 5) == 0)))
            return EX_UNSUPPORTED;
        if (o->format == EXPORT_SURICATA_RULES && host[0] == '[')
            return EX_UNSUPPORTED;
        w = snprintf(out, cap, "%s%s%.*s%.*s", host, p.port_len ? ":" : "", (int)p.port_len,
                     norm + p.port, (int)p.rest_len, norm + p.rest);
    } else {
        /* the whole URL, userinfo included, with the host as A-labels */
        w = snprintf(out, cap, "%.*s%s%.*s", (int)p.host, norm, host,
                     (int)(nn - p.host - p.host_len), norm + p.host + p.host_len);
    }
    if (w < 0 || (size_t)w >= cap)
        return EX_INVALID;
    *len = (size_t)w;
    return EX_OK;
}

/* --- e-mail ---------------------------------------------------------------------- */

/* RFC 5322 atext and '.', the local parts a mail sensor logs as they are. */
static int atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+/=?^_`{|}~.-", c) != NULL);
}

static enum ex_verdict email_value(const struct kzp_cond *c, char *out, size_t cap, size_t *len)
{
    char norm[EX_MAX_VALUE + 1];
    size_t nn, at;
    struct kz_error e;

    kz_error_clear(&e);
    if (match_email_normalise(c->value, c->len, norm, sizeof(norm), &nn, &e) < 0)
        return EX_INVALID;
    for (at = nn; at > 0 && norm[at - 1] != '@'; at--)
        ;
    if (at < 2)
        return EX_INVALID;
    for (size_t i = 0; i + 1 < at; i++)
        if (!atext((unsigned char)norm[i]))
            return EX_INVALID;
    if (nn >= cap)
        return EX_INVALID;
    memcpy(out, norm, nn + 1); /* the domain is in A-label form already */
    *len = nn;
    return EX_OK;
}

/* --- all kinds ------------------------------------------------------------------- */

static enum ex_verdict addr_value(const struct kzp_cond *c, enum match_kind kind, char *out,
                                  size_t cap, size_t *len)
{
    int fam = kind == MATCH_IPV4 || kind == MATCH_CIDR4 ? 4 : 6;
    size_t n = match_ip_format(fam, c->addr, out, cap);
    int w = 0;

    if (!n)
        return EX_INVALID;
    if (kind == MATCH_CIDR4 || kind == MATCH_CIDR6) {
        if (c->prefix > (fam == 4 ? 32u : 128u))
            return EX_INVALID;
        w = snprintf(out + n, cap - n, "/%u", c->prefix);
        if (w < 0 || (size_t)w >= cap - n)
            return EX_INVALID;
    }
    *len = n + (size_t)w;
    return EX_OK;
}

static enum ex_verdict hash_value(const struct kzp_cond *c, enum match_kind kind, char *out,
                                  size_t cap, size_t *len)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t digest[64];
    enum match_kind k;
    size_t dl;

    if (match_hash_parse(c->value, c->len, &k, digest) < 0 || k != kind)
        return EX_INVALID;
    dl = c->len / 2;
    if (2 * dl + 1 > cap)
        return EX_INVALID;
    for (size_t i = 0; i < dl; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[2 * dl] = '\0';
    *len = 2 * dl;
    return EX_OK;
}

enum ex_verdict ex_value(const struct export_opts *o, const struct kzp_cond *c,
                         enum match_kind kind, char *out, size_t cap, size_t *len, unsigned *flags)
{
    char norm[MATCH_MAX_DOMAIN * 4 + 1];
    size_t nn;
    struct kz_error e;

    *flags = 0;
    /* what a format cannot say whatever the value */
    if (o->format == EXPORT_SURICATA_RULES && (kind == MATCH_EMAIL || kind == MATCH_SHA512))
        return EX_UNSUPPORTED;
    if (o->format == EXPORT_SURICATA_DATASET && (kind == MATCH_CIDR4 || kind == MATCH_CIDR6))
        return EX_UNSUPPORTED;
    switch (kind) {
    case MATCH_IPV4:
    case MATCH_IPV6:
    case MATCH_CIDR4:
    case MATCH_CIDR6: return addr_value(c, kind, out, cap, len);
    case MATCH_DOMAIN:
        kz_error_clear(&e);
        if (match_domain_normalise(c->value, c->len, norm, sizeof(norm), &nn, &e) < 0 || nn >= cap)
            return EX_INVALID;
        memcpy(out, norm, nn + 1); /* in A-label form */
        *len = nn;
        if (match_psl_is_public_suffix(o->psl, out, *len))
            *flags |= EX_PUBLIC_SUFFIX;
        /* a public suffix in a subdomain-matching set would match every
         * name under it; the rules match it exactly instead */
        if (o->format == EXPORT_SURICATA_DATASET && (*flags & EX_PUBLIC_SUFFIX))
            return EX_UNSUPPORTED;
        return EX_OK;
    case MATCH_URL: return url_value(o, c, out, cap, len);
    case MATCH_EMAIL: return email_value(c, out, cap, len);
    case MATCH_MD5:
    case MATCH_SHA1:
    case MATCH_SHA256:
    case MATCH_SHA512: return hash_value(c, kind, out, cap, len);
    case MATCH_KIND_COUNT: break;
    }
    return EX_UNSUPPORTED;
}
