/*
 * A progress line on standard error for the long CLI operations (import,
 * export, sync, match): one line rewritten in place with '\r', at most a
 * few times a second, ended with a newline when the operation ends. Only
 * when standard error is a terminal: redirected to a file or a pipe, and
 * with --no-progress, it prints nothing, so logs and scripts never see it.
 */
#ifndef KZ_PROGRESS_H
#define KZ_PROGRESS_H

#include <stdint.h>

/* Redraws at most this often (µs). */
#define KZ_PROGRESS_INTERVAL_US 200000

struct kz_progress {
    int on;            /* drawing at all */
    int drawn;         /* a line is on the screen */
    const char *what;  /* "match", "import", ... */
    const char *unit;  /* what items are: "lines", "objects" */
    int64_t start_us;  /* kz_mono_micros at start */
    int64_t last_us;   /* the last redraw */
    uint64_t items;    /* done so far */
    uint64_t bytes;    /* done so far (0: not shown) */
    uint64_t total;    /* bytes expected (0: unknown) */
    unsigned last_len; /* of the last line, to blank what a shorter one leaves */
};

/* Starts a progress line for `what`, counting `unit`; wanted is 0 for
 * --no-progress. Draws only if standard error is a terminal. */
void kz_progress_start(struct kz_progress *p, const char *what, const char *unit, int wanted);

/* Sets the counts (absolute, not increments) and redraws when the interval
 * has passed. Cheap enough to call per object. */
void kz_progress_set(struct kz_progress *p, uint64_t items, uint64_t bytes, uint64_t total);

/* Takes the line off the screen (before other output goes to the same
 * terminal); the next redraw puts it back. */
void kz_progress_clear(struct kz_progress *p);

/* Draws the final counts and ends the line. */
void kz_progress_done(struct kz_progress *p);

#endif
