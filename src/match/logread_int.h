/*
 * Internal header of the log readers: the per-format parser table, the
 * state a format carries from line to line (only Zeek TSV has any: its
 * header), the scratch space for decoding values, and the block source the
 * scanner pulls from. Nothing outside src/match/ (and its tests and fuzz
 * harnesses) includes it.
 */
#ifndef KZ_LOGREAD_INT_H
#define KZ_LOGREAD_INT_H

#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

#include "match/logread.h"
#include "util/limits.h"
#include "util/error.h"

/* The kinds of time text a line may carry (logtime.c). */
enum lr_tkind {
    LR_T_NONE = 0,
    LR_T_ISO,          /* ISO 8601 / RFC 3339, with or without a zone */
    LR_T_EPOCH,        /* Unix seconds with a fraction (or ms/us/ns by digits) */
    LR_T_ISO_OR_EPOCH, /* either, as JSON logs and Zeek write them */
    LR_T_CLF,          /* "10/Oct/2000:13:55:36 -0700" */
    LR_T_BSD,          /* RFC 3164 "Dec  7 19:58:32": no year, no zone */
};

/* Where a line's time is, as its parser saw it: the text is only parsed
 * (lr_time_parse) when the line has a hit. p stays valid until the next
 * line (it points into the line or the scratch). */
struct lr_time {
    const char *p;
    size_t n;
    enum lr_tkind kind;
};

/* The instant of the time text p[0..n) of the given kind, in microseconds
 * since the epoch. ref_us is the reference: the year of an RFC 3164 time is
 * the one that puts it not after ref_us, and a time more than a day after
 * ref_us, or before 1970, is refused. Returns 0, or -1 for text that is no
 * valid time (never an error: log lines are untrusted). */
int lr_time_parse(enum lr_tkind kind, const char *p, size_t n, int64_t ref_us, int64_t *us);

/* Where a format's parser sends fields, and where the line's time is
 * (time may be NULL: nobody wants it). */
struct lr_sink {
    void (*field)(void *ctx, const char *name, size_t name_len, const char *value, size_t value_len,
                  enum logread_hint hint);
    void *ctx;
    struct lr_time *time;
};

static inline void lr_emit(const struct lr_sink *s, const char *name, size_t nlen, const char *v,
                           size_t vn, enum logread_hint hint)
{
    s->field(s->ctx, name, nlen, v, vn, hint);
}

/* Notes where the line's time is; the first one a line gives counts. */
static inline void lr_mark_time(const struct lr_sink *s, enum lr_tkind kind, const char *p,
                                size_t n)
{
    if (s->time && s->time->kind == LR_T_NONE) {
        s->time->p = p;
        s->time->n = n;
        s->time->kind = kind;
    }
}

/* Scratch for decoded values of one line. Decoding never grows a value: a
 * format's decoding (JSON, Zeek, CLF escapes), the percent-decoded copies
 * and a synthesized URL each take at most one line, hence three lines plus
 * room for names. A full scratch skips a value, never overflows. Reset at
 * each line; pointers stay valid until then. */
#define LR_SCRATCH_BYTES (3 * MATCH_MAX_LINE + 65536)
struct lr_scratch {
    char *buf;
    size_t used;
};
int lr_scratch_init(struct lr_scratch *sc);
void lr_scratch_free(struct lr_scratch *sc);
static inline char *lr_scratch_get(struct lr_scratch *sc, size_t n)
{
    char *p;

    if (n > LR_SCRATCH_BYTES - sc->used)
        return NULL;
    p = sc->buf + sc->used;
    sc->used += n;
    return p;
}

/* Zeek TSV column types, as far as matching cares. */
enum lr_ztype { LR_Z_TEXT = 0, LR_Z_ADDR, LR_Z_SKIP };

/* The Zeek TSV header in force: a flat struct, copied between threads. */
struct lr_zeek {
    char sep, setsep;
    uint8_t empty_len, unset_len;
    char empty[32], unset[32];
    uint32_t nfields;
    uint16_t name_off[MATCH_MAX_ZEEK_FIELDS];
    uint16_t name_len[MATCH_MAX_ZEEK_FIELDS];
    uint8_t type[MATCH_MAX_ZEEK_FIELDS];
    int32_t host_col, uri_col; /* -1 when absent */
    int32_t ts_col;            /* the "ts" column, -1 when absent */
    uint32_t names_len;
    char names[MATCH_MAX_ZEEK_HEADER];
};

/* What a format carries from line to line. fp fingerprints it (0 for the
 * stateless formats): a block scanned under an assumed state is rescanned
 * when the state really in force at its start has another fingerprint. */
struct lr_state {
    enum logread_format fmt;
    uint64_t fp;
    struct lr_zeek zeek;
};

void lr_state_init(struct lr_state *st, enum logread_format fmt);

/* One format. line() parses line[0..n) (no newline, no trailing CR) and
 * sends its fields to sink. It returns 0 when parsed, 1 for a header or
 * comment line, and -1 when the line is malformed: fields may already have
 * been sent for line[0..*resume), and the caller scans the rest as text.
 * detect() says whether a sample line looks like this format. time(), when
 * the format has one, finds the line's time on its own (line() then never
 * looks for it); otherwise line() notes it in a sink that asks. */
struct lr_format {
    const char *name;
    int (*line)(struct lr_state *st, struct lr_scratch *sc, const char *line, size_t n,
                const struct lr_sink *sink, size_t *resume);
    int (*detect)(const char *line, size_t n);
    int (*time)(const struct lr_state *st, const char *line, size_t n, struct lr_scratch *sc,
                struct lr_time *t);
};

extern const struct lr_format lr_zeek_format;
extern const struct lr_format lr_zeek_json_format;
extern const struct lr_format lr_clf_format;
extern const struct lr_format lr_jsonl_format;
extern const struct lr_format lr_syslog_format;
extern const struct lr_format lr_text_format;

/* The parser of a (non-AUTO) format. */
const struct lr_format *lr_format_of(enum logread_format f);

/* Detects the format of a sample (the first bytes of an input). */
enum logread_format lr_detect(const char *buf, size_t n);

/* Helpers the parsers share. */
/* Decodes JSON string body p[0..n) (between quotes) into out (>= n bytes);
 * returns the decoded length or -1 on a bad escape. \u0000 becomes a space
 * (a C string cannot carry it and no indicator holds it). */
long lr_json_unescape(const char *p, size_t n, char *out);
/* Decodes Zeek's \xHH escapes of p[0..n) into out (>= n bytes). */
size_t lr_zeek_unescape(const char *p, size_t n, char *out);
/* The synthesized "http://host/uri" URL of an HTTP log line into the
 * scratch, or NULL when the parts do not make one. */
const char *lr_http_url(struct lr_scratch *sc, const char *host, size_t hn, const char *uri,
                        size_t un, size_t *len);

/* The JSON field scanner both JSON formats use; zeek selects Zeek's host +
 * uri URL synthesis. The reference variant parses with the project's
 * strict JSON tape (json.h): used by tests and fuzzing to cross-check. */
int lr_json_line(struct lr_state *st, struct lr_scratch *sc, const char *line, size_t n,
                 const struct lr_sink *sink, size_t *resume, int zeek);
int lr_json_line_ref(struct lr_scratch *sc, const char *line, size_t n, const struct lr_sink *sink);
/* Where a JSON line's time is: the first top-level "timestamp", "@timestamp",
 * "ts" or "time" holding a string or a literal. 0 when found, else -1. */
int lr_json_time(const struct lr_state *st, const char *line, size_t n, struct lr_scratch *sc,
                 struct lr_time *t);

/* --- the block source --------------------------------------------------- */

/* A run of lines handed to a scan thread. A mapped input is cut into raw
 * byte ranges without reading it; the scan thread then aligns its range to
 * lines with lr_block_align (its lines are those that start inside the
 * range), so the cutting thread never touches the data. */
struct lr_block {
    const char *data; /* the lines, once aligned */
    size_t len;
    int cont_start;   /* begins in the middle of a line (streams only) */
    int cont_end;     /* ends in the middle of a line, not at end of input */
    int raw;          /* data/len not yet set: align first */
    const char *base; /* raw: the whole mapped input */
    size_t total, raw_start, raw_end;
    int file_map; /* data lies in a read-only file mapping (may be dropped) */
};

/* Whether blocks are raw ranges of a mapped input (regular file or memory)
 * rather than filled in order (gzip, pipes). */
int lr_is_mapped(const struct logread *r);

/* The next block. Mapped inputs return raw ranges (buf unused); streamed
 * ones fill buf (capacity lr_stream_block_cap()). Returns 1 with a block, 0
 * at the end, -1 with err on I/O or gzip errors. */
int lr_next_block(struct logread *r, char *buf, struct lr_block *b, struct kz_error *err);
size_t lr_stream_block_cap(void);

/* Aligns a raw block to whole lines (a no-op for others). */
void lr_block_align(struct lr_block *b);

/* Tells the kernel a scanned block of a file mapping is no longer needed,
 * so a large file does not stay resident (it stays in the page cache; a
 * later read faults it back). A no-op for other blocks. */
void lr_block_release(const struct lr_block *b);

/* The state at the start of the input (the Zeek header of its first lines). */
const struct lr_state *lr_initial_state(const struct logread *r);

#endif
