/* SPDX-License-Identifier: MIT */
/*
 * frame/build: a frame expression -> a checked DAG of fnodes.
 *
 * The expression is walked once, bottom up, into values (struct fval): a
 * frame, a column of a frame (a column expression), a groupby, a constant,
 * a list. Methods and subscripts switch on the value's kind, the way pandas
 * dispatches on DataFrame, Series and GroupBy. Every column name is checked
 * against the frame's schema (with a "did you mean"), every operation
 * against the column types, so a run never starts on a spec that cannot
 * finish.
 */
#include "frame/frame_int.h"
#include "frame/join.h"
#include "kernels.h"
#include "util/text.h"
#include "util/xalloc.h"

#include <glob.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum fv_kind { FV_CONST, FV_LIST, FV_FRAME, FV_COL, FV_GROUPBY, FV_GCOL, FV_STRACC, FV_DTACC, FV_SHAPE, FV_DICT, FV_LOC, FV_SPLIT, FV_SPLITACC };

struct fval {
	enum fv_kind kind;
	const struct expr *x;
	struct fnode *f;       /* FRAME, GROUPBY and GCOL (the grouped frame), SHAPE, LOC */
	struct cexpr *c;       /* COL, CONST, STRACC, DTACC; SPLIT and SPLITACC: the part to come, index unset */
	size_t n;              /* LIST, DICT */
	struct fval *items;
	const char **keys;     /* DICT */
	int n_keys;            /* GROUPBY, GCOL */
	int *keys_idx;
	int n_sel;             /* GCOL: value columns; -1: every non-key column */
	int *sel;
};

struct ctx {
	struct fbuild *b;
	const struct doc *d;
	struct fnode *query; /* inside query(): bare names are this frame's columns */
};

static struct loc at(struct ctx *c, uint32_t off)
{
	return doc_loc_at(c->d, off);
}

static struct loc where_cb(void *arg, size_t off)
{
	return at(arg, (uint32_t)off);
}

static int fail(struct ctx *c, const struct expr *x, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, const struct expr *x, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	uint32_t off = x ? x->off : 0;
	/* a method call's error points at the method's name, not at the start of its object */
	if (x && x->kind == EX_CALL && x->a && x->a->kind == EX_ATTR && x->a->str)
		off = x->a->off + x->a->len - (uint32_t)strlen(x->a->str);
	/* and an attribute's at its name */
	if (x && x->kind == EX_ATTR && x->str)
		off = x->off + x->len - (uint32_t)strlen(x->str);
	return err_at(c->b->e, at(c, off), "%s", msg);
}

static void *alloc(struct ctx *c, size_t n)
{
	void *p = arena_alloc(c->b->arena, n ? n : 1);
	memset(p, 0, n ? n : 1);
	return p;
}

static struct fnode *new_node(struct ctx *c, enum fnode_kind k, struct fnode *in, const struct expr *x,
			      const char *label)
{
	struct fnode *f = alloc(c, sizeof *f);
	f->kind = k;
	f->in = in;
	f->loc = at(c, x ? x->off : 0);
	f->owner = c->b->owner;
	f->label = label;
	f->limit = -1;
	if (in)
		in->n_users++;
	return f;
}

/* A copy of @in's schema for a node that keeps it (filter, dropna, head, sort). */
static void same_schema(struct ctx *c, struct fnode *f, const struct fnode *in)
{
	f->n_cols = in->n_cols;
	f->names = alloc(c, (size_t)in->n_cols * sizeof *f->names);
	f->types = alloc(c, (size_t)in->n_cols * sizeof *f->types);
	memcpy(f->names, in->names, (size_t)in->n_cols * sizeof *f->names);
	memcpy(f->types, in->types, (size_t)in->n_cols * sizeof *f->types);
}

/* An assign() node over @in: in's columns passed through, and room for @extra more (cx[k] set by the
 * caller computes column k). */
static struct fnode *assign_node(struct ctx *c, struct fnode *in, const struct expr *x, const char *label, int extra)
{
	struct fnode *f = new_node(c, FN_ASSIGN, in, x, label);
	int cap = in->n_cols + extra;
	f->names = alloc(c, (size_t)(cap ? cap : 1) * sizeof *f->names);
	f->types = alloc(c, (size_t)(cap ? cap : 1) * sizeof *f->types);
	f->src_col = alloc(c, (size_t)(cap ? cap : 1) * sizeof *f->src_col);
	f->cx = alloc(c, (size_t)(cap ? cap : 1) * sizeof *f->cx);
	for (int k = 0; k < in->n_cols; k++) {
		f->names[k] = in->names[k];
		f->types[k] = in->types[k];
		f->src_col[k] = k;
	}
	f->n_cols = in->n_cols;
	return f;
}

static int find_col(const struct fnode *f, const char *name)
{
	for (int k = 0; k < f->n_cols; k++)
		if (!strcmp(f->names[k], name))
			return k;
	return -1;
}

static int col_or_fail(struct ctx *c, const struct expr *x, const struct fnode *f, const char *name)
{
	int k = find_col(f, name);
	if (k >= 0)
		return k;
	const char *hint = did_you_mean(name, f->names, (size_t)f->n_cols);
	if (hint)
		return fail(c, x, "no column '%s' (did you mean '%s'?)", name, hint) - 1;
	return fail(c, x, "no column '%s'; the columns are %s%s%s%s", name, f->names[0] ? f->names[0] : "",
		    f->n_cols > 1 ? ", " : "", f->n_cols > 1 ? f->names[1] : "", f->n_cols > 2 ? ", ..." : "") - 1;
}

static bool is_num(enum col_type t)
{
	return t == COL_BOOL || t == COL_INT64 || t == COL_FLOAT64;
}

/* The value @v of expression @x: a frame, or a column expression. 0, for `return`. */
static int frame_val(struct fval *v, const struct expr *x, struct fnode *f)
{
	memset(v, 0, sizeof *v);
	v->kind = FV_FRAME;
	v->x = x;
	v->f = f;
	return 0;
}

static int col_val(struct fval *v, const struct expr *x, struct cexpr *c)
{
	memset(v, 0, sizeof *v);
	v->kind = FV_COL;
	v->x = x;
	v->c = c;
	return 0;
}

/* ---- constants and columns ---- */

static struct cexpr *cx_new(struct ctx *c, enum cx_kind k, enum col_type t, const struct expr *x)
{
	struct cexpr *e = alloc(c, sizeof *e);
	e->kind = k;
	e->type = t;
	e->loc = at(c, x ? x->off : 0);
	return e;
}

static struct cexpr *cx_col(struct ctx *c, struct fnode *f, int col, const struct expr *x)
{
	struct cexpr *e = cx_new(c, CX_COL, f->types[col], x);
	e->frame = f;
	e->col = col;
	return e;
}

static struct fnode *cx_frame(const struct cexpr *e)
{
	if (!e)
		return NULL;
	if (e->kind == CX_COL)
		return e->frame;
	struct fnode *f = cx_frame(e->a);
	if (!f)
		f = cx_frame(e->b);
	for (size_t i = 0; !f && i < e->n_list; i++)
		f = cx_frame(e->list[i]);
	return f;
}

static int set_frame(struct ctx *c, const struct expr *x, struct cexpr *e)
{
	struct fnode *fa = cx_frame(e->a), *fb = cx_frame(e->b);
	if (fa && fb && fa != fb)
		return fail(c, x, "columns of two different frames cannot be combined here (pandas would align "
				  "them by index): compute both from the same frame");
	e->frame = fa ? fa : fb;
	return 0;
}

static int literal(struct ctx *c, const struct expr *x, struct fval *v)
{
	memset(v, 0, sizeof *v);
	v->kind = FV_CONST;
	v->x = x;
	switch (x->kind) {
	case EX_INT:
		v->c = cx_new(c, CX_CONST, COL_INT64, x);
		v->c->i = x->i;
		v->c->f = (double)x->i;
		return 0;
	case EX_FLOAT:
		v->c = cx_new(c, CX_CONST, COL_FLOAT64, x);
		v->c->f = x->f;
		return 0;
	case EX_STR:
		v->c = cx_new(c, CX_CONST, COL_STRING, x);
		v->c->s = x->str;
		v->c->slen = strlen(x->str);
		return 0;
	case EX_BOOL:
		v->c = cx_new(c, CX_CONST, COL_BOOL, x);
		v->c->i = x->b;
		v->c->f = x->b;
		return 0;
	case EX_NONE:
		v->c = cx_new(c, CX_CONST, COL_FLOAT64, x);
		v->c->is_null = true;
		v->c->f = NAN;
		return 0;
	default:
		return fail(c, x, "internal: not a literal");
	}
}

/* A constant compared with or assigned to a column of type @t: converted, or an error. */
static int coerce_const(struct ctx *c, struct cexpr *k, enum col_type t)
{
	if (k->kind != CX_CONST || k->is_null || k->type == t)
		return 0;
	if (t == COL_DATE && k->type == COL_STRING) {
		if (!csv_parse_date(k->s, k->slen, &k->d))
			return err_at(c->b->e, k->loc, "'%s' is not a date (YYYY-MM-DD)", k->s);
		k->type = COL_DATE;
		return 0;
	}
	if (is_num(t) && is_num(k->type))
		return 0;
	return err_at(c->b->e, k->loc, "a %s constant cannot be compared with or stand for a %s column",
		      col_type_name(k->type), col_type_name(t));
}

static int to_cx(struct ctx *c, struct fval *v, struct cexpr **out)
{
	if (v->kind == FV_COL || v->kind == FV_CONST) {
		*out = v->c;
		return 0;
	}
	const char *what = v->kind == FV_FRAME ? "a frame" : v->kind == FV_GROUPBY ? "a groupby" :
			   v->kind == FV_LIST ? "a list" : "this value";
	return fail(c, v->x, "%s cannot be used as a column here", what);
}

/* ---- the walk ---- */

static int eval(struct ctx *c, const struct expr *x, struct fval *v);

static const struct expr *kwarg(const struct expr *x, const char *name)
{
	for (size_t i = 0; i < x->n_kw; i++)
		if (!strcmp(x->kw_names[i], name))
			return x->kw_vals[i];
	return NULL;
}

/* Checks that call @x has at most @max_pos positional args and only keywords in @kws (NULL-ended). */
static int check_args(struct ctx *c, const struct expr *x, const char *fn, size_t max_pos, const char *const *kws)
{
	if (x->n > max_pos)
		return fail(c, x->items[max_pos], "%s() takes at most %zu positional argument%s", fn, max_pos,
			    max_pos == 1 ? "" : "s");
	for (size_t i = 0; i < x->n_kw; i++) {
		bool ok = false;
		for (size_t k = 0; kws && kws[k]; k++)
			ok |= !strcmp(kws[k], x->kw_names[i]);
		if (!ok) {
			size_t nk = 0;
			while (kws && kws[nk])
				nk++;
			const char *hint = kws ? did_you_mean(x->kw_names[i], kws, nk) : NULL;
			return err_at(c->b->e, at(c, x->kw_offs[i]), "%s() has no keyword '%s'%s%s%s", fn,
				      x->kw_names[i], hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
		}
	}
	return 0;
}

/* The argument named @name or at position @pos (-1: keyword only), or NULL. */
static const struct expr *arg(const struct expr *x, size_t pos, const char *name)
{
	if (pos != (size_t)-1 && pos < x->n)
		return x->items[pos];
	return kwarg(x, name);
}

static int const_str(struct ctx *c, const struct expr *x, const char *what, const char **out)
{
	if (x->kind != EX_STR)
		return fail(c, x, "%s must be a string", what);
	*out = x->str;
	return 0;
}

static int const_int(struct ctx *c, const struct expr *x, const char *what, int64_t *out)
{
	if (x->kind == EX_UNARY && x->op == OPX_NEG && x->a->kind == EX_INT) {
		*out = -x->a->i;
		return 0;
	}
	if (x->kind != EX_INT)
		return fail(c, x, "%s must be an integer", what);
	*out = x->i;
	return 0;
}

static int const_bool(struct ctx *c, const struct expr *x, const char *what, bool *out)
{
	if (x->kind != EX_BOOL)
		return fail(c, x, "%s must be True or False", what);
	*out = x->b;
	return 0;
}

/* The columns @x names: itself, or the items of a list/tuple (at least one); *@cnt of them. */
static int name_items(struct ctx *c, const struct expr *const *x, const struct expr *const **items, size_t *cnt)
{
	*items = x;
	*cnt = 1;
	if ((*x)->kind == EX_LIST || (*x)->kind == EX_TUPLE) {
		*items = (const struct expr *const *)(*x)->items;
		*cnt = (*x)->n;
		if (!*cnt)
			return fail(c, *x, "expected at least one column name");
	}
	return 0;
}

/* Column names from a string or a list/tuple of strings, as indices into @f. */
static int col_list(struct ctx *c, const struct expr *x, const struct fnode *f, int **out, int *n)
{
	const struct expr *const *items;
	size_t cnt;
	if (name_items(c, &x, &items, &cnt) < 0)
		return -1;
	*out = alloc(c, cnt * sizeof **out);
	for (size_t i = 0; i < cnt; i++) {
		const char *name = NULL;
		if (const_str(c, items[i], "a column name", &name) < 0)
			return -1;
		int k = col_or_fail(c, items[i], f, name);
		if (k < 0)
			return -1;
		(*out)[i] = k;
	}
	*n = (int)cnt;
	return 0;
}

/* ---- read_csv ---- */

static int dtype_pairs(struct ctx *c, const struct expr *x, const struct csv_input *in, int *declared)
{
	/* dict(a="int64") arrives as a call; a YAML mapping as [("a", "int64"), ...] */
	if (x->kind == EX_CALL && x->a->kind == EX_NAME && !strcmp(x->a->str, "dict")) {
		for (size_t i = 0; i < x->n_kw; i++) {
			int col = -1;
			for (int k = 0; k < in->n_cols; k++)
				if (!strcmp(in->names[k], x->kw_names[i]))
					col = k;
			if (col < 0)
				return err_at(c->b->e, at(c, x->kw_offs[i]), "dtype names column '%s', which %s does not have",
					      x->kw_names[i], in->path);
			const char *tn = NULL;
			if (const_str(c, x->kw_vals[i], "a dtype", &tn) < 0)
				return -1;
			int t = col_type_parse(tn);
			if (t < 0)
				return fail(c, x->kw_vals[i], "unknown dtype '%s' (use int64, float64, bool, string or date)", tn);
			declared[col] = t;
		}
		return 0;
	}
	if (x->kind != EX_LIST && x->kind != EX_TUPLE)
		return fail(c, x, "dtype must be dict(column=\"type\", ...) or a mapping of column names to types");
	for (size_t i = 0; i < x->n; i++) {
		const struct expr *p = x->items[i];
		if ((p->kind != EX_TUPLE && p->kind != EX_LIST) || p->n != 2 || p->items[0]->kind != EX_STR ||
		    p->items[1]->kind != EX_STR)
			return fail(c, p, "dtype entries are (column, type) pairs of strings");
		int col = -1;
		for (int k = 0; k < in->n_cols; k++)
			if (!strcmp(in->names[k], p->items[0]->str))
				col = k;
		if (col < 0)
			return fail(c, p, "dtype names column '%s', which %s does not have", p->items[0]->str, in->path);
		int t = col_type_parse(p->items[1]->str);
		if (t < 0)
			return fail(c, p->items[1], "unknown dtype '%s' (use int64, float64, bool, string or date)",
				    p->items[1]->str);
		declared[col] = t;
	}
	return 0;
}

static uint64_t default_blocksize(const struct fbuild *b)
{
	uint64_t bs = 64u << 20;
	int jobs = b->jobs > 0 ? b->jobs : 1;
	if (b->mem_limit && b->mem_limit / (8 * (uint64_t)jobs) < bs)
		bs = b->mem_limit / (8 * (uint64_t)jobs);
	if (bs < (1u << 20))
		bs = 1u << 20;
	return bs;
}

/* A path with one of these is a glob (unless a file has that very name); braces where glob(3) has them. */
#ifdef GLOB_BRACE
#define PATH_GLOB_CHARS "*?[{"
#define PATH_GLOB_FLAGS (GLOB_MARK | GLOB_BRACE)
#else
#define PATH_GLOB_CHARS "*?["
#define PATH_GLOB_FLAGS GLOB_MARK
#endif

/* Bytes of records that type inference reads at least (csv.c samples about as much of each file). */
#define INFER_LEN ((uint64_t)1 << 20)

/* The files one read_csv() reads, in order, each with the argument that named it (for errors). */
struct csv_path {
	const char *path;
	const struct expr *from;
};

struct csv_paths {
	struct csv_path *v;        /* xmalloc'ed; the strings are the expression's or the arena's */
	size_t n, cap;
};

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct csv_path *)a)->path, ((const struct csv_path *)b)->path);
}

static void paths_push(struct csv_paths *ps, const char *path, const struct expr *from)
{
	XGROW(ps->v, ps->cap, ps->n + 1);
	ps->v[ps->n++] = (struct csv_path){ path, from };
}

/* Appends the files that string @x names: itself, or the matches of a glob sorted by name. */
static int paths_add(struct ctx *c, const struct expr *x, struct csv_paths *ps)
{
	const char *pat = NULL;
	if (const_str(c, x, "read_csv's path", &pat) < 0)
		return -1;
	struct stat st;
	if (!strpbrk(pat, PATH_GLOB_CHARS) || stat(pat, &st) == 0) {
		paths_push(ps, pat, x);
		return 0;
	}
	glob_t gl;
	int rc = glob(pat, PATH_GLOB_FLAGS, NULL, &gl);
	size_t first = ps->n;
	for (size_t i = 0; rc == 0 && i < gl.gl_pathc; i++) {
		const char *m = gl.gl_pathv[i];
		if (m[0] && m[strlen(m) - 1] != '/') /* GLOB_MARK: directories end with '/' */
			paths_push(ps, arena_strdup(c->b->arena, m), x);
	}
	globfree(&gl); /* glibc and musl set gl_pathv (maybe NULL) however glob() returns */
	if (rc != 0 && rc != GLOB_NOMATCH)
		return fail(c, x, "cannot expand '%s'%s", pat, rc == GLOB_ABORTED ? ": a folder cannot be read" : "");
	if (ps->n == first)
		return fail(c, x, "no file matches '%s'", pat);
	/* glob(3) sorts each brace alternative apart: one order by name (as dask's), each file once */
	qsort(ps->v + first, ps->n - first, sizeof *ps->v, by_path);
	size_t n = first + 1;
	for (size_t i = first + 1; i < ps->n; i++)
		if (strcmp(ps->v[i].path, ps->v[n - 1].path))
			ps->v[n++] = ps->v[i];
	ps->n = n;
	return 0;
}

/* @p: a path, a glob, or a list of them -> the files, in order (ps->v to free either way). */
static int csv_paths(struct ctx *c, const struct expr *p, struct csv_paths *ps)
{
	memset(ps, 0, sizeof *ps);
	if (p->kind == EX_LIST || p->kind == EX_TUPLE) {
		if (!p->n)
			return fail(c, p, "read_csv() needs at least one path");
		for (size_t i = 0; i < p->n; i++)
			if (paths_add(c, p->items[i], ps) < 0)
				return -1;
	} else if (paths_add(c, p, ps) < 0) {
		return -1;
	}
	for (size_t i = 0; ps->n > 1 && i < ps->n; i++)
		if (!strcmp(ps->v[i].path, "-"))
			return fail(c, ps->v[i].from, "stdin (\"-\") is read alone, not in a list of files");
	return 0;
}

/* A file after the first must have its columns, named the same, in the same order. */
static int same_columns(struct fbuild *b, const struct csv_input *first, const struct csv_input *in)
{
	if (in->n_cols != first->n_cols) {
		if (in->header)
			return err_run(b->e, NULL, "%s:1:1: header differs from %s's: %d columns, not %d", in->path,
				       first->path, in->n_cols, first->n_cols);
		return err_run(b->e, NULL, "%s:1:1: %d columns, not %d as in %s", in->path, in->n_cols,
			       first->n_cols, first->path);
	}
	for (int k = 0; k < in->n_cols; k++)
		if (strcmp(in->names[k], first->names[k]))
			return err_run(b->e, NULL, "%s:1:1: header differs from %s's: column %d is '%s', not '%s'",
				       in->path, first->path, k + 1, in->names[k], first->names[k]);
	return 0;
}

/* Feeds the values in @in's sample to the inference of every column not declared. */
static int infer_sample(struct ctx *c, const struct csv_input *in, const struct csv_dialect *dl,
			const struct csv_na *na, const int *declared, struct csv_infer *st)
{
	struct csv_tok t;
	struct csv_fail cf;
	if (csv_tokenize(in->sample, in->sample_len, dl, in->n_cols, NULL, &t, &cf) < 0) {
		int64_t line, col;
		csv_locate(in, 0, in->sample, cf.off, &line, &col);
		csv_tok_release(&t);
		return err_run(c->b->e, NULL, "%s:%lld:%lld: %s", in->path, (long long)line, (long long)col, cf.msg);
	}
	char *scratch = xmalloc(in->sample_len + 1);
	for (int k = 0; k < in->n_cols; k++) {
		if (declared[k] >= 0)
			continue;
		for (int64_t r = 0; r < t.n_rows; r++) {
			const char *s = in->sample + t.fstart[k][r];
			size_t n = t.flen[k][r];
			if (csv_is_quoted(s, n, dl->quote)) {
				n = csv_unquote(s, n, dl->quote, scratch);
				s = scratch;
				if (csv_is_null(s, n, na))
					continue;
				/* a quoted value is text to pandas only if it is not a number; keep inference */
			} else if (csv_is_null(s, n, na)) {
				continue;
			}
			csv_infer_add(&st[k], s, n);
		}
	}
	free(scratch);
	csv_tok_release(&t);
	return 0;
}

/*
 * Column types: declared ones, the others inferred from the samples of the
 * first files: the first file's, then the next file's while every file so
 * far was sampled whole and the samples hold less than INFER_LEN bytes (so
 * many small files are judged on as many rows as one large one). Every
 * partition confirms the types when it is parsed. The samples are freed:
 * nothing else reads them, and a glob may open thousands of files.
 */
static int infer_types(struct ctx *c, struct fnode *f, const int *declared, enum col_type *types)
{
	const struct csv_input *in0 = f->inputs[0];
	struct csv_infer *st = xmalloc((size_t)(in0->n_cols ? in0->n_cols : 1) * sizeof *st);
	for (int k = 0; k < in0->n_cols; k++)
		csv_infer_init(&st[k]);
	uint64_t used = 0;
	int rc = 0;
	for (size_t i = 0; i < f->n_inputs && rc == 0; i++) {
		const struct csv_input *in = f->inputs[i];
		rc = infer_sample(c, in, &f->dialect, &f->na, declared, st);
		used += in->sample_len;
		if (in->sample_len < in->size - in->data_start || used >= INFER_LEN)
			break;
	}
	for (int k = 0; k < in0->n_cols; k++)
		types[k] = declared[k] >= 0 ? (enum col_type)declared[k] : csv_infer_result(&st[k]);
	free(st);
	for (size_t i = 0; i < f->n_inputs; i++) {
		free(f->inputs[i]->sample);
		f->inputs[i]->sample = NULL;
		f->inputs[i]->sample_len = 0;
	}
	return rc;
}

static int read_csv(struct ctx *c, const struct expr *x, struct fval *v)
{
	static const char *const kws[] = { "path", "blocksize", "header", "sep", "delimiter", "columns", "usecols",
					   "dtype", "na_values", "keep_default_na", "include_path_column", NULL };
	if (check_args(c, x, "read_csv", 1, kws) < 0)
		return -1;
	const struct expr *p = arg(x, 0, "path");
	if (!p)
		return fail(c, x, "read_csv() needs a path (a file, a glob, a list of them, or \"-\" for stdin)");
	struct csv_dialect dl = { ',', '"' };
	const struct expr *a;
	if ((a = kwarg(x, "sep")) || (a = kwarg(x, "delimiter"))) {
		const char *s = NULL;
		if (const_str(c, a, "sep", &s) < 0)
			return -1;
		if (strlen(s) != 1 || *s == '"' || *s == '\n' || *s == '\r')
			return fail(c, a, "sep must be one character (not a quote or a newline)");
		dl.sep = *s;
	}
	bool header = true;
	if ((a = kwarg(x, "header"))) {
		if (a->kind == EX_NONE || (a->kind == EX_BOOL && !a->b))
			header = false;
		else if (!(a->kind == EX_BOOL || (a->kind == EX_INT && a->i == 0) ||
			   (a->kind == EX_STR && !strcmp(a->str, "infer"))))
			return fail(c, a, "header must be True, False, None or 0");
	}
	uint64_t bs = default_blocksize(c->b);
	if ((a = kwarg(x, "blocksize"))) {
		if (a->kind == EX_INT && a->i > 0)
			bs = (uint64_t)a->i;
		else if (a->kind != EX_STR || !parse_size(a->str, &bs) || !bs)
			return fail(c, a, "blocksize must be a size such as \"64MiB\" or a number of bytes");
	}
	struct csv_na na = { 0 };
	if ((a = kwarg(x, "keep_default_na")) && const_bool(c, a, "keep_default_na", &na.no_defaults) < 0)
		return -1;
	na.no_defaults = a ? !na.no_defaults : false;
	if ((a = kwarg(x, "na_values"))) {
		const struct expr *const *items = &a;
		size_t cnt = 1;
		if (a->kind == EX_LIST || a->kind == EX_TUPLE) {
			items = (const struct expr *const *)a->items;
			cnt = a->n;
		}
		const char **extra = alloc(c, cnt * sizeof *extra);
		for (size_t i = 0; i < cnt; i++)
			if (const_str(c, items[i], "each na_values entry", &extra[i]) < 0)
				return -1;
		na.extra = extra;
		na.n_extra = cnt;
	}
	/* dask's include_path_column: True (a column "path") or the column's name */
	const char *path_col = NULL;
	const struct expr *pc = kwarg(x, "include_path_column");
	if (pc && pc->kind == EX_BOOL)
		path_col = pc->b ? "path" : NULL;
	else if (pc && pc->kind == EX_STR && pc->str[0])
		path_col = pc->str;
	else if (pc)
		return fail(c, pc, "include_path_column must be True, False or a column name");

	struct csv_paths ps;
	if (csv_paths(c, p, &ps) < 0) {
		free(ps.v);
		return -1;
	}
	struct fbuild *b = c->b;
	struct fnode *f = new_node(c, FN_READ, NULL, x, "read_csv");
	f->dialect = dl;
	f->na = na;
	f->n_inputs = ps.n;
	f->inputs = alloc(c, ps.n * sizeof *f->inputs);
	f->part_first = alloc(c, (ps.n + 1) * sizeof *f->part_first);
	int rc = 0;
	for (size_t i = 0; i < ps.n && rc == 0; i++) {
		struct csv_input *in = alloc(c, sizeof *in);
		rc = csv_input_open(ps.v[i].path, &dl, header, bs, b->jobs, b->spill_dir, at(c, ps.v[i].from->off), in,
				    b->e);
		if (rc < 0)
			break;
		XGROW(b->inputs, b->inputs_cap, b->n_inputs + 1);
		b->inputs[b->n_inputs++] = in;
		f->inputs[i] = in;
		f->part_first[i + 1] = f->part_first[i] + in->n_blocks;
		if (i > 0)
			rc = same_columns(b, f->inputs[0], in);
	}
	free(ps.v);
	if (rc < 0)
		return -1;

	const struct csv_input *in = f->inputs[0];
	int *declared = alloc(c, (size_t)in->n_cols * sizeof *declared);
	for (int k = 0; k < in->n_cols; k++)
		declared[k] = -1;
	if ((a = kwarg(x, "dtype")) && dtype_pairs(c, a, in, declared) < 0)
		return -1;
	enum col_type *ftypes = alloc(c, (size_t)in->n_cols * sizeof *ftypes);
	if (infer_types(c, f, declared, ftypes) < 0)
		return -1;
	f->declared = alloc(c, (size_t)in->n_cols * sizeof *f->declared);
	for (int k = 0; k < in->n_cols; k++)
		f->declared[k] = declared[k] >= 0;
	/* columns= / usecols= keep some columns, in the file's order (as pandas). */
	bool *keep = alloc(c, (size_t)in->n_cols * sizeof *keep);
	if ((a = kwarg(x, "columns")) || (a = kwarg(x, "usecols"))) {
		const struct expr *const *items = &a;
		size_t cnt = 1;
		if (a->kind == EX_LIST || a->kind == EX_TUPLE) {
			items = (const struct expr *const *)a->items;
			cnt = a->n;
		}
		for (size_t i = 0; i < cnt; i++) {
			const char *name = NULL;
			if (const_str(c, items[i], "a column name", &name) < 0)
				return -1;
			int col = -1;
			for (int k = 0; k < in->n_cols; k++)
				if (!strcmp(in->names[k], name))
					col = k;
			if (col < 0) {
				const char *hint = did_you_mean(name, (const char *const *)in->names, (size_t)in->n_cols);
				return fail(c, items[i], "%s has no column '%s'%s%s%s", in->path, name,
					    hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
			}
			keep[col] = true;
		}
	} else {
		for (int k = 0; k < in->n_cols; k++)
			keep[k] = true;
	}
	int n = path_col != NULL;
	for (int k = 0; k < in->n_cols; k++) {
		n += keep[k];
		if (keep[k] && path_col && !strcmp(in->names[k], path_col))
			return fail(c, pc, "%s already has a column '%s': give the path column another name "
				    "(include_path_column=\"file\")", in->path, path_col);
	}
	f->n_fields = in->n_cols + (path_col != NULL);
	f->n_cols = n;
	f->names = alloc(c, (size_t)n * sizeof *f->names);
	f->types = alloc(c, (size_t)n * sizeof *f->types);
	f->src_col = alloc(c, (size_t)n * sizeof *f->src_col);
	int j = 0;
	for (int k = 0; k < in->n_cols; k++)
		if (keep[k]) {
			f->names[j] = in->names[k];
			f->types[j] = ftypes[k];
			f->src_col[j++] = k;
		}
	if (path_col) {
		f->names[j] = path_col;
		f->types[j] = COL_STRING;
		f->src_col[j] = in->n_cols;
	}
	return frame_val(v, x, f);
}

/* ---- column expressions ---- */

static int binary(struct ctx *c, const struct expr *x, struct fval *l, struct fval *r, struct fval *v)
{
	struct cexpr *a, *b;
	if (to_cx(c, l, &a) < 0 || to_cx(c, r, &b) < 0)
		return -1;
	enum expr_op op = x->op;
	if (op == OPX_MATMUL)
		return fail(c, x, "'@' is for arrays, not frame columns");
	enum col_type ta = a->type, tb = b->type, t;
	bool cmp = op >= OPX_LT && op <= OPX_NE, logic = op == OPX_AND || op == OPX_OR || op == OPX_XOR;
	if (a->kind == CX_CONST && b->kind != CX_CONST) {
		if (coerce_const(c, a, tb) < 0)
			return -1;
		ta = a->type;
	} else if (b->kind == CX_CONST && a->kind != CX_CONST) {
		if (coerce_const(c, b, ta) < 0)
			return -1;
		tb = b->type;
	}
	if (a->is_null && a->kind == CX_CONST)
		ta = a->type = tb;
	if (b->is_null && b->kind == CX_CONST)
		tb = b->type = ta;
	if (cmp) {
		bool ok = (is_num(ta) && is_num(tb)) || ta == tb;
		if (!ok)
			return fail(c, x, "cannot compare %s with %s", col_type_name(ta), col_type_name(tb));
		t = COL_BOOL;
	} else if (logic) {
		if (ta == COL_BOOL && tb == COL_BOOL)
			t = COL_BOOL;
		else if ((ta == COL_INT64 || ta == COL_BOOL) && (tb == COL_INT64 || tb == COL_BOOL))
			t = COL_INT64;
		else
			return fail(c, x, "'%s' needs bool (or integer) columns, not %s and %s", expr_op_name(op),
				    col_type_name(ta), col_type_name(tb));
	} else {
		if (op == OPX_ADD && ta == COL_STRING && tb == COL_STRING)
			t = COL_STRING;
		else if (!is_num(ta) || !is_num(tb))
			return fail(c, x, "'%s' needs numbers, not %s and %s", expr_op_name(op), col_type_name(ta),
				    col_type_name(tb));
		else if (op == OPX_DIV || ta == COL_FLOAT64 || tb == COL_FLOAT64)
			t = COL_FLOAT64;
		else if (op == OPX_POW && b->kind == CX_CONST && b->i < 0)
			return fail(c, x, "integers to negative integer powers are not allowed (as in numpy): use a float");
		else
			t = COL_INT64;
	}
	struct cexpr *e = cx_new(c, CX_BIN, t, x);
	e->op = op;
	e->a = a;
	e->b = b;
	if (set_frame(c, x, e) < 0)
		return -1;
	memset(v, 0, sizeof *v);
	v->kind = e->frame ? FV_COL : FV_CONST;
	v->x = x;
	v->c = e;
	if (!e->frame)
		return fail(c, x, "an expression of constants only: write its value");
	return 0;
}

static const struct {
	const char *name;
	enum cx_fn fn;
} col_fns[] = {
	{ "abs", CF_ABS }, { "sqrt", CF_SQRT }, { "exp", CF_EXP }, { "log", CF_LOG }, { "log10", CF_LOG10 },
	{ "log1p", CF_LOG1P }, { "floor", CF_FLOOR }, { "ceil", CF_CEIL }, { "round", CF_ROUND }, { "sin", CF_SIN },
	{ "cos", CF_COS },
};

static int col_fn(struct ctx *c, const struct expr *x, enum cx_fn fn, struct cexpr *a, const struct expr *digits,
		  struct fval *v)
{
	if (!is_num(a->type))
		return fail(c, x, "%s() needs a number column, not %s", col_fns[fn].name, col_type_name(a->type));
	enum col_type t = COL_FLOAT64;
	if (fn == CF_ABS && a->type != COL_BOOL)
		t = a->type;
	if (fn == CF_ROUND && a->type == COL_INT64)
		t = COL_INT64;
	struct cexpr *e = cx_new(c, CX_FN, t, x);
	e->fn = (int)fn;
	e->a = a;
	e->frame = a->frame;
	if (digits) {
		int64_t dg = 0;
		if (const_int(c, digits, "round's decimals", &dg) < 0)
			return -1;
		if (dg < -300 || dg > 300)
			return fail(c, digits, "decimals out of range");
		e->digits = (int)dg;
	}
	return col_val(v, x, e);
}

/* ---- aggregate nodes ---- */

/* A group key computed from a Series is a column named HIDDEN_KEY + its Series name (see group_keys()). */
#define HIDDEN_KEY '\x01'

static const char *key_name(const char *col)
{
	return col[0] == HIDDEN_KEY ? col + 1 : col;
}

static struct fnode *agg_node(struct ctx *c, const struct expr *x, struct fnode *in, int n_keys, const int *keys)
{
	struct fnode *f = new_node(c, FN_AGG, in, x, n_keys ? "groupby" : "reduce");
	f->n_keys = n_keys;
	f->keys = alloc(c, (size_t)(n_keys ? n_keys : 1) * sizeof *f->keys);
	if (n_keys)
		memcpy(f->keys, keys, (size_t)n_keys * sizeof *keys);
	f->aggs_cap = (in->n_cols + 8) * 4;
	f->aggs = alloc(c, (size_t)f->aggs_cap * sizeof *f->aggs);
	f->vals = alloc(c, (size_t)(in->n_cols + 1) * sizeof *f->vals);
	return f;
}

/* Adds aggregate @fn of column @col of f->in named @name. */
static int agg_add(struct ctx *c, const struct expr *x, struct fnode *f, enum agg_fn fn, int col, const char *name,
		   int ddof)
{
	if (f->n_aggs >= f->aggs_cap)
		return fail(c, x, "too many aggregates");
	int vi = -1;
	if (fn != AGG_SIZE && fn != AGG_NA) {
		enum col_type t = f->in->types[col];
		if (agg_result_type(fn, t) < 0)
			return fail(c, x, "%s of column '%s' (%s) is not defined", agg_fn_name(fn), f->in->names[col],
				    col_type_name(t));
		for (int k = 0; k < f->n_vals; k++)
			if (f->vals[k] == col)
				vi = k;
		if (vi < 0 && f->n_vals >= 256)
			return fail(c, x, "at most 256 columns can be aggregated at once");
		if (vi < 0) {
			vi = f->n_vals;
			f->vals[f->n_vals++] = col;
		}
	}
	for (int k = 0; k < f->n_keys; k++) {
		const char *key = f->in->names[f->keys[k]];
		if (strcmp(key_name(key), name))
			continue;
		if (key != key_name(key))
			return fail(c, x, "the computed group key and an aggregate are both named '%s' (pandas' "
					  "reset_index() refuses that too): name the key with .rename(\"...\")", name);
		return fail(c, x, "an aggregate named '%s' would repeat a key column", name);
	}
	for (int k = 0; k < f->n_aggs; k++)
		if (!strcmp(f->aggs[k].name, name))
			return fail(c, x, "two aggregates named '%s'", name);
	f->aggs[f->n_aggs++] = (struct agg_spec){ .fn = fn, .col = vi, .ddof = ddof, .name = name, .q = 0.5 };
	return 0;
}

/* The schema of an aggregate: keys, then aggregates. */
static void agg_schema(struct ctx *c, struct fnode *f)
{
	int n = f->n_keys + f->n_aggs;
	f->n_cols = n;
	f->names = alloc(c, (size_t)n * sizeof *f->names);
	f->types = alloc(c, (size_t)n * sizeof *f->types);
	for (int k = 0; k < f->n_keys; k++) {
		f->names[k] = key_name(f->in->names[f->keys[k]]);
		f->types[k] = f->in->types[f->keys[k]];
	}
	for (int k = 0; k < f->n_aggs; k++) {
		const struct agg_spec *s = &f->aggs[k];
		enum col_type in = s->fn == AGG_SIZE || s->col < 0 ? COL_INT64 : f->in->types[f->vals[s->col]];
		f->names[f->n_keys + k] = s->name;
		f->types[f->n_keys + k] = (enum col_type)agg_result_type(s->fn, in);
	}
}

static int ddof_arg(struct ctx *c, const struct expr *x, int *ddof)
{
	*ddof = 1;
	const struct expr *d = kwarg(x, "ddof");
	int64_t v = 0;
	if (d) {
		if (const_int(c, d, "ddof", &v) < 0)
			return -1;
		if (v < 0 || v > 1000000)
			return fail(c, d, "ddof must be a small non-negative integer");
		*ddof = (int)v;
	}
	return 0;
}

/* A column of a frame as the input of a reduction: the frame, and the column's index in it. A computed
 * column becomes an assign node first. */
static int column_source(struct ctx *c, const struct expr *x, struct cexpr *col, struct fnode **f, int *k)
{
	if (col->kind == CX_COL) {
		*f = col->frame;
		*k = col->col;
		return 0;
	}
	struct fnode *in = col->frame;
	struct fnode *a = assign_node(c, in, x, "assign", 1);
	a->n_cols = in->n_cols + 1;
	a->names[in->n_cols] = "value";
	a->types[in->n_cols] = col->type;
	a->src_col[in->n_cols] = -1;
	a->cx[in->n_cols] = col;
	*f = a;
	*k = in->n_cols;
	return 0;
}

/*
 * The name pandas gives the Series @e computes, or NULL for none: a column's own name, kept through
 * one-operand operations, and through an operation with a constant or with a Series of the same
 * name; two differently named operands give none.
 */
static const char *series_name(const struct cexpr *e)
{
	if (e->name)
		return e->name;
	switch (e->kind) {
	case CX_COL:
		return e->frame->names[e->col];
	case CX_CONST:
	case CX_ROWID:
		return NULL;
	case CX_BIN: {
		const char *a = series_name(e->a), *b = series_name(e->b);
		if (e->a->kind == CX_CONST)
			return b;
		if (e->b->kind == CX_CONST)
			return a;
		return a && b && !strcmp(a, b) ? a : NULL;
	}
	default:
		return e->a ? series_name(e->a) : NULL;
	}
}

/* The name pandas gives the Series @col, or "value". */
static const char *col_name_of(struct ctx *c, const struct cexpr *col)
{
	(void)c;
	const char *name = series_name(col);
	return name ? name : "value";
}

/* A reduction of one column (a Series method) into a scalar node. */
static int column_reduce(struct ctx *c, const struct expr *x, struct cexpr *col, enum agg_fn fn, struct fval *v)
{
	static const char *const kws[] = { "ddof", "skipna", NULL };
	if (check_args(c, x, agg_fn_name(fn), 0, kws) < 0)
		return -1;
	int ddof;
	if (ddof_arg(c, x, &ddof) < 0)
		return -1;
	struct fnode *src = NULL;
	int k = 0;
	if (column_source(c, x, col, &src, &k) < 0)
		return -1;
	struct fnode *f = agg_node(c, x, src, 0, NULL);
	if (agg_add(c, x, f, fn, k, col_name_of(c, col), ddof) < 0)
		return -1;
	agg_schema(c, f);
	f->scalar = true;
	return frame_val(v, x, f);
}

static int frame_len(struct ctx *c, const struct expr *x, struct fnode *in, struct fval *v)
{
	struct fnode *f = agg_node(c, x, in, 0, NULL);
	if (agg_add(c, x, f, AGG_SIZE, 0, "len", 0) < 0)
		return -1;
	agg_schema(c, f);
	f->scalar = true;
	return frame_val(v, x, f);
}

static int value_counts(struct ctx *c, const struct expr *x, struct cexpr *col, struct fval *v)
{
	static const char *const kws[] = { "sort", "ascending", "dropna", "normalize", NULL };
	if (check_args(c, x, "value_counts", 0, kws) < 0)
		return -1;
	bool normalize = false;
	const struct expr *a = kwarg(x, "normalize");
	if (a && const_bool(c, a, "normalize", &normalize) < 0)
		return -1;
	struct fnode *src = NULL;
	int k = 0;
	if (column_source(c, x, col, &src, &k) < 0)
		return -1;
	struct fnode *f = agg_node(c, x, src, 1, &k);
	if (agg_add(c, x, f, AGG_SIZE, 0, normalize ? "proportion" : "count", 0) < 0)
		return -1;
	agg_schema(c, f);
	f->names[0] = col_name_of(c, col); /* a computed column is named as pandas names the Series */
	if (normalize)
		f->types[f->n_cols - 1] = COL_FLOAT64; /* pandas 2's name and type */
	f->normalize = normalize;
	f->by_count = true;
	f->label = "value_counts";
	return frame_val(v, x, f);
}

/* ---- quantiles and describe ---- */

/* A number written in the expression (an int or a float, maybe negated). */
static int const_number(struct ctx *c, const struct expr *x, const char *what, double *out)
{
	const struct expr *e = x;
	double sign = 1;
	if (e->kind == EX_UNARY && (e->op == OPX_NEG || e->op == OPX_POS)) {
		sign = e->op == OPX_NEG ? -1 : 1;
		e = e->a;
	}
	if (e->kind == EX_INT)
		*out = sign * (double)e->i;
	else if (e->kind == EX_FLOAT)
		*out = sign * e->f;
	else
		return fail(c, x, "%s must be a number", what);
	return 0;
}

/* A quantile or percentile (@what) in [0, 1]. */
static int fraction(struct ctx *c, const struct expr *x, const char *what, double *q)
{
	if (const_number(c, x, what, q) < 0)
		return -1;
	if (!(*q >= 0 && *q <= 1))
		return fail(c, x, "%s must be between 0 and 1, not %g%s", what, *q,
			    *q > 1 && *q <= 100 ? " (a fraction: 0.9 for 90%)" : "");
	return 0;
}

/* quantile()'s interpolation=: only pandas' default, "linear". */
static int interpolation_arg(struct ctx *c, const struct expr *x)
{
	const struct expr *a = kwarg(x, "interpolation");
	if (a && (a->kind != EX_STR || strcmp(a->str, "linear")))
		return fail(c, a, "only interpolation=\"linear\" (pandas' default) is supported");
	return 0;
}

/* col.quantile(q=0.5): one value; col.quantile([q, ...]): a table of quantile and value. */
static int column_quantile(struct ctx *c, const struct expr *x, struct cexpr *col, struct fval *v)
{
	static const char *const kws[] = { "q", "interpolation", "numeric_only", NULL };
	if (check_args(c, x, "quantile", 1, kws) < 0 || interpolation_arg(c, x) < 0)
		return -1;
	if (!col->frame)
		return fail(c, x, "quantile() of a constant");
	const struct expr *qa = arg(x, 0, "q");
	bool list = qa && (qa->kind == EX_LIST || qa->kind == EX_TUPLE);
	size_t nq = list ? qa->n : 1;
	if (list && !nq)
		return fail(c, qa, "quantile() needs at least one q");
	double *qs = alloc(c, nq * sizeof *qs);
	qs[0] = 0.5;
	for (size_t i = 0; qa && i < nq; i++)
		if (fraction(c, list ? qa->items[i] : qa, "q", &qs[i]) < 0)
			return -1;
	struct fnode *src = NULL;
	int k = 0;
	if (column_source(c, x, col, &src, &k) < 0)
		return -1;
	struct fnode *f = agg_node(c, x, src, 0, NULL);
	f->label = "quantile";
	if (nq > (size_t)f->aggs_cap)
		return fail(c, qa, "too many quantiles (at most %d)", f->aggs_cap);
	for (size_t i = 0; i < nq; i++) {
		const char *name = list ? arena_printf(c->b->arena, "q%zu", i) : col_name_of(c, col);
		if (agg_add(c, x, f, AGG_QUANTILE, k, name, 1) < 0)
			return -1;
		f->aggs[i].q = qs[i];
	}
	if (!list) {
		agg_schema(c, f);
		f->scalar = true;
		return frame_val(v, x, f);
	}
	f->n_stack = (int)nq;
	f->stack_q = qs;
	f->n_cols = 2;
	f->names = alloc(c, 2 * sizeof *f->names);
	f->types = alloc(c, 2 * sizeof *f->types);
	f->names[0] = "quantile";
	f->names[1] = col_name_of(c, col);
	f->types[0] = f->types[1] = COL_FLOAT64;
	return frame_val(v, x, f);
}

/* pandas' format_percentiles(): "25%", or just enough decimals to tell the percentiles apart. */
static const char *percentile_label(struct ctx *c, const double *p, int n, int i)
{
	bool all_int = true;
	for (int k = 0; k < n; k++) {
		double x = 100 * p[k];
		all_int &= fabs(trunc(x) - x) <= 1e-8 + 1e-5 * fabs(x);
	}
	double x = 100 * p[i];
	if (all_int || fabs(trunc(x) - x) <= 1e-8 + 1e-5 * fabs(x))
		return arena_printf(c->b->arena, "%lld%%", (long long)trunc(x));
	/* @p is sorted and unique: the smallest gap, counting those to 0% and 100% */
	double gap = 100;
	if (100 * p[0] > 0)
		gap = 100 * p[0];
	for (int k = 1; k < n; k++)
		gap = fmin(gap, 100 * p[k] - 100 * p[k - 1]);
	if (100 * p[n - 1] < 100)
		gap = fmin(gap, 100 - 100 * p[n - 1]);
	int prec = (int)-floor(log10(gap));
	if (prec < 1)
		prec = 1;
	double scale = pow(10.0, prec), r = nearbyint(x * scale) / scale;
	char num[K_FORMAT_LEN];
	k_format_double(r, num, sizeof num);
	return arena_printf(c->b->arena, "%s%%", num);
}

/* describe()'s percentiles= (@pa, NULL: the default 0.25, 0.5, 0.75) into @p[0..*n), sorted, 0.5 always
 * among them, as pandas takes them; at most 63. */
static int describe_percentiles(struct ctx *c, const struct expr *pa, double p[64], int *n)
{
	p[0] = 0.25;
	p[1] = 0.5;
	p[2] = 0.75;
	*n = 3;
	if (!pa || pa->kind == EX_NONE)
		return 0;
	if (pa->kind != EX_LIST && pa->kind != EX_TUPLE)
		return fail(c, pa, "percentiles must be a list of numbers between 0 and 1");
	if (pa->n > 62)
		return fail(c, pa, "at most 62 percentiles");
	int np = 0;
	bool half = false;
	for (size_t i = 0; i < pa->n; i++) {
		if (fraction(c, pa->items[i], "a percentile", &p[np]) < 0)
			return -1;
		half |= p[np++] == 0.5;
	}
	if (!half)
		p[np++] = 0.5;
	for (int i = 1; i < np; i++) /* insertion sort, as np.unique */
		for (int j = i; j > 0 && p[j - 1] > p[j]; j--) {
			double t = p[j];
			p[j] = p[j - 1];
			p[j - 1] = t;
		}
	for (int i = 1; i < np; i++)
		if (p[i] == p[i - 1])
			return fail(c, pa, "percentiles cannot contain duplicates");
	*n = np;
	return 0;
}

/*
 * describe(percentiles=None) of columns @cols of @in: count, mean, std, min,
 * the percentiles (0.25, 0.5, 0.75 by default; 0.5 is always added) and max
 * of each, as pandas' describe().reset_index() writes them: a column "index"
 * naming the statistic, then one float64 column per column. Numbers only,
 * when there are any, unless include="all"; a text, bool or date column gets
 * count, unique, top and freq instead, written as text, as pandas writes its
 * object columns. One aggregate node: every statistic in the same
 * map-reduce pass.
 */
static int describe_node(struct ctx *c, const struct expr *x, struct fnode *in, const int *cols, int n_cols,
			 struct fval *v)
{
	static const char *const kws[] = { "percentiles", "include", NULL };
	if (check_args(c, x, "describe", 1, kws) < 0)
		return -1;
	double pcts[64];
	int np;
	if (describe_percentiles(c, arg(x, 0, "percentiles"), pcts, &np) < 0)
		return -1;
	/* The columns described: the number columns, or every column when there are none or include="all". */
	const struct expr *ia = kwarg(x, "include");
	bool all = false;
	if (ia && ia->kind != EX_NONE) {
		if (ia->kind != EX_STR || strcmp(ia->str, "all"))
			return fail(c, ia, "include must be \"all\" or None (the number columns, else every column)");
		all = true;
	}
	int use[256], nc = 0, n_num = 0;
	for (int pass = 0; pass < 2 && !nc; pass++)
		for (int k = 0; k < n_cols; k++) {
			bool number = in->types[cols[k]] == COL_INT64 || in->types[cols[k]] == COL_FLOAT64;
			if (!number && !all && pass == 0)
				continue;
			if (nc == 256)
				return fail(c, x, "describe() of more than 256 columns: select some first");
			n_num += number;
			use[nc++] = cols[k];
		}
	if (!nc)
		return fail(c, x, "describe() of a frame without columns");
	/* The rows, as pandas orders them: count; unique, top and freq when a text column is described;
	 * mean, std, min, the percentiles and max when a number column is. Each column has an aggregate
	 * per row, AGG_NA (missing) where its kind has no such statistic. */
	enum { R_COUNT, R_UNIQUE, R_TOP, R_FREQ, R_MEAN, R_STD, R_MIN, R_PCT, R_MAX };
	int rows[72], ns = 0; /* count, unique, top, freq, mean, std, min, up to 63 percentiles, max */
	double row_q[72];
	rows[ns++] = R_COUNT;
	if (n_num < nc) {
		rows[ns++] = R_UNIQUE;
		rows[ns++] = R_TOP;
		rows[ns++] = R_FREQ;
	}
	if (n_num) {
		rows[ns++] = R_MEAN;
		rows[ns++] = R_STD;
		rows[ns++] = R_MIN;
		for (int i = 0; i < np; i++) {
			row_q[ns] = pcts[i];
			rows[ns++] = R_PCT;
		}
		rows[ns++] = R_MAX;
	}
	struct fnode *f = agg_node(c, x, in, 0, NULL);
	f->label = "describe";
	f->aggs_cap = ns * nc;
	f->aggs = alloc(c, (size_t)f->aggs_cap * sizeof *f->aggs);
	f->n_stack = ns;
	f->stack_names = alloc(c, (size_t)ns * sizeof *f->stack_names);
	static const char *const labels[] = { "count", "unique", "top", "freq", "mean", "std", "min", "", "max" };
	int pct = 0;
	for (int s = 0; s < ns; s++) {
		f->stack_names[s] = rows[s] == R_PCT ? percentile_label(c, pcts, np, pct++) : labels[rows[s]];
		for (int j = 0; j < nc; j++) {
			bool number = in->types[use[j]] == COL_INT64 || in->types[use[j]] == COL_FLOAT64;
			static const enum agg_fn num_fn[] = { AGG_COUNT, AGG_NA, AGG_NA, AGG_NA, AGG_MEAN, AGG_STD,
							      AGG_MIN, AGG_QUANTILE, AGG_MAX };
			static const enum agg_fn text_fn[] = { AGG_COUNT, AGG_NUNIQUE, AGG_TOP, AGG_FREQ, AGG_NA,
							       AGG_NA, AGG_NA, AGG_NA, AGG_NA };
			enum agg_fn fn = number ? num_fn[rows[s]] : text_fn[rows[s]];
			if (agg_add(c, x, f, fn, use[j], arena_printf(c->b->arena, "%d.%d", s, j), 1) < 0)
				return -1;
			if (fn == AGG_QUANTILE)
				f->aggs[f->n_aggs - 1].q = row_q[s];
		}
	}
	f->n_cols = 1 + nc;
	f->names = alloc(c, (size_t)f->n_cols * sizeof *f->names);
	f->types = alloc(c, (size_t)f->n_cols * sizeof *f->types);
	f->names[0] = "index";
	f->types[0] = COL_STRING;
	for (int j = 0; j < nc; j++) {
		bool number = in->types[use[j]] == COL_INT64 || in->types[use[j]] == COL_FLOAT64;
		f->names[1 + j] = in->names[use[j]];
		f->types[1 + j] = number ? COL_FLOAT64 : COL_STRING; /* pandas: float64, or object as text */
	}
	return frame_val(v, x, f);
}

/*
 * g.quantile([q, ...]) / g.col.quantile([...]): groupby aggregate @f stacked, each group a row per q,
 * as pandas' result with its second index level reset: the keys, then that level as a float64
 * column named level_K (K the number of keys, pandas' name for an unnamed level), then one column
 * per value column. Aggregate s * nv + j is quantile qs[s] of value column j.
 */
static int group_quantiles(struct ctx *c, const struct expr *x, struct fnode *f, const int *sel, int n_sel,
			   bool skip_bad, const double *qs, size_t nq, struct fval *v)
{
	const struct fnode *in = f->in;
	int cols[256], nv = 0;
	for (int s = 0; s < n_sel; s++)
		if (!skip_bad || agg_result_type(AGG_QUANTILE, in->types[sel[s]]) >= 0)
			cols[nv++] = sel[s];
	if (!nv)
		return fail(c, x, "quantile() applies to none of the columns");
	if (nq * (size_t)nv > 4096)
		return fail(c, x, "too many quantiles (at most 4096 quantile-column pairs)");
	f->aggs_cap = (int)nq * nv;
	f->aggs = alloc(c, (size_t)f->aggs_cap * sizeof *f->aggs);
	f->label = "quantile";
	for (size_t s = 0; s < nq; s++)
		for (int j = 0; j < nv; j++) {
			if (agg_add(c, x, f, AGG_QUANTILE, cols[j], arena_printf(c->b->arena, "%zu.%d", s, j), 1) < 0)
				return -1;
			f->aggs[f->n_aggs - 1].q = qs[s];
		}
	f->n_stack = (int)nq;
	f->stack_q = (double *)qs;
	f->n_cols = f->n_keys + 1 + nv;
	f->names = alloc(c, (size_t)f->n_cols * sizeof *f->names);
	f->types = alloc(c, (size_t)f->n_cols * sizeof *f->types);
	for (int k = 0; k < f->n_keys; k++) {
		f->names[k] = in->names[f->keys[k]];
		f->types[k] = in->types[f->keys[k]];
	}
	f->names[f->n_keys] = arena_printf(c->b->arena, "level_%d", f->n_keys);
	f->types[f->n_keys] = COL_FLOAT64;
	for (int j = 0; j < nv; j++) {
		f->names[f->n_keys + 1 + j] = in->names[cols[j]];
		f->types[f->n_keys + 1 + j] = COL_FLOAT64;
	}
	for (int k = 0; k < f->n_cols; k++)
		for (int j = 0; j < k; j++)
			if (!strcmp(f->names[j], f->names[k]))
				return fail(c, x, "quantile() of a list would name two columns '%s'", f->names[k]);
	return frame_val(v, x, f);
}

/* Aggregate @fnn of column @cn of @in into @f, named @name; errors point at @col_at (a missing
 * column) or @fn_at (an unknown function). */
static int agg_named(struct ctx *c, const struct expr *col_at, const struct expr *fn_at, struct fnode *f,
		     const struct fnode *in, const char *cn, const char *fnn, const char *name)
{
	int col = col_or_fail(c, col_at, in, cn);
	if (col < 0)
		return -1;
	int af = agg_fn_parse(fnn);
	if (af < 0)
		return fail(c, fn_at, "unknown aggregate '%s' (sum, mean, median, quantile, min, max, count, size, std, "
				      "var, first, last, nunique)", fnn);
	return agg_add(c, fn_at, f, (enum agg_fn)af, col, name, 1);
}

/* g.agg(...) / g.col.fn() / g.fn(): the aggregate node of groupby value @g. */
static int group_agg(struct ctx *c, const struct expr *x, struct fval *g, const char *method, struct fval *v)
{
	struct fnode *in = g->f;
	struct fnode *f = agg_node(c, x, in, g->n_keys, g->keys_idx);
	int ddof = 1;
	/* the value columns a short form covers */
	int n_sel = g->n_sel;
	int *sel = g->sel;
	int all[256];
	if (n_sel < 0) {
		n_sel = 0;
		for (int k = 0; k < in->n_cols; k++) {
			bool key = false;
			for (int j = 0; j < g->n_keys; j++)
				key |= g->keys_idx[j] == k;
			if (key)
				continue;
			if (n_sel == 256)
				return fail(c, x, "at most 256 columns can be aggregated at once (select some: g[[...]].%s())",
					    method);
			all[n_sel++] = k;
		}
		sel = all;
	}
	int fn = agg_fn_parse(method);
	const struct expr *d = x->n == 1 && (!strcmp(method, "agg") || !strcmp(method, "aggregate")) ? x->items[0] : NULL;
	bool dict_call = d && d->kind == EX_CALL && d->a->kind == EX_NAME && !strcmp(d->a->str, "dict") &&
			 d->n == 0;
	bool dict_lit = d && d->kind == EX_LIST && d->n > 0;
	for (size_t i = 0; dict_lit && i < d->n; i++)
		dict_lit = d->items[i]->kind == EX_TUPLE && d->items[i]->n == 2;
	if (!x->n_kw && (dict_call || dict_lit)) {
		/* agg({"column": "function", ...}) or agg(dict(column="function")): a column of the
		 * function's values named as the column, as pandas names them */
		size_t n = dict_call ? d->n_kw : d->n;
		for (size_t i = 0; i < n; i++) {
			const struct expr *key = dict_call ? NULL : d->items[i]->items[0];
			const struct expr *fv = dict_call ? d->kw_vals[i] : d->items[i]->items[1];
			const char *cn = dict_call ? d->kw_names[i] : NULL, *fnn = NULL;
			if (key && const_str(c, key, "a column name", &cn) < 0)
				return -1;
			if (fv->kind == EX_LIST || fv->kind == EX_TUPLE)
				return fail(c, fv, "agg({...}) takes one function per column here (pandas would make "
						   "two header rows); for several, use name=(\"column\", \"function\")");
			if (const_str(c, fv, "an aggregate", &fnn) < 0 ||
			    agg_named(c, key ? key : fv, fv, f, in, cn, fnn, cn) < 0)
				return -1;
		}
	} else if (!strcmp(method, "agg") || !strcmp(method, "aggregate")) {
		if (x->n_kw) {
			if (x->n)
				return fail(c, x->items[0], "agg() takes either name=(column, function) keywords or functions");
			for (size_t i = 0; i < x->n_kw; i++) {
				const struct expr *p = x->kw_vals[i];
				const char *cn = NULL, *fnn = NULL;
				if (p->kind == EX_STR && g->n_sel == 1) { /* g.col.agg(total="sum") */
					cn = in->names[sel[0]];
					fnn = p->str;
				} else if ((p->kind != EX_TUPLE && p->kind != EX_LIST) || p->n != 2 ||
					   p->items[0]->kind != EX_STR || p->items[1]->kind != EX_STR) {
					return fail(c, p, "a named aggregate is name=(\"column\", \"function\")");
				} else {
					cn = p->items[0]->str;
					fnn = p->items[1]->str;
				}
				if (agg_named(c, p, p, f, in, cn, fnn, x->kw_names[i]) < 0)
					return -1;
			}
		} else {
			if (x->n != 1)
				return fail(c, x, "agg() needs aggregates: name=(\"column\", \"function\"), a function name or a list");
			const struct expr *p = x->items[0];
			const struct expr *const *fns = &p;
			size_t nf = 1;
			if (p->kind == EX_LIST || p->kind == EX_TUPLE) {
				fns = (const struct expr *const *)p->items;
				nf = p->n;
			}
			for (int s = 0; s < n_sel; s++)
				for (size_t i = 0; i < nf; i++) {
					const char *fnn = NULL;
					if (const_str(c, fns[i], "an aggregate", &fnn) < 0)
						return -1;
					int af = agg_fn_parse(fnn);
					if (af < 0)
						return fail(c, fns[i], "unknown aggregate '%s'", fnn);
					const char *name = nf == 1 && n_sel >= 1 ? in->names[sel[s]] :
							   n_sel == 1 ? fnn :
							   arena_printf(c->b->arena, "%s_%s", in->names[sel[s]], fnn);
					if (agg_add(c, fns[i], f, (enum agg_fn)af, sel[s], name, 1) < 0)
						return -1;
				}
		}
	} else if (fn == AGG_SIZE) {
		if (check_args(c, x, "size", 0, NULL) < 0 || agg_add(c, x, f, AGG_SIZE, 0, "size", 0) < 0)
			return -1;
	} else if (fn >= 0) {
		static const char *const kws[] = { "ddof", "numeric_only", NULL };
		static const char *const qkws[] = { "q", "interpolation", "numeric_only", NULL };
		double q = 0.5, *qs = NULL;
		size_t nq = 0; /* a list of q: each group gives one row per q (pandas' second index level) */
		if (fn == AGG_QUANTILE) {
			const struct expr *qa = arg(x, 0, "q");
			if (check_args(c, x, method, 1, qkws) < 0 || interpolation_arg(c, x) < 0)
				return -1;
			if (qa && (qa->kind == EX_LIST || qa->kind == EX_TUPLE)) {
				if (!(nq = qa->n))
					return fail(c, qa, "quantile() needs at least one q");
				qs = alloc(c, nq * sizeof *qs);
				for (size_t i = 0; i < nq; i++)
					if (fraction(c, qa->items[i], "q", &qs[i]) < 0)
						return -1;
			} else if (qa && fraction(c, qa, "q", &q) < 0) {
				return -1;
			}
		} else if (check_args(c, x, method, 0, kws) < 0 || ddof_arg(c, x, &ddof) < 0) {
			return -1;
		}
		if (nq)
			return group_quantiles(c, x, f, sel, n_sel, g->n_sel < 0, qs, nq, v);
		int added = 0;
		for (int s = 0; s < n_sel; s++) {
			if (g->n_sel < 0 && agg_result_type((enum agg_fn)fn, in->types[sel[s]]) < 0)
				continue; /* pandas drops columns the function does not apply to */
			if (agg_add(c, x, f, (enum agg_fn)fn, sel[s], in->names[sel[s]], ddof) < 0)
				return -1;
			f->aggs[f->n_aggs - 1].q = q;
			added++;
		}
		if (!added)
			return fail(c, x, "%s() applies to none of the columns", method);
	} else if (!strcmp(method, "describe")) {
		/* g.col.describe(): a row per group, count, mean, std, min, the percentiles and max as columns */
		static const char *const kws[] = { "percentiles", NULL };
		if (check_args(c, x, method, 1, kws) < 0)
			return -1;
		if (g->n_sel != 1)
			return fail(c, x, "describe() of a groupby takes one column, g.col.describe() (pandas would make "
					  "two header rows)");
		if (in->types[sel[0]] != COL_INT64 && in->types[sel[0]] != COL_FLOAT64)
			return fail(c, x, "describe() of a grouped %s column is not supported (numbers only)",
				    col_type_name(in->types[sel[0]]));
		double pcts[64];
		int np;
		if (describe_percentiles(c, arg(x, 0, "percentiles"), pcts, &np) < 0)
			return -1;
		static const enum agg_fn head[] = { AGG_COUNT, AGG_MEAN, AGG_STD, AGG_MIN };
		static const char *const names[] = { "count", "mean", "std", "min" };
		for (int k = 0; k < 4; k++)
			if (agg_add(c, x, f, head[k], sel[0], names[k], 1) < 0)
				return -1;
		for (int k = 0; k < np; k++) {
			if (agg_add(c, x, f, AGG_QUANTILE, sel[0], percentile_label(c, pcts, np, k), 1) < 0)
				return -1;
			f->aggs[f->n_aggs - 1].q = pcts[k];
		}
		if (agg_add(c, x, f, AGG_MAX, sel[0], "max", 1) < 0)
			return -1;
		agg_schema(c, f);
		f->types[f->n_keys] = COL_FLOAT64; /* pandas writes describe()'s count as a float */
		for (int k = f->n_keys + 4 + np; k < f->n_cols; k++)
			f->types[k] = COL_FLOAT64; /* and the max of integers too */
		f->types[f->n_keys + 3] = COL_FLOAT64;
		return frame_val(v, x, f);
	} else {
		return fail(c, x, "a groupby has no method '%s' (agg, sum, mean, median, quantile, min, max, count, size, "
				  "std, var, first, last, nunique, describe)", method);
	}
	agg_schema(c, f);
	return frame_val(v, x, f);
}

/* ---- frame methods ---- */

/* The aggregate @f's rows come from, through sorts, heads and filters (which keep pandas' index
 * and so a grouped result's keys), or NULL. */
static bool is_rename(const struct fnode *f)
{
	if (f->kind != FN_SELECT || f->n_cols != f->in->n_cols)
		return false;
	for (int k = 0; k < f->n_cols; k++)
		if (f->src_col[k] != k)
			return false;
	return true;
}

static const struct fnode *agg_below(const struct fnode *f)
{
	while (f->kind == FN_SORT || f->kind == FN_HEAD || f->kind == FN_FILTER || is_rename(f))
		f = f->in;
	return f->kind == FN_AGG ? f : NULL;
}

/* A grouped result with one value column after its keys (groupby(k).col.mean(), size(),
 * value_counts()), maybe sorted, cut or filtered since: what pandas makes a Series. */
static bool series_like(const struct fnode *f)
{
	const struct fnode *g = agg_below(f);
	return g && g->n_keys > 0 && f->n_cols == g->n_keys + 1;
}

/* A series-like result @in with its value column named @name (pandas' Series.rename(name),
 * reset_index(name=)). */
static int rename_value(struct ctx *c, const struct expr *x, struct fnode *in, const char *name, struct fval *v)
{
	struct fnode *f = new_node(c, FN_SELECT, in, x, "rename");
	f->n_cols = in->n_cols;
	f->names = alloc(c, (size_t)in->n_cols * sizeof *f->names);
	f->types = alloc(c, (size_t)in->n_cols * sizeof *f->types);
	f->src_col = alloc(c, (size_t)in->n_cols * sizeof *f->src_col);
	for (int k = 0; k < in->n_cols; k++) {
		f->names[k] = k == in->n_cols - 1 ? name : in->names[k];
		f->types[k] = in->types[k];
		f->src_col[k] = k;
		if (k < in->n_cols - 1 && !strcmp(in->names[k], name))
			return fail(c, x, "'%s' is already a key column", name);
	}
	return frame_val(v, x, f);
}

/* @by NULL: by the last column (series_like()). */
static int sort_node(struct ctx *c, const struct expr *x, struct fnode *in, const struct expr *by,
		     const struct expr *ascending, int64_t limit, bool desc_default, struct fval *v)
{
	struct fnode *f = new_node(c, FN_SORT, in, x, "sort");
	same_schema(c, f, in);
	if (!by) { /* a series-like result: by its one value column */
		f->n_by = 1;
		f->by = alloc(c, sizeof *f->by);
		f->by[0] = in->n_cols - 1;
	} else if (col_list(c, by, in, &f->by, &f->n_by) < 0) {
		return -1;
	}
	f->asc = alloc(c, (size_t)f->n_by * sizeof *f->asc);
	for (int k = 0; k < f->n_by; k++)
		f->asc[k] = !desc_default;
	if (ascending) {
		if (ascending->kind == EX_BOOL) {
			for (int k = 0; k < f->n_by; k++)
				f->asc[k] = ascending->b;
		} else if ((ascending->kind == EX_LIST || ascending->kind == EX_TUPLE) &&
			   ascending->n == (size_t)f->n_by) {
			for (int k = 0; k < f->n_by; k++)
				if (const_bool(c, ascending->items[k], "ascending", &f->asc[k]) < 0)
					return -1;
		} else {
			return fail(c, ascending, "ascending must be True, False or one per sort column");
		}
	}
	f->limit = limit;
	return frame_val(v, x, f);
}

/* ---- merge and concat ---- */

/* @f itself when its rows come as one chunk (an aggregate, a sort, a head), else a gathering of them. */
static struct fnode *gathered(struct ctx *c, struct fnode *f, const struct expr *x)
{
	if (f->kind == FN_AGG || f->kind == FN_HEAD || (f->kind == FN_SORT && f->limit >= 0) ||
	    (f->kind == FN_MERGE && f->how == JOIN_OUTER && !f->partitioned))
		return f;
	if (f->gather)
		return f->gather;
	struct fnode *g = new_node(c, FN_HEAD, f, x, "gather");
	same_schema(c, g, f);
	g->limit = -1;
	f->gather = g;
	return g;
}

static int frame_arg(struct ctx *c, const struct expr *x, const char *what, struct fnode **out)
{
	struct fval fv;
	if (eval(c, x, &fv) < 0)
		return -1;
	if (fv.kind != FV_FRAME || fv.f->scalar)
		return fail(c, x, "%s must be a frame", what);
	*out = fv.f;
	return 0;
}

/* Whether @name is a column of both sides of a merge other than a key they share: pandas suffixes it. */
static bool overlaps(const struct fnode *left, const struct fnode *right, const int *lk, const int *rk,
		     const bool *shared, int n, const char *name)
{
	int l = find_col(left, name), r = find_col(right, name);
	if (l < 0 || r < 0)
		return false;
	for (int j = 0; j < n; j++)
		if (shared[j] && lk[j] == l && rk[j] == r)
			return false;
	return true;
}

/* The CSV bytes @f's rows are read from (0 when they come from an aggregate: few). */
static uint64_t csv_bytes(const struct fnode *f)
{
	switch (f->kind) {
	case FN_READ: {
		uint64_t n = 0;
		for (size_t i = 0; i < f->n_inputs; i++)
			n += f->inputs[i]->size;
		return n;
	}
	case FN_AGG:
		return 0;
	case FN_CONCAT: {
		uint64_t n = 0;
		for (int i = 0; i < f->n_parts; i++)
			n += csv_bytes(f->parts[i]);
		return n;
	}
	case FN_MERGE:
		return csv_bytes(f->in) + csv_bytes(f->other);
	default:
		return f->in ? csv_bytes(f->in) : 0;
	}
}

/* The merges already fused into the chain that ends at @f (its tasks read each one's other side). */
static int chain_merges(const struct fnode *f)
{
	int n = 0;
	for (; f && f->kind != FN_READ && !fnode_is_materialized(f); f = f->in)
		n += f->kind == FN_MERGE;
	return n;
}

/* pandas' merge: @left.merge(right, how=, on=, left_on=, right_on=, suffixes=), @x the call. */
static int merge_node(struct ctx *c, const struct expr *x, struct fnode *left, const struct expr *rx,
		      struct fval *v)
{
	struct fnode *right;
	if (frame_arg(c, rx, "merge's right side", &right) < 0)
		return -1;
	enum join_how how = JOIN_INNER;
	const struct expr *a = kwarg(x, "how");
	if (a) {
		static const char *const hows[] = { "inner", "left", "right", "outer" };
		const char *h = NULL;
		if (const_str(c, a, "how", &h) < 0)
			return -1;
		int k = 0;
		while (k < 4 && strcmp(h, hows[k]))
			k++;
		if (k == 4)
			return fail(c, a, "how must be \"inner\", \"left\", \"right\" or \"outer\"");
		how = (enum join_how)k;
	}
	/* the keys: on= (names in both), left_on= with right_on=, or every column the two share */
	int *lk = NULL, *rk = NULL, n = 0, n2 = 0;
	const struct expr *on = kwarg(x, "on"), *lo = kwarg(x, "left_on"), *ro = kwarg(x, "right_on");
	if (on && (lo || ro))
		return fail(c, on, "merge() takes on= or left_on= with right_on=, not both");
	if (on) {
		if (col_list(c, on, left, &lk, &n) < 0 || col_list(c, on, right, &rk, &n2) < 0)
			return -1;
	} else if (lo || ro) {
		if (!lo || !ro)
			return fail(c, lo ? lo : ro, "left_on= needs right_on= (and the other way round)");
		if (col_list(c, lo, left, &lk, &n) < 0 || col_list(c, ro, right, &rk, &n2) < 0)
			return -1;
		if (n != n2)
			return fail(c, ro, "left_on= and right_on= name %d and %d columns", n, n2);
	} else {
		lk = alloc(c, (size_t)left->n_cols * sizeof *lk);
		rk = alloc(c, (size_t)left->n_cols * sizeof *rk);
		for (int k = 0; k < left->n_cols; k++) {
			int j = find_col(right, left->names[k]);
			if (j >= 0) {
				lk[n] = k;
				rk[n++] = j;
			}
		}
		if (!n)
			return fail(c, x, "the two frames share no column to merge on: give on= or left_on= and right_on=");
	}
	if (n > 64)
		return fail(c, x, "at most 64 key columns");
	const char *sfx[2] = { "_x", "_y" };
	if ((a = kwarg(x, "suffixes"))) {
		if ((a->kind != EX_LIST && a->kind != EX_TUPLE) || a->n != 2 ||
		    const_str(c, a->items[0], "a suffix", &sfx[0]) < 0 || const_str(c, a->items[1], "a suffix", &sfx[1]) < 0)
			return a->kind == EX_LIST || a->kind == EX_TUPLE ? -1 : fail(c, a, "suffixes is a pair of strings");
	}
	/* a key is shared (one output column) when both sides name it alike */
	bool *shared = alloc(c, (size_t)n * sizeof *shared);
	for (int k = 0; k < n; k++)
		shared[k] = !strcmp(left->names[lk[k]], right->names[rk[k]]);
	enum col_type *as = alloc(c, (size_t)n * sizeof *as);
	for (int k = 0; k < n; k++) {
		int t = join_key_type(left->types[lk[k]], right->types[rk[k]]);
		if (t < 0)
			return fail(c, on ? on : lo ? lo : x, "cannot merge on '%s' (%s) and '%s' (%s)", left->names[lk[k]],
				    col_type_name(left->types[lk[k]]), right->names[rk[k]], col_type_name(right->types[rk[k]]));
		as[k] = (enum col_type)t;
	}
	/* the probed side streams partition by partition; the other is hashed whole */
	bool swap = how == JOIN_RIGHT;
	struct fnode *probe = swap ? right : left, *build = swap ? left : right;
	if (chain_merges(probe) >= FRAME_MAX_CHAIN_MERGES)
		return fail(c, x, "at most %d merges in a row without a groupby or sort between them",
			    FRAME_MAX_CHAIN_MERGES);
	struct fnode *f = new_node(c, FN_MERGE, probe, x, "merge");
	f->how = how;
	/* A side read from more CSV bytes than an eighth of the memory limit may not fit in one task
	 * (a table takes several times its text): sort both sides into shared key ranges instead. */
	bool same_types = true;
	for (int k = 0; k < n; k++)
		same_types &= left->types[lk[k]] == right->types[rk[k]];
	f->partitioned = same_types && c->b->mem_limit && csv_bytes(build) > c->b->mem_limit / 8;
	f->other = f->partitioned ? build : gathered(c, build, x);
	f->other->n_users++;
	f->n_on = n;
	f->on_in = swap ? rk : lk;
	f->on_other = swap ? lk : rk;
	f->on_as = as;
	int cap = left->n_cols + right->n_cols;
	f->names = alloc(c, (size_t)cap * sizeof *f->names);
	f->types = alloc(c, (size_t)cap * sizeof *f->types);
	f->out_side = alloc(c, (size_t)cap * sizeof *f->out_side);
	f->out_col = alloc(c, (size_t)cap * sizeof *f->out_col);
	f->out_col2 = alloc(c, (size_t)cap * sizeof *f->out_col2);
	int lside = swap ? 1 : 0, rside = swap ? 0 : 1;
	for (int k = 0; k < left->n_cols; k++) {
		int o = f->n_cols++;
		f->out_side[o] = lside;
		f->out_col[o] = k;
		f->types[o] = left->types[k];
		const char *name = left->names[k];
		int key = -1;
		for (int j = 0; j < n; j++)
			if (lk[j] == k && shared[j])
				key = j;
		if (key >= 0) {
			/* one column for a shared key: the probed side's value, or either side's in an outer join */
			f->out_side[o] = how == JOIN_OUTER ? 2 : 0;
			f->out_col[o] = swap ? rk[key] : lk[key];
			f->out_col2[o] = swap ? lk[key] : rk[key];
			f->types[o] = how == JOIN_OUTER ? as[key] : probe->types[f->out_col[o]];
		} else if (overlaps(left, right, lk, rk, shared, n, name)) {
			name = arena_printf(c->b->arena, "%s%s", name, sfx[0]);
		}
		f->names[o] = name;
	}
	for (int k = 0; k < right->n_cols; k++) {
		bool skip = false;
		for (int j = 0; j < n; j++)
			skip |= rk[j] == k && shared[j];
		if (skip)
			continue;
		int o = f->n_cols++;
		f->out_side[o] = rside;
		f->out_col[o] = k;
		f->types[o] = right->types[k];
		const char *name = right->names[k];
		f->names[o] = overlaps(left, right, lk, rk, shared, n, name) ? arena_printf(c->b->arena, "%s%s", name, sfx[1])
										 : name;
	}
	for (int k = 0; k < f->n_cols; k++)
		for (int j = 0; j < k; j++)
			if (!strcmp(f->names[k], f->names[j]))
				return fail(c, x, "the merge would make two columns named '%s' (give suffixes=)", f->names[k]);
	return frame_val(v, x, f);
}

/* A column name not in @f: @base, or @base with more underscores. */
static const char *hidden_name(struct ctx *c, const struct fnode *f, const char *base, int k)
{
	const char *name = arena_printf(c->b->arena, "__%s%d", base, k);
	while (find_col(f, name) >= 0)
		name = arena_printf(c->b->arena, "_%s", name);
	return name;
}

/*
 * pandas' drop_duplicates(subset=None, keep="first"), out of core: the rows get their place (a row id)
 * and, per subset column, its value with missing ones filled and a missing flag (groupby drops missing
 * keys; duplicates count them as a value); a groupby on those keeps the id of the first (last) row of
 * each (for keep=False, of each key seen once); the frame is then matched against those ids, in order.
 */
static int drop_duplicates(struct ctx *c, const struct expr *x, struct fnode *in, struct fval *v)
{
	static const char *const kws[] = { "subset", "keep", "ignore_index", NULL };
	if (check_args(c, x, "drop_duplicates", 1, kws) < 0)
		return -1;
	int *sub = NULL, ns = 0;
	const struct expr *a = arg(x, 0, "subset");
	if (a && col_list(c, a, in, &sub, &ns) < 0)
		return -1;
	if (!a) {
		ns = in->n_cols;
		sub = alloc(c, (size_t)ns * sizeof *sub);
		for (int k = 0; k < ns; k++)
			sub[k] = k;
	}
	if (2 * ns > 64)
		return fail(c, a ? a : x, "drop_duplicates() compares at most 32 columns");
	enum agg_fn keep = AGG_FIRST;
	bool once = false;
	if ((a = kwarg(x, "keep"))) {
		if (a->kind == EX_BOOL && !a->b)
			once = true;
		else if (a->kind == EX_STR && !strcmp(a->str, "last"))
			keep = AGG_LAST;
		else if (!(a->kind == EX_STR && !strcmp(a->str, "first")))
			return fail(c, a, "keep must be \"first\", \"last\" or False");
	}
	if (chain_merges(in) >= FRAME_MAX_CHAIN_MERGES)
		return fail(c, x, "at most %d merges in a row without a groupby or sort between them",
			    FRAME_MAX_CHAIN_MERGES);
	struct fnode *r = assign_node(c, in, x, "drop_duplicates", 2 * ns + 1);
	int *keys = alloc(c, (size_t)(2 * ns + 1) * sizeof *keys);
	for (int j = 0; j < ns; j++) {
		enum col_type t = in->types[sub[j]];
		struct cexpr *fill = cx_new(c, CX_CONST, t, x);
		fill->s = "";
		struct cexpr *filled = cx_new(c, CX_FILLNA, t, x);
		filled->a = cx_col(c, in, sub[j], x);
		filled->b = fill;
		struct cexpr *flag = cx_new(c, CX_ISNA, COL_BOOL, x);
		flag->a = cx_col(c, in, sub[j], x);
		struct cexpr *cxs[2] = { filled, flag };
		for (int h = 0; h < 2; h++) {
			int o = r->n_cols++;
			r->names[o] = hidden_name(c, in, h ? "isna" : "key", j);
			r->types[o] = cxs[h]->type;
			r->src_col[o] = -1;
			r->cx[o] = cxs[h];
			keys[2 * j + h] = o;
		}
	}
	int rowcol = r->n_cols++;
	r->names[rowcol] = hidden_name(c, in, "row", 0);
	r->types[rowcol] = COL_INT64;
	r->src_col[rowcol] = -1;
	r->cx[rowcol] = cx_new(c, CX_ROWID, COL_INT64, x);
	struct fnode *g = agg_node(c, x, r, 2 * ns, keys);
	if (agg_add(c, x, g, keep, rowcol, r->names[rowcol], 0) < 0 ||
	    (once && agg_add(c, x, g, AGG_SIZE, 0, hidden_name(c, in, "n", 0), 0) < 0))
		return -1;
	agg_schema(c, g);
	struct fnode *ids = g;
	if (once) {
		struct fnode *fl = new_node(c, FN_FILTER, g, x, "unique");
		same_schema(c, fl, g);
		struct cexpr *one = cx_new(c, CX_CONST, COL_INT64, x);
		one->i = 1;
		fl->mask = cx_new(c, CX_BIN, COL_BOOL, x);
		fl->mask->op = OPX_EQ;
		fl->mask->a = cx_col(c, g, g->n_cols - 1, x);
		fl->mask->b = one;
		ids = fl;
	}
	struct fnode *f = new_node(c, FN_MERGE, r, x, "drop_duplicates");
	f->how = JOIN_INNER;
	f->other = gathered(c, ids, x);
	f->other->n_users++;
	f->n_on = 1;
	f->on_in = alloc(c, sizeof *f->on_in);
	f->on_other = alloc(c, sizeof *f->on_other);
	f->on_as = alloc(c, sizeof *f->on_as);
	f->on_in[0] = rowcol;
	f->on_other[0] = 2 * ns;
	f->on_as[0] = COL_INT64;
	same_schema(c, f, in);
	f->out_side = alloc(c, (size_t)(in->n_cols ? in->n_cols : 1) * sizeof *f->out_side);
	f->out_col = alloc(c, (size_t)(in->n_cols ? in->n_cols : 1) * sizeof *f->out_col);
	f->out_col2 = alloc(c, (size_t)(in->n_cols ? in->n_cols : 1) * sizeof *f->out_col2);
	for (int k = 0; k < in->n_cols; k++)
		f->out_col[k] = k;
	return frame_val(v, x, f);
}

/* pandas' concat([a, b, ...]): rows one after another; columns by name, in first-seen order. */
static int concat_node(struct ctx *c, const struct expr *x, struct fval *v)
{
	static const char *const kws[] = { "objs", "ignore_index", NULL };
	if (check_args(c, x, "concat", 1, kws) < 0)
		return -1;
	const struct expr *l = arg(x, 0, "objs");
	if (!l || (l->kind != EX_LIST && l->kind != EX_TUPLE) || l->n == 0)
		return fail(c, l ? l : x, "concat() takes a list of frames");
	struct fnode *f = new_node(c, FN_CONCAT, NULL, x, "concat");
	f->n_parts = (int)l->n;
	f->parts = alloc(c, l->n * sizeof *f->parts);
	int cap = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (frame_arg(c, l->items[i], "each of concat's items", &f->parts[i]) < 0)
			return -1;
		f->parts[i]->n_users++;
		cap += f->parts[i]->n_cols;
	}
	f->names = alloc(c, (size_t)cap * sizeof *f->names);
	f->types = alloc(c, (size_t)cap * sizeof *f->types);
	bool *partial = alloc(c, (size_t)cap * sizeof *partial);
	for (size_t i = 0; i < l->n; i++) {
		const struct fnode *p = f->parts[i];
		for (int k = 0; k < p->n_cols; k++) {
			int o = find_col(f, p->names[k]);
			if (o < 0) {
				o = f->n_cols++;
				f->names[o] = p->names[k];
				f->types[o] = p->types[k];
				partial[o] = i > 0;
				continue;
			}
			if (f->types[o] == p->types[k])
				continue;
			if (join_key_type(f->types[o], p->types[k]) == COL_FLOAT64)
				f->types[o] = COL_FLOAT64;
			else
				return fail(c, l->items[i], "column '%s' is %s here and %s in an earlier frame", p->names[k],
					    col_type_name(p->types[k]), col_type_name(f->types[o]));
		}
	}
	f->part_cols = alloc(c, l->n * sizeof *f->part_cols);
	for (size_t i = 0; i < l->n; i++) {
		f->part_cols[i] = alloc(c, (size_t)(f->n_cols ? f->n_cols : 1) * sizeof **f->part_cols);
		for (int k = 0; k < f->n_cols; k++) {
			f->part_cols[i][k] = find_col(f->parts[i], f->names[k]);
			partial[k] |= f->part_cols[i][k] < 0;
		}
	}
	/* pandas makes a column that some frame lacks float when it held integers or booleans */
	for (int k = 0; k < f->n_cols; k++)
		if (partial[k] && f->types[k] == COL_INT64)
			f->types[k] = COL_FLOAT64;
	return frame_val(v, x, f);
}

/* -1 and a pointed error for the ways of asking for an array inside a frame expression; 0 otherwise. */
static int array_method(struct ctx *c, const struct expr *x, const char *m)
{
	if (!strcmp(m, "to_numpy") || !strcmp(m, "to_dask_array"))
		return fail(c, x, "%s() is spelled to_array() here", m);
	if (!strcmp(m, "to_array"))
		return fail(c, x, "to_array() makes an array, which a frame expression cannot use");
	return 0;
}

/* The index in @f of column @col of @anc when @f's rows are some of @anc's (filtered, sorted, cut) and
 * carry that column unchanged; -1 otherwise. */
static int col_through(const struct fnode *f, const struct fnode *anc, int col)
{
	if (f == anc)
		return col;
	switch (f->kind) {
	case FN_FILTER:
	case FN_DROPNA:
	case FN_SORT:
	case FN_HEAD:
		return col_through(f->in, anc, col);
	case FN_SELECT:
	case FN_ASSIGN:
	case FN_FILLNA: {
		int k = col_through(f->in, anc, col);
		for (int j = 0; k >= 0 && j < f->n_cols; j++)
			if (f->src_col[j] == k && !(f->cx && f->cx[j]))
				return j;
		return -1;
	}
	default:
		return -1;
	}
}

/* @e over the columns of @in, where it reads a frame that @in's rows come from: pandas aligns such a
 * Series by row label, which is the same row here (df[mask].groupby(df.key)). *ok false when some
 * column does not reach @in unchanged. */
static struct cexpr *rebase_cx(struct ctx *c, const struct cexpr *e, struct fnode *in, bool *ok)
{
	if (!e)
		return NULL;
	struct cexpr *r = alloc(c, sizeof *r);
	*r = *e;
	if (e->frame)
		r->frame = in;
	if (e->kind == CX_COL && (r->col = col_through(in, e->frame, e->col)) < 0)
		*ok = false;
	if (e->kind == CX_ROWID)
		*ok = false;
	r->a = rebase_cx(c, e->a, in, ok);
	r->b = rebase_cx(c, e->b, in, ok);
	if (e->n_list) {
		r->list = alloc(c, e->n_list * sizeof *r->list);
		for (size_t i = 0; i < e->n_list; i++)
			r->list[i] = rebase_cx(c, e->list[i], in, ok);
	}
	return r;
}

/* @e as a column of @in (itself, or rebased), or NULL when it is neither. */
static struct cexpr *cx_of(struct ctx *c, struct cexpr *e, struct fnode *in)
{
	if (e->frame == in)
		return e;
	bool ok = true;
	struct cexpr *r = rebase_cx(c, e, in, &ok);
	return ok ? r : NULL;
}

/*
 * groupby()'s keys: column names, or columns of @in computed as pandas groups by a Series (df.a > 0,
 * df.date.dt.month). Computed keys become hidden columns of an assign() node (a name no expression can
 * spell, so they never shadow the columns being aggregated), which *@out then is; the aggregate shows
 * them under their Series name (see agg_schema()).
 */
static int group_keys(struct ctx *c, const struct expr *by, struct fnode *in, struct fnode **out, int **idx, int *n)
{
	const struct expr *const *items;
	size_t cnt;
	if (name_items(c, &by, &items, &cnt) < 0)
		return -1;
	*idx = alloc(c, cnt * sizeof **idx);
	*n = (int)cnt;
	*out = in;
	struct fnode *f = NULL;
	for (size_t i = 0; i < cnt; i++) {
		const struct expr *it = items[i];
		if (it->kind == EX_STR) {
			if (((*idx)[i] = col_or_fail(c, it, in, it->str)) < 0)
				return -1;
			continue;
		}
		struct fval kv;
		if (eval(c, it, &kv) < 0)
			return -1;
		if (kv.kind != FV_COL || !kv.c->frame)
			return fail(c, it, "a group key is a column name or a column of the frame");
		struct cexpr *cx = cx_of(c, kv.c, in);
		if (!cx)
			return err_at(c->b->e, at(c, it->off), "a group key must be computed from the frame being grouped (or "
				      "one whose rows it keeps unchanged)");
		if (cx->kind == CX_COL && !cx->name) {
			(*idx)[i] = cx->col;
			continue;
		}
		if (!f)
			f = assign_node(c, in, it, "assign", (int)cnt);
		const char *name = series_name(cx);
		char *hidden;
		if (name)
			hidden = arena_printf(c->b->arena, "%c%s", HIDDEN_KEY, name);
		else if (cnt == 1)
			hidden = arena_printf(c->b->arena, "%cindex", HIDDEN_KEY);
		else
			hidden = arena_printf(c->b->arena, "%clevel_%zu", HIDDEN_KEY, i);
		for (size_t j = 0; j < i; j++) {
			const char *other = f && (*idx)[j] >= in->n_cols ? f->names[(*idx)[j]] + 1 : in->names[(*idx)[j]];
			if (!strcmp(other, hidden + 1))
				return err_at(c->b->e, at(c, it->off), "two group keys named '%s': name this one with "
					      ".rename(\"...\")", hidden + 1);
		}
		int k = f->n_cols++;
		f->names[k] = hidden;
		f->types[k] = cx->type;
		f->src_col[k] = -1;
		f->cx[k] = cx;
		(*idx)[i] = k;
	}
	if (f)
		*out = f;
	return 0;
}

static int frame_subscript(struct ctx *c, const struct expr *x, struct fnode *in, const struct expr *s, struct fval *v);

struct query_where {
	struct ctx *c;
	uint32_t base;
};

static struct loc query_where_cb(void *arg, size_t off)
{
	struct query_where *w = arg;
	return at(w->c, w->base + (uint32_t)off);
}

/*
 * df.query("cond"): the rows where cond holds, cond written by pandas' query() rules (see
 * expr_parse_query()) with the frame's columns as bare names. Its locations point into the
 * string as written (exact when the string has no escape sequences).
 */
static int query_node(struct ctx *c, const struct expr *x, struct fnode *in, struct fval *v)
{
	static const char *const kws[] = { "expr", NULL };
	if (check_args(c, x, "query", 1, kws) < 0)
		return -1;
	const struct expr *q = arg(x, 0, "expr");
	if (!q || q->kind != EX_STR)
		return fail(c, q ? q : x, "query() takes a condition as a string");
	struct query_where w = { c, q->off + 1 };
	struct expr *cond = expr_parse_query(c->b->arena, q->str, strlen(q->str), query_where_cb, &w, c->b->e);
	if (!cond)
		return -1;
	expr_shift(cond, w.base);
	if (cond->kind == EX_STR || cond->kind == EX_LIST || cond->kind == EX_SLICE)
		return fail(c, cond, "query() takes a condition");
	struct fnode *outer = c->query;
	c->query = in;
	int rc = frame_subscript(c, x, in, cond, v);
	c->query = outer;
	return rc;
}

/*
 * df.sum(), df.mean(), ... : one value per column, as pandas' Series indexed by column name after
 * reset_index(): a column "index" naming the column, then the value in a column named "0". sum,
 * mean, median, std and var take the number columns (bool, int64, float64: numeric_only=True);
 * min, max, count and nunique every column (numeric_only=True limits them too). The values are
 * int64 when every one is, float64 when they are numbers, else text, as pandas' object Series
 * writes them. One stacked aggregate: a single map-reduce pass.
 */
static int frame_reduce(struct ctx *c, const struct expr *x, struct fnode *in, enum agg_fn fn, struct fval *v)
{
	static const char *const kws[] = { "axis", "numeric_only", "skipna", "ddof", NULL };
	if (check_args(c, x, agg_fn_name(fn), 0, kws) < 0)
		return -1;
	const struct expr *a;
	if ((a = kwarg(x, "axis")) && !(a->kind == EX_NONE || (a->kind == EX_INT && a->i == 0) ||
					 (a->kind == EX_STR && !strcmp(a->str, "index"))))
		return fail(c, a, "only axis=0 (one value per column) is supported");
	bool skipna = true, numeric_only = fn != AGG_MIN && fn != AGG_MAX && fn != AGG_COUNT && fn != AGG_NUNIQUE;
	if ((a = kwarg(x, "skipna")) && const_bool(c, a, "skipna", &skipna) < 0)
		return -1;
	if (!skipna)
		return fail(c, a, "skipna=False is not supported: missing values are skipped");
	if ((a = kwarg(x, "numeric_only")) && a->kind != EX_NONE) {
		bool only = false;
		if (const_bool(c, a, "numeric_only", &only) < 0)
			return -1;
		numeric_only |= only;
	}
	int ddof;
	if (ddof_arg(c, x, &ddof) < 0)
		return -1;
	struct fnode *f = agg_node(c, x, in, 0, NULL);
	f->label = agg_fn_name(fn);
	f->aggs_cap = in->n_cols ? in->n_cols : 1;
	f->aggs = alloc(c, (size_t)f->aggs_cap * sizeof *f->aggs);
	f->stack_names = alloc(c, (size_t)f->aggs_cap * sizeof *f->stack_names);
	bool ints = true, nums = true;
	for (int k = 0; k < in->n_cols; k++) {
		enum col_type t = in->types[k];
		if (numeric_only && !is_num(t))
			continue;
		if (in->n_cols > 256)
			return fail(c, x, "%s() of more than 256 columns: select some first", agg_fn_name(fn));
		enum col_type rt = (enum col_type)agg_result_type(fn, t);
		ints &= rt == COL_INT64;
		nums &= rt == COL_INT64 || rt == COL_FLOAT64 || rt == COL_BOOL;
		f->stack_names[f->n_stack++] = in->names[k];
		if (agg_add(c, x, f, fn, k, arena_printf(c->b->arena, "%d", k), ddof) < 0)
			return -1;
	}
	if (!f->n_stack)
		return fail(c, x, "%s() of a frame without number columns", agg_fn_name(fn));
	f->n_cols = 2;
	f->names = alloc(c, 2 * sizeof *f->names);
	f->types = alloc(c, 2 * sizeof *f->types);
	f->names[0] = "index";
	f->types[0] = COL_STRING;
	f->names[1] = "0";
	f->types[1] = ints && f->n_stack ? COL_INT64 : nums ? COL_FLOAT64 : COL_STRING;
	return frame_val(v, x, f);
}

static int frame_method(struct ctx *c, const struct expr *x, struct fval *obj, const char *m, struct fval *v)
{
	struct fnode *in = obj->f;
	if (!strcmp(m, "groupby")) {
		static const char *const kws[] = { "by", "sort", "dropna", "as_index", NULL };
		if (check_args(c, x, "groupby", 1, kws) < 0)
			return -1;
		const struct expr *by = arg(x, 0, "by");
		if (!by)
			return fail(c, x, "groupby() needs key columns");
		memset(v, 0, sizeof *v);
		v->kind = FV_GROUPBY;
		v->x = x;
		v->n_sel = -1;
		if (group_keys(c, by, in, &v->f, &v->keys_idx, &v->n_keys) < 0)
			return -1;
		return v->n_keys > 64 ? fail(c, by, "at most 64 key columns") : 0;
	}
	if (!strcmp(m, "assign")) {
		if (x->n)
			return fail(c, x->items[0], "assign() takes name=expression keywords");
		struct fnode *f = assign_node(c, in, x, "assign", (int)x->n_kw);
		for (size_t i = 0; i < x->n_kw; i++) {
			struct fval e;
			struct cexpr *cx;
			if (eval(c, x->kw_vals[i], &e) < 0 || to_cx(c, &e, &cx) < 0)
				return -1;
			if (cx->frame && !(cx = cx_of(c, cx, in)))
				return fail(c, x->kw_vals[i], "assign() takes columns of the frame it is called on (or of one "
							      "whose rows it keeps unchanged)");
			if (cx->kind == CX_CONST && cx->is_null)
				cx->type = COL_FLOAT64;
			int k = find_col(f, x->kw_names[i]);
			if (k < 0)
				k = f->n_cols++;
			f->names[k] = x->kw_names[i];
			f->types[k] = cx->type;
			f->src_col[k] = -1;
			f->cx[k] = cx;
		}
		return frame_val(v, x, f);
	}
	if (!strcmp(m, "head") || !strcmp(m, "tail")) {
		static const char *const kws[] = { "n", NULL };
		if (check_args(c, x, m, 1, kws) < 0)
			return -1;
		int64_t n = 5;
		const struct expr *a = arg(x, 0, "n");
		if (a && const_int(c, a, "head's n", &n) < 0)
			return -1;
		if (n < 0)
			return fail(c, a, "head(n) needs n >= 0");
		bool tail = !strcmp(m, "tail");
		if (!tail && in->kind == FN_SORT && in->n_users == 0 && (in->limit < 0 || in->limit > n)) {
			in->limit = n; /* sort then head: keep only n rows while sorting */
			*v = *obj;
			v->x = x;
			return 0;
		}
		struct fnode *f = new_node(c, FN_HEAD, in, x, m);
		same_schema(c, f, in);
		f->limit = n;
		f->from_end = tail;
		return frame_val(v, x, f);
	}
	if (!strcmp(m, "drop_duplicates"))
		return drop_duplicates(c, x, in, v);
	if (!strcmp(m, "merge")) {
		static const char *const kws[] = { "right", "how", "on", "left_on", "right_on", "suffixes", NULL };
		if (check_args(c, x, "merge", 1, kws) < 0)
			return -1;
		const struct expr *r = arg(x, 0, "right");
		if (!r)
			return fail(c, x, "merge() needs the frame to merge with");
		return merge_node(c, x, in, r, v);
	}
	if (!strcmp(m, "sort_index")) {
		/* a grouped result's index is its keys */
		static const char *const kws[] = { "ascending", NULL };
		if (check_args(c, x, m, 0, kws) < 0)
			return -1;
		const struct fnode *g = agg_below(in);
		if (!g || g->n_keys == 0)
			return fail(c, x, "sort_index() sorts a grouped result by its keys; rows have no other labels here");
		bool asc = true;
		const struct expr *a = kwarg(x, "ascending");
		if (a && const_bool(c, a, "ascending", &asc) < 0)
			return -1;
		struct fnode *f = new_node(c, FN_SORT, in, x, "sort");
		same_schema(c, f, in);
		f->n_by = g->n_keys;
		f->by = alloc(c, (size_t)f->n_by * sizeof *f->by);
		f->asc = alloc(c, (size_t)f->n_by * sizeof *f->asc);
		for (int k = 0; k < f->n_by; k++) {
			f->by[k] = k;
			f->asc[k] = asc;
		}
		return frame_val(v, x, f);
	}
	if (!strcmp(m, "sort_values")) {
		static const char *const kws[] = { "by", "ascending", "kind", "na_position", NULL };
		if (check_args(c, x, "sort_values", 1, kws) < 0)
			return -1;
		const struct expr *by = arg(x, 0, "by");
		if (!by && !series_like(in))
			return fail(c, x, "sort_values() needs by= (it is optional only on a grouped result "
					  "with one value column, as on a pandas Series)");
		const struct expr *na = kwarg(x, "na_position");
		if (na && (na->kind != EX_STR || strcmp(na->str, "last")))
			return fail(c, na, "only na_position=\"last\" is supported");
		return sort_node(c, x, in, by, kwarg(x, "ascending"), -1, false, v);
	}
	if (!strcmp(m, "nlargest") || !strcmp(m, "nsmallest")) {
		static const char *const kws[] = { "n", "columns", "keep", NULL };
		if (check_args(c, x, m, 2, kws) < 0)
			return -1;
		const struct expr *a = arg(x, 0, "n"), *by = arg(x, 1, "columns");
		int64_t n = 5; /* pandas' default */
		if (!by && series_like(in)) {
			if (a && const_int(c, a, "n", &n) < 0)
				return -1;
			if (n < 0)
				return fail(c, a, "n must be >= 0");
			return sort_node(c, x, in, NULL, NULL, n, !strcmp(m, "nlargest"), v);
		}
		if (!a || !by)
			return fail(c, x, "%s(n, columns) needs both", m);
		if (const_int(c, a, "n", &n) < 0)
			return -1;
		if (n < 0)
			return fail(c, a, "n must be >= 0");
		return sort_node(c, x, in, by, NULL, n, !strcmp(m, "nlargest"), v);
	}
	if (!strcmp(m, "dropna")) {
		static const char *const kws[] = { "subset", "how", NULL };
		if (check_args(c, x, "dropna", 0, kws) < 0)
			return -1;
		struct fnode *f = new_node(c, FN_DROPNA, in, x, "dropna");
		same_schema(c, f, in);
		f->subset = alloc(c, (size_t)in->n_cols * sizeof *f->subset);
		const struct expr *a = kwarg(x, "subset");
		if (a) {
			int *cols = NULL, n = 0;
			if (col_list(c, a, in, &cols, &n) < 0)
				return -1;
			for (int k = 0; k < n; k++)
				f->subset[cols[k]] = true;
		} else {
			for (int k = 0; k < in->n_cols; k++)
				f->subset[k] = true;
		}
		if ((a = kwarg(x, "how"))) {
			if (a->kind != EX_STR || (strcmp(a->str, "any") && strcmp(a->str, "all")))
				return fail(c, a, "how must be \"any\" or \"all\"");
			f->how_all = !strcmp(a->str, "all");
		}
		return frame_val(v, x, f);
	}
	if (!strcmp(m, "fillna")) {
		static const char *const kws[] = { "value", NULL };
		if (check_args(c, x, "fillna", 1, kws) < 0)
			return -1;
		const struct expr *a = arg(x, 0, "value");
		if (!a)
			return fail(c, x, "fillna() needs a value");
		struct fnode *f = new_node(c, FN_FILLNA, in, x, "fillna");
		same_schema(c, f, in);
		f->src_col = alloc(c, (size_t)in->n_cols * sizeof *f->src_col);
		f->cx = alloc(c, (size_t)in->n_cols * sizeof *f->cx);
		for (int k = 0; k < in->n_cols; k++)
			f->src_col[k] = k;
		/* per column: dict(col=value), or a {"col": value} mapping (a list of pairs) */
		bool by_call = a->kind == EX_CALL && a->a->kind == EX_NAME && !strcmp(a->a->str, "dict");
		bool by_map = a->kind == EX_LIST && a->n > 0;
		for (size_t i = 0; by_map && i < a->n; i++)
			by_map = a->items[i]->kind == EX_TUPLE && a->items[i]->n == 2 && a->items[i]->items[0]->kind == EX_STR;
		bool by_col = by_call || by_map;
		for (int k = 0; k < in->n_cols; k++) {
			const struct expr *val = a;
			if (by_call)
				val = kwarg(a, in->names[k]);
			for (size_t i = 0; by_map && i < a->n; i++)
				if (!strcmp(a->items[i]->items[0]->str, in->names[k]))
					val = a->items[i]->items[1];
			if (by_map && val == a)
				continue;
			if (!val)
				continue;
			struct fval lv;
			if (val->kind == EX_CALL || val->kind == EX_NAME || val->kind == EX_LIST)
				return fail(c, val, "fillna() takes a constant, dict(column=constant, ...) or {\"column\": constant}");
			if (literal(c, val, &lv) < 0)
				return -1;
			if (lv.c->is_null)
				continue;
			/* pandas fills only where the value fits the column (a number into numbers, text into text) */
			enum col_type t = in->types[k];
			bool fits = (is_num(t) && is_num(lv.c->type)) || t == lv.c->type ||
				    (t == COL_DATE && lv.c->type == COL_STRING);
			if (!fits) {
				if (by_col)
					return fail(c, val, "a %s cannot fill column '%s' (%s)", col_type_name(lv.c->type),
						    in->names[k], col_type_name(t));
				continue;
			}
			if (coerce_const(c, lv.c, t) < 0)
				return -1;
			if (t == COL_INT64 && lv.c->type == COL_FLOAT64)
				f->types[k] = COL_FLOAT64;
			f->cx[k] = lv.c;
			f->src_col[k] = -1;
		}
		return frame_val(v, x, f);
	}
	if (!strcmp(m, "rename") && x->n == 1 && x->items[0]->kind == EX_STR && series_like(in)) {
		if (x->n_kw)
			return fail(c, x, "rename(name) takes no keywords");
		return rename_value(c, x, in, x->items[0]->str, v);
	}
	if (!strcmp(m, "rename") || !strcmp(m, "drop")) {
		bool ren = !strcmp(m, "rename");
		static const char *const kws[] = { "columns", NULL };
		if (check_args(c, x, m, ren ? 0 : 1, kws) < 0)
			return -1;
		const struct expr *a = arg(x, ren ? (size_t)-1 : 0, "columns");
		if (!a)
			return fail(c, x, ren ? "rename() needs columns=dict(old=\"new\", ...)" : "drop() needs column names");
		struct fnode *f = new_node(c, FN_SELECT, in, x, m);
		f->names = alloc(c, (size_t)in->n_cols * sizeof *f->names);
		f->types = alloc(c, (size_t)in->n_cols * sizeof *f->types);
		f->src_col = alloc(c, (size_t)in->n_cols * sizeof *f->src_col);
		if (ren) {
			if (!(a->kind == EX_CALL && a->a->kind == EX_NAME && !strcmp(a->a->str, "dict")) &&
			    a->kind != EX_LIST)
				return fail(c, a, "rename's columns= is dict(old=\"new\", ...) or a mapping");
			same_schema(c, f, in);
			for (int k = 0; k < in->n_cols; k++)
				f->src_col[k] = k;
			for (size_t i = 0; a->kind == EX_CALL && i < a->n_kw; i++) {
				int k = col_or_fail(c, a, in, a->kw_names[i]);
				const char *nn = NULL;
				if (k < 0 || const_str(c, a->kw_vals[i], "a new name", &nn) < 0)
					return -1;
				f->names[k] = nn;
			}
			for (size_t i = 0; a->kind == EX_LIST && i < a->n; i++) {
				const struct expr *p = a->items[i];
				if ((p->kind != EX_TUPLE && p->kind != EX_LIST) || p->n != 2 || p->items[0]->kind != EX_STR ||
				    p->items[1]->kind != EX_STR)
					return fail(c, p, "rename entries are (old, new) pairs");
				int k = col_or_fail(c, p, in, p->items[0]->str);
				if (k < 0)
					return -1;
				f->names[k] = p->items[1]->str;
			}
			for (int k = 0; k < f->n_cols; k++)
				for (int j = 0; j < k; j++)
					if (!strcmp(f->names[k], f->names[j]))
						return fail(c, a, "rename would make two columns named '%s'", f->names[k]);
		} else {
			int *cols = NULL, n = 0;
			if (col_list(c, a, in, &cols, &n) < 0)
				return -1;
			for (int k = 0; k < in->n_cols; k++) {
				bool dropped = false;
				for (int j = 0; j < n; j++)
					dropped |= cols[j] == k;
				if (dropped)
					continue;
				f->names[f->n_cols] = in->names[k];
				f->types[f->n_cols] = in->types[k];
				f->src_col[f->n_cols++] = k;
			}
		}
		return frame_val(v, x, f);
	}
	if (!strcmp(m, "round")) {
		/* pandas' DataFrame.round: every float column; a grouped result's keys are its index there,
		 * so they stay as they are */
		static const char *const kws[] = { "decimals", NULL };
		if (check_args(c, x, "round", 1, kws) < 0)
			return -1;
		const struct expr *dg = arg(x, 0, "decimals");
		const struct fnode *g = agg_below(in);
		int keys = g ? g->n_keys : 0;
		struct fnode *f = assign_node(c, in, x, "round", 0);
		for (int k = 0; k < in->n_cols; k++) {
			if (k < keys || in->types[k] != COL_FLOAT64)
				continue;
			struct fval cv;
			if (col_fn(c, x, CF_ROUND, cx_col(c, in, k, x), dg, &cv) < 0)
				return -1;
			f->src_col[k] = -1;
			f->cx[k] = cv.c;
		}
		return frame_val(v, x, f);
	}
	if (!strcmp(m, "reset_index")) {
		/* Tessera keeps no row labels: a grouped result already has its keys as columns (what
		 * pandas' reset_index() makes of them), and drop=True drops labels there are none of. */
		static const char *const kws[] = { "drop", "name", NULL };
		if (check_args(c, x, "reset_index", 0, kws) < 0)
			return -1;
		const struct expr *d = kwarg(x, "drop"), *nm = kwarg(x, "name");
		bool drop = false;
		if (d && const_bool(c, d, "drop", &drop) < 0)
			return -1;
		if (nm) {
			const char *name = NULL;
			if (const_str(c, nm, "the name", &name) < 0)
				return -1;
			if (!series_like(in))
				return fail(c, nm, "reset_index(name=) names the values of a grouped result with one value "
						   "column (a pandas Series)");
			return rename_value(c, x, in, name, v);
		}
		const struct fnode *g = agg_below(in);
		if (!drop && !(g && (g->n_keys > 0 || g->n_stack > 0)))
			return fail(c, x, "reset_index() would add pandas' row labels as a column, and Tessera keeps "
					  "none: use reset_index(drop=True)");
		*v = *obj;
		v->x = x;
		return 0;
	}
	if (!strcmp(m, "describe")) {
		int *cols = alloc(c, (size_t)(in->n_cols ? in->n_cols : 1) * sizeof *cols);
		for (int k = 0; k < in->n_cols; k++)
			cols[k] = k;
		return describe_node(c, x, in, cols, in->n_cols, v);
	}
	if (!strcmp(m, "query"))
		return query_node(c, x, in, v);
	if (!strcmp(m, "isna") || !strcmp(m, "isnull") || !strcmp(m, "notna") || !strcmp(m, "notnull")) {
		/* a frame of flags, one per cell (df.isna().sum() counts each column's missing values) */
		if (check_args(c, x, m, 0, NULL) < 0)
			return -1;
		struct fnode *f = assign_node(c, in, x, m, 0);
		for (int k = 0; k < in->n_cols; k++) {
			struct cexpr *e = cx_new(c, m[0] == 'i' ? CX_ISNA : CX_NOTNA, COL_BOOL, x);
			e->a = cx_col(c, in, k, x);
			e->frame = in;
			f->types[k] = COL_BOOL;
			f->src_col[k] = -1;
			f->cx[k] = e;
		}
		return frame_val(v, x, f);
	}
	static const enum agg_fn reductions[] = { AGG_SUM, AGG_MEAN, AGG_MEDIAN, AGG_MIN, AGG_MAX,
						  AGG_COUNT, AGG_STD, AGG_VAR, AGG_NUNIQUE };
	for (size_t k = 0; k < sizeof reductions / sizeof reductions[0]; k++)
		if (!strcmp(m, agg_fn_name(reductions[k])))
			return frame_reduce(c, x, in, reductions[k], v);
	if (array_method(c, x, m) < 0)
		return -1;
	return fail(c, x, "a frame has no method '%s' (groupby, assign, head, tail, sort_values, nlargest, nsmallest, "
			  "dropna, fillna, rename, drop, drop_duplicates, merge, describe, round, reset_index, sum, mean, "
			  "median, min, max, count, std, var, nunique, isna, notna, loc; columns have more)", m);
}

/* A column alone as a one-column frame, named as pandas names the Series ("value" when it has no
 * name). NULL and the error on failure. */
static struct fnode *column_frame(struct ctx *c, const struct expr *x, struct cexpr *col)
{
	struct fnode *src = NULL;
	int k = 0;
	if (column_source(c, x, col, &src, &k) < 0)
		return NULL;
	struct fnode *f = new_node(c, FN_SELECT, src, x, "column");
	f->n_cols = 1;
	f->names = alloc(c, sizeof *f->names);
	f->types = alloc(c, sizeof *f->types);
	f->src_col = alloc(c, sizeof *f->src_col);
	const char *name = series_name(col);
	f->names[0] = name ? name : src->names[k];
	f->types[0] = src->types[k];
	f->src_col[0] = k;
	return f;
}

static int col_method(struct ctx *c, const struct expr *x, struct cexpr *col, const char *m, struct fval *v)
{
	static const struct {
		const char *name;
		enum expr_op op;
	} bin_methods[] = {
		{ "add", OPX_ADD }, { "sub", OPX_SUB }, { "mul", OPX_MUL }, { "div", OPX_DIV }, { "truediv", OPX_DIV },
		{ "floordiv", OPX_FLOORDIV }, { "mod", OPX_MOD }, { "pow", OPX_POW }, { "lt", OPX_LT }, { "le", OPX_LE },
		{ "gt", OPX_GT }, { "ge", OPX_GE }, { "eq", OPX_EQ }, { "ne", OPX_NE },
	};
	for (size_t k = 0; k < sizeof bin_methods / sizeof bin_methods[0]; k++) {
		if (strcmp(m, bin_methods[k].name))
			continue;
		static const char *const kws[] = { "other", NULL };
		if (check_args(c, x, m, 1, kws) < 0)
			return -1;
		const struct expr *o = arg(x, 0, "other");
		if (!o)
			return fail(c, x, "%s() needs another column or a value", m);
		struct fval l, r;
		col_val(&l, x, col);
		if (eval(c, o, &r) < 0)
			return -1;
		/* as the operator would be written: col <op> other */
		struct expr *as_op = alloc(c, sizeof *as_op);
		*as_op = *x;
		as_op->kind = EX_BINARY;
		as_op->op = bin_methods[k].op;
		return binary(c, as_op, &l, &r, v);
	}
	if (!strcmp(m, "clip")) {
		static const char *const kws[] = { "lower", "upper", NULL };
		if (check_args(c, x, m, 2, kws) < 0)
			return -1;
		if (!is_num(col->type))
			return fail(c, x, "clip() needs a number column, not %s", col_type_name(col->type));
		struct cexpr *e = cx_new(c, CX_FN, col->type == COL_FLOAT64 ? COL_FLOAT64 : COL_INT64, x);
		e->fn = CF_CLIP;
		e->a = col;
		e->frame = col->frame;
		e->n_list = 2;
		e->list = alloc(c, 2 * sizeof *e->list);
		static const char *const names[2] = { "lower", "upper" };
		for (int i = 0; i < 2; i++) {
			const struct expr *b = arg(x, (size_t)i, names[i]);
			if (!b || b->kind == EX_NONE)
				continue;
			struct fval lv;
			if (literal(c, b, &lv) < 0)
				return -1;
			if (lv.c->type != COL_INT64 && lv.c->type != COL_FLOAT64)
				return fail(c, b, "clip's %s bound must be a number", names[i]);
			if (lv.c->type == COL_FLOAT64)
				e->type = COL_FLOAT64;
			e->list[i] = lv.c;
		}
		return col_val(v, x, e);
	}
	if (!strcmp(m, "rename")) {
		static const char *const kws[] = { "index", NULL };
		if (check_args(c, x, m, 1, kws) < 0)
			return -1;
		const struct expr *a = arg(x, 0, "index");
		const char *name = NULL;
		if (!a || a->kind != EX_STR)
			return fail(c, a ? a : x, "a column's rename() takes its new name");
		if (const_str(c, a, "the new name", &name) < 0)
			return -1;
		struct cexpr *e = alloc(c, sizeof *e);
		*e = *col;
		e->name = name;
		return col_val(v, x, e);
	}
	/* row methods of a Series: the column as a one-column frame (sorted by itself) */
	if (!strcmp(m, "head") || !strcmp(m, "tail") || !strcmp(m, "sort_values") || !strcmp(m, "nlargest") ||
	    !strcmp(m, "nsmallest") || !strcmp(m, "dropna") || !strcmp(m, "drop_duplicates") || !strcmp(m, "unique")) {
		if (!strcmp(m, "unique")) {
			/* pandas gives an array of the values in order of appearance: the column without repeats */
			if (check_args(c, x, m, 0, NULL) < 0)
				return -1;
			m = "drop_duplicates";
		}
		if (!col->frame)
			return fail(c, x, "%s() of a constant", m);
		struct fnode *f = column_frame(c, x, col);
		if (!f)
			return -1;
		if (!strcmp(m, "nlargest") || !strcmp(m, "nsmallest")) {
			static const char *const kws[] = { "n", "keep", NULL };
			if (check_args(c, x, m, 1, kws) < 0)
				return -1;
			const struct expr *a = arg(x, 0, "n");
			int64_t n = 5; /* pandas' default */
			if (a && const_int(c, a, "n", &n) < 0)
				return -1;
			if (n < 0)
				return fail(c, a, "n must be >= 0");
			return sort_node(c, x, f, NULL, NULL, n, !strcmp(m, "nlargest"), v);
		}
		if (!strcmp(m, "sort_values")) {
			static const char *const kws[] = { "ascending", "kind", "na_position", NULL };
			if (check_args(c, x, "sort_values", 0, kws) < 0)
				return -1;
			const struct expr *na = kwarg(x, "na_position");
			if (na && (na->kind != EX_STR || strcmp(na->str, "last")))
				return fail(c, na, "only na_position=\"last\" is supported");
			return sort_node(c, x, f, NULL, kwarg(x, "ascending"), -1, false, v);
		}
		struct fval fv;
		frame_val(&fv, x, f);
		return frame_method(c, x, &fv, m, v);
	}
	if (!strcmp(m, "quantile"))
		return column_quantile(c, x, col, v);
	if (!strcmp(m, "describe")) {
		struct fnode *src = NULL;
		int k = 0;
		if (!col->frame)
			return fail(c, x, "describe() of a constant");
		if (column_source(c, x, col, &src, &k) < 0)
			return -1;
		if (describe_node(c, x, src, &k, 1, v) < 0)
			return -1;
		v->f->names[1] = col_name_of(c, col);
		return 0;
	}
	int fn = agg_fn_parse(m);
	if (fn >= 0 && fn != AGG_SIZE && fn != AGG_FIRST && fn != AGG_LAST) {
		if (!col->frame)
			return fail(c, x, "%s() of a constant", m);
		return column_reduce(c, x, col, (enum agg_fn)fn, v);
	}
	if (!strcmp(m, "value_counts"))
		return value_counts(c, x, col, v);
	struct cexpr *e = NULL;
	if (!strcmp(m, "isna") || !strcmp(m, "isnull") || !strcmp(m, "notna") || !strcmp(m, "notnull")) {
		if (check_args(c, x, m, 0, NULL) < 0)
			return -1;
		e = cx_new(c, m[0] == 'i' ? CX_ISNA : CX_NOTNA, COL_BOOL, x);
		e->a = col;
	} else if (!strcmp(m, "isin")) {
		if (check_args(c, x, "isin", 1, NULL) < 0)
			return -1;
		if (x->n != 1 || (x->items[0]->kind != EX_LIST && x->items[0]->kind != EX_TUPLE))
			return fail(c, x, "isin() takes a list of values");
		const struct expr *l = x->items[0];
		e = cx_new(c, CX_ISIN, COL_BOOL, x);
		e->a = col;
		e->n_list = l->n;
		e->list = alloc(c, l->n * sizeof *e->list);
		for (size_t i = 0; i < l->n; i++) {
			struct fval lv;
			if (l->items[i]->kind == EX_LIST || l->items[i]->kind == EX_TUPLE || l->items[i]->kind == EX_NAME ||
			    l->items[i]->kind == EX_CALL)
				return fail(c, l->items[i], "isin() takes constants");
			if (literal(c, l->items[i], &lv) < 0)
				return -1;
			if (!lv.c->is_null) {
				bool ok = (is_num(col->type) && is_num(lv.c->type)) || col->type == lv.c->type ||
					  (col->type == COL_DATE && lv.c->type == COL_STRING);
				if (!ok)
					return fail(c, l->items[i], "a %s in isin() of a %s column", col_type_name(lv.c->type),
						    col_type_name(col->type));
				if (coerce_const(c, lv.c, col->type) < 0)
					return -1;
			}
			e->list[i] = lv.c;
		}
	} else if (!strcmp(m, "fillna")) {
		if (check_args(c, x, "fillna", 1, NULL) < 0 || x->n != 1)
			return fail(c, x, "fillna() takes one value");
		struct fval lv;
		if (literal(c, x->items[0], &lv) < 0)
			return -1;
		bool ok = (is_num(col->type) && is_num(lv.c->type)) || col->type == lv.c->type ||
			  (col->type == COL_DATE && lv.c->type == COL_STRING);
		if (!ok)
			return fail(c, x->items[0], "a %s cannot fill a %s column", col_type_name(lv.c->type),
				    col_type_name(col->type));
		if (coerce_const(c, lv.c, col->type) < 0)
			return -1;
		e = cx_new(c, CX_FILLNA, col->type == COL_INT64 && lv.c->type == COL_FLOAT64 ? COL_FLOAT64 : col->type, x);
		e->a = col;
		e->b = lv.c;
	} else if (!strcmp(m, "astype")) {
		if (check_args(c, x, "astype", 1, NULL) < 0 || x->n != 1)
			return fail(c, x, "astype() takes a type name");
		const char *tn = NULL;
		if (const_str(c, x->items[0], "a type", &tn) < 0)
			return -1;
		int t = col_type_parse(tn);
		if (t < 0)
			return fail(c, x->items[0], "unknown type '%s'", tn);
		if (!(t == COL_STRING || col->type == COL_STRING || (is_num((enum col_type)t) && is_num(col->type)) ||
		      t == (int)col->type))
			return fail(c, x, "cannot convert a %s column to %s", col_type_name(col->type), tn);
		e = cx_new(c, CX_CAST, (enum col_type)t, x);
		e->a = col;
	} else if (!strcmp(m, "between")) {
		if (check_args(c, x, "between", 2, NULL) < 0 || x->n != 2)
			return fail(c, x, "between() takes two bounds");
		e = cx_new(c, CX_BETWEEN, COL_BOOL, x);
		e->a = col;
		e->n_list = 2;
		e->list = alloc(c, 2 * sizeof *e->list);
		for (int i = 0; i < 2; i++) {
			struct fval lv;
			if (literal(c, x->items[i], &lv) < 0 || coerce_const(c, lv.c, col->type) < 0)
				return -1;
			if (!((is_num(col->type) && is_num(lv.c->type)) || col->type == lv.c->type))
				return fail(c, x->items[i], "a %s bound for a %s column", col_type_name(lv.c->type),
					    col_type_name(col->type));
			e->list[i] = lv.c;
		}
	} else {
		for (size_t k = 0; k < sizeof col_fns / sizeof col_fns[0]; k++)
			if (!strcmp(m, col_fns[k].name)) {
				static const char *const kws[] = { "decimals", NULL };
				if (check_args(c, x, m, col_fns[k].fn == CF_ROUND ? 1 : 0, kws) < 0)
					return -1;
				return col_fn(c, x, col_fns[k].fn, col, arg(x, 0, "decimals"), v);
			}
		if (array_method(c, x, m) < 0)
			return -1;
		return fail(c, x, "a column has no method '%s' (sum, mean, median, quantile, min, max, count, std, var, "
				  "nunique, describe, value_counts, isna, notna, isin, fillna, astype, between, abs, round, "
				  "...)", m);
	}
	e->frame = col->frame;
	return col_val(v, x, e);
}

/* An optional integer argument: absent or None leaves *set false. */
static int opt_int(struct ctx *c, const struct expr *a, const char *what, int64_t *out, bool *set)
{
	*set = false;
	if (!a || a->kind == EX_NONE)
		return 0;
	*set = true;
	return const_int(c, a, what, out);
}

/* str.slice(start, stop, step) and str[start:stop:step] */
static int str_slice(struct ctx *c, const struct expr *x, struct cexpr *col, const struct expr *const parts[3],
		     struct fval *v)
{
	static const char *const what[3] = { "the slice's start", "the slice's stop", "the slice's step" };
	struct cexpr *e = cx_new(c, CX_STR, COL_STRING, x);
	e->fn = CS_SLICE;
	e->a = col;
	e->frame = col->frame;
	for (int i = 0; i < 3; i++)
		if (opt_int(c, parts[i], what[i], &e->sl[i], &e->sl_set[i]) < 0)
			return -1;
	if (e->sl_set[2] && e->sl[2] == 0)
		return fail(c, parts[2], "slice step cannot be zero");
	if (e->sl_set[2] && e->sl[2] == INT64_MIN)
		return fail(c, parts[2], "slice step out of range");
	return col_val(v, x, e);
}

static int str_get(struct ctx *c, const struct expr *x, struct cexpr *col, const struct expr *i, struct fval *v)
{
	struct cexpr *e = cx_new(c, CX_STR, COL_STRING, x);
	e->fn = CS_GET;
	e->a = col;
	e->frame = col->frame;
	if (const_int(c, i, "a character index", &e->sl[0]) < 0)
		return -1;
	return col_val(v, x, e);
}

/* str.split(...).str[i]: part @i of the split @proto describes. */
static int split_part(struct ctx *c, const struct expr *x, const struct cexpr *proto, const struct expr *i,
		      struct fval *v)
{
	if (i->kind == EX_SLICE)
		return fail(c, i, "a slice of split parts is not supported: take one part, .str[i]");
	struct cexpr *e = alloc(c, sizeof *e);
	*e = *proto;
	e->loc = at(c, x->off);
	if (const_int(c, i, "a part's index", &e->sl[0]) < 0)
		return -1;
	return col_val(v, x, e);
}

static int str_method(struct ctx *c, const struct expr *x, struct cexpr *col, const char *m, struct fval *v)
{
	static const struct {
		const char *name;
		enum cx_sfn fn;
		enum col_type t;
		bool pat;
	} sfns[] = {
		{ "contains", CS_CONTAINS, COL_BOOL, true }, { "startswith", CS_STARTSWITH, COL_BOOL, true },
		{ "endswith", CS_ENDSWITH, COL_BOOL, true }, { "len", CS_LEN, COL_INT64, false },
		{ "lower", CS_LOWER, COL_STRING, false },    { "upper", CS_UPPER, COL_STRING, false },
		{ "strip", CS_STRIP, COL_STRING, false },    { "lstrip", CS_LSTRIP, COL_STRING, false },
		{ "rstrip", CS_RSTRIP, COL_STRING, false },
	};
	if (!strcmp(m, "slice")) {
		static const char *const kws[] = { "start", "stop", "step", NULL };
		if (check_args(c, x, m, 3, kws) < 0)
			return -1;
		const struct expr *parts[3] = { arg(x, 0, "start"), arg(x, 1, "stop"), arg(x, 2, "step") };
		return str_slice(c, x, col, parts, v);
	}
	if (!strcmp(m, "split")) {
		static const char *const kws[] = { "pat", "n", "expand", "regex", NULL };
		if (check_args(c, x, m, 2, kws) < 0)
			return -1;
		const struct expr *p = arg(x, 0, "pat"), *k = arg(x, 1, "n"), *a;
		bool flag = false;
		if ((a = kwarg(x, "expand")) && (const_bool(c, a, "expand", &flag) < 0 || (flag && fail(c, a, "expand=True is "
				"not supported: take the parts with .str[i]") < 0)))
			return -1;
		if ((a = kwarg(x, "regex")) && (const_bool(c, a, "regex", &flag) < 0 || (flag && fail(c, a, "only a literal "
				"separator is supported: pass regex=False") < 0)))
			return -1;
		struct cexpr *e = cx_new(c, CX_STR, COL_STRING, x);
		e->fn = CS_SPLIT_GET;
		e->a = col;
		e->frame = col->frame;
		e->n_repl = -1;
		if (p && p->kind != EX_NONE && const_str(c, p, "the separator", &e->s) < 0)
			return -1;
		if (e->s && !*e->s)
			return fail(c, p, "empty separator");
		e->slen = e->s ? strlen(e->s) : 0;
		if (k && k->kind != EX_NONE && const_int(c, k, "n", &e->n_repl) < 0)
			return -1;
		if (e->n_repl == 0)
			e->n_repl = -1; /* pandas: 0 and -1 both mean every split */
		memset(v, 0, sizeof *v);
		v->kind = FV_SPLIT;
		v->x = x;
		v->c = e;
		return 0;
	}
	if (!strcmp(m, "get")) {
		static const char *const kws[] = { "i", NULL };
		if (check_args(c, x, m, 1, kws) < 0)
			return -1;
		const struct expr *i = arg(x, 0, "i");
		return i ? str_get(c, x, col, i, v) : fail(c, x, "get() needs a character index");
	}
	if (!strcmp(m, "replace")) {
		static const char *const kws[] = { "pat", "repl", "n", "regex", NULL };
		if (check_args(c, x, m, 3, kws) < 0)
			return -1;
		const struct expr *p = arg(x, 0, "pat"), *r = arg(x, 1, "repl"), *k = arg(x, 2, "n"), *re = kwarg(x, "regex");
		if (!p || !r)
			return fail(c, x, "replace() needs a pattern and a replacement");
		struct cexpr *e = cx_new(c, CX_STR, COL_STRING, x);
		e->fn = CS_REPLACE;
		e->a = col;
		e->frame = col->frame;
		e->n_repl = -1;
		bool regex = false;
		if (const_str(c, p, "the pattern", &e->s) < 0 || const_str(c, r, "the replacement", &e->s2) < 0 ||
		    (k && const_int(c, k, "n", &e->n_repl) < 0) || (re && const_bool(c, re, "regex", &regex) < 0))
			return -1;
		e->slen = strlen(e->s);
		e->s2len = strlen(e->s2);
		/* a pattern without special characters means the same either way */
		if (regex && (strpbrk(e->s, ".^$*+?()[]{}|\\") || strchr(e->s2, '\\')))
			return fail(c, re, "only literal replacement is supported: pass regex=False");
		return col_val(v, x, e);
	}
	for (size_t k = 0; k < sizeof sfns / sizeof sfns[0]; k++) {
		if (strcmp(m, sfns[k].name))
			continue;
		static const char *const kws[] = { "pat", "case", "regex", "na", NULL };
		static const char *const strip_kws[] = { "to_strip", NULL };
		bool strip = sfns[k].fn == CS_STRIP || sfns[k].fn == CS_LSTRIP || sfns[k].fn == CS_RSTRIP;
		if (check_args(c, x, m, sfns[k].pat || strip ? 1 : 0,
			       strip ? strip_kws : sfns[k].fn == CS_CONTAINS ? kws : kws + 3) < 0)
			return -1;
		struct cexpr *e = cx_new(c, CX_STR, sfns[k].t, x);
		e->fn = (int)sfns[k].fn;
		e->a = col;
		e->frame = col->frame;
		if (strip) {
			const struct expr *p = arg(x, 0, "to_strip");
			if (p && p->kind != EX_NONE && const_str(c, p, "the characters to strip", &e->s) < 0)
				return -1;
			e->slen = e->s ? strlen(e->s) : 0;
		}
		if (sfns[k].pat) {
			const struct expr *p = arg(x, 0, "pat");
			if (!p || const_str(c, p, "the pattern", &e->s) < 0)
				return p ? -1 : fail(c, x, "%s() needs a pattern", m);
			e->slen = strlen(e->s);
		}
		if (sfns[k].fn == CS_CONTAINS) {
			e->regex = true;
			const struct expr *a;
			bool cs = true;
			if ((a = kwarg(x, "case")) && const_bool(c, a, "case", &cs) < 0)
				return -1;
			e->icase = !cs;
			if ((a = kwarg(x, "regex")) && const_bool(c, a, "regex", &e->regex) < 0)
				return -1;
			if (e->regex && strpbrk(e->s, ".^$*+?()[]{}|\\")) {
				regex_t *re = alloc(c, sizeof *re);
				int rc = regcomp(re, e->s, REG_EXTENDED | REG_NOSUB | (e->icase ? REG_ICASE : 0));
				if (rc) {
					char msg[128];
					regerror(rc, re, msg, sizeof msg);
					return fail(c, x, "bad regular expression '%s': %s", e->s, msg);
				}
				e->re = re; /* released with the process: regfree is not needed for a graph's life */
			}
		}
		return col_val(v, x, e);
	}
	return fail(c, x, ".str has no method '%s' (contains, startswith, endswith, len, lower, upper, strip, lstrip, "
			  "rstrip, slice, get, replace, split)", m);
}

static const struct {
	const char *name;
	enum cx_dt fn;
} dt_fields[] = {
	{ "year", DT_YEAR },
	{ "month", DT_MONTH },
	{ "day", DT_DAY },
	{ "dayofweek", DT_DAYOFWEEK },
	{ "day_of_week", DT_DAYOFWEEK },
	{ "weekday", DT_DAYOFWEEK },
	{ "dayofyear", DT_DAYOFYEAR },
	{ "day_of_year", DT_DAYOFYEAR },
	{ "quarter", DT_QUARTER },
	{ "days_in_month", DT_DAYS_IN_MONTH },
	{ "daysinmonth", DT_DAYS_IN_MONTH },
	{ "is_leap_year", DT_IS_LEAP_YEAR },
	{ "is_month_start", DT_IS_MONTH_START },
	{ "is_month_end", DT_IS_MONTH_END },
};

static struct cexpr *dt_cx(struct ctx *c, const struct expr *x, struct cexpr *col, enum cx_dt fn)
{
	struct cexpr *e = cx_new(c, CX_DT, fn >= DT_DAY_NAME ? COL_STRING : fn >= DT_IS_LEAP_YEAR ? COL_BOOL : COL_INT64, x);
	e->fn = (int)fn;
	e->a = col;
	e->frame = col->frame;
	return e;
}

/* .dt.field of a date column */
static int dt_field(struct ctx *c, const struct expr *x, struct cexpr *col, const char *name, struct fval *v)
{
	for (size_t k = 0; k < sizeof dt_fields / sizeof dt_fields[0]; k++)
		if (!strcmp(name, dt_fields[k].name))
			return col_val(v, x, dt_cx(c, x, col, dt_fields[k].fn));
	if (!strcmp(name, "day_name") || !strcmp(name, "month_name") || !strcmp(name, "strftime"))
		return fail(c, x, "'%s' is a method: write .dt.%s()", name, name);
	return fail(c, x, ".dt has no field '%s' (year, month, day, dayofweek, dayofyear, quarter, days_in_month, "
			  "is_leap_year, is_month_start, is_month_end; methods day_name, month_name, strftime)", name);
}

/* .dt.day_name(), .dt.month_name(), .dt.strftime(format) */
static int dt_method(struct ctx *c, const struct expr *x, struct cexpr *col, const char *m, struct fval *v)
{
	if (!strcmp(m, "day_name") || !strcmp(m, "month_name")) {
		if (check_args(c, x, m, 0, NULL) < 0)
			return -1;
		return col_val(v, x, dt_cx(c, x, col, m[0] == 'd' ? DT_DAY_NAME : DT_MONTH_NAME));
	}
	if (!strcmp(m, "strftime")) {
		static const char *const kws[] = { "date_format", NULL };
		if (check_args(c, x, m, 1, kws) < 0)
			return -1;
		const struct expr *f = arg(x, 0, "date_format");
		if (!f)
			return fail(c, x, "strftime() needs a format");
		struct cexpr *e = dt_cx(c, x, col, DT_STRFTIME);
		if (const_str(c, f, "the format", &e->s) < 0)
			return -1;
		e->slen = strlen(e->s);
		return col_val(v, x, e);
	}
	for (size_t k = 0; k < sizeof dt_fields / sizeof dt_fields[0]; k++)
		if (!strcmp(m, dt_fields[k].name))
			return fail(c, x, "'%s' is a field: write .dt.%s without ()", m, m);
	return fail(c, x, ".dt has no method '%s' (day_name, month_name, strftime)", m);
}

static int call(struct ctx *c, const struct expr *x, struct fval *v)
{
	const struct expr *callee = x->a;
	if (callee->kind == EX_NAME) {
		const char *n = callee->str;
		if (!strcmp(n, "read_csv"))
			return read_csv(c, x, v);
		if (!strcmp(n, "concat"))
			return concat_node(c, x, v);
		if (!strcmp(n, "merge")) {
			static const char *const kws[] = { "left", "right", "how", "on", "left_on", "right_on", "suffixes", NULL };
			if (check_args(c, x, "merge", 2, kws) < 0)
				return -1;
			const struct expr *l = arg(x, 0, "left"), *r = arg(x, 1, "right");
			struct fnode *lf;
			if (!l || !r)
				return fail(c, x, "merge() needs two frames");
			if (frame_arg(c, l, "merge's left side", &lf) < 0)
				return -1;
			return merge_node(c, x, lf, r, v);
		}
		if (!strcmp(n, "len")) {
			if (x->n != 1 || x->n_kw)
				return fail(c, x, "len() takes one frame or column");
			struct fval a;
			if (eval(c, x->items[0], &a) < 0)
				return -1;
			if (a.kind == FV_FRAME)
				return frame_len(c, x, a.f, v);
			if (a.kind == FV_COL)
				return frame_len(c, x, a.c->frame, v);
			return fail(c, x->items[0], "len() of something that is not a frame or a column");
		}
		for (size_t k = 0; k < sizeof col_fns / sizeof col_fns[0]; k++)
			if (!strcmp(n, col_fns[k].name)) {
				if (x->n < 1 || x->n > (col_fns[k].fn == CF_ROUND ? 2u : 1u) || x->n_kw)
					return fail(c, x, "%s() takes a column%s", n, col_fns[k].fn == CF_ROUND ? " and decimals" : "");
				struct fval a;
				struct cexpr *cx;
				if (eval(c, x->items[0], &a) < 0 || to_cx(c, &a, &cx) < 0)
					return -1;
				return col_fn(c, x, col_fns[k].fn, cx, x->n > 1 ? x->items[1] : NULL, v);
			}
		if (!strcmp(n, "dict")) {
			return fail(c, x, "dict() is only an argument (dtype=, fillna(), rename())");
		}
		return fail(c, callee, "unknown function '%s' in a frame expression", n);
	}
	if (callee->kind != EX_ATTR)
		return fail(c, x, "this cannot be called");
	struct fval obj;
	if (eval(c, callee->a, &obj) < 0)
		return -1;
	const char *m = callee->str;
	switch (obj.kind) {
	case FV_FRAME:
		if (obj.f->scalar)
			return fail(c, x, "a single value has no method '%s'", m);
		return frame_method(c, x, &obj, m, v);
	case FV_COL:
		return col_method(c, x, obj.c, m, v);
	case FV_STRACC:
		return str_method(c, x, obj.c, m, v);
	case FV_DTACC:
		return dt_method(c, x, obj.c, m, v);
	case FV_SPLITACC: {
		static const char *const kws[] = { "i", NULL };
		if (strcmp(m, "get"))
			return fail(c, x, "the parts of str.split() have .str[i] and .str.get(i) here, not '%s'", m);
		if (check_args(c, x, m, 1, kws) < 0)
			return -1;
		const struct expr *i = arg(x, 0, "i");
		return i ? split_part(c, x, obj.c, i, v) : fail(c, x, "get() needs an index");
	}
	case FV_SPLIT:
		return fail(c, x, "str.split() gives lists: take a part with .str[i] or .str.get(i)");
	case FV_GROUPBY:
	case FV_GCOL:
		return group_agg(c, x, &obj, m, v);
	default:
		return fail(c, x, "this value has no method '%s'", m);
	}
}

static int attribute(struct ctx *c, const struct expr *x, struct fval *v)
{
	struct fval obj;
	if (eval(c, x->a, &obj) < 0)
		return -1;
	const char *name = x->str;
	if (obj.kind == FV_FRAME && !obj.f->scalar) {
		if (!strcmp(name, "loc") && find_col(obj.f, name) < 0) {
			*v = obj;
			v->kind = FV_LOC;
			v->x = x;
			return 0;
		}
		if (!strcmp(name, "shape")) {
			*v = obj;
			v->kind = FV_SHAPE;
			v->x = x;
			return 0;
		}
		int k = find_col(obj.f, name);
		if (k < 0) {
			const char *hint = did_you_mean(name, obj.f->names, (size_t)obj.f->n_cols);
			return err_at(c->b->e, at(c, x->off + x->len - (uint32_t)strlen(name)), "no column '%s'%s%s%s", name,
				      hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "");
		}
		memset(v, 0, sizeof *v);
		v->kind = FV_COL;
		v->x = x;
		v->c = cx_col(c, obj.f, k, x);
		return 0;
	}
	if (obj.kind == FV_COL && !strcmp(name, "str")) {
		if (obj.c->type == COL_DATE) {
			/* pandas reads ISO dates as text unless told otherwise: .str works on their text */
			struct cexpr *t = cx_new(c, CX_CAST, COL_STRING, x);
			t->a = obj.c;
			t->frame = obj.c->frame;
			obj.c = t;
		}
		if (obj.c->type != COL_STRING)
			return fail(c, x, ".str needs a string column, not %s", col_type_name(obj.c->type));
		*v = obj;
		v->kind = FV_STRACC;
		v->x = x;
		return 0;
	}
	if (obj.kind == FV_COL && !strcmp(name, "dt")) {
		if (obj.c->type != COL_DATE)
			return fail(c, x, ".dt needs a date column, not %s (read it with dtype=dict(col=\"date\") when it "
					  "holds YYYY-MM-DD)", col_type_name(obj.c->type));
		*v = obj;
		v->kind = FV_DTACC;
		v->x = x;
		return 0;
	}
	if (obj.kind == FV_DTACC)
		return dt_field(c, x, obj.c, name, v);
	if (obj.kind == FV_SPLIT && !strcmp(name, "str")) {
		*v = obj;
		v->kind = FV_SPLITACC;
		v->x = x;
		return 0;
	}
	if (obj.kind == FV_SPLIT)
		return fail(c, x, "str.split() gives lists: take a part with .str[i] or .str.get(i)");
	if (obj.kind == FV_GROUPBY) {
		int k = col_or_fail(c, x, obj.f, name);
		if (k < 0)
			return -1;
		*v = obj;
		v->kind = FV_GCOL;
		v->x = x;
		v->n_sel = 1;
		v->sel = alloc(c, sizeof *v->sel);
		v->sel[0] = k;
		return 0;
	}
	return fail(c, x, "no attribute '%s' here", name);
}

static bool whole_slice(const struct expr *s)
{
	return s->kind == EX_SLICE && !s->start && !s->stop && !s->step;
}

/* df.loc[rows], df.loc[rows, cols]: rows a mask or ':', cols a name, a list of names or ':'. */
static int loc_subscript(struct ctx *c, const struct expr *x, struct fnode *in, struct fval *v)
{
	if (x->n < 1 || x->n > 2)
		return fail(c, x, "loc[] takes rows, or rows and columns");
	const struct expr *rows = x->items[0], *cols = x->n == 2 ? x->items[1] : NULL;
	if (rows->kind == EX_SLICE && !whole_slice(rows))
		return fail(c, rows, "row slices are not supported: use head(n)");
	if (!whole_slice(rows)) {
		if (rows->kind == EX_STR || rows->kind == EX_LIST)
			return fail(c, rows, "loc[] selects rows by a mask here (rows have no labels)");
		if (frame_subscript(c, x, in, rows, v) < 0)
			return -1;
		in = v->f;
	} else if (!cols || whole_slice(cols)) {
		return frame_val(v, x, in);
	}
	if (!cols || whole_slice(cols))
		return 0;
	if (cols->kind != EX_STR && cols->kind != EX_LIST)
		return fail(c, cols, "loc[]'s columns are a name, a list of names or ':'");
	return frame_subscript(c, x, in, cols, v);
}

static int subscript(struct ctx *c, const struct expr *x, struct fval *v)
{
	struct fval obj;
	if (eval(c, x->a, &obj) < 0)
		return -1;
	if (obj.kind == FV_LOC)
		return loc_subscript(c, x, obj.f, v);
	if (x->n != 1)
		return fail(c, x, "one subscript expected");
	const struct expr *s = x->items[0];
	if (obj.kind == FV_SHAPE) {
		int64_t k = 0;
		if (const_int(c, s, "a shape index", &k) < 0)
			return -1;
		if (k == 0 || k == -2)
			return frame_len(c, x, obj.f, v);
		if (k == 1 || k == -1)
			return fail(c, x, "shape[1] is %d (a constant)", obj.f->n_cols);
		return fail(c, s, "shape has two entries");
	}
	if (obj.kind == FV_GROUPBY) {
		*v = obj;
		v->kind = FV_GCOL;
		v->x = x;
		return col_list(c, s, obj.f, &v->sel, &v->n_sel);
	}
	if (obj.kind == FV_SPLITACC)
		return split_part(c, x, obj.c, s, v);
	if (obj.kind == FV_STRACC) {
		if (s->kind == EX_SLICE) {
			const struct expr *const parts[3] = { s->start, s->stop, s->step };
			return str_slice(c, x, obj.c, parts, v);
		}
		return str_get(c, x, obj.c, s, v);
	}
	if (obj.kind != FV_FRAME || obj.f->scalar)
		return fail(c, x, "only frames, groupbys and shape can be subscripted here");
	return frame_subscript(c, x, obj.f, s, v);
}

/* A subscript @s of frame @in (in @x): a column, a list of columns, or a row filter. */
static int frame_subscript(struct ctx *c, const struct expr *x, struct fnode *in, const struct expr *s, struct fval *v)
{
	if (s->kind == EX_STR) {
		int k = col_or_fail(c, s, in, s->str);
		if (k < 0)
			return -1;
		memset(v, 0, sizeof *v);
		v->kind = FV_COL;
		v->x = x;
		v->c = cx_col(c, in, k, x);
		return 0;
	}
	if (s->kind == EX_LIST) {
		struct fnode *f = new_node(c, FN_SELECT, in, x, "select");
		if (col_list(c, s, in, &f->src_col, &f->n_cols) < 0)
			return -1;
		f->names = alloc(c, (size_t)f->n_cols * sizeof *f->names);
		f->types = alloc(c, (size_t)f->n_cols * sizeof *f->types);
		for (int k = 0; k < f->n_cols; k++) {
			f->names[k] = in->names[f->src_col[k]];
			f->types[k] = in->types[f->src_col[k]];
			for (int j = 0; j < k; j++)
				if (f->src_col[j] == f->src_col[k])
					return fail(c, s, "column '%s' selected twice", f->names[k]);
		}
		return frame_val(v, x, f);
	}
	if (s->kind == EX_SLICE)
		return fail(c, s, "row slices are not supported: use head(n)");
	struct fval m;
	struct cexpr *mask;
	if (eval(c, s, &m) < 0 || to_cx(c, &m, &mask) < 0)
		return -1;
	if (mask->type != COL_BOOL)
		return fail(c, s, "a filter needs a bool column (a comparison), not %s", col_type_name(mask->type));
	if (!mask->frame || !(mask = cx_of(c, mask, in)))
		return fail(c, s, "the filter must be computed from the frame it filters (or one whose rows it keeps "
				  "unchanged)");
	struct fnode *f = new_node(c, FN_FILTER, in, x, "filter");
	same_schema(c, f, in);
	f->mask = mask;
	return frame_val(v, x, f);
}

static int eval(struct ctx *c, const struct expr *x, struct fval *v)
{
	switch (x->kind) {
	case EX_INT:
	case EX_FLOAT:
	case EX_STR:
	case EX_BOOL:
	case EX_NONE:
		return literal(c, x, v);
	case EX_NAME: {
		if (c->query) {
			int k = col_or_fail(c, x, c->query, x->str);
			if (k < 0)
				return -1;
			memset(v, 0, sizeof *v);
			v->kind = FV_COL;
			v->x = x;
			v->c = cx_col(c, c->query, k, x);
			return 0;
		}
		struct fnode *f = NULL;
		int rc = c->b->lookup(c->b->lookup_arg, x->str, at(c, x->off), &f);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return fail(c, x, "'%s' is not a frame node here", x->str);
		memset(v, 0, sizeof *v);
		v->kind = FV_FRAME;
		v->x = x;
		v->f = f;
		f->n_users++;
		return 0;
	}
	case EX_LIST:
	case EX_TUPLE:
		return fail(c, x, "a list cannot stand alone here");
	case EX_CALL:
		return call(c, x, v);
	case EX_ATTR:
		return attribute(c, x, v);
	case EX_INDEX:
		return subscript(c, x, v);
	case EX_BINARY: {
		struct fval l, r;
		if (eval(c, x->a, &l) < 0 || eval(c, x->b2, &r) < 0)
			return -1;
		return binary(c, x, &l, &r, v);
	}
	case EX_UNARY: {
		struct fval a;
		struct cexpr *cx;
		if (eval(c, x->a, &a) < 0 || to_cx(c, &a, &cx) < 0)
			return -1;
		if (x->op == OPX_POS) {
			*v = a;
			return 0;
		}
		if (x->op == OPX_NEG) {
			if (!is_num(cx->type))
				return fail(c, x, "unary '-' needs a number, not %s", col_type_name(cx->type));
			if (cx->kind == CX_CONST) {
				cx->i = -cx->i;
				cx->f = -cx->f;
				if (cx->type == COL_BOOL)
					cx->type = COL_INT64;
				*v = a;
				return 0;
			}
		} else if (cx->type != COL_BOOL && cx->type != COL_INT64) {
			return fail(c, x, "'~' needs bool (or integer) values, not %s", col_type_name(cx->type));
		}
		struct cexpr *e = cx_new(c, x->op == OPX_NEG ? CX_NEG : CX_NOT,
					 cx->type == COL_BOOL && x->op == OPX_NEG ? COL_INT64 : cx->type, x);
		e->a = cx;
		e->frame = cx->frame;
		return col_val(v, x, e);
	}
	default:
		return fail(c, x, "not allowed in a frame expression");
	}
}

/* ---- detection and entry ---- */

static int detect(struct fbuild *b, const struct expr *x)
{
	if (!x)
		return 0;
	if (x->kind == EX_CALL && x->a->kind == EX_NAME && !strcmp(x->a->str, "read_csv"))
		return 1;
	if (x->kind == EX_NAME) {
		struct fnode *f;
		return b->lookup(b->lookup_arg, x->str, (struct loc){ 0 }, &f);
	}
	int rc;
	/* x.to_array() is an array, whatever x is: the array layer calls back for x (frame_to_array) */
	if (x->kind == EX_CALL && x->a->kind == EX_ATTR && !strcmp(x->a->str, "to_array"))
		return 0;
	/* a called name is a function (clip, where), not a node, even when a node has that name */
	if (!(x->kind == EX_CALL && x->a->kind == EX_NAME) && (rc = detect(b, x->a)) != 0)
		return rc;
	if ((rc = detect(b, x->b2)) != 0)
		return rc;
	for (size_t i = 0; i < x->n; i++)
		if ((rc = detect(b, x->items[i])) != 0)
			return rc;
	for (size_t i = 0; i < x->n_kw; i++)
		if ((rc = detect(b, x->kw_vals[i])) != 0)
			return rc;
	return 0;
}

int frame_detect(struct fbuild *b, const struct expr *x)
{
	return detect(b, x);
}


/* The fnode of @x: a frame, or a column as a one-column frame (*series set). */
static struct fnode *build_frame(struct ctx *c, const struct expr *x, bool *series)
{
	struct fval v;
	*series = false;
	if (eval(c, x, &v) < 0)
		return NULL;
	if (v.kind == FV_COL) {
		*series = true;
		return column_frame(c, x, v.c);
	}
	if (v.kind == FV_GROUPBY || v.kind == FV_GCOL) {
		fail(c, x, "a groupby needs an aggregate: .agg(...), .sum(), .size(), ...");
		return NULL;
	}
	if (v.kind == FV_SHAPE) {
		/* df.shape as a result: printed as Python prints the tuple */
		int cols = v.f->n_cols;
		if (frame_len(c, x, v.f, &v) < 0)
			return NULL;
		v.f->shape_cols = cols > 0 ? cols : -1;
	}
	if (v.kind != FV_FRAME) {
		fail(c, x, "this expression is not a frame or a value computed from one");
		return NULL;
	}
	return v.f;
}

struct fnode *frame_from_expr(struct fbuild *b, const struct doc *d, const char *text)
{
	struct ctx c = { .b = b, .d = d };
	struct expr *x = expr_parse(b->arena, text, strlen(text), where_cb, &c, b->e);
	if (!x)
		return NULL;
	bool series;
	return build_frame(&c, x, &series);
}

struct fnode *frame_build_sub(struct fbuild *b, const struct doc *d, const struct expr *x, bool *series)
{
	struct ctx c = { .b = b, .d = d };
	return build_frame(&c, x, series);
}

bool fnode_is_scalar(const struct fnode *f)
{
	return f->scalar;
}

const char *fnode_describe(struct arena *a, const struct fnode *f)
{
	if (f->scalar)
		return arena_printf(a, "a value (%s)", col_type_name(f->types[f->n_cols - 1]));
	return arena_printf(a, "frame (%d column%s)", f->n_cols, f->n_cols == 1 ? "" : "s");
}

void frame_release_inputs(struct fbuild *b)
{
	for (size_t i = 0; i < b->n_inputs; i++)
		csv_input_release(b->inputs[i]);
	free(b->inputs);
	b->inputs = NULL;
	b->n_inputs = b->inputs_cap = 0;
}
