/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for store/: budget, eviction order, spill and reload (raw and
 * zstd), pin_path files, streaming, prefetch, fault injection, and threads
 * hammering one store (run under TSan too). Every store lives in a fresh
 * folder under /tmp that must be empty again at the end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "test.h"

#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* ---- helpers ---- */

static char *test_dir_new(void)
{
	char tmpl[] = "/tmp/tessera-store-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	CHECK(d != NULL);
	return d ? strdup(d) : NULL;
}

static int dir_entries(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;
	if (!d)
		return -1;
	for (struct dirent *de; (de = readdir(d));)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* test_dir_done() : the store left nothing behind in its parent. */
static void test_dir_done(char *dir)
{
	if (!dir)
		return;
	CHECK(dir_entries(dir) == 0);
	rmdir(dir);
	free(dir);
}

static bool path_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

/* Incompressible bytes (xorshift64*). */
static void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		p[i] = (unsigned char)((x * 0x2545F4914F6CDD1Dull) >> 56);
	}
}

/* CSV-like text: compresses well, but differs per seed. */
static void fill_text(unsigned char *p, size_t n, uint64_t seed)
{
	char line[64];
	size_t i = 0;
	for (uint64_t row = 0; i < n; row++) {
		int k = snprintf(line, sizeof line, "%llu,sample-%llu,%llu.%02llu\n",
				 (unsigned long long)row, (unsigned long long)seed,
				 (unsigned long long)(row * 7 % 1000), (unsigned long long)(row % 100));
		for (int j = 0; j < k && i < n; j++)
			p[i++] = (unsigned char)line[j];
	}
}

/* chunk_bytes() : chunk @id's test content: odd ids random, even ids text. */
static unsigned char *chunk_bytes(int64_t id, size_t n)
{
	unsigned char *p = malloc(n ? n : 1);
	if (id % 2)
		fill_random(p, n, (uint64_t)id);
	else
		fill_text(p, n, (uint64_t)id);
	return p;
}

static void *dup_bytes(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);
	memcpy(q, p, n);
	return q;
}

static bool file_holds(const char *path, const void *want, size_t n)
{
	FILE *f = fopen(path, "rb");
	bool ok = false;
	if (!f)
		return false;
	unsigned char *got = malloc(n + 1);
	size_t r = fread(got, 1, n + 1, f);
	ok = r == n && memcmp(got, want, n) == 0;
	free(got);
	fclose(f);
	return ok;
}

static bool stream_holds(FILE *f, const void *want, size_t n)
{
	unsigned char *got = malloc(n + 1);
	fflush(f);
	rewind(f);
	size_t r = fread(got, 1, n + 1, f);
	bool ok = r == n && memcmp(got, want, n) == 0;
	free(got);
	return ok;
}

/* A thread-safe record of the store's events. */
struct events {
	pthread_mutex_t lock;
	struct store_event ev[4096];
	size_t n;
};

static void events_init(struct events *ev)
{
	memset(ev, 0, sizeof *ev);
	pthread_mutex_init(&ev->lock, NULL);
}

static void on_event(void *arg, const struct store_event *e)
{
	struct events *ev = arg;
	pthread_mutex_lock(&ev->lock);
	if (ev->n < sizeof ev->ev / sizeof ev->ev[0])
		ev->ev[ev->n++] = *e;
	pthread_mutex_unlock(&ev->lock);
}

static size_t events_count(struct events *ev)
{
	pthread_mutex_lock(&ev->lock);
	size_t n = ev->n;
	pthread_mutex_unlock(&ev->lock);
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&t, NULL);
}

/* wait_events() : events are emitted after the store unlocks, so a put may
 * return before its spill's event is recorded. Up to 10 s. */
static bool wait_events(struct events *ev, size_t n)
{
	for (int i = 0; i < 10000; i++) {
		if (events_count(ev) >= n)
			return true;
		sleep_ms(1);
	}
	return false;
}

static struct store *open_store(const char *dir, uint64_t limit, int n_io, int64_t n_chunks)
{
	struct store_opts o = { .limit = limit, .spill_dir = dir, .n_io_threads = n_io };
	struct err e;
	err_init(&e);
	struct store *s = store_new(&o, n_chunks, &e);
	CHECK(s != NULL);
	CHECK(!err_set(&e));
	return s;
}

/* pin_equals() : pins, compares, unpins. */
static bool pin_equals(struct store *s, int64_t id, const void *want, size_t n)
{
	struct err e;
	size_t len = 0;
	err_init(&e);
	const void *p = store_pin(s, id, &len, &e);
	if (!p) {
		fprintf(stderr, "pin %lld: %s\n", (long long)id, e.msg);
		return false;
	}
	bool ok = len == n && memcmp(p, want, n) == 0;
	store_unpin(s, id);
	return ok;
}

static struct store_stats stats_of(struct store *s)
{
	struct store_stats st;
	store_get_stats(s, &st);
	return st;
}

/* settled() : all memory and files are gone. A release that lands while the
 * I/O thread is writing the chunk leaves the drop to that thread, so poll
 * (up to 10 s) rather than expect it at once. */
static bool settled(struct store *s)
{
	for (int i = 0; i < 10000; i++) {
		struct store_stats st = stats_of(s);
		if (st.mem_bytes == 0 && st.disk_bytes == 0)
			return true;
		sleep_ms(1);
	}
	return false;
}

/* ---- tests ---- */

static void test_roundtrip(void)
{
	char *dir = test_dir_new();
	struct store *s = open_store(dir, MiB, 1, 4);
	struct err e;
	size_t len = 99;

	store_set_refs(s, 0, 2);
	store_set_refs(s, 1, 1);
	store_set_refs(s, 3, 1);
	store_put_take(s, 0, dup_bytes("hello", 5), 5, false);
	store_put_take(s, 1, NULL, 0, false);
	store_put_take(s, 2, dup_bytes("unwanted", 8), 8, false); /* refs 0: dropped */
	CHECK(stats_of(s).mem_bytes == 5);
	CHECK(store_len(s, 0) == 5);
	CHECK(store_len(s, 2) == 8);
	CHECK(store_limit(s) == MiB);

	err_init(&e);
	const void *a = store_pin(s, 0, &len, &e);
	const void *b = store_pin(s, 0, &len, &e);
	CHECK(a && a == b && len == 5 && memcmp(a, "hello", 5) == 0);
	store_unpin(s, 0);
	store_unpin(s, 0);

	const void *z = store_pin(s, 1, &len, &e);
	CHECK(z != NULL && len == 0);
	store_unpin(s, 1);
	store_release(s, 1);

	store_release(s, 0); /* one read left */
	CHECK(pin_equals(s, 0, "hello", 5));
	store_release(s, 0);
	CHECK(stats_of(s).mem_bytes == 0);
	CHECK(store_pin(s, 0, &len, &e) == NULL);
	CHECK(err_set(&e) && strstr(e.msg, "chunk 0") != NULL);

	/* A release while pinned drops the chunk at the last unpin. */
	store_put_take(s, 3, dup_bytes("abc", 3), 3, true);
	err_init(&e);
	const void *c = store_pin(s, 3, &len, &e);
	store_release(s, 3);
	CHECK(stats_of(s).mem_bytes == 3);
	CHECK(c && memcmp(c, "abc", 3) == 0);
	store_unpin(s, 3);
	CHECK(stats_of(s).mem_bytes == 0);

	struct store_stats st = stats_of(s);
	CHECK(st.peak_bytes == 5);
	CHECK(st.n_spills == 0 && st.disk_bytes == 0);
	err_init(&e);
	CHECK(store_take_error(s, &e) == 0 && !err_set(&e));
	store_free(s);
	store_free(NULL);
	test_dir_done(dir);
}

static void test_tiny_limit(void)
{
	enum { N = 100 };
	const size_t size = 16 * KiB, limit = 64 * KiB;
	char *dir = test_dir_new();
	struct store *s = open_store(dir, limit, 1, N);
	static struct events ev;
	unsigned char *want[N];
	bool mem_ok = true;

	events_init(&ev);
	store_on_event(s, on_event, &ev);
	for (int i = 0; i < N; i++) {
		store_set_refs(s, i, 1);
		store_set_next_use(s, i, (i * 37) % N);
	}
	for (int i = 0; i < N; i++) {
		want[i] = chunk_bytes(i, size);
		store_put_take(s, i, dup_bytes(want[i], size), size, true);
		mem_ok &= stats_of(s).mem_bytes <= limit;
	}
	CHECK(mem_ok);
	struct store_stats st = stats_of(s);
	CHECK(st.peak_bytes <= limit + size);
	CHECK(st.n_spills >= N - limit / size);
	CHECK(st.spilled_bytes == st.n_spills * size);
	CHECK(wait_events(&ev, st.n_spills));

	int n_zst = 0, n_raw = 0, wrong = 0;
	for (size_t k = 0; k < events_count(&ev); k++) {
		const struct store_event *x = &ev.ev[k];
		if (x->kind != STORE_SPILL)
			continue;
		bool text = x->id % 2 == 0;
		if (text && x->compressed && x->disk_bytes < x->bytes)
			n_zst++;
		else if (!text && !x->compressed && x->disk_bytes == x->bytes)
			n_raw++;
		else
			wrong++;
		CHECK(x->bytes == size && x->end >= x->start && x->start >= 0);
	}
	CHECK(wrong == 0 && n_zst > 0 && n_raw > 0);
	CHECK(stats_of(s).disk_bytes > 0);

	int bad = 0;
	for (int i = 0; i < N; i++) {
		if (!pin_equals(s, i, want[i], size))
			bad++;
		store_release(s, i);
		free(want[i]);
	}
	CHECK(bad == 0);
	st = stats_of(s);
	CHECK(st.n_reloads > 0);
	CHECK(settled(s));
	store_free(s);
	test_dir_done(dir);
}

static void test_eviction_order(void)
{
	const size_t size = 16 * KiB;
	char *dir = test_dir_new();
	struct store *s = open_store(dir, 3 * size, 1, 8);
	static struct events ev;

	events_init(&ev);
	store_on_event(s, on_event, &ev);
	for (int i = 0; i < 8; i++)
		store_set_refs(s, i, 1);
	store_set_next_use(s, 0, 10);
	store_set_next_use(s, 1, 30);
	store_set_next_use(s, 2, 20);
	store_set_next_use(s, 3, 5);
	for (int i = 0; i < 3; i++)
		store_put_take(s, i, chunk_bytes(1, size), size, true);
	CHECK(stats_of(s).n_spills == 0);
	store_put_take(s, 3, chunk_bytes(1, size), size, true);
	CHECK(wait_events(&ev, 1));
	CHECK(ev.ev[0].id == 1 && ev.ev[0].kind == STORE_SPILL);

	/* A later next_use moves a chunk to the front. */
	store_set_next_use(s, 2, 100);
	store_set_next_use(s, 0, 50);
	store_set_next_use(s, 4, 1);
	store_put_take(s, 4, chunk_bytes(1, size), size, true);
	CHECK(wait_events(&ev, 2));
	CHECK(ev.ev[1].id == 2);

	/* Equal next_use: the larger chunk goes first. Memory now holds 0, 3, 4. */
	store_release(s, 4);
	store_set_next_use(s, 0, 7);
	store_set_next_use(s, 3, 8);
	store_set_next_use(s, 5, 8);
	store_set_next_use(s, 6, 0);
	store_put_take(s, 5, chunk_bytes(1, size / 2), size / 2, true); /* 40 KiB: fits */
	CHECK(stats_of(s).n_spills == 2);
	store_put_take(s, 6, chunk_bytes(1, size), size, true); /* 56 KiB: one must go */
	CHECK(wait_events(&ev, 3));
	CHECK(ev.ev[2].id == 3);
	CHECK(stats_of(s).n_spills == 3);

	/* A pinned chunk is never the victim, whatever its next_use. */
	struct err e;
	size_t len;
	err_init(&e);
	CHECK(store_pin(s, 5, &len, &e) != NULL);
	store_set_next_use(s, 5, 1000);
	store_set_next_use(s, 7, 2);
	store_put_take(s, 7, chunk_bytes(1, size), size, true);
	CHECK(wait_events(&ev, 4));
	CHECK(ev.ev[3].id == 0);
	store_unpin(s, 5);

	for (int i = 0; i < 8; i++)
		if (i != 4)
			store_release(s, i);
	CHECK(settled(s));
	store_free(s);
	test_dir_done(dir);
}

/* 100,000 chunks with many next_use updates (stale heap entries): the spills
 * must still come strictly furthest-next-use first. */
static void test_eviction_order_at_scale(void)
{
	enum { N = 100000, K = 200, SZ = 64 };
	char *dir = test_dir_new();
	struct store *s = open_store(dir, (uint64_t)N * SZ, 1, N + 1);
	static struct events ev;

	events_init(&ev);
	store_on_event(s, on_event, &ev);
	for (int64_t i = 0; i <= N; i++)
		store_set_refs(s, i, 1);
	for (int64_t i = 0; i < N; i++) {
		unsigned char *p = malloc(SZ);
		memset(p, (int)(i & 0xff), SZ);
		store_set_next_use(s, i, i);
		store_put_take(s, i, p, SZ, false);
	}
	CHECK(stats_of(s).n_spills == 0);
	for (int64_t i = 0; i < N; i++)
		store_set_next_use(s, i, N - i);
	for (int64_t i = 0; i < N; i++)
		store_set_next_use(s, i, (i * 7919) % N); /* a permutation: 7919 is prime */
	store_set_next_use(s, N, -1);
	store_put_take(s, N, malloc(K * SZ), K * SZ, true);
	CHECK(wait_events(&ev, K));
	CHECK(stats_of(s).n_spills == K);
	int out_of_order = 0;
	for (size_t k = 0; k < K; k++)
		if ((ev.ev[k].id * 7919) % N != N - 1 - (int64_t)k)
			out_of_order++;
	CHECK(out_of_order == 0);
	CHECK(stats_of(s).mem_bytes <= (uint64_t)N * SZ);
	store_free(s);
	test_dir_done(dir);
}

static void test_pin_path(void)
{
	const size_t limit = 64 * KiB;
	char *dir = test_dir_new();
	struct store *s = open_store(dir, limit, 1, 8);
	static struct events ev;
	struct err e;

	events_init(&ev);
	store_on_event(s, on_event, &ev);
	for (int i = 0; i < 8; i++)
		store_set_refs(s, i, 1);

	/* Memory only. */
	unsigned char *w0 = chunk_bytes(0, 20 * KiB);
	store_set_next_use(s, 0, 1);
	store_put_take(s, 0, dup_bytes(w0, 20 * KiB), 20 * KiB, true);
	err_init(&e);
	const char *p = store_pin_path(s, 0, &e);
	CHECK(p != NULL);
	char *p0 = p ? strdup(p) : NULL;
	CHECK(p0 && file_holds(p0, w0, 20 * KiB));
	CHECK(p0 && strncmp(p0, dir, strlen(dir)) == 0);
	store_unpin(s, 0);
	CHECK(stats_of(s).n_spills == 0);

	/* Spilled compressed, then asked for as a file. */
	unsigned char *w1 = chunk_bytes(2, 32 * KiB);
	store_set_next_use(s, 1, 1000);
	store_set_next_use(s, 2, 2);
	store_set_next_use(s, 3, 3);
	store_put_take(s, 1, dup_bytes(w1, 32 * KiB), 32 * KiB, true);
	store_put_take(s, 2, chunk_bytes(3, 16 * KiB), 16 * KiB, true);
	store_put_take(s, 3, chunk_bytes(5, 16 * KiB), 16 * KiB, true);
	CHECK(wait_events(&ev, 1));
	CHECK(ev.ev[0].id == 1 && ev.ev[0].compressed && ev.ev[0].disk_bytes < 32 * KiB);
	err_init(&e);
	p = store_pin_path(s, 1, &e);
	CHECK(p != NULL);
	char *p1 = p ? strdup(p) : NULL;
	CHECK(p1 && file_holds(p1, w1, 32 * KiB));
	store_unpin(s, 1);
	CHECK(stats_of(s).n_reloads == 0); /* converted on disk, not loaded */

	/* A chunk with a raw file is evicted without writing. */
	store_set_next_use(s, 0, 5000);
	store_set_next_use(s, 4, 4);
	store_put_take(s, 4, chunk_bytes(7, 16 * KiB), 16 * KiB, true);
	CHECK(stats_of(s).n_spills == 1);
	CHECK(stats_of(s).mem_bytes <= limit);
	CHECK(pin_equals(s, 0, w0, 20 * KiB));
	CHECK(stats_of(s).n_reloads == 1);
	CHECK(pin_equals(s, 1, w1, 32 * KiB));

	/* The last release removes the files. */
	CHECK(p0 && path_exists(p0) && p1 && path_exists(p1));
	store_release(s, 0);
	store_release(s, 1);
	CHECK(p0 && !path_exists(p0));
	CHECK(p1 && !path_exists(p1));
	for (int i = 2; i <= 4; i++)
		store_release(s, i);
	CHECK(settled(s));
	free(p0);
	free(p1);
	free(w0);
	free(w1);
	store_free(s);
	test_dir_done(dir);
}

static void test_write_to(void)
{
	const size_t limit = 64 * KiB, big = 3 * MiB;
	char *dir = test_dir_new();
	struct store *s = open_store(dir, limit, 1, 3);
	static struct events ev;
	struct err e;

	events_init(&ev);
	store_on_event(s, on_event, &ev);
	unsigned char *w[3] = { chunk_bytes(0, 10 * KiB), chunk_bytes(1, big), chunk_bytes(2, big) };
	size_t n[3] = { 10 * KiB, big, big };
	for (int i = 0; i < 3; i++) {
		store_set_refs(s, i, 1);
		store_set_next_use(s, i, i * 10);
		/* 1 and 2 are larger than the whole budget. */
		store_put_take(s, i, dup_bytes(w[i], n[i]), n[i], true);
	}
	CHECK(wait_events(&ev, 2));
	CHECK(ev.ev[0].id == 1 && !ev.ev[0].compressed);
	CHECK(ev.ev[1].id == 2 && ev.ev[1].compressed && ev.ev[1].disk_bytes < big / 2);
	CHECK(stats_of(s).mem_bytes == 10 * KiB);

	for (int i = 0; i < 3; i++) {
		FILE *f = tmpfile();
		CHECK(f != NULL);
		if (!f)
			continue;
		err_init(&e);
		CHECK(store_write_to(s, i, fileno(f), &e) == 0);
		if (err_set(&e))
			fprintf(stderr, "write_to %d: %s\n", i, e.msg);
		CHECK(stream_holds(f, w[i], n[i]));
		fclose(f);
	}
	/* Streamed, never loaded whole. */
	CHECK(stats_of(s).n_reloads == 0);
	CHECK(stats_of(s).peak_bytes <= 10 * KiB + big);
	CHECK(stats_of(s).mem_bytes == 10 * KiB);

	/* A closed pipe is an error with errno, not a death by SIGPIPE. */
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 3; i += 2) {
		int fds[2];
		CHECK(pipe(fds) == 0);
		close(fds[0]);
		err_init(&e);
		CHECK(store_write_to(s, i, fds[1], &e) == -1);
		CHECK(e.sys_errno == EPIPE && strstr(e.msg, "cannot write chunk") != NULL);
		close(fds[1]);
	}
	signal(SIGPIPE, old);

	/* A chunk over the budget can still be pinned whole. */
	CHECK(pin_equals(s, 2, w[2], big));
	for (int i = 0; i < 3; i++) {
		store_release(s, i);
		free(w[i]);
	}
	CHECK(settled(s));
	store_free(s);
	test_dir_done(dir);
}

static void test_fault_injection(void)
{
	const size_t size = 16 * KiB;
	char *dir = test_dir_new();
	setenv("TESSERA_FAULT", "spill_write:1", 1);
	struct store *s = open_store(dir, 2 * size, 1, 3);
	unsetenv("TESSERA_FAULT");
	unsigned char *w[3];
	struct err e;

	for (int i = 0; i < 3; i++) {
		w[i] = chunk_bytes(2 * i, size);
		store_set_refs(s, i, 1);
		store_set_next_use(s, i, i);
		store_put_take(s, i, dup_bytes(w[i], size), size, true);
	}
	/* The first spill (chunk 2) failed and kept its bytes; chunk 1 went instead. */
	struct store_stats st = stats_of(s);
	CHECK(st.n_spills == 1);
	CHECK(st.mem_bytes == 2 * size);
	err_init(&e);
	CHECK(store_take_error(s, &e) == -1);
	CHECK(e.sys_errno == ENOSPC);
	CHECK(strstr(e.msg, "cannot write spill file '") != NULL);
	CHECK(strstr(e.msg, "/c-2") != NULL);
	CHECK(strstr(e.msg, "No space left on device") != NULL);
	err_init(&e);
	CHECK(store_take_error(s, &e) == 0 && !err_set(&e));
	for (int i = 0; i < 3; i++) {
		CHECK(pin_equals(s, i, w[i], size));
		store_release(s, i);
		free(w[i]);
	}
	store_free(s);
	test_dir_done(dir);
}

static void test_prefetch(void)
{
	const size_t size = 16 * KiB;
	char *dir = test_dir_new();
	struct store *s = open_store(dir, 4 * size, 1, 5);
	static struct events ev;
	unsigned char *w4 = chunk_bytes(4, size);

	events_init(&ev);
	store_on_event(s, on_event, &ev);
	for (int i = 0; i < 5; i++) {
		store_set_refs(s, i, 1);
		store_set_next_use(s, i, i);
		store_put_take(s, i, i == 4 ? dup_bytes(w4, size) : chunk_bytes(i, size), size, true);
	}
	CHECK(wait_events(&ev, 1));
	CHECK(ev.ev[0].id == 4);

	store_prefetch(s, 4); /* no room: ignored */
	sleep_ms(20);
	CHECK(stats_of(s).n_reloads == 0);
	store_release(s, 0);
	store_prefetch(s, 4);
	store_prefetch(s, 4); /* asked twice, loaded once */
	for (int i = 0; i < 10000 && stats_of(s).n_reloads == 0; i++)
		sleep_ms(1);
	CHECK(wait_events(&ev, 2));
	CHECK(ev.ev[1].kind == STORE_RELOAD && ev.ev[1].id == 4);
	CHECK(stats_of(s).n_reloads == 1);
	CHECK(pin_equals(s, 4, w4, size));
	CHECK(stats_of(s).n_reloads == 1);
	for (int i = 1; i < 5; i++)
		store_release(s, i);
	free(w4);
	store_free(s);
	test_dir_done(dir);
}

static void test_tmp_path_and_folder(void)
{
	char *dir = test_dir_new();
	struct store *s = open_store(dir, MiB, 2, 2);
	struct err e;
	unsigned char *w = chunk_bytes(1, 5000);

	char *t = store_tmp_path(s);
	char *t2 = store_tmp_path(s);
	CHECK(strcmp(t, t2) != 0);
	CHECK(strncmp(t, dir, strlen(dir)) == 0);
	FILE *f = fopen(t, "wb");
	CHECK(f != NULL);
	if (f) {
		fwrite(w, 1, 5000, f);
		fclose(f);
	}
	store_set_refs(s, 0, 2);
	store_put_file_take(s, 0, t, 5000);
	CHECK(stats_of(s).disk_bytes == 5000 && stats_of(s).mem_bytes == 0);
	err_init(&e);
	const char *p = store_pin_path(s, 0, &e);
	CHECK_STR(p, t);
	store_unpin(s, 0);
	FILE *o = tmpfile();
	CHECK(o && store_write_to(s, 0, fileno(o), &e) == 0 && stream_holds(o, w, 5000));
	if (o)
		fclose(o);
	CHECK(pin_equals(s, 0, w, 5000));
	store_release(s, 0);
	CHECK(path_exists(t));
	store_release(s, 0);
	CHECK(!path_exists(t));
	CHECK(settled(s));

	/* Nobody needs chunk 1: its file goes at once. */
	f = fopen(t2, "wb");
	if (f)
		fclose(f);
	store_put_file_take(s, 1, t2, 0);
	CHECK(!path_exists(t2));

	/* store_free() removes the private folder itself. */
	char *folder = strdup(t);
	*strrchr(folder, '/') = '\0';
	CHECK(path_exists(folder));
	store_free(s);
	CHECK(!path_exists(folder));
	free(folder);
	free(t);
	free(t2);
	free(w);
	test_dir_done(dir);
}

/* spill_file_of() : the one file in the store's folder whose name starts with @prefix. */
static char *spill_file_of(const char *folder, const char *prefix)
{
	DIR *d = opendir(folder);
	char *found = NULL;
	if (!d)
		return NULL;
	for (struct dirent *de; (de = readdir(d));) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 && !found) {
			found = malloc(strlen(folder) + strlen(de->d_name) + 2);
			sprintf(found, "%s/%s", folder, de->d_name);
		}
	}
	closedir(d);
	return found;
}

static void test_read_errors(void)
{
	const size_t size = 16 * KiB;
	char *dir = test_dir_new();
	struct store *s = open_store(dir, size, 1, 3);
	struct err e;
	size_t len;

	char *t = store_tmp_path(s);
	char *folder = strdup(t);
	*strrchr(folder, '/') = '\0';
	for (int i = 0; i < 3; i++) {
		store_set_refs(s, i, 1);
		store_set_next_use(s, i, 10 - i);
		/* 0: random, spilled raw; 1: text, spilled as zstd; 2 stays. */
		store_put_take(s, i, chunk_bytes(i == 0 ? 1 : 2, size), size, true);
	}
	CHECK(stats_of(s).n_spills == 2);

	char *raw = spill_file_of(folder, "c-0");
	char *zst = spill_file_of(folder, "c-1");
	CHECK(raw && !strstr(raw, ".zst") && zst && strstr(zst, ".zst"));
	if (raw && zst) {
		CHECK(truncate(raw, 100) == 0);
		err_init(&e);
		CHECK(store_pin(s, 0, &len, &e) == NULL);
		CHECK(strstr(e.msg, "cannot read spill file '") && strstr(e.msg, raw) &&
		      strstr(e.msg, "truncated"));
		CHECK(unlink(zst) == 0);
		err_init(&e);
		CHECK(store_pin_path(s, 1, &e) == NULL);
		CHECK(e.sys_errno == ENOENT && strstr(e.msg, zst) != NULL);
		err_init(&e);
		FILE *f = tmpfile();
		CHECK(f && store_write_to(s, 1, fileno(f), &e) == -1 && e.sys_errno == ENOENT);
		if (f)
			fclose(f);
	}
	/* Failed reads leave the chunks releasable. */
	for (int i = 0; i < 3; i++)
		store_release(s, i);
	CHECK(settled(s));
	free(raw);
	free(zst);
	free(folder);
	free(t);
	store_free(s);
	test_dir_done(dir);
}

/* ---- threads ---- */

struct same_pin {
	struct store *s;
	const unsigned char *want;
	size_t n;
	pthread_barrier_t *all_pinned;
	bool ok;
};

static void *same_pin_main(void *arg)
{
	struct same_pin *a = arg;
	struct err e;
	size_t len = 0;
	err_init(&e);
	const void *p = store_pin(a->s, 0, &len, &e);
	a->ok = p && len == a->n && memcmp(p, a->want, a->n) == 0;
	/* Nobody unpins before everybody pinned, so one load must serve all. */
	pthread_barrier_wait(a->all_pinned);
	if (p)
		store_unpin(a->s, 0);
	return NULL;
}

static void test_concurrent_pin_loads_once(void)
{
	enum { T = 4 };
	const size_t n = MiB;
	char *dir = test_dir_new();
	struct store *s = open_store(dir, 64 * KiB, 1, 1);
	unsigned char *w = chunk_bytes(0, n);
	pthread_t th[T];
	struct same_pin a[T];
	pthread_barrier_t b;

	store_set_refs(s, 0, 1);
	store_put_take(s, 0, dup_bytes(w, n), n, true);
	CHECK(stats_of(s).mem_bytes == 0 && stats_of(s).n_spills == 1);
	pthread_barrier_init(&b, NULL, T);
	for (int i = 0; i < T; i++) {
		a[i] = (struct same_pin){ s, w, n, &b, false };
		pthread_create(&th[i], NULL, same_pin_main, &a[i]);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		CHECK(a[i].ok);
	}
	pthread_barrier_destroy(&b);
	CHECK(stats_of(s).n_reloads == 1);
	store_release(s, 0);
	free(w);
	store_free(s);
	test_dir_done(dir);
}

enum { W = 4, PER = 50 };

struct worker {
	struct store *s;
	int w;
	pthread_barrier_t *phase;
	int bad;
};

static size_t stress_len(int64_t id)
{
	return (size_t)(4 + (id * 7) % 17) * KiB;
}

static void *stress_main(void *arg)
{
	struct worker *k = arg;
	struct err e;

	/* Produce: put this worker's chunks, then read each back once. */
	for (int j = 0; j < PER; j++) {
		int64_t id = (int64_t)j * W + k->w;
		size_t n = stress_len(id);
		store_set_next_use(k->s, id, (id * 13) % (W * PER));
		store_put_take(k->s, id, chunk_bytes(id, n), n, true);
	}
	for (int j = 0; j < PER; j++) {
		int64_t id = (int64_t)j * W + k->w;
		unsigned char *want = chunk_bytes(id, stress_len(id));
		k->bad += !pin_equals(k->s, id, want, stress_len(id));
		store_release(k->s, id);
		free(want);
	}
	pthread_barrier_wait(k->phase);

	/* Consume a neighbour's chunks three ways, prefetching ahead. */
	int nb = (k->w + 1) % W;
	for (int j = 0; j < PER; j++) {
		int64_t id = (int64_t)j * W + nb;
		size_t n = stress_len(id);
		unsigned char *want = chunk_bytes(id, n);
		if (j + 1 < PER)
			store_prefetch(k->s, id + W);
		err_init(&e);
		if (j % 3 == 0) {
			k->bad += !pin_equals(k->s, id, want, n);
		} else if (j % 3 == 1) {
			const char *p = store_pin_path(k->s, id, &e);
			k->bad += !p || !file_holds(p, want, n);
			if (p)
				store_unpin(k->s, id);
		} else {
			FILE *f = tmpfile();
			k->bad += !f || store_write_to(k->s, id, fileno(f), &e) != 0 ||
				  !stream_holds(f, want, n);
			if (f)
				fclose(f);
		}
		store_release(k->s, id);
		free(want);
	}
	return NULL;
}

static void test_threads(void)
{
	char *dir = test_dir_new();
	struct store *s = open_store(dir, 64 * KiB, 2, W * PER);
	static struct events ev;
	pthread_t th[W];
	struct worker k[W];
	pthread_barrier_t b;
	struct err e;

	events_init(&ev);
	store_on_event(s, on_event, &ev);
	for (int64_t i = 0; i < W * PER; i++)
		store_set_refs(s, i, 2);
	pthread_barrier_init(&b, NULL, W);
	for (int i = 0; i < W; i++) {
		k[i] = (struct worker){ s, i, &b, 0 };
		pthread_create(&th[i], NULL, stress_main, &k[i]);
	}
	int bad = 0;
	for (int i = 0; i < W; i++) {
		pthread_join(th[i], NULL);
		bad += k[i].bad;
	}
	pthread_barrier_destroy(&b);
	CHECK(bad == 0);
	struct store_stats st = stats_of(s);
	CHECK(st.n_spills > 0 && st.n_reloads > 0);
	CHECK(settled(s));
	err_init(&e);
	CHECK(store_take_error(s, &e) == 0);
	store_free(s);
	test_dir_done(dir);
}

const struct test store_tests[] = {
	{ "store_roundtrip", test_roundtrip },
	{ "store_tiny_limit", test_tiny_limit },
	{ "store_eviction_order", test_eviction_order },
	{ "store_eviction_order_at_scale", test_eviction_order_at_scale },
	{ "store_pin_path", test_pin_path },
	{ "store_write_to", test_write_to },
	{ "store_fault_injection", test_fault_injection },
	{ "store_prefetch", test_prefetch },
	{ "store_tmp_path_and_folder", test_tmp_path_and_folder },
	{ "store_read_errors", test_read_errors },
	{ "store_concurrent_pin_loads_once", test_concurrent_pin_loads_once },
	{ "store_threads", test_threads },
	{ NULL, NULL },
};
