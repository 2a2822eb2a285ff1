/* SPDX-License-Identifier: MIT */
/*
 * frame/eval: what one task of a frame family does.
 *
 * A partition task reads its block of a CSV file (or views the table
 * chunk of a materialized frame), splits out the fields its chain needs,
 * converts those whose values it needs, runs the chain's row-wise nodes
 * column by column, and emits text, a table, or a partial aggregate.
 * Everything a task allocates lives in one arena released when it ends.
 */
#include "frame/frame_int.h"
#include "frame/join.h"
#include "kernels.h"
#include "ops/op.h"
#include "util/text.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct tctx {
	struct arena *a;
	const struct ffam *fam;
	struct err *e;
	const char *block; /* the CSV block read: in @map, or in @buf */
	void *map;         /* mmap'ed, @map_len bytes */
	size_t map_len;
	char *buf;         /* malloc'ed */
	int64_t part;
	int n_x;           /* the one-chunk frames the task reads besides its source (ffam_extras()) */
	const struct fnode *xnode[FRAME_MAX_CHAIN_MERGES];
	struct table xtab[FRAME_MAX_CHAIN_MERGES];
	const struct csv_input *in; /* the file @block is from, and its block number there */
	int64_t in_block;
};

static void *talloc(struct tctx *t, size_t n)
{
	return arena_alloc(t->a, n ? n : 1);
}

/* ---- reading a CSV block ---- */

/*
 * Maps block @k of @in into t->block. A mapping of the page cache costs neither the copy of a read
 * nor the zero-filled pages of a fresh buffer, which showed as a quarter of a groupby's time; the
 * tokenizer pads the tail itself, so the block needs no terminator. A file that cannot be mapped is
 * read instead.
 */
static int read_block(struct tctx *t, const struct csv_input *in, int64_t k, uint64_t *len)
{
	t->in = in;
	t->in_block = k;
	uint64_t off = in->block_off[k], n = in->block_off[k + 1] - off;
	*len = n;
	int fd = open(in->data_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(t->e, NULL, "%s", in->path);
	if (n > 0) {
		uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), start = off / page * page;
		void *p = mmap(NULL, n + (off - start), PROT_READ, MAP_PRIVATE, fd, (off_t)start);
		if (p != MAP_FAILED) {
			close(fd);
			t->map = p;
			t->map_len = n + (off - start);
			t->block = (char *)p + (off - start);
			return 0;
		}
	}
	t->buf = xmalloc(n + 1);
	t->block = t->buf;
	uint64_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, t->buf + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int saved = errno;
			close(fd);
			errno = r < 0 ? saved : EIO;
			return err_sys(t->e, NULL, "%s: reading bytes %llu-%llu", in->path, (unsigned long long)off,
				       (unsigned long long)(off + n));
		}
		got += (uint64_t)r;
	}
	close(fd);
	return 0;
}

static int bad_value(struct tctx *t, const struct csv_tok *tok, int fc, int64_t r, enum col_type type, bool declared)
{
	const struct csv_input *in = t->in;
	int64_t line, col;
	uint64_t off = tok->fstart[fc][r];
	csv_locate(in, t->in_block, t->block, off, &line, &col);
	int n = (int)tok->flen[fc][r];
	return err_run(t->e, NULL, "%s:%lld:%lld: column '%s': '%.*s' is not %s%s", in->path, (long long)line,
		       (long long)col, in->names[fc], n > 60 ? 60 : n, t->block + off,
		       type == COL_INT64 ? "an integer" : type == COL_FLOAT64 ? "a number" :
		       type == COL_BOOL ? "True or False" : "a date (YYYY-MM-DD)",
		       declared ? " (its type was declared with dtype=)" :
				  " (its type was inferred from the first rows; declare it with dtype=)");
}

/* The path column of @rows rows read from @in: its path in every row, as a value (no raw text: writers
 * quote it as they need). */
static void path_column(struct tctx *t, const struct csv_input *in, int64_t rows, struct column *c)
{
	size_t len = strlen(in->path);
	char *data = talloc(t, (size_t)rows * len + 1);
	c->soff = talloc(t, (size_t)(rows + 1) * sizeof *c->soff);
	for (int64_t r = 0; r < rows; r++) {
		memcpy(data + (size_t)r * len, in->path, len);
		c->soff[r] = (uint64_t)r * len;
	}
	c->soff[rows] = (uint64_t)rows * len;
	c->sdata = data;
}

static int source_read(struct tctx *t, const struct ffam *m, int64_t k, struct table *out)
{
	const struct fnode *src = m->src;
	int64_t blk;
	const struct csv_input *in = fnode_read_block(src, k, &blk);
	uint64_t n;
	if (read_block(t, in, blk, &n) < 0)
		return -1;
	struct csv_tok tok;
	struct csv_fail cf;
	if (csv_tokenize(t->block, n, &src->dialect, in->n_cols, m->want, &tok, &cf) < 0) {
		int64_t line, col;
		csv_locate(in, blk, t->block, cf.off, &line, &col);
		csv_tok_release(&tok);
		return err_run(t->e, NULL, "%s:%lld:%lld: %s", in->path, (long long)line, (long long)col, cf.msg);
	}
	int64_t rows = tok.n_rows;
	out->n_cols = src->n_cols;
	out->n_rows = rows;
	out->names = src->names;
	out->cols = talloc(t, (size_t)src->n_cols * sizeof *out->cols);
	memset(out->cols, 0, (size_t)src->n_cols * sizeof *out->cols);
	int rc = 0;
	for (int j = 0; j < src->n_cols && rc == 0; j++) {
		int fc = src->src_col[j];
		struct column *c = &out->cols[j];
		c->type = src->types[j];
		c->n = rows;
		if (!m->want[fc])
			continue;
		if (fc == in->n_cols) {
			path_column(t, in, rows, c);
			continue;
		}
		uint32_t *rs = talloc(t, (size_t)rows * sizeof *rs), *rl = talloc(t, (size_t)rows * sizeof *rl);
		memcpy(rs, tok.fstart[fc], (size_t)rows * sizeof *rs);
		memcpy(rl, tok.flen[fc], (size_t)rows * sizeof *rl);
		c->rbase = t->block;
		c->rstart = rs;
		c->rlen = rl;
		if (!m->value[fc])
			continue;
		c->valid = talloc(t, (size_t)rows);
		if (c->type == COL_STRING) {
			uint64_t total = 0;
			for (int64_t r = 0; r < rows; r++)
				total += tok.flen[fc][r];
			char *data = talloc(t, total + 1);
			c->soff = talloc(t, (size_t)(rows + 1) * sizeof *c->soff);
			csv_column_strings(t->block, &tok, fc, &src->na, src->dialect.quote, data, c->soff, c->valid);
			c->sdata = data;
			if (!memchr(c->valid, 0, (size_t)rows))
				c->valid = NULL; /* nothing missing: every later loop skips the check */
			continue;
		}
		size_t width = c->type == COL_INT64 || c->type == COL_FLOAT64 ? 8 : c->type == COL_DATE ? 4 : 1;
		void *vals = talloc(t, (size_t)rows * width);
		int64_t bad;
		if (csv_column_parse(t->block, &tok, fc, c->type, &src->na, src->dialect.quote, vals, c->valid, &bad) < 0) {
			rc = bad_value(t, &tok, fc, bad, c->type, src->declared && src->declared[fc]);
			break;
		}
		if (!memchr(c->valid, 0, (size_t)rows))
			c->valid = NULL;
		switch (c->type) { /* csv_column_parse() left NaN at a missing float */
		case COL_INT64: c->i = vals; break;
		case COL_FLOAT64: c->f = vals; break;
		case COL_BOOL: c->b = vals; break;
		case COL_DATE: c->d = vals; break;
		default: break;
		}
	}
	csv_tok_release(&tok);
	return rc;
}

/* ---- column expressions ---- */

static uint8_t *all_valid(struct tctx *t, int64_t n)
{
	uint8_t *v = talloc(t, (size_t)n);
	memset(v, 1, (size_t)n);
	return v;
}

static bool valid_at(const struct column *c, int64_t r)
{
	return !c->valid || c->valid[r];
}

/* A float column's validity: NaN counts as missing (as in pandas). */
static void float_valid(struct tctx *t, struct column *c)
{
	uint8_t *v = NULL;
	for (int64_t r = 0; r < c->n; r++)
		if (isnan(c->f[r])) {
			if (!v) {
				v = all_valid(t, c->n);
				if (c->valid)
					memcpy(v, c->valid, (size_t)c->n);
			}
			v[r] = 0;
		}
	if (v)
		c->valid = v;
}

static const double *as_f64(struct tctx *t, const struct column *c)
{
	if (c->type == COL_FLOAT64)
		return c->f;
	double *d = talloc(t, (size_t)c->n * sizeof *d);
	for (int64_t r = 0; r < c->n; r++)
		d[r] = !valid_at(c, r) ? NAN : c->type == COL_INT64 ? (double)c->i[r] :
		       c->type == COL_BOOL ? c->b[r] : (double)c->d[r];
	return d;
}

static const int64_t *as_i64(struct tctx *t, const struct column *c)
{
	if (c->type == COL_INT64)
		return c->i;
	int64_t *d = talloc(t, (size_t)c->n * sizeof *d);
	for (int64_t r = 0; r < c->n; r++)
		d[r] = c->type == COL_BOOL ? c->b[r] : c->type == COL_DATE ? c->d[r] :
		       c->type == COL_FLOAT64 ? (int64_t)c->f[r] : 0;
	return d;
}

static uint8_t *and_valid(struct tctx *t, const struct column *a, const struct column *b, int64_t n)
{
	if (!a->valid && !b->valid)
		return NULL;
	uint8_t *v = talloc(t, (size_t)n);
	for (int64_t r = 0; r < n; r++)
		v[r] = valid_at(a, r) && valid_at(b, r);
	return v;
}

static void const_column(struct tctx *t, const struct cexpr *e, int64_t n, struct column *c)
{
	memset(c, 0, sizeof *c);
	c->type = e->type;
	c->n = n;
	if (e->is_null) {
		c->valid = talloc(t, (size_t)n);
		memset(c->valid, 0, (size_t)n);
	}
	switch (e->type) {
	case COL_INT64:
		c->i = talloc(t, (size_t)n * 8);
		for (int64_t r = 0; r < n; r++)
			c->i[r] = e->i;
		break;
	case COL_FLOAT64:
		c->f = talloc(t, (size_t)n * 8);
		for (int64_t r = 0; r < n; r++)
			c->f[r] = e->is_null ? NAN : e->f;
		break;
	case COL_BOOL:
		c->b = talloc(t, (size_t)n);
		memset(c->b, e->i ? 1 : 0, (size_t)n);
		break;
	case COL_DATE:
		c->d = talloc(t, (size_t)n * 4);
		for (int64_t r = 0; r < n; r++)
			c->d[r] = e->d;
		break;
	case COL_STRING: {
		size_t len = e->is_null ? 0 : e->slen;
		char *data = talloc(t, len * (size_t)n + 1);
		c->soff = talloc(t, (size_t)(n + 1) * sizeof *c->soff);
		for (int64_t r = 0; r < n; r++) {
			memcpy(data + (size_t)r * len, e->s ? e->s : "", len);
			c->soff[r] = (uint64_t)r * len;
		}
		c->soff[n] = (uint64_t)n * len;
		c->sdata = data;
		break;
	}
	default:
		break;
	}
}

static int strcmp_at(const struct column *a, int64_t r, const struct column *b, int64_t q)
{
	size_t la = a->soff[r + 1] - a->soff[r], lb = b->soff[q + 1] - b->soff[q];
	int c = memcmp(a->sdata + a->soff[r], b->sdata + b->soff[q], la < lb ? la : lb);
	return c ? c : (la > lb) - (la < lb);
}

static bool cmp_result(enum expr_op op, int c)
{
	switch (op) {
	case OPX_LT: return c < 0;
	case OPX_LE: return c <= 0;
	case OPX_GT: return c > 0;
	case OPX_GE: return c >= 0;
	case OPX_EQ: return c == 0;
	default: return c != 0;
	}
}

static int64_t ipow(int64_t b, int64_t e)
{
	uint64_t r = 1, x = (uint64_t)b;
	while (e > 0) {
		if (e & 1)
			r *= x;
		x *= x;
		e >>= 1;
	}
	return (int64_t)r;
}

static int cx_eval(struct tctx *t, const struct cexpr *e, const struct table *tb, struct column *out);

static int eval_bin(struct tctx *t, const struct cexpr *e, const struct table *tb, struct column *o)
{
	struct column a, b;
	if (cx_eval(t, e->a, tb, &a) < 0 || cx_eval(t, e->b, tb, &b) < 0)
		return -1;
	int64_t n = tb->n_rows;
	memset(o, 0, sizeof *o);
	o->type = e->type;
	o->n = n;
	enum expr_op op = e->op;
	if (op >= OPX_LT && op <= OPX_NE) {
		uint8_t *res = talloc(t, (size_t)n);
		bool ne = op == OPX_NE;
		if (a.type == COL_STRING) {
			for (int64_t r = 0; r < n; r++)
				res[r] = valid_at(&a, r) && valid_at(&b, r) ? cmp_result(op, strcmp_at(&a, r, &b, r)) : ne;
		} else if (a.type == COL_DATE && b.type == COL_DATE) {
			for (int64_t r = 0; r < n; r++)
				res[r] = valid_at(&a, r) && valid_at(&b, r) ?
						 cmp_result(op, (a.d[r] > b.d[r]) - (a.d[r] < b.d[r])) : ne;
		} else if (a.type != COL_FLOAT64 && b.type != COL_FLOAT64) {
			const int64_t *x = as_i64(t, &a), *y = as_i64(t, &b);
			for (int64_t r = 0; r < n; r++)
				res[r] = valid_at(&a, r) && valid_at(&b, r) ? cmp_result(op, (x[r] > y[r]) - (x[r] < y[r])) : ne;
		} else {
			/* NaN (missing) compares false, and != true, with no branch on validity */
			const double *x = as_f64(t, &a), *y = as_f64(t, &b);
			switch (op) {
			case OPX_LT: for (int64_t r = 0; r < n; r++) res[r] = x[r] < y[r]; break;
			case OPX_LE: for (int64_t r = 0; r < n; r++) res[r] = x[r] <= y[r]; break;
			case OPX_GT: for (int64_t r = 0; r < n; r++) res[r] = x[r] > y[r]; break;
			case OPX_GE: for (int64_t r = 0; r < n; r++) res[r] = x[r] >= y[r]; break;
			case OPX_EQ: for (int64_t r = 0; r < n; r++) res[r] = x[r] == y[r]; break;
			default: for (int64_t r = 0; r < n; r++) res[r] = !(x[r] == y[r]); break;
			}
		}
		o->b = res;
		return 0;
	}
	if (op == OPX_AND || op == OPX_OR || op == OPX_XOR) {
		if (e->type == COL_BOOL) {
			uint8_t *res = talloc(t, (size_t)n);
			for (int64_t r = 0; r < n; r++) {
				uint8_t x = valid_at(&a, r) && a.b[r], y = valid_at(&b, r) && b.b[r];
				res[r] = op == OPX_AND ? (x & y) : op == OPX_OR ? (x | y) : (x ^ y);
			}
			o->b = res;
			return 0;
		}
		const int64_t *x = as_i64(t, &a), *y = as_i64(t, &b);
		o->i = talloc(t, (size_t)n * 8);
		for (int64_t r = 0; r < n; r++)
			o->i[r] = op == OPX_AND ? (x[r] & y[r]) : op == OPX_OR ? (x[r] | y[r]) : (x[r] ^ y[r]);
		o->valid = and_valid(t, &a, &b, n);
		return 0;
	}
	if (e->type == COL_STRING) {
		o->valid = and_valid(t, &a, &b, n);
		uint64_t total = a.soff[n] + b.soff[n];
		char *data = talloc(t, total + 1);
		o->soff = talloc(t, (size_t)(n + 1) * sizeof *o->soff);
		uint64_t p = 0;
		for (int64_t r = 0; r < n; r++) {
			o->soff[r] = p;
			if (o->valid && !o->valid[r])
				continue;
			size_t la = a.soff[r + 1] - a.soff[r], lb = b.soff[r + 1] - b.soff[r];
			memcpy(data + p, a.sdata + a.soff[r], la);
			memcpy(data + p + la, b.sdata + b.soff[r], lb);
			p += la + lb;
		}
		o->soff[n] = p;
		o->sdata = data;
		return 0;
	}
	if (e->type == COL_FLOAT64) {
		const double *x = as_f64(t, &a), *y = as_f64(t, &b);
		double *z = talloc(t, (size_t)n * 8);
		switch (op) {
		case OPX_ADD: for (int64_t r = 0; r < n; r++) z[r] = x[r] + y[r]; break;
		case OPX_SUB: for (int64_t r = 0; r < n; r++) z[r] = x[r] - y[r]; break;
		case OPX_MUL: for (int64_t r = 0; r < n; r++) z[r] = x[r] * y[r]; break;
		case OPX_DIV: for (int64_t r = 0; r < n; r++) z[r] = x[r] / y[r]; break;
		case OPX_FLOORDIV: for (int64_t r = 0; r < n; r++) z[r] = floor(x[r] / y[r]); break;
		case OPX_MOD:
			for (int64_t r = 0; r < n; r++) {
				double m = fmod(x[r], y[r]);
				z[r] = m != 0 && ((m < 0) != (y[r] < 0)) ? m + y[r] : m;
			}
			break;
		case OPX_POW: for (int64_t r = 0; r < n; r++) z[r] = pow(x[r], y[r]); break;
		default: break;
		}
		o->f = z;
		o->valid = and_valid(t, &a, &b, n);
		float_valid(t, o);
		return 0;
	}
	const int64_t *x = as_i64(t, &a), *y = as_i64(t, &b);
	int64_t *z = talloc(t, (size_t)n * 8);
	uint8_t *v = and_valid(t, &a, &b, n);
	for (int64_t r = 0; r < n; r++) {
		switch (op) {
		case OPX_ADD: z[r] = (int64_t)((uint64_t)x[r] + (uint64_t)y[r]); break;
		case OPX_SUB: z[r] = (int64_t)((uint64_t)x[r] - (uint64_t)y[r]); break;
		case OPX_MUL: z[r] = (int64_t)((uint64_t)x[r] * (uint64_t)y[r]); break;
		case OPX_FLOORDIV:
		case OPX_MOD:
			if (y[r] == 0 || (x[r] == INT64_MIN && y[r] == -1)) {
				if (!v)
					v = all_valid(t, n);
				v[r] = 0;
				z[r] = 0;
				break;
			} else {
				int64_t q = x[r] / y[r], m = x[r] % y[r];
				if (m != 0 && ((m < 0) != (y[r] < 0))) {
					q--;
					m += y[r];
				}
				z[r] = op == OPX_FLOORDIV ? q : m;
			}
			break;
		case OPX_POW: z[r] = ipow(x[r], y[r]); break;
		default: z[r] = 0; break;
		}
	}
	o->i = z;
	o->valid = v;
	return 0;
}

/* @x rounded half to even at @digits decimals; @p is 10^|digits| (computed once per column). */
static double round_half_even(double x, int digits, double p)
{
	if (digits >= 0) {
		double y = nearbyint(x * p) / p;
		return isfinite(y) ? y : x;
	}
	return nearbyint(x / p) * p;
}

static bool str_match(const struct cexpr *e, const char *s, size_t n, char *scratch)
{
	switch ((enum cx_sfn)e->fn) {
	case CS_STARTSWITH:
		return n >= e->slen && !memcmp(s, e->s, e->slen);
	case CS_ENDSWITH:
		return n >= e->slen && !memcmp(s + n - e->slen, e->s, e->slen);
	default:
		break;
	}
	if (e->re) {
		memcpy(scratch, s, n);
		scratch[n] = 0;
		return regexec(e->re, scratch, 0, NULL, 0) == 0;
	}
	if (!e->icase)
		return memmem(s, n, e->s, e->slen) != NULL;
	for (size_t i = 0; i + e->slen <= n; i++)
		if (!strncasecmp(s + i, e->s, e->slen))
			return true;
	return e->slen == 0;
}

/* Ends text column @o of @n rows whose values were appended to @sb (o->soff[0..n) set): the last
 * offset, the bytes moved into the task's arena, @sb released. */
static void text_from_buf(struct tctx *t, struct buf *sb, int64_t n, struct column *o)
{
	o->soff[n] = sb->len;
	char *data = talloc(t, sb->len + 1);
	memcpy(data, sb->data ? sb->data : "", sb->len);
	o->sdata = data;
	buf_release(sb);
}

/* The byte length of the UTF-8 character starting at s[0] (of @len > 0 bytes); a stray byte is one. */
static size_t utf8_len(const char *s, size_t len)
{
	unsigned char c = (unsigned char)s[0];
	size_t k = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	if (k > len)
		return 1;
	for (size_t i = 1; i < k; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			return 1;
	return k;
}

/* Whether the character @s[0..k) is one Python's str.isspace() accepts. */
static bool is_space_char(const char *s, size_t k)
{
	static const char *const wide[] = {
		"\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\xa8", "\xe2\x80\xa9",
		"\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80",
	};
	if (k == 1)
		return s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r') || (s[0] >= 0x1c && s[0] <= 0x1f);
	if (k == 3 && (unsigned char)s[0] == 0xe2 && (unsigned char)s[1] == 0x80 && (unsigned char)s[2] >= 0x80 &&
	    (unsigned char)s[2] <= 0x8a)
		return true; /* U+2000..U+200A */
	for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
		if (strlen(wide[i]) == k && !memcmp(s, wide[i], k))
			return true;
	return false;
}

/* Whether character @s[0..k) is stripped: whitespace, or one of e->s's characters when given. UTF-8
 * synchronizes, so a whole character found in e->s is one of its characters. */
static bool strips(const struct cexpr *e, const char *s, size_t k)
{
	return e->s ? memmem(e->s, e->slen, s, k) != NULL : is_space_char(s, k);
}

/* The bytes of the first character of s[0..len) when strip() removes it, else 0. */
static size_t strip_front(const struct cexpr *e, const char *s, size_t len)
{
	size_t k = utf8_len(s, len);
	return strips(e, s, k) ? k : 0;
}

/* The bytes of the last character of s[0..len) when strip() removes it, else 0. */
static size_t strip_back(const struct cexpr *e, const char *s, size_t len)
{
	size_t b = len - 1;
	while (b > 0 && len - b < 4 && ((unsigned char)s[b] & 0xc0) == 0x80)
		b--;
	size_t k = utf8_len(s + b, len - b) == len - b ? len - b : 1;
	return strips(e, s + len - k, k) ? k : 0;
}

/* Python's slice.indices(): @e's slice normalized for a sequence of @L items. */
static void slice_bounds(const struct cexpr *e, int64_t L, int64_t *start, int64_t *stop, int64_t *step)
{
	int64_t st = e->sl_set[2] ? e->sl[2] : 1;
	int64_t lo = st > 0 ? 0 : -1, hi = st > 0 ? L : L - 1;
	int64_t b[2] = { st > 0 ? lo : hi, st > 0 ? hi : lo };
	for (int i = 0; i < 2; i++) {
		if (!e->sl_set[i])
			continue;
		int64_t v = e->sl[i];
		if (v < 0) {
			v += L;
			if (v < lo)
				v = lo;
		} else if (v > hi) {
			v = hi;
		}
		b[i] = v;
	}
	*start = b[0];
	*stop = b[1];
	*step = st;
}

/* str.slice() and str.get() / str[i], by characters as Python counts them. */
static int eval_slice(struct tctx *t, const struct cexpr *e, const struct column *a, size_t maxlen, struct column *o)
{
	int64_t n = a->n;
	bool get = e->fn == CS_GET;
	uint32_t *at = talloc(t, (maxlen + 1) * sizeof *at); /* byte offset of each character, then the end */
	char *data = talloc(t, a->soff[n] + 1);
	o->soff = talloc(t, (size_t)(n + 1) * sizeof *o->soff);
	o->valid = a->valid;
	uint64_t p = 0;
	for (int64_t r = 0; r < n; r++) {
		const char *s = a->sdata + a->soff[r];
		size_t len = a->soff[r + 1] - a->soff[r];
		int64_t L = 0;
		for (size_t i = 0; i < len; i += utf8_len(s + i, len - i))
			at[L++] = (uint32_t)i;
		at[L] = (uint32_t)len;
		o->soff[r] = p;
		if (!valid_at(a, r))
			continue;
		if (get) {
			int64_t i = e->sl[0] < 0 ? e->sl[0] + L : e->sl[0];
			if (i < 0 || i >= L) {
				if (o->valid == a->valid) {
					o->valid = talloc(t, (size_t)n);
					for (int64_t q = 0; q < n; q++)
						o->valid[q] = valid_at(a, q);
				}
				o->valid[r] = 0;
				continue;
			}
			memcpy(data + p, s + at[i], at[i + 1] - at[i]);
			p += at[i + 1] - at[i];
			continue;
		}
		int64_t i, stop, step;
		slice_bounds(e, L, &i, &stop, &step);
		if (step == 1 && i < stop) {
			memcpy(data + p, s + at[i], at[stop] - at[i]);
			p += at[stop] - at[i];
			continue;
		}
		for (; step > 0 ? i < stop : i > stop; i += step) {
			memcpy(data + p, s + at[i], at[i + 1] - at[i]);
			p += at[i + 1] - at[i];
		}
	}
	o->soff[n] = p;
	o->sdata = data;
	return 0;
}

/* How many parts Python's str.split(sep, maxsplit) makes of s[0..len); part @want (when there is one)
 * is s[*b .. *z). */
static int64_t split_parts(const struct cexpr *e, const char *s, size_t len, int64_t want, size_t *b, size_t *z)
{
	int64_t np = 0, left = e->n_repl < 0 ? INT64_MAX : e->n_repl;
	size_t i = 0;
	if (e->s) {
		for (;;) {
			const char *hit = left > 0 ? memmem(s + i, len - i, e->s, e->slen) : NULL;
			size_t end = hit ? (size_t)(hit - s) : len;
			if (np++ == want) {
				*b = i;
				*z = end;
			}
			if (!hit)
				return np;
			left--;
			i = end + e->slen;
		}
	}
	/* no separator: runs of whitespace split, and none is kept at either end */
	for (;;) {
		size_t k;
		while (i < len && is_space_char(s + i, k = utf8_len(s + i, len - i)))
			i += k;
		if (i >= len)
			return np;
		size_t start = i, end = len;
		if (left > 0) {
			while (i < len && !is_space_char(s + i, k = utf8_len(s + i, len - i)))
				i += k;
			end = i;
			left--;
		} else {
			i = len; /* the splits are used up: the rest is the last part, as it is */
		}
		if (np++ == want) {
			*b = start;
			*z = end;
		}
	}
}

/* str.split(sep).str[i]: one part, missing where there is no part i (pandas gives NaN). */
static int eval_split_get(struct tctx *t, const struct cexpr *e, const struct column *a, struct column *o)
{
	int64_t n = a->n;
	char *data = talloc(t, a->soff[n] + 1);
	o->soff = talloc(t, (size_t)(n + 1) * sizeof *o->soff);
	o->valid = talloc(t, (size_t)(n ? n : 1));
	uint64_t p = 0;
	for (int64_t r = 0; r < n; r++) {
		const char *s = a->sdata + a->soff[r];
		size_t len = a->soff[r + 1] - a->soff[r], b = 0, z = 0;
		o->soff[r] = p;
		o->valid[r] = 0;
		if (!valid_at(a, r))
			continue;
		int64_t k = e->sl[0];
		if (k < 0 && (k += split_parts(e, s, len, -1, &b, &z)) < 0)
			continue;
		if (split_parts(e, s, len, k, &b, &z) <= k)
			continue;
		memcpy(data + p, s + b, z - b);
		p += z - b;
		o->valid[r] = 1;
	}
	o->soff[n] = p;
	o->sdata = data;
	return 0;
}

/* str.replace() of a literal pattern, as Python's str.replace(pat, repl, count). */
static int eval_replace(struct tctx *t, const struct cexpr *e, const struct column *a, struct column *o)
{
	int64_t n = a->n;
	struct buf sb;
	buf_init(&sb);
	o->soff = talloc(t, (size_t)(n + 1) * sizeof *o->soff);
	for (int64_t r = 0; r < n; r++) {
		o->soff[r] = sb.len;
		const char *s = a->sdata + a->soff[r], *end = a->sdata + a->soff[r + 1];
		int64_t left = e->n_repl < 0 ? INT64_MAX : e->n_repl;
		if (e->slen == 0) {
			/* Python puts the replacement before every character and at the end */
			while (s < end && left-- > 0) {
				size_t k = utf8_len(s, (size_t)(end - s));
				buf_append(&sb, e->s2, e->s2len);
				buf_append(&sb, s, k);
				s += k;
			}
			if (s == end && left > 0)
				buf_append(&sb, e->s2, e->s2len);
		} else {
			const char *hit;
			while (left-- > 0 && (hit = memmem(s, (size_t)(end - s), e->s, e->slen))) {
				buf_append(&sb, s, (size_t)(hit - s));
				buf_append(&sb, e->s2, e->s2len);
				s = hit + e->slen;
			}
		}
		buf_append(&sb, s, (size_t)(end - s));
	}
	text_from_buf(t, &sb, n, o);
	o->valid = a->valid;
	return 0;
}

/* A date column's fields (.dt): pandas' integer fields and flags, names and strftime(). */
static int eval_dt(struct tctx *t, const struct cexpr *e, const struct column *a, struct column *o)
{
	static const char *const days[7] = { "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday" };
	static const char *const months[12] = { "January", "February", "March",     "April",   "May",      "June",
						"July",    "August",   "September", "October", "November", "December" };
	static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	static const unsigned before[12] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };
	int64_t n = a->n;
	enum cx_dt f = (enum cx_dt)e->fn;
	bool text = f >= DT_DAY_NAME, flag = f >= DT_IS_LEAP_YEAR && !text;
	struct buf sb;
	buf_init(&sb);
	if (text)
		o->soff = talloc(t, (size_t)(n + 1) * sizeof *o->soff);
	else if (flag)
		o->b = talloc(t, (size_t)n);
	else
		o->i = talloc(t, (size_t)n * 8);
	o->valid = flag ? NULL : a->valid; /* pandas' flags of a missing date are False */
	for (int64_t r = 0; r < n; r++) {
		if (text)
			o->soff[r] = sb.len;
		if (!valid_at(a, r)) {
			if (flag)
				o->b[r] = 0;
			else if (!text)
				o->i[r] = 0;
			continue;
		}
		int32_t dd = a->d[r];
		int64_t y;
		unsigned m, d;
		csv_civil_from_days(dd, &y, &m, &d);
		bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		unsigned dim = mdays[m - 1] + (m == 2 && leap), doy = before[m - 1] + (m > 2 && leap) + d;
		int64_t dow = ((int64_t)dd + 3) % 7; /* 1970-01-01 was a Thursday; Monday is 0 */
		if (dow < 0)
			dow += 7;
		int64_t v = 0;
		switch (f) {
		case DT_YEAR: v = y; break;
		case DT_MONTH: v = m; break;
		case DT_DAY: v = d; break;
		case DT_DAYOFWEEK: v = dow; break;
		case DT_DAYOFYEAR: v = doy; break;
		case DT_QUARTER: v = (m - 1) / 3 + 1; break;
		case DT_DAYS_IN_MONTH: v = dim; break;
		case DT_IS_LEAP_YEAR: v = leap; break;
		case DT_IS_MONTH_START: v = d == 1; break;
		case DT_IS_MONTH_END: v = d == dim; break;
		case DT_DAY_NAME: buf_puts(&sb, days[dow]); break;
		case DT_MONTH_NAME: buf_puts(&sb, months[m - 1]); break;
		case DT_STRFTIME: {
			struct tm tm = { .tm_year = (int)(y - 1900), .tm_mon = (int)m - 1, .tm_mday = (int)d,
					 .tm_wday = (int)((dow + 1) % 7), .tm_yday = (int)doy - 1 };
			size_t cap = 64 + 16 * e->slen;
			char *dst = buf_grow(&sb, cap);
			size_t w = strftime(dst, cap, e->s, &tm);
			sb.len -= cap - w;
			sb.data[sb.len] = 0;
			break;
		}
		}
		if (flag)
			o->b[r] = (uint8_t)v;
		else if (!text)
			o->i[r] = v;
	}
	if (text)
		text_from_buf(t, &sb, n, o);
	else
		buf_release(&sb);
	return 0;
}

static int eval_str(struct tctx *t, const struct cexpr *e, const struct column *a, struct column *o)
{
	int64_t n = a->n;
	size_t maxlen = 0;
	for (int64_t r = 0; r < n; r++)
		if (a->soff[r + 1] - a->soff[r] > maxlen)
			maxlen = a->soff[r + 1] - a->soff[r];
	switch ((enum cx_sfn)e->fn) {
	case CS_CONTAINS:
	case CS_STARTSWITH:
	case CS_ENDSWITH: {
		char *scratch = talloc(t, maxlen + 1);
		o->b = talloc(t, (size_t)n);
		for (int64_t r = 0; r < n; r++)
			o->b[r] = valid_at(a, r) &&
				  str_match(e, a->sdata + a->soff[r], a->soff[r + 1] - a->soff[r], scratch);
		return 0;
	}
	case CS_LEN:
		o->i = talloc(t, (size_t)n * 8);
		for (int64_t r = 0; r < n; r++) {
			int64_t k = 0;
			for (uint64_t p = a->soff[r]; p < a->soff[r + 1]; p++)
				k += ((unsigned char)a->sdata[p] & 0xc0) != 0x80; /* characters, not bytes */
			o->i[r] = k;
		}
		o->valid = a->valid;
		return 0;
	case CS_SLICE:
	case CS_GET:
		return eval_slice(t, e, a, maxlen, o);
	case CS_REPLACE:
		return eval_replace(t, e, a, o);
	case CS_SPLIT_GET:
		return eval_split_get(t, e, a, o);
	default: {
		bool fold = e->fn == CS_LOWER || e->fn == CS_UPPER;
		char *data = talloc(t, (fold ? TEXT_CASE_MAX : 1) * a->soff[n] + 1);
		o->soff = talloc(t, (size_t)(n + 1) * sizeof *o->soff);
		uint64_t p = 0;
		for (int64_t r = 0; r < n; r++) {
			const char *s = a->sdata + a->soff[r];
			size_t len = a->soff[r + 1] - a->soff[r], k;
			if (e->fn == CS_STRIP || e->fn == CS_LSTRIP)
				while (len && (k = strip_front(e, s, len)) > 0) {
					s += k;
					len -= k;
				}
			if (e->fn == CS_STRIP || e->fn == CS_RSTRIP)
				while (len && (k = strip_back(e, s, len)) > 0)
					len -= k;
			o->soff[r] = p;
			if (fold) {
				p += text_case(s, len, e->fn == CS_UPPER, data + p);
			} else {
				memcpy(data + p, s, len);
				p += len;
			}
		}
		o->soff[n] = p;
		o->sdata = data;
		o->valid = a->valid;
		return 0;
	}
	}
}

/* astype() of text: each value read as the CSV reader reads that type; a value that is not one stops
 * the run with the value in the error (pandas raises too). */
static int cast_text(struct tctx *t, const struct cexpr *e, const struct column *a, struct column *o)
{
	int64_t n = a->n;
	size_t w = e->type == COL_BOOL ? 1 : e->type == COL_DATE ? 4 : 8;
	char *vals = talloc(t, (size_t)(n ? n : 1) * w);
	for (int64_t r = 0; r < n; r++) {
		const char *s = a->sdata + a->soff[r];
		size_t len = a->soff[r + 1] - a->soff[r];
		bool ok = true, b = false;
		if (!valid_at(a, r)) {
			memset(vals + (size_t)r * w, 0, w);
			if (e->type == COL_FLOAT64)
				((double *)vals)[r] = NAN;
			continue;
		}
		switch (e->type) {
		case COL_INT64: ok = csv_parse_i64(s, len, (int64_t *)vals + r); break;
		case COL_FLOAT64: ok = csv_parse_f64(s, len, (double *)vals + r); break;
		case COL_DATE: ok = csv_parse_date(s, len, (int32_t *)vals + r); break;
		default:
			ok = csv_parse_bool(s, len, &b);
			vals[r] = (char)b;
			break;
		}
		if (!ok)
			return err_run(t->e, NULL, "astype(\"%s\"): '%.*s' cannot be read as %s", col_type_name(e->type),
				       len > 40 ? 40 : (int)len, s, col_type_name(e->type));
	}
	switch (e->type) {
	case COL_INT64: o->i = (int64_t *)vals; break;
	case COL_FLOAT64: o->f = (double *)vals; break;
	case COL_DATE: o->d = (int32_t *)vals; break;
	default: o->b = (uint8_t *)vals; break;
	}
	return 0;
}

static bool const_equal(const struct column *a, int64_t r, const struct cexpr *k)
{
	if (k->is_null)
		return false;
	switch (a->type) {
	case COL_STRING:
		return a->soff[r + 1] - a->soff[r] == k->slen && !memcmp(a->sdata + a->soff[r], k->s, k->slen);
	case COL_DATE:
		return a->d[r] == k->d;
	case COL_FLOAT64:
		return a->f[r] == (k->type == COL_FLOAT64 ? k->f : (double)k->i);
	case COL_INT64:
		return k->type == COL_FLOAT64 ? (double)a->i[r] == k->f : a->i[r] == k->i;
	case COL_BOOL:
		return (k->type == COL_FLOAT64 ? k->f : (double)k->i) == a->b[r];
	default:
		return false;
	}
}

static void format_cell(const struct column *c, int64_t r, struct buf *b)
{
	table_write_value(c, r, b);
}

static int cx_eval(struct tctx *t, const struct cexpr *e, const struct table *tb, struct column *o)
{
	int64_t n = tb->n_rows;
	switch (e->kind) {
	case CX_COL:
		*o = tb->cols[e->col];
		if (o->type == COL_FLOAT64 && o->f)
			float_valid(t, o);
		return 0;
	case CX_CONST:
		const_column(t, e, n, o);
		return 0;
	case CX_BIN:
		return eval_bin(t, e, tb, o);
	case CX_ROWID:
		memset(o, 0, sizeof *o);
		o->type = COL_INT64;
		o->n = n;
		o->i = talloc(t, (size_t)n * 8);
		for (int64_t r = 0; r < n; r++)
			o->i[r] = (int64_t)((uint64_t)t->part << 32 | (uint64_t)r);
		return 0;
	default:
		break;
	}
	struct column a;
	if (cx_eval(t, e->a, tb, &a) < 0)
		return -1;
	memset(o, 0, sizeof *o);
	o->type = e->type;
	o->n = n;
	switch (e->kind) {
	case CX_NEG:
		if (e->type == COL_FLOAT64) {
			o->f = talloc(t, (size_t)n * 8);
			for (int64_t r = 0; r < n; r++)
				o->f[r] = -a.f[r];
		} else {
			const int64_t *x = as_i64(t, &a);
			o->i = talloc(t, (size_t)n * 8);
			for (int64_t r = 0; r < n; r++)
				o->i[r] = (int64_t)(0 - (uint64_t)x[r]);
		}
		o->valid = a.valid;
		return 0;
	case CX_NOT:
		if (e->type == COL_BOOL) {
			o->b = talloc(t, (size_t)n);
			for (int64_t r = 0; r < n; r++)
				o->b[r] = !(valid_at(&a, r) && a.b[r]);
		} else {
			o->i = talloc(t, (size_t)n * 8);
			for (int64_t r = 0; r < n; r++)
				o->i[r] = ~a.i[r];
			o->valid = a.valid;
		}
		return 0;
	case CX_ISNA:
	case CX_NOTNA:
		o->b = talloc(t, (size_t)n);
		for (int64_t r = 0; r < n; r++)
			o->b[r] = valid_at(&a, r) == (e->kind == CX_NOTNA);
		return 0;
	case CX_ISIN:
		o->b = talloc(t, (size_t)n);
		for (int64_t r = 0; r < n; r++) {
			bool hit = false;
			if (valid_at(&a, r))
				for (size_t k = 0; k < e->n_list && !hit; k++)
					hit = const_equal(&a, r, e->list[k]);
			o->b[r] = hit;
		}
		return 0;
	case CX_BETWEEN: {
		o->b = talloc(t, (size_t)n);
		const struct cexpr *lo = e->list[0], *hi = e->list[1];
		if (a.type == COL_STRING) {
			struct column l, h;
			const_column(t, lo, 1, &l);
			const_column(t, hi, 1, &h);
			for (int64_t r = 0; r < n; r++)
				o->b[r] = valid_at(&a, r) && strcmp_at(&a, r, &l, 0) >= 0 && strcmp_at(&a, r, &h, 0) <= 0;
		} else if (a.type == COL_DATE) {
			for (int64_t r = 0; r < n; r++)
				o->b[r] = valid_at(&a, r) && a.d[r] >= lo->d && a.d[r] <= hi->d;
		} else {
			const double *x = as_f64(t, &a);
			double l = lo->type == COL_FLOAT64 ? lo->f : (double)lo->i;
			double h = hi->type == COL_FLOAT64 ? hi->f : (double)hi->i;
			for (int64_t r = 0; r < n; r++)
				o->b[r] = x[r] >= l && x[r] <= h;
		}
		return 0;
	}
	case CX_FN: {
		if (e->fn == CF_CLIP) {
			const struct cexpr *lo = e->list[0], *hi = e->list[1];
			o->valid = a.valid;
			if (e->type == COL_INT64) {
				const int64_t *x = as_i64(t, &a);
				o->i = talloc(t, (size_t)n * 8);
				for (int64_t r = 0; r < n; r++)
					o->i[r] = lo && x[r] < lo->i ? lo->i : hi && x[r] > hi->i ? hi->i : x[r];
				return 0;
			}
			const double *x = as_f64(t, &a);
			double l = !lo ? -INFINITY : lo->type == COL_FLOAT64 ? lo->f : (double)lo->i;
			double h = !hi ? INFINITY : hi->type == COL_FLOAT64 ? hi->f : (double)hi->i;
			o->f = talloc(t, (size_t)n * 8);
			for (int64_t r = 0; r < n; r++) /* NaN stays NaN */
				o->f[r] = x[r] < l ? l : x[r] > h ? h : x[r];
			float_valid(t, o);
			return 0;
		}
		const double scale = e->fn == CF_ROUND ? pow(10.0, e->digits < 0 ? -e->digits : e->digits) : 1;
		if (e->type == COL_INT64) { /* abs or round of integers */
			o->i = talloc(t, (size_t)n * 8);
			for (int64_t r = 0; r < n; r++) {
				int64_t v = a.i[r];
				if (e->fn == CF_ABS)
					v = v < 0 ? (int64_t)(0 - (uint64_t)v) : v;
				else if (e->digits < 0)
					v = (int64_t)(nearbyint((double)v / scale) * scale);
				o->i[r] = v;
			}
			o->valid = a.valid;
			return 0;
		}
		const double *x = as_f64(t, &a);
		double *z = talloc(t, (size_t)n * 8);
		for (int64_t r = 0; r < n; r++) {
			double v = x[r];
			switch ((enum cx_fn)e->fn) {
			case CF_ABS: v = fabs(v); break;
			case CF_SQRT: v = sqrt(v); break;
			case CF_EXP: v = exp(v); break;
			case CF_LOG: v = log(v); break;
			case CF_LOG10: v = log10(v); break;
			case CF_LOG1P: v = log1p(v); break;
			case CF_FLOOR: v = floor(v); break;
			case CF_CEIL: v = ceil(v); break;
			case CF_ROUND: v = round_half_even(v, e->digits, scale); break;
			case CF_SIN: v = sin(v); break;
			case CF_COS: v = cos(v); break;
			case CF_CLIP: break;
			}
			z[r] = v;
		}
		o->f = z;
		o->valid = a.valid;
		float_valid(t, o);
		return 0;
	}
	case CX_STR:
		return eval_str(t, e, &a, o);
	case CX_DT:
		return eval_dt(t, e, &a, o);
	case CX_FILLNA: {
		struct column k;
		const_column(t, e->b, n, &k);
		if (e->type == COL_FLOAT64) {
			const double *x = as_f64(t, &a), *y = as_f64(t, &k);
			o->f = talloc(t, (size_t)n * 8);
			for (int64_t r = 0; r < n; r++)
				o->f[r] = valid_at(&a, r) ? x[r] : y[r];
			return 0;
		}
		if (e->type == COL_STRING) {
			uint64_t total = (a.soff ? a.soff[n] : 0) + (uint64_t)n * e->b->slen; /* no rows: no offsets */
			char *data = talloc(t, total + 1);
			o->soff = talloc(t, (size_t)(n + 1) * sizeof *o->soff);
			uint64_t p = 0;
			for (int64_t r = 0; r < n; r++) {
				o->soff[r] = p;
				const char *s = valid_at(&a, r) ? a.sdata + a.soff[r] : e->b->s;
				size_t len = valid_at(&a, r) ? a.soff[r + 1] - a.soff[r] : e->b->slen;
				memcpy(data + p, s, len);
				p += len;
			}
			o->soff[n] = p;
			o->sdata = data;
			return 0;
		}
		size_t w = e->type == COL_BOOL ? 1 : e->type == COL_DATE ? 4 : 8;
		char *dst = talloc(t, (size_t)n * w);
		const char *src = e->type == COL_BOOL ? (const char *)a.b : e->type == COL_DATE ? (const char *)a.d :
				  (const char *)as_i64(t, &a);
		const char *fill = e->type == COL_BOOL ? (const char *)k.b : e->type == COL_DATE ? (const char *)k.d :
				   (const char *)k.i;
		for (int64_t r = 0; r < n; r++)
			memcpy(dst + (size_t)r * w, valid_at(&a, r) ? src + (size_t)r * w : fill + (size_t)r * w, w);
		if (e->type == COL_BOOL)
			o->b = (uint8_t *)dst;
		else if (e->type == COL_DATE)
			o->d = (int32_t *)dst;
		else
			o->i = (int64_t *)dst;
		return 0;
	}
	case CX_CAST: {
		o->valid = a.valid;
		if (a.type == COL_STRING && e->type != COL_STRING)
			return cast_text(t, e, &a, o);
		switch (e->type) {
		case COL_FLOAT64:
			o->f = (double *)as_f64(t, &a);
			float_valid(t, o);
			return 0;
		case COL_INT64:
			if (a.type == COL_FLOAT64)
				for (int64_t r = 0; r < n; r++)
					if (valid_at(&a, r) && !(a.f[r] >= -9.2233720368547758e18 && a.f[r] < 9.2233720368547758e18))
						return err_run(t->e, NULL, "astype(\"int64\"): %g cannot be an integer", a.f[r]);
			o->i = (int64_t *)as_i64(t, &a);
			return 0;
		case COL_BOOL:
			o->b = talloc(t, (size_t)n);
			{
				const double *x = as_f64(t, &a);
				for (int64_t r = 0; r < n; r++)
					o->b[r] = x[r] != 0;
			}
			return 0;
		case COL_STRING: {
			struct buf sb;
			buf_init(&sb);
			o->soff = talloc(t, (size_t)(n + 1) * sizeof *o->soff);
			for (int64_t r = 0; r < n; r++) {
				o->soff[r] = sb.len;
				if (valid_at(&a, r))
					format_cell(&a, r, &sb);
			}
			text_from_buf(t, &sb, n, o);
			return 0;
		}
		default:
			*o = a;
			return 0;
		}
	}
	default:
		return err_run(t->e, NULL, "internal: column expression kind %d", (int)e->kind);
	}
}

/* ---- the chain ---- */

/* Whether @c has values to compute from (a column of no rows has all of them). */
static bool has_values(const struct column *c)
{
	return column_has_values(c) || c->n == 0;
}

/* Whether every column @e reads was converted: lowering converts what the rest of the chain needs, so a
 * computed column whose inputs were not converted is one nobody reads, and is left empty. */
static bool cx_ready(const struct cexpr *e, const struct table *tb)
{
	if (!e)
		return true;
	if (e->kind == CX_COL)
		return has_values(&tb->cols[e->col]);
	if (!cx_ready(e->a, tb) || !cx_ready(e->b, tb))
		return false;
	for (size_t i = 0; i < e->n_list; i++)
		if (!cx_ready(e->list[i], tb))
			return false;
	return true;
}

/*
 * The rows of merge @f of probe table @in with build table @bt into @out: for each probe row its
 * matches in build order (or itself alone when the join keeps unmatched probe rows); with @outer, the
 * build rows that no probe row matched follow, in build order.
 */
static int merge_tables(struct tctx *t, const struct fnode *f, const struct table *in, const struct table *bt,
			bool outer, struct table *out)
{
	struct join_index *ix = join_index_new(bt, f->n_on, f->on_other, f->on_as);
	int64_t *pi, *bi;
	uint8_t *matched = NULL;
	if (outer) {
		matched = talloc(t, (size_t)bt->n_rows);
		memset(matched, 0, (size_t)bt->n_rows);
	}
	int64_t n = join_probe(t->a, ix, in, f->on_in, f->how != JOIN_INNER, matched, &pi, &bi);
	join_index_free(ix);
	if (outer) {
		int64_t extra = 0;
		for (int64_t r = 0; r < bt->n_rows; r++)
			extra += !matched[r];
		int64_t *p2 = talloc(t, (size_t)(n + extra) * sizeof *p2), *b2 = talloc(t, (size_t)(n + extra) * sizeof *b2);
		for (int64_t r = 0; r < n; r++)
			p2[r] = pi ? pi[r] : r;
		memcpy(b2, bi, (size_t)n * sizeof *b2);
		for (int64_t r = 0; r < bt->n_rows; r++)
			if (!matched[r]) {
				p2[n] = -1;
				b2[n++] = r;
			}
		pi = p2;
		bi = b2;
	}
	struct column *cols = talloc(t, (size_t)(f->n_cols ? f->n_cols : 1) * sizeof *cols);
	for (int k = 0; k < f->n_cols; k++) {
		switch (f->out_side[k]) {
		case 0:
			/* no pairs: every probe row once, in order, so its columns pass on as they are */
			if (!pi)
				cols[k] = in->cols[f->out_col[k]];
			else
				join_take(t->a, in, f->out_col[k], pi, n, f->types[k], NULL, 0, NULL, &cols[k]);
			break;
		case 1: join_take(t->a, bt, f->out_col[k], bi, n, f->types[k], NULL, 0, NULL, &cols[k]); break;
		default: join_take(t->a, in, f->out_col[k], pi, n, f->types[k], bt, f->out_col2[k], bi, &cols[k]); break;
		}
	}
	out->n_cols = f->n_cols;
	out->n_rows = n;
	out->names = f->names;
	out->cols = cols;
	return 0;
}

static int apply_node(struct tctx *t, const struct fnode *f, struct table *tb)
{
	struct table in = *tb;
	switch (f->kind) {
	case FN_FILTER: {
		struct column m;
		if (cx_eval(t, f->mask, &in, &m) < 0)
			return -1;
		uint8_t *mask = m.b;
		if (m.valid) {
			mask = talloc(t, (size_t)in.n_rows);
			for (int64_t r = 0; r < in.n_rows; r++)
				mask[r] = m.valid[r] && m.b[r];
		}
		table_filter(t->a, &in, mask, tb);
		tb->names = f->names;
		return 0;
	}
	case FN_DROPNA: {
		uint8_t *mask = talloc(t, (size_t)in.n_rows);
		for (int64_t r = 0; r < in.n_rows; r++) {
			int missing = 0, considered = 0;
			for (int k = 0; k < in.n_cols; k++)
				if (f->subset[k]) {
					considered++;
					const struct column *c = &in.cols[k];
					missing += !valid_at(c, r) || (c->type == COL_FLOAT64 && c->f && isnan(c->f[r]));
				}
			mask[r] = f->how_all ? missing < considered : missing == 0;
		}
		table_filter(t->a, &in, mask, tb);
		tb->names = f->names;
		return 0;
	}
	case FN_SELECT:
	case FN_ASSIGN:
	case FN_FILLNA: {
		struct column *cols = talloc(t, (size_t)f->n_cols * sizeof *cols);
		for (int k = 0; k < f->n_cols; k++) {
			if (f->src_col[k] >= 0) {
				cols[k] = in.cols[f->src_col[k]];
				continue;
			}
			if (f->kind == FN_FILLNA ? !has_values(&in.cols[k]) : !cx_ready(f->cx[k], &in)) {
				memset(&cols[k], 0, sizeof cols[k]);
				cols[k].type = f->types[k];
				cols[k].n = in.n_rows;
				continue;
			}
			if (f->kind == FN_FILLNA) {
				struct cexpr fill = { .kind = CX_FILLNA, .type = f->types[k], .a = NULL, .b = f->cx[k] };
				struct cexpr col = { .kind = CX_COL, .type = in.cols[k].type, .col = k };
				fill.a = &col;
				if (cx_eval(t, &fill, &in, &cols[k]) < 0)
					return -1;
				continue;
			}
			if (cx_eval(t, f->cx[k], &in, &cols[k]) < 0)
				return -1;
			cols[k].rbase = NULL;
			cols[k].rstart = cols[k].rlen = NULL;
		}
		tb->n_cols = f->n_cols;
		tb->names = f->names;
		tb->cols = cols;
		return 0;
	}
	case FN_MERGE: {
		const struct table *bt = NULL;
		for (int i = 0; i < t->n_x; i++)
			if (t->xnode[i] == f->other)
				bt = &t->xtab[i];
		if (!bt)
			return err_run(t->e, NULL, "internal: a merge without its other side");
		return merge_tables(t, f, &in, bt, false, tb);
	}
	default:
		return err_run(t->e, NULL, "internal: node kind %d in a chain", (int)f->kind);
	}
}

static int source_table(struct tctx *t, const struct ffam *m, int64_t k, const void *data, size_t len,
			struct table *tb)
{
	if (m->src->kind == FN_READ)
		return source_read(t, m, k, tb);
	if (table_view(t->a, data, len, tb, t->e) < 0)
		return -1;
	tb->names = m->src->names;
	return 0;
}

static int run_chain(struct tctx *t, const struct ffam *m, int64_t k, const void *data, size_t len, struct table *tb)
{
	t->part = k;
	if (source_table(t, m, k, data, len, tb) < 0)
		return -1;
	for (int i = 0; i < m->n_chain; i++)
		if (apply_node(t, m->chain[i], tb) < 0)
			return -1;
	return 0;
}

/* Rows [lo, hi) of @tb. */
static void row_range(struct tctx *t, const struct table *tb, int64_t lo, int64_t hi, struct table *out)
{
	int64_t *idx = talloc(t, (size_t)(hi > lo ? hi - lo : 1) * sizeof *idx);
	for (int64_t r = lo; r < hi; r++)
		idx[r - lo] = r;
	table_take(t->a, tb, idx, hi - lo, out);
	out->names = tb->names;
}

/* Keeps the first @limit rows of @tb (the last ones when @from_end); limit < 0 keeps all. */
static void first_rows(struct tctx *t, struct table *tb, int64_t limit, bool from_end)
{
	if (limit < 0 || tb->n_rows <= limit)
		return;
	struct table out;
	row_range(t, tb, from_end ? tb->n_rows - limit : 0, from_end ? tb->n_rows : limit, &out);
	*tb = out;
}

/*
 * Hands @b's bytes to the sink (no copy when they are the whole result); @b is left empty. The
 * growth slack stays: the store counts the result at its length, but a large buffer is its own
 * mapping (main sets the mmap threshold) whose untouched pages take no memory, and shrinking the
 * small ones in place fragmented the workers' heaps: a sort at -m 24M peaked 40% higher (measured).
 */
static int sink_buf(struct op_sink *out, struct buf *b, struct err *e)
{
	size_t len;
	char *p = buf_detach(b, &len);
	return op_sink_give(out, p, len, e);
}

/* @tb in the store's byte form, as the task's result. */
static int emit_serialized(struct tctx *t, const struct table *tb, struct op_sink *out)
{
	struct buf b;
	buf_init(&b);
	table_serialize(tb, &b);
	return sink_buf(out, &b, t->e);
}

/* Rows [lo, hi) of @tb, serialized straight from it (a cut never copies its rows first). */
static int emit_rows(struct tctx *t, const struct table *tb, int64_t lo, int64_t hi, struct op_sink *out)
{
	int64_t n = hi > lo ? hi - lo : 0, *idx = talloc(t, (size_t)(n ? n : 1) * sizeof *idx);
	for (int64_t r = 0; r < n; r++)
		idx[r] = lo + r;
	struct buf b;
	buf_init(&b);
	table_serialize_rows(tb, 1, NULL, idx, n, &b);
	return sink_buf(out, &b, t->e);
}

static int emit_table(struct tctx *t, const struct ffam *m, int64_t rel, struct table *tb, struct op_sink *out)
{
	struct buf b;
	buf_init(&b);
	if (m->text && m->f->scalar) {
		const struct column *c = &tb->cols[tb->n_cols - 1];
		if (m->f->shape_cols)
			buf_printf(&b, "(%lld, %d)", (long long)(tb->n_rows ? c->i[0] : 0),
				   m->f->shape_cols > 0 ? m->f->shape_cols : 0);
		else if (tb->n_rows < 1 || !valid_at(c, 0))
			buf_puts(&b, "nan");
		else
			table_write_value(c, 0, &b);
		buf_putc(&b, '\n');
	} else if (m->text) {
		table_write(tb, m->fmt, rel == 0, &b);
	} else {
		table_serialize(tb, &b);
	}
	return sink_buf(out, &b, t->e);
}

/* ---- aggregates ---- */

static struct gb *gb_of(const struct fnode *f)
{
	const struct fnode *in = f->in;
	enum col_type kt[64], vt[256];
	for (int k = 0; k < f->n_keys && k < 64; k++)
		kt[k] = in->types[f->keys[k]];
	for (int k = 0; k < f->n_vals && k < 256; k++)
		vt[k] = in->types[f->vals[k]];
	/* gb keeps the names it is given: the node's own (keys come first), which outlive the task */
	return gb_new(f->n_keys, kt, f->names, f->n_aggs, f->aggs, f->n_vals, vt);
}

struct sort_ctx {
	const struct table *tb;
	int n_by;
	const int *by;
	const bool *asc;
};

/* Row @a of @ca against row @b of @cb (one type): -1, 0, 1, or -+2 when one is missing (missing sorts
 * last whatever the direction). */
static int cmp_cells(const struct column *ca, int64_t a, const struct column *cb, int64_t b)
{
	bool va = valid_at(ca, a) && !(ca->type == COL_FLOAT64 && isnan(ca->f[a]));
	bool vb = valid_at(cb, b) && !(cb->type == COL_FLOAT64 && isnan(cb->f[b]));
	if (!va || !vb)
		return va == vb ? 0 : va ? -2 : 2;
	switch (ca->type) {
	case COL_INT64: return (ca->i[a] > cb->i[b]) - (ca->i[a] < cb->i[b]);
	case COL_FLOAT64: return (ca->f[a] > cb->f[b]) - (ca->f[a] < cb->f[b]);
	case COL_BOOL: return (ca->b[a] > cb->b[b]) - (ca->b[a] < cb->b[b]);
	case COL_DATE: return (ca->d[a] > cb->d[b]) - (ca->d[a] < cb->d[b]);
	case COL_STRING: {
		int r = strcmp_at(ca, a, cb, b);
		return (r > 0) - (r < 0);
	}
	default: return 0;
	}
}

/* Row @a of @ta (key columns @bya) against row @b of @tb (@byb) in the order of @n_by sort keys, each
 * ascending when @asc is NULL or asc[k] (0: equal keys). */
static int cmp_keys(const struct table *ta, int64_t a, const int *bya, const struct table *tb, int64_t b,
		    const int *byb, int n_by, const bool *asc)
{
	for (int k = 0; k < n_by; k++) {
		int c = cmp_cells(&ta->cols[bya[k]], a, &tb->cols[byb[k]], b);
		if (c == 2 || c == -2)
			return c / 2;
		if (c)
			return !asc || asc[k] ? c : -c;
	}
	return 0;
}

static int sort_cmp(const void *pa, const void *pb, void *arg)
{
	const struct sort_ctx *s = arg;
	int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
	int c = cmp_keys(s->tb, a, s->by, s->tb, b, s->by, s->n_by, s->asc);
	return c ? c : (a > b) - (a < b); /* stable */
}

/*
 * A sort by one number, date or bool column, the common case, as an LSD radix sort of (key, row)
 * pairs instead of a comparison sort through cmp_keys(): each key becomes a 64-bit integer in the
 * sort's order (a float's sign and magnitude bits turned into one unsigned order, -0.0 as 0.0;
 * every bit flipped when descending), byte passes keep equal keys in row order (stable), passes
 * where every key has the same byte are skipped, and missing values (NaN included) follow in row
 * order. The same order as qsort with sort_cmp(); about 20x faster on a million rows.
 */
struct radix_kv {
	uint64_t k;
	int64_t r;
};

static uint64_t radix_key(const struct column *c, int64_t r)
{
	switch (c->type) {
	case COL_FLOAT64: {
		double v = c->f[r] == 0 ? 0.0 : c->f[r];
		uint64_t b;
		memcpy(&b, &v, 8);
		return b >> 63 ? ~b : b | (1ull << 63);
	}
	case COL_INT64: return (uint64_t)c->i[r] ^ (1ull << 63);
	case COL_DATE: return (uint64_t)(int64_t)c->d[r] ^ (1ull << 63);
	default: return c->b[r] != 0; /* COL_BOOL */
	}
}

static void radix_order(const struct column *c, int64_t n, bool asc, int64_t *idx)
{
	struct radix_kv *a = xmalloc((size_t)(n ? n : 1) * sizeof *a), *b = xmalloc((size_t)(n ? n : 1) * sizeof *b);
	int64_t m = 0, nmiss = 0;
	uint64_t flip = asc ? 0 : UINT64_MAX, all_or = 0, all_and = UINT64_MAX;
	for (int64_t r = 0; r < n; r++) {
		if (!valid_at(c, r) || (c->type == COL_FLOAT64 && isnan(c->f[r]))) {
			idx[nmiss++] = r; /* moved behind the sorted rows at the end */
			continue;
		}
		uint64_t k = radix_key(c, r) ^ flip;
		a[m].k = k;
		a[m++].r = r;
		all_or |= k;
		all_and &= k;
	}
	for (int shift = 0; shift < 64; shift += 8) {
		if (!(((all_or ^ all_and) >> shift) & 0xff))
			continue; /* every key has this byte */
		int64_t cnt[256] = { 0 };
		for (int64_t j = 0; j < m; j++)
			cnt[(a[j].k >> shift) & 0xff]++;
		int64_t pos = 0;
		for (int d = 0; d < 256; d++) {
			int64_t x = cnt[d];
			cnt[d] = pos;
			pos += x;
		}
		for (int64_t j = 0; j < m; j++)
			b[cnt[(a[j].k >> shift) & 0xff]++] = a[j];
		struct radix_kv *x = a;
		a = b;
		b = x;
	}
	memmove(idx + m, idx, (size_t)nmiss * sizeof *idx);
	for (int64_t j = 0; j < m; j++)
		idx[j] = a[j].r;
	free(a);
	free(b);
}

/* The rows of @tb in a stable sort by @n_by keys @by (@asc as cmp_keys()). */
static int64_t *sort_order(struct tctx *t, const struct table *tb, int n_by, const int *by, const bool *asc)
{
	int64_t n = tb->n_rows;
	int64_t *idx = talloc(t, (size_t)(n ? n : 1) * sizeof *idx);
	if (n_by == 1 && tb->cols[by[0]].type != COL_STRING && n > 64) {
		radix_order(&tb->cols[by[0]], n, !asc || asc[0], idx);
		return idx;
	}
	for (int64_t r = 0; r < n; r++)
		idx[r] = r;
	struct sort_ctx s = { tb, n_by, by, asc };
	qsort_r(idx, (size_t)n, sizeof *idx, sort_cmp, &s);
	return idx;
}

/* Whether merge cursor @a (table ta at row ra) goes after cursor @b: by keys, then table order. */
static bool merge_after(const struct table *ts, const int64_t *pos, int32_t a, int32_t b, int n_by, const int *by,
			const bool *asc)
{
	int c = cmp_keys(&ts[a], pos[a], by, &ts[b], pos[b], by, n_by, asc);
	return c ? c > 0 : a > b;
}

/*
 * The rows of the @n sorted tables @ts in merged order, as (table, row) pairs in *src and *row: a
 * k-way merge over a binary heap of the tables' cursors. Equal keys keep table order, so the result
 * is the stable sort of their concatenation, without building it. @return the row count.
 */
static int64_t merge_order(struct tctx *t, const struct table *ts, size_t n, int n_by, const int *by,
			   const bool *asc, int32_t **src, int64_t **row)
{
	int64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += ts[i].n_rows;
	*src = talloc(t, (size_t)(total ? total : 1) * sizeof **src);
	*row = talloc(t, (size_t)(total ? total : 1) * sizeof **row);
	int64_t *pos = talloc(t, (n ? n : 1) * sizeof *pos);
	int32_t *heap = talloc(t, (n ? n : 1) * sizeof *heap);
	size_t h = 0;
	for (size_t i = 0; i < n; i++) {
		pos[i] = 0;
		if (!ts[i].n_rows)
			continue;
		/* sift up */
		size_t k = h++;
		heap[k] = (int32_t)i;
		while (k && merge_after(ts, pos, heap[(k - 1) / 2], heap[k], n_by, by, asc)) {
			int32_t x = heap[k];
			heap[k] = heap[(k - 1) / 2];
			heap[(k - 1) / 2] = x;
			k = (k - 1) / 2;
		}
	}
	for (int64_t o = 0; h; o++) {
		int32_t i = heap[0];
		(*src)[o] = i;
		(*row)[o] = pos[i]++;
		if (pos[i] == ts[i].n_rows)
			heap[0] = heap[--h];
		/* sift down */
		size_t k = 0;
		for (;;) {
			size_t l = 2 * k + 1, m = k;
			if (l < h && merge_after(ts, pos, heap[m], heap[l], n_by, by, asc))
				m = l;
			if (l + 1 < h && merge_after(ts, pos, heap[m], heap[l + 1], n_by, by, asc))
				m = l + 1;
			if (m == k)
				break;
			int32_t x = heap[k];
			heap[k] = heap[m];
			heap[m] = x;
			k = m;
		}
	}
	return total;
}

/* The first @k rows of sort_order(), for @k well below the row count: a bounded max-heap of the
 * best @k seen, then those sorted (n log k, not n log n, and no n-row index to sort). */
static int64_t *top_order(struct tctx *t, const struct table *tb, int n_by, const int *by, const bool *asc,
			  int64_t k)
{
	struct sort_ctx s = { tb, n_by, by, asc };
	int64_t *heap = talloc(t, (size_t)(k ? k : 1) * sizeof *heap), h = 0;
	for (int64_t r = 0; r < tb->n_rows && k > 0; r++) {
		if (h == k && sort_cmp(&r, &heap[0], &s) >= 0)
			continue; /* after the worst kept: out */
		int64_t i;
		if (h < k) { /* sift up from the end */
			for (i = h++; i > 0 && sort_cmp(&heap[(i - 1) / 2], &r, &s) < 0; i = (i - 1) / 2)
				heap[i] = heap[(i - 1) / 2];
		} else { /* replace the root, sift down */
			for (i = 0;;) {
				int64_t c = 2 * i + 1;
				if (c >= h)
					break;
				if (c + 1 < h && sort_cmp(&heap[c + 1], &heap[c], &s) > 0)
					c++;
				if (sort_cmp(&heap[c], &r, &s) <= 0)
					break;
				heap[i] = heap[c];
				i = c;
			}
		}
		heap[i] = r;
	}
	qsort_r(heap, (size_t)h, sizeof *heap, sort_cmp, &s);
	return heap;
}

static void sort_table(struct tctx *t, struct table *tb, int n_by, const int *by, const bool *asc, int64_t limit)
{
	int64_t n = tb->n_rows;
	bool few = limit >= 0 && limit < n / 4;
	int64_t *idx = few ? top_order(t, tb, n_by, by, asc, limit) : sort_order(t, tb, n_by, by, asc);
	if (limit >= 0 && limit < n)
		n = limit;
	struct table out;
	table_take(t->a, tb, idx, n, &out);
	out.names = tb->names;
	*tb = out;
}

/* Each row of a stacked aggregate (describe, quantiles of a list; grouped or not) as n_stack rows;
 * see fnode.n_stack. */
static void stack_table(struct tctx *t, const struct fnode *f, const struct table *in, struct table *out)
{
	int64_t ns = f->n_stack, G = in->n_rows;
	int nk = f->n_keys, nc = f->n_cols - 1 - nk;
	if (!nk)
		G = 1; /* no keys: one row, even of no values (its aggregates are then missing) */
	int64_t n = G * ns;
	out->n_cols = f->n_cols;
	out->n_rows = n;
	out->names = f->names;
	out->cols = talloc(t, (size_t)f->n_cols * sizeof *out->cols);
	memset(out->cols, 0, (size_t)f->n_cols * sizeof *out->cols);
	if (nk) {
		int64_t *idx = talloc(t, (size_t)(n ? n : 1) * sizeof *idx);
		for (int64_t r = 0; r < n; r++)
			idx[r] = r / ns;
		struct table keys = { nk, G, in->names, in->cols }, rep;
		table_take(t->a, &keys, idx, n, &rep);
		memcpy(out->cols, rep.cols, (size_t)nk * sizeof *out->cols);
	}
	struct column *lab = &out->cols[nk];
	lab->type = f->types[nk];
	lab->n = n;
	if (f->stack_names) {
		lab->soff = talloc(t, (size_t)(ns + 1) * sizeof *lab->soff);
		uint64_t total = 0;
		for (int64_t s = 0; s < ns; s++)
			total += strlen(f->stack_names[s]);
		char *data = talloc(t, total + 1);
		uint64_t o = 0;
		for (int64_t s = 0; s < ns; s++) {
			size_t len = strlen(f->stack_names[s]);
			lab->soff[s] = o;
			memcpy(data + o, f->stack_names[s], len);
			o += len;
		}
		lab->soff[ns] = o;
		lab->sdata = data;
	} else {
		lab->f = talloc(t, (size_t)(n ? n : 1) * sizeof *lab->f);
		for (int64_t r = 0; r < n; r++)
			lab->f[r] = f->stack_q[r % ns];
	}
	/* value column j of stacked row r is aggregate (r % ns) * nc + j of group r / ns, written as the
	 * node types it: text (describe() of text, as pandas' object column), int64 (df.count() and the
	 * like) or float64 */
	for (int j = 0; j < nc; j++) {
		enum col_type type = f->types[nk + 1 + j] == COL_STRING || f->types[nk + 1 + j] == COL_INT64 ?
					     f->types[nk + 1 + j] : COL_FLOAT64;
		struct column *c = &out->cols[nk + 1 + j];
		c->type = type;
		c->n = n;
		struct buf txt;
		buf_init(&txt);
		if (type == COL_STRING)
			c->soff = talloc(t, (size_t)(n + 1) * sizeof *c->soff);
		else if (type == COL_INT64)
			c->i = talloc(t, (size_t)(n ? n : 1) * sizeof *c->i);
		else
			c->f = talloc(t, (size_t)(n ? n : 1) * sizeof *c->f);
		if (type != COL_FLOAT64)
			c->valid = talloc(t, (size_t)(n ? n : 1));
		for (int64_t r = 0; r < n; r++) {
			int64_t g = r / ns, s = r % ns;
			const struct column *a = &in->cols[nk + s * nc + j];
			bool ok = in->n_rows > g && valid_at(a, g);
			if (type == COL_STRING) {
				c->soff[r] = txt.len;
				c->valid[r] = ok;
				if (ok)
					table_write_value(a, g, &txt);
			} else if (type == COL_INT64) {
				c->valid[r] = ok;
				c->i[r] = ok ? a->i[g] : 0;
			} else {
				c->f[r] = !ok ? NAN : a->type == COL_INT64 ? (double)a->i[g] :
						      a->type == COL_BOOL ? (double)a->b[g] : a->f[g];
			}
		}
		if (type == COL_STRING)
			text_from_buf(t, &txt, n, c);
		else
			buf_release(&txt);
		if (type == COL_FLOAT64)
			float_valid(t, c);
	}
}

static int run_agg(struct tctx *t, const struct ffam *m, int64_t rel, size_t n_in, const void *const *in_data,
		   const size_t *in_len, struct op_sink *out)
{
	const struct fnode *f = m->f;
	struct gb *g = gb_of(f);
	gb_set_sketch_budget(g, m->sketch_budget);
	int rc = 0;
	struct buf b;
	buf_init(&b);
	if (rel < m->n_src) {
		struct table tb;
		rc = run_chain(t, m, rel, n_in ? in_data[0] : NULL, n_in ? in_len[0] : 0, &tb);
		if (rc == 0) {
			struct column *keys = talloc(t, (size_t)(f->n_keys ? f->n_keys : 1) * sizeof *keys);
			struct column *vals = talloc(t, (size_t)(f->n_vals ? f->n_vals : 1) * sizeof *vals);
			for (int k = 0; k < f->n_keys; k++)
				keys[k] = tb.cols[f->keys[k]];
			for (int k = 0; k < f->n_vals; k++)
				vals[k] = tb.cols[f->vals[k]];
			gb_update(g, keys, vals, tb.n_rows, rel << 32);
			gb_serialize(g, &b);
		}
	} else {
		for (size_t i = 0; i < n_in && rc == 0; i++)
			rc = gb_merge(g, in_data[i], in_len[i], t->e);
		if (rc == 0 && rel == m->n_tasks - 1) {
			struct table tb;
			gb_finish(g, t->a, true, &tb);
			/* float64 where the node says so (describe()'s count, min and max of integers) */
			for (int k = 0; k < tb.n_cols && !f->n_stack; k++) {
				struct column *cl = &tb.cols[k];
				if (f->types[k] != COL_FLOAT64 || cl->type != COL_INT64)
					continue;
				double *d = talloc(t, (size_t)(tb.n_rows ? tb.n_rows : 1) * sizeof *d);
				for (int64_t r = 0; r < tb.n_rows; r++)
					d[r] = valid_at(cl, r) ? (double)cl->i[r] : NAN;
				cl->type = COL_FLOAT64;
				cl->f = d;
				cl->i = NULL;
			}
			if (f->n_stack) {
				struct table row = tb;
				stack_table(t, f, &row, &tb);
			}
			tb.names = f->names;
			if (f->normalize) {
				/* the counts, made float64 above, as shares of their total */
				struct column *cnt = &tb.cols[f->n_cols - 1];
				double total = 0;
				for (int64_t r = 0; r < tb.n_rows; r++)
					total += cnt->f[r];
				for (int64_t r = 0; r < tb.n_rows; r++)
					cnt->f[r] /= total;
			}
			if (f->by_count) {
				int by = f->n_cols - 1;
				bool asc = false;
				sort_table(t, &tb, 1, &by, &asc, -1);
			}
			table_serialize(&tb, &b);
		} else if (rc == 0) {
			gb_serialize(g, &b);
		}
	}
	if (rc == 0)
		rc = sink_buf(out, &b, t->e);
	buf_release(&b);
	gb_free(g);
	return rc;
}

/* ---- whole-frame ops ---- */

/* The rows of @n tables with the same schema as one table (raw text copied into one block). */
static void concat_tables(struct tctx *t, const struct table *ts, size_t n, struct table *out)
{
	int64_t rows = 0;
	for (size_t i = 0; i < n; i++)
		rows += ts[i].n_rows;
	int nc = n ? ts[0].n_cols : 0;
	out->n_cols = nc;
	out->n_rows = rows;
	out->names = n ? ts[0].names : NULL;
	out->cols = talloc(t, (size_t)(nc ? nc : 1) * sizeof *out->cols);
	memset(out->cols, 0, (size_t)(nc ? nc : 1) * sizeof *out->cols);
	for (int k = 0; k < nc; k++) {
		struct column *c = &out->cols[k];
		c->type = ts[0].cols[k].type;
		c->n = rows;
		bool any_valid = false, all_raw = true, has_vals = true;
		uint64_t sbytes = 0, rbytes = 0;
		for (size_t i = 0; i < n; i++) {
			const struct column *s = &ts[i].cols[k];
			any_valid |= s->valid != NULL;
			all_raw &= s->rbase != NULL;
			has_vals &= has_values(s);
			if (c->type == COL_STRING && s->soff)
				sbytes += s->soff[s->n] - s->soff[0];
			if (s->rbase)
				for (int64_t r = 0; r < s->n; r++)
					rbytes += column_raw_len(s, r);
		}
		if (any_valid) {
			c->valid = talloc(t, (size_t)rows);
			int64_t p = 0;
			for (size_t i = 0; i < n; i++) {
				const struct column *s = &ts[i].cols[k];
				if (s->valid)
					memcpy(c->valid + p, s->valid, (size_t)s->n);
				else
					memset(c->valid + p, 1, (size_t)s->n);
				p += s->n;
			}
		}
		if (has_vals) {
			if (c->type == COL_STRING) {
				char *data = talloc(t, sbytes + 1);
				c->soff = talloc(t, (size_t)(rows + 1) * sizeof *c->soff);
				uint64_t p = 0;
				int64_t r0 = 0;
				for (size_t i = 0; i < n; i++) {
					const struct column *s = &ts[i].cols[k];
					for (int64_t r = 0; r < s->n; r++) {
						size_t len = s->soff[r + 1] - s->soff[r];
						c->soff[r0 + r] = p;
						memcpy(data + p, s->sdata + s->soff[r], len);
						p += len;
					}
					r0 += s->n;
				}
				c->soff[rows] = p;
				c->sdata = data;
			} else {
				size_t w = c->type == COL_BOOL ? 1 : c->type == COL_DATE ? 4 : 8;
				char *dst = talloc(t, (size_t)rows * w);
				int64_t p = 0;
				for (size_t i = 0; i < n; i++) {
					const struct column *s = &ts[i].cols[k];
					const void *src = c->type == COL_BOOL ? (const void *)s->b : c->type == COL_DATE ?
							  (const void *)s->d : c->type == COL_INT64 ? (const void *)s->i :
							  (const void *)s->f;
					if (s->n)
						memcpy(dst + (size_t)p * w, src, (size_t)s->n * w);
					p += s->n;
				}
				if (c->type == COL_BOOL)
					c->b = (uint8_t *)dst;
				else if (c->type == COL_DATE)
					c->d = (int32_t *)dst;
				else if (c->type == COL_INT64)
					c->i = (int64_t *)dst;
				else
					c->f = (double *)dst;
			}
		}
		if (all_raw && n) {
			char *raw = talloc(t, rbytes + 1);
			uint32_t *rs = talloc(t, (size_t)(rows ? rows : 1) * sizeof *rs);
			uint32_t *rl = talloc(t, (size_t)(rows ? rows : 1) * sizeof *rl);
			uint64_t p = 0;
			int64_t r0 = 0;
			for (size_t i = 0; i < n; i++) {
				const struct column *s = &ts[i].cols[k];
				for (int64_t r = 0; r < s->n; r++) {
					uint32_t len = column_raw_len(s, r);
					memcpy(raw + p, s->rbase + s->rstart[r], len);
					rs[r0 + r] = (uint32_t)p;
					rl[r0 + r] = len;
					p += len;
				}
				r0 += s->n;
			}
			c->rbase = raw;
			c->rstart = rs;
			c->rlen = rl;
		}
	}
}

/* @tb (named as @f's output) sorted stably by @n_by keys @by (@asc as cmp_keys()), its first @limit rows
 * (-1: all), to the sink: written straight from the unsorted rows, so the sorted table is never built. */
static int emit_sorted(struct tctx *t, struct table *tb, int n_by, const int *by, const bool *asc, int64_t limit,
		       struct op_sink *out)
{
	bool few = limit >= 0 && limit < tb->n_rows / 4;
	int64_t *idx = few ? top_order(t, tb, n_by, by, asc, limit) : sort_order(t, tb, n_by, by, asc);
	int64_t n = limit >= 0 && limit < tb->n_rows ? limit : tb->n_rows;
	struct buf b;
	buf_init(&b);
	table_serialize_rows(tb, 1, NULL, idx, n, &b);
	return sink_buf(out, &b, t->e);
}

/* A merge's result to the sink sorted by its key columns, as pandas sorts an outer join and as a
 * partitioned merge orders its ranges. */
static int emit_by_join_keys(struct tctx *t, const struct fnode *f, struct table *tb, struct op_sink *out)
{
	int *by = talloc(t, (size_t)(f->n_on ? f->n_on : 1) * sizeof *by);
	int n_by = 0;
	for (int k = 0; k < f->n_on; k++)
		for (int o = 0; o < f->n_cols; o++)
			if (f->out_side[o] != 1 && f->out_col[o] == f->on_in[k])
				by[n_by++] = o;
	tb->names = f->names;
	return emit_sorted(t, tb, n_by, by, NULL, -1, out);
}

/* Views the @n_in input tables of a task that gathers, sorts or merges them; a sort's cut (@cut) reads
 * only its sorted chunk and the splitters (its third input only orders it). NULL and *e on malformed
 * bytes. */
static struct table *view_inputs(struct tctx *t, size_t *n_in, const void *const *in_data, const size_t *in_len,
				 bool cut)
{
	if (cut && *n_in > 2)
		*n_in = 2;
	struct table *in = talloc(t, (*n_in ? *n_in : 1) * sizeof *in);
	for (size_t i = 0; i < *n_in; i++)
		if (table_view(t->a, in_data[i], in_len[i], &in[i], t->e) < 0)
			return NULL;
	return in;
}

static int run_whole(struct tctx *t, const struct ffam *m, size_t n_in, const void *const *in_data,
		     const size_t *in_len, struct op_sink *out)
{
	const struct fnode *f = m->f;
	struct table *ts = view_inputs(t, &n_in, in_data, in_len, false);
	if (!ts)
		return -1;
	struct table tb;
	if (n_in == 1) {
		tb = ts[0];
	} else {
		concat_tables(t, ts, n_in, &tb);
	}
	tb.names = f->names;
	if (f->kind == FN_SORT)
		return emit_sorted(t, &tb, f->n_by, f->by, f->asc, f->limit, out);
	if (f->kind == FN_MERGE) {
		struct table joined;
		if (merge_tables(t, f, &tb, &t->xtab[0], true, &joined) < 0)
			return -1;
		/* pandas' documented outer join: rows sorted by key (stable: left rows, then the right's unmatched) */
		return emit_by_join_keys(t, f, &joined, out);
	} else {
		first_rows(t, &tb, f->limit, f->from_end);
	}
	return emit_serialized(t, &tb, out);
}

/* ---- external sort ---- */

/* The first row of @s (sorted by key columns @bys, ascending where @asc) whose keys sort after row @j
 * of @p (key columns @byp): where range j ends. */
static int64_t upper_bound(const struct table *s, const int *bys, const struct table *p, int64_t j, const int *byp,
			   int n_by, const bool *asc)
{
	int64_t lo = 0, hi = s->n_rows;
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		if (cmp_keys(s, mid, bys, p, j, byp, n_by, asc) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Rows [lo, hi) of sorted @s for range @r of @R cut at the R - 1 splitter rows of @p (none: no row). */
static void range_bounds(const struct table *s, const int *bys, const struct table *p, const int *byp, int n_by,
			 const bool *asc, int64_t r, int64_t R, int64_t *lo, int64_t *hi)
{
	if (p->n_rows == 0) {
		*lo = 0;
		*hi = r == 0 ? s->n_rows : 0;
		return;
	}
	*lo = r == 0 ? 0 : upper_bound(s, bys, p, r - 1, byp, n_by, asc);
	*hi = r == R - 1 ? s->n_rows : upper_bound(s, bys, p, r, byp, n_by, asc);
	if (*hi < *lo)
		*hi = *lo;
}

/* Samples taken from each sorted partition for the splitters. */
#define XSORT_SAMPLES 128

/* Up to XSORT_SAMPLES rows evenly spaced through sorted @tb. */
static void sample_rows(struct tctx *t, const struct table *tb, struct table *out)
{
	int64_t n = tb->n_rows, k = n < XSORT_SAMPLES ? n : XSORT_SAMPLES;
	int64_t *idx = talloc(t, (size_t)(k ? k : 1) * sizeof *idx);
	for (int64_t j = 0; j < k; j++)
		idx[j] = (2 * j + 1) * n / (2 * k);
	table_take(t->a, tb, idx, k, out);
	out->names = tb->names;
}

/* The R - 1 splitters: rows at even ranks of the @n sample tables @s sorted by keys @by (@asc), none
 * when there is no row. */
static void pick_splitters(struct tctx *t, const struct table *s, size_t n, int n_by, const int *by,
			   const bool *asc, int64_t R, struct table *out)
{
	struct table all;
	concat_tables(t, s, n, &all);
	sort_table(t, &all, n_by, by, asc, -1);
	int64_t k = all.n_rows ? R - 1 : 0;
	int64_t *idx = talloc(t, (size_t)(k ? k : 1) * sizeof *idx);
	for (int64_t j = 0; j < k; j++)
		idx[j] = (j + 1) * all.n_rows / R; /* j + 1 < R: always a row */
	table_take(t->a, &all, idx, k, out);
	out->names = all.names;
}


static int run_xsort(struct tctx *t, const struct ffam *m, int64_t rel, size_t n_in, const void *const *in_data,
		     const size_t *in_len, struct op_sink *out)
{
	const struct fnode *f = m->f;
	int64_t N = m->n_src, R = m->n_ranges, b0 = 2 * N + 1;
	struct table tb;
	if (rel < N) {
		/* sort one partition, written out in sorted order straight from the parsed rows */
		if (run_chain(t, m, rel, n_in ? in_data[0] : NULL, n_in ? in_len[0] : 0, &tb) < 0)
			return -1;
		tb.names = f->names;
		return emit_sorted(t, &tb, f->n_by, f->by, f->asc, -1, out);
	}
	struct table *in = view_inputs(t, &n_in, in_data, in_len, rel > 2 * N && rel < b0 + N * R);
	if (!in)
		return -1;
	if (rel < 2 * N) {
		sample_rows(t, &in[0], &tb);
		return emit_serialized(t, &tb, out);
	}
	if (rel == 2 * N) {
		pick_splitters(t, in, n_in, f->n_by, f->by, f->asc, R, &tb);
		return emit_serialized(t, &tb, out);
	}
	if (rel < b0 + N * R) {
		/* range r of sorted partition i: rows after splitter r - 1, up to splitter r */
		int64_t lo, hi;
		range_bounds(&in[0], f->by, &in[1], f->by, f->n_by, f->asc, (rel - b0) % R, R, &lo, &hi);
		in[0].names = f->names;
		return emit_rows(t, &in[0], lo, hi, out);
	}
	/* one range of every partition, merged; equal keys keep partition order, as a stable sort would */
	for (size_t i = 0; i < n_in; i++)
		in[i].names = f->names;
	int32_t *src;
	int64_t *row;
	int64_t rows = merge_order(t, in, n_in, f->n_by, f->by, f->asc, &src, &row);
	struct buf b;
	buf_init(&b);
	table_serialize_rows(in, (int)n_in, src, row, rows, &b);
	return sink_buf(out, &b, t->e);
}

/* ---- partitioned merge ---- */

/* The key columns @keys of @tb alone (the splitters' schema: both sides' keys, in key order). */
static void key_columns(struct tctx *t, const struct table *tb, const int *keys, int n, struct table *out)
{
	out->n_cols = n;
	out->n_rows = tb->n_rows;
	out->cols = talloc(t, (size_t)(n ? n : 1) * sizeof *out->cols);
	out->names = talloc(t, (size_t)(n ? n : 1) * sizeof *out->names);
	for (int k = 0; k < n; k++) {
		out->cols[k] = tb->cols[keys[k]];
		out->names[k] = tb->names[keys[k]];
	}
}

static int run_pjoin(struct tctx *t, const struct ffam *m, int64_t rel, size_t n_in, const void *const *in_data,
		     const size_t *in_len, struct op_sink *out)
{
	const struct fnode *f = m->f;
	int64_t N = m->n_src, S = N + m->inputs[1]->n_chunks, R = m->n_ranges, c0 = 2 * S + 1;
	int n = f->n_on;
	int *seq = talloc(t, (size_t)(n ? n : 1) * sizeof *seq);
	for (int k = 0; k < n; k++)
		seq[k] = k;
	struct table *in = view_inputs(t, &n_in, in_data, in_len, rel > 2 * S && rel < c0 + S * R);
	if (!in)
		return -1;
	/* chunk s of the sorted ones: the probed side's first, then the hashed side's */
	int64_t s = rel < S ? rel : rel < 2 * S ? rel - S : rel < c0 + S * R ? (rel - c0) / R : 0;
	const int *keys = s < N ? f->on_in : f->on_other;
	struct table tb;
	if (rel < S) {
		return emit_sorted(t, &in[0], n, keys, NULL, -1, out);
	} else if (rel < 2 * S) {
		/* samples of the keys alone: both sides' splitters share one schema */
		struct table keyed;
		key_columns(t, &in[0], keys, n, &keyed);
		sample_rows(t, &keyed, &tb);
	} else if (rel == 2 * S) {
		pick_splitters(t, in, n_in, n, seq, NULL, R, &tb);
	} else if (rel < c0 + S * R) {
		int64_t lo, hi;
		range_bounds(&in[0], keys, &in[1], seq, n, NULL, (rel - c0) % R, R, &lo, &hi);
		return emit_rows(t, &in[0], lo, hi, out);
	} else {
		/* range r of both sides: every row whose key falls in it, so the join of the two is complete */
		struct table probe, build;
		concat_tables(t, in, (size_t)N, &probe);
		concat_tables(t, in + N, n_in - (size_t)N, &build);
		probe.names = f->in->names;
		build.names = f->other->names;
		if (merge_tables(t, f, &probe, &build, f->how == JOIN_OUTER, &tb) < 0)
			return -1;
		return emit_by_join_keys(t, f, &tb, out);
	}
	return emit_serialized(t, &tb, out);
}

/* A concat task: the chunk of one part with its columns put in the concat's order (missing ones empty). */
static int run_concat(struct tctx *t, const struct ffam *m, const void *data, size_t len, struct op_sink *out)
{
	const struct fnode *f = m->f;
	int64_t rel = t->part, i = 0;
	while (rel >= m->input_first[i + 1])
		i++;
	struct table in, tb;
	if (table_view(t->a, data, len, &in, t->e) < 0)
		return -1;
	tb.n_cols = f->n_cols;
	tb.n_rows = in.n_rows;
	tb.names = f->names;
	tb.cols = talloc(t, (size_t)(f->n_cols ? f->n_cols : 1) * sizeof *tb.cols);
	int64_t *idx = talloc(t, (size_t)(in.n_rows ? in.n_rows : 1) * sizeof *idx);
	for (int64_t r = 0; r < in.n_rows; r++)
		idx[r] = r;
	for (int k = 0; k < f->n_cols; k++) {
		int sc = f->part_cols[i][k];
		if (sc >= 0 && in.cols[sc].type == f->types[k]) {
			tb.cols[k] = in.cols[sc];
		} else if (sc >= 0) {
			join_take(t->a, &in, sc, idx, in.n_rows, f->types[k], NULL, 0, NULL, &tb.cols[k]);
		} else {
			/* a column this part lacks: all missing, as pandas fills it */
			struct cexpr nul = { .kind = CX_CONST, .type = f->types[k], .is_null = true };
			const_column(t, &nul, in.n_rows, &tb.cols[k]);
		}
	}
	return emit_serialized(t, &tb, out);
}

/*
 * Views the hashed sides of the merges in @m's chain, which come last among the inputs of a task that
 * runs the chain, and takes them off *n_in. 0, or -1 and *e on malformed bytes.
 */
static int view_extras(struct tctx *t, const struct ffam *m, int64_t rel, size_t *n_in, const void *const *in_data,
		       const size_t *in_len)
{
	int n_x = ffam_extras(m, t->xnode, FRAME_MAX_CHAIN_MERGES);
	if (!n_x || ((m->kind == FF_AGG || m->kind == FF_XSORT) && rel >= m->n_src))
		return 0;
	t->n_x = n_x;
	for (int i = 0; i < n_x; i++) {
		size_t j = *n_in - (size_t)n_x + (size_t)i;
		if (table_view(t->a, in_data[j], in_len[j], &t->xtab[i], t->e) < 0)
			return -1;
		t->xtab[i].names = t->xnode[i]->names;
	}
	*n_in -= (size_t)n_x;
	return 0;
}

/* The memory a task's CSV block holds. */
static void release_block(struct tctx *t)
{
	if (t->map)
		munmap(t->map, t->map_len);
	free(t->buf);
	t->map = NULL;
	t->buf = NULL;
}

struct frame_part {
	struct arena a;
	struct tctx t;
};

int frame_eval_part(const struct ffam *m, int64_t part, size_t n_in, const void *const *in_data, const size_t *in_len,
		    struct frame_part **out, struct table *tb, struct err *e)
{
	struct frame_part *p = xcalloc(1, sizeof *p);
	arena_init(&p->a);
	p->t = (struct tctx){ .a = &p->a, .fam = m, .e = e, .part = part };
	*out = p;
	if (view_extras(&p->t, m, part, &n_in, in_data, in_len) < 0)
		return -1;
	return run_chain(&p->t, m, part, n_in ? in_data[0] : NULL, n_in ? in_len[0] : 0, tb);
}

void frame_part_release(struct frame_part *p)
{
	if (!p)
		return;
	release_block(&p->t);
	arena_release(&p->a);
	free(p);
}

int frame_run(const struct ffam *m, int64_t rel, size_t n_in, const void *const *in_data, const size_t *in_len,
	      struct op_sink *out, struct err *e)
{
	struct arena a;
	arena_init(&a);
	struct tctx t = { .a = &a, .fam = m, .e = e, .part = rel };
	int rc = 0;
	if (view_extras(&t, m, rel, &n_in, in_data, in_len) < 0) {
		arena_release(&a);
		return -1;
	}
	switch (m->kind) {
	case FF_PARTS: {
		struct table tb;
		rc = run_chain(&t, m, rel, n_in ? in_data[0] : NULL, n_in ? in_len[0] : 0, &tb);
		if (rc == 0) {
			if (m->topk)
				sort_table(&t, &tb, m->topk->n_by, m->topk->by, m->topk->asc, m->limit);
			else
				first_rows(&t, &tb, m->limit, m->from_end);
			if (m->count)
				rc = op_sink_write(out, &tb.n_rows, sizeof tb.n_rows, e);
			else
				rc = emit_table(&t, m, rel, &tb, out);
		}
		break;
	}
	case FF_AGG:
		rc = run_agg(&t, m, rel, n_in, in_data, in_len, out);
		break;
	case FF_CONCAT:
		rc = run_concat(&t, m, in_data[0], in_len[0], out);
		break;
	case FF_XSORT:
		rc = run_xsort(&t, m, rel, n_in, in_data, in_len, out);
		break;
	case FF_PJOIN:
		rc = run_pjoin(&t, m, rel, n_in, in_data, in_len, out);
		break;
	default:
		rc = run_whole(&t, m, n_in, in_data, in_len, out);
		break;
	}
	release_block(&t);
	arena_release(&a);
	return rc;
}
