/*
 * The public suffix list (publicsuffix.org): which names are suffixes under
 * which anyone may register ("com", "co.jp", "github.io"). The matcher uses
 * it so that a domain indicator that is itself a public suffix never matches
 * "its subdomains": an indicator "co.jp" must not flag every Japanese
 * company. Rules are kept in one hash table keyed by the rule's name with
 * flags: exact, wildcard ("*.ck": every child of ck) and exception
 * ("!www.ck"). Unicode rules are stored both as UTF-8 and as punycode
 * A-labels, since logs carry either form; the A-label encoder here
 * (match_punycode_label, match_domain_alabel) is also the one export/ writes
 * sensor files with.
 */
#include "match/match.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match/match_int.h"
#include "util/text.h"

struct match_psl {
    struct mx_strtab rules; /* mx_dhash keys; val = MX_PSL_* flags */
    uint64_t seed;
};

/* --- IDNA A-labels: punycode (RFC 3492), encoder only -------------------- */

/* Simple lowercase mapping of the scripts host names mostly use (Latin,
 * Greek, Cyrillic, fullwidth Latin), as IDNA's mapping step does for them.
 * Other code points are returned as they are. */
static uint32_t lower_cp(uint32_t c)
{
    if ((c >= 0xc0 && c <= 0xde && c != 0xd7) || (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) ||
        (c >= 0x410 && c <= 0x42f))
        return c + 0x20;
    if (c >= 0x400 && c <= 0x40f)
        return c + 0x50;
    if (((c >= 0x100 && c <= 0x137) || (c >= 0x14a && c <= 0x177)) && c % 2 == 0)
        return c + 1;
    if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) && c % 2 == 1)
        return c + 1;
    if (c == 0x178)
        return 0xff;
    if (c >= 0xff21 && c <= 0xff3a) /* fullwidth A-Z map to ASCII a-z */
        return c - 0xff21 + 'a';
    if (c >= 0xff41 && c <= 0xff5a)
        return c - 0xff41 + 'a';
    return c;
}

/* Code points a host name label never holds: controls, spaces and
 * formatting characters, the dot variants IDNA treats as separators,
 * private use and noncharacters. */
static int disallowed_cp(uint32_t c)
{
    return (c >= 0x80 && c <= 0xa0) || c == 0xad || (c >= 0x2000 && c <= 0x200f) ||
           (c >= 0x2028 && c <= 0x202f) || (c >= 0x205f && c <= 0x206f) || c == 0x3000 ||
           c == 0x3002 || c == 0xff0e || c == 0xff61 || c == 0xfeff ||
           (c >= 0xe000 && c <= 0xf8ff) || (c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) == 0xfffe ||
           c >= 0xf0000;
}

/* RFC 3492 section 5 parameters. */
enum { PC_BASE = 36, PC_TMIN = 1, PC_TMAX = 26, PC_SKEW = 38, PC_DAMP = 700, PC_BIAS = 72 };

static uint32_t pc_adapt(uint32_t delta, uint32_t points, int first)
{
    uint32_t k = 0;

    delta = first ? delta / PC_DAMP : delta / 2;
    delta += delta / points;
    while (delta > ((PC_BASE - PC_TMIN) * PC_TMAX) / 2) {
        delta /= PC_BASE - PC_TMIN;
        k += PC_BASE;
    }
    return k + (PC_BASE - PC_TMIN + 1) * delta / (delta + PC_SKEW);
}

static char pc_digit(uint32_t d)
{
    return (char)(d < 26 ? 'a' + d : '0' + (d - 26));
}

size_t match_punycode_label(const char *in, size_t n, char *out, size_t cap)
{
    uint32_t cps[MATCH_MAX_LABEL + 1];
    size_t ncp = 0, o = 0, i;
    uint32_t nn = 0x80, delta = 0, bias = PC_BIAS, h, b = 0;
    /* the output and its NUL: at most a 63-byte label */
    const size_t lim = cap < MATCH_MAX_LABEL + 1 ? cap : MATCH_MAX_LABEL + 1;
    int ascii = 1;

    if (n == 0 || n > MATCH_MAX_LABEL * 4)
        return 0;
    for (i = 0; i < n;) {
        uint32_t c;
        size_t l = kz_utf8_decode((const unsigned char *)in + i, n - i, &c);
        if (!l || ncp == MATCH_MAX_LABEL)
            return 0;
        if (c >= 0x80)
            ascii = 0;
        c = lower_cp(c);
        if (c < 0x80 && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
        if (disallowed_cp(c))
            return 0;
        cps[ncp++] = c;
        i += l;
    }
    if (ascii) {
        if (n >= lim)
            return 0;
        memcpy(out, in, n);
        out[n] = '\0';
        return n;
    }
    if (lim < 5)
        return 0;
    memcpy(out, "xn--", 4);
    o = 4;
    for (i = 0; i < ncp; i++) {
        if (cps[i] < 0x80) {
            if (o + 1 >= lim)
                return 0;
            out[o++] = (char)cps[i];
            b++;
        }
    }
    h = b;
    if (b > 0) {
        if (o + 1 >= lim)
            return 0;
        out[o++] = '-';
    }
    while (h < ncp) {
        uint32_t m = UINT32_MAX;
        for (i = 0; i < ncp; i++)
            if (cps[i] >= nn && cps[i] < m)
                m = cps[i];
        /* at most 63 code points below 0x110000 keep delta far from
         * overflowing; checked all the same */
        if ((uint64_t)(m - nn) * (h + 1) + delta > UINT32_MAX)
            return 0;
        delta += (m - nn) * (h + 1);
        nn = m;
        for (i = 0; i < ncp; i++) {
            if (cps[i] < nn)
                delta++;
            if (cps[i] != nn)
                continue;
            uint32_t q = delta;
            for (uint32_t k = PC_BASE;; k += PC_BASE) {
                uint32_t t = k <= bias ? PC_TMIN : k >= bias + PC_TMAX ? PC_TMAX : k - bias;
                if (q < t)
                    break;
                if (o + 1 >= lim)
                    return 0;
                out[o++] = pc_digit(t + (q - t) % (PC_BASE - t));
                q = (q - t) / (PC_BASE - t);
            }
            if (o + 1 >= lim)
                return 0;
            out[o++] = pc_digit(q);
            bias = pc_adapt(delta, h + 1, h == b);
            delta = 0;
            h++;
        }
        delta++;
        nn++;
    }
    out[o] = '\0';
    return o;
}

int match_domain_alabel(const char *in, size_t n, char *out, size_t cap, size_t *outlen)
{
    size_t o = 0, st = 0;

    if (n == 0 || cap == 0)
        return -1;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && in[i] != '.')
            continue;
        if (i == st)
            return -1;
        if (o) {
            if (o + 1 >= cap)
                return -1;
            out[o++] = '.';
        }
        size_t w = match_punycode_label(in + st, i - st, out + o, cap - o);
        if (!w)
            return -1;
        o += w;
        st = i + 1;
    }
    if (o > MATCH_MAX_DOMAIN || o >= cap)
        return -1;
    out[o] = '\0';
    *outlen = o;
    return 0;
}

/* The A-label form of a rule d[0..n) with a Unicode label, into out;
 * returns its length, or 0 when it is the same as d or has none. */
static size_t to_alabels(const char *d, size_t n, char *out, size_t cap)
{
    size_t o;

    if (match_domain_alabel(d, n, out, cap, &o) < 0)
        return 0;
    return o != n || memcmp(out, d, n) != 0 ? o : 0;
}

static int add_rule(struct match_psl *psl, const char *name, size_t n, uint32_t flag)
{
    struct mx_strslot *sl;
    uint64_t h = mx_dhash(name, n, psl->seed);

    sl = mx_strtab_upsert(&psl->rules, h, name, n);
    if (!sl)
        return -1;
    if (sl->val == MX_EMPTY)
        sl->val = 0;
    sl->val |= flag;
    return 0;
}

struct match_psl *match_psl_parse(const char *text, size_t n, struct kz_error *err)
{
    struct match_psl *psl = calloc(1, sizeof(*psl));
    size_t i = 0, nrules = 0;

    if (!psl) {
        kz_error_set(err, KZ_ENOMEM, "out of memory loading the public suffix list");
        return NULL;
    }
    psl->seed = mx_random_seed();
    while (i < n) {
        size_t e = i, rs, re;
        char lower[MATCH_MAX_DOMAIN + 1], alab[MATCH_MAX_DOMAIN + 1];
        uint32_t flag = MX_PSL_EXACT;
        while (e < n && text[e] != '\n')
            e++;
        rs = i;
        while (rs < e && (text[rs] == ' ' || text[rs] == '\t'))
            rs++;
        for (re = rs; re < e && text[re] != ' ' && text[re] != '\t' && text[re] != '\r'; re++)
            ;
        i = e + 1;
        if (re == rs || (re - rs >= 2 && text[rs] == '/' && text[rs + 1] == '/'))
            continue;
        if (text[rs] == '!') {
            flag = MX_PSL_EXCEPT;
            rs++;
        } else if (re - rs >= 2 && text[rs] == '*' && text[rs + 1] == '.') {
            flag = MX_PSL_WILD;
            rs += 2;
        }
        if (re <= rs || re - rs > MATCH_MAX_DOMAIN || memchr(text + rs, '*', re - rs))
            continue; /* wildcards other than leftmost: not in the list, ignored */
        for (size_t k = rs; k < re; k++)
            lower[k - rs] = (char)mx_lower[(unsigned char)text[k]];
        if (add_rule(psl, lower, re - rs, flag) < 0)
            goto nomem;
        {
            size_t an = to_alabels(lower, re - rs, alab, sizeof(alab));
            if (an && add_rule(psl, alab, an, flag) < 0)
                goto nomem;
        }
        nrules++;
    }
    if (nrules == 0) {
        kz_error_set(err, KZ_EINVALID, "the public suffix list holds no rules");
        match_psl_free(psl);
        return NULL;
    }
    return psl;
nomem:
    kz_error_set(err, KZ_ENOMEM, "out of memory loading the public suffix list");
    match_psl_free(psl);
    return NULL;
}

struct match_psl *match_psl_load(const char *path, struct kz_error *err)
{
    struct match_psl *psl = NULL;
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;

    if (!f) {
        kz_error_file(err, path);
        kz_error_set(err, KZ_EIO, "cannot open the public suffix list: %s", strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t got;
        if (n + 65536 > cap) {
            char *nb;
            if (cap >= MATCH_MAX_PSL_BYTES) {
                kz_error_file(err, path);
                kz_error_set(err, KZ_ELIMIT, "the public suffix list is larger than %zu bytes",
                             MATCH_MAX_PSL_BYTES);
                goto out;
            }
            nb = realloc(buf, cap + 65536);
            if (!nb) {
                kz_error_set(err, KZ_ENOMEM, "out of memory reading %s", path);
                goto out;
            }
            buf = nb;
            cap += 65536;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        kz_error_file(err, path);
        kz_error_set(err, KZ_EIO, "read error on the public suffix list");
        goto out;
    }
    psl = match_psl_parse(buf, n, err);
    if (!psl)
        kz_error_file(err, path);
out:
    free(buf);
    fclose(f);
    return psl;
}

void match_psl_free(struct match_psl *psl)
{
    if (!psl)
        return;
    mx_strtab_free(&psl->rules);
    free(psl);
}

static uint32_t rule_flags(const struct match_psl *psl, const char *d, size_t n)
{
    const struct mx_strslot *sl = mx_strtab_find(&psl->rules, mx_dhash(d, n, psl->seed), d, n, 1);

    return sl ? sl->val : 0;
}

int match_psl_is_public_suffix(const struct match_psl *psl, const char *d, size_t n)
{
    const char *dot = memchr(d, '.', n);
    uint32_t f;

    if (n == 0)
        return 0;
    if (!dot)
        return 1; /* the default rule "*" */
    if (!psl)
        return 0;
    f = rule_flags(psl, d, n);
    if (f & MX_PSL_EXCEPT)
        return 0;
    if (f & MX_PSL_EXACT)
        return 1;
    return (rule_flags(psl, dot + 1, n - (size_t)(dot + 1 - d)) & MX_PSL_WILD) != 0;
}
