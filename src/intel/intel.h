/*
 * The active indicators a reader may see, for the paths that act on them
 * (`kizuna match`, sensor exports): latest versions, not revoked, with
 * pattern_type "stix", inside their valid_from/valid_until window, in the
 * collections asked for, through policy/ (so TLP:RED never reaches a bulk
 * path). Each comes with its parsed pattern.
 */
#ifndef KZ_INTEL_H
#define KZ_INTEL_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "pattern/pattern.h"
#include "stix/stix.h"
#include "store/store.h"

struct intel_indicator {
    const char *id;
    const char *name;  /* "" when it has none */
    enum stix_tlp tlp; /* the effective TLP (node default for unmarked) */
    const char *raw;   /* the indicator's JSON text */
    size_t rawlen;
    const struct kzp_pattern *pattern;
    const char *collection_id; /* the TAXII id of the collection it is in */
    int64_t collection_key;    /* ... and its key in the store */
    int64_t added;             /* its row: the date it was added to that collection */
    int64_t valid_from_us;
    int64_t valid_until_us; /* 0: open-ended */
};

/* Called per indicator; the pointers live until the call returns. */
typedef int (*intel_fn)(void *ctx, const struct intel_indicator *ind, struct kz_error *err);

struct intel_opts {
    const char *const *collections; /* aliases or ids; NULL/0: every collection */
    size_t ncollections;
    const struct auth_user *as; /* NULL: the node operator */
    int bulk;                   /* exports: never TLP:RED */
    int64_t now_us;             /* the instant "active" is judged at */
    enum stix_tlp default_tlp;
    const char *node_name;
};

struct intel_counts {
    uint64_t indicators; /* passed to fn */
    uint64_t inactive;   /* revoked, expired or not yet valid */
    uint64_t other;      /* pattern_type other than stix */
    uint64_t broken;     /* a pattern that does not parse */
};

int intel_each(struct store *s, const struct intel_opts *o, intel_fn fn, void *ctx,
               struct intel_counts *counts, struct kz_error *err);

#endif
