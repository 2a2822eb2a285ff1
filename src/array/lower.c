/* SPDX-License-Identifier: MIT */
/*
 * lower: array nodes -> families of tasks. Decides what is materialized
 * (see array.h), lays out each family's tasks and answers, per task, which
 * chunks it reads. Everything not materialized is fused into the programs
 * of the families that read it.
 */
#include "array/array.h"
#include "distance.h"
#include "util/hash.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

int64_t anode_n_chunks(const struct anode *a)
{
	int64_t n = 1;
	for (int k = 0; k < a->ndim; k++)
		n *= a->chunks[k].n;
	return n;
}

void anode_chunk_box(const struct anode *a, int64_t c, int64_t *start, int64_t *count)
{
	for (int k = a->ndim - 1; k >= 0; k--) {
		int64_t n = a->chunks[k].n, i = c % n;
		c /= n;
		start[k] = a->chunks[k].bounds[i];
		count[k] = a->chunks[k].bounds[i + 1] - start[k];
	}
}

void anode_child_box(const struct anode *n, int k, const int64_t *start, const int64_t *count, int64_t *cstart,
		     int64_t *ccount)
{
	const struct anode *c = n->in[k];
	if (n->kind == AN_RESHAPE) {
		/* C-order flat indices are the same on both sides: the box of the
		 * input that holds the flat range from the box's first element to
		 * its last (fixed axes, then one ranged axis, then whole axes). */
		int64_t total = 1;
		for (int j = 0; j < n->ndim; j++)
			total *= count[j];
		if (!total) {
			for (int j = 0; j < c->ndim; j++)
				cstart[j] = 0, ccount[j] = 0;
			return;
		}
		int64_t f0 = 0, f1 = 0;
		for (int j = 0; j < n->ndim; j++) {
			f0 = f0 * n->shape[j] + start[j];
			f1 = f1 * n->shape[j] + start[j] + count[j] - 1;
		}
		int64_t i0[AR_MAX_DIMS], i1[AR_MAX_DIMS];
		for (int j = c->ndim - 1; j >= 0; j--) {
			i0[j] = f0 % c->shape[j];
			f0 /= c->shape[j];
			i1[j] = f1 % c->shape[j];
			f1 /= c->shape[j];
		}
		int first_diff = 0;
		while (first_diff < c->ndim && i0[first_diff] == i1[first_diff])
			first_diff++;
		for (int j = 0; j < c->ndim; j++) {
			if (j <= first_diff) {
				cstart[j] = i0[j];
				ccount[j] = j < first_diff ? 1 : i1[j] - i0[j] + 1;
			} else {
				cstart[j] = 0;
				ccount[j] = c->shape[j];
			}
		}
		return;
	}
	if (n->kind == AN_CONCAT) {
		/* the part of the box inside input k, in its own coordinates (maybe empty) */
		for (int j = 0; j < c->ndim; j++) {
			cstart[j] = start[j];
			ccount[j] = count[j];
		}
		int a = n->axis;
		int64_t lo = n->cat_off[k], hi = lo + c->shape[a];
		int64_t s0 = start[a] > lo ? start[a] : lo, s1 = start[a] + count[a] < hi ? start[a] + count[a] : hi;
		cstart[a] = s1 > s0 ? s0 - lo : 0;
		ccount[a] = s1 > s0 ? s1 - s0 : 0;
		return;
	}
	if (n->kind == AN_VIEW) {
		for (int j = 0; j < c->ndim; j++) {
			cstart[j] = n->vfix[j];
			ccount[j] = 1;
		}
		for (int o = 0; o < n->ndim; o++) {
			int j = n->vsrc[o];
			if (j < 0)
				continue;
			int64_t lo, hi;
			if (count[o] == 0) {
				lo = 0, hi = -1;
			} else if (o == n->vlist_axis) {
				lo = hi = n->vlist[start[o]];
				for (int64_t i = start[o]; i < start[o] + count[o]; i++) {
					lo = n->vlist[i] < lo ? n->vlist[i] : lo;
					hi = n->vlist[i] > hi ? n->vlist[i] : hi;
				}
			} else {
				int64_t a = n->vstart[o] + start[o] * n->vstep[o];
				int64_t b = n->vstart[o] + (start[o] + count[o] - 1) * n->vstep[o];
				lo = a < b ? a : b;
				hi = a < b ? b : a;
			}
			cstart[j] = lo;
			ccount[j] = hi - lo + 1;
		}
		return;
	}
	if (n->kind == AN_REDUCE) {
		int o = 0;
		for (int j = 0; j < c->ndim; j++) {
			if (n->axes & (1u << j)) {
				cstart[j] = 0;
				ccount[j] = c->shape[j];
				if (n->keepdims)
					o++;
			} else {
				cstart[j] = start[o];
				ccount[j] = count[o];
				o++;
			}
		}
		return;
	}
	int off = n->ndim - c->ndim;
	for (int j = 0; j < c->ndim; j++) {
		if (c->shape[j] == 1 && n->shape[j + off] != 1) {
			cstart[j] = 0;
			ccount[j] = 1;
		} else {
			cstart[j] = start[j + off];
			ccount[j] = count[j + off];
		}
	}
}

/* Calls @fn for each random generator that computing @a over the box reads inline, with the box it
 * reads; false when the program also reads a file or a materialized chunk. */
static bool random_leaves(const struct anode *a, const int64_t *start, const int64_t *count,
			  void (*fn)(void *arg, const struct anode *g, const int64_t *s, const int64_t *c), void *arg)
{
	if (a->fam)
		return false;
	switch (a->kind) {
	case AN_SCALAR:
		return true;
	case AN_GEN:
		if (a->gen == GEN_UNIFORM || a->gen == GEN_NORMAL || a->gen == GEN_INTEGERS)
			fn(arg, a, start, count);
		return true;
	case AN_EW:
	case AN_REDUCE:
	case AN_RESHAPE:
	case AN_CONCAT:
	case AN_VIEW:
		break;
	default:
		return false;
	}
	for (int i = 0; i < a->n_in; i++) {
		int64_t cs[AR_MAX_DIMS], cc[AR_MAX_DIMS];
		anode_child_box(a, i, start, count, cs, cc);
		if (!random_leaves(a->in[i], cs, cc, fn, arg))
			return false;
	}
	return true;
}

/* The chunk along one axis that holds index @i: bounds are sorted. */
static int64_t chunk_of(const struct axis_chunks *ax, int64_t i)
{
	int64_t lo = 0, hi = ax->n - 1;
	while (lo < hi) {
		int64_t mid = (lo + hi + 1) / 2;
		if (ax->bounds[mid] <= i)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

void anode_chunks_overlapping(const struct anode *a, const int64_t *start, const int64_t *count,
			      void (*fn)(void *arg, int64_t chunk), void *arg)
{
	int64_t lo[AR_MAX_DIMS], hi[AR_MAX_DIMS], idx[AR_MAX_DIMS];
	for (int k = 0; k < a->ndim; k++) {
		if (count[k] <= 0)
			return;
		lo[k] = chunk_of(&a->chunks[k], start[k]);
		hi[k] = chunk_of(&a->chunks[k], start[k] + count[k] - 1);
		idx[k] = lo[k];
	}
	for (;;) {
		int64_t c = 0;
		for (int k = 0; k < a->ndim; k++)
			c = c * a->chunks[k].n + idx[k];
		fn(arg, c);
		int k = a->ndim - 1;
		while (k >= 0 && idx[k] == hi[k]) {
			idx[k] = lo[k];
			k--;
		}
		if (k < 0)
			return;
		idx[k]++;
	}
}

int64_t afam_chunk_task(const struct afam *f, int64_t c)
{
	return f->first_task + (f->tree ? f->n_map + f->n_comb + f->n_extra : 0) + c;
}

/* ---- what to materialize ---- */

static bool cross_chunk(const struct anode *r)
{
	if (r->kind != AN_REDUCE)
		return false;
	for (int k = 0; k < r->in[0]->ndim; k++)
		if ((r->axes & (1u << k)) && r->in[0]->chunks[k].n > 1)
			return true;
	return false;
}

struct walk {
	struct anode **order; /* post-order: inputs first */
	size_t n, cap;
	uint8_t *seen;
};

static void visit(struct walk *w, struct anode *a)
{
	if (w->seen[a->id])
		return;
	w->seen[a->id] = 1;
	for (int i = 0; i < a->n_in; i++)
		visit(w, a->in[i]);
	XGROW(w->order, w->cap, w->n + 1);
	w->order[w->n++] = a;
}


static void walk_all(struct walk *w, struct anode **roots, size_t n_roots, uint32_t n_ids)
{
	memset(w, 0, sizeof *w);
	w->seen = xcalloc(n_ids ? n_ids : 1, 1);
	for (size_t i = 0; i < n_roots; i++)
		visit(w, roots[i]);
}

/*
 * Whether recomputing @a in each user costs more than storing it: a
 * reduction does. Reading a .npy file again does not, as the file is on
 * disk already and storing it would mean spilling it there once more.
 */
static bool costly(const struct anode *a)
{
	if (a->fam && a->kind != AN_SCALAR)
		return false; /* reading a materialized array is cheap */
	if (a->kind == AN_REDUCE || a->kind == AN_MATMUL || a->kind == AN_PDIST || a->kind == AN_CHOL)
		return true;
	for (int i = 0; i < a->n_in; i++)
		if (costly(a->in[i]))
			return true;
	return false;
}

static int64_t tree_levels_size(int64_t leaves, int64_t k)
{
	int64_t total = 0;
	while (leaves > k) {
		leaves = (leaves + k - 1) / k;
		total += leaves;
	}
	return total;
}

static int split_every_of(const struct anode *a)
{
	return a->kind == AN_MATMUL || a->kind == AN_PDIST ? 8 : a->split_every;
}

static struct afam *new_family(struct abuild *b, struct anode *a)
{
	struct afam *f = arena_alloc(b->arena, sizeof *f);
	f->a = a;
	f->n_chunks = anode_n_chunks(a);
	if (a->kind == AN_MATMUL || a->kind == AN_PDIST || cross_chunk(a)) {
		f->tree = true;
		if (a->kind == AN_MATMUL) {
			f->matmul = true;
			f->n_trees = f->n_chunks;
			f->leaves = a->in[0]->chunks[a->ndim - 1].n;
			f->n_map = f->n_trees * f->leaves;
		} else if (a->kind == AN_PDIST) {
			f->pdist = true;
			int64_t t0 = a->tiles[0].n, t1 = a->tiles[1].n;
			f->n_trees = a->self_pair ? t0 * (t0 + 1) / 2 : t0 * t1;
			/* on a GPU one map task streams all the groups of its tile through the device */
			f->leaves = a->device == PD_GPU ? 1 : a->groups.n;
			f->n_map = f->n_trees * f->leaves;
		} else {
			const struct anode *in = a->in[0];
			f->n_trees = f->n_chunks;
			f->n_map = anode_n_chunks(in);
			f->leaves = 1;
			for (int k = 0; k < in->ndim; k++)
				if (a->axes & (1u << k))
					f->leaves *= in->chunks[k].n;
		}
		f->comb_first = arena_alloc(b->arena, (size_t)(f->n_trees ? f->n_trees : 1) * sizeof *f->comb_first);
		int64_t per = tree_levels_size(f->leaves, split_every_of(a));
		for (int64_t o = 0; o < f->n_trees; o++) {
			f->comb_first[o] = per ? f->n_comb : -1;
			f->n_comb += per;
		}
		if (f->pdist && a->condensed)
			f->n_extra = f->n_trees;
		f->n_tasks = f->n_map + f->n_comb + f->n_extra + f->n_chunks;
	} else {
		f->n_tasks = f->n_chunks;
	}
	/* working memory: a chunk being built, or a distance tile's statistics and its two boxes of rows */
	f->work_bytes = 8;
	for (int k = 0; k < a->ndim; k++)
		f->work_bytes *= a->chunks[k].n ? a->chunks[k].bounds[1] - a->chunks[k].bounds[0] : 0;
	if (a->kind == AN_PDIST) {
		int64_t ti = a->tiles[0].bounds[1], tj = a->tiles[1].bounds[1], g = a->groups.bounds[1];
		f->work_bytes = 8 * (ti * tj * k_dist_info_of((enum k_dist_metric)a->metric)->n_stats + (ti + tj) * g * 2);
		if (a->device == PD_GPU) {
			f->work_bytes += (int64_t)a->gpu_work;
		} else { /* the CPU kernels' scratch (packed operands, masks) */
			struct k_dist_opts o = { .metric = (enum k_dist_metric)a->metric, .p = a->p, .weighted = a->weighted };
			f->work_bytes += (int64_t)k_dist_scratch_size(&o, ti, tj, g) + 64;
		}
	}
	if (a->kind == AN_FRAME)
		f->work_bytes += frame_array_work_bytes(a->frame); /* the partition parsed */
	a->fam = f;
	return f;
}

static bool same_chunks(const struct anode *a, const struct anode *b)
{
	for (int k = 0; k < a->ndim; k++) {
		if (a->chunks[k].n != b->chunks[k].n)
			return false;
		if (a->chunks[k].bounds != b->chunks[k].bounds &&
		    memcmp(a->chunks[k].bounds, b->chunks[k].bounds, (size_t)(a->chunks[k].n + 1) * sizeof(int64_t)))
			return false;
	}
	return true;
}

/* Whether @a and @b compute the same array (their inputs already merged). */
static bool same_node(const struct anode *a, const struct anode *b)
{
	if (a->kind != b->kind || a->dtype != b->dtype || a->weak != b->weak || a->ndim != b->ndim ||
	    a->n_in != b->n_in || memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim) || !same_chunks(a, b))
		return false;
	for (int i = 0; i < a->n_in; i++)
		if (a->in[i] != b->in[i])
			return false;
	switch (a->kind) {
	case AN_SCALAR:
		return a->i == b->i && (a->f == b->f || (a->f != a->f && b->f != b->f));
	case AN_GEN:
		return a->gen == b->gen && !memcmp(a->g, b->g, sizeof a->g) && !memcmp(a->gi, b->gi, sizeof a->gi) &&
		       a->seed == b->seed;
	case AN_NPY:
	case AN_CSV:
		return !strcmp(a->path, b->path);
	case AN_EW:
		return a->ew == b->ew && a->gi[0] == b->gi[0] && a->dtype == b->dtype;
	case AN_REDUCE:
		return a->red == b->red && a->axes == b->axes && a->keepdims == b->keepdims && a->ddof == b->ddof &&
		       a->split_every == b->split_every;
	case AN_MATMUL:
	case AN_RESHAPE:
		return true;
	case AN_VCF:
		return !strcmp(a->path, b->path) && a->vcf_calls == b->vcf_calls;
	case AN_CHOL:
		return a->g[0] == b->g[0];
	case AN_FRAME:
		return a->frame == b->frame;
	case AN_PDIST:
		return a->metric == b->metric && (a->p == b->p || (a->p != a->p && b->p != b->p)) &&
		       a->condensed == b->condensed && a->self_pair == b->self_pair && a->weighted == b->weighted &&
		       a->device == b->device && a->missing == b->missing;
	case AN_CONCAT:
		return a->axis == b->axis && !memcmp(a->cat_off, b->cat_off, sizeof a->cat_off);
	case AN_VIEW:
		if (memcmp(a->vsrc, b->vsrc, sizeof(int) * (size_t)a->ndim) ||
		    memcmp(a->vstart, b->vstart, sizeof(int64_t) * (size_t)a->ndim) ||
		    memcmp(a->vstep, b->vstep, sizeof(int64_t) * (size_t)a->ndim) ||
		    memcmp(a->vfix, b->vfix, sizeof(int64_t) * (size_t)a->in[0]->ndim) || a->vlist_axis != b->vlist_axis)
			return false;
		return a->vlist_axis < 0 || !memcmp(a->vlist, b->vlist, sizeof(int64_t) * (size_t)a->shape[a->vlist_axis]);
	}
	return false;
}

/* Merges identical nodes, inputs first, so users of a duplicate read the one kept. */
static void merge_common(struct walk *w)
{
	struct anode **kept = xmalloc((w->n ? w->n : 1) * sizeof *kept);
	size_t n_kept = 0;
	for (size_t i = 0; i < w->n; i++) {
		struct anode *a = w->order[i];
		for (int k = 0; k < a->n_in; k++)
			while (a->in[k]->same)
				a->in[k] = a->in[k]->same;
		struct anode *twin = NULL;
		for (size_t j = 0; j < n_kept && !twin; j++)
			if (same_node(a, kept[j]))
				twin = kept[j];
		if (!twin) {
			kept[n_kept++] = a;
			continue;
		}
		a->same = twin;
		twin->n_users += a->n_users;
		twin->is_output |= a->is_output;
		for (int k = 0; k < a->n_in; k++)
			a->in[k]->n_users--; /* the duplicate no longer reads them */
	}
	free(kept);
}

/* ---- sharing random leaves between the map tasks of a reduction ---- */

/* The leaf boxes a paired task holds: at most this, and 1/8 of the memory limit shared by the
 * workers (each keeps its buffer for the next pair: together they stay within that eighth). */
#define PAIR_MAX_BYTES ((int64_t)64 << 20)
#define PAIR_MAX_MAPS 65536

static void leafset_add(void *arg, const struct anode *g, const int64_t *s, const int64_t *c)
{
	struct leafset *ls = arg;
	struct leafbox b;
	memset(&b, 0, sizeof b);
	b.id = g->id;
	memcpy(b.s, s, (size_t)g->ndim * sizeof *s);
	memcpy(b.c, c, (size_t)g->ndim * sizeof *c);
	int at = 0;
	while (at < ls->n && memcmp(&ls->e[at], &b, sizeof b) < 0)
		at++;
	if (at < ls->n && !memcmp(&ls->e[at], &b, sizeof b))
		return;
	if (ls->n == AR_PAIR_LEAVES) {
		ls->ok = false;
		return;
	}
	memmove(&ls->e[at + 1], &ls->e[at], (size_t)(ls->n - at) * sizeof b);
	memmove(&ls->g[at + 1], &ls->g[at], (size_t)(ls->n - at) * sizeof ls->g[0]);
	memcpy(&ls->e[at], &b, sizeof b); /* padding included: sets compare and hash as bytes */
	ls->g[at] = g;
	ls->n++;
}

void anode_leafset(const struct anode *a, const int64_t *start, const int64_t *count, struct leafset *ls)
{
	memset(ls, 0, sizeof *ls);
	ls->ok = true;
	ls->ok &= random_leaves(a, start, count, leafset_add, ls);
}

void afam_map_leafset(const struct afam *f, int64_t m, struct leafset *ls)
{
	const struct anode *in = f->a->in[0];
	int64_t start[AR_MAX_DIMS], count[AR_MAX_DIMS];
	anode_chunk_box(in, m, start, count);
	anode_leafset(in, start, count, ls);
}

/* Do map tasks @a and @b of @f feed the same output chunk (the same kept-axis chunk coordinates)? */
static bool same_tree(const struct afam *f, int64_t a, int64_t b)
{
	const struct anode *in = f->a->in[0];
	for (int k = in->ndim - 1; k >= 0; k--) {
		int64_t n = in->chunks[k].n;
		if (!(f->a->axes & (1u << k)) && a % n != b % n)
			return false;
		a /= n;
		b /= n;
	}
	return true;
}

/*
 * Pairs the map tasks of reduction family @f whose programs read the same
 * random leaf boxes, as a chunk and its mirror do in (x * x[::-1, ::-1]).sum():
 * each would otherwise generate both boxes, so every value twice. Only
 * programs made of generators and arithmetic take part (reading files or
 * materialized chunks adds inputs), and only when the boxes are few and
 * small enough to hold.
 */
static void pair_map_leaves(struct abuild *b, struct afam *f)
{
	if (!f->tree || f->matmul || f->pdist || f->n_map < 2 || f->n_map > PAIR_MAX_MAPS)
		return;
	int64_t n = f->n_map, cap = 1;
	while (cap < 2 * n)
		cap *= 2;
	int64_t *slot = xmalloc((size_t)cap * sizeof *slot); /* by hash: a map task waiting for its partner */
	for (int64_t i = 0; i < cap; i++)
		slot[i] = -1;
	int64_t *partner = NULL, max_bytes = PAIR_MAX_BYTES, held = 0;
	int64_t share = b->mem_limit ? (int64_t)(b->mem_limit / 8 / (uint64_t)(b->jobs > 0 ? b->jobs : 1)) : max_bytes;
	if (share < max_bytes)
		max_bytes = share;
	struct leafset ls, other;
	for (int64_t m = 0; m < n; m++) {
		afam_map_leafset(f, m, &ls);
		int64_t bytes = 0;
		for (int i = 0; i < ls.n; i++) {
			int64_t cnt = 8;
			for (int k = 0; k < AR_MAX_DIMS; k++) /* unused axes are 0 */
				cnt *= ls.e[i].c[k] ? ls.e[i].c[k] : 1;
			bytes += cnt;
		}
		if (!ls.ok || ls.n < 2 || bytes > max_bytes)
			continue;
		uint64_t h = hash_bytes((const char *)ls.e, (size_t)ls.n * sizeof ls.e[0]);
		for (int64_t at = (int64_t)(h & (uint64_t)(cap - 1));; at = (at + 1) & (cap - 1)) {
			if (slot[at] < 0) {
				slot[at] = m;
				break;
			}
			if (slot[at] == INT64_MAX || !same_tree(f, slot[at], m))
				continue;
			afam_map_leafset(f, slot[at], &other);
			if (other.n != ls.n || memcmp(other.e, ls.e, (size_t)ls.n * sizeof ls.e[0]))
				continue;
			if (!partner) {
				partner = arena_alloc(b->arena, (size_t)n * sizeof *partner);
				for (int64_t i = 0; i < n; i++)
					partner[i] = -1;
			}
			partner[slot[at]] = m;
			partner[m] = slot[at];
			held = bytes > held ? bytes : held;
			slot[at] = INT64_MAX; /* taken: keep probing past it */
			break;
		}
	}
	free(slot);
	f->partner = partner;
	f->work_bytes += held;
}

int64_t array_lower(struct abuild *b, struct anode **roots, size_t n_roots, struct afam ***fams)
{
	struct walk w;
	walk_all(&w, roots, n_roots, b->next_id);
	merge_common(&w);
	for (size_t i = 0; i < n_roots; i++)
		while (roots[i]->same)
			roots[i] = roots[i]->same;
	/* A distance reads its rows once per tile: keep them unless rereading is cheap. */
	for (size_t i = 0; i < w.n; i++) {
		struct anode *a = w.order[i];
		if (a->same || a->kind != AN_PDIST || (a->tiles[0].n == 1 && a->tiles[1].n == 1))
			continue;
		for (int k = 0; k < 2; k++)
			if (a->in[k]->kind != AN_NPY && a->in[k]->kind != AN_SCALAR)
				a->in[k]->reread = true;
	}
	struct afam **out = arena_alloc(b->arena, (w.n ? w.n : 1) * sizeof *out);
	int64_t n = 0;
	for (size_t i = 0; i < w.n; i++) {
		struct anode *a = w.order[i];
		if (a->same || (a->kind == AN_SCALAR && !a->is_output))
			continue;
		bool mat = a->is_output || cross_chunk(a) || a->kind == AN_MATMUL || a->kind == AN_PDIST || a->kind == AN_CHOL ||
			   a->kind == AN_FRAME ||
			   a->reread ||
			   (a->n_users > 1 && costly(a));
		if (mat)
			out[n++] = new_family(b, a);
	}
	for (int64_t i = 0; i < n; i++) /* once every family is known: what is inline is settled */
		pair_map_leaves(b, out[i]);
	free(w.order);
	free(w.seen);
	*fams = out;
	return n;
}

int64_t array_count_unfused(struct anode **roots, size_t n_roots)
{
	uint32_t n_ids = 0;
	for (size_t i = 0; i < n_roots; i++)
		if (roots[i]->id + 1 > n_ids)
			n_ids = roots[i]->id + 1;
	struct walk w;
	/* ids of inputs are always smaller than their users' (created first). */
	walk_all(&w, roots, n_roots, n_ids);
	int64_t total = 0;
	for (size_t i = 0; i < w.n; i++) {
		const struct anode *a = w.order[i];
		if (a->kind == AN_SCALAR)
			continue;
		total += anode_n_chunks(a);
		if (a->kind == AN_MATMUL)
			total += anode_n_chunks(a) * a->in[0]->chunks[a->ndim - 1].n;
		if (a->kind == AN_PDIST) {
			int64_t t0 = a->tiles[0].n, t1 = a->tiles[1].n;
			total += (a->self_pair ? t0 * (t0 + 1) / 2 : t0 * t1) * (a->groups.n + tree_levels_size(a->groups.n, 8));
		}
		if (cross_chunk(a)) {
			int64_t leaves = 1;
			for (int k = 0; k < a->in[0]->ndim; k++)
				if (a->axes & (1u << k))
					leaves *= a->in[0]->chunks[k].n;
			total += anode_n_chunks(a) * tree_levels_size(leaves, a->split_every);
		}
	}
	free(w.order);
	free(w.seen);
	return total;
}

/* ---- deps ---- */

struct dep_collect {
	int64_t *v;
	size_t n, cap;
	const struct afam *f;
};

static void add_chunk_dep(void *arg, int64_t chunk);

struct chunk_dep_ctx {
	struct dep_collect *dc;
	const struct afam *src;
};

static void add_chunk_dep(void *arg, int64_t chunk)
{
	struct chunk_dep_ctx *c = arg;
	XGROW(c->dc->v, c->dc->cap, c->dc->n + 1);
	c->dc->v[c->dc->n++] = afam_chunk_task(c->src, chunk);
}

/* Collects the chunks of materialized arrays that computing @a over the box reads. */
static void program_deps(struct dep_collect *dc, const struct anode *a, const int64_t *start, const int64_t *count,
			 bool root)
{
	if (a->fam && !root) {
		struct chunk_dep_ctx c = { dc, a->fam };
		anode_chunks_overlapping(a, start, count, add_chunk_dep, &c);
		return;
	}
	for (int i = 0; i < a->n_in; i++) {
		int64_t cs[AR_MAX_DIMS], cc[AR_MAX_DIMS];
		anode_child_box(a, i, start, count, cs, cc);
		program_deps(dc, a->in[i], cs, cc, false);
	}
}

static void push_task(void *arg, int64_t task)
{
	struct dep_collect *dc = arg;
	XGROW(dc->v, dc->cap, dc->n + 1);
	dc->v[dc->n++] = task;
}

static int cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return (a > b) - (a < b);
}

/* The map task (relative) of leaf @j of output chunk @o. */
static int64_t leaf_task(const struct afam *f, int64_t o, int64_t j)
{
	if (f->matmul || f->pdist)
		return o * f->leaves + j;
	const struct anode *r = f->a, *in = r->in[0];
	int64_t oc[AR_MAX_DIMS], ic[AR_MAX_DIMS];
	for (int k = r->ndim - 1; k >= 0; k--) {
		oc[k] = o % r->chunks[k].n;
		o /= r->chunks[k].n;
	}
	/* reduced axes take their coordinates from j (C order), kept ones from o */
	int o_ax = r->ndim - 1;
	for (int k = in->ndim - 1; k >= 0; k--) {
		if (r->axes & (1u << k)) {
			ic[k] = j % in->chunks[k].n;
			j /= in->chunks[k].n;
			if (r->keepdims)
				o_ax--;
		} else {
			ic[k] = oc[o_ax--];
		}
	}
	int64_t c = 0;
	for (int k = 0; k < in->ndim; k++)
		c = c * in->chunks[k].n + ic[k];
	return c;
}

/* Where a combine task (relative index into the combine block) sits: output chunk, level, index. */
static void comb_position(const struct afam *f, int64_t rel_comb, int64_t *o, int *level, int64_t *idx)
{
	int64_t per = f->n_comb / f->n_trees;
	*o = rel_comb / per;
	int64_t r = rel_comb % per, size = f->leaves;
	int l = 1;
	for (;;) {
		size = (size + split_every_of(f->a) - 1) / split_every_of(f->a);
		if (r < size)
			break;
		r -= size;
		l++;
	}
	*level = l;
	*idx = r;
}

/* The tasks (relative) of level @l of output chunk @o's tree: level 0 is the leaves. */
static int64_t level_task(const struct afam *f, int64_t o, int l, int64_t idx)
{
	if (l == 0)
		return leaf_task(f, o, idx);
	int64_t base = f->n_map + f->comb_first[o], size = f->leaves;
	for (int k = 1; k < l; k++) {
		size = (size + split_every_of(f->a) - 1) / split_every_of(f->a);
		base += size;
	}
	return base + idx;
}

static int64_t level_size(const struct afam *f, int l)
{
	int64_t size = f->leaves;
	for (int k = 0; k < l; k++)
		size = (size + split_every_of(f->a) - 1) / split_every_of(f->a);
	return size;
}

/* The tasks holding the top level of tree @o: the first level of at most
 * split_every partials (the leaves themselves when there are that few). */
static void tree_tops(const struct afam *f, int64_t o, struct dep_collect *dc)
{
	int64_t k = split_every_of(f->a);
	int level = 0;
	while (level_size(f, level) > k)
		level++;
	for (int64_t j = 0; j < level_size(f, level); j++) {
		XGROW(dc->v, dc->cap, dc->n + 1);
		dc->v[dc->n++] = f->first_task + level_task(f, o, level, j);
	}
}

void afam_task_deps(const struct afam *f, int64_t rel, void (*fn)(void *arg, int64_t task), void *arg)
{
	struct dep_collect dc = { .f = f };
	int64_t start[AR_MAX_DIMS], count[AR_MAX_DIMS];
	if (f->a->kind == AN_FRAME) {
		/* a chunk with rows runs the frame's chain over its partition (the grid has one column chunk) */
		if (f->a->chunks[0].bounds[rel + 1] > f->a->chunks[0].bounds[rel])
			frame_array_deps(f->a->frame, f->a->fpart[rel], push_task, &dc);
	} else if (!f->tree) {
		anode_chunk_box(f->a, rel, start, count);
		program_deps(&dc, f->a, start, count, true);
	} else if (rel < f->n_map && f->matmul) {
		int64_t as[AR_MAX_DIMS], ac[AR_MAX_DIMS], bs[AR_MAX_DIMS], bc[AR_MAX_DIMS];
		afam_matmul_boxes(f, rel, as, ac, bs, bc);
		program_deps(&dc, f->a->in[0], as, ac, false);
		program_deps(&dc, f->a->in[1], bs, bc, false);
	} else if (rel < f->n_map && f->pdist) {
		int64_t as[2], ac[2], bs[2], bc[2], i, j;
		afam_pdist_tile(f, rel / f->leaves, &i, &j);
		afam_pdist_boxes(f, i, j, rel % f->leaves, as, ac, bs, bc);
		const struct anode *a = f->a;
		program_deps(&dc, a->in[0], as, ac, false);
		program_deps(&dc, a->in[1], bs, bc, false);
		if (a->n_in > 2)
			program_deps(&dc, a->in[2], &as[1], &ac[1], false);
	} else if (rel < f->n_map) {
		const struct anode *in = f->a->in[0];
		anode_chunk_box(in, rel, start, count);
		program_deps(&dc, in, start, count, false);
	} else if (rel < f->n_map + f->n_comb) {
		int64_t o, idx;
		int level;
		int64_t k = split_every_of(f->a);
		comb_position(f, rel - f->n_map, &o, &level, &idx);
		int64_t below = level_size(f, level - 1);
		for (int64_t j = idx * k; j < below && j < (idx + 1) * k; j++) {
			XGROW(dc.v, dc.cap, dc.n + 1);
			dc.v[dc.n++] = f->first_task + level_task(f, o, level - 1, j);
		}
		goto in_order;
	} else if (rel < f->n_map + f->n_comb + f->n_extra) {
		tree_tops(f, rel - f->n_map - f->n_comb, &dc); /* a condensed distance's finished tile */
		goto in_order;
	} else {
		/* a final task: the top of its tree; for distances, the top of its
		 * tile's tree, the upper tile it mirrors, or the finished tiles of its rows */
		int64_t c = rel - f->n_map - f->n_comb - f->n_extra;
		const struct anode *a = f->a;
		if (!f->pdist) {
			tree_tops(f, c, &dc);
		} else if (a->condensed) {
			for (int64_t j = c; j < a->tiles[1].n; j++) {
				XGROW(dc.v, dc.cap, dc.n + 1);
				dc.v[dc.n++] = f->first_task + f->n_map + f->n_comb + afam_pdist_tree(f, c, j);
			}
		} else {
			int64_t i = c / a->tiles[1].n, j = c % a->tiles[1].n;
			if (a->self_pair && i > j) {
				XGROW(dc.v, dc.cap, dc.n + 1);
				dc.v[dc.n++] = afam_chunk_task(f, j * a->tiles[1].n + i);
			} else {
				tree_tops(f, afam_pdist_tree(f, i, j), &dc);
			}
		}
		goto in_order;
	}
	if (dc.n > 1)
		qsort(dc.v, dc.n, sizeof *dc.v, cmp_i64);
	for (size_t i = 0; i < dc.n; i++)
		if (i == 0 || dc.v[i] != dc.v[i - 1])
			fn(arg, dc.v[i]);
	free(dc.v);
	return;
in_order: /* tree order: partials are merged in it */
	for (size_t i = 0; i < dc.n; i++)
		fn(arg, dc.v[i]);
	free(dc.v);
}

int64_t afam_pdist_tree(const struct afam *f, int64_t i, int64_t j)
{
	int64_t t = f->a->tiles[1].n;
	return f->a->self_pair ? i * t - i * (i - 1) / 2 + (j - i) : i * t + j;
}

void afam_pdist_tile(const struct afam *f, int64_t tree, int64_t *i, int64_t *j)
{
	int64_t t = f->a->tiles[1].n;
	if (!f->a->self_pair) {
		*i = tree / t;
		*j = tree % t;
		return;
	}
	int64_t r = 0;
	while (tree >= t - r) { /* row r holds tiles (r, r) .. (r, t - 1) */
		tree -= t - r;
		r++;
	}
	*i = r;
	*j = r + tree;
}

void afam_pdist_boxes(const struct afam *f, int64_t i, int64_t j, int64_t g, int64_t *as, int64_t *ac, int64_t *bs,
		      int64_t *bc)
{
	const struct anode *a = f->a;
	as[0] = a->tiles[0].bounds[i];
	ac[0] = a->tiles[0].bounds[i + 1] - as[0];
	bs[0] = a->tiles[1].bounds[j];
	bc[0] = a->tiles[1].bounds[j + 1] - bs[0];
	int64_t g1 = f->leaves == a->groups.n ? g + 1 : a->groups.n; /* one leaf: every group */
	as[1] = bs[1] = a->groups.bounds[g];
	ac[1] = bc[1] = a->groups.bounds[g1] - as[1];
}

void afam_matmul_boxes(const struct afam *f, int64_t m, int64_t *as, int64_t *ac, int64_t *bs, int64_t *bc)
{
	/* output chunk o (batch axes, then rows and columns) times inner chunk k;
	 * an operand's batch axis of extent 1 is broadcast: it reads its one index */
	const struct anode *c = f->a, *a = c->in[0], *b = c->in[1];
	int nd = c->ndim;
	int64_t k = m % f->leaves, o = m / f->leaves;
	int64_t cs[AR_MAX_DIMS], cc[AR_MAX_DIMS];
	anode_chunk_box(c, o, cs, cc);
	int64_t k0 = a->chunks[nd - 1].bounds[k], k1 = a->chunks[nd - 1].bounds[k + 1];
	for (int d = 0; d < nd - 2; d++) {
		as[d] = a->shape[d] == 1 ? 0 : cs[d];
		ac[d] = a->shape[d] == 1 ? 1 : cc[d];
		bs[d] = b->shape[d] == 1 ? 0 : cs[d];
		bc[d] = b->shape[d] == 1 ? 1 : cc[d];
	}
	as[nd - 2] = cs[nd - 2];
	ac[nd - 2] = cc[nd - 2];
	as[nd - 1] = k0;
	ac[nd - 1] = k1 - k0;
	bs[nd - 2] = k0;
	bc[nd - 2] = k1 - k0;
	bs[nd - 1] = cs[nd - 1];
	bc[nd - 1] = cc[nd - 1];
}

int afam_task_level(const struct afam *f, int64_t rel, int64_t *member)
{
	if (!f->tree) {
		*member = rel;
		return 0;
	}
	if (rel < f->n_map) {
		*member = rel;
		return -1;
	}
	if (rel < f->n_map + f->n_comb) {
		int64_t o, idx;
		int level;
		comb_position(f, rel - f->n_map, &o, &level, &idx);
		*member = rel - f->n_map;
		return level;
	}
	if (rel < f->n_map + f->n_comb + f->n_extra) {
		*member = rel - f->n_map - f->n_comb;
		return -2;
	}
	*member = rel - f->n_map - f->n_comb - f->n_extra;
	return 0;
}
