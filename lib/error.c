#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static _Thread_local char errbuf[512];

int tf_seterr(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof errbuf, fmt, ap);
	va_end(ap);
	return -1;
}

int tf_adderr(const char *fmt, ...)
{
	char prefix[256], old[sizeof errbuf];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, errbuf, sizeof old);
	size_t n = strlen(prefix);
	memcpy(errbuf, prefix, n);
	snprintf(errbuf + n, sizeof errbuf - n, "%.*s", (int)(sizeof errbuf - 1 - n), old);
	return -1;
}

const char *tf_strerror(void)
{
	return errbuf[0] ? errbuf : "unknown error";
}
