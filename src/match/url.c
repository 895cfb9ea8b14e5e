/*
 * URL normalisation for matching (RFC 3986 section 6.2.2, syntax-based, and
 * 6.2.3, scheme-based), so that "HTTP://Evil.COM:80/a/./b/%7euser" in a log
 * and "http://evil.com/a/b/~user" in an indicator compare equal:
 *   - scheme and host lowercased; a trailing dot of the host removed; a
 *     Unicode host name (UTF-8 or percent-encoded UTF-8) in A-label form;
 *   - percent-encodings of unreserved characters (ALPHA DIGIT - . _ ~)
 *     decoded, other percent-encodings' hex digits uppercased, a '%' not
 *     followed by two hex digits encoded as %25;
 *   - bytes outside the URI grammar (space, controls, non-ASCII, "<>\^`{|})
 *     percent-encoded, as browsers send them (RFC 3987 mapping);
 *   - the port dropped when empty or the scheme's default (http 80, https
 *     443, ws 80, wss 443, ftp 21), leading zeros of a port removed;
 *   - an IPv6 literal host written in RFC 5952 form;
 *   - dot segments removed from an absolute path, and an empty path after an
 *     authority written "/";
 *   - the fragment dropped: it never leaves the client, so logs do not see it.
 * The query is kept byte for byte after percent normalisation (no
 * reordering of parameters: that would equate distinct URLs).
 */
#include "match/match.h"

#include <string.h>

#include "match/match_int.h"

struct out {
    char *p;
    size_t n, cap;
    int full;
};

static void put(struct out *o, char c)
{
    if (o->n + 1 < o->cap)
        o->p[o->n++] = c;
    else
        o->full = 1;
}

static void puthex(struct out *o, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    put(o, '%');
    put(o, hex[c >> 4]);
    put(o, hex[c & 15]);
}

/* uri_class[c]: 2 for unreserved characters (ALPHA DIGIT - . _ ~), 1 for
 * the other characters a URI may hold literally (gen-delims, sub-delims and
 * '%', RFC 3986 appendix A), 0 for the rest. */
#define U2(c) [c] = 2
static const unsigned char uri_class[256] = {
        U2('a'),   U2('b'),   U2('c'),   U2('d'),   U2('e'),    U2('f'),   U2('g'),   U2('h'),
        U2('i'),   U2('j'),   U2('k'),   U2('l'),   U2('m'),    U2('n'),   U2('o'),   U2('p'),
        U2('q'),   U2('r'),   U2('s'),   U2('t'),   U2('u'),    U2('v'),   U2('w'),   U2('x'),
        U2('y'),   U2('z'),   U2('A'),   U2('B'),   U2('C'),    U2('D'),   U2('E'),   U2('F'),
        U2('G'),   U2('H'),   U2('I'),   U2('J'),   U2('K'),    U2('L'),   U2('M'),   U2('N'),
        U2('O'),   U2('P'),   U2('Q'),   U2('R'),   U2('S'),    U2('T'),   U2('U'),   U2('V'),
        U2('W'),   U2('X'),   U2('Y'),   U2('Z'),   U2('0'),    U2('1'),   U2('2'),   U2('3'),
        U2('4'),   U2('5'),   U2('6'),   U2('7'),   U2('8'),    U2('9'),   U2('-'),   U2('.'),
        U2('_'),   U2('~'),   [':'] = 1, ['/'] = 1, ['?'] = 1,  ['#'] = 1, ['['] = 1, [']'] = 1,
        ['@'] = 1, ['!'] = 1, ['$'] = 1, ['&'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1, ['*'] = 1,
        ['+'] = 1, [','] = 1, [';'] = 1, ['='] = 1, ['%'] = 1,
};
#undef U2

static int is_unreserved(unsigned char c)
{
    return uri_class[c] == 2;
}

/* Characters that may appear literally in a URI (RFC 3986 appendix A). */
static int is_uri_char(unsigned char c)
{
    return uri_class[c] != 0;
}

/* Percent-normalises s[0..n) into o; lower set lowercases letters (hosts). */
static void pct_norm(struct out *o, const char *s, size_t n, int lower)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 < n && kz_is_hex((unsigned char)s[i + 1]) &&
                kz_is_hex((unsigned char)s[i + 2])) {
                unsigned char v = (unsigned char)((kz_hexval((unsigned char)s[i + 1]) << 4) |
                                                  kz_hexval((unsigned char)s[i + 2]));
                i += 2;
                if (is_unreserved(v))
                    put(o, lower ? (char)mx_lower[v] : (char)v);
                else
                    puthex(o, v);
            } else {
                puthex(o, '%');
            }
        } else if (is_uri_char(c)) {
            put(o, lower ? (char)mx_lower[c] : (char)c);
        } else {
            puthex(o, c);
        }
    }
}

/* A registered name h[0..n): a Unicode name, written as UTF-8 or
 * percent-encoded UTF-8 (RFC 3986 section 3.2.2), becomes its A-label
 * form (idn.c), as browsers send it; other hosts, and a Unicode name
 * libidn2 refuses, are percent-normalised and lowercased. */
static void host_norm(struct out *o, const char *h, size_t n)
{
    char dec[MATCH_MAX_IDN_BYTES], al[MATCH_MAX_DOMAIN + 2];
    size_t dn = 0, an, i;
    const char *why;
    int u8 = 0;

    if (!memchr(h, '%', n) && !mx_has_u8(h, n)) {
        pct_norm(o, h, n, 1);
        return;
    }
    for (i = 0; i < n && dn < sizeof(dec); i++) {
        unsigned char c = (unsigned char)h[i];
        if (c == '%' && i + 2 < n && kz_is_hex((unsigned char)h[i + 1]) &&
            kz_is_hex((unsigned char)h[i + 2])) {
            c = (unsigned char)((kz_hexval((unsigned char)h[i + 1]) << 4) |
                                kz_hexval((unsigned char)h[i + 2]));
            i += 2;
        }
        u8 |= c >= 0x80;
        dec[dn++] = (char)c;
    }
    if (i == n && u8 && mx_idn_alabel(dec, dn, al, sizeof(al), &an, &why) == 0) {
        while (an > 0 && al[an - 1] == '.')
            an--;
        pct_norm(o, al, an, 1);
        return;
    }
    pct_norm(o, h, n, 1);
}

/* RFC 3986 section 5.2.4 on an absolute path p[0..n) (p[0] == '/'), in
 * place; returns the new length. The output never outgrows the input, and
 * the write position stays behind the read position. */
static size_t remove_dots(char *p, size_t n)
{
    size_t i = 1, o = 0;
    int trailing = 0;

    while (i <= n) {
        size_t j = i, len;
        int last;
        while (j < n && p[j] != '/')
            j++;
        len = j - i;
        last = j >= n;
        if (len == 1 && p[i] == '.') {
            if (last)
                trailing = 1;
        } else if (len == 2 && p[i] == '.' && p[i + 1] == '.') {
            while (o > 0 && p[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            if (last)
                trailing = 1;
        } else {
            p[o++] = '/';
            memmove(p + o, p + i, len);
            o += len;
        }
        i = j + 1;
    }
    if (trailing || o == 0)
        p[o++] = '/';
    return o;
}

static const char *default_port(const char *scheme, size_t n)
{
    static const struct {
        const char *scheme, *port;
        size_t len;
    } ports[] = {{"http", "80", 4},
                 {"https", "443", 5},
                 {"ws", "80", 2},
                 {"wss", "443", 3},
                 {"ftp", "21", 3}};

    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
        if (ports[i].len == n && memcmp(ports[i].scheme, scheme, n) == 0)
            return ports[i].port;
    return NULL;
}

/* The scheme's length (before ':'), or 0 when s has none. */
static size_t scheme_len(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
        return 0;
    for (i = 1; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ':')
            return i;
        if (!(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '-' || c == '.'))
            return 0;
    }
    return 0;
}

int mx_url_split(const char *u, size_t n, size_t *host, size_t *hlen, size_t *rest)
{
    size_t sl = scheme_len(u, n), a, e, h, he;

    if (sl == 0 || sl + 3 > n || u[sl + 1] != '/' || u[sl + 2] != '/')
        return -1;
    a = sl + 3;
    for (e = a; e < n && u[e] != '/' && u[e] != '?' && u[e] != '#'; e++)
        ;
    h = a;
    for (size_t i = e; i > a; i--) {
        if (u[i - 1] == '@') {
            h = i;
            break;
        }
    }
    if (h < e && u[h] == '[') {
        for (he = h + 1; he < e && u[he] != ']'; he++)
            ;
        *host = h + 1;
        *hlen = he - h - 1;
    } else {
        for (he = e; he > h && u[he - 1] >= '0' && u[he - 1] <= '9'; he--)
            ;
        if (he > h && u[he - 1] == ':')
            he--;
        else
            he = e;
        *host = h;
        *hlen = he - h;
    }
    *rest = e;
    return 0;
}

int mx_url_norm(const char *in, size_t n, char *outp, size_t cap, size_t *outlen, const char **why)
{
    struct out o = {outp, 0, cap, 0};
    size_t sl, i, pstart, pend;
    const char *dport;

    while (n && (unsigned char)in[n - 1] <= 0x20)
        n--;
    while (n && (unsigned char)in[0] <= 0x20) {
        in++;
        n--;
    }
    sl = scheme_len(in, n);
    if (sl == 0) {
        *why = "has no scheme (such as http:)";
        return -1;
    }
    for (i = 0; i < sl; i++)
        put(&o, (char)mx_lower[(unsigned char)in[i]]);
    put(&o, ':');
    dport = default_port(o.p, sl);
    i = sl + 1;
    if (i + 1 < n && in[i] == '/' && in[i + 1] == '/') {
        size_t a = i + 2, e, h, hend, port = 0, plen = 0;
        for (e = a; e < n && in[e] != '/' && in[e] != '?' && in[e] != '#'; e++)
            ;
        h = a;
        for (size_t k = e; k > a; k--) {
            if (in[k - 1] == '@') {
                h = k;
                break;
            }
        }
        put(&o, '/');
        put(&o, '/');
        if (h > a) {
            pct_norm(&o, in + a, h - 1 - a, 0);
            put(&o, '@');
        }
        if (h < e && in[h] == '[') {
            uint8_t a6[16];
            char txt[64];
            size_t close;
            for (close = h + 1; close < e && in[close] != ']'; close++)
                ;
            if (close >= e) {
                *why = "has an IPv6 host without ']'";
                return -1;
            }
            put(&o, '[');
            if (match_ipv6_parse(in + h + 1, close - h - 1, a6) == 0) {
                size_t tl = match_ip_format(6, a6, txt, sizeof(txt));
                for (size_t k = 0; k < tl; k++)
                    put(&o, txt[k]);
            } else {
                pct_norm(&o, in + h + 1, close - h - 1, 1);
            }
            put(&o, ']');
            hend = close + 1;
            if (hend < e && in[hend] != ':') {
                *why = "has characters after the IPv6 host";
                return -1;
            }
        } else {
            for (hend = h; hend < e && in[hend] != ':'; hend++)
                ;
            {
                size_t hn = hend - h;
                while (hn > 0 && in[h + hn - 1] == '.')
                    hn--;
                host_norm(&o, in + h, hn);
            }
        }
        if (hend < e) { /* ":port" */
            port = hend + 1;
            plen = e - port;
            for (size_t k = port; k < e; k++) {
                if (in[k] < '0' || in[k] > '9') {
                    *why = "has a port that is not a number";
                    return -1;
                }
            }
            while (plen > 1 && in[port] == '0') {
                port++;
                plen--;
            }
            if (plen > 5) {
                *why = "has a port above 65535";
                return -1;
            }
            if (plen && !(dport && strlen(dport) == plen && memcmp(dport, in + port, plen) == 0)) {
                put(&o, ':');
                for (size_t k = 0; k < plen; k++)
                    put(&o, in[port + k]);
            }
        }
        i = e;
        pstart = o.n;
        for (pend = i; pend < n && in[pend] != '?' && in[pend] != '#'; pend++)
            ;
        if (pend == i)
            put(&o, '/');
        else
            pct_norm(&o, in + i, pend - i, 0);
    } else {
        pstart = o.n;
        for (pend = i; pend < n && in[pend] != '?' && in[pend] != '#'; pend++)
            ;
        pct_norm(&o, in + i, pend - i, 0);
    }
    if (!o.full && o.n > pstart && o.p[pstart] == '/')
        o.n = pstart + remove_dots(o.p + pstart, o.n - pstart);
    if (pend < n && in[pend] == '?') {
        size_t q = pend + 1, qe;
        for (qe = q; qe < n && in[qe] != '#'; qe++)
            ;
        put(&o, '?');
        pct_norm(&o, in + q, qe - q, 0);
    }
    if (o.full) {
        *why = "is too long";
        return -1;
    }
    o.p[o.n] = '\0';
    *outlen = o.n;
    return 0;
}

int match_url_normalise(const char *in, size_t n, char *out, size_t cap, size_t *outlen,
                        struct kz_error *err)
{
    const char *why = NULL;

    if (cap == 0)
        return kz_error_set(err, KZ_ELIMIT, "output buffer too small");
    if (mx_url_norm(in, n, out, cap, outlen, &why) < 0)
        return kz_error_set(err, strcmp(why, "is too long") == 0 ? KZ_ELIMIT : KZ_EINVALID,
                            "URL '%.*s' %s", (int)(n > 100 ? 100 : n), in, why);
    return 0;
}
