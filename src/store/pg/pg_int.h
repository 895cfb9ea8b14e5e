/*
 * The PostgreSQL backend's internal header, shared by its files and seen by
 * no one else: the connection (struct pg_store), the statements each
 * concern prepares once per connection (struct pg_stmt), the parameters
 * they are run with (struct pg_params: values are always sent apart from
 * the SQL, never spliced into it) and the helpers that read results and
 * turn PostgreSQL's errors into kz_error codes. Each concern's file fills
 * one table of store_backend.h.
 */
#ifndef KZ_STORE_PG_INT_H
#define KZ_STORE_PG_INT_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_backend.h"

/* A statement of a concern's file: prepared on a connection the first time
 * it is run there (PQprepare), under a name the connection gives it. */
struct pg_stmt {
    const char *sql;
};

/* Statements one connection can hold prepared: every pg_stmt of every
 * concern (a fixed set) fits. */
#define PG_MAX_STMTS 128

struct pg_store {
    PGconn *conn;
    int in_tx;
    const struct pg_stmt *prepared[PG_MAX_STMTS]; /* slot i is prepared as "kz<i>" */
    int nprepared;
    uint64_t data_version;
    /* objects.c: whether the transaction holds the objects' clock row
     * (objects_lock) and has added objects, the last date added handed
     * out, and the statements prepared per filter shape */
    int objects_locked;
    int objects_added;
    int64_t last_added;
    struct pg_shapes *shapes;
    /* copy.c: which tables' INSERTs are prepared (bit i: copy_tables[i]) */
    uint64_t copy_prepared;
    int tx_own;    /* pg_tx_open began the transaction (else a savepoint) */
    int listening; /* LISTEN done: notifications move data_version */
    int lost;      /* a statement failed without reaching the server: connect again */
    char leaders[STORE_LEADER_MAX][STORE_LEADER_NAME_MAX]; /* leader.c */
    int nleaders;
};

/* The parameters of one statement; text values point at the caller's
 * memory, which must outlive the run. */
#define PG_MAX_PARAMS 12
struct pg_params {
    int n;
    const char *v[PG_MAX_PARAMS];
    int len[PG_MAX_PARAMS];
    int fmt[PG_MAX_PARAMS]; /* 0 text, 1 binary (bytea) */
    char num[PG_MAX_PARAMS][24];
};

void pg_params_init(struct pg_params *p);
void pg_param_text(struct pg_params *p, const char *v); /* NULL: SQL NULL */
void pg_param_textn(struct pg_params *p, const char *v, size_t len);
void pg_param_int(struct pg_params *p, int64_t v);
void pg_param_bytea(struct pg_params *p, const void *v, size_t len);

/* Runs st with p (NULL: none), preparing it on this connection first when
 * needed. Returns the result (the caller PQclear()s it) when the statement
 * succeeded, else NULL with err set: a unique or foreign key violation is
 * KZ_EEXISTS with exists_msg when given; see pg_fail for the rest. Inside
 * a transaction a statement given an exists_msg runs under a savepoint,
 * so that its expected failure leaves the transaction usable, as SQLite's
 * statement-level rollback does. */
PGresult *pg_run(struct pg_store *s, const struct pg_stmt *st, const struct pg_params *p,
                 const char *exists_msg, struct kz_error *err, const char *what);
/* pg_run for a statement that changes rows; *changes (NULL: not wanted)
 * gets how many. */
int pg_change(struct pg_store *s, const struct pg_stmt *st, const struct pg_params *p,
              const char *exists_msg, uint64_t *changes, struct kz_error *err, const char *what);
/* Runs sql (no parameters: fixed text only) on the connection. */
int pg_exec(struct pg_store *s, const char *sql, struct kz_error *err, const char *what);
/* Sets err from a failed result (or the connection, when res is NULL);
 * returns -1. */
int pg_fail(struct pg_store *s, const PGresult *res, struct kz_error *err, const char *what);

/* The loop of every listing: hands each row of r to read, which calls the
 * caller's callback (fn points at it); stops at STORE_STOP (a success) or
 * -1 (the callback's failure, returned as -1). Clears r. */
int pg_walk_rows(PGresult *r, int (*read)(const PGresult *r, int row, void *fn, void *ctx),
                 void *fn, void *ctx);

/* Reading a text-format result. */
void pg_col_text(const PGresult *r, int row, int col, char *out, size_t cap);
int64_t pg_col_int(const PGresult *r, int row, int col);
/* Copies a bytea column of exactly len bytes into out (zeros otherwise). */
void pg_col_bytea(const PGresult *r, int row, int col, unsigned char *out, size_t len);
/* A bytea column as a new NUL-terminated buffer (the caller frees). */
int pg_col_bytea_dup(const PGresult *r, int row, int col, char **out, size_t *len,
                     struct kz_error *err);

/* The channel every transaction that may change what servers cache
 * notifies (pg_data_version); the audit log's writes do not. */
#define PG_CHANNEL "kizuna"

/* A change of several statements that lands whole: a transaction of its
 * own (announced on PG_CHANNEL when announce is set), or, inside the
 * caller's open transaction, a savepoint of it, so that a failure undoes
 * this change alone and the caller's commit or rollback decides the rest.
 * pg_tx_abort accepts a failed open. */
int pg_tx_open(struct pg_store *s, int announce, struct kz_error *err, const char *what);
int pg_tx_close(struct pg_store *s, struct kz_error *err, const char *what);
void pg_tx_abort(struct pg_store *s);

/* store_leader_try (leader.c). */
int pg_leader_try(void *b, const char *name, struct kz_error *err);

/* Outside a transaction: connects again when the connection was lost
 * (PostgreSQL restarted, or failed over), dropping what the old session
 * held; KZ_EBUSY while the server cannot be reached. */
/* Whether s's connection is gone (or must be taken for gone): the next use
 * connects again. */
int pg_lost(const struct pg_store *s);
int pg_reconnect(struct pg_store *s, struct kz_error *err);
/* pg_exec of what starts a transaction (or reads outside one), on a
 * connection that may have been closed while idle (PostgreSQL restarted
 * since its last use): when it finds the connection dead it connects
 * again and runs sql once more, since nothing of it happened. */
int pg_exec_fresh(struct pg_store *s, const char *sql, struct kz_error *err, const char *what);

/* What a concern not yet carried over to PostgreSQL answers: a clear
 * failure, never a silent success. */
int pg_not_yet(struct kz_error *err, const char *what);

/* The objects' hooks into the connection's life (objects.c): a new
 * transaction holds no lock yet; a commit first records the last date
 * added; a step rolled back may have released the clock's lock; closing
 * frees the prepared listings. */
void pg_objects_begin(struct pg_store *s);
int pg_objects_commit(struct pg_store *s, struct kz_error *err);
void pg_objects_step_rollback(struct pg_store *s);
void pg_objects_close(struct pg_store *s);
/* Removes a collection's object versions with their recipient and
 * reference rows, inside an open transaction (remove.c). */
int pg_objects_drop(struct pg_store *s, int64_t collection, struct kz_error *err);

/* --- each concern's table --------------------------------------------------- */

extern const struct store_copy_ops pg_copy_ops;
extern const struct store_objects_ops pg_objects_ops;
extern const struct store_accounts_ops pg_accounts_ops;
extern const struct store_grants_ops pg_grants_ops;
extern const struct store_remove_ops pg_remove_ops;
extern const struct store_status_ops pg_status_ops;
extern const struct store_peers_ops pg_peers_ops;
extern const struct store_blobs_ops pg_blobs_ops;
extern const struct store_audit_ops pg_audit_ops;

#endif
