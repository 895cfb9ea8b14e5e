/*
 * Walking the active indicators (see intel.h): one policy-filtered listing
 * of type indicator per collection, then the checks only the object's JSON
 * can answer.
 */
#include "intel/intel.h"

#include <string.h>

#include "json/json.h"
#include "policy/policy.h"
#include "store/store_objects.h"
#include "util/kztime.h"

struct walk {
    const struct intel_opts *o;
    const struct store_collection *coll;
    intel_fn fn;
    void *ctx;
    struct intel_counts *counts;
    struct kzj_doc doc;
    enum stix_tlp default_tlp;
};

static int64_t time_of(const struct kzj_doc *d, uint32_t v)
{
    char text[64];
    struct kz_ts t;
    const char *why;

    if (!v || kzj_strcpy(d, v, text, sizeof(text)) < 0 ||
        kz_ts_parse(text, strlen(text), &t, &why) < 0)
        return 0;
    return kz_ts_micros(&t);
}

static int on_row(void *ctx, const struct store_row *r, struct kz_error *err)
{
    struct walk *w = ctx;
    struct kzj_doc *d = &w->doc;
    struct intel_indicator ind;
    struct kzp_pattern *p = NULL;
    char name[512] = "", pt[16];
    const char *pat;
    size_t patlen;
    char tmp[16];
    uint32_t v;
    int rc;

    if (kzj_parse(d, r->raw, r->rawlen, err) < 0)
        return -1;
    memset(&ind, 0, sizeof(ind));
    v = KZJ_GET(d, 0, "revoked");
    ind.valid_from_us = time_of(d, KZJ_GET(d, 0, "valid_from"));
    ind.valid_until_us = time_of(d, KZJ_GET(d, 0, "valid_until"));
    if ((v && kzj_type(d, v) == KZJ_TRUE) || ind.valid_from_us > w->o->now_us ||
        (ind.valid_until_us && ind.valid_until_us <= w->o->now_us)) {
        w->counts->inactive++;
        return 0;
    }
    v = KZJ_GET(d, 0, "pattern_type");
    if (!v || kzj_strcpy(d, v, pt, sizeof(pt)) < 0 || strcmp(pt, "stix") != 0) {
        w->counts->other++;
        return 0;
    }
    v = KZJ_GET(d, 0, "pattern");
    if (!v || kzj_str(d, v, tmp, 0, &pat, &patlen) < 0) {
        /* an escaped pattern: decode it into the doc's scratch */
        struct kz_buf b;
        kz_buf_init(&b, KZP_MAX_PATTERN_BYTES + 1);
        if (!v || kzj_unescape(kzj_raw(d, v) + 1, kzj_at(d, v)->len - 2, &b) < 0 ||
            kzp_parse(b.data ? b.data : "", b.len, &p, err) < 0) {
            kz_buf_free(&b);
            w->counts->broken++;
            return 0;
        }
        kz_buf_free(&b);
    } else if (kzp_parse(pat, patlen, &p, err) < 0) {
        w->counts->broken++;
        return 0;
    }
    v = KZJ_GET(d, 0, "name");
    if (v && kzj_strcpy(d, v, name, sizeof(name)) < 0)
        name[0] = '\0';
    ind.id = r->id;
    ind.name = name;
    ind.tlp = r->tlp ? (enum stix_tlp)r->tlp : w->default_tlp;
    ind.raw = r->raw;
    ind.rawlen = r->rawlen;
    ind.pattern = p;
    ind.collection_id = w->coll->id;
    ind.collection_key = w->coll->key;
    ind.added = r->added;
    w->counts->indicators++;
    rc = w->fn(w->ctx, &ind, err);
    kzp_free(p);
    return rc;
}

static int walk_collection(struct store *s, struct walk *w, const struct store_collection *c,
                           struct kz_error *err)
{
    struct policy_view view;
    struct store_filter f;
    struct store_page page;

    if (w->o->as) {
        struct policy_reader r = {.user = w->o->as,
                                  .node_name = w->o->node_name,
                                  .default_tlp = w->o->default_tlp,
                                  .bulk = w->o->bulk};
        if (policy_view_open(s, &r, c, &view, err) < 0)
            return -1;
        if (!view.can_read)
            return 0;
    } else {
        policy_operator_view(c, w->o->default_tlp, w->o->bulk, &view);
    }
    store_filter_init(&f, c->key);
    f.types[0] = "indicator";
    f.ntypes = 1;
    f.versions = STORE_V_LAST;
    policy_filter(&view, &f);
    w->coll = c;
    return store_list(s, &f, 1, on_row, w, &page, err);
}

struct all_ctx {
    struct store *s;
    struct walk *w;
    struct kz_error *err;
    int failed;
};

static int each_collection(void *ctx, const struct store_collection *c)
{
    struct all_ctx *a = ctx;

    if (walk_collection(a->s, a->w, c, a->err) < 0) {
        a->failed = 1;
        return -1;
    }
    return 0;
}

int intel_each(struct store *s, const struct intel_opts *o, intel_fn fn, void *ctx,
               struct intel_counts *counts, struct kz_error *err)
{
    struct walk w = {.o = o, .fn = fn, .ctx = ctx, .counts = counts};
    int rc = 0;

    memset(counts, 0, sizeof(*counts));
    w.default_tlp = o->default_tlp ? o->default_tlp : STIX_TLP_AMBER;
    kzj_doc_init(&w.doc);
    if (o->ncollections == 0) {
        struct all_ctx a = {.s = s, .w = &w, .err = err};
        rc = store_collection_each(s, NULL, each_collection, &a, err);
        if (a.failed)
            rc = -1;
    } else {
        for (size_t i = 0; i < o->ncollections && rc == 0; i++) {
            struct store_collection c;
            rc = store_collection_find(s, NULL, o->collections[i], &c, err);
            if (rc == 0)
                rc = walk_collection(s, &w, &c, err);
        }
    }
    kzj_doc_free(&w.doc);
    return rc;
}
