/*
 * Tombstones: how a deletion travels (docs/FEDERATION.md). Deleting versions
 * of an object stores an `x-kizuna-tombstone` object naming them, carrying
 * the deleted object's creator, markings and recipients so that it reaches
 * exactly the readers the object reached; storing a tombstone received from
 * elsewhere deletes the versions it names from that collection.
 */
#ifndef KZ_TOMBSTONE_H
#define KZ_TOMBSTONE_H

#include <stddef.h>
#include <stdint.h>

#include "stix/stix.h"
#include "store/store_objects.h"
#include "util/buf.h"

#define TOMBSTONE_TYPE "x-kizuna-tombstone"

/* Writes the tombstone for versions of the object whose (latest) JSON text
 * is deleted[0..len): every version when nversions is 0, else the listed
 * version texts. */
int tombstone_build(const char *deleted, size_t len, const char *const *versions, size_t nversions,
                    struct kz_buf *out, struct kz_error *err);

/* Checks a tombstone names what it deletes properly (before storing it). */
int tombstone_check(const struct stix_obj *o, struct kz_error *err);

/* Deletes, inside the open transaction, the versions tombstone o names in
 * collection: of those, only the ones vis shows or that came from the peer
 * origin (0: none), or, with vis NULL, all of them (the node operator's
 * import). *deleted counts them. */
int tombstone_apply(struct store *s, int64_t collection, const struct stix_obj *o,
                    const struct store_visibility *vis, int64_t origin, uint64_t *deleted,
                    struct kz_error *err);

#endif
