/*
 * The PostgreSQL backend's objects concern: API roots, collections and the
 * STIX object versions, with the same answers as SQLite's objects.c and the
 * same costs. A version is one row of objects keyed (collection, added),
 * so a page is a range of the key; objects_by_id (collection, stix_id,
 * version) finds an id's versions; raw is the JSON text as sent, and pages
 * are spliced from it. is_latest and is_first mark an id's newest and
 * oldest versions, kept right on every insert and deletion, so the default
 * match[version]=last is a plain scan. Dates added come from the objects'
 * clock (below), unique and growing in commit order across servers.
 * Visibility is decided in the SQL, as SQLite's is, so an invisible object
 * never reaches a page, a count or a cursor.
 */
#include "store/pg/pg_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "util/buf.h"
#include "util/kztime.h"

#define COLLECTION_COLUMNS "key, id, api_root, alias, title, description, created"
#define API_ROOT_COLUMNS   "name, title, description, max_content_length"

static const struct pg_stmt collection_add_q = {
        "INSERT INTO collections (id, api_root, alias, title, description, created)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING key"};
/* by id or alias, the id first, within an API root ($2 NULL: any) */
static const struct pg_stmt collection_find_q = {
        "SELECT " COLLECTION_COLUMNS " FROM collections WHERE (id = $1 OR alias = $1)"
        " AND ($2::text IS NULL OR api_root = $2::text) ORDER BY id = $1 DESC LIMIT 1"};
static const struct pg_stmt collection_each_q = {"SELECT " COLLECTION_COLUMNS
                                                 " FROM collections WHERE $1::text IS NULL"
                                                 " OR api_root = $1::text ORDER BY alias"};
static const struct pg_stmt collection_update_q = {
        "UPDATE collections SET title = $2, description = $3 WHERE key = $1"};
static const struct pg_stmt api_root_add_q = {"INSERT INTO api_roots (" API_ROOT_COLUMNS
                                              ") VALUES ($1, $2, $3, $4)"};
static const struct pg_stmt api_root_find_q = {"SELECT " API_ROOT_COLUMNS
                                               " FROM api_roots WHERE name = $1"};
static const struct pg_stmt api_root_each_q = {"SELECT " API_ROOT_COLUMNS
                                               " FROM api_roots ORDER BY name"};

static void read_collection(const PGresult *r, int row, struct store_collection *c)
{
    memset(c, 0, sizeof(*c));
    c->key = pg_col_int(r, row, 0);
    pg_col_text(r, row, 1, c->id, sizeof(c->id));
    pg_col_text(r, row, 2, c->api_root, sizeof(c->api_root));
    pg_col_text(r, row, 3, c->alias, sizeof(c->alias));
    pg_col_text(r, row, 4, c->title, sizeof(c->title));
    pg_col_text(r, row, 5, c->description, sizeof(c->description));
    c->created_us = pg_col_int(r, row, 6);
}

static int pg_collection_add(void *b, struct store_collection *c, struct kz_error *err)
{
    struct pg_params p;
    char msg[2 * KZ_MAX_NAME + 64];
    PGresult *r;

    c->created_us = kz_now_micros();
    pg_params_init(&p);
    pg_param_text(&p, c->id);
    pg_param_text(&p, c->api_root);
    pg_param_text(&p, c->alias);
    pg_param_text(&p, c->title);
    pg_param_text(&p, c->description);
    pg_param_int(&p, c->created_us);
    snprintf(msg, sizeof(msg), "a collection named \"%s\" already exists in API root \"%s\"",
             c->alias, c->api_root);
    r = pg_run(b, &collection_add_q, &p, msg, err, "store: adding a collection");
    if (!r)
        return -1;
    c->key = pg_col_int(r, 0, 0);
    PQclear(r);
    return 0;
}

static int pg_collection_find(void *b, const char *api_root, const char *id_or_alias,
                              struct store_collection *out, struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;
    int found;

    pg_params_init(&p);
    pg_param_text(&p, id_or_alias);
    pg_param_text(&p, api_root);
    r = pg_run(b, &collection_find_q, &p, NULL, err, "store: finding a collection");
    if (!r)
        return -1;
    found = PQntuples(r) > 0;
    if (found)
        read_collection(r, 0, out);
    PQclear(r);
    return found ? 0 : kz_error_set(err, KZ_ENOTFOUND, "no collection \"%s\"", id_or_alias);
}

static int collection_row(const PGresult *r, int row, void *fn, void *ctx)
{
    struct store_collection c;

    read_collection(r, row, &c);
    return (*(store_collection_fn *)fn)(ctx, &c);
}

static int pg_collection_each(void *b, const char *api_root, store_collection_fn fn, void *ctx,
                              struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;

    pg_params_init(&p);
    pg_param_text(&p, api_root);
    r = pg_run(b, &collection_each_q, &p, NULL, err, "store: listing collections");
    return r ? pg_walk_rows(r, collection_row, &fn, ctx) : -1;
}

static int pg_collection_update(void *b, const struct store_collection *c, struct kz_error *err)
{
    struct pg_params p;

    pg_params_init(&p);
    pg_param_int(&p, c->key);
    pg_param_text(&p, c->title);
    pg_param_text(&p, c->description);
    return pg_change(b, &collection_update_q, &p, NULL, NULL, err, "store: changing a collection");
}

static int pg_api_root_add(void *b, const struct store_api_root *ar, struct kz_error *err)
{
    struct pg_params p;
    char msg[KZ_MAX_NAME + 64];

    pg_params_init(&p);
    pg_param_text(&p, ar->name);
    pg_param_text(&p, ar->title);
    pg_param_text(&p, ar->description);
    pg_param_int(&p, (int64_t)ar->max_content_length);
    snprintf(msg, sizeof(msg), "API root \"%s\" already exists", ar->name);
    return pg_change(b, &api_root_add_q, &p, msg, NULL, err, "store: adding an API root");
}

static void read_api_root(const PGresult *r, int row, struct store_api_root *ar)
{
    memset(ar, 0, sizeof(*ar));
    pg_col_text(r, row, 0, ar->name, sizeof(ar->name));
    pg_col_text(r, row, 1, ar->title, sizeof(ar->title));
    pg_col_text(r, row, 2, ar->description, sizeof(ar->description));
    ar->max_content_length = (uint64_t)pg_col_int(r, row, 3);
}

static int pg_api_root_find(void *b, const char *name, struct store_api_root *out,
                            struct kz_error *err)
{
    struct pg_params p;
    PGresult *r;
    int found;

    pg_params_init(&p);
    pg_param_text(&p, name);
    r = pg_run(b, &api_root_find_q, &p, NULL, err, "store: finding an API root");
    if (!r)
        return -1;
    found = PQntuples(r) > 0;
    if (found)
        read_api_root(r, 0, out);
    PQclear(r);
    return found ? 0 : kz_error_set(err, KZ_ENOTFOUND, "no API root \"%s\"", name);
}

static int api_root_row(const PGresult *r, int row, void *fn, void *ctx)
{
    struct store_api_root ar;

    read_api_root(r, row, &ar);
    return (*(store_api_root_fn *)fn)(ctx, &ar);
}

static int pg_api_root_each(void *b, store_api_root_fn fn, void *ctx, struct kz_error *err)
{
    PGresult *r = pg_run(b, &api_root_each_q, NULL, NULL, err, "store: listing API roots");

    return r ? pg_walk_rows(r, api_root_row, &fn, ctx) : -1;
}

/* --- statements whose text follows the filter -------------------------------
 *
 * A listing's SQL depends on which conditions its filter sets, and its
 * lists of values travel as arrays, so there is one text per shape of
 * filter, not per filter. Each text is prepared on the connection the
 * first time it is used (as pg_run does for the fixed statements of the
 * other concerns), up to PG_MAX_SHAPES of them; past that a text is sent
 * unnamed, still with its values apart. The object statements live in
 * this cache too, so they never crowd the other concerns' slots. */

#define OID_INT8       20
#define OID_TEXT       25
#define OID_TEXT_ARRAY 1009
#define OID_INT8_ARRAY 1016

#define PG_MAX_SHAPES 64
#define Q_MAX_PARAMS  24
#define Q_MAX_ARRAYS  18

struct pg_shapes {
    int n;
    char *sql[PG_MAX_SHAPES]; /* slot i is prepared as "kzo<i>" */
};

struct qparams {
    int n, narr, failed;
    Oid type[Q_MAX_PARAMS];
    const char *v[Q_MAX_PARAMS];
    int len[Q_MAX_PARAMS];
    int fmt[Q_MAX_PARAMS]; /* 0 text, 1 binary (text sent as its bytes) */
    char num[Q_MAX_PARAMS][24];
    struct kz_buf arr[Q_MAX_ARRAYS];
};

static void qp_init(struct qparams *p)
{
    memset(p, 0, sizeof(*p));
}

static void qp_free(struct qparams *p)
{
    for (int i = 0; i < p->narr; i++)
        kz_buf_free(&p->arr[i]);
}

/* A parameter's slot; more than the SQL below uses is this file's bug. */
static int qp_slot(struct qparams *p, Oid type)
{
    if (p->n >= Q_MAX_PARAMS)
        abort();
    p->type[p->n] = type;
    return p->n++;
}

/* Each qp_* adds one parameter and returns its number ($n). */
static int qp_int(struct qparams *p, int64_t v)
{
    int i = qp_slot(p, OID_INT8);

    snprintf(p->num[i], sizeof(p->num[i]), "%" PRId64, v);
    p->v[i] = p->num[i];
    return i + 1;
}

static int qp_text(struct qparams *p, const char *v)
{
    int i = qp_slot(p, OID_TEXT);

    p->v[i] = v;
    return i + 1;
}

/* Text of a given length, sent as a binary value of type text: its bytes
 * as they are. */
static int qp_textn(struct qparams *p, const char *v, size_t n)
{
    int i = qp_slot(p, OID_TEXT);

    p->v[i] = n ? v : "";
    p->len[i] = (int)n;
    p->fmt[i] = 1;
    return i + 1;
}

static struct kz_buf *qp_array(struct qparams *p, Oid type, int *num)
{
    struct kz_buf *b;

    if (p->narr >= Q_MAX_ARRAYS)
        abort();
    b = &p->arr[p->narr++];
    /* an object's refs at most double when escaped */
    kz_buf_init(b, 2 * KZ_MAX_OBJECT_BYTES + 16);
    kz_buf_addc(b, '{');
    *num = qp_slot(p, type) + 1;
    return b;
}

static int qp_array_end(struct qparams *p, struct kz_buf *b, int num)
{
    kz_buf_addc(b, '}');
    p->failed |= b->failed;
    p->v[num - 1] = b->data;
    return num;
}

/* One element of a text array in PostgreSQL's array syntax: quoted, with
 * quotes and backslashes escaped, so any text is one element. */
static void array_text(struct kz_buf *b, const char *v, size_t n)
{
    kz_buf_addstr(b, b->len > 1 ? ",\"" : "\"");
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '"' || v[i] == '\\')
            kz_buf_addc(b, '\\');
        kz_buf_addc(b, v[i]);
    }
    kz_buf_addc(b, '"');
}

static int qp_text_array(struct qparams *p, const char *const *v, unsigned n)
{
    int num;
    struct kz_buf *b = qp_array(p, OID_TEXT_ARRAY, &num);

    for (unsigned i = 0; i < n; i++)
        array_text(b, v[i], strlen(v[i]));
    return qp_array_end(p, b, num);
}

static int qp_int_array(struct qparams *p, const int64_t *v, unsigned n)
{
    int num;
    struct kz_buf *b = qp_array(p, OID_INT8_ARRAY, &num);

    for (unsigned i = 0; i < n; i++)
        kz_buf_printf(b, "%s%" PRId64, i ? "," : "", v[i]);
    return qp_array_end(p, b, num);
}

/* One more element of an int8[] begun with qp_array. */
static void array_int(struct kz_buf *b, int64_t v)
{
    kz_buf_printf(b, "%s%" PRId64, b->len > 1 ? "," : "", v);
}

/* A text[] sent in PostgreSQL's binary array form, for the batches of
 * objects: a header (one dimension, no NULLs, elements of type text) and
 * then each element as its length and its bytes, so that a batch of
 * objects' texts costs one copy and no escaping. Its elements may total
 * max bytes; bin_text adds one, qp_bin_array_end writes their count. */
#define BIN_ARRAY_HEADER 20

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static struct kz_buf *qp_bin_array(struct qparams *p, size_t max, int *num)
{
    unsigned char h[BIN_ARRAY_HEADER];
    struct kz_buf *b;

    if (p->narr >= Q_MAX_ARRAYS)
        abort();
    b = &p->arr[p->narr++];
    kz_buf_init(b, BIN_ARRAY_HEADER + max);
    put_be32(h, 1);      /* dimensions */
    put_be32(h + 4, 0);  /* no NULLs */
    put_be32(h + 8, 25); /* the elements' type: text */
    put_be32(h + 12, 0); /* their number, set at the end */
    put_be32(h + 16, 1); /* the lower bound */
    kz_buf_add(b, h, sizeof(h));
    *num = qp_slot(p, OID_TEXT_ARRAY) + 1;
    return b;
}

static void bin_text(struct kz_buf *b, const char *v, size_t n)
{
    unsigned char len[4];

    if (n > (size_t)INT32_MAX) {
        b->failed = 1;
        return;
    }
    put_be32(len, (uint32_t)n);
    kz_buf_add(b, len, sizeof(len));
    kz_buf_add(b, v, n);
}

static int qp_bin_array_end(struct qparams *p, struct kz_buf *b, int num, unsigned count)
{
    p->failed |= b->failed;
    if (!b->failed)
        put_be32((unsigned char *)b->data + 12, count);
    p->v[num - 1] = b->failed ? "" : b->data;
    p->len[num - 1] = b->failed ? 0 : (int)b->len;
    p->fmt[num - 1] = 1;
    return num;
}

void pg_objects_close(struct pg_store *s)
{
    if (!s->shapes)
        return;
    for (int i = 0; i < s->shapes->n; i++)
        free(s->shapes->sql[i]);
    free(s->shapes);
    s->shapes = NULL;
}

/* The name sql is prepared under on s ("" when the cache is full: the
 * caller sends it unnamed), preparing it the first time. */
static int shape(struct pg_store *s, const char *sql, const struct qparams *p, char name[16],
                 struct kz_error *err, const char *what)
{
    PGresult *r;
    char *copy;
    int i;

    name[0] = '\0';
    if (!s->shapes && !(s->shapes = calloc(1, sizeof(*s->shapes))))
        return kz_error_set(err, KZ_ENOMEM, "out of memory");
    for (i = 0; i < s->shapes->n; i++) {
        if (strcmp(s->shapes->sql[i], sql) == 0) {
            snprintf(name, 16, "kzo%d", i);
            return 0;
        }
    }
    if (i == PG_MAX_SHAPES)
        return 0;
    copy = strdup(sql);
    if (!copy)
        return kz_error_set(err, KZ_ENOMEM, "out of memory");
    snprintf(name, 16, "kzo%d", i);
    r = PQprepare(s->conn, name, sql, p->n, p->type);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        pg_fail(s, r, err, what);
        PQclear(r);
        free(copy);
        return -1;
    }
    PQclear(r);
    s->shapes->sql[s->shapes->n++] = copy;
    return 0;
}

/* Runs sql with p and returns its whole result (the caller PQclear()s
 * it), or NULL with err set. For statements whose result is small. */
static PGresult *q_run(struct pg_store *s, const char *sql, const struct qparams *p,
                       struct kz_error *err, const char *what)
{
    char name[16];
    PGresult *r;
    ExecStatusType t;

    if (p->failed) {
        kz_error_set(err, KZ_ELIMIT, "%s: the values are too large", what);
        return NULL;
    }
    if (shape(s, sql, p, name, err, what) < 0)
        return NULL;
    r = name[0] ? PQexecPrepared(s->conn, name, p->n, p->v, p->len, p->fmt, 0)
                : PQexecParams(s->conn, sql, p->n, p->type, p->v, p->len, p->fmt, 0);
    t = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK)
        return r;
    pg_fail(s, r, err, what);
    PQclear(r);
    return NULL;
}

/* q_run for a statement whose result is not wanted. */
static int q_do(struct pg_store *s, const char *sql, const struct qparams *p, struct kz_error *err,
                const char *what)
{
    PGresult *r = q_run(s, sql, p, err, what);

    PQclear(r);
    return r ? 0 : -1;
}

/* --- the objects' clock ------------------------------------------------------
 *
 * Dates added must be unique and grow in commit order across every server
 * on the database: a TAXII client that pages with added_after must never
 * find, later, an object dated before its last page. SQLite gets that from
 * its single writer. Here every transaction that writes objects first
 * locks the one row of objects_clock (SELECT ... FOR UPDATE) and holds it
 * to commit: writers of objects take turns, as on SQLite, and each starts
 * from the last date the previous one recorded. A row lock rather than an
 * advisory lock, because the row must exist anyway (servers' clocks differ
 * and go back; the last date handed out is what the next one must exceed)
 * and one statement both waits for it and reads it; a writer that waits
 * longer than lock_timeout gets KZ_EBUSY, as with SQLite's busy timeout.
 * The last date is written back once, at commit (pg_objects_commit), not
 * per object: a row updated a million times in one transaction would
 * leave a million versions of itself to walk. Deletions take the lock
 * too, so that the first/last flags of an id are never rewritten by two
 * transactions at once. */

static const char clock_lock_sql[] =
        "SELECT last_added FROM objects_clock WHERE one = 1 FOR UPDATE";
static const char clock_set_sql[] =
        "UPDATE objects_clock SET last_added = GREATEST(last_added, $1) WHERE one = 1";

void pg_objects_begin(struct pg_store *s)
{
    s->objects_locked = 0;
    s->objects_added = 0;
    s->last_added = 0;
}

/* A step rolled back releases the locks taken inside it: the next write
 * takes the clock again (it keeps the larger of the dates). */
void pg_objects_step_rollback(struct pg_store *s)
{
    s->objects_locked = 0;
}

static int objects_lock(struct pg_store *s, struct kz_error *err)
{
    struct qparams p;
    PGresult *r;
    int64_t last;

    if (s->objects_locked)
        return 0;
    qp_init(&p);
    r = q_run(s, clock_lock_sql, &p, err, "store: waiting for the objects' clock");
    if (!r)
        return -1;
    last = PQntuples(r) == 1 ? pg_col_int(r, 0, 0) : 0;
    PQclear(r);
    if (last > s->last_added)
        s->last_added = last;
    s->objects_locked = 1;
    return 0;
}

int pg_objects_commit(struct pg_store *s, struct kz_error *err)
{
    struct qparams p;

    /* a transaction that failed inside is ended by COMMIT as a rollback,
     * which pg_commit reports: nothing to record */
    if (!s->objects_added || PQtransactionStatus(s->conn) == PQTRANS_INERROR)
        return 0;
    qp_init(&p);
    qp_int(&p, s->last_added);
    return q_do(s, clock_set_sql, &p, err, "store: recording the last date added");
}

/* --- putting ------------------------------------------------------------------- */

/* Whether two JSON texts hold the same value (RFC 8785 canonical forms
 * equal): used only when a version arrives again with different bytes. */
static int same_content(const char *a, size_t an, const char *b, size_t bn)
{
    struct kzj_doc da, db;
    struct kz_buf ca, cb;
    int same = 0;

    if (an == bn && memcmp(a, b, an) == 0)
        return 1;
    kzj_doc_init(&da);
    kzj_doc_init(&db);
    kz_buf_init(&ca, KZ_MAX_OBJECT_BYTES * 2);
    kz_buf_init(&cb, KZ_MAX_OBJECT_BYTES * 2);
    if (kzj_parse(&da, a, an, NULL) == 0 && kzj_parse(&db, b, bn, NULL) == 0 &&
        kzj_canonical(&da, 0, &ca) == 0 && kzj_canonical(&db, 0, &cb) == 0)
        same = ca.len == cb.len && memcmp(ca.data, cb.data, ca.len) == 0;
    kz_buf_free(&ca);
    kz_buf_free(&cb);
    kzj_doc_free(&da);
    kzj_doc_free(&db);
    return same;
}

/* The stored version of id at version (or its newest, version < 0): 1
 * with *added and its text when there is one, 0 when not. */
static const char find_version_sql[] = "SELECT added, raw FROM objects"
                                       " WHERE collection = $1 AND stix_id = $2 AND version = $3";
static const char find_latest_sql[] = "SELECT added, raw FROM objects"
                                      " WHERE collection = $1 AND stix_id = $2 AND is_latest";

/* Inserts a version unless that id and version are there (ON CONFLICT: a
 * duplicate never fails the statement, so never the transaction), with
 * its recipient rows ($14-$17) and reference rows ($18) when it was
 * inserted: one round trip per new object, which is what a POST of many
 * objects is made of. Its flags come from the id's other versions, read
 * in the same statement through objects_by_id. */
static const char insert_sql[] =
        "WITH m AS (SELECT max(version) AS maxv, min(version) AS minv FROM objects"
        " WHERE collection = $1 AND stix_id = $2),"
        " ins AS (INSERT INTO objects (collection, added, stix_id, type, version, version_text,"
        " spec_version, created_by, tlp, producer, origin, revoked, is_latest, is_first, raw)"
        " SELECT $1, $3, $2, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
        " m.maxv IS NULL OR $5 > m.maxv, m.minv IS NULL OR $5 < m.minv, $13 FROM m"
        " ON CONFLICT (collection, stix_id, version) DO NOTHING RETURNING added, is_latest,"
        " is_first),"
        " rc AS (INSERT INTO recipients (added, kind, subject) SELECT ins.added, r.k, r.s FROM ins,"
        " (SELECT 1 AS k, unnest($14::bigint[]) AS s UNION ALL SELECT 2, unnest($15::bigint[])"
        " UNION ALL SELECT 3, unnest($16::bigint[]) UNION ALL SELECT 4, unnest($17::bigint[])) r"
        " ON CONFLICT DO NOTHING),"
        " rf AS (INSERT INTO refs (added, ref) SELECT ins.added, unnest($18::text[]) FROM ins"
        " ON CONFLICT DO NOTHING)"
        " SELECT is_latest, is_first FROM ins";
static const char clear_latest_sql[] = "UPDATE objects SET is_latest = false WHERE collection = $1"
                                       " AND stix_id = $2 AND is_latest AND added <> $3";
static const char clear_first_sql[] = "UPDATE objects SET is_first = false WHERE collection = $1"
                                      " AND stix_id = $2 AND is_first AND added <> $3";

/* Kinds of rows in recipients: 1 a user named, 2 an organisation named, 3 a
 * partner node whose user is named (all three widen who sees the object),
 * and RCPT_SUBMITTER, the organisation that POSTed it, which widens nothing
 * but exempts the object from relationship gating for that organisation
 * (the same numbers as SQLite's). */
#define RCPT_SUBMITTER 4

static int find_stored(struct pg_store *s, int64_t coll, const char *id, int64_t version,
                       int64_t *added, PGresult **row, struct kz_error *err)
{
    struct qparams p;
    PGresult *r;

    qp_init(&p);
    qp_int(&p, coll);
    qp_text(&p, id);
    if (version >= 0)
        qp_int(&p, version);
    r = q_run(s, version >= 0 ? find_version_sql : find_latest_sql, &p, err,
              "store: looking up an object");
    if (!r)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    *added = pg_col_int(r, 0, 0);
    *row = r;
    return 1;
}

static int same_as_stored(const PGresult *r, const char *raw, size_t rawlen)
{
    return same_content(PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1), raw, rawlen);
}

/* What a put of a version stored with other content is told. */
static int refuse_conflict(struct kz_error *err)
{
    kz_error_property(err, "modified");
    return kz_error_set(err, KZ_ECONFLICT,
                        "a different object with this id and version is already stored; a "
                        "changed object needs a later modified");
}

struct ref_list {
    struct kz_buf *b;
    unsigned n;
};

static int add_ref(void *ctx, const char *id, size_t n)
{
    struct ref_list *l = ctx;

    array_text(l->b, id, n);
    l->n++;
    return l->b->failed ? -1 : 0;
}

/* The parameters of insert_sql's recipient and reference rows (empty
 * arrays when there are none). */
static int side_params(struct qparams *p, const struct stix_obj *o, const struct store_put_meta *m,
                       struct kz_error *err)
{
    static const int64_t none = 0;
    struct ref_list refs;
    int num;

    qp_int_array(p, m ? m->users : &none, m ? m->nusers : 0);
    qp_int_array(p, m ? m->orgs : &none, m ? m->norgs : 0);
    qp_int_array(p, m ? m->peers : &none, m ? m->npeers : 0);
    qp_int_array(p, m ? &m->submitter : &none, m && m->submitter > 0 ? 1 : 0);
    refs.b = qp_array(p, OID_TEXT_ARRAY, &num);
    refs.n = 0;
    if (stix_gating_refs(o, add_ref, &refs) < 0)
        return kz_error_set(err, KZ_ELIMIT, "store: an object names too many references");
    qp_array_end(p, refs.b, num);
    return 0;
}

static int pg_put(void *b, int64_t coll, const struct stix_obj *o, const char *raw, size_t rawlen,
                  const struct store_put_meta *rcpt, enum store_put_result *result, int64_t *added,
                  struct kz_error *err)
{
    struct pg_store *s = b;
    struct qparams p;
    PGresult *r = NULL;
    int64_t version = o->version_us, when, now, old = 0;
    char vtext[KZ_TS_MICROS_LEN];
    const char *version_text = o->version;
    int rc, latest, first;

    if (!s->in_tx)
        return kz_error_set(err, KZ_EINTERNAL, "store: put outside a transaction");
    if (objects_lock(s, err) < 0)
        return -1;
    if (!o->version[0]) {
        /* an unversioned SCO: the same content as its newest stored
         * version is a duplicate, other content a new version */
        rc = find_stored(s, coll, o->id, -1, &old, &r, err);
        if (rc < 0)
            return -1;
        if (rc == 1 && same_as_stored(r, raw, rawlen)) {
            PQclear(r);
            *result = STORE_DUPLICATE;
            *added = old;
            return 0;
        }
        PQclear(r);
        r = NULL;
    }
    now = kz_now_micros();
    when = now > s->last_added ? now : s->last_added + 1;
    if (!o->version[0]) {
        /* no created/modified: the server-assigned version is the date added */
        version = when;
        kz_ts_format_micros(when, vtext);
        version_text = vtext;
    }
    qp_init(&p);
    qp_int(&p, coll);
    qp_text(&p, o->id);
    qp_int(&p, when);
    qp_text(&p, o->type);
    qp_int(&p, version);
    qp_text(&p, version_text);
    qp_text(&p, o->spec_version[0] ? o->spec_version : "2.1");
    qp_text(&p, o->created_by_ref);
    qp_int(&p, (int64_t)o->tlp);
    qp_int(&p, rcpt ? rcpt->producer : 0);
    qp_int(&p, rcpt ? rcpt->origin : 0);
    qp_int(&p, o->revoked);
    qp_textn(&p, raw, rawlen);
    if (side_params(&p, o, rcpt, err) < 0) {
        qp_free(&p);
        return -1;
    }
    r = q_run(s, insert_sql, &p, err, "store: inserting an object");
    qp_free(&p);
    if (!r)
        return -1;
    if (PQntuples(r) == 0) {
        /* that id and version are stored: the same object, or another */
        PQclear(r);
        r = NULL;
        rc = find_stored(s, coll, o->id, version, &old, &r, err);
        if (rc < 0)
            return -1;
        if (rc == 1 && same_as_stored(r, raw, rawlen)) {
            PQclear(r);
            *result = STORE_DUPLICATE;
            *added = old;
            return 0;
        }
        PQclear(r);
        return refuse_conflict(err);
    }
    latest = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    first = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    PQclear(r);
    s->last_added = when;
    s->objects_added = 1;
    /* both flags set: it is the id's only version; one set: the version
     * that had it before has it no more */
    if (latest != first) {
        qp_init(&p);
        qp_int(&p, coll);
        qp_text(&p, o->id);
        qp_int(&p, when);
        if (q_do(s, latest ? clear_latest_sql : clear_first_sql, &p, err,
                 "store: updating version flags") < 0)
            return -1;
    }
    *result = STORE_ADDED;
    *added = when;
    return 0;
}

/* --- putting a batch ----------------------------------------------------------
 *
 * store_put_many: what pg_put does for each item in turn, with one
 * statement for a run of versioned objects instead of one (or two) per
 * object, since the executor's set-up of a statement, not the rows, is
 * most of what a put costs the server. The items of a run have distinct
 * ids (the caller's contract, and a repeated id ends the run anyway), so
 * each one's first and latest flags depend only on the versions stored
 * before the statement, which every row of it reads alike. An unversioned
 * SCO (whose version is its date added, after comparing with the id's
 * newest) and an object too large to share a statement are put by pg_put
 * in their place in the order; dates added grow in item order throughout. */

/* The texts of the objects one statement carries: bounds the memory a
 * run takes (its raw array) below PostgreSQL's 1 GB for one value. */
#define PG_PUT_RUN_BYTES (2 * KZ_MAX_OBJECT_BYTES)

/* Inserts the run's versions that are not stored ($2..$13, one array per
 * column, an element per object) with their flags read from the id's
 * stored versions, the recipient rows ($14..$16: date added, kind,
 * subject) and reference rows ($17, $18: date added, ref) of those
 * inserted, and clears the flag a new version takes from an old one
 * (the UPDATE sees the rows as they were before the statement, so never
 * the new ones); returns the dates added of the rows inserted.
 *
 * Every look-up of objects is a LATERAL subquery kept from being flattened
 * (OFFSET 0) or an = ANY over the primary key, so that whatever the
 * planner thinks of the table's size it probes the index once per row:
 * the connection's generic plans are made once, often while a new node's
 * objects table is empty, and a join it planned then as a scan of the
 * whole collection would make every statement of a large import read all
 * the rows the import wrote before it. */
static const char put_run_sql[] =
        "WITH v AS (SELECT * FROM unnest($2::text[], $3::bigint[], $4::text[], $5::bigint[],"
        " $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::bigint[],"
        " $12::bigint[], $13::text[]) AS v(stix_id, added, type, version, version_text,"
        " spec_version, created_by, tlp, producer, origin, revoked, raw)),"
        " ins AS (INSERT INTO objects (collection, added, stix_id, type, version, version_text,"
        " spec_version, created_by, tlp, producer, origin, revoked, is_latest, is_first, raw)"
        " SELECT $1, v.added, v.stix_id, v.type, v.version, v.version_text, v.spec_version,"
        " v.created_by, v.tlp, v.producer, v.origin, v.revoked,"
        " m.maxv IS NULL OR v.version > m.maxv, m.minv IS NULL OR v.version < m.minv, v.raw"
        " FROM v CROSS JOIN LATERAL (SELECT max(o.version) AS maxv, min(o.version) AS minv"
        " FROM objects o WHERE o.collection = $1 AND o.stix_id = v.stix_id) m"
        " ON CONFLICT (collection, stix_id, version) DO NOTHING"
        " RETURNING added, stix_id, is_latest, is_first),"
        " rc AS (INSERT INTO recipients (added, kind, subject) SELECT r.added, r.kind, r.subject"
        " FROM unnest($14::bigint[], $15::bigint[], $16::bigint[]) AS r(added, kind, subject)"
        " JOIN ins ON ins.added = r.added ON CONFLICT DO NOTHING),"
        " rf AS (INSERT INTO refs (added, ref) SELECT f.added, f.ref"
        " FROM unnest($17::bigint[], $18::text[]) AS f(added, ref)"
        " JOIN ins ON ins.added = f.added ON CONFLICT DO NOTHING),"
        " cl AS (SELECT ARRAY(SELECT t.added FROM ins c CROSS JOIN LATERAL (SELECT t.added"
        " FROM objects t WHERE t.collection = $1 AND t.stix_id = c.stix_id AND t.is_latest"
        " OFFSET 0) t WHERE c.is_latest AND NOT c.is_first) AS lat,"
        " ARRAY(SELECT t.added FROM ins c CROSS JOIN LATERAL (SELECT t.added"
        " FROM objects t WHERE t.collection = $1 AND t.stix_id = c.stix_id AND t.is_first"
        " OFFSET 0) t WHERE c.is_first AND NOT c.is_latest) AS fst),"
        " fl AS (UPDATE objects o SET is_latest = o.is_latest AND o.added <> ALL ((SELECT lat"
        " FROM cl)::bigint[]), is_first = o.is_first AND o.added <> ALL ((SELECT fst FROM"
        " cl)::bigint[]) WHERE o.collection = $1 AND o.added = ANY ((SELECT lat || fst FROM"
        " cl)::bigint[]))"
        " SELECT added FROM ins";

/* The stored copies of the run's versions that were not inserted, by
 * their position in $2/$3 (from 1). */
static const char find_versions_sql[] =
        "SELECT v.i, o.added, o.raw FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY"
        " AS v(stix_id, version, i) CROSS JOIN LATERAL (SELECT o.added, o.raw FROM objects o"
        " WHERE o.collection = $1 AND o.stix_id = v.stix_id AND o.version = v.version"
        " OFFSET 0) o";

/* Versioned items waiting for their statement: positions in items[]. */
struct put_run {
    unsigned idx[STORE_PUT_BATCH];
    unsigned n;
    size_t bytes;
};

struct run_refs {
    struct kz_buf *added, *refs;
    int64_t when;
    unsigned n;
};

static int add_run_ref(void *ctx, const char *id, size_t n)
{
    struct run_refs *l = ctx;

    array_int(l->added, l->when);
    bin_text(l->refs, id, n);
    l->n++;
    return l->refs->failed || l->added->failed ? -1 : 0;
}

static void run_recipients(struct kz_buf *added, struct kz_buf *kind, struct kz_buf *subject,
                           int64_t when, int k, const int64_t *v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        array_int(added, when);
        array_int(kind, k);
        array_int(subject, v[i]);
    }
}

/* A text column of the run's items ($2, $4, $6..$8), as a binary text[]:
 * each is a field of struct stix_obj, which bounds its length. */
enum run_column { RUN_ID, RUN_TYPE, RUN_VERSION, RUN_SPEC_VERSION, RUN_CREATED_BY };

static const char *run_text(const struct stix_obj *o, enum run_column c)
{
    switch (c) {
    case RUN_ID: return o->id;
    case RUN_TYPE: return o->type;
    case RUN_VERSION: return o->version;
    case RUN_SPEC_VERSION: return o->spec_version[0] ? o->spec_version : "2.1";
    case RUN_CREATED_BY: return o->created_by_ref;
    }
    return "";
}

static void run_texts(struct qparams *p, const struct store_put_item *items,
                      const struct put_run *run, enum run_column c)
{
    int num;
    struct kz_buf *b = qp_bin_array(p, run->n * (sizeof(struct stix_obj) + 4), &num);

    for (unsigned k = 0; k < run->n; k++) {
        const char *t = run_text(items[run->idx[k]].o, c);

        bin_text(b, t, strlen(t));
    }
    qp_bin_array_end(p, b, num, run->n);
}

/* The parameters of put_run_sql for the run's items, dated when[]. */
static int run_params(struct qparams *p, int64_t coll, const struct store_put_item *items,
                      const struct put_run *run, const int64_t *when, struct kz_error *err)
{
    int64_t version[STORE_PUT_BATCH], tlp[STORE_PUT_BATCH], producer[STORE_PUT_BATCH],
            origin[STORE_PUT_BATCH], revoked[STORE_PUT_BATCH];
    struct kz_buf *raws, *ra, *rk, *rs;
    struct run_refs refs;
    int nraws, nra, nrk, nrs, nfa, nfr;
    unsigned k;

    for (k = 0; k < run->n; k++) {
        const struct store_put_item *it = &items[run->idx[k]];

        version[k] = it->o->version_us;
        tlp[k] = (int64_t)it->o->tlp;
        producer[k] = it->meta ? it->meta->producer : 0;
        origin[k] = it->meta ? it->meta->origin : 0;
        revoked[k] = it->o->revoked;
    }
    qp_int(p, coll);
    run_texts(p, items, run, RUN_ID);
    qp_int_array(p, when, run->n);
    run_texts(p, items, run, RUN_TYPE);
    qp_int_array(p, version, run->n);
    run_texts(p, items, run, RUN_VERSION);
    run_texts(p, items, run, RUN_SPEC_VERSION);
    run_texts(p, items, run, RUN_CREATED_BY);
    qp_int_array(p, tlp, run->n);
    qp_int_array(p, producer, run->n);
    qp_int_array(p, origin, run->n);
    qp_int_array(p, revoked, run->n);
    raws = qp_bin_array(p, run->bytes + 4 * (size_t)run->n, &nraws);
    for (k = 0; k < run->n; k++)
        bin_text(raws, items[run->idx[k]].raw, items[run->idx[k]].rawlen);
    qp_bin_array_end(p, raws, nraws, run->n);
    /* recipient rows, of the kinds insert_sql writes */
    ra = qp_array(p, OID_INT8_ARRAY, &nra);
    rk = qp_array(p, OID_INT8_ARRAY, &nrk);
    rs = qp_array(p, OID_INT8_ARRAY, &nrs);
    for (k = 0; k < run->n; k++) {
        const struct store_put_meta *m = items[run->idx[k]].meta;

        if (!m)
            continue;
        run_recipients(ra, rk, rs, when[k], 1, m->users, m->nusers);
        run_recipients(ra, rk, rs, when[k], 2, m->orgs, m->norgs);
        run_recipients(ra, rk, rs, when[k], 3, m->peers, m->npeers);
        if (m->submitter > 0)
            run_recipients(ra, rk, rs, when[k], RCPT_SUBMITTER, &m->submitter, 1);
    }
    qp_array_end(p, ra, nra);
    qp_array_end(p, rk, nrk);
    qp_array_end(p, rs, nrs);
    /* reference rows: the texts of the refs are the objects', so the
     * run's bytes bound them */
    refs.added = qp_array(p, OID_INT8_ARRAY, &nfa);
    refs.refs = qp_bin_array(p, 2 * run->bytes, &nfr);
    refs.n = 0;
    for (k = 0; k < run->n; k++) {
        refs.when = when[k];
        if (stix_gating_refs(items[run->idx[k]].o, add_run_ref, &refs) < 0)
            return kz_error_set(err, KZ_ELIMIT, "store: an object names too many references");
    }
    qp_array_end(p, refs.added, nfa);
    qp_bin_array_end(p, refs.refs, nfr, refs.n);
    return 0;
}

/* Puts the run's items with one statement (and one more for those found
 * stored: duplicates or conflicts), then empties the run. */
static int put_run(struct pg_store *s, int64_t coll, struct store_put_item *items,
                   struct put_run *run, struct kz_error *err)
{
    int64_t when[STORE_PUT_BATCH], now;
    int inserted[STORE_PUT_BATCH] = {0};
    const char *ids[STORE_PUT_BATCH];
    int64_t versions[STORE_PUT_BATCH];
    unsigned at[STORE_PUT_BATCH], nleft = 0, k;
    struct qparams p;
    PGresult *r = NULL;
    int rc = -1;

    if (!run->n)
        return 0;
    /* pg_put's dates, one per item in order, whether or not it is
     * inserted: those that are not leave a gap, as harmless as pg_put's */
    now = kz_now_micros();
    when[0] = now > s->last_added ? now : s->last_added + 1;
    for (k = 1; k < run->n; k++)
        when[k] = when[k - 1] + 1;
    qp_init(&p);
    if (run_params(&p, coll, items, run, when, err) < 0)
        goto out;
    r = q_run(s, put_run_sql, &p, err, "store: inserting objects");
    if (!r)
        goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t a = pg_col_int(r, i, 0);

        if (a < when[0] || a > when[run->n - 1])
            abort(); /* the statement returns the dates it was given */
        k = (unsigned)(a - when[0]);
        inserted[k] = 1;
        items[run->idx[k]].result = STORE_ADDED;
        items[run->idx[k]].added = a;
        if (a > s->last_added)
            s->last_added = a;
        s->objects_added = 1;
    }
    PQclear(r);
    r = NULL;
    /* the versions that are stored already: the same object, or another */
    for (k = 0; k < run->n; k++) {
        if (inserted[k])
            continue;
        at[nleft] = run->idx[k];
        ids[nleft] = items[run->idx[k]].o->id;
        versions[nleft++] = items[run->idx[k]].o->version_us;
    }
    if (nleft) {
        qp_free(&p);
        qp_init(&p);
        qp_int(&p, coll);
        qp_text_array(&p, ids, nleft);
        qp_int_array(&p, versions, nleft);
        r = q_run(s, find_versions_sql, &p, err, "store: looking up objects");
        if (!r)
            goto out;
        for (int i = 0; i < PQntuples(r); i++) {
            int64_t pos = pg_col_int(r, i, 0);
            struct store_put_item *it;

            if (pos < 1 || pos > (int64_t)nleft)
                abort();
            it = &items[at[pos - 1]];
            if (same_content(PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2), it->raw,
                             it->rawlen)) {
                it->result = STORE_DUPLICATE;
                it->added = pg_col_int(r, i, 1);
            }
        }
        for (k = 0; k < nleft; k++) {
            if (items[at[k]].result)
                continue;
            items[at[k]].refused = 1;
            refuse_conflict(&items[at[k]].why);
        }
    }
    rc = 0;
out:
    PQclear(r);
    qp_free(&p);
    run->n = 0;
    run->bytes = 0;
    return rc;
}

/* One item put by pg_put: a conflict refuses it; any other failure is a
 * failed statement, which ends PostgreSQL's transaction. */
static int put_alone(struct pg_store *s, int64_t coll, struct store_put_item *it,
                     struct kz_error *err)
{
    if (pg_put(s, coll, it->o, it->raw, it->rawlen, it->meta, &it->result, &it->added, &it->why) ==
        0)
        return 0;
    if (it->why.code != KZ_ECONFLICT) {
        *err = it->why;
        kz_error_clear(&it->why);
        return -1;
    }
    it->refused = 1;
    return 0;
}

static int in_run(const struct store_put_item *items, const struct put_run *run, const char *id)
{
    for (unsigned k = 0; k < run->n; k++)
        if (strcmp(items[run->idx[k]].o->id, id) == 0)
            return 1;
    return 0;
}

static int pg_put_many(void *b, int64_t coll, struct store_put_item *items, unsigned n,
                       struct kz_error *err)
{
    struct pg_store *s = b;
    struct put_run run;

    if (!s->in_tx)
        return kz_error_set(err, KZ_EINTERNAL, "store: put outside a transaction");
    if (objects_lock(s, err) < 0)
        return -1;
    run.n = 0;
    run.bytes = 0;
    for (unsigned i = 0; i < n; i++) {
        struct store_put_item *it = &items[i];

        if (it->refused)
            continue;
        if (!it->o->version[0] || it->rawlen > KZ_MAX_OBJECT_BYTES) {
            if (put_run(s, coll, items, &run, err) < 0 || put_alone(s, coll, it, err) < 0)
                return -1;
            continue;
        }
        /* a repeated id (against the contract) or a run that would grow
         * too large: the run so far goes first */
        if ((run.bytes + it->rawlen > PG_PUT_RUN_BYTES || in_run(items, &run, it->o->id)) &&
            put_run(s, coll, items, &run, err) < 0)
            return -1;
        run.idx[run.n++] = i;
        run.bytes += it->rawlen;
    }
    return put_run(s, coll, items, &run, err);
}

/* --- the conditions of a listing ----------------------------------------------- */

/* The visibility's parameters, numbered once per statement (0: not yet)
 * so that the clause can be used several times. */
struct vis_params {
    int def, red, astrict, max, user, org, peer, org_id;
};

static void vis_number(struct vis_params *vp, const struct store_visibility *v, struct qparams *p)
{
    if (vp->def)
        return;
    vp->def = qp_int(p, v->default_tlp);
    vp->red = qp_int(p, STIX_TLP_RED); /* levels are stix.h's, never literals here */
    vp->astrict = qp_int(p, STIX_TLP_AMBER_STRICT);
    vp->max = qp_int(p, v->max_level);
    vp->user = qp_int(p, v->user);
    vp->org = qp_int(p, v->org);
    vp->peer = qp_int(p, v->peer ? v->peer : -1);
    vp->org_id = qp_text(p, v->org_identity && v->org_identity[0] ? v->org_identity : "\x01");
}

/* The visibility of a row of objects aliased t (see store_visibility), as
 * SQLite's add_visible words it.
 *
 * Every "is there a row" below is a scalar subquery, (SELECT true ... LIMIT
 * 1) IS [NOT] NULL, never EXISTS: PostgreSQL may run a correlated EXISTS as
 * a hashed subplan, which first reads every matching row of the whole
 * table (all the recipients naming the reader, all of a collection's ids)
 * to answer for one page. A scalar subquery is always run per row, through
 * the row's key (recipients and refs by added, objects by objects_by_id),
 * so a page costs what it holds whatever the size of the tables. */
static void add_visible(struct kz_buf *sql, const struct store_visibility *v, struct vis_params *vp,
                        struct qparams *p, const char *t)
{
    char e[128];

    vis_number(vp, v, p);
    snprintf(e, sizeof(e), "(CASE %s.tlp WHEN 0 THEN $%d ELSE %s.tlp END)", t, vp->def, t);
    kz_buf_printf(sql, "(%s <= $%d OR %s.created_by = $%d OR %s.producer = $%d", e, vp->max, t,
                  vp->org_id, t, vp->org);
    kz_buf_printf(sql,
                  " OR (SELECT true FROM recipients r WHERE r.added = %s.added AND"
                  " ((r.kind = 1 AND r.subject = $%d) OR"
                  " (r.kind = 3 AND r.subject = $%d AND %s <> $%d) OR"
                  " (r.kind = 2 AND r.subject = $%d AND %s < $%d)) LIMIT 1) IS NOT NULL)",
                  t, vp->user, vp->peer, e, vp->astrict, vp->org, e, vp->red);
    if (v->exclude_red)
        kz_buf_printf(sql, " AND %s < $%d", e, vp->red);
}

static void add_visibility(struct kz_buf *sql, const struct store_visibility *v,
                           struct vis_params *vp, struct qparams *p)
{
    if (!v->active)
        return;
    kz_buf_addstr(sql, " AND ");
    add_visible(sql, v, vp, p, "o");
    if (v->check_refs) {
        /* every object it points to that the collection holds must have a
         * version the reader may see; the reader's organisation's own
         * relationships are not gated, outside bulk paths (SHARING.md, and
         * SQLite's add_visibility says why). Both lookups go through
         * objects_by_id. */
        kz_buf_addstr(sql, " AND (o.type NOT IN (");
        for (size_t i = 0; stix_gated_type(i); i++)
            kz_buf_printf(sql, "%s'%s'", i ? ", " : "", stix_gated_type(i));
        kz_buf_addc(sql, ')');
        if (!v->exclude_red)
            kz_buf_printf(sql,
                          " OR o.producer = $%d OR o.created_by = $%d OR (SELECT true"
                          " FROM recipients r WHERE r.added = o.added AND r.kind = %d AND"
                          " r.subject = $%d LIMIT 1) IS NOT NULL",
                          vp->org, vp->org_id, RCPT_SUBMITTER, vp->org);
        kz_buf_addstr(sql, " OR (SELECT true FROM refs f WHERE f.added = o.added"
                           " AND (SELECT true FROM objects x WHERE x.collection ="
                           " o.collection AND x.stix_id = f.ref LIMIT 1) IS NOT NULL"
                           " AND (SELECT true FROM objects o2 WHERE o2.collection ="
                           " o.collection AND o2.stix_id = f.ref AND ");
        add_visible(sql, v, vp, p, "o2");
        kz_buf_addstr(sql, " LIMIT 1) IS NULL LIMIT 1) IS NULL)");
    }
}

/* first or last among the versions the reader may see: a newer version
 * one may not see must not turn "last" into nothing (which would tell
 * that it exists) */
static void add_edge_version(struct kz_buf *sql, const struct store_visibility *v,
                             struct vis_params *vp, struct qparams *p, const char *flag,
                             const char *cmp)
{
    if (!v->active) {
        kz_buf_printf(sql, "o.%s", flag);
        return;
    }
    kz_buf_printf(sql,
                  "(o.%s OR (SELECT true FROM objects o3 WHERE o3.collection ="
                  " o.collection AND o3.stix_id = o.stix_id AND o3.version %s o.version AND ",
                  flag, cmp);
    add_visible(sql, v, vp, p, "o3");
    kz_buf_addstr(sql, " LIMIT 1) IS NULL)");
}

/* The condition selecting versions (match[version]). */
static void add_version_clause(const struct store_filter *f, struct kz_buf *sql,
                               struct vis_params *vp, struct qparams *p)
{
    unsigned versions = f->versions;
    const char *sep = "";

    if (!versions && !f->nversion_times)
        versions = STORE_V_LAST;
    if (versions & STORE_V_ALL)
        return;
    kz_buf_addstr(sql, " AND (");
    if (versions & STORE_V_LAST) {
        add_edge_version(sql, &f->vis, vp, p, "is_latest", ">");
        sep = " OR ";
    }
    if (versions & STORE_V_FIRST) {
        kz_buf_addstr(sql, sep);
        add_edge_version(sql, &f->vis, vp, p, "is_first", "<");
        sep = " OR ";
    }
    if (f->nversion_times)
        kz_buf_printf(sql, "%so.version = ANY ($%d)", sep,
                      qp_int_array(p, f->version_times, f->nversion_times));
    kz_buf_addc(sql, ')');
}

static int build_list_sql(const struct store_filter *f, int want_raw, struct kz_buf *sql,
                          struct qparams *p)
{
    struct vis_params vp;

    memset(&vp, 0, sizeof(vp));
    /* a page is a range of the key (collection, added), read in order and
     * cut by LIMIT; an id filter goes through objects_by_id instead: the
     * planner picks, both cost what the page holds, not the collection */
    kz_buf_printf(sql,
                  "SELECT o.added, o.stix_id, o.type, o.version_text, o.version, o.spec_version,"
                  " o.tlp, o.created_by%s FROM objects o WHERE o.collection = $%d",
                  want_raw ? ", o.raw" : "", qp_int(p, f->collection));
    if (f->added_after >= 0)
        kz_buf_printf(sql, " AND o.added > $%d", qp_int(p, f->added_after));
    if (f->nids)
        kz_buf_printf(sql, " AND o.stix_id = ANY ($%d)", qp_text_array(p, f->ids, f->nids));
    if (f->ntypes)
        kz_buf_printf(sql, " AND o.type = ANY ($%d)", qp_text_array(p, f->types, f->ntypes));
    if (f->nspec_versions)
        kz_buf_printf(sql, " AND o.spec_version = ANY ($%d)",
                      qp_text_array(p, f->spec_versions, f->nspec_versions));
    add_version_clause(f, sql, &vp, p);
    if (f->exclude_origin)
        kz_buf_printf(sql, " AND o.origin <> $%d", qp_int(p, f->exclude_origin));
    if (f->exclude_type)
        kz_buf_printf(sql, " AND o.type <> $%d", qp_text(p, f->exclude_type));
    add_visibility(sql, &f->vis, &vp, p);
    kz_buf_addstr(sql, " ORDER BY o.added");
    if (f->limit) /* one more row tells whether there is "more" */
        kz_buf_printf(sql, " LIMIT $%d", qp_int(p, (int64_t)(f->limit + 1)));
    return sql->failed || p->failed ? -1 : 0;
}

/* --- listing ----------------------------------------------------------------------
 *
 * Rows are read in single-row mode: PostgreSQL sends them as the scan finds
 * them and each reaches the callback as it arrives, so a listing holds one
 * row in memory, never the whole page in one PGresult (a page may be
 * TAXII_MAX_LIMIT objects, and an export has no limit at all). The cost is
 * that the connection is busy until the last row: a callback must not use
 * the same store (none does; SQLite would allow it). A listing ended early
 * (a callback's failure) is cancelled outside a transaction, where nothing
 * else is lost, and read to its end inside one, which a cancel would
 * abort. */

static void read_row(const PGresult *r, int want_raw, struct store_row *row)
{
    row->added = pg_col_int(r, 0, 0);
    row->id = PQgetvalue(r, 0, 1);
    row->type = PQgetvalue(r, 0, 2);
    row->version = PQgetvalue(r, 0, 3);
    row->version_us = pg_col_int(r, 0, 4);
    row->spec_version = PQgetvalue(r, 0, 5);
    row->tlp = (int)pg_col_int(r, 0, 6);
    row->created_by = PQgetvalue(r, 0, 7);
    row->raw = want_raw ? PQgetvalue(r, 0, 8) : NULL;
    row->rawlen = want_raw ? (size_t)PQgetlength(r, 0, 8) : 0;
}

static void cancel_query(struct pg_store *s)
{
    PGcancel *c = PQgetCancel(s->conn);
    char buf[256];

    if (c) {
        PQcancel(c, buf, sizeof(buf));
        PQfreeCancel(c);
    }
}

static int list_once(struct pg_store *s, const struct store_filter *f, int want_raw,
                     store_row_fn fn, void *ctx, struct store_page *page, struct kz_error *err)
{
    static const char what[] = "store: listing objects";
    struct kz_buf sql;
    struct qparams p;
    struct store_row row;
    PGresult *r;
    char name[16];
    int sent, stop = 0, failed = 0;

    kz_buf_init(&sql, 64 * 1024);
    qp_init(&p);
    if (build_list_sql(f, want_raw, &sql, &p) < 0) {
        kz_error_set(err, KZ_ELIMIT, "store: query too large");
        failed = 1;
        goto out;
    }
    if (shape(s, sql.data, &p, name, err, what) < 0) {
        failed = 1;
        goto out;
    }
    sent = name[0] ? PQsendQueryPrepared(s->conn, name, p.n, p.v, p.len, p.fmt, 0)
                   : PQsendQueryParams(s->conn, sql.data, p.n, p.type, p.v, p.len, p.fmt, 0);
    if (!sent) {
        pg_fail(s, NULL, err, what);
        failed = 1;
        goto out;
    }
    PQsetSingleRowMode(s->conn);
    while ((r = PQgetResult(s->conn)) != NULL) {
        ExecStatusType t = PQresultStatus(r);

        if (t == PGRES_SINGLE_TUPLE && !stop) {
            if (f->limit && page->count == f->limit) {
                page->more = 1; /* the row past the limit: LIMIT ends the scan here */
                stop = 1;
            } else {
                read_row(r, want_raw, &row);
                if (!page->count)
                    page->first_added = row.added;
                page->last_added = row.added;
                page->count++;
                if (fn && fn(ctx, &row, err) < 0) {
                    failed = stop = 1;
                    if (!s->in_tx && !f->limit)
                        cancel_query(s);
                }
            }
        } else if (t != PGRES_SINGLE_TUPLE && t != PGRES_TUPLES_OK && !stop) {
            pg_fail(s, r, err, what);
            failed = stop = 1;
        }
        PQclear(r);
    }
out:
    qp_free(&p);
    kz_buf_free(&sql);
    return failed ? -1 : 0;
}

/* A listing outside a transaction that finds its connection closed by a
 * restart while it was idle runs once more on a new one, as long as no row
 * reached the caller: nothing of it had happened. */
static int pg_list(void *b, const struct store_filter *f, int want_raw, store_row_fn fn, void *ctx,
                   struct store_page *page, struct kz_error *err)
{
    struct pg_store *s = b;
    int rc;

    if (!s->in_tx && pg_reconnect(s, err) < 0)
        return -1;
    rc = list_once(s, f, want_raw, fn, ctx, page, err);
    if (rc < 0 && !s->in_tx && page->count == 0 && pg_lost(s) && pg_reconnect(s, err) == 0) {
        memset(page, 0, sizeof(*page));
        rc = list_once(s, f, want_raw, fn, ctx, page, err);
    }
    return rc;
}

/* --- deleting, owners, counts ----------------------------------------------------- */

/* After a deletion: the first and last flags of the id's versions left,
 * rewritten only where they change. */
static const char reflag_sql[] =
        "UPDATE objects o SET is_latest = (o.version = m.maxv), is_first = (o.version = m.minv)"
        " FROM (SELECT max(version) AS maxv, min(version) AS minv FROM objects"
        " WHERE collection = $1 AND stix_id = $2) m"
        " WHERE o.collection = $1 AND o.stix_id = $2"
        " AND (o.is_latest <> (o.version = m.maxv) OR o.is_first <> (o.version = m.minv))";

static int pg_del(void *b, int64_t coll, const char *id, const struct store_filter *f,
                  uint64_t *deleted, struct kz_error *err)
{
    struct pg_store *s = b;
    struct kz_buf sql;
    struct qparams p;
    struct vis_params vp;
    PGresult *r = NULL;
    int ret = -1;
    uint64_t n;

    if (!s->in_tx)
        return kz_error_set(err, KZ_EINTERNAL, "store: delete outside a transaction");
    if (objects_lock(s, err) < 0)
        return -1;
    memset(&vp, 0, sizeof(vp));
    kz_buf_init(&sql, 16 * 1024);
    qp_init(&p);
    /* the version's recipient and reference rows go with it, in the same
     * statement */
    kz_buf_printf(&sql,
                  "WITH d AS (DELETE FROM objects AS o WHERE o.collection = $%d"
                  " AND o.stix_id = $%d",
                  qp_int(&p, coll), qp_text(&p, id));
    if (f->nspec_versions)
        kz_buf_printf(&sql, " AND o.spec_version = ANY ($%d)",
                      qp_text_array(&p, f->spec_versions, f->nspec_versions));
    add_version_clause(f, &sql, &vp, &p);
    if (f->vis.active) {
        /* only what the deleter may see, or what came from it */
        kz_buf_printf(&sql, " AND (o.origin = $%d OR (TRUE",
                      qp_int(&p, f->own_origin ? f->own_origin : -1));
        add_visibility(&sql, &f->vis, &vp, &p);
        kz_buf_addstr(&sql, "))");
    }
    kz_buf_addstr(&sql, " RETURNING o.added),"
                        " r AS (DELETE FROM recipients WHERE added IN (SELECT added FROM d)),"
                        " x AS (DELETE FROM refs WHERE added IN (SELECT added FROM d))"
                        " SELECT count(*) FROM d");
    if (sql.failed || p.failed) {
        kz_error_set(err, KZ_ELIMIT, "store: query too large");
        goto out;
    }
    r = q_run(s, sql.data, &p, err, "store: deleting an object");
    if (!r)
        goto out;
    n = (uint64_t)pg_col_int(r, 0, 0);
    *deleted += n;
    if (n) {
        qp_free(&p);
        qp_init(&p);
        qp_int(&p, coll);
        qp_text(&p, id);
        if (q_do(s, reflag_sql, &p, err, "store: updating version flags") < 0)
            goto out;
    }
    ret = 0;
out:
    PQclear(r);
    qp_free(&p);
    kz_buf_free(&sql);
    return ret;
}

static const char drop_sql[] =
        "WITH d AS (DELETE FROM objects WHERE collection = $1 RETURNING added),"
        " r AS (DELETE FROM recipients WHERE added IN (SELECT added FROM d)),"
        " x AS (DELETE FROM refs WHERE added IN (SELECT added FROM d))"
        " SELECT count(*) FROM d";

int pg_objects_drop(struct pg_store *s, int64_t collection, struct kz_error *err)
{
    struct qparams p;

    if (objects_lock(s, err) < 0)
        return -1;
    qp_init(&p);
    qp_int(&p, collection);
    return q_do(s, drop_sql, &p, err, "store: removing a collection's objects");
}

static const char owner_sql[] =
        "SELECT o.created_by, o.producer, EXISTS (SELECT 1 FROM objects v"
        " WHERE v.collection = $1 AND v.stix_id = $2 AND v.version = $3)"
        " FROM objects o WHERE o.collection = $1 AND o.stix_id = $2 ORDER BY o.version LIMIT 1";

static int pg_owner(void *b, int64_t coll, const char *id, int64_t version_us,
                    struct store_owner *out, struct kz_error *err)
{
    struct qparams p;
    PGresult *r;

    qp_init(&p);
    qp_int(&p, coll);
    qp_text(&p, id);
    qp_int(&p, version_us);
    r = q_run(b, owner_sql, &p, err, "store: looking up an object's owner");
    if (!r)
        return -1;
    if (PQntuples(r) == 1) {
        out->exists = 1;
        pg_col_text(r, 0, 0, out->created_by, sizeof(out->created_by));
        out->producer = pg_col_int(r, 0, 1);
        out->has_version = version_us && strcmp(PQgetvalue(r, 0, 2), "t") == 0;
    }
    PQclear(r);
    return 0;
}

/* owner_sql for each of $2/$3 (ids may repeat), by position (from 1); an
 * id the collection does not hold has no row. */
static const char owners_sql[] =
        "SELECT v.i, o.created_by, o.producer, (SELECT true FROM objects x"
        " WHERE x.collection = $1 AND x.stix_id = v.stix_id AND x.version = v.version"
        " LIMIT 1) IS NOT NULL FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY"
        " AS v(stix_id, version, i) CROSS JOIN LATERAL (SELECT created_by, producer"
        " FROM objects o WHERE o.collection = $1 AND o.stix_id = v.stix_id"
        " ORDER BY o.version LIMIT 1) o";

static int pg_owners(void *b, int64_t coll, unsigned n, const char *const *ids,
                     const int64_t *version_us, struct store_owner *out, struct kz_error *err)
{
    struct qparams p;
    PGresult *r;

    qp_init(&p);
    qp_int(&p, coll);
    qp_text_array(&p, ids, n);
    qp_int_array(&p, version_us, n);
    r = q_run(b, owners_sql, &p, err, "store: looking up objects' owners");
    qp_free(&p);
    if (!r)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t pos = pg_col_int(r, i, 0);
        struct store_owner *w;

        if (pos < 1 || pos > (int64_t)n)
            abort(); /* the statement numbers the ids it was given */
        w = &out[pos - 1];
        w->exists = 1;
        pg_col_text(r, i, 1, w->created_by, sizeof(w->created_by));
        w->producer = pg_col_int(r, i, 2);
        w->has_version = version_us[pos - 1] && strcmp(PQgetvalue(r, i, 3), "t") == 0;
    }
    PQclear(r);
    return 0;
}

static int pg_count(void *b, int64_t collection, uint64_t *count, struct kz_error *err)
{
    struct qparams p;
    PGresult *r;

    qp_init(&p);
    qp_int(&p, collection);
    r = q_run(b, "SELECT count(*) FROM objects WHERE collection = $1", &p, err,
              "store: counting objects");
    if (!r)
        return -1;
    *count = (uint64_t)pg_col_int(r, 0, 0);
    PQclear(r);
    return 0;
}

const struct store_objects_ops pg_objects_ops = {
        .collection_add = pg_collection_add,
        .collection_find = pg_collection_find,
        .collection_each = pg_collection_each,
        .collection_update = pg_collection_update,
        .api_root_add = pg_api_root_add,
        .api_root_find = pg_api_root_find,
        .api_root_each = pg_api_root_each,
        .put = pg_put,
        .list = pg_list,
        .del = pg_del,
        .owner = pg_owner,
        .count = pg_count,
        .put_many = pg_put_many,
        .owners = pg_owners,
};
