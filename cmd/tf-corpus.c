/* tf-corpus: generates a multi-stem training corpus in MUSDB18's layout.
 * Each track is a procedurally composed song (lib/corpus), its four stems
 * rendered separately with fluidsynth and a General MIDI soundfont, summed
 * into the mixture. Deterministic by seed; tracks appear complete or not at
 * all; a second run makes only the tracks that are missing. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "corpus/corpus.h"
#include "corpus/voice.h"
#include "error.h"
#include "fileio.h"

#define DEFAULT_SOUNDFONT "/usr/share/sounds/sf2/FluidR3_GM.sf2"
#define MAX_TRACKS 100000
#define MAX_SECONDS 600
#define MAX_JOBS 64
#define MAX_SOUNDFONTS 8

static const char *const splits[2] = {"train", "test"};

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: tf-corpus -o DIR [options]\n"
		"Composes songs and renders each one's stems with fluidsynth into a MUSDB18-style\n"
		"corpus: DIR/train/<track>/{mixture,vocals,drums,bass,other}.wav and DIR/test/...,\n"
		"44.1 kHz stereo float WAV, mixture = vocals + drums + bass + other exactly.\n\n"
		"  -o, --output DIR       where the corpus goes (made if missing)\n"
		"      --seed N           the corpus seed (default 1): same seed, same files\n"
		"      --train N          training tracks (default 100)\n"
		"      --test N           test tracks (default 10)\n"
		"      --seconds S        length of each track in seconds (default 30, 1 to %d)\n"
		"      --soundfont FILE   General MIDI soundfont (default %s); give it\n"
		"                         again for more: each stem of each track draws one\n"
		"      --singers LIST     who may sing the lead vocals on syllables (the formant\n"
		"                         singer): default (all but the held-out ones), all,\n"
		"                         held-out, none (voice patches only), or names:\n"
		"                         baritone,tenor,rock,alto,soprano,breathy,mezzo,bass-baritone\n"
		"      --stems LIST       the stems: fixed to vocals,drums,bass,other (MUSDB18's)\n"
		"      --jobs N           tracks rendered in parallel (default 1)\n"
		"  -l, --list             print what each track is (key, tempo, instruments), make nothing\n"
		"  -q, --quiet            no progress bar\n"
		"  -v, --verbose          say what is being done\n"
		"  -h, --help             show this help\n"
		"  -V, --version          show the version\n",
		MAX_SECONDS, DEFAULT_SOUNDFONT);
}

struct options {
	const char *out, *soundfont[MAX_SOUNDFONTS], *singer_list;
	int nsoundfonts;
	unsigned singers;
	uint64_t seed;
	int count[2], jobs, list;
	int64_t frames;
};

static void track_name(char *buf, size_t size, const struct options *o, int split, int index)
{
	snprintf(buf, size, "s%llu-%s-%04d", (unsigned long long)o->seed, splits[split], index + 1);
}

static void split_dir(char *buf, size_t size, const struct options *o, int split)
{
	if (snprintf(buf, size, "%s/%s", o->out, splits[split]) >= (int)size)
		die("-o %s: path too long", o->out);
}

/* mkdir -p */
static void make_dir(const char *path)
{
	char buf[PATH_MAX];
	struct stat st;
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		die("%s: path too long", path);
	for (char *p = buf + 1;; p++)
		if (*p == '/' || !*p) {
			char c = *p;
			*p = 0;
			if (mkdir(buf, 0777) && errno != EEXIST)
				die("cannot create %s: %s", buf, strerror(errno));
			if (stat(buf, &st) || !S_ISDIR(st.st_mode))
				die("%s is not a directory", buf);
			if (!(*p = c))
				break;
		}
}

/* The stems are MUSDB18's four; --stems only states them. */
static void check_stems(const char *list)
{
	char buf[128];
	int seen = 0, n = 0;
	snprintf(buf, sizeof buf, "%s", list);
	for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ","), n++) {
		int s = 0;
		while (s < CORPUS_STEMS && strcmp(tok, corpus_stem_names[s]))
			s++;
		if (s == CORPUS_STEMS || seen & (1 << s))
			seen = -1;
		else
			seen |= 1 << s;
	}
	if (seen != (1 << CORPUS_STEMS) - 1 || n != CORPUS_STEMS)
		die("--stems %s: the stems are fixed to vocals,drums,bass,other (MUSDB18's)", list);
}

/* DIR/corpus.txt says what made the tracks; a run with another seed, length
 * or generator would mix two corpora, so it is refused. */
static void check_manifest(const struct options *o)
{
	char path[PATH_MAX], line[PATH_MAX + 64], key[32];
	long long v, have[3] = {-1, -1, -1};
	long long want[3] = {CORPUS_GENERATOR, (long long)o->seed, (long long)o->frames};
	static const char *const keys[3] = {"generator", "seed", "frames"};
	snprintf(path, sizeof path, "%s/corpus.txt", o->out);
	FILE *fp = fopen(path, "r");
	if (fp) {
		while (fgets(line, sizeof line, fp))
			for (int k = 0; k < 3; k++)
				if (sscanf(line, "%31s %lld", key, &v) == 2 && !strcmp(key, keys[k]))
					have[k] = v;
		fclose(fp);
		for (int k = 0; k < 3; k++)
			if (have[k] != want[k])
				die("%s was made with %s %lld, not %lld: use another -o, or the same options",
				    o->out, keys[k], have[k], want[k]);
		return;
	}
	struct atomic_file af;
	if (atomic_open(&af, path))
		die_lib("");
	fprintf(af.fp,
		"# tf-corpus: generated multi-stem corpus, MUSDB18 layout (man tf-corpus)\n"
		"generator %d\nseed %llu\nframes %lld\nseconds %.6g\nsample_rate %d\nchannels %d\n"
		"encoding float32\nstems vocals drums bass other\nmixture vocals+drums+bass+other\n",
		CORPUS_GENERATOR, (unsigned long long)o->seed, (long long)o->frames,
		(double)o->frames / CORPUS_RATE, CORPUS_RATE, CORPUS_CHANNELS);
	for (int i = 0; i < o->nsoundfonts; i++)
		fprintf(af.fp, "soundfont %s\n", o->soundfont[i]);
	fprintf(af.fp, "singers %s\n", o->singer_list);
	if (atomic_commit(&af))
		die_lib("");
}

/* Composes, renders, mixes and writes one track. */
static void make_track(const struct options *o, int split, int index)
{
	char dir[PATH_MAX], name[64];
	struct corpus_song song;
	size_t n = (size_t)o->frames * CORPUS_CHANNELS;
	float *stems[CORPUS_STEMS], *mix = malloc(n * sizeof *mix);
	split_dir(dir, sizeof dir, o, split);
	track_name(name, sizeof name, o, split, index);
	uint64_t seed = corpus_track_seed(o->seed, split, index);
	if (corpus_compose(&song, seed, o->frames, o->singers))
		die_lib(name);
	for (int s = 0; s < CORPUS_STEMS; s++)
		if (!(stems[s] = malloc(n * sizeof *stems[s])))
			die("out of memory");
	if (!mix)
		die("out of memory");
	for (int s = 0; s < CORPUS_STEMS; s++)
		if (corpus_render(&song, s, o->soundfont[corpus_mix64(seed + 1 + (uint64_t)s) % (uint64_t)o->nsoundfonts], stems[s]))
			die_lib(name);
	for (int s = 0; s < CORPUS_STEMS; s++)
		if (corpus_effects_apply(&song.part[s].effects, stems[s], o->frames))
			die_lib(name);
	corpus_mix(&song, stems, mix, n);
	int r = corpus_write_track(dir, name, stems, mix, o->frames);
	if (r < 0)
		die_lib("");
	info("%s/%s%s", splits[split], name, r ? ": made by another run meanwhile" : "");
	for (int s = 0; s < CORPUS_STEMS; s++)
		free(stems[s]);
	free(mix);
	corpus_song_free(&song);
}

/* The --jobs workers (0 once reaped), so that a signal to tf-corpus reaches
 * them too. */
static pid_t workers[MAX_JOBS];
static volatile sig_atomic_t nworkers;

static void on_signal(int sig)
{
	for (int w = 0; w < nworkers; w++)
		if (workers[w] > 0)
			kill(workers[w], sig);
	corpus_track_abort();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Nothing to do: its arrival interrupts the read of the workers' pipe. */
static void on_child(int sig)
{
	(void)sig;
}

/* Collects the workers that have ended (all of them, when wait); the first
 * that failed stops the others. */
static void reap(int wait, int *failed)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, wait ? 0 : WNOHANG)) > 0 || (pid < 0 && errno == EINTR)) {
		if (pid < 0)
			continue;
		for (int w = 0; w < nworkers; w++)
			if (workers[w] == pid)
				workers[w] = 0;
		if (WIFEXITED(status) && !WEXITSTATUS(status))
			continue;
		if (!*failed) {
			if (WIFSIGNALED(status))
				warn("a worker was killed by signal %d", WTERMSIG(status));
			for (int w = 0; w < nworkers; w++)
				if (workers[w] > 0)
					kill(workers[w], SIGTERM);
		}
		*failed = 1;
	}
}

/* --jobs: worker w makes tracks w, w + jobs, ..., and reports each on a pipe
 * with a byte (for the progress bar). -1 when any worker failed (it said
 * why). */
static int run_workers(const struct options *o, const int *todo, int ntodo, int jobs, struct progress *bar)
{
	int fds[2], failed = 0, done = 0;
	struct sigaction sa = {.sa_handler = on_child}; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	if (pipe(fds))
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	for (int w = 0; w < jobs; w++) {
		if ((workers[w] = fork()) < 0)
			die("fork: %s", strerror(errno));
		if (!workers[w]) {
			nworkers = 0;
			close(fds[0]);
			for (int k = w; k < ntodo; k += jobs) {
				make_track(o, todo[k] / MAX_TRACKS, todo[k] % MAX_TRACKS);
				if (write(fds[1], "+", 1) != 1)
					_exit(1);
			}
			fflush(NULL);
			_exit(0);
		}
		nworkers = w + 1;
	}
	close(fds[1]);
	for (;;) {
		char c;
		ssize_t n = read(fds[0], &c, 1);
		if (n == 1)
			progress_update(bar, ++done);
		else if (n == 0 || errno != EINTR)
			break;
		reap(0, &failed);
	}
	close(fds[0]);
	reap(1, &failed);
	return failed ? -1 : 0;
}

static void list_tracks(const struct options *o)
{
	char name[64], text[2048];
	for (int split = 0; split < 2; split++)
		for (int i = 0; i < o->count[split]; i++) {
			struct corpus_song song;
			track_name(name, sizeof name, o, split, i);
			if (corpus_compose(&song, corpus_track_seed(o->seed, split, i), o->frames, o->singers))
				die_lib(name);
			corpus_describe(&song, text, sizeof text);
			printf("%s/%s: %s\n", splits[split], name, text);
			corpus_song_free(&song);
		}
}

static void parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_TRAIN = 256, OPT_TEST, OPT_STEMS, OPT_SINGERS, OPT_SEED, OPT_SECONDS, OPT_SOUNDFONT, OPT_JOBS };
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'},	   {"seed", required_argument, 0, OPT_SEED},
		{"train", required_argument, 0, OPT_TRAIN}, {"test", required_argument, 0, OPT_TEST},
		{"seconds", required_argument, 0, OPT_SECONDS}, {"soundfont", required_argument, 0, OPT_SOUNDFONT},
		{"stems", required_argument, 0, OPT_STEMS}, {"jobs", required_argument, 0, OPT_JOBS},
		{"singers", required_argument, 0, OPT_SINGERS},
		{"list", no_argument, 0, 'l'},		   {"quiet", no_argument, 0, 'q'},
		{"verbose", no_argument, 0, 'v'},	   {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},	   {0, 0, 0, 0}};
	double seconds = 30;
	int opt;
	*o = (struct options){.seed = 1, .count = {100, 10}, .jobs = 1, .singer_list = "default"};
	/* -s, -t, -f, -j: the old spellings of --seed, --seconds, --soundfont,
	 * --jobs (doc/options.md) */
	while ((opt = getopt_long(argc, argv, "o:lqvhVs:t:f:j:", opts, NULL)) != -1) {
		if (common_option(opt, usage))
			continue;
		switch (opt) {
		case 'o': o->out = optarg; break;
		case OPT_SEED: case 's': o->seed = (uint64_t)parse_long(optarg, "--seed", 0, LONG_MAX); break;
		case OPT_TRAIN: o->count[0] = (int)parse_long(optarg, "--train", 0, MAX_TRACKS); break;
		case OPT_TEST: o->count[1] = (int)parse_long(optarg, "--test", 0, MAX_TRACKS); break;
		case OPT_SECONDS: case 't': seconds = parse_double(optarg, "--seconds", 1, MAX_SECONDS); break;
		case OPT_SOUNDFONT: case 'f':
			if (o->nsoundfonts == MAX_SOUNDFONTS)
				die("--soundfont: at most %d", MAX_SOUNDFONTS);
			o->soundfont[o->nsoundfonts++] = optarg;
			break;
		case OPT_STEMS: check_stems(optarg); break;
		case OPT_SINGERS: o->singer_list = optarg; break;
		case OPT_JOBS: case 'j': o->jobs = (int)parse_long(optarg, "--jobs", 1, MAX_JOBS); break;
		case 'l': o->list = 1; break;
		default: usage(stderr); exit(2);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s'; see --help", argv[optind]);
	o->frames = (int64_t)llround(seconds * CORPUS_RATE);
	if (corpus_singers_parse(o->singer_list, &o->singers))
		die_lib("--singers");
}

/* Making tracks (not --list) needs somewhere to put them, and some. */
static void check_making(const struct options *o)
{
	if (!o->out || !*o->out)
		die("no output directory: give -o DIR");
	if (!o->count[0] && !o->count[1])
		die("--train 0 and --test 0: no tracks to make");
}

static void check_soundfonts(struct options *o)
{
	if (!o->nsoundfonts)
		o->soundfont[o->nsoundfonts++] = DEFAULT_SOUNDFONT;
	for (int i = 0; i < o->nsoundfonts; i++)
		if (corpus_check_soundfont(o->soundfont[i]))
			die_lib("");
}

/* The directories, the manifest, and the tracks still to make (as
 * split * MAX_TRACKS + index, in todo). Returns how many there are. */
static int tracks_to_make(const struct options *o, int *todo, int *present)
{
	char dir[PATH_MAX], name[64];
	int ntodo = 0;
	*present = 0;
	make_dir(o->out);
	check_manifest(o);
	for (int split = 0; split < 2; split++) {
		split_dir(dir, sizeof dir, o, split);
		make_dir(dir);
		for (int i = 0; i < o->count[split]; i++) {
			track_name(name, sizeof name, o, split, i);
			if (corpus_track_done(dir, name))
				(*present)++;
			else
				todo[ntodo++] = split * MAX_TRACKS + i;
		}
	}
	if (*present)
		info("%d tracks already there", *present);
	return ntodo;
}

/* The work: over --jobs worker processes, or in this one. */
static void make_tracks(const struct options *o, const int *todo, int ntodo)
{
	struct progress bar;
	progress_start(&bar, "tracks", ntodo);
	int jobs = o->jobs < ntodo ? o->jobs : ntodo;
	if (jobs > 1 && run_workers(o, todo, ntodo, jobs, &bar))
		exit(1);
	for (int k = 0; jobs <= 1 && k < ntodo; k++) {
		make_track(o, todo[k] / MAX_TRACKS, todo[k] % MAX_TRACKS);
		progress_update(&bar, k + 1);
	}
	progress_end(&bar);
}

int main(int argc, char **argv)
{
	struct options o;
	int present;
	progname = "tf-corpus";
	args_begin();
	/* fluidsynth loads soundfonts with OpenMP; a thread pool made before
	 * --jobs forks would hang the workers (libgomp is not fork-safe), and the
	 * workers are the parallelism anyway */
	omp_set_num_threads(1);
	parse_args(argc, argv, &o);
	if (o.list) {
		args_end();
		list_tracks(&o);
		close_stdout();
		return 0;
	}
	check_making(&o);
	args_end();
	check_soundfonts(&o);

	int *todo = malloc(sizeof *todo * (size_t)(o.count[0] + o.count[1]));
	if (!todo)
		die("out of memory");
	int ntodo = tracks_to_make(&o, todo, &present);
	atexit(corpus_track_abort);
	signal(SIGINT, on_signal), signal(SIGTERM, on_signal), signal(SIGHUP, on_signal);
	make_tracks(&o, todo, ntodo);
	info("%d tracks made, %d were there, in %s", ntodo, present, o.out);
	free(todo);
	close_stdout();
	return 0;
}
