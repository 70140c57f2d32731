/* The tensor stream reader: frames until the end or an error, every
 * tensor frame validated, as tf-unet and tf-istft read their input. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = fuzz_fd(data, size);
	if (fd < 0)
		return 0;
	fuzz_alloc_begin(data, size, FUZZ_ALLOC_LIMIT);
	struct stream_reader *r = stream_reader_open(fd, 1 << 20);
	struct frame *f = frame_new();
	if (r && f) {
		int64_t v;
		char s[64];
		if (stream_read_header(r, f, NULL) == 0) {
			frame_get_int(f, "sample_rate", &v);
			frame_get_str(f, "kind", s, sizeof s);
			for (int i = 0; i < 10000 && stream_read_frame(r, f) > 0; i++) {
				struct tensor t;
				if (frame_is_tensor(f) && frame_tensor(f, &t) == 0) {
					volatile unsigned char sink = 0;
					size_t n = tensor_bytes(&t);
					if (n)
						sink ^= ((const unsigned char *)t.data)[n - 1];
					(void)sink;
				}
				if (frame_is_end(f))
					break;
			}
		}
	}
	frame_free(f);
	stream_reader_close(r);
	fuzz_alloc_end();
	return 0;
}
