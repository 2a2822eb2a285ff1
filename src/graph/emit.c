/* SPDX-License-Identifier: MIT */
/* emit: the kept graph as Graphviz dot or JSON, for `tessera graph`. */
#include "graph/graph.h"

#include <inttypes.h>
#include <string.h>

static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
}

int graph_write_dot(const struct graph *g, const struct plan *p, FILE *f)
{
	char name[128];
	fputs("digraph tessera {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n", f);
	for (int64_t i = 0; i < p->n_keep; i++) {
		int64_t t = p->order[i];
		graph_task_name(g, t, name, sizeof name);
		fprintf(f, "  t%" PRId64 " [label=\"", t);
		put_escaped(f, name);
		fprintf(f, "\\n%s\"];\n", g->nodes[g->tasks[t].node].op->name);
	}
	for (int64_t i = 0; i < p->n_keep; i++) {
		int64_t t = p->order[i];
		for (int64_t k = g->dep_off[t]; k < g->dep_off[t + 1]; k++)
			fprintf(f, "  t%" PRId64 " -> t%" PRId64 ";\n", g->deps[k], t);
	}
	for (size_t o = 0; o < p->n_outputs; o++) {
		fprintf(f, "  out%zu [shape=note, label=\"", o);
		put_escaped(f, p->outputs[o].path);
		fputs("\"];\n", f);
		for (int64_t t = p->outputs[o].task_first; t < p->outputs[o].task_first + p->outputs[o].n_tasks; t++)
			fprintf(f, "  t%" PRId64 " -> out%zu;\n", t, o);
	}
	fputs("}\n", f);
	return ferror(f) ? -1 : 0;
}

int graph_write_json(const struct graph *g, const struct plan *p, FILE *f)
{
	char name[128];
	fprintf(f, "{\"tasks\": %" PRId64 ", \"edges\": %" PRId64 ", \"depth\": %" PRId64 ",\n \"nodes\": [",
		p->n_keep, p->n_keep_edges, p->depth);
	for (size_t n = 0; n < g->n_nodes; n++) {
		const struct gnode *gn = &g->nodes[n];
		fprintf(f, "%s\n  {\"name\": \"", n ? "," : "");
		put_escaped(f, gn->name);
		fprintf(f, "\", \"op\": \"%s\", \"tasks\": %" PRId64 ", \"line\": %u, \"col\": %u}", gn->op->name,
			gn->n_tasks, gn->loc.line, gn->loc.col);
	}
	fputs("],\n \"graph\": [", f);
	for (int64_t i = 0; i < p->n_keep; i++) {
		int64_t t = p->order[i];
		graph_task_name(g, t, name, sizeof name);
		fprintf(f, "%s\n  {\"id\": %" PRId64 ", \"name\": \"", i ? "," : "", t);
		put_escaped(f, name);
		fprintf(f, "\", \"node\": \"");
		put_escaped(f, g->nodes[g->tasks[t].node].name);
		fprintf(f, "\", \"order\": %" PRId64 ", \"deps\": [", p->prio[t]);
		for (int64_t k = g->dep_off[t]; k < g->dep_off[t + 1]; k++)
			fprintf(f, "%s%" PRId64, k > g->dep_off[t] ? ", " : "", g->deps[k]);
		fputs("]}", f);
	}
	fputs("],\n \"outputs\": [", f);
	for (size_t o = 0; o < p->n_outputs; o++) {
		fprintf(f, "%s\n  {\"node\": \"", o ? "," : "");
		put_escaped(f, p->outputs[o].node_name);
		fputs("\", \"path\": \"", f);
		put_escaped(f, p->outputs[o].path);
		fprintf(f, "\", \"tasks\": [%" PRId64 ", %" PRId64 "]}", p->outputs[o].task_first,
			p->outputs[o].task_first + p->outputs[o].n_tasks);
	}
	fputs("]}\n", f);
	return ferror(f) ? -1 : 0;
}
