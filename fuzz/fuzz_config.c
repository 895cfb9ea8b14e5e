/*
 * Fuzzes the kizuna.conf reader (inih plus kizuna's checks of every key):
 * a configuration is edited by hand and may hold anything.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct node_config *cfg = malloc(sizeof(*cfg));
    char *text = malloc(size + 1);
    struct kz_error err;

    if (cfg && text) {
        memcpy(text, data, size);
        text[size] = '\0';
        node_config_parse(text, "/nonexistent/home", cfg, &err);
    }
    free(text);
    free(cfg);
    return 0;
}
