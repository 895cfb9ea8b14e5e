/*
 * A strict, fast, zero-copy JSON reader for untrusted input (RFC 8259).
 *
 * Parsing one value produces a "tape": a flat array of nodes in document
 * order, each pointing back into the caller's buffer. Nothing is copied or
 * unescaped while parsing, so the original text of any value (a whole STIX
 * object included) is available as a byte span, and strings are decoded only
 * when someone asks. The parser rejects everything RFC 8259 forbids plus
 * what kizuna will not store: invalid UTF-8, lone surrogates, duplicate keys,
 * nesting past KZ_MAX_JSON_DEPTH, and tapes past KZ_MAX_JSON_NODES.
 *
 * jansson is used elsewhere for small documents; this reader exists because
 * bulk import and validation must run several times faster than jansson.
 *
 * Tape layout: node 0 is the root. A container's children follow it; an
 * object's children alternate key (a string node) and value. Every node's
 * `next` is the index just past its subtree, so siblings are reached by
 * jumping and subtrees are skipped in O(1).
 */
#ifndef KZ_JSON_H
#define KZ_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

enum kzj_type {
    KZJ_NULL = 1,
    KZJ_FALSE,
    KZJ_TRUE,
    KZJ_NUMBER,
    KZJ_STRING,
    KZJ_ARRAY,
    KZJ_OBJECT,
};

#define KZJ_F_ESCAPED 1 /* a string containing backslash escapes */
#define KZJ_F_INTEGER 2 /* a number with no fraction and no exponent */

struct kzj_node {
    uint32_t off;  /* offset of the value's first byte (a string's opening quote) */
    uint32_t len;  /* length of the value's text, quotes and brackets included */
    uint32_t next; /* index of the first node after this value's subtree */
    uint8_t type;  /* enum kzj_type */
    uint8_t flags; /* KZJ_F_* */
    uint16_t unused;
};

/* A parsed document. Callers read the fields; only json.c writes them. */
struct kzj_doc {
    const char *buf; /* the text parsed; not owned */
    size_t buflen;
    struct kzj_node *nodes; /* owned */
    uint32_t n, cap;
    uint32_t max_nodes;    /* defaults to KZ_MAX_JSON_NODES */
    uint32_t depth_limit;  /* defaults to KZ_MAX_JSON_DEPTH */
    struct kz_buf scratch; /* for decoding keys during duplicate checks */
};

/* Initialises an empty document; kzj_doc_free releases it. */
void kzj_doc_init(struct kzj_doc *d);
void kzj_doc_free(struct kzj_doc *d);

/* Makes dst a copy of src's tape (the text stays src's, not copied), so the
 * parsed value outlives src's next parse. KZ_ENOMEM on failure. */
int kzj_doc_copy(struct kzj_doc *dst, const struct kzj_doc *src, struct kz_error *err);

/* Parses the value starting at buf[*pos] (after optional whitespace) into d,
 * replacing what d held. On success *pos is just past the value. On failure
 * returns -1 with err->text "line L, column C: expected ..., found ...". */
int kzj_parse_at(struct kzj_doc *d, const char *buf, size_t len, size_t *pos, struct kz_error *err);

/* Parses buf[0..len) as exactly one JSON value with nothing but whitespace
 * around it. */
int kzj_parse(struct kzj_doc *d, const char *buf, size_t len, struct kz_error *err);

/* Skips JSON whitespace from pos; returns the new position. */
size_t kzj_skip_ws(const char *buf, size_t len, size_t pos);

/* Writes "line L, column C" for offset off into out. */
void kzj_position(const char *buf, size_t len, size_t off, char *out, size_t size);

/* --- reading a tape ---------------------------------------------------- */

static inline const struct kzj_node *kzj_at(const struct kzj_doc *d, uint32_t i)
{
    return &d->nodes[i];
}

static inline int kzj_type(const struct kzj_doc *d, uint32_t i)
{
    return d->nodes[i].type;
}

/* The raw text of a value. */
static inline const char *kzj_raw(const struct kzj_doc *d, uint32_t i)
{
    return d->buf + d->nodes[i].off;
}

/* Members of object `obj`: k is the key node, k + 1 the value. */
#define KZJ_FOREACH_MEMBER(d, obj, k)                                                              \
    for (uint32_t k = (obj) + 1; k < (d)->nodes[obj].next; k = (d)->nodes[k + 1].next)

/* Elements of array `arr`. */
#define KZJ_FOREACH_ELEM(d, arr, e)                                                                \
    for (uint32_t e = (arr) + 1; e < (d)->nodes[arr].next; e = (d)->nodes[e].next)

/* Number of members of an object or elements of an array. */
uint32_t kzj_count(const struct kzj_doc *d, uint32_t i);

/* The value of key[0..keylen) in object obj, or 0 when absent (node 0 is
 * the root and never a member value). */
uint32_t kzj_get(const struct kzj_doc *d, uint32_t obj, const char *key, size_t keylen);
#define KZJ_GET(d, obj, lit) kzj_get((d), (obj), (lit), sizeof(lit) - 1)

/* Whether string node i decodes to s[0..n). */
int kzj_str_eq(const struct kzj_doc *d, uint32_t i, const char *s, size_t n);
#define KZJ_STR_EQ(d, i, lit) kzj_str_eq((d), (i), (lit), sizeof(lit) - 1)

/* The decoded content of string node i. An unescaped string is returned as
 * a view into the document (*p, *n; not NUL-terminated); an escaped one is
 * decoded into tmp[0..cap) and NUL-terminated. Returns -1 when it does not
 * fit in tmp or contains U+0000 (which no C string can carry). */
int kzj_str(const struct kzj_doc *d, uint32_t i, char *tmp, size_t cap, const char **p, size_t *n);

/* Copies the decoded string into out[0..cap) with a NUL; -1 as kzj_str. */
int kzj_strcpy(const struct kzj_doc *d, uint32_t i, char *out, size_t cap);

/* Decoded content length of string node i in bytes. */
size_t kzj_strlen(const struct kzj_doc *d, uint32_t i);

/* Decodes the string body p[0..n) (between the quotes, already validated)
 * and appends it to out. */
int kzj_unescape(const char *p, size_t n, struct kz_buf *out);

/* An integer number node as int64; -1 if not an integer literal or out of
 * range. */
int kzj_int64(const struct kzj_doc *d, uint32_t i, int64_t *v);

/* A number node as a double (strtod on the literal). */
int kzj_double(const struct kzj_doc *d, uint32_t i, double *v);

/* --- writing ----------------------------------------------------------- */

/* Appends the valid JSON text p[0..n) to out without insignificant
 * whitespace. Strings are copied byte for byte. */
int kzj_minify(const char *p, size_t n, struct kz_buf *out);

/* Appends value i indented by two spaces per level, for people. */
int kzj_pretty(const struct kzj_doc *d, uint32_t i, struct kz_buf *out);

/* Appends the RFC 8785 (JCS) canonical form of value i to out. Returns -1
 * if a number cannot be represented (NaN/Inf after parsing) or out is full. */
int kzj_canonical(const struct kzj_doc *d, uint32_t i, struct kz_buf *out);

#endif
