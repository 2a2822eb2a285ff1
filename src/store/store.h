/* SPDX-License-Identifier: MIT */
/*
 * store: where task results (chunks) live, within a memory budget.
 *
 * Each chunk is the bytes of one task's result, named by its task id. A
 * chunk is in memory (counted, exactly, against the limit), on disk in the
 * store's private spill folder (raw, or zstd-compressed when a sample shows
 * compression pays), or both. When the bytes in memory exceed the limit,
 * the I/O thread spills the unpinned chunks whose next use lies furthest
 * ahead (the scheduler says when each chunk is next needed) and frees their
 * memory; a later pin reads them back.
 *
 * DESIGN: one mutex guards all chunk state; the I/O thread and the callers
 * (the scheduler thread, the workers) take it briefly and never hold it
 * across file I/O or compression. Two counters per chunk, as in SQLite's page
 * cache: `refs` = reads still to come (at 0 the chunk is dropped from memory
 * and disk), `pins` = readers using it now (pinned chunks are never evicted).
 * The scheduler thread never blocks in the store: only workers may wait for
 * the I/O thread (store_put_take with may_wait). All files live under one
 * folder made with mkdtemp in the spill dir and registered with cleanup, so
 * they are removed on success, failure and SIGINT/SIGTERM alike.
 */
#ifndef TESSERA_STORE_STORE_H
#define TESSERA_STORE_STORE_H

#include "util/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

struct store_opts {
	uint64_t limit;         /* bytes of chunk data allowed in memory */
	const char *spill_dir;  /* parent folder for the private spill folder */
	int n_io_threads;       /* >= 1 */
};

enum store_event_kind { STORE_SPILL, STORE_RELOAD };

/* One spill or reload, for --report. Times are seconds since store_new(). */
struct store_event {
	enum store_event_kind kind;
	int64_t id;
	uint64_t bytes;       /* the chunk's size */
	uint64_t disk_bytes;  /* its size on disk (compressed or not) */
	bool compressed;
	double start, end;
};
/* Called from the I/O thread or a worker, never under the store's lock. */
typedef void (*store_event_fn)(void *arg, const struct store_event *ev);

struct store_stats {
	uint64_t mem_bytes;      /* chunk bytes in memory now */
	uint64_t peak_bytes;     /* max of mem_bytes so far */
	uint64_t disk_bytes;     /* bytes in spill files now */
	uint64_t spilled_bytes;  /* total chunk bytes ever spilled (uncompressed) */
	uint64_t n_spills, n_reloads;
};

/* store_new() : @n_chunks ids, 0..n_chunks-1, all empty. NULL and *e on failure
 * (the spill folder could not be made). Reads TESSERA_FAULT once: with
 * "spill_write:N" the Nth spill write fails with ENOSPC (a test aid). */
struct store *store_new(const struct store_opts *o, int64_t n_chunks, struct err *e);
/* store_free() : stops the I/O thread, frees memory, removes the spill folder. NULL ok. */
void store_free(struct store *s);
void store_on_event(struct store *s, store_event_fn fn, void *arg);

/* store_set_refs() : how many reads chunk @id will get before it can be dropped. */
void store_set_refs(struct store *s, int64_t id, int64_t refs);
/* store_set_next_use() : the static-order position of the chunk's next reader;
 * INT64_MAX when unknown. Larger positions are evicted first. */
void store_set_next_use(struct store *s, int64_t id, int64_t pos);

/*
 * store_put_take() : chunk @id's bytes are @data (malloc'ed; the store takes
 * it, NULL allowed when @len is 0). When memory goes over the limit the I/O
 * thread starts spilling; with @may_wait the caller then waits until memory
 * is back under the limit or nothing more can be evicted (workers pass true,
 * the scheduler thread false). A chunk whose refs are already 0 is dropped.
 */
void store_put_take(struct store *s, int64_t id, void *data, size_t len, bool may_wait);
/*
 * store_tmp_path() : a fresh path inside the spill folder (not created) for a
 * producer that streams a large result straight to disk; hand it over with
 * store_put_file_take(). The caller frees the returned string.
 */
char *store_tmp_path(struct store *s);
/* store_put_file_take() : chunk @id's bytes are the whole raw file @path (of @len
 * bytes) that lives in the spill folder; the store owns it from now on. */
void store_put_file_take(struct store *s, int64_t id, const char *path, size_t len);

/* store_len() : the chunk's size in bytes (it must have been put). */
size_t store_len(struct store *s, int64_t id);

/*
 * store_pin() : makes chunk @id resident, reading it back from disk if it was
 * spilled, and pins it. @return a borrowed pointer valid until store_unpin()
 * (non-NULL even for 0 bytes), *len its size; NULL and *e on I/O failure.
 * May block on disk: call from workers.
 */
const void *store_pin(struct store *s, int64_t id, size_t *len, struct err *e);
/*
 * store_pin_path() : a file holding exactly the chunk's bytes, for tools that
 * read files (shell tasks). Uses the raw spill file when there is one, else
 * writes one (which also makes a later eviction free). The path is borrowed
 * until store_unpin(). NULL and *e on failure.
 */
const char *store_pin_path(struct store *s, int64_t id, struct err *e);
void store_unpin(struct store *s, int64_t id);

/* store_write_to() : streams chunk @id's bytes to @fd without loading a spilled
 * chunk whole (large results). 0, or -1 and *e. */
int store_write_to(struct store *s, int64_t id, int fd, struct err *e);

/* store_release() : one read of chunk @id is done; at refs 0 it is dropped. */
void store_release(struct store *s, int64_t id);
/* store_prefetch() : chunk @id is needed soon: read it back ahead of need if it
 * fits in the budget. Never blocks. */
void store_prefetch(struct store *s, int64_t id);

void store_get_stats(struct store *s, struct store_stats *st);
uint64_t store_limit(const struct store *s);

/*
 * store_take_error() : the first I/O-thread error not yet taken (a spill
 * write that failed, e.g. on a full disk; the chunk then stays in memory, so
 * no data is lost). For the scheduler to poll. @return 0 when there is none,
 * else -1 and *e (unless *e was already set), and the error is cleared.
 */
int store_take_error(struct store *s, struct err *e);

#endif
