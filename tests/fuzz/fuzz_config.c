/* JSON config files (tf-export --config). */
#include "fuzz_common.h"
#include "import/import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct import_settings s = {0};
	fuzz_alloc_begin(data, size, FUZZ_ALLOC_LIMIT);
	import_settings_json_text(&s, (const char *)data, size);
	fuzz_alloc_end();
	return 0;
}
