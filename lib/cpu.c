#include <pthread.h>
#include <string.h>

#include "cpu.h"

#ifdef __x86_64__
#include <cpuid.h>
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct cpu_features features = {.name = "unknown"};
static char brand[49];

/* __builtin_cpu_supports also checks that the OS saves the vector state
 * (XGETBV), which a bare CPUID bit does not. */
static void probe(void)
{
#ifdef __x86_64__
	__builtin_cpu_init();
	features.avx2 = __builtin_cpu_supports("avx2");
	features.fma = __builtin_cpu_supports("fma");
	features.avx512f = __builtin_cpu_supports("avx512f");
	features.avx512dq = __builtin_cpu_supports("avx512dq");
	features.avx512bw = __builtin_cpu_supports("avx512bw");
	features.avx512vl = __builtin_cpu_supports("avx512vl");
	features.avx512vnni = __builtin_cpu_supports("avx512vnni");
	features.avx512bf16 = __builtin_cpu_supports("avx512bf16");
	unsigned r[12];
	if (__get_cpuid_max(0x80000000u, NULL) >= 0x80000004u) {
		for (unsigned i = 0; i < 3; i++)
			__get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
		memcpy(brand, r, 48);
		/* the string is padded with spaces at either end on some CPUs */
		char *s = brand, *e = brand + strlen(brand);
		while (*s == ' ')
			s++;
		while (e > s && e[-1] == ' ')
			*--e = '\0';
		if (*s)
			features.name = s;
	}
#endif
}

const struct cpu_features *cpu_features(void)
{
	pthread_once(&once, probe);
	return &features;
}

int simd_path_supported(enum simd_path path)
{
	const struct cpu_features *c = cpu_features();
	switch (path) {
	case SIMD_PLAIN:
		return 1;
	case SIMD_AVX2:
		return c->avx2 && c->fma;
	case SIMD_AVX512:
		return c->avx512f && c->avx512dq && c->avx512bw && c->avx512vl && c->fma;
	}
	return 0;
}

enum simd_path simd_best_path(void)
{
	return simd_path_supported(SIMD_AVX512) ? SIMD_AVX512
	       : simd_path_supported(SIMD_AVX2) ? SIMD_AVX2
						: SIMD_PLAIN;
}

const char *simd_path_name(enum simd_path path)
{
	static const char *const names[] = {"scalar", "avx2", "avx512"};
	return (unsigned)path < 3 ? names[path] : "?";
}
