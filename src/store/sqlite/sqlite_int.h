/*
 * The SQLite backend's internal header, shared by its files and seen by no
 * one else: the connection (struct sqlite_store), the helpers every concern
 * uses to prepare, step and walk statements, and the hooks by which the
 * connection (sqlite_store.c) reaches what is objects.c's own (the id
 * index). Each concern's file fills one table of store_backend.h.
 */
#ifndef KZ_STORE_SQLITE_INT_H
#define KZ_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "json/json.h"
#include "store/store_backend.h"

/* The key a new row of table gets: past every key it holds and every key
 * it ever held (store_remove records the highest removed), so a grant,
 * recipient or producer left naming a removed key never names a newcomer.
 * SQLite alone would hand out max(key) + 1 again. */
#define NEXT_KEY(table)                                                                            \
    "(SELECT max(coalesce((SELECT max(key) FROM " table "), 0),"                                   \
    " coalesce((SELECT value FROM counters WHERE name = 'key_" table "'), 0)) + 1)"

/* The fixed statements of objects.c (their SQL is there), prepared once
 * per connection. */
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
    ST__N
};

/* Listings build their SQL from the filter's shape; the few shapes a
 * client uses are kept prepared. */
#define QUERY_CACHE 16

struct sqlite_store {
    sqlite3 *db;
    char path[1024];
    sqlite3_stmt *st[ST__N];      /* objects.c's fixed statements */
    sqlite3_stmt *data_version_q; /* PRAGMA data_version, kept prepared */
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
    /* In a write transaction, an id the last owner lookup found absent from
     * a collection, until anything else is written: the put that follows
     * it (policy asks first) needs no second probe of the id index. */
    int absent_valid;
    int64_t absent_coll;
    char absent_id[KZ_MAX_STIX_ID + 1];
    struct gate_memo *memo;      /* the refs gate's answers within one listing (objects.c) */
    struct list_sql *list_sql;   /* listings' SQL text by filter shape (objects.c) */
    struct kzj_doc cmp_a, cmp_b; /* for comparing a conflicting version's content */
    struct {
        char name[STORE_LEADER_NAME_MAX];
        int fd; /* the flocked file beside the store */
    } leaders[STORE_LEADER_MAX];
    int nleaders; /* leader.c */
};

/* --- leadership (leader.c) ----------------------------------------------- */

int sqlite_leader_try(void *b, const char *name, struct kz_error *err);
/* Gives up every leadership s holds (at close). */
void sqlite_leader_release(struct sqlite_store *s);

/* --- helpers (sqlite_store.c) --------------------------------------------- */

/* Sets err from SQLite's rc for the step `what`, naming a full disk, a
 * store locked too long or an I/O error as such; returns -1. */
int sq_fail(struct sqlite_store *s, int rc, struct kz_error *err, const char *what);
enum kz_ecode sq_map_code(int rc);
/* Runs sql (no parameters, no rows). */
int sq_exec(struct sqlite_store *s, const char *sql, struct kz_error *err);
/* Prepares sql for one use (the caller finalizes). */
sqlite3_stmt *sq_prepare(struct sqlite_store *s, const char *sql, struct kz_error *err,
                         const char *what);
/* Steps q to SQLITE_DONE and resets it. */
int sq_step_done(struct sqlite_store *s, sqlite3_stmt *q, struct kz_error *err, const char *what);
/* A prepared statement for sql from the connection's small cache (reset,
 * bindings cleared): the caller neither finalizes nor keeps it. */
sqlite3_stmt *sq_cached_query(struct sqlite_store *s, const char *sql, size_t len,
                              struct kz_error *err);

/* What a *_each passes to sq_walk_rows: the caller's callback (of the type
 * the row reader knows) and its context. */
struct walk {
    void (*fn)(void);
    void *ctx;
};

/* Reads the row q is on and hands it to the walk's callback; returns the
 * callback's answer. */
typedef int (*row_reader)(sqlite3_stmt *q, const struct walk *w);

int sq_walk_rows(struct sqlite_store *s, sqlite3_stmt *q, row_reader read, const struct walk *w,
                 struct kz_error *err, const char *what);
int sq_finish_change(struct sqlite_store *s, sqlite3_stmt *q, const char *exists_msg,
                     struct kz_error *err, const char *what);
void sq_col_text(sqlite3_stmt *q, int i, char *out, size_t cap);
void sq_copy_blob(sqlite3_stmt *q, int col, unsigned char *out);
int sq_run_keyed(struct sqlite_store *s, const char *sql, int64_t key, int64_t key2,
                 uint64_t *changes, struct kz_error *err, const char *what);

/* --- what the connection asks of objects.c (the id index) ----------------- */

/* Registers kz_idh(), the id index's hash, which the schema also uses. */
int sqlite_ids_functions(struct sqlite_store *s, struct kz_error *err);
/* Frees what objects.c keeps on the connection (the memo, the SQL texts). */
void sqlite_objects_free(struct sqlite_store *s);
/* Registers the refs gate's memo functions (kz_gate_get, kz_gate_put),
 * which answer only inside a listing. */
int sqlite_gate_functions(struct sqlite_store *s, struct kz_error *err);
/* Attaches <store>-ids as "ix", creating it when absent. */
int sqlite_ids_attach(struct sqlite_store *s, struct kz_error *err);
/* At open: levels ix with the objects when that needs no waiting. */
int sqlite_ids_level_at_open(struct sqlite_store *s, struct kz_error *err);
/* The page cache of the id index, like the main database's. */
void sqlite_ids_cache_kib(struct sqlite_store *s, int kib);
/* Inside a write transaction just begun: reads the last date added and
 * brings ix level. */
int sqlite_objects_begin(struct sqlite_store *s, struct kz_error *err);
/* Just before COMMIT: records the last date added and the deletions, in
 * both databases. */
int sqlite_objects_commit(struct sqlite_store *s, struct kz_error *err);
/* Removes all of a collection's objects with their id index, recipient and
 * reference rows (store_remove of a collection). */
int sqlite_objects_drop(struct sqlite_store *s, int64_t collection, struct kz_error *err);

/* --- each concern's table --------------------------------------------------- */

extern const struct store_copy_ops sqlite_copy_ops;
extern const struct store_objects_ops sqlite_objects_ops;
extern const struct store_accounts_ops sqlite_accounts_ops;
extern const struct store_grants_ops sqlite_grants_ops;
extern const struct store_remove_ops sqlite_remove_ops;
extern const struct store_status_ops sqlite_status_ops;
extern const struct store_peers_ops sqlite_peers_ops;
extern const struct store_blobs_ops sqlite_blobs_ops;
extern const struct store_audit_ops sqlite_audit_ops;

#endif
