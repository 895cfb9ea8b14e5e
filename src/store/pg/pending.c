/*
 * The concerns the PostgreSQL backend does not carry yet: federation
 * peers and the audit log. Every call fails closed
 * with "not implemented on postgresql yet", so a node on PostgreSQL can
 * never believe it removed, linked or audited something it did not. Each
 * table moves to its own file when its concern is implemented.
 */
#include "store/pg/pg_int.h"

/* --- peers (store_peers.h) -------------------------------------------------- */

static int peers_not_yet(struct kz_error *err)
{
    return pg_not_yet(err, "federation (peers)");
}

static int pg_peer_add(void *b, struct store_peer *p, const int64_t *communities, size_t nc,
                       const struct store_peer_link *links, size_t nl, struct kz_error *err)
{
    (void)b, (void)p, (void)communities, (void)nc, (void)links, (void)nl;
    return peers_not_yet(err);
}

static int pg_peer_find(void *b, const char *name, struct store_peer *out, struct kz_error *err)
{
    (void)b, (void)name, (void)out;
    return peers_not_yet(err);
}

static int pg_peer_credentials(void *b, const char *name, const unsigned char *token,
                               size_t token_len, const char *user, struct kz_error *err)
{
    (void)b, (void)name, (void)token, (void)token_len, (void)user;
    return peers_not_yet(err);
}

static int pg_peer_update(void *b, const struct store_peer *p, const int64_t *communities,
                          size_t nc, int set_communities, const struct store_peer_link *links,
                          size_t nl, int set_links, struct kz_error *err)
{
    (void)b, (void)p, (void)communities, (void)nc, (void)set_communities, (void)links, (void)nl,
            (void)set_links;
    return peers_not_yet(err);
}

static int pg_peer_communities(void *b, int64_t peer, int64_t *out, size_t cap, size_t *n,
                               struct kz_error *err)
{
    (void)b, (void)peer, (void)out, (void)cap, (void)n;
    return peers_not_yet(err);
}

static int pg_peer_each(void *b, store_peer_fn fn, void *ctx, struct kz_error *err)
{
    (void)b, (void)fn, (void)ctx;
    return peers_not_yet(err);
}

static int pg_peer_remove(void *b, const char *name, struct kz_error *err)
{
    (void)b, (void)name;
    return peers_not_yet(err);
}

static int pg_peer_links(void *b, int64_t peer, store_link_fn fn, void *ctx, struct kz_error *err)
{
    (void)b, (void)peer, (void)fn, (void)ctx;
    return peers_not_yet(err);
}

static int pg_peer_outcome(void *b, int64_t peer, const char *error, struct kz_error *err)
{
    (void)b, (void)peer, (void)error;
    return peers_not_yet(err);
}

static int pg_link_checkpoint(void *b, const struct store_peer_link *l, int64_t checkpoint,
                              const char *text, struct kz_error *err)
{
    (void)b, (void)l, (void)checkpoint, (void)text;
    return peers_not_yet(err);
}

static int pg_peer_head_get(void *b, int64_t peer, struct store_peer_head *out,
                            struct kz_error *err)
{
    (void)b, (void)peer, (void)out;
    return peers_not_yet(err);
}

static int pg_peer_head_put(void *b, const struct store_peer_head *h, struct kz_error *err)
{
    (void)b, (void)h;
    return peers_not_yet(err);
}

const struct store_peers_ops pg_peers_ops = {
        .peer_add = pg_peer_add,
        .peer_find = pg_peer_find,
        .peer_credentials = pg_peer_credentials,
        .peer_update = pg_peer_update,
        .peer_own_communities = pg_peer_communities,
        .peer_each = pg_peer_each,
        .peer_remove = pg_peer_remove,
        .peer_links = pg_peer_links,
        .peer_communities = pg_peer_communities,
        .peer_outcome = pg_peer_outcome,
        .link_checkpoint = pg_link_checkpoint,
        .peer_head_get = pg_peer_head_get,
        .peer_head_put = pg_peer_head_put,
};

/* --- the audit log (store_audit.h) ------------------------------------------ */

static int audit_not_yet(struct kz_error *err)
{
    return pg_not_yet(err, "the audit log");
}

static int pg_audit_append(void *b, struct store_audit *rows, size_t n, store_audit_chain_fn fn,
                           void *ctx, int durable, struct kz_error *err)
{
    (void)b, (void)rows, (void)n, (void)fn, (void)ctx, (void)durable;
    return audit_not_yet(err);
}

static int pg_audit_get(void *b, int64_t seq, struct store_audit *out, struct kz_error *err)
{
    (void)b, (void)seq, (void)out;
    return audit_not_yet(err);
}

static int pg_audit_witness(void *b, int64_t seq, const unsigned char *hash,
                            const unsigned char *mac, struct kz_error *err)
{
    (void)b, (void)seq, (void)hash, (void)mac;
    return audit_not_yet(err);
}

static int pg_audit_head(void *b, int64_t *seq, unsigned char *hash, unsigned char *mac,
                         struct kz_error *err)
{
    (void)b, (void)seq, (void)hash, (void)mac;
    return audit_not_yet(err);
}

static int pg_audit_each(void *b, int64_t since_us, const char *user, store_audit_fn fn, void *ctx,
                         struct kz_error *err)
{
    (void)b, (void)since_us, (void)user, (void)fn, (void)ctx;
    return audit_not_yet(err);
}

const struct store_audit_ops pg_audit_ops = {
        .audit_append = pg_audit_append,
        .audit_get = pg_audit_get,
        .audit_witness = pg_audit_witness,
        .audit_head = pg_audit_head,
        .audit_each = pg_audit_each,
};
