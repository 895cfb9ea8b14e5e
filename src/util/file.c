/*
 * Whole-file reads with a cap, and atomic writes. Reads use read(2) in a
 * loop so that pipes and regular files behave the same; writes retry short
 * writes and report ENOSPC as a full disk.
 */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int kz_read_file(const char *path, size_t max, char **data, size_t *len, struct kz_error *err)
{
    int fd = 0, own = 0;
    size_t cap = 1 << 16, n = 0;
    char *buf = NULL, *nb;
    struct stat sb;
    ssize_t r;

    kz_error_file(err, strcmp(path, "-") == 0 ? "<stdin>" : path);
    if (strcmp(path, "-") != 0) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return kz_error_set(err, KZ_EIO, "cannot open: %s", strerror(errno));
        own = 1;
        if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            close(fd);
            return kz_error_set(err, KZ_EIO, "is a folder, not a file");
        }
        if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
            if ((size_t)sb.st_size > max) {
                close(fd);
                return kz_error_set(err, KZ_ELIMIT, "file is larger than the %zu MiB limit",
                                    max >> 20);
            }
            cap = (size_t)sb.st_size + 1;
        }
    }
    buf = malloc(cap);
    if (!buf)
        goto nomem;
    for (;;) {
        if (n + 1 >= cap) {
            size_t ncap = cap * 2;
            if (cap > max)
                goto toobig;
            if (ncap > max + 1)
                ncap = max + 1;
            nb = realloc(buf, ncap);
            if (!nb)
                goto nomem;
            buf = nb;
            cap = ncap;
        }
        r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            kz_error_set(err, KZ_EIO, "cannot read: %s", strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max)
            goto toobig;
    }
    if (own)
        close(fd);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    kz_error_file(err, "");
    return 0;
toobig:
    kz_error_set(err, KZ_ELIMIT, "input is larger than the %zu MiB limit", max >> 20);
    goto fail;
nomem:
    kz_error_set(err, KZ_ENOMEM, "out of memory reading the input");
fail:
    if (own)
        close(fd);
    free(buf);
    return -1;
}

struct kz_out {
    int fd;
    int is_stdout;
    int direct; /* path is a device or a FIFO: written in place */
    char path[4096];
    char tmp[4096 + 32];
};

struct kz_out *kz_out_open(const char *path, struct kz_error *err)
{
    struct kz_out *o = calloc(1, sizeof(*o));
    struct stat sb;

    if (!o) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    if (strcmp(path, "-") == 0) {
        o->fd = 1;
        o->is_stdout = 1;
        return o;
    }
    snprintf(o->path, sizeof(o->path), "%s", path);
    /* --out /dev/null, a FIFO, a terminal: a rename would replace the
     * device with a plain file (as root, /dev/null for the whole machine),
     * and there is nothing to make atomic. Written in place. */
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
        o->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (o->fd < 0) {
            kz_error_file(err, path);
            kz_error_set(err, KZ_EIO, "cannot open: %s", strerror(errno));
            free(o);
            return NULL;
        }
        o->direct = 1;
        return o;
    }
    snprintf(o->tmp, sizeof(o->tmp), "%s.tmp-%ld", path, (long)getpid());
    o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o->fd < 0) {
        kz_error_file(err, path);
        kz_error_set(err, KZ_EIO, "cannot create: %s", strerror(errno));
        free(o);
        return NULL;
    }
    return o;
}

int kz_out_write(struct kz_out *o, const void *p, size_t n, struct kz_error *err)
{
    const char *c = p;

    while (n) {
        ssize_t w = write(o->fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            kz_error_file(err, o->is_stdout ? "<stdout>" : o->path);
            return kz_error_set(err, errno == ENOSPC ? KZ_EFULL : KZ_EIO, "cannot write: %s",
                                strerror(errno));
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int kz_out_commit(struct kz_out *o, struct kz_error *err)
{
    int rc = 0;

    if (o->is_stdout) {
        free(o);
        return 0;
    }
    if (o->direct) { /* no file of ours to sync or rename */
        if (close(o->fd) < 0) {
            kz_error_file(err, o->path);
            rc = kz_error_set(err, KZ_EIO, "cannot finish writing: %s", strerror(errno));
        }
        free(o);
        return rc;
    }
    if (fsync(o->fd) < 0) {
        close(o->fd);
        o->fd = -1;
        rc = -1;
    } else if (close(o->fd) < 0 || rename(o->tmp, o->path) < 0) {
        rc = -1;
    }
    if (rc < 0) {
        kz_error_file(err, o->path);
        kz_error_set(err, errno == ENOSPC ? KZ_EFULL : KZ_EIO, "cannot finish writing: %s",
                     strerror(errno));
        unlink(o->tmp);
    }
    free(o);
    return rc;
}

void kz_out_abort(struct kz_out *o)
{
    if (!o)
        return;
    if (!o->is_stdout) {
        close(o->fd);
        if (!o->direct)
            unlink(o->tmp);
    }
    free(o);
}
