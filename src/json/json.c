/*
 * The tape parser of json.h. One pass over the input, no recursion (an
 * explicit stack bounded by the depth limit), no allocation but the tape's
 * doubling array. Strings are validated (escapes, UTF-8, surrogate pairs) in
 * place; ASCII runs are skipped 16 bytes at a time with SSE2 where the
 * compiler offers it. Duplicate keys are detected when an object closes.
 */
#include "json/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/limits.h"
#include "util/text.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

struct parser {
    struct kzj_doc *d;
    const char *buf;
    size_t len;
    size_t p;
    struct kz_error *err;
};

void kzj_doc_init(struct kzj_doc *d)
{
    memset(d, 0, sizeof(*d));
    d->max_nodes = KZ_MAX_JSON_NODES;
    d->depth_limit = KZ_MAX_JSON_DEPTH;
    kz_buf_init(&d->scratch, KZ_MAX_OBJECT_BYTES);
}

void kzj_doc_free(struct kzj_doc *d)
{
    free(d->nodes);
    kz_buf_free(&d->scratch);
    d->nodes = NULL;
    d->n = d->cap = 0;
}

int kzj_doc_copy(struct kzj_doc *dst, const struct kzj_doc *src, struct kz_error *err)
{
    if (dst->cap < src->n) {
        struct kzj_node *nodes = realloc(dst->nodes, (size_t)src->n * sizeof(*nodes));
        if (!nodes)
            return kz_error_set(err, KZ_ENOMEM, "out of memory copying a JSON tape");
        dst->nodes = nodes;
        dst->cap = src->n;
    }
    if (src->n)
        memcpy(dst->nodes, src->nodes, (size_t)src->n * sizeof(*dst->nodes));
    dst->n = src->n;
    dst->buf = src->buf;
    dst->buflen = src->buflen;
    return 0;
}

void kzj_position(const char *buf, size_t len, size_t off, char *out, size_t size)
{
    size_t line = 1, col = 1;

    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++) {
        if (buf[i] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
            col++; /* count characters, not UTF-8 continuation bytes */
        }
    }
    snprintf(out, size, "line %zu, column %zu", line, col);
}

static void describe(const struct parser *ps, size_t at, char *out, size_t size)
{
    unsigned char c;

    if (at >= ps->len) {
        snprintf(out, size, "end of input");
        return;
    }
    c = (unsigned char)ps->buf[at];
    if (c >= 0x21 && c < 0x7f)
        snprintf(out, size, "'%c'", c);
    else
        snprintf(out, size, "byte 0x%02x", c);
}

static int fail_at(struct parser *ps, size_t at, const char *what)
{
    char pos[64], found[32];

    kzj_position(ps->buf, ps->len, at, pos, sizeof(pos));
    describe(ps, at, found, sizeof(found));
    return kz_error_set(ps->err, KZ_EINVALID, "%s: %s, found %s", pos, what, found);
}

static int fail_plain(struct parser *ps, size_t at, enum kz_ecode code, const char *what)
{
    char pos[64];

    kzj_position(ps->buf, ps->len, at, pos, sizeof(pos));
    return kz_error_set(ps->err, code, "%s: %s", pos, what);
}

size_t kzj_skip_ws(const char *buf, size_t len, size_t p)
{
    while (p < len) {
        char c = buf[p];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            break;
        p++;
    }
    return p;
}

static int push_node(struct parser *ps, uint8_t type, size_t off, uint32_t *idx)
{
    struct kzj_doc *d = ps->d;

    if (d->n >= d->max_nodes)
        return fail_plain(ps, off, KZ_ELIMIT, "document has more JSON values than the limit");
    if (d->n == d->cap) {
        uint32_t ncap = d->cap ? d->cap * 2 : 64;
        struct kzj_node *nn;

        if (ncap > d->max_nodes)
            ncap = d->max_nodes;
        nn = realloc(d->nodes, (size_t)ncap * sizeof(*nn));
        if (!nn)
            return kz_error_set(ps->err, KZ_ENOMEM, "out of memory parsing JSON");
        d->nodes = nn;
        d->cap = ncap;
    }
    *idx = d->n++;
    d->nodes[*idx] = (struct kzj_node){.off = (uint32_t)off, .type = type};
    return 0;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        if (!kz_is_hex((unsigned char)s[i]))
            return -1;
        v = v << 4 | kz_hexval((unsigned char)s[i]);
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (s[0] >= 0x80), or 0 if invalid
 * (util/text.h's rules, RFC 3629). */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    uint32_t cp;

    return kz_utf8_decode(s, avail, &cp);
}

static int scan_escape(struct parser *ps, size_t *pp)
{
    size_t p = *pp;         /* at the backslash */
    unsigned u = 0, lo = 0; /* hex4 sets them; gcc -O3 cannot tell */

    if (p + 1 >= ps->len)
        return fail_at(ps, p + 1, "unterminated escape in string");
    switch (ps->buf[p + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't': *pp = p + 2; return 0;
    case 'u': break;
    default: return fail_at(ps, p + 1, "expected a valid escape character after '\\'");
    }
    if (p + 6 > ps->len || hex4(ps->buf + p + 2, &u) < 0)
        return fail_at(ps, p + 2, "expected four hex digits after '\\u'");
    p += 6;
    if (u >= 0xdc00 && u <= 0xdfff)
        return fail_plain(ps, p - 6, KZ_EINVALID, "lone low surrogate escape in string");
    if (u >= 0xd800 && u <= 0xdbff) {
        if (p + 6 > ps->len || ps->buf[p] != '\\' || ps->buf[p + 1] != 'u' ||
            hex4(ps->buf + p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
            return fail_plain(ps, p - 6, KZ_EINVALID,
                              "high surrogate escape not followed by a low surrogate");
        p += 6;
    }
    *pp = p;
    return 0;
}

/* Scans a string whose opening quote is at ps->p; leaves ps->p after the
 * closing quote. */
static int scan_string(struct parser *ps, uint32_t idx)
{
    const unsigned char *b = (const unsigned char *)ps->buf;
    size_t p = ps->p + 1, len = ps->len;
    uint8_t flags = 0;

    for (;;) {
#if defined(__SSE2__)
        while (p + 16 <= len) {
            __m128i v = _mm_loadu_si128((const __m128i *)(b + p));
            /* signed compare: bytes >= 0x80 are negative, so "< 0x20"
             * catches control characters and non-ASCII at once */
            __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                  _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                                     _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
            int mask = _mm_movemask_epi8(m);
            if (mask) {
                p += (size_t)__builtin_ctz((unsigned)mask);
                break;
            }
            p += 16;
        }
#endif
        if (p >= len)
            return fail_plain(ps, ps->p, KZ_EINVALID, "unterminated string");
        unsigned char c = b[p];
        if (c == '"')
            break;
        if (c == '\\') {
            flags |= KZJ_F_ESCAPED;
            if (scan_escape(ps, &p) < 0)
                return -1;
        } else if (c < 0x20) {
            return fail_at(ps, p, "control characters must be escaped in strings");
        } else if (c >= 0x80) {
            size_t n = utf8_seq(b + p, len - p);
            if (!n)
                return fail_at(ps, p, "invalid UTF-8 in string");
            p += n;
        } else {
            p++;
        }
    }
    p++;
    ps->d->nodes[idx].len = (uint32_t)(p - ps->p);
    ps->d->nodes[idx].flags = flags;
    ps->d->nodes[idx].next = idx + 1;
    ps->p = p;
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int scan_number(struct parser *ps, uint32_t idx)
{
    const char *b = ps->buf;
    size_t p = ps->p, len = ps->len;
    uint8_t flags = KZJ_F_INTEGER;

    if (p < len && b[p] == '-')
        p++;
    if (p >= len || !is_digit(b[p]))
        return fail_at(ps, p, "expected a digit in number");
    if (b[p] == '0') {
        p++;
        if (p < len && is_digit(b[p]))
            return fail_at(ps, p, "numbers must not have leading zeros");
    } else {
        while (p < len && is_digit(b[p]))
            p++;
    }
    if (p < len && b[p] == '.') {
        flags = 0;
        p++;
        if (p >= len || !is_digit(b[p]))
            return fail_at(ps, p, "expected a digit after '.' in number");
        while (p < len && is_digit(b[p]))
            p++;
    }
    if (p < len && (b[p] == 'e' || b[p] == 'E')) {
        flags = 0;
        p++;
        if (p < len && (b[p] == '+' || b[p] == '-'))
            p++;
        if (p >= len || !is_digit(b[p]))
            return fail_at(ps, p, "expected a digit in exponent");
        while (p < len && is_digit(b[p]))
            p++;
    }
    ps->d->nodes[idx].len = (uint32_t)(p - ps->p);
    ps->d->nodes[idx].flags = flags;
    ps->d->nodes[idx].next = idx + 1;
    ps->p = p;
    return 0;
}

static int scan_literal(struct parser *ps, uint32_t idx, const char *word, size_t n)
{
    if (ps->p + n > ps->len || memcmp(ps->buf + ps->p, word, n) != 0)
        return fail_at(ps, ps->p, "expected a JSON value");
    ps->d->nodes[idx].len = (uint32_t)n;
    ps->d->nodes[idx].next = idx + 1;
    ps->p += n;
    return 0;
}

/* Decoded key for duplicate detection: a view for plain keys, a copy in
 * d->scratch at offset *at for escaped ones. */
struct keyref {
    const char *p;
    size_t n;
    size_t scratch_off; /* (size_t)-1 for views */
    uint64_t hash;
};

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int key_decode(struct kzj_doc *d, uint32_t k, struct keyref *r)
{
    const struct kzj_node *kn = &d->nodes[k];

    if (!(kn->flags & KZJ_F_ESCAPED)) {
        r->p = d->buf + kn->off + 1;
        r->n = kn->len - 2;
        r->scratch_off = (size_t)-1;
    } else {
        r->scratch_off = d->scratch.len;
        if (kzj_unescape(d->buf + kn->off + 1, kn->len - 2, &d->scratch) < 0)
            return -1;
        r->n = d->scratch.len - r->scratch_off;
        r->p = NULL; /* resolved after all decoding: scratch may move */
    }
    return 0;
}

static int keyref_cmp(const void *a, const void *b)
{
    const struct keyref *x = a, *y = b;

    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return memcmp(x->p, y->p, x->n);
}

static int check_duplicate_keys(struct parser *ps, uint32_t obj)
{
    struct kzj_doc *d = ps->d;
    uint32_t count = kzj_count(d, obj);
    struct keyref small[KZ_JSON_SMALL_OBJECT], *refs = small;
    uint32_t i = 0;
    int rc = -1, escaped = 0;

    if (count < 2)
        return 0;
    /* The common case: few keys, none escaped, compared pairwise. */
    if (count <= KZ_JSON_SMALL_OBJECT) {
        KZJ_FOREACH_MEMBER(d, obj, k)
        {
            if (d->nodes[k].flags & KZJ_F_ESCAPED)
                escaped = 1;
        }
        if (!escaped) {
            for (uint32_t a = obj + 1; a < d->nodes[obj].next; a = d->nodes[a + 1].next)
                for (uint32_t b = d->nodes[a + 1].next; b < d->nodes[obj].next;
                     b = d->nodes[b + 1].next)
                    if (d->nodes[a].len == d->nodes[b].len &&
                        memcmp(d->buf + d->nodes[a].off, d->buf + d->nodes[b].off,
                               d->nodes[a].len) == 0)
                        return fail_plain(ps, d->nodes[b].off, KZ_EINVALID,
                                          "duplicate key in object");
            return 0;
        }
    } else {
        refs = malloc((size_t)count * sizeof(*refs));
        if (!refs)
            return kz_error_set(ps->err, KZ_ENOMEM, "out of memory checking keys");
    }
    kz_buf_reset(&d->scratch);
    KZJ_FOREACH_MEMBER(d, obj, k)
    {
        if (key_decode(d, k, &refs[i]) < 0) {
            kz_error_set(ps->err, KZ_ELIMIT, "object keys too long to compare");
            goto out;
        }
        i++;
    }
    for (i = 0; i < count; i++) {
        if (refs[i].scratch_off != (size_t)-1)
            refs[i].p = d->scratch.data + refs[i].scratch_off;
        refs[i].hash = fnv1a(refs[i].p, refs[i].n);
    }
    qsort(refs, count, sizeof(*refs), keyref_cmp);
    for (i = 1; i < count; i++) {
        if (keyref_cmp(&refs[i - 1], &refs[i]) == 0) {
            char pos[64];
            kzj_position(ps->buf, ps->len, d->nodes[obj].off, pos, sizeof(pos));
            kz_error_set(ps->err, KZ_EINVALID, "%s: object has a duplicate key \"%.*s\"", pos,
                         (int)(refs[i].n > 64 ? 64 : refs[i].n), refs[i].p);
            goto out;
        }
    }
    rc = 0;
out:
    if (refs != small)
        free(refs);
    return rc;
}

static int close_container(struct parser *ps, uint32_t idx)
{
    struct kzj_node *n = &ps->d->nodes[idx];

    ps->p++; /* the closing bracket */
    n->len = (uint32_t)(ps->p - n->off);
    n->next = ps->d->n;
    if (n->type == KZJ_OBJECT)
        return check_duplicate_keys(ps, idx);
    return 0;
}

static int scan_key(struct parser *ps)
{
    uint32_t k;

    ps->p = kzj_skip_ws(ps->buf, ps->len, ps->p);
    if (ps->p >= ps->len || ps->buf[ps->p] != '"')
        return fail_at(ps, ps->p, "expected a string key in object");
    if (push_node(ps, KZJ_STRING, ps->p, &k) < 0 || scan_string(ps, k) < 0)
        return -1;
    ps->p = kzj_skip_ws(ps->buf, ps->len, ps->p);
    if (ps->p >= ps->len || ps->buf[ps->p] != ':')
        return fail_at(ps, ps->p, "expected ':' after object key");
    ps->p++;
    return 0;
}

static int parse_value(struct parser *ps)
{
    uint32_t stack[KZ_MAX_JSON_DEPTH + 1];
    uint32_t depth = 0, idx;
    struct kzj_doc *d = ps->d;

value:
    ps->p = kzj_skip_ws(ps->buf, ps->len, ps->p);
    if (ps->p >= ps->len)
        return fail_at(ps, ps->p, "expected a JSON value");
    switch (ps->buf[ps->p]) {
    case '{':
    case '[':
        if (depth >= d->depth_limit || depth >= KZ_MAX_JSON_DEPTH)
            return fail_plain(ps, ps->p, KZ_ELIMIT, "JSON nested deeper than the limit");
        if (push_node(ps, ps->buf[ps->p] == '{' ? KZJ_OBJECT : KZJ_ARRAY, ps->p, &idx) < 0)
            return -1;
        stack[depth++] = idx;
        ps->p = kzj_skip_ws(ps->buf, ps->len, ps->p + 1);
        if (ps->p < ps->len && ps->buf[ps->p] == (d->nodes[idx].type == KZJ_OBJECT ? '}' : ']')) {
            depth--;
            if (close_container(ps, idx) < 0)
                return -1;
            goto after;
        }
        if (d->nodes[idx].type == KZJ_OBJECT && scan_key(ps) < 0)
            return -1;
        goto value;
    case '"':
        if (push_node(ps, KZJ_STRING, ps->p, &idx) < 0 || scan_string(ps, idx) < 0)
            return -1;
        break;
    case 't':
        if (push_node(ps, KZJ_TRUE, ps->p, &idx) < 0 || scan_literal(ps, idx, "true", 4) < 0)
            return -1;
        break;
    case 'f':
        if (push_node(ps, KZJ_FALSE, ps->p, &idx) < 0 || scan_literal(ps, idx, "false", 5) < 0)
            return -1;
        break;
    case 'n':
        if (push_node(ps, KZJ_NULL, ps->p, &idx) < 0 || scan_literal(ps, idx, "null", 4) < 0)
            return -1;
        break;
    default:
        if (ps->buf[ps->p] != '-' && !is_digit(ps->buf[ps->p]))
            return fail_at(ps, ps->p, "expected a JSON value");
        if (push_node(ps, KZJ_NUMBER, ps->p, &idx) < 0 || scan_number(ps, idx) < 0)
            return -1;
    }
after:
    while (depth > 0) {
        uint32_t top = stack[depth - 1];
        int is_obj = d->nodes[top].type == KZJ_OBJECT;

        ps->p = kzj_skip_ws(ps->buf, ps->len, ps->p);
        if (ps->p < ps->len && ps->buf[ps->p] == ',') {
            ps->p++;
            if (is_obj && scan_key(ps) < 0)
                return -1;
            goto value;
        }
        if (ps->p < ps->len && ps->buf[ps->p] == (is_obj ? '}' : ']')) {
            depth--;
            if (close_container(ps, top) < 0)
                return -1;
            continue;
        }
        return fail_at(ps, ps->p,
                       is_obj ? "expected ',' or '}' after object member"
                              : "expected ',' or ']' after array element");
    }
    return 0;
}

int kzj_parse_at(struct kzj_doc *d, const char *buf, size_t len, size_t *pos, struct kz_error *err)
{
    struct parser ps = {.d = d, .buf = buf, .len = len, .p = *pos, .err = err};

    if (len > 0xffffffffu)
        return kz_error_set(err, KZ_ELIMIT, "JSON text larger than 4 GiB");
    d->buf = buf;
    d->buflen = len;
    d->n = 0;
    if (parse_value(&ps) < 0)
        return -1;
    *pos = ps.p;
    return 0;
}

int kzj_parse(struct kzj_doc *d, const char *buf, size_t len, struct kz_error *err)
{
    size_t pos = 0;
    struct parser ps = {.d = d, .buf = buf, .len = len, .err = err};

    if (kzj_parse_at(d, buf, len, &pos, err) < 0)
        return -1;
    pos = kzj_skip_ws(buf, len, pos);
    if (pos != len)
        return fail_at(&ps, pos, "expected end of input after the JSON value");
    return 0;
}

uint32_t kzj_count(const struct kzj_doc *d, uint32_t i)
{
    uint32_t c = 0;

    if (d->nodes[i].type == KZJ_OBJECT) {
        KZJ_FOREACH_MEMBER(d, i, k)
        c++;
    } else if (d->nodes[i].type == KZJ_ARRAY) {
        KZJ_FOREACH_ELEM(d, i, e)
        c++;
    }
    return c;
}

uint32_t kzj_get(const struct kzj_doc *d, uint32_t obj, const char *key, size_t keylen)
{
    if (d->nodes[obj].type != KZJ_OBJECT)
        return 0;
    KZJ_FOREACH_MEMBER(d, obj, k)
    {
        const struct kzj_node *kn = &d->nodes[k];
        if (!(kn->flags & KZJ_F_ESCAPED)) {
            if (kn->len - 2 == keylen && memcmp(d->buf + kn->off + 1, key, keylen) == 0)
                return k + 1;
        } else if (kzj_str_eq(d, k, key, keylen)) {
            return k + 1;
        }
    }
    return 0;
}

/* Decodes one escape at p (a backslash) into out; returns bytes consumed. */
static size_t unescape_one(const char *p, char out[4], size_t *outlen)
{
    unsigned u = 0, lo = 0; /* hex4 sets them; gcc -O3 cannot tell */

    switch (p[1]) {
    case 'b': out[0] = '\b'; break;
    case 'f': out[0] = '\f'; break;
    case 'n': out[0] = '\n'; break;
    case 'r': out[0] = '\r'; break;
    case 't': out[0] = '\t'; break;
    case 'u':
        hex4(p + 2, &u);
        if (u >= 0xd800 && u <= 0xdbff) {
            hex4(p + 8, &lo);
            u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (u < 0x80) {
            out[0] = (char)u;
            *outlen = 1;
        } else if (u < 0x800) {
            out[0] = (char)(0xc0 | u >> 6);
            out[1] = (char)(0x80 | (u & 0x3f));
            *outlen = 2;
        } else if (u < 0x10000) {
            out[0] = (char)(0xe0 | u >> 12);
            out[1] = (char)(0x80 | (u >> 6 & 0x3f));
            out[2] = (char)(0x80 | (u & 0x3f));
            *outlen = 3;
        } else {
            out[0] = (char)(0xf0 | u >> 18);
            out[1] = (char)(0x80 | (u >> 12 & 0x3f));
            out[2] = (char)(0x80 | (u >> 6 & 0x3f));
            out[3] = (char)(0x80 | (u & 0x3f));
            *outlen = 4;
        }
        return u >= 0x10000 ? 12 : 6;
    default: out[0] = p[1]; break;
    }
    *outlen = 1;
    return 2;
}

int kzj_unescape(const char *p, size_t n, struct kz_buf *out)
{
    size_t i = 0, start = 0;

    while (i < n) {
        if (p[i] != '\\') {
            i++;
            continue;
        }
        char tmp[4];
        size_t tl;
        if (kz_buf_add(out, p + start, i - start) < 0)
            return -1;
        i += unescape_one(p + i, tmp, &tl);
        if (kz_buf_add(out, tmp, tl) < 0)
            return -1;
        start = i;
    }
    return kz_buf_add(out, p + start, n - start);
}

int kzj_str_eq(const struct kzj_doc *d, uint32_t i, const char *s, size_t n)
{
    const struct kzj_node *nd = &d->nodes[i];
    const char *p = d->buf + nd->off + 1;
    size_t len = nd->len - 2, j = 0, k = 0;

    if (nd->type != KZJ_STRING)
        return 0;
    if (!(nd->flags & KZJ_F_ESCAPED))
        return len == n && memcmp(p, s, n) == 0;
    while (j < len) {
        if (p[j] == '\\') {
            char tmp[4];
            size_t tl;
            j += unescape_one(p + j, tmp, &tl);
            if (k + tl > n || memcmp(s + k, tmp, tl) != 0)
                return 0;
            k += tl;
        } else {
            if (k >= n || s[k] != p[j])
                return 0;
            j++;
            k++;
        }
    }
    return k == n;
}

size_t kzj_strlen(const struct kzj_doc *d, uint32_t i)
{
    const struct kzj_node *nd = &d->nodes[i];
    const char *p = d->buf + nd->off + 1;
    size_t len = nd->len - 2, j = 0, k = 0;

    if (!(nd->flags & KZJ_F_ESCAPED))
        return len;
    while (j < len) {
        if (p[j] == '\\') {
            char tmp[4];
            size_t tl;
            j += unescape_one(p + j, tmp, &tl);
            k += tl;
        } else {
            j++;
            k++;
        }
    }
    return k;
}

int kzj_str(const struct kzj_doc *d, uint32_t i, char *tmp, size_t cap, const char **p, size_t *n)
{
    const struct kzj_node *nd = &d->nodes[i];
    struct kz_buf b;

    if (nd->type != KZJ_STRING)
        return -1;
    if (!(nd->flags & KZJ_F_ESCAPED)) {
        *p = d->buf + nd->off + 1;
        *n = nd->len - 2;
        return 0;
    }
    if (cap == 0)
        return -1;
    /* decode into a bounded buffer that writes straight into tmp */
    kz_buf_init(&b, cap - 1);
    if (kzj_unescape(d->buf + nd->off + 1, nd->len - 2, &b) < 0) {
        kz_buf_free(&b);
        return -1;
    }
    if (memchr(b.data, '\0', b.len)) {
        kz_buf_free(&b);
        return -1;
    }
    memcpy(tmp, b.data, b.len + 1);
    *p = tmp;
    *n = b.len;
    kz_buf_free(&b);
    return 0;
}

int kzj_strcpy(const struct kzj_doc *d, uint32_t i, char *out, size_t cap)
{
    const char *p;
    size_t n;

    if (kzj_str(d, i, out, cap, &p, &n) < 0 || n >= cap || memchr(p, '\0', n))
        return -1;
    if (p != out)
        memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

int kzj_int64(const struct kzj_doc *d, uint32_t i, int64_t *v)
{
    const struct kzj_node *nd = &d->nodes[i];
    char tmp[32];
    char *end;
    long long x;

    if (nd->type != KZJ_NUMBER || !(nd->flags & KZJ_F_INTEGER) || nd->len >= sizeof(tmp))
        return -1;
    memcpy(tmp, d->buf + nd->off, nd->len);
    tmp[nd->len] = '\0';
    errno = 0;
    x = strtoll(tmp, &end, 10);
    if (errno || *end)
        return -1;
    *v = x;
    return 0;
}

int kzj_double(const struct kzj_doc *d, uint32_t i, double *v)
{
    const struct kzj_node *nd = &d->nodes[i];
    char tmp[512];
    char *big = NULL, *s = tmp;
    int rc = 0;

    if (nd->type != KZJ_NUMBER)
        return -1;
    if (nd->len >= sizeof(tmp)) {
        big = malloc((size_t)nd->len + 1);
        if (!big)
            return -1;
        s = big;
    }
    memcpy(s, d->buf + nd->off, nd->len);
    s[nd->len] = '\0';
    *v = strtod(s, NULL);
    if (!isfinite(*v))
        rc = -1;
    free(big);
    return rc;
}

/* Index of the first '"' or '\\' at or after j in p[0..n), or n. The caller
 * knows one exists (the text was validated). */
static size_t find_quote_or_backslash(const char *p, size_t j, size_t n)
{
#if defined(__SSE2__)
    while (j + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + j));
        int mask = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                  _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
        if (mask)
            return j + (size_t)__builtin_ctz((unsigned)mask);
        j += 16;
    }
#endif
    while (j < n && p[j] != '"' && p[j] != '\\')
        j++;
    return j;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

int kzj_minify(const char *p, size_t n, struct kz_buf *out)
{
    char *dst = kz_buf_reserve(out, n);
    size_t i = 0, j, w = 0;

    if (!dst)
        return -1;
    while (i < n) {
        /* a run of structural characters, literals and numbers */
        j = i;
        while (j < n && p[j] != '"' && !is_ws(p[j]))
            j++;
        memcpy(dst + w, p + i, j - i);
        w += j - i;
        i = j;
        if (i >= n)
            break;
        if (p[i] != '"') {
            i++; /* insignificant whitespace */
            continue;
        }
        /* a string, copied whole with its escapes */
        j = i + 1;
        for (;;) {
            j = find_quote_or_backslash(p, j, n);
            if (j < n && p[j] == '\\') {
                j += 2;
                continue;
            }
            break;
        }
        if (j >= n)
            j = n - 1; /* unreachable for validated text; stay in bounds */
        memcpy(dst + w, p + i, j + 1 - i);
        w += j + 1 - i;
        i = j + 1;
    }
    kz_buf_commit(out, w);
    return 0;
}
