/*
 * Reading whole files (or standard input) into memory with a cap, and
 * writing a file atomically (temporary file, fsync, rename), for the
 * commands that import, validate and export.
 */
#ifndef KZ_FILE_H
#define KZ_FILE_H

#include <stddef.h>

#include "util/error.h"

/* Reads path ("-" for standard input) into a new buffer (*data, freed by the
 * caller; NUL-terminated for convenience) of *len bytes. Fails with
 * KZ_ELIMIT past max bytes. */
int kz_read_file(const char *path, size_t max, char **data, size_t *len, struct kz_error *err);

/* Opens path for writing through a temporary file next to it; kz_out_commit
 * fsyncs and renames it into place, kz_out_abort removes it. "-" writes to
 * standard output directly, and so does a path that exists and is no regular
 * file (a device such as /dev/null, a FIFO), which a rename would replace. */
struct kz_out;
struct kz_out *kz_out_open(const char *path, struct kz_error *err);
int kz_out_write(struct kz_out *o, const void *p, size_t n, struct kz_error *err);
int kz_out_commit(struct kz_out *o, struct kz_error *err);
void kz_out_abort(struct kz_out *o);

#endif
