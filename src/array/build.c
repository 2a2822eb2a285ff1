/* SPDX-License-Identifier: MIT */
/*
 * build: expression trees -> array nodes. Evaluates an expression
 * symbolically: Python literals and tuples are folded here, names are other
 * nodes' arrays, calls are looked up in the op registry and bound to their
 * parameters, and every array result gets its dtype, shape and chunk grid,
 * so that bad shapes, axes, dtypes and keywords are reported with a column
 * inside the expression before anything runs.
 */
#include "array/array.h"
#include "dev/cuda.h"
#include "distance.h"
#include "ops/op.h"
#include "util/text.h"
#include "util/xalloc.h"

#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum vkind { V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_TUPLE, V_ARRAY, V_MODULE };

/* A value while an expression is evaluated symbolically. */
struct val {
	enum vkind k;
	uint32_t off;     /* where it was written, for errors */
	bool b;
	int64_t i;
	double f;
	const char *s;    /* V_STR; V_MODULE: its name */
	size_t n;         /* V_TUPLE */
	struct val *items;
	struct anode *a;  /* V_ARRAY */
};

struct ctx {
	struct abuild *b;
	const struct doc *d;
	const char *text;
};

static struct loc at(struct ctx *c, uint32_t off)
{
	return doc_loc_at(c->d, off);
}

static struct loc where_cb(void *arg, size_t off)
{
	return at(arg, (uint32_t)off);
}

/* Reports an error at byte @off of the expression. @return false, to be returned. */
static bool fail(struct ctx *c, uint32_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail(struct ctx *c, uint32_t off, const char *fmt, ...)
{
	if (err_set(c->b->e))
		return false;
	va_list ap;
	va_start(ap, fmt);
	char msg[sizeof c->b->e->msg];
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	err_at(c->b->e, at(c, off), "%s", msg);
	return false;
}
#define FAIL fail

static const char *vkind_name(enum vkind k)
{
	static const char *names[] = { "None", "a boolean", "an integer", "a float", "a string",
				       "a tuple", "an array", "a module" };
	return names[k];
}

static struct anode *new_node(struct ctx *c, enum anode_kind kind, uint32_t off)
{
	struct anode *n = arena_alloc(c->b->arena, sizeof *n);
	n->kind = kind;
	n->loc = at(c, off);
	n->id = c->b->next_id++;
	n->owner = c->b->owner;
	n->label = kind == AN_REDUCE ? "reduce" : kind == AN_GEN ? "gen" : kind == AN_NPY ? "load" : "ew";
	return n;
}

/* ---- chunk grids ---- */

static const int64_t *even_bounds(struct arena *a, int64_t extent, int64_t size, int64_t *n_out)
{
	if (size <= 0 || size > extent)
		size = extent > 0 ? extent : 1;
	int64_t n = extent ? (extent + size - 1) / size : 1;
	int64_t *b = arena_alloc(a, (size_t)(n + 1) * sizeof *b);
	for (int64_t k = 0; k < n; k++)
		b[k] = k * size;
	b[n] = extent;
	*n_out = n;
	return b;
}

/* "auto": whole trailing axes while they fit @target bytes, the rest split evenly. */
static void auto_chunks(struct ctx *c, struct anode *n, int64_t *size)
{
	int64_t budget = (int64_t)(c->b->chunk_bytes / dtype_size(n->dtype));
	if (budget < 1)
		budget = 1;
	for (int k = n->ndim - 1; k >= 0; k--) {
		int64_t ext = n->shape[k] ? n->shape[k] : 1;
		if (ext <= budget) {
			size[k] = ext;
			budget /= ext;
		} else {
			/* Equal pieces no larger than the budget. */
			int64_t pieces = (ext + budget - 1) / budget;
			size[k] = (ext + pieces - 1) / pieces;
			budget = 1;
		}
	}
}

/* Sets @n's grid from a chunks= value (or "auto" when @v is NULL / None). */
static bool set_chunks(struct ctx *c, struct anode *n, const struct val *v)
{
	int64_t size[AR_MAX_DIMS];
	auto_chunks(c, n, size);
	if (v && v->k == V_INT && n->ndim >= 1) {
		for (int k = 0; k < n->ndim; k++)
			size[k] = v->i == -1 ? n->shape[k] : v->i;
		if (v->i == 0 || v->i < -1)
			return FAIL(c, v->off, "chunks must be positive (or -1 for a whole axis), not %" PRId64, v->i);
	} else if (v && v->k == V_TUPLE) {
		if ((int)v->n != n->ndim)
			return FAIL(c, v->off, "chunks has %zu entries for an array of %d dimension%s", v->n, n->ndim,
				    n->ndim == 1 ? "" : "s");
		for (int k = 0; k < n->ndim; k++) {
			const struct val *x = &v->items[k];
			if (x->k == V_STR && !strcmp(x->s, "auto"))
				continue;
			if (x->k == V_NONE || (x->k == V_INT && x->i == -1)) {
				size[k] = n->shape[k];
				continue;
			}
			if (x->k != V_INT || x->i <= 0)
				return FAIL(c, x->off, "chunks entries must be positive integers, -1 or \"auto\"");
			size[k] = x->i;
		}
	} else if (v && !(v->k == V_NONE || (v->k == V_STR && !strcmp(v->s, "auto")))) {
		return FAIL(c, v->off, "chunks must be \"auto\", an integer or a tuple, not %s", vkind_name(v->k));
	}
	for (int k = 0; k < n->ndim; k++)
		n->chunks[k].bounds = even_bounds(c->b->arena, n->shape[k], size[k], &n->chunks[k].n);
	return true;
}

/* ---- values ---- */

static bool to_int(struct ctx *c, const struct val *v, const char *what, int64_t *out)
{
	if (v->k == V_INT || v->k == V_BOOL) {
		*out = v->k == V_INT ? v->i : v->b;
		return true;
	}
	return FAIL(c, v->off, "%s must be an integer, not %s", what, vkind_name(v->k));
}

static bool to_double(struct ctx *c, const struct val *v, const char *what, double *out)
{
	if (v->k == V_INT)
		*out = (double)v->i;
	else if (v->k == V_FLOAT)
		*out = v->f;
	else if (v->k == V_BOOL)
		*out = v->b;
	else
		return FAIL(c, v->off, "%s must be a number, not %s", what, vkind_name(v->k));
	return true;
}

static bool to_bool(struct ctx *c, const struct val *v, const char *what, bool *out)
{
	if (v->k == V_BOOL || v->k == V_INT) {
		*out = v->k == V_BOOL ? v->b : v->i != 0;
		return true;
	}
	return FAIL(c, v->off, "%s must be True or False, not %s", what, vkind_name(v->k));
}

static bool to_shape(struct ctx *c, const struct val *v, int *ndim, int64_t *shape)
{
	if (v->k == V_INT) {
		if (v->i < 0)
			return FAIL(c, v->off, "negative dimension %" PRId64, v->i);
		*ndim = 1;
		shape[0] = v->i;
		return true;
	}
	if (v->k != V_TUPLE)
		return FAIL(c, v->off, "a shape must be an integer or a tuple of integers, not %s", vkind_name(v->k));
	if (v->n > AR_MAX_DIMS)
		return FAIL(c, v->off, "at most %d dimensions", AR_MAX_DIMS);
	*ndim = (int)v->n;
	for (size_t k = 0; k < v->n; k++) {
		if (v->items[k].k != V_INT)
			return FAIL(c, v->items[k].off, "a shape must be a tuple of integers");
		if (v->items[k].i < 0)
			return FAIL(c, v->items[k].off, "negative dimension %" PRId64, v->items[k].i);
		shape[k] = v->items[k].i;
	}
	return true;
}

static bool to_dtype(struct ctx *c, const struct val *v, enum dtype *out)
{
	if (v->k != V_STR)
		return FAIL(c, v->off, "a dtype is written as a string such as \"float32\", not %s", vkind_name(v->k));
	int t = dtype_parse(v->s);
	if (t < 0)
		return FAIL(c, v->off, "unknown dtype '%s' (tessera has bool, int8, int16, int32, int64, uint8, float32, float64)",
			    v->s);
	*out = (enum dtype)t;
	return true;
}

/* Sets @out to array @a (NULL: a failure already reported). @return a != NULL. */
static bool ret_array(struct val *out, uint32_t off, struct anode *a)
{
	memset(out, 0, sizeof *out);
	out->k = V_ARRAY;
	out->off = off;
	out->a = a;
	return a != NULL;
}

/* A Python scalar as a weak 0-d array. */
static struct anode *scalar_node(struct ctx *c, const struct val *v)
{
	struct anode *n = new_node(c, AN_SCALAR, v->off);
	n->weak = true;
	if (v->k == V_FLOAT) {
		n->dtype = DT_FLOAT64;
		n->f = v->f;
		n->i = (int64_t)v->f;
	} else if (v->k == V_BOOL) {
		n->dtype = DT_BOOL;
		n->i = v->b;
		n->f = v->b;
	} else {
		n->dtype = DT_INT64;
		n->i = v->i;
		n->f = (double)v->i;
	}
	return n;
}

static bool as_array(struct ctx *c, const struct val *v, struct anode **out, const char *what)
{
	if (v->k == V_ARRAY) {
		*out = v->a;
		return true;
	}
	if (v->k == V_INT || v->k == V_FLOAT || v->k == V_BOOL) {
		*out = scalar_node(c, v);
		return true;
	}
	return FAIL(c, v->off, "%s must be an array or a number, not %s", what, vkind_name(v->k));
}

/* ---- elementwise ---- */

static void format_shape(const struct anode *n, char *out, size_t len)
{
	size_t p = (size_t)snprintf(out, len, "(");
	for (int k = 0; k < n->ndim && p < len; k++)
		p += (size_t)snprintf(out + p, len - p, "%s%" PRId64, k ? "," : "", n->shape[k]);
	if (n->ndim == 1 && p < len)
		p += (size_t)snprintf(out + p, len - p, ",");
	if (p < len)
		snprintf(out + p, len - p, ")");
}

enum kind_class { KC_BOOL, KC_INT, KC_FLOAT };

static enum kind_class kclass(enum dtype t)
{
	return t == DT_BOOL ? KC_BOOL : dtype_is_float(t) ? KC_FLOAT : KC_INT;
}

/* numpy's result type with weak (literal) scalars taking the other side's type within their kind. */
static enum dtype result_type2(const struct anode *x, const struct anode *y)
{
	if (x->weak && !y->weak)
		return kclass(x->dtype) <= kclass(y->dtype) ? y->dtype
			: (kclass(x->dtype) == KC_FLOAT ? DT_FLOAT64 : DT_INT64);
	if (y->weak && !x->weak)
		return result_type2(y, x);
	return dtype_promote(x->dtype, y->dtype);
}

static bool broadcast(struct ctx *c, struct anode *r, struct anode **in, int n_in, uint32_t off)
{
	int nd = 0;
	for (int i = 0; i < n_in; i++)
		if (in[i]->ndim > nd)
			nd = in[i]->ndim;
	r->ndim = nd;
	for (int k = 0; k < nd; k++) {
		int64_t ext = 1;
		const struct anode *from = NULL; /* whose chunking this axis takes */
		for (int i = 0; i < n_in; i++) {
			int kk = k - (nd - in[i]->ndim);
			if (kk < 0)
				continue;
			int64_t e = in[i]->shape[kk];
			if (e == ext || e == 1) {
				if (!from && e == ext && ext != 1)
					from = in[i];
				continue;
			}
			if (ext != 1) {
				char s1[128], s2[128], s3[128] = "";
				format_shape(in[0], s1, sizeof s1);
				format_shape(in[1], s2, sizeof s2);
				if (n_in > 2)
					format_shape(in[2], s3, sizeof s3);
				return FAIL(c, off, "operands could not be broadcast together with shapes %s %s%s%s", s1, s2,
					    n_in > 2 ? " " : "", s3);
			}
			ext = e;
			from = in[i];
		}
		r->shape[k] = ext;
		if (from) {
			int kk = k - (nd - from->ndim);
			r->chunks[k] = from->chunks[kk];
		} else {
			int64_t nn;
			r->chunks[k].bounds = even_bounds(c->b->arena, ext, ext, &nn);
			r->chunks[k].n = nn;
		}
	}
	return true;
}

/* The result dtype of elementwise @op over inputs of these types; -1 with an error for a bad dtype. */
static int ew_dtype(struct ctx *c, enum ew_op op, struct anode **in, int n_in, uint32_t off, const char *opname)
{
	enum dtype t = in[0]->dtype;
	if (n_in >= 2)
		t = result_type2(in[0], in[1]);
	switch (op) {
	case EW_ADD: case EW_SUB: case EW_MUL: case EW_FLOORDIV: case EW_MOD: case EW_MAXIMUM: case EW_MINIMUM:
		if (op == EW_SUB && t == DT_BOOL)
			return fail(c, off, "'-' is not defined on booleans (use '^' or '~')") ? 0 : -1;
		return (int)t;
	case EW_POW:
		return (int)(t == DT_BOOL ? DT_INT8 : t);
	case EW_DIV: case EW_ARCTAN2:
		if (!dtype_is_float(t))
			t = DT_FLOAT64;
		return (int)t;
	case EW_LT: case EW_LE: case EW_GT: case EW_GE: case EW_EQ: case EW_NE: case EW_ISNAN: case EW_ISFINITE:
		return DT_BOOL;
	case EW_AND: case EW_OR: case EW_XOR: case EW_INVERT:
		for (int i = 0; i < n_in; i++)
			if (dtype_is_float(in[i]->dtype))
				return fail(c, off, "'%s' needs booleans or integers, not %s", opname, dtype_name(in[i]->dtype)) ? 0 : -1;
		return (int)t;
	case EW_NEG:
		if (t == DT_BOOL)
			return fail(c, off, "unary '-' is not defined on booleans (use '~')") ? 0 : -1;
		return (int)t;
	case EW_POS: case EW_ABS:
		return (int)t;
	case EW_FLOOR: case EW_CEIL: case EW_ROUND:
		return (int)(dtype_is_float(t) ? t : (op == EW_ROUND ? t : DT_FLOAT64));
	case EW_WHERE:
		return (int)result_type2(in[1], in[2]);
	case EW_CLIP: {
		enum dtype u = result_type2(in[0], in[1]);
		struct anode tmp = *in[0];
		tmp.dtype = u;
		tmp.weak = in[0]->weak && in[1]->weak;
		return (int)result_type2(&tmp, in[2]);
	}
	default: /* the float functions: ints become floats as in numpy (no float16 here: float32) */
		if (dtype_is_float(t))
			return (int)t;
		return (int)(t == DT_BOOL || t == DT_INT8 || t == DT_UINT8 || t == DT_INT16 ? DT_FLOAT32 : DT_FLOAT64);
	}
}

static bool is_const(const struct anode *a)
{
	return a->kind == AN_SCALAR || (a->kind == AN_GEN && a->gen == GEN_FULL);
}

/* Turns @r, whose inputs are all constants, into one constant of its shape:
 * ones((n, m)) * 2 is never computed element by element. */
static void fold_constant(struct anode *r)
{
	double f;
	int64_t i;
	if (array_eval_constant(r, &f, &i) < 0)
		return;
	for (int k = 0; k < r->n_in; k++)
		r->in[k]->n_users--;
	r->n_in = 0;
	r->kind = AN_GEN;
	r->gen = GEN_FULL;
	r->g[0] = f;
	r->gi[0] = i;
}

static struct anode *make_ew(struct ctx *c, enum ew_op op, struct anode **in, int n_in, uint32_t off,
			     const char *opname)
{
	int t = ew_dtype(c, op, in, n_in, off, opname);
	if (t < 0)
		return NULL;
	struct anode *r = new_node(c, AN_EW, off);
	r->ew = op;
	r->dtype = (enum dtype)t;
	r->n_in = n_in;
	bool all_weak = true;
	for (int i = 0; i < n_in; i++) {
		r->in[i] = in[i];
		in[i]->n_users++;
		all_weak &= in[i]->weak;
	}
	r->weak = all_weak && op != EW_WHERE;
	if (!broadcast(c, r, in, n_in, off))
		return NULL;
	bool all_const = true;
	for (int i = 0; i < n_in; i++)
		all_const &= is_const(in[i]);
	if (all_const && r->ndim > 0)
		fold_constant(r);
	return r;
}

/* ---- reshape ---- */

static struct anode *make_reshape(struct ctx *c, struct anode *in, int nd, const int64_t *shape, uint32_t off)
{
	struct anode *r = new_node(c, AN_RESHAPE, off);
	r->label = "reshape";
	r->dtype = in->dtype;
	r->weak = in->weak;
	r->n_in = 1;
	r->in[0] = in;
	in->n_users++;
	r->ndim = nd;
	memcpy(r->shape, shape, (size_t)nd * sizeof *shape);
	/* chunks of about the input's chunk size: trailing axes whole while they fit */
	int64_t target = 1;
	for (int k = 0; k < in->ndim; k++)
		target *= in->chunks[k].n ? in->chunks[k].bounds[1] - in->chunks[k].bounds[0] : 1;
	if (target < 1)
		target = 1;
	int64_t budget = target;
	for (int k = nd - 1; k >= 0; k--) {
		int64_t ext = shape[k] ? shape[k] : 1, size, nn;
		if (ext <= budget) {
			size = ext;
			budget /= ext;
		} else {
			size = budget;
			budget = 1;
		}
		r->chunks[k].bounds = even_bounds(c->b->arena, shape[k], size, &nn);
		r->chunks[k].n = nn;
	}
	if (in->kind == AN_GEN && in->gen == GEN_FULL)
		fold_constant(r);
	return r;
}

/* ---- matrix products ---- */

static struct anode *make_matmul(struct ctx *c, struct anode *a, struct anode *b, uint32_t off)
{
	if (a->ndim == 1 || b->ndim == 1) {
		/* numpy's rule: a 1-d operand is a row (left) or a column (right), removed afterwards */
		int64_t s[2];
		struct anode *a2 = a, *b2 = b;
		if (a->ndim == 1) {
			s[0] = 1, s[1] = a->shape[0];
			a2 = make_reshape(c, a, 2, s, off);
		}
		if (b->ndim == 1) {
			s[0] = b->shape[0], s[1] = 1;
			b2 = make_reshape(c, b, 2, s, off);
		}
		struct anode *m = make_matmul(c, a2, b2, off);
		if (!m)
			return NULL;
		/* drop the row axis a 1-d left operand became, and the column axis of a 1-d right one */
		int64_t rs[AR_MAX_DIMS];
		int nd = 0;
		for (int d = 0; d < m->ndim; d++)
			if (!(a->ndim == 1 && d == m->ndim - 2) && !(b->ndim == 1 && d == m->ndim - 1))
				rs[nd++] = m->shape[d];
		return make_reshape(c, m, nd, rs, off);
	}
	if (a->ndim != b->ndim) {
		/* numpy broadcasts the batch axes: give the shorter one leading axes of 1 */
		struct anode **low = a->ndim < b->ndim ? &a : &b;
		int want = a->ndim > b->ndim ? a->ndim : b->ndim;
		int64_t s2[AR_MAX_DIMS];
		int add = want - (*low)->ndim;
		for (int d = 0; d < want; d++)
			s2[d] = d < add ? 1 : (*low)->shape[d - add];
		*low = make_reshape(c, *low, want, s2, off);
	}
	int nd = a->ndim;
	if (a->shape[nd - 1] != b->shape[nd - 2]) {
		char s1[64], s2[64];
		format_shape(a, s1, sizeof s1);
		format_shape(b, s2, sizeof s2);
		fail(c, off, "shapes %s and %s are not aligned: %" PRId64 " (dim %d) != %" PRId64 " (dim %d)", s1, s2,
		     a->shape[nd - 1], nd - 1, b->shape[nd - 2], nd - 2);
		return NULL;
	}
	for (int d = 0; d < nd - 2; d++)
		if (a->shape[d] != b->shape[d] && a->shape[d] != 1 && b->shape[d] != 1) {
			char s1[64], s2[64];
			format_shape(a, s1, sizeof s1);
			format_shape(b, s2, sizeof s2);
			fail(c, off, "matmul: the batch axes of %s and %s do not broadcast", s1, s2);
			return NULL;
		}
	struct anode *r = new_node(c, AN_MATMUL, off);
	r->label = "matmul";
	r->dtype = result_type2(a, b);
	if (r->dtype == DT_BOOL)
		r->dtype = DT_BOOL;
	r->n_in = 2;
	r->in[0] = a;
	r->in[1] = b;
	a->n_users++;
	b->n_users++;
	r->ndim = nd;
	for (int d = 0; d < nd - 2; d++) {
		const struct anode *from = a->shape[d] == 1 ? b : a;
		r->shape[d] = from->shape[d];
		r->chunks[d] = from->chunks[d];
	}
	r->shape[nd - 2] = a->shape[nd - 2];
	r->shape[nd - 1] = b->shape[nd - 1];
	r->chunks[nd - 2] = a->chunks[nd - 2];
	r->chunks[nd - 1] = b->chunks[nd - 1];
	return r;
}

/* ---- the expression walk ---- */

static bool eval(struct ctx *c, const struct expr *x, struct val *out);
static struct anode *transposed(struct ctx *c, struct anode *in, const int *perm, uint32_t off);
static struct anode *new_view(struct ctx *c, struct anode *in, uint32_t off);
static void fold_constant(struct anode *r);
static void view_chunks(struct ctx *c, struct anode *v, int k, int64_t len);

static const enum ew_op binop_ew[] = {
	[OPX_ADD] = EW_ADD, [OPX_SUB] = EW_SUB, [OPX_MUL] = EW_MUL, [OPX_DIV] = EW_DIV,
	[OPX_FLOORDIV] = EW_FLOORDIV, [OPX_MOD] = EW_MOD, [OPX_POW] = EW_POW,
	[OPX_LT] = EW_LT, [OPX_LE] = EW_LE, [OPX_GT] = EW_GT, [OPX_GE] = EW_GE, [OPX_EQ] = EW_EQ,
	[OPX_NE] = EW_NE, [OPX_AND] = EW_AND, [OPX_OR] = EW_OR, [OPX_XOR] = EW_XOR,
	[OPX_NEG] = EW_NEG, [OPX_POS] = EW_POS, [OPX_INVERT] = EW_INVERT,
};

static int64_t py_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Folds an operation on two Python numbers, as Python would. */
static bool fold_binary(struct ctx *c, enum expr_op op, const struct val *x, const struct val *y, struct val *out,
			uint32_t off)
{
	bool fl = x->k == V_FLOAT || y->k == V_FLOAT;
	double a, b;
	to_double(c, x, "", &a);
	to_double(c, y, "", &b);
	int64_t ia = x->k == V_INT ? x->i : x->b, ib = y->k == V_INT ? y->i : y->b;
	memset(out, 0, sizeof *out);
	out->off = off;
	switch (op) {
	case OPX_LT: case OPX_LE: case OPX_GT: case OPX_GE: case OPX_EQ: case OPX_NE:
		out->k = V_BOOL;
		out->b = op == OPX_LT ? a < b : op == OPX_LE ? a <= b : op == OPX_GT ? a > b : op == OPX_GE ? a >= b
			: op == OPX_EQ ? a == b : a != b;
		return true;
	case OPX_DIV:
		if (b == 0)
			return FAIL(c, off, "division by zero");
		out->k = V_FLOAT;
		out->f = a / b;
		return true;
	default:
		break;
	}
	if (fl) {
		out->k = V_FLOAT;
		switch (op) {
		case OPX_ADD: out->f = a + b; return true;
		case OPX_SUB: out->f = a - b; return true;
		case OPX_MUL: out->f = a * b; return true;
		case OPX_POW: out->f = pow(a, b); return true;
		case OPX_FLOORDIV: case OPX_MOD:
			if (b == 0)
				return FAIL(c, off, "division by zero");
			out->f = op == OPX_FLOORDIV ? floor(a / b) : a - floor(a / b) * b;
			return true;
		default:
			return FAIL(c, off, "'%s' needs integers or booleans", expr_op_name(op));
		}
	}
	out->k = V_INT;
	uint64_t ua = (uint64_t)ia, ub = (uint64_t)ib;
	switch (op) {
	case OPX_ADD: out->i = (int64_t)(ua + ub); return true;
	case OPX_SUB: out->i = (int64_t)(ua - ub); return true;
	case OPX_MUL: out->i = (int64_t)(ua * ub); return true;
	case OPX_FLOORDIV: case OPX_MOD:
		if (ib == 0)
			return FAIL(c, off, "division by zero");
		out->i = op == OPX_FLOORDIV ? py_floordiv(ia, ib) : ia - py_floordiv(ia, ib) * ib;
		return true;
	case OPX_POW:
		if (ib < 0) {
			out->k = V_FLOAT;
			out->f = pow(a, b);
			return true;
		}
		out->i = 1;
		for (int64_t k = 0; k < ib; k++)
			out->i = (int64_t)((uint64_t)out->i * ua);
		return true;
	case OPX_AND: out->i = ia & ib; break;
	case OPX_OR: out->i = ia | ib; break;
	case OPX_XOR: out->i = ia ^ ib; break;
	default:
		return FAIL(c, off, "'%s' is not defined on numbers", expr_op_name(op));
	}
	if (x->k == V_BOOL && y->k == V_BOOL) {
		out->k = V_BOOL;
		out->b = out->i != 0;
	}
	return true;
}

static bool is_number(const struct val *v)
{
	return v->k == V_INT || v->k == V_FLOAT || v->k == V_BOOL;
}

/* Where a binary node's operator is written: after its left operand and any ')' closing it. */
static uint32_t op_offset(struct ctx *c, const struct expr *x)
{
	size_t i = (size_t)x->a->off + x->a->len, n = strlen(c->text);
	while (i < n && (c->text[i] == ' ' || c->text[i] == ')' || c->text[i] == '\t' || c->text[i] == '\n'))
		i++;
	return i < n ? (uint32_t)i : x->off;
}

static bool eval_binary(struct ctx *c, const struct expr *x, struct val *out)
{
	struct val l, r;
	if (!eval(c, x->a, &l) || !eval(c, x->b2, &r))
		return false;
	uint32_t at_op = op_offset(c, x);
	if (x->op == OPX_MATMUL) {
		struct anode *m[2];
		if (!as_array(c, &l, &m[0], "an operand") || !as_array(c, &r, &m[1], "an operand"))
			return false;
		return ret_array(out, x->off, make_matmul(c, m[0], m[1], at_op));
	}
	if (is_number(&l) && is_number(&r))
		return fold_binary(c, x->op, &l, &r, out, at_op);
	struct anode *in[2];
	if (!as_array(c, &l, &in[0], "an operand") || !as_array(c, &r, &in[1], "an operand"))
		return false;
	return ret_array(out, x->off, make_ew(c, binop_ew[x->op], in, 2, at_op, expr_op_name(x->op)));
}

static bool eval_unary(struct ctx *c, const struct expr *x, struct val *out)
{
	struct val v;
	if (!eval(c, x->a, &v))
		return false;
	if (is_number(&v)) {
		*out = v;
		out->off = x->off;
		if (x->op == OPX_NEG) {
			if (v.k == V_FLOAT)
				out->f = -v.f;
			else
				out->k = V_INT, out->i = (int64_t)(0 - (uint64_t)(v.k == V_INT ? v.i : v.b));
		} else if (x->op == OPX_INVERT) {
			if (v.k == V_FLOAT)
				return FAIL(c, x->off, "'~' needs an integer or a boolean");
			if (v.k == V_BOOL)
				out->b = !v.b;
			else
				out->i = ~v.i;
		}
		return true;
	}
	struct anode *in;
	if (!as_array(c, &v, &in, "the operand"))
		return false;
	return ret_array(out, x->off, make_ew(c, binop_ew[x->op], &in, 1, x->off, expr_op_name(x->op)));
}

/* ---- calls ---- */

struct bound {
	const struct op *op;
	size_t n;
	const char *names[16];
	struct val vals[16];
	bool set[16];
};

static const struct val *arg(const struct bound *bd, const char *name)
{
	for (size_t i = 0; i < bd->n; i++)
		if (bd->set[i] && !strcmp(bd->names[i], name))
			return &bd->vals[i];
	return NULL;
}

static bool bind(struct ctx *c, const struct op *op, const struct expr *call, const struct val *self,
		 struct bound *bd)
{
	memset(bd, 0, sizeof *bd);
	bd->op = op;
	for (const char *const *a = op->args; a && *a && bd->n < 16; a++)
		bd->names[bd->n++] = **a == '!' ? *a + 1 : *a;
	size_t pos = 0;
	if (self) {
		bd->vals[0] = *self;
		bd->set[0] = true;
		pos = 1;
	}
	for (size_t i = 0; i < call->n; i++, pos++) {
		if (pos >= bd->n)
			return FAIL(c, call->items[i]->off, "%s() takes at most %zu positional argument%s", op->name,
				    bd->n - (self ? 1 : 0), bd->n - (self ? 1 : 0) == 1 ? "" : "s");
		if (!eval(c, call->items[i], &bd->vals[pos]))
			return false;
		bd->set[pos] = true;
	}
	for (size_t i = 0; i < call->n_kw; i++) {
		size_t k = 0;
		while (k < bd->n && strcmp(bd->names[k], call->kw_names[i]) != 0)
			k++;
		if (k == bd->n) {
			const char *dym = did_you_mean(call->kw_names[i], bd->names, bd->n);
			if (dym)
				return FAIL(c, call->kw_offs[i], "%s() got an unexpected keyword '%s' (did you mean '%s'?)",
					    op->name, call->kw_names[i], dym);
			return FAIL(c, call->kw_offs[i], "%s() got an unexpected keyword '%s'", op->name, call->kw_names[i]);
		}
		if (bd->set[k])
			return FAIL(c, call->kw_offs[i], "%s() got '%s' twice", op->name, call->kw_names[i]);
		if (!eval(c, call->kw_vals[i], &bd->vals[k]))
			return false;
		bd->set[k] = true;
	}
	size_t k = 0;
	for (const char *const *a = op->args; a && *a; a++, k++)
		if (**a == '!' && !bd->set[k])
			return FAIL(c, call->off, "%s() is missing its argument '%s'", op->name, *a + 1);
	return true;
}

static bool create(struct ctx *c, const struct bound *bd, uint32_t off, struct val *out)
{
	const struct val *v;
	struct anode *n = new_node(c, AN_GEN, off);
	int kind = bd->op->sub;
	n->dtype = DT_FLOAT64;
	if ((v = arg(bd, "dtype")) && v->k != V_NONE && !to_dtype(c, v, &n->dtype))
		return false;
	switch (kind) {
	case CR_ZEROS: case CR_ONES: case CR_FULL:
		if (!to_shape(c, arg(bd, "shape"), &n->ndim, n->shape))
			return false;
		n->gen = GEN_FULL;
		n->g[0] = kind == CR_ONES;
		if (kind == CR_FULL) {
			const struct val *fv = arg(bd, "fill_value");
			if (!to_double(c, fv, "fill_value", &n->g[0]))
				return false;
			n->gi[0] = fv->k == V_INT ? fv->i : (int64_t)n->g[0];
			if (!((v = arg(bd, "dtype")) && v->k != V_NONE))
				n->dtype = fv->k == V_FLOAT ? DT_FLOAT64 : fv->k == V_BOOL ? DT_BOOL : DT_INT64;
		} else {
			n->gi[0] = kind == CR_ONES;
		}
		break;
	case CR_ARANGE: {
		double start = 0, stop, step = 1;
		const struct val *vs = arg(bd, "start"), *ve = arg(bd, "stop"), *vp = arg(bd, "step");
		bool fl = vs->k == V_FLOAT || (ve && ve->k == V_FLOAT) || (vp && vp->k == V_FLOAT);
		if (ve && ve->k != V_NONE) {
			if (!to_double(c, vs, "start", &start) || !to_double(c, ve, "stop", &stop))
				return false;
		} else if (!to_double(c, vs, "stop", &stop)) {
			return false;
		}
		if (vp && !to_double(c, vp, "step", &step))
			return false;
		if (step == 0)
			return FAIL(c, vp->off, "arange step must not be 0");
		double len = ceil((stop - start) / step);
		n->ndim = 1;
		n->shape[0] = len > 0 ? (int64_t)len : 0;
		n->gen = GEN_ARANGE;
		n->g[0] = start;
		n->g[1] = step;
		if (!((v = arg(bd, "dtype")) && v->k != V_NONE))
			n->dtype = fl ? DT_FLOAT64 : DT_INT64;
		break;
	}
	case CR_LINSPACE: {
		double start, stop;
		int64_t num = 50;
		bool endpoint = true;
		if (!to_double(c, arg(bd, "start"), "start", &start) || !to_double(c, arg(bd, "stop"), "stop", &stop))
			return false;
		if ((v = arg(bd, "num")) && (!to_int(c, v, "num", &num) || (num < 0 && FAIL(c, v->off, "num must not be negative"))))
			return false;
		if ((v = arg(bd, "endpoint")) && !to_bool(c, v, "endpoint", &endpoint))
			return false;
		n->ndim = 1;
		n->shape[0] = num;
		n->gen = GEN_LINSPACE;
		int64_t div = endpoint ? num - 1 : num;
		n->g[0] = start;
		n->g[1] = div > 0 ? (stop - start) / (double)div : 0;
		n->g[2] = stop;
		n->g[3] = endpoint && num > 1; /* the last element is exactly stop */
		break;
	}
	case CR_EYE: {
		int64_t N = 0, M, k = 0;
		if (!to_int(c, arg(bd, "N"), "N", &N))
			return false;
		M = N;
		if ((v = arg(bd, "M")) && v->k != V_NONE && !to_int(c, v, "M", &M))
			return false;
		if ((v = arg(bd, "k")) && !to_int(c, v, "k", &k))
			return false;
		n->ndim = 2;
		n->shape[0] = N;
		n->shape[1] = M;
		n->gen = GEN_EYE;
		n->gi[0] = k;
		break;
	}
	default: { /* random */
		int64_t seed = 0;
		if ((v = arg(bd, "seed")) && v->k != V_NONE && !to_int(c, v, "seed", &seed))
			return false;
		n->seed = (uint64_t)seed;
		const struct val *sz = arg(bd, "size");
		if (!to_shape(c, sz, &n->ndim, n->shape))
			return false;
		n->gen = kind == CR_NORMAL ? GEN_NORMAL : kind == CR_INTEGERS ? GEN_INTEGERS : GEN_UNIFORM;
		n->g[0] = 0;
		n->g[1] = 1;
		if (kind == CR_UNIFORM || kind == CR_NORMAL) {
			if ((v = arg(bd, kind == CR_UNIFORM ? "low" : "loc")) && !to_double(c, v, "low", &n->g[0]))
				return false;
			if ((v = arg(bd, kind == CR_UNIFORM ? "high" : "scale")) && !to_double(c, v, "high", &n->g[1]))
				return false;
			if (kind == CR_NORMAL && n->g[1] < 0)
				return FAIL(c, v->off, "scale must not be negative");
		} else if (kind == CR_INTEGERS) {
			int64_t lo = 0, hi = 0;
			if (!to_int(c, arg(bd, "low"), "low", &lo))
				return false;
			if ((v = arg(bd, "high")) && v->k != V_NONE) {
				if (!to_int(c, v, "high", &hi))
					return false;
			} else {
				hi = lo;
				lo = 0;
			}
			if (hi <= lo)
				return FAIL(c, off, "random.integers needs low < high");
			n->gi[0] = lo;
			n->gi[1] = hi;
			if (!((v = arg(bd, "dtype")) && v->k != V_NONE))
				n->dtype = DT_INT64;
			else if (!dtype_is_int(n->dtype))
				return FAIL(c, v->off, "random.integers needs an integer dtype, not %s", dtype_name(n->dtype));
		}
		break;
	}
	}
	if (!set_chunks(c, n, arg(bd, "chunks")))
		return false;
	return ret_array(out, off, n);
}

static bool load_npy(struct ctx *c, const struct bound *bd, uint32_t off, struct val *out)
{
	const struct val *p = arg(bd, "path");
	if (p->k != V_STR)
		return FAIL(c, p->off, "load() needs a path string");
	size_t pl = strlen(p->s);
	struct err e2;
	err_init(&e2);
	if (pl < 4 || strcmp(p->s + pl - 4, ".npy")) {
		/* anything but .npy: a numeric CSV file */
		struct anode *n = new_node(c, AN_CSV, off);
		n->label = "load";
		n->path = arena_strdup(c->b->arena, p->s);
		int header = -1;
		const struct val *hv = arg(bd, "header");
		if (hv && hv->k != V_NONE) {
			bool h = false;
			if (!to_bool(c, hv, "header", &h))
				return false;
			header = h;
		}
		if (csvnum_scan(n->path, header, c->b->arena, &n->csv, &e2) < 0)
			return FAIL(c, p->off, "%s", e2.msg);
		n->dtype = DT_FLOAT64;
		n->ndim = 2;
		n->shape[0] = n->csv.rows;
		n->shape[1] = n->csv.cols;
		if (!set_chunks(c, n, arg(bd, "chunks")))
			return false;
		return ret_array(out, off, n);
	}
	const struct val *hv = arg(bd, "header");
	if (hv && hv->k != V_NONE)
		return FAIL(c, hv->off, "header= is for CSV files; a .npy file has no header line");
	struct anode *n = new_node(c, AN_NPY, off);
	n->path = arena_strdup(c->b->arena, p->s);
	if (npy_read_header(n->path, &n->npy, &e2) < 0)
		return FAIL(c, p->off, "%s", e2.msg);
	n->dtype = n->npy.dtype;
	n->ndim = n->npy.ndim;
	if (n->ndim > AR_MAX_DIMS)
		return FAIL(c, p->off, "'%s' has %d dimensions; tessera handles at most %d", n->path, n->ndim, AR_MAX_DIMS);
	for (int k = 0; k < n->ndim; k++)
		n->shape[k] = n->npy.shape[k];
	if (!set_chunks(c, n, arg(bd, "chunks")))
		return false;
	return ret_array(out, off, n);
}

static bool parse_axes(struct ctx *c, const struct val *v, int ndim, uint32_t *axes)
{
	*axes = 0;
	if (!v || v->k == V_NONE) {
		*axes = ndim ? (uint32_t)((1u << ndim) - 1) : 0;
		return true;
	}
	const struct val *items = v->k == V_TUPLE ? v->items : v;
	size_t n = v->k == V_TUPLE ? v->n : 1;
	for (size_t i = 0; i < n; i++) {
		int64_t a = 0;
		if (!to_int(c, &items[i], "axis", &a))
			return false;
		if (a < -ndim || a >= ndim)
			return FAIL(c, items[i].off, "axis %" PRId64 " is out of bounds for an array of dimension %d", a, ndim);
		if (a < 0)
			a += ndim;
		if (*axes & (1u << a))
			return FAIL(c, items[i].off, "axis %" PRId64 " is repeated", a);
		*axes |= 1u << a;
	}
	return true;
}

/* A reduction of a constant array is a constant: its value in closed form. */
static void fold_reduce(struct anode *r, struct anode *in)
{
	double n = 1, v = in->g[0], f = 0;
	for (int k = 0; k < in->ndim; k++)
		if (r->axes & (1u << k))
			n *= (double)in->shape[k];
	bool fl = dtype_is_float(in->dtype);
	int64_t iv = in->gi[0], i = 0;
	bool nan_red = r->red == RED_NANSUM || r->red == RED_NANMEAN || r->red == RED_NANMIN || r->red == RED_NANMAX ||
		       r->red == RED_NANVAR || r->red == RED_NANSTD;
	if (fl && (isnan(v) || isinf(v)) && (nan_red || r->red == RED_VAR || r->red == RED_STD))
		return; /* leave the rare cases to the general code */
	switch (r->red) {
	case RED_SUM: case RED_NANSUM:
		f = v * n;
		i = (int64_t)((uint64_t)iv * (uint64_t)n);
		break;
	case RED_PROD:
		f = pow(v, n);
		i = 1;
		for (int64_t k = 0; k < (int64_t)n; k++)
			i = (int64_t)((uint64_t)i * (uint64_t)iv);
		break;
	case RED_MEAN: case RED_NANMEAN:
		f = n > 0 ? (fl ? v : (double)iv) : NAN;
		break;
	case RED_VAR: case RED_STD: case RED_NANVAR: case RED_NANSTD:
		f = n - r->ddof > 0 ? 0 : NAN;
		break;
	case RED_MIN: case RED_MAX: case RED_NANMIN: case RED_NANMAX:
		f = v;
		i = iv;
		break;
	case RED_ARGMIN: case RED_ARGMAX:
		i = 0;
		break;
	case RED_ANY:
		i = n > 0 && (fl ? v != 0 : iv != 0);
		break;
	case RED_ALL:
		i = n == 0 || (fl ? v != 0 : iv != 0);
		break;
	case RED_COUNT_NONZERO:
		i = (fl ? v != 0 : iv != 0) ? (int64_t)n : 0;
		break;
	default:
		return;
	}
	if (r->dtype == DT_FLOAT32)
		f = (double)(float)f;
	in->n_users--;
	r->n_in = 0;
	r->kind = AN_GEN;
	r->gen = GEN_FULL;
	r->g[0] = dtype_is_float(r->dtype) ? f : (double)i;
	r->gi[0] = dtype_is_float(r->dtype) ? (int64_t)f : i;
}

static bool reduce(struct ctx *c, const struct bound *bd, uint32_t off, struct val *out)
{
	struct anode *in;
	if (!as_array(c, &bd->vals[0], &in, "the array"))
		return false;
	struct anode *r = new_node(c, AN_REDUCE, off);
	r->red = (enum red_op)bd->op->sub;
	r->label = bd->op->name;
	const struct val *v;
	if (!parse_axes(c, arg(bd, "axis"), in->ndim, &r->axes))
		return false;
	if ((r->red == RED_ARGMIN || r->red == RED_ARGMAX) && (v = arg(bd, "axis")) && v->k == V_TUPLE)
		return FAIL(c, v->off, "%s takes one axis or None", bd->op->name);
	bool kd = false;
	if ((v = arg(bd, "keepdims")) && !to_bool(c, v, "keepdims", &kd))
		return false;
	r->keepdims = kd;
	int64_t t = 0;
	if ((v = arg(bd, "ddof")) && !to_int(c, v, "ddof", &t))
		return false;
	r->ddof = (int)t;
	t = 8;
	if ((v = arg(bd, "split_every")) && (!to_int(c, v, "split_every", &t) ||
					     (t < 2 && FAIL(c, v->off, "split_every must be at least 2"))))
		return false;
	r->split_every = (int)t;
	enum dtype it = in->dtype;
	switch (r->red) {
	case RED_SUM: case RED_NANSUM: case RED_PROD:
		r->dtype = dtype_is_float(it) ? it : DT_INT64;
		break;
	case RED_MEAN: case RED_NANMEAN: case RED_STD: case RED_VAR: case RED_NANSTD: case RED_NANVAR:
		r->dtype = dtype_is_float(it) ? it : DT_FLOAT64;
		break;
	case RED_MIN: case RED_MAX: case RED_NANMIN: case RED_NANMAX:
		r->dtype = it;
		break;
	case RED_ARGMIN: case RED_ARGMAX: case RED_COUNT_NONZERO:
		r->dtype = DT_INT64;
		break;
	case RED_ANY: case RED_ALL:
		r->dtype = DT_BOOL;
		break;
	default:
		break;
	}
	r->n_in = 1;
	r->in[0] = in;
	in->n_users++;
	int nd = 0;
	for (int k = 0; k < in->ndim; k++) {
		if (r->axes & (1u << k)) {
			if (in->shape[k] == 0 && (r->red == RED_MIN || r->red == RED_MAX || r->red == RED_ARGMIN ||
						  r->red == RED_ARGMAX))
				return FAIL(c, off, "%s of an empty axis has no identity", bd->op->name);
			if (!r->keepdims)
				continue;
			r->shape[nd] = 1;
			int64_t nn;
			r->chunks[nd].bounds = even_bounds(c->b->arena, 1, 1, &nn);
			r->chunks[nd].n = nn;
			nd++;
			continue;
		}
		r->shape[nd] = in->shape[k];
		r->chunks[nd] = in->chunks[k];
		nd++;
	}
	r->ndim = nd;
	if (in->kind == AN_GEN && in->gen == GEN_FULL)
		fold_reduce(r, in);
	return ret_array(out, off, r);
}

static bool reshape(struct ctx *c, const struct bound *bd, uint32_t off, struct val *out)
{
	struct anode *in;
	if (!as_array(c, &bd->vals[0], &in, "the array"))
		return false;
	const struct val *sv = arg(bd, "shape");
	int nd = 0;
	int64_t shape[AR_MAX_DIMS];
	const struct val *items = sv->k == V_TUPLE ? sv->items : sv;
	size_t n = sv->k == V_TUPLE ? sv->n : 1;
	if (n > AR_MAX_DIMS)
		return FAIL(c, sv->off, "at most %d dimensions", AR_MAX_DIMS);
	int64_t size = 1, known = 1;
	for (int k = 0; k < in->ndim; k++)
		size *= in->shape[k];
	int infer = -1;
	for (size_t k = 0; k < n; k++) {
		int64_t e = 0;
		if (!to_int(c, &items[k], "a dimension", &e))
			return false;
		if (e == -1) {
			if (infer >= 0)
				return FAIL(c, items[k].off, "can only specify one unknown dimension");
			infer = (int)k;
			e = 1;
		} else if (e < 0) {
			return FAIL(c, items[k].off, "negative dimension %" PRId64, e);
		}
		shape[nd++] = e;
		known *= e;
	}
	if (infer >= 0 && known && size % known == 0)
		shape[infer] = size / known;
	int64_t got = 1;
	for (int k = 0; k < nd; k++)
		got *= shape[k];
	if (got != size) {
		struct anode tmp;
		memset(&tmp, 0, sizeof tmp);
		tmp.ndim = nd;
		memcpy(tmp.shape, shape, sizeof shape);
		char s1[128];
		format_shape(&tmp, s1, sizeof s1);
		return FAIL(c, sv->off, "cannot reshape an array of size %" PRId64 " into shape %s", size, s1);
	}
	return ret_array(out, off, make_reshape(c, in, nd, shape, off));
}

/* tensordot: transpose both so the summed axes meet, reshape to matrices, matmul, reshape back. */
static bool tensordot(struct ctx *c, const struct bound *bd, uint32_t off, struct val *out)
{
	struct anode *a, *b;
	if (!as_array(c, &bd->vals[0], &a, "a") || !as_array(c, &bd->vals[1], &b, "b"))
		return false;
	int ax_a[AR_MAX_DIMS], ax_b[AR_MAX_DIMS], n = 0;
	const struct val *v = arg(bd, "axes");
	if (!v || v->k == V_INT) {
		int64_t k = v ? v->i : 2;
		if (k < 0 || k > a->ndim || k > b->ndim)
			return FAIL(c, v ? v->off : off, "axes=%" PRId64 " does not fit arrays of %d and %d dimensions", k,
				    a->ndim, b->ndim);
		for (int i = 0; i < k; i++) {
			ax_a[i] = a->ndim - (int)k + i;
			ax_b[i] = i;
		}
		n = (int)k;
	} else if (v->k == V_TUPLE && v->n == 2) {
		const struct val *pa = &v->items[0], *pb = &v->items[1];
		size_t na = pa->k == V_TUPLE ? pa->n : 1, nb = pb->k == V_TUPLE ? pb->n : 1;
		if (na != nb)
			return FAIL(c, v->off, "axes must name as many axes of a as of b");
		for (size_t i = 0; i < na; i++) {
			int64_t x = 0, y = 0;
			if (!to_int(c, pa->k == V_TUPLE ? &pa->items[i] : pa, "an axis", &x) ||
			    !to_int(c, pb->k == V_TUPLE ? &pb->items[i] : pb, "an axis", &y))
				return false;
			if (x < -a->ndim || x >= a->ndim || y < -b->ndim || y >= b->ndim)
				return FAIL(c, v->off, "an axis in axes is out of bounds");
			ax_a[n] = (int)(x < 0 ? x + a->ndim : x);
			ax_b[n++] = (int)(y < 0 ? y + b->ndim : y);
		}
	} else {
		return FAIL(c, v->off, "axes must be an integer or a pair of tuples");
	}
	int64_t k_size = 1;
	for (int i = 0; i < n; i++) {
		if (a->shape[ax_a[i]] != b->shape[ax_b[i]])
			return FAIL(c, off, "shape mismatch for sum: axis %d of a has %" PRId64 ", axis %d of b has %" PRId64,
				    ax_a[i], a->shape[ax_a[i]], ax_b[i], b->shape[ax_b[i]]);
		k_size *= a->shape[ax_a[i]];
	}
	int perm_a[AR_MAX_DIMS], perm_b[AR_MAX_DIMS], fa = 0, fb = 0;
	int64_t free_shape[2 * AR_MAX_DIMS], m_size = 1, n_size = 1;
	int n_free = 0;
	for (int i = 0; i < a->ndim; i++) {
		bool summed = false;
		for (int j = 0; j < n; j++)
			summed |= ax_a[j] == i;
		if (!summed) {
			perm_a[fa++] = i;
			free_shape[n_free++] = a->shape[i];
			m_size *= a->shape[i];
		}
	}
	for (int j = 0; j < n; j++)
		perm_a[fa + j] = ax_a[j];
	for (int j = 0; j < n; j++)
		perm_b[j] = ax_b[j];
	for (int i = 0; i < b->ndim; i++) {
		bool summed = false;
		for (int j = 0; j < n; j++)
			summed |= ax_b[j] == i;
		if (!summed) {
			perm_b[n + fb++] = i;
			free_shape[n_free++] = b->shape[i];
			n_size *= b->shape[i];
		}
	}
	if (n_free > AR_MAX_DIMS)
		return FAIL(c, off, "the result would have more than %d dimensions", AR_MAX_DIMS);
	int64_t sa[2] = { m_size, k_size }, sb[2] = { k_size, n_size };
	struct anode *a2 = make_reshape(c, transposed(c, a, perm_a, off), 2, sa, off);
	struct anode *b2 = make_reshape(c, transposed(c, b, perm_b, off), 2, sb, off);
	struct anode *m = make_matmul(c, a2, b2, off);
	if (!m)
		return false;
	return ret_array(out, off, make_reshape(c, m, n_free, free_shape, off));
}

/* concatenate / stack: a chain of AN_CONCAT nodes of at most 3 inputs each. */
static bool concat(struct ctx *c, const struct bound *bd, bool stack, uint32_t off, struct val *out)
{
	const struct val *list = &bd->vals[0];
	if (list->k != V_TUPLE || list->n == 0)
		return FAIL(c, list->off, "%s() takes a tuple or list of arrays", stack ? "stack" : "concatenate");
	struct anode **arrs = arena_alloc(c->b->arena, list->n * sizeof *arrs);
	for (size_t i = 0; i < list->n; i++)
		if (!as_array(c, &list->items[i], &arrs[i], "an array"))
			return false;
	int nd = arrs[0]->ndim + (stack ? 1 : 0);
	int64_t a = 0;
	const struct val *av = arg(bd, "axis");
	if (av && !to_int(c, av, "axis", &a))
		return false;
	if (a < -nd || a >= nd)
		return FAIL(c, av ? av->off : off, "axis %" PRId64 " is out of bounds for an array of dimension %d", a, nd);
	if (a < 0)
		a += nd;
	const struct anode *first = arrs[0];
	for (size_t i = 0; i < list->n; i++) {
		struct anode *x = arrs[i];
		if (x->ndim != first->ndim)
			return FAIL(c, list->items[i].off, "all the input arrays must have the same number of dimensions");
		for (int k = 0; k < x->ndim; k++)
			if ((stack ? true : k != a) && x->shape[k] != first->shape[k])
				return FAIL(c, list->items[i].off, "all the input array dimensions except for the concatenation axis must match exactly");
		if (stack) { /* x[..., None, ...] at the new axis */
			struct anode *v = new_view(c, x, list->items[i].off);
			v->ndim = nd;
			for (int k = 0, j = 0; k < nd; k++) {
				if (k == a) {
					v->vsrc[k] = -1;
					v->vstep[k] = 1;
					v->shape[k] = 1;
					view_chunks(c, v, k, 1);
					continue;
				}
				v->vsrc[k] = j;
				v->vstep[k] = 1;
				v->shape[k] = x->shape[j];
				v->chunks[k] = x->chunks[j];
				j++;
			}
			arrs[i] = v;
		}
	}
	struct anode *acc = arrs[0];
	for (size_t i = 1; i < list->n; i += 2) {
		struct anode *r = new_node(c, AN_CONCAT, off);
		r->label = "concat";
		r->axis = (int)a;
		r->n_in = 1;
		r->in[0] = acc;
		acc->n_users++;
		for (size_t j = i; j < list->n && j < i + 2; j++) {
			r->in[r->n_in++] = arrs[j];
			arrs[j]->n_users++;
		}
		r->dtype = r->in[0]->dtype;
		r->weak = false;
		for (int j = 1; j < r->n_in; j++)
			r->dtype = result_type2(r, r->in[j]);
		r->ndim = nd;
		int64_t total = 0;
		for (int j = 0; j < r->n_in; j++) {
			r->cat_off[j] = total;
			total += r->in[j]->shape[a];
		}
		int64_t nchunks = 0;
		for (int j = 0; j < r->n_in; j++)
			nchunks += r->in[j]->chunks[a].n;
		int64_t *b = arena_alloc(c->b->arena, (size_t)(nchunks + 1) * sizeof *b), m = 0;
		for (int j = 0; j < r->n_in; j++)
			for (int64_t q = 0; q < r->in[j]->chunks[a].n; q++)
				b[m++] = r->cat_off[j] + r->in[j]->chunks[a].bounds[q];
		b[m] = total;
		for (int k = 0; k < nd; k++) {
			r->shape[k] = k == a ? total : r->in[0]->shape[k];
			r->chunks[k] = r->in[0]->chunks[k];
		}
		r->chunks[a].bounds = b;
		r->chunks[a].n = m;
		acc = r;
	}
	return ret_array(out, off, acc);
}

static bool call_bound(struct ctx *c, const struct op *op, const struct bound *bdp, uint32_t off, struct val *out);

static bool call_op(struct ctx *c, const struct op *op, const struct expr *call, const struct val *self,
		    struct val *out)
{
	struct bound bd;
	if (!bind(c, op, call, self, &bd))
		return false;
	return call_bound(c, op, &bd, call->off, out);
}

/* Calls array function @name with the named arguments, as the builder's own step (errors point at @off). */
static struct anode *call_named(struct ctx *c, const char *name, uint32_t off, size_t n, const char *const *names,
				const struct val *vals)
{
	const struct op *op = op_find(name);
	struct bound bd;
	memset(&bd, 0, sizeof bd);
	bd.op = op;
	for (const char *const *a = op->args; a && *a && bd.n < 16; a++)
		bd.names[bd.n++] = **a == '!' ? *a + 1 : *a;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < bd.n; k++)
			if (!strcmp(bd.names[k], names[i])) {
				bd.vals[k] = vals[i];
				bd.set[k] = true;
			}
	struct val out;
	if (!call_bound(c, op, &bd, off, &out) || out.k != V_ARRAY)
		return NULL;
	return out.a;
}

static struct val arr_val(struct anode *a, uint32_t off)
{
	struct val v;
	memset(&v, 0, sizeof v);
	v.k = V_ARRAY;
	v.a = a;
	v.off = off;
	return v;
}

static struct val int_val(int64_t i, uint32_t off)
{
	struct val v;
	memset(&v, 0, sizeof v);
	v.k = V_INT;
	v.i = i;
	v.off = off;
	return v;
}

static bool pdist(struct ctx *c, const struct bound *bd, bool cd, uint32_t off, struct val *out);
static bool load_vcf(struct ctx *c, const struct bound *bd, uint32_t off, struct val *out);
static struct anode *make_chol(struct ctx *c, struct anode *a, bool inverse, uint32_t off, uint32_t arg_off);

static bool call_bound(struct ctx *c, const struct op *op, const struct bound *bdp, uint32_t off, struct val *out)
{
	struct bound bd = *bdp;
	switch (op->afn) {
	case AFN_CREATE:
		return create(c, &bd, off, out);
	case AFN_LOAD:
		return load_npy(c, &bd, off, out);
	case AFN_REDUCE:
		return reduce(c, &bd, off, out);
	case AFN_EW: {
		struct anode *in[3];
		int n_in = 0;
		int64_t dec = 0;
		for (size_t i = 0; i < bd.n && n_in < 3; i++) {
			if (!bd.set[i])
				continue;
			if (!strcmp(bd.names[i], "decimals")) {
				if (!to_int(c, &bd.vals[i], "decimals", &dec))
					return false;
				if (dec > 300 || dec < -300)
					return FAIL(c, bd.vals[i].off, "decimals must be between -300 and 300");
				continue;
			}
			if (!as_array(c, &bd.vals[i], &in[n_in++], bd.names[i]))
				return false;
		}
		struct anode *r;
		if (dec) {
			/* the decimals travel with the node (and tell it apart from another round) */
			r = make_ew(c, (enum ew_op)op->sub, in, n_in, off, op->name);
			if (r && r->kind == AN_EW) {
				r->gi[0] = dec;
			} else if (r) { /* folded before the decimals were known: fold again with them */
				struct anode *t = new_node(c, AN_EW, off);
				uint32_t id = t->id;
				*t = *r;
				t->id = id;
				t->kind = AN_EW;
				t->ew = EW_ROUND;
				t->gi[0] = dec;
				t->n_in = 1;
				t->in[0] = in[0];
				in[0]->n_users++;
				r = t;
			}
		} else {
			r = make_ew(c, (enum ew_op)op->sub, in, n_in, off, op->name);
		}
		return ret_array(out, off, r);
	}
	case AFN_ASTYPE: {
		struct anode *in;
		enum dtype t;
		if (!as_array(c, &bd.vals[0], &in, "the array") || !to_dtype(c, arg(&bd, "dtype"), &t))
			return false;
		struct anode *r = make_ew(c, EW_CAST, &in, 1, off, "astype");
		if (!r)
			return false;
		r->dtype = t;
		r->weak = false;
		return ret_array(out, off, r);
	}
	case AFN_MATMUL: {
		struct anode *m[2];
		if (!as_array(c, &bd.vals[0], &m[0], "x1") || !as_array(c, &bd.vals[1], &m[1], "x2"))
			return false;
		return ret_array(out, off, make_matmul(c, m[0], m[1], off));
	}
	case AFN_RECHUNK: {
		struct anode *in;
		if (!as_array(c, &bd.vals[0], &in, "the array"))
			return false;
		struct anode *r = new_view(c, in, off);
		r->label = "rechunk";
		r->ndim = in->ndim;
		for (int k = 0; k < in->ndim; k++) {
			r->vsrc[k] = k;
			r->vstep[k] = 1;
			r->shape[k] = in->shape[k];
		}
		if (!set_chunks(c, r, arg(&bd, "chunks")))
			return false;
		return ret_array(out, off, r);
	}
	case AFN_CONCAT:
		return concat(c, &bd, op->sub == 1, off, out);
	case AFN_RESHAPE:
		return reshape(c, &bd, off, out);
	case AFN_TENSORDOT:
		return tensordot(c, &bd, off, out);
	case AFN_PDIST:
		return pdist(c, &bd, op->sub == 1, off, out);
	case AFN_LOAD_VCF:
		return load_vcf(c, &bd, off, out);
	case AFN_CHOLESKY: {
		struct anode *in;
		if (!as_array(c, &bd.vals[0], &in, "the matrix"))
			return false;
		return ret_array(out, off, make_chol(c, in, false, off, bd.vals[0].off));
	}
	case AFN_TRANSPOSE: {
		struct anode *in;
		if (!as_array(c, &bd.vals[0], &in, "the array"))
			return false;
		int perm[AR_MAX_DIMS];
		for (int k = 0; k < in->ndim; k++)
			perm[k] = in->ndim - 1 - k;
		const struct val *v;
		if (op->sub == 1) { /* swapaxes(a, axis1, axis2) */
			uint32_t m1, m2;
			if (!parse_axes(c, arg(&bd, "axis1"), in->ndim, &m1) || !parse_axes(c, arg(&bd, "axis2"), in->ndim, &m2))
				return false;
			for (int k = 0; k < in->ndim; k++)
				perm[k] = k;
			int a1 = __builtin_ctz(m1), a2 = __builtin_ctz(m2);
			perm[a1] = a2;
			perm[a2] = a1;
		} else if ((v = arg(&bd, "axes")) && v->k != V_NONE) {
			if (v->k != V_TUPLE || (int)v->n != in->ndim)
				return FAIL(c, v->off, "axes must be a permutation of the %d axes", in->ndim);
			uint32_t seen = 0;
			for (int k = 0; k < in->ndim; k++) {
				int64_t a = 0;
				if (!to_int(c, &v->items[k], "an axis", &a))
					return false;
				if (a < 0)
					a += in->ndim;
				if (a < 0 || a >= in->ndim || (seen & (1u << a)))
					return FAIL(c, v->items[k].off, "axes must be a permutation of the %d axes", in->ndim);
				seen |= 1u << a;
				perm[k] = (int)a;
			}
		}
		return ret_array(out, off, transposed(c, in, perm, off));
	}
	default:
		return FAIL(c, off, "internal error: %s() has no array implementation", op->name);
	}
}


/* ---- genotypes, Cholesky, distances ---- */

static bool load_vcf(struct ctx *c, const struct bound *bd, uint32_t off, struct val *out)
{
	const struct val *p = arg(bd, "path"), *v;
	if (p->k != V_STR)
		return FAIL(c, p->off, "load_vcf() needs a path string");
	if ((v = arg(bd, "field")) && v->k != V_NONE && (v->k != V_STR || strcmp(v->s, "GT")))
		return FAIL(c, v->off, "load_vcf() reads field=\"GT\" only");
	bool calls = false;
	if ((v = arg(bd, "form")) && v->k != V_NONE) {
		if (v->k != V_STR || (strcmp(v->s, "alt") && strcmp(v->s, "calls")))
			return FAIL(c, v->off, "form must be \"alt\" (samples x variants alt-allele counts) or \"calls\" (variants x samples x ploidy)");
		calls = !strcmp(v->s, "calls");
	}
	struct anode *n = new_node(c, AN_VCF, off);
	n->label = "load_vcf";
	n->path = arena_strdup(c->b->arena, p->s);
	struct err e2;
	err_init(&e2);
	if (vcf_scan(n->path, c->b->arena, &n->vcf, &e2) < 0)
		return FAIL(c, p->off, "%s", e2.msg);
	n->vcf_calls = calls;
	n->dtype = DT_INT8;
	if (calls) {
		n->ndim = 3;
		n->shape[0] = n->vcf.n_variants;
		n->shape[1] = n->vcf.n_samples;
		n->shape[2] = n->vcf.ploidy;
	} else {
		n->ndim = 2;
		n->shape[0] = n->vcf.n_samples;
		n->shape[1] = n->vcf.n_variants;
	}
	if (!set_chunks(c, n, arg(bd, "chunks")))
		return false;
	return ret_array(out, off, n);
}

/* A one-chunk Cholesky factor of @a (@inverse: of a's inverse, from a's own factor). */
static struct anode *make_chol(struct ctx *c, struct anode *a, bool inverse, uint32_t off, uint32_t arg_off)
{
	if (a->ndim != 2 || a->shape[0] != a->shape[1]) {
		char sh[64];
		format_shape(a, sh, sizeof sh);
		FAIL(c, arg_off, "the Cholesky factor needs a square 2-d matrix, not one of shape %s", sh);
		return NULL;
	}
	struct anode *r = new_node(c, AN_CHOL, off);
	r->label = "cholesky";
	r->dtype = DT_FLOAT64;
	r->ndim = 2;
	r->g[0] = inverse;
	r->n_in = 1;
	r->in[0] = a;
	a->n_users++;
	for (int k = 0; k < 2; k++) {
		r->shape[k] = a->shape[k];
		int64_t nn;
		r->chunks[k].bounds = even_bounds(c->b->arena, a->shape[k], a->shape[k], &nn);
		r->chunks[k].n = nn;
	}
	return r;
}

static bool str_arg(struct ctx *c, const struct bound *bd, const char *name, const char *const *choices,
		    const char **out)
{
	const struct val *v = arg(bd, name);
	if (!v || v->k == V_NONE)
		return true;
	for (const char *const *ch = choices; v->k == V_STR && *ch; ch++)
		if (!strcmp(*ch, v->s)) {
			*out = *ch;
			return true;
		}
	char list[128] = "";
	for (const char *const *ch = choices; *ch; ch++)
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"", ch == choices ? "" : ", ", *ch);
	return FAIL(c, v->off, "%s must be one of %s", name, list);
}

/* Even bounds of @n split into pieces of at most @size. */
static struct axis_chunks split_even(struct ctx *c, int64_t n, int64_t size)
{
	if (size < 1)
		size = 1;
	int64_t pieces = n > 0 ? (n + size - 1) / size : 1;
	int64_t *b = arena_alloc(c->b->arena, (size_t)(pieces + 1) * sizeof *b);
	for (int64_t k = 0; k <= pieces; k++)
		b[k] = n * k / pieces;
	return (struct axis_chunks){ pieces, b };
}

/* Feature groups: the input's chunks along the features, joined while a group stays within @g features
 * and split where one chunk is wider. */
static struct axis_chunks feature_groups(struct ctx *c, const struct axis_chunks *ax, int64_t nf, int64_t g)
{
	int64_t *b = arena_alloc(c->b->arena, (size_t)(nf + 2) * sizeof *b), n = 0;
	b[0] = 0;
	for (int64_t k = 0; k < ax->n; k++) {
		int64_t lo = ax->bounds[k], hi = ax->bounds[k + 1];
		if (hi - lo > g) {
			if (b[n] < lo)
				b[++n] = lo;
			int64_t pieces = (hi - lo + g - 1) / g;
			for (int64_t q = 1; q <= pieces; q++)
				b[++n] = lo + (hi - lo) * q / pieces;
		} else if (hi - b[n] > g) {
			b[++n] = lo;
		}
	}
	if (b[n] < nf)
		b[++n] = nf;
	if (n == 0)
		b[++n] = nf; /* no features: one empty group */
	return (struct axis_chunks){ n, b };
}

/* The builder's own steps of a distance's defaults, as a user would write them. */
static struct anode *float_node(struct ctx *c, double f, uint32_t off)
{
	struct val v;
	memset(&v, 0, sizeof v);
	v.k = V_FLOAT;
	v.f = f;
	v.off = off;
	return scalar_node(c, &v);
}

/* concatenate((x, y), axis=0): scipy's cdist takes its defaults from both inputs' rows. */
static struct anode *rows_of_both(struct ctx *c, struct anode *x, struct anode *y, uint32_t off)
{
	struct val items[2] = { arr_val(x, off), arr_val(y, off) }, t;
	memset(&t, 0, sizeof t);
	t.k = V_TUPLE;
	t.n = 2;
	t.items = items;
	t.off = off;
	const char *nm[] = { "arrays", "axis" };
	struct val vs[] = { t, int_val(0, off) };
	return call_named(c, "concatenate", off, 2, nm, vs);
}

/* a.NAME(axis=axis, keepdims=True) */
static struct anode *reduce_kept(struct ctx *c, const char *name, struct anode *a, int axis, uint32_t off)
{
	const char *nm[] = { "a", "axis", "keepdims" };
	struct val vs[] = { arr_val(a, off), int_val(axis, off), int_val(1, off) };
	vs[2].k = V_BOOL;
	vs[2].b = true;
	return call_named(c, name, off, 3, nm, vs);
}

static const char *const metric_names[] = { "braycurtis", "canberra", "chebyshev", "cityblock", "correlation",
					    "cosine", "dice", "euclidean", "hamming", "jaccard", "jensenshannon",
					    "mahalanobis", "minkowski", "rogerstanimoto", "russellrao", "seuclidean",
					    "sokalsneath", "sqeuclidean", "yule" };

/* scipy's other spellings of the metric names (its _METRIC_INFOS "aka" sets). */
static const char *metric_canonical(const char *name)
{
	static const char *const alias[][2] = {
		{ "chebychev", "chebyshev" }, { "cheby", "chebyshev" }, { "cheb", "chebyshev" }, { "ch", "chebyshev" },
		{ "cblock", "cityblock" }, { "cb", "cityblock" }, { "c", "cityblock" }, { "co", "correlation" },
		{ "cos", "cosine" }, { "euclid", "euclidean" }, { "eu", "euclidean" }, { "e", "euclidean" },
		{ "matching", "hamming" }, { "hamm", "hamming" }, { "ha", "hamming" }, { "h", "hamming" },
		{ "jacc", "jaccard" }, { "ja", "jaccard" }, { "j", "jaccard" }, { "js", "jensenshannon" },
		{ "mahal", "mahalanobis" }, { "mah", "mahalanobis" }, { "mi", "minkowski" }, { "m", "minkowski" },
		{ "pnorm", "minkowski" }, { "se", "seuclidean" }, { "s", "seuclidean" }, { "sqe", "sqeuclidean" },
		{ "sqeuclid", "sqeuclidean" },
	};
	for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
		if (!strcmp(alias[i][0], name))
			return alias[i][1];
	return name;
}

#define AUTO_GPU_WORK 4e10 /* see pdist(): device="auto" */
/* The host memory a process holds once CUDA has started and loaded cuBLAS (runtime, driver, the
 * GEMM kernels' code): a 100 x 100 euclidean on an H100 with CUDA 13 peaked at 290 MB resident.
 * Reserved out of the limit. */
#define CUDA_HOST_BYTES ((uint64_t)288 << 20)

static bool pdist(struct ctx *c, const struct bound *bd, bool cd, uint32_t off, struct val *out)
{
	const char *fn = cd ? "cdist" : "pairwise_distance";
	int jobs = c->b->jobs > 0 ? c->b->jobs : 1; /* the run's workers */
	struct anode *x, *y;
	if (!as_array(c, &bd->vals[0], &x, cd ? "XA" : "x"))
		return false;
	y = x;
	if (cd && !as_array(c, &bd->vals[1], &y, "XB"))
		return false;
	for (int k = 0; k < (cd ? 2 : 1); k++) {
		const struct anode *m = k ? y : x;
		if (m->ndim != 2) {
			char sh[64];
			format_shape(m, sh, sizeof sh);
			return FAIL(c, bd->vals[k].off, "%s needs a 2-d array (rows x features), not one of shape %s", fn, sh);
		}
	}
	if (cd && x->shape[1] != y->shape[1])
		return FAIL(c, bd->vals[1].off, "cdist: XA has %" PRId64 " features (columns) and XB %" PRId64 "; they must match",
			    x->shape[1], y->shape[1]);
	if (!cd && x->shape[0] < 2)
		return FAIL(c, bd->vals[0].off, "pairwise_distance needs at least 2 rows; x has %" PRId64, x->shape[0]);
	const struct val *v = arg(bd, "metric");
	const char *name = "euclidean";
	if (v && v->k != V_NONE) {
		if (v->k != V_STR)
			return FAIL(c, v->off, "metric must be a name such as \"euclidean\"");
		name = metric_canonical(v->s);
	}
	bool maha = !strcmp(name, "mahalanobis");
	int m = maha ? K_DIST_EUCLIDEAN : k_dist_lookup(name);
	if (m < 0) {
		size_t nm = sizeof metric_names / sizeof metric_names[0];
		const char *dym = did_you_mean(name, metric_names, nm);
		if (dym)
			return FAIL(c, v->off, "unknown metric '%s' (did you mean '%s'?)", name, dym);
		return FAIL(c, v->off, "unknown metric '%s'; the metrics are scipy's: braycurtis, canberra, chebyshev, "
			    "cityblock, correlation, cosine, dice, euclidean, hamming, jaccard, jensenshannon, mahalanobis, "
			    "minkowski, rogerstanimoto, russellrao, seuclidean, sokalsneath, sqeuclidean, yule", name);
	}
	unsigned fl = k_dist_info_of((enum k_dist_metric)m)->flags;
	static const char *const params[] = { "p", "w", "V", "VI" };
	const unsigned need[] = { K_DISTF_P, K_DISTF_W, K_DISTF_V, 0 };
	for (int k = 0; k < 4; k++) {
		const struct val *pv = arg(bd, params[k]);
		if (pv && pv->k != V_NONE && !(k == 3 ? maha : (fl & need[k]) != 0))
			return FAIL(c, pv->off, "metric '%s' takes no parameter '%s'", name, params[k]);
	}
	struct anode *r = new_node(c, AN_PDIST, off);
	r->label = "distance";
	r->metric = m;
	r->p = 2;
	if ((v = arg(bd, "p")) && v->k != V_NONE) {
		if (!to_double(c, v, "p", &r->p))
			return false;
		if (!(r->p > 0))
			return FAIL(c, v->off, "p must be greater than 0");
	}
	const char *dev = "auto", *outf = "square", *miss = "auto";
	static const char *const devs[] = { "auto", "cpu", "gpu", NULL }, *const outs[] = { "square", "condensed", NULL },
				   *const misses[] = { "auto", "nan", NULL };
	if (!str_arg(c, bd, "device", devs, &dev) || !str_arg(c, bd, "output", outs, &outf) ||
	    !str_arg(c, bd, "missing", misses, &miss))
		return false;
	r->device = !strcmp(dev, "cpu") ? PD_CPU : !strcmp(dev, "gpu") ? PD_GPU : PD_AUTO;
	{
		/* the device is settled now: "gpu" without one is an error before anything runs */
		char why[256] = "", note[512];
		/* "auto" keeps a small problem on the CPU, without starting CUDA: below about AUTO_GPU_WORK
		 * multiply-adds per worker, starting a GPU (0.4 s on an H100) and feeding it cost more than
		 * the CPU's work. Measured on an H100 with 16 cores: 4000 x 4000 pairs x 20000 features
		 * (2e10 a worker), 1.06-1.14 s on the GPU and 0.90-1.03 s on the CPU; 12000 x 12000 x 20000,
		 * 3.7-4.7 s and 7.8 s. */
		double work = (double)x->shape[0] * (double)(cd ? y->shape[0] : x->shape[0]) * (double)x->shape[1];
		double enough = AUTO_GPU_WORK * jobs;
		if (r->device == PD_AUTO && work < enough)
			snprintf(why, sizeof why,
				 "%" PRId64 " x %" PRId64 " pairs x %" PRId64 " features is too small for a GPU to pay off "
				 "with %d workers (under %.3g)",
				 x->shape[0], cd ? y->shape[0] : x->shape[0], x->shape[1], jobs, enough);
		const struct tcu_api *gpu = r->device == PD_CPU || why[0] ? NULL : dev_cuda(why, sizeof why);
		if (!gpu && r->device == PD_GPU) {
			const struct val *dv = arg(bd, "device");
			err_code_at(c->b->e, ERR_RUN, at(c, dv->off), "device=\"gpu\": %s", why);
			return false;
		}
		char gname[128] = "";
		if (gpu)
			gpu->device_name(gname, sizeof gname);
		r->device = gpu ? PD_GPU : PD_CPU;
		snprintf(note, sizeof note, "%s:%u:%u: %s on the %s%s%s%s", r->loc.file ? r->loc.file : "", r->loc.line,
			 r->loc.col, fn, gpu ? "GPU, " : "CPU", gpu ? gname : "",
			 !gpu && strcmp(dev, "auto") == 0 ? " (device=\"auto\": " : "",
			 !gpu && strcmp(dev, "auto") == 0 ? why : "");
		if (!gpu && !strcmp(dev, "auto"))
			snprintf(note + strlen(note), sizeof note - strlen(note), ")");
		XGROW(c->b->notes, c->b->notes_cap, c->b->n_notes + 1);
		c->b->notes[c->b->n_notes++] = arena_strdup(c->b->arena, note);
	}
	r->condensed = !strcmp(outf, "condensed");
	r->missing = !strcmp(miss, "nan") ? PD_MISSING_NAN : PD_MISSING_AUTO;
	r->self_pair = !cd;
	int64_t nf = x->shape[1];
	/* per-feature weights: w as given, or 1 / V for seuclidean */
	struct anode *w = NULL;
	const struct val *wv = arg(bd, "w");
	if (!wv || wv->k == V_NONE)
		wv = arg(bd, "V");
	if (wv && wv->k == V_NONE)
		wv = NULL;
	if (wv) {
		if (!as_array(c, wv, &w, "the weights"))
			return false;
		if (w->ndim != 1 || w->shape[0] != nf) {
			char sh[64];
			format_shape(w, sh, sizeof sh);
			return FAIL(c, wv->off, "%s has shape %s; it needs one value per feature, (%" PRId64 ",)",
				    m == K_DIST_SEUCLIDEAN ? "V" : "w", sh, nf);
		}
	} else if (m == K_DIST_SEUCLIDEAN) {
		/* scipy's default V: the variance of each feature, ddof=1, here over the rows that have it
		 * (missing values are skipped, as in the distances; scipy has no missing values) */
		struct anode *all = cd ? rows_of_both(c, x, y, off) : x;
		if (!all)
			return false;
		if (!dtype_is_float(all->dtype) && all->dtype != DT_BOOL && r->missing == PD_MISSING_AUTO) {
			struct val zv = { .k = V_FLOAT, .off = off, .f = 0.0 }, nv = { .k = V_FLOAT, .off = off, .f = NAN };
			struct anode *lt_in[2] = { all, scalar_node(c, &zv) };
			struct anode *neg = make_ew(c, EW_LT, lt_in, 2, off, "<");
			if (!neg)
				return false;
			struct anode *w_in[3] = { neg, scalar_node(c, &nv), all };
			if (!(all = make_ew(c, EW_WHERE, w_in, 3, off, "where")))
				return false;
		}
		const char *nm[] = { "a", "axis", "ddof" };
		struct val vs[] = { arr_val(all, off), int_val(0, off), int_val(1, off) };
		if (!(w = call_named(c, "nanvar", off, 3, nm, vs)))
			return false;
	}
	if (w && m == K_DIST_SEUCLIDEAN) {
		struct anode *in[2] = { float_node(c, 1, off), w };
		if (!(w = make_ew(c, EW_DIV, in, 2, off, "/")))
			return false;
	}
	if (maha) {
		/* euclidean on rows whitened by L, L @ L.T = VI; by default VI is the inverse covariance */
		struct anode *vi = NULL, *l;
		const struct val *vv = arg(bd, "VI");
		if (vv && vv->k != V_NONE) {
			if (!as_array(c, vv, &vi, "VI"))
				return false;
			if (vi->ndim != 2 || vi->shape[0] != nf || vi->shape[1] != nf) {
				char sh[64];
				format_shape(vi, sh, sizeof sh);
				return FAIL(c, vv->off, "VI has shape %s; it needs (%" PRId64 ", %" PRId64 ") for %" PRId64 " features",
					    sh, nf, nf, nf);
			}
			if (!(l = make_chol(c, vi, false, off, vv->off)))
				return false;
		} else {
			struct anode *all = cd ? rows_of_both(c, x, y, off) : x;
			if (!all)
				return false;
			if (all->shape[0] < 2)
				return FAIL(c, off, "mahalanobis needs VI= with fewer than 2 rows");
			/* cov = (all - mean)^T (all - mean) / (n - 1) */
			struct anode *mean = reduce_kept(c, "mean", all, 0, off);
			if (!mean)
				return false;
			struct anode *in[2] = { all, mean };
			struct anode *xc = make_ew(c, EW_SUB, in, 2, off, "-");
			int perm[2] = { 1, 0 };
			struct anode *prod = xc ? make_matmul(c, transposed(c, xc, perm, off), xc, off) : NULL;
			if (!prod)
				return false;
			struct anode *in2[2] = { prod, float_node(c, (double)(all->shape[0] - 1), off) };
			struct anode *cov = make_ew(c, EW_DIV, in2, 2, off, "/");
			if (!cov || !(l = make_chol(c, cov, true, off, off)))
				return false;
		}
		struct anode *xw = make_matmul(c, x, l, off);
		if (!xw)
			return false;
		y = cd ? make_matmul(c, y, l, off) : xw;
		if (!y)
			return false;
		x = xw;
	}
	if (m == K_DIST_JENSENSHANNON) {
		/* scipy divides each row by its sum first. A row of zeros is 0/0 there, and every distance to
		 * it nan; here a NaN would read as a missing value (skipped, giving 0), so such a row becomes
		 * infinities, which make its distances nan in the kernels' arithmetic. */
		struct anode **sides[2] = { &x, &y };
		for (int k = 0; k < (cd ? 2 : 1); k++) {
			struct anode *s = *sides[k];
			struct anode *sum = reduce_kept(c, "sum", s, 1, off);
			if (!sum)
				return false;
			struct val zv = { .k = V_FLOAT, .off = off, .f = 0.0 }, iv = { .k = V_FLOAT, .off = off, .f = INFINITY };
			struct anode *eq_in[2] = { sum, scalar_node(c, &zv) }, *in[2] = { s, sum };
			struct anode *empty = make_ew(c, EW_EQ, eq_in, 2, off, "=="), *div = make_ew(c, EW_DIV, in, 2, off, "/");
			if (!empty || !div)
				return false;
			struct anode *w_in[3] = { empty, scalar_node(c, &iv), div };
			if (!(*sides[k] = make_ew(c, EW_WHERE, w_in, 3, off, "where")))
				return false;
		}
		if (!cd)
			y = x;
	}
	r->weighted = w != NULL;
	r->n_in = w ? 3 : 2;
	r->in[0] = x;
	r->in[1] = y;
	r->in[2] = w;
	for (int k = 0; k < r->n_in; k++)
		r->in[k]->n_users++;
	r->dtype = DT_FLOAT64;
	/* Tiles: a tile's statistics and its rows of one feature group each
	 * within a share of the memory limit (and of the chunk size). */
	uint64_t work = c->b->chunk_bytes / 4;
	if (c->b->mem_limit && c->b->mem_limit / 32 < work)
		work = c->b->mem_limit / 32;
	if (work < (256u << 10))
		work = 256u << 10;
	int n_stats = k_dist_info_of((enum k_dist_metric)m)->n_stats;
	int64_t rb = (int64_t)sqrt((double)work / (8.0 * n_stats));
	if (r->condensed && !cd) {
		/* a condensed chunk is a stripe of rows against every later row: keep it near the tile's size */
		int64_t stripe = (int64_t)(2 * work / 8) / (x->shape[0] > 0 ? x->shape[0] : 1);
		if (stripe < rb)
			rb = stripe < 32 ? 32 : stripe;
	}
	if (rb < 16)
		rb = 16;
	r->tiles[0] = split_even(c, x->shape[0], rb);
	r->tiles[1] = cd ? split_even(c, y->shape[0], rb) : r->tiles[0];
	int64_t t0 = r->tiles[0].bounds[1], t1 = r->tiles[1].bounds[1];
	/* A GPU job stages its pieces in two pinned buffers, which the CUDA plugin keeps for the next job.
	 * Pieces of about 2048 features as doubles, or more: a piece's GEMM then outweighs its element
	 * launches (row sums, operands, the merge of its pairs), where a 12000-row tile of 32 MiB pieces
	 * (320 features) ran at a quarter of the card's fp64 rate. But pinning is slow and stalls the
	 * device (16 workers' 128 MiB buffers made a run 1.6 times slower): beyond 32 MiB each, the
	 * workers' buffers take 1 GiB together at most; and an eighth of the limit at most. */
	uint64_t stage = (uint64_t)(t0 + t1) * 2048u * 8u; /* an off-diagonal tile's two sides */
	uint64_t most = ((uint64_t)1 << 29) / (uint64_t)jobs;
	if (stage > most)
		stage = most;
	if (stage < (32u << 20))
		stage = 32u << 20;
	if (c->b->mem_limit && c->b->mem_limit / (16u * (uint64_t)jobs) < stage)
		stage = c->b->mem_limit / (16u * (uint64_t)jobs);
	r->gpu_stage = stage;
	/* what the limit must leave a GPU run besides its tasks' statistics: each worker's two pinned
	 * buffers, and its share of CUDA's own memory in the process */
	r->gpu_work = 2 * stage + CUDA_HOST_BYTES / (uint64_t)jobs;
	/* a group's rows as the kernels read them: int8 genotypes stay one byte an element */
	int isz = ((x->dtype == DT_INT8 && r->missing == PD_MISSING_AUTO) || x->dtype == DT_BOOL) ? 1 : 8;
	int64_t g = (int64_t)(work / (uint64_t)isz) / (t0 > t1 ? t0 : t1);
	int64_t n_trees = cd ? r->tiles[0].n * r->tiles[1].n : r->tiles[0].n * (r->tiles[0].n + 1) / 2;
	if (n_trees < 4) { /* few tiles: more groups, so the workers have maps to share */
		int64_t want = (nf * n_trees + 3) / 4;
		if (want < 256)
			want = 256;
		if (want < g)
			g = want;
	}
	r->groups = feature_groups(c, &x->chunks[1], nf, g > 0 ? g : 1);
	if (r->tiles[0].n > 1 || r->tiles[1].n > 1) {
		/* Each tile reads its rows again for every tile it meets: keep them,
		 * chunked as the tasks read them (a tile's rows by a feature group),
		 * so a task holds no more than its own boxes. A .npy file is read
		 * again instead. */
		struct anode **sides[2] = { &r->in[0], &r->in[1] };
		for (int k = 0; k < (cd ? 2 : 1); k++) {
			struct anode *s0 = *sides[k];
			if (s0->kind == AN_NPY)
				continue;
			struct anode *rows = new_view(c, s0, off);
			s0->n_users -= r->self_pair ? 2 : 1; /* the view reads it instead of the distance */
			rows->label = "rows";
			rows->ndim = 2;
			for (int a = 0; a < 2; a++) {
				rows->vsrc[a] = a;
				rows->vstep[a] = 1;
				rows->shape[a] = s0->shape[a];
			}
			rows->chunks[0] = r->tiles[k];
			rows->chunks[1] = r->groups;
			rows->n_users = r->self_pair ? 2 : 1;
			*sides[k] = rows;
		}
		if (!cd)
			r->in[1] = r->in[0];
	}
	r->id = c->b->next_id++; /* newer than the inputs built above: ids grow from inputs to users */
	if (r->condensed) {
		int64_t n = x->shape[0];
		r->ndim = 1;
		r->shape[0] = n * (n - 1) / 2;
		int64_t *b = arena_alloc(c->b->arena, (size_t)(r->tiles[0].n + 1) * sizeof *b);
		for (int64_t k = 0; k <= r->tiles[0].n; k++) {
			int64_t r0 = r->tiles[0].bounds[k];
			b[k] = r0 * n - r0 * (r0 + 1) / 2;
		}
		r->chunks[0] = (struct axis_chunks){ r->tiles[0].n, b };
	} else {
		r->ndim = 2;
		r->shape[0] = x->shape[0];
		r->shape[1] = y->shape[0];
		r->chunks[0] = r->tiles[0];
		r->chunks[1] = r->tiles[1];
	}
	return ret_array(out, off, r);
}

/* The dotted name of a callee, "random.uniform" or "sqrt"; np./numpy. prefixes dropped. */
static const char *callee_name(struct ctx *c, const struct expr *f, char *buf, size_t len)
{
	if (f->kind == EX_NAME) {
		snprintf(buf, len, "%s", f->str);
		return buf;
	}
	if (f->kind == EX_ATTR && f->a->kind == EX_NAME) {
		const char *mod = f->a->str;
		if (!strcmp(mod, "np") || !strcmp(mod, "numpy") || !strcmp(mod, "da"))
			snprintf(buf, len, "%s", f->str);
		else
			snprintf(buf, len, "%s.%s", mod, f->str);
		return buf;
	}
	if (f->kind == EX_ATTR && f->a->kind == EX_ATTR && f->a->a->kind == EX_NAME &&
	    (!strcmp(f->a->a->str, "np") || !strcmp(f->a->a->str, "numpy") || !strcmp(f->a->a->str, "da"))) {
		snprintf(buf, len, "%s.%s", f->a->str, f->str);
		return buf;
	}
	(void)c;
	return NULL;
}

/* numpy names users will reach for that Tessera does not have yet: say so plainly. */
static bool planned(const char *name)
{
	static const char *const names[] = { "ravel", "flatten", "cumsum", "cumprod",
					     "sort", "unique", "einsum", "outer", "vstack", "hstack", NULL };
	for (const char *const *n = names; *n; n++)
		if (!strcmp(*n, name))
			return true;
	return false;
}

static bool unknown_function(struct ctx *c, const char *name, uint32_t off)
{
	if (planned(name))
		return FAIL(c, off, "'%s' is not implemented yet", name);
	size_t n;
	const char *const *names = op_names(&n);
	const char *dym = did_you_mean(name, names, n);
	if (dym)
		return FAIL(c, off, "unknown function '%s' (did you mean '%s'?)", name, dym);
	return FAIL(c, off, "unknown function '%s'", name);
}

/* x.to_array(): the rows of frame expression x as a float64 array, a row chunk per non-empty partition. */
static bool to_array(struct ctx *c, const struct expr *x, struct val *out)
{
	const struct expr *f = x->a;
	uint32_t name_off = f->off + f->len - (uint32_t)strlen(f->str);
	if (x->n || x->n_kw)
		return FAIL(c, x->n ? x->items[0]->off : x->kw_offs[0], "to_array() takes no arguments (rechunk() the result "
			    "for other chunks)");
	if (!c->b->to_array)
		return FAIL(c, name_off, "to_array() needs a frame");
	const struct frame_array *fa = c->b->to_array(c->b->lookup_arg, c->d, f->a, name_off);
	if (!fa)
		return false;
	struct anode *n = new_node(c, AN_FRAME, x->off);
	n->label = "to_array";
	n->dtype = DT_FLOAT64;
	n->frame = fa;
	n->ndim = fa->series ? 1 : 2;
	int64_t rows = 0, nonempty = 0;
	for (int64_t k = 0; k < fa->n_parts; k++) {
		rows += fa->rows[k];
		nonempty += fa->rows[k] > 0;
	}
	n->shape[0] = rows;
	/* one chunk per partition that has rows (an empty array: one empty chunk) */
	int64_t nch = nonempty ? nonempty : 1;
	int64_t *bounds = arena_alloc(c->b->arena, (size_t)(nch + 1) * sizeof *bounds);
	int64_t *part = arena_alloc(c->b->arena, (size_t)nch * sizeof *part);
	bounds[0] = 0;
	part[0] = 0;
	for (int64_t k = 0, j = 0; k < fa->n_parts; k++)
		if (fa->rows[k] > 0) {
			part[j] = k;
			bounds[j + 1] = bounds[j] + fa->rows[k];
			j++;
		}
	if (!nonempty)
		bounds[1] = 0;
	n->chunks[0] = (struct axis_chunks){ nch, bounds };
	n->fpart = part;
	if (n->ndim == 2) {
		n->shape[1] = fa->n_cols;
		int64_t nc;
		n->chunks[1].bounds = even_bounds(c->b->arena, fa->n_cols, fa->n_cols, &nc);
		n->chunks[1].n = nc;
	}
	return ret_array(out, x->off, n);
}

static bool eval_call(struct ctx *c, const struct expr *x, struct val *out)
{
	const struct expr *f = x->a;
	if (f->kind == EX_ATTR && !strcmp(f->str, "to_array"))
		return to_array(c, x, out);
	/* A method call on a value: x.sum(axis=1), x.astype("f4"). */
	if (f->kind == EX_ATTR) {
		bool module = f->a->kind == EX_NAME && (!strcmp(f->a->str, "np") || !strcmp(f->a->str, "numpy") ||
						       !strcmp(f->a->str, "random") || !strcmp(f->a->str, "linalg") ||
						       !strcmp(f->a->str, "da"));
		if (f->a->kind == EX_ATTR && f->a->a->kind == EX_NAME &&
		    (!strcmp(f->a->str, "random") || !strcmp(f->a->str, "linalg")))
			module = true;
		if (module && f->a->kind == EX_NAME && c->b->lookup(c->b->lookup_arg, f->a->str, at(c, f->a->off)))
			module = false; /* a node named like a module wins */
		if (!module) {
			struct val self;
			if (!eval(c, f->a, &self))
				return false;
			const struct op *op = op_find(f->str);
			uint32_t name_off = f->off + f->len - (uint32_t)strlen(f->str);
			if (!op && planned(f->str))
				return FAIL(c, name_off, "'%s' is not implemented yet", f->str);
			if (!op || !(op->flags & OP_METHOD))
				return FAIL(c, name_off, "%s has no method '%s'", vkind_name(self.k), f->str);
			return call_op(c, op, x, &self, out);
		}
	}
	char buf[128];
	const char *name = callee_name(c, f, buf, sizeof buf);
	if (!name)
		return FAIL(c, f->off, "this cannot be called");
	const struct op *op = op_find(name);
	if (!op || !(op->flags & OP_ARRAY || op->afn == AFN_LOAD))
		return unknown_function(c, name, f->off);
	return call_op(c, op, x, NULL, out);
}

static bool eval_attr(struct ctx *c, const struct expr *x, struct val *out)
{
	struct val v;
	uint32_t name_off = x->off + x->len - (uint32_t)strlen(x->str);
	if (x->a->kind == EX_NAME && (!strcmp(x->a->str, "np") || !strcmp(x->a->str, "numpy"))) {
		if (!strcmp(x->str, "pi") || !strcmp(x->str, "e") || !strcmp(x->str, "inf") || !strcmp(x->str, "nan")) {
			memset(out, 0, sizeof *out);
			out->k = V_FLOAT;
			out->off = x->off;
			out->f = !strcmp(x->str, "pi") ? M_PI : !strcmp(x->str, "e") ? M_E : !strcmp(x->str, "inf") ? INFINITY : NAN;
			return true;
		}
	}
	if (!eval(c, x->a, &v))
		return false;
	if (v.k != V_ARRAY)
		return FAIL(c, name_off, "%s has no attribute '%s'", vkind_name(v.k), x->str);
	const struct anode *a = v.a;
	memset(out, 0, sizeof *out);
	out->off = x->off;
	if (!strcmp(x->str, "shape")) {
		out->k = V_TUPLE;
		out->n = (size_t)a->ndim;
		out->items = arena_alloc(c->b->arena, (size_t)(a->ndim ? a->ndim : 1) * sizeof *out->items);
		for (int k = 0; k < a->ndim; k++)
			out->items[k] = (struct val){ .k = V_INT, .i = a->shape[k], .off = x->off };
		return true;
	}
	if (!strcmp(x->str, "ndim") || !strcmp(x->str, "size")) {
		out->k = V_INT;
		out->i = a->ndim;
		if (!strcmp(x->str, "size")) {
			out->i = 1;
			for (int k = 0; k < a->ndim; k++)
				out->i *= a->shape[k];
		}
		return true;
	}
	if (!strcmp(x->str, "T")) {
		int perm[AR_MAX_DIMS];
		for (int k = 0; k < a->ndim; k++)
			perm[k] = a->ndim - 1 - k;
		out->k = V_ARRAY;
		out->a = transposed(c, v.a, perm, x->off);
		return true;
	}
	return FAIL(c, name_off, "an array has no attribute '%s'", x->str);
}

/* The chunk grid of a view's axis k, from its input's axis. */
static void view_chunks(struct ctx *c, struct anode *v, int k, int64_t len)
{
	const struct anode *in = v->in[0];
	int j = v->vsrc[k];
	int64_t n;
	if (j < 0 || len == 0) {
		v->chunks[k].bounds = even_bounds(c->b->arena, len, len, &n);
		v->chunks[k].n = n;
		return;
	}
	const struct axis_chunks *ax = &in->chunks[j];
	if (k != v->vlist_axis && v->vstep[k] == 1) {
		/* keep the input's boundaries inside the slice: chunks stay aligned */
		int64_t lo = v->vstart[k], hi = lo + len;
		int64_t *b = arena_alloc(c->b->arena, (size_t)(ax->n + 2) * sizeof *b);
		int64_t m = 0;
		b[m++] = 0;
		for (int64_t i = 1; i < ax->n; i++)
			if (ax->bounds[i] > lo && ax->bounds[i] < hi)
				b[m++] = ax->bounds[i] - lo;
		b[m] = len;
		v->chunks[k].bounds = b;
		v->chunks[k].n = m;
		return;
	}
	int64_t size = ax->n ? ax->bounds[1] - ax->bounds[0] : len;
	int64_t step = k == v->vlist_axis ? 1 : (v->vstep[k] < 0 ? -v->vstep[k] : v->vstep[k]);
	size = size / step > 0 ? size / step : 1;
	v->chunks[k].bounds = even_bounds(c->b->arena, len, size, &n);
	v->chunks[k].n = n;
}

static struct anode *new_view(struct ctx *c, struct anode *in, uint32_t off)
{
	struct anode *v = new_node(c, AN_VIEW, off);
	v->label = "view";
	v->dtype = in->dtype;
	v->weak = in->weak;
	v->n_in = 1;
	v->in[0] = in;
	in->n_users++;
	v->vlist_axis = -1;
	return v;
}

/* Python's slice.indices(): start and count for @step over an axis of @n. */
static void slice_indices(bool has_start, int64_t start, bool has_stop, int64_t stop, int64_t step, int64_t n,
			  int64_t *first, int64_t *count)
{
	if (step > 0) {
		start = has_start ? (start < 0 ? (start + n < 0 ? 0 : start + n) : (start > n ? n : start)) : 0;
		stop = has_stop ? (stop < 0 ? (stop + n < 0 ? 0 : stop + n) : (stop > n ? n : stop)) : n;
		*count = stop > start ? (stop - start + step - 1) / step : 0;
	} else {
		start = has_start ? (start < 0 ? (start + n < 0 ? -1 : start + n) : (start > n - 1 ? n - 1 : start)) : n - 1;
		stop = has_stop ? (stop < 0 ? (stop + n < 0 ? -1 : stop + n) : (stop > n - 1 ? n - 1 : stop)) : -1;
		*count = start > stop ? (start - stop + (-step) - 1) / (-step) : 0;
	}
	*first = start;
}

static bool eval_index(struct ctx *c, const struct expr *x, struct val *out)
{
	struct val v;
	if (!eval(c, x->a, &v))
		return false;
	if (v.k == V_TUPLE) { /* x.shape[0] */
		if (x->n != 1)
			return FAIL(c, x->off, "a tuple takes one index");
		struct val iv;
		if (!eval(c, x->items[0], &iv))
			return false;
		int64_t i = 0;
		if (!to_int(c, &iv, "a tuple index", &i))
			return false;
		if (i < 0)
			i += (int64_t)v.n;
		if (i < 0 || i >= (int64_t)v.n)
			return FAIL(c, iv.off, "index %" PRId64 " is out of range for a tuple of %zu", iv.i, v.n);
		*out = v.items[i];
		return true;
	}
	if (v.k != V_ARRAY)
		return FAIL(c, x->off, "%s cannot be indexed", vkind_name(v.k));
	struct anode *in = v.a;
	/* How many input axes the subscripts use, to expand '...'. */
	int used = 0, ellipses = 0;
	for (size_t i = 0; i < x->n; i++) {
		const struct expr *s = x->items[i];
		if (s->kind == EX_ELLIPSIS)
			ellipses++;
		else if (s->kind != EX_NONE)
			used++;
	}
	if (ellipses > 1)
		return FAIL(c, x->off, "an index can only have a single ellipsis ('...')");
	if (used > in->ndim)
		return FAIL(c, x->off, "too many indices for array: array is %d-dimensional, but %d were indexed",
			    in->ndim, used);
	struct anode *r = new_view(c, in, x->off);
	for (int j = 0; j < in->ndim; j++)
		r->vfix[j] = 0;
	int ax = 0, o = 0;
	for (size_t i = 0; i <= x->n; i++) {
		const struct expr *s = i < x->n ? x->items[i] : NULL;
		if (!s || s->kind == EX_ELLIPSIS) {
			/* '...' (or the end) takes the input axes no subscript names */
			int take = s ? in->ndim - used : (i == x->n ? in->ndim - ax : 0);
			if (!s && ellipses)
				take = in->ndim - ax;
			for (int t = 0; t < take; t++, ax++, o++) {
				if (o >= AR_MAX_DIMS)
					return FAIL(c, x->off, "at most %d dimensions", AR_MAX_DIMS);
				r->vsrc[o] = ax;
				r->vstart[o] = 0;
				r->vstep[o] = 1;
				r->shape[o] = in->shape[ax];
			}
			continue;
		}
		if (s->kind == EX_NONE) {
			if (o >= AR_MAX_DIMS)
				return FAIL(c, s->off, "at most %d dimensions", AR_MAX_DIMS);
			r->vsrc[o] = -1;
			r->vstep[o] = 1;
			r->shape[o++] = 1;
			continue;
		}
		if (s->kind == EX_SLICE) {
			int64_t a = 0, b = 0, st = 1;
			struct val sv;
			if (s->step) {
				if (!eval(c, s->step, &sv) || !to_int(c, &sv, "a slice step", &st))
					return false;
				if (st == 0)
					return FAIL(c, s->step->off, "slice step cannot be zero");
			}
			if (s->start && (!eval(c, s->start, &sv) || !to_int(c, &sv, "a slice start", &a)))
				return false;
			if (s->stop && (!eval(c, s->stop, &sv) || !to_int(c, &sv, "a slice stop", &b)))
				return false;
			int64_t first, count;
			slice_indices(s->start != NULL, a, s->stop != NULL, b, st, in->shape[ax], &first, &count);
			r->vsrc[o] = ax;
			r->vstart[o] = first;
			r->vstep[o] = st;
			r->shape[o++] = count;
			ax++;
			continue;
		}
		struct val iv;
		if (!eval(c, s, &iv))
			return false;
		if (iv.k == V_TUPLE) {
			/* a list of indices along this axis */
			if (r->vlist_axis >= 0)
				return FAIL(c, s->off, "only one list index is supported");
			int64_t *list = arena_alloc(c->b->arena, (iv.n ? iv.n : 1) * sizeof *list);
			for (size_t k = 0; k < iv.n; k++) {
				int64_t e = 0;
				if (!to_int(c, &iv.items[k], "a list index", &e))
					return false;
				if (e < -in->shape[ax] || e >= in->shape[ax])
					return FAIL(c, iv.items[k].off, "index %" PRId64 " is out of bounds for axis %d with size %" PRId64,
						    e, ax, in->shape[ax]);
				list[k] = e < 0 ? e + in->shape[ax] : e;
			}
			r->vlist_axis = o;
			r->vlist = list;
			r->vsrc[o] = ax;
			r->vstep[o] = 1;
			r->shape[o++] = (int64_t)iv.n;
			ax++;
			continue;
		}
		int64_t e = 0;
		if (!to_int(c, &iv, "an index", &e))
			return false;
		if (e < -in->shape[ax] || e >= in->shape[ax])
			return FAIL(c, s->off, "index %" PRId64 " is out of bounds for axis %d with size %" PRId64, e, ax,
				    in->shape[ax]);
		r->vfix[ax] = e < 0 ? e + in->shape[ax] : e;
		ax++;
	}
	r->ndim = o;
	for (int k = 0; k < r->ndim; k++)
		view_chunks(c, r, k, r->shape[k]);
	if (is_const(in) && in->kind == AN_GEN)
		fold_constant(r);
	return ret_array(out, x->off, r);
}

/* A permutation of @in's axes as a view. */
static struct anode *transposed(struct ctx *c, struct anode *in, const int *perm, uint32_t off)
{
	struct anode *r = new_view(c, in, off);
	r->ndim = in->ndim;
	for (int k = 0; k < in->ndim; k++) {
		r->vsrc[k] = perm[k];
		r->vstart[k] = 0;
		r->vstep[k] = 1;
		r->shape[k] = in->shape[perm[k]];
		r->chunks[k] = in->chunks[perm[k]];
	}
	if (is_const(in) && in->kind == AN_GEN)
		fold_constant(r);
	return r;
}

static bool eval(struct ctx *c, const struct expr *x, struct val *out)
{
	memset(out, 0, sizeof *out);
	out->off = x->off;
	switch (x->kind) {
	case EX_INT:
		out->k = V_INT;
		out->i = x->i;
		return true;
	case EX_FLOAT:
		out->k = V_FLOAT;
		out->f = x->f;
		return true;
	case EX_BOOL:
		out->k = V_BOOL;
		out->b = x->b;
		return true;
	case EX_NONE:
		out->k = V_NONE;
		return true;
	case EX_STR:
		out->k = V_STR;
		out->s = x->str;
		return true;
	case EX_TUPLE:
	case EX_LIST:
		out->k = V_TUPLE;
		out->n = x->n;
		out->items = arena_alloc(c->b->arena, (x->n ? x->n : 1) * sizeof *out->items);
		for (size_t i = 0; i < x->n; i++)
			if (!eval(c, x->items[i], &out->items[i]))
				return false;
		return true;
	case EX_NAME: {
		struct anode *a = c->b->lookup(c->b->lookup_arg, x->str, at(c, x->off));
		if (a) {
			out->k = V_ARRAY;
			out->a = a;
			return true;
		}
		if (err_set(c->b->e))
			return false;
		if (!strcmp(x->str, "pi") || !strcmp(x->str, "e") || !strcmp(x->str, "inf") || !strcmp(x->str, "nan")) {
			out->k = V_FLOAT;
			out->f = !strcmp(x->str, "pi") ? M_PI : !strcmp(x->str, "e") ? M_E : !strcmp(x->str, "inf") ? INFINITY : NAN;
			return true;
		}
		if (!strcmp(x->str, "newaxis")) {
			out->k = V_NONE;
			return true;
		}
		if (op_find(x->str))
			return FAIL(c, x->off, "'%s' is a function: call it, e.g. %s(x)", x->str, x->str);
		return FAIL(c, x->off, "unknown name '%s' (not a node, a parameter or a constant)", x->str);
	}
	case EX_BINARY:
		return eval_binary(c, x, out);
	case EX_UNARY:
		return eval_unary(c, x, out);
	case EX_CALL:
		return eval_call(c, x, out);
	case EX_ATTR:
		return eval_attr(c, x, out);
	case EX_INDEX:
		return eval_index(c, x, out);
	case EX_ELLIPSIS:
	case EX_SLICE:
		return FAIL(c, x->off, "'...' and slices only make sense inside [ ]");
	}
	return FAIL(c, x->off, "unexpected expression");
}

struct anode *array_from_expr(struct abuild *b, const struct doc *d, const char *text)
{
	struct ctx c = { b, d, text };
	struct expr *x = expr_parse(b->arena, text, strlen(text), where_cb, &c, b->e);
	if (!x)
		return NULL;
	struct val v;
	if (!eval(&c, x, &v))
		return NULL;
	if (v.k == V_ARRAY)
		return v.a;
	if (is_number(&v)) {
		struct anode *n = scalar_node(&c, &v);
		n->weak = false;
		return n;
	}
	err_at(b->e, at(&c, x->off), "an expression node must give an array or a number, not %s", vkind_name(v.k));
	return NULL;
}
