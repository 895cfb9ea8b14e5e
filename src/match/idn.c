/*
 * Internationalised domain names: the A-label form ("xn--...") that DNS
 * queries, TLS SNI and HTTP Host headers carry a Unicode name in, made by
 * libidn2 (IDNA2008 with the UTS #46 nontransitional mapping, as browsers
 * and resolvers do): fullwidth letters fold to ASCII ("ＥＸＡＭＰＬＥ.jp" is
 * example.jp), case maps the Unicode way ("İstanbul" is xn--istanbul-o0e),
 * "ß" and final sigma are kept, ideographic full stops separate labels.
 * The index stores every domain in this form and the scanner converts a log
 * name with non-ASCII bytes before it looks it up, so either form in a log
 * matches either form in an indicator; export/ writes sensor files with it.
 *
 * Labels of ASCII alone are lowercased and kept as they are, without
 * libidn2's checks: logs carry names that are no valid IDNA ("_dmarc",
 * "ab--c", a leading hyphen), and a name is looked up as it was queried.
 */
#include "match/match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>

#include "match/match_int.h"

/* Converts the label in[0..n) holding non-ASCII bytes; appends to out. */
static int idn_label(const char *in, size_t n, char *out, size_t cap, size_t *o, const char **why)
{
    char tmp[MATCH_MAX_IDN_BYTES + 1];
    uint8_t *res = NULL;
    size_t rl;
    int rc;

    if (memchr(in, '\0', n)) {
        *why = "holds a NUL byte";
        return -1;
    }
    memcpy(tmp, in, n);
    tmp[n] = '\0';
    rc = idn2_lookup_u8((const uint8_t *)tmp, &res, IDN2_NONTRANSITIONAL);
    if (rc != IDN2_OK) {
        *why = idn2_strerror(rc);
        return -2;
    }
    rl = strlen((const char *)res);
    if (*o + rl >= cap) {
        idn2_free(res);
        *why = "is too long in A-label form";
        return -1;
    }
    memcpy(out + *o, res, rl); /* lowercase ASCII: libidn2 maps case */
    *o += rl;
    idn2_free(res);
    return 0;
}

int mx_idn_alabel(const char *in, size_t n, char *out, size_t cap, size_t *outlen, const char **why)
{
    size_t o = 0, st = 0;

    if (n == 0 || cap == 0) {
        *why = "is empty";
        return -1;
    }
    if (n > MATCH_MAX_IDN_BYTES) {
        *why = "is too long";
        return -1;
    }
    for (size_t i = 0; i <= n; i++) {
        if (i < n && in[i] != '.')
            continue;
        if (i == st && i < n) {
            *why = "has an empty label";
            return -1;
        }
        if (st > 0) {
            if (o + 1 >= cap) {
                *why = "is too long in A-label form";
                return -1;
            }
            out[o++] = '.';
        }
        if (mx_has_u8(in + st, i - st)) {
            int rc = idn_label(in + st, i - st, out, cap, &o, why);
            if (rc < 0)
                return rc;
        } else {
            if (o + (i - st) >= cap) {
                *why = "is too long in A-label form";
                return -1;
            }
            for (size_t k = st; k < i; k++)
                out[o++] = (char)mx_lower[(unsigned char)in[k]];
        }
        st = i + 1;
    }
    if (o > MATCH_MAX_DOMAIN) {
        *why = "is longer than 253 characters in A-label form";
        return -1;
    }
    out[o] = '\0';
    *outlen = o;
    return 0;
}

int match_domain_alabel(const char *in, size_t n, char *out, size_t cap, size_t *outlen,
                        struct kz_error *err)
{
    const char *why = NULL;
    int rc = mx_idn_alabel(in, n, out, cap, outlen, &why);

    if (rc < 0)
        return mx_idn_error(err, in, n, rc, why);
    return 0;
}

int mx_idn_error(struct kz_error *err, const char *in, size_t n, int rc, const char *why)
{
    if (rc == -2)
        return kz_error_set(err, KZ_EINVALID, "domain '%.*s' is no valid IDNA2008 name: %s",
                            (int)(n > 100 ? 100 : n), in, why);
    return kz_error_set(err, KZ_EINVALID, "domain '%.*s' %s", (int)(n > 100 ? 100 : n), in, why);
}
