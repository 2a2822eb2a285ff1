/* SPDX-License-Identifier: MIT */
/*
 * store: chunk state, the memory budget, and eviction. The files themselves
 * are spill.c's business; this file decides which chunk lives where.
 *
 * DESIGN: one mutex (`lock`) guards every field below the "under lock" line
 * of struct store and every struct chunk. Nothing does file I/O or
 * compression under it, with one exception noted at store_write_to() (an
 * open(), never a read or write). Work that runs outside the lock marks the
 * chunk with `io` (spilling, loading, writing a raw copy); while `io` is set:
 *   - the chunk is never dropped: release/unpin leave it and whoever ends
 *     the operation drops it (chunk_settle());
 *   - its `data` is never freed nor replaced, and its `path` never changes;
 *   - others needing its file wait on `changed` instead of starting a
 *     second operation (so a chunk is never loaded or converted twice).
 *
 * Spill while pinned: the I/O thread spills from the chunk's own buffer
 * without taking a pin, since `io` already keeps the buffer alive. A pin
 * taken meanwhile succeeds at once (the bytes are still in memory); when the
 * write ends the I/O thread records the file and frees the buffer only if
 * the chunk is still unpinned, else the chunk stays in memory with a copy on
 * disk and its later eviction costs nothing.
 *
 * Victims: a lazy max-heap keyed by (next_use, len). Each push bumps the
 * chunk's `heap_gen`, and only the entry carrying the current gen counts;
 * stale or no-longer-evictable entries are skipped when they reach the top,
 * and the heap is rebuilt when stale entries outnumber chunks, so each
 * eviction costs O(log n) amortised even with 100,000s of chunks.
 *
 * A failed spill (a full disk) keeps the chunk in memory and out of the
 * heap until its next_use or pins change, so the I/O thread does not retry
 * it in a loop; the error waits for store_take_error(), and a put waiting
 * for room goes on once nothing is left to evict and no spill is under way.
 *
 * Threads: n_io_threads I/O threads, each with its own zstd context, spill
 * while mem_bytes minus the bytes already being spilled exceeds the limit,
 * and otherwise serve prefetch requests. Callers hold the lock briefly. Only
 * store_put_take(may_wait), and pins, pin_path and write_to of chunks that
 * are on disk only or busy, wait; the scheduler thread's calls never wait
 * for I/O (at most a release unlinks a dropped chunk's file).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "store/store.h"
#include "store/store_int.h"
#include "util/cleanup.h"
#include "util/text.h"
#include "util/xalloc.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* What is being done to a chunk outside the lock. */
enum chunk_io {
	IO_NONE,
	IO_SPILLING,    /* the I/O thread writes data to a file */
	IO_LOADING,     /* a pinner or the I/O thread reads the file back */
	IO_WRITING_RAW, /* store_pin_path() makes a raw file */
};

struct chunk {
	void *data;          /* owned while in_mem; NULL for 0 bytes */
	size_t len;          /* bytes; set by the put */
	char *path;          /* owned: the file on disk, NULL if none */
	uint64_t disk_bytes; /* size of path; 0 if none */
	int64_t refs;        /* reads still to come; at 0 the chunk is dropped */
	int64_t pins;        /* readers using it now; > 0 keeps memory and file */
	int64_t next_use;    /* static-order position of the next reader; INT64_MAX: unknown */
	uint32_t heap_gen;   /* only the heap entry with this gen is live */
	uint8_t io;          /* enum chunk_io */
	bool put;            /* its bytes were handed over */
	bool in_mem;         /* data holds the bytes, counted in mem_bytes */
	bool compressed;     /* path is a zstd frame, not raw bytes */
	bool dropped;        /* refs reached 0: gone from memory and disk */
	bool prefetch_queued;
};

struct heap_entry {
	int64_t next_use;
	uint64_t len;
	int64_t id;
	uint32_t gen;
};

/* Memory and a file a drop released, disposed of after unlocking. */
struct garbage {
	void *data;
	char *path;
};

struct store {
	pthread_mutex_t lock;
	pthread_cond_t changed; /* memory freed, a spill or an `io` ended: waiters re-check */
	pthread_cond_t work;    /* wakes the I/O threads */

	/* Fixed by store_new(), read without the lock. */
	uint64_t limit;
	char *dir;               /* the private spill folder; NULL until made */
	int64_t n_chunks;
	pthread_t *threads;
	int n_threads;           /* started */
	struct timespec t0;
	int64_t fault_spill_write; /* TESSERA_FAULT=spill_write:N: the Nth spill write fails; 0: none */

	/* Under lock. */
	struct chunk *chunks;
	struct heap_entry *heap;
	size_t heap_len, heap_cap;
	int64_t *prefetch;       /* FIFO of ids: [prefetch_head, prefetch_len) */
	size_t prefetch_head, prefetch_len, prefetch_cap;
	uint64_t mem_bytes, peak_bytes, disk_bytes, spilled_bytes, n_spills, n_reloads;
	uint64_t spilling_bytes; /* bytes of chunks being spilled now */
	int n_spilling;
	int64_t n_spill_writes;  /* spill writes started, for fault injection */
	uint64_t n_tmp;
	struct err io_err;       /* the first I/O thread error not yet taken */
	store_event_fn event_fn;
	void *event_arg;
	bool stop;
};

/* What store_pin() returns for 0-byte chunks: any non-NULL address will do. */
static const unsigned char empty_chunk;

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

static struct chunk *chunk_at(struct store *s, int64_t id)
{
	assert(id >= 0 && id < s->n_chunks);
	return &s->chunks[id];
}

static void garbage_dispose(struct garbage *g)
{
	free(g->data);
	if (g->path) {
		unlink(g->path);
		free(g->path);
	}
	g->data = NULL;
	g->path = NULL;
}

static void note_mem_added(struct store *s, uint64_t len)
{
	s->mem_bytes += len;
	if (s->mem_bytes > s->peak_bytes)
		s->peak_bytes = s->mem_bytes;
}

/* ---- the victim heap ---- */

static bool chunk_evictable(const struct chunk *c)
{
	return c->put && !c->dropped && c->in_mem && c->io == IO_NONE && c->pins == 0 &&
	       c->refs > 0 && c->len > 0;
}

/* Is @a a better victim than @b? Furthest next use first, then the larger
 * chunk (it frees more per write), then the lower id (determinism). */
static bool entry_above(const struct heap_entry *a, const struct heap_entry *b)
{
	if (a->next_use != b->next_use)
		return a->next_use > b->next_use;
	if (a->len != b->len)
		return a->len > b->len;
	return a->id < b->id;
}

static void heap_sift_up(struct heap_entry *h, size_t i)
{
	struct heap_entry x = h[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!entry_above(&x, &h[p]))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = x;
}

static void heap_sift_down(struct heap_entry *h, size_t n, size_t i)
{
	struct heap_entry x = h[i];
	for (;;) {
		size_t l = 2 * i + 1, best = i;
		const struct heap_entry *bx = &x;
		if (l < n && entry_above(&h[l], bx)) {
			best = l;
			bx = &h[l];
		}
		if (l + 1 < n && entry_above(&h[l + 1], bx))
			best = l + 1;
		if (best == i)
			break;
		h[i] = h[best];
		i = best;
	}
	h[i] = x;
}

static struct heap_entry entry_for(struct chunk *c, int64_t id)
{
	c->heap_gen++;
	return (struct heap_entry){ c->next_use, c->len, id, c->heap_gen };
}

/* heap_rebuild() : drops every stale entry at once, in O(n). */
static void heap_rebuild(struct store *s)
{
	s->heap_len = 0;
	for (int64_t id = 0; id < s->n_chunks; id++) {
		struct chunk *c = &s->chunks[id];
		if (!chunk_evictable(c))
			continue;
		XGROW(s->heap, s->heap_cap, s->heap_len + 1);
		s->heap[s->heap_len++] = entry_for(c, id);
	}
	for (size_t i = s->heap_len / 2; i-- > 0;)
		heap_sift_down(s->heap, s->heap_len, i);
}

/* heap_note() : chunk @id may have become evictable, or its key changed. */
static void heap_note(struct store *s, int64_t id)
{
	struct chunk *c = &s->chunks[id];
	if (!chunk_evictable(c))
		return;
	if (s->heap_len >= 2 * (size_t)s->n_chunks + 64) {
		heap_rebuild(s); /* includes @c */
	} else {
		XGROW(s->heap, s->heap_cap, s->heap_len + 1);
		s->heap[s->heap_len] = entry_for(c, id);
		heap_sift_up(s->heap, s->heap_len);
		s->heap_len++;
	}
	if (s->mem_bytes > s->limit)
		pthread_cond_signal(&s->work);
}

static bool entry_live(const struct store *s, const struct heap_entry *x)
{
	const struct chunk *c = &s->chunks[x->id];
	return c->heap_gen == x->gen && chunk_evictable(c);
}

static void heap_pop(struct store *s)
{
	s->heap[0] = s->heap[--s->heap_len];
	if (s->heap_len > 0)
		heap_sift_down(s->heap, s->heap_len, 0);
}

/* heap_top() : the best victim, discarding dead entries above it; -1 if none. */
static int64_t heap_top(struct store *s)
{
	while (s->heap_len > 0 && !entry_live(s, &s->heap[0]))
		heap_pop(s);
	return s->heap_len > 0 ? s->heap[0].id : -1;
}

/* ---- dropping ---- */

/* chunk_drop() : forgets memory and file, handing them to @g. */
static void chunk_drop(struct store *s, struct chunk *c, struct garbage *g)
{
	if (c->in_mem) {
		s->mem_bytes -= c->len;
		g->data = c->data;
		c->data = NULL;
		c->in_mem = false;
		pthread_cond_broadcast(&s->changed);
	}
	if (c->path) {
		s->disk_bytes -= c->disk_bytes;
		g->path = c->path;
		c->path = NULL;
		c->disk_bytes = 0;
	}
	c->dropped = true;
}

/* chunk_settle() : drops the chunk if nobody will read it again and nothing
 * is running on it. Called after every change to refs, pins or io. */
static void chunk_settle(struct store *s, struct chunk *c, struct garbage *g)
{
	if (c->put && !c->dropped && c->io == IO_NONE && c->refs <= 0 && c->pins == 0)
		chunk_drop(s, c, g);
}

/* ---- the I/O thread ---- */

static void emit(store_event_fn fn, void *arg, enum store_event_kind kind, int64_t id,
		 const struct chunk *c, double start, double end)
{
	if (!fn)
		return;
	struct store_event ev = { kind, id, c->len, c->disk_bytes, c->compressed, start, end };
	fn(arg, &ev);
}

/* io_evict() : spills (or just frees) the best victim. Called and returns
 * with the lock held; drops it around the write. */
static void io_evict(struct store *s, struct spill_io *io, int64_t id)
{
	struct chunk *c = &s->chunks[id];
	struct garbage g = { 0 };
	struct err e;
	struct spill_file f = { 0 };

	heap_pop(s);
	if (c->path) { /* a copy is already on disk: eviction is free */
		g.data = c->data;
		c->data = NULL;
		c->in_mem = false;
		s->mem_bytes -= c->len;
		pthread_cond_broadcast(&s->changed);
		pthread_mutex_unlock(&s->lock);
		garbage_dispose(&g);
		pthread_mutex_lock(&s->lock);
		return;
	}

	c->io = IO_SPILLING;
	s->n_spilling++;
	s->spilling_bytes += c->len;
	s->n_spill_writes++;
	int fault = s->n_spill_writes == s->fault_spill_write ? ENOSPC : 0;
	const void *data = c->data;
	size_t len = c->len;
	char *base = xasprintf("%s/c-%" PRId64, s->dir, id);
	pthread_mutex_unlock(&s->lock);

	err_init(&e);
	double t0 = seconds_since(&s->t0);
	int rc = spill_write(io, base, data, len, fault, &f, &e);
	double t1 = seconds_since(&s->t0);
	free(base);

	pthread_mutex_lock(&s->lock);
	c->io = IO_NONE;
	s->n_spilling--;
	s->spilling_bytes -= len;
	if (rc == 0) {
		c->path = f.path;
		c->disk_bytes = f.disk_bytes;
		c->compressed = f.compressed;
		s->disk_bytes += f.disk_bytes;
		s->spilled_bytes += len;
		s->n_spills++;
		if (c->pins == 0) {
			g.data = c->data;
			c->data = NULL;
			c->in_mem = false;
			s->mem_bytes -= len;
		}
	} else if (!err_set(&s->io_err)) {
		/* The chunk stays in memory, and out of the heap so that a full
		 * disk is not retried in a loop; a new next_use or pin brings it
		 * back. */
		s->io_err = e;
	}
	/* Copy the event before settling: a drop clears the file fields. */
	struct chunk snap = *c;
	store_event_fn fn = s->event_fn;
	void *arg = s->event_arg;
	chunk_settle(s, c, &g);
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);

	garbage_dispose(&g);
	if (rc == 0)
		emit(fn, arg, STORE_SPILL, id, &snap, t0, t1);
	pthread_mutex_lock(&s->lock);
}

/* io_prefetch() : reads chunk @id back if it is still worth it. Lock held. */
static void io_prefetch(struct store *s, int64_t id)
{
	struct chunk *c = &s->chunks[id];
	struct garbage g = { 0 };
	struct err e;

	c->prefetch_queued = false;
	if (!c->put || c->dropped || c->in_mem || !c->path || c->io != IO_NONE || c->refs <= 0 ||
	    s->mem_bytes + c->len > s->limit)
		return;
	c->io = IO_LOADING;
	const char *path = c->path;
	bool compressed = c->compressed;
	size_t len = c->len;
	pthread_mutex_unlock(&s->lock);

	err_init(&e);
	double t0 = seconds_since(&s->t0);
	void *buf = len ? malloc(len) : NULL;
	/* A failed prefetch is only a missed hint: the pin that follows reads
	 * the file itself and reports any error. */
	int rc = len && !buf ? -1 : spill_read(path, compressed, buf, len, &e);
	double t1 = seconds_since(&s->t0);

	pthread_mutex_lock(&s->lock);
	c->io = IO_NONE;
	if (rc == 0) {
		c->data = buf;
		c->in_mem = true;
		note_mem_added(s, len);
		s->n_reloads++;
		buf = NULL;
		heap_note(s, id);
	}
	struct chunk snap = *c;
	store_event_fn fn = s->event_fn;
	void *arg = s->event_arg;
	chunk_settle(s, c, &g);
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);

	free(buf);
	garbage_dispose(&g);
	if (rc == 0)
		emit(fn, arg, STORE_RELOAD, id, &snap, t0, t1);
	pthread_mutex_lock(&s->lock);
}

static bool prefetch_pop(struct store *s, int64_t *id)
{
	if (s->prefetch_head == s->prefetch_len)
		return false;
	*id = s->prefetch[s->prefetch_head++];
	if (s->prefetch_head == s->prefetch_len)
		s->prefetch_head = s->prefetch_len = 0;
	return true;
}

static void *io_main(void *arg)
{
	struct store *s = arg;
	struct spill_io io;

	spill_io_init(&io);
	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		int64_t id;
		/* Bytes already being spilled will leave: do not pick more
		 * victims than the excess needs. */
		if (s->mem_bytes - s->spilling_bytes > s->limit && (id = heap_top(s)) >= 0)
			io_evict(s, &io, id);
		else if (prefetch_pop(s, &id))
			io_prefetch(s, id);
		else
			pthread_cond_wait(&s->work, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	spill_io_release(&io);
	return NULL;
}

/* ---- lifecycle ---- */

/* fault_from_env() : N from TESSERA_FAULT=spill_write:N, else 0. A debug aid
 * for tests (SQLite's fault simulator): proves a full disk loses no data. */
static int64_t fault_from_env(void)
{
	const char *v = getenv("TESSERA_FAULT");
	const char *prefix = "spill_write:";
	int64_t n;
	if (!v || strncmp(v, prefix, strlen(prefix)) != 0 || !parse_int(v + strlen(prefix), &n) ||
	    n < 0)
		return 0;
	return n;
}

struct store *store_new(const struct store_opts *o, int64_t n_chunks, struct err *e)
{
	struct store *s = xcalloc(1, sizeof *s);
	const char *parent = o->spill_dir;
	char *tmpl = NULL;

	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->changed, NULL);
	pthread_cond_init(&s->work, NULL);
	clock_gettime(CLOCK_MONOTONIC, &s->t0);
	s->limit = o->limit;
	s->n_chunks = n_chunks > 0 ? n_chunks : 0;
	s->chunks = xcalloc((size_t)s->n_chunks, sizeof *s->chunks);
	for (int64_t i = 0; i < s->n_chunks; i++)
		s->chunks[i].next_use = INT64_MAX;
	s->fault_spill_write = fault_from_env();
	err_init(&s->io_err);

	if (!parent || !*parent)
		parent = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	tmpl = xasprintf("%s/tessera-XXXXXX", parent);
	if (!mkdtemp(tmpl)) {
		err_sys(e, NULL, "cannot make a spill folder in '%s'", parent);
		goto fail;
	}
	cleanup_add_dir(tmpl);
	s->dir = tmpl;
	tmpl = NULL;

	int n = o->n_io_threads >= 1 ? o->n_io_threads : 1;
	s->threads = xcalloc((size_t)n, sizeof *s->threads);
	for (int i = 0; i < n; i++) {
		int rc = pthread_create(&s->threads[i], NULL, io_main, s);
		if (rc != 0) {
			errno = rc;
			err_sys(e, NULL, "cannot start the store's I/O thread");
			goto fail;
		}
		s->n_threads++;
	}
	return s;
fail:
	free(tmpl);
	store_free(s);
	return NULL;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < s->n_threads; i++)
		pthread_join(s->threads[i], NULL);

	/* The threads are gone: no lock needed from here on. Files go with
	 * the folder. */
	for (int64_t i = 0; i < s->n_chunks; i++) {
		free(s->chunks[i].data);
		free(s->chunks[i].path);
	}
	if (s->dir) {
		rm_rf(s->dir);
		cleanup_forget(s->dir);
	}
	free(s->dir);
	free(s->threads);
	free(s->chunks);
	free(s->heap);
	free(s->prefetch);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->changed);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void store_on_event(struct store *s, store_event_fn fn, void *arg)
{
	pthread_mutex_lock(&s->lock);
	s->event_fn = fn;
	s->event_arg = arg;
	pthread_mutex_unlock(&s->lock);
}

/* ---- counters ---- */

void store_set_refs(struct store *s, int64_t id, int64_t refs)
{
	struct garbage g = { 0 };
	pthread_mutex_lock(&s->lock);
	struct chunk *c = chunk_at(s, id);
	c->refs = refs;
	heap_note(s, id);
	chunk_settle(s, c, &g);
	pthread_mutex_unlock(&s->lock);
	garbage_dispose(&g);
}

void store_set_next_use(struct store *s, int64_t id, int64_t pos)
{
	pthread_mutex_lock(&s->lock);
	struct chunk *c = chunk_at(s, id);
	if (c->next_use != pos) {
		c->next_use = pos;
		heap_note(s, id);
	}
	pthread_mutex_unlock(&s->lock);
}

void store_release(struct store *s, int64_t id)
{
	struct garbage g = { 0 };
	pthread_mutex_lock(&s->lock);
	struct chunk *c = chunk_at(s, id);
	assert(c->refs > 0);
	c->refs--;
	chunk_settle(s, c, &g);
	pthread_mutex_unlock(&s->lock);
	garbage_dispose(&g);
}

void store_unpin(struct store *s, int64_t id)
{
	struct garbage g = { 0 };
	pthread_mutex_lock(&s->lock);
	struct chunk *c = chunk_at(s, id);
	assert(c->pins > 0);
	if (--c->pins == 0)
		heap_note(s, id);
	chunk_settle(s, c, &g);
	pthread_mutex_unlock(&s->lock);
	garbage_dispose(&g);
}

/* ---- putting ---- */

void store_put_take(struct store *s, int64_t id, void *data, size_t len, bool may_wait)
{
	pthread_mutex_lock(&s->lock);
	struct chunk *c = chunk_at(s, id);
	assert(!c->put);
	c->put = true;
	c->len = len;
	if (c->refs <= 0) { /* nobody will read it */
		c->dropped = true;
		pthread_mutex_unlock(&s->lock);
		free(data);
		return;
	}
	c->data = data;
	c->in_mem = true;
	note_mem_added(s, len);
	heap_note(s, id);
	if (s->mem_bytes > s->limit) {
		pthread_cond_signal(&s->work);
		/* Never wait for what cannot come: with nothing evictable and no
		 * spill under way, go on over the limit. */
		while (may_wait && s->mem_bytes > s->limit && (heap_top(s) >= 0 || s->n_spilling > 0))
			pthread_cond_wait(&s->changed, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
}

char *store_tmp_path(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	uint64_t n = s->n_tmp++;
	pthread_mutex_unlock(&s->lock);
	return xasprintf("%s/t-%" PRIu64, s->dir, n);
}

void store_put_file_take(struct store *s, int64_t id, const char *path, size_t len)
{
	bool drop;
	pthread_mutex_lock(&s->lock);
	struct chunk *c = chunk_at(s, id);
	assert(!c->put);
	c->put = true;
	c->len = len;
	drop = c->refs <= 0;
	if (drop) {
		c->dropped = true;
	} else {
		c->path = xstrdup(path);
		c->disk_bytes = len;
		c->compressed = false;
		s->disk_bytes += len;
	}
	pthread_mutex_unlock(&s->lock);
	if (drop)
		unlink(path);
}

size_t store_len(struct store *s, int64_t id)
{
	pthread_mutex_lock(&s->lock);
	size_t len = chunk_at(s, id)->len;
	pthread_mutex_unlock(&s->lock);
	return len;
}

/* ---- reading ---- */

/* usable() : fills *e unless chunk @id can be read. Lock held. */
static bool usable(const struct chunk *c, int64_t id, struct err *e)
{
	if (!c->put) {
		err_run(e, NULL, "chunk %" PRId64 " was never stored", id);
		return false;
	}
	if (c->dropped) {
		err_run(e, NULL, "chunk %" PRId64 " was already released", id);
		return false;
	}
	return true;
}

const void *store_pin(struct store *s, int64_t id, size_t *len, struct err *e)
{
	struct garbage g = { 0 };
	struct err le;
	const void *p = NULL;

	pthread_mutex_lock(&s->lock);
	struct chunk *c = chunk_at(s, id);
	for (;;) {
		if (!usable(c, id, e))
			goto unlock;
		if (c->in_mem) {
			c->pins++;
			*len = c->len;
			p = c->data ? c->data : &empty_chunk;
			goto unlock;
		}
		if (c->io == IO_NONE)
			break;
		pthread_cond_wait(&s->changed, &s->lock);
	}

	/* On disk only: read it here, marked so that other pinners wait. */
	c->io = IO_LOADING;
	c->pins++;
	const char *path = c->path;
	bool compressed = c->compressed;
	size_t n = c->len;
	pthread_mutex_unlock(&s->lock);

	err_init(&le);
	double t0 = seconds_since(&s->t0);
	void *buf = n ? malloc(n) : NULL;
	int rc;
	if (n && !buf) {
		errno = ENOMEM;
		rc = err_sys(&le, NULL, "cannot reload chunk %" PRId64 " (%zu bytes)", id, n);
	} else {
		rc = spill_read(path, compressed, buf, n, &le);
	}
	double t1 = seconds_since(&s->t0);

	pthread_mutex_lock(&s->lock);
	c->io = IO_NONE;
	struct chunk snap = *c;
	store_event_fn fn = s->event_fn;
	void *arg = s->event_arg;
	if (rc == 0) {
		c->data = buf;
		c->in_mem = true;
		note_mem_added(s, n);
		s->n_reloads++;
		*len = n;
		p = buf ? buf : (const void *)&empty_chunk;
		buf = NULL;
		if (s->mem_bytes > s->limit)
			pthread_cond_signal(&s->work);
	} else {
		c->pins--;
		chunk_settle(s, c, &g);
		if (e && !err_set(e))
			*e = le;
	}
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	free(buf);
	garbage_dispose(&g);
	if (rc == 0)
		emit(fn, arg, STORE_RELOAD, id, &snap, t0, t1);
	return p;
unlock:
	pthread_mutex_unlock(&s->lock);
	return p;
}

const char *store_pin_path(struct store *s, int64_t id, struct err *e)
{
	struct garbage g = { 0 };
	struct err le;
	const char *p = NULL;

	pthread_mutex_lock(&s->lock);
	struct chunk *c = chunk_at(s, id);
	for (;;) {
		if (!usable(c, id, e))
			goto unlock;
		if (c->path && !c->compressed) {
			c->pins++;
			p = c->path;
			goto unlock;
		}
		if (c->io == IO_NONE)
			break;
		pthread_cond_wait(&s->changed, &s->lock);
	}

	/* Make a raw file, from memory when the bytes are there (cheaper than
	 * decompressing), else from the zstd file, which it then replaces. */
	c->io = IO_WRITING_RAW;
	c->pins++;
	bool from_mem = c->in_mem;
	const void *data = c->data;
	size_t len = c->len;
	const char *zst = c->path;
	char *raw = xasprintf("%s/c-%" PRId64, s->dir, id);
	pthread_mutex_unlock(&s->lock);

	err_init(&le);
	int rc = from_mem ? spill_write_raw(raw, data, len, &le) : spill_unzst(zst, raw, len, &le);

	pthread_mutex_lock(&s->lock);
	c->io = IO_NONE;
	if (rc == 0) {
		if (c->path) {
			s->disk_bytes -= c->disk_bytes;
			g.path = c->path;
		}
		c->path = raw;
		c->disk_bytes = len;
		c->compressed = false;
		s->disk_bytes += len;
		p = raw;
	} else {
		free(raw);
		c->pins--;
		chunk_settle(s, c, &g);
		if (e && !err_set(e))
			*e = le;
	}
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	garbage_dispose(&g);
	return p;
unlock:
	pthread_mutex_unlock(&s->lock);
	return p;
}

int store_write_to(struct store *s, int64_t id, int fd, struct err *e)
{
	int rc = -1, in_fd = -1;
	const void *data = NULL;
	char *path = NULL;
	char what[64];
	bool compressed = false, from_mem;
	size_t len;

	pthread_mutex_lock(&s->lock);
	struct chunk *c = chunk_at(s, id);
	if (!usable(c, id, e)) {
		pthread_mutex_unlock(&s->lock);
		return -1;
	}
	/* The pin keeps the buffer or the file alive until we are done. */
	c->pins++;
	len = c->len;
	from_mem = c->in_mem;
	if (from_mem) {
		data = c->data;
	} else {
		/* open() under the lock, the one exception to the rule: once
		 * open, the file's bytes stay readable even if a concurrent
		 * store_pin_path() replaces the zstd file with a raw one, so
		 * there is nothing to wait for. */
		path = xstrdup(c->path);
		compressed = c->compressed;
		in_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (in_fd < 0)
			err_sys(e, NULL, "cannot read spill file '%s'", path);
	}
	pthread_mutex_unlock(&s->lock);

	snprintf(what, sizeof what, "chunk %" PRId64, id);
	if (from_mem) {
		if (spill_write_all(fd, data, len) != 0) {
			err_sys(e, NULL, "cannot write %s", what);
			goto done;
		}
	} else if (in_fd < 0 || spill_stream(in_fd, path, compressed, len, fd, what, e) != 0) {
		goto done;
	}
	rc = 0;
done:
	if (in_fd >= 0)
		close(in_fd);
	free(path);
	store_unpin(s, id);
	return rc;
}

void store_prefetch(struct store *s, int64_t id)
{
	pthread_mutex_lock(&s->lock);
	struct chunk *c = chunk_at(s, id);
	if (c->put && !c->dropped && !c->in_mem && c->path && c->io == IO_NONE &&
	    !c->prefetch_queued && c->refs > 0 && s->mem_bytes + c->len <= s->limit) {
		XGROW(s->prefetch, s->prefetch_cap, s->prefetch_len + 1);
		s->prefetch[s->prefetch_len++] = id;
		c->prefetch_queued = true;
		pthread_cond_signal(&s->work);
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- reporting ---- */

void store_get_stats(struct store *s, struct store_stats *st)
{
	pthread_mutex_lock(&s->lock);
	st->mem_bytes = s->mem_bytes;
	st->peak_bytes = s->peak_bytes;
	st->disk_bytes = s->disk_bytes;
	st->spilled_bytes = s->spilled_bytes;
	st->n_spills = s->n_spills;
	st->n_reloads = s->n_reloads;
	pthread_mutex_unlock(&s->lock);
}

uint64_t store_limit(const struct store *s)
{
	return s->limit;
}

int store_take_error(struct store *s, struct err *e)
{
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	if (err_set(&s->io_err)) {
		if (e && !err_set(e))
			*e = s->io_err;
		err_init(&s->io_err);
		rc = -1;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}
