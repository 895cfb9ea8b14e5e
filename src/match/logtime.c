/*
 * The time of a log line, from the text a format reader pointed at: ISO 8601
 * (RFC 5424, rsyslog's file form, JSON logs, a text line's leading time),
 * Unix epoch seconds (Zeek; milli-, micro- and nanoseconds by digit count),
 * the CLF "10/Oct/2000:13:55:36 -0700" and RFC 3164's "Dec  7 19:58:32",
 * which has no year: it is the year that puts the time not after the
 * reference (the file's modification time), since a line is written before
 * its file is last modified. Times without a zone (RFC 3164, ISO without an
 * offset) are the local time of the machine that scans, as syslog writes
 * them. A line's time is untrusted: every field is range-checked, and a time
 * before 1970 or more than a day after the reference is no time at all. Only
 * lines with a hit are parsed, so none of this is on the scan's hot path.
 */
#include <string.h>
#include <time.h>

#include "match/logread_int.h"

#define US_PER_S     1000000LL
#define FUTURE_SLACK (86400LL * US_PER_S) /* clocks and zones disagree */

static int digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The value of s[0..n) as decimal digits (exactly n of them), or -1. */
static int num(const char *s, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (!digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int mdays(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

struct civil {
    int y, mo, d, h, mi, s;
    int64_t frac_us;
};

static int civil_valid(const struct civil *c)
{
    return c->y >= 1970 && c->y <= 9999 && c->mo >= 1 && c->mo <= 12 && c->d >= 1 &&
           c->d <= mdays(c->y, c->mo) && c->h >= 0 && c->h <= 23 && c->mi >= 0 && c->mi <= 59 &&
           c->s >= 0 && c->s <= 60;
}

/* The instant of c in UTC shifted by off_s (the zone's offset east). */
static int64_t civil_utc(const struct civil *c, int off_s)
{
    int64_t sec = days_from_civil(c->y, c->mo, c->d) * 86400 + c->h * 3600 + c->mi * 60 +
                  (c->s > 59 ? 59 : c->s) - off_s;
    return sec * US_PER_S + c->frac_us;
}

/* The instant of c read as the scanning machine's local time; -1 when the
 * C library cannot say. */
static int civil_local(const struct civil *c, int64_t *us)
{
    struct tm tm;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = c->y - 1900;
    tm.tm_mon = c->mo - 1;
    tm.tm_mday = c->d;
    tm.tm_hour = c->h;
    tm.tm_min = c->mi;
    tm.tm_sec = c->s > 59 ? 59 : c->s;
    tm.tm_isdst = -1;
    t = mktime(&tm);
    if (t == (time_t)-1)
        return -1;
    *us = (int64_t)t * US_PER_S + c->frac_us;
    return 0;
}

/* Whether the parsed text ends at s[i]: the end, or a byte no time goes on
 * with (a text line's time is followed by its message). */
static int ends_at(const char *s, size_t n, size_t i)
{
    char c;

    if (i >= n)
        return 1;
    c = s[i];
    return !(digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == ':' ||
             c == '+' || c == '-');
}

/* "+hh:mm", "+hhmm", "+hh" at s[i]; sets *off_s and *end. */
static int zone_offset(const char *s, size_t n, size_t i, int *off_s, size_t *end)
{
    int sign, h, m = 0;

    if (i >= n || (s[i] != '+' && s[i] != '-'))
        return -1;
    sign = s[i] == '-' ? -1 : 1;
    i++;
    if (n - i < 2 || (h = num(s + i, 2)) < 0 || h > 23)
        return -1;
    i += 2;
    if (i < n && s[i] == ':')
        i++;
    if (n - i >= 2 && digit(s[i]) && digit(s[i + 1])) {
        m = num(s + i, 2);
        if (m > 59)
            return -1;
        i += 2;
    }
    *off_s = sign * (h * 3600 + m * 60);
    *end = i;
    return 0;
}

static int parse_iso(const char *s, size_t n, int64_t *us)
{
    struct civil c = {0};
    size_t i;
    int off = 0, zone = 0;

    if (n < 16 || s[4] != '-' || s[7] != '-' || !(s[10] == 'T' || s[10] == 't' || s[10] == ' ') ||
        s[13] != ':')
        return -1;
    c.y = num(s, 4);
    c.mo = num(s + 5, 2);
    c.d = num(s + 8, 2);
    c.h = num(s + 11, 2);
    c.mi = num(s + 14, 2);
    i = 16;
    if (i < n && s[i] == ':') {
        if (n - i < 3 || (c.s = num(s + i + 1, 2)) < 0)
            return -1;
        i += 3;
        if (i < n && (s[i] == '.' || s[i] == ',')) {
            int64_t scale = 100000;
            size_t st = ++i;
            while (i < n && digit(s[i])) {
                c.frac_us += (s[i] - '0') * scale;
                scale /= 10;
                i++;
            }
            if (i == st)
                return -1;
        }
    }
    if (c.y < 0 || c.mo < 0 || c.d < 0 || c.h < 0 || c.mi < 0 || !civil_valid(&c))
        return -1;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        zone = 1;
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        if (zone_offset(s, n, i, &off, &i) < 0)
            return -1;
        zone = 1;
    }
    if (!ends_at(s, n, i))
        return -1;
    if (zone) {
        *us = civil_utc(&c, off);
        return 0;
    }
    return civil_local(&c, us);
}

/* Seconds since the epoch with a fraction ("1300475167.096535"); an integer
 * of 13, 16 or 19 digits is milli-, micro- or nanoseconds. */
static int parse_epoch(const char *s, size_t n, int64_t *us)
{
    size_t i = 0, id;
    uint64_t v = 0; /* 19 digits fit in 64 bits unsigned, not signed */
    int64_t frac = 0, scale = 100000;

    while (i < n && digit(s[i]) && i < 19) {
        v = v * 10 + (uint64_t)(s[i] - '0');
        i++;
    }
    id = i;
    if (id == 0 || (i < n && digit(s[i])))
        return -1;
    if (i < n && s[i] == '.') {
        size_t st = ++i;
        if (id > 11)
            return -1;
        while (i < n && digit(s[i])) {
            frac += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == st)
            return -1;
    }
    if (i != n)
        return -1;
    if (id <= 11)
        *us = (int64_t)v * US_PER_S + frac;
    else if (id <= 14)
        *us = (int64_t)v * 1000;
    else if (id <= 17)
        *us = (int64_t)v;
    else
        *us = (int64_t)(v / 1000);
    return 0;
}

static int month_of(const char *s)
{
    static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    char m[3];

    for (int k = 0; k < 3; k++)
        m[k] = (char)(s[k] | 0x20);
    for (int i = 0; i < 12; i++)
        if (memcmp(names + 3 * i, m, 3) == 0)
            return i + 1;
    return -1;
}

/* "10/Oct/2000:13:55:36 -0700" */
static int parse_clf(const char *s, size_t n, int64_t *us)
{
    struct civil c = {0};
    int off;
    size_t end;

    if (n < 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' ||
        s[20] != ' ')
        return -1;
    c.d = num(s, 2);
    c.mo = month_of(s + 3);
    c.y = num(s + 7, 4);
    c.h = num(s + 12, 2);
    c.mi = num(s + 15, 2);
    c.s = num(s + 18, 2);
    if (c.d < 0 || c.mo < 0 || c.y < 0 || c.h < 0 || c.mi < 0 || c.s < 0 || !civil_valid(&c) ||
        zone_offset(s, n, 21, &off, &end) < 0 || end != n)
        return -1;
    *us = civil_utc(&c, off);
    return 0;
}

/* "Dec  7 19:58:32" (or "Dec 07"), local time, the year from ref_us. */
static int parse_bsd(const char *s, size_t n, int64_t ref_us, int64_t *us)
{
    struct civil c = {0};
    struct tm ref;
    time_t rt = (time_t)(ref_us / US_PER_S);
    size_t i = 4;
    int64_t t;

    if (n < 15 || s[3] != ' ' || (c.mo = month_of(s)) < 0)
        return -1;
    if (s[i] == ' ')
        i++;
    if (!digit(s[i]))
        return -1;
    c.d = s[i++] - '0';
    if (digit(s[i]))
        c.d = c.d * 10 + (s[i++] - '0');
    if (n - i < 9 || s[i] != ' ' || s[i + 3] != ':' || s[i + 6] != ':')
        return -1;
    c.h = num(s + i + 1, 2);
    c.mi = num(s + i + 4, 2);
    c.s = num(s + i + 7, 2);
    if (c.h < 0 || c.mi < 0 || c.s < 0 || !ends_at(s, n, i + 9) || !localtime_r(&rt, &ref))
        return -1;
    /* the latest year that does not put the line after its file */
    for (c.y = ref.tm_year + 1900; c.y >= ref.tm_year + 1900 - 1; c.y--) {
        if (!civil_valid(&c) || civil_local(&c, &t) < 0)
            continue;
        if (t <= ref_us + FUTURE_SLACK || c.y < ref.tm_year + 1900) {
            *us = t;
            return 0;
        }
    }
    return -1;
}

int lr_time_parse(enum lr_tkind kind, const char *p, size_t n, int64_t ref_us, int64_t *us)
{
    int64_t t;
    int rc;

    if (!p || n == 0 || n > 64)
        return -1;
    switch (kind) {
    case LR_T_ISO: rc = parse_iso(p, n, &t); break;
    case LR_T_EPOCH: rc = parse_epoch(p, n, &t); break;
    case LR_T_ISO_OR_EPOCH:
        rc = digit(p[0]) && n > 4 && p[4] == '-' ? parse_iso(p, n, &t) : parse_epoch(p, n, &t);
        break;
    case LR_T_CLF: rc = parse_clf(p, n, &t); break;
    case LR_T_BSD: rc = parse_bsd(p, n, ref_us, &t); break;
    default: return -1;
    }
    if (rc < 0 || t < 0 || t > ref_us + FUTURE_SLACK)
        return -1;
    *us = t;
    return 0;
}
