/* SPDX-License-Identifier: MIT */
/*
 * plan: culling and the static order. The order is a depth-first post-order
 * from the requested outputs, visiting each task's inputs in input order: a
 * task is placed right after the last of its inputs, so the scheduler
 * finishes one branch before it opens new roots and results die young
 * (the goal of dask.order, by its simplest means).
 */
#include "graph/graph.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

static void add_root(struct plan *p, const struct goutput *o, struct goutput **roots, size_t *n,
		     size_t *cap)
{
	(void)p;
	XGROW(*roots, *cap, *n + 1);
	(*roots)[(*n)++] = *o;
}

/* A target naming one chunk (NAME[K]) of an array, which is printed whole or not at all. */
static void not_whole(struct err *e, const char *target, const char *name)
{
	err_usage(e, "target '%s': an array target takes the whole array '%s'", target, name);
}

int plan_make(struct plan *p, const struct graph *g, const char *const *targets, size_t n_targets,
	      struct err *e)
{
	memset(p, 0, sizeof *p);
	int64_t nt = g->n_tasks;
	p->n_tasks = nt;
	p->keep = xcalloc((size_t)(nt ? nt : 1), 1);
	p->prio = xmalloc((size_t)(nt ? nt : 1) * sizeof *p->prio);
	p->order = xmalloc((size_t)(nt ? nt : 1) * sizeof *p->order);
	struct goutput *roots = NULL;
	size_t n_roots = 0, cap = 0;

	if (n_targets) {
		for (size_t i = 0; i < n_targets; i++) {
			struct goutput o = { 0 };
			int rc = graph_resolve_target(g, targets[i], &o.task_first, &o.n_tasks, &o.node_name);
			if (rc == -1) {
				err_usage(e, "no node '%s' in %s", targets[i], g->spec->path);
				goto fail;
			}
			if (rc < 0) {
				/* NAME[K] of an array whose chunks fused into their users */
				int64_t ni = o.node_name ? graph_find_node(g, o.node_name) : -1;
				if (ni >= 0 && g->nodes[ni].array)
					not_whole(e, targets[i], o.node_name);
				else
					err_usage(e, "bad target '%s'", targets[i]);
				goto fail;
			}
			/* A target that is a listed output goes where the spec says; else to stdout. */
			o.path = "-";
			bool listed = false;
			for (size_t k = 0; k < g->n_outputs; k++)
				if (g->outputs[k].task_first == o.task_first && g->outputs[k].n_tasks == o.n_tasks) {
					o = g->outputs[k];
					listed = true;
				}
			/* a whole array of at most 2-d is listed (graph_build() adds it, to "-"): the
			 * rest, never printed as raw chunks, are turned down */
			int64_t ni = listed ? -1 : graph_find_node(g, o.node_name);
			const struct gnode *gn = ni >= 0 ? &g->nodes[ni] : NULL;
			if (gn && gn->gen == GEN_ARRAY && gn->array) {
				if (o.n_tasks != gn->n_members) {
					not_whole(e, targets[i], o.node_name);
					goto fail;
				}
				if (gn->array->ndim > 2) {
					err_usage(e, "target '%s': a %d-d array can only be written to a .npy file (-o %s=PATH.npy)",
						  targets[i], gn->array->ndim, o.node_name);
					goto fail;
				}
			}
			add_root(p, &o, &roots, &n_roots, &cap);
		}
	} else if (g->n_outputs) {
		for (size_t k = 0; k < g->n_outputs; k++)
			add_root(p, &g->outputs[k], &roots, &n_roots, &cap);
	}
	p->outputs = roots;
	p->n_outputs = n_roots;

	/* Iterative DFS post-order: stack of (task, next input). */
	int64_t *stack = xmalloc((size_t)(nt ? nt : 1) * sizeof *stack);
	int64_t *next = xcalloc((size_t)(nt ? nt : 1), sizeof *next);
	int64_t pos = 0;
	for (size_t r = 0; r <= n_roots; r++) {
		int64_t first, count;
		if (r < n_roots) {
			first = roots[r].task_first;
			count = roots[r].n_tasks;
		} else if (!n_roots && !n_targets) {
			first = 0; /* no outputs: every task that nobody reads */
			count = nt;
		} else {
			break;
		}
		for (int64_t root = first; root < first + count; root++) {
			if (p->keep[root])
				continue;
			if (r == n_roots && g->use_off[root + 1] != g->use_off[root])
				continue;
			int64_t sp = 0;
			stack[sp++] = root;
			p->keep[root] = 1;
			next[root] = g->dep_off[root];
			while (sp) {
				int64_t t = stack[sp - 1];
				if (next[t] < g->dep_off[t + 1]) {
					int64_t d = g->deps[next[t]++];
					if (!p->keep[d]) {
						p->keep[d] = 1;
						next[d] = g->dep_off[d];
						stack[sp++] = d;
					}
					continue;
				}
				sp--;
				p->prio[t] = pos;
				p->order[pos++] = t;
			}
		}
	}
	p->n_keep = pos;
	free(stack);
	free(next);

	/* Depth: longest chain, deps first in post-order. */
	int64_t *depth = xcalloc((size_t)(nt ? nt : 1), sizeof *depth);
	for (int64_t i = 0; i < p->n_keep; i++) {
		int64_t t = p->order[i], d = 0;
		for (int64_t k = g->dep_off[t]; k < g->dep_off[t + 1]; k++)
			if (depth[g->deps[k]] > d)
				d = depth[g->deps[k]];
		depth[t] = d + 1;
		if (depth[t] > p->depth)
			p->depth = depth[t];
		p->n_keep_edges += g->dep_off[t + 1] - g->dep_off[t];
	}
	free(depth);
	for (int64_t t = 0; t < nt; t++)
		if (!p->keep[t])
			p->prio[t] = INT64_MAX;
	return 0;
fail:
	free(roots);
	p->outputs = NULL;
	plan_release(p);
	return -1;
}

void plan_release(struct plan *p)
{
	free(p->keep);
	free(p->prio);
	free(p->order);
	free(p->outputs);
	memset(p, 0, sizeof *p);
}
