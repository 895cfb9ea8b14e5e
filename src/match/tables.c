/*
 * The containers of the matching engine (match_int.h): ref lists, the string
 * and binary-key hash tables, and the prefix table for IPv4/IPv6 CIDR
 * blocks. All are built incrementally, then frozen; a frozen table is only
 * read, so any number of threads may look up at once.
 */
#include "match/match_int.h"

#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

const unsigned char mx_lower[256] = {
#define R4(b)  (b), (b) + 1, (b) + 2, (b) + 3
#define R16(b) R4(b), R4((b) + 4), R4((b) + 8), R4((b) + 12)
        R16(0x00), R16(0x10), R16(0x20), R16(0x30), 0x40,      'a',       'b',       'c',
        'd',       'e',       'f',       'g',       'h',       'i',       'j',       'k',
        'l',       'm',       'n',       'o',       'p',       'q',       'r',       's',
        't',       'u',       'v',       'w',       'x',       'y',       'z',       0x5b,
        0x5c,      0x5d,      0x5e,      0x5f,      R16(0x60), R16(0x70), R16(0x80), R16(0x90),
        R16(0xa0), R16(0xb0), R16(0xc0), R16(0xd0), R16(0xe0), R16(0xf0),
#undef R16
#undef R4
};

const unsigned mx_digest_len[4] = {16, 20, 32, 64};

uint64_t mx_dhash(const char *s, size_t n, uint64_t seed)
{
    uint64_t h = seed;

    while (n)
        h = mx_dstep(h, (unsigned char)s[--n]);
    return mx_dfinal(h);
}

uint64_t mx_random_seed(void)
{
    uint64_t s = 0;

    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)&s;
    }
    return mx_fmix64(s) | 1;
}

/* --- ref lists ---------------------------------------------------------- */

static int grow_array(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t want;
    void *np;

    if (need <= *cap)
        return 0;
    want = *cap ? *cap : 16;
    while (want < need)
        want *= 2;
    if (want > SIZE_MAX / elem)
        return -1;
    np = realloc(*p, want * elem);
    if (!np)
        return -1;
    *p = np;
    *cap = want;
    return 0;
}

int mx_refs_add(struct mx_refs *rs, uint32_t *val, uint32_t ref)
{
    uint32_t head = MX_NONE;

    if (*val == MX_EMPTY) {
        *val = ref;
        return 0;
    }
    if (!(*val & MX_LIST)) {
        if (*val == ref)
            return 0;
        if (rs->npool + 2 > MX_LIST - 1)
            return -1;
        if (grow_array((void **)&rs->pool, &rs->pcap, rs->npool + 2, sizeof(*rs->pool)) < 0)
            return -1;
        rs->pool[rs->npool] = (struct mx_refnode){*val, MX_NONE};
        head = (uint32_t)rs->npool++;
    } else {
        head = *val & ~MX_LIST;
        if (rs->pool[head].ref == ref)
            return 0; /* the common repeat: the same ref added twice in a row */
        if (rs->npool + 1 > MX_LIST - 1)
            return -1;
        if (grow_array((void **)&rs->pool, &rs->pcap, rs->npool + 1, sizeof(*rs->pool)) < 0)
            return -1;
    }
    rs->pool[rs->npool] = (struct mx_refnode){ref, head};
    *val = MX_LIST | (uint32_t)rs->npool++;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int mx_refs_freeze(struct mx_refs *rs, uint32_t *val)
{
    size_t n = 0, start, u;
    uint32_t i;

    if (*val == MX_EMPTY || !(*val & MX_LIST))
        return 0;
    for (i = *val & ~MX_LIST; i != MX_NONE; i = rs->pool[i].next)
        n++;
    start = rs->nlists;
    if (start + n + 1 >= MX_LIST)
        return -1;
    if (grow_array((void **)&rs->lists, &rs->lcap, start + n + 1, sizeof(*rs->lists)) < 0)
        return -1;
    n = 0;
    for (i = *val & ~MX_LIST; i != MX_NONE; i = rs->pool[i].next)
        rs->lists[start + 1 + n++] = rs->pool[i].ref;
    qsort(rs->lists + start + 1, n, sizeof(uint32_t), cmp_u32);
    u = 0;
    for (size_t k = 0; k < n; k++)
        if (u == 0 || rs->lists[start + 1 + k] != rs->lists[start + u])
            rs->lists[start + 1 + u++] = rs->lists[start + 1 + k];
    if (u == 1) {
        *val = rs->lists[start + 1];
        return 0;
    }
    rs->lists[start] = (uint32_t)u;
    rs->nlists = start + 1 + u;
    *val = MX_LIST | (uint32_t)start;
    return 0;
}

void mx_refs_drop_pool(struct mx_refs *rs)
{
    free(rs->pool);
    rs->pool = NULL;
    rs->npool = rs->pcap = 0;
    if (rs->lists && rs->lcap > rs->nlists + 16) {
        uint32_t *p = realloc(rs->lists, (rs->nlists + 1) * sizeof(*p));
        if (p) {
            rs->lists = p;
            rs->lcap = rs->nlists + 1;
        }
    }
}

void mx_refs_free(struct mx_refs *rs)
{
    free(rs->pool);
    free(rs->lists);
    memset(rs, 0, sizeof(*rs));
}

/* --- string table ------------------------------------------------------- */

/* Rehashing needs each key's hash again and the table does not know the
 * hash function (mx_hash or mx_dhash): so each key in the arena is preceded
 * by the low 32 bits of its hash, which pick the slot. */

static int strtab_grow(struct mx_strtab *t)
{
    uint32_t ncap = t->slots ? (t->mask + 1) * 2 : 64;
    struct mx_strslot *ns;

    if (ncap == 0)
        return -1;
    ns = malloc((size_t)ncap * sizeof(*ns));
    if (!ns)
        return -1;
    for (uint32_t i = 0; i < ncap; i++)
        ns[i].val = MX_EMPTY;
    if (t->slots) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            const struct mx_strslot *s = &t->slots[i];
            const char *k;
            uint32_t j, lowbits;
            if (s->val == MX_EMPTY)
                continue;
            k = t->arena + s->off;
            memcpy(&lowbits, k - 4, 4);
            j = lowbits & (ncap - 1);
            while (ns[j].val != MX_EMPTY)
                j = (j + 1) & (ncap - 1);
            ns[j] = *s;
        }
    }
    free(t->slots);
    t->slots = ns;
    t->mask = ncap - 1;
    return 0;
}

struct mx_strslot *mx_strtab_upsert(struct mx_strtab *t, uint64_t h, const char *s, size_t n)
{
    uint32_t i, tag = (uint32_t)(h >> 32), low = (uint32_t)h;
    struct mx_strslot *sl;

    if (n > 0xffffff)
        return NULL;
    if (!t->slots || (t->n + 1) * MX_LOAD_DEN > ((size_t)t->mask + 1) * MX_LOAD_NUM) {
        if (strtab_grow(t) < 0)
            return NULL;
    }
    for (i = low & t->mask;; i = (i + 1) & t->mask) {
        sl = &t->slots[i];
        if (sl->val == MX_EMPTY)
            break;
        if (sl->tag == tag && MX_SLOT_LEN(sl) == n && memcmp(t->arena + sl->off, s, n) == 0)
            return sl;
    }
    /* New key: arena gets [low hash word][key][NUL]. */
    if (t->alen + n + 5 > UINT32_MAX)
        return NULL;
    if (grow_array((void **)&t->arena, &t->acap, t->alen + n + 5, 1) < 0)
        return NULL;
    memcpy(t->arena + t->alen, &low, 4);
    memcpy(t->arena + t->alen + 4, s, n);
    t->arena[t->alen + 4 + n] = '\0';
    sl->tag = tag;
    sl->off = (uint32_t)(t->alen + 4);
    sl->len_flags = (uint32_t)n;
    t->alen += n + 5;
    t->n++;
    return sl;
}

int mx_strtab_freeze(struct mx_strtab *t)
{
    size_t words = 2, bits;
    unsigned lg = 1;

    free(t->filt);
    t->filt = NULL;
    if (t->n == 0)
        return 0;
    bits = t->n * 16;
    while (words * 64 < bits) {
        words *= 2;
        lg++;
    }
    t->filt = calloc(words, sizeof(uint64_t));
    if (!t->filt)
        return -1;
    t->fshift = 64 - lg;
    for (uint32_t i = 0; i <= t->mask; i++) {
        const struct mx_strslot *sl = &t->slots[i];
        uint32_t low;
        uint64_t w, b;
        if (sl->val == MX_EMPTY)
            continue;
        memcpy(&low, t->arena + sl->off - 4, 4);
        b = mx_filter_bits(((uint64_t)sl->tag << 32) | low, t->fshift, &w);
        t->filt[w] |= b;
    }
    return 0;
}

void mx_strtab_free(struct mx_strtab *t)
{
    free(t->filt);
    free(t->slots);
    free(t->arena);
    memset(t, 0, sizeof(*t));
}

size_t mx_strtab_memory(const struct mx_strtab *t)
{
    size_t f = 0;

    if (t->filt)
        f = sizeof(uint64_t) << (64 - t->fshift);
    return (t->slots ? ((size_t)t->mask + 1) * sizeof(struct mx_strslot) : 0) + t->acap + f;
}

/* --- binary key table --------------------------------------------------- */

void mx_bintab_init(struct mx_bintab *t, unsigned klen, uint64_t seed)
{
    memset(t, 0, sizeof(*t));
    t->klen = klen;
    t->stride = klen + 4;
    t->seed = seed;
}

static int bintab_grow(struct mx_bintab *t)
{
    uint32_t ncap = t->slots ? (t->mask + 1) * 2 : 64;
    unsigned char *ns;
    uint32_t empty = MX_EMPTY;

    if (ncap == 0)
        return -1;
    ns = malloc((size_t)ncap * t->stride);
    if (!ns)
        return -1;
    for (uint32_t i = 0; i < ncap; i++)
        memcpy(ns + (size_t)i * t->stride + t->klen, &empty, 4);
    if (t->slots) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            const unsigned char *s = t->slots + (size_t)i * t->stride;
            uint32_t j;
            if (mx_bintab_val(s, t->klen) == MX_EMPTY)
                continue;
            j = (uint32_t)mx_fmix64(mx_load64(s) ^ t->seed) & (ncap - 1);
            while (mx_bintab_val(ns + (size_t)j * t->stride, t->klen) != MX_EMPTY)
                j = (j + 1) & (ncap - 1);
            memcpy(ns + (size_t)j * t->stride, s, t->stride);
        }
    }
    free(t->slots);
    t->slots = ns;
    t->mask = ncap - 1;
    return 0;
}

unsigned char *mx_bintab_upsert(struct mx_bintab *t, const unsigned char *key)
{
    uint32_t i;
    unsigned char *sl;

    if (!t->slots || (t->n + 1) * MX_LOAD_DEN > ((size_t)t->mask + 1) * MX_LOAD_NUM) {
        if (bintab_grow(t) < 0)
            return NULL;
    }
    for (i = (uint32_t)mx_fmix64(mx_load64(key) ^ t->seed) & t->mask;; i = (i + 1) & t->mask) {
        sl = t->slots + (size_t)i * t->stride;
        if (mx_bintab_val(sl, t->klen) == MX_EMPTY)
            break;
        if (memcmp(sl, key, t->klen) == 0)
            return sl + t->klen;
    }
    memcpy(sl, key, t->klen);
    t->n++;
    return sl + t->klen;
}

void mx_bintab_free(struct mx_bintab *t)
{
    free(t->slots);
    t->slots = NULL;
    t->mask = 0;
    t->n = 0;
}

/* --- prefix table ------------------------------------------------------- */

void mx_iptab_init(struct mx_iptab *t, unsigned bits)
{
    memset(t, 0, sizeof(*t));
    t->bits = bits;
}

int mx_iptab_add(struct mx_iptab *t, struct mx_u128 addr, unsigned plen, uint32_t ref)
{
    if (grow_array((void **)&t->stage, &t->scap, t->nstage + 1, sizeof(*t->stage)) < 0)
        return -1;
    t->stage[t->nstage++] = (struct mx_ipstage){addr, ref, plen};
    return 0;
}

static int u128_cmp(struct mx_u128 a, struct mx_u128 b)
{
    if (a.hi != b.hi)
        return a.hi < b.hi ? -1 : 1;
    if (a.lo != b.lo)
        return a.lo < b.lo ? -1 : 1;
    return 0;
}

static int cmp_stage(const void *a, const void *b)
{
    const struct mx_ipstage *x = a, *y = b;
    int c = u128_cmp(x->addr, y->addr);

    if (c)
        return c;
    if (x->plen != y->plen)
        return x->plen < y->plen ? -1 : 1;
    return x->ref < y->ref ? -1 : x->ref > y->ref;
}

/* The last address of prefix (addr, plen) in a space of `bits` bits. */
static struct mx_u128 prefix_end(struct mx_u128 a, unsigned plen, unsigned bits)
{
    unsigned host = bits - plen; /* host bits */

    if (bits == 32) {
        uint64_t m = host >= 32 ? 0xffffffffULL : ((1ULL << host) - 1);
        a.lo |= m;
        return a;
    }
    if (host >= 64) {
        a.lo = ~0ULL;
        a.hi |= host >= 128 ? ~0ULL : ((1ULL << (host - 64)) - 1);
    } else if (host > 0) {
        a.lo |= (1ULL << host) - 1;
    }
    return a;
}

static int is_max(struct mx_u128 a, unsigned bits)
{
    return bits == 32 ? a.lo == 0xffffffffULL : (a.hi == ~0ULL && a.lo == ~0ULL);
}

static struct mx_u128 add1(struct mx_u128 a)
{
    a.lo++;
    if (a.lo == 0)
        a.hi++;
    return a;
}

struct ranges {
    struct mx_u128 *start;
    uint32_t *node;
    size_t n, cap;
};

static int emit_range(struct ranges *r, struct mx_u128 at, uint32_t node)
{
    if (r->n && u128_cmp(r->start[r->n - 1], at) == 0) {
        r->node[r->n - 1] = node;
        return 0;
    }
    if (r->n && r->node[r->n - 1] == node)
        return 0;
    if (r->n + 1 > r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        struct mx_u128 *s = realloc(r->start, nc * sizeof(*s));
        uint32_t *nd;
        if (!s)
            return -1;
        r->start = s;
        nd = realloc(r->node, nc * sizeof(*nd));
        if (!nd)
            return -1;
        r->node = nd;
        r->cap = nc;
    }
    r->start[r->n] = at;
    r->node[r->n] = node;
    r->n++;
    return 0;
}

int mx_iptab_freeze(struct mx_iptab *t, struct mx_refs *rs)
{
    struct ranges r = {0};
    struct mx_u128 *nodeaddr = NULL;
    uint32_t stack[130];
    size_t sp = 0, nn = 0;
    int rc = -1;

    if (t->nstage)
        qsort(t->stage, t->nstage, sizeof(*t->stage), cmp_stage);
    /* Group equal prefixes into nodes. */
    t->nodes = malloc((t->nstage ? t->nstage : 1) * sizeof(*t->nodes));
    nodeaddr = malloc((t->nstage ? t->nstage : 1) * sizeof(*nodeaddr));
    if (!t->nodes || !nodeaddr)
        goto out;
    for (size_t i = 0; i < t->nstage; i++) {
        const struct mx_ipstage *s = &t->stage[i];
        if (nn == 0 || u128_cmp(nodeaddr[nn - 1], s->addr) != 0 ||
            t->nodes[nn - 1].plen != s->plen) {
            t->nodes[nn] = (struct mx_ipnode){MX_EMPTY, MX_NONE, s->plen};
            nodeaddr[nn] = s->addr;
            nn++;
            if (s->plen == t->bits)
                t->nexact++;
        }
        if (mx_refs_add(rs, &t->nodes[nn - 1].val, s->ref) < 0)
            goto out;
    }
    t->nnodes = nn;
    for (size_t i = 0; i < nn; i++)
        if (mx_refs_freeze(rs, &t->nodes[i].val) < 0)
            goto out;
    free(t->stage);
    t->stage = NULL;
    t->nstage = t->scap = 0;

    /* Sweep the sorted prefixes into disjoint ranges. */
    if (emit_range(&r, (struct mx_u128){0, 0}, MX_NONE) < 0)
        goto out;
    for (size_t i = 0; i < nn; i++) {
        while (sp) {
            uint32_t e = stack[sp - 1];
            struct mx_u128 end = prefix_end(nodeaddr[e], t->nodes[e].plen, t->bits);
            if (u128_cmp(end, nodeaddr[i]) >= 0)
                break;
            sp--;
            if (emit_range(&r, add1(end), sp ? stack[sp - 1] : MX_NONE) < 0)
                goto out;
        }
        t->nodes[i].parent = sp ? stack[sp - 1] : MX_NONE;
        if (emit_range(&r, nodeaddr[i], (uint32_t)i) < 0)
            goto out;
        stack[sp++] = (uint32_t)i; /* depth <= bits + 1: prefixes nest by length */
    }
    while (sp) {
        uint32_t e = stack[--sp];
        struct mx_u128 end = prefix_end(nodeaddr[e], t->nodes[e].plen, t->bits);
        if (is_max(end, t->bits))
            continue;
        if (emit_range(&r, add1(end), sp ? stack[sp - 1] : MX_NONE) < 0)
            goto out;
    }

    /* Freeze into the lookup arrays and the top-16-bit index. */
    t->nranges = r.n;
    t->rnode = r.node;
    r.node = NULL;
    if (t->bits == 32) {
        t->start4 = malloc(r.n * sizeof(*t->start4));
        if (!t->start4)
            goto out;
        for (size_t i = 0; i < r.n; i++)
            t->start4[i] = (uint32_t)r.start[i].lo;
    } else {
        t->start6 = r.start;
        r.start = NULL;
    }
    t->top = malloc(65537 * sizeof(*t->top));
    if (!t->top)
        goto out;
    {
        size_t j = 0;
        for (uint32_t k = 0; k <= 65536; k++) {
            while (j < t->nranges) {
                uint32_t s16 =
                        t->bits == 32 ? t->start4[j] >> 16 : (uint32_t)(t->start6[j].hi >> 48);
                if (s16 >= k)
                    break;
                j++;
            }
            t->top[k] = (uint32_t)j;
        }
        t->top[65536] = (uint32_t)t->nranges;
    }
    if (t->bits == 32 && nn > 0) {
        /* the /24 blocks any prefix touches */
        t->blocks = calloc(((size_t)1 << 24) / 64, sizeof(uint64_t));
        if (!t->blocks)
            goto out;
        for (size_t i = 0; i < nn; i++) {
            uint32_t first = (uint32_t)nodeaddr[i].lo >> 8;
            uint32_t last = (uint32_t)prefix_end(nodeaddr[i], t->nodes[i].plen, 32).lo >> 8;
            for (uint32_t b = first;; b++) {
                if ((b & 63) == 0 && last - b >= 63) {
                    t->blocks[b >> 6] = ~0ULL;
                    b += 63;
                } else {
                    t->blocks[b >> 6] |= 1ULL << (b & 63);
                }
                if (b >= last)
                    break;
            }
        }
    }
    rc = 0;
out:
    free(nodeaddr);
    free(r.start);
    free(r.node);
    return rc;
}

uint32_t mx_iptab_find4_slow(const struct mx_iptab *t, uint32_t addr)
{
    uint32_t k = addr >> 16;
    size_t a, b;

    if (!t->top)
        return MX_NONE;
    a = t->top[k];
    b = t->top[k + 1];
    if (a == b || t->start4[a] > addr)
        return t->rnode[a - 1]; /* a > 0: range 0 starts at 0 */
    while (b - a > 1) {
        size_t m = (a + b) / 2;
        if (t->start4[m] <= addr)
            a = m;
        else
            b = m;
    }
    return t->rnode[a];
}

uint32_t mx_iptab_find6(const struct mx_iptab *t, struct mx_u128 addr)
{
    uint32_t k = (uint32_t)(addr.hi >> 48);
    size_t a, b;

    if (!t->top)
        return MX_NONE;
    a = t->top[k];
    b = t->top[k + 1];
    if (a == b || u128_cmp(t->start6[a], addr) > 0)
        return t->rnode[a - 1];
    while (b - a > 1) {
        size_t m = (a + b) / 2;
        if (u128_cmp(t->start6[m], addr) <= 0)
            a = m;
        else
            b = m;
    }
    return t->rnode[a];
}

void mx_iptab_free(struct mx_iptab *t)
{
    free(t->blocks);
    free(t->stage);
    free(t->nodes);
    free(t->start4);
    free(t->start6);
    free(t->rnode);
    free(t->top);
    mx_iptab_init(t, t->bits);
}

size_t mx_iptab_memory(const struct mx_iptab *t)
{
    size_t m = t->scap * sizeof(*t->stage) + t->nnodes * sizeof(*t->nodes);

    m += t->nranges * (sizeof(uint32_t) + (t->bits == 32 ? 4 : sizeof(struct mx_u128)));
    if (t->top)
        m += 65537 * sizeof(uint32_t);
    if (t->blocks)
        m += ((size_t)1 << 24) / 8;
    return m;
}
