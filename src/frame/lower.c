/* SPDX-License-Identifier: MIT */
/*
 * frame/lower: fnodes -> families of tasks.
 *
 * Row-wise nodes (filter, select, assign, dropna, fillna) are never
 * families of their own: they fuse into the chain that a family runs per
 * partition of its source. Only aggregates, sorts and heads materialize,
 * plus one writer family per output. Lowering also decides, per column of
 * a CSV source, whether a chain needs the field at all (to split it out)
 * and whether it needs its value (to convert it): a column written through
 * untouched is only split, never parsed.
 */
#include "frame/frame_int.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

enum { NEED_RAW = 1, NEED_VALUE = 2 };

bool fnode_is_materialized(const struct fnode *f)
{
	return f->kind == FN_AGG || f->kind == FN_SORT || f->kind == FN_HEAD || f->kind == FN_CONCAT ||
	       (f->kind == FN_MERGE && (f->how == JOIN_OUTER || f->partitioned));
}

int ffam_extras(const struct ffam *m, const struct fnode **out, int cap)
{
	int n = 0;
	if (m->kind == FF_WHOLE && m->f->kind == FN_MERGE) {
		if (cap > 0)
			out[0] = m->f->other;
		return 1;
	}
	if (m->kind != FF_PARTS && m->kind != FF_AGG && m->kind != FF_XSORT)
		return 0;
	for (int i = 0; i < m->n_chain; i++)
		if (m->chain[i]->kind == FN_MERGE) {
			if (n < cap)
				out[n] = m->chain[i]->other;
			n++;
		}
	return n;
}

struct fnode *fnode_source(struct fnode *f, int *n_chain)
{
	int n = 0;
	while (f->kind != FN_READ && !fnode_is_materialized(f)) {
		f = f->in;
		n++;
	}
	*n_chain = n;
	return f;
}

const struct csv_input *fnode_read_block(const struct fnode *f, int64_t k, int64_t *block)
{
	/* the last input whose first partition is <= k (every input has at least one block) */
	size_t lo = 0, hi = f->n_inputs - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		if (f->part_first[mid] <= k)
			lo = mid;
		else
			hi = mid - 1;
	}
	*block = k - f->part_first[lo];
	return f->inputs[lo];
}

struct lctx {
	struct fbuild *b;
	struct ffam **fams;
	int64_t n_fams;
	size_t cap;
};

static struct ffam *new_fam(struct lctx *l, enum ffam_kind k, struct fnode *f, const char *label)
{
	struct ffam *m = arena_alloc(l->b->arena, sizeof *m);
	memset(m, 0, sizeof *m);
	m->kind = k;
	m->f = f;
	m->owner = f->owner;
	m->label = label;
	m->limit = -1;
	m->split_every = 8;
	XGROW(l->fams, l->cap, (size_t)l->n_fams + 1);
	l->fams[l->n_fams++] = m;
	return m;
}

static int64_t src_parts(const struct fnode *src)
{
	return src->kind == FN_READ ? src->part_first[src->n_inputs] : src->fam->n_chunks;
}

/* Marks in @need (over f's input schema) what f needs of its input for @out_need (over f's schema). */
static void mark_cx(const struct cexpr *e, int *need)
{
	if (!e)
		return;
	if (e->kind == CX_COL)
		need[e->col] |= NEED_VALUE;
	mark_cx(e->a, need);
	mark_cx(e->b, need);
	for (size_t i = 0; i < e->n_list; i++)
		mark_cx(e->list[i], need);
}

static void back(const struct fnode *f, const int *need, int *need_in)
{
	memset(need_in, 0, (size_t)f->in->n_cols * sizeof *need_in);
	switch (f->kind) {
	case FN_FILTER:
		memcpy(need_in, need, (size_t)f->n_cols * sizeof *need);
		mark_cx(f->mask, need_in);
		break;
	case FN_SELECT:
		for (int k = 0; k < f->n_cols; k++)
			need_in[f->src_col[k]] |= need[k];
		break;
	case FN_ASSIGN:
	case FN_FILLNA:
		for (int k = 0; k < f->n_cols; k++) {
			if (f->src_col[k] >= 0)
				need_in[f->src_col[k]] |= need[k];
			else if (need[k] && f->kind == FN_FILLNA)
				need_in[k] |= NEED_VALUE;
			else if (need[k])
				mark_cx(f->cx[k], need_in);
		}
		break;
	case FN_DROPNA:
		for (int k = 0; k < f->n_cols; k++)
			need_in[k] = need[k] | (f->subset[k] ? NEED_VALUE : 0);
		break;
	case FN_MERGE:
		for (int k = 0; k < f->n_cols; k++)
			if (f->out_side[k] != 1)
				need_in[f->out_col[k]] |= need[k];
		for (int k = 0; k < f->n_on; k++)
			need_in[f->on_in[k]] |= NEED_VALUE;
		break;
	default:
		break;
	}
}

/* Fills m->want/value for a READ source from what the chain's end needs (@need over end's schema). */
static void project(struct lctx *l, struct ffam *m, struct fnode *end, const int *need_end)
{
	struct fnode *src = m->src;
	if (src->kind != FN_READ)
		return;
	int width = 1;
	for (struct fnode *f = end; f != src; f = f->in)
		if (f->n_cols > width)
			width = f->n_cols;
	if (src->n_cols > width)
		width = src->n_cols;
	int *a = xcalloc((size_t)width, sizeof *a), *b = xcalloc((size_t)width, sizeof *b);
	memcpy(a, need_end, (size_t)end->n_cols * sizeof *a);
	for (struct fnode *f = end; f != src; f = f->in) {
		back(f, a, b);
		int *t = a;
		a = b;
		b = t;
	}
	int nf = src->n_fields;
	m->want = arena_alloc(l->b->arena, (size_t)nf * sizeof *m->want);
	m->value = arena_alloc(l->b->arena, (size_t)nf * sizeof *m->value);
	memset(m->want, 0, (size_t)nf * sizeof *m->want);
	memset(m->value, 0, (size_t)nf * sizeof *m->value);
	for (int j = 0; j < src->n_cols; j++) {
		int fc = src->src_col[j];
		m->want[fc] = a[j] != 0;
		/* a declared type is a promise about every value: one only written through is checked too */
		m->value[fc] = (a[j] & NEED_VALUE) != 0 ||
			       (a[j] && src->declared && fc < src->inputs[0]->n_cols && src->declared[fc]);
	}
	free(a);
	free(b);
}

static void set_chain(struct lctx *l, struct ffam *m, struct fnode *end)
{
	int n;
	m->src = fnode_source(end, &n);
	m->n_chain = n;
	m->chain = arena_alloc(l->b->arena, (size_t)(n ? n : 1) * sizeof *m->chain);
	struct fnode *f = end;
	for (int k = n - 1; k >= 0; k--, f = f->in)
		m->chain[k] = f;
	m->n_src = src_parts(m->src);
	uint64_t blk = 0;
	for (size_t i = 0; m->src->kind == FN_READ && i < m->src->n_inputs; i++) {
		const struct csv_input *in = m->src->inputs[i];
		for (int64_t k = 0; k < in->n_blocks; k++)
			if (in->block_off[k + 1] - in->block_off[k] > blk)
				blk = in->block_off[k + 1] - in->block_off[k];
	}
	m->work_bytes = blk ? (int64_t)(4 * blk) : (16 << 20);
	/* a merge holds its row pairs and the joined columns besides the partition */
	for (int k = 0; k < n; k++)
		if (m->chain[k]->kind == FN_MERGE)
			m->work_bytes += blk ? (int64_t)(4 * blk) : (16 << 20);
}

static struct ffam *lower_node(struct lctx *l, struct fnode *f);

/* Lowers the hashed sides of the merges in the chain ending at @end, which its tasks read whole. */
static int lower_extras(struct lctx *l, struct fnode *end)
{
	for (struct fnode *f = end; f->kind != FN_READ && !fnode_is_materialized(f); f = f->in)
		if (f->kind == FN_MERGE && !lower_node(l, f->other))
			return -1;
	return 0;
}

/* A family emitting the rows of @end (run per partition of its source): text in @fmt, or tables;
 * @need is what it needs of each of end's columns (NEED_RAW, NEED_VALUE). */
static struct ffam *parts_family(struct lctx *l, struct fnode *end, bool text, enum table_format fmt, int64_t limit,
				 int need_each)
{
	int n;
	struct fnode *src = fnode_source(end, &n);
	if (src != end || text)
		if (fnode_is_materialized(src) && !lower_node(l, src))
			return NULL;
	if (lower_extras(l, end) < 0)
		return NULL;
	struct ffam *m = new_fam(l, FF_PARTS, end, text ? "write" : "rows");
	set_chain(l, m, end);
	m->text = text;
	m->fmt = fmt;
	m->limit = limit;
	m->n_tasks = m->n_chunks = m->n_src;
	int *need = xcalloc((size_t)(end->n_cols ? end->n_cols : 1), sizeof *need);
	for (int k = 0; k < end->n_cols; k++)
		need[k] = need_each;
	project(l, m, end, need);
	free(need);
	return m;
}

/* The family whose chunks are @f's rows as tables: its own when materialized, else a partition family
 * (keeping at most @limit rows of each partition, the last ones when @from_end). */
static struct ffam *rows_of(struct lctx *l, struct fnode *f, int64_t limit, bool from_end)
{
	int n;
	struct fnode *src = fnode_source(f, &n);
	if (n == 0 && fnode_is_materialized(src))
		return lower_node(l, src);
	bool all = limit < 0;
	if (all && f->rows)
		return f->rows;
	struct ffam *m = parts_family(l, f, false, TF_CSV, limit, NEED_RAW | NEED_VALUE);
	if (m)
		m->from_end = from_end;
	if (all)
		f->rows = m;
	return m;
}

static struct ffam *lower_node(struct lctx *l, struct fnode *f)
{
	if (f->fam)
		return f->fam;
	if (f->kind == FN_AGG) {
		int n;
		struct fnode *src = fnode_source(f->in, &n);
		if ((fnode_is_materialized(src) && !lower_node(l, src)) || lower_extras(l, f->in) < 0)
			return NULL;
		struct ffam *m = new_fam(l, FF_AGG, f, f->label);
		bool sketches = false;
		for (int i = 0; i < f->n_aggs; i++)
			sketches |= f->aggs[i].fn == AGG_MEDIAN || f->aggs[i].fn == AGG_QUANTILE;
		if (sketches && l->b->mem_limit) {
			/* A combine holds split_every partials and makes one, on each worker at
			 * once: each partial's sketches get a share of half the limit. Four
			 * partials a combine keep the share from getting small. */
			m->split_every = 4;
			uint64_t jobs = l->b->jobs > 0 ? (uint64_t)l->b->jobs : 1;
			m->sketch_budget = l->b->mem_limit / 2 / (jobs * (uint64_t)(m->split_every + 1));
		}
		set_chain(l, m, f->in);
		int *need = xcalloc((size_t)(f->in->n_cols ? f->in->n_cols : 1), sizeof *need);
		for (int k = 0; k < f->n_keys; k++)
			need[f->keys[k]] = NEED_VALUE;
		for (int k = 0; k < f->n_vals; k++)
			need[f->vals[k]] = NEED_VALUE;
		project(l, m, f->in, need);
		free(need);
		/* the tree: maps, combine levels of split_every, one final */
		int64_t cnt = m->n_src, pos = m->n_src;
		while (cnt > m->split_every && m->n_levels < 15) {
			cnt = (cnt + m->split_every - 1) / m->split_every;
			m->level_first[m->n_levels] = pos;
			m->level_n[m->n_levels++] = cnt;
			pos += cnt;
		}
		m->n_tasks = pos + 1;
		m->n_chunks = 1;
		f->fam = m;
		return m;
	}
	if (f->kind == FN_CONCAT) {
		struct ffam **in = arena_alloc(l->b->arena, (size_t)f->n_parts * sizeof *in);
		for (int i = 0; i < f->n_parts; i++)
			if (!(in[i] = rows_of(l, f->parts[i], -1, false)))
				return NULL;
		struct ffam *m = new_fam(l, FF_CONCAT, f, f->label);
		m->n_inputs = f->n_parts;
		m->inputs = in;
		m->input_first = arena_alloc(l->b->arena, (size_t)(f->n_parts + 1) * sizeof *m->input_first);
		m->input_first[0] = 0;
		for (int i = 0; i < f->n_parts; i++)
			m->input_first[i + 1] = m->input_first[i] + in[i]->n_chunks;
		m->n_tasks = m->n_chunks = m->input_first[f->n_parts];
		m->work_bytes = 16 << 20;
		f->fam = m;
		return m;
	}
	if (f->kind == FN_SORT && f->limit < 0) {
		/* a full sort of several partitions: a sample sort that never holds more than a range */
		int n;
		struct fnode *src = fnode_source(f->in, &n);
		if (fnode_is_materialized(src) && !lower_node(l, src))
			return NULL;
		if (src_parts(src) > 1) {
			if (lower_extras(l, f->in) < 0)
				return NULL;
			struct ffam *m = new_fam(l, FF_XSORT, f, "sort");
			set_chain(l, m, f->in);
			/* The sorted partitions are spilled and read back twice at ordinary limits: a column that is
			 * only written as read travels as its text alone. */
			int *need = xcalloc((size_t)(f->in->n_cols ? f->in->n_cols : 1), sizeof *need);
			for (int k = 0; k < f->in->n_cols; k++)
				need[k] = NEED_RAW | (f->text_only ? 0 : NEED_VALUE);
			for (int k = 0; k < f->n_by; k++)
				need[f->by[k]] |= NEED_VALUE;
			project(l, m, f->in, need);
			free(need);
			int64_t N = m->n_src;
			m->n_ranges = N < FRAME_MAX_SORT_RANGES ? N : FRAME_MAX_SORT_RANGES;
			m->n_tasks = 2 * N + 1 + N * m->n_ranges + m->n_ranges;
			m->n_chunks = m->n_ranges;
			m->work_bytes *= 2; /* a partition and its sorted copy */
			f->fam = m;
			return m;
		}
	}
	if (f->kind == FN_MERGE && f->partitioned) {
		struct ffam **in = arena_alloc(l->b->arena, 2 * sizeof *in);
		if (!(in[0] = rows_of(l, f->in, -1, false)) || !(in[1] = rows_of(l, f->other, -1, false)))
			return NULL;
		struct ffam *m = new_fam(l, FF_PJOIN, f, "merge");
		m->n_inputs = 2;
		m->inputs = in;
		/* Twice as many key ranges as chunks: a range join holds both sides' rows of its range
		 * and their joined rows at once, so a range of a chunk's size would need several chunks'
		 * worth of memory (79 MB against 44 MB at -m 24M, measured on a 5M x 5M self-join). */
		int64_t N = in[0]->n_chunks, M = in[1]->n_chunks, R = 2 * (N > M ? N : M);
		m->n_src = N;
		m->n_ranges = R < FRAME_MAX_SORT_RANGES ? R : FRAME_MAX_SORT_RANGES;
		R = m->n_ranges;
		m->n_tasks = 2 * N + 2 * M + 1 + (N + M) * R + R;
		m->n_chunks = R;
		m->work_bytes = 2 * (in[0]->work_bytes > in[1]->work_bytes ? in[0]->work_bytes : in[1]->work_bytes);
		f->fam = m;
		return m;
	}
	/* sort, head, outer merge: one task over every row of the input */
	bool top = f->kind == FN_SORT && f->limit >= 0;
	struct ffam *input = rows_of(l, f->in, f->kind == FN_HEAD || top ? f->limit : -1, f->kind == FN_HEAD && f->from_end);
	/* a sort's first n rows are among each partition's first n in its order */
	if (input && top && input->kind == FF_PARTS && input->f == f->in && input->limit == f->limit)
		input->topk = f;
	if (!input || (f->kind == FN_MERGE && !lower_node(l, f->other)))
		return NULL;
	struct ffam *m = new_fam(l, FF_WHOLE, f, f->label);
	m->input = input;
	m->n_tasks = m->n_chunks = 1;
	m->work_bytes = 64 << 20;
	f->fam = m;
	return m;
}

int64_t frame_lower(struct fbuild *b, const struct fout *outs, size_t n_outs, struct ffam ***fams)
{
	struct lctx l = { .b = b };
	b->out_fams = arena_alloc(b->arena, (n_outs ? n_outs : 1) * sizeof *b->out_fams);
	/* a frame no expression reads is read by its outputs alone */
	for (size_t k = 0; k < n_outs; k++)
		outs[k].f->text_only = outs[k].f->n_users == 0;
	for (size_t k = 0; k < n_outs; k++)
		if (outs[k].fmt != TF_CSV)
			outs[k].f->text_only = false;
	for (size_t k = 0; k < n_outs; k++) {
		struct ffam *m = NULL;
		for (size_t j = 0; j < k; j++)
			if (outs[j].f == outs[k].f && outs[j].fmt == outs[k].fmt)
				m = b->out_fams[j];
		if (!m) {
			struct fnode *f = outs[k].f;
			if (fnode_is_materialized(f) && !lower_node(&l, f))
				goto fail;
			m = parts_family(&l, f, true, outs[k].fmt, -1, outs[k].fmt == TF_CSV ? NEED_RAW : NEED_RAW | NEED_VALUE);
			if (!m)
				goto fail;
		}
		b->out_fams[k] = m;
	}
	for (size_t k = 0; k < b->n_arrays; k++) {
		struct frame_array *fa = b->arrays[k];
		int64_t n = l.n_fams;
		fa->fam = frame_lower_rows(b, (struct fnode *)fa->f, false, &l.fams, &n, &l.cap);
		l.n_fams = n;
		if (!fa->fam)
			goto fail;
	}
	*fams = arena_alloc(b->arena, (size_t)(l.n_fams ? l.n_fams : 1) * sizeof **fams);
	memcpy(*fams, l.fams, (size_t)l.n_fams * sizeof **fams);
	free(l.fams);
	return l.n_fams;
fail:
	free(l.fams);
	return -1;
}

struct ffam *frame_lower_rows(struct fbuild *b, struct fnode *f, bool count, struct ffam ***fams, int64_t *n_fams,
			      size_t *cap)
{
	struct lctx l = { .b = b, .fams = *fams, .n_fams = *n_fams, .cap = *cap };
	int n;
	struct fnode *src = fnode_source(f, &n);
	struct ffam *m = NULL;
	/* parts_family() lowers a materialized source only under a chain; here it may be the frame itself */
	if (!fnode_is_materialized(src) || lower_node(&l, src))
		m = parts_family(&l, f, false, TF_CSV, -1, count ? 0 : NEED_VALUE);
	if (m) {
		l.n_fams--; /* the last one made: it runs inside other tasks, not as a family of its own */
		m->count = count;
		m->label = count ? "count" : "to_array";
		m->n_tasks = m->n_chunks = 0;
	}
	*fams = l.fams;
	*n_fams = l.n_fams;
	*cap = l.cap;
	return m;
}

/* ---- accessors ---- */

int64_t ffam_n_tasks(const struct ffam *f) { return f->n_tasks; }
int64_t ffam_n_chunks(const struct ffam *f) { return f->n_chunks; }
void ffam_set_first_task(struct ffam *f, int64_t first) { f->first_task = first; }
int64_t ffam_first_task(const struct ffam *f) { return f->first_task; }
uint32_t ffam_owner(const struct ffam *f) { return f->owner; }
const struct fnode *ffam_node(const struct ffam *f) { return f->f; }
bool ffam_is_text(const struct ffam *f) { return f->kind == FF_PARTS && f->text; }
const char *ffam_label(const struct ffam *f) { return f->label; }
struct loc ffam_loc(const struct ffam *f) { return f->f->loc; }
int64_t ffam_work_bytes(const struct ffam *f) { return f->work_bytes; }

bool ffam_reads_input(const struct ffam *f, int64_t rel, size_t k, size_t n_in)
{
	/* a cut's last input is the next cut of its partition, there only to order them (see ffam_task_deps) */
	int64_t N = f->n_src, R = f->n_ranges, c0, parts;
	if (f->kind == FF_XSORT) {
		c0 = 2 * N + 1;
		parts = N;
	} else if (f->kind == FF_PJOIN) {
		parts = N + f->inputs[1]->n_chunks;
		c0 = 2 * parts + 1;
	} else {
		return true;
	}
	bool cut = rel >= c0 && rel < c0 + parts * R;
	return !(cut && (rel - c0) % R < R - 1 && k + 1 == n_in);
}

static int64_t chunk_task(const struct ffam *f, int64_t c)
{
	return f->first_task + f->n_tasks - f->n_chunks + c;
}

void ffam_task_deps(const struct ffam *f, int64_t rel, void (*fn)(void *arg, int64_t task), void *arg)
{
	const struct fnode *extra[FRAME_MAX_CHAIN_MERGES];
	int n_extra = ffam_extras(f, extra, FRAME_MAX_CHAIN_MERGES);
	switch (f->kind) {
	case FF_PARTS:
		if (f->src->kind != FN_READ)
			fn(arg, chunk_task(f->src->fam, rel));
		for (int i = 0; i < n_extra; i++)
			fn(arg, chunk_task(extra[i]->fam, 0));
		return;
	case FF_WHOLE:
		for (int64_t c = 0; c < f->input->n_chunks; c++)
			fn(arg, chunk_task(f->input, c));
		for (int i = 0; i < n_extra; i++)
			fn(arg, chunk_task(extra[i]->fam, 0));
		return;
	case FF_XSORT: {
		int64_t N = f->n_src, R = f->n_ranges, b0 = 2 * N + 1;
		if (rel < N) {
			if (f->src->kind != FN_READ)
				fn(arg, chunk_task(f->src->fam, rel));
			for (int i = 0; i < n_extra; i++)
				fn(arg, chunk_task(extra[i]->fam, 0));
		} else if (rel < 2 * N) {
			fn(arg, f->first_task + rel - N);
		} else if (rel == 2 * N) {
			for (int64_t i = 0; i < N; i++)
				fn(arg, f->first_task + N + i);
		} else if (rel < b0 + N * R) {
			fn(arg, f->first_task + (rel - b0) / R);
			fn(arg, f->first_task + 2 * N);
			/* Not read: it puts the cuts of one partition next to each other in the static order
			 * (depth first from the ranges), so its sorted partition stays in memory for all R
			 * of them instead of being reloaded for each. */
			if ((rel - b0) % R < R - 1)
				fn(arg, f->first_task + rel + 1);
		} else {
			for (int64_t i = 0; i < N; i++)
				fn(arg, f->first_task + b0 + i * R + (rel - b0 - N * R));
		}
		return;
	}
	case FF_PJOIN: {
		int64_t N = f->n_src, M = f->inputs[1]->n_chunks, R = f->n_ranges, c0 = 2 * N + 2 * M + 1;
		if (rel < N + M) {
			fn(arg, rel < N ? chunk_task(f->inputs[0], rel) : chunk_task(f->inputs[1], rel - N));
		} else if (rel < 2 * (N + M)) {
			fn(arg, f->first_task + rel - (N + M));
		} else if (rel == 2 * (N + M)) {
			for (int64_t i = 0; i < N + M; i++)
				fn(arg, f->first_task + N + M + i);
		} else if (rel < c0 + (N + M) * R) {
			/* cut (i, r) of sorted chunk i; the next cut of the same chunk orders it (see FF_XSORT) */
			fn(arg, f->first_task + (rel - c0) / R);
			fn(arg, f->first_task + 2 * (N + M));
			if ((rel - c0) % R < R - 1)
				fn(arg, f->first_task + rel + 1);
		} else {
			int64_t r = rel - c0 - (N + M) * R;
			for (int64_t i = 0; i < N + M; i++)
				fn(arg, f->first_task + c0 + i * R + r);
		}
		return;
	}
	case FF_CONCAT: {
		int i = 0;
		while (rel >= f->input_first[i + 1])
			i++;
		fn(arg, chunk_task(f->inputs[i], rel - f->input_first[i]));
		return;
	}
	case FF_AGG:
		break;
	}
	if (rel < f->n_src) {
		if (f->src->kind != FN_READ)
			fn(arg, chunk_task(f->src->fam, rel));
		for (int i = 0; i < n_extra; i++)
			fn(arg, chunk_task(extra[i]->fam, 0));
		return;
	}
	/* a combine task of level L member j reads level L-1 (the maps for L = 0) */
	int64_t prev_first = 0, prev_n = f->n_src;
	for (int L = 0; L < f->n_levels; L++) {
		if (rel >= f->level_first[L] && rel < f->level_first[L] + f->level_n[L]) {
			int64_t j = rel - f->level_first[L];
			for (int64_t x = j * f->split_every; x < prev_n && x < (j + 1) * f->split_every; x++)
				fn(arg, f->first_task + prev_first + x);
			return;
		}
		prev_first = f->level_first[L];
		prev_n = f->level_n[L];
	}
	for (int64_t x = 0; x < prev_n; x++)
		fn(arg, f->first_task + prev_first + x);
}

int ffam_task_level(const struct ffam *f, int64_t rel, int64_t *member)
{
	if (f->kind == FF_PJOIN) {
		int64_t S = f->n_src + f->inputs[1]->n_chunks, R = f->n_ranges, c0 = 2 * S + 1;
		int level = rel < S ? -1 : rel < 2 * S ? 1 : rel == 2 * S ? 2 : rel < c0 + S * R ? 3 : 0;
		*member = level == -1 ? rel : level == 1 ? rel - S : level == 2 ? 0 : level == 3 ? rel - c0 : rel - c0 - S * R;
		return level;
	}
	if (f->kind == FF_XSORT) {
		/* sorts (map), samples (l1), splitters (l2), cuts (l3), then the ranges */
		int64_t N = f->n_src, R = f->n_ranges, b0 = 2 * N + 1;
		int level = rel < N ? -1 : rel < 2 * N ? 1 : rel == 2 * N ? 2 : rel < b0 + N * R ? 3 : 0;
		*member = level == -1 ? rel : level == 1 ? rel - N : level == 2 ? 0 : level == 3 ? rel - b0 : rel - b0 - N * R;
		return level;
	}
	if (rel >= f->n_tasks - f->n_chunks) {
		*member = rel - (f->n_tasks - f->n_chunks);
		return 0;
	}
	if (rel < f->n_src) {
		*member = rel;
		return -1;
	}
	for (int L = 0; L < f->n_levels; L++)
		if (rel >= f->level_first[L] && rel < f->level_first[L] + f->level_n[L]) {
			*member = rel - f->level_first[L];
			return L + 1;
		}
	*member = rel;
	return 0;
}
