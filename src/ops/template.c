/* SPDX-License-Identifier: MIT */
/* template: per-task placeholders in commands and values. */
#include "ops/ops_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static bool needs_quote(const char *s)
{
	if (!*s)
		return true;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%", *s))
			return true;
	return false;
}

static void put_value(struct buf *out, const char *v, bool quote)
{
	if (!quote || !needs_quote(v)) {
		buf_puts(out, v);
		return;
	}
	buf_putc(out, '\'');
	for (; *v; v++) {
		if (*v == '\'')
			buf_puts(out, "'\\''");
		else
			buf_putc(out, *v);
	}
	buf_putc(out, '\'');
}

/* Length of the placeholder name at @p (after '{') if it is one we expand, else 0. */
static size_t placeholder(const char *p, const char *var, int64_t *k, int *kind)
{
	const char *close = strchr(p, '}');
	if (!close)
		return 0;
	size_t n = (size_t)(close - p);
	if (n == 2 && !strncmp(p, "in", 2))
		return *kind = 1, n;
	if (n > 4 && !strncmp(p, "in[", 3) && p[n - 1] == ']') {
		char *end;
		long long v = strtoll(p + 3, &end, 10);
		if (end == p + n - 1 && end != p + 3) {
			*k = v;
			return *kind = 2, n;
		}
		return 0;
	}
	if (n == 5 && !strncmp(p, "index", 5))
		return *kind = 3, n;
	if (n == 4 && !strncmp(p, "task", 4))
		return *kind = 4, n;
	if (var && strlen(var) == n && !strncmp(p, var, n))
		return *kind = 5, n;
	return 0;
}

bool op_has_placeholder(const char *tmpl, const char *var)
{
	for (const char *p = tmpl; (p = strchr(p, '{')); p++) {
		int64_t k;
		int kind;
		if ((p == tmpl || p[-1] != '$') && placeholder(p + 1, var, &k, &kind))
			return true;
	}
	return false;
}

int op_expand(const struct op_task *t, const char *tmpl, bool quote, struct buf *out, struct err *e)
{
	const char *p = tmpl;
	for (;;) {
		const char *br = strchr(p, '{');
		if (!br) {
			buf_puts(out, p);
			return 0;
		}
		buf_append(out, p, (size_t)(br - p));
		int64_t k = 0;
		int kind = 0;
		size_t n = (br == tmpl || br[-1] != '$') ? placeholder(br + 1, t->var, &k, &kind) : 0;
		if (!n) {
			buf_putc(out, '{');
			p = br + 1;
			continue;
		}
		switch (kind) {
		case 1:
			for (size_t i = 0; i < t->n_in; i++) {
				if (i)
					buf_putc(out, ' ');
				put_value(out, t->in[i].path ? t->in[i].path : "", quote);
			}
			break;
		case 2:
			if (k < 0)
				k += (int64_t)t->n_in;
			if (k < 0 || k >= (int64_t)t->n_in)
				return err_run(e, NULL, "'{in[%.*s}' is out of range: the task has %zu input%s",
					       (int)(n - 3), br + 4, t->n_in, t->n_in == 1 ? "" : "s");
			put_value(out, t->in[k].path ? t->in[k].path : "", quote);
			break;
		case 3:
			buf_printf(out, "%" PRId64, t->member);
			break;
		case 4:
			put_value(out, t->name, quote);
			break;
		case 5:
			put_value(out, t->var_value ? t->var_value : "", quote);
			break;
		}
		p = br + 1 + n + 1;
	}
}

const char *op_scalar(struct op_build *b, const struct doc *d, const char *what, struct err *e)
{
	if (!d || d->kind == DOC_SEQ || d->kind == DOC_MAP || d->kind == DOC_NULL) {
		if (d)
			err_at(e, d->loc, "%s must be a string, not %s%s", what,
			       d->kind == DOC_NULL ? "" : "a ", doc_kind_name(d->kind));
		return NULL;
	}
	return spec_subst(b->spec, d, e);
}
