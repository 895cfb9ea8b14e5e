/*
 * Internals of ingest/: an object goes through two steps. Preparing
 * (parse, read the common properties, validate, minify) needs nothing but
 * the text; storing (the write policy, recipients, the store itself) needs
 * the transaction. Large inputs prepare on a second thread while the
 * calling thread stores (pipeline.c), so validation overlaps the store's
 * work instead of adding to it.
 */
#ifndef KZ_INGEST_INT_H
#define KZ_INGEST_INT_H

#include "ingest/ingest.h"
#include "json/json.h"
#include "util/buf.h"

/* Inputs at least this large are prepared on a second thread. */
#define INGEST_PIPELINE_MIN_BYTES ((size_t)256 * 1024)
/* Objects prepared ahead of the one being stored, at most. */
#define INGEST_PIPELINE_DEPTH 256

/* One object, prepared. */
struct prepared {
    size_t index;
    struct kzj_doc doc; /* a copy of its tape, when prepared on another thread */
    struct stix_obj o;
    struct kz_buf raw; /* the minified text to store */
    int rejected;      /* invalid: why says so */
    struct kz_error why;
    struct kz_buf more_errors; /* the validator's other errors (ingest_report) */
};

void prepared_init(struct prepared *p);
void prepared_free(struct prepared *p);

/* Reads, validates and minifies the object at node of doc into p (o points
 * into doc). Returns -1 only when the input itself is broken (an element
 * of "objects" that is not an object) or memory ran out: err set. */
int ingest_prepare(const struct ingest_opts *opts, struct stix_findings *findings, size_t index,
                   const struct kzj_doc *doc, uint32_t node, struct prepared *p,
                   struct kz_error *err);

/* The prepared objects the storing side holds until it stores them
 * together (batch.c). */
struct ingest_batch;
struct ingest_batch *ingest_batch_new(void);
void ingest_batch_free(struct ingest_batch *b);

/* The storing side's state for one input. */
struct ingest_run {
    struct store *s;
    int64_t collection;
    const struct ingest_opts *opts;
    struct ingest_counts *counts;
    struct ingest_batch *batch;
    int failed_strict;              /* strict, and an object was refused: store no more */
    struct stix_findings *findings; /* the sequential path's */
    struct prepared *ring;          /* the sequential path's slots (INGEST_RING of them) */
    size_t taken;                   /* ... how many it has filled */
};

/* Slots the sequential path cycles through: a full batch, and the one
 * being prepared. */
#define INGEST_RING (STORE_PUT_BATCH + 1)

/* Takes p into the current batch, storing the batch first when p cannot
 * join it (or after, when p must go alone). Returns how many of the
 * objects held (oldest first, p possibly among them) are done with and
 * may be reused, or -1 for a failure that ends the input (err set). */
int ingest_add(struct ingest_run *r, struct prepared *p, struct kz_error *err);

/* Stores and reports what the batch holds; returns how many objects that
 * released, or -1 (err set). */
int ingest_flush(struct ingest_run *r, struct kz_error *err);

/* Forgets what the batch holds (the input failed: nothing will land). */
void ingest_discard(struct ingest_run *r);

/* The reports of one object (ingest.c). */
void ingest_reject(struct ingest_run *r, struct prepared *p, struct kz_error *why,
                   const char *more_errors);
void ingest_report_stored(struct ingest_run *r, struct prepared *p, enum store_put_result res,
                          int64_t added);

/* Reads buf with stix_read, preparing on a second thread and storing each
 * object in order on this one. Same contract as stix_read. */
int ingest_pipeline(struct ingest_run *r, const struct ingest_opts *opts, const char *buf,
                    size_t len, struct stix_container *info, struct kz_error *err);

#endif
