/*
 * Syntax of single STIX values: names (3.1, 11.1, 11.2), dictionary and hash
 * keys (2.3, 2.7), hash digests (10.7), hex and binary (2.1, 2.8),
 * identifiers (2.9), RFC 5646 language tags, and the address forms the
 * cyber-observables carry (IPv4/IPv6 with CIDR, MAC-48, URL, domain name,
 * e-mail addr-spec, CPE 2.3). Every function takes a byte span, allocates
 * nothing and returns 1 (or 0 for the identifier and hash helpers, see
 * stix_int.h) when the value is well formed.
 */
#include "stix/stix_int.h"

#include <string.h>

#include "util/ip.h"
#include "util/text.h"
#include "util/uuid.h"

static int is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static int is_alpha(char c)
{
    return is_lower(c) || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(char c)
{
    return is_alpha(c) || is_digit(c);
}

static int is_hex(char c)
{
    return kz_is_hex((unsigned char)c);
}

static int is_lower_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f');
}

static char upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
}

int vsyn_type_name(const char *s, size_t n)
{
    if (n < KZ_MIN_STIX_TYPE || n > KZ_MAX_STIX_TYPE || !is_lower(s[0]))
        return 0;
    for (size_t i = 1; i < n; i++) {
        if (s[i] == '-') {
            if (s[i - 1] == '-')
                return 0;
        } else if (!is_lower(s[i]) && !is_digit(s[i])) {
            return 0;
        }
    }
    return 1;
}

int vsyn_property_name(const char *s, size_t n)
{
    if (n < 3 || n > KZ_MAX_PROPERTY_NAME || !is_lower(s[0]))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_lower(s[i]) && !is_digit(s[i]) && s[i] != '_')
            return 0;
    return 1;
}

static int key_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_')
            return 0;
    return 1;
}

int vsyn_dict_key(const char *s, size_t n)
{
    return n >= 1 && n <= KZ_MAX_PROPERTY_NAME && key_chars(s, n);
}

int vsyn_hash_key(const char *s, size_t n)
{
    return n >= 3 && n <= KZ_MAX_PROPERTY_NAME && key_chars(s, n);
}

int vsyn_hex(const char *s, size_t n)
{
    if (n % 2)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_hex(s[i]))
            return 0;
    return 1;
}

static int is_b64(char c)
{
    return is_alnum(c) || c == '+' || c == '/';
}

int vsyn_base64(const char *s, size_t n)
{
    size_t pad = 0;

    if (n % 4)
        return 0;
    while (pad < 2 && pad < n && s[n - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < n - pad; i++)
        if (!is_b64(s[i]))
            return 0;
    return 1;
}

/* --- identifiers ---------------------------------------------------------- */

int vsyn_identifier(const char *s, size_t n, char type[KZ_MAX_STIX_TYPE + 1])
{
    size_t tn;

    type[0] = '\0';
    if (n < 38 + KZ_MIN_STIX_TYPE || n > KZ_MAX_STIX_ID)
        return -1;
    tn = n - 38;
    if (s[tn] != '-' || s[tn + 1] != '-' || !vsyn_type_name(s, tn))
        return -1;
    memcpy(type, s, tn);
    type[tn] = '\0';
    return kz_uuid_valid(s + tn + 2, 36) ? 0 : -1;
}

int vsyn_relationship_type(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_lower(s[i]) && !is_digit(s[i]) && s[i] != '-')
            return 0;
    return 1;
}

/* A selector (7.2.3): components separated by '.', each a property name or
 * dictionary key, or a list index "[N]". */
int vsyn_selector(const char *s, size_t n)
{
    size_t i = 0;

    if (n == 0)
        return 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != '.')
            j++;
        if (j == i)
            return 0;
        if (s[i] == '[') {
            if (j - i < 3 || s[j - 1] != ']')
                return 0;
            for (size_t k = i + 1; k < j - 1; k++)
                if (!is_digit(s[k]))
                    return 0;
        } else if (!key_chars(s + i, j - i)) {
            return 0;
        }
        i = j + 1;
    }
    return 1;
}

/* --- hashes --------------------------------------------------------------- */

static const struct {
    const char *name;
    const char *folded; /* upper case without '-' and '_' */
    unsigned hexlen;    /* 0: not a plain hex digest */
} hash_algos[] = {
        {"MD5", "MD5", 32},         {"SHA-1", "SHA1", 40},       {"SHA-256", "SHA256", 64},
        {"SHA-512", "SHA512", 128}, {"SHA3-256", "SHA3256", 64}, {"SHA3-512", "SHA3512", 128},
        {"SSDEEP", "SSDEEP", 0},    {"TLSH", "TLSH", 0},
};
#define NHASH (sizeof(hash_algos) / sizeof(hash_algos[0]))

static int hex_run(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_hex(s[i]))
            return 0;
    return 1;
}

/* ssdeep: blocksize:hash:hash, optionally followed by ,"filename". */
static int ssdeep_ok(const char *s, size_t n)
{
    size_t i = 0, part = 0, start;

    while (i < n && is_digit(s[i]))
        i++;
    if (i == 0 || i == n || s[i] != ':')
        return 0;
    for (part = 0; part < 2; part++) {
        start = ++i;
        while (i < n && is_b64(s[i]))
            i++;
        if (i == start)
            return 0;
        if (part == 0 && (i == n || s[i] != ':'))
            return 0;
    }
    if (i == n)
        return 1;
    return s[i] == ',' && i + 2 < n && s[i + 1] == '"' && s[n - 1] == '"';
}

/* TLSH: the 35-byte digest as 70 hex digits, with or without the "T1"
 * version prefix of TLSH 4. */
static int tlsh_ok(const char *s, size_t n)
{
    if (n == 72 && s[0] == 'T' && s[1] == '1')
        return hex_run(s + 2, 70);
    return n == 70 && hex_run(s, n);
}

int vsyn_hash_value(const char *key, size_t kn, const char *v, size_t vn)
{
    for (size_t i = 0; i < NHASH; i++) {
        if (strlen(hash_algos[i].name) != kn || memcmp(hash_algos[i].name, key, kn) != 0)
            continue;
        if (hash_algos[i].hexlen)
            return vn == hash_algos[i].hexlen && hex_run(v, vn) ? 0 : -1;
        if (hash_algos[i].name[1] == 'S') /* SSDEEP */
            return ssdeep_ok(v, vn) ? 0 : -1;
        return tlsh_ok(v, vn) ? 0 : -1;
    }
    return 1;
}

const char *vsyn_hash_canonical(const char *key, size_t kn)
{
    char folded[16];
    size_t m = 0;

    for (size_t i = 0; i < kn; i++) {
        if (key[i] == '-' || key[i] == '_')
            continue;
        if (m + 1 >= sizeof(folded))
            return NULL;
        folded[m++] = upper(key[i]);
    }
    folded[m] = '\0';
    for (size_t i = 0; i < NHASH; i++) {
        if (strcmp(folded, hash_algos[i].folded) != 0)
            continue;
        if (strlen(hash_algos[i].name) == kn && memcmp(hash_algos[i].name, key, kn) == 0)
            return NULL; /* already the vocabulary's spelling */
        return hash_algos[i].name;
    }
    return NULL;
}

/* --- RFC 5646 language tags ------------------------------------------------ */

/* Irregular grandfathered tags: the only well-formed tags outside the
 * langtag / privateuse grammar (RFC 5646 2.1). */
static const char *const lang_irregular[] = {
        "en-GB-oed", "i-ami", "i-bnn",     "i-default", "i-enochian", "i-hak",
        "i-klingon", "i-lux", "i-mingo",   "i-navajo",  "i-pwn",      "i-tao",
        "i-tay",     "i-tsu", "sgn-BE-FR", "sgn-BE-NL", "sgn-CH-DE",  NULL,
};

static int ieq(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);

    if (an != bn)
        return 0;
    for (size_t i = 0; i < an; i++)
        if (upper(a[i]) != upper(b[i]))
            return 0;
    return 1;
}

static int all_of(const char *s, size_t n, int (*pred)(char))
{
    for (size_t i = 0; i < n; i++)
        if (!pred(s[i]))
            return 0;
    return 1;
}

int vsyn_lang(const char *s, size_t n)
{
    const char *sub[64];
    size_t len[64], ns = 0, i = 0, k = 0;

    for (const char *const *g = lang_irregular; *g; g++)
        if (ieq(s, n, *g))
            return 1;
    if (n == 0 || n > 255)
        return 0;
    /* split into subtags of 1..8 alphanumerics */
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != '-')
            j++;
        if (j == i || j - i > 8 || ns == 64 || !all_of(s + i, j - i, is_alnum))
            return 0;
        sub[ns] = s + i;
        len[ns++] = j - i;
        i = j + 1;
    }
    /* language: 2-3 letters with up to three 3-letter extlangs, or 4-8 letters */
    if (!(len[0] == 1 && upper(sub[0][0]) == 'X')) {
        if (len[0] < 2 || !all_of(sub[0], len[0], is_alpha))
            return 0;
        k = 1;
        if (len[0] <= 3)
            for (int e = 0; e < 3 && k < ns && len[k] == 3 && all_of(sub[k], 3, is_alpha); e++)
                k++;
        if (k < ns && len[k] == 4 && all_of(sub[k], 4, is_alpha))
            k++; /* script */
        if (k < ns && ((len[k] == 2 && all_of(sub[k], 2, is_alpha)) ||
                       (len[k] == 3 && all_of(sub[k], 3, is_digit))))
            k++; /* region */
        while (k < ns && ((len[k] >= 5) || (len[k] == 4 && is_digit(sub[k][0]))))
            k++; /* variants */
        while (k < ns && len[k] == 1 && upper(sub[k][0]) != 'X') {
            size_t start = ++k; /* extension: singleton and 2-8 char subtags */
            while (k < ns && len[k] >= 2)
                k++;
            if (k == start)
                return 0;
        }
        if (k == ns)
            return 1;
        if (!(len[k] == 1 && upper(sub[k][0]) == 'X'))
            return 0;
    }
    /* private use: "x" and one or more 1-8 character subtags */
    return k + 1 < ns;
}

/* --- network addresses ---------------------------------------------------- */

/* A decimal number of 1..maxdig digits without leading zeros, at most max. */
static int dec(const char *s, size_t n, size_t maxdig, unsigned max)
{
    unsigned v = 0;

    if (n == 0 || n > maxdig || (n > 1 && s[0] == '0'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return 0;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v <= max;
}

static int ipv4_addr(const char *s, size_t n)
{
    uint8_t a[4];

    return kz_ipv4_parse(s, n, a) == 0;
}

/* Splits "addr/prefix"; checks the prefix against max. */
static int split_cidr(const char *s, size_t n, unsigned max, size_t *addrlen)
{
    const char *slash = memchr(s, '/', n);

    if (!slash) {
        *addrlen = n;
        return 1;
    }
    *addrlen = (size_t)(slash - s);
    return dec(slash + 1, n - *addrlen - 1, 3, max);
}

int vsyn_ipv4(const char *s, size_t n)
{
    size_t an;

    return split_cidr(s, n, 32, &an) && ipv4_addr(s, an);
}

static int ipv6_addr(const char *s, size_t n)
{
    uint8_t a[16];

    return kz_ipv6_parse(s, n, a) == 0;
}

int vsyn_ipv6(const char *s, size_t n)
{
    size_t an;

    return split_cidr(s, n, 128, &an) && ipv6_addr(s, an);
}

int vsyn_mac(const char *s, size_t n)
{
    if (n != 17)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 3 == 2) {
            if (s[i] != ':')
                return 0;
        } else if (!is_lower_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* RFC 3986 URI: a scheme, ':', and a non-empty rest without spaces or
 * control characters. Non-ASCII bytes are tolerated (IRIs are common in
 * real feeds and carry the same meaning). */
int vsyn_url(const char *s, size_t n)
{
    size_t i = 1;

    if (n < 3 || !is_alpha(s[0]))
        return 0;
    while (i < n && (is_alnum(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    if (i == n || s[i] != ':' || i + 1 == n)
        return 0;
    for (i++; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* RFC 1034 names made of RFC 5890 labels: 1..63 byte labels of letters,
 * digits, hyphens (not first or last), underscores (service labels) and
 * UTF-8 (U-labels), at most 253 bytes, an optional final dot. */
int vsyn_domain(const char *s, size_t n)
{
    size_t i = 0;

    if (n > 0 && s[n - 1] == '.')
        n--;
    if (n == 0 || n > 253)
        return 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != '.') {
            unsigned char c = (unsigned char)s[j];
            if (!is_alnum((char)c) && c != '-' && c != '_' && c < 0x80)
                return 0;
            j++;
        }
        if (j == i || j - i > 63 || s[i] == '-' || s[j - 1] == '-')
            return 0;
        i = j + 1;
    }
    return 1;
}

/* addr-spec (RFC 5322 3.4): local-part "@" domain, no display name: no
 * angle brackets, no spaces outside a quoted local part. */
int vsyn_email(const char *s, size_t n)
{
    const char *at = NULL;
    int quoted = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            quoted = !quoted;
        else if (!quoted && (c <= 0x20 || c == 0x7f || c == '<' || c == '>'))
            return 0;
        else if (!quoted && c == '@')
            at = s + i;
    }
    if (quoted || !at || at == s || at == s + n - 1)
        return 0;
    n -= (size_t)(at + 1 - s);
    s = at + 1;
    if (s[0] == '[')
        return s[n - 1] == ']' && n > 2;
    return vsyn_domain(s, n);
}

/* CPE 2.3 formatted string binding: "cpe:2.3:" and 11 more non-empty
 * components (part through other), separated by unescaped ':'. */
int vsyn_cpe23(const char *s, size_t n)
{
    size_t comps = 1, clen = 0;

    if (n < 8 || memcmp(s, "cpe:2.3:", 8) != 0)
        return 0;
    if (n < 10 || s[9] != ':' ||
        (s[8] != 'a' && s[8] != 'o' && s[8] != 'h' && s[8] != '*' && s[8] != '-'))
        return 0;
    for (size_t i = 8; i < n; i++) {
        if (s[i] == '\\') {
            if (++i == n)
                return 0;
            clen++;
        } else if (s[i] == ':') {
            if (clen == 0)
                return 0;
            comps++;
            clen = 0;
        } else if ((unsigned char)s[i] <= 0x20) {
            return 0;
        } else {
            clen++;
        }
    }
    return clen > 0 && comps == 11;
}
