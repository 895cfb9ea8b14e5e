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

/* `kizuna apply`: the declarative file's size and its entries in all (a
 * node's set-up, written and reviewed by people: thousands at most). */
#define KZ_MAX_APPLY_FILE    (4u * 1024 * 1024)
#define KZ_MAX_APPLY_ENTRIES 10000

/* --- STIX patterns (pattern/): from indicators anyone may post --- */

/* The longest pattern accepted, in bytes. Real indicators are well under
 * 4 KiB; 64 KiB leaves room for long IN lists while bounding the tree. */
#define KZP_MAX_PATTERN_BYTES ((size_t)64 * 1024)

/* Nesting of parentheses and brackets, and steps in one object path. The
 * parser and every tree walk recurse at most this deep. */
#define KZP_MAX_DEPTH 64

/* Bindings (sets of observations satisfying a sub-expression) one
 * sub-expression may produce during an evaluation. AND, FOLLOWEDBY and
 * REPEATS combine their operands' bindings, which grows combinatorially;
 * past this cap the evaluation stops with KZ_ELIMIT instead of using
 * unbounded memory. */
#define KZP_MAX_BINDINGS 20000

/* Candidate combinations of bindings one evaluation may examine (the time
 * bound matching KZP_MAX_BINDINGS' memory bound). Past it the evaluation
 * stops with KZ_ELIMIT: an error result, never a hang. */
#define KZP_MAX_BINDING_WORK 2000000

/* Observations (observed-data objects) one struct kzp_obs may hold. */
#define KZP_MAX_OBSERVATIONS (1u << 20)

/* --- pattern evaluation --- */

/* PCRE2 limits for one MATCHES against one value: regexes come from
 * untrusted patterns and must not backtrack without end. */
#define KZP_REGEX_MATCH_LIMIT 1000000
#define KZP_REGEX_DEPTH_LIMIT 10000

/* The largest number_observed STIX allows (section 4.14.1). */
#define KZP_MAX_NUMBER_OBSERVED 999999999

/* --- HTTP (http/): what a client may send besides the body --- */

/* Caps on what a client may send us, besides the body. */
#define HTTP_MAX_TARGET           8192 /* bytes of request target (path + query) */
#define HTTP_MAX_SEGMENTS         16   /* path segments */
#define HTTP_MAX_PARAMS           64   /* query parameters */
#define HTTP_MAX_CAPTURES         4    /* {placeholders} in one route */
#define HTTP_MAX_RESPONSE_HEADERS 8
#define HTTP_HEADER_DEADLINE_S    10          /* a request's headers must arrive within this */
#define HTTP_IDLE_TIMEOUT_S       30          /* an idle connection is closed after this */
#define HTTP_MAX_CONNECTIONS      16384       /* open connections at once */
#define HTTP_DISCARD_MAX          (16u << 20) /* body bytes skipped past the cap before hanging up */
#define HTTP_DRAIN_TIMEOUT_S      30          /* how long a stop waits for in-flight requests */
#define HTTP_CONN_MEMORY          (32u << 10) /* MHD per-connection pool: request line, headers */
/* Request bodies one user may have in flight at once (declared lengths and
 * bytes read, until each request ends). A request alone may always use its
 * route's max_body; more than one past this is refused (429). */
#define HTTP_USER_INFLIGHT_MAX ((uint64_t)256 << 20)
/* A request body must bring HTTP_BODY_MIN_BYTES (or end) within every this
 * many seconds, else its connection is closed: a stalled or dribbling body
 * would hold its memory and its user's budget for ever. */
#define HTTP_BODY_TIMEOUT_S 30
#define HTTP_BODY_MIN_BYTES (16u << 10)

/* --- sensor exports (export/) --- */

/* Distinct (indicator, value) pairs one export may hold in memory: they are
 * sorted before writing so every file is deterministic. 16M is the match
 * index's cap too (MATCH_MAX_VALUES). */
#define EXPORT_MAX_VALUES (16u * 1024 * 1024)

/* Bytes of text (values, ids, names) one export may hold in memory. */
#define EXPORT_MAX_POOL_BYTES ((size_t)2 * 1024 * 1024 * 1024 - 1)

/* An indicator name as written into a Zeek desc or a Suricata msg; longer
 * names are cut at a UTF-8 boundary and end in "...". */
#define EXPORT_MAX_NAME_BYTES 200

/* One Zeek meta.desc: the names of every indicator behind a value; past
 * this the rest are counted ("+N more"). */
#define EXPORT_MAX_DESC_BYTES 1024

/* One Suricata rule line. Suricata refuses longer signatures
 * (DETECT_MAX_RULE_SIZE is 8192 with the newline); a URL rule that would
 * pass this is left out and counted. */
#define EXPORT_MAX_RULE_BYTES 8000

/* Addresses in one Suricata address group ([a,b,...]) of a CIDR rule, and
 * the bytes they may take, so a group rule stays well under the cap above. */
#define EXPORT_RULE_ADDRS      100
#define EXPORT_RULE_ADDR_BYTES 4096

/* Domain dataset rules match names up to this many labels below the
 * indicator's own depth; deeper indicators raise it (a DNS name has at most
 * 127 labels). */
#define EXPORT_MIN_DOMAIN_LABELS 6
#define EXPORT_MAX_DOMAIN_LABELS 127

/* --collection given more than once: at most this many per export. */
#define EXPORT_MAX_COLLECTIONS 16

/* Indicators named in one rule's metadata or one desc; more are counted. */
#define EXPORT_MAX_REFS_PER_LINE 8

/* --- log readers (match/logread_*) --- */

/* Fields of one line we keep (9 standard ones and extras). */
#define CLF_MAX_FIELDS 40

/* Containers nested deeper than this end the structured parse (the rest of
 * the line is scanned as text). */
#define LR_JSON_MAX_NESTING 256

#define SYSLOG_MAX_FIELDS 48

/* --- log matching (match/): indicators, logs, warninglists --- */

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

/* A Unicode domain name as UTF-8 before IDNA conversion: four bytes for each
 * character of the longest name (fullwidth letters take three, and the
 * mapping may drop characters such as soft hyphens). Longer is invalid. */
#define MATCH_MAX_IDN_BYTES (MATCH_MAX_DOMAIN * 4)

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

/* `match --report`: distinct sightings (indicator x observed value) of one
 * run, and the log files one ledger remembers (the least recently read go
 * first; a forgotten file is reported again as new). */
#define MATCH_MAX_SIGHTINGS      (1u << 20)
#define MATCH_MAX_LEDGER_ENTRIES 20000

/* --- TAXII and the account API (taxii/) --- */

/* A client's nonce for a signed page (X-Kizuna-Nonce, [A-Za-z0-9_-]). */
#define TAXII_NONCE_MIN 16
#define TAXII_NONCE_MAX 128

/* The nonce of a request for the signed audit head (?nonce=). */
#define TAXII_AUDIT_NONCE_MAX 64

/* Page sizes: what a client gets without asking, and the most it can ask. */
#define TAXII_DEFAULT_LIMIT 1000
#define TAXII_MAX_LIMIT     10000

/* A request body of the account API (a user's name, role, organisation). */
#define TAXII_ADMIN_MAX_BODY (64u << 10)

/* --- federation (sync/): what a peer sends --- */

#define SYNC_MAX_PAGE_BYTES (64u << 20) /* a larger response is refused, not retried */
#define SYNC_MAX_PAGES      100000      /* pages per link per round */
/* The most a partner's signed audit head may take (docs/FEDERATION.md). */
#define SYNC_MAX_HEAD_BYTES    4096
#define SYNC_CONNECT_TIMEOUT_S 10
#define SYNC_STALL_TIMEOUT_S   30  /* no progress for this long: give up */
#define SYNC_TOTAL_TIMEOUT_S   300 /* per request */
#define SYNC_CLOCK_SKEW_S      300 /* a peer's clock (signed pages, checkpoints) may be this far off */
/* A peer's TAXII error resource (TAXII 2.1, 3.6.1) is read from a body
 * this large at most, and its title and description are cut to these
 * lengths in errors (they reach `peer list` and /healthz). */
#define SYNC_MAX_ERROR_BODY        (64u << 10)
#define SYNC_ERROR_TITLE_MAX       80
#define SYNC_ERROR_DESCRIPTION_MAX 200
/* The links and communities of one peer (`peer add`, sync_peer_add). */
#define SYNC_MAX_LINKS            64
#define SYNC_MAX_PEER_COMMUNITIES 64
/* At most this many peers are synced in the background. */
#define SYNC_MAX_PEERS 64

/* --- policy and the store --- */

/* Recipients (users, organisations, partner nodes) one object may name in
 * kizuna's recipients extension; more are not honoured. */
#define POLICY_MAX_RECIPIENTS 256

/* Values in one TAXII match[...] filter (ids, types, spec versions,
 * versions). */
#define STORE_MAX_FILTER_VALUES 64
/* Objects a store_put_many (and a store_object_owners) takes at once: ingest
 * stores an input in batches of this many, so that a database server gets
 * one statement per batch rather than per object. */
#define STORE_PUT_BATCH 128

/* The SQLite store remembers whether a reader may see a referenced object
 * (the refs gate) for at most this many ids per connection, until the next
 * commit; past it, further references are asked each time. */
#define STORE_GATE_MEMO 4096

/* --- the audit log (audit/) --- */

/* Audit rows queued at once; past this, recording waits for a commit. */
#define AUDIT_MAX_PENDING 65536
/* One column of an append's rows as a PostgreSQL array literal (store/pg):
 * room for AUDIT_MAX_PENDING rows of the widest column, every byte escaped. */
#define AUDIT_MAX_APPEND_COLUMN_BYTES ((size_t)AUDIT_MAX_PENDING * 1024)

/* --- the command line (cli/) --- */

#define CLI_MAX_PEER_LINKS        64 /* --pull and --push of one `peer add` */
#define CLI_MAX_PEER_COMMUNITIES  64 /* --community of one `peer add` */
#define CLI_MAX_MATCH_COLLECTIONS 64 /* --collection of one `match` */

/* --- the signer process (sign/) --- */

/* The largest text the signer takes, and the size of the window reserved
 * for it (address space, not memory): the response body cap (http/, 2 GiB)
 * and room for the signed text's lines (prefix, nonce, time, target,
 * added_last). */
#define SIGN_SIGNER_FRAME_MAX (((size_t)1 << 31) + ((size_t)64 << 10))

#endif
