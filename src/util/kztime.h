/*
 * Timestamps as STIX and TAXII write them: RFC 3339 in UTC with a 'Z',
 * "YYYY-MM-DDTHH:MM:SS[.s+]Z". Parsing is strict (the STIX 2.1 grammar, not
 * the looser RFC 3339 one); formatting produces TAXII's microsecond form.
 * Instants are int64 microseconds since the Unix epoch, which covers the
 * years 0000-9999 that the grammar allows.
 */
#ifndef KZ_TIME_H
#define KZ_TIME_H

#include <stddef.h>
#include <stdint.h>

struct kz_ts {
    int64_t sec;     /* seconds since 1970-01-01T00:00:00Z */
    int32_t nsec;    /* 0..999999999; digits past nanoseconds are ignored */
    int frac_digits; /* digits after the '.', 0 when there is none */
};

/* Parses s[0..n). Returns 0, or -1 with a short reason in *why (static). */
int kz_ts_parse(const char *s, size_t n, struct kz_ts *out, const char **why);

/* The instant in microseconds, rounded down. */
int64_t kz_ts_micros(const struct kz_ts *t);

/* Compares two parsed timestamps: <0, 0, >0. */
int kz_ts_cmp(const struct kz_ts *a, const struct kz_ts *b);

/* Writes "YYYY-MM-DDTHH:MM:SS.ffffffZ" (28 bytes with the NUL). */
#define KZ_TS_MICROS_LEN 28
void kz_ts_format_micros(int64_t us, char out[KZ_TS_MICROS_LEN]);

/* Writes "YYYY-MM-DDTHH:MM:SS.fffZ" (25 bytes with the NUL). */
#define KZ_TS_MILLIS_LEN 25
void kz_ts_format_millis(int64_t us, char out[KZ_TS_MILLIS_LEN]);

/* The current time in microseconds (CLOCK_REALTIME). */
int64_t kz_now_micros(void);

/* A monotonic clock in microseconds, for durations. */
int64_t kz_mono_micros(void);

/* The CLOCK_REALTIME instant ms milliseconds from now, as
 * pthread_cond_timedwait wants its deadline. */
struct timespec;
void kz_deadline_ms(struct timespec *ts, int64_t ms);

#endif
