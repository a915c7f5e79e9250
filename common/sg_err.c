/* sg_err: messages and names of the error table in sg_err.h. */
#include "sg_err.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct sg_err_entry {
	int code;
	const char *name;
	const char *msg;
};

static const struct sg_err_entry sg_err_entries[] = {
#define SG_ERR_ENTRY(sym, val, name, msg) {(val), (name), (msg)},
    SG_ERR_TABLE(SG_ERR_ENTRY)
#undef SG_ERR_ENTRY
};

static const struct sg_err_entry *
sg_err_lookup(int err)
{
	size_t i;

	for (i = 0; i < sizeof(sg_err_entries) / sizeof(sg_err_entries[0]); i++) {
		if (sg_err_entries[i].code == err)
			return &sg_err_entries[i];
	}
	return NULL;
}

const char *
sg_strerror(int err)
{
	const struct sg_err_entry *e = sg_err_lookup(err);

	return e != NULL ? e->msg : "unknown error";
}

const char *
sg_err_name(int err)
{
	const struct sg_err_entry *e = sg_err_lookup(err);

	return e != NULL ? e->name : "unknown";
}

int
sg_err_known(int err)
{
	return sg_err_lookup(err) != NULL;
}

void
sg_whyf(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || why_len == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}
