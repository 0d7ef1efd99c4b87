/* libFuzzer target: see mtls_fuzz_fwd() in ../fuzz_fwd.c.  Built only by
 * t/unit/fuzz.sh (clang -fsanitize=fuzzer). */
#include <stdlib.h>

#include "fuzz_targets.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    mtls_fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (mtls_fuzz_fwd(data, size)) {
        abort();   /* a property failed: keep this input */
    }
    return 0;
}
