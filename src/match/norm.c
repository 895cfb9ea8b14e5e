/*
 * Normalisers and parsers for indicator values: IPv4/IPv6 addresses and
 * CIDR blocks, domain names, e-mail addresses, hex digests, and the kind
 * names. URLs are in url.c. The parsers are strict (no inet_aton shorthand,
 * no leading zeros) because they run on every log token: "1.2.3.045" is not
 * 1.2.3.45, it is nothing.
 */
#include "match/match.h"

#include <stdio.h>
#include <string.h>

#include "match/match_int.h"
#include "util/ip.h"

static const char *const kind_names[MATCH_KIND_COUNT] = {
        "ipv4",  "ipv6", "cidr4", "cidr6",  "domain", "url",
        "email", "md5",  "sha1",  "sha256", "sha512",
};

const char *match_kind_name(enum match_kind k)
{
    if ((unsigned)k >= MATCH_KIND_COUNT)
        return "?";
    return kind_names[k];
}

int match_kind_parse(const char *s, size_t n, enum match_kind *out)
{
    for (int k = 0; k < MATCH_KIND_COUNT; k++) {
        if (strlen(kind_names[k]) == n && memcmp(kind_names[k], s, n) == 0) {
            *out = (enum match_kind)k;
            return 0;
        }
    }
    return -1;
}

/* --- addresses ---------------------------------------------------------- */

int match_ipv4_parse(const char *s, size_t n, uint32_t *addr)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    uint32_t a = 0;

    if (n < 7 || n > 15)
        return -1;
    for (int part = 0; part < 4; part++) {
        unsigned v, c;
        if (p >= end || (v = (unsigned)*p - '0') > 9)
            return -1;
        p++;
        if (p < end && (c = (unsigned)*p - '0') <= 9) {
            if (v == 0)
                return -1; /* a leading zero */
            v = v * 10 + c;
            p++;
            if (p < end && (c = (unsigned)*p - '0') <= 9) {
                v = v * 10 + c;
                p++;
                if (v > 255)
                    return -1;
            }
        }
        a = (a << 8) | v;
        if (part < 3) {
            if (p >= end || *p != '.')
                return -1;
            p++;
        }
    }
    if (p != end)
        return -1;
    *addr = a;
    return 0;
}

int match_ipv6_parse(const char *s, size_t n, uint8_t addr[16])
{
    return kz_ipv6_parse(s, n, addr);
}

static int parse_plen(const char *s, size_t n, unsigned max, unsigned *plen)
{
    unsigned v = 0;

    if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *plen = v;
    return 0;
}

int match_cidr_parse(const char *s, size_t n, int *family, uint8_t addr[16], unsigned *plen,
                     struct kz_error *err)
{
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    uint32_t v4;
    unsigned bits;

    memset(addr, 0, 16);
    if (match_ipv4_parse(s, alen, &v4) == 0) {
        *family = 4;
        bits = 32;
        addr[0] = (uint8_t)(v4 >> 24);
        addr[1] = (uint8_t)(v4 >> 16);
        addr[2] = (uint8_t)(v4 >> 8);
        addr[3] = (uint8_t)v4;
    } else if (match_ipv6_parse(s, alen, addr) == 0) {
        *family = 6;
        bits = 128;
    } else {
        return kz_error_set(err, KZ_EINVALID,
                            "'%.*s' is not an IPv4 or IPv6 address (dotted quad or RFC 4291 text)",
                            (int)(alen > 64 ? 64 : alen), s);
    }
    *plen = bits;
    if (slash && parse_plen(slash + 1, n - alen - 1, bits, plen) < 0)
        return kz_error_set(err, KZ_EINVALID, "prefix length '%.*s' is not 0..%u",
                            (int)((n - alen - 1) > 8 ? 8 : (n - alen - 1)), slash + 1, bits);
    for (unsigned b = *plen; b < bits; b++)
        addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
    return 0;
}

size_t match_ip_format(int family, const uint8_t *a, char *out, size_t cap)
{
    char tmp[64];
    int w;
    size_t o = 0;

    if (family == 4) {
        w = snprintf(tmp, sizeof(tmp), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
        o = (size_t)w;
    } else {
        uint16_t g[8];
        int best = -1, bestlen = 0, mapped;
        for (int i = 0; i < 8; i++)
            g[i] = (uint16_t)((a[2 * i] << 8) | a[2 * i + 1]);
        for (int i = 0; i < 8;) {
            int j = i;
            while (j < 8 && g[j] == 0)
                j++;
            if (j - i > bestlen && j - i >= 2) {
                best = i;
                bestlen = j - i;
            }
            i = j > i ? j : i + 1;
        }
        mapped = g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[5] == 0xffff;
        for (int i = 0; i < 8; i++) {
            if (best >= 0 && i >= best && i < best + bestlen) {
                if (i == best) {
                    tmp[o++] = ':';
                    tmp[o++] = ':';
                }
                continue;
            }
            if (i > 0 && !(best >= 0 && i == best + bestlen))
                tmp[o++] = ':';
            if (mapped && i == 6) {
                w = snprintf(tmp + o, sizeof(tmp) - o, "%u.%u.%u.%u", a[12], a[13], a[14], a[15]);
                o += (size_t)w;
                break;
            }
            w = snprintf(tmp + o, sizeof(tmp) - o, "%x", g[i]);
            o += (size_t)w;
        }
    }
    if (o + 1 > cap)
        return 0;
    memcpy(out, tmp, o);
    out[o] = '\0';
    return o;
}

/* --- domains ------------------------------------------------------------ */

int mx_domain_check(const char *d, size_t n, const char **why)
{
    size_t labels = 0, lstart = 0;
    int alldigit = 1;

    if (n == 0) {
        *why = "is empty";
        return -1;
    }
    if (n > MATCH_MAX_DOMAIN) {
        *why = "is longer than 253 characters";
        return -1;
    }
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = i < n ? (unsigned char)d[i] : '.';
        if (c == '.') {
            if (i == lstart) {
                *why = "has an empty label";
                return -1;
            }
            if (i - lstart > MATCH_MAX_LABEL) {
                *why = "has a label longer than 63 characters";
                return -1;
            }
            labels++;
            if (i < n)
                alldigit = 1;
            lstart = i + 1;
            continue;
        }
        if (c >= '0' && c <= '9')
            continue;
        alldigit = 0;
        if ((c >= 'a' && c <= 'z') || c == '-' || c == '_' || c >= 0x80)
            continue;
        *why = "has a character outside [a-z0-9_-] and UTF-8";
        return -1;
    }
    if (labels < 2) {
        *why = "has a single label";
        return -1;
    }
    if (alldigit) {
        *why = "ends in a numeric label";
        return -1;
    }
    return 0;
}

int match_domain_normalise(const char *in, size_t n, char *out, size_t cap, size_t *outlen,
                           struct kz_error *err)
{
    const char *why = NULL;

    while (n && (in[n - 1] == ' ' || in[n - 1] == '\t'))
        n--;
    while (n && (in[0] == ' ' || in[0] == '\t')) {
        in++;
        n--;
    }
    if (n && in[n - 1] == '.')
        n--;
    if (mx_has_u8(in, n)) {
        /* a Unicode name: its A-label form (idn.c), the form logs and
         * sensors see; a trailing ideographic full stop became a dot */
        int rc = mx_idn_alabel(in, n, out, cap, &n, &why);
        if (rc < 0)
            return mx_idn_error(err, in, n, rc, why);
        if (n && out[n - 1] == '.')
            out[--n] = '\0';
    } else {
        if (n + 1 > cap)
            return kz_error_set(err, KZ_ELIMIT, "domain is longer than %zu bytes", cap - 1);
        for (size_t i = 0; i < n; i++)
            out[i] = (char)mx_lower[(unsigned char)in[i]];
        out[n] = '\0';
    }
    if (mx_domain_check(out, n, &why) < 0)
        return kz_error_set(err, KZ_EINVALID, "domain '%.*s' %s", (int)(n > 80 ? 80 : n), out, why);
    *outlen = n;
    return 0;
}

/* --- e-mail ------------------------------------------------------------- */

int match_email_normalise(const char *in, size_t n, char *out, size_t cap, size_t *outlen,
                          struct kz_error *err)
{
    size_t at, dlen = 0;

    while (n && (in[n - 1] == ' ' || in[n - 1] == '\t'))
        n--;
    while (n && (in[0] == ' ' || in[0] == '\t')) {
        in++;
        n--;
    }
    for (at = n; at > 0 && in[at - 1] != '@'; at--)
        ;
    if (at == 0)
        return kz_error_set(err, KZ_EINVALID, "e-mail address has no '@'");
    at--;
    if (at == 0 || at > MATCH_MAX_EMAIL_LOCAL)
        return kz_error_set(err, KZ_EINVALID, "e-mail local part must have 1 to 64 bytes");
    for (size_t i = 0; i < at; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c <= 0x20 || c == 0x7f)
            return kz_error_set(err, KZ_EINVALID,
                                "e-mail local part has a space or control character");
    }
    if (at + 2 > cap)
        return kz_error_set(err, KZ_ELIMIT, "e-mail address is too long");
    memcpy(out, in, at + 1);
    if (match_domain_normalise(in + at + 1, n - at - 1, out + at + 1, cap - at - 1, &dlen, err) < 0)
        return -1;
    *outlen = at + 1 + dlen;
    return 0;
}

/* --- hashes ------------------------------------------------------------- */

int match_hash_parse(const char *hex, size_t n, enum match_kind *kind, uint8_t out[64])
{
    switch (n) {
    case 32: *kind = MATCH_MD5; break;
    case 40: *kind = MATCH_SHA1; break;
    case 64: *kind = MATCH_SHA256; break;
    case 128: *kind = MATCH_SHA512; break;
    default: return -1;
    }
    for (size_t i = 0; i < n; i += 2) {
        unsigned char a = (unsigned char)hex[i], b = (unsigned char)hex[i + 1];
        if (!kz_is_hex(a) || !kz_is_hex(b))
            return -1;
        out[i / 2] = (uint8_t)((kz_hexval(a) << 4) | kz_hexval(b));
    }
    return 0;
}

/* --- any kind ----------------------------------------------------------- */

static int is_hash_kind(enum match_kind k)
{
    return k == MATCH_MD5 || k == MATCH_SHA1 || k == MATCH_SHA256 || k == MATCH_SHA512;
}

int match_normalise(enum match_kind kind, const char *in, size_t n, char *out, size_t cap,
                    size_t *outlen, struct kz_error *err)
{
    while (n && (in[n - 1] == ' ' || in[n - 1] == '\t' || in[n - 1] == '\n' || in[n - 1] == '\r'))
        n--;
    while (n && (in[0] == ' ' || in[0] == '\t')) {
        in++;
        n--;
    }
    if (n > MATCH_MAX_VALUE_BYTES)
        return kz_error_set(err, KZ_ELIMIT, "%s value is longer than %d bytes",
                            match_kind_name(kind), MATCH_MAX_VALUE_BYTES);
    switch (kind) {
    case MATCH_IPV4:
    case MATCH_IPV6:
    case MATCH_CIDR4:
    case MATCH_CIDR6: {
        int fam = 0, want = (kind == MATCH_IPV4 || kind == MATCH_CIDR4) ? 4 : 6;
        uint8_t a[16];
        unsigned plen = 0;
        size_t o;
        if (match_cidr_parse(in, n, &fam, a, &plen, err) < 0)
            return -1;
        if (fam != want)
            return kz_error_set(err, KZ_EINVALID, "'%.*s' is an IPv%d address, not IPv%d",
                                (int)(n > 64 ? 64 : n), in, fam, want);
        o = match_ip_format(fam, a, out, cap);
        if (o == 0)
            return kz_error_set(err, KZ_ELIMIT, "output buffer too small");
        if (plen != (fam == 4 ? 32u : 128u)) {
            int w = snprintf(out + o, cap - o, "/%u", plen);
            if (w < 0 || (size_t)w >= cap - o)
                return kz_error_set(err, KZ_ELIMIT, "output buffer too small");
            o += (size_t)w;
        }
        *outlen = o;
        return 0;
    }
    case MATCH_DOMAIN: return match_domain_normalise(in, n, out, cap, outlen, err);
    case MATCH_URL: return match_url_normalise(in, n, out, cap, outlen, err);
    case MATCH_EMAIL: return match_email_normalise(in, n, out, cap, outlen, err);
    default: break;
    }
    if (is_hash_kind(kind)) {
        enum match_kind got;
        uint8_t bin[64];
        if (match_hash_parse(in, n, &got, bin) < 0 || got != kind)
            return kz_error_set(err, KZ_EINVALID, "a %s is %u hexadecimal digits",
                                match_kind_name(kind), mx_digest_len[mx_hash_slot(kind)] * 2);
        if (n + 1 > cap)
            return kz_error_set(err, KZ_ELIMIT, "output buffer too small");
        for (size_t i = 0; i < n; i++)
            out[i] = (char)mx_lower[(unsigned char)in[i]];
        out[n] = '\0';
        *outlen = n;
        return 0;
    }
    return kz_error_set(err, KZ_EINVALID, "unknown value kind %d", (int)kind);
}
