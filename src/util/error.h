/*
 * The one error convention of kizuna. A function that can fail returns 0 on
 * success and -1 on failure, and fills a caller-owned struct kz_error that
 * says what went wrong and where: the input file, the object (index and id)
 * and the property path at fault, plus a category so callers can map errors
 * to exit statuses and HTTP codes without parsing text.
 */
#ifndef KZ_ERROR_H
#define KZ_ERROR_H

#include <stddef.h>

enum kz_ecode {
    KZ_EOK = 0,
    KZ_EINVALID,  /* input breaks a rule (STIX, JSON, a flag's syntax) */
    KZ_EUSAGE,    /* the command line is wrong */
    KZ_EIO,       /* a file or socket failed */
    KZ_ENOMEM,    /* allocation failed */
    KZ_ELIMIT,    /* input exceeds a cap from limits.h */
    KZ_ENOTFOUND, /* the named thing does not exist */
    KZ_EEXISTS,   /* the thing already exists */
    KZ_ECONFLICT, /* an update conflicts with stored state */
    KZ_EBUSY,     /* the store stayed locked past its timeout */
    KZ_EFULL,     /* the disk or database is full */
    KZ_EDENIED,   /* not authorised */
    KZ_EINTERNAL, /* a broken invariant or a library failure */
};

struct kz_error {
    enum kz_ecode code;
    char file[256];     /* input file, "" when none */
    char object[160];   /* e.g. "objects[41] indicator--8e2e...", "" when none */
    char property[160]; /* property path, e.g. "external_references[0].url" */
    char text[512];     /* the rule that was broken, in words */
};

/* Clears all fields. */
void kz_error_clear(struct kz_error *e);

/* Sets code and text (printf-style); keeps file/object/property. Returns -1
 * so callers can write `return kz_error_set(...)`. Accepts e == NULL. */
int kz_error_set(struct kz_error *e, enum kz_ecode code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Setters for the location fields; each truncates to the field's size. */
void kz_error_file(struct kz_error *e, const char *file);
void kz_error_object(struct kz_error *e, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
void kz_error_property(struct kz_error *e, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Formats "file: object: property: text", leaving out empty parts, into buf.
 * Returns buf. */
const char *kz_error_format(const struct kz_error *e, char *buf, size_t size);

/* The exit status a CLI command returns for this error: 1 for invalid input,
 * 2 for usage and system errors. */
int kz_error_exit_status(const struct kz_error *e);

#endif
