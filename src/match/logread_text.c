/*
 * Plain text: the whole line is one field, "text", searched by the
 * tokenizer. Also the fallback for lines another format cannot parse. A
 * line that opens with an ISO 8601 time ("2026-11-26T10:00:00Z ...") has
 * that time.
 */
#include "match/logread_int.h"

/* Room for the longest ISO 8601 time a line may open with. */
#define TEXT_TIME_SPAN 40

static int text_line(struct lr_state *st, struct lr_scratch *sc, const char *line, size_t n,
                     const struct lr_sink *sink, size_t *resume)
{
    (void)st;
    (void)sc;
    (void)resume;
    if (n >= 16 && line[0] >= '0' && line[0] <= '9' && line[4] == '-')
        lr_mark_time(sink, LR_T_ISO, line, n > TEXT_TIME_SPAN ? TEXT_TIME_SPAN : n);
    lr_emit(sink, "text", 4, line, n, LOGREAD_HINT_TEXT);
    return 0;
}

static int text_detect(const char *line, size_t n)
{
    (void)line;
    (void)n;
    return 1;
}

const struct lr_format lr_text_format = {"text", text_line, text_detect, NULL};
