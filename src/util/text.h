/*
 * Character-level helpers for the modules that read text from outside
 * (match/, export/): hex digits and UTF-8 decoding. Pure functions, no
 * allocation, no error text: callers decide what a failure means.
 */
#ifndef KZ_TEXT_H
#define KZ_TEXT_H

#include <stddef.h>
#include <stdint.h>

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

/* Decodes the UTF-8 character at s[0..n): returns its length (1 to 4) and
 * sets *cp, or returns 0 (and leaves *cp alone) when n is 0 or the bytes are
 * not the shortest encoding of a Unicode scalar value (overlong forms,
 * surrogates, code points past U+10FFFF, truncated sequences). */
size_t kz_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

#endif
