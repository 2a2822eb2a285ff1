/* SPDX-License-Identifier: MIT */
/*
 * graph: a located spec -> a validated, immutable task graph.
 *
 * Each spec node becomes a family of tasks (one, or many through a
 * generator: foreach, window, pairs, reduce). Tasks are numbered densely;
 * edges are kept in CSR form both ways (deps: what a task reads, in input
 * order; users: who reads a task). A plan (per run) culls what no requested
 * output needs and fixes the static order the scheduler follows.
 *
 * DESIGN: the graph and everything it points to live in its arena and die
 * with graph_free(). After graph_build() nothing in it changes; per-run
 * state is kept by the scheduler in arrays indexed by task id.
 */
#ifndef TESSERA_GRAPH_GRAPH_H
#define TESSERA_GRAPH_GRAPH_H

#include "array/array.h"
#include "frame/frame.h"
#include "ops/op.h"
#include "spec/spec.h"
#include "util/arena.h"
#include "util/err.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum gen_kind { GEN_NONE, GEN_FOREACH, GEN_WINDOW, GEN_PAIRS, GEN_REDUCE, GEN_ARRAY, GEN_FRAME };

struct gnode {
	const char *name;
	struct loc loc;            /* where the node's name is written */
	const struct doc *def;     /* the node's mapping in the spec */
	const struct op *op;
	const void *op_data;       /* from op->check() */
	enum gen_kind gen;
	const char *var;           /* foreach variable, or NULL */
	int64_t first_task, n_tasks;     /* every task of the node: [first, first + n) */
	int64_t first_member, n_members; /* the family addressed as name[i] */
	int retries;
	double timeout;            /* seconds; 0: none */
	const struct anode *array; /* an expression node's array (its family may be NULL: fused) */
	const struct afam *fam;    /* GEN_ARRAY: the tasks materializing an array */
	const struct fnode *frame; /* a frame expression node's frame */
	struct ffam *ffam;         /* GEN_FRAME: the tasks of a frame family (NULL: fused into its users) */
};

struct task {
	uint32_t node;
	int32_t level;          /* 0, or the level of an internal reduce step */
	int64_t member;         /* position in the family, or the step's index inside its level */
	const char *var_value;  /* foreach value, or NULL */
};

enum out_format { OUT_BYTES, OUT_ARRAY_TEXT, OUT_ARRAY_NPY, OUT_ARRAY_CSV };

struct goutput {
	const char *node_name;
	enum out_format format;
	const struct anode *array;   /* the array written, for OUT_ARRAY_* */
	int64_t task_first, n_tasks; /* written one after another */
	const char *path;            /* "-" is stdout */
	struct loc loc;
};

struct graph {
	struct arena arena;
	const struct spec *spec;
	size_t n_nodes;
	struct gnode *nodes;
	int64_t n_tasks;
	struct task *tasks;
	int64_t *dep_off, *deps;   /* CSR: deps of t are deps[dep_off[t] .. dep_off[t+1]) */
	int64_t *use_off, *users;  /* CSR: users of t, ascending task id */
	int64_t n_edges;
	size_t n_outputs;
	struct goutput *outputs;
	int64_t n_array_tasks;       /* tasks of array families (after fusion) */
	int64_t n_array_unfused;     /* what they would be with every array op materialized */
	int64_t task_work_max;       /* the most working memory one array task holds (bytes, an estimate) */
	size_t n_notes;              /* decisions made while building ("d: distances on the CPU (...)"), */
	const char **notes;          /* shown by --verbose; arena memory */
	struct csv_input **inputs;   /* CSV inputs of frame nodes (their spill copies go with graph_free) */
	size_t n_inputs;
};

/* How to build: everything besides the spec. */
struct graph_opts {
	const char *const *o_overrides; /* "NAME=PATH" from -o (a name not among the outputs adds it) */
	size_t n_overrides;
	uint64_t chunk_bytes;           /* "auto" array chunks (0: 128 MiB) */
	uint64_t mem_limit;             /* 0: unknown; sizes distance tiles and CSV blocks */
	const char *spill_dir;          /* where stdin and decompressed CSV input are copied (NULL: $TMPDIR or /tmp) */
	int jobs;                       /* the run's workers: threads for scanning CSV files, and what array
					   tasks may hold together (0: 1) */
	int out_format;                 /* frame outputs: -1 by the path's extension, else enum table_format */
	const char *const *targets;     /* the run's TARGETs: a whole array among them that no output
					   writes is materialized and printed to "-" */
	size_t n_targets;
};

/*
 * graph_build() : expands every node of @s into tasks and edges, checks ops,
 * references and cycles; expression nodes become array or frame families
 * (fused where possible), as @o (NULL: defaults) says. CSV inputs are
 * opened (and stdin read) here. NULL and a located *e (ERR_SPEC; ERR_RUN
 * for an input that cannot be read) on error.
 */
struct graph *graph_build(struct spec *s, const struct graph_opts *o, struct err *e);
void graph_free(struct graph *g);

/* graph_resolve_target() : "name" or "name[k]" (k may be negative) -> a range of
 * tasks. @return 0; -1 no such node; -2 malformed; -3 member out of range. */
int graph_resolve_target(const struct graph *g, const char *text, int64_t *first, int64_t *n,
			 const char **node_name);
/* graph_task_name() : "load[17]", "reference", "best.l1[3]" into @out. */
void graph_task_name(const struct graph *g, int64_t t, char *out, size_t out_len);
/* graph_find_node() : index of node @name or -1. */
int64_t graph_find_node(const struct graph *g, const char *name);

/* A plan: what one run computes and in which order. */
struct plan {
	int64_t n_tasks;       /* = graph's */
	uint8_t *keep;         /* 1: needed by a requested output or target */
	int64_t n_keep, n_keep_edges;
	int64_t *prio;         /* static order position of each kept task (lower runs first) */
	int64_t *order;        /* kept tasks in static order */
	int64_t depth;         /* longest dependency chain among kept tasks, in tasks */
	size_t n_outputs;      /* outputs to write in this run, in the order listed */
	struct goutput *outputs; /* borrowed from the graph, or targets without an output ("-") */
};

/*
 * plan_make() : culls to @targets ("name" or "name[k]"; none: every output,
 * or every node with no users when there are no outputs) and orders the kept
 * tasks depth-first from the outputs, so that a branch is finished before new
 * roots are opened (dask.order's goal). -1 and *e (ERR_USAGE) on an unknown target.
 */
int plan_make(struct plan *p, const struct graph *g, const char *const *targets, size_t n_targets,
	      struct err *e);
void plan_release(struct plan *p);

/* graph_write_dot() / graph_write_json() : the kept part of the graph. */
int graph_write_dot(const struct graph *g, const struct plan *p, FILE *f);
int graph_write_json(const struct graph *g, const struct plan *p, FILE *f);

#endif
