/*
 * A sync round with one peer: pull every pull link, then push every push
 * link (docs/FEDERATION.md).
 *
 * Pull: pages are asked for with added_after = the link's checkpoint and
 * followed by `next`; each page is verified (when the peer's key is known),
 * ingested with its provenance, and committed together with the page's
 * X-TAXII-Date-Added-Last as the new checkpoint. A crash between pages
 * loses nothing, and a page fetched twice is all duplicates.
 *
 * Push: local objects added after the push checkpoint, all versions, that
 * the peer may receive by policy_peer_view and did not come from that peer,
 * are POSTed in envelopes; the checkpoint moves once the peer answered.
 *
 * Audit heads: a round with a peer whose key is known first checks the
 * peer's signed audit head against the one it kept (check_audit_head).
 */
#include "sync/sync_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "json/json.h"
#include "policy/policy.h"
#include "sign/sign.h"
#include "store/store_objects.h"
#include "store/store_peers.h"
#include "util/kztime.h"
#include "util/text.h"

static int token_key(const char *signing_key_path, unsigned char key[crypto_secretbox_KEYBYTES],
                     struct kz_error *err)
{
    return sign_derive_key(signing_key_path, SIGN_PURPOSE_PEER_TOKEN, key,
                           crypto_secretbox_KEYBYTES, err);
}

int sync_token_seal(const char *signing_key_path, const char *token, unsigned char *out, size_t cap,
                    size_t *len, struct kz_error *err)
{
    unsigned char key[crypto_secretbox_KEYBYTES];
    size_t n = strlen(token);

    if (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n > cap)
        return kz_error_set(err, KZ_EUSAGE, "the peer's token is too long");
    if (token_key(signing_key_path, key, err) < 0)
        return -1;
    randombytes_buf(out, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, (const unsigned char *)token, n, out,
                          key);
    *len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
    sodium_memzero(key, sizeof(key));
    return 0;
}

_Static_assert(SYNC_TOKEN_KEY_BYTES == crypto_secretbox_KEYBYTES, "the peer-token key's size");
_Static_assert(SYNC_TOKEN_KEY_BYTES == SIGN_DERIVED_BYTES, "the signer hands out the token key");

int sync_token_open_key(const unsigned char key[SYNC_TOKEN_KEY_BYTES], const unsigned char *sealed,
                        size_t len, char *token, size_t cap, struct kz_error *err)
{
    size_t n;

    if (len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES ||
        len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES >= cap)
        return kz_error_set(err, KZ_EINVALID, "the stored peer token is damaged");
    n = len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    if (crypto_secretbox_open_easy((unsigned char *)token, sealed + crypto_secretbox_NONCEBYTES,
                                   len - crypto_secretbox_NONCEBYTES, sealed, key) != 0)
        return kz_error_set(err, KZ_EINVALID,
                            "the stored peer token does not open with this node's key");
    token[n] = '\0';
    return 0;
}

int sync_token_open(const char *signing_key_path, const unsigned char *sealed, size_t len,
                    char *token, size_t cap, struct kz_error *err)
{
    unsigned char key[crypto_secretbox_KEYBYTES];
    int rc;

    if (token_key(signing_key_path, key, err) < 0)
        return -1;
    rc = sync_token_open_key(key, sealed, len, token, cap, err);
    sodium_memzero(key, sizeof(key));
    return rc;
}

/* --- one round --------------------------------------------------------------- */

struct round {
    const struct node_config *cfg;
    struct store *s;
    struct store_peer peer;
    struct peer_client client;
    unsigned char pk[SIGN_PUBLIC_BYTES];
    int check_sig;
    struct sync_report *rep;
    sync_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    struct policy_resolved resolved;
    struct policy_owners owners; /* of the batch ingest is deciding */
    /* the page being stored */
    const struct policy_view *pull_view; /* the peer's view of the local collection */
    const struct store_peer_link *link;
    const struct peer_response *page;
    int64_t new_checkpoint;
    char new_checkpoint_text[64]; /* as the next request states it, "" when it stays */
    uint64_t page_objects;        /* objects of the page read so far (any outcome) */
    int more;
    char next[256];
};

static int link_url(const struct round *r, const struct store_peer_link *l, char *out, size_t cap)
{
    char *coll = peer_escape(l->remote);
    int n;

    if (!coll)
        return -1;
    n = snprintf(out, cap, "%s%scollections/%s/objects/", r->peer.url,
                 r->peer.url[strlen(r->peer.url) - 1] == '/' ? "" : "/", coll);
    free(coll);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* Reads "v2 TIME BASE64" into *when and *sig; -1 when it is not that. */
static int signature_v2(const char *header, int64_t *when, const char **sig)
{
    const char *p = header + 3;
    int64_t t = 0;
    int digits = 0;

    if (strncmp(header, "v2 ", 3) != 0)
        return -1;
    for (; *p >= '0' && *p <= '9' && digits < 12; p++, digits++)
        t = t * 10 + (*p - '0');
    if (digits == 0 || *p != ' ')
        return -1;
    *when = t;
    *sig = p + 1;
    return 0;
}

/* Checks a page's kizuna-sig-v2 signature (taxii.h, FEDERATION.md): made by
 * the peer's key for this very request (the nonce sent with it), at a time
 * within SYNC_CLOCK_SKEW_S of this node's clock, over the target, the
 * X-TAXII-Date-Added-Last the checkpoint moves to, and the body. A v1
 * signature is refused: it binds no request, so a relay could answer with
 * any old page it kept (and withhold newer objects or a revocation). */
static int verify_page(const struct round *r, const char *target, const struct peer_response *p,
                       struct kz_error *err)
{
    struct kz_buf msg;
    const char *sig;
    int64_t when, now;
    int ok;

    if (!r->check_sig)
        return 0;
    if (strncmp(p->signature, "v1 ", 3) == 0)
        return kz_error_set(err, KZ_EDENIED,
                            "the peer's page is signed without binding it to this request "
                            "(kizuna-sig-v1, which a relay can replay): the peer runs an older "
                            "kizuna, or something between strips X-Kizuna-Nonce");
    if (signature_v2(p->signature, &when, &sig) < 0)
        return kz_error_set(err, KZ_EDENIED, "the peer's page is not signed");
    now = kz_now_micros() / 1000000;
    if (when > now + SYNC_CLOCK_SKEW_S || when < now - SYNC_CLOCK_SKEW_S)
        return kz_error_set(err, KZ_EDENIED,
                            "the peer's page was signed at %lld, more than %d s from this "
                            "node's clock (%lld): a replayed page, or a clock that is off",
                            (long long)when, SYNC_CLOCK_SKEW_S, (long long)now);
    ok = sign_page_text_v2(&msg, p->nonce, (long long)when, target, p->added_last, p->body.data,
                           p->body.len) == 0 &&
         p->nonce[0] && sign_verify_text(r->pk, msg.data, msg.len, sig) == 0;
    kz_buf_free(&msg);
    if (!ok)
        return kz_error_set(err, KZ_EDENIED,
                            "the peer's page signature does not verify for this request: "
                            "altered or replayed in transit, or not signed by the key given "
                            "with --key");
    return 0;
}

static int pulled_meta(void *ctx, const struct stix_obj *o, struct store_put_meta *m,
                       struct kz_error *why)
{
    struct round *r = ctx;

    if (policy_recipients(r->s, r->cfg->name, o, &r->resolved, m, why) < 0)
        return -1;
    m->origin = r->peer.key;
    return 0;
}

/* A peer relays what others produced, but a version it brings keeps the
 * creator of the versions held (policy_check_change). */
static int pulled_prefetch(void *ctx, const struct stix_obj *const *objs, unsigned n,
                           struct kz_error *err)
{
    struct round *r = ctx;

    return policy_owners_fetch(r->s, r->pull_view, objs, n, &r->owners, err);
}

static int pulled_allow(void *ctx, const struct stix_obj *o, struct kz_error *why)
{
    struct round *r = ctx;

    return policy_check_change_fetched(r->s, &r->owners, r->pull_view, AUTH_ROLE_PEER, o, why);
}

static void pulled_report(void *ctx, const struct ingest_report *rep)
{
    struct round *r = ctx;

    r->page_objects++;
    if (rep->outcome == INGEST_ADDED)
        r->rep->pulled++;
    else if (rep->outcome == INGEST_REJECTED)
        r->rep->rejected++;
    if (r->progress)
        r->progress(r->progress_ctx, r->rep);
}

/* Moves the link's checkpoint to a page's X-TAXII-Date-Added-Last, only when
 * the page justifies it: a page without objects says nothing about where
 * the next one starts, and a date past this node's clock plus
 * SYNC_CLOCK_SKEW_S (a peer's 9999-12-31) would pin the link there and skip
 * whatever the peer adds until then. No date of ours would do instead (any
 * guess past the peer's own clock skips), so the checkpoint stays: the
 * next round asks again from where it was, and what comes twice is a
 * duplicate. */
static int checkpoint_move(struct round *r, int64_t added_last, uint64_t objects,
                           struct kz_error *err)
{
    int64_t limit = kz_now_micros() + (int64_t)SYNC_CLOCK_SKEW_S * 1000000;

    if (objects == 0 || added_last > limit)
        return 0;
    r->new_checkpoint = added_last;
    snprintf(r->new_checkpoint_text, sizeof(r->new_checkpoint_text), "%s", r->page->added_last);
    return store_link_checkpoint(r->s, r->link, r->new_checkpoint, r->new_checkpoint_text, err);
}

static int pulled_commit(void *ctx, const struct stix_container *info, struct kz_error *err)
{
    struct round *r = ctx;
    struct kz_ts t;
    const char *why;

    r->more = info->more;
    snprintf(r->next, sizeof(r->next), "%s", info->next);
    r->new_checkpoint_text[0] = '\0';
    if (!r->page->added_last[0])
        return 0; /* a server that does not say: follow next, keep the checkpoint */
    if (kz_ts_parse(r->page->added_last, strlen(r->page->added_last), &t, &why) < 0)
        return kz_error_set(err, KZ_EINVALID, "the peer's X-TAXII-Date-Added-Last %s", why);
    return checkpoint_move(r, kz_ts_micros(&t), r->page_objects, err);
}

/* The URL of the page after added_after (a date as the peer wrote it, ""
 * for none) and next (escaped, "" for none). */
static void page_url(const char *base, const char *added_after, const char *next, char *url,
                     size_t cap)
{
    char *after = added_after[0] ? peer_escape(added_after) : NULL;

    snprintf(url, cap, "%s?limit=%d&match%%5Bversion%%5D=all%s%s%s%s", base, SYNC_PAGE_LIMIT,
             after ? "&added_after=" : "", after ? after : "", next[0] ? "&next=" : "", next);
    free(after);
}

static int fetch_page(struct round *r, const char *url, struct peer_response *p,
                      struct kz_error *err)
{
    if (peer_request(&r->client, "GET", url, NULL, 0, r->check_sig, p, err) < 0)
        return -1;
    if (p->status != 200)
        return peer_status_error(&r->client, "GET", url, p, err);
    return 0;
}

/* The next page, fetched while this one is stored. Which page comes next
 * is only certain once this one is read (its "next"), so the fetch is a
 * guess from the tail of the body, where TAXII servers put "more" and
 * "next"; the page is used only if the URL then asked for is the same. */
struct prefetch {
    struct round *r;
    char url[2048];
    struct peer_response resp;
    struct kz_error err;
    int rc;
    int started;
    atomic_int done;
    pthread_t thread;
};

static void *prefetch_run(void *arg)
{
    struct prefetch *f = arg;

    kz_error_clear(&f->err);
    f->rc = fetch_page(f->r, f->url, &f->resp, &f->err);
    atomic_store(&f->done, 1);
    return NULL;
}

/* "next" near the end of an envelope that says more, escaped for a URL;
 * 0 when there is none to guess. */
static int guess_next(const struct peer_response *p, char *out, size_t cap)
{
    size_t tail = p->body.len < 512 ? p->body.len : 512;
    const char *t = p->body.data ? p->body.data + p->body.len - tail : "";
    const char *k, *end;
    char raw[256], *e;

    if (!kz_memmem(t, tail, "\"more\":true", 11) || !(k = kz_memmem(t, tail, "\"next\":\"", 8)))
        return 0;
    k += 8;
    end = memchr(k, '"', tail - (size_t)(k - t));
    if (!end || memchr(k, '\\', (size_t)(end - k)) || (size_t)(end - k) >= sizeof(raw))
        return 0;
    snprintf(raw, sizeof(raw), "%.*s", (int)(end - k), k);
    e = peer_escape(raw);
    if (!e)
        return 0;
    snprintf(out, cap, "%s", e);
    free(e);
    return 1;
}

/* query_after: the added_after of the query the round's `next` belongs to. */
static void prefetch_start(struct prefetch *f, const char *base, const struct peer_response *p,
                           const char *query_after)
{
    char next[300];

    if (f->started || !guess_next(p, next, sizeof(next)))
        return;
    page_url(base, query_after, next, f->url, sizeof(f->url));
    atomic_store(&f->done, 0);
    f->started = pthread_create(&f->thread, NULL, prefetch_run, f) == 0;
}

/* Whether the page at url is there already, fetched by the prefetch. */
static int prefetch_ready(struct prefetch *f, const char *url)
{
    return f->started && atomic_load(&f->done) && f->rc == 0 && strcmp(f->url, url) == 0;
}

/* Pulled pages are stored as steps of one transaction, committed every
 * SYNC_PAGES_PER_COMMIT pages or SYNC_COMMIT_US: fewer commits write the
 * same index pages fewer times. The write lock is never held while
 * waiting for the network: a page not fetched yet commits first. */
struct batch {
    int open;
    int pages;
    int64_t since;
};

static int batch_step(struct round *r, struct batch *b, struct kz_error *err)
{
    if (b->open)
        return 0;
    if (store_begin(r->s, err) < 0)
        return -1;
    b->open = 1;
    b->pages = 0;
    b->since = kz_mono_micros();
    return 0;
}

static int batch_commit(struct round *r, struct batch *b, struct kz_error *err)
{
    if (!b->open)
        return 0;
    b->open = 0;
    if (store_commit(r->s, err) == 0)
        return 0;
    store_rollback(r->s);
    return -1;
}

/* Waits for the prefetch; 1 when it fetched `url`, swapped into *p. */
static int prefetch_take(struct prefetch *f, const char *url, struct peer_response *p)
{
    struct peer_response t;

    if (!f->started)
        return 0;
    pthread_join(f->thread, NULL);
    f->started = 0;
    if (!url || f->rc < 0 || strcmp(f->url, url) != 0)
        return 0;
    t = *p;
    *p = f->resp;
    f->resp = t;
    return 1;
}

static int collection_by_key(struct store *s, int64_t key, struct store_collection *out,
                             struct kz_error *err);

static int pull_link(struct round *r, const struct store_peer_link *l, struct kz_error *err)
{
    struct peer_response p;
    struct prefetch *f = calloc(1, sizeof(*f));
    struct ingest_opts opts = {.name = "peer page",
                               .report = pulled_report,
                               .report_ctx = r,
                               .allow = pulled_allow,
                               .allow_ctx = r,
                               .prefetch = pulled_prefetch,
                               .prefetch_ctx = r,
                               .meta = pulled_meta,
                               .meta_ctx = r,
                               .before_commit = pulled_commit,
                               .commit_ctx = r,
                               .step = 1};
    struct ingest_counts counts;
    struct store_collection coll;
    struct policy_view view;
    struct store_peer_link cur = *l;
    struct batch batch = {0};
    struct kz_error e2;
    char base[1400], url[2048], next[300] = "";
    /* TAXII 2.1 (3.4): `next` goes with the query it was made for, unchanged.
     * The checkpoint moves page by page, but the query keeps the added_after
     * it started with; a new query starts only where a page says more
     * without next. (medallion answers 400 to a changed query.) */
    char query_after[sizeof(cur.checkpoint_text)];
    const char *target;
    int rc = -1, stuck = 0;

    kz_buf_init(&p.body, SYNC_MAX_PAGE_BYTES);
    if (!f) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        goto out;
    }
    f->r = r;
    kz_buf_init(&f->resp.body, SYNC_MAX_PAGE_BYTES);
    /* the peer's tombstones delete what it could see here, or sent */
    if (collection_by_key(r->s, l->local, &coll, err) < 0 ||
        policy_peer_view(r->s, &r->peer, &coll, r->cfg->default_tlp, &view, err) < 0)
        goto out;
    r->pull_view = &view;
    opts.delete_vis = &view.vis;
    opts.delete_origin = r->peer.key;
    if (link_url(r, l, base, sizeof(base)) < 0) {
        kz_error_set(err, KZ_EUSAGE, "the peer's URL is too long");
        goto out;
    }
    snprintf(query_after, sizeof(query_after), "%s", cur.checkpoint_text);
    page_url(base, query_after, next, url, sizeof(url));
    if (fetch_page(r, url, &p, err) < 0)
        goto out;
    for (int page = 1;; page++) {
        prefetch_start(f, base, &p, query_after);
        /* what was signed: the request target, path and query */
        target = strstr(url, "://");
        target = target ? strchr(target + 3, '/') : url;
        if (verify_page(r, target ? target : url, &p, err) < 0)
            goto out;
        r->link = &cur;
        r->page = &p;
        r->new_checkpoint = cur.checkpoint;
        r->page_objects = 0;
        if (batch_step(r, &batch, err) < 0)
            goto out;
        if (ingest_buffer(r->s, cur.local, p.body.data ? p.body.data : "", p.body.len, &opts,
                          &counts, err) < 0) {
            kz_error_property(err, "%s", "");
            goto out;
        }
        batch.pages++;
        /* a page that neither moves the checkpoint nor brings anything new
         * is not progress, whatever "more" says (a peer paginating forever) */
        if (counts.added == 0 && (!p.added_last[0] || r->new_checkpoint <= cur.checkpoint))
            stuck++;
        else
            stuck = 0;
        if (r->new_checkpoint_text[0]) {
            cur.checkpoint = r->new_checkpoint;
            snprintf(cur.checkpoint_text, sizeof(cur.checkpoint_text), "%s",
                     r->new_checkpoint_text);
        }
        if (!r->more)
            break;
        if (!r->next[0]) {
            /* "more" without "next": continue from the checkpoint alone */
            if (!p.added_last[0]) {
                kz_error_set(err, KZ_EIO, "the peer says more but gives neither next nor dates");
                goto out;
            }
            next[0] = '\0';
            snprintf(query_after, sizeof(query_after), "%s", cur.checkpoint_text);
        } else {
            char *e = peer_escape(r->next);
            snprintf(next, sizeof(next), "%s", e ? e : "");
            free(e);
        }
        if (stuck >= 2) {
            kz_error_set(err, KZ_EIO, "the peer keeps saying more without moving forward");
            goto out;
        }
        if (page >= SYNC_MAX_PAGES) {
            kz_error_set(err, KZ_EIO, "the peer paginated past %d pages in one round",
                         SYNC_MAX_PAGES);
            goto out;
        }
        page_url(base, query_after, next, url, sizeof(url));
        if ((batch.pages >= SYNC_PAGES_PER_COMMIT ||
             kz_mono_micros() - batch.since >= SYNC_COMMIT_US || !prefetch_ready(f, url)) &&
            batch_commit(r, &batch, err) < 0)
            goto out;
        if (!prefetch_take(f, url, &p) && fetch_page(r, url, &p, err) < 0)
            goto out;
    }
    rc = batch_commit(r, &batch, err);
out:
    /* the pages stored before a failure are good: keep them */
    kz_error_clear(&e2);
    if (batch_commit(r, &batch, &e2) < 0 && rc == 0)
        *err = e2;
    if (f) {
        prefetch_take(f, NULL, &p);
        kz_buf_free(&f->resp.body);
        free(f);
    }
    kz_buf_free(&p.body);
    return rc;
}

/* --- push -------------------------------------------------------------------- */

struct find_key {
    int64_t key;
    struct store_collection *out;
    int found;
};

static int match_key(void *ctx, const struct store_collection *c)
{
    struct find_key *f = ctx;

    if (c->key != f->key)
        return 0;
    *f->out = *c;
    f->found = 1;
    return STORE_STOP;
}

static int collection_by_key(struct store *s, int64_t key, struct store_collection *out,
                             struct kz_error *err)
{
    struct find_key f = {.key = key, .out = out};

    if (store_collection_each(s, NULL, match_key, &f, err) < 0)
        return -1;
    return f.found ? 0 : kz_error_set(err, KZ_ENOTFOUND, "a linked collection is gone");
}

struct push_batch {
    struct kz_buf env;
    uint64_t n;
    int64_t last;
};

static int on_push_row(void *ctx, const struct store_row *row, struct kz_error *err)
{
    struct push_batch *b = ctx;

    kz_buf_addstr(&b->env, b->n++ ? "," : "{\"objects\":[");
    kz_buf_add(&b->env, row->raw, row->rawlen);
    b->last = row->added;
    return b->env.failed ? kz_error_set(err, KZ_ELIMIT, "a push envelope grew too large") : 0;
}

/* Counts the failures in a status resource the peer answered with. */
static uint64_t status_failures(const char *body, size_t len)
{
    struct kzj_doc d;
    struct kz_error err;
    int64_t n = 0;
    uint32_t v;

    kzj_doc_init(&d);
    if (kzj_parse(&d, body, len, &err) == 0 && (v = KZJ_GET(&d, 0, "failure_count")) != 0)
        kzj_int64(&d, v, &n);
    kzj_doc_free(&d);
    return n > 0 ? (uint64_t)n : 0;
}

static int push_link(struct round *r, const struct store_peer_link *l, struct kz_error *err)
{
    struct store_collection c;
    struct policy_view view;
    struct store_filter f;
    struct store_page page;
    struct push_batch b;
    struct peer_response p;
    struct store_peer_link cur = *l;
    char url[1400];
    int rc = -1;

    kz_buf_init(&b.env, (size_t)SYNC_MAX_PAGE_BYTES);
    kz_buf_init(&p.body, (size_t)1 << 24);
    if (collection_by_key(r->s, l->local, &c, err) < 0 ||
        policy_peer_view(r->s, &r->peer, &c, r->cfg->default_tlp, &view, err) < 0)
        goto out;
    if (link_url(r, l, url, sizeof(url)) < 0) {
        kz_error_set(err, KZ_EUSAGE, "the peer's URL is too long");
        goto out;
    }
    for (;;) {
        store_filter_init(&f, l->local);
        f.added_after = cur.checkpoint;
        f.versions = STORE_V_ALL;
        f.limit = SYNC_PUSH_BATCH;
        f.exclude_origin = r->peer.key;
        policy_filter(&view, &f);
        kz_buf_reset(&b.env);
        b.n = 0;
        b.last = cur.checkpoint;
        if (store_list(r->s, &f, 1, on_push_row, &b, &page, err) < 0)
            goto out;
        if (b.n == 0)
            break;
        kz_buf_addstr(&b.env, "]}");
        if (peer_request(&r->client, "POST", url, b.env.data, b.env.len, 0, &p, err) < 0)
            goto out;
        if (p.status != 202 && p.status != 200) {
            peer_status_error(&r->client, "POST", url, &p, err);
            goto out;
        }
        r->rep->pushed += b.n;
        r->rep->rejected += status_failures(p.body.data, p.body.len);
        if (r->progress)
            r->progress(r->progress_ctx, r->rep);
        cur.checkpoint = b.last;
        if (store_link_checkpoint(r->s, &cur, cur.checkpoint, "", err) < 0)
            goto out;
        if (!page.more)
            break;
    }
    rc = 0;
out:
    kz_buf_free(&b.env);
    kz_buf_free(&p.body);
    return rc;
}

struct links {
    struct store_peer_link items[64];
    size_t n;
};

static int collect_link(void *ctx, const struct store_peer_link *l)
{
    struct links *ls = ctx;

    if (ls->n < sizeof(ls->items) / sizeof(ls->items[0]))
        ls->items[ls->n++] = *l;
    return 0;
}

/* --- partners' audit heads (docs/FEDERATION.md, "Audit heads") -------------- */

/* What the partner's signed answer says. */
static int hex32(const char *s, unsigned char out[STORE_AUDIT_HASH_LEN])
{
    size_t n = 0;

    if (!s || strlen(s) != 2 * STORE_AUDIT_HASH_LEN)
        return -1;
    if (sodium_hex2bin(out, STORE_AUDIT_HASH_LEN, s, strlen(s), NULL, &n, NULL) != 0)
        return -1;
    return n == STORE_AUDIT_HASH_LEN ? 0 : -1;
}

int sync_audit_head_parse(const char *text, size_t len, struct sync_audit_head *a)
{
    json_error_t jerr;
    json_t *j = json_loadb(text ? text : "", len, 0, &jerr);
    const char *hash = NULL;
    json_t *seen_hash = NULL;
    json_int_t seq = -1, seen = -1;
    int rc = -1;

    memset(a, 0, sizeof(*a));
    if (j &&
        json_unpack(j, "{s:I, s:s, s:{s:I, s:o}}", "seq", &seq, "hash", &hash, "seen", "seq", &seen,
                    "hash", &seen_hash) == 0 &&
        seq >= 0 && seen >= 0 && hex32(hash, a->hash) == 0 &&
        (json_is_null(seen_hash) ||
         (json_is_string(seen_hash) && hex32(json_string_value(seen_hash), a->seen_hash) == 0))) {
        a->seq = seq;
        a->seen_seq = seen;
        a->seen_found = json_is_string(seen_hash);
        rc = 0;
    }
    json_decref(j);
    return rc;
}

/* Fetches the partner's signed audit head and compares it with the one
 * seen last: the partner's log must still hold that row with that hash.
 * A partner whose log went backwards, was rewritten or stopped serving its
 * head is recorded (peer list, audit --verify) and fails the round; the
 * head seen before stays as the evidence. Only for peers with a known key:
 * an unsigned head proves nothing. */
static int check_audit_head(struct round *r, struct kz_error *err)
{
    struct store_peer_head old, *h = calloc(1, sizeof(*h));
    struct peer_response p;
    struct sync_audit_head a;
    struct kz_error e2;
    unsigned char raw[16];
    char nonce[33], url[1400], when[KZ_TS_MICROS_LEN];
    const char *target;
    int have, rc = -1;

    kz_buf_init(&p.body, SYNC_MAX_HEAD_BYTES);
    if (!h) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        goto out;
    }
    kz_error_clear(&e2);
    have = store_peer_head_get(r->s, r->peer.key, &old, &e2) == 0;
    if (!have && e2.code != KZ_ENOTFOUND) {
        *err = e2;
        goto out;
    }
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(nonce, sizeof(nonce), raw, sizeof(raw));
    snprintf(url, sizeof(url), "%s%skizuna/audit-head/?seen=%lld&nonce=%s", r->peer.url,
             r->peer.url[strlen(r->peer.url) - 1] == '/' ? "" : "/",
             (long long)(have ? old.seq : 0), nonce);
    if (peer_request(&r->client, "GET", url, NULL, 0, 1, &p, err) < 0)
        goto out;
    kz_ts_format_micros(have ? old.seen_us : 0, when);
    if (p.status == 404 && !(have && old.seq > 0)) {
        rc = 0; /* not a kizuna node, or one that serves no head yet */
        goto out;
    }
    if (p.status == 404) {
        snprintf(old.problem, sizeof(old.problem),
                 "its audit log vanished: no head is served, row %lld was seen on %s",
                 (long long)old.seq, when);
        goto problem;
    }
    if (p.status != 200) {
        peer_status_error(&r->client, "GET", url, &p, err);
        goto out;
    }
    target = strstr(url, "://");
    target = target ? strchr(target + 3, '/') : url;
    if (verify_page(r, target ? target : url, &p, err) < 0)
        goto out;
    if (sync_audit_head_parse(p.body.data, p.body.len, &a) < 0 ||
        a.seen_seq != (have ? old.seq : 0)) {
        kz_error_set(err, KZ_EINVALID, "the peer's audit head is not what was asked for");
        goto out;
    }
    if (have && a.seq < old.seq) {
        snprintf(old.problem, sizeof(old.problem),
                 "its audit log went backwards: row %lld was seen on %s, it now ends at row %lld",
                 (long long)old.seq, when, (long long)a.seq);
        goto problem;
    }
    if (have && old.seq > 0 &&
        (!a.seen_found || sodium_memcmp(a.seen_hash, old.hash, sizeof(old.hash)) != 0)) {
        snprintf(old.problem, sizeof(old.problem),
                 "its audit log was rewritten: row %lld is not the one seen on %s",
                 (long long)old.seq, when);
        goto problem;
    }
    h->peer = r->peer.key;
    h->seq = a.seq;
    memcpy(h->hash, a.hash, sizeof(h->hash));
    h->seen_us = kz_now_micros();
    snprintf(h->evidence, sizeof(h->evidence), "%s\n%s\n%.*s", target ? target : url, p.signature,
             (int)p.body.len, p.body.data);
    rc = store_peer_head_put(r->s, h, err);
    goto out;
problem:
    /* the head seen before stays: it is the partner's signed word */
    old.problem_us = kz_now_micros();
    if (store_peer_head_put(r->s, &old, err) == 0)
        kz_error_set(err, KZ_EINVALID, "audit: %s", old.problem);
out:
    kz_buf_free(&p.body);
    free(h);
    return rc;
}

static int run_round(struct round *r, struct kz_error *err)
{
    struct links ls = {.n = 0};

    if (store_peer_links(r->s, r->peer.key, collect_link, &ls, err) < 0)
        return -1;
    for (int dir = STORE_LINK_PULL; dir <= STORE_LINK_PUSH; dir++) {
        for (size_t i = 0; i < ls.n; i++) {
            if (ls.items[i].direction != dir)
                continue;
            if ((dir == STORE_LINK_PULL ? pull_link(r, &ls.items[i], err)
                                        : push_link(r, &ls.items[i], err)) < 0)
                return -1;
        }
    }
    return 0;
}

/* A round; token_key opens the peer's token, or NULL: derive it from the
 * key file (the CLI, which runs as the operator). */
static int peer_round(const struct node_config *cfg, const unsigned char *token_key,
                      const char *name, struct sync_report *rep, sync_progress_fn fn, void *fctx,
                      struct kz_error *err)
{
    struct round *r = calloc(1, sizeof(*r));
    struct store_checkpointer *ckpt = NULL;
    struct kz_error e2, head_err;
    int head_rc;
    char msg[1400];
    int rc = -1;

    memset(rep, 0, sizeof(*rep));
    if (!r)
        return kz_error_set(err, KZ_ENOMEM, "out of memory");
    r->cfg = cfg;
    r->rep = rep;
    r->progress = fn;
    r->progress_ctx = fctx;
    r->s = store_open(cfg->store_backend, cfg->store_path, 0, err);
    if (!r->s)
        goto out;
    /* checkpoints beside the round, on another thread, not in its commits */
    store_set_bulk(r->s);
    ckpt = store_checkpointer_start(cfg->store_backend, cfg->store_path, 250, &e2);
    if (store_peer_find(r->s, name, &r->peer, err) < 0)
        goto out;
    snprintf(r->client.ca, sizeof(r->client.ca), "%s", r->peer.ca);
    snprintf(r->client.name, sizeof(r->client.name), "%s", r->peer.name);
    snprintf(r->client.user, sizeof(r->client.user), "%s", r->peer.user);
    if ((token_key ? sync_token_open_key(token_key, r->peer.token, r->peer.token_len,
                                         r->client.token, sizeof(r->client.token), err)
                   : sync_token_open(cfg->signing_key, r->peer.token, r->peer.token_len,
                                     r->client.token, sizeof(r->client.token), err)) < 0)
        goto record;
    if (r->peer.public_key[0]) {
        if (sign_public_parse(r->peer.public_key, r->pk) < 0) {
            kz_error_set(err, KZ_EINVALID, "the peer's public key is malformed");
            goto record;
        }
        r->check_sig = 1;
    }
    if (sync_url_ok(r->peer.url, err) < 0)
        goto record;
    /* the partner's audit head first, before this round's requests add to
     * its log; a problem is reported once the round is done */
    kz_error_clear(&head_err);
    head_rc = r->check_sig ? check_audit_head(r, &head_err) : 0;
    if (run_round(r, err) < 0)
        goto record;
    if (head_rc < 0) {
        *err = head_err;
        goto record;
    }
    rc = 0;
record:
    kz_error_clear(&e2);
    if (rc < 0) {
        kz_error_format(err, msg, sizeof(msg));
        snprintf(rep->error, sizeof(rep->error), "%.500s", msg);
        store_peer_outcome(r->s, r->peer.key, rep->error, &e2);
    } else {
        store_peer_outcome(r->s, r->peer.key, NULL, &e2);
    }
    store_checkpointer_stop(ckpt);
    ckpt = NULL;
    store_checkpoint(r->s, &e2);
out:
    store_checkpointer_stop(ckpt);
    store_close(r->s);
    sodium_memzero(r->client.token, sizeof(r->client.token));
    free(r);
    return rc;
}

/* --- the background syncer ------------------------------------------------------- */

int sync_peer(const struct node_config *cfg, const char *name, struct sync_report *rep,
              struct kz_error *err)
{
    return peer_round(cfg, NULL, name, rep, NULL, NULL, err);
}

int sync_peer_progress(const struct node_config *cfg, const char *name, struct sync_report *rep,
                       sync_progress_fn fn, void *ctx, struct kz_error *err)
{
    return peer_round(cfg, NULL, name, rep, fn, ctx, err);
}

/* One peer's round in its own thread; `busy` until the thread has ended
 * and can be joined. */
struct peer_job {
    const struct node_config *cfg;
    const unsigned char *token_key; /* the daemon's */
    char name[KZ_MAX_NAME + 1];
    pthread_t thread;
    atomic_int busy;
    int started; /* a thread to join */
};

struct sync_daemon {
    const struct node_config *cfg;
    unsigned char token_key[SYNC_TOKEN_KEY_BYTES]; /* from the signer: the key file is not read */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping;
    struct peer_job jobs[SYNC_MAX_PEERS];
};

static void *peer_thread(void *arg)
{
    struct peer_job *j = arg;
    struct sync_report rep;
    struct kz_error err;

    kz_error_clear(&err);
    peer_round(j->cfg, j->token_key, j->name, &rep, NULL, NULL, &err);
    atomic_store(&j->busy, 0);
    return NULL;
}

struct names {
    char items[SYNC_MAX_PEERS][KZ_MAX_NAME + 1];
    size_t n;
};

static int collect_name(void *ctx, const struct store_peer *p)
{
    struct names *ns = ctx;

    if (ns->n < SYNC_MAX_PEERS)
        snprintf(ns->items[ns->n++], sizeof(ns->items[0]), "%s", p->name);
    return 0;
}

/* The job slot of peer `name`: its own, else a free one (NULL: none). */
static struct peer_job *job_slot(struct sync_daemon *d, const char *name)
{
    struct peer_job *free_slot = NULL;

    for (size_t i = 0; i < SYNC_MAX_PEERS; i++) {
        struct peer_job *j = &d->jobs[i];
        if (j->name[0] && strcmp(j->name, name) == 0)
            return j;
        if (!free_slot && !j->name[0])
            free_slot = j;
    }
    return free_slot;
}

static void job_reap(struct peer_job *j)
{
    if (j->started && !atomic_load(&j->busy)) {
        pthread_join(j->thread, NULL);
        j->started = 0;
    }
}

/* Starts a round with every peer whose last round has ended. A peer still
 * in its round (slow, or hung until its timeouts) is left to it. */
static void round_all(struct sync_daemon *d)
{
    struct names *ns = calloc(1, sizeof(*ns));
    struct kz_error err;
    struct store *s;

    for (size_t i = 0; i < SYNC_MAX_PEERS; i++) {
        job_reap(&d->jobs[i]);
        if (!d->jobs[i].started)
            d->jobs[i].name[0] = '\0'; /* peers removed since are forgotten */
    }
    if (!ns)
        return;
    s = store_open(d->cfg->store_backend, d->cfg->store_path, 0, &err);
    if (s)
        store_peer_each(s, collect_name, ns, &err);
    store_close(s);
    for (size_t i = 0; i < ns->n; i++) {
        struct peer_job *j = job_slot(d, ns->items[i]);
        if (!j || j->started)
            continue;
        j->cfg = d->cfg;
        j->token_key = d->token_key;
        snprintf(j->name, sizeof(j->name), "%s", ns->items[i]);
        atomic_store(&j->busy, 1);
        if (pthread_create(&j->thread, NULL, peer_thread, j) == 0)
            j->started = 1;
        else
            atomic_store(&j->busy, 0);
    }
    free(ns);
}

/* Whether this server leads background sync now (store_leader_try): of
 * several servers over one store, one syncs; the others ask again every
 * SYNC_LEADER_RETRY_MS and take over when the leader's connection or
 * process ends. *leader is the handle holding it, opened again after a
 * failure (a lost connection loses the lead with it). */
static int sync_leads(struct sync_daemon *d, struct store **leader)
{
    struct kz_error err;
    int rc;

    if (!*leader)
        *leader = store_open(d->cfg->store_backend, d->cfg->store_path, 0, &err);
    if (!*leader)
        return 0;
    rc = store_leader_try(*leader, "sync", &err);
    if (rc < 0) {
        store_close(*leader);
        *leader = NULL;
        return 0;
    }
    return rc;
}

static void *daemon_thread(void *arg)
{
    struct sync_daemon *d = arg;
    struct store *leader = NULL;

    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        struct timespec ts;
        int64_t wait_ms = (int64_t)d->cfg->sync_interval * 1000;
        int leads;
        pthread_mutex_unlock(&d->lock);
        leads = sync_leads(d, &leader);
        if (leads)
            round_all(d);
        else if (wait_ms > SYNC_LEADER_RETRY_MS)
            wait_ms = SYNC_LEADER_RETRY_MS;
        pthread_mutex_lock(&d->lock);
        kz_deadline_ms(&ts, wait_ms);
        while (!d->stopping && pthread_cond_timedwait(&d->wake, &d->lock, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&d->lock);
    store_close(leader);
    return NULL;
}

struct sync_daemon *sync_daemon_start(const struct node_config *cfg,
                                      const unsigned char token_key[SYNC_TOKEN_KEY_BYTES],
                                      struct kz_error *err)
{
    struct sync_daemon *d = calloc(1, sizeof(*d));

    if (!d) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    d->cfg = cfg;
    memcpy(d->token_key, token_key, sizeof(d->token_key));
    sync_cancel(0);
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->wake, NULL);
    if (pthread_create(&d->thread, NULL, daemon_thread, d) != 0) {
        kz_error_set(err, KZ_EINTERNAL, "cannot start the syncer");
        pthread_cond_destroy(&d->wake);
        pthread_mutex_destroy(&d->lock);
        sodium_memzero(d->token_key, sizeof(d->token_key));
        free(d);
        return NULL;
    }
    return d;
}

void sync_daemon_stop(struct sync_daemon *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->stopping = 1;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    /* rounds in flight end at their next read or retry */
    sync_cancel(1);
    for (size_t i = 0; i < SYNC_MAX_PEERS; i++)
        if (d->jobs[i].started)
            pthread_join(d->jobs[i].thread, NULL);
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->lock);
    sodium_memzero(d->token_key, sizeof(d->token_key));
    free(d);
}
