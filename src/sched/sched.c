/* SPDX-License-Identifier: MIT */
/*
 * sched: the main loop. One thread (the caller's) owns every piece of run
 * state below; executors only see task ids going out and completions coming
 * back. See sched.h for the policy.
 */
#include "sched/sched_int.h"
#include "util/arena.h"
#include "util/cleanup.h"
#include "util/text.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A binary min-heap of task ids keyed by static order. */
struct heap {
	int64_t *v;
	size_t n, cap;
	const int64_t *key;
};

static void heap_push(struct heap *h, int64_t t)
{
	XGROW(h->v, h->cap, h->n + 1);
	size_t i = h->n++;
	while (i) {
		size_t parent = (i - 1) / 2;
		if (h->key[h->v[parent]] <= h->key[t])
			break;
		h->v[i] = h->v[parent];
		i = parent;
	}
	h->v[i] = t;
}

static int64_t heap_pop(struct heap *h)
{
	int64_t top = h->v[0], last = h->v[--h->n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->key[h->v[c + 1]] < h->key[h->v[c]])
			c++;
		if (h->key[h->v[c]] >= h->key[last])
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
	return top;
}

struct task_rec {
	int worker;
	double start, end;
	uint64_t in_bytes, out_bytes;
};

struct events {
	pthread_mutex_t mu;
	struct store_event *v;
	size_t n, cap;
};

static void on_store_event(void *arg, const struct store_event *ev)
{
	struct events *evs = arg;
	pthread_mutex_lock(&evs->mu);
	XGROW(evs->v, evs->cap, evs->n + 1);
	evs->v[evs->n++] = *ev;
	pthread_mutex_unlock(&evs->mu);
}

struct run {
	struct run_ctx rc;
	struct executor *x;
	const struct graph *g;
	const struct plan *p;
	int64_t *indeg, *refs, *next_user;
	int64_t *users_by_prio; /* per task: its kept users, in static order (CSR like g->use_off) */
	uint8_t *done;
	struct heap ready_roots, ready_inner;
	struct out_state *outs;
	struct writer *writer;
	struct task_rec *recs;
	struct events events;
	int64_t n_done, running;
	int64_t roots_running, roots_done; /* sources, for admission */
	uint64_t root_bytes;               /* output bytes of finished sources */
	double last_draw;
	mode_t umask;
};

static void wake_executor(void *arg)
{
	struct executor *x = arg;
	x->vt->wake(x);
}

/* The chunk's next reader in static order, for the store's eviction choice. */
static void update_next_use(struct run *r, int64_t d)
{
	const struct graph *g = r->g;
	int64_t i = r->next_user[d], end = g->use_off[d + 1];
	while (i < end && (r->users_by_prio[i] < 0 || r->done[r->users_by_prio[i]]))
		i++;
	r->next_user[d] = i;
	store_set_next_use(r->rc.store, d, i < end ? r->p->prio[r->users_by_prio[i]] : INT64_MAX);
}

static int cmp_prio_ctx_qsort(const void *a, const void *b, void *ctx)
{
	const int64_t *prio = ctx;
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	int64_t px = x < 0 ? INT64_MAX : prio[x], py = y < 0 ? INT64_MAX : prio[y];
	return (px > py) - (px < py);
}

static int open_outputs(struct run *r, struct err *e)
{
	const struct plan *p = r->p;
	r->outs = xcalloc(p->n_outputs ? p->n_outputs : 1, sizeof *r->outs);
	for (size_t i = 0; i < p->n_outputs; i++) {
		struct out_state *os = &r->outs[i];
		const char *path = p->outputs[i].path;
		os->o = &p->outputs[i];
		os->store = r->rc.store;
		os->fd = -1;
		if (!strcmp(path, "-")) {
			os->fd = STDOUT_FILENO;
			continue;
		}
		if (os->o->format == OUT_ARRAY_NPY) {
			const struct anode *a = os->o->array;
			if (!(os->npy = npy_writer_new(path, a->dtype, a->ndim, a->shape, e))) {
				err_set_loc(e, p->outputs[i].loc);
				return -1;
			}
			continue;
		}
		/* The temporary file sits beside the target so rename() is atomic. */
		char *copy = xstrdup(path), *copy2 = xstrdup(path);
		os->tmp = xasprintf("%s/.%s.tessera-XXXXXX", dirname(copy), basename(copy2));
		free(copy);
		free(copy2);
		os->fd = mkostemp(os->tmp, O_CLOEXEC);
		if (os->fd < 0) {
			err_sys(e, NULL, "cannot write output '%s'", path);
			err_set_loc(e, p->outputs[i].loc);
			free(os->tmp);
			os->tmp = NULL;
			return -1;
		}
		cleanup_add_file(os->tmp);
	}
	return 0;
}

/* Hands the writer whatever output members are ready. The writer keeps its
 * queue's order, so stdout outputs come out in the order listed as long as
 * one is queued whole before the next starts. */
static void queue_ready_outputs(struct run *r)
{
	const struct plan *p = r->p;
	bool stdout_blocked = false;
	for (size_t i = 0; i < p->n_outputs; i++) {
		const struct goutput *o = &p->outputs[i];
		struct out_state *os = &r->outs[i];
		bool is_stdout = os->fd == STDOUT_FILENO;
		if (is_stdout && stdout_blocked)
			continue;
		while (os->queued < o->n_tasks && r->done[o->task_first + os->queued]) {
			writer_queue(r->writer, i, o->task_first + os->queued, os);
			os->queued++;
		}
		if (is_stdout && os->queued < o->n_tasks)
			stdout_blocked = true;
	}
}

/* Takes the writer's finished jobs: their chunks are released. */
static int take_writes(struct run *r, struct err *e)
{
	struct write_done d[64];
	size_t n;
	int rc = 0;
	while ((n = writer_take(r->writer, d, 64)) > 0) {
		for (size_t i = 0; i < n; i++) {
			if (d[i].rc < 0) {
				if (rc == 0) {
					*e = d[i].err;
					char name[128];
					graph_task_name(r->g, d[i].task, name, sizeof name);
					snprintf(e->task, sizeof e->task, "%s", name);
				}
				rc = -1;
				continue;
			}
			store_release(r->rc.store, d[i].task);
			r->outs[d[i].out].written++;
		}
	}
	return rc;
}

static void close_outputs(struct run *r, bool commit, struct err *e)
{
	for (size_t i = 0; i < r->p->n_outputs; i++) {
		struct out_state *os = &r->outs[i];
		bool summary = commit && !r->rc.o->quiet && os->o->array && strcmp(os->o->path, "-");
		char line[512];
		if (summary)
			output_summary(os, run_clock(&r->rc), line, sizeof line);
		if (os->npy) {
			if (commit) {
				if (npy_writer_commit(os->npy, e) < 0)
					commit = false;
				else if (summary)
					fprintf(stderr, "tessera: %s\n", line);
			} else {
				npy_writer_abort(os->npy);
			}
			os->npy = NULL;
		}
		output_release(os);
		if (!os->tmp)
			continue;
		if (commit && fsync(os->fd) != 0 && errno != EINVAL)
			commit = false, err_sys(e, NULL, "cannot write output '%s'", r->p->outputs[i].path);
		if (close(os->fd) != 0 && commit)
			commit = false, err_sys(e, NULL, "cannot write output '%s'", r->p->outputs[i].path);
		if (commit) {
			/* mkstemp made it 0600; give it what a plain create would. */
			chmod(os->tmp, 0666 & ~r->umask);
			if (rename(os->tmp, r->p->outputs[i].path) != 0) {
				err_sys(e, NULL, "cannot rename output into '%s'", r->p->outputs[i].path);
			} else {
				cleanup_forget(os->tmp);
				if (summary)
					fprintf(stderr, "tessera: %s\n", line);
			}
		} else {
			unlink(os->tmp);
			cleanup_forget(os->tmp);
		}
		free(os->tmp);
		os->tmp = NULL;
	}
}

static void draw_bar(struct run *r, bool final)
{
	double now = run_clock(&r->rc);
	if (!final && now - r->last_draw < 0.1)
		return;
	r->last_draw = now;
	struct store_stats st;
	store_get_stats(r->rc.store, &st);
	char mem[32], spilled[32], line[256], eta[32] = "--:--";
	format_size(st.mem_bytes, mem, sizeof mem);
	format_size(st.spilled_bytes, spilled, sizeof spilled);
	int64_t total = r->p->n_keep;
	if (r->n_done > 0 && r->n_done < total) {
		double left = now / (double)r->n_done * (double)(total - r->n_done);
		snprintf(eta, sizeof eta, "%02d:%02d", (int)left / 60, (int)left % 60);
	}
	int width = 24, fill = total ? (int)(width * r->n_done / total) : width;
	char bar[32];
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = '\0';
	snprintf(line, sizeof line, "[%s] %" PRId64 "/%" PRId64 " tasks, %" PRId64 " running, mem %s, spilled %s, %02d:%02d, ETA %s",
		 bar, r->n_done, total, r->running, mem, spilled, (int)now / 60, (int)now % 60, eta);
	pthread_mutex_lock(&r->rc.log_lock);
	fprintf(stderr, "\r\033[K%s", line);
	if (final) {
		fputc('\n', stderr);
		r->rc.bar_shown = false;
	} else {
		r->rc.bar_shown = true;
	}
	fflush(stderr);
	pthread_mutex_unlock(&r->rc.log_lock);
}

static void put_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static int write_report(struct run *r, const char *path, int status, struct err *e)
{
	char *tmp = xasprintf("%s.tessera-tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		free(tmp);
		return err_sys(e, NULL, "cannot write report '%s'", path);
	}
	struct store_stats st;
	store_get_stats(r->rc.store, &st);
	fprintf(f, "{\"status\": %d, \"jobs\": %d, \"memory_limit\": %" PRIu64 ", \"elapsed\": %.6f,\n",
		status, r->rc.o->jobs, r->rc.o->mem_limit, run_clock(&r->rc));
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	fprintf(f, " \"peak_memory\": %" PRIu64 ", \"max_rss\": %" PRIu64 ", \"spilled_bytes\": %" PRIu64
		   ", \"spills\": %" PRIu64 ", \"reloads\": %" PRIu64 ",\n \"tasks\": [",
		st.peak_bytes, (uint64_t)ru.ru_maxrss * 1024, st.spilled_bytes, st.n_spills, st.n_reloads);
	char name[128];
	bool first = true;
	for (int64_t i = 0; i < r->p->n_keep; i++) {
		int64_t t = r->p->order[i];
		if (!r->done[t])
			continue;
		struct task_rec *tr = &r->recs[t];
		graph_task_name(r->g, t, name, sizeof name);
		fprintf(f, "%s\n  {\"name\": ", first ? "" : ",");
		put_json_string(f, name);
		fprintf(f, ", \"worker\": %d, \"start\": %.6f, \"end\": %.6f, \"input_bytes\": %" PRIu64
			   ", \"output_bytes\": %" PRIu64 "}",
			tr->worker, tr->start, tr->end, tr->in_bytes, tr->out_bytes);
		first = false;
	}
	fputs("],\n \"spill_events\": [", f);
	pthread_mutex_lock(&r->events.mu);
	for (size_t i = 0; i < r->events.n; i++) {
		const struct store_event *ev = &r->events.v[i];
		graph_task_name(r->g, ev->id, name, sizeof name);
		fprintf(f, "%s\n  {\"kind\": \"%s\", \"task\": ", i ? "," : "", ev->kind == STORE_SPILL ? "spill" : "reload");
		put_json_string(f, name);
		fprintf(f, ", \"bytes\": %" PRIu64 ", \"disk_bytes\": %" PRIu64 ", \"compressed\": %s, \"start\": %.6f, \"end\": %.6f}",
			ev->bytes, ev->disk_bytes, ev->compressed ? "true" : "false", ev->start, ev->end);
	}
	pthread_mutex_unlock(&r->events.mu);
	fputs("]}\n", f);
	int bad = ferror(f) | (fclose(f) != 0);
	if (bad || rename(tmp, path) != 0) {
		unlink(tmp);
		free(tmp);
		return err_sys(e, NULL, "cannot write report '%s'", path);
	}
	free(tmp);
	return 0;
}

static void finish_task(struct run *r, const struct completion *c)
{
	const struct graph *g = r->g;
	int64_t t = c->task;
	r->done[t] = 1;
	r->n_done++;
	r->recs[t] = (struct task_rec){ c->worker, c->start, c->end, c->in_bytes, c->out_bytes };
	if (r->rc.o->verbose) {
		char name[128], size[32];
		graph_task_name(g, t, name, sizeof name);
		format_size(c->out_bytes, size, sizeof size);
		pthread_mutex_lock(&r->rc.log_lock);
		if (r->rc.bar_shown)
			fputs("\r\033[K", stderr), r->rc.bar_shown = false;
		fprintf(stderr, "tessera: done %s in %.3fs, %s\n", name, c->end - c->start, size);
		pthread_mutex_unlock(&r->rc.log_lock);
	}
	for (int64_t k = g->dep_off[t]; k < g->dep_off[t + 1]; k++) {
		int64_t d = g->deps[k];
		update_next_use(r, d);
		store_release(r->rc.store, d);
	}
	for (int64_t k = g->use_off[t]; k < g->use_off[t + 1]; k++) {
		int64_t u = g->users[k];
		if (!r->p->keep[u])
			continue;
		if (--r->indeg[u] == 0) {
			heap_push(&r->ready_inner, u);
			for (int64_t j = g->dep_off[u]; j < g->dep_off[u + 1]; j++)
				store_prefetch(r->rc.store, g->deps[j]);
		}
	}
	update_next_use(r, t);
}

int sched_run(const struct graph *g, const struct plan *p, const struct sched_opts *o,
	      struct executor *(*make_exec)(struct run_ctx *rc, void *arg), void *exec_arg,
	      struct err *e)
{
	struct run r;
	memset(&r, 0, sizeof r);
	r.g = g;
	r.p = p;
	r.rc.g = g;
	r.rc.p = p;
	r.rc.o = o;
	pthread_mutex_init(&r.rc.log_lock, NULL);
	pthread_mutex_init(&r.events.mu, NULL);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r.rc.t0 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	if (o->verbose)
		for (size_t i = 0; i < g->n_notes; i++)
			fprintf(stderr, "tessera: %s\n", g->notes[i]);
	uint64_t spill_at = o->mem_limit / 4;
	r.rc.spill_at = (size_t)(spill_at > (256u << 20) ? (256u << 20) : spill_at < 4096 ? 4096 : spill_at);
	int64_t nt = g->n_tasks;
	int rc = -1, status = 0;
	struct completion *comps = xmalloc(256 * sizeof *comps);

	/* The limit is the process's: with array tasks, which work inside it,
	 * results get what is left after the program itself (libraries, BLAS
	 * buffers, stacks: about 16 MiB) and the running tasks (each worker
	 * holds one), and at least a quarter of it. Shell tasks work in their
	 * own processes. */
	uint64_t reserve = g->task_work_max ? (16u << 20) + (uint64_t)g->task_work_max * (uint64_t)o->jobs : 0;
	if (reserve > o->mem_limit / 4 * 3)
		reserve = o->mem_limit / 4 * 3;
	/* Tasks at once: as many as that reserve holds (at least one); where it had to be cut to fit
	 * the limit, more workers would take their memory from the results and go past the limit. */
	int max_running = o->jobs;
	if (g->task_work_max && (16u << 20) + (uint64_t)g->task_work_max * (uint64_t)o->jobs > reserve) {
		uint64_t fit = reserve > (16u << 20) ? (reserve - (16u << 20)) / (uint64_t)g->task_work_max : 0;
		max_running = fit < 1 ? 1 : fit < (uint64_t)o->jobs ? (int)fit : o->jobs;
	}
	/* A worker keeps its tasks' arena blocks for its next task (fresh pages cost a fault and
	 * the kernel's zeroing each) within its share of that reserve, held while it runs anyway;
	 * none where the workers are cut, as the idle workers' blocks would come on top of the
	 * running tasks'. */
	uint64_t keep = max_running < o->jobs ? 0 : reserve > (16u << 20) ? (reserve - (16u << 20)) / (uint64_t)(o->jobs > 0 ? o->jobs : 1) : 0;
	arena_cache_limit((size_t)(keep < (256u << 20) ? keep : (256u << 20)));
	struct store_opts so = { o->mem_limit - reserve, o->spill_dir, 1 };
	r.rc.store = store_new(&so, nt, e);
	if (!r.rc.store)
		goto out;
	if (o->report_path)
		store_on_event(r.rc.store, on_store_event, &r.events);

	size_t n1 = (size_t)(nt ? nt : 1);
	r.indeg = xmalloc(n1 * sizeof *r.indeg);
	r.refs = xcalloc(n1, sizeof *r.refs);
	r.next_user = xmalloc(n1 * sizeof *r.next_user);
	r.done = xcalloc(n1, 1);
	r.recs = xcalloc(n1, sizeof *r.recs);
	r.users_by_prio = xmalloc((size_t)(g->n_edges ? g->n_edges : 1) * sizeof *r.users_by_prio);
	r.ready_roots.key = p->prio;
	r.ready_inner.key = p->prio;
	for (int64_t t = 0; t < nt; t++) {
		r.next_user[t] = g->use_off[t];
		for (int64_t k = g->use_off[t]; k < g->use_off[t + 1]; k++) {
			int64_t u = g->users[k];
			r.users_by_prio[k] = p->keep[u] ? u : -1;
			if (p->keep[u])
				r.refs[t]++;
		}
		if (g->use_off[t + 1] - g->use_off[t] > 1)
			qsort_r(r.users_by_prio + g->use_off[t], (size_t)(g->use_off[t + 1] - g->use_off[t]),
				sizeof(int64_t), cmp_prio_ctx_qsort, p->prio);
	}
	for (size_t i = 0; i < p->n_outputs; i++)
		for (int64_t t = p->outputs[i].task_first; t < p->outputs[i].task_first + p->outputs[i].n_tasks; t++)
			r.refs[t]++;
	for (int64_t i = 0; i < p->n_keep; i++) {
		int64_t t = p->order[i];
		r.indeg[t] = g->dep_off[t + 1] - g->dep_off[t];
		store_set_refs(r.rc.store, t, r.refs[t]);
		if (r.refs[t])
			update_next_use(&r, t);
		if (!r.indeg[t])
			heap_push(&r.ready_roots, t);
	}
	r.umask = umask(0);
	umask(r.umask);
	if (open_outputs(&r, e) < 0)
		goto out;

	r.x = make_exec ? make_exec(&r.rc, exec_arg) : pool_new(&r.rc, o->jobs);
	sig_set_wake(wake_executor, r.x);
	if (!(r.writer = writer_new(r.x))) {
		err_sys(e, NULL, "cannot start the output writer");
		goto out;
	}
	bool stopping = false;
	uint64_t limit = store_limit(r.rc.store);
	for (;;) {
		/* Dispatch in static order; sources only while memory allows. */
		while (!stopping && r.running < max_running) {
			struct store_stats st;
			bool roots_ok = r.ready_roots.n > 0;
			if (roots_ok && r.running > 0) {
				/* Memory now plus what the sources in flight will likely add. */
				store_get_stats(r.rc.store, &st);
				uint64_t avg = r.roots_done ? r.root_bytes / (uint64_t)r.roots_done : 0;
				roots_ok = st.mem_bytes + (uint64_t)r.roots_running * avg < limit;
			}
			struct heap *h = NULL;
			if (r.ready_inner.n && (!roots_ok || p->prio[r.ready_inner.v[0]] < p->prio[r.ready_roots.v[0]]))
				h = &r.ready_inner;
			else if (roots_ok)
				h = &r.ready_roots;
			if (!h)
				break;
			int64_t t = heap_pop(h);
			const struct op *op = g->nodes[g->tasks[t].node].op;
			if (op->flags & OP_CHEAP) {
				/* Microseconds of work: cheaper here than a trip through the pool. */
				run_task(&r.rc, t, -1, &comps[0]);
				if (comps[0].rc < 0) {
					*e = comps[0].err;
					stopping = true;
					r.x->vt->cancel(r.x);
					break;
				}
				finish_task(&r, &comps[0]);
				continue;
			}
			r.x->vt->submit(r.x, t);
			r.running++;
			if (h == &r.ready_roots)
				r.roots_running++;
		}
		if (!stopping)
			queue_ready_outputs(&r);
		if (take_writes(&r, e) < 0 && !stopping) {
			stopping = true;
			r.x->vt->cancel(r.x);
		}
		if (!stopping && r.n_done == p->n_keep && !r.running && !writer_pending(r.writer))
			break;
		if (stopping && !r.running)
			break;
		if (!r.running && !stopping && r.n_done < p->n_keep) {
			/* Nothing runs and nothing may start: a bug, not a hang. */
			err_run(e, NULL, "internal error: no task can run (%" PRId64 " of %" PRId64 " done)", r.n_done, p->n_keep);
			stopping = true;
			break;
		}
		size_t n = r.x->vt->wait(r.x, comps, 256, 100);
		for (size_t i = 0; i < n; i++) {
			r.running--;
			if (g->dep_off[comps[i].task + 1] == g->dep_off[comps[i].task]) {
				r.roots_running--;
				r.roots_done++;
				r.root_bytes += comps[i].out_bytes;
			}
			if (comps[i].rc < 0) {
				if (!stopping) {
					*e = comps[i].err;
					stopping = true;
					r.x->vt->cancel(r.x);
				}
				continue;
			}
			if (!stopping)
				finish_task(&r, &comps[i]);
		}
		int sig = sig_received();
		if (sig && !stopping) {
			err_init(e);
			e->code = 128 + sig;
			snprintf(e->msg, sizeof e->msg, "interrupted by %s", sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal");
			stopping = true;
			r.x->vt->cancel(r.x);
		}
		if (!stopping && store_take_error(r.rc.store, e) < 0) {
			stopping = true;
			r.x->vt->cancel(r.x);
		}
		if (o->progress)
			draw_bar(&r, false);
	}
	if (!stopping && store_take_error(r.rc.store, e) < 0)
		stopping = true;
	if (o->progress)
		draw_bar(&r, true);
	rc = stopping ? -1 : 0;
out:
	status = rc ? (e->code ? (int)e->code : 1) : 0;
	if (r.writer) {
		writer_abort(r.writer); /* nothing is left on success; on failure, stop */
		writer_free(r.writer);
	}
	sig_set_wake(NULL, NULL);
	if (r.x)
		r.x->vt->free(r.x); /* the workers exit: their kept blocks go */
	arena_cache_limit(0);
	arena_cache_trim();
	if (r.outs) {
		close_outputs(&r, rc == 0, e);
		if (rc == 0 && err_set(e))
			rc = -1;
	}
	if (o->report_path && r.rc.store) {
		struct err re;
		err_init(&re);
		if (write_report(&r, o->report_path, status, &re) < 0 && rc == 0) {
			*e = re;
			rc = -1;
		}
	}
	if (rc == 0 && fflush(stdout) != 0) {
		err_sys(e, NULL, "cannot write to stdout");
		rc = -1;
	}
	store_free(r.rc.store);
	free(r.indeg);
	free(r.refs);
	free(r.next_user);
	free(r.done);
	free(r.recs);
	free(r.users_by_prio);
	free(r.ready_roots.v);
	free(r.ready_inner.v);
	free(r.outs);
	free(r.events.v);
	free(comps);
	pthread_mutex_destroy(&r.rc.log_lock);
	pthread_mutex_destroy(&r.events.mu);
	return rc;
}
