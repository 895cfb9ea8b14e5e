/*
 * The STIX 2.1 pattern lexer and recursive-descent parser, with the semantic
 * checks folded into tree construction so that one pass over the text both
 * validates and builds. The grammar is the OASIS STIXPattern.g4 of STIX 2.1
 * (token rules included: keywords in capitals, literal forms, Unicode
 * whitespace, comments); where the ANTLR lexer would fall back from a
 * malformed literal to other tokens that no rule accepts, we report the
 * malformed literal directly, which accepts exactly the same language with
 * a clearer message. Operators of one precedence level are collected into
 * n-ary nodes (evaluation order and results are those of the left-assoc
 * binary grammar), so long OR chains cost no recursion.
 */
#include "pattern/pattern_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/limits.h"
#include "util/text.h"

/* --- arena -------------------------------------------------------------- */

#define ALIGN_UP(x) (((x) + 15) & ~(size_t)15)

void kzp_arena_init(struct kzp_arena *a, void *buf, size_t cap)
{
    a->cur = buf;
    a->used = 0;
    a->cap = buf ? cap : 0;
    a->blocks = NULL;
    a->total = 0;
}

void *kzp_arena_alloc(struct kzp_arena *a, size_t n)
{
    void *p;

    n = ALIGN_UP(n ? n : 1);
    if (a->used + n > a->cap) {
        size_t cap = n > KZP_ARENA_BLOCK ? n : KZP_ARENA_BLOCK;
        struct kzp_block *b = malloc(ALIGN_UP(sizeof(*b)) + cap);

        if (!b)
            return NULL;
        b->next = a->blocks;
        b->cap = cap;
        b->used = 0;
        a->blocks = b;
        a->cur = (char *)b + ALIGN_UP(sizeof(*b));
        a->cap = cap;
        a->used = 0;
    }
    p = a->cur + a->used;
    a->used += n;
    a->total += n;
    memset(p, 0, n);
    return p;
}

void kzp_arena_free(struct kzp_arena *a)
{
    struct kzp_block *b = a->blocks;

    while (b) {
        struct kzp_block *next = b->next;

        free(b);
        b = next;
    }
    a->blocks = NULL;
    a->cur = NULL;
    a->used = a->cap = 0;
}

/* --- codecs --------------------------------------------------------------- */

/* The value of hex digit c, or -1. */
static int hexval(int c)
{
    return kz_is_hex((unsigned char)c) ? (int)kz_hexval((unsigned char)c) : -1;
}

int kzp_hex_decode(const char *s, size_t n, uint8_t *out, size_t *outn)
{
    if (n % 2)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *outn = n / 2;
    return 0;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int kzp_b64_decode(const char *s, size_t n, uint8_t *out, size_t *outn)
{
    size_t o = 0;

    if (n % 4)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;

        for (int k = 0; k < 4; k++) {
            int c = (unsigned char)s[i + k];

            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad)
                return -1; /* data after padding */
            v[k] = b64val(c);
            if (v[k] < 0)
                return -1;
        }
        out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
        if (pad < 2)
            out[o++] = (uint8_t)((v[1] & 15) << 4 | v[2] >> 2);
        if (pad < 1)
            out[o++] = (uint8_t)((v[2] & 3) << 6 | v[3]);
    }
    *outn = o;
    return 0;
}

int kzp_utf8_to_latin1(const char *s, size_t n, uint8_t *out, size_t *outn)
{
    size_t o = 0;

    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x80) {
            out[o++] = c;
            i++;
        } else if ((c == 0xC2 || c == 0xC3) && i + 1 < n &&
                   ((unsigned char)s[i + 1] & 0xC0) == 0x80) {
            out[o++] = (uint8_t)((c & 3) << 6 | ((unsigned char)s[i + 1] & 0x3F));
            i += 2;
        } else {
            return -1;
        }
    }
    *outn = o;
    return 0;
}

/* --- tokens ---------------------------------------------------------------- */

enum tok {
    T_EOF,
    T_INTPOS,
    T_INTNEG,
    T_FLOATPOS,
    T_FLOATNEG,
    T_STRING,
    T_BOOL,
    T_BINARY,
    T_HEX,
    T_TIMESTAMP,
    T_AND,
    T_OR,
    T_NOT,
    T_FOLLOWEDBY,
    T_LIKE,
    T_MATCHES,
    T_ISSUPERSET,
    T_ISSUBSET,
    T_EXISTS,
    T_LAST,
    T_IN,
    T_START,
    T_STOP,
    T_SECONDS,
    T_WITHIN,
    T_REPEATS,
    T_TIMES,
    T_IDENT,   /* IdentifierWithoutHyphen */
    T_IDENT_H, /* IdentifierWithHyphen */
    T_EQ,
    T_NEQ,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_COLON,
    T_DOT,
    T_COMMA,
    T_RPAREN,
    T_LPAREN,
    T_RBRACK,
    T_LBRACK,
    T_ASTERISK,
    T_OTHER, /* + - ^ / and a stray apostrophe: in the grammar, in no rule */
};

struct parser {
    struct kzp_pattern *p;
    const char *s;
    size_t n;
    size_t pos;  /* lexer position: just past the current token */
    int tok;     /* current token */
    size_t toff; /* its offset */
    size_t tlen; /* its length */
    int esc;     /* T_STRING: contains escapes */
    int depth;
    unsigned nobs;
    struct kz_error *err;
};

/* Sets err to "pattern:LINE:COL: message" for source offset off; columns
 * count code points from 1, as editors do. Returns -1. */
static int perr(struct parser *P, size_t off, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int perr(struct parser *P, size_t off, const char *fmt, ...)
{
    char msg[400];
    unsigned line = 1, col = 1;
    va_list ap;

    for (size_t i = 0; i < off && i < P->n; i++) {
        unsigned char c = (unsigned char)P->s[i];

        if (c == '\n') {
            line++;
            col = 1;
        } else if ((c & 0xC0) != 0x80) {
            col++;
        }
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return kz_error_set(P->err, KZ_EINVALID, "pattern:%u:%u: %s", line, col, msg);
}

/* Quotes s[0..n) for a message: at most 40 bytes cut at a character
 * boundary, control characters shown as '?', "..." when cut. */
static const char *quote(const char *s, size_t n, char *buf, size_t size)
{
    size_t o = 0, i = 0, max = size < 56 ? size - 8 : 40;

    buf[o++] = '\'';
    while (i < n) {
        size_t len = 1;
        unsigned char c = (unsigned char)s[i];

        if (c >= 0xF0)
            len = 4;
        else if (c >= 0xE0)
            len = 3;
        else if (c >= 0xC0)
            len = 2;
        if (i + len > n || o - 1 + len > max)
            break;
        if (len == 1)
            buf[o++] = (char)(c < 0x20 || c == 0x7F ? '?' : c);
        else
            for (size_t k = 0; k < len; k++)
                buf[o++] = s[i + k];
        i += len;
    }
    if (i < n) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '\'';
    buf[o] = '\0';
    return buf;
}

/* The current token for messages: 'text' or "end of pattern". */
static const char *found(struct parser *P, char *buf, size_t size)
{
    if (P->tok == T_EOF)
        return "end of pattern";
    return quote(P->s + P->toff, P->tlen, buf, size);
}

/* Length of the Unicode whitespace (WSpace=Y as the grammar lists it) at
 * s[i], 0 when none. */
static size_t ws_len(const char *s, size_t n, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    unsigned char c1, c2;

    if (c == ' ' || (c >= 0x09 && c <= 0x0D))
        return 1;
    if (c < 0xC2 || i + 1 >= n)
        return 0;
    c1 = (unsigned char)s[i + 1];
    if (c == 0xC2)
        return c1 == 0x85 || c1 == 0xA0 ? 2 : 0;
    if (i + 2 >= n)
        return 0;
    c2 = (unsigned char)s[i + 2];
    if (c == 0xE1)
        return c1 == 0x9A && c2 == 0x80 ? 3 : 0;
    if (c == 0xE2 && c1 == 0x80)
        return (c2 >= 0x80 && c2 <= 0x8A) || c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAF ? 3 : 0;
    if (c == 0xE2 && c1 == 0x81)
        return c2 == 0x9F ? 3 : 0;
    if (c == 0xE3)
        return c1 == 0x80 && c2 == 0x80 ? 3 : 0;
    return 0;
}

/* Validates UTF-8 (util/text.h's rules: no overlongs, no surrogates,
 * nothing past U+10FFFF) and refuses NUL. Returns the offset of the first
 * bad byte, or n. */
static size_t utf8_check(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint32_t cp;
        size_t len = kz_utf8_decode((const unsigned char *)s + i, n - i, &cp);

        if (len == 0 || cp == 0)
            return i;
        i += len;
    }
    return n;
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident_char(int c)
{
    return is_ident_start(c) || is_digit(c);
}

/* The token of identifier s[0..n): a keyword (they are case-sensitive,
 * capitals but for true/false) or T_IDENT. Most identifiers are lowercase
 * type and property names and leave at the first test. */
static int keyword(const char *s, size_t n)
{
#define KW(w, t)                                                                                   \
    {                                                                                              \
        w, sizeof(w) - 1, t                                                                        \
    }
    static const struct {
        const char *w;
        size_t n;
        int tok;
    } kw[] = {
            KW("AND", T_AND),
            KW("OR", T_OR),
            KW("NOT", T_NOT),
            KW("FOLLOWEDBY", T_FOLLOWEDBY),
            KW("LIKE", T_LIKE),
            KW("MATCHES", T_MATCHES),
            KW("ISSUPERSET", T_ISSUPERSET),
            KW("ISSUBSET", T_ISSUBSET),
            KW("EXISTS", T_EXISTS),
            KW("LAST", T_LAST),
            KW("IN", T_IN),
            KW("START", T_START),
            KW("STOP", T_STOP),
            KW("SECONDS", T_SECONDS),
            KW("WITHIN", T_WITHIN),
            KW("REPEATS", T_REPEATS),
            KW("TIMES", T_TIMES),
            KW("true", T_BOOL),
            KW("false", T_BOOL),
    };
#undef KW

    if (n < 2 || n > 10 || !((s[0] >= 'A' && s[0] <= 'Z') || s[0] == 't' || s[0] == 'f'))
        return T_IDENT;
    for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
        if (kw[i].n == n && kw[i].w[0] == s[0] && memcmp(kw[i].w, s, n) == 0)
            return kw[i].tok;
    return T_IDENT;
}

/* Scans t'YYYY-MM-DDThh:mm:ss[.s+]Z' at i (which points at 't') with the
 * grammar's digit ranges; returns the length or 0. */
static size_t scan_timestamp(const char *s, size_t n, size_t i)
{
    static const char shape[] = "t'DDDD-DD-DDTDD:DD:DD";
    size_t k = 0, j;

    for (; shape[k]; k++) {
        if (i + k >= n)
            return 0;
        if (shape[k] == 'D' ? !is_digit((unsigned char)s[i + k]) : s[i + k] != shape[k])
            return 0;
    }
    {
        const char *d = s + i + 2;
        int mo = (d[5] - '0') * 10 + d[6] - '0', dd = (d[8] - '0') * 10 + d[9] - '0';
        int hh = (d[11] - '0') * 10 + d[12] - '0', mi = (d[14] - '0') * 10 + d[15] - '0';
        int ss = (d[17] - '0') * 10 + d[18] - '0';

        if (mo < 1 || mo > 12 || dd < 1 || dd > 31 || hh > 23 || mi > 59 || ss > 60)
            return 0;
    }
    j = i + k;
    if (j < n && s[j] == '.') {
        size_t f = ++j;

        while (j < n && is_digit((unsigned char)s[j]))
            j++;
        if (j == f)
            return 0;
    }
    if (j + 1 >= n || s[j] != 'Z' || s[j + 1] != '\'')
        return 0;
    return j + 2 - i;
}

static int set_tok(struct parser *P, int tok, size_t off, size_t len)
{
    P->tok = tok;
    P->toff = off;
    P->tlen = len;
    P->pos = off + len;
    return 0;
}

/* Reads the next token into P->tok; -1 with err on a lexical error. */
static int next(struct parser *P)
{
    const char *s = P->s;
    size_t n = P->n, i = P->pos;
    unsigned char c;

    for (;;) {
        size_t w;

        if (i >= n)
            return set_tok(P, T_EOF, n, 0);
        w = ws_len(s, n, i);
        if (w) {
            i += w;
            continue;
        }
        if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
            size_t j = i + 2;

            while (j + 1 < n && !(s[j] == '*' && s[j + 1] == '/'))
                j++;
            if (j + 1 >= n)
                return perr(P, i, "unterminated comment");
            i = j + 2;
            continue;
        }
        if (s[i] == '/' && i + 1 < n && s[i + 1] == '/') {
            while (i < n && s[i] != '\n' && s[i] != '\r')
                i++;
            continue;
        }
        break;
    }
    c = (unsigned char)s[i];
    P->esc = 0;
    switch (c) {
    case '[': return set_tok(P, T_LBRACK, i, 1);
    case ']': return set_tok(P, T_RBRACK, i, 1);
    case '(': return set_tok(P, T_LPAREN, i, 1);
    case ')': return set_tok(P, T_RPAREN, i, 1);
    case ':': return set_tok(P, T_COLON, i, 1);
    case ',': return set_tok(P, T_COMMA, i, 1);
    case '*': return set_tok(P, T_ASTERISK, i, 1);
    case '^': return set_tok(P, T_OTHER, i, 1);
    case '/': return set_tok(P, T_OTHER, i, 1);
    case '=': return set_tok(P, T_EQ, i, i + 1 < n && s[i + 1] == '=' ? 2 : 1);
    case '!':
        if (i + 1 < n && s[i + 1] == '=')
            return set_tok(P, T_NEQ, i, 2);
        return perr(P, i, "unexpected character '!'; did you mean '!='?");
    case '<':
        if (i + 1 < n && s[i + 1] == '=')
            return set_tok(P, T_LE, i, 2);
        if (i + 1 < n && s[i + 1] == '>')
            return set_tok(P, T_NEQ, i, 2);
        return set_tok(P, T_LT, i, 1);
    case '>':
        if (i + 1 < n && s[i + 1] == '=')
            return set_tok(P, T_GE, i, 2);
        return set_tok(P, T_GT, i, 1);
    case '\'': {
        size_t j = i + 1;

        while (j < n && s[j] != '\'') {
            if (s[j] == '\\') {
                if (j + 1 >= n)
                    break;
                if (s[j + 1] != '\'' && s[j + 1] != '\\') {
                    char q[64];

                    return perr(P, j,
                                "invalid escape %s in string literal; only \\' and \\\\ "
                                "are allowed",
                                quote(s + j, 2, q, sizeof(q)));
                }
                P->esc = 1;
                j++;
            }
            j++;
        }
        if (j >= n)
            return perr(P, i, "unterminated string literal");
        return set_tok(P, T_STRING, i, j + 1 - i);
    }
    default: break;
    }
    if (is_digit(c) || c == '+' || c == '-' || c == '.') {
        size_t j = i, d;
        int neg = c == '-';

        if (c == '+' || c == '-')
            j++;
        d = j;
        while (j < n && is_digit((unsigned char)s[j]))
            j++;
        if (j < n && s[j] == '.' && j + 1 < n && is_digit((unsigned char)s[j + 1])) {
            j++;
            while (j < n && is_digit((unsigned char)s[j]))
                j++;
            return set_tok(P, neg ? T_FLOATNEG : T_FLOATPOS, i, j - i);
        }
        if (j == d) {
            if (c == '.')
                return set_tok(P, T_DOT, i, 1);
            return set_tok(P, T_OTHER, i, 1); /* a lone + or - */
        }
        if (s[d] == '0')
            j = d + 1; /* IntLiteral: '0' | [1-9][0-9]* */
        return set_tok(P, neg ? T_INTNEG : T_INTPOS, i, j - i);
    }
    if (is_ident_start(c)) {
        size_t j = i + 1;
        int hy = 0;

        if (i + 1 < n && s[i + 1] == '\'' && (c == 't' || c == 'h' || c == 'b')) {
            if (c == 't') {
                size_t len = scan_timestamp(s, n, i);

                if (!len)
                    return perr(P, i,
                                "invalid timestamp literal; expected "
                                "t'YYYY-MM-DDThh:mm:ss[.fraction]Z'");
                return set_tok(P, T_TIMESTAMP, i, len);
            }
            j = i + 2;
            while (j < n && s[j] != '\'')
                j++;
            if (j >= n)
                return perr(P, i, "unterminated %s literal", c == 'h' ? "hex" : "binary");
            if (c == 'h') {
                size_t k;

                for (k = i + 2; k < j && hexval((unsigned char)s[k]) >= 0; k++)
                    ;
                if (k != j || (j - i - 2) % 2)
                    return perr(P, i,
                                "invalid hex literal; expected h'...' with an even number "
                                "of hex digits");
                return set_tok(P, T_HEX, i, j + 1 - i);
            }
            {
                size_t len = j - i - 2;
                const char *b = s + i + 2;
                int ok = len >= 4 && len % 4 == 0;

                for (size_t k = 0; ok && k < len; k++) {
                    int padok =
                            b[k] == '=' && (k == len - 1 || (k == len - 2 && b[len - 1] == '='));

                    if (b64val((unsigned char)b[k]) < 0 && !padok)
                        ok = 0;
                }
                if (!ok)
                    return perr(P, i,
                                "invalid binary literal; expected b'...' holding base64 "
                                "with padding");
                return set_tok(P, T_BINARY, i, j + 1 - i);
            }
        }
        while (j < n && (is_ident_char((unsigned char)s[j]) || s[j] == '-')) {
            if (s[j] == '-')
                hy = 1;
            j++;
        }
        if (hy)
            return set_tok(P, T_IDENT_H, i, j - i);
        return set_tok(P, keyword(s + i, j - i), i, j - i);
    }
    if (c == '"')
        return perr(P, i, "unexpected '\"'; quote property names with apostrophes");
    {
        char q[64];
        size_t len = 1;

        while (i + len < n && ((unsigned char)s[i + len] & 0xC0) == 0x80)
            len++;
        return perr(P, i, "unexpected character %s", quote(s + i, len, q, sizeof(q)));
    }
}

/* --- literals ---------------------------------------------------------------- */

/* Decodes the body of string token [off, off+len) (quotes included). */
static int decode_string(struct parser *P, size_t off, size_t len, int esc, const char **out,
                         size_t *outn)
{
    const char *b = P->s + off + 1;
    size_t n = len - 2;
    char *d;
    size_t o = 0;

    if (!esc) {
        *out = b;
        *outn = n;
        return 0;
    }
    d = kzp_arena_alloc(&P->p->arena, n + 1);
    if (!d)
        return kz_error_set(P->err, KZ_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (b[i] == '\\')
            i++;
        d[o++] = b[i];
    }
    d[o] = '\0';
    *out = d;
    *outn = o;
    return 0;
}

static int parse_int(struct parser *P, int64_t *v)
{
    const char *s = P->s + P->toff;
    size_t n = P->tlen, i = 0;
    int neg = 0;
    int64_t x = 0;
    char q[64];

    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    for (; i < n; i++) {
        x = x * 10 + (s[i] - '0');
        if (x > KZP_INT_MAX)
            return perr(P, P->toff,
                        "integer %s is outside the range STIX allows (-(2^53-1) to 2^53-1)",
                        quote(s, n, q, sizeof(q)));
    }
    *v = neg ? -x : x;
    return 0;
}

static int parse_float(struct parser *P, double *v)
{
    char buf[KZP_MAX_NUMBER_TEXT + 1];
    char q[64];
    char *end;

    if (P->tlen > KZP_MAX_NUMBER_TEXT)
        return perr(P, P->toff, "number %s is too long",
                    quote(P->s + P->toff, P->tlen, q, sizeof(q)));
    memcpy(buf, P->s + P->toff, P->tlen);
    buf[P->tlen] = '\0';
    *v = strtod(buf, &end);
    if (!isfinite(*v))
        return perr(P, P->toff, "number %s is out of range", quote(buf, P->tlen, q, sizeof(q)));
    return 0;
}

/* Converts the current token (a literal) into lit. */
static int make_lit(struct parser *P, struct kzp_lit *lit)
{
    const char *s = P->s + P->toff;
    char q[64];

    lit->off = (uint32_t)P->toff;
    lit->len = (uint32_t)P->tlen;
    switch (P->tok) {
    case T_INTPOS:
    case T_INTNEG:
        lit->type = KZP_L_INT;
        if (parse_int(P, &lit->i) < 0)
            return -1;
        lit->f = (double)lit->i;
        return 0;
    case T_FLOATPOS:
    case T_FLOATNEG: lit->type = KZP_L_FLOAT; return parse_float(P, &lit->f);
    case T_STRING:
        lit->type = KZP_L_STRING;
        return decode_string(P, P->toff, P->tlen, P->esc, &lit->s, &lit->n);
    case T_BOOL:
        lit->type = KZP_L_BOOL;
        lit->i = s[0] == 't';
        return 0;
    case T_HEX:
    case T_BINARY: {
        uint8_t *d = kzp_arena_alloc(&P->p->arena, P->tlen);
        int rc;

        if (!d)
            return kz_error_set(P->err, KZ_ENOMEM, "out of memory");
        lit->type = P->tok == T_HEX ? KZP_L_HEX : KZP_L_BINARY;
        rc = P->tok == T_HEX ? kzp_hex_decode(s + 2, P->tlen - 3, d, &lit->n)
                             : kzp_b64_decode(s + 2, P->tlen - 3, d, &lit->n);
        if (rc < 0) /* the lexer validated the shape; never happens */
            return perr(P, P->toff, "invalid literal %s", quote(s, P->tlen, q, sizeof(q)));
        lit->s = (const char *)d;
        return 0;
    }
    case T_TIMESTAMP: {
        const char *why;

        lit->type = KZP_L_TIMESTAMP;
        if (kz_ts_parse(s + 2, P->tlen - 3, &lit->ts, &why) < 0)
            return perr(P, P->toff, "timestamp %s %s", quote(s, P->tlen, q, sizeof(q)), why);
        return 0;
    }
    default: break;
    }
    return perr(P, P->toff, "internal: not a literal");
}

static int is_literal(int tok, int orderable)
{
    switch (tok) {
    case T_INTPOS:
    case T_INTNEG:
    case T_FLOATPOS:
    case T_FLOATNEG:
    case T_STRING:
    case T_BINARY:
    case T_HEX:
    case T_TIMESTAMP: return 1;
    case T_BOOL: return !orderable;
    default: return 0;
    }
}

/* --- semantic checks -------------------------------------------------------- */

/* The object type rule of the STIX validator: -?[a-z0-9]+(-[a-z0-9]+)*-? and
 * 3 to 250 characters. */
static int valid_type(const char *s, size_t n)
{
    size_t i = 0;

    if (n < KZ_MIN_STIX_TYPE || n > KZ_MAX_STIX_TYPE)
        return 0;
    if (s[0] == '-')
        i = 1;
    if (i >= n || s[i] == '-')
        return 0;
    for (; i < n; i++) {
        char c = s[i];

        if (c == '-') {
            if (i + 1 < n && s[i + 1] == '-')
                return 0;
        } else if (!((c >= 'a' && c <= 'z') || is_digit((unsigned char)c))) {
            return 0;
        }
    }
    return 1;
}

/* The property rule of the STIX validator for the first path component:
 * [a-z0-9_]{3,250}. */
static int valid_property(const char *s, size_t n)
{
    if (n < 3 || n > KZ_MAX_PROPERTY_NAME)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || is_digit((unsigned char)c) || c == '_'))
            return 0;
    }
    return 1;
}

/* Hash algorithms the OASIS validator checks values of: the key, upper-cased
 * with '-' removed, and the hex lengths allowed (0 ends the list; SSDEEP is
 * special-cased). */
static const struct hash_rule {
    const char *key;
    const char *name;
    unsigned len[7];
} hash_rules[] = {
        {"MD5", "MD5", {32}},
        {"MD6", "MD6", {32, 40, 56, 64, 96, 128}},
        {"RIPEMD160", "RIPEMD-160", {40}},
        {"SHA1", "SHA-1", {40}},
        {"SHA224", "SHA-224", {56}},
        {"SHA256", "SHA-256", {64}},
        {"SHA384", "SHA-384", {96}},
        {"SHA512", "SHA-512", {128}},
        {"SHA3224", "SHA3-224", {56}},
        {"SHA3256", "SHA3-256", {64}},
        {"SHA3384", "SHA3-384", {96}},
        {"SHA3512", "SHA3-512", {128}},
        {"SSDEEP", "SSDEEP", {0}},
        {"WHIRLPOOL", "WHIRLPOOL", {128}},
};

static const struct hash_rule *hash_rule_of(const char *k, size_t n)
{
    char up[16];
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = k[i];

        if (c == '-')
            continue;
        if (o + 1 >= sizeof(up))
            return NULL;
        up[o++] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    for (size_t i = 0; i < sizeof(hash_rules) / sizeof(hash_rules[0]); i++)
        if (strlen(hash_rules[i].key) == o && memcmp(hash_rules[i].key, up, o) == 0)
            return &hash_rules[i];
    return NULL;
}

static int hash_ok(const struct hash_rule *r, const char *s, size_t n)
{
    if (strcmp(r->key, "SSDEEP") == 0) {
        if (n < 1 || n > 128)
            return 0;
        for (size_t i = 0; i < n; i++) {
            char c = s[i];

            if (!(is_ident_char((unsigned char)c) || c == '/' || c == '+' || c == ':' ||
                  c == '.') ||
                c == '_')
                return 0;
        }
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        if (hexval((unsigned char)s[i]) < 0)
            return 0;
    for (int k = 0; k < 7 && r->len[k]; k++)
        if (r->len[k] == n)
            return 1;
    return 0;
}

static int check_hashes(struct parser *P, struct kzp_test *t)
{
    const struct kzp_step *algo, *parent;
    const struct hash_rule *r;
    char q[64];

    if (t->nsteps < 2 || (t->op != KZP_OP_EQ && t->op != KZP_OP_NEQ && t->op != KZP_OP_IN))
        return 0;
    algo = &t->steps[t->nsteps - 1];
    parent = &t->steps[t->nsteps - 2];
    if (algo->kind != KZP_S_KEY || parent->kind != KZP_S_KEY || parent->keylen != 6 ||
        memcmp(parent->key, "hashes", 6) != 0)
        return 0;
    r = hash_rule_of(algo->key, algo->keylen);
    if (!r)
        return 0;
    for (uint32_t i = 0; i < t->nlits; i++) {
        const struct kzp_lit *l = &t->lits[i];

        if (l->type != KZP_L_STRING)
            return perr(P, l->off, "%s is not a valid %s hash (a string is needed)",
                        quote(P->s + l->off, l->len, q, sizeof(q)), r->name);
        if (!hash_ok(r, l->s, l->n))
            return perr(P, l->off, "%s is not a valid %s hash", quote(l->s, l->n, q, sizeof(q)),
                        r->name);
    }
    return 0;
}

/* NFC-normalises s[0..n) into the arena when it is not already NFC. */
static int nfc_arena(struct parser *P, const char *s, size_t n, const char **out, size_t *outn)
{
    struct kz_buf b;
    char *d;

    if (kzp_nfc_quick(s, n)) {
        *out = s;
        *outn = n;
        return 0;
    }
    kz_buf_init(&b, KZP_MAX_PATTERN_BYTES * 4);
    if (kzp_nfc(s, n, &b) < 0 || kz_buf_add(&b, "", 0) < 0) {
        kz_buf_free(&b);
        return kz_error_set(P->err, KZ_ENOMEM, "out of memory");
    }
    d = kzp_arena_alloc(&P->p->arena, b.len + 1);
    if (!d) {
        kz_buf_free(&b);
        return kz_error_set(P->err, KZ_ENOMEM, "out of memory");
    }
    if (b.len)
        memcpy(d, b.data, b.len);
    *out = d;
    *outn = b.len;
    kz_buf_free(&b);
    return 0;
}

static int compile_regex(struct parser *P, struct kzp_test *t)
{
    const struct kzp_lit *l = &t->lits[0];
    const char *re;
    size_t ren;
    int ec;
    PCRE2_SIZE eoff;

    if (nfc_arena(P, l->s, l->n, &re, &ren) < 0)
        return -1;
    t->re = pcre2_compile((PCRE2_SPTR)re, ren,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_DOTALL | PCRE2_NO_UTF_CHECK, &ec, &eoff,
                          NULL);
    if (!t->re) {
        PCRE2_UCHAR msg[160];

        pcre2_get_error_message(ec, msg, sizeof(msg));
        return perr(P, l->off, "invalid regular expression (at offset %zu): %s", (size_t)eoff,
                    (const char *)msg);
    }
    t->next_re = P->p->regexes;
    P->p->regexes = t;
    {
        uint8_t *lat = kzp_arena_alloc(&P->p->arena, ren + 1);
        size_t latn;

        if (!lat)
            return kz_error_set(P->err, KZ_ENOMEM, "out of memory");
        if (kzp_utf8_to_latin1(re, ren, lat, &latn) == 0)
            t->re_bin = pcre2_compile((PCRE2_SPTR)lat, latn, PCRE2_DOTALL, &ec, &eoff, NULL);
    }
    return 0;
}

static int lit_class(const struct kzp_lit *l)
{
    return l->type == KZP_L_FLOAT ? KZP_L_INT : l->type;
}

/* Checks and prepares a finished test. */
static int finish_test(struct parser *P, struct kzp_test *t)
{
    const struct kzp_step *last = t->nsteps ? &t->steps[t->nsteps - 1] : NULL;
    char q[64];

    if (last && last->kind == KZP_S_KEY) {
        size_t k = last->keylen;

        t->bin_prop = k >= 4 && (memcmp(last->key + k - 4, "_bin", 4) == 0 ||
                                 memcmp(last->key + k - 4, "_hex", 4) == 0);
        t->value_key = k == 5 && memcmp(last->key, "value", 5) == 0;
    }
    if (t->op == KZP_OP_IN)
        for (uint32_t i = 1; i < t->nlits; i++)
            if (lit_class(&t->lits[i]) != lit_class(&t->lits[0]))
                return perr(P, t->lits[i].off,
                            "the members of an IN set must all have one type; %s differs "
                            "from the first",
                            quote(P->s + t->lits[i].off, t->lits[i].len, q, sizeof(q)));
    for (uint32_t i = 0; i < t->nlits; i++) {
        struct kzp_lit *l = &t->lits[i];

        if (l->type != KZP_L_STRING)
            continue;
        if (t->bin_prop) {
            uint8_t *lat = kzp_arena_alloc(&P->p->arena, l->n + 1);

            if (!lat)
                return kz_error_set(P->err, KZ_ENOMEM, "out of memory");
            if (kzp_utf8_to_latin1(l->s, l->n, lat, &l->latin_n) == 0) {
                l->has_latin = 1;
                l->latin = lat;
            }
        }
        if (t->op == KZP_OP_ISSUBSET || t->op == KZP_OP_ISSUPERSET || t->value_key)
            l->has_ip = kzp_ip_parse(l->s, l->n, &l->ip) == 0;
    }
    if ((t->op == KZP_OP_ISSUBSET || t->op == KZP_OP_ISSUPERSET) && !t->lits[0].has_ip)
        return perr(P, t->lits[0].off, "%s needs an IPv4 or IPv6 address or CIDR block, found %s",
                    t->op == KZP_OP_ISSUBSET ? "ISSUBSET" : "ISSUPERSET",
                    quote(t->lits[0].s, t->lits[0].n, q, sizeof(q)));
    if (t->op == KZP_OP_MATCHES && compile_regex(P, t) < 0)
        return -1;
    if (t->op == KZP_OP_LIKE && nfc_arena(P, t->lits[0].s, t->lits[0].n, &t->like, &t->like_n) < 0)
        return -1;
    return check_hashes(P, t);
}

/* --- grammar ------------------------------------------------------------------ */

static struct kzp_node *new_node(struct parser *P, int kind, size_t off)
{
    struct kzp_node *nd = kzp_arena_alloc(&P->p->arena, sizeof(*nd));

    if (!nd) {
        kz_error_set(P->err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    nd->kind = (uint8_t)kind;
    nd->off = (uint32_t)off;
    return nd;
}

/* Appends kid to nd's children; tail tracks the last one. */
static void add_kid(struct kzp_node *nd, struct kzp_node **tail, struct kzp_node *kid)
{
    if (*tail)
        (*tail)->next = kid;
    else
        nd->kids = kid;
    *tail = kid;
    nd->nkids++;
}

static int enter(struct parser *P)
{
    if (++P->depth > KZP_MAX_DEPTH)
        return perr(P, P->toff, "nesting deeper than %d levels", KZP_MAX_DEPTH);
    return 0;
}

static int parse_path(struct parser *P, struct kzp_test *t)
{
    struct kzp_step steps[KZP_MAX_DEPTH];
    uint32_t ns = 0;
    char q[64], f[64];

    if (P->tok != T_IDENT && P->tok != T_IDENT_H)
        return perr(P, P->toff, "expected an object path, '(' or EXISTS, found %s",
                    found(P, f, sizeof(f)));
    t->off = (uint32_t)P->toff;
    t->type = P->s + P->toff;
    t->typelen = P->tlen;
    if (!valid_type(t->type, t->typelen))
        return perr(P, P->toff,
                    "%s is not a valid object type (3 to 250 characters: a-z, 0-9 and single "
                    "hyphens)",
                    quote(t->type, t->typelen, q, sizeof(q)));
    if (next(P) < 0)
        return -1;
    if (P->tok != T_COLON)
        return perr(P, P->toff, "expected ':' after the object type %s, found %s",
                    quote(t->type, t->typelen, q, sizeof(q)), found(P, f, sizeof(f)));
    if (next(P) < 0)
        return -1;
    for (int first = 1;; first = 0) {
        struct kzp_step *st;

        if (!first) {
            if (P->tok != T_DOT && P->tok != T_LBRACK)
                break;
        }
        if (ns >= KZP_MAX_DEPTH)
            return perr(P, P->toff, "object path has more than %d steps", KZP_MAX_DEPTH);
        st = &steps[ns];
        memset(st, 0, sizeof(*st));
        if (!first && P->tok == T_LBRACK) {
            if (next(P) < 0)
                return -1;
            st->off = (uint32_t)P->toff;
            if (P->tok == T_ASTERISK) {
                st->kind = KZP_S_STAR;
            } else if (P->tok == T_INTPOS || P->tok == T_INTNEG) {
                st->kind = KZP_S_INDEX;
                if (parse_int(P, &st->index) < 0)
                    return -1;
            } else {
                return perr(P, P->toff, "expected a list index or '*' after '[', found %s",
                            found(P, f, sizeof(f)));
            }
            if (next(P) < 0)
                return -1;
            if (P->tok != T_RBRACK)
                return perr(P, P->toff, "expected ']' after the list index, found %s",
                            found(P, f, sizeof(f)));
            if (next(P) < 0)
                return -1;
            ns++;
            continue;
        }
        if (!first && next(P) < 0) /* past the '.' */
            return -1;
        st->off = (uint32_t)P->toff;
        st->kind = KZP_S_KEY;
        if (P->tok == T_IDENT) {
            st->key = P->s + P->toff;
            st->keylen = P->tlen;
        } else if (P->tok == T_STRING) {
            st->quoted = 1;
            if (decode_string(P, P->toff, P->tlen, P->esc, &st->key, &st->keylen) < 0)
                return -1;
        } else if (P->tok == T_IDENT_H) {
            return perr(P, P->toff, "property name %s contains '-' and must be quoted: '%.*s'",
                        quote(P->s + P->toff, P->tlen, q, sizeof(q)), (int)P->tlen, P->s + P->toff);
        } else {
            return perr(P, P->toff, "expected a property name after '%s', found %s",
                        first ? ":" : ".", found(P, f, sizeof(f)));
        }
        if (first && !valid_property(st->key, st->keylen))
            return perr(P, P->toff,
                        "%s is not a valid property name (3 to 250 characters: a-z, 0-9 and "
                        "'_')",
                        quote(st->key, st->keylen, q, sizeof(q)));
        if (st->keylen >= 4 && memcmp(st->key + st->keylen - 4, "_ref", 4) == 0)
            st->ref = 1;
        else if (st->keylen >= 5 && memcmp(st->key + st->keylen - 5, "_refs", 5) == 0)
            st->ref = 2;
        if (next(P) < 0)
            return -1;
        ns++;
    }
    t->steps = kzp_arena_alloc(&P->p->arena, ns * sizeof(*steps));
    if (!t->steps)
        return kz_error_set(P->err, KZ_ENOMEM, "out of memory");
    memcpy(t->steps, steps, ns * sizeof(*steps));
    t->nsteps = ns;
    return 0;
}

static struct kzp_lit *one_lit(struct parser *P, struct kzp_test *t)
{
    t->lits = kzp_arena_alloc(&P->p->arena, sizeof(*t->lits));
    if (!t->lits) {
        kz_error_set(P->err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    t->nlits = 1;
    return t->lits;
}

static int parse_set(struct parser *P, struct kzp_test *t)
{
    struct kzp_lit *lits = NULL;
    uint32_t cap = 0;
    char f[64];

    if (P->tok != T_LPAREN)
        return perr(P, P->toff, "expected '(' to start the set after IN, found %s",
                    found(P, f, sizeof(f)));
    if (next(P) < 0)
        return -1;
    if (P->tok == T_RPAREN)
        return next(P);
    for (;;) {
        if (!is_literal(P->tok, 0))
            return perr(P, P->toff, "expected a literal in the IN set, found %s",
                        found(P, f, sizeof(f)));
        if (t->nlits == cap) {
            struct kzp_lit *nl;

            cap = cap ? cap * 2 : 4;
            nl = kzp_arena_alloc(&P->p->arena, cap * sizeof(*nl));
            if (!nl)
                return kz_error_set(P->err, KZ_ENOMEM, "out of memory");
            if (t->nlits)
                memcpy(nl, lits, t->nlits * sizeof(*nl));
            lits = nl;
            t->lits = lits;
        }
        if (make_lit(P, &lits[t->nlits]) < 0)
            return -1;
        t->nlits++;
        if (next(P) < 0)
            return -1;
        if (P->tok == T_RPAREN)
            return next(P);
        if (P->tok != T_COMMA)
            return perr(P, P->toff, "expected ',' or ')' in the IN set, found %s",
                        found(P, f, sizeof(f)));
        if (next(P) < 0)
            return -1;
    }
}

static struct kzp_node *parse_cmp_or(struct parser *P);

static struct kzp_node *parse_prop_test(struct parser *P)
{
    struct kzp_node *nd;
    struct kzp_test *t;
    char f[64];
    const char *opname;
    int op;

    if (P->tok == T_LPAREN) {
        size_t off = P->toff;

        if (enter(P) < 0 || next(P) < 0)
            return NULL;
        nd = parse_cmp_or(P);
        if (!nd)
            return NULL;
        if (P->tok != T_RPAREN) {
            perr(P, P->toff, "expected ')' after comparison, found %s", found(P, f, sizeof(f)));
            return NULL;
        }
        P->depth--;
        nd->grouped = 1;
        nd->off = (uint32_t)off;
        return next(P) < 0 ? NULL : nd;
    }
    nd = new_node(P, KZP_N_TEST, P->toff);
    t = nd ? kzp_arena_alloc(&P->p->arena, sizeof(*t)) : NULL;
    if (!t) {
        kz_error_set(P->err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    nd->test = t;
    if (P->tok == T_EXISTS) {
        if (next(P) < 0 || parse_path(P, t) < 0)
            return NULL;
        t->op = KZP_OP_EXISTS;
        return finish_test(P, t) < 0 ? NULL : nd;
    }
    if (parse_path(P, t) < 0)
        return NULL;
    if (P->tok == T_NOT) {
        t->negated = 1;
        if (next(P) < 0)
            return NULL;
    }
    switch (P->tok) {
    case T_EQ: op = KZP_OP_EQ; break;
    case T_NEQ: op = KZP_OP_NEQ; break;
    case T_LT: op = KZP_OP_LT; break;
    case T_LE: op = KZP_OP_LE; break;
    case T_GT: op = KZP_OP_GT; break;
    case T_GE: op = KZP_OP_GE; break;
    case T_IN: op = KZP_OP_IN; break;
    case T_LIKE: op = KZP_OP_LIKE; break;
    case T_MATCHES: op = KZP_OP_MATCHES; break;
    case T_ISSUBSET: op = KZP_OP_ISSUBSET; break;
    case T_ISSUPERSET: op = KZP_OP_ISSUPERSET; break;
    default:
        perr(P, P->toff, "expected a comparison operator after the object path, found %s",
             found(P, f, sizeof(f)));
        return NULL;
    }
    t->op = (uint8_t)op;
    opname = op == KZP_OP_LIKE         ? "LIKE"
             : op == KZP_OP_MATCHES    ? "MATCHES"
             : op == KZP_OP_ISSUBSET   ? "ISSUBSET"
             : op == KZP_OP_ISSUPERSET ? "ISSUPERSET"
                                       : NULL;
    {
        char opq[16];
        size_t ooff = P->toff, olen = P->tlen;

        if (next(P) < 0)
            return NULL;
        if (op == KZP_OP_IN) {
            if (parse_set(P, t) < 0)
                return NULL;
            return finish_test(P, t) < 0 ? NULL : nd;
        }
        if (opname) {
            if (P->tok != T_STRING) {
                perr(P, P->toff, "expected a string literal after %s, found %s", opname,
                     found(P, f, sizeof(f)));
                return NULL;
            }
        } else if (!is_literal(P->tok, op != KZP_OP_EQ && op != KZP_OP_NEQ)) {
            snprintf(opq, sizeof(opq), "%.*s", (int)olen, P->s + ooff);
            if (P->tok == T_BOOL)
                perr(P, P->toff, "a boolean cannot be ordered with '%s'", opq);
            else
                perr(P, P->toff, "expected a literal after '%s', found %s", opq,
                     found(P, f, sizeof(f)));
            return NULL;
        }
    }
    if (!one_lit(P, t) || make_lit(P, &t->lits[0]) < 0 || next(P) < 0)
        return NULL;
    return finish_test(P, t) < 0 ? NULL : nd;
}

/* Parses "x (OP x)*" into an n-ary node of kind, or returns the single x. */
static struct kzp_node *parse_nary(struct parser *P, int optok, int kind,
                                   struct kzp_node *(*sub)(struct parser *))
{
    struct kzp_node *first, *nd, *tail = NULL;
    size_t off = P->toff;

    first = sub(P);
    if (!first || P->tok != optok)
        return first;
    nd = new_node(P, kind, off);
    if (!nd)
        return NULL;
    add_kid(nd, &tail, first);
    while (P->tok == optok) {
        struct kzp_node *k;

        if (next(P) < 0)
            return NULL;
        k = sub(P);
        if (!k)
            return NULL;
        add_kid(nd, &tail, k);
    }
    return nd;
}

static struct kzp_node *parse_cmp_and(struct parser *P)
{
    return parse_nary(P, T_AND, KZP_N_AND, parse_prop_test);
}

static struct kzp_node *parse_cmp_or(struct parser *P)
{
    return parse_nary(P, T_OR, KZP_N_OR, parse_cmp_and);
}

static struct kzp_node *parse_obs_fb(struct parser *P);

/* Reads a WITHIN number of seconds: a positive int or float. */
static int within_value(struct parser *P, struct kzp_lit *l)
{
    char f[64];

    if (P->tok != T_INTPOS && P->tok != T_FLOATPOS)
        return perr(P, P->toff, "expected a positive number of seconds after WITHIN, found %s",
                    found(P, f, sizeof(f)));
    if (make_lit(P, l) < 0)
        return -1;
    if (!(l->f > 0))
        return perr(P, P->toff, "WITHIN needs a positive number of seconds, found %.*s",
                    (int)P->tlen, P->s + P->toff);
    return next(P);
}

static struct kzp_node *parse_qualifier(struct parser *P, struct kzp_node *child, unsigned *seen)
{
    struct kzp_node *nd;
    struct kzp_lit *l;
    char f[64];
    static const char *names[] = {"", "WITHIN", "REPEATS", "START/STOP"};
    unsigned bit = P->tok == T_WITHIN ? 1 : P->tok == T_REPEATS ? 2 : 3;

    if (*seen & (1u << bit)) {
        perr(P, P->toff,
             "duplicate %s qualifier on one observation expression (STIX 2.1 section 9.5.1)",
             names[bit]);
        return NULL;
    }
    *seen |= 1u << bit;
    nd = new_node(P, bit == 1 ? KZP_N_WITHIN : bit == 2 ? KZP_N_REPEATS : KZP_N_STARTSTOP, P->toff);
    l = nd ? kzp_arena_alloc(&P->p->arena, 2 * sizeof(*l)) : NULL;
    if (!l) {
        kz_error_set(P->err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    nd->kids = child;
    nd->nkids = 1;
    nd->qual_lit = &l[0];
    if (next(P) < 0)
        return NULL;
    if (bit == 1) {
        if (within_value(P, &l[0]) < 0)
            return NULL;
        nd->within_us = l[0].f * 1e6;
        if (P->tok != T_SECONDS) {
            perr(P, P->toff, "expected SECONDS after WITHIN %.*s, found %s", (int)l[0].len,
                 P->s + l[0].off, found(P, f, sizeof(f)));
            return NULL;
        }
    } else if (bit == 2) {
        if (P->tok != T_INTPOS) {
            perr(P, P->toff, "expected a positive integer after REPEATS, found %s",
                 found(P, f, sizeof(f)));
            return NULL;
        }
        if (make_lit(P, &l[0]) < 0)
            return NULL;
        if (l[0].i < 1) {
            perr(P, P->toff, "REPEATS needs a positive count, found %.*s", (int)P->tlen,
                 P->s + P->toff);
            return NULL;
        }
        nd->repeats = l[0].i;
        if (next(P) < 0)
            return NULL;
        if (P->tok != T_TIMES) {
            perr(P, P->toff, "expected TIMES after REPEATS %lld, found %s", (long long)l[0].i,
                 found(P, f, sizeof(f)));
            return NULL;
        }
    } else {
        nd->qual_lit2 = &l[1];
        for (int k = 0; k < 2; k++) {
            if (P->tok != T_TIMESTAMP) {
                perr(P, P->toff, "expected a timestamp t'...' after %s, found %s",
                     k ? "STOP" : "START", found(P, f, sizeof(f)));
                return NULL;
            }
            if (make_lit(P, &l[k]) < 0 || next(P) < 0)
                return NULL;
            if (k == 0 && P->tok != T_STOP) {
                perr(P, P->toff, "expected STOP after START %.*s, found %s", (int)l[0].len,
                     P->s + l[0].off, found(P, f, sizeof(f)));
                return NULL;
            }
            if (k == 0 && next(P) < 0)
                return NULL;
        }
        if (kz_ts_cmp(&l[0].ts, &l[1].ts) >= 0) {
            perr(P, l[1].off, "STOP %.*s must be later than START %.*s", (int)l[1].len,
                 P->s + l[1].off, (int)l[0].len, P->s + l[0].off);
            return NULL;
        }
        nd->start_us = kz_ts_micros(&l[0].ts);
        nd->stop_us = kz_ts_micros(&l[1].ts);
        return nd;
    }
    return next(P) < 0 ? NULL : nd;
}

static struct kzp_node *parse_obs_qualified(struct parser *P)
{
    struct kzp_node *nd;
    char f[64];
    unsigned seen = 0;

    if (P->tok == T_LBRACK) {
        struct kzp_node *cmp;

        nd = new_node(P, KZP_N_OBS, P->toff);
        if (!nd || enter(P) < 0 || next(P) < 0)
            return NULL;
        nd->obs_index = P->nobs++;
        cmp = parse_cmp_or(P);
        if (!cmp)
            return NULL;
        if (P->tok != T_RBRACK) {
            perr(P, P->toff, "expected ']' after comparison, found %s", found(P, f, sizeof(f)));
            return NULL;
        }
        P->depth--;
        nd->kids = cmp;
        nd->nkids = 1;
        if (next(P) < 0)
            return NULL;
    } else if (P->tok == T_LPAREN) {
        size_t off = P->toff;

        if (enter(P) < 0 || next(P) < 0)
            return NULL;
        nd = parse_obs_fb(P);
        if (!nd)
            return NULL;
        if (P->tok != T_RPAREN) {
            perr(P, P->toff, "expected ')' after observation expression, found %s",
                 found(P, f, sizeof(f)));
            return NULL;
        }
        P->depth--;
        nd->grouped = 1;
        nd->off = (uint32_t)off;
        if (next(P) < 0)
            return NULL;
    } else {
        perr(P, P->toff, "expected '[' or '(' to start an observation expression, found %s",
             found(P, f, sizeof(f)));
        return NULL;
    }
    while (P->tok == T_WITHIN || P->tok == T_REPEATS || P->tok == T_START) {
        nd = parse_qualifier(P, nd, &seen);
        if (!nd)
            return NULL;
    }
    return nd;
}

static struct kzp_node *parse_obs_and(struct parser *P)
{
    return parse_nary(P, T_AND, KZP_N_OBS_AND, parse_obs_qualified);
}

static struct kzp_node *parse_obs_or(struct parser *P)
{
    return parse_nary(P, T_OR, KZP_N_OBS_OR, parse_obs_and);
}

static struct kzp_node *parse_obs_fb(struct parser *P)
{
    return parse_nary(P, T_FOLLOWEDBY, KZP_N_FOLLOWEDBY, parse_obs_or);
}

int kzp_parse_into(struct kzp_pattern *p, const char *src, size_t n, struct kz_error *err)
{
    struct parser P;
    size_t bad;
    char f[64];

    memset(&P, 0, sizeof(P));
    P.p = p;
    P.s = src;
    P.n = n;
    P.err = err;
    p->src = src;
    p->n = n;
    if (n > KZP_MAX_PATTERN_BYTES)
        return kz_error_set(err, KZ_ELIMIT, "pattern is longer than %zu bytes",
                            KZP_MAX_PATTERN_BYTES);
    bad = utf8_check(src, n);
    if (bad != n)
        return perr(&P, bad, src[bad] ? "invalid UTF-8" : "NUL character in pattern");
    if (next(&P) < 0)
        return -1;
    if (P.tok == T_EOF)
        return perr(&P, 0, "empty pattern; expected '[' or '('");
    p->root = parse_obs_fb(&P);
    if (!p->root)
        return -1;
    if (P.tok != T_EOF)
        return perr(&P, P.toff,
                    "expected FOLLOWEDBY, AND, OR, a qualifier or the end of the pattern, "
                    "found %s",
                    found(&P, f, sizeof(f)));
    p->nobs = P.nobs;
    return 0;
}

void kzp_release(struct kzp_pattern *p)
{
    for (struct kzp_test *t = p->regexes; t; t = t->next_re) {
        pcre2_code_free(t->re);
        pcre2_code_free(t->re_bin);
    }
    p->regexes = NULL;
}
