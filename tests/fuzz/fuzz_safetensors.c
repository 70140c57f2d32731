/* The safetensors importer (header, JSON, offsets) and the mapping. */
#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct import_set w;
	fuzz_alloc_begin(data, size, FUZZ_ALLOC_LIMIT);
	if (import_safetensors(&w, data, size) == 0) {
		fuzz_map(&w);
		import_set_free(&w);
	}
	fuzz_alloc_end();
	return 0;
}
