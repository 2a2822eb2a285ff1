/* SPDX-License-Identifier: MIT */
/*
 * dist_tile: the tiled distance kernel on the device, the phases of
 * dist_tile.h with the real indices and __syncthreads() between them. One
 * instantiation per metric and per "the piece has missing values", so that
 * kdm_update()'s switch and the missing-value tests fold away and a
 * thread's statistics stay in registers.
 */
#include "tcu_int.cuh"

template <int M, int MISS>
__global__ void __launch_bounds__(DT_TX *DT_TY) dt_kernel(const struct dt_args g)
{
	__shared__ double sh[DT_SH_DOUBLES];
	struct dt_ix blk = { (int)blockIdx.x, (int)blockIdx.y };
	struct dt_ix thr = { (int)threadIdx.x, (int)threadIdx.y };
	struct dt_ix bdim = { (int)blockDim.x, (int)blockDim.y };
	if (!dt_block_live(&g, blk)) /* the whole block: no thread is left waiting at a barrier */
		return;
	struct dt_thread t;
	dt_init(M, &g, blk, thr, &t);
	long long nc = dt_n_chunks(&g);
	for (long long c = 0; c < nc; c++) {
		dt_load(&g, blk, thr, bdim, c * DT_KF, sh);
		__syncthreads();
		dt_accum(M, MISS, &g, thr, c * DT_KF, sh, &t);
		__syncthreads();
	}
	dt_store(M, &g, blk, thr, &t);
}

template <int M>
static cudaError_t launch_metric(const struct dt_args *t, cudaStream_t s)
{
	struct dt_ix gd = dt_grid(t);
	dim3 grid((unsigned)gd.x, (unsigned)gd.y), block(DT_TX, DT_TY);
	if (t->miss)
		dt_kernel<M, 1><<<grid, block, 0, s>>>(*t);
	else
		dt_kernel<M, 0><<<grid, block, 0, s>>>(*t);
	return cudaGetLastError();
}

cudaError_t tcu_launch_tiled(const struct dt_args *t, cudaStream_t s)
{
	if (t->na <= 0 || t->nb <= 0 || t->nf <= 0)
		return cudaSuccess;
	if ((t->na + DT_BR - 1) / DT_BR > 65535)
		return cudaErrorInvalidConfiguration;
	switch (t->metric) {
#define CASE(m)        \
	case m:        \
		return launch_metric<m>(t, s);
		CASE(K_DIST_BRAYCURTIS)
		CASE(K_DIST_CANBERRA)
		CASE(K_DIST_CHEBYSHEV)
		CASE(K_DIST_CITYBLOCK)
		CASE(K_DIST_CORRELATION)
		CASE(K_DIST_COSINE)
		CASE(K_DIST_DICE)
		CASE(K_DIST_EUCLIDEAN)
		CASE(K_DIST_HAMMING)
		CASE(K_DIST_JACCARD)
		CASE(K_DIST_JENSENSHANNON)
		CASE(K_DIST_MINKOWSKI)
		CASE(K_DIST_ROGERSTANIMOTO)
		CASE(K_DIST_RUSSELLRAO)
		CASE(K_DIST_SEUCLIDEAN)
		CASE(K_DIST_SOKALSNEATH)
		CASE(K_DIST_SQEUCLIDEAN)
		CASE(K_DIST_YULE)
#undef CASE
	default:
		return cudaErrorInvalidValue;
	}
}
