/* Loads a golden case's model for the tests the way a user would: the
 * reference's model.pth through the checkpoint importer, with the case's
 * config.json for what the weights cannot tell. */
#ifndef TEST_GOLDEN_H
#define TEST_GOLDEN_H
#include <stdio.h>
#include "import/import.h"
#include "model.h"
static int __attribute__((unused)) golden_model_load(struct model *m, const char *dir)
{
	char pth[512], json[512];
	struct import_settings s = {0};
	snprintf(pth, sizeof pth, "%s/model.pth", dir);
	snprintf(json, sizeof json, "%s/config.json", dir);
	if (import_settings_json(&s, json))
		return -1;
	/* the goldens' configs name no stems: as many as the output needs */
	int channels = s.c.in_channels / 2, stems = channels ? s.c.out_channels / channels : 0;
	if (stems == 4 && import_settings_stems(&s, "drums,bass,other,vocals"))
		return -1;
	return import_model_file(m, pth, "pth", &s);
}
#endif
