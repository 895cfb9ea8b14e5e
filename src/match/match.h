/*
 * The matching engine: an in-memory index of indicator values (IP addresses
 * and CIDR blocks, domain names, URLs, e-mail addresses, file hashes) and a
 * scanner that streams logs through it. It knows nothing of the store or of
 * STIX: the caller adds (kind, value, ref) triples, where ref is its own
 * number for the indicator, freezes the index, and scans readers
 * (logread.h); every hit comes back with the refs of all indicator values it
 * matched. Design notes: docs/internals/match.md.
 *
 * Lifecycle: match_index_new, match_index_add (any number of times),
 * match_index_finish (once), then any number of lookups and scans from any
 * number of threads. A finished index is read-only and never changes.
 */
#ifndef KZ_MATCH_H
#define KZ_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "util/limits.h"
#include "util/error.h"

/* The kinds of indicator values. CIDR kinds exist only on the indicator side;
 * a log address is always MATCH_IPV4 or MATCH_IPV6 and matches exact and
 * CIDR indicators alike (an exact address is a /32 or /128). */
enum match_kind {
    MATCH_IPV4 = 0,
    MATCH_IPV6,
    MATCH_CIDR4,
    MATCH_CIDR6,
    MATCH_DOMAIN,
    MATCH_URL,
    MATCH_EMAIL,
    MATCH_MD5,
    MATCH_SHA1,
    MATCH_SHA256,
    MATCH_SHA512,
    MATCH_KIND_COUNT
};

/* "ipv4", "ipv6", "cidr4", "cidr6", "domain", "url", "email", "md5", "sha1",
 * "sha256", "sha512"; "?" for anything else. */
const char *match_kind_name(enum match_kind k);

/* The kind named s[0..n) (the names above); -1 when unknown. */
int match_kind_parse(const char *s, size_t n, enum match_kind *out);

/* --- normalisers --------------------------------------------------------
 * Each writes the canonical text of a value into out[0..cap) with a NUL and
 * sets *outlen; on failure returns -1 with err saying why (KZ_EINVALID) or
 * that out is too small (KZ_ELIMIT). The rules are in docs/internals/match.md.
 */

/* Strict dotted-quad IPv4 (no leading zeros, no shorthand); *addr in host
 * byte order. Returns 0 or -1 (no error text: called per log token). */
int match_ipv4_parse(const char *s, size_t n, uint32_t *addr);

/* RFC 4291 IPv6 text (with "::" and an embedded dotted quad; no zone id);
 * addr in network byte order. Returns 0 or -1. */
int match_ipv6_parse(const char *s, size_t n, uint8_t addr[16]);

/* An address or CIDR block "a/len" of either family. Host bits beyond the
 * prefix are cleared. *family is 4 or 6; for IPv4, addr[0..4) holds the
 * address in network byte order. */
int match_cidr_parse(const char *s, size_t n, int *family, uint8_t addr[16], unsigned *plen,
                     struct kz_error *err);

/* RFC 5952 text of an address ("2001:db8::1", "10.0.0.1"); returns the
 * length written (at most 45) or 0 when cap is too small. */
size_t match_ip_format(int family, const uint8_t *addr, char *out, size_t cap);

/* Domain: one trailing dot removed, labels with non-ASCII bytes in A-label
 * form (match_domain_alabel), ASCII lowercase, labels of 1..63 bytes from
 * [a-z0-9_-], at least two labels, total <= 253, the last label not all
 * digits. */
int match_domain_normalise(const char *in, size_t n, char *out, size_t cap, size_t *outlen,
                           struct kz_error *err);

/* URL, RFC 3986 section 6.2.2 and 6.2.3: scheme and host lowercased,
 * default port and empty port removed, percent-encodings of unreserved
 * characters decoded and the rest uppercased, dot segments removed, empty
 * path with an authority made "/", bytes outside the URI grammar
 * percent-encoded, IPv6 hosts in RFC 5952 form, a trailing dot of the host
 * removed, the fragment dropped. A scheme is required. */
int match_url_normalise(const char *in, size_t n, char *out, size_t cap, size_t *outlen,
                        struct kz_error *err);

/* E-mail: split at the last '@'; the local part (1..64 bytes) kept as is,
 * the domain normalised as a domain. */
int match_email_normalise(const char *in, size_t n, char *out, size_t cap, size_t *outlen,
                          struct kz_error *err);

/* A hex digest (either case) of 32/40/64/128 digits: sets *kind to MD5,
 * SHA1, SHA256 or SHA512 and writes the binary digest to out. 0 or -1. */
int match_hash_parse(const char *hex, size_t n, enum match_kind *kind, uint8_t out[64]);

/* The canonical text of a value of any kind (addresses in RFC 5952 form,
 * CIDR blocks masked, hashes in lowercase hex, the rest as above). */
int match_normalise(enum match_kind kind, const char *in, size_t n, char *out, size_t cap,
                    size_t *outlen, struct kz_error *err);

/* --- IDNA A-labels (idn.c) ------------------------------------------------
 * The form DNS queries, TLS SNI and HTTP Host headers carry a Unicode name
 * in, by libidn2: IDNA2008 with the UTS #46 nontransitional mapping. */

/* The A-label form of the domain in[0..n) (UTF-8) into out[0..cap) with a
 * NUL, *outlen set: each label holding a non-ASCII byte goes through
 * libidn2 (case and width folded, "İstanbul" -> "xn--istanbul-o0e",
 * "ＥＸＡＭＰＬＥ" -> "example", "straße" -> "xn--strae-oqa"; an ideographic
 * full stop inside it separates labels); a label of ASCII alone is only
 * lowercased. Returns 0, or -1 with err (KZ_EINVALID) naming the value and
 * libidn2's reason, an empty label, a result over 253 bytes or cap, or
 * input over MATCH_MAX_IDN_BYTES. */
int match_domain_alabel(const char *in, size_t n, char *out, size_t cap, size_t *outlen,
                        struct kz_error *err);

/* --- public suffix list (psl.c, libpsl) --------------------------------- */

/* Debian's `publicsuffix` package installs the list's text here. */
#define MATCH_PSL_DEFAULT_PATH "/usr/share/publicsuffix/public_suffix_list.dat"

struct match_psl;

/* The default list: libpsl's psl_latest(), the newer of Debian's
 * `publicsuffix` package (its compiled list under /usr/share/publicsuffix)
 * and the copy built into libpsl, so there always is one. NULL with err
 * set only when memory runs out. The caller frees. */
struct match_psl *match_psl_default(struct kz_error *err);

/* Loads a public suffix list file (publicsuffix.org text format, ICANN and
 * private sections both, or libpsl's DAFSA form) of at most
 * MATCH_MAX_PSL_BYTES. Unicode rules apply to names in either form.
 * Returns NULL with err set (the file named) on failure, including a list
 * without rules; the caller frees. */
struct match_psl *match_psl_load(const char *path, struct kz_error *err);
/* The same from text[0..n) in memory. */
struct match_psl *match_psl_parse(const char *text, size_t n, struct kz_error *err);
void match_psl_free(struct match_psl *psl);

/* Whether the normalised domain d[0..n) (lowercase, A-labels or UTF-8) is a
 * public suffix ("com", "co.jp", "github.io", anything under a wildcard
 * rule unless excepted, any single label). With psl == NULL only single
 * labels are public suffixes (the PSL's default rule "*"). */
int match_psl_is_public_suffix(const struct match_psl *psl, const char *d, size_t n);

/* --- the index ---------------------------------------------------------- */

struct match_index;

/* A new, empty index; NULL (KZ_ENOMEM) on allocation failure. */
struct match_index *match_index_new(struct kz_error *err);

/* Frees the index and everything it holds. Accepts NULL. */
void match_index_free(struct match_index *idx);

/* Sets the public suffix list used by match_index_finish to decide which
 * domain indicators may match their subdomains (a public suffix never does).
 * Borrowed: it must stay alive until match_index_finish returns. Without it,
 * the PSL's default rule alone applies. */
void match_index_set_psl(struct match_index *idx, const struct match_psl *psl);

/* Adds value[0..n) of the given kind for indicator `ref` (<= MATCH_MAX_REF).
 * The value is normalised first; one value may carry many refs, and adding
 * the same (value, ref) twice stores it once. An IPV4/IPV6 value with a
 * "/len" is taken as a CIDR block and a CIDR value without one as a single
 * address. Fails with KZ_EINVALID naming the rule an invalid value breaks,
 * KZ_ELIMIT past MATCH_MAX_VALUES, KZ_EUSAGE after match_index_finish. */
int match_index_add(struct match_index *idx, enum match_kind kind, const char *value, size_t n,
                    uint32_t ref, struct kz_error *err);

/* Adds an address or CIDR block already parsed, as the pattern extractor
 * delivers them: family 4 or 6, addr holding 4 or 16 bytes in network
 * order, plen <= 32 or 128 (host bits past plen are ignored). Same rules
 * and errors as match_index_add. */
int match_index_add_addr(struct match_index *idx, int family, const uint8_t *addr, unsigned plen,
                         uint32_t ref, struct kz_error *err);

/* Freezes the index: builds the prefix tables, compacts ref lists, frees
 * build-time memory. Lookups and scans need a finished index. */
int match_index_finish(struct match_index *idx, struct kz_error *err);

/* Distinct values held of one kind (CIDR kinds count prefixes shorter than
 * /32 or /128; exact addresses count under IPV4/IPV6). */
size_t match_index_count(const struct match_index *idx, enum match_kind kind);

/* Bytes of memory the index holds. */
size_t match_index_memory(const struct match_index *idx);

/* One indicator value a lookup matched: its refs (sorted, unique, borrowed
 * from the index), and which value it was: for addresses the prefix length
 * (32/128 for an exact address), for domains the offset in the looked-up
 * name where the matching parent starts (0 for the name itself). */
struct match_span {
    const uint32_t *refs;
    uint32_t nrefs;
    uint32_t plen;
    uint32_t off;
};

/* All values a lookup matched, most specific first. */
struct match_refs {
    unsigned n;
    struct match_span span[MATCH_MAX_SPANS];
};

/* Lookups on a finished index. Each fills out and returns out->n (0 for no
 * match). Inputs are already parsed or normalised as the normalisers above
 * produce them (lowercase domains without a trailing dot, and so on). */
unsigned match_index_lookup_ipv4(const struct match_index *idx, uint32_t addr,
                                 struct match_refs *out);
unsigned match_index_lookup_ipv6(const struct match_index *idx, const uint8_t addr[16],
                                 struct match_refs *out);
/* With subdomains set, every parent of d that is an indicator and not a
 * public suffix matches too (label-wise: "notevil.com" is no child of
 * "evil.com"). */
unsigned match_index_lookup_domain(const struct match_index *idx, const char *d, size_t n,
                                   int subdomains, struct match_refs *out);
unsigned match_index_lookup_url(const struct match_index *idx, const char *u, size_t n,
                                struct match_refs *out);
unsigned match_index_lookup_email(const struct match_index *idx, const char *e, size_t n,
                                  struct match_refs *out);
/* kind is MD5, SHA1, SHA256 or SHA512; digest holds 16/20/32/64 bytes. */
unsigned match_index_lookup_hash(const struct match_index *idx, enum match_kind kind,
                                 const uint8_t *digest, struct match_refs *out);

/* Convenience for tests and tools: normalises the raw value s[0..n) of the
 * given kind (IPV4/IPV6 address kinds, DOMAIN, URL, EMAIL or a hash kind)
 * and looks it up. Returns out->n, or -1 with err set when s is invalid. */
int match_index_lookup(const struct match_index *idx, enum match_kind kind, const char *s, size_t n,
                       int subdomains, struct match_refs *out, struct kz_error *err);

/* --- the text tokenizer -------------------------------------------------- */

/* A candidate the tokenizer found: kind is IPV4, IPV6, DOMAIN, URL, EMAIL
 * or a hash kind; [off, off + len) in the scanned text. */
struct match_token {
    uint32_t off;
    uint32_t len;
    enum match_kind kind;
    uint32_t v4; /* IPV4: the address, already parsed (host byte order) */
};

typedef void (*match_token_fn)(void *ctx, const struct match_token *t);

/* Finds the candidates in s[0..n) and calls fn for each, in order: dotted
 * quads, IPv6 addresses, domain names, URLs (with a scheme), e-mail
 * addresses, hex digests of hash length. No allocation; a byte-class table,
 * no regex. Hosts inside URLs and domains of e-mails are not reported
 * separately (the scanner derives them); values in a URL's path and query
 * are. */
void match_tokenize(const char *s, size_t n, match_token_fn fn, void *ctx);

/* --- scanning ------------------------------------------------------------ */

struct logread;
struct warninglist_set;

struct match_scan_opts {
    unsigned threads;                           /* 0 or 1: the calling thread only */
    int subdomains;                             /* --subdomains */
    const struct warninglist_set *warninglists; /* NULL: no suppression */
    int show_suppressed;                        /* report suppressed hits too */
    /* called in the scanning thread after each block is reported, with the
     * input bytes and lines done so far (NULL: none) */
    void (*progress)(void *ctx, uint64_t bytes, uint64_t lines);
    void *progress_ctx;
};

/* One indicator value a hit matched, as text ("10.0.0.0/8", "evil.com"). */
struct match_key {
    const char *text;
    size_t len;
    enum match_kind kind; /* the indicator's kind: CIDR4 for "10.0.0.0/8" */
    const uint32_t *refs;
    size_t nrefs;
};

/* A hit's time when its line carries none (or one that is no valid time). */
#define MATCH_NO_TIME INT64_MIN

/* A hit. Every pointer is valid only during the callback. */
struct match_hit {
    const char *file;  /* the reader's name ("-" for stdin) */
    uint64_t line;     /* 1-based */
    const char *field; /* field name, NUL-terminated ("text" for plain text) */
    const char *value; /* the candidate as it appeared, after format decoding */
    size_t value_len;
    const char *norm; /* its normalised form, as looked up */
    size_t norm_len;
    enum match_kind kind; /* IPV4, IPV6, DOMAIN, URL, EMAIL or a hash kind */
    const struct match_key *keys;
    size_t nkeys;
    const uint32_t *refs; /* union of the keys' refs, sorted, unique */
    size_t nrefs;
    size_t refs_dropped;       /* refs past MATCH_MAX_HIT_REFS, not listed */
    const char *suppressed_by; /* warninglist name when suppressed, else NULL */
    int64_t time_us;           /* the line's own time (µs since the epoch), or MATCH_NO_TIME */
};

/* Called for each hit in input order (line, then position in the line), in
 * the thread that called match_scan. Return 0 to go on; -1 (with err set)
 * stops the scan, and match_scan returns -1 with that error. */
typedef int (*match_hit_fn)(void *ctx, const struct match_hit *hit, struct kz_error *err);

struct match_stats {
    uint64_t bytes; /* input bytes after decompression */
    uint64_t lines;
    uint64_t fields;          /* fields the format reader produced */
    uint64_t candidates;      /* values looked up */
    uint64_t hits;            /* hits reported (suppressed ones included when shown) */
    uint64_t suppressed;      /* hits on warninglisted values */
    uint64_t long_lines;      /* lines over MATCH_MAX_LINE, scanned as text pieces */
    uint64_t malformed_lines; /* lines the format reader could not parse, scanned as text */
    uint64_t skipped_tokens;  /* candidates over MATCH_MAX_VALUE_BYTES */
    uint64_t redone_blocks;   /* blocks rescanned after a mid-file header change */
};

/* Scans every line of r against idx (finished) and calls cb for each hit.
 * Uncompressed regular files are split into blocks at line boundaries and
 * scanned by opts->threads threads; gzip input and pipes are read by the
 * calling thread and the blocks handed to the threads. Hits are reported in
 * input order whatever the thread count. Adds to *stats (may be NULL).
 * Returns 0, or -1 with err set (I/O error, or the callback's error). */
int match_scan(const struct match_index *idx, struct logread *r, const struct match_scan_opts *opts,
               match_hit_fn cb, void *ctx, struct match_stats *stats, struct kz_error *err);

#endif
