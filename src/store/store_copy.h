/*
 * Copying a whole store into another, of the same backend or another
 * (`kizuna store migrate --to`): SQLite into PostgreSQL when a node
 * outgrows one machine, and back. Everything the node holds goes across
 * as it is (keys, dates added, tokens' hashes, the audit chain), so that
 * clients' cursors, grants and the chain's verification stay valid; what
 * the destination derives (indexes) it builds itself. The copy is
 * verified (rows per table, and per collection the count and a hash of
 * its versions in date-added order) and resumable: run again after an
 * interruption, it goes on where it stopped.
 */
#ifndef KZ_STORE_COPY_H
#define KZ_STORE_COPY_H

#include <stdint.h>

#include "store/store.h"
#include "util/limits.h"

/* The two ends: each a whole store and its audit log (the same store when
 * the backend keeps the audit log inside it). */
struct store_copy_end {
    struct store *store;
    struct store *audit;
};

/* What a copy did, for the operator. */
struct store_copy_report {
    int resumed;                           /* the destination held part of this copy already */
    uint64_t rows;                         /* rows written by this run (all tables) */
    uint64_t objects;                      /* object versions in the destination after the copy */
    unsigned collections;                  /* collections verified */
    char last_collection[KZ_MAX_NAME + 1]; /* the alias of the last collection verified */
};

/* Called with a line of progress ("objects of intel: 120000 rows"). */
typedef void (*store_copy_note_fn)(void *ctx, const char *line);

/* Copies from into to and verifies the result. to must be empty or hold an
 * interrupted copy of the same store (a marker says which); anything else
 * is refused with KZ_EEXISTS and nothing is written. The source is read
 * inside one transaction, so the copy is one consistent snapshot of it;
 * servers writing to it meanwhile are not copied (stop them first). */
int store_copy(const struct store_copy_end *from, const struct store_copy_end *to,
               store_copy_note_fn note, void *ctx, struct store_copy_report *report,
               struct kz_error *err);

#endif
