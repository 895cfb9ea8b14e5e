/*
 * Log readers: the input side of `kizuna match`. A reader is an open log
 * (a file, stdin, or a memory buffer), gzip-decompressed when its first bytes
 * are the gzip magic, whatever its name, with a format: Zeek TSV, Zeek JSON,
 * Apache/nginx common or combined (CLF), JSON lines, syslog (RFC 5424 and
 * RFC 3164), or plain text. LOGREAD_AUTO detects the format from the first
 * lines of each input.
 *
 * Each format turns a line into named fields; the scanner (match.h) then
 * finds candidate values in each field with the text tokenizer. A line the
 * format cannot parse is scanned whole as text, so a malformed line never
 * hides a hit. One parser per format lives in its own logread_<format>.c.
 */
#ifndef KZ_LOGREAD_H
#define KZ_LOGREAD_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

enum logread_format {
    LOGREAD_AUTO = 0,
    LOGREAD_ZEEK,      /* Zeek TSV with its #separator/#fields/#types header */
    LOGREAD_ZEEK_JSON, /* Zeek's JSON logs (one object per line) */
    LOGREAD_CLF,       /* Apache/nginx common and combined log formats */
    LOGREAD_JSONL,     /* JSON lines: every string value, nested too */
    LOGREAD_SYSLOG,    /* RFC 5424, RFC 3164, and the ISO-timestamped file form */
    LOGREAD_TEXT,      /* anything: every token of the line */
    LOGREAD_FORMAT_COUNT
};

/* "auto", "zeek", "zeek-json", "clf", "jsonl", "syslog", "text". */
const char *logread_format_name(enum logread_format f);

/* The format named s (the names above); -1 when unknown. */
int logread_format_parse(const char *s, enum logread_format *out);

/* How a field's value should be searched. */
enum logread_hint {
    LOGREAD_HINT_TEXT = 0, /* tokenize: any kind may be inside */
    LOGREAD_HINT_ADDR,     /* an IP address (Zeek addr); tokenized when it is not one */
    LOGREAD_HINT_URL_ONLY, /* a URL put together from other fields: looked up as a URL only */
    LOGREAD_HINT_SKIP,     /* numbers, times, enums: nothing to find */
};

struct logread;

/* Opens path ("-" for stdin) with format fmt (LOGREAD_AUTO to detect). Reads
 * the first bytes to recognise gzip and the format. Returns NULL with err
 * naming the file (KZ_ENOTFOUND, KZ_EIO). Corrupt or truncated gzip data is
 * reported later by the read (match_scan: KZ_EINVALID), after the hits in
 * the data before the damage. */
struct logread *logread_open(const char *path, enum logread_format fmt, struct kz_error *err);

/* The same over a memory buffer, which is borrowed and must outlive the
 * reader; name is used in hits and errors. */
struct logread *logread_open_mem(const char *name, const void *buf, size_t n,
                                 enum logread_format fmt, struct kz_error *err);

/* Closes the reader (and its file). Accepts NULL. */
void logread_close(struct logread *r);

/* The name given at open ("-" for stdin). */
const char *logread_name(const struct logread *r);

/* The format in use: the one given, or the one detected. */
enum logread_format logread_format(const struct logread *r);

/* Whether the input is gzip-compressed. */
int logread_compressed(const struct logread *r);

/* The modification time of a regular file (µs since the epoch) as it was
 * at open; 0 for pipes, terminals and memory. */
int64_t logread_mtime(const struct logread *r);

/* What tells a log's content (decompressed) from another's: its length and
 * the SHA-1 of its first and of its last LOGREAD_PRINT_SAMPLE bytes (all of
 * them when shorter). Logs only grow at the end, so a content whose prefix
 * of len bytes prints the same as an earlier read of len bytes is that log,
 * grown (or renamed, or compressed). */
#define LOGREAD_PRINT_SAMPLE 4096
struct logread_print {
    uint64_t len;
    uint8_t head[20];
    uint8_t tail[20];
};

/* Whether any prefix of the content can be printed before it is read (an
 * uncompressed regular file or memory: mapped). */
int logread_seekable(const struct logread *r);

/* The print of the first len bytes of a seekable input; -1 when r is not
 * seekable or holds fewer bytes. */
int logread_print_prefix(const struct logread *r, uint64_t len, struct logread_print *out);

/* The print of the whole content: any time for a seekable input, after the
 * read reached the end for the others; -1 before that. */
int logread_print(const struct logread *r, struct logread_print *out);

/* One field of one line, as a reader yields it. name and value are valid
 * during the callback only; value is decoded (JSON escapes, Zeek \x escapes,
 * CLF quotes) and not NUL-terminated. */
struct logread_field {
    uint64_t line; /* 1-based */
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
    enum logread_hint hint;
};

typedef void (*logread_field_fn)(void *ctx, const struct logread_field *f);

/* Reads r from where it stands to the end in the calling thread and calls fn
 * for every field of every line. A reader is read once: by this or by
 * match_scan. Returns 0, or -1 with err set on an I/O or gzip error. */
int logread_foreach_field(struct logread *r, logread_field_fn fn, void *ctx, struct kz_error *err);

#endif
