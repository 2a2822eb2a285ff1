/* SPDX-License-Identifier: MIT */
/*
 * readbw: the machine's memory read bandwidth, the floor for the array
 * benchmark's bandwidth rows: @threads threads each sum their half of a
 * 1.6 GB buffer (touched first, so no page faults are timed), best of 5.
 * usage: readbw [THREADS]   (prints GB/s)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N ((size_t)200000000)

static double *buf;
static int threads;
static double sums[64];

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Eight independent sums, so the loop waits on memory, not on additions. */
static void *part(void *arg)
{
	long id = (long)arg;
	size_t lo = N / (size_t)threads * (size_t)id, hi = id == threads - 1 ? N : lo + N / (size_t)threads;
	double s[8] = { 0 };
	size_t i = lo;
	for (; i + 8 <= hi; i += 8)
		for (int k = 0; k < 8; k++)
			s[k] += buf[i + (size_t)k];
	for (; i < hi; i++)
		s[0] += buf[i];
	sums[id] = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
	return NULL;
}

int main(int argc, char **argv)
{
	threads = argc > 1 ? atoi(argv[1]) : 2;
	if (threads < 1 || threads > 64)
		return 2;
	buf = malloc(N * sizeof *buf);
	if (!buf)
		return 1;
	for (size_t i = 0; i < N; i++)
		buf[i] = (double)(i & 7);
	double best = 1e30, total = 0;
	for (int r = 0; r < 5; r++) {
		pthread_t t[64];
		double t0 = now();
		for (long i = 0; i < threads; i++)
			pthread_create(&t[i], NULL, part, (void *)i);
		for (int i = 0; i < threads; i++)
			pthread_join(t[i], NULL);
		double d = now() - t0;
		best = d < best ? d : best;
		for (int i = 0; i < threads; i++)
			total += sums[i];
	}
	printf("%.1f\n", (double)(N * sizeof *buf) / best / 1e9);
	return total == 42 ? 3 : 0; /* keeps the sums live */
}
