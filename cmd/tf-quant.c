/* tf-quant: a model file in, the same model with its weights stored in a
 * smaller type out, and a report on standard error. A filter:
 *   tf-quant -t f16 < model.bin > model-f16.bin */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "fileio.h"
#include "model.h"
#include "quant.h"

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: tf-quant -t TYPE [-o FILE] [MODEL]\n"
		"Writes MODEL (standard input when absent or '-') with its weights stored as\n"
		"TYPE, to standard output or FILE, and reports on standard error what it did.\n\n"
		"  -t, --type TYPE    f16: weights as half floats, computed in f32 (int8 types\n"
		"                     q8 and q8s are planned, not written yet)\n"
		"  -o, --output FILE  write to FILE (complete or not at all)\n"
		"  -v, --verbose      the error of every tensor too\n"
		"  -q, --quiet        no report\n"
		"  -h, --help         show this help\n"
		"  -V, --version      show the version\n");
}

static void report(const struct model *m, const struct quant_layer *q, const char *type)
{
	size_t before = 0, after = 0, kept_bytes = 0;
	int kept = 0, stats = 0, worst = -1;
	for (int i = 0; i < m->nspecs; i++) {
		before += q[i].bytes_before, after += q[i].bytes_after;
		kept += q[i].kept != NULL;
		kept_bytes += q[i].kept ? q[i].bytes_before : 0;
		stats += q[i].kept && !m->specs[i].trainable;
		if (!q[i].kept && (worst < 0 || q[i].rel_rms > q[worst].rel_rms))
			worst = i;
		if (verbose > 0)
			fprintf(stderr, "%s: %-60s %-4s max error %.3g, relative RMS error %.3g%s%s\n", progname,
				m->specs[i].name, dtype_traits[q[i].dtype].name, q[i].max_err, q[i].rel_rms,
				q[i].kept ? "; kept: " : "", q[i].kept ? q[i].kept : "");
	}
	if (verbose < 0)
		return;
	fprintf(stderr, "%s: %s: tensor data %.2f MB -> %.2f MB (%.1f %%)\n", progname, type, before / 1e6,
		after / 1e6, 100.0 * after / before);
	if (worst >= 0)
		fprintf(stderr, "%s: largest relative RMS error %.3g (max error %.3g) in %s\n", progname,
			q[worst].rel_rms, q[worst].max_err, m->specs[worst].name);
	fprintf(stderr,
		"%s: %d of %d tensors kept in f32: %d BatchNorm statistics and %d biases and norm weights "
		"(1-D, %.2f %% of the data; half precision would cost them most)\n",
		progname, kept, m->nspecs, stats, kept - stats, 100.0 * kept_bytes / before);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"type", required_argument, 0, 't'}, {"output", required_argument, 0, 'o'},
		{"verbose", no_argument, 0, 'v'},    {"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},       {"version", no_argument, 0, 'V'},
		{0, 0, 0, 0}};
	const char *type = NULL, *out_path = NULL;
	int opt;
	progname = "tf-quant";
	while ((opt = getopt_long(argc, argv, "t:o:vqhV", opts, NULL)) != -1) {
		switch (opt) {
		case 't': type = optarg; break;
		case 'o': out_path = optarg; break;
		case 'v': verbose++; break;
		case 'q': verbose = -1; break;
		case 'h': usage(stdout); return 0;
		case 'V': print_version(); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!type)
		die("no type given: use -t f16 (see --help)");
	if (quant_type_check(type))
		die_lib("");
	if (argc - optind > 1)
		die("one model at a time; see --help");
	const char *in_path = optind < argc ? argv[optind] : NULL;
	if ((!in_path || !strcmp(in_path, "-")) && isatty(0))
		die("no model: name a file, or pipe one in (see --help)");

	struct model m;
	if (model_load(&m, in_path))
		die_lib("");
	struct quant_layer *q = calloc((size_t)m.nspecs, sizeof *q);
	enum dtype *dt = calloc((size_t)m.nspecs, sizeof *dt);
	if (!q || !dt)
		die("out of memory");
	if (quant_plan(&m, type, q))
		die_lib("");
	for (int i = 0; i < m.nspecs; i++)
		dt[i] = q[i].dtype;
	snprintf(m.cfg.quantization, sizeof m.cfg.quantization, "%s", type);

	struct atomic_file af;
	FILE *out = output_open(out_path, &af, "a binary model");
	if (model_write_as(&m, out, dt))
		die_lib("writing the model");
	output_close(&af);
	report(&m, q, type);
	free(q), free(dt);
	model_free(&m);
	return 0;
}
