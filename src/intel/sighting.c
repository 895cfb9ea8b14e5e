/*
 * Sighting identity, occurrence counting and the ledger of log files that
 * `kizuna match --report` uses to report every hit once (sighting.h). The
 * accumulator is a small open-addressing table over (indicator, value),
 * with committed and pending counts so that a file that fails half-way
 * adds nothing. The ledger is text, one entry a line:
 *   <head sha1 hex> <tail sha1 hex> <len> <lines> <read_us>
 * stored by the caller as a named blob.
 */
#include "intel/sighting.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/limits.h"
#include "util/text.h"

/* The namespace of sighting ids: fixed forever, or every id changes. */
#define SIGHTING_NS "8a6f3c2e-1b4d-4e7a-9c5f-2d8e6b1a7f30"

int intel_sighting_id(const char *indicator_id, const char *value, size_t n, const char *reporter,
                      char out[INTEL_SIGHTING_ID_LEN])
{
    struct kz_buf b;
    char u[KZ_UUID_LEN];
    int rc = -1;

    /* newline-separated: no part holds a newline (ids and identities are
     * STIX ids; the value is escaped where it could) */
    kz_buf_init(&b, (size_t)MATCH_MAX_VALUE_BYTES * 3 + 1024);
    kz_buf_addstr(&b, indicator_id);
    kz_buf_addc(&b, '\n');
    for (size_t i = 0; i < n; i++) {
        if (value[i] == '\n' || value[i] == '\\')
            kz_buf_printf(&b, "\\x%02x", (unsigned char)value[i]);
        else
            kz_buf_addc(&b, value[i]);
    }
    kz_buf_addc(&b, '\n');
    kz_buf_addstr(&b, reporter ? reporter : "");
    if (!b.failed && kz_uuid_v5(SIGHTING_NS, b.data, b.len, u) == 0) {
        snprintf(out, INTEL_SIGHTING_ID_LEN, "sighting--%s", u);
        rc = 0;
    }
    kz_buf_free(&b);
    return rc;
}

/* --- the accumulator ------------------------------------------------------ */

struct acc_entry {
    uint32_t owner;
    char *value;
    size_t len;
    uint64_t count, pcount; /* committed, pending */
    int64_t first, last, pfirst, plast;
};

struct intel_sighting_acc {
    struct acc_entry *e;
    size_t n, cap;
    uint32_t *slot; /* 1 + index into e; 0 free */
    size_t nslot;
};

static uint64_t key_hash(uint32_t owner, const char *v, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ owner;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)v[i]) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

struct intel_sighting_acc *intel_sighting_acc_new(void)
{
    return calloc(1, sizeof(struct intel_sighting_acc));
}

void intel_sighting_acc_free(struct intel_sighting_acc *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        free(a->e[i].value);
    free(a->e);
    free(a->slot);
    free(a);
}

static int rehash(struct intel_sighting_acc *a)
{
    size_t ns = a->nslot ? a->nslot * 2 : 256;
    uint32_t *s = calloc(ns, sizeof(*s));

    if (!s)
        return -1;
    for (size_t i = 0; i < a->n; i++) {
        size_t j = key_hash(a->e[i].owner, a->e[i].value, a->e[i].len) & (ns - 1);
        while (s[j])
            j = (j + 1) & (ns - 1);
        s[j] = (uint32_t)(i + 1);
    }
    free(a->slot);
    a->slot = s;
    a->nslot = ns;
    return 0;
}

static int64_t tmin(int64_t a, int64_t b)
{
    if (a == INTEL_NO_TIME)
        return b;
    if (b == INTEL_NO_TIME)
        return a;
    return a < b ? a : b;
}

static int64_t tmax(int64_t a, int64_t b)
{
    if (a == INTEL_NO_TIME)
        return b;
    if (b == INTEL_NO_TIME)
        return a;
    return a > b ? a : b;
}

int intel_sighting_acc_add(struct intel_sighting_acc *a, uint32_t owner, const char *value,
                           size_t n, int64_t time_us, struct kz_error *err)
{
    struct acc_entry *e;
    size_t j;

    if ((a->n + 1) * 2 > a->nslot && rehash(a) < 0)
        return kz_error_set(err, KZ_ENOMEM, "out of memory counting sightings");
    for (j = key_hash(owner, value, n) & (a->nslot - 1); a->slot[j]; j = (j + 1) & (a->nslot - 1)) {
        e = &a->e[a->slot[j] - 1];
        if (e->owner == owner && e->len == n && memcmp(e->value, value, n) == 0)
            goto found;
    }
    if (a->n >= MATCH_MAX_SIGHTINGS)
        return kz_error_set(err, KZ_ELIMIT, "more than %u sightings in one run",
                            MATCH_MAX_SIGHTINGS);
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        struct acc_entry *ne = realloc(a->e, nc * sizeof(*ne));
        if (!ne)
            return kz_error_set(err, KZ_ENOMEM, "out of memory counting sightings");
        a->e = ne;
        a->cap = nc;
    }
    e = &a->e[a->n];
    memset(e, 0, sizeof(*e));
    e->value = malloc(n + 1);
    if (!e->value)
        return kz_error_set(err, KZ_ENOMEM, "out of memory counting sightings");
    memcpy(e->value, value, n);
    e->value[n] = '\0';
    e->len = n;
    e->owner = owner;
    e->first = e->last = e->pfirst = e->plast = INTEL_NO_TIME;
    a->slot[j] = (uint32_t)++a->n;
found:
    e->pcount++;
    e->pfirst = tmin(e->pfirst, time_us);
    e->plast = tmax(e->plast, time_us);
    return 0;
}

void intel_sighting_acc_commit_if(struct intel_sighting_acc *a,
                                  int (*keep)(void *ctx, uint32_t owner), void *ctx)
{
    for (size_t i = 0; i < a->n; i++) {
        struct acc_entry *e = &a->e[i];
        if (e->pcount && (!keep || keep(ctx, e->owner))) {
            e->count += e->pcount;
            e->first = tmin(e->first, e->pfirst);
            e->last = tmax(e->last, e->plast);
        }
        e->pcount = 0;
        e->pfirst = e->plast = INTEL_NO_TIME;
    }
}

void intel_sighting_acc_commit(struct intel_sighting_acc *a)
{
    intel_sighting_acc_commit_if(a, NULL, NULL);
}

void intel_sighting_acc_discard(struct intel_sighting_acc *a)
{
    for (size_t i = 0; i < a->n; i++) {
        a->e[i].pcount = 0;
        a->e[i].pfirst = a->e[i].plast = INTEL_NO_TIME;
    }
}

int intel_sighting_acc_each(const struct intel_sighting_acc *a, intel_sighting_fn fn, void *ctx,
                            struct kz_error *err)
{
    for (size_t i = 0; i < a->n; i++) {
        const struct acc_entry *e = &a->e[i];
        struct intel_sighting_obs o = {e->owner, e->value, e->len, e->count, e->first, e->last};
        if (!e->count)
            continue;
        if (fn(ctx, &o, err) < 0)
            return -1;
    }
    return 0;
}

/* --- the ledger ------------------------------------------------------------ */

struct intel_ledger {
    struct intel_ledger_entry *e;
    size_t n, cap;
};

size_t intel_ledger_count(const struct intel_ledger *l)
{
    return l->n;
}

const struct intel_ledger_entry *intel_ledger_at(const struct intel_ledger *l, size_t i)
{
    return i < l->n ? &l->e[i] : NULL;
}

void intel_ledger_free(struct intel_ledger *l)
{
    if (l) {
        free(l->e);
        free(l);
    }
}

static int hex20(const char *s, size_t n, uint8_t out[20])
{
    if (n != 40)
        return -1;
    for (size_t i = 0; i < 20; i++) {
        unsigned char h = (unsigned char)s[2 * i], l = (unsigned char)s[2 * i + 1];
        if (!kz_is_hex(h) || !kz_is_hex(l))
            return -1;
        out[i] = (uint8_t)(kz_hexval(h) << 4 | kz_hexval(l));
    }
    return 0;
}

static int u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > 19)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static int grow(struct intel_ledger *l)
{
    size_t nc = l->cap ? l->cap * 2 : 16;
    struct intel_ledger_entry *ne;

    if (l->n < l->cap)
        return 0;
    ne = realloc(l->e, nc * sizeof(*ne));
    if (!ne)
        return -1;
    l->e = ne;
    l->cap = nc;
    return 0;
}

struct intel_ledger *intel_ledger_parse(const char *text, size_t n, struct kz_error *err)
{
    struct intel_ledger *l = calloc(1, sizeof(*l));
    size_t i = 0, lineno = 0;

    if (!l) {
        kz_error_set(err, KZ_ENOMEM, "out of memory reading the match ledger");
        return NULL;
    }
    while (text && i < n) {
        const char *nl = memchr(text + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - text) : n, k = i, f = 0;
        const char *tok[5];
        size_t tlen[5];
        struct intel_ledger_entry en;
        uint64_t rd;
        lineno++;
        while (k < e && f < 5) {
            size_t st = k;
            while (k < e && text[k] != ' ')
                k++;
            tok[f] = text + st;
            tlen[f++] = k - st;
            if (k < e)
                k++;
        }
        if (f != 5 || k != e || l->n >= MATCH_MAX_LEDGER_ENTRIES ||
            hex20(tok[0], tlen[0], en.head) < 0 || hex20(tok[1], tlen[1], en.tail) < 0 ||
            u64(tok[2], tlen[2], &en.len) < 0 || u64(tok[3], tlen[3], &en.lines) < 0 ||
            u64(tok[4], tlen[4], &rd) < 0) {
            intel_ledger_free(l);
            kz_error_set(err, KZ_EINVALID, "the match ledger is damaged at line %zu", lineno);
            return NULL;
        }
        en.read_us = (int64_t)rd;
        if (grow(l) < 0) {
            intel_ledger_free(l);
            kz_error_set(err, KZ_ENOMEM, "out of memory reading the match ledger");
            return NULL;
        }
        l->e[l->n++] = en;
        i = e + 1;
    }
    return l;
}

int intel_ledger_put(struct intel_ledger *l, const struct intel_ledger_entry *e, long replaces,
                     struct kz_error *err)
{
    if (replaces >= 0 && (size_t)replaces < l->n) {
        l->e[replaces] = *e;
        return 0;
    }
    if (l->n >= MATCH_MAX_LEDGER_ENTRIES) {
        size_t old = 0;
        for (size_t i = 1; i < l->n; i++)
            if (l->e[i].read_us < l->e[old].read_us)
                old = i;
        l->e[old] = *e;
        return 0;
    }
    if (grow(l) < 0)
        return kz_error_set(err, KZ_ENOMEM, "out of memory recording the match ledger");
    l->e[l->n++] = *e;
    return 0;
}

char *intel_ledger_text(const struct intel_ledger *l, size_t *n, struct kz_error *err)
{
    struct kz_buf b;

    kz_buf_init(&b, (size_t)MATCH_MAX_LEDGER_ENTRIES * 128);
    kz_buf_addstr(&b, "");
    for (size_t i = 0; i < l->n; i++) {
        const struct intel_ledger_entry *e = &l->e[i];
        for (int k = 0; k < 20; k++)
            kz_buf_printf(&b, "%02x", e->head[k]);
        kz_buf_addc(&b, ' ');
        for (int k = 0; k < 20; k++)
            kz_buf_printf(&b, "%02x", e->tail[k]);
        kz_buf_printf(&b, " %" PRIu64 " %" PRIu64 " %" PRId64 "\n", e->len, e->lines,
                      e->read_us < 0 ? (int64_t)0 : e->read_us);
    }
    if (b.failed) {
        kz_buf_free(&b);
        kz_error_set(err, KZ_ENOMEM, "out of memory writing the match ledger");
        return NULL;
    }
    return kz_buf_steal(&b, n);
}
