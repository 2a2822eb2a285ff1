/* SPDX-License-Identifier: MIT */
/* Unit tests for graph/: generators, references, cycles, culling, order. */
#include "test.h"
#include "graph/graph.h"

#include <stdlib.h>

/* Builds @text; returns NULL and fills @msg on error. */
static struct graph *build(struct spec *s, const char *text, char *msg, size_t msg_len)
{
	struct err e;
	err_init(&e);
	msg[0] = '\0';
	if (spec_parse_text(s, "t.yaml", text, strlen(text), NULL, 0, &e) < 0) {
		err_format(&e, msg, msg_len);
		return NULL;
	}
	struct graph *g = graph_build(s, NULL, &e);
	if (!g)
		err_format(&e, msg, msg_len);
	return g;
}

static const char etl[] =
	"tessera: 1\n"
	"nodes:\n"
	"  load: {foreach: {i: \"0..10\"}, value: \"{i}\"}\n"
	"  ref: {value: r}\n"
	"  process: {foreach: {i: \"0..10\"}, in: [\"load[i]\", ref], run: cat}\n"
	"  roll: {window: {over: process, size: 3}, run: cat}\n"
	"  compare: {pairs: {from: roll, count: 20, seed: 42}, run: cat}\n"
	"  best: {reduce: compare, run: cat}\n"
	"outputs: {best: \"-\"}\n";

static void test_etl_shape(void)
{
	struct spec s;
	char msg[512];
	struct graph *g = build(&s, etl, msg, sizeof msg);
	CHECK(g != NULL);
	if (!g) {
		fprintf(stderr, "%s\n", msg);
		spec_release(&s);
		return;
	}
	CHECK(g->n_tasks == 10 + 1 + 10 + 8 + 20 + 1);
	/* 10 process x 2 + 8 roll x 3 + 20 compare x 2 + 20 into best */
	CHECK(g->n_edges == 20 + 24 + 40 + 20);
	int64_t roll = graph_find_node(g, "roll"), process = graph_find_node(g, "process");
	const struct gnode *rn = &g->nodes[roll];
	for (int64_t j = 0; j < rn->n_tasks; j++) {
		int64_t t = rn->first_task + j;
		CHECK(g->dep_off[t + 1] - g->dep_off[t] == 3);
		for (int k = 0; k < 3; k++)
			CHECK(g->deps[g->dep_off[t] + k] == g->nodes[process].first_task + j + k);
	}
	/* pairs: distinct, a < b, sorted */
	const struct gnode *cn = &g->nodes[graph_find_node(g, "compare")];
	int64_t prev = -1;
	for (int64_t j = 0; j < cn->n_tasks; j++) {
		int64_t t = cn->first_task + j;
		int64_t a = g->deps[g->dep_off[t]] - rn->first_task, b = g->deps[g->dep_off[t] + 1] - rn->first_task;
		CHECK(0 <= a && a < b && b < 8);
		CHECK(a * 8 + b > prev);
		prev = a * 8 + b;
	}
	struct plan p;
	struct err e;
	err_init(&e);
	CHECK(plan_make(&p, g, NULL, 0, &e) == 0);
	CHECK(p.depth == 5);
	/* Deps come before users in the static order. */
	for (int64_t t = 0; t < g->n_tasks; t++)
		for (int64_t k = g->dep_off[t]; k < g->dep_off[t + 1]; k++)
			CHECK(!p.keep[t] || p.prio[g->deps[k]] < p.prio[t]);
	/* Depth first: the first compare runs before the last load. */
	CHECK(p.prio[cn->first_task] < p.prio[g->nodes[0].first_task + 9]);
	char name[64];
	graph_task_name(g, p.order[p.n_keep - 1], name, sizeof name);
	CHECK_STR(name, "best");
	plan_release(&p);
	graph_free(g);
	spec_release(&s);
}

static void test_pairs_seeded(void)
{
	struct spec s1, s2;
	char msg[512];
	struct graph *a = build(&s1, etl, msg, sizeof msg);
	struct graph *b = build(&s2, etl, msg, sizeof msg);
	CHECK(a && b && a->n_edges == b->n_edges);
	if (a && b)
		CHECK(!memcmp(a->deps, b->deps, (size_t)a->n_edges * sizeof *a->deps));
	graph_free(a);
	graph_free(b);
	spec_release(&s1);
	spec_release(&s2);
}

static void test_cull_to_target(void)
{
	struct spec s;
	char msg[512];
	struct graph *g = build(&s, etl, msg, sizeof msg);
	CHECK(g != NULL);
	if (!g)
		return spec_release(&s);
	struct plan p;
	struct err e;
	err_init(&e);
	const char *targets[] = { "process[3]" };
	CHECK(plan_make(&p, g, targets, 1, &e) == 0);
	CHECK(p.n_keep == 3); /* load[3], ref, process[3] */
	CHECK(p.n_outputs == 1 && !strcmp(p.outputs[0].path, "-"));
	plan_release(&p);
	const char *bad[] = { "nosuch" };
	CHECK(plan_make(&p, g, bad, 1, &e) == -1 && e.code == ERR_USAGE);
	graph_free(g);
	spec_release(&s);
}

static void test_reduce_tree(void)
{
	struct spec s;
	char msg[512];
	struct graph *g = build(&s,
				"tessera: 1\nnodes:\n  x: {foreach: {i: \"0..50\"}, value: \"{i}\"}\n"
				"  r: {reduce: x, split_every: 4}\noutputs: {r: out}\n",
				msg, sizeof msg);
	CHECK(g != NULL);
	if (!g)
		return spec_release(&s);
	const struct gnode *r = &g->nodes[1];
	CHECK(r->n_tasks == 13 + 4 + 1);
	CHECK(r->n_members == 1 && r->first_member == r->first_task + 17);
	int64_t final = r->first_member;
	CHECK(g->dep_off[final + 1] - g->dep_off[final] == 4);
	/* every x member is read exactly once */
	for (int64_t t = 0; t < 50; t++)
		CHECK(g->use_off[t + 1] - g->use_off[t] == 1);
	graph_free(g);
	spec_release(&s);
}

static void expect_error(const char *text, const char *want)
{
	struct spec s;
	char msg[512];
	struct graph *g = build(&s, text, msg, sizeof msg);
	CHECK(g == NULL);
	CHECK_STR(msg, want);
	graph_free(g);
	spec_release(&s);
}

static void test_errors(void)
{
	expect_error("tessera: 1\nnodes:\n  a: {in: [b], run: cat}\n  b: {in: [a], run: cat}\n",
		     "tessera: t.yaml:3:3: cycle: a -> b -> a");
	expect_error("tessera: 1\nnodes:\n  a: {rnu: ls}\n",
		     "tessera: t.yaml:3:7: unknown key 'rnu' in node 'a' (did you mean 'run'?)");
	expect_error("tessera: 1\nnodes:\n  a: {foreach: {i: \"0..3\"}, value: 1}\n  b: {in: [\"a[3]\"], run: cat}\n",
		     "tessera: t.yaml:4:12: 'a[3]' is out of range: 'a' has 3 members (index 3)");
	expect_error("tessera: 1\nnodes:\n  a: {value: 1}\n  b: {in: [c], run: cat}\n",
		     "tessera: t.yaml:4:12: input: no node 'c'");
	expect_error("tessera: 1\nnodes:\n  a: {value: 1, run: ls}\n",
		     "tessera: t.yaml:3:17: node 'a' has two ops, 'value' (line 3) and 'run'");
	expect_error("tessera: 1\nnodes:\n  a: {retries: 2}\n",
		     "tessera: t.yaml:3:3: node 'a' has no op (one of: concat, load, run, sql, value)");
	expect_error("tessera: 1\nnodes:\n  a: {foreach: {i: \"0..4\"}, value: 1}\n  p: {pairs: {from: a, count: 7}, run: cat}\n",
		     "tessera: t.yaml:4:31: pairs count 7 is more than the 6 pairs of 'a' (4 members)");
	expect_error("tessera: 1\nnodes:\n  a: {value: 1}\noutputs: {b: \"-\"}\n",
		     "tessera: t.yaml:4:11: output: no node 'b'");
	expect_error("tessera: 1\nnodes:\n  a: {value: 1, timeout: soon}\n",
		     "tessera: t.yaml:3:26: bad timeout 'soon': expected a duration like 30s, 500ms, 2m");
	expect_error("tessera: 1\nnodes:\n  a: {load: /nonexistent/x}\n",
		     "tessera: t.yaml:3:13: cannot read '/nonexistent/x': No such file or directory");
}

const struct test graph_tests[] = {
	{ "graph/etl_shape", test_etl_shape },
	{ "graph/pairs_seeded", test_pairs_seeded },
	{ "graph/cull_to_target", test_cull_to_target },
	{ "graph/reduce_tree", test_reduce_tree },
	{ "graph/errors", test_errors },
	{ NULL, NULL },
};
