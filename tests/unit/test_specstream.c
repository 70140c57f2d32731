/* lib/specstream: what the writer writes the reader reads back, and each
 * way a stream can be broken is refused with its message. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"
#include "specstream.h"
#include "test.h"

#define CH 2
#define FFT 30
#define BINS (FFT / 2 + 1)
#define HOP 8

static float spec[CH * BINS * 32 * 2]; /* up to 32 frames, complex */

static struct spec_header header(enum spec_kind kind)
{
	struct spec_header h = {.kind = kind, .sample_rate = 8000, .n_fft = FFT, .hop = HOP, .channels = CH,
				.bins = BINS, .samples = -1};
	if (kind != SPEC_SPECTROGRAM) {
		h.nstems = 2;
		strcpy(h.stems[0], "vocals"), strcpy(h.stems[1], "other");
	}
	return h;
}

/* An empty in-memory file. */
static int memfd(void)
{
	return memfd_create("specstream", 0);
}

/* A valid stream of `chunks` chunks of n frames written by spec_writer. */
static int write_stream(enum spec_kind kind, int chunks, int n, int64_t samples)
{
	int fd = memfd();
	FILE *fp = fdopen(dup(fd), "w");
	struct spec_header h = header(kind);
	h.samples = samples;
	struct spec_writer *w = spec_writer_open(fp, &h, NULL);
	for (int c = 0; c < chunks; c++)
		spec_write_chunk(w, spec, (int64_t)c * n, n);
	spec_writer_close(w, NULL, samples);
	fclose(fp);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Reads a whole stream: frames, or -1 with the message in msg. */
static int64_t read_all(int fd, unsigned kinds, char *msg, size_t len)
{
	struct spec_reader *r = spec_reader_open(fd, "x.stream", kinds);
	struct spec_chunk c;
	int got = -1;
	int64_t frames = -1;
	if (r) {
		while ((got = spec_read_chunk(r, &c)) > 0)
			;
		frames = got < 0 ? -1 : spec_reader_frames(r);
	}
	snprintf(msg, len, "%s", frames < 0 ? tf_strerror() : "");
	spec_reader_close(r);
	close(fd);
	return frames;
}

/* A spectrogram stream written frame by frame with the plain stream
 * writer, so that it can be broken: frame starts, an optional NaN in one
 * chunk, the end frame's frames / tensors keys (-1: absent). */
static int broken(const int64_t *starts, int nchunks, int nan_chunk, int64_t end_frames, int64_t end_tensors)
{
	int fd = memfd();
	FILE *fp = fdopen(dup(fd), "w");
	struct stream_writer *w = stream_writer_open(fp);
	struct frame *f = frame_new();
	float data[CH * BINS * 4 * 2] = {0};
	struct tensor t = {.dtype = DT_C64, .ndim = 3, .shape = {CH, BINS, 4}, .data = data};
	frame_set_int(f, "sample_rate", 8000), frame_set_int(f, "n_fft", FFT), frame_set_int(f, "hop", HOP);
	frame_set_int(f, "channels", CH);
	stream_write_header(w, "spectrogram", f);
	for (int c = 0; c < nchunks; c++) {
		data[7] = c == nan_chunk ? NAN : 0;
		frame_clear(f);
		frame_set_tensor(f, &t), frame_set_int(f, "frame", starts[c]);
		stream_write_frame(w, f);
	}
	frame_clear(f);
	if (end_frames >= 0)
		frame_set_int(f, "frames", end_frames);
	if (end_tensors >= 0)
		frame_set_int(f, "tensors", end_tensors);
	stream_write_end(w, f);
	stream_writer_close(w);
	frame_free(f);
	fclose(fp);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static void test_round_trip(void)
{
	for (size_t i = 0; i < sizeof spec / sizeof *spec; i++)
		spec[i] = (float)sin(0.1 * (double)i);
	int fd = write_stream(SPEC_STEMS, 3, 5, 100);
	/* stems: [2, CH, BINS, 5] c64 per chunk */
	struct spec_reader *r = spec_reader_open(fd, NULL, SPEC_SPECTROGRAM | SPEC_STEMS);
	const struct spec_header *h = r ? spec_reader_header(r) : NULL;
	ok(h && h->kind == SPEC_STEMS && h->sample_rate == 8000 && h->n_fft == FFT && h->hop == HOP &&
		   h->channels == CH && h->bins == BINS && h->samples == 100 && h->nstems == 2 &&
		   !strcmp(h->stems[1], "other"),
	   "the header comes back as written%s%s", r ? "" : ": ", r ? "" : tf_strerror());
	struct spec_chunk c;
	int chunks = 0, same = 1, got;
	while (r && (got = spec_read_chunk(r, &c)) > 0) {
		same &= c.first == chunks * 5 && c.n == 5 && !memcmp(c.data, spec, 2 * CH * BINS * 5 * 8);
		chunks++;
	}
	ok(r && got == 0 && chunks == 3 && same && spec_reader_frames(r) == 15 && spec_reader_samples(r) == 100,
	   "three chunks of 5 frames, numbered, the data as written, the totals at the end");
	const struct frame *end = r ? spec_reader_end(r) : NULL;
	int64_t frames = 0;
	ok(end && frame_get_int(end, "frames", &frames) == 0 && frames == 15, "the end frame says 15 frames");
	ok(r && spec_read_chunk(r, &c) == 0, "after the end, the end again");
	spec_reader_close(r);
	close(fd);

	char msg[512];
	ok(read_all(write_stream(SPEC_MASKS, 2, 4, -1), SPEC_MASKS, msg, sizeof msg) == 8, "masks: f32 chunks read back");
	ok(read_all(write_stream(SPEC_SPECTROGRAM, 0, 4, 0), SPEC_SPECTROGRAM, msg, sizeof msg) == 0,
	   "a stream of no chunks is valid");
	fd = write_stream(SPEC_SPECTROGRAM, 4, 3, -1);
	ok(spec_check_fd(fd, SPEC_SPECTROGRAM, 1 << 20) == 12, "spec_check_fd reads a valid stream through: 12 frames");
	close(fd);
}

static void expect(int fd, unsigned kinds, const char *want, const char *what)
{
	char msg[512];
	int64_t frames = read_all(fd, kinds, msg, sizeof msg);
	ok(frames < 0 && strstr(msg, want) && !strncmp(msg, "x.stream: ", 10), "%s: %s", what, msg);
}

static void test_refusals(void)
{
	static const int64_t ok4[] = {0, 4, 8}, gap[] = {0, 8}, dup_[] = {0, 4, 4}, swap[] = {4, 0};
	char msg[512];
	ok(read_all(broken(ok4, 3, -1, 12, 3), SPEC_SPECTROGRAM, msg, sizeof msg) == 12,
	   "the unbroken control stream is read: 12 frames%s", msg);
	expect(broken(gap, 2, -1, -1, -1), SPEC_SPECTROGRAM, "chunk 1 starts at frame 8, expected 4", "a gap");
	expect(broken(dup_, 3, -1, -1, -1), SPEC_SPECTROGRAM, "chunk 2 starts at frame 4, expected 8",
	       "a repeated chunk");
	expect(broken(swap, 2, -1, -1, -1), SPEC_SPECTROGRAM, "chunk 0 starts at frame 4, expected 0",
	       "chunks out of order");
	expect(broken(ok4, 3, 1, -1, -1), SPEC_SPECTROGRAM, "chunk 1: a value that is not finite (nan) at [0, 0, 3]",
	       "a NaN, with where it is");
	expect(broken(ok4, 3, -1, 13, -1), SPEC_SPECTROGRAM, "ends claiming 13 frames, but it held 12",
	       "wrong frame total");
	expect(broken(ok4, 3, -1, -1, 2), SPEC_SPECTROGRAM, "ends claiming 2 tensors, but it held 3",
	       "wrong tensor total");
	expect(broken(ok4, 3, -1, -1, -1), SPEC_STEMS, "expected a stems stream, got a spectrogram stream",
	       "the wrong kind");
	expect(write_stream(SPEC_MASKS, 1, 4, -1), SPEC_SPECTROGRAM | SPEC_STEMS,
	       "got a masks stream (tf-unet --masks); the stems come from tf-unet without --masks",
	       "masks where stems belong, with what to do");
	expect(write_stream(SPEC_SPECTROGRAM, 2, 4, 10000), SPEC_SPECTROGRAM,
	       "claims 10000 samples, more than its 8 frames can hold", "more samples than the frames hold");
	int fd = memfd();
	expect(fd, SPEC_SPECTROGRAM, "empty input", "no bytes at all");
	/* a stream cut anywhere is an error */
	int cut_ok = 1;
	char whole[8192];
	fd = write_stream(SPEC_SPECTROGRAM, 3, 4, -1);
	ssize_t len = read(fd, whole, sizeof whole);
	close(fd);
	for (ssize_t n = 0; n < len; n += 7) {
		fd = memfd();
		if (write(fd, whole, (size_t)n) != n)
			cut_ok = 0;
		lseek(fd, 0, SEEK_SET);
		cut_ok &= spec_check_fd(fd, SPEC_SPECTROGRAM, 0) == -1;
		close(fd);
	}
	ok(len > 0 && cut_ok, "a %zd-byte stream cut at every 7th byte is refused each time", len);
}

/* A stream of no chunks whose header has the given kind, window (NULL:
 * none) and center (-1: none). */
static int header_only(const char *kind, const char *window, int center)
{
	int fd = memfd();
	FILE *fp = fdopen(dup(fd), "w");
	struct stream_writer *w = stream_writer_open(fp);
	struct frame *f = frame_new();
	frame_set_int(f, "sample_rate", 8000), frame_set_int(f, "n_fft", FFT), frame_set_int(f, "hop", HOP);
	frame_set_int(f, "channels", CH);
	if (window)
		frame_set_str(f, "window", window);
	if (center >= 0)
		frame_set_bool(f, "center", center);
	stream_write_header(w, kind, f);
	frame_clear(f);
	stream_write_end(w, f);
	stream_writer_close(w);
	frame_free(f);
	fclose(fp);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* The kind and window names are read into enums once, at the header. */
static void test_header_names(void)
{
	char msg[512];
	ok(read_all(header_only("spectrogram", NULL, -1), SPEC_SPECTROGRAM, msg, sizeof msg) == 0,
	   "no window and no center: a centred Hann window%s", msg);
	ok(read_all(header_only("spectrogram", "hann", 1), SPEC_SPECTROGRAM, msg, sizeof msg) == 0,
	   "window hann, centred: read%s", msg);
	expect(header_only("spectrogram", "hamming", -1), SPEC_SPECTROGRAM,
	       "the stream's STFT (hamming window) is not the one tfswa uses (hann, centred)", "another window");
	expect(header_only("spectrogram", "hannx", 1), SPEC_SPECTROGRAM, "(hannx window)",
	       "a name that starts like hann");
	expect(header_only("spectrogram", "hann", 0), SPEC_SPECTROGRAM,
	       "the stream's STFT (hann window, not centred) is not the one tfswa uses (hann, centred)",
	       "frames not centred");
	expect(header_only("spectra", NULL, -1), SPEC_SPECTROGRAM | SPEC_STEMS,
	       "expected a spectrogram or stems stream, got a spectra stream", "an unknown kind");
	expect(header_only("stem", NULL, -1), SPEC_STEMS, "expected a stems stream, got a stem stream",
	       "a kind that is a prefix of one");
	ok(read_all(header_only("masks", NULL, -1), SPEC_STEMS | SPEC_MASKS, msg, sizeof msg) == -1,
	   "masks need their stems: %s", msg);
	ok(!strcmp(spec_kind_name(SPEC_SPECTROGRAM), "spectrogram") && !strcmp(spec_kind_name(SPEC_STEMS), "stems") &&
		   !strcmp(spec_kind_name(SPEC_MASKS), "masks") && !strcmp(spec_kind_name(0), "spectrogram"),
	   "each kind's name; anything else is called a spectrogram");
}

static void test_fits(void)
{
	struct unet_config c = {.sample_rate = 8000, .n_fft = FFT, .hop = HOP, .channels = CH};
	struct spec_header h = header(SPEC_SPECTROGRAM);
	ok(spec_fits(&h, &c) == 0, "a stream made with the model's settings fits");
	h.sample_rate = 44100, h.channels = 1;
	ok(spec_fits(&h, &c) == -1 && strstr(tf_strerror(), "stream (44100 Hz, n_fft 30, hop 8, 1 channel) does not fit "
							  "the model (8000 Hz, n_fft 30, hop 8, 2 channels); make it "
							  "with: tf-stft -r 8000 -n 30 -H 8 -c 2"),
	   "one that does not names the tf-stft options that fit: %s", tf_strerror());
}

int main(void)
{
	test_round_trip();
	test_refusals();
	test_header_names();
	test_fits();
	return test_done();
}
