/* The model loader (model_read): header, every tensor checked. */
#include "fuzz_common.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = fuzz_fd(data, size);
	struct model m;
	if (fd < 0)
		return 0;
	fuzz_alloc_begin(data, size, FUZZ_ALLOC_LIMIT);
	if (model_read(&m, fd) == 0)
		model_free(&m);
	fuzz_alloc_end();
	return 0;
}
