/*
 * libFuzzer harness for the match log reader of Zeek JSON logs (the JSON scanner with host+uri
 * synthesis). Each input is one log; the checks live in src/match/fuzzcheck.c, which the unit test
 * test_match_fuzz_corpus replays over fuzz/corpus/match_zeekjson/.
 */
#include <stddef.h>
#include <stdint.h>

#include "match/match_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mx_fuzz_one(LOGREAD_ZEEK_JSON, data, size);
    return 0;
}
