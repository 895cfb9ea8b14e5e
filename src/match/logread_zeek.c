/*
 * Zeek's TSV logs. The header names the columns and their types:
 *   #separator \x09
 *   #set_separator ,
 *   #empty_field (empty)
 *   #unset_field -
 *   #fields ts uid id.orig_h ...
 *   #types time string addr ...
 * A data line is split at the separator; each column is named from #fields
 * and searched according to its type: addr columns are parsed as addresses,
 * string-like columns tokenized (after decoding Zeek's \xHH escapes), and
 * numbers, times, ports, enums and subnets skipped. The empty and unset
 * markers are skipped. An http.log line also yields the URL "http://" host
 * uri. The "ts" column is the line's time (zeek_time, asked for lines with
 * hits only). Header lines may reappear mid-file (concatenated logs):
 * the state changes there, and its fingerprint lets the scanner notice.
 */
#include <stdio.h>
#include <string.h>

#include "match/logread_int.h"
#include "match/match_int.h"

size_t lr_zeek_unescape(const char *p, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\' && i + 3 < n && p[i + 1] == 'x' && kz_is_hex((unsigned char)p[i + 2]) &&
            kz_is_hex((unsigned char)p[i + 3])) {
            out[o++] = (char)((kz_hexval((unsigned char)p[i + 2]) << 4) |
                              kz_hexval((unsigned char)p[i + 3]));
            i += 3;
        } else {
            out[o++] = p[i];
        }
    }
    return o;
}

/* The first byte equal to c in [p, end), or end: eight bytes at a time
 * (Zeek's fields are short, where a memchr call costs more than it saves). */
static const char *find_sep(const char *p, const char *end, char c)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    const uint64_t pat = ones * (unsigned char)c;

    while (end - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        x ^= pat;
        x = (x - ones) & ~x & highs;
        if (x) {
            /* the lowest set high bit marks the first match (little-endian) */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            return p + (__builtin_ctzll(x) >> 3);
#else
            break;
#endif
        }
        p += 8;
    }
    while (p < end && *p != c)
        p++;
    return p;
}

static int eq(const char *p, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n == l && memcmp(p, lit, l) == 0;
}

/* The matching type of a Zeek type name: a lone addr is parsed as an
 * address; sets and vectors of addresses are tokenized. */
static enum lr_ztype ztype(const char *t, size_t n)
{
    static const char *const skip[] = {"time", "interval", "count", "int",    "double",
                                       "port", "bool",     "enum",  "subnet", "pattern"};
    int container = 0;

    if (n > 5 && memcmp(t, "set[", 4) == 0 && t[n - 1] == ']') {
        t += 4;
        n -= 5;
        container = 1;
    } else if (n > 8 && memcmp(t, "vector[", 7) == 0 && t[n - 1] == ']') {
        t += 7;
        n -= 8;
        container = 1;
    }
    if (eq(t, n, "addr"))
        return container ? LR_Z_TEXT : LR_Z_ADDR;
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        if (eq(t, n, skip[i]))
            return LR_Z_SKIP;
    return LR_Z_TEXT;
}

static void refingerprint(struct lr_state *st)
{
    const struct lr_zeek *z = &st->zeek;
    uint64_t h = 0x6b697a756e61ULL;

    h = mx_hash(&z->sep, 1, h);
    h = mx_hash(&z->setsep, 1, h);
    h = mx_hash(z->empty, z->empty_len, h);
    h = mx_hash(z->unset, z->unset_len, h);
    h = mx_hash(z->names, z->names_len, h);
    h = mx_hash(z->type, z->nfields, h);
    st->fp = h | 1;
}

/* Splits value p[0..n) of a header line at sep into names; types when
 * `types` is set. */
static void header_fields(struct lr_zeek *z, const char *p, size_t n, int types)
{
    size_t st = 0, col = 0;

    if (!types) {
        z->nfields = 0;
        z->names_len = 0;
        z->host_col = z->uri_col = z->ts_col = -1;
    }
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != z->sep)
            continue;
        if (types) {
            if (col < z->nfields)
                z->type[col] = (uint8_t)ztype(p + st, i - st);
        } else if (z->nfields < MATCH_MAX_ZEEK_FIELDS &&
                   z->names_len + (i - st) + 1 <= MATCH_MAX_ZEEK_HEADER && i - st < 0xffff) {
            z->name_off[z->nfields] = (uint16_t)z->names_len;
            z->name_len[z->nfields] = (uint16_t)(i - st);
            memcpy(z->names + z->names_len, p + st, i - st);
            z->names_len += (uint32_t)(i - st);
            z->names[z->names_len++] = '\0';
            z->type[z->nfields] = LR_Z_TEXT;
            if (eq(p + st, i - st, "host"))
                z->host_col = (int32_t)z->nfields;
            else if (eq(p + st, i - st, "uri"))
                z->uri_col = (int32_t)z->nfields;
            else if (eq(p + st, i - st, "ts"))
                z->ts_col = (int32_t)z->nfields;
            z->nfields++;
        }
        col++;
        st = i + 1;
    }
}

static void set_marker(char *dst, uint8_t *dlen, size_t cap, const char *p, size_t n)
{
    char tmp[64];
    size_t k;

    if (n > sizeof(tmp))
        n = sizeof(tmp);
    k = lr_zeek_unescape(p, n, tmp);
    if (k > cap)
        k = cap;
    memcpy(dst, tmp, k);
    *dlen = (uint8_t)k;
}

static int header_line(struct lr_state *st, const char *line, size_t n)
{
    struct lr_zeek *z = &st->zeek;
    size_t kl;
    const char *v;
    size_t vn;

    if (n >= 11 && memcmp(line, "#separator ", 11) == 0) {
        char tmp[16];
        size_t k = lr_zeek_unescape(line + 11, n - 11 > 16 ? 16 : n - 11, tmp);
        if (k >= 1)
            z->sep = tmp[0];
        refingerprint(st);
        return 1;
    }
    for (kl = 1; kl < n && line[kl] != z->sep; kl++)
        ;
    v = kl < n ? line + kl + 1 : line + n;
    vn = kl < n ? n - kl - 1 : 0;
    if (eq(line, kl, "#set_separator")) {
        char tmp[16];
        if (lr_zeek_unescape(v, vn > 16 ? 16 : vn, tmp) >= 1)
            z->setsep = tmp[0];
    } else if (eq(line, kl, "#empty_field")) {
        set_marker(z->empty, &z->empty_len, sizeof(z->empty), v, vn);
    } else if (eq(line, kl, "#unset_field")) {
        set_marker(z->unset, &z->unset_len, sizeof(z->unset), v, vn);
    } else if (eq(line, kl, "#fields")) {
        header_fields(z, v, vn, 0);
    } else if (eq(line, kl, "#types")) {
        header_fields(z, v, vn, 1);
    } else {
        return 1; /* #path, #open, #close, comments */
    }
    refingerprint(st);
    return 1;
}

static int zeek_line(struct lr_state *st, struct lr_scratch *sc, const char *line, size_t n,
                     const struct lr_sink *sink, size_t *resume)
{
    const struct lr_zeek *z = &st->zeek;
    size_t col = 0;
    const char *host = NULL, *uri = NULL;
    size_t hn = 0, un = 0;

    (void)resume;
    if (n > 0 && line[0] == '#')
        return header_line(st, line, n);
    if (st->fp == 0)
        refingerprint(st); /* no header seen: defaults */
    for (const char *p = line, *end = line + n;;) {
        const char *q = find_sep(p, end, z->sep);
        const char *v = p;
        size_t vn = (size_t)(q - p);
        enum lr_ztype t = col < z->nfields ? (enum lr_ztype)z->type[col] : LR_Z_TEXT;
        char namebuf[24];
        const char *name;
        size_t nlen;
        int last = q >= end;
        col++;
        p = last ? end : q + 1;
        if (vn == 0 || t == LR_Z_SKIP || (vn == z->unset_len && memcmp(v, z->unset, vn) == 0) ||
            (vn == z->empty_len && memcmp(v, z->empty, vn) == 0)) {
            if (last)
                break;
            continue;
        }
        if (col - 1 < z->nfields) {
            name = z->names + z->name_off[col - 1];
            nlen = z->name_len[col - 1];
        } else {
            int w = snprintf(namebuf, sizeof(namebuf), "col%zu", col);
            name = namebuf;
            nlen = (size_t)w;
        }
        if (memchr(v, '\\', vn)) {
            char *d = lr_scratch_get(sc, vn);
            if (d) {
                vn = lr_zeek_unescape(v, vn, d);
                v = d;
            }
        }
        if ((int32_t)(col - 1) == z->host_col) {
            host = v;
            hn = vn;
        } else if ((int32_t)(col - 1) == z->uri_col) {
            uri = v;
            un = vn;
        }
        lr_emit(sink, name, nlen, v, vn, t == LR_Z_ADDR ? LOGREAD_HINT_ADDR : LOGREAD_HINT_TEXT);
        if (last)
            break;
    }
    if (host && uri) {
        size_t ul;
        const char *u = lr_http_url(sc, host, hn, uri, un, &ul);
        if (u)
            lr_emit(sink, "host+uri", 8, u, ul, LOGREAD_HINT_URL_ONLY);
    }
    return 0;
}

/* The "ts" column of a data line, found for lines with hits only. */
static int zeek_time(const struct lr_state *st, const char *line, size_t n, struct lr_scratch *sc,
                     struct lr_time *t)
{
    const struct lr_zeek *z = &st->zeek;
    const char *p = line, *end = line + n;

    (void)sc;
    if (z->ts_col < 0 || (n > 0 && line[0] == '#'))
        return -1;
    /* memchr, not find_sep: that one stays inlined in zeek_line */
    for (int32_t col = 0; col < z->ts_col; col++) {
        const char *q = memchr(p, z->sep, (size_t)(end - p));
        if (!q)
            return -1;
        p = q + 1;
    }
    {
        const char *q = memchr(p, z->sep, (size_t)(end - p));
        *t = (struct lr_time){p, (size_t)((q ? q : end) - p), LR_T_ISO_OR_EPOCH};
    }
    return 0;
}

static int zeek_detect(const char *line, size_t n)
{
    return n >= 11 && memcmp(line, "#separator ", 11) == 0;
}

const struct lr_format lr_zeek_format = {"zeek", zeek_line, zeek_detect, zeek_time};

const char *lr_http_url(struct lr_scratch *sc, const char *host, size_t hn, const char *uri,
                        size_t un, size_t *len)
{
    char *p;

    if (hn == 0 || un == 0 || uri[0] != '/' || hn > MATCH_MAX_DOMAIN + 8 ||
        hn + un + 7 > MATCH_MAX_VALUE_BYTES)
        return NULL;
    for (size_t i = 0; i < hn; i++)
        if ((unsigned char)host[i] <= 0x20 || host[i] == '/' || host[i] == '@')
            return NULL;
    p = lr_scratch_get(sc, hn + un + 7);
    if (!p)
        return NULL;
    memcpy(p, "http://", 7);
    memcpy(p + 7, host, hn);
    memcpy(p + 7 + hn, uri, un);
    *len = hn + un + 7;
    return p;
}
