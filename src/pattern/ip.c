/*
 * IPv4 and IPv6 addresses and CIDR networks as the ipv4-addr and ipv6-addr
 * SCOs write them (STIX 2.1 sections 6.5 and 6.6), for ISSUBSET, ISSUPERSET
 * and = on addresses (section 9.6.1). Parsing is strict: dotted-quad IPv4
 * without leading zeros, RFC 4291 IPv6 text (with "::" and a trailing
 * dotted quad), an optional "/prefix". A network is stored with its host
 * bits zeroed, so that equal networks compare equal byte for byte.
 */
#include "pattern/pattern_int.h"

#include <stdio.h>
#include <string.h>

#include "util/ip.h"

static void mask(struct kzp_ip *ip)
{
    int bytes = ip->family == 4 ? 4 : 16;

    for (int b = 0; b < bytes; b++) {
        int keep = (int)ip->prefix - 8 * b;

        if (keep >= 8)
            continue;
        ip->addr[b] &= keep <= 0 ? 0 : (uint8_t)(0xFF << (8 - keep));
    }
}

int kzp_ip_parse(const char *s, size_t n, struct kzp_ip *ip)
{
    const char *slash = memchr(s, '/', n);
    size_t an = slash ? (size_t)(slash - s) : n;
    int max;

    memset(ip, 0, sizeof(*ip));
    if (an == 0 || an > KZ_IPV6_TEXT_MAX)
        return -1;
    if (memchr(s, ':', an)) {
        if (kz_ipv6_parse(s, an, ip->addr) < 0)
            return -1;
        ip->family = 6;
        max = 128;
    } else {
        if (kz_ipv4_parse(s, an, ip->addr) < 0)
            return -1;
        ip->family = 4;
        max = 32;
    }
    ip->prefix = (uint8_t)max;
    if (slash) {
        size_t i = an + 1;
        unsigned v = 0;

        if (i >= n || n - i > 3)
            goto bad;
        for (; i < n; i++) {
            if (s[i] < '0' || s[i] > '9')
                goto bad;
            v = v * 10 + (unsigned)(s[i] - '0');
        }
        if (v > (unsigned)max)
            goto bad;
        ip->prefix = (uint8_t)v;
        mask(ip);
    }
    return 0;
bad:
    ip->family = 0;
    return -1;
}

int kzp_ip_within(const struct kzp_ip *a, const struct kzp_ip *b)
{
    struct kzp_ip m;

    if (!a->family || a->family != b->family || a->prefix < b->prefix)
        return 0;
    m = *a;
    m.prefix = b->prefix;
    mask(&m);
    return memcmp(m.addr, b->addr, a->family == 4 ? 4 : 16) == 0;
}

void kzp_ip_format(const struct kzp_ip *ip, char *out, size_t size)
{
    int o = 0;

    if (ip->family == 4) {
        o = snprintf(out, size, "%u.%u.%u.%u", ip->addr[0], ip->addr[1], ip->addr[2], ip->addr[3]);
    } else if (ip->family == 6) {
        uint16_t g[8];
        int best = -1, bestlen = 1;

        for (int k = 0; k < 8; k++)
            g[k] = (uint16_t)(ip->addr[2 * k] << 8 | ip->addr[2 * k + 1]);
        for (int k = 0; k < 8;) {
            int len = 0;

            while (k + len < 8 && g[k + len] == 0)
                len++;
            if (len > bestlen) {
                best = k;
                bestlen = len;
            }
            k += len ? len : 1;
        }
        for (int k = 0; k < 8 && (size_t)o < size; k++) {
            if (k == best) {
                o += snprintf(out + o, size - (size_t)o, "::");
                k += bestlen - 1;
                continue;
            }
            o += snprintf(out + o, size - (size_t)o, "%s%x", k && k != best + bestlen ? ":" : "",
                          g[k]);
        }
    } else {
        o = snprintf(out, size, "?");
    }
    if (ip->family && ip->prefix != (ip->family == 4 ? 32 : 128) && o >= 0 && (size_t)o < size)
        snprintf(out + o, size - (size_t)o, "/%u", ip->prefix);
}
