/*
 * Zeek's JSON logs (LogAscii::use_json): JSON lines whose keys are Zeek's
 * column names ("id.orig_h"). Parsed by the JSON lines scanner; an http.log
 * line also yields the URL "http://" host uri, as in the TSV form.
 */
#include <string.h>

#include "match/logread_int.h"
#include "match/match_int.h"

static int zeek_json_line(struct lr_state *st, struct lr_scratch *sc, const char *line, size_t n,
                          const struct lr_sink *sink, size_t *resume)
{
    return lr_json_line(st, sc, line, n, sink, resume, 1);
}

/* Zeek's JSON lines carry "ts" and "uid", or "_path", or "id.orig_h". */
static int zeek_json_detect(const char *line, size_t n)
{
    if (n < 2 || line[0] != '{')
        return 0;
    if (kz_memmem(line, n, "\"id.orig_h\"", 11) || kz_memmem(line, n, "\"_path\"", 7))
        return 1;
    return kz_memmem(line, n, "\"ts\":", 5) && kz_memmem(line, n, "\"uid\":", 6);
}

const struct lr_format lr_zeek_json_format = {"zeek-json", zeek_json_line, zeek_json_detect,
                                              lr_json_time};
