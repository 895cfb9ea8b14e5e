/*
 * The store: where a node keeps its STIX objects and everything about them
 * (collections, date added, versions). One interface, several backends
 * chosen by name (SQLite embedded by default; PostgreSQL for nodes that
 * outgrow one machine), each a table of functions in store_backend.h.
 *
 * Contracts that every backend keeps:
 * - Writes happen inside store_begin/store_commit; a failed call leaves the
 *   transaction open for the caller to roll back, and nothing of it lands.
 *   store_commit returns only once the data is durable.
 * - date_added is assigned by the store in microseconds, unique across the
 *   node and increasing in commit order, so "added_after = the last date I
 *   saw" never skips or repeats an object, even under concurrent writers.
 * - An object version is (collection, id, version); storing the same one
 *   again is a duplicate when the content is equal, a conflict otherwise.
 */
#ifndef KZ_STORE_H
#define KZ_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "stix/stix.h"
#include "util/error.h"
#include "util/limits.h"
#include "util/uuid.h"

struct store;

/* Opens the store named by backend ("sqlite") at location (a file path for
 * SQLite), creating and migrating the schema when create is set. Returns NULL
 * with err set on failure. */
struct store *store_open(const char *backend, const char *location, int create,
                         struct kz_error *err);

/* Closes the store, rolling back any open transaction. Accepts NULL. */
void store_close(struct store *s);

/* The backend's name, e.g. "sqlite". */
const char *store_backend_name(const struct store *s);

/* A number that changes whenever another connection (in this process or
 * another) commits to the store: callers cache what they read and drop it
 * when this changes. Commits made through s itself do not change it. */
int store_data_version(struct store *s, uint64_t *v, struct kz_error *err);

/* Leaves folding the write-ahead log back into the database to whoever
 * calls store_checkpoint, instead of doing it inside commits: kizuna
 * serve's connections (its main thread checkpoints every second, off the
 * requests' path), a sync round (a store_checkpointer beside it) and an
 * import (once, at the end). Commits stay durable. */
void store_defer_checkpoints(struct store *s, int on);
/* ... except that a commit still checkpoints once the log holds this many
 * pages (256 MiB of 16 KiB pages). */
#define STORE_DEFERRED_CHECKPOINT_PAGES 16384

/* A connection that writes a lot in one transaction (an import, a sync
 * round): checkpoints deferred as above, and page caches (the objects' and
 * the id index's) of STORE_BULK_CACHE_KIB each, so that the pages a
 * transaction dirties are not written out twice. */
void store_set_bulk(struct store *s);
#define STORE_BULK_CACHE_KIB 65536

/* Folds the write-ahead log into the database without blocking readers or
 * writers. */
int store_checkpoint(struct store *s, struct kz_error *err);
/* ... all of it, then empties the log file (the end of an import, whose
 * log can be as large as the database): waits, like a writer, for readers
 * still reading from the log. */
int store_checkpoint_truncate(struct store *s, struct kz_error *err);

/* A thread with its own connection that checkpoints every interval_ms, so
 * a long writer (a sync round) never pays for it in its commits. */
struct store_checkpointer;
struct store_checkpointer *store_checkpointer_start(const char *backend, const char *location,
                                                    int interval_ms, struct kz_error *err);
void store_checkpointer_stop(struct store_checkpointer *c);

/* Write transactions. begin waits up to KZ_STORE_BUSY_TIMEOUT_MS for other
 * writers. rollback accepts a store with no open transaction. */
int store_begin(struct store *s, struct kz_error *err);
int store_commit(struct store *s, struct kz_error *err);
void store_rollback(struct store *s);

/* A nested step inside an open transaction: what it wrote is kept by
 * release and undone by rollback_step, the rest of the transaction either
 * way (a sync commits several pulled pages together, each one a step). */
int store_step_begin(struct store *s, struct kz_error *err);
int store_step_release(struct store *s, struct kz_error *err);
void store_step_rollback(struct store *s);

/* --- collections -------------------------------------------------------- */

struct store_collection {
    int64_t key;                 /* the backend's key; stable for the store's life */
    char id[KZ_UUID_LEN];        /* the TAXII collection id */
    char alias[KZ_MAX_NAME + 1]; /* the name given at creation */
    char api_root[KZ_MAX_NAME + 1];
    char title[KZ_MAX_TEXT + 1];
    char description[KZ_MAX_TEXT + 1];
    int64_t created_us;
};

/* Creates a collection; fills c->key, c->id (when empty) and created_us.
 * KZ_EEXISTS when the alias is taken in that API root. */
int store_collection_add(struct store *s, struct store_collection *c, struct kz_error *err);

/* Finds a collection by id or alias within api_root (NULL: any). */
int store_collection_find(struct store *s, const char *api_root, const char *id_or_alias,
                          struct store_collection *out, struct kz_error *err);

/* The callbacks of every listing (store_*_each, store_peer_links) answer 0
 * to go on, STORE_STOP to end the listing early (a success: "found it"), or
 * -1 for a failure they have described in their own context, which the
 * listing returns as -1. */
#define STORE_STOP 1

typedef int (*store_collection_fn)(void *ctx, const struct store_collection *c);

/* Calls fn for each collection of api_root (NULL: all), ordered by alias. */
int store_collection_each(struct store *s, const char *api_root, store_collection_fn fn, void *ctx,
                          struct kz_error *err);

/* --- API roots, organisations, users, tokens ------------------------------ */

struct store_api_root {
    char name[KZ_MAX_NAME + 1]; /* the URL path segment, e.g. "default" */
    char title[KZ_MAX_TEXT + 1];
    char description[KZ_MAX_TEXT + 1];
    uint64_t max_content_length; /* bytes a POST may carry */
};

int store_api_root_add(struct store *s, const struct store_api_root *r, struct kz_error *err);
int store_api_root_find(struct store *s, const char *name, struct store_api_root *out,
                        struct kz_error *err);
typedef int (*store_api_root_fn)(void *ctx, const struct store_api_root *r);
int store_api_root_each(struct store *s, store_api_root_fn fn, void *ctx, struct kz_error *err);

struct store_org {
    int64_t key;
    char name[KZ_MAX_NAME + 1];
    char country[8]; /* ISO 3166-1 alpha-2, "" when unknown */
    char sector[64];
    char kind[32];                     /* government, cert, cii-operator, business */
    char identity[KZ_MAX_STIX_ID + 1]; /* the STIX identity standing for it */
    int64_t created_us;
};

int store_org_add(struct store *s, struct store_org *o, struct kz_error *err);
int store_org_find(struct store *s, const char *name, struct store_org *out, struct kz_error *err);
int store_org_find_key(struct store *s, int64_t key, struct store_org *out, struct kz_error *err);
int store_org_find_identity(struct store *s, const char *identity, struct store_org *out,
                            struct kz_error *err);
typedef int (*store_org_fn)(void *ctx, const struct store_org *o);
int store_org_each(struct store *s, store_org_fn fn, void *ctx, struct kz_error *err);

struct store_user {
    int64_t key;
    char name[KZ_MAX_NAME + 1];
    int64_t org; /* store_org.key */
    char org_name[KZ_MAX_NAME + 1];
    char role[32]; /* reader, contributor, org-admin, node-admin */
    int64_t created_us;
    int disabled; /* 1: its tokens are refused until it is enabled again */
};

int store_user_add(struct store *s, struct store_user *u, struct kz_error *err);
int store_user_find(struct store *s, const char *name, struct store_user *out,
                    struct kz_error *err);
int store_user_get(struct store *s, int64_t key, struct store_user *out, struct kz_error *err);
typedef int (*store_user_fn)(void *ctx, const struct store_user *u);
int store_user_each(struct store *s, store_user_fn fn, void *ctx, struct kz_error *err);

/* Changes a user's role (NULL: kept) and disabled flag (-1: kept).
 * KZ_ENOTFOUND when there is no such user. */
int store_user_update(struct store *s, int64_t key, const char *role, int disabled,
                      struct kz_error *err);

#define STORE_TOKEN_ID_LEN   16 /* hex characters of a token's public id */
#define STORE_TOKEN_HASH_LEN 32 /* BLAKE2b-256 of the whole token */

struct store_token {
    int64_t key;
    char token_id[STORE_TOKEN_ID_LEN + 1];
    int64_t user; /* store_user.key */
    unsigned char hash[STORE_TOKEN_HASH_LEN];
    int64_t created_us;
    int64_t revoked_us; /* 0 while valid */
};

int store_token_add(struct store *s, struct store_token *t, struct kz_error *err);
int store_token_find(struct store *s, const char *token_id, struct store_token *out,
                     struct kz_error *err);
typedef int (*store_token_fn)(void *ctx, const struct store_token *t);
/* Calls fn for each token of user (0: all users), oldest first. */
int store_token_each(struct store *s, int64_t user, store_token_fn fn, void *ctx,
                     struct kz_error *err);

/* Marks a token revoked now; KZ_ENOTFOUND when there is no such token. */
int store_token_revoke(struct store *s, const char *token_id, struct kz_error *err);

/* --- grants and communities --------------------------------------------- */

enum store_grant_kind {
    STORE_GRANT_USER = 1,
    STORE_GRANT_ORG,
    STORE_GRANT_COMMUNITY,
    STORE_GRANT_ROLE,
};

struct store_grant {
    int64_t collection;
    enum store_grant_kind kind;
    int64_t subject;                    /* user, org or community key; 0 for roles */
    char role[32];                      /* for STORE_GRANT_ROLE */
    char subject_name[KZ_MAX_NAME + 1]; /* filled when listing */
    int can_read;
    int can_write;
};

/* Creates or replaces the grant of (collection, kind, subject). */
int store_grant_set(struct store *s, const struct store_grant *g, struct kz_error *err);

/* A user's access to a collection, by the kind of grant that gives it. */
struct store_access {
    int can_read, can_write; /* through any grant */
    int read_as_user;        /* a grant to the user */
    int read_as_org;         /* a grant to its organisation */
    int read_as_community;   /* a grant to a community of its organisation */
    int read_as_role;        /* a grant to its role */
};

/* Works out a user's (with its org and role) access to a collection. */
int store_grant_check(struct store *s, int64_t collection, int64_t user, int64_t org,
                      const char *role, struct store_access *out, struct kz_error *err);

typedef int (*store_grant_fn)(void *ctx, const struct store_grant *g);
int store_grant_each(struct store *s, int64_t collection, store_grant_fn fn, void *ctx,
                     struct kz_error *err);

struct store_community {
    int64_t key;
    char name[KZ_MAX_NAME + 1];
    int64_t created_us;
};

int store_community_add(struct store *s, struct store_community *c, struct kz_error *err);
int store_community_find(struct store *s, const char *name, struct store_community *out,
                         struct kz_error *err);
typedef int (*store_community_fn)(void *ctx, const struct store_community *c, const char *members);
/* Calls fn for each community with its member organisations' names,
 * comma-separated. */
int store_community_each(struct store *s, store_community_fn fn, void *ctx, struct kz_error *err);

/* Adds org to community; adding twice is not an error. */
int store_community_join(struct store *s, int64_t community, int64_t org, struct kz_error *err);

/* --- changing and removing what the operator made ------------------------- */

/* Takes org out of community; KZ_ENOTFOUND when it was not a member. */
int store_community_leave(struct store *s, int64_t community, int64_t org, struct kz_error *err);

/* Changes an organisation's country, sector and kind (o->key names it; its
 * name and identity never change). */
int store_org_update(struct store *s, const struct store_org *o, struct kz_error *err);

/* Changes a collection's title and description (c->key names it). */
int store_collection_update(struct store *s, const struct store_collection *c,
                            struct kz_error *err);

enum store_entity {
    STORE_ENTITY_ORG = 1,
    STORE_ENTITY_USER,
    STORE_ENTITY_COMMUNITY,
    STORE_ENTITY_COLLECTION,
};

/* What refers to an organisation, user, community or collection: what a
 * removal would take with it, or leave behind. */
struct store_refs {
    uint64_t users;   /* org: its accounts */
    uint64_t peers;   /* org: peers standing for it; community: peers listing it */
    uint64_t objects; /* org: versions it produced, submitted or is a recipient of;
                         collection: the versions it holds */
    uint64_t grants;  /* grants to it; collection: grants on it */
    uint64_t members; /* org: communities it is in; community: its members */
    uint64_t tokens;  /* user: its tokens, revoked or not */
    uint64_t links;   /* collection: peer links to it */
};
int store_refs_count(struct store *s, enum store_entity kind, int64_t key, struct store_refs *out,
                     struct kz_error *err);

/* Removes an entity inside an open transaction, with what exists only
 * for it: a user's tokens and the grants to it; an organisation's grants
 * and community memberships (KZ_ECONFLICT while users or peers still name
 * it: remove those first); a community's grants and memberships, its
 * members' and peers'; a collection's objects (with their id index,
 * recipient and reference rows), grants and peer links. The key is never
 * given to anything made later, so rows that keep it (an object's
 * producer, a recipient, a status resource's submitter) can never come to
 * name someone else. KZ_ENOTFOUND when there is no such key. */
int store_remove(struct store *s, enum store_entity kind, int64_t key, struct kz_error *err);

/* --- objects ------------------------------------------------------------ */

/* What policy/ needs to know about a stored object beyond its JSON: the
 * organisation that produced it (whose identity is its created_by_ref, else
 * the one that submitted it; 0 when unknown) and the recipients it names
 * (kizuna's recipients extension) resolved to local accounts. */
struct store_put_meta {
    int64_t producer;
    int64_t origin;    /* the peer it came from, 0 when local */
    int64_t submitter; /* the organisation of the account that POSTed it, 0: none (import,
                          pulled) */
    const int64_t *users;
    unsigned nusers;
    const int64_t *orgs;
    unsigned norgs;
    const int64_t *peers; /* nodes hosting a named user ("user@node"), policy_node_key */
    unsigned npeers;
};

enum store_put_result {
    STORE_ADDED = 1,
    STORE_DUPLICATE, /* the same version with the same content was there */
};

/* Stores one object version in a collection inside an open transaction.
 * raw is the object's JSON text as it will be served. On success sets
 * *result and *added (the date added, µs; that of the stored copy for a
 * duplicate). A different object with the same id and version is refused
 * with KZ_ECONFLICT. */
int store_put(struct store *s, int64_t collection, const struct stix_obj *o, const char *raw,
              size_t rawlen, const struct store_put_meta *rcpt, enum store_put_result *result,
              int64_t *added, struct kz_error *err);

/* Which versions a listing returns (TAXII match[version]); values OR. */
#define STORE_V_LAST  1
#define STORE_V_FIRST 2
#define STORE_V_ALL   4

/* Object-level visibility, decided by policy/ and applied by the backend
 * inside the query (so a page of visible objects never reads the invisible
 * ones, and nothing invisible can show up in a count or a cursor). */
struct store_visibility {
    int active;               /* 0: every object, which a listing accepts only with everything */
    int everything;           /* the caller (operator, internal path) asks for every object */
    int max_level;            /* effective TLP at or below which objects are visible */
    int default_tlp;          /* the effective TLP of objects without a TLP marking */
    int exclude_red;          /* bulk paths: TLP:RED never, whoever asks */
    const char *org_identity; /* objects created_by this identity are visible */
    int64_t user;             /* recipients naming this user see AMBER..RED objects */
    int64_t org;              /* its producer, and recipients naming it, see objects */
    int64_t peer;             /* policy_node_key of a partner node: it sees what names its users */
    int check_refs;           /* relationships and sightings need visible targets, except
                                 (outside bulk paths) those org produced or submitted */
};

struct store_filter {
    int64_t collection;
    int64_t added_after; /* µs; objects added strictly after; -1 for none */
    unsigned versions;   /* STORE_V_*; 0 means STORE_V_LAST unless times given */
    const char *ids[STORE_MAX_FILTER_VALUES];
    unsigned nids;
    const char *types[STORE_MAX_FILTER_VALUES];
    unsigned ntypes;
    const char *spec_versions[STORE_MAX_FILTER_VALUES];
    unsigned nspec_versions;
    int64_t version_times[STORE_MAX_FILTER_VALUES]; /* exact versions, µs */
    unsigned nversion_times;
    uint64_t limit;           /* rows to return; 0 means no limit */
    int64_t exclude_origin;   /* leave out objects received from this peer (0: none) */
    const char *exclude_type; /* leave out objects of this type (NULL: none) */
    struct store_visibility vis;
    int64_t own_origin; /* store_delete with vis: rows received from this peer go too */
};

/* Initialises a filter for collection with no conditions. Its visibility is
 * unset, and store_list refuses it until either policy_filter puts a
 * reader's view on it or store_filter_everything says that the caller (the
 * node operator, or an internal path that acts on exact rows) wants every
 * object: forgetting the policy fails closed, not open. */
void store_filter_init(struct store_filter *f, int64_t collection);
void store_filter_everything(struct store_filter *f);

/* One row of a listing. Pointers stay valid only during the callback. */
struct store_row {
    int64_t added; /* date added, µs */
    const char *id;
    const char *type;
    const char *version; /* the version's text as the object states it, or a
                            server-assigned TAXII timestamp */
    int64_t version_us;
    const char *spec_version;
    int tlp; /* enum stix_tlp */
    const char *created_by;
    const char *raw;
    size_t rawlen;
};

typedef int (*store_row_fn)(void *ctx, const struct store_row *r, struct kz_error *err);

struct store_page {
    uint64_t count; /* rows passed to fn */
    int more;       /* rows beyond the limit exist */
    int64_t first_added;
    int64_t last_added;
};

/* Lists the rows matching f in date-added order, calling fn for each (fn may
 * be NULL to only count). want_raw = 0 skips reading object text, for
 * manifests. */
int store_list(struct store *s, const struct store_filter *f, int want_raw, store_row_fn fn,
               void *ctx, struct store_page *page, struct kz_error *err);

/* Deletes the versions of id in a collection that f selects (its versions,
 * version_times and spec_versions; with vis active, only the rows it shows
 * or that came from own_origin; ids, types and added_after are ignored),
 * inside an open transaction. Sets *deleted to the number of versions
 * removed. (Federation learns of deletions from tombstone objects, which
 * the caller stores: see sync/.) */
int store_delete(struct store *s, int64_t collection, const char *id, const struct store_filter *f,
                 uint64_t *deleted, struct kz_error *err);

/* Who owns an object a collection holds: the creator (created_by_ref, ""
 * for none) and producer of its oldest stored version, and whether the
 * version version_us (0: not asked) is stored. exists = 0 when the
 * collection holds no version of id. */
struct store_owner {
    int exists;
    int has_version;
    char created_by[KZ_MAX_STIX_ID + 1];
    int64_t producer;
};
int store_object_owner(struct store *s, int64_t collection, const char *id, int64_t version_us,
                       struct store_owner *out, struct kz_error *err);

/* TAXII status resources, kept as their JSON text. */
int store_status_put(struct store *s, const char *id, const char *api_root, int64_t user,
                     int64_t created_us, const char *json, size_t len, struct kz_error *err);
/* Reads one: *json is malloc'd (caller frees). KZ_ENOTFOUND when absent. */
int store_status_get(struct store *s, const char *id, char *api_root, size_t api_root_cap,
                     int64_t *user, char **json, size_t *len, struct kz_error *err);
/* Removes status resources created before `before_us`. */
int store_status_purge(struct store *s, int64_t before_us, struct kz_error *err);

#define STORE_AUDIT_HASH_LEN 32 /* the audit log's BLAKE2b-256 hashes */

/* --- peers (federation) ---------------------------------------------------- */

#define STORE_PEER_TOKEN_MAX 256 /* the token, encrypted by sync/ */
#define STORE_PEER_USER_MAX  128 /* the user name of HTTP Basic, with the NUL */
#define STORE_LINK_PULL      1
#define STORE_LINK_PUSH      2

struct store_peer {
    int64_t key;
    char name[KZ_MAX_NAME + 1]; /* the peer's node name */
    char url[1024];             /* its API root */
    unsigned char token[STORE_PEER_TOKEN_MAX];
    size_t token_len;
    int64_t org;         /* the local organisation standing for it, 0 none */
    char public_key[80]; /* "ed25519:...", "" when signatures are not checked */
    char ca[1024];       /* a CA file for its TLS certificate, "" for the system's */
    int64_t created_us;
    int64_t last_success_us;
    char last_error[512];
    int64_t last_error_us;
    char user[STORE_PEER_USER_MAX]; /* HTTP Basic with this user and the token; "" Bearer */
};

struct store_peer_link {
    int64_t peer;
    int direction;                 /* STORE_LINK_PULL or STORE_LINK_PUSH */
    int64_t local;                 /* the local collection's key */
    char remote[KZ_MAX_NAME + 64]; /* the remote collection's id or alias */
    int64_t checkpoint;            /* µs: the last date added done (remote's for pulls) */
    char checkpoint_text[64];      /* pulls: that date as the peer wrote it */
};

/* Adds a peer with its communities and links, in one transaction; inside
 * the caller's open transaction (store_begin) it is a savepoint of it, so
 * a failure undoes the peer alone and the caller's commit or rollback
 * decides about it. */
int store_peer_add(struct store *s, struct store_peer *p, const int64_t *communities,
                   size_t ncommunities, const struct store_peer_link *links, size_t nlinks,
                   struct kz_error *err);
int store_peer_find(struct store *s, const char *name, struct store_peer *out,
                    struct kz_error *err);
/* Replaces a peer's sealed token and, when user is not NULL, its Basic user
 * name ("" for Bearer). KZ_ENOTFOUND when there is no such peer. */
int store_peer_credentials(struct store *s, const char *name, const unsigned char *token,
                           size_t token_len, const char *user, struct kz_error *err);
/* Changes peer p->key's url, org, public_key and ca to p's; with
 * set_communities its own communities become communities[0..ncommunities),
 * and with set_links (STORE_LINK_PULL, STORE_LINK_PUSH or both, OR'd) its
 * links of that direction become those of links[0..nlinks): links kept keep
 * their checkpoints, links not listed are removed. Token and user stay
 * (store_peer_credentials). Atomic like store_peer_add, also inside an open
 * transaction. KZ_ENOTFOUND when there is no such peer. */
int store_peer_update(struct store *s, const struct store_peer *p, const int64_t *communities,
                      size_t ncommunities, int set_communities, const struct store_peer_link *links,
                      size_t nlinks, int set_links, struct kz_error *err);
/* The communities the peer itself lists (not its organisation's), by key. */
int store_peer_own_communities(struct store *s, int64_t peer, int64_t *out, size_t cap, size_t *n,
                               struct kz_error *err);
typedef int (*store_peer_fn)(void *ctx, const struct store_peer *p);
int store_peer_each(struct store *s, store_peer_fn fn, void *ctx, struct kz_error *err);
int store_peer_remove(struct store *s, const char *name, struct kz_error *err);
typedef int (*store_link_fn)(void *ctx, const struct store_peer_link *l);
int store_peer_links(struct store *s, int64_t peer, store_link_fn fn, void *ctx,
                     struct kz_error *err);
/* The communities a peer belongs to: its own list and its organisation's. */
int store_peer_communities(struct store *s, int64_t peer, int64_t *out, size_t cap, size_t *n,
                           struct kz_error *err);
/* Records the outcome of a sync round: success (error NULL) or an error. */
int store_peer_outcome(struct store *s, int64_t peer, const char *error, struct kz_error *err);
/* Moves a link's checkpoint; usable inside an open transaction (a pulled
 * page and its checkpoint commit together). */
int store_link_checkpoint(struct store *s, const struct store_peer_link *l, int64_t checkpoint,
                          const char *text, struct kz_error *err);

/* What this node last saw of a partner's audit log: the head it fetched
 * last, signed by the partner (docs/FEDERATION.md, "Audit heads"), and what
 * went wrong when the partner's log stopped extending it. */
struct store_peer_head {
    int64_t peer;
    int64_t seq; /* the partner's last audit row */
    unsigned char hash[STORE_AUDIT_HASH_LEN];
    int64_t seen_us;     /* when it was fetched */
    char evidence[2048]; /* the signed answer: target, signature and body, one a line */
    char problem[256];   /* "" while the partner's log only grew */
    int64_t problem_us;
};

/* KZ_ENOTFOUND when nothing was seen yet. */
int store_peer_head_get(struct store *s, int64_t peer, struct store_peer_head *out,
                        struct kz_error *err);
/* Replaces what was recorded for h->peer. */
int store_peer_head_put(struct store *s, const struct store_peer_head *h, struct kz_error *err);

/* --- named blobs (e.g. the imported warninglists) ------------------------- */

/* Stores data under name, replacing what was there. */
int store_blob_put(struct store *s, const char *name, const void *data, size_t len,
                   struct kz_error *err);
/* Reads the blob called name into *data (malloc'd; the caller frees);
 * KZ_ENOTFOUND when there is none. */
int store_blob_get(struct store *s, const char *name, char **data, size_t *len,
                   struct kz_error *err);

/* --- the audit log ------------------------------------------------------- */

/* One row of the append-only audit log; audit/ fills prev and hash. */
struct store_audit {
    int64_t seq; /* 1, 2, 3, ... with no gaps */
    int64_t ts_us;
    char user[KZ_MAX_NAME + 1];
    char remote[64];
    char action[16]; /* read, write, delete, import, export */
    char collection[KZ_UUID_LEN];
    uint64_t count;    /* objects read or written */
    char markings[96]; /* how many of each TLP level, e.g. "clear=3 amber=1" */
    char detail[256];  /* the path or file */
    unsigned char prev[STORE_AUDIT_HASH_LEN];
    unsigned char hash[STORE_AUDIT_HASH_LEN];
};

/* Called inside the append's write transaction with the current head, to
 * chain the n rows to it (fill seq, prev and hash) and MAC the new head. */
typedef void (*store_audit_chain_fn)(void *ctx, int64_t head_seq,
                                     const unsigned char head_hash[STORE_AUDIT_HASH_LEN],
                                     struct store_audit *rows, size_t n,
                                     unsigned char new_head_mac[STORE_AUDIT_HASH_LEN]);

/* Appends rows in one transaction, chained by fn to the head as it is
 * under the write lock (so concurrent writers never fork the chain), and
 * records the last row as the new head. With durable set the commit
 * returns once on disk; without, once handed to the operating system
 * (it survives a crash of the process, not of the machine). */
int store_audit_append(struct store *s, struct store_audit *rows, size_t n, store_audit_chain_fn fn,
                       void *ctx, int durable, struct kz_error *err);

/* The row seq; KZ_ENOTFOUND when there is none. */
int store_audit_get(struct store *s, int64_t seq, struct store_audit *out, struct kz_error *err);

/* Records (seq, hash, mac) as the head of an audit log kept elsewhere (the
 * main store witnessing audit.db), unless the head recorded is further on:
 * the witness never moves back. */
int store_audit_witness(struct store *s, int64_t seq,
                        const unsigned char hash[STORE_AUDIT_HASH_LEN],
                        const unsigned char mac[STORE_AUDIT_HASH_LEN], struct kz_error *err);

/* The head: the last seq, its hash and the MAC over both (0 and zeros when
 * the log is empty). */
int store_audit_head(struct store *s, int64_t *seq, unsigned char hash[STORE_AUDIT_HASH_LEN],
                     unsigned char mac[STORE_AUDIT_HASH_LEN], struct kz_error *err);

typedef int (*store_audit_fn)(void *ctx, const struct store_audit *a);

/* Rows with ts >= since_us (and user == user when not NULL), by seq. */
int store_audit_each(struct store *s, int64_t since_us, const char *user, store_audit_fn fn,
                     void *ctx, struct kz_error *err);

/* Number of object versions in a collection (all versions). */
int store_count(struct store *s, int64_t collection, uint64_t *count, struct kz_error *err);

#endif
