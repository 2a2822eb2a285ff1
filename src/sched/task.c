/* SPDX-License-Identifier: MIT */
/*
 * task: running one task on the calling thread — whatever executor calls it.
 * Inputs are pinned in the form the op asks for, the op runs (again, up to
 * the node's retries), and the result goes to the store. Nothing here
 * touches scheduler state: the outcome goes back in a struct completion.
 */
#include "sched/sched.h"
#include "util/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double run_clock(const struct run_ctx *rc)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - rc->t0;
}

void log_task_line(void *ctx, const char *task, const char *line)
{
	struct run_ctx *rc = ctx;
	pthread_mutex_lock(&rc->log_lock);
	if (rc->bar_shown) {
		fputs("\r\033[K", stderr);
		rc->bar_shown = false;
	}
	fprintf(stderr, "[%s] %s\n", task, line);
	pthread_mutex_unlock(&rc->log_lock);
}

struct inputs {
	struct run_ctx *rc;
	struct op_input *in;
};

static const void *pin_input(void *arg, size_t k, size_t *len, struct err *e)
{
	struct inputs *ins = arg;
	return store_pin(ins->rc->store, ins->in[k].chunk, len, e);
}

static void unpin_input(void *arg, size_t k)
{
	struct inputs *ins = arg;
	store_unpin(ins->rc->store, ins->in[k].chunk);
}

static int copy_input(void *arg, size_t k, int fd, struct err *e)
{
	struct inputs *ins = arg;
	return store_write_to(ins->rc->store, ins->in[k].chunk, fd, e);
}

static char *tmp_path(void *arg)
{
	return store_tmp_path(arg);
}

void run_task(struct run_ctx *rc, int64_t t, int worker, struct completion *c)
{
	const struct graph *g = rc->g;
	const struct gnode *gn = &g->nodes[g->tasks[t].node];
	const struct op *op = gn->op;
	char name[128];
	graph_task_name(g, t, name, sizeof name);
	memset(c, 0, sizeof *c);
	err_init(&c->err);
	c->task = t;
	c->worker = worker;
	c->start = run_clock(rc);

	int64_t n_in = g->dep_off[t + 1] - g->dep_off[t];
	struct op_input stack_in[4];
	struct op_input *in = n_in <= 4 ? stack_in : xmalloc((size_t)n_in * sizeof *in);
	int64_t pinned = 0;
	for (int64_t k = 0; k < n_in; k++) {
		int64_t d = g->deps[g->dep_off[t] + k];
		struct op_input *x = &in[k];
		memset(x, 0, sizeof *x);
		x->chunk = d;
		x->len = store_len(rc->store, d);
		c->in_bytes += x->len;
		if (op->flags & OP_INPUT_PATHS) {
			if (!(x->path = store_pin_path(rc->store, d, &c->err)))
				goto done;
			pinned++;
		} else if (op->flags & OP_INPUT_MEM) {
			if (!(x->data = store_pin(rc->store, d, &x->len, &c->err)))
				goto done;
			pinned++;
		}
	}

	struct inputs ins = { rc, in };
	struct op_sink sink;
	struct op_task ot = {
		.name = name,
		.loc = gn->loc,
		.node_data = gn->op_data,
		.var = gn->var,
		.var_value = g->tasks[t].var_value,
		.member = g->tasks[t].member,
		.n_in = (size_t)n_in,
		.in = in,
		.out = &sink,
		.timeout = gn->timeout,
		.cancel = &rc->cancel,
		.log_line = log_task_line,
		.log_arg = rc,
		.pin_input = pin_input,
		.unpin_input = unpin_input,
		.copy_input = copy_input,
		.input_arg = &ins,
	};
	for (int attempt = 0;; attempt++) {
		op_sink_init(&sink, rc->spill_at, tmp_path, rc->store);
		c->rc = op->run(&ot, &c->err);
		if (c->rc == 0)
			c->rc = op_sink_close(&sink, &c->err);
		if (c->rc == 0)
			break;
		op_sink_release(&sink);
		if (attempt >= gn->retries || atomic_load(&rc->cancel))
			goto done;
		err_init(&c->err); /* try again */
	}
	if (sink.path) {
		c->out_bytes = sink.file_len;
		store_put_file_take(rc->store, t, sink.path, sink.file_len);
		free(sink.path);
		free(sink.data);
	} else {
		c->out_bytes = sink.len;
		/* The store counts exact bytes: give back the growth slack first. */
		void *data = sink.len && sink.cap > sink.len + sink.len / 8 ? xrealloc(sink.data, sink.len) : sink.data;
		store_put_take(rc->store, t, data, sink.len, worker >= 0);
	}
done:
	for (int64_t k = 0; k < pinned; k++)
		store_unpin(rc->store, in[k].chunk);
	if (in != stack_in)
		free(in);
	c->end = run_clock(rc);
	if (c->rc < 0 || err_set(&c->err)) {
		c->rc = -1;
		if (!c->err.task[0])
			snprintf(c->err.task, sizeof c->err.task, "%s", name);
		if (!c->err.loc.line)
			err_set_loc(&c->err, gn->loc);
		c->err.code = ERR_RUN;
	}
}
