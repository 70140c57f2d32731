/* Music theory for the composer: scales, diatonic chords, progressions, and
 * the General MIDI instruments each role draws from. */
#include <stdlib.h>

#include "corpus/plan.h"
#include "corpus/theory.h"
#include "corpus/voice.h"

const int scale_major[7] = {0, 2, 4, 5, 7, 9, 11};
const int scale_minor[7] = {0, 2, 3, 5, 7, 8, 10};
const int scale_dorian[7] = {0, 2, 3, 5, 7, 9, 10};
const int scale_mixolydian[7] = {0, 2, 4, 5, 7, 9, 10};

int clampi(int x, int lo, int hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

static int floordiv(int a, int b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

int scale_semis(const struct plan *p, int s)
{
	int oct = floordiv(s, 7);
	return p->scale[s - 7 * oct] + 12 * oct;
}

int scale_step_near(const struct plan *p, int midi)
{
	int rel = midi - p->key, best = 0, bestd = 1000;
	for (int s = floordiv(rel, 12) * 7 - 7; s <= floordiv(rel, 12) * 7 + 14; s++) {
		int d = abs(scale_semis(p, s) - rel);
		if (d < bestd)
			best = s, bestd = d;
	}
	return best;
}

int into_octave(int midi, int lo)
{
	while (midi < lo)
		midi += 12;
	while (midi >= lo + 12)
		midi -= 12;
	return midi;
}

/* Stacked thirds of the scale; in minor the dominant may borrow the
 * harmonic minor's leading tone (a major V). */
void chord_tones(const struct plan *p, int degree, int n, int *out)
{
	degree = ((degree % 7) + 7) % 7;
	for (int i = 0; i < n; i++)
		out[i] = scale_semis(p, degree + 2 * i);
	if (p->raised_v && degree == 4 && n > 1)
		out[1]++;
}

/* Progressions as scale degrees (0 = I), one chord per slot. */
static const int prog_majorish[][4] = {
	{0, 4, 5, 3}, {5, 3, 0, 4}, {0, 3, 4, 3}, {0, 5, 3, 4}, {1, 4, 0, 0}, {0, 3, 0, 4},
	{0, 2, 3, 4}, {3, 4, 2, 5}, {0, 4, 3, 4}, {3, 0, 4, 5}, {0, 0, 3, 4}, {0, 5, 1, 4},
};
static const int prog_minorish[][4] = {
	{0, 5, 2, 6}, {0, 3, 4, 0}, {0, 6, 5, 6}, {0, 6, 5, 4}, {0, 3, 6, 2}, {0, 5, 3, 4},
	{0, 2, 6, 3}, {5, 6, 0, 0}, {0, 3, 0, 4}, {0, 0, 5, 6}, {3, 4, 0, 0},
};

void pick_progression(struct plan *p, struct rng *r, int out[4])
{
	const int(*t)[4] = p->minor ? prog_minorish : prog_majorish;
	int n = p->minor ? (int)(sizeof prog_minorish / sizeof *prog_minorish)
			 : (int)(sizeof prog_majorish / sizeof *prog_majorish);
	int k = rng_int(r, 0, n - 1);
	for (int i = 0; i < 4; i++)
		out[i] = t[k][i];
}

int pick_program(struct rng *r, const int *list, int n)
{
	return list[rng_int(r, 0, n - 1)];
}

/* The sounds of each role. Voices (52-54 choir, oohs, synth voice; 85 the
 * voice lead; 91 the choir pad) belong to the vocals stem only. */
const struct program_list prog_bass = PROGRAMS(32, 33, 33, 34, 34, 35, 36, 37, 38, 39, 87);
const struct program_list prog_comp = PROGRAMS(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 21, 24, 25, 26, 27, 28,
					       29, 30, 48, 49, 50, 61, 62, 88, 89, 90, 92, 93, 94, 95);
const struct program_list prog_arp = PROGRAMS(0, 4, 6, 8, 9, 10, 11, 12, 13, 24, 25, 26, 45, 46, 80, 81, 98,
					      99, 107, 108, 114);
const struct program_list prog_solo = PROGRAMS(22, 26, 27, 29, 30, 40, 56, 57, 60, 64, 65, 66, 68, 71, 73, 74,
					       75, 79, 80, 81, 82, 83, 84, 105, 110);
const struct program_list prog_pad = PROGRAMS(48, 49, 50, 51, 89, 90, 92, 94, 95, 19, 44);
const struct program_list prog_lead_voice = PROGRAMS(53, 53, 53, 54, 54, 54, 52, 85, 85);
const struct program_list prog_backing_voice = PROGRAMS(52, 52, 53, 53, 54, 91);

static const char *const gm_names[128] = {
	"Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
	"Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet", "Celesta", "Glockenspiel", "Music Box",
	"Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer", "Drawbar Organ", "Percussive Organ",
	"Rock Organ", "Church Organ", "Reed Organ", "Accordion", "Harmonica", "Tango Accordion",
	"Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)", "Electric Guitar (clean)",
	"Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar", "Guitar Harmonics", "Acoustic Bass",
	"Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass", "Slap Bass 1", "Slap Bass 2",
	"Synth Bass 1", "Synth Bass 2", "Violin", "Viola", "Cello", "Contrabass", "Tremolo Strings",
	"Pizzicato Strings", "Orchestral Harp", "Timpani", "String Ensemble 1", "String Ensemble 2",
	"Synth Strings 1", "Synth Strings 2", "Choir Aahs", "Voice Oohs", "Synth Voice", "Orchestra Hit",
	"Trumpet", "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section", "Synth Brass 1",
	"Synth Brass 2", "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe", "English Horn",
	"Bassoon", "Clarinet", "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi",
	"Whistle", "Ocarina", "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)",
	"Lead 5 (charang)", "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)", "Pad 1 (new age)",
	"Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)", "Pad 5 (bowed)", "Pad 6 (metallic)", "Pad 7 (halo)",
	"Pad 8 (sweep)", "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)",
	"FX 5 (brightness)", "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)", "Sitar", "Banjo", "Shamisen",
	"Koto", "Kalimba", "Bagpipe", "Fiddle", "Shanai", "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock",
	"Taiko Drum", "Melodic Tom", "Synth Drum", "Reverse Cymbal", "Guitar Fret Noise", "Breath Noise",
	"Seashore", "Bird Tweet", "Telephone Ring", "Helicopter", "Applause", "Gunshot",
};

const char *corpus_program_name(int bank, int program)
{
	if (bank == CORPUS_BANK_SUNG)
		return program >= 0 && program < corpus_nsingers ? corpus_singers[program].name : "?";
	if (bank == 128) {
		switch (program) {
		case 0: return "Standard Kit";
		case 8: return "Room Kit";
		case 16: return "Power Kit";
		case 24: return "Electronic Kit";
		case 25: return "TR-808 Kit";
		case 32: return "Jazz Kit";
		case 40: return "Brush Kit";
		case 48: return "Orchestra Kit";
		default: return "Drum Kit";
		}
	}
	return program >= 0 && program < 128 ? gm_names[program] : "?";
}
