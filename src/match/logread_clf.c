/*
 * Apache/nginx access logs in the Common Log Format and its "combined"
 * extension:
 *   host ident user [time] "request" status bytes "referer" "user-agent"
 * followed by any further fields nginx configurations append (quoted or
 * not), named extra1, extra2, ... Quoted fields are decoded (\" \\ and
 * \xHH, the escapes Apache and nginx write). The client is parsed as an
 * address; request, referer, user agent, user and extras are tokenized;
 * status and size are skipped, and the time is the line's time. A line that does not parse is
 * scanned as text.
 */
#include <stdio.h>
#include <string.h>

#include "match/logread_int.h"
#include "match/match_int.h"
#include "util/limits.h"

struct clf_field {
    const char *name;
    size_t nlen;
    const char *v;
    size_t vn;
    enum logread_hint hint;
};

struct clf {
    struct clf_field f[CLF_MAX_FIELDS];
    size_t n;
    const char *time; /* inside the brackets */
    size_t time_len;
    char names[CLF_MAX_FIELDS][12];
};

static void add(struct clf *c, const char *name, const char *v, size_t vn, enum logread_hint h)
{
    if (c->n >= CLF_MAX_FIELDS || vn == 0 || (vn == 1 && v[0] == '-'))
        return;
    c->f[c->n++] = (struct clf_field){name, strlen(name), v, vn, h};
}

static size_t token_end(const char *s, size_t n, size_t i)
{
    while (i < n && s[i] != ' ' && s[i] != '\t')
        i++;
    return i;
}

/* The closing quote of the quoted field whose body starts at i, or n. */
static size_t quote_end(const char *s, size_t n, size_t i, int *esc)
{
    *esc = 0;
    while (i < n) {
        const char *q = memchr(s + i, '"', n - i);
        size_t k, b = 0;
        if (!q)
            return n;
        k = (size_t)(q - s);
        if (!memchr(s + i, '\\', k - i))
            return k; /* the common case: no backslash before the quote */
        *esc = 1;
        while (k - b > i && s[k - 1 - b] == '\\')
            b++;
        if (!(b & 1))
            return k;
        i = k + 1; /* an escaped quote */
    }
    return n;
}

static const char *unquote(struct lr_scratch *sc, const char *p, size_t n, int esc, size_t *len)
{
    char *d;
    size_t o = 0;

    if (!esc || !sc) {
        *len = n;
        return p;
    }
    d = lr_scratch_get(sc, n);
    if (!d) {
        *len = n;
        return p;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\' && i + 1 < n) {
            if (p[i + 1] == 'x' && i + 3 < n && kz_is_hex((unsigned char)p[i + 2]) &&
                kz_is_hex((unsigned char)p[i + 3])) {
                d[o++] = (char)((kz_hexval((unsigned char)p[i + 2]) << 4) |
                                kz_hexval((unsigned char)p[i + 3]));
                i += 3;
                continue;
            }
            if (p[i + 1] == '"' || p[i + 1] == '\\') {
                d[o++] = p[++i];
                continue;
            }
        }
        d[o++] = p[i];
    }
    *len = o;
    return d;
}

static size_t skip_sp(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

/* Parses line s[0..n) into c; sc may be NULL (detection: no decoding).
 * Returns 0 or -1. */
static int clf_parse(const char *s, size_t n, struct lr_scratch *sc, struct clf *c)
{
    size_t i = 0, e, quoted = 0, extra = 0;
    const char *host, *ident, *user;
    size_t hn, in, un;
    int esc;

    c->n = 0;
    e = token_end(s, n, i);
    if (e == i || e >= n)
        return -1;
    host = s + i;
    hn = e - i;
    i = skip_sp(s, n, e);
    e = token_end(s, n, i);
    if (e == i || e >= n)
        return -1;
    ident = s + i;
    in = e - i;
    i = skip_sp(s, n, e);
    e = token_end(s, n, i);
    if (e == i || e >= n)
        return -1;
    user = s + i;
    un = e - i;
    i = skip_sp(s, n, e);
    if (i >= n || s[i] != '[')
        return -1;
    {
        const char *rb = memchr(s + i, ']', n - i);
        if (!rb)
            return -1;
        c->time = s + i + 1;
        c->time_len = (size_t)(rb - s) - i - 1;
        i = skip_sp(s, n, (size_t)(rb - s) + 1);
    }
    if (i >= n || s[i] != '"')
        return -1;
    e = quote_end(s, n, i + 1, &esc);
    if (e >= n)
        return -1;
    add(c, "client", host, hn, LOGREAD_HINT_ADDR);
    add(c, "ident", ident, in, LOGREAD_HINT_TEXT);
    add(c, "user", user, un, LOGREAD_HINT_TEXT);
    {
        size_t len;
        const char *v = unquote(sc, s + i + 1, e - i - 1, esc, &len);
        add(c, "request", v, len, LOGREAD_HINT_TEXT);
    }
    i = skip_sp(s, n, e + 1);
    /* status and size */
    for (int k = 0; k < 2; k++) {
        e = token_end(s, n, i);
        if (e == i)
            return -1;
        for (size_t j = i; j < e; j++)
            if (!((s[j] >= '0' && s[j] <= '9') || s[j] == '-'))
                return -1;
        i = skip_sp(s, n, e);
    }
    /* referer and user agent: the first two fields when quoted; the rest
     * are extras. */
    for (size_t pos = 0; i < n; pos++) {
        const char *v, *name;
        size_t len;
        int isq = s[i] == '"';
        if (isq) {
            e = quote_end(s, n, i + 1, &esc);
            if (e >= n)
                return -1;
            v = unquote(sc, s + i + 1, e - i - 1, esc, &len);
            i = skip_sp(s, n, e + 1);
        } else {
            e = token_end(s, n, i);
            v = s + i;
            len = e - i;
            i = skip_sp(s, n, e);
        }
        if (isq && pos == 0) {
            name = "referer";
            quoted = 1;
        } else if (isq && pos == 1 && quoted) {
            name = "user_agent";
        } else {
            if (c->n >= CLF_MAX_FIELDS)
                continue;
            snprintf(c->names[c->n], sizeof(c->names[c->n]), "extra%zu", ++extra);
            name = c->names[c->n];
        }
        add(c, name, v, len, LOGREAD_HINT_TEXT);
    }
    return 0;
}

static int clf_line(struct lr_state *st, struct lr_scratch *sc, const char *line, size_t n,
                    const struct lr_sink *sink, size_t *resume)
{
    struct clf c;

    (void)st;
    if (clf_parse(line, n, sc, &c) < 0) {
        *resume = 0;
        return -1;
    }
    lr_mark_time(sink, LR_T_CLF, c.time, c.time_len);
    for (size_t i = 0; i < c.n; i++)
        lr_emit(sink, c.f[i].name, c.f[i].nlen, c.f[i].v, c.f[i].vn, c.f[i].hint);
    return 0;
}

static int clf_detect(const char *line, size_t n)
{
    struct clf c;

    return clf_parse(line, n, NULL, &c) == 0;
}

const struct lr_format lr_clf_format = {"clf", clf_line, clf_detect, NULL};
