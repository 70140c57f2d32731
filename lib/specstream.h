/* The spectrogram-like streams of formats/tensor-stream.md: "spectrogram"
 * (tf-stft writes it), "stems" and "masks" (tf-unet writes them). Like
 * netpbm's pnm_readpnminit / pnm_readpnmrow: the header is read into a
 * typed struct and checked, chunks are read one at a time with every check
 * (dtype, shape, frame continuity, finite values), and the end frame's
 * totals are checked against what came. Every program that reads these
 * streams reads them here, so they all refuse exactly the same streams with
 * the same message.
 *
 * Messages name the input ("song.stream: chunk 3: ...") when it is a file,
 * and nothing when it is standard input, so that a program can print them
 * as they are: "tf-unet: song.stream: chunk 3: ...". */
#ifndef TF_SPECSTREAM_H
#define TF_SPECSTREAM_H
#include <stdint.h>
#include <stdio.h>

#include "model.h"
#include "stream.h"

#define SPEC_MAX_STEMS 64
#define SPEC_STEM_NAME_MAX 64
#define SPEC_MAX_CHUNK (1 << 24) /* frames in one chunk */

/* Bits, so that a reader can accept several kinds. */
enum spec_kind { SPEC_SPECTROGRAM = 1, SPEC_STEMS = 2, SPEC_MASKS = 4 };

struct spec_header {
	enum spec_kind kind;
	int sample_rate, n_fft, hop, channels;
	int bins;        /* n_fft / 2 + 1 */
	int64_t samples; /* per channel, when the header knows it; else -1 */
	int nstems;      /* stems and masks: the stem count; spectrogram: 0 */
	char stems[SPEC_MAX_STEMS][SPEC_STEM_NAME_MAX];
};
/* The window is always a periodic Hann and the frames always centred: the
 * reader refuses other STFTs, the writer writes these. */

const char *spec_kind_name(enum spec_kind kind); /* "spectrogram", ... */

/* ---- reading ---- */

struct spec_chunk {
	const void *data; /* c64 (interleaved re, im) or f32 (masks); aligned */
	int64_t first;    /* the index of its first frame in the stream */
	int n;            /* frames, 1 to SPEC_MAX_CHUNK */
	/* [nstems,] channels, bins, n: floats per frame-plane = size / n */
};

struct spec_reader;
/* Reads and checks the header of the stream on fd (which stays open) and
 * keeps its keys. name: the file, for messages (NULL or "-": standard
 * input). kinds: the spec_kind bits accepted. NULL with a message. */
struct spec_reader *spec_reader_open(int fd, const char *name, unsigned kinds);
void spec_reader_close(struct spec_reader *r);
const struct spec_header *spec_reader_header(const struct spec_reader *r);
/* The header frame as read: every key, also the ones this module does not
 * know, for a program that passes them on. */
const struct frame *spec_reader_meta(const struct spec_reader *r);

/* The next chunk: 1 with a chunk (valid until the next call), 0 after the
 * end frame has been read and its totals checked, -1 with a message. A
 * chunk must be the kind's dtype (c64; masks f32) and shape ([channels,
 * bins, n]; stems and masks [nstems, channels, bins, n]), start where the
 * one before it ended (its "frame" key, when present), and hold only finite
 * values. Frames that are neither tensors nor the end are skipped, as the
 * format says; so are tensors of no frames. */
int spec_read_chunk(struct spec_reader *r, struct spec_chunk *c);
int64_t spec_reader_frames(const struct spec_reader *r); /* frames read so far */
/* After the end: the samples the end frame (or else the header) gives, or
 * -1 when neither does. */
int64_t spec_reader_samples(const struct spec_reader *r);
/* After the end: the end frame as read (for passing its keys on). */
const struct frame *spec_reader_end(const struct spec_reader *r);

/* 0 when the stream is what the model was trained on (sample rate, FFT
 * size, hop, channels); otherwise -1 with a message that names the tf-stft
 * options that would make a stream that fits. */
int spec_fits(const struct spec_header *h, const struct unet_config *c);

/* Reads the whole stream on fd as a program would (header, every chunk,
 * the end) and discards it: the frames it held, or -1 with a message.
 * max_frame caps one frame's bytes (0: the stream reader's default). The
 * entry point for fuzzing every check the readers make. */
int64_t spec_check_fd(int fd, unsigned kinds, size_t max_frame);

/* ---- writing ---- */

struct spec_writer;
/* Writes the header of h to fp: tfswa, kind, the keys of extra (may be
 * NULL; for passing on the keys of a stream read), then h's own keys
 * (sample_rate, n_fft, hop, window, center, channels, samples when >= 0,
 * stems). NULL with a message. */
struct spec_writer *spec_writer_open(FILE *fp, const struct spec_header *h, const struct frame *extra);
/* One chunk of n frames starting at frame `first`, shaped as h says;
 * data is not copied. */
int spec_write_chunk(struct spec_writer *w, const void *data, int64_t first, int n);
/* The end frame: the keys of extra (may be NULL), then "frames" (the frames
 * written) and "samples" (when >= 0); flushes and frees w, also on error
 * (-1 with a message). fp stays open. */
int spec_writer_close(struct spec_writer *w, const struct frame *extra, int64_t samples);

#endif
