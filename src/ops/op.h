/* SPDX-License-Identifier: MIT */
/*
 * op: the interface every operation implements, and the registry that
 * lists them. A node of a spec names one op by its key (`run:`, `sql:`,
 * `load:`, `value:`); the graph builder finds it with op_find(), lets its
 * check() validate and pre-digest the option value once per node, and the
 * executor calls its run() once per task on a worker thread.
 *
 * DESIGN: run() gets everything through struct op_task: its inputs (as
 * bytes in memory or as file paths, as the op's flags ask), a sink for its
 * result, and the cancel flag. It must not touch scheduler state. A run()
 * that fails fills the err and returns -1; the executor adds the task name.
 */
#ifndef TESSERA_OPS_OP_H
#define TESSERA_OPS_OP_H

#include "spec/spec.h"
#include "util/err.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

enum op_flags {
	OP_INPUT_PATHS = 1 << 0, /* run() wants inputs as files (shell tools) */
	OP_INPUT_MEM = 1 << 1,   /* run() wants inputs as bytes in memory */
	OP_SOURCE = 1 << 2,      /* produces data from outside the graph (admission-controlled) */
	OP_CHEAP = 1 << 3,       /* microseconds, no I/O: may run on the scheduler thread */
	OP_STREAM_IN = 1 << 4,   /* reads inputs with op_task.copy_input (no pin needed) */
	OP_ARRAY = 1 << 5,       /* an array function: called in expressions, lowered by array/ */
	OP_METHOD = 1 << 6,      /* also callable as a method: x.name(...) passes x first */
};

/* What an array op is; the array layer switches on it (and on op.sub). */
enum op_afn {
	AFN_NONE,
	AFN_CREATE,   /* sub: enum gen_op-like creation kind, see array/array.h */
	AFN_LOAD,     /* load("x.npy", chunks=...) */
	AFN_EW,       /* sub: enum ew_op */
	AFN_REDUCE,   /* sub: enum red_op */
	AFN_ASTYPE,
	AFN_TRANSPOSE,
	AFN_RECHUNK,
	AFN_MATMUL,
	AFN_CONCAT,    /* sub 0: concatenate, 1: stack */
	AFN_RESHAPE,
	AFN_TENSORDOT,
	AFN_PDIST,     /* sub 0: pairwise_distance, 1: cdist */
	AFN_LOAD_VCF,
	AFN_CHOLESKY,
};

/* One input of a task: bytes (OP_INPUT_MEM) or a file (OP_INPUT_PATHS). */
struct op_input {
	const void *data;
	size_t len;
	const char *path;
	int64_t chunk; /* the input's chunk id */
};

/*
 * op_sink: where a task's result goes. Bytes accumulate in memory; past
 * @spill_at bytes they are moved to a file in the spill folder and further
 * bytes are appended there, so a result larger than the memory limit is
 * streamed to disk instead of refused.
 */
struct op_sink {
	char *data;
	size_t len, cap;
	size_t spill_at;   /* bytes; 0: never */
	char *path;        /* non-NULL once the result lives in a file */
	int fd;            /* -1 unless streaming to @path */
	size_t file_len;
	char *(*tmp_path)(void *arg); /* a fresh path in the spill folder (malloc'ed) */
	void *tmp_arg;
};

void op_sink_init(struct op_sink *s, size_t spill_at, char *(*tmp_path)(void *), void *arg);
/* op_sink_write() : append; -1 and *e on a failed file write. */
int op_sink_write(struct op_sink *s, const void *p, size_t n, struct err *e);
/* op_sink_give() : append @p (@n bytes, from malloc), which the sink owns
 * from then on, even on failure; when it is the whole result it is kept as
 * it is rather than copied. -1 and *e as op_sink_write(). */
int op_sink_give(struct op_sink *s, void *p, size_t n, struct err *e);
/* op_sink_to_file() : move what is buffered to a file now; later writes append
 * to it (s->fd). -1 and *e on failure. */
int op_sink_to_file(struct op_sink *s, struct err *e);
/* op_sink_close() : finish writing the file, if any. */
int op_sink_close(struct op_sink *s, struct err *e);
/* op_sink_release() : drops whatever is still owned (and removes the file). */
void op_sink_release(struct op_sink *s);

struct op_task {
	const char *name;       /* display name, e.g. "load[17]" */
	struct loc loc;         /* the node's place in the spec */
	const void *node_data;  /* what check() returned for this node */
	const char *var;        /* the node's foreach variable name, or NULL */
	const char *var_value;  /* this member's value of it, or NULL */
	int64_t member;         /* member index within the family (a reduce step: its index in its level;
				   an array family's task: its index within the family) */
	size_t n_in;
	const struct op_input *in;
	struct op_sink *out;
	double timeout;         /* seconds; 0: none */
	atomic_int *cancel;     /* non-zero: stop as soon as possible */
	/* Shows one line of a task's diagnostic output (stderr of a command). */
	void (*log_line)(void *arg, const char *task, const char *line);
	void *log_arg;
	/* OP_STREAM_IN ops read input k when they want it, one at a time:
	 * pin_input() gives its bytes until unpin_input(); copy_input() streams
	 * them to @fd without loading a spilled input whole. */
	const void *(*pin_input)(void *arg, size_t k, size_t *len, struct err *e);
	void (*unpin_input)(void *arg, size_t k);
	int (*copy_input)(void *arg, size_t k, int fd, struct err *e);
	void *input_arg;
};

/* A build-time context for check(): where to allocate, the spec for ${}. */
struct op_build {
	struct arena *arena;
	struct spec *spec;
};

/*
 * op_check_fn : validates the value under the op's key (@val, located) and
 * the node's other options; returns what run() needs as node_data (arena
 * memory) through *data. 0, or -1 with a located *e.
 */
typedef int (*op_check_fn)(struct op_build *b, const struct doc *node, const struct doc *val,
			   void **data, struct err *e);
typedef int (*op_run_fn)(struct op_task *t, struct err *e);

/* One option an op accepts besides its key, for validation and `tessera ops`. */
struct op_param {
	const char *name;
	const char *help;
};

struct op {
	const char *name;       /* the key that selects it in a node */
	const char *synopsis;   /* "run: COMMAND" */
	const char *help;       /* one line */
	unsigned flags;         /* enum op_flags */
	const struct op_param *params; /* the node keys it accepts besides its own; NULL-ended */
	op_check_fn check;
	op_run_fn run;
	/* OP_ARRAY: parameter names in positional order ('!' first: required), NULL-ended */
	const char *const *args;
	enum op_afn afn;
	int sub;
};

/* The internal op of array families' tasks (chunks, reduction maps and
 * combines); not in the registry, never named in a spec. */
extern const struct op op_array_chunk;
/* The op of frame families' tasks (partitions, partial aggregates, combines). */
extern const struct op op_frame_task;

/* op_find() : the op named @name, or NULL. */
const struct op *op_find(const char *name);
/* op_table_get() : the whole registry, sorted by name. */
const struct op *op_table_get(size_t *n);
/* op_names() : the registry's names, for did_you_mean. */
const char *const *op_names(size_t *n);

#endif
