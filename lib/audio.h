/* Audio in and out, as interleaved float frames (frame i, channel c at
 * buf[i*channels + c]; PCM full scale is [-1, 1)).
 *
 * Reading: anything libsndfile reads, from a file or from standard input,
 * which may be a pipe. From a pipe libsndfile itself reads WAV, AIFF, AU, Ogg
 * and the like (headers whose lengths may be placeholders: the data then runs
 * to the end of the input); FLAC, which it would rewind after sniffing the
 * format, is read here through a source that keeps the first bytes. Formats
 * that need real seeking fail with a hint to pipe WAV instead.
 *
 * Resampling: libsoxr, high quality, streaming with constant memory. A signal
 * of n frames at rate a becomes exactly resampled_length(n, a, b) =
 * round(n * b / a) frames at rate b (halves round up), as sox does.
 *
 * Writing: WAV (16- or 24-bit PCM, 32-bit float) and FLAC (16 or 24 bits),
 * to a file or to a pipe, streaming. WAV is written here, not by libsndfile,
 * because libsndfile refuses to write WAV to a pipe: to a seekable file the
 * header is completed at the end; to a pipe it carries the length when it is
 * known in advance, and otherwise the placeholder length 0x7ffff000 that sox
 * itself writes on pipes and that sox and libsndfile read as "until the end
 * of the data". FLAC goes through libsndfile; on a pipe its STREAMINFO keeps
 * "total samples unknown" (libsndfile would otherwise append the fix-up it
 * cannot seek back for as garbage after the last frame).
 * PCM samples are x * 2^(bits-1) rounded to nearest and clipped to the
 * integer range; audio_writer_clipped() counts the clipped ones. Float WAV
 * is written unchanged.
 * MP3 (libmp3lame), Ogg Vorbis and Ogg Opus go through libsndfile too, as
 * floats, with a quality from 0 (smallest) to 10 (best). MP3 holds one or
 * two channels at 8 to 48 kHz and Opus only 8, 12, 16, 24 or 48 kHz: other
 * rates are resampled to 48 kHz on the way (the file then has
 * resampled_length() frames). */
#ifndef TF_AUDIO_H
#define TF_AUDIO_H
#include <stddef.h>
#include <stdint.h>

#define AUDIO_MAX_CHANNELS 64
#define AUDIO_MAX_RATE 1000000

/* Receives nframes interleaved frames (memory reused after the call);
 * 0, or -1 with tf_seterr to stop. Same shape as istft_emit_fn. */
typedef int (*audio_emit_fn)(void *ctx, const float *audio, size_t nframes);

struct audio_info {
	int sample_rate, channels;
	int64_t frames;       /* frames per channel, or -1 when not known in advance */
	int64_t approx_frames; /* for a progress bar: frames, or libsndfile's estimate
	                        * (MP3 without a length tag: from the file's size), or -1 */
	int64_t header_frames; /* from a pipe: the length its header claims, when
	                        * that is no placeholder (to warn when less came); else -1 */
	char format[80];      /* "WAV (Microsoft), Signed 16 bit PCM" */
};

struct audio_reader;
/* Opens path, or standard input when path is NULL or "-". The length is
 * reported only when it can be trusted (a seekable input): lengths in
 * headers read from pipes are often placeholders. NULL with a message
 * (libsndfile's reason, the name) when the input cannot be read as audio. */
struct audio_reader *audio_reader_open(const char *path, struct audio_info *info);
/* Reads up to nframes frames into buf. Returns the frames read, 0 at the
 * end, -1 with a message on a read error (a damaged or cut-short file). */
int64_t audio_read(struct audio_reader *r, float *buf, size_t nframes);
void audio_reader_close(struct audio_reader *r);

/* Channel conversion: in_ch -> out_ch for equal counts (copy), mono to
 * out_ch (the channel duplicated), stereo to mono (the average), and 3 to 8
 * surround channels to stereo by ITU-R BS.775 (to mono: the average of that
 * stereo). The surround layouts, in the WAVE default channel order:
 *   3 L R C   4 L R Ls Rs   5 L R C Ls Rs   6 (5.1) L R C LFE Ls Rs
 *   7 (6.1) L R C LFE Cs Ls Rs   8 (7.1) L R C LFE Lb Rb Ls Rs
 * L' = L + 0.7071 C + 0.7071 Ls (+ 0.7071 Lb) + 0.5 Cs, R' likewise, LFE
 * left out, each divided by the sum of its gains (2.4142 for 5.1) so that
 * nothing goes beyond full scale. -1 with a message for anything else;
 * audio_remix_check says beforehand. out must not overlap in. */
int audio_remix(float *out, int out_ch, const float *in, int in_ch, size_t nframes);
int audio_remix_check(int out_ch, int in_ch);

/* Counts the samples of buf[n] that are NaN or infinite, sets *first to
 * the index of the first (when there is one), and with zero set replaces
 * them with 0. */
size_t audio_nonfinite(float *buf, size_t n, int zero, size_t *first);

int64_t resampled_length(int64_t frames, int in_rate, int out_rate);
struct resampler;
struct resampler *resampler_new(int in_rate, int out_rate, int channels);
void resampler_free(struct resampler *rs);
/* Feeds nframes frames; emits what the resampler has ready. */
int resampler_push(struct resampler *rs, const float *audio, size_t nframes, audio_emit_fn emit, void *ctx);
/* Drains the filter and pads or trims to exactly resampled_length() frames. */
int resampler_finish(struct resampler *rs, audio_emit_fn emit, void *ctx);

enum audio_type { AUDIO_WAV, AUDIO_FLAC, AUDIO_MP3, AUDIO_VORBIS, AUDIO_OPUS };
enum audio_encoding { AUDIO_PCM16, AUDIO_PCM24, AUDIO_FLOAT };
/* Stereo, measured on a test signal: MP3 about 180 kbit/s, Vorbis 220, Opus 190 */
#define AUDIO_QUALITY_DEFAULT 7.0

struct audio_format {
	enum audio_type type;
	enum audio_encoding encoding; /* WAV and FLAC */
	int sample_rate, channels;
	int quality_set;              /* MP3, Vorbis, Opus: quality 0 to 10 if set, */
	double quality;               /* else AUDIO_QUALITY_DEFAULT */
};
/* "wav", "flac", "mp3", "ogg" (also "vorbis"), "opus" -> type; "16", "24",
 * "32f" (also "f32", "float") -> encoding; -1 with a message when unknown. */
int audio_type_from_name(const char *name);
int audio_encoding_from_name(const char *name);
/* The type a file name's extension says (.wav, .wave, .flac, .mp3, .ogg,
 * .oga, .opus; any case), or -1 when the extension is some other one;
 * `fallback` when there is none. */
int audio_type_from_path(const char *path, int fallback);
/* Lossy: MP3, Vorbis, Opus (no -b; a quality instead). */
int audio_type_is_lossy(int type);
/* The rate a file of this type holds for audio at `rate`: rate itself, or
 * 48000 for one that MP3 or Opus cannot hold. */
int audio_type_rate(int type, int rate);

struct audio_writer;
/* Writes to fd, which stays open and must be at its start. frames: the
 * length when known in advance (it goes into a WAV header written to a pipe,
 * and then exactly that many frames must be written), or -1. NULL with a
 * message for a format that cannot be written (FLAC float, too many channels). */
struct audio_writer *audio_writer_open(int fd, const struct audio_format *fmt, int64_t frames);
int audio_write(struct audio_writer *w, const float *audio, size_t nframes);
/* Finishes the file (WAV header sizes, FLAC's last frame) and frees w, also
 * on error. -1 with a message if anything could not be written. */
int audio_writer_close(struct audio_writer *w);
int64_t audio_writer_clipped(const struct audio_writer *w); /* samples clipped so far */
int64_t audio_writer_frames(const struct audio_writer *w);  /* frames written so far */

#endif
