/* What this CPU can run: probed once (thread-safe) and shared by every
 * kernel that picks a SIMD path at run time, so they all agree and none
 * re-probes per call. */
#ifndef TF_CPU_H
#define TF_CPU_H
#include <stdbool.h>

struct cpu_features {
	bool avx2, fma;
	bool avx512f, avx512dq, avx512bw, avx512vl, avx512vnni, avx512bf16;
	/* the processor's brand string ("AMD EPYC ..."), or "unknown" */
	const char *name;
};

/* The features of this CPU (all false off x86-64). The first call probes;
 * any thread may call it at any time. */
const struct cpu_features *cpu_features(void);

/* The SIMD paths a kernel may have, in one list for all kernels: plain C,
 * AVX2 with FMA, and AVX-512 (F, DQ, BW, VL) with FMA. */
enum simd_path { SIMD_PLAIN, SIMD_AVX2, SIMD_AVX512 };

/* Whether this CPU runs a path (SIMD_PLAIN always), the fastest one it
 * runs, and a path's name ("scalar", "avx2", "avx512"). */
int simd_path_supported(enum simd_path path);
enum simd_path simd_best_path(void);
const char *simd_path_name(enum simd_path path);

/* The compiler targets of the two SIMD paths, written to match what
 * simd_path_supported checks: a function compiled for a path runs wherever
 * that path is chosen. SIMD_X86 is 0 where neither exists. */
#ifdef __x86_64__
#define SIMD_X86 1
#define TARGET_AVX2 __attribute__((target("avx2,fma")))
#define TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))
#else
#define SIMD_X86 0
#endif

#endif
