/* SPDX-License-Identifier: MIT */
/*
 * array: chunked N-d arrays from numpy-like expressions.
 *
 * An expression node of a spec (a string such as
 * `4 * ((xy ** 2).sum(axis=1) < 1).sum() / ${n}`) is parsed by spec/expr and
 * turned here into a symbolic DAG of array nodes (struct anode): creation,
 * loads, elementwise operations, casts and reductions, each with its dtype,
 * shape and chunk grid, checked before anything runs with errors that point
 * into the expression. The DAG is then lowered into tasks: every array that
 * must exist as chunks (an output, a load feeding several consumers, the map
 * stage of a reduction across chunks) becomes a family of chunk tasks whose
 * program evaluates the whole fused chain below it (creation, elementwise
 * ops, reductions within a chunk) tile by tile, so no intermediate chunk is
 * ever materialized; reductions across chunks continue as a tree.
 *
 * DESIGN: everything symbolic (anodes, programs) lives in the graph's arena
 * and is read-only once built, so workers share it without locks. A chunk in
 * the store is the C-ordered bytes of its box in the array's dtype; a
 * reduction's partial is an array of struct red_state, one per output
 * element.
 */
#ifndef TESSERA_ARRAY_ARRAY_H
#define TESSERA_ARRAY_ARRAY_H

#include "frame/frame.h"
#include "io/csvnum.h"
#include "io/npy.h"
#include "io/vcf.h"
#include "spec/expr.h"
#include "spec/spec.h"
#include "util/arena.h"
#include "util/err.h"

#include <stdbool.h>
#include <stdint.h>

#define AR_MAX_DIMS 16

/* dtype promotion as numpy's result_type for two arrays. */
enum dtype dtype_promote(enum dtype a, enum dtype b);
bool dtype_is_float(enum dtype t);
bool dtype_is_int(enum dtype t); /* signed or unsigned integers, not bool */
/* dtype_parse() : "float32", "f8", "int64", "bool", "uint8", ... -1 when unknown. */
int dtype_parse(const char *name);

/* Chunk boundaries along one axis: n chunks, bounds[0] = 0 .. bounds[n] = extent. */
struct axis_chunks {
	int64_t n;
	const int64_t *bounds;
};

/* Elementwise operations: one table (funcs.c) names them, gives arity and result-type rules. */
enum ew_op {
	EW_ADD, EW_SUB, EW_MUL, EW_DIV, EW_FLOORDIV, EW_MOD, EW_POW,
	EW_LT, EW_LE, EW_GT, EW_GE, EW_EQ, EW_NE, EW_AND, EW_OR, EW_XOR,
	EW_NEG, EW_POS, EW_INVERT,
	EW_ABS, EW_SQRT, EW_EXP, EW_LOG, EW_LOG1P, EW_EXPM1, EW_SIN, EW_COS, EW_TAN,
	EW_ARCSIN, EW_ARCCOS, EW_ARCTAN, EW_SINH, EW_COSH, EW_TANH, EW_FLOOR, EW_CEIL, EW_ROUND,
	EW_ISNAN, EW_ISFINITE, EW_ARCTAN2, EW_MAXIMUM, EW_MINIMUM, EW_WHERE, EW_CLIP,
	EW_CAST,
	EW_N
};

enum red_op {
	RED_SUM, RED_PROD, RED_MEAN, RED_STD, RED_VAR, RED_MIN, RED_MAX, RED_ARGMIN, RED_ARGMAX,
	RED_ANY, RED_ALL, RED_COUNT_NONZERO, RED_NANSUM, RED_NANMEAN, RED_NANMIN, RED_NANMAX,
	RED_NANVAR, RED_NANSTD,
	RED_N
};

enum gen_op { GEN_FULL, GEN_ARANGE, GEN_LINSPACE, GEN_EYE, GEN_UNIFORM, GEN_NORMAL, GEN_INTEGERS };

/* Creation functions of the registry (op.sub of AFN_CREATE rows). */
enum create_kind { CR_ZEROS, CR_ONES, CR_FULL, CR_ARANGE, CR_LINSPACE, CR_EYE, CR_RANDOM, CR_UNIFORM,
		   CR_NORMAL, CR_INTEGERS };

enum anode_kind {
	AN_SCALAR,  /* a 0-d constant; weak (a Python literal) unless typed */
	AN_GEN,     /* creation: element values from their index */
	AN_NPY,     /* a .npy file, read by boxes */
	AN_CSV,     /* a numeric CSV file as a 2-d float64 array, read by boxes of rows */
	AN_EW,      /* elementwise over broadcast inputs */
	AN_REDUCE,  /* a reduction over some axes */
	AN_MATMUL,  /* a 2-d matrix product: block products by BLAS, summed over the inner axis as a tree */
	AN_RESHAPE, /* the same elements in C order under another shape */
	AN_CONCAT,  /* inputs joined along axis `axis` (at most 3 per node: longer lists nest) */
	AN_VIEW,    /* slicing, integer and list indexing, new axes, transposes: a re-indexing of its input */
	AN_VCF,     /* genotypes of a VCF/BCF file (int8), read by boxes of variants */
	AN_CHOL,    /* a Cholesky factor (g[0] = 1: the factor of the inverse), one chunk, by LAPACK */
	AN_PDIST,   /* distances between rows: in[0] x, in[1] y (x itself for pairwise), in[2] per-feature weights */
	AN_FRAME,   /* a frame's rows as float64 (to_array()), one chunk per non-empty partition; always materialized */
};

/* Where pairwise distances are computed. */
enum pd_device { PD_AUTO, PD_CPU, PD_GPU };

/* Which values of the input count as missing. */
enum pd_missing { PD_MISSING_AUTO, PD_MISSING_NAN };

struct anode {
	enum anode_kind kind;
	enum dtype dtype;
	bool weak;                 /* AN_SCALAR from a literal: adopts the other operand's dtype within its kind */
	int ndim;
	int64_t shape[AR_MAX_DIMS];
	struct axis_chunks chunks[AR_MAX_DIMS];
	struct loc loc;            /* where in the spec it was written */
	uint32_t id;               /* dense, per graph */
	uint32_t owner;            /* the spec node whose expression made it */
	const char *label;         /* a short name for a family of it: "sum", "mean", "ew" */
	int n_users;               /* anodes (and outputs) reading it */
	/* AN_SCALAR */
	double f;
	int64_t i;
	/* AN_GEN */
	enum gen_op gen;
	double g[4];               /* FULL: value; ARANGE: start, step; LINSPACE: start, step; EYE: k; UNIFORM: lo, hi; NORMAL: mean, sd */
	int64_t gi[2];             /* INTEGERS: lo, hi */
	uint64_t seed;
	/* AN_NPY, AN_CSV */
	const char *path;
	struct npy_info npy;
	struct csvnum csv;
	/* AN_EW */
	enum ew_op ew;
	int n_in;
	struct anode *in[3];
	/* AN_REDUCE */
	enum red_op red;
	uint32_t axes;             /* bit k: axis k of the input is reduced */
	bool keepdims;
	int ddof;
	int split_every;
	/* AN_CONCAT: the axis joined along; offsets of each input along it */
	int axis;
	int64_t cat_off[4];
	/* AN_VIEW: output axis k reads input axis vsrc[k] (-1: a new axis of 1) at
	 * vstart[k] + i * vstep[k], or at vlist[i] when k == vlist_axis; input axes
	 * no output axis reads are fixed at vfix[j]. */
	int vsrc[AR_MAX_DIMS];
	int64_t vstart[AR_MAX_DIMS], vstep[AR_MAX_DIMS], vfix[AR_MAX_DIMS];
	int vlist_axis;            /* -1: none */
	const int64_t *vlist;
	/* AN_VCF */
	struct vcf_info vcf;
	bool vcf_calls;            /* variants x samples x ploidy allele indices (else samples x variants alt counts) */
	/* AN_PDIST: metric (enum k_dist_metric) and its p; the output is square
	 * (n x ny, chunks = the tiles) or condensed (scipy's order, one chunk per
	 * row tile); rows are cut into tiles (tiles[0] of x, tiles[1] of y) and
	 * features into groups, one map task per (computed tile, group). */
	int metric;
	double p;
	bool condensed, self_pair, weighted;
	enum pd_device device;
	enum pd_missing missing;
	uint64_t gpu_stage;        /* bytes of one of a GPU job's two pinned staging buffers */
	uint64_t gpu_work;         /* host memory a GPU map task holds besides its statistics (bytes) */
	struct axis_chunks tiles[2];
	struct axis_chunks groups;
	/* AN_FRAME: the frame (its rows counted per partition); row chunk k is partition fpart[k] */
	const struct frame_array *frame;
	const int64_t *fpart;
	/* Set by lowering: the family that materializes this array, or NULL when it is fused into its users. */
	struct afam *fam;
	bool is_output;            /* written by an output: must be materialized */
	bool reread;               /* read many times over (a distance's rows): materialize unless a plain file */
	struct anode *same;        /* set by lowering when an identical node stands for this one */
};

/* Everything the array layer needs from the graph builder while building. */
struct abuild {
	struct arena *arena;
	struct spec *spec;
	struct err *e;
	uint64_t chunk_bytes;      /* "auto" chunk target */
	uint64_t mem_limit;        /* the run's memory limit (bytes; 0: unknown): sizes distance tiles */
	int jobs;                  /* the run's workers (>= 1): bounds what they hold together */
	const char **notes;        /* lines for --verbose (arena strings; the array is the builder's, xmalloc'ed) */
	size_t n_notes, notes_cap;
	/* Resolves a name in an expression to another node's array; NULL (and no
	 * error) when @name is not a node. May recurse into building that node. */
	struct anode *(*lookup)(void *arg, const char *name, struct loc loc);
	void *lookup_arg;
	/* Builds the frame expression @x that `.to_array()` (its name at byte
	 * @call_off, located by @d) is called on: frame_to_array(). NULL and *e
	 * on error. Called with lookup_arg. */
	const struct frame_array *(*to_array)(void *arg, const struct doc *d, const struct expr *x, uint32_t call_off);
	uint32_t next_id;
	uint32_t owner;            /* the spec node being built */
};

/*
 * A family: the tasks that materialize one array. A plain family has one
 * task per chunk of @a, each evaluating the fused program rooted at @a. A
 * tree family (@a a reduction across chunks) has map tasks, one per chunk of
 * the reduction's input, each evaluating the input's fused program and
 * reducing it to partial states; combine tasks merging up to split_every
 * partials; and final tasks, one per chunk of @a, that merge and finalize.
 * Task layout: [map][combine...][final]; comb_first gives each tree's
 * combine tasks. The final tasks are the chunks of @a, in order.
 */
struct afam {
	struct anode *a;
	bool tree;
	bool matmul;             /* a tree whose map tasks are block products (i, j, k), k fastest */
	bool pdist;              /* a tree per computed tile, map tasks (tile, feature group), group fastest;
				    each output chunk's task finalizes a tile, mirrors one, or assembles condensed rows */
	int64_t n_trees;         /* tree: reduction trees (output chunks; pdist: computed tiles) */
	int64_t n_extra;         /* tasks between the combines and the final ones: a condensed
				    distance's finished tiles, one per tree, that its chunks assemble */
	int64_t n_chunks;        /* chunks of @a: final tasks (tree) or all tasks (plain) */
	int64_t n_map;           /* tree: chunks of the reduction's input */
	int64_t n_tasks;
	int64_t leaves;          /* tree: partials per output chunk */
	int64_t *comb_first;     /* tree: per tree, its first combine task (relative), -1: none */
	int64_t n_comb;          /* tree: combine tasks in all */
	int64_t first_task;      /* set when the graph lays out tasks */
	int64_t work_bytes;      /* what one task of it holds while it runs, besides its inputs (an estimate) */
	int64_t *partner;        /* tree reductions: per map task, the map task of the same tree whose
				    random leaf boxes are the same (a chunk and its mirror), or -1; NULL:
				    none. The lower of a pair generates those boxes once and reduces both
				    chunks; the higher gives an empty partial */
};

/* One partial of a reduction, per output element (the bytes of a map/combine chunk). */
struct red_state {
	double s, c;      /* Neumaier-compensated sum (float sums, mean) */
	int64_t is;       /* exact integer sum / product / min / max / any / all / count */
	double n;         /* elements seen (not NaN for the nan-reductions) */
	double mean, m2;  /* Welford/Chan moments */
	double v;         /* float min/max/prod; argmin/argmax value */
	int64_t idx;      /* argmin/argmax: index of @v */
	int64_t flags;    /* bit 0: seen an element; bit 1: seen NaN */
};

/* array_from_expr() : builds the anode DAG of expression @text (after ${}
 * substitution), located by @d (the spec scalar it came from). NULL and a
 * located error (ERR_SPEC) on any problem. A non-array result (a plain number)
 * is a 0-d AN_SCALAR. */
struct anode *array_from_expr(struct abuild *b, const struct doc *d, const char *text);

/* Box arithmetic shared by lowering and evaluation. */
int64_t anode_n_chunks(const struct anode *a);
/* anode_chunk_box() : the box of chunk @c (C order over the grid) of @a. */
void anode_chunk_box(const struct anode *a, int64_t c, int64_t *start, int64_t *count);
/* The random generator boxes (uniform, normal, integers) a reduction's map
 * task reads inline: what paired tasks share (see afam.partner). */
#define AR_PAIR_LEAVES 4
struct leafset {
	int n;
	bool ok; /* false: the program also reads a file or a materialized chunk, or more boxes */
	struct leafbox {
		uint32_t id; /* the generator's: boxes sort, compare and hash as bytes (padding zeroed) */
		int64_t s[AR_MAX_DIMS], c[AR_MAX_DIMS];
	} e[AR_PAIR_LEAVES];          /* sorted, without repeats */
	const struct anode *g[AR_PAIR_LEAVES]; /* e[i]'s generator */
};
/* anode_leafset() : the random boxes computing @a over the box reads inline (ok false: more
 * than random values and constants, or too many boxes). */
void anode_leafset(const struct anode *a, const int64_t *start, const int64_t *count, struct leafset *ls);
/* afam_map_leafset() : the leaf set of map task @m of reduction family @f. */
void afam_map_leafset(const struct afam *f, int64_t m, struct leafset *ls);
/* anode_child_box() : the box of input @k of @n needed to compute @n over a box. */
void anode_child_box(const struct anode *n, int k, const int64_t *start, const int64_t *count, int64_t *cstart,
		     int64_t *ccount);
/* anode_chunks_overlapping() : calls @fn for every chunk of @a that overlaps the box. */
void anode_chunks_overlapping(const struct anode *a, const int64_t *start, const int64_t *count,
			      void (*fn)(void *arg, int64_t chunk), void *arg);
/* afam_chunk_task() : the task holding finished chunk @c of family @f. */
int64_t afam_chunk_task(const struct afam *f, int64_t c);

/*
 * array_lower() : decides which arrays are materialized (outputs, reductions
 * across chunks, arrays read by several users that are costly to recompute)
 * and gives each a family. @roots are the arrays of all expression nodes;
 * identical subexpressions are merged first (a @ a written twice is one
 * product), and @roots[i] is replaced by the node that stands for it.
 * @return the number of families (in *fams, arena memory), -1 and *e on error.
 */
int64_t array_lower(struct abuild *b, struct anode **roots, size_t n_roots, struct afam ***fams);
/* array_count_unfused() : how many tasks the arrays would take if nothing were fused. */
int64_t array_count_unfused(struct anode **roots, size_t n_roots);

/* afam_task_deps() : calls @fn for each input task of task @rel (relative to the family), in input order. */
void afam_task_deps(const struct afam *f, int64_t rel, void (*fn)(void *arg, int64_t task), void *arg);
/* afam_matmul_boxes() : the boxes of the two operands that block product @m multiplies. */
void afam_matmul_boxes(const struct afam *f, int64_t m, int64_t *as, int64_t *ac, int64_t *bs, int64_t *bc);
/* Distance families: tree @tree is tile (i, j) (i <= j for pairwise);
 * afam_pdist_boxes() gives the rows of x (as, ac) and y (bs, bc) with the
 * features of group @g that map task (tile, g) reads: [0] rows, [1] features. */
int64_t afam_pdist_tree(const struct afam *f, int64_t i, int64_t j);
void afam_pdist_tile(const struct afam *f, int64_t tree, int64_t *i, int64_t *j);
void afam_pdist_boxes(const struct afam *f, int64_t i, int64_t j, int64_t g, int64_t *as, int64_t *ac, int64_t *bs,
		      int64_t *bc);
/* afam_task_level() / afam_task_member() : for naming: -1 map, -2 a finished tile, 0 chunk/final, >= 1 combine level. */
int afam_task_level(const struct afam *f, int64_t rel, int64_t *member);

/* array_eval_constant() : the value of @n when every leaf below it is a
 * constant (full() or a scalar): computed once, exactly as tasks would. */
int array_eval_constant(const struct anode *n, double *f, int64_t *i);

/*
 * array_run() : runs task @rel of family @f on a worker: the inputs are the
 * pinned chunks of the task's deps (in afam_task_deps order, @in_tasks their
 * task ids); the result goes to @out. 0, or -1 and *e.
 */
struct op_sink;
int array_run(const struct afam *f, int64_t rel, size_t n_in, const int64_t *in_tasks,
	      const void *const *in_data, const size_t *in_len, struct op_sink *out, struct err *e);

#endif
