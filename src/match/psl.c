/*
 * The public suffix list (publicsuffix.org): which names are suffixes under
 * which anyone may register ("com", "co.jp", "github.io"). The matcher uses
 * it so that a domain indicator that is itself a public suffix never matches
 * "its subdomains": an indicator "co.jp" must not flag every Japanese
 * company. Rules are kept in one hash table keyed by the rule's name with
 * flags: exact, wildcard ("*.ck": every child of ck) and exception
 * ("!www.ck"). Unicode rules are stored both as UTF-8 and as punycode
 * A-labels, since logs carry either form.
 */
#include "match/match.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match/match_int.h"

struct match_psl {
    struct mx_strtab rules; /* mx_dhash keys; val = MX_PSL_* flags */
    uint64_t seed;
};

/* --- punycode (RFC 3492), encoder only --------------------------------- */

enum { PC_BASE = 36, PC_TMIN = 1, PC_TMAX = 26, PC_SKEW = 38, PC_DAMP = 700 };

static uint32_t pc_adapt(uint32_t delta, uint32_t numpoints, int first)
{
    uint32_t k = 0;

    delta = first ? delta / PC_DAMP : delta / 2;
    delta += delta / numpoints;
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

/* Decodes UTF-8 into code points; -1 on invalid UTF-8 or too many. */
static int utf8_decode(const char *s, size_t n, uint32_t *cp, size_t cap, size_t *ncp)
{
    size_t i = 0, k = 0;

    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        uint32_t v;
        int more;
        if (c < 0x80) {
            v = c;
            more = 0;
        } else if ((c & 0xe0) == 0xc0) {
            v = c & 0x1f;
            more = 1;
        } else if ((c & 0xf0) == 0xe0) {
            v = c & 0x0f;
            more = 2;
        } else if ((c & 0xf8) == 0xf0) {
            v = c & 0x07;
            more = 3;
        } else {
            return -1;
        }
        if (more && i + (size_t)more >= n)
            return -1;
        for (int j = 1; j <= more; j++) {
            unsigned char d = (unsigned char)s[i + (size_t)j];
            if ((d & 0xc0) != 0x80)
                return -1;
            v = (v << 6) | (d & 0x3f);
        }
        if (k >= cap || v > 0x10ffff)
            return -1;
        cp[k++] = v;
        i += (size_t)more + 1;
    }
    *ncp = k;
    return 0;
}

size_t mx_punycode_label(const char *in, size_t n, char *out, size_t cap)
{
    uint32_t cp[64];
    size_t ncp, o = 0, b = 0, h;
    uint32_t nn = 128, delta = 0, bias = 72;
    int ascii = 1;

    for (size_t i = 0; i < n; i++)
        if ((unsigned char)in[i] >= 0x80)
            ascii = 0;
    if (ascii) {
        if (n > cap)
            return 0;
        memcpy(out, in, n);
        return n;
    }
    if (utf8_decode(in, n, cp, 64, &ncp) < 0 || cap < 5)
        return 0;
    memcpy(out, "xn--", 4);
    o = 4;
    for (size_t i = 0; i < ncp; i++) {
        if (cp[i] < 0x80) {
            if (o >= cap)
                return 0;
            out[o++] = (char)cp[i];
            b++;
        }
    }
    if (b > 0) {
        if (o >= cap)
            return 0;
        out[o++] = '-';
    }
    h = b;
    while (h < ncp) {
        uint32_t m = 0xffffffffu;
        for (size_t i = 0; i < ncp; i++)
            if (cp[i] >= nn && cp[i] < m)
                m = cp[i];
        if ((uint64_t)(m - nn) * (h + 1) + delta > 0xffffffffu)
            return 0;
        delta += (m - nn) * (uint32_t)(h + 1);
        nn = m;
        for (size_t i = 0; i < ncp; i++) {
            if (cp[i] < nn)
                delta++;
            if (cp[i] == nn) {
                uint32_t q = delta;
                for (uint32_t k = PC_BASE;; k += PC_BASE) {
                    uint32_t t = k <= bias ? PC_TMIN : k >= bias + PC_TMAX ? PC_TMAX : k - bias;
                    if (q < t)
                        break;
                    if (o >= cap)
                        return 0;
                    out[o++] = pc_digit(t + (q - t) % (PC_BASE - t));
                    q = (q - t) / (PC_BASE - t);
                }
                if (o >= cap)
                    return 0;
                out[o++] = pc_digit(q);
                bias = pc_adapt(delta, (uint32_t)h + 1, h == b);
                delta = 0;
                h++;
            }
        }
        delta++;
        nn++;
    }
    return o;
}

/* Converts every non-ASCII label of d to punycode; returns the length or 0
 * when nothing changed or it does not fit. */
static size_t to_alabels(const char *d, size_t n, char *out, size_t cap)
{
    size_t o = 0, st = 0;
    int changed = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i < n && d[i] != '.')
            continue;
        {
            size_t w = mx_punycode_label(d + st, i - st, out + o, cap - o);
            if (w == 0 && i > st)
                return 0;
            if (w != i - st || memcmp(out + o, d + st, w) != 0)
                changed = 1;
            o += w;
        }
        if (i < n) {
            if (o + 1 >= cap)
                return 0;
            out[o++] = '.';
        }
        st = i + 1;
    }
    return changed ? o : 0;
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
