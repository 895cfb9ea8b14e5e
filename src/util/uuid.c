/*
 * UUID generation and checking, and the SHA-1 that UUIDv5 needs. libsodium
 * has no SHA-1 (rightly: it is broken for signatures), so it is written here
 * from FIPS 180-4 and used for nothing but name-based UUIDs.
 */
#include "util/uuid.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[80], a, b, c, d, e, f, k, t;

    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        t = rol(a, 5) + f + e + k + w[i];
        e = d, d = c, c = rol(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

void kz_sha1(const void *data, size_t n, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    const uint8_t *p = data;
    uint8_t tail[128];
    size_t full = n / 64 * 64, rest = n - full, tlen;
    uint64_t bits = (uint64_t)n * 8;

    for (size_t i = 0; i < full; i += 64)
        sha1_block(h, p + i);
    memset(tail, 0, sizeof(tail));
    memcpy(tail, p + full, rest);
    tail[rest] = 0x80;
    tlen = rest + 1 + 8 <= 64 ? 64 : 128;
    for (int i = 0; i < 8; i++)
        tail[tlen - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (size_t i = 0; i < tlen; i += 64)
        sha1_block(h, tail + i);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

static void format(const uint8_t u[16], char out[KZ_UUID_LEN])
{
    snprintf(out, KZ_UUID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse(const char *s, uint8_t u[16])
{
    int j = 0;

    for (int i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return -1;
            i++;
            continue;
        }
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        u[j++] = (uint8_t)(hi << 4 | lo);
        i += 2;
        if (i == 9 || i == 14 || i == 19 || i == 24)
            return -1; /* a '-' would have been consumed as a digit pair */
    }
    return 0;
}

void kz_uuid_v4(char out[KZ_UUID_LEN])
{
    uint8_t u[16];

    randombytes_buf(u, sizeof(u));
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    format(u, out);
}

int kz_uuid_v5(const char *ns, const char *name, size_t n, char out[KZ_UUID_LEN])
{
    uint8_t u[16], h[20];
    uint8_t stackbuf[512];
    uint8_t *buf = stackbuf;

    if (strlen(ns) != 36 || parse(ns, u) < 0)
        return -1;
    if (16 + n > sizeof(stackbuf)) {
        buf = malloc(16 + n);
        if (!buf)
            return -1;
    }
    memcpy(buf, u, 16);
    memcpy(buf + 16, name, n);
    kz_sha1(buf, 16 + n, h);
    if (buf != stackbuf)
        free(buf);
    memcpy(u, h, 16);
    u[6] = (u[6] & 0x0f) | 0x50;
    u[8] = (u[8] & 0x3f) | 0x80;
    format(u, out);
    return 0;
}

int kz_uuid_valid(const char *s, size_t n)
{
    uint8_t u[16];
    int v;

    if (n != 36 || parse(s, u) < 0)
        return 0;
    v = u[6] >> 4;
    return v >= 1 && v <= 5 && (u[8] & 0xc0) == 0x80;
}

int kz_uuid_version(const char *s)
{
    return hexval(s[14]);
}
