/* The fuzz build's allocator (fuzz_alloc.c, linked with
 * -Wl,--wrap=malloc,...): while a target runs an input, it refuses every
 * allocation above a size limit and, for one input in four, the N-th
 * allocation (N from a hash of the input, 1 to 256), so that the
 * out-of-memory paths run under the sanitizers as often as the others.
 * A refused allocation returns NULL with errno ENOMEM, as malloc does.
 * Environment, to reproduce or to explore:
 *   FUZZ_ALLOC_LIMIT_MB  the size limit (default: the target's own)
 *   FUZZ_FAIL_AT         fail exactly this allocation (0: none), instead of the hash's choice */
#ifndef TF_FUZZ_ALLOC_H
#define TF_FUZZ_ALLOC_H
#include <stddef.h>
#include <stdint.h>

/* Arms the allocator for one input; limit: the default size limit in bytes. */
void fuzz_alloc_begin(const uint8_t *data, size_t size, size_t limit);
/* Disarms it (libFuzzer's own allocations must not fail). */
void fuzz_alloc_end(void);
/* Allocations refused since the start (for the targets' self-check). */
unsigned long fuzz_alloc_refused(void);
#endif
