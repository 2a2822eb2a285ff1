/* SPDX-License-Identifier: MIT */
/*
 * eval: running one task of a family on a worker. A program is the fused
 * DAG under the family's array; it is evaluated over the task's box in
 * tiles of at most TILE elements, so every intermediate lives in a small
 * scratch buffer that stays in cache and no intermediate chunk is ever
 * built. Values are computed in two wide types, double for float dtypes and
 * int64 for integer and boolean ones, and rounded or wrapped to the node's
 * dtype after each operation, which gives numpy's results for the eight
 * dtypes with two code paths.
 *
 * DESIGN: nothing here is shared between tasks but the read-only program;
 * each run has its own scratch arena, reset between tiles.
 */
#include "array/array.h"

#include <cblas.h>
#include <pthread.h>
#include "dev/cuda.h"
#include "distance.h"
#include "kernels.h"
#include "ops/op.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Elements per tile: 64 KiB of doubles per intermediate. A reduction sums a row of up to TILE
 * values as one run, which gives numpy's pairwise bits for rows of up to 8192 (kernels.h), so
 * TILE must not go below that: 2048 made pi and rm 8-10% faster but changed sums over longer
 * rows by an ulp. */
#define TILE 8192

struct scratch {
	char *base;
	size_t used, cap;
	struct scratch_block *old; /* blocks outgrown, freed at the end */
};

struct scratch_block {
	struct scratch_block *next;
};

struct npy_fd {
	const struct anode *a;
	int fd;
	const char *map; /* the whole file, mapped read-only on first use (NULL: not, or it cannot be) */
	size_t map_len;
	size_t kept;     /* map bytes before this were let go of (see npy_in_place) */
	bool map_tried;
};

struct ectx {
	const struct afam *f;
	size_t n_in;
	const int64_t *in_tasks;
	const void *const *in_data;
	const size_t *in_len;
	struct scratch sc;
	struct npy_fd fds[8];
	int n_fds;
	struct { const struct anode *a; struct vcf_reader *r; } vcfs[4];
	int n_vcfs;
	/* random leaf boxes generated ahead, whole, for a paired map task (see afam.partner) */
	struct leafset lc;
	const void *lc_data[AR_PAIR_LEAVES]; /* box i's values in C order, in the wide type */
	int n_lc;                            /* boxes ready: 0 or lc.n */
	struct err *e;
	bool failed;
};

/*
 * Each worker's buffers, kept from task to task: fresh ones cost more in page
 * faults and zeroing (and, for blocks glibc maps, an munmap with its TLB
 * shootdown) than short tasks spend computing.
 * - leaf: the boxes of paired map tasks. Lowering bounds a pair's boxes
 *   together, so one buffer of that size serves every pair.
 * - scratch: a task's first scratch block, kept only while small, so that an
 *   idle worker never sits on much memory.
 */
struct workbufs {
	void *leaf;
	size_t leaf_cap;
	char *scratch;
	size_t scratch_cap;
};
#define SCRATCH_KEEP_MAX (1u << 20) /* the first block's size: larger ones are rare */
static pthread_key_t work_key;
static pthread_once_t work_once = PTHREAD_ONCE_INIT;

static void workbufs_free(void *v)
{
	struct workbufs *b = v;
	free(b->leaf);
	free(b->scratch);
	free(b);
}

static void work_key_init(void)
{
	pthread_key_create(&work_key, workbufs_free);
}

static struct workbufs *workbufs(void)
{
	pthread_once(&work_once, work_key_init);
	struct workbufs *b = pthread_getspecific(work_key);
	if (!b) {
		b = xcalloc(1, sizeof *b);
		pthread_setspecific(work_key, b);
	}
	return b;
}

static void *leaf_buf(size_t bytes)
{
	struct workbufs *b = workbufs();
	if (b->leaf_cap < bytes) {
		free(b->leaf);
		b->leaf = xmalloc(bytes);
		b->leaf_cap = bytes;
	}
	return b->leaf;
}

static void *scratch_alloc(struct ectx *x, size_t size)
{
	struct scratch *s = &x->sc;
	size = (size + 63) & ~(size_t)63;
	if (s->used + size > s->cap) {
		/* Keep the old block alive (live buffers point into it) and start a bigger one. */
		if (s->base) {
			struct scratch_block *b = (struct scratch_block *)s->base;
			b->next = s->old;
			s->old = b;
		}
		size_t cap = s->cap ? s->cap * 2 : (1u << 20);
		while (cap < size + 64)
			cap *= 2;
		struct workbufs *w = workbufs();
		if (!s->base && w->scratch && w->scratch_cap >= cap) {
			s->base = w->scratch; /* the worker's kept block */
			cap = w->scratch_cap;
			w->scratch = NULL;
			w->scratch_cap = 0;
		} else {
			s->base = xmalloc(cap);
		}
		s->cap = cap;
		s->used = 64; /* room for the block link */
	}
	void *p = s->base + s->used;
	s->used += size;
	return p;
}

static size_t scratch_mark(struct ectx *x)
{
	return x->sc.old ? (size_t)-1 : x->sc.used;
}

static void scratch_reset(struct ectx *x, size_t mark)
{
	if (mark != (size_t)-1 && !x->sc.old)
		x->sc.used = mark;
}

/* Every scratch buffer of the task is dead: the blocks outgrown so far go, the biggest (current) one
 * is reused from its start. For loops that read a large box per step: scratch_reset() cannot rewind
 * past a growth (buffers in the old blocks could be live), so each step would map fresh memory. */
static void scratch_reset_all(struct ectx *x)
{
	struct scratch *s = &x->sc;
	struct scratch_block *b = s->old;
	while (b) {
		struct scratch_block *n = b->next;
		free(b);
		b = n;
	}
	s->old = NULL;
	if (s->base)
		s->used = 64;
}

static void scratch_release(struct ectx *x)
{
	struct scratch_block *b = x->sc.old;
	while (b) {
		struct scratch_block *n = b->next;
		free(b);
		b = n;
	}
	struct workbufs *w = workbufs();
	if (x->sc.base && x->sc.cap <= SCRATCH_KEEP_MAX && x->sc.cap > w->scratch_cap) {
		free(w->scratch);
		w->scratch = x->sc.base;
		w->scratch_cap = x->sc.cap;
	} else {
		free(x->sc.base);
	}
	memset(&x->sc, 0, sizeof x->sc);
}

static int64_t box_size(int nd, const int64_t *count)
{
	int64_t n = 1;
	for (int k = 0; k < nd; k++)
		n *= count[k];
	return n;
}

static bool wide_float(enum dtype t)
{
	return dtype_is_float(t);
}

/* ---- dtype conversions ---- */

static int64_t wrap_int(int64_t v, enum dtype t)
{
	switch (t) {
	case DT_BOOL: return v != 0;
	case DT_INT8: return (int8_t)(uint8_t)(uint64_t)v;
	case DT_UINT8: return (uint8_t)(uint64_t)v;
	case DT_INT16: return (int16_t)(uint16_t)(uint64_t)v;
	case DT_INT32: return (int32_t)(uint32_t)(uint64_t)v;
	default: return v;
	}
}

/* double -> int64 as the hardware does it (NaN and out of range give INT64_MIN), without C's UB. */
static int64_t d2i(double v)
{
	if (!(v > -9223372036854775808.0 && v < 9223372036854775808.0))
		return INT64_MIN;
	return (int64_t)v;
}

static void round_wide(void *buf, int64_t n, enum dtype t)
{
	if (t == DT_FLOAT32) {
		double *d = buf;
		for (int64_t i = 0; i < n; i++)
			d[i] = (double)(float)d[i];
	} else if (!wide_float(t) && t != DT_INT64) {
		int64_t *v = buf;
		for (int64_t i = 0; i < n; i++)
			v[i] = wrap_int(v[i], t);
	}
}

/* Storage bytes -> wide values. */
static void widen(const void *src, enum dtype t, int64_t n, void *dst)
{
	double *d = dst;
	int64_t *v = dst;
	switch (t) {
	case DT_FLOAT64: memcpy(d, src, (size_t)n * 8); break;
	case DT_FLOAT32: for (int64_t i = 0; i < n; i++) d[i] = ((const float *)src)[i]; break;
	case DT_INT64: memcpy(v, src, (size_t)n * 8); break;
	case DT_INT32: for (int64_t i = 0; i < n; i++) v[i] = ((const int32_t *)src)[i]; break;
	case DT_INT16: for (int64_t i = 0; i < n; i++) v[i] = ((const int16_t *)src)[i]; break;
	case DT_INT8: for (int64_t i = 0; i < n; i++) v[i] = ((const int8_t *)src)[i]; break;
	case DT_UINT8: for (int64_t i = 0; i < n; i++) v[i] = ((const uint8_t *)src)[i]; break;
	case DT_BOOL: for (int64_t i = 0; i < n; i++) v[i] = ((const uint8_t *)src)[i] != 0; break;
	default: break;
	}
}

/* Wide values -> storage bytes. */
static void narrow(const void *src, enum dtype t, int64_t n, void *dst)
{
	const double *d = src;
	const int64_t *v = src;
	switch (t) {
	case DT_FLOAT64: memcpy(dst, d, (size_t)n * 8); break;
	case DT_FLOAT32: for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = (float)d[i]; break;
	case DT_INT64: memcpy(dst, v, (size_t)n * 8); break;
	case DT_INT32: for (int64_t i = 0; i < n; i++) ((int32_t *)dst)[i] = (int32_t)v[i]; break;
	case DT_INT16: for (int64_t i = 0; i < n; i++) ((int16_t *)dst)[i] = (int16_t)v[i]; break;
	case DT_INT8: for (int64_t i = 0; i < n; i++) ((int8_t *)dst)[i] = (int8_t)v[i]; break;
	case DT_UINT8: for (int64_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = (uint8_t)v[i]; break;
	case DT_BOOL: for (int64_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = v[i] != 0; break;
	default: break;
	}
}

/* A wide buffer in the other wide type. */
static double *as_double(struct ectx *x, const void *buf, bool is_float, int64_t n)
{
	if (is_float)
		return (double *)buf;
	double *d = scratch_alloc(x, (size_t)n * 8);
	const int64_t *v = buf;
	for (int64_t i = 0; i < n; i++)
		d[i] = (double)v[i];
	return d;
}

/* ---- walking boxes ---- */

/* Calls @fn for each row (run along the last axis) of the box, with the row's
 * multi-index and its offset in the box's C order. */
#define FOR_ROWS(nd, count, idx, off, ...)                                               \
	do {                                                                              \
		int64_t idx[AR_MAX_DIMS] = { 0 };                                         \
		int64_t off = 0, row_len_ = (nd) ? (count)[(nd) - 1] : 1;                 \
		int64_t n_rows_ = row_len_ ? box_size((nd), (count)) / row_len_ : 0;      \
		for (int64_t r_ = 0; r_ < n_rows_; r_++, off += row_len_) {               \
			/* advance first, so a `continue` in the body is safe */          \
			for (int k_ = (nd) - 2; r_ && k_ >= 0; k_--) {                    \
				if (++idx[k_] < (count)[k_])                              \
					break;                                            \
				idx[k_] = 0;                                              \
			}                                                                 \
			__VA_ARGS__;                                                      \
		}                                                                         \
	} while (0)

/* ---- leaves ---- */

static void *eval_node(struct ectx *x, const struct anode *n, const int64_t *start, const int64_t *count, bool root);

/* A constant's value as the wide type holds it, as a double. */
static double scalar_value(const struct anode *n)
{
	return wide_float(n->dtype) ? (n->dtype == DT_FLOAT32 ? (double)(float)n->f : n->f)
				    : (double)wrap_int(n->i, n->dtype);
}

static void *eval_scalar(struct ectx *x, const struct anode *n, int64_t cnt)
{
	if (wide_float(n->dtype)) {
		double *d = scratch_alloc(x, (size_t)cnt * 8);
		double v = scalar_value(n);
		for (int64_t i = 0; i < cnt; i++)
			d[i] = v;
		return d;
	}
	int64_t *v = scratch_alloc(x, (size_t)cnt * 8);
	int64_t iv = wrap_int(n->i, n->dtype);
	for (int64_t i = 0; i < cnt; i++)
		v[i] = iv;
	return v;
}

/* The values of @n over the box, copied out of a box generated ahead that holds it; NULL when none does. */
static void *cached_leaf(struct ectx *x, const struct anode *n, const int64_t *start, const int64_t *count)
{
	int nd = n->ndim;
	for (int i = 0; i < x->n_lc; i++) {
		const struct leafbox *l = &x->lc.e[i];
		const char *data = x->lc_data[i];
		bool inside = x->lc.g[i] == n;
		for (int k = 0; k < nd && inside; k++)
			inside = start[k] >= l->s[k] && start[k] + count[k] <= l->s[k] + l->c[k];
		if (!inside)
			continue;
		/* one run of the cached box (the axes after some axis whole, those before it single):
		 * hand it out in place, as consumers of eval_node() buffers only read them */
		int t = nd - 1;
		while (t > 0 && count[t] == l->c[t])
			t--;
		bool run = true;
		for (int k = 0; k < t; k++)
			run &= count[k] == 1;
		int64_t first = 0;
		for (int k = 0; k < nd; k++)
			first = first * l->c[k] + (start[k] - l->s[k]);
		if (run)
			return (char *)data + first * 8;
		int64_t cnt = box_size(nd, count);
		char *buf = scratch_alloc(x, (size_t)(cnt ? cnt : 1) * 8);
		int64_t row = nd ? count[nd - 1] : 1;
		FOR_ROWS(nd, count, idx, off, {
			int64_t src = 0;
			for (int k = 0; k < nd; k++)
				src = src * l->c[k] + (start[k] - l->s[k] + (k < nd - 1 ? idx[k] : 0));
			memcpy(buf + off * 8, data + src * 8, (size_t)row * 8);
		});
		return buf;
	}
	return NULL;
}

/* Fills @buf with the values of generator @n over the box, in C order, in the wide type. */
static void gen_fill(const struct anode *n, const int64_t *start, const int64_t *count, void *buf)
{
	int nd = n->ndim;
	int64_t cnt = box_size(nd, count);
	bool fl = wide_float(n->dtype);
	double *d = buf;
	int64_t *v = buf;
	int64_t stride[AR_MAX_DIMS]; /* of the whole array, for flat indices */
	int64_t s = 1;
	for (int k = nd - 1; k >= 0; k--) {
		stride[k] = s;
		s *= n->shape[k];
	}
	if (n->gen == GEN_FULL) {
		if (fl)
			for (int64_t i = 0; i < cnt; i++)
				d[i] = n->g[0];
		else
			for (int64_t i = 0; i < cnt; i++)
				v[i] = n->dtype == DT_INT64 ? n->gi[0] : d2i(n->g[0]);
		round_wide(buf, cnt, n->dtype);
		return;
	}
	if (n->gen == GEN_UNIFORM || n->gen == GEN_NORMAL || n->gen == GEN_INTEGERS) {
		/* Values depend on flat indices only: trailing axes the box covers
		 * whole make one contiguous run with the axis before them. */
		int m = nd - 1;
		while (m > 0 && start[m] == 0 && count[m] == n->shape[m])
			m--;
		int64_t run = 1, outer[AR_MAX_DIMS];
		for (int k = m; k < nd; k++)
			run *= count[k];
		for (int k = 0; k < m; k++)
			outer[k] = count[k];
		outer[m > 0 ? m : 0] = 1;
		int od = m > 0 ? m + 1 : 1;
		if (nd == 0) {
			run = 1;
			od = 0;
		}
		FOR_ROWS(od, outer, idx, row, {
			int64_t flat = 0;
			for (int k = 0; k < m; k++)
				flat += (start[k] + idx[k]) * stride[k];
			if (nd)
				flat += start[m] * stride[m];
			int64_t off = row * run;
			if (n->gen == GEN_UNIFORM)
				k_rand_uniform(n->seed, (uint64_t)flat, (size_t)run, n->g[0], n->g[1], d + off);
			else if (n->gen == GEN_NORMAL)
				k_rand_normal(n->seed, (uint64_t)flat, (size_t)run, n->g[0], n->g[1], d + off);
			else
				k_rand_integers(n->seed, (uint64_t)flat, (size_t)run, n->gi[0], n->gi[1], v + off);
		});
		round_wide(buf, cnt, n->dtype);
		return;
	}
	FOR_ROWS(nd, count, idx, off, {
		int64_t len = nd ? count[nd - 1] : 1;
		int64_t flat = 0;
		for (int k = 0; k < nd; k++)
			flat += (start[k] + idx[k]) * stride[k];
		switch (n->gen) {
		case GEN_FULL:
			if (fl)
				for (int64_t i = 0; i < len; i++)
					d[off + i] = n->g[0];
			else
				for (int64_t i = 0; i < len; i++)
					v[off + i] = n->gi[0];
			break;
		case GEN_ARANGE:
			for (int64_t i = 0; i < len; i++) {
				int64_t j = start[0] + i;
				if (fl)
					d[off + i] = n->g[0] + (double)j * n->g[1];
				else
					v[off + i] = d2i(n->g[0]) + j * d2i(n->g[1]);
			}
			break;
		case GEN_LINSPACE:
			for (int64_t i = 0; i < len; i++) {
				int64_t j = start[0] + i;
				double val = (n->g[3] != 0 && j == n->shape[0] - 1) ? n->g[2] : n->g[0] + (double)j * n->g[1];
				if (fl)
					d[off + i] = val;
				else
					v[off + i] = d2i(val);
			}
			break;
		case GEN_EYE: {
			int64_t row = start[0] + idx[0];
			for (int64_t i = 0; i < len; i++) {
				int64_t col = start[1] + i;
				if (fl)
					d[off + i] = col - row == n->gi[0];
				else
					v[off + i] = col - row == n->gi[0];
			}
			break;
		}
		case GEN_UNIFORM:
			k_rand_uniform(n->seed, (uint64_t)flat, (size_t)len, n->g[0], n->g[1], d + off);
			break;
		case GEN_NORMAL:
			k_rand_normal(n->seed, (uint64_t)flat, (size_t)len, n->g[0], n->g[1], d + off);
			break;
		case GEN_INTEGERS:
			k_rand_integers(n->seed, (uint64_t)flat, (size_t)len, n->gi[0], n->gi[1], v + off);
			break;
		}
	});
	if (!fl && n->gen == GEN_FULL && n->dtype != DT_INT64) {
		/* full() with a float fill into an integer dtype truncates, as numpy does */
		for (int64_t i = 0; i < cnt; i++)
			v[i] = d2i(n->g[0]);
	}
	round_wide(buf, cnt, n->dtype);
	return;
}

static void *eval_gen(struct ectx *x, const struct anode *n, const int64_t *start, const int64_t *count)
{
	if (x->n_lc) {
		void *hit = cached_leaf(x, n, start, count);
		if (hit)
			return hit;
	}
	int64_t cnt = box_size(n->ndim, count);
	void *buf = scratch_alloc(x, (size_t)(cnt ? cnt : 1) * 8);
	gen_fill(n, start, count, buf);
	return buf;
}

/* The open file of a file leaf, kept for the rest of the task when there is
 * room; *cached says whether it was kept (else the caller closes it). */
static int file_fd(struct ectx *x, const struct anode *n, bool *cached)
{
	*cached = true;
	for (int i = 0; i < x->n_fds; i++)
		if (x->fds[i].a == n)
			return x->fds[i].fd;
	int fd = open(n->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_sys(x->e, NULL, "cannot read '%s'", n->path);
		return -1;
	}
	*cached = x->n_fds < 8;
	if (*cached)
		x->fds[x->n_fds++] = (struct npy_fd){ n, fd, NULL, 0, 0, false };
	return fd;
}

/* The box of an .npy leaf as stored (its dtype's bytes) into @raw; false and x->failed on an error. */
static bool read_npy(struct ectx *x, const struct anode *n, const int64_t *start, const int64_t *count, void *raw)
{
	bool cached;
	int fd = file_fd(x, n, &cached);
	bool ok = fd >= 0 && npy_read_box(fd, &n->npy, start, count, raw, x->e) == 0;
	if (fd >= 0 && !cached)
		close(fd);
	if (!ok)
		x->failed = true;
	return ok;
}

/*
 * The box of an 8-byte .npy leaf in place in the file, mapped, when it is one run of the file's
 * bytes (C order, native byte order, trailing axes whole); NULL when not (the caller reads it).
 * Reading the page cache in place spares the copy a read makes: on a cached 1.6 GB file, a sum
 * spent more time in that copy than in the sum. The mapping is read-only: every consumer of an
 * eval_node() buffer only reads it (results always go to fresh scratch).
 *
 * Mapped pages count as the process's memory while mapped, so as a task streams through the file
 * the pages more than KEEP_MAPPED behind the box it asks for are unmapped (the page cache keeps
 * them): a task then holds a few MiB of the file, not its whole chunk. Dropping pages a box still
 * in use lies on is safe, as the next touch maps them again from the cache.
 */
#define KEEP_MAPPED ((size_t)4 << 20)
static const void *npy_in_place(struct ectx *x, const struct anode *n, const int64_t *start, const int64_t *count)
{
	const struct npy_info *in = &n->npy;
	if (in->big_endian || in->fortran_order)
		return NULL;
	int64_t row = 1;
	for (int k = 1; k < n->ndim; k++) {
		if (start[k] != 0 || count[k] != in->shape[k])
			return NULL;
		row *= in->shape[k];
	}
	struct npy_fd *f = NULL;
	for (int i = 0; i < x->n_fds; i++)
		if (x->fds[i].a == n)
			f = &x->fds[i];
	if (!f) {
		bool cached;
		int fd = file_fd(x, n, &cached);
		if (fd < 0)
			return NULL; /* the read that follows fails the same way and marks the task */
		if (!cached) {
			close(fd);
			return NULL;
		}
		f = &x->fds[x->n_fds - 1];
	}
	if (!f->map_tried) {
		f->map_tried = true;
		struct stat st;
		uint64_t need = in->data_offset + in->data_bytes;
		/* a file shorter than its header says is left to the read, which reports it */
		if (fstat(f->fd, &st) == 0 && (uint64_t)st.st_size >= need && need > 0) {
			void *p = mmap(NULL, (size_t)need, PROT_READ, MAP_SHARED, f->fd, 0);
			if (p != MAP_FAILED) {
				f->map = p;
				f->map_len = (size_t)need;
			}
		}
	}
	if (!f->map)
		return NULL;
	size_t off = (size_t)(in->data_offset + (uint64_t)(n->ndim ? start[0] : 0) * (uint64_t)row * 8);
	if (off > f->kept + 2 * KEEP_MAPPED) {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		size_t to = (off - KEEP_MAPPED) / page * page, from = f->kept / page * page;
		if (to > from)
			(void)madvise((void *)(f->map + from), to - from, MADV_DONTNEED);
		f->kept = to;
	}
	return f->map + off;
}

static void *eval_npy(struct ectx *x, const struct anode *n, const int64_t *start, const int64_t *count)
{
	int64_t cnt = box_size(n->ndim, count);
	/* 8-byte dtypes are stored as they are computed: read straight into the buffer */
	bool direct = n->dtype == DT_FLOAT64 || n->dtype == DT_INT64;
	if (direct && cnt > 0) {
		const void *p = npy_in_place(x, n, start, count);
		if (p)
			return (void *)p;
	}
	void *buf = scratch_alloc(x, (size_t)(cnt ? cnt : 1) * 8);
	void *raw = direct ? buf : scratch_alloc(x, (size_t)(cnt ? cnt : 1) * dtype_size(n->dtype));
	if (!read_npy(x, n, start, count, raw)) {
		memset(buf, 0, (size_t)(cnt ? cnt : 1) * 8);
		return buf;
	}
	if (!direct)
		widen(raw, n->dtype, cnt, buf);
	return buf;
}

static void *eval_csv(struct ectx *x, const struct anode *n, const int64_t *start, const int64_t *count)
{
	int64_t cnt = box_size(2, count);
	double *buf = scratch_alloc(x, (size_t)(cnt ? cnt : 1) * 8);
	bool cached;
	int fd = file_fd(x, n, &cached);
	if (fd < 0 || csvnum_read_box(fd, n->path, &n->csv, start[0], count[0], start[1], count[1], buf, x->e) < 0)
		x->failed = true;
	if (fd >= 0 && !cached)
		close(fd);
	return buf;
}

/* Genotypes of a box, as int8 into @out; readers stay open for the task. */
static void read_vcf(struct ectx *x, const struct anode *n, const int64_t *start, const int64_t *count, int8_t *out)
{
	struct vcf_reader *r = NULL;
	for (int i = 0; i < x->n_vcfs; i++)
		if (x->vcfs[i].a == n)
			r = x->vcfs[i].r;
	if (!r) {
		if (!(r = vcf_open(n->path, &n->vcf, x->e))) {
			x->failed = true;
			return;
		}
		if (x->n_vcfs == 4) { /* more VCF leaves than that in one program: rare, reopen */
			vcf_close(x->vcfs[0].r);
			memmove(x->vcfs, x->vcfs + 1, 3 * sizeof x->vcfs[0]);
			x->n_vcfs--;
		}
		x->vcfs[x->n_vcfs].a = n;
		x->vcfs[x->n_vcfs++].r = r;
	}
	int rc = n->vcf_calls ? vcf_read_calls(r, start[0], count[0], start[1], count[1], (int)start[2], (int)count[2], out, x->e)
			      : vcf_read_alt(r, start[1], count[1], start[0], count[0], out, x->e);
	if (rc < 0)
		x->failed = true;
}

static void *eval_vcf(struct ectx *x, const struct anode *n, const int64_t *start, const int64_t *count)
{
	int64_t cnt = box_size(n->ndim, count);
	void *buf = scratch_alloc(x, (size_t)(cnt ? cnt : 1) * 8);
	int8_t *raw = scratch_alloc(x, (size_t)(cnt ? cnt : 1));
	memset(raw, 0, (size_t)(cnt ? cnt : 1));
	if (cnt)
		read_vcf(x, n, start, count, raw);
	widen(raw, DT_INT8, cnt, buf);
	return buf;
}

/* The pinned bytes of task @task among the inputs. */
static const void *input_of(struct ectx *x, int64_t task, size_t *len)
{
	size_t lo = 0, hi = x->n_in;
	while (lo < hi) { /* in_tasks is sorted for array tasks */
		size_t mid = (lo + hi) / 2;
		if (x->in_tasks[mid] < task)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < x->n_in && x->in_tasks[lo] == task) {
		*len = x->in_len[lo];
		return x->in_data[lo];
	}
	for (size_t i = 0; i < x->n_in; i++) /* combine tasks keep tree order */
		if (x->in_tasks[i] == task) {
			*len = x->in_len[i];
			return x->in_data[i];
		}
	return NULL;
}

struct gather {
	struct ectx *x;
	const struct anode *n;
	const int64_t *start, *count;
	void *out;
	bool raw; /* copy the stored bytes as they are (else widen) */
};

static void gather_chunk(void *arg, int64_t c)
{
	struct gather *g = arg;
	const struct anode *n = g->n;
	int nd = n->ndim;
	int64_t cs[AR_MAX_DIMS], cc[AR_MAX_DIMS];
	anode_chunk_box(n, c, cs, cc);
	size_t len;
	const char *data = input_of(g->x, afam_chunk_task(n->fam, c), &len);
	size_t isz = dtype_size(n->dtype);
	if (!data || len != (size_t)box_size(nd, cc) * isz) {
		err_run(g->x->e, NULL, "internal error: chunk %lld of an input is missing or has %zu bytes",
			(long long)c, data ? len : 0);
		g->x->failed = true;
		return;
	}
	/* The intersection, row by row along the last axis. */
	int64_t is[AR_MAX_DIMS] = { 0 }, ic[AR_MAX_DIMS] = { 0 };
	for (int k = 0; k < nd; k++) {
		int64_t lo = cs[k] > g->start[k] ? cs[k] : g->start[k];
		int64_t hi = cs[k] + cc[k] < g->start[k] + g->count[k] ? cs[k] + cc[k] : g->start[k] + g->count[k];
		is[k] = lo;
		ic[k] = hi - lo;
	}
	int64_t cstr[AR_MAX_DIMS], ostr[AR_MAX_DIMS], s1 = 1, s2 = 1;
	for (int k = nd - 1; k >= 0; k--) {
		cstr[k] = s1;
		ostr[k] = s2;
		s1 *= cc[k];
		s2 *= g->count[k];
	}
	char *out = g->out;
	FOR_ROWS(nd, ic, idx, off, {
		(void)off;
		int64_t ci = 0, oi = 0;
		for (int k = 0; k < nd; k++) {
			ci += (is[k] + idx[k] - cs[k]) * cstr[k];
			oi += (is[k] + idx[k] - g->start[k]) * ostr[k];
		}
		int64_t len2 = nd ? ic[nd - 1] : 1;
		if (g->raw)
			memcpy(out + oi * (int64_t)isz, data + ci * (int64_t)isz, (size_t)len2 * isz);
		else
			widen(data + ci * (int64_t)isz, n->dtype, len2, out + oi * 8);
	});
}

static void *eval_input(struct ectx *x, const struct anode *n, const int64_t *start, const int64_t *count)
{
	int64_t cnt = box_size(n->ndim, count);
	void *buf = scratch_alloc(x, (size_t)(cnt ? cnt : 1) * 8);
	struct gather g = { x, n, start, count, buf, false };
	anode_chunks_overlapping(n, start, count, gather_chunk, &g);
	return buf;
}

/* ---- elementwise ---- */

static double fmod_py(double a, double b)
{
	double r = fmod(a, b);
	if (r != 0 && ((r < 0) != (b < 0)))
		r += b;
	return r;
}

static int64_t ifloordiv(int64_t a, int64_t b)
{
	if (b == 0)
		return 0; /* numpy: 0 with a warning */
	if (a == INT64_MIN && b == -1)
		return INT64_MIN;
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static int64_t imod(int64_t a, int64_t b)
{
	if (b == 0 || (a == INT64_MIN && b == -1))
		return 0;
	int64_t r = a % b;
	if (r != 0 && ((r < 0) != (b < 0)))
		r += b;
	return r;
}

static int64_t ipow(int64_t a, int64_t b)
{
	if (b < 0)
		return a == 1 ? 1 : a == -1 ? (b % 2 ? -1 : 1) : 0;
	uint64_t r = 1, base = (uint64_t)a;
	while (b) {
		if (b & 1)
			r *= base;
		base *= base;
		b >>= 1;
	}
	return (int64_t)r;
}

static double fminmax(double a, double b, bool max)
{
	if (isnan(a) || isnan(b))
		return NAN;
	return max ? (a > b ? a : b) : (a < b ? a : b);
}

static double f1(enum ew_op op, double a)
{
	switch (op) {
	case EW_NEG: return -a;
	case EW_POS: return a;
	case EW_ABS: return fabs(a);
	case EW_SQRT: return sqrt(a);
	case EW_EXP: return exp(a);
	case EW_LOG: return log(a);
	case EW_LOG1P: return log1p(a);
	case EW_EXPM1: return expm1(a);
	case EW_SIN: return sin(a);
	case EW_COS: return cos(a);
	case EW_TAN: return tan(a);
	case EW_ARCSIN: return asin(a);
	case EW_ARCCOS: return acos(a);
	case EW_ARCTAN: return atan(a);
	case EW_SINH: return sinh(a);
	case EW_COSH: return cosh(a);
	case EW_TANH: return tanh(a);
	case EW_FLOOR: return floor(a);
	case EW_CEIL: return ceil(a);
	case EW_ROUND: return nearbyint(a);
	case EW_ISNAN: return isnan(a);
	case EW_ISFINITE: return isfinite(a);
	case EW_CAST: return a;
	default: return NAN;
	}
}

static double f2(enum ew_op op, double a, double b)
{
	switch (op) {
	case EW_ADD: return a + b;
	case EW_SUB: return a - b;
	case EW_MUL: return a * b;
	case EW_DIV: return a / b;
	case EW_FLOORDIV: return b == 0 ? a / b : floor(a / b);
	case EW_MOD: return b == 0 ? NAN : fmod_py(a, b);
	case EW_POW: return pow(a, b);
	case EW_LT: return a < b;
	case EW_LE: return a <= b;
	case EW_GT: return a > b;
	case EW_GE: return a >= b;
	case EW_EQ: return a == b;
	case EW_NE: return a != b;
	case EW_ARCTAN2: return atan2(a, b);
	case EW_MAXIMUM: return fminmax(a, b, true);
	case EW_MINIMUM: return fminmax(a, b, false);
	default: return NAN;
	}
}

static int64_t i1(enum ew_op op, int64_t a, enum dtype t)
{
	switch (op) {
	case EW_NEG: return (int64_t)(0 - (uint64_t)a);
	case EW_POS: case EW_CAST: return a;
	case EW_ABS: return a < 0 ? (int64_t)(0 - (uint64_t)a) : a;
	case EW_INVERT: return t == DT_BOOL ? !a : ~a;
	case EW_ISNAN: return 0;
	case EW_ISFINITE: return 1;
	case EW_ROUND: return a;
	default: return 0;
	}
}

static int64_t i2(enum ew_op op, int64_t a, int64_t b)
{
	switch (op) {
	case EW_ADD: return (int64_t)((uint64_t)a + (uint64_t)b);
	case EW_SUB: return (int64_t)((uint64_t)a - (uint64_t)b);
	case EW_MUL: return (int64_t)((uint64_t)a * (uint64_t)b);
	case EW_FLOORDIV: return ifloordiv(a, b);
	case EW_MOD: return imod(a, b);
	case EW_POW: return ipow(a, b);
	case EW_LT: return a < b;
	case EW_LE: return a <= b;
	case EW_GT: return a > b;
	case EW_GE: return a >= b;
	case EW_EQ: return a == b;
	case EW_NE: return a != b;
	case EW_AND: return a & b;
	case EW_OR: return a | b;
	case EW_XOR: return a ^ b;
	case EW_MAXIMUM: return a > b ? a : b;
	case EW_MINIMUM: return a < b ? a : b;
	default: return 0;
	}
}

/* The four arithmetic operators over unit-stride runs or one value, by the
 * kernels built for the CPU's vector width; short runs (rows of two, say)
 * inline, where a call would cost more than the work. @return false when
 * this is not such a case. */
static bool arith_fast(enum ew_op op, const double *restrict a, int64_t sa, const double *restrict b, int64_t sb,
		       double *restrict o, int64_t len)
{
	void (*k)(const double *restrict, int, const double *restrict, int, double *restrict, size_t) =
		op == EW_ADD ? k_add_f64 : op == EW_SUB ? k_sub_f64 : op == EW_MUL ? k_mul_f64 : op == EW_DIV ? k_div_f64 : NULL;
	if (!k || (sa != 0 && sa != 1) || (sb != 0 && sb != 1) || (sa == 0 && sb == 0))
		return false;
	if (len >= 32) {
		k(a, (int)sa, b, (int)sb, o, (size_t)len);
		return true;
	}
	for (int64_t i = 0; i < len; i++) {
		double x = a[i * sa], y = b[i * sb];
		o[i] = op == EW_ADD ? x + y : op == EW_SUB ? x - y : op == EW_MUL ? x * y : x / y;
	}
	return true;
}

/* Strides of a child's box buffer in the parent's box index space (0 where broadcast). */
static void child_strides(const struct anode *n, int k, const int64_t *ccount, const int64_t *count, int64_t *st)
{
	const struct anode *c = n->in[k];
	int off = n->ndim - c->ndim;
	int64_t s = 1;
	for (int j = n->ndim - 1; j >= 0; j--) {
		int cj = j - off;
		if (cj < 0) {
			st[j] = 0;
			continue;
		}
		st[j] = (ccount[cj] == 1 && count[j] != 1) ? 0 : s;
		s *= ccount[cj];
	}
}

/* One row of @n's operation on float64 values into float64 results: @a
 * with stride @sa, and for a binary operation @b with stride @sb. */
static void ew_row_f64(const struct anode *n, const double *a, int64_t sa, const double *b, int64_t sb,
		       double *restrict o, int64_t len)
{
	enum ew_op op = n->ew;
	if (n->n_in == 2) {
		if (arith_fast(op, a, sa, b, sb, o, len))
			;
		else if (op == EW_POW && sb == 0 && b[0] == 2 && sa == 1)
			k_square_f64(a, o, (size_t)len);
		else if (op == EW_POW && sb == 0 && b[0] == 2)
			for (int64_t i = 0; i < len; i++)
				o[i] = a[i * sa] * a[i * sa];
		else
			for (int64_t i = 0; i < len; i++)
				o[i] = f2(op, a[i * sa], b[i * sb]);
		return;
	}
	if (sa == 1 && len >= 32 && (op == EW_SQRT || op == EW_ABS || op == EW_FLOOR || op == EW_CEIL)) {
		(op == EW_SQRT ? k_sqrt_f64 : op == EW_ABS ? k_abs_f64 : op == EW_FLOOR ? k_floor_f64 : k_ceil_f64)(
			a, o, (size_t)len);
		return;
	}
	void (*k)(const double *restrict, double *restrict, size_t) =
		op == EW_COS ? k_cos_f64 : op == EW_SIN ? k_sin_f64 : op == EW_LOG ? k_log_f64 : op == EW_EXP ? k_exp_f64
		: op == EW_TANH ? k_tanh_f64 : op == EW_SINH ? k_sinh_f64 : op == EW_COSH ? k_cosh_f64 : NULL;
	if (sa == 1 && k) {
		k(a, o, (size_t)len);
		return;
	}
	for (int64_t i = 0; i < len; i++)
		o[i] = f1(op, a[i * sa]);
}

/*
 * Chains of float64 operations, each on the one array below it and
 * constants (a * 2 + 1, sqrt(x / n) - 1), in a tile: the links run one
 * CHAIN_BLOCK of values at a time, which stays in the first-level cache,
 * instead of one tile at a time, which does not; only the chain's result
 * is written to the tile's buffer. Each value gets the same operations,
 * so the same bits (cos and sin may take their other path: see trig.c).
 */
#define CHAIN_MAX 16
#define CHAIN_BLOCK 512

/* @n's array operand when @n can be a link (the other operands constants,
 * nothing broadcast), else -1. */
static int chain_operand(const struct anode *n)
{
	if (n->kind != AN_EW || n->dtype != DT_FLOAT64 || n->ew == EW_WHERE || n->ew == EW_CLIP ||
	    n->ew == EW_CAST || (n->ew == EW_ROUND && n->gi[0]))
		return -1;
	int a = -1;
	for (int k = 0; k < n->n_in; k++) {
		if (n->in[k]->kind == AN_SCALAR)
			continue;
		if (a >= 0)
			return -1;
		a = k;
	}
	if (a < 0)
		return -1;
	const struct anode *c = n->in[a];
	if (c->dtype != DT_FLOAT64 || c->ndim != n->ndim)
		return -1;
	for (int j = 0; j < n->ndim; j++)
		if (c->shape[j] != n->shape[j])
			return -1;
	return a;
}

/* @n's values over the box through the chain that ends at @n; NULL when
 * @n does not end a chain of two or more links. */
static void *eval_chain(struct ectx *x, const struct anode *n, const int64_t *start, const int64_t *count)
{
	const struct anode *link[CHAIN_MAX];
	int side[CHAIN_MAX], nl = 0;
	const struct anode *c = n;
	int a;
	/* links below the first must be computed here: not another task's result */
	while (nl < CHAIN_MAX && (nl == 0 || !c->fam) && (a = chain_operand(c)) >= 0) {
		link[nl] = c;
		side[nl++] = a;
		c = c->in[a];
	}
	if (nl < 2)
		return NULL;
	int64_t cnt = box_size(n->ndim, count);
	/* nothing is broadcast: every link's box is @n's */
	const double *base = eval_node(x, c, start, count, false);
	double *out = scratch_alloc(x, (size_t)(cnt ? cnt : 1) * 8);
	double *tmp = scratch_alloc(x, 2 * CHAIN_BLOCK * sizeof *tmp);
	double consts[CHAIN_MAX];
	for (int i = 0; i < nl; i++)
		consts[i] = link[i]->n_in == 2 ? scalar_value(link[i]->in[1 - side[i]]) : 0;
	for (int64_t off = 0; off < cnt; off += CHAIN_BLOCK) {
		int64_t len = cnt - off < CHAIN_BLOCK ? cnt - off : CHAIN_BLOCK;
		const double *src = base + off;
		for (int i = nl - 1; i >= 0; i--) {
			double *dst = i == 0 ? out + off : tmp + (i & 1) * CHAIN_BLOCK;
			if (link[i]->n_in == 1)
				ew_row_f64(link[i], src, 1, NULL, 0, dst, len);
			else if (side[i] == 0)
				ew_row_f64(link[i], src, 1, &consts[i], 0, dst, len);
			else
				ew_row_f64(link[i], &consts[i], 0, src, 1, dst, len);
			src = dst;
		}
	}
	return out;
}

static void *eval_ew(struct ectx *x, const struct anode *n, const int64_t *start, const int64_t *count)
{
	void *chained = eval_chain(x, n, start, count);
	if (chained)
		return chained;
	int nd = n->ndim;
	int64_t cnt = box_size(nd, count);
	const void *in[3];
	bool in_fl[3];
	int64_t st[3][AR_MAX_DIMS];
	bool fl_domain = wide_float(n->dtype);
	for (int k = 0; k < n->n_in; k++) {
		int64_t cs[AR_MAX_DIMS], cc[AR_MAX_DIMS];
		anode_child_box(n, k, start, count, cs, cc);
		in[k] = eval_node(x, n->in[k], cs, cc, false);
		in_fl[k] = wide_float(n->in[k]->dtype);
		child_strides(n, k, cc, count, st[k]);
		if (in_fl[k] && k < 2 && n->ew != EW_WHERE)
			fl_domain = true;
	}
	if (n->ew == EW_WHERE)
		fl_domain = wide_float(n->dtype);
	if (n->ew == EW_CAST)
		fl_domain = in_fl[0];
	/* Bring the value inputs into the computing domain. */
	for (int k = 0; k < n->n_in; k++) {
		if (n->ew == EW_WHERE && k == 0)
			continue;
		if (fl_domain && !in_fl[k]) {
			int64_t m = 1;
			const struct anode *c = n->in[k];
			int64_t cs[AR_MAX_DIMS], cc[AR_MAX_DIMS];
			anode_child_box(n, k, start, count, cs, cc);
			m = box_size(c->ndim, cc);
			in[k] = as_double(x, in[k], false, m);
			in_fl[k] = true;
		}
	}
	bool out_fl = wide_float(n->dtype);
	void *out = scratch_alloc(x, (size_t)(cnt ? cnt : 1) * 8);
	double *restrict od = out;   /* fresh scratch: never an input */
	int64_t *restrict oi = out;
	enum ew_op op = n->ew;
	/* When every input is the whole box (C strides) or one value, the box is one flat row. */
	int64_t flat_count[1] = { cnt };
	bool flat = nd > 1, one_value[3] = { false, false, false };
	for (int k = 0; k < n->n_in && flat; k++) {
		bool all0 = true, contig = true;
		int64_t s = 1;
		for (int j = nd - 1; j >= 0; j--) {
			all0 &= st[k][j] == 0 || count[j] == 1;
			contig &= st[k][j] == s || count[j] == 1;
			s *= count[j];
		}
		flat = all0 || contig;
		one_value[k] = all0;
	}
	if (flat)
		for (int k = 0; k < n->n_in; k++)
			st[k][0] = one_value[k] ? 0 : 1;
	const int64_t *rcount = count;
	if (flat) {
		nd = 1;
		rcount = flat_count;
	}
	FOR_ROWS(nd, rcount, idx, off, {
		int64_t base[3] = { 0, 0, 0 };
		for (int k = 0; k < n->n_in; k++)
			for (int j = 0; j < nd - 1; j++)
				base[k] += idx[j] * st[k][j];
		int64_t len = nd ? rcount[nd - 1] : 1;
		int64_t s0 = nd ? st[0][nd - 1] : 0, s1 = n->n_in > 1 && nd ? st[1][nd - 1] : 0,
			s2 = n->n_in > 2 && nd ? st[2][nd - 1] : 0;
		if (op == EW_WHERE) {
			const double *cd = in_fl[0] ? (const double *)in[0] + base[0] : NULL;
			const int64_t *ci = in_fl[0] ? NULL : (const int64_t *)in[0] + base[0];
			for (int64_t i = 0; i < len; i++) {
				bool cond = cd ? cd[i * s0] != 0 : ci[i * s0] != 0;
				if (out_fl)
					od[off + i] = cond ? ((const double *)in[1])[base[1] + i * s1]
							   : ((const double *)in[2])[base[2] + i * s2];
				else
					oi[off + i] = cond ? ((const int64_t *)in[1])[base[1] + i * s1]
							   : ((const int64_t *)in[2])[base[2] + i * s2];
			}
		} else if (op == EW_CLIP) {
			for (int64_t i = 0; i < len; i++) {
				if (fl_domain) {
					double a = ((const double *)in[0])[base[0] + i * s0];
					a = fminmax(a, ((const double *)in[1])[base[1] + i * s1], true);
					od[off + i] = fminmax(a, ((const double *)in[2])[base[2] + i * s2], false);
				} else {
					int64_t a = ((const int64_t *)in[0])[base[0] + i * s0];
					int64_t lo = ((const int64_t *)in[1])[base[1] + i * s1];
					int64_t hi = ((const int64_t *)in[2])[base[2] + i * s2];
					a = a < lo ? lo : a;
					oi[off + i] = a > hi ? hi : a;
				}
			}
		} else if (n->n_in == 2 && fl_domain) {
			const double *a = (const double *)in[0] + base[0], *b = (const double *)in[1] + base[1];
			if (out_fl) {
				ew_row_f64(n, a, s0, b, s1, od + off, len);
			} else if (op == EW_LT && s1 == 0 && s0 == 1) {
				k_lt_scalar_f64(a, b[0], oi + off, (size_t)len);
			} else if (op == EW_GT && s1 == 0 && s0 == 1) {
				k_gt_scalar_f64(a, b[0], oi + off, (size_t)len);
			} else if (op == EW_LT && s1 == 0) {
				double bv = b[0];
				for (int64_t i = 0; i < len; i++)
					oi[off + i] = a[i * s0] < bv;
			} else if (op == EW_GT && s1 == 0) {
				double bv = b[0];
				for (int64_t i = 0; i < len; i++)
					oi[off + i] = a[i * s0] > bv;
			} else {
				for (int64_t i = 0; i < len; i++)
					oi[off + i] = (int64_t)f2(op, a[i * s0], b[i * s1]);
			}
		} else if (n->n_in == 2) {
			const int64_t *a = (const int64_t *)in[0] + base[0], *b = (const int64_t *)in[1] + base[1];
			for (int64_t i = 0; i < len; i++)
				oi[off + i] = i2(op, a[i * s0], b[i * s1]);
		} else if (op == EW_CAST) {
			if (in_fl[0] && !out_fl) {
				const double *a = (const double *)in[0] + base[0];
				for (int64_t i = 0; i < len; i++)
					oi[off + i] = n->dtype == DT_BOOL ? a[i * s0] != 0 : d2i(a[i * s0]);
			} else if (!in_fl[0] && out_fl) {
				const int64_t *a = (const int64_t *)in[0] + base[0];
				for (int64_t i = 0; i < len; i++)
					od[off + i] = (double)a[i * s0];
			} else if (out_fl) {
				const double *a = (const double *)in[0] + base[0];
				for (int64_t i = 0; i < len; i++)
					od[off + i] = a[i * s0];
			} else {
				const int64_t *a = (const int64_t *)in[0] + base[0];
				for (int64_t i = 0; i < len; i++)
					oi[off + i] = a[i * s0];
			}
		} else if (fl_domain && op == EW_ROUND && n->gi[0]) {
			/* numpy's way: scale by 10^decimals, round half to even, scale back */
			const double *a = (const double *)in[0] + base[0];
			double f = pow(10.0, (double)(n->gi[0] > 0 ? n->gi[0] : -n->gi[0]));
			for (int64_t i = 0; i < len; i++) {
				double v = a[i * s0];
				v = n->gi[0] > 0 ? nearbyint(v * f) / f : nearbyint(v / f) * f;
				if (out_fl)
					od[off + i] = v;
				else
					oi[off + i] = d2i(v);
			}
		} else if (!fl_domain && op == EW_ROUND && n->gi[0] < 0) {
			const int64_t *a = (const int64_t *)in[0] + base[0];
			double f = pow(10.0, (double)-n->gi[0]);
			for (int64_t i = 0; i < len; i++)
				oi[off + i] = d2i(nearbyint((double)a[i * s0] / f) * f);
		} else if (fl_domain && out_fl) {
			ew_row_f64(n, (const double *)in[0] + base[0], s0, NULL, 0, od + off, len);
		} else if (fl_domain) {
			const double *a = (const double *)in[0] + base[0];
			for (int64_t i = 0; i < len; i++)
				oi[off + i] = (int64_t)f1(op, a[i * s0]);
		} else {
			const int64_t *a = (const int64_t *)in[0] + base[0];
			enum dtype t = n->in[0]->dtype;
			for (int64_t i = 0; i < len; i++)
				oi[off + i] = i1(op, a[i * s0], t);
		}
	});
	/* predicates already give 0 or 1 */
	bool predicate = op == EW_LT || op == EW_LE || op == EW_GT || op == EW_GE || op == EW_EQ || op == EW_NE ||
			 op == EW_ISNAN || op == EW_ISFINITE;
	if (!(predicate && n->dtype == DT_BOOL))
		round_wide(out, cnt, n->dtype);
	return out;
}

/* ---- reductions ---- */

static bool red_int(const struct anode *r)
{
	/* exact integer accumulation: sums and products of integers, min/max of integers, counts */
	enum dtype it = r->in[0]->dtype;
	switch (r->red) {
	case RED_SUM: case RED_NANSUM: case RED_PROD: case RED_MIN: case RED_MAX: case RED_NANMIN: case RED_NANMAX:
		return !dtype_is_float(it);
	case RED_ANY: case RED_ALL: case RED_COUNT_NONZERO:
		return true;
	default:
		return false;
	}
}

static void red_init(const struct anode *r, struct red_state *s, int64_t n)
{
	struct red_state z;
	memset(&z, 0, sizeof z);
	z.idx = -1;
	switch (r->red) {
	case RED_PROD: z.is = 1; z.v = 1; break;
	case RED_ALL: z.is = 1; break;
	case RED_MIN: case RED_NANMIN: z.is = INT64_MAX; z.v = INFINITY; break;
	case RED_MAX: case RED_NANMAX: z.is = INT64_MIN; z.v = -INFINITY; break;
	case RED_ARGMIN: z.v = INFINITY; break;
	case RED_ARGMAX: z.v = -INFINITY; break;
	default: break;
	}
	for (int64_t i = 0; i < n; i++)
		s[i] = z;
}

static void neumaier(struct red_state *s, double v)
{
	double t = s->s + v;
	if (fabs(s->s) >= fabs(v))
		s->c += (s->s - t) + v;
	else
		s->c += (v - t) + s->s;
	s->s = t;
}

/* One element into a state. @gi: its index for argmin/argmax. */
static inline void red_one(const struct anode *r, struct red_state *s, double d, int64_t v, bool is_fl, int64_t gi)
{
	switch (r->red) {
	case RED_NANSUM:
		if (is_fl && isnan(d))
			return;
		/* fall through */
	case RED_SUM:
		if (is_fl)
			neumaier(s, d);
		else
			s->is = (int64_t)((uint64_t)s->is + (uint64_t)v);
		break;
	case RED_PROD:
		if (is_fl)
			s->v *= d;
		else
			s->is = (int64_t)((uint64_t)s->is * (uint64_t)v);
		break;
	case RED_NANMEAN:
		if (isnan(d))
			return;
		/* fall through */
	case RED_MEAN:
		neumaier(s, is_fl ? d : (double)v);
		s->n += 1;
		break;
	case RED_NANVAR: case RED_NANSTD:
		if (is_fl && isnan(d))
			return;
		/* fall through */
	case RED_VAR: case RED_STD: {
		double x = is_fl ? d : (double)v;
		s->n += 1;
		double delta = x - s->mean;
		s->mean += delta / s->n;
		s->m2 += delta * (x - s->mean);
		break;
	}
	case RED_MIN: case RED_MAX: case RED_NANMIN: case RED_NANMAX: {
		bool mx = r->red == RED_MAX || r->red == RED_NANMAX, nan_skip = r->red == RED_NANMIN || r->red == RED_NANMAX;
		if (!is_fl) {
			if (mx ? v > s->is : v < s->is)
				s->is = v;
			s->flags |= 1;
			break;
		}
		if (isnan(d)) {
			if (!nan_skip)
				s->flags |= 2;
			break;
		}
		if (mx ? d > s->v : d < s->v)
			s->v = d;
		s->flags |= 1;
		break;
	}
	case RED_ARGMIN: case RED_ARGMAX: {
		double x = is_fl ? d : (double)v;
		if (s->flags & 2)
			break; /* a NaN was first: it stays */
		if (isnan(x)) {
			s->flags |= 2;
			s->v = x;
			s->idx = gi;
			break;
		}
		bool better = s->idx < 0 || (r->red == RED_ARGMIN ? x < s->v : x > s->v);
		if (better) {
			s->v = x;
			s->idx = gi;
		}
		break;
	}
	case RED_ANY:
		s->is |= is_fl ? d != 0 : v != 0;
		break;
	case RED_ALL:
		s->is &= is_fl ? d != 0 : v != 0;
		break;
	case RED_COUNT_NONZERO:
		s->is += is_fl ? d != 0 : v != 0;
		break;
	default:
		break;
	}
}

/* A state into another: @b is the later one (argmin ties keep @a's smaller index). */
static void red_merge(const struct anode *r, struct red_state *a, const struct red_state *b)
{
	switch (r->red) {
	case RED_SUM: case RED_NANSUM:
		neumaier(a, b->s);
		neumaier(a, b->c);
		a->is = (int64_t)((uint64_t)a->is + (uint64_t)b->is);
		break;
	case RED_PROD:
		a->v *= b->v;
		a->is = (int64_t)((uint64_t)a->is * (uint64_t)b->is);
		break;
	case RED_MEAN: case RED_NANMEAN:
		neumaier(a, b->s);
		neumaier(a, b->c);
		a->n += b->n;
		break;
	case RED_VAR: case RED_STD: case RED_NANVAR: case RED_NANSTD: {
		if (b->n == 0)
			break;
		if (a->n == 0) {
			*a = *b;
			break;
		}
		double n = a->n + b->n, delta = b->mean - a->mean;
		a->mean += delta * b->n / n;
		a->m2 += b->m2 + delta * delta * a->n * b->n / n;
		a->n = n;
		break;
	}
	case RED_MIN: case RED_NANMIN:
		if (b->is < a->is)
			a->is = b->is;
		if (b->v < a->v)
			a->v = b->v;
		a->flags |= b->flags;
		break;
	case RED_MAX: case RED_NANMAX:
		if (b->is > a->is)
			a->is = b->is;
		if (b->v > a->v)
			a->v = b->v;
		a->flags |= b->flags;
		break;
	case RED_ARGMIN: case RED_ARGMAX:
		if (b->idx < 0 || (a->flags & 2))
			break;
		if ((b->flags & 2) || a->idx < 0 || (r->red == RED_ARGMIN ? b->v < a->v : b->v > a->v) ||
		    (b->v == a->v && b->idx < a->idx))
			*a = *b;
		break;
	case RED_ANY:
		a->is |= b->is;
		break;
	case RED_ALL:
		a->is &= b->is;
		break;
	case RED_COUNT_NONZERO:
		a->is += b->is;
		break;
	default:
		break;
	}
}

/* Final values (wide, in the reduction's dtype) from states. */
static void red_finalize(const struct anode *r, const struct red_state *s, int64_t n, void *out)
{
	double *d = out;
	int64_t *v = out;
	bool ri = red_int(r);
	for (int64_t i = 0; i < n; i++) {
		const struct red_state *t = &s[i];
		switch (r->red) {
		case RED_SUM: case RED_NANSUM:
			if (ri)
				v[i] = t->is;
			else
				d[i] = t->s + t->c;
			break;
		case RED_PROD:
			if (ri)
				v[i] = t->is;
			else
				d[i] = t->v;
			break;
		case RED_MEAN: case RED_NANMEAN:
			d[i] = t->n > 0 ? (t->s + t->c) / t->n : NAN;
			break;
		case RED_VAR: case RED_STD: case RED_NANVAR: case RED_NANSTD: {
			double dof = t->n - r->ddof;
			double var = dof > 0 ? t->m2 / dof : NAN;
			d[i] = r->red == RED_STD || r->red == RED_NANSTD ? sqrt(var) : var;
			break;
		}
		case RED_MIN: case RED_MAX: case RED_NANMIN: case RED_NANMAX:
			if (ri)
				v[i] = t->is;
			else
				d[i] = (t->flags & 2) || !(t->flags & 1) ? NAN : t->v;
			break;
		case RED_ARGMIN: case RED_ARGMAX:
			v[i] = t->idx < 0 ? 0 : t->idx;
			break;
		default:
			v[i] = t->is;
			break;
		}
	}
	round_wide(out, n, r->dtype);
}

/* An operation folded into a reduction (see fold_of). */
struct fold {
	enum { FOLD_NONE, FOLD_SQUARE, FOLD_MUL, FOLD_LT, FOLD_GT } kind;
	double c;               /* the constant compared with */
	const struct anode *b;  /* FOLD_MUL: the second factor */
	const double *bp;       /* ... its value at the box's flat index i is bp[i * bstep] */
	int64_t bstep;          /* 1 or -1 */
};

/*
 * A run of @len values at flat offset @off of the box, summed under the fold
 * (a plain, squared or product sum), in exactly the order the plain sum of
 * the stored values would take: @short_inline for the callers that add runs
 * under 16 values one by one.
 */
static double fold_run_sum(const struct fold *f, const double *d, int64_t off, int64_t len, bool short_inline)
{
	const double *a = d + off;
	if (short_inline && len < 16) {
		double acc = 0;
		for (int64_t i = 0; i < len; i++)
			acc += f->kind == FOLD_SQUARE ? a[i] * a[i]
			       : f->kind == FOLD_MUL  ? a[i] * f->bp[(off + i) * f->bstep]
						      : a[i];
		return acc;
	}
	if (f->kind == FOLD_SQUARE)
		return k_sumsq_f64(a, (size_t)len);
	if (f->kind == FOLD_MUL)
		return k_sumprod_f64(a, f->bp + off * f->bstep, (long)f->bstep, (size_t)len);
	return k_sum_f64(a, (size_t)len);
}

/*
 * The runs a float sum or mean sends to its states, noted instead of added,
 * so that they can be added later in another order of tiles (see
 * pair_streamed): adding a run's sum is all such a reduction does.
 */
struct journal {
	int64_t n, cap;
	struct jrun {
		int64_t state;
		double sum, count;
	} *e;
};

static void journal_add(struct journal *j, int64_t state, double sum, double count)
{
	if (j->n == j->cap) {
		j->cap = j->cap ? 2 * j->cap : 256;
		j->e = xrealloc(j->e, (size_t)j->cap * sizeof *j->e);
	}
	j->e[j->n++] = (struct jrun){ state, sum, count };
}

/*
 * Accumulates the wide values @buf of @r's input over the box (@start,
 * @count, global) into states laid out over the kept axes of the output box
 * that starts at @ostart (global, in the input's axes; reduced axes ignored)
 * with extents @ocount. With a @fold, @buf holds the first operand of the
 * input's last operation instead, and the reduction applies that operation
 * as it reads (see fold_of). With a journal @jr (float sums and means over
 * the last axis only), the runs are noted there and @st is left as it is.
 */
static void red_accumulate(const struct anode *r, const void *buf, const int64_t *start, const int64_t *count,
			   const int64_t *ostart, const int64_t *ocount, const struct fold *fold, struct red_state *st,
			   struct journal *jr)
{
	const struct anode *in = r->in[0];
	int nd = in->ndim;
	bool is_fl = wide_float(in->dtype);
	const double *d = buf;
	const int64_t *v = buf;
	int64_t ostr[AR_MAX_DIMS], s = 1, gstr[AR_MAX_DIMS], g = 1;
	for (int k = nd - 1; k >= 0; k--) {
		gstr[k] = g;
		g *= in->shape[k];
		if (r->axes & (1u << k)) {
			ostr[k] = 0;
		} else {
			ostr[k] = s;
			s *= ocount[k];
		}
	}
	/* argmin/argmax: the index along the one reduced axis, or flat over all. */
	int arg_axis = -1;
	if (r->axes != (nd ? (uint32_t)((1u << nd) - 1) : 0u))
		for (int k = 0; k < nd; k++)
			if (r->axes & (1u << k))
				arg_axis = k;
	bool last_reduced = nd && (r->axes & (1u << (nd - 1)));
	/* The common shape: the reduced axes are the trailing ones, so each run of
	 * @seg contiguous values is one state, in order. */
	int first_red = nd;
	while (first_red > 0 && (r->axes & (1u << (first_red - 1))))
		first_red--;
	bool suffix = r->axes == (((1u << nd) - 1) & ~((1u << first_red) - 1));
	if (suffix && arg_axis < 0 && r->red != RED_ARGMIN && r->red != RED_ARGMAX && r->red != RED_PROD) {
		int64_t seg = 1, n_out = 1;
		for (int k = first_red; k < nd; k++)
			seg *= count[k];
		for (int k = 0; k < first_red; k++)
			n_out *= count[k];
		/* states of the box's outer index, in C order, from the output box's origin */
		int64_t so0 = 0;
		for (int k = 0; k < first_red; k++)
			so0 += (start[k] - ostart[k]) * ostr[k];
		bool contiguous_states = true;
		{
			int64_t s2 = 1;
			for (int k = first_red - 1; k >= 0; k--) {
				contiguous_states &= ostr[k] == s2 || count[k] == 1;
				s2 *= count[k];
			}
		}
		if (contiguous_states && seg > 0) {
			for (int64_t o = 0; o < n_out; o++) {
				struct red_state *t = &st[so0 + o];
				const double *sd = d + o * seg;
				const int64_t *sv = v + o * seg;
				switch (r->red) {
				case RED_SUM: case RED_MEAN:
					if (is_fl) {
						double acc = fold_run_sum(fold, d, o * seg, seg, true);
						if (jr) {
							journal_add(jr, so0 + o, acc, (double)seg);
							break;
						}
						neumaier(t, acc);
					} else if (r->red == RED_SUM) {
						uint64_t acc = 0;
						if (fold->kind == FOLD_LT || fold->kind == FOLD_GT) {
							int64_t c;
							(fold->kind == FOLD_LT ? k_count_lt_f64 : k_count_gt_f64)(sd, fold->c,
														(size_t)seg, &c);
							acc = (uint64_t)c;
						} else {
							for (int64_t i = 0; i < seg; i++)
								acc += (uint64_t)sv[i];
						}
						t->is = (int64_t)((uint64_t)t->is + acc);
					} else {
						double acc = 0;
						for (int64_t i = 0; i < seg; i++)
							acc += (double)sv[i];
						neumaier(t, acc);
					}
					if (r->red == RED_MEAN)
						t->n += (double)seg;
					break;
				case RED_VAR: case RED_STD: {
					struct k_moments m = { 0, 0, 0 };
					if (is_fl) {
						k_moments_add(&m, sd, (size_t)seg);
					} else {
						for (int64_t i = 0; i < seg; i += 256) {
							double tmp[256];
							int64_t len = seg - i < 256 ? seg - i : 256;
							for (int64_t j = 0; j < len; j++)
								tmp[j] = (double)sv[i + j];
							k_moments_add(&m, tmp, (size_t)len);
						}
					}
					struct red_state b = *t;
					b.n = m.n;
					b.mean = m.mean;
					b.m2 = m.m2;
					red_merge(r, t, &b);
					break;
				}
				case RED_COUNT_NONZERO: case RED_ANY: case RED_ALL: {
					int64_t nz = 0;
					if (is_fl)
						for (int64_t i = 0; i < seg; i++)
							nz += sd[i] != 0;
					else
						for (int64_t i = 0; i < seg; i++)
							nz += sv[i] != 0;
					if (r->red == RED_COUNT_NONZERO)
						t->is += nz;
					else if (r->red == RED_ANY)
						t->is |= nz > 0;
					else
						t->is &= nz == seg;
					break;
				}
				default:
					for (int64_t i = 0; i < seg; i++)
						red_one(r, t, is_fl ? sd[i] : 0, is_fl ? 0 : sv[i], is_fl, 0);
					break;
				}
			}
			return;
		}
	}
	FOR_ROWS(nd, count, idx, off, {
		int64_t len = nd ? count[nd - 1] : 1;
		int64_t so = 0, gflat = 0;
		for (int k = 0; k < nd; k++) {
			if (!(r->axes & (1u << k)))
				so += (start[k] + idx[k] - ostart[k]) * ostr[k];
			gflat += (start[k] + idx[k]) * gstr[k];
		}
		if (last_reduced && is_fl && (r->red == RED_SUM || r->red == RED_MEAN)) {
			/* A run into one state: pairwise-sum it, then compensate across runs. */
			double acc = fold_run_sum(fold, d, off, len, false);
			if (jr) {
				journal_add(jr, so, acc, (double)len);
				continue;
			}
			neumaier(&st[so], acc);
			if (r->red == RED_MEAN)
				st[so].n += (double)len;
			continue;
		}
		if (last_reduced && is_fl && (r->red == RED_VAR || r->red == RED_STD)) {
			struct k_moments m = { 0, 0, 0 };
			k_moments_add(&m, d + off, (size_t)len);
			struct red_state b = st[so];
			b.n = m.n;
			b.mean = m.mean;
			b.m2 = m.m2;
			red_merge(r, &st[so], &b);
			continue;
		}
		for (int64_t i = 0; i < len; i++) {
			int64_t gi;
			if (arg_axis < 0)
				gi = gflat + i;
			else
				gi = start[arg_axis] + (arg_axis == nd - 1 ? i : idx[arg_axis]);
			struct red_state *t = &st[so + (last_reduced ? 0 : i)];
			red_one(r, t, is_fl ? d[off + i] : 0, is_fl ? 0 : v[off + i], is_fl, gi);
		}
	});
}

/* Evaluates @r's input over the input box in tiles, accumulating into @st. */
static void red_over_box(struct ectx *x, const struct anode *r, const int64_t *start, const int64_t *count,
			 const int64_t *ostart, const int64_t *ocount, struct red_state *st);

/* Tiles of at most TILE elements, split along the leading axes, in C order. */
#define FOR_TILES(nd, start, count, ts, tc, ...)                                        \
	do {                                                                             \
		int t_ = 0;                                                              \
		int64_t inner_ = 1;                                                      \
		for (t_ = (nd) - 1; t_ >= 0 && inner_ * (count)[t_] <= TILE; t_--)       \
			inner_ *= (count)[t_];                                           \
		int64_t ts[AR_MAX_DIMS], tc[AR_MAX_DIMS];                               \
		if (t_ < 0) {                                                            \
			memcpy(ts, (start), sizeof(int64_t) * (size_t)(nd));             \
			memcpy(tc, (count), sizeof(int64_t) * (size_t)(nd));             \
			__VA_ARGS__;                                                            \
			break;                                                           \
		}                                                                        \
		int64_t step_ = TILE / inner_ ? TILE / inner_ : 1;                       \
		int64_t oi_[AR_MAX_DIMS] = { 0 };                                       \
		bool empty_ = false;                                                     \
		for (int k_ = 0; k_ < (nd); k_++)                                        \
			empty_ |= (count)[k_] == 0;                                      \
		while (!empty_) {                                                        \
			for (int64_t p_ = 0; p_ < (count)[t_]; p_ += step_) {           \
				for (int k_ = 0; k_ < (nd); k_++) {                      \
					ts[k_] = (start)[k_] + (k_ < t_ ? oi_[k_] : 0);   \
					tc[k_] = k_ < t_ ? 1 : (count)[k_];               \
				}                                                        \
				ts[t_] = (start)[t_] + p_;                               \
				tc[t_] = p_ + step_ <= (count)[t_] ? step_ : (count)[t_] - p_; \
				__VA_ARGS__;                                                    \
			}                                                                \
			int k2_ = t_ - 1;                                                \
			while (k2_ >= 0 && ++oi_[k2_] == (count)[k2_])                   \
				oi_[k2_--] = 0;                                          \
			if (k2_ < 0)                                                     \
				break;                                                   \
		}                                                                        \
	} while (0)

/*
 * The last operation of @r's input, folded into the reduction when it is
 * computed in this task on a float64 operand of the same shape and a
 * constant, so that its results are never stored:
 * - a float64 sum or mean over the last axis (and maybe others) of x ** 2:
 *   x is squared as it is summed (the same bits: each square rounded, then
 *   summed in the same order);
 * - a float64 sum or mean over the last axis of x * y, with x and y float64
 *   of the product's shape: the products are summed as they are made (each
 *   rounded, summed in the same order), and y, when it is x[::-1, ::-1]-like
 *   (every axis reversed), is read backwards where it lies (fold_operand);
 * - a sum over every axis of x < c or x > c: the comparisons are counted.
 * @return the node whose values the reduction then reads (@r's input when
 * nothing folds).
 */
static const struct anode *fold_of(const struct anode *r, struct fold *f)
{
	const struct anode *p = r->in[0];
	int nd = p->ndim;
	memset(f, 0, sizeof *f);
	f->kind = FOLD_NONE;
	if (p->fam || p->kind != AN_EW || p->n_in != 2 || p->in[0]->dtype != DT_FLOAT64 || p->in[0]->ndim != nd)
		return p;
	for (int k = 0; k < nd; k++)
		if (p->in[0]->shape[k] != p->shape[k])
			return p;
	bool last = nd >= 1 && (r->axes & (1u << (nd - 1)));
	if (p->in[1]->kind != AN_SCALAR) {
		const struct anode *b = p->in[1];
		bool same = b->dtype == DT_FLOAT64 && b->ndim == nd;
		for (int k = 0; k < nd && same; k++)
			same = b->shape[k] == p->shape[k];
		if ((r->red == RED_SUM || r->red == RED_MEAN) && last && p->ew == EW_MUL && p->dtype == DT_FLOAT64 &&
		    same) {
			f->kind = FOLD_MUL;
			f->b = b;
			return p->in[0];
		}
		return p;
	}
	double v = scalar_value(p->in[1]);
	if ((r->red == RED_SUM || r->red == RED_MEAN) && last && p->ew == EW_POW && p->dtype == DT_FLOAT64 && v == 2)
		f->kind = FOLD_SQUARE;
	else if (r->red == RED_SUM && (p->ew == EW_LT || p->ew == EW_GT) && p->dtype == DT_BOOL &&
		 r->axes == (nd ? (1u << nd) - 1 : 0u))
		f->kind = p->ew == EW_LT ? FOLD_LT : FOLD_GT;
	f->c = v;
	return f->kind == FOLD_NONE ? p : p->in[0];
}

/*
 * Evaluates a FOLD_MUL's second factor over the box (in the product's axes,
 * which are its own). A view that reverses every axis it keeps at more than
 * one element, without new, dropped or listed axes (x[::-1, ::-1]), is the
 * reverse of its input's box in flat order: that box is read backwards in
 * place instead of being copied out reversed.
 */
static void fold_operand(struct ectx *x, struct fold *f, const int64_t *start, const int64_t *count)
{
	if (f->kind != FOLD_MUL)
		return;
	const struct anode *v = f->b;
	int nd = v->ndim;
	bool flip = v->kind == AN_VIEW && !v->fam && v->vlist_axis < 0 && v->in[0]->ndim == nd &&
		    box_size(nd, count) > 0;
	bool any = false;
	for (int k = 0; k < nd && flip; k++) {
		flip = v->vsrc[k] == k && (v->vstep[k] == -1 || count[k] == 1);
		any |= count[k] > 1;
	}
	if (flip && any) {
		int64_t cs[AR_MAX_DIMS], cc[AR_MAX_DIMS];
		anode_child_box(v, 0, start, count, cs, cc);
		const double *in = eval_node(x, v->in[0], cs, cc, false);
		f->bp = in + box_size(nd, count) - 1;
		f->bstep = -1;
		return;
	}
	f->bp = eval_node(x, v, start, count, false);
	f->bstep = 1;
}

static void red_over_box(struct ectx *x, const struct anode *r, const int64_t *start, const int64_t *count,
			 const int64_t *ostart, const int64_t *ocount, struct red_state *st)
{
	const struct anode *in = r->in[0];
	struct fold fold;
	const struct anode *src = fold_of(r, &fold);
	FOR_TILES(in->ndim, start, count, ts, tc, {
		size_t mark = scratch_mark(x);
		const void *buf = eval_node(x, src, ts, tc, false);
		fold_operand(x, &fold, ts, tc);
		red_accumulate(r, buf, ts, tc, ostart, ocount, &fold, st, NULL);
		scratch_reset(x, mark);
	});
}

/* The reduced axes of @r are the trailing ones of its input. */
static bool suffix_reduced(const struct anode *r)
{
	int nd = r->in[0]->ndim, first = nd;
	while (first > 0 && (r->axes & (1u << (first - 1))))
		first--;
	return r->axes == (((1u << nd) - 1) & ~((1u << first) - 1));
}

static void *eval_reduce(struct ectx *x, const struct anode *r, const int64_t *start, const int64_t *count)
{
	int64_t cnt = box_size(r->ndim, count);
	int64_t cs[AR_MAX_DIMS], cc[AR_MAX_DIMS], oc[AR_MAX_DIMS];
	anode_child_box(r, 0, start, count, cs, cc);
	int64_t child_cnt = box_size(r->in[0]->ndim, cc);
	if ((r->red == RED_SUM || r->red == RED_MEAN) && wide_float(r->in[0]->dtype) && suffix_reduced(r) &&
	    child_cnt <= 8 * TILE && cnt > 0) {
		/* A sum over short trailing runs (a row's few columns): straight
		 * into the output, no per-element reduction state. */
		int64_t seg = child_cnt / cnt;
		struct fold fold;
		const struct anode *src = fold_of(r, &fold);
		bool sq = fold.kind == FOLD_SQUARE;
		const double *in = eval_node(x, src, cs, cc, false);
		fold_operand(x, &fold, cs, cc);
		double *out = scratch_alloc(x, (size_t)cnt * 8);
		if (seg == 2 && r->red == RED_SUM) { /* rows of two: (x ** 2).sum(axis=1) of points */
			if (fold.kind == FOLD_MUL)
				for (int64_t o = 0; o < cnt; o++)
					out[o] = in[2 * o] * fold.bp[2 * o * fold.bstep] +
						 in[2 * o + 1] * fold.bp[(2 * o + 1) * fold.bstep];
			else
				(sq ? k_pair_sumsq_f64 : k_pair_sums_f64)(in, out, (size_t)cnt);
			round_wide(out, cnt, r->dtype);
			return out;
		}
		for (int64_t o = 0; o < cnt; o++) {
			double acc = fold_run_sum(&fold, in, o * seg, seg, true);
			out[o] = r->red == RED_MEAN ? (seg ? acc / (double)seg : NAN) : acc;
		}
		round_wide(out, cnt, r->dtype);
		return out;
	}
	for (int k = 0; k < r->in[0]->ndim; k++)
		oc[k] = (r->axes & (1u << k)) ? 1 : cc[k];
	struct red_state *st = xmalloc((size_t)(cnt ? cnt : 1) * sizeof *st);
	red_init(r, st, cnt);
	red_over_box(x, r, cs, cc, cs, oc, st);
	void *out = scratch_alloc(x, (size_t)(cnt ? cnt : 1) * 8);
	red_finalize(r, st, cnt, out);
	free(st);
	return out;
}

/* A reshape: the input's box holding the range, then a gather by flat index. */
static void *eval_reshape(struct ectx *x, const struct anode *n, const int64_t *start, const int64_t *count)
{
	const struct anode *c = n->in[0];
	int nd = n->ndim, cd = c->ndim;
	int64_t cnt = box_size(nd, count);
	int64_t *out = scratch_alloc(x, (size_t)(cnt ? cnt : 1) * 8);
	if (!cnt)
		return out;
	int64_t cs[AR_MAX_DIMS], cc[AR_MAX_DIMS];
	anode_child_box(n, 0, start, count, cs, cc);
	const int64_t *in = eval_node(x, c, cs, cc, false);
	int64_t cstr[AR_MAX_DIMS], s = 1;
	for (int j = cd - 1; j >= 0; j--) {
		cstr[j] = s;
		s *= cc[j];
	}
	FOR_ROWS(nd, count, idx, off, {
		int64_t f = 0;
		for (int j = 0; j < nd; j++)
			f = f * n->shape[j] + start[j] + idx[j];
		/* the row's first element in the input, then step through it like an odometer */
		int64_t ii[AR_MAX_DIMS], pos = 0;
		for (int j = cd - 1; j >= 0; j--) {
			ii[j] = f % c->shape[j];
			f /= c->shape[j];
		}
		for (int j = 0; j < cd; j++)
			pos += (ii[j] - cs[j]) * cstr[j];
		int64_t len = nd ? count[nd - 1] : 1;
		for (int64_t i = 0; i < len; i++) {
			out[off + i] = in[pos];
			for (int j = cd - 1; j >= 0; j--) {
				pos += cstr[j];
				if (++ii[j] < c->shape[j])
					break;
				pos -= ii[j] * cstr[j];
				ii[j] = 0;
				/* an axis wrapped: whole in the box (see anode_child_box), so the carry lands inside */
			}
		}
	});
	return out;
}

/* A concatenation: each input fills the part of the box it covers. */
static void *eval_concat(struct ectx *x, const struct anode *n, const int64_t *start, const int64_t *count)
{
	int nd = n->ndim, a = n->axis;
	int64_t cnt = box_size(nd, count);
	int64_t *out = scratch_alloc(x, (size_t)(cnt ? cnt : 1) * 8);
	bool fl = wide_float(n->dtype);
	int64_t ostr[AR_MAX_DIMS], s = 1;
	for (int k = nd - 1; k >= 0; k--) {
		ostr[k] = s;
		s *= count[k];
	}
	for (int k = 0; k < n->n_in; k++) {
		const struct anode *c = n->in[k];
		int64_t cs[AR_MAX_DIMS], cc[AR_MAX_DIMS];
		anode_child_box(n, k, start, count, cs, cc);
		int64_t m = box_size(nd, cc);
		if (!m)
			continue;
		const void *buf = eval_node(x, c, cs, cc, false);
		if (wide_float(c->dtype) != fl)
			buf = fl ? (const void *)as_double(x, buf, false, m) : buf; /* ints into a float result */
		if (!fl && wide_float(c->dtype)) {
			int64_t *t = scratch_alloc(x, (size_t)m * 8);
			for (int64_t i = 0; i < m; i++)
				t[i] = d2i(((const double *)buf)[i]);
			buf = t;
		}
		const int64_t *src = buf;
		int64_t shift = n->cat_off[k] + cs[a] - start[a];
		FOR_ROWS(nd, cc, idx, off, {
			int64_t o = 0;
			for (int j = 0; j < nd; j++)
				o += (idx[j] + (j == a ? shift : 0)) * ostr[j];
			memcpy(out + o, src + off, (size_t)cc[nd - 1] * 8);
		});
	}
	round_wide(out, cnt, n->dtype);
	return out;
}

/* A view: evaluate the input over the box it covers, then gather. */
static void *eval_view(struct ectx *x, const struct anode *n, const int64_t *start, const int64_t *count)
{
	const struct anode *c = n->in[0];
	int nd = n->ndim;
	int64_t cnt = box_size(nd, count);
	int64_t cs[AR_MAX_DIMS], cc[AR_MAX_DIMS];
	anode_child_box(n, 0, start, count, cs, cc);
	void *out = scratch_alloc(x, (size_t)(cnt ? cnt : 1) * 8);
	if (!cnt)
		return out;
	const int64_t *in = eval_node(x, c, cs, cc, false); /* doubles and int64s are both 8 bytes */
	int64_t cstr[AR_MAX_DIMS], s = 1;
	for (int j = c->ndim - 1; j >= 0; j--) {
		cstr[j] = s;
		s *= cc[j];
	}
	int64_t *o = out;
	int last = nd - 1;
	FOR_ROWS(nd, count, idx, off, {
		int64_t base = 0;
		for (int k = 0; k < last; k++) {
			int j = n->vsrc[k];
			if (j < 0)
				continue;
			int64_t ci = k == n->vlist_axis ? n->vlist[start[k] + idx[k]]
							: n->vstart[k] + (start[k] + idx[k]) * n->vstep[k];
			base += (ci - cs[j]) * cstr[j];
		}
		int64_t len = nd ? count[last] : 1;
		int j = nd ? n->vsrc[last] : -1;
		if (j < 0) {
			for (int64_t i = 0; i < len; i++)
				o[off + i] = in[base];
		} else if (last == n->vlist_axis) {
			for (int64_t i = 0; i < len; i++)
				o[off + i] = in[base + (n->vlist[start[last] + i] - cs[j]) * cstr[j]];
		} else {
			int64_t first = n->vstart[last] + start[last] * n->vstep[last] - cs[j];
			int64_t step = n->vstep[last] * cstr[j];
			const int64_t *p = in + base + first * cstr[j];
			if (step == 1)
				memcpy(o + off, p, (size_t)len * 8);
			else if (step == -1) /* x[..., ::-1]: a loop the compiler vectorizes with shuffles */
				k_reverse_u64((const uint64_t *)p - (len - 1), (uint64_t *)o + off, (size_t)len);
			else
				for (int64_t i = 0; i < len; i++)
					o[off + i] = p[i * step];
		}
	});
	return out;
}

static void *eval_node(struct ectx *x, const struct anode *n, const int64_t *start, const int64_t *count, bool root)
{
	if (n->fam && !root)
		return eval_input(x, n, start, count);
	switch (n->kind) {
	case AN_MATMUL: /* always materialized: never reached here */
		break;
	case AN_SCALAR:
		return eval_scalar(x, n, box_size(n->ndim, count));
	case AN_GEN:
		return eval_gen(x, n, start, count);
	case AN_NPY:
		return eval_npy(x, n, start, count);
	case AN_CSV:
		return eval_csv(x, n, start, count);
	case AN_VCF:
		return eval_vcf(x, n, start, count);
	case AN_PDIST: /* always materialized */
	case AN_CHOL:
	case AN_FRAME:
		break;
	case AN_EW:
		return eval_ew(x, n, start, count);
	case AN_REDUCE:
		return eval_reduce(x, n, start, count);
	case AN_VIEW:
		return eval_view(x, n, start, count);
	case AN_CONCAT:
		return eval_concat(x, n, start, count);
	case AN_RESHAPE:
		return eval_reshape(x, n, start, count);
	}
	return NULL;
}

/* ---- constants ---- */

int array_eval_constant(const struct anode *n, double *f, int64_t *i)
{
	struct ectx x;
	struct err e;
	memset(&x, 0, sizeof x);
	err_init(&e);
	x.e = &e;
	int64_t start[AR_MAX_DIMS] = { 0 }, count[AR_MAX_DIMS];
	for (int k = 0; k < n->ndim; k++)
		count[k] = 1;
	const void *buf = eval_node(&x, n, start, count, true);
	if (wide_float(n->dtype)) {
		*f = ((const double *)buf)[0];
		*i = d2i(*f);
	} else {
		*i = ((const int64_t *)buf)[0];
		*f = (double)*i;
	}
	scratch_release(&x);
	return x.failed ? -1 : 0;
}

/* ---- tasks ---- */

static int run_chunk(struct ectx *x, const struct anode *a, int64_t c, struct op_sink *out)
{
	int64_t start[AR_MAX_DIMS], count[AR_MAX_DIMS];
	anode_chunk_box(a, c, start, count);
	int64_t cnt = box_size(a->ndim, count);
	size_t isz = dtype_size(a->dtype);
	char *res = xmalloc((size_t)(cnt ? cnt : 1) * isz);
	int64_t done = 0;
	FOR_TILES(a->ndim, start, count, ts, tc, {
		size_t mark = scratch_mark(x);
		const void *buf = eval_node(x, a, ts, tc, true);
		int64_t n = box_size(a->ndim, tc);
		narrow(buf, a->dtype, n, res + done * (int64_t)isz);
		done += n;
		scratch_reset(x, mark);
	});
	if (x->failed) {
		free(res);
		return -1;
	}
	return op_sink_give(out, res, (size_t)cnt * isz, x->e);
}

static size_t leafset_bytes(const struct leafset *ls)
{
	size_t total = 0;
	for (int i = 0; i < ls->n; i++)
		total += (size_t)box_size(ls->g[i]->ndim, ls->e[i].c) * 8;
	return total;
}

/* Generates the boxes of @ls into @p (room for leafset_bytes()), one after another, as the
 * boxes eval_gen() reads from. */
static void cache_fill(struct ectx *x, const struct leafset *ls, char *p)
{
	if (ls != &x->lc)
		x->lc = *ls;
	for (int i = 0; i < x->lc.n; i++) {
		x->lc_data[i] = p;
		gen_fill(x->lc.g[i], x->lc.e[i].s, x->lc.e[i].c, p);
		p += (size_t)box_size(x->lc.g[i]->ndim, x->lc.e[i].c) * 8;
	}
	x->n_lc = x->lc.n;
}

struct tiles {
	int64_t n, cap;
	int64_t (*s)[AR_MAX_DIMS], (*c)[AR_MAX_DIMS];
};

/* The tiles red_over_box() visits over a box, in its order. */
static void tiles_of(int nd, const int64_t *start, const int64_t *count, struct tiles *t)
{
	memset(t, 0, sizeof *t);
	FOR_TILES(nd, start, count, ts, tc, {
		if (t->n == t->cap) {
			t->cap = t->cap ? 2 * t->cap : 64;
			t->s = xrealloc(t->s, (size_t)t->cap * sizeof *t->s);
			t->c = xrealloc(t->c, (size_t)t->cap * sizeof *t->c);
		}
		memcpy(t->s[t->n], ts, sizeof *t->s);
		memcpy(t->c[t->n], tc, sizeof *t->c);
		t->n++;
	});
}

/*
 * Reduces paired chunks @m and @p (boxes ms/mc, ps/pc) tile by tile in step,
 * when tile k of m reads the very random boxes that tile T-1-k of p reads,
 * as mirrors do in (x * x[::-1, ::-1]).sum(). Each step generates those
 * values once, into regions that stay in cache, and computes both tiles
 * from them; generating the chunks' whole boxes first cost more in memory
 * traffic than the generating. m's tiles reduce as they come, in their usual
 * order. p's come last first, so what they add waits and is added at the
 * end in p's usual order: the bits are those of reducing each chunk alone.
 * What waits is the runs' sums (a journal) for float sums and means over
 * the last axis, else the tiles' values (a stash). @budget: the bytes
 * lowering allowed the pair. @return false, with nothing done, when the
 * tiles do not pair up so or what waits would not fit.
 */
static bool pair_streamed(struct ectx *x, const struct anode *r, const int64_t *ms, const int64_t *mc,
			  const int64_t *ps, const int64_t *pc, const int64_t *oc, struct red_state *st,
			  struct red_state *pst, size_t budget)
{
	const struct anode *in = r->in[0];
	int nd = in->ndim;
	bool journaled = (r->red == RED_SUM || r->red == RED_MEAN) && wide_float(in->dtype) && nd >= 1 &&
			 (r->axes & (1u << (nd - 1)));
	struct tiles tm, tp;
	tiles_of(nd, ms, mc, &tm);
	tiles_of(nd, ps, pc, &tp);
	bool ok = tm.n == tp.n && tm.n > 0;
	size_t wait_bytes = 0, region = 0;
	struct leafset b, *sets = xmalloc((size_t)(tm.n ? tm.n : 1) * sizeof *sets); /* step k's boxes */
	for (int64_t k = 0; ok && k < tm.n; k++) {
		struct leafset *a = &sets[k];
		anode_leafset(in, tm.s[k], tm.c[k], a);
		anode_leafset(in, tp.s[tm.n - 1 - k], tp.c[tm.n - 1 - k], &b);
		ok = a->ok && b.ok && a->n == b.n && !memcmp(a->e, b.e, (size_t)a->n * sizeof a->e[0]);
		size_t rb = leafset_bytes(a);
		region = rb > region ? rb : region;
		int64_t cnt = box_size(nd, tp.c[k]);
		/* a journal holds at most one run per row of the tile */
		wait_bytes += journaled ? (size_t)(cnt / (tp.c[k][nd - 1] ? tp.c[k][nd - 1] : 1)) * sizeof(struct jrun)
					: (size_t)cnt * 8;
	}
	ok = ok && wait_bytes + region <= budget;
	if (ok) {
		struct fold fold;
		const struct anode *src = fold_of(r, &fold);
		struct journal jr = { 0 };
		char *stash = NULL, *cache;
		size_t *at = NULL; /* the stash: p's tile k's values at at[k] */
		if (journaled) {
			cache = leaf_buf(region ? region : 8);
		} else {
			stash = leaf_buf(wait_bytes + region);
			cache = stash + wait_bytes;
			at = xmalloc((size_t)tp.n * sizeof *at);
			for (int64_t k = 0, off = 0; k < tp.n; k++) {
				at[k] = (size_t)off;
				off += box_size(nd, tp.c[k]) * 8;
			}
		}
		int64_t *jfrom = journaled ? xmalloc((size_t)(tp.n + 1) * sizeof *jfrom) : NULL;
		for (int64_t k = 0; k < tm.n && !x->failed; k++) {
			int64_t q = tm.n - 1 - k;
			cache_fill(x, &sets[k], cache);
			size_t mark = scratch_mark(x);
			const void *buf = eval_node(x, src, tm.s[k], tm.c[k], false);
			fold_operand(x, &fold, tm.s[k], tm.c[k]);
			red_accumulate(r, buf, tm.s[k], tm.c[k], ms, oc, &fold, st, NULL);
			buf = eval_node(x, src, tp.s[q], tp.c[q], false);
			if (journaled) {
				fold_operand(x, &fold, tp.s[q], tp.c[q]);
				jfrom[q] = jr.n;
				red_accumulate(r, buf, tp.s[q], tp.c[q], ps, oc, &fold, pst, &jr);
			} else {
				memcpy(stash + at[q], buf, (size_t)box_size(nd, tp.c[q]) * 8);
			}
			scratch_reset(x, mark);
		}
		x->n_lc = 0;
		if (journaled && !x->failed) {
			/* tile q's runs are entries jfrom[q] up to the next tile's start */
			for (int64_t q = 0; q < tp.n; q++) {
				int64_t end = q == 0 ? jr.n : jfrom[q - 1];
				for (int64_t e = jfrom[q]; e < end; e++) {
					struct red_state *t = &pst[jr.e[e].state];
					neumaier(t, jr.e[e].sum);
					if (r->red == RED_MEAN)
						t->n += jr.e[e].count;
				}
			}
		}
		for (int64_t k = 0; !journaled && k < tp.n && !x->failed; k++)
			red_accumulate(r, stash + at[k], tp.s[k], tp.c[k], ps, oc, &fold, pst, NULL);
		free(jr.e);
		free(jfrom);
		free(at);
	}
	free(sets);
	free(tm.s);
	free(tm.c);
	free(tp.s);
	free(tp.c);
	return ok;
}

static int run_map(struct ectx *x, const struct afam *f, int64_t m, struct op_sink *out)
{
	const struct anode *r = f->a, *in = r->in[0];
	int64_t start[AR_MAX_DIMS], count[AR_MAX_DIMS], oc[AR_MAX_DIMS];
	anode_chunk_box(in, m, start, count);
	int64_t n_states = 1;
	for (int k = 0; k < in->ndim; k++) {
		oc[k] = (r->axes & (1u << k)) ? 1 : count[k];
		n_states *= oc[k];
	}
	struct red_state *st = xmalloc((size_t)n_states * sizeof *st);
	red_init(r, st, n_states);
	int64_t p = f->partner ? f->partner[m] : -1;
	if (p < 0) {
		red_over_box(x, r, start, count, start, oc, st);
	} else if (p > m) {
		/* this chunk and its partner read the same random boxes: make them once, reduce both here,
		 * each into its own partial, merged as the tree would (argmin's ties go by index) */
		int64_t ps[AR_MAX_DIMS], pc[AR_MAX_DIMS];
		anode_chunk_box(in, p, ps, pc);
		struct red_state *pst = xmalloc((size_t)n_states * sizeof *pst);
		red_init(r, pst, n_states);
		struct leafset ls;
		afam_map_leafset(f, m, &ls);
		size_t bytes = leafset_bytes(&ls);
		if (!pair_streamed(x, r, start, count, ps, pc, oc, st, pst, bytes)) {
			cache_fill(x, &ls, leaf_buf(bytes ? bytes : 8));
			red_over_box(x, r, start, count, start, oc, st);
			red_over_box(x, r, ps, pc, ps, oc, pst);
		}
		for (int64_t i = 0; i < n_states; i++)
			red_merge(r, &st[i], &pst[i]);
		free(pst);
		x->n_lc = 0;
	} /* else: the partner has reduced this chunk; the empty partial stands */
	if (x->failed) {
		free(st);
		return -1;
	}
	return op_sink_give(out, st, (size_t)n_states * sizeof *st, x->e);
}

/* One block product A[i, k] @ B[k, j] into a partial block (wide values). */
static int run_matmul_block(struct ectx *x, const struct afam *f, int64_t m, struct op_sink *out)
{
	const struct anode *c = f->a, *a = c->in[0], *b = c->in[1];
	int nd = c->ndim;
	int64_t as[AR_MAX_DIMS], ac[AR_MAX_DIMS], bs[AR_MAX_DIMS], bc[AR_MAX_DIMS];
	afam_matmul_boxes(f, m, as, ac, bs, bc);
	int64_t rows = ac[nd - 2], inner = ac[nd - 1], cols = bc[nd - 1];
	const void *pa = eval_node(x, a, as, ac, false);
	const void *pb = eval_node(x, b, bs, bc, false);
	/* batch elements of the output box, and each operand's (0 where it broadcasts) */
	int64_t nb = 1, ostr[AR_MAX_DIMS], astr[AR_MAX_DIMS], bstr[AR_MAX_DIMS], bcount[AR_MAX_DIMS];
	int64_t sa = 1, sb = 1;
	for (int d = nd - 3; d >= 0; d--) {
		bcount[d] = ac[d] > bc[d] ? ac[d] : bc[d];
		astr[d] = ac[d] == 1 ? 0 : sa;
		bstr[d] = bc[d] == 1 ? 0 : sb;
		sa *= ac[d];
		sb *= bc[d];
	}
	for (int d = nd - 3; d >= 0; d--) {
		ostr[d] = nb;
		nb *= bcount[d];
	}
	size_t n = (size_t)(nb * rows * cols > 0 ? nb * rows * cols : 1);
	bool fl = wide_float(c->dtype);
	const double *da = fl ? as_double(x, pa, wide_float(a->dtype), box_size(nd, ac)) : NULL;
	const double *db = fl ? as_double(x, pb, wide_float(b->dtype), box_size(nd, bc)) : NULL;
	void *pc = xcalloc(n, 8);
	for (int64_t e = 0; e < nb; e++) {
		int64_t ea = 0, eb = 0, rem = e;
		for (int d = 0; d < nd - 2; d++) {
			int64_t i = rem / ostr[d];
			rem %= ostr[d];
			ea += i * astr[d];
			eb += i * bstr[d];
		}
		if (!rows || !cols || !inner)
			continue;
		if (fl) {
			cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)cols, (int)inner, 1.0,
				    da + ea * rows * inner, (int)inner, db + eb * inner * cols, (int)cols, 0.0,
				    (double *)pc + e * rows * cols, (int)cols);
		} else {
			/* exact integers: no BLAS; i-k-j order keeps the inner loop streaming */
			const int64_t *ia = (const int64_t *)pa + ea * rows * inner, *ib = (const int64_t *)pb + eb * inner * cols;
			uint64_t *pe = (uint64_t *)pc + e * rows * cols;
			for (int64_t i = 0; i < rows; i++)
				for (int64_t k = 0; k < inner; k++) {
					uint64_t av = (uint64_t)ia[i * inner + k];
					for (int64_t j = 0; j < cols; j++)
						pe[i * cols + j] += av * (uint64_t)ib[k * cols + j];
				}
		}
	}
	if (x->failed) {
		free(pc);
		return -1;
	}
	return op_sink_give(out, pc, (size_t)(nb * rows * cols) * 8, x->e);
}

/* Sums matmul partial blocks; the final step narrows to the dtype. */
static int run_matmul_combine(struct ectx *x, const struct afam *f, bool final, struct op_sink *out)
{
	const struct anode *c = f->a;
	size_t n = x->n_in ? x->in_len[0] / 8 : 0;
	bool fl = wide_float(c->dtype);
	void *acc = xmalloc((n ? n : 1) * 8);
	if (n)
		memcpy(acc, x->in_data[0], n * 8);
	for (size_t i = 1; i < x->n_in; i++) {
		if (x->in_len[i] != n * 8) {
			free(acc);
			return err_run(x->e, NULL, "internal error: partial blocks of different sizes");
		}
		if (fl)
			for (size_t j = 0; j < n; j++)
				((double *)acc)[j] += ((const double *)x->in_data[i])[j];
		else
			for (size_t j = 0; j < n; j++)
				((uint64_t *)acc)[j] += ((const uint64_t *)x->in_data[i])[j];
	}
	if (!final)
		return op_sink_give(out, acc, n * 8, x->e);
	round_wide(acc, (int64_t)n, c->dtype);
	size_t isz = dtype_size(c->dtype);
	void *res = xmalloc((n ? n : 1) * isz);
	narrow(acc, c->dtype, (int64_t)n, res);
	free(acc);
	return op_sink_give(out, res, n * isz, x->e);
}

static int run_combine(struct ectx *x, const struct afam *f, bool final, struct op_sink *out)
{
	const struct anode *r = f->a;
	if (f->matmul)
		return run_matmul_combine(x, f, final, out);
	if (!x->n_in)
		return err_run(x->e, NULL, "internal error: a combine step without inputs");
	size_t n_states = x->in_len[0] / sizeof(struct red_state);
	struct red_state *st = xmalloc((n_states ? n_states : 1) * sizeof *st);
	memcpy(st, x->in_data[0], n_states * sizeof *st);
	for (size_t i = 1; i < x->n_in; i++) {
		if (x->in_len[i] != n_states * sizeof *st) {
			free(st);
			return err_run(x->e, NULL, "internal error: partials of different sizes");
		}
		const struct red_state *b = x->in_data[i];
		for (size_t j = 0; j < n_states; j++)
			red_merge(r, &st[j], &b[j]);
	}
	int rc;
	if (!final) {
		rc = op_sink_write(out, st, n_states * sizeof *st, x->e);
	} else {
		void *wide = xmalloc((n_states ? n_states : 1) * 8);
		red_finalize(r, st, (int64_t)n_states, wide);
		size_t isz = dtype_size(r->dtype);
		void *res = xmalloc((n_states ? n_states : 1) * isz);
		narrow(wide, r->dtype, (int64_t)n_states, res);
		rc = op_sink_write(out, res, n_states * isz, x->e);
		free(wide);
		free(res);
	}
	free(st);
	return rc;
}

/* ---- Cholesky ---- */

/* LAPACK, as OpenBLAS exports it (its own C implementations: no hidden string lengths). */
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dtrtri_(const char *uplo, const char *diag, const int *n, double *a, const int *lda, int *info);

/*
 * The factor of a whole matrix. The row-major buffer read as column-major
 * is the same symmetric matrix, so LAPACK's upper factor U (A = U^T U) read
 * back row-major is the lower L = U^T with A = L L^T. For the inverse's
 * factor, U^-1 (inverted in place) is F with F F^T = A^-1.
 */
static int run_chol(struct ectx *x, const struct anode *a, struct op_sink *out)
{
	int64_t start[2] = { 0, 0 }, count[2] = { a->shape[0], a->shape[1] };
	int n = (int)a->shape[0], info = 0;
	const double *src = as_double(x, eval_node(x, a->in[0], start, count, false), wide_float(a->in[0]->dtype),
				      (int64_t)n * n);
	if (x->failed)
		return -1;
	double *m = xmalloc((size_t)(n ? n : 1) * (size_t)(n ? n : 1) * 8);
	memcpy(m, src, (size_t)n * (size_t)n * 8);
	if (n)
		dpotrf_("U", &n, m, &n, &info);
	if (info > 0) {
		free(m);
		if (a->g[0])
			return err_run(x->e, NULL, "the covariance matrix of the rows is singular (leading minor of order %d): "
				       "with more features than rows, give VI=", info);
		return err_run(x->e, NULL, "the matrix is not positive definite (leading minor of order %d)", info);
	}
	if (a->g[0] && n)
		dtrtri_("U", "N", &n, m, &n, &info);
	for (int64_t j = 0; j < n; j++) /* column-major: zero below the diagonal */
		for (int64_t i = j + 1; i < n; i++)
			m[i + j * n] = 0;
	if (a->g[0]) { /* row-major F is column-major U^-1: transpose */
		for (int64_t i = 0; i < n; i++)
			for (int64_t j = i + 1; j < n; j++) {
				double t = m[i * n + j];
				m[i * n + j] = m[j * n + i];
				m[j * n + i] = t;
			}
	}
	return op_sink_give(out, m, (size_t)n * (size_t)n * 8, x->e);
}

/* ---- pairwise distances ---- */

/* The rows of a distance's input over a box, in the form the kernels take:
 * int8 (negative = missing) for int8 and bool inputs, else doubles with
 * missing values as NaN. */
static void pdist_rows(struct ectx *x, const struct anode *d, const struct anode *in, const int64_t *start,
		       const int64_t *count, struct k_dist_rows *r)
{
	int64_t cnt = count[0] * count[1];
	r->rows = count[0];
	r->ld = count[1];
	bool neg = d->missing == PD_MISSING_AUTO;
	if ((in->dtype == DT_INT8 && neg) || in->dtype == DT_BOOL) {
		int8_t *p = scratch_alloc(x, (size_t)(cnt ? cnt : 1));
		if (in->fam) {
			struct gather g = { x, in, start, count, p, true };
			anode_chunks_overlapping(in, start, count, gather_chunk, &g);
		} else if (in->kind == AN_VCF) {
			read_vcf(x, in, start, count, p);
		} else if (in->kind == AN_NPY) {
			/* the file's bytes are the kernels' bytes: no round trip through int64 */
			if (!read_npy(x, in, start, count, p))
				memset(p, 0, (size_t)(cnt ? cnt : 1));
			else if (in->dtype == DT_BOOL)
				for (int64_t i = 0; i < cnt; i++)
					p[i] = p[i] != 0;
		} else {
			narrow(eval_node(x, in, start, count, false), in->dtype, cnt, p);
		}
		r->type = K_DIST_I8;
		r->data = p;
		return;
	}
	void *w = eval_node(x, in, start, count, false);
	r->type = K_DIST_F64;
	if (wide_float(in->dtype)) {
		r->data = w;
		return;
	}
	double *p = scratch_alloc(x, (size_t)(cnt ? cnt : 1) * 8);
	const int64_t *v = w;
	for (int64_t i = 0; i < cnt; i++)
		p[i] = neg && v[i] < 0 ? NAN : (double)v[i];
	r->data = p;
}

static struct k_dist_opts pdist_opts(const struct anode *d)
{
	return (struct k_dist_opts){ .metric = (enum k_dist_metric)d->metric, .p = d->p, .weighted = d->weighted };
}

/* The weights of features [f0, f0 + n) (NULL: unweighted). Weight 0 leaves a feature out, in every
 * engine alike, for a NaN weight and for seuclidean's 1 / V of a feature whose variance is 0 or
 * undefined (every row that has the feature has the same value there; scipy's 0/0 would make every
 * distance NaN). */
static const double *pdist_weights(struct ectx *x, const struct anode *d, int64_t f0, int64_t n)
{
	if (!d->weighted)
		return NULL;
	const double *v = as_double(x, eval_node(x, d->in[2], &f0, &n, false), wide_float(d->in[2]->dtype), n);
	bool seu = d->metric == K_DIST_SEUCLIDEAN;
	int64_t k = 0;
	while (k < n && v[k] == v[k] && !(seu && isinf(v[k])))
		k++;
	if (k < n) {
		double *c = scratch_alloc(x, (size_t)n * 8);
		for (int64_t f = 0; f < n; f++)
			c[f] = v[f] == v[f] && !(seu && isinf(v[f])) ? v[f] : 0.0;
		v = c;
	}
	return v;
}

/* The rows of tile (i, j) and their weights over features [as[1], as[1] + ac[1]). */
static void pdist_load(struct ectx *x, const struct anode *d, bool same, const int64_t *as, const int64_t *ac,
		       const int64_t *bs, const int64_t *bc, struct k_dist_rows *ra, struct k_dist_rows *rb,
		       const double **w)
{
	pdist_rows(x, d, d->in[0], as, ac, ra);
	if (same)
		*rb = *ra;
	else
		pdist_rows(x, d, d->in[1], bs, bc, rb);
	*w = pdist_weights(x, d, as[1], ac[1]);
}

/* A tile's rows read from .npy files straight into the GPU plugin's staging buffer (tcu_reader). */
struct pdist_reader {
	struct ectx *x;
	const struct anode *in[2];
	int64_t row0[2], rows[2]; /* the tile's rows on each side */
	int64_t f0;		  /* its first feature */
};

static int pdist_read(void *ctx, int side, int64_t f0, int64_t n, void *dst)
{
	struct pdist_reader *p = ctx;
	int64_t start[2] = { p->row0[side], p->f0 + f0 }, count[2] = { p->rows[side], n };
	return read_npy(p->x, p->in[side], start, count, dst) ? 0 : -1;
}

/* Whether input @n is a .npy file whose elements are the kernels' (float64, or int8 when @i8). */
static bool pdist_readable(const struct anode *n, bool i8)
{
	return n->kind == AN_NPY && !n->fam && n->ndim == 2 && n->npy.dtype == (i8 ? DT_INT8 : DT_FLOAT64);
}

/*
 * A map task on the GPU: every feature of the tile fed to one device job. Rows
 * in .npy files of the kernels' element type are read by the plugin's
 * callback straight into its pinned staging buffer, piece by piece; other
 * inputs are evaluated group by group and packed from there (a copy more).
 */
static int pdist_map_gpu(struct ectx *x, const struct anode *d, bool same, const int64_t *as, const int64_t *ac,
			 const int64_t *bs, const int64_t *bc, double *st)
{
	char why[256] = "";
	const struct tcu_api *gpu = dev_cuda(why, sizeof why);
	if (!gpu)
		return err_run(x->e, NULL, "the GPU is gone: %s", why);
	struct k_dist_opts o = pdist_opts(d);
	struct tcu_dist_job *job = gpu->dist_begin(&o, ac[0], bc[0], same, (size_t)d->gpu_stage, why, sizeof why);
	if (!job)
		return err_run(x->e, NULL, "GPU: %s", why);
	int64_t f0 = as[1], f1 = as[1] + ac[1];
	bool neg = d->missing == PD_MISSING_AUTO, i8[2];
	for (int k = 0; k < 2; k++)
		i8[k] = d->in[k]->dtype == DT_INT8 && neg;
	if (pdist_readable(d->in[0], i8[0]) && (same || pdist_readable(d->in[1], i8[1]))) {
		struct pdist_reader pr = { x, { d->in[0], d->in[1] }, { as[0], bs[0] }, { ac[0], bc[0] }, f0 };
		struct tcu_reader rd = { i8[0] ? K_DIST_I8 : K_DIST_F64, i8[1] ? K_DIST_I8 : K_DIST_F64, pdist_read, &pr };
		const double *w = pdist_weights(x, d, f0, f1 - f0);
		if (x->failed || gpu->dist_feed_read(job, f1 - f0, &rd, w, why, sizeof why) < 0)
			goto fail;
	} else {
		for (int64_t g = 0; g < d->groups.n; g++) {
			int64_t lo = d->groups.bounds[g], hi = d->groups.bounds[g + 1];
			if (hi <= f0 || lo >= f1)
				continue;
			int64_t gas[2] = { as[0], lo }, gac[2] = { ac[0], hi - lo };
			int64_t gbs[2] = { bs[0], lo }, gbc[2] = { bc[0], hi - lo };
			/* the last group's rows were packed by dist_feed: nothing in scratch is live */
			scratch_reset_all(x);
			struct k_dist_rows ra, rb;
			const double *w;
			pdist_load(x, d, same, gas, gac, gbs, gbc, &ra, &rb, &w);
			if (x->failed || gpu->dist_feed(job, &ra, &rb, hi - lo, w, why, sizeof why) < 0)
				goto fail;
		}
	}
	if (gpu->dist_end(job, st, why, sizeof why) < 0)
		return err_run(x->e, NULL, "GPU: %s", why);
	return 0;
fail:;
	char tmp[256];
	gpu->dist_end(job, NULL, tmp, sizeof tmp);
	return x->failed ? -1 : err_run(x->e, NULL, "GPU: %s", why);
}

/* A map task: the statistics of one tile over one group of features. */
static int run_pdist_map(struct ectx *x, const struct afam *f, int64_t rel, struct op_sink *out)
{
	const struct anode *d = f->a;
	int64_t i, j, as[2], ac[2], bs[2], bc[2];
	afam_pdist_tile(f, rel / f->leaves, &i, &j);
	afam_pdist_boxes(f, i, j, rel % f->leaves, as, ac, bs, bc);
	bool same = d->self_pair && i == j;
	struct k_dist_opts o = pdist_opts(d);
	int64_t n_pairs = ac[0] * bc[0];
	size_t n = (size_t)(n_pairs * k_dist_info_of(o.metric)->n_stats);
	double *st = xmalloc((n ? n : 1) * 8);
	k_dist_init(&o, st, n_pairs);
	if (d->device == PD_GPU) {
		if (pdist_map_gpu(x, d, same, as, ac, bs, bc, st) < 0) {
			free(st);
			return -1;
		}
	} else {
		struct k_dist_rows ra, rb;
		const double *w;
		pdist_load(x, d, same, as, ac, bs, bc, &ra, &rb, &w);
		if (x->failed) {
			free(st);
			return -1;
		}
		size_t ss = k_dist_scratch_size(&o, ac[0], bc[0], ac[1]);
		/* the kernels want 64-byte alignment; the scratch arena's blocks are malloc'ed */
		void *scr = ss ? (void *)(((uintptr_t)scratch_alloc(x, ss + 64) + 63) & ~(uintptr_t)63) : NULL;
		k_dist_map(&o, &ra, &rb, ac[1], w, same, st, scr);
	}
	return op_sink_give(out, st, n * 8, x->e);
}

/* Merges inputs [first, first + n) (partials of one tile) into a fresh buffer. */
static double *pdist_merge(struct ectx *x, const struct k_dist_opts *o, size_t first, size_t n, size_t *len)
{
	*len = x->in_len[first];
	double *st = xmalloc(*len ? *len : 1);
	memcpy(st, x->in_data[first], *len);
	int64_t n_pairs = (int64_t)(*len / 8) / k_dist_info_of(o->metric)->n_stats;
	for (size_t k = first + 1; k < first + n; k++) {
		if (x->in_len[k] != *len) {
			free(st);
			err_run(x->e, NULL, "internal error: distance partials of different sizes");
			return NULL;
		}
		k_dist_combine(o, st, x->in_data[k], n_pairs);
	}
	return st;
}

static int run_pdist_combine(struct ectx *x, const struct afam *f, struct op_sink *out)
{
	struct k_dist_opts o = pdist_opts(f->a);
	size_t len;
	double *st = x->n_in ? pdist_merge(x, &o, 0, x->n_in, &len) : NULL;
	if (!st)
		return x->n_in ? -1 : err_run(x->e, NULL, "internal error: a combine step without inputs");
	return op_sink_give(out, st, len, x->e);
}

/* The finished distances of tile (i, j) from its tree's top partials, inputs [first, first + n). */
static double *pdist_tile(struct ectx *x, const struct afam *f, int64_t i, int64_t j, size_t first, size_t n)
{
	const struct anode *d = f->a;
	struct k_dist_opts o = pdist_opts(d);
	size_t len;
	double *st = pdist_merge(x, &o, first, n, &len);
	if (!st)
		return NULL;
	int64_t ri = d->tiles[0].bounds[i + 1] - d->tiles[0].bounds[i];
	int64_t rj = d->tiles[1].bounds[j + 1] - d->tiles[1].bounds[j];
	double *dist = xmalloc((size_t)(ri * rj > 0 ? ri * rj : 1) * 8);
	k_dist_finalize(&o, st, ri * rj, dist);
	free(st);
	if (d->self_pair && i == j) /* squareform's diagonal, whatever the metric says of a row and itself */
		for (int64_t r = 0; r < ri; r++)
			dist[r * rj + r] = 0;
	return dist;
}

static int run_pdist_final(struct ectx *x, const struct afam *f, int64_t c, struct op_sink *out)
{
	const struct anode *d = f->a;
	int64_t nt = d->tiles[1].n;
	if (!d->condensed) {
		int64_t i = c / nt, j = c % nt;
		int64_t ri = d->tiles[0].bounds[i + 1] - d->tiles[0].bounds[i];
		int64_t rj = d->tiles[1].bounds[j + 1] - d->tiles[1].bounds[j];
		if (d->self_pair && i > j) { /* the transpose of tile (j, i) */
			if (x->n_in != 1 || x->in_len[0] != (size_t)(ri * rj) * 8)
				return err_run(x->e, NULL, "internal error: a mirrored distance tile of the wrong size");
			const double *src = x->in_data[0];
			double *t = xmalloc((size_t)(ri * rj > 0 ? ri * rj : 1) * 8);
			for (int64_t r = 0; r < ri; r++)
				for (int64_t s2 = 0; s2 < rj; s2++)
					t[r * rj + s2] = src[s2 * ri + r];
			return op_sink_give(out, t, (size_t)(ri * rj) * 8, x->e);
		}
		double *dist = x->n_in ? pdist_tile(x, f, i, j, 0, x->n_in) : NULL;
		if (!dist)
			return x->n_in ? -1 : err_run(x->e, NULL, "internal error: a distance tile without inputs");
		return op_sink_give(out, dist, (size_t)(ri * rj) * 8, x->e);
	}
	/* condensed: rows of tile c against every later column, scipy's order,
	 * from the finished tiles (c, c), (c, c + 1), ... */
	int64_t n = d->in[0]->shape[0], r0 = d->tiles[0].bounds[c], r1 = d->tiles[0].bounds[c + 1];
	int64_t base = r0 * n - r0 * (r0 + 1) / 2, len = r1 * n - r1 * (r1 + 1) / 2 - base;
	if (x->n_in != (size_t)(nt - c))
		return err_run(x->e, NULL, "internal error: a condensed distance chunk with %zu inputs", x->n_in);
	double *res = xmalloc((size_t)(len ? len : 1) * 8);
	for (int64_t j = c; j < nt; j++) {
		const double *dist = x->in_data[j - c];
		int64_t c0 = d->tiles[1].bounds[j], c1 = d->tiles[1].bounds[j + 1];
		if (x->in_len[j - c] != (size_t)((r1 - r0) * (c1 - c0)) * 8) {
			free(res);
			return err_run(x->e, NULL, "internal error: a finished distance tile of the wrong size");
		}
		for (int64_t r = r0; r < r1; r++) {
			int64_t s0 = c0 > r + 1 ? c0 : r + 1;
			if (s0 >= c1)
				continue;
			int64_t at = r * n - r * (r + 1) / 2 + (s0 - r - 1) - base;
			memcpy(res + at, dist + (r - r0) * (c1 - c0) + (s0 - c0), (size_t)(c1 - s0) * 8);
		}
	}
	return op_sink_give(out, res, (size_t)len * 8, x->e);
}

/* A condensed distance's finished tile: its tree's top partials merged and finalized. */
static int run_pdist_tile(struct ectx *x, const struct afam *f, int64_t tree, struct op_sink *out)
{
	int64_t i, j;
	afam_pdist_tile(f, tree, &i, &j);
	double *dist = x->n_in ? pdist_tile(x, f, i, j, 0, x->n_in) : NULL;
	if (!dist)
		return x->n_in ? -1 : err_run(x->e, NULL, "internal error: a distance tile without inputs");
	const struct anode *d = f->a;
	int64_t ri = d->tiles[0].bounds[i + 1] - d->tiles[0].bounds[i];
	int64_t rj = d->tiles[1].bounds[j + 1] - d->tiles[1].bounds[j];
	return op_sink_give(out, dist, (size_t)(ri * rj) * 8, x->e);
}

/* A chunk of a frame's rows (to_array()): the frame's chain over one partition, converted to float64. */
static int run_frame(struct ectx *x, const struct anode *a, int64_t c, struct op_sink *out)
{
	int64_t rows = a->chunks[0].bounds[c + 1] - a->chunks[0].bounds[c];
	int64_t n = rows * (a->ndim == 2 ? a->shape[1] : 1);
	if (n == 0)
		return op_sink_write(out, "", 0, x->e);
	double *buf = xmalloc((size_t)n * sizeof *buf);
	int rc = frame_array_run(a->frame, a->fpart[c], x->n_in, x->in_data, x->in_len, buf, x->e);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	return op_sink_give(out, buf, (size_t)n * sizeof *buf, x->e);
}

int array_run(const struct afam *f, int64_t rel, size_t n_in, const int64_t *in_tasks,
	      const void *const *in_data, const size_t *in_len, struct op_sink *out, struct err *e)
{
	struct ectx x;
	memset(&x, 0, sizeof x);
	x.f = f;
	x.n_in = n_in;
	x.in_tasks = in_tasks;
	x.in_data = in_data;
	x.in_len = in_len;
	x.e = e;
	int rc;
	if (f->a->kind == AN_CHOL)
		rc = run_chol(&x, f->a, out);
	else if (f->a->kind == AN_FRAME)
		rc = run_frame(&x, f->a, rel, out);
	else if (!f->tree)
		rc = run_chunk(&x, f->a, rel, out);
	else if (rel < f->n_map && f->matmul)
		rc = run_matmul_block(&x, f, rel, out);
	else if (rel < f->n_map && f->pdist)
		rc = run_pdist_map(&x, f, rel, out);
	else if (f->pdist && rel < f->n_map + f->n_comb)
		rc = run_pdist_combine(&x, f, out);
	else if (f->pdist && rel < f->n_map + f->n_comb + f->n_extra)
		rc = run_pdist_tile(&x, f, rel - f->n_map - f->n_comb, out);
	else if (f->pdist)
		rc = run_pdist_final(&x, f, rel - f->n_map - f->n_comb - f->n_extra, out);
	else if (rel < f->n_map)
		rc = run_map(&x, f, rel, out);
	else
		rc = run_combine(&x, f, rel >= f->n_map + f->n_comb, out);
	for (int i = 0; i < x.n_fds; i++) {
		if (x.fds[i].map)
			munmap((void *)x.fds[i].map, x.fds[i].map_len);
		close(x.fds[i].fd);
	}
	for (int i = 0; i < x.n_vcfs; i++)
		vcf_close(x.vcfs[i].r);
	scratch_release(&x);
	if (x.failed && rc == 0)
		rc = -1;
	return rc;
}
