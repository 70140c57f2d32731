/* The .pth importer: zip reader, restricted unpickler, tensor views, and
 * the mapping onto the model. CRC checks are off so that mutations reach
 * the pickle. */
#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct import_set w;
	fuzz_alloc_begin(data, size, FUZZ_ALLOC_LIMIT);
	if (import_pth(&w, data, size, IMPORT_NO_CRC) == 0) {
		fuzz_map(&w);
		import_set_free(&w);
	}
	fuzz_alloc_end();
	return 0;
}
