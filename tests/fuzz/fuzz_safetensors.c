/* The safetensors importer (header, JSON, offsets) and the mapping. */
#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct import_set w;
	if (import_safetensors(&w, data, size) == 0) {
		fuzz_map(&w);
		import_set_free(&w);
	}
	return 0;
}
