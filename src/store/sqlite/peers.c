/*
 * The SQLite backend's federation partners: peers, their communities and
 * links with checkpoints, sync outcomes and the partners' audit heads.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "util/kztime.h"

/* --- peers ---------------------------------------------------------------- */

#define PEER_COLUMNS                                                                               \
    "key, name, url, token, org, public_key, ca, created, last_success, last_error,"               \
    " last_error_at, auth_user"

static void read_peer(sqlite3_stmt *q, struct store_peer *p)
{
    size_t n = (size_t)sqlite3_column_bytes(q, 3);

    memset(p, 0, sizeof(*p));
    p->key = sqlite3_column_int64(q, 0);
    sq_col_text(q, 1, p->name, sizeof(p->name));
    sq_col_text(q, 2, p->url, sizeof(p->url));
    if (n <= sizeof(p->token)) {
        memcpy(p->token, sqlite3_column_blob(q, 3), n);
        p->token_len = n;
    }
    p->org = sqlite3_column_int64(q, 4);
    sq_col_text(q, 5, p->public_key, sizeof(p->public_key));
    sq_col_text(q, 6, p->ca, sizeof(p->ca));
    p->created_us = sqlite3_column_int64(q, 7);
    p->last_success_us = sqlite3_column_int64(q, 8);
    sq_col_text(q, 9, p->last_error, sizeof(p->last_error));
    p->last_error_us = sqlite3_column_int64(q, 10);
    sq_col_text(q, 11, p->user, sizeof(p->user));
}

/* A peer's rows change together: in a transaction of their own, or, when
 * the caller has one open (`kizuna apply`), in a savepoint inside it, so a
 * failure undoes this peer's change and leaves the caller's transaction to
 * decide about the rest. */
static int peer_tx_begin(struct sqlite_store *s, struct kz_error *err)
{
    return sq_exec(s, s->in_tx ? "SAVEPOINT kz_peer" : "BEGIN IMMEDIATE", err);
}

static int peer_tx_end(struct sqlite_store *s, struct kz_error *err)
{
    return sq_exec(s, s->in_tx ? "RELEASE kz_peer" : "COMMIT", err);
}

static void peer_tx_abort(struct sqlite_store *s)
{
    sqlite3_exec(s->db, s->in_tx ? "ROLLBACK TO kz_peer; RELEASE kz_peer" : "ROLLBACK", NULL, NULL,
                 NULL);
}

/* The community keys sql (with the peer as ?1) lists, into out[*n..cap). */
static int read_communities(struct sqlite_store *s, const char *sql, int64_t peer, int64_t *out,
                            size_t cap, size_t *n, struct kz_error *err)
{
    sqlite3_stmt *q = sq_prepare(s, sql, err, "store: reading a peer's communities");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, peer);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        if (*n < cap)
            out[(*n)++] = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, err, "store: reading a peer's communities");
    return 0;
}

static int sqlite_peer_own_communities(void *b, int64_t peer, int64_t *out, size_t cap, size_t *n,
                                       struct kz_error *err)
{
    return read_communities(b,
                            "SELECT community FROM peer_communities WHERE peer = ?1"
                            " ORDER BY community",
                            peer, out, cap, n, err);
}

static int insert_link(struct sqlite_store *s, const struct store_peer_link *l, int64_t peer,
                       struct kz_error *err)
{
    sqlite3_stmt *q =
            sq_prepare(s,
                       "INSERT OR REPLACE INTO peer_links (peer, direction, local, remote,"
                       " checkpoint, checkpoint_text) VALUES (?1, ?2, ?3, ?4, 0, '')",
                       err, "store: adding a peer");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, peer);
    sqlite3_bind_int(q, 2, l->direction);
    sqlite3_bind_int64(q, 3, l->local);
    sqlite3_bind_text(q, 4, l->remote, -1, SQLITE_STATIC);
    return sq_finish_change(s, q, NULL, err, "store: adding a peer");
}

static int sqlite_peer_add(void *b, struct store_peer *p, const int64_t *communities, size_t nc,
                           const struct store_peer_link *links, size_t nl, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q;
    char msg[KZ_MAX_NAME + 64];

    if (peer_tx_begin(s, err) < 0)
        return -1;
    q = sq_prepare(s,
                   "INSERT INTO peers (name, url, token, org, public_key, ca, created, auth_user)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                   err, "store: adding a peer");
    if (!q)
        goto fail;
    sqlite3_bind_text(q, 1, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, p->url, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 3, p->token, (int)p->token_len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, p->org);
    sqlite3_bind_text(q, 5, p->public_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, p->ca, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 7, p->created_us);
    sqlite3_bind_text(q, 8, p->user, -1, SQLITE_STATIC);
    snprintf(msg, sizeof(msg), "a peer named \"%s\" already exists", p->name);
    if (sq_finish_change(s, q, msg, err, "store: adding a peer") < 0)
        goto fail;
    p->key = sqlite3_last_insert_rowid(s->db);
    for (size_t i = 0; i < nc; i++) {
        q = sq_prepare(s,
                       "INSERT OR IGNORE INTO peer_communities (peer, community) VALUES (?1, ?2)",
                       err, "store: adding a peer");
        if (!q)
            goto fail;
        sqlite3_bind_int64(q, 1, p->key);
        sqlite3_bind_int64(q, 2, communities[i]);
        if (sq_finish_change(s, q, NULL, err, "store: adding a peer") < 0)
            goto fail;
    }
    for (size_t i = 0; i < nl; i++)
        if (insert_link(s, &links[i], p->key, err) < 0)
            goto fail;
    if (peer_tx_end(s, err) < 0)
        goto fail;
    return 0;
fail:
    peer_tx_abort(s);
    return -1;
}

/* Makes the peer's own communities exactly communities[0..nc) (a
 * membership has no state of its own to keep). */
static int set_peer_communities(struct sqlite_store *s, int64_t peer, const int64_t *communities,
                                size_t nc, struct kz_error *err)
{
    sqlite3_stmt *q = sq_prepare(s, "DELETE FROM peer_communities WHERE peer = ?1", err,
                                 "store: changing a peer");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, peer);
    if (sq_finish_change(s, q, NULL, err, "store: changing a peer") < 0)
        return -1;
    for (size_t i = 0; i < nc; i++) {
        q = sq_prepare(s,
                       "INSERT OR IGNORE INTO peer_communities (peer, community) VALUES (?1, ?2)",
                       err, "store: changing a peer");
        if (!q)
            return -1;
        sqlite3_bind_int64(q, 1, peer);
        sqlite3_bind_int64(q, 2, communities[i]);
        if (sq_finish_change(s, q, NULL, err, "store: changing a peer") < 0)
            return -1;
    }
    return 0;
}

static int link_wanted(const struct store_peer_link *links, size_t nl, int dir, int64_t local,
                       const char *remote)
{
    for (size_t i = 0; i < nl; i++)
        if (links[i].direction == dir && links[i].local == local &&
            strcmp(links[i].remote, remote) == 0)
            return 1;
    return 0;
}

/* Makes the peer's links of direction dir exactly those of links[0..nl)
 * with that direction: the links kept keep their checkpoints, so a pull
 * goes on where it stopped. */
static int set_peer_links(struct sqlite_store *s, int64_t peer, int dir,
                          const struct store_peer_link *links, size_t nl, struct kz_error *err)
{
    sqlite3_stmt *q = sq_prepare(s,
                                 "SELECT local, remote FROM peer_links WHERE peer = ?1 AND"
                                 " direction = ?2",
                                 err, "store: changing a peer");
    struct store_peer_link *gone = NULL;
    size_t ngone = 0, cap = 0;
    int rc = -1, step;

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, peer);
    sqlite3_bind_int(q, 2, dir);
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t local = sqlite3_column_int64(q, 0);
        const char *remote = (const char *)sqlite3_column_text(q, 1);
        if (link_wanted(links, nl, dir, local, remote ? remote : ""))
            continue;
        if (ngone == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct store_peer_link *ng = realloc(gone, ncap * sizeof(*ng));
            if (!ng) {
                sqlite3_finalize(q);
                kz_error_set(err, KZ_ENOMEM, "out of memory");
                goto out;
            }
            gone = ng;
            cap = ncap;
        }
        memset(&gone[ngone], 0, sizeof(gone[0]));
        gone[ngone].local = local;
        sq_col_text(q, 1, gone[ngone].remote, sizeof(gone[0].remote));
        ngone++;
    }
    sqlite3_finalize(q);
    if (step != SQLITE_DONE) {
        sq_fail(s, step, err, "store: changing a peer");
        goto out;
    }
    for (size_t i = 0; i < ngone; i++) {
        q = sq_prepare(s,
                       "DELETE FROM peer_links WHERE peer = ?1 AND direction = ?2 AND local = ?3"
                       " AND remote = ?4",
                       err, "store: changing a peer");
        if (!q)
            goto out;
        sqlite3_bind_int64(q, 1, peer);
        sqlite3_bind_int(q, 2, dir);
        sqlite3_bind_int64(q, 3, gone[i].local);
        sqlite3_bind_text(q, 4, gone[i].remote, -1, SQLITE_STATIC);
        if (sq_finish_change(s, q, NULL, err, "store: changing a peer") < 0)
            goto out;
    }
    for (size_t i = 0; i < nl; i++) {
        if (links[i].direction != dir)
            continue;
        q = sq_prepare(s,
                       "INSERT OR IGNORE INTO peer_links (peer, direction, local, remote,"
                       " checkpoint, checkpoint_text) VALUES (?1, ?2, ?3, ?4, 0, '')",
                       err, "store: changing a peer");
        if (!q)
            goto out;
        sqlite3_bind_int64(q, 1, peer);
        sqlite3_bind_int(q, 2, dir);
        sqlite3_bind_int64(q, 3, links[i].local);
        sqlite3_bind_text(q, 4, links[i].remote, -1, SQLITE_STATIC);
        if (sq_finish_change(s, q, NULL, err, "store: changing a peer") < 0)
            goto out;
    }
    rc = 0;
out:
    free(gone);
    return rc;
}

static int sqlite_peer_update(void *b, const struct store_peer *p, const int64_t *communities,
                              size_t nc, int set_communities, const struct store_peer_link *links,
                              size_t nl, int set_links, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q;

    if (peer_tx_begin(s, err) < 0)
        return -1;
    q = sq_prepare(s,
                   "UPDATE peers SET url = ?2, org = ?3, public_key = ?4, ca = ?5 WHERE key = ?1",
                   err, "store: changing a peer");
    if (!q)
        goto fail;
    sqlite3_bind_int64(q, 1, p->key);
    sqlite3_bind_text(q, 2, p->url, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, p->org);
    sqlite3_bind_text(q, 4, p->public_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, p->ca, -1, SQLITE_STATIC);
    if (sq_finish_change(s, q, NULL, err, "store: changing a peer") < 0)
        goto fail;
    if (sqlite3_changes(s->db) == 0) {
        kz_error_set(err, KZ_ENOTFOUND, "no peer \"%s\"", p->name);
        goto fail;
    }
    if (set_communities && set_peer_communities(s, p->key, communities, nc, err) < 0)
        goto fail;
    if ((set_links & STORE_LINK_PULL) &&
        set_peer_links(s, p->key, STORE_LINK_PULL, links, nl, err) < 0)
        goto fail;
    if ((set_links & STORE_LINK_PUSH) &&
        set_peer_links(s, p->key, STORE_LINK_PUSH, links, nl, err) < 0)
        goto fail;
    if (peer_tx_end(s, err) < 0)
        goto fail;
    return 0;
fail:
    peer_tx_abort(s);
    return -1;
}

static int sqlite_peer_find(void *b, const char *name, struct store_peer *out, struct kz_error *err)
{
    struct sqlite_store *s = b;
    const char *sql = "SELECT " PEER_COLUMNS " FROM peers WHERE name = ?1";
    sqlite3_stmt *q = sq_cached_query(s, sql, strlen(sql), err);
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        read_peer(q, out);
    sqlite3_reset(q);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, err, "store: finding a peer");
    return kz_error_set(err, KZ_ENOTFOUND, "no peer \"%s\"", name);
}

static int sqlite_peer_each_row(sqlite3_stmt *q, const struct walk *w)
{
    struct store_peer p;

    read_peer(q, &p);
    return ((store_peer_fn)w->fn)(w->ctx, &p);
}

static int sqlite_peer_each(void *b, store_peer_fn fn, void *ctx, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s, "SELECT " PEER_COLUMNS " FROM peers ORDER BY name", err,
                                 "store: listing peers");

    if (!q)
        return -1;
    {
        struct walk w = {(void (*)(void))fn, ctx};
        return sq_walk_rows(s, q, sqlite_peer_each_row, &w, err, "store: listing peers");
    }
}

static int sqlite_peer_remove(void *b, const char *name, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            sq_prepare(s, "DELETE FROM peers WHERE name = ?1", err, "store: removing a peer");

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    if (sq_finish_change(s, q, NULL, err, "store: removing a peer") < 0)
        return -1;
    if (sqlite3_changes(s->db) == 0)
        return kz_error_set(err, KZ_ENOTFOUND, "no peer \"%s\"", name);
    return 0;
}

static int sqlite_peer_credentials(void *b, const char *name, const unsigned char *token,
                                   size_t token_len, const char *user, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            sq_prepare(s,
                       user ? "UPDATE peers SET token = ?2, auth_user = ?3 WHERE name = ?1"
                            : "UPDATE peers SET token = ?2 WHERE name = ?1",
                       err, "store: replacing a peer's credentials");

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, token, (int)token_len, SQLITE_STATIC);
    if (user)
        sqlite3_bind_text(q, 3, user, -1, SQLITE_STATIC);
    if (sq_finish_change(s, q, NULL, err, "store: replacing a peer's credentials") < 0)
        return -1;
    if (sqlite3_changes(s->db) == 0)
        return kz_error_set(err, KZ_ENOTFOUND, "no peer \"%s\"", name);
    return 0;
}

static int sqlite_peer_links_row(sqlite3_stmt *q, const struct walk *w)
{
    struct store_peer_link l;

    memset(&l, 0, sizeof(l));
    l.peer = sqlite3_column_int64(q, 0);
    l.direction = sqlite3_column_int(q, 1);
    l.local = sqlite3_column_int64(q, 2);
    sq_col_text(q, 3, l.remote, sizeof(l.remote));
    l.checkpoint = sqlite3_column_int64(q, 4);
    sq_col_text(q, 5, l.checkpoint_text, sizeof(l.checkpoint_text));
    return ((store_link_fn)w->fn)(w->ctx, &l);
}

static int sqlite_peer_links(void *b, int64_t peer, store_link_fn fn, void *ctx,
                             struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            sq_prepare(s,
                       "SELECT peer, direction, local, remote, checkpoint, checkpoint_text"
                       " FROM peer_links WHERE peer = ?1 ORDER BY direction, local, remote",
                       err, "store: listing a peer's links");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, peer);
    {
        struct walk w = {(void (*)(void))fn, ctx};
        return sq_walk_rows(s, q, sqlite_peer_links_row, &w, err, "store: listing a peer's links");
    }
}

static int sqlite_peer_communities(void *b, int64_t peer, int64_t *out, size_t cap, size_t *n,
                                   struct kz_error *err)
{
    return read_communities(b,
                            "SELECT community FROM peer_communities WHERE peer = ?1 UNION"
                            " SELECT m.community FROM community_members m JOIN peers p"
                            " ON p.org = m.org WHERE p.key = ?1",
                            peer, out, cap, n, err);
}

static int sqlite_peer_outcome(void *b, int64_t peer, const char *error, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s,
                                 error ? "UPDATE peers SET last_error = ?2, last_error_at = ?3"
                                         " WHERE key = ?1"
                                       : "UPDATE peers SET last_success = ?3, last_error = ''"
                                         " WHERE key = ?1",
                                 err, "store: recording a sync");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, peer);
    if (error)
        sqlite3_bind_text(q, 2, error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, kz_now_micros());
    return sq_finish_change(s, q, NULL, err, "store: recording a sync");
}

static int sqlite_link_checkpoint(void *b, const struct store_peer_link *l, int64_t checkpoint,
                                  const char *text, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            sq_prepare(s,
                       "UPDATE peer_links SET checkpoint = ?5, checkpoint_text = ?6"
                       " WHERE peer = ?1 AND direction = ?2 AND local = ?3 AND remote = ?4",
                       err, "store: moving a checkpoint");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, l->peer);
    sqlite3_bind_int(q, 2, l->direction);
    sqlite3_bind_int64(q, 3, l->local);
    sqlite3_bind_text(q, 4, l->remote, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, checkpoint);
    sqlite3_bind_text(q, 6, text ? text : "", -1, SQLITE_STATIC);
    return sq_finish_change(s, q, NULL, err, "store: moving a checkpoint");
}

static int sqlite_peer_head_get(void *b, int64_t peer, struct store_peer_head *out,
                                struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s,
                                 "SELECT peer, seq, hash, seen, evidence, problem, problem_at"
                                 " FROM peer_heads WHERE peer = ?1",
                                 err, "store: reading a partner's audit head");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, peer);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        out->peer = sqlite3_column_int64(q, 0);
        out->seq = sqlite3_column_int64(q, 1);
        sq_copy_blob(q, 2, out->hash);
        out->seen_us = sqlite3_column_int64(q, 3);
        sq_col_text(q, 4, out->evidence, sizeof(out->evidence));
        sq_col_text(q, 5, out->problem, sizeof(out->problem));
        out->problem_us = sqlite3_column_int64(q, 6);
    }
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, err, "store: reading a partner's audit head");
    return kz_error_set(err, KZ_ENOTFOUND, "no audit head seen");
}

static int sqlite_peer_head_put(void *b, const struct store_peer_head *h, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            sq_prepare(s,
                       "INSERT OR REPLACE INTO peer_heads (peer, seq, hash, seen, evidence,"
                       " problem, problem_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                       err, "store: recording a partner's audit head");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, h->peer);
    sqlite3_bind_int64(q, 2, h->seq);
    sqlite3_bind_blob(q, 3, h->hash, STORE_AUDIT_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, h->seen_us);
    sqlite3_bind_text(q, 5, h->evidence, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, h->problem, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 7, h->problem_us);
    return sq_finish_change(s, q, NULL, err, "store: recording a partner's audit head");
}

const struct store_peers_ops sqlite_peers_ops = {
        .peer_add = sqlite_peer_add,
        .peer_find = sqlite_peer_find,
        .peer_credentials = sqlite_peer_credentials,
        .peer_update = sqlite_peer_update,
        .peer_own_communities = sqlite_peer_own_communities,
        .peer_each = sqlite_peer_each,
        .peer_remove = sqlite_peer_remove,
        .peer_links = sqlite_peer_links,
        .peer_communities = sqlite_peer_communities,
        .peer_outcome = sqlite_peer_outcome,
        .link_checkpoint = sqlite_link_checkpoint,
        .peer_head_get = sqlite_peer_head_get,
        .peer_head_put = sqlite_peer_head_put,
};
