/*
 * The public entry points of the pattern module that own memory: checking
 * (into a stack arena, so that validating a bundle's indicators costs no
 * allocation for typical patterns), parsing into a heap pattern, freeing.
 * The grammar itself is in parse.c.
 */
#include "pattern/pattern_int.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN_UP(x) (((x) + 15) & ~(size_t)15)

int kzp_check(const char *s, size_t n, struct kz_error *err)
{
    struct kzp_pattern p;
    _Alignas(16) char buf[KZP_ARENA_INLINE * 2];
    int rc;

    memset(&p, 0, sizeof(p));
    kzp_arena_init(&p.arena, buf, sizeof(buf));
    rc = kzp_parse_into(&p, s ? s : "", s ? n : 0, err);
    kzp_release(&p);
    kzp_arena_free(&p.arena);
    return rc;
}

int kzp_parse(const char *s, size_t n, struct kzp_pattern **out, struct kz_error *err)
{
    struct kzp_pattern *p;
    size_t head = ALIGN_UP(sizeof(*p));
    char *src;
    int rc = -1;

    *out = NULL;
    if (n > KZP_MAX_PATTERN_BYTES)
        return kz_error_set(err, KZ_ELIMIT, "pattern is longer than %zu bytes",
                            KZP_MAX_PATTERN_BYTES);
    p = malloc(head + KZP_ARENA_INLINE + n + 1);
    if (!p)
        return kz_error_set(err, KZ_ENOMEM, "out of memory");
    memset(p, 0, sizeof(*p));
    src = (char *)p + head + KZP_ARENA_INLINE;
    if (n)
        memcpy(src, s, n);
    src[n] = '\0';
    kzp_arena_init(&p->arena, (char *)p + head, KZP_ARENA_INLINE);
    if (kzp_parse_into(p, src, n, err) < 0)
        goto out;
    *out = p;
    p = NULL;
    rc = 0;
out:
    kzp_free(p);
    return rc;
}

void kzp_free(struct kzp_pattern *p)
{
    if (!p)
        return;
    kzp_release(p);
    kzp_arena_free(&p->arena);
    free(p);
}

const char *kzp_source(const struct kzp_pattern *p, size_t *len)
{
    *len = p->n;
    return p->src;
}
