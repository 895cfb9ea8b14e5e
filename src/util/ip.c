/*
 * The one IPv4 and IPv6 text parser (ip.h). Written for inputs from outside:
 * every index is checked against n, nothing is read past it, and nothing
 * needs a NUL.
 */
#include "util/ip.h"

#include <string.h>

#include "util/text.h"

int kz_ipv4_parse(const char *s, size_t n, uint8_t out[4])
{
    size_t i = 0;

    for (int part = 0; part < 4; part++) {
        unsigned v = 0;
        size_t d;

        if (part) {
            if (i >= n || s[i] != '.')
                return -1;
            i++;
        }
        d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - d < 3)
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == d || v > 255 || (s[d] == '0' && i - d > 1))
            return -1;
        out[part] = (uint8_t)v;
    }
    return i == n ? 0 : -1;
}

/* Places ng groups, the ones from gap on at the end, into out. */
static void place_groups(const uint16_t *g, int ng, int gap, uint8_t out[16])
{
    memset(out, 0, 16);
    for (int k = 0; k < ng; k++) {
        int pos = gap >= 0 && k >= gap ? k + (8 - ng) : k;

        out[2 * pos] = (uint8_t)(g[k] >> 8);
        out[2 * pos + 1] = (uint8_t)g[k];
    }
}

int kz_ipv6_parse(const char *s, size_t n, uint8_t out[16])
{
    uint16_t g[8];
    int ng = 0, gap = -1;
    size_t i = 0;

    if (n < 2 || n > KZ_IPV6_TEXT_MAX)
        return -1;
    if (s[0] == ':') {
        if (s[1] != ':')
            return -1;
        gap = 0;
        i = 2;
    }
    while (i < n) {
        size_t d = i;
        unsigned v = 0;

        if (ng >= 8)
            return -1;
        while (i < n && kz_is_hex((unsigned char)s[i]) && i - d < 4)
            v = v << 4 | kz_hexval((unsigned char)s[i++]);
        if (i < n && s[i] == '.') { /* an IPv4 address ends the text */
            uint8_t v4[4];

            if (ng > 6 || kz_ipv4_parse(s + d, n - d, v4) < 0)
                return -1;
            g[ng++] = (uint16_t)(v4[0] << 8 | v4[1]);
            g[ng++] = (uint16_t)(v4[2] << 8 | v4[3]);
            break;
        }
        if (i == d)
            return -1;
        g[ng++] = (uint16_t)v;
        if (i == n)
            break;
        if (s[i] != ':')
            return -1;
        i++;
        if (i < n && s[i] == ':') {
            if (gap >= 0)
                return -1;
            gap = ng;
            i++;
        } else if (i == n) {
            return -1; /* a single trailing colon */
        }
    }
    if (gap < 0 ? ng != 8 : ng > 7)
        return -1;
    place_groups(g, ng, gap, out);
    return 0;
}
