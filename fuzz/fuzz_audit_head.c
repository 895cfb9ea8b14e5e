/*
 * Fuzzes the reader of a partner's signed audit head (sync/): the answer of
 * GET {root}kizuna/audit-head/ comes from another node, which may send
 * anything once its signature verifies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sync_audit_head h;

    sync_audit_head_parse((const char *)data, size, &h);
    return 0;
}
