/*
 * The export module's own header: the in-memory set of values an export
 * gathers (export.c), the normalisers that turn a pattern condition into a
 * value a sensor accepts (value.c), the escapers of each file format
 * (escape.c), and one writer per format (zeek.c, suricata.c, text.c).
 *
 * Invariants the writers rely on: every value in the set is valid for the
 * format being written (checked when it was added); the set is sorted
 * (export.c, ex_sort) so equal (kind, value) pairs are adjacent, and within
 * them the indicators are in id order; indicators are in id order too, so
 * an index into inds is also a rank.
 */
#ifndef KZ_EXPORT_INT_H
#define KZ_EXPORT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "export/export.h"
#include "match/match.h"
#include "pattern/pattern.h"
#include "util/buf.h"

/* The longest value text an export handles (a URL is the longest kind). */
#define EX_MAX_VALUE MATCH_MAX_VALUE_BYTES

/* The write buffer is flushed to the output past this many bytes. */
#define EX_FLUSH_BYTES ((size_t)1 << 20)

/* --- the set ----------------------------------------------------------------- */

/* An indicator that gave at least one value. Strings are offsets into the
 * pool until ex_sort turns them into pointers. */
struct ex_ind {
    size_t id_off, name_off, coll_off;
    const char *id, *name, *coll;
    enum stix_tlp tlp;
    int64_t valid_from_us, valid_until_us;
    int used; /* set by a writer that wrote one of its values */
};

/* ex_val.flags */
#define EX_PUBLIC_SUFFIX 1u /* a domain that is a public suffix */
/* from a condition that does not prove its pattern alone (kzp_cond.exact 0) */
#define EX_PARTIAL 2u

struct ex_val {
    size_t off;    /* the value's text in the pool (NUL-terminated) */
    const char *v; /* set by ex_sort */
    uint32_t len;
    uint32_t ind; /* index into inds (after ex_sort: the indicator's rank) */
    uint8_t kind; /* enum match_kind */
    uint8_t flags;
};

struct ex_set {
    const struct export_opts *o;
    struct export_stats *st;
    struct kz_buf pool;
    struct ex_ind *inds;
    size_t ninds, capinds;
    struct ex_val *vals;
    size_t nvals, capvals;
};

/* --- values (value.c) ----------------------------------------------------------- */

enum ex_verdict {
    EX_OK = 0,
    EX_INVALID,     /* a value the sensor would reject, or the normalisers do */
    EX_UNSUPPORTED, /* valid, but the format has no way to say it */
};

/* The kind a condition's value is exported as (a /32 or /128 CIDR is an
 * address); -1 for a kind no export handles (KZP_COND_HASH: SSDEEP, TLSH). */
int ex_kind_of(const struct kzp_cond *c);

/* Whether kind belongs to the --type filter t. */
int ex_type_has(enum export_type t, enum match_kind kind);

/* Turns condition c (of kind `kind`, from ex_kind_of) into the text the
 * format writes, in out[0..cap) with a NUL; sets *len and, for domains,
 * EX_PUBLIC_SUFFIX in *flags. */
enum ex_verdict ex_value(const struct export_opts *o, const struct kzp_cond *c,
                         enum match_kind kind, char *out, size_t cap, size_t *len, unsigned *flags);

/* The parts of a normalised URL "scheme://[userinfo@]host[:port]rest";
 * offsets into the URL. port_len is 0 when there is none. 0 or -1. */
struct ex_url {
    size_t scheme_len;
    size_t host, host_len;
    size_t port, port_len;
    size_t rest, rest_len; /* path, query: "/..." */
};
int ex_url_split(const char *u, size_t n, struct ex_url *out);

/* --- escaping (escape.c) ------------------------------------------------------- */

/* A name made safe for one line of any format: valid UTF-8 (other bytes
 * become '?'), control characters (C0, DEL, C1, U+2028/2029) become
 * spaces, and past max bytes it is cut at a character boundary and ends in
 * "...". Appends to b. */
int ex_add_clean(struct kz_buf *b, const char *s, size_t n, size_t max);

/* One field of a Zeek input file: a tab-separated value the ASCII reader
 * gives back unchanged (it unescapes \xNN in strings): '\' is written
 * \x5c, a '#' that would start the line (a comment) \x23, and a field
 * that reads as unset ("-") or empty ("(empty)") has its first byte
 * escaped. s must already be clean (no tab, newline or control). */
int ex_add_zeek_field(struct kz_buf *b, const char *s, size_t n, int first);

/* The text of a Suricata msg: ';', '\' and '"' escaped with '\', as the
 * rule language requires. s must already be clean. */
int ex_add_rule_msg(struct kz_buf *b, const char *s, size_t n);

/* The text of a Suricata content:"..." pattern: printable ASCII as it is,
 * every other byte and '"', ';', '\', '|' as |XX| hex. */
int ex_add_rule_content(struct kz_buf *b, const char *s, size_t n);

/* One RFC 4180 field: quoted (with "" for ") when it holds a comma, a
 * quote or a control character (CR, LF, tab), or starts or ends with a
 * space. */
int ex_add_csv_field(struct kz_buf *b, const char *s, size_t n);

/* Standard base64 (RFC 4648 section 4, with padding). */
int ex_add_base64(struct kz_buf *b, const unsigned char *s, size_t n);

/* --- writing ------------------------------------------------------------------ */

struct ex_writer {
    struct kz_out *out;
    struct kz_buf buf;
};

/* Writes buf out when it holds EX_FLUSH_BYTES or more (force: always). */
int ex_flush(struct ex_writer *w, int force, struct kz_error *err);

/* The end of the run of values equal in (kind, value) that starts at i. */
size_t ex_group_end(const struct ex_set *x, size_t i);

/* After the line for values [i, j) of one group: marks their indicators
 * exported, counts the line and the values merged into it, and flushes
 * when the buffer is full. */
int ex_line_done(struct ex_set *x, struct ex_writer *w, size_t i, size_t j, struct kz_error *err);

int ex_write_zeek(struct ex_set *x, struct ex_writer *w, struct kz_error *err);
int ex_write_dataset(struct ex_set *x, struct ex_writer *w, struct kz_error *err);
int ex_write_rules(struct ex_set *x, struct ex_writer *w, struct kz_error *err);
int ex_write_csv(struct ex_set *x, struct ex_writer *w, struct kz_error *err);
int ex_write_txt(struct ex_set *x, struct ex_writer *w, struct kz_error *err);

/* "clear", "green", "amber", "amber+strict", "red" ("amber" for none). */
const char *ex_tlp_word(enum stix_tlp t);

#endif
