/* fuzz_decode.c - libFuzzer target: one frame payload into the strict
 * decoder (seeds: tests/vectors/ as they are). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_check_payload(data, size);
    return 0;
}
