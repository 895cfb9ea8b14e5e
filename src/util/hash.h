/*
 * FNV-1a, 64 bits: a non-cryptographic string hash for hash tables and for
 * telling values apart where a collision costs only a slower path or a
 * miscount, never a wrong answer about what a reader may see (those use
 * keyed BLAKE2b or SipHash from libsodium). Chain calls to
 * hash several pieces: kz_fnv1a(kz_fnv1a(KZ_FNV1A_INIT, a, n), b, m).
 */
#ifndef KZ_HASH_H
#define KZ_HASH_H

#include <stddef.h>
#include <stdint.h>

#define KZ_FNV1A_INIT 14695981039346656037ull

static inline uint64_t kz_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

#endif
