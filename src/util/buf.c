/*
 * kz_buf: bounded growable buffers. Growth doubles the allocation, so n
 * appends cost O(n) amortised; the maximum is checked before every growth.
 */
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kz_buf_init(struct kz_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void kz_buf_free(struct kz_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

void kz_buf_reset(struct kz_buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int grow(struct kz_buf *b, size_t need)
{
    size_t want;
    char *p;

    if (b->failed)
        return -1;
    if (need > b->max || b->len + need > b->max) {
        b->failed = 1;
        return -1;
    }
    if (b->len + need + 1 <= b->cap)
        return 0;
    want = b->cap ? b->cap : 256;
    while (want < b->len + need + 1)
        want *= 2;
    if (want > b->max + 1)
        want = b->max + 1;
    p = realloc(b->data, want);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = want;
    return 0;
}

int kz_buf_add(struct kz_buf *b, const void *p, size_t n)
{
    if (grow(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int kz_buf_addstr(struct kz_buf *b, const char *s)
{
    return kz_buf_add(b, s, strlen(s));
}

int kz_buf_addc(struct kz_buf *b, char c)
{
    return kz_buf_add(b, &c, 1);
}

int kz_buf_vprintf(struct kz_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || grow(b, (size_t)n) < 0)
        return -1;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int kz_buf_printf(struct kz_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = kz_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int kz_buf_add_json_escaped(struct kz_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t elen = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (kz_buf_add(b, s + start, i - start) < 0)
            return -1;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        if (kz_buf_add(b, esc, elen) < 0)
            return -1;
        start = i + 1;
    }
    return kz_buf_add(b, s + start, n - start);
}

/* Length of the valid UTF-8 sequence at s, 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0) || (c == 0xf0 && s[1] < 0x90) ||
        (c == 0xf4 && s[1] >= 0x90))
        return 0;
    return n;
}

int kz_buf_add_json_escaped_lossy(struct kz_buf *b, const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t k = utf8_len((const unsigned char *)s + i, n - i);
        if (k == 0) {
            if (kz_buf_addstr(b, "\\ufffd") < 0)
                return -1;
            i++;
            continue;
        }
        if (kz_buf_add_json_escaped(b, s + i, k) < 0)
            return -1;
        i += k;
    }
    return 0;
}

char *kz_buf_reserve(struct kz_buf *b, size_t n)
{
    if (grow(b, n) < 0)
        return NULL;
    return b->data + b->len;
}

void kz_buf_commit(struct kz_buf *b, size_t n)
{
    b->len += n;
    b->data[b->len] = '\0';
}

char *kz_buf_steal(struct kz_buf *b, size_t *len)
{
    char *p = b->data;

    if (len)
        *len = b->len;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
