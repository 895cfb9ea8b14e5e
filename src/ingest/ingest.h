/*
 * Ingest: taking a bundle or envelope from outside (a file, a TAXII POST, a
 * peer's page) into a collection. Each object is read, validated and stored
 * inside one store transaction, and its outcome reported: added, duplicate
 * (the same version was there) or rejected with the reason. Valid objects
 * land together or, with strict set, nothing lands when any is invalid. A
 * broken container (bad JSON, not a bundle) lands nothing.
 */
#ifndef KZ_INGEST_H
#define KZ_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "stix/stix.h"
#include "store/store_objects.h"

enum ingest_outcome {
    INGEST_ADDED = 1,
    INGEST_DUPLICATE,
    INGEST_REJECTED,
};

/* One object's outcome. why is set for rejections (file, object, property
 * and rule); id and version are "" when the object had none. */
struct ingest_report {
    size_t index;
    const char *id;
    const char *version;
    enum ingest_outcome outcome;
    int64_t added; /* date added (µs) for added and duplicate objects */
    const struct kz_error *why;
    /* an invalid object's other errors, after the one in why: lines of
     * "property\trule\n"; NULL when there are none */
    const char *more_errors;
};

typedef void (*ingest_report_fn)(void *ctx, const struct ingest_report *r);

/* A write-policy hook: return 0 to allow storing o, -1 with why set to
 * refuse it (it is then rejected, like an invalid object). */
typedef int (*ingest_allow_fn)(void *ctx, const struct stix_obj *o, struct kz_error *why);

/* Called with a batch of valid objects (at most STORE_PUT_BATCH) before
 * allow is called for each of them in order: lets allow find what it needs
 * from the store (the owners of the ids) fetched in one call. What it
 * fetched holds for the batch: the objects of a batch are stored after
 * allow has been called for all of them, and their ids are distinct. */
typedef int (*ingest_prefetch_fn)(void *ctx, const struct stix_obj *const *objs, unsigned n,
                                  struct kz_error *err);

/* Fills what the store records beside an object (its producer and the
 * recipients it names); may be NULL (nothing recorded). */
typedef int (*ingest_meta_fn)(void *ctx, const struct stix_obj *o, struct store_put_meta *meta,
                              struct kz_error *why);

/* Called after the last object, before the commit: what it writes commits
 * with the objects (a pulled page and its checkpoint), or -1 to roll all
 * back. */
typedef int (*ingest_commit_fn)(void *ctx, const struct stix_container *info, struct kz_error *err);

struct ingest_opts {
    int strict;              /* any rejection rejects the whole input */
    const char *name;        /* the input's name for messages, e.g. a file */
    ingest_report_fn report; /* may be NULL */
    void *report_ctx;
    ingest_allow_fn allow; /* may be NULL */
    void *allow_ctx;
    ingest_prefetch_fn prefetch; /* may be NULL; */
    void *prefetch_ctx;
    ingest_meta_fn meta; /* may be NULL */
    void *meta_ctx;
    ingest_commit_fn before_commit; /* may be NULL */
    void *commit_ctx;
    int step;      /* the caller holds a transaction: the input is one step of it
                      (store_step_begin), released instead of committed */
    int stix_file; /* a file given by a user: not STIX 2.1 at all is an error
                      (stix_container_check), not an empty success */
    /* what a stored tombstone deletes of the versions it names: those
     * delete_vis shows or that came from the peer delete_origin; with
     * delete_any, all (the node operator's import); neither: none */
    const struct store_visibility *delete_vis;
    int64_t delete_origin;
    int delete_any;
};

struct ingest_counts {
    size_t added;
    size_t duplicates;
    size_t rejected;
    int rolled_back; /* strict mode threw the valid objects away */
};

/* Ingests buf[0..len) into collection. Returns 0 when the input was read
 * (objects may still have been rejected: see counts), -1 when it could not
 * be read or stored (err set; nothing landed). */
int ingest_buffer(struct store *s, int64_t collection, const char *buf, size_t len,
                  const struct ingest_opts *opts, struct ingest_counts *counts,
                  struct kz_error *err);

/* Fills err (with file, object and property) from the first error finding
 * of an object; used by ingest and by `kizuna validate`. */
void ingest_finding_error(const struct stix_obj *o, const char *file, size_t index,
                          const struct stix_finding *f, struct kz_error *err);

#endif
