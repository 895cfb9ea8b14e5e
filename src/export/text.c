/*
 * The formats for scripts and spreadsheets: CSV (RFC 4180: a header row,
 * CRLF line ends, fields quoted when they hold a comma, a quote or a line
 * break) with one row per indicator value, and plain lists of one value
 * per line.
 */
#include "export/export_int.h"

#include <string.h>

#include "util/kztime.h"

/* One CSV row: the indicator's value v with the indicator's fields. */
static void csv_row(struct kz_buf *b, const struct ex_val *v, const struct ex_ind *in)
{
    char ts[KZ_TS_MICROS_LEN];

    ex_add_csv_field(b, in->id, strlen(in->id));
    kz_buf_addc(b, ',');
    kz_buf_addstr(b, match_kind_name((enum match_kind)v->kind));
    kz_buf_addc(b, ',');
    ex_add_csv_field(b, v->v, v->len);
    kz_buf_addc(b, ',');
    ex_add_csv_field(b, in->name, strlen(in->name));
    kz_buf_addc(b, ',');
    kz_buf_addstr(b, stix_tlp_name(in->tlp));
    kz_buf_addc(b, ',');
    kz_ts_format_micros(in->valid_from_us, ts);
    kz_buf_addstr(b, ts);
    kz_buf_addc(b, ',');
    if (in->valid_until_us) {
        kz_ts_format_micros(in->valid_until_us, ts);
        kz_buf_addstr(b, ts);
    }
    kz_buf_addc(b, ',');
    ex_add_csv_field(b, in->coll, strlen(in->coll));
    kz_buf_addstr(b, (v->flags & EX_PARTIAL) ? ",true\r\n" : ",false\r\n");
}

int ex_write_csv(struct ex_set *x, struct ex_writer *w, struct kz_error *err)
{
    kz_buf_addstr(&w->buf, "indicator_id,type,value,name,tlp,valid_from,valid_until,"
                           "collection,partial\r\n");
    for (size_t i = 0; i < x->nvals; i++) {
        struct ex_ind *in = &x->inds[x->vals[i].ind];

        csv_row(&w->buf, &x->vals[i], in);
        in->used = 1;
        x->st->lines++;
        if (ex_flush(w, 0, err) < 0)
            return -1;
    }
    return 0;
}

int ex_write_txt(struct ex_set *x, struct ex_writer *w, struct kz_error *err)
{
    for (size_t i = 0, j; i < x->nvals; i = j) {
        j = ex_group_end(x, i);
        kz_buf_add(&w->buf, x->vals[i].v, x->vals[i].len);
        kz_buf_addc(&w->buf, '\n');
        if (ex_line_done(x, w, i, j, err) < 0)
            return -1;
    }
    return 0;
}
