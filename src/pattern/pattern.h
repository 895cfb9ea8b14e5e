/*
 * STIX 2.1 patterning (STIX 2.1 section 9): a parser for the full grammar of
 * the OASIS STIXPattern.g4, the semantic checks the OASIS validators make
 * beyond the grammar, an evaluator over observed-data, and the extraction of
 * the atomic conditions a high-speed index can serve.
 *
 * A pattern is parsed once into an immutable struct kzp_pattern, which may
 * then be evaluated, printed and mined for conditions any number of times,
 * from any number of threads. Observations to evaluate against are loaded
 * into a struct kzp_obs from STIX JSON (bundles, lists of objects, or a
 * single object); both STIX 2.1 observed-data (object_refs to top-level
 * SCOs) and the deprecated 2.0 form (an embedded "objects" dictionary) are
 * understood.
 *
 * Every failure is an ordinary -1 with a struct kz_error; nothing a pattern
 * or an observation contains can crash, hang or exhaust memory: the caps
 * below bound the length, nesting and binding search of one evaluation.
 * Design notes: docs/internals/pattern.md.
 */
#ifndef KZ_PATTERN_H
#define KZ_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/limits.h"

/* --- parsing and checking ---------------------------------------------- */

struct kzp_pattern;

/* Checks that s[0..n) is a valid STIX 2.1 pattern: the grammar and the
 * semantic checks (docs/internals/pattern.md lists them). Returns 0, or -1
 * with err->text such as
 * "pattern:1:27: expected ']' after comparison, found 'AND'". */
int kzp_check(const char *s, size_t n, struct kz_error *err);

/* Parses and checks s[0..n) (s need not outlive the call). On success
 * *out is a new pattern the caller frees with kzp_free; on failure *out is
 * NULL and err says why, as kzp_check does. */
int kzp_parse(const char *s, size_t n, struct kzp_pattern **out, struct kz_error *err);

/* Frees a pattern; NULL is fine. */
void kzp_free(struct kzp_pattern *p);

/* The pattern's source text (a copy owned by the pattern). */
const char *kzp_source(const struct kzp_pattern *p, size_t *len);

/* Appends the canonical text of the pattern to out: single spaces, keywords
 * in capitals, every parenthesis the tree needs and no other. Parsing the
 * result gives the same tree. Returns -1 only when out is full. */
struct kz_buf;
int kzp_format(const struct kzp_pattern *p, struct kz_buf *out);

/* Appends an indented dump of the parse tree, one node per line. */
int kzp_dump(const struct kzp_pattern *p, struct kz_buf *out);

/* --- extraction for indexes --------------------------------------------- */

/* What an extracted condition's value is. Address kinds also carry the
 * parsed address; text kinds carry the literal exactly as the pattern
 * wrote it (after unescaping), with no case folding. */
enum kzp_cond_kind {
    KZP_COND_IPV4 = 1, /* one IPv4 address: a hit is an equal address */
    KZP_COND_IPV6,     /* one IPv6 address */
    KZP_COND_CIDR4,    /* an IPv4 network: a hit is an address inside it */
    KZP_COND_CIDR6,    /* an IPv6 network */
    KZP_COND_DOMAIN,   /* domain-name:value */
    KZP_COND_URL,      /* url:value */
    KZP_COND_EMAIL,    /* email-addr:value */
    KZP_COND_MD5,      /* <type>:hashes.MD5 (any spelling of the algorithm) */
    KZP_COND_SHA1,
    KZP_COND_SHA256,
    KZP_COND_SHA512,
    KZP_COND_HASH, /* another algorithm under hashes; see algo */
};

struct kzp_cond {
    enum kzp_cond_kind kind;
    const char *type; /* the SCO type the path starts from, e.g. "file" */
    size_t type_len;
    const char *value; /* the literal, unescaped; not NUL-terminated */
    size_t len;
    const char *algo; /* KZP_COND_*HASH*: the hashes key as written */
    size_t algo_len;
    uint8_t addr[16]; /* address kinds: 4 or 16 bytes, host bits zeroed */
    unsigned prefix;  /* address kinds: 32/128 for single addresses */
    unsigned obs;     /* which observation expression (0-based, in source
                         order) the condition belongs to */
    int exact;        /* 1: an observation whose value equals (address
                         kinds: lies in) this one matches the whole
                         pattern by itself; 0: a candidate the evaluator
                         must confirm */
};

/* Called once per condition; the struct and its strings live until
 * kzp_extract returns. Return 0 to go on, -1 to stop. */
typedef int (*kzp_cond_fn)(void *ctx, const struct kzp_cond *c);

/* Delivers the pattern's index-servable conditions. *complete is set to 1
 * when they form a cover: every set of observations the pattern matches
 * contains one that hits at least one condition, so a pattern none of whose
 * conditions hit cannot match. When 0, the pattern must also be evaluated
 * against observations that hit nothing. Returns -1 only when cb does. */
int kzp_extract(const struct kzp_pattern *p, kzp_cond_fn cb, void *ctx, int *complete);

/* "ipv4", "cidr6", "sha256", ... */
const char *kzp_cond_kind_name(enum kzp_cond_kind k);

/* --- evaluation --------------------------------------------------------- */

struct kzp_obs;

/* An empty observation set; free with kzp_obs_free. Returns NULL when out
 * of memory. */
struct kzp_obs *kzp_obs_new(void);
void kzp_obs_free(struct kzp_obs *o);

/* Adds the objects of json[0..len) (copied): a bundle, a JSON list of
 * objects or bundles, or one object. observed-data objects become
 * observations; every object with an id can be referenced from
 * object_refs. An observed-data with a bad first_observed, last_observed or
 * number_observed fails the call (err names it) and nothing is added. */
int kzp_obs_add(struct kzp_obs *o, const char *json, size_t len, struct kz_error *err);

/* Number of observations (observed-data objects) added so far. */
size_t kzp_obs_count(const struct kzp_obs *o);

/* The id of observation i ("" when it has none), NUL-terminated. */
const char *kzp_obs_id(const struct kzp_obs *o, size_t i);

/* The outcome of one evaluation. obs lists the observations (indexes for
 * kzp_obs_id) of the first set of observations found that satisfies the
 * pattern, in input order; uses[i] says how many of obs[i]'s
 * number_observed observations the set uses. */
struct kzp_result {
    int matched;
    size_t n;
    size_t *obs;
    uint32_t *uses;
};

/* Frees the lists of a result and zeroes it. */
void kzp_result_free(struct kzp_result *r);

/* Evaluates p against the observations in o (STIX 2.1 section 9 semantics;
 * docs/internals/pattern.md states each decision). On success fills *res
 * (free with kzp_result_free). Fails with KZ_ELIMIT when the binding search
 * passes KZP_MAX_BINDINGS or KZP_MAX_BINDING_WORK, and KZ_ENOMEM. o is
 * indexed on first use after an add, hence not const; do not share one
 * kzp_obs between threads. */
int kzp_match(const struct kzp_pattern *p, struct kzp_obs *o, struct kzp_result *res,
              struct kz_error *err);

#endif
