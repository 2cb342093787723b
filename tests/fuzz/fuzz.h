/* What every fuzz target shares: libFuzzer's entry points (also what
 * tests/fuzz/replay.c calls) and the one way a broken promise ends it. */
#ifndef TREECAST_FUZZ_H
#define TREECAST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Optional (replay.c declares it weak); fuzz-chunk has none. */
int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_assert(x) do {						\
	if (!(x))							\
		abort();						\
} while (0)

#endif
