/* SPDX-License-Identifier: MIT */
/*
 * tcu: the ABI between tessera and its optional CUDA plugin,
 * libtessera-cuda.so. The plugin exports one function, tessera_cuda_api(),
 * returning a table of entry points; tessera dlopen()s the library at run
 * time (src/dev/cuda.c), so the binary builds, runs and passes its tests on
 * machines without CUDA. Plain C types only; the plugin is built by nvcc.
 *
 * Distances: one job accumulates the statistics of one tile (na x nb pairs)
 * on the device over successive pieces of features, which the caller feeds
 * as it reads them; the statistics stay on the device until dist_end, so a
 * tile costs one copy back however many features it has. The statistics
 * have the layout and meaning of kernels/distance.h (stat-major, mergeable
 * with k_dist_combine, finalized with k_dist_finalize).
 *
 * Every entry point is thread-safe: jobs of different threads run on their
 * own streams. Errors are returned as -1 (or NULL) with a one-line reason in
 * @err (at most @err_len bytes, NUL-terminated).
 */
#ifndef TESSERA_KERNELS_CUDA_TCU_H
#define TESSERA_KERNELS_CUDA_TCU_H

#include "distance.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TCU_ABI 3

struct tcu_dist_job;

/* Rows the caller reads straight into the plugin's staging buffer (tcu_api.dist_feed_read). */
struct tcu_reader {
	enum k_dist_elem type_a, type_b; /* b's unused on a diagonal tile */
	/* read() : features [f0, f0 + n) of every row of side @side (0: a, 1: b) into @dst, row r
	 * at element r * n. 0, or -1 when the read failed (the caller keeps its reason). */
	int (*read)(void *ctx, int side, int64_t f0, int64_t n, void *dst);
	void *ctx;
};

struct tcu_api {
	int abi; /* TCU_ABI */
	/* tcu_api.probe() : the number of usable devices (0 with a reason in @err when none). */
	int (*probe)(char *err, size_t err_len);
	/* tcu_api.device_name() : "NVIDIA H100 80GB HBM3 (sm_90, 80 GiB)" of device 0. */
	void (*device_name)(char *buf, size_t len);
	/* tcu_api.dist_begin() : a job for @na x @nb pairs (@same: a diagonal tile, a and b
	 * will be the same rows), staging its pieces in two pinned buffers of about @stage bytes
	 * each (0: 32 MiB; each piece takes at least 32 features). NULL and @err when the device
	 * has no room. */
	struct tcu_dist_job *(*dist_begin)(const struct k_dist_opts *o, int64_t na, int64_t nb, bool same,
					    size_t stage, char *err, size_t err_len);
	/* tcu_api.dist_feed() : adds features [0, nf) of @a and @b (@w: their weights when
	 * o->weighted). The host buffers may be reused as soon as this returns. */
	int (*dist_feed)(struct tcu_dist_job *j, const struct k_dist_rows *a, const struct k_dist_rows *b, int64_t nf,
			 const double *w, char *err, size_t err_len);
	/* tcu_api.dist_feed_read() : dist_feed, with features [0, nf) read by @rd straight into the
	 * pinned staging buffer, piece by piece: one copy less than rows packed from the caller's memory. */
	int (*dist_feed_read)(struct tcu_dist_job *j, int64_t nf, const struct tcu_reader *rd, const double *w,
			      char *err, size_t err_len);
	/* tcu_api.dist_end() : the job's statistics into @stats (host, n_stats * na * nb
	 * doubles, as k_dist_map leaves them), and the job freed, whatever happens. */
	int (*dist_end)(struct tcu_dist_job *j, double *stats, char *err, size_t err_len);
};

/* The plugin's one export. */
const struct tcu_api *tessera_cuda_api(void);

#ifdef __cplusplus
}
#endif

#endif
