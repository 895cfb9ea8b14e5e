/*
 * Text tables for the command line's listings, sized to their content: rows
 * are collected first, then every column is as wide as its widest cell
 * (counted in characters, not bytes, so UTF-8 titles line up), two spaces
 * apart; the last column is not padded. A listing of a hundred users with
 * long names stays readable, and a short one stays narrow.
 */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "util/text.h"

#define TABLE_MAX_COLS 8

struct cli_table {
    unsigned ncols;
    size_t nrows, cap;
    char **cells; /* nrows * ncols copies */
};

struct cli_table *cli_table_new(unsigned ncols)
{
    struct cli_table *t;

    if (ncols == 0 || ncols > TABLE_MAX_COLS)
        return NULL;
    t = calloc(1, sizeof(*t));
    if (t)
        t->ncols = ncols;
    return t;
}

int cli_table_add(struct cli_table *t, const char *const *cells)
{
    if (!t)
        return -1;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        char **grown = realloc(t->cells, cap * t->ncols * sizeof(*grown));
        if (!grown)
            return -1;
        t->cells = grown;
        t->cap = cap;
    }
    for (unsigned c = 0; c < t->ncols; c++) {
        char *copy = strdup(cells[c] ? cells[c] : "");
        if (!copy) {
            for (unsigned k = 0; k < c; k++)
                free(t->cells[t->nrows * t->ncols + k]);
            return -1;
        }
        t->cells[t->nrows * t->ncols + c] = copy;
    }
    t->nrows++;
    return 0;
}

/* Characters in s: UTF-8 sequences count once, invalid bytes once each. */
static size_t text_width(const char *s)
{
    size_t n = strlen(s), w = 0;

    for (size_t i = 0; i < n; w++) {
        uint32_t cp;
        size_t len = kz_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        i += len ? len : 1;
    }
    return w;
}

void cli_table_print(const struct cli_table *t, FILE *f)
{
    size_t width[TABLE_MAX_COLS] = {0};

    if (!t)
        return;
    for (size_t r = 0; r < t->nrows; r++)
        for (unsigned c = 0; c + 1 < t->ncols; c++) {
            size_t w = text_width(t->cells[r * t->ncols + c]);
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (unsigned c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            unsigned rest = c + 1;
            fputs(cell, f);
            /* no padding before cells that are all empty: a line never ends
             * in spaces */
            while (rest < t->ncols && !t->cells[r * t->ncols + rest][0])
                rest++;
            if (rest == t->ncols)
                break;
            if (c + 1 < t->ncols)
                fprintf(f, "%*s", (int)(width[c] - text_width(cell) + 2), "");
        }
        fputc('\n', f);
    }
}

void cli_table_free(struct cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}
