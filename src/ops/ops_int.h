/* SPDX-License-Identifier: MIT */
/* ops_int: what the op families share but nobody outside ops/ needs. */
#ifndef TESSERA_OPS_INT_H
#define TESSERA_OPS_INT_H

#include "ops/op.h"
#include "util/buf.h"

/*
 * op_expand() : a run-time template -> text. Placeholders: {in} (every input
 * path), {in[K]}, {index} (member index), {task} (display name) and {VAR}
 * (the foreach variable); any other {...}, and any '{' right after '$', is
 * kept as written, so shell brace groups and ${var} pass through. With
 * @quote, substituted values are shell-quoted when they need it.
 */
int op_expand(const struct op_task *t, const char *tmpl, bool quote, struct buf *out, struct err *e);
/* op_has_placeholder() : whether @tmpl names a per-task placeholder. */
bool op_has_placeholder(const char *tmpl, const char *var);

/* The op families' entry points, listed in registry.c. */
int op_run_check(struct op_build *b, const struct doc *node, const struct doc *val, void **data,
		 struct err *e);
int op_run_run(struct op_task *t, struct err *e);
int op_sql_check(struct op_build *b, const struct doc *node, const struct doc *val, void **data,
		 struct err *e);
int op_sql_run(struct op_task *t, struct err *e);
int op_load_check(struct op_build *b, const struct doc *node, const struct doc *val, void **data,
		  struct err *e);
int op_load_run(struct op_task *t, struct err *e);
int op_value_check(struct op_build *b, const struct doc *node, const struct doc *val, void **data,
		   struct err *e);
int op_value_run(struct op_task *t, struct err *e);
int op_concat_check(struct op_build *b, const struct doc *node, const struct doc *val, void **data,
		    struct err *e);
int op_concat_run(struct op_task *t, struct err *e);

/* A scalar option as text after ${} substitution; NULL and *e otherwise. */
const char *op_scalar(struct op_build *b, const struct doc *d, const char *what, struct err *e);

#endif
