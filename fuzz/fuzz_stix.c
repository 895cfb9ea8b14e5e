/*
 * Fuzzes the STIX reading path end to end: the container reader, the JSON
 * tape, reading common properties, validation, minifying and canonical
 * JSON, on arbitrary bytes.
 */
#include <stdint.h>
#include <stdlib.h>

#include "json/json.h"
#include "stix/stix.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_object(void *ctx, size_t index, const struct kzj_doc *doc, uint32_t node,
                     struct kz_error *err)
{
    struct stix_findings *f = ctx;
    struct stix_obj o;
    struct kz_buf b;
    char id[KZ_MAX_STIX_ID + 1];

    (void)index;
    (void)err;
    if (stix_obj_read(doc, node, &o, err) < 0)
        return 0;
    stix_validate(&o, f);
    if (o.cls == STIX_SCO)
        stix_sco_id(doc, node, o.type, id);
    kz_buf_init(&b, 1 << 26);
    kzj_minify(doc->buf + doc->nodes[node].off, doc->nodes[node].len, &b);
    kz_buf_reset(&b);
    kzj_canonical(doc, node, &b);
    kz_buf_free(&b);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stix_container info;
    struct kz_error err;
    struct stix_findings *f = malloc(sizeof(*f));

    if (!f)
        return 0;
    stix_read((const char *)data, size, on_object, f, &info, &err);
    free(f);
    return 0;
}
