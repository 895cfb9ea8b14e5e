/*
 * Internal header of the matching engine, shared by the files of src/match/
 * and by its tests and fuzz harnesses; nothing outside src/match/ includes
 * it. It holds the building blocks (hashing, ref lists, the string, binary
 * and prefix tables) so that the index and the warninglists use the same
 * structures, and the byte classes of the tokenizer.
 *
 * Refs: a table slot holds one 32-bit value `val`. A val with the top bit
 * clear is a single ref; with it set, the low 31 bits index a ref list
 * ([count, ref, ref, ...] in struct mx_refs.lists once frozen, a chain of
 * pool nodes while building). MX_EMPTY marks a free slot.
 */
#ifndef KZ_MATCH_INT_H
#define KZ_MATCH_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "match/logread.h"
#include "match/match.h"
#include "util/error.h"
#include "util/text.h"

#define MX_EMPTY 0xffffffffu
#define MX_LIST  0x80000000u
#define MX_NONE  0xffffffffu

/* Load factor of the open-addressing tables: grow past 5/8 full. */
#define MX_LOAD_NUM 5
#define MX_LOAD_DEN 8

/* --- hashing ------------------------------------------------------------ */

static inline uint64_t mx_fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static inline uint64_t mx_load64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* A general hash of p[0..n) for URLs, e-mails and warninglist strings. */
static inline uint64_t mx_hash(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ ((uint64_t)n * 0x9e3779b97f4a7c15ULL);

    while (n >= 8) {
        h = (h ^ mx_load64(s)) * 0x87c37b91114253d5ULL;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t v = 0;
        memcpy(&v, s, n);
        h = (h ^ v) * 0x4cf5ad432745937fULL;
    }
    return mx_fmix64(h);
}

/* ASCII lowercase table (other bytes map to themselves). */
extern const unsigned char mx_lower[256];

/* The domain hash runs from the last byte to the first, folding case, so
 * that one pass over "a.b.evil.com" yields the hash of every suffix at a
 * label boundary: mx_dstep per byte, mx_dfinal for the hash of the suffix
 * read so far. The hash of a whole name equals its hash as a suffix. */
#define MX_FNV_PRIME 0x100000001b3ULL
static inline uint64_t mx_dstep(uint64_t h, unsigned char c)
{
    return (h ^ mx_lower[c]) * MX_FNV_PRIME;
}
static inline uint64_t mx_dfinal(uint64_t h)
{
    return mx_fmix64(h);
}
uint64_t mx_dhash(const char *s, size_t n, uint64_t seed);

/* A per-process random seed (getrandom, else time and address bits), so
 * that hostile indicator values cannot be chosen to collide. */
uint64_t mx_random_seed(void);

/* --- ref lists ---------------------------------------------------------- */

struct mx_refnode {
    uint32_t ref;
    uint32_t next;
};

struct mx_refs {
    struct mx_refnode *pool; /* build-time chains */
    size_t npool, pcap;
    uint32_t *lists; /* frozen: [n, refs...] runs */
    size_t nlists, lcap;
};

/* Adds ref to *val (MX_EMPTY, a single ref or a chain). -1 on ENOMEM. */
int mx_refs_add(struct mx_refs *rs, uint32_t *val, uint32_t ref);
/* Turns a chain val into a sorted unique list (or a single ref). */
int mx_refs_freeze(struct mx_refs *rs, uint32_t *val);
/* Drops the build pool once every chain is frozen. */
void mx_refs_drop_pool(struct mx_refs *rs);
void mx_refs_free(struct mx_refs *rs);

/* The refs of a frozen val. valp must point into the frozen table (a single
 * ref is returned as a pointer to the val itself). */
static inline void mx_refs_get(const struct mx_refs *rs, const uint32_t *valp,
                               const uint32_t **refs, uint32_t *n)
{
    if (*valp & MX_LIST) {
        const uint32_t *l = rs->lists + (*valp & ~MX_LIST);
        *n = l[0];
        *refs = l + 1;
    } else {
        *n = 1;
        *refs = valp;
    }
}

/* --- string table -------------------------------------------------------
 * Open addressing, linear probing; keys live in one arena. The caller
 * computes the hash (mx_hash or mx_dhash, one kind per table). With `fold`
 * the lookup compares case-insensitively against lowercase keys. */

struct mx_strslot {
    uint32_t tag;       /* high 32 bits of the hash */
    uint32_t off;       /* key offset in the arena */
    uint32_t len_flags; /* key length (low 24 bits), flags (high 8) */
    uint32_t val;       /* MX_EMPTY when free */
};
#define MX_SLOT_LEN(s)    ((s)->len_flags & 0xffffffu)
#define MX_SLOT_FLAGS(s)  ((s)->len_flags >> 24)
#define MX_FLAG_PARENT_OK 1u /* a domain that may match its subdomains */

struct mx_strtab {
    struct mx_strslot *slots;
    uint32_t mask; /* capacity - 1; 0 with slots == NULL when empty */
    size_t n;
    char *arena;
    size_t alen, acap;
    /* A blocked Bloom filter in front of the slots (16 bits per key, two
     * bits in one 64-bit word), built by mx_strtab_freeze: most absent
     * keys are rejected from a small, cache-resident array instead of a
     * probe into the large slot table. NULL: no filter. */
    uint64_t *filt;
    unsigned fshift; /* 64 - log2(words) */
};

/* Finds or inserts key s[0..n) with hash h; returns its slot (whose val is
 * MX_EMPTY when new) or NULL on ENOMEM. Pointers die on the next insert. */
struct mx_strslot *mx_strtab_upsert(struct mx_strtab *t, uint64_t h, const char *s, size_t n);
void mx_strtab_free(struct mx_strtab *t);
size_t mx_strtab_memory(const struct mx_strtab *t);
/* Builds the filter once no more keys come; -1 on ENOMEM. */
int mx_strtab_freeze(struct mx_strtab *t);

static inline uint64_t mx_filter_bits(uint64_t h, unsigned fshift, uint64_t *word)
{
    uint64_t f = h * 0x9e3779b97f4a7c15ULL;

    *word = f >> fshift;
    return (1ULL << ((f >> 8) & 63)) | (1ULL << ((f >> 14) & 63));
}

static inline int mx_memeq_fold(const char *key, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] != mx_lower[(unsigned char)s[i]])
            return 0;
    return 1;
}

static inline const struct mx_strslot *mx_strtab_find(const struct mx_strtab *t, uint64_t h,
                                                      const char *s, size_t n, int fold)
{
    uint32_t i, tag = (uint32_t)(h >> 32);

    if (!t->slots)
        return NULL;
    if (t->filt) {
        uint64_t w, bits = mx_filter_bits(h, t->fshift, &w);
        if ((t->filt[w] & bits) != bits)
            return NULL;
    }
    for (i = (uint32_t)h & t->mask;; i = (i + 1) & t->mask) {
        const struct mx_strslot *sl = &t->slots[i];
        if (sl->val == MX_EMPTY)
            return NULL;
        if (sl->tag == tag && MX_SLOT_LEN(sl) == n) {
            const char *k = t->arena + sl->off;
            if (fold ? mx_memeq_fold(k, s, n) : memcmp(k, s, n) == 0)
                return sl;
        }
    }
}

/* --- fixed-size binary key table (hash digests) ------------------------- */

struct mx_bintab {
    unsigned char *slots; /* stride bytes each: key, then val (unaligned) */
    uint32_t mask;
    size_t n;
    unsigned klen, stride;
    uint64_t seed;
};

void mx_bintab_init(struct mx_bintab *t, unsigned klen, uint64_t seed);
/* Finds or inserts; returns a pointer to the slot's val (MX_EMPTY if new),
 * or NULL on ENOMEM. Use memcpy to read/write it (unaligned). */
unsigned char *mx_bintab_upsert(struct mx_bintab *t, const unsigned char *key);
void mx_bintab_free(struct mx_bintab *t);

static inline uint32_t mx_bintab_val(const unsigned char *slot, unsigned klen)
{
    uint32_t v;
    memcpy(&v, slot + klen, 4);
    return v;
}

static inline const unsigned char *mx_bintab_find(const struct mx_bintab *t,
                                                  const unsigned char *key)
{
    uint32_t i;

    if (!t->slots)
        return NULL;
    for (i = (uint32_t)mx_fmix64(mx_load64(key) ^ t->seed) & t->mask;; i = (i + 1) & t->mask) {
        const unsigned char *sl = t->slots + (size_t)i * t->stride;
        if (mx_bintab_val(sl, t->klen) == MX_EMPTY)
            return NULL;
        if (memcmp(sl, key, t->klen) == 0)
            return sl;
    }
}

/* --- prefix table (IPv4 or IPv6) ----------------------------------------
 * Build: prefixes are staged. Freeze: sorted by (start, length), grouped,
 * and swept into disjoint ranges, each pointing at the innermost prefix
 * covering it; every prefix node points at its parent (the next shorter
 * covering prefix). Lookup: a 2^16-entry index on the top 16 bits narrows a
 * binary search over the range starts; the parent chain then yields every
 * covering prefix. */

struct mx_u128 {
    uint64_t hi, lo;
};

struct mx_ipstage {
    struct mx_u128 addr; /* masked network address (IPv4 in lo's low 32 bits) */
    uint32_t ref;
    uint32_t plen;
};

struct mx_ipnode {
    uint32_t val;
    uint32_t parent; /* MX_NONE at the top */
    uint32_t plen;
};

struct mx_iptab {
    unsigned bits; /* 32 or 128 */
    /* build */
    struct mx_ipstage *stage;
    size_t nstage, scap;
    /* frozen */
    struct mx_ipnode *nodes;
    size_t nnodes;
    uint32_t *start4;       /* IPv4 range starts */
    struct mx_u128 *start6; /* IPv6 range starts */
    uint32_t *rnode;        /* node of each range, MX_NONE for none */
    size_t nranges;
    uint32_t *top;    /* 65537 entries: first range with start >= (k << (bits-16)) */
    size_t nexact;    /* full-length prefixes */
    uint64_t *blocks; /* IPv4: a bit per /24 that any prefix touches (2 MiB) */
};

void mx_iptab_init(struct mx_iptab *t, unsigned bits);
/* addr: IPv4 in host order in lo (bits 32), IPv6 as (hi, lo) big-endian
 * halves; host bits must already be clear. */
int mx_iptab_add(struct mx_iptab *t, struct mx_u128 addr, unsigned plen, uint32_t ref);
int mx_iptab_freeze(struct mx_iptab *t, struct mx_refs *rs);
void mx_iptab_free(struct mx_iptab *t);
size_t mx_iptab_memory(const struct mx_iptab *t);

/* The innermost node covering addr, or MX_NONE. */
uint32_t mx_iptab_find4_slow(const struct mx_iptab *t, uint32_t addr);
static inline uint32_t mx_iptab_find4(const struct mx_iptab *t, uint32_t addr)
{
    if (!t->blocks || !(t->blocks[addr >> 14] & (1ULL << ((addr >> 8) & 63))))
        return MX_NONE; /* no prefix touches addr's /24: the common answer */
    return mx_iptab_find4_slow(t, addr);
}
uint32_t mx_iptab_find6(const struct mx_iptab *t, struct mx_u128 addr);

static inline struct mx_u128 mx_u128_from16(const uint8_t a[16])
{
    struct mx_u128 r = {0, 0};
    for (int i = 0; i < 8; i++) {
        r.hi = (r.hi << 8) | a[i];
        r.lo = (r.lo << 8) | a[8 + i];
    }
    return r;
}

/* --- small helpers ------------------------------------------------------ */

/* Hex digits: kz_is_hex and kz_hexval (util/text.h). */

/* memmem without _GNU_SOURCE: kz_memmem (util/text.h). */

/* match_tokenize; returns whether a '%' lay between atoms (the field may
 * hold percent-encoded values worth decoding). */
int mx_tokenize(const char *s, size_t n, match_token_fn fn, void *ctx);

/* Domain syntax check on an already lowercased name without a trailing dot
 * (the rules of match_domain_normalise). Returns 0 or -1, *why set. */
int mx_domain_check(const char *d, size_t n, const char **why);

/* Whether s[0..n) holds a byte above 0x7f (a Unicode name to convert).
 * Runs on every domain the scanner looks up: eight bytes at a time. */
static inline int mx_has_u8(const char *s, size_t n)
{
    uint64_t acc = 0, w;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    for (; i < n; i++)
        acc |= (unsigned char)s[i];
    return (acc & 0x8080808080808080ull) != 0;
}

/* match_domain_alabel without an error message (hot path): 0; -1 with *why
 * a static reason (empty label, a limit); -2 with *why libidn2's reason. */
int mx_idn_alabel(const char *in, size_t n, char *out, size_t cap, size_t *outlen,
                  const char **why);

/* Sets err for mx_idn_alabel's failure rc on the name in[0..n); returns -1. */
int mx_idn_error(struct kz_error *err, const char *in, size_t n, int rc, const char *why);

/* Lowercases and normalises the URL like match_url_normalise, without an
 * error message (hot path); 0 or -1. */
int mx_url_norm(const char *in, size_t n, char *out, size_t cap, size_t *outlen, const char **why);

/* Splits a URL into the parts the scanner needs: [host, host+hlen) (without
 * brackets for IPv6), and the offset where path/query starts (n if none).
 * Returns 0, or -1 when there is no "scheme://". */
int mx_url_split(const char *u, size_t n, size_t *host, size_t *hlen, size_t *rest);

/* --- the index internals used by the scanner ----------------------------- */

struct match_index {
    int frozen;
    uint64_t seed;
    const struct match_psl *psl;
    struct mx_refs refs;
    struct mx_strtab domains;   /* mx_dhash, keys lowercase */
    struct mx_strtab urls;      /* mx_hash over normalised text */
    struct mx_strtab emails;    /* mx_hash over normalised text */
    struct mx_bintab hashes[4]; /* md5, sha1, sha256, sha512 */
    struct mx_iptab v4, v6;
    uint64_t *tlds; /* mx_dfinal of the last label of each domain, 0 = free */
    uint32_t tld_mask;
    /* Bloom filter of the hosts of the URL indicators (mx_hash of the
     * normalised host): a log URL whose host is absent needs no
     * normalisation. */
    uint64_t *urlhosts;
    unsigned uh_shift;
    size_t count[MATCH_KIND_COUNT];
    size_t nvalues;
};

/* Whether the TLD hash of a candidate can belong to an indicator. */
static inline int mx_tld_known(const struct match_index *idx, uint64_t h)
{
    uint32_t i;

    if (!idx->tlds)
        return 0;
    if (h == 0)
        h = 1;
    for (i = (uint32_t)h & idx->tld_mask;; i = (i + 1) & idx->tld_mask) {
        if (idx->tlds[i] == h)
            return 1;
        if (idx->tlds[i] == 0)
            return 0;
    }
}

/* The hash-kind index 0..3 of MD5..SHA512, digest lengths. */
static inline int mx_hash_slot(enum match_kind k)
{
    return k == MATCH_MD5 ? 0 : k == MATCH_SHA1 ? 1 : k == MATCH_SHA256 ? 2 : 3;
}
extern const unsigned mx_digest_len[4];

/* Whether a log URL's host (raw, from mx_url_split) may belong to a URL
 * indicator; 1 when unsure (escapes, IPv6 literals). */
int mx_url_host_maybe(const struct match_index *idx, const char *h, size_t n);

/* Domain lookup with a hash state computed by the caller: s[0..n) may be in
 * any case (compared folded). */
unsigned mx_lookup_domain(const struct match_index *idx, const char *s, size_t n, int subdomains,
                          struct match_refs *out);

/* --- fuzzing (fuzzcheck.c) ---------------------------------------------- */

/* Scans data as a log of format fmt against a fixed index and warninglist
 * set and checks every hit's invariants; aborts when one breaks. The body
 * of fuzz/fuzz_match_*.c and of the corpus replay test. */
int mx_fuzz_one(enum logread_format fmt, const uint8_t *data, size_t n);
/* Frees what mx_fuzz_one set up. */
void mx_fuzz_free(void);

#endif
