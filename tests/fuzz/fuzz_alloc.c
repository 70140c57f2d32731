/* The fuzz build's failing allocator (see fuzz_alloc.h). The link wraps
 * malloc, calloc, realloc, aligned_alloc and posix_memalign of every
 * statically linked object (the library, the target, libFuzzer): the
 * wrappers pass through to the sanitizer's allocator unless armed. */
#include <errno.h>
#include <stdlib.h>

#include "fuzz_alloc.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);

static int armed;
static size_t limit;
static unsigned long count, fail_at, refused;

static unsigned long env_ulong(const char *name, unsigned long dflt)
{
	const char *s = getenv(name);
	return s && *s ? strtoul(s, NULL, 10) : dflt;
}

void fuzz_alloc_begin(const uint8_t *data, size_t size, size_t dflt_limit)
{
	/* FNV-1a of the size and of up to 4096 of the input's bytes, evenly
	 * spaced: the same input always fails the same allocation */
	uint32_t h = 2166136261u ^ (uint32_t)size;
	size_t step = size / 4096 + 1;
	for (size_t i = 0; i < size; i += step)
		h = (h ^ data[i]) * 16777619u;
	limit = env_ulong("FUZZ_ALLOC_LIMIT_MB", dflt_limit >> 20) << 20;
	if (!limit)
		limit = dflt_limit;
	/* one input in four fails an allocation, its index spread over 1..256
	 * on a log scale (the early allocations are the ones every input makes) */
	fail_at = (h & 3) == 0 ? 1 + (h >> 8) % (1ul << ((h >> 4) % 9)) : 0;
	fail_at = env_ulong("FUZZ_FAIL_AT", fail_at);
	count = 0;
	__atomic_store_n(&armed, 1, __ATOMIC_SEQ_CST);
}

void fuzz_alloc_end(void)
{
	__atomic_store_n(&armed, 0, __ATOMIC_SEQ_CST);
}

unsigned long fuzz_alloc_refused(void)
{
	return __atomic_load_n(&refused, __ATOMIC_RELAXED);
}

/* 1 when this allocation of n bytes is to fail */
static int refuse(size_t n)
{
	if (!__atomic_load_n(&armed, __ATOMIC_RELAXED))
		return 0;
	if (n > limit || __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED) == fail_at) {
		__atomic_add_fetch(&refused, 1, __ATOMIC_RELAXED);
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void *__wrap_malloc(size_t n)
{
	return refuse(n) ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	size_t bytes;
	if (__builtin_mul_overflow(n, size, &bytes))
		return __real_calloc(n, size); /* the real one's own overflow check */
	return refuse(bytes) ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return n && refuse(n) ? NULL : __real_realloc(p, n);
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
	return refuse(n) ? NULL : __real_aligned_alloc(align, n);
}

int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
	return refuse(n) ? ENOMEM : __real_posix_memalign(p, align, n);
}
