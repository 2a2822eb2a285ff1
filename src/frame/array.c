/* SPDX-License-Identifier: MIT */
/*
 * frame/array: to_array(), a frame's rows as a float64 array for the array
 * layer, one chunk per partition of the frame.
 *
 * An array's chunk grid is fixed when the graph is built, but a partition's
 * rows are only known once it is parsed: they are counted here, at build
 * time, as dask's to_dask_array(lengths=True) computes them, and kept on
 * the node that decides them (select, assign and fillna keep their input's
 * rows, so frames that differ only by those share one count). The cheap
 * cases need no parsing: read_csv has the records of each block of the file
 * (counted by csv_input_count_rows(), a walk from newline to newline); a
 * sort or a head has its input's count (capped by its n), a keyless
 * aggregate one row. The rest drop rows in ways only running them tells (a
 * filter, dropna, a groupby's groups): the node is lowered a second time,
 * privately, into a family that emits each partition's row count instead of
 * its rows (converting only what filters read), and run here with the
 * families it reads: a pass over the input before the run makes another.
 *
 * At run time each chunk of the array is one task of the array layer that
 * runs the frame's chain over its partition (frame_array_run), from the CSV
 * block or the chunk of a materialized frame, and converts the columns to
 * float64: the frame is never gathered.
 *
 * DESIGN: the counting pass runs on the building thread and b->jobs threads
 * of its own; its families and results are private and dropped when it
 * ends (the fnodes' fam pointers it set are cleared again). A frame_array
 * is read-only once frame_lower() has set its family.
 */
#include "frame/frame_int.h"
#include "ops/op.h"
#include "util/xalloc.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- the counting pass: private families run in this process ---- */

struct cpass {
	struct fbuild *b;
	struct ffam **fams;      /* the private families, in dependency order, then the counting one */
	int64_t n_fams;
	int64_t n_tasks;         /* every family's tasks, numbered from 0 in that order */
	struct ffam **fam_of;    /* per task */
	int64_t *dep_off, *deps; /* CSR: what each task reads */
	int64_t *left;           /* per task: readers still to run */
	struct op_sink *res;     /* per task: its result (memory only) */
	/* the batch being run: tasks [lo, hi), handed out from next under mu */
	int64_t lo, hi, next;
	pthread_mutex_t mu;
	struct err err;          /* the first failure (lowest task) */
	int64_t err_task;
};

struct dep_buf {
	int64_t *v;
	size_t n, cap;
};

static void push_dep(void *arg, int64_t task)
{
	struct dep_buf *d = arg;
	XGROW(d->v, d->cap, d->n + 1);
	d->v[d->n++] = task;
}

static int run_task(struct cpass *p, int64_t t, struct err *e)
{
	struct ffam *m = p->fam_of[t];
	int64_t n = p->dep_off[t + 1] - p->dep_off[t];
	const void **data = xmalloc((size_t)(n ? n : 1) * sizeof *data);
	size_t *len = xmalloc((size_t)(n ? n : 1) * sizeof *len);
	for (int64_t i = 0; i < n; i++) {
		const struct op_sink *s = &p->res[p->deps[p->dep_off[t] + i]];
		data[i] = s->data ? s->data : "";
		len[i] = s->len;
	}
	int rc = frame_run(m, t - m->first_task, (size_t)n, data, len, &p->res[t], e);
	free(data);
	free(len);
	return rc;
}

static void *batch_worker(void *arg)
{
	struct cpass *p = arg;
	struct err e;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		int64_t t = p->next < p->hi && !err_set(&p->err) ? p->next++ : -1;
		pthread_mutex_unlock(&p->mu);
		if (t < 0)
			return NULL;
		err_init(&e);
		if (run_task(p, t, &e) < 0) {
			pthread_mutex_lock(&p->mu);
			if (!err_set(&p->err) || t < p->err_task) {
				p->err = e;
				p->err_task = t;
			}
			pthread_mutex_unlock(&p->mu);
		}
	}
}

/* Runs tasks [lo, hi), none reading another of them, on up to b->jobs threads. */
static int run_batch(struct cpass *p, int64_t lo, int64_t hi)
{
	p->lo = p->next = lo;
	p->hi = hi;
	int jobs = p->b->jobs > 1 ? p->b->jobs : 1;
	if (jobs > hi - lo)
		jobs = (int)(hi - lo);
	pthread_t *th = xcalloc((size_t)jobs, sizeof *th);
	int started = 0;
	for (int j = 1; j < jobs; j++) {
		if (pthread_create(&th[j], NULL, batch_worker, p) != 0)
			break;
		started = j;
	}
	batch_worker(p);
	for (int j = 1; j <= started; j++)
		pthread_join(th[j], NULL);
	free(th);
	if (err_set(&p->err)) {
		*p->b->e = p->err;
		return -1;
	}
	/* results nobody reads any more are dropped */
	for (int64_t t = lo; t < hi; t++)
		for (int64_t i = p->dep_off[t]; i < p->dep_off[t + 1]; i++)
			if (--p->left[p->deps[i]] == 0)
				op_sink_release(&p->res[p->deps[i]]);
	return 0;
}

/* Counts @f's rows per partition by running a private counting family (and what it reads). */
static int count_by_running(struct fbuild *b, struct fnode *f)
{
	struct cpass p = { .b = b, .err_task = -1 };
	size_t cap = 0;
	struct ffam *cnt = frame_lower_rows(b, f, true, &p.fams, &p.n_fams, &cap);
	int rc = -1;
	if (!cnt)
		goto out;
	/* task ids: the families' tasks in order, then one per partition of the counting family */
	for (int64_t k = 0; k < p.n_fams; k++) {
		p.fams[k]->first_task = p.n_tasks;
		p.n_tasks += p.fams[k]->n_tasks;
	}
	cnt->first_task = p.n_tasks;
	p.n_tasks += cnt->n_src;
	p.fam_of = xmalloc((size_t)(p.n_tasks ? p.n_tasks : 1) * sizeof *p.fam_of);
	p.dep_off = xcalloc((size_t)p.n_tasks + 1, sizeof *p.dep_off);
	p.left = xcalloc((size_t)(p.n_tasks ? p.n_tasks : 1), sizeof *p.left);
	p.res = xcalloc((size_t)(p.n_tasks ? p.n_tasks : 1), sizeof *p.res);
	struct dep_buf d = { 0 };
	for (int64_t t = 0, k = 0; t < p.n_tasks; t++) {
		while (k < p.n_fams && t >= p.fams[k]->first_task + p.fams[k]->n_tasks)
			k++;
		struct ffam *m = k < p.n_fams ? p.fams[k] : cnt;
		p.fam_of[t] = m;
		ffam_task_deps(m, t - m->first_task, push_dep, &d);
		p.dep_off[t + 1] = (int64_t)d.n;
		op_sink_init(&p.res[t], 0, NULL, NULL);
	}
	p.deps = d.v;
	for (size_t i = 0; i < d.n; i++)
		p.left[d.v[i]]++;
	pthread_mutex_init(&p.mu, NULL);
	err_init(&p.err);
	/* batches: the longest runs of tasks that read only tasks before the run */
	rc = 0;
	for (int64_t lo = 0; lo < p.n_tasks && rc == 0;) {
		int64_t hi = lo + 1;
		while (hi < p.n_tasks) {
			bool ready = true;
			for (int64_t i = p.dep_off[hi]; i < p.dep_off[hi + 1] && ready; i++)
				ready = p.deps[i] < lo;
			if (!ready)
				break;
			hi++;
		}
		rc = run_batch(&p, lo, hi);
		lo = hi;
	}
	pthread_mutex_destroy(&p.mu);
	if (rc == 0) {
		f->n_counted = cnt->n_src;
		f->part_rows = arena_alloc(b->arena, (size_t)(f->n_counted ? f->n_counted : 1) * sizeof *f->part_rows);
		for (int64_t k = 0; k < f->n_counted; k++) {
			const struct op_sink *s = &p.res[cnt->first_task + k];
			int64_t n = 0;
			if (s->len == sizeof n)
				memcpy(&n, s->data, sizeof n);
			f->part_rows[k] = n;
		}
	}
	for (int64_t t = 0; t < p.n_tasks; t++)
		op_sink_release(&p.res[t]);
	free(p.fam_of);
	free(p.dep_off);
	free(p.deps);
	free(p.left);
	free(p.res);
out:
	/* the real lowering makes its own families for these nodes (and for the merges' other sides) */
	for (int64_t k = 0; k < p.n_fams; k++) {
		p.fams[k]->f->fam = NULL;
		p.fams[k]->f->rows = NULL;
	}
	for (struct fnode *g = f; g; g = g->in)
		g->fam = NULL;
	free(p.fams);
	return rc;
}

/* Sets f->n_counted and f->part_rows (once). */
static int count_rows(struct fbuild *b, struct fnode *f)
{
	if (f->part_rows)
		return 0;
	/* the rows are those of the nearest node below that reads, drops or reorders them */
	struct fnode *r = f;
	while (r->kind == FN_SELECT || r->kind == FN_ASSIGN || r->kind == FN_FILLNA)
		r = r->in;
	if (r != f) {
		if (count_rows(b, r) < 0)
			return -1;
		f->n_counted = r->n_counted;
		f->part_rows = r->part_rows;
		return 0;
	}
	int64_t total;
	switch (f->kind) {
	case FN_READ: {
		int64_t n = f->part_first[f->n_inputs];
		int64_t *rows = arena_alloc(b->arena, (size_t)(n ? n : 1) * sizeof *rows);
		for (size_t i = 0; i < f->n_inputs; i++)
			if (csv_input_count_rows(f->inputs[i], &f->dialect, b->jobs, rows + f->part_first[i], b->e) < 0)
				return -1;
		f->n_counted = n;
		f->part_rows = rows;
		return 0;
	}
	case FN_SORT:
	case FN_HEAD:
		/* a full sort of several partitions comes out in ranges whose sizes only running it tells */
		if (f->kind == FN_SORT && f->limit < 0)
			return count_by_running(b, f);
		if (count_rows(b, f->in) < 0)
			return -1;
		total = 0;
		for (int64_t k = 0; k < f->in->n_counted; k++)
			total += f->in->part_rows[k];
		if (f->limit >= 0 && total > f->limit)
			total = f->limit;
		break;
	case FN_AGG:
		if (f->n_keys > 0)
			return count_by_running(b, f); /* as many rows as groups */
		total = f->n_stack ? f->n_stack : 1; /* quantile([...]) and describe() stack their values */
		break;
	case FN_CONCAT: {
		/* its chunks are its parts' chunks, in order */
		int64_t n = 0;
		for (int i = 0; i < f->n_parts; i++) {
			if (count_rows(b, f->parts[i]) < 0)
				return -1;
			n += f->parts[i]->n_counted;
		}
		int64_t *rows = arena_alloc(b->arena, (size_t)(n ? n : 1) * sizeof *rows), k = 0;
		for (int i = 0; i < f->n_parts; i++)
			for (int64_t j = 0; j < f->parts[i]->n_counted; j++)
				rows[k++] = f->parts[i]->part_rows[j];
		f->n_counted = n;
		f->part_rows = rows;
		return 0;
	}
	default:
		return count_by_running(b, f); /* a filter, dropna, merge */
	}
	f->n_counted = 1;
	f->part_rows = arena_alloc(b->arena, sizeof *f->part_rows);
	f->part_rows[0] = total;
	return 0;
}

/* ---- the frame_array ---- */

struct frame_array *frame_to_array(struct fbuild *b, const struct doc *d, const struct expr *x, uint32_t call_off)
{
	bool series = false;
	struct fnode *f = frame_build_sub(b, d, x, &series);
	if (!f)
		return NULL;
	struct loc at = doc_loc_at(d, call_off);
	if (f->scalar) {
		err_at(b->e, at, "to_array() of a single value: it takes a frame or a column");
		return NULL;
	}
	if (f->n_cols == 0) {
		err_at(b->e, at, "to_array() of a frame with no columns");
		return NULL;
	}
	for (int k = 0; k < f->n_cols; k++)
		if (f->types[k] == COL_STRING || f->types[k] == COL_DATE) {
			err_at(b->e, at, "column '%s' is a %s; to_array() needs numeric columns (int64, float64, bool)",
			       f->names[k], f->types[k] == COL_STRING ? "string" : "date");
			return NULL;
		}
	if (count_rows(b, f) < 0)
		return NULL;
	f->n_users++;
	struct frame_array *a = arena_alloc(b->arena, sizeof *a);
	memset(a, 0, sizeof *a);
	a->f = f;
	a->n_cols = f->n_cols;
	a->series = series;
	a->n_parts = f->n_counted;
	a->rows = f->part_rows;
	XGROW(b->arrays, b->arrays_cap, b->n_arrays + 1);
	b->arrays[b->n_arrays++] = a;
	return a;
}

void frame_array_deps(const struct frame_array *a, int64_t part, void (*fn)(void *arg, int64_t task), void *arg)
{
	ffam_task_deps(a->fam, part, fn, arg);
}

int64_t frame_array_work_bytes(const struct frame_array *a)
{
	int n;
	const struct fnode *src = fnode_source((struct fnode *)a->f, &n);
	uint64_t blk = 0;
	for (size_t i = 0; src->kind == FN_READ && i < src->n_inputs; i++) {
		const struct csv_input *in = src->inputs[i];
		for (int64_t k = 0; k < in->n_blocks; k++)
			if (in->block_off[k + 1] - in->block_off[k] > blk)
				blk = in->block_off[k + 1] - in->block_off[k];
	}
	return blk ? (int64_t)(4 * blk) : (64 << 20);
}

int frame_array_run(const struct frame_array *a, int64_t part, size_t n_in, const void *const *in_data,
		    const size_t *in_len, double *out, struct err *e)
{
	struct table tb;
	struct frame_part *p = NULL;
	int rc = frame_eval_part(a->fam, part, n_in, in_data, in_len, &p, &tb, e);
	if (rc == 0 && tb.n_rows != a->rows[part])
		rc = err_run(e, NULL, "partition %lld holds %lld rows, not the %lld counted when the graph was built "
			     "(did the input change?)", (long long)part, (long long)tb.n_rows, (long long)a->rows[part]);
	int64_t nc = a->n_cols;
	for (int k = 0; rc == 0 && k < a->n_cols; k++) {
		const struct column *c = &tb.cols[k];
		for (int64_t r = 0; r < tb.n_rows; r++) {
			double v;
			if (!column_is_valid(c, r))
				v = NAN;
			else if (c->type == COL_FLOAT64 && c->f)
				v = c->f[r];
			else if (c->type == COL_INT64 && c->i)
				v = (double)c->i[r];
			else if (c->type == COL_BOOL && c->b)
				v = c->b[r] ? 1.0 : 0.0;
			else {
				rc = err_run(e, NULL, "internal: column '%s' of a to_array() partition has no values", a->f->names[k]);
				break;
			}
			out[r * nc + k] = v;
		}
	}
	frame_part_release(p);
	return rc;
}
