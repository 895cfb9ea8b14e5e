/*
 * Named blobs in the store: whole documents kept under a name and replaced
 * whole (e.g. the imported warninglists).
 */
#ifndef KZ_STORE_BLOBS_H
#define KZ_STORE_BLOBS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Stores data under name, replacing what was there. */
int store_blob_put(struct store *s, const char *name, const void *data, size_t len,
                   struct kz_error *err);
/* Reads the blob called name into *data (malloc'd; the caller frees);
 * KZ_ENOTFOUND when there is none. */
int store_blob_get(struct store *s, const char *name, char **data, size_t *len,
                   struct kz_error *err);

#endif
