/* SPDX-License-Identifier: MIT */
/*
 * frame: CSV dataframes from pandas-like expressions.
 *
 * An expression node that reads a CSV file (`read_csv("x.csv")`) or uses
 * another frame node (`w[w.precipitation > 0]`, `wet.groupby("k").agg(...)`)
 * is a frame node. Its expression is turned here into a symbolic DAG of
 * frame nodes (struct fnode: read, filter, select, assign, aggregate, sort,
 * head, ...) whose column names and types are checked before anything runs,
 * with errors that point into the expression. The DAG is then lowered into
 * families of tasks (struct ffam):
 *   - a partition family runs, per partition of its source (a block of a
 *     CSV file, or a chunk of a materialized frame), the fused chain of
 *     row-wise operations (filter, assign, select, dropna, fillna) down to
 *     the family's node, and emits the rows as CSV/TSV/JSON text (an output)
 *     or as a table in the store's byte form (table_serialize);
 *   - an aggregate family runs the chain per partition into a partial
 *     groupby (map), merges partials in a tree (combine, split_every 8), and
 *     finishes into one table (final): groupby, column reductions, len,
 *     value_counts, quantiles and describe() (a mergeable quantile sketch
 *     per group, frame/qsketch.h);
 *   - a whole family gathers every partition of a materialized frame in one
 *     task: sort_values, head, nlargest;
 *   - to_array() (array.c) gives the array layer a partition chain that its
 *     chunk tasks run, one partition each, with rows counted at build time.
 * Frames are never materialized between row-wise operations: the CSV block
 * is parsed once, only the columns the chain uses are converted, and rows
 * that pass through untouched are written byte for byte as read.
 *
 * DESIGN: fnodes, families and the csv_inputs they read live in the graph's
 * arena and are read-only once built (the inputs' temporary copies are
 * removed by frame_release_inputs()), so workers share them without locks.
 */
#ifndef TESSERA_FRAME_FRAME_H
#define TESSERA_FRAME_FRAME_H

#include "frame/table.h"
#include "io/csv.h"
#include "spec/expr.h"
#include "spec/spec.h"
#include "util/arena.h"
#include "util/err.h"

#include <stdbool.h>
#include <stdint.h>

struct fnode;
struct ffam;
struct op_sink;

/* Everything the frame layer needs from the graph builder while building. */
struct fbuild {
	struct arena *arena;
	struct spec *spec;
	struct err *e;
	const char *spill_dir;     /* where stdin and decompressed input are copied */
	int jobs;                  /* threads that scan a plain CSV file */
	uint64_t mem_limit;        /* bytes (0: unknown): bounds the default blocksize */
	/* Resolves a name to another node's frame: 1 and *out when @name is a
	 * frame node (building it first if needed), 0 when it is not a frame
	 * node (an array, a task, or no node), -1 on error (*e set). */
	int (*lookup)(void *arg, const char *name, struct loc loc, struct fnode **out);
	void *lookup_arg;
	uint32_t owner;            /* the spec node being built */
	struct csv_input **inputs; /* every input opened, for frame_release_inputs() (xmalloc'ed array) */
	size_t n_inputs, inputs_cap;
	struct ffam **out_fams;    /* set by frame_lower(): the family each output writes (arena) */
	struct frame_array **arrays; /* every frame_to_array() made, lowered by frame_lower() (xmalloc'ed array) */
	size_t n_arrays, arrays_cap;
};

/*
 * frame_detect() : whether expression @x is a frame expression: it calls
 * read_csv() or names a frame node. 1 yes, 0 no, -1 on error (*e).
 */
int frame_detect(struct fbuild *b, const struct expr *x);

/* frame_from_expr() : the fnode DAG of expression @text (after ${}
 * substitution), located by @d. NULL and a located error (ERR_SPEC, or
 * ERR_RUN for an input that cannot be read) on any problem. */
struct fnode *frame_from_expr(struct fbuild *b, const struct doc *d, const char *text);

/* What an output of a frame node writes. */
struct fout {
	struct fnode *f;
	enum table_format fmt;
};

/*
 * frame_lower() : gives every frame that must exist a family: the nodes of
 * @outs (each written in its format), materialized frames (aggregates,
 * sorts, and frames read by a whole-frame op). @return the number of
 * families (in *fams, arena memory), -1 and *e on error. After it,
 * b->out_fams[k] is the family whose chunks output k writes (one per
 * distinct (node, format); its chunk 0 starts with the header).
 */
int64_t frame_lower(struct fbuild *b, const struct fout *outs, size_t n_outs, struct ffam ***fams);

/* Family accessors for the graph builder and the scheduler. */
int64_t ffam_n_tasks(const struct ffam *f);
int64_t ffam_n_chunks(const struct ffam *f);      /* its results: the last tasks, in order */
void ffam_set_first_task(struct ffam *f, int64_t first);
int64_t ffam_first_task(const struct ffam *f);
uint32_t ffam_owner(const struct ffam *f);         /* the spec node it belongs to */
const struct fnode *ffam_node(const struct ffam *f); /* the frame it computes */
bool ffam_is_text(const struct ffam *f);           /* its chunks are output text */
const char *ffam_label(const struct ffam *f);      /* "groupby", "sort", ... for hidden nodes' names */
struct loc ffam_loc(const struct ffam *f);
int64_t ffam_work_bytes(const struct ffam *f);     /* what one task holds while it runs (an estimate) */
/* ffam_reads_input() : whether task @rel reads its input @k of @n_in (some only order the tasks);
 * an input it does not read is never loaded for it. */
bool ffam_reads_input(const struct ffam *f, int64_t rel, size_t k, size_t n_in);
/* ffam_task_deps() : calls @fn with each input task (absolute) of task @rel, in input order. */
void ffam_task_deps(const struct ffam *f, int64_t rel, void (*fn)(void *arg, int64_t task), void *arg);
/* ffam_task_level() : -1 a map task, 0 a result chunk, >= 1 a combine level; *member its index there. */
int ffam_task_level(const struct ffam *f, int64_t rel, int64_t *member);

/*
 * to_array(): a frame (or a column) as a float64 array of its rows, one
 * chunk per partition of the frame, for the array layer. Its shape is fixed
 * when the graph is built, so the rows of every partition are counted then
 * (dask's to_dask_array(lengths=True)): a chain of select/assign/fillna
 * straight off read_csv counts the records of each block of the file
 * (csv_input_count_rows(), an extra read of the text); sorts and heads take
 * their input's count; anything that drops rows (a filter, dropna, a
 * groupby's groups) is run once at build time just to count them, reading
 * the input one more time.
 */
struct frame_array {
	const struct fnode *f;     /* the frame: its columns, in order, are the array's */
	int n_cols;
	bool series;               /* a column: a 1-d array */
	int64_t n_parts;           /* partitions of the frame (its source's) */
	const int64_t *rows;       /* n_parts row counts (arena) */
	struct ffam *fam;          /* set by frame_lower(): the chain run inside the array's tasks (no tasks of its own) */
};

/*
 * frame_to_array() : builds the frame expression @x (parsed by the caller
 * from doc @d) that `.to_array()` at byte @call_off is called on, checks that its columns are numeric (int64, float64, bool)
 * and counts its rows. NULL and a located error (ERR_SPEC; ERR_RUN when the
 * input cannot be read) otherwise.
 */
struct frame_array *frame_to_array(struct fbuild *b, const struct doc *d, const struct expr *x, uint32_t call_off);
/* frame_array_deps() : calls @fn with each task partition @part reads (a materialized source's chunk). */
void frame_array_deps(const struct frame_array *a, int64_t part, void (*fn)(void *arg, int64_t task), void *arg);
/*
 * frame_array_run() : on a worker, runs the frame's chain over partition
 * @part (the inputs: the pinned chunks frame_array_deps() named) and
 * writes its rows, row-major float64 (int64 converted, bool 0/1, missing
 * NaN), to @out (rows[part] * n_cols doubles). 0, or -1 and *e (ERR_RUN: bad
 * input, or a partition whose rows changed since they were counted).
 */
int frame_array_run(const struct frame_array *a, int64_t part, size_t n_in, const void *const *in_data,
		    const size_t *in_len, double *out, struct err *e);
/* frame_array_work_bytes() : what running one partition holds (an estimate). */
int64_t frame_array_work_bytes(const struct frame_array *a);

/* fnode_is_scalar() : whether the node's value is one value (printed bare). */
bool fnode_is_scalar(const struct fnode *f);
/* fnode_describe() : "frame (12 partitions, 7 columns)" for `tessera check`. */
const char *fnode_describe(struct arena *a, const struct fnode *f);

/*
 * frame_run() : runs task @rel of family @f on a worker: the inputs are the
 * pinned chunks of its deps in ffam_task_deps() order; the result goes to
 * @out. 0, or -1 and *e (ERR_RUN, naming the file, line and column of bad
 * input).
 */
int frame_run(const struct ffam *f, int64_t rel, size_t n_in, const void *const *in_data, const size_t *in_len,
	      struct op_sink *out, struct err *e);

/* frame_release_inputs() : removes the copies of stdin and decompressed input. */
void frame_release_inputs(struct fbuild *b);

#endif
