/* Loads a golden case's model for the tests. */
#ifndef TEST_GOLDEN_H
#define TEST_GOLDEN_H
#include <stdio.h>
#include "model.h"
static int __attribute__((unused)) golden_model_load(struct model *m, const char *dir)
{
	char path[512];
	const char *alt = getenv("TF_GOLDEN_BIN");
	const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	snprintf(path, sizeof path, "%s/%s.bin", alt ? alt : "", base);
	return model_load(m, path);
}
#endif
