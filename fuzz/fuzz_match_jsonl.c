/*
 * libFuzzer harness for the match log reader of JSON lines (nesting, escapes, malformed tails),
 * cross-checked against the tape parser. Each input is one log; the checks live in
 * src/match/fuzzcheck.c, which the unit test test_match_fuzz_corpus replays over
 * fuzz/corpus/match_jsonl/.
 */
#include <stddef.h>
#include <stdint.h>

#include "match/match_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mx_fuzz_one(LOGREAD_JSONL, data, size);
    return 0;
}
