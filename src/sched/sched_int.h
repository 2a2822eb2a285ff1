/* SPDX-License-Identifier: MIT */
/* sched_int: what the scheduler's files share and nobody else needs. */
#ifndef TESSERA_SCHED_INT_H
#define TESSERA_SCHED_INT_H

#include "sched/sched.h"

/*
 * writer: the thread that copies finished results into the outputs, so a
 * slow consumer (a pipe into less, a slow disk) never stalls the scheduler.
 * Jobs run in the order they were queued, which keeps stdout outputs in the
 * order listed. Each finished job is posted back and the scheduler is woken
 * through the executor; the scheduler then releases the chunk.
 */
struct writer;

/* One output being written: where its bytes go and, for arrays, how. */
struct out_state {
	const struct goutput *o;
	struct store *store;
	int fd;                 /* stdout, or the temporary file; -1 for .npy */
	char *tmp;              /* temporary file beside the target, renamed at the end */
	struct npy_writer *npy; /* OUT_ARRAY_NPY */
	int64_t queued;         /* members handed to the writer (scheduler thread) */
	int64_t written;        /* members the writer has finished (scheduler thread) */
	/* writer thread only: a 2-d text output's row of chunks being assembled */
	double *block_f;
	int64_t *block_i;
	int64_t block_rows;
	/* writer thread only: what the summary line says of an array output */
	double v_min, v_max, v_sum;
	int64_t v_count, v_nan;
};

/* output_write() : writes member @task of an output (on the writer thread). 0, or -1 and *e. */
int output_write(struct out_state *os, int64_t task, struct err *e);
void output_release(struct out_state *os);
/* output_summary() : "wrote d to distances.npy: (629, 629) float64, min 0, mean 12.5, max 31.2; 0.21 s on the CPU". */
void output_summary(const struct out_state *os, double seconds, char *out, size_t len);

struct write_done {
	size_t out;     /* output index */
	int64_t task;
	int rc;         /* 0, or -1 with @err */
	struct err err;
};

struct writer *writer_new(struct executor *x);
/* writer_queue() : write chunk @task into output @os (number @out), after everything queued before. */
void writer_queue(struct writer *w, size_t out, int64_t task, struct out_state *os);
/* writer_take() : finished jobs, up to @max. */
size_t writer_take(struct writer *w, struct write_done *d, size_t max);
/* writer_pending() : jobs queued or running. */
size_t writer_pending(struct writer *w);
/* writer_abort() : drop the jobs not started (they are never reported). */
void writer_abort(struct writer *w);
/* writer_free() : waits for the job in progress, then stops the thread. NULL ok. */
void writer_free(struct writer *w);

#endif
