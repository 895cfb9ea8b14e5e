/*
 * The PostgreSQL backend's federation partners: peers, their communities
 * and links with checkpoints, sync outcomes and the partners' audit heads,
 * with the semantics of the SQLite backend's peers.c. A peer's rows change
 * together (pg_tx_open: a transaction of its own, or a savepoint of the
 * caller's), so `kizuna apply` can add and change peers inside its own
 * transaction.
 */
#include "store/pg/pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/kztime.h"

#define PEER_COLUMNS                                                                               \
    "key, name, url, token, org, public_key, ca, created, last_success, last_error,"               \
    " last_error_at, auth_user"

static const struct pg_stmt peer_add_q = {
        "INSERT INTO peers (name, url, token, org, public_key, ca, created, auth_user)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING key"};
static const struct pg_stmt community_add_q = {
        "INSERT INTO peer_communities (peer, community) VALUES ($1, $2) ON CONFLICT DO NOTHING"};
static const struct pg_stmt communities_clear_q = {"DELETE FROM peer_communities WHERE peer = $1"};
static const struct pg_stmt link_add_q = {
        "INSERT INTO peer_links (peer, direction, local, remote, checkpoint, checkpoint_text)"
        " VALUES ($1, $2, $3, $4, 0, '') ON CONFLICT (peer, direction, local, remote)"
        " DO UPDATE SET checkpoint = 0, checkpoint_text = ''"};
static const struct pg_stmt link_keep_q = {
        "INSERT INTO peer_links (peer, direction, local, remote, checkpoint, checkpoint_text)"
        " VALUES ($1, $2, $3, $4, 0, '') ON CONFLICT DO NOTHING"};
static const struct pg_stmt links_of_q = {
        "SELECT local, remote FROM peer_links WHERE peer = $1 AND direction = $2"};
static const struct pg_stmt link_drop_q = {
        "DELETE FROM peer_links WHERE peer = $1 AND direction = $2 AND local = $3"
        " AND remote = $4"};
static const struct pg_stmt peer_update_q = {
        "UPDATE peers SET url = $2, org = $3, public_key = $4, ca = $5 WHERE key = $1"};
static const struct pg_stmt peer_find_q = {"SELECT " PEER_COLUMNS " FROM peers WHERE name = $1"};
static const struct pg_stmt peer_each_q = {"SELECT " PEER_COLUMNS " FROM peers ORDER BY name"};
static const struct pg_stmt peer_remove_q = {"DELETE FROM peers WHERE name = $1"};
static const struct pg_stmt credentials_q = {"UPDATE peers SET token = $2 WHERE name = $1"};
static const struct pg_stmt credentials_user_q = {
        "UPDATE peers SET token = $2, auth_user = $3 WHERE name = $1"};
static const struct pg_stmt links_q = {
        "SELECT peer, direction, local, remote, checkpoint, checkpoint_text FROM peer_links"
        " WHERE peer = $1 ORDER BY direction, local, remote"};
static const struct pg_stmt own_communities_q = {
        "SELECT community FROM peer_communities WHERE peer = $1 ORDER BY community"};
static const struct pg_stmt all_communities_q = {
        "SELECT community FROM peer_communities WHERE peer = $1 UNION"
        " SELECT m.community FROM community_members m JOIN peers p ON p.org = m.org"
        " WHERE p.key = $1"};
static const struct pg_stmt outcome_error_q = {
        "UPDATE peers SET last_error = $2, last_error_at = $3 WHERE key = $1"};
static const struct pg_stmt outcome_success_q = {
        "UPDATE peers SET last_success = $2, last_error = '' WHERE key = $1"};
static const struct pg_stmt checkpoint_q = {
        "UPDATE peer_links SET checkpoint = $5, checkpoint_text = $6"
        " WHERE peer = $1 AND direction = $2 AND local = $3 AND remote = $4"};
static const struct pg_stmt head_get_q = {
        "SELECT peer, seq, hash, seen, evidence, problem, problem_at FROM peer_heads"
        " WHERE peer = $1"};
static const struct pg_stmt head_put_q = {
        "INSERT INTO peer_heads (peer, seq, hash, seen, evidence, problem, problem_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (peer) DO UPDATE SET"
        " seq = excluded.seq, hash = excluded.hash, seen = excluded.seen,"
        " evidence = excluded.evidence, problem = excluded.problem,"
        " problem_at = excluded.problem_at"};

static void read_peer(const PGresult *r, int row, struct store_peer *p)
{
    size_t n = 0;
    unsigned char *token;

    memset(p, 0, sizeof(*p));
    p->key = pg_col_int(r, row, 0);
    pg_col_text(r, row, 1, p->name, sizeof(p->name));
    pg_col_text(r, row, 2, p->url, sizeof(p->url));
    /* a token longer than the struct holds is not one sync/ sealed: none */
    token = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, 3), &n);
    if (token && n <= sizeof(p->token)) {
        memcpy(p->token, token, n);
        p->token_len = n;
    }
    PQfreemem(token);
    p->org = pg_col_int(r, row, 4);
    pg_col_text(r, row, 5, p->public_key, sizeof(p->public_key));
    pg_col_text(r, row, 6, p->ca, sizeof(p->ca));
    p->created_us = pg_col_int(r, row, 7);
    p->last_success_us = pg_col_int(r, row, 8);
    pg_col_text(r, row, 9, p->last_error, sizeof(p->last_error));
    p->last_error_us = pg_col_int(r, row, 10);
    pg_col_text(r, row, 11, p->user, sizeof(p->user));
}

/* The community keys st (with the peer as $1) lists, into out[*n..cap). */
static int read_communities(struct pg_store *s, const struct pg_stmt *st, int64_t peer,
                            int64_t *out, size_t cap, size_t *n, struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;

    pg_params_init(&p);
    pg_param_int(&p, peer);
    r = pg_run(s, st, &p, NULL, err, "store: reading a peer's communities");
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++)
        if (*n < cap)
            out[(*n)++] = pg_col_int(r, i, 0);
    PQclear(r);
    return 0;
}

static int pg_peer_own_communities(void *b, int64_t peer, int64_t *out, size_t cap, size_t *n,
                                   struct kz_error *err)
{
    return read_communities(b, &own_communities_q, peer, out, cap, n, err);
}

static int pg_peer_communities(void *b, int64_t peer, int64_t *out, size_t cap, size_t *n,
                               struct kz_error *err)
{
    return read_communities(b, &all_communities_q, peer, out, cap, n, err);
}

static int add_link(struct pg_store *s, const struct pg_stmt *st, int64_t peer, int direction,
                    int64_t local, const char *remote, struct kz_error *err, const char *what)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_int(&p, peer);
    pg_param_int(&p, direction);
    pg_param_int(&p, local);
    pg_param_text(&p, remote);
    return pg_change(s, st, &p, NULL, NULL, err, what);
}

static int add_communities(struct pg_store *s, int64_t peer, const int64_t *communities, size_t nc,
                           struct kz_error *err, const char *what)
{
    struct pg_params p;

    for (size_t i = 0; i < nc; i++) {
        pg_params_init(&p);
        pg_param_int(&p, peer);
        pg_param_int(&p, communities[i]);
        if (pg_change(s, &community_add_q, &p, NULL, NULL, err, what) < 0)
            return -1;
    }
    return 0;
}

static int pg_peer_add(void *b, struct store_peer *peer, const int64_t *communities, size_t nc,
                       const struct store_peer_link *links, size_t nl, struct kz_error *err)
{
    static const char what[] = "store: adding a peer";
    struct pg_store *s = b;
    struct pg_params p;
    PGresult *r;
    char msg[KZ_MAX_NAME + 64];

    if (pg_tx_open(s, 1, err, what) < 0)
        goto fail;
    pg_params_init(&p);
    pg_param_text(&p, peer->name);
    pg_param_text(&p, peer->url);
    pg_param_bytea(&p, peer->token, peer->token_len);
    pg_param_int(&p, peer->org);
    pg_param_text(&p, peer->public_key);
    pg_param_text(&p, peer->ca);
    pg_param_int(&p, peer->created_us);
    pg_param_text(&p, peer->user);
    snprintf(msg, sizeof(msg), "a peer named \"%s\" already exists", peer->name);
    r = pg_run(s, &peer_add_q, &p, msg, err, what);
    if (!r)
        goto fail;
    peer->key = pg_col_int(r, 0, 0);
    PQclear(r);
    if (add_communities(s, peer->key, communities, nc, err, what) < 0)
        goto fail;
    for (size_t i = 0; i < nl; i++)
        if (add_link(s, &link_add_q, peer->key, links[i].direction, links[i].local, links[i].remote,
                     err, what) < 0)
            goto fail;
    if (pg_tx_close(s, err, what) < 0)
        goto fail;
    return 0;
fail:
    pg_tx_abort(s);
    return -1;
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
static int set_peer_links(struct pg_store *s, int64_t peer, int dir,
                          const struct store_peer_link *links, size_t nl, struct kz_error *err)
{
    static const char what[] = "store: changing a peer";
    struct pg_params p;
    PGresult *r;

    pg_params_init(&p);
    pg_param_int(&p, peer);
    pg_param_int(&p, dir);
    r = pg_run(s, &links_of_q, &p, NULL, err, what);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t local = pg_col_int(r, i, 0);
        const char *remote = PQgetvalue(r, i, 1);
        if (link_wanted(links, nl, dir, local, remote))
            continue;
        if (add_link(s, &link_drop_q, peer, dir, local, remote, err, what) < 0) {
            PQclear(r);
            return -1;
        }
    }
    PQclear(r);
    for (size_t i = 0; i < nl; i++)
        if (links[i].direction == dir &&
            add_link(s, &link_keep_q, peer, dir, links[i].local, links[i].remote, err, what) < 0)
            return -1;
    return 0;
}

static int pg_peer_update(void *b, const struct store_peer *peer, const int64_t *communities,
                          size_t nc, int set_communities, const struct store_peer_link *links,
                          size_t nl, int set_links, struct kz_error *err)
{
    static const char what[] = "store: changing a peer";
    struct pg_store *s = b;
    struct pg_params p;
    uint64_t changed = 0;

    if (pg_tx_open(s, 1, err, what) < 0)
        goto fail;
    pg_params_init(&p);
    pg_param_int(&p, peer->key);
    pg_param_text(&p, peer->url);
    pg_param_int(&p, peer->org);
    pg_param_text(&p, peer->public_key);
    pg_param_text(&p, peer->ca);
    if (pg_change(s, &peer_update_q, &p, NULL, &changed, err, what) < 0)
        goto fail;
    if (changed == 0) {
        kz_error_set(err, KZ_ENOTFOUND, "no peer \"%s\"", peer->name);
        goto fail;
    }
    if (set_communities) {
        pg_params_init(&p);
        pg_param_int(&p, peer->key);
        if (pg_change(s, &communities_clear_q, &p, NULL, NULL, err, what) < 0 ||
            add_communities(s, peer->key, communities, nc, err, what) < 0)
            goto fail;
    }
    if ((set_links & STORE_LINK_PULL) &&
        set_peer_links(s, peer->key, STORE_LINK_PULL, links, nl, err) < 0)
        goto fail;
    if ((set_links & STORE_LINK_PUSH) &&
        set_peer_links(s, peer->key, STORE_LINK_PUSH, links, nl, err) < 0)
        goto fail;
    if (pg_tx_close(s, err, what) < 0)
        goto fail;
    return 0;
fail:
    pg_tx_abort(s);
    return -1;
}

static int pg_peer_find(void *b, const char *name, struct store_peer *out, struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;
    int found;

    pg_params_init(&p);
    pg_param_text(&p, name);
    r = pg_run(b, &peer_find_q, &p, NULL, err, "store: finding a peer");
    if (!r)
        return -1;
    found = PQntuples(r) == 1;
    if (found)
        read_peer(r, 0, out);
    PQclear(r);
    return found ? 0 : kz_error_set(err, KZ_ENOTFOUND, "no peer \"%s\"", name);
}

static int peer_row(const PGresult *r, int row, void *fn, void *ctx)
{
    struct store_peer p;

    read_peer(r, row, &p);
    return (*(store_peer_fn *)fn)(ctx, &p);
}

static int pg_peer_each(void *b, store_peer_fn fn, void *ctx, struct kz_error *err)
{
    PGresult *r = pg_run(b, &peer_each_q, NULL, NULL, err, "store: listing peers");

    if (!r)
        return -1;
    return pg_walk_rows(r, peer_row, &fn, ctx);
}

/* Changes one row found by name: KZ_ENOTFOUND when there is none. */
static int change_named(struct pg_store *s, const struct pg_stmt *st, const struct pg_params *p,
                        const char *name, struct kz_error *err, const char *what)
{
    uint64_t changed = 0;

    if (pg_change(s, st, p, NULL, &changed, err, what) < 0)
        return -1;
    return changed ? 0 : kz_error_set(err, KZ_ENOTFOUND, "no peer \"%s\"", name);
}

static int pg_peer_remove(void *b, const char *name, struct kz_error *err)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_text(&p, name);
    return change_named(b, &peer_remove_q, &p, name, err, "store: removing a peer");
}

static int pg_peer_credentials(void *b, const char *name, const unsigned char *token,
                               size_t token_len, const char *user, struct kz_error *err)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_text(&p, name);
    pg_param_bytea(&p, token, token_len);
    if (user)
        pg_param_text(&p, user);
    return change_named(b, user ? &credentials_user_q : &credentials_q, &p, name, err,
                        "store: replacing a peer's credentials");
}

static int link_row(const PGresult *r, int row, void *fn, void *ctx)
{
    struct store_peer_link l;

    memset(&l, 0, sizeof(l));
    l.peer = pg_col_int(r, row, 0);
    l.direction = (int)pg_col_int(r, row, 1);
    l.local = pg_col_int(r, row, 2);
    pg_col_text(r, row, 3, l.remote, sizeof(l.remote));
    l.checkpoint = pg_col_int(r, row, 4);
    pg_col_text(r, row, 5, l.checkpoint_text, sizeof(l.checkpoint_text));
    return (*(store_link_fn *)fn)(ctx, &l);
}

static int pg_peer_links(void *b, int64_t peer, store_link_fn fn, void *ctx, struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;

    pg_params_init(&p);
    pg_param_int(&p, peer);
    r = pg_run(b, &links_q, &p, NULL, err, "store: listing a peer's links");
    if (!r)
        return -1;
    return pg_walk_rows(r, link_row, &fn, ctx);
}

static int pg_peer_outcome(void *b, int64_t peer, const char *error, struct kz_error *err)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_int(&p, peer);
    if (error)
        pg_param_text(&p, error);
    pg_param_int(&p, kz_now_micros());
    return pg_change(b, error ? &outcome_error_q : &outcome_success_q, &p, NULL, NULL, err,
                     "store: recording a sync");
}

static int pg_link_checkpoint(void *b, const struct store_peer_link *l, int64_t checkpoint,
                              const char *text, struct kz_error *err)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_int(&p, l->peer);
    pg_param_int(&p, l->direction);
    pg_param_int(&p, l->local);
    pg_param_text(&p, l->remote);
    pg_param_int(&p, checkpoint);
    pg_param_text(&p, text ? text : "");
    return pg_change(b, &checkpoint_q, &p, NULL, NULL, err, "store: moving a checkpoint");
}

static int pg_peer_head_get(void *b, int64_t peer, struct store_peer_head *out,
                            struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;
    int found;

    pg_params_init(&p);
    pg_param_int(&p, peer);
    r = pg_run(b, &head_get_q, &p, NULL, err, "store: reading a partner's audit head");
    if (!r)
        return -1;
    found = PQntuples(r) == 1;
    if (found) {
        out->peer = pg_col_int(r, 0, 0);
        out->seq = pg_col_int(r, 0, 1);
        pg_col_bytea(r, 0, 2, out->hash, STORE_AUDIT_HASH_LEN);
        out->seen_us = pg_col_int(r, 0, 3);
        pg_col_text(r, 0, 4, out->evidence, sizeof(out->evidence));
        pg_col_text(r, 0, 5, out->problem, sizeof(out->problem));
        out->problem_us = pg_col_int(r, 0, 6);
    }
    PQclear(r);
    return found ? 0 : kz_error_set(err, KZ_ENOTFOUND, "no audit head seen");
}

static int pg_peer_head_put(void *b, const struct store_peer_head *h, struct kz_error *err)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_int(&p, h->peer);
    pg_param_int(&p, h->seq);
    pg_param_bytea(&p, h->hash, STORE_AUDIT_HASH_LEN);
    pg_param_int(&p, h->seen_us);
    pg_param_text(&p, h->evidence);
    pg_param_text(&p, h->problem);
    pg_param_int(&p, h->problem_us);
    return pg_change(b, &head_put_q, &p, NULL, NULL, err,
                     "store: recording a partner's audit head");
}

const struct store_peers_ops pg_peers_ops = {
        .peer_add = pg_peer_add,
        .peer_find = pg_peer_find,
        .peer_credentials = pg_peer_credentials,
        .peer_update = pg_peer_update,
        .peer_own_communities = pg_peer_own_communities,
        .peer_each = pg_peer_each,
        .peer_remove = pg_peer_remove,
        .peer_links = pg_peer_links,
        .peer_communities = pg_peer_communities,
        .peer_outcome = pg_peer_outcome,
        .link_checkpoint = pg_link_checkpoint,
        .peer_head_get = pg_peer_head_get,
        .peer_head_put = pg_peer_head_put,
};
