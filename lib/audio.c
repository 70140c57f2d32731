#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audio.h"
#include "cli.h"
#include "error.h"

/* ---- reading ---- */

/* FLAC from a pipe. libsndfile reads the first bytes to tell the format and
 * then rewinds for the FLAC decoder, which a pipe cannot do (other formats it
 * reads from pipes without rewinding). So FLAC on a pipe is read through
 * this source, which keeps the first SOURCE_HEAD bytes to rewind into. */
#define SOURCE_HEAD 65536

struct source {
	int fd;
	sf_count_t pos, got;  /* where libsndfile is; bytes read from fd */
	unsigned char head[SOURCE_HEAD];
};

struct audio_reader {
	SNDFILE *sf;
	int fd, channels;
	int mpeg; /* MP3: its decoder (libmpg123) writes to stderr itself */
	int wav_zero; /* a WAV from a pipe with a data length of 0, read as raw after its header */
	struct source *src;
	char name[256];
};

/* libmpg123, under libsndfile, prints its own notes and errors ("Note:
 * Illegal Audio-MPEG-Header ...") on stderr as it decodes a damaged MP3,
 * and there is no setting to stop it: while libsndfile opens a file and
 * while it decodes MP3, stderr goes to /dev/null, so that the program's own
 * one-line message is all a user sees. (Reading is single-threaded; nothing
 * of ours is written to stderr in between.) */
static int stderr_mute(void)
{
#ifdef TF_FUZZING
	return -1; /* the fuzzer's own reports go to stderr: keep them */
#endif
	int saved = dup(2), null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (saved >= 0 && null >= 0)
		dup2(null, 2);
	if (null >= 0)
		close(null);
	return saved;
}

static void stderr_restore(int saved)
{
	if (saved < 0)
		return;
	dup2(saved, 2);
	close(saved);
}

static sf_count_t source_filelen(void *user)
{
	(void)user;
	return SF_COUNT_MAX; /* unknown, as libsndfile takes a pipe's length to be */
}

static sf_count_t source_tell(void *user) { return ((struct source *)user)->pos; }

static sf_count_t source_read(void *ptr, sf_count_t count, void *user)
{
	struct source *s = user;
	unsigned char *out = ptr;
	sf_count_t done = 0;
	while (done < count) {
		if (s->pos < s->got) { /* rewound: replay the kept bytes */
			sf_count_t n = s->got - s->pos < count - done ? s->got - s->pos : count - done;
			memcpy(out + done, s->head + s->pos, (size_t)n);
			s->pos += n, done += n;
			continue;
		}
		ssize_t k = read(s->fd, out + done, (size_t)(count - done));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (s->got < SOURCE_HEAD)
			memcpy(s->head + s->got, out + done, (size_t)(SOURCE_HEAD - s->got < k ? SOURCE_HEAD - s->got : k));
		s->got += k, s->pos += k, done += k;
	}
	return done;
}

static sf_count_t source_seek(sf_count_t offset, int whence, void *user)
{
	struct source *s = user;
	unsigned char skip[4096];
	sf_count_t to = whence == SEEK_SET ? offset : whence == SEEK_CUR ? s->pos + offset : -1;
	/* back only into the kept bytes; forward by reading */
	if (to < 0 || (to < s->got && s->got > SOURCE_HEAD))
		return -1;
	if (to <= s->got)
		return s->pos = to;
	s->pos = s->got;
	while (s->pos < to) {
		sf_count_t n = to - s->pos < (sf_count_t)sizeof skip ? to - s->pos : (sf_count_t)sizeof skip;
		if (source_read(skip, n, s) != n)
			return -1;
	}
	return s->pos;
}

static sf_count_t source_write(const void *ptr, sf_count_t count, void *user)
{
	(void)ptr, (void)count, (void)user;
	return 0;
}

/* Whether the pipe fd holds FLAC or MP3, read through the rewinding source
 * above: FLAC's reader needs to go back; on a plain pipe libsndfile 1.2's
 * MP3 reader reads before its header buffer (AddressSanitizer shows 4 bytes
 * read 1 byte before a heap block), which through the source it does not.
 * The first bytes are looked at without taking them out of the pipe (tee(2)
 * copies pipe contents into another pipe). */
static int magic_wants_source(const unsigned char m[4])
{
	return !memcmp(m, "fLaC", 4) || !memcmp(m, "ID3", 3) || (m[0] == 0xff && (m[1] & 0xe0) == 0xe0);
}

/* Copies up to max bytes from the front of the pipe fd into buf without
 * taking them out (tee(2) copies pipe contents into another pipe). The first
 * write of any encoder is longer than need, but a writer may not have made
 * it yet: while one holds the pipe open, this waits for need bytes (up to
 * about a second); once every writer has closed it, what is there is all
 * there will be. Returns the bytes copied, fewer than need if no more came. */
static size_t pipe_peek(int fd, unsigned char *buf, size_t need, size_t max)
{
	struct stat st;
	int p[2];
	ssize_t n = 0;
	if (fstat(fd, &st) || !S_ISFIFO(st.st_mode) || pipe2(p, O_CLOEXEC))
		return 0;
	for (int tries = 0; tries < 100; tries++) {
		ssize_t k = tee(fd, p[1], max, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if ((n = read(p[0], buf, (size_t)k)) != k) {
			n = 0;
			break;
		}
		struct pollfd q = {.fd = fd, .events = POLLIN};
		if ((size_t)n >= need || (poll(&q, 1, 0) == 1 && (q.revents & POLLHUP)))
			break;
		usleep(10000);
	}
	close(p[0]), close(p[1]);
	return n > 0 ? (size_t)n : 0;
}

static int pipe_wants_source(int fd)
{
	unsigned char magic[4];
	return pipe_peek(fd, magic, sizeof magic, sizeof magic) == sizeof magic && magic_wants_source(magic);
}

/* Whether an MP3 file states its length: a Xing/Info (LAME) or VBRI tag in
 * its first frame, after any ID3v2 tag. The tag sits after the frame header
 * and side information: 13, 21 or 36 bytes into the frame. */
static int mp3_length_tagged(int fd)
{
	unsigned char b[64];
	off_t at = 0;
	if (pread(fd, b, 10, 0) == 10 && !memcmp(b, "ID3", 3))
		at = 10 + ((off_t)(b[6] & 0x7f) << 21 | (b[7] & 0x7f) << 14 | (b[8] & 0x7f) << 7 | (b[9] & 0x7f)) +
		     (b[5] & 0x10 ? 10 : 0);
	if (pread(fd, b, sizeof b, at) != (ssize_t)sizeof b || b[0] != 0xff || (b[1] & 0xe0) != 0xe0)
		return 0;
	static const int offset[] = {13, 21, 36};
	for (int i = 0; i < 3; i++)
		if (!memcmp(b + offset[i], "Xing", 4) || !memcmp(b + offset[i], "Info", 4) ||
		    !memcmp(b + offset[i], "VBRI", 4))
			return 1;
	return 0;
}

/* A WAV on a pipe whose data chunk says 0 bytes: some live writers put 0
 * there for "unknown length" (arecord and sox put a huge placeholder, which
 * libsndfile reads as unknown), and libsndfile would read no samples and
 * leave the rest of the pipe unread. Its header is looked at in the pipe
 * (tee(2) copies pipe contents into another pipe without taking them out);
 * for plain PCM or float such a header is taken out here and the samples
 * after it read as raw audio, until the end of input. Returns the header's
 * length and fills si, or 0 if this is no such WAV (or not all of its header
 * is in the pipe yet). */
#define WAV_PEEK 512
static size_t wav_zero_length(int fd, SF_INFO *si)
{
	unsigned char h[WAV_PEEK];
	size_t n = pipe_peek(fd, h, 12, sizeof h);
	if (n < 12 || memcmp(h, "RIFF", 4) || memcmp(h + 8, "WAVE", 4))
		return 0;
	int tag = -1, channels = 0, rate = 0, bits = 0;
	for (size_t pos = 12; pos + 8 <= (size_t)n;) {
		uint32_t size = h[pos + 4] | h[pos + 5] << 8 | h[pos + 6] << 16 | (uint32_t)h[pos + 7] << 24;
		if (!memcmp(h + pos, "fmt ", 4) && size >= 16 && pos + 24 <= (size_t)n) {
			const unsigned char *f = h + pos + 8;
			tag = f[0] | f[1] << 8, channels = f[2] | f[3] << 8;
			rate = (int)(f[4] | f[5] << 8 | f[6] << 16 | (uint32_t)f[7] << 24), bits = f[14] | f[15] << 8;
			if (tag == 0xFFFE && size >= 40 && pos + 34 <= (size_t)n)
				tag = f[24] | f[25] << 8; /* WAVE_FORMAT_EXTENSIBLE: the sub-format */
		}
		if (!memcmp(h + pos, "data", 4)) {
			int sub = tag == 1 ? (bits == 8 ? SF_FORMAT_PCM_U8 : bits == 16 ? SF_FORMAT_PCM_16
					      : bits == 24 ? SF_FORMAT_PCM_24 : bits == 32 ? SF_FORMAT_PCM_32 : 0)
				: tag == 3 ? (bits == 32 ? SF_FORMAT_FLOAT : bits == 64 ? SF_FORMAT_DOUBLE : 0) : 0;
			if (size || !sub || channels < 1 || rate < 1)
				return 0;
			*si = (SF_INFO){.samplerate = rate, .channels = channels,
					.format = SF_FORMAT_RAW | sub | SF_ENDIAN_LITTLE};
			/* take the header out: it is all in the pipe, so these reads return it */
			for (size_t done = 0; done < pos + 8;) {
				ssize_t k = read(fd, h, pos + 8 - done);
				if (k < 0 && errno == EINTR)
					continue;
				if (k <= 0)
					return 0;
				done += (size_t)k;
			}
			return pos + 8;
		}
		if (size > (uint32_t)n)
			return 0;
		pos += 8 + (size_t)size + (size & 1);
	}
	return 0;
}

static int is_seekable(int fd)
{
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (fcntl(fd, F_GETFL) & O_APPEND))
		return 0;
	return lseek(fd, 0, SEEK_CUR) >= 0;
}

static void describe_format(SNDFILE *sf, int format, char *buf, size_t len)
{
	SF_FORMAT_INFO major = {.format = format & SF_FORMAT_TYPEMASK};
	SF_FORMAT_INFO sub = {.format = format & SF_FORMAT_SUBMASK};
	if (sf_command(sf, SFC_GET_FORMAT_INFO, &major, sizeof major))
		major.name = "unknown format";
	if (sf_command(sf, SFC_GET_FORMAT_INFO, &sub, sizeof sub))
		sub.name = "unknown encoding";
	snprintf(buf, len, "%s, %s", major.name, sub.name);
}

/* A file whose header announces more audio than it holds has been cut short
 * (an interrupted copy or download). libsndfile reads what is there without
 * an error and says so only in its log, as "data : N (should be M)" (WAV)
 * or "SSND : N (should be M)" (AIFF). A placeholder length (streaming
 * writers put about 2 or 4 GiB there) is not a cut. */
static int cut_short(SNDFILE *sf)
{
	char log[16384];
	const char *p = log;
	long long said, real;
	sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log);
	while ((p = strstr(p, " : "))) {
		const char *tag = p;
		while (tag > log && tag[-1] != '\n' && tag[-1] != ' ')
			tag--;
		int chunk = !strncmp(tag, "data", 4) || !strncmp(tag, "SSND", 4);
		if (chunk && sscanf(p, " : %lld (should be %lld)", &said, &real) == 2 && said > real &&
		    said < 0x7ffff000LL)
			return 1;
		p += 3;
	}
	return 0;
}

struct audio_reader *audio_reader_open(const char *path, struct audio_info *info)
{
	struct audio_reader *r = calloc(1, sizeof *r);
	SF_INFO si = {0};
	int stdin_ = !path || !strcmp(path, "-");
	if (!r)
		return tf_seterr("out of memory"), NULL;
	snprintf(r->name, sizeof r->name, "%s", stdin_ ? "standard input" : path);
	r->fd = stdin_ ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		tf_seterr("cannot open %s: %s", path, strerror(errno));
		free(r);
		return NULL;
	}
	int seekable = is_seekable(r->fd), muted = stderr_mute();
	if (!seekable && pipe_wants_source(r->fd)) {
		SF_VIRTUAL_IO io = {source_filelen, source_seek, source_read, source_write, source_tell};
		if ((r->src = calloc(1, sizeof *r->src))) {
			r->src->fd = r->fd;
			r->sf = sf_open_virtual(&io, SFM_READ, &si, r->src);
		}
	} else {
		int zero = !seekable && wav_zero_length(r->fd, &si) > 0;
		r->sf = sf_open_fd(r->fd, SFM_READ, &si, 0);
		r->wav_zero = zero;
	}
	stderr_restore(muted);
	r->mpeg = r->sf && (si.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG;
	if (!r->sf) {
		/* libsndfile cannot rewind a pipe, which some formats need; and it
		 * reads no MP3 (before 1.1), AAC or the like */
		char hint[sizeof r->name + 160];
		if (seekable)
			snprintf(hint, sizeof hint, " (for other formats, convert to WAV on the way: ffmpeg -i %s -f wav - | %s -)",
				 r->name, progname ? progname : "tf-stft");
		else
			snprintf(hint, sizeof hint, " (if it is audio, it may be a format libsndfile cannot read from a pipe:"
				 " name the file instead, or pipe WAV, e.g. ffmpeg -i IN -f wav -)");
		tf_seterr("%s: not audio that libsndfile can read: %s%s", r->name, sf_strerror(NULL), hint);
		audio_reader_close(r);
		return NULL;
	}
	if (seekable && cut_short(r->sf)) {
		tf_seterr("%s: the file is cut short: its header announces more audio than it holds", r->name);
		audio_reader_close(r);
		return NULL;
	}
	if (si.channels < 1 || si.channels > AUDIO_MAX_CHANNELS || si.samplerate < 1 ||
	    si.samplerate > AUDIO_MAX_RATE) {
		tf_seterr("%s: %d channels at %d Hz is not supported (1 to %d channels, 1 to %d Hz)", r->name,
			  si.channels, si.samplerate, AUDIO_MAX_CHANNELS, AUDIO_MAX_RATE);
		audio_reader_close(r);
		return NULL;
	}
	r->channels = si.channels;
	info->sample_rate = si.samplerate;
	info->channels = si.channels;
	/* from a pipe the length is the header's word, often a placeholder */
	info->frames = seekable ? (int64_t)si.frames : -1;
	info->approx_frames = info->frames;
	if (r->mpeg && !(seekable && mp3_length_tagged(r->fd))) {
		/* an MP3's length is exact only when a tag gives it; without one
		 * (an encoder writing to a pipe) libsndfile estimates it from the
		 * file's size, and decoding gives a few samples more or less */
		info->approx_frames = seekable ? (int64_t)si.frames : -1;
		info->frames = -1;
	}
	/* placeholders are about 2 or 4 GiB of data (sox: 0x7ffff000 bytes, others
	 * 0xffffffff) or beyond; anything well below that is a real length */
	info->header_frames = !seekable && si.frames >= 0 &&
			      si.frames < ((int64_t)0x7ffff000 / 8) / si.channels ? (int64_t)si.frames : -1;
	describe_format(r->sf, si.format, info->format, sizeof info->format);
	if (r->wav_zero) {
		char raw[sizeof info->format];
		snprintf(raw, sizeof raw, "%s", info->format);
		const char *comma = strchr(raw, ',');
		snprintf(info->format, sizeof info->format, "WAV (data length 0: until the end)%s", comma ? comma : "");
		info->header_frames = -1;
	}
	return r;
}

int64_t audio_read(struct audio_reader *r, float *buf, size_t nframes)
{
	int muted = r->mpeg ? stderr_mute() : -1;
	sf_count_t n = sf_readf_float(r->sf, buf, (sf_count_t)nframes);
	stderr_restore(muted);
	if (n < 0 || (n == 0 && sf_error(r->sf)))
		return tf_seterr("%s: %s", r->name, sf_strerror(r->sf));
	return (int64_t)n;
}

void audio_reader_close(struct audio_reader *r)
{
	if (!r)
		return;
	if (r->sf)
		sf_close(r->sf);
	if (r->fd > 0)
		close(r->fd);
	free(r->src);
	free(r);
}

/* Surround layouts by channel count, in the WAVE (WAVEFORMATEXTENSIBLE)
 * default channel order that WAV, FLAC and ffmpeg use: L R front, C centre,
 * F low-frequency effects, l r surround (side or back), c back centre. */
static const char *const surround[] = {[3] = "LRC", [4] = "LRlr", [5] = "LRClr", [6] = "LRCFlr",
				       [7] = "LRCFclr", [8] = "LRCFlrlr"};
#define ITU_SIDE 0.70710678f /* -3 dB, ITU-R BS.775 */

/* The stereo downmix of an in_ch surround layout: gains to left and right,
 * each output's gains normalised to sum to 1. */
static void downmix_gains(int in_ch, float *gl, float *gr)
{
	float sl = 0, sr = 0;
	for (int c = 0; c < in_ch; c++) {
		char k = surround[in_ch][c];
		gl[c] = k == 'L' ? 1 : k == 'C' || k == 'l' ? ITU_SIDE : k == 'c' ? ITU_SIDE * ITU_SIDE : 0;
		gr[c] = k == 'R' ? 1 : k == 'C' || k == 'r' ? ITU_SIDE : k == 'c' ? ITU_SIDE * ITU_SIDE : 0;
		sl += gl[c], sr += gr[c];
	}
	for (int c = 0; c < in_ch; c++)
		gl[c] /= sl, gr[c] /= sr;
}

static int is_surround(int ch)
{
	return ch >= 3 && ch < (int)(sizeof surround / sizeof *surround);
}

int audio_remix_check(int out_ch, int in_ch)
{
	if (in_ch == out_ch || in_ch == 1 || (in_ch == 2 && out_ch == 1) || (is_surround(in_ch) && out_ch <= 2))
		return 0;
	return tf_seterr("cannot turn %d channels into %d (mono goes to any count, stereo to mono, "
			 "3 to 8 surround channels to stereo or mono)", in_ch, out_ch);
}

int audio_remix(float *out, int out_ch, const float *in, int in_ch, size_t nframes)
{
	if (audio_remix_check(out_ch, in_ch))
		return -1;
	if (in_ch == out_ch) {
		memcpy(out, in, nframes * in_ch * sizeof *in);
	} else if (in_ch == 1) {
		for (size_t i = 0; i < nframes; i++)
			for (int c = 0; c < out_ch; c++)
				out[i * out_ch + c] = in[i];
	} else if (in_ch == 2) {
		for (size_t i = 0; i < nframes; i++)
			out[i] = (in[2 * i] + in[2 * i + 1]) / 2.0f;
	} else {
		float gl[8], gr[8];
		downmix_gains(in_ch, gl, gr);
		for (size_t i = 0; i < nframes; i++) {
			float l = 0, r = 0;
			for (int c = 0; c < in_ch; c++)
				l += gl[c] * in[i * in_ch + c], r += gr[c] * in[i * in_ch + c];
			if (out_ch == 2)
				out[2 * i] = l, out[2 * i + 1] = r;
			else
				out[i] = (l + r) / 2.0f;
		}
	}
	return 0;
}

size_t audio_nonfinite(float *buf, size_t n, int zero, size_t *first)
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(buf[i])) {
			if (!bad++)
				*first = i;
			if (zero)
				buf[i] = 0;
		}
	return bad;
}

/* ---- resampling ---- */

#define RESAMPLE_BLOCK 8192 /* output frames per soxr call */

struct resampler {
	soxr_t soxr;
	int channels, in_rate, out_rate;
	int64_t in_frames, out_frames; /* consumed by soxr, handed to emit */
	float *out;                    /* [RESAMPLE_BLOCK][channels] */
	size_t held;                   /* frames in out not yet emitted */
};

int64_t resampled_length(int64_t frames, int in_rate, int out_rate)
{
	return (int64_t)(((__int128)frames * out_rate + in_rate / 2) / in_rate);
}

struct resampler *resampler_new(int in_rate, int out_rate, int channels)
{
	struct resampler *rs;
	soxr_error_t err = NULL;
	if (in_rate < 1 || out_rate < 1 || in_rate > AUDIO_MAX_RATE || out_rate > AUDIO_MAX_RATE)
		return tf_seterr("cannot resample %d Hz to %d Hz", in_rate, out_rate), NULL;
	if (!(rs = calloc(1, sizeof *rs)) || !(rs->out = malloc((size_t)RESAMPLE_BLOCK * channels * sizeof *rs->out))) {
		if (rs)
			free(rs);
		return tf_seterr("out of memory"), NULL;
	}
	rs->channels = channels, rs->in_rate = in_rate, rs->out_rate = out_rate;
	soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
	soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
	rs->soxr = soxr_create(in_rate, out_rate, (unsigned)channels, &err, &io, &q, NULL);
	if (err || !rs->soxr) {
		tf_seterr("resampler %d Hz to %d Hz: %s", in_rate, out_rate, err ? err : "cannot create");
		resampler_free(rs);
		return NULL;
	}
	return rs;
}

void resampler_free(struct resampler *rs)
{
	if (!rs)
		return;
	if (rs->soxr)
		soxr_delete(rs->soxr);
	free(rs->out);
	free(rs);
}

/* Emits held frames, never more than `upto` frames in all. */
static int resampler_emit(struct resampler *rs, int64_t upto, audio_emit_fn emit, void *ctx)
{
	int64_t n = upto - rs->out_frames;
	if (n > (int64_t)rs->held)
		n = (int64_t)rs->held;
	if (n <= 0)
		return 0;
	if (emit(ctx, rs->out, (size_t)n))
		return -1;
	rs->out_frames += n;
	rs->held -= (size_t)n;
	memmove(rs->out, rs->out + (size_t)n * rs->channels, rs->held * rs->channels * sizeof *rs->out);
	return 0;
}

/* One soxr call: input (NULL to drain) in, output appended to out. */
static int resampler_step(struct resampler *rs, const float *in, size_t n, size_t *used, size_t *made)
{
	soxr_error_t err = soxr_process(rs->soxr, in, n, used, rs->out + rs->held * rs->channels,
					RESAMPLE_BLOCK - rs->held, made);
	if (err)
		return tf_seterr("resampling: %s", err);
	if (in)
		rs->in_frames += (int64_t)*used;
	rs->held += *made;
	return 0;
}

int resampler_push(struct resampler *rs, const float *audio, size_t nframes, audio_emit_fn emit, void *ctx)
{
	while (nframes) {
		size_t used = 0, made = 0;
		if (resampler_step(rs, audio, nframes, &used, &made))
			return -1;
		audio += used * rs->channels;
		nframes -= used;
		/* the total ends at round(in * ratio); floor(in * ratio) is always safe */
		int64_t safe = (int64_t)(((__int128)rs->in_frames * rs->out_rate) / rs->in_rate);
		if (resampler_emit(rs, safe, emit, ctx))
			return -1;
		if (!used && !made && rs->held >= RESAMPLE_BLOCK)
			return tf_seterr("resampling: internal error: no progress");
	}
	return 0;
}

int resampler_finish(struct resampler *rs, audio_emit_fn emit, void *ctx)
{
	int64_t total = resampled_length(rs->in_frames, rs->in_rate, rs->out_rate);
	size_t made;
	do {
		size_t used = 0;
		made = 0;
		if (rs->held < RESAMPLE_BLOCK && resampler_step(rs, NULL, 0, &used, &made))
			return -1;
		if (resampler_emit(rs, total, emit, ctx))
			return -1;
		if (rs->out_frames >= total)
			rs->held = 0; /* anything beyond the exact length is dropped */
	} while (made || rs->held);
	/* short of the exact length (soxr rounds the same way, so rarely): silence */
	memset(rs->out, 0, (size_t)RESAMPLE_BLOCK * rs->channels * sizeof *rs->out);
	while (rs->out_frames < total) {
		rs->held = (size_t)(total - rs->out_frames < RESAMPLE_BLOCK ? total - rs->out_frames : RESAMPLE_BLOCK);
		if (resampler_emit(rs, total, emit, ctx))
			return -1;
	}
	return 0;
}

/* ---- writing ---- */

/* The output types by name (-t) and by file extension (-o). */
static const struct {
	int type;
	const char *names[3], *exts[3];
} audio_types[] = {
	{AUDIO_WAV, {"wav", "wave"}, {".wav", ".wave"}},
	{AUDIO_FLAC, {"flac"}, {".flac"}},
	{AUDIO_MP3, {"mp3"}, {".mp3"}},
	{AUDIO_VORBIS, {"ogg", "vorbis"}, {".ogg", ".oga"}},
	{AUDIO_OPUS, {"opus"}, {".opus"}},
};

/* The type one of whose names (exts: extensions) is s; -1 when none. */
static int audio_type_lookup(const char *s, int exts)
{
	for (size_t i = 0; i < sizeof audio_types / sizeof *audio_types; i++)
		for (int k = 0; k < 3; k++) {
			const char *n = exts ? audio_types[i].exts[k] : audio_types[i].names[k];
			if (n && !strcasecmp(s, n))
				return audio_types[i].type;
		}
	return -1;
}

int audio_type_from_name(const char *name)
{
	int type = audio_type_lookup(name, 0);
	return type >= 0 ? type : tf_seterr("unknown audio type '%s' (wav, flac, mp3, ogg or opus)", name);
}

int audio_encoding_from_name(const char *name)
{
	if (!strcmp(name, "16"))
		return AUDIO_PCM16;
	if (!strcmp(name, "24"))
		return AUDIO_PCM24;
	if (!strcmp(name, "32f") || !strcmp(name, "f32") || !strcmp(name, "float"))
		return AUDIO_FLOAT;
	return tf_seterr("unknown sample format '%s' (16, 24 or 32f)", name);
}

int audio_type_from_path(const char *path, int fallback)
{
	const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
	if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : path))
		return fallback;
	return audio_type_lookup(dot, 1);
}

int audio_type_is_lossy(int type)
{
	return type == AUDIO_MP3 || type == AUDIO_VORBIS || type == AUDIO_OPUS;
}

int audio_type_rate(int type, int rate)
{
	static const int mp3[] = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 0},
			 opus[] = {8000, 12000, 16000, 24000, 48000, 0};
	const int *ok = type == AUDIO_MP3 ? mp3 : type == AUDIO_OPUS ? opus : NULL;
	if (!ok)
		return rate;
	for (; *ok; ok++)
		if (*ok == rate)
			return rate;
	return 48000;
}

/* WAV holds at most 4 GiB: RIFF sizes are 32 bits. */
#define WAV_MAX_SIZE 0xffffffffu
/* The length sox writes into WAV headers on pipes; sox and libsndfile read it as "unknown". */
#define WAV_UNKNOWN_SIZE 0x7ffff000u

/* libsndfile reaches the output through this when writing FLAC: on a pipe,
 * writes that would go back over bytes already sent (libFLAC's STREAMINFO
 * fix-up at the end) are dropped instead of being appended. */
struct sink {
	int fd, seekable;
	off_t base;               /* where the file starts in fd */
	sf_count_t pos, end;
	int err;                  /* errno of the first failed write */
};

struct audio_writer {
	struct audio_format fmt;
	struct sink out;
	int64_t frames, declared, clipped;
	int frame_bytes, header_bytes, failed;
	unsigned char *bytes;     /* WAV: converted samples */
	int *ints;                /* FLAC: samples for sf_writef_int */
	size_t block;             /* frames per conversion block */
	SNDFILE *sf;
	struct resampler *rs;     /* lossy: to a rate the format holds */
};

static int write_all(int fd, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k, n -= (size_t)k;
	}
	return 0;
}

static int pwrite_all(int fd, const void *buf, size_t n, off_t at)
{
	const unsigned char *p = buf;
	while (n) {
		ssize_t k = pwrite(fd, p, n, at);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k, n -= (size_t)k, at += k;
	}
	return 0;
}

static sf_count_t sink_filelen(void *user) { return ((struct sink *)user)->end; }
static sf_count_t sink_tell(void *user) { return ((struct sink *)user)->pos; }

static sf_count_t sink_seek(sf_count_t offset, int whence, void *user)
{
	struct sink *s = user;
	sf_count_t to = whence == SEEK_SET ? offset : whence == SEEK_CUR ? s->pos + offset : s->end + offset;
	if (to < 0)
		return -1;
	return s->pos = to;
}

static sf_count_t sink_read(void *ptr, sf_count_t count, void *user)
{
	struct sink *s = user;
	ssize_t k;
	if (!s->seekable || count <= 0)
		return 0;
	do
		k = pread(s->fd, ptr, (size_t)count, s->base + s->pos);
	while (k < 0 && errno == EINTR);
	if (k <= 0)
		return 0;
	s->pos += k;
	return k;
}

static sf_count_t sink_write(const void *ptr, sf_count_t count, void *user)
{
	struct sink *s = user;
	const unsigned char *p = ptr;
	sf_count_t n = count;
	if (s->err || count <= 0)
		return s->err ? 0 : count;
	if (s->seekable) {
		if (pwrite_all(s->fd, p, (size_t)n, s->base + s->pos))
			return s->err = errno ? errno : EIO, 0;
	} else {
		if (s->pos < s->end) { /* already sent: can only be dropped */
			sf_count_t skip = s->end - s->pos < n ? s->end - s->pos : n;
			p += skip, n -= skip, s->pos += skip;
		}
		if (s->pos > s->end) /* a gap: fill it, as a file would read */
			for (; s->end < s->pos; s->end++)
				if (write_all(s->fd, "", 1))
					return s->err = errno ? errno : EIO, 0;
		if (n && write_all(s->fd, p, (size_t)n))
			return s->err = errno ? errno : EIO, 0;
	}
	s->pos += n;
	if (s->pos > s->end)
		s->end = s->pos;
	return count;
}

static void put16(unsigned char *p, unsigned v) { p[0] = v & 0xff, p[1] = v >> 8 & 0xff; }
static void put32(unsigned char *p, uint32_t v) { put16(p, v & 0xffff), put16(p + 2, v >> 16); }

/* The WAV header for `data` bytes of sample data: PCM with the plain
 * 16-byte fmt chunk, float with the 18-byte one and a fact chunk (what
 * non-PCM WAV requires). Returns its length (44 or 58). */
static int wav_header(unsigned char *h, const struct audio_writer *w, uint32_t data)
{
	int is_float = w->fmt.encoding == AUDIO_FLOAT, bits = w->frame_bytes / w->fmt.channels * 8;
	int fmt_len = is_float ? 18 : 16, len = 12 + 8 + fmt_len + (is_float ? 12 : 0) + 8;
	unsigned char *p = h;
	uint32_t riff = data == WAV_UNKNOWN_SIZE ? data + (uint32_t)len - 8 : data + (data & 1) + (uint32_t)len - 8;
	memcpy(p, "RIFF", 4), put32(p + 4, riff), memcpy(p + 8, "WAVE", 4), p += 12;
	memcpy(p, "fmt ", 4), put32(p + 4, (uint32_t)fmt_len), p += 8;
	put16(p, is_float ? 3 : 1);
	put16(p + 2, (unsigned)w->fmt.channels);
	put32(p + 4, (uint32_t)w->fmt.sample_rate);
	put32(p + 8, (uint32_t)w->fmt.sample_rate * (uint32_t)w->frame_bytes);
	put16(p + 12, (unsigned)w->frame_bytes);
	put16(p + 14, (unsigned)bits);
	if (is_float)
		put16(p + 16, 0);
	p += fmt_len;
	if (is_float) {
		memcpy(p, "fact", 4), put32(p + 4, 4), put32(p + 8, data / (uint32_t)w->frame_bytes);
		p += 12;
	}
	memcpy(p, "data", 4), put32(p + 4, data);
	return len;
}

static int fits_wav(const struct audio_writer *w, int64_t frames)
{
	return frames * w->frame_bytes + w->header_bytes + 1 <= (int64_t)WAV_MAX_SIZE;
}

/* MP3, Vorbis, Opus through libsndfile, which encodes floats. */
static struct audio_writer *lossy_open(int fd, const struct audio_format *fmt)
{
	struct audio_writer *w = calloc(1, sizeof *w);
	SF_VIRTUAL_IO io = {sink_filelen, sink_seek, sink_read, sink_write, sink_tell};
	int rate = audio_type_rate(fmt->type, fmt->sample_rate);
	SF_INFO si = {.samplerate = rate, .channels = fmt->channels};
	const char *name = fmt->type == AUDIO_MP3 ? "MP3" : fmt->type == AUDIO_VORBIS ? "Ogg Vorbis" : "Ogg Opus";
	/* libsndfile's compression level: 0 the best quality, 1 the smallest.
	 * For Opus it runs linearly from 512 kbit/s down to a few: the upper
	 * half, past 270 kbit/s stereo, buys nothing, so Q spans the lower */
	double quality = fmt->quality_set ? fmt->quality : AUDIO_QUALITY_DEFAULT;
	double level = 1 - quality / 10 * (fmt->type == AUDIO_OPUS ? 0.5 : 1);
	if (!w)
		return tf_seterr("out of memory"), NULL;
	if (!(quality >= 0 && quality <= 10)) {
		free(w);
		return tf_seterr("quality %g: from 0 to 10", quality), NULL;
	}
	si.format = fmt->type == AUDIO_MP3      ? SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III
		    : fmt->type == AUDIO_VORBIS ? SF_FORMAT_OGG | SF_FORMAT_VORBIS
						: SF_FORMAT_OGG | SF_FORMAT_OPUS;
	w->fmt = *fmt;
	w->declared = -1;
	w->out.fd = fd;
	w->out.seekable = is_seekable(fd);
	w->out.base = w->out.seekable ? lseek(fd, 0, SEEK_CUR) : 0;
	if (rate != fmt->sample_rate && !(w->rs = resampler_new(fmt->sample_rate, rate, fmt->channels))) {
		free(w);
		return NULL;
	}
	if (!(w->sf = sf_open_virtual(&io, SFM_WRITE, &si, &w->out))) {
		tf_seterr("cannot write %s: %s", name, w->out.err ? strerror(w->out.err) : sf_strerror(NULL));
		resampler_free(w->rs);
		free(w);
		return NULL;
	}
	/* MP3's length (the Xing/LAME frame) is written at the start at the
	 * end, which a pipe cannot take: there constant bit rate, from which
	 * readers can tell the length by the size */
	if (fmt->type == AUDIO_MP3 && !w->out.seekable) {
		int mode = SF_BITRATE_MODE_CONSTANT;
		sf_command(w->sf, SFC_SET_BITRATE_MODE, &mode, sizeof mode);
	}
	sf_command(w->sf, SFC_SET_COMPRESSION_LEVEL, &level, sizeof level);
	if (sf_error(w->sf)) {
		tf_seterr("%s quality %g: %s", name, quality, sf_strerror(w->sf));
		sf_close(w->sf);
		resampler_free(w->rs);
		free(w);
		return NULL;
	}
	return w;
}

/* Hands floats to libsndfile (after the resampler, if any). */
static int lossy_emit(void *ctx, const float *audio, size_t nframes)
{
	struct audio_writer *w = ctx;
	if (sf_writef_float(w->sf, audio, (sf_count_t)nframes) != (sf_count_t)nframes || w->out.err) {
		w->failed = 1;
		return tf_seterr("%s", w->out.err ? strerror(w->out.err) : sf_strerror(w->sf));
	}
	return 0;
}

struct audio_writer *audio_writer_open(int fd, const struct audio_format *fmt, int64_t frames)
{
	struct audio_writer *w;
	int bits = fmt->encoding == AUDIO_PCM16 ? 16 : fmt->encoding == AUDIO_PCM24 ? 24 : 32;
	if (fmt->channels < 1 || fmt->channels > AUDIO_MAX_CHANNELS || fmt->sample_rate < 1 ||
	    fmt->sample_rate > AUDIO_MAX_RATE)
		return tf_seterr("cannot write %d channels at %d Hz", fmt->channels, fmt->sample_rate), NULL;
	if (fmt->type == AUDIO_FLAC && fmt->encoding == AUDIO_FLOAT)
		return tf_seterr("FLAC holds 16- or 24-bit integers, not float"), NULL;
	if (fmt->type == AUDIO_MP3 && fmt->channels > 2)
		return tf_seterr("MP3 holds one or two channels, not %d", fmt->channels), NULL;
	if (audio_type_is_lossy(fmt->type))
		return lossy_open(fd, fmt);
	if (!(w = calloc(1, sizeof *w)))
		return tf_seterr("out of memory"), NULL;
	w->fmt = *fmt;
	w->declared = frames;
	w->frame_bytes = bits / 8 * fmt->channels;
	w->block = 4096;
	w->out.fd = fd;
	w->out.seekable = is_seekable(fd);
	w->out.base = w->out.seekable ? lseek(fd, 0, SEEK_CUR) : 0;
	if (fmt->type == AUDIO_WAV) {
		unsigned char h[64];
		if (!(w->bytes = malloc(w->block * w->frame_bytes)))
			goto nomem;
		w->header_bytes = wav_header(h, w, 0);
		/* to a pipe the header is final now: the length, or "unknown" */
		uint32_t data = 0;
		if (!w->out.seekable)
			data = frames >= 0 && fits_wav(w, frames) ? (uint32_t)(frames * w->frame_bytes) : WAV_UNKNOWN_SIZE;
		wav_header(h, w, data);
		if (write_all(fd, h, (size_t)w->header_bytes)) {
			tf_seterr("writing the WAV header: %s", strerror(errno));
			free(w->bytes), free(w);
			return NULL;
		}
		w->out.pos = w->out.end = w->header_bytes;
	} else {
		SF_VIRTUAL_IO io = {sink_filelen, sink_seek, sink_read, sink_write, sink_tell};
		SF_INFO si = {.samplerate = fmt->sample_rate, .channels = fmt->channels,
			      .format = SF_FORMAT_FLAC | (bits == 16 ? SF_FORMAT_PCM_16 : SF_FORMAT_PCM_24)};
		if (!(w->ints = malloc(w->block * fmt->channels * sizeof *w->ints)))
			goto nomem;
		if (!(w->sf = sf_open_virtual(&io, SFM_WRITE, &si, &w->out))) {
			tf_seterr("cannot write FLAC: %s", w->out.err ? strerror(w->out.err) : sf_strerror(NULL));
			free(w->ints), free(w);
			return NULL;
		}
	}
	return w;
nomem:
	free(w);
	return tf_seterr("out of memory"), NULL;
}

/* x * 2^(bits-1), rounded, clipped to the integer range; counts clips. */
static int32_t quantize(float x, float scale, int32_t max, int64_t *clipped)
{
	float v = x * scale;
	if (!(v == v))
		return 0;
	if (v >= (float)max + 0.5f) {
		++*clipped;
		return max;
	}
	if (v < -(float)max - 1.5f) {
		++*clipped;
		return -max - 1;
	}
	long q = lrintf(v);
	return q > max ? max : q < -max - 1 ? -max - 1 : (int32_t)q;
}

int audio_write(struct audio_writer *w, const float *audio, size_t nframes)
{
	int ch = w->fmt.channels;
	if (w->failed)
		return tf_seterr("audio writer: write after an error");
	if (w->declared >= 0 && w->frames + (int64_t)nframes > w->declared && !w->out.seekable) {
		w->failed = 1;
		return tf_seterr("more than the %lld frames announced", (long long)w->declared);
	}
	if (audio_type_is_lossy(w->fmt.type)) {
		if (w->rs ? resampler_push(w->rs, audio, nframes, lossy_emit, w) : lossy_emit(w, audio, nframes)) {
			w->failed = 1;
			return -1;
		}
		w->frames += (int64_t)nframes;
		return 0;
	}
	if (w->fmt.type == AUDIO_WAV && w->out.seekable && !fits_wav(w, w->frames + (int64_t)nframes)) {
		w->failed = 1;
		return tf_seterr("WAV cannot hold more than 4 GiB of samples; write FLAC instead");
	}
	while (nframes) {
		size_t n = nframes < w->block ? nframes : w->block, ns = n * ch;
		if (w->fmt.type == AUDIO_WAV) {
			unsigned char *p = w->bytes;
			if (w->fmt.encoding == AUDIO_FLOAT)
				for (size_t i = 0; i < ns; i++, p += 4) {
					uint32_t u;
					memcpy(&u, &audio[i], sizeof audio[i]);
					put32(p, u);
				}
			else if (w->fmt.encoding == AUDIO_PCM16)
				for (size_t i = 0; i < ns; i++, p += 2)
					put16(p, (uint16_t)quantize(audio[i], 32768.0f, 32767, &w->clipped));
			else
				for (size_t i = 0; i < ns; i++, p += 3) {
					uint32_t u = (uint32_t)quantize(audio[i], 8388608.0f, 8388607, &w->clipped);
					p[0] = u & 0xff, p[1] = u >> 8 & 0xff, p[2] = u >> 16 & 0xff;
				}
			if (sink_write(w->bytes, (sf_count_t)(n * w->frame_bytes), &w->out) != (sf_count_t)(n * w->frame_bytes)) {
				w->failed = 1;
				return tf_seterr("%s", strerror(w->out.err));
			}
		} else {
			/* libsndfile keeps the top bits of an int for a 16- or 24-bit file */
			int shift = w->fmt.encoding == AUDIO_PCM16 ? 16 : 8;
			float scale = w->fmt.encoding == AUDIO_PCM16 ? 32768.0f : 8388608.0f;
			int32_t max = w->fmt.encoding == AUDIO_PCM16 ? 32767 : 8388607;
			for (size_t i = 0; i < ns; i++)
				w->ints[i] = (int)((uint32_t)quantize(audio[i], scale, max, &w->clipped) << shift);
			if (sf_writef_int(w->sf, w->ints, (sf_count_t)n) != (sf_count_t)n || w->out.err) {
				w->failed = 1;
				return tf_seterr("%s", w->out.err ? strerror(w->out.err) : sf_strerror(w->sf));
			}
		}
		audio += ns;
		nframes -= n;
		w->frames += (int64_t)n;
	}
	return 0;
}

int audio_writer_close(struct audio_writer *w)
{
	int rc = w->failed ? tf_seterr("audio writer: closing after an error") : 0;
	if (w->fmt.type == AUDIO_WAV && !rc) {
		uint32_t data = (uint32_t)(w->frames * w->frame_bytes);
		int known = w->out.seekable || w->declared >= 0;
		if (w->declared >= 0 && !w->out.seekable && w->frames != w->declared)
			rc = tf_seterr("wrote %lld frames, but the WAV header sent ahead says %lld",
				       (long long)w->frames, (long long)w->declared);
		/* RIFF chunks are padded to even sizes */
		else if (known && (data & 1) && sink_write("", 1, &w->out) != 1)
			rc = tf_seterr("%s", strerror(w->out.err));
		else if (w->out.seekable) {
			unsigned char h[64];
			wav_header(h, w, data);
			if (pwrite_all(w->out.fd, h, (size_t)w->header_bytes, w->out.base))
				rc = tf_seterr("writing the WAV header: %s", strerror(errno));
		}
	}
	if (w->rs && !rc && resampler_finish(w->rs, lossy_emit, w))
		rc = -1;
	if (w->sf) {
		int err = sf_close(w->sf);
		if (!rc && (err || w->out.err))
			rc = tf_seterr("writing %s: %s", w->fmt.type == AUDIO_FLAC ? "FLAC" : "audio",
				       w->out.err ? strerror(w->out.err) : sf_error_number(err));
	}
	resampler_free(w->rs);
	free(w->bytes);
	free(w->ints);
	free(w);
	return rc;
}

int64_t audio_writer_clipped(const struct audio_writer *w) { return w->clipped; }
int64_t audio_writer_frames(const struct audio_writer *w) { return w->frames; }
