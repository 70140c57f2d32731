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

#endif
