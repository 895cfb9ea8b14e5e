/*
 * Internal header of the pattern module: the parse tree, the arena it lives
 * in, and the helpers the module's files share (IP addresses, NFC, hex and
 * base64). Nothing outside src/pattern/ includes this file.
 *
 * Invariants of a tree built by parse.c: every node passed the semantic
 * checks; observation-level operator nodes have at least two children;
 * strings are decoded (escapes removed) and carry their length; a test's
 * literals match its operator (one for comparisons, any number for IN, none
 * for EXISTS); regular expressions are compiled.
 */
#ifndef KZ_PATTERN_INT_H
#define KZ_PATTERN_INT_H

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "pattern/pattern.h"
#include "util/kztime.h"

/* The first block of a pattern's arena sits inside the pattern's own
 * allocation; typical indicators fit in it, so parsing one costs a single
 * malloc. Later blocks are allocated as needed. */
#define KZP_ARENA_INLINE 2048
#define KZP_ARENA_BLOCK  8192

/* STIX integers are IEEE doubles' exact range (STIX 2.1 section 2.10). */
#define KZP_INT_MAX ((int64_t)9007199254740991)

/* Longest number literal converted with strtod. */
#define KZP_MAX_NUMBER_TEXT 400

struct kzp_block {
    struct kzp_block *next;
    size_t cap, used;
    /* data follows, max_align_t aligned */
};

struct kzp_arena {
    char *cur;                /* current block's data */
    size_t used, cap;         /* in the current block */
    struct kzp_block *blocks; /* heap blocks, freed with the arena */
    size_t total;             /* bytes handed out: bounded by the pattern length */
};

void kzp_arena_init(struct kzp_arena *a, void *buf, size_t cap);
void *kzp_arena_alloc(struct kzp_arena *a, size_t n);
void kzp_arena_free(struct kzp_arena *a);

/* Literal types (constants, STIX 2.1 section 9.2). */
enum kzp_lit_type {
    KZP_L_INT = 1,
    KZP_L_FLOAT,
    KZP_L_STRING,
    KZP_L_BOOL,
    KZP_L_BINARY,
    KZP_L_HEX,
    KZP_L_TIMESTAMP,
};

/* An IPv4 or IPv6 address or network. */
struct kzp_ip {
    uint8_t family; /* 4 or 6; 0 when not an address */
    uint8_t prefix; /* 0..32 or 0..128 */
    uint8_t addr[16];
};

struct kzp_lit {
    uint8_t type;      /* enum kzp_lit_type */
    uint8_t has_ip;    /* string literal that parses as an address */
    uint8_t has_latin; /* string literal whose code points are all < 256 */
    uint32_t off, len; /* source text of the literal */
    int64_t i;         /* INT; BOOL (0/1) */
    double f;          /* FLOAT; INT converted */
    struct kz_ts ts;   /* TIMESTAMP */
    const char *s;     /* STRING: UTF-8; BINARY, HEX: the octets */
    size_t n;
    const uint8_t *latin; /* STRING as octets when has_latin */
    size_t latin_n;
    struct kzp_ip ip; /* when has_ip */
};

enum kzp_step_kind { KZP_S_KEY = 1, KZP_S_INDEX, KZP_S_STAR };

struct kzp_step {
    uint8_t kind;   /* enum kzp_step_kind */
    uint8_t ref;    /* KEY: 1 for a *_ref key, 2 for *_refs */
    uint8_t quoted; /* KEY written as a string literal */
    uint32_t off;   /* source offset */
    const char *key;
    size_t keylen;
    int64_t index;
};

enum kzp_op {
    KZP_OP_EQ = 1,
    KZP_OP_NEQ,
    KZP_OP_LT,
    KZP_OP_LE,
    KZP_OP_GT,
    KZP_OP_GE,
    KZP_OP_IN,
    KZP_OP_LIKE,
    KZP_OP_MATCHES,
    KZP_OP_ISSUBSET,
    KZP_OP_ISSUPERSET,
    KZP_OP_EXISTS,
};

struct kzp_test {
    uint8_t op;        /* enum kzp_op */
    uint8_t negated;   /* NOT before the operator */
    uint8_t bin_prop;  /* last key ends in _bin or _hex: a binary property */
    uint8_t value_key; /* last step is the key "value" */
    uint32_t off;      /* source offset of the object path */
    const char *type;  /* object type */
    size_t typelen;
    struct kzp_step *steps;
    uint32_t nsteps;
    struct kzp_lit *lits;
    uint32_t nlits;
    pcre2_code *re;     /* MATCHES on strings (UTF, DOTALL) */
    pcre2_code *re_bin; /* MATCHES on binary properties (no UTF) */
    const char *like;   /* LIKE: the NFC-normalised pattern */
    size_t like_n;
    struct kzp_test *next_re; /* chain of tests holding regexes */
};

enum kzp_kind {
    KZP_N_FOLLOWEDBY = 1, /* observation operators, n-ary, left to right */
    KZP_N_OBS_OR,
    KZP_N_OBS_AND,
    KZP_N_OBS,    /* [ comparison ]: child is the comparison tree */
    KZP_N_WITHIN, /* qualifiers: child is the qualified expression */
    KZP_N_REPEATS,
    KZP_N_STARTSTOP,
    KZP_N_OR, /* boolean operators inside [ ], n-ary */
    KZP_N_AND,
    KZP_N_TEST,
};

struct kzp_node {
    uint8_t kind;    /* enum kzp_kind */
    uint8_t grouped; /* written inside parentheses */
    uint32_t off;    /* source offset of the first token */
    uint32_t nkids;
    struct kzp_node *kids;     /* first child */
    struct kzp_node *next;     /* next sibling */
    unsigned obs_index;        /* KZP_N_OBS: 0-based in source order */
    double within_us;          /* WITHIN, in microseconds */
    int64_t repeats;           /* REPEATS */
    int64_t start_us, stop_us; /* START/STOP */
    struct kzp_lit *qual_lit;  /* the qualifier's number, for printing */
    struct kzp_lit *qual_lit2;
    struct kzp_test *test; /* KZP_N_TEST */
};

struct kzp_pattern {
    struct kzp_arena arena;
    const char *src;
    size_t n;
    struct kzp_node *root;
    struct kzp_test *regexes; /* tests holding compiled regexes */
    unsigned nobs;            /* KZP_N_OBS nodes */
};

/* --- parse.c ------------------------------------------------------------ */

/* Parses src[0..n) into p (whose arena is initialised). src must outlive p.
 * Returns 0 or -1 with err. */
int kzp_parse_into(struct kzp_pattern *p, const char *src, size_t n, struct kz_error *err);

/* Frees what a parsed tree holds outside the arena (regexes). */
void kzp_release(struct kzp_pattern *p);

/* --- ip.c --------------------------------------------------------------- */

/* Parses "a.b.c.d", "a.b.c.d/n", IPv6 text and "v6/n" into ip (host bits
 * zeroed: the network). Returns 0, or -1 when s is not one. */
int kzp_ip_parse(const char *s, size_t n, struct kzp_ip *ip);

/* Whether network a lies inside network b (same family). */
int kzp_ip_within(const struct kzp_ip *a, const struct kzp_ip *b);

/* Writes ip in text form (canonical: RFC 5952 for IPv6), with "/prefix"
 * unless it is a single address. */
void kzp_ip_format(const struct kzp_ip *ip, char *out, size_t size);

/* --- nfc.c -------------------------------------------------------------- */

/* Appends the NFC normalisation (libunistring) of the UTF-8 text s[0..n) to
 * out. Ill-formed UTF-8 bytes are copied through unchanged. Returns -1 only
 * when out is full or memory runs out. */
struct kz_buf;
int kzp_nfc(const char *s, size_t n, struct kz_buf *out);

/* Whether s[0..n) is certainly already NFC (a fast check that passes all
 * text below U+0300). */
int kzp_nfc_quick(const char *s, size_t n);

/* --- codec helpers (parse.c) --------------------------------------------- */

/* Decodes hex (even length) or base64 (RFC 4648 with padding) text into
 * out[0..*outn); out must hold n bytes. Returns -1 on invalid input. */
int kzp_hex_decode(const char *s, size_t n, uint8_t *out, size_t *outn);
int kzp_b64_decode(const char *s, size_t n, uint8_t *out, size_t *outn);

/* Converts UTF-8 text to one octet per code point when every code point is
 * below U+0100 (STIX 2.1 section 9.6.4). out must hold n bytes. Returns -1
 * when some code point is larger or the text is not UTF-8. */
int kzp_utf8_to_latin1(const char *s, size_t n, uint8_t *out, size_t *outn);

#endif
