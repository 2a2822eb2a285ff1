/* SPDX-License-Identifier: MIT */
/*
 * table: one partition of a dataframe in memory, column by column, and the
 * work done on whole partitions: selecting rows, writing CSV/TSV/JSON lines,
 * hash aggregation by keys (groupby and whole-column reductions), and the
 * byte form a partition or a partial aggregate takes in the store.
 *
 * A column holds typed values and a validity array. A column read from a
 * CSV file and passed through untouched also keeps the text of each field
 * as written (raw), so writing it reproduces the input byte for byte: ZIP
 * codes keep their leading zeros, floats their digits, quotes their quotes.
 *
 * DESIGN: a table and everything it points to live in one arena (a task's),
 * or borrow from memory that outlives it (the CSV block being parsed, a
 * pinned store chunk); nothing is freed piecemeal. Functions never keep
 * pointers to their inputs after returning, except the views documented.
 * All functions may run on any thread at once on different tables.
 */
#ifndef TESSERA_FRAME_TABLE_H
#define TESSERA_FRAME_TABLE_H

#include "io/csv.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct column {
	enum col_type type;
	int64_t n;
	uint8_t *valid;        /* n bytes, 1 = a value, 0 = missing; NULL: no value is missing */
	int64_t *i;            /* COL_INT64 */
	double *f;             /* COL_FLOAT64 (a missing value's slot holds NaN) */
	uint8_t *b;            /* COL_BOOL: 0/1 */
	int32_t *d;            /* COL_DATE: days since 1970-01-01 */
	uint64_t *soff;        /* COL_STRING: n + 1 offsets into sdata (a missing value is empty) */
	const char *sdata;
	/* The text as written in the input (quotes included), or rbase == NULL.
	 * Field r is rbase[rstart[r] .. + rlen[r]); with rlen NULL the fields
	 * lie end to end and rstart has n + 1 entries (column_raw_len()). */
	const char *rbase;
	const uint32_t *rstart, *rlen;
};

struct table {
	int n_cols;
	int64_t n_rows;
	const char **names;    /* n_cols, unique */
	struct column *cols;   /* n_cols */
};

/* column_raw_len() : the length of field @r's text (the column has raw text). */
static inline uint32_t column_raw_len(const struct column *c, int64_t r)
{
	return c->rlen ? c->rlen[r] : c->rstart[r + 1] - c->rstart[r];
}

/* column_is_valid() : whether row @r of @c holds a value. */
static inline bool column_is_valid(const struct column *c, int64_t r) { return !c->valid || c->valid[r]; }
/* column_has_values() : whether @c holds typed values, not only raw text (a column written through
 * untouched is never converted). */
static inline bool column_has_values(const struct column *c)
{
	return c->i || c->f || c->b || c->d || c->soff;
}

/* table_take() : the rows @idx[0..n) of @t (in that order) as a new table in
 * @a; raw text is kept (rstart/rlen gathered, rbase shared), and so are the
 * column names (borrowed from @t). */
void table_take(struct arena *a, const struct table *t, const int64_t *idx, int64_t n, struct table *out);
/* table_filter() : the rows where @mask (n_rows bytes, 0/1) is 1, in order. */
void table_filter(struct arena *a, const struct table *t, const uint8_t *mask, struct table *out);

/* ---- bytes in the store ---- */

/* table_serialize() : appends a self-contained byte form of @t to @out
 * (names, types, validity, values, raw text when present). */
void table_serialize(const struct table *t, struct buf *out);
/* table_serialize_rows() : the byte form table_serialize() gives the table
 * whose row k is row @row[k] of table @ts[@src[k]] (@n_ts tables of one
 * schema; @src NULL: all from ts[0]; @row NULL: every row of ts[0] in
 * order, which is table_serialize()), written straight from the sources, so
 * a sort or a merge never builds its output table. */
void table_serialize_rows(const struct table *ts, int n_ts, const int32_t *src, const int64_t *row, int64_t n,
			  struct buf *out);
/* table_view() : @t over the bytes table_serialize() made (@bytes must stay
 * alive and unchanged while @t is used; only small arrays go into @a).
 * -1 and *e (ERR_RUN) on malformed bytes. */
int table_view(struct arena *a, const void *bytes, size_t len, struct table *t, struct err *e);

/* ---- writing ---- */

enum table_format { TF_CSV, TF_TSV, TF_JSONL };

/*
 * table_write() : appends @t's rows to @out in @fmt, the header first when
 * @header (CSV/TSV). A field with raw text is written as read (CSV output
 * of CSV input; TSV and JSON lines use the value). Other values: int64 in
 * decimal, float64 as the shortest text that reads back to it (numpy's
 * repr: 1.0, 0.1, 1e+20, nan and inf spelled as pandas writes them: empty
 * for missing, "inf", "-inf"), bool True/False, date YYYY-MM-DD, strings
 * quoted (doubled quotes) only when they hold the separator, a quote, \r
 * or \n. Missing values are empty fields (CSV/TSV) or null (JSON). Lines end
 * with "\n".
 */
void table_write(const struct table *t, enum table_format fmt, bool header, struct buf *out);
/* table_write_value() : one value, as table_write() writes it (no raw text), without quoting. */
void table_write_value(const struct column *c, int64_t r, struct buf *out);

/* ---- aggregation ---- */

enum agg_fn {
	AGG_SUM, AGG_MEAN, AGG_MIN, AGG_MAX, AGG_COUNT, AGG_SIZE, AGG_STD, AGG_VAR,
	AGG_FIRST, AGG_LAST, AGG_NUNIQUE, AGG_MEDIAN, AGG_QUANTILE,
	AGG_TOP, AGG_FREQ, /* describe() of text: the most frequent value and its count */
	AGG_NA,            /* describe(include="all"): a statistic a column's kind has not, always missing */
	AGG_N
};
/* agg_fn_name() / agg_fn_parse() : "sum", ... ; parse returns -1 when unknown,
 * and for top and freq, which only describe() asks for. AGG_TOP's ties go to
 * the value that sorts first, the one value_counts() lists first (pandas
 * picks one of them arbitrarily). */
const char *agg_fn_name(enum agg_fn f);
int agg_fn_parse(const char *name);
/* agg_result_type() : pandas' result type of @f over a column of @in
 * (sum: int64 for int64 and bool, float64 for float64; mean/std/var
 * float64; min/max/first/last: @in; count/size/nunique int64;
 * median/quantile float64 of int64, bool and float64; top: @in; freq:
 * int64). -1 when pandas
 * refuses (sum/mean/std/var/median/quantile of strings or dates). */
int agg_result_type(enum agg_fn f, enum col_type in);

struct agg_spec {
	enum agg_fn fn;
	int col;              /* value column in the tables given to gb_update(); ignored for AGG_SIZE */
	int ddof;             /* std/var (pandas default 1) */
	const char *name;     /* the result column's name */
	double q;             /* quantile: 0 <= q <= 1 */
};

/*
 * A hash aggregation: rows grouped by the values of the key columns, each
 * group keeping one state per aggregate. With no key columns there is
 * exactly one group, even over no rows (a whole-column reduction: the sum of
 * nothing is 0, its mean NaN). Rows with a missing key are dropped (pandas'
 * dropna=True). Aggregates skip missing values as pandas does: sum of only
 * missing values is 0, mean/min/max/std/var/first/last of them missing;
 * count counts values, size counts rows; first/last are the first/last
 * value in row order (by the @row_base given to gb_update plus the row).
 * float sums are compensated (Neumaier); std/var merge by Chan's formula.
 * median and quantile keep a quantile sketch per group (frame/qsketch.h),
 * one per value column however many quantiles of it are asked for: exact
 * (as pandas computes it) while a group has at most 2k values (QSK_EXACT, or
 * fewer when gb_set_sketch_budget() lowers k), within 1% of the values'
 * count in rank past that, in bounded memory.
 *
 * A partial aggregate travels through the store as bytes (gb_serialize) and
 * is merged into another (gb_merge); partials may be merged in any order
 * and grouping, with identical results up to float rounding (and, for
 * quantiles of groups past 2k values, within the sketch's error bound;
 * a fixed order gives a fixed result).
 */
struct gb;

/* gb_new() : @n_keys key columns of @key_types named @key_names (borrowed),
 * @n_aggs aggregates over value columns of @val_types (indexed by
 * agg_spec.col). NULL never (allocation failure aborts). */
struct gb *gb_new(int n_keys, const enum col_type *key_types, const char *const *key_names, int n_aggs,
		  const struct agg_spec *aggs, int n_vals, const enum col_type *val_types);
void gb_free(struct gb *g);
/* gb_update() : adds the rows of @keys (n_keys columns) and @vals (n_vals
 * columns), all of @n rows; @row_base is the global index of row 0. */
void gb_update(struct gb *g, const struct column *keys, const struct column *vals, int64_t n, int64_t row_base);
/* gb_set_sketch_budget() : bounds the memory of the quantile sketches (median,
 * quantile, describe's percentiles) to about @bytes together, by lowering
 * their capacity as groups come (down to QSK_K_MIN: past that, many groups
 * take more); 0: no bound. */
void gb_set_sketch_budget(struct gb *g, uint64_t bytes);
/* gb_n_groups() : groups so far. */
int64_t gb_n_groups(const struct gb *g);
/* gb_serialize() : appends the partial to @out. */
void gb_serialize(const struct gb *g, struct buf *out);
/* gb_merge() : merges a serialized partial of a gb made with the same
 * arguments. -1 and *e (ERR_RUN) on malformed bytes. */
int gb_merge(struct gb *g, const void *bytes, size_t len, struct err *e);
/*
 * gb_finish() : the result as a table in @a: the key columns first, then one
 * column per aggregate named agg_spec.name, typed by agg_result_type()
 * (a missing result, e.g. the mean of no values, is a missing value / NaN);
 * groups sorted by key (pandas' sort=True: numbers ascending, strings by
 * bytes, False before True), or in first-seen order when @sorted is false.
 */
void gb_finish(struct gb *g, struct arena *a, bool sorted, struct table *out);

#endif
