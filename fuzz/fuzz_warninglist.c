/*
 * Fuzzes the MISP warninglist reader: a list.json is untrusted input (users
 * import whatever lists they download). The bytes are one list; when it
 * loads, the set is finished, serialised, loaded back from the blob, and
 * asked about a few values of every kind.
 */
#include <stdint.h>
#include <string.h>

#include "match/warninglist.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const probes[] = {"8.8.8.8",       "2001:db8::1",
                                     "example.com",   "https://example.com/a?b",
                                     "a@example.com", "d41d8cd98f00b204e9800998ecf8427e"};
static const enum match_kind kinds[] = {MATCH_IPV4, MATCH_IPV6,  MATCH_DOMAIN,
                                        MATCH_URL,  MATCH_EMAIL, MATCH_MD5};

static void probe(const struct warninglist_set *s)
{
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
        warninglist_check(s, kinds[i], probes[i], strlen(probes[i]), probes[i], strlen(probes[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kz_error err;
    struct warninglist_set *s = warninglist_set_new(&err), *back = NULL;
    struct kz_buf blob;

    kz_buf_init(&blob, 1 << 26);
    if (!s || warninglist_set_add_json(s, (const char *)data, size, &err) < 0 ||
        warninglist_set_finish(s, &err) < 0)
        goto out;
    probe(s);
    if (warninglist_set_serialize(s, &blob, &err) < 0)
        goto out;
    back = warninglist_set_new(&err);
    if (back && warninglist_set_load_blob(back, blob.data, blob.len, &err) == 0 &&
        warninglist_set_finish(back, &err) == 0)
        probe(back);
out:
    warninglist_set_free(back);
    warninglist_set_free(s);
    kz_buf_free(&blob);
    return 0;
}
