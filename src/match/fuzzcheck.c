/*
 * The body of the matching engine's fuzz harnesses (fuzz/fuzz_match_*.c),
 * kept in the library so that tests/unit/test_match_fuzz_corpus.c replays
 * the same code over the committed corpus in every test run. One input is
 * scanned as a whole log in the given format against a small index whose
 * values hit often (/0 blocks, short domains) and a warninglist set of every
 * type, and the invariants of every hit are checked (its line's time
 * included); a broken invariant aborts (the fuzzer's crash). The time
 * parsers also see the input's first line as every kind of time. The JSON formats are also
 * cross-checked line by line against the tape parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match/logread.h"
#include "match/logread_int.h"
#include "match/match_int.h"
#include "match/warninglist.h"
#include "util/kztime.h"

static struct match_index *fz_idx;
static struct warninglist_set *fz_wl;
static struct lr_scratch fz_sc;

static void must(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "match fuzz invariant broken: %s\n", what);
        abort();
    }
}

static const char *const fz_values[][2] = {
        {"cidr4", "0.0.0.0/0"},
        {"cidr4", "10.0.0.0/8"},
        {"ipv4", "1.2.3.4"},
        {"cidr6", "::/0"},
        {"ipv6", "2001:db8::1"},
        {"domain", "a.bc"},
        {"domain", "example.com"},
        {"domain", "co.jp"},
        {"domain", "ü.bc"}, /* xn--tda.bc: Unicode names in logs reach libidn2 */
        {"url", "http://a.bc/"},
        {"url", "http://ü.bc/"},
        {"url", "https://example.com/x?y=1"},
        {"email", "a@b.cd"},
        {"md5", "d41d8cd98f00b204e9800998ecf8427e"},
        {"sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
};

static const char fz_lists[] =
        "[{\"name\":\"c\",\"type\":\"cidr\",\"list\":[\"8.8.8.0/24\",\"fe80::/10\"]},"
        "{\"name\":\"h\",\"type\":\"hostname\",\"list\":[\"bc\"]},"
        "{\"name\":\"s\",\"type\":\"string\",\"list\":[\"1.2.3.4\",\"a@b.cd\"]},"
        "{\"name\":\"u\",\"type\":\"substring\",\"list\":[\"exam\",\"x\"]},"
        "{\"name\":\"r\",\"type\":\"regex\",\"list\":[\"/^a.*$/i\"]}]";

static void setup(void)
{
    struct kz_error e = {0};

    if (fz_idx)
        return;
    fz_idx = match_index_new(&e);
    must(fz_idx != NULL, "index");
    for (size_t i = 0; i < sizeof(fz_values) / sizeof(fz_values[0]); i++) {
        enum match_kind k;
        must(match_kind_parse(fz_values[i][0], strlen(fz_values[i][0]), &k) == 0, "kind");
        must(match_index_add(fz_idx, k, fz_values[i][1], strlen(fz_values[i][1]), (uint32_t)i,
                             &e) == 0,
             "add");
    }
    must(match_index_finish(fz_idx, &e) == 0, "finish");
    fz_wl = warninglist_set_new(&e);
    must(fz_wl && warninglist_set_load_blob(fz_wl, fz_lists, sizeof(fz_lists) - 1, &e) == 0 &&
                 warninglist_set_finish(fz_wl, &e) == 0,
         "warninglists");
    must(lr_scratch_init(&fz_sc) == 0, "scratch");
}

void mx_fuzz_free(void)
{
    match_index_free(fz_idx);
    warninglist_set_free(fz_wl);
    lr_scratch_free(&fz_sc);
    fz_idx = NULL;
    fz_wl = NULL;
}

struct fz_state {
    uint64_t last_line;
    uint64_t hits;
};

static int on_hit(void *ctx, const struct match_hit *h, struct kz_error *err)
{
    struct fz_state *st = ctx;
    char buf[MATCH_MAX_VALUE_BYTES * 3 + 16];
    size_t n;

    (void)err;
    must(h->line >= 1 && h->line >= st->last_line, "hits in line order");
    st->last_line = h->line;
    must(h->nkeys >= 1 && h->nrefs >= 1 && h->refs != NULL, "a hit has keys and refs");
    for (size_t i = 1; i < h->nrefs; i++)
        must(h->refs[i - 1] < h->refs[i], "refs sorted and unique");
    for (size_t i = 0; i < h->nrefs; i++)
        must(h->refs[i] < sizeof(fz_values) / sizeof(fz_values[0]), "ref in range");
    must(h->field != NULL && strlen(h->field) <= MATCH_MAX_FIELD_NAME, "field name");
    must(h->norm_len > 0 && h->norm[h->norm_len] == '\0', "norm terminated");
    must(h->value[h->value_len] == '\0', "value terminated");
    must(h->time_us == MATCH_NO_TIME ||
                 (h->time_us >= 0 && h->time_us <= kz_now_micros() + 86400LL * 1000000),
         "a line's time is after 1970 and not in the future");
    switch (h->kind) {
    case MATCH_URL:
        must(match_url_normalise(h->norm, h->norm_len, buf, sizeof(buf), &n, NULL) == 0 &&
                     n == h->norm_len && memcmp(buf, h->norm, n) == 0,
             "URL normalisation is idempotent");
        break;
    case MATCH_DOMAIN:
        must(match_domain_normalise(h->norm, h->norm_len, buf, sizeof(buf), &n, NULL) == 0 &&
                     n == h->norm_len,
             "a domain hit is a valid domain");
        break;
    case MATCH_IPV4: {
        uint32_t a;
        must(match_ipv4_parse(h->norm, h->norm_len, &a) == 0, "IPv4 hit parses");
        break;
    }
    case MATCH_IPV6: {
        uint8_t a[16];
        must(match_ipv6_parse(h->norm, h->norm_len, a) == 0, "IPv6 hit parses");
        break;
    }
    default: break;
    }
    st->hits++;
    return 0;
}

/* JSON: the scanner's fields equal the tape parser's on lines both accept. */
struct fz_seq {
    char *p;
    size_t n, cap;
};

static void seq_field(void *ctx, const char *name, size_t nlen, const char *v, size_t vn,
                      enum logread_hint hint)
{
    struct fz_seq *s = ctx;
    size_t need = nlen + vn + 3;

    if (hint == LOGREAD_HINT_URL_ONLY)
        return;
    if (s->n + need > s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 4096;
        while (nc < s->n + need)
            nc *= 2;
        s->p = realloc(s->p, nc);
        must(s->p != NULL, "memory");
        s->cap = nc;
    }
    memcpy(s->p + s->n, name, nlen);
    s->p[s->n + nlen] = '=';
    memcpy(s->p + s->n + nlen + 1, v, vn);
    s->p[s->n + nlen + 1 + vn] = '\n';
    s->n += need - 1;
}

static void json_crosscheck(const char *data, size_t n)
{
    size_t i = 0;

    while (i < n) {
        const char *nl = memchr(data + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - data) : n, resume = 0;
        struct fz_seq a = {0}, b = {0};
        struct lr_sink sa = {seq_field, &a, NULL}, sb = {seq_field, &b, NULL};
        struct lr_state st;
        int ra, rb;
        if (e - i <= MATCH_MAX_LINE) {
            lr_state_init(&st, LOGREAD_JSONL);
            fz_sc.used = 0;
            ra = lr_json_line(&st, &fz_sc, data + i, e - i, &sa, &resume, 0);
            fz_sc.used = 0;
            {
                struct lr_time t;
                if (lr_json_time(&st, data + i, e - i, &fz_sc, &t) == 0)
                    must(t.n <= e - i && t.kind != LR_T_NONE, "a JSON time inside its line");
            }
            fz_sc.used = 0;
            rb = lr_json_line_ref(&fz_sc, data + i, e - i, &sb);
            if (ra == 0 && rb == 0 && !memchr(data + i, '\0', e - i))
                must(a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0),
                     "JSON scanner agrees with the tape parser");
            if (rb == 0 && ra != 0)
                must(0, "the JSON scanner rejects a line the tape parser accepts");
        }
        free(a.p);
        free(b.p);
        i = e + 1;
    }
}

int mx_fuzz_one(enum logread_format fmt, const uint8_t *data, size_t n)
{
    struct kz_error e = {0};
    struct logread *r;
    struct match_scan_opts o = {0};
    struct match_stats st = {0};
    struct fz_state fs = {0, 0};
    int rc;

    setup();
    r = logread_open_mem("fuzz", data, n, fmt, &e);
    if (!r)
        return 0; /* a corrupt gzip header: an ordinary error */
    o.subdomains = n % 2;
    o.warninglists = fz_wl;
    o.show_suppressed = (n / 2) % 2;
    rc = match_scan(fz_idx, r, &o, on_hit, &fs, &st, &e);
    must(rc == 0 || (logread_compressed(r) && e.code == KZ_EINVALID), "scan succeeds");
    if (rc == 0 && !logread_compressed(r)) {
        must(st.bytes == n, "every byte scanned");
        must(st.hits == fs.hits, "hit count");
        must(fs.last_line <= st.lines, "hit lines within the input");
    }
    logread_close(r);
    if (fmt == LOGREAD_JSONL || fmt == LOGREAD_ZEEK_JSON)
        json_crosscheck((const char *)data, n);
    {
        /* every time parser over the first line, against two references */
        const char *nl = memchr(data, '\n', n);
        size_t ln = nl ? (size_t)(nl - (const char *)data) : n;
        int64_t refs[2] = {kz_now_micros(), 0}, t;
        for (int k = LR_T_ISO; k <= LR_T_BSD; k++)
            for (int j = 0; j < 2; j++)
                if (lr_time_parse((enum lr_tkind)k, (const char *)data, ln, refs[j], &t) == 0)
                    must(t >= 0 && t <= refs[j] + 86400LL * 1000000, "time within bounds");
    }
    return 0;
}
