/*
 * Leadership on the SQLite backend (store_leader_try): an flock on a file
 * beside the store, LOCATION-leader-NAME, held through a descriptor of the
 * store handle. Locks of flock belong to the open file, so two handles
 * (in one process or two: two servers on one home) elect one, and the
 * kernel releases it when the handle is closed or its process dies.
 */
#include "store/sqlite/sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int sqlite_leader_try(void *b, const char *name, struct kz_error *err)
{
    struct sqlite_store *s = b;
    char path[sizeof(s->path) + 32];
    int fd;

    for (int i = 0; i < s->nleaders; i++)
        if (strcmp(s->leaders[i].name, name) == 0)
            return 1; /* an flock stays while its descriptor is open */
    if (s->nleaders == STORE_LEADER_MAX)
        return kz_error_set(err, KZ_ELIMIT, "store: a handle leads at most %d tasks",
                            STORE_LEADER_MAX);
    snprintf(path, sizeof(path), "%s-leader-%s", s->path, name);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        kz_error_file(err, path);
        return kz_error_set(err, KZ_EIO, "store: cannot open the leadership's lock: %s",
                            strerror(errno));
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return 0;
        kz_error_file(err, path);
        return kz_error_set(err, KZ_EIO, "store: cannot lock the leadership's lock: %s",
                            strerror(e));
    }
    snprintf(s->leaders[s->nleaders].name, sizeof(s->leaders[0].name), "%s", name);
    s->leaders[s->nleaders++].fd = fd;
    return 1;
}

void sqlite_leader_release(struct sqlite_store *s)
{
    for (int i = 0; i < s->nleaders; i++)
        close(s->leaders[i].fd);
    s->nleaders = 0;
}
