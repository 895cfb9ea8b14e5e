/*
 * `kizuna match`: scan logs for the active indicators a reader may see.
 * The indicators' patterns give index-servable values (pattern/); values go
 * into the in-memory index (match/); logs are streamed through it; a hit
 * through a condition that is only a candidate is confirmed by evaluating
 * the pattern against the value as an observation. Hits on warninglisted
 * values are suppressed. With --report, the hits become STIX sightings in a
 * collection, addressed to the indicators' producers, so they flow back
 * through federation: one per indicator, observed value and reporting
 * organisation, with a deterministic id, counted once however often the
 * same logs are scanned (intel/sighting.h; docs/internals/match.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "cli/cli.h"
#include "ingest/ingest.h"
#include "intel/intel.h"
#include "intel/sighting.h"
#include "json/json.h"
#include "match/logread.h"
#include "match/match.h"
#include "match/warninglist.h"
#include "node/node.h"
#include "policy/policy.h"
#include "store/store_accounts.h"
#include "store/store_blobs.h"
#include "store/store_objects.h"
#include "util/buf.h"
#include "util/kztime.h"
#include "util/uuid.h"
#include "util/limits.h"
#include "util/progress.h"

static const char help[] =
        "usage: kizuna [--home DIR] match [--collection C]... [--format F] [--subdomains] "
        "[--json]\n"
        "                    [--report COLLECTION] [--threads N] [--show-suppressed] [--as USER]\n"
        "                    [--no-progress] FILE...|-\n\n"
        "Scans logs for the active indicators (not revoked, within valid_from/valid_until,\n"
        "pattern_type stix) of the collections given (default: all) that the node operator\n"
        "(or USER) may see, and prints one line per hit: file, line, field, the value, the\n"
        "indicators with their names and markings. Formats: auto (per file), zeek,\n"
        "zeek-json, clf, jsonl, syslog, text; gzip is read transparently; '-' is standard\n"
        "input. IPs match exactly and by CIDR; --subdomains also matches subdomains of\n"
        "indicator domains (never above a public suffix). Hits on warninglisted values are\n"
        "suppressed unless --show-suppressed. --report COLLECTION stores the hits as STIX\n"
        "sightings there, marked as the indicators and addressed to their producers: one\n"
        "per indicator and observed value, its count, first_seen and last_seen (the log\n"
        "lines' own times) growing as new lines are seen; lines reported before are not\n"
        "counted again, in the same file, renamed, compressed or grown.\n"
        "A FILE that cannot be read is skipped with a warning; the others are scanned.\n"
        "On a terminal, standard error shows the progress (lines, bytes) unless\n"
        "--no-progress.\n"
        "Exit status: 0 no hit, 1 hits, 2 error (or no hit and a FILE skipped).\n";

/* What is known of an indicator beyond its place in the store: loaded on
 * its first hit (id, name, markings, producer), or at indexing time for a
 * candidate (its pattern, for the evaluator). */
struct detail {
    int loaded;
    char *id;
    char *name;
    enum stix_tlp tlp;
    char *markings; /* the indicator's object_marking_refs, unescaped (dup_ids), or NULL */
    char *created_by;
    char *pattern; /* candidates: the source */
    struct kzp_pattern *parsed;
    uint64_t hits;
    int64_t first_added; /* --report: when its first version was stored */
};

/* One indicator in the index: only where it is in the store, since a
 * million of them are held (16 bytes each); everything else is read from
 * the store when it first hits. */
struct ref {
    int64_t added;   /* its row */
    uint32_t coll;   /* index into run.colls */
    uint32_t detail; /* 1 + index into run.details; 0: none yet */
};

struct run {
    struct store *s;
    enum stix_tlp default_tlp;
    struct match_index *idx;
    struct ref *refs;
    size_t nrefs, cap;
    struct detail *details;
    size_t ndetails, dcap;
    int64_t colls[CLI_MAX_MATCH_COLLECTIONS];
    unsigned ncolls;
    uint64_t skipped_incomplete, skipped_kinds;
    int json;
    uint64_t hits, suppressed;
    struct kz_buf line;
    struct kzj_doc doc;
    int failed;
    /* --report: occurrences to report, and what of the current file was
     * reported before (its first skip_lines lines, for the indicators
     * stored by skip_read_us) */
    struct intel_sighting_acc *acc;
    uint64_t skip_lines;
    int64_t skip_read_us;
    struct kz_progress progress;
    uint64_t done_bytes, done_lines; /* of the files before the current one */
};

static void on_progress(void *ctx, uint64_t bytes, uint64_t lines)
{
    struct run *r = ctx;

    kz_progress_set(&r->progress, r->done_lines + lines, r->done_bytes + bytes, 0);
}

static void free_refs(struct run *r)
{
    for (size_t i = 0; i < r->ndetails; i++) {
        struct detail *d = &r->details[i];
        free(d->id);
        free(d->name);
        free(d->markings);
        free(d->created_by);
        free(d->pattern);
        kzp_free(d->parsed);
    }
    free(r->details);
    free(r->refs);
}

/* A new, empty detail for ref f; NULL when out of memory. */
static struct detail *detail_new(struct run *r, struct ref *f)
{
    if (r->ndetails == r->dcap) {
        size_t ncap = r->dcap ? r->dcap * 2 : 256;
        struct detail *nd = realloc(r->details, ncap * sizeof(*nd));
        if (!nd)
            return NULL;
        r->details = nd;
        r->dcap = ncap;
    }
    memset(&r->details[r->ndetails], 0, sizeof(r->details[0]));
    f->detail = (uint32_t)++r->ndetails;
    return &r->details[r->ndetails - 1];
}

struct add_ctx {
    struct run *r;
    uint32_t ref;
    int candidate;
    struct kz_error *err;
};

static int add_cond(void *ctx, const struct kzp_cond *c)
{
    struct add_ctx *a = ctx;
    enum match_kind kind;
    const char *name = kzp_cond_kind_name(c->kind);
    struct kz_error e;

    if (c->kind == KZP_COND_HASH || match_kind_parse(name, strlen(name), &kind) < 0) {
        a->r->skipped_kinds++;
        return 0;
    }
    if (!c->exact)
        a->candidate = 1;
    kz_error_clear(&e);
    if (c->kind == KZP_COND_IPV4 || c->kind == KZP_COND_CIDR4 || c->kind == KZP_COND_IPV6 ||
        c->kind == KZP_COND_CIDR6) {
        int fam = c->kind == KZP_COND_IPV4 || c->kind == KZP_COND_CIDR4 ? 4 : 6;
        if (match_index_add_addr(a->r->idx, fam, c->addr, c->prefix, a->ref, &e) < 0)
            a->r->skipped_kinds++;
        return 0;
    }
    if (match_index_add(a->r->idx, kind, c->value, c->len, a->ref, &e) < 0)
        a->r->skipped_kinds++; /* a value the index cannot hold: counted, not fatal */
    return 0;
}

static int no_cond(void *ctx, const struct kzp_cond *c)
{
    (void)ctx;
    (void)c;
    return 0;
}

/* The marking ids of array v as a JSON array of plain strings (escapes
 * decoded: "marking\u002ddefinition--..." is the id it spells), so that
 * they can be searched and copied as they are; NULL when there are none. */
static char *dup_ids(const struct kzj_doc *d, uint32_t v)
{
    struct kz_buf b;
    char id[256];
    size_t n = 0;

    if (!v || kzj_type(d, v) != KZJ_ARRAY)
        return NULL;
    kz_buf_init(&b, 1 << 20);
    kz_buf_addc(&b, '[');
    KZJ_FOREACH_ELEM(d, v, e)
    {
        if (kzj_type(d, e) != KZJ_STRING || kzj_strcpy(d, e, id, sizeof(id)) < 0)
            continue;
        kz_buf_addstr(&b, n++ ? ",\"" : "\"");
        kz_buf_add_json_escaped(&b, id, strlen(id));
        kz_buf_addc(&b, '"');
    }
    kz_buf_addc(&b, ']');
    if (!n || b.failed) {
        kz_buf_free(&b);
        return NULL;
    }
    return kz_buf_steal(&b, NULL);
}

static char *dup_str(const struct kzj_doc *d, uint32_t v)
{
    char buf[1024];

    if (!v || kzj_strcpy(d, v, buf, sizeof(buf)) < 0)
        return NULL;
    return strdup(buf);
}

static int coll_index(struct run *r, int64_t key, uint32_t *out)
{
    for (unsigned i = 0; i < r->ncolls; i++) {
        if (r->colls[i] == key) {
            *out = i;
            return 0;
        }
    }
    if (r->ncolls == CLI_MAX_MATCH_COLLECTIONS)
        return -1;
    r->colls[r->ncolls] = key;
    *out = r->ncolls++;
    return 0;
}

static int on_indicator(void *ctx, const struct intel_indicator *ind, struct kz_error *err)
{
    struct run *r = ctx;
    struct add_ctx a = {.r = r, .err = err};
    struct ref *f;
    int complete = 0;

    if (r->nrefs == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 4096;
        struct ref *nr = realloc(r->refs, ncap * sizeof(*nr));
        if (!nr)
            return kz_error_set(err, KZ_ENOMEM, "out of memory building the index");
        r->refs = nr;
        r->cap = ncap;
    }
    f = &r->refs[r->nrefs];
    memset(f, 0, sizeof(*f));
    if (coll_index(r, ind->collection_key, &f->coll) < 0)
        return kz_error_set(err, KZ_ELIMIT, "more than %d collections", CLI_MAX_MATCH_COLLECTIONS);
    f->added = ind->added;
    a.ref = (uint32_t)r->nrefs;
    /* a pattern with parts no value covers cannot be found by value: ask
     * first, so that none of its values enters the index */
    kzp_extract(ind->pattern, no_cond, NULL, &complete);
    if (!complete) {
        r->skipped_incomplete++;
        return 0;
    }
    kzp_extract(ind->pattern, add_cond, &a, &complete);
    if (a.candidate) {
        struct detail *d = detail_new(r, f);
        size_t n;
        const char *src = kzp_source(ind->pattern, &n);
        if (!d || !(d->pattern = malloc(n + 1)))
            return kz_error_set(err, KZ_ENOMEM, "out of memory building the index");
        memcpy(d->pattern, src, n);
        d->pattern[n] = '\0';
    }
    r->nrefs++;
    return 0;
}

static int on_stored(void *ctx, const struct store_row *row, struct kz_error *err)
{
    struct run *r = ((void **)ctx)[0];
    struct detail *d = ((void **)ctx)[1];
    struct kzj_doc *doc = &r->doc;

    if (kzj_parse(doc, row->raw, row->rawlen, err) < 0)
        return -1;
    d->id = strdup(row->id);
    d->name = dup_str(doc, KZJ_GET(doc, 0, "name"));
    d->created_by = dup_str(doc, KZJ_GET(doc, 0, "created_by_ref"));
    d->markings = dup_ids(doc, KZJ_GET(doc, 0, "object_marking_refs"));
    d->tlp = row->tlp ? (enum stix_tlp)row->tlp : r->default_tlp;
    return d->id ? 0 : kz_error_set(err, KZ_ENOMEM, "out of memory");
}

static int on_first(void *ctx, const struct store_row *row, struct kz_error *err)
{
    (void)err;
    *(int64_t *)ctx = row->added;
    return 0;
}

/* When d's indicator was first stored in its collection: a file read
 * before then was not searched for it. */
static int first_added(struct run *r, const struct ref *f, struct detail *d)
{
    struct store_filter flt;
    struct store_page page;
    struct kz_error err;

    store_filter_init(&flt, r->colls[f->coll]);
    store_filter_everything(&flt);
    flt.ids[0] = d->id;
    flt.nids = 1;
    flt.versions = STORE_V_FIRST;
    flt.limit = 1;
    d->first_added = f->added;
    return store_list(r->s, &flt, 0, on_first, &d->first_added, &page, &err);
}

/* The detail of ref f with what its hits print: loaded from the store on
 * the first hit. NULL when the row is gone or memory ran out. */
static struct detail *detail_of(struct run *r, struct ref *f)
{
    struct detail *d = f->detail ? &r->details[f->detail - 1] : detail_new(r, f);
    struct store_filter flt;
    struct store_page page;
    struct kz_error err;
    void *ctx[2];

    if (!d || d->loaded)
        return d;
    store_filter_init(&flt, r->colls[f->coll]);
    store_filter_everything(&flt); /* the exact row a visible hit came from */
    flt.added_after = f->added - 1;
    flt.versions = STORE_V_ALL;
    flt.limit = 1;
    ctx[0] = r;
    ctx[1] = d;
    if (store_list(r->s, &flt, 1, on_stored, ctx, &page, &err) < 0 || !d->id)
        return NULL;
    if (r->acc && first_added(r, f, d) < 0)
        return NULL;
    d->loaded = 1;
    return d;
}

/* The SCO a hit's value stands for, as an observation to evaluate. */
static int observation(enum match_kind k, const char *norm, size_t n, struct kz_buf *b)
{
    static const char *const types[] = {[MATCH_IPV4] = "ipv4-addr",     [MATCH_IPV6] = "ipv6-addr",
                                        [MATCH_CIDR4] = "ipv4-addr",    [MATCH_CIDR6] = "ipv6-addr",
                                        [MATCH_DOMAIN] = "domain-name", [MATCH_URL] = "url",
                                        [MATCH_EMAIL] = "email-addr"};
    static const char *const algos[] = {[MATCH_MD5] = "MD5",
                                        [MATCH_SHA1] = "SHA-1",
                                        [MATCH_SHA256] = "SHA-256",
                                        [MATCH_SHA512] = "SHA-512"};
    char now[KZ_TS_MILLIS_LEN];

    kz_ts_format_millis(kz_now_micros(), now);
    kz_buf_printf(b,
                  "{\"type\":\"observed-data\",\"spec_version\":\"2.1\",\"id\":\"observed-data--"
                  "00000000-0000-4000-8000-000000000000\",\"created\":\"%s\",\"modified\":\"%s\","
                  "\"first_observed\":\"%s\",\"last_observed\":\"%s\",\"number_observed\":1,"
                  "\"objects\":{\"0\":",
                  now, now, now, now);
    if (k >= MATCH_MD5 && k <= MATCH_SHA512)
        kz_buf_printf(b, "{\"type\":\"file\",\"hashes\":{\"%s\":\"", algos[k]);
    else
        kz_buf_printf(b, "{\"type\":\"%s\",\"value\":\"", types[k]);
    kz_buf_add_json_escaped(b, norm, n);
    kz_buf_addstr(b, k >= MATCH_MD5 && k <= MATCH_SHA512 ? "\"}}}}" : "\"}}}");
    return b->failed ? -1 : 0;
}

/* Whether a candidate's pattern really matches the value alone. */
static int confirmed(struct detail *d, const struct match_hit *h)
{
    struct kz_buf b;
    struct kzp_obs *o = NULL;
    struct kzp_result res = {0};
    struct kz_error err;
    int yes = 0;

    if (!d->pattern)
        return 1;
    if (!d->parsed && kzp_parse(d->pattern, strlen(d->pattern), &d->parsed, &err) < 0)
        return 0;
    kz_buf_init(&b, 1 << 20);
    o = kzp_obs_new();
    if (o && observation(h->kind, h->norm, h->norm_len, &b) == 0 &&
        kzp_obs_add(o, b.data, b.len, &err) == 0 && kzp_match(d->parsed, o, &res, &err) == 0)
        yes = res.matched;
    kzp_result_free(&res);
    kzp_obs_free(o);
    kz_buf_free(&b);
    return yes;
}

/* Untrusted bytes from logs, made safe for a terminal. */
static void add_printable(struct kz_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            kz_buf_printf(b, "\\x%02x", c);
        else
            kz_buf_addc(b, (char)c);
    }
}

static int on_hit(void *ctx, const struct match_hit *h, struct kz_error *err)
{
    struct run *r = ctx;
    struct kz_buf *b = &r->line;
    size_t shown = 0;

    kz_buf_reset(b);
    if (r->json) {
        kz_buf_addstr(b, "{\"file\":\"");
        kz_buf_add_json_escaped(b, h->file, strlen(h->file));
        kz_buf_printf(b, "\",\"line\":%llu,\"field\":\"", (unsigned long long)h->line);
        kz_buf_add_json_escaped(b, h->field ? h->field : "", h->field ? strlen(h->field) : 0);
        kz_buf_addstr(b, "\",\"value\":\"");
        kz_buf_add_json_escaped_lossy(b, h->value, h->value_len);
        kz_buf_printf(b, "\",\"kind\":\"%s\",", match_kind_name(h->kind));
        if (h->time_us != MATCH_NO_TIME) {
            char t[KZ_TS_MICROS_LEN];
            kz_ts_format_micros(h->time_us, t);
            kz_buf_printf(b, "\"time\":\"%s\",", t);
        }
        kz_buf_addstr(b, "\"indicators\":[");
    } else {
        add_printable(b, h->file, strlen(h->file));
        kz_buf_printf(b, ":%llu: ", (unsigned long long)h->line);
        if (h->field && h->field[0]) {
            add_printable(b, h->field, strlen(h->field));
            kz_buf_addstr(b, ": ");
        }
        add_printable(b, h->value, h->value_len);
        kz_buf_addstr(b, " ->");
    }
    for (size_t i = 0; i < h->nrefs; i++) {
        struct detail *d = detail_of(r, &r->refs[h->refs[i]]);
        if (!d || !confirmed(d, h))
            continue;
        if (!h->suppressed_by)
            d->hits++;
        /* a hit reported before (same file, line read then, indicator
         * searched for then) is not counted again */
        if (r->acc && !h->suppressed_by &&
            (h->line > r->skip_lines || d->first_added > r->skip_read_us) &&
            intel_sighting_acc_add(r->acc, (uint32_t)(d - r->details), h->norm, h->norm_len,
                                   h->time_us == MATCH_NO_TIME ? INTEL_NO_TIME : h->time_us,
                                   err) < 0) {
            r->failed = 1;
            return -1;
        }
        if (r->json) {
            kz_buf_printf(b, "%s{\"id\":\"%s\",\"name\":\"", shown ? "," : "", d->id);
            kz_buf_add_json_escaped(b, d->name ? d->name : "", d->name ? strlen(d->name) : 0);
            kz_buf_printf(b, "\",\"marking\":\"%s\"}", stix_tlp_name(d->tlp));
        } else {
            kz_buf_printf(b, " %s \"", d->id);
            add_printable(b, d->name ? d->name : "", d->name ? strlen(d->name) : 0);
            kz_buf_printf(b, "\" %s", stix_tlp_name(d->tlp));
        }
        shown++;
    }
    if (!shown)
        return 0; /* candidates the evaluator did not confirm */
    if (h->suppressed_by)
        r->suppressed++;
    else
        r->hits++;
    if (r->json) {
        kz_buf_addc(b, ']');
        if (h->suppressed_by) {
            kz_buf_addstr(b, ",\"suppressed_by\":\"");
            kz_buf_add_json_escaped(b, h->suppressed_by, strlen(h->suppressed_by));
            kz_buf_addc(b, '"');
        }
        kz_buf_addstr(b, "}\n");
    } else {
        if (h->suppressed_by) {
            kz_buf_addstr(b, " (suppressed: warninglist ");
            add_printable(b, h->suppressed_by, strlen(h->suppressed_by));
            kz_buf_addc(b, ')');
        }
        kz_buf_addc(b, '\n');
    }
    if (!b->failed) {
        kz_progress_clear(&r->progress); /* stdout may be the same terminal */
        fwrite(b->data, 1, b->len, stdout);
    }
    return 0;
}

/* --- sightings back to the producers -------------------------------------- */

struct report_ctx {
    struct node *n;
    struct policy_resolved resolved;
    int64_t producer;
};

static int report_meta(void *ctx, const struct stix_obj *o, struct store_put_meta *m,
                       struct kz_error *why)
{
    struct report_ctx *rc = ctx;

    if (policy_recipients(node_store(rc->n), node_config(rc->n)->name, o, &rc->resolved, m, why) <
        0)
        return -1;
    if (!m->producer)
        m->producer = rc->producer;
    return 0;
}

/* Where --report's sightings go and who reports them, found before the scan
 * so that a wrong name costs nothing. */
struct report_target {
    struct store_collection c;
    struct store_org org;
    const struct auth_user *as; /* --as, or NULL: the operator */
};

static int report_target_find(struct node *n, const char *collection, const struct auth_user *as,
                              struct report_target *t, struct kz_error *err)
{
    t->as = as;
    if (store_collection_find(node_store(n), NULL, collection, &t->c, err) < 0)
        return -1;
    return store_org_find(node_store(n), as ? as->org_name : "local", &t->org, err);
}

/* What the stored version of a sighting says, when there is one. */
struct prior {
    int found;
    char created[64];
    int64_t modified_us;
    int64_t count;
    int64_t first_us, last_us; /* INTEL_NO_TIME when absent */
};

static int64_t json_time(const struct kzj_doc *d, uint32_t v)
{
    char buf[64];
    struct kz_ts t;
    const char *why;

    if (!v || kzj_strcpy(d, v, buf, sizeof(buf)) < 0 || kz_ts_parse(buf, strlen(buf), &t, &why) < 0)
        return INTEL_NO_TIME;
    return kz_ts_micros(&t);
}

static int on_prior(void *ctx, const struct store_row *row, struct kz_error *err)
{
    struct prior *p = ((void **)ctx)[0];
    struct kzj_doc *d = ((void **)ctx)[1];

    if (kzj_parse(d, row->raw, row->rawlen, err) < 0)
        return -1;
    p->found = 1;
    if (kzj_strcpy(d, KZJ_GET(d, 0, "created"), p->created, sizeof(p->created)) < 0)
        p->created[0] = '\0';
    p->modified_us = json_time(d, KZJ_GET(d, 0, "modified"));
    if (kzj_int64(d, KZJ_GET(d, 0, "count"), &p->count) < 0 || p->count < 0)
        p->count = 0;
    p->first_us = json_time(d, KZJ_GET(d, 0, "first_seen"));
    p->last_us = json_time(d, KZJ_GET(d, 0, "last_seen"));
    return 0;
}

/* The latest stored version of sighting id in the collection, if any. */
static int prior_find(struct store *s, int64_t coll, const char *id, struct prior *p,
                      struct kzj_doc *doc, struct kz_error *err)
{
    struct store_filter flt;
    struct store_page page;
    void *ctx[2] = {p, doc};

    memset(p, 0, sizeof(*p));
    p->first_us = p->last_us = INTEL_NO_TIME;
    store_filter_init(&flt, coll);
    store_filter_everything(&flt);
    flt.ids[0] = id;
    flt.nids = 1;
    flt.versions = STORE_V_LAST;
    flt.limit = 1;
    return store_list(s, &flt, 1, on_prior, ctx, &page, err);
}

#define STIX_MAX_COUNT 999999999 /* the largest count STIX allows */

struct sight_ctx {
    struct node *n;
    struct run *r;
    const struct report_target *t;
    struct kz_buf b;
    struct kzj_doc doc;
    int64_t now;
    size_t nsight, nnew, nupdated;
    uint64_t markings[STIX_TLP_RED + 1];
};

/* The indicator's markings, and the TLP it was read at when they hold no
 * TLP marking of that level (TLP 1.0 ids, say): never less strict. */
static void add_markings(struct kz_buf *b, const struct detail *f)
{
    const char *tlp = f->tlp ? stix_tlp_marking_id(f->tlp) : NULL;
    size_t n = f->markings ? strlen(f->markings) : 0;
    char quoted[128];

    /* the ids are plain strings (dup_ids): an exact, quoted match */
    snprintf(quoted, sizeof(quoted), "\"%s\"", tlp ? tlp : "");
    if (tlp && f->markings && strstr(f->markings, quoted))
        tlp = NULL;
    if (n) {
        if (!tlp) {
            kz_buf_printf(b, ",\"object_marking_refs\":%s", f->markings);
            return;
        }
        /* the stored array without its closing bracket, then the TLP */
        while (n > 0 && f->markings[n - 1] != ']')
            n--;
        if (n > 0)
            n--;
        while (n > 0 && (f->markings[n - 1] == ' ' || f->markings[n - 1] == '\n' ||
                         f->markings[n - 1] == '\t' || f->markings[n - 1] == '\r'))
            n--;
        if (n > 0 && f->markings[0] == '[') {
            kz_buf_printf(b, ",\"object_marking_refs\":%.*s%s\"%s\"]", (int)n, f->markings,
                          n > 1 ? "," : "", tlp);
            return;
        }
    }
    if (tlp)
        kz_buf_printf(b, ",\"object_marking_refs\":[\"%s\"]", tlp);
}

/* One sighting: its stored version's count and times merged with this
 * run's occurrences, as a new version (same id, created kept). */
static int add_sighting(void *ctx, const struct intel_sighting_obs *o, struct kz_error *err)
{
    struct sight_ctx *sc = ctx;
    const struct detail *f = &sc->r->details[o->owner];
    const char *reporter = sc->t->org.identity;
    struct kz_buf *b = &sc->b;
    char id[INTEL_SIGHTING_ID_LEN], now[KZ_TS_MILLIS_LEN], ts[KZ_TS_MILLIS_LEN];
    struct prior p;
    int64_t count, first, last, mod = sc->now;

    if (intel_sighting_id(f->id, o->value, o->value_len, reporter, id) < 0)
        return kz_error_set(err, KZ_EINTERNAL, "cannot derive a sighting id");
    if (prior_find(node_store(sc->n), sc->t->c.key, id, &p, &sc->doc, err) < 0)
        return -1;
    count = (int64_t)(o->count > STIX_MAX_COUNT ? STIX_MAX_COUNT : o->count) + p.count;
    if (count > STIX_MAX_COUNT)
        count = STIX_MAX_COUNT;
    first = o->first_us;
    last = o->last_us;
    if (p.first_us != INTEL_NO_TIME && (first == INTEL_NO_TIME || p.first_us < first))
        first = p.first_us;
    if (p.last_us != INTEL_NO_TIME && (last == INTEL_NO_TIME || p.last_us > last))
        last = p.last_us;
    /* a new version is newer than the last, whatever the clock says */
    if (p.found && p.modified_us != INTEL_NO_TIME && mod / 1000 <= p.modified_us / 1000)
        mod = (p.modified_us / 1000 + 1) * 1000;
    kz_ts_format_millis(mod, now);
    if (sc->nsight++)
        kz_buf_addc(b, ',');
    kz_buf_printf(b,
                  "{\"type\":\"sighting\",\"spec_version\":\"2.1\",\"id\":\"%s\","
                  "\"created\":\"%s\",\"modified\":\"%s\",\"sighting_of_ref\":\"%s\","
                  "\"count\":%lld",
                  id, p.found && p.created[0] ? p.created : now, now, f->id, (long long)count);
    /* the lines' own times; none when no line had one */
    if (first != INTEL_NO_TIME) {
        kz_ts_format_millis(first, ts);
        kz_buf_printf(b, ",\"first_seen\":\"%s\"", ts);
    }
    if (last != INTEL_NO_TIME) {
        kz_ts_format_millis(last, ts);
        kz_buf_printf(b, ",\"last_seen\":\"%s\"", ts);
    }
    kz_buf_addstr(b, ",\"description\":\"observed as ");
    kz_buf_add_json_escaped_lossy(b, o->value, o->value_len);
    kz_buf_addc(b, '"');
    if (reporter[0])
        kz_buf_printf(b, ",\"created_by_ref\":\"%s\",\"where_sighted_refs\":[\"%s\"]", reporter,
                      reporter);
    /* marked as the indicator, or by the level it was read at when it
     * carries no TLP marking: never less strict */
    add_markings(b, f);
    /* addressed to the indicator's producer, so it reaches them */
    if (f->created_by && f->created_by[0] && strcmp(f->created_by, reporter) != 0)
        kz_buf_printf(b,
                      ",\"extensions\":{\"%s\":{\"extension_type\":\"property-extension\","
                      "\"recipients\":{\"organizations\":[\"%s\"]}}}",
                      POLICY_EXTENSION_ID, f->created_by);
    kz_buf_addc(b, '}');
    if (p.found)
        sc->nupdated++;
    else
        sc->nnew++;
    if (f->tlp <= STIX_TLP_RED)
        sc->markings[f->tlp]++;
    return b->failed ? kz_error_set(err, KZ_ELIMIT, "too many sightings") : 0;
}

/* The ledger of files a report target has read, kept in the store beside
 * the collection, one per reporting organisation and scan settings (the
 * collections, --as, --subdomains: another selection searched for other
 * indicators). */
static void ledger_name(const struct report_target *t, const char *const *colls, size_t ncolls,
                        int subdomains, char *out, size_t cap)
{
    struct kz_buf b;
    const char *sorted[CLI_MAX_MATCH_COLLECTIONS];
    uint8_t h[20];
    size_t o;

    memcpy(sorted, colls, ncolls * sizeof(*colls));
    for (size_t i = 1; i < ncolls; i++)
        for (size_t j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; j--) {
            const char *x = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = x;
        }
    kz_buf_init(&b, 1 << 20);
    kz_buf_printf(&b, "%s\n%s\n%d", t->org.identity, t->as ? t->as->name : "", subdomains);
    for (size_t i = 0; i < ncolls; i++)
        kz_buf_printf(&b, "\n%s", sorted[i]);
    kz_sha1(b.data ? b.data : "", b.len, h);
    kz_buf_free(&b);
    o = (size_t)snprintf(out, cap, "match-ledger/%s/", t->c.id);
    for (int i = 0; i < 20 && o + 3 <= cap; i++, o += 2)
        snprintf(out + o, cap - o, "%02x", h[i]);
}

/* The ledger as stored (SHA-1 of its text; of "" when there is none): a
 * report checks it did not change while the logs were read. */
static int ledger_stamp(struct store *s, const char *blob, uint8_t out[20], struct kz_error *err)
{
    char *text = NULL;
    size_t len = 0;

    if (store_blob_get(s, blob, &text, &len, err) < 0 && err->code != KZ_ENOTFOUND)
        return -1;
    kz_error_clear(err);
    kz_sha1(text ? text : "", len, out);
    free(text);
    return 0;
}

/* Writes the sightings of this run and the ledger, in one transaction:
 * either both land or neither. Refused when another report changed the
 * ledger since `stamp` (two runs over the same logs at once would both
 * count them). */
static int report(struct node *n, struct run *r, const struct report_target *t,
                  const char *ledger_blob, const struct intel_ledger *ledger,
                  const uint8_t stamp[20], struct kz_error *err)
{
    uint8_t now_stamp[20];
    struct report_ctx rc = {.n = n};
    struct ingest_opts opts = {
            .name = "sightings", .meta = report_meta, .meta_ctx = &rc, .step = 1};
    struct ingest_counts counts = {0};
    struct sight_ctx sc = {.n = n, .r = r, .t = t, .now = kz_now_micros()};
    struct store *s = node_store(n);
    char *ltext = NULL;
    size_t llen = 0;
    int ret = -1, tx = 0;

    kz_buf_init(&sc.b, (size_t)1 << 30);
    kzj_doc_init(&sc.doc);
    rc.producer = t->org.key;
    kz_buf_addstr(&sc.b, "{\"objects\":[");
    if (store_begin(s, err) < 0)
        goto out;
    tx = 1;
    if (ledger_stamp(s, ledger_blob, now_stamp, err) < 0)
        goto out;
    if (memcmp(stamp, now_stamp, 20) != 0) {
        kz_error_set(err, KZ_ECONFLICT,
                     "another match --report to %s ran meanwhile: nothing reported, run again",
                     t->c.alias);
        goto out;
    }
    if (intel_sighting_acc_each(r->acc, add_sighting, &sc, err) < 0)
        goto out;
    kz_buf_addstr(&sc.b, "]}");
    if (sc.b.failed) {
        kz_error_set(err, KZ_ELIMIT, "too many sightings");
        goto out;
    }
    if (sc.nsight && ingest_buffer(s, t->c.key, sc.b.data, sc.b.len, &opts, &counts, err) < 0)
        goto out;
    if (!(ltext = intel_ledger_text(ledger, &llen, err)) ||
        store_blob_put(s, ledger_blob, ltext, llen, err) < 0 || store_commit(s, err) < 0)
        goto out;
    tx = 0;
    if (sc.nsight) {
        struct audit_event e = {.user = t->as ? t->as->name : NULL,
                                .action = "write",
                                .collection = t->c.id,
                                .count = counts.added,
                                .detail = "match --report"};
        /* each sighting carries its indicator's marking */
        for (int i = 0; i <= STIX_TLP_RED; i++)
            e.markings[i] = sc.markings[i];
        if (cli_audit(n, &e) < 0) {
            kz_error_set(err, KZ_EIO, "the sightings were stored but not audited");
            goto out;
        }
    }
    fprintf(stderr, "kizuna: %zu sightings reported to collection %s (%zu new, %zu updated)\n",
            sc.nsight, t->c.alias, sc.nnew, sc.nupdated);
    ret = 0;
out:
    if (tx)
        store_rollback(s);
    free(ltext);
    kz_buf_free(&sc.b);
    kzj_doc_free(&sc.doc);
    return ret;
}

static int same_print(const struct intel_ledger_entry *e, const struct logread_print *p)
{
    return e->len == p->len && memcmp(e->head, p->head, 20) == 0 &&
           memcmp(e->tail, p->tail, 20) == 0;
}

/* The ledger's entry for the content of lr as it was read before, grown
 * since or not: the longest prefix that prints the same; -1 for none.
 * Only a seekable input has prefixes to print before the read. */
static long ledger_find(const struct intel_ledger *l, struct logread *lr)
{
    struct logread_print whole, full_head, p;
    long best = -1;

    if (!logread_seekable(lr) || logread_print(lr, &whole) < 0 ||
        logread_print_prefix(lr,
                             whole.len < LOGREAD_PRINT_SAMPLE ? whole.len : LOGREAD_PRINT_SAMPLE,
                             &full_head) < 0)
        return -1;
    for (size_t i = 0; i < intel_ledger_count(l); i++) {
        const struct intel_ledger_entry *e = intel_ledger_at(l, i);
        if (e->len > whole.len || (best >= 0 && intel_ledger_at(l, (size_t)best)->len >= e->len))
            continue;
        /* most entries are other files: their first bytes differ */
        if (e->len >= LOGREAD_PRINT_SAMPLE && memcmp(e->head, full_head.head, 20) != 0)
            continue;
        if (logread_print_prefix(lr, e->len, &p) == 0 && same_print(e, &p))
            best = (long)i;
    }
    return best;
}

/* The entry of a stream's whole content read before, found once it is
 * read (no prefix of a stream can be printed beforehand); -1 for none. */
static long ledger_find_whole(const struct intel_ledger *l, const struct logread_print *p)
{
    for (size_t i = 0; i < intel_ledger_count(l); i++)
        if (same_print(intel_ledger_at(l, i), p))
            return (long)i;
    return -1;
}

struct newer_ctx {
    const struct run *r;
    int64_t read_us;
};

/* Whether an indicator was stored after the content was read before (it
 * was not looked for then). */
static int stored_after(void *ctx, uint32_t owner)
{
    const struct newer_ctx *nc = ctx;

    return nc->r->details[owner].first_added > nc->read_us;
}

/* Counts the occurrences of a file read whole and records it in the
 * ledger: a seekable file's earlier lines were left out during the scan
 * (run.skip_lines); a stream's are left out now, when it turns out to be
 * content read before, unchanged. */
static int ledger_record(struct run *r, struct intel_ledger *l, struct logread *lr, long seen,
                         uint64_t lines, int64_t read_us, struct kz_error *err)
{
    struct logread_print p;
    struct intel_ledger_entry e;

    if (logread_print(lr, &p) < 0) {
        intel_sighting_acc_commit(r->acc); /* cannot be recognised: counted */
        return 0;
    }
    if (!logread_seekable(lr) && (seen = ledger_find_whole(l, &p)) >= 0) {
        struct newer_ctx nc = {r, intel_ledger_at(l, (size_t)seen)->read_us};
        intel_sighting_acc_commit_if(r->acc, stored_after, &nc);
    } else {
        intel_sighting_acc_commit(r->acc);
    }
    memcpy(e.head, p.head, 20);
    memcpy(e.tail, p.tail, 20);
    e.len = p.len;
    e.lines = lines;
    e.read_us = read_us;
    return intel_ledger_put(l, &e, seen, err);
}

/* --- the command --------------------------------------------------------------- */

static void warn_skipped(const char *path, const struct kz_error *err)
{
    char msg[1400];

    fprintf(stderr, "kizuna: warning: skipped %s: %s\n", path,
            kz_error_format(err, msg, sizeof(msg)));
}

int cmd_match(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
            {"collection", required_argument, NULL, 'c'},
            {"format", required_argument, NULL, 'f'},
            {"subdomains", no_argument, NULL, 's'},
            {"json", no_argument, NULL, 'j'},
            {"report", required_argument, NULL, 'r'},
            {"threads", required_argument, NULL, 't'},
            {"show-suppressed", no_argument, NULL, 'S'},
            {"as", required_argument, NULL, 'u'},
            {"no-progress", no_argument, NULL, 'P'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *colls[CLI_MAX_MATCH_COLLECTIONS], *report_to = NULL, *as = NULL;
    size_t ncolls = 0;
    enum logread_format fmt = LOGREAD_AUTO;
    struct match_scan_opts so = {.threads = 0};
    struct run r = {0};
    struct intel_opts io = {0};
    struct intel_counts ic;
    struct match_stats st, total = {0};
    struct warninglist_set *wl = NULL;
    struct match_psl *psl = NULL;
    struct auth_user user;
    struct kz_error err;
    struct node *n;
    int64_t t0 = kz_now_micros();
    int c, rc = 2, progress = 1;
    unsigned skipped = 0;
    struct report_target target;
    struct intel_ledger *ledger = NULL;
    char ledger_blob[KZ_UUID_LEN + 128];
    uint8_t ledger_stamp0[20];
    long v;

    optind = 0;
    while ((c = getopt_long(argc, argv, "hc:f:sjr:t:Su:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (ncolls == CLI_MAX_MATCH_COLLECTIONS)
                return cli_usage_error("match", "at most %d collections",
                                       CLI_MAX_MATCH_COLLECTIONS);
            colls[ncolls++] = optarg;
            break;
        case 'f':
            if (logread_format_parse(optarg, &fmt) < 0)
                return cli_usage_error("match", "--format is auto, zeek, zeek-json, clf, jsonl, "
                                                "syslog or text");
            break;
        case 's': so.subdomains = 1; break;
        case 'j': r.json = 1; break;
        case 'r': report_to = optarg; break;
        case 't':
            if (cli_parse_long(optarg, 1, MATCH_MAX_THREADS, &v) < 0)
                return cli_usage_error("match", "--threads must be 1 to %d", MATCH_MAX_THREADS);
            so.threads = (unsigned)v;
            break;
        case 'S': so.show_suppressed = 1; break;
        case 'u': as = optarg; break;
        case 'P': progress = 0; break;
        case 'h': fputs(help, stdout); return 0;
        default: return cli_option_error("match", argv);
        }
    }
    if (optind >= argc)
        return cli_usage_error("match", "give log files ('-' for standard input)");
    if (!so.threads) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        so.threads = cpus > 0 && cpus <= MATCH_MAX_THREADS ? (unsigned)cpus : 1;
    }
    if (!(n = cli_node(cli)))
        return 2;
    kz_error_clear(&err);
    kz_buf_init(&r.line, 1 << 20);
    kzj_doc_init(&r.doc);
    r.s = node_store(n);
    r.default_tlp = node_config(n)->default_tlp ? node_config(n)->default_tlp : STIX_TLP_AMBER;
    if (as && auth_user_load(node_store(n), as, &user, &err) < 0)
        goto out;
    if (report_to && report_target_find(n, report_to, as ? &user : NULL, &target, &err) < 0)
        goto out;
    if (report_to) {
        char *text = NULL;
        size_t len = 0;
        ledger_name(&target, colls, ncolls, so.subdomains, ledger_blob, sizeof(ledger_blob));
        if (store_blob_get(node_store(n), ledger_blob, &text, &len, &err) < 0 &&
            err.code != KZ_ENOTFOUND)
            goto out;
        kz_error_clear(&err);
        kz_sha1(text ? text : "", len, ledger_stamp0);
        ledger = intel_ledger_parse(text, len, &err);
        free(text);
        if (!ledger || !(r.acc = intel_sighting_acc_new())) {
            if (ledger)
                kz_error_set(&err, KZ_ENOMEM, "out of memory");
            goto out;
        }
    }
    r.idx = match_index_new(&err);
    if (!r.idx)
        goto out;
    psl = match_psl_default(&err);
    if (!psl)
        fprintf(stderr,
                "kizuna: warning: no public suffix list (%s): only single labels are "
                "treated as public suffixes\n",
                err.text);
    kz_error_clear(&err);
    match_index_set_psl(r.idx, psl);
    io.collections = ncolls ? colls : NULL;
    io.ncollections = ncolls;
    io.as = as ? &user : NULL;
    /* the operator's index is a bulk path (no TLP:RED); a user's own
     * index holds what that user may read */
    io.bulk = as ? 0 : 1;
    io.now_us = t0;
    io.default_tlp = node_config(n)->default_tlp;
    io.node_name = node_config(n)->name;
    kz_error_clear(&err);
    if (intel_each(node_store(n), &io, on_indicator, &r, &ic, &err) < 0 ||
        match_index_finish(r.idx, &err) < 0 || cli_load_warninglists(n, &wl, &err) < 0)
        goto out;
    so.warninglists = wl;
    so.progress = on_progress;
    so.progress_ctx = &r;
    kz_progress_start(&r.progress, "match", "lines", progress);
    fprintf(stderr,
            "kizuna: %llu active indicators (%llu not findable by value, %llu inactive, %llu with "
            "broken patterns)\n",
            (unsigned long long)r.nrefs, (unsigned long long)r.skipped_incomplete,
            (unsigned long long)ic.inactive, (unsigned long long)ic.broken);
    for (int i = optind; i < argc; i++) {
        struct logread *lr = logread_open(argv[i], fmt, &err);
        int opened = lr != NULL;
        long seen = -1;
        memset(&st, 0, sizeof(st));
        r.skip_lines = 0;
        r.skip_read_us = 0;
        if (lr && ledger && (seen = ledger_find(ledger, lr)) >= 0) {
            r.skip_lines = intel_ledger_at(ledger, (size_t)seen)->lines;
            r.skip_read_us = intel_ledger_at(ledger, (size_t)seen)->read_us;
        }
        if (!lr || match_scan(r.idx, lr, &so, on_hit, &r, &st, &err) < 0) {
            logread_close(lr);
            if (r.acc)
                intel_sighting_acc_discard(r.acc); /* reported when read whole */
            if (r.failed ||
                (opened && err.code != KZ_EIO && err.code != KZ_EINVALID && err.code != KZ_ELIMIT))
                goto out; /* not the file's fault: stop */
            /* an unreadable or broken file: say so and go on with the
             * others, whose hits count as much */
            kz_progress_clear(&r.progress);
            warn_skipped(argv[i], &err);
            skipped++;
            continue;
        }
        if (r.acc && ledger_record(&r, ledger, lr, seen, st.lines, t0, &err) < 0) {
            logread_close(lr);
            goto out;
        }
        logread_close(lr);
        total.bytes += st.bytes;
        total.lines += st.lines;
        r.done_bytes = total.bytes;
        r.done_lines = total.lines;
        total.suppressed += st.suppressed;
    }
    fflush(stdout);
    kz_progress_set(&r.progress, total.lines, total.bytes, 0);
    kz_progress_done(&r.progress);
    fprintf(stderr, "kizuna: %llu hits in %llu lines (%llu suppressed by warninglists)\n",
            (unsigned long long)r.hits, (unsigned long long)total.lines,
            (unsigned long long)(so.show_suppressed ? r.suppressed : total.suppressed));
    if (report_to && report(n, &r, &target, ledger_blob, ledger, ledger_stamp0, &err) < 0)
        goto out;
    rc = r.hits ? 1 : 0;
    if (skipped)
        fprintf(stderr, "kizuna: %u file%s skipped\n", skipped, skipped == 1 ? "" : "s");
    if (skipped && !r.hits)
        rc = 3; /* exit 2 below, the skipped files already said why */
out:
    kz_progress_clear(&r.progress);
    if (rc == 2)
        cli_fail(&err);
    if (rc == 3)
        rc = 2;
    match_index_free(r.idx);
    match_psl_free(psl);
    warninglist_set_free(wl);
    free_refs(&r);
    intel_sighting_acc_free(r.acc);
    intel_ledger_free(ledger);
    kz_buf_free(&r.line);
    kzj_doc_free(&r.doc);
    return rc;
}
