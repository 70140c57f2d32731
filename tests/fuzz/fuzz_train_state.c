/* The training state reader (train_state_read): header, settings' ranges,
 * every tensor checked by name and shape. */
#include "fuzz_common.h"
#include "train/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = fuzz_fd(data, size);
	struct train_state st;
	if (fd < 0)
		return 0;
	fuzz_alloc_begin(data, size, FUZZ_ALLOC_LIMIT);
	if (train_state_read(&st, fd) == 0)
		train_state_free(&st);
	fuzz_alloc_end();
	return 0;
}
