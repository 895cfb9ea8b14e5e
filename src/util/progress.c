/*
 * The progress line (progress.h): a terminal check at start, a monotonic
 * clock for the rate limit, and one fprintf per redraw. Nothing here
 * allocates or fails: progress is a courtesy, never a reason to stop.
 */
#include "util/progress.h"

#include <stdio.h>
#include <unistd.h>

#include "util/kztime.h"

void kz_progress_start(struct kz_progress *p, const char *what, const char *unit, int wanted)
{
    p->on = wanted && isatty(STDERR_FILENO);
    p->drawn = 0;
    p->what = what;
    p->unit = unit;
    p->start_us = kz_mono_micros();
    p->last_us = 0;
    p->items = p->bytes = p->total = 0;
    p->last_len = 0;
}

/* n bytes in a short human form: "812 B", "3.4 MiB". */
static void human(uint64_t n, char *out, size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;

    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, cap, "%llu B", (unsigned long long)n);
    else
        snprintf(out, cap, "%.1f %s", v, units[u]);
}

static void draw(struct kz_progress *p, int final)
{
    char line[256], b[32], rate[32];
    int64_t el = kz_mono_micros() - p->start_us;
    int n;

    n = snprintf(line, sizeof(line), "kizuna: %s: %llu %s", p->what, (unsigned long long)p->items,
                 p->unit);
    if (p->bytes && n > 0 && (size_t)n < sizeof(line)) {
        human(p->bytes, b, sizeof(b));
        n += snprintf(line + n, sizeof(line) - (size_t)n, ", %s", b);
        if (p->total && (size_t)n < sizeof(line))
            n += snprintf(line + n, sizeof(line) - (size_t)n, " (%u%%)",
                          (unsigned)(p->bytes >= p->total ? 100 : p->bytes * 100 / p->total));
        if (el > 0 && (size_t)n < sizeof(line)) {
            human((uint64_t)((double)p->bytes * 1e6 / (double)el), rate, sizeof(rate));
            n += snprintf(line + n, sizeof(line) - (size_t)n, ", %s/s", rate);
        }
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = (int)sizeof(line) - 1;
    /* blank what a longer earlier line leaves behind */
    fprintf(stderr, "\r%s%*s%s", line,
            p->last_len > (unsigned)n ? (int)(p->last_len - (unsigned)n) : 0, "",
            final ? "\n" : "");
    fflush(stderr);
    p->last_len = (unsigned)n;
    p->drawn = !final;
}

void kz_progress_set(struct kz_progress *p, uint64_t items, uint64_t bytes, uint64_t total)
{
    int64_t now;

    p->items = items;
    p->bytes = bytes;
    p->total = total;
    if (!p->on)
        return;
    now = kz_mono_micros();
    if (p->last_us && now - p->last_us < KZ_PROGRESS_INTERVAL_US)
        return;
    p->last_us = now;
    draw(p, 0);
}

void kz_progress_clear(struct kz_progress *p)
{
    if (!p->drawn)
        return;
    fprintf(stderr, "\r%*s\r", (int)p->last_len, "");
    fflush(stderr);
    p->drawn = 0;
    p->last_len = 0;
}

void kz_progress_done(struct kz_progress *p)
{
    if (!p->on)
        return;
    draw(p, 1);
    p->on = 0;
}
