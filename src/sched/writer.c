/* SPDX-License-Identifier: MIT */
/* writer: the output-writing thread (see sched_int.h). */
#include "sched/sched_int.h"
#include "util/xalloc.h"

#include <stdlib.h>
#include <string.h>

struct write_job {
	size_t out;
	int64_t task;
	struct out_state *os;
};

struct writer {
	struct executor *x;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct write_job *q; /* FIFO: q[head .. head + n) */
	size_t head, n, cap;
	bool busy, stop;
	struct write_done *done;
	size_t n_done, cap_done;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->n && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->n)
			break;
		struct write_job job = w->q[w->head];
		w->head++;
		w->n--;
		w->busy = true;
		pthread_mutex_unlock(&w->mu);

		struct write_done d = { .out = job.out, .task = job.task };
		err_init(&d.err);
		d.rc = output_write(job.os, job.task, &d.err);

		pthread_mutex_lock(&w->mu);
		w->busy = false;
		XGROW(w->done, w->cap_done, w->n_done + 1);
		w->done[w->n_done++] = d;
		pthread_mutex_unlock(&w->mu);
		w->x->vt->wake(w->x);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct writer *writer_new(struct executor *x)
{
	struct writer *w = xcalloc(1, sizeof *w);
	w->x = x;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		return NULL;
	}
	return w;
}

void writer_queue(struct writer *w, size_t out, int64_t task, struct out_state *os)
{
	pthread_mutex_lock(&w->mu);
	if (w->head && w->head + w->n == w->cap) { /* slide down before growing */
		memmove(w->q, w->q + w->head, w->n * sizeof *w->q);
		w->head = 0;
	}
	XGROW(w->q, w->cap, w->head + w->n + 1);
	w->q[w->head + w->n++] = (struct write_job){ out, task, os };
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

size_t writer_take(struct writer *w, struct write_done *d, size_t max)
{
	pthread_mutex_lock(&w->mu);
	size_t n = w->n_done < max ? w->n_done : max;
	if (n) {
		memcpy(d, w->done, n * sizeof *d);
		memmove(w->done, w->done + n, (w->n_done - n) * sizeof *w->done);
		w->n_done -= n;
	}
	pthread_mutex_unlock(&w->mu);
	return n;
}

size_t writer_pending(struct writer *w)
{
	pthread_mutex_lock(&w->mu);
	size_t n = w->n + (w->busy ? 1 : 0) + w->n_done;
	pthread_mutex_unlock(&w->mu);
	return n;
}

void writer_abort(struct writer *w)
{
	pthread_mutex_lock(&w->mu);
	w->n = 0;
	w->head = 0;
	pthread_mutex_unlock(&w->mu);
}

void writer_free(struct writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->q);
	free(w->done);
	free(w);
}
