/*
 * The store's objects: the API roots and collections that hold them, and
 * the STIX object versions themselves (put, list under a filter and a
 * visibility, delete, owner, count). How a backend finds an id's versions
 * fast (SQLite's separate id index) is its own business: nothing of it
 * shows here.
 */
#ifndef KZ_STORE_OBJECTS_H
#define KZ_STORE_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "stix/stix.h"
#include "util/limits.h"
#include "util/uuid.h"

/* --- API roots ------------------------------------------------------------ */

struct store_api_root {
    char name[KZ_MAX_NAME + 1]; /* the URL path segment, e.g. "default" */
    char title[KZ_MAX_TEXT + 1];
    char description[KZ_MAX_TEXT + 1];
    uint64_t max_content_length; /* bytes a POST may carry */
};

int store_api_root_add(struct store *s, const struct store_api_root *r, struct kz_error *err);
int store_api_root_find(struct store *s, const char *name, struct store_api_root *out,
                        struct kz_error *err);
typedef int (*store_api_root_fn)(void *ctx, const struct store_api_root *r);
int store_api_root_each(struct store *s, store_api_root_fn fn, void *ctx, struct kz_error *err);

/* --- collections -------------------------------------------------------- */

struct store_collection {
    int64_t key;                 /* the backend's key; stable for the store's life */
    char id[KZ_UUID_LEN];        /* the TAXII collection id */
    char alias[KZ_MAX_NAME + 1]; /* the name given at creation */
    char api_root[KZ_MAX_NAME + 1];
    char title[KZ_MAX_TEXT + 1];
    char description[KZ_MAX_TEXT + 1];
    int64_t created_us;
};

/* Creates a collection; fills c->key, c->id (when empty) and created_us.
 * KZ_EEXISTS when the alias is taken in that API root. */
int store_collection_add(struct store *s, struct store_collection *c, struct kz_error *err);

/* Finds a collection by id or alias within api_root (NULL: any). */
int store_collection_find(struct store *s, const char *api_root, const char *id_or_alias,
                          struct store_collection *out, struct kz_error *err);

typedef int (*store_collection_fn)(void *ctx, const struct store_collection *c);

/* Calls fn for each collection of api_root (NULL: all), ordered by alias. */
int store_collection_each(struct store *s, const char *api_root, store_collection_fn fn, void *ctx,
                          struct kz_error *err);

/* Changes a collection's title and description (c->key names it). */
int store_collection_update(struct store *s, const struct store_collection *c,
                            struct kz_error *err);

/* --- objects ------------------------------------------------------------ */

/* What policy/ needs to know about a stored object beyond its JSON: the
 * organisation that produced it (whose identity is its created_by_ref, else
 * the one that submitted it; 0 when unknown) and the recipients it names
 * (kizuna's recipients extension) resolved to local accounts. */
struct store_put_meta {
    int64_t producer;
    int64_t origin;    /* the peer it came from, 0 when local */
    int64_t submitter; /* the organisation of the account that POSTed it, 0: none (import,
                          pulled) */
    const int64_t *users;
    unsigned nusers;
    const int64_t *orgs;
    unsigned norgs;
    const int64_t *peers; /* nodes hosting a named user ("user@node"), policy_node_key */
    unsigned npeers;
};

enum store_put_result {
    STORE_ADDED = 1,
    STORE_DUPLICATE, /* the same version with the same content was there */
};

/* Stores one object version in a collection inside an open transaction.
 * raw is the object's JSON text as it will be served. On success sets
 * *result and *added (the date added, µs; that of the stored copy for a
 * duplicate). A different object with the same id and version is refused
 * with KZ_ECONFLICT. */
int store_put(struct store *s, int64_t collection, const struct stix_obj *o, const char *raw,
              size_t rawlen, const struct store_put_meta *rcpt, enum store_put_result *result,
              int64_t *added, struct kz_error *err);

/* One object of a store_put_many: what store_put takes, and what it gives
 * back. */
struct store_put_item {
    const struct stix_obj *o;
    const char *raw;
    size_t rawlen;
    const struct store_put_meta *meta; /* may be NULL */
    enum store_put_result result;      /* set when stored (added or duplicate) */
    int64_t added;
    int refused; /* the store refused this one (KZ_ECONFLICT, KZ_EINVALID): why says so */
    struct kz_error why;
};

/* Stores items[0..n) in a collection, in order, inside an open transaction:
 * what n calls of store_put would do, in one statement on a database
 * server instead of n. The ids must be distinct (a caller splits a batch
 * where an id repeats: a version's first and latest flags depend on the
 * versions stored before it), n at most STORE_PUT_BATCH. An item the store
 * refuses, as store_put would with KZ_ECONFLICT or KZ_EINVALID, is marked
 * refused with why set and the others are stored; -1 only for a failure
 * that ends the transaction (err set). */
int store_put_many(struct store *s, int64_t collection, struct store_put_item *items, unsigned n,
                   struct kz_error *err);

/* Which versions a listing returns (TAXII match[version]); values OR. */
#define STORE_V_LAST  1
#define STORE_V_FIRST 2
#define STORE_V_ALL   4

/* Object-level visibility, decided by policy/ and applied by the backend
 * inside the query (so a page of visible objects never reads the invisible
 * ones, and nothing invisible can show up in a count or a cursor). */
struct store_visibility {
    int active;               /* 0: every object, which a listing accepts only with everything */
    int everything;           /* the caller (operator, internal path) asks for every object */
    int max_level;            /* effective TLP at or below which objects are visible */
    int default_tlp;          /* the effective TLP of objects without a TLP marking */
    int exclude_red;          /* bulk paths: TLP:RED never, whoever asks */
    const char *org_identity; /* objects created_by this identity are visible */
    int64_t user;             /* recipients naming this user see AMBER..RED objects */
    int64_t org;              /* its producer, and recipients naming it, see objects */
    int64_t peer;             /* policy_node_key of a partner node: it sees what names its users */
    int check_refs;           /* relationships and sightings need visible targets, except
                                 (outside bulk paths) those org produced or submitted */
};

struct store_filter {
    int64_t collection;
    int64_t added_after; /* µs; objects added strictly after; -1 for none */
    unsigned versions;   /* STORE_V_*; 0 means STORE_V_LAST unless times given */
    const char *ids[STORE_MAX_FILTER_VALUES];
    unsigned nids;
    const char *types[STORE_MAX_FILTER_VALUES];
    unsigned ntypes;
    const char *spec_versions[STORE_MAX_FILTER_VALUES];
    unsigned nspec_versions;
    int64_t version_times[STORE_MAX_FILTER_VALUES]; /* exact versions, µs */
    unsigned nversion_times;
    uint64_t limit;           /* rows to return; 0 means no limit */
    int64_t exclude_origin;   /* leave out objects received from this peer (0: none) */
    const char *exclude_type; /* leave out objects of this type (NULL: none) */
    struct store_visibility vis;
    int64_t own_origin; /* store_delete with vis: rows received from this peer go too */
};

/* Initialises a filter for collection with no conditions. Its visibility is
 * unset, and store_list refuses it until either policy_filter puts a
 * reader's view on it or store_filter_everything says that the caller (the
 * node operator, or an internal path that acts on exact rows) wants every
 * object: forgetting the policy fails closed, not open. */
void store_filter_init(struct store_filter *f, int64_t collection);
void store_filter_everything(struct store_filter *f);

/* One row of a listing. Pointers stay valid only during the callback. */
struct store_row {
    int64_t added; /* date added, µs */
    const char *id;
    const char *type;
    const char *version; /* the version's text as the object states it, or a
                            server-assigned TAXII timestamp */
    int64_t version_us;
    const char *spec_version;
    int tlp; /* enum stix_tlp */
    const char *created_by;
    const char *raw;
    size_t rawlen;
};

typedef int (*store_row_fn)(void *ctx, const struct store_row *r, struct kz_error *err);

struct store_page {
    uint64_t count; /* rows passed to fn */
    int more;       /* rows beyond the limit exist */
    int64_t first_added;
    int64_t last_added;
};

/* Lists the rows matching f in date-added order, calling fn for each (fn may
 * be NULL to only count). want_raw = 0 skips reading object text, for
 * manifests. */
int store_list(struct store *s, const struct store_filter *f, int want_raw, store_row_fn fn,
               void *ctx, struct store_page *page, struct kz_error *err);

/* Deletes the versions of id in a collection that f selects (its versions,
 * version_times and spec_versions; with vis active, only the rows it shows
 * or that came from own_origin; ids, types and added_after are ignored),
 * inside an open transaction. Sets *deleted to the number of versions
 * removed. (Federation learns of deletions from tombstone objects, which
 * the caller stores: see sync/.) */
int store_delete(struct store *s, int64_t collection, const char *id, const struct store_filter *f,
                 uint64_t *deleted, struct kz_error *err);

/* Who owns an object a collection holds: the creator (created_by_ref, ""
 * for none) and producer of its oldest stored version, and whether the
 * version version_us (0: not asked) is stored. exists = 0 when the
 * collection holds no version of id. */
struct store_owner {
    int exists;
    int has_version;
    char created_by[KZ_MAX_STIX_ID + 1];
    int64_t producer;
};
int store_object_owner(struct store *s, int64_t collection, const char *id, int64_t version_us,
                       struct store_owner *out, struct kz_error *err);

/* store_object_owner for ids[0..n) at once (n at most STORE_PUT_BATCH; ids
 * may repeat), into out[0..n): one statement on a database server. */
int store_object_owners(struct store *s, int64_t collection, unsigned n, const char *const *ids,
                        const int64_t *version_us, struct store_owner *out, struct kz_error *err);

/* Number of object versions in a collection (all versions). */
int store_count(struct store *s, int64_t collection, uint64_t *count, struct kz_error *err);

#endif
