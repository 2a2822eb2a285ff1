/* SPDX-License-Identifier: MIT */
/*
 * table: a dataframe partition column by column, and the whole-partition
 * work on it: row selection, CSV/TSV/JSON-lines writing, the store's byte
 * form, and hash aggregation (pandas' groupby(...).agg(...) as map-reduce).
 *
 * DESIGN (writing): table_write() writes into the buf's spare room through a
 * cursor and grows it in large steps, checking the room once per field
 * against that field's bound; digits are written by hand, and floats go
 * through a fast exact path (m / 10^k that reads back to the value) before
 * falling back to k_format_double(), numpy's repr.
 *
 * DESIGN (aggregation): rows are handled in chunks of GB_CHUNK. For a chunk,
 * each key column is encoded to 64-bit words (strings stay in place) and
 * hashed into one hash per row; an open-addressing table (power of two,
 * linear probing, at most half full) of group ids maps the hash and keys to
 * a dense group id. Each group's keys are stored once (numbers as words,
 * strings in one byte pool per key column with offsets) with the group's
 * hash cached. Then each aggregate runs one loop over the chunk specialized
 * by its kind, updating flat per-group state arrays (struct of arrays: a sum
 * and its compensation, a count, ...). nunique keeps one set of
 * (group, value) pairs per aggregate, string values interned first.
 * median and quantile keep a quantile sketch per group (frame/qsketch.h),
 * owned by the first such aggregate of a value column and read by the
 * others (describe()'s three percentiles of a column share one).
 * A partial serializes its groups' keys and states; merging maps the other
 * partial's groups onto ours and combines states by kind (first/last by
 * global row index, moments by Chan's formula, sketches by qsk_merge), so
 * any merge order gives the same result up to float rounding (and the
 * sketch's error bound, for quantiles of groups past 2k values).
 */
#include "frame/table.h"
#include "frame/qsketch.h"
#include "kernels.h"
#include "util/hash.h"
#include "util/xalloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---- */

static inline uint64_t f2bits(double d)
{
	uint64_t v;
	memcpy(&v, &d, 8);
	return v;
}

static inline double bits2f(uint64_t v)
{
	double d;
	memcpy(&d, &v, 8);
	return d;
}

static const char *col_str(const struct column *c, int64_t r, size_t *len)
{
	*len = (size_t)(c->soff[r + 1] - c->soff[r]);
	return c->sdata + c->soff[r];
}

/* ---- take / filter ---- */

void table_take(struct arena *a, const struct table *t, const int64_t *idx, int64_t n, struct table *out)
{
	out->n_cols = t->n_cols;
	out->n_rows = n;
	out->names = t->names;
	out->cols = arena_alloc(a, sizeof *out->cols * (size_t)(t->n_cols ? t->n_cols : 1));
	size_t nn = (size_t)n;
	for (int c = 0; c < t->n_cols; c++) {
		const struct column *s = &t->cols[c];
		struct column *d = &out->cols[c];
		d->type = s->type;
		d->n = n;
		if (s->valid) {
			d->valid = arena_alloc(a, nn + 1);
			for (int64_t r = 0; r < n; r++)
				d->valid[r] = s->valid[idx[r]];
		}
		/* a column kept only as raw text (written through, never read) has no values to gather */
		switch (column_has_values(s) ? s->type : COL_TYPE_N) {
		case COL_TYPE_N:
			break;
		case COL_INT64:
			d->i = arena_alloc(a, nn * 8 + 8);
			for (int64_t r = 0; r < n; r++)
				d->i[r] = s->i[idx[r]];
			break;
		case COL_FLOAT64:
			d->f = arena_alloc(a, nn * 8 + 8);
			for (int64_t r = 0; r < n; r++)
				d->f[r] = s->f[idx[r]];
			break;
		case COL_BOOL:
			d->b = arena_alloc(a, nn + 1);
			for (int64_t r = 0; r < n; r++)
				d->b[r] = s->b[idx[r]];
			break;
		case COL_DATE:
			d->d = arena_alloc(a, nn * 4 + 4);
			for (int64_t r = 0; r < n; r++)
				d->d[r] = s->d[idx[r]];
			break;
		case COL_STRING:
		default: {
			uint64_t total = 0;
			for (int64_t r = 0; r < n; r++)
				total += s->soff[idx[r] + 1] - s->soff[idx[r]];
			char *data = arena_alloc(a, (size_t)total + 1);
			d->soff = arena_alloc(a, (nn + 1) * 8);
			uint64_t o = 0;
			for (int64_t r = 0; r < n; r++) {
				size_t len;
				const char *p = col_str(s, idx[r], &len);
				memcpy(data + o, p, len);
				d->soff[r] = o;
				o += len;
			}
			d->soff[n] = o;
			d->sdata = data;
			break;
		}
		}
		if (s->rbase) {
			uint32_t *rs = arena_alloc(a, nn * 4 + 4), *rl = arena_alloc(a, nn * 4 + 4);
			for (int64_t r = 0; r < n; r++) {
				rs[r] = s->rstart[idx[r]];
				rl[r] = column_raw_len(s, idx[r]);
			}
			d->rbase = s->rbase;
			d->rstart = rs;
			d->rlen = rl;
		}
	}
}

void table_filter(struct arena *a, const struct table *t, const uint8_t *mask, struct table *out)
{
	int64_t n = 0;
	for (int64_t r = 0; r < t->n_rows; r++)
		n += mask[r] != 0;
	int64_t *idx = xmalloc(sizeof *idx * (size_t)(n ? n : 1));
	int64_t k = 0;
	for (int64_t r = 0; r < t->n_rows; r++)
		if (mask[r])
			idx[k++] = r;
	table_take(a, t, idx, n, out);
	free(idx);
}

/* ---- writing ---- */

static const char digits2[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
			      "404142434445464748495051525354555657585960616263646566676869707172737475767778"
			      "798081828384858687888990919293949596979899";

/* Writes @u in decimal at @p; returns the end. At most 20 bytes. */
static char *put_u64(char *p, uint64_t u)
{
	char tmp[24];
	char *t = tmp + sizeof tmp;
	while (u >= 100) {
		unsigned d = (unsigned)(u % 100);
		u /= 100;
		t -= 2;
		memcpy(t, digits2 + 2 * d, 2);
	}
	if (u >= 10) {
		t -= 2;
		memcpy(t, digits2 + 2 * u, 2);
	} else {
		*--t = (char)('0' + u);
	}
	size_t n = (size_t)(tmp + sizeof tmp - t);
	memcpy(p, t, n);
	return p + n;
}

static char *put_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return put_u64(p, 0 - (uint64_t)v);
	}
	return put_u64(p, (uint64_t)v);
}

static const double pow10_f[18] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
				    1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17 };
static const uint64_t pow10_u[18] = { 1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
				      10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
				      100000000000ull, 1000000000000ull, 10000000000000ull,
				      100000000000000ull, 1000000000000000ull, 10000000000000000ull,
				      100000000000000000ull };

/*
 * numpy's repr of @v into @out (K_FORMAT_LEN bytes); returns the length.
 * Fast path: for 1e-4 <= |v| < 1e15, the fewest decimals k such that
 * m = round(|v| 10^k) < 2^50 gives m / 10^k == |v| (one correctly rounded
 * division, so exactly what strtod reads back). Below 2^50 the spacing of
 * decimals at k places exceeds 4 ulps of v, so that m is the only k-decimal
 * candidate, and fewer decimals means fewer significant digits: it is the
 * shortest round trip, which is what numpy prints, laid out positionally as
 * numpy does in that range. Anything else goes to k_format_double().
 */
static int fmt_double(double v, char *out)
{
	double a = fabs(v);
	if (a >= 1e-4 && a < 1e15) {
		for (int k = 0; k < 18; k++) {
			double s = a * pow10_f[k];
			if (s >= 1125899906842624.0)
				break;
			double m = nearbyint(s);
			if (m / pow10_f[k] != a)
				continue;
			uint64_t mi = (uint64_t)m;
			char *p = out;
			if (v < 0)
				*p++ = '-';
			p = put_u64(p, mi / pow10_u[k]);
			*p++ = '.';
			if (k == 0) {
				*p++ = '0';
			} else {
				uint64_t frac = mi % pow10_u[k];
				for (int j = k - 1; j >= 0; j--) {
					p[j] = (char)('0' + frac % 10);
					frac /= 10;
				}
				p += k;
			}
			*p = '\0';
			return (int)(p - out);
		}
	}
	return k_format_double(v, out, K_FORMAT_LEN);
}

/* A cursor into a buf's spare room. */
struct wcur {
	struct buf *b;
	char *p, *end; /* end: data + cap - 1 (room for the NUL) */
};

static void wcur_grow(struct wcur *w, size_t need)
{
	struct buf *b = w->b;
	b->len = w->p ? (size_t)(w->p - b->data) : 0;
	size_t want = b->len + need + 1;
	if (want < b->len + (1u << 16))
		want = b->len + (1u << 16);
	if (want > b->cap) {
		size_t c = b->cap ? b->cap : 64;
		while (c < want)
			c *= 2;
		b->data = xrealloc(b->data, c);
		b->cap = c;
	}
	w->p = b->data + b->len;
	w->end = b->data + b->cap - 1;
}

static inline char *wcur_room(struct wcur *w, size_t need)
{
	if ((size_t)(w->end - w->p) < need)
		wcur_grow(w, need);
	return w->p;
}

static void wcur_init(struct wcur *w, struct buf *b)
{
	w->b = b;
	w->p = b->data ? b->data + b->len : NULL;
	wcur_grow(w, 0);
}

static void wcur_done(struct wcur *w)
{
	w->b->len = (size_t)(w->p - w->b->data);
	*w->p = '\0';
}

static inline void put_ch(struct wcur *w, char c)
{
	*wcur_room(w, 1) = c;
	w->p++;
}

static inline void put_lit(struct wcur *w, const char *s, size_t n)
{
	memcpy(wcur_room(w, n), s, n);
	w->p += n;
}

/* Bytes a CSV/TSV writer must quote: the separator, '"', '\r', '\n'. */
static bool needs_quote(const char *s, size_t n, char sep)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == sep || c == '"' || c == '\n' || c == '\r')
			return true;
	}
	return false;
}

/* A string field, quoted when needed. */
static void put_text(struct wcur *w, const char *s, size_t n, char sep)
{
	if (!needs_quote(s, n, sep)) {
		char *p = wcur_room(w, n);
		memcpy(p, s, n);
		w->p = p + n;
		return;
	}
	char *p = wcur_room(w, 2 * n + 2);
	*p++ = '"';
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			*p++ = '"';
		*p++ = s[i];
	}
	*p++ = '"';
	w->p = p;
}

static void put_json_str(struct wcur *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *p = wcur_room(w, 6 * n + 2);
	*p++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			*p++ = (char)c;
			continue;
		}
		*p++ = '\\';
		switch (c) {
		case '"': *p++ = '"'; break;
		case '\\': *p++ = '\\'; break;
		case '\n': *p++ = 'n'; break;
		case '\r': *p++ = 'r'; break;
		case '\t': *p++ = 't'; break;
		case '\b': *p++ = 'b'; break;
		case '\f': *p++ = 'f'; break;
		default:
			memcpy(p, "u00", 3);
			p[3] = hex[c >> 4];
			p[4] = hex[c & 15];
			p += 5;
		}
	}
	*p++ = '"';
	w->p = p;
}

/* Writes the unquoted text of a non-missing, non-string value; returns false
 * for a float NaN (written as missing). At most 32 bytes. */
static bool put_scalar(struct wcur *w, const struct column *c, int64_t r, bool json)
{
	char *p = wcur_room(w, 40);
	switch (c->type) {
	case COL_INT64:
		w->p = put_i64(p, c->i[r]);
		return true;
	case COL_FLOAT64: {
		double v = c->f[r];
		if (isnan(v) || (json && isinf(v)))
			return false;
		w->p = p + fmt_double(v, p);
		return true;
	}
	case COL_BOOL:
		if (json) {
			memcpy(p, c->b[r] ? "true" : "false", 5);
			w->p = p + (c->b[r] ? 4 : 5);
		} else {
			memcpy(p, c->b[r] ? "True" : "False", 5);
			w->p = p + (c->b[r] ? 4 : 5);
		}
		return true;
	case COL_DATE:
		if (json)
			*p++ = '"';
		p += csv_format_date(c->d[r], p);
		if (json)
			*p++ = '"';
		w->p = p;
		return true;
	default:
		return false;
	}
}

void table_write_value(const struct column *c, int64_t r, struct buf *out)
{
	if (!column_is_valid(c, r))
		return;
	if (c->type == COL_STRING) {
		size_t n;
		const char *s = col_str(c, r, &n);
		buf_append(out, s, n);
		return;
	}
	struct wcur w;
	wcur_init(&w, out);
	put_scalar(&w, c, r, false);
	wcur_done(&w);
}

static void write_delim(const struct table *t, char sep, bool raw_ok, bool header, struct wcur *w)
{
	if (header) {
		for (int c = 0; c < t->n_cols; c++) {
			if (c)
				put_ch(w, sep);
			put_text(w, t->names[c], strlen(t->names[c]), sep);
		}
		if (t->n_cols == 1 && !t->names[0][0])
			put_lit(w, "\"\"", 2);
		put_ch(w, '\n');
	}
	for (int64_t r = 0; r < t->n_rows; r++) {
		for (int c = 0; c < t->n_cols; c++) {
			const struct column *col = &t->cols[c];
			char *start;
			if (c)
				put_ch(w, sep);
			start = w->p;
			if (raw_ok && col->rbase) {
				size_t n = column_raw_len(col, r);
				char *p = wcur_room(w, n);
				memcpy(p, col->rbase + col->rstart[r], n);
				w->p = p + n;
			} else if (column_is_valid(col, r)) {
				if (col->type == COL_STRING) {
					size_t n;
					const char *s = col_str(col, r, &n);
					put_text(w, s, n, sep);
				} else {
					put_scalar(w, col, r, false);
				}
			}
			/* Python's csv module quotes a record that is one empty field,
			 * which would otherwise read back as a blank line. */
			if (t->n_cols == 1 && w->p == start)
				put_lit(w, "\"\"", 2);
		}
		put_ch(w, '\n');
	}
}

static void write_jsonl(const struct table *t, struct wcur *w)
{
	for (int64_t r = 0; r < t->n_rows; r++) {
		put_ch(w, '{');
		for (int c = 0; c < t->n_cols; c++) {
			const struct column *col = &t->cols[c];
			if (c)
				put_ch(w, ',');
			put_json_str(w, t->names[c], strlen(t->names[c]));
			put_ch(w, ':');
			bool ok = false;
			if (column_is_valid(col, r)) {
				if (col->type == COL_STRING) {
					size_t n;
					const char *s = col_str(col, r, &n);
					put_json_str(w, s, n);
					ok = true;
				} else {
					ok = put_scalar(w, col, r, true);
				}
			}
			if (!ok)
				put_lit(w, "null", 4);
		}
		put_lit(w, "}\n", 2);
	}
}

void table_write(const struct table *t, enum table_format fmt, bool header, struct buf *out)
{
	struct wcur w;
	wcur_init(&w, out);
	if (fmt == TF_JSONL)
		write_jsonl(t, &w);
	else
		write_delim(t, fmt == TF_TSV ? '\t' : ',', fmt == TF_CSV, header, &w);
	wcur_done(&w);
}

/* ---- byte forms: writer and checked reader ---- */

#define TABLE_MAGIC 0x3142415453534554ull /* "TESSTAB1" */
#define GB_MAGIC 0x3142475353534554ull    /* "TESSGB1" + '1' */

static void put_w(struct buf *b, uint64_t v)
{
	buf_append(b, &v, 8);
}

/* Appends @n bytes, then zeros up to a multiple of 8 from @base. */
static void put_block(struct buf *b, size_t base, const void *p, size_t n)
{
	static const char zero[8];
	buf_append(b, p, n);
	size_t r = (b->len - base) & 7;
	if (r)
		buf_append(b, zero, 8 - r);
}

struct rd {
	const unsigned char *p;
	size_t len, pos;
	bool bad;
};

static uint64_t rd_w(struct rd *r)
{
	if (r->bad || r->len - r->pos < 8) {
		r->bad = true;
		return 0;
	}
	uint64_t v = hash_ld64(r->p + r->pos);
	r->pos += 8;
	return v;
}

/* @n elements of @size bytes, padded to 8; NULL (and r->bad) when they do not fit. */
static const unsigned char *rd_block(struct rd *r, uint64_t n, size_t size)
{
	if (r->bad || n > (r->len - r->pos) / size) {
		r->bad = true;
		return NULL;
	}
	const unsigned char *q = r->p + r->pos;
	size_t bytes = (size_t)n * size, pad = (8 - (bytes & 7)) & 7;
	if (pad > r->len - r->pos - bytes) {
		r->bad = true;
		return NULL;
	}
	r->pos += bytes + pad;
	return q;
}

/* ---- table_serialize / table_view ---- */

/* TB_VALS: the typed values are there (a column written through as read has only its text) */
enum { TB_VALID = 1, TB_RAW = 2, TB_VALS = 4 };

/* Zeros up to a multiple of 8 from @base. */
static void put_pad(struct buf *b, size_t base)
{
	put_block(b, base, "", 0);
}

void table_serialize_rows(const struct table *ts, int n_ts, const int32_t *src, const int64_t *row, int64_t nr,
			  struct buf *out)
{
	size_t base = out->len;
	size_t n = (size_t)nr;
	int nc = n_ts ? ts[0].n_cols : 0;
	/* The size first (a bound: padding counted as whole words): a sort's or a cut's output is
	 * megabytes, and growing by doubling held up to three times it at once. */
	size_t bound = 24;
	for (int c = 0; c < nc; c++) {
		bool all_raw = true, all_vals = true;
		for (int k = 0; k < n_ts; k++) {
			all_raw &= ts[k].cols[c].rbase != NULL;
			all_vals &= column_has_values(&ts[k].cols[c]);
		}
		enum col_type type = ts[0].cols[c].type;
		size_t w = type == COL_INT64 || type == COL_FLOAT64 ? 8 : type == COL_DATE ? 4 : 1;
		bound += 24 + strlen(ts[0].names[c]) + 8 + n + 8;
		if (all_vals && type == COL_STRING) {
			bound += (n + 1) * 8 + 8;
			for (size_t k = 0; k < n; k++) {
				const struct column *s = &ts[src ? src[k] : 0].cols[c];
				int64_t r = row ? row[k] : (int64_t)k;
				if (s->soff)
					bound += s->soff[r + 1] - s->soff[r];
			}
		} else if (all_vals) {
			bound += n * w + 8;
		}
		if (all_raw) {
			bound += 8 + (n + 1) * 4 + 16;
			for (size_t k = 0; k < n; k++)
				bound += column_raw_len(&ts[src ? src[k] : 0].cols[c], row ? row[k] : (int64_t)k);
		}
	}
	buf_reserve(out, bound);
	put_w(out, TABLE_MAGIC);
	put_w(out, (uint64_t)nc);
	put_w(out, n);
	for (int c = 0; c < nc; c++) {
		/* the byte form of the concatenated column, so flags as concat would set them */
		bool any_valid = false, all_raw = true, all_vals = true;
		for (int k = 0; k < n_ts; k++) {
			const struct column *s = &ts[k].cols[c];
			any_valid |= s->valid != NULL;
			all_raw &= s->rbase != NULL;
			all_vals &= column_has_values(s);
		}
		const struct column *one = &ts[0].cols[c]; /* the column itself when !row */
		enum col_type type = one->type;
		size_t nl = strlen(ts[0].names[c]);
		put_w(out, (uint64_t)type);
		put_w(out, (any_valid ? TB_VALID : 0) | (all_raw ? TB_RAW : 0) | (all_vals ? TB_VALS : 0));
		put_w(out, nl);
		put_block(out, base, ts[0].names[c], nl);
#define ROW_COL(k) (&ts[src ? src[k] : 0].cols[c])
#define ROW(k) (row ? row[k] : (int64_t)(k))
		if (any_valid) {
			uint8_t *v = (uint8_t *)buf_grow(out, n);
			if (!row)
				memcpy(v, one->valid, n);
			else
				for (size_t k = 0; k < n; k++)
					v[k] = (uint8_t)column_is_valid(ROW_COL(k), row[k]);
			put_pad(out, base);
		}
		size_t w = type == COL_INT64 || type == COL_FLOAT64 ? 8 : type == COL_DATE ? 4 : 1;
		if (!all_vals) {
			/* text only: nothing to write */
		} else if (type == COL_STRING) {
			char *off = buf_grow(out, (n + 1) * 8);
			uint64_t o = 0;
			for (size_t k = 0; k < n; k++) {
				const struct column *s = ROW_COL(k);
				memcpy(off + k * 8, &o, 8);
				if (s->soff)
					o += s->soff[ROW(k) + 1] - s->soff[ROW(k)];
			}
			memcpy(off + n * 8, &o, 8);
			char *d = buf_grow(out, (size_t)o);
			if (!row && o) {
				memcpy(d, one->sdata + one->soff[0], (size_t)o);
			} else {
				for (size_t k = 0; k < n; k++) {
					const struct column *s = ROW_COL(k);
					if (s->soff) {
						size_t len = (size_t)(s->soff[ROW(k) + 1] - s->soff[ROW(k)]);
						memcpy(d, s->sdata + s->soff[ROW(k)], len);
						d += len;
					}
				}
			}
			put_pad(out, base);
		} else {
			char *d = buf_grow(out, n * w);
			const void *whole = type == COL_INT64 ? (const void *)one->i : type == COL_FLOAT64 ? (const void *)one->f :
					    type == COL_DATE ? (const void *)one->d : (const void *)one->b;
			if (!row)
				memcpy(d, whole, n * w);
			else
				for (size_t k = 0; k < n; k++) {
					const struct column *s = ROW_COL(k);
					int64_t r = row[k];
					switch (type) {
					case COL_INT64: memcpy(d + k * 8, &s->i[r], 8); break;
					case COL_FLOAT64: memcpy(d + k * 8, &s->f[r], 8); break;
					case COL_DATE: memcpy(d + k * 4, &s->d[r], 4); break;
					default: d[k] = (char)s->b[r]; break;
					}
				}
			put_pad(out, base);
		}
		if (all_raw) {
			uint64_t total = 0;
			for (size_t k = 0; k < n; k++)
				total += column_raw_len(ROW_COL(k), ROW(k));
			put_w(out, total);
			char *d = buf_grow(out, (size_t)total);
			for (size_t k = 0; k < n; k++) {
				const struct column *s = ROW_COL(k);
				uint32_t len = column_raw_len(s, ROW(k));
				memcpy(d, s->rbase + s->rstart[ROW(k)], len);
				d += len;
			}
			put_pad(out, base);
			/* the fields lie end to end: n + 1 starts say where each is (table_view() gives rlen NULL) */
			char *st = buf_grow(out, (n + 1) * 4);
			uint32_t o = 0;
			for (size_t k = 0; k < n; k++) {
				memcpy(st + k * 4, &o, 4);
				o += column_raw_len(ROW_COL(k), ROW(k));
			}
			memcpy(st + n * 4, &o, 4);
			put_pad(out, base);
		}
#undef ROW
#undef ROW_COL
	}
}

void table_serialize(const struct table *t, struct buf *out)
{
	table_serialize_rows(t, 1, NULL, NULL, t->n_rows, out);
}

/* The array at @q, in place when aligned to @align, else copied into @a. */
static void *view_arr(struct arena *a, const unsigned char *q, size_t bytes, size_t align)
{
	if (((uintptr_t)q & (align - 1)) == 0)
		return (void *)(uintptr_t)q;
	void *p = arena_alloc(a, bytes ? bytes : 1);
	memcpy(p, q, bytes);
	return p;
}

int table_view(struct arena *a, const void *bytes, size_t len, struct table *t, struct err *e)
{
	struct rd r = { bytes, len, 0, false };
	memset(t, 0, sizeof *t);
	if (rd_w(&r) != TABLE_MAGIC)
		return err_run(e, NULL, "corrupt partition: bad magic number");
	uint64_t nc = rd_w(&r), n = rd_w(&r);
	if (r.bad || nc > len / 24 || (nc && n > len))
		return err_run(e, NULL, "corrupt partition: bad sizes");
	t->n_cols = (int)nc;
	t->n_rows = (int64_t)n;
	t->names = arena_alloc(a, sizeof *t->names * (nc ? nc : 1));
	t->cols = arena_alloc(a, sizeof *t->cols * (nc ? nc : 1));
	for (uint64_t c = 0; c < nc; c++) {
		struct column *col = &t->cols[c];
		uint64_t type = rd_w(&r), flags = rd_w(&r), nl = rd_w(&r);
		const unsigned char *q = rd_block(&r, nl, 1);
		if (r.bad || type >= COL_TYPE_N || (flags & ~(uint64_t)7))
			return err_run(e, NULL, "corrupt partition: bad column %d", (int)c);
		if (memchr(q, 0, nl))
			return err_run(e, NULL, "corrupt partition: bad column name");
		t->names[c] = arena_strndup(a, (const char *)q, nl);
		col->type = (enum col_type)type;
		col->n = (int64_t)n;
		if (flags & TB_VALID) {
			if (!(q = rd_block(&r, n, 1)))
				break;
			col->valid = view_arr(a, q, n, 1);
		}
		switch (flags & TB_VALS ? col->type : COL_TYPE_N) {
		case COL_TYPE_N:
			break; /* text only */
		case COL_INT64:
			if ((q = rd_block(&r, n, 8)))
				col->i = view_arr(a, q, n * 8, 8);
			break;
		case COL_FLOAT64:
			if ((q = rd_block(&r, n, 8)))
				col->f = view_arr(a, q, n * 8, 8);
			break;
		case COL_BOOL:
			if ((q = rd_block(&r, n, 1)))
				col->b = view_arr(a, q, n, 1);
			break;
		case COL_DATE:
			if ((q = rd_block(&r, n, 4)))
				col->d = view_arr(a, q, n * 4, 4);
			break;
		case COL_STRING:
		default: {
			if (!(q = rd_block(&r, n + 1, 8)))
				break;
			col->soff = view_arr(a, q, (n + 1) * 8, 8);
			uint64_t total = col->soff[n];
			const unsigned char *s = rd_block(&r, total, 1);
			if (!s)
				break;
			col->sdata = (const char *)s;
			if (col->soff[0] != 0)
				r.bad = true;
			for (uint64_t i = 0; i < n && !r.bad; i++)
				if (col->soff[i + 1] < col->soff[i])
					r.bad = true;
			break;
		}
		}
		if (r.bad)
			break;
		if (flags & TB_RAW) {
			uint64_t total = rd_w(&r);
			if (total > UINT32_MAX)
				r.bad = true;
			const unsigned char *rb = rd_block(&r, total, 1);
			const unsigned char *rs = rd_block(&r, n + 1, 4);
			if (r.bad)
				break;
			col->rbase = (const char *)rb;
			col->rstart = view_arr(a, rs, (n + 1) * 4, 4);
			col->rlen = NULL;
			if (col->rstart[0] != 0 || col->rstart[n] != total)
				r.bad = true;
			for (uint64_t i = 0; i < n && !r.bad; i++)
				if (col->rstart[i + 1] < col->rstart[i])
					r.bad = true;
		}
		if (r.bad)
			break;
	}
	if (r.bad || r.pos != len) {
		memset(t, 0, sizeof *t);
		return err_run(e, NULL, "corrupt partition: truncated or malformed bytes");
	}
	return 0;
}

/* ---- aggregate functions ---- */

static const char *const agg_names[AGG_N] = {
	[AGG_SUM] = "sum", [AGG_MEAN] = "mean", [AGG_MIN] = "min", [AGG_MAX] = "max",
	[AGG_COUNT] = "count", [AGG_SIZE] = "size", [AGG_STD] = "std", [AGG_VAR] = "var",
	[AGG_FIRST] = "first", [AGG_LAST] = "last", [AGG_NUNIQUE] = "nunique", [AGG_MEDIAN] = "median",
	[AGG_QUANTILE] = "quantile", [AGG_TOP] = "top", [AGG_FREQ] = "freq",
	[AGG_NA] = "na",
};

const char *agg_fn_name(enum agg_fn f)
{
	return (unsigned)f < AGG_N ? agg_names[f] : "?";
}

int agg_fn_parse(const char *name)
{
	for (int f = 0; f < AGG_TOP; f++)
		if (strcmp(name, agg_names[f]) == 0)
			return f;
	return -1;
}

int agg_result_type(enum agg_fn f, enum col_type in)
{
	switch (f) {
	case AGG_SUM:
		if (in == COL_INT64 || in == COL_BOOL)
			return COL_INT64;
		return in == COL_FLOAT64 ? COL_FLOAT64 : -1;
	case AGG_MEAN:
	case AGG_STD:
	case AGG_VAR:
	case AGG_MEDIAN:
	case AGG_QUANTILE:
		return in == COL_INT64 || in == COL_BOOL || in == COL_FLOAT64 ? COL_FLOAT64 : -1;
	case AGG_MIN:
	case AGG_MAX:
	case AGG_FIRST:
	case AGG_LAST:
	case AGG_TOP:
		return (unsigned)in < COL_TYPE_N ? (int)in : -1;
	case AGG_COUNT:
	case AGG_SIZE:
	case AGG_NUNIQUE:
	case AGG_FREQ:
		return COL_INT64;
	default:
		return -1;
	}
}

/* ---- hashing ---- */

/* hash_bytes(), hash_word() and hash_combine() come from util/hash.h. */

/* ---- aggregate states ---- */

#define GB_CHUNK 2048

enum st_kind {
	ST_NONE,     /* a result pandas refuses: all missing */
	ST_SUM_I,    /* a0 uint64 wrapping sum */
	ST_SUM_F,    /* a0 sum, a1 compensation (doubles) */
	ST_MEAN_I,   /* a0 low word, a1 high word of an int128 sum, a2 count */
	ST_MEAN_F,   /* a0 sum, a1 compensation, a2 count (int64) */
	ST_MINMAX_I, /* a0 value (int64), a1 has a value */
	ST_MINMAX_F, /* a0 value (double; NaN: none yet) */
	ST_MINMAX_S, /* a0 has a value; sv the value */
	ST_FL,       /* a0 global row (-1: none), a1 the value's bits */
	ST_FL_S,     /* a0 global row (-1: none); sv the value */
	ST_COUNT,    /* a0 count of values */
	ST_SIZE,     /* a0 count of rows */
	ST_MOM,      /* a0 n, a1 mean, a2 m2 (doubles) */
	ST_NUNIQUE,  /* a0 distinct values; set the (group, value) pairs */
	ST_QUANT,    /* qs: a quantile sketch per group, in the agg that owns it (share) */
	ST_TOP,      /* set: the (group, value) pairs with their counts, in the agg that owns it (share) */
	ST_N
};

static const int st_n_arr[ST_N] = {
	[ST_NONE] = 0, [ST_SUM_I] = 1, [ST_SUM_F] = 2, [ST_MEAN_I] = 3, [ST_MEAN_F] = 3,
	[ST_MINMAX_I] = 2, [ST_MINMAX_F] = 1, [ST_MINMAX_S] = 1, [ST_FL] = 2, [ST_FL_S] = 1,
	[ST_COUNT] = 1, [ST_SIZE] = 1, [ST_MOM] = 3, [ST_NUNIQUE] = 1, [ST_QUANT] = 0,
	[ST_TOP] = 0,
};

/* A string state value, heap-owned. */
struct sval {
	char *p;
	size_t len, cap;
};

/* Interned strings: id -> bytes, bytes -> id. */
struct strtab {
	int32_t *slot; /* cap ids, -1 empty */
	size_t cap;    /* power of two */
	uint64_t *hash, *off; /* n hashes, n + 1 offsets */
	size_t n, ncap;
	char *bytes;
	size_t blen, bcap;
};

/* (group, value) pairs, and how often each was added when @counted. */
struct pairset {
	int32_t *g; /* cap; -1 empty */
	uint64_t *v;
	uint64_t *cnt; /* cap, when counted */
	size_t cap, n;
	bool counted;
};

struct agg {
	struct agg_spec spec;
	enum col_type in;
	int out;        /* result type, -1: none */
	enum st_kind kind;
	bool hi;        /* max / last */
	int n_arr;
	void *arr[3];   /* gcap elements of 8 bytes each */
	struct sval *sv;
	struct pairset set;
	struct strtab strs;
	int share;      /* ST_QUANT, ST_TOP: the agg whose state it reads (the first of its kind and value column) */
	struct qsketch *qs; /* ST_QUANT, when share is this agg: gcap sketches */
};

struct gb {
	int n_keys, n_aggs, n_vals;
	enum col_type *ktype;
	const char *const *knames;
	struct agg *aggs;
	enum col_type *vtype;
	uint64_t sig;        /* the arguments, hashed: partials must agree */
	uint64_t qs_budget;  /* bytes the quantile sketches may take together (0: no bound) */
	uint32_t qs_k;       /* the sketches' top capacity (gb_fit_sketches): QSK_K or less */
	int n_qs;            /* sketch arrays (quantile aggregates with their own state) */
	int64_t n_groups, gcap;
	uint64_t *ghash;     /* gcap */
	uint64_t **kenc;     /* per key: gcap words, or gcap + 1 offsets into kbytes for strings */
	char **kbytes;
	size_t *kblen, *kbcap;
	int32_t *slot;       /* scap group ids, -1 empty */
	size_t scap;
	/* scratch for one chunk */
	uint64_t *h;
	int32_t *gid;
	uint8_t *drop;
	uint64_t *enc;       /* n_keys * GB_CHUNK */
	int64_t *si;
	double *sf;
};

/* Where the keys of a batch of rows (or of another partial's groups) are:
 * words for non-string keys, base + offsets for strings. */
struct kview {
	const uint64_t *enc;
	const char *sbase;
	const uint64_t *soff;
};

static enum st_kind st_kind_of(enum agg_fn f, enum col_type in, int out)
{
	if (out < 0)
		return ST_NONE;
	switch (f) {
	case AGG_SUM: return in == COL_FLOAT64 ? ST_SUM_F : ST_SUM_I;
	case AGG_MEAN: return in == COL_FLOAT64 ? ST_MEAN_F : ST_MEAN_I;
	case AGG_MIN:
	case AGG_MAX:
		return in == COL_FLOAT64 ? ST_MINMAX_F : in == COL_STRING ? ST_MINMAX_S : ST_MINMAX_I;
	case AGG_FIRST:
	case AGG_LAST: return in == COL_STRING ? ST_FL_S : ST_FL;
	case AGG_COUNT: return ST_COUNT;
	case AGG_SIZE: return ST_SIZE;
	case AGG_STD:
	case AGG_VAR: return ST_MOM;
	case AGG_NUNIQUE: return ST_NUNIQUE;
	case AGG_MEDIAN:
	case AGG_QUANTILE: return ST_QUANT;
	case AGG_TOP:
	case AGG_FREQ: return ST_TOP;
	default: return ST_NONE;
	}
}

static uint64_t st_init(enum st_kind k, int j)
{
	if (k == ST_MINMAX_F)
		return f2bits(NAN);
	if ((k == ST_FL || k == ST_FL_S) && j == 0)
		return (uint64_t)-1;
	return 0;
}

static void sval_set(struct sval *s, const char *p, size_t n)
{
	if (n > s->cap) {
		s->cap = n < 16 ? 16 : n;
		s->p = xrealloc(s->p, s->cap);
	}
	if (n)
		memcpy(s->p, p, n);
	s->len = n;
}

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

/* ---- string interning (nunique of strings) ---- */

static void strtab_rehash(struct strtab *t, size_t cap)
{
	free(t->slot);
	t->slot = xmalloc(sizeof *t->slot * cap);
	memset(t->slot, 0xff, sizeof *t->slot * cap);
	t->cap = cap;
	for (size_t i = 0; i < t->n; i++) {
		size_t s = t->hash[i] & (cap - 1);
		while (t->slot[s] >= 0)
			s = (s + 1) & (cap - 1);
		t->slot[s] = (int32_t)i;
	}
}

static uint64_t strtab_intern(struct strtab *t, const char *p, size_t n)
{
	if ((t->n + 1) * 2 > t->cap)
		strtab_rehash(t, t->cap ? t->cap * 2 : 64);
	uint64_t h = hash_bytes(p, n);
	size_t s = h & (t->cap - 1);
	for (;;) {
		int32_t id = t->slot[s];
		if (id < 0)
			break;
		if (t->hash[id] == h && t->off[id + 1] - t->off[id] == n &&
		    memcmp(t->bytes + t->off[id], p, n) == 0)
			return (uint64_t)id;
		s = (s + 1) & (t->cap - 1);
	}
	if (t->n + 2 > t->ncap) {
		size_t c = t->ncap ? t->ncap * 2 : 64;
		t->hash = xrealloc(t->hash, c * 8);
		t->off = xrealloc(t->off, c * 8);
		t->ncap = c;
	}
	if (t->n == 0)
		t->off[0] = 0;
	if (t->blen + n > t->bcap) {
		size_t c = t->bcap ? t->bcap : 256;
		while (c < t->blen + n)
			c *= 2;
		t->bytes = xrealloc(t->bytes, c);
		t->bcap = c;
	}
	if (n)
		memcpy(t->bytes + t->blen, p, n);
	t->blen += n;
	size_t id = t->n++;
	t->hash[id] = h;
	t->off[id + 1] = t->blen;
	t->slot[s] = (int32_t)id;
	return id;
}

static void strtab_free(struct strtab *t)
{
	free(t->slot);
	free(t->hash);
	free(t->off);
	free(t->bytes);
}

/* ---- (group, value) sets ---- */

static inline uint64_t pair_hash(int32_t g, uint64_t v)
{
	return hash_mix(v ^ HASH_K0, ((uint64_t)(uint32_t)g << 1 | 1) * HASH_K2);
}

static void pairset_rehash(struct pairset *s, size_t cap)
{
	int32_t *og = s->g;
	uint64_t *ov = s->v, *oc = s->cnt;
	size_t ocap = s->cap;
	s->g = xmalloc(sizeof *s->g * cap);
	s->v = xmalloc(sizeof *s->v * cap);
	s->cnt = s->counted ? xmalloc(sizeof *s->cnt * cap) : NULL;
	memset(s->g, 0xff, sizeof *s->g * cap);
	s->cap = cap;
	for (size_t i = 0; i < ocap; i++) {
		if (og[i] < 0)
			continue;
		size_t k = pair_hash(og[i], ov[i]) & (cap - 1);
		while (s->g[k] >= 0)
			k = (k + 1) & (cap - 1);
		s->g[k] = og[i];
		s->v[k] = ov[i];
		if (oc)
			s->cnt[k] = oc[i];
	}
	free(og);
	free(ov);
	free(oc);
}

/* Adds (g, v), @times times when counted; true when it was new. */
static inline bool pairset_add_n(struct pairset *s, int32_t g, uint64_t v, uint64_t times)
{
	if ((s->n + 1) * 2 > s->cap)
		pairset_rehash(s, s->cap ? s->cap * 2 : 256);
	size_t k = pair_hash(g, v) & (s->cap - 1);
	for (;;) {
		if (s->g[k] < 0) {
			s->g[k] = g;
			s->v[k] = v;
			if (s->cnt)
				s->cnt[k] = times;
			s->n++;
			return true;
		}
		if (s->g[k] == g && s->v[k] == v) {
			if (s->cnt)
				s->cnt[k] += times;
			return false;
		}
		k = (k + 1) & (s->cap - 1);
	}
}

static inline bool pairset_add(struct pairset *s, int32_t g, uint64_t v)
{
	return pairset_add_n(s, g, v, 1);
}

/* ---- groups ---- */

static void gb_grow_groups(struct gb *g, int64_t need)
{
	if (need <= g->gcap)
		return;
	int64_t old = g->gcap, cap = old ? old : 64;
	while (cap < need)
		cap *= 2;
	size_t c = (size_t)cap;
	g->ghash = xrealloc(g->ghash, c * 8);
	for (int k = 0; k < g->n_keys; k++)
		g->kenc[k] = xrealloc(g->kenc[k], (c + 1) * 8);
	for (int i = 0; i < g->n_aggs; i++) {
		struct agg *a = &g->aggs[i];
		for (int j = 0; j < a->n_arr; j++) {
			uint64_t *p = xrealloc(a->arr[j], c * 8), v = st_init(a->kind, j);
			for (int64_t x = old; x < cap; x++)
				p[x] = v;
			a->arr[j] = p;
		}
		if (a->kind == ST_MINMAX_S || a->kind == ST_FL_S) {
			a->sv = xrealloc(a->sv, c * sizeof *a->sv);
			memset(a->sv + old, 0, (c - (size_t)old) * sizeof *a->sv);
		}
		if (a->kind == ST_QUANT && a->share == i) {
			a->qs = xrealloc(a->qs, c * sizeof *a->qs);
			memset(a->qs + old, 0, (c - (size_t)old) * sizeof *a->qs);
			for (size_t x = (size_t)old; x < c && g->qs_k < QSK_K; x++)
				a->qs[x].k = g->qs_k; /* new groups start at the capacity the others were cut to */
		}
	}
	g->gcap = cap;
}

static void gb_rehash(struct gb *g, size_t cap)
{
	free(g->slot);
	g->slot = xmalloc(sizeof *g->slot * cap);
	memset(g->slot, 0xff, sizeof *g->slot * cap);
	g->scap = cap;
	for (int64_t i = 0; i < g->n_groups; i++) {
		size_t s = g->ghash[i] & (cap - 1);
		while (g->slot[s] >= 0)
			s = (s + 1) & (cap - 1);
		g->slot[s] = (int32_t)i;
	}
}

/* A new group with the keys of row @i of @kv. */
static int32_t gb_add_group(struct gb *g, const struct kview *kv, int64_t i, uint64_t h)
{
	int64_t id = g->n_groups;
	gb_grow_groups(g, id + 1);
	g->ghash[id] = h;
	for (int k = 0; k < g->n_keys; k++) {
		if (g->ktype[k] != COL_STRING) {
			g->kenc[k][id] = kv[k].enc[i];
			continue;
		}
		uint64_t *off = g->kenc[k];
		size_t n = (size_t)(kv[k].soff[i + 1] - kv[k].soff[i]);
		if (id == 0)
			off[0] = 0;
		if (g->kblen[k] + n > g->kbcap[k]) {
			size_t c = g->kbcap[k] ? g->kbcap[k] : 1024;
			while (c < g->kblen[k] + n)
				c *= 2;
			g->kbytes[k] = xrealloc(g->kbytes[k], c);
			g->kbcap[k] = c;
		}
		if (n)
			memcpy(g->kbytes[k] + g->kblen[k], kv[k].sbase + kv[k].soff[i], n);
		g->kblen[k] += n;
		off[id + 1] = g->kblen[k];
	}
	g->n_groups = id + 1;
	return (int32_t)id;
}

static inline bool gb_key_eq(const struct gb *g, int32_t id, const struct kview *kv, int64_t i)
{
	for (int k = 0; k < g->n_keys; k++) {
		if (g->ktype[k] == COL_STRING) {
			const uint64_t *go = g->kenc[k];
			uint64_t gl = go[id + 1] - go[id];
			if (gl != kv[k].soff[i + 1] - kv[k].soff[i] ||
			    memcmp(g->kbytes[k] + go[id], kv[k].sbase + kv[k].soff[i], (size_t)gl) != 0)
				return false;
		} else if (g->kenc[k][id] != kv[k].enc[i]) {
			return false;
		}
	}
	return true;
}

/* Group ids of @n rows of @kv with hashes @h (-1 where @drop). */
static void gb_lookup(struct gb *g, const struct kview *kv, int64_t n, const uint64_t *h, const uint8_t *drop,
		      int32_t *gid)
{
	bool one_str = g->n_keys == 1 && g->ktype[0] == COL_STRING;
	for (int64_t i = 0; i < n; i++) {
		if (drop && drop[i]) {
			gid[i] = -1;
			continue;
		}
		if ((size_t)(g->n_groups + 1) * 2 > g->scap)
			gb_rehash(g, g->scap * 2);
		size_t mask = g->scap - 1, s = h[i] & mask;
		const int32_t *slot = g->slot;
		const uint64_t *gh = g->ghash;
		int32_t id;
		if (one_str) {
			const uint64_t *go = g->kenc[0], *ro = kv[0].soff;
			const char *gb = g->kbytes[0], *rb = kv[0].sbase;
			size_t rl = (size_t)(ro[i + 1] - ro[i]);
			for (;;) {
				id = slot[s];
				if (id < 0 || (gh[id] == h[i] && go[id + 1] - go[id] == rl &&
					       memcmp(gb + go[id], rb + ro[i], rl) == 0))
					break;
				s = (s + 1) & mask;
			}
		} else {
			for (;;) {
				id = slot[s];
				if (id < 0 || (gh[id] == h[i] && gb_key_eq(g, id, kv, i)))
					break;
				s = (s + 1) & mask;
			}
		}
		if (id < 0) {
			id = gb_add_group(g, kv, i, h[i]);
			g->slot[s] = id;
		}
		gid[i] = id;
	}
}

static uint64_t gb_signature(const struct gb *g)
{
	uint64_t h = hash_word((uint64_t)g->n_keys << 32 | (uint64_t)g->n_aggs);
	for (int k = 0; k < g->n_keys; k++)
		h = hash_combine(h, hash_word((uint64_t)g->ktype[k]));
	for (int i = 0; i < g->n_aggs; i++) {
		const struct agg *a = &g->aggs[i];
		h = hash_combine(h, hash_word((uint64_t)a->spec.fn << 40 | (uint64_t)a->in << 32 |
					      (uint64_t)(uint32_t)a->spec.ddof));
		if (a->kind == ST_QUANT)
			h = hash_combine(h, hash_word(f2bits(a->spec.q) ^ (uint64_t)a->share << 1));
	}
	return h;
}

struct gb *gb_new(int n_keys, const enum col_type *key_types, const char *const *key_names, int n_aggs,
		  const struct agg_spec *aggs, int n_vals, const enum col_type *val_types)
{
	struct gb *g = xcalloc(1, sizeof *g);
	g->n_keys = n_keys;
	g->n_aggs = n_aggs;
	g->n_vals = n_vals;
	g->ktype = xcalloc((size_t)n_keys + 1, sizeof *g->ktype);
	if (n_keys)
		memcpy(g->ktype, key_types, sizeof *g->ktype * (size_t)n_keys);
	g->knames = key_names;
	g->vtype = xcalloc((size_t)n_vals + 1, sizeof *g->vtype);
	if (n_vals)
		memcpy(g->vtype, val_types, sizeof *g->vtype * (size_t)n_vals);
	g->aggs = xcalloc((size_t)n_aggs + 1, sizeof *g->aggs);
	for (int i = 0; i < n_aggs; i++) {
		struct agg *a = &g->aggs[i];
		a->spec = aggs[i];
		bool has_col = aggs[i].col >= 0 && aggs[i].col < n_vals;
		a->in = aggs[i].fn == AGG_SIZE || !has_col ? COL_INT64 : val_types[aggs[i].col];
		a->out = aggs[i].fn == AGG_SIZE ? COL_INT64 : has_col ? agg_result_type(aggs[i].fn, a->in) : -1;
		a->kind = st_kind_of(aggs[i].fn, a->in, a->out);
		a->hi = aggs[i].fn == AGG_MAX || aggs[i].fn == AGG_LAST;
		a->n_arr = st_n_arr[a->kind];
		a->share = i;
		for (int j = 0; j < i && (a->kind == ST_QUANT || a->kind == ST_TOP); j++)
			if (g->aggs[j].kind == a->kind && g->aggs[j].spec.col == a->spec.col) {
				a->share = j;
				break;
			}
		a->set.counted = a->kind == ST_TOP && a->share == i;
	}
	g->kenc = xcalloc((size_t)n_keys + 1, sizeof *g->kenc);
	g->kbytes = xcalloc((size_t)n_keys + 1, sizeof *g->kbytes);
	g->kblen = xcalloc((size_t)n_keys + 1, sizeof *g->kblen);
	g->kbcap = xcalloc((size_t)n_keys + 1, sizeof *g->kbcap);
	g->h = xmalloc(GB_CHUNK * sizeof *g->h);
	g->gid = xcalloc(GB_CHUNK, sizeof *g->gid); /* all 0: the one group without keys */
	g->drop = xmalloc(GB_CHUNK);
	g->enc = xmalloc(GB_CHUNK * sizeof *g->enc * (size_t)(n_keys ? n_keys : 1));
	g->si = xmalloc(GB_CHUNK * sizeof *g->si);
	g->sf = xmalloc(GB_CHUNK * sizeof *g->sf);
	g->qs_k = QSK_K;
	for (int i = 0; i < n_aggs; i++)
		g->n_qs += g->aggs[i].kind == ST_QUANT && g->aggs[i].share == i;
	gb_grow_groups(g, 64);
	gb_rehash(g, 128);
	g->sig = gb_signature(g);
	if (n_keys == 0) {
		g->n_groups = 1;
		g->ghash[0] = 0;
	}
	return g;
}

void gb_free(struct gb *g)
{
	if (!g)
		return;
	for (int i = 0; i < g->n_aggs; i++) {
		struct agg *a = &g->aggs[i];
		for (int j = 0; j < a->n_arr; j++)
			free(a->arr[j]);
		if (a->sv)
			for (int64_t x = 0; x < g->gcap; x++)
				free(a->sv[x].p);
		free(a->sv);
		free(a->set.g);
		free(a->set.v);
		free(a->set.cnt);
		strtab_free(&a->strs);
		if (a->qs)
			for (int64_t x = 0; x < g->gcap; x++)
				qsk_release(&a->qs[x]);
		free(a->qs);
	}
	for (int k = 0; k < g->n_keys; k++) {
		free(g->kenc[k]);
		free(g->kbytes[k]);
	}
	free(g->kenc);
	free(g->kbytes);
	free(g->kblen);
	free(g->kbcap);
	free(g->ktype);
	free(g->vtype);
	free(g->aggs);
	free(g->ghash);
	free(g->slot);
	free(g->h);
	free(g->gid);
	free(g->drop);
	free(g->enc);
	free(g->si);
	free(g->sf);
	free(g);
}

int64_t gb_n_groups(const struct gb *g)
{
	return g->n_groups;
}

/* ---- update ---- */

/* Values of rows [c0, c0 + m) of @c as int64 (int64, bool, date). */
static const int64_t *as_i64(const struct column *c, int64_t c0, int64_t m, int64_t *scratch)
{
	switch (c->type) {
	case COL_INT64: return c->i + c0;
	case COL_BOOL:
		for (int64_t i = 0; i < m; i++)
			scratch[i] = c->b[c0 + i] != 0;
		return scratch;
	case COL_DATE:
		for (int64_t i = 0; i < m; i++)
			scratch[i] = c->d[c0 + i];
		return scratch;
	case COL_FLOAT64:
		memcpy(scratch, c->f + c0, (size_t)m * 8); /* the bits */
		return scratch;
	default: return NULL;
	}
}

/* ... as double (float64, int64, bool). */
static const double *as_f64(const struct column *c, int64_t c0, int64_t m, double *scratch)
{
	switch (c->type) {
	case COL_FLOAT64: return c->f + c0;
	case COL_INT64:
		for (int64_t i = 0; i < m; i++)
			scratch[i] = (double)c->i[c0 + i];
		return scratch;
	case COL_BOOL:
		for (int64_t i = 0; i < m; i++)
			scratch[i] = c->b[c0 + i] != 0;
		return scratch;
	default:
		for (int64_t i = 0; i < m; i++)
			scratch[i] = NAN;
		return scratch;
	}
}

/* A number as the word that identifies it for grouping and nunique:
 * -0.0 is 0.0. */
static inline uint64_t canon_f(double v)
{
	return f2bits(v == 0 ? 0.0 : v);
}

/* For each row with a group and a value: BODY, with gi the group and i the row in the chunk. */
#define EACH(COND, ...)                                            \
	for (int64_t i = 0; i < m; i++) {                          \
		int32_t gi = gid[i];                               \
		if (gi < 0 || !(COND))                             \
			continue;                                  \
		__VA_ARGS__;                                       \
	}
#define LOOP_V(...)                                                \
	do {                                                       \
		if (valid) {                                       \
			EACH(valid[i], __VA_ARGS__)                \
		} else {                                           \
			EACH(1, __VA_ARGS__)                       \
		}                                                  \
	} while (0)
/* Floats: a NaN is missing too. */
#define LOOP_F(x, ...)                                             \
	do {                                                       \
		if (valid) {                                       \
			EACH(valid[i] && (x)[i] == (x)[i], __VA_ARGS__) \
		} else {                                           \
			EACH((x)[i] == (x)[i], __VA_ARGS__)        \
		}                                                  \
	} while (0)

static inline void neumaier(double *s, double *c, double x)
{
	double t = *s + x;
	if (fabs(*s) >= fabs(x))
		*c += (*s - t) + x;
	else
		*c += (x - t) + *s;
	*s = t;
}

static void agg_update(struct gb *g, struct agg *a, const struct column *c, int64_t c0, int64_t m, int64_t rb)
{
	const int32_t *gid = g->gid;
	const uint8_t *valid = c && c->valid ? c->valid + c0 : NULL;
	bool isf = c && c->type == COL_FLOAT64;
	switch (a->kind) {
	case ST_NONE:
		break;
	case ST_SIZE: {
		int64_t *n = a->arr[0];
		EACH(1, n[gi]++)
		break;
	}
	case ST_COUNT: {
		int64_t *n = a->arr[0];
		if (isf) {
			const double *x = c->f + c0;
			LOOP_F(x, n[gi]++);
		} else {
			LOOP_V(n[gi]++);
		}
		break;
	}
	case ST_SUM_I: {
		uint64_t *s = a->arr[0];
		const int64_t *x = as_i64(c, c0, m, g->si);
		LOOP_V(s[gi] += (uint64_t)x[i]);
		break;
	}
	case ST_SUM_F: {
		double *s = a->arr[0], *cc = a->arr[1];
		const double *x = c->f + c0;
		LOOP_F(x, neumaier(&s[gi], &cc[gi], x[i]));
		break;
	}
	case ST_MEAN_I: {
		uint64_t *lo = a->arr[0], *hi = a->arr[1];
		int64_t *n = a->arr[2];
		const int64_t *x = as_i64(c, c0, m, g->si);
		LOOP_V(uint64_t o = lo[gi]; lo[gi] += (uint64_t)x[i];
		       hi[gi] += (x[i] < 0 ? UINT64_MAX : 0) + (lo[gi] < o); n[gi]++);
		break;
	}
	case ST_MEAN_F: {
		double *s = a->arr[0], *cc = a->arr[1];
		int64_t *n = a->arr[2];
		const double *x = c->f + c0;
		LOOP_F(x, neumaier(&s[gi], &cc[gi], x[i]); n[gi]++);
		break;
	}
	case ST_MINMAX_I: {
		int64_t *v = a->arr[0], *has = a->arr[1];
		const int64_t *x = as_i64(c, c0, m, g->si);
		if (a->hi)
			LOOP_V(if (!has[gi] || x[i] > v[gi]) { v[gi] = x[i]; has[gi] = 1; });
		else
			LOOP_V(if (!has[gi] || x[i] < v[gi]) { v[gi] = x[i]; has[gi] = 1; });
		break;
	}
	case ST_MINMAX_F: {
		double *v = a->arr[0];
		const double *x = c->f + c0;
		if (a->hi)
			LOOP_F(x, if (!(v[gi] >= x[i])) v[gi] = x[i]);
		else
			LOOP_F(x, if (!(v[gi] <= x[i])) v[gi] = x[i]);
		break;
	}
	case ST_MINMAX_S: {
		int64_t *has = a->arr[0];
		struct sval *sv = a->sv;
		const uint64_t *off = c->soff + c0;
		const char *base = c->sdata;
		LOOP_V(const char *p = base + off[i]; size_t n = (size_t)(off[i + 1] - off[i]);
		       if (!has[gi] || (a->hi ? bytes_cmp(p, n, sv[gi].p, sv[gi].len) > 0
					     : bytes_cmp(p, n, sv[gi].p, sv[gi].len) < 0)) {
			       sval_set(&sv[gi], p, n);
			       has[gi] = 1;
		       });
		break;
	}
	case ST_FL: {
		int64_t *row = a->arr[0], *v = a->arr[1];
		const int64_t *x = as_i64(c, c0, m, g->si);
		const double *xf = isf ? c->f + c0 : NULL;
		if (isf && a->hi)
			LOOP_F(xf, if (rb + i > row[gi]) { row[gi] = rb + i; v[gi] = x[i]; });
		else if (isf)
			LOOP_F(xf, if (row[gi] < 0 || rb + i < row[gi]) { row[gi] = rb + i; v[gi] = x[i]; });
		else if (a->hi)
			LOOP_V(if (rb + i > row[gi]) { row[gi] = rb + i; v[gi] = x[i]; });
		else
			LOOP_V(if (row[gi] < 0 || rb + i < row[gi]) { row[gi] = rb + i; v[gi] = x[i]; });
		break;
	}
	case ST_FL_S: {
		int64_t *row = a->arr[0];
		struct sval *sv = a->sv;
		const uint64_t *off = c->soff + c0;
		const char *base = c->sdata;
		LOOP_V(int64_t r = rb + i;
		       if (a->hi ? r > row[gi] : (row[gi] < 0 || r < row[gi])) {
			       row[gi] = r;
			       sval_set(&sv[gi], base + off[i], (size_t)(off[i + 1] - off[i]));
		       });
		break;
	}
	case ST_MOM: {
		double *n = a->arr[0], *mean = a->arr[1], *m2 = a->arr[2];
		const double *x = as_f64(c, c0, m, g->sf);
		LOOP_F(x, double nn = n[gi] + 1, d = x[i] - mean[gi]; mean[gi] += d / nn;
		       m2[gi] += d * (x[i] - mean[gi]); n[gi] = nn);
		break;
	}
	case ST_NUNIQUE:
	case ST_TOP: {
		/* the distinct (group, value) pairs: nunique counts them per group, top counts each pair */
		if (a->kind == ST_TOP && !a->set.counted)
			break; /* another agg of this column keeps the counts */
		int64_t *cnt = a->kind == ST_NUNIQUE ? a->arr[0] : NULL;
		if (c->type == COL_STRING) {
			const uint64_t *off = c->soff + c0;
			const char *base = c->sdata;
			LOOP_V(uint64_t id = strtab_intern(&a->strs, base + off[i], (size_t)(off[i + 1] - off[i]));
			       bool added = pairset_add(&a->set, gi, id); if (cnt) cnt[gi] += added);
		} else if (isf) {
			const double *x = c->f + c0;
			LOOP_F(x, bool added = pairset_add(&a->set, gi, canon_f(x[i])); if (cnt) cnt[gi] += added);
		} else {
			const int64_t *x = as_i64(c, c0, m, g->si);
			LOOP_V(bool added = pairset_add(&a->set, gi, (uint64_t)x[i]); if (cnt) cnt[gi] += added);
		}
		break;
	}
	case ST_QUANT: {
		struct qsketch *qs = a->qs;
		if (!qs)
			break; /* another agg of this column keeps the sketch */
		const double *x = as_f64(c, c0, m, g->sf);
		LOOP_F(x, if (!qs[gi].n) qsk_seed(&qs[gi], hash_word((uint64_t)(rb + i)));
		       qsk_add(&qs[gi], x[i]));
		break;
	}
	default:
		break;
	}
}

/*
 * Keeps the sketches within qs_budget: n_groups * n_qs sketches of at most
 * qsk_bound_bytes(k) each; k is halved (every sketch compacted to it, its
 * spare room given back) until that fits, down to QSK_K_MIN. O(1) unless k
 * changes, which happens at most three times.
 */
static void gb_fit_sketches(struct gb *g)
{
	if (!g->qs_budget || !g->n_qs)
		return;
	uint64_t n = (uint64_t)g->n_groups * (uint64_t)g->n_qs;
	uint32_t k = g->qs_k;
	while (k > QSK_K_MIN && n * qsk_bound_bytes(k) > g->qs_budget)
		k /= 2;
	if (k == g->qs_k)
		return;
	g->qs_k = k;
	for (int i = 0; i < g->n_aggs; i++) {
		struct agg *a = &g->aggs[i];
		if (a->kind != ST_QUANT || a->share != i)
			continue;
		for (int64_t x = 0; x < g->gcap; x++)
			qsk_set_k(&a->qs[x], k);
	}
}

void gb_set_sketch_budget(struct gb *g, uint64_t bytes)
{
	g->qs_budget = bytes;
	gb_fit_sketches(g);
}

void gb_update(struct gb *g, const struct column *keys, const struct column *vals, int64_t n, int64_t row_base)
{
	struct kview kv[g->n_keys ? g->n_keys : 1];
	for (int64_t c0 = 0; c0 < n; c0 += GB_CHUNK) {
		int64_t m = n - c0 < GB_CHUNK ? n - c0 : GB_CHUNK;
		if (g->n_keys) {
			bool any_drop = false;
			uint64_t *h = g->h;
			for (int k = 0; k < g->n_keys; k++) {
				const struct column *c = &keys[k];
				if (c->valid) {
					if (!any_drop)
						memset(g->drop, 0, (size_t)m);
					any_drop = true;
					for (int64_t i = 0; i < m; i++)
						g->drop[i] |= !c->valid[c0 + i];
				}
				if (g->ktype[k] == COL_STRING) {
					const uint64_t *off = c->soff + c0;
					kv[k] = (struct kview){ NULL, c->sdata, off };
					for (int64_t i = 0; i < m; i++) {
						uint64_t x = hash_bytes(c->sdata + off[i], (size_t)(off[i + 1] - off[i]));
						h[i] = k ? hash_combine(h[i], x) : x;
					}
					continue;
				}
				uint64_t *enc = g->enc + (size_t)k * GB_CHUNK;
				switch (g->ktype[k]) {
				case COL_INT64:
					for (int64_t i = 0; i < m; i++)
						enc[i] = (uint64_t)c->i[c0 + i];
					break;
				case COL_BOOL:
					for (int64_t i = 0; i < m; i++)
						enc[i] = c->b[c0 + i] != 0;
					break;
				case COL_DATE:
					for (int64_t i = 0; i < m; i++)
						enc[i] = (uint64_t)(int64_t)c->d[c0 + i];
					break;
				default:
					for (int64_t i = 0; i < m; i++) {
						double v = c->f[c0 + i];
						enc[i] = canon_f(v);
						if (v != v) {
							if (!any_drop)
								memset(g->drop, 0, (size_t)m);
							any_drop = true;
							g->drop[i] = 1;
						}
					}
					break;
				}
				kv[k] = (struct kview){ enc, NULL, NULL };
				for (int64_t i = 0; i < m; i++) {
					uint64_t x = hash_word(enc[i]);
					h[i] = k ? hash_combine(h[i], x) : x;
				}
			}
			gb_lookup(g, kv, m, h, any_drop ? g->drop : NULL, g->gid);
		}
		for (int i = 0; i < g->n_aggs; i++) {
			struct agg *a = &g->aggs[i];
			const struct column *c = a->kind == ST_SIZE || a->kind == ST_NONE ? NULL : &vals[a->spec.col];
			agg_update(g, a, c, c0, m, row_base + c0);
		}
		gb_fit_sketches(g);
	}
}

/* ---- partials as bytes ---- */

static bool st_has_sv(enum st_kind k)
{
	return k == ST_MINMAX_S || k == ST_FL_S;
}

/* @n + 1 offsets from 0 and the bytes they delimit. */
static void put_strings(struct buf *out, size_t base, const uint64_t *off, const char *bytes, size_t n)
{
	for (size_t i = 0; i <= n; i++)
		put_w(out, n ? off[i] - off[0] : 0);
	size_t total = n ? (size_t)(off[n] - off[0]) : 0;
	put_block(out, base, total ? bytes + off[0] : "", total);
}

void gb_serialize(const struct gb *g, struct buf *out)
{
	size_t base = out->len, n = (size_t)g->n_groups;
	put_w(out, GB_MAGIC);
	put_w(out, g->sig);
	put_w(out, n);
	for (int k = 0; k < g->n_keys; k++) {
		if (g->ktype[k] == COL_STRING)
			put_strings(out, base, g->kenc[k], g->kbytes[k], n);
		else
			put_block(out, base, g->kenc[k], n * 8);
	}
	for (int i = 0; i < g->n_aggs; i++) {
		const struct agg *a = &g->aggs[i];
		put_w(out, (uint64_t)a->kind);
		for (int j = 0; j < a->n_arr; j++)
			put_block(out, base, a->arr[j], n * 8);
		if (st_has_sv(a->kind)) {
			uint64_t o = 0;
			for (size_t x = 0; x < n; x++) {
				put_w(out, o);
				o += a->sv[x].len;
			}
			put_w(out, o);
			for (size_t x = 0; x < n; x++)
				if (a->sv[x].len)
					buf_append(out, a->sv[x].p, a->sv[x].len);
			put_block(out, base, "", 0);
		}
		if (a->kind == ST_NUNIQUE || a->set.counted) {
			if (a->in == COL_STRING) {
				put_w(out, a->strs.n);
				put_strings(out, base, a->strs.off, a->strs.bytes, a->strs.n);
			}
			put_w(out, a->set.n);
			for (size_t x = 0; x < a->set.cap; x++)
				if (a->set.g[x] >= 0)
					put_w(out, (uint64_t)a->set.g[x]);
			for (size_t x = 0; x < a->set.cap; x++)
				if (a->set.g[x] >= 0)
					put_w(out, a->set.v[x]);
			for (size_t x = 0; x < a->set.cap && a->set.counted; x++)
				if (a->set.g[x] >= 0)
					put_w(out, a->set.cnt[x]);
		}
		if (a->qs)
			for (size_t x = 0; x < n; x++)
				qsk_serialize(&a->qs[x], out);
	}
}

/* A parsed string block: n + 1 checked offsets (unaligned words) and bytes. */
struct pstr {
	const unsigned char *off;
	const char *bytes;
};

static bool rd_strings(struct rd *r, uint64_t n, struct pstr *s)
{
	s->off = rd_block(r, n + 1, 8);
	if (!s->off)
		return false;
	uint64_t prev = hash_ld64(s->off);
	if (prev != 0)
		return r->bad = true, false;
	for (uint64_t i = 1; i <= n; i++) {
		uint64_t o = hash_ld64(s->off + 8 * i);
		if (o < prev)
			return r->bad = true, false;
		prev = o;
	}
	s->bytes = (const char *)rd_block(r, prev, 1);
	return s->bytes != NULL;
}

struct pagg {
	const unsigned char *arr[3];
	struct pstr sv, strs;
	uint64_t n_strs, n_pairs;
	const unsigned char *pg, *pv, *pc; /* pc: ST_TOP's counts */
	const unsigned char **qs; /* ST_QUANT owner: where each group's sketch starts (xmalloc'ed) */
};

int gb_merge(struct gb *g, const void *bytes, size_t len, struct err *e)
{
	struct rd r = { bytes, len, 0, false };
	if (rd_w(&r) != GB_MAGIC)
		return err_run(e, NULL, "corrupt partial aggregate: bad magic number");
	if (rd_w(&r) != g->sig)
		return err_run(e, NULL, "corrupt partial aggregate: made for other keys or aggregates");
	uint64_t n = rd_w(&r);
	if (r.bad || n > len || n > INT32_MAX || (g->n_keys == 0 && n != 1))
		return err_run(e, NULL, "corrupt partial aggregate: bad group count");
	int nk = g->n_keys ? g->n_keys : 1;
	struct pstr ks[nk];
	const unsigned char *kw[nk];
	struct pagg pa[g->n_aggs ? g->n_aggs : 1];
	memset(pa, 0, sizeof pa);
	for (int k = 0; k < g->n_keys && !r.bad; k++) {
		if (g->ktype[k] == COL_STRING)
			rd_strings(&r, n, &ks[k]);
		else
			kw[k] = rd_block(&r, n, 8);
	}
	for (int i = 0; i < g->n_aggs && !r.bad; i++) {
		struct agg *a = &g->aggs[i];
		struct pagg *p = &pa[i];
		if (rd_w(&r) != (uint64_t)a->kind) {
			r.bad = true;
			break;
		}
		for (int j = 0; j < a->n_arr; j++)
			p->arr[j] = rd_block(&r, n, 8);
		if (st_has_sv(a->kind))
			rd_strings(&r, n, &p->sv);
		if (a->kind == ST_NUNIQUE || a->set.counted) {
			if (a->in == COL_STRING) {
				p->n_strs = rd_w(&r);
				if (p->n_strs > len)
					r.bad = true;
				else
					rd_strings(&r, p->n_strs, &p->strs);
			}
			p->n_pairs = rd_w(&r);
			p->pg = rd_block(&r, p->n_pairs, 8);
			p->pv = rd_block(&r, p->n_pairs, 8);
			if (a->set.counted)
				p->pc = rd_block(&r, p->n_pairs, 8);
			for (uint64_t x = 0; x < p->n_pairs && !r.bad; x++)
				if (hash_ld64(p->pg + 8 * x) >= n ||
				    (a->in == COL_STRING && hash_ld64(p->pv + 8 * x) >= p->n_strs))
					r.bad = true;
		}
		if (a->qs) {
			p->qs = xmalloc(sizeof *p->qs * (n ? n : 1));
			for (uint64_t x = 0; x < n && !r.bad; x++) {
				size_t used = qsk_check(r.p + r.pos, r.len - r.pos);
				p->qs[x] = r.p + r.pos;
				r.pos += used;
				r.bad = used == 0;
			}
		}
	}
	if (r.bad || r.pos != len) {
		for (int i = 0; i < g->n_aggs; i++)
			free(pa[i].qs);
		return err_run(e, NULL, "corrupt partial aggregate: truncated or malformed bytes");
	}

	/* Their groups onto ours. */
	int32_t *gmap = xmalloc(sizeof *gmap * (n ? n : 1));
	if (g->n_keys == 0) {
		gmap[0] = 0;
	} else {
		struct kview kv[nk];
		uint64_t *tmp = xmalloc(sizeof *tmp * (n + 1) * (size_t)nk), *h = xmalloc(sizeof *h * (n ? n : 1));
		for (int k = 0; k < g->n_keys; k++) {
			uint64_t *t = tmp + (size_t)k * (n + 1);
			if (g->ktype[k] == COL_STRING) {
				memcpy(t, ks[k].off, (n + 1) * 8);
				kv[k] = (struct kview){ NULL, ks[k].bytes, t };
				for (uint64_t x = 0; x < n; x++) {
					uint64_t hx = hash_bytes(ks[k].bytes + t[x], (size_t)(t[x + 1] - t[x]));
					h[x] = k ? hash_combine(h[x], hx) : hx;
				}
			} else {
				memcpy(t, kw[k], n * 8);
				kv[k] = (struct kview){ t, NULL, NULL };
				for (uint64_t x = 0; x < n; x++)
					h[x] = k ? hash_combine(h[x], hash_word(t[x])) : hash_word(t[x]);
			}
		}
		gb_lookup(g, kv, (int64_t)n, h, NULL, gmap);
		free(tmp);
		free(h);
	}

	for (int i = 0; i < g->n_aggs; i++) {
		struct agg *a = &g->aggs[i];
		struct pagg *p = &pa[i];
#define IN(j, x) hash_ld64(p->arr[j] + 8 * (x))
#define INF(j, x) bits2f(IN(j, x))
		for (uint64_t x = 0; x < n && a->kind != ST_NUNIQUE && a->kind != ST_TOP; x++) {
			int32_t gi = gmap[x];
			switch (a->kind) {
			case ST_QUANT:
				if (p->qs)
					qsk_merge_bytes(&a->qs[gi], p->qs[x]);
				break;
			case ST_SUM_I:
			case ST_COUNT:
			case ST_SIZE:
				((uint64_t *)a->arr[0])[gi] += IN(0, x);
				break;
			case ST_SUM_F:
			case ST_MEAN_F: {
				double *s = a->arr[0], *c = a->arr[1];
				neumaier(&s[gi], &c[gi], INF(0, x));
				c[gi] += INF(1, x);
				if (a->kind == ST_MEAN_F)
					((uint64_t *)a->arr[2])[gi] += IN(2, x);
				break;
			}
			case ST_MEAN_I: {
				uint64_t *lo = a->arr[0], *hi = a->arr[1], *cnt = a->arr[2], o = lo[gi];
				lo[gi] += IN(0, x);
				hi[gi] += IN(1, x) + (lo[gi] < o);
				cnt[gi] += IN(2, x);
				break;
			}
			case ST_MINMAX_I: {
				int64_t *v = a->arr[0], *has = a->arr[1], xv = (int64_t)IN(0, x);
				if (IN(1, x) && (!has[gi] || (a->hi ? xv > v[gi] : xv < v[gi]))) {
					v[gi] = xv;
					has[gi] = 1;
				}
				break;
			}
			case ST_MINMAX_F: {
				double *v = a->arr[0], xv = INF(0, x);
				if (xv == xv && (a->hi ? !(v[gi] >= xv) : !(v[gi] <= xv)))
					v[gi] = xv;
				break;
			}
			case ST_MINMAX_S: {
				int64_t *has = a->arr[0];
				uint64_t o = hash_ld64(p->sv.off + 8 * x), on = hash_ld64(p->sv.off + 8 * x + 8);
				const char *s = p->sv.bytes + o;
				size_t sl = (size_t)(on - o);
				struct sval *sv = &a->sv[gi];
				if (IN(0, x) && (!has[gi] || (a->hi ? bytes_cmp(s, sl, sv->p, sv->len) > 0
								   : bytes_cmp(s, sl, sv->p, sv->len) < 0))) {
					sval_set(sv, s, sl);
					has[gi] = 1;
				}
				break;
			}
			case ST_FL:
			case ST_FL_S: {
				int64_t *row = a->arr[0], xr = (int64_t)IN(0, x);
				if (xr < 0 || (a->hi ? xr <= row[gi] : (row[gi] >= 0 && xr >= row[gi])))
					break;
				row[gi] = xr;
				if (a->kind == ST_FL) {
					((uint64_t *)a->arr[1])[gi] = IN(1, x);
				} else {
					uint64_t o = hash_ld64(p->sv.off + 8 * x), on = hash_ld64(p->sv.off + 8 * x + 8);
					sval_set(&a->sv[gi], p->sv.bytes + o, (size_t)(on - o));
				}
				break;
			}
			case ST_MOM: {
				double *cn = a->arr[0], *mean = a->arr[1], *m2 = a->arr[2];
				struct k_moments m = { cn[gi], mean[gi], m2[gi] };
				struct k_moments b = { INF(0, x), INF(1, x), INF(2, x) };
				k_moments_merge(&m, &b);
				cn[gi] = m.n;
				mean[gi] = m.mean;
				m2[gi] = m.m2;
				break;
			}
			default:
				break;
			}
		}
#undef IN
#undef INF
		if (a->kind == ST_NUNIQUE || a->set.counted) {
			int64_t *cnt = a->arr[0];
			uint64_t *smap = NULL;
			if (a->in == COL_STRING) {
				smap = xmalloc(sizeof *smap * (p->n_strs ? p->n_strs : 1));
				for (uint64_t x = 0; x < p->n_strs; x++) {
					uint64_t o = hash_ld64(p->strs.off + 8 * x), on = hash_ld64(p->strs.off + 8 * x + 8);
					smap[x] = strtab_intern(&a->strs, p->strs.bytes + o, (size_t)(on - o));
				}
			}
			for (uint64_t x = 0; x < p->n_pairs; x++) {
				int32_t gi = gmap[hash_ld64(p->pg + 8 * x)];
				uint64_t v = hash_ld64(p->pv + 8 * x);
				if (a->set.counted)
					pairset_add_n(&a->set, gi, smap ? smap[v] : v, hash_ld64(p->pc + 8 * x));
				else
					cnt[gi] += pairset_add(&a->set, gi, smap ? smap[v] : v);
			}
			free(smap);
		}
		free(p->qs);
	}
	free(gmap);
	gb_fit_sketches(g);
	return 0;
}

/* ---- finishing ---- */

static int gb_cmp_groups(const void *pa, const void *pb, void *ctx)
{
	const struct gb *g = ctx;
	int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
	for (int k = 0; k < g->n_keys; k++) {
		const uint64_t *e = g->kenc[k];
		int c = 0;
		switch (g->ktype[k]) {
		case COL_STRING:
			c = bytes_cmp(g->kbytes[k] + e[a], (size_t)(e[a + 1] - e[a]), g->kbytes[k] + e[b],
				      (size_t)(e[b + 1] - e[b]));
			break;
		case COL_FLOAT64: {
			double x = bits2f(e[a]), y = bits2f(e[b]);
			c = (x > y) - (x < y);
			break;
		}
		default: {
			int64_t x = (int64_t)e[a], y = (int64_t)e[b];
			c = (x > y) - (x < y);
			break;
		}
		}
		if (c)
			return c;
	}
	return (a > b) - (a < b);
}

/* Sets a column's storage for @type and @n rows in @a (valid: all 1). */
static void col_alloc(struct arena *a, struct column *c, enum col_type type, int64_t n)
{
	size_t nn = (size_t)n;
	c->type = type;
	c->n = n;
	c->valid = arena_alloc(a, nn + 1);
	memset(c->valid, 1, nn);
	switch (type) {
	case COL_INT64: c->i = arena_alloc(a, nn * 8 + 8); break;
	case COL_FLOAT64: c->f = arena_alloc(a, nn * 8 + 8); break;
	case COL_BOOL: c->b = arena_alloc(a, nn + 1); break;
	case COL_DATE: c->d = arena_alloc(a, nn * 4 + 4); break;
	default: c->soff = arena_alloc(a, (nn + 1) * 8); break;
	}
}

/* Drops the validity array when nothing is missing; NaN floats are missing. */
static void col_settle(struct column *c)
{
	bool all = true;
	for (int64_t r = 0; r < c->n; r++) {
		if (c->type == COL_FLOAT64 && c->f[r] != c->f[r])
			c->valid[r] = 0;
		if (c->type == COL_FLOAT64 && !c->valid[r])
			c->f[r] = NAN;
		all &= c->valid[r] != 0;
	}
	if (all)
		c->valid = NULL;
}

/* Row r of @c from the word @w (int64, bool, date, float bits). */
static void col_set_word(struct column *c, int64_t r, uint64_t w)
{
	switch (c->type) {
	case COL_INT64: c->i[r] = (int64_t)w; break;
	case COL_FLOAT64: c->f[r] = bits2f(w); break;
	case COL_BOOL: c->b[r] = w != 0; break;
	case COL_DATE: c->d[r] = (int32_t)(int64_t)w; break;
	default: break;
	}
}

/* String column rows from (pointer, length) pairs given by @get. */
static void col_set_strings(struct arena *a, struct column *c, const int32_t *order, int64_t n, const struct sval *sv,
			    const uint64_t *off, const char *bytes)
{
	uint64_t total = 0;
	for (int64_t r = 0; r < n; r++)
		total += sv ? sv[order[r]].len : off[order[r] + 1] - off[order[r]];
	char *d = arena_alloc(a, (size_t)total + 1);
	uint64_t o = 0;
	for (int64_t r = 0; r < n; r++) {
		int32_t x = order[r];
		const char *p = sv ? sv[x].p : bytes + off[x];
		size_t len = sv ? sv[x].len : (size_t)(off[x + 1] - off[x]);
		if (len)
			memcpy(d + o, p, len);
		c->soff[r] = o;
		o += len;
	}
	c->soff[n] = o;
	c->sdata = d;
}

/* Does value @x sort before @y, both of @ag's column as its set holds them? */
static bool top_before(const struct agg *ag, uint64_t x, uint64_t y)
{
	switch (ag->in) {
	case COL_STRING: {
		const struct strtab *t = &ag->strs;
		return bytes_cmp(t->bytes + t->off[x], (size_t)(t->off[x + 1] - t->off[x]), t->bytes + t->off[y],
				 (size_t)(t->off[y + 1] - t->off[y])) < 0;
	}
	case COL_FLOAT64: return bits2f(x) < bits2f(y);
	default: return (int64_t)x < (int64_t)y;
	}
}

/* ST_TOP: each group's most frequent value (ties: the one that sorts first) into @v, its count into @n (0: none). */
static void top_of_groups(const struct agg *own, int64_t n_groups, uint64_t *v, uint64_t *n)
{
	memset(n, 0, sizeof *n * (size_t)n_groups);
	const struct pairset *s = &own->set;
	for (size_t k = 0; k < s->cap; k++) {
		int32_t gi = s->g[k];
		if (gi < 0)
			continue;
		if (s->cnt[k] > n[gi] || (s->cnt[k] == n[gi] && top_before(own, s->v[k], v[gi]))) {
			n[gi] = s->cnt[k];
			v[gi] = s->v[k];
		}
	}
}

void gb_finish(struct gb *g, struct arena *a, bool sorted, struct table *out)
{
	int64_t n = g->n_groups;
	int nc = g->n_keys + g->n_aggs;
	int32_t *order = xmalloc(sizeof *order * (size_t)(n ? n : 1));
	for (int64_t x = 0; x < n; x++)
		order[x] = (int32_t)x;
	if (sorted && g->n_keys)
		qsort_r(order, (size_t)n, sizeof *order, gb_cmp_groups, g);
	out->n_cols = nc;
	out->n_rows = n;
	out->names = arena_alloc(a, sizeof *out->names * (size_t)(nc ? nc : 1));
	out->cols = arena_alloc(a, sizeof *out->cols * (size_t)(nc ? nc : 1));
	for (int k = 0; k < g->n_keys; k++) {
		struct column *c = &out->cols[k];
		out->names[k] = arena_strdup(a, g->knames && g->knames[k] ? g->knames[k] : "");
		col_alloc(a, c, g->ktype[k], n);
		if (g->ktype[k] == COL_STRING)
			col_set_strings(a, c, order, n, NULL, g->kenc[k], g->kbytes[k]);
		else
			for (int64_t r = 0; r < n; r++)
				col_set_word(c, r, g->kenc[k][order[r]]);
		col_settle(c);
	}
	for (int i = 0; i < g->n_aggs; i++) {
		const struct agg *ag = &g->aggs[i];
		struct column *c = &out->cols[g->n_keys + i];
		out->names[g->n_keys + i] = arena_strdup(a, ag->spec.name ? ag->spec.name : agg_fn_name(ag->spec.fn));
		col_alloc(a, c, ag->out < 0 ? COL_FLOAT64 : (enum col_type)ag->out, n);
		const uint64_t *a0 = ag->arr[0], *a1 = ag->arr[1], *a2 = ag->arr[2];
		if (ag->kind == ST_TOP) {
			const struct agg *own = &g->aggs[ag->share];
			uint64_t *tv = xmalloc(sizeof *tv * (size_t)(n ? n : 1)), *tn = xmalloc(sizeof *tn * (size_t)(n ? n : 1));
			top_of_groups(own, n, tv, tn);
			if (ag->spec.fn == AGG_TOP && ag->in == COL_STRING) {
				struct sval *sv = xcalloc((size_t)(n ? n : 1), sizeof *sv);
				for (int64_t x = 0; x < n; x++)
					if (tn[x])
						sv[x] = (struct sval){ own->strs.bytes + own->strs.off[tv[x]],
								       (size_t)(own->strs.off[tv[x] + 1] - own->strs.off[tv[x]]), 0 };
				col_set_strings(a, c, order, n, sv, NULL, NULL);
				free(sv);
			}
			for (int64_t r = 0; r < n; r++) {
				int32_t x = order[r];
				if (ag->spec.fn == AGG_FREQ)
					c->i[r] = (int64_t)tn[x];
				else if (ag->in != COL_STRING)
					col_set_word(c, r, tn[x] ? tv[x] : 0);
				c->valid[r] = tn[x] != 0;
			}
			free(tv);
			free(tn);
			col_settle(c);
			continue;
		}
		if (ag->kind == ST_MINMAX_S || ag->kind == ST_FL_S) {
			col_set_strings(a, c, order, n, ag->sv, NULL, NULL);
			for (int64_t r = 0; r < n; r++)
				c->valid[r] = ag->kind == ST_MINMAX_S ? a0[order[r]] != 0 : (int64_t)a0[order[r]] >= 0;
			col_settle(c);
			continue;
		}
		for (int64_t r = 0; r < n; r++) {
			int32_t x = order[r];
			switch (ag->kind) {
			case ST_NONE: c->f[r] = NAN; break;
			case ST_SUM_I:
			case ST_COUNT:
			case ST_SIZE:
			case ST_NUNIQUE: c->i[r] = (int64_t)a0[x]; break;
			case ST_SUM_F:
			case ST_MEAN_F: {
				double s = bits2f(a0[x]), comp = bits2f(a1[x]);
				double v = isfinite(s) ? s + comp : s;
				if (ag->kind == ST_MEAN_F)
					v = a2[x] ? v / (double)(int64_t)a2[x] : NAN;
				c->f[r] = v;
				break;
			}
			case ST_MEAN_I: {
				__int128 s = (__int128)(((unsigned __int128)a1[x] << 64) | a0[x]);
				c->f[r] = a2[x] ? (double)s / (double)(int64_t)a2[x] : NAN;
				break;
			}
			case ST_MINMAX_I:
				col_set_word(c, r, a0[x]);
				c->valid[r] = a1[x] != 0;
				break;
			case ST_MINMAX_F: c->f[r] = bits2f(a0[x]); break;
			case ST_FL:
				col_set_word(c, r, a1[x]);
				c->valid[r] = (int64_t)a0[x] >= 0;
				break;
			case ST_QUANT: {
				/* pandas computes a Series' quantiles with numpy, a groupby's with its own loop */
				enum qsk_rule rule = ag->spec.fn == AGG_MEDIAN ? QSK_MEDIAN :
						     g->n_keys ? QSK_GROUPBY : QSK_SERIES;
				c->f[r] = qsk_quantile(&g->aggs[ag->share].qs[x], ag->spec.q, rule);
				break;
			}
			case ST_MOM: {
				double cnt = bits2f(a0[x]), m2 = bits2f(a2[x]), dof = cnt - ag->spec.ddof;
				double v = dof > 0 ? m2 / dof : NAN;
				if (v < 0)
					v = 0;
				c->f[r] = ag->spec.fn == AGG_STD ? sqrt(v) : v;
				break;
			}
			default: break;
			}
		}
		col_settle(c);
	}
	free(order);
}
