/*
 * What `kizuna match --report` needs to report each hit once, however often
 * it runs over the same logs: a sighting's id derived from what it is about
 * (indicator, observed value, reporting organisation), an accumulator of
 * occurrences per sighting, and the ledger of log files already reported:
 * for each file, how far it was read (bytes, lines) and when, recognised by
 * fingerprints of its bytes rather than by its name, so that a rotated file
 * is still the one seen and a file that grew is read on from where it
 * stopped. The rules are in docs/internals/match.md ("Sightings").
 */
#ifndef KZ_INTEL_SIGHTING_H
#define KZ_INTEL_SIGHTING_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/uuid.h"

/* The id ("sighting--<uuid>") of the sighting of indicator_id seen as
 * value[0..n) by the organisation reporter (its identity; "" for none): a
 * UUIDv5, so every run derives the same one. */
#define INTEL_SIGHTING_ID_LEN (10 + KZ_UUID_LEN)
int intel_sighting_id(const char *indicator_id, const char *value, size_t n, const char *reporter,
                      char out[INTEL_SIGHTING_ID_LEN]);

/* --- occurrences ------------------------------------------------------------ */

/* "No time" for first/last seen (a line without a time of its own). */
#define INTEL_NO_TIME INT64_MIN

struct intel_sighting_acc;

/* One sighting's occurrences: owner is the caller's number for the
 * indicator; times are µs since the epoch or INTEL_NO_TIME. */
struct intel_sighting_obs {
    uint32_t owner;
    const char *value;
    size_t value_len;
    uint64_t count;
    int64_t first_us, last_us;
};

struct intel_sighting_acc *intel_sighting_acc_new(void);
void intel_sighting_acc_free(struct intel_sighting_acc *a);

/* Adds one occurrence, pending until intel_sighting_acc_commit (the file it
 * came from was read whole) or dropped by intel_sighting_acc_discard.
 * KZ_ELIMIT past MATCH_MAX_SIGHTINGS distinct sightings, KZ_ENOMEM. */
int intel_sighting_acc_add(struct intel_sighting_acc *a, uint32_t owner, const char *value,
                           size_t n, int64_t time_us, struct kz_error *err);
void intel_sighting_acc_commit(struct intel_sighting_acc *a);
/* The same for the pending occurrences of the indicators keep() accepts;
 * the others are dropped. */
void intel_sighting_acc_commit_if(struct intel_sighting_acc *a,
                                  int (*keep)(void *ctx, uint32_t owner), void *ctx);
void intel_sighting_acc_discard(struct intel_sighting_acc *a);

/* The committed sightings with at least one occurrence, in the order first
 * seen; fn returns 0 to go on or -1 to stop (the result then). */
typedef int (*intel_sighting_fn)(void *ctx, const struct intel_sighting_obs *o,
                                 struct kz_error *err);
int intel_sighting_acc_each(const struct intel_sighting_acc *a, intel_sighting_fn fn, void *ctx,
                            struct kz_error *err);

/* --- the ledger of files read ---------------------------------------------- */

/* A file read: the print of its content as logread_print gives it (the
 * SHA-1 of the first and of the last bytes read), and how much was read. */
struct intel_ledger_entry {
    uint8_t head[20];
    uint8_t tail[20];
    uint64_t len;    /* content bytes read */
    uint64_t lines;  /* lines they held */
    int64_t read_us; /* when: indicators first stored later were not looked for */
};

struct intel_ledger;

/* Parses a ledger as intel_ledger_text wrote it; NULL text (none stored
 * yet) gives an empty one. A malformed ledger is KZ_EINVALID. */
struct intel_ledger *intel_ledger_parse(const char *text, size_t n, struct kz_error *err);
void intel_ledger_free(struct intel_ledger *l);

size_t intel_ledger_count(const struct intel_ledger *l);
const struct intel_ledger_entry *intel_ledger_at(const struct intel_ledger *l, size_t i);

/* Records e, replacing the entry `replaces` (an index, or -1 for none);
 * past MATCH_MAX_LEDGER_ENTRIES the entry read longest ago goes. */
int intel_ledger_put(struct intel_ledger *l, const struct intel_ledger_entry *e, long replaces,
                     struct kz_error *err);

/* The ledger as text (malloc'd; the caller frees), one entry a line. */
char *intel_ledger_text(const struct intel_ledger *l, size_t *n, struct kz_error *err);

#endif
