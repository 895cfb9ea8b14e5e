/*
 * The store's tables as `kizuna store migrate --to` copies them between
 * backends: every table that holds what the node was told or decided
 * (derived indexes, such as SQLite's id index, are rebuilt by the
 * destination instead), with its columns in one agreed order and type.
 * SQLite's schema is this list as written; another backend maps each name
 * to its own table, so the copy itself (copy.c) never sees SQL. Tables come
 * in the order a copy must follow: what a row names comes before it. Only
 * store/ includes this header.
 */
#ifndef KZ_STORE_COPY_TABLES_H
#define KZ_STORE_COPY_TABLES_H

#include <stddef.h>
#include <stdint.h>

#define COPY_MAX_COLUMNS 16

enum copy_type { COPY_INT, COPY_TEXT, COPY_BLOB };

struct copy_column {
    const char *name;
    enum copy_type type;
};

/* Where a table lives: the main store, or the audit log (SQLite keeps the
 * audit log in a database of its own; PostgreSQL in the same one). */
enum copy_where { COPY_MAIN, COPY_AUDIT };

struct copy_table {
    const char *name;
    enum copy_where where;
    const char *order; /* the columns rows are read in order of */
    unsigned ncols;
    struct copy_column cols[COPY_MAX_COLUMNS];
};

/* One value of a row; text and blobs point into the source's row and are
 * valid only during the callback that carries them. */
struct copy_value {
    int64_t i;
    const void *p;
    size_t n;
    int null;
};

extern const struct copy_table copy_tables[];
extern const size_t copy_ntables;

#endif
