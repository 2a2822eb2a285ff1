/* SPDX-License-Identifier: MIT */
/*
 * pool: the local executor, N worker threads. Two queues, each under one
 * mutex with a condvar (libuv's threadpool, redis' bio): tasks go in, the
 * scheduler waits on completions. Workers never touch scheduler state.
 */
#include "sched/sched.h"
#include "util/xalloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pool {
	struct executor base;
	struct run_ctx *rc;
	pthread_t *threads;
	int n_threads;
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;
	int64_t *queue;        /* ring of task ids */
	size_t q_head, q_len, q_cap;
	struct completion *done;
	size_t n_done, cap_done;
	bool shutdown, woken;
};

struct worker_arg {
	struct pool *p;
	int id;
};

static void *worker_main(void *arg)
{
	struct worker_arg *wa = arg;
	struct pool *p = wa->p;
	int id = wa->id;
	free(wa);
	struct completion c;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->q_len && !p->shutdown)
			pthread_cond_wait(&p->work_cv, &p->mu);
		if (!p->q_len && p->shutdown)
			break;
		int64_t t = p->queue[p->q_head];
		p->q_head = (p->q_head + 1) % p->q_cap;
		p->q_len--;
		pthread_mutex_unlock(&p->mu);

		run_task(p->rc, t, id, &c);

		pthread_mutex_lock(&p->mu);
		XGROW(p->done, p->cap_done, p->n_done + 1);
		p->done[p->n_done++] = c;
		pthread_cond_signal(&p->done_cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void pool_submit(struct executor *x, int64_t t)
{
	struct pool *p = (struct pool *)x;
	pthread_mutex_lock(&p->mu);
	if (p->q_len == p->q_cap) {
		size_t cap = p->q_cap ? p->q_cap * 2 : 64;
		int64_t *q = xmalloc(cap * sizeof *q);
		for (size_t i = 0; i < p->q_len; i++)
			q[i] = p->queue[(p->q_head + i) % p->q_cap];
		free(p->queue);
		p->queue = q;
		p->q_head = 0;
		p->q_cap = cap;
	}
	p->queue[(p->q_head + p->q_len++) % p->q_cap] = t;
	pthread_cond_signal(&p->work_cv);
	pthread_mutex_unlock(&p->mu);
}

static size_t pool_wait(struct executor *x, struct completion *out, size_t max, int timeout_ms)
{
	struct pool *p = (struct pool *)x;
	pthread_mutex_lock(&p->mu);
	if (!p->n_done && !p->woken && timeout_ms > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += timeout_ms / 1000;
		ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_sec++, ts.tv_nsec -= 1000000000L;
		while (!p->n_done && !p->woken)
			if (pthread_cond_timedwait(&p->done_cv, &p->mu, &ts) == ETIMEDOUT)
				break;
	}
	p->woken = false;
	size_t n = p->n_done < max ? p->n_done : max;
	if (n) {
		memcpy(out, p->done, n * sizeof *out);
		memmove(p->done, p->done + n, (p->n_done - n) * sizeof *p->done);
		p->n_done -= n;
	}
	pthread_mutex_unlock(&p->mu);
	return n;
}

static void pool_wake(struct executor *x)
{
	struct pool *p = (struct pool *)x;
	pthread_mutex_lock(&p->mu);
	p->woken = true;
	pthread_cond_broadcast(&p->done_cv);
	pthread_mutex_unlock(&p->mu);
}

static void pool_cancel(struct executor *x)
{
	struct pool *p = (struct pool *)x;
	atomic_store(&p->rc->cancel, 1);
	/* Tasks not started yet are dropped: they complete as cancelled. */
	pthread_mutex_lock(&p->mu);
	while (p->q_len) {
		int64_t t = p->queue[p->q_head];
		p->q_head = (p->q_head + 1) % p->q_cap;
		p->q_len--;
		struct completion c;
		memset(&c, 0, sizeof c);
		err_init(&c.err);
		c.task = t;
		c.rc = -1;
		c.worker = -1;
		err_run(&c.err, NULL, "cancelled");
		XGROW(p->done, p->cap_done, p->n_done + 1);
		p->done[p->n_done++] = c;
	}
	pthread_cond_broadcast(&p->done_cv);
	pthread_mutex_unlock(&p->mu);
}

static void pool_free(struct executor *x)
{
	struct pool *p = (struct pool *)x;
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->shutdown = true;
	pthread_cond_broadcast(&p->work_cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work_cv);
	pthread_cond_destroy(&p->done_cv);
	free(p->threads);
	free(p->queue);
	free(p->done);
	free(p);
}

static const struct executor_vt pool_vt = { pool_submit, pool_wait, pool_wake, pool_cancel, pool_free };

struct executor *pool_new(struct run_ctx *rc, int n)
{
	struct pool *p = xcalloc(1, sizeof *p);
	p->base.vt = &pool_vt;
	p->rc = rc;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work_cv, NULL);
	pthread_cond_init(&p->done_cv, NULL);
	p->threads = xcalloc((size_t)n, sizeof *p->threads);
	for (int i = 0; i < n; i++) {
		struct worker_arg *wa = xmalloc(sizeof *wa);
		wa->p = p;
		wa->id = i;
		if (pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
			free(wa);
			break;
		}
		p->n_threads++;
	}
	return &p->base;
}
