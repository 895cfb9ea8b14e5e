/*
 * Benchmark of NFC normalisation for patterns (STIX 2.1 section 9.6.1: LIKE
 * and MATCHES compare NFC text): the pattern module's kzp_nfc against a bare
 * libunistring u8_normalize(UNINORM_NFC), in the same run, on
 * strings shaped like the literals and observed values patterns carry
 * (file names, paths, process command lines, user names, subjects) in
 * Latin with decomposed accents as macOS writes them, Vietnamese,
 * Japanese with combining sound marks, Korean jamo, Greek, Devanagari and
 * plain ASCII. Both must give the same bytes; the program checks that
 * before it times anything. Until kzp_nfc moved onto libunistring it used
 * tables generated from Python's unicodedata, and this bench decided that
 * move (docs/BENCHMARKS.md); it now measures what kzp_nfc adds around the
 * library (the split at ill-formed bytes).
 *
 *   bench_nfc [ROUNDS]        default 200000 rounds over the strings
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uninorm.h>

#include "pattern/pattern_int.h"
#include "util/buf.h"
#include "util/kztime.h"

static const char *const strings[] = {
        /* ASCII: most values; both take a fast path */
        "C:\\Windows\\System32\\drivers\\etc\\hosts",
        "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA",
        "invoice_2024_0931.pdf.exe",
        /* Latin already composed (NFC): needs the full check, no change */
        "Überweisung_März_Kündigung.docx",
        "façade-résumé-naïve.txt",
        /* Latin decomposed (NFD, as macOS file systems write names) */
        "Re\xcc\x81sume\xcc\x81 Jose\xcc\x81 Mu\xcc\x88ller.pdf",
        "/Users/franc\xcc\xa7ois/Te\xcc\x81le\xcc\x81"
        "chargements/factur\xcc\x81"
        "e.zip",
        /* Vietnamese: stacked marks in both orders */
        "Ho\xcc\x9b\xcc\x80ng da\xcc\xa3\xcc\x82y tie\xcc\x82\xcc\x81ng Vie\xcc\xa3\xcc\x82t.xlsx",
        /* Japanese: katakana/hiragana with combining (han)dakuten */
        "\xe3\x83\x95\xe3\x82\xa1\xe3\x82\xa4\xe3\x83\xab\xe3\x83\x8f\xe3\x82\x99"
        "\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xa2\xe3\x83\x83\xe3\x83\x95\xe3\x82\x9a.exe",
        "\xe8\xab\x8b\xe6\xb1\x82\xe6\x9b\xb8_\xe3\x81\x8b\xe3\x82\x99\xe3\x81\x84\xe3\x81\x97"
        "\xe3\x82\x83.xlsm",
        /* Korean: conjoining jamo to compose into syllables, and syllables */
        "\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab\xe1\x84\x80\xe1\x85\xb3\xe1\x86\xaf.hwp",
        "\xea\xb2\xac\xec\xa0\x81\xec\x84\x9c_\xec\xb5\x9c\xec\xa2\x85.hwp",
        /* Greek with tonos decomposed, Devanagari with nukta */
        "\xce\xb1\xcc\x81\xce\xb4\xce\xb5\xce\xb9\xce\xb1 \xce\xbf\xcc\x81\xce\xbd\xce\xbf\xce"
        "\xbc\xce\xb1.pdf",
        "\xe0\xa4\x95\xe0\xa4\xbc\xe0\xa4\xb0\xe0\xa5\x8d\xe0\xa4\x9c\xe0\xa4\xbc.doc",
};
#define NSTR (sizeof(strings) / sizeof(strings[0]))

static int ours(const char *s, size_t n, struct kz_buf *b)
{
    kz_buf_reset(b);
    return kzp_nfc(s, n, b);
}

/* libunistring as the pattern module would call it: the same quick check
 * first (text below U+0300 is NFC), then u8_normalize into a buffer. */
static int unistring(const char *s, size_t n, uint8_t *buf, size_t *len)
{
    uint8_t *r;

    if (kzp_nfc_quick(s, n)) {
        memcpy(buf, s, n);
        *len = n;
        return 0;
    }
    *len = 4096;
    r = u8_normalize(UNINORM_NFC, (const uint8_t *)s, n, buf, len);
    if (!r)
        return -1;
    if (r != buf)
        free(r);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned rounds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200000;
    struct kz_buf b;
    uint8_t ubuf[4096];
    size_t ulen, bytes = 0;
    int64_t t0, t1, t2;
    volatile size_t sink = 0;

    kz_buf_init(&b, 1 << 20);
    for (size_t i = 0; i < NSTR; i++) {
        size_t n = strlen(strings[i]);
        bytes += n;
        if (ours(strings[i], n, &b) < 0 || unistring(strings[i], n, ubuf, &ulen) < 0 ||
            ulen != b.len || memcmp(ubuf, b.data, ulen) != 0) {
            fprintf(stderr, "bench_nfc: the two disagree on string %zu\n", i);
            return 1;
        }
    }
    t0 = kz_now_micros();
    for (unsigned r = 0; r < rounds; r++)
        for (size_t i = 0; i < NSTR; i++) {
            (void)ours(strings[i], strlen(strings[i]), &b);
            sink += b.len;
        }
    t1 = kz_now_micros();
    for (unsigned r = 0; r < rounds; r++)
        for (size_t i = 0; i < NSTR; i++) {
            (void)unistring(strings[i], strlen(strings[i]), ubuf, &ulen);
            sink += ulen;
        }
    t2 = kz_now_micros();
    {
        double calls = (double)rounds * NSTR, mb = (double)rounds * (double)bytes / 1e6;
        double a = (double)(t1 - t0), u = (double)(t2 - t1);
        printf("strings %zu, rounds %u, %.1f MB each\n", NSTR, rounds, mb);
        printf("kzp_nfc               %8.1f ns/string %8.1f MB/s\n", a * 1000 / calls,
               mb / a * 1e6);
        printf("libunistring (u8_nfc) %8.1f ns/string %8.1f MB/s\n", u * 1000 / calls,
               mb / u * 1e6);
        printf("ratio u8_normalize/kzp_nfc: %.2f\n", u / a);
    }
    kz_buf_free(&b);
    return sink == 0;
}
