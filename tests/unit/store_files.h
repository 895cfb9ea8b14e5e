/*
 * The files a SQLite store leaves beside its database (log, shared memory,
 * the id index and its own, the tests' leaderships' locks), for the unit tests' teardowns to remove
 * before they remove their temporary folder.
 */
#ifndef KZ_TEST_STORE_FILES_H
#define KZ_TEST_STORE_FILES_H

#include <stdio.h>
#include <unistd.h>

static inline void remove_store_files(const char *db)
{
    static const char *const suffix[] = {"",         "-wal",     "-shm",         "-ids",
                                         "-ids-wal", "-ids-shm", "-leader-sync", "-leader-other"};
    char p[512];

    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", db, suffix[i]);
        unlink(p);
    }
}

#endif
