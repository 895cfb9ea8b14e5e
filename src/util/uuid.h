/*
 * UUIDs as STIX uses them: random v4 ids for the objects a node creates, and
 * name-based v5 ids (SHA-1 over a namespace and a name, RFC 4122 section 4.3)
 * for deterministic SCO ids. Text form is the lowercase 36-character one.
 */
#ifndef KZ_UUID_H
#define KZ_UUID_H

#include <stddef.h>
#include <stdint.h>

#define KZ_UUID_LEN 37 /* 36 characters and the NUL */

/* A fresh random (version 4) UUID from libsodium's CSPRNG. */
void kz_uuid_v4(char out[KZ_UUID_LEN]);

/* The version 5 UUID of name[0..n) under the namespace given in text form.
 * Returns -1 if the namespace is not a UUID. */
int kz_uuid_v5(const char *ns, const char *name, size_t n, char out[KZ_UUID_LEN]);

/* Checks s[0..n) is an RFC 4122 UUID in text form: 8-4-4-4-12 hex digits,
 * version 1 to 5, variant 10xx. Uppercase hex is accepted. */
int kz_uuid_valid(const char *s, size_t n);

/* Version digit of a valid UUID text. */
int kz_uuid_version(const char *s);

/* SHA-1 (FIPS 180-4) of p[0..n); used only for UUIDv5, never for security. */
void kz_sha1(const void *p, size_t n, uint8_t out[20]);

#endif
