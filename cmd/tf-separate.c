/* tf-separate: audio files in, a folder of stems per file out.
 * For each file it runs the pipeline tf-stft | tf-unet | tf-istft (the
 * programs next to this one, else from $PATH), relaying the spectrogram
 * stream between tf-stft and tf-unet so that it can draw one progress bar
 * per track. The programs' own messages are collected: a failed track gives
 * one line, and the next track goes on. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audio.h"
#include "cli.h"
#include "error.h"
#include "fileio.h"
#include "model.h"
#include "modelpath.h"

#define MAX_ARGS 32
#define ERR_KEEP 4096 /* bytes of a program's messages kept */
#define DEFAULT_TEMPLATE "{track}/{stem}.{ext}"

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: tf-separate [options] FILE...\n"
		"Separates each audio FILE into stems: tf-stft | tf-unet | tf-istft per file.\n\n"
		"  -m, --model MODEL    a model file or name (default: $TFSWA_MODEL, else compact)\n"
		"  -o, --output DIR     where the stems go (default: separated)\n"
		"      --filename T     each stem's path under DIR; {track} is the file's name\n"
		"                       without extension, {stem} the stem, {ext} the type\n"
		"                       (default '" DEFAULT_TEMPLATE "')\n"
		"  -s, --stem S,...     only these stems (default: all of the model's)\n"
		"      --two-stems S    write S and no_S (everything else) only\n"
		"  -t, --type TYPE      wav, flac, mp3, ogg or opus (default wav)\n"
		"  -b, --bits BITS      16, 24 or 32f: wav and flac (default 16)\n"
		"  -Q, --quality Q      0 (smallest) to 10 (best): mp3, ogg and opus (default 7)\n"
		"  -j, --threads N      threads for tf-unet (default: all cores)\n"
		"  -q, --quiet          no progress bar and no summary; errors still shown\n"
		"  -v, --verbose        say what is being done\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show the version\n");
}

/* ---- finding the programs and the model ---- */

static char exe_dir[PATH_MAX];

static void find_exe_dir(void)
{
	ssize_t n = readlink("/proc/self/exe", exe_dir, sizeof exe_dir - 1);
	if (n <= 0) {
		exe_dir[0] = 0;
		return;
	}
	exe_dir[n] = 0;
	char *slash = strrchr(exe_dir, '/');
	if (slash)
		*slash = 0;
}

/* The model: -m's (a file or a name), else $TFSWA_MODEL, else the shipped
 * one, "compact" (lib/modelpath.h says where models are looked for). */
static char *find_model(const char *arg)
{
	static char path[PATH_MAX + 64];
	const char *env = getenv("TFSWA_MODEL");
	if (!arg)
		arg = env && *env ? env : "compact";
	if (model_resolve(arg, path, sizeof path))
		die_lib("");
	return path;
}

/* Runs one of the pipeline's programs: the one beside this program when
 * there is one, else from $PATH. */
static _Noreturn void exec_program(char **argv)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s", exe_dir, argv[0]);
	if (exe_dir[0] && !access(path, X_OK))
		execv(path, argv);
	execvp(argv[0], argv);
	fprintf(stderr, "%s: cannot run %s: %s\n", progname, argv[0], strerror(errno));
	_exit(127);
}

/* ---- names ---- */

/* A name for messages and the bar: control characters (a newline in a file
 * name) shown as '?', so that one message stays one line. */
static char *printable(const char *s)
{
	char *out = strdup(s);
	if (!out)
		die("out of memory");
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 32 || *p == 127)
			*p = '?';
	return out;
}

/* The track's name: the file's last path component without its extension. */
static char *track_name(const char *file)
{
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	char *name = strdup(base);
	if (!name)
		die("out of memory");
	char *dot = strrchr(name, '.');
	if (dot && dot != name)
		*dot = 0;
	return name;
}

/* Appends s to the buffer, every % doubled when escape (tf-istft's -o
 * reads %s and %%). */
static void put(char **buf, size_t *len, size_t *cap, const char *s, int escape)
{
	for (; *s; s++) {
		if (*len + 3 > *cap && !(*buf = realloc(*buf, *cap = *cap * 2 + 64)))
			die("out of memory");
		if (*s == '%' && escape)
			(*buf)[(*len)++] = '%';
		(*buf)[(*len)++] = *s;
	}
	(*buf)[*len] = 0;
}

/* tf-istft's -o pattern for a track: DIR/TEMPLATE with {track} and {ext}
 * filled in, {stem} as %s. Dies on an unknown {field} (checked once at start). */
static char *output_pattern(const char *dir, const char *tmpl, const char *track, const char *ext)
{
	size_t len = 0, cap = 64;
	char *buf = malloc(cap);
	if (!buf)
		die("out of memory");
	buf[0] = 0;
	put(&buf, &len, &cap, dir, 1);
	put(&buf, &len, &cap, "/", 0);
	for (const char *p = tmpl; *p; p++) {
		char one[2] = {*p, 0};
		if (!strncmp(p, "{track}", 7))
			put(&buf, &len, &cap, track, 1), p += 6;
		else if (!strncmp(p, "{ext}", 5))
			put(&buf, &len, &cap, ext, 1), p += 4;
		else if (!strncmp(p, "{stem}", 6))
			put(&buf, &len, &cap, "%s", 0), p += 5;
		else if (*p == '{')
			die("--filename %s: unknown field at '%s' (there are {track}, {stem} and {ext})", tmpl, p);
		else
			put(&buf, &len, &cap, one, 1);
	}
	return buf;
}

/* The folders made for a track, removed again (when empty) if it fails. */
#define MAX_MADE 64
struct made_dirs {
	char *path[MAX_MADE];
	int n;
};

/* mkdir -p of the folder that path is in, noting what it made. 0, or -1
 * with errno. */
static int make_parent_dirs(const char *path, struct made_dirs *made)
{
	char *dir = strdup(path);
	int rc = 0;
	if (!dir)
		die("out of memory");
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		for (char *p = dir + 1; rc == 0; p++) {
			if (*p != '/' && *p)
				continue;
			char c = *p;
			*p = 0;
			if (!mkdir(dir, 0777)) {
				if (made->n < MAX_MADE && !(made->path[made->n++] = strdup(dir)))
					die("out of memory");
			} else if (errno != EEXIST)
				rc = -1;
			*p = c;
			if (!c)
				break;
		}
		struct stat st;
		if (rc == 0 && (stat(dir, &st) || !S_ISDIR(st.st_mode)))
			rc = -1, errno = errno ? errno : ENOTDIR;
	}
	free(dir);
	return rc;
}

static void remove_made_dirs(struct made_dirs *made, int keep)
{
	while (made->n > 0) {
		char *dir = made->path[--made->n];
		if (!keep)
			rmdir(dir);
		free(dir);
	}
}

/* ---- running one track ---- */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

struct child {
	const char *name; /* tf-stft, tf-unet, tf-istft */
	pid_t pid;
	int err_fd;       /* its stderr, read here */
	char err[ERR_KEEP];
	size_t err_len;
	int status, exit_order;
};

/* Starts argv with stdin and stdout on the given descriptors (-1: keep) and
 * stderr into a pipe, in process group *pgid (the first child makes it). */
static void spawn(struct child *c, char **argv, int in, int out, pid_t *pgid, int *close_fds, int nclose)
{
	int err[2];
	if (pipe(err))
		die("pipe: %s", strerror(errno));
	c->name = argv[0];
	c->err_fd = err[0];
	c->err_len = 0;
	c->exit_order = -1;
	fcntl(err[0], F_SETFD, FD_CLOEXEC);
	if ((c->pid = fork()) < 0)
		die("fork: %s", strerror(errno));
	if (c->pid == 0) {
		setpgid(0, *pgid);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		if ((in >= 0 && dup2(in, 0) < 0) || (out >= 0 && dup2(out, 1) < 0) || dup2(err[1], 2) < 0)
			_exit(127);
		for (int i = 0; i < nclose; i++)
			if (close_fds[i] > 2)
				close(close_fds[i]);
		close(err[1]);
		exec_program(argv);
	}
	setpgid(c->pid, *pgid);
	if (!*pgid)
		*pgid = c->pid;
	close(err[1]);
}

/* Keeps the first ERR_KEEP bytes of a child's messages; 0 at its end. */
static int read_err(struct child *c)
{
	char buf[4096];
	ssize_t n = read(c->err_fd, buf, sizeof buf);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return 0;
	size_t keep = (size_t)n < ERR_KEEP - 1 - c->err_len ? (size_t)n : ERR_KEEP - 1 - c->err_len;
	memcpy(c->err + c->err_len, buf, keep);
	c->err_len += keep;
	c->err[c->err_len] = 0;
	return 1;
}

struct relay {
	int in, out;          /* from tf-stft, to tf-unet; -1 once closed */
	char buf[1 << 16];
	size_t len, off;
	int64_t bytes;        /* relayed so far */
};

/* Moves what is ready from tf-stft to tf-unet. If tf-unet stops reading,
 * the rest is dropped (and tf-stft, its pipe closed, stops too). */
static void relay_step(struct relay *r, short in_events, short out_events)
{
	if (r->len == r->off && r->in >= 0 && (in_events & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t n = read(r->in, r->buf, sizeof r->buf);
		if (n > 0)
			r->len = (size_t)n, r->off = 0;
		else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
			close(r->in), r->in = -1;
		}
	}
	if (r->len > r->off && r->out >= 0 && (out_events & (POLLOUT | POLLERR | POLLHUP))) {
		ssize_t n = write(r->out, r->buf + r->off, r->len - r->off);
		if (n > 0)
			r->off += (size_t)n, r->bytes += n;
		else if (n < 0 && errno != EINTR && errno != EAGAIN) {
			/* tf-unet is gone: stop relaying */
			close(r->out), r->out = -1;
			if (r->in >= 0)
				close(r->in), r->in = -1;
		}
	}
	if (r->len == r->off && r->in < 0 && r->out >= 0)
		close(r->out), r->out = -1;
}

/* What the command line asks for: the stages' options passed on as given. */
struct options {
	const char *model, *stems, *two_stems, *type, *bits, *quality, *threads;
	int quiet;
	const char *out_dir, *tmpl, *ext; /* -o, --filename, the stems' extension */
	char **files;
	int nfiles;
};

/* Expected spectrogram bytes of a file (for the bar), or 0 when unknown.
 * Only a regular file is opened here: a pipe's bytes are tf-stft's. */
static int64_t expected_bytes(const char *file, const struct unet_config *cfg)
{
	struct audio_info info;
	struct stat st;
	if (stat(file, &st) || !S_ISREG(st.st_mode))
		return 0;
	struct audio_reader *ar = audio_reader_open(file, &info);
	if (!ar)
		return 0;
	audio_reader_close(ar);
	if (info.approx_frames <= 0 || info.sample_rate <= 0)
		return 0;
	int64_t samples = resampled_length(info.approx_frames, info.sample_rate, cfg->sample_rate);
	return (1 + samples / cfg->hop) * cfg->channels * (cfg->n_fft / 2 + 1) * 8;
}

/* Separates one file; 0 when every stem was written, else -1 with the
 * reason in why (one line). */
static int separate(const char *file, const char *pattern, const char *label, const struct options *o,
		    const struct unet_config *cfg, char *why, size_t why_size)
{
	char in_arg[PATH_MAX + 8];
	/* "-" would be standard input to tf-stft */
	snprintf(in_arg, sizeof in_arg, "%s%s", strcmp(file, "-") ? "" : "./", file);
	if (strlen(file) + 3 > sizeof in_arg) {
		snprintf(why, why_size, "file name too long");
		return -1;
	}
	char *stft_argv[MAX_ARGS] = {"tf-stft", "-m", (char *)o->model, "--", in_arg, NULL};
	char *unet_argv[MAX_ARGS] = {"tf-unet", "-m", (char *)o->model, NULL};
	char *istft_argv[MAX_ARGS] = {"tf-istft", "-o", (char *)pattern, NULL};
	int na = 3;
	if (o->threads)
		unet_argv[3] = "-j", unet_argv[4] = (char *)o->threads, unet_argv[5] = NULL;
	if (o->stems)
		istft_argv[na++] = "-s", istft_argv[na++] = (char *)o->stems;
	if (o->two_stems)
		istft_argv[na++] = "--two-stems", istft_argv[na++] = (char *)o->two_stems;
	if (o->type)
		istft_argv[na++] = "-t", istft_argv[na++] = (char *)o->type;
	if (o->bits)
		istft_argv[na++] = "-b", istft_argv[na++] = (char *)o->bits;
	if (o->quality)
		istft_argv[na++] = "-Q", istft_argv[na++] = (char *)o->quality;
	if (o->quiet)
		istft_argv[na++] = "-q";
	istft_argv[na] = NULL;

	int a[2], b[2], c[2];
	if (pipe(a) || pipe(b) || pipe(c))
		die("pipe: %s", strerror(errno));
	int all[6] = {a[0], a[1], b[0], b[1], c[0], c[1]};
	struct child kids[3];
	pid_t pgid = 0;
	spawn(&kids[0], stft_argv, -1, a[1], &pgid, all, 6);
	spawn(&kids[1], unet_argv, b[0], c[1], &pgid, all, 6);
	spawn(&kids[2], istft_argv, c[0], -1, &pgid, all, 6);
	close(a[1]), close(b[0]), close(c[0]), close(c[1]);
	static struct relay r;
	r = (struct relay){.in = a[0], .out = b[1]};
	fcntl(r.in, F_SETFL, O_NONBLOCK);
	fcntl(r.out, F_SETFL, O_NONBLOCK);

	struct progress bar;
	progress_start(&bar, label, 0);
	if (o->quiet)
		bar.active = 0;
	if (bar.active)
		bar.total = expected_bytes(file, cfg);
	int open_errs = 3, exits = 0, killed = 0;
	while (open_errs > 0 || r.in >= 0 || r.out >= 0) {
		if (got_signal && !killed) {
			/* stop the track: tf-istft, its input cut short, then
			 * fails and removes its unfinished files */
			kill(kids[0].pid, SIGTERM), kill(kids[1].pid, SIGTERM);
			killed = 1;
		}
		struct pollfd p[5];
		int np = 0, ri = -1, ro = -1, ei[3];
		if (r.in >= 0 && r.len == r.off)
			ri = np, p[np++] = (struct pollfd){.fd = r.in, .events = POLLIN};
		if (r.out >= 0 && r.len > r.off)
			ro = np, p[np++] = (struct pollfd){.fd = r.out, .events = POLLOUT};
		for (int k = 0; k < 3; k++) {
			ei[k] = -1;
			if (kids[k].err_fd >= 0)
				ei[k] = np, p[np++] = (struct pollfd){.fd = kids[k].err_fd, .events = POLLIN};
		}
		if (poll(p, (nfds_t)np, 200) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		relay_step(&r, ri >= 0 ? p[ri].revents : 0, ro >= 0 ? p[ro].revents : 0);
		for (int k = 0; k < 3; k++)
			if (ei[k] >= 0 && p[ei[k]].revents && !read_err(&kids[k])) {
				close(kids[k].err_fd), kids[k].err_fd = -1;
				kids[k].exit_order = exits++;
				open_errs--;
			}
		if (bar.total > 0 && r.bytes >= bar.total)
			bar.total = r.bytes + 1; /* a longer file than its header said */
		progress_update(&bar, r.bytes);
	}
	for (int k = 0; k < 3; k++)
		while (waitpid(kids[k].pid, &kids[k].status, 0) < 0 && errno == EINTR)
			;

	/* the first program to end with a failure says why */
	struct child *culprit = NULL;
	for (int k = 0; k < 3; k++) {
		struct child *ch = &kids[k];
		if (ch->status == 0)
			continue;
		if (!culprit || ch->exit_order < culprit->exit_order)
			culprit = ch;
	}
	if (!culprit) {
		progress_end(&bar);
		for (int k = 0; k < 3; k++)
			if (kids[k].err_len)
				fputs(kids[k].err, stderr); /* warnings, e.g. clipping */
		return 0;
	}
	if (bar.active && bar.last > bar.start)
		fputc('\n', stderr);
	bar.active = 0;
	char *msg = culprit->err, *nl = strchr(msg, '\n');
	if (nl)
		*nl = 0;
	if (got_signal)
		snprintf(why, why_size, "interrupted");
	else if (*msg)
		snprintf(why, why_size, "%.*s", (int)why_size - 1, msg);
	else if (WIFSIGNALED(culprit->status))
		snprintf(why, why_size, "%s: killed by signal %d", culprit->name, WTERMSIG(culprit->status));
	else
		snprintf(why, why_size, "%s: exit status %d", culprit->name, WEXITSTATUS(culprit->status));
	for (char *p = why; *p; p++)
		if ((unsigned char)*p < 32)
			*p = '?';
	return -1;
}

/* ---- main ---- */

/* Checks a comma list of stems against the model's. */
static void check_stems(const char *list, const struct unet_config *cfg, const char *opt)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		die("out of memory");
	for (char *s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
		int found = 0;
		for (int i = 0; i < cfg->nstems; i++)
			found |= !strcmp(s, cfg->stems[i]);
		if (!found) {
			char have[MODEL_MAX_STEMS * 34] = "";
			for (int i = 0; i < cfg->nstems; i++)
				strcat(strcat(have, i ? ", " : ""), cfg->stems[i]);
			die("%s %s: the model has no stem \"%s\" (it has: %s)", opt, list, s, have);
		}
	}
	free(copy);
}

static void parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_FILENAME = 256, OPT_TWO_STEMS };
	static const struct option opts[] = {
		{"model", required_argument, 0, 'm'},       {"output", required_argument, 0, 'o'},
		{"filename", required_argument, 0, OPT_FILENAME},
		{"stem", required_argument, 0, 's'},        {"two-stems", required_argument, 0, OPT_TWO_STEMS},
		{"type", required_argument, 0, 't'},        {"bits", required_argument, 0, 'b'},
		{"quality", required_argument, 0, 'Q'},
		{"threads", required_argument, 0, 'j'},     {"quiet", no_argument, 0, 'q'},
		{"verbose", no_argument, 0, 'v'},           {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},           {0, 0, 0, 0}};
	int opt;
	*o = (struct options){.out_dir = "separated", .tmpl = DEFAULT_TEMPLATE};
	while ((opt = getopt_long(argc, argv, "m:o:s:t:b:Q:j:qvhV", opts, NULL)) != -1) {
		if (opt == 'q')
			o->quiet = 1; /* passed on to the stages */
		if (common_option(opt, usage))
			continue;
		switch (opt) {
		case 'm': o->model = optarg; break;
		case 'o': o->out_dir = optarg; break;
		case OPT_FILENAME: o->tmpl = optarg; break;
		case 's': o->stems = optarg; break;
		case OPT_TWO_STEMS: o->two_stems = optarg; break;
		case 't': o->type = optarg; break;
		case 'b': o->bits = optarg; break;
		case 'Q': parse_double(optarg, "--quality", 0, 10), o->quality = optarg; break;
		case 'j': parse_long(optarg, "--threads", 1, 4096), o->threads = optarg; break;
		default: usage(stderr); exit(2);
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "%s: no input files; see --help\n", progname);
		exit(2);
	}
	o->files = argv + optind, o->nfiles = argc - optind;
	if (!*o->out_dir || !*o->tmpl)
		die("-o and --filename must not be empty");
	if (o->stems && o->two_stems)
		die("-s and --two-stems do not go together");
	o->ext = o->type ? o->type : "wav";
	if (strchr(o->ext, '/') || strchr(o->ext, '{'))
		die("-t %s: not a type", o->ext);
	free(output_pattern(o->out_dir, o->tmpl, "", o->ext)); /* dies on an unknown field */
	if (!strstr(o->tmpl, "{stem}") && !(o->stems && !strchr(o->stems, ',')))
		die("--filename %s: several stems need {stem} in it (or pick one with -s)", o->tmpl);
}

/* The model (its file in o->model from now on), and the stems asked for
 * checked against it. */
static void load_model(struct options *o, struct unet_config *cfg)
{
	o->model = find_model(o->model);
	if (model_read_config(cfg, o->model))
		die_lib("reading the model");
	if (o->stems)
		check_stems(o->stems, cfg, "-s");
	if (o->two_stems)
		check_stems(o->two_stems, cfg, "--two-stems");
}

/* The names tf-istft will write, for making their folders. */
struct stem_names {
	char name[MODEL_MAX_STEMS + 2][40];
	int n;
};

static void stem_names(const struct options *o, const struct unet_config *cfg, struct stem_names *sn)
{
	sn->n = 0;
	if (o->two_stems) {
		snprintf(sn->name[sn->n++], sizeof sn->name[0], "%s", o->two_stems);
		snprintf(sn->name[sn->n++], sizeof sn->name[0], "no_%s", o->two_stems);
	} else {
		for (int i = 0; i < cfg->nstems; i++)
			snprintf(sn->name[sn->n++], sizeof sn->name[0], "%s", cfg->stems[i]);
	}
}

/* An interrupt stops the track under way (see separate()), then the run. */
static void catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Track i: its folders made, then separated; a failure said in one line.
 * patterns[i] keeps its -o pattern when it worked (later tracks must not
 * write over its stems). 0 or -1. */
static int one_track(const struct options *o, const struct unet_config *cfg, const struct stem_names *sn,
		     char **patterns, int i)
{
	const char *file = o->files[i];
	char *track = track_name(file), *label = printable(file), why[512] = "";
	char *pattern = output_pattern(o->out_dir, o->tmpl, track, o->ext);
	int rc = 0;
	for (int j = 0; j < i && !rc; j++)
		if (patterns[j] && !strcmp(patterns[j], pattern)) {
			char *other = printable(o->files[j]);
			snprintf(why, sizeof why, "its stems would overwrite those of %s (use --filename)", other);
			free(other);
			rc = -1;
		}
	struct made_dirs made = {.n = 0};
	for (int k = 0; k < sn->n && !rc; k++) {
		char *path = stem_path_expand(pattern, sn->name[k]);
		if (!path)
			die_lib("");
		if (make_parent_dirs(path, &made))
			snprintf(why, sizeof why, "cannot create the folder for %.300s: %s", path, strerror(errno)),
				rc = -1;
		free(path);
	}
	if (!rc) {
		info("%s -> %s", label, pattern);
		rc = separate(file, pattern, label, o, cfg, why, sizeof why);
	}
	remove_made_dirs(&made, !rc);
	if (rc) {
		fprintf(stderr, "%s: %s: %s\n", progname, label, why);
		free(pattern);
	} else
		patterns[i] = pattern;
	free(track), free(label);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o;
	struct unet_config cfg;
	struct stem_names sn;
	progname = "tf-separate";
	args_begin();
	parse_args(argc, argv, &o);
	args_end(); /* what follows depends on the model: runtime errors */
	find_exe_dir();
	load_model(&o, &cfg);
	stem_names(&o, &cfg, &sn);
	catch_signals();

	/* the loop: one track after the other */
	int done = 0, failed = 0;
	char **patterns = calloc((size_t)o.nfiles, sizeof *patterns);
	if (!patterns)
		die("out of memory");
	for (int i = 0; i < o.nfiles && !got_signal; i++) {
		if (one_track(&o, &cfg, &sn, patterns, i))
			failed++;
		else
			done++;
	}
	if (got_signal) {
		fprintf(stderr, "%s: interrupted after %d done, %d failed\n", progname, done, failed);
		signal(got_signal, SIG_DFL);
		raise(got_signal);
		return 1;
	}
	if (!o.quiet)
		fprintf(stderr, "%s: %d done, %d failed\n", progname, done, failed);
	for (int i = 0; i < o.nfiles; i++)
		free(patterns[i]);
	free(patterns);
	return failed ? 1 : 0;
}
