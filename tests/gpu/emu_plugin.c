/* SPDX-License-Identifier: MIT */
/*
 * emu_plugin: a stand-in for libtessera-cuda.so that runs on the CPU
 * (build/libtessera-cuda-emu.so; tessera loads it with
 * TESSERA_CUDA_LIB=...). It exports the plugin's ABI (kernels/cuda/tcu.h)
 * and does what kernels/cuda/distance.cu does with a job, in the same
 * order and through the same code (dg_job_setup, dg_pack, dg_piece,
 * dg_end of kernels/cuda/dist_gemm.h), with the device's operations
 * emulated (tests/gpu/emu_ops.h). So everything of device="gpu" except the
 * CUDA mechanics (streams, copies, cuBLAS, launches) is tested on machines
 * without a GPU: the graph's GPU tasks, how tessera feeds a job group by
 * group, the pieces a feed is cut into, and the engines' arithmetic.
 *
 * Buffers that the device would reuse from an earlier job (the plugin keeps
 * a pool) start filled with NaN here, so an engine that reads one before
 * writing it shows. TESSERA_CUDA_TILED=1 sends every metric through the
 * tiled kernel, as it does for the plugin.
 */
#include "cuda/tcu.h"
#include "emu_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tcu_dist_job {
	struct dg_job J;
	int n_stats;
	struct emu e;
};

static int probe(char *err, size_t len)
{
	(void)err;
	(void)len;
	return 1;
}

static void device_name(char *buf, size_t len)
{
	snprintf(buf, len, "CPU emulation of the CUDA plugin (tests/gpu/emu_plugin.c)");
}

static double *poisoned(long long n)
{
	double *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
	if (p)
		for (long long i = 0; i < n; i++)
			p[i] = NAN;
	return p;
}

static void job_free(struct tcu_dist_job *j)
{
	if (!j)
		return;
	free(j->J.st);
	free(j->J.acc);
	free(j->J.opa);
	free(j->J.opb);
	free(j->J.col);
	free(j->J.ra);
	free(j->J.rb);
	free(j->e.th);
	free(j);
}

static struct tcu_dist_job *dist_begin(const struct k_dist_opts *o, int64_t na, int64_t nb, bool same, size_t stage,
				       char *err, size_t len)
{
	if (!o || (unsigned)o->metric >= K_DIST_N || na < 0 || nb < 0) {
		snprintf(err, len, "dist_begin: bad arguments");
		return NULL;
	}
	struct tcu_dist_job *j = calloc(1, sizeof *j);
	if (!j) {
		snprintf(err, len, "out of memory");
		return NULL;
	}
	const char *t = getenv("TESSERA_CUDA_TILED");
	struct dg_job *J = &j->J;
	dg_job_setup(J, o, na, nb, same, t && *t && strcmp(t, "0") != 0, stage);
	j->n_stats = kdm_n_stats(J->metric);
	struct dg_sizes z = dg_sizes_of(J->fam, na, nb, J->P);
	J->st = calloc((size_t)(J->np * j->n_stats + 1), sizeof(double)); /* the plugin zeroes it */
	J->acc = poisoned(z.acc);
	J->opa = poisoned(z.opa);
	J->opb = poisoned(z.opb);
	J->col = poisoned(z.col);
	J->ra = poisoned(z.ra);
	J->rb = poisoned(z.rb);
	j->e.th = malloc(sizeof(struct dt_thread) * DT_TX * DT_TY);
	if (!J->st || !J->acc || !J->opa || !J->opb || !J->col || !J->ra || !J->rb || !j->e.th) {
		job_free(j);
		snprintf(err, len, "out of memory");
		return NULL;
	}
	return j;
}

/* The pieces of one feed, cut and staged from @src as distance.cu does. */
static int feed(struct tcu_dist_job *j, const struct dg_source *src, int64_t nf, const double *w, char *err,
		size_t len)
{
	struct dg_job *J = &j->J;
	const double *wf = J->weighted ? w : NULL;
	for (int64_t f0 = 0; f0 < nf;) {
		long long n = nf - f0 < J->P ? nf - f0 : J->P;
		struct dg_layout L = dg_source_layout(J, src, n, wf != NULL);
		/* a staging buffer as the device's would be: what no one packed is garbage */
		double *buf = poisoned((long long)((L.bytes + 7) / 8));
		if (!buf) {
			snprintf(err, len, "out of memory");
			return -1;
		}
		struct dg_piece pc;
		int rc = dg_stage(J, src, wf, f0, n, L, buf, buf, &pc);
		if (rc < 0)
			snprintf(err, len, "reading the rows failed");
		else if ((rc = dg_piece(&emu_ops, &j->e, J, &pc)) < 0)
			snprintf(err, len, "dg_piece failed");
		free(buf);
		if (rc < 0)
			return -1;
		f0 += n;
	}
	return 0;
}

static int dist_feed(struct tcu_dist_job *j, const struct k_dist_rows *a, const struct k_dist_rows *b, int64_t nf,
		     const double *w, char *err, size_t len)
{
	struct dg_source src;
	if (nf <= 0 || j->J.np <= 0)
		return 0;
	if (dg_source_rows(&j->J, a, b, nf, &src) < 0) {
		snprintf(err, len, "dist_feed: rows %lld x %lld for a job of %lld x %lld", (long long)a->rows,
			 (long long)b->rows, j->J.na, j->J.nb);
		return -1;
	}
	return feed(j, &src, nf, w, err, len);
}

static int dist_feed_read(struct tcu_dist_job *j, int64_t nf, const struct tcu_reader *rd, const double *w, char *err,
			  size_t len)
{
	struct dg_source src;
	if (nf <= 0 || j->J.np <= 0)
		return 0;
	dg_source_reader(&j->J, rd->read, rd->ctx, rd->type_a == K_DIST_I8, rd->type_b == K_DIST_I8, &src);
	return feed(j, &src, nf, w, err, len);
}

static int dist_end(struct tcu_dist_job *j, double *stats, char *err, size_t len)
{
	if (!j)
		return 0;
	int rc = 0;
	if (stats && j->J.np > 0) {
		if (dg_end(&emu_ops, &j->e, &j->J) < 0) {
			snprintf(err, len, "dg_end failed");
			rc = -1;
		} else {
			memcpy(stats, j->J.st, (size_t)(j->J.np * j->n_stats) * sizeof(double));
		}
	}
	job_free(j);
	return rc;
}

__attribute__((visibility("default"))) const struct tcu_api *tessera_cuda_api(void);

const struct tcu_api *tessera_cuda_api(void)
{
	static const struct tcu_api api = { TCU_ABI, probe, device_name, dist_begin, dist_feed, dist_feed_read, dist_end };
	return &api;
}
