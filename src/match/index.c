/*
 * The indicator index: one structure per kind, chosen for the lookup the
 * scanner makes millions of times a second (docs/internals/match.md):
 *   - addresses and CIDR blocks: one prefix table per family (match_int.h),
 *     exact addresses being /32 and /128 prefixes;
 *   - domains: a string table hashed right to left so that one pass over a
 *     log name hashes all its parents, plus a small set of the TLDs in use
 *     that rejects "index.html" before any probe;
 *   - URLs and e-mails: string tables over the normalised text;
 *   - hashes: binary digests in fixed-width open-addressing tables.
 */
#include "match/match.h"

#include <stdlib.h>
#include <string.h>

#include "match/match_int.h"

struct match_index *match_index_new(struct kz_error *err)
{
    struct match_index *idx = calloc(1, sizeof(*idx));

    if (!idx) {
        kz_error_set(err, KZ_ENOMEM, "out of memory creating the match index");
        return NULL;
    }
    idx->seed = mx_random_seed();
    for (int i = 0; i < 4; i++)
        mx_bintab_init(&idx->hashes[i], mx_digest_len[i], idx->seed);
    mx_iptab_init(&idx->v4, 32);
    mx_iptab_init(&idx->v6, 128);
    return idx;
}

void match_index_free(struct match_index *idx)
{
    if (!idx)
        return;
    mx_refs_free(&idx->refs);
    mx_strtab_free(&idx->domains);
    mx_strtab_free(&idx->urls);
    mx_strtab_free(&idx->emails);
    for (int i = 0; i < 4; i++)
        mx_bintab_free(&idx->hashes[i]);
    mx_iptab_free(&idx->v4);
    mx_iptab_free(&idx->v6);
    free(idx->tlds);
    free(idx->urlhosts);
    free(idx);
}

void match_index_set_psl(struct match_index *idx, const struct match_psl *psl)
{
    idx->psl = psl;
}

static int add_string(struct match_index *idx, struct mx_strtab *t, uint64_t h, const char *s,
                      size_t n, uint32_t ref, struct kz_error *err)
{
    struct mx_strslot *sl = mx_strtab_upsert(t, h, s, n);

    if (!sl || mx_refs_add(&idx->refs, &sl->val, ref) < 0)
        return kz_error_set(err, KZ_ENOMEM, "out of memory adding to the match index");
    return 0;
}

static int add_addr(struct match_index *idx, int family, const uint8_t *a, unsigned plen,
                    uint32_t ref, struct kz_error *err)
{
    uint8_t m[16] = {0};
    unsigned bits = family == 4 ? 32 : 128;
    struct mx_u128 u = {0, 0};
    int rc;

    if ((family != 4 && family != 6) || plen > bits)
        return kz_error_set(err, KZ_EINVALID, "an IPv%d prefix length must be 0..%u", family, bits);
    memcpy(m, a, bits / 8);
    for (unsigned b = plen; b < bits; b++)
        m[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
    if (family == 4) {
        u.lo = ((uint32_t)m[0] << 24) | ((uint32_t)m[1] << 16) | ((uint32_t)m[2] << 8) | m[3];
        rc = mx_iptab_add(&idx->v4, u, plen, ref);
    } else {
        u = mx_u128_from16(m);
        rc = mx_iptab_add(&idx->v6, u, plen, ref);
    }
    if (rc < 0)
        return kz_error_set(err, KZ_ENOMEM, "out of memory adding to the match index");
    return 0;
}

static int add_ip(struct match_index *idx, enum match_kind kind, const char *value, size_t n,
                  uint32_t ref, struct kz_error *err)
{
    int fam = 0, want = (kind == MATCH_IPV4 || kind == MATCH_CIDR4) ? 4 : 6;
    uint8_t a[16];
    unsigned plen = 0;

    if (match_cidr_parse(value, n, &fam, a, &plen, err) < 0)
        return -1;
    if (fam != want)
        return kz_error_set(err, KZ_EINVALID, "'%.*s' is an IPv%d value, not IPv%d",
                            (int)(n > 64 ? 64 : n), value, fam, want);
    return add_addr(idx, fam, a, plen, ref, err);
}

static int check_add(struct match_index *idx, uint32_t ref, struct kz_error *err)
{
    if (idx->frozen)
        return kz_error_set(err, KZ_EUSAGE, "the match index is already finished");
    if (ref > MATCH_MAX_REF)
        return kz_error_set(err, KZ_EINVALID, "indicator number %u is above %u", ref,
                            MATCH_MAX_REF);
    if (idx->nvalues >= MATCH_MAX_VALUES)
        return kz_error_set(err, KZ_ELIMIT, "more than %u indicator values", MATCH_MAX_VALUES);
    return 0;
}

int match_index_add_addr(struct match_index *idx, int family, const uint8_t *addr, unsigned plen,
                         uint32_t ref, struct kz_error *err)
{
    if (check_add(idx, ref, err) < 0 || add_addr(idx, family, addr, plen, ref, err) < 0)
        return -1;
    idx->nvalues++;
    return 0;
}

int match_index_add(struct match_index *idx, enum match_kind kind, const char *value, size_t n,
                    uint32_t ref, struct kz_error *err)
{
    char buf[MATCH_MAX_VALUE_BYTES * 3 + 16];
    size_t len = 0;

    if (check_add(idx, ref, err) < 0)
        return -1;
    if (n > MATCH_MAX_VALUE_BYTES)
        return kz_error_set(err, KZ_ELIMIT, "%s value is longer than %d bytes",
                            match_kind_name(kind), MATCH_MAX_VALUE_BYTES);
    switch (kind) {
    case MATCH_IPV4:
    case MATCH_IPV6:
    case MATCH_CIDR4:
    case MATCH_CIDR6:
        if (add_ip(idx, kind, value, n, ref, err) < 0)
            return -1;
        break;
    case MATCH_DOMAIN:
        if (match_domain_normalise(value, n, buf, sizeof(buf), &len, err) < 0 ||
            add_string(idx, &idx->domains, mx_dhash(buf, len, idx->seed), buf, len, ref, err) < 0)
            return -1;
        break;
    case MATCH_URL:
        if (match_url_normalise(value, n, buf, sizeof(buf), &len, err) < 0 ||
            add_string(idx, &idx->urls, mx_hash(buf, len, idx->seed), buf, len, ref, err) < 0)
            return -1;
        break;
    case MATCH_EMAIL:
        if (match_email_normalise(value, n, buf, sizeof(buf), &len, err) < 0 ||
            add_string(idx, &idx->emails, mx_hash(buf, len, idx->seed), buf, len, ref, err) < 0)
            return -1;
        break;
    case MATCH_MD5:
    case MATCH_SHA1:
    case MATCH_SHA256:
    case MATCH_SHA512: {
        enum match_kind got;
        uint8_t bin[64];
        unsigned char *valp;
        uint32_t v;
        size_t s = 0, e = n;
        while (s < e && (value[s] == ' ' || value[s] == '\t'))
            s++;
        while (e > s && (value[e - 1] == ' ' || value[e - 1] == '\t'))
            e--;
        if (match_hash_parse(value + s, e - s, &got, bin) < 0 || got != kind)
            return kz_error_set(err, KZ_EINVALID, "a %s is %u hexadecimal digits",
                                match_kind_name(kind), mx_digest_len[mx_hash_slot(kind)] * 2);
        valp = mx_bintab_upsert(&idx->hashes[mx_hash_slot(kind)], bin);
        if (!valp)
            return kz_error_set(err, KZ_ENOMEM, "out of memory adding to the match index");
        memcpy(&v, valp, 4);
        if (mx_refs_add(&idx->refs, &v, ref) < 0)
            return kz_error_set(err, KZ_ENOMEM, "out of memory adding to the match index");
        memcpy(valp, &v, 4);
        break;
    }
    default: return kz_error_set(err, KZ_EINVALID, "unknown indicator kind %d", (int)kind);
    }
    idx->nvalues++;
    return 0;
}

static int freeze_strtab(struct match_index *idx, struct mx_strtab *t)
{
    for (size_t i = 0; t->slots && i <= t->mask; i++)
        if (t->slots[i].val != MX_EMPTY && mx_refs_freeze(&idx->refs, &t->slots[i].val) < 0)
            return -1;
    return 0;
}

static int tld_insert(struct match_index *idx, uint64_t h)
{
    uint32_t i;

    if (h == 0)
        h = 1;
    for (i = (uint32_t)h & idx->tld_mask;; i = (i + 1) & idx->tld_mask) {
        if (idx->tlds[i] == h)
            return 0;
        if (idx->tlds[i] == 0) {
            idx->tlds[i] = h;
            return 1;
        }
    }
}

/* Marks the domains that may match their subdomains and collects the TLDs. */
static int finish_domains(struct match_index *idx)
{
    struct mx_strtab *t = &idx->domains;
    size_t cap = 64;

    while (cap < t->n * 2 + 2)
        cap *= 2;
    if (cap > 65536 * 4)
        cap = 65536 * 4; /* there are ~1,500 TLDs; the set stays sparse */
    idx->tlds = calloc(cap, sizeof(*idx->tlds));
    if (!idx->tlds)
        return -1;
    idx->tld_mask = (uint32_t)(cap - 1);
    for (size_t i = 0; t->slots && i <= t->mask; i++) {
        struct mx_strslot *sl = &t->slots[i];
        const char *k;
        size_t n, j;
        uint64_t h = idx->seed;
        if (sl->val == MX_EMPTY)
            continue;
        k = t->arena + sl->off;
        n = MX_SLOT_LEN(sl);
        for (j = n; j > 0 && k[j - 1] != '.'; j--)
            h = mx_dstep(h, (unsigned char)k[j - 1]);
        tld_insert(idx, mx_dfinal(h));
        if (!match_psl_is_public_suffix(idx->psl, k, n))
            sl->len_flags |= MX_FLAG_PARENT_OK << 24;
    }
    return 0;
}

/* The Bloom filter of the URL indicators' hosts. */
static int finish_url_hosts(struct match_index *idx)
{
    const struct mx_strtab *t = &idx->urls;
    size_t words = 2;
    unsigned lg = 1;

    if (t->n == 0)
        return 0;
    while (words * 64 < t->n * 16) {
        words *= 2;
        lg++;
    }
    idx->urlhosts = calloc(words, sizeof(uint64_t));
    if (!idx->urlhosts)
        return -1;
    idx->uh_shift = 64 - lg;
    for (size_t i = 0; i <= t->mask; i++) {
        const struct mx_strslot *sl = &t->slots[i];
        size_t h, hl, rest;
        uint64_t w, b;
        if (sl->val == MX_EMPTY ||
            mx_url_split(t->arena + sl->off, MX_SLOT_LEN(sl), &h, &hl, &rest) < 0)
            continue;
        b = mx_filter_bits(mx_hash(t->arena + sl->off + h, hl, idx->seed), idx->uh_shift, &w);
        idx->urlhosts[w] |= b;
    }
    return 0;
}

int mx_url_host_maybe(const struct match_index *idx, const char *h, size_t n)
{
    char low[MATCH_MAX_DOMAIN + 1];
    uint64_t w, b;

    if (!idx->urlhosts)
        return 0;
    while (n > 0 && h[n - 1] == '.')
        n--;
    if (n > MATCH_MAX_DOMAIN)
        return 1;
    for (size_t i = 0; i < n; i++) {
        if (h[i] == '%' || h[i] == ':')
            return 1; /* escapes and IPv6 literals change in normalisation */
        low[i] = (char)mx_lower[(unsigned char)h[i]];
    }
    if (mx_has_u8(h, n))
        return 1; /* so do Unicode names (A-labels) */
    b = mx_filter_bits(mx_hash(low, n, idx->seed), idx->uh_shift, &w);
    return (idx->urlhosts[w] & b) == b;
}

int match_index_finish(struct match_index *idx, struct kz_error *err)
{
    if (idx->frozen)
        return kz_error_set(err, KZ_EUSAGE, "the match index is already finished");
    if (freeze_strtab(idx, &idx->domains) < 0 || freeze_strtab(idx, &idx->urls) < 0 ||
        freeze_strtab(idx, &idx->emails) < 0)
        goto nomem;
    for (int h = 0; h < 4; h++) {
        struct mx_bintab *t = &idx->hashes[h];
        for (size_t i = 0; t->slots && i <= t->mask; i++) {
            unsigned char *valp = t->slots + i * t->stride + t->klen;
            uint32_t v;
            memcpy(&v, valp, 4);
            if (v == MX_EMPTY)
                continue;
            if (mx_refs_freeze(&idx->refs, &v) < 0)
                goto nomem;
            memcpy(valp, &v, 4);
        }
    }
    if (mx_iptab_freeze(&idx->v4, &idx->refs) < 0 || mx_iptab_freeze(&idx->v6, &idx->refs) < 0)
        goto nomem;
    if (finish_domains(idx) < 0 || finish_url_hosts(idx) < 0 ||
        mx_strtab_freeze(&idx->domains) < 0 || mx_strtab_freeze(&idx->urls) < 0 ||
        mx_strtab_freeze(&idx->emails) < 0)
        goto nomem;
    mx_refs_drop_pool(&idx->refs);
    idx->count[MATCH_IPV4] = idx->v4.nexact;
    idx->count[MATCH_CIDR4] = idx->v4.nnodes - idx->v4.nexact;
    idx->count[MATCH_IPV6] = idx->v6.nexact;
    idx->count[MATCH_CIDR6] = idx->v6.nnodes - idx->v6.nexact;
    idx->count[MATCH_DOMAIN] = idx->domains.n;
    idx->count[MATCH_URL] = idx->urls.n;
    idx->count[MATCH_EMAIL] = idx->emails.n;
    idx->count[MATCH_MD5] = idx->hashes[0].n;
    idx->count[MATCH_SHA1] = idx->hashes[1].n;
    idx->count[MATCH_SHA256] = idx->hashes[2].n;
    idx->count[MATCH_SHA512] = idx->hashes[3].n;
    idx->frozen = 1;
    return 0;
nomem:
    return kz_error_set(err, KZ_ENOMEM, "out of memory building the match index");
}

size_t match_index_count(const struct match_index *idx, enum match_kind kind)
{
    return (unsigned)kind < MATCH_KIND_COUNT ? idx->count[kind] : 0;
}

size_t match_index_memory(const struct match_index *idx)
{
    size_t m = sizeof(*idx);

    m += mx_strtab_memory(&idx->domains) + mx_strtab_memory(&idx->urls) +
         mx_strtab_memory(&idx->emails);
    for (int i = 0; i < 4; i++)
        m += idx->hashes[i].slots ? ((size_t)idx->hashes[i].mask + 1) * idx->hashes[i].stride : 0;
    m += mx_iptab_memory(&idx->v4) + mx_iptab_memory(&idx->v6);
    m += idx->refs.lcap * sizeof(uint32_t) + idx->refs.pcap * sizeof(struct mx_refnode);
    if (idx->tlds)
        m += ((size_t)idx->tld_mask + 1) * sizeof(uint64_t);
    if (idx->urlhosts)
        m += sizeof(uint64_t) << (64 - idx->uh_shift);
    return m;
}

/* --- lookups ------------------------------------------------------------ */

static void span_from_val(const struct match_index *idx, const uint32_t *valp,
                          struct match_span *sp, uint32_t plen, uint32_t off)
{
    mx_refs_get(&idx->refs, valp, &sp->refs, &sp->nrefs);
    sp->plen = plen;
    sp->off = off;
}

static unsigned ip_chain(const struct match_index *idx, const struct mx_iptab *t, uint32_t node,
                         struct match_refs *out)
{
    out->n = 0;
    while (node != MX_NONE && out->n < MATCH_MAX_SPANS) {
        const struct mx_ipnode *nd = &t->nodes[node];
        span_from_val(idx, &nd->val, &out->span[out->n++], nd->plen, 0);
        node = nd->parent;
    }
    return out->n;
}

unsigned match_index_lookup_ipv4(const struct match_index *idx, uint32_t addr,
                                 struct match_refs *out)
{
    return ip_chain(idx, &idx->v4, mx_iptab_find4(&idx->v4, addr), out);
}

unsigned match_index_lookup_ipv6(const struct match_index *idx, const uint8_t addr[16],
                                 struct match_refs *out)
{
    return ip_chain(idx, &idx->v6, mx_iptab_find6(&idx->v6, mx_u128_from16(addr)), out);
}

unsigned mx_lookup_domain(const struct match_index *idx, const char *s, size_t n, int subdomains,
                          struct match_refs *out)
{
    uint64_t h = idx->seed;
    size_t i = n;
    unsigned found = 0;
    struct match_span tmp[MATCH_MAX_SPANS];

    out->n = 0;
    if (idx->domains.n == 0)
        return 0;
    while (i > 0 && s[i - 1] != '.')
        h = mx_dstep(h, (unsigned char)s[--i]);
    if (i == 0 || !mx_tld_known(idx, mx_dfinal(h)))
        return 0;
    if (!subdomains) {
        const struct mx_strslot *sl;
        while (i > 0)
            h = mx_dstep(h, (unsigned char)s[--i]);
        sl = mx_strtab_find(&idx->domains, mx_dfinal(h), s, n, 1);
        if (!sl)
            return 0;
        span_from_val(idx, &sl->val, &out->span[0], 0, 0);
        out->n = 1;
        return 1;
    }
    /* Walk the parents from the shortest; then report the longest first. */
    while (i > 0) {
        h = mx_dstep(h, '.');
        i--;
        while (i > 0 && s[i - 1] != '.')
            h = mx_dstep(h, (unsigned char)s[--i]);
        {
            const struct mx_strslot *sl =
                    mx_strtab_find(&idx->domains, mx_dfinal(h), s + i, n - i, 1);
            if (sl && (i == 0 || (MX_SLOT_FLAGS(sl) & MX_FLAG_PARENT_OK)) &&
                found < MATCH_MAX_SPANS)
                span_from_val(idx, &sl->val, &tmp[found++], 0, (uint32_t)i);
        }
    }
    for (unsigned k = 0; k < found; k++)
        out->span[k] = tmp[found - 1 - k];
    out->n = found;
    return found;
}

unsigned match_index_lookup_domain(const struct match_index *idx, const char *d, size_t n,
                                   int subdomains, struct match_refs *out)
{
    return mx_lookup_domain(idx, d, n, subdomains, out);
}

static unsigned lookup_str(const struct match_index *idx, const struct mx_strtab *t, const char *s,
                           size_t n, struct match_refs *out)
{
    const struct mx_strslot *sl;

    out->n = 0;
    if (t->n == 0)
        return 0;
    sl = mx_strtab_find(t, mx_hash(s, n, idx->seed), s, n, 0);
    if (!sl)
        return 0;
    span_from_val(idx, &sl->val, &out->span[0], 0, 0);
    out->n = 1;
    return 1;
}

unsigned match_index_lookup_url(const struct match_index *idx, const char *u, size_t n,
                                struct match_refs *out)
{
    return lookup_str(idx, &idx->urls, u, n, out);
}

unsigned match_index_lookup_email(const struct match_index *idx, const char *e, size_t n,
                                  struct match_refs *out)
{
    return lookup_str(idx, &idx->emails, e, n, out);
}

unsigned match_index_lookup_hash(const struct match_index *idx, enum match_kind kind,
                                 const uint8_t *digest, struct match_refs *out)
{
    const struct mx_bintab *t;
    const unsigned char *sl;

    out->n = 0;
    if (kind != MATCH_MD5 && kind != MATCH_SHA1 && kind != MATCH_SHA256 && kind != MATCH_SHA512)
        return 0;
    t = &idx->hashes[mx_hash_slot(kind)];
    if (t->n == 0)
        return 0;
    sl = mx_bintab_find(t, digest);
    if (!sl)
        return 0;
    /* Slots are 4-aligned: digest lengths and strides are multiples of 4. */
    span_from_val(idx, (const uint32_t *)(const void *)(sl + t->klen), &out->span[0], 0, 0);
    out->n = 1;
    return 1;
}

int match_index_lookup(const struct match_index *idx, enum match_kind kind, const char *s, size_t n,
                       int subdomains, struct match_refs *out, struct kz_error *err)
{
    char buf[MATCH_MAX_VALUE_BYTES * 3 + 16];
    size_t len = 0;

    out->n = 0;
    switch (kind) {
    case MATCH_IPV4:
    case MATCH_IPV6: {
        uint32_t v4;
        uint8_t a6[16];
        if (match_ipv4_parse(s, n, &v4) == 0)
            return (int)match_index_lookup_ipv4(idx, v4, out);
        if (match_ipv6_parse(s, n, a6) == 0)
            return (int)match_index_lookup_ipv6(idx, a6, out);
        return kz_error_set(err, KZ_EINVALID, "'%.*s' is not an IP address", (int)(n > 64 ? 64 : n),
                            s);
    }
    case MATCH_DOMAIN:
        if (match_domain_normalise(s, n, buf, sizeof(buf), &len, err) < 0)
            return -1;
        return (int)match_index_lookup_domain(idx, buf, len, subdomains, out);
    case MATCH_URL:
        if (match_url_normalise(s, n, buf, sizeof(buf), &len, err) < 0)
            return -1;
        return (int)match_index_lookup_url(idx, buf, len, out);
    case MATCH_EMAIL:
        if (match_email_normalise(s, n, buf, sizeof(buf), &len, err) < 0)
            return -1;
        return (int)match_index_lookup_email(idx, buf, len, out);
    case MATCH_MD5:
    case MATCH_SHA1:
    case MATCH_SHA256:
    case MATCH_SHA512: {
        enum match_kind got;
        uint8_t bin[64];
        if (match_hash_parse(s, n, &got, bin) < 0 || got != kind)
            return kz_error_set(err, KZ_EINVALID, "not a %s", match_kind_name(kind));
        return (int)match_index_lookup_hash(idx, kind, bin, out);
    }
    default: return kz_error_set(err, KZ_EINVALID, "cannot look up kind %s", match_kind_name(kind));
    }
}
