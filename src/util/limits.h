/*
 * Every cap kizuna puts on untrusted input, in one place. Each limit is an
 * ordinary, tested error when exceeded: the input is refused with a message
 * naming the limit, nothing crashes and nothing is half-written. Raise a cap
 * only with a reason; each one bounds memory or time an attacker can make us
 * spend.
 */
#ifndef KZ_LIMITS_H
#define KZ_LIMITS_H

/* A file given to import/validate, read whole into memory. 2 GiB keeps all
 * offsets in 32 bits (the JSON tape stores uint32_t offsets). */
#define KZ_MAX_FILE_BYTES ((size_t)2047 * 1024 * 1024)

/* One STIX object's JSON text. Large artifacts belong outside STIX; 32 MiB
 * leaves room for a payload_bin of ~24 MiB. */
#define KZ_MAX_OBJECT_BYTES ((size_t)32 * 1024 * 1024)

/* JSON nesting inside one document. STIX objects nest a handful of levels;
 * 10,000-deep input must fail fast, not exhaust a stack. */
#define KZ_MAX_JSON_DEPTH 64

/* Nodes (values, keys) on one parsed JSON tape: bounds the tape to
 * 16 bytes * 8M = 128 MiB for a request body. */
#define KZ_MAX_JSON_NODES (8u * 1024 * 1024)

/* Members in one JSON object; above this duplicate-key checks switch from
 * pairwise comparison to sorting. Not a cap, a tuning point. */
#define KZ_JSON_SMALL_OBJECT 16

/* One property name or string we decode into a C buffer for inspection
 * (ids, types, timestamps, marking names). Longer values are kept verbatim
 * but never decoded. */
#define KZ_MAX_DECODED_STRING 4096

/* Objects in one bundle or envelope. */
#define KZ_MAX_BUNDLE_OBJECTS (4u * 1024 * 1024)

/* Validation findings kept per object; more are counted, not stored. */
#define KZ_MAX_FINDINGS_PER_OBJECT 32

/* A STIX identifier: type (max 250) + "--" + 36-char UUID. */
#define KZ_MAX_STIX_ID 290

/* A STIX type name (the spec says 3 to 250 characters). */
#define KZ_MAX_STIX_TYPE 250
#define KZ_MIN_STIX_TYPE 3

/* A property name (the spec: 3 to 250 characters, or 1 for some SCO keys). */
#define KZ_MAX_PROPERTY_NAME 250

/* Lines read from kizuna.conf and the length of one value in it. */
#define KZ_MAX_CONFIG_VALUE 1024

/* Collections, users, organisations: names and aliases. */
#define KZ_MAX_NAME 128

/* Titles and descriptions given on the command line or over the API. */
#define KZ_MAX_TEXT 4096

/* How long a writer waits for another writer's transaction, in ms. */
#define KZ_STORE_BUSY_TIMEOUT_MS 30000

/* JSON values in one account API request body: {"name", "role", "org"} is
 * seven; a little room so that an unknown member is named, not just refused. */
#define KZ_MAX_ADMIN_JSON_NODES 16

#endif
