/* The singing voice (voice.h): notes from the part's events, a syllable
 * per note, and a source-filter synthesiser run at two rates: the control
 * values (pitch, formants, levels) every CTRL samples, the signal every
 * sample. Formant frequencies are Peterson and Barney's (1952) averages for
 * American English vowels, men's and women's, interpolated per singer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus/voice.h"
#include "error.h"
#include "rng.h"

#define RATE ((double)CORPUS_RATE)
#define CTRL 32 /* samples per control step */
#define NFORM 5
#define HF_GAIN 3.0 /* the high-passed branch against the cascade */

const struct corpus_singer corpus_singers[] = {
	/* name         female scale breath tilt  vib  high held-out */
	{"baritone", 0.0, 0.96, 0.05, 900, 5.3, 0, 0},
	{"tenor", 0.0, 1.04, 0.08, 1300, 5.8, 1, 0},
	{"rock", 0.1, 1.00, 0.12, 2000, 5.5, 0, 0},
	{"alto", 0.9, 0.98, 0.14, 1200, 5.6, 1, 0},
	{"soprano", 1.0, 1.05, 0.08, 1700, 6.1, 1, 0},
	{"breathy", 0.8, 1.00, 0.35, 1000, 5.0, 1, 0},
	{"mezzo", 1.0, 1.12, 0.20, 1500, 6.5, 1, 1},
	{"bass-baritone", 0.0, 0.90, 0.10, 750, 4.9, 0, 1},
};
const int corpus_nsingers = (int)(sizeof corpus_singers / sizeof *corpus_singers);
_Static_assert(sizeof corpus_singers / sizeof *corpus_singers <= CORPUS_MAX_SINGERS, "singer mask bits");

unsigned corpus_singers_default(void)
{
	unsigned m = 0;
	for (int i = 0; i < corpus_nsingers; i++)
		if (!corpus_singers[i].held_out)
			m |= 1u << i;
	return m;
}

int corpus_singers_parse(const char *list, unsigned *mask)
{
	if (!strcmp(list, "default")) {
		*mask = corpus_singers_default();
		return 0;
	}
	if (!strcmp(list, "none")) {
		*mask = 0;
		return 0;
	}
	if (!strcmp(list, "all") || !strcmp(list, "held-out")) {
		*mask = 0;
		for (int i = 0; i < corpus_nsingers; i++)
			if (!strcmp(list, "all") || corpus_singers[i].held_out)
				*mask |= 1u << i;
		return 0;
	}
	*mask = 0;
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");
		int found = -1;
		for (int i = 0; i < corpus_nsingers; i++)
			if (strlen(corpus_singers[i].name) == len && !strncmp(corpus_singers[i].name, p, len))
				found = i;
		if (found < 0) {
			char names[256];
			size_t at = 0;
			for (int i = 0; i < corpus_nsingers && at < sizeof names; i++)
				at += (size_t)snprintf(names + at, sizeof names - at, "%s%s", i ? ", " : "",
						       corpus_singers[i].name);
			return tf_seterr("no singer \"%.*s\" (singers: %s; or default, all, held-out, none)", (int)len,
					 p, names);
		}
		*mask |= 1u << found;
		p += len + (p[len] == ',');
	}
	return 0;
}

/* Vowels: F1-F3 of men and women (Hz); F4 and F5 are set per voice type. */
enum { V_I, V_IH, V_EH, V_AE, V_AA, V_AO, V_UH, V_UW, V_AH, V_ER, NVOWELS };
static const double vowel_men[NVOWELS][3] = {
	{270, 2290, 3010}, {390, 1990, 2550}, {530, 1840, 2480}, {660, 1720, 2410}, {730, 1090, 2440},
	{570, 840, 2410},  {440, 1020, 2240}, {300, 870, 2240},  {640, 1190, 2390}, {490, 1350, 1690},
};
static const double vowel_women[NVOWELS][3] = {
	{310, 2790, 3310}, {430, 2480, 3070}, {610, 2330, 2990}, {860, 2050, 2850}, {850, 1220, 2810},
	{590, 920, 2710},  {470, 1160, 2680}, {370, 950, 2670},  {760, 1400, 2780}, {500, 1640, 1960},
};

/* What is sung on a note: a vowel, or a diphthong gliding into a second
 * one over the note's last third. Weights favour the open vowels singers
 * hold. */
static const struct {
	int v1, v2;
	double w;
} nuclei[] = {
	{V_AA, -1, 3},	 {V_EH, -1, 1.5},   {V_I, -1, 1.5},   {V_UW, -1, 1},	{V_AO, -1, 1.2},
	{V_AH, -1, 1},	 {V_IH, -1, 0.8},   {V_AE, -1, 0.8},  {V_UH, -1, 0.5},	{V_ER, -1, 0.4},
	{V_AA, V_IH, 1.2}, {V_EH, V_IH, 0.8}, {V_AO, V_UH, 0.8}, {V_AA, V_UH, 0.4},
};
#define NNUCLEI ((int)(sizeof nuclei / sizeof *nuclei))

/* A consonant as a sequence of phases: closure (silence, a voice bar when
 * voiced), a release burst, frication, aspiration, then a voiced murmur or
 * transition whose formants sit at the consonant's locus (0: the vowel's). */
struct consonant {
	const char *name;
	double closure_ms, burst, fric_ms, fric, fric_hz, fric_q, aspir_ms, murmur_ms;
	double voicing; /* voiced source level through closure, frication and murmur */
	double f1, f2, f3;
	int nasal;
	double w_onset, w_coda; /* how often it starts or ends a syllable */
};
static const struct consonant consonants[] = {
	/* name closure burst fric_ms fric  hz    q   aspir murmur voicing  f1  f2   f3  nasal onset coda */
	{"", 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 2.5, 0},
	{"p", 55, 0.5, 0, 0, 1200, 0.7, 45, 20, 0, 300, 900, 0, 0, 0.8, 0.2},
	{"b", 40, 0.25, 0, 0, 1000, 0.7, 0, 25, 0.35, 300, 900, 0, 0, 1, 0},
	{"t", 50, 0.7, 0, 0, 4000, 1.2, 50, 20, 0, 350, 1750, 0, 0, 1, 0.8},
	{"d", 35, 0.35, 0, 0, 3500, 1.2, 0, 25, 0.35, 350, 1700, 0, 0, 1, 0.3},
	{"k", 55, 0.6, 0, 0, 2000, 1.5, 55, 20, 0, 350, 0, 0, 0, 0.9, 0.4},
	{"g", 40, 0.3, 0, 0, 1800, 1.5, 0, 25, 0.35, 350, 0, 0, 0, 0.7, 0},
	{"m", 0, 0, 0, 0, 0, 1, 0, 75, 0.55, 250, 1000, 2200, 1, 1.2, 0.8},
	{"n", 0, 0, 0, 0, 0, 1, 0, 70, 0.55, 250, 1600, 2500, 1, 1.2, 1.5},
	{"l", 0, 0, 0, 0, 0, 1, 0, 65, 0.8, 360, 1100, 2700, 0, 1.2, 0.6},
	{"r", 0, 0, 0, 0, 0, 1, 0, 65, 0.8, 400, 1200, 1600, 0, 1, 0.5},
	{"w", 0, 0, 0, 0, 0, 1, 0, 60, 0.9, 300, 700, 2200, 0, 0.8, 0},
	{"y", 0, 0, 0, 0, 0, 1, 0, 55, 0.9, 280, 2250, 3000, 0, 0.6, 0},
	{"s", 0, 0, 110, 0.9, 6500, 1.5, 0, 0, 0, 0, 0, 0, 0, 1.2, 1.2},
	{"z", 0, 0, 90, 0.5, 6000, 1.5, 0, 0, 0.5, 0, 0, 0, 0, 0.3, 0.3},
	{"sh", 0, 0, 110, 0.9, 3200, 1.2, 0, 0, 0, 0, 0, 0, 0, 0.6, 0.3},
	{"f", 0, 0, 90, 0.35, 5000, 0.4, 0, 0, 0, 0, 0, 0, 0, 0.8, 0.2},
	{"v", 0, 0, 70, 0.25, 4500, 0.4, 0, 0, 0.5, 0, 0, 0, 0, 0.5, 0.2},
	{"th", 0, 0, 80, 0.3, 6000, 0.5, 0, 0, 0, 0, 0, 0, 0, 0.4, 0.1},
	{"h", 0, 0, 0, 0, 0, 1, 70, 0, 0, 0, 0, 0, 0, 0.8, 0},
	{"ch", 40, 0.5, 80, 0.8, 3500, 1.2, 0, 0, 0, 0, 0, 0, 0, 0.4, 0.2},
};
#define NCONS ((int)(sizeof consonants / sizeof *consonants))

/* A sung note: its time, pitch, syllable and whether it runs into (or on
 * from) its neighbour without a break. */
struct note {
	int64_t start, end;
	int key, vel;
	int legato_in, legato_out;
	int onset, coda, v1, v2; /* consonant indices (0: none), vowel(s) */
	double detune_cents, vib_rate;
};

/* Two-pole resonator with unity gain at 0 Hz (a formant of a cascade). */
struct reso {
	double a, b, c, y1, y2;
};

static void reso_set(struct reso *r, double f, double bw)
{
	f = fmin(f, 0.45 * RATE);
	double e = exp(-M_PI * bw / RATE);
	r->c = -e * e;
	r->b = 2 * e * cos(2 * M_PI * f / RATE);
	r->a = 1 - r->b - r->c;
}

static inline double reso_run(struct reso *r, double x)
{
	double y = r->a * x + r->b * r->y1 + r->c * r->y2;
	r->y2 = r->y1, r->y1 = y;
	return y;
}

/* Band-pass biquad, 0 dB at the centre (the noise of a consonant). */
struct bandpass {
	double b0, a1, a2, x1, x2, y1, y2;
};

static void bandpass_set(struct bandpass *f, double hz, double q)
{
	double w = 2 * M_PI * fmin(hz, 0.45 * RATE) / RATE, alpha = sin(w) / (2 * q), a0 = 1 + alpha;
	f->b0 = alpha / a0, f->a1 = -2 * cos(w) / a0, f->a2 = (1 - alpha) / a0;
}

static inline double bandpass_run(struct bandpass *f, double x)
{
	double y = f->b0 * (x - f->x2) - f->a1 * f->y1 - f->a2 * f->y2;
	f->x2 = f->x1, f->x1 = x, f->y2 = f->y1, f->y1 = y;
	return y;
}

/* The residual of a band-limited step (polyBLEP), for the sawtooth. */
static inline double polyblep(double t, double dt)
{
	if (t < dt) {
		t /= dt;
		return t + t - t * t - 1;
	}
	if (t > 1 - dt) {
		t = (t - 1) / dt;
		return t * t + t + t + 1;
	}
	return 0;
}

static int pick_consonant(struct rng *r, int coda)
{
	double w[NCONS];
	for (int i = 0; i < NCONS; i++)
		w[i] = coda ? consonants[i].w_coda : consonants[i].w_onset;
	return rng_weighted(r, w, NCONS);
}

/* The notes of channel chan, each with its syllable. */
static int collect_notes(const struct corpus_event *ev, size_t n, int chan, struct rng *syl, struct rng *r,
			 struct note **out, int *count)
{
	int cap = 0, k = 0;
	struct note *notes = NULL;
	for (size_t i = 0; i < n; i++) {
		if (ev[i].chan != chan || ev[i].type != EV_NOTE_ON || !ev[i].b)
			continue;
		if (k == cap) {
			cap = cap ? 2 * cap : 64;
			struct note *t = realloc(notes, (size_t)cap * sizeof *t);
			if (!t) {
				free(notes);
				return tf_seterr("out of memory");
			}
			notes = t;
		}
		struct note *nt = &notes[k++];
		memset(nt, 0, sizeof *nt);
		nt->start = ev[i].time, nt->key = ev[i].a, nt->vel = ev[i].b, nt->end = INT64_MAX;
		for (size_t j = i + 1; j < n; j++)
			if (ev[j].chan == chan && ev[j].a == ev[i].a &&
			    (ev[j].type == EV_NOTE_OFF || ev[j].type == EV_NOTE_ON)) {
				nt->end = ev[j].time;
				break;
			}
	}
	for (int i = 0; i < k; i++) {
		struct note *nt = &notes[i];
		nt->legato_in = i > 0 && notes[i - 1].end > nt->start;
		nt->legato_out = i + 1 < k && notes[i + 1].start < nt->end + (int64_t)(0.01 * RATE);
		int nucleus;
		{
			double w[NNUCLEI];
			for (int v = 0; v < NNUCLEI; v++)
				w[v] = nuclei[v].w;
			nucleus = rng_weighted(syl, w, NNUCLEI);
		}
		nt->v1 = nuclei[nucleus].v1, nt->v2 = nuclei[nucleus].v2;
		/* a legato note goes on singing the vowel it slid from, mostly */
		int plain = rng_chance(syl, 0.7), onset = pick_consonant(syl, 0);
		int closed = rng_chance(syl, 0.35), coda = pick_consonant(syl, 1);
		nt->onset = nt->legato_in && plain ? 0 : onset;
		nt->coda = !nt->legato_out && closed ? coda : 0;
		nt->detune_cents = 8 * rng_normal(r);
		nt->vib_rate = 1 + 0.04 * rng_normal(r);
	}
	*out = notes, *count = k;
	return 0;
}

/* The control values of one step. */
struct ctrl {
	double voiced, aspir, fric; /* source levels */
	double fric_hz, fric_q;
	double form[NFORM], bw[NFORM];
};

/* Levels and formant targets at time t within note nt, before the gate. */
static void syllable_at(const struct note *nt, const struct corpus_singer *sg, double f0, int64_t t,
			struct ctrl *c)
{
	double tn = (double)(t - nt->start) * 1000 / RATE, te = (double)(nt->end - t) * 1000 / RATE;
	double len = (double)(nt->end - nt->start) * 1000 / RATE;
	/* the vowel: men's and women's formants mixed per singer, scaled */
	int v = nt->v1;
	double glide = 0;
	if (nt->v2 >= 0 && len > 0 && tn > len * 2 / 3)
		glide = fmin(1, (tn - len * 2 / 3) / (len / 3));
	for (int k = 0; k < 3; k++) {
		double a = (1 - sg->female) * vowel_men[v][k] + sg->female * vowel_women[v][k];
		if (glide > 0) {
			int w = nt->v2;
			double b = (1 - sg->female) * vowel_men[w][k] + sg->female * vowel_women[w][k];
			a += glide * (b - a);
		}
		c->form[k] = a * sg->scale;
	}
	c->form[3] = (3300 + 600 * sg->female) * sg->scale;
	c->form[4] = (3750 + 850 * sg->female) * sg->scale;
	/* high notes: singers open the jaw so that F1 stays above f0 */
	if (c->form[0] < 1.1 * f0)
		c->form[0] = fmin(1.1 * f0, 1100);
	static const double bw[NFORM] = {70, 100, 140, 200, 260};
	for (int k = 0; k < NFORM; k++)
		c->bw[k] = bw[k] * (0.9 + 0.2 * sg->female);
	c->voiced = 1, c->aspir = sg->breath, c->fric = 0, c->fric_hz = 4000, c->fric_q = 1;

	/* the onset consonant's phases, then the coda's, mirrored at the end */
	const struct consonant *on = &consonants[nt->onset], *cd = &consonants[nt->coda];
	double t_close = on->closure_ms, t_burst = t_close + (on->burst > 0 ? 12 : 0), t_fric = t_burst + on->fric_ms,
	       t_asp = t_fric + on->aspir_ms, t_mur = t_asp + on->murmur_ms;
	const struct consonant *cons = NULL;
	if (nt->onset && tn < t_mur) {
		cons = on;
		if (tn < t_close)
			c->voiced = 0.25 * on->voicing, c->aspir = 0;
		else if (tn < t_burst)
			c->voiced = 0.4 * on->voicing, c->aspir = 0, c->fric = on->burst, c->fric_hz = on->fric_hz,
			c->fric_q = on->fric_q;
		else if (tn < t_fric)
			c->voiced = on->voicing, c->aspir = 0, c->fric = on->fric, c->fric_hz = on->fric_hz,
			c->fric_q = on->fric_q;
		else if (tn < t_asp)
			c->voiced = 0, c->aspir = 0.6;
		else
			c->voiced = on->voicing;
	}
	double coda_len = cd->closure_ms + cd->fric_ms + cd->murmur_ms + (cd->burst > 0 ? 12 : 0);
	if (nt->coda && te < coda_len && len > coda_len + 80) {
		cons = cd;
		double from_end = te;
		if (cd->burst > 0 && from_end < 12)
			c->voiced = 0, c->aspir = 0, c->fric = cd->burst, c->fric_hz = cd->fric_hz, c->fric_q = cd->fric_q;
		else if (cd->closure_ms > 0 && from_end < 12 + cd->closure_ms)
			c->voiced = 0.25 * cd->voicing, c->aspir = 0;
		else if (cd->fric_ms > 0)
			c->voiced = cd->voicing, c->aspir = 0, c->fric = cd->fric, c->fric_hz = cd->fric_hz,
			c->fric_q = cd->fric_q;
		else
			c->voiced = cd->voicing;
	}
	if (cons) {
		const double *locus = &cons->f1;
		for (int k = 0; k < 3; k++)
			if (locus[k] > 0)
				c->form[k] = locus[k] * (0.85 + 0.15 * sg->scale);
		if (cons->nasal) /* the mouth closed: the upper formants damped */
			for (int k = 1; k < NFORM; k++)
				c->bw[k] *= 3;
	}
}

int corpus_sing(const struct corpus_event *ev, size_t n, int chan, const struct corpus_singer *sg, uint64_t seed,
		int64_t frames, float *out)
{
	/* the lyrics from the song alone, so that a double sings the same
	 * words; intonation, jitter and noise per channel */
	struct rng syl, r;
	rng_seed(&syl, seed ^ 0x1791c5ull);
	rng_seed(&r, seed ^ (0x5176e5ull * (uint64_t)(chan + 1)));
	struct note *notes = NULL;
	int nnotes = 0;
	if (collect_notes(ev, n, chan, &syl, &r, &notes, &nnotes))
		return -1;

	/* controllers, as fluidsynth's defaults until an event sets them */
	double bend = 0, mod = 0, expr = 1, vol = 100.0 / 127, pan = 0.5;
	int porta = 0, porta_msb = 0, porta_lsb = 0; /* portamento time in ms: msb * 128 + lsb */
	size_t e = 0;
	int cur = -1;

	struct reso form[NFORM];
	struct bandpass noise_band;
	memset(form, 0, sizeof form);
	memset(&noise_band, 0, sizeof noise_band);
	/* silence until the first note, with filters that are valid already */
	struct ctrl c = {.fric_hz = 4000, .fric_q = 1, .form = {500, 1500, 2500, 3500, 4500},
			 .bw = {70, 100, 140, 200, 260}};
	double lv = 0, la = 0, lf = 0; /* smoothed source levels */
	double gate_env = 0, pitch = 60, phase = 0, tilt = 0, vib_phase = 0, jitter = 0, fsm[NFORM];
	double hp1 = 0, hp2 = 0, noise_lp = 0;
	const double hf_k = 1 - exp(-2 * M_PI * 3500 / RATE), noise_k = 1 - exp(-2 * M_PI * 2500 / RATE);
	memcpy(fsm, c.form, sizeof fsm); /* smoothed formants */
	const double jit_a = exp(-2 * M_PI * 3.0 / (RATE / CTRL));
	/* y = a y + (1 - a) x has variance var(x) (1 - a) / (1 + a): 6 cents rms */
	const double jit_sigma = 6 * sqrt((1 + jit_a) / (1 - jit_a));

	for (int64_t t0 = 0; t0 < frames; t0 += CTRL) {
		for (; e < n && ev[e].time <= t0; e++) {
			const struct corpus_event *x = &ev[e];
			if (x->chan != chan)
				continue;
			if (x->type == EV_BEND)
				bend = x->bend / 4096.0;
			else if (x->type == EV_CONTROL) {
				switch (x->a) {
				case 1: mod = x->b / 127.0; break;
				case 5: porta_msb = x->b; break;
				case 37: porta_lsb = x->b; break;
				case 7: vol = x->b / 127.0; break;
				case 10: pan = x->b / 127.0; break;
				case 11: expr = x->b / 127.0; break;
				case 65: porta = x->b >= 64; break;
				}
			}
		}
		while (cur + 1 < nnotes && notes[cur + 1].start <= t0)
			cur++;
		const struct note *nt = cur >= 0 ? &notes[cur] : NULL;
		int gate = nt && t0 < nt->end;

		/* pitch: the note, bend, intonation, vibrato, jitter; slides */
		double vib_depth = mod * 90; /* cents, peak */
		jitter = jit_a * jitter + (1 - jit_a) * jit_sigma * rng_normal(&r);
		if (nt) {
			double target = nt->key + bend + nt->detune_cents / 100;
			double porta_ms = porta_msb * 128.0 + porta_lsb;
			double tc_ms = porta && nt->legato_in && porta_ms > 0 ? porta_ms / 2.5 : 12;
			if (gate_env < 1e-3)
				pitch = target; /* a fresh start: no slide from silence */
			pitch += (target - pitch) * (1 - exp(-CTRL * 1000 / (RATE * tc_ms)));
			vib_phase += 2 * M_PI * sg->vib_hz * nt->vib_rate * CTRL / RATE;
		}
		double semis = pitch + (vib_depth * sin(vib_phase) + jitter) / 100;
		double f0 = 440 * pow(2, (semis - 69) / 12);

		if (gate) /* after the note: its last values while it dies away */
			syllable_at(nt, sg, f0, t0, &c);
		double vel = nt ? nt->vel / 127.0 : 0;
		double level = pow(vel, 1.6) * expr * vol * vol;
		/* one-pole smoothing: per sample for levels, per step for formants */
		double gate_target = gate ? 1 : 0, gate_k = 1 - exp(-1 / (RATE * (gate ? 0.03 : 0.06)));
		double lev_k = 1 - exp(-1 / (RATE * 0.004)), form_k = 1 - exp(-CTRL / (RATE * 0.018));
		for (int k = 0; k < NFORM; k++) {
			fsm[k] += (c.form[k] - fsm[k]) * form_k;
			reso_set(&form[k], fsm[k], c.bw[k]);
		}
		bandpass_set(&noise_band, c.fric_hz, c.fric_q);
		double tilt_hz = sg->tilt_hz * (0.6 + 0.8 * vel) * (0.8 + 0.4 * expr);
		double tilt_k = 1 - exp(-2 * M_PI * tilt_hz / RATE), dt = f0 / RATE;
		double gl = cos(pan * M_PI / 2), gr = sin(pan * M_PI / 2);
		int64_t t1 = t0 + CTRL < frames ? t0 + CTRL : frames;
		for (int64_t t = t0; t < t1; t++) {
			gate_env += (gate_target - gate_env) * gate_k;
			lv += (c.voiced - lv) * lev_k;
			la += (c.aspir - la) * lev_k;
			lf += (c.fric - lf) * lev_k;
			phase += dt;
			if (phase >= 1)
				phase -= 1;
			double saw = 2 * phase - 1 - polyblep(phase, dt);
			tilt += (saw - tilt) * tilt_k;
			/* breath: noise darkened like the voiced source, louder in
			 * the open phase of each glottal cycle */
			noise_lp += (2 * rng_uniform(&r) - 1 - noise_lp) * noise_k;
			double voiced = lv * tilt, src = voiced + la * 3 * noise_lp * (phase < 0.5 ? 1 : 0.4);
			/* the cascade falls off steeply above F5; the voice's upper
			 * harmonics go around it, high-passed (as the higher poles a
			 * five-formant cascade leaves out would) */
			hp1 += (voiced - hp1) * hf_k, hp2 += (voiced - hp1 - hp2) * hf_k;
			double hf = voiced - hp1 - hp2;
			for (int k = 0; k < NFORM; k++)
				src = reso_run(&form[k], src);
			src += HF_GAIN * hf;
			double fric = lf * bandpass_run(&noise_band, 2 * rng_uniform(&r) - 1);
			double y = 0.05 * (src + 0.5 * fric) * level * gate_env;
			out[2 * t] += (float)(y * gl);
			out[2 * t + 1] += (float)(y * gr);
		}
	}
	free(notes);
	return 0;
}
