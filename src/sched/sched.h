/* SPDX-License-Identifier: MIT */
/*
 * sched: runs a plan. The scheduler is the main thread and the only writer
 * of run state (ready queue, counters, refs); executors run tasks and post
 * completions back. Ready tasks are taken in the plan's static order; tasks
 * with no inputs (sources) are admitted only while the memory budget
 * allows, so producers cannot run far ahead of consumers. A result is
 * released when its last reader is done; outputs are written as their tasks
 * finish (stdout outputs in the order listed) into temporary files renamed
 * into place once the whole run has succeeded.
 *
 * Executors sit behind struct executor so the local thread pool, a fake
 * synchronous one (tests) and later an MPI one are interchangeable.
 */
#ifndef TESSERA_SCHED_SCHED_H
#define TESSERA_SCHED_SCHED_H

#include "graph/graph.h"
#include "store/store.h"
#include "util/err.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct sched_opts {
	int jobs;               /* worker threads, >= 1 */
	uint64_t mem_limit;     /* bytes */
	const char *spill_dir;
	bool quiet, verbose;
	bool progress;          /* draw the progress bar (stderr is a terminal) */
	const char *report_path; /* NULL or a JSON file to write */
};

/* What an executor reports for one finished task. */
struct completion {
	int64_t task;
	int rc;              /* 0 or -1 with @err */
	struct err err;
	int worker;
	double start, end;   /* seconds since the run started */
	uint64_t in_bytes, out_bytes;
};

struct executor;
struct executor_vt {
	/* submit() : start task @t; its inputs are all in the store. */
	void (*submit)(struct executor *x, int64_t t);
	/* wait() : up to @max completions, waiting at most @timeout_ms for the first. */
	size_t (*wait)(struct executor *x, struct completion *out, size_t max, int timeout_ms);
	/* wake() : make a wait() return now (any thread, e.g. the signal thread). */
	void (*wake)(struct executor *x);
	/* cancel() : ask running tasks to stop; they still complete (with an error). */
	void (*cancel)(struct executor *x);
	void (*free)(struct executor *x);
};
struct executor {
	const struct executor_vt *vt;
};

/* The context every executor runs tasks in; owned by sched_run(). */
struct run_ctx {
	const struct graph *g;
	const struct plan *p;
	struct store *store;
	const struct sched_opts *o;
	size_t spill_at;            /* results past this many bytes stream to disk */
	atomic_int cancel;
	double t0;                  /* monotonic seconds at the start */
	pthread_mutex_t log_lock;   /* one line at a time on stderr */
	bool bar_shown;             /* a progress bar is on screen (under log_lock) */
};

/* run_task() : runs task @t on the calling thread: pins its inputs, runs the
 * op (with the node's retries), puts the result in the store. Fills *c. */
void run_task(struct run_ctx *rc, int64_t t, int worker, struct completion *c);
/* log_task_line() : prints "[task] line" on stderr, clearing the bar first. */
void log_task_line(void *ctx, const char *task, const char *line);
double run_clock(const struct run_ctx *rc);

/* The local executor: @n worker threads running run_task(). */
struct executor *pool_new(struct run_ctx *rc, int n);

/*
 * sched_run_with() : runs plan @p of @g with executor @x (NULL: a local pool of
 * o->jobs threads) and writes the plan's outputs. 0, or -1 with *e: ERR_RUN
 * for a failed task (its name and location in e), 128+N after signal N.
 */
int sched_run(const struct graph *g, const struct plan *p, const struct sched_opts *o,
	      struct executor *(*make_exec)(struct run_ctx *rc, void *arg), void *exec_arg,
	      struct err *e);

#endif
