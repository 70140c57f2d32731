/* Rendering one stem: a fluidsynth synth of its own (so that stems never
 * bleed into each other, each with its own reverb and chorus), the stem's
 * programs on its channels, and its events played at their frames while
 * fluid_synth_write_float renders the samples in between.
 *
 * Deterministic: one synth thread (synth.cpu-cores 1), no audio driver, no
 * MIDI player or sequencer timers, events only between blocks (their times
 * are multiples of fluidsynth's 64-frame block), nothing from the clock. */
#include <errno.h>
#include <fluidsynth.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "corpus/plan.h"
#include "corpus/theory.h"
#include "corpus/voice.h"
#include "error.h"

static char fluid_message[256];

/* fluidsynth's messages: errors are kept for tf_seterr, the rest dropped. */
static void keep_fluid_error(int level, const char *message, void *data)
{
	(void)data;
	if (level <= FLUID_ERR)
		snprintf(fluid_message, sizeof fluid_message, "%s", message);
}

/* The loaders fluidsynth tries after its own (libinstpatch's for DLS) log
 * through glib straight to stderr when a file is not theirs; the error
 * that matters comes back through fluidsynth's log. */
static void drop_glib_message(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
	(void)domain, (void)level, (void)message, (void)data;
}

static void quiet_fluidsynth(void)
{
	g_log_set_default_handler(drop_glib_message, NULL);
	fluid_set_log_function(FLUID_PANIC, keep_fluid_error, NULL);
	fluid_set_log_function(FLUID_ERR, keep_fluid_error, NULL);
	fluid_set_log_function(FLUID_WARN, NULL, NULL);
	fluid_set_log_function(FLUID_INFO, NULL, NULL);
	fluid_set_log_function(FLUID_DBG, NULL, NULL);
}

static fluid_settings_t *new_settings(const struct corpus_fx *fx)
{
	fluid_settings_t *s = new_fluid_settings();
	if (!s)
		return NULL;
	fluid_settings_setnum(s, "synth.sample-rate", CORPUS_RATE);
	fluid_settings_setint(s, "synth.cpu-cores", 1);
	fluid_settings_setint(s, "synth.threadsafe-api", 0);
	fluid_settings_setint(s, "synth.polyphony", 256);
	fluid_settings_setint(s, "synth.midi-channels", 16);
	fluid_settings_setint(s, "synth.dynamic-sample-loading", 0);
	fluid_settings_setint(s, "synth.lock-memory", 0);
	fluid_settings_setnum(s, "synth.gain", 0.3);
	fluid_settings_setint(s, "synth.reverb.active", fx != NULL);
	fluid_settings_setint(s, "synth.chorus.active", fx != NULL);
	if (fx) {
		fluid_settings_setnum(s, "synth.reverb.room-size", fx->room);
		fluid_settings_setnum(s, "synth.reverb.damp", fx->damp);
		fluid_settings_setnum(s, "synth.reverb.width", fx->width * 100);
		fluid_settings_setnum(s, "synth.reverb.level", fx->level);
		fluid_settings_setint(s, "synth.chorus.nr", fx->chorus_voices);
		fluid_settings_setnum(s, "synth.chorus.level", fx->chorus_level);
		fluid_settings_setnum(s, "synth.chorus.speed", fx->chorus_speed);
		fluid_settings_setnum(s, "synth.chorus.depth", fx->chorus_depth);
	}
	return s;
}

static int load(fluid_synth_t *synth, const char *path)
{
	fluid_message[0] = 0;
	int id = fluid_synth_sfload(synth, path, 0);
	if (id == FLUID_FAILED)
		return tf_seterr("cannot load soundfont %s%s%s", path, fluid_message[0] ? ": " : "", fluid_message);
	return id;
}

/* Selects a preset; a drum kit the soundfont lacks becomes its standard kit. */
static int select_program(fluid_synth_t *synth, int sfid, const struct corpus_voice *v, const char *path)
{
	if (fluid_synth_program_select(synth, v->chan, sfid, (unsigned)v->bank, (unsigned)v->program) == FLUID_OK)
		return 0;
	if (v->bank == 128 && fluid_synth_program_select(synth, v->chan, sfid, 128, 0) == FLUID_OK)
		return 0;
	return tf_seterr("soundfont %s has no %s %d (%s)", path, v->bank == 128 ? "drum kit" : "program", v->program,
			 corpus_program_name(v->bank, v->program));
}

/* Synths that keep the soundfonts loaded for the life of the process:
 * fluidsynth shares loaded samples between synths (its sample cache) while
 * any synth holds them, so each stem's synth then only reads the presets,
 * and -j workers forked after the check share the samples' pages. */
#define MAX_KEPT 8
static struct kept {
	fluid_settings_t *settings;
	fluid_synth_t *synth;
	char path[4096];
} kept[MAX_KEPT];

static void drop(struct kept *k)
{
	delete_fluid_synth(k->synth);
	delete_fluid_settings(k->settings);
	memset(k, 0, sizeof *k);
}

int corpus_check_soundfont(const char *path)
{
	static const struct program_list *const lists[] = {&prog_bass, &prog_comp, &prog_arp, &prog_solo,
							   &prog_pad, &prog_lead_voice, &prog_backing_voice};
	int sfid, ret = 0, slot = 0;
	for (int i = 0; i < MAX_KEPT; i++)
		if (kept[i].synth && !strcmp(kept[i].path, path))
			return 0;
	while (slot < MAX_KEPT - 1 && kept[slot].synth)
		slot++;
	struct kept *k = &kept[slot];
	drop(k);
	/* SoundFont 2 (and 3) only: RIFF form "sfbk". Anything else would go
	 * to fluidsynth's other loaders, which print their own complaints. */
	unsigned char head[12];
	struct stat st;
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return tf_seterr("cannot open soundfont %s: %s", path, strerror(errno));
	int bad = fstat(fileno(fp), &st) || !S_ISREG(st.st_mode) || fread(head, 1, 12, fp) != 12 ||
		  memcmp(head, "RIFF", 4) || memcmp(head + 8, "sfbk", 4);
	fclose(fp);
	if (bad)
		return tf_seterr("soundfont %s: not a SoundFont 2 file", path);
	if (strlen(path) >= sizeof k->path)
		return tf_seterr("soundfont %s: path too long", path);
	quiet_fluidsynth();
	if (!(k->settings = new_settings(NULL)) || !(k->synth = new_fluid_synth(k->settings))) {
		drop(k);
		return tf_seterr("cannot start fluidsynth");
	}
	if ((sfid = load(k->synth, path)) < 0)
		ret = -1;
	for (size_t l = 0; !ret && l < sizeof lists / sizeof *lists; l++)
		for (int i = 0; !ret && i < lists[l]->n; i++)
			ret = select_program(k->synth, sfid, &(struct corpus_voice){.bank = 0, .program = lists[l]->programs[i]}, path);
	if (!ret)
		ret = select_program(k->synth, sfid, &(struct corpus_voice){.chan = 9, .bank = 128, .program = 0}, path);
	if (ret)
		drop(k);
	else
		strcpy(k->path, path);
	return ret;
}

/* Ties keep the composer's order; otherwise note-offs, then controls and
 * bends, then note-ons, so that a repeated key is released first and a
 * note starts with its controls already set. */
static int by_time(const void *a, const void *b)
{
	const struct corpus_event *x = a, *y = b;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	int tx = x->type == EV_BEND ? EV_CONTROL : x->type, ty = y->type == EV_BEND ? EV_CONTROL : y->type;
	if (tx != ty)
		return tx < ty ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void render_to(fluid_synth_t *synth, float *out, int64_t *done, int64_t until)
{
	while (*done < until) {
		int n = until - *done > 1 << 16 ? 1 << 16 : (int)(until - *done);
		float *at = out + *done * CORPUS_CHANNELS;
		fluid_synth_write_float(synth, n, at, 0, 2, at, 1, 2);
		*done += n;
	}
}

int corpus_render(const struct corpus_song *song, int stem, const char *soundfont, float *out)
{
	const struct corpus_part *part = &song->part[stem];
	struct corpus_event *ev = NULL;
	fluid_settings_t *s = NULL;
	fluid_synth_t *synth = NULL;
	int64_t done = 0;
	int sfid, ret = -1;
	if (corpus_check_soundfont(soundfont))
		return -1;
	if (part->n && !(ev = malloc(part->n * sizeof *ev)))
		return tf_seterr("out of memory");
	if (!(s = new_settings(&part->fx)) || !(synth = new_fluid_synth(s))) {
		tf_seterr("cannot start fluidsynth");
		goto out;
	}
	if ((sfid = load(synth, soundfont)) < 0)
		goto out;
	unsigned sung = 0; /* channels the formant singer sings, not fluidsynth */
	for (int v = 0; v < part->nvoices; v++)
		if (part->voice[v].bank == CORPUS_BANK_SUNG)
			sung |= 1u << part->voice[v].chan;
		else if (select_program(synth, sfid, &part->voice[v], soundfont))
			goto out;
	memcpy(ev, part->ev, part->n * sizeof *ev);
	qsort(ev, part->n, sizeof *ev, by_time);
	for (size_t i = 0; i < part->n && ev[i].time < song->frames; i++) {
		const struct corpus_event *e = &ev[i];
		if (sung >> e->chan & 1)
			continue;
		render_to(synth, out, &done, e->time);
		switch (e->type) {
		case EV_NOTE_ON: fluid_synth_noteon(synth, e->chan, e->a, e->b); break;
		case EV_NOTE_OFF: fluid_synth_noteoff(synth, e->chan, e->a); break;
		case EV_CONTROL: fluid_synth_cc(synth, e->chan, e->a, e->b); break;
		case EV_BEND: fluid_synth_pitch_bend(synth, e->chan, e->bend + 8192); break;
		}
	}
	render_to(synth, out, &done, song->frames);
	for (int v = 0; v < part->nvoices; v++)
		if (part->voice[v].bank == CORPUS_BANK_SUNG &&
		    corpus_sing(ev, part->n, part->voice[v].chan, &corpus_singers[part->voice[v].program], song->seed,
				song->frames, out))
			goto out;
	ret = 0;
out:
	delete_fluid_synth(synth);
	delete_fluid_settings(s);
	free(ev);
	return ret;
}
