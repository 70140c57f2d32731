/* Sizes from headers are not trusted (issue 12): the model size cap, the
 * stream-length check before allocating, one owner per buffer when an
 * allocation fails (model_init once left m->specs dangling for model_free
 * to free again), model_check storing nothing, the segment maximum. Runs
 * under a 1.5 GB address-space limit, so that a header trusted to allocate
 * gigabytes fails here rather than passing unnoticed. */
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "error.h"
#include "model.h"
#include "test.h"
#include "train/state.h"

static int err_has(const char *s)
{
	return strstr(tf_strerror(), s) != NULL;
}

/* A stream of kind `kind` holding only cfg's header (plus the train-state
 * keys when state is set) and the end frame, in a memory file. */
static int header_only(const struct unet_config *cfg, const char *kind, int state)
{
	int fd = memfd_create("limits", MFD_CLOEXEC);
	FILE *fp = fdopen(dup(fd), "wb");
	struct stream_writer *w = stream_writer_open(fp);
	struct frame *f = frame_new();
	int64_t rng[4] = {1, 2, 3, 4};
	config_to_frame(cfg, f);
	if (state) {
		frame_set_int(f, "state_version", TRAIN_STATE_VERSION), frame_set_int(f, "step", 0);
		frame_set_int(f, "epoch", 0), frame_set_int(f, "epoch_steps", 1), frame_set_ints(f, "rng", rng, 4);
		frame_set_str(f, "dataset", "x"), frame_set_int(f, "seed", 1), frame_set_int(f, "steps", 10);
		frame_set_int(f, "batch", 1), frame_set_float(f, "segment_seconds", 1.0);
		frame_set_int(f, "segment_samples", cfg->sample_rate), frame_set_float(f, "lr", 1e-3);
		frame_set_float(f, "lr_min", 0), frame_set_str(f, "schedule", "cosine"), frame_set_int(f, "warmup", 0);
		frame_set_int(f, "step_size", 0), frame_set_float(f, "gamma", 0.5), frame_set_float(f, "beta1", 0.9);
		frame_set_float(f, "beta2", 0.999), frame_set_float(f, "eps", 1e-8);
		frame_set_float(f, "weight_decay", 0), frame_set_float(f, "clip", 0);
		frame_set_float(f, "gain_low", 1), frame_set_float(f, "gain_high", 1);
		frame_set_bool(f, "channel_swap", 0), frame_set_bool(f, "remix", 0);
		frame_set_float(f, "silence_db", -60), frame_set_float(f, "wave_loss", 0);
		frame_set_bool(f, "overfit", 0), frame_set_int(f, "holdout", 0), frame_set_int(f, "tracks", 1);
		frame_set_int(f, "valid", 2), frame_set_float(f, "valid_seconds", 10), frame_set_float(f, "ema", 0);
	}
	stream_write_header(w, kind, f);
	frame_clear(f);
	frame_set_int(f, "tensors", 0);
	stream_write_end(w, f);
	stream_writer_close(w);
	fclose(fp);
	frame_free(f);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

#ifdef __SANITIZE_ADDRESS__
/* ASan cannot run under RLIMIT_AS (below): its allocator enforces the
 * same 1500 MiB on each allocation instead, returning NULL as malloc would. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1:max_allocation_size_mb=1500";
}
#endif

static int empty(const struct model *m)
{
	return !m->specs && !m->params && !m->q8 && !m->nspecs;
}

int main(void)
{
	struct rlimit lim = {(rlim_t)1500 << 20, (rlim_t)1500 << 20};
	struct unet_config huge, big, c;
	struct model m;
	int fd, described;
	/* The limit makes an allocation a header asked for fail loudly. ASan
	 * reserves terabytes of shadow memory and cannot start under it: there
	 * __asan_default_options above sets the same cap per allocation. */
#ifndef __SANITIZE_ADDRESS__
	setrlimit(RLIMIT_AS, &lim);
#else
	(void)lim;
#endif

	config_default(&huge);
	for (int l = 0; l < UNET_LEVELS; l++)
		huge.dims[l] = 4096, huge.depths[l] = 64;
	config_default(&big);
	for (int l = 0; l < UNET_LEVELS; l++)
		big.dims[l] = 512, big.depths[l] = 8;
	config_default(&c);

	ok(model_check_size(&c) == 0 && model_nparams(&c) > 15404834 && model_nparams(&c) < 16000000,
	   "the default model fits the cap: %zu floats", model_nparams(&c));
	int rc = model_check_size(&huge);
	ok(model_nparams(&huge) > MODEL_MAX_PARAMS && rc < 0 && err_has("the model declares 1.2 TB of parameters") &&
		   err_has("refusing"),
	   "dims 4096, depths 64 over the cap: %s", tf_strerror());

	/* model_init: refused before allocating, m left empty */
	memset(&m, 0x55, sizeof m);
	ok(model_init(&m, &huge) < 0 && empty(&m), "model_init over the cap: -1, nothing held");
	model_free(&m); /* harmless */
	/* under the cap but beyond this process's memory: the parameter
	 * allocation fails after the table was made; m must not keep it */
	memset(&m, 0x55, sizeof m);
	ok(model_init(&m, &big) < 0 && empty(&m), "model_init whose allocation fails: -1, nothing held (%s)",
	   tf_strerror());
	model_free(&m);
	ok(1, "model_free after a failed model_init: no double free");

	/* model_read: the huge header, the unbacked one */
	fd = header_only(&huge, "model", 0);
	ok(model_read(&m, fd) < 0 && err_has("declares 1.2 TB") && empty(&m), "model_read, 1.2 TB header: %s",
	   tf_strerror());
	close(fd);
	fd = header_only(&big, "model", 0);
	ok(model_read(&m, fd) < 0 && err_has("2570 tensors of at least 615.9 MB, but the file holds only") &&
		   empty(&m),
	   "model_read, a header the file cannot back, refused before allocating: %s", tf_strerror());
	close(fd);

	/* model_check stores nothing and describes a header over the cap */
	char path[] = "/tmp/tfswa-test-limits-XXXXXX";
	int pfd = mkstemp(path);
	fd = header_only(&huge, "model", 0);
	{
		char buf[4096];
		ssize_t n;
		while ((n = read(fd, buf, sizeof buf)) > 0)
			if (write(pfd, buf, (size_t)n) != n)
				break;
	}
	close(fd), close(pfd);
	rc = model_check(&m, path, &described);
	ok(rc < 0 && described && m.cfg.dims[0] == 4096 && !m.params &&
		   err_has("declares 1.2 TB"),
	   "model_check over the cap: described (dims %d), nothing stored", m.cfg.dims[0]);
	model_free(&m);
	unlink(path);

	/* the train state: same refusals, same single owner */
	struct train_state st;
	fd = header_only(&huge, "train-state", 1);
	ok(train_state_read(&st, fd) < 0 && err_has("declares 1.2 TB"), "train state, 1.2 TB header: %s",
	   tf_strerror());
	close(fd);
	fd = header_only(&big, "train-state", 1);
	ok(train_state_read(&st, fd) < 0 && err_has("but the file holds only"),
	   "train state, a header the file cannot back: %s", tf_strerror());
	close(fd);

	/* the segment maximum */
	c.segment = MODEL_MAX_SEGMENT, c.overlap = 64;
	ok(config_validate(&c) == 0, "segment %d accepted", MODEL_MAX_SEGMENT);
	c.segment = MODEL_MAX_SEGMENT + 1;
	ok(config_validate(&c) < 0 && err_has("0 to 16384 frames"), "segment %d refused: %s", c.segment,
	   tf_strerror());

	printf("# %d tests, %d failed\n", test_count, test_failed);
	return test_failed != 0;
}
