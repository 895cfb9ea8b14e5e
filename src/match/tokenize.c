/*
 * The text tokenizer: the scanner's hot loop. It walks a field once with a
 * byte-class table, cutting it into "atoms" (runs of [A-Za-z0-9._:@+-] and
 * UTF-8 bytes), and classifies each atom from the OR of its byte classes:
 * most atoms (words, numbers) are rejected from those bits alone, without
 * looking at their bytes again. No regex, no allocation.
 *
 *   digits and dots           -> IPv4 (strict dotted quad)
 *   hex digits, colons, dots  -> IPv6
 *   letters and dots          -> domain (at least two labels, last not numeric)
 *   32/40/64/128 hex digits   -> MD5/SHA-1/SHA-256/SHA-512
 *   local@domain              -> e-mail
 *   scheme "://" ...          -> URL, up to the first byte no URL may hold;
 *                                scanning then resumes after its authority,
 *                                so values in its path and query are found
 * Atoms holding ':' or '+' that are no address are split at those bytes
 * ("1.2.3.4:80", "ip:10.0.0.1"); atoms are bounded by their classes, so
 * "1.2.3.45" never yields 1.2.3.4 and "notevil.com" never yields evil.com.
 */
#include "match/match.h"

#include <string.h>

#include "match/match_int.h"

enum {
    T_DIG = 0x001,
    T_HEX = 0x002,   /* a-f A-F */
    T_ALPHA = 0x004, /* g-z G-Z */
    T_DOT = 0x008,
    T_DASH = 0x010, /* '-' '_' */
    T_COLON = 0x020,
    T_AT = 0x040,
    T_PLUS = 0x080,
    T_U8 = 0x100, /* bytes of UTF-8 sequences */
    T_ATOM = 0x1ff,
    T_URL = 0x200, /* may appear in a URL */
    T_PCT = 0x400, /* '%': the field may hold percent-encoded values */
};

/* cls[c]: the T_* classes of byte c (generated; the rules are above: T_URL
 * is every printable ASCII byte except "<>\\^`{|}' and the quote). */
static const uint16_t cls[256] = {
        0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
        0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000,
        0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x000, 0x200, 0x000, 0x200, 0x200, 0x600, 0x200,
        0x000, 0x200, 0x200, 0x200, 0x280, 0x200, 0x210, 0x208, 0x200, 0x201, 0x201, 0x201, 0x201,
        0x201, 0x201, 0x201, 0x201, 0x201, 0x201, 0x220, 0x200, 0x000, 0x200, 0x000, 0x200, 0x240,
        0x202, 0x202, 0x202, 0x202, 0x202, 0x202, 0x204, 0x204, 0x204, 0x204, 0x204, 0x204, 0x204,
        0x204, 0x204, 0x204, 0x204, 0x204, 0x204, 0x204, 0x204, 0x204, 0x204, 0x204, 0x204, 0x204,
        0x200, 0x000, 0x200, 0x000, 0x210, 0x000, 0x202, 0x202, 0x202, 0x202, 0x202, 0x202, 0x204,
        0x204, 0x204, 0x204, 0x204, 0x204, 0x204, 0x204, 0x204, 0x204, 0x204, 0x204, 0x204, 0x204,
        0x204, 0x204, 0x204, 0x204, 0x204, 0x204, 0x000, 0x000, 0x000, 0x200, 0x000, 0x100, 0x100,
        0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
        0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
        0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
        0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
        0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
        0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
        0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
        0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
        0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
        0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100, 0x100,
};

struct tk {
    const char *s;
    match_token_fn fn;
    void *ctx;
};

static void emit4(struct tk *t, size_t off, size_t len, enum match_kind kind, uint32_t v4)
{
    struct match_token tok = {(uint32_t)off, (uint32_t)len, kind, v4};

    t->fn(t->ctx, &tok);
}

static void emit(struct tk *t, size_t off, size_t len, enum match_kind kind)
{
    emit4(t, off, len, kind, 0);
}

static unsigned bits_of(const char *s, size_t a, size_t b)
{
    unsigned bits = 0;

    for (size_t i = a; i < b; i++)
        bits |= cls[(unsigned char)s[i]];
    return bits & T_ATOM;
}

/* A domain-shaped span: labels of 1..63, >= 2 labels, <= 253, the last
 * label starting with a letter (TLDs do; "1.2.3.4x" is no name).
 * Characters are atom characters already. */
static int dom_ok(const char *s, size_t a, size_t b)
{
    size_t labels = 0, ls = a, last = a;

    if (b - a > MATCH_MAX_DOMAIN || b == a)
        return 0;
    for (size_t i = a; i <= b; i++) {
        unsigned char c = i < b ? (unsigned char)s[i] : '.';
        if (c == '.') {
            if (i == ls || i - ls > MATCH_MAX_LABEL)
                return 0;
            labels++;
            last = ls;
            ls = i + 1;
        } else if (cls[c] & (T_COLON | T_AT | T_PLUS)) {
            return 0;
        }
    }
    return labels >= 2 && (cls[(unsigned char)s[last]] & (T_HEX | T_ALPHA | T_U8));
}

static void classify(struct tk *t, size_t a, size_t b, int depth);

/* Classifies the parts of [a, b) between bytes equal to sep. */
static void split_at(struct tk *t, size_t a, size_t b, char sep, int depth)
{
    size_t st = a;

    for (size_t i = a; i <= b; i++) {
        if (i == b || t->s[i] == sep) {
            if (i > st)
                classify(t, st, i, depth + 1);
            st = i + 1;
        }
    }
}

static void classify_email(struct tk *t, size_t a, size_t b, size_t at, int depth)
{
    const char *s = t->s;
    size_t ls = at, de = at + 1;

    while (ls > a && (cls[(unsigned char)s[ls - 1]] &
                      (T_DIG | T_HEX | T_ALPHA | T_DOT | T_DASH | T_PLUS | T_U8)))
        ls--;
    while (ls < at && s[ls] == '.')
        ls++;
    while (de < b && s[de] != ':' && s[de] != '@' && s[de] != '+')
        de++;
    {
        size_t dend = de;
        while (dend > at + 1 && (s[dend - 1] == '.' || s[dend - 1] == '-'))
            dend--;
        if (ls < at && at - ls <= MATCH_MAX_EMAIL_LOCAL && s[at - 1] != '.' &&
            !kz_memmem(s + ls, at - ls, "..", 2) && dom_ok(s, at + 1, dend)) {
            emit(t, ls, dend - ls, MATCH_EMAIL);
            if (ls > a)
                classify(t, a, ls, depth + 1);
            if (de < b)
                classify(t, de, b, depth + 1);
            return;
        }
    }
    split_at(t, a, b, '@', depth);
}

static void classify(struct tk *t, size_t a, size_t b, int depth)
{
    const char *s = t->s;
    unsigned bits;
    size_t n;

    if (depth > 8)
        return;
    while (a < b && (s[a] == '.' || s[a] == '-'))
        a++;
    while (b > a && (s[b - 1] == '.' || s[b - 1] == '-'))
        b--;
    if (a >= b)
        return;
    n = b - a;
    bits = bits_of(s, a, b);
    if (bits & T_AT) {
        const char *at = memchr(s + a, '@', n);
        classify_email(t, a, b, (size_t)(at - s), depth);
        return;
    }
    if (bits & T_COLON) {
        uint8_t a6[16];
        if (!(bits & ~(T_DIG | T_HEX | T_COLON | T_DOT)) && n <= 45 &&
            match_ipv6_parse(s + a, n, a6) == 0) {
            emit(t, a, n, MATCH_IPV6);
            return;
        }
        split_at(t, a, b, ':', depth);
        return;
    }
    if (bits & T_PLUS) {
        split_at(t, a, b, '+', depth);
        return;
    }
    if (!(bits & ~(T_DIG | T_HEX))) {
        if (n == 32)
            emit(t, a, n, MATCH_MD5);
        else if (n == 40)
            emit(t, a, n, MATCH_SHA1);
        else if (n == 64)
            emit(t, a, n, MATCH_SHA256);
        else if (n == 128)
            emit(t, a, n, MATCH_SHA512);
        return;
    }
    if (!(bits & T_DOT))
        return;
    if (!(bits & ~(T_DIG | T_DOT))) {
        uint32_t v4;
        if (match_ipv4_parse(s + a, n, &v4) == 0)
            emit4(t, a, n, MATCH_IPV4, v4);
        return;
    }
    if (dom_ok(s, a, b))
        emit(t, a, n, MATCH_DOMAIN);
}

/* The end of a URL whose "//" starts at p: the first byte no URL holds,
 * minus trailing punctuation and unbalanced closing brackets. */
static size_t url_end(const char *s, size_t p, size_t n)
{
    size_t e = p, paren = 0, brack = 0;

    while (e < n && (cls[(unsigned char)s[e]] & T_URL)) {
        if (s[e] == '(')
            paren++;
        else if (s[e] == '[')
            brack++;
        e++;
    }
    while (e > p) {
        char c = s[e - 1];
        if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' ||
            (c == ')' && paren == 0) || (c == ']' && brack == 0))
            e--;
        else
            break;
    }
    return e;
}

int mx_tokenize(const char *s, size_t n, match_token_fn fn, void *ctx)
{
    struct tk t = {s, fn, ctx};
    size_t i = 0;
    unsigned seps = 0;

    while (i < n) {
        size_t a, b;
        unsigned bits = 0;

        while (i < n && !(cls[(unsigned char)s[i]] & T_ATOM))
            seps |= cls[(unsigned char)s[i++]];
        if (i >= n)
            break;
        a = i;
        while (i < n) {
            unsigned c = cls[(unsigned char)s[i]];
            if (!(c & T_ATOM))
                break;
            bits |= c;
            i++;
        }
        b = i;
        bits &= T_ATOM;
        if (!(bits & (T_DOT | T_COLON | T_AT))) {
            /* A word or number: only a digest is possible. */
            size_t len = b - a;
            if ((len == 32 || len == 40 || len == 64 || len == 128) && !(bits & ~(T_DIG | T_HEX)))
                classify(&t, a, b, 0);
            continue;
        }
        if (s[b - 1] == ':' && b + 1 < n && s[b] == '/' && s[b + 1] == '/') {
            /* scheme "://": the scheme is the atom's tail of [A-Za-z0-9+-]
             * starting with a letter. */
            size_t sc = b - 1, e, auth;
            while (sc > a && (cls[(unsigned char)s[sc - 1]] & (T_DIG | T_HEX | T_ALPHA | T_PLUS)))
                sc--;
            while (sc < b - 1 && !(cls[(unsigned char)s[sc]] & (T_HEX | T_ALPHA)))
                sc++;
            if (sc < b - 1) {
                e = url_end(s, b + 2, n);
                if (sc > a)
                    classify(&t, a, sc, 0);
                if (e > b + 2) {
                    emit(&t, sc, e - sc, MATCH_URL);
                    for (auth = b + 2;
                         auth < e && s[auth] != '/' && s[auth] != '?' && s[auth] != '#'; auth++)
                        ;
                    i = auth;
                    continue;
                }
                i = b + 2;
                continue;
            }
        }
        classify(&t, a, b, 0);
    }
    return (seps & T_PCT) != 0;
}

void match_tokenize(const char *s, size_t n, match_token_fn fn, void *ctx)
{
    mx_tokenize(s, n, fn, ctx);
}
