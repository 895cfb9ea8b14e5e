/*
 * The store: where a node keeps its STIX objects and everything about them
 * (collections, date added, versions). One interface, several backends
 * chosen by name (SQLite embedded by default; PostgreSQL for nodes that
 * outgrow one machine), each a set of function tables in store_backend.h.
 *
 * This header is the part every user of the store needs: opening and
 * closing, transactions and checkpoints. The rest is split by concern, one
 * header each, and a caller includes those it uses:
 *   store_objects.h   API roots, collections and the STIX objects
 *   store_accounts.h  organisations, users, tokens, communities
 *   store_grants.h    who may read or write a collection
 *   store_remove.h    removing an org, user, community or collection
 *   store_status.h    TAXII status resources
 *   store_peers.h     federation partners, links, their audit heads
 *   store_blobs.h     named blobs (warninglists)
 *   store_audit.h     the audit log's rows and head
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

#include "util/error.h"
#include "util/limits.h"

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

/* The version of the store's schema (*have) and the newest this build of
 * kizuna knows (*known). Opening a store brings its schema up to date, so
 * the two are equal for a store this build opened. */
int store_schema_version(struct store *s, int *have, int *known, struct kz_error *err);

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

/* Leadership of a background task that must run on one server at a time
 * when several share a store (name: a short word of [a-z0-9-], e.g.
 * "sync"). Returns 1 when s holds it (taken now, or held since an earlier
 * call, which checks it still is), 0 when another handle holds it, -1 with
 * err on failure (s then holds nothing). It is held until s is closed or
 * its process or connection dies; another handle's next try then takes
 * it. PostgreSQL: a session advisory lock on s's connection; SQLite: an
 * flock on a file beside the store (LOCATION-leader-NAME), so two servers
 * on one home elect one as well. */
int store_leader_try(struct store *s, const char *name, struct kz_error *err);
#define STORE_LEADER_NAME_MAX 16 /* with the NUL */
#define STORE_LEADER_MAX      4  /* names one handle may lead */

/* The callbacks of every listing (store_*_each, store_peer_links) answer 0
 * to go on, STORE_STOP to end the listing early (a success: "found it"), or
 * -1 for a failure they have described in their own context, which the
 * listing returns as -1. */
#define STORE_STOP 1

/* The audit log's BLAKE2b-256 hashes (store_audit.h, and the partners'
 * heads in store_peers.h). */
#define STORE_AUDIT_HASH_LEN 32

#endif
