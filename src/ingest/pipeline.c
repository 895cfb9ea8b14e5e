/*
 * Preparing on a second thread while this one stores. The preparing thread
 * runs stix_read, copies each object's tape into a slot of a ring, reads,
 * validates and minifies it there; the storing thread takes the slots in
 * order. The ring bounds how far ahead preparing runs (and the memory it
 * holds). Either side stopping stops the other: a broken input ends the
 * read, a store failure tells the preparing thread to give up.
 */
#include "ingest/ingest_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct pipeline {
    const struct ingest_opts *opts;
    const char *buf;
    size_t len;
    struct prepared slots[INGEST_PIPELINE_DEPTH];
    struct stix_findings findings; /* the preparing thread's */
    pthread_mutex_t lock;
    pthread_cond_t room;              /* the preparing side may go on */
    pthread_cond_t ready;             /* the storing side may go on */
    size_t produced, taken, consumed; /* prepared; held by the storing side; done with */
    int done;                         /* the preparing thread has finished reading */
    int failed;                       /* ... because the input is broken: read_err says why */
    int stopped;                      /* the storing side gave up */
    int prep_waiting;                 /* the preparing side sleeps on `room` */
    int store_waiting;                /* the storing side sleeps on `ready` */
    struct stix_container info;
    struct kz_error read_err;
};

/* Wakeups cost a system call each, so a sleeping side is woken only once
 * there is a batch for it: the preparing side when the ring is half empty,
 * the storing side when PIPELINE_BATCH objects are ready (or the end). All
 * with the lock held. */
#define PIPELINE_BATCH 16

/* The storing side holds a whole batch while the preparing side goes on. */
_Static_assert(STORE_PUT_BATCH < INGEST_PIPELINE_DEPTH, "a batch must leave slots to prepare into");

static void wake_prep(struct pipeline *p)
{
    if (p->prep_waiting && (p->stopped || p->produced - p->consumed <= INGEST_PIPELINE_DEPTH / 2))
        pthread_cond_signal(&p->room);
}

static void wake_store(struct pipeline *p)
{
    if (p->store_waiting && (p->done || p->produced - p->taken >= PIPELINE_BATCH))
        pthread_cond_signal(&p->ready);
}

static int prepare_one(void *ctx, size_t index, const struct kzj_doc *doc, uint32_t node,
                       struct kz_error *err)
{
    struct pipeline *p = ctx;
    struct prepared *slot;

    pthread_mutex_lock(&p->lock);
    while (p->produced - p->consumed >= INGEST_PIPELINE_DEPTH && !p->stopped) {
        p->prep_waiting = 1;
        pthread_cond_wait(&p->room, &p->lock);
        p->prep_waiting = 0;
    }
    if (p->stopped) {
        pthread_mutex_unlock(&p->lock);
        return kz_error_set(err, KZ_EINTERNAL, "stopped");
    }
    /* the slot is this side's until `produced` passes it */
    slot = &p->slots[p->produced % INGEST_PIPELINE_DEPTH];
    pthread_mutex_unlock(&p->lock);
    if (kzj_doc_copy(&slot->doc, doc, err) < 0 ||
        ingest_prepare(p->opts, &p->findings, index, &slot->doc, node, slot, err) < 0)
        return -1;
    pthread_mutex_lock(&p->lock);
    p->produced++;
    wake_store(p);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static void *prepare_all(void *arg)
{
    struct pipeline *p = arg;
    struct kz_error err;
    int rc;

    kz_error_clear(&err);
    rc = stix_read(p->buf, p->len, prepare_one, p, &p->info, &err);
    pthread_mutex_lock(&p->lock);
    p->done = 1;
    if (rc < 0) {
        p->failed = 1;
        p->read_err = err;
    }
    wake_store(p);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* The next prepared slot, or NULL when there is none to come (or the
 * input turned out broken: nothing of it will be kept). */
static struct prepared *next_slot(struct pipeline *p)
{
    struct prepared *slot = NULL;

    pthread_mutex_lock(&p->lock);
    while (p->taken == p->produced && !p->done) {
        p->store_waiting = 1;
        pthread_cond_wait(&p->ready, &p->lock);
        p->store_waiting = 0;
    }
    if (p->taken < p->produced && !p->failed)
        slot = &p->slots[p->taken++ % INGEST_PIPELINE_DEPTH];
    pthread_mutex_unlock(&p->lock);
    return slot;
}

/* Gives n slots (the oldest held) back to the preparing side. */
static void slots_done(struct pipeline *p, size_t n, int stop)
{
    pthread_mutex_lock(&p->lock);
    p->consumed += n;
    if (stop)
        p->stopped = 1;
    wake_prep(p);
    pthread_mutex_unlock(&p->lock);
}

/* Takes the slots in order into ingest's batches, giving each back once
 * its batch is stored; the last batch is stored when the input is read
 * whole, and forgotten when it turned out broken. */
static void store_all(struct pipeline *p, struct ingest_run *r, int *rc, struct kz_error *err)
{
    struct prepared *slot;
    int released;

    while ((slot = next_slot(p)) != NULL) {
        released = ingest_add(r, slot, err);
        if (released < 0) {
            ingest_discard(r);
            slots_done(p, 0, 1);
            *rc = -1;
            return;
        }
        slots_done(p, (size_t)released, 0);
    }
    pthread_mutex_lock(&p->lock);
    released = p->failed ? 0 : 1;
    pthread_mutex_unlock(&p->lock);
    if (released && ingest_flush(r, err) < 0)
        *rc = -1;
    ingest_discard(r);
}

static void pipeline_free(struct pipeline *p)
{
    for (size_t i = 0; i < INGEST_PIPELINE_DEPTH; i++)
        prepared_free(&p->slots[i]);
    pthread_cond_destroy(&p->room);
    pthread_cond_destroy(&p->ready);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

int ingest_pipeline(struct ingest_run *r, const struct ingest_opts *opts, const char *buf,
                    size_t len, struct stix_container *info, struct kz_error *err)
{
    struct pipeline *p = calloc(1, sizeof(*p));
    pthread_t thread;
    int rc = 0;

    if (!p)
        return kz_error_set(err, KZ_ENOMEM, "out of memory");
    p->opts = opts;
    p->buf = buf;
    p->len = len;
    for (size_t i = 0; i < INGEST_PIPELINE_DEPTH; i++)
        prepared_init(&p->slots[i]);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->room, NULL);
    pthread_cond_init(&p->ready, NULL);
    if (pthread_create(&thread, NULL, prepare_all, p) != 0) {
        pipeline_free(p);
        return kz_error_set(err, KZ_EINTERNAL, "cannot start a thread");
    }
    store_all(p, r, &rc, err);
    pthread_join(thread, NULL);
    if (rc == 0 && p->failed) {
        *err = p->read_err;
        rc = -1;
    }
    *info = p->info;
    pipeline_free(p);
    return rc;
}
