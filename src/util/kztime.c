/*
 * Strict STIX timestamp parsing and TAXII timestamp formatting, done with
 * integer arithmetic (no timegm, no locale, no time zone database) so that
 * results are the same on every machine and any input is safe.
 */
#include "util/kztime.h"

#include <time.h>

static int digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar, by
 * counting whole 400-year eras (146097 days each) from year 0. */
static int64_t days_from_civil(int y, int m, int d)
{
    int64_t yy = m <= 2 ? y - 1 : y;
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t mp = (m + 9) % 12; /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

int kz_ts_parse(const char *s, size_t n, struct kz_ts *out, const char **why)
{
    int y, mo, d, h, mi, se;
    size_t i;
    int32_t ns = 0;
    int fd = 0;

    *why = "must be an RFC 3339 timestamp in UTC like 2025-01-31T23:59:59.000Z";
    if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
        return -1;
    i = 19;
    if (s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (fd < 9)
                ns = ns * 10 + (s[i] - '0');
            fd++;
            i++;
        }
        if (fd == 0) {
            *why = "has a '.' with no fractional digits after it";
            return -1;
        }
        for (int k = fd; k < 9; k++)
            ns *= 10;
    }
    if (i + 1 != n || s[i] != 'Z') {
        *why = "must end in 'Z' (UTC); offsets and lowercase 'z' are not allowed";
        return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo)) {
        *why = "has a date that does not exist";
        return -1;
    }
    if (h > 23 || mi > 59 || se > 60) {
        *why = "has a time of day out of range";
        return -1;
    }
    /* A leap second (:60) orders as the first instant of the next minute. */
    out->sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    out->nsec = ns;
    out->frac_digits = fd;
    *why = NULL;
    return 0;
}

int64_t kz_ts_micros(const struct kz_ts *t)
{
    return t->sec * 1000000 + t->nsec / 1000;
}

int kz_ts_cmp(const struct kz_ts *a, const struct kz_ts *b)
{
    if (a->sec != b->sec)
        return a->sec < b->sec ? -1 : 1;
    if (a->nsec != b->nsec)
        return a->nsec < b->nsec ? -1 : 1;
    return 0;
}

static void split(int64_t us, int *y, int *mo, int *d, int *h, int *mi, int *s, int64_t *frac)
{
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;

    *frac = us - secs * 1000000;
    civil_from_days(days, y, mo, d);
    *h = (int)(rem / 3600);
    *mi = (int)(rem % 3600 / 60);
    *s = (int)(rem % 60);
}

/* Writes v as exactly n decimal digits at p (v is in range by construction). */
static char *put_digits(char *p, int64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

static void format_ts(int64_t us, char *out, int frac_digits)
{
    int y, mo, d, h, mi, s;
    int64_t f;
    char *p = out;

    split(us, &y, &mo, &d, &h, &mi, &s, &f);
    p = put_digits(p, y < 0 ? 0 : y % 10000, 4);
    *p++ = '-';
    p = put_digits(p, mo, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, h, 2);
    *p++ = ':';
    p = put_digits(p, mi, 2);
    *p++ = ':';
    p = put_digits(p, s, 2);
    *p++ = '.';
    p = put_digits(p, frac_digits == 6 ? f : f / 1000, frac_digits);
    *p++ = 'Z';
    *p = '\0';
}

void kz_ts_format_micros(int64_t us, char out[KZ_TS_MICROS_LEN])
{
    format_ts(us, out, 6);
}

void kz_ts_format_millis(int64_t us, char out[KZ_TS_MILLIS_LEN])
{
    format_ts(us, out, 3);
}

int64_t kz_now_micros(void)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

void kz_deadline_ms(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    ts->tv_sec += ts->tv_nsec / 1000000000L;
    ts->tv_nsec %= 1000000000L;
}

int64_t kz_mono_micros(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}
