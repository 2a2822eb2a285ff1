/* SPDX-License-Identifier: MIT */
/* frame_int: the frame layer's private structures, shared by build.c, lower.c and eval.c. */
#ifndef TESSERA_FRAME_FRAME_INT_H
#define TESSERA_FRAME_FRAME_INT_H

#include "frame/frame.h"

/* Column expressions: evaluated per partition over one frame's columns. */
enum cx_kind {
	CX_COL,     /* column @col of @frame */
	CX_CONST,   /* a constant of @type (@is_null: a missing value) */
	CX_BIN,     /* a @op b (arithmetic, comparison, & | ^) */
	CX_NEG, CX_NOT,
	CX_FN,      /* @fn(a) */
	CX_ISNA, CX_NOTNA,
	CX_ISIN,    /* a in @list (constants of a's type) */
	CX_STR,     /* a string predicate/transform @fn with @pat */
	CX_CAST,    /* a as @type */
	CX_FILLNA,  /* a, its missing values replaced by b (a constant) */
	CX_BETWEEN, /* list[0] <= a <= list[1] */
	CX_ROWID,   /* the row's place: partition << 32 | row within it (int64, never missing) */
	CX_DT,      /* a date's field or text: @fn is a cx_dt, @s the strftime format */
};

enum cx_fn {
	CF_ABS, CF_SQRT, CF_EXP, CF_LOG, CF_LOG10, CF_LOG1P, CF_FLOOR, CF_CEIL, CF_ROUND, CF_SIN, CF_COS,
	CF_CLIP, /* a between list[0] and list[1] (constants; NULL: no bound) */
};
enum cx_sfn {
	CS_CONTAINS, CS_STARTSWITH, CS_ENDSWITH, CS_LEN, CS_LOWER, CS_UPPER, CS_STRIP, CS_LSTRIP, CS_RSTRIP,
	CS_SLICE,   /* characters sl[0]:sl[1]:sl[2] as Python slices them (sl_set says which were given) */
	CS_GET,     /* the character at sl[0] (negative: from the end); missing when out of range */
	CS_REPLACE, /* @s replaced by @s2, the first @n_repl times (-1: all) */
	CS_SPLIT_GET, /* str.split(@s, n=@n_repl).str[sl[0]]: one part (@s NULL: split at runs of whitespace) */
};
enum cx_dt {
	DT_YEAR, DT_MONTH, DT_DAY, DT_DAYOFWEEK, DT_DAYOFYEAR, DT_QUARTER, DT_DAYS_IN_MONTH, /* int64 */
	DT_IS_LEAP_YEAR, DT_IS_MONTH_START, DT_IS_MONTH_END,                                 /* bool */
	DT_DAY_NAME, DT_MONTH_NAME, DT_STRFTIME,                                             /* string */
};

struct cexpr {
	enum cx_kind kind;
	enum col_type type;        /* the result's type */
	struct loc loc;
	struct fnode *frame;       /* whose columns CX_COL leaves read */
	int col;
	bool is_null;              /* CX_CONST */
	int64_t i;
	double f;
	int32_t d;
	const char *s;
	size_t slen;
	enum expr_op op;           /* CX_BIN */
	int fn;                    /* CX_FN: cx_fn, CX_STR: cx_sfn, CX_DT: cx_dt */
	int digits;                /* CF_ROUND */
	bool icase, regex;         /* CX_STR contains */
	void *re;                  /* compiled regex_t (arena), CS_CONTAINS with regex */
	int64_t sl[3];             /* CS_SLICE start, stop, step; CS_GET the index */
	bool sl_set[3];
	const char *s2;            /* CS_REPLACE's replacement */
	size_t s2len;
	int64_t n_repl;
	const char *name;          /* Series.rename(name): what a group key computed from it is called */
	struct cexpr *a, *b;
	size_t n_list;
	struct cexpr **list;
};

enum fnode_kind {
	FN_READ,    /* read_csv */
	FN_FILTER,  /* rows where @mask */
	FN_SELECT,  /* columns @src_col of in, named @names (selection, rename, drop) */
	FN_ASSIGN,  /* in's columns, then new or replaced ones: cx[k] non-NULL computes output column k */
	FN_DROPNA,  /* rows with no missing value in @subset columns of in */
	FN_FILLNA,  /* missing values of column k replaced by fill[k] (NULL: kept) */
	FN_AGG,     /* groupby keys -> aggregates (no keys: one row of column reductions) */
	FN_SORT,    /* rows ordered by @by, then (FN_HEAD semantics) the first @limit when limit >= 0 */
	FN_HEAD,    /* the first @limit rows (the last ones when @from_end) */
	FN_MERGE,   /* in's rows joined with @other's (one chunk) on keys; @how OUTER gathers in (materialized) */
	FN_CONCAT,  /* the rows of @parts one after another, columns aligned by name (materialized) */
};

enum join_how { JOIN_INNER, JOIN_LEFT, JOIN_RIGHT, JOIN_OUTER };

struct fnode {
	enum fnode_kind kind;
	struct loc loc;
	uint32_t owner;
	const char *label;
	struct fnode *in;
	/* output schema */
	int n_cols;
	const char **names;
	enum col_type *types;
	int *src_col;              /* SELECT/ASSIGN/FILLNA: output column k is in's src_col[k] (-1: computed) */
	bool scalar;               /* one value, printed bare */
	int shape_cols;            /* scalar row count printed as df.shape, "(rows, shape_cols)"; 0: not */
	/* FN_READ: one file, or several read one after the other as one frame (a glob, a list) */
	size_t n_inputs;           /* >= 1 */
	struct csv_input **inputs; /* n_inputs, in order; all have the first one's columns */
	int64_t *part_first;       /* n_inputs + 1: input i holds partitions [part_first[i], part_first[i + 1]) */
	bool *declared;            /* per file column: its type came from dtype=, so every value is checked */
	int n_fields;              /* fields per record (src_col's range): the files' columns, then the path
				      (include_path_column) as field inputs[0]->n_cols when present */
	struct csv_dialect dialect;
	struct csv_na na;
	/* FN_FILTER */
	struct cexpr *mask;
	/* FN_ASSIGN, FN_FILLNA */
	struct cexpr **cx;
	/* FN_DROPNA */
	bool *subset;
	bool how_all;
	/* FN_AGG: keys and value columns are in's columns; aggs[k].col indexes vals */
	int n_keys;
	int *keys;
	int n_aggs, aggs_cap;
	struct agg_spec *aggs;
	int n_vals;
	int *vals;
	bool by_count;             /* value_counts: rows by count descending, ties by key */
	bool normalize;            /* value_counts(normalize=True): counts as shares of the total */
	/* FN_AGG without keys, stacked (describe, quantile of a list): the one row of aggregates is
	 * written as n_stack rows of n_cols - 1 columns (float64, or text where describe() says
	 * string), aggregate s * (n_cols - 1) + j in row s, column j + 1; column 0 holds
	 * stack_names[s] (string), or stack_q[s] (float64) */
	int n_stack;
	const char **stack_names;
	double *stack_q;
	/* FN_SORT */
	int n_by;
	int *by;
	bool *asc;
	int64_t limit;             /* FN_SORT, FN_HEAD; -1 none */
	bool from_end;             /* FN_HEAD: tail() */
	/* FN_MERGE: @in is the side probed partition by partition, @other the side hashed (pandas' left
	 * for a right join). Output column k is in's column out_col[k] (out_side 0), other's (1), or in's
	 * where the row has one and else other's out_col2[k] (2: an outer join's key). */
	struct fnode *other;
	enum join_how how;
	bool partitioned;          /* both sides too large to hash whole: a sort-partitioned join (materialized) */
	int n_on;
	int *on_in, *on_other;
	enum col_type *on_as;
	int *out_side, *out_col, *out_col2;
	/* FN_CONCAT: output column k is parts[i]'s column part_cols[i][k], or missing (-1) */
	int n_parts;
	struct fnode **parts;
	int **part_cols;
	/* lowering */
	int n_users;
	bool text_only;            /* only CSV outputs read it: columns it passes through need no values */
	struct ffam *fam;          /* the family that materializes it (aggregates, sorts, heads) */
	struct ffam *rows;         /* the family that emits its rows as tables, when one was needed */
	struct fnode *gather;      /* the node gathering its rows into one chunk (merges hash it), once made */
	/* to_array(): rows per partition, once counted (arena; NULL: not yet) */
	int64_t n_counted;
	int64_t *part_rows;
};

/*
 * FF_XSORT, a sort larger than one task's memory, as a sample sort over N partitions into R ranges:
 * [0, N) sort each partition (the chain runs there); [N, 2N) sample each sorted partition; [2N] pick
 * R - 1 splitter rows from the samples; [2N + 1, 2N + 1 + N R) cut sorted partition i at the
 * splitters, task (i, r) keeping range r; then R tasks each merging range r of every partition: the
 * family's chunks, in order.
 */
/*
 * FF_PJOIN, a merge whose sides both may exceed memory: the rows of each side (inputs[0]: the probed
 * side's N chunks, inputs[1]: the hashed side's M) are sorted by key, cut at splitters shared by both
 * sides into R key ranges, and range r of one side is joined with range r of the other in task r:
 * [0, N) and [N, N + M) sort; [N + M, 2N + 2M) sample keys; [2N + 2M] splitters; then N R and M R
 * cuts; then R joins, the family's chunks.
 */
enum ffam_kind { FF_PARTS, FF_AGG, FF_WHOLE, FF_CONCAT, FF_XSORT, FF_PJOIN };

struct ffam {
	enum ffam_kind kind;
	struct fnode *f;           /* what it computes */
	struct fnode *src;         /* PARTS/AGG: FN_READ or a materialized node; the chain runs from it */
	int n_chain;
	struct fnode **chain;      /* row-wise nodes after @src, in order, ending at f (PARTS) or f->in (AGG) */
	int64_t n_src;             /* partitions of @src */
	bool text;                 /* PARTS: emit text in @fmt (an output), else tables */
	bool count;                /* PARTS: emit only the number of rows (int64), to size a to_array() */
	enum table_format fmt;
	int64_t limit;             /* PARTS: at most this many rows per partition (-1: all) */
	bool from_end;             /* PARTS: the last @limit rows rather than the first */
	const struct fnode *topk;  /* PARTS: an FN_SORT with a limit: each partition's @limit first rows in
				      its order (nlargest and sort-then-head: the whole task sorts only those) */
	bool *want, *value;        /* READ sources: fields to split out / to convert, per field (n_fields) */
	struct ffam *input;        /* WHOLE: the family whose chunks it gathers */
	int n_inputs;              /* CONCAT: the families whose chunks it passes on, in order */
	struct ffam **inputs;
	int64_t *input_first;      /* CONCAT: the task of inputs[i]'s chunk 0 (n_inputs + 1, a prefix sum) */
	int64_t n_ranges;          /* XSORT: R */
	/* AGG tree: [map n_src][level 1][level 2]...[final 1] */
	int n_levels;
	int64_t level_n[16], level_first[16];
	int split_every;
	uint64_t sketch_budget;    /* AGG: bytes a task's quantile sketches may take (0: no bound) */
	int64_t n_tasks, n_chunks;
	int64_t first_task;
	int64_t work_bytes;
	uint32_t owner;
	bool own;
	const char *label;
};

/* Evaluation helpers shared by lower.c and eval.c. */
struct fnode *fnode_source(struct fnode *f, int *n_chain);
bool fnode_is_materialized(const struct fnode *f);
/* How many merges one fused chain may hold (each is one more input of its tasks). */
#define FRAME_MAX_CHAIN_MERGES 16
/* The most ranges a sort is cut into (its tasks grow as partitions x ranges). */
#define FRAME_MAX_SORT_RANGES 256

/* ffam_extras() : the one-chunk frames a task of @m reads besides its source (the hashed sides of the
 * merges in its chain, in chain order), into @out (up to @cap); their count. */
int ffam_extras(const struct ffam *m, const struct fnode **out, int cap);
/* fnode_read_block() : the input that partition @k of FN_READ node @f reads, and *block, its block there. */
const struct csv_input *fnode_read_block(const struct fnode *f, int64_t k, int64_t *block);

/* For array.c: a partition family over @f's rows that runs inside other
 * tasks (not listed among the families, no tasks of its own): its tasks'
 * sources are lowered into @fams (grown, *n_fams families, *cap room).
 * @count: it emits row counts (only what filters read is converted), else
 * tables with every column's value. NULL when lowering a source failed. */
struct ffam *frame_lower_rows(struct fbuild *b, struct fnode *f, bool count, struct ffam ***fams, int64_t *n_fams,
			      size_t *cap);
/* frame_eval_part() : runs @m's chain over partition @part (its inputs as frame_run() gets them) into
 * @tb, whose memory *p holds: frame_part_release() it after, whatever the result. 0, or -1 and *e. */
struct frame_part;
int frame_eval_part(const struct ffam *m, int64_t part, size_t n_in, const void *const *in_data, const size_t *in_len,
		    struct frame_part **p, struct table *tb, struct err *e);
void frame_part_release(struct frame_part *p);
/* frame_build_sub() : the fnode of expression @x (located by @d): a column becomes a one-column frame
 * (*series set). NULL and *e on error. */
struct fnode *frame_build_sub(struct fbuild *b, const struct doc *d, const struct expr *x, bool *series);

#endif
