/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for sched/, through a synchronous fake executor (ninja's
 * FakeCommandRunner): it records what the scheduler submits, "runs" one
 * task per wait() by putting a small result in the store, and can fail a
 * chosen task, so order, admission and failure handling are deterministic.
 */
#include "test.h"
#include "sched/sched.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <unistd.h>

struct fake {
	struct executor base;
	struct run_ctx *rc;
	int64_t queue[4096];
	size_t head, len;
	int64_t ran[4096];
	size_t n_ran;
	int64_t fail_task;
	size_t max_in_flight;
	size_t max_roots_in_flight, roots_in_flight;
	size_t result_bytes;
};

static bool is_root(const struct graph *g, int64_t t)
{
	return g->dep_off[t + 1] == g->dep_off[t];
}

static void fake_submit(struct executor *x, int64_t t)
{
	struct fake *f = (struct fake *)x;
	f->queue[(f->head + f->len++) % 4096] = t;
	if (f->len > f->max_in_flight)
		f->max_in_flight = f->len;
	/* Before the first result nothing is known about sizes: count from then on. */
	if (is_root(f->rc->g, t) && ++f->roots_in_flight > f->max_roots_in_flight && f->n_ran > 0)
		f->max_roots_in_flight = f->roots_in_flight;
}

static size_t fake_wait(struct executor *x, struct completion *out, size_t max, int timeout_ms)
{
	struct fake *f = (struct fake *)x;
	(void)timeout_ms;
	if (!f->len || !max)
		return 0;
	int64_t t = f->queue[f->head];
	f->head = (f->head + 1) % 4096;
	f->len--;
	if (is_root(f->rc->g, t))
		f->roots_in_flight--;
	f->ran[f->n_ran++] = t;
	memset(out, 0, sizeof *out);
	err_init(&out->err);
	out->task = t;
	if (t == f->fail_task) {
		out->rc = -1;
		err_run(&out->err, "boom-task", "failed on purpose");
		return 1;
	}
	char *data = xmalloc(f->result_bytes);
	memset(data, 'x', f->result_bytes);
	store_put_take(f->rc->store, t, data, f->result_bytes, false);
	out->out_bytes = f->result_bytes;
	return 1;
}

static void fake_wake(struct executor *x) { (void)x; }
static void fake_cancel(struct executor *x) { (void)x; }
static void fake_free(struct executor *x) { (void)x; }

static const struct executor_vt fake_vt = { fake_submit, fake_wait, fake_wake, fake_cancel, fake_free };

static struct executor *make_fake(struct run_ctx *rc, void *arg)
{
	struct fake *f = arg;
	f->base.vt = &fake_vt;
	f->rc = rc;
	return &f->base;
}

static const char spec_text[] =
	"tessera: 1\n"
	"nodes:\n"
	"  load: {foreach: {i: \"0..12\"}, run: cat}\n"
	"  ref: {run: cat}\n"
	"  process: {foreach: {i: \"0..12\"}, in: [\"load[i]\", ref], run: cat}\n"
	"  roll: {window: {over: process, size: 3}, run: cat}\n"
	"  best: {reduce: roll, run: cat}\n"
	"outputs: {best: /dev/null}\n";

struct setup {
	struct spec s;
	struct graph *g;
	struct plan p;
	struct sched_opts o;
	char spill[64];
};

static bool set_up(struct setup *su, int jobs, uint64_t limit)
{
	struct err e;
	err_init(&e);
	memset(su, 0, sizeof *su);
	snprintf(su->spill, sizeof su->spill, "/tmp/tessera-sched-test-XXXXXX");
	if (!mkdtemp(su->spill))
		return false;
	if (spec_parse_text(&su->s, "t.yaml", spec_text, strlen(spec_text), NULL, 0, &e) < 0 ||
	    !(su->g = graph_build(&su->s, NULL, &e)) || plan_make(&su->p, su->g, NULL, 0, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return false;
	}
	su->o = (struct sched_opts){ .jobs = jobs, .mem_limit = limit, .spill_dir = su->spill, .quiet = true };
	return true;
}

static void tear_down(struct setup *su)
{
	plan_release(&su->p);
	graph_free(su->g);
	spec_release(&su->s);
	CHECK(rmdir(su->spill) == 0); /* empty: the store removed its folder */
}

static void test_static_order_one_job(void)
{
	struct setup su;
	CHECK(set_up(&su, 1, 1 << 20));
	struct fake *f = xcalloc(1, sizeof *f);
	f->fail_task = -1;
	f->result_bytes = 16;
	struct err e;
	err_init(&e);
	CHECK(sched_run(su.g, &su.p, &su.o, make_fake, f, &e) == 0);
	CHECK(f->n_ran == (size_t)su.p.n_keep);
	for (size_t i = 0; i < f->n_ran; i++)
		CHECK(f->ran[i] == su.p.order[i]);
	CHECK(f->max_in_flight == 1);
	free(f);
	tear_down(&su);
}

static void test_failure_stops_scheduling(void)
{
	struct setup su;
	CHECK(set_up(&su, 2, 1 << 20));
	struct fake *f = xcalloc(1, sizeof *f);
	f->result_bytes = 16;
	f->fail_task = su.p.order[5];
	struct err e;
	err_init(&e);
	CHECK(sched_run(su.g, &su.p, &su.o, make_fake, f, &e) == -1);
	CHECK(e.code == ERR_RUN);
	CHECK_STR(e.task, "boom-task");
	/* At most the one task already submitted beside it ran afterwards. */
	size_t at = 0;
	while (at < f->n_ran && f->ran[at] != f->fail_task)
		at++;
	CHECK(at < f->n_ran && f->n_ran <= at + 2);
	free(f);
	tear_down(&su);
}

static void test_sources_admitted_within_budget(void)
{
	/* Roomy budget: two sources run at once. */
	struct setup su;
	CHECK(set_up(&su, 2, 1 << 20));
	struct fake *f = xcalloc(1, sizeof *f);
	f->fail_task = -1;
	f->result_bytes = 1000;
	struct err e;
	err_init(&e);
	CHECK(sched_run(su.g, &su.p, &su.o, make_fake, f, &e) == 0);
	CHECK(f->max_roots_in_flight == 2);
	free(f);
	tear_down(&su);
	/* Budget smaller than one result: a source starts only when memory allows or nothing runs. */
	CHECK(set_up(&su, 2, 500));
	f = xcalloc(1, sizeof *f);
	f->fail_task = -1;
	f->result_bytes = 1000;
	err_init(&e);
	CHECK(sched_run(su.g, &su.p, &su.o, make_fake, f, &e) == 0);
	CHECK(f->n_ran == (size_t)su.p.n_keep);
	CHECK(f->max_roots_in_flight == 1);
	free(f);
	tear_down(&su);
}

const struct test sched_tests[] = {
	{ "sched/static_order_one_job", test_static_order_one_job },
	{ "sched/failure_stops_scheduling", test_failure_stops_scheduling },
	{ "sched/sources_admitted_within_budget", test_sources_admitted_within_budget },
	{ NULL, NULL },
};
