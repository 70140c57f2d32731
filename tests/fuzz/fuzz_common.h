/* Shared by the libFuzzer targets: the input as a file descriptor (a
 * memfd), for the readers that take one. */
#ifndef TF_FUZZ_COMMON_H
#define TF_FUZZ_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* An fd positioned at the start of data[size], or -1. */
static int fuzz_fd(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	size_t done = 0;
	if (fd < 0)
		return -1;
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}
#endif
