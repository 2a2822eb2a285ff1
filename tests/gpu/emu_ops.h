/* SPDX-License-Identifier: MIT */
/*
 * emu_ops: the CUDA plugin's device operations (struct dg_ops of
 * kernels/cuda/dist_gemm.h) run on the CPU: element launches as loops,
 * cuBLAS's column-major GEMM and SYRK as CBLAS calls of the same signature,
 * and the tiled kernel over an emulated grid (every block, every thread of a
 * block, phase by phase, shared memory a host array poisoned with NaN before
 * every load). Shared by the unit test (tests/unit/cuda_emu_test.c) and the
 * emulated plugin (tests/gpu/emu_plugin.c), so both check the same thing.
 */
#ifndef TESSERA_TESTS_GPU_EMU_OPS_H
#define TESSERA_TESTS_GPU_EMU_OPS_H

#include "cuda/dist_gemm.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

struct emu {
	long long launches, gemms, tiles; /* what ran */
	struct dt_thread *th;		   /* a block's threads' registers */
};

/* The device's warp_sum2 (kernels/cuda/distance.cu): a butterfly over DG_LANES lanes. */
static void emu_warp_sum(double s[][2])
{
	for (int off = DG_LANES / 2; off > 0; off /= 2) {
		double t[DG_LANES][2];
		memcpy(t, s, sizeof t);
		for (int l = 0; l < DG_LANES; l++)
			for (int k = 0; k < 2; k++)
				s[l][k] = t[l][k] + t[l ^ off][k];
	}
}

/* DG_K_ROWS as the device runs it: a warp a row, every lane a strided share of the features. */
static void emu_rows(const struct dg_args *g, long long i)
{
	double s[DG_LANES][2] = { { 0 } }, mean = 0;
	if (dg_rows_mean_pass(g)) {
		for (int l = 0; l < DG_LANES; l++)
			dg_rows_lane(g, i, 0, 0.0, l, DG_LANES, s[l]);
		emu_warp_sum(s);
		mean = dg_rows_mean(s[0]);
		memset(s, 0, sizeof s);
	}
	if (dg_rows_sum_pass(g)) {
		for (int l = 0; l < DG_LANES; l++)
			dg_rows_lane(g, i, 1, mean, l, DG_LANES, s[l]);
		emu_warp_sum(s);
	}
	dg_rows_store(g, i, s[0], mean);
}

static int emu_apply(void *ctx, int kind, long long count, const struct dg_args *g)
{
	struct emu *e = ctx;
	e->launches++;
	for (long long i = 0; i < count; i++)
		if (kind == DG_K_ROWS)
			emu_rows(g, i);
		else
			dg_apply(kind, i, g);
	return 0;
}

static int emu_gemm(void *ctx, int ta, int tb, int m, int n, int k, double alpha, const double *a, int lda,
		    const double *b, int ldb, double beta, double *c, int ldc)
{
	struct emu *e = ctx;
	e->gemms++;
	cblas_dgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a,
		    lda, b, ldb, beta, c, ldc);
	return 0;
}

static int emu_syrk(void *ctx, int lower, int trans, int n, int k, double alpha, const double *a, int lda, double beta,
		    double *c, int ldc)
{
	struct emu *e = ctx;
	e->gemms++;
	cblas_dsyrk(CblasColMajor, lower ? CblasLower : CblasUpper, trans ? CblasTrans : CblasNoTrans, n, k, alpha, a,
		    lda, beta, c, ldc);
	return 0;
}

/* The tiled kernel's grid: each block's threads run a phase, all of them, before any runs the next
 * (what __syncthreads() guarantees on the device); the blocks one after another, as they may. */
static int emu_tiled(void *ctx, const struct dt_args *t)
{
	struct emu *e = ctx;
	struct dt_ix grid = dt_grid(t), bdim = { DT_TX, DT_TY };
	double sh[DT_SH_DOUBLES];
	e->tiles++;
	for (int by = 0; by < grid.y; by++)
		for (int bx = 0; bx < grid.x; bx++) {
			struct dt_ix blk = { bx, by };
			if (!dt_block_live(t, blk))
				continue;
			for (int ty = 0; ty < bdim.y; ty++)
				for (int tx = 0; tx < bdim.x; tx++)
					dt_init(t->metric, t, blk, (struct dt_ix){ tx, ty }, &e->th[ty * bdim.x + tx]);
			for (long long c = 0; c < dt_n_chunks(t); c++) {
				for (int k = 0; k < DT_SH_DOUBLES; k++)
					sh[k] = NAN;
				for (int ty = 0; ty < bdim.y; ty++)
					for (int tx = 0; tx < bdim.x; tx++)
						dt_load(t, blk, (struct dt_ix){ tx, ty }, bdim, c * DT_KF, sh);
				/* __syncthreads(); then the threads in the other order: nothing may depend on it */
				for (int ty = bdim.y - 1; ty >= 0; ty--)
					for (int tx = bdim.x - 1; tx >= 0; tx--)
						dt_accum(t->metric, t->miss, t, (struct dt_ix){ tx, ty }, c * DT_KF, sh,
							 &e->th[ty * bdim.x + tx]);
				/* __syncthreads() */
			}
			for (int ty = 0; ty < bdim.y; ty++)
				for (int tx = 0; tx < bdim.x; tx++)
					dt_store(t->metric, t, blk, (struct dt_ix){ tx, ty }, &e->th[ty * bdim.x + tx]);
		}
	return 0;
}

static const struct dg_ops emu_ops = { emu_apply, emu_gemm, emu_syrk, emu_tiled };

#endif
