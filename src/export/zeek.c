/*
 * Zeek Intelligence Framework input files. The format is the Input
 * Framework's ASCII reader: a "#fields" header, then one item per line,
 * fields separated by a single tab, "-" for an unset field, no quoting;
 * string fields have \xNN escapes decoded. Zeek keys an item's metadata by
 * (indicator, type, meta.source), so one line per (value, type) carries the
 * names of every indicator behind it in meta.desc, and meta.url the id of
 * the first (a STIX id, which an analyst looks up on the node).
 */
#include "export/export_int.h"

#include <string.h>

#include "util/limits.h"

/* The Intel::Type of a kind (base/frameworks/intel/main.zeek and
 * files.zeek). */
static const char *intel_type(enum match_kind k)
{
    switch (k) {
    case MATCH_IPV4:
    case MATCH_IPV6: return "Intel::ADDR";
    case MATCH_CIDR4:
    case MATCH_CIDR6: return "Intel::SUBNET";
    case MATCH_DOMAIN: return "Intel::DOMAIN";
    case MATCH_URL: return "Intel::URL";
    case MATCH_EMAIL: return "Intel::EMAIL";
    case MATCH_MD5:
    case MATCH_SHA1:
    case MATCH_SHA256:
    case MATCH_SHA512: return "Intel::FILE_HASH";
    case MATCH_KIND_COUNT: break;
    }
    return NULL;
}

/* "name [TLP:AMBER indicator--...]" for each indicator behind the values
 * vals[i..j), joined by " | ", at most EXPORT_MAX_DESC_BYTES; ", partial"
 * inside the brackets when the indicator's pattern needs more than the
 * value. */
static int build_desc(struct ex_set *x, size_t i, size_t j, struct kz_buf *desc,
                      struct kz_buf *piece)
{
    size_t left = j - i; /* one value per indicator: ex_sort dropped repeats */

    kz_buf_reset(desc);
    for (size_t k = i; k < j; k++, left--) {
        struct ex_ind *in = &x->inds[x->vals[k].ind];
        kz_buf_reset(piece);
        if (in->name[0]) {
            ex_add_clean(piece, in->name, strlen(in->name), EXPORT_MAX_NAME_BYTES);
            kz_buf_addc(piece, ' ');
        }
        kz_buf_printf(piece, "[%s %s%s]", stix_tlp_name(in->tlp), in->id,
                      (x->vals[k].flags & EX_PARTIAL) ? ", partial" : "");
        if (piece->failed)
            return -1;
        if (desc->len && desc->len + 3 + piece->len > EXPORT_MAX_DESC_BYTES) {
            kz_buf_printf(desc, " (+%zu more)", left);
            break;
        }
        if (desc->len)
            kz_buf_addstr(desc, " | ");
        kz_buf_add(desc, piece->data, piece->len);
    }
    return desc->failed ? -1 : 0;
}

int ex_write_zeek(struct ex_set *x, struct ex_writer *w, struct kz_error *err)
{
    const char *node = x->o->node_name ? x->o->node_name : "kizuna";
    struct kz_buf src, desc, piece;
    int rc = -1;

    kz_buf_init(&src, 2 * KZ_MAX_NAME + 16);
    kz_buf_init(&desc, 2 * EXPORT_MAX_DESC_BYTES);
    kz_buf_init(&piece, EXPORT_MAX_NAME_BYTES + KZ_MAX_STIX_ID + 64);
    kz_buf_addstr(&src, "kizuna:");
    if (ex_add_clean(&src, node, strlen(node), KZ_MAX_NAME) < 0) {
        kz_error_set(err, KZ_ENOMEM, "out of memory");
        goto out;
    }
    kz_buf_addstr(&w->buf,
                  "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n");
    for (size_t i = 0, j; i < x->nvals; i = j) {
        const struct ex_val *v = &x->vals[i];
        j = ex_group_end(x, i);
        if (build_desc(x, i, j, &desc, &piece) < 0) {
            kz_error_set(err, KZ_ENOMEM, "out of memory");
            goto out;
        }
        ex_add_zeek_field(&w->buf, v->v, v->len, 1);
        kz_buf_addc(&w->buf, '\t');
        kz_buf_addstr(&w->buf, intel_type((enum match_kind)v->kind));
        kz_buf_addc(&w->buf, '\t');
        ex_add_zeek_field(&w->buf, src.data, src.len, 0);
        kz_buf_addc(&w->buf, '\t');
        ex_add_zeek_field(&w->buf, desc.data, desc.len, 0);
        kz_buf_addc(&w->buf, '\t');
        ex_add_zeek_field(&w->buf, x->inds[v->ind].id, strlen(x->inds[v->ind].id), 0);
        kz_buf_addc(&w->buf, '\n');
        if (ex_line_done(x, w, i, j, err) < 0)
            goto out;
    }
    rc = 0;
out:
    kz_buf_free(&src);
    kz_buf_free(&desc);
    kz_buf_free(&piece);
    return rc;
}
