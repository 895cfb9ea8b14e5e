/*
 * The public suffix list (publicsuffix.org): which names are suffixes under
 * which anyone may register ("com", "co.jp", "github.io"). The matcher uses
 * it so that a domain indicator that is itself a public suffix never matches
 * "its subdomains": an indicator "co.jp" must not flag every Japanese
 * company; export/ uses it for the same reason. libpsl holds the list and
 * answers (exact, wildcard "*.ck" and exception "!www.ck" rules, Unicode
 * rules for names in either form); this file only adapts it to kizuna's
 * conventions: lengths instead of C strings, struct kz_error, size caps.
 * Lookups run when an index is finished and when a file is exported, never
 * per log line.
 */
#include "match/match.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libpsl.h>

struct match_psl {
    psl_ctx_t *ctx; /* owned unless it is libpsl's built-in list */
    int builtin;    /* ctx is psl_builtin(): never freed */
};

static struct match_psl *wrap(psl_ctx_t *ctx, int builtin, struct kz_error *err)
{
    struct match_psl *psl = calloc(1, sizeof(*psl));

    if (!psl) {
        if (!builtin)
            psl_free(ctx);
        kz_error_set(err, KZ_ENOMEM, "out of memory loading the public suffix list");
        return NULL;
    }
    psl->ctx = ctx;
    psl->builtin = builtin;
    return psl;
}

struct match_psl *match_psl_default(struct kz_error *err)
{
    psl_ctx_t *ctx = psl_latest(NULL);
    const psl_ctx_t *b;

    if (ctx)
        return wrap(ctx, 0, err);
    b = psl_builtin();
    if (b)
        return wrap((psl_ctx_t *)b, 1, err);
    kz_error_set(err, KZ_ENOMEM, "cannot load the public suffix list (libpsl has none built in)");
    return NULL;
}

/* A list read from text: one with no rule at all is refused, since it
 * would silently make every name registrable. libpsl counts the rules of
 * text lists (DAFSA files say -1: unknown). */
static struct match_psl *from_fp(FILE *f, struct kz_error *err)
{
    psl_ctx_t *ctx = psl_load_fp(f);

    if (!ctx) {
        kz_error_set(err, KZ_EINVALID, "the public suffix list cannot be read");
        return NULL;
    }
    if (psl_suffix_count(ctx) == 0 && psl_suffix_exception_count(ctx) == 0 &&
        psl_suffix_wildcard_count(ctx) == 0) {
        psl_free(ctx);
        kz_error_set(err, KZ_EINVALID, "the public suffix list holds no rules");
        return NULL;
    }
    return wrap(ctx, 0, err);
}

struct match_psl *match_psl_parse(const char *text, size_t n, struct kz_error *err)
{
    struct match_psl *psl;
    FILE *f;

    if (n > MATCH_MAX_PSL_BYTES) {
        kz_error_set(err, KZ_ELIMIT, "the public suffix list is larger than %zu bytes",
                     MATCH_MAX_PSL_BYTES);
        return NULL;
    }
    if (n == 0) {
        kz_error_set(err, KZ_EINVALID, "the public suffix list holds no rules");
        return NULL;
    }
    f = fmemopen((void *)(uintptr_t)text, n, "r");
    if (!f) {
        kz_error_set(err, KZ_ENOMEM, "out of memory loading the public suffix list");
        return NULL;
    }
    psl = from_fp(f, err);
    fclose(f);
    return psl;
}

struct match_psl *match_psl_load(const char *path, struct kz_error *err)
{
    struct match_psl *psl = NULL;
    struct stat st;
    FILE *f = fopen(path, "rb");

    if (!f) {
        kz_error_file(err, path);
        kz_error_set(err, KZ_EIO, "cannot open the public suffix list: %s", strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        kz_error_file(err, path);
        kz_error_set(err, KZ_EIO, "the public suffix list is not a regular file");
        goto out;
    }
    if ((uintmax_t)st.st_size > MATCH_MAX_PSL_BYTES) {
        kz_error_file(err, path);
        kz_error_set(err, KZ_ELIMIT, "the public suffix list is larger than %zu bytes",
                     MATCH_MAX_PSL_BYTES);
        goto out;
    }
    psl = from_fp(f, err);
    if (!psl)
        kz_error_file(err, path);
out:
    fclose(f);
    return psl;
}

void match_psl_free(struct match_psl *psl)
{
    if (!psl)
        return;
    if (!psl->builtin)
        psl_free(psl->ctx);
    free(psl);
}

int match_psl_is_public_suffix(const struct match_psl *psl, const char *d, size_t n)
{
    char name[MATCH_MAX_IDN_BYTES + 1];

    if (n == 0)
        return 0;
    if (!memchr(d, '.', n))
        return 1; /* the default rule "*" */
    if (!psl || n > MATCH_MAX_IDN_BYTES || memchr(d, '\0', n))
        return 0;
    memcpy(name, d, n);
    name[n] = '\0';
    /* PSL_TYPE_ANY: ICANN and private rules alike ("github.io" too) */
    return psl_is_public_suffix2(psl->ctx, name, PSL_TYPE_ANY) != 0;
}
