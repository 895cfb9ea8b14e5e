/*
 * Leadership on the PostgreSQL backend (store_leader_try): a session
 * advisory lock on the handle's connection, keyed by the pair ("kz",
 * a hash of the name). Closing the handle releases it at once (pg_close);
 * otherwise PostgreSQL releases it when it notices the connection ended,
 * however it ended (a server that dies or loses its network), so another
 * server's next try takes it over. A handle that believes it leads checks
 * each time that its session still holds the lock: a connection lost and
 * found again by a proxy would otherwise lead twice.
 */
#include "store/pg/pg_int.h"

#include <stdio.h>
#include <string.h>

#define LEADER_CLASS 27514 /* "kz" */

static const struct pg_stmt take_q = {"SELECT pg_try_advisory_lock($1::integer, $2::integer)"};
static const struct pg_stmt held_q = {
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND"
        " pid = pg_backend_pid() AND classid = $1::oid AND objid = $2::oid AND objsubid = 2"};

/* The lock's second key: FNV-1a of the name, kept positive so that it
 * reads the same as an oid in pg_locks. */
static int64_t name_key(const char *name)
{
    uint32_t h = 2166136261u;

    for (; *name; name++)
        h = (h ^ (unsigned char)*name) * 16777619u;
    return (int64_t)(h & 0x7fffffffu);
}

int pg_leader_try(void *b, const char *name, struct kz_error *err)
{
    static const char what[] = "store: taking the lead";
    struct pg_store *s = b;
    struct pg_params p;
    PGresult *r;
    int i, held;

    for (i = 0; i < s->nleaders; i++)
        if (strcmp(s->leaders[i], name) == 0)
            break;
    if (i == s->nleaders && s->nleaders == STORE_LEADER_MAX)
        return kz_error_set(err, KZ_ELIMIT, "store: a handle leads at most %d tasks",
                            STORE_LEADER_MAX);
    pg_params_init(&p);
    pg_param_int(&p, LEADER_CLASS);
    pg_param_int(&p, name_key(name));
    /* held: check it still is; else try (never twice: the lock would
     * stack and need as many unlocks) */
    r = pg_run(s, i < s->nleaders ? &held_q : &take_q, &p, NULL, err, what);
    if (!r) {
        s->nleaders = 0; /* the session, and its locks, may be gone */
        return -1;
    }
    if (i < s->nleaders)
        held = pg_col_int(r, 0, 0) > 0;
    else
        held = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (held && i == s->nleaders)
        snprintf(s->leaders[s->nleaders++], sizeof(s->leaders[0]), "%s", name);
    if (!held && i < s->nleaders) {
        /* lost without an error: forget it, and try again next time */
        memmove(s->leaders[i], s->leaders[i + 1],
                (size_t)(s->nleaders - i - 1) * sizeof(s->leaders[0]));
        s->nleaders--;
    }
    return held;
}
