/* The corpus composer without the synthesizer: the PRNG against the
 * published xoshiro256** sequence, the theory, determinism, the invariants
 * every composed song keeps (event times, ranges, which programs go in
 * which stem), the variety over many seeds, and the mix (levels, peak,
 * mixture = sum of stems). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "corpus/corpus.h"
#include "corpus/plan.h"
#include "corpus/theory.h"
#include "corpus/voice.h"
#include "test.h"

static int is_voice(int program)
{
	return program == 52 || program == 53 || program == 54 || program == 85 || program == 91;
}

static void test_rng(void)
{
	/* xoshiro256** from the state {1, 2, 3, 4}: values of an independent
	 * implementation of Blackman and Vigna's definition */
	static const uint64_t want[] = {11520ull, 0ull, 1509978240ull, 1215971899390074240ull,
					1216172134540287360ull, 607988272756665600ull};
	struct rng r = {{1, 2, 3, 4}};
	int same = 1;
	for (int i = 0; i < 6; i++)
		same &= rng_next(&r) == want[i];
	ok(same, "xoshiro256** matches the reference sequence");

	int lo_seen = 0, hi_seen = 0, in_range = 1, never_zero_weight = 1;
	double w[] = {1, 0, 2};
	rng_seed(&r, 42);
	for (int i = 0; i < 10000; i++) {
		int x = rng_int(&r, -3, 4);
		in_range &= x >= -3 && x <= 4;
		lo_seen |= x == -3, hi_seen |= x == 4;
		never_zero_weight &= rng_weighted(&r, w, 3) != 1;
	}
	ok(in_range && lo_seen && hi_seen, "rng_int covers [lo, hi] and stays in it");
	ok(never_zero_weight, "rng_weighted never draws a zero weight");
	ok(corpus_track_seed(1, 0, 0) != corpus_track_seed(1, 1, 0) &&
		   corpus_track_seed(1, 0, 0) != corpus_track_seed(1, 0, 1) &&
		   corpus_track_seed(1, 0, 0) != corpus_track_seed(2, 0, 0),
	   "track seeds differ by split, index and corpus seed");
}

static void test_theory(void)
{
	struct plan p = {.key = 0, .scale = scale_major};
	int t[4];
	chord_tones(&p, 4, 4, t);
	ok(t[0] == 7 && t[1] == 11 && t[2] == 14 && t[3] == 17, "C major, V7: G B D F (got %d %d %d %d)", t[0], t[1],
	   t[2], t[3]);
	chord_tones(&p, 1, 3, t);
	ok(t[0] == 2 && t[1] == 5 && t[2] == 9, "C major, ii: D F A");
	p.key = 9, p.scale = scale_minor, p.raised_v = 1;
	chord_tones(&p, 4, 3, t);
	ok(t[0] == 7 && t[1] == 11 && t[2] == 14, "A minor with a raised dominant: E G# B");
	ok(scale_semis(&p, -1) == -2 && scale_semis(&p, 7) == 12 && scale_semis(&p, 9) == 15,
	   "scale steps below and above the octave");
	ok(p.key + scale_semis(&p, scale_step_near(&p, 61)) == 60 || p.key + scale_semis(&p, scale_step_near(&p, 61)) == 62,
	   "C#4 is nearest to a step of A minor next to it");
	ok(into_octave(3, 28) == 39 && into_octave(100, 28) == 28 + (100 - 28) % 12, "into_octave");
}

static int same_song(const struct corpus_song *a, const struct corpus_song *b)
{
	for (int s = 0; s < CORPUS_STEMS; s++)
		if (a->part[s].n != b->part[s].n || a->part[s].nvoices != b->part[s].nvoices ||
		    memcmp(a->part[s].ev, b->part[s].ev, a->part[s].n * sizeof *a->part[s].ev) ||
		    memcmp(a->part[s].voice, b->part[s].voice, sizeof a->part[s].voice))
			return 0;
	return a->bpm == b->bpm && a->key == b->key;
}

static void test_songs(void)
{
	struct corpus_song a, b;
	int64_t frames = 10 * CORPUS_RATE;
	ok(!corpus_compose(&a, 99, frames, corpus_singers_default()) && !corpus_compose(&b, 99, frames, corpus_singers_default()) && same_song(&a, &b),
	   "the same seed composes the same song");
	corpus_song_free(&b);
	ok(!corpus_compose(&b, 100, frames, corpus_singers_default()) && !same_song(&a, &b), "another seed another song");
	corpus_song_free(&a), corpus_song_free(&b);

	int bad_time = 0, bad_note = 0, bad_drums = 0, bad_voice = 0, bad_tempo = 0, unmatched = 0;
	int styles_seen = 0, keys_seen = 0, minor = 0, major = 0, waltz = 0, with_notes[CORPUS_STEMS] = {0};
	int rests = 0, programs[CORPUS_STEMS][256] = {{0}}, sung[4] = {0}; /* bends, vibrato, slides, swells */
	int sung_leads = 0;
	unsigned singers_seen = 0;
	const char *styles[16] = {0};
	const int nsongs = 300;
	for (int k = 0; k < nsongs; k++) {
		struct corpus_song s;
		if (corpus_compose(&s, corpus_track_seed(5, 0, k), frames, corpus_singers_default())) {
			ok(0, "compose seed %d", k);
			return;
		}
		bad_tempo += s.bpm < 70 || s.bpm > 160 || (s.beats != 3 && s.beats != 4);
		keys_seen |= 1 << s.key;
		minor += !strcmp(s.mode, "minor"), major += !strcmp(s.mode, "major");
		waltz += s.beats == 3;
		rests += s.vocal_bars < s.bars;
		int n = 0;
		while (n < 16 && styles[n] && strcmp(styles[n], s.style))
			n++;
		if (n < 16 && !styles[n])
			styles[n] = s.style, styles_seen++;
		for (int st = 0; st < CORPUS_STEMS; st++) {
			const struct corpus_part *p = &s.part[st];
			int open[16][128] = {{0}}, notes = 0;
			for (int v = 0; v < p->nvoices; v++) {
				if (p->voice[v].bank == CORPUS_BANK_SUNG) {
					/* the formant singer: vocals only, allowed singers only */
					int k = p->voice[v].program;
					bad_voice += st != STEM_VOCALS || k < 0 || k >= corpus_nsingers ||
						     corpus_singers[k].held_out;
					singers_seen |= 1u << (k & 31);
					sung_leads++;
					continue;
				}
				programs[st][p->voice[v].bank + p->voice[v].program]++;
				if (st == STEM_DRUMS)
					bad_drums += p->voice[v].bank != 128 || p->voice[v].chan != 9;
				else
					bad_drums += p->voice[v].bank != 0 || p->voice[v].chan == 9;
				if (st == STEM_VOCALS)
					bad_voice += !is_voice(p->voice[v].program);
				else
					bad_voice += p->voice[v].bank == 0 && is_voice(p->voice[v].program);
			}
			for (size_t i = 0; i < p->n; i++) {
				const struct corpus_event *e = &p->ev[i];
				bad_time += e->time < 0 || e->time >= frames || e->time % CORPUS_BLOCK;
				bad_note += e->chan > 15 || e->a > 127 || (e->type == EV_NOTE_ON && (e->b < 1 || e->b > 127));
				if (e->type == EV_NOTE_ON)
					open[e->chan][e->a]++, notes++;
				if (e->type == EV_NOTE_OFF)
					open[e->chan][e->a]--;
				if (st == STEM_DRUMS)
					bad_drums += e->chan != 9;
				if (st == STEM_VOCALS && i + 1 < p->n) {
					sung[0] += e->type == EV_BEND && e->bend < -1000;
					sung[1] += e->type == EV_CONTROL && e->a == 1 && e->b > 40;
					sung[2] += e->type == EV_CONTROL && e->a == 65 && e->b == 127;
					sung[3] += e->type == EV_CONTROL && e->a == 11 && e->b > 110;
				}
			}
			/* every note-off follows its note-on; notes still on run to the end */
			for (int c = 0; c < 16; c++)
				for (int key = 0; key < 128; key++)
					unmatched += open[c][key] < 0;
			with_notes[st] += notes > 0;
		}
		corpus_song_free(&s);
	}
	ok(!bad_time, "event times on the 64-frame grid, inside the track (%d outside)", bad_time);
	ok(!bad_note, "channels, keys and velocities in MIDI's ranges (%d bad)", bad_note);
	ok(!unmatched, "no note-off without its note-on (%d)", unmatched);
	ok(!bad_drums, "drums on channel 9 from the drum bank, nothing else there (%d)", bad_drums);
	ok(!bad_voice, "voice programs in the vocals stem only, and only voices there (%d)", bad_voice);
	ok(!bad_tempo, "tempi in 70..160, metre 3/4 or 4/4 (%d outside)", bad_tempo);
	ok(styles_seen == 10 && keys_seen == 0xfff && minor > nsongs / 5 && major > nsongs / 5 && waltz > 0,
	   "variety over %d songs: %d grooves, keys %03x, %d major, %d minor, %d in 3/4", nsongs, styles_seen,
	   keys_seen, major, minor, waltz);
	int distinct[CORPUS_STEMS] = {0};
	for (int st = 0; st < CORPUS_STEMS; st++)
		for (int i = 0; i < 256; i++)
			distinct[st] += programs[st][i] > 0;
	ok(distinct[STEM_VOCALS] == 5 && distinct[STEM_DRUMS] >= 7 && distinct[STEM_BASS] >= 9 &&
		   distinct[STEM_OTHER] >= 60,
	   "programs used: vocals %d, drums %d, bass %d, other %d", distinct[0], distinct[1], distinct[2], distinct[3]);
	ok(with_notes[STEM_VOCALS] > nsongs * 7 / 10 && with_notes[STEM_BASS] > nsongs * 9 / 10 &&
		   with_notes[STEM_DRUMS] > nsongs * 8 / 10 && with_notes[STEM_OTHER] > nsongs * 9 / 10,
	   "10 s tracks with notes: vocals %d, drums %d, bass %d, other %d of %d", with_notes[0], with_notes[1],
	   with_notes[2], with_notes[3], nsongs);
	ok(sung[0] > nsongs && sung[1] > nsongs && sung[2] > nsongs / 3 && sung[3] > nsongs,
	   "sung gestures: %d scoops and falls, %d vibrato rises, %d channels sliding, %d swells", sung[0], sung[1],
	   sung[2], sung[3]);
	ok(rests > nsongs / 5, "tracks with bars where the voice rests: %d of %d", rests, nsongs);
	ok(sung_leads > nsongs / 2 && singers_seen == corpus_singers_default(),
	   "formant singers: %d sung lead channels over %d songs, singers %#x (every default one, no held-out one)",
	   sung_leads, nsongs, singers_seen);
}

static void test_mix(void)
{
	enum { N = 20000 };
	struct corpus_song song = {0};
	float *stems[CORPUS_STEMS], *mix = malloc(N * sizeof *mix);
	struct rng r;
	double db[CORPUS_STEMS] = {2, -3, -5, 0}, rms[CORPUS_STEMS], peak = 0;
	rng_seed(&r, 7);
	for (int s = 0; s < CORPUS_STEMS; s++) {
		stems[s] = malloc(N * sizeof *stems[s]);
		for (int i = 0; i < N; i++)
			stems[s][i] = (float)(rng_range(&r, -1, 1) * (s + 1) * 0.3);
		song.part[s].level_db = db[s];
	}
	song.peak_db = -2;
	corpus_mix(&song, stems, mix, N);
	int exact = 1;
	for (int i = 0; i < N; i++) {
		exact &= mix[i] == ((stems[0][i] + stems[1][i]) + stems[2][i]) + stems[3][i];
		peak = fmax(peak, fabs(mix[i]));
		for (int s = 0; s < CORPUS_STEMS; s++)
			peak = fmax(peak, fabs(stems[s][i]));
	}
	ok(exact, "the mixture is the float sum of the stems as scaled");
	ok(fabs(20 * log10(peak) + 2) < 1e-5, "the largest peak is at -2 dBFS (got %.7f dB)", 20 * log10(peak));
	double worst = 0;
	for (int s = 0; s < CORPUS_STEMS; s++) {
		double sum = 0;
		for (int i = 0; i < N; i++)
			sum += (double)stems[s][i] * stems[s][i];
		rms[s] = sqrt(sum / N);
	}
	for (int s = 1; s < CORPUS_STEMS; s++)
		worst = fmax(worst, fabs(20 * log10(rms[s] / rms[0]) - (db[s] - db[0])));
	ok(worst < 1e-4, "stem levels relative to each other as asked (largest error %.2g dB)", worst);
	for (int s = 0; s < CORPUS_STEMS; s++)
		free(stems[s]);
	free(mix);
}

int main(void)
{
	test_rng();
	test_theory();
	test_songs();
	test_mix();
	return test_done();
}
