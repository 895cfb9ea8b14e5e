/*
 * The SQLite backend's objects: API roots, collections and the STIX object
 * versions, with all that is SQLite's own about them. objects keeps one
 * row per object version with its original JSON text. The rowid is the
 * date added (µs), so the table itself is in date-added order; `latest` and
 * `first` mark the newest and oldest version of each id in its collection,
 * kept right on every insert, so TAXII's default match[version]=last is a
 * plain indexed scan.
 *
 * The index from an id to its versions lives in a second database beside
 * the first (<store>-ids, attached as "ix") with 1 KiB pages. New objects'
 * ids fall anywhere in it, so a commit of n new objects dirties about n of
 * its leaves, and SQLite writes every dirty page whole, to the log and again
 * to the database: with the objects' 4 KiB pages of the time, the id index was
 * four fifths of what a POST into a collection of a million wrote. Each
 * transaction writes both files; SQLite commits attached databases one
 * after the other, so a crash between the two can leave ix behind or ahead,
 * and only the objects' log is synced at a commit, so a crash can also cost
 * ix its last commits (sqlite_ids_attach). ix.state records how far ix has
 * followed (the last date added and the count of transactions that deleted
 * objects, both also kept in the main database) and every write
 * transaction first brings it level (ids_level). Nothing of ix leaves this
 * file: the connection (sqlite_store.c) calls the sqlite_ids_* and
 * sqlite_objects_* hooks declared in sqlite_int.h.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>

#include "json/json.h"
#include "util/buf.h"
#include "util/kztime.h"

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
};

static sqlite3_stmt *stmt(struct sqlite_store *s, enum stmt_id id, struct kz_error *err)
{
    int rc;

    if (!s->st[id]) {
        rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->st[id],
                                NULL);
        if (rc != SQLITE_OK) {
            sq_fail(s, rc, err, "store: preparing a statement");
            return NULL;
        }
    }
    sqlite3_reset(s->st[id]);
    sqlite3_clear_bindings(s->st[id]);
    return s->st[id];
}

/* Runs one of the statements without parameters or rows. */
static int step_stmt(struct sqlite_store *s, enum stmt_id id, struct kz_error *err)
{
    sqlite3_stmt *q = stmt(s, id, err);

    return q ? sq_step_done(s, q, err, "store: updating counters") : -1;
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
        kz_error_set(err, sq_map_code(rc), "store: cannot create the id index %s: %s", path,
                     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

int sqlite_ids_attach(struct sqlite_store *s, struct kz_error *err)
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
        return sq_fail(s, rc, err, "store: attaching the id index");
    /* Only the objects' commit is synced: ix is derived from them, and
     * after a crash that cost it its last commits, ids_level rebuilds what
     * it lost from the objects (as after a crash between the two commits)
     * before anything is written, and at open. An acknowledged write
     * survives in the objects; a second sync per commit bought nothing. */
    return sq_exec(s, "PRAGMA ix.synchronous = NORMAL", err) < 0 ||
                           sq_exec(s, "PRAGMA ix.journal_size_limit = 268435456", err) < 0 ||
                           sq_exec(s, "PRAGMA ix.cache_size = -16384", err) < 0
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
    return rc == SQLITE_ROW ? 0 : sq_fail(s, rc, err, "store: reading the id index's state");
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
    if (sq_exec(s, fix, err) < 0)
        return -1;
    return sq_exec(s,
                   "INSERT OR REPLACE INTO ix.state (one, upto, deletes) VALUES (1,"
                   " (SELECT value FROM counters WHERE name = 'last_added'),"
                   " (SELECT value FROM counters WHERE name = 'deletes'))",
                   err);
}

/* At open: every write transaction levels ix first (sqlite_begin), so a
 * reader levels it only when it can do so without waiting. A difference
 * seen while another connection writes is usually that connection between
 * its two commits, not a crash. */
int sqlite_ids_level_at_open(struct sqlite_store *s, struct kz_error *err)
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
        return sq_fail(s, rc, err, "store: levelling the id index");
    if (ids_level(s, err) < 0 || sq_exec(s, "COMMIT", err) < 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

int sqlite_ids_functions(struct sqlite_store *s, struct kz_error *err)
{
    int rc = sqlite3_create_function(s->db, "kz_idh", 1,
                                     SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                     sql_id_hash, NULL, NULL);

    if (rc != SQLITE_OK)
        return sq_fail(s, rc, err, "store: registering kz_idh");
    return 0;
}

void sqlite_ids_cache_kib(struct sqlite_store *s, int kib)
{
    char sql[64];

    /* an import of a million objects in one transaction dirties all of
     * the id index's pages */
    snprintf(sql, sizeof(sql), "PRAGMA ix.cache_size = -%d", kib);
    sqlite3_exec(s->db, sql, NULL, NULL, NULL);
}

int sqlite_objects_begin(struct sqlite_store *s, struct kz_error *err)
{
    sqlite3_stmt *q;
    int rc;

    q = stmt(s, ST_LAST_ADDED, err);
    if (!q)
        return -1;
    rc = sqlite3_step(q);
    if (rc != SQLITE_ROW)
        return sq_fail(s, rc, err, "store: reading the last date added");
    s->last_added = sqlite3_column_int64(q, 0);
    s->first_added_in_tx = 0;
    s->deleted_in_tx = 0;
    sqlite3_reset(q);
    return ids_level(s, err);
}

int sqlite_objects_commit(struct sqlite_store *s, struct kz_error *err)
{
    sqlite3_stmt *q;
    int rc;

    if (s->first_added_in_tx) {
        q = stmt(s, ST_SET_LAST_ADDED, err);
        if (!q)
            return -1;
        sqlite3_bind_int64(q, 1, s->last_added);
        rc = sqlite3_step(q);
        sqlite3_reset(q);
        if (rc != SQLITE_DONE)
            return sq_fail(s, rc, err, "store: recording the last date added");
        q = stmt(s, ST_SET_UPTO, err);
        if (!q)
            return -1;
        sqlite3_bind_int64(q, 1, s->last_added);
        if (sq_step_done(s, q, err, "store: recording the last date added") < 0)
            return -1;
    }
    if (s->deleted_in_tx &&
        (step_stmt(s, ST_COUNT_DELETE, err) < 0 || step_stmt(s, ST_COUNT_DELETE_IX, err) < 0))
        return -1;
    return 0;
}

/* What removing a collection takes of its objects, in order, ?1 its key. */
static const char *const drop_collection[] = {
        "DELETE FROM recipients WHERE added IN (SELECT added FROM objects WHERE collection = ?1)",
        "DELETE FROM refs WHERE added IN (SELECT added FROM objects WHERE collection = ?1)",
        "DELETE FROM ix.ids WHERE collection = ?1",
        "DELETE FROM objects WHERE collection = ?1",
        NULL,
};

int sqlite_objects_drop(struct sqlite_store *s, int64_t collection, struct kz_error *err)
{
    /* the id index follows the objects' deletions (ids_level) */
    s->deleted_in_tx = 1;
    s->absent_valid = 0;
    for (const char *const *sql = drop_collection; *sql; sql++)
        if (sq_run_keyed(s, *sql, collection, 0, NULL, err, "store: removing") < 0)
            return -1;
    return 0;
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
        return sq_fail(s, rc, err, "store: adding a collection");
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
        return sq_fail(s, rc, err, "store: adding a collection");
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
        return sq_fail(s, rc, err, "store: finding a collection");
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
        return sq_fail(s, rc, err, "store: finding a collection");
    return kz_error_set(err, KZ_ENOTFOUND, "no collection \"%s\"", id_or_alias);
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
    sqlite3_stmt *q = sq_prepare(s,
                                 "SELECT " COLLECTION_COLUMNS " FROM collections"
                                 " WHERE ?1 IS NULL OR api_root = ?1 ORDER BY alias",
                                 err, "store: listing collections");

    if (!q)
        return -1;
    if (api_root)
        sqlite3_bind_text(q, 1, api_root, -1, SQLITE_STATIC);
    return sq_walk_rows(s, q, collection_row, &w, err, "store: listing collections");
}

static int sqlite_api_root_add(void *b, const struct store_api_root *r, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s,
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
    return sq_finish_change(s, q, msg, err, "store: adding an API root");
}

static void read_api_root(sqlite3_stmt *q, struct store_api_root *r)
{
    memset(r, 0, sizeof(*r));
    sq_col_text(q, 0, r->name, sizeof(r->name));
    sq_col_text(q, 1, r->title, sizeof(r->title));
    sq_col_text(q, 2, r->description, sizeof(r->description));
    r->max_content_length = (uint64_t)sqlite3_column_int64(q, 3);
}

static int sqlite_api_root_find(void *b, const char *name, struct store_api_root *out,
                                struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q = sq_prepare(s,
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
        return sq_fail(s, rc, err, "store: finding an API root");
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
    sqlite3_stmt *q = sq_prepare(s,
                                 "SELECT name, title, description, max_content_length"
                                 " FROM api_roots ORDER BY name",
                                 err, "store: listing API roots");

    if (!q)
        return -1;
    {
        struct walk w = {(void (*)(void))fn, ctx};
        return sq_walk_rows(s, q, sqlite_api_root_each_row, &w, err, "store: listing API roots");
    }
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
        return sq_fail(s, rc, err, "store: looking up an object");
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
        return sq_fail(s, rc, err, "store: reading an object's versions");
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
    return sq_step_done(s, q, err, "store: updating version flags");
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
    return sq_step_done(r->s, q, r->err, "store: recording a reference");
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
        if (sq_step_done(s, q, err, "store: recording a recipient") < 0)
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
    /* A new id (the common case in bulk imports) needs one index probe,
     * and none when the owner lookup just before found it absent. */
    if (!(s->absent_valid && s->absent_coll == coll && strcmp(s->absent_id, o->id) == 0) &&
        version_range(s, coll, o->id, &exists, &maxv, &minv, err) < 0)
        return -1;
    s->absent_valid = 0;
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
    if (sq_step_done(s, q, err, "store: inserting an object") < 0)
        return -1;
    q = stmt(s, ST_INSERT_ID, err);
    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, coll);
    sqlite3_bind_int64(q, 2, idh);
    sqlite3_bind_int64(q, 3, version);
    sqlite3_bind_int64(q, 4, when);
    if (sq_step_done(s, q, err, "store: indexing an object's id") < 0)
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

/* The object-level visibility of a row of objects `o`, and with
 * v->check_refs the refs gate: every object a relationship or container
 * points to that the collection holds must have a version the reader may
 * see. "Holds" asks the index alone (by hash): a collision can only make it
 * true wrongly, and then the exact test for a visible version hides the
 * relationship, which fails closed. The reader's organisation's own
 * relationships are not gated (SHARING.md): it chose their targets, and
 * gating them would tell it which guessed ids the collection holds. Bulk
 * paths gate everything, so no export names what it leaves behind.
 *
 * With memo, a listing remembers each referenced id's answer (kz_gate_get,
 * kz_gate_put), and sqlite_list the ids of the rows it has listed, which
 * are visible: a page's relationships point to the indicators just before
 * them and to a few targets again and again. */
static void add_visibility(struct kz_buf *sql, const struct store_visibility *v, int memo)
{
    if (!v->active)
        return;
    kz_buf_addstr(sql, " AND ");
    add_visible(sql, v, "o");
    if (!v->check_refs)
        return;
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
    /* a reference fails when the collection holds it and no version of it
     * is visible; with memo, its answer (ok: it does not fail) is asked
     * of the memo first and noted there */
    kz_buf_addstr(sql, " OR NOT EXISTS (SELECT 1 FROM refs f WHERE f.added = o.added AND ");
    if (memo)
        kz_buf_addstr(sql, "NOT coalesce(kz_gate_get(f.ref), kz_gate_put(f.ref, NOT (");
    kz_buf_addstr(sql, "EXISTS (SELECT 1 FROM ix.ids x"
                       " WHERE x.collection = o.collection AND x.idh = kz_idh(f.ref))"
                       " AND NOT EXISTS (SELECT 1 FROM ix.ids x JOIN objects o2"
                       " ON o2.collection = x.collection AND o2.added = x.added"
                       " WHERE x.collection = o.collection AND x.idh = kz_idh(f.ref)"
                       " AND o2.stix_id = f.ref AND ");
    add_visible(sql, v, "o2");
    kz_buf_addc(sql, ')');
    if (memo)
        kz_buf_addstr(sql, ")))");
    kz_buf_addstr(sql, "))");
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
    add_visibility(sql, &f->vis, 1);
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

/* The answers of the refs gate (add_visibility's memo): whether a view
 * (a reader's visibility on one collection) may see some version of an id,
 * or the collection holds none. They hold for one state of the store: the
 * memo is kept from one listing to the next while both databases' data
 * versions (which change with every commit, this connection's or
 * another's) stay the same, read inside the listing's own read
 * transaction; inside a write transaction it lasts one listing. Open
 * addressing; entries of an earlier generation are empty. Ids longer than
 * an entry holds are not remembered (asked each time). */
#define GATE_SLOTS    (2 * STORE_GATE_MEMO)
#define GATE_ID_BYTES 54
#define GATE_VIEWS    8

struct gate_view {
    int64_t collection, user, org, peer;
    int max_level, default_tlp, exclude_red;
    char org_identity[KZ_MAX_STIX_ID + 1];
};

/* One id's answer in one view: a cache line. */
struct gate_entry {
    uint32_t gen, hash;
    uint16_t view;
    uint8_t ok, len;
    char id[GATE_ID_BYTES];
};

struct gate_memo {
    int active;      /* inside a listing: the functions answer */
    int checked;     /* the data versions were compared in this listing */
    int one_listing; /* forget everything when the listing ends */
    int valid;       /* the answers hold for version[] */
    unsigned gen, used, view, nviews;
    unsigned version[2]; /* main's and ix's data versions the answers hold for */
    struct gate_view views[GATE_VIEWS];
    struct gate_entry *e; /* GATE_SLOTS of them */
};

/* Forgets every answer, keeping the views. */
static void memo_forget(struct gate_memo *m)
{
    if (++m->gen == 0) { /* wrapped: no old entry may look current */
        for (size_t i = 0; i < GATE_SLOTS; i++)
            m->e[i].gen = 0;
        m->gen = 1;
    }
    m->used = 0;
}

static void memo_clear(struct gate_memo *m)
{
    memo_forget(m);
    m->nviews = 0;
}

static struct gate_memo *memo_new(void)
{
    struct gate_memo *m = calloc(1, sizeof(*m));

    if (m)
        m->e = aligned_alloc(64, GATE_SLOTS * sizeof(*m->e));
    if (!m || !m->e) {
        free(m);
        return NULL;
    }
    memset(m->e, 0, GATE_SLOTS * sizeof(*m->e));
    m->gen = 1; /* entries of generation 0 are empty */
    return m;
}

static void memo_free(struct gate_memo *m)
{
    if (m)
        free(m->e);
    free(m);
}

/* Selects the view of f in the memo (adding it; clearing all when full). */
static void memo_view(struct gate_memo *m, const struct store_filter *f)
{
    const struct store_visibility *v = &f->vis;
    struct gate_view w;

    memset(&w, 0, sizeof(w));
    w.collection = f->collection;
    w.user = v->user;
    w.org = v->org;
    w.peer = v->peer;
    w.max_level = v->max_level;
    w.default_tlp = v->default_tlp;
    w.exclude_red = v->exclude_red;
    snprintf(w.org_identity, sizeof(w.org_identity), "%s", v->org_identity ? v->org_identity : "");
    for (m->view = 0; m->view < m->nviews; m->view++)
        if (memcmp(&m->views[m->view], &w, sizeof(w)) == 0)
            return;
    if (m->nviews == GATE_VIEWS)
        memo_clear(m);
    m->view = m->nviews++;
    m->views[m->view] = w;
}

/* The slot of id (length n < GATE_ID_BYTES, hash h) in the current view,
 * *found when it holds it. */
static unsigned memo_slot(const struct gate_memo *m, const char *id, size_t n, uint32_t h,
                          int *found)
{
    for (unsigned i = h & (GATE_SLOTS - 1);; i = (i + 1) & (GATE_SLOTS - 1)) {
        const struct gate_entry *e = &m->e[i];

        if (e->gen != m->gen) {
            *found = 0;
            return i;
        }
        if (e->hash == h && e->view == m->view && e->len == n && memcmp(e->id, id, n) == 0) {
            *found = 1;
            return i;
        }
    }
}

/* The hash of id in the current view; 0 when the memo cannot hold it. */
static uint32_t memo_hash(const struct gate_memo *m, const unsigned char *id, size_t n)
{
    uint32_t h = 2166136261u ^ m->view;

    if (!id || n >= GATE_ID_BYTES || memchr(id, 0, n))
        return 0;
    /* ids end in a random UUID: its last characters spread them well */
    for (size_t k = n > 16 ? n - 16 : 0; k < n; k++)
        h = (h ^ id[k]) * 16777619u;
    return h | 1;
}

static void memo_put(struct gate_memo *m, const unsigned char *id, size_t n, int ok)
{
    uint32_t h = memo_hash(m, id, n);
    int found;
    unsigned i;

    if (!h)
        return;
    i = memo_slot(m, (const char *)id, n, h, &found);
    if (!found) {
        if (m->used >= STORE_GATE_MEMO) {
            /* full (never more than half the slots, so probes end): start
             * again, as distinct pages keep bringing new ids */
            memo_forget(m);
            i = memo_slot(m, (const char *)id, n, h, &found);
        }
        m->used++;
        m->e[i].gen = m->gen;
        m->e[i].hash = h;
        m->e[i].view = (uint16_t)m->view;
        m->e[i].len = (uint8_t)n;
        memcpy(m->e[i].id, id, n);
    }
    m->e[i].ok = (uint8_t)ok;
}

/* On the first use in a listing, inside its read transaction: forgets the
 * answers of another state of the store. */
static void memo_check(struct sqlite_store *s)
{
    struct gate_memo *m = s->memo;
    unsigned v[2] = {0, 0};

    if (m->checked)
        return;
    m->checked = 1;
    if (s->in_tx ||
        sqlite3_file_control(s->db, "main", SQLITE_FCNTL_DATA_VERSION, &v[0]) != SQLITE_OK ||
        sqlite3_file_control(s->db, "ix", SQLITE_FCNTL_DATA_VERSION, &v[1]) != SQLITE_OK)
        m->one_listing = 1;
    if (m->one_listing || !m->valid || v[0] != m->version[0] || v[1] != m->version[1]) {
        struct gate_view w = m->views[m->view];

        memo_clear(m);
        m->view = m->nviews++;
        m->views[m->view] = w;
        m->version[0] = v[0];
        m->version[1] = v[1];
        m->valid = !m->one_listing;
    }
}

/* The memo, when a listing is running. */
static struct gate_memo *active_memo(sqlite3_context *ctx)
{
    struct sqlite_store *s = sqlite3_user_data(ctx);

    if (!s->memo || !s->memo->active)
        return NULL;
    memo_check(s);
    return s->memo;
}

/* kz_gate_get(id): the answer remembered for id, NULL when none. */
static void sql_gate_get(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct gate_memo *m = active_memo(ctx);
    const unsigned char *id = sqlite3_value_text(argv[0]);
    size_t n = (size_t)sqlite3_value_bytes(argv[0]);
    uint32_t h = m ? memo_hash(m, id, n) : 0;
    int found = 0;
    unsigned i;

    (void)argc;
    if (h) {
        i = memo_slot(m, (const char *)id, n, h, &found);
        if (found) {
            sqlite3_result_int(ctx, m->e[i].ok);
            return;
        }
    }
    sqlite3_result_null(ctx);
}

/* kz_gate_put(id, ok): remembers ok for id and returns it. */
static void sql_gate_put(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct gate_memo *m = active_memo(ctx);
    int ok = sqlite3_value_int(argv[1]) != 0;

    (void)argc;
    if (m)
        memo_put(m, sqlite3_value_text(argv[0]), (size_t)sqlite3_value_bytes(argv[0]), ok);
    sqlite3_result_int(ctx, ok);
}

int sqlite_gate_functions(struct sqlite_store *s, struct kz_error *err)
{
    static const struct {
        const char *name;
        int nargs;
        void (*fn)(sqlite3_context *, int, sqlite3_value **);
    } fns[] = {{"kz_gate_get", 1, sql_gate_get}, {"kz_gate_put", 2, sql_gate_put}};

    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        int rc = sqlite3_create_function(s->db, fns[i].name, fns[i].nargs,
                                         SQLITE_UTF8 | SQLITE_DIRECTONLY, s, fns[i].fn, NULL, NULL);
        if (rc != SQLITE_OK)
            return sq_fail(s, rc, err, "store: registering the gate's functions");
    }
    return 0;
}

/* What build_list_sql's text depends on: two filters of the same shape get
 * the same SQL (their values are bound), so a listing builds its text once
 * per shape and connection instead of printing it for every request. */
struct list_shape {
    int want_raw, after, nids, ntypes, nspec_versions, versions, nversion_times;
    int exclude_origin, exclude_type, limit, active, exclude_red, check_refs;
};

struct list_sql {
    unsigned n, next;
    struct {
        struct list_shape shape;
        char *sql;
        size_t len;
    } e[QUERY_CACHE];
};

void sqlite_objects_free(struct sqlite_store *s)
{
    memo_free(s->memo);
    if (s->list_sql)
        for (unsigned i = 0; i < s->list_sql->n; i++)
            free(s->list_sql->e[i].sql);
    free(s->list_sql);
}

/* The SQL of f's listing, built or found by shape; NULL when out of memory
 * or too large (err set). Owned by the connection. */
static const char *list_sql(struct sqlite_store *s, const struct store_filter *f, int want_raw,
                            size_t *len, struct kz_error *err)
{
    struct list_shape k;
    struct list_sql *c = s->list_sql;
    struct kz_buf sql;
    unsigned i;

    memset(&k, 0, sizeof(k));
    k.want_raw = want_raw != 0;
    k.after = f->added_after >= 0;
    k.nids = (int)f->nids;
    k.ntypes = (int)f->ntypes;
    k.nspec_versions = (int)f->nspec_versions;
    k.versions = (int)f->versions;
    k.nversion_times = (int)f->nversion_times;
    k.exclude_origin = f->exclude_origin != 0;
    k.exclude_type = f->exclude_type != NULL;
    k.limit = f->limit != 0;
    k.active = f->vis.active != 0;
    k.exclude_red = f->vis.exclude_red != 0;
    k.check_refs = f->vis.check_refs != 0;
    if (!c) {
        c = s->list_sql = calloc(1, sizeof(*c));
        if (!c) {
            kz_error_set(err, KZ_ENOMEM, "out of memory");
            return NULL;
        }
    }
    for (i = 0; i < c->n; i++)
        if (memcmp(&c->e[i].shape, &k, sizeof(k)) == 0) {
            *len = c->e[i].len;
            return c->e[i].sql;
        }
    kz_buf_init(&sql, 64 * 1024);
    if (build_list_sql(f, want_raw, &sql) < 0) {
        kz_buf_free(&sql);
        kz_error_set(err, KZ_ELIMIT, "store: query too large");
        return NULL;
    }
    /* a new shape takes a free entry, else the oldest */
    i = c->n < QUERY_CACHE ? c->n++ : c->next++ % QUERY_CACHE;
    free(c->e[i].sql);
    c->e[i].shape = k;
    c->e[i].sql = strdup(sql.data);
    c->e[i].len = sql.len;
    kz_buf_free(&sql);
    if (!c->e[i].sql) {
        c->e[i].shape.limit = -1; /* matches no filter */
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        return NULL;
    }
    *len = c->e[i].len;
    return c->e[i].sql;
}

static int sqlite_list(void *b, const struct store_filter *f, int want_raw, store_row_fn fn,
                       void *ctx, struct store_page *page, struct kz_error *err)
{
    struct sqlite_store *s = b;
    const char *sql;
    size_t len;
    sqlite3_stmt *q = NULL;
    struct store_row r;
    int rc, ret = -1, memo = f->vis.active && f->vis.check_refs;

    sql = list_sql(s, f, want_raw, &len, err);
    if (!sql)
        goto out;
    if (memo) {
        if (!s->memo)
            s->memo = memo_new();
        if (!s->memo) {
            kz_error_set(err, KZ_ENOMEM, "out of memory");
            goto out;
        }
        /* inside a write transaction the state changes under the memo */
        if (s->in_tx)
            s->memo->one_listing = 1;
        memo_view(s->memo, f);
        s->memo->checked = 0;
        s->memo->active = 1;
    }
    q = sq_cached_query(s, sql, len, err);
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
        /* a row listed is a version the reader may see: a relationship
         * further on that points to it passes without asking */
        if (memo) {
            memo_check(s);
            memo_put(s->memo, (const unsigned char *)r.id, (size_t)sqlite3_column_bytes(q, 1), 1);
        }
        if (fn && fn(ctx, &r, err) < 0)
            goto out;
        /* a listing nested in fn has ended: the memo is not this one's any
         * more (its view changed), so the rest asks SQL alone */
        if (memo && !s->memo->active)
            memo = 0;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sq_fail(s, rc, err, "store: listing objects");
        goto out;
    }
    ret = 0;
out:
    if (q)
        sqlite3_reset(q); /* it stays cached; release its read lock now */
    if (s->memo) {
        s->memo->active = 0;
        if (s->memo->one_listing) {
            memo_clear(s->memo);
            s->memo->valid = s->memo->one_listing = 0;
        }
    }
    return ret;
}

/* Removes the recipients and references of a deleted object version. */
static int forget_side_rows(struct sqlite_store *s, int64_t added, struct kz_error *err)
{
    static const char *const sql[] = {"DELETE FROM recipients WHERE added = ?1",
                                      "DELETE FROM refs WHERE added = ?1"};

    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *q = sq_prepare(s, sql[i], err, "store: deleting an object");
        if (!q)
            return -1;
        sqlite3_bind_int64(q, 1, added);
        if (sq_finish_change(s, q, NULL, err, "store: deleting an object") < 0)
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
    s->absent_valid = 0;
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
        add_visibility(&sql, &f->vis, 0);
        kz_buf_addstr(&sql, "))");
    }
    kz_buf_addstr(&sql, " RETURNING version, version_text, added");
    if (sql.failed) {
        kz_error_set(err, KZ_ELIMIT, "store: query too large");
        goto out;
    }
    q = sq_prepare(s, sql.data, err, "store: deleting an object");
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
        sq_fail(s, rc, err, "store: deleting an object");
        goto out;
    }
    sqlite3_finalize(q);
    q = sq_prepare(s,
                   "DELETE FROM ix.ids AS x WHERE x.collection = ?1 AND x.idh = kz_idh(?2)"
                   " AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.collection = x.collection"
                   " AND o.added = x.added)",
                   err, "store: deleting an object");
    if (!q)
        goto out;
    sqlite3_bind_int64(q, 1, coll);
    sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE) {
        sq_fail(s, sqlite3_errcode(s->db), err, "store: deleting an object");
        goto out;
    }
    sqlite3_finalize(q);
    q = sq_prepare(
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
        sq_fail(s, sqlite3_errcode(s->db), err, "store: updating version flags");
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
    sqlite3_stmt *q = sq_cached_query(s, sql, sizeof(sql) - 1, err);
    int rc;

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, coll);
    sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, version_us);
    s->absent_valid = 0;
    rc = sqlite3_step(q);
    if (rc == SQLITE_DONE && s->in_tx && strlen(id) < sizeof(s->absent_id)) {
        s->absent_valid = 1;
        s->absent_coll = coll;
        memcpy(s->absent_id, id, strlen(id) + 1);
    }
    if (rc == SQLITE_ROW) {
        out->exists = 1;
        sq_col_text(q, 0, out->created_by, sizeof(out->created_by));
        out->producer = sqlite3_column_int64(q, 1);
        out->has_version = version_us && sqlite3_column_int(q, 2);
    }
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_fail(s, rc, err, "store: looking up an object's owner");
    return 0;
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
        return sq_fail(s, rc, err, "store: counting objects");
    }
    *count = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return 0;
}

static int sqlite_collection_update(void *b, const struct store_collection *c, struct kz_error *err)
{
    struct sqlite_store *s = b;
    sqlite3_stmt *q =
            sq_prepare(s, "UPDATE collections SET title = ?2, description = ?3 WHERE key = ?1", err,
                       "store: changing a collection");

    if (!q)
        return -1;
    sqlite3_bind_int64(q, 1, c->key);
    sqlite3_bind_text(q, 2, c->title, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, c->description, -1, SQLITE_STATIC);
    return sq_finish_change(s, q, NULL, err, "store: changing a collection");
}

const struct store_objects_ops sqlite_objects_ops = {
        .collection_add = sqlite_collection_add,
        .collection_find = sqlite_collection_find,
        .collection_each = sqlite_collection_each,
        .collection_update = sqlite_collection_update,
        .api_root_add = sqlite_api_root_add,
        .api_root_find = sqlite_api_root_find,
        .api_root_each = sqlite_api_root_each,
        .put = sqlite_put,
        .list = sqlite_list,
        .del = sqlite_delete,
        .owner = sqlite_object_owner,
        .count = sqlite_count,
};
