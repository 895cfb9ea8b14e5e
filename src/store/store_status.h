/*
 * The store's TAXII status resources: the answer to a POST of objects,
 * kept as its JSON text for the client to fetch later, and purged when old.
 */
#ifndef KZ_STORE_STATUS_H
#define KZ_STORE_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* TAXII status resources, kept as their JSON text. */
int store_status_put(struct store *s, const char *id, const char *api_root, int64_t user,
                     int64_t created_us, const char *json, size_t len, struct kz_error *err);
/* Reads one: *json is malloc'd (caller frees). KZ_ENOTFOUND when absent. */
int store_status_get(struct store *s, const char *id, char *api_root, size_t api_root_cap,
                     int64_t *user, char **json, size_t *len, struct kz_error *err);
/* Removes status resources created before `before_us`. */
int store_status_purge(struct store *s, int64_t before_us, struct kz_error *err);

#endif
