/*
 * Plain text: the whole line is one field, "text", searched by the
 * tokenizer. Also the fallback for lines another format cannot parse.
 */
#include "match/logread_int.h"

static int text_line(struct lr_state *st, struct lr_scratch *sc, const char *line, size_t n,
                     const struct lr_sink *sink, size_t *resume)
{
    (void)st;
    (void)sc;
    (void)resume;
    lr_emit(sink, "text", 4, line, n, LOGREAD_HINT_TEXT);
    return 0;
}

static int text_detect(const char *line, size_t n)
{
    (void)line;
    (void)n;
    return 1;
}

const struct lr_format lr_text_format = {"text", text_line, text_detect};
