/* SPDX-License-Identifier: MIT */
/* frame_ops: the op behind every task of a frame family; the work is in frame/eval.c. */
#include "frame/frame.h"
#include "ops/op.h"
#include "util/xalloc.h"

#include <stdlib.h>

static int frame_task_run(struct op_task *t, struct err *e)
{
	const struct ffam *f = t->node_data;
	size_t n = t->n_in;
	const void **data = xmalloc((n ? n : 1) * sizeof *data);
	size_t *len = xmalloc((n ? n : 1) * sizeof *len);
	for (size_t i = 0; i < n; i++) {
		data[i] = t->in[i].data;
		len[i] = t->in[i].len;
	}
	int rc = frame_run(f, t->member, n, data, len, t->out, e);
	free(data);
	free(len);
	return rc;
}

const struct op op_frame_task = {
	.name = "frame",
	.synopsis = "(a frame expression)",
	.help = "a partition of a frame, a partial aggregate, or a combine step",
	.flags = OP_INPUT_MEM,
	.run = frame_task_run,
};
