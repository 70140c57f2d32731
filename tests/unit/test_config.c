/* The settings' name tables and the table of configuration fields
 * (lib/config.c): every field round trips through the model header
 * (msgpack) and the JSON settings, merges alone, is range-checked; unknown
 * names are refused naming the known ones; the key orders of the JSON
 * settings and of --info stay those of earlier versions. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "export/export.h"
#include "import/import.h"
#include "model.h"
#include "stream.h"
#include "test.h"

/* A valid configuration in which every field differs from the default
 * (except the window, which has one value). */
static void config_other(struct unet_config *c)
{
	static const int depths[] = {1, 2, 3, 0}, dims[] = {8, 16, 16, 32};
	config_default(c);
	c->in_channels = 4, c->out_channels = 6;
	memcpy(c->depths, depths, sizeof depths);
	memcpy(c->dims, dims, sizeof dims);
	c->window_size = 4, c->shift_size = 1, c->num_heads = 4, c->mlp_ratio = 2.5, c->mask_shifted = 1;
	c->sample_rate = 48000, c->n_fft = 1024, c->hop = 256;
	c->channels = 2, c->nstems = 3;
	strcpy(c->stems[0], "drums"), strcpy(c->stems[1], "bass"), strcpy(c->stems[2], "rest");
	c->normalization = NORM_SCALE, c->input_scale = 3.25;
	c->segment = 128, c->overlap = 16;
	c->quantization = QUANT_Q8S;
	strcpy(c->assumed, "num_heads,stems");
}

static int field_equal(const struct unet_config *a, const struct unet_config *b, const struct config_field *f)
{
	if (f->type == CT_STEMS) {
		if (a->nstems != b->nstems)
			return 0;
		for (int s = 0; s < a->nstems; s++)
			if (strcmp(a->stems[s], b->stems[s]))
				return 0;
		return 1;
	}
	if (f->type == CT_TEXT)
		return !strcmp(config_cptr(a, f), config_cptr(b, f));
	return !memcmp(config_cptr(a, f), config_cptr(b, f), f->size);
}

/* The header of c (with one key replaced when key is not NULL) written to
 * a file and read back with model_read_config. */
static int header_round_trip(const struct unet_config *c, const char *key, const char *value,
			     struct unet_config *back)
{
	char path[] = "/tmp/test_config_XXXXXX";
	int fd = mkstemp(path), rc = -1;
	FILE *fp = fdopen(fd, "wb");
	struct stream_writer *w = stream_writer_open(fp);
	struct frame *f = frame_new();
	if (!config_to_frame(c, f) && (!key || !frame_set_str(f, key, value)) &&
	    !stream_write_header(w, "model", f) && !stream_write_end(w, NULL))
		rc = 0;
	stream_writer_close(w);
	frame_free(f);
	fclose(fp);
	if (!rc)
		rc = model_read_config(back, path);
	unlink(path);
	return rc;
}

static void test_names(void)
{
	const struct name_table *tables[] = {&quantization_names, &normalization_names, &window_names};
	int all = 1;
	for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
		for (int i = 0; i < tables[t]->n; i++)
			all &= name_lookup(tables[t], tables[t]->names[i]) == i;
	ok(all, "every name of the three tables looks up to its own value");
	for (int q = 0; q < QUANT_COUNT; q++)
		all &= !strcmp(quant_traits[q].name, quantization_names.names[q]);
	ok(all, "the storage traits and the quantization names agree");
	ok(quant_traits[QUANT_Q8S].int8 && quant_traits[QUANT_Q8S].act_scales && quant_traits[QUANT_Q8].int8 &&
		   !quant_traits[QUANT_Q8].act_scales && quant_traits[QUANT_F16].store == DT_F16 &&
		   !quant_traits[QUANT_F16].int8 && quant_traits[QUANT_NONE].store == DT_F32,
	   "f16 stores halves; q8 int8 with scales; q8s int8 with calibrated input scales too");
	int rc = name_lookup(&quantization_names, "q4");
	ok(rc < 0 && !strcmp(tf_strerror(), "quantization \"q4\" is not supported by this version (none, f16, q8, q8s, bf16)"),
	   "an unknown quantization is refused, the known ones listed: %s", tf_strerror());
}

static void test_table(void)
{
	int order[CFG_COUNT], n, rank_ok = 1, bits = 1;
	/* each position used once: a new row that reuses one would go unseen */
	for (int info = 0; info < 2; info++)
		for (int k = 0; k < CFG_COUNT; k++)
			for (int j = k + 1; j < CFG_COUNT; j++) {
				int a = info ? config_fields[k].info : config_fields[k].json;
				int b = info ? config_fields[j].info : config_fields[j].json;
				rank_ok &= !a || a != b;
			}
	ok(rank_ok, "no two fields share a JSON or an --info position");
	n = config_order(1, order);
	ok(n == CFG_COUNT, "--info shows all %d fields (%d)", CFG_COUNT, n);
	n = config_order(0, order);
	ok(n == CFG_COUNT - 2 && config_fields[CFG_WINDOW].json == 0 && config_fields[CFG_QUANTIZATION].json == 0,
	   "the JSON settings carry every field but window and quantization (%d)", n);
	for (int k = 0; k < CFG_COUNT; k++)
		bits &= config_fields[k].key && config_fields[k].size > 0 &&
			(config_fields[k].type != CT_ENUM || config_fields[k].names);
	ok(bits && CFG_COUNT <= 32, "every row has a key, a size and (enums) names; the bits fit an unsigned");
}

static void test_msgpack(void)
{
	struct unet_config def, c, back;
	int differ = 1, same = 1, rc;
	config_default(&def);
	config_other(&c);
	int valid = !config_validate(&c);
	ok(valid, "the test configuration is valid: %s", valid ? "yes" : tf_strerror());
	for (int k = 0; k < CFG_COUNT; k++)
		if (!(config_fields[k].type == CT_ENUM && config_fields[k].names->n == 1))
			differ &= !field_equal(&c, &def, &config_fields[k]);
	ok(differ, "it differs from the default in every field that has more than one value");
	rc = header_round_trip(&c, NULL, NULL, &back);
	ok(!rc, "header written and read back: %s", rc ? tf_strerror() : "ok");
	for (int k = 0; !rc && k < CFG_COUNT; k++)
		if (!field_equal(&c, &back, &config_fields[k]))
			same = 0, printf("# %s differs after the round trip\n", config_fields[k].key);
	ok(!rc && same, "every field comes back from the model header");

	rc = header_round_trip(&c, "quantization", "q4", &back);
	ok(rc < 0 && strstr(tf_strerror(), "quantization \"q4\" is not supported by this version (none, f16, q8, q8s, bf16)"),
	   "a header with an unknown quantization is refused: %s", tf_strerror());
	rc = header_round_trip(&c, "window", "hamming", &back);
	ok(rc < 0 && strstr(tf_strerror(), "window \"hamming\" is not supported by this version (hann)"),
	   "an unknown window is refused: %s", tf_strerror());
	rc = header_round_trip(&c, "normalization", "loud", &back);
	ok(rc < 0 && strstr(tf_strerror(), "(none, scale)"), "an unknown normalization is refused: %s",
	   tf_strerror());

	/* no assumed settings: the key is left out, and comes back empty */
	c.assumed[0] = 0;
	rc = header_round_trip(&c, NULL, NULL, &back);
	ok(!rc && !back.assumed[0], "an empty \"assumed\" round trips as empty");
}

static void test_json(void)
{
	struct unet_config def, c;
	struct import_settings s = {0};
	unsigned want = 0;
	int same = 1;
	config_default(&def);
	char *text = export_settings_json(&def);
	ok(text && !strcmp(text, "{\"in_channels\": 2, \"out_channels\": 2, \"depths\": [2, 2, 6, 2], \"dims\": [32, "
				 "64, 128, 256], \"window_size\": 8, \"shift_size\": 4, \"num_heads\": 8, "
				 "\"mlp_ratio\": 4, \"mask_shifted\": false, \"sample_rate\": 44100, \"n_fft\": 2048, "
				 "\"hop\": 512, \"channels\": 1, \"stems\": [\"vocals\", \"other\"], \"segment\": 256, "
				 "\"overlap\": 64, \"normalization\": \"none\", \"input_scale\": 1}"),
	   "the default's JSON settings, byte for byte those of earlier versions: %s", text ? text : "NULL");
	free(text);

	config_other(&c);
	c.mlp_ratio = 1.0 / 3; /* %.17g brings a double back bit for bit */
	text = export_settings_json(&c);
	int rc = text ? import_settings_json_text(&s, text, strlen(text)) : -1;
	ok(!rc, "the JSON settings read back: %s", rc ? tf_strerror() : "ok");
	for (int k = 0; k < CFG_COUNT; k++)
		if (config_fields[k].json) {
			want |= CFG_BIT(k);
			if (!field_equal(&c, &s.c, &config_fields[k]))
				same = 0, printf("# %s differs after the JSON round trip\n", config_fields[k].key);
		}
	ok(!rc && same && s.set == want, "every JSON field comes back, and is marked given (set %#x, want %#x)",
	   s.set, want);
	free(text);

	const char *bad[][2] = {
		{"{\"normalization\": \"loud\"}", "normalization \"loud\" is not supported by this version (none, scale)"},
		{"{\"segment\": 131072}", "\"segment\" should be an integer from 0 to 16384"},
		{"{\"window_size\": 0}", "\"window_size\" should be an integer from 1 to 64"},
		{"{\"mlp_ratio\": 0}", "mlp_ratio 0 is out of range (above 0, at most 1024)"},
		{"{\"input_scale\": -1}", "input_scale -1 is out of range"},
		{"{\"dims\": [8, 8, 8, 5000]}", "\"dims\" should be an array of 4 integers from 1 to 4096"},
		{"{\"mask_shifted\": 1}", "\"mask_shifted\" should be true or false"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct import_settings t = {0};
		rc = import_settings_json_text(&t, bad[i][0], strlen(bad[i][0]));
		ok(rc < 0 && strstr(tf_strerror(), bad[i][1]), "%s refused: %s", bad[i][0], tf_strerror());
	}
}

static void test_merge(void)
{
	struct unet_config def, other, c;
	int alone = 1;
	config_default(&def);
	config_other(&other);
	for (int k = 0; k < CFG_COUNT; k++) {
		c = def;
		config_merge(&c, &other, CFG_BIT(k));
		for (int j = 0; j < CFG_COUNT; j++)
			if (field_equal(&c, j == k ? &other : &def, &config_fields[j]) != 1)
				alone = 0, printf("# merging %s: %s wrong\n", config_fields[k].key, config_fields[j].key);
	}
	ok(alone, "merging one field's bit copies that field and no other, for each of the %d", CFG_COUNT);
	c = def;
	config_merge(&c, &other, ~0u);
	int all = 1;
	for (int k = 0; k < CFG_COUNT; k++)
		all &= field_equal(&c, &other, &config_fields[k]);
	ok(all, "merging every bit copies every field");
}

static void test_ranges(void)
{
	struct unet_config c;
	int refused = 1, n = 0;
	/* one past each end of every int and real field's range */
	for (int k = 0; k < CFG_COUNT; k++) {
		const struct config_field *f = &config_fields[k];
		if (f->type != CT_INT && f->type != CT_REAL)
			continue;
		for (int end = 0; end < 2; end++) {
			config_default(&c);
			double v = end ? f->max + 1 : f->type == CT_REAL ? f->min : f->min - 1;
			if (f->type == CT_INT)
				*(int *)config_ptr(&c, f) = (int)v;
			else
				*(double *)config_ptr(&c, f) = v;
			if (!config_validate(&c) || !strstr(tf_strerror(), f->key) ||
			    !strstr(tf_strerror(), "out of range")) {
				refused = 0;
				printf("# %s = %g: %s\n", f->key, v, tf_strerror());
			}
			n++;
		}
	}
	ok(refused, "each of %d values one past a field's range refused, naming the field", n);
	config_default(&c);
	c.segment = 131072;
	ok(config_validate(&c) && !strcmp(tf_strerror(), "segment 131072 is out of range (0 to 16384 frames)"),
	   "the range names its unit: %s", tf_strerror());
	config_default(&c);
	c.quantization = (enum quantization)QUANT_COUNT;
	ok(config_validate(&c) < 0, "an enum value outside its table refused: %s", tf_strerror());
}

int main(void)
{
	test_names();
	test_table();
	test_msgpack();
	test_json();
	test_merge();
	test_ranges();
	return test_done();
}
