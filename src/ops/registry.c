/* SPDX-License-Identifier: MIT */
/*
 * registry: THE table of ops, sorted by name (a unit test checks it). A new
 * op is one function pair and one row here.
 */
#include "ops/ops_int.h"

#include <string.h>

static const struct op op_table[] = {
	{
		.name = "concat",
		.synopsis = "reduce: FAMILY   (or in: [...] with no other op)",
		.help = "concatenates the inputs' bytes in input order",
		.flags = OP_STREAM_IN,
		.check = op_concat_check,
		.run = op_concat_run,
	},
	{
		.name = "load",
		.synopsis = "load: PATH",
		.help = "a file's bytes ({VAR}, {index} expand per task)",
		.flags = OP_SOURCE,
		.check = op_load_check,
		.run = op_load_run,
	},
	{
		.name = "run",
		.synopsis = "run: COMMAND",
		.help = "a /bin/sh command; inputs as files ({in}, {in[K]}; one input also on stdin), stdout is the result",
		.flags = OP_INPUT_PATHS,
		.check = op_run_check,
		.run = op_run_run,
	},
	{
		.name = "sql",
		.synopsis = "sql: {db: PATH, query: SQL}",
		.help = "a read-only SQLite query; the result is CSV with a header",
		.flags = OP_SOURCE,
		.check = op_sql_check,
		.run = op_sql_run,
	},
	{
		.name = "value",
		.synopsis = "value: X",
		.help = "a literal number or string ({VAR}, {index} expand per task), with a final newline",
		.flags = OP_SOURCE | OP_CHEAP,
		.check = op_value_check,
		.run = op_value_run,
	},
};

#define N_OPS (sizeof op_table / sizeof op_table[0])

static const char *const op_name_list[N_OPS] = { "concat", "load", "run", "sql", "value" };

const struct op *op_find(const char *name)
{
	/* Five rows: a linear scan is the fastest search. */
	for (size_t i = 0; i < N_OPS; i++)
		if (!strcmp(op_table[i].name, name))
			return &op_table[i];
	return NULL;
}

const struct op *op_table_get(size_t *n)
{
	*n = N_OPS;
	return op_table;
}

const char *const *op_names(size_t *n)
{
	*n = N_OPS;
	return op_name_list;
}
