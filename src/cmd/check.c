/* SPDX-License-Identifier: MIT */
/* check, graph: validate a spec and show its graph without running it. */
#include "cmd/cmd.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int cmd_check(int argc, char **argv, struct err *e)
{
	struct spec_args a;
	struct loaded l = { 0 };
	int rc = cmd_parse("check", argc, argv, &a, e);
	if (rc != 0)
		goto out;
	if ((rc = cmd_load(&a, &l, e)) < 0)
		goto out;
	const struct graph *g = l.g;
	const struct plan *p = &l.plan;
	printf("%s: ok\n", a.spec_path);
	printf("nodes:   %zu\n", g->n_nodes);
	for (size_t n = 0; n < g->n_nodes; n++) {
		const struct gnode *gn = &g->nodes[n];
		int64_t kept = 0;
		for (int64_t t = gn->first_task; t < gn->first_task + gn->n_tasks; t++)
			kept += p->keep[t];
		printf("  %-16s %-7s %8" PRId64 " task%s", gn->name, gn->op->name, gn->n_tasks, gn->n_tasks == 1 ? " " : "s");
		if (kept != gn->n_tasks)
			printf(" (%" PRId64 " kept)", kept);
		if (gn->gen == GEN_ARRAY && !gn->fam && gn->array && gn->array->fam)
			printf(" (the same array as '%s')", g->nodes[gn->array->owner].name);
		else if (gn->gen == GEN_ARRAY && !gn->fam)
			printf(" (fused into its users)");
		putchar('\n');
	}
	printf("tasks:   %" PRId64 " (of %" PRId64 " before culling)\n", p->n_keep, g->n_tasks);
	if (g->n_array_unfused)
		printf("fusion:  %" PRId64 " array tasks (%" PRId64 " without fusion)\n", g->n_array_tasks,
		       g->n_array_unfused);
	printf("edges:   %" PRId64 "\n", p->n_keep_edges);
	printf("depth:   %" PRId64 "\n", p->depth);
	printf("outputs: %zu\n", p->n_outputs);
	for (size_t i = 0; i < p->n_outputs; i++) {
		const struct goutput *o = &p->outputs[i];
		printf("  %-16s -> %s\n", o->node_name, strcmp(o->path, "-") ? o->path : "- (stdout)");
	}
out:
	loaded_release(&l);
	spec_args_release(&a);
	return rc < 0 ? -1 : 0;
}

int cmd_graph(int argc, char **argv, struct err *e)
{
	struct spec_args a;
	struct loaded l = { 0 };
	int rc = cmd_parse("graph", argc, argv, &a, e);
	if (rc != 0)
		goto out;
	if ((rc = cmd_load(&a, &l, e)) < 0)
		goto out;
	if (!strcmp(a.format, "json"))
		rc = graph_write_json(l.g, &l.plan, stdout);
	else
		rc = graph_write_dot(l.g, &l.plan, stdout);
	if (rc < 0)
		err_sys(e, NULL, "cannot write to stdout");
out:
	loaded_release(&l);
	spec_args_release(&a);
	return rc < 0 ? -1 : 0;
}
