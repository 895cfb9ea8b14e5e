/*
 * Escaping for each file format: what a name from a partner's indicator
 * may hold (tabs, quotes, newlines, any Unicode) must reach a sensor as
 * text of one field, never as structure. Values are validated before they
 * get here (value.c); names go through ex_add_clean first.
 */
#include "export/export_int.h"

#include <string.h>

#include "util/text.h"

/* The length of the UTF-8 character at s[0..n) (1 for an invalid byte,
 * which *valid reports) and its code point. */
static size_t next_char(const unsigned char *s, size_t n, uint32_t *cp, int *valid)
{
    size_t len = kz_utf8_decode(s, n, cp);

    *valid = len != 0;
    return len ? len : 1;
}

static int is_control(uint32_t c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x2028 || c == 0x2029;
}

/* Appends the clean form of s[0..n), at most limit bytes of it; returns
 * the bytes the whole clean form takes (to decide on truncation). */
static size_t clean_into(struct kz_buf *b, const char *s, size_t n, size_t limit)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, out = 0;

    while (i < n) {
        uint32_t c;
        int valid;
        size_t l = next_char(u + i, n - i, &c, &valid);
        size_t w = !valid || is_control(c) ? 1 : l;
        if (b && out + w <= limit) {
            if (!valid)
                kz_buf_addc(b, '?');
            else if (is_control(c))
                kz_buf_addc(b, ' ');
            else
                kz_buf_add(b, s + i, l);
        }
        out += w;
        if (b && out > limit)
            break;
        i += l;
    }
    return out;
}

int ex_add_clean(struct kz_buf *b, const char *s, size_t n, size_t max)
{
    if (max < 4)
        return -1;
    if (clean_into(NULL, s, n, 0) <= max) {
        clean_into(b, s, n, max);
    } else {
        clean_into(b, s, n, max - 3);
        kz_buf_addstr(b, "...");
    }
    return b->failed ? -1 : 0;
}

int ex_add_zeek_field(struct kz_buf *b, const char *s, size_t n, int first)
{
    size_t i = 0;

    if (n == 0)
        return kz_buf_addstr(b, "(empty)");
    /* "-" is the unset field and "(empty)" the empty one: escaping their
     * first byte keeps them literal text */
    if ((n == 1 && s[0] == '-') || (n == 7 && memcmp(s, "(empty)", 7) == 0) ||
        (first && s[0] == '#')) {
        kz_buf_printf(b, "\\x%02x", (unsigned char)s[0]);
        i = 1;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\')
            kz_buf_addstr(b, "\\x5c");
        else if (c < 0x20 || c == 0x7f)
            kz_buf_addc(b, ' '); /* never reached with clean input */
        else
            kz_buf_addc(b, (char)c);
    }
    return b->failed ? -1 : 0;
}

int ex_add_rule_msg(struct kz_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ';' || s[i] == '\\' || s[i] == '"')
            kz_buf_addc(b, '\\');
        kz_buf_addc(b, (char)((unsigned char)s[i] < 0x20 ? ' ' : s[i]));
    }
    return b->failed ? -1 : 0;
}

int ex_add_rule_content(struct kz_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    int inhex = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int plain = c >= 0x20 && c < 0x7f && c != '"' && c != ';' && c != '\\' && c != '|';
        if (plain) {
            if (inhex)
                kz_buf_addc(b, '|');
            inhex = 0;
            kz_buf_addc(b, (char)c);
            continue;
        }
        kz_buf_addc(b, inhex ? ' ' : '|');
        inhex = 1;
        kz_buf_addc(b, hex[c >> 4]);
        kz_buf_addc(b, hex[c & 15]);
    }
    if (inhex)
        kz_buf_addc(b, '|');
    return b->failed ? -1 : 0;
}

int ex_add_csv_field(struct kz_buf *b, const char *s, size_t n)
{
    int quote = 0;

    /* RFC 4180's TEXTDATA is printable text without ',' and '"'; anything
     * else (line breaks, tabs, other controls) is written quoted */
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f;
    if (n && (s[0] == ' ' || s[n - 1] == ' '))
        quote = 1;
    if (!quote)
        return kz_buf_add(b, s, n);
    kz_buf_addc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            kz_buf_addc(b, '"');
        kz_buf_addc(b, s[i]);
    }
    kz_buf_addc(b, '"');
    return b->failed ? -1 : 0;
}

int ex_add_base64(struct kz_buf *b, const unsigned char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;

    for (i = 0; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], tab[v & 63]};
        kz_buf_add(b, q, 4);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], '=', '='};
        kz_buf_add(b, q, 4);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], '='};
        kz_buf_add(b, q, 4);
    }
    return b->failed ? -1 : 0;
}

const char *ex_tlp_word(enum stix_tlp t)
{
    switch (t) {
    case STIX_TLP_CLEAR: return "clear";
    case STIX_TLP_GREEN: return "green";
    case STIX_TLP_AMBER: return "amber";
    case STIX_TLP_AMBER_STRICT: return "amber+strict";
    case STIX_TLP_RED: return "red";
    case STIX_TLP_NONE: break;
    }
    return "amber";
}
