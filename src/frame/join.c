/* SPDX-License-Identifier: MIT */
/*
 * frame/join: the hash index over a join's build side and the probe.
 *
 * The index is open addressing over distinct keys (a power of two, at most
 * half full): a slot holds the first build row of its key, and the build
 * rows of one key are chained in row order through next[], so a probe row
 * meets its matches in build order as pandas emits them. Probing runs in
 * two passes over the probe rows, the first finding each row's chain and
 * counting pairs, the second writing them, so the output is allocated once.
 */
#include "frame/join.h"
#include "util/hash.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JOIN_MAX_KEYS 64

struct join_index {
	int n_keys;
	const struct column *cols[JOIN_MAX_KEYS];
	enum col_type as[JOIN_MAX_KEYS];
	int64_t n;
	uint64_t *hash;    /* per build row */
	int64_t *next;     /* per build row: the next row of its key, -1 */
	int64_t *tail;     /* per build row heading a key: its last row */
	int64_t *slot;     /* cap: a key's first row, -1 empty */
	size_t mask;
};

int join_key_type(enum col_type a, enum col_type b)
{
	if (a == b)
		return (int)a;
	if ((a == COL_INT64 && b == COL_FLOAT64) || (a == COL_FLOAT64 && b == COL_INT64))
		return COL_FLOAT64;
	return -1;
}

static bool present(const struct column *c, int64_t r)
{
	return column_is_valid(c, r) && !(c->type == COL_FLOAT64 && isnan(c->f[r]));
}

static double as_double(const struct column *c, int64_t r)
{
	double v = c->type == COL_INT64 ? (double)c->i[r] : c->f[r];
	return v == 0 ? 0.0 : v; /* -0.0 and 0.0 are one key */
}

static const char *str_at(const struct column *c, int64_t r, size_t *n)
{
	*n = (size_t)(c->soff[r + 1] - c->soff[r]);
	return c->sdata + c->soff[r];
}

static uint64_t row_hash(const struct column *const *cols, const enum col_type *as, int n_keys, int64_t r)
{
	uint64_t h = HASH_K1; /* not K2: hash_combine() would multiply by zero */
	for (int k = 0; k < n_keys; k++) {
		const struct column *c = cols[k];
		uint64_t kh;
		if (!present(c, r)) {
			kh = 0x9e3779b97f4a7c15ull;
		} else {
			switch (as[k]) {
			case COL_INT64: kh = hash_word((uint64_t)c->i[r]); break;
			case COL_FLOAT64: {
				double v = as_double(c, r);
				uint64_t bits;
				memcpy(&bits, &v, 8);
				kh = hash_word(bits);
				break;
			}
			case COL_BOOL: kh = hash_word(c->b[r] != 0); break;
			case COL_DATE: kh = hash_word((uint32_t)c->d[r]); break;
			default: {
				size_t n;
				const char *p = str_at(c, r, &n);
				kh = hash_bytes(p, n);
				break;
			}
			}
		}
		h = hash_combine(h, kh);
	}
	return h;
}

static bool keys_equal(const struct join_index *ix, int64_t b, const struct column *const *pc, int64_t p)
{
	for (int k = 0; k < ix->n_keys; k++) {
		const struct column *x = ix->cols[k], *y = pc[k];
		bool hx = present(x, b), hy = present(y, p);
		if (!hx || !hy) {
			if (hx != hy)
				return false;
			continue;
		}
		switch (ix->as[k]) {
		case COL_INT64:
			if (x->i[b] != y->i[p])
				return false;
			break;
		case COL_FLOAT64:
			if (as_double(x, b) != as_double(y, p))
				return false;
			break;
		case COL_BOOL:
			if ((x->b[b] != 0) != (y->b[p] != 0))
				return false;
			break;
		case COL_DATE:
			if (x->d[b] != y->d[p])
				return false;
			break;
		default: {
			size_t nx, ny;
			const char *sx = str_at(x, b, &nx), *sy = str_at(y, p, &ny);
			if (nx != ny || memcmp(sx, sy, nx))
				return false;
			break;
		}
		}
	}
	return true;
}

/* The first build row whose key equals probe row @p of @pc (hash @h), or -1. */
static int64_t lookup(const struct join_index *ix, const struct column *const *pc, int64_t p, uint64_t h)
{
	for (size_t s = h & ix->mask;; s = (s + 1) & ix->mask) {
		int64_t head = ix->slot[s];
		if (head < 0)
			return -1;
		if (ix->hash[head] == h && keys_equal(ix, head, pc, p))
			return head;
	}
}

struct join_index *join_index_new(const struct table *build, int n_keys, const int *keys, const enum col_type *as)
{
	struct join_index *ix = xcalloc(1, sizeof *ix);
	ix->n_keys = n_keys < JOIN_MAX_KEYS ? n_keys : JOIN_MAX_KEYS;
	for (int k = 0; k < ix->n_keys; k++) {
		ix->cols[k] = &build->cols[keys[k]];
		ix->as[k] = as[k];
	}
	int64_t n = build->n_rows;
	ix->n = n;
	size_t cap = 16;
	while (cap < 2 * (size_t)n)
		cap *= 2;
	ix->mask = cap - 1;
	ix->slot = xmalloc(cap * sizeof *ix->slot);
	memset(ix->slot, 0xff, cap * sizeof *ix->slot);
	size_t nn = (size_t)(n ? n : 1);
	ix->hash = xmalloc(nn * sizeof *ix->hash);
	ix->next = xmalloc(nn * sizeof *ix->next);
	ix->tail = xmalloc(nn * sizeof *ix->tail);
	for (int64_t r = 0; r < n; r++) {
		uint64_t h = row_hash(ix->cols, ix->as, ix->n_keys, r);
		ix->hash[r] = h;
		ix->next[r] = -1;
		size_t s = h & ix->mask;
		for (;; s = (s + 1) & ix->mask) {
			int64_t head = ix->slot[s];
			if (head < 0) {
				ix->slot[s] = r;
				ix->tail[r] = r;
				break;
			}
			if (ix->hash[head] == h && keys_equal(ix, head, ix->cols, r)) {
				ix->next[ix->tail[head]] = r;
				ix->tail[head] = r;
				break;
			}
		}
	}
	return ix;
}

void join_index_free(struct join_index *ix)
{
	if (!ix)
		return;
	free(ix->slot);
	free(ix->hash);
	free(ix->next);
	free(ix->tail);
	free(ix);
}

int64_t join_probe(struct arena *a, const struct join_index *ix, const struct table *probe, const int *keys,
		   bool keep_unmatched, uint8_t *matched, int64_t **pi, int64_t **bi)
{
	const struct column *pc[JOIN_MAX_KEYS];
	for (int k = 0; k < ix->n_keys; k++)
		pc[k] = &probe->cols[keys[k]];
	int64_t n = probe->n_rows, total = 0;
	bool identity = true; /* one pair per probe row, in order: the lookup-table case */
	int64_t *first = xmalloc((size_t)(n ? n : 1) * sizeof *first);
	for (int64_t r = 0; r < n; r++) {
		int64_t head = ix->n ? lookup(ix, pc, r, row_hash(pc, ix->as, ix->n_keys, r)) : -1;
		first[r] = head;
		if (head < 0) {
			total += keep_unmatched;
			identity &= keep_unmatched;
			continue;
		}
		int64_t m = 0;
		for (int64_t b = head; b >= 0; b = ix->next[b])
			m++;
		total += m;
		identity &= m == 1;
	}
	int64_t *p = identity ? NULL : arena_alloc(a, (size_t)(total ? total : 1) * sizeof *p);
	int64_t *q = arena_alloc(a, (size_t)(total ? total : 1) * sizeof *q);
	int64_t j = 0;
	for (int64_t r = 0; r < n; r++) {
		if (first[r] < 0) {
			if (keep_unmatched) {
				if (p)
					p[j] = r;
				q[j++] = -1;
			}
			continue;
		}
		for (int64_t b = first[r]; b >= 0; b = ix->next[b]) {
			if (p)
				p[j] = r;
			q[j++] = b;
			if (matched)
				matched[b] = 1;
		}
	}
	free(first);
	*pi = p;
	*bi = q;
	return total;
}

/* The (column, row) that output row @r of a join_take() reads: NULL for a missing value. */
static inline const struct column *source_at(const struct column *s, const int64_t *idx, const struct column *z,
					     const int64_t *alt_idx, int64_t r, int64_t *row)
{
	if (idx[r] >= 0) {
		*row = idx[r];
		return s;
	}
	if (z && alt_idx[r] >= 0) {
		*row = alt_idx[r];
		return z;
	}
	return NULL;
}

void join_take(struct arena *a, const struct table *t, int col, const int64_t *idx, int64_t n, enum col_type type,
	       const struct table *alt, int alt_col, const int64_t *alt_idx, struct column *out)
{
	const struct column *s = &t->cols[col], *z = alt ? &alt->cols[alt_col] : NULL;
	size_t nn = (size_t)(n ? n : 1);
	memset(out, 0, sizeof *out);
	out->type = type;
	out->n = n;
	uint8_t *valid = arena_alloc(a, nn);
	bool any_missing = false;
	int64_t q;
	for (int64_t r = 0; r < n; r++) {
		const struct column *c = source_at(s, idx, z, alt_idx, r, &q);
		valid[r] = c && column_is_valid(c, q);
		any_missing |= !valid[r];
	}
	out->valid = any_missing ? valid : NULL;
	bool values = column_has_values(s) && (!z || column_has_values(z));
#define EACH_VALUE(stmt)                                                        \
	for (int64_t r = 0; r < n; r++) {                                        \
		const struct column *c = valid[r] ? source_at(s, idx, z, alt_idx, r, &q) : NULL; \
		stmt;                                                            \
	}
	if (values) {
		switch (type) {
		case COL_INT64:
			out->i = arena_alloc(a, nn * 8);
			EACH_VALUE(out->i[r] = c ? c->i[q] : 0)
			break;
		case COL_FLOAT64:
			out->f = arena_alloc(a, nn * 8);
			EACH_VALUE(out->f[r] = !c ? NAN : c->type == COL_INT64 ? (double)c->i[q] : c->f[q])
			break;
		case COL_BOOL:
			out->b = arena_alloc(a, nn);
			EACH_VALUE(out->b[r] = c ? c->b[q] : 0)
			break;
		case COL_DATE:
			out->d = arena_alloc(a, nn * 4);
			EACH_VALUE(out->d[r] = c ? c->d[q] : 0)
			break;
		default: {
			uint64_t total = 0;
			size_t len;
			EACH_VALUE(if (c) { str_at(c, q, &len); total += len; })
			char *data = arena_alloc(a, (size_t)total + 1);
			out->soff = arena_alloc(a, (nn + 1) * 8);
			uint64_t o = 0;
			EACH_VALUE(out->soff[r] = o; if (c) {
				const char *p = str_at(c, q, &len);
				memcpy(data + o, p, len);
				o += len;
			})
			out->soff[n] = o;
			out->sdata = data;
			break;
		}
		}
	}
#undef EACH_VALUE
	/* raw text survives only from one side of an unchanged type; a value computed or coalesced is written
	 * from its value */
	if (s->rbase && !z && type == s->type) {
		uint32_t *rs = arena_alloc(a, nn * 4), *rl = arena_alloc(a, nn * 4);
		for (int64_t r = 0; r < n; r++) {
			rs[r] = idx[r] >= 0 ? s->rstart[idx[r]] : 0;
			rl[r] = idx[r] >= 0 ? column_raw_len(s, idx[r]) : 0;
		}
		out->rbase = s->rbase;
		out->rstart = rs;
		out->rlen = rl;
	}
}
