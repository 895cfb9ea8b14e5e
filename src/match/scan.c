/*
 * The scan engine: streams a reader's lines through the format parser, the
 * tokenizer and the index, and reports hits in input order.
 *
 * Threading. The input is cut into blocks of whole lines (util/limits.h):
 * raw ranges of a mapped file, which the scan threads align themselves, or
 * buffers the calling thread fills from a gzip stream or a pipe. N worker
 * threads scan blocks in any order into per-block hit buffers; the calling
 * thread emits the buffers strictly in block order, adding each block's
 * first line number (known once the earlier blocks are counted). At most
 * 2N + 2 blocks are in flight, which bounds memory. With one thread the
 * calling thread scans alone and emits after every line.
 *
 * State. A block starts under the format state in force where it begins;
 * only Zeek TSV has state (its header), which may change mid-file. Workers
 * assume the newest state the emitter knows; the emitter compares each
 * block's assumed state fingerprint with the real one and rescans the block
 * itself when they differ (rare: concatenated Zeek logs).
 *
 * A block whose hits overflow MATCH_MAX_BLOCK_HIT_BYTES is also rescanned
 * by the emitter, emitting line by line.
 *
 * Time. Lines are parsed without looking for their time; a line that has
 * hits (rare) is parsed again by its format with a sink that only notes
 * where the time is, and the time (logtime.c) is stamped on its hits, so
 * lines without hits pay nothing for it. Hits flushed in the middle of a
 * line (past SCAN_DIRECT_FLUSH of them) go without.
 */
#include "match/match.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "match/logread.h"
#include "match/logread_int.h"
#include "match/match_int.h"
#include "match/warninglist.h"
#include "util/buf.h"
#include "util/kztime.h"

/* Flush a direct-mode hit buffer past this size even inside a line. */
#define SCAN_DIRECT_FLUSH ((size_t)4 * 1024 * 1024)

struct shared {
    const struct match_index *idx;
    const struct match_scan_opts *opts;
    const struct lr_format *fmt;
    const char *file;
    int want[MATCH_KIND_COUNT]; /* whether the index holds values to look up */
    int64_t ref_us;             /* the reference for line times (lr_time_parse) */
};

struct emitter {
    const struct shared *sh;
    match_hit_fn cb;
    void *ctx;
    struct kz_error *err;
    uint64_t base_line; /* 1-based number of the current block's first line */
    int failed;
};

struct blockres {
    struct kz_buf hits;
    uint64_t nl; /* newlines in the block */
    int ends_nl;
    int overflow;
    struct match_stats st;
    uint64_t fp_in;
    int changed;
    struct lr_state out;
};

/* One hit, serialized in a block's buffer (8-aligned records). */
struct hrec {
    uint64_t line; /* within the block, 0-based */
    uint32_t size;
    uint16_t kind, nkeys;
    uint32_t field_len, value_len, norm_len;
    uint32_t nrefs, refs_dropped;
    const struct warninglist_info *wl;
    int64_t time; /* the line's, or MATCH_NO_TIME */
    /* struct match_span keys[nkeys]; uint32_t refs[nrefs]; field, value,
     * norm, each NUL-terminated */
};

struct dd_slot {
    uint64_t h;
    uint32_t off; /* record offset; UINT32_MAX when free */
};

struct worker {
    const struct shared *sh;
    struct lr_scratch sc;
    struct lr_state st;
    struct blockres *res;
    struct emitter *em; /* set: emit after every line (direct mode) */
    uint64_t line;
    const char *field;
    size_t field_len;
    struct dd_slot *dd;
    size_t dd_cap, dd_n;
    size_t line_off; /* where the current line's hit records start */
    struct match_refs refs;
    char norm[MATCH_MAX_VALUE_BYTES * 3 + 16];
    char idn[MATCH_MAX_DOMAIN + 2]; /* a Unicode name's A-label form */
    /* threads */
    struct pool *pool;
    pthread_t tid;
};

/* --- emitting ----------------------------------------------------------- */

static size_t key_text(const struct hrec *r, const char *norm, const struct match_span *k,
                       char *buf, size_t cap, const char **text, enum match_kind *kind)
{
    *kind = (enum match_kind)r->kind;
    if (r->kind == MATCH_IPV4 || r->kind == MATCH_IPV6) {
        int fam = r->kind == MATCH_IPV4 ? 4 : 6;
        unsigned bits = fam == 4 ? 32 : 128;
        uint8_t a[16] = {0};
        size_t o;
        if (k->plen == bits) {
            *text = norm;
            return r->norm_len;
        }
        if (fam == 4) {
            uint32_t v;
            if (match_ipv4_parse(norm, r->norm_len, &v) < 0)
                return 0;
            a[0] = (uint8_t)(v >> 24);
            a[1] = (uint8_t)(v >> 16);
            a[2] = (uint8_t)(v >> 8);
            a[3] = (uint8_t)v;
        } else if (match_ipv6_parse(norm, r->norm_len, a) < 0) {
            return 0;
        }
        for (unsigned b = k->plen; b < bits; b++)
            a[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
        o = match_ip_format(fam, a, buf, cap);
        if (o == 0 || o + 5 > cap)
            return 0;
        buf[o++] = '/';
        if (k->plen >= 100)
            buf[o++] = (char)('0' + k->plen / 100);
        if (k->plen >= 10)
            buf[o++] = (char)('0' + (k->plen / 10) % 10);
        buf[o++] = (char)('0' + k->plen % 10);
        buf[o] = '\0';
        *text = buf;
        *kind = fam == 4 ? MATCH_CIDR4 : MATCH_CIDR6;
        return o;
    }
    *text = norm + k->off;
    return r->norm_len - k->off;
}

static int emit_records(struct emitter *em, const char *buf, size_t len)
{
    size_t off = 0;

    while (off < len) {
        const struct hrec *r = (const struct hrec *)(const void *)(buf + off);
        const struct match_span *ks = (const struct match_span *)(const void *)(r + 1);
        const uint32_t *refs = (const uint32_t *)(const void *)(ks + r->nkeys);
        const char *field = (const char *)(refs + r->nrefs);
        const char *value = field + r->field_len + 1;
        const char *norm = value + r->value_len + 1;
        struct match_key keys[MATCH_MAX_SPANS];
        char ktext[MATCH_MAX_SPANS][64];
        struct match_hit h;

        for (unsigned i = 0; i < r->nkeys; i++) {
            keys[i].len = key_text(r, norm, &ks[i], ktext[i], sizeof(ktext[i]), &keys[i].text,
                                   &keys[i].kind);
            keys[i].refs = ks[i].refs;
            keys[i].nrefs = ks[i].nrefs;
        }
        h.file = em->sh->file;
        h.line = em->base_line + r->line;
        h.field = field;
        h.value = value;
        h.value_len = r->value_len;
        h.norm = norm;
        h.norm_len = r->norm_len;
        h.kind = (enum match_kind)r->kind;
        h.keys = keys;
        h.nkeys = r->nkeys;
        if (r->nkeys == 1) {
            h.refs = ks[0].refs;
            h.nrefs = ks[0].nrefs;
        } else {
            h.refs = refs;
            h.nrefs = r->nrefs;
        }
        h.refs_dropped = r->refs_dropped;
        h.suppressed_by = r->wl ? r->wl->name : NULL;
        h.time_us = r->time;
        if (em->cb(em->ctx, &h, em->err) < 0) {
            if (em->err && em->err->code == KZ_EOK)
                kz_error_set(em->err, KZ_EINTERNAL, "the hit callback failed");
            em->failed = 1;
            return -1;
        }
        off += r->size;
    }
    return 0;
}

/* --- recording hits ----------------------------------------------------- */

static void dd_reset(struct worker *w)
{
    if (w->dd_n) {
        for (size_t i = 0; i < w->dd_cap; i++)
            w->dd[i].off = UINT32_MAX;
        w->dd_n = 0;
    }
}

static int dd_grow(struct worker *w)
{
    size_t ncap = w->dd_cap ? w->dd_cap * 2 : 64;
    struct dd_slot *nd = malloc(ncap * sizeof(*nd));

    if (!nd)
        return -1;
    for (size_t i = 0; i < ncap; i++)
        nd[i].off = UINT32_MAX;
    for (size_t i = 0; i < w->dd_cap; i++) {
        size_t j;
        if (w->dd[i].off == UINT32_MAX)
            continue;
        for (j = w->dd[i].h & (ncap - 1); nd[j].off != UINT32_MAX; j = (j + 1) & (ncap - 1))
            ;
        nd[j] = w->dd[i];
    }
    free(w->dd);
    w->dd = nd;
    w->dd_cap = ncap;
    return 0;
}

/* Whether this line already has a hit (field, kind, norm); if not, reserve
 * a dedupe slot for the record about to be written at offset off. */
static int dd_seen(struct worker *w, uint64_t h, enum match_kind kind, const char *norm, size_t nn,
                   size_t off)
{
    const char *buf = w->res->hits.data;
    size_t j;

    if ((w->dd_n + 1) * 2 > w->dd_cap && dd_grow(w) < 0 && w->dd_cap == 0)
        return 0;
    for (j = h & (w->dd_cap - 1); w->dd[j].off != UINT32_MAX; j = (j + 1) & (w->dd_cap - 1)) {
        const struct hrec *r;
        const char *field;
        if (w->dd[j].h != h)
            continue;
        r = (const struct hrec *)(const void *)(buf + w->dd[j].off);
        field = (const char *)((const uint32_t *)(const void *)((const struct match_span
                                                                         *)(const void *)(r + 1) +
                                                                r->nkeys) +
                               r->nrefs);
        if (r->kind == kind && r->norm_len == nn && r->field_len == w->field_len &&
            memcmp(field, w->field, w->field_len) == 0 &&
            memcmp(field + r->field_len + 1 + r->value_len + 1, norm, nn) == 0)
            return 1;
    }
    if (off < UINT32_MAX) {
        w->dd[j].h = h;
        w->dd[j].off = (uint32_t)off;
        w->dd_n++;
    }
    return 0;
}

static void no_field(void *ctx, const char *name, size_t nlen, const char *v, size_t vn,
                     enum logread_hint hint)
{
    (void)ctx;
    (void)name;
    (void)nlen;
    (void)v;
    (void)vn;
    (void)hint;
}

/* Gives the hit records of line[0..n), just scanned, the line's time: the
 * format parses it again, for its time only. The first parse's scratch is
 * no longer needed (the records hold copies). */
static void stamp_line(struct worker *w, const char *line, size_t n)
{
    struct lr_time tm = {NULL, 0, LR_T_NONE};
    struct lr_sink sink = {no_field, NULL, &tm};
    char *buf = w->res->hits.data;
    size_t off = w->line_off, len = w->res->hits.len, resume = 0;
    int64_t t = MATCH_NO_TIME;

    w->sc.used = 0;
    if (w->sh->fmt->time)
        w->sh->fmt->time(&w->st, line, n, &w->sc, &tm);
    else
        w->sh->fmt->line(&w->st, &w->sc, line, n, &sink, &resume);
    if (tm.kind != LR_T_NONE)
        lr_time_parse(tm.kind, tm.p, tm.n, w->sh->ref_us, &t);
    while (off < len) {
        struct hrec *r = (struct hrec *)(void *)(buf + off);
        r->time = t;
        off += r->size;
    }
}

static void flush_direct(struct worker *w)
{
    w->line_off = 0;
    if (w->em && !w->em->failed && w->res->hits.len)
        emit_records(w->em, w->res->hits.data, w->res->hits.len);
    kz_buf_reset(&w->res->hits);
}

static void hit(struct worker *w, enum match_kind kind, const char *v, size_t vn, const char *norm,
                size_t nn, const struct match_refs *m)
{
    const struct warninglist_info *wl = NULL;
    const struct match_scan_opts *o = w->sh->opts;
    uint32_t urefs[MATCH_MAX_HIT_REFS];
    size_t nu = 0, dropped = 0, size, off;
    uint64_t h;
    struct hrec r;
    char *p;

    if (o->warninglists) {
        wl = warninglist_check(o->warninglists, kind, v, vn, norm, nn);
        if (wl) {
            w->res->st.suppressed++;
            if (!o->show_suppressed)
                return;
        }
    }
    if (w->em && w->res->hits.len > SCAN_DIRECT_FLUSH) {
        flush_direct(w);
        dd_reset(w);
    }
    off = w->res->hits.len;
    h = mx_hash(norm, nn, mx_hash(w->field, w->field_len, (uint64_t)kind + 1));
    if (dd_seen(w, h, kind, norm, nn, off))
        return;
    if (m->n > 1) {
        for (unsigned i = 0; i < m->n; i++) {
            for (uint32_t k = 0; k < m->span[i].nrefs; k++) {
                if (nu < MATCH_MAX_HIT_REFS)
                    urefs[nu++] = m->span[i].refs[k];
                else
                    dropped++;
            }
        }
        /* insertion sort + unique: hits are rare and lists short */
        for (size_t i = 1; i < nu; i++) {
            uint32_t x = urefs[i];
            size_t j = i;
            while (j > 0 && urefs[j - 1] > x) {
                urefs[j] = urefs[j - 1];
                j--;
            }
            urefs[j] = x;
        }
        {
            size_t u = 0;
            for (size_t i = 0; i < nu; i++)
                if (u == 0 || urefs[u - 1] != urefs[i])
                    urefs[u++] = urefs[i];
            nu = u;
        }
    }
    size = sizeof(r) + m->n * sizeof(struct match_span) + nu * 4 + w->field_len + vn + nn + 3;
    size = (size + 7) & ~(size_t)7;
    if (!w->em && w->res->hits.len + size > MATCH_MAX_BLOCK_HIT_BYTES) {
        w->res->overflow = 1;
        return;
    }
    p = kz_buf_reserve(&w->res->hits, size);
    if (!p) {
        w->res->overflow = 1;
        return;
    }
    memset(&r, 0, sizeof(r));
    r.line = w->line;
    r.size = (uint32_t)size;
    r.kind = (uint16_t)kind;
    r.nkeys = (uint16_t)m->n;
    r.field_len = (uint32_t)w->field_len;
    r.value_len = (uint32_t)vn;
    r.norm_len = (uint32_t)nn;
    r.nrefs = (uint32_t)nu;
    r.refs_dropped = (uint32_t)dropped;
    r.wl = wl;
    r.time = MATCH_NO_TIME;
    memset(p, 0, size);
    memcpy(p, &r, sizeof(r));
    p += sizeof(r);
    memcpy(p, m->span, m->n * sizeof(struct match_span));
    p += m->n * sizeof(struct match_span);
    memcpy(p, urefs, nu * 4);
    p += nu * 4;
    memcpy(p, w->field, w->field_len);
    p += w->field_len + 1;
    memcpy(p, v, vn);
    p += vn + 1;
    memcpy(p, norm, nn);
    kz_buf_commit(&w->res->hits, size);
    w->res->st.hits++;
}

/* --- candidates --------------------------------------------------------- */

static void look_ipv4(struct worker *w, const char *v, size_t vn, uint32_t a)
{
    w->res->st.candidates++;
    if (match_index_lookup_ipv4(w->sh->idx, a, &w->refs))
        hit(w, MATCH_IPV4, v, vn, v, vn, &w->refs);
}

static void look_ipv6(struct worker *w, const char *v, size_t vn, const uint8_t a[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (w->sh->want[MATCH_IPV6]) {
        w->res->st.candidates++;
        if (match_index_lookup_ipv6(w->sh->idx, a, &w->refs)) {
            size_t nn = match_ip_format(6, a, w->norm, sizeof(w->norm));
            hit(w, MATCH_IPV6, v, vn, w->norm, nn, &w->refs);
        }
    }
    if (w->sh->want[MATCH_IPV4] && memcmp(a, mapped, 12) == 0) {
        uint32_t v4 =
                ((uint32_t)a[12] << 24) | ((uint32_t)a[13] << 16) | ((uint32_t)a[14] << 8) | a[15];
        w->res->st.candidates++;
        if (match_index_lookup_ipv4(w->sh->idx, v4, &w->refs)) {
            size_t nn = match_ip_format(4, a + 12, w->norm, sizeof(w->norm));
            hit(w, MATCH_IPV4, v, vn, w->norm, nn, &w->refs);
        }
    }
}

/* A domain candidate; with `check`, a name not yet validated (a URL's
 * host): checked only when it hits, which is rare, so that ".evil.com" or
 * "a..evil.com" never hit as children of evil.com. */
static void look_domain(struct worker *w, const char *v, size_t vn, int check)
{
    const char *d = v;
    size_t dn = vn;

    if (!w->sh->want[MATCH_DOMAIN])
        return;
    if (mx_has_u8(v, vn)) {
        /* a Unicode name is looked up in its A-label form, as indicators
         * are stored; one libidn2 refuses is no name anyone can query */
        const char *why;
        if (mx_idn_alabel(v, vn, w->idn, sizeof(w->idn), &dn, &why) < 0)
            return;
        if (dn && w->idn[dn - 1] == '.')
            dn--;
        d = w->idn;
        check = 1;
    }
    w->res->st.candidates++;
    if (mx_lookup_domain(w->sh->idx, d, dn, w->sh->opts->subdomains, &w->refs)) {
        const char *why;
        for (size_t i = 0; i < dn; i++)
            w->norm[i] = (char)mx_lower[(unsigned char)d[i]];
        if (check && mx_domain_check(w->norm, dn, &why) < 0)
            return;
        hit(w, MATCH_DOMAIN, v, vn, w->norm, dn, &w->refs);
    }
}

/* A host from a URL: an address, else a domain (validated: hosts are not
 * tokenizer-checked). */
static void look_host(struct worker *w, const char *h, size_t hn)
{
    uint32_t a4;
    uint8_t a6[16];

    while (hn > 0 && h[hn - 1] == '.')
        hn--;
    if (hn == 0)
        return;
    if (match_ipv4_parse(h, hn, &a4) == 0) {
        if (w->sh->want[MATCH_IPV4])
            look_ipv4(w, h, hn, a4);
        return;
    }
    if (match_ipv6_parse(h, hn, a6) == 0) {
        look_ipv6(w, h, hn, a6);
        return;
    }
    if (!w->sh->want[MATCH_DOMAIN] || hn > MATCH_MAX_DOMAIN)
        return;
    look_domain(w, h, hn, 1);
}

static void look_email(struct worker *w, const char *v, size_t vn)
{
    const char *at = NULL;
    size_t dl;

    for (size_t i = vn; i > 0; i--) {
        if (v[i - 1] == '@') {
            at = v + i - 1;
            break;
        }
    }
    if (!at)
        return;
    dl = vn - (size_t)(at + 1 - v);
    if (w->sh->want[MATCH_EMAIL]) {
        size_t ll = (size_t)(at - v), an = dl;
        const char *dom = at + 1, *why;
        if (mx_has_u8(dom, dl)) { /* indicators hold the domain as A-labels */
            if (mx_idn_alabel(dom, dl, w->idn, sizeof(w->idn), &an, &why) < 0)
                an = 0;
            dom = w->idn;
        }
        if (an) {
            memcpy(w->norm, v, ll + 1);
            for (size_t i = 0; i < an; i++)
                w->norm[ll + 1 + i] = (char)mx_lower[(unsigned char)dom[i]];
            w->res->st.candidates++;
            if (match_index_lookup_email(w->sh->idx, w->norm, ll + 1 + an, &w->refs))
                hit(w, MATCH_EMAIL, v, vn, w->norm, ll + 1 + an, &w->refs);
        }
    }
    look_domain(w, at + 1, dl, 0);
}

static void look_hash(struct worker *w, enum match_kind kind, const char *v, size_t vn)
{
    uint8_t bin[64];
    enum match_kind got;

    if (!w->sh->want[kind] || match_hash_parse(v, vn, &got, bin) < 0)
        return;
    w->res->st.candidates++;
    if (match_index_lookup_hash(w->sh->idx, kind, bin, &w->refs)) {
        for (size_t i = 0; i < vn; i++)
            w->norm[i] = (char)mx_lower[(unsigned char)v[i]];
        hit(w, kind, v, vn, w->norm, vn, &w->refs);
    }
}

static void scan_text(struct worker *w, const char *s, size_t n, int depth);

/* A URL token: the URL itself and its host. */
static void look_url(struct worker *w, const char *v, size_t vn, int derive)
{
    size_t host, hlen, rest;
    int split;

    if (vn > MATCH_MAX_VALUE_BYTES) {
        w->res->st.skipped_tokens++;
        return;
    }
    split = mx_url_split(v, vn, &host, &hlen, &rest) == 0;
    if (w->sh->want[MATCH_URL] && (!split || mx_url_host_maybe(w->sh->idx, v + host, hlen))) {
        size_t nn;
        const char *why;
        if (mx_url_norm(v, vn, w->norm, sizeof(w->norm), &nn, &why) == 0) {
            w->res->st.candidates++;
            if (match_index_lookup_url(w->sh->idx, w->norm, nn, &w->refs))
                hit(w, MATCH_URL, v, vn, w->norm, nn, &w->refs);
        }
    }
    if (derive && split)
        look_host(w, v + host, hlen);
}

/* Whether s holds a percent-encoded byte. */
static int has_pct(const char *s, size_t n)
{
    const char *p = memchr(s, '%', n);

    while (p) {
        size_t i = (size_t)(p - s);
        if (i + 2 < n && kz_is_hex((unsigned char)s[i + 1]) && kz_is_hex((unsigned char)s[i + 2]))
            return 1;
        p = i + 1 < n ? memchr(p + 1, '%', n - i - 1) : NULL;
    }
    return 0;
}

struct tok_ctx {
    struct worker *w;
    const char *s;
};

static void on_token(void *ctx, const struct match_token *t)
{
    struct tok_ctx *tc = ctx;
    struct worker *w = tc->w;
    const char *v = tc->s + t->off;
    size_t vn = t->len;

    switch (t->kind) {
    case MATCH_IPV4:
        if (w->sh->want[MATCH_IPV4])
            look_ipv4(w, v, vn, t->v4);
        break;
    case MATCH_IPV6: {
        uint8_t a6[16];
        if ((w->sh->want[MATCH_IPV6] || w->sh->want[MATCH_IPV4]) &&
            match_ipv6_parse(v, vn, a6) == 0)
            look_ipv6(w, v, vn, a6);
        break;
    }
    case MATCH_DOMAIN: look_domain(w, v, vn, 0); break;
    case MATCH_EMAIL: look_email(w, v, vn); break;
    case MATCH_URL: look_url(w, v, vn, 1); break;
    case MATCH_MD5:
    case MATCH_SHA1:
    case MATCH_SHA256:
    case MATCH_SHA512: look_hash(w, t->kind, v, vn); break;
    default: break;
    }
}

static void scan_text(struct worker *w, const char *s, size_t n, int depth)
{
    struct tok_ctx tc = {w, s};
    int pct = mx_tokenize(s, n, on_token, &tc);

    /* Values hide percent-encoded in query strings ("?u=http%3A%2F%2Fevil.com"):
     * scan a decoded copy once. Repeats of raw hits are deduplicated. */
    if (depth == 0 && pct && has_pct(s, n)) {
        char *d = lr_scratch_get(&w->sc, n);
        size_t o = 0;
        if (!d)
            return;
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '%' && i + 2 < n && kz_is_hex((unsigned char)s[i + 1]) &&
                kz_is_hex((unsigned char)s[i + 2])) {
                d[o++] = (char)((kz_hexval((unsigned char)s[i + 1]) << 4) |
                                kz_hexval((unsigned char)s[i + 2]));
                i += 2;
            } else {
                d[o++] = s[i];
            }
        }
        scan_text(w, d, o, depth + 1);
    }
}

static void on_field(void *ctx, const char *name, size_t nlen, const char *v, size_t vn,
                     enum logread_hint hint)
{
    struct worker *w = ctx;

    w->res->st.fields++;
    if (nlen > MATCH_MAX_FIELD_NAME)
        nlen = MATCH_MAX_FIELD_NAME;
    w->field = name;
    w->field_len = nlen;
    switch (hint) {
    case LOGREAD_HINT_SKIP: return;
    case LOGREAD_HINT_URL_ONLY: look_url(w, v, vn, 0); return;
    case LOGREAD_HINT_ADDR: {
        uint32_t a4;
        uint8_t a6[16];
        if (match_ipv4_parse(v, vn, &a4) == 0) {
            if (w->sh->want[MATCH_IPV4])
                look_ipv4(w, v, vn, a4);
            return;
        }
        if (match_ipv6_parse(v, vn, a6) == 0) {
            look_ipv6(w, v, vn, a6);
            return;
        }
        break;
    }
    default: break;
    }
    scan_text(w, v, vn, 0);
}

/* --- blocks ------------------------------------------------------------- */

/* The cut for a piece of a long line: at the last space in the final 4 KiB
 * of the piece, so a token is rarely split. */
static size_t piece_len(const char *p, size_t left)
{
    size_t len = left > MATCH_MAX_LINE ? MATCH_MAX_LINE : left;

    if (len < left) {
        for (size_t k = len; k > len - 4096; k--) {
            if (p[k - 1] == ' ' || p[k - 1] == '\t') {
                len = k;
                break;
            }
        }
    }
    return len;
}

static void process_block(struct worker *w, const struct lr_block *b)
{
    const char *p = b->data, *end = b->data + b->len;
    struct lr_sink sink = {on_field, w, NULL};

    w->line = 0;
    w->res->nl = 0;
    w->res->ends_nl = b->len > 0 && b->data[b->len - 1] == '\n';
    w->res->st.bytes += b->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        size_t len = (size_t)(e - p), resume = 0;
        int first = p == b->data;
        if (len && p[len - 1] == '\r')
            len--;
        w->sc.used = 0;
        w->line_off = w->res->hits.len;
        if (len > MATCH_MAX_LINE || (first && b->cont_start) || (!nl && b->cont_end)) {
            /* count a long line once, in the block where it starts */
            if (!(first && b->cont_start))
                w->res->st.long_lines++;
            for (size_t off = 0; off < len;) {
                size_t pl = piece_len(p + off, len - off);
                w->sc.used = 0;
                on_field(w, "text", 4, p + off, pl, LOGREAD_HINT_TEXT);
                off += pl;
            }
        } else {
            if (w->sh->fmt->line(&w->st, &w->sc, p, len, &sink, &resume) < 0) {
                w->res->st.malformed_lines++;
                if (resume < len)
                    on_field(w, "text", 4, p + resume, len - resume, LOGREAD_HINT_TEXT);
            }
            if (w->res->hits.len > w->line_off) /* rare: a line with hits */
                stamp_line(w, p, len);
        }
        w->line_off = w->res->hits.len;
        if (w->em) {
            flush_direct(w);
            if (w->em->failed)
                return;
        }
        dd_reset(w);
        if (w->res->overflow)
            return;
        if (nl)
            w->line++;
        p = nl ? nl + 1 : end;
    }
    w->res->nl = w->line;
}

static int worker_init(struct worker *w, const struct shared *sh)
{
    memset(w, 0, offsetof(struct worker, refs));
    w->sh = sh;
    w->pool = NULL;
    return lr_scratch_init(&w->sc);
}

static void worker_free(struct worker *w)
{
    lr_scratch_free(&w->sc);
    free(w->dd);
    w->dd = NULL;
}

static void res_init(struct blockres *r)
{
    memset(r, 0, offsetof(struct blockres, out));
    kz_buf_init(&r->hits, MATCH_MAX_BLOCK_HIT_BYTES + MATCH_MAX_LINE);
}

static void res_reset(struct blockres *r)
{
    kz_buf_reset(&r->hits);
    r->nl = 0;
    r->ends_nl = 0;
    r->overflow = 0;
    r->changed = 0;
    memset(&r->st, 0, sizeof(r->st));
}

static void add_stats(struct match_stats *a, const struct match_stats *b)
{
    a->bytes += b->bytes;
    a->fields += b->fields;
    a->candidates += b->candidates;
    a->hits += b->hits;
    a->suppressed += b->suppressed;
    a->long_lines += b->long_lines;
    a->malformed_lines += b->malformed_lines;
    a->skipped_tokens += b->skipped_tokens;
}

/* --- the thread pool ---------------------------------------------------- */

enum { SLOT_FREE, SLOT_READY, SLOT_DONE };

struct slot {
    struct lr_block blk;
    char *buf; /* stream inputs */
    struct blockres res;
    struct lr_state in;
    int status;
};

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    struct slot *slots;
    size_t nslots;
    uint64_t submitted, taken;
    int stop;
};

static void run_slot(struct worker *w, struct slot *s)
{
    res_reset(&s->res);
    s->res.fp_in = s->in.fp;
    w->st = s->in;
    w->res = &s->res;
    lr_block_align(&s->blk);
    process_block(w, &s->blk);
    lr_block_release(&s->blk);
    if (w->st.fp != s->in.fp) {
        s->res.changed = 1;
        s->res.out = w->st;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct pool *p = w->pool;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        struct slot *s;
        while (!p->stop && p->taken == p->submitted)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->stop)
            break;
        s = &p->slots[p->taken % p->nslots];
        p->taken++;
        pthread_mutex_unlock(&p->mu);
        run_slot(w, s);
        pthread_mutex_lock(&p->mu);
        s->status = SLOT_DONE;
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Rescans a block in the calling thread under the true state, emitting line
 * by line. */
static void redo_block(struct worker *rw, struct emitter *em, struct slot *s,
                       const struct lr_state *cur)
{
    struct blockres r;

    res_init(&r);
    rw->em = em;
    rw->res = &r;
    rw->st = *cur;
    process_block(rw, &s->blk);
    s->res.st = r.st;
    s->res.nl = r.nl;
    s->res.ends_nl = r.ends_nl;
    s->res.changed = 1;
    s->res.out = rw->st;
    kz_buf_free(&r.hits);
}

static int scan_threads(struct logread *r, struct shared *sh, struct emitter *em, unsigned nthr,
                        struct match_stats *tot, uint64_t *nl, int *ends_nl, struct kz_error *err)
{
    struct pool p;
    struct worker *ws = NULL, *rw = NULL;
    struct lr_state *cur = NULL;
    unsigned started = 0;
    uint64_t emitted = 0;
    int eof = 0, rc = -1, mapped = lr_is_mapped(r), read_failed = 0;

    memset(&p, 0, sizeof(p));
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.work, NULL);
    pthread_cond_init(&p.done, NULL);
    p.nslots = 2 * (size_t)nthr + 2;
    p.slots = calloc(p.nslots, sizeof(*p.slots));
    ws = calloc(nthr, sizeof(*ws));
    rw = calloc(1, sizeof(*rw));
    cur = malloc(sizeof(*cur));
    if (!p.slots || !ws || !rw || !cur || worker_init(rw, sh) < 0) {
        kz_error_set(err, KZ_ENOMEM, "out of memory starting the scan");
        goto out;
    }
    for (size_t i = 0; i < p.nslots; i++) {
        res_init(&p.slots[i].res);
        if (!mapped && !(p.slots[i].buf = malloc(lr_stream_block_cap()))) {
            kz_error_set(err, KZ_ENOMEM, "out of memory starting the scan");
            goto out;
        }
    }
    *cur = *lr_initial_state(r);
    for (unsigned i = 0; i < nthr; i++) {
        if (worker_init(&ws[i], sh) < 0)
            break;
        ws[i].pool = &p;
        if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
            worker_free(&ws[i]);
            break;
        }
        started++;
    }
    if (started == 0) {
        kz_error_set(err, KZ_EINTERNAL, "cannot start scan threads");
        goto out;
    }
    for (;;) {
        struct slot *s;
        while (!eof && p.submitted - emitted < p.nslots) {
            int got;
            s = &p.slots[p.submitted % p.nslots];
            got = lr_next_block(r, s->buf, &s->blk, err);
            if (got < 0) {
                /* a damaged stream: the blocks read before it still count */
                read_failed = 1;
                eof = 1;
                break;
            }
            if (got == 0) {
                eof = 1;
                break;
            }
            s->in = *cur;
            pthread_mutex_lock(&p.mu);
            s->status = SLOT_READY;
            p.submitted++;
            pthread_cond_signal(&p.work);
            pthread_mutex_unlock(&p.mu);
        }
        if (emitted == p.submitted)
            break;
        s = &p.slots[emitted % p.nslots];
        pthread_mutex_lock(&p.mu);
        while (s->status != SLOT_DONE)
            pthread_cond_wait(&p.done, &p.mu);
        pthread_mutex_unlock(&p.mu);
        em->base_line = 1 + *nl;
        if (s->res.fp_in != cur->fp || s->res.overflow) {
            if (s->res.fp_in != cur->fp)
                tot->redone_blocks++;
            redo_block(rw, em, s, cur);
        } else if (emit_records(em, s->res.hits.data, s->res.hits.len) < 0) {
            em->failed = 1;
        }
        if (em->failed)
            goto out;
        if (s->res.changed)
            *cur = s->res.out;
        *nl += s->res.nl;
        if (s->res.st.bytes)
            *ends_nl = s->res.ends_nl;
        add_stats(tot, &s->res.st);
        s->status = SLOT_FREE;
        emitted++;
        if (sh->opts->progress)
            sh->opts->progress(sh->opts->progress_ctx, tot->bytes, *nl);
    }
    rc = read_failed ? -1 : 0;
out:
    pthread_mutex_lock(&p.mu);
    p.stop = 1;
    pthread_cond_broadcast(&p.work);
    pthread_mutex_unlock(&p.mu);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(ws[i].tid, NULL);
        worker_free(&ws[i]);
    }
    if (rw)
        worker_free(rw);
    for (size_t i = 0; p.slots && i < p.nslots; i++) {
        kz_buf_free(&p.slots[i].res.hits);
        free(p.slots[i].buf);
    }
    free(p.slots);
    free(ws);
    free(rw);
    free(cur);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.work);
    pthread_cond_destroy(&p.done);
    return rc;
}

static int scan_inline(struct logread *r, struct shared *sh, struct emitter *em,
                       struct match_stats *tot, uint64_t *nl, int *ends_nl, struct kz_error *err)
{
    struct worker *w = calloc(1, sizeof(*w));
    struct blockres *res = calloc(1, sizeof(*res));
    char *buf = NULL;
    struct lr_block b;
    int got, rc = -1;

    if (res)
        res_init(res);
    if (!w || !res || worker_init(w, sh) < 0) {
        kz_error_set(err, KZ_ENOMEM, "out of memory starting the scan");
        goto out;
    }
    if (!lr_is_mapped(r) && !(buf = malloc(lr_stream_block_cap()))) {
        kz_error_set(err, KZ_ENOMEM, "out of memory starting the scan");
        goto out;
    }
    w->em = em;
    w->res = res;
    w->st = *lr_initial_state(r);
    while ((got = lr_next_block(r, buf, &b, err)) > 0) {
        res_reset(res);
        lr_block_align(&b);
        em->base_line = 1 + *nl;
        process_block(w, &b);
        lr_block_release(&b);
        if (em->failed)
            goto out;
        *nl += res->nl;
        if (res->st.bytes)
            *ends_nl = res->ends_nl;
        add_stats(tot, &res->st);
        if (sh->opts->progress)
            sh->opts->progress(sh->opts->progress_ctx, tot->bytes, *nl);
    }
    if (got < 0)
        goto out;
    rc = 0;
out:
    if (w) {
        worker_free(w);
        free(w);
    }
    if (res) {
        kz_buf_free(&res->hits);
        free(res);
    }
    free(buf);
    return rc;
}

int match_scan(const struct match_index *idx, struct logread *r, const struct match_scan_opts *opts,
               match_hit_fn cb, void *ctx, struct match_stats *stats, struct kz_error *err)
{
    struct shared sh;
    struct emitter em;
    struct match_stats tot;
    uint64_t nl = 0;
    int ends_nl = 1, rc;
    unsigned nthr = opts && opts->threads ? opts->threads : 1;
    struct match_scan_opts defaults = {0};

    if (!idx->frozen)
        return kz_error_set(err, KZ_EUSAGE, "the match index is not finished");
    if (!opts)
        opts = &defaults;
    if (nthr > MATCH_MAX_THREADS)
        nthr = MATCH_MAX_THREADS;
    memset(&tot, 0, sizeof(tot));
    sh.idx = idx;
    sh.opts = opts;
    sh.fmt = lr_format_of(logread_format(r));
    sh.file = logread_name(r);
    {
        /* a file's lines were written before its last change; a stream's
         * before now */
        int64_t now = kz_now_micros(), mt = logread_mtime(r);
        sh.ref_us = mt > 0 && mt < now ? mt : now;
    }
    for (int k = 0; k < MATCH_KIND_COUNT; k++)
        sh.want[k] = idx->count[k] > 0;
    sh.want[MATCH_IPV4] = idx->v4.nnodes > 0;
    sh.want[MATCH_IPV6] = idx->v6.nnodes > 0;
    em.sh = &sh;
    em.cb = cb;
    em.ctx = ctx;
    em.err = err;
    em.base_line = 1;
    em.failed = 0;
    if (nthr == 1)
        rc = scan_inline(r, &sh, &em, &tot, &nl, &ends_nl, err);
    else
        rc = scan_threads(r, &sh, &em, nthr, &tot, &nl, &ends_nl, err);
    tot.lines = nl + (tot.bytes > 0 && !ends_nl ? 1 : 0);
    if (stats) {
        add_stats(stats, &tot);
        stats->lines += tot.lines;
        stats->redone_blocks += tot.redone_blocks;
    }
    if (rc < 0 && err && !err->file[0])
        kz_error_file(err, logread_name(r));
    return rc;
}
