/*
 * The store's side of the audit log (audit/ chains and verifies it): rows
 * appended in one transaction under the write lock, read back by seq or
 * time, and the MACed head, which the main store also keeps as the witness
 * of a log kept in a database of its own. The audit log opens only this
 * concern of a store (store_open_audit), not a whole one.
 */
#ifndef KZ_STORE_AUDIT_H
#define KZ_STORE_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/limits.h"
#include "util/uuid.h"

/* Opens the store at location for its audit concern only (audit.db, or the
 * main store as the witness of audit.db's head): the file format is
 * store_open's (either opens what the other made), but no index or cache
 * that objects need is opened or created. On such a store only the
 * functions of this header, store_close, store_data_version and the
 * checkpoints may be called; any other call aborts. Returns NULL with err
 * set on failure. */
struct store *store_open_audit(const char *backend, const char *location, int create,
                               struct kz_error *err);

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

#endif
