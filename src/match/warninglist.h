/*
 * MISP warninglists: lists of well-known values (public resolvers, top
 * sites, cloud ranges, empty-file hashes) whose hits are false positives.
 * A set holds any number of lists in MISP's own list.json format
 * ({name, version, description, type, matching_attributes, list}) and says
 * which list, if any, covers a value, with MISP's semantics per list type:
 *   string     exact match (on the normalised value; case-insensitively for
 *              domains, addresses and hashes)
 *   substring  the value contains an entry
 *   hostname   the host (of a domain, URL or e-mail) is an entry or a
 *              subdomain of one (entries lowercased, dots trimmed)
 *   cidr       the address lies in an entry (CIDR block or single address)
 *   regex      a PCRE2 match of an entry written PHP-style, "/re/flags"
 * A list applies to a value only when its matching_attributes name a MISP
 * attribute type of the value's kind (ip-src, domain, url, md5, ...) or
 * are empty. Storage is the caller's: lists come from files or from the
 * JSON text the caller kept (warninglist_set_serialize gives it back).
 */
#ifndef KZ_WARNINGLIST_H
#define KZ_WARNINGLIST_H

#include <stddef.h>
#include <stdint.h>

#include "match/match.h"
#include "util/buf.h"
#include "util/error.h"

struct warninglist_set;

/* A new empty set; NULL (KZ_ENOMEM) on failure. */
struct warninglist_set *warninglist_set_new(struct kz_error *err);

/* Frees the set. Accepts NULL. */
void warninglist_set_free(struct warninglist_set *s);

/* Adds one list from its JSON text (a MISP list.json). Entries may be an
 * array of strings or an object {value: comment}. The text is copied.
 * KZ_EINVALID names the property at fault (a missing "name", an unknown
 * "type", a CIDR or regex entry that does not parse); KZ_EEXISTS when a
 * list of that name is already in the set. */
int warninglist_set_add_json(struct warninglist_set *s, const char *json, size_t n,
                             struct kz_error *err);

/* Adds lists from a path: a list.json file, a directory holding *.json
 * files, or a directory of list directories (MISP's lists/<name>/list.json
 * layout). Files are taken in name order. */
int warninglist_set_load_path(struct warninglist_set *s, const char *path, struct kz_error *err);

/* Adds lists from a blob written by warninglist_set_serialize (a JSON array
 * of lists) or a single list object. */
int warninglist_set_load_blob(struct warninglist_set *s, const char *blob, size_t n,
                              struct kz_error *err);

/* Appends the set as a JSON array of MISP list objects to out (the blob to
 * store; loading it back gives an equal set). */
int warninglist_set_serialize(const struct warninglist_set *s, struct kz_buf *out,
                              struct kz_error *err);

/* Builds the matchers. No list can be added after; checks need it. */
int warninglist_set_finish(struct warninglist_set *s, struct kz_error *err);

/* What `kizuna warninglist list` shows about one list. Strings are owned by
 * the set. */
struct warninglist_info {
    const char *name;
    const char *description;
    const char *type; /* "string", "substring", "hostname", "cidr", "regex" */
    int64_t version;
    size_t entries;
    const char *const *matching_attributes;
    size_t nattributes;
};

/* Number of lists, and the i-th one in load order (0 <= i < count). */
size_t warninglist_count(const struct warninglist_set *s);
int warninglist_get(const struct warninglist_set *s, size_t i, struct warninglist_info *out);

/* The k-th entry (0 <= k < info.entries) of list i as loaded, or NULL when
 * out of range. Owned by the set. */
const char *warninglist_entry(const struct warninglist_set *s, size_t i, size_t k);

/* The list that covers a value of the given kind, or NULL. value is the
 * value as seen, norm its normalised form (match_normalise); norm may be the
 * same as value. The first list in load order that covers it wins; thread-
 * safe on a finished set. */
const struct warninglist_info *warninglist_check(const struct warninglist_set *s,
                                                 enum match_kind kind, const char *value,
                                                 size_t value_len, const char *norm,
                                                 size_t norm_len);

#endif
