/*
 * The SQLite store backend: one database file in the node's home, in WAL
 * mode so readers never wait for a writer, synchronous=FULL so a commit is
 * on disk when it returns. Writers take the write lock at BEGIN IMMEDIATE,
 * which is what makes date_added increase in commit order across processes.
 *
 * The schema is versioned with PRAGMA user_version; migrations[] holds one
 * SQL script per version and every open brings an old database forward in
 * one transaction. Never edit a shipped migration: add a new one.
 *
 * objects keeps one row per object version with its original JSON text.
 * The rowid is the date added (µs), so the table itself is in date-added
 * order; `latest` and `first` mark the newest and oldest version of each id
 * in its collection, kept right on every insert, so TAXII's default
 * match[version]=last is a plain indexed scan.
 *
 * The index from an id to its versions lives in a second database beside
 * the first (<store>-ids, attached as "ix") with 1 KiB pages. New objects'
 * ids fall anywhere in it, so a commit of n new objects dirties about n of
 * its leaves, and SQLite writes every dirty page whole, to the log and again
 * to the database: with the objects' 4 KiB pages of the time, the id index was
 * four fifths of what a POST into a collection of a million wrote. Each
 * transaction writes both files; SQLite commits attached databases one
 * after the other, so a crash between the two can leave ix behind or ahead.
 * ix.state records how far ix has followed (the last date added and the
 * count of transactions that deleted objects, both also kept in the main
 * database) and every write transaction first brings it level (ids_level).
 */
#include "store/store_backend.h"

#include <errno.h>
#include <stddef.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json/json.h"
#include "util/buf.h"
#include "util/kztime.h"

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

/* The key a new row of table gets: past every key it holds and every key
 * it ever held (store_remove records the highest removed), so a grant,
 * recipient or producer left naming a removed key never names a newcomer.
 * SQLite alone would hand out max(key) + 1 again. */
#define NEXT_KEY(table)                                                                            \
    "(SELECT max(coalesce((SELECT max(key) FROM " table "), 0),"                                   \
    " coalesce((SELECT value FROM counters WHERE name = 'key_" table "'), 0)) + 1)"

enum stmt_id {
    ST_FIND_VERSION,
    ST_FIND_LATEST,
    ST_RANGE,
    ST_CLEAR_LATEST,
    ST_CLEAR_FIRST,
    ST_INSERT,
    ST_INSERT_ID,
    ST_SET_UPTO,
    ST_COUNT_DELETE,
    ST_COUNT_DELETE_IX,
    ST_IDS_STATE,
    ST_LAST_ADDED,
    ST_SET_LAST_ADDED,
    ST_COUNT,
    ST_ADD_RECIPIENT,
    ST_ADD_REF,
    ST_DATA_VERSION,
    ST__N
};

/* The rows of one id in collection c, h the id's hash: the SQL condition on
 * objects.added that finds them through ix.ids. */
#define OF_ID(c, h) "added IN (SELECT added FROM ix.ids WHERE collection = " c " AND idh = " h ")"

static const char *const stmt_sql[ST__N] = {
        [ST_FIND_VERSION] = "SELECT o.added, o.raw FROM ix.ids x JOIN objects o"
                            " ON o.collection = x.collection AND o.added = x.added"
                            " WHERE x.collection = ?1 AND x.idh = kz_idh(?2) AND x.version = ?3"
                            " AND o.stix_id = ?2",
        [ST_FIND_LATEST] = "SELECT o.added, o.raw FROM ix.ids x JOIN objects o"
                           " ON o.collection = x.collection AND o.added = x.added"
                           " WHERE x.collection = ?1 AND x.idh = kz_idh(?2) AND o.stix_id = ?2"
                           " AND o.latest = 1",
        [ST_RANGE] = "SELECT max(x.version), min(x.version) FROM ix.ids x JOIN objects o"
                     " ON o.collection = x.collection AND o.added = x.added"
                     " WHERE x.collection = ?1 AND x.idh = kz_idh(?2) AND o.stix_id = ?2",
        [ST_CLEAR_LATEST] = "UPDATE objects SET latest = 0 WHERE collection = ?1 AND " OF_ID(
                "?1", "kz_idh(?2)") " AND stix_id = ?2 AND latest = 1",
        [ST_CLEAR_FIRST] = "UPDATE objects SET first = 0 WHERE collection = ?1 AND " OF_ID(
                "?1", "kz_idh(?2)") " AND stix_id = ?2 AND first = 1",
        [ST_INSERT] = "INSERT INTO objects (added, collection, stix_id, type, version,"
                      " version_text, spec_version, created_by, tlp, revoked, latest, first, raw,"
                      " producer, origin, idh) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
                      " ?11, ?12, ?13, ?14, ?15, ?16)",
        [ST_INSERT_ID] = "INSERT INTO ix.ids (collection, idh, version, added)"
                         " VALUES (?1, ?2, ?3, ?4)",
        [ST_SET_UPTO] = "UPDATE ix.state SET upto = ?1",
        [ST_COUNT_DELETE] = "UPDATE counters SET value = value + 1 WHERE name = 'deletes'",
        [ST_COUNT_DELETE_IX] = "UPDATE ix.state SET deletes = deletes + 1",
        [ST_IDS_STATE] = "SELECT (SELECT value FROM counters WHERE name = 'last_added'),"
                         " (SELECT value FROM counters WHERE name = 'deletes'),"
                         " (SELECT upto FROM ix.state), (SELECT deletes FROM ix.state)",
        [ST_LAST_ADDED] = "SELECT value FROM counters WHERE name = 'last_added'",
        [ST_SET_LAST_ADDED] = "UPDATE counters SET value = ?1 WHERE name = 'last_added'",
        [ST_COUNT] = "SELECT count(*) FROM objects WHERE collection = ?1",
        [ST_ADD_RECIPIENT] = "INSERT OR IGNORE INTO recipients (added, kind, subject)"
                             " VALUES (?1, ?2, ?3)",
        [ST_ADD_REF] = "INSERT OR IGNORE INTO refs (added, ref) VALUES (?1, ?2)",
        [ST_DATA_VERSION] = "PRAGMA data_version",
};

/* Listings build their SQL from the filter's shape; the few shapes a
 * client uses are kept prepared. */
#define QUERY_CACHE 16

struct sqlite_store {
    sqlite3 *db;
    char path[1024];
    sqlite3_stmt *st[ST__N];
    struct {
        char *sql;
        sqlite3_stmt *stmt;
        unsigned uses;
    } queries[QUERY_CACHE];
    unsigned query_clock;
    int in_tx;
    int64_t last_added; /* valid inside a write transaction */
    int64_t first_added_in_tx;
    int deleted_in_tx;
    struct kzj_doc cmp_a, cmp_b; /* for comparing a conflicting version's content */
};

static enum kz_ecode map_code(int rc)
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

static int db_fail(struct sqlite_store *s, int rc, struct kz_error *err, const char *what)
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
    return kz_error_set(err, map_code(rc), "%s: %s (%s)", what, msg, s->path);
}

static int exec(struct sqlite_store *s, const char *sql, struct kz_error *err)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK)
        return db_fail(s, rc, err, "store");
    return 0;
}

static sqlite3_stmt *prepare(struct sqlite_store *s, const char *sql, struct kz_error *err,
                             const char *what)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);

    if (rc != SQLITE_OK) {
        db_fail(s, rc, err, what);
        return NULL;
    }
    return q;
}

static sqlite3_stmt *stmt(struct sqlite_store *s, enum stmt_id id, struct kz_error *err)
{
    int rc;

    if (!s->st[id]) {
        rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->st[id],
                                NULL);
        if (rc != SQLITE_OK) {
            db_fail(s, rc, err, "store: preparing a statement");
            return NULL;
        }
    }
    sqlite3_reset(s->st[id]);
    sqlite3_clear_bindings(s->st[id]);
    return s->st[id];
}

static int step_done(struct sqlite_store *s, sqlite3_stmt *q, struct kz_error *err,
                     const char *what)
{
    int rc = sqlite3_step(q);

    sqlite3_reset(q);
    if (rc != SQLITE_DONE)
        return db_fail(s, rc, err, what);
    return 0;
}

/* Runs one of the statements without parameters or rows. */
static int step_stmt(struct sqlite_store *s, enum stmt_id id, struct kz_error *err)
{
    sqlite3_stmt *q = stmt(s, id, err);

    return q ? step_done(s, q, err, "store: updating counters") : -1;
}

/* A prepared statement for sql from the cache (reset, bindings cleared), or
 * newly prepared in place of the least recently used. */
static sqlite3_stmt *cached_query(struct sqlite_store *s, const char *sql, size_t len,
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
        db_fail(s, rc, err, "store: preparing a query");
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

/* The id index's key: SipHash-2-4 of the id under a fixed key. Stored, so
 * it never changes; collisions, crafted or not, only cost row reads since
 * every lookup compares the id too. */
static int64_t id_hash(const unsigned char *id, size_t n)
{
    static const unsigned char key[crypto_shorthash_KEYBYTES] = "kizuna-id-index";
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v = 0;

    crypto_shorthash(h, id, n, key);
    for (size_t i = 0; i < sizeof(h); i++)
        v = v << 8 | h[i];
    return (int64_t)(v >> 1);
}

static void sql_id_hash(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const unsigned char *id = sqlite3_value_text(argv[0]);

    (void)argc;
    if (!id) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_int64(ctx, id_hash(id, (size_t)sqlite3_value_bytes(argv[0])));
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
    return db_fail(s, rc == SQLITE_OK ? sqlite3_errcode(s->db) : rc, err,
                   "store: reading the schema version");
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
    if (exec(s, "BEGIN IMMEDIATE", err) < 0)
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
        if (exec(s, migrations[v], err) < 0)
            goto fail;
    }
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
    if (exec(s, sql, err) < 0 || exec(s, "COMMIT", err) < 0)
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
    for (int i = 0; i < ST__N; i++)
        sqlite3_finalize(s->st[i]);
    for (int i = 0; i < QUERY_CACHE; i++) {
        sqlite3_finalize(s->queries[i].stmt);
        free(s->queries[i].sql);
    }
    sqlite3_close(s->db);
    kzj_doc_free(&s->cmp_a);
    kzj_doc_free(&s->cmp_b);
    free(s);
}

/* Creates the ids database when it is not there (an older store, or one
 * whose ids file was lost): ATTACH would not, for a store opened without
 * SQLITE_OPEN_CREATE, and the page size must be set before the first
 * table. ids_level then fills it. */
static int ids_create(const char *path, struct kz_error *err)
{
    struct stat sb;
    sqlite3 *db = NULL;
    int rc;

    if (stat(path, &sb) == 0)
        return 0;
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, KZ_STORE_BUSY_TIMEOUT_MS);
        rc = sqlite3_exec(db,
                          "PRAGMA page_size = 1024;"
                          "PRAGMA journal_mode = WAL;"
                          "CREATE TABLE IF NOT EXISTS ids (collection INTEGER NOT NULL,"
                          "  idh INTEGER NOT NULL, version INTEGER NOT NULL,"
                          "  added INTEGER NOT NULL,"
                          "  PRIMARY KEY (collection, idh, version, added)) WITHOUT ROWID;"
                          "CREATE TABLE IF NOT EXISTS state (one INTEGER PRIMARY KEY"
                          "  CHECK (one = 1), upto INTEGER NOT NULL, deletes INTEGER NOT NULL);",
                          NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK)
        kz_error_set(err, map_code(rc), "store: cannot create the id index %s: %s", path,
                     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

static int ids_attach(struct sqlite_store *s, struct kz_error *err)
{
    char path[sizeof(s->path) + 8];
    sqlite3_stmt *q = NULL;
    int rc;

    if ((size_t)snprintf(path, sizeof(path), "%s-ids", s->path) >= sizeof(path))
        return kz_error_set(err, KZ_ELIMIT, "store: the path %s is too long", s->path);
    if (ids_create(path, err) < 0)
        return -1;
    rc = sqlite3_prepare_v2(s->db, "ATTACH DATABASE ?1 AS ix", -1, &q, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(q, 1, path, -1, SQLITE_STATIC);
        rc = sqlite3_step(q);
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE && rc != SQLITE_OK)
        return db_fail(s, rc, err, "store: attaching the id index");
    return exec(s, "PRAGMA ix.synchronous = FULL", err) < 0 ||
                           exec(s, "PRAGMA ix.journal_size_limit = 268435456", err) < 0 ||
                           exec(s, "PRAGMA ix.cache_size = -16384", err) < 0
                   ? -1
                   : 0;
}

/* v[0], v[1]: the main database's last date added and count of deleting
 * transactions; v[2], v[3]: how far ix has followed (-1 when it says
 * nothing). */
static int ids_state(struct sqlite_store *s, int64_t v[4], struct kz_error *err)
{
    sqlite3_stmt *q = stmt(s, ST_IDS_STATE, err);
    int rc;

    if (!q)
        return -1;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        for (int i = 0; i < 4; i++)
            v[i] = sqlite3_column_type(q, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, i);
    }
    sqlite3_reset(q);
    return rc == SQLITE_ROW ? 0 : db_fail(s, rc, err, "store: reading the id index's state");
}

/* Brings ix level with the objects, inside a write transaction, after a
 * crash between the two commits (or builds it for a store that had none):
 * entries of objects that never landed go, entries of objects that landed
 * alone are added; after a lost deletion, it is built again. */
static int ids_level(struct sqlite_store *s, struct kz_error *err)
{
    int64_t v[4];
    const char *fix = NULL;

    if (ids_state(s, v, err) < 0)
        return -1;
    if (v[0] == v[2] && v[1] == v[3])
        return 0;
    if (v[2] < 0 || v[1] != v[3])
        fix = "DELETE FROM ix.ids;"
              "INSERT INTO ix.ids SELECT collection, idh, version, added FROM objects"
              " ORDER BY 1, 2, 3, 4;";
    else if (v[2] < v[0])
        fix = "INSERT OR IGNORE INTO ix.ids SELECT collection, idh, version, added FROM objects"
              " WHERE collection IN (SELECT key FROM collections)"
              " AND added > (SELECT upto FROM ix.state);";
    else
        fix = "DELETE FROM ix.ids WHERE added >"
              " (SELECT value FROM counters WHERE name = 'last_added');";
    if (exec(s, fix, err) < 0)
        return -1;
    return exec(s,
                "INSERT OR REPLACE INTO ix.state (one, upto, deletes) VALUES (1,"
                " (SELECT value FROM counters WHERE name = 'last_added'),"
                " (SELECT value FROM counters WHERE name = 'deletes'))",
                err);
}

/* At open: every write transaction levels ix first (sqlite_begin), so a
 * reader levels it only when it can do so without waiting. A difference
 * seen while another connection writes is usually that connection between
 * its two commits, not a crash. */
static int ids_level_at_open(struct sqlite_store *s, struct kz_error *err)
{
    int64_t v[4];
    int rc;

    if (ids_state(s, v, err) < 0)
        return -1;
    if (v[0] == v[2] && v[1] == v[3])
        return 0;
    sqlite3_busy_timeout(s->db, 0);
    rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    sqlite3_busy_timeout(s->db, KZ_STORE_BUSY_TIMEOUT_MS);
    if ((rc & 0xff) == SQLITE_BUSY)
        return 0;
    if (rc != SQLITE_OK)
        return db_fail(s, rc, err, "store: levelling the id index");
    if (ids_level(s, err) < 0 || exec(s, "COMMIT", err) < 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static void *sqlite_open(const char *location, int create, struct kz_error *err)
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
        db_fail(s, rc, err, "store: cannot open");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, KZ_STORE_BUSY_TIMEOUT_MS);
    rc = sqlite3_create_function(s->db, "kz_idh", 1,
                                 SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                 sql_id_hash, NULL, NULL);
    if (rc != SQLITE_OK) {
        db_fail(s, rc, err, "store: registering kz_idh");
        goto fail;
    }
    /* 16 KiB pages (applies when the database is created): the tables are
     * written in date-added order, so large pages mean fewer pages, fewer
     * overflow chains for large objects and fewer system calls per import
     * (15% faster than 4 KiB). They used to make POSTs into a large
     * collection slower, when the id index, written at random, shared this
     * file; it now has its own with 1 KiB pages. The log is cut back to
     * 256 MiB when it is reset (see STORE_DEFERRED_CHECKPOINT_PAGES). */
    if (exec(s, "PRAGMA page_size = 16384", err) < 0 ||
        exec(s, "PRAGMA journal_mode = WAL", err) < 0 ||
        exec(s, "PRAGMA synchronous = FULL", err) < 0 ||
        exec(s, "PRAGMA journal_size_limit = 268435456", err) < 0 ||
        exec(s, "PRAGMA foreign_keys = ON", err) < 0 ||
        exec(s, "PRAGMA cache_size = -16384", err) < 0 || ids_attach(s, err) < 0 ||
        migrate(s, err) < 0 || ids_level_at_open(s, err) < 0)
        goto fail;
    return s;
fail:
    sqlite_close(s);
    return NULL;
}

static int sqlite_data_version(void *b, uint64_t *v, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = stmt(s, ST_DATA_VERSION, err);
    int rc;

    if (!q)
        return -1;
    rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(q);
        return db_fail(s, rc, err, "store: reading the data version");
    }
    *v = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return 0;
}

static void sqlite_defer_checkpoints(void *b, int on)
{
    struct sqlite_store *s = b;

    sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, on, NULL);
    /* still bounded: a log that grows without end (a pull of a million
     * objects, page by page) makes every later read slower */
    sqlite3_wal_autocheckpoint(s->db, on ? STORE_DEFERRED_CHECKPOINT_PAGES : 1000);
}

static void sqlite_set_cache_kib(void *b, int kib)
{
    struct sqlite_store *s = b;
    char sql[64];

    snprintf(sql, sizeof(sql), "PRAGMA main.cache_size = -%d", kib);
    sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    /* the id index too: an import of a million objects in one transaction
     * dirties all of its pages */
    snprintf(sql, sizeof(sql), "PRAGMA ix.cache_size = -%d", kib);
    sqlite3_exec(s->db, sql, NULL, NULL, NULL);

    sqlite3_exec(s->db, "PRAGMA temp_store = MEMORY", NULL, NULL, NULL);
}

static int sqlite_checkpoint(void *b, int truncate, struct kz_error *err)
{
    struct sqlite_store *s = b;
    int rc = sqlite3_wal_checkpoint_v2(
            s->db, NULL, truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE, NULL,
            NULL);

    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
        return db_fail(s, rc, err, "store: checkpoint");
    return 0;
}

static int sqlite_begin(void *b, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q;
    int rc;

    if (s->in_tx)
        return kz_error_set(err, KZ_EINTERNAL, "store: transaction already open");
    if (exec(s, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    s->in_tx = 1;
    q = stmt(s, ST_LAST_ADDED, err);
    if (!q)
        return -1;
    rc = sqlite3_step(q);
    if (rc != SQLITE_ROW)
        return db_fail(s, rc, err, "store: reading the last date added");
    s->last_added = sqlite3_column_int64(q, 0);
    s->first_added_in_tx = 0;
    s->deleted_in_tx = 0;
    sqlite3_reset(q);
    return ids_level(s, err);
}

static int sqlite_commit(void *b, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q;
    int rc;

    if (!s->in_tx)
        return kz_error_set(err, KZ_EINTERNAL, "store: no transaction to commit");
    if (s->first_added_in_tx) {
        q = stmt(s, ST_SET_LAST_ADDED, err);
        if (!q)
            return -1;
        sqlite3_bind_int64(q, 1, s->last_added);
        rc = sqlite3_step(q);
        sqlite3_reset(q);
        if (rc != SQLITE_DONE)
            return db_fail(s, rc, err, "store: recording the last date added");
        q = stmt(s, ST_SET_UPTO, err);
        if (!q)
            return -1;
        sqlite3_bind_int64(q, 1, s->last_added);
        if (step_done(s, q, err, "store: recording the last date added") < 0)
            return -1;
    }
    if (s->deleted_in_tx &&
        (step_stmt(s, ST_COUNT_DELETE, err) < 0 || step_stmt(s, ST_COUNT_DELETE_IX, err) < 0))
        return -1;
    if (exec(s, "COMMIT", err) < 0)
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
}

/* Steps are savepoints. A rolled-back step may have used dates added that
 * are then never stored: harmless, dates only need to grow. */
static int sqlite_step(void *b, enum store_step what, struct kz_error *err)
{
    struct sqlite_store *s = b;

    if (!s->in_tx)
        return kz_error_set(err, KZ_EINTERNAL, "store: a step outside a transaction");
    if (what == STORE_STEP_BEGIN)
        return exec(s, "SAVEPOINT kz_step", err);
    if (what == STORE_STEP_RELEASE)
        return exec(s, "RELEASE kz_step", err);
    return exec(s, "ROLLBACK TO kz_step; RELEASE kz_step", err);
}

static void read_collection(sqlite3_stmt *q, struct store_collection *c)
{
    memset(c, 0, sizeof(*c));
    c->key = sqlite3_column_int64(q, 0);
    snprintf(c->id, sizeof(c->id), "%s", (const char *)sqlite3_column_text(q, 1));
    snprintf(c->api_root, sizeof(c->api_root), "%s", (const char *)sqlite3_column_text(q, 2));
    snprintf(c->alias, sizeof(c->alias), "%s", (const char *)sqlite3_column_text(q, 3));
    snprintf(c->title, sizeof(c->title), "%s", (const char *)sqlite3_column_text(q, 4));
    snprintf(c->description, sizeof(c->description), "%s", (const char *)sqlite3_column_text(q, 5));
    c->created_us = sqlite3_column_int64(q, 6);
}

#define COLLECTION_COLUMNS "key, id, api_root, alias, title, description, created"

static int sqlite_collection_add(void *b, struct store_collection *c, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = NULL;
    int rc;

    c->created_us = kz_now_micros();
    rc = sqlite3_prepare_v2(
            s->db,
            "INSERT INTO collections (key, id, api_root, alias, title, description,"
            " created) VALUES (" NEXT_KEY("collections") ", ?1, ?2, ?3, ?4, ?5, ?6)",
            -1, &q, NULL);
    if (rc != SQLITE_OK)
        return db_fail(s, rc, err, "store: adding a collection");
    sqlite3_bind_text(q, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, c->api_root, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, c->alias, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, c->title, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, c->description, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, c->created_us);
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return kz_error_set(err, KZ_EEXISTS,
                            "a collection named \"%s\" already exists in API root \"%s\"", c->alias,
                            c->api_root);
    if (rc != SQLITE_DONE)
        return db_fail(s, rc, err, "store: adding a collection");
    c->key = sqlite3_last_insert_rowid(s->db);
    return 0;
}

static int sqlite_collection_find(void *b, const char *api_root, const char *id_or_alias,
                                  struct store_collection *out, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = NULL;
    int rc;

    rc = sqlite3_prepare_v2(s->db,
                            "SELECT " COLLECTION_COLUMNS " FROM collections"
                            " WHERE (id = ?1 OR alias = ?1) AND (?2 IS NULL OR api_root = ?2)"
                            " ORDER BY id = ?1 DESC LIMIT 1",
                            -1, &q, NULL);
    if (rc != SQLITE_OK)
        return db_fail(s, rc, err, "store: finding a collection");
    sqlite3_bind_text(q, 1, id_or_alias, -1, SQLITE_STATIC);
    if (api_root)
        sqlite3_bind_text(q, 2, api_root, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        read_collection(q, out);
        sqlite3_finalize(q);
        return 0;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return db_fail(s, rc, err, "store: finding a collection");
    return kz_error_set(err, KZ_ENOTFOUND, "no collection \"%s\"", id_or_alias);
}

/* --- walking rows ---------------------------------------------------------- */

/* What a *_each passes to walk_rows: the caller's callback (of the type the
 * row reader knows) and its context. */
struct walk {
    void (*fn)(void);
    void *ctx;
};

/* Reads the row q is on and hands it to the walk's callback; returns the
 * callback's answer. */
typedef int (*row_reader)(sqlite3_stmt *q, const struct walk *w);

/* The one loop of every listing: steps q to its end, passing each row to
 * read. A callback answers 0 to go on, STORE_STOP to end the walk early
 * (a success) or -1 for a failure it has described itself, which the
 * listing returns as -1 instead of the success it used to become. A failed
 * step is the store's own error, said with `what`. Finalizes q. */
static int walk_rows(struct sqlite_store *s, sqlite3_stmt *q, row_reader read, const struct walk *w,
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
        return db_fail(s, rc, err, what);
    return 0;
}

static int collection_row(sqlite3_stmt *q, const struct walk *w)
{
    struct store_collection c;

    read_collection(q, &c);
    return ((store_collection_fn)w->fn)(w->ctx, &c);
}

static int sqlite_collection_each(void *b, const char *api_root, store_collection_fn fn, void *ctx,
                                  struct kz_error *err)
{
    struct sqlite_store *s = b;
    struct walk w = {(void (*)(void))fn, ctx};
    sqlite3_stmt *q = prepare(s,
                              "SELECT " COLLECTION_COLUMNS " FROM collections"
                              " WHERE ?1 IS NULL OR api_root = ?1 ORDER BY alias",
                              err, "store: listing collections");

    if (!q)
        return -1;
    if (api_root)
        sqlite3_bind_text(q, 1, api_root, -1, SQLITE_STATIC);
    return walk_rows(s, q, collection_row, &w, err, "store: listing collections");
}

/* Runs a prepared one-shot statement that changes rows; maps a UNIQUE
 * violation to KZ_EEXISTS with the message given. */
static int finish_change(struct sqlite_store *s, sqlite3_stmt *q, const char *exists_msg,
                         struct kz_error *err, const char *what)
{
    int rc = sqlite3_step(q);

    sqlite3_finalize(q);
    if ((rc & 0xff) == SQLITE_CONSTRAINT && exists_msg)
        return kz_error_set(err, KZ_EEXISTS, "%s", exists_msg);
    if (rc != SQLITE_DONE)
        return db_fail(s, rc, err, what);
    return 0;
}

static void col_text(sqlite3_stmt *q, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(q, i);

    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

static int sqlite_api_root_add(void *b, const struct store_api_root *r, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "INSERT INTO api_roots (name, title, description,"
                              " max_content_length) VALUES (?1, ?2, ?3, ?4)",
                              err, "store: adding an API root");
    char msg[KZ_MAX_NAME + 64];

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, r->title, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, r->description, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, (sqlite3_int64)r->max_content_length);
    snprintf(msg, sizeof(msg), "API root \"%s\" already exists", r->name);
    return finish_change(s, q, msg, err, "store: adding an API root");
}

static void read_api_root(sqlite3_stmt *q, struct store_api_root *r)
{
    memset(r, 0, sizeof(*r));
    col_text(q, 0, r->name, sizeof(r->name));
    col_text(q, 1, r->title, sizeof(r->title));
    col_text(q, 2, r->description, sizeof(r->description));
    r->max_content_length = (uint64_t)sqlite3_column_int64(q, 3);
}

static int sqlite_api_root_find(void *b, const char *name, struct store_api_root *out,
                                struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "SELECT name, title, description, max_content_length"
                              " FROM api_roots WHERE name = ?1",
                              err, "store: finding an API root");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        read_api_root(q, out);
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return db_fail(s, rc, err, "store: finding an API root");
    return kz_error_set(err, KZ_ENOTFOUND, "no API root \"%s\"", name);
}

static int sqlite_api_root_each_row(sqlite3_stmt *q, const struct walk *w)
{
    struct store_api_root r;

    read_api_root(q, &r);
    return ((store_api_root_fn)w->fn)(w->ctx, &r);
}

static int sqlite_api_root_each(void *b, store_api_root_fn fn, void *ctx, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "SELECT name, title, description, max_content_length"
                              " FROM api_roots ORDER BY name",
                              err, "store: listing API roots");

    if (!q)
        return -1;
    {
        struct walk w = {(void (*)(void))fn, ctx};
        return walk_rows(s, q, sqlite_api_root_each_row, &w, err, "store: listing API roots");
    }
}

static int sqlite_org_add(void *b, struct store_org *o, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            prepare(s,
                    "INSERT INTO orgs (key, name, country, sector, kind, identity, created)"
                    " VALUES (" NEXT_KEY("orgs") ", ?1, ?2, ?3, ?4, ?5, ?6)",
                    err, "store: adding an organisation");
    char msg[KZ_MAX_NAME + KZ_MAX_STIX_ID + 64];

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, o->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, o->country, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, o->sector, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, o->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, o->identity, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, o->created_us);
    snprintf(msg, sizeof(msg), "an organisation named \"%s\" or with identity %s already exists",
             o->name, o->identity);
    if (finish_change(s, q, msg, err, "store: adding an organisation") < 0)
        return -1;
    o->key = sqlite3_last_insert_rowid(s->db);
    return 0;
}

#define ORG_COLUMNS "key, name, country, sector, kind, identity, created"

static void read_org(sqlite3_stmt *q, struct store_org *o)
{
    memset(o, 0, sizeof(*o));
    o->key = sqlite3_column_int64(q, 0);
    col_text(q, 1, o->name, sizeof(o->name));
    col_text(q, 2, o->country, sizeof(o->country));
    col_text(q, 3, o->sector, sizeof(o->sector));
    col_text(q, 4, o->kind, sizeof(o->kind));
    col_text(q, 5, o->identity, sizeof(o->identity));
    o->created_us = sqlite3_column_int64(q, 6);
}

static int sqlite_org_find(void *b, const char *name, const char *identity, int64_t key,
                           struct store_org *out, struct kz_error *err)
{
    struct sqlite_store *s = b;
    const char *sql = name       ? "SELECT " ORG_COLUMNS " FROM orgs WHERE name = ?1"
                      : identity ? "SELECT " ORG_COLUMNS " FROM orgs WHERE identity = ?1"
                                 : "SELECT " ORG_COLUMNS " FROM orgs WHERE key = ?1";
    /* asked for every object an import stores: kept prepared */
    sqlite3_stmt *q = cached_query(s, sql, strlen(sql), err);
    int rc;

    if (!q)
        return -1;
    if (name || identity)
        sqlite3_bind_text(q, 1, name ? name : identity, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(q, 1, key);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        read_org(q, out);
    sqlite3_reset(q);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return db_fail(s, rc, err, "store: finding an organisation");
    if (name || identity)
        return kz_error_set(err, KZ_ENOTFOUND, "no organisation \"%s\"", name ? name : identity);
    return kz_error_set(err, KZ_ENOTFOUND, "no organisation with key %lld", (long long)key);
}

static int sqlite_org_each_row(sqlite3_stmt *q, const struct walk *w)
{
    struct store_org o;

    read_org(q, &o);
    return ((store_org_fn)w->fn)(w->ctx, &o);
}

static int sqlite_org_each(void *b, store_org_fn fn, void *ctx, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s, "SELECT " ORG_COLUMNS " FROM orgs ORDER BY name", err,
                              "store: listing organisations");

    if (!q)
        return -1;
    {
        struct walk w = {(void (*)(void))fn, ctx};
        return walk_rows(s, q, sqlite_org_each_row, &w, err, "store: listing organisations");
    }
}

static int sqlite_user_add(void *b, struct store_user *u, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "INSERT INTO users (key, name, org, role, created)"
                              " VALUES (" NEXT_KEY("users") ", ?1, ?2, ?3, ?4)",
                              err, "store: adding a user");
    char msg[KZ_MAX_NAME + 64];

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, u->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, u->org);
    sqlite3_bind_text(q, 3, u->role, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, u->created_us);
    snprintf(msg, sizeof(msg), "a user named \"%s\" already exists", u->name);
    if (finish_change(s, q, msg, err, "store: adding a user") < 0)
        return -1;
    u->key = sqlite3_last_insert_rowid(s->db);
    return 0;
}

#define USER_SELECT                                                                                \
    "SELECT u.key, u.name, u.org, o.name, u.role, u.created, u.disabled FROM users u"              \
    " JOIN orgs o ON o.key = u.org"

static void read_user(sqlite3_stmt *q, struct store_user *u)
{
    memset(u, 0, sizeof(*u));
    u->key = sqlite3_column_int64(q, 0);
    col_text(q, 1, u->name, sizeof(u->name));
    u->org = sqlite3_column_int64(q, 2);
    col_text(q, 3, u->org_name, sizeof(u->org_name));
    col_text(q, 4, u->role, sizeof(u->role));
    u->created_us = sqlite3_column_int64(q, 5);
    u->disabled = sqlite3_column_int(q, 6) != 0;
}

static int sqlite_user_find(void *b, const char *name, int64_t key, struct store_user *out,
                            struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            prepare(s, name ? USER_SELECT " WHERE u.name = ?1" : USER_SELECT " WHERE u.key = ?1",
                    err, "store: finding a user");
    int rc;

    if (!q)
        return -1;
    if (name)
        sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(q, 1, key);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        read_user(q, out);
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return db_fail(s, rc, err, "store: finding a user");
    if (name)
        return kz_error_set(err, KZ_ENOTFOUND, "no user \"%s\"", name);
    return kz_error_set(err, KZ_ENOTFOUND, "no user with key %lld", (long long)key);
}

static int sqlite_user_each_row(sqlite3_stmt *q, const struct walk *w)
{
    struct store_user u;

    read_user(q, &u);
    return ((store_user_fn)w->fn)(w->ctx, &u);
}

static int sqlite_user_each(void *b, store_user_fn fn, void *ctx, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s, USER_SELECT " ORDER BY u.name", err, "store: listing users");

    if (!q)
        return -1;
    {
        struct walk w = {(void (*)(void))fn, ctx};
        return walk_rows(s, q, sqlite_user_each_row, &w, err, "store: listing users");
    }
}

static int sqlite_token_add(void *b, struct store_token *t, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "INSERT INTO tokens (token_id, user, hash, created, revoked)"
                              " VALUES (?1, ?2, ?3, ?4, 0)",
                              err, "store: adding a token");

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, t->token_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, t->user);
    sqlite3_bind_blob(q, 3, t->hash, STORE_TOKEN_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, t->created_us);
    if (finish_change(s, q, "token id collision; try again", err, "store: adding a token") < 0)
        return -1;
    t->key = sqlite3_last_insert_rowid(s->db);
    return 0;
}

static int sqlite_token_find(void *b, const char *token_id, struct store_token *out,
                             struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "SELECT key, token_id, user, hash, created, revoked FROM tokens"
                              " WHERE token_id = ?1",
                              err, "store: finding a token");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, token_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        out->key = sqlite3_column_int64(q, 0);
        col_text(q, 1, out->token_id, sizeof(out->token_id));
        out->user = sqlite3_column_int64(q, 2);
        if (sqlite3_column_bytes(q, 3) == STORE_TOKEN_HASH_LEN)
            memcpy(out->hash, sqlite3_column_blob(q, 3), STORE_TOKEN_HASH_LEN);
        out->created_us = sqlite3_column_int64(q, 4);
        out->revoked_us = sqlite3_column_int64(q, 5);
    }
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return db_fail(s, rc, err, "store: finding a token");
    return kz_error_set(err, KZ_ENOTFOUND, "no token \"%s\"", token_id);
}

static int sqlite_token_each_row(sqlite3_stmt *q, const struct walk *w)
{
    struct store_token t;

    memset(&t, 0, sizeof(t));
    t.key = sqlite3_column_int64(q, 0);
    col_text(q, 1, t.token_id, sizeof(t.token_id));
    t.user = sqlite3_column_int64(q, 2);
    t.created_us = sqlite3_column_int64(q, 3);
    t.revoked_us = sqlite3_column_int64(q, 4);
    return ((store_token_fn)w->fn)(w->ctx, &t);
}

static int sqlite_token_each(void *b, int64_t user, store_token_fn fn, void *ctx,
                             struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "SELECT key, token_id, user, created, revoked FROM tokens"
                              " WHERE ?1 = 0 OR user = ?1 ORDER BY key",
                              err, "store: listing tokens");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, user);
    {
        struct walk w = {(void (*)(void))fn, ctx};
        return walk_rows(s, q, sqlite_token_each_row, &w, err, "store: listing tokens");
    }
}

static int sqlite_community_each_row(sqlite3_stmt *q, const struct walk *w)
{
    struct store_community c;

    memset(&c, 0, sizeof(c));
    c.key = sqlite3_column_int64(q, 0);
    col_text(q, 1, c.name, sizeof(c.name));
    c.created_us = sqlite3_column_int64(q, 2);
    return ((store_community_fn)w->fn)(w->ctx, &c, (const char *)sqlite3_column_text(q, 3));
}

static int sqlite_community_each(void *b, store_community_fn fn, void *ctx, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "SELECT c.key, c.name, c.created, coalesce(group_concat(o.name, ','),"
                              " '') FROM communities c LEFT JOIN community_members m ON"
                              " m.community = c.key LEFT JOIN orgs o ON o.key = m.org"
                              " GROUP BY c.key ORDER BY c.name",
                              err, "store: listing communities");

    if (!q)
        return -1;
    {
        struct walk w = {(void (*)(void))fn, ctx};
        return walk_rows(s, q, sqlite_community_each_row, &w, err, "store: listing communities");
    }
}

static int sqlite_token_revoke(void *b, const char *token_id, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "UPDATE tokens SET revoked = ?2 WHERE token_id = ?1"
                              " AND revoked = 0",
                              err, "store: revoking a token");

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, token_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, kz_now_micros());
    if (finish_change(s, q, NULL, err, "store: revoking a token") < 0)
        return -1;
    if (sqlite3_changes(s->db) == 0)
        return kz_error_set(err, KZ_ENOTFOUND, "no valid token with id \"%s\"", token_id);
    return 0;
}

static int sqlite_grant_set(void *b, const struct store_grant *g, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "INSERT OR REPLACE INTO grants (collection, kind, subject, role,"
                              " can_read, can_write) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                              err, "store: granting access");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, g->collection);
    sqlite3_bind_int(q, 2, (int)g->kind);
    sqlite3_bind_int64(q, 3, g->kind == STORE_GRANT_ROLE ? 0 : g->subject);
    sqlite3_bind_text(q, 4, g->kind == STORE_GRANT_ROLE ? g->role : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 5, g->can_read);
    sqlite3_bind_int(q, 6, g->can_write);
    return finish_change(s, q, NULL, err, "store: granting access");
}

static int sqlite_grant_check(void *b, int64_t collection, int64_t user, int64_t org,
                              const char *role, struct store_access *out, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(
            s,
            "SELECT kind, max(can_read), max(can_write) FROM grants"
            " WHERE collection = ?1 AND ((kind = 1 AND subject = ?2) OR (kind = 2 AND subject = ?3)"
            " OR (kind = 3 AND subject IN (SELECT community FROM community_members WHERE org = ?3))"
            " OR (kind = 4 AND role = ?4)) GROUP BY kind",
            err, "store: checking access");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, collection);
    sqlite3_bind_int64(q, 2, user);
    sqlite3_bind_int64(q, 3, org);
    sqlite3_bind_text(q, 4, role, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int kind = sqlite3_column_int(q, 0), r = sqlite3_column_int(q, 1);
        out->can_read |= r;
        out->can_write |= sqlite3_column_int(q, 2);
        if (kind == STORE_GRANT_USER)
            out->read_as_user |= r;
        else if (kind == STORE_GRANT_ORG)
            out->read_as_org |= r;
        else if (kind == STORE_GRANT_COMMUNITY)
            out->read_as_community |= r;
        else if (kind == STORE_GRANT_ROLE)
            out->read_as_role |= r;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return db_fail(s, rc, err, "store: checking access");
    return 0;
}

static int sqlite_grant_each_row(sqlite3_stmt *q, const struct walk *w)
{
    struct store_grant g;

    memset(&g, 0, sizeof(g));
    g.collection = sqlite3_column_int64(q, 0);
    g.kind = (enum store_grant_kind)sqlite3_column_int(q, 1);
    g.subject = sqlite3_column_int64(q, 2);
    col_text(q, 3, g.role, sizeof(g.role));
    g.can_read = sqlite3_column_int(q, 4);
    g.can_write = sqlite3_column_int(q, 5);
    col_text(q, 6, g.subject_name, sizeof(g.subject_name));
    return ((store_grant_fn)w->fn)(w->ctx, &g);
}

static int sqlite_grant_each(void *b, int64_t collection, store_grant_fn fn, void *ctx,
                             struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            prepare(s,
                    "SELECT g.collection, g.kind, g.subject, g.role, g.can_read, g.can_write,"
                    " CASE g.kind WHEN 1 THEN (SELECT name FROM users WHERE key = g.subject)"
                    " WHEN 2 THEN (SELECT name FROM orgs WHERE key = g.subject)"
                    " WHEN 3 THEN (SELECT name FROM communities WHERE key = g.subject)"
                    " ELSE g.role END FROM grants g WHERE g.collection = ?1 ORDER BY g.kind, 7",
                    err, "store: listing grants");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, collection);
    {
        struct walk w = {(void (*)(void))fn, ctx};
        return walk_rows(s, q, sqlite_grant_each_row, &w, err, "store: listing grants");
    }
}

static int sqlite_community_add(void *b, struct store_community *c, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "INSERT INTO communities (key, name, created)"
                              " VALUES (" NEXT_KEY("communities") ", ?1, ?2)",
                              err, "store: adding a community");
    char msg[KZ_MAX_NAME + 64];

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, c->created_us);
    snprintf(msg, sizeof(msg), "a community named \"%s\" already exists", c->name);
    if (finish_change(s, q, msg, err, "store: adding a community") < 0)
        return -1;
    c->key = sqlite3_last_insert_rowid(s->db);
    return 0;
}

static int sqlite_community_find(void *b, const char *name, struct store_community *out,
                                 struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s, "SELECT key, name, created FROM communities WHERE name = ?1", err,
                              "store: finding a community");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        out->key = sqlite3_column_int64(q, 0);
        col_text(q, 1, out->name, sizeof(out->name));
        out->created_us = sqlite3_column_int64(q, 2);
    }
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return db_fail(s, rc, err, "store: finding a community");
    return kz_error_set(err, KZ_ENOTFOUND, "no community \"%s\"", name);
}

static int sqlite_community_join(void *b, int64_t community, int64_t org, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "INSERT OR IGNORE INTO community_members (community, org)"
                              " VALUES (?1, ?2)",
                              err, "store: joining a community");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, community);
    sqlite3_bind_int64(q, 2, org);
    return finish_change(s, q, NULL, err, "store: joining a community");
}

/* Whether two JSON texts hold the same value (RFC 8785 canonical forms
 * equal): used only when a version arrives again with different bytes. */
static int same_content(struct sqlite_store *s, const char *a, size_t an, const char *b, size_t bn)
{
    struct kz_buf ca, cb;
    int same = 0;

    if (an == bn && memcmp(a, b, an) == 0)
        return 1;
    kz_buf_init(&ca, KZ_MAX_OBJECT_BYTES * 2);
    kz_buf_init(&cb, KZ_MAX_OBJECT_BYTES * 2);
    if (kzj_parse(&s->cmp_a, a, an, NULL) == 0 && kzj_parse(&s->cmp_b, b, bn, NULL) == 0 &&
        kzj_canonical(&s->cmp_a, 0, &ca) == 0 && kzj_canonical(&s->cmp_b, 0, &cb) == 0)
        same = ca.len == cb.len && memcmp(ca.data, cb.data, ca.len) == 0;
    kz_buf_free(&ca);
    kz_buf_free(&cb);
    return same;
}

static int64_t next_added(struct sqlite_store *s)
{
    int64_t now = kz_now_micros();

    s->last_added = now > s->last_added ? now : s->last_added + 1;
    if (!s->first_added_in_tx)
        s->first_added_in_tx = s->last_added;
    return s->last_added;
}

/* Looks for the stored copy this version would duplicate. Returns 1 with
 * *added set when there is one (same content), 0 when there is none, -1 on
 * a conflict or an error. */
static int find_existing(struct sqlite_store *s, int64_t coll, const struct stix_obj *o,
                         const char *raw, size_t rawlen, int64_t *added, struct kz_error *err)
{
    sqlite3_stmt *q;
    int rc, versioned = o->version[0] != '\0';

    q = stmt(s, versioned ? ST_FIND_VERSION : ST_FIND_LATEST, err);
    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, coll);
    sqlite3_bind_text(q, 2, o->id, -1, SQLITE_STATIC);
    if (versioned)
        sqlite3_bind_int64(q, 3, o->version_us);
    rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(q);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(q);
        return db_fail(s, rc, err, "store: looking up an object");
    }
    *added = sqlite3_column_int64(q, 0);
    if (same_content(s, (const char *)sqlite3_column_text(q, 1), (size_t)sqlite3_column_bytes(q, 1),
                     raw, rawlen)) {
        sqlite3_reset(q);
        return 1;
    }
    if (!versioned) {
        /* an unversioned SCO whose content changed: a new version */
        sqlite3_reset(q);
        return 0;
    }
    sqlite3_reset(q);
    kz_error_property(err, "modified");
    return kz_error_set(err, KZ_ECONFLICT,
                        "a different object with this id and version is already stored; a "
                        "changed object needs a later modified");
}

/* Reads the newest and oldest stored versions of an id; *exists = 0 when
 * the collection has none. */
static int version_range(struct sqlite_store *s, int64_t coll, const char *id, int *exists,
                         int64_t *maxv, int64_t *minv, struct kz_error *err)
{
    sqlite3_stmt *q = stmt(s, ST_RANGE, err);
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, coll);
    sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(q);
        return db_fail(s, rc, err, "store: reading an object's versions");
    }
    *exists = sqlite3_column_type(q, 0) != SQLITE_NULL;
    if (*exists) {
        *maxv = sqlite3_column_int64(q, 0);
        *minv = sqlite3_column_int64(q, 1);
    }
    sqlite3_reset(q);
    return 0;
}

static int clear_flag(struct sqlite_store *s, enum stmt_id which, int64_t coll, const char *id,
                      struct kz_error *err)
{
    sqlite3_stmt *q = stmt(s, which, err);

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, coll);
    sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
    return step_done(s, q, err, "store: updating version flags");
}

struct ref_ctx {
    struct sqlite_store *s;
    int64_t added;
    struct kz_error *err;
};

static int add_ref(void *ctx, const char *id, size_t n)
{
    struct ref_ctx *r = ctx;
    sqlite3_stmt *q = stmt(r->s, ST_ADD_REF, r->err);

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, r->added);
    sqlite3_bind_text(q, 2, id, (int)n, SQLITE_STATIC);
    return step_done(r->s, q, r->err, "store: recording a reference");
}

/* Kinds of rows in recipients: 1 a user named, 2 an organisation named, 3 a
 * partner node whose user is named (all three widen who sees the object),
 * and RCPT_SUBMITTER, the organisation that POSTed it, which widens nothing
 * but exempts the object from relationship gating for that organisation. */
#define RCPT_SUBMITTER 4

static int add_recipients(struct sqlite_store *s, int64_t added, int kind, const int64_t *keys,
                          unsigned n, struct kz_error *err)
{
    for (unsigned i = 0; i < n; i++) {
        sqlite3_stmt *q = stmt(s, ST_ADD_RECIPIENT, err);
        if (!q)
            return -1;
        sqlite3_bind_int64(q, 1, added);
        sqlite3_bind_int(q, 2, kind);
        sqlite3_bind_int64(q, 3, keys[i]);
        if (step_done(s, q, err, "store: recording a recipient") < 0)
            return -1;
    }
    return 0;
}

static int sqlite_put(void *b, int64_t coll, const struct stix_obj *o, const char *raw,
                      size_t rawlen, const struct store_put_meta *rcpt,
                      enum store_put_result *result, int64_t *added, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q;
    int64_t version = o->version_us, old = 0, maxv = 0, minv = 0, when, idh;
    int rc, exists = 0, latest = 1, first = 1;
    char vtext[KZ_TS_MICROS_LEN];
    const char *version_text = o->version;

    if (!s->in_tx)
        return kz_error_set(err, KZ_EINTERNAL, "store: put outside a transaction");
    /* A new id (the common case in bulk imports) needs one index probe. */
    if (version_range(s, coll, o->id, &exists, &maxv, &minv, err) < 0)
        return -1;
    if (exists) {
        rc = find_existing(s, coll, o, raw, rawlen, &old, err);
        if (rc < 0)
            return -1;
        if (rc == 1) {
            *result = STORE_DUPLICATE;
            *added = old;
            return 0;
        }
    }
    when = next_added(s);
    if (!o->version[0]) {
        /* no created/modified: the server-assigned version is the date added */
        version = when;
        kz_ts_format_micros(when, vtext);
        version_text = vtext;
    }
    if (exists) {
        latest = version > maxv;
        first = version < minv;
        if (latest && clear_flag(s, ST_CLEAR_LATEST, coll, o->id, err) < 0)
            return -1;
        if (first && clear_flag(s, ST_CLEAR_FIRST, coll, o->id, err) < 0)
            return -1;
    }
    /* hashed once for the row and its id index entry */
    idh = id_hash((const unsigned char *)o->id, strlen(o->id));
    q = stmt(s, ST_INSERT, err);
    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, when);
    sqlite3_bind_int64(q, 2, coll);
    sqlite3_bind_text(q, 3, o->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, o->type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, version);
    sqlite3_bind_text(q, 6, version_text, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, o->spec_version[0] ? o->spec_version : "2.1", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 8, o->created_by_ref, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 9, (int)o->tlp);
    sqlite3_bind_int(q, 10, o->revoked);
    sqlite3_bind_int(q, 11, latest);
    sqlite3_bind_int(q, 12, first);
    sqlite3_bind_text(q, 13, raw, (int)rawlen, SQLITE_STATIC);
    sqlite3_bind_int64(q, 14, rcpt ? rcpt->producer : 0);
    sqlite3_bind_int64(q, 15, rcpt ? rcpt->origin : 0);
    sqlite3_bind_int64(q, 16, idh);
    if (step_done(s, q, err, "store: inserting an object") < 0)
        return -1;
    q = stmt(s, ST_INSERT_ID, err);
    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, coll);
    sqlite3_bind_int64(q, 2, idh);
    sqlite3_bind_int64(q, 3, version);
    sqlite3_bind_int64(q, 4, when);
    if (step_done(s, q, err, "store: indexing an object's id") < 0)
        return -1;
    if (rcpt && (add_recipients(s, when, 1, rcpt->users, rcpt->nusers, err) < 0 ||
                 add_recipients(s, when, 2, rcpt->orgs, rcpt->norgs, err) < 0 ||
                 add_recipients(s, when, 3, rcpt->peers, rcpt->npeers, err) < 0 ||
                 add_recipients(s, when, RCPT_SUBMITTER, &rcpt->submitter,
                                rcpt->submitter > 0 ? 1 : 0, err) < 0))
        return -1;
    {
        struct ref_ctx rc2 = {.s = s, .added = when, .err = err};
        if (stix_gating_refs(o, add_ref, &rc2) < 0)
            return -1;
    }
    *result = STORE_ADDED;
    *added = when;
    return 0;
}

static int add_in_list(struct kz_buf *sql, const char *col, unsigned n, int *param)
{
    kz_buf_printf(sql, " AND %s IN (", col);
    for (unsigned i = 0; i < n; i++)
        kz_buf_printf(sql, "%s?%d", i ? ", " : "", (*param)++);
    return kz_buf_addc(sql, ')');
}

/* Appends the condition selecting versions (match[version]) to sql. With a
 * visibility filter, first and last are chosen among the versions the
 * reader may see: a newer version one may not see must not turn "last"
 * into nothing (which would tell that it exists). */
static void add_visible(struct kz_buf *sql, const struct store_visibility *v, const char *t);

static void add_edge_version(struct kz_buf *sql, const struct store_visibility *v, const char *flag,
                             const char *cmp)
{
    if (!v || !v->active) {
        kz_buf_printf(sql, "o.%s = 1", flag);
        return;
    }
    kz_buf_printf(sql,
                  "(o.%s = 1 OR NOT EXISTS (SELECT 1 FROM ix.ids x JOIN objects o3"
                  " ON o3.collection = x.collection AND o3.added = x.added"
                  " WHERE x.collection = o.collection AND x.idh = o.idh AND x.version %s o.version"
                  " AND o3.stix_id = o.stix_id AND ",
                  flag, cmp);
    add_visible(sql, v, "o3");
    kz_buf_addstr(sql, "))");
}

static void add_version_clause(const struct store_filter *f, struct kz_buf *sql, int *param)
{
    unsigned versions = f->versions;
    const struct store_visibility *v = f->vis.active ? &f->vis : NULL;
    const char *sep = "";

    if (!versions && !f->nversion_times)
        versions = STORE_V_LAST;
    if (versions & STORE_V_ALL)
        return;
    kz_buf_addstr(sql, " AND (");
    if (versions & STORE_V_LAST) {
        add_edge_version(sql, v, "latest", ">");
        sep = " OR ";
    }
    if (versions & STORE_V_FIRST) {
        kz_buf_addstr(sql, sep);
        add_edge_version(sql, v, "first", "<");
        sep = " OR ";
    }
    if (f->nversion_times) {
        /* named: a ?N after the named visibility parameters could share
         * their slots */
        kz_buf_printf(sql, "%so.version IN (", sep);
        for (unsigned i = 0; i < f->nversion_times; i++)
            kz_buf_printf(sql, "%s:vt%u", i ? ", " : "", i);
        kz_buf_addc(sql, ')');
    }
    (void)param;
    kz_buf_addc(sql, ')');
}

static void bind_named_int(sqlite3_stmt *q, const char *name, int64_t v);

static void bind_version_clause(sqlite3_stmt *q, const struct store_filter *f, int *p)
{
    char name[16];

    (void)p;
    if (f->versions & STORE_V_ALL)
        return;
    for (unsigned i = 0; i < f->nversion_times; i++) {
        snprintf(name, sizeof(name), ":vt%u", i);
        bind_named_int(q, name, f->version_times[i]);
    }
}

/* The visibility of a row of objects aliased `t` (see store_visibility);
 * parameters are named so that the clause can be used twice. */
static void add_visible(struct kz_buf *sql, const struct store_visibility *v, const char *t)
{
    char e[128];

    snprintf(e, sizeof(e), "(CASE %s.tlp WHEN 0 THEN :vdef ELSE %s.tlp END)", t, t);
    kz_buf_printf(sql, "(%s <= :vmax OR %s.created_by = :vorg_id OR %s.producer = :vorg", e, t, t);
    kz_buf_printf(sql,
                  " OR EXISTS (SELECT 1 FROM recipients r WHERE r.added = %s.added AND"
                  " ((r.kind = 1 AND r.subject = :vuser) OR"
                  " (r.kind = 3 AND r.subject = :vpeer AND %s <> :vastrict) OR"
                  " (r.kind = 2 AND r.subject = :vorg AND %s < :vred))))",
                  t, e, e);
    if (v->exclude_red)
        kz_buf_printf(sql, " AND %s < :vred", e);
}

static void add_visibility(struct kz_buf *sql, const struct store_visibility *v)
{
    if (!v->active)
        return;
    kz_buf_addstr(sql, " AND ");
    add_visible(sql, v, "o");
    if (v->check_refs) {
        /* every object it points to that the collection holds must have a
         * version the reader may see. "Holds" asks the index alone (by
         * hash): a collision can only make it true wrongly, and then the
         * exact test for a visible version hides the relationship, which
         * fails closed. The reader's organisation's own relationships are
         * not gated (SHARING.md): it chose their targets, and gating them
         * would tell it which guessed ids the collection holds. Bulk paths
         * gate everything, so no export names what it leaves behind. */
        kz_buf_addstr(sql, " AND (o.type NOT IN (");
        for (size_t i = 0; stix_gated_type(i); i++)
            kz_buf_printf(sql, "%s'%s'", i ? ", " : "", stix_gated_type(i));
        kz_buf_addc(sql, ')');
        if (!v->exclude_red)
            kz_buf_printf(sql,
                          " OR o.producer = :vorg OR o.created_by = :vorg_id OR EXISTS (SELECT 1"
                          " FROM recipients r WHERE r.added = o.added AND r.kind = %d AND"
                          " r.subject = :vorg)",
                          RCPT_SUBMITTER);
        kz_buf_addstr(sql, " OR NOT EXISTS ("
                           "SELECT 1 FROM refs f WHERE f.added = o.added AND EXISTS ("
                           "SELECT 1 FROM ix.ids x"
                           " WHERE x.collection = o.collection AND x.idh = kz_idh(f.ref))"
                           " AND NOT EXISTS (SELECT 1 FROM ix.ids x JOIN objects o2"
                           " ON o2.collection = x.collection AND o2.added = x.added"
                           " WHERE x.collection = o.collection AND x.idh = kz_idh(f.ref)"
                           " AND o2.stix_id = f.ref AND ");
        add_visible(sql, v, "o2");
        kz_buf_addstr(sql, ")))");
    }
}

static void bind_named_int(sqlite3_stmt *q, const char *name, int64_t v)
{
    int i = sqlite3_bind_parameter_index(q, name);

    if (i > 0)
        sqlite3_bind_int64(q, i, v);
}

static void bind_visibility(sqlite3_stmt *q, const struct store_visibility *v)
{
    int i;

    if (!v->active)
        return;
    bind_named_int(q, ":vdef", v->default_tlp);
    bind_named_int(q, ":vred", STIX_TLP_RED); /* levels are stix.h's, never literals here */
    bind_named_int(q, ":vastrict", STIX_TLP_AMBER_STRICT);
    bind_named_int(q, ":vmax", v->max_level);
    bind_named_int(q, ":vuser", v->user);
    bind_named_int(q, ":vorg", v->org);
    bind_named_int(q, ":vpeer", v->peer ? v->peer : -1);
    i = sqlite3_bind_parameter_index(q, ":vorg_id");
    if (i > 0)
        sqlite3_bind_text(q, i, v->org_identity && v->org_identity[0] ? v->org_identity : "\x01",
                          -1, SQLITE_STATIC);
}

static int build_list_sql(const struct store_filter *f, int want_raw, struct kz_buf *sql)
{
    int param = 2;

    /* SQLite has no statistics to choose by: an id filter takes the id
     * index, anything else walks the table in date-added order */
    kz_buf_printf(sql,
                  "SELECT o.added, o.stix_id, o.type, o.version_text, o.version, o.spec_version,"
                  " o.tlp, o.created_by%s FROM objects o WHERE o.collection = ?1",
                  want_raw ? ", o.raw" : "");
    if (f->added_after >= 0)
        kz_buf_printf(sql, " AND o.added > ?%d", param++);
    if (f->nids) {
        /* the same parameters twice: the hashes pick index entries, the
         * ids confirm them */
        int first = param;
        add_in_list(sql, "o.stix_id", f->nids, &param);
        kz_buf_addstr(sql, " AND o.added IN (SELECT x.added FROM ix.ids x"
                           " WHERE x.collection = ?1 AND x.idh IN (");
        for (unsigned i = 0; i < f->nids; i++)
            kz_buf_printf(sql, "%skz_idh(?%d)", i ? ", " : "", first + (int)i);
        kz_buf_addstr(sql, "))");
    }
    if (f->ntypes)
        add_in_list(sql, "o.type", f->ntypes, &param);
    if (f->nspec_versions)
        add_in_list(sql, "o.spec_version", f->nspec_versions, &param);
    add_version_clause(f, sql, &param);
    if (f->exclude_origin)
        kz_buf_addstr(sql, " AND o.origin <> :xorigin");
    if (f->exclude_type)
        kz_buf_addstr(sql, " AND o.type <> :xtype");
    add_visibility(sql, &f->vis);
    kz_buf_addstr(sql, " ORDER BY o.added");
    /* named, like the visibility parameters: SQLite numbers a named
     * parameter after the highest ?N seen before it, so a later ?N could
     * land on the same slot */
    if (f->limit)
        kz_buf_addstr(sql, " LIMIT :lim");
    return sql->failed ? -1 : 0;
}

static void bind_list(sqlite3_stmt *q, const struct store_filter *f)
{
    int p = 1;

    sqlite3_bind_int64(q, p++, f->collection);
    if (f->added_after >= 0)
        sqlite3_bind_int64(q, p++, f->added_after);
    for (unsigned i = 0; i < f->nids; i++)
        sqlite3_bind_text(q, p++, f->ids[i], -1, SQLITE_STATIC);
    for (unsigned i = 0; i < f->ntypes; i++)
        sqlite3_bind_text(q, p++, f->types[i], -1, SQLITE_STATIC);
    for (unsigned i = 0; i < f->nspec_versions; i++)
        sqlite3_bind_text(q, p++, f->spec_versions[i], -1, SQLITE_STATIC);
    bind_version_clause(q, f, &p);
    if (f->limit) /* one more row tells whether there is "more" */
        bind_named_int(q, ":lim", (int64_t)(f->limit + 1));
    bind_visibility(q, &f->vis);
    if (f->exclude_origin)
        bind_named_int(q, ":xorigin", f->exclude_origin);
    if (f->exclude_type) {
        int i = sqlite3_bind_parameter_index(q, ":xtype");
        if (i > 0)
            sqlite3_bind_text(q, i, f->exclude_type, -1, SQLITE_STATIC);
    }
}

static int sqlite_list(void *b, const struct store_filter *f, int want_raw, store_row_fn fn,
                       void *ctx, struct store_page *page, struct kz_error *err)
{
    struct sqlite_store *s = b;
    struct kz_buf sql;
    sqlite3_stmt *q = NULL;
    struct store_row r;
    int rc, ret = -1;

    kz_buf_init(&sql, 64 * 1024);
    if (build_list_sql(f, want_raw, &sql) < 0) {
        kz_error_set(err, KZ_ELIMIT, "store: query too large");
        goto out;
    }
    q = cached_query(s, sql.data, sql.len, err);
    if (!q)
        goto out;
    bind_list(q, f);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (f->limit && page->count == f->limit) {
            page->more = 1;
            break;
        }
        r.added = sqlite3_column_int64(q, 0);
        r.id = (const char *)sqlite3_column_text(q, 1);
        r.type = (const char *)sqlite3_column_text(q, 2);
        r.version = (const char *)sqlite3_column_text(q, 3);
        r.version_us = sqlite3_column_int64(q, 4);
        r.spec_version = (const char *)sqlite3_column_text(q, 5);
        r.tlp = sqlite3_column_int(q, 6);
        r.created_by = (const char *)sqlite3_column_text(q, 7);
        r.raw = want_raw ? (const char *)sqlite3_column_text(q, 8) : NULL;
        r.rawlen = want_raw ? (size_t)sqlite3_column_bytes(q, 8) : 0;
        if (!page->count)
            page->first_added = r.added;
        page->last_added = r.added;
        page->count++;
        if (fn && fn(ctx, &r, err) < 0)
            goto out;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_fail(s, rc, err, "store: listing objects");
        goto out;
    }
    ret = 0;
out:
    if (q)
        sqlite3_reset(q); /* it stays cached; release its read lock now */
    kz_buf_free(&sql);
    return ret;
}

/* Removes the recipients and references of a deleted object version. */
static int forget_side_rows(struct sqlite_store *s, int64_t added, struct kz_error *err)
{
    static const char *const sql[] = {"DELETE FROM recipients WHERE added = ?1",
                                      "DELETE FROM refs WHERE added = ?1"};

    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *q = prepare(s, sql[i], err, "store: deleting an object");
        if (!q)
            return -1;
        sqlite3_bind_int64(q, 1, added);
        if (finish_change(s, q, NULL, err, "store: deleting an object") < 0)
            return -1;
    }
    return 0;
}

static int sqlite_delete(void *b, int64_t coll, const char *id, const struct store_filter *f,
                         uint64_t *deleted, struct kz_error *err)
{
    struct sqlite_store *s = b;
    struct kz_buf sql;
    sqlite3_stmt *q = NULL;
    int rc, param = 3, ret = -1;

    if (!s->in_tx)
        return kz_error_set(err, KZ_EINTERNAL, "store: delete outside a transaction");
    kz_buf_init(&sql, 16 * 1024);
    s->deleted_in_tx = 1;
    kz_buf_addstr(&sql, "DELETE FROM objects AS o WHERE collection = ?1 AND " OF_ID(
                                "?1", "kz_idh(?2)") " AND stix_id = ?2");
    if (f->nspec_versions)
        add_in_list(&sql, "spec_version", f->nspec_versions, &param);
    add_version_clause(f, &sql, &param);
    if (f->vis.active) {
        /* only what the deleter may see, or what came from it */
        kz_buf_addstr(&sql, " AND (o.origin = :down OR (1");
        add_visibility(&sql, &f->vis);
        kz_buf_addstr(&sql, "))");
    }
    kz_buf_addstr(&sql, " RETURNING version, version_text, added");
    if (sql.failed) {
        kz_error_set(err, KZ_ELIMIT, "store: query too large");
        goto out;
    }
    q = prepare(s, sql.data, err, "store: deleting an object");
    if (!q)
        goto out;
    sqlite3_bind_int64(q, 1, coll);
    sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
    param = 3;
    for (unsigned i = 0; i < f->nspec_versions; i++)
        sqlite3_bind_text(q, param++, f->spec_versions[i], -1, SQLITE_STATIC);
    bind_version_clause(q, f, &param);
    bind_visibility(q, &f->vis);
    bind_named_int(q, ":down", f->own_origin ? f->own_origin : -1);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (forget_side_rows(s, sqlite3_column_int64(q, 2), err) < 0)
            goto out;
        (*deleted)++;
    }
    if (rc != SQLITE_DONE) {
        db_fail(s, rc, err, "store: deleting an object");
        goto out;
    }
    sqlite3_finalize(q);
    q = prepare(s,
                "DELETE FROM ix.ids AS x WHERE x.collection = ?1 AND x.idh = kz_idh(?2)"
                " AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.collection = x.collection"
                " AND o.added = x.added)",
                err, "store: deleting an object");
    if (!q)
        goto out;
    sqlite3_bind_int64(q, 1, coll);
    sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE) {
        db_fail(s, sqlite3_errcode(s->db), err, "store: deleting an object");
        goto out;
    }
    sqlite3_finalize(q);
    q = prepare(
            s,
            "UPDATE objects SET"
            " latest = (version = (SELECT max(version) FROM objects"
            "   WHERE collection = ?1 AND " OF_ID(
                    "?1",
                    "kz_idh(?2)") " AND stix_id = ?2)),"
                                  " first = (version = (SELECT min(version) FROM objects"
                                  "   WHERE collection = ?1 AND " OF_ID(
                                          "?1",
                                          "kz_idh(?2)") " AND stix_id = ?2))"
                                                        " WHERE collection = ?1 AND " OF_ID(
                                                                "?1",
                                                                "kz_idh(?2)") " AND stix_id = ?2",
            err, "store: updating version flags");
    if (!q)
        goto out;
    sqlite3_bind_int64(q, 1, coll);
    sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE) {
        db_fail(s, sqlite3_errcode(s->db), err, "store: updating version flags");
        goto out;
    }
    ret = 0;
out:
    sqlite3_finalize(q);
    kz_buf_free(&sql);
    return ret;
}

static int sqlite_object_owner(void *b, int64_t coll, const char *id, int64_t version_us,
                               struct store_owner *out, struct kz_error *err)
{
    static const char sql[] = "SELECT o.created_by, o.producer, EXISTS (SELECT 1 FROM ix.ids y"
                              " JOIN objects v ON v.collection = y.collection AND v.added = y.added"
                              " WHERE y.collection = ?1 AND y.idh = kz_idh(?2) AND y.version = ?3"
                              " AND v.stix_id = ?2) FROM ix.ids x JOIN objects o"
                              " ON o.collection = x.collection AND o.added = x.added"
                              " WHERE x.collection = ?1 AND x.idh = kz_idh(?2) AND o.stix_id = ?2"
                              " ORDER BY x.version LIMIT 1";
    struct sqlite_store *s = b;
    sqlite3_stmt *q = cached_query(s, sql, sizeof(sql) - 1, err);
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, coll);
    sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, version_us);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        out->exists = 1;
        col_text(q, 0, out->created_by, sizeof(out->created_by));
        out->producer = sqlite3_column_int64(q, 1);
        out->has_version = version_us && sqlite3_column_int(q, 2);
    }
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, rc, err, "store: looking up an object's owner");
    return 0;
}

static int sqlite_status_put(void *b, const char *id, const char *api_root, int64_t user,
                             int64_t created_us, const char *json, size_t len, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "INSERT OR REPLACE INTO statuses (id, api_root, user, created, body)"
                              " VALUES (?1, ?2, ?3, ?4, ?5)",
                              err, "store: saving a status");

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, api_root, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, user);
    sqlite3_bind_int64(q, 4, created_us);
    sqlite3_bind_text(q, 5, json, (int)len, SQLITE_STATIC);
    return finish_change(s, q, NULL, err, "store: saving a status");
}

static int sqlite_status_get(void *b, const char *id, char *api_root, size_t cap, int64_t *user,
                             char **json, size_t *len, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s, "SELECT api_root, user, body FROM statuses WHERE id = ?1", err,
                              "store: reading a status");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(q, 2);
        col_text(q, 0, api_root, cap);
        *user = sqlite3_column_int64(q, 1);
        *json = malloc(n + 1);
        if (*json) {
            memcpy(*json, sqlite3_column_text(q, 2), n);
            (*json)[n] = '\0';
            *len = n;
        }
    }
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return *json ? 0 : kz_error_set(err, KZ_ENOMEM, "out of memory");
    if (rc != SQLITE_DONE)
        return db_fail(s, rc, err, "store: reading a status");
    return kz_error_set(err, KZ_ENOTFOUND, "no status \"%s\"", id);
}

static int sqlite_status_purge(void *b, int64_t before_us, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            prepare(s, "DELETE FROM statuses WHERE created < ?1", err, "store: purging statuses");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, before_us);
    return finish_change(s, q, NULL, err, "store: purging statuses");
}

static int sqlite_audit_head(void *b, int64_t *seq, unsigned char *hash, unsigned char *mac,
                             struct kz_error *err);

static int sqlite_audit_append(void *b, struct store_audit *rows, size_t n, store_audit_chain_fn fn,
                               void *ctx, int durable, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = NULL, *h = NULL;
    unsigned char head_hash[STORE_AUDIT_HASH_LEN], head_mac[STORE_AUDIT_HASH_LEN];
    int64_t head_seq = 0;
    int ret = -1;

    if (n == 0)
        return 0;
    /* WAL with synchronous=NORMAL: the commit is written, not yet synced */
    if (exec(s, durable ? "PRAGMA main.synchronous = FULL" : "PRAGMA main.synchronous = NORMAL",
             err) < 0 ||
        exec(s, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    memset(head_hash, 0, sizeof(head_hash));
    if (sqlite_audit_head(s, &head_seq, head_hash, head_mac, err) < 0)
        goto out;
    fn(ctx, head_seq, head_hash, rows, n, head_mac);
    q = prepare(s,
                "INSERT INTO audit (seq, ts, user, remote, action, collection, count, markings,"
                " detail, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                err, "store: writing the audit log");
    h = prepare(s, "INSERT OR REPLACE INTO audit_head (one, seq, hash, mac) VALUES (1, ?1, ?2, ?3)",
                err, "store: writing the audit log");
    if (!q || !h)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const struct store_audit *a = &rows[i];
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, a->seq);
        sqlite3_bind_int64(q, 2, a->ts_us);
        sqlite3_bind_text(q, 3, a->user, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, a->remote, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 5, a->action, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 6, a->collection, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 7, (sqlite3_int64)a->count);
        sqlite3_bind_text(q, 8, a->markings, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 9, a->detail, -1, SQLITE_STATIC);
        sqlite3_bind_blob(q, 10, a->prev, STORE_AUDIT_HASH_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(q, 11, a->hash, STORE_AUDIT_HASH_LEN, SQLITE_STATIC);
        if (sqlite3_step(q) != SQLITE_DONE) {
            db_fail(s, sqlite3_errcode(s->db), err, "store: writing the audit log");
            goto out;
        }
    }
    sqlite3_bind_int64(h, 1, rows[n - 1].seq);
    sqlite3_bind_blob(h, 2, rows[n - 1].hash, STORE_AUDIT_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(h, 3, head_mac, STORE_AUDIT_HASH_LEN, SQLITE_STATIC);
    if (sqlite3_step(h) != SQLITE_DONE) {
        db_fail(s, sqlite3_errcode(s->db), err, "store: writing the audit log");
        goto out;
    }
    if (exec(s, "COMMIT", err) < 0)
        goto out;
    ret = 0;
out:
    if (ret < 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(q);
    sqlite3_finalize(h);
    return ret;
}

static void copy_blob(sqlite3_stmt *q, int col, unsigned char *out)
{
    if (sqlite3_column_bytes(q, col) == STORE_AUDIT_HASH_LEN)
        memcpy(out, sqlite3_column_blob(q, col), STORE_AUDIT_HASH_LEN);
    else
        memset(out, 0, STORE_AUDIT_HASH_LEN);
}

static int sqlite_audit_head(void *b, int64_t *seq, unsigned char *hash, unsigned char *mac,
                             struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s, "SELECT seq, hash, mac FROM audit_head WHERE one = 1", err,
                              "store: reading the audit log");
    int rc;

    if (!q)
        return -1;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(q, 0);
        copy_blob(q, 1, hash);
        copy_blob(q, 2, mac);
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, rc, err, "store: reading the audit log");
    return 0;
}

static void read_audit(sqlite3_stmt *q, struct store_audit *a)
{
    memset(a, 0, sizeof(*a));
    a->seq = sqlite3_column_int64(q, 0);
    a->ts_us = sqlite3_column_int64(q, 1);
    col_text(q, 2, a->user, sizeof(a->user));
    col_text(q, 3, a->remote, sizeof(a->remote));
    col_text(q, 4, a->action, sizeof(a->action));
    col_text(q, 5, a->collection, sizeof(a->collection));
    a->count = (uint64_t)sqlite3_column_int64(q, 6);
    col_text(q, 7, a->markings, sizeof(a->markings));
    col_text(q, 8, a->detail, sizeof(a->detail));
    copy_blob(q, 9, a->prev);
    copy_blob(q, 10, a->hash);
}

static int sqlite_audit_get(void *b, int64_t seq, struct store_audit *out, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "SELECT seq, ts, user, remote, action, collection, count, markings,"
                              " detail, prev, hash FROM audit WHERE seq = ?1",
                              err, "store: reading the audit log");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, seq);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        read_audit(q, out);
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return db_fail(s, rc, err, "store: reading the audit log");
    return kz_error_set(err, KZ_ENOTFOUND, "no audit row %lld", (long long)seq);
}

static int sqlite_audit_witness(void *b, int64_t seq, const unsigned char *hash,
                                const unsigned char *mac, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "INSERT INTO audit_head (one, seq, hash, mac) VALUES (1, ?1, ?2, ?3)"
                              " ON CONFLICT (one) DO UPDATE SET seq = excluded.seq,"
                              " hash = excluded.hash, mac = excluded.mac"
                              " WHERE excluded.seq > audit_head.seq",
                              err, "store: recording the audit log's head");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, seq);
    sqlite3_bind_blob(q, 2, hash, STORE_AUDIT_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(q, 3, mac, STORE_AUDIT_HASH_LEN, SQLITE_STATIC);
    return finish_change(s, q, NULL, err, "store: recording the audit log's head");
}

static int audit_row(sqlite3_stmt *q, const struct walk *w)
{
    struct store_audit a;

    read_audit(q, &a);
    return ((store_audit_fn)w->fn)(w->ctx, &a);
}

static int sqlite_audit_each(void *b, int64_t since_us, const char *user, store_audit_fn fn,
                             void *ctx, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "SELECT seq, ts, user, remote, action, collection, count, markings,"
                              " detail, prev, hash FROM audit WHERE ts >= ?1 AND"
                              " (?2 IS NULL OR user = ?2) ORDER BY seq",
                              err, "store: reading the audit log");
    struct walk w = {(void (*)(void))fn, ctx};

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, since_us);
    if (user)
        sqlite3_bind_text(q, 2, user, -1, SQLITE_STATIC);
    return walk_rows(s, q, audit_row, &w, err, "store: reading the audit log");
}

/* --- peers ---------------------------------------------------------------- */

#define PEER_COLUMNS                                                                               \
    "key, name, url, token, org, public_key, ca, created, last_success, last_error,"               \
    " last_error_at, auth_user"

static void read_peer(sqlite3_stmt *q, struct store_peer *p)
{
    size_t n = (size_t)sqlite3_column_bytes(q, 3);

    memset(p, 0, sizeof(*p));
    p->key = sqlite3_column_int64(q, 0);
    col_text(q, 1, p->name, sizeof(p->name));
    col_text(q, 2, p->url, sizeof(p->url));
    if (n <= sizeof(p->token)) {
        memcpy(p->token, sqlite3_column_blob(q, 3), n);
        p->token_len = n;
    }
    p->org = sqlite3_column_int64(q, 4);
    col_text(q, 5, p->public_key, sizeof(p->public_key));
    col_text(q, 6, p->ca, sizeof(p->ca));
    p->created_us = sqlite3_column_int64(q, 7);
    p->last_success_us = sqlite3_column_int64(q, 8);
    col_text(q, 9, p->last_error, sizeof(p->last_error));
    p->last_error_us = sqlite3_column_int64(q, 10);
    col_text(q, 11, p->user, sizeof(p->user));
}

/* A peer's rows change together: in a transaction of their own, or, when
 * the caller has one open (`kizuna apply`), in a savepoint inside it, so a
 * failure undoes this peer's change and leaves the caller's transaction to
 * decide about the rest. */
static int peer_tx_begin(struct sqlite_store *s, struct kz_error *err)
{
    return exec(s, s->in_tx ? "SAVEPOINT kz_peer" : "BEGIN IMMEDIATE", err);
}

static int peer_tx_end(struct sqlite_store *s, struct kz_error *err)
{
    return exec(s, s->in_tx ? "RELEASE kz_peer" : "COMMIT", err);
}

static void peer_tx_abort(struct sqlite_store *s)
{
    sqlite3_exec(s->db, s->in_tx ? "ROLLBACK TO kz_peer; RELEASE kz_peer" : "ROLLBACK", NULL, NULL,
                 NULL);
}

static int sqlite_peer_own_communities(void *b, int64_t peer, int64_t *out, size_t cap, size_t *n,
                                       struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "SELECT community FROM peer_communities WHERE peer = ?1"
                              " ORDER BY community",
                              err, "store: reading a peer's communities");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, peer);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        if (*n < cap)
            out[(*n)++] = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return db_fail(s, rc, err, "store: reading a peer's communities");
    return 0;
}

static int insert_link(struct sqlite_store *s, const struct store_peer_link *l, int64_t peer,
                       struct kz_error *err)
{
    sqlite3_stmt *q = prepare(s,
                              "INSERT OR REPLACE INTO peer_links (peer, direction, local, remote,"
                              " checkpoint, checkpoint_text) VALUES (?1, ?2, ?3, ?4, 0, '')",
                              err, "store: adding a peer");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, peer);
    sqlite3_bind_int(q, 2, l->direction);
    sqlite3_bind_int64(q, 3, l->local);
    sqlite3_bind_text(q, 4, l->remote, -1, SQLITE_STATIC);
    return finish_change(s, q, NULL, err, "store: adding a peer");
}

static int sqlite_peer_add(void *b, struct store_peer *p, const int64_t *communities, size_t nc,
                           const struct store_peer_link *links, size_t nl, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q;
    char msg[KZ_MAX_NAME + 64];

    if (peer_tx_begin(s, err) < 0)
        return -1;
    q = prepare(s,
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
    if (finish_change(s, q, msg, err, "store: adding a peer") < 0)
        goto fail;
    p->key = sqlite3_last_insert_rowid(s->db);
    for (size_t i = 0; i < nc; i++) {
        q = prepare(s, "INSERT OR IGNORE INTO peer_communities (peer, community) VALUES (?1, ?2)",
                    err, "store: adding a peer");
        if (!q)
            goto fail;
        sqlite3_bind_int64(q, 1, p->key);
        sqlite3_bind_int64(q, 2, communities[i]);
        if (finish_change(s, q, NULL, err, "store: adding a peer") < 0)
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
    sqlite3_stmt *q = prepare(s, "DELETE FROM peer_communities WHERE peer = ?1", err,
                              "store: changing a peer");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, peer);
    if (finish_change(s, q, NULL, err, "store: changing a peer") < 0)
        return -1;
    for (size_t i = 0; i < nc; i++) {
        q = prepare(s, "INSERT OR IGNORE INTO peer_communities (peer, community) VALUES (?1, ?2)",
                    err, "store: changing a peer");
        if (!q)
            return -1;
        sqlite3_bind_int64(q, 1, peer);
        sqlite3_bind_int64(q, 2, communities[i]);
        if (finish_change(s, q, NULL, err, "store: changing a peer") < 0)
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
    sqlite3_stmt *q = prepare(s,
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
        col_text(q, 1, gone[ngone].remote, sizeof(gone[0].remote));
        ngone++;
    }
    sqlite3_finalize(q);
    if (step != SQLITE_DONE) {
        db_fail(s, step, err, "store: changing a peer");
        goto out;
    }
    for (size_t i = 0; i < ngone; i++) {
        q = prepare(s,
                    "DELETE FROM peer_links WHERE peer = ?1 AND direction = ?2 AND local = ?3"
                    " AND remote = ?4",
                    err, "store: changing a peer");
        if (!q)
            goto out;
        sqlite3_bind_int64(q, 1, peer);
        sqlite3_bind_int(q, 2, dir);
        sqlite3_bind_int64(q, 3, gone[i].local);
        sqlite3_bind_text(q, 4, gone[i].remote, -1, SQLITE_STATIC);
        if (finish_change(s, q, NULL, err, "store: changing a peer") < 0)
            goto out;
    }
    for (size_t i = 0; i < nl; i++) {
        if (links[i].direction != dir)
            continue;
        q = prepare(s,
                    "INSERT OR IGNORE INTO peer_links (peer, direction, local, remote,"
                    " checkpoint, checkpoint_text) VALUES (?1, ?2, ?3, ?4, 0, '')",
                    err, "store: changing a peer");
        if (!q)
            goto out;
        sqlite3_bind_int64(q, 1, peer);
        sqlite3_bind_int(q, 2, dir);
        sqlite3_bind_int64(q, 3, links[i].local);
        sqlite3_bind_text(q, 4, links[i].remote, -1, SQLITE_STATIC);
        if (finish_change(s, q, NULL, err, "store: changing a peer") < 0)
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
    q = prepare(s, "UPDATE peers SET url = ?2, org = ?3, public_key = ?4, ca = ?5 WHERE key = ?1",
                err, "store: changing a peer");
    if (!q)
        goto fail;
    sqlite3_bind_int64(q, 1, p->key);
    sqlite3_bind_text(q, 2, p->url, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, p->org);
    sqlite3_bind_text(q, 4, p->public_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, p->ca, -1, SQLITE_STATIC);
    if (finish_change(s, q, NULL, err, "store: changing a peer") < 0)
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
    sqlite3_stmt *q = cached_query(s, sql, strlen(sql), err);
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
        return db_fail(s, rc, err, "store: finding a peer");
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
    sqlite3_stmt *q = prepare(s, "SELECT " PEER_COLUMNS " FROM peers ORDER BY name", err,
                              "store: listing peers");

    if (!q)
        return -1;
    {
        struct walk w = {(void (*)(void))fn, ctx};
        return walk_rows(s, q, sqlite_peer_each_row, &w, err, "store: listing peers");
    }
}

static int sqlite_peer_remove(void *b, const char *name, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            prepare(s, "DELETE FROM peers WHERE name = ?1", err, "store: removing a peer");

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    if (finish_change(s, q, NULL, err, "store: removing a peer") < 0)
        return -1;
    if (sqlite3_changes(s->db) == 0)
        return kz_error_set(err, KZ_ENOTFOUND, "no peer \"%s\"", name);
    return 0;
}

static int sqlite_peer_credentials(void *b, const char *name, const unsigned char *token,
                                   size_t token_len, const char *user, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              user ? "UPDATE peers SET token = ?2, auth_user = ?3 WHERE name = ?1"
                                   : "UPDATE peers SET token = ?2 WHERE name = ?1",
                              err, "store: replacing a peer's credentials");

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, token, (int)token_len, SQLITE_STATIC);
    if (user)
        sqlite3_bind_text(q, 3, user, -1, SQLITE_STATIC);
    if (finish_change(s, q, NULL, err, "store: replacing a peer's credentials") < 0)
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
    col_text(q, 3, l.remote, sizeof(l.remote));
    l.checkpoint = sqlite3_column_int64(q, 4);
    col_text(q, 5, l.checkpoint_text, sizeof(l.checkpoint_text));
    return ((store_link_fn)w->fn)(w->ctx, &l);
}

static int sqlite_peer_links(void *b, int64_t peer, store_link_fn fn, void *ctx,
                             struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "SELECT peer, direction, local, remote, checkpoint, checkpoint_text"
                              " FROM peer_links WHERE peer = ?1 ORDER BY direction, local, remote",
                              err, "store: listing a peer's links");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, peer);
    {
        struct walk w = {(void (*)(void))fn, ctx};
        return walk_rows(s, q, sqlite_peer_links_row, &w, err, "store: listing a peer's links");
    }
}

static int sqlite_peer_communities(void *b, int64_t peer, int64_t *out, size_t cap, size_t *n,
                                   struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "SELECT community FROM peer_communities WHERE peer = ?1 UNION"
                              " SELECT m.community FROM community_members m JOIN peers p"
                              " ON p.org = m.org WHERE p.key = ?1",
                              err, "store: reading a peer's communities");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, peer);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        if (*n < cap)
            out[(*n)++] = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return db_fail(s, rc, err, "store: reading a peer's communities");
    return 0;
}

static int sqlite_peer_outcome(void *b, int64_t peer, const char *error, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
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
    return finish_change(s, q, NULL, err, "store: recording a sync");
}

static int sqlite_link_checkpoint(void *b, const struct store_peer_link *l, int64_t checkpoint,
                                  const char *text, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
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
    return finish_change(s, q, NULL, err, "store: moving a checkpoint");
}

static int sqlite_peer_head_get(void *b, int64_t peer, struct store_peer_head *out,
                                struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
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
        copy_blob(q, 2, out->hash);
        out->seen_us = sqlite3_column_int64(q, 3);
        col_text(q, 4, out->evidence, sizeof(out->evidence));
        col_text(q, 5, out->problem, sizeof(out->problem));
        out->problem_us = sqlite3_column_int64(q, 6);
    }
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return db_fail(s, rc, err, "store: reading a partner's audit head");
    return kz_error_set(err, KZ_ENOTFOUND, "no audit head seen");
}

static int sqlite_peer_head_put(void *b, const struct store_peer_head *h, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
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
    return finish_change(s, q, NULL, err, "store: recording a partner's audit head");
}

static int sqlite_blob_put(void *b, const char *name, const void *data, size_t len,
                           struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s, "INSERT OR REPLACE INTO blobs (name, data) VALUES (?1, ?2)", err,
                              "store: writing a blob");

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(q, 2, data, (sqlite3_uint64)len, SQLITE_STATIC);
    return finish_change(s, q, NULL, err, "store: writing a blob");
}

static int sqlite_blob_get(void *b, const char *name, char **data, size_t *len,
                           struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            prepare(s, "SELECT data FROM blobs WHERE name = ?1", err, "store: reading a blob");
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(q, 0);
        *data = malloc(n + 1);
        if (*data) {
            if (n)
                memcpy(*data, sqlite3_column_blob(q, 0), n);
            (*data)[n] = '\0';
            *len = n;
        }
    }
    sqlite3_finalize(q);
    if (rc == SQLITE_ROW)
        return *data ? 0 : kz_error_set(err, KZ_ENOMEM, "out of memory");
    if (rc != SQLITE_DONE)
        return db_fail(s, rc, err, "store: reading a blob");
    return kz_error_set(err, KZ_ENOTFOUND, "no blob \"%s\"", name);
}

static int sqlite_count(void *b, int64_t collection, uint64_t *count, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = stmt(s, ST_COUNT, err);
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, collection);
    rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(q);
        return db_fail(s, rc, err, "store: counting objects");
    }
    *count = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return 0;
}

/* --- changing and removing ----------------------------------------------- */

/* Runs sql with ?1 = key (and ?2 = key2 when set); *changes gets the rows
 * it changed (NULL: not wanted). */
static int run_keyed(struct sqlite_store *s, const char *sql, int64_t key, int64_t key2,
                     uint64_t *changes, struct kz_error *err, const char *what)
{
    sqlite3_stmt *q = prepare(s, sql, err, what);

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, key);
    if (key2)
        sqlite3_bind_int64(q, 2, key2);
    if (finish_change(s, q, NULL, err, what) < 0)
        return -1;
    if (changes)
        *changes = (uint64_t)sqlite3_changes(s->db);
    return 0;
}

static int sqlite_user_update(void *b, int64_t key, const char *role, int disabled,
                              struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = prepare(s,
                              "UPDATE users SET role = coalesce(?2, role),"
                              " disabled = CASE WHEN ?3 < 0 THEN disabled ELSE ?3 END"
                              " WHERE key = ?1",
                              err, "store: changing a user");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, key);
    if (role)
        sqlite3_bind_text(q, 2, role, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, disabled < 0 ? -1 : disabled != 0);
    if (finish_change(s, q, NULL, err, "store: changing a user") < 0)
        return -1;
    if (sqlite3_changes(s->db) == 0)
        return kz_error_set(err, KZ_ENOTFOUND, "no user with key %lld", (long long)key);
    return 0;
}

static int sqlite_community_leave(void *b, int64_t community, int64_t org, struct kz_error *err)
{
    uint64_t n = 0;

    if (run_keyed(b, "DELETE FROM community_members WHERE community = ?1 AND org = ?2", community,
                  org, &n, err, "store: leaving a community") < 0)
        return -1;
    return n ? 0 : kz_error_set(err, KZ_ENOTFOUND, "the organisation is not a member");
}

static int sqlite_org_update(void *b, const struct store_org *o, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            prepare(s, "UPDATE orgs SET country = ?2, sector = ?3, kind = ?4 WHERE key = ?1", err,
                    "store: changing an organisation");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, o->key);
    sqlite3_bind_text(q, 2, o->country, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, o->sector, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, o->kind, -1, SQLITE_STATIC);
    return finish_change(s, q, NULL, err, "store: changing an organisation");
}

static int sqlite_collection_update(void *b, const struct store_collection *c, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            prepare(s, "UPDATE collections SET title = ?2, description = ?3 WHERE key = ?1", err,
                    "store: changing a collection");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, c->key);
    sqlite3_bind_text(q, 2, c->title, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, c->description, -1, SQLITE_STATIC);
    return finish_change(s, q, NULL, err, "store: changing a collection");
}

/* One count of store_refs: the SQL (?1 the key) and where it goes. */
struct refs_query {
    enum store_entity kind;
    size_t field; /* offsetof(struct store_refs, ...) */
    const char *sql;
};

static const struct refs_query refs_queries[] = {
        {STORE_ENTITY_ORG, offsetof(struct store_refs, users),
         "SELECT count(*) FROM users WHERE org = ?1"},
        {STORE_ENTITY_ORG, offsetof(struct store_refs, peers),
         "SELECT count(*) FROM peers WHERE org = ?1"},
        {STORE_ENTITY_ORG, offsetof(struct store_refs, objects),
         "SELECT (SELECT count(*) FROM objects WHERE producer = ?1)"
         " + (SELECT count(*) FROM recipients WHERE kind IN (2, 4) AND subject = ?1)"},
        {STORE_ENTITY_ORG, offsetof(struct store_refs, grants),
         "SELECT count(*) FROM grants WHERE kind = 2 AND subject = ?1"},
        {STORE_ENTITY_ORG, offsetof(struct store_refs, members),
         "SELECT count(*) FROM community_members WHERE org = ?1"},
        {STORE_ENTITY_USER, offsetof(struct store_refs, tokens),
         "SELECT count(*) FROM tokens WHERE user = ?1"},
        {STORE_ENTITY_USER, offsetof(struct store_refs, grants),
         "SELECT count(*) FROM grants WHERE kind = 1 AND subject = ?1"},
        {STORE_ENTITY_USER, offsetof(struct store_refs, objects),
         "SELECT count(*) FROM recipients WHERE kind = 1 AND subject = ?1"},
        {STORE_ENTITY_COMMUNITY, offsetof(struct store_refs, grants),
         "SELECT count(*) FROM grants WHERE kind = 3 AND subject = ?1"},
        {STORE_ENTITY_COMMUNITY, offsetof(struct store_refs, members),
         "SELECT count(*) FROM community_members WHERE community = ?1"},
        {STORE_ENTITY_COMMUNITY, offsetof(struct store_refs, peers),
         "SELECT count(*) FROM peer_communities WHERE community = ?1"},
        {STORE_ENTITY_COLLECTION, offsetof(struct store_refs, objects),
         "SELECT count(*) FROM objects WHERE collection = ?1"},
        {STORE_ENTITY_COLLECTION, offsetof(struct store_refs, grants),
         "SELECT count(*) FROM grants WHERE collection = ?1"},
        {STORE_ENTITY_COLLECTION, offsetof(struct store_refs, links),
         "SELECT count(*) FROM peer_links WHERE local = ?1"},
};

static int sqlite_refs_count(void *b, enum store_entity kind, int64_t key, struct store_refs *out,
                             struct kz_error *err)
{
    struct sqlite_store *s = b;

    for (size_t i = 0; i < sizeof(refs_queries) / sizeof(refs_queries[0]); i++) {
        const struct refs_query *r = &refs_queries[i];
        sqlite3_stmt *q;
        int rc;

        if (r->kind != kind)
            continue;
        q = prepare(s, r->sql, err, "store: counting references");
        if (!q)
            return -1;
        sqlite3_bind_int64(q, 1, key);
        rc = sqlite3_step(q);
        if (rc == SQLITE_ROW)
            *(uint64_t *)((char *)out + r->field) = (uint64_t)sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        if (rc != SQLITE_ROW)
            return db_fail(s, rc, err, "store: counting references");
    }
    return 0;
}

/* What store_remove runs for each kind, in order, ?1 the key; the last
 * statement removes the row itself and must change one. */
static const char *const remove_user[] = {
        "DELETE FROM tokens WHERE user = ?1",
        "DELETE FROM grants WHERE kind = 1 AND subject = ?1",
        "UPDATE counters SET value = max(value, ?1) WHERE name = 'key_users'",
        "DELETE FROM users WHERE key = ?1",
        NULL,
};
static const char *const remove_org[] = {
        "DELETE FROM grants WHERE kind = 2 AND subject = ?1",
        "DELETE FROM community_members WHERE org = ?1",
        "UPDATE counters SET value = max(value, ?1) WHERE name = 'key_orgs'",
        "DELETE FROM orgs WHERE key = ?1",
        NULL,
};
static const char *const remove_community[] = {
        "DELETE FROM grants WHERE kind = 3 AND subject = ?1",
        "DELETE FROM community_members WHERE community = ?1",
        "DELETE FROM peer_communities WHERE community = ?1",
        "UPDATE counters SET value = max(value, ?1) WHERE name = 'key_communities'",
        "DELETE FROM communities WHERE key = ?1",
        NULL,
};
static const char *const remove_collection[] = {
        "DELETE FROM recipients WHERE added IN (SELECT added FROM objects WHERE collection = ?1)",
        "DELETE FROM refs WHERE added IN (SELECT added FROM objects WHERE collection = ?1)",
        "DELETE FROM ix.ids WHERE collection = ?1",
        "DELETE FROM objects WHERE collection = ?1",
        "DELETE FROM grants WHERE collection = ?1",
        "DELETE FROM peer_links WHERE local = ?1",
        "UPDATE counters SET value = max(value, ?1) WHERE name = 'key_collections'",
        "DELETE FROM collections WHERE key = ?1",
        NULL,
};

static int sqlite_remove(void *b, enum store_entity kind, int64_t key, struct kz_error *err)
{
    struct sqlite_store *s = b;
    const char *const *sql = kind == STORE_ENTITY_USER        ? remove_user
                             : kind == STORE_ENTITY_ORG       ? remove_org
                             : kind == STORE_ENTITY_COMMUNITY ? remove_community
                                                              : remove_collection;
    uint64_t n = 0;

    if (!s->in_tx)
        return kz_error_set(err, KZ_EINTERNAL, "store: a removal outside a transaction");
    if (kind == STORE_ENTITY_ORG) {
        struct store_refs r;
        memset(&r, 0, sizeof(r));
        if (sqlite_refs_count(b, kind, key, &r, err) < 0)
            return -1;
        if (r.users || r.peers)
            return kz_error_set(err, KZ_ECONFLICT,
                                "the organisation still has %llu user(s) and %llu peer(s)",
                                (unsigned long long)r.users, (unsigned long long)r.peers);
    }
    /* the id index follows the objects' deletions (ids_level) */
    if (kind == STORE_ENTITY_COLLECTION)
        s->deleted_in_tx = 1;
    for (; *sql; sql++)
        if (run_keyed(s, *sql, key, 0, &n, err, "store: removing") < 0)
            return -1;
    return n ? 0
             : kz_error_set(err, KZ_ENOTFOUND, "nothing with key %lld to remove", (long long)key);
}

const struct store_backend store_sqlite_backend = {
        .name = "sqlite",
        .open = sqlite_open,
        .close = sqlite_close,
        .data_version = sqlite_data_version,
        .defer_checkpoints = sqlite_defer_checkpoints,
        .set_cache_kib = sqlite_set_cache_kib,
        .checkpoint = sqlite_checkpoint,
        .begin = sqlite_begin,
        .commit = sqlite_commit,
        .rollback = sqlite_rollback,
        .step = sqlite_step,
        .collection_add = sqlite_collection_add,
        .collection_find = sqlite_collection_find,
        .collection_each = sqlite_collection_each,
        .api_root_add = sqlite_api_root_add,
        .api_root_find = sqlite_api_root_find,
        .api_root_each = sqlite_api_root_each,
        .org_add = sqlite_org_add,
        .org_find = sqlite_org_find,
        .org_each = sqlite_org_each,
        .user_add = sqlite_user_add,
        .user_find = sqlite_user_find,
        .user_each = sqlite_user_each,
        .token_add = sqlite_token_add,
        .token_find = sqlite_token_find,
        .token_revoke = sqlite_token_revoke,
        .token_each = sqlite_token_each,
        .community_each = sqlite_community_each,
        .grant_set = sqlite_grant_set,
        .grant_check = sqlite_grant_check,
        .grant_each = sqlite_grant_each,
        .community_add = sqlite_community_add,
        .community_find = sqlite_community_find,
        .community_join = sqlite_community_join,
        .put = sqlite_put,
        .list = sqlite_list,
        .del = sqlite_delete,
        .owner = sqlite_object_owner,
        .status_put = sqlite_status_put,
        .status_get = sqlite_status_get,
        .status_purge = sqlite_status_purge,
        .audit_append = sqlite_audit_append,
        .audit_head = sqlite_audit_head,
        .audit_each = sqlite_audit_each,
        .audit_get = sqlite_audit_get,
        .audit_witness = sqlite_audit_witness,
        .peer_head_get = sqlite_peer_head_get,
        .peer_head_put = sqlite_peer_head_put,
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
        .blob_put = sqlite_blob_put,
        .blob_get = sqlite_blob_get,
        .count = sqlite_count,
        .user_update = sqlite_user_update,
        .community_leave = sqlite_community_leave,
        .org_update = sqlite_org_update,
        .collection_update = sqlite_collection_update,
        .refs_count = sqlite_refs_count,
        .remove = sqlite_remove,
};
