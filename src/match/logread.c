/*
 * Opening log inputs and cutting them into blocks of lines: regular files
 * are memory-mapped and cut into raw ranges that the scan threads align
 * themselves; gzip input (recognised by its magic bytes, never by name) and
 * pipes are read in order, decompressed with zlib's inflate (concatenated
 * gzip members included), into block buffers. Also the format table, the
 * format detection, and logread_foreach_field.
 */
#include "match/logread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "match/logread_int.h"
#include "util/uuid.h"

/* Raw input read per read(2) on streams. */
#define LR_INBUF_BYTES ((size_t)256 * 1024)

struct logread {
    char *name;
    enum logread_format fmt;
    int fd, own_fd;
    int gz;
    int eof; /* no more data from the source */
    /* mapped inputs (regular files and memory) */
    int mapped;
    const char *map;
    size_t map_len, map_pos;
    int munmap_needed;
    /* streams */
    int mem_in; /* the raw input is a memory buffer (gzip in memory) */
    unsigned char *in;
    size_t in_len, in_pos;
    int in_eof;
    z_stream zs;
    int zinit, zend;
    char *carry; /* the start of the next block */
    size_t carry_len;
    int carry_cont; /* the carry continues a line already cut */
    int deferred;   /* an error met after some data: reported after that data */
    struct kz_error derr;
    struct lr_state init;
    int64_t mtime_us; /* a regular file's modification time at open */
    /* streams: what logread_print needs of the content handed out */
    uint64_t p_len;
    size_t p_head_n, p_tail_n;
    char p_head[LOGREAD_PRINT_SAMPLE], p_tail[LOGREAD_PRINT_SAMPLE];
};

static const char *const format_names[LOGREAD_FORMAT_COUNT] = {
        "auto", "zeek", "zeek-json", "clf", "jsonl", "syslog", "text",
};

const char *logread_format_name(enum logread_format f)
{
    return (unsigned)f < LOGREAD_FORMAT_COUNT ? format_names[f] : "?";
}

int logread_format_parse(const char *s, enum logread_format *out)
{
    for (int i = 0; i < LOGREAD_FORMAT_COUNT; i++) {
        if (strcmp(s, format_names[i]) == 0) {
            *out = (enum logread_format)i;
            return 0;
        }
    }
    return -1;
}

const struct lr_format *lr_format_of(enum logread_format f)
{
    switch (f) {
    case LOGREAD_ZEEK: return &lr_zeek_format;
    case LOGREAD_ZEEK_JSON: return &lr_zeek_json_format;
    case LOGREAD_CLF: return &lr_clf_format;
    case LOGREAD_JSONL: return &lr_jsonl_format;
    case LOGREAD_SYSLOG: return &lr_syslog_format;
    default: return &lr_text_format;
    }
}

int lr_scratch_init(struct lr_scratch *sc)
{
    sc->buf = malloc(LR_SCRATCH_BYTES);
    sc->used = 0;
    return sc->buf ? 0 : -1;
}

void lr_scratch_free(struct lr_scratch *sc)
{
    free(sc->buf);
    sc->buf = NULL;
}

void lr_state_init(struct lr_state *st, enum logread_format fmt)
{
    memset(st, 0, offsetof(struct lr_state, zeek) + offsetof(struct lr_zeek, names));
    st->fmt = fmt;
    st->zeek.sep = '\t';
    st->zeek.setsep = ',';
    st->zeek.host_col = st->zeek.uri_col = st->zeek.ts_col = -1;
    memcpy(st->zeek.empty, "(empty)", 7);
    st->zeek.empty_len = 7;
    st->zeek.unset[0] = '-';
    st->zeek.unset_len = 1;
}

/* --- detection ---------------------------------------------------------- */

enum logread_format lr_detect(const char *buf, size_t n)
{
    static const enum logread_format order[] = {LOGREAD_ZEEK_JSON, LOGREAD_JSONL, LOGREAD_CLF,
                                                LOGREAD_SYSLOG};
    unsigned votes[LOGREAD_FORMAT_COUNT] = {0};
    unsigned lines = 0;
    size_t i = 0;

    if (n > MATCH_DETECT_BYTES)
        n = MATCH_DETECT_BYTES;
    if (n >= 11 && memcmp(buf, "#separator ", 11) == 0)
        return LOGREAD_ZEEK;
    while (i < n && lines < MATCH_DETECT_LINES) {
        const char *nl = memchr(buf + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - buf) : n, len;
        if (!nl && i > 0)
            break; /* a cut line at the end of the sample says nothing */
        len = e - i;
        if (len && buf[i + len - 1] == '\r')
            len--;
        if (len > 0) {
            lines++;
            for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
                if (lr_format_of(order[k])->detect(buf + i, len)) {
                    votes[order[k]]++;
                    break;
                }
            }
        }
        i = e + 1;
    }
    if (lines == 0)
        return LOGREAD_TEXT;
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
        if (votes[order[k]] * 2 > lines)
            return order[k];
    /* Zeek JSON lines also pass as JSON lines. */
    if ((votes[LOGREAD_JSONL] + votes[LOGREAD_ZEEK_JSON]) * 2 > lines)
        return LOGREAD_JSONL;
    return LOGREAD_TEXT;
}

/* --- streams ------------------------------------------------------------ */

size_t lr_stream_block_cap(void)
{
    return MATCH_BLOCK_BYTES + MATCH_MAX_LINE;
}

/* Reads raw bytes into r->in; 0 at end of input, -1 on error. */
static int fill_in(struct logread *r, struct kz_error *err)
{
    ssize_t got;

    if (r->in_eof)
        return 0;
    if (r->in_pos < r->in_len)
        return 1;
    if (r->mem_in) { /* gzip in memory: the buffer is all the input */
        r->in_eof = 1;
        return 0;
    }
    do {
        got = read(r->fd, r->in, LR_INBUF_BYTES);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
        kz_error_file(err, r->name);
        return kz_error_set(err, KZ_EIO, "read error: %s", strerror(errno));
    }
    if (got == 0) {
        r->in_eof = 1;
        return 0;
    }
    r->in_len = (size_t)got;
    r->in_pos = 0;
    return 1;
}

/* Reads up to cap decompressed (or plain) bytes into dst; returns the count
 * (0 at the end) or -1. */
static long stream_read(struct logread *r, char *dst, size_t cap, struct kz_error *err)
{
    if (cap == 0 || r->eof)
        return 0;
    if (!r->gz) {
        size_t k;
        int f = fill_in(r, err);
        if (f < 0)
            return -1;
        if (f == 0) {
            r->eof = 1;
            return 0;
        }
        k = r->in_len - r->in_pos;
        if (k > cap)
            k = cap;
        memcpy(dst, r->in + r->in_pos, k);
        r->in_pos += k;
        return (long)k;
    }
    r->zs.next_out = (unsigned char *)dst;
    r->zs.avail_out = (uInt)(cap > 0x40000000 ? 0x40000000 : cap);
    while (r->zs.avail_out > 0) {
        int zr;
        if (r->zend) {
            /* A member ended: another may follow (concatenated gzip). */
            int f = fill_in(r, err);
            if (f < 0)
                return -1;
            if (f == 0 || r->in_len - r->in_pos < 2 || r->in[r->in_pos] != 0x1f ||
                r->in[r->in_pos + 1] != 0x8b) {
                r->eof = 1; /* end, or trailing garbage (ignored, as gzip does) */
                break;
            }
            inflateReset(&r->zs);
            r->zend = 0;
        }
        if (r->in_pos >= r->in_len) {
            int f = fill_in(r, err);
            if (f < 0)
                return -1;
            if (f == 0) {
                kz_error_file(err, r->name);
                kz_error_set(err, KZ_EINVALID, "gzip input is truncated");
                return -1;
            }
        }
        r->zs.next_in = r->in + r->in_pos;
        r->zs.avail_in = (uInt)(r->in_len - r->in_pos);
        zr = inflate(&r->zs, Z_NO_FLUSH);
        r->in_pos = r->in_len - r->zs.avail_in;
        if (zr == Z_STREAM_END) {
            r->zend = 1;
            continue;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            kz_error_file(err, r->name);
            kz_error_set(err, KZ_EINVALID, "corrupt gzip data: %s",
                         r->zs.msg ? r->zs.msg : "inflate failed");
            return -1;
        }
    }
    return (long)(cap - r->zs.avail_out);
}

/* Appends stream data to the carry until it holds want bytes or the input
 * ends. */
static int carry_fill(struct logread *r, size_t want, struct kz_error *err)
{
    while (r->carry_len < want && !r->eof) {
        long got = stream_read(r, r->carry + r->carry_len, want - r->carry_len, err);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        r->carry_len += (size_t)got;
    }
    return 0;
}

/* --- opening ------------------------------------------------------------ */

static struct logread *reader_new(const char *name, struct kz_error *err)
{
    struct logread *r = calloc(1, sizeof(*r));

    if (r)
        r->name = strdup(name);
    if (!r || !r->name) {
        free(r);
        kz_error_set(err, KZ_ENOMEM, "out of memory opening %s", name);
        return NULL;
    }
    r->fd = -1;
    return r;
}

/* Sets up the stream path: gzip or plain, detection sample in the carry. */
static int stream_setup(struct logread *r, struct kz_error *err)
{
    int f;

    if (!r->mem_in) {
        r->in = malloc(LR_INBUF_BYTES);
        if (!r->in)
            return kz_error_set(err, KZ_ENOMEM, "out of memory opening %s", r->name);
        /* Gather at least two bytes for the magic. */
        while (r->in_len < 2 && !r->in_eof) {
            ssize_t got = read(r->fd, r->in + r->in_len, LR_INBUF_BYTES - r->in_len);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                kz_error_file(err, r->name);
                return kz_error_set(err, KZ_EIO, "read error: %s", strerror(errno));
            }
            if (got == 0)
                r->in_eof = 1;
            r->in_len += (size_t)got;
        }
        if (r->in_len == 0)
            r->in_eof = 1;
    }
    r->gz = r->in_len - r->in_pos >= 2 && r->in[r->in_pos] == 0x1f && r->in[r->in_pos + 1] == 0x8b;
    if (r->gz) {
        if (inflateInit2(&r->zs, 15 + 16) != Z_OK)
            return kz_error_set(err, KZ_ENOMEM, "cannot start gzip decompression");
        r->zinit = 1;
    }
    r->carry = malloc(lr_stream_block_cap());
    if (!r->carry)
        return kz_error_set(err, KZ_ENOMEM, "out of memory opening %s", r->name);
    /* The detection sample. An error here (a truncated gzip) is kept for
     * after the data read so far: hits before a corruption still count. */
    f = carry_fill(r, MATCH_DETECT_BYTES, &r->derr);
    if (f < 0) {
        r->deferred = 1;
        r->eof = 1;
    }
    (void)err;
    return 0;
}

static int finish_open(struct logread *r, enum logread_format fmt, struct kz_error *err)
{
    const char *sample = r->mapped && !r->gz ? r->map : r->carry;
    size_t slen = r->mapped && !r->gz ? r->map_len : r->carry_len;

    if (!sample)
        slen = 0;
    if (fmt == LOGREAD_AUTO)
        fmt = lr_detect(sample, slen);
    r->fmt = fmt;
    lr_state_init(&r->init, fmt);
    if (fmt == LOGREAD_ZEEK) {
        /* The header at the top is the state every block starts from. */
        struct lr_scratch sc = {0};
        struct lr_sink none = {NULL, NULL, NULL};
        size_t i = 0;
        if (slen > MATCH_DETECT_BYTES)
            slen = MATCH_DETECT_BYTES;
        while (i < slen && sample[i] == '#') {
            const char *nl = memchr(sample + i, '\n', slen - i);
            size_t e, resume = 0;
            if (!nl)
                break;
            e = (size_t)(nl - sample);
            lr_zeek_format.line(&r->init, &sc, sample + i,
                                e > i && sample[e - 1] == '\r' ? e - i - 1 : e - i, &none, &resume);
            i = e + 1;
        }
    }
    (void)err;
    return 0;
}

struct logread *logread_open(const char *path, enum logread_format fmt, struct kz_error *err)
{
    struct logread *r = reader_new(path, err);
    struct stat st;
    unsigned char magic[2];

    if (!r)
        return NULL;
    if (strcmp(path, "-") == 0) {
        r->fd = STDIN_FILENO;
    } else {
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            kz_error_file(err, path);
            kz_error_set(err, errno == ENOENT ? KZ_ENOTFOUND : KZ_EIO, "cannot open: %s",
                         strerror(errno));
            goto fail;
        }
        r->own_fd = 1;
    }
    if (fstat(r->fd, &st) < 0) {
        kz_error_file(err, path);
        kz_error_set(err, KZ_EIO, "cannot stat: %s", strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        kz_error_file(err, path);
        kz_error_set(err, KZ_EIO, "is a directory");
        goto fail;
    }
    if (S_ISREG(st.st_mode))
        r->mtime_us = (int64_t)st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000;
    if (S_ISREG(st.st_mode) && (st.st_size < 2 || (pread(r->fd, magic, 2, 0) == 2 &&
                                                   !(magic[0] == 0x1f && magic[1] == 0x8b)))) {
        r->mapped = 1;
        r->map_len = (size_t)st.st_size;
        if (r->map_len > 0) {
            void *m = mmap(NULL, r->map_len, PROT_READ, MAP_PRIVATE, r->fd, 0);
            if (m == MAP_FAILED) {
                kz_error_file(err, path);
                kz_error_set(err, KZ_EIO, "cannot map: %s", strerror(errno));
                goto fail;
            }
            r->map = m;
            r->munmap_needed = 1;
            madvise(m, r->map_len, MADV_SEQUENTIAL);
        } else {
            r->map = "";
        }
    } else if (stream_setup(r, err) < 0) {
        goto fail;
    }
    if (finish_open(r, fmt, err) < 0)
        goto fail;
    return r;
fail:
    logread_close(r);
    return NULL;
}

struct logread *logread_open_mem(const char *name, const void *buf, size_t n,
                                 enum logread_format fmt, struct kz_error *err)
{
    struct logread *r = reader_new(name, err);

    if (!r)
        return NULL;
    r->mapped = 1;
    r->map = n ? buf : "";
    r->map_len = n;
    if (n >= 2 && ((const unsigned char *)buf)[0] == 0x1f &&
        ((const unsigned char *)buf)[1] == 0x8b) {
        /* gzip in memory: inflate from the buffer, as a stream. */
        r->in = (unsigned char *)(uintptr_t)buf; /* read only; never written */
        r->in_len = n;
        r->mem_in = 1;
        r->mapped = 0;
        if (stream_setup(r, err) < 0)
            goto fail;
    }
    if (finish_open(r, fmt, err) < 0)
        goto fail;
    return r;
fail:
    logread_close(r);
    return NULL;
}

void logread_close(struct logread *r)
{
    if (!r)
        return;
    if (r->munmap_needed)
        munmap((void *)(uintptr_t)r->map, r->map_len);
    if (r->own_fd && r->fd >= 0)
        close(r->fd);
    if (r->zinit)
        inflateEnd(&r->zs);
    if (!r->mem_in)
        free(r->in);
    free(r->carry);
    free(r->name);
    free(r);
}

const char *logread_name(const struct logread *r)
{
    return r->name;
}

enum logread_format logread_format(const struct logread *r)
{
    return r->fmt;
}

int logread_compressed(const struct logread *r)
{
    return r->gz;
}

int64_t logread_mtime(const struct logread *r)
{
    return r->mtime_us;
}

int logread_seekable(const struct logread *r)
{
    return r->mapped;
}

static void sample_print(const char *head, size_t hn, const char *tail, size_t tn, uint64_t len,
                         struct logread_print *out)
{
    out->len = len;
    kz_sha1(hn ? head : "", hn, out->head);
    kz_sha1(tn ? tail : "", tn, out->tail);
}

int logread_print_prefix(const struct logread *r, uint64_t len, struct logread_print *out)
{
    size_t k;

    if (!r->mapped || len > r->map_len)
        return -1;
    k = len < LOGREAD_PRINT_SAMPLE ? (size_t)len : LOGREAD_PRINT_SAMPLE;
    sample_print(r->map, k, r->map + len - k, k, len, out);
    return 0;
}

int logread_print(const struct logread *r, struct logread_print *out)
{
    if (r->mapped)
        return logread_print_prefix(r, r->map_len, out);
    if (!r->eof || r->carry_len || r->deferred)
        return -1;
    sample_print(r->p_head, r->p_head_n, r->p_tail, r->p_tail_n, r->p_len, out);
    return 0;
}

/* Follows the content a stream hands out in blocks, for logread_print. */
static void print_follow(struct logread *r, const char *p, size_t n)
{
    if (r->p_head_n < LOGREAD_PRINT_SAMPLE) {
        size_t k = LOGREAD_PRINT_SAMPLE - r->p_head_n;
        if (k > n)
            k = n;
        memcpy(r->p_head + r->p_head_n, p, k);
        r->p_head_n += k;
    }
    if (n >= LOGREAD_PRINT_SAMPLE) {
        memcpy(r->p_tail, p + n - LOGREAD_PRINT_SAMPLE, LOGREAD_PRINT_SAMPLE);
        r->p_tail_n = LOGREAD_PRINT_SAMPLE;
    } else {
        size_t keep =
                r->p_tail_n + n > LOGREAD_PRINT_SAMPLE ? LOGREAD_PRINT_SAMPLE - n : r->p_tail_n;
        memmove(r->p_tail, r->p_tail + r->p_tail_n - keep, keep);
        memcpy(r->p_tail + keep, p, n);
        r->p_tail_n = keep + n;
    }
    r->p_len += n;
}

const struct lr_state *lr_initial_state(const struct logread *r)
{
    return &r->init;
}

/* --- blocks ------------------------------------------------------------- */

int lr_is_mapped(const struct logread *r)
{
    return r->mapped;
}

void lr_block_align(struct lr_block *b)
{
    size_t s = b->raw_start, e = b->raw_end;

    if (!b->raw)
        return;
    b->raw = 0;
    if (s > 0) {
        /* The first line that starts inside the range; the search stays in
         * the range, so a huge line costs each later block nothing. */
        const char *nl = memchr(b->base + s - 1, '\n', e - (s - 1));
        s = nl ? (size_t)(nl - b->base) + 1 : e;
    }
    if (s >= e) {
        b->data = b->base + e; /* no line starts here */
        b->len = 0;
        return;
    }
    if (e < b->total) {
        const char *nl = memchr(b->base + e - 1, '\n', b->total - (e - 1));
        e = nl ? (size_t)(nl - b->base) + 1 : b->total;
    }
    b->data = b->base + s;
    b->len = e - s;
}

void lr_block_release(const struct lr_block *b)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), lo, hi;

    if (!b->file_map || b->len == 0 || page == 0 || page == (uintptr_t)-1)
        return;
    lo = (uintptr_t)b->data & ~(page - 1);
    hi = ((uintptr_t)b->data + b->len) & ~(page - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

static const char *last_newline(const char *p, size_t n)
{
    while (n > 0) {
        if (p[n - 1] == '\n')
            return p + n - 1;
        n--;
    }
    return NULL;
}

int lr_next_block(struct logread *r, char *buf, struct lr_block *b, struct kz_error *err)
{
    size_t len, cut;
    const char *nl;

    memset(b, 0, sizeof(*b));
    if (r->mapped) {
        if (r->map_pos >= r->map_len)
            return 0;
        b->raw = 1;
        b->base = r->map;
        b->total = r->map_len;
        b->raw_start = r->map_pos;
        b->raw_end = r->map_len - r->map_pos > MATCH_BLOCK_BYTES ? r->map_pos + MATCH_BLOCK_BYTES
                                                                 : r->map_len;
        b->file_map = r->munmap_needed;
        r->map_pos = b->raw_end;
        return 1;
    }
    /* The carry (the tail of the last block, or the detection sample) comes
     * first; then fresh data is read straight into the block buffer. */
    memcpy(buf, r->carry, r->carry_len);
    len = r->carry_len;
    r->carry_len = 0;
    while (len < MATCH_BLOCK_BYTES && !r->eof) {
        long got = stream_read(r, buf + len, MATCH_BLOCK_BYTES - len, &r->derr);
        if (got < 0) {
            r->deferred = 1;
            r->eof = 1;
            break;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    if (len == 0) {
        if (r->deferred) {
            if (err)
                *err = r->derr;
            r->deferred = 0;
            return -1;
        }
        return 0;
    }
    b->data = buf;
    b->cont_start = r->carry_cont;
    nl = r->eof ? NULL : last_newline(buf, len);
    if (r->eof) {
        cut = len;
    } else if (nl) {
        cut = (size_t)(nl - buf) + 1;
    } else {
        cut = len; /* a line longer than a block: cut it, mark both sides */
        b->cont_end = 1;
    }
    b->len = cut;
    print_follow(r, buf, cut);
    memcpy(r->carry, buf + cut, len - cut);
    r->carry_len = len - cut;
    r->carry_cont = b->cont_end;
    return 1;
}

/* --- logread_foreach_field ---------------------------------------------- */

struct fe_ctx {
    logread_field_fn fn;
    void *ctx;
    uint64_t line;
};

static void fe_field(void *c, const char *name, size_t nlen, const char *v, size_t vn,
                     enum logread_hint hint)
{
    struct fe_ctx *fc = c;
    struct logread_field f = {fc->line, name, nlen, v, vn, hint};

    fc->fn(fc->ctx, &f);
}

int logread_foreach_field(struct logread *r, logread_field_fn fn, void *ctx, struct kz_error *err)
{
    struct fe_ctx fc = {fn, ctx, 1};
    struct lr_sink sink = {fe_field, &fc, NULL};
    struct lr_scratch sc = {0};
    struct lr_state st;
    const struct lr_format *fmt = lr_format_of(r->fmt);
    char *buf = NULL;
    int rc = -1, got;
    struct lr_block b;

    st = r->init;
    if (lr_scratch_init(&sc) < 0) {
        kz_error_set(err, KZ_ENOMEM, "out of memory reading %s", r->name);
        goto out;
    }
    if (!r->mapped) {
        buf = malloc(lr_stream_block_cap());
        if (!buf) {
            kz_error_set(err, KZ_ENOMEM, "out of memory reading %s", r->name);
            goto out;
        }
    }
    while ((got = lr_next_block(r, buf, &b, err)) > 0) {
        const char *p, *end;
        lr_block_align(&b);
        p = b.data;
        end = b.data + b.len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *e = nl ? nl : end;
            size_t len = (size_t)(e - p), resume = 0;
            int textonly = (p == b.data && b.cont_start) || (!nl && b.cont_end);
            if (len && p[len - 1] == '\r')
                len--;
            sc.used = 0;
            if (len > MATCH_MAX_LINE || textonly) {
                for (size_t off = 0; off < len; off += MATCH_MAX_LINE)
                    lr_emit(&sink, "text", 4, p + off,
                            len - off > MATCH_MAX_LINE ? MATCH_MAX_LINE : len - off,
                            LOGREAD_HINT_TEXT);
            } else if (fmt->line(&st, &sc, p, len, &sink, &resume) < 0 && resume < len) {
                lr_emit(&sink, "text", 4, p + resume, len - resume, LOGREAD_HINT_TEXT);
            }
            if (nl)
                fc.line++;
            p = nl ? nl + 1 : end;
        }
    }
    if (got < 0)
        goto out;
    rc = 0;
out:
    lr_scratch_free(&sc);
    free(buf);
    return rc;
}
