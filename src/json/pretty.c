/*
 * Indented printing of a parsed value for people (`kizuna show`). Strings
 * and numbers are copied as written; only whitespace is added.
 */
#include "json/json.h"

static int indent(struct kz_buf *out, int depth)
{
    if (kz_buf_addc(out, '\n') < 0)
        return -1;
    for (int i = 0; i < depth; i++)
        if (kz_buf_addstr(out, "  ") < 0)
            return -1;
    return 0;
}

static int pretty(const struct kzj_doc *d, uint32_t i, int depth, struct kz_buf *out)
{
    const struct kzj_node *n = kzj_at(d, i);
    int first = 1;

    if (n->type == KZJ_OBJECT) {
        if (n->next == i + 1)
            return kz_buf_addstr(out, "{}");
        kz_buf_addc(out, '{');
        KZJ_FOREACH_MEMBER(d, i, k)
        {
            if (!first)
                kz_buf_addc(out, ',');
            first = 0;
            indent(out, depth + 1);
            kz_buf_add(out, kzj_raw(d, k), kzj_at(d, k)->len);
            kz_buf_addstr(out, ": ");
            if (pretty(d, k + 1, depth + 1, out) < 0)
                return -1;
        }
        indent(out, depth);
        return kz_buf_addc(out, '}');
    }
    if (n->type == KZJ_ARRAY) {
        if (n->next == i + 1)
            return kz_buf_addstr(out, "[]");
        kz_buf_addc(out, '[');
        KZJ_FOREACH_ELEM(d, i, e)
        {
            if (!first)
                kz_buf_addc(out, ',');
            first = 0;
            indent(out, depth + 1);
            if (pretty(d, e, depth + 1, out) < 0)
                return -1;
        }
        indent(out, depth);
        return kz_buf_addc(out, ']');
    }
    return kz_buf_add(out, kzj_raw(d, i), n->len);
}

int kzj_pretty(const struct kzj_doc *d, uint32_t i, struct kz_buf *out)
{
    if (pretty(d, i, 0, out) < 0 || out->failed)
        return -1;
    return 0;
}
