/*
 * The audit log: who read and wrote which objects and who changed which
 * accounts, when, from where, in which collection, how many and under which
 * markings. Rows are append-only and hash-chained with a key derived from
 * the node's signing key: each row's hash covers its fields and the previous
 * row's hash, and the head (last seq and hash) is MACed too, so a removed,
 * altered, inserted or truncated row is detected by `kizuna audit --verify`.
 *
 * The main store witnesses the log: it keeps the latest head it saw (moved
 * forward about once a second, and at every close), so a removed, emptied
 * or rolled-back audit.db no longer verifies. Partners keep signed heads
 * too (docs/FEDERATION.md): they are what holds against the node's own
 * operator, who has the key and both files.
 *
 * In the server a thread commits whatever is queued as soon as it is, so
 * concurrent requests share a commit (group commit). A row marked durable
 * (a write, an account change) is recorded by waiting for the synced commit
 * that holds it. A read is copied into a journal beside audit.db (a file
 * mapped shared) and not waited for: the operating system keeps it through
 * a crash of the process, and the next open of the log brings in what the
 * commits had not (audit.c, "the journal"). A log in PostgreSQL has no
 * journal (its location is not a file, and servers share it): there a read
 * waits for its commit too, which it shares with the reads around it. On
 * the command line every row is committed, synced, before audit_record
 * returns.
 *
 * Several servers may append to one log in PostgreSQL: the store chains
 * each commit to the head under a lock (store_audit_append), so the log
 * stays one chain. Its witness means something only in another database
 * (audit_path another DSN than the store's): in the same one it is the
 * log's own head.
 */
#ifndef KZ_AUDIT_H
#define KZ_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "stix/stix.h"
#include "store/store.h"
#include "util/limits.h"

#define AUDIT_KEY_BYTES  32
#define AUDIT_FLUSH_MS   500  /* journaled reads are committed at least this often */
#define AUDIT_WITNESS_MS 1000 /* the main store's witness moves at most this often */
#define AUDIT_RETRY_MS   100  /* after a failed commit, the flusher waits this long */
/* each of the two journal files (reads answered before their commit):
 * room for about 50,000 rows, a hundred times what comes in AUDIT_FLUSH_MS
 * at the benchmark's rate */
#define AUDIT_JOURNAL_BYTES ((size_t)8 << 20)

/* One event, before it is chained. Markings counts are indexed by enum
 * stix_tlp (index 0: no TLP marking). */
struct audit_event {
    const char *user;
    const char *remote;
    const char *action;     /* read, write, delete, import, export */
    const char *collection; /* the collection's id */
    uint64_t count;
    uint64_t markings[STIX_TLP_RED + 1];
    const char *detail;
    int durable; /* synced to disk before audit_record returns */
};

struct audit_log;

/* Where the log goes and how. */
struct audit_opts {
    const char *backend;
    const char *path;         /* the node's audit_path, a database of its own */
    const char *witness_path; /* the main store, which keeps the head (NULL: none) */
    int background;           /* a thread commits what is queued */
    int syslog;               /* also send each row to syslog (LOG_AUTHPRIV) */
};

/* Opens the log, creating its database when needed. */
struct audit_log *audit_log_open(const struct audit_opts *o,
                                 const unsigned char key[AUDIT_KEY_BYTES], struct kz_error *err);

/* Commits what is pending, moves the witness and closes. Accepts NULL. */
void audit_log_close(struct audit_log *l);

/* Records an event (copied) and returns once its row is safe from a crash
 * (see above); -1 with err set when it could not be made so (the row stays
 * queued and is tried again, but the caller must not claim it was
 * recorded). */
int audit_record(struct audit_log *l, const struct audit_event *e, struct kz_error *err);

/* The log's head now (what is queued is committed first), and the hash of
 * row `seen` (zeros when the log has no such row), for the signed head
 * partners fetch. */
struct audit_head {
    int64_t seq;
    unsigned char hash[STORE_AUDIT_HASH_LEN];
    int64_t seen_seq;
    int seen_found;
    unsigned char seen_hash[STORE_AUDIT_HASH_LEN];
};
int audit_head(struct audit_log *l, int64_t seen, struct audit_head *out, struct kz_error *err);

/* Checks the whole chain of the log in s, and that it still holds the head
 * the main store `witness` recorded (NULL: not checked); on a break returns
 * -1 with err naming the first row at fault. *rows is the number of rows
 * checked. */
int audit_verify(struct store *s, struct store *witness, const unsigned char key[AUDIT_KEY_BYTES],
                 int64_t *rows, struct kz_error *err);

/* "clear=3 amber=1 unmarked=2" from counts indexed by enum stix_tlp. */
void audit_markings_text(const uint64_t *counts, char *out, size_t cap);

#endif
