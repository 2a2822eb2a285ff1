/* SPDX-License-Identifier: MIT */
/* err: filling and formatting the one error type. */
#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void err_init(struct err *e)
{
	memset(e, 0, sizeof *e);
	e->chunk = -1;
}

bool err_set(const struct err *e)
{
	return e->code != ERR_OK;
}

static int vfill(struct err *e, enum err_code code, struct loc loc, const char *task,
		 const char *fmt, va_list ap)
{
	if (!e || e->code != ERR_OK) /* the first error wins */
		return -1;
	e->code = code;
	err_set_loc(e, loc);
	if (task)
		snprintf(e->task, sizeof e->task, "%s", task);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	return -1;
}

int err_at(struct err *e, struct loc loc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfill(e, ERR_SPEC, loc, NULL, fmt, ap);
	va_end(ap);
	return -1;
}

int err_code_at(struct err *e, enum err_code code, struct loc loc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfill(e, code, loc, NULL, fmt, ap);
	va_end(ap);
	return -1;
}

int err_usage(struct err *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfill(e, ERR_USAGE, (struct loc){0}, NULL, fmt, ap);
	va_end(ap);
	return -1;
}

int err_run(struct err *e, const char *task, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfill(e, ERR_RUN, (struct loc){0}, task, fmt, ap);
	va_end(ap);
	return -1;
}

int err_sys(struct err *e, const char *task, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	if (!e || e->code != ERR_OK)
		return -1;
	va_start(ap, fmt);
	vfill(e, ERR_RUN, (struct loc){0}, task, fmt, ap);
	va_end(ap);
	e->sys_errno = saved;
	size_t n = strlen(e->msg);
	snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(saved));
	return -1;
}

void err_set_loc(struct err *e, struct loc loc)
{
	e->loc = loc;
	e->file[0] = '\0';
	if (loc.file)
		snprintf(e->file, sizeof e->file, "%s", loc.file);
	e->loc.file = NULL;
}

void err_format(const struct err *e, char *out, size_t out_len)
{
	char where[1024] = "";
	if (e->file[0] && e->loc.line)
		snprintf(where, sizeof where, "%s:%u:%u", e->file, e->loc.line, e->loc.col);
	else if (e->file[0])
		snprintf(where, sizeof where, "%s", e->file);

	if (e->task[0] && where[0])
		snprintf(out, out_len, "tessera: task '%s' (%s): %s", e->task, where, e->msg);
	else if (e->task[0])
		snprintf(out, out_len, "tessera: task '%s': %s", e->task, e->msg);
	else if (where[0])
		snprintf(out, out_len, "tessera: %s: %s", where, e->msg);
	else
		snprintf(out, out_len, "tessera: %s", e->msg);
}
