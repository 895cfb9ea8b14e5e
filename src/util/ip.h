/*
 * IP addresses in their text forms, parsed once for every module that reads
 * them (STIX validation, patterns, log matching): dotted-quad IPv4 and the
 * RFC 4291 section 2.2 forms of IPv6 (hex groups, one "::", an IPv4 address
 * as the last 32 bits). Strict on purpose: no leading zeros in IPv4 octets
 * (they read as octal elsewhere), no zone ids, no brackets, no prefix.
 */
#ifndef KZ_IP_H
#define KZ_IP_H

#include <stddef.h>
#include <stdint.h>

#define KZ_IPV6_TEXT_MAX 45 /* the longest text form, embedded IPv4 included */

/* Parses s[0..n) as "a.b.c.d" into out (network order); 0, or -1. */
int kz_ipv4_parse(const char *s, size_t n, uint8_t out[4]);

/* Parses s[0..n) as an IPv6 address into out (network order); 0, or -1. */
int kz_ipv6_parse(const char *s, size_t n, uint8_t out[16]);

#endif
