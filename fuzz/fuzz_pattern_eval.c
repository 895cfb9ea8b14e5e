/*
 * Fuzz harness for the pattern evaluator: the input is a pattern, a
 * newline, then observations as JSON (a bundle, a list or one object).
 * Inputs whose pattern or JSON is invalid are rejected quickly; the rest
 * are evaluated, which may only fail with the documented limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pattern/pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    struct kzp_pattern *p = NULL;
    struct kzp_obs *o = NULL;
    struct kzp_result res;
    struct kz_error err;
    size_t pn;

    if (!nl)
        return 0;
    pn = (size_t)(nl - s);
    kz_error_clear(&err);
    if (kzp_parse(s, pn, &p, &err) != 0)
        return 0;
    o = kzp_obs_new();
    if (!o)
        abort();
    if (kzp_obs_add(o, nl + 1, size - pn - 1, &err) == 0) {
        if (kzp_match(p, o, &res, &err) == 0)
            kzp_result_free(&res);
        else if (err.code != KZ_ELIMIT)
            abort();
        /* a second evaluation reuses the index */
        if (kzp_match(p, o, &res, &err) == 0)
            kzp_result_free(&res);
    }
    kzp_obs_free(o);
    kzp_free(p);
    return 0;
}
