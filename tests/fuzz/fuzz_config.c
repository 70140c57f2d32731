/* JSON config files (tf-export --config). */
#include "import/import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct import_settings s = {0};
	import_settings_json_text(&s, (const char *)data, size);
	return 0;
}
