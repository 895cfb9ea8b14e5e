/*
 * A growable byte buffer with a hard maximum set at creation (the habit of
 * curl's dynbuf): appends that would pass the maximum fail with KZ_ELIMIT
 * instead of growing without bound. The content is always NUL-terminated so
 * it can be handed to C string functions.
 */
#ifndef KZ_BUF_H
#define KZ_BUF_H

#include <stddef.h>
#include <stdarg.h>

struct kz_buf {
    char *data; /* NUL-terminated content; NULL until the first append */
    size_t len; /* bytes of content, excluding the NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* the cap on len */
    int failed; /* set once an append failed; later appends do nothing */
};

/* Initialises an empty buffer that may grow to max bytes. */
void kz_buf_init(struct kz_buf *b, size_t max);

/* Frees the content; the buffer may be reused after kz_buf_init. */
void kz_buf_free(struct kz_buf *b);

/* Empties the buffer, keeping its allocation. */
void kz_buf_reset(struct kz_buf *b);

/* Appends; return 0, or -1 when the maximum would be passed or memory ran
 * out (and sets b->failed). */
int kz_buf_add(struct kz_buf *b, const void *p, size_t n);
int kz_buf_addstr(struct kz_buf *b, const char *s);
int kz_buf_addc(struct kz_buf *b, char c);
int kz_buf_printf(struct kz_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int kz_buf_vprintf(struct kz_buf *b, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));

/* Appends s as the body of a JSON string (no quotes), escaping as RFC 8259
 * requires; s must be valid UTF-8. */
int kz_buf_add_json_escaped(struct kz_buf *b, const char *s, size_t n);

/* As kz_buf_add_json_escaped for bytes that may not be UTF-8 (from logs):
 * invalid sequences become U+FFFD. */
int kz_buf_add_json_escaped_lossy(struct kz_buf *b, const char *s, size_t n);

/* Makes room for n more bytes and returns a pointer to them, or NULL. The
 * caller writes up to n bytes and then calls kz_buf_commit. */
char *kz_buf_reserve(struct kz_buf *b, size_t n);
void kz_buf_commit(struct kz_buf *b, size_t n);

/* Hands the content to the caller (who frees it) and resets the buffer. */
char *kz_buf_steal(struct kz_buf *b, size_t *len);

#endif
