/*
 * Unicode Normalization Form C (UAX #15), which STIX 2.1 section 9.6.1
 * requires for LIKE and MATCHES, by libunistring's u8_normalize. Text below
 * U+0300 is always NFC, which keeps the common case a single scan without a
 * call. libunistring refuses ill-formed UTF-8 as a whole; patterns and
 * observed values are compared byte for byte all the same, so each
 * well-formed run is normalised on its own and the ill-formed bytes between
 * runs are copied through (they block composition across them, as any
 * starter would). bench/bench_nfc.c compares this with the generated tables
 * it replaced (two to three times as fast, same output).
 */
#include "pattern/pattern_int.h"

#include <stdlib.h>
#include <string.h>

#include <unistr.h>
#include <uninorm.h>

#include "util/buf.h"

int kzp_nfc_quick(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        /* lead bytes of U+0300 and above: 0xCC and up */
        if (c >= 0xCC && (c & 0xC0) == 0xC0)
            return 0;
    }
    return 1;
}

/* Appends the NFC form of the well-formed UTF-8 run s[0..n). */
static int nfc_run(const uint8_t *s, size_t n, struct kz_buf *out)
{
    uint8_t small[512], *r;
    size_t len = sizeof(small);
    int rc;

    if (kzp_nfc_quick((const char *)s, n))
        return kz_buf_add(out, s, n);
    r = u8_normalize(UNINORM_NFC, s, n, small, &len);
    if (!r)
        return -1; /* out of memory: the input was checked well-formed */
    rc = kz_buf_add(out, r, len);
    if (r != small)
        free(r);
    return rc;
}

int kzp_nfc(const char *s, size_t n, struct kz_buf *out)
{
    const uint8_t *p = (const uint8_t *)s, *end = p + n, *run = p;

    if (kzp_nfc_quick(s, n))
        return kz_buf_add(out, s, n);
    if (!u8_check(p, n))
        return nfc_run(p, n, out); /* well-formed throughout: the usual case */
    while (p < end) {
        ucs4_t uc;
        int l = u8_mbtoucr(&uc, p, (size_t)(end - p));

        if (l > 0) {
            p += l;
            continue;
        }
        /* an ill-formed or truncated sequence: its first byte goes through */
        if (nfc_run(run, (size_t)(p - run), out) < 0 || kz_buf_add(out, p, 1) < 0)
            return -1;
        p++;
        run = p;
    }
    return nfc_run(run, (size_t)(end - run), out);
}
