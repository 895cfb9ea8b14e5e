/*
 * Suricata (7.0 and later): datasets and the rules that use them.
 *
 * Datasets (rules/datasets.rst, "File formats"): one value per line;
 * "string" values base64-encoded, md5/sha256 as hex, ipv4/ip as text. The
 * hash lists double as filemd5/filesha1/filesha256 lists (one hex digest
 * per line, file-keywords.rst).
 *
 * The rules:
 * - domains: one dataset, matched at every depth so a subdomain of an
 *   indicator matches: per buffer (dns.query, tls.sni, http.host) and per
 *   label count k, `dotprefix; pcrexform:"[.]((?:[^.]+[.]){k-1}[^.]+)$"`
 *   cuts the name to its last k labels and `dataset:isset` looks that up.
 *   The dotprefix makes a name of fewer than k labels (no match: the buffer
 *   stays ".name") unable to equal a dataset value, so one name alerts
 *   once. A domain that is a public suffix is matched exactly instead, by
 *   a rule of its own, never its subdomains.
 * - URLs: one rule each, http.host and http.uri matched whole (bsize).
 * - IP addresses: one dataset (type ip) on ip.src and ip.dst; CIDR blocks
 *   in address groups, EXPORT_RULE_ADDRS per rule.
 * - file hashes: filemd5/filesha1/filesha256 over HTTP, SMTP and SMB.
 * Signature ids are stable: fixed rules have fixed offsets from the base;
 * per-value rules take a slot from a hash of the value, probing past
 * collisions in a deterministic order.
 */
#include "export/export_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "util/text.h"

/* The sid layout inside [base, base + EXPORT_SID_SPAN). */
#define EX_SID_DOMAIN(b, k) (200u * ((unsigned)(b) + 1) + (unsigned)(k)) /* 200..727 */
#define EX_SID_IP_SRC       801u
#define EX_SID_IP_DST       802u
#define EX_SID_HASH(h, p)   (900u + 10u * (unsigned)(h) + (unsigned)(p)) /* 900..929 */
#define EX_SID_GROUPS       1000u
#define EX_SID_VALUES       100000u
#define EX_SID_VALUE_SLOTS  (EXPORT_SID_SPAN - EX_SID_VALUES)
#define EX_MAX_GROUP_RULES  ((EX_SID_VALUES - EX_SID_GROUPS) / 2)
/* per-value rules, at most half the slots so probing stays short */
#define EX_MAX_VALUE_RULES (EX_SID_VALUE_SLOTS / 2)

static const struct {
    const char *proto, *buffer, *where, *flow;
    int nocase; /* http.host is lowercase already and refuses nocase */
} dom_buf[] = {
        {"dns", "dns.query", "DNS query", "", 1},
        {"tls", "tls.sni", "TLS SNI", "flow:established,to_server; ", 1},
        {"http", "http.host", "HTTP Host", "flow:established,to_server; ", 0},
};
#define NDOMBUF (sizeof(dom_buf) / sizeof(dom_buf[0]))

static const struct {
    enum match_kind kind;
    enum export_type type;
    const char *keyword, *label;
} hash_list[] = {
        {MATCH_MD5, EXPORT_T_MD5, "filemd5", "MD5"},
        {MATCH_SHA1, EXPORT_T_SHA1, "filesha1", "SHA-1"},
        {MATCH_SHA256, EXPORT_T_SHA256, "filesha256", "SHA-256"},
};
static const char *const file_protos[] = {"http", "smtp", "smb"};
static const char *const file_proto_names[] = {"HTTP", "SMTP", "SMB"};

struct rules {
    struct ex_set *x;
    struct ex_writer *w;
    uint32_t base;
    char node[KZ_MAX_NAME + 1]; /* metadata-safe node name */
    struct kz_buf r;            /* the rule being built */
    struct kz_buf tmp;          /* a name being cleaned */
    struct kz_buf uri;          /* a URL rule's http.uri text */
    uint8_t *slots;             /* EX_SID_VALUE_SLOTS bits */
    size_t value_rules;
};

/* --- datasets -------------------------------------------------------------------- */

int ex_write_dataset(struct ex_set *x, struct ex_writer *w, struct kz_error *err)
{
    for (size_t i = 0, j; i < x->nvals; i = j) {
        const struct ex_val *v = &x->vals[i];
        j = ex_group_end(x, i);
        if (v->kind == MATCH_DOMAIN)
            ex_add_base64(&w->buf, (const unsigned char *)v->v, v->len);
        else
            kz_buf_add(&w->buf, v->v, v->len);
        kz_buf_addc(&w->buf, '\n');
        if (ex_line_done(x, w, i, j, err) < 0)
            return -1;
    }
    return 0;
}

/* --- rule helpers ------------------------------------------------------------------ */

/* Ends the rule in R->r (classtype, metadata, sid, rev) and moves it to
 * the output, unless it is too long: then 1 is returned and nothing is
 * written. meta is the metadata text without the keyword. */
static int rule_end(struct rules *R, const char *meta, uint32_t sid, struct kz_error *err)
{
    kz_buf_printf(&R->r, "classtype:bad-unknown; metadata:%s; sid:%u; rev:1;)", meta, sid);
    if (R->r.failed || R->r.len > EXPORT_MAX_RULE_BYTES) {
        kz_buf_reset(&R->r);
        return 1;
    }
    kz_buf_add(&R->w->buf, R->r.data, R->r.len);
    kz_buf_addc(&R->w->buf, '\n');
    kz_buf_reset(&R->r);
    R->x->st->lines++;
    return ex_flush(R->w, 0, err) < 0 ? -1 : 0;
}

/* rule_end for the rules of fixed shape, which always fit */
static int fixed_end(struct rules *R, const char *meta, uint32_t sid, struct kz_error *err)
{
    int rc = rule_end(R, meta, sid, err);

    if (rc > 0)
        return kz_error_set(err, KZ_EINTERNAL, "rule %u is longer than a rule may be", sid);
    return rc;
}

static uint64_t fnv1a(const char *tag, const char *s, size_t n)
{
    uint64_t h = kz_fnv1a(KZ_FNV1A_INIT, tag, strlen(tag));

    return kz_fnv1a(kz_fnv1a(h, "|", 1), s, n);
}

/* A sid for the rule of (tag, value): stable while the value is exported
 * and no other value takes its slot first. */
static int value_sid(struct rules *R, const char *tag, const char *s, size_t n, uint32_t *sid,
                     struct kz_error *err)
{
    uint32_t slot;

    if (R->value_rules >= EX_MAX_VALUE_RULES)
        return kz_error_set(err, KZ_ELIMIT,
                            "more than %u URL and public-suffix domain rules in one sid range",
                            (unsigned)EX_MAX_VALUE_RULES);
    slot = (uint32_t)(fnv1a(tag, s, n) % EX_SID_VALUE_SLOTS);
    while (R->slots[slot / 8] & (1u << (slot % 8)))
        slot = (slot + 1) % EX_SID_VALUE_SLOTS;
    R->slots[slot / 8] |= (uint8_t)(1u << (slot % 8));
    R->value_rules++;
    *sid = R->base + EX_SID_VALUES + slot;
    return 0;
}

/* The msg text naming the indicators behind vals[i..j) (escaped), and the
 * metadata naming their ids and the most restrictive TLP among them; both
 * say "partial" when no indicator behind the value is proved by it alone. */
static void describe(struct rules *R, size_t i, size_t j, struct kz_buf *meta)
{
    struct ex_set *x = R->x;
    const struct ex_ind *first = &x->inds[x->vals[i].ind];
    enum stix_tlp tlp = STIX_TLP_NONE;
    int partial = 1;

    for (size_t k = i; k < j; k++)
        partial = partial && (x->vals[k].flags & EX_PARTIAL);
    kz_buf_reset(&R->tmp);
    if (partial) /* every indicator behind it needs more than this value */
        kz_buf_addstr(&R->tmp, "(partial) ");
    if (first->name[0])
        ex_add_clean(&R->tmp, first->name, strlen(first->name), EXPORT_MAX_NAME_BYTES);
    else
        ex_add_clean(&R->tmp, x->vals[i].v, x->vals[i].len, EXPORT_MAX_NAME_BYTES);
    if (j - i > 1)
        kz_buf_printf(&R->tmp, " (+%zu more)", j - i - 1);
    if (R->tmp.data)
        ex_add_rule_msg(&R->r, R->tmp.data, R->tmp.len);
    kz_buf_reset(meta);
    for (size_t k = i; k < j; k++) {
        const struct ex_ind *in = &x->inds[x->vals[k].ind];
        if (in->tlp > tlp)
            tlp = in->tlp;
        if (k - i < EXPORT_MAX_REFS_PER_LINE)
            kz_buf_printf(meta, "kizuna_indicator %s, ", in->id);
    }
    if (j - i > EXPORT_MAX_REFS_PER_LINE)
        kz_buf_printf(meta, "kizuna_more %zu, ", j - i - EXPORT_MAX_REFS_PER_LINE);
    kz_buf_printf(meta, "kizuna_tlp %s, kizuna_node %s%s", ex_tlp_word(tlp), R->node,
                  partial ? ", kizuna_partial true" : "");
}

static void mark_used(struct ex_set *x, size_t i, size_t j)
{
    for (size_t k = i; k < j; k++)
        x->inds[x->vals[k].ind].used = 1;
    x->st->merged += j - i - 1;
}

/* --- the sections ------------------------------------------------------------------- */

static unsigned labels(const char *s, size_t n)
{
    unsigned l = 1;

    for (size_t i = 0; i < n; i++)
        l += s[i] == '.';
    return l;
}

static int domain_rules(struct rules *R, unsigned depth, struct kz_error *err)
{
    char meta[KZ_MAX_NAME + 32];

    snprintf(meta, sizeof(meta), "kizuna_node %s", R->node);
    for (size_t b = 0; b < NDOMBUF; b++) {
        for (unsigned k = 2; k <= depth; k++) {
            kz_buf_printf(&R->r,
                          "alert %s any any -> any any (msg:\"KIZUNA indicator domain in %s "
                          "(%u-label suffix)\"; %s%s; dotprefix; %spcrexform:\"[.]((?:[^.]+[.]){%u}"
                          "[^.]+)$\"; dataset:isset,kizuna-domains,type string,load "
                          "kizuna-domains.lst; ",
                          dom_buf[b].proto, dom_buf[b].where, k, dom_buf[b].flow, dom_buf[b].buffer,
                          dom_buf[b].nocase ? "to_lowercase; " : "", k - 1);
            if (fixed_end(R, meta, R->base + EX_SID_DOMAIN(b, k), err) < 0)
                return -1;
        }
    }
    return 0;
}

static int exact_domain_rules(struct rules *R, size_t i, size_t j, struct kz_buf *meta,
                              struct kz_error *err)
{
    const struct ex_val *v = &R->x->vals[i];

    for (size_t b = 0; b < NDOMBUF; b++) {
        uint32_t sid = 0;
        if (value_sid(R, dom_buf[b].proto, v->v, v->len, &sid, err) < 0)
            return -1;
        kz_buf_printf(&R->r, "alert %s any any -> any any (msg:\"KIZUNA domain ", dom_buf[b].proto);
        describe(R, i, j, meta);
        kz_buf_printf(&R->r, "\"; %s%s; content:\"", dom_buf[b].flow, dom_buf[b].buffer);
        ex_add_rule_content(&R->r, v->v, v->len);
        kz_buf_printf(&R->r, "\"; %sbsize:%u; ", dom_buf[b].nocase ? "nocase; " : "", v->len);
        if (rule_end(R, meta->data, sid, err) < 0)
            return -1;
    }
    mark_used(R->x, i, j);
    return 0;
}

/* http.uri is libhtp's normalised URI: the path percent-decoded (an encoded
 * '/' kept encoded), the query as sent. */
static void uri_text(struct kz_buf *b, const char *s, size_t n)
{
    size_t q = 0;

    while (q < n && s[q] != '?')
        q++;
    for (size_t i = 0; i < q; i++) {
        unsigned v = 0;
        if (s[i] == '%' && i + 2 < q && kz_is_hex((unsigned char)s[i + 1]) &&
            kz_is_hex((unsigned char)s[i + 2]))
            v = kz_hexval((unsigned char)s[i + 1]) * 16 + kz_hexval((unsigned char)s[i + 2]);
        if (v != 0 && v != '/') {
            kz_buf_addc(b, (char)v);
            i += 2;
            continue;
        }
        kz_buf_addc(b, s[i]);
    }
    kz_buf_add(b, s + q, n - q);
}

static int url_rule(struct rules *R, size_t i, size_t j, struct kz_buf *meta, struct kz_error *err)
{
    const struct ex_val *v = &R->x->vals[i];
    size_t h = 0, p, rest;
    uint32_t sid = 0;
    int rc;

    while (h < v->len && v->v[h] != ':' && v->v[h] != '/' && v->v[h] != '?')
        h++;
    p = h;
    rest = h;
    if (h < v->len && v->v[h] == ':') {
        p = h + 1;
        for (rest = p; rest < v->len && v->v[rest] >= '0' && v->v[rest] <= '9'; rest++)
            ;
    }
    if (h == 0 || rest >= v->len || v->v[rest] != '/') {
        R->x->st->unsupported += j - i;
        return 0;
    }
    if (value_sid(R, "url", v->v, v->len, &sid, err) < 0)
        return -1;
    kz_buf_reset(&R->uri);
    uri_text(&R->uri, v->v + rest, v->len - rest);
    kz_buf_printf(&R->r, "alert http any any -> any %.*s (msg:\"KIZUNA URL ",
                  p < rest ? (int)(rest - p) : 3, p < rest ? v->v + p : "any");
    describe(R, i, j, meta);
    kz_buf_addstr(&R->r, "\"; flow:established,to_server; http.host; content:\"");
    ex_add_rule_content(&R->r, v->v, h);
    kz_buf_printf(&R->r, "\"; bsize:%zu; http.uri; content:\"", h);
    ex_add_rule_content(&R->r, R->uri.data ? R->uri.data : "", R->uri.len);
    kz_buf_printf(&R->r, "\"; bsize:%zu; ", R->uri.len);
    rc = rule_end(R, meta->data, sid, err);
    if (rc < 0)
        return -1;
    if (rc > 0) {
        R->x->st->unsupported += j - i; /* longer than a rule may be */
        return 0;
    }
    mark_used(R->x, i, j);
    return 0;
}

static int ip_rules(struct rules *R, struct kz_error *err)
{
    char meta[KZ_MAX_NAME + 32];

    snprintf(meta, sizeof(meta), "kizuna_node %s", R->node);
    kz_buf_addstr(&R->r, "alert ip any any -> any any (msg:\"KIZUNA indicator IP address as "
                         "source\"; ip.src; dataset:isset,kizuna-ip,type ip,load kizuna-ip.lst; "
                         "threshold:type limit,track by_src,count 1,seconds 3600; ");
    if (fixed_end(R, meta, R->base + EX_SID_IP_SRC, err) < 0)
        return -1;
    kz_buf_addstr(&R->r, "alert ip any any -> any any (msg:\"KIZUNA indicator IP address as "
                         "destination\"; ip.dst; dataset:isset,kizuna-ip,type ip,load "
                         "kizuna-ip.lst; threshold:type limit,track by_dst,count 1,seconds 3600; ");
    return fixed_end(R, meta, R->base + EX_SID_IP_DST, err);
}

/* CIDR blocks vals[i..j) (one group per value) in address groups. */
static int cidr_rules(struct rules *R, size_t i, size_t j, struct kz_error *err)
{
    struct ex_set *x = R->x;
    char meta[KZ_MAX_NAME + 32];
    struct kz_buf list;
    unsigned chunk = 0;
    int rc = -1;

    snprintf(meta, sizeof(meta), "kizuna_node %s", R->node);
    kz_buf_init(&list, EXPORT_RULE_ADDR_BYTES + 64);
    while (i < j) {
        size_t n = 0;
        kz_buf_reset(&list);
        while (i < j && n < EXPORT_RULE_ADDRS &&
               list.len + x->vals[i].len + 1 <= EXPORT_RULE_ADDR_BYTES) {
            size_t e = ex_group_end(x, i);
            if (n)
                kz_buf_addc(&list, ',');
            kz_buf_add(&list, x->vals[i].v, x->vals[i].len);
            mark_used(x, i, e);
            n++;
            i = e;
        }
        if (chunk >= EX_MAX_GROUP_RULES) {
            kz_error_set(err, KZ_ELIMIT, "more than %u CIDR rules in one sid range",
                         (unsigned)EX_MAX_GROUP_RULES);
            goto out;
        }
        kz_buf_printf(&R->r,
                      "alert ip [%s] any -> any any (msg:\"KIZUNA indicator CIDR block as "
                      "source, group %u\"; threshold:type limit,track by_src,count 1,seconds "
                      "3600; ",
                      list.data, chunk + 1);
        if (fixed_end(R, meta, R->base + EX_SID_GROUPS + 2 * chunk, err) < 0)
            goto out;
        kz_buf_printf(&R->r,
                      "alert ip any any -> [%s] any (msg:\"KIZUNA indicator CIDR block as "
                      "destination, group %u\"; threshold:type limit,track by_dst,count "
                      "1,seconds 3600; ",
                      list.data, chunk + 1);
        if (fixed_end(R, meta, R->base + EX_SID_GROUPS + 2 * chunk + 1, err) < 0)
            goto out;
        chunk++;
    }
    rc = 0;
out:
    kz_buf_free(&list);
    return rc;
}

static int hash_rules(struct rules *R, size_t h, struct kz_error *err)
{
    char meta[KZ_MAX_NAME + 32];

    snprintf(meta, sizeof(meta), "kizuna_node %s", R->node);
    for (size_t p = 0; p < sizeof(file_protos) / sizeof(file_protos[0]); p++) {
        kz_buf_printf(&R->r,
                      "alert %s any any -> any any (msg:\"KIZUNA indicator file %s over %s\"; "
                      "flow:established; %s:%s; ",
                      file_protos[p], hash_list[h].label, file_proto_names[p], hash_list[h].keyword,
                      export_dataset_file(hash_list[h].type));
        if (fixed_end(R, meta, R->base + EX_SID_HASH(h, p), err) < 0)
            return -1;
    }
    return 0;
}

/* --- the rules file ------------------------------------------------------------------ */

static void header(struct rules *R, unsigned needs)
{
    struct kz_buf *b = &R->w->buf;

    kz_buf_printf(b,
                  "# kizuna: Suricata (7.0 or later) rules for the active indicators of node "
                  "%s, TLP:RED never included.\n"
                  "# Written by `kizuna export --format suricata-rules`. Keep this file and the "
                  "lists it loads in one folder\n"
                  "# and write them together (docs/EXPORTS.md)%s\n",
                  R->node, needs ? ":" : ".");
    for (int t = EXPORT_T_IP; t <= EXPORT_T_SHA512; t++) {
        if (needs & (1u << t))
            kz_buf_printf(b, "#   %-20s kizuna export --format suricata-dataset --type %s\n",
                          export_dataset_file((enum export_type)t),
                          export_type_name((enum export_type)t));
    }
}

int ex_write_rules(struct ex_set *x, struct ex_writer *w, struct kz_error *err)
{
    struct rules R = {.x = x, .w = w};
    const char *node = x->o->node_name ? x->o->node_name : "kizuna";
    struct kz_buf meta;
    unsigned depth = 0, needs = 0;
    size_t i, j;
    int rc = -1;

    R.base = x->o->sid_base ? x->o->sid_base : EXPORT_SID_BASE_DEFAULT;
    for (i = 0; node[i] && i < KZ_MAX_NAME; i++) {
        char c = node[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.';
        R.node[i] = (char)(ok ? c : '_');
    }
    R.node[i] = '\0';
    if (!R.node[0])
        snprintf(R.node, sizeof(R.node), "kizuna");
    kz_buf_init(&R.r, 2 * EXPORT_MAX_RULE_BYTES + EX_MAX_VALUE * 4);
    kz_buf_init(&R.tmp, EX_MAX_VALUE * 4 + EXPORT_MAX_NAME_BYTES * 2);
    kz_buf_init(&R.uri, EX_MAX_VALUE + 1);
    kz_buf_init(&meta, (EXPORT_MAX_REFS_PER_LINE + 2) * (KZ_MAX_STIX_ID + 32) + KZ_MAX_NAME);
    R.slots = calloc(EX_SID_VALUE_SLOTS / 8 + 1, 1);
    if (!R.slots) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        goto out;
    }
    /* what the rules will load */
    for (i = 0; i < x->nvals; i++) {
        const struct ex_val *v = &x->vals[i];
        if (v->kind == MATCH_DOMAIN && !(v->flags & EX_PUBLIC_SUFFIX)) {
            unsigned l = labels(v->v, v->len);
            needs |= 1u << EXPORT_T_DOMAIN;
            if (l > depth)
                depth = l;
        } else if (v->kind == MATCH_IPV4 || v->kind == MATCH_IPV6) {
            needs |= 1u << EXPORT_T_IP;
        }
        for (size_t h = 0; h < sizeof(hash_list) / sizeof(hash_list[0]); h++)
            if (v->kind == hash_list[h].kind)
                needs |= 1u << hash_list[h].type;
    }
    if (depth && depth < EXPORT_MIN_DOMAIN_LABELS)
        depth = EXPORT_MIN_DOMAIN_LABELS;
    if (depth > EXPORT_MAX_DOMAIN_LABELS)
        depth = EXPORT_MAX_DOMAIN_LABELS;
    x->st->needs = needs;
    header(&R, needs);
    if (depth && domain_rules(&R, depth, err) < 0)
        goto out;
    for (i = 0; i < x->nvals; i = j) {
        const struct ex_val *v = &x->vals[i];
        j = ex_group_end(x, i);
        switch ((enum match_kind)v->kind) {
        case MATCH_DOMAIN:
            if (!(v->flags & EX_PUBLIC_SUFFIX)) {
                mark_used(x, i, j); /* in the dataset */
                break;
            }
            if (exact_domain_rules(&R, i, j, &meta, err) < 0)
                goto out;
            break;
        case MATCH_URL:
            if (url_rule(&R, i, j, &meta, err) < 0)
                goto out;
            break;
        case MATCH_IPV4:
        case MATCH_IPV6:
        case MATCH_MD5:
        case MATCH_SHA1:
        case MATCH_SHA256: mark_used(x, i, j); break;
        case MATCH_CIDR4:
        case MATCH_CIDR6: {
            size_t e = j;
            while (e < x->nvals &&
                   (x->vals[e].kind == MATCH_CIDR4 || x->vals[e].kind == MATCH_CIDR6))
                e++;
            if (cidr_rules(&R, i, e, err) < 0)
                goto out;
            j = e;
            break;
        }
        case MATCH_EMAIL:
        case MATCH_SHA512:
        case MATCH_KIND_COUNT: break; /* refused when gathered */
        }
    }
    if ((needs & (1u << EXPORT_T_IP)) && ip_rules(&R, err) < 0)
        goto out;
    for (size_t h = 0; h < sizeof(hash_list) / sizeof(hash_list[0]); h++)
        if ((needs & (1u << hash_list[h].type)) && hash_rules(&R, h, err) < 0)
            goto out;
    rc = 0;
out:
    kz_buf_free(&R.r);
    kz_buf_free(&R.tmp);
    kz_buf_free(&R.uri);
    kz_buf_free(&meta);
    free(R.slots);
    return rc;
}
