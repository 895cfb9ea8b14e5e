/*
 * The formats for scripts and spreadsheets: CSV (RFC 4180: a header row,
 * CRLF line ends, fields quoted when they hold a comma, a quote or a line
 * break) with one row per indicator value, and plain lists of one value
 * per line.
 */
#include "export/export_int.h"

#include <string.h>

#include "util/kztime.h"

int ex_write_csv(struct ex_set *x, struct ex_writer *w, struct kz_error *err)
{
    char ts[KZ_TS_MICROS_LEN];

    kz_buf_addstr(&w->buf, "indicator_id,name,tlp,type,value,valid_from,valid_until,"
                           "collection\r\n");
    for (size_t i = 0; i < x->nvals; i++) {
        const struct ex_val *v = &x->vals[i];
        struct ex_ind *in = &x->inds[v->ind];
        const char *kind = match_kind_name((enum match_kind)v->kind);

        ex_add_csv_field(&w->buf, in->id, strlen(in->id));
        kz_buf_addc(&w->buf, ',');
        ex_add_csv_field(&w->buf, in->name, strlen(in->name));
        kz_buf_addc(&w->buf, ',');
        kz_buf_addstr(&w->buf, stix_tlp_name(in->tlp));
        kz_buf_addc(&w->buf, ',');
        kz_buf_addstr(&w->buf, kind);
        kz_buf_addc(&w->buf, ',');
        ex_add_csv_field(&w->buf, v->v, v->len);
        kz_buf_addc(&w->buf, ',');
        kz_ts_format_micros(in->valid_from_us, ts);
        kz_buf_addstr(&w->buf, ts);
        kz_buf_addc(&w->buf, ',');
        if (in->valid_until_us) {
            kz_ts_format_micros(in->valid_until_us, ts);
            kz_buf_addstr(&w->buf, ts);
        }
        kz_buf_addc(&w->buf, ',');
        ex_add_csv_field(&w->buf, in->coll, strlen(in->coll));
        kz_buf_addstr(&w->buf, "\r\n");
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
        for (size_t k = i; k < j; k++)
            x->inds[x->vals[k].ind].used = 1;
        x->st->lines++;
        x->st->merged += j - i - 1;
        if (ex_flush(w, 0, err) < 0)
            return -1;
    }
    return 0;
}
