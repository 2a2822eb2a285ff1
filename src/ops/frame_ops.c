/* SPDX-License-Identifier: MIT */
/* frame_ops: the op behind every task of a frame family; the work is in frame/eval.c. */
#include "frame/frame.h"
#include "ops/op.h"
#include "util/xalloc.h"

#include <stdlib.h>

static int frame_task_run(struct op_task *t, struct err *e)
{
	const struct ffam *f = t->node_data;
	size_t n = t->n_in, pinned = 0;
	const void **data = xcalloc(n ? n : 1, sizeof *data);
	size_t *len = xcalloc(n ? n : 1, sizeof *len);
	int rc = 0;
	/* Pinned here rather than by the scheduler, so that an input the task only waits for (a
	 * sort's next cut) is never loaded back from disk. */
	for (; pinned < n; pinned++) {
		if (!ffam_reads_input(f, t->member, pinned, n))
			continue;
		if (!(data[pinned] = t->pin_input(t->input_arg, pinned, &len[pinned], e))) {
			rc = -1;
			break;
		}
	}
	if (rc == 0)
		rc = frame_run(f, t->member, n, data, len, t->out, e);
	for (size_t i = 0; i < pinned; i++)
		if (data[i])
			t->unpin_input(t->input_arg, i);
	free(data);
	free(len);
	return rc;
}

const struct op op_frame_task = {
	.name = "frame",
	.synopsis = "(a frame expression)",
	.help = "a partition of a frame, a partial aggregate, or a combine step",
	.flags = 0, /* pins its inputs itself (frame_task_run) */
	.run = frame_task_run,
};
