/* TFSWA-UNet inference (doc/architecture.md, "Stages" and "Tensor
 * layouts"): weights prepared once (BatchNorm folded into the convolutions,
 * convolution weights reordered for im2col), then a forward pass on
 * channel-last activations, stage by stage as lib/arch.h lists them. */
#ifndef TF_UNET_H
#define TF_UNET_H
#include <stddef.h>

#include "model.h"

struct unet; /* opaque: prepared weights */

/* Prepares m for inference; m must outlive the result. NULL + message. */
struct unet *unet_prepare(const struct model *m);
void unet_free(struct unet *u);
const struct unet_config *unet_config(const struct unet *u);

/* 1 if some of u's products run in int8 (a q8 or q8s model). */
int unet_is_int8(const struct unet *u);
/* 1 if u's products run in bf16 (a bf16 model where bgemm_wanted). */
int unet_is_bf16(const struct unet *u);

/* Calibration: fn sees the input of every product whose weight a q8 model
 * stores as int8, before the product: layer is the weight's index in the
 * model's table, x its rows [M][K], ld floats apart. Called from the
 * forward pass's threads at once: fn synchronises. NULL: none. */
typedef void (*unet_observe_fn)(void *ctx, int layer, const float *x, int M, int K, int ld);
void unet_set_observer(struct unet *u, unet_observe_fn fn, void *ctx);

/* Kinds of work a profiled forward pass tells apart (unet_plan_set_profile). */
enum unet_work {
	UNET_WORK_GEMM_F32, UNET_WORK_GEMM_INT8, UNET_WORK_QUANTIZE, UNET_WORK_ATTENTION, UNET_WORK_GEMM_BF16,
	UNET_WORKS
};
extern const char *const unet_work_names[UNET_WORKS];

/* Smallest H and W the network takes (three stride-2 downsamplings). */
#define UNET_MIN_SIZE 8

/* Called with intermediate activations (for parity tests): name is "stem",
 * "enc0".."enc2", "bottleneck", "dec0".."dec2"; x is [H][W][C] of batch
 * item b. */
typedef void (*unet_tap_fn)(void *ctx, const char *name, int b, const float *x, int H, int W, int C);

/* A workspace for forward passes of u at H x W (H, W >= UNET_MIN_SIZE) on
 * `threads` threads: the maps, the skips and every thread's scratch,
 * sized here and allocated at once, so that a pass allocates nothing and
 * cannot fail. u must outlive it. NULL + message (out of memory, or a size
 * too large to plan). */
struct unet_plan;
struct unet_plan *unet_plan_new(const struct unet *u, int H, int W, int threads);
void unet_plan_free(struct unet_plan *p);
/* Bytes the plan holds. */
size_t unet_plan_bytes(const struct unet_plan *p);
/* Where the time goes, by kind of work: CPU seconds summed over threads
 * (thread CPU clocks, so that other processes' load does not count),
 * added to cpu[] during every pass on p while set; NULL: off. */
void unet_plan_set_profile(struct unet_plan *p, double cpu[UNET_WORKS]);
/* Where the next pass's input goes: [H][W][in_channels], channel-last
 * (doc/architecture.md, "Tensor layouts"). */
float *unet_plan_input(struct unet_plan *p);
/* A forward pass on the plan's input: returns the sigmoid masks
 * [H][W][out_channels], channel-last, inside the plan (valid until the
 * next pass, which overwrites them and the input). Taps, if any, see every
 * stage with b = 0. Passes on one plan run one at a time. */
const float *unet_run(struct unet_plan *p, unet_tap_fn tap, void *tap_ctx);

/* unet_run on one item in the reference's NCHW layout: in
 * [in_channels][H][W], out [out_channels][H][W]; taps are told batch
 * item b. Returns out. */
const float *unet_run_nchw(struct unet_plan *p, const float *in, float *out, int b, unet_tap_fn tap,
			   void *tap_ctx);

/* A forward pass in the reference's NCHW layout, for parity tests and
 * benchmarks: in [B][in_channels][H][W], out [B][out_channels][H][W]
 * sigmoid masks, on the OpenMP threads in force (a plan made and freed per
 * call). -1 with message (out of memory, input too small). */
int unet_forward(const struct unet *u, const float *in, int B, int H, int W, float *out,
		 unet_tap_fn tap, void *tap_ctx);

/* FLOPs of one forward pass at H x W (batch 1), counting a multiply-add as
 * two: the matrix products, convolutions and attention, not the
 * elementwise work. For benchmarks. */
double unet_flops(const struct unet_config *c, int H, int W);

/* The forward pass in stages, as the tap sees it: "stem", "enc0".."enc2",
 * "bottleneck", "dec0".."dec2", then "head" (after the last tap). */
#define UNET_STAGES (2 * UNET_LEVELS + 1)
extern const char *const unet_stage_names[UNET_STAGES];
/* unet_flops split by stage; they add up to it. A stage's share includes the
 * down- or upsampling convolution that runs between its tap and the
 * previous one. */
void unet_stage_flops(const struct unet_config *c, int H, int W, double f[UNET_STAGES]);

#endif
