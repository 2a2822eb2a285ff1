/* SPDX-License-Identifier: MIT */
/*
 * tcu_int: what the plugin's .cu files share inside libtessera-cuda.so
 * (nothing here crosses the library's boundary): the kernel launchers,
 * each in its own file so that make compiles them in parallel.
 */
#ifndef TESSERA_KERNELS_CUDA_TCU_INT_CUH
#define TESSERA_KERNELS_CUDA_TCU_INT_CUH

#include "dist_gemm.h"

#include <cuda_runtime.h>

/* tcu_launch_tiled() : the tiled kernel over @t's grid on stream @s (dist_tile.cu).
 * @return the launch's error (cudaSuccess when queued). */
cudaError_t tcu_launch_tiled(const struct dt_args *t, cudaStream_t s);

/* tcu_launch_apply() : dg_apply(@kind, i, @g) for i in [0, @count) on stream @s (distance.cu). */
cudaError_t tcu_launch_apply(int kind, long long count, const struct dg_args *g, cudaStream_t s);

/* tcu_probe_kernel() : a kernel of the library, to ask the driver whether it has an image for a device. */
const void *tcu_probe_kernel(void);

#endif
