/* SPDX-License-Identifier: MIT */
/* array_ops: the op behind every task of an array family; the work is in array/eval.c. */
#include "array/array.h"
#include "ops/op.h"
#include "util/xalloc.h"

#include <stdlib.h>

static int array_task_run(struct op_task *t, struct err *e)
{
	const struct afam *f = t->node_data;
	size_t n = t->n_in;
	int64_t *tasks = xmalloc((n ? n : 1) * sizeof *tasks);
	const void **data = xmalloc((n ? n : 1) * sizeof *data);
	size_t *len = xmalloc((n ? n : 1) * sizeof *len);
	for (size_t i = 0; i < n; i++) {
		tasks[i] = t->in[i].chunk;
		data[i] = t->in[i].data;
		len[i] = t->in[i].len;
	}
	int rc = array_run(f, t->member, n, tasks, data, len, t->out, e);
	free(tasks);
	free(data);
	free(len);
	return rc;
}

const struct op op_array_chunk = {
	.name = "array",
	.synopsis = "(an expression)",
	.help = "a chunk of an array, a reduction's partial, or a combine step",
	.flags = OP_INPUT_MEM,
	.run = array_task_run,
};
