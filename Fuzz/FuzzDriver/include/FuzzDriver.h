// libFuzzer's driver (linked by -sanitize=fuzzer): each fuzz target's main hands it the target's
// callback. SwiftPM names an executable's entry point after its module, so the targets keep their
// own main and call this instead of letting libFuzzer bring one.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
