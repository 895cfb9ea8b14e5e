/*
 * The SQLite store backend's connection: one database file in the node's
 * home, in WAL mode so readers never wait for a writer, synchronous=FULL so
 * a commit is on disk when it returns. Writers take the write lock at BEGIN
 * IMMEDIATE, which is what makes date_added increase in commit order across
 * processes. This file opens and closes, migrates, runs transactions and
 * checkpoints, holds the helpers every concern's file uses (sqlite_int.h),
 * and names the backend's tables; the SQL of each concern is in its own
 * file beside this one (objects.c, accounts.c, grants.c, remove.c,
 * status.c, peers.c, blobs.c, audit.c).
 *
 * The schema is versioned with PRAGMA user_version; migrations[] holds one
 * SQL script per version, for all concerns in one place since their order
 * matters, and every open brings an old database forward in one
 * transaction. Never edit a shipped migration: add a new one.
 */
#include "store/sqlite/sqlite_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const migrations[] = {
        /* 1: API roots, organisations, users, tokens, collections, objects */
        "CREATE TABLE api_roots ("
        "  name TEXT PRIMARY KEY,"
        "  title TEXT NOT NULL DEFAULT '',"
        "  description TEXT NOT NULL DEFAULT '',"
        "  max_content_length INTEGER NOT NULL);"
        "CREATE TABLE orgs ("
        "  key INTEGER PRIMARY KEY,"
        "  name TEXT NOT NULL UNIQUE,"
        "  country TEXT NOT NULL DEFAULT '',"
        "  sector TEXT NOT NULL DEFAULT '',"
        "  kind TEXT NOT NULL DEFAULT '',"
        "  identity TEXT NOT NULL UNIQUE,"
        "  created INTEGER NOT NULL);"
        "CREATE TABLE users ("
        "  key INTEGER PRIMARY KEY,"
        "  name TEXT NOT NULL UNIQUE,"
        "  org INTEGER NOT NULL REFERENCES orgs(key),"
        "  role TEXT NOT NULL,"
        "  created INTEGER NOT NULL);"
        "CREATE TABLE tokens ("
        "  key INTEGER PRIMARY KEY,"
        "  token_id TEXT NOT NULL UNIQUE,"
        "  user INTEGER NOT NULL REFERENCES users(key),"
        "  hash BLOB NOT NULL,"
        "  created INTEGER NOT NULL,"
        "  revoked INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE communities ("
        "  key INTEGER PRIMARY KEY,"
        "  name TEXT NOT NULL UNIQUE,"
        "  created INTEGER NOT NULL);"
        "CREATE TABLE community_members ("
        "  community INTEGER NOT NULL REFERENCES communities(key),"
        "  org INTEGER NOT NULL REFERENCES orgs(key),"
        "  PRIMARY KEY (community, org));"
        "CREATE TABLE collections ("
        "  key INTEGER PRIMARY KEY,"
        "  id TEXT NOT NULL UNIQUE,"
        "  api_root TEXT NOT NULL REFERENCES api_roots(name),"
        "  alias TEXT NOT NULL,"
        "  title TEXT NOT NULL DEFAULT '',"
        "  description TEXT NOT NULL DEFAULT '',"
        "  created INTEGER NOT NULL,"
        "  UNIQUE (api_root, alias));"
        "CREATE TABLE objects ("
        "  added INTEGER NOT NULL,"
        "  collection INTEGER NOT NULL REFERENCES collections(key),"
        "  stix_id TEXT NOT NULL,"
        "  type TEXT NOT NULL,"
        "  version INTEGER NOT NULL,"
        "  version_text TEXT NOT NULL,"
        "  spec_version TEXT NOT NULL,"
        "  created_by TEXT NOT NULL,"
        "  tlp INTEGER NOT NULL,"
        "  producer INTEGER NOT NULL,"
        "  origin INTEGER NOT NULL,"
        "  revoked INTEGER NOT NULL,"
        "  latest INTEGER NOT NULL,"
        "  first INTEGER NOT NULL,"
        "  raw TEXT NOT NULL,"
        "  PRIMARY KEY (collection, added)) WITHOUT ROWID;"
        "CREATE UNIQUE INDEX objects_by_id ON objects (collection, stix_id, version);"
        "CREATE INDEX objects_by_type ON objects (collection, type, added);"
        "CREATE TABLE grants ("
        "  collection INTEGER NOT NULL REFERENCES collections(key),"
        "  kind INTEGER NOT NULL,"
        "  subject INTEGER NOT NULL,"
        "  role TEXT NOT NULL DEFAULT '',"
        "  can_read INTEGER NOT NULL,"
        "  can_write INTEGER NOT NULL,"
        "  PRIMARY KEY (collection, kind, subject, role));"
        "CREATE TABLE recipients ("
        "  added INTEGER NOT NULL,"
        "  kind INTEGER NOT NULL,"
        "  subject INTEGER NOT NULL,"
        "  PRIMARY KEY (added, kind, subject)) WITHOUT ROWID;"
        "CREATE TABLE refs ("
        "  added INTEGER NOT NULL,"
        "  ref TEXT NOT NULL,"
        "  PRIMARY KEY (added, ref)) WITHOUT ROWID;"
        "CREATE TABLE statuses ("
        "  id TEXT PRIMARY KEY,"
        "  api_root TEXT NOT NULL,"
        "  user INTEGER NOT NULL,"
        "  created INTEGER NOT NULL,"
        "  body TEXT NOT NULL);"
        "CREATE INDEX statuses_by_created ON statuses (created);"
        "CREATE TABLE peers ("
        "  key INTEGER PRIMARY KEY,"
        "  name TEXT NOT NULL UNIQUE,"
        "  url TEXT NOT NULL,"
        "  token BLOB NOT NULL,"
        "  org INTEGER NOT NULL,"
        "  public_key TEXT NOT NULL,"
        "  ca TEXT NOT NULL,"
        "  created INTEGER NOT NULL,"
        "  last_success INTEGER NOT NULL DEFAULT 0,"
        "  last_error TEXT NOT NULL DEFAULT '',"
        "  last_error_at INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE peer_communities ("
        "  peer INTEGER NOT NULL REFERENCES peers(key) ON DELETE CASCADE,"
        "  community INTEGER NOT NULL REFERENCES communities(key),"
        "  PRIMARY KEY (peer, community));"
        "CREATE TABLE peer_links ("
        "  peer INTEGER NOT NULL REFERENCES peers(key) ON DELETE CASCADE,"
        "  direction INTEGER NOT NULL,"
        "  local INTEGER NOT NULL REFERENCES collections(key),"
        "  remote TEXT NOT NULL,"
        "  checkpoint INTEGER NOT NULL DEFAULT 0,"
        "  checkpoint_text TEXT NOT NULL DEFAULT '',"
        "  PRIMARY KEY (peer, direction, local, remote));"
        "CREATE TABLE audit ("
        "  seq INTEGER PRIMARY KEY,"
        "  ts INTEGER NOT NULL,"
        "  user TEXT NOT NULL,"
        "  remote TEXT NOT NULL,"
        "  action TEXT NOT NULL,"
        "  collection TEXT NOT NULL,"
        "  count INTEGER NOT NULL,"
        "  markings TEXT NOT NULL,"
        "  detail TEXT NOT NULL,"
        "  prev BLOB NOT NULL,"
        "  hash BLOB NOT NULL);"
        "CREATE INDEX audit_by_ts ON audit (ts);"
        "CREATE TABLE audit_head ("
        "  one INTEGER PRIMARY KEY CHECK (one = 1),"
        "  seq INTEGER NOT NULL,"
        "  hash BLOB NOT NULL,"
        "  mac BLOB NOT NULL);"
        "CREATE TABLE blobs (name TEXT PRIMARY KEY, data BLOB NOT NULL);"
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "INSERT INTO counters VALUES ('last_added', 0);",
        /* 2: the id index keyed by a 64-bit hash of the id: an eighth of the
         * size of the text, so it stays in the page cache of a collection
         * of millions, and integer comparisons. Lookups also compare the
         * id itself, so a collision costs a row read, never a wrong answer. */
        "ALTER TABLE objects ADD COLUMN idh INTEGER NOT NULL DEFAULT 0;"
        "UPDATE objects SET idh = kz_idh(stix_id);"
        "DROP INDEX objects_by_id;"
        "CREATE INDEX objects_by_id ON objects (collection, idh, version);",
        /* 3: the id index moves to the ids database (built by
         * ids_level, as state says nothing is there) */
        "INSERT OR IGNORE INTO counters VALUES ('deletes', 0); DROP INDEX objects_by_id;",
        /* 4: containers are gated by what they name, like relationships
         * (stix_gating_refs): record the object_refs of those stored
         * before. SQLite's JSON paths match keys as written, so a stored
         * container that spelled "object_refs" with escapes stays
         * ungated; new ones are read decoded by stix_gating_refs. */
        "INSERT OR IGNORE INTO refs (added, ref) SELECT o.added, j.value FROM objects o,"
        " json_each(o.raw, '$.object_refs') j WHERE o.type IN ('report', 'grouping', 'note',"
        " 'opinion', 'observed-data') AND j.type = 'text';",
        /* 5: what this node last saw of each partner's audit log */
        "CREATE TABLE peer_heads ("
        "  peer INTEGER PRIMARY KEY REFERENCES peers(key) ON DELETE CASCADE,"
        "  seq INTEGER NOT NULL,"
        "  hash BLOB NOT NULL,"
        "  seen INTEGER NOT NULL,"
        "  evidence TEXT NOT NULL,"
        "  problem TEXT NOT NULL DEFAULT '',"
        "  problem_at INTEGER NOT NULL DEFAULT 0);",
        /* 6: how a peer is authenticated: HTTP Basic with this user name and
         * the sealed token as password, or Bearer when '' */
        "ALTER TABLE peers ADD COLUMN auth_user TEXT NOT NULL DEFAULT '';",
        /* 7: disabling users; and keys of organisations, users,
         * communities and collections never given twice once one is removed
         * (the highest removed is kept here: NEXT_KEY) */
        "ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;"
        "INSERT OR IGNORE INTO counters VALUES ('key_orgs', 0), ('key_users', 0),"
        " ('key_communities', 0), ('key_collections', 0);",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

enum kz_ecode sq_map_code(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return KZ_EBUSY;
    case SQLITE_FULL: return KZ_EFULL;
    case SQLITE_NOMEM: return KZ_ENOMEM;
    case SQLITE_CONSTRAINT: return KZ_EEXISTS;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: return KZ_EIO;
    default: return KZ_EINTERNAL;
    }
}

int sq_fail(struct sqlite_store *s, int rc, struct kz_error *err, const char *what)
{
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    int sys = s->db ? sqlite3_system_errno(s->db) : 0;

    /* SQLite does not always keep the errno of a failed write: take the
     * thread's when SQLite's is lost */
    if (sys == 0)
        sys = errno;
    if (rc == SQLITE_IOERR_WRITE || rc == SQLITE_IOERR_FSYNC ||
        ((rc & 0xff) == SQLITE_IOERR && (sys == ENOSPC || sys == EFBIG || sys == EDQUOT)))
        return kz_error_set(err, sys == ENOSPC || sys == EFBIG || sys == EDQUOT ? KZ_EFULL : KZ_EIO,
                            "%s: cannot write to %s (%s); the disk may be full", what, s->path,
                            strerror(sys));
    if ((rc & 0xff) == SQLITE_FULL)
        return kz_error_set(err, KZ_EFULL, "%s: the disk or database is full (%s)", what, s->path);
    if ((rc & 0xff) == SQLITE_BUSY)
        return kz_error_set(err, KZ_EBUSY,
                            "%s: the store stayed locked by another process for %d s", what,
                            KZ_STORE_BUSY_TIMEOUT_MS / 1000);
    return kz_error_set(err, sq_map_code(rc), "%s: %s (%s)", what, msg, s->path);
}

int sq_exec(struct sqlite_store *s, const char *sql, struct kz_error *err)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK)
        return sq_fail(s, rc, err, "store");
    return 0;
}

sqlite3_stmt *sq_prepare(struct sqlite_store *s, const char *sql, struct kz_error *err,
                         const char *what)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);

    if (rc != SQLITE_OK) {
        sq_fail(s, rc, err, what);
        return NULL;
    }
    return q;
}

int sq_step_done(struct sqlite_store *s, sqlite3_stmt *q, struct kz_error *err, const char *what)
{
    int rc = sqlite3_step(q);

    sqlite3_reset(q);
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, err, what);
    return 0;
}

/* A prepared statement for sql from the cache (reset, bindings cleared), or
 * newly prepared in place of the least recently used. */
sqlite3_stmt *sq_cached_query(struct sqlite_store *s, const char *sql, size_t len,
                              struct kz_error *err)
{
    int victim = 0;
    sqlite3_stmt *q = NULL;
    int rc;

    for (int i = 0; i < QUERY_CACHE; i++) {
        if (s->queries[i].sql && strcmp(s->queries[i].sql, sql) == 0) {
            s->queries[i].uses = ++s->query_clock;
            sqlite3_reset(s->queries[i].stmt);
            sqlite3_clear_bindings(s->queries[i].stmt);
            return s->queries[i].stmt;
        }
        if (s->queries[i].uses < s->queries[victim].uses)
            victim = i;
    }
    rc = sqlite3_prepare_v3(s->db, sql, (int)len, SQLITE_PREPARE_PERSISTENT, &q, NULL);
    if (rc != SQLITE_OK) {
        sq_fail(s, rc, err, "store: preparing a query");
        return NULL;
    }
    sqlite3_finalize(s->queries[victim].stmt);
    free(s->queries[victim].sql);
    s->queries[victim].sql = strdup(sql);
    s->queries[victim].stmt = q;
    s->queries[victim].uses = ++s->query_clock;
    if (!s->queries[victim].sql) {
        sqlite3_finalize(q);
        s->queries[victim].stmt = NULL;
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    return q;
}

static int user_version(struct sqlite_store *s, int *v, struct kz_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL);

    if (rc == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
        *v = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
        return 0;
    }
    sqlite3_finalize(q);
    return sq_fail(s, rc == SQLITE_OK ? sqlite3_errcode(s->db) : rc, err,
                   "store: reading the schema version");
}

static int sqlite_schema_version(void *b, int *have, int *known, struct kz_error *err)
{
    *known = SCHEMA_VERSION;
    return user_version(b, have, err);
}

static int migrate(struct sqlite_store *s, struct kz_error *err)
{
    int v = 0;
    char sql[64];

    /* the common case, read without the write lock: opening a store must
     * not wait for a writer's transaction */
    if (user_version(s, &v, err) < 0)
        return -1;
    if (v == SCHEMA_VERSION)
        return 0;
    if (sq_exec(s, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    if (user_version(s, &v, err) < 0)
        goto fail;
    if (v > SCHEMA_VERSION) {
        kz_error_set(err, KZ_EIO,
                     "store: schema version %d is newer than this kizuna knows (%d); upgrade "
                     "kizuna",
                     v, SCHEMA_VERSION);
        goto fail;
    }
    for (; v < SCHEMA_VERSION; v++) {
        if (sq_exec(s, migrations[v], err) < 0)
            goto fail;
    }
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
    if (sq_exec(s, sql, err) < 0 || sq_exec(s, "COMMIT", err) < 0)
        goto fail;
    return 0;
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static void sqlite_close(void *b)
{
    struct sqlite_store *s = b;

    if (!s)
        return;
    if (s->in_tx)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite_leader_release(s);
    for (int i = 0; i < ST__N; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_finalize(s->data_version_q);
    sqlite_objects_free(s);
    for (int i = 0; i < QUERY_CACHE; i++) {
        sqlite3_finalize(s->queries[i].stmt);
        free(s->queries[i].sql);
    }
    sqlite3_close(s->db);
    kzj_doc_free(&s->cmp_a);
    kzj_doc_free(&s->cmp_b);
    free(s);
}

/* Opens a connection; whole = 0 leaves out the id index, for a store whose
 * objects are never touched (store_open_audit). */
static void *open_conn(const char *location, int create, int whole, struct kz_error *err)
{
    struct sqlite_store *s = calloc(1, sizeof(*s));
    struct stat sb;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    int rc;

    if (!s) {
        kz_error_set(err, KZ_ENOMEM, "out of memory opening the store");
        return NULL;
    }
    snprintf(s->path, sizeof(s->path), "%s", location);
    kzj_doc_init(&s->cmp_a);
    kzj_doc_init(&s->cmp_b);
    if (create)
        flags |= SQLITE_OPEN_CREATE;
    else if (stat(location, &sb) < 0) {
        kz_error_set(err, KZ_ENOTFOUND, "no store at %s (run `kizuna init` first)", location);
        goto fail;
    }
    rc = sqlite3_open_v2(location, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        sq_fail(s, rc, err, "store: cannot open");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, KZ_STORE_BUSY_TIMEOUT_MS);
    if (sqlite_ids_functions(s, err) < 0 || sqlite_gate_functions(s, err) < 0)
        goto fail;
    /* 16 KiB pages (applies when the database is created): the tables are
     * written in date-added order, so large pages mean fewer pages, fewer
     * overflow chains for large objects and fewer system calls per import
     * (15% faster than 4 KiB). They used to make POSTs into a large
     * collection slower, when the id index, written at random, shared this
     * file; it now has its own with 1 KiB pages. The log is cut back to
     * 256 MiB when it is reset (see STORE_DEFERRED_CHECKPOINT_PAGES). */
    if (sq_exec(s, "PRAGMA page_size = 16384", err) < 0 ||
        sq_exec(s, "PRAGMA journal_mode = WAL", err) < 0 ||
        sq_exec(s, "PRAGMA synchronous = FULL", err) < 0 ||
        sq_exec(s, "PRAGMA journal_size_limit = 268435456", err) < 0 ||
        sq_exec(s, "PRAGMA foreign_keys = ON", err) < 0 ||
        sq_exec(s, "PRAGMA cache_size = -16384", err) < 0 ||
        (whole && sqlite_ids_attach(s, err) < 0) || migrate(s, err) < 0 ||
        (whole && sqlite_ids_level_at_open(s, err) < 0))
        goto fail;
    return s;
fail:
    sqlite_close(s);
    return NULL;
}

static void *sqlite_open(const char *location, int create, struct kz_error *err)
{
    return open_conn(location, create, 1, err);
}

static void *sqlite_open_audit(const char *location, int create, struct kz_error *err)
{
    return open_conn(location, create, 0, err);
}

static int sqlite_data_version(void *b, uint64_t *v, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = s->data_version_q;
    int rc;

    if (!q) {
        rc = sqlite3_prepare_v3(s->db, "PRAGMA data_version", -1, SQLITE_PREPARE_PERSISTENT,
                                &s->data_version_q, NULL);
        if (rc != SQLITE_OK)
            return sq_fail(s, rc, err, "store: preparing a statement");
        q = s->data_version_q;
    }
    rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(q);
        return sq_fail(s, rc, err, "store: reading the data version");
    }
    *v = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return 0;
}

/* The deferred checkpoints' bound, per database: a log is folded in once
 * it holds STORE_DEFERRED_CHECKPOINT_PAGES pages of the objects' 16 KiB,
 * and the id index's (1 KiB pages, sqlite_ids_attach) once it holds as
 * many bytes. SQLite's own autocheckpoint counts frames whatever their
 * size, which folded the id index's log in sixteen times as often, inside
 * a writer's commit. */
static int deferred_checkpoint(void *ctx, sqlite3 *db, const char *name, int frames)
{
    int limit = STORE_DEFERRED_CHECKPOINT_PAGES;

    (void)ctx;
    if (strcmp(name, "ix") == 0)
        limit *= 16;
    if (frames >= limit)
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

static void sqlite_defer_checkpoints(void *b, int on)
{
    struct sqlite_store *s = b;

    sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, on, NULL);
    /* still bounded: a log that grows without end (a pull of a million
     * objects, page by page) makes every later read slower */
    if (on)
        sqlite3_wal_hook(s->db, deferred_checkpoint, NULL);
    else
        sqlite3_wal_autocheckpoint(s->db, 1000);
}

static void sqlite_set_cache_kib(void *b, int kib)
{
    struct sqlite_store *s = b;
    char sql[64];

    snprintf(sql, sizeof(sql), "PRAGMA main.cache_size = -%d", kib);
    sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    sqlite_ids_cache_kib(s, kib);

    sqlite3_exec(s->db, "PRAGMA temp_store = MEMORY", NULL, NULL, NULL);
}

static int sqlite_checkpoint(void *b, int truncate, struct kz_error *err)
{
    struct sqlite_store *s = b;
    int rc = sqlite3_wal_checkpoint_v2(
            s->db, NULL, truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE, NULL,
            NULL);

    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
        return sq_fail(s, rc, err, "store: checkpoint");
    return 0;
}

static int sqlite_begin(void *b, struct kz_error *err)
{
    struct sqlite_store *s = b;

    if (s->in_tx)
        return kz_error_set(err, KZ_EINTERNAL, "store: transaction already open");
    if (sq_exec(s, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    s->in_tx = 1;
    s->absent_valid = 0;
    return sqlite_objects_begin(s, err);
}

static int sqlite_commit(void *b, struct kz_error *err)
{
    struct sqlite_store *s = b;

    if (!s->in_tx)
        return kz_error_set(err, KZ_EINTERNAL, "store: no transaction to commit");
    s->absent_valid = 0;
    if (sqlite_objects_commit(s, err) < 0 || sq_exec(s, "COMMIT", err) < 0)
        return -1;
    s->in_tx = 0;
    return 0;
}

static void sqlite_rollback(void *b)
{
    struct sqlite_store *s = b;

    if (!s->in_tx)
        return;
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_tx = 0;
    s->absent_valid = 0;
}

/* Steps are savepoints. A rolled-back step may have used dates added that
 * are then never stored: harmless, dates only need to grow. */
static int sqlite_step(void *b, enum store_step what, struct kz_error *err)
{
    struct sqlite_store *s = b;

    if (!s->in_tx)
        return kz_error_set(err, KZ_EINTERNAL, "store: a step outside a transaction");
    s->absent_valid = 0;
    if (what == STORE_STEP_BEGIN)
        return sq_exec(s, "SAVEPOINT kz_step", err);
    if (what == STORE_STEP_RELEASE)
        return sq_exec(s, "RELEASE kz_step", err);
    return sq_exec(s, "ROLLBACK TO kz_step; RELEASE kz_step", err);
}

/* --- walking rows ---------------------------------------------------------- */

/* The one loop of every listing: steps q to its end, passing each row to
 * read. A callback answers 0 to go on, STORE_STOP to end the walk early
 * (a success) or -1 for a failure it has described itself, which the
 * listing returns as -1 instead of the success it used to become. A failed
 * step is the store's own error, said with `what`. Finalizes q. */
int sq_walk_rows(struct sqlite_store *s, sqlite3_stmt *q, row_reader read, const struct walk *w,
                 struct kz_error *err, const char *what)
{
    int rc, answer = 0;

    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        answer = read(q, w);
        if (answer != 0)
            break;
    }
    sqlite3_finalize(q);
    if (answer < 0)
        return -1;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return sq_fail(s, rc, err, what);
    return 0;
}

/* Runs a prepared one-shot statement that changes rows; maps a UNIQUE
 * violation to KZ_EEXISTS with the message given. */
int sq_finish_change(struct sqlite_store *s, sqlite3_stmt *q, const char *exists_msg,
                     struct kz_error *err, const char *what)
{
    int rc = sqlite3_step(q);

    sqlite3_finalize(q);
    if ((rc & 0xff) == SQLITE_CONSTRAINT && exists_msg)
        return kz_error_set(err, KZ_EEXISTS, "%s", exists_msg);
    if (rc != SQLITE_DONE)
        return sq_fail(s, rc, err, what);
    return 0;
}

void sq_col_text(sqlite3_stmt *q, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(q, i);

    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

void sq_copy_blob(sqlite3_stmt *q, int col, unsigned char *out)
{
    if (sqlite3_column_bytes(q, col) == STORE_AUDIT_HASH_LEN)
        memcpy(out, sqlite3_column_blob(q, col), STORE_AUDIT_HASH_LEN);
    else
        memset(out, 0, STORE_AUDIT_HASH_LEN);
}

/* Runs sql with ?1 = key (and ?2 = key2 when set); *changes gets the rows
 * it changed (NULL: not wanted). */
int sq_run_keyed(struct sqlite_store *s, const char *sql, int64_t key, int64_t key2,
                 uint64_t *changes, struct kz_error *err, const char *what)
{
    sqlite3_stmt *q = sq_prepare(s, sql, err, what);

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, key);
    if (key2)
        sqlite3_bind_int64(q, 2, key2);
    if (sq_finish_change(s, q, NULL, err, what) < 0)
        return -1;
    if (changes)
        *changes = (uint64_t)sqlite3_changes(s->db);
    return 0;
}

const struct store_backend store_sqlite_backend = {
        .name = "sqlite",
        .open = sqlite_open,
        .open_audit = sqlite_open_audit,
        .close = sqlite_close,
        .data_version = sqlite_data_version,
        .schema_version = sqlite_schema_version,
        .defer_checkpoints = sqlite_defer_checkpoints,
        .set_cache_kib = sqlite_set_cache_kib,
        .checkpoint = sqlite_checkpoint,
        .begin = sqlite_begin,
        .commit = sqlite_commit,
        .rollback = sqlite_rollback,
        .step = sqlite_step,
        .leader_try = sqlite_leader_try,
        .objects = &sqlite_objects_ops,
        .accounts = &sqlite_accounts_ops,
        .grants = &sqlite_grants_ops,
        .remove = &sqlite_remove_ops,
        .status = &sqlite_status_ops,
        .peers = &sqlite_peers_ops,
        .blobs = &sqlite_blobs_ops,
        .audit = &sqlite_audit_ops,
        .copy = &sqlite_copy_ops,
};
