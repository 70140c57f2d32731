/* tf-export: imports a PyTorch checkpoint of the reference TFSWA-UNet (a
 * torch.save .pth, or safetensors) into a tfswa model file; --info
 * summarises a model file. The architecture comes from the weights; what
 * they cannot tell comes from the options, a JSON config, or the defaults.
 * Nothing in a checkpoint is executed (lib/import). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "fileio.h"
#include "export/export.h"
#include "import/import.h"
#include "model.h"
#include "modelpath.h"
#include "unet.h"

#define MAX_CHECKPOINT ((size_t)16 << 30) /* bytes of checkpoint read into memory */

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: tf-export [--from pth|safetensors|tfswa] [options] [--to FORMAT] INPUT\n"
		"       tf-export --info [--flops FxT] [MODEL]\n"
		"       tf-export --list\n"
		"Converts a TFSWA-UNet model between PyTorch checkpoints, safetensors and\n"
		"tfswa model files (standard output, or -o FILE). INPUT may be '-' for\n"
		"standard input. From a checkpoint, the architecture is read from the\n"
		"weights; the rest from the options below, a JSON config (--config), the\n"
		"settings a tfswa-written safetensors file carries, or the defaults.\n"
		"--info summarises a model file; --list the models -m NAME finds.\n\n"
		"  -f, --from FORMAT     input: pth (torch.save), safetensors, or tfswa (a model file);\n"
		"                        default: told by the input's first bytes\n"
		"  -o, --output FILE     write to FILE (complete or not at all)\n"
		"      --to FORMAT       output: tfswa (default), safetensors or pth (the reference's\n"
		"                        state_dict; a .pth cannot carry the settings), or onnx\n"
		"                        (the network for one input shape, opset 17)\n"
		"      --shape BxCxFxT   with --to onnx: the input shape, or FxT for batch 1 and the\n"
		"                        model's channels (default: one segment, 1 x C x bins x segment)\n"
		"      --dynamic-frames  with --to onnx: any number of frames (>= 8), the time axis\n"
		"                        a symbolic dimension; T of --shape is not used\n"
		"      --config FILE     JSON config (the reference's keys: num_heads, window_size,\n"
		"                        shift_size, mlp_ratio, ...); options given here override it\n"
		"      --num-heads N     attention heads (default 8)\n"
		"      --window-size N   window side of the window attention (default 8, or what a\n"
		"                        shifted block's attn_mask shows)\n"
		"      --shift-size N    shift of odd blocks' windows (default 4)\n"
		"      --mlp-ratio X     MLP width / channels (default 4)\n"
		"      --mask-shifted    Swin mask in shifted windows (off for reference checkpoints)\n"
		"      --sample-rate HZ  sample rate the model was trained at (default 44100)\n"
		"      --n-fft N         STFT size (default 2048)\n"
		"      --hop N           STFT hop (default 512)\n"
		"      --channels N      audio channels (default: in_channels / 2)\n"
		"      --stems A,B,...   stem names, in the order of the masks (default vocals,other)\n"
		"      --segment N       frames per segment for long inputs (default 256, at most 16384)\n"
		"      --overlap N       frames shared by neighbouring segments (default 64); these two\n"
		"                        may be given with a tfswa model file too (new defaults)\n"
		"      --provenance K=V  with --from tfswa: record where the model comes from (K: corpus,\n"
		"                        training, heldout, seed, steps, sdr, sdr.STEM); repeatable\n"
		"  -i, --info            print a summary of MODEL (a file, a name, or standard\n"
		"                        input), key: value, its provenance included; a .pth or\n"
		"                        .safetensors checkpoint file: its tensors and architecture\n"
		"      --list            list the models found by name: name, stems, parameters,\n"
		"                        size, type, held-out SDR, file\n"
		"      --flops FxT       with --info: the forward pass's GFLOP for F bins x T frames\n"
		"  -v, --verbose         say what is being done\n"
		"  -h, --help            show this help\n"
		"  -V, --version         show the version\n");
}

/* ---------- checkpoint readers and model writers ---------- */

static int read_pth(struct import_set *w, const void *buf, size_t len)
{
	return import_pth(w, buf, len, 0);
}

static const struct {
	const char *name;
	int (*read)(struct import_set *w, const void *buf, size_t len); /* NULL: the model reader */
} readers[] = {
	{"pth", read_pth},
	{"safetensors", import_safetensors},
	{"tfswa", NULL},
};

/* What a writer needs besides the model. */
struct writer_options {
	int64_t onnx_shape[4]; /* the input shape of an ONNX export, resolved in main */
	int onnx_dynamic;      /* --dynamic-frames */
};

static int write_tfswa(const struct model *m, FILE *fp, const struct writer_options *o)
{
	return model_write(m, fp);
}

static int write_safetensors(const struct model *m, FILE *fp, const struct writer_options *o)
{
	return export_safetensors(m, fp);
}

static int write_pth(const struct model *m, FILE *fp, const struct writer_options *o)
{
	return export_pth(m, fp);
}

static int write_onnx(const struct model *m, FILE *fp, const struct writer_options *o)
{
	return export_onnx(m, fp, o->onnx_shape, o->onnx_dynamic);
}

static const struct {
	const char *name;
	int (*write)(const struct model *m, FILE *fp, const struct writer_options *o);
} writers[] = {
	{"tfswa", write_tfswa},
	{"safetensors", write_safetensors},
	{"pth", write_pth},
	{"onnx", write_onnx},
};

/* "a, b, c": the names of a table of n entries of size bytes each, whose
 * first member is the name. */
static const char *format_list(const void *table, size_t n, size_t size, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = 0;
	for (size_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
					 *(const char *const *)((const char *)table + i * size));
	return buf;
}

static int reader_index(const char *name)
{
	char list[128];
	for (size_t i = 0; i < sizeof readers / sizeof *readers; i++)
		if (!strcmp(readers[i].name, name))
			return (int)i;
	die_usage("--from %s: unknown format (%s)", name,
		  format_list(readers, sizeof readers / sizeof *readers, sizeof *readers, list, sizeof list));
}

static int writer_index(const char *name)
{
	char list[128];
	for (size_t i = 0; i < sizeof writers / sizeof *writers; i++)
		if (!strcmp(writers[i].name, name))
			return (int)i;
	die_usage("--to %s: unknown format (%s)", name,
		  format_list(writers, sizeof writers / sizeof *writers, sizeof *writers, list, sizeof list));
}

/* ---------- --info ---------- */

/* "FxT" (bins x frames) for --flops */
static void parse_shape(const char *s, int *f, int *t)
{
	char *x;
	errno = 0;
	long a = strtol(s, &x, 10), b = *x == 'x' ? strtol(x + 1, &x, 10) : 0;
	if (errno || *x || a < 1 || b < 1 || a > 1 << 20 || b > 1 << 24)
		die_usage("--flops %s: expected FxT (bins x frames), e.g. 1025x259", s);
	*f = (int)a, *t = (int)b;
}

static void print_info(const struct model *m, int flops_f, int flops_t)
{
	const struct unet_config *c = &m->cfg;
	int order[CFG_COUNT], n = config_order(1, order);
	printf("kind: model\n");
	for (int i = 0; i < n; i++) {
		const struct config_field *f = &config_fields[order[i]];
		const void *p = config_cptr(c, f);
		printf("%s: ", f->key);
		switch (f->type) {
		case CT_INT: printf("%d", *(const int *)p); break;
		case CT_LEVELS:
			for (int l = 0; l < UNET_LEVELS; l++)
				printf("%s%d", l ? "," : "", ((const int *)p)[l]);
			break;
		case CT_REAL: printf("%g", *(const double *)p); break;
		case CT_BOOL: printf("%s", *(const int *)p ? "true" : "false"); break;
		case CT_ENUM: printf("%s", f->names->names[*(const int *)p]); break;
		case CT_STEMS:
			for (int s = 0; s < c->nstems; s++)
				printf("%s%s", s ? "," : "", c->stems[s]);
			break;
		case CT_TEXT: printf("%s", *(const char *)p ? (const char *)p : "none"); break;
		}
		printf("\n");
		if (order[i] == CFG_WINDOW) /* what the STFT makes of n_fft */
			printf("bins: %d\n", c->n_fft / 2 + 1);
	}
	printf("tensors: %d\n", m->nspecs);
	printf("parameters: %lld\n", (long long)unet_param_count(c));
	if (flops_f)
		printf("flops: %.3f\n", unet_flops(c, flops_f, flops_t) * 1e-9);
	const struct model_provenance *p = &c->prov;
	if (p->corpus[0])
		printf("provenance.corpus: %s\n", p->corpus);
	if (p->training[0])
		printf("provenance.training: %s\n", p->training);
	if (p->seed >= 0)
		printf("provenance.seed: %lld\n", (long long)p->seed);
	if (p->steps >= 0)
		printf("provenance.steps: %lld\n", (long long)p->steps);
	if (p->heldout[0])
		printf("provenance.heldout: %s\n", p->heldout);
	if (!isnan(p->sdr_mean))
		printf("provenance.sdr: %.2f\n", p->sdr_mean);
	for (int s = 0; s < c->nstems; s++)
		if (!isnan(p->sdr[s]))
			printf("provenance.sdr.%s: %.2f\n", c->stems[s], p->sdr[s]);
}

/* ---------- --provenance ---------- */

/* KEY=VALUE into the model's provenance (formats/model.md). */
static void set_provenance(struct unet_config *c, const char *kv)
{
	struct model_provenance *p = &c->prov;
	const char *eq = strchr(kv, '=');
	char key[64];
	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key)
		die("--provenance %s: expected KEY=VALUE", kv);
	memcpy(key, kv, (size_t)(eq - kv));
	key[eq - kv] = 0;
	const char *v = eq + 1;
	char *text = !strcmp(key, "corpus") ? p->corpus : !strcmp(key, "training") ? p->training
					 : !strcmp(key, "heldout") ? p->heldout : NULL;
	if (text) {
		if (strlen(v) >= MODEL_PROV_TEXT)
			die("--provenance %s: at most %d bytes", key, MODEL_PROV_TEXT - 1);
		strcpy(text, v);
	} else if (!strcmp(key, "seed")) {
		p->seed = parse_long(v, "--provenance seed", 0, INT64_MAX);
	} else if (!strcmp(key, "steps")) {
		p->steps = parse_long(v, "--provenance steps", 0, INT64_MAX);
	} else if (!strcmp(key, "sdr")) {
		p->sdr_mean = parse_double(v, "--provenance sdr", -1000, 1000);
	} else if (!strncmp(key, "sdr.", 4)) {
		int s = 0;
		while (s < c->nstems && strcmp(c->stems[s], key + 4))
			s++;
		if (s == c->nstems)
			die("--provenance %s: the model has no stem \"%s\"", key, key + 4);
		p->sdr[s] = parse_double(v, "--provenance sdr.STEM", -1000, 1000);
	} else {
		die("--provenance %s: unknown key (corpus, training, heldout, seed, steps, sdr, sdr.STEM)", key);
	}
}

/* ---------- --list ---------- */

/* By model name (the file name without .bin): compact before compact-f16. */
static int name_cmp(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t nx = strlen(x) - 4, ny = strlen(y) - 4;
	int c = strncmp(x, y, nx < ny ? nx : ny);
	return c ? c : (nx > ny) - (nx < ny);
}

/* One line per model file NAME.bin in the model directories, in search
 * order; a name already found in an earlier directory is marked shadowed. */
static void list_models(void)
{
	static char dirs[MODEL_DIRS_MAX][4096];
	char seen[256][128];
	int nseen = 0, ndirs = model_dirs(dirs, MODEL_DIRS_MAX);
	printf("%-16s %-26s %10s %9s %-5s %7s  %s\n", "name", "stems", "parameters", "size", "type", "SDR", "file");
	for (int d = 0; d < ndirs; d++) {
		DIR *dir = opendir(dirs[d]);
		if (!dir)
			continue;
		char *names[256];
		int n = 0;
		struct dirent *e;
		while ((e = readdir(dir)) && n < 256) {
			size_t len = strlen(e->d_name);
			if (len > 4 && len - 4 < sizeof seen[0] && !strcmp(e->d_name + len - 4, ".bin"))
				names[n++] = strdup(e->d_name);
		}
		closedir(dir);
		qsort(names, (size_t)n, sizeof *names, name_cmp);
		for (int i = 0; i < n; i++) {
			char path[8192], name[128], stems[MODEL_MAX_STEMS * 32] = "", size[32] = "?";
			struct unet_config c;
			struct stat st;
			snprintf(name, sizeof name, "%.*s", (int)strlen(names[i]) - 4, names[i]);
			snprintf(path, sizeof path, "%s/%s", dirs[d], names[i]);
			free(names[i]);
			int shadowed = 0;
			for (int k = 0; k < nseen; k++)
				shadowed |= !strcmp(seen[k], name);
			if (!shadowed && nseen < 256)
				strcpy(seen[nseen++], name);
			if (!stat(path, &st))
				snprintf(size, sizeof size, "%.1f MB", (double)st.st_size / 1e6);
			if (model_read_config(&c, path)) {
				printf("%-16s (not a model file: %s)  %s\n", name, tf_strerror(), path);
				continue;
			}
			for (int s = 0; s < c.nstems; s++)
				snprintf(stems + strlen(stems), sizeof stems - strlen(stems), "%s%s", s ? "," : "",
					 c.stems[s]);
			char sdr[16] = "-";
			if (!isnan(c.prov.sdr_mean))
				snprintf(sdr, sizeof sdr, "%.2f", c.prov.sdr_mean);
			printf("%-16s %-26s %10lld %9s %-5s %7s  %s%s\n", name, stems,
			       (long long)unet_param_count(&c), size,
			       quant_traits[c.quantization].type, sdr, path,
			       shadowed ? " (shadowed by the one above)" : "");
		}
	}
	close_stdout();
}

/* ---------- output ---------- */

/* --shape BxCxFxT or FxT (batch 1, the model's channels); without it one
 * segment of the model's own spectrogram. */
static void parse_onnx_shape(const char *spec, int64_t s[4])
{
	int64_t d[4];
	int n = shape_parse(spec, d, 4);
	if (n == 2)
		s[0] = 1, s[1] = 0, s[2] = d[0], s[3] = d[1];
	else if (n == 4)
		memcpy(s, d, sizeof d);
	else
		die_usage("--shape %s: %s", spec, n < 0 ? tf_strerror() : "expected BxCxFxT or FxT");
}

static void resolve_onnx_shape(const struct unet_config *c, const char *spec, int dynamic, int64_t s[4])
{
	if (spec) {
		parse_onnx_shape(spec, s);
		if (!s[1])
			s[1] = c->in_channels;
	} else {
		if (!c->segment && !dynamic)
			die("--to onnx: the model has no segment length (segment 0); give --shape or --dynamic-frames");
		s[0] = 1, s[1] = c->in_channels, s[2] = c->n_fft / 2 + 1, s[3] = c->segment ? c->segment : UNET_MIN_SIZE;
	}
	if (onnx_check_shape(c, s))
		die_lib(spec ? "--shape" : "--to onnx");
}

/* ---------- the command line ---------- */

/* The settings a tfswa model file may be given anew: how tf-unet cuts a
 * long input, not what the weights compute. */
#define RUN_SETTINGS (CFG_BIT(CFG_SEGMENT) | CFG_BIT(CFG_OVERLAP))

struct args {
	const char *from, *to, *out, *config, *flops, *input, *shape;
	int info, dynamic, list;
	const char *prov[32]; /* --provenance KEY=VALUE */
	int nprov;
	struct import_settings cli; /* the settings given as options */
};

/* A setting given as an option (--num-heads 4): the field's table row
 * says its type and range. */
static void setting_option(struct import_settings *s, int k, const char *arg)
{
	const struct config_field *f = &config_fields[k];
	void *p = config_ptr(&s->c, f);
	char name[48];
	int e;
	snprintf(name, sizeof name, "--%s", f->option);
	switch (f->type) {
	case CT_INT: *(int *)p = (int)parse_long(arg, name, (long)f->min, (long)f->max); break;
	case CT_REAL:
		*(double *)p = parse_double(arg, name, f->min, f->max);
		if (config_check_value(f, *(double *)p))
			die_lib(name);
		break;
	case CT_BOOL: *(int *)p = 1; break;
	case CT_STEMS:
		if (import_settings_stems(s, arg))
			die_lib(name);
		break;
	case CT_ENUM:
		if ((e = name_lookup(f->names, arg)) < 0)
			die_lib(name);
		*(int *)p = e;
		break;
	case CT_LEVELS:
	case CT_TEXT: die("%s: not settable", name);
	}
	s->set |= CFG_BIT(k);
}

static void parse_args(int argc, char **argv, struct args *a)
{
	enum { O_TO = 256, O_FLOPS, O_DYNAMIC, O_LIST, O_PROV, O_CONFIG, O_SHAPE, O_SETTING /* + the field's key */ };
	static const struct option fixed[] = {
		{"from", required_argument, 0, 'f'},       {"output", required_argument, 0, 'o'},
		{"to", required_argument, 0, O_TO},         {"config", required_argument, 0, O_CONFIG},
		{"shape", required_argument, 0, O_SHAPE},   {"dynamic-frames", no_argument, 0, O_DYNAMIC},
		{"info", no_argument, 0, 'i'},              {"flops", required_argument, 0, O_FLOPS},
		{"list", no_argument, 0, O_LIST},           {"provenance", required_argument, 0, O_PROV},
		{"verbose", no_argument, 0, 'v'},           {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'}};
	/* the fixed options, then one per setting with an option in the table */
	struct option opts[sizeof fixed / sizeof *fixed + CFG_COUNT + 1];
	size_t nopts = sizeof fixed / sizeof *fixed;
	memcpy(opts, fixed, sizeof fixed);
	for (int k = 0; k < CFG_COUNT; k++)
		if (config_fields[k].option)
			opts[nopts++] = (struct option){config_fields[k].option,
							config_fields[k].type == CT_BOOL ? no_argument : required_argument,
							0, O_SETTING + k};
	opts[nopts] = (struct option){0, 0, 0, 0};
	struct import_settings *c = &a->cli;
	int opt;
	memset(a, 0, sizeof *a);
	a->to = "tfswa";
	opterr = 0; /* one line of our own on bad options */
	/* -c, -s: the old spellings of --config, --shape (doc/options.md) */
	while ((opt = getopt_long(argc, argv, ":f:o:ivhVc:s:", opts, NULL)) != -1) {
		if (common_option(opt, usage))
			continue;
		if (opt >= O_SETTING && opt < O_SETTING + CFG_COUNT) {
			setting_option(c, opt - O_SETTING, optarg);
			continue;
		}
		switch (opt) {
		case 'f': a->from = optarg; break;
		case 'o': a->out = optarg; break;
		case O_TO: a->to = optarg; break;
		case O_CONFIG: case 'c': a->config = optarg; break;
		case 'i': a->info = 1; break;
		case O_SHAPE: case 's': a->shape = optarg; break;
		case O_DYNAMIC: a->dynamic = 1; break;
		case O_FLOPS: a->flops = optarg; break;
		case O_LIST: a->list = 1; break;
		case O_PROV:
			if (a->nprov == (int)(sizeof a->prov / sizeof *a->prov))
				die("too many --provenance");
			a->prov[a->nprov++] = optarg;
			break;
		case ':':
			die("option %s needs a value; see --help", argv[optind - 1]);
		default:
			if (optopt)
				die("unknown option -%c; see --help", optopt);
			die("unknown option %s; see --help", argv[optind - 1]);
		}
	}
	if (a->list) {
		if (a->info || a->from || a->out || a->config || a->shape || a->dynamic || c->set || a->flops ||
		    a->nprov || optind < argc)
			die("--list takes no other option or argument");
		return;
	}
	if (a->info) {
		if (a->from || a->out || a->config || a->shape || a->dynamic || c->set || a->nprov)
			die("--info takes only a model (and --flops); see --help");
		if (argc - optind > 1)
			die("--info takes one model at most");
		a->input = optind < argc ? argv[optind] : "-";
		return;
	}
	if (a->flops)
		die("--flops goes with --info");
	if (a->shape && strcmp(a->to, "onnx"))
		die("--shape goes with --to onnx");
	if (a->dynamic && strcmp(a->to, "onnx"))
		die("--dynamic-frames goes with --to onnx");
	if (a->nprov && a->from && strcmp(a->from, "tfswa"))
		die("--provenance goes with --from tfswa");
	if (a->from && !strcmp(a->from, "tfswa") && (a->config || (c->set & ~RUN_SETTINGS)))
		die("--from tfswa: the settings come from the model file; --config and settings options other than "
		    "--segment and --overlap do not apply");
	if (argc - optind != 1)
		die(argc == optind ? "no checkpoint given (a file, or '-' for standard input)"
				   : "one checkpoint at a time");
	a->input = argv[optind];
}

/* --info of a checkpoint (pth or safetensors): what the file says, read
 * in place (no model is allocated): its tensors, and the architecture
 * their shapes tell, when they are a TFSWA-UNet's. */
static void info_checkpoint(const char *path, const char *format)
{
	unsigned char *buf;
	size_t len, values = 0;
	struct import_set w;
	struct import_arch arch;
	struct unet_config cfg;
	struct import_settings none = {0};
	unsigned assumed;
	char shape[160], list[256];
	if (import_read_file(path, MAX_CHECKPOINT, &buf, &len) || readers[reader_index(format)].read(&w, buf, len))
		die_lib(path);
	for (int i = 0; i < w.n; i++)
		values += import_numel(&w.t[i]);
	printf("kind: %s checkpoint\n", w.format);
	printf("source: %s\n", w.source[0] ? w.source : "top level");
	printf("tensors: %d\n", w.n);
	printf("values: %zu\n", values);
	if (import_infer_arch(&w, &arch)) {
		printf("architecture: not a TFSWA-UNet's (%s)\n", tf_strerror());
	} else {
		printf("architecture: in %d, out %d, depths %d,%d,%d,%d, dims %d,%d,%d,%d\n", arch.in_channels,
		       arch.out_channels, arch.depths[0], arch.depths[1], arch.depths[2], arch.depths[3], arch.dims[0],
		       arch.dims[1], arch.dims[2], arch.dims[3]);
		if (!import_resolve(&cfg, &w, &none, &assumed)) {
			printf("parameters: %lld\n", (long long)unet_param_count(&cfg));
			printf("assumed: %s\n", assumed ? import_assumed_str(&cfg, assumed, 1, list, sizeof list) : "none");
		} else {
			printf("defaults: do not fit (%s)\n", tf_strerror());
		}
	}
	for (int i = 0; i < w.n; i++)
		printf("tensor: %s %s %s\n", w.t[i].name, dtype_traits[w.t[i].dtype].name,
		       shape_str(w.t[i].shape, w.t[i].ndim, shape, sizeof shape));
	import_set_free(&w);
	free(buf);
	close_stdout();
}

/* tf-export --info [MODEL] */
static void info_main(const struct args *a)
{
	struct model m;
	int f = 0, t = 0;
	if (a->flops)
		parse_shape(a->flops, &f, &t);
	char file[4096];
	if (!strcmp(a->input, "-") && isatty(0))
		die("--info: no model given (name a file or pipe one in)");
	/* read and checked without storing a tensor: a header that declares
	 * more than a model may hold is described all the same, then refused */
	if (model_resolve(a->input, file, sizeof file))
		die_lib("");
	if (strcmp(file, "-")) { /* a checkpoint is described as far as it says */
		unsigned char head[16];
		int fd = file_open_read(file);
		ssize_t n = fd < 0 ? -1 : pread(fd, head, sizeof head, 0);
		const char *format = n > 0 ? model_file_format(head, (size_t)n) : NULL;
		if (fd >= 0)
			close(fd);
		if (format && strcmp(format, "tfswa")) {
			info_checkpoint(file, format);
			return;
		}
	}
	int described, rc = model_check(&m, file, &described);
	if (!rc || (described && model_nparams(&m.cfg) > MODEL_MAX_PARAMS))
		print_info(&m, f, t);
	if (rc) {
		fflush(stdout);
		die_lib("");
	}
	model_free(&m);
	close_stdout();
}

/* The checkpoint in buf (read by main), checked against the architecture,
 * as a model. */
static void import(const struct args *a, int reader, struct model *m, unsigned char *buf, size_t len)
{
	struct import_settings settings = {0};
	struct import_set w;
	struct unet_config cfg;
	unsigned assumed;
	char list[256];
	const char *name = strcmp(a->input, "-") ? a->input : "standard input";
	/* the config file, then the options over it */
	if (a->config && import_settings_json(&settings, a->config))
		die_lib("--config");
	import_settings_merge(&settings, &a->cli);
	if (readers[reader].read(&w, buf, len))
		die_lib(name);
	info("%s: %d tensors (%s, %s)", name, w.n, w.format, w.source);
	if (import_resolve(&cfg, &w, &settings, &assumed))
		die_lib(name);
	/* what the weights cannot tell and nobody said: the model remembers
	 * (--info shows "assumed"), and a successful import says so once */
	if (assumed)
		import_assumed_str(&cfg, assumed, 0, cfg.assumed, sizeof cfg.assumed);
	if (import_model(m, &w, &cfg))
		die_lib(name);
	if (assumed)
		warn("warning: %s does not carry these settings and none were given; assumed %s (options or "
		     "--config if the checkpoint differs)",
		     name, import_assumed_str(&cfg, assumed, 1, list, sizeof list));
	info("architecture: in %d, out %d, depths %d,%d,%d,%d, dims %d,%d,%d,%d; %lld parameters", cfg.in_channels,
	     cfg.out_channels, cfg.depths[0], cfg.depths[1], cfg.depths[2], cfg.depths[3], cfg.dims[0], cfg.dims[1],
	     cfg.dims[2], cfg.dims[3], (long long)unet_param_count(&cfg));
	import_set_free(&w);
}

/* The input, and its format: --from, or its first bytes. A tfswa model from
 * a pipe is handed to the model reader through a memory file. Returns the
 * format; *fd is the model file's descriptor for tfswa, else *buf holds
 * the checkpoint. */
static const char *read_input(const struct args *a, int *fd, unsigned char **buf, size_t *len)
{
	const char *name = strcmp(a->input, "-") ? a->input : "standard input", *format = a->from;
	struct stat st;
	unsigned char head[16];
	ssize_t n;
	*buf = NULL, *len = 0;
	if ((*fd = file_open_read(a->input)) < 0)
		die_lib("");
	int regular = !fstat(*fd, &st) && S_ISREG(st.st_mode);
	off_t at = regular ? lseek(*fd, 0, SEEK_CUR) : -1;
	if (!format && regular) {
		if ((n = pread(*fd, head, sizeof head, at < 0 ? 0 : at)) < 0)
			die("%s: %s", name, strerror(errno));
		if (!(format = model_file_format(head, (size_t)n)))
			die("%s: not a checkpoint or model this reads (a torch.save zip, safetensors, or a tfswa "
			    "stream); give --from if it is one",
			    name);
	}
	if (format && !strcmp(format, "tfswa"))
		return format;
	if (import_read_fd(*fd, MAX_CHECKPOINT, buf, len))
		die_lib(name);
	if (*fd > 0)
		close(*fd);
	*fd = -1;
	if (!format && !(format = model_file_format(*buf, *len)))
		die("%s: not a checkpoint or model this reads (a torch.save zip, safetensors, or a tfswa stream); "
		    "give --from if it is one",
		    name);
	if (!strcmp(format, "tfswa")) {
		/* a model read whole from a pipe: back into a descriptor */
		if ((*fd = memfd_create("tf-export-input", MFD_CLOEXEC)) < 0)
			die("%s: cannot make a memory file: %s", name, strerror(errno));
		for (size_t done = 0; done < *len;) {
			ssize_t w = write(*fd, *buf + done, *len - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				die("%s: writing a memory file: %s", name, strerror(errno));
			done += (size_t)w;
		}
		free(*buf);
		*buf = NULL;
		if (lseek(*fd, 0, SEEK_SET) < 0)
			die("%s: %s", name, strerror(errno));
	}
	return format;
}

/* A tfswa model file on fd (from read_input). */
static void load_model(const struct args *a, int fd, struct model *m)
{
	const char *name = strcmp(a->input, "-") ? a->input : "";
	if (!a->from && (a->config || (a->cli.set & ~RUN_SETTINGS)))
		die("%s is a tfswa model: the settings come from the model file; --config and settings options "
		    "other than --segment and --overlap do not apply",
		    a->input);
	if (model_read(m, fd))
		die_lib(name);
	/* a new default segment or overlap: how tf-unet cuts long inputs, not
	 * the weights, so a model file may change them */
	if ((a->cli.set & RUN_SETTINGS) == CFG_BIT(CFG_SEGMENT)) /* as tf-unet --segment alone */
		m->cfg.overlap = config_overlap_for(&m->cfg, a->cli.c.segment);
	config_merge(&m->cfg, &a->cli.c, a->cli.set & RUN_SETTINGS);
	if (config_validate(&m->cfg))
		die_lib(name);
	if (fd > 0)
		close(fd);
}

int main(int argc, char **argv)
{
	struct args a;
	struct atomic_file af;
	struct model m;
	progname = "tf-export";
	args_begin();
	parse_args(argc, argv, &a);
	args_end();
	if (a.list) {
		list_models();
		return 0;
	}
	if (a.info) {
		info_main(&a);
		return 0;
	}
	struct writer_options wo = {.onnx_dynamic = a.dynamic};
	int writer = writer_index(a.to);
	if (a.from)
		reader_index(a.from); /* an unknown --from: refused before any work */
	if (a.shape)
		parse_onnx_shape(a.shape, wo.onnx_shape); /* bad syntax: refused before any work */
	/* a model given by name (-m compact) */
	char file[4096];
	if ((!a.from || !strcmp(a.from, "tfswa")) && strcmp(a.input, "-") && access(a.input, F_OK) &&
	    !model_resolve(a.input, file, sizeof file))
		a.input = file;
	unsigned char *buf;
	size_t len;
	int fd;
	const char *from = read_input(&a, &fd, &buf, &len);
	info("%s: %s%s", a.input, from, a.from ? "" : " (told by its first bytes)");
	if (a.nprov && strcmp(from, "tfswa"))
		die("--provenance goes with a tfswa model file, not a %s checkpoint", from);
	if (!strcmp(from, "tfswa")) {
		load_model(&a, fd, &m);
	} else {
		import(&a, reader_index(from), &m, buf, len);
		free(buf);
	}
	for (int i = 0; i < a.nprov; i++)
		set_provenance(&m.cfg, a.prov[i]);
	if (!strcmp(a.to, "onnx"))
		resolve_onnx_shape(&m.cfg, a.shape, a.dynamic, wo.onnx_shape);
	/* opened once the input is read and checked: a run stopped during the
	 * import (the slow part) has no temporary file to leave */
	FILE *out = output_open(a.out, &af, "a binary model");
	if (writers[writer].write(&m, out, &wo))
		die_lib("writing the model");
	output_close(&af);
	model_free(&m);
	return 0;
}
