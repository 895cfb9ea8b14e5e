/*
 * NFC for patterns (src/pattern/nfc.c) against the Unicode normalisation
 * conformance file: every line of NormalizationTest.txt must hold
 * c2 == NFC(c1) == NFC(c2) == NFC(c3) and c4 == NFC(c4) == NFC(c5). The file
 * comes from Debian's unicode-data (compressed, read through bzcat) or from
 * KZ_NFC_TEST_FILE; without it the test is skipped. The file's Unicode
 * version may be newer than libunistring's, so a line holding a code point
 * the library does not know (general category Cn for it) is skipped and
 * counted: normalisation of unassigned code points is defined as identity
 * and would fail for characters the library has not heard of. Ill-formed
 * UTF-8 and the ASCII fast path are tested as tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <unictype.h>

#include "pattern/pattern_int.h"
#include "util/buf.h"

#define NFC_TEST_BZ2 "/usr/share/unicode/NormalizationTest.txt.bz2"
#define NFC_TEST_TXT "/usr/share/unicode/NormalizationTest.txt"

static void put_utf8(char **o, uint32_t cp)
{
    unsigned char *p = (unsigned char *)*o;

    if (cp < 0x80) {
        *p++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *p++ = (unsigned char)(0xC0 | cp >> 6);
        *p++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *p++ = (unsigned char)(0xE0 | cp >> 12);
        *p++ = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        *p++ = (unsigned char)(0x80 | (cp & 0x3F));
    } else {
        *p++ = (unsigned char)(0xF0 | cp >> 18);
        *p++ = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
        *p++ = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        *p++ = (unsigned char)(0x80 | (cp & 0x3F));
    }
    *o = (char *)p;
}

/* Parses one field ("0044 0307") into UTF-8 at out; *known is cleared when
 * a code point is unassigned for libunistring. Returns the field's end. */
static const char *field(const char *s, char *out, size_t *len, int *known)
{
    char *o = out;

    while (*s && *s != ';') {
        char *end;
        unsigned long cp;
        if (*s == ' ') {
            s++;
            continue;
        }
        cp = strtoul(s, &end, 16);
        assert_true(end > s && cp <= 0x10FFFF);
        if (uc_is_general_category((ucs4_t)cp, UC_CATEGORY_Cn))
            *known = 0;
        put_utf8(&o, (uint32_t)cp);
        s = end;
    }
    *len = (size_t)(o - out);
    return *s == ';' ? s + 1 : s;
}

static void expect_nfc(const char *in, size_t n, const char *want, size_t wn, const char *line)
{
    struct kz_buf b;

    kz_buf_init(&b, 4096);
    assert_int_equal(kzp_nfc(in, n, &b), 0);
    if (b.len != wn || memcmp(b.data, want, wn) != 0)
        fail_msg("NFC mismatch on line: %s", line);
    kz_buf_free(&b);
}

static void test_conformance(void **state)
{
    const char *path = getenv("KZ_NFC_TEST_FILE");
    char line[2048], c[5][512];
    size_t cl[5];
    unsigned long checked = 0, skipped = 0;
    FILE *f = NULL;
    int piped = 0;

    (void)state;
    if (path) {
        f = fopen(path, "r");
    } else if (access(NFC_TEST_TXT, R_OK) == 0) {
        f = fopen(NFC_TEST_TXT, "r");
    } else if (access(NFC_TEST_BZ2, R_OK) == 0 && access("/usr/bin/bzcat", X_OK) == 0) {
        f = popen("/usr/bin/bzcat " NFC_TEST_BZ2, "r");
        piped = 1;
    }
    if (!f) {
        print_message("no NormalizationTest.txt (apt-get install unicode-data): skipped\n");
        skip();
    }
    while (fgets(line, sizeof(line), f)) {
        const char *s = line;
        int known = 1;
        if (line[0] == '#' || line[0] == '@' || line[0] == '\n')
            continue;
        for (int i = 0; i < 5; i++)
            s = field(s, c[i], &cl[i], &known);
        if (!known) {
            skipped++;
            continue;
        }
        for (int i = 0; i < 3; i++)
            expect_nfc(c[i], cl[i], c[1], cl[1], line);
        for (int i = 3; i < 5; i++)
            expect_nfc(c[i], cl[i], c[3], cl[3], line);
        checked++;
    }
    if (piped)
        assert_int_equal(pclose(f), 0);
    else
        fclose(f);
    print_message("NormalizationTest: %lu lines checked, %lu with code points libunistring "
                  "does not know skipped\n",
                  checked, skipped);
    assert_true(checked > 18000); /* the 15.0 file has 19,074 lines */
}

static void test_tables(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
            {"plain ascii", "plain ascii"},
            {"", ""},
            {"e\xcc\x81", "\xc3\xa9"},                                /* e + acute */
            {"\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab", "\xed\x95\x9c"}, /* jamo to 한 */
            {"\xe3\x81\x8b\xe3\x82\x99", "\xe3\x81\x8c"},             /* か + dakuten */
            /* ill-formed bytes go through and block composition across them */
            {"e\xff\xcc\x81", "e\xff\xcc\x81"},
            {"\xcc\x81\xe0\x80", "\xcc\x81\xe0\x80"}, /* truncated at the end */
            {"a\xcc\x81\xed\xa0\x80o\xcc\x88", "\xc3\xa1\xed\xa0\x80\xc3\xb6"}, /* surrogate */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_nfc(cases[i].in, strlen(cases[i].in), cases[i].want, strlen(cases[i].want),
                   cases[i].in);
    assert_true(kzp_nfc_quick("caf\xc3\xa9", 5));
    assert_false(kzp_nfc_quick("cafe\xcc\x81", 6));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_tables),
            cmocka_unit_test(test_conformance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
