/*
 * Exports for sensors and scripts: the active indicators a reader may see,
 * as files Zeek and Suricata load as they are (a Zeek Intelligence
 * Framework file, Suricata datasets and the rules that use them), and as
 * CSV and plain lists. Built on intel_each with bulk set, so TLP:RED never
 * leaves through an export, whoever asks.
 *
 * A sensor file can only say "this value was seen". Every equality
 * condition kzp_extract delivers is exported; one that does not prove the
 * pattern on its own (kzp_cond.exact is 0: one side of an AND, a
 * network-traffic reference, a qualifier) is marked partial where the
 * format has room for it and counted, so the operator knows a hit on it
 * needs a second look. Every value is normalised and
 * validated (match/ normalisers, IDNA A-labels for names) before it is
 * written, so a file never holds a value its sensor would reject or read
 * differently. Format decisions and their sources: docs/EXPORTS.md.
 */
#ifndef KZ_EXPORT_H
#define KZ_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "stix/stix.h"
#include "store/store.h"
#include "util/error.h"
#include "util/limits.h"

struct kz_out;
struct match_psl;

/* --- caps ----------------------------------------------------------------- */

/* Signature ids: the rules use [base, base + EXPORT_SID_SPAN). The default
 * base is the start of the range Snort and Suricata leave to local rules;
 * --sid-base moves it (https://sidallocation.org/ lists the taken ranges). */
#define EXPORT_SID_BASE_DEFAULT 1000000u
#define EXPORT_SID_BASE_MAX     4000000000u
#define EXPORT_SID_SPAN         1000000u

/* What one collection contributed to an export (the audit log records
 * one event per collection). */
struct export_coll_stats {
    uint64_t used;                       /* indicators with a value written */
    uint64_t markings[STIX_TLP_RED + 1]; /* those indicators by TLP */
};

/* --- formats and types ---------------------------------------------------- */

enum export_format {
    EXPORT_ZEEK_INTEL = 1, /* Zeek Intelligence Framework input file */
    EXPORT_SURICATA_DATASET,
    EXPORT_SURICATA_RULES,
    EXPORT_CSV,
    EXPORT_TXT,
};

/* --type: which values. IP covers addresses and CIDR blocks of both
 * families; HASH every digest; the single algorithms name one dataset. */
enum export_type {
    EXPORT_T_ALL = 0,
    EXPORT_T_IP,
    EXPORT_T_DOMAIN,
    EXPORT_T_URL,
    EXPORT_T_EMAIL,
    EXPORT_T_HASH,
    EXPORT_T_MD5,
    EXPORT_T_SHA1,
    EXPORT_T_SHA256,
    EXPORT_T_SHA512,
};

/* "zeek-intel", "suricata-dataset", "suricata-rules", "csv", "txt" and back;
 * parse returns -1 for anything else. */
int export_format_parse(const char *s, enum export_format *out);
const char *export_format_name(enum export_format f);

/* "ip", "domain", "url", "email", "hash", "md5", "sha1", "sha256",
 * "sha512" ("all" for EXPORT_T_ALL) and back. */
int export_type_parse(const char *s, enum export_type *out);
const char *export_type_name(enum export_type t);

/* The conventional file a Suricata dataset or hash list of this type is
 * written to and loaded from by the rules ("kizuna-domains.lst", ...);
 * NULL for a type that has no such file (url, email, sha512, hash, all). */
const char *export_dataset_file(enum export_type t);

/* Checks that a format can be written with a type, before any work:
 * suricata-dataset needs one of ip, domain, md5, sha1, sha256. Returns 0,
 * or -1 with err (KZ_EUSAGE) saying why and what to use instead. */
int export_check(enum export_format f, enum export_type t, struct kz_error *err);

/* --- the export ------------------------------------------------------------- */

struct export_opts {
    enum export_format format;
    enum export_type type;
    const char *const *collections; /* aliases or ids; NULL/0: every collection */
    size_t ncollections;            /* at most EXPORT_MAX_COLLECTIONS */
    /* NULL, or one per collection (collections given as TAXII ids) */
    struct export_coll_stats *coll_stats;
    const struct auth_user *as;  /* NULL: the node operator */
    const char *node_name;       /* meta.source, rule metadata */
    enum stix_tlp default_tlp;   /* for unmarked indicators */
    int64_t now_us;              /* the instant "active" is judged at */
    const struct match_psl *psl; /* borrowed; NULL: only single labels are public suffixes */
    uint32_t sid_base;           /* suricata-rules; 0: EXPORT_SID_BASE_DEFAULT */
    /* NULL, or told the number of indicators read so far, after each one
     * (the CLI's progress line; it must be cheap) */
    void (*progress)(void *ctx, uint64_t indicators_read);
    void *progress_ctx;
};

/* What an export did, for the summary line and the audit log. Counts of
 * values are counts of (indicator, condition) pairs before merging. */
struct export_stats {
    uint64_t indicators;                 /* active indicators read */
    uint64_t used;                       /* indicators with at least one value written */
    uint64_t lines;                      /* values (or rules) written */
    uint64_t merged;                     /* values that repeated one already written */
    uint64_t filtered;                   /* values of other types than --type */
    uint64_t partial;                    /* values written whose pattern needs more than
                                            the value (kzp_cond.exact 0) */
    uint64_t invalid;                    /* values a sensor would reject */
    uint64_t unsupported;                /* values the format cannot express (e.g. SSDEEP) */
    uint64_t inactive;                   /* revoked, expired, not yet valid */
    uint64_t other;                      /* pattern_type other than stix, or a broken pattern */
    uint64_t markings[STIX_TLP_RED + 1]; /* the used indicators by TLP */
    unsigned needs;                      /* suricata-rules: bit (1 << enum export_type) per
                                            dataset or list file the rules load */
};

/* Writes the export to out (not committed: the caller commits or aborts).
 * Fails with KZ_EUSAGE for a format/type pair export_check refuses,
 * KZ_ELIMIT past the caps above, or the store's and out's errors. */
int export_write(struct store *s, const struct export_opts *o, struct kz_out *out,
                 struct export_stats *st, struct kz_error *err);

#endif
