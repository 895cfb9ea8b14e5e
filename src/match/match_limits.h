/*
 * The caps of the matching engine (src/match/), each with its reason. They
 * belong beside the others in util/limits.h; they live here until the lead
 * moves them. Going over a cap is an ordinary error or a counted warning,
 * never a crash or an unbounded allocation.
 */
#ifndef KZ_MATCH_LIMITS_H
#define KZ_MATCH_LIMITS_H

/* Indicator values in one index. Refs and table offsets are 32-bit; 16M
 * values is 16x the design point (1M) and still bounds memory to ~2 GB. */
#define MATCH_MAX_VALUES (16u * 1024 * 1024)

/* A ref is the caller's indicator number; the top bit is reserved for the
 * index's own encoding (single ref vs. list). */
#define MATCH_MAX_REF 0x7fffffffu

/* One indicator value's text (a URL is the longest kind). Browsers cap URLs
 * near 2 MB but feeds and logs stay far below 8 KiB; longer log tokens are
 * skipped and counted. */
#define MATCH_MAX_VALUE_BYTES 8192

/* A DNS name: 253 characters (RFC 1035), labels of at most 63 bytes. */
#define MATCH_MAX_DOMAIN 253
#define MATCH_MAX_LABEL  63

/* The local part of an e-mail address (RFC 5321 section 4.5.3.1.1). */
#define MATCH_MAX_EMAIL_LOCAL 64

/* Covering matches one lookup can return: an IPv6 address has at most 129
 * covering prefixes (/0../128) and a domain at most 127 labels. */
#define MATCH_MAX_SPANS 130

/* One log line. Longer lines are split into pieces of this size at a
 * separator, scanned as plain text, and counted in match_stats.long_lines. */
#define MATCH_MAX_LINE ((size_t)1024 * 1024)

/* The unit of work handed to a scan thread (a run of whole lines). Large
 * enough that queueing costs nothing, small enough to keep all threads busy
 * on a 64 MB file. Must exceed MATCH_MAX_LINE. */
#define MATCH_BLOCK_BYTES ((size_t)4 * 1024 * 1024)

/* Hit records one block may buffer before the scan falls back to emitting
 * that block's hits line by line in the calling thread; bounds memory when
 * every token hits (e.g. a /0 indicator). */
#define MATCH_MAX_BLOCK_HIT_BYTES ((size_t)32 * 1024 * 1024)

/* Refs reported with one hit; more are counted in match_hit.refs_dropped. */
#define MATCH_MAX_HIT_REFS 4096

/* Scan threads (--threads). More than the cores only adds contention. */
#define MATCH_MAX_THREADS 64

/* Fields of one Zeek TSV header (#fields); Zeek's widest logs have ~60. */
#define MATCH_MAX_ZEEK_FIELDS 256

/* Bytes of one Zeek header's field names and types together. */
#define MATCH_MAX_ZEEK_HEADER 8192

/* Nesting of a JSON log line followed for field names; deeper values are
 * still scanned, under the name of the deepest followed key. */
#define MATCH_MAX_JSON_PATH_DEPTH 32

/* A field name as reported in a hit (a JSON key path). Longer names are
 * truncated with a trailing "...". */
#define MATCH_MAX_FIELD_NAME 256

/* Lines sampled to detect a file's format, and the bytes they may span. */
#define MATCH_DETECT_LINES 16
#define MATCH_DETECT_BYTES ((size_t)64 * 1024)

/* Warninglists: lists in one set, one list's JSON text (the largest MISP
 * list, majestic_million, is ~25 MB), and one entry. */
#define MATCH_MAX_WARNINGLISTS      4096
#define MATCH_MAX_WARNINGLIST_BYTES ((size_t)256 * 1024 * 1024)
#define MATCH_MAX_WARNINGLIST_ENTRY 4096

/* The public suffix list file (about 250 KB today). */
#define MATCH_MAX_PSL_BYTES ((size_t)16 * 1024 * 1024)

#endif
