/* Shared by the libFuzzer targets: the input as a file descriptor (a
 * memfd), for the readers that take one, and the failing allocator. */
#ifndef TF_FUZZ_COMMON_H
#define TF_FUZZ_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_alloc.h"

/* The default size above which the fuzz build refuses an allocation: far
 * above what a valid small input needs, far below what a header can ask. */
#define FUZZ_ALLOC_LIMIT ((size_t)64 << 20)

/* An fd positioned at the start of data[size], or -1. The same memfd every
 * time (rewritten, cut to size): creating one per input, and the kernel
 * pages behind it, cost more than a small input's parse. Not to be closed. */
static int fuzz_fd(const uint8_t *data, size_t size)
{
	static int fd = -1;
	size_t done = 0;
	if (fd < 0 && (fd = memfd_create("fuzz", MFD_CLOEXEC)) < 0)
		return -1;
	if (ftruncate(fd, (off_t)size))
		return -1;
	while (done < size) {
		ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}
#endif
