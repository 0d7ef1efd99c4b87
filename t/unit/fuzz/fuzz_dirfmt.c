/* libFuzzer target: see mtls_fuzz_dirfmt() in ../fuzz_targets.c.  Built only by
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
    if (mtls_fuzz_dirfmt(data, size)) {
        abort();   /* a property failed: keep this input */
    }
    return 0;
}
