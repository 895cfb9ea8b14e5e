/*
 * The audit log: who read and wrote which objects, when, from where, in
 * which collection, how many and under which markings. Rows are append-only
 * and hash-chained with a key derived from the node's signing key: each
 * row's hash covers its fields and the previous row's hash, and the head
 * (last seq and hash) is MACed too, so a removed, altered, inserted or
 * truncated row is detected by `kizuna audit --verify`, and the chain
 * cannot be recomputed without the node's key.
 *
 * The server records events in memory and a background thread writes them
 * in batches (AUDIT_FLUSH_MS), so reads do not wait for a disk write each;
 * a crash can lose at most that much of the log, never corrupt it.
 */
#ifndef KZ_AUDIT_H
#define KZ_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "stix/stix.h"
#include "store/store.h"

#define AUDIT_KEY_BYTES   32
#define AUDIT_FLUSH_MS    500
#define AUDIT_MAX_PENDING 65536 /* past this, recording waits for a flush */

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
};

struct audit_log;

/* Opens a log writing to the store at (backend, path) — the node's
 * audit_path, a database of its own — creating it when needed; with
 * background set, a thread flushes every AUDIT_FLUSH_MS. */
struct audit_log *audit_log_open(const char *backend, const char *path,
                                 const unsigned char key[AUDIT_KEY_BYTES], int background,
                                 struct kz_error *err);

/* Flushes what is pending and closes. Accepts NULL. */
void audit_log_close(struct audit_log *l);

/* Records an event (copied). Never fails: past AUDIT_MAX_PENDING it flushes
 * in the caller's thread first. */
void audit_record(struct audit_log *l, const struct audit_event *e);

/* Writes what is pending now. */
int audit_flush(struct audit_log *l, struct kz_error *err);

/* Checks the whole chain; on a break returns -1 with err naming the first
 * row at fault. *rows is the number of rows checked. */
int audit_verify(struct store *s, const unsigned char key[AUDIT_KEY_BYTES], int64_t *rows,
                 struct kz_error *err);

/* "clear=3 amber=1 unmarked=2" from counts indexed by enum stix_tlp. */
void audit_markings_text(const uint64_t *counts, char *out, size_t cap);

#endif
