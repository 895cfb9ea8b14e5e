/*
 * Character-level helpers for the modules that read text from outside
 * (match/, export/): hex digits and UTF-8 decoding. Pure functions, no
 * allocation, no error text: callers decide what a failure means.
 */
#ifndef KZ_TEXT_H
#define KZ_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Whether c is a hex digit, either case. */
static inline int kz_is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* The value of the hex digit c; c must pass kz_is_hex. */
static inline unsigned kz_hexval(unsigned char c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* memmem without _GNU_SOURCE: where needle[0..m) first occurs in hay[0..n),
 * or NULL. */
static inline const char *kz_memmem(const char *hay, size_t n, const char *needle, size_t m)
{
    if (m == 0)
        return hay;
    while (n >= m) {
        const char *p = memchr(hay, needle[0], n - m + 1);
        if (!p)
            return NULL;
        if (memcmp(p, needle, m) == 0)
            return p;
        n -= (size_t)(p - hay) + 1;
        hay = p + 1;
    }
    return NULL;
}

/* Decodes the UTF-8 character at s[0..n): returns its length (1 to 4) and
 * sets *cp, or returns 0 (and leaves *cp alone) when n is 0 or the bytes are
 * not the shortest encoding of a Unicode scalar value (overlong forms,
 * surrogates, code points past U+10FFFF, truncated sequences). */
size_t kz_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

#endif
