/* The .pth importer: zip reader, restricted unpickler, tensor views, and
 * the mapping onto the model. CRC checks are off so that mutations reach
 * the pickle. */
#include "fuzz_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct import_set w;
	if (import_pth(&w, data, size, IMPORT_NO_CRC) == 0) {
		fuzz_map(&w);
		import_set_free(&w);
	}
	return 0;
}
