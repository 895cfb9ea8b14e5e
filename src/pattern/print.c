/*
 * Printing a parse tree: the canonical pattern text (kzp_format), which
 * parses back to the same tree, and an indented dump for `kizuna pattern
 * explain` (kzp_dump). Literals are printed as their source text, so no
 * precision is lost and escapes stay as the author wrote them.
 */
#include "pattern/pattern_int.h"

#include <string.h>

#include "util/buf.h"

static int prec(int kind)
{
    switch (kind) {
    case KZP_N_FOLLOWEDBY: return 1;
    case KZP_N_OBS_OR: return 2;
    case KZP_N_OBS_AND: return 3;
    case KZP_N_OR: return 1;
    case KZP_N_AND: return 2;
    default: return 9;
    }
}

static int is_qualifier(int kind)
{
    return kind == KZP_N_WITHIN || kind == KZP_N_REPEATS || kind == KZP_N_STARTSTOP;
}

static int plain_key(const char *k, size_t n)
{
    static const char *kw[] = {"AND",     "OR",         "NOT",      "FOLLOWEDBY", "LIKE",
                               "MATCHES", "ISSUPERSET", "ISSUBSET", "EXISTS",     "LAST",
                               "IN",      "START",      "STOP",     "SECONDS",    "WITHIN",
                               "REPEATS", "TIMES",      "true",     "false"};

    if (n == 0 || !((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z') || k[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = k[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    if ((k[0] == 'b' || k[0] == 'h' || k[0] == 't') && n == 1)
        return 1;
    for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
        if (strlen(kw[i]) == n && memcmp(kw[i], k, n) == 0)
            return 0;
    return 1;
}

static int put_quoted(struct kz_buf *b, const char *s, size_t n)
{
    kz_buf_addc(b, '\'');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'' || s[i] == '\\')
            kz_buf_addc(b, '\\');
        kz_buf_addc(b, s[i]);
    }
    return kz_buf_addc(b, '\'');
}

static const char *op_text(int op)
{
    static const char *t[] = {"",   "=",    "!=",      "<",        "<=",         ">",     ">=",
                              "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET", "EXISTS"};

    return op >= 0 && op <= KZP_OP_EXISTS ? t[op] : "?";
}

static void put_lit(const struct kzp_pattern *p, struct kz_buf *b, const struct kzp_lit *l)
{
    kz_buf_add(b, p->src + l->off, l->len);
}

static void put_path(struct kz_buf *b, const struct kzp_test *t)
{
    kz_buf_add(b, t->type, t->typelen);
    kz_buf_addc(b, ':');
    for (uint32_t i = 0; i < t->nsteps; i++) {
        const struct kzp_step *s = &t->steps[i];

        if (s->kind == KZP_S_KEY) {
            if (i)
                kz_buf_addc(b, '.');
            if (plain_key(s->key, s->keylen) && !s->quoted)
                kz_buf_add(b, s->key, s->keylen);
            else
                put_quoted(b, s->key, s->keylen);
        } else if (s->kind == KZP_S_STAR) {
            kz_buf_addstr(b, "[*]");
        } else {
            kz_buf_printf(b, "[%lld]", (long long)s->index);
        }
    }
}

static void put_test(const struct kzp_pattern *p, struct kz_buf *b, const struct kzp_test *t)
{
    if (t->op == KZP_OP_EXISTS) {
        kz_buf_addstr(b, "EXISTS ");
        put_path(b, t);
        return;
    }
    put_path(b, t);
    kz_buf_addstr(b, t->negated ? " NOT " : " ");
    kz_buf_addstr(b, op_text(t->op));
    kz_buf_addc(b, ' ');
    if (t->op == KZP_OP_IN) {
        kz_buf_addc(b, '(');
        for (uint32_t i = 0; i < t->nlits; i++) {
            if (i)
                kz_buf_addstr(b, ", ");
            put_lit(p, b, &t->lits[i]);
        }
        kz_buf_addc(b, ')');
        return;
    }
    put_lit(p, b, &t->lits[0]);
}

static void put_qualifier(const struct kzp_pattern *p, struct kz_buf *b, const struct kzp_node *nd)
{
    switch (nd->kind) {
    case KZP_N_WITHIN:
        kz_buf_addstr(b, " WITHIN ");
        put_lit(p, b, nd->qual_lit);
        kz_buf_addstr(b, " SECONDS");
        break;
    case KZP_N_REPEATS: kz_buf_printf(b, " REPEATS %lld TIMES", (long long)nd->repeats); break;
    default:
        kz_buf_addstr(b, " START ");
        put_lit(p, b, nd->qual_lit);
        kz_buf_addstr(b, " STOP ");
        put_lit(p, b, nd->qual_lit2);
        break;
    }
}

static void fmt(const struct kzp_pattern *p, struct kz_buf *b, const struct kzp_node *nd);

/* Prints kid of parent, in parentheses when the tree needs them. */
static void fmt_kid(const struct kzp_pattern *p, struct kz_buf *b, const struct kzp_node *parent,
                    const struct kzp_node *kid)
{
    int paren;

    if (is_qualifier(parent->kind))
        paren = (prec(kid->kind) < 9) || (is_qualifier(kid->kind) && kid->grouped);
    else
        paren = prec(kid->kind) <= prec(parent->kind);
    if (paren)
        kz_buf_addc(b, '(');
    fmt(p, b, kid);
    if (paren)
        kz_buf_addc(b, ')');
}

static void fmt(const struct kzp_pattern *p, struct kz_buf *b, const struct kzp_node *nd)
{
    const char *sep;

    switch (nd->kind) {
    case KZP_N_TEST: put_test(p, b, nd->test); return;
    case KZP_N_OBS:
        kz_buf_addc(b, '[');
        fmt(p, b, nd->kids);
        kz_buf_addc(b, ']');
        return;
    case KZP_N_WITHIN:
    case KZP_N_REPEATS:
    case KZP_N_STARTSTOP:
        fmt_kid(p, b, nd, nd->kids);
        put_qualifier(p, b, nd);
        return;
    case KZP_N_FOLLOWEDBY: sep = " FOLLOWEDBY "; break;
    case KZP_N_OBS_OR:
    case KZP_N_OR: sep = " OR "; break;
    default: sep = " AND "; break;
    }
    for (const struct kzp_node *k = nd->kids; k; k = k->next) {
        if (k != nd->kids)
            kz_buf_addstr(b, sep);
        fmt_kid(p, b, nd, k);
    }
}

int kzp_format(const struct kzp_pattern *p, struct kz_buf *out)
{
    fmt(p, out, p->root);
    return out->failed ? -1 : 0;
}

static void dump(const struct kzp_pattern *p, struct kz_buf *b, const struct kzp_node *nd,
                 int depth)
{
    kz_buf_printf(b, "%*s", 2 * depth, "");
    switch (nd->kind) {
    case KZP_N_TEST:
        put_test(p, b, nd->test);
        kz_buf_addc(b, '\n');
        return;
    case KZP_N_OBS: kz_buf_printf(b, "OBSERVATION #%u\n", nd->obs_index); break;
    case KZP_N_WITHIN:
    case KZP_N_REPEATS:
    case KZP_N_STARTSTOP:
        kz_buf_addstr(b, "QUALIFIER");
        put_qualifier(p, b, nd);
        kz_buf_addc(b, '\n');
        break;
    case KZP_N_FOLLOWEDBY: kz_buf_addstr(b, "FOLLOWEDBY\n"); break;
    case KZP_N_OBS_OR: kz_buf_addstr(b, "OR (observations)\n"); break;
    case KZP_N_OBS_AND: kz_buf_addstr(b, "AND (observations)\n"); break;
    case KZP_N_OR: kz_buf_addstr(b, "OR\n"); break;
    default: kz_buf_addstr(b, "AND\n"); break;
    }
    for (const struct kzp_node *k = nd->kids; k; k = k->next)
        dump(p, b, k, depth + 1);
}

int kzp_dump(const struct kzp_pattern *p, struct kz_buf *out)
{
    dump(p, out, p->root, 0);
    return out->failed ? -1 : 0;
}
