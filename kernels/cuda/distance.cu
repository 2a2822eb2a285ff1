/* SPDX-License-Identifier: MIT */
/*
 * distance: libtessera-cuda.so's entry point (tcu.h) and its CUDA
 * mechanics: finding devices, loading cuBLAS, jobs with their streams,
 * pinned staging buffers and device buffers, and the operations
 * dist_gemm.h's steps run on (kernel launches and cuBLAS calls). What is
 * computed, and in what order, is dist_gemm.h's and dist_tile.h's, which
 * the unit tests run on the CPU.
 *
 * DESIGN: a job (one tile) owns a "rig" for its lifetime: a compute
 * stream, a copy stream, two pinned host staging buffers and two device
 * buffers for raw pieces (slot 0 and 1), the tile's statistics, the
 * engine's accumulators and operands, and a cuBLAS handle bound to the
 * compute stream. dist_feed cuts the caller's features into pieces of
 * dg_piece_len() features and, per piece k (slot k % 2): waits on the host
 * until the GPU finished piece k - 2 (the slot's "done" event), packs the
 * piece into the slot's pinned buffer (noting missing values and the
 * weights' sum), queues its copy to the device on the copy stream (event
 * "copied"), makes the compute stream wait for that event and queues the
 * piece's kernels and GEMMs behind it, then records "done". So while the
 * GPU computes piece k, the calling thread packs piece k + 1 and the copy
 * engine moves it; the caller's buffers are free as soon as dist_feed
 * returns. dist_end mirrors a diagonal tile, copies the statistics back
 * and waits; it is the only call that waits for the whole job.
 *
 * Rigs are kept in a pool per device when their job ends (allocation of
 * pinned memory and cuBLAS handles is slow, and successive tiles have the
 * same shape): a pool is the one piece of mutable state in the library,
 * behind a mutex, since the ABI has no context object to hang it on. The
 * pool grows to the number of jobs that ran at once (tessera's worker
 * count) and lives until the process ends. Each entry point is
 * thread-safe; a job is used by one thread at a time.
 *
 * Static cudart (nvcc's default) and a cuBLAS loaded with dlopen() at
 * first use leave the library no CUDA load-time dependency: it loads on a
 * machine without a GPU and says why there is none. Without libcublas the
 * GEMM metrics run through the tiled kernel (device_name says so).
 * TESSERA_CUDA_TILED=1 sends every metric through the tiled kernel (for
 * tests/gpu, which compares both engines).
 */
#include "tcu.h"
#include "tcu_int.cuh"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TCU_MAX_DEVICES 64
#define STR_(x) #x
#define STR(x) STR_(x)
#ifndef TCU_CUDA_LIBDIR
#define TCU_CUDA_LIBDIR "/usr/local/cuda/lib64"
#endif

/* ---- Errors ---- */

static void say(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t len, const char *fmt, ...)
{
	if (!err || !len)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* ---- The element launches (dg_apply), one index a thread, grid-stride; rows a warp a row ---- */

template <int K>
__global__ void __launch_bounds__(256) dg_kernel(const struct dg_args g, long long count)
{
	long long stride = (long long)gridDim.x * blockDim.x;
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride)
		dg_apply(K, i, &g);
}

/* Two sums over a warp, the same in every lane: a butterfly (emu_warp_sum in tests/gpu is its twin). */
__device__ __forceinline__ void warp_sum2(double *s)
{
	for (int off = DG_LANES / 2; off > 0; off /= 2) {
		s[0] += __shfl_xor_sync(0xffffffffu, s[0], off);
		s[1] += __shfl_xor_sync(0xffffffffu, s[1], off);
	}
}

/* DG_K_ROWS a warp a row: a thread a row read each row's features DG_LANES cache lines apart, and
 * a tile has too few rows to fill the device that way */
__global__ void __launch_bounds__(256) dg_rows_kernel(const struct dg_args g, long long rows)
{
	long long warps = (long long)gridDim.x * blockDim.x / DG_LANES;
	int lane = (int)(threadIdx.x % DG_LANES);
	for (long long i = ((long long)blockIdx.x * blockDim.x + threadIdx.x) / DG_LANES; i < rows; i += warps) {
		double s[2] = { 0, 0 }, mean = 0;
		if (dg_rows_mean_pass(&g)) {
			dg_rows_lane(&g, i, 0, 0.0, lane, DG_LANES, s);
			warp_sum2(s);
			mean = dg_rows_mean(s);
			s[0] = s[1] = 0;
		}
		if (dg_rows_sum_pass(&g)) {
			dg_rows_lane(&g, i, 1, mean, lane, DG_LANES, s);
			warp_sum2(s);
		}
		if (lane == 0)
			dg_rows_store(&g, i, s, mean);
	}
}

cudaError_t tcu_launch_apply(int kind, long long count, const struct dg_args *g, cudaStream_t s)
{
	if (count <= 0)
		return cudaSuccess;
	if (kind == DG_K_ROWS) {
		long long blocks = (count * DG_LANES + 255) / 256;
		dg_rows_kernel<<<(unsigned)(blocks < 65536 ? blocks : 65536), 256, 0, s>>>(*g, count);
		return cudaGetLastError();
	}
	long long blocks = (count + 255) / 256;
	unsigned grid = (unsigned)(blocks < 65536 ? blocks : 65536);
	switch (kind) {
	case DG_K_COLMEAN:
		dg_kernel<DG_K_COLMEAN><<<grid, 256, 0, s>>>(*g, count);
		break;
	case DG_K_BUILD:
		dg_kernel<DG_K_BUILD><<<grid, 256, 0, s>>>(*g, count);
		break;
	case DG_K_POST:
		dg_kernel<DG_K_POST><<<grid, 256, 0, s>>>(*g, count);
		break;
	case DG_K_MIRROR:
		dg_kernel<DG_K_MIRROR><<<grid, 256, 0, s>>>(*g, count);
		break;
	default:
		return cudaErrorInvalidValue;
	}
	return cudaGetLastError();
}

const void *tcu_probe_kernel(void)
{
	return (const void *)dg_kernel<DG_K_MIRROR>;
}

/* ---- cuBLAS, loaded at run time ---- */

struct cublas_fns {
	decltype(&cublasCreate_v2) create;
	decltype(&cublasDestroy_v2) destroy;
	decltype(&cublasSetStream_v2) set_stream;
	decltype(&cublasSetMathMode) set_math;
	decltype(&cublasDgemm_v2) dgemm;
	decltype(&cublasDsyrk_v2) dsyrk;
	decltype(&cublasGetStatusString) status;
};

/* Opens libcublas.so.<the major version compiled against>: the loader's search, then the toolkit's directory. */
static bool cublas_load(struct cublas_fns *f, char *why, size_t len)
{
	static const char *const paths[] = { "libcublas.so." STR(CUBLAS_VER_MAJOR),
					     TCU_CUDA_LIBDIR "/libcublas.so." STR(CUBLAS_VER_MAJOR),
					     "/usr/local/cuda/lib64/libcublas.so." STR(CUBLAS_VER_MAJOR) };
	void *h = NULL;
	char first[200] = "";
	for (size_t i = 0; i < sizeof paths / sizeof paths[0] && !h; i++)
		if (!(h = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL)) && !first[0])
			snprintf(first, sizeof first, "%s", dlerror());
	if (!h) {
		say(why, len, "%s", first);
		return false;
	}
#define SYM(field, name)                                                              \
	if (!(*(void **)&f->field = dlsym(h, name))) {                                \
		say(why, len, "libcublas.so." STR(CUBLAS_VER_MAJOR) " has no %s", name); \
		return false;                                                         \
	}
	SYM(create, "cublasCreate_v2")
	SYM(destroy, "cublasDestroy_v2")
	SYM(set_stream, "cublasSetStream_v2")
	SYM(set_math, "cublasSetMathMode")
	SYM(dgemm, "cublasDgemm_v2")
	SYM(dsyrk, "cublasDsyrk_v2")
	SYM(status, "cublasGetStatusString")
#undef SYM
	return true;
}

/* ---- Devices, found once ---- */

/* A job's equipment, kept for the next job on the same device. */
struct rig {
	int dev;
	cudaStream_t cs, xs;		  /* compute, copy */
	cudaEvent_t copied[2], done[2];	  /* per staging slot */
	cudaEvent_t tm[2][4];		  /* TESSERA_CUDA_PROFILE: copy start, end; compute start, end */
	cublasHandle_t blas;		  /* NULL: no cuBLAS */
	void *pin[2], *raw[2];		  /* staging: pinned host, device; stage_cap bytes each */
	size_t stage_cap;
	double *st, *acc, *opa, *opb, *col, *ra, *rb; /* device buffers */
	size_t st_cap, acc_cap, opa_cap, opb_cap, col_cap, ra_cap, rb_cap; /* bytes */
	struct rig *next;
};

static struct {
	pthread_once_t once;
	int n_dev, devs[TCU_MAX_DEVICES]; /* usable devices */
	char reason[200];		  /* why none is */
	bool blas;			  /* cuBLAS loaded */
	char blas_why[200];
	struct cublas_fns cb;
	bool force_tiled;
	bool profile; /* TESSERA_CUDA_PROFILE: a line per job on stderr */
	pthread_mutex_t lock; /* guards pool and next_dev */
	struct rig *pool;
	unsigned next_dev;
} plug = { PTHREAD_ONCE_INIT, 0, { 0 }, "", false, "", {}, false, false, PTHREAD_MUTEX_INITIALIZER, NULL, 0 };

static void init(void)
{
	int drv = 0, rt = 0, n = 0;
	cudaDriverGetVersion(&drv);
	cudaRuntimeGetVersion(&rt);
	if (drv == 0) {
		say(plug.reason, sizeof plug.reason, "no CUDA driver (libcuda.so.1 is not installed)");
		return;
	}
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e == cudaErrorInsufficientDriver) {
		say(plug.reason, sizeof plug.reason, "the CUDA driver (%d.%d) is older than the plugin's runtime (%d.%d)",
		    drv / 1000, drv % 1000 / 10, rt / 1000, rt % 1000 / 10);
		return;
	}
	if (e == cudaErrorNoDevice || (e == cudaSuccess && n == 0)) {
		say(plug.reason, sizeof plug.reason, "no CUDA device");
		return;
	}
	if (e != cudaSuccess) {
		say(plug.reason, sizeof plug.reason, "cudaGetDeviceCount: %s", cudaGetErrorString(e));
		return;
	}
	char skipped[160] = "";
	for (int d = 0; d < n && plug.n_dev < TCU_MAX_DEVICES; d++) {
		cudaDeviceProp p;
		struct cudaFuncAttributes fa;
		if ((e = cudaGetDeviceProperties(&p, d)) != cudaSuccess) {
			snprintf(skipped, sizeof skipped, "device %d: cudaGetDeviceProperties: %.100s", d % 1000,
				 cudaGetErrorString(e));
			continue;
		}
		if (p.major < 8) { /* the library has sm_80 and sm_90 code and compute_90 PTX */
			snprintf(skipped, sizeof skipped, "%.80s is sm_%d%d; the plugin needs sm_80 or newer", p.name,
				 p.major % 100, p.minor % 10);
			continue;
		}
		/* waits for pieces block rather than spin: the waiting threads' cores pack other jobs' pieces */
		if ((e = cudaSetDevice(d)) == cudaSuccess)
			cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync);
		cudaGetLastError(); /* a context made earlier keeps its flags */
		if (e != cudaSuccess || (e = cudaFuncGetAttributes(&fa, tcu_probe_kernel())) != cudaSuccess) {
			snprintf(skipped, sizeof skipped, "%.60s: %.90s", p.name, cudaGetErrorString(e));
			cudaGetLastError();
			continue;
		}
		plug.devs[plug.n_dev++] = d;
	}
	if (!plug.n_dev) {
		say(plug.reason, sizeof plug.reason, "%s", skipped);
		return;
	}
	plug.blas = cublas_load(&plug.cb, plug.blas_why, sizeof plug.blas_why);
	const char *t = getenv("TESSERA_CUDA_TILED");
	plug.force_tiled = t && *t && strcmp(t, "0") != 0;
	t = getenv("TESSERA_CUDA_PROFILE");
	plug.profile = t && *t && strcmp(t, "0") != 0;
}

static int probe(char *err, size_t len)
{
	pthread_once(&plug.once, init);
	if (!plug.n_dev)
		say(err, len, "%s", plug.reason);
	return plug.n_dev;
}

static void device_name(char *buf, size_t len)
{
	pthread_once(&plug.once, init);
	cudaDeviceProp p;
	if (!plug.n_dev || cudaGetDeviceProperties(&p, plug.devs[0]) != cudaSuccess) {
		say(buf, len, "no device");
		return;
	}
	char more[32] = "";
	if (plug.n_dev > 1)
		snprintf(more, sizeof more, ", %d devices", plug.n_dev);
	say(buf, len, "%s (sm_%d%d, %.0f GiB)%s%s%s", p.name, p.major, p.minor, (double)p.totalGlobalMem / (1 << 30),
	    more, plug.blas ? "" : "; no cuBLAS, tiled kernels only: ", plug.blas ? "" : plug.blas_why);
}

/* ---- Rigs ---- */

static void rig_free(struct rig *r)
{
	if (!r)
		return;
	cudaSetDevice(r->dev);
	if (r->blas)
		plug.cb.destroy(r->blas);
	for (int s = 0; s < 2; s++) {
		cudaFreeHost(r->pin[s]);
		cudaFree(r->raw[s]);
		if (r->copied[s])
			cudaEventDestroy(r->copied[s]);
		if (r->done[s])
			cudaEventDestroy(r->done[s]);
		for (int k = 0; k < 4; k++)
			if (r->tm[s][k])
				cudaEventDestroy(r->tm[s][k]);
	}
	cudaFree(r->st);
	cudaFree(r->acc);
	cudaFree(r->opa);
	cudaFree(r->opb);
	cudaFree(r->col);
	cudaFree(r->ra);
	cudaFree(r->rb);
	if (r->cs)
		cudaStreamDestroy(r->cs);
	if (r->xs)
		cudaStreamDestroy(r->xs);
	free(r);
}

#define TRY(call)                                                                               \
	do {                                                                                    \
		cudaError_t e_ = (call);                                                        \
		if (e_ != cudaSuccess) {                                                        \
			say(err, len, "%s: %s", #call, cudaGetErrorString(e_));                  \
			goto fail;                                                              \
		}                                                                               \
	} while (0)

/* A rig for a job on one of the devices: from the pool, or new. NULL and @err on failure. */
static struct rig *rig_take(char *err, size_t len)
{
	pthread_mutex_lock(&plug.lock);
	int dev = plug.devs[plug.next_dev++ % (unsigned)plug.n_dev];
	struct rig **pp = &plug.pool, *r = NULL;
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->dev == dev) {
			r = *pp;
			*pp = r->next;
			break;
		}
	pthread_mutex_unlock(&plug.lock);
	if (r) {
		r->next = NULL;
		if (cudaSetDevice(dev) != cudaSuccess) {
			rig_free(r);
			r = NULL;
		} else {
			return r;
		}
	}
	r = (struct rig *)calloc(1, sizeof *r);
	if (!r) {
		say(err, len, "out of host memory");
		return NULL;
	}
	r->dev = dev;
	TRY(cudaSetDevice(dev));
	TRY(cudaStreamCreateWithFlags(&r->cs, cudaStreamNonBlocking));
	TRY(cudaStreamCreateWithFlags(&r->xs, cudaStreamNonBlocking));
	for (int s = 0; s < 2; s++) {
		TRY(cudaEventCreateWithFlags(&r->copied[s], cudaEventDisableTiming));
		TRY(cudaEventCreateWithFlags(&r->done[s], cudaEventDisableTiming));
		for (int k = 0; plug.profile && k < 4; k++)
			TRY(cudaEventCreate(&r->tm[s][k]));
	}
	if (plug.blas) {
		cublasStatus_t s = plug.cb.create(&r->blas);
		if (s == CUBLAS_STATUS_SUCCESS)
			s = plug.cb.set_stream(r->blas, r->cs);
		/* true fp64 (tensor cores on sm_80+ are IEEE fp64): never the fixed-point emulation of cuBLAS 13 */
		if (s == CUBLAS_STATUS_SUCCESS)
			s = plug.cb.set_math(r->blas, CUBLAS_DEFAULT_MATH);
		if (s != CUBLAS_STATUS_SUCCESS) {
			say(err, len, "cublasCreate: %s", plug.cb.status(s));
			goto fail;
		}
	}
	return r;
fail:
	rig_free(r);
	return NULL;
}

/* Back to the pool, after the GPU is done with everything queued. */
static void rig_put(struct rig *r)
{
	pthread_mutex_lock(&plug.lock);
	r->next = plug.pool;
	plug.pool = r;
	pthread_mutex_unlock(&plug.lock);
}

/* Device memory of at least @need bytes in *@p (contents not kept). */
static cudaError_t grow_dev(void **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return cudaSuccess;
	cudaFree(*p);
	*p = NULL;
	*cap = 0;
	cudaError_t e = cudaMalloc(p, need);
	if (e != cudaSuccess) {
		*p = NULL;
		cudaGetLastError();
		return e;
	}
	*cap = need;
	return cudaSuccess;
}

static cudaError_t grow_pin(void **p, size_t need)
{
	cudaFreeHost(*p);
	*p = NULL;
	cudaError_t e = cudaHostAlloc(p, need, cudaHostAllocPortable);
	if (e != cudaSuccess) {
		*p = NULL;
		cudaGetLastError();
	}
	return e;
}

/* ---- Jobs ---- */

struct tcu_dist_job {
	struct rig *r;
	struct dg_job J;
	int n_stats;
	long long slot; /* pieces queued so far */
	bool failed;	/* a feed failed: the statistics are lost */
	char why[256];	/* its reason */
	/* TESSERA_CUDA_PROFILE: host seconds, device milliseconds, features, slots with unread timings */
	double t_begin, t_stage, t_wait, ms_copy, ms_kern, ms_first, bytes;
	long long nf, nf_first;
	long long timed[2]; /* 1 + the piece whose timings are unread, or 0 */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The device times of slot @s's last piece into the job's totals (its events have completed). */
static void prof_take(struct tcu_dist_job *j, int s)
{
	if (!plug.profile || !j->timed[s])
		return;
	float c = 0, k = 0;
	cudaEventElapsedTime(&c, j->r->tm[s][0], j->r->tm[s][1]);
	cudaEventElapsedTime(&k, j->r->tm[s][2], j->r->tm[s][3]);
	j->ms_copy += c;
	j->ms_kern += k;
	if (j->timed[s] == 1)
		j->ms_first = k;
	j->timed[s] = 0;
}

static void prof_print(struct tcu_dist_job *j)
{
	const struct dg_job *J = &j->J;
	double pairs = J->same ? (double)J->na * (double)(J->na + 1) / 2 : (double)J->na * (double)J->nb;
	double flop = 2 * pairs * (double)j->nf, wall = now_s() - j->t_begin;
	double rest = 2 * pairs * (double)(j->nf - j->nf_first), ms_rest = j->ms_kern - j->ms_first;
	fprintf(stderr,
		"tessera-cuda: tile %lld x %lld%s, %lld features in pieces of %lld: %.1f ms; staging %.1f ms (%.2f GB/s), "
		"waiting %.1f ms; copies %.1f ms (%.2f GB/s); kernels %.1f ms (%.2f TFLOP/s by 2 pairs f; "
		"after the first piece %.2f)\n",
		J->na, J->nb, J->same ? " (diagonal)" : "", j->nf, J->P, 1e3 * wall, 1e3 * j->t_stage,
		j->t_stage > 0 ? j->bytes / j->t_stage / 1e9 : 0.0, 1e3 * j->t_wait, j->ms_copy,
		j->ms_copy > 0 ? j->bytes / j->ms_copy / 1e6 : 0.0, j->ms_kern,
		j->ms_kern > 0 ? flop / j->ms_kern / 1e9 : 0.0, ms_rest > 0 ? rest / ms_rest / 1e9 : 0.0);
}

/* dg_ops over a job: kernel launches and cuBLAS on its compute stream. */
static int op_fail(struct tcu_dist_job *j, const char *what, const char *msg)
{
	snprintf(j->why, sizeof j->why, "%s: %s", what, msg);
	return -1;
}

static int op_apply(void *ctx, int kind, long long count, const struct dg_args *g)
{
	struct tcu_dist_job *j = (struct tcu_dist_job *)ctx;
	cudaError_t e = tcu_launch_apply(kind, count, g, j->r->cs);
	return e == cudaSuccess ? 0 : op_fail(j, "kernel launch", cudaGetErrorString(e));
}

static int op_gemm(void *ctx, int ta, int tb, int m, int n, int k, double alpha, const double *a, int lda,
		   const double *b, int ldb, double beta, double *c, int ldc)
{
	struct tcu_dist_job *j = (struct tcu_dist_job *)ctx;
	cublasStatus_t s = plug.cb.dgemm(j->r->blas, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n,
				      k, &alpha, a, lda, b, ldb, &beta, c, ldc);
	return s == CUBLAS_STATUS_SUCCESS ? 0 : op_fail(j, "cublasDgemm", plug.cb.status(s));
}

static int op_syrk(void *ctx, int lower, int trans, int n, int k, double alpha, const double *a, int lda, double beta,
		   double *c, int ldc)
{
	struct tcu_dist_job *j = (struct tcu_dist_job *)ctx;
	cublasStatus_t s = plug.cb.dsyrk(j->r->blas, lower ? CUBLAS_FILL_MODE_LOWER : CUBLAS_FILL_MODE_UPPER,
				      trans ? CUBLAS_OP_T : CUBLAS_OP_N, n, k, &alpha, a, lda, &beta, c, ldc);
	return s == CUBLAS_STATUS_SUCCESS ? 0 : op_fail(j, "cublasDsyrk", plug.cb.status(s));
}

static int op_tiled(void *ctx, const struct dt_args *t)
{
	struct tcu_dist_job *j = (struct tcu_dist_job *)ctx;
	cudaError_t e = tcu_launch_tiled(t, j->r->cs);
	return e == cudaSuccess ? 0 : op_fail(j, "tiled kernel launch", cudaGetErrorString(e));
}

static const struct dg_ops cuda_ops = { op_apply, op_gemm, op_syrk, op_tiled };

static struct tcu_dist_job *dist_begin(const struct k_dist_opts *o, int64_t na, int64_t nb, bool same, size_t stage_hint,
				       char *err, size_t len)
{
	if (probe(err, len) <= 0)
		return NULL;
	if (!o || (unsigned)o->metric >= K_DIST_N || na < 0 || nb < 0 || na > INT32_MAX || nb > INT32_MAX) {
		say(err, len, "dist_begin: bad arguments (%lld x %lld rows)", (long long)na, (long long)nb);
		return NULL;
	}
	struct tcu_dist_job *j = (struct tcu_dist_job *)calloc(1, sizeof *j);
	if (!j) {
		say(err, len, "out of host memory");
		return NULL;
	}
	struct dg_job *J = &j->J;
	if (plug.profile)
		j->t_begin = now_s();
	dg_job_setup(J, o, na, nb, same, !plug.blas || plug.force_tiled, stage_hint);
	j->n_stats = kdm_n_stats(J->metric);
	struct dg_sizes z = dg_sizes_of(J->fam, na, nb, J->P);
	size_t stage = dg_stage_bytes(na, nb, J->P, J->same);
	struct rig *r = j->r = rig_take(err, len);
	if (!r) {
		free(j);
		return NULL;
	}
	if (stage > r->stage_cap) {
		r->stage_cap = 0;
		for (int s = 0; s < 2; s++) {
			cudaError_t e = grow_pin(&r->pin[s], stage);
			if (e != cudaSuccess) {
				say(err, len, "cudaHostAlloc of %.0f MiB of pinned memory: %s", stage / 1048576.0,
				    cudaGetErrorString(e));
				goto fail;
			}
			cudaFree(r->raw[s]);
			r->raw[s] = NULL;
			if ((e = cudaMalloc(&r->raw[s], stage)) != cudaSuccess) {
				r->raw[s] = NULL;
				cudaGetLastError();
				say(err, len, "cudaMalloc of %.0f MiB: %s", stage / 1048576.0, cudaGetErrorString(e));
				goto fail;
			}
		}
		r->stage_cap = stage;
	}
	{
		struct {
			void **p;
			size_t *cap;
			long long doubles;
		} bufs[] = {
			{ (void **)&r->st, &r->st_cap, J->np * j->n_stats }, { (void **)&r->acc, &r->acc_cap, z.acc },
			{ (void **)&r->opa, &r->opa_cap, z.opa },	      { (void **)&r->opb, &r->opb_cap, z.opb },
			{ (void **)&r->col, &r->col_cap, z.col },	      { (void **)&r->ra, &r->ra_cap, z.ra },
			{ (void **)&r->rb, &r->rb_cap, z.rb },
		};
		for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
			size_t need = (size_t)bufs[i].doubles * sizeof(double);
			cudaError_t e = grow_dev(bufs[i].p, bufs[i].cap, need);
			if (e != cudaSuccess) {
				say(err, len, "cudaMalloc of %.0f MiB: %s (the tile is %lld x %lld pairs)",
				    need / 1048576.0, cudaGetErrorString(e), (long long)na, (long long)nb);
				goto fail;
			}
		}
	}
	J->st = r->st;
	J->acc = r->acc;
	J->opa = r->opa;
	J->opb = r->opb;
	J->col = r->col;
	J->ra = r->ra;
	J->rb = r->rb;
	if (J->np > 0) {
		cudaError_t e = cudaMemsetAsync(J->st, 0, (size_t)(J->np * j->n_stats) * sizeof(double), r->cs);
		if (e != cudaSuccess) {
			say(err, len, "cudaMemsetAsync: %s", cudaGetErrorString(e));
			goto fail;
		}
	}
	return j;
fail:
	/* a rig that could not grow keeps what it had; it may serve a smaller tile */
	rig_put(r);
	free(j);
	return NULL;
}

/* The job's error, for a call after a failure (and for the failing one). */
static int job_fail(struct tcu_dist_job *j, char *err, size_t len)
{
	j->failed = true;
	say(err, len, "%s", j->why);
	return -1;
}

/* The pieces of one feed, staged from @src into the pinned buffers. */
static int feed(struct tcu_dist_job *j, const struct dg_source *src, int64_t nf, const double *w, char *err,
		size_t len)
{
	struct dg_job *J = &j->J;
	struct rig *r = j->r;
	if (cudaSetDevice(r->dev) != cudaSuccess) {
		snprintf(j->why, sizeof j->why, "cudaSetDevice(%d) failed", r->dev);
		return job_fail(j, err, len);
	}
	const double *wf = J->weighted ? w : NULL;
	for (int64_t f0 = 0; f0 < nf;) {
		long long n = nf - f0 < J->P ? nf - f0 : J->P;
		int s = (int)(j->slot++ & 1);
		cudaError_t e;
		/* the slot's last piece (k - 2) is computed: its pinned and device buffers are free */
		double t0 = plug.profile ? now_s() : 0;
		if ((e = cudaEventSynchronize(r->done[s])) != cudaSuccess) {
			op_fail(j, "piece computation", cudaGetErrorString(e));
			return job_fail(j, err, len);
		}
		double t1 = plug.profile ? now_s() : 0;
		prof_take(j, s);
		struct dg_layout L = dg_source_layout(J, src, n, wf != NULL);
		struct dg_piece pc;
		if (dg_stage(J, src, wf, f0, n, L, r->pin[s], r->raw[s], &pc) < 0) {
			snprintf(j->why, sizeof j->why, "reading the rows failed");
			return job_fail(j, err, len);
		}
		if (plug.profile) {
			j->t_wait += t1 - t0;
			j->t_stage += now_s() - t1;
			j->bytes += (double)L.bytes;
			if (!j->nf)
				j->nf_first = n;
			j->nf += n;
			j->timed[s] = j->slot; /* this piece's number + 1 */
			cudaEventRecord(r->tm[s][0], r->xs);
		}
		if ((e = cudaMemcpyAsync(r->raw[s], r->pin[s], L.bytes, cudaMemcpyHostToDevice, r->xs)) != cudaSuccess ||
		    (plug.profile && (e = cudaEventRecord(r->tm[s][1], r->xs)) != cudaSuccess) ||
		    (e = cudaEventRecord(r->copied[s], r->xs)) != cudaSuccess ||
		    (e = cudaStreamWaitEvent(r->cs, r->copied[s], 0)) != cudaSuccess ||
		    (plug.profile && (e = cudaEventRecord(r->tm[s][2], r->cs)) != cudaSuccess)) {
			op_fail(j, "copy to the device", cudaGetErrorString(e));
			return job_fail(j, err, len);
		}
		if (dg_piece(&cuda_ops, j, J, &pc) < 0)
			return job_fail(j, err, len);
		if (plug.profile && (e = cudaEventRecord(r->tm[s][3], r->cs)) != cudaSuccess) {
			op_fail(j, "cudaEventRecord", cudaGetErrorString(e));
			return job_fail(j, err, len);
		}
		if ((e = cudaEventRecord(r->done[s], r->cs)) != cudaSuccess) {
			op_fail(j, "cudaEventRecord", cudaGetErrorString(e));
			return job_fail(j, err, len);
		}
		f0 += n;
	}
	return 0;
}

/* Whether a feed of @nf features goes on (1), or what it returns: 0, nothing to feed; -1, no job, or
 * a job that failed. */
static int feed_gate(struct tcu_dist_job *j, int64_t nf, char *err, size_t len)
{
	if (!j)
		return -1;
	if (j->failed)
		return job_fail(j, err, len);
	return nf > 0 && j->J.np > 0;
}

static int dist_feed(struct tcu_dist_job *j, const struct k_dist_rows *a, const struct k_dist_rows *b, int64_t nf,
		     const double *w, char *err, size_t len)
{
	int go = feed_gate(j, nf, err, len);
	if (go <= 0)
		return go;
	struct dg_source src;
	if (dg_source_rows(&j->J, a, b, nf, &src) < 0) {
		snprintf(j->why, sizeof j->why, "dist_feed: rows %lld x %lld (ld %lld, %lld) for a job of %lld x %lld",
			 (long long)a->rows, (long long)b->rows, (long long)a->ld, (long long)b->ld, j->J.na, j->J.nb);
		return job_fail(j, err, len);
	}
	return feed(j, &src, nf, w, err, len);
}

static int dist_feed_read(struct tcu_dist_job *j, int64_t nf, const struct tcu_reader *rd, const double *w, char *err,
			  size_t len)
{
	int go = feed_gate(j, nf, err, len);
	if (go <= 0)
		return go;
	struct dg_source src;
	dg_source_reader(&j->J, rd->read, rd->ctx, rd->type_a == K_DIST_I8, rd->type_b == K_DIST_I8, &src);
	return feed(j, &src, nf, w, err, len);
}

static int dist_end(struct tcu_dist_job *j, double *stats, char *err, size_t len)
{
	if (!j)
		return 0;
	struct rig *r = j->r;
	struct dg_job *J = &j->J;
	int rc = 0;
	cudaError_t e = cudaSetDevice(r->dev);
	if (e == cudaSuccess && stats && !j->failed && J->np > 0) {
		if (dg_end(&cuda_ops, j, J) < 0) {
			rc = job_fail(j, err, len);
		} else {
			e = cudaMemcpyAsync(stats, J->st, (size_t)(J->np * j->n_stats) * sizeof(double),
					    cudaMemcpyDeviceToHost, r->cs);
			if (e != cudaSuccess)
				op_fail(j, "copy from the device", cudaGetErrorString(e));
		}
	}
	cudaError_t e1 = cudaStreamSynchronize(r->cs), e2 = cudaStreamSynchronize(r->xs);
	if (e == cudaSuccess && e1 != cudaSuccess) {
		e = e1;
		op_fail(j, "distance kernels", cudaGetErrorString(e1));
	}
	if (e == cudaSuccess && e2 != cudaSuccess) {
		e = e2;
		op_fail(j, "copy to the device", cudaGetErrorString(e2));
	}
	if (stats && rc == 0 && (e != cudaSuccess || j->failed))
		rc = job_fail(j, err, len);
	if (plug.profile && e == cudaSuccess && !j->failed) {
		prof_take(j, 0);
		prof_take(j, 1);
		prof_print(j);
	}
	if (e == cudaSuccess)
		rig_put(r);
	/* else the device is in an error state: the rig is dropped, not reused (its memory dies with the context) */
	free(j);
	return rc;
}

extern "C" __attribute__((visibility("default"))) const struct tcu_api *tessera_cuda_api(void)
{
	static const struct tcu_api api = { TCU_ABI, probe, device_name, dist_begin, dist_feed, dist_feed_read, dist_end };
	return &api;
}
