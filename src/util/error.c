/*
 * Filling and printing struct kz_error. All writes are bounded by the field
 * sizes; text that does not fit is truncated, never overflowed.
 */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void kz_error_clear(struct kz_error *e)
{
    if (e)
        memset(e, 0, sizeof(*e));
}

int kz_error_set(struct kz_error *e, enum kz_ecode code, const char *fmt, ...)
{
    va_list ap;

    if (!e)
        return -1;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->text, sizeof(e->text), fmt, ap);
    va_end(ap);
    return -1;
}

void kz_error_file(struct kz_error *e, const char *file)
{
    if (e)
        snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
}

void kz_error_object(struct kz_error *e, const char *fmt, ...)
{
    va_list ap;

    if (!e)
        return;
    va_start(ap, fmt);
    vsnprintf(e->object, sizeof(e->object), fmt, ap);
    va_end(ap);
}

void kz_error_property(struct kz_error *e, const char *fmt, ...)
{
    va_list ap;

    if (!e)
        return;
    va_start(ap, fmt);
    vsnprintf(e->property, sizeof(e->property), fmt, ap);
    va_end(ap);
}

const char *kz_error_format(const struct kz_error *e, char *buf, size_t size)
{
    size_t n = 0;
    const char *parts[3] = {e->file, e->object, e->property};

    if (size == 0)
        return buf;
    buf[0] = '\0';
    for (int i = 0; i < 3; i++) {
        if (!parts[i][0] || n >= size)
            continue;
        int w = snprintf(buf + n, size - n, "%s: ", parts[i]);
        if (w > 0)
            n += (size_t)w;
    }
    if (n < size)
        snprintf(buf + n, size - n, "%s", e->text[0] ? e->text : "unknown error");
    return buf;
}

int kz_error_exit_status(const struct kz_error *e)
{
    switch (e->code) {
    case KZ_EINVALID:
    case KZ_ECONFLICT:
    case KZ_ELIMIT: return 1;
    default: return 2;
    }
}
