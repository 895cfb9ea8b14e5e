/*
 * libFuzzer harness for the match log reader of RFC 5424/3164 syslog (PRI, structured data, tags).
 * Each input is one log; the checks live in src/match/fuzzcheck.c, which the
 * unit test test_match_fuzz_corpus replays over fuzz/corpus/match_syslog/.
 */
#include <stddef.h>
#include <stdint.h>

#include "match/match_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mx_fuzz_one(LOGREAD_SYSLOG, data, size);
    return 0;
}
