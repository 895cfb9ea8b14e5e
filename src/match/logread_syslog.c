/*
 * Syslog lines in three shapes:
 *   RFC 5424  <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD-ID k="v" ...] MSG
 *   RFC 3164  <PRI>Mmm dd hh:mm:ss HOST TAG[pid]: MSG   (PRI often absent in files)
 *   file form 2024-01-01T00:00:00.000000+00:00 HOST TAG[pid]: MSG   (rsyslog)
 * Fields: host (parsed as an address, else tokenized), app, msgid, each
 * structured-data parameter as "sd.<id>.<name>" (\" \\ \] decoded), and
 * msg. A line in none of these shapes is scanned as text. The timestamp is
 * the line's time (syslog_time, asked for lines with hits only).
 */
#include <string.h>

#include "match/logread_int.h"
#include "util/limits.h"

struct sl_field {
    const char *name;
    size_t nlen;
    const char *v;
    size_t vn;
    enum logread_hint hint;
};

struct sl {
    struct sl_field f[SYSLOG_MAX_FIELDS];
    size_t n;
};

static void add(struct sl *c, const char *name, size_t nlen, const char *v, size_t vn,
                enum logread_hint h)
{
    if (c->n >= SYSLOG_MAX_FIELDS || vn == 0 || (vn == 1 && v[0] == '-'))
        return;
    c->f[c->n++] = (struct sl_field){name, nlen, v, vn, h};
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t token_end(const char *s, size_t n, size_t i)
{
    while (i < n && s[i] != ' ')
        i++;
    return i;
}

/* "Mmm dd hh:mm:ss" (day space-padded or not); returns the end or 0. */
static size_t bsd_time(const char *s, size_t n)
{
    size_t i = 4;

    if (n < 15)
        return 0;
    for (int k = 0; k < 3; k++)
        if (!((s[k] | 0x20) >= 'a' && (s[k] | 0x20) <= 'z'))
            return 0;
    if (s[3] != ' ')
        return 0;
    if (s[i] == ' ')
        i++;
    if (!is_digit(s[i]))
        return 0;
    i++;
    if (is_digit(s[i]))
        i++;
    if (s[i] != ' ' || i + 9 > n)
        return 0;
    i++;
    if (!(is_digit(s[i]) && is_digit(s[i + 1]) && s[i + 2] == ':' && is_digit(s[i + 3]) &&
          is_digit(s[i + 4]) && s[i + 5] == ':' && is_digit(s[i + 6]) && is_digit(s[i + 7])))
        return 0;
    return token_end(s, n, i + 8);
}

/* "YYYY-MM-DDThh:mm:ss..." up to the next space; returns the end or 0. */
static size_t iso_time(const char *s, size_t n)
{
    if (n < 20 ||
        !(is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) && is_digit(s[3]) && s[4] == '-' &&
          is_digit(s[5]) && is_digit(s[6]) && s[7] == '-' && is_digit(s[8]) && is_digit(s[9]) &&
          (s[10] == 'T' || s[10] == ' ') && is_digit(s[11]) && is_digit(s[12]) && s[13] == ':'))
        return 0;
    return token_end(s, n, s[10] == ' ' ? 11 : 10);
}

/* HOST TAG: MSG after a BSD or ISO timestamp. */
static int parse_bsd_rest(const char *s, size_t n, size_t i, struct sl *c)
{
    size_t e, t;

    while (i < n && s[i] == ' ')
        i++;
    if (i >= n)
        return -1;
    e = token_end(s, n, i);
    if (s[e - 1] != ':' && !memchr(s + i, '[', e - i)) {
        add(c, "host", 4, s + i, e - i, LOGREAD_HINT_ADDR);
        i = e;
        while (i < n && s[i] == ' ')
            i++;
        e = token_end(s, n, i);
    }
    if (i < n && e > i && s[e - 1] == ':') {
        for (t = i; t < e - 1 && s[t] != '['; t++)
            ;
        add(c, "app", 3, s + i, t - i, LOGREAD_HINT_TEXT);
        i = e;
        while (i < n && s[i] == ' ')
            i++;
    }
    add(c, "msg", 3, s + i, n - i, LOGREAD_HINT_TEXT);
    return 0;
}

/* One SD-ELEMENT "[id k="v" ...]" at s[i]; returns the index after it or 0. */
static size_t parse_sd_element(const char *s, size_t n, size_t i, struct lr_scratch *sc,
                               struct sl *c)
{
    size_t id, idn;

    if (i >= n || s[i] != '[')
        return 0;
    id = ++i;
    while (i < n && s[i] != ' ' && s[i] != ']' && s[i] != '=' && s[i] != '"')
        i++;
    idn = i - id;
    if (idn == 0 || i >= n)
        return 0;
    for (;;) {
        size_t pn, pnl, v, e;
        int esc = 0;
        if (s[i] == ']')
            return i + 1;
        if (s[i] != ' ')
            return 0;
        i++;
        pn = i;
        while (i < n && s[i] != '=' && s[i] != ' ' && s[i] != ']' && s[i] != '"')
            i++;
        pnl = i - pn;
        if (pnl == 0 || i + 1 >= n || s[i] != '=' || s[i + 1] != '"')
            return 0;
        v = i + 2;
        for (e = v; e < n && s[e] != '"'; e++) {
            if (s[e] == '\\') {
                esc = 1;
                e++;
            }
        }
        if (e >= n)
            return 0;
        if (sc) {
            char *name = lr_scratch_get(sc, idn + pnl + 5);
            const char *val = s + v;
            size_t vl = e - v;
            if (!name)
                return 0;
            memcpy(name, "sd.", 3);
            memcpy(name + 3, s + id, idn);
            name[3 + idn] = '.';
            memcpy(name + 4 + idn, s + pn, pnl);
            name[4 + idn + pnl] = '\0';
            if (esc) {
                char *d = lr_scratch_get(sc, vl);
                size_t o = 0;
                if (!d)
                    return 0;
                for (size_t k = v; k < e; k++) {
                    if (s[k] == '\\' && k + 1 < e &&
                        (s[k + 1] == '"' || s[k + 1] == '\\' || s[k + 1] == ']'))
                        k++;
                    d[o++] = s[k];
                }
                val = d;
                vl = o;
            }
            add(c, name, idn + pnl + 4, val, vl, LOGREAD_HINT_TEXT);
        }
        i = e + 1;
        if (i >= n)
            return 0;
    }
}

static int syslog_parse(const char *s, size_t n, struct lr_scratch *sc, struct sl *c)
{
    size_t i = 0, e;

    c->n = 0;
    if (n > 0 && s[0] == '<') {
        size_t p = 1;
        while (p < n && p < 5 && is_digit(s[p]))
            p++;
        if (p == 1 || p >= n || s[p] != '>')
            return -1;
        i = p + 1;
        if (i + 1 < n && is_digit(s[i]) &&
            (s[i + 1] == ' ' || (is_digit(s[i + 1]) && i + 2 < n && s[i + 2] == ' '))) {
            /* RFC 5424: VERSION TIMESTAMP HOST APP PROCID MSGID SD [MSG] */
            const char *host = NULL, *app = NULL, *msgid = NULL;
            size_t hn = 0, an = 0, mn = 0;
            i = token_end(s, n, i);
            for (int k = 0; k < 5; k++) {
                size_t st;
                if (i >= n || s[i] != ' ')
                    return -1;
                st = ++i;
                e = token_end(s, n, i);
                if (e == st)
                    return -1;
                if (k == 1) {
                    host = s + st;
                    hn = e - st;
                } else if (k == 2) {
                    app = s + st;
                    an = e - st;
                } else if (k == 4) {
                    msgid = s + st;
                    mn = e - st;
                }
                i = e;
            }
            if (i >= n || s[i] != ' ')
                return -1;
            i++;
            add(c, "host", 4, host, hn, LOGREAD_HINT_ADDR);
            add(c, "app", 3, app, an, LOGREAD_HINT_TEXT);
            add(c, "msgid", 5, msgid, mn, LOGREAD_HINT_TEXT);
            if (i < n && s[i] == '-') {
                i++;
            } else {
                while (i < n && s[i] == '[') {
                    size_t nx = parse_sd_element(s, n, i, sc, c);
                    if (nx == 0)
                        return -1;
                    i = nx;
                }
            }
            if (i < n && s[i] == ' ')
                i++;
            if (n - i >= 3 && memcmp(s + i, "\xef\xbb\xbf", 3) == 0)
                i += 3;
            add(c, "msg", 3, s + i, n - i, LOGREAD_HINT_TEXT);
            return 0;
        }
    }
    e = bsd_time(s + i, n - i);
    if (e == 0)
        e = iso_time(s + i, n - i);
    if (e == 0)
        return -1;
    return parse_bsd_rest(s, n, i + e, c);
}

static int syslog_line(struct lr_state *st, struct lr_scratch *sc, const char *line, size_t n,
                       const struct lr_sink *sink, size_t *resume)
{
    struct sl c;

    (void)st;
    if (syslog_parse(line, n, sc, &c) < 0) {
        *resume = 0;
        return -1;
    }
    for (size_t i = 0; i < c.n; i++)
        lr_emit(sink, c.f[i].name, c.f[i].nlen, c.f[i].v, c.f[i].vn, c.f[i].hint);
    return 0;
}

/* Where the timestamp is: RFC 5424's second token, else the BSD or ISO
 * time the line opens with (after a PRI). */
static int syslog_time(const struct lr_state *st, const char *s, size_t n, struct lr_scratch *sc,
                       struct lr_time *t)
{
    size_t i = 0, e;

    (void)st;
    (void)sc;
    if (n > 0 && s[0] == '<') {
        size_t p = 1;
        while (p < n && p < 5 && is_digit(s[p]))
            p++;
        if (p == 1 || p >= n || s[p] != '>')
            return -1;
        i = p + 1;
        if (i + 1 < n && is_digit(s[i]) &&
            (s[i + 1] == ' ' || (is_digit(s[i + 1]) && i + 2 < n && s[i + 2] == ' '))) {
            i = token_end(s, n, i) + 1; /* past VERSION */
            if (i >= n)
                return -1;
            e = token_end(s, n, i);
            *t = (struct lr_time){s + i, e - i, LR_T_ISO};
            return 0;
        }
    }
    if ((e = bsd_time(s + i, n - i)) != 0) {
        *t = (struct lr_time){s + i, e, LR_T_BSD};
        return 0;
    }
    if ((e = iso_time(s + i, n - i)) != 0) {
        *t = (struct lr_time){s + i, e, LR_T_ISO};
        return 0;
    }
    return -1;
}

static int syslog_detect(const char *line, size_t n)
{
    struct sl c;

    return syslog_parse(line, n, NULL, &c) == 0;
}

const struct lr_format lr_syslog_format = {"syslog", syslog_line, syslog_detect, syslog_time};
